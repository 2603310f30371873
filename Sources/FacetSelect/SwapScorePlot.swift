/// Swap scores over iterations: per model, the combined score `best` can follow and its three parts, at each
/// scored checkpoint; the gallery's models view draws it beside the loss curves.
import Foundation
import FacetCore
import FacetPlot
import FacetStore

/// The swap-score chart of `models` (every model when empty), or nil when none of their checkpoints is scored.
/// Per model: the combined swap score (solid, with dots), identity (the mean of the src share and the distance
/// margin, dashed), expression (1 - eyes+mouth / 0.2, dotted) and detail (merged over original, dash-dot), each
/// 0...1 and higher better, at the iteration of each scored checkpoint (README "Swap scores").
public func swapScoreChart(project: Project, models names: [String] = []) throws -> Chart? {
    let models = names.isEmpty ? try project.models() : try names.map { try project.requireModel(named: $0) }
    let scores = try project.scores()
    var chart = Chart(title: models.count == 1 ? "Swap score: \(models[0].name)" : "Swap score", xLabel: "iteration",
                      yLabel: "score (higher is better)")
    for (k, m) in models.enumerated() {
        let scored = try project.checkpoints(modelId: m.id!)
            .compactMap { c in scores[c.id].map { (c.iteration, $0) } }
        guard !scored.isEmpty else { continue }
        let color = modelPalette[k % modelPalette.count]
        func series(_ value: (CheckpointScores) -> Double?) -> [(x: Double, y: Double)] {
            scored.compactMap { it, s in value(s).flatMap { $0.isFinite ? (x: Double(it), y: $0) : nil } }
        }
        let combined = series(\.combined)
        chart.series.append(ChartSeries(label: "\(m.name) swap score", color: color, style: .line(width: 2.5),
                                        points: combined))
        chart.series.append(ChartSeries(label: nil, color: color, style: .markers(radius: 4), points: combined))
        chart.series.append(ChartSeries(label: "\(m.name) identity", color: color.mixed(with: .black, 0.3),
                                        style: .line(width: 1.5, dash: [10, 6]), points: series(\.identity)))
        chart.series.append(ChartSeries(label: "\(m.name) expression", color: color.mixed(with: .white, 0.35),
                                        style: .line(width: 1.5, dash: [2, 4]), points: series(\.expression)))
        chart.series.append(ChartSeries(label: "\(m.name) detail", color: color.mixed(with: .black, 0.55),
                                        style: .line(width: 1.5, dash: [4, 3]), points: series(\.detailTerm)))
    }
    return chart.series.isEmpty ? nil : chart
}

/// The swap-score chart as an RGB image (`PNGCodec.encode` it); a one-line error when nothing is scored.
public func renderSwapScorePlot(project: Project, models: [String] = [], width: Int = 1200,
                                height: Int = 720) throws -> Image {
    try checkSize(width, height)
    guard let chart = try swapScoreChart(project: project, models: models) else {
        throw FacetError.file(project.path,
                              "has no scored checkpoints yet (facet train scores each save; facet score scores one)",
                              kind: .notFound)
    }
    return chart.render(width: width, height: height)
}
