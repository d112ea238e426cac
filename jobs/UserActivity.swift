public import StreamKit
public import StreamKitJSON
public import StreamKitDebezium

/// A row of the `user_interactions` table, as Debezium captures it.
public struct Interaction: Decodable, Sendable {
    public var id: Int64
    public var userId: Int64
    public var itemId: Int64
    public var interactionType: String
    public var amount: Double
    public var tsMs: Int64
}

/// Per-user activity features over sliding 5-minute windows (every minute): the example job of
/// the README. Reads Debezium change events of `user_interactions` from an NDJSON file, writes one
/// NDJSON row per (user, window) and late events to a second file.
public enum UserActivityJob {
    public static func make(input: String, output: String, late: String, deadLetters: String? = nil) -> Job {
        let lateOutput = late
        return Job("user-activity") { env in
            let changes = env.source(FileSource(path: input, decoder: DebeziumLineDecoder(Interaction.self)), name: "interactions")
            if let deadLetters { changes.sideOutput(DeadLetter<String>.self).writeDeadLetters(to: deadLetters) }
            changes
                .afterImages()
                .assignTimestamps({ $0.tsMs }, watermark: .boundedOutOfOrderness(.seconds(2)), idleness: .seconds(30))
                .keyBy { $0.userId }
                .window(.sliding(size: .minutes(5), slide: .minutes(1)), allowedLateness: .seconds(10))
                .sideOutputLateData { late in
                    late.writeLines(to: lateOutput) { i, out in
                        var w = JSONWriter(capacity: 64)
                        w.beginObject(); w.field("user_id", i.userId); w.field("ts_ms", i.tsMs); w.field("id", i.id); w.endObject()
                        out.append(contentsOf: w.bytes)
                    }
                }
                .aggregate(count(), sum { $0.amount }, mean { $0.amount }, max { $0.amount })
                .writeLines(to: output) { r, out in
                    var w = JSONWriter(capacity: 160)
                    w.beginObject()
                    w.field("user_id", r.key); w.field("window_start", r.windowStart); w.field("window_end", r.windowEnd)
                    w.field("count", r.value.0); w.field("sum", r.value.1); w.field("avg", r.value.2); w.field("max", r.value.3)
                    w.endObject()
                    out.append(contentsOf: w.bytes)
                }
        }
    }
}
