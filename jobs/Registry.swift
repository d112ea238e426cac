public import StreamKit
public import Logging
public import StreamKitKafka
public import StreamKitRedis

/// An example job `cdc-features run` (and, later, the REST API) can start by name with string
/// arguments. A job is one file under `jobs/` that declares its parameters, plus one line in
/// ``ExampleJobs/all``.
///
/// ```swift
/// public struct LargeOrders: ExampleJob {
///     public static let name = "large-orders"
///     public static let summary = "orders above a threshold per 10 minutes"
///     public static let parameters = [JobParameter("threshold", "smallest amount counted", default: "100"),
///                                     JobParameter("window-size", "window length", default: "10m")]
///     let threshold: Double, window: Duration
///     public init(arguments: JobArguments) throws {
///         threshold = try arguments.double("threshold"); window = try arguments.duration("window-size")
///     }
///     public func job(_ context: JobContext) throws -> Job {
///         Job(Self.name) { env in
///             interactions(env, context)
///                 .filter { $0.amount >= threshold }
///                 .assignTimestamps({ $0.tsMs }, watermark: .boundedOutOfOrderness(.seconds(2)))
///                 .keyBy { $0.userId }
///                 .window(.tumbling(size: window))
///                 .aggregate(.count(), .sum(\.amount)) { Orders(count: $0, total: $1) }
///                 .writeJSONLines(to: try context.outputFile(for: Self.name)) { r in Row(user_id: r.key, count: r.count, total: r.total) }
///         }
///     }
/// }
/// ```
public protocol ExampleJob: Sendable {
    /// The name `cdc-features run NAME` takes.
    static var name: String { get }
    /// One line for `cdc-features jobs`.
    static var summary: String { get }
    /// The job's own parameters (`--name value` or `--param name=value`); sources and sinks
    /// (`--input`/`--topic`, `--out`/`--redis`, …) are the ``JobContext``'s.
    static var parameters: [JobParameter] { get }
    /// Reads and checks the arguments (errors name the parameter).
    init(arguments: JobArguments) throws
    /// The job reading and writing where `context` says.
    func job(_ context: JobContext) throws -> Job
}

extension ExampleJob {
    public static var parameters: [JobParameter] { [] }

    /// The job with `arguments` by parameter name (a REST request's `args`); unknown names are errors.
    public init(_ arguments: [String: String] = [:]) throws {
        try self.init(arguments: JobArguments(arguments, parameters: Self.parameters, job: Self.name))
    }
}

/// A job parameter: its name (`window-size`), help, and default as it would be written (nil: none).
public struct JobParameter: Sendable {
    public var name: String
    public var help: String
    public var defaultValue: String?
    public init(_ name: String, _ help: String, default defaultValue: String? = nil) {
        self.name = name; self.help = help; self.defaultValue = defaultValue
    }
}

/// A job's arguments: strings by parameter name (as from `--window-size 5m` or a REST API's
/// `{"window-size": "5m"}`), read typed; a missing argument falls back to the parameter's
/// declared default; a bad value is an error naming the parameter.
public struct JobArguments: Sendable {
    public let values: [String: String]
    public let parameters: [JobParameter]
    public let job: String

    /// Checks that every argument is a parameter of `job`.
    public init(_ values: [String: String], parameters: [JobParameter], job: String) throws {
        for name in values.keys.sorted() where !parameters.contains(where: { $0.name == name }) {
            let known = parameters.map(\.name).joined(separator: ", ")
            throw StreamKitError(.configuration, "\(job) has no parameter '\(name)'" + (known.isEmpty ? "" : " (it has: \(known))"))
        }
        self.values = values; self.parameters = parameters; self.job = job
    }

    /// The argument, else the declared default, else nil.
    public func string(_ name: String) -> String? {
        values[name] ?? parameters.first { $0.name == name }?.defaultValue
    }
    public func string(_ name: String, default value: String) -> String { string(name) ?? value }

