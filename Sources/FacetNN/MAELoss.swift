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
        elementwiseLoss("MAELoss", prediction: prediction, target: target, gradient: gradient, accumulate: accumulate,
                        scale: scale) { p, t in
            let d = p - t
            return (abs(d), d > 0 ? 1 : (d < 0 ? -1 : 0))
        }
    }
}
