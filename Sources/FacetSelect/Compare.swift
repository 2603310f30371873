/// `facet compare`: two checkpoints evaluated now on the same held-out faces, their stored losses, and their swaps of
/// those faces side by side.
import Foundation
import FacetCore
import FacetMedia
import FacetNN
import FacetPlot
import FacetStore
import FacetTrain

/// Losses per role and their mean.
public struct RoleLosses: Codable, Sendable, Equatable {
    /// The src loss (nil: none).
    public var src: Double?
    /// The dst loss (nil: none).
    public var dst: Double?
    /// The mean of the two; the one there is when only one is.
    public var mean: Double? {
        guard let s = src, let d = dst else { return src ?? dst }
        return (s + d) / 2
    }
    /// Losses of the two roles.
    public init(src: Double?, dst: Double?) { self.src = src; self.dst = dst }

    enum CodingKeys: String, CodingKey { case src, dst, mean }
    /// Writes `src`, `dst` and their `mean`.
    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(src, forKey: .src); try c.encode(dst, forKey: .dst); try c.encode(mean, forKey: .mean)
    }
    /// Reads `src` and `dst` (the mean is recomputed).
    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        src = try c.decodeIfPresent(Double.self, forKey: .src); dst = try c.decodeIfPresent(Double.self, forKey: .dst)
    }
}

/// One side of a comparison.
public struct ComparedCheckpoint: Codable, Sendable, Equatable {
    /// The checkpoint's id.
    public var id: Int64
    /// The model it belongs to.
    public var model: String
    /// That model's architecture.
    public var architecture: String
    /// The training iteration it was saved at.
    public var iteration: Int
    /// What was stored at its save: training losses averaged before it, and held-out loss on its own model's held-out
    /// faces.
    public var storedLoss: RoleLosses
    /// The held-out losses stored at its save, on its own model's held-out faces.
    public var storedValLoss: RoleLosses
    /// Evaluated now on the comparison's faces.
    public var evaluated: RoleLosses
    /// Its stored swap score (`facet score`, or the save's), on its own model's held-out dst faces; nil until scored.
    public var swapScore: SwapScore? = nil
    /// The combined swap score (`CheckpointScores.combined`, what `best` follows under `--best-by swap`).
    public var swap: Double? = nil
}

/// What `facet compare` found: both checkpoints, the faces they were evaluated on, and which is better.
public struct Comparison: Codable, Sendable, Equatable {
    /// The first checkpoint named.
    public var a: ComparedCheckpoint
    /// The second checkpoint named.
    public var b: ComparedCheckpoint
    /// The faces both were evaluated on, by role, ascending ids (the same for both).
    public var srcFaces: [Int64]
    /// The dst faces both were evaluated on, ascending ids.
    public var dstFaces: [Int64]
    /// Where the faces came from: held out by both models, or trained on by neither.
    public var faceSource: String
    /// "a", "b" or "tie" by the evaluated mean loss (lower is better).
    public var better: String
}

/// Faces as a [N, R, R, C] tensor in [0, 1].
func tensor(_ images: [Image], channels: Int) -> Tensor {
    let r = images.first?.width ?? 1
    let t = Tensor(shape: [images.count, r, r, channels])
    for (k, im) in images.enumerated() {
        let o = t.data + k * r * r * channels
        for i in 0..<(r * r * channels) { o[i] = Float(im.pixels[i]) * (1 / 255) }
    }
    return t
}

/// Sample `index` of an NHWC tensor in [0, 1] as an 8-bit RGB image.
func image(_ t: Tensor, index: Int) -> Image {
    let h = t.shape[1], w = t.shape[2]
    var out = Image(width: w, height: h, channels: 3)
    let src = t.data + index * h * w * 3
    for i in 0..<(h * w * 3) { out.pixels[i] = UInt8(max(0, min(255, (src[i] * 255).rounded()))) }
    return out
}

