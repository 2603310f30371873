/// The face segmenter (DeepFaceLab's XSeg, made small for two CPU cores): a U-Net from an aligned
/// face to the probability that each pixel is face not covered by anything, trained with a
/// sigmoid binary cross-entropy on labelled masks.
import Foundation
import FacetCore

/// Passes its input through unchanged: the skip branch of a U-Net level (inside `ConcatChannels`).
public final class Identity: Layer {
    /// The layer (it has no parameters).
    public init() {}
    /// `x` itself.
    public func forward(_ x: Tensor) -> Tensor { x }
    /// `dy` itself.
    public func backward(_ dy: Tensor) -> Tensor { dy }
}

/// Binary cross-entropy of `sigmoid(logits)` against targets in [0, 1], per sample the mean over
/// its elements, computed from the logits so it stays finite for any logit:
/// `max(z, 0) - z t + log(1 + e^-|z|)` (TensorFlow's `sigmoid_cross_entropy_with_logits`, which
/// DeepFaceLab's XSeg minimises). Its gradient is `(sigmoid(z) - t) / elements`.
public final class SigmoidBCELoss: ImageLoss {
    /// The factor the mean is multiplied by.
    public let scale: Float
    /// A BCE loss multiplied by `scale`.
    public init(scale: Float = 1) { self.scale = scale }

    /// The per-sample loss of `prediction` (logits) against `target`; with `gradient`, writes (or
    /// adds, with `accumulate`) the gradient of their sum with respect to the logits.
    public func evaluate(prediction: Tensor, target: Tensor, gradient: Tensor?, accumulate: Bool = false) -> [Float] {
        elementwiseLoss("SigmoidBCELoss", prediction: prediction, target: target, gradient: gradient,
                        accumulate: accumulate, scale: scale) { z, y in
            (max(z, 0) - z * y + log1pf(expf(-abs(z))), 1 / (1 + expf(-z)) - y)
        }
    }
}

/// Sizes of an `XSegNet`.
public struct XSegConfig: Sendable, Equatable, Codable {
    /// Side of the square face it reads and the mask it returns, in pixels; a multiple of 2^(levels + 1).
    public var resolution: Int
    /// Channels of the first U-Net level; each deeper level doubles them (up to 8 times this).
    public var width: Int
    /// Pooling steps of the U-Net (its bottom runs at resolution / 2^(levels + 1)).
    public var levels: Int

    /// A configuration with each size given.
    public init(resolution: Int, width: Int, levels: Int) {
        self.resolution = resolution
        self.width = width
        self.levels = levels
    }

    /// Facet's default: 128 px, width 16, 3 levels (the U-Net runs at 64 px, its bottom at 8 px).
    public static let standard = XSegConfig(resolution: 128, width: 16, levels: 3)
    /// A test-sized network: 64 px, width 8, 2 levels.
    public static let tiny = XSegConfig(resolution: 64, width: 8, levels: 2)

    /// Channels of U-Net level `i`.
    func channels(_ i: Int) -> Int { width * (1 << min(i, 3)) }

    /// Throws unless every size is usable.
    public func validate() throws {
        let step = 1 << (levels + 1)
        guard levels >= 1, levels <= 6, width >= 2, width % 2 == 0 else {
            throw FacetError("xseg: levels \(levels) must be 1...6 and width \(width) an even number >= 2")
        }
        guard resolution >= step * 2, resolution % step == 0 else {
            throw FacetError("xseg: resolution \(resolution) must be a multiple of \(step) (at least \(step * 2))")
        }
    }
}

/// The segmenter: a 5x5 stride-2 stem to half resolution, a U-Net there (per level two 3x3
/// convolutions, a 2x2 average pool down, the deeper level, an upscale back, its output concatenated
/// with the level's own features, two 3x3 convolutions), an upscale to full resolution concatenated
/// with the input image (so edges can follow the image's), and two convolutions to one logit per pixel.
/// DeepFaceLab's XSeg is the same idea at 256 px with six full-resolution levels; this one is sized
/// for about a hundred faces a second on two cores.
///
/// Parameter paths: `skip.net.stem.*`, `skip.net.unet.*` (per level `conv1`, `conv2`, `skip.down.deeper.*` (the
/// next level), `skip.down.up.*`, `merge1`, `merge2`), `skip.net.up.*`, `fuse.*`, `out.*`.
/// Trained with Adam (lr 1e-3 by default).
/// Not thread-safe: one thread drives a network at a time.
public final class XSegNet {
    /// The sizes it was built with.
    public let config: XSegConfig
    /// The whole network: a face `[N, R, R, 3]` in [0, 1] to logits `[N, R, R, 1]`.
    public let body: Sequential
    /// The optimizer of `trainStep`.
    public let optimizer: any Optimizer
    private let loss = SigmoidBCELoss()
    private let logitGradient = Tensor(shape: [0])

