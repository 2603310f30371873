/// A line chart (series on shared axes, ticks, legend, labels) rendered to a raster `Image` or to SVG text.
import Foundation
import FacetCore

/// One thing drawn on the chart.
public struct ChartSeries: Sendable {
    /// How a series is drawn: a line or markers.
    public enum Style: Sendable {
        /// A polyline `width` pixels wide; `dash` (on, off) in pixels makes it dashed.
        case line(width: Double, dash: [Double]? = nil)
        /// A filled disc per point.
        case markers(radius: Double)
    }
    /// The legend entry; nil keeps the series out of the legend.
    public var label: String?
    /// The series' colour, in the plot and the legend.
    public var color: RGB
    /// Line or markers.
    public var style: Style
    /// The data, in data coordinates (x ascending for lines).
    public var points: [(x: Double, y: Double)]
    /// Whether the y axis stretches to show every point. False for what only annotates the data
    /// (a fitted curve): it is drawn clipped to the range the data sets.
    public var setsYRange: Bool
    /// A series of `points` drawn in `style`.
    public init(label: String?, color: RGB, style: Style, points: [(x: Double, y: Double)],
                setsYRange: Bool = true) {
        self.label = label; self.color = color; self.style = style; self.points = points
        self.setsYRange = setsYRange
    }
}

/// A chart: series on shared axes, an optional logarithmic y axis, a legend with notes under it.
public struct Chart: Sendable {
    /// The line above the plot.
    public var title: String
    /// The x axis' name, under it.
    public var xLabel: String
    /// The y axis' name, beside it.
    public var yLabel: String
    /// Whether the y axis is logarithmic (decades as ticks).
    public var logY: Bool
    /// What is drawn, in order (later over earlier).
    public var series: [ChartSeries]
    /// Lines of text under the legend entries (e.g. what a fit projects).
    public var notes: [String]
    /// The x range to show; nil fits the data.
    public var xDomain: ClosedRange<Double>?

    /// A chart with these labels and series.
    public init(title: String, xLabel: String, yLabel: String, logY: Bool = false, series: [ChartSeries] = [],
                notes: [String] = [], xDomain: ClosedRange<Double>? = nil) {
        self.title = title; self.xLabel = xLabel; self.yLabel = yLabel; self.logY = logY; self.series = series
        self.notes = notes
        self.xDomain = xDomain
    }

    /// Font pixels are drawn 2x2 so labels read at a normal viewing distance.
    static let textScale = 2
    static let lineHeight = 20
    static let axisColor = RGB(40, 40, 40), gridColor = RGB(228, 228, 228), textColor = RGB(20, 20, 20)

    /// Where everything goes for a given size: the plot rectangle, the domains and the ticks.
    struct Layout {
        var left: Double, top: Double, right: Double, bottom: Double
        var x0: Double, x1: Double, y0: Double, y1: Double
        var logY: Bool
        var xTicks: [Double], yTicks: [Double]
        var yStep: Double, xStep: Double

        func px(_ x: Double) -> Double { left + (x - x0) / max(x1 - x0, 1e-300) * (right - left) }
        func py(_ y: Double) -> Double {
            let t = logY ? (log10(max(y, 1e-300)) - log10(y0)) / max(log10(y1) - log10(y0),
                                                                     1e-300) : (y - y0) / max(y1 - y0, 1e-300)
            return bottom - t * (bottom - top)
        }
        var clip: (Int, Int, Int, Int) { (Int(left), Int(top), Int(right), Int(bottom)) }

