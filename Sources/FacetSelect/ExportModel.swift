/// `facet export-model`: a checkpoint's weights as a safetensors file, the format PyTorch, JAX and most model tools
/// read.
import Foundation
import FacetCore
import FacetStore

/// What `exportModel` wrote.
public struct ExportedModel: Codable, Sendable, Equatable {
    /// The checkpoint exported.
    public var checkpoint: Int64
    /// Its model's name.
    public var model: String
    /// The iteration it was saved at.
    public var iteration: Int
    /// Where the safetensors file was written.
    public var path: String
    /// Number of tensors in it.
    public var tensors: Int
    /// The file's size, in bytes.
    public var bytes: Int64
}

/// Writes the weights (not the optimizer state) of checkpoint `reference` to `path` as
/// safetensors: an 8-byte little-endian header length, a JSON header
/// `{name: {"dtype": "F32", "shape": [...], "data_offsets": [begin, end]}, "__metadata__": {...}}`
/// padded with spaces to a multiple of 8, then the little-endian float32 data in name order. The
/// metadata names the model, architecture, resolution, iteration and checkpoint. The file is
/// written beside `path` and renamed into place, so a failed export leaves no partial file.
public func exportModel(project: Project, checkpoint reference: String, model: String? = nil,
                        to path: String) throws -> ExportedModel {
    let c = try resolveCheckpoint(project, reference, model: model)
    if c.tensorsPruned {
        throw FacetError.file(project.path,
                              "checkpoint \(c.id) was pruned (its weights are gone); "
                              + "export one listed with weights by facet checkpoints")
    }
    let m = try project.requireModel(named: c.modelName)
    let infos = try project.checkpointTensorInfos(checkpointId: c.id).filter { $0.kind == .weight }
    guard !infos.isEmpty else { throw FacetError.file(project.path, "checkpoint \(c.id) has no weights stored") }

    var header: [String: Any] = [:]
    var offset = 0
    for t in infos {
        header[t.name] = ["dtype": "F32", "shape": t.shape,
                          "data_offsets": [offset, offset + t.byteCount]] as [String: Any]
        offset += t.byteCount
    }
    header["__metadata__"] = [
        "format": "pt", "producer": "facet", "model": m.name, "architecture": m.architecture,
        "resolution": String(m.resolution),
        "face_type": m.faceType, "iteration": String(c.iteration), "checkpoint": String(c.id),
    ]
    var json = try JSONSerialization.data(withJSONObject: header, options: [.sortedKeys, .withoutEscapingSlashes])
    json.append(contentsOf: [UInt8](repeating: 0x20, count: (8 - json.count % 8) % 8))

    let url = URL(fileURLWithPath: path)
    let partial = url.deletingLastPathComponent()
        .appendingPathComponent(".\(url.lastPathComponent).partial-\(getpid())")
    guard FileManager.default.createFile(atPath: partial.path, contents: nil) else {
        throw FacetError.file(path, "cannot be written (check the folder exists and is writable)")
    }
    do {
        let out = try FileHandle(forWritingTo: partial)
        defer { try? out.close() }
        var length = UInt64(json.count).littleEndian
        try out.write(contentsOf: Data(bytes: &length, count: 8))
        try out.write(contentsOf: json)
        var written = 0
        let order = infos.map(\.name)
        var next = 0
        try project.forEachCheckpointTensor(checkpointId: c.id, kind: .weight) { t in
            // Tensors come in name order, the order the offsets were assigned in.
            guard next < order.count, t.name == order[next] else {
                throw FacetError.file(project.path, "checkpoint \(c.id) changed while exporting; try again")
            }
            try out.write(contentsOf: t.data)
            written += t.data.count
            next += 1
        }
        guard written == offset else {
            throw FacetError.file(project.path, "checkpoint \(c.id) changed while exporting; try again")
        }
        try out.synchronize()
        try out.close()
        if FileManager.default.fileExists(atPath: path) { try FileManager.default.removeItem(atPath: path) }
        try FileManager.default.moveItem(at: partial, to: url)
    } catch {
        try? FileManager.default.removeItem(at: partial)
        if let e = error as? FacetError { throw e }
        throw FacetError.file(path, "cannot be written: \(error.localizedDescription)")
    }
    let size = ((try? FileManager.default.attributesOfItem(atPath: path))?[.size] as? NSNumber)?.int64Value ?? 0
    return ExportedModel(checkpoint: c.id, model: m.name, iteration: c.iteration, path: path, tensors: infos.count,
                         bytes: size)
}
