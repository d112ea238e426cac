import Testing
@testable import StreamKitServer

struct AccessTokensTests {
    @Test func parsesRolesAndSkipsCommentsAndBlankLines() throws {
        let t = try AccessTokens(parsing: "# ops\n\nadmin-token-0123456789 admin\n  read-token-0123456789ab\tread  \n")
        #expect(t.count == 2)
        #expect(t.role(of: "admin-token-0123456789".utf8) == .admin)
        #expect(t.role(of: "read-token-0123456789ab".utf8) == .read)
        #expect(t.role(of: "admin-token-012345678".utf8) == nil)    // a prefix
        #expect(t.role(of: "admin-token-0123456789x".utf8) == nil)  // longer
        #expect(t.role(of: "".utf8) == nil)
    }

    @Test func badLinesNameTheLineButNeverTheToken() {
        for (text, expected) in [("secret-token-0123456789 root\n", "line 1: role must be admin or read"),
                                 ("# c\nsecret-token-0123456789\n", "line 2: expected '<token> <role>'"),
                                 ("short admin\n", "line 1: tokens must have at least 16 characters"),
                                 ("# only a comment\n", "holds no token")] {
            do {
                _ = try AccessTokens(parsing: text)
                Issue.record("accepted \(text)")
            } catch {
                #expect("\(error)".contains(expected), "\(error)")
                #expect(!"\(error)".contains("secret-token"))
            }
        }
    }

    @Test func constantTimeEqualityAgreesWithEquality() {
        let samples: [[UInt8]] = [[], [1], [1, 2], [1, 3], [2, 2], Array(repeating: 7, count: 300), Array(repeating: 7, count: 44)]
        for a in samples { for b in samples { #expect(AccessTokens.constantTimeEquals(a, b) == (a == b)) } }
    }

    @Test func restartBackoffDoublesUpToTheMaximum() {
        let b = RestartBackoff(initial: .milliseconds(500), maximum: .seconds(3))
        #expect((1...6).map { b.delay(attempt: $0) } == [.milliseconds(500), .seconds(1), .seconds(2), .seconds(3), .seconds(3), .seconds(3)])
    }
}