    /// A freshly initialised network: Glorot-uniform kernels from `seed`, zero biases.
    public init(config: XSegConfig = .standard, seed: UInt64 = 0, optimizer: (any Optimizer)? = nil) throws {
        try config.validate()
        self.config = config
        func conv(_ cin: Int, _ cout: Int, _ k: Int = 3) -> Conv2D {
            Conv2D(inChannels: cin, outChannels: cout, kernelSize: k, activation: .leakyReLU(0.1))
        }
        func level(_ i: Int, input: Int) -> Sequential {
            let c = config.channels(i)
            if i == config.levels {
                return Sequential([("conv1", conv(input, c)), ("conv2", conv(c, c))])
            }
            let down = Sequential([
                ("pool", Pool2D(.average, window: 2, stride: 2)),
                ("deeper", level(i + 1, input: c)),
                ("up", Upscale(config.channels(i + 1), c)),
            ])
            return Sequential([
                ("conv1", conv(input, c)), ("conv2", conv(c, c)),
                ("skip", ConcatChannels([("same", Identity()), ("down", down)])),
                ("merge1", conv(2 * c, c)), ("merge2", conv(c, c)),
            ])
        }
        let w = config.width
        let stem = Conv2D(inChannels: 3, outChannels: w, kernelSize: 5, stride: 2, activation: .leakyReLU(0.1))
        let inner = Sequential([("stem", stem), ("unet", level(0, input: w)), ("up", Upscale(w, w / 2))])
        body = Sequential([
            ("skip", ConcatChannels([("image", Identity()), ("net", inner)])),
            ("fuse", conv(3 + w / 2, w / 2)),
            ("out", Conv2D(inChannels: w / 2, outChannels: 1, kernelSize: 3)),
        ])
        self.optimizer = optimizer ?? Adam(learningRate: 1e-3, seed: UInt32(truncatingIfNeeded: seed))
        var generator = SeededGenerator(seed: seed)
        for (_, p) in namedParameters { p.value.initializeGlorot(using: &generator) }
    }

    /// Every parameter with its full path, in a fixed order.
    public var namedParameters: [(name: String, parameter: Parameter)] { body.namedParameters }

    /// Number of trainable floats.
    public var parameterCount: Int { namedParameters.reduce(0) { $0 + $1.parameter.value.count } }

    private func check(_ faces: Tensor) {
        let r = config.resolution
        faces.expectNHWC(channels: 3, height: r, width: r, "XSegNet(\(r) px) faces")
    }

    /// The logits `[N, R, R, 1]` of faces `[N, R, R, 3]` in [0, 1] (owned by the network until its next call).
    public func logits(_ faces: Tensor) -> Tensor {
        check(faces)
        return body.forward(faces)
    }

    /// The probability that each pixel is uncovered face, `[N, R, R, 1]` in (0, 1) (a copy).
    public func predict(_ faces: Tensor) -> Tensor {
        let z = logits(faces)
        let out = Tensor(shape: z.shape)
        let src = z.data, dst = out.data
        parallelRanges(z.count, grain: 4096) { r in for i in r { dst[i] = 1 / (1 + expf(-src[i])) } }
        return out
    }

    /// Forward and backward of one batch without the update: afterwards every parameter's `gradient`
    /// holds d(sum of the per-sample losses)/d(parameter). Returns the per-sample BCE.
    public func computeGradients(faces: Tensor, masks: Tensor) -> [Float] {
        let z = logits(faces)
        let losses = loss.evaluate(prediction: z, target: masks, gradient: logitGradient, accumulate: false)
        _ = body.backward(logitGradient)
        return losses
    }

    /// `computeGradients`, then one optimizer step; the per-sample losses before it.
    @discardableResult
    public func trainStep(faces: Tensor, masks: Tensor) -> [Float] {
        let losses = computeGradients(faces: faces, masks: masks)
        optimizer.step(namedParameters)
        return losses
    }

    /// The per-sample BCE without training.
    public func evaluate(faces: Tensor, masks: Tensor) -> [Float] { loss(logits(faces), masks) }

    /// Weights then optimizer state (`Checkpoint.export`).
    public func exportTensors() -> [NamedTensor] {
        Checkpoint.export(parameters: namedParameters, optimizer: optimizer)
    }

    /// Freezes every parameter: the network only predicts from now on (`xseg apply`, merge).
    public func freezeForInference() { for (_, p) in namedParameters { p.freeze() } }
}
