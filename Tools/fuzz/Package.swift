// swift-tools-version: 6.0
// libFuzzer targets for the parsers Facet owns (Tools/fuzz/run builds and runs them; never built
// by `swift test`). Sources/Facet* and the C module maps are links to the main package's folders,
// so the fuzzers exercise exactly the code Facet ships. The project's modules and the targets are
// compiled with coverage instrumentation and AddressSanitizer (-sanitize=fuzzer,address); GRDB and
// the system libraries are not instrumented.
import Foundation
import PackageDescription

let sanitize: [SwiftSetting] = [.unsafeFlags(["-sanitize=fuzzer,address", "-enable-testing"])]
let fuzzer: [SwiftSetting] = [.unsafeFlags(["-sanitize=fuzzer,address", "-parse-as-library"])]
let link: [LinkerSetting] = [.unsafeFlags(["-sanitize=fuzzer,address"])]

// FacetVision's run-time-dispatched AVX-512 kernels, when the main package has them.
let here = URL(fileURLWithPath: #filePath).deletingLastPathComponent().path
let hasKernels = FileManager.default.fileExists(atPath: here + "/../../Sources/FacetKernelsAVX512")
    && FileManager.default.fileExists(atPath: here + "/../../Sources/CCPUFeatures")
let kernelTargets: [Target] = hasKernels ? [
    .target(name: "CCPUFeatures"),
    .target(name: "FacetKernelsAVX512", swiftSettings: [.unsafeFlags(["-target-cpu", "skylake-avx512", "-sanitize=fuzzer,address"])]),
] : []
let kernelDeps: [Target.Dependency] = hasKernels ? ["CCPUFeatures", "FacetKernelsAVX512"] : []

let package = Package(
    name: "FacetFuzz",
    dependencies: [
        // The main package's checkout (Tools/fuzz/run resolves it first): no second download.
        .package(path: "../../.build/checkouts/GRDB.swift"),
    ],
    targets: kernelTargets + [
        .systemLibrary(name: "COpenBLAS", pkgConfig: "openblas"),
        .target(name: "CFFmpeg", linkerSettings: [.linkedLibrary("dl")]),
        .systemLibrary(name: "CPNG", pkgConfig: "libpng"),
        .systemLibrary(name: "CTurboJPEG", pkgConfig: "libturbojpeg"),
        .target(name: "FacetCore", swiftSettings: sanitize),
        .target(name: "FacetMedia", dependencies: ["FacetCore", "CFFmpeg", "CPNG", "CTurboJPEG"], swiftSettings: sanitize),
        .target(name: "FacetNN", dependencies: ["FacetCore", "COpenBLAS"], swiftSettings: sanitize),
        .target(name: "FacetVision", dependencies: ["FacetCore", "FacetNN", "COpenBLAS"] + kernelDeps, swiftSettings: sanitize),
        .target(name: "FacetStore", dependencies: ["FacetCore", .product(name: "GRDB", package: "GRDB.swift")], swiftSettings: sanitize),
        .executableTarget(name: "fuzz-safetensors", dependencies: ["FacetCore", "FacetVision"], swiftSettings: fuzzer, linkerSettings: link),
        .executableTarget(name: "fuzz-shape-predictor", dependencies: ["FacetCore", "FacetVision"], swiftSettings: fuzzer, linkerSettings: link),
        .executableTarget(name: "fuzz-face-recognizer", dependencies: ["FacetCore", "FacetVision"], swiftSettings: fuzzer, linkerSettings: link),
        .executableTarget(name: "fuzz-cnn-face-detector", dependencies: ["FacetCore", "FacetVision"], swiftSettings: fuzzer, linkerSettings: link),
        .executableTarget(name: "fuzz-image", dependencies: ["FacetCore", "FacetMedia"], swiftSettings: fuzzer, linkerSettings: link),
        .executableTarget(name: "fuzz-pickle", dependencies: ["FacetCore", "FacetMedia"], swiftSettings: fuzzer, linkerSettings: link),
        .executableTarget(name: "fuzz-faceswap-json", dependencies: ["FacetCore", "FacetMedia"], swiftSettings: fuzzer, linkerSettings: link),
        .executableTarget(name: "fuzz-frame-ranges", dependencies: ["FacetCore"], swiftSettings: fuzzer, linkerSettings: link),
        .executableTarget(name: "fuzz-where", dependencies: ["FacetCore", "FacetStore"], swiftSettings: fuzzer, linkerSettings: link),
    ],
    swiftLanguageModes: [.v6]
)
