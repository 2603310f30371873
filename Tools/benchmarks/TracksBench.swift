/// `Tools/bench tracks`: merging with the alignment smoothed over face tracks, the merged face's jitter from
/// landmarks refitted on the output, and the smoothing's cost beside the merge time.
import Foundation
import FacetCore
import FacetExtract
import FacetMedia
import FacetMerge
import FacetStore
import FacetTestSupport
import FacetVision

enum TracksBench {
    /// `Tools/bench tracks`: the dst sample extracted (tracks built at the end), merged with a
    /// steady src face and with the dst's own face through the 64 px model size (a perfect model's
    /// output), without and with smoothing; jitter of the result from refitted landmarks; the
    /// smoothing's cost beside the merge's time.
    static func run(in work: BenchFolder) throws {
        let p = try Project.create(at: work.path("bench.facet"))
        let media = try MediaImporter.importMedia(path: MergeFixture.dstVideo, role: .dst, link: true, into: p)
        let extraction = try Extractor(project: p, options: ExtractionOptions(role: .dst)).run { _ in }
        guard let t = extraction.tracks else { throw BenchFailure("extraction built no tracks") }
        print("bench-tracks: extraction of \(extraction.framesProcessed) frames \(String(format: "%.2f", extraction.seconds)) s, of which tracks \(String(format: "%.3f", t.seconds)) s (\(String(format: "%.1f", 100 * t.seconds / extraction.seconds))%): \(t.tracks) tracks, jitter raw \(t.jitterRaw ?? -1) smoothed \(t.jitterSmoothed ?? -1) eye distances")
        var dst: [Int: Landmarks68] = [:]
        for f in try p.faces(matching: FaceQuery(role: .dst)) { dst[f.frameIndex] = f.landmarks68 }
        let pipeline = try MergedJitter.pipeline()
        let ids = try p.faces(matching: FaceQuery(role: .dst)).map(\.id)
        for (name, swapper) in [("steady src face", FixedFaceSwapper(face: try MergedJitter.sourceFace()) as any FaceSwapper),
                                ("dst's own face at 64 px", IdentitySwapper(resolution: 64) as any FaceSwapper)] {
            for smooth in [0.0, 1.0, 2.0] {
                let out = work.path("bench-\(smooth).mp4")
                let options = MergeOptions(mask: .hull, blur: 10, crf: 12, preset: "ultrafast", smooth: smooth)
                let stats = try MergeEngine.merge(project: p, media: media, swapper: swapper, options: options, output: out)
                let began = Date()
                _ = try MergeEngine.smoothedAlignments(project: p, media: media, strength: max(smooth, 1), faceIDs: ids, recompute: true)
                let recompute = Date().timeIntervalSince(began)
                let j = try MergedJitter.measure(video: out, dst: dst, pipeline: pipeline)
                print("bench-tracks: \(name), smooth \(smooth): output jitter over the dst's: own \(String(format: "%.3f", j.own))x, output minus dst \(String(format: "%.3f", j.relative))x (\(j.frames) frames); merge \(String(format: "%.2f", stats.seconds)) s, smoothing as used \(String(format: "%.1f", 1000 * stats.smoothingSeconds)) ms (\(String(format: "%.2f", 100 * stats.smoothingSeconds / stats.seconds))%), recomputed from raw \(String(format: "%.1f", 1000 * recompute)) ms (\(String(format: "%.2f", 100 * recompute / stats.seconds))%)")
                if name.hasPrefix("dst") && smooth == 1 { break }   // the identity swap is the same at any smoothing
            }
        }
    }
}
