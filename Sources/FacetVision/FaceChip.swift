/// dlib's face chip: `get_face_chip_details(shape, size, padding)` and `extract_image_chip` with
/// bilinear interpolation over dlib's `pyramid_down<2>`, reproduced step for step so that a
/// descriptor computed here sees the pixels dlib's `compute_face_descriptor` sees.
import FacetCore
import Foundation

/// dlib's `drectangle`: real-valued, `right` and `bottom` inclusive (width is `right - left + 1`).
struct DRect: Equatable {
    var left, top, right, bottom: Double
    static let empty = DRect(left: 0, top: 0, right: -1, bottom: -1)
    var isEmpty: Bool { top > bottom || left > right }
    var width: Double { isEmpty ? 0 : right - left + 1 }
    var height: Double { isEmpty ? 0 : bottom - top + 1 }
    var area: Double { width * height }
    var center: Point2 { Point2((left + right) / 2, (top + bottom) / 2) }
    /// The smallest rectangle holding both (dlib's `operator+`).
    func union(_ o: DRect) -> DRect {
        if o.isEmpty { return self }
        if isEmpty { return o }
        return DRect(left: min(left, o.left), top: min(top, o.top), right: max(right, o.right),
                     bottom: max(bottom, o.bottom))
    }
    func intersect(_ o: DRect) -> DRect {
        DRect(left: max(left, o.left), top: max(top, o.top), right: min(right, o.right), bottom: min(bottom, o.bottom))
    }
    static func around(_ p: Point2) -> DRect { DRect(left: p.x, top: p.y, right: p.x, bottom: p.y) }
}

/// Where dlib cuts a face chip: a rectangle in the image, rotated by `angle` about its centre,
/// sampled into `size x size` pixels (dlib's `chip_details`).
public struct FaceChipDetails: Sendable, Equatable {
    /// The rectangle before rotation, in image pixels (dlib's `drectangle`, edges inclusive).
    public var left, top, right, bottom: Double
    /// Radians, as dlib's `chip_details::angle`.
    public var angle: Double
    /// Chip side in pixels.
    public var size: Int

    var rect: DRect { DRect(left: left, top: top, right: right, bottom: bottom) }

    /// dlib's `get_face_chip_details(det, size, padding)` for 68 landmarks: the similarity transform
    /// taking dlib's mean face (points 17...67 without the brows and the lower lip's outer and
    /// inner bottom points) in a `size` square with `padding` on each side to the landmarks, each
    /// landmark first rounded to a whole pixel (dlib's `full_object_detection` keeps integers).
    public init(landmarks: Landmarks68, size: Int = 150, padding: Double = 0.25) {
        precondition(landmarks.points.count == 68, "FaceChipDetails needs 68 landmarks, got \(landmarks.points.count)")
        var from: [Point2] = [], to: [Point2] = []
        for i in 17..<68 where !((55...59).contains(i) || (65...67).contains(i) || (17...26).contains(i)) {
            let m = FaceChipDetails.meanFace[i - 17]
            from.append(Point2((padding + m.0) / (2 * padding + 1) * Double(size),
                               (padding + m.1) / (2 * padding + 1) * Double(size)))
            let p = landmarks.points[i]
            to.append(Point2((p.x + 0.5).rounded(.down), (p.y + 0.5).rounded(.down)))
        }
        let t = similarityTransform(from: from, to: to) ?? Affine2D(a: 1, b: 0, tx: to[0].x, c: 0, d: 1, ty: to[0].y)
        // dlib: p = M (1, 0); angle = atan2(p.y, p.x); scale = |p|; the rectangle centred on the
        // image of the chip's centre, size * scale wide (centered_drect subtracts 1 from the width).
        angle = atan2(t.c, t.a)
        let scale = (t.a * t.a + t.c * t.c).squareRoot()
        let c = t.apply(Point2(Double(size) / 2, Double(size) / 2))
        let w = Double(size) * scale - 1
        left = c.x - w / 2; top = c.y - w / 2; right = c.x + w / 2; bottom = c.y + w / 2
        self.size = size
    }

