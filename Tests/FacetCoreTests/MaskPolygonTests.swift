/// The mask rasterizer against an independent point-in-polygon test and the shoelace area, and the label file parser.
import XCTest
import Foundation
@testable import FacetCore

final class MaskPolygonTests: XCTestCase {
    /// Winding number of `poly` around (x, y), counted the textbook way (Sunday's crossing test), independent of the
    /// rasterizer's scanline spans.
    func winding(_ poly: [Point2], _ x: Double, _ y: Double) -> Int {
        var w = 0
        for i in poly.indices {
            let a = poly[i], b = poly[(i + 1) % poly.count]
            let side = (b.x - a.x) * (y - a.y) - (x - a.x) * (b.y - a.y)
            if a.y <= y { if b.y > y && side > 0 { w += 1 } } else if b.y <= y && side < 0 { w -= 1 }
        }
        return w
    }

    func shoelace(_ p: [Point2]) -> Double {
        abs(p.indices.reduce(0.0) { s, i in let q = p[(i + 1) % p.count]; return s + p[i].x * q.y - q.x * p[i].y }) / 2
    }

    /// With one sample a pixel, every pixel is exactly what the reference says of its centre, over random polygons
    /// (self-crossing ones too) drawn include then exclude in turn.
    func testPixelCentresMatchAnIndependentWindingTest() {
        var rng = SplitMix64(seed: 7)
        for trial in 0..<40 {
            let size = 24 + Int(rng.next() % 40)
            var polys: [MaskPolygon] = []
            for k in 0..<(1 + Int(rng.next() % 4)) {
                let n = 3 + Int(rng.next() % 7)
                let pts = (0..<n).map { _ in
                    Point2(Double(rng.next() % UInt64(size * 8)) / 8, Double(rng.next() % UInt64(size * 8)) / 8)
                }
                polys.append(MaskPolygon(kind: k % 2 == 0 ? .include : .exclude, points: pts))
            }
            let mask = MaskPolygon.rasterize(polys, width: size, height: size, samples: 1)
            for y in 0..<size {
                for x in 0..<size {
                    var inside = false
                    for p in polys where winding(p.points, Double(x) + 0.5, Double(y) + 0.5) != 0 {
                        inside = p.kind == .include
                    }
                    XCTAssertEqual(mask[y * size + x], inside ? 255 : 0, "trial \(trial) pixel (\(x), \(y))")
                    if mask[y * size + x] != (inside ? 255 : 0) { return }
                }
            }
        }
    }

    /// Anti-aliased coverage sums to the polygon's area (shoelace) within the edge sampling error, and an exclude
    /// polygon inside takes its own area away.
    func testCoverageSumsToTheShoelaceArea() {
        let outer = [Point2(10.3, 8.7), Point2(90.2, 20.5), Point2(70.9, 88.1), Point2(15.5, 60.25)]
        let hole = [Point2(30, 30), Point2(50, 32), Point2(45, 55)]
        let a = MaskPolygon.rasterize([MaskPolygon(kind: .include, points: outer)], width: 100, height: 100, samples: 8)
        let area = Double(a.reduce(0) { $0 + Int($1) }) / 255
        XCTAssertEqual(area, shoelace(outer), accuracy: shoelace(outer) * 0.003)
        let b = MaskPolygon.rasterize([MaskPolygon(kind: .include, points: outer),
                                       MaskPolygon(kind: .exclude, points: hole)], width: 100, height: 100, samples: 8)
        let areaB = Double(b.reduce(0) { $0 + Int($1) }) / 255
        XCTAssertEqual(areaB, shoelace(outer) - shoelace(hole), accuracy: shoelace(outer) * 0.003)
        XCTAssertEqual(b[40 * 100 + 42], 0, "inside the hole")
        XCTAssertEqual(b[70 * 100 + 40], 255, "inside the outer polygon, away from the hole")
        // An exclude polygon before any include one cuts nothing; the whole crop as one polygon fills every pixel.
        let c = MaskPolygon.rasterize([MaskPolygon(kind: .exclude, points: hole),
                                       MaskPolygon(kind: .include, points: [Point2(0, 0), Point2(16, 0),
                                                                            Point2(16, 16), Point2(0, 16)])],
                                      width: 16, height: 16)
        XCTAssertEqual(Set(c), [255])
        XCTAssertEqual(MaskPolygon.rasterize([], width: 4, height: 3), [UInt8](repeating: 0, count: 12))
    }

