import Testing
import FeatureJobs

@Suite struct FeatureJobsSmokeTests {
    @Test func userActivityViewIsDeclaredOnce() {
        #expect(UserActivityFeatures.view.name == "user_activity_5m")
        #expect(UserActivityFeatures.view.features.map(\.name) == ["count", "sum", "avg", "max"])
    }
}
