/// The segmenter's new pieces against finite differences (the identity skip inside a concat, the
/// sigmoid BCE on logits, the whole U-Net), its BCE against the closed form, and that it learns a mask.
import XCTest
@testable import FacetNN

final class XSegNetTests: XCTestCase {
    var gen = SeededGenerator(seed: 21)

    func testIdentitySkipConcatGradients() {
        let c = Conv2D(inChannels: 3, outChannels: 2, kernelSize: 3, activation: .leakyReLU(0.1))
        c.initialize(using: &gen)
        let cat = ConcatChannels([("same", Identity()), ("conv", c)])
        let x = randomTensor([2, 5, 4, 3], &gen)
        XCTAssertEqual(cat.forward(x).shape, [2, 5, 4, 5])
        checkLayerGradients(cat, input: x)
    }

    /// One U-Net level as the network builds it (convolution, then its output beside the pooled, convolved and
    /// upscaled branch), entry by entry; the convolutions without activation, whose kinks inside a difference step
    /// would blur what is checked here (the topology: skip, pool, upscale).
    func testUNetLevelGradients() {
        func conv(_ cin: Int, _ cout: Int) -> Conv2D {
            let c = Conv2D(inChannels: cin, outChannels: cout, kernelSize: 3)
            c.initialize(using: &gen)
            return c
        }
        let up = Upscale(6, 4)
        for (_, p) in up.namedParameters { p.value.initializeGlorot(using: &gen) }
        let level = Sequential([
            ("conv1", conv(3, 4)),
            ("skip", ConcatChannels([("same", Identity()), ("down", Sequential([
                ("pool", Pool2D(.average, window: 2, stride: 2)), ("deeper", conv(4, 6)), ("up", up),
            ]))])),
            ("merge1", conv(8, 4)),
        ])
        let x = randomTensor([2, 6, 8, 3], &gen)
        XCTAssertEqual(level.forward(x).shape, [2, 6, 8, 4])
        checkLayerGradients(level, input: x)
    }

    func testSigmoidBCEGradientAndValues() {
        let z = randomTensor([2, 6, 5, 1], &gen, in: -4...4), t = randomTensor([2, 6, 5, 1], &gen, in: 0...1)
        let loss = SigmoidBCELoss(scale: 3)
        let g = Tensor(shape: [0])
        _ = loss.evaluate(prediction: z, target: t, gradient: g, accumulate: false)
        let idx = sampleIndices(z.count, 40, &gen)
        let num = numericGradient(of: { loss(z, t).reduce(0.0) { $0 + Double($1) } }, wrt: z, at: idx, eps: 1e-3)
        XCTAssertLessThan(relativeError(idx.map { Double(g.values[$0]) }, num), 1e-2)
        // The closed form -t log p - (1 - t) log(1 - p), in double precision, per sample.
        let values = loss(z, t)
        for s in 0..<2 {
            var sum = 0.0
            for i in (s * 30)..<((s + 1) * 30) {
                let p = 1 / (1 + exp(-Double(z[i]))), y = Double(t[i])
                sum += -y * log(p) - (1 - y) * log(1 - p)
            }
            XCTAssertEqual(Double(values[s]), 3 * sum / 30, accuracy: 1e-4)
        }
        // Finite for logits far beyond where the naive form overflows.
        let big = Tensor(shape: [1, 1, 2, 1], values: [200, -200]), tb = Tensor(shape: [1, 1, 2, 1], values: [0, 1])
        XCTAssertEqual(Double(loss(big, tb)[0]), 3 * 200, accuracy: 1e-3)
    }