    func parse<T>(_ name: String, _ kind: String, _ parse: (String) throws -> T?) throws -> T? {
        guard let text = string(name) else { return nil }
        guard let v = try? parse(text) else {
            throw StreamKitError(.configuration, "\(job): --\(name) '\(text)' is not \(kind)")
        }
        return v
    }
    func required<T>(_ name: String, _ value: T?) throws -> T {
        guard let value else { throw StreamKitError(.configuration, "\(job) needs --\(name)") }
        return value
    }

    /// A duration such as `500ms`, `10s`, `5m`, `1h`.
    public func duration(_ name: String) throws -> Duration? { try parse(name, "a duration (e.g. 500ms, 10s, 5m, 1h)", parseDuration) }
    public func duration(_ name: String, default value: Duration) throws -> Duration { try duration(name) ?? value }
    public func int(_ name: String) throws -> Int? { try parse(name, "an integer") { Int($0) } }
    public func int(_ name: String, default value: Int) throws -> Int { try int(name) ?? value }
    public func double(_ name: String) throws -> Double? { try parse(name, "a number") { Double($0) } }
    public func double(_ name: String, default value: Double) throws -> Double { try double(name) ?? value }
    /// `true`/`false`; a flag given without a value (`--verbose`) is true.
    public func bool(_ name: String, default value: Bool = false) throws -> Bool {
        try parse(name, "true or false") { (s: String) -> Bool? in
            ["", "true", "1", "yes"].contains(s) ? true : ["false", "0", "no"].contains(s) ? false : nil
        } ?? value
    }
    /// The argument, which must be given (or have a default).
    public func requiredString(_ name: String) throws -> String { try required(name, string(name)) }
}

/// Where a job reads and writes, and the services it reaches: the same for every job.
public struct JobContext: Sendable {
    public enum Input: Sendable { case file(String), kafka(topic: String) }
    public enum Output: Sendable { case file(String), redis }
    public var input: Input
    public var output: Output
    public var kafka: KafkaConfiguration
    public var redis: RedisConfiguration
    /// Consumer group of Kafka sources.
    public var groupID: String
    public var startFrom: KafkaStartOffset = .committed
    /// Stop at the end of the topic.
    public var bounded = false
    /// The process's logger, for what a job's operators log. Default: disabled.
    public var logger: Logger = .disabled
    public init(input: Input, output: Output, kafka: KafkaConfiguration = KafkaConfiguration(bootstrapServers: "127.0.0.1:19092"),
                redis: RedisConfiguration = RedisConfiguration(), groupID: String = "streamkit") {
        self.input = input; self.output = output; self.kafka = kafka; self.redis = redis; self.groupID = groupID
    }

    public func kafkaTopic(for job: String) throws -> String {
        guard case let .kafka(topic) = input else { throw StreamKitError(.configuration, "\(job) reads a Kafka topic: use --topic") }
        return topic
    }
}

/// The example jobs, by name. To add a job: one Swift file under `jobs/` with a type conforming
/// to ``ExampleJob``, and its line here.
public enum ExampleJobs {
    public static var all: [any ExampleJob.Type] { [
        UserActivityFeatures.self,
        RealtimePricingJob.self,
        UserFeaturesJob.self,
        SessionFeaturesJob.self,
        DriftMonitorJob.self,
        FraudScoringJob.self,
    ] }

    public static var names: [String] { all.map { $0.name } }
    public static func named(_ name: String) -> (any ExampleJob.Type)? { all.first { $0.name == name } }

    /// The job `name` with string `arguments` (the shape a REST request `{job, args}` has).
    public static func make(_ name: String, arguments: [String: String], context: JobContext) throws -> Job {
        guard let type = named(name) else {
            throw StreamKitError(.configuration, "unknown job '\(name)'; known: \(names.joined(separator: ", "))")
        }
        return try type.init(arguments: JobArguments(arguments, parameters: type.parameters, job: name)).job(context)
    }
}
