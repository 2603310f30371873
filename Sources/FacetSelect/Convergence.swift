/// Loss-curve analysis: smoothing, and a power-law fit that projects when a target loss is reached and whether the
/// curve has flattened.
import Foundation

/// A trailing moving average of `values` over `window` points (fewer at the start).
public func movingAverage(_ values: [Double], window: Int) -> [Double] {
    let w = max(1, window)
    var out: [Double] = [], sum = 0.0
    out.reserveCapacity(values.count)
    for (i, v) in values.enumerated() {
        sum += v
        if i >= w { sum -= values[i - w] }
        out.append(sum / Double(min(i + 1, w)))
    }
    return out
}

/// The smoothing window the listing and the plot use for a curve of `count` iterations: a tenth
/// of the run, at most 50 (what the trainer's checkpoint losses average over).
public func smoothingWindow(count: Int) -> Int { max(1, min(50, count / 10)) }

/// loss(k) ~ a * k^-b + c fitted to a training curve: c is the floor the curve tends to, b how
/// fast it gets there.
public struct ConvergenceFit: Codable, Sendable, Equatable {
    /// The law `a * k^-b + floor`: scale `a` and exponent `b`.
    public var a: Double
    /// The exponent: how fast the curve approaches its floor.
    public var b: Double
    /// The projected floor: the loss the curve approaches as training goes on.
    public var floor: Double
    /// The last iteration the fit saw.
    public var lastIteration: Int
    /// The fitted loss at the last iteration.
    public var currentLoss: Double
    /// The target the projection is for: the one asked for, or 5% above the floor.
    public var target: Double
    /// Whether `target` is the default (not asked for).
    public var targetIsDefault: Bool
    /// The iteration at which the fitted curve reaches `target` (at or before `lastIteration` when
    /// already reached); nil when the target is at or below the floor, so it is never reached.
    public var targetIteration: Int?
    /// True when doubling the iterations is projected to lower the loss by less than 1%.
    public var flattened: Bool
    /// Root-mean-square relative error of the fit against the binned curve.
    public var rmse: Double

    /// The fitted loss at iteration `k`.
    public func value(at k: Double) -> Double { a * pow(max(k, 1), -b) + floor }

    /// One line for people: floor, where the target falls, flattened or not.
    public var summary: String {
        // A floor fitted at 0 means a pure power law fits the curve so far: no floor to speak of yet.
        if floor <= 0 && targetIsDefault {
            return "no floor in sight yet, " + (flattened ? "flattened" : "still falling")
        }
        let t = targetIsDefault ? "floor+5%" : "target \(format(target))"
        let when: String
        if let k = targetIteration {
            when = k <= lastIteration ? "\(t) reached" : "\(t) at it ~\(k)"
        } else {
            when = "\(t) not reached"
        }
        return "floor \(format(floor)), \(when), " + (flattened ? "flattened" : "still falling")
    }

    private func format(_ v: Double) -> String { String(format: v != 0 && abs(v) < 0.01 ? "%.2e" : "%.4f", v) }
}

