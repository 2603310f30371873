/// Frozen parameters (`Parameter.freeze`, `SwapNetwork.freezeForInference`): the convolutions keep
/// their Winograd-domain kernels between calls, with outputs bit-identical to the unfrozen path,
/// and any change of the weights (optimizer step, checkpoint import, `valueChanged`) is seen.
import XCTest
@testable import FacetNN

final class FrozenInferenceTests: XCTestCase {
    // Small test images would otherwise fall below the size where Winograd is used: every test of this class runs
    // under a policy that takes Winograd from one tile (bound for the test's scope; no global is changed).
    override func invokeTest() { ConvPolicy.with({ $0.winogradMinimumTiles = 1 }) { super.invokeTest() } }

    func testFrozenConvolutionEqualsUnfrozenOnEveryWinogradPath() {
        var gen = SeededGenerator(seed: 21)
        // 3x3 stride 1 (both tiles), 5x5 stride 2 (space-to-depth, both tiles), im2col (odd size).
        for (k, s, cin, h, tile) in [(3, 1, 8, 8, 4), (3, 1, 16, 8, 2), (5, 2, 3, 8, 4), (5, 2, 8, 12, 2), (5, 2, 3, 9, nil)]
            as [(Int, Int, Int, Int, Int?)] { ConvPolicy.with({ $0.winogradTile = tile }) {
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
        } }
    }

    func testFrozenNetworkPredictsAsUnfrozenAndSeesTrainingAndImports() throws {
        try ConvPolicy.with({ $0.winogradMinimumTiles = 16 }) { try frozenNetworkPredictsAsUnfrozenAndSeesTrainingAndImports() }
    }

    func frozenNetworkPredictsAsUnfrozenAndSeesTrainingAndImports() throws {
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
}
