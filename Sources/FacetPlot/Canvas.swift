/// An RGB raster to draw plots on: anti-aliased lines and discs, rectangles and bitmap text.
import Foundation
import FacetCore

/// An 8-bit RGB colour.
public struct RGB: Sendable, Equatable, Hashable {
    /// Red, green and blue, 0...255.
    public var r: UInt8, g: UInt8, b: UInt8
    /// The colour with these red, green and blue values.
    public init(_ r: UInt8, _ g: UInt8, _ b: UInt8) { self.r = r; self.g = g; self.b = b }

    /// The background of every chart.
    public static let white = RGB(255, 255, 255)
    /// Text and axes.
    public static let black = RGB(0, 0, 0)

    /// This colour moved `t` of the way towards `other` (0 = self, 1 = other).
    public func mixed(with other: RGB, _ t: Double) -> RGB {
        func m(_ a: UInt8, _ b: UInt8) -> UInt8 { UInt8((Double(a) + (Double(b) - Double(a)) * t).rounded()) }
        return RGB(m(r, other.r), m(g, other.g), m(b, other.b))
    }

    /// `#rrggbb`, for SVG.
    public var hex: String { String(format: "#%02x%02x%02x", r, g, b) }
}

/// A drawing surface over an RGB `Image`. Coordinates are pixels with pixel centres at integers;
/// edges are anti-aliased by coverage (distance to the shape), so lines of any width look smooth.
public struct Canvas {
    /// What has been drawn so far, 3 channels.
    public private(set) var image: Image

    /// A `width x height` canvas filled with `background`.
    public init(width: Int, height: Int, background: RGB = .white) {
        image = Image(width: width, height: height, channels: 3)
        image.pixels.withUnsafeMutableBufferPointer { p in
            for i in 0..<(width * height) {
                p[3 * i] = background.r; p[3 * i + 1] = background.g; p[3 * i + 2] = background.b
            }
        }
    }

    /// Columns of pixels.
    public var width: Int { image.width }
    /// Rows of pixels.
    public var height: Int { image.height }

    /// Blends `color` over pixel (x, y) with opacity `alpha` (0...1); outside the canvas does nothing.
    public mutating func blend(_ x: Int, _ y: Int, _ color: RGB, alpha: Double) {
        guard x >= 0, y >= 0, x < image.width, y < image.height, alpha > 0 else { return }
        let a = min(alpha, 1), i = (y * image.width + x) * 3
        func m(_ old: UInt8, _ new: UInt8) -> UInt8 { UInt8((Double(old) + (Double(new) - Double(old)) * a).rounded()) }
        image.pixels[i] = m(image.pixels[i], color.r)
        image.pixels[i + 1] = m(image.pixels[i + 1], color.g)
        image.pixels[i + 2] = m(image.pixels[i + 2], color.b)
    }

    /// Fills the pixels x0..<x1, y0..<y1, clipped to the canvas (nothing when that is empty).
    public mutating func fillRect(x0: Int, y0: Int, x1: Int, y1: Int, _ color: RGB) {
        let ya = max(0, y0), yb = min(image.height, y1), xa = max(0, x0), xb = min(image.width, x1)
        guard ya < yb, xa < xb else { return }
        for y in ya..<yb {
            for x in xa..<xb { blend(x, y, color, alpha: 1) }
        }
    }

    /// Copies an RGB or grey `source` with its top-left corner at (x, y), clipped to the canvas.
    public mutating func paste(_ source: Image, x: Int, y: Int) {
        let src = source.rgb()
        for sy in 0..<src.height where y + sy >= 0 && y + sy < image.height {
            for sx in 0..<src.width where x + sx >= 0 && x + sx < image.width {
                let s = (sy * src.width + sx) * 3, d = ((y + sy) * image.width + x + sx) * 3
                image.pixels[d] = src.pixels[s]; image.pixels[d + 1] = src.pixels[s + 1]
                image.pixels[d + 2] = src.pixels[s + 2]
            }
        }
    }

    /// A 1-pixel rectangle outline around x0...x1, y0...y1.
    public mutating func strokeRect(x0: Int, y0: Int, x1: Int, y1: Int, _ color: RGB) {
        fillRect(x0: x0, y0: y0, x1: x1 + 1, y1: y0 + 1, color)
        fillRect(x0: x0, y0: y1, x1: x1 + 1, y1: y1 + 1, color)
        fillRect(x0: x0, y0: y0, x1: x0 + 1, y1: y1 + 1, color)
        fillRect(x0: x1, y0: y0, x1: x1 + 1, y1: y1 + 1, color)
    }

