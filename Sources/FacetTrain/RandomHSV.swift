/// DeepFaceLab's `random_hsv_power` (SAEHD): each src training face's network input gets one random hue, saturation
/// and value shift, so the network learns to give the src colours back from slightly recoloured inputs (its help:
/// "stabilizes color perturbations during face swapping"). The targets, the masks and every dst face stay as they are.
import Foundation
import FacetCore
import FacetNN

/// One face's colour shift, drawn as DeepFaceLab's `SampleProcessor` draws it.
public struct HSVShift: Sendable, Equatable {
    /// Degrees added to the hue (modulo 360): an integer in `-h...h`, `h = max(1, int(360 * power / 2))`.
    public var hue: Double
    /// Added to the saturation (then clipped to 0...1): uniform in `-power/2 ..< power/2`.
    public var saturation: Double
    /// Added to the value (then clipped to 0...1): uniform in `-power/2 ..< power/2`.
    public var value: Double

    /// A shift of the given amounts.
    public init(hue: Double, saturation: Double, value: Double) {
        self.hue = hue; self.saturation = saturation; self.value = value
    }

    /// The valid range of `random_hsv_power` (DeepFaceLab asks for 0.0 .. 0.3; 0 is off).
    public static let powerRange: ClosedRange<Double> = 0...0.3

    /// The largest hue shift at `power`, in degrees: DeepFaceLab's `max(1, int(360 * power * 0.5))`.
    public static func hueAmount(power: Double) -> Int { max(1, Int(360 * power * 0.5)) }

    /// A shift at `power` (> 0), drawn from `g`: hue first, then saturation, then value, as DeepFaceLab does.
    static func draw(power: Double, generator g: inout SeededGenerator) -> HSVShift {
        let h = hueAmount(power: power)
        let hue = Double(Int(g.next() % UInt64(2 * h + 1)) - h)
        let s = (g.uniform(0, 1) - 0.5) * power
        let v = (g.uniform(0, 1) - 0.5) * power
        return HSVShift(hue: hue, saturation: s, value: v)
    }

    /// Applies the shift to `count` RGB pixels in [0, 1] in place: to HSV (OpenCV's float conversion: hue in degrees,
    /// saturation `(max - min) / max`, value `max`), hue plus `hue` modulo 360, saturation and value plus theirs
    /// clipped to [0, 1], back to RGB, clipped to [0, 1].
    public func apply(to rgb: UnsafeMutablePointer<Float>, pixels count: Int) {
        for p in 0..<count {
            let px = rgb + p * 3
            var (h, s, v) = HSVShift.hsv(Double(px[0]), Double(px[1]), Double(px[2]))
            h = (h + hue).truncatingRemainder(dividingBy: 360)
            if h < 0 { h += 360 }
            s = min(max(s + saturation, 0), 1)
            v = min(max(v + value, 0), 1)
            let (r, g, b) = HSVShift.rgb(h, s, v)
            px[0] = Float(min(max(r, 0), 1))
            px[1] = Float(min(max(g, 0), 1))
            px[2] = Float(min(max(b, 0), 1))
        }
    }

    /// OpenCV's RGB to HSV for float images: hue in [0, 360) degrees, saturation and value in [0, 1].
    static func hsv(_ r: Double, _ g: Double, _ b: Double) -> (Double, Double, Double) {
        let v = max(r, g, b), d = v - min(r, g, b)
        let s = v > 0 ? d / v : 0
        guard d > 0 else { return (0, s, v) }
        var h: Double
        if v == r {
            h = 60 * (g - b) / d
        } else if v == g {
            h = 120 + 60 * (b - r) / d
        } else {
            h = 240 + 60 * (r - g) / d
        }
        if h < 0 { h += 360 }
        return (h, s, v)
    }

    /// OpenCV's HSV to RGB for float images (hue in degrees).
    static func rgb(_ h: Double, _ s: Double, _ v: Double) -> (Double, Double, Double) {
        guard s > 0 else { return (v, v, v) }
        var h6 = h / 60
        if h6 >= 6 { h6 -= 6 }
        let i = Int(h6.rounded(.down)), f = h6 - Double(i)
        let p = v * (1 - s), q = v * (1 - s * f), t = v * (1 - s * (1 - f))
        switch i {
        case 0: return (v, t, p)
        case 1: return (q, v, p)
        case 2: return (p, v, t)
        case 3: return (p, q, v)
        case 4: return (t, p, v)
        default: return (v, p, q)
        }
    }
}
