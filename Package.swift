// swift-tools-version:6.2
import PackageDescription

// once-exec supervises its child with Linux-only calls (PR_SET_PDEATHSIG from the forking
// thread, the terminal handoff): it, its C shim and its tests are part of the package
// only where they build. The platforms below are the SDK's.
#if os(Linux)
    let execProducts: [Product] = [.executable(name: "once-exec", targets: ["once-exec"])]
    let execTargets: [Target] = [
        .target(name: "COnceSpawn"),
        .target(
            name: "OnceExec",
            dependencies: [
                "OnceCore",
                "OnceStore",
                "OnceOnly",
                "COnceSpawn",
            ]
        ),
        .executableTarget(
            name: "once-exec",
            dependencies: [
                "OnceExec",
                "OnceCore",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            // Start-up is the product (issue 9), and most of a bare start was the dynamic loader.
            // Release builds of once-exec are therefore
            // - linked with the static Swift runtime and Foundation, whether or not
            //   `--static-swift-stdlib` is given: the rest depends on it;
            // - position-dependent, as Go links its binaries: a PIE of this size has ~119,000
            //   relocations to apply and fault in at every start (`--version`: 689 page faults
            //   and 5.3 ms of CPU as a PIE, 305 and 2.1 ms without). The libraries, stack and
            //   heap are still randomised. (Against a shared libswiftCore, glibc would warn at
            //   every start about its protected symbols: hence release only, and static.)
            // - without an exported symbol table: swiftc exports all 33,000 symbols, so every
            //   symbol the shared libraries bind was looked up there first, and the runtime's
            //   `dladdr` at start scanned it (`--version`: 4.69 -> 3.46 million instructions).
            //   Nothing loads plugins into once-exec; crash backtraces read the symbol table.
            linkerSettings: [
                .unsafeFlags(
                    ["-static-stdlib", "-Xclang-linker", "-no-pie", "-Xlinker", "--no-export-dynamic"],
                    .when(platforms: [.linux], configuration: .release))
            ]
        ),
        .testTarget(
            name: "OnceExecTests",
            dependencies: ["OnceExec", "OnceCore", "OnceStore", "OnceOnly", "OnceTestSupport"]
        ),
        // Fuzz targets over the parsers that take outside text (scripts/fuzz builds them with
        // libFuzzer); a normal build replays the committed corpus instead (scripts/test).
        .executableTarget(name: "once-fuzz", dependencies: ["OnceCore", "OnceExec"]),
    ]
#else
    let execProducts: [Product] = []
    let execTargets: [Target] = []
#endif

let package = Package(
    name: "once",
    // macOS 14 and its contemporaries: the OnceOnly SDK's newest APIs (ContinuousClock,
    // Task.sleep(for:), Date.ISO8601FormatStyle) need macOS 13 / iOS 16 / tvOS 16 / watchOS 9.
    platforms: [.macOS(.v14), .iOS(.v17), .tvOS(.v17), .watchOS(.v10), .visionOS(.v1)],
    // Only the SDK is a library for users; the other modules are this package's internals
    // (their cross-module API is `package`, not `public`).
    products: [
        .library(name: "OnceOnly", targets: ["OnceOnly"]),
        .executable(name: "once-server", targets: ["once-server"]),
    ] + execProducts,
    dependencies: [
        .package(
            url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1", traits: ["FullFoundation"]),
        .package(url: "https://github.com/groue/GRDB.swift.git", from: "7.10.0"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-http-types.git", from: "1.8.0"),
        .package(url: "https://github.com/vapor/postgres-nio.git", from: "1.33.2"),
        // The SDK's wire and tool backends' signed calls (issue 10).
        .package(url: "https://github.com/swift-server/async-http-client.git", from: "1.37.0"),
        // Tool secrets sealed at rest (already in the resolved graph through postgres-nio).
        .package(url: "https://github.com/apple/swift-crypto.git", "3.12.3"..<"5.0.0"),
        // The dashboard's templates (escaping by default) and /metrics (its registry directly:
        // a process-wide MetricsSystem bootstrap would clash with tests that build many apps).
        // Both are small; swift-prometheus brings swift-metrics' CoreMetrics and swift-atomics.
        .package(url: "https://github.com/hummingbird-project/swift-mustache.git", from: "2.1.1"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
    ],
    targets: [
        .target(name: "OnceEncoding"),
        .target(name: "OnceCore", dependencies: ["OnceEncoding"]),
        // SQLite settings behind variadic C calls, which Swift does not import.
        .target(name: "COnceSQLite", linkerSettings: [.linkedLibrary("sqlite3")]),
        .target(
            name: "OnceStore",
            dependencies: [
                "OnceCore",
                "OnceEncoding",
                "COnceSQLite",
                .product(name: "GRDB", package: "GRDB.swift"),
            ]
        ),
        // PostgreSQL lives in its own module so that once-exec, which links OnceStore for its
        // local mode, carries neither postgres-nio nor its TLS stack.
        .target(
            name: "OncePostgres",
            dependencies: [
                "OnceCore",
                "OnceStore",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "_ConnectionPoolModule", package: "postgres-nio"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .target(
            name: "OnceServer",
            dependencies: [
                "OnceCore",
                "OnceStore",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Mustache", package: "swift-mustache"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Crypto", package: "swift-crypto"),
            ]
        ),
        .executableTarget(
            name: "once-server",
            dependencies: [
                "OnceServer",
                "OnceStore",
                "OncePostgres",
                "OnceCore",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // The SDK's wire is AsyncHTTPClient, not URLSession: on Linux that one drags libcurl and
        // its thirty libraries into every start of every program linking the SDK (once-exec).
        .target(
            name: "OnceOnly",
            dependencies: [
                "OnceEncoding",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ]),
        .testTarget(name: "OnceCoreTests", dependencies: ["OnceCore", "OnceEncoding"]),
        .testTarget(
            name: "OnceOnlyTests",
            dependencies: [
                "OnceOnly", "OnceServer", "OnceStore", "OnceCore", "OnceStoreTestSupport",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .target(name: "OnceTestSupport", dependencies: ["OnceCore"], path: "Tests/OnceTestSupport"),
        .target(
            name: "OnceStoreTestSupport",
            dependencies: ["OnceCore", "OnceStore", "OncePostgres"],
            path: "Tests/StoreTestSupport"
        ),
        .testTarget(
            name: "OnceStoreTests",
            dependencies: [
                "OnceStore", "OncePostgres", "OnceCore", "OnceStoreTestSupport",
                .product(name: "GRDB", package: "GRDB.swift"),
            ]),
        .testTarget(
            name: "OnceServerTests",
            dependencies: [
                "OnceServer", "OnceStore", "OnceCore", "OncePostgres", "OnceStoreTestSupport", "OnceTestSupport",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "NIOCore", package: "swift-nio"),
            ]
        ),
    ] + execTargets
)
