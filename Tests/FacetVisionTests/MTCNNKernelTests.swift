/// MTCNN's kernels against plain reference loops: convolution, dense, TF pooling, resampling, NMS.
@testable import FacetVision
import FacetCore
import XCTest

final class MTCNNKernelTests: XCTestCase {
    /// Deterministic pseudo-random floats in [-1, 1).
    private func noise(_ count: Int, seed: UInt64) -> [Float] {
        var state = seed
        return (0..<count).map { _ in
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Float(Int64(bitPattern: state >> 11) % 2_000_000) / 1_000_000 - 1
        }
    }

    /// Both convolution paths, the SIMD kernel (a partial second channel block, rows and maps crossed
    /// by its six-pixel tiles, a short last tile) and im2col + sgemm, equal a naive VALID convolution
    /// with bias and PReLU.
    func testConvolutionMatchesNaiveLoops() {
        for (n, h, w, cin, cout, kh, kw) in [(2, 7, 9, 5, 21, 3, 2), (1, 12, 12, 3, 10, 3, 3), (3, 4, 4, 48, 64, 2, 2), (1, 5, 3, 2, 6, 1, 1),
                                             (1, 9, 11, 4, 48, 3, 3), (2, 6, 7, 3, 16, 2, 3), (1, 3, 20, 5, 33, 1, 1)] {
            let weight = noise(kh * kw * cin * cout, seed: 1), bias = noise(cout, seed: 2)
            let alpha = noise(cout, seed: 3).map { abs($0) * 0.5 }
            let input = noise(n * h * w * cin, seed: 4)
            let layer = ConvLayer(kh: kh, kw: kw, cin: cin, cout: cout, weight: weight, bias: bias, alpha: alpha)
            let oh = h - kh + 1, ow = w - kw + 1
            var direct = [Float](repeating: .nan, count: n * oh * ow * cout), gemm = direct
            input.withUnsafeBufferPointer { i in
                direct.withUnsafeMutableBufferPointer { o in layer.forwardDirect(i.baseAddress!, n: n, h: h, w: w, into: o.baseAddress!) }
                gemm.withUnsafeMutableBufferPointer { o in layer.forwardGEMM(i.baseAddress!, n: n, h: h, w: w, into: o.baseAddress!) }
            }
            // The AVX-512 kernel (tiles of 8 x 16, 6 x 32 and 6 x 16 channels) runs the same fused
            // multiply-adds in the same order: bit-identical to the AVX2 one.
            if ConvKernel.avx512Available {
                var wide = [Float](repeating: .nan, count: direct.count)
                input.withUnsafeBufferPointer { i in
                    wide.withUnsafeMutableBufferPointer { o in layer.forwardAVX512(i.baseAddress!, n: n, h: h, w: w, into: o.baseAddress!) }
                }
                XCTAssertEqual(wide, direct, "AVX-512 kernel, n\(n) \(h)x\(w)x\(cin) -> \(cout), kernel \(kh)x\(kw)")
            }
            var worst: Float = 0
            for b in 0..<n {
                for y in 0..<oh {
                    for x in 0..<ow {
                        for co in 0..<cout {
                            var sum = bias[co]
                            for dy in 0..<kh {
                                for dx in 0..<kw {
                                    for ci in 0..<cin {
                                        sum += input[((b * h + y + dy) * w + x + dx) * cin + ci] * weight[((dy * kw + dx) * cin + ci) * cout + co]
                                    }
                                }
                            }
                            let expected = sum > 0 ? sum : sum * alpha[co]
                            let index = ((b * oh + y) * ow + x) * cout + co
                            worst = max(worst, abs(direct[index] - expected), abs(gemm[index] - expected))
                        }
                    }
                }
            }
            XCTAssertLessThan(worst, 1e-4, "conv n\(n) \(h)x\(w)x\(cin) -> \(cout), kernel \(kh)x\(kw)")
        }
    }

    /// A dense layer over a batch is the same layer as a 1x1 convolution; linear without PReLU.
    func testDenseMatchesMatrixProduct() {
        let n = 7, inputs = 37, outputs = 19
        let weight = noise(inputs * outputs, seed: 5), bias = noise(outputs, seed: 6), input = noise(n * inputs, seed: 7)
        let layer = ConvLayer(kh: 1, kw: 1, cin: inputs, cout: outputs, weight: weight, bias: bias, alpha: nil)
        var output = [Float](repeating: .nan, count: n * outputs)
        input.withUnsafeBufferPointer { i in
            output.withUnsafeMutableBufferPointer { o in layer.dense(i.baseAddress!, n: n, into: o.baseAddress!) }
        }
        for r in 0..<n {
            for j in 0..<outputs {
                var sum = bias[j]
                for k in 0..<inputs { sum += input[r * inputs + k] * weight[k * outputs + j] }
                XCTAssertEqual(output[r * outputs + j], sum, accuracy: 1e-4)
            }
        }
    }

