import Testing
import StreamKit

/// Connection strings lose their passwords before they reach a log line or an API response.
@Suite struct LogRedactionTests {
    @Test(arguments: [
        ("postgresql://capture:s3cr3t@127.0.0.1:15432/app", "postgresql://capture:***@127.0.0.1:15432/app"),
        ("redis://:hunter2@127.0.0.1:16379/0", "redis://:***@127.0.0.1:16379/0"),
        ("mysql://root:p%40ss@localhost:3306/db", "mysql://root:***@localhost:3306/db"),
        ("postgresql://app:p@ss@127.0.0.1/app", "postgresql://app:***@127.0.0.1/app"),
        ("postgresql://postgres@127.0.0.1:15432/app", "postgresql://postgres@127.0.0.1:15432/app"),
        ("host=db user=app password=s3cr3t dbname=x", "host=db user=app password=*** dbname=x"),
        ("host=db password='sec ret' dbname=x", "host=db password=*** dbname=x"),
        ("postgresql://u@h/db?password=s3cr3t&sslmode=disable", "postgresql://u@h/db?password=***&sslmode=disable"),
    ])
    func passwordsAreRemoved(input: String, expected: String) {
        let redacted = LogRedaction.connectionString(input)
        #expect(redacted == expected)
        #expect(!redacted.contains("s3cr3t") && !redacted.contains("hunter2") && !redacted.contains("sec ret"))
    }
}
