/// Both sample videos with textured occluders of varied shapes over part of the face in two frames of three: ellipses,
/// hands (a palm, four fingers and a thumb), irregular blobs and microphones (a bar with a ball), filled with a patch
/// of the frame's own background (ellipses, blobs, microphones) or with skin cut from the other video's face (hands),
/// covering 8-50% of the face's landmark hull. The truth of each face: its landmark hull minus the occluder, mapped
/// into the crop. Harder than `OccludedFixture`'s solid box, which a segmenter can find by its colour alone.
import Foundation
import FacetCore
import FacetExtract
import FacetMedia
import FacetStore
import FacetVision

/// The occluded sample videos, their faces and their known truth masks.
public enum TexturedOcclusion {
    /// One frame's occluder: a union of polygons in frame pixels, what it looks like, and where its texture comes from.
    public struct Occluder: Sendable {
        /// The polygons whose union covers the face (a pixel is covered when its centre lies inside one).
        public let polygons: [[Point2]]
        /// ellipse, hand, blob or microphone.
        public let shape: String
        /// Shares of the 64-pixel hull covered by it.
        public let coverage: Double
        /// Whether the texture is the other video's skin (else the frame's own background, shifted by `shift`).
        let skin: Bool
        let shift: (Double, Double)
        let gain: Double

        /// Whether frame point `p` is covered.
        public func covers(_ p: Point2) -> Bool {
            polygons.contains { TexturedOcclusion.inside(p, $0) }
        }
    }

    /// The stored faces of a role's sample video (dst: frames 0...59, src: 0...29).
    public static func rows(_ role: Role) -> [MergeFixture.Row] {
        role == .dst ? MergeFixture.rows : MergeFixture.srcRows
    }

    /// Whether frame `index` has an occluder (two frames of three).
    public static func isOccluded(_ index: Int) -> Bool { index % 3 != 2 }

    /// Whether `p` lies inside `polygon` (even-odd rule).
    static func inside(_ p: Point2, _ polygon: [Point2]) -> Bool {
        var inside = false
        var j = polygon.count - 1
        for i in polygon.indices {
            let a = polygon[i], b = polygon[j]
            if (a.y > p.y) != (b.y > p.y), p.x < (b.x - a.x) * (p.y - a.y) / (b.y - a.y) + a.x { inside.toggle() }
            j = i
        }
        return inside
    }

    /// A rectangle of `w` x `h` centred on `c`, turned by `angle`.
    static func box(_ c: Point2, _ w: Double, _ h: Double, _ angle: Double) -> [Point2] {
        let (cs, sn) = (cos(angle), sin(angle))
        return [(-w / 2, -h / 2), (w / 2, -h / 2), (w / 2, h / 2), (-w / 2, h / 2)].map {
            Point2(c.x + $0.0 * cs - $0.1 * sn, c.y + $0.0 * sn + $0.1 * cs)
        }
    }

    /// An ellipse with radii `rx`, `ry` about `c`, turned by `angle`, as a 40-gon.
    static func ellipse(_ c: Point2, _ rx: Double, _ ry: Double, _ angle: Double) -> [Point2] {
        let (cs, sn) = (cos(angle), sin(angle))
        return (0..<40).map { k in
            let t = Double(k) * 2 * .pi / 40, x = rx * cos(t), y = ry * sin(t)
            return Point2(c.x + x * cs - y * sn, c.y + x * sn + y * cs)
        }
    }

