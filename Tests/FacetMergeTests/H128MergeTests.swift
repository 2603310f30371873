/// H128 end to end on the sample videos' real faces: half-face samples re-aligned from the stored
/// full-face crops, a few training iterations, checkpoint and resume, and a seamless merge of the
/// whole destination video with the checkpoint.
import XCTest
import FacetCore
import FacetMedia
import FacetNN
import FacetStore
import FacetVision
@testable import FacetTrain
@_spi(Benchmarks) @testable import FacetMerge
import FacetTestSupport

final class H128MergeTests: MergeTestCase {
    /// H128's structure at 64 px with narrow layers, so a test trains in seconds.
    static let network = H128Config(resolution: 64, encoderDims: 8, aeDims: 32, decoderDims: 32)

    /// A stored full-face crop re-warped to a half face matches the half face aligned straight
    /// from the video frame (to JPEG and resampling error), and is a different picture from the
    /// full-face sample; its hull mask covers more of the tighter crop.
    func testHalfFaceSamplesFromStoredFullFaceCrops() throws {
        let (p, _) = try MergeFixture.makeProject(at: path("work.facet"), source: true)
        let faces = try p.faces(matching: FaceQuery(role: .dst, status: .kept))
        for face in [faces[0], faces[faces.count / 2]] {
            XCTAssertEqual(face.faceType, "full")
            let half = try FaceSample.load(face, project: p, resolution: 128, alignAs: .half)
            let full = try FaceSample.load(face, project: p, resolution: 128)
            let frame = try MergeFixture.frame(face.frameIndex)
            let landmarks = try XCTUnwrap(face.landmarks68)
            let direct = frame.warped(by: alignmentMatrix(landmarks: landmarks, faceType: .half, size: 512), width: 512, height: 512)
                .resized(width: 128, height: 128, filter: .area)
            look(half.image, "h128-half-\(face.id)")
            look(direct, "h128-direct-\(face.id)")
            func meanDifference(_ a: Image, _ b: Image) -> Double {
                // The central 80%: the very border of the direct crop samples beyond the frame's
                // pixel grid differently.
                var sum = 0.0, n = 0.0
                for y in 13..<115 { for x in 13..<115 { for c in 0..<3 { sum += abs(Double(a[x, y, c]) - Double(b[x, y, c])); n += 1 } } }
                return sum / n
            }
            let same = meanDifference(half.image, direct), other = meanDifference(full.image, direct)
            print("face \(face.id): half sample vs half aligned from the frame \(same) levels, full sample vs it \(other)")
            XCTAssertLessThan(same, 4, "face \(face.id)")
            XCTAssertGreaterThan(other, 4 * same, "face \(face.id)")
            func coverage(_ m: Image) -> Double { m.pixels.reduce(0) { $0 + Double($1) / 255 } / Double(m.pixels.count) }
            XCTAssertGreaterThan(coverage(half.mask), coverage(full.mask) + 0.15, "face \(face.id)")
            XCTAssertEqual(half.mask[64, 64, 0], 255)
        }
    }

