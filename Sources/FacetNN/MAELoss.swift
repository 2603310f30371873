/// Mean absolute error, the mask loss of DeepFaceLab's H128 (Keras's 'mae').
import Foundation

/// `scale * mean(|prediction - target|)` over each sample's elements. The gradient is
/// `scale * sign(prediction - target) / elements` (0 where they are equal, as TensorFlow's `sign`).
public final class MAELoss: ImageLoss {
    /// The factor the mean is multiplied by.
    public let scale: Float
    /// An MAE loss multiplied by `scale`.
    public init(scale: Float = 1) { self.scale = scale }

    /// The per-sample `scale * mean(|prediction - target|)`; with `gradient`, writes (or adds, with
    /// `accumulate`) the gradient of their sum with respect to `prediction`.
    public func evaluate(prediction: Tensor, target: Tensor, gradient: Tensor?, accumulate: Bool = false) -> [Float] {
        prediction.expectSameShape(target, "MAELoss: the target")
        let n = prediction.batch, per = prediction.perSample
        if let gradient { prepare(gradient, like: prediction, accumulate: accumulate) }
        var out = [Float](repeating: 0, count: n)
        let p = prediction.data, t = target.data, g = gradient?.data
        let k = scale / Float(max(per, 1))
        out.withUnsafeMutableBufferPointer { o in
            let op = o.baseAddress!
            parallelFor(n) { s in
                var sum: Double = 0
                for i in (s * per)..<((s + 1) * per) {
                    let d = p[i] - t[i]
                    sum += Double(abs(d))
                    if let g { g[i] += d > 0 ? k : (d < 0 ? -k : 0) }
                }
                op[s] = scale * Float(sum / Double(max(per, 1)))
            }
        }
        return out
    }
}