        /// The parts of a polyline (pixel coordinates) inside the plot rectangle grown by
        /// `margin`, each segment cut where it crosses the edge (Liang-Barsky): a curve that leaves
        /// the y range is drawn up to the frame, and no coordinate is far outside the image.
        func visibleRuns(_ pts: [(Double, Double)], margin: Double) -> [[(Double, Double)]] {
            let x0 = left - margin, x1 = right + margin, y0 = top - margin, y1 = bottom + margin
            guard pts.count >= 2 else {
                return pts.filter { $0.0 >= x0 && $0.0 <= x1 && $0.1 >= y0 && $0.1 <= y1 }.map { [$0] }
            }
            var runs: [[(Double, Double)]] = [], run: [(Double, Double)] = []
            for k in 1..<pts.count {
                let (ax, ay) = pts[k - 1], (bx, by) = pts[k]
                let dx = bx - ax, dy = by - ay
                var t0 = 0.0, t1 = 1.0, visible = true
                for (p, q) in [(-dx, ax - x0), (dx, x1 - ax), (-dy, ay - y0), (dy, y1 - ay)] {
                    if p == 0 {
                        if q < 0 { visible = false; break }
                    } else {
                        let r = q / p
                        if p < 0 { t0 = max(t0, r) } else { t1 = min(t1, r) }
                        if t0 > t1 { visible = false; break }
                    }
                }
                guard visible else {
                    if !run.isEmpty { runs.append(run); run = [] }
                    continue
                }
                let a = (ax + t0 * dx, ay + t0 * dy), b = (ax + t1 * dx, ay + t1 * dy)
                if run.isEmpty || t0 > 0 {
                    if !run.isEmpty { runs.append(run) }
                    run = [a]
                }
                run.append(b)
                if t1 < 1 { runs.append(run); run = [] }
            }
            if !run.isEmpty { runs.append(run) }
            return runs
        }
    }

    /// The finite points a series can show (positive only on a log axis).
    func drawable(_ s: ChartSeries) -> [(x: Double, y: Double)] {
        s.points.filter { $0.x.isFinite && $0.y.isFinite && (!logY || $0.y > 0) }
    }

    /// The plot rectangle, domains and ticks; `reserveBelow` pixels under the x-axis label are
    /// left free (for a legend that fits nowhere inside the plot).
    func layout(width: Int, height: Int, reserveBelow: Int = 0) -> Layout {
        let all = series.flatMap { drawable($0) }
        var xs = all.map(\.x), ys = series.filter(\.setsYRange).flatMap { drawable($0) }.map(\.y)
        if xs.isEmpty { xs = [0, 1] }
        if ys.isEmpty { ys = logY ? [0.1, 1] : [0, 1] }
        var x0 = xDomain?.lowerBound ?? xs.min()!, x1 = xDomain?.upperBound ?? xs.max()!
        if x1 <= x0 { x1 = x0 + 1 }
        var y0 = ys.min()!, y1 = ys.max()!
        let xStep = Chart.niceStep(x1 - x0, count: 6)
        if xDomain == nil { x0 = (x0 / xStep).rounded(.down) * xStep; x1 = (x1 / xStep).rounded(.up) * xStep }
        let xTicks = Chart.ticks(x0, x1, step: xStep)
        var yTicks: [Double], yStep: Double
        if logY {
            if y1 <= y0 { y0 /= 2; y1 *= 2 }
            // 4% of the log span as headroom, so the extreme points are not on the frame.
            let pad = (log10(y1) - log10(y0)) * 0.04
            y0 = pow(10, log10(y0) - pad); y1 = pow(10, log10(y1) + pad)
            yTicks = Chart.logTicks(y0, y1)
            yStep = 0
        } else {
            if y1 <= y0 { y0 -= 0.5; y1 += 0.5 }
            yStep = Chart.niceStep(y1 - y0, count: 6)
            y0 = (y0 / yStep).rounded(.down) * yStep; y1 = (y1 / yStep).rounded(.up) * yStep
            yTicks = Chart.ticks(y0, y1, step: yStep)
        }
        let labelWidth = yTicks.map { BitmapFont.width(of: Chart.yTickLabel($0, step: yStep, log: logY),
                                                       scale: Chart.textScale) }.max() ?? 0
        let left = Double(labelWidth + 18 + 14 + 16)   // tick labels, tick marks, the rotated y label
        return Layout(left: left, top: 44, right: Double(width - 20), bottom: Double(height - 56 - reserveBelow),
                      x0: x0, x1: x1, y0: y0, y1: y1, logY: logY, xTicks: xTicks, yTicks: yTicks, yStep: yStep,
                      xStep: xStep)
    }

    /// 1, 2 or 5 times a power of ten, giving about `count` steps over `range`.
    static func niceStep(_ range: Double, count: Int) -> Double {
        guard range > 0, range.isFinite else { return 1 }
        let raw = range / Double(count), mag = pow(10, (log10(raw)).rounded(.down)), f = raw / mag
        return (f < 1.5 ? 1 : f < 3 ? 2 : f < 7 ? 5 : 10) * mag
    }

