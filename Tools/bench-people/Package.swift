// swift-tools-version: 6.0
// Identity at 100,000 faces (Tools/bench people), a package of its own: run on purpose, never by
// `swift test`. Sources/Facet* and the C module maps are links to the main package's folders, so it
// builds exactly the store and curation code Facet ships, with the same flags; it needs no network
// stack (unlike Tools/bench-sort, which brings the gallery and Hummingbird).
import PackageDescription

let fastMath: [SwiftSetting] = [.unsafeFlags(["-target-cpu", "haswell"])]

let package = Package(
    name: "BenchPeople",
    platforms: [.macOS(.v14)],
    dependencies: [
        .package(url: "https://github.com/groue/GRDB.swift", exact: "7.10.0"),
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
        .executableTarget(name: "bench-people", dependencies: ["FacetCore", "FacetStore", "FacetCurate", "FacetTestSupport", "COpenBLAS",
                                                              .product(name: "GRDB", package: "GRDB.swift")]),
    ],
    swiftLanguageModes: [.v6]
)
