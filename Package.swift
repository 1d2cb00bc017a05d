// swift-tools-version:6.1
//
// colpali-pg: visual document retrieval on PostgreSQL.
//
// Layering (one way only):
//   executables  colpali, colpali-ingest  (ColPaliCLISupport: shared options)
//        |
//   server       ColPaliServer (the HTTP API and search page of `colpali serve`)
//        |
//   libraries    ColPaliIngest, ColPaliSearch -> ColPaliModel, ColPaliStorage
//        |
//   kernels      ColPaliKernels (C, shared with the Postgres extension in sql/),
//                ColPaliMath (C, the model's bf16 GEMM and elementwise kernels)
import PackageDescription

let package = Package(
    name: "colpali-pg",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "colpali", targets: ["ColPaliCLI"]),
        .executable(name: "colpali-ingest", targets: ["ColPaliIngestCLI"]),
        .library(name: "ColPaliCore", targets: ["ColPaliCore"]),
        .library(name: "ColPaliKernels", targets: ["ColPaliKernels"]),
        .library(name: "ColPaliStorage", targets: ["ColPaliStorage"]),
        .library(name: "ColPaliModel", targets: ["ColPaliModel"]),
        .library(name: "ColPaliSearch", targets: ["ColPaliSearch"]),
        .library(name: "ColPaliIngest", targets: ["ColPaliIngest"]),
        .library(name: "ColPaliServer", targets: ["ColPaliServer"]),
    ],
    dependencies: [
        .package(url: "https://github.com/vapor/postgres-nio.git", from: "1.33.2"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-crypto.git", "3.12.3"..<"5.0.0"),
        .package(url: "https://github.com/swift-server/async-http-client.git", from: "1.37.0"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        .package(url: "https://github.com/weichsel/ZIPFoundation.git", from: "0.9.20"),
    ],
    targets: [
        // The one MaxSim / binary-code kernel, in C: compiled into the
        // Postgres extension by sql/Makefile and linked into Swift here.
        .target(name: "ColPaliKernels"),

        // The types every module shares: MultiVector, PromptFormat, ImageType.
        .target(name: "ColPaliCore"),

        // System libraries, found through pkg-config.
        .systemLibrary(name: "COpenBLAS", pkgConfig: "openblas",
                       providers: [.apt(["libopenblas-dev"])]),
        .systemLibrary(name: "CPoppler", pkgConfig: "poppler-glib",
                       providers: [.apt(["libpoppler-glib-dev"])]),

        // PNG and JPEG through libpng and libjpeg: C, because both report
        // errors with setjmp/longjmp.
        .target(name: "ColPaliImageCodecs",
                linkerSettings: [.linkedLibrary("png16"), .linkedLibrary("jpeg")]),

        // The model's own numeric kernels: bf16 GEMM (AVX-512 BF16) and the
        // vectorised elementwise operations.
        .target(name: "ColPaliMath", dependencies: ["ColPaliKernels"]),

        // The native ColPali model: checkpoints (safetensors, LoRA), Hub
        // cache and downloads, tokenizer, image processor, prompts, network.
        .target(
            name: "ColPaliModel",
            dependencies: [
                "ColPaliCore", "ColPaliMath", "ColPaliKernels", "COpenBLAS", "ColPaliImageCodecs",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),

        // Postgres: connection settings, the private local cluster,
        // migrations, and the typed encoding of multi-vectors.
        .target(
            name: "ColPaliStorage",
            dependencies: [
                "ColPaliCore", "ColPaliKernels",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Crypto", package: "swift-crypto"),
            ]
        ),

        // The Swift client: search (prefilter + exact rerank), similarity maps,
        // document listing and deletion, enqueueing.
        .target(
            name: "ColPaliSearch",
            dependencies: [
                "ColPaliModel", "ColPaliStorage", "ColPaliKernels",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),

        // Ingest: PDF rendering, the pipeline from file to stored pages, the
        // queue worker.
        .target(
            name: "ColPaliIngest",
            dependencies: [
                "ColPaliModel", "ColPaliStorage", "CPoppler",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                // .npz files of embeddings computed elsewhere are zip archives.
                .product(name: "ZIPFoundation", package: "ZIPFoundation"),
            ]
        ),

        // `colpali serve`: the HTTP API, the search page, metrics, access
        // control. Above search and ingest, below the executables.
        .target(
            name: "ColPaliServer",
            dependencies: [
                "ColPaliCore", "ColPaliModel", "ColPaliStorage", "ColPaliSearch", "ColPaliIngest",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            resources: [.copy("Resources")]
        ),

        // What both command lines share: database and model options, one-line errors.
        .target(
            name: "ColPaliCLISupport",
            dependencies: [
                "ColPaliStorage", "ColPaliModel", "ColPaliSearch",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),

        // The `colpali` command line.
        .executableTarget(
            name: "ColPaliCLI",
            dependencies: [
                "ColPaliCLISupport", "ColPaliStorage", "ColPaliModel", "ColPaliSearch", "ColPaliIngest", "ColPaliServer",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),

        // The `colpali-ingest` daemon and one-shot ingest.
        .executableTarget(
            name: "ColPaliIngestCLI",
            dependencies: [
                "ColPaliCLISupport", "ColPaliIngest", "ColPaliStorage", "ColPaliModel",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),

        // The measuring side of the benchmark scripts in bench/.
        .executableTarget(
            name: "colpali-bench",
            dependencies: [
                "ColPaliModel", "ColPaliKernels", "ColPaliStorage", "ColPaliIngest", "ColPaliSearch",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "bench/swift"
        ),

        // Shared test helpers: a real Postgres for integration tests, fixture paths.
        .target(
            name: "TestSupport",
            dependencies: ["ColPaliStorage", .product(name: "PostgresNIO", package: "postgres-nio")],
            path: "Tests/TestSupport"
        ),
        .testTarget(name: "ColPaliKernelsTests", dependencies: ["ColPaliKernels", "TestSupport"]),
        .testTarget(name: "ColPaliMathTests", dependencies: ["ColPaliMath"]),
        .testTarget(
            name: "ColPaliModelTests",
            dependencies: [
                "ColPaliModel", "TestSupport",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ]
        ),
        .testTarget(name: "ColPaliStorageTests", dependencies: ["ColPaliStorage", "TestSupport"]),
        .testTarget(name: "ColPaliCLITests", dependencies: ["ColPaliCLI", "ColPaliModel", "ColPaliStorage", "TestSupport",
                                                       .product(name: "PostgresNIO", package: "postgres-nio")]),
        .testTarget(
            name: "ColPaliSearchTests",
            dependencies: ["ColPaliSearch", "ColPaliStorage", "ColPaliModel", "ColPaliKernels", "TestSupport",
                           .product(name: "PostgresNIO", package: "postgres-nio")]
        ),
        .testTarget(
            name: "ColPaliServerTests",
            dependencies: ["ColPaliServer", "ColPaliSearch", "ColPaliStorage", "ColPaliModel", "TestSupport",
                           .product(name: "Crypto", package: "swift-crypto"),
                           .product(name: "HummingbirdTesting", package: "hummingbird"),
                           .product(name: "PostgresNIO", package: "postgres-nio")]
        ),
        .testTarget(
            name: "ColPaliIngestTests",
            dependencies: ["ColPaliIngest", "ColPaliIngestCLI", "ColPaliStorage", "ColPaliModel", "TestSupport",
                           .product(name: "PostgresNIO", package: "postgres-nio"),
                           .product(name: "ZIPFoundation", package: "ZIPFoundation")]
        ),
    ]
)
