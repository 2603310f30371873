/// `facet export-model --format onnx|dfm`: a checkpoint's swap graph as an ONNX model, in Facet's
/// interface or as DeepFaceLive's DFM.
import Foundation
import FacetCore
import FacetONNX
import FacetStore
import FacetTrain

/// What `exportSwapGraph` wrote.
public struct ExportedSwapGraph: Codable, Sendable, Equatable {
    /// The checkpoint exported.
    public var checkpoint: Int64
    /// Its model's name.
    public var model: String
    /// Its model's architecture.
    public var architecture: String
    /// The iteration it was saved at.
    public var iteration: Int
    /// The interface written: `onnx` (Facet's) or `dfm` (DeepFaceLive's).
    public var format: String
    /// Where the model was written.
    public var path: String
    /// Side of the square faces the graph takes, in pixels.
    public var resolution: Int
    /// The graph's input name.
    public var input: String
    /// The graph's output names, in order.
    public var outputs: [String]
    /// Number of nodes in the graph.
    public var nodes: Int
    /// The file's size, in bytes.
    public var bytes: Int64
}

/// Writes the swap graph of checkpoint `reference` (a destination face through the shared encoder
/// and the source decoder; for DFM also the destination decoder's mask) to `path` as an ONNX
/// model (opset 12, NHWC float32 in [0, 1]; see `SwapGraphFormat`). The file is written beside
/// `path` and renamed into place: an unknown or pruned checkpoint, or a failed write, leaves none.
public func exportSwapGraph(project: Project, checkpoint reference: String, model: String? = nil,
                            format: SwapGraphFormat, to path: String) throws -> ExportedSwapGraph {
    let c = try resolveCheckpoint(project, reference, model: model)
    if c.tensorsPruned {
        throw FacetError.file(project.path,
                              "checkpoint \(c.id) was pruned (its weights are gone); "
                              + "export one listed with weights by facet checkpoints")
    }
    let loaded = try loadModel(project: project, checkpoint: String(c.id))
    let parts = try SwapGraphParts(loaded.network)
    let m = loaded.model
    let proto = try swapGraphModel(parts, format: format, name: "facet_\(m.architecture)", metadata: [
        ("producer", "facet"), ("model", m.name), ("architecture", m.architecture), ("resolution",
                                                                                     String(m.resolution)),
        ("face_type", m.faceType), ("iteration", String(c.iteration)), ("checkpoint", String(c.id)),
        ("layout", "NHWC float32 in [0, 1]"), ("color", format == .dfm ? "BGR" : "RGB"),
    ])
    let data: Data
    do { data = try proto.serializedData() } catch {
        throw FacetError.file(path, "the ONNX model could not be encoded: \(error)")
    }
    let url = URL(fileURLWithPath: path)
    let partial = url.deletingLastPathComponent()
        .appendingPathComponent(".\(url.lastPathComponent).partial-\(getpid())")
    do {
        try data.write(to: partial)
        if FileManager.default.fileExists(atPath: path) { try FileManager.default.removeItem(atPath: path) }
        try FileManager.default.moveItem(at: partial, to: url)
    } catch {
        try? FileManager.default.removeItem(at: partial)
        throw FacetError.file(path, "cannot be written (check the folder exists and is writable)")
    }
    return ExportedSwapGraph(checkpoint: c.id, model: m.name, architecture: m.architecture, iteration: c.iteration,
                             format: format.rawValue,
                             path: path, resolution: parts.resolution, input: proto.graph.input[0].name,
                             outputs: proto.graph.output.map(\.name), nodes: proto.graph.node.count,
                             bytes: Int64(data.count))
}
