/// The plotter on its own: font, anti-aliased drawing, chart layout (PNG and SVG) on synthetic curves with known answers.
import XCTest
import FacetCore
import FacetMedia
@testable import FacetPlot

final class PlotTests: XCTestCase {
    func testFontCoversPrintableASCIIWithDistinctGlyphs() {
        XCTAssertEqual(BitmapFont.glyphs.count, 95)
        for g in BitmapFont.glyphs { XCTAssertEqual(g.count, 7); XCTAssertTrue(g.allSatisfy { $0 < 32 }) }
        // Every glyph but space is visible, and no two printable glyphs are the same picture.
        let visible = BitmapFont.glyphs.dropFirst()
        XCTAssertTrue(visible.allSatisfy { $0.contains { $0 != 0 } })
        XCTAssertEqual(Set(BitmapFont.glyphs.map { $0.map(String.init).joined(separator: ",") }).count, 95)
        // '1' has its stem in the middle column, 'L' its bar along the bottom.
        XCTAssertTrue((1...5).allSatisfy { BitmapFont.isSet("1", x: 2, y: $0) })
        XCTAssertTrue((0..<5).allSatisfy { BitmapFont.isSet("L", x: $0, y: 6) })
        XCTAssertEqual(BitmapFont.width(of: "loss", scale: 2), (4 * 6 - 1) * 2)
    }

    func testLinesAreAntiAliasedAndAsWideAsAsked() {
        var c = Canvas(width: 60, height: 30)
        c.line(5, 10, 55, 10, color: .black, width: 3)
        let g = c.image.grey()
        XCTAssertEqual(g[30, 10, 0], 0)           // centre row: fully covered
        XCTAssertEqual(g[30, 9, 0], 0)            // 1.5 px each side
        XCTAssertEqual(g[30, 11, 0], 0)
        XCTAssertEqual(g[30, 13, 0], 255)         // well outside
        // A diagonal has partly covered pixels along its edges: that is the anti-aliasing.
        var d = Canvas(width: 40, height: 40)
        d.line(2, 5, 38, 30, color: .black, width: 2)
        let partial = d.image.grey().pixels.filter { $0 > 20 && $0 < 235 }.count
        XCTAssertGreaterThan(partial, 20)
    }

    func testTextDrawsTheGlyphPixels() {
        var c = Canvas(width: 40, height: 20)
        c.text("I", x: 2, y: 2, scale: 2, color: .black)
        let g = c.image.grey()
        // 'I' row 0 is ".###.": columns 1-3 set, scaled 2x from (2, 2).
        XCTAssertEqual(g[2 + 2, 2, 0], 0)
        XCTAssertEqual(g[2 + 7, 3, 0], 0)
        XCTAssertEqual(g[2, 2, 0], 255)
        XCTAssertEqual(g[2 + 5, 2 + 6, 0], 0)     // the stem, row 3
    }

    /// A loss-like curve 2 * k^-0.7 + 0.3 with a little deterministic noise.
    func syntheticCurve(_ n: Int) -> (ks: [Int], ys: [Double]) {
        let ks = Array(1...n)
        let ys = ks.map { k in 2 * pow(Double(k), -0.7) + 0.3 + 0.01 * sin(Double(k) * 1.7) }
        return (ks, ys)
    }

    func testChartRendersAxesCurvesAndLegend() throws {
        let (ks, ys) = syntheticCurve(300)
        let blue = RGB(31, 119, 180)
        var chart = Chart(title: "Training loss", xLabel: "iteration", yLabel: "loss")
        chart.series = [ChartSeries(label: "a src", color: blue, style: .line(width: 2.5), points: zip(ks, ys).map { (Double($0), $1) })]
        chart.notes = ["note line"]
        let image = chart.render(width: 800, height: 500)
        XCTAssertEqual(image.width, 800); XCTAssertEqual(image.height, 500); XCTAssertEqual(image.channels, 3)
        // The curve's colour is drawn, and plenty of it (a 2.5 px line across the plot).
        var bluePixels = 0, nonWhite = 0
        for i in 0..<(800 * 500) {
            let p = (image.pixels[3 * i], image.pixels[3 * i + 1], image.pixels[3 * i + 2])
            if p != (255, 255, 255) { nonWhite += 1 }
            if p == (blue.r, blue.g, blue.b) { bluePixels += 1 }
        }
        XCTAssertGreaterThan(bluePixels, 1000)
        XCTAssertGreaterThan(nonWhite, 800 * 500 / 50)
        // The layout puts ticks at nice numbers covering the data.
        let layout = chart.layout(width: 800, height: 500)
        XCTAssertLessThanOrEqual(layout.y0, ys.min()!); XCTAssertGreaterThanOrEqual(layout.y1, ys.max()!)
        XCTAssertEqual(layout.xTicks.first, 0); XCTAssertEqual(layout.xTicks.last, 300)
        // The first point (highest loss) maps near the top, the last near the bottom.
        XCTAssertLessThan(layout.py(ys[0]), layout.py(ys.last!))
        // PNG round trip keeps the picture.
        XCTAssertEqual(try PNGCodec.decode(try PNGCodec.encode(image)), image)

        let svg = chart.svg(width: 800, height: 500)
        XCTAssertTrue(svg.hasPrefix("<svg"))
        XCTAssertTrue(svg.contains("<polyline"))
        XCTAssertTrue(svg.contains(">a src<"))
        XCTAssertTrue(svg.contains(">iteration<"))
        XCTAssertTrue(svg.hasSuffix("</svg>\n"))
    }

