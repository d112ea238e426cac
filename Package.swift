// swift-tools-version:6.0
import PackageDescription

/// Settings every target shares: existentials are spelled `any`, and an `import` is internal
/// unless it says `public import` (so a module re-exports nothing by accident).
let strict: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("InternalImportsByDefault"),
    // The runtime's generic hot paths are specialized for types of other modules (aggregates,
    // decoders, connectors) in release builds.
    .unsafeFlags(["-cross-module-optimization"], .when(configuration: .release)),
]

let package = Package(
    name: "StreamKit",
    products: [
        .library(name: "StreamKit", targets: ["StreamKit"]),
        .library(name: "StreamKitJSON", targets: ["StreamKitJSON"]),
        .library(name: "StreamKitDebezium", targets: ["StreamKitDebezium"]),
        .library(name: "StreamKitKafka", targets: ["StreamKitKafka"]),
        .library(name: "StreamKitRedis", targets: ["StreamKitRedis"]),
        .library(name: "StreamKitCapture", targets: ["StreamKitCapture"]),
        .library(name: "StreamKitPostgres", targets: ["StreamKitPostgres"]),
        .library(name: "StreamKitMySQL", targets: ["StreamKitMySQL"]),
        .library(name: "StreamKitWorkload", targets: ["StreamKitWorkload"]),
        .library(name: "StreamKitQuery", targets: ["StreamKitQuery"]),
        .library(name: "StreamKitTesting", targets: ["StreamKitTesting"]),
        .library(name: "FeatureJobs", targets: ["FeatureJobs"]),
        .library(name: "StreamKitObservability", targets: ["StreamKitObservability"]),
        .library(name: "StreamKitServer", targets: ["StreamKitServer"]),
        .library(name: "StreamKitBackfill", targets: ["StreamKitBackfill"]),
        .executable(name: "cdc-features", targets: ["cdc-features"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-collections", from: "1.1.0"),
        .package(url: "https://github.com/HdrHistogram/hdrhistogram-swift", from: "0.1.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.6.0"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.5.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.0.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.6.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.5.0"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.0.0"),
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.27.0"),
    ],
    targets: [
        // C system libraries: each is imported by exactly one Swift target.
        .systemLibrary(name: "CZstd", pkgConfig: "libzstd", providers: [.apt(["libzstd-dev"])]),
        .systemLibrary(name: "CRdKafka", pkgConfig: "rdkafka", providers: [.apt(["librdkafka-dev"])]),
        .systemLibrary(name: "CHiredis", pkgConfig: "hiredis", providers: [.apt(["libhiredis-dev"])]),
        .systemLibrary(name: "CLibPQ", pkgConfig: "libpq", providers: [.apt(["libpq-dev"])]),
        .systemLibrary(name: "CMariaDB", pkgConfig: "libmariadb", providers: [.apt(["libmariadb-dev"])]),
        .target(name: "CStreamKitShims"),
        // hiredis replies built in a per-connection arena (StreamKitRedis's read path allocates
        // nothing). It uses hiredis' types only (from /usr/include, libhiredis-dev), no symbol:
        // StreamKitRedis stays the one target that depends on CHiredis.
        .target(name: "CRedisReplyArena"),
        // Test support: counts the calling thread's heap allocations (wraps malloc & co. in the
        // test binary). Never a dependency of a library or the tool.
        .target(name: "CAllocationCounter"),

        // The runtime: graph, operators, time, windowing, state, checkpoints (zstd), execution,
        // file sources and sinks. Links no connector library.
        .target(
            name: "StreamKit",
            dependencies: [
                "CZstd", "CStreamKitShims",
                .product(name: "DequeModule", package: "swift-collections"),
                .product(name: "HeapModule", package: "swift-collections"),
                .product(name: "Histogram", package: "hdrhistogram-swift"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: strict
        ),
        // Formats.
        .target(name: "StreamKitJSON", dependencies: ["StreamKit"], swiftSettings: strict),
        .target(name: "StreamKitDebezium", dependencies: ["StreamKit", "StreamKitJSON"], swiftSettings: strict),
        // Connectors: each owns one C library.
        .target(
            name: "StreamKitKafka",
            dependencies: [
                "StreamKit", "StreamKitJSON", "CRdKafka",
                .product(name: "Logging", package: "swift-log"), .product(name: "Metrics", package: "swift-metrics"),
            ],
            swiftSettings: strict
        ),
        .target(
            name: "StreamKitRedis",
            dependencies: [
                "StreamKit", "StreamKitJSON", "CHiredis", "CRedisReplyArena",
                .product(name: "Logging", package: "swift-log"), .product(name: "Metrics", package: "swift-metrics"),
            ],
            swiftSettings: strict
        ),
        // Change capture: the database-neutral core (no database client library) and its
        // PostgreSQL plug-in (the only target importing libpq).
        .target(
            name: "StreamKitCapture",
            dependencies: [
                "StreamKit", "StreamKitJSON", "StreamKitDebezium", "StreamKitKafka",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: strict
        ),
        .target(
            name: "StreamKitPostgres",
            dependencies: [
                "StreamKit", "StreamKitJSON", "StreamKitDebezium", "StreamKitKafka", "StreamKitCapture", "CLibPQ",
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict
        ),
        // The MariaDB/MySQL plug-in of the capture core (binlog; the only target importing Connector/C).
        .target(
            name: "StreamKitMySQL",
            dependencies: [
                "StreamKit", "StreamKitJSON", "StreamKitKafka", "StreamKitCapture", "CMariaDB",
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict
        ),
        // The standard benchmark workload and the ad-hoc window query of `cdc-features window`.
        .target(name: "StreamKitWorkload", dependencies: ["StreamKit"], swiftSettings: strict),
        .target(name: "StreamKitQuery", dependencies: ["StreamKit", "StreamKitJSON", "StreamKitWorkload"], swiftSettings: strict),
        // Process-wide logging/metrics bootstrap and the Prometheus endpoint (executables only).
        .target(
            name: "StreamKitObservability",
            dependencies: [
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Hummingbird", package: "hummingbird"),
            ],
            swiftSettings: strict
        ),
        // The control plane of `cdc-features serve`: REST API, auth, the registry (SQLite through
        // GRDB) and the supervised captures and jobs.
        .target(
            name: "StreamKitServer",
            dependencies: [
                "StreamKit", "StreamKitJSON", "StreamKitKafka", "StreamKitRedis", "StreamKitCapture", "StreamKitPostgres",
                "StreamKitJobs", "StreamKitObservability", "StreamKitMySQL",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdTLS", package: "hummingbird"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            resources: [.copy("openapi.json"), .copy("status.html")],
            swiftSettings: strict
        ),
        // The operator test harness.
        .target(name: "StreamKitTesting", dependencies: ["StreamKit", "CStreamKitShims"], swiftSettings: strict),
        // The ML feature library (aggregates, sketches, sessions, drift, anomaly, joins).
        .target(name: "FeatureJobs", dependencies: ["StreamKit", "StreamKitDebezium", .product(name: "HeapModule", package: "swift-collections"),
                                                .product(name: "Logging", package: "swift-log")], swiftSettings: strict),
        // Training sets: a job's own feature definition over history, point-in-time joined with labels.
        .target(
            name: "StreamKitBackfill",
            dependencies: [
                "StreamKit", "StreamKitJSON", "StreamKitKafka", "StreamKitRedis",
                .product(name: "HeapModule", package: "swift-collections"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict
        ),
        // Example jobs, one file each, and their registry.
        .target(
            name: "StreamKitJobs",
            dependencies: [
                "StreamKit", "StreamKitJSON", "StreamKitDebezium", "StreamKitKafka", "StreamKitRedis",
                "StreamKitQuery", "FeatureJobs", "StreamKitBackfill",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
            ],
            path: "jobs",
            swiftSettings: strict
        ),
        .executableTarget(
            name: "cdc-features",
            dependencies: [
                "StreamKit", "StreamKitJSON", "StreamKitDebezium", "StreamKitKafka", "StreamKitRedis",
                "StreamKitCapture", "StreamKitPostgres", "StreamKitWorkload", "StreamKitQuery", "FeatureJobs", "StreamKitJobs", "StreamKitObservability",
                "StreamKitServer", "StreamKitMySQL", "StreamKitBackfill",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Hummingbird", package: "hummingbird"),
            ],
            swiftSettings: strict
        ),
        .testTarget(
            name: "StreamKitTests",
            dependencies: [
                "StreamKit", "StreamKitTesting", "StreamKitJSON", "StreamKitDebezium", "StreamKitKafka",
                "StreamKitCapture", "StreamKitPostgres", "StreamKitWorkload", "StreamKitQuery", "FeatureJobs", "StreamKitJobs", "StreamKitRedis", "CZstd",
                "StreamKitMySQL",
                "StreamKitObservability", "StreamKitBackfill",
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict
        ),
        // Builds and runs a job with the runtime alone, and checks its dependency closure.
        .testTarget(name: "RuntimeOnlyTests", dependencies: ["StreamKit"], swiftSettings: strict),
        .testTarget(name: "FeatureJobsTests", dependencies: ["FeatureJobs", "StreamKitTesting", "StreamKitDebezium", "CAllocationCounter"],
                    swiftSettings: strict),
        // The control plane through HTTP, in-process: auth, validation, errors, the registry.
        .testTarget(
            name: "ServerTests",
            dependencies: [
                "StreamKitServer", "StreamKit", "StreamKitKafka", "StreamKitRedis",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: strict
        ),
        // Tests against real services (Tansu, Redis, PostgreSQL) started by scripts/services.
        .testTarget(
            name: "IntegrationTests",
            dependencies: [
                "StreamKit", "StreamKitTesting", "StreamKitJSON", "StreamKitDebezium", "StreamKitKafka",
                "StreamKitRedis", "StreamKitCapture", "StreamKitPostgres", "StreamKitWorkload", "StreamKitQuery", "FeatureJobs", "StreamKitJobs",
                "cdc-features", "StreamKitMySQL", "StreamKitBackfill",
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict
        ),
    ]
)