    /// Mean positions of landmarks 17...67 in the unit square (dlib's `mean_face_shape_x/y`).
    static let meanFace: [(Double, Double)] = {
        let x: [Double] = [
            0.000213256, 0.0752622, 0.18113, 0.29077, 0.393397, 0.586856, 0.689483, 0.799124,
            0.904991, 0.98004, 0.490127, 0.490127, 0.490127, 0.490127, 0.36688, 0.426036,
            0.490127, 0.554217, 0.613373, 0.121737, 0.187122, 0.265825, 0.334606, 0.260918,
            0.182743, 0.645647, 0.714428, 0.793132, 0.858516, 0.79751, 0.719335, 0.254149,
            0.340985, 0.428858, 0.490127, 0.551395, 0.639268, 0.726104, 0.642159, 0.556721,
            0.490127, 0.423532, 0.338094, 0.290379, 0.428096, 0.490127, 0.552157, 0.689874,
            0.553364, 0.490127, 0.42689]
        let y: [Double] = [
            0.106454, 0.038915, 0.0187482, 0.0344891, 0.0773906, 0.0773906, 0.0344891,
            0.0187482, 0.038915, 0.106454, 0.203352, 0.307009, 0.409805, 0.515625, 0.587326,
            0.609345, 0.628106, 0.609345, 0.587326, 0.216423, 0.178758, 0.179852, 0.231733,
            0.245099, 0.244077, 0.231733, 0.179852, 0.178758, 0.216423, 0.244077, 0.245099,
            0.780233, 0.745405, 0.727388, 0.742578, 0.727388, 0.745405, 0.780233, 0.864805,
            0.902192, 0.909281, 0.902192, 0.864805, 0.784792, 0.778746, 0.785343, 0.778746,
            0.784792, 0.824182, 0.831803, 0.824182]
        return Array(zip(x, y))
    }()
}

/// `pyramid_down<2>`'s coordinate map: a point of one level on the level below.
@inline(__always) private func pointDown(_ p: Point2) -> Point2 { Point2(p.x / 2 - 1.25, p.y / 2 - 0.75) }

@inline(__always) private func rectDown(_ r: DRect) -> DRect {
    DRect.around(pointDown(Point2(r.left, r.top))).union(.around(pointDown(Point2(r.right, r.bottom))))
}

@inline(__always) private func rotate(_ p: Point2, about c: Point2, cos: Double, sin: Double) -> Point2 {
    let x = p.x - c.x, y = p.y - c.y
    return Point2(cos * x - sin * y + c.x, sin * x + cos * y + c.y)
}

/// An RGB pixel buffer in one pyramid level (row-major, 3 bytes a pixel).
private struct RGBPlane {
    var width: Int
    var height: Int
    var pixels: [UInt8]
}

/// dlib's `pyramid_down<2>` on RGB: a 1-4-6-4-1 filter each way in 16-bit integers, every other
/// row and column from the third, `(size - 3) / 2` pixels each way; nothing for 8 pixels or fewer.
private func pyramidDown(_ src: RGBPlane) -> RGBPlane {
    guard src.width > 8, src.height > 8 else { return RGBPlane(width: 0, height: 0, pixels: []) }
    let tw = (src.width - 3) / 2, h = src.height
    let dh = (src.height - 3) / 2
    var temp = [UInt16](repeating: 0, count: h * tw * 3)
    src.pixels.withUnsafeBufferPointer { s in
        temp.withUnsafeMutableBufferPointer { t in
            for r in 0..<h {
                let row = r * src.width * 3
                for c in 0..<tw {
                    let o = row + 2 * c * 3
                    for ch in 0..<3 {
                        let v = UInt16(s[o + ch]) + 4 * UInt16(s[o + 3 + ch]) + 6 * UInt16(s[o + 6 + ch])
                            + 4 * UInt16(s[o + 9 + ch]) + UInt16(s[o + 12 + ch])
                        t[(r * tw + c) * 3 + ch] = v
                    }
                }
            }
        }
    }
    var out = [UInt8](repeating: 0, count: dh * tw * 3)
    temp.withUnsafeBufferPointer { t in
        out.withUnsafeMutableBufferPointer { d in
            var dr = 0, r = 2
            while r < h - 2 {
                for i in 0..<(tw * 3) {
                    let v = t[(r - 2) * tw * 3 + i] &+ 4 &* t[(r - 1) * tw * 3 + i] &+ 6 &* t[r * tw * 3 + i]
                        &+ 4 &* t[(r + 1) * tw * 3 + i] &+ t[(r + 2) * tw * 3 + i]
                    d[dr * tw * 3 + i] = UInt8(v / 256)
                }
                dr += 1
                r += 2
            }
        }
    }
    return RGBPlane(width: tw, height: dh, pixels: out)
}

