// swift-tools-version:6.1
// Tide: a declarative integration engine. The targets follow the pipeline
// load (TideYAML) → evaluate (TideJQ) → map (TideMapping) → sink (TideCatalog),
// with the C libraries each wrapped by exactly one thin Swift module.
import PackageDescription

let package = Package(
    name: "Tide",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "tide", targets: ["tide"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.6.0"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.80.0"),
        .package(url: "https://github.com/apple/swift-crypto", from: "3.0.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-async-algorithms", from: "1.0.0"),
    ],
    targets: [
        // C libraries from Debian's -dev packages.
        .systemLibrary(name: "CJQ", path: "Sources/CJQ",
                       providers: [.apt(["libjq-dev"])]),
        .systemLibrary(name: "CYAML", path: "Sources/CYAML", pkgConfig: "yaml-0.1",
                       providers: [.apt(["libyaml-dev"])]),
        .systemLibrary(name: "CCurl", path: "Sources/CCurl", pkgConfig: "libcurl",
                       providers: [.apt(["libcurl4-openssl-dev"])]),
        .systemLibrary(name: "CSQLite", path: "Sources/CSQLite", pkgConfig: "sqlite3",
                       providers: [.apt(["libsqlite3-dev"])]),
        // PostgreSQL's own client library, for the shared catalog (`--catalog postgresql://…`).
        .systemLibrary(name: "CLibPQ", path: "Sources/CLibPQ", pkgConfig: "libpq",
                       providers: [.apt(["libpq-dev"])]),
        // hiredis, Redis' own C client, for live events shared by replicas (`--events redis://…`).
        .systemLibrary(name: "CHiredis", path: "Sources/CHiredis",
                       providers: [.apt(["libhiredis-dev"])]),

        // Source positions, diagnostics and the error vocabulary shared by every stage.
        .target(name: "TideCore"),
        // YAML → node tree with line/column on every node (libyaml's event API).
        .target(name: "TideYAML", dependencies: ["TideCore", "CYAML"]),
        // JSON values (libjq's jv) and compiled jq programs with Ocean's jq 1.8 builtins.
        .target(name: "TideJQ", dependencies: ["TideCore", "CJQ"]),
        // Port's model: entities and blueprints.
        .target(name: "TideModel", dependencies: ["TideJQ"]),
        // Ocean's port-app-config.yml and the entity processor.
        .target(name: "TideMapping", dependencies: ["TideCore", "TideYAML", "TideJQ", "TideModel", "TideSpec"]),
        // HTTP client on libcurl's multi interface: retries, rate limits, redacted errors.
        .target(name: "TideHTTP", dependencies: ["TideCore", "CCurl"]),
        // Declarative specs of Tide's YAML formats: validation, defaults, JSON Schema, docs.
        .target(name: "TideSpec", dependencies: ["TideCore", "TideYAML", "TideJQ"]),
        // integration.yml: the model of an integration and its loader, templates included.
        .target(name: "TideIntegration", dependencies: ["TideCore", "TideYAML", "TideJQ", "TideSpec", "TideModel", "TideMapping"]),
        // Fetching pages of a kind: requests from templates, auth, pagination, parent fan-out.
        // (swift-crypto signs the JWT of a login: HMAC in Crypto, RSA in _CryptoExtras.)
        .target(name: "TideFetch", dependencies: ["TideCore", "TideJQ", "TideHTTP", "TideIntegration", "TideMapping",
                                                  .product(name: "AsyncAlgorithms", package: "swift-async-algorithms"),
                                                  .product(name: "Crypto", package: "swift-crypto"),
                                                  .product(name: "_CryptoExtras", package: "swift-crypto")]),
        // The resync: fetch → map → sink, page by page, then reconcile.
        .target(name: "TideEngine", dependencies: ["TideCore", "TideJQ", "TideModel", "TideMapping", "TideIntegration", "TideFetch", "TideHTTP"]),
        // `tide lint`: every finding about an integration that can be known without the network.
        .target(name: "TideLint", dependencies: ["TideCore", "TideYAML", "TideJQ", "TideSpec", "TideModel", "TideMapping", "TideIntegration", "TideReplay"]),
        // Port's REST API as a sink, called exactly as Ocean calls it.
        // (Its bookkeeping of what a resync produced spills to a scratch SQLite file, TideCatalog's EntityLedger.)
        .target(name: "TidePort", dependencies: ["TideCore", "TideModel", "TideMapping", "TideIntegration", "TideHTTP", "TideCatalog", "TideYAML"]),
        // Live events: declared webhooks verified, matched, queued and applied through the mapping.
        .target(name: "TideWebhooks", dependencies: [
            "TideCore", "TideJQ", "TideModel", "TideMapping", "TideIntegration", "TideFetch", "TideHTTP", "TideEngine", "TideServer",
            "TideRedis",
            .product(name: "Crypto", package: "swift-crypto"),
        ]),
        // Redis through hiredis: streams, consumer groups and leases, each command on a connection's
        // own thread (blocking reads never hold Swift's cooperative threads).
        .target(name: "TideRedis", dependencies: ["TideCore", "CHiredis"]),
        // `tide test`: an integration's YAML test cases run against fixture servers.
        // Webhook expectations go through TideWebhooks' real server, over TideHTTP's client.
        .target(name: "TideTestRunner", dependencies: ["TideCore", "TideJQ", "TideModel", "TideMapping",
                                                       "TideIntegration", "TideEngine", "TideCatalog", "TideReplay",
                                                       "TideWebhooks", "TideHTTP", "TideRuntime", "TideServer", "TideFetch"]),
        // Every kind of run assembled in one place: the environment, the plan, sinks, the live
        // service, replay, signals and shutdown. Commands translate flags into a RunPlan.
        .target(name: "TideRuntime", dependencies: ["TideCore", "TideJQ", "TideModel", "TideMapping", "TideIntegration", "TideEngine", "TideHTTP",
                                                    "TideLint", "TideCatalog", "TidePort", "TideWebhooks", "TideReplay", "TideRedis",
                                                    .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                                                    .product(name: "UnixSignals", package: "swift-service-lifecycle"),
                                                    .product(name: "Logging", package: "swift-log")]),
        // The catalog with Port's entity semantics: an embedded SQLite file, or a shared PostgreSQL
        // database, behind one small SQL driver seam.
        .target(name: "TideCatalog", dependencies: ["TideCore", "TideJQ", "TideModel", "CSQLite", "CLibPQ"]),
        // The `tide` commands.
        .target(name: "TideCLI", dependencies: [
            "TideCore", "TideJQ", "TideModel", "TideMapping", "TideCatalog", "TideEngine", "TideIntegration", "TideLint",
            "TideWebhooks", "TideTestRunner", "TideRuntime", "TideHTTP", "TideFetch", "TideReplay",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
            .product(name: "Logging", package: "swift-log"),
        ]),
        .executableTarget(name: "tide", dependencies: ["TideCLI"]),
        // Benchmarks: a loopback Jira stand-in that serves generated issues for resync figures.
        .executableTarget(name: "tide-jira-standin", dependencies: ["TideCore", "TideTesting"], path: "Benchmarks/JiraStandIn"),
        .executableTarget(name: "tide-port-standin", dependencies: ["TideTesting"], path: "Benchmarks/PortStandIn"),
        // Differential fuzzing against Ocean: the comparison (tests and campaigns) and its
        // release-built runner for scripts/fuzz-mappings.py campaigns. Never linked into `tide`.
        .target(name: "TideOceanFuzz", dependencies: ["TideJQ", "TideModel", "TideMapping"]),
        .executableTarget(name: "tide-ocean-fuzz", dependencies: ["TideOceanFuzz", "TideJQ"], path: "Benchmarks/OceanFuzz"),
        // Recorded responses served on loopback: `tide run --replay`, `tide test`, and the tests;
        // fixtures.yml and the `tests/*.yml` cases that embed fixtures, read for `tide test` and `tide lint`.
        .target(name: "TideReplay", dependencies: ["TideCore", "TideYAML", "TideSpec", "TideServer", "TideJQ", "TideModel", "TideMapping"]),
        // The one HTTP server (SwiftNIO): webhooks, replay and the tests' servers. Deadlines, a
        // connection cap, draining; applications plug in through `HTTPRoutes`.
        .target(name: "TideServer", dependencies: [
            "TideCore",
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "NIOHTTP1", package: "swift-nio"),
        ]),
        // Only for tests and benchmarks, never linked into `tide`: the built binary, the Port stand-in.
        .target(name: "TideTesting", dependencies: ["TideCore", "TideReplay"]),

        .testTarget(name: "TideCoreTests", dependencies: ["TideCore"]),
        .testTarget(name: "TideServerTests", dependencies: ["TideServer", "TideHTTP", "TideCore", "TideTesting"]),
        .testTarget(name: "TideModelTests", dependencies: ["TideModel", "TideJQ"]),
        .testTarget(name: "TideSpecTests", dependencies: ["TideSpec", "TideYAML", "TideCore", "TideJQ"]),
        .testTarget(name: "TideRuntimeTests", dependencies: ["TideRuntime", "TideIntegration", "TideModel", "TideWebhooks", "TideCore", "TidePort"]),
        .testTarget(name: "TideYAMLTests", dependencies: ["TideYAML", "TideCore"]),
        .testTarget(name: "TideJQTests", dependencies: ["TideJQ"], resources: [.copy("Fixtures")]),
        .testTarget(name: "TideMappingTests", dependencies: ["TideMapping", "TideJQ", "TideCore", "TideModel"]),
        // The differential comparison with Ocean: its committed corpus, and the comparison itself.
        .testTarget(name: "TideOceanFuzzTests", dependencies: ["TideOceanFuzz", "TideJQ"], exclude: ["Fixtures"]),
        .testTarget(name: "TideCatalogTests", dependencies: ["TideCatalog", "TideModel", "TideJQ", "TideTesting", "TideCore"]),
        .testTarget(name: "TideCLITests", dependencies: ["TideTesting", "TideHTTP", "TideModel", "TideMapping", "TideJQ", "TideCore"]),
        .testTarget(name: "TideHTTPTests", dependencies: ["TideHTTP", "TideTesting", "TideCore"]),
        // The fixture server and fixtures.yml, with TideHTTP's client as the caller.
        .testTarget(name: "TideReplayTests", dependencies: ["TideReplay", "TideHTTP", "TideCore"]),
        .testTarget(name: "TideFetchTests", dependencies: ["TideFetch", "TideIntegration", "TideHTTP", "TideJQ", "TideTesting", "TideCore",
                                                          .product(name: "Crypto", package: "swift-crypto"),
                                                          .product(name: "_CryptoExtras", package: "swift-crypto")]),
        .testTarget(name: "TideEngineTests", dependencies: ["TideReplay", "TideCore", "TideEngine", "TideFetch", "TideCatalog", "TideIntegration", "TideMapping", "TideModel", "TideTesting"]),
        .testTarget(name: "TideLintTests", dependencies: ["TideLint", "TideYAML", "TideCore"], resources: [.copy("Corpus")]),
        .testTarget(name: "TidePortTests", dependencies: ["TidePort", "TideRuntime", "TideEngine", "TideCatalog", "TideModel", "TideIntegration", "TideTesting", "TideCore", "TideHTTP", "TideMapping"]),
        .testTarget(name: "TideWebhooksTests", dependencies: ["TideWebhooks", "TideServer", "TideEngine", "TideCatalog", "TideIntegration", "TideTesting", "TideHTTP", "TideCore", "TideJQ", "TideMapping", "TideModel"]),
        .testTarget(name: "TideTestRunnerTests", dependencies: ["TideTestRunner", "TideReplay", "TideCore", "TideIntegration", "TideMapping", "TideFetch"]),
        .testTarget(name: "TideRedisTests", dependencies: ["TideRedis", "TideWebhooks", "TideTesting", "TideCore", "TideCatalog", "TideHTTP", "TideModel"]),
        .testTarget(name: "TideIntegrationTests", dependencies: ["TideIntegration", "TideJQ", "TideCore", "TideMapping"]),
    ]
)

// The compiler keeps the module graph honest: a member (method, property, operator) is visible
// only in files that import the module declaring it, not through some other import.
for target in package.targets where target.type != .system {
    target.swiftSettings = (target.swiftSettings ?? []) + [.enableUpcomingFeature("MemberImportVisibility")]
}
