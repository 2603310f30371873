/// Convolution forward against a direct (naive, double-precision) implementation.
import XCTest
@testable import FacetNN

final class ConvolutionTests: XCTestCase {
    // Small test images would otherwise fall below the size where Winograd is used: every test of this class runs
    // under a policy that takes Winograd from one tile (bound for the test's scope; no global is changed).
    override func invokeTest() { ConvPolicy.with({ $0.winogradMinimumTiles = 1 }) { super.invokeTest() } }

    /// TensorFlow's SAME convolution, or with `symmetric` leras's (`k / 2` zeros on every side, then VALID), written
    /// out as its definition.
    func directConvolution(_ x: Tensor, _ w: Tensor, _ b: Tensor, k: Int, s: Int, symmetric: Bool = false) -> [Double] {
        let (n, h, wd, cin) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3]), cout = w.shape[3]
        var (oh, pt) = samePadding(input: h, kernel: k, stride: s), (ow, pl) = samePadding(input: wd, kernel: k, stride: s)
        if symmetric { (oh, pt, ow, pl) = ((h + 2 * (k / 2) - k) / s + 1, k / 2, (wd + 2 * (k / 2) - k) / s + 1, k / 2) }
        var out = [Double](repeating: 0, count: n * oh * ow * cout)
        for b0 in 0..<n { for oy in 0..<oh { for ox in 0..<ow { for co in 0..<cout {
            var acc = Double(b[co])
            for ky in 0..<k { for kx in 0..<k {
                let iy = oy * s - pt + ky, ix = ox * s - pl + kx
                if iy < 0 || iy >= h || ix < 0 || ix >= wd { continue }
                for ci in 0..<cin {
                    acc += Double(x[((b0 * h + iy) * wd + ix) * cin + ci]) * Double(w[((ky * k + kx) * cin + ci) * cout + co])
                }
            } }
            out[((b0 * oh + oy) * ow + ox) * cout + co] = acc
        } } } }
        return out
    }

    func testForwardMatchesDirectConvolution() {
        for tile in [2, 4] {
            ConvPolicy.with({ $0.winogradTile = tile }) { forwardMatchesDirectConvolution() }
        }
    }

    func forwardMatchesDirectConvolution() {
        var gen = SeededGenerator(seed: 11)
        let cases: [(k: Int, s: Int, cin: Int, cout: Int, h: Int, w: Int)] = [
            (1, 1, 5, 3, 6, 6), (3, 1, 3, 8, 9, 7), (3, 1, 16, 12, 8, 8), (3, 1, 7, 5, 5, 9), (5, 2, 3, 6, 12, 12),
            (5, 2, 8, 4, 9, 11), (3, 2, 4, 4, 7, 8), (4, 2, 3, 2, 8, 8), (5, 1, 2, 3, 6, 5),
            // Winograd F(2x2, 3x3) (channels multiples of 8), even and odd sizes.
            (3, 1, 8, 8, 6, 6), (3, 1, 16, 24, 7, 9), (3, 1, 8, 16, 3, 3), (3, 1, 16, 8, 1, 5),
        ]
        for c in cases { for symmetric in [false, true] {
            let conv = Conv2D(inChannels: c.cin, outChannels: c.cout, kernelSize: c.k, stride: c.s,
                              padding: symmetric ? .symmetric : .same)
            conv.useWinograd = true
            conv.initialize(using: &gen)
            XCTAssertEqual(conv.winogradApplies, c.k == 3 && c.s == 1 && c.cin % 8 == 0 && c.cout % 8 == 0)
            for i in 0..<c.cout { conv.bias!.value[i] = gen.nextUnitFloat() - 0.5 }
            let x = randomTensor([2, c.h, c.w, c.cin], &gen)
            let y = conv.forward(x)
            let expected = directConvolution(x, conv.weight.value, conv.bias!.value, k: c.k, s: c.s, symmetric: symmetric)
            let (oh, ow) = symmetric ? ((c.h + 2 * (c.k / 2) - c.k) / c.s + 1, (c.w + 2 * (c.k / 2) - c.k) / c.s + 1)
                                     : ((c.h + c.s - 1) / c.s, (c.w + c.s - 1) / c.s)
            XCTAssertEqual(y.shape, [2, oh, ow, c.cout], "\(c) symmetric \(symmetric)")
            var worst = 0.0
            for i in 0..<expected.count { worst = max(worst, abs(Double(y[i]) - expected[i])) }
            XCTAssertLessThan(worst, 1e-4, "k\(c.k) s\(c.s) cin\(c.cin) cout\(c.cout) \(c.h)x\(c.w) symmetric \(symmetric) "
                              + "tile \(ConvPolicy.current.winogradTile ?? 0)")
        } }
    }

    /// The Winograd path and the im2col path agree on forward and both gradients.
    func testWinogradMatchesIm2col() {
        for tile in [2, 4] {
            ConvPolicy.with({ $0.winogradTile = tile }) { winogradMatchesIm2col() }
        }
    }

    func winogradMatchesIm2col() {
        var gen = SeededGenerator(seed: 12)
        for (h, w, cin, cout, act) in [(8, 8, 16, 8, Activation.leakyReLU(0.1)), (5, 7, 8, 16, .identity), (3, 3, 8, 8, .leakyReLU(0.2))] {
            let a = Conv2D(inChannels: cin, outChannels: cout, kernelSize: 3, activation: act)
            let b = Conv2D(inChannels: cin, outChannels: cout, kernelSize: 3, activation: act)
            a.initialize(using: &gen)
            b.weight.value.copy(from: a.weight.value)
            for i in 0..<cout { a.bias!.value[i] = gen.nextUnitFloat() - 0.5; b.bias!.value[i] = a.bias!.value[i] }
            a.useWinograd = true
            b.useWinograd = false
            XCTAssertTrue(a.winogradApplies)
            let x = randomTensor([2, h, w, cin], &gen)
            let ya = a.forward(x).values, yb = b.forward(x).values
            for i in 0..<ya.count { XCTAssertEqual(ya[i], yb[i], accuracy: 1e-4) }
            let dy = randomTensor([2, h, w, cout], &gen)
            let dxa = a.backward(dy).values, dxb = b.backward(dy).values
            for i in 0..<dxa.count { XCTAssertEqual(dxa[i], dxb[i], accuracy: 1e-4) }
            let ga = a.weight.gradient.values, gb = b.weight.gradient.values
            for i in 0..<ga.count { XCTAssertEqual(ga[i], gb[i], accuracy: 1e-3 * max(1, abs(gb[i]))) }
            let ba = a.bias!.gradient.values, bb = b.bias!.gradient.values
            for i in 0..<ba.count { XCTAssertEqual(ba[i], bb[i], accuracy: 1e-4 * max(1, abs(bb[i]))) }
        }
    }

    /// 5x5 stride-2 convolutions through space-to-depth + Winograd: forward against the direct
    /// definition, and forward and both gradients against im2col, with both tile sizes, channel
    /// counts that need zero padding (4 * 3 = 12 -> 16) and none, odd sizes falling back.
    func testSpaceToDepthPathMatchesDirectConvolutionAndIm2col() {
        for tile in [2, 4] { ConvPolicy.with({ $0.winogradTile = tile }) {
            var gen = SeededGenerator(seed: 13)
            for padding in [ConvPadding.same, .symmetric] {
            for (cin, cout, h, w, act) in [(3, 8, 8, 8, Activation.identity), (8, 16, 12, 10, .leakyReLU(0.1)), (5, 8, 6, 14, .leakyReLU(0.2)),
                                           (16, 8, 2, 4, .identity), (2, 24, 10, 6, .leakyReLU(0.1))] {
                let a = Conv2D(inChannels: cin, outChannels: cout, kernelSize: 5, stride: 2, padding: padding, activation: act)
                let b = Conv2D(inChannels: cin, outChannels: cout, kernelSize: 5, stride: 2, padding: padding, activation: act)
                a.initialize(using: &gen)
                b.weight.value.copy(from: a.weight.value)
                for i in 0..<cout { a.bias!.value[i] = gen.nextUnitFloat() - 0.5; b.bias!.value[i] = a.bias!.value[i] }
                a.useWinograd = true
                b.useWinograd = false
                XCTAssertEqual(a.spaceToDepthTile(height: h, width: w), tile)
                XCTAssertNil(a.spaceToDepthTile(height: h + 1, width: w))
                XCTAssertNil(b.spaceToDepthTile(height: h, width: w))
                let label = "cin \(cin) cout \(cout) \(h)x\(w) tile \(tile) \(padding)"
                let x = randomTensor([2, h, w, cin], &gen)
                let ya = a.forward(x).values, yb = b.forward(x).values
                if act == .identity {
                    let expected = directConvolution(x, a.weight.value, a.bias!.value, k: 5, s: 2,
                                                     symmetric: padding == .symmetric)
                    var worst = 0.0
                    for i in 0..<expected.count { worst = max(worst, abs(Double(ya[i]) - expected[i])) }
                    XCTAssertLessThan(worst, 1e-4, label)
                }
                for i in 0..<ya.count { XCTAssertEqual(ya[i], yb[i], accuracy: 1e-4, label) }
                let dy = randomTensor([2, h / 2, w / 2, cout], &gen)
                let dxa = a.backward(dy).values, dxb = b.backward(dy).values
                XCTAssertEqual(dxa.count, x.count)
                for i in 0..<dxa.count { XCTAssertEqual(dxa[i], dxb[i], accuracy: 1e-4, label) }
                let ga = a.weight.gradient.values, gb = b.weight.gradient.values
                for i in 0..<ga.count { XCTAssertEqual(ga[i], gb[i], accuracy: 1e-3 * max(1, abs(gb[i])), label) }
                let ba = a.bias!.gradient.values, bb = b.bias!.gradient.values
                for i in 0..<ba.count { XCTAssertEqual(ba[i], bb[i], accuracy: 1e-4, label) }
            }
            }
        } }
    }

    /// Keeping the transformed input from forward to backward, and fusing the activation's
    /// derivative and the bias gradient into the output-gradient transform, change nothing but
    /// the work done: the gradients equal those of the unfused path that transforms again.
    func testWinogradBackwardVariantsAgree() {
        var gen = SeededGenerator(seed: 14)
        for (k, s, cin, h) in [(3, 1, 8, 8), (5, 2, 3, 8), (5, 2, 8, 12)] {
            let conv = Conv2D(inChannels: cin, outChannels: 16, kernelSize: k, stride: s, activation: .leakyReLU(0.2))
            conv.initialize(using: &gen)
            for i in 0..<16 { conv.bias!.value[i] = gen.nextUnitFloat() - 0.5 }
            conv.useWinograd = true
            let x = randomTensor([2, h, h, cin], &gen)
            let dy = randomTensor([2, h / s, h / s, 16], &gen)
            var results: [[Float]] = []
            for (keep, fuse, layerKeep) in [(false, false, nil), (true, false, nil), (false, true, nil), (true, true, nil),
                                            (true, true, false), (false, true, true)] as [(Bool, Bool, Bool?)] {
                conv.keepsTransformedInput = layerKeep
                ConvPolicy.with({ $0.keepsWinogradInput = keep; $0.fusesWinogradBackward = fuse }) {
                    _ = conv.forward(x)
                    results.append(conv.backward(dy).values + conv.weight.gradient.values + conv.bias!.gradient.values)
                }
            }
            for r in results.dropFirst() {
                for i in 0..<r.count { XCTAssertEqual(r[i], results[0][i], accuracy: 1e-4 * max(1, abs(results[0][i])), "k\(k) s\(s) cin \(cin)") }
            }
        }
    }

    func testSamePaddingMatchesTensorFlow() {
        // TF: 96 -> 48 with a 5x5 stride-2 kernel pads 1 before and 2 after.
        XCTAssertEqual(samePadding(input: 96, kernel: 5, stride: 2).output, 48)
        XCTAssertEqual(samePadding(input: 96, kernel: 5, stride: 2).before, 1)
        XCTAssertEqual(samePadding(input: 12, kernel: 3, stride: 1).before, 1)
        // leras (core/leras/layers/Conv2D.py): SAME is ((k - 1) + 1) // 2 zeros on every side, then VALID: 96 -> 48
        // with 2 before; the same output size, every window one pixel earlier.
        let g = ConvGeometry(n: 1, h: 96, w: 94, cin: 1, k: 5, s: 2, cout: 1, padding: .symmetric)
        XCTAssertEqual([g.oh, g.ow, g.padTop, g.padLeft], [48, 47, 2, 2])
        for (padding, expected) in [(ConvPadding.same, [48, 1, 2]), (.symmetric, [48, 2, 2]), (.valid, [46, 0, 0])] {
            let a = padding.axis(input: 96, kernel: 5, stride: 2)
            XCTAssertEqual([a.output, a.before, a.after], expected, "\(padding)")
        }
        XCTAssertTrue(ConvPadding.symmetric.isTensorFlowSame(kernel: 3, stride: 1))
        XCTAssertFalse(ConvPadding.symmetric.isTensorFlowSame(kernel: 5, stride: 2))
    }

    func testDepthToSpaceUsesTensorFlowChannelOrder() {
        // tf.nn.depth_to_space(arange(8).reshape(1,1,1,8), 2) = [[[[0,1],[2,3]],[[4,5],[6,7]]]].
        let x = Tensor(shape: [1, 1, 1, 8], values: (0..<8).map(Float.init))
        let y = DepthToSpace(blockSize: 2).forward(x)
        XCTAssertEqual(y.shape, [1, 2, 2, 2])
        XCTAssertEqual(y.values, [0, 1, 2, 3, 4, 5, 6, 7])
        let x2 = Tensor(shape: [1, 1, 2, 4], values: (0..<8).map(Float.init))
        // Two pixels, one channel out: out[0,0]=0 out[0,1]=1 out[0,2]=4 out[0,3]=5 / row 1: 2 3 6 7.
        XCTAssertEqual(DepthToSpace(blockSize: 2).forward(x2).values, [0, 1, 4, 5, 2, 3, 6, 7])
    }
}
