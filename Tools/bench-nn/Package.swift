// swift-tools-version: 6.0
// FacetNN's benchmark, a package of its own (run on purpose, never by `swift test`). It compiles
// the project's FacetCore and FacetNN sources through symlinks, with the same flags as Package.swift.
import PackageDescription

let fastMath: [SwiftSetting] = [.unsafeFlags(["-target-cpu", "haswell"])]

let package = Package(
    name: "BenchNN",
    targets: [
        .systemLibrary(name: "COpenBLAS", pkgConfig: "openblas"),
        .target(name: "FacetCore", swiftSettings: fastMath),
        .target(name: "FacetNN", dependencies: ["FacetCore", "COpenBLAS"], swiftSettings: fastMath),
        .executableTarget(name: "bench-nn", dependencies: ["FacetNN"], swiftSettings: fastMath),
    ],
    swiftLanguageModes: [.v6]
)