/// The power-law fit of a loss curve (see `fit`).
public enum Convergence {
    /// Fits `a * k^-b + c` to the binned curve of (iteration, loss) pairs. Returns nil for fewer
    /// than 8 points. `target` nil projects "within 5% of the floor".
    ///
    /// For each candidate floor c (a grid below the smallest loss, then refined by golden-section
    /// search) log(loss - c) is linear in log k, so a and b come from least squares; the c with
    /// the least squared relative error wins (so the early, large losses do not outweigh the tail). A curve that does
    /// not fall gets b = 0.
    public static func fit(iterations: [Int], losses: [Double], target: Double? = nil) -> ConvergenceFit? {
        let pairs = zip(iterations, losses).filter { $0.0 >= 1 && $0.1.isFinite && $0.1 > 0 }
        guard pairs.count >= 8 else { return nil }
        // Means of consecutive bins (at most ~200): noise averages out without the lag a trailing
        // average has on a falling curve (which would make it look steeper than it is).
        let bin = max(1, pairs.count / 200)
        var ks: [Double] = [], ys: [Double] = []
        for start in Swift.stride(from: 0, to: pairs.count, by: bin) {
            let part = pairs[start..<min(start + bin, pairs.count)]
            ks.append(part.reduce(0.0) { $0 + Double($1.0) } / Double(part.count))
            ys.append(part.reduce(0.0) { $0 + $1.1 } / Double(part.count))
        }
        let lk = ks.map { log($0) }
        let minY = ys.min()!

        func solve(_ c: Double) -> (a: Double, b: Double, sse: Double)? {
            var sx = 0.0, sy = 0.0, sxx = 0.0, sxy = 0.0
            let n = Double(ks.count)
            for i in 0..<ks.count {
                let y = log(ys[i] - c)
                sx += lk[i]; sy += y; sxx += lk[i] * lk[i]; sxy += lk[i] * y
            }
            let den = n * sxx - sx * sx
            guard den > 1e-12 else { return nil }
            let slope = (n * sxy - sx * sy) / den
            let b = max(0, -slope)
            // With b clamped, the intercept is refitted for that slope.
            let la = (sy + b * sx) / n
            let a = exp(la)
            var sse = 0.0
            for i in 0..<ks.count { let r = (a * pow(ks[i], -b) + c - ys[i]) / ys[i]; sse += r * r }
            return (a, b, sse)
        }

        let steps = 60
        var best: (c: Double, a: Double, b: Double, sse: Double)? = nil
        var bestIndex = 0
        for i in 0..<steps {
            let c = minY * 0.999 * Double(i) / Double(steps - 1)
            if let r = solve(c), best == nil || r.sse < best!.sse { best = (c, r.a, r.b, r.sse); bestIndex = i }
        }
        guard var fit = best else { return nil }
        // Golden-section refinement between the grid neighbours of the best floor.
        var lo = minY * 0.999 * Double(max(0, bestIndex - 1)) / Double(steps - 1)
        var hi = minY * 0.999 * Double(min(steps - 1, bestIndex + 1)) / Double(steps - 1)
        let g = (5.0.squareRoot() - 1) / 2
        for _ in 0..<40 {
            let m1 = hi - g * (hi - lo), m2 = lo + g * (hi - lo)
            let e1 = solve(m1)?.sse ?? .infinity, e2 = solve(m2)?.sse ?? .infinity
            if e1 < e2 { hi = m2 } else { lo = m1 }
        }
        let c = (lo + hi) / 2
        if let r = solve(c), r.sse < fit.sse { fit = (c, r.a, r.b, r.sse) }

        let last = pairs.last!.0
        let result = ConvergenceFit(a: fit.a, b: fit.b, floor: fit.c, lastIteration: last, currentLoss: 0, target: 0,
                                    targetIsDefault: target == nil,
                                    targetIteration: nil, flattened: false,
                                    rmse: (fit.sse / Double(ks.count)).squareRoot())
        return result.projecting(target: target)
    }
}

extension ConvergenceFit {
    /// This fit with its projection for `target` (nil: 5% above the floor).
    public func projecting(target wanted: Double?) -> ConvergenceFit {
        var f = self
        f.currentLoss = value(at: Double(lastIteration))
        f.targetIsDefault = wanted == nil
        f.target = wanted ?? floor * 1.05
        if f.currentLoss <= f.target {
            // Already there: the first iteration where the fitted curve is at or below the target.
            f.targetIteration = f.target > floor && b > 0 ? min(
                lastIteration, Int(pow(a / (f.target - floor), 1 / b).rounded(.up))) : lastIteration
        } else if f.target > floor, b > 0 {
            let k = pow(a / (f.target - floor), 1 / b)
            f.targetIteration = k.isFinite && k < Double(Int.max / 2) ? Int(k.rounded(.up)) : nil
        } else {
            f.targetIteration = nil
        }
        // Doubling the iterations lowers the fitted loss by a * k^-b * (1 - 2^-b).
        let drop = a * pow(Double(max(lastIteration, 1)), -b) * (1 - pow(2, -b))
        f.flattened = drop < 0.01 * f.currentLoss
        return f
    }
}