    static func ticks(_ lo: Double, _ hi: Double, step: Double) -> [Double] {
        var out: [Double] = []
        var k = (lo / step).rounded(.up)
        while k * step <= hi + step * 1e-9 && out.count < 50 { out.append(k * step); k += 1 }
        return out
    }

    /// Ticks of a log axis: 1, 2 and 5 per decade, thinned to decades when there are many, and
    /// every integer multiple when the span is under a decade and that would leave too few.
    static func logTicks(_ lo: Double, _ hi: Double) -> [Double] {
        func candidates(_ multiples: [Double]) -> [Double] {
            var out: [Double] = []
            var e = Int(log10(lo).rounded(.down))
            while pow(10, Double(e)) <= hi * 1.0000001 && out.count < 200 {
                for m in multiples {
                    let v = m * pow(10, Double(e))
                    if v >= lo * 0.9999999 && v <= hi * 1.0000001 { out.append(v) }
                }
                e += 1
            }
            return out
        }
        var t = candidates([1, 2, 5])
        if t.count > 10 { t = candidates([1]) }
        if t.count < 3 { t = candidates([1, 2, 3, 4, 5, 6, 7, 8, 9]) }
        if t.count > 12 { t = stride(from: 0, to: t.count, by: 2).map { t[$0] } }
        return t
    }

    static func yTickLabel(_ v: Double, step: Double, log: Bool) -> String {
        if log { return shortNumber(v) }
        let decimals = max(0, min(8, -Int(log10(step).rounded(.down))))
        return String(format: "%.\(decimals)f", v)
    }

    static func xTickLabel(_ v: Double, step: Double) -> String {
        if step >= 1000, (v / 1000).rounded() == v / 1000 { return "\(Int((v / 1000).rounded()))k" }
        if step >= 1 { return "\(Int(v.rounded()))" }
        return shortNumber(v)
    }

    /// A short form of `v`: up to 3 significant digits, no trailing zeros.
    static func shortNumber(_ v: Double) -> String {
        var s = String(format: "%.3g", v)
        if s.contains("e") { return s }
        if s.contains(".") { while s.hasSuffix("0") { s.removeLast() }; if s.hasSuffix(".") { s.removeLast() } }
        return s
    }

    /// The legend's rows: a swatch and a label per labelled series, then the notes.
    var legendRows: [(series: ChartSeries?, text: String)] {
        var rows: [(series: ChartSeries?, text: String)] = []
        for s in series { if let label = s.label { rows.append((series: s, text: label)) } }
        for n in notes { rows.append((series: nil, text: n)) }
        return rows
    }

    /// The legend's rows for an image `width` pixels wide: as `legendRows`, except that a row too
    /// wide for the image even at scale 1 goes on in further rows (broken at spaces, indented).
    func legendRows(width: Int) -> [(series: ChartSeries?, text: String)] {
        let room = width - 24
        var out: [(series: ChartSeries?, text: String)] = []
        for row in legendRows {
            let lead = row.series == nil ? 0 : Chart.swatch + 8
            guard BitmapFont.width(of: row.text, scale: 1) + lead > room else { out.append(row); continue }
            var line = "", first = true
            for word in row.text.split(separator: " ", omittingEmptySubsequences: false) {
                let candidate = line.isEmpty ? String(word) : line + " " + word
                if !line.isEmpty && BitmapFont.width(of: candidate, scale: 1) + lead > room {
                    out.append((series: first ? row.series : nil, text: line))
                    first = false
                    line = "  " + word
                } else {
                    line = candidate
                }
            }
            out.append((series: first ? row.series : nil, text: line))
        }
        return out
    }

    /// The legend box's size in pixels (raster metrics; the SVG uses the same box) and the rows it
    /// draws: text at scale 2, or at scale 1 with rows wrapped to the image when scale 2 would be
    /// wider than the image; its row height.
    func legendSize(width: Int) -> (w: Int, h: Int, scale: Int, lineHeight: Int,
                                    rows: [(series: ChartSeries?, text: String)])? {
        let rows = legendRows
        guard !rows.isEmpty else { return nil }
        func w(_ rows: [(series: ChartSeries?, text: String)], _ scale: Int) -> Int {
            rows.map { BitmapFont.width(of: $0.text,
                                        scale: scale) + ($0.series == nil ? 0 : Chart.swatch + 8) }.max()! + 20
        }
        if w(rows, Chart.textScale) <= width - 20 {
            return (w(rows, Chart.textScale), rows.count * Chart.lineHeight + 12, Chart.textScale, Chart.lineHeight,
                    rows)
        }
        let narrow = legendRows(width: width)
        return (w(narrow, 1), narrow.count * 12 + 12, 1, 12, narrow)
    }

