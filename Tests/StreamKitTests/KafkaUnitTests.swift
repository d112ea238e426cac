import Testing
import StreamKit
import StreamKitKafka

/// Kafka connector checks that need no broker (librdkafka's built-in mock cluster stands in).
@Suite struct KafkaUnitTests {
    @Test func runtimeIsNewEnough() throws {
        #expect(KafkaRuntime.versionNumber >= KafkaRuntime.minimumVersionNumber,
                "librdkafka \(KafkaRuntime.version) loaded: run scripts/setup and set LD_LIBRARY_PATH=.deps/rdkafka")
        try KafkaRuntime.check()
    }

    @Test func anUnknownPropertyIsAConfigurationError() throws {
        let kafka = KafkaConfiguration(bootstrapServers: "127.0.0.1:1", properties: ["no.such.property": "1"])
        let error = #expect(throws: StreamKitError.self) { try KafkaProducer(configuration: kafka) }
        #expect(error?.code == .configuration)
        #expect(error?.message.contains("no.such.property") == true)
    }

    @Test(.timeLimit(.minutes(15))) func producerDeliversToTheMockCluster() throws {
        let kafka = KafkaConfiguration(bootstrapServers: "", properties: ["test.mock.num.brokers": "3"])
        let producer = try KafkaProducer(configuration: kafka)
        for i in 0..<100 { try producer.send(topic: "mock", message: KafkaMessage(key: "k\(i % 5)", value: "v\(i)")) }
        try producer.flush(timeout: .seconds(20))
        #expect(producer.delivered == 100)
        #expect(producer.failed == 0)
    }
}
