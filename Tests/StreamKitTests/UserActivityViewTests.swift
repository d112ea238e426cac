import Testing
import StreamKit
import StreamKitJobs

@Suite struct UserActivityViewTests {
    @Test func userActivityViewIsDeclaredOnce() {
        #expect(UserActivityFeatures.view.name == "user_activity_5m")
        #expect(UserActivityFeatures.view.features.map(\.name) == ["count", "sum", "avg", "max"])
    }
}
