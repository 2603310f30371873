/// Shared helpers for FacetMedia tests: fixture paths, temporary folders, image statistics, tools.
import FacetCore
import Foundation
import XCTest

enum Fixtures {
    /// Tests/Fixtures, found from this source file so tests run from any working directory.
    static let root: String = {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Fixtures").path
    }()
    static func path(_ relative: String) -> String { root + "/" + relative }
    static func video(_ name: String) -> String { path("video/" + name) }
}

/// A fresh folder removed when the test ends.
func temporaryFolder(_ test: XCTestCase) throws -> String {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("facet-media-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    test.addTeardownBlock { try? FileManager.default.removeItem(at: url) }
    return url.path
}

/// FNV-1a 64 over the bytes: a stable fingerprint to compare against a hash computed from FFmpeg's output.
func fnv1a(_ bytes: [UInt8]) -> UInt64 {
    var h: UInt64 = 0xcbf2_9ce4_8422_2325
    for b in bytes { h = (h ^ UInt64(b)) &* 0x100_0000_01b3 }
    return h
}

/// Per-channel mean of an image.
func meanColour(_ image: Image) -> [Double] {
    var sums = [Int](repeating: 0, count: image.channels)
    for (i, v) in image.pixels.enumerated() { sums[i % image.channels] += Int(v) }
    let n = Double(image.width * image.height)
    return sums.map { Double($0) / n }
}

/// Runs a command-line tool found on PATH; nil when it is not installed.
@discardableResult
func runTool(_ name: String, _ arguments: [String]) throws -> (status: Int32, output: String)? {
    let paths = (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":")
    guard let dir = paths.first(where: { FileManager.default.isExecutableFile(atPath: "\($0)/\(name)") }) else { return nil }
    let (status, data) = try runCapturingOutput("\(dir)/\(name)", arguments)
    return (status, String(decoding: data, as: UTF8.self))
}

/// Runs `executable` with `arguments` (stderr discarded): exit status and standard output.
func runCapturingOutput(_ executable: String, _ arguments: [String]) throws -> (status: Int32, output: Data) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    let pipe = Pipe()
    process.standardOutput = pipe
    process.standardError = FileHandle.nullDevice
    try process.run()
    let data = pipe.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return (process.terminationStatus, data)
}

/// Asserts that `body` throws a FacetError whose single-line message contains every fragment.
func assertFacetError<T>(_ body: @autoclosure () throws -> T, contains fragments: [String],
                         file: StaticString = #filePath, line: UInt = #line) {
    do {
        _ = try body()
        XCTFail("expected an error containing \(fragments)", file: file, line: line)
    } catch let error as FacetError {
        XCTAssertFalse(error.message.contains("\n"), "message is not one line: \(error.message)", file: file, line: line)
        for fragment in fragments {
            XCTAssertTrue(error.message.contains(fragment), "'\(error.message)' lacks '\(fragment)'", file: file, line: line)
        }
    } catch {
        XCTFail("expected FacetError, got \(error)", file: file, line: line)
    }
}