    static let swatch = 30

    /// Pixel positions along everything drawn in the plot (lines sampled every 3 px), for
    /// finding where the legend hides nothing.
    func drawnSamples(_ L: Layout) -> [(Double, Double)] {
        var out: [(Double, Double)] = []
        for sr in series {
            let pts = drawable(sr).map { (L.px($0.x), L.py($0.y)) }
            switch sr.style {
            case .markers:
                out += pts.filter { $0.0 >= L.left && $0.0 <= L.right && $0.1 >= L.top && $0.1 <= L.bottom }
            case .line:
                for run in L.visibleRuns(pts, margin: 0) {
                    out.append(run[0])
                    for k in 1..<max(run.count, 1) {
                        let (ax, ay) = run[k - 1], (bx, by) = run[k]
                        let n = max(1, Int((((bx - ax) * (bx - ax) + (by - ay) * (by - ay)).squareRoot() / 3)
                                            .rounded(.up)))
                        for i in 1...n {
                            out.append((ax + (bx - ax) * Double(i) / Double(n), ay + (by - ay) * Double(i) / Double(n)))
                        }
                    }
                }
            }
        }
        return out
    }

    /// The plot layout and the legend box (x, y, w, h): inside the plot in the first corner where
    /// it covers nothing drawn (top right, top left, bottom right, bottom left), else under the
    /// plot, which is shortened to make room (unless that would leave it under 160 px high; then
    /// top right regardless).
    func arrange(width: Int, height: Int) -> (layout: Layout, legend: (x: Int, y: Int, w: Int, h: Int)?) {
        let L = layout(width: width, height: height)
        guard let size = legendSize(width: width) else { return (L, nil) }
        let (w, h) = (size.w, size.h)
        let left = Int(L.left) + 10, right = Int(L.right) - w - 10, top = Int(L.top) + 10,
            bottom = Int(L.bottom) - h - 10
        let samples = drawnSamples(L)
        if right >= left && bottom >= top {
            for (x, y) in [(right, top), (left, top), (right, bottom), (left, bottom)] {
                let x0 = Double(x - 6), x1 = Double(x + w + 6), y0 = Double(y - 6), y1 = Double(y + h + 6)
                if !samples.contains(where: { $0.0 >= x0 && $0.0 <= x1 && $0.1 >= y0 && $0.1 <= y1 }) {
                    return (L, (x, y, w, h))
                }
            }
        }
        let below = layout(width: width, height: height, reserveBelow: h + 14)
        // Top right regardless, moved left as far as needed to stay inside the image.
        guard below.bottom - below.top >= 160 else {
            return (L, (max(2, min(max(left, right), width - w - 2)), top, w, h))
        }
        return (below, (max(10, min(Int(below.left), width - w - 10)), Int(below.bottom) + 50, w, h))
    }

    // MARK: Raster

