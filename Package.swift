// swift-tools-version: 6.0
// Facet: a face-swap workbench whose whole project lives in one SQLite file.
import PackageDescription

/// Hot-loop modules target Haswell (AVX2 + FMA): without FMA, SIMD `addProduct` becomes a slow
/// library call. Every machine this project runs on (x86-64 since 2013) has it.
let fastMath: [SwiftSetting] = [.unsafeFlags(["-target-cpu", "haswell"])]

let package = Package(
    name: "Facet",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "facet", targets: ["facet"]),
    ],
    dependencies: [
        .package(url: "https://github.com/groue/GRDB.swift", exact: "7.10.0"),
        .package(url: "https://github.com/apple/swift-argument-parser", exact: "1.8.2"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", exact: "2.28.1"),
        .package(url: "https://github.com/apple/swift-protobuf", exact: "1.39.0"),
    ],
    targets: [
        // System libraries (Debian packages named in the providers).
        // FFmpeg (Debian: libavformat-dev, libavcodec-dev, libswscale-dev, libavutil-dev), opened at first use
        // rather than linked: its ~120 shared libraries cost every process start about 40 ms (CFFmpeg.h).
        .target(name: "CFFmpeg", linkerSettings: [.linkedLibrary("dl")]),
        .systemLibrary(name: "CPNG", pkgConfig: "libpng", providers: [.apt(["libpng-dev"])]),
        .systemLibrary(name: "CTurboJPEG", pkgConfig: "libturbojpeg", providers: [.apt(["libturbojpeg0-dev"])]),
        .systemLibrary(name: "COpenBLAS", pkgConfig: "openblas", providers: [.apt(["libopenblas-dev"])]),

        // The module map (README, "Layout"): each module imports only modules listed above it.
        // Bottom row: values every module shares.
        .target(name: "FacetCore", swiftSettings: fastMath),
        // The project file and its query layer: the only module that knows SQL. It returns rows and matrices of
        // stored signatures; the algorithms over them live above it. No BLAS here.
        .target(name: "FacetStore", dependencies: ["FacetCore", .product(name: "GRDB", package: "GRDB.swift")],
                swiftSettings: fastMath),
        // Video decode/encode, PNG, JPEG. Knows no project.
        .target(name: "FacetMedia", dependencies: ["FacetCore", "CFFmpeg", "CPNG", "CTurboJPEG"], swiftSettings: fastMath),
        // The neural-network engine; `ConvPolicy` holds the convolutions' algorithm choices. Knows no project.
        .target(name: "FacetNN", dependencies: ["FacetCore", "COpenBLAS"], swiftSettings: fastMath),
        // Run-time CPU feature checks (cpuid), and the kernels built for AVX-512, called only where it runs.
        .target(name: "CCPUFeatures"),
        .target(name: "FacetKernelsAVX512", swiftSettings: [.unsafeFlags(["-target-cpu", "skylake-avx512"])]),
        // Detection, landmarks, alignment, signatures. Knows no project.
        .target(name: "FacetVision", dependencies: ["FacetCore", "FacetNN", "COpenBLAS", "CCPUFeatures", "FacetKernelsAVX512"],
                swiftSettings: fastMath),
        // Facet's networks as ONNX graphs (standard operators, opset 12) in the code swift-protobuf generated from
        // ONNX's onnx.proto (Tools/gen-onnx-proto): the swap graph for other tools and DeepFaceLive's DFM.
        .target(name: "FacetONNX", dependencies: ["FacetCore", "FacetNN", .product(name: "SwiftProtobuf", package: "swift-protobuf")]),
        // Plots: a small raster plotter with a bitmap font (Canvas, Chart), PNG-ready images and SVG, of numbers it is given.
        .target(name: "FacetPlot", dependencies: ["FacetCore"]),
        // Frames of a media stored in (or linked from) the project: where the store's bytes meet the decoders,
        // shared by extraction, the merge, the gallery and the demo.
        .target(name: "FacetProjectMedia", dependencies: ["FacetCore", "FacetStore", "FacetMedia"]),
        // Curation over the stored signatures (BLAS): hist chain, hist_dissim, best:N, similar, duplicates; export.
        .target(name: "FacetCurate", dependencies: ["FacetCore", "FacetStore", "FacetMedia", "COpenBLAS"]),
        // The import and extraction engines: media and faces into the project, through FacetStore.
        .target(name: "FacetExtract", dependencies: ["FacetCore", "FacetStore", "FacetMedia", "FacetProjectMedia", "FacetVision"]),
        // The merge: swapped faces back into the destination video, written as H.264, through any `FaceSwapper`
        // (it knows no model: neither FacetTrain nor FacetNN).
        .target(name: "FacetMerge", dependencies: ["FacetCore", "FacetStore", "FacetMedia", "FacetProjectMedia", "FacetVision"],
                swiftSettings: fastMath),
        // Training: models, samples and augmentation, the loop, checkpoints through FacetStore; `CheckpointSwapper`,
        // a checkpoint as the merge's `FaceSwapper` (the one reason it imports FacetMerge).
        .target(name: "FacetTrain", dependencies: ["FacetCore", "FacetNN", "FacetStore", "FacetMedia", "FacetVision", "FacetMerge"],
                swiftSettings: fastMath),
        // Model selection: checkpoint listing, loss curves and their plot, convergence, compare, prune, export (ONNX
        // and DFM through FacetONNX), and swap scores (held-out dst faces merged by a checkpoint, judged by identity,
        // landmarks and detail).
        .target(name: "FacetSelect", dependencies: ["FacetCore", "FacetStore", "FacetTrain", "FacetNN", "FacetMedia", "FacetPlot",
                                                    "FacetMerge", "FacetProjectMedia", "FacetVision", "FacetONNX"]),
        // Workflows that run several engines in a row for the CLI: the demo (import, extract, curate, train, merge,
        // side by side, loss plot), reporting events the CLI words.
        .target(name: "FacetWorkflow", dependencies: [
            "FacetCore", "FacetStore", "FacetMedia", "FacetProjectMedia", "FacetExtract", "FacetTrain", "FacetMerge", "FacetSelect",
        ]),
        // The gallery in the browser (Hummingbird 2), live over the project file.
        .target(name: "FacetServe", dependencies: [
            "FacetCore", "FacetStore", "FacetMedia", "FacetProjectMedia", "FacetCurate", "FacetPlot", "FacetSelect",
            .product(name: "Hummingbird", package: "hummingbird"),
        ]),
        // Test scaffolding shared by the test targets and the benchmarks (never linked into `facet`): stand-in
        // faces cut from real video frames; the merge fixtures (a project with the dst sample's real faces, test
        // swappers, seamless windows).
        .target(name: "FacetTestSupport", dependencies: [
            "FacetCore", "FacetStore", "FacetMedia", "FacetExtract", "FacetMerge", "FacetTrain", "FacetVision",
        ]),
        // `Tools/bench merge|compositor|seamless`: benchmarks over the test fixtures, an executable of this
        // package (not a package of its own) so it links the modules `swift build` already made instead of compiling
        // them again; never linked into `facet`, never run by `swift test`.
        .executableTarget(name: "facet-bench", dependencies: [
            "FacetCore", "FacetStore", "FacetMedia", "FacetProjectMedia", "FacetExtract", "FacetMerge", "FacetTrain",
            "FacetTestSupport", "FacetSelect", "FacetVision",
        ], path: "Tools/benchmarks"),
        // The command-line tool: parses and calls.
        .executableTarget(name: "facet", dependencies: [
            "FacetCore", "FacetStore", "FacetMedia", "FacetProjectMedia", "FacetVision", "FacetNN", "FacetExtract",
            "FacetTrain", "FacetMerge", "FacetCurate", "FacetServe", "FacetPlot", "FacetSelect", "FacetWorkflow",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),

        .testTarget(name: "FacetCoreTests", dependencies: ["FacetCore"]),
        .testTarget(name: "FacetStoreTests", dependencies: ["FacetStore", .product(name: "GRDB", package: "GRDB.swift")]),
        .testTarget(name: "FacetMediaTests", dependencies: ["FacetMedia"]),
        .testTarget(name: "FacetNNTests", dependencies: ["FacetNN"]),
        .testTarget(name: "FacetVisionTests", dependencies: ["FacetVision", "FacetMedia"]),
        .testTarget(name: "FacetExtractTests", dependencies: ["FacetExtract", "FacetProjectMedia", "FacetStore", "FacetMedia",
                                                              "FacetCurate", .product(name: "GRDB", package: "GRDB.swift")]),
        .testTarget(name: "FacetCurateTests", dependencies: ["FacetCurate", "FacetTestSupport", "FacetStore", "FacetMedia", "FacetCore"]),
        .testTarget(name: "FacetServeTests", dependencies: ["FacetServe", "FacetTestSupport", "FacetProjectMedia", "FacetCurate",
                                                            "FacetStore", "FacetMedia", "FacetCore", "FacetTrain", "FacetSelect",
                                                            "FacetMerge", "FacetVision"]),
        .testTarget(name: "FacetTrainTests", dependencies: ["FacetTrain", "FacetStore", "FacetNN", "FacetMedia", "FacetCore",
                                                            "FacetExtract", .product(name: "GRDB", package: "GRDB.swift")]),
        .testTarget(name: "FacetMergeTests", dependencies: ["FacetMerge", "FacetTestSupport", "FacetProjectMedia", "FacetStore", "FacetMedia",
                                                            "FacetExtract", "FacetTrain", "FacetVision", "FacetCore"]),
        .testTarget(name: "FacetPlotTests", dependencies: ["FacetPlot", "FacetMedia", "FacetCore"]),
        .testTarget(name: "FacetSelectTests", dependencies: ["FacetSelect", "FacetPlot", "FacetTrain", "FacetStore", "FacetMedia",
                                                             "FacetVision", "FacetCore", "FacetExtract", "FacetMerge", "FacetONNX",
                                                             "FacetNN", "FacetTestSupport"]),
        .testTarget(name: "FacetCLITests", dependencies: ["FacetCore", "FacetMedia", "FacetStore", "FacetTestSupport"]),
    ],
    swiftLanguageModes: [.v6]
)
