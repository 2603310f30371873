/// Loss curves of a project's models as one chart (raw and smoothed losses, held-out loss at each checkpoint, the
/// convergence fit), as PNG-ready image or SVG.
import Foundation
import FacetCore
import FacetPlot
import FacetStore

/// One model's training curve as stored: per-iteration losses and the held-out loss of its checkpoints.
public struct ModelLossCurve: Sendable {
    /// The model, and its stored iterations with their src and dst losses (same length).
    public var model: ModelRecord
    /// The stored iterations, ascending.
    public var iterations: [Int]
    /// The src loss at each of them.
    public var lossSrc: [Double]
    /// The dst loss at each of them.
    public var lossDst: [Double]
    /// Held-out loss (mean of the roles) at each checkpoint that has one.
    public var validation: [(iteration: Int, loss: Double)]
    /// The power-law fit of the mean loss (src + dst) / 2; nil under 8 iterations.
    public var fit: ConvergenceFit?

    /// (src + dst) / 2 per iteration: what `--target-loss` and the fit use.
    public var meanLoss: [Double] { zip(lossSrc, lossDst).map { ($0 + $1) / 2 } }
}

/// The curves of the named models (every model when `models` is empty), in the order given.
/// An unknown name is a clear error listing the models there are.
public func lossCurves(project: Project, models names: [String] = [],
                       target: Double? = nil) throws -> [ModelLossCurve] {
    let models = names.isEmpty ? try project.models() : try names.map { try project.requireModel(named: $0) }
    return try models.map { m in
        let rows = try project.losses(modelId: m.id!)
        let validation = try project.checkpoints(modelId: m.id!).compactMap {
            c in c.valLoss.map { (iteration: c.iteration, loss: $0) }
        }
        var curve = ModelLossCurve(model: m, iterations: rows.map(\.iteration), lossSrc: rows.map(\.lossSrc),
                                   lossDst: rows.map(\.lossDst),
                                   validation: validation, fit: nil)
        curve.fit = Convergence.fit(iterations: curve.iterations, losses: curve.meanLoss, target: target)
        return curve
    }
}

/// Distinct colours for up to ten models (then they repeat), readable on white.
let modelPalette: [RGB] = [
    RGB(31, 119, 180), RGB(230, 110, 0), RGB(44, 160, 44), RGB(214, 39, 40), RGB(148, 103, 189),
    RGB(140, 86, 75), RGB(227, 119, 194), RGB(110, 110, 110), RGB(160, 160, 20), RGB(23, 170, 190),
]

/// Keeps at most `limit` points, evenly spaced, always the last.
func thinned<T>(_ values: [T], limit: Int) -> [T] {
    guard values.count > limit, limit > 1 else { return values }
    let step = Double(values.count - 1) / Double(limit - 1)
    return (0..<limit).map { values[Int((Double($0) * step).rounded())] }
}

/// The chart of `curves`: per model, the raw mean loss (light), the smoothed src (solid) and dst
/// (dashed) losses, the held-out loss at each checkpoint (dots) and the fit (dotted, drawn a
/// quarter past the last iteration, so the projection shows).
public func lossChart(_ curves: [ModelLossCurve], log: Bool = false) -> Chart {
    var chart = Chart(title: curves.count == 1 ? "Training loss: \(curves[0].model.name)" : "Training loss",
                      xLabel: "iteration", yLabel: log ? "loss (log scale)" : "loss", logY: log)
    let maxIteration = curves.compactMap { $0.iterations.last }.max() ?? 1
    let hasFit = curves.contains { $0.fit != nil }
    if hasFit { chart.xDomain = 0...(Double(maxIteration) * 1.25) }
    for (k, c) in curves.enumerated() {
        let color = modelPalette[k % modelPalette.count]
        let name = c.model.name
        let ks = c.iterations.map(Double.init)
        let window = smoothingWindow(count: ks.count)
        let raw = thinned(Array(zip(ks, c.meanLoss)), limit: 4000).map { (x: $0.0, y: $0.1) }
        chart.series.append(ChartSeries(label: "\(name) raw (src+dst)/2", color: color.mixed(with: .white, 0.68),
                                        style: .line(width: 1), points: raw))
        let src = thinned(Array(zip(ks, movingAverage(c.lossSrc, window: window))), limit: 2000).map {
            (x: $0.0, y: $0.1)
        }
        let dst = thinned(Array(zip(ks, movingAverage(c.lossDst, window: window))), limit: 2000).map {
            (x: $0.0, y: $0.1)
        }
        chart.series.append(ChartSeries(label: "\(name) src, mean of \(window)", color: color, style: .line(width: 2.5),
                                        points: src))
        chart.series.append(ChartSeries(label: "\(name) dst, mean of \(window)", color: color.mixed(with: .black, 0.25),
                                        style: .line(width: 2.5, dash: [10, 6]), points: dst))
        if !c.validation.isEmpty {
            chart.series.append(ChartSeries(label: "\(name) held-out", color: color.mixed(with: .black, 0.4),
                                            style: .markers(radius: 5),
                                            points: c.validation.map { (x: Double($0.iteration), y: $0.loss) }))
        }
        if let fit = c.fit, let first = c.iterations.first {
            let end = Double(maxIteration) * 1.25
            let pts = (0...200).map { i -> (x: Double, y: Double) in
                let x = Double(max(first, 1)) + (end - Double(max(first, 1))) * Double(i) / 200
                return (x, fit.value(at: x))
            }
            chart.series.append(ChartSeries(label: "\(name) fit: \(fit.summary)", color: color.mixed(with: .black, 0.5),
                                            style: .line(width: 1.5, dash: [3, 4]), points: pts, setsYRange: false))
        }
    }
    return chart
}

/// Checks there is something to plot; the error says what to do.
func checkedCurves(project: Project, models: [String], target: Double?) throws -> [ModelLossCurve] {
    let curves = try lossCurves(project: project, models: models, target: target)
    if curves.isEmpty {
        throw FacetError.file(project.path, "has no models yet (train one with facet train)", kind: .notFound)
    }
    if curves.allSatisfy({ $0.iterations.isEmpty }) {
        throw FacetError.file(project.path,
                              "has no training losses yet for "
                              + "\(curves.map { "'\($0.model.name)'" }.joined(separator: ", ")) "
                              + "(train with facet train)")
    }
    return curves
}

/// The loss curves of `models` (all when empty) on shared axes as an RGB image: what
/// `facet plot --out loss.png` writes (encode with `PNGCodec.encode`).
public func renderLossPlot(project: Project, models: [String] = [], log: Bool = false, width: Int = 1200,
                           height: Int = 720,
                           target: Double? = nil) throws -> Image {
    try checkSize(width, height)
    return lossChart(try checkedCurves(project: project, models: models, target: target), log: log)
        .render(width: width, height: height)
}

/// The same plot as an SVG document.
public func renderLossPlotSVG(project: Project, models: [String] = [], log: Bool = false, width: Int = 1200,
                              height: Int = 720,
                              target: Double? = nil) throws -> String {
    try checkSize(width, height)
    return lossChart(try checkedCurves(project: project, models: models, target: target), log: log).svg(
        width: width, height: height)
}

func checkSize(_ width: Int, _ height: Int) throws {
    guard (400...8000).contains(width), (300...8000).contains(height) else {
        throw FacetError("a plot must be 400 to 8000 pixels wide and 300 to 8000 high, got \(width)x\(height)")
    }
}
