// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "darwin",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "darwin", targets: ["DarwinCLI"]),
        .executable(name: "darwin-bench", targets: ["DarwinBench"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
        .package(url: "https://github.com/apple/swift-collections", from: "1.6.0"),
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.37.0"),
        .package(url: "https://github.com/hummingbird-project/swift-mustache", from: "2.1.1"),
    ],
    targets: [
        // MARK: - C libraries
        .systemLibrary(name: "CZstd", pkgConfig: "libzstd", providers: [.apt(["libzstd-dev"])]),
        .systemLibrary(name: "CZlib", pkgConfig: "zlib", providers: [.apt(["zlib1g-dev"])]),
        .systemLibrary(name: "CXXHash", pkgConfig: "libxxhash", providers: [.apt(["libxxhash-dev"])]),
        .target(
            name: "CDarwinJSON",
            cSettings: [.unsafeFlags(["-O3"])]
        ),
        .target(
            name: "CFastText",
            cxxSettings: [.unsafeFlags(["-O2"])],
            linkerSettings: [.linkedLibrary("fasttext")]
        ),
        .target(
            name: "CDarwinText",
            cSettings: [.unsafeFlags(["-O3"])],
            linkerSettings: [.linkedLibrary("icuuc"), .linkedLibrary("icui18n")]
        ),

        .target(
            name: "CDarwinTokenizer",
            cSettings: [.unsafeFlags(["-O2"])],
            linkerSettings: [.linkedLibrary("onig"), .linkedLibrary("icuuc")]
        ),
        .target(
            name: "CDarwinHTML",
            dependencies: ["CDarwinText"],
            cSettings: [.unsafeFlags(["-O2", "-I/usr/include/libxml2"])],
            linkerSettings: [.linkedLibrary("xml2")]
        ),

        // darwin's llama.cpp engine, loaded at run time (scripts/build-llama builds it)
        .target(name: "CDarwinLlama", linkerSettings: [.linkedLibrary("dl")]),

        // MARK: - darwin modules
        .target(name: "DarwinCore", dependencies: ["CDarwinJSON", "CDarwinText", "CXXHash"]),
        .target(
            name: "DarwinTokenizer", dependencies: ["DarwinCore", "CDarwinTokenizer", "CXXHash"],
            swiftSettings: [.unsafeFlags(["-O"])]),
        .target(name: "DarwinIO", dependencies: ["DarwinCore", "CZstd", "CZlib", "CXXHash", "CDarwinText"]),
        .target(
            name: "DarwinProvenance",
            dependencies: ["DarwinCore", .product(name: "GRDB", package: "GRDB.swift")]
        ),
        .target(
            name: "DarwinInference",
            dependencies: [
                "DarwinCore", "DarwinIO", "CDarwinLlama", "CXXHash", .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
            ]
        ),
        .target(
            name: "DarwinSteps",
            dependencies: [
                "DarwinCore", "DarwinIO", "DarwinInference", "CXXHash", "CFastText", "CDarwinText", "CDarwinHTML", "Yams",
                .product(name: "HeapModule", package: "swift-collections"),
                .product(name: "Mustache", package: "swift-mustache"),
            ]),
        .target(
            name: "DarwinRunner",
            dependencies: ["DarwinCore", "DarwinIO", "DarwinProvenance", "DarwinTokenizer", "Yams"]
        ),
        .executableTarget(
            name: "DarwinCLI",
            dependencies: [
                "DarwinCore", "DarwinIO", "DarwinProvenance", "DarwinSteps", "DarwinRunner", "DarwinTokenizer",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),

        .executableTarget(
            name: "DarwinBench", dependencies: ["DarwinCore", "DarwinIO", "DarwinInference", "CDarwinText", "CDarwinHTML"]),

        // MARK: - tests
        .target(
            name: "DarwinTestSupport",
            dependencies: ["DarwinCore", "DarwinIO"],
            path: "Tests/DarwinTestSupport"
        ),
        .testTarget(name: "DarwinCoreTests", dependencies: ["DarwinCore", "DarwinTestSupport"]),
        .testTarget(name: "DarwinIOTests", dependencies: ["DarwinIO", "DarwinTestSupport"]),
        .testTarget(name: "DarwinTokenizerTests", dependencies: ["DarwinTokenizer", "DarwinTestSupport"]),
        .testTarget(name: "DarwinInferenceTests", dependencies: ["DarwinInference", "DarwinTestSupport"]),
        .testTarget(name: "DarwinProvenanceTests", dependencies: ["DarwinProvenance", "DarwinTestSupport"]),
        .testTarget(name: "DarwinStepsTests", dependencies: ["DarwinSteps", "DarwinTestSupport"], exclude: ["Fixtures"]),
        .testTarget(
            name: "DarwinRunnerTests",
            dependencies: ["DarwinRunner", "DarwinSteps", "DarwinTestSupport"]
        ),
        .testTarget(name: "DarwinCLITests", dependencies: ["DarwinTestSupport", "DarwinTokenizer"]),
    ]
)
