/// Track-merge fixtures shared by the track tests and `Tools/bench tracks`: a perfectly steady swapper and the jitter
/// of a merged face measured from landmarks refitted on the output.
import Foundation
import FacetCore
import FacetMedia
import FacetMerge
import FacetVision

/// Returns the same face for every input (a real face, aligned at the model resolution once) with
/// an all-white mask: a perfectly steady model, so the pasted face moves exactly as the alignment does.
public struct FixedFaceSwapper: FaceSwapper {
    /// The face returned for every input.
    public let face: Image
    /// The face's size.
    public var resolution: Int { face.width }
    /// A swapper returning `face`.
    public init(face: Image) { self.face = face }
    /// `face` and a white mask for each input.
    public func swap(_ faces: [Image]) throws -> [(face: Image, mask: Image)] {
        faces.map { _ in (face, Image(width: resolution, height: resolution, channels: 1, pixels: [UInt8](repeating: 255, count: resolution * resolution))) }
    }
}

/// How much a merged face moves against the destination's, from landmarks refitted on every frame.
public struct MergedJitter {
    /// Mean |second difference| of the output's landmarks over the dst's own (the pasted face's own shake).
    public var own: Double
    /// Mean |second difference of output minus dst| over the dst's own (the face moving against the head).
    public var relative: Double
    /// Frames compared (each with both neighbours).
    public var frames: Int

    /// Refits the 68 points on each frame of `video` (the face nearest the dst's) and compares them
    /// with `dst` (frame index to landmarks, the dst's own fit), over every three consecutive frames
    /// both have. Points are in eye distances of the dst face.
    public static func measure(video: String, dst: [Int: Landmarks68], pipeline: FacePipeline) throws -> MergedJitter {
        let decoder = try VideoDecoder(path: video)
        var out: [Int: Landmarks68] = [:]
        while let f = try decoder.nextFrame() {
            guard let d = dst[f.index] else { continue }
            let found = pipeline.faces(in: f.image, minFaceSize: 40)
            if let best = found.min(by: { meanLandmarkDistance($0.landmarks, d) < meanLandmarkDistance($1.landmarks, d) }) { out[f.index] = best.landmarks }
        }
        var own = 0.0, rel = 0.0, base = 0.0, n = 0
        for t in dst.keys.sorted() {
            guard let d0 = dst[t - 1], let d1 = dst[t], let d2 = dst[t + 1], let o0 = out[t - 1], let o1 = out[t], let o2 = out[t + 1] else { continue }
            let unit = eyeDistance(d1)
            var so = 0.0, sr = 0.0, sd = 0.0
            for p in 0..<68 {
                func second(_ a: Landmarks68, _ b: Landmarks68, _ c: Landmarks68) -> Point2 {
                    Point2(c.points[p].x - 2 * b.points[p].x + a.points[p].x, c.points[p].y - 2 * b.points[p].y + a.points[p].y)
                }
                let o = second(o0, o1, o2), d = second(d0, d1, d2)
                so += hypot(o.x, o.y); sd += hypot(d.x, d.y); sr += hypot(o.x - d.x, o.y - d.y)
            }
            own += so / unit; rel += sr / unit; base += sd / unit; n += 1
        }
        return MergedJitter(own: own / max(base, 1e-12), relative: rel / max(base, 1e-12), frames: n)
    }

    /// The detector and landmarker that refit the merged faces.
    public static func pipeline() throws -> FacePipeline {
        try FacePipeline(detector: MTCNNDetector(), shapePredictor: ShapePredictor(path: ModelFiles.shapePredictor()))
    }

    /// A src face (frame 0 of src-d18) aligned at 64 px: what a perfectly steady model would return.
    public static func sourceFace(resolution: Int = 64) throws -> Image {
        let row = MergeFixture.srcRows[0]
        let d = try VideoDecoder(path: MergeFixture.srcVideo)
        var frame: Image?
        while let f = try d.nextFrame() { if f.index == row.frame { frame = f.image; break } }
        guard let image = frame else { throw FacetError("no frame \(row.frame) in \(MergeFixture.srcVideo)") }
        return FaceCompositor(options: MergeOptions(), resolution: resolution)
            .alignedFace(from: image, face: MergeFace(imageToFace: row.matrix, cropSize: 256, landmarks: row.landmarks))
    }
}