    /// The occluder of `role`'s frame `index`, nil for a frame without one. Drawn from a generator seeded by role and
    /// frame, redrawn until it covers 8-50% of the landmark hull.
    public static func occluder(role: Role, frame index: Int) -> Occluder? {
        guard isOccluded(index), let row = rows(role).first(where: { $0.frame == index }) else { return nil }
        let (bx, by, bw, bh) = (row.box[0], row.box[1], row.box[2], row.box[3])
        let hull = convexHull(row.landmarks.points)
        var g = SplitMix64(seed: UInt64(index) &* 0x9E37_79B9 &+ (role == .dst ? 17 : 91))
        func u(_ a: Double, _ b: Double) -> Double { a + (b - a) * g.unit() }
        let shapes = ["ellipse", "hand", "blob", "microphone"]
        let shape = shapes[(index + (role == .dst ? 0 : 1)) % shapes.count]
        for _ in 0..<40 {
            var polygons: [[Point2]] = []
            switch shape {
            case "ellipse":
                let c = Point2(bx + bw * u(0.2, 0.8), by + bh * u(0.4, 0.85))
                polygons = [ellipse(c, bw * u(0.14, 0.3), bh * u(0.1, 0.22), u(0, .pi))]
            case "hand":
                // The palm low on the face, fingers up over the cheek, the whole hand turned.
                let c = Point2(bx + bw * u(0.25, 0.75), by + bh * u(0.72, 0.95))
                let angle = u(-0.6, 0.6), pw = bw * u(0.3, 0.4), ph = bh * u(0.22, 0.3)
                let (cs, sn) = (cos(angle), sin(angle))
                func at(_ x: Double, _ y: Double) -> Point2 { Point2(c.x + x * cs - y * sn, c.y + x * sn + y * cs) }
                polygons = [box(c, pw, ph, angle)]
                let fw = pw / 4.6
                for f in 0..<4 {
                    let x = -pw / 2 + fw * 0.6 + Double(f) * (pw - fw * 1.2) / 3
                    let length = bh * u(0.13, 0.22) * (f == 0 || f == 3 ? 0.8 : 1)
                    polygons.append(box(at(x, -ph / 2 - length / 2 + 2), fw, length + 4, angle + u(-0.12, 0.12)))
                }
                polygons.append(box(at(pw / 2 + pw * 0.12, -ph * 0.1), pw * 0.32, fw, angle - 0.7))
            case "blob":
                let c = Point2(bx + bw * u(0.2, 0.8), by + bh * u(0.35, 0.85)), r0 = bw * u(0.13, 0.24)
                polygons = [(0..<9).map { k in
                    let t = (Double(k) + u(-0.3, 0.3)) * 2 * .pi / 9, r = r0 * u(0.6, 1.25)
                    return Point2(c.x + r * cos(t), c.y + r * sin(t))
                }]
            default:
                // A microphone: its head over the mouth or chin, the handle out of the frame's bottom.
                let head = Point2(bx + bw * u(0.3, 0.7), by + bh * u(0.7, 0.95)), angle = u(-0.7, 0.7)
                let length = bh * 0.9, width = bw * u(0.07, 0.12)
                let mid = Point2(head.x - sin(angle) * length / 2, head.y + cos(angle) * length / 2)
                polygons = [ellipse(head, bw * u(0.09, 0.13), bw * u(0.09, 0.13), 0), box(mid, width, length, angle)]
            }
            // Coverage of the hull on a 64 x 64 grid over the face box.
            var inHull = 0, covered = 0
            for j in 0..<64 {
                for i in 0..<64 {
                    let p = Point2(bx + bw * (Double(i) + 0.5) / 64, by + bh * (Double(j) + 0.5) / 64)
                    guard inside(p, hull) else { continue }
                    inHull += 1
                    if polygons.contains(where: { inside(p, $0) }) { covered += 1 }
                }
            }
            let share = Double(covered) / Double(max(inHull, 1))
            guard share >= 0.08, share <= 0.5 else { continue }
            let side: Double = g.unit() < 0.5 ? -1 : 1
            return Occluder(polygons: polygons, shape: shape, coverage: share, skin: shape == "hand",
                            shift: (side * bw * u(0.6, 0.9), bh * u(-0.2, 0.2)), gain: u(0.8, 1.15))
        }
        return nil
    }

    /// The frames 0..<count of a video.
    static func frames(_ path: String, count: Int) throws -> [Image] {
        let decoder = try VideoDecoder(path: path)
        var out: [Image] = []
        while out.count < count, let f = try decoder.nextFrame() { out.append(f.image) }
        return out
    }

