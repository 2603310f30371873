/// SAEHD's colour options on real faces: `random_hsv_power` shifts each src input face by one hue, saturation and
/// value offset in DeepFaceLab's ranges (checked against Python's `colorsys`, an independent HSV implementation), its
/// spread grows with the power, and nothing else changes (targets, masks, dst batches; power 0 is bit-identical to a
/// model without the option); it and `ct_mode` change on resume, and colour transfer can be turned off again.
import XCTest
import Foundation
import FacetCore
import FacetMedia
import FacetNN
import FacetStore
@testable import FacetTrain

final class SAEHDColorOptionsTests: TrainTestCase {
    func options(stop: Int, hsv: Double? = nil, seed: UInt64 = 7) -> TrainOptions {
        var o = TrainOptions(architecture: .saehd, name: "s", batchSize: 4, stop: .iterations(stop), seed: seed)
        o.saehd = SAEHDTrainingTests.tiny("liae-ud")
        o.saehd?.randomHsvPower = hsv
        return o
    }

    /// `HSVShift.apply` against `colorsys` (hue in turns there): 300 colours of real faces' pixels and of the RGB
    /// cube's corners and edges, each under a shift at the clipping edges or inside them.
    func testShiftMatchesColorsys() throws {
        var g = SeededGenerator(seed: 5)
        var pixels: [Float] = [0, 0, 0, 1, 1, 1, 1, 0, 0, 0, 1, 0, 0, 0, 1, 1, 1, 0, 0.5, 0.5, 0.5, 0.2, 0.9, 0.9]
        let crop = try JPEGCodec.decode(try XCTUnwrap(Self.crops(perRole: 2).first).jpeg)
        while pixels.count < 300 * 3 {
            let i = Int(g.next() % UInt64(crop.width * crop.height))
            for c in 0..<3 { pixels.append(Float(crop.pixels[i * 3 + c]) / 255) }
        }
        let n = pixels.count / 3
        var shifts: [HSVShift] = []
        for k in 0..<n {
            let power = [0.05, 0.3, 0.3][k % 3]
            var s = HSVShift.draw(power: power, generator: &g)
            if k % 7 == 0 { s = HSVShift(hue: -150, saturation: 0.15, value: -0.15) }
            shifts.append(s)
        }
        var out = pixels
        out.withUnsafeMutableBufferPointer { b in
            for k in 0..<n { shifts[k].apply(to: b.baseAddress! + k * 3, pixels: 1) }
        }
        var input: [[Double]] = []
        for k in 0..<n {
            let rgb: [Double] = (0..<3).map { Double(pixels[k * 3 + $0]) }
            input.append(rgb + [shifts[k].hue, shifts[k].saturation, shifts[k].value])
        }
        let script = """
            import colorsys, json, sys
            out = []
            for r, g, b, dh, ds, dv in json.load(sys.stdin):
                h, s, v = colorsys.rgb_to_hsv(r, g, b)
                h = (h * 360 + dh) % 360
                s = min(max(s + ds, 0), 1); v = min(max(v + dv, 0), 1)
                out.append([min(max(c, 0), 1) for c in colorsys.hsv_to_rgb(h / 360, s, v)])
            print(json.dumps(out))
            """
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["python3", "-c", script]
        let stdin = Pipe(), stdout = Pipe()
        p.standardInput = stdin
        p.standardOutput = stdout
        try p.run()
        stdin.fileHandleForWriting.write(try JSONSerialization.data(withJSONObject: input))
        try stdin.fileHandleForWriting.close()
        let data = stdout.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        XCTAssertEqual(p.terminationStatus, 0)
        let reference = try XCTUnwrap(try JSONSerialization.jsonObject(with: data) as? [[Double]])
        XCTAssertEqual(reference.count, n)
        var worst = 0.0, moved = 0
        for k in 0..<n {
            for c in 0..<3 {
                worst = max(worst, abs(reference[k][c] - Double(out[k * 3 + c])))
                if abs(Double(out[k * 3 + c]) - Double(pixels[k * 3 + c])) > 0.01 { moved += 1 }
            }
        }
        XCTAssertLessThan(worst, 1e-5, "largest difference from colorsys")
        XCTAssertGreaterThan(moved, n, "the shifts change the colours")
        // DeepFaceLab's ranges: hue an integer number of degrees within max(1, int(180 * power)).
        XCTAssertEqual(HSVShift.hueAmount(power: 0.05), 9)
        XCTAssertEqual(HSVShift.hueAmount(power: 0.3), 54)
        XCTAssertEqual(HSVShift.hueAmount(power: 0.001), 1)
    }