    /// TensorFlow's rules: SAME 3/2 over 5 gives 3 outputs with one padded cell before; padded
    /// cells never win, even over negative values; VALID drops partial windows.
    func testMaxPoolFollowsTensorFlowPadding() {
        // Values -(y * 5 + x) - 1: each window's maximum is its top-left real cell.
        let input = (0..<25).map { Float(-$0 - 1) }
        func pool(_ p: MaxPool, _ h: Int, _ w: Int) -> ([Float], Int, Int) {
            let (oh, ow) = (p.output(h).count, p.output(w).count)
            var out = [Float](repeating: .nan, count: oh * ow)
            input.withUnsafeBufferPointer { i in
                out.withUnsafeMutableBufferPointer { o in p.forward(i.baseAddress!, n: 1, h: h, w: w, c: 1, into: o.baseAddress!) }
            }
            return (out, oh, ow)
        }
        let same3 = pool(MaxPool(size: 3, stride: 2, same: true), 5, 5)
        XCTAssertEqual(same3.1, 3)
        let tops = [0, 1, 3]
        XCTAssertEqual(same3.0, tops.flatMap { y in tops.map { x in Float(-(y * 5 + x) - 1) } })
        let same2 = pool(MaxPool(size: 2, stride: 2, same: true), 5, 5)
        XCTAssertEqual(same2.1, 3, "ceil(5 / 2)")
        XCTAssertEqual(same2.0, [0, 2, 4].flatMap { y in [0, 2, 4].map { x in Float(-(y * 5 + x) - 1) } })
        let valid = pool(MaxPool(size: 3, stride: 2, same: false), 5, 5)
        XCTAssertEqual(valid.1, 2)
        XCTAssertEqual(valid.0, [0, 2].flatMap { y in [0, 2].map { x in Float(-(y * 5 + x) - 1) } })
        XCTAssertEqual(MaxPool(size: 3, stride: 2, same: false).output(9).count, 4, "R-Net's 9 -> 4")
        XCTAssertEqual(MaxPool(size: 3, stride: 2, same: true).output(22).count, 11, "R-Net's 22 -> 11")
    }

    /// OpenCV INTER_AREA weights: each output's weights sum to 1; a 2x shrink averages pairs.
    func testAreaTapsAverageTheFootprint() {
        for (source, destination) in [(512, 308), (512, 15), (24, 24), (100, 24), (7, 3)] {
            let taps = AxisTaps.area(source: source, destination: destination)
            for o in 0..<destination {
                let sum = taps.weights[taps.starts[o]..<taps.starts[o + 1]].reduce(0, +)
                XCTAssertEqual(sum, 1, accuracy: 1e-5, "\(source) -> \(destination) output \(o)")
                XCTAssertTrue(taps.indices[taps.starts[o]..<taps.starts[o + 1]].allSatisfy { (0..<source).contains($0) })
            }
        }
        let half = AxisTaps.area(source: 6, destination: 3)
        XCTAssertEqual(half.indices, [0, 1, 2, 3, 4, 5])
        XCTAssertEqual(half.weights, [0.5, 0.5, 0.5, 0.5, 0.5, 0.5])
        let grow = AxisTaps.enlargingArea(source: 20, destination: 24)
        for o in 0..<24 {
            XCTAssertEqual(grow.weights[grow.starts[o]..<grow.starts[o + 1]].reduce(0, +), 1, accuracy: 1e-5)
        }
    }

    /// The network input is normalised, transposed (x-major), and zero outside the image.
    func testResampleWritesTransposedNormalisedInput() {
        // A 3x2 image whose red channel is 10 * x + 100 * y.
        let width = 3, height = 2
        var pixels = [UInt8](repeating: 0, count: width * height * 3)
        for y in 0..<height { for x in 0..<width { pixels[(y * width + x) * 3] = UInt8(10 * x + 100 * y); pixels[(y * width + x) * 3 + 1] = 255 } }
        func run(originX: Int) -> [Float] {
            var out = [Float](repeating: .nan, count: width * height * 3)
            var scratch = [Float](repeating: 0, count: width * 3)
            let taps = AxisTaps.pair(sourceWidth: width, sourceHeight: height, width: width, height: height)
            pixels.withUnsafeBufferPointer { p in
                out.withUnsafeMutableBufferPointer { o in
                    scratch.withUnsafeMutableBufferPointer { s in
                        resampleToNetworkInput(p.baseAddress!, imageWidth: width, imageHeight: height, originX: originX, originY: 0,
                                               windowWidth: width, windowHeight: height, width: width, height: height,
                                               taps: taps, into: o.baseAddress!, rowScratch: s.baseAddress!)
                    }
                }
            }
            return out
        }
        let same = run(originX: 0)
        for x in 0..<width {
            for y in 0..<height {
                XCTAssertEqual(same[(x * height + y) * 3], (Float(10 * x + 100 * y) - 127.5) / 128, accuracy: 1e-6)
                XCTAssertEqual(same[(x * height + y) * 3 + 1], (255 - 127.5) / 128, accuracy: 1e-6)
            }
        }
        let shifted = run(originX: -1)
        for y in 0..<height {
            XCTAssertEqual(shifted[y * 3 + 1], -127.5 / 128, accuracy: 1e-6, "column left of the image reads black")
            XCTAssertEqual(shifted[(1 * height + y) * 3], (Float(100 * y) - 127.5) / 128, accuracy: 1e-6)
        }
    }

    /// Greedy NMS keeps the best of overlapping boxes, by union or by the smaller box.
    func testNonMaximumSuppression() {
        let boxes = [
            Candidate(x1: 0, y1: 0, x2: 99, y2: 99, score: 0.9),
            Candidate(x1: 5, y1: 5, x2: 104, y2: 104, score: 0.95),
            Candidate(x1: 200, y1: 200, x2: 249, y2: 249, score: 0.5),
            Candidate(x1: 210, y1: 210, x2: 229, y2: 229, score: 0.4),   // inside the previous one
        ]
        let union = nonMaximumSuppression(boxes, threshold: 0.5, byMinimum: false)
        XCTAssertEqual(union.map(\.score), [0.95, 0.5, 0.4], "IoU of the nested pair is only 0.16")
        let minimum = nonMaximumSuppression(boxes, threshold: 0.5, byMinimum: true)
        XCTAssertEqual(minimum.map(\.score), [0.95, 0.5])
    }
}