    /// The chart as an RGB image of `width` x `height` pixels.
    public func render(width: Int, height: Int) -> Image {
        var c = Canvas(width: width, height: height)
        let (L, legend) = arrange(width: width, height: height)
        let s = Chart.textScale
        // Grid and ticks.
        for t in L.yTicks {
            let y = L.py(t).rounded()
            c.line(L.left, y, L.right, y, color: Chart.gridColor, width: 1)
            c.line(L.left - 6, y, L.left, y, color: Chart.axisColor, width: 1.5)
            let label = Chart.yTickLabel(t, step: L.yStep, log: L.logY)
            c.text(label, x: Int(L.left) - 10 - BitmapFont.width(of: label, scale: s), y: Int(y) - 7, scale: s,
                   color: Chart.textColor)
        }
        for t in L.xTicks {
            let x = L.px(t).rounded()
            c.line(x, L.top, x, L.bottom, color: Chart.gridColor, width: 1)
            c.line(x, L.bottom, x, L.bottom + 6, color: Chart.axisColor, width: 1.5)
            let label = Chart.xTickLabel(t, step: L.xStep)
            c.text(label, x: Int(x) - BitmapFont.width(of: label, scale: s) / 2, y: Int(L.bottom) + 11, scale: s,
                   color: Chart.textColor)
        }
        // Series, clipped to the plot area.
        for sr in series {
            let pts = drawable(sr).map { (L.px($0.x), L.py($0.y)) }
            switch sr.style {
            case .line(let w, let dash):
                for run in L.visibleRuns(pts, margin: w + 2) {
                    c.polyline(run, color: sr.color, width: w, dash: dash.map { ($0[0], $0.count > 1 ? $0[1] : $0[0]) },
                               clip: L.clip)
                }
            case .markers(let r):
                for p in pts {
                    c.disc(p.0, p.1, radius: r + 1.5, color: .white, clip: L.clip)
                    c.disc(p.0, p.1, radius: r, color: sr.color, clip: L.clip)
                }
            }
        }
        // Frame, title, axis labels.
        c.strokeRect(x0: Int(L.left), y0: Int(L.top), x1: Int(L.right), y1: Int(L.bottom), Chart.axisColor)
        c.text(title, x: (width - BitmapFont.width(of: title, scale: s)) / 2, y: 14, scale: s, color: Chart.textColor)
        c.text(xLabel, x: Int((L.left + L.right) / 2) - BitmapFont.width(of: xLabel, scale: s) / 2,
               y: Int(L.bottom) + 32, scale: s, color: Chart.textColor)
        c.text(yLabel, x: 8, y: Int((L.top + L.bottom) / 2) + BitmapFont.width(of: yLabel, scale: s) / 2, scale: s,
               color: Chart.textColor, vertical: true)
        // Legend, where `arrange` found room.
        if let box = legend, let metrics = legendSize(width: width) {
            let (x0, y0, w, h) = box
            let swatch = Chart.swatch
            let ts = metrics.scale, lh = metrics.lineHeight
            c.fillRect(x0: x0, y0: y0, x1: x0 + w, y1: y0 + h, .white)
            c.strokeRect(x0: x0, y0: y0, x1: x0 + w, y1: y0 + h, RGB(170, 170, 170))
            for (k, row) in metrics.rows.enumerated() {
                let y = y0 + 8 + k * lh
                var tx = x0 + 10
                if let sr = row.series {
                    let cy = Double(y + 7 * ts / 2)
                    switch sr.style {
                    case .line(let lw, let dash):
                        c.polyline([(Double(tx), cy), (Double(tx + swatch), cy)], color: sr.color, width: max(lw, 2),
                                   dash: dash.map { ($0[0], $0.count > 1 ? $0[1] : $0[0]) })
                    case .markers(let r):
                        c.disc(Double(tx + swatch / 2), cy, radius: r, color: sr.color)
                    }
                    tx += swatch + 8
                }
                c.text(row.text, x: tx, y: y, scale: ts, color: Chart.textColor)
            }
        }
        return c.image
    }

    // MARK: SVG

