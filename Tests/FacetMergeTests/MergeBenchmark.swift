/// The merge benchmark behind `Tools/bench merge`: merge frames/s beside a plain decode + encode, same run. Skipped unless FACET_BENCH_MERGE=1.
import XCTest
import FacetCore
import FacetMedia
@testable import FacetMerge

final class MergeBenchmark: MergeTestCase {
    func testMergeBesideDecodeAndEncode() throws {
        try XCTSkipUnless(ProcessInfo.processInfo.environment["FACET_BENCH_MERGE"] == "1", "benchmark: run Tools/bench merge")
        let preset = ProcessInfo.processInfo.environment["FACET_BENCH_PRESET"] ?? "medium"
        let (p, media) = try MergeFixture.trainedCopy(at: path("bench.facet"))
        // Faces on every frame: the stored 60 frames' faces reused cyclically over the 250.
        let faces = MergeFixture.rows.map { MergeFace(imageToFace: $0.matrix, cropSize: 256, landmarks: $0.landmarks) }
        let swapper = try CheckpointSwapper(project: p, checkpoint: "latest")
        func run(_ label: String, merge: Bool) throws -> Double {
            let decoder = try VideoDecoder(path: MergeFixture.dstVideo)
            let encoder = try VideoEncoder(path: path("\(label).mp4"), width: 480, height: 480, fps: media.fps, crf: 18, preset: preset)
            let compositor = FaceCompositor(options: MergeOptions(mask: .learnedAndHull, erode: 5, blur: 20, color: .rct), resolution: swapper.resolution)
            let stats = try MergePipeline.run(frameCount: 250, nextFrame: {
                try decoder.nextFrame().map { ($0.index, $0.image) }
            }, faces: { merge ? [faces[$0 % faces.count]] : [] }, compositor: compositor, swapper: swapper, write: { try encoder.append($0) })
            try encoder.finish()
            let fps = Double(stats.frames) / stats.seconds
            print("bench-merge: \(label): \(stats.frames) frames (\(stats.facesMerged) faces) in \(String(format: "%.2f", stats.seconds)) s = \(String(format: "%.1f", fps)) frames/s")
            return stats.seconds
        }
        let plain = try run("decode+encode", merge: false)
        let merged = try run("merge (tiny model, learned-and-hull, erode 5, blur 20, rct)", merge: true)
        print("bench-merge: face work adds \(String(format: "%.2f", merged - plain)) s over the codec's \(String(format: "%.2f", plain)) s (ratio \(String(format: "%.2f", (merged - plain) / plain)); goal < 1)")
    }
}
