/// Frozen parameters (`Parameter.freeze`, `SwapNetwork.freezeForInference`): the convolutions keep
/// their Winograd-domain kernels between calls, with outputs bit-identical to the unfrozen path,
/// and any change of the weights (optimizer step, checkpoint import, `valueChanged`) is seen.
import XCTest
@testable import FacetNN

final class FrozenInferenceTests: XCTestCase {
    override func setUp() { Conv2D.winogradMinimumTiles = 1 }
    override func tearDown() { Conv2D.winogradMinimumTiles = 16; Conv2D.winogradTileOverride = nil }

    func testFrozenConvolutionEqualsUnfrozenOnEveryWinogradPath() {
        var gen = SeededGenerator(seed: 21)
        // 3x3 stride 1 (both tiles), 5x5 stride 2 (space-to-depth, both tiles), im2col (odd size).
        for (k, s, cin, h, tile) in [(3, 1, 8, 8, 4), (3, 1, 16, 8, 2), (5, 2, 3, 8, 4), (5, 2, 8, 12, 2), (5, 2, 3, 9, nil)]
            as [(Int, Int, Int, Int, Int?)] {
            Conv2D.winogradTileOverride = tile
            let conv = Conv2D(inChannels: cin, outChannels: 16, kernelSize: k, stride: s, activation: .leakyReLU(0.2))
            conv.initialize(using: &gen)
            conv.useWinograd = true
            let x1 = randomTensor([2, h, h, cin], &gen), x2 = randomTensor([2, h, h, cin], &gen)
            let plain1 = conv.forward(x1).values, plain2 = conv.forward(x2).values
            conv.weight.freeze()
            let label = "k\(k) s\(s) cin \(cin) tile \(tile.map(String.init) ?? "im2col")"
            // The first frozen call transforms, the later ones reuse it: all exactly as unfrozen.
            XCTAssertEqual(conv.forward(x1).values, plain1, label)
            XCTAssertEqual(conv.forward(x2).values, plain2, label)
            XCTAssertEqual(conv.forward(x1).values, plain1, label)

            // A changed weight is seen after valueChanged() ...
            for i in 0..<conv.weight.value.count { conv.weight.value[i] *= 0.5 }
            conv.weight.valueChanged()
            let halved = conv.forward(x1).values
            conv.weight.thaw()
            XCTAssertEqual(halved, conv.forward(x1).values, label)
            if tile != nil {
                // ... and only then: a frozen weight written without telling keeps the cached kernel
                // (which shows the cache is used at all).
                conv.weight.freeze()
                _ = conv.forward(x1)
                for i in 0..<conv.weight.value.count { conv.weight.value[i] *= 2 }
                XCTAssertEqual(conv.forward(x1).values, halved, label)
                conv.weight.thaw()
                XCTAssertEqual(conv.forward(x1).values, plain1, label)
            }
        }
    }

    func testFrozenNetworkPredictsAsUnfrozenAndSeesTrainingAndImports() throws {
        Conv2D.winogradMinimumTiles = 16
        var gen = SeededGenerator(seed: 5)
        let config = Quick96Config(resolution: 32, encoderDims: 8, aeDims: 16, decoderDims: 8, maskDims: 8)
        let model = try Quick96(config: config, seed: 3)
        let other = try Quick96(config: config, seed: 4)
        let faces = randomTensor([2, 32, 32, 3], &gen, in: 0...1)
        func predict(_ m: Quick96) -> [Float] {
            let (image, mask) = m.predict(faces, decoder: .src)
            return image.values + mask.values
        }
        let before = predict(model)
        model.freezeForInference()
        XCTAssertEqual(predict(model), before)
        XCTAssertEqual(predict(model), before)

        // An optimizer step on the frozen network: its next prediction equals an unfrozen one.
        let batch = TrainingBatch(warped: faces, target: faces, mask: Tensor(shape: [2, 32, 32, 1], values: [Float](repeating: 1, count: 2 * 32 * 32)))
        _ = model.trainStep(src: batch, dst: batch)
        let trainedFrozen = predict(model)
        XCTAssertNotEqual(trainedFrozen, before)
        model.thawAfterInference()
        XCTAssertEqual(predict(model), trainedFrozen)

        // Importing another network's weights into a frozen one.
        model.freezeForInference()
        _ = predict(model)
        try model.importTensors(other.exportTensors())
        XCTAssertEqual(predict(model), predict(other))
    }

    /// Same-run A/B of Quick96 inference at batch 4 (the merge's batch), frozen and not, in ABBA
    /// order; prints medians of process CPU time and wall time. Skipped unless FACET_BENCH_FROZEN=1.
    func testFrozenPredictTiming() throws {
        try XCTSkipUnless(ProcessInfo.processInfo.environment["FACET_BENCH_FROZEN"] == "1", "set FACET_BENCH_FROZEN=1 to time it")
        Conv2D.winogradMinimumTiles = 16
        var gen = SeededGenerator(seed: 8)
        let model = try Quick96(config: .quick96, seed: 1)
        let faces = randomTensor([4, 96, 96, 3], &gen, in: 0...1)
        func cpu() -> Double {
            var t = timespec()
            clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t)
            return Double(t.tv_sec) + Double(t.tv_nsec) * 1e-9
        }
        var times: [Bool: [(cpu: Double, wall: Double)]] = [true: [], false: []]
        var outputs: [Bool: [Float]] = [:]
        for round in 0..<13 {
            for frozen in (round % 2 == 0 ? [false, true] : [true, false]) {
                if frozen { model.freezeForInference() } else { model.thawAfterInference() }
                if frozen { _ = model.predict(faces, decoder: .src) }  // the one transforming call
                let (c0, w0) = (cpu(), ProcessInfo.processInfo.systemUptime)
                let o = model.predict(faces, decoder: .src)
                let (c1, w1) = (cpu(), ProcessInfo.processInfo.systemUptime)
                if round > 0 { times[frozen]!.append((c1 - c0, w1 - w0)) }
                outputs[frozen] = o.image.values + o.mask.values
            }
        }
        XCTAssertEqual(outputs[true], outputs[false])
        func median(_ v: [Double]) -> Double { v.sorted()[v.count / 2] * 1000 }
        let (a, b) = (times[false]!, times[true]!)
        print(String(format: "Quick96 predict, batch 4, %d runs each (ABBA): not frozen CPU %.1f ms wall %.1f ms; frozen CPU %.1f ms wall %.1f ms; CPU ratio %.3f",
                     a.count, median(a.map(\.cpu)), median(a.map(\.wall)), median(b.map(\.cpu)), median(b.map(\.wall)),
                     median(a.map(\.cpu)) / median(b.map(\.cpu))))
    }
}