    /// A legend wider than the plot area, in an image too short to put it underneath, still lies
    /// wholly inside the image (it used to run off the right edge of a 500 px plot).
    func testAWideLegendInASmallImageStaysInside() throws {
        let (ks, ys) = syntheticCurve(300)
        var chart = Chart(title: "Training loss", xLabel: "iteration", yLabel: "loss")
        chart.series = [ChartSeries(label: "demo src, mean of 50", color: RGB(31, 119, 180), style: .line(width: 2.5), points: zip(ks, ys).map { (Double($0), $1) })]
        chart.notes = ["demo fit: floor 0.4812, floor+5% at it ~12345, still falling; a long note of 70 characters"]
        for (width, height) in [(500, 320), (420, 300)] {
            let (_, box) = chart.arrange(width: width, height: height)
            let legend = try XCTUnwrap(box)
            XCTAssertGreaterThanOrEqual(legend.x, 0, "\(width)x\(height)")
            XCTAssertLessThanOrEqual(legend.x + legend.w, width - 1, "\(width)x\(height)")
            // Its right border is drawn, inside the image.
            let image = chart.render(width: width, height: height)
            let p = (legend.y + legend.h / 2) * width + legend.x + legend.w
            XCTAssertEqual(Array(image.pixels[(3 * p)..<(3 * p + 3)]), [170, 170, 170], "\(width)x\(height)")
        }
    }

