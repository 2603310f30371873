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
    ],
    targets: [
        // System libraries (Debian packages named in the providers).
        .systemLibrary(name: "CFFmpeg", pkgConfig: "libavformat",
                       providers: [.apt(["libavformat-dev", "libavcodec-dev", "libswscale-dev", "libavutil-dev"])]),
        .systemLibrary(name: "CPNG", pkgConfig: "libpng", providers: [.apt(["libpng-dev"])]),
        .systemLibrary(name: "CTurboJPEG", pkgConfig: "libturbojpeg", providers: [.apt(["libturbojpeg0-dev"])]),
        .systemLibrary(name: "COpenBLAS", pkgConfig: "openblas", providers: [.apt(["libopenblas-dev"])]),

        // Value types shared by every module.
        .target(name: "FacetCore", swiftSettings: fastMath),
        // The project file and its query layer: the only module that knows SQL.
        .target(name: "FacetStore", dependencies: ["FacetCore", "COpenBLAS", .product(name: "GRDB", package: "GRDB.swift")]),
        // Video decode/encode, PNG, JPEG.
        .target(name: "FacetMedia", dependencies: ["FacetCore", "CFFmpeg", "CPNG", "CTurboJPEG"], swiftSettings: fastMath),
        // The neural-network engine.
        .target(name: "FacetNN", dependencies: ["FacetCore", "COpenBLAS"], swiftSettings: fastMath),
        // Run-time CPU feature checks (cpuid), and the kernels built for AVX-512, called only where it runs.
        .target(name: "CCPUFeatures"),
        .target(name: "FacetKernelsAVX512", swiftSettings: [.unsafeFlags(["-target-cpu", "skylake-avx512"])]),
        // Detection, landmarks, alignment, signatures.
        .target(name: "FacetVision", dependencies: ["FacetCore", "FacetNN", "COpenBLAS", "CCPUFeatures", "FacetKernelsAVX512"], swiftSettings: fastMath),
        // The import and extraction engines: media and faces into the project, through FacetStore.
        .target(name: "FacetExtract", dependencies: ["FacetCore", "FacetStore", "FacetMedia", "FacetVision"]),
        // Curation that needs images: export of the curated set, sample faces from real frames.
        .target(name: "FacetCurate", dependencies: ["FacetCore", "FacetStore", "FacetMedia", "COpenBLAS"]),
        // The gallery in the browser (Hummingbird 2), live over the project file.
        .target(name: "FacetServe", dependencies: ["FacetCore", "FacetStore", "FacetMedia", "FacetCurate", "FacetPlot", "FacetSelect", .product(name: "Hummingbird", package: "hummingbird")]),
        // The merge: swapped faces back into the destination video, written as H.264.
        .target(name: "FacetMerge", dependencies: ["FacetCore", "FacetStore", "FacetMedia", "FacetVision", "FacetExtract", "FacetTrain"], swiftSettings: fastMath),
        // Training: models, samples and augmentation, the loop, checkpoints through FacetStore.
        .target(name: "FacetTrain", dependencies: ["FacetCore", "FacetNN", "FacetStore", "FacetMedia", "FacetVision"], swiftSettings: fastMath),
        // Plots: a small raster plotter with a bitmap font, SVG, and the project's loss curves.
        .target(name: "FacetPlot", dependencies: ["FacetCore", "FacetMedia", "FacetStore"]),
        // Model selection: checkpoint listing, convergence, compare, prune, export.
        .target(name: "FacetSelect", dependencies: ["FacetCore", "FacetStore", "FacetTrain", "FacetNN", "FacetMedia", "FacetPlot"]),
        // The command-line tool: parses and calls.
        .executableTarget(name: "facet", dependencies: [
            "FacetCore", "FacetStore", "FacetMedia", "FacetVision", "FacetNN", "FacetExtract", "FacetTrain", "FacetMerge", "FacetCurate", "FacetServe", "FacetPlot", "FacetSelect",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),

        .testTarget(name: "FacetCoreTests", dependencies: ["FacetCore"]),
        .testTarget(name: "FacetStoreTests", dependencies: ["FacetStore", .product(name: "GRDB", package: "GRDB.swift")]),
        .testTarget(name: "FacetMediaTests", dependencies: ["FacetMedia"]),
        .testTarget(name: "FacetNNTests", dependencies: ["FacetNN"]),
        .testTarget(name: "FacetVisionTests", dependencies: ["FacetVision", "FacetMedia"]),
        .testTarget(name: "FacetExtractTests", dependencies: ["FacetExtract", "FacetStore", "FacetMedia", .product(name: "GRDB", package: "GRDB.swift")]),
        .testTarget(name: "FacetCurateTests", dependencies: ["FacetCurate", "FacetStore", "FacetMedia", "FacetCore"]),
        .testTarget(name: "FacetServeTests", dependencies: ["FacetServe", "FacetCurate", "FacetStore", "FacetMedia", "FacetCore", "FacetTrain"]),
        .testTarget(name: "FacetTrainTests", dependencies: ["FacetTrain", "FacetStore", "FacetNN", "FacetMedia", "FacetCore", "FacetExtract", .product(name: "GRDB", package: "GRDB.swift")]),
        .testTarget(name: "FacetMergeTests", dependencies: ["FacetMerge", "FacetStore", "FacetMedia", "FacetExtract", "FacetTrain", "FacetVision", "FacetCore"]),
        .testTarget(name: "FacetPlotTests", dependencies: ["FacetPlot", "FacetMedia", "FacetCore"]),
        .testTarget(name: "FacetSelectTests", dependencies: ["FacetSelect", "FacetPlot", "FacetTrain", "FacetStore", "FacetMedia", "FacetVision", "FacetCore"]),
        .testTarget(name: "FacetCLITests", dependencies: ["FacetStore"]),
    ],
    swiftLanguageModes: [.v6]
)