    /// A straight segment `width` pixels wide with round caps. Each pixel takes the coverage of
    /// its centre's distance to the segment, which anti-aliases the edges. `clip` (x0, y0, x1,
    /// y1) limits drawing to a rectangle, so curves never spill over the axes.
    public mutating func line(_ ax: Double, _ ay: Double, _ bx: Double, _ by: Double, color: RGB, width: Double,
                              clip: (Int, Int, Int, Int)? = nil) {
        let h = width / 2
        let c = clip ?? (0, 0, image.width - 1, image.height - 1)
        let xMin = max(c.0, Int((min(ax, bx) - h - 1).rounded(.down))),
            xMax = min(c.2, Int((max(ax, bx) + h + 1).rounded(.up)))
        let yMin = max(c.1, Int((min(ay, by) - h - 1).rounded(.down))),
            yMax = min(c.3, Int((max(ay, by) + h + 1).rounded(.up)))
        guard xMin <= xMax, yMin <= yMax else { return }
        let dx = bx - ax, dy = by - ay, len2 = dx * dx + dy * dy
        for y in yMin...yMax {
            for x in xMin...xMax {
                let px = Double(x) - ax, py = Double(y) - ay
                let t = len2 > 0 ? min(max((px * dx + py * dy) / len2, 0), 1) : 0
                let ex = px - t * dx, ey = py - t * dy
                let d = (ex * ex + ey * ey).squareRoot()
                let coverage = min(max(h + 0.5 - d, 0), 1)
                if coverage > 0 { blend(x, y, color, alpha: coverage) }
            }
        }
    }

    /// A polyline through `points`; `dash` (on, off) in pixels along the line makes it dashed.
    public mutating func polyline(_ points: [(Double, Double)], color: RGB, width: Double,
                                  dash: (Double, Double)? = nil,
                                  clip: (Int, Int, Int, Int)? = nil) {
        guard points.count >= 2 else {
            if let p = points.first { disc(p.0, p.1, radius: width / 2, color: color, clip: clip) }
            return
        }
        guard let dash else {
            for k in 1..<points.count {
                line(points[k - 1].0, points[k - 1].1, points[k].0, points[k].1, color: color, width: width, clip: clip)
            }
            return
        }
        // Walk the line, drawing the "on" stretches of the dash pattern.
        let period = dash.0 + dash.1
        var travelled = 0.0
        for k in 1..<points.count {
            let (ax, ay) = points[k - 1], (bx, by) = points[k]
            let len = ((bx - ax) * (bx - ax) + (by - ay) * (by - ay)).squareRoot()
            guard len > 0 else { continue }
            var s = 0.0
            while s < len {
                let phase = (travelled + s).truncatingRemainder(dividingBy: period)
                let on = phase < dash.0
                let step = min(len - s, on ? dash.0 - phase : period - phase)
                if on {
                    let t0 = s / len, t1 = (s + step) / len
                    line(ax + (bx - ax) * t0, ay + (by - ay) * t0, ax + (bx - ax) * t1, ay + (by - ay) * t1,
                         color: color, width: width, clip: clip)
                }
                s += max(step, 1e-6)
            }
            travelled += len
        }
    }

    /// A filled disc with an anti-aliased edge.
    public mutating func disc(_ cx: Double, _ cy: Double, radius: Double, color: RGB,
                              clip: (Int, Int, Int, Int)? = nil) {
        let c = clip ?? (0, 0, image.width - 1, image.height - 1)
        let x0 = max(c.0, Int((cx - radius - 1).rounded(.down))), x1 = min(c.2, Int((cx + radius + 1).rounded(.up)))
        let y0 = max(c.1, Int((cy - radius - 1).rounded(.down))), y1 = min(c.3, Int((cy + radius + 1).rounded(.up)))
        guard x0 <= x1, y0 <= y1 else { return }
        for y in y0...y1 {
            for x in x0...x1 {
                let d = ((Double(x) - cx) * (Double(x) - cx) + (Double(y) - cy) * (Double(y) - cy)).squareRoot()
                let coverage = min(max(radius + 0.5 - d, 0), 1)
                if coverage > 0 { blend(x, y, color, alpha: coverage) }
            }
        }
    }

    /// Draws `text` with its top-left corner at (x, y), each font pixel a `scale` x `scale` block.
    /// With `vertical`, the text runs bottom to top (a y-axis label) from (x, y) as its bottom-left.
    public mutating func text(_ text: String, x: Int, y: Int, scale: Int = 2, color: RGB, vertical: Bool = false) {
        for (k, ch) in text.enumerated() {
            let origin = k * BitmapFont.advance
            for gy in 0..<BitmapFont.glyphHeight {
                for gx in 0..<BitmapFont.glyphWidth where BitmapFont.isSet(ch, x: gx, y: gy) {
                    let u = origin + gx, v = gy
                    for sy in 0..<scale {
                        for sx in 0..<scale {
                            if vertical {
                                blend(x + v * scale + sy, y - u * scale - sx, color, alpha: 1)
                            } else {
                                blend(x + u * scale + sx, y + v * scale + sy, color, alpha: 1)
                            }
                        }
                    }
                }
            }
        }
    }
}
