import Testing
import StreamKitJobs
import StreamKitRedis

/// ``InferenceRequestID`` is a function of the request's identity only.
@Suite struct InferenceRequestIdUnitTests {
    @Test func idIsDeterministicAndDependsOnEveryPart() {
        let view = UserActivityFeatures.view(namespace: "x")
        let a = InferenceRequestID(view: view, entity: "42", eventTime: 59_999, modelVersion: "v1")
        #expect(a == InferenceRequestID(view: view, entity: "42", eventTime: 59_999, modelVersion: "v1"))
        #expect(a.hex.count == 32 && a.hex.allSatisfy { $0.isHexDigit && !$0.isUppercase })
        #expect(a != InferenceRequestID(view: view, entity: "43", eventTime: 59_999, modelVersion: "v1"))
        #expect(a != InferenceRequestID(view: view, entity: "42", eventTime: 119_999, modelVersion: "v1"))
        #expect(a != InferenceRequestID(view: view, entity: "42", eventTime: 59_999, modelVersion: "v2"))
        var v2 = view; v2.version = 2
        #expect(a != InferenceRequestID(view: v2, entity: "42", eventTime: 59_999, modelVersion: "v1"))
        // Length prefixes: moving bytes between fields changes the id.
        #expect(InferenceRequestID(view: view, entity: "4", eventTime: 1, modelVersion: "2v")
                != InferenceRequestID(view: view, entity: "42", eventTime: 1, modelVersion: "v"))
    }
}
