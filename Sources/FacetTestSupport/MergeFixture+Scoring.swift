/// What the merge-scoring tests and benchmarks share: identity centres of the two sample persons, a steady src face,
/// and the dst sample with a stored face on every frame.
import Foundation
import FacetCore
import FacetMedia
import FacetMerge
import FacetStore
import FacetVision

extension MergeFixture {
    /// Mean descriptor (Facet's recogniser) of the fixture faces `rows` of `video`, on every `every`-th of its first
    /// `frames` frames: a person's identity centre for the merge scorer.
    public static func identityCentre(_ video: String, _ rows: [Row], recognizer: FaceRecognizer,
                                      frames: Int = 60, every: Int = 6) throws -> [Float] {
        let d = try VideoDecoder(path: video)
        var sum = [Float](repeating: 0, count: 128), n = 0
        while let f = try d.nextFrame(), f.index < frames {
            for r in rows where r.frame == f.index && f.index % every == 0 {
                let v = recognizer.descriptors(image: f.image, faces: [r.landmarks])[0]
                for j in 0..<128 { sum[j] += v[j] }
                n += 1
            }
        }
        guard n > 0 else { throw FacetError("no fixture face of \(video) in its first \(frames) frames") }
        return sum.map { $0 / Float(n) }
    }

    /// The src and dst persons' identity centres (`identityCentre` of each sample).
    public static func identityCentres(recognizer: FaceRecognizer, frames: Int = 60,
                                       every: Int = 6) throws -> (src: [Float], dst: [Float]) {
        (try identityCentre(srcVideo, srcRows, recognizer: recognizer, frames: frames, every: every),
         try identityCentre(dstVideo, rows, recognizer: recognizer, frames: frames, every: every))
    }

    /// The src sample's first face aligned at `resolution` (full face): a steady src person to paste.
    public static func sourceFace(resolution: Int = 64) throws -> Image {
        let row = srcRows[0]
        let d = try VideoDecoder(path: srcVideo)
        while let f = try d.nextFrame() {
            guard f.index == row.frame else { continue }
            return FaceCompositor(options: MergeOptions(), resolution: resolution)
                .alignedFace(from: f.image,
                             face: MergeFace(imageToFace: row.matrix, cropSize: 256, landmarks: row.landmarks))
        }
        throw FacetError("no src frame \(row.frame)")
    }

    /// Stores the fixture faces of frames 0-59 again for frames 60 to the end (no crops), so that every frame of
    /// the dst sample has a face, as the merge benchmarks want.
    public static func storeFacesOnEveryFrame(media: MediaRecord, in project: Project) throws {
        let extra = (60..<media.frameCount).map { i -> Row in
            var row = rows[i % rows.count]
            row.frame = i
            return row
        }
        try storeFaces(extra, of: dstVideo, media: media.id!, role: .dst, crops: false, in: project)
    }
}
