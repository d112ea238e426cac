import Testing
import StreamKit
import StreamKitKafka
import StreamKitRedis

/// Connector failures carry their C library's code (as a number and a name) and whether retrying may help.
@Suite struct ConnectorErrorCodeTests {
    @Test func kafkaCodesHaveLibrdkafkaNamesAndRetriability() {
        #expect(KafkaErrorCode.queueFull.rawValue == -184)
        #expect(KafkaErrorCode.queueFull.name == "_QUEUE_FULL")
        #expect(KafkaErrorCode.unknownTopicOrPartition.rawValue == 3)
        #expect(KafkaErrorCode.requestTimedOut.isRetriable && KafkaErrorCode.transport.isRetriable)
        #expect(!KafkaErrorCode.fatal.isRetriable && !KafkaErrorCode.invalidArgument.isRetriable)
        let e = StreamKitError(.connector, "queue full", retriable: true,
                               libraryCode: .init(library: "librdkafka", value: -184, name: "_QUEUE_FULL"))
        #expect(e.kafkaCode == .queueFull)
        #expect(e.redisCode == nil)
        #expect(e.description == "connector: queue full", "the message is unchanged")
    }

    @Test func aRefusedRedisConnectionIsARetriableIOError() throws {
        var c = try RedisConfiguration(url: "redis://127.0.0.1:1")
        c.maxReconnectAttempts = 0
        let error = #expect(throws: StreamKitError.self) { try RedisConnection(c) }
        #expect(error?.code == .connector)
        #expect(error?.redisCode == .io, "\(String(describing: error?.libraryCode))")
        #expect(error?.redisCode?.isRetriable == true && error?.isRetriable == true)
        #expect(error?.message.contains("cannot connect to Redis at 127.0.0.1:1") == true, "\(String(describing: error))")
        #expect(!RedisErrorCode.protocol.isRetriable && RedisErrorCode.eof.isRetriable)
    }
}
