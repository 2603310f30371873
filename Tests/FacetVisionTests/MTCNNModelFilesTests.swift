/// The model-file plumbing under MTCNN: file hashes, the safetensors reader, and where model files are looked for.
import FacetCore
@testable import FacetVision
import Foundation
import XCTest

final class MTCNNModelFilesTests: XCTestCase {
    // MARK: SHA-256

    /// FIPS 180-4 test vectors, including the multi-block and million-byte ones.
    func testSHA256KnownVectors() {
        XCTAssertEqual(ModelFiles.sha256(of: []), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        XCTAssertEqual(ModelFiles.sha256(of: Array("abc".utf8)), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        XCTAssertEqual(ModelFiles.sha256(of: Array("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".utf8)),
                       "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
        XCTAssertEqual(ModelFiles.sha256(of: [UInt8](repeating: UInt8(ascii: "a"), count: 1_000_000)),
                       "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
    }

    /// A file hashed in read blocks (4 MiB) hashes like the same bytes in one piece (lengths at the
    /// padding and block boundaries, and past one read block), and a missing file is an error naming it.
    func testSHA256OfFileStreamsAcrossBlocks() throws {
        for length in [55, 56, 64, 1000, (4 << 20) + 3] {
            let bytes = (0..<length).map { UInt8(truncatingIfNeeded: $0 &* 2_654_435_761 >> 13) }
            let path = temporaryPath("sha-\(length).bin")
            try Data(bytes).write(to: URL(fileURLWithPath: path))
            defer { try? FileManager.default.removeItem(atPath: path) }
            XCTAssertEqual(try ModelFiles.sha256(ofFile: path), ModelFiles.sha256(of: bytes), "length \(length)")
        }
        XCTAssertThrowsError(try ModelFiles.sha256(ofFile: "/nonexistent/model.bin")) { error in
            XCTAssertTrue("\(error)".contains("/nonexistent/model.bin"), "\(error)")
        }
    }

    /// The converted weights are the exact file Tools/fetch-models produces.
    func testFetchedWeightsHaveTheRecordedHash() throws {
        let path = try weightsOrSkip()
        XCTAssertEqual(try ModelFiles.sha256(ofFile: path), ModelFiles.mtcnnSHA256)
    }

    // MARK: safetensors

    func testSafeTensorsReadsTensorsAndMetadata() throws {
        let values: [Float] = [1, -2.5, 3, 0.125, 1e-3, 42]
        let file = try SafeTensorsFile(data: safetensors(values: values), path: "mem.safetensors")
        XCTAssertEqual(file.metadata["source"], "unit test")
        XCTAssertEqual(file.tensors["t"]?.shape, [2, 3])
        XCTAssertEqual(try file.floats("t"), values)
        XCTAssertEqual(try file.floats("t", shape: [2, 3]), values)
        XCTAssertThrowsError(try file.floats("t", shape: [3, 2]))
        XCTAssertThrowsError(try file.floats("missing")) { error in
            XCTAssertTrue("\(error)".contains("missing"), "\(error)")
        }
    }

    /// Every kind of damage is a FacetError naming the file, never a crash.
    func testSafeTensorsRejectsCorruptFiles() throws {
        let good = safetensors(values: [1, 2, 3, 4, 5, 6])
        let headerLength = Int(good.withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) })
        var hugeHeader = good
        hugeHeader.replaceSubrange(0..<8, with: withUnsafeBytes(of: UInt64(1 << 40).littleEndian) { Data($0) })
        var badJSON = good
        badJSON[8] = UInt8(ascii: "[")
        let cases: [(String, Data)] = [
            ("empty", Data()),
            ("three bytes", Data([1, 2, 3])),
            ("truncated data", good.prefix(good.count - 4)),
            ("truncated header", good.prefix(8 + headerLength / 2)),
            ("huge header length", hugeHeader),
            ("not JSON", badJSON),
            ("size does not match shape", safetensors(values: [1, 2, 3, 4, 5, 6], shape: [2, 2])),
            ("offsets past the end", safetensors(values: [1, 2, 3, 4, 5, 6], offsets: [0, 48])),
            ("unknown dtype", safetensors(values: [1, 2, 3, 4, 5, 6], dtype: "F33")),
        ]
        for (name, data) in cases {
            XCTAssertThrowsError(try SafeTensorsFile(data: data, path: "/models/\(name).safetensors"), name) { error in
                XCTAssertTrue(error is FacetError, "\(name): \(error)")
                XCTAssertTrue("\(error)".contains("/models/\(name).safetensors"), "\(name): \(error)")
            }
        }
    }

    /// The detector refuses a truncated weights file with a clear error.
    func testDetectorRejectsTruncatedWeights() throws {
        let path = try weightsOrSkip()
        let data = try Data(contentsOf: URL(fileURLWithPath: path))
        let truncated = temporaryPath("truncated-mtcnn.safetensors")
        try data.prefix(data.count / 2).write(to: URL(fileURLWithPath: truncated))
        defer { try? FileManager.default.removeItem(atPath: truncated) }
        XCTAssertThrowsError(try MTCNNDetector(weightsPath: truncated)) { error in
            XCTAssertTrue("\(error)".contains(truncated) && "\(error)".contains("Tools/fetch-models"), "\(error)")
        }
        XCTAssertThrowsError(try MTCNNDetector(weightsPath: "/nonexistent/mtcnn.safetensors"))
    }

    // MARK: Where model files are found

    func testMTCNNWeightsFollowFACET_MODELS() throws {
        let dir = temporaryPath("models-\(UUID().uuidString)")
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try Data([0]).write(to: URL(fileURLWithPath: dir + "/mtcnn.safetensors"))
        setenv("FACET_MODELS", dir, 1)
        defer { unsetenv("FACET_MODELS") }
        XCTAssertEqual(try ModelFiles.mtcnnWeights(), dir + "/mtcnn.safetensors")
    }

    /// Without FACET_MODELS: `Models/` of a folder above the executable, else `./Models`, else an error that names the
    /// places looked in and what to run. Each case pinned with a temporary folder tree.
    func testMTCNNWeightsFoundNextToTheRepositoryOrExplained() throws {
        let root = temporaryPath("lookup-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(atPath: root) }
        let fm = FileManager.default
        for dir in ["repo/Models", "repo/.build/release", "bare/bin", "cwd/Models", "empty"] {
            try fm.createDirectory(atPath: root + "/" + dir, withIntermediateDirectories: true)
        }
        try Data([0]).write(to: URL(fileURLWithPath: root + "/repo/Models/mtcnn.safetensors"))
        try Data([0]).write(to: URL(fileURLWithPath: root + "/cwd/Models/mtcnn.safetensors"))
        // Walking up from the executable finds the repository's Models/, before the current directory's.
        XCTAssertEqual(try ModelFiles.mtcnnWeights(modelsVariable: nil, executable: root + "/repo/.build/release/facet",
                                                   currentDirectory: root + "/cwd"), root + "/repo/Models/mtcnn.safetensors")
        // FACET_MODELS comes first; an empty or wrong one falls through to the other places.
        XCTAssertEqual(try ModelFiles.mtcnnWeights(modelsVariable: root + "/cwd/Models", executable: root + "/repo/.build/release/facet",
                                                   currentDirectory: root + "/empty"), root + "/cwd/Models/mtcnn.safetensors")
        XCTAssertEqual(try ModelFiles.mtcnnWeights(modelsVariable: root + "/empty", executable: root + "/repo/.build/release/facet",
                                                   currentDirectory: root + "/empty"), root + "/repo/Models/mtcnn.safetensors")
        // No Models/ above the executable: the current directory's.
        XCTAssertEqual(try ModelFiles.mtcnnWeights(modelsVariable: nil, executable: root + "/bare/bin/facet", currentDirectory: root + "/cwd"),
                       root + "/cwd/Models/mtcnn.safetensors")
        // Nowhere: the error names the places and the fix.
        XCTAssertThrowsError(try ModelFiles.mtcnnWeights(modelsVariable: root + "/empty", executable: root + "/bare/bin/facet",
                                                         currentDirectory: root + "/empty")) { error in
            let text = "\(error)"
            XCTAssertTrue(text.contains("run Tools/fetch-models"), text)
            XCTAssertTrue(text.contains(root + "/empty/mtcnn.safetensors"), text)
            XCTAssertTrue(text.contains(root + "/empty/Models/mtcnn.safetensors"), text)
        }
    }

    func testShapePredictorLookup() throws {
        setenv("FACET_SHAPE_PREDICTOR", "/nonexistent/predictor.dat", 1)
        XCTAssertThrowsError(try ModelFiles.shapePredictor()) { error in
            XCTAssertTrue("\(error)".contains("apt-get install libdlib-data"), "\(error)")
        }
        let path = temporaryPath("predictor-\(UUID().uuidString).dat")
        try Data([1]).write(to: URL(fileURLWithPath: path))
        defer { try? FileManager.default.removeItem(atPath: path) }
        setenv("FACET_SHAPE_PREDICTOR", path, 1)
        XCTAssertEqual(try ModelFiles.shapePredictor(), path)
        unsetenv("FACET_SHAPE_PREDICTOR")
        if FileManager.default.fileExists(atPath: ModelFiles.defaultShapePredictorPath) {
            XCTAssertEqual(try ModelFiles.shapePredictor(), ModelFiles.defaultShapePredictorPath)
        } else {
            XCTAssertThrowsError(try ModelFiles.shapePredictor()) { error in
                XCTAssertTrue("\(error)".contains("apt-get install libdlib-data"), "\(error)")
            }
        }
    }

    // MARK: Helpers

    private func weightsOrSkip() throws -> String {
        do { return try ModelFiles.mtcnnWeights() } catch {
            throw modelMissing("MTCNN weights absent (\(error)); run Tools/fetch-models to enable this test")
        }
    }

    private func temporaryPath(_ name: String) -> String {
        (NSTemporaryDirectory() as NSString).appendingPathComponent("facet-mtcnn-\(ProcessInfo.processInfo.processIdentifier)-\(name)")
    }

    /// A one-tensor safetensors file, with the header fields overridable to make it inconsistent.
    private func safetensors(values: [Float], shape: [Int] = [2, 3], offsets: [Int]? = nil, dtype: String = "F32") -> Data {
        let offsets = offsets ?? [0, values.count * 4]
        let header = "{\"t\":{\"dtype\":\"\(dtype)\",\"shape\":\(shape),\"data_offsets\":\(offsets)},\"__metadata__\":{\"source\":\"unit test\"}}"
        var data = withUnsafeBytes(of: UInt64(header.utf8.count).littleEndian) { Data($0) }
        data.append(contentsOf: Array(header.utf8))
        for v in values { withUnsafeBytes(of: v.bitPattern.littleEndian) { data.append(contentsOf: $0) } }
        return data
    }
}
