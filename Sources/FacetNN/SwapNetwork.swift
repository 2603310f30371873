/// What training, preview, compare and merge need from a face-swap autoencoder, whatever its
/// architecture (Quick96 and its tiny variant, H128).
import FacetCore

/// A shared encoder with one decoder (image + mask) per role, trained on both roles at once.
/// Not thread-safe: one thread drives a network at a time.
public protocol SwapNetwork: AnyObject {
    /// Side of the square faces it takes and returns, in pixels.
    var resolution: Int { get }
    /// The optimizer of `trainStep`.
    var optimizer: any Optimizer { get }
    /// Every parameter with its full path, in a fixed order.
    var namedParameters: [(name: String, parameter: Parameter)] { get }
    /// Number of trainable floats.
    var parameterCount: Int { get }
    /// Forward, backward and one optimizer step; the per-sample losses before the update.
    func trainStep(src: TrainingBatch, dst: TrainingBatch) -> StepLosses
    /// Forward and backward without the update (parameter gradients of the summed loss).
    func computeGradients(src: TrainingBatch, dst: TrainingBatch) -> StepLosses
    /// The losses `trainStep` would report, without training.
    func evaluate(src: TrainingBatch, dst: TrainingBatch) -> StepLosses
    /// Faces `[N, R, R, 3]` through the encoder and the chosen decoder; copies of the image
    /// `[N, R, R, 3]` and mask `[N, R, R, 1]`, in (0, 1).
    func predict(_ faces: Tensor, decoder role: FaceRole) -> (image: Tensor, mask: Tensor)
    /// Weights then optimizer state.
    func exportTensors() -> [NamedTensor]
    /// Restores what `exportTensors` produced; throws (changing nothing) on a mismatch.
    func importTensors(_ tensors: [NamedTensor]) throws
}

extension SwapNetwork {
    public var parameterCount: Int { namedParameters.reduce(0) { $0 + $1.parameter.value.count } }

    public func exportTensors() -> [NamedTensor] {
        Checkpoint.export(parameters: namedParameters, optimizer: optimizer)
    }

    public func importTensors(_ tensors: [NamedTensor]) throws {
        try Checkpoint.load(tensors, parameters: namedParameters, optimizer: optimizer)
    }

    /// For a network that only predicts from now on (merge): every parameter is frozen, so the
    /// convolutions transform their kernels into the Winograd domain once and keep them, instead
    /// of on every call. Outputs are unchanged. An optimizer step or a checkpoint load still makes
    /// them transform again; `thawAfterInference()` returns to training's behaviour.
    public func freezeForInference() { for (_, p) in namedParameters { p.freeze() } }

    /// Undoes `freezeForInference()`.
    public func thawAfterInference() { for (_, p) in namedParameters { p.thaw() } }
}

extension Quick96: SwapNetwork {
    public var resolution: Int { config.resolution }
}
