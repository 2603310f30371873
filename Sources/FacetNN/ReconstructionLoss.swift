/// What the reconstruction loss of a swap network weighs: the face inside its mask only (DeepFaceLab's
/// `masked_training`) and extra weight on the eyes and mouth (`eyes_mouth_prio`).
import Foundation

/// The loss knobs a swap network trains with, shared by Quick96 and H128.
public struct LossOptions: Sendable, Equatable, Codable {
    /// The image loss only inside the blurred face mask (true) or over the whole square (false).
    public var masked: Bool
    /// Weight of `mean(|target - prediction|)` inside the eyes-and-mouth mask (`TrainingBatch.priority`); 0 turns it
    /// off. DeepFaceLab's `eyes_mouth_prio` uses 300.
    public var eyesMouthWeight: Float

    /// Masked, no priority: what Facet trained with before these knobs.
    public init(masked: Bool = true, eyesMouthWeight: Float = 0) {
        self.masked = masked
        self.eyesMouthWeight = eyesMouthWeight
    }

    /// DeepFaceLab's weight of the eyes-and-mouth term.
    public static let deepFaceLabEyesMouthWeight: Float = 300
}

/// The parts of a role's loss the options add or change: the mask the image loss sees, and the priority term.
final class ReconstructionTerms {
    private let ones = Tensor(shape: [0])
    private var priority = MaskedLoss(MAELoss(scale: 0))

    /// The mask for the image loss: `blurred` when masked, else all ones of its shape.
    func imageMask(_ blurred: Tensor, options: LossOptions) -> Tensor {
        guard !options.masked else { return blurred }
        if ones.shape != blurred.shape {
            ones.resize(to: blurred.shape)
            ones.fill(1)
        }
        return ones
    }

    /// The eyes-and-mouth term per sample (zeros when off or when the batch has no priority mask); its gradient is
    /// added into `imageGrad` when given.
    func priorityLoss(_ batch: TrainingBatch, prediction: Tensor, imageGrad: Tensor?,
                      options: LossOptions) -> [Float]? {
        guard options.eyesMouthWeight > 0, let em = batch.priority else { return nil }
        if (priority.inner as? MAELoss)?.scale != options.eyesMouthWeight {
            priority = MaskedLoss(MAELoss(scale: options.eyesMouthWeight))
        }
        priority.mask = em
        return priority.evaluate(prediction: prediction, target: batch.target, gradient: imageGrad, accumulate: true)
    }
}
