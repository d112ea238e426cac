// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "StreamKit",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "StreamKit", targets: ["StreamKit"]),
        .library(name: "StreamKitTesting", targets: ["StreamKitTesting"]),
        .library(name: "FeatureJobs", targets: ["FeatureJobs"]),
        .executable(name: "cdc-features", targets: ["cdc-features"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-collections", from: "1.1.0"),
        .package(url: "https://github.com/HdrHistogram/hdrhistogram-swift", from: "0.1.0"),
    ],
    targets: [
        .systemLibrary(name: "CZstd", pkgConfig: "libzstd", providers: [.apt(["libzstd-dev"])]),
        .target(name: "CStreamKitShims"),
        .systemLibrary(name: "CRdKafka", pkgConfig: "rdkafka", providers: [.apt(["librdkafka-dev"])]),
        .systemLibrary(name: "CHiredis", pkgConfig: "hiredis", providers: [.apt(["libhiredis-dev"])]),
        .systemLibrary(name: "CLibPQ", pkgConfig: "libpq", providers: [.apt(["libpq-dev"])]),
        .target(
            name: "StreamKit",
            dependencies: [
                "CZstd", "CStreamKitShims", "CRdKafka", "CHiredis", "CLibPQ",
                .product(name: "DequeModule", package: "swift-collections"),
                .product(name: "HeapModule", package: "swift-collections"),
                .product(name: "Histogram", package: "hdrhistogram-swift"),
            ]
        ),
        .target(name: "StreamKitTesting", dependencies: ["StreamKit"]),
        .target(name: "FeatureJobs", dependencies: ["StreamKit"]),
        .target(name: "StreamKitJobs", dependencies: ["StreamKit", "FeatureJobs"], path: "jobs"),
        .executableTarget(
            name: "cdc-features",
            dependencies: [
                "StreamKit", "FeatureJobs", "StreamKitJobs",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .testTarget(name: "StreamKitTests", dependencies: ["StreamKit", "StreamKitTesting", "FeatureJobs", "StreamKitJobs", "CZstd"]),
        .testTarget(name: "FeatureJobsTests", dependencies: ["FeatureJobs", "StreamKitTesting"]),
        // Tests against real services (Tansu, Redis, PostgreSQL) started by scripts/services.
        .testTarget(name: "IntegrationTests", dependencies: ["StreamKit", "StreamKitTesting", "FeatureJobs", "StreamKitJobs"]),
    ]
)