    func testLabelLinesRoundTrip() throws {
        let text = """
            {"face": 12, "polygons": [{"kind": "include", "points": [[1, 2], [30.5, 2], [30.5, 40.25]]}, \
            {"kind": "exclude", "points": [[5, 5], [9, 5], [9, 9], [5, 9]]}]}

            {"face": 3, "polygons": [], "note": "cleared"}
            """
        let lines = try MaskLabels.parse(Data(text.utf8), path: "l.jsonl")
        XCTAssertEqual(lines.map(\.line), [1, 3])
        XCTAssertEqual(lines.map(\.face), [12, 3])
        XCTAssertEqual(lines[0].polygons.map(\.kind), [.include, .exclude])
        XCTAssertEqual(lines[0].polygons[0].points, [Point2(1, 2), Point2(30.5, 2), Point2(30.5, 40.25)])
        XCTAssertEqual(lines[1].polygons, [])
        let written = MaskLabels.line(face: 12, polygons: lines[0].polygons)
        XCTAssertEqual(written, "{\"face\": 12, \"polygons\": [{\"kind\": \"include\", \"points\": [[1, 2], [30.5, 2], "
                       + "[30.5, 40.25]]}, {\"kind\": \"exclude\", \"points\": [[5, 5], [9, 5], [9, 9], [5, 9]]}]}")
        XCTAssertEqual(try MaskLabels.parse(Data(written.utf8), path: "x")[0].polygons, lines[0].polygons)
        let odd = MaskPolygon(kind: .include, points: [Point2(0.1, 1e-5), Point2(63.999, 2), Point2(7, 8)]).stored
        XCTAssertEqual(try MaskLabels.polygons(json: MaskLabels.json([odd])).map(\.stored), [odd],
                       "float32 values round trip")
    }

    /// Each kind of bad line is one message naming the file, the line and the problem.
    func testBadLinesNameTheFileAndLine() {
        let good = "{\"face\": 1, \"polygons\": []}\n"
        let cases: [(String, String)] = [
            ("not json at all", "l.jsonl:2: is not JSON"),
            ("{\"face\": 2}", "l.jsonl:2: has no \"polygons\""),
            ("{\"face\": \"x\", \"polygons\": []}", "l.jsonl:2: unexpected value at face"),
            ("{\"face\": 2, \"polygons\": [{\"kind\": \"keep\", \"points\": [[0,0],[1,0],[1,1]]}]}",
             "l.jsonl:2: polygon 1: kind \"keep\""),
            ("{\"face\": 2, \"polygons\": [{\"kind\": \"include\", \"points\": [[0,0],[1,0]]}]}",
             "l.jsonl:2: polygon 1 has 2 points; a polygon needs at least 3"),
            ("{\"face\": 2, \"polygons\": [{\"kind\": \"include\", \"points\": [[0,0],[1],[1,1]]}]}",
             "l.jsonl:2: polygon 1: point 2 is not [x, y]"),
            ("{\"face\": 1, \"polygons\": []}", "l.jsonl:2: face 1 is labelled again (first on line 1)"),
            ("[1, 2, 3]", "l.jsonl:2: unexpected value"),
        ]
        for (bad, expected) in cases {
            XCTAssertThrowsError(try MaskLabels.parse(Data((good + bad + "\n" + good).utf8), path: "l.jsonl")) { e in
                XCTAssertTrue("\(e)".hasPrefix(expected), "\(bad) -> \(e)")
                XCTAssertFalse("\(e)".contains("\n"), "one line: \(e)")
            }
        }
        XCTAssertThrowsError(try MaskLabels.parse(Data([0x7B, 0xFF, 0xFE, 0x7D]), path: "b.jsonl")) { e in
            XCTAssertTrue("\(e)".hasPrefix("b.jsonl:1: is not UTF-8"), "\(e)")
        }
    }

    func testPolygonProblemsAgainstTheCrop() {
        let p = MaskPolygon(kind: .include, points: [Point2(0, 0), Point2(64, 0), Point2(64, 64)])
        XCTAssertNil(p.problem(cropSize: 64))
        XCTAssertEqual(p.problem(cropSize: 63), "point [64, 0] lies outside the 63x63 crop (0...63 on both axes)")
        XCTAssertNotNil(MaskPolygon(kind: .exclude, points: [Point2(-0.5, 1), Point2(2, 2), Point2(3, 1)])
                            .problem(cropSize: 64))
        XCTAssertEqual(MaskPolygon(kind: .exclude, points: [Point2(-3, 70), Point2(2, 2), Point2(3, 1)]).clamped(to: 64)
                        .points[0], Point2(0, 64))
    }
}