    /// Each src input face of a batch gets one shift (recovered from the pixels whose saturation and value did not
    /// clip: the same for all of them); its spread grows with the power; the targets, masks and dst batches are those
    /// of power 0, and power 0 is bit-identical to a model without the option.
    func testRandomHSVPowerShiftsOnlyTheSrcInputs() throws {
        let p = try projectWithFaces(src: 8, dst: 8)
        func batches(_ hsv: Double?, name: String) throws -> [(src: TrainingBatch, dst: TrainingBatch)] {
            var o = options(stop: 1, hsv: hsv)
            o.name = name
            let t = try Trainer(project: p, options: o)
            XCTAssertEqual(t.batchMaker.hsvPower, hsv ?? 0)
            return (1...10).map { t.makeBatches(iteration: $0) }
        }
        let none = try batches(nil, name: "none"), zero = try batches(0, name: "zero")
        for (a, b) in zip(none, zero) {
            for (x, y) in [(a.src.warped, b.src.warped), (a.src.target, b.src.target), (a.dst.warped, b.dst.warped)] {
                XCTAssertEqual(x.values, y.values, "power 0 leaves the batches bit-identical")
            }
        }
        var spreads: [Double: (hue: Double, saturation: Double, value: Double)] = [:]
        for power in [0.05, 0.2] {
            let shifted = try batches(power, name: "p\(power)")
            var hues: [Double] = [], sats: [Double] = [], vals: [Double] = []
            for (a, b) in zip(zero, shifted) {
                XCTAssertEqual(a.src.target.values, b.src.target.values, "the target is not shifted")
                XCTAssertEqual(a.src.mask.values, b.src.mask.values)
                XCTAssertEqual(a.dst.warped.values, b.dst.warped.values, "dst faces are not shifted")
                XCTAssertNotEqual(a.src.warped.values, b.src.warped.values)
                let px = 64 * 64
                for k in 0..<a.src.warped.batch {
                    var dh: [Double] = [], ds: [Double] = [], dv: [Double] = []
                    for i in 0..<px {
                        let o = (k * px + i) * 3
                        let before = HSVShift.hsv(Double(a.src.warped[o]), Double(a.src.warped[o + 1]),
                                                  Double(a.src.warped[o + 2]))
                        let after = HSVShift.hsv(Double(b.src.warped[o]), Double(b.src.warped[o + 1]),
                                                 Double(b.src.warped[o + 2]))
                        // Pixels well away from any clipping and with a clear hue.
                        guard before.1 > 0.25, before.1 < 0.75, before.2 > 0.25, before.2 < 0.75, after.1 > 0.02,
                              after.1 < 0.98, after.2 > 0.02, after.2 < 0.98 else { continue }
                        var h = after.0 - before.0
                        if h > 180 { h -= 360 }
                        if h <= -180 { h += 360 }
                        dh.append(h); ds.append(after.1 - before.1); dv.append(after.2 - before.2)
                    }
                    XCTAssertGreaterThan(dh.count, 200, "enough face pixels to measure")
                    let hue = dh.sorted()[dh.count / 2], sat = ds.sorted()[ds.count / 2], val = dv.sorted()[dv.count / 2]
                    // One shift for the whole face: every clean pixel moved by the same amounts.
                    XCTAssertLessThan(dh.map { abs($0 - hue) }.max()!, 0.01)
                    XCTAssertLessThan(ds.map { abs($0 - sat) }.max()!, 1e-4)
                    XCTAssertLessThan(dv.map { abs($0 - val) }.max()!, 1e-4)
                    // In DeepFaceLab's ranges: whole degrees within hueAmount, the others within power / 2.
                    XCTAssertEqual(hue, hue.rounded(), accuracy: 0.01)
                    XCTAssertLessThanOrEqual(abs(hue), Double(HSVShift.hueAmount(power: power)) + 0.01)
                    XCTAssertLessThanOrEqual(abs(sat), power / 2 + 1e-4)
                    XCTAssertLessThanOrEqual(abs(val), power / 2 + 1e-4)
                    hues.append(hue); sats.append(sat); vals.append(val)
                }
            }
            func sd(_ x: [Double]) -> Double {
                let m = x.reduce(0, +) / Double(x.count)
                return (x.map { ($0 - m) * ($0 - m) }.reduce(0, +) / Double(x.count)).squareRoot()
            }
            spreads[power] = (sd(hues), sd(sats), sd(vals))
            // 40 faces: the spreads are those of DeepFaceLab's uniform draws (hue h / sqrt(3), the others
            // power / sqrt(12)) within 35%.
            let h = Double(HSVShift.hueAmount(power: power))
            XCTAssertEqual(sd(hues), (h * (h + 1) / 3).squareRoot(), accuracy: 0.35 * h / 3.squareRoot())
            XCTAssertEqual(sd(sats), power / 12.squareRoot(), accuracy: 0.35 * power / 12.squareRoot())
            XCTAssertEqual(sd(vals), power / 12.squareRoot(), accuracy: 0.35 * power / 12.squareRoot())
        }
        let low = try XCTUnwrap(spreads[0.05]), high = try XCTUnwrap(spreads[0.2])
        print("random_hsv_power spread over 40 src faces: hue \(low.hue) -> \(high.hue) degrees, saturation "
              + "\(low.saturation) -> \(high.saturation), value \(low.value) -> \(high.value) (power 0.05 -> 0.2)")
        XCTAssertGreaterThan(high.hue, 2.5 * low.hue)
        XCTAssertGreaterThan(high.saturation, 2.5 * low.saturation)
        XCTAssertGreaterThan(high.value, 2.5 * low.value)
    }