    /// Writes `role`'s sample video with its occluders painted in (H.264, near-lossless), frames 0..<N where N is the
    /// role's face count.
    public static func writeVideo(role: Role, to path: String) throws {
        let own = role == .dst ? MergeFixture.dstVideo : MergeFixture.srcVideo
        let other = role == .dst ? MergeFixture.srcVideo : MergeFixture.dstVideo
        let count = rows(role).count
        let others = try frames(other, count: count)
        let otherRows = rows(role == .dst ? .src : .dst)
        let decoder = try VideoDecoder(path: own)
        let info = decoder.info
        let encoder = try VideoEncoder(path: path, width: info.width, height: info.height, fps: info.fps, crf: 12,
                                       preset: "veryfast")
        while let f = try decoder.nextFrame(), f.index < count {
            var image = f.image
            if let o = occluder(role: role, frame: f.index),
               let row = rows(role).first(where: { $0.frame == f.index }) {
                let original = f.image
                let xs = o.polygons.flatMap { $0.map(\.x) }, ys = o.polygons.flatMap { $0.map(\.y) }
                let x0 = max(0, Int(xs.min()!.rounded(.down))), x1 = min(image.width - 1, Int(xs.max()!.rounded(.up)))
                let y0 = max(0, Int(ys.min()!.rounded(.down))), y1 = min(image.height - 1, Int(ys.max()!.rounded(.up)))
                let cx = row.box[0] + row.box[2] / 2, cy = row.box[1] + row.box[3] / 2
                let skinSource = others[f.index % others.count]
                let otherRow = otherRows[f.index % otherRows.count]
                // Skin: the other face's middle (cheeks, nose), at 0.6 scale about the occluded face's centre.
                let ox = otherRow.box[0] + otherRow.box[2] / 2, oy = otherRow.box[1] + otherRow.box[3] * 0.55
                func reflect(_ v: Int, _ n: Int) -> Int {
                    var v = v
                    while v < 0 || v >= n { v = v < 0 ? -v - 1 : 2 * n - v - 1 }
                    return v
                }
                if x0 <= x1 && y0 <= y1 {
                    for y in y0...y1 {
                        for x in x0...x1 where o.covers(Point2(Double(x), Double(y))) {
                            let source: Image, sx: Int, sy: Int
                            if o.skin {
                                source = skinSource
                                sx = reflect(Int((ox + (Double(x) - cx) * 0.6).rounded()), source.width)
                                sy = reflect(Int((oy + (Double(y) - cy) * 0.6).rounded()), source.height)
                            } else {
                                source = original
                                sx = reflect(x + Int(o.shift.0), source.width)
                                sy = reflect(y + Int(o.shift.1), source.height)
                            }
                            for c in 0..<3 {
                                let v = Double(source.pixels[(sy * source.width + sx) * 3 + c]) * o.gain
                                image.pixels[(y * image.width + x) * 3 + c] = UInt8(max(0, min(255, v.rounded())))
                            }
                        }
                    }
                }
            }
            try encoder.append(image)
        }
        try encoder.finish()
    }

    /// A new project at `path` with both occluded videos (written beside it) and their 60 dst and 30 src faces (the
    /// sample videos' stored landmarks and matrices, 256 px crops cut from the occluded frames).
    public static func makeProject(at path: String) throws -> Project {
        let p = try Project.create(at: path)
        for role in [Role.dst, .src] {
            let video = (path as NSString).deletingPathExtension + "-\(role.rawValue)-occluded.mp4"
            try writeVideo(role: role, to: video)
            let media = try MediaImporter.importMedia(path: video, role: role, link: false, into: p)
            try MergeFixture.storeFaces(rows(role), of: video, media: media.id!, role: role, crops: true, in: p)
        }
        return p
    }

    /// The true mask of `role`'s frame `index` over its 256 px crop, resized to `size` (area filter): 255 where a
    /// pixel centre is inside the landmark hull and not covered by the occluder; with `occluder: false`, the hull.
    public static func truthMask(role: Role, frame index: Int, size: Int, occluder withOccluder: Bool = true) -> Image {
        let row = rows(role).first { $0.frame == index }!
        let crop = 256
        let hull = convexHull(row.landmarks.points.map { row.matrix.apply($0) })
        let toFrame = row.matrix.inverted!
        let o = withOccluder ? occluder(role: role, frame: index) : nil
        var mask = Image(width: crop, height: crop, channels: 1)
        for y in 0..<crop {
            for x in 0..<crop {
                let p = Point2(Double(x), Double(y))
                guard hull.count >= 3, inside(p, hull) else { continue }
                if let o, o.covers(toFrame.apply(p)) { continue }
                mask.pixels[y * crop + x] = 255
            }
        }
        return size == crop ? mask : mask.resized(width: size, height: size, filter: .area)
    }
}
