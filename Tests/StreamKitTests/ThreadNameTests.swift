import Testing
@testable import StreamKit

@Suite struct ThreadNameTests {
    @Test func longNamesKeepTheirSubtaskIndex() {
        #expect(ThreadName.shortened("windows[1]") == "windows[1]")
        #expect(ThreadName.shortened("user-activity-features[1]") == "user-activit[1]")
        #expect(ThreadName.shortened("user-activity-features[12]") == "user-activi[12]")
        #expect(ThreadName.shortened("metrics-publisher") == "metrics-publish")
        // Not a subtask index: cut like any other name.
        #expect(ThreadName.shortened("a-long-name-ending-in]") == "a-long-name-end")
        // Never inside a character: 9 two-byte characters keep 7 (14 bytes).
        #expect(ThreadName.shortened(String(repeating: "é", count: 9)) == String(repeating: "é", count: 7))
        for name in ["windows[1]", "user-activity-features[12]", String(repeating: "é", count: 9), "x"] {
            #expect(ThreadName.shortened(name).utf8.count <= ThreadName.limit)
        }
    }

    /// Each subtask runs on a thread named after its task, as the kernel shows it (/proc, top -H).
    @Test func aJobsSubtaskThreadsCarryTheirTaskNames() async throws {
        #if os(Linux)
        let names = CollectedOutput<String>()
        try await Job("names") { env in
            env.fromCollection([1, 2, 3], name: "a-rather-long-source-name").map { _ in ThreadName.current() }.collect(into: names)
        }.run()
        #expect(Set(names.values) == ["a-rather-lon[0]"])
        #endif
    }
}