    /// The chart as a standalone SVG document of `width` x `height` user units.
    public func svg(width: Int, height: Int) -> String {
        let (L, legend) = arrange(width: width, height: height)
        func f(_ v: Double) -> String { String(format: "%.1f", v) }
        func esc(_ s: String) -> String {
            s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
                .replacingOccurrences(of: ">", with: "&gt;")
        }
        var o = """
            <svg xmlns="http://www.w3.org/2000/svg" width="\(width)" height="\(height)" \
            viewBox="0 0 \(width) \(height)" \
            font-family="DejaVu Sans Mono, Menlo, Consolas, monospace" font-size="14">
            <rect width="100%" height="100%" fill="#ffffff"/>

            """
        for t in L.yTicks {
            let y = f(L.py(t))
            o += "<line x1=\"\(f(L.left))\" y1=\"\(y)\" x2=\"\(f(L.right))\" y2=\"\(y)\" "
                 + "stroke=\"\(Chart.gridColor.hex)\"/>\n"
            o += "<text x=\"\(f(L.left - 10))\" y=\"\(y)\" text-anchor=\"end\" "
                 + "dominant-baseline=\"middle\">\(esc(Chart.yTickLabel(t, step: L.yStep, log: L.logY)))</text>\n"
        }
        for t in L.xTicks {
            let x = f(L.px(t))
            o += "<line x1=\"\(x)\" y1=\"\(f(L.top))\" x2=\"\(x)\" y2=\"\(f(L.bottom))\" "
                 + "stroke=\"\(Chart.gridColor.hex)\"/>\n"
            o += "<text x=\"\(x)\" y=\"\(f(L.bottom + 22))\" "
                 + "text-anchor=\"middle\">\(esc(Chart.xTickLabel(t, step: L.xStep)))</text>\n"
        }
        o += "<clipPath id=\"plot\"><rect x=\"\(f(L.left))\" y=\"\(f(L.top))\" width=\"\(f(L.right - L.left))\" "
             + "height=\"\(f(L.bottom - L.top))\"/></clipPath>\n"
        o += "<g clip-path=\"url(#plot)\">\n"
        for sr in series {
            let pts = drawable(sr).map { (L.px($0.x), L.py($0.y)) }
            switch sr.style {
            case .line(let w, let dash):
                let d = dash.map { " stroke-dasharray=\"\($0.map { f($0) }.joined(separator: " "))\"" } ?? ""
                for run in L.visibleRuns(pts, margin: w + 2) {
                    o += "<polyline fill=\"none\" stroke=\"\(sr.color.hex)\" stroke-width=\"\(f(w))\" "
                         + "stroke-linejoin=\"round\"\(d) points=\""
                    o += run.map { "\(f($0.0)),\(f($0.1))" }.joined(separator: " ") + "\"/>\n"
                }
            case .markers(let r):
                for p in pts {
                    o += "<circle cx=\"\(f(p.0))\" cy=\"\(f(p.1))\" r=\"\(f(r))\" fill=\"\(sr.color.hex)\" "
                         + "stroke=\"#ffffff\" stroke-width=\"1.5\"/>\n"
                }
            }
        }
        o += "</g>\n"
        o += "<rect x=\"\(f(L.left))\" y=\"\(f(L.top))\" width=\"\(f(L.right - L.left))\" "
             + "height=\"\(f(L.bottom - L.top))\" fill=\"none\" stroke=\"\(Chart.axisColor.hex)\"/>\n"
        o += "<text x=\"\(width / 2)\" y=\"26\" text-anchor=\"middle\" font-size=\"16\">\(esc(title))</text>\n"
        o += "<text x=\"\(f((L.left + L.right) / 2))\" y=\"\(f(L.bottom + 44))\" "
             + "text-anchor=\"middle\">\(esc(xLabel))</text>\n"
        let my = f((L.top + L.bottom) / 2)
        o += "<text x=\"20\" y=\"\(my)\" text-anchor=\"middle\" transform=\"rotate(-90 20 "
             + "\(my))\">\(esc(yLabel))</text>\n"
        if let box = legend, let metrics = legendSize(width: width) {
            // The raster's box (12 px a character) holds the SVG's 14 px monospace text (about 8.4).
            let w = Double(box.w), x0 = Double(box.x), y0 = Double(box.y)
            let lh = metrics.lineHeight, fontSize = metrics.scale == Chart.textScale ? 14 : 9
            o += "<rect x=\"\(f(x0))\" y=\"\(f(y0))\" width=\"\(f(w))\" height=\"\(box.h)\" fill=\"#ffffff\" "
                 + "stroke=\"#aaaaaa\"/>\n"
            for (k, row) in metrics.rows.enumerated() {
                let cy = y0 + 16 + Double(k * lh)
                var tx = x0 + 10
                if let sr = row.series {
                    switch sr.style {
                    case .line(let lw, let dash):
                        let d = dash.map { " stroke-dasharray=\"\($0.map { f($0) }.joined(separator: " "))\"" } ?? ""
                        o += "<line x1=\"\(f(tx))\" y1=\"\(f(cy))\" x2=\"\(f(tx + 30))\" y2=\"\(f(cy))\" "
                             + "stroke=\"\(sr.color.hex)\" stroke-width=\"\(f(max(lw, 2)))\"\(d)/>\n"
                    case .markers(let r):
                        o += "<circle cx=\"\(f(tx + 15))\" cy=\"\(f(cy))\" r=\"\(f(r))\" fill=\"\(sr.color.hex)\"/>\n"
                    }
                    tx += 38
                }
                o += "<text x=\"\(f(tx))\" y=\"\(f(cy))\" dominant-baseline=\"middle\" "
                     + "font-size=\"\(fontSize)\">\(esc(row.text))</text>\n"
            }
        }
        return o + "</svg>\n"
    }
}
