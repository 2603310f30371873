// swift-tools-version: 6.0
// The MTCNN detector's and the face recognizer's benchmarks, a package of their own (run on purpose by Tools/bench detect, never
// by `swift test`). Sources/Facet* and the C module maps are links to the main package's folders,
// so it builds exactly the code Facet ships, with the same flags.
import PackageDescription

let fastMath: [SwiftSetting] = [.unsafeFlags(["-target-cpu", "haswell"])]

let package = Package(
    name: "BenchDetect",
    targets: [
        .systemLibrary(name: "COpenBLAS", pkgConfig: "openblas"),
        .target(name: "CFFmpeg", linkerSettings: [.linkedLibrary("dl")]),
        .systemLibrary(name: "CPNG", pkgConfig: "libpng"),
        .systemLibrary(name: "CTurboJPEG", pkgConfig: "libturbojpeg"),
        .target(name: "FacetCore", swiftSettings: fastMath),
        .target(name: "FacetMedia", dependencies: ["FacetCore", "CFFmpeg", "CPNG", "CTurboJPEG"], swiftSettings: fastMath),
        .target(name: "CCPUFeatures"),
        .target(name: "FacetKernelsAVX512", swiftSettings: [.unsafeFlags(["-target-cpu", "skylake-avx512"])]),
        .target(name: "FacetNN", dependencies: ["FacetCore", "COpenBLAS"], swiftSettings: fastMath),
        .target(name: "FacetVision", dependencies: ["FacetCore", "FacetNN", "COpenBLAS", "CCPUFeatures", "FacetKernelsAVX512"], swiftSettings: fastMath),
        .executableTarget(name: "bench-detect", dependencies: ["FacetCore", "FacetMedia", "FacetVision"], swiftSettings: fastMath),
        // Face-recognition descriptors/s (Tools/bench identity), sharing this package's build of FacetVision.
        .executableTarget(name: "bench-identity", dependencies: ["FacetCore", "FacetMedia", "FacetVision"], swiftSettings: fastMath),
    ],
    swiftLanguageModes: [.v6]
)
