/// One digest of what training and merging compute (losses, weights, merged pixels): refactors must leave it unchanged.
import XCTest
import FacetCore
import FacetMedia
import FacetStore
import FacetTrain
@_spi(Benchmarks) @testable import FacetMerge
import FacetTestSupport

/// Trains `tiny` (6 iterations, the merge fixture) and `quick96` (2 iterations, batch 2) on the sample faces, then
/// merges frames of the dst sample with the tiny checkpoint in three merge modes, and hashes every stored loss, every
/// stored tensor and every merged pixel. The value depends on the CPU's kernels (OpenBLAS's family, AVX-512), so it
/// is compared on one machine before and after a change: `Tools/behaviour-digest` runs this test and prints it, and
/// `FACET_BEHAVIOUR_DIGEST=HEX` makes the test fail unless it comes out equal.
final class BehaviourDigestTests: MergeTestCase {
    func testTrainingAndMergeDigest() throws {
        let (p, media) = try MergeFixture.trainedCopy(at: path("digest.facet"))
        _ = try Trainer(project: p, options: TrainOptions(architecture: .quick96, batchSize: 2, stop: .iterations(2), seed: 5)).run()
        var parts: [(String, String)] = []

        for model in try p.models() {
            var losses = SHA256(), weights = SHA256()
            let rows = try p.losses(modelId: model.id!)
            XCTAssertFalse(rows.isEmpty, "model \(model.name) stored no losses")
            for r in rows {
                XCTAssertTrue(r.lossSrc.isFinite && r.lossDst.isFinite, "model \(model.name) iteration \(r.iteration)")
                var values = [Double(r.iteration), r.lossSrc, r.lossDst]
                values.withUnsafeMutableBytes { losses.update(UnsafeRawBufferPointer($0)) }
            }
            var tensors = 0
            for c in try p.checkpoints(modelId: model.id!) {
                try p.forEachCheckpointTensor(checkpointId: c.id) { t in
                    weights.update(Data(t.name.utf8)); weights.update(t.data); tensors += 1
                }
            }
            XCTAssertGreaterThan(tensors, 0, "model \(model.name) stored no tensors")
            parts.append(("\(model.name) losses", losses.finalizeHex()))
            parts.append(("\(model.name) tensors", weights.finalizeHex()))
        }

        let swapper = try CheckpointSwapper(project: p, checkpoint: "latest", model: "tiny")
        let settings: [(String, MergeOptions)] = [
            ("overlay", MergeOptions(mask: .learnedAndHull, erode: 5, blur: 20, color: .rct)),
            ("seamless", MergeOptions(mode: .seamless, mask: .hull, blur: 10)),
            ("hist-match", MergeOptions(mode: .histMatch, mask: .learned, erode: -5, blur: 8, faceScale: 5, color: .lct)),
        ]
        for frame in [10, 40] {
            let original = try MergeFixture.frame(frame)
            for (name, options) in settings {
                let (image, regions) = try MergeEngine.preview(project: p, media: media, frame: frame, swapper: swapper, options: options)
                XCTAssertEqual(regions.count, 1, "\(name) frame \(frame)")
                XCTAssertNotEqual(image.pixels, original.pixels, "\(name) frame \(frame) left the frame as it was")
                parts.append(("merge \(name) frame \(frame)", SHA256.hex(of: Data(image.pixels))))
            }
        }
        try p.close()

        var all = SHA256()
        for (name, hex) in parts {
            print("behaviour-digest part: \(name) \(hex)")
            all.update(Data("\(name)=\(hex)\n".utf8))
        }
        let digest = all.finalizeHex()
        print("behaviour-digest: \(digest)")
        if let expected = ProcessInfo.processInfo.environment["FACET_BEHAVIOUR_DIGEST"], !expected.isEmpty {
            XCTAssertEqual(digest, expected, "training or merging computes something else than before")
        }
    }
}