    /// `random_hsv_power` and `ct_mode` change on resume and are stored; colour transfer turned off again gives the
    /// batches of a model that never had it; a power outside 0...0.3 is refused in one line with nothing changed.
    func testHSVPowerAndColorTransferChangeOnResume() throws {
        let p = try projectWithFaces(src: 6, dst: 6)
        try Trainer(project: p, options: options(stop: 1)).run()
        var plain = options(stop: 1)
        plain.name = "plain"
        let reference = try Trainer(project: p, options: plain)

        var on = TrainOptions(name: "s", resume: true, stop: .iterations(2))
        on.resumeChanges.colorTransfer = .some(.rct)
        on.resumeChanges.randomHsvPower = 0.1
        let t = try Trainer(project: p, options: on)
        XCTAssertEqual(t.options.colorTransfer, .rct)
        XCTAssertEqual(t.batchMaker.hsvPower, 0.1)
        let recoloured = t.makeBatches(iteration: 2), plainBatches = reference.makeBatches(iteration: 2)
        XCTAssertNotEqual(recoloured.src.target.values, plainBatches.src.target.values, "rct recolours the src faces")
        XCTAssertEqual(recoloured.dst.target.values, plainBatches.dst.target.values)
        try t.run()
        var stored = try ModelOptions.parse(try XCTUnwrap(try p.model(named: "s")).optionsJson, model: "s")
        XCTAssertEqual(stored.colorTransfer, .rct)
        XCTAssertEqual(stored.saehd?.randomHsvPower, 0.1)

        let before = try XCTUnwrap(try p.model(named: "s")).optionsJson
        var bad = TrainOptions(name: "s", resume: true, stop: .iterations(3))
        bad.resumeChanges.randomHsvPower = 0.5
        XCTAssertThrowsError(try Trainer(project: p, options: bad)) { e in
            XCTAssertEqual("\(e)", "random-hsv-power must be 0 to 0.3 (DeepFaceLab's range), got 0.5")
        }
        XCTAssertEqual(try XCTUnwrap(try p.model(named: "s")).optionsJson, before)

        var off = TrainOptions(name: "s", resume: true, stop: .iterations(3))
        off.resumeChanges.colorTransfer = .some(nil)
        off.resumeChanges.randomHsvPower = 0
        let u = try Trainer(project: p, options: off)
        XCTAssertNil(u.options.colorTransfer)
        let back = u.makeBatches(iteration: 3), never = reference.makeBatches(iteration: 3)
        for (x, y) in [(back.src.warped, never.src.warped), (back.src.target, never.src.target),
                       (back.dst.warped, never.dst.warped)] {
            XCTAssertEqual(x.values, y.values, "off again: the batches of a model that never had it")
        }
        try u.run()
        let json = try XCTUnwrap(try p.model(named: "s")).optionsJson
        stored = try ModelOptions.parse(json, model: "s")
        XCTAssertNil(stored.colorTransfer)
        XCTAssertFalse(json.contains("color_transfer"), json)
        XCTAssertEqual(stored.saehd?.randomHsvPower, 0)
        XCTAssertEqual(try p.losses(modelId: try XCTUnwrap(try p.model(named: "s")).id!).map(\.iteration), [1, 2, 3])
    }
}
