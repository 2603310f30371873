// swift-tools-version: 6.0
// The FacetMedia benchmark, a package of its own so timing code never ships in the product.
// Sources/FacetCore, FacetMedia and the C module maps are links to the main package's folders, so
// this builds exactly the code Facet uses, with the same flags (the main package exports no library
// product to depend on).
import PackageDescription

let fastMath: [SwiftSetting] = [.unsafeFlags(["-target-cpu", "haswell"])]

let package = Package(
    name: "BenchMedia",
    targets: [
        .target(name: "CFFmpeg", linkerSettings: [.linkedLibrary("dl")]),
        .systemLibrary(name: "CPNG", pkgConfig: "libpng"),
        .systemLibrary(name: "CTurboJPEG", pkgConfig: "libturbojpeg"),
        .target(name: "FacetCore", swiftSettings: fastMath),
        .target(name: "FacetMedia", dependencies: ["FacetCore", "CFFmpeg", "CPNG", "CTurboJPEG"], swiftSettings: fastMath),
        .executableTarget(name: "bench-media", dependencies: ["FacetCore", "FacetMedia"]),
    ],
    swiftLanguageModes: [.v6]
)
