/// The generated Winograd kernels are what their generator writes today (like the schema's staleness test).
import XCTest
import Foundation

final class GeneratedKernelsTests: XCTestCase {
    static let repo = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// Runs `Tools/gen-winograd-kernels --stdout` and compares its output with `Sources/FacetNN/WinogradKernels.swift`
    /// byte for byte: a kernel edited by hand, or a generator changed without regenerating, fails here.
    func testWinogradKernelsMatchTheirGenerator() throws {
        let generator = Self.repo.appendingPathComponent("Tools/gen-winograd-kernels").path
        let file = Self.repo.appendingPathComponent("Sources/FacetNN/WinogradKernels.swift").path
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["python3", generator, "--stdout"]
        let out = Pipe(), err = Pipe()
        p.standardOutput = out
        p.standardError = err
        try p.run()
        let generated = out.fileHandleForReading.readDataToEndOfFile()
        let problems = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        XCTAssertEqual(p.terminationStatus, 0, "python3 \(generator) failed: \(problems)")
        let stored = try XCTUnwrap(FileManager.default.contents(atPath: file))
        XCTAssertGreaterThan(generated.count, 10_000, "the generator printed too little")
        XCTAssertEqual(generated, stored, "WinogradKernels.swift differs from its generator: run Tools/gen-winograd-kernels")
    }
}