    func testH128TrainsResumesAndMergesTheDestinationVideo() throws {
        let (p, media) = try MergeFixture.makeProject(at: path("work.facet"), source: true)
        var options = TrainOptions(architecture: .h128, batchSize: 2, stop: .iterations(3), seed: 5)
        options.h128 = Self.network
        let trainer = try Trainer(project: p, options: options)
        XCTAssertTrue(trainer.network is H128)
        let result = try trainer.run()
        XCTAssertEqual(result.checkpoint.iteration, 3)

        let model = try XCTUnwrap(try p.model(named: "h128"))
        XCTAssertEqual(model.architecture, "h128")
        XCTAssertEqual(model.faceType, "half")
        XCTAssertEqual(model.resolution, 64)
        let stored = try ModelOptions.parse(model.optionsJson, model: "h128")
        XCTAssertEqual(stored.h128, Self.network)
        XCTAssertEqual(stored.optimizer, OptimizerOptions(kind: .adam, learningRate: 5e-5, lrDropout: 1, beta1: 0.5, beta2: 0.999))
        XCTAssertEqual(stored.batchSize, 2)
        XCTAssertEqual(ModelOptions(architecture: .h128).batchSize, 4)
        XCTAssertTrue(model.optionsJson.contains("\"pixel_loss\":false"), model.optionsJson)

        let losses = try p.losses(modelId: model.id!)
        XCTAssertEqual(losses.map(\.iteration), [1, 2, 3])
        XCTAssertTrue(losses.allSatisfy { $0.lossSrc > 0 && $0.lossSrc.isFinite && $0.lossDst > 0 && $0.lossDst.isFinite })
        let c = result.checkpoint
        XCTAssertNotNil(c.valLossSrc)
        XCTAssertNotNil(c.valLossDst)
        let infos = try p.checkpointTensorInfos(checkpointId: c.id)
        XCTAssertEqual(Set(infos.filter { $0.kind == .weight }.map(\.name)), Set(trainer.network.namedParameters.map(\.name)))
        XCTAssertEqual(infos.first { $0.name == "encoder.dense1.weight" }?.shape, [4 * 4 * 64, 32])
        XCTAssertEqual(c.bytes, Int64(3 * 4 * trainer.network.parameterCount + 16))
        XCTAssertNotNil(try p.preview(checkpointId: c.id))

        // Resume: the Adam state comes back and the iteration count goes on.
        let resumed = try Trainer(project: p, options: TrainOptions(name: "h128", resume: true, stop: .iterations(4)))
        XCTAssertTrue(resumed.resumedOptimizerState)
        XCTAssertEqual(try resumed.run().checkpoint.iteration, 4)

        // The checkpoint swaps: the same network as training made, on half faces, seamless.
        let swapper = try CheckpointSwapper(project: p, checkpoint: "latest")
        XCTAssertEqual(swapper.faceType, "half")
        XCTAssertEqual(swapper.resolution, 64)
        XCTAssertTrue(swapper.model.network is H128)
        let sample = try FaceSample.load(try XCTUnwrap(try p.faces(matching: FaceQuery(role: .dst, status: .kept)).first), project: p,
                                         resolution: 64, alignAs: .half)
        let x = Tensor(shape: [1, 64, 64, 3])
        for i in 0..<(64 * 64 * 3) { x[i] = Float(sample.image.pixels[i]) / 255 }
        XCTAssertEqual(swapper.model.network.predict(x, decoder: .src).image.values, resumed.network.predict(x, decoder: .src).image.values)

        // Dst faces are stored as full faces; for the half-face model they are re-aligned.
        let byFrame = try MergeEngine.faces(in: p, media: media, faceType: swapper.faceType)
        let row = MergeFixture.rows[0]
        let realigned = try XCTUnwrap(byFrame[row.frame]?.first)
        XCTAssertEqual(realigned.imageToFace, alignmentMatrix(landmarks: realigned.landmarks, faceType: .half, size: 256))
        XCTAssertGreaterThan(abs(realigned.imageToFace.scale - row.matrix.scale), 0.2 * row.matrix.scale, "a half face is a closer crop")

        let out = path("swapped.mp4")
        let stats = try MergeEngine.merge(project: p, media: media, swapper: swapper, options: MergeOptions(mode: .seamless, preset: "ultrafast"),
                                          output: out, faceType: swapper.faceType)
        XCTAssertEqual(stats.frames, 250)
        XCTAssertEqual(stats.facesMerged, 60)
        XCTAssertEqual(try probe(out, ["-count_frames", "-select_streams", "v:0", "-show_entries", "stream=nb_read_frames", "-of", "csv=p=0"]), "250")

        // The blend covers the half face: inside the full face's window, and smaller.
        let (_, halfRegions) = try MergeEngine.preview(project: p, media: media, frame: 20, swapper: swapper, options: MergeOptions(mask: .hull),
                                                       faceType: swapper.faceType)
        let (_, fullRegions) = try MergeEngine.preview(project: p, media: media, frame: 20, swapper: IdentitySwapper(resolution: 64),
                                                       options: MergeOptions(mask: .hull))
        let h = try XCTUnwrap(halfRegions.first), f = try XCTUnwrap(fullRegions.first)
        func area(_ r: BlendRegion) -> Float { r.alpha.reduce(0, +) }
        XCTAssertLessThan(area(h), area(f))
        XCTAssertGreaterThan(area(h), 0.3 * area(f))
        XCTAssertTrue(h.x >= f.x && h.y >= f.y && h.x + h.width <= f.x + f.width && h.y + h.height <= f.y + f.height)
    }
}