    func testWholeNetworkGradients() throws {
        let net = try XSegNet(config: XSegConfig(resolution: 16, width: 4, levels: 2), seed: 5)
        let x = randomTensor([2, 16, 16, 3], &gen, in: 0...1)
        XCTAssertEqual(net.logits(x).shape, [2, 16, 16, 1])
        // The input and the outer layers (stem, upscale, fuse, out) along their gradients; the U-Net levels entry by
        // entry in testUNetLevelGradients: on a 16 px input their gradients are small and cross many leaky-ReLU kinks,
        // so a directional step either drowns in float32 rounding (1e-4) or crosses kinks (1e-2).
        var g = SeededGenerator(seed: 98)
        let (dx, params, grads, loss) = probeGradients(net.body, x, &g)
        XCTAssertEqual(directionalRatio(of: loss, wrt: x, gradient: dx, eps: 1e-3), 1, accuracy: 5e-2, "input")
        for (k, (name, p)) in params.enumerated() where !name.contains(".unet.") {
            XCTAssertEqual(directionalRatio(of: loss, wrt: p.value, gradient: grads[k], eps: 1e-3), 1, accuracy: 5e-2,
                           name)
        }
        // And through the loss: computeGradients' parameter gradients of the summed per-sample mean BCE. The stem's
        // are small (|d/d bias| about 6e-5), so the loss moves along them by less than one float32 step of
        // `evaluate`'s sums; the differences are taken of the same loss summed in double precision from the logits.
        let masks = randomTensor([2, 16, 16, 1], &gen, in: 0...1)
        let losses = net.computeGradients(faces: x, masks: masks)
        func summedBCE() -> Double {
            let z = net.logits(x), pixels = Double(z.count / 2)
            var s = 0.0
            for i in 0..<z.count {
                let zi = Double(z[i]), y = Double(masks[i])
                s += (max(zi, 0) - zi * y + log1p(exp(-abs(zi)))) / pixels
            }
            return s
        }
        XCTAssertEqual(Double(losses.reduce(0, +)), summedBCE(), accuracy: 1e-5)
        for (name, p) in net.namedParameters where name.hasPrefix("out") || name.contains("stem") {
            let ratio = directionalRatio(of: summedBCE, wrt: p.value, gradient: p.gradient.values, eps: 1e-3)
            XCTAssertEqual(ratio, 1, accuracy: 5e-2, name)
        }
    }

    func testConfigValidation() {
        XCTAssertThrowsError(try XSegNet(config: XSegConfig(resolution: 100, width: 8, levels: 3)))
        XCTAssertThrowsError(try XSegNet(config: XSegConfig(resolution: 64, width: 7, levels: 2)))
        XCTAssertNoThrow(try XSegConfig.standard.validate())
    }

    /// Learns to segment a disc from a noisy background with a bright square on top: after 150 steps the
    /// predicted mask's IoU with the truth (disc minus square) is high, which an untrained net's is not.
    func testLearnsADiscMinusASquare() throws {
        let r = 32, n = 4
        let net = try XSegNet(config: XSegConfig(resolution: r, width: 8, levels: 2), seed: 9)
        func batch(_ seed: UInt64) -> (Tensor, Tensor) {
            var g = SeededGenerator(seed: seed)
            let x = Tensor(shape: [n, r, r, 3]), m = Tensor(shape: [n, r, r, 1])
            for b in 0..<n {
                let cx = 12 + Float(g.nextUnitFloat() * 8), cy = 12 + Float(g.nextUnitFloat() * 8)
                let sx = Int(g.next() % 20), sy = Int(g.next() % 20)
                for y in 0..<r { for x0 in 0..<r {
                    let inDisc = (Float(x0) - cx) * (Float(x0) - cx) + (Float(y) - cy) * (Float(y) - cy) < 81
                    let inSquare = x0 >= sx && x0 < sx + 8 && y >= sy && y < sy + 8
                    let p = (b * r + y) * r + x0
                    let noise = g.nextUnitFloat() * 0.2
                    let rgb: [Float] = inSquare ? [0.1, 0.9, 0.2] : inDisc ? [0.8, 0.6, 0.5] : [noise, noise, noise]
                    for c in 0..<3 { x[p * 3 + c] = rgb[c] }
                    m[p] = inDisc && !inSquare ? 1 : 0
                } }
            }
            return (x, m)
        }
        func iou(_ p: Tensor, _ t: Tensor) -> Double {
            var inter = 0.0, uni = 0.0
            for i in 0..<p.count { let a = p[i] > 0.5, b = t[i] > 0.5; if a && b { inter += 1 }; if a || b { uni += 1 } }
            return uni == 0 ? 1 : inter / uni
        }
        let (tx, tm) = batch(1000)
        let before = iou(net.predict(tx), tm)
        var first: Float = 0, last: Float = 0
        for i in 0..<150 {
            let (x, m) = batch(UInt64(i))
            let l = net.trainStep(faces: x, masks: m).reduce(0, +) / Float(n)
            if i == 0 { first = l }
            last = l
        }
        let after = iou(net.predict(tx), tm)
        XCTAssertLessThan(last, first * 0.5, "the BCE falls")
        XCTAssertGreaterThan(after, 0.8, "IoU on unseen shapes after training (before: \(before))")
        XCTAssertLessThan(before, 0.6)
    }
}