/// The faces to compare on, per role: held out by both models when they share any (always so for
/// two checkpoints of one model), else kept faces neither trained on. Ascending ids, at most `limit`.
func comparisonFaces(project: Project, a: ModelRecord, b: ModelRecord, limit: Int) throws -> (src: [Int64],
                                                                                              dst: [Int64],
                                                                                              source: String) {
    let sa = try project.modelFaces(modelId: a.id!), sb = try project.modelFaces(modelId: b.id!)
    var out: [Role: [Int64]] = [:]
    var sources: Set<String> = []
    for role in Role.allCases {
        let kept = Set(try project.faceIDs(matching: FaceQuery(role: role, status: .kept)))
        let both = Set(sa.validation[role] ?? []).intersection(sb.validation[role] ?? []).intersection(kept)
        if !both.isEmpty {
            out[role] = Array(both.sorted().prefix(limit))
            sources.insert("held out by both models")
            continue
        }
        let trained = Set(sa.train[role] ?? []).union(sb.train[role] ?? [])
        let neither = kept.subtracting(trained)
        guard !neither.isEmpty else {
            throw FacetError.file(project.path,
                                  "models '\(a.name)' and '\(b.name)' hold out no \(role.rawValue) face in common and "
                                  + "every kept \(role.rawValue) face trained one of them, so no face is fair to both; "
                                  + "compare checkpoints of one model, or of models trained with the same --seed on "
                                  + "the same faces")
        }
        out[role] = Array(neither.sorted().prefix(limit))
        sources.insert("trained on by neither model")
    }
    return (out[.src]!, out[.dst]!, sources.sorted().joined(separator: "; "))
}

/// Evaluates checkpoints `a` and `b` now on the same faces (see `comparisonFaces`), and renders
/// both swaps of the first `previewRows` of them side by side. Refuses checkpoints of models of
/// different resolution: their losses are computed on different images and do not compare.
public func compareCheckpoints(project: Project, a refA: String, b refB: String, model: String? = nil, faces: Int = 32,
                               previewRows: Int = 4) throws -> (comparison: Comparison, preview: Image) {
    guard faces >= 1 else { throw FacetError.setting("faces", "must be at least 1, got \(faces)") }
    let ca = try resolveCheckpoint(project, refA, model: model), cb = try resolveCheckpoint(project, refB, model: model)
    let ma = try project.requireModel(named: ca.modelName), mb = try project.requireModel(named: cb.modelName)
    guard ma.resolution == mb.resolution, ma.faceType == mb.faceType else {
        throw FacetError("checkpoint \(ca.id) is a \(ma.architecture) model (\(ma.resolution) px, "
                         + "\(ma.faceType) face) and \(cb.id) a \(mb.architecture) model (\(mb.resolution) px, "
                         + "\(mb.faceType) face): their losses are measured on different images and do not compare; "
                         + "compare checkpoints of the same architecture")
    }
    for c in [ca, cb] where c.tensorsPruned {
        throw FacetError.file(project.path,
                              "checkpoint \(c.id) was pruned (its weights are gone); "
                              + "pick one listed with weights by facet checkpoints")
    }
    let chosen = try comparisonFaces(project: project, a: ma, b: mb, limit: faces)
    let modelA = try loadModel(project: project, checkpoint: String(ca.id))
    let modelB = ca.id == cb.id ? modelA : try loadModel(project: project, checkpoint: String(cb.id))
    // Loaded and evaluated by FacetTrain's own definition of the held-out loss, so a checkpoint
    // evaluated on its model's held-out faces gives back the val_loss the trainer stored. Both
    // models take the same faces (same resolution and face type, checked above).
    let src = try modelA.loadFaces(chosen.src, project: project)
    let dst = try modelA.loadFaces(chosen.dst, project: project)
    func side(_ c: CheckpointRecord, _ m: ModelRecord, _ sm: SwapModel) throws -> ComparedCheckpoint {
        let now = try sm.evaluate(src: src, dst: dst)
        return ComparedCheckpoint(id: c.id, model: m.name, architecture: m.architecture, iteration: c.iteration,
                                  storedLoss: RoleLosses(src: c.lossSrc, dst: c.lossDst),
                                  storedValLoss: RoleLosses(src: c.valLossSrc, dst: c.valLossDst),
                                  evaluated: RoleLosses(src: now.src, dst: now.dst))
    }
    var sa = try side(ca, ma, modelA), sb = try side(cb, mb, modelB)
    let stored = try project.scores(checkpointIds: [ca.id, cb.id])
    sa.swapScore = stored[ca.id].flatMap(SwapScore.init(stored:)); sa.swap = stored[ca.id]?.combined
    sb.swapScore = stored[cb.id].flatMap(SwapScore.init(stored:)); sb.swap = stored[cb.id]?.combined
    let la = sa.evaluated.mean ?? .infinity, lb = sb.evaluated.mean ?? .infinity
    let better = abs(la - lb) <= 1e-9 * max(la, lb) ? "tie" : la < lb ? "a" : "b"
    let comparison = Comparison(a: sa, b: sb, srcFaces: chosen.src, dstFaces: chosen.dst, faceSource: chosen.source,
                                better: better)
    let preview = renderComparison(comparison, src: Array(src.prefix(previewRows)), dst: Array(dst.prefix(previewRows)),
                                   a: modelA, b: modelB)
    return (comparison, preview)
}

