/// Warm start across projects (`facet train --init-from OTHER.facet:CKPT [--freeze encoder]`): a new model starts from
/// another project's checkpoint of the same architecture, its exact weights, and records where it came from.
import Foundation
import FacetCore
import FacetNN
import FacetStore

/// Where a new model's weights come from, and which parts stay fixed.
public struct WarmStart: Sendable, Equatable {
    /// The other project file.
    public var path: String
    /// The checkpoint there: an id, best, latest, a tag, or MODEL:best.
    public var checkpoint: String
    /// Parts kept fixed while training: "encoder" (the shared encoder and inter).
    public var freeze: [String]

    /// A warm start from `checkpoint` of the project at `path`.
    public init(path: String, checkpoint: String = "latest", freeze: [String] = []) {
        self.path = path; self.checkpoint = checkpoint; self.freeze = freeze
    }

    /// Parses `OTHER.facet:CKPT` (CKPT may itself be MODEL:best); a bare path means its latest checkpoint.
    public static func parse(_ text: String, freeze: [String] = []) -> WarmStart {
        if let r = text.range(of: ".facet:") {
            return WarmStart(path: String(text[..<r.lowerBound]) + ".facet", checkpoint: String(text[r.upperBound...]),
                             freeze: freeze)
        }
        return WarmStart(path: text, freeze: freeze)
    }

    /// The parts `--freeze` knows.
    public static let freezable = ["encoder"]

    /// The parameter path prefixes a frozen part covers: `encoder` is the shared encoder and the inter both persons'
    /// codes go through (`inter`; SAEHD liae's `inter_AB`, while its dst-only `inter_B` trains with the decoder).
    static func prefixes(_ parts: [String]) -> [String] {
        parts.flatMap { $0 == "encoder" ? ["encoder.", "inter.", "inter_AB."] : [] }
    }

    /// The options of the model whose checkpoint this names (to build a new model of the same network: a new SAEHD
    /// model given no network options takes the pretrained one's). Opens the file read-only.
    public func sourceOptions() throws -> ModelOptions {
        guard FileManager.default.fileExists(atPath: path) else {
            throw FacetError.file(path, "not found (--init-from)", kind: .notFound)
        }
        let other = try Project(path: path, mode: .readOnly)
        let c = try other.checkpoint(resolving: checkpoint)
        let model = try other.requireModel(named: c.modelName)
        return try ModelOptions.parse(model.optionsJson, model: model.name)
    }

    /// Loads the checkpoint's weights into `network` (built from `options`) after checking that the source model has
    /// the same architecture and network; returns the lineage to record. Changes nothing on a refusal.
    func load(into network: any SwapNetwork, options: ModelOptions) throws -> ModelInit {
        for part in freeze where !WarmStart.freezable.contains(part) {
            throw FacetError.setting("freeze", "knows \(WarmStart.freezable.joined(separator: ", ")), not '\(part)'")
        }
        guard FileManager.default.fileExists(atPath: path) else {
            throw FacetError.file(path, "not found (--init-from)", kind: .notFound)
        }
        let other = try Project(path: path, mode: .readOnly)
        let c = try other.checkpoint(resolving: checkpoint)
        let model = try other.requireModel(named: c.modelName)
        let theirs = try ModelOptions.parse(model.optionsJson, model: model.name)
        guard theirs.architecture == options.architecture, theirs.network == options.network,
              theirs.h128 == options.h128, theirs.saehd?.network == options.saehd?.network else {
            throw FacetError.file(path, "checkpoint #\(c.id) is a \(theirs.architecture.rawValue) model "
                                  + "(\(theirs.resolution) px, \(describe(theirs.network))), not the "
                                  + "\(options.architecture.rawValue) network of this model (\(options.resolution) px, "
                                  + "\(describe(options.network))): "
                                  + "--init-from needs the same architecture", kind: .conflict)
        }
        guard !c.tensorsPruned else {
            throw FacetError.file(path, "checkpoint #\(c.id) has no weights left (pruned); pick another one",
                                  kind: .notFound)
        }
        try CheckpointIO.load(network, project: other, checkpoint: c, model: model, optimizer: false)
        return ModelInit(sourcePath: path, sourceSHA256: try SHA256.hex(ofFile: path), sourceModel: model.name,
                         sourceCheckpointId: c.id, sourceIteration: c.iteration, frozen: freeze.joined(separator: ","))
    }

    private func describe(_ n: Quick96Config) -> String {
        "encoder \(n.encoderDims), bottleneck \(n.aeDims), decoder \(n.decoderDims)"
    }
}
