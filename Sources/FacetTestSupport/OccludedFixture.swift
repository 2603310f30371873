/// The dst sample video with an occluder over the face in every other frame (a solid box, as ffmpeg's `drawbox`
/// draws one), and the masks that are true for it: the landmark hull minus the box, mapped into crop coordinates.
import Foundation
import FacetCore
import FacetExtract
import FacetMedia
import FacetStore
import FacetVision

/// An occluded copy of the dst sample video's first 60 frames and its known per-face truth masks.
public enum OccludedFixture {
    /// Frames 0...59 of dst-d19 (the frames `MergeFixture.rows` has faces for).
    public static let frameCount = 60

    /// Whether frame `index` has the occluder (the even ones).
    public static func isOccluded(_ index: Int) -> Bool { index % 2 == 0 }

    /// The occluder of frame `index` in frame pixels (columns x0..<x1, rows y0..<y1) and its RGB colour: a box over
    /// the lower part of the face (mouth and chin, 45% of the face box wide) that slides from the face's left to its
    /// right over ten frames, in one of three colours. Nil for a frame without one.
    public static func occluder(frame index: Int) -> (x0: Int, y0: Int, x1: Int, y1: Int, color: [UInt8])? {
        guard isOccluded(index), let row = MergeFixture.rows.first(where: { $0.frame == index }) else { return nil }
        let (bx, by, bw, bh) = (row.box[0], row.box[1], row.box[2], row.box[3])
        let step = Double((index / 2) % 5) / 4
        let x0 = bx + bw * (0.02 + 0.5 * step), y0 = by + bh * 0.58
        let colors: [[UInt8]] = [[40, 170, 60], [210, 40, 40], [30, 60, 210]]
        return (Int(x0), Int(y0), Int(x0 + bw * 0.45), Int(y0 + bh * 0.45), colors[(index / 2) % 3])
    }

    /// Writes the occluded video (H.264, near-lossless) to `path`.
    public static func writeVideo(to path: String) throws {
        let decoder = try VideoDecoder(path: MergeFixture.dstVideo)
        let info = decoder.info
        let encoder = try VideoEncoder(path: path, width: info.width, height: info.height, fps: info.fps, crf: 12,
                                       preset: "veryfast")
        while let f = try decoder.nextFrame(), f.index < frameCount {
            var image = f.image
            if let box = occluder(frame: f.index) {
                for y in max(0, box.y0)..<min(image.height, box.y1) {
                    for x in max(0, box.x0)..<min(image.width, box.x1) {
                        for c in 0..<3 { image.pixels[(y * image.width + x) * 3 + c] = box.color[c] }
                    }
                }
            }
            try encoder.append(image)
        }
        try encoder.finish()
    }

    /// A new project at `path` with the occluded video (written beside it) as the dst video and its 60 faces (the
    /// sample video's stored landmarks and matrices, crops cut from the occluded frames); with `source`, also the src
    /// sample video and its 30 faces.
    public static func makeProject(at path: String, source: Bool = false) throws -> Project {
        let video = (path as NSString).deletingPathExtension + "-occluded.mp4"
        try writeVideo(to: video)
        let p = try Project.create(at: path)
        let media = try MediaImporter.importMedia(path: video, role: .dst, link: false, into: p)
        try MergeFixture.storeFaces(MergeFixture.rows, of: video, media: media.id!, role: .dst, crops: true, in: p)
        if source {
            let src = try MediaImporter.importMedia(path: MergeFixture.srcVideo, role: .src, link: false, into: p)
            try MergeFixture.storeFaces(MergeFixture.srcRows, of: MergeFixture.srcVideo, media: src.id!, role: .src,
                                        crops: true, in: p)
        }
        return p
    }

    /// The true mask of frame `index`'s face over its 256 px crop, resized to `size` (area filter): 255 where a
    /// pixel centre is inside the landmark hull and outside the occluder.
    public static func truthMask(frame index: Int, size: Int) -> Image {
        let row = MergeFixture.rows.first { $0.frame == index }!
        let crop = 256
        let hull = convexHull(row.landmarks.points.map { row.matrix.apply($0) })
        let toFrame = row.matrix.inverted!
        let box = occluder(frame: index)
        var mask = Image(width: crop, height: crop, channels: 1)
        for y in 0..<crop {
            for x in 0..<crop {
                let p = Point2(Double(x), Double(y))
                var inside = hull.count >= 3
                for i in hull.indices where inside {
                    let a = hull[i], b = hull[(i + 1) % hull.count]
                    if (b.x - a.x) * (p.y - a.y) - (b.y - a.y) * (p.x - a.x) < 0 { inside = false }
                }
                if inside, let box {
                    let q = toFrame.apply(p)
                    if q.x >= Double(box.x0) - 0.5 && q.x < Double(box.x1) - 0.5 && q.y >= Double(box.y0) - 0.5
                        && q.y < Double(box.y1) - 0.5 { inside = false }
                }
                if inside { mask.pixels[y * crop + x] = 255 }
            }
        }
        return size == crop ? mask : mask.resized(width: size, height: size, filter: .area)
    }

    /// IoU of two grey masks of the same size, each thresholded at 128.
    public static func iou(_ a: Image, _ b: Image) -> Double {
        var inter = 0, union = 0
        for i in 0..<min(a.pixels.count, b.pixels.count) {
            let x = a.pixels[i] >= 128, y = b.pixels[i] >= 128
            if x && y { inter += 1 }
            if x || y { union += 1 }
        }
        return union == 0 ? 1 : Double(inter) / Double(union)
    }
}
