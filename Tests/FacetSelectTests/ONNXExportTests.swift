/// `facet export-model --format onnx|dfm` for every architecture Facet trains (tiny, Quick96, H128, SAEHD df and
/// liae), checked with onnxruntime (Tools/reference/onnx_run.py; an independent ONNX runtime, installed by
/// Tools/setup) on real faces of the sample videos: its outputs match Facet's own forward pass of the same
/// checkpoint within 1e-4, and the DFM
/// loads and runs the way DeepFaceLive's DFMModel feeds it (names, shapes, order of outputs, BGR).
import XCTest
import FacetCore
import FacetNN
import FacetONNX
import FacetSelect
import FacetVision
import FacetStore
@testable import FacetTrain

final class ONNXExportTests: XCTestCase {
    static let repo = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path
    /// H128's structure (encoder, dense, decoders with image and mask branches) at 64 px with narrow layers.
    static let h128 = H128Config(resolution: 64, encoderDims: 8, aeDims: 32, decoderDims: 32)

    /// The selection fixture (real faces, two `tiny` models) plus a DeepFaceLab-sized Quick96 and a narrow H128,
    /// trained a few iterations so no layer holds its initial values.
    nonisolated(unsafe) static var fixturePath: String?
    nonisolated(unsafe) static var fixtureError: Error?
    var dir: String!

    override class func setUp() {
        super.setUp()
        do {
            let path = try SelectionTests.makeFixture()
            let p = try Project(path: path)
            // The narrow H128 at DeepFaceLab's Adam 5e-5 still gives near-constant faces after a few steps: a
            // larger rate moves it off its initial values, so that the comparison is of real pictures.
            var h = TrainOptions(architecture: .h128, name: "h", batchSize: 2, seed: 3)
            h.h128 = h128
            h.optimizer = OptimizerOptions(kind: .adam, learningRate: 3e-3, lrDropout: 1, beta1: 0.5, beta2: 0.999)
            // An SAEHD df-t (its encoder's residual blocks and fifth downscale, the plain output convolution) at
            // DeepFaceLab's smallest widths, whole face, at DeepFaceLab's AdaBelief 5e-5 (at 1e-3, leras's AdaBelief
            // without bias correction takes steps of about 3.5 lr per weight at first and saturates the mask).
            var s = TrainOptions(architecture: .saehd, name: "s", batchSize: 2, seed: 4)
            s.saehd = SAEHDOptions(network: SAEHDConfig(resolution: 64, archi: "df-t", aeDims: 32, eDims: 16, dDims: 16,
                                                        dMaskDims: 16), faceType: .wholeFace)
            // SAEHD liae, whose swap reads inter_AB's code twice and whose DFM mask of the input face reads inter_B's
            // then inter_AB's: liae-ud (pixel norm, the -d output) on full faces and plain liae on heads.
            var l = TrainOptions(architecture: .saehd, name: "l", batchSize: 2, seed: 5)
            l.saehd = SAEHDOptions(network: SAEHDConfig(resolution: 64, archi: "liae-ud", aeDims: 32, eDims: 16, dDims: 16,
                                                        dMaskDims: 16))
            var m = TrainOptions(architecture: .saehd, name: "m", batchSize: 2, seed: 6)
            m.saehd = SAEHDOptions(network: SAEHDConfig(resolution: 64, archi: "liae", aeDims: 32, eDims: 16, dDims: 16,
                                                        dMaskDims: 16), faceType: .head)
            for (options, steps) in [(TrainOptions(architecture: .quick96, name: "q", batchSize: 2, seed: 2), 2), (h, 6),
                                     (s, 4), (l, 4), (m, 4)] {
                let trainer = try Trainer(project: p, options: options)
                while trainer.iteration < steps { trainer.step() }
                try trainer.saveCheckpoint()
            }
            try p.close()
            fixturePath = path
        } catch { fixtureError = error }
    }

    override class func tearDown() {
        if let p = fixturePath { try? FileManager.default.removeItem(atPath: (p as NSString).deletingLastPathComponent) }
        super.tearDown()
    }

