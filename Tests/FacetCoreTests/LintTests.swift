/// The style ratchet over Sources/ (`Tools/lint --check`): no module gains public declarations without a `///` doc
/// comment or lines over 120 columns beyond what `Tools/lint-baseline` still allows it.
import XCTest
import Foundation

final class LintTests: XCTestCase {
    static let repo = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    /// `Tools/lint --check` exits 0; its complaint (which module, how many findings) is the failure message.
    func testNoModuleHasMoreLintFindingsThanItsBaseline() throws {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["python3", Self.repo.appendingPathComponent("Tools/lint").path, "--check"]
        let errors = Pipe()
        p.standardError = errors
        try p.run()
        let message = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        XCTAssertEqual(p.terminationStatus, 0, message)
    }

    /// The checker finds what it is for: a public declaration without a doc comment and a long line, in a file of its
    /// own (so a checker that finds nothing cannot pass the test above by accident).
    func testTheCheckerFindsAnUndocumentedDeclarationAndALongLine() throws {
        let dir = NSTemporaryDirectory() + "facet-lint-\(UUID().uuidString)"
        let module = dir + "/Sources/FacetLintProbe"
        try FileManager.default.createDirectory(atPath: module, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try FileManager.default.createDirectory(atPath: dir + "/Tools", withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: Self.repo.appendingPathComponent("Tools/lint").path, toPath: dir + "/Tools/lint")
        let source = """
            /// A probe.
            public struct Documented {}
            public func undocumented() {}
            /// Long: \(String(repeating: "x", count: 120))
            @inlinable
            public var documentedBelowAnAttribute: Int { 1 }

            """
        try source.write(toFile: module + "/Probe.swift", atomically: true, encoding: .utf8)
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["python3", dir + "/Tools/lint"]
        let out = Pipe()
        p.standardOutput = out
        p.standardError = Pipe()
        try p.run()
        let lines = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            .split(separator: "\n").map(String.init)
        p.waitUntilExit()
        XCTAssertEqual(lines.map { $0.split(separator: ":").prefix(2).joined(separator: ":") },
                       ["Sources/FacetLintProbe/Probe.swift:3", "Sources/FacetLintProbe/Probe.swift:4"], "\(lines)")
        XCTAssertTrue(lines.first?.contains("undocumented()") == true, "\(lines)")
        XCTAssertTrue(lines.last?.contains("columns") == true, "\(lines)")
    }
}
