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
    /// Masked training and the eyes-and-mouth priority of the training loss.
    var lossOptions: LossOptions { get set }
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
    /// Number of trainable floats, summed over `namedParameters`.
    public var parameterCount: Int { namedParameters.reduce(0) { $0 + $1.parameter.value.count } }

    /// `computeGradients`, then one optimizer step over every parameter; the losses before it.
    @discardableResult
    public func trainStep(src: TrainingBatch, dst: TrainingBatch) -> StepLosses {
        let losses = computeGradients(src: src, dst: dst)
        optimizer.step(namedParameters)
        return losses
    }

    /// Weights then optimizer state (`Checkpoint.export`).
    public func exportTensors() -> [NamedTensor] {
        Checkpoint.export(parameters: namedParameters, optimizer: optimizer)
    }

    /// Restores what `exportTensors` produced; throws (changing nothing) on a mismatch.
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
    /// Side of the square faces it takes and returns (`config.resolution`).
    public var resolution: Int { config.resolution }
}

/// `list` with every name under `prefix` (`prefix.name`), for a network's `namedParameters`.
func prefixed(_ prefix: String,
              _ list: [(name: String, parameter: Parameter)]) -> [(name: String, parameter: Parameter)] {
    list.map { (name: "\(prefix).\($0.name)", parameter: $0.parameter) }
}

/// A decoder with an image and a mask branch that both read the same code (Quick96's and H128's).
protocol TwoBranchDecoder: AnyObject {
    var image: Sequential { get }
    var mask: Sequential { get }
    /// Scratch for `backward`'s result.
    var codeGradient: Tensor { get }
}

extension TwoBranchDecoder {
    /// Image and mask for `code`, owned by the decoder.
    func forward(_ code: Tensor) -> (image: Tensor, mask: Tensor) {
        (image.forward(code), mask.forward(code))
    }

    /// dLoss/dCode from the gradients of both outputs.
    func backward(image dImage: Tensor, mask dMask: Tensor) -> Tensor {
        codeGradient.copy(from: image.backward(dImage))
        let gm = mask.backward(dMask)
        codeGradient.expectSameShape(gm, "\(type(of: self)): mask branch code gradient")
        let o = codeGradient.data, s = gm.data
        parallelRanges(gm.count) { r in for i in r { o[i] += s[i] } }
        return codeGradient
    }

    /// The image branch's parameters, then the mask branch's.
    var namedParameters: [(name: String, parameter: Parameter)] { image.namedParameters + mask.namedParameters }

    /// `forward`, returning copies the caller owns.
    func forwardCopies(_ code: Tensor) -> (image: Tensor, mask: Tensor) {
        let (image, mask) = forward(code)
        let i = Tensor(shape: image.shape), m = Tensor(shape: mask.shape)
        i.copy(from: image)
        m.copy(from: mask)
        return (i, m)
    }
}

extension Quick96Decoder: TwoBranchDecoder {}
extension H128Decoder: TwoBranchDecoder {}

/// The outline of a two-decoder training step (Quick96 and H128 alike): both batches stacked into
/// one pass through the shared encoder, each slice through its role's decoder and the model's own
/// loss, both decoders backward, and the two code gradients concatenated back for the encoder's
/// backward. Holds the step's scratch tensors; each model owns one.
final class TwoDecoderStep {
    private let stacked = Tensor(shape: [0])
    private let codeGradient = Tensor(shape: [0])
    /// dLoss/dImage of the src decoder in the latest `run` (read by tests of the loss weighting).
    let imageGradSrc = Tensor(shape: [0])
    private let maskGradSrc = Tensor(shape: [0])
    private let imageGradDst = Tensor(shape: [0]), maskGradDst = Tensor(shape: [0])

    /// The per-sample losses of both roles; afterwards every parameter's `gradient` holds the
    /// gradient of their sum. `model` names the network in precondition messages; `loss` returns
    /// one role's per-sample losses and writes their gradients with respect to the decoder's
    /// image and mask into the two tensors it is given; `encoderBackward` takes dLoss/dCode of the
    /// stacked batch.
    func run<D: TwoBranchDecoder>(
        src: TrainingBatch, dst: TrainingBatch, model: String, resolution r: Int,
        encode: (Tensor) -> Tensor, decoderSrc: D, decoderDst: D,
        loss: (_ role: FaceRole, _ batch: TrainingBatch, _ out: (image: Tensor, mask: Tensor),
               _ imageGrad: Tensor, _ maskGrad: Tensor) -> [Float],
        encoderBackward: (Tensor) -> Void
    ) -> StepLosses {
        for (b, role) in [(src, "src"), (dst, "dst")] {
            for (t, channels, what) in [(b.warped, 3, "warped"), (b.target, 3, "target"), (b.mask, 1, "mask")] {
                t.expectNHWC(channels: channels, height: r, width: r, "\(model)(\(r) px) \(role) \(what) batch")
            }
            precondition(b.warped.batch == b.target.batch && b.target.batch == b.mask.batch,
                         "\(model).trainStep: \(role) warped, target and mask batches differ in size")
        }
        let bs = src.warped.batch, bd = dst.warped.batch
        stacked.resize(to: [bs + bd, r, r, 3])
        stacked.data.update(from: src.warped.data, count: src.warped.count)
        (stacked.data + src.warped.count).update(from: dst.warped.data, count: dst.warped.count)

        let code = encode(stacked)
        let srcOut = decoderSrc.forward(code.batchSlice(0..<bs))
        let srcLoss = loss(.src, src, srcOut, imageGradSrc, maskGradSrc)
        let dstOut = decoderDst.forward(code.batchSlice(bs..<(bs + bd)))
        let dstLoss = loss(.dst, dst, dstOut, imageGradDst, maskGradDst)

        let gs = decoderSrc.backward(image: imageGradSrc, mask: maskGradSrc)
        let gd = decoderDst.backward(image: imageGradDst, mask: maskGradDst)
        codeGradient.resize(to: code.shape)
        codeGradient.data.update(from: gs.data, count: gs.count)
        (codeGradient.data + gs.count).update(from: gd.data, count: gd.count)
        encoderBackward(codeGradient)
        return StepLosses(src: srcLoss, dst: dstLoss)
    }
}
