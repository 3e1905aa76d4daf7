// swift-tools-version:6.0
// A package outside this repository's build, depending on it exactly as the README's SDK
// section says (`scripts/check-sdk-consumer` builds it): this repository sits next to it in a
// folder named `once`, and the README's SDK snippets are compiled as its sources.
import PackageDescription

let package = Package(
    name: "SDKConsumer",
    platforms: [.macOS(.v14)],
    dependencies: [
        .package(path: "../once")
    ],
    targets: [
        .target(
            name: "SDKConsumer",
            dependencies: [
                .product(name: "OnceOnly", package: "once")
            ]
        )
    ]
)