    /// A fit whose floor comes out at 0 (a pure power law so far) says so instead of "floor 0.0000".
    /// A fit that starts far above the data (as a power law does near iteration 1) neither
    /// stretches the y axis nor spills past the frame: the data set the range, the fit is clipped.
    func testTheDataSetTheYRangeAndTheFitIsDrawnClipped() throws {
        let (ks, ys) = syntheticCurve(300)
        let data = Array(ks.dropFirst(20)).map(Double.init), dataY = Array(ys.dropFirst(20))
        let red = RGB(200, 0, 0)
        for logY in [false, true] {
            var chart = Chart(title: "t", xLabel: "x", yLabel: "y", logY: logY)
            chart.series = [
                ChartSeries(label: "data", color: .black, style: .line(width: 2), points: zip(data, dataY).map { ($0, $1) }),
                ChartSeries(label: "fit", color: red, style: .line(width: 2, dash: [3, 4]),
                            points: (1...400).map { (Double($0), 50 * pow(Double($0), -1.5) + 0.3) }, setsYRange: false),
            ]
            let (l, legendBox) = chart.arrange(width: 800, height: 500)
            let legend = try XCTUnwrap(legendBox)
            XCTAssertLessThanOrEqual(l.y0, dataY.min()!); XCTAssertGreaterThanOrEqual(l.y1, dataY.max()!)
            // The legend hides nothing drawn: in a free corner of the plot, or under it.
            let covered = chart.drawnSamples(l).filter { Int($0.0) >= legend.x && Int($0.0) <= legend.x + legend.w && Int($0.1) >= legend.y && Int($0.1) <= legend.y + legend.h }
            XCTAssertEqual(covered.count, 0, "log \(logY): legend at \(legend)")
            // The fit reaches 50.3; the axis ends within one tick step (or a few % on a log axis) of the data.
            XCTAssertLessThan(l.y1, logY ? dataY.max()! * 1.5 : dataY.max()! + 2 * l.yStep, "log \(logY)")
            XCTAssertEqual(l.xTicks.last, 400, "the x range still covers the fit's projection")
            let image = chart.render(width: 800, height: 500)
            // The fit's colour appears, only inside the frame (left, top, right, bottom).
            var inside = 0, outside = 0
            for y in 0..<500 {
                for x in 0..<800 where image[x, y, 0] > 150 && image[x, y, 1] < 90 && image[x, y, 2] < 90 {
                    let inLegend = x >= legend.x && x <= legend.x + legend.w && y >= legend.y && y <= legend.y + legend.h
                    if Double(x) >= l.left && Double(x) <= l.right && Double(y) >= l.top && Double(y) <= l.bottom { if !inLegend { inside += 1 } } else { outside += 1 }
                }
            }
            XCTAssertGreaterThan(inside, 300, "the fit is drawn (log \(logY))")
            XCTAssertEqual(outside, 0, "nothing of it outside the plot area (log \(logY))")
            // The SVG draws the same clipped runs: no coordinate far outside the frame.
            let svg = chart.svg(width: 800, height: 500)
            let numbers = svg.components(separatedBy: "points=\"").dropFirst().flatMap { $0.prefix { $0 != "\"" }.split(whereSeparator: { $0 == " " || $0 == "," }) }
            XCTAssertFalse(numbers.isEmpty)
            XCTAssertTrue(numbers.allSatisfy { Double($0).map { $0 > -10 && $0 < 810 } ?? false }, "svg points within the image")
        }
        // A legend that fits in no corner goes under the plot, which gets shorter; the PNG keeps its size.
        var crowded = Chart(title: "t", xLabel: "iteration", yLabel: "y")
        crowded.series = (0..<6).map { k in
            ChartSeries(label: "series \(k) with a long label to make the legend wide", color: .black, style: .line(width: 1),
                        points: (0...40).map { i in (Double(i), Double((i * (k + 3)) % 17)) })
        }
        let (cl, cbox) = crowded.arrange(width: 900, height: 700)
        let box = try XCTUnwrap(cbox)
        XCTAssertGreaterThan(Double(box.y), cl.bottom + 40, "under the axis and its label")
        XCTAssertLessThanOrEqual(box.y + box.h, 700)
        XCTAssertLessThan(cl.bottom, crowded.layout(width: 900, height: 700).bottom)
        let crowdedImage = crowded.render(width: 900, height: 700)
        XCTAssertEqual(crowdedImage.width, 900); XCTAssertEqual(crowdedImage.height, 700)
        // Too wide for a small image at 2x: the legend's text drops to 1x and the box fits the width.
        XCTAssertEqual(crowded.legendSize(width: 400)?.scale, 1)
        let small = crowded.render(width: 400, height: 300)
        XCTAssertEqual(small.width, 400); XCTAssertEqual(small.height, 300)
        XCTAssertTrue(crowded.svg(width: 400, height: 300).contains("font-size=\"9\""))
        // Rectangles wholly or partly off the canvas are clipped, never a crash.
        var c = Canvas(width: 20, height: 10)
        c.strokeRect(x0: 15, y0: 5, x1: 40, y1: 30, .black)
        c.fillRect(x0: 30, y0: 0, x1: 50, y1: 5, .black)
        c.fillRect(x0: -9, y0: -9, x1: -1, y1: -1, .black)
        XCTAssertEqual(c.image.grey()[15, 5, 0], 0)
        XCTAssertEqual(c.image.grey().pixels.filter { $0 == 0 }.count, 5 + 5 - 1)

        // A segment crossing the frame is cut at the frame; one wholly outside is dropped.
        var chart = Chart(title: "t", xLabel: "x", yLabel: "y")
        chart.series = [ChartSeries(label: nil, color: .black, style: .line(width: 1), points: [(0, 0), (10, 1)])]
        let l = chart.layout(width: 600, height: 400)
        let runs = l.visibleRuns([(l.left + 10, l.top - 100), (l.left + 10, l.top + 50), (l.left + 20, l.top + 60), (l.left - 50, l.top - 500)], margin: 0)
        XCTAssertEqual(runs.count, 1)
        XCTAssertEqual(runs[0].count, 4)
        XCTAssertEqual(runs[0][0].1, l.top, accuracy: 1e-9)
        XCTAssertEqual(runs[0][1].1, l.top + 50, accuracy: 1e-9)
        XCTAssertTrue(runs[0].allSatisfy { $0.0 >= l.left - 1e-9 && $0.1 >= l.top - 1e-9 })
        XCTAssertEqual(l.visibleRuns([(l.left - 10, l.top - 10), (l.left - 20, l.bottom)], margin: 0).count, 0)
    }

    func testLogAxisTicksArePowersAndMultiples() {
        XCTAssertEqual(Chart.logTicks(0.01, 10).map { Chart.shortNumber($0) }, ["0.01", "0.02", "0.05", "0.1", "0.2", "0.5", "1", "2", "5", "10"])
        // Under a decade: every integer multiple.
        XCTAssertEqual(Chart.logTicks(0.3, 0.9).map { Chart.shortNumber($0) }, ["0.3", "0.4", "0.5", "0.6", "0.7", "0.8", "0.9"])
        var chart = Chart(title: "t", xLabel: "x", yLabel: "y", logY: true)
        chart.series = [ChartSeries(label: nil, color: .black, style: .line(width: 1), points: [(1, 0.01), (2, 10)])]
        let l = chart.layout(width: 600, height: 400)
        // Equal ratios are equal distances on a log axis.
        XCTAssertEqual(l.py(0.1) - l.py(1), l.py(1) - l.py(10), accuracy: 1e-9)
    }
}
