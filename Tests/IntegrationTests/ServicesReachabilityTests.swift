import Testing

/// Under `CI=true` the services are part of the run: one that `scripts/services up` did not
/// bring up fails here by name (and every suite needing it fails too), so no integration suite
/// is ever skipped silently. Outside CI an unreachable service only skips the Kafka suites.
@Suite struct ServicesReachabilityTests {
    @Test(.enabled(if: Services.requiredByCI, "only required under CI=true"),
          arguments: [("kafka", Services.kafkaAddress), ("redis", Services.redisAddress), ("postgresql", Services.postgresAddress),
                     ("mariadb", Services.address(inURL: MySQLTestSupport.adminDSN, defaultPort: 3306))])
    func serviceIsReachableUnderCI(service: String, address: String) {
        #expect(Services.tcpReachable(address), "\(service) is not reachable at \(address): under CI=true every service must be up (scripts/services up)")
    }

    @Test func addressesAreParsedFromTheServiceURLs() {
        #expect(Services.address(inURL: "redis://:secret@127.0.0.1:16379/0", defaultPort: 6379) == "127.0.0.1:16379")
        #expect(Services.address(inURL: "postgresql://postgres@127.0.0.1:15432/app", defaultPort: 5432) == "127.0.0.1:15432")
        #expect(Services.address(inURL: "postgresql://u:p@db/app", defaultPort: 5432) == "db:5432")
        #expect(!Services.tcpReachable("127.0.0.1:1"))
    }
}