/// The side-by-side image: per row a src face with A's and B's reconstructions, then a dst face
/// with A's and B's swaps (dst -> src), cells at least 128 px, a caption naming A and B.
func renderComparison(_ c: Comparison, src: [FaceSample], dst: [FaceSample], a: SwapModel, b: SwapModel) -> Image {
    let rows = max(src.count, dst.count)
    let r = a.resolution, cell = max(r, 128), gap = 4, columns = 6
    let header = 64
    let width = columns * cell + (columns + 1) * gap + gap * 2
    let height = header + rows * cell + (rows + 1) * gap
    var canvas = Canvas(width: width, height: height, background: RGB(48, 48, 48))
    func predict(_ m: SwapModel, _ faces: [FaceSample], decoder: FaceRole) -> [Image] {
        guard !faces.isEmpty else { return [] }
        let out = m.network.predict(tensor(faces.map(\.image), channels: 3), decoder: decoder).image
        return (0..<faces.count).map { image(out, index: $0) }
    }
    let cells: [[Image]] = [
        src.map(\.image), predict(a, src, decoder: .src), predict(b, src, decoder: .src),
        dst.map(\.image), predict(a, dst, decoder: .src), predict(b, dst, decoder: .src),
    ]
    let titles = ["src", "A src rec", "B src rec", "dst", "A dst->src", "B dst->src"]
    for (col, column) in cells.enumerated() {
        let x0 = gap + col * (cell + gap) + (col >= 3 ? gap * 2 : 0)
        for (row, face) in column.enumerated() {
            canvas.paste(face.width == cell ? face : face.resized(width: cell, height: cell), x: x0,
                         y: header + gap + row * (cell + gap))
        }
    }
    func caption(_ s: ComparedCheckpoint) -> String {
        "#\(s.id) \(s.model) it \(s.iteration) loss " + (s.evaluated.mean.map { String(format: "%.4f", $0) } ?? "-")
    }
    canvas.text("A = " + caption(c.a) + "   B = " + caption(c.b), x: gap + 4, y: 10, scale: 1, color: .white)
    canvas.text("same \(c.srcFaces.count) src + \(c.dstFaces.count) dst faces (\(c.faceSource)); lower is better: "
                + "\(c.better == "tie" ? "tie" : c.better.uppercased())",
                x: gap + 4, y: 24, scale: 1, color: RGB(200, 200, 200))
    for (col, t) in titles.enumerated() {
        let x0 = gap + col * (cell + gap) + (col >= 3 ? gap * 2 : 0)
        canvas.text(t, x: x0 + (cell - BitmapFont.width(of: t, scale: 2)) / 2, y: header - 18, scale: 2, color: .white)
    }
    return canvas.image
}
