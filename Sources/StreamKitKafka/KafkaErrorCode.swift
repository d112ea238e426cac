import CRdKafka
public import StreamKit

/// A librdkafka error code (`rd_kafka_resp_err_t`) without the C type: negative values are
/// librdkafka's local errors (`_TRANSPORT`), positive ones the broker's (`REQUEST_TIMED_OUT`).
/// A `rawValue` struct, not an enum: codes librdkafka adds later are representable.
///
/// ```swift
/// catch let e as StreamKitError where e.kafkaCode == .queueFull { producer.poll(timeout: .milliseconds(10)) }
/// ```
public struct KafkaErrorCode: Hashable, Sendable, CustomStringConvertible {
    public let rawValue: Int32
    public init(rawValue: Int32) { self.rawValue = rawValue }
    init(_ err: rd_kafka_resp_err_t) { rawValue = err.rawValue }

    /// librdkafka's name of the code, e.g. `_QUEUE_FULL`, `REQUEST_TIMED_OUT`.
    public var name: String { String(cString: rd_kafka_err2name(rd_kafka_resp_err_t(rawValue: rawValue))) }
    public var description: String { "\(name) (\(rawValue))" }

    /// Whether the same operation may succeed later (a transient broker, network or load condition).
    /// For errors librdkafka classifies itself (`rd_kafka_error_is_retriable`), the error's own
    /// ``StreamKitError/isRetriable`` is authoritative.
    public var isRetriable: Bool { Self.retriable.contains(self) }

    public static let fatal = KafkaErrorCode(RD_KAFKA_RESP_ERR__FATAL)
    public static let transport = KafkaErrorCode(RD_KAFKA_RESP_ERR__TRANSPORT)
    public static let allBrokersDown = KafkaErrorCode(RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN)
    public static let timedOut = KafkaErrorCode(RD_KAFKA_RESP_ERR__TIMED_OUT)
    public static let queueFull = KafkaErrorCode(RD_KAFKA_RESP_ERR__QUEUE_FULL)
    public static let messageTimedOut = KafkaErrorCode(RD_KAFKA_RESP_ERR__MSG_TIMED_OUT)
    public static let unknownTopic = KafkaErrorCode(RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC)
    public static let unknownPartition = KafkaErrorCode(RD_KAFKA_RESP_ERR__UNKNOWN_PARTITION)
    public static let invalidArgument = KafkaErrorCode(RD_KAFKA_RESP_ERR__INVALID_ARG)
    public static let unknownTopicOrPartition = KafkaErrorCode(RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART)
    public static let leaderNotAvailable = KafkaErrorCode(RD_KAFKA_RESP_ERR_LEADER_NOT_AVAILABLE)
    public static let notLeaderForPartition = KafkaErrorCode(RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION)
    public static let requestTimedOut = KafkaErrorCode(RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT)
    public static let networkException = KafkaErrorCode(RD_KAFKA_RESP_ERR_NETWORK_EXCEPTION)
    public static let coordinatorLoadInProgress = KafkaErrorCode(RD_KAFKA_RESP_ERR_COORDINATOR_LOAD_IN_PROGRESS)
    public static let coordinatorNotAvailable = KafkaErrorCode(RD_KAFKA_RESP_ERR_COORDINATOR_NOT_AVAILABLE)
    public static let notCoordinator = KafkaErrorCode(RD_KAFKA_RESP_ERR_NOT_COORDINATOR)
    public static let rebalanceInProgress = KafkaErrorCode(RD_KAFKA_RESP_ERR_REBALANCE_IN_PROGRESS)
    public static let topicAlreadyExists = KafkaErrorCode(RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS)

    private static let retriable: Set<KafkaErrorCode> = [
        .transport, .allBrokersDown, .timedOut, .queueFull, .messageTimedOut, .unknownTopicOrPartition,
        .leaderNotAvailable, .notLeaderForPartition, .requestTimedOut, .networkException,
        .coordinatorLoadInProgress, .coordinatorNotAvailable, .notCoordinator, .rebalanceInProgress,
    ]

    /// As the library code a ``StreamKitError`` carries.
    var libraryCode: StreamKitError.LibraryCode { .init(library: Self.library, value: rawValue, name: name) }
    static let library = "librdkafka"
}

extension StreamKitError {
    /// The librdkafka code of a Kafka connector failure, if it has one.
    public var kafkaCode: KafkaErrorCode? {
        guard let c = libraryCode, c.library == KafkaErrorCode.library else { return nil }
        return KafkaErrorCode(rawValue: c.value)
    }
}
