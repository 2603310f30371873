/// Max and average pooling over windows wholly inside the image (dlib's `max_pool` / `avg_pool`
/// with padding 0), and the global average (`avg_pool_everything`), with their backward passes.

/// The kind of a `Pool2D`.
public enum PoolKind: Sendable, Equatable {
    case max
    case average
}

/// `window x window` pooling with `stride`, NHWC, VALID geometry: `(input - window) / stride + 1`
/// outputs per axis, every window inside the image (as dlib pools when its padding is 0, which is
/// its rule for every strided pooling layer). Average pooling divides by `window * window`.
/// Cost: N*OH*OW*C*window^2 reads per pass; no parameters.
public final class Pool2D: Layer {
    /// Max or average.
    public let kind: PoolKind
    /// Window side, in pixels.
    public let window: Int
    /// Step between windows, in pixels.
    public let stride: Int
    private var input: Tensor?
    private let output = Tensor(shape: [0])
    private let inputGradient = Tensor(shape: [0])

    /// A `kind` pooling of `window x window` windows `stride` apart.
    public init(_ kind: PoolKind, window: Int, stride: Int) {
        precondition(window > 0 && stride > 0, "Pool2D: bad window \(window) or stride \(stride)")
        self.kind = kind
        self.window = window
        self.stride = stride
    }

    /// Output height or width for an input of `size`.
    public func outputSize(_ size: Int) -> Int { (size - window) / stride + 1 }

    /// Each window's max or mean, `[N, OH, OW, C]` (owned by the layer until its next `forward`).
    public func forward(_ x: Tensor) -> Tensor {
        let (n, h, w, c) = x.expectNHWC("Pool2D(\(window), stride \(stride)) input")
        precondition(h >= window && w >= window, "Pool2D: a \(window)x\(window) window does not fit a \(h)x\(w) input")
        input = x
        let (oh, ow) = (outputSize(h), outputSize(w))
        output.resize(to: [n, oh, ow, c])
        let src = x.data, dst = output.data, k = window, s = stride
        let scale = 1 / Float(k * k)
        let isMax = kind == .max
        // Per output pixel: the window's pixels one after another, each a contiguous run of channels.
        parallelRanges(n * oh, grain: max(1, 4096 / max(1, ow * c))) { rows in
            for row in rows {
                let b = row / oh, oy = row % oh
                for ox in 0..<ow {
                    let o = dst + ((b * oh + oy) * ow + ox) * c
                    let corner = src + ((b * h + oy * s) * w + ox * s) * c
                    o.update(from: corner, count: c)
                    for ky in 0..<k {
                        for kx in 0..<k where ky > 0 || kx > 0 {
                            let p = corner + (ky * w + kx) * c
                            if isMax {
                                for ch in 0..<c { o[ch] = max(o[ch], p[ch]) }
                            } else {
                                for ch in 0..<c { o[ch] += p[ch] }
                            }
                        }
                    }
                    if !isMax { for ch in 0..<c { o[ch] *= scale } }
                }
            }
        }
        return output
    }

    /// dLoss/dInput from `dy` of the latest `forward`: to each window's maximum, or spread evenly for the mean.
    public func backward(_ dy: Tensor) -> Tensor {
        guard let x = input else { preconditionFailure("Pool2D.backward called before forward") }
        output.expectSameShape(dy, "Pool2D.backward gradient")
        inputGradient.resize(to: x.shape)
        inputGradient.fill(0)
        let (n, h, w, c) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        let (oh, ow) = (outputSize(h), outputSize(w))
        let g = dy.data, dx = inputGradient.data, src = x.data, y = output.data, k = window, s = stride
        let scale = kind == .max ? 1 : 1 / Float(k * k)
        let isMax = kind == .max
        // Per image in parallel: windows of different images never share an input. Max pooling
        // sends each output's gradient to the first input in row-major window order that equals
        // the maximum (the one forward kept).
        parallelFor(n) { b in
            for oy in 0..<oh {
                for ox in 0..<ow {
                    let o = ((b * oh + oy) * ow + ox) * c
                    for ch in 0..<c {
                        var found = false
                        for ky in 0..<k {
                            for kx in 0..<k {
                                let i = ((b * h + oy * s + ky) * w + ox * s + kx) * c + ch
                                if isMax {
                                    if !found && src[i] == y[o + ch] { dx[i] += g[o + ch]; found = true }
                                } else {
                                    dx[i] += g[o + ch] * scale
                                }
                            }
                        }
                    }
                }
            }
        }
        return inputGradient
    }
}

/// The mean over all pixels of each channel: `[N, H, W, C] -> [N, C]` (dlib's `avg_pool_everything`).
public final class GlobalAveragePool: Layer {
    private var inputShape: [Int] = []
    private let output = Tensor(shape: [0])
    private let inputGradient = Tensor(shape: [0])

    /// The layer (it has no parameters).
    public init() {}

    /// The mean of each channel over all pixels, `[N, C]`.
    public func forward(_ x: Tensor) -> Tensor {
        let (n, h, w, c) = x.expectNHWC("GlobalAveragePool input")
        inputShape = x.shape
        output.resize(to: [n, c])
        let src = x.data, dst = output.data, pixels = h * w
        let scale = 1 / Float(pixels)
        parallelFor(n) { b in
            let o = dst + b * c
            o.update(repeating: 0, count: c)
            for p in 0..<pixels {
                let row = src + (b * pixels + p) * c
                for ch in 0..<c { o[ch] += row[ch] }
            }
            for ch in 0..<c { o[ch] *= scale }
        }
        return output
    }

    /// `dy` spread evenly over the pixels of each channel, in the input's shape.
    public func backward(_ dy: Tensor) -> Tensor {
        output.expectSameShape(dy, "GlobalAveragePool.backward gradient")
        inputGradient.resize(to: inputShape)
        let (n, h, w, c) = (inputShape[0], inputShape[1], inputShape[2], inputShape[3])
        let g = dy.data, dx = inputGradient.data, pixels = h * w
        let scale = 1 / Float(pixels)
        parallelFor(n) { b in
            for p in 0..<pixels {
                let row = dx + (b * pixels + p) * c
                for ch in 0..<c { row[ch] = g[b * c + ch] * scale }
            }
        }
        return inputGradient
    }
}