/// dlib's `extract_image_chip(img, details, chip)` with bilinear interpolation, for one face
/// (as `compute_face_descriptor(img, shape)` calls it): pick the pyramid depth at which the chip's
/// rectangle is no larger than the chip, build that pyramid over the (grown) bounding box of the
/// rotated rectangle, and sample each chip pixel bilinearly from it; samples whose 2x2
/// neighbourhood leaves the image are black. The chip is RGB; grey images are read as RGB and an
/// alpha channel is ignored.
public func extractFaceChip(from image: Image, details: FaceChipDetails) -> Image {
    let size = details.size
    let chipArea = Double(size * size)
    let rgb = image.rgb()
    var out = Image(width: size, height: size, channels: 3)
    let rect = details.rect
    // Landmarks far outside any image (or not numbers) give a black chip rather than a trap.
    let limit = 1e8
    guard [rect.left, rect.top, rect.right, rect.bottom, details.angle].allSatisfy({ $0.isFinite && abs($0) < limit }),
          !rect.isEmpty, rgb.width > 0, rgb.height > 0 else { return out }

    // Pyramid depth and the grown bounding box (dlib: 2 pixels, doubled plus 2 per level).
    var depth = 0, grow = 2.0
    var r = rectDown(rect)
    while r.area > chipArea { r = rectDown(r); depth += 1; grow = grow * 2 + 2 }
    let cosA = cos(details.angle), sinA = sin(details.angle)
    let centre = rect.center
    var rotated = DRect.empty
    for corner in [Point2(rect.left, rect.top), Point2(rect.right, rect.top), Point2(rect.left, rect.bottom),
                   Point2(rect.right, rect.bottom)] {
        rotated = rotated.union(.around(rotate(corner, about: centre, cos: cosA, sin: sinA)))
    }
    let imageRect = DRect(left: 0, top: 0, right: Double(rgb.width - 1), bottom: Double(rgb.height - 1))
    let grown = DRect(left: rotated.left - grow, top: rotated.top - grow, right: rotated.right + grow,
                      bottom: rotated.bottom + grow)
        .intersect(imageRect)
    // drectangle -> rectangle rounds each side with lround (halves away from zero).
    let bl = Int(grown.left.rounded(.toNearestOrAwayFromZero)), bt = Int(grown.top.rounded(.toNearestOrAwayFromZero))
    let br = Int(grown.right.rounded(.toNearestOrAwayFromZero)),
        bb = Int(grown.bottom.rounded(.toNearestOrAwayFromZero))
    guard br >= bl, bb >= bt else { return out }

    // The level to sample, and the chip rectangle in its coordinates.
    var level = -1
    var local = DRect(left: rect.left - Double(bl), top: rect.top - Double(bt), right: rect.right - Double(bl),
                      bottom: rect.bottom - Double(bt))
    while rectDown(local).area > chipArea { level += 1; local = rectDown(local) }

    var plane = RGBPlane(width: br - bl + 1, height: bb - bt + 1, pixels: [])
    if level >= 0 {
        plane.pixels = [UInt8](repeating: 0, count: plane.width * plane.height * 3)
        rgb.pixels.withUnsafeBufferPointer { s in
            plane.pixels.withUnsafeMutableBufferPointer { d in
                for y in 0..<plane.height {
                    (d.baseAddress! + y * plane.width * 3).update(
                        from: s.baseAddress! + ((bt + y) * rgb.width + bl) * 3, count: plane.width * 3)
                }
            }
        }
        for _ in 0...level { plane = pyramidDown(plane) }
    }

    // The chip-to-level affine map from three corners (dlib's find_affine_transform of an exact fit).
    let c = local.center
    let p0 = rotate(Point2(local.left, local.top), about: c, cos: cosA, sin: sinA)
    let p1 = rotate(Point2(local.right, local.top), about: c, cos: cosA, sin: sinA)
    let p2 = rotate(Point2(local.left, local.bottom), about: c, cos: cosA, sin: sinA)
    let span = Double(size - 1)
    let m00 = (p1.x - p0.x) / span, m10 = (p1.y - p0.y) / span
    let m01 = (p2.x - p0.x) / span, m11 = (p2.y - p0.y) / span

    // Level -1 samples the image itself inside the bounding box (dlib's sub_image).
    let (pw, ph) = (plane.width, plane.height)
    let (sx0, sy0, stride) = level >= 0 ? (0, 0, pw * 3) : (bl, bt, rgb.width * 3)
    let source = level >= 0 ? plane.pixels : rgb.pixels
    source.withUnsafeBufferPointer { s in
        out.pixels.withUnsafeMutableBufferPointer { d in
            for row in 0..<size {
                for col in 0..<size {
                    let x = m00 * Double(col) + m01 * Double(row) + p0.x
                    let y = m10 * Double(col) + m11 * Double(row) + p0.y
                    let fx = x.rounded(.down), fy = y.rounded(.down)
                    guard fx >= 0, fy >= 0, fx + 1 < Double(pw), fy + 1 < Double(ph) else { continue }
                    let lx = Int(fx), ty = Int(fy)
                    let lr = x - fx, tb = y - fy
                    let o = (sy0 + ty) * stride + (sx0 + lx) * 3
                    let dst = (row * size + col) * 3
                    for ch in 0..<3 {
                        let tl = Double(s[o + ch]), tr = Double(s[o + 3 + ch])
                        let bl = Double(s[o + stride + ch]), brv = Double(s[o + stride + 3 + ch])
                        let v = (1 - tb) * ((1 - lr) * tl + lr * tr) + tb * ((1 - lr) * bl + lr * brv)
                        d[dst + ch] = UInt8(max(0, min(255, v)))
                    }
                }
            }
        }
    }
    return out
}
