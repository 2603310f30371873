/// `facet import-model --from dfl`: a DeepFaceLab Quick96 folder written by Tools/reference/dfl_model.py (DeepFaceLab's
/// writer: `pickle.dumps(dict, 4)` of TensorFlow-named float32 arrays per part, `data.dat` with the iteration) comes in
/// as a Facet quick96 checkpoint whose forward pass on real faces matches the script's numpy forward pass written
/// from DeepFaceLab's leras code (NCHW flatten and reshape, BGR); mismatches are named and nothing is written.
import XCTest
import FacetCore
import FacetNN
import FacetSelect
import FacetStore
import FacetVision
@testable import FacetTrain

final class DFLModelImportTests: XCTestCase {
    static let script = ONNXExportTests.repo + "/Tools/reference/dfl_model.py"
    var dir: String!

    override func setUpWithError() throws {
        dir = NSTemporaryDirectory() + "facet-dflmodel-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    }
    override func tearDownWithError() throws { if let dir { try? FileManager.default.removeItem(atPath: dir) } }

    func python(_ args: [String]) throws {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["python3", Self.script] + args
        let err = Pipe()
        p.standardError = err
        try p.run()
        let problems = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        guard p.terminationStatus == 0 else { throw FacetError("dfl_model.py \(args.first ?? "") failed: \(problems)") }
    }

    func floats(_ path: String) throws -> [Float] {
        let d = try Data(contentsOf: URL(fileURLWithPath: path))
        return d.withUnsafeBytes { raw in (0..<(d.count / 4)).map { Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: $0 * 4, as: UInt32.self))) } }
    }

    func testQuick96FolderImportsAndSwapsAsDeepFaceLabComputesIt() throws {
        let fixture = try SelectionTests.makeFixture()
        defer { try? FileManager.default.removeItem(atPath: (fixture as NSString).deletingLastPathComponent) }
        let p = try Project(path: fixture)
        let folder = dir + "/model"
        try python(["write", folder, "celeb", "7", "--iter", "41234"])

        let s = try DFLModelImport.importQuick96(folder: folder, into: p)
        XCTAssertEqual(s.model, "celeb")
        XCTAssertEqual(s.iteration, 41234)
        XCTAssertEqual(s.checkpoint.iteration, 41234)
        XCTAssertEqual(s.parameters, try Quick96(config: .quick96, seed: 0).parameterCount)
        XCTAssertEqual(try p.model(named: "celeb")?.architecture, "quick96")

        // Real dst faces, RGB into Facet, BGR into DeepFaceLab's forward pass.
        let model = try loadModel(project: p, checkpoint: "latest", model: "celeb")
        let x = try ONNXExportTests.faces(p, resolution: 96, faceType: nil)
        let bgr = Tensor(shape: x.shape)
        for q in 0..<(x.count / 3) { for c in 0..<3 { bgr[q * 3 + c] = x[q * 3 + 2 - c] } }
        try Data(bytes: bgr.data, count: bgr.count * 4).write(to: URL(fileURLWithPath: dir + "/in.f32"))
        try python(["forward", folder, "celeb", dir + "/in.f32", String(x.shape[0]), dir + "/out"])
        let src = model.network.predict(x, decoder: .src), dst = model.network.predict(x, decoder: .dst)
        let face = try floats(dir + "/out/src_face.f32"), mask = try floats(dir + "/out/src_mask.f32"), dstMask = try floats(dir + "/out/dst_mask.f32")
        XCTAssertEqual(face.count, src.image.count)
        var dFace: Float = 0
        let mine = src.image.values
        for q in 0..<(face.count / 3) { for c in 0..<3 { dFace = max(dFace, abs(face[q * 3 + 2 - c] - mine[q * 3 + c])) } }
        let dMask = zip(mask, src.mask.values).reduce(Float(0)) { max($0, abs($1.0 - $1.1)) }
        let dDst = zip(dstMask, dst.mask.values).reduce(Float(0)) { max($0, abs($1.0 - $1.1)) }
        print("DeepFaceLab's Quick96 forward (numpy) vs Facet after import: largest difference face \(dFace), mask \(dMask), dst mask \(dDst)")
        XCTAssertGreaterThan(mine.max()! - mine.min()!, 0.1, "a face, not a flat picture")
        XCTAssertLessThanOrEqual(max(dFace, dMask, dDst), 1e-4)
    }

    func testMismatchesAreNamedAndNothingIsWritten() throws {
        // Every check comes before the project is touched: an empty project will do.
        let p = try Project.create(at: dir + "/p.facet")
        let before = try p.models().count
        let small = ["--res", "96", "--e", "4", "--ae", "8", "--d", "4", "--m", "2"]
        let cases: [([String], String)] = [
            (["--drop", "encoder:down1/downs_0/conv1/weight:0"] + small, "celeb_Quick96_encoder.npy: has no 'down1/downs_0/conv1/weight:0' (Facet's encoder.down1.weight)"),
            (small, "celeb_Quick96_encoder.npy: 'down1/downs_0/conv1/weight:0' is [5, 5, 3, 4], Facet's Quick96 encoder.down1.weight is [5, 5, 3, 64]"),
        ]
        for (k, (args, expected)) in cases.enumerated() {
            let folder = dir + "/m\(k)"
            try python(["write", folder, "celeb", "1"] + args)
            XCTAssertThrowsError(try DFLModelImport.importQuick96(folder: folder, into: p)) { XCTAssertTrue("\($0)".contains(expected), "\($0)") }
        }
        // Another architecture's folder, and a folder with no model.
        let saehd = dir + "/saehd"
        try FileManager.default.createDirectory(atPath: saehd, withIntermediateDirectories: true)
        FileManager.default.createFile(atPath: saehd + "/x_SAEHD_data.dat", contents: Data([0x80, 0x04, 0x4e, 0x2e]))
        XCTAssertThrowsError(try DFLModelImport.importQuick96(folder: saehd, into: p)) { XCTAssertTrue("\($0)".contains("holds the DeepFaceLab model 'x_SAEHD', not a Quick96"), "\($0)") }
        XCTAssertThrowsError(try DFLModelImport.importQuick96(folder: dir, into: p)) { XCTAssertTrue("\($0)".contains("holds no DeepFaceLab model"), "\($0)") }
        XCTAssertEqual(try p.models().count, before, "no model written")
    }
}
