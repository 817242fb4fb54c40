// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "moda-agent",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "moda-agent", targets: ["moda-agent"]),
        .executable(name: "modactl", targets: ["modactl"]),
        .library(name: "ModaAgentCore", targets: ["ModaAgentCore"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/swift-server/async-http-client.git", from: "1.37.0"),
        // Already built for async-http-client; delivery.caFile's certificates and the tests' TLS upstream use it.
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.0"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-atomics.git", from: "1.3.0"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        // Already built for async-http-client; the HTTP receivers take gzip bodies with it.
        .package(url: "https://github.com/apple/swift-nio-extras.git", from: "1.35.2"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.6.0"),
        // Already built for async-http-client (through swift-certificates); HMAC-SHA256 for redaction's `hash`.
        .package(url: "https://github.com/apple/swift-crypto.git", "3.12.3"..<"5.0.0"),
    ],
    targets: [
        .systemLibrary(
            name: "CSQLite",
            pkgConfig: "sqlite3",
            providers: [.apt(["libsqlite3-dev"])]
        ),
        .systemLibrary(name: "CMalloc"),
        // sd_notify, sd_listen_fds_with_names, sd_journal_sendv: systemd keeps its own protocols correct.
        // Loaded with dlopen (in libc since glibc 2.34) only where it is used: Sources/CSystemd.
        .target(name: "CSystemd"),
        // Operator redaction patterns run through Vectorscan: linear time, refuses what it cannot run so.
        .systemLibrary(
            name: "CVectorscan",
            pkgConfig: "libhs",
            providers: [.apt(["libvectorscan-dev"])]
        ),
        .target(
            name: "ModaAgentCore",
            dependencies: [
                "CSQLite",
                "CSystemd",
                "CMalloc",
                "CVectorscan",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Atomics", package: "swift-atomics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "CoreMetrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOHTTPCompression", package: "swift-nio-extras"),
            ]
        ),
        // moda-agent is also modactl when called by that name (the package's /usr/bin/modactl is a link to it).
        .executableTarget(
            name: "moda-agent",
            dependencies: [
                "ModaAgentCore",
                "ModactlCommands",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        // The development modactl (`swift run modactl`, the tests): the same ModactlCommands the shipped
        // moda-agent runs under that name. The package installs no separate modactl program.
        .executableTarget(
            name: "modactl",
            dependencies: ["ModactlCommands"]
        ),
        .target(
            name: "ModactlCommands",
            dependencies: [
                "ModaAgentCore",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        // The benchmark (`make bench`): starts the moda-agent binary beside it against an in-process mock API
        // (the test suite's MockModaServer, counting only).
        .executableTarget(
            name: "moda-bench",
            dependencies: [
                "ModaAgentTestSupport",
                "ModaAgentCore",
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .target(
            name: "ModaAgentTestSupport",
            dependencies: [
                "ModaAgentCore",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
            ],
            path: "Tests/ModaAgentTestSupport"
        ),
        .testTarget(
            name: "ModaAgentCoreTests",
            dependencies: [
                "ModaAgentCore",
                "ModaAgentTestSupport",
                "CSystemd",
                .product(name: "NIOEmbedded", package: "swift-nio"),
                // The docs drift test reads modactl's command tree.
                "ModactlCommands",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
    ]
)