    override func setUpWithError() throws {
        if let e = Self.fixtureError { throw e }
        dir = NSTemporaryDirectory() + "facet-onnx-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { if let dir { try? FileManager.default.removeItem(atPath: dir) } }

    /// Four real dst faces (two frames apart in the video) at `resolution`, NHWC RGB in [0, 1], as the merge feeds them.
    static func faces(_ p: Project, resolution r: Int, faceType: FaceType?) throws -> Tensor {
        let records = try p.faces(matching: FaceQuery(role: .dst))
        let picked = [0, 5, 10, 15].map { records[$0] }
        let x = Tensor(shape: [picked.count, r, r, 3])
        for (k, face) in picked.enumerated() {
            let image = try FaceSample.load(face, project: p, resolution: r, alignAs: faceType).image
            XCTAssertEqual(image.width, r)
            for i in 0..<(r * r * 3) { x[k * r * r * 3 + i] = Float(image.pixels[i]) / 255 }
        }
        return x
    }

    /// onnxruntime's outputs for `input`, by name, and the session's description of the model.
    func runtime(_ model: String, mode: String, _ input: Tensor) throws -> (outputs: [String: [Float]], info: [String: Any]) {
        let inputPath = dir + "/input.f32", out = dir + "/out-\(mode)"
        try Data(bytes: input.data, count: input.count * 4).write(to: URL(fileURLWithPath: inputPath))
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["python3", Self.repo + "/Tools/reference/onnx_run.py", "--model", model, "--mode", mode, "--input", inputPath,
                       "--shape", input.shape.map(String.init).joined(separator: ","), "--out", out]
        let stdout = Pipe(), stderr = Pipe()
        p.standardOutput = stdout
        p.standardError = stderr
        try p.run()
        let text = stdout.fileHandleForReading.readDataToEndOfFile()
        let problems = String(decoding: stderr.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        guard p.terminationStatus == 0 else {
            XCTFail("onnx_run.py failed (Tools/setup installs onnxruntime and onnx): \(problems)")
            throw FacetError("onnxruntime did not run \(model)")
        }
        let info = try XCTUnwrap(try JSONSerialization.jsonObject(with: text) as? [String: Any])
        var outputs: [String: [Float]] = [:]
        for o in try XCTUnwrap(info["outputs"] as? [[String: Any]]) {
            let name = try XCTUnwrap(o["name"] as? String)
            let data = try Data(contentsOf: URL(fileURLWithPath: out + "/" + name.replacingOccurrences(of: ":", with: "_") + ".f32"))
            outputs[name] = data.withUnsafeBytes { raw in (0..<(data.count / 4)).map { Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: $0 * 4, as: UInt32.self))) } }
        }
        return (outputs, info)
    }

    /// The largest absolute difference, after checking the sizes match and Facet's output is not flat (so that a
    /// comparison of two constant pictures cannot pass).
    /// `minRange`: plain liae's masks span only about 0.004 after its few steps at DeepFaceLab's rate (at 3e-4 they
    /// saturate instead); its mask layers are those liae-ud's checked masks have.
    func largestDifference(_ a: [Float], _ facet: Tensor, _ what: String, minRange: Float = 0.01) -> Float {
        XCTAssertEqual(a.count, facet.count, what)
        let v = facet.values
        XCTAssertGreaterThan(v.max()! - v.min()!, minRange, "\(what): Facet's output is flat")
        return zip(a, v).reduce(0) { max($0, abs($1.0 - $1.1)) }
    }

    /// [N, H, W, C] with its channels reversed (RGB <-> BGR).
    func reversedChannels(_ t: Tensor) -> Tensor {
        let c = t.shape[3], out = Tensor(shape: t.shape)
        for p in 0..<(t.count / c) { for k in 0..<c { out[p * c + k] = t[p * c + (c - 1 - k)] } }
        return out
    }

    func shape(_ entry: Any?) -> [String] { ((entry as? [String: Any])?["shape"] as? [Any] ?? []).map { "\($0)" } }

    func testEveryArchitectureMatchesFacetsForwardPassInOnnxruntime() throws {
        let p = try Project(path: Self.fixturePath!, mode: .readOnly)
        for (modelName, architecture, r) in [("a", "tiny", 64), ("q", "quick96", 96), ("h", "h128", 64),
                                                  ("s", "saehd", 64), ("l", "saehd", 64), ("m", "saehd", 64)] {
            let model = try loadModel(project: p, checkpoint: "latest", model: modelName)
            XCTAssertEqual(model.model.architecture, architecture)
            let x = try Self.faces(p, resolution: r, faceType: model.options.realignedFaceType)
            let src = model.network.predict(x, decoder: .src), dst = model.network.predict(x, decoder: .dst)

            // Facet's interface: RGB in, RGB out.
            let onnxPath = dir + "/\(modelName).onnx"
            let e = try exportSwapGraph(project: p, checkpoint: "latest", model: modelName, format: .onnx, to: onnxPath)
            XCTAssertEqual(e.input, "face")
            XCTAssertEqual(e.outputs, ["swapped_face", "swapped_mask"])
            let (o, info) = try runtime(onnxPath, mode: "onnx", x)
            XCTAssertEqual(info["opset"] as? [[AnyHashable]], [["", 12]])
            let inputs = try XCTUnwrap(info["inputs"] as? [Any]), outputs = try XCTUnwrap(info["outputs"] as? [Any])
            XCTAssertEqual(shape(inputs.first), ["N", "\(r)", "\(r)", "3"])
            XCTAssertEqual(outputs.map(shape), [["N", "\(r)", "\(r)", "3"], ["N", "\(r)", "\(r)", "1"]])
            let dFace = largestDifference(try XCTUnwrap(o["swapped_face"]), src.image, "\(architecture) swapped_face")
            let maskRange: Float = modelName == "m" ? 0.002 : 0.01
            let dMask = largestDifference(try XCTUnwrap(o["swapped_mask"]), src.mask, "\(architecture) swapped_mask",
                                          minRange: maskRange)
            print("\(architecture) \(modelName): onnxruntime vs Facet, largest difference face \(dFace), mask \(dMask); \(e.nodes) nodes, \(e.bytes) bytes")
            XCTAssertLessThanOrEqual(dFace, 1e-4, architecture)
            XCTAssertLessThanOrEqual(dMask, 1e-4, architecture)

            // DeepFaceLive's DFM, fed as its DFMModel feeds it: BGR in, the three outputs by position.
            let dfmPath = dir + "/\(modelName).dfm"
            let d = try exportSwapGraph(project: p, checkpoint: "latest", model: modelName, format: .dfm, to: dfmPath)
            XCTAssertEqual(d.input, "in_face:0")
            XCTAssertEqual(d.outputs, ["out_face_mask:0", "out_celeb_face:0", "out_celeb_face_mask:0"])
            let bgr = reversedChannels(x)
            let (f, dfmInfo) = try runtime(dfmPath, mode: "dfm", bgr)
            let dfmInputs = try XCTUnwrap(dfmInfo["inputs"] as? [Any]), dfmOutputs = try XCTUnwrap(dfmInfo["outputs"] as? [Any])
            XCTAssertEqual(dfmInputs.count, 1)
            XCTAssertEqual((dfmInputs[0] as? [String: Any])?["name"] as? String, "in_face:0")
            XCTAssertEqual((dfmInputs[0] as? [String: Any])?["type"] as? String, "tensor(float)")
            XCTAssertEqual(shape(dfmInputs[0]), ["N", "\(r)", "\(r)", "3"])
            XCTAssertEqual(dfmOutputs.compactMap { ($0 as? [String: Any])?["name"] as? String }, SwapGraphNames.dfmOutputs)
            XCTAssertEqual(dfmOutputs.map(shape), [["N", "\(r)", "\(r)", "1"], ["N", "\(r)", "\(r)", "3"], ["N", "\(r)", "\(r)", "1"]])
            let dCeleb = largestDifference(try XCTUnwrap(f["out_celeb_face:0"]), reversedChannels(src.image), "\(architecture) out_celeb_face")
            let dCelebMask = largestDifference(try XCTUnwrap(f["out_celeb_face_mask:0"]), src.mask, "\(architecture) out_celeb_face_mask",
                                               minRange: maskRange)
            let dFaceMask = largestDifference(try XCTUnwrap(f["out_face_mask:0"]), dst.mask, "\(architecture) out_face_mask",
                                              minRange: maskRange)
            print("\(architecture) \(modelName) DFM: largest difference celeb face \(dCeleb), celeb mask \(dCelebMask), face mask \(dFaceMask)")
            XCTAssertLessThanOrEqual(max(dCeleb, dCelebMask, dFaceMask), 1e-4, architecture)
        }
    }

    func testUnknownOrPrunedCheckpointWritesNothing() throws {
        let p = try Project(path: Self.fixturePath!, mode: .readOnly)
        for format in SwapGraphFormat.allCases {
            let path = dir + "/none.\(format.rawValue)"
            XCTAssertThrowsError(try exportSwapGraph(project: p, checkpoint: "nope", model: "a", format: format, to: path)) {
                XCTAssertTrue("\($0)".contains("nope"), "\($0)")
            }
            XCTAssertThrowsError(try exportSwapGraph(project: p, checkpoint: "9999", format: format, to: path)) {
                XCTAssertTrue("\($0)".contains("9999"), "\($0)")
            }
            XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir), [], "nothing written, no partial file")
        }
    }

    /// A layer the lowering does not know is named, not silently skipped.
    func testALayerWithoutAnONNXFormIsNamed() throws {
        final class Odd: Layer {
            func forward(_ x: Tensor) -> Tensor { x }
            func backward(_ dy: Tensor) -> Tensor { dy }
        }
        let q = try Quick96(config: .tiny, seed: 1)
        var parts = try SwapGraphParts(q)
        parts.srcMask = Sequential([("odd", Odd())])
        XCTAssertThrowsError(try swapGraphModel(parts, format: .onnx, name: "x", metadata: [])) {
            XCTAssertTrue("\($0)".contains("decoder_src.odd is a Odd"), "\($0)")
        }
        // liae's inter_B is lowered for DFM's mask of the input face only: Facet's interface does not contain it.
        let liae = try SAEHD(config: SAEHDConfig(resolution: 64, archi: "liae-ud", aeDims: 8, eDims: 4, dDims: 4), seed: 1)
        var lp = try SwapGraphParts(liae)
        lp.inters = (try XCTUnwrap(lp.inters).ab, Sequential([("odd", Odd())]))
        XCTAssertThrowsError(try swapGraphModel(lp, format: .dfm, name: "x", metadata: [])) {
            XCTAssertTrue("\($0)".contains("inter_B.odd is a Odd"), "\($0)")
        }
        XCTAssertNoThrow(try swapGraphModel(lp, format: .onnx, name: "x", metadata: []))
    }
}
