// swift-tools-version: 6.0
// The curation benchmark (Tools/bench sort), a package of its own: run on purpose, never by
// `swift test`. It compiles the project's store, media, curation and gallery sources through
// symlinks (the gallery's models view brings plot, selection, training and through it the merge
// along), with the same flags as the main Package.swift.
import PackageDescription

let fastMath: [SwiftSetting] = [.unsafeFlags(["-target-cpu", "haswell"])]

let package = Package(
    name: "BenchSort",
    platforms: [.macOS(.v14)],
    dependencies: [
        .package(url: "https://github.com/groue/GRDB.swift", exact: "7.10.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", exact: "2.28.1"),
    ],
    targets: [
        .target(name: "CFFmpeg", linkerSettings: [.linkedLibrary("dl")]),
        .systemLibrary(name: "CPNG", pkgConfig: "libpng"),
        .systemLibrary(name: "CTurboJPEG", pkgConfig: "libturbojpeg"),
        .systemLibrary(name: "COpenBLAS", pkgConfig: "openblas"),
        .target(name: "FacetCore", swiftSettings: fastMath),
        .target(name: "FacetStore", dependencies: ["FacetCore", .product(name: "GRDB", package: "GRDB.swift")]),
        .target(name: "FacetMedia", dependencies: ["FacetCore", "CFFmpeg", "CPNG", "CTurboJPEG"], swiftSettings: fastMath),
        .target(name: "FacetCurate", dependencies: ["FacetCore", "FacetStore", "FacetMedia", "COpenBLAS"]),
        .target(name: "FacetTestSupport", dependencies: ["FacetCore", "FacetStore", "FacetMedia"]),
        // The gallery's models view needs the plot and checkpoint listing, and through them training.
        .target(name: "FacetNN", dependencies: ["FacetCore", "COpenBLAS"], swiftSettings: fastMath),
        .target(name: "CCPUFeatures"),
        .target(name: "FacetKernelsAVX512", swiftSettings: [.unsafeFlags(["-target-cpu", "skylake-avx512"])]),
        .target(name: "FacetVision", dependencies: ["FacetCore", "FacetNN", "COpenBLAS", "CCPUFeatures", "FacetKernelsAVX512"], swiftSettings: fastMath),
        .target(name: "FacetProjectMedia", dependencies: ["FacetCore", "FacetStore", "FacetMedia"]),
        .target(name: "FacetMerge", dependencies: ["FacetCore", "FacetStore", "FacetMedia", "FacetProjectMedia", "FacetVision"], swiftSettings: fastMath),
        .target(name: "FacetTrain", dependencies: ["FacetCore", "FacetNN", "FacetStore", "FacetMedia", "FacetVision", "FacetMerge"], swiftSettings: fastMath),
        .target(name: "FacetPlot", dependencies: ["FacetCore"]),
        .target(name: "FacetSelect", dependencies: ["FacetCore", "FacetStore", "FacetTrain", "FacetNN", "FacetMedia", "FacetPlot"]),
        .target(name: "FacetServe", dependencies: ["FacetCore", "FacetStore", "FacetMedia", "FacetProjectMedia", "FacetCurate", "FacetPlot", "FacetSelect", .product(name: "Hummingbird", package: "hummingbird")]),
        .executableTarget(name: "bench-sort", dependencies: ["FacetStore", "FacetCurate", "FacetTestSupport", "FacetServe", "COpenBLAS"]),
    ],
    swiftLanguageModes: [.v6]
)
