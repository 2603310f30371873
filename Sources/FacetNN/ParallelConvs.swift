/// Several same-input convolutions with few output channels run as one merged convolution.

/// Runs stride-1 SAME convolutions with odd kernels on the same input and concatenates their
/// outputs on channels, exactly as `ConcatChannels` over those convolutions would, but as ONE
/// convolution whose kernel embeds each branch's kernel at its centre (a 1x1 kernel is the
/// centre tap of a 3x3 one). Quick96's four 128->3 output convolutions then share one im2col and
/// one GEMM with 12 columns instead of four GEMMs with 3 (which run at a few GFLOP/s).
/// Parameters stay the branches' own (`conv0.weight`, ...); gradients are scattered back to them.
/// The merged convolution's channels are padded to a multiple of 8 (zero kernels) so that it can
/// take the Winograd path.
public final class ParallelConvs: Layer {
    /// The convolutions merged, with their names (the first part of their parameters' paths).
    public let branches: [(name: String, conv: Conv2D)]
    private let merged: Conv2D
    private let offsets: [Int]
    /// Output channels of all branches (the merged convolution may have a few more, all zero).
    public let outChannels: Int
    private let output = Tensor(shape: [0])
    private let paddedGradient = Tensor(shape: [0])

    /// One merged convolution over `branches` (stride 1, odd kernels, no activation, with bias; traps otherwise).
    public init(_ branches: [(String, Conv2D)]) {
        precondition(!branches.isEmpty, "ParallelConvs: needs at least one branch")
        let cin = branches[0].1.inChannels
        for (name, c) in branches {
            precondition(c.inChannels == cin && c.stride == 1 && c.kernelSize % 2 == 1 && c.activation == .identity
                         && c.bias != nil,
                         "ParallelConvs: branch '\(name)' must be a stride-1, odd-kernel, "
                         + "biased convolution without activation on \(cin) channels")
        }
        self.branches = branches.map { (name: $0.0, conv: $0.1) }
        let k = branches.map { $0.1.kernelSize }.max()!
        var o: [Int] = [], total = 0
        for (_, c) in branches { o.append(total); total += c.outChannels }
        offsets = o
        outChannels = total
        merged = Conv2D(inChannels: cin, outChannels: (total + 7) / 8 * 8, kernelSize: k)
    }

    /// Kernel side of the merged convolution.
    private var k: Int { merged.kernelSize }

    /// Visits every (branch tap, merged tap) pair: branch weight index and merged weight index
    /// of one kernel row of `cout` values.
    private func forEachRow(_ body: (_ branch: Conv2D, _ src: Int, _ dst: Int, _ count: Int) -> Void) {
        let cin = merged.inChannels, total = merged.outChannels
        for (b, (_, c)) in branches.enumerated() {
            let kb = c.kernelSize, pad = (k - kb) / 2
            for ky in 0..<kb { for kx in 0..<kb { for ci in 0..<cin {
                body(c, ((ky * kb + kx) * cin + ci) * c.outChannels,
                     (((ky + pad) * k + kx + pad) * cin + ci) * total + offsets[b], c.outChannels)
            } } }
        }
    }

    /// The branches' weight and bias tokens the merged kernel was last built from, when all were
    /// frozen (`Parameter.freeze`): the merged kernel is then frozen too and kept as it is.
    private var mergedFrom: [UInt64]?

    /// Every branch's output on `x`, concatenated on channels (owned by the layer until its next `forward`).
    public func forward(_ x: Tensor) -> Tensor {
        let tokens = branches.flatMap { [$0.conv.weight.frozenToken, $0.conv.bias!.frozenToken] }
        let frozen = tokens.allSatisfy { $0 != nil } ? tokens.map { $0! } : nil
        if frozen == nil || frozen != mergedFrom {
            merged.weight.value.fill(0)
            let mw = merged.weight.value.data
            forEachRow { c, src, dst, n in (mw + dst).update(from: c.weight.value.data + src, count: n) }
            let b = merged.bias!.value.data
            merged.bias!.value.fill(0)
            for (i, (_, c)) in branches.enumerated() {
                (b + offsets[i]).update(from: c.bias!.value.data, count: c.outChannels)
            }
            if frozen != nil { merged.weight.freeze() } else { merged.weight.thaw() }
            mergedFrom = frozen
        }
        let y = merged.forward(x)
        let padded = merged.outChannels, total = outChannels
        if padded == total { return y }
        let (n, h, w, _) = y.expectNHWC("ParallelConvs output")
        output.resize(to: [n, h, w, total])
        let src = y.data, dst = output.data
        parallelRanges(n * h * w, grain: 4096) { r in
            for p in r { (dst + p * total).update(from: src + p * padded, count: total) }
        }
        return output
    }

    /// dLoss/dInput from `dy` of the latest `forward`; scatters the merged kernel's gradient back to the
    /// branches' own parameters.
    public func backward(_ dy: Tensor) -> Tensor {
        let padded = merged.outChannels, total = outChannels
        var upstream = dy
        if padded != total {
            let (n, h, w, _) = dy.expectNHWC(channels: total, "ParallelConvs.backward gradient")
            paddedGradient.resize(to: [n, h, w, padded])
            let src = dy.data, dst = paddedGradient.data
            parallelRanges(n * h * w, grain: 4096) { r in
                for p in r {
                    (dst + p * padded).update(from: src + p * total, count: total)
                    (dst + p * padded + total).update(repeating: 0, count: padded - total)
                }
            }
            upstream = paddedGradient
        }
        let dx = merged.backward(upstream)
        let g = merged.weight.gradient.data
        forEachRow { c, src, dst, n in (c.weight.gradient.data + src).update(from: g + dst, count: n) }
        let gb = merged.bias!.gradient.data
        for (i, (_, c)) in branches.enumerated() {
            c.bias!.gradient.data.update(from: gb + offsets[i], count: c.outChannels)
        }
        return dx
    }

    /// Every branch's `weight` and `bias`, prefixed with the branch's name.
    public var namedParameters: [(name: String, parameter: Parameter)] {
        branches.flatMap { b in b.conv.namedParameters.map { (name: "\(b.name).\($0.name)", parameter: $0.parameter) } }
    }
}
