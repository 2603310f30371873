/// Moving a network's weights and optimizer state to and from checkpoint rows, one tensor at a
/// time, checking first that the stored tensors fit the network this build makes.
import Foundation
import FacetCore
import FacetNN
import FacetStore

enum CheckpointIO {
    /// Writes every weight (straight from the parameter's memory) and then the optimizer state
    /// parameter by parameter, so at most one optimizer tensor is copied at a time.
    static func write(_ network: any SwapNetwork, to writer: CheckpointTensorWriter, killHalfway: Bool = false) throws {
        let parameters = network.namedParameters
        for (index, (name, p)) in parameters.enumerated() {
            if killHalfway && index == parameters.count / 2 { kill(getpid(), SIGKILL) }
            try writer.write(name: name, kind: .weight, shape: p.value.shape,
                             bytes: UnsafeRawBufferPointer(start: p.value.data, count: p.value.count * 4))
        }
        var written = Set<String>()
        for pair in parameters {
            for t in network.optimizer.stateTensors(for: [pair]) where written.insert(t.name).inserted {
                try writer.write(name: t.name, kind: .optimizer, shape: t.shape, values: t.data)
            }
        }
        // Parts trained beside the network (SAEHD's discriminators), under their own names.
        for (t, isWeight) in (network as? any AuxiliaryTensors)?.auxiliaryTensors() ?? [] {
            try writer.write(name: t.name, kind: isWeight ? .weight : .optimizer, shape: t.shape, values: t.data)
        }
    }

    /// Checks that checkpoint `checkpoint` holds exactly the weights `network` has, with the same
    /// shapes (and, with `optimizer`, the optimizer state it expects). The error names the model,
    /// the first differing tensor and what to do.
    static func checkCompatible(_ network: any SwapNetwork, project: Project, checkpoint: CheckpointRecord,
                                model: ModelRecord,
                                optimizer: Bool) throws -> (hasOptimizerState: Bool,
                                                            infos: [String: StoredTensorInfo]) {
        let infos = try project.checkpointTensorInfos(checkpointId: checkpoint.id)
        let byName = Dictionary(infos.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
        let mismatch = "model '\(model.name)' (\(model.architecture)): checkpoint \(checkpoint.id) at iteration "
                       + "\(checkpoint.iteration) does not match the \(model.architecture) network of this build"
        let expected = network.namedParameters
        for (name, p) in expected {
            guard let t = byName[name], t.kind == .weight else {
                throw FacetError("\(mismatch): it has no weight '\(name)'; train a new model "
                                 + "(--name) instead of resuming")
            }
            guard t.shape == p.value.shape, t.byteCount == p.value.count * 4 else {
                throw FacetError("\(mismatch): weight '\(name)' is \(t.shape) there and \(p.value.shape) here; "
                                 + "train a new model (--name) instead of resuming")
            }
        }
        let expectedNames = Set(expected.map(\.name))
        let auxiliary = network as? any AuxiliaryTensors
        if let extra = infos.first(where: {
            $0.kind == .weight && !expectedNames.contains($0.name)
                && auxiliary?.ownsAuxiliaryTensor(named: $0.name) != true
        }) {
            throw FacetError("\(mismatch): it has a weight '\(extra.name)' this network lacks; train a new model "
                             + "(--name) instead of resuming")
        }
        let stored = infos.filter { $0.kind == .optimizer }
        guard optimizer, !stored.isEmpty else { return (false, byName) }
        for s in network.optimizer.stateShapes(for: expected) {
            guard let t = byName[s.name], t.shape == s.shape else {
                throw FacetError("model '\(model.name)': the optimizer state of checkpoint \(checkpoint.id) does not "
                                 + "fit its \(model.architecture) optimizer (tensor '\(s.name)'); "
                                 + "the checkpoint is damaged")
            }
        }
        return (true, byName)
    }

    /// Loads the weights (and the optimizer state when `optimizer` and stored) of a checkpoint into
    /// `network`, after `checkCompatible`. Returns whether optimizer state was loaded.
    @discardableResult
    static func load(_ network: any SwapNetwork, project: Project, checkpoint: CheckpointRecord, model: ModelRecord,
                     optimizer: Bool) throws -> Bool {
        let (hasOptimizer, infos) = try checkCompatible(network, project: project, checkpoint: checkpoint,
                                                        model: model, optimizer: optimizer)
        let parameters = network.namedParameters
        let byName = Dictionary(parameters.map { ($0.name, $0.parameter) }, uniquingKeysWith: { a, _ in a })
        try project.forEachCheckpointTensor(checkpointId: checkpoint.id, kind: .weight) { t in
            guard let p = byName[t.name] else { return }
            t.data.withUnsafeBytes { raw in
                UnsafeMutableRawPointer(p.value.data).copyMemory(from: raw.baseAddress!, byteCount: p.value.count * 4)
            }
            p.valueChanged()
        }
        // A training run's discriminators take theirs (or start afresh when it has none); merge needs none.
        if optimizer, let auxiliary = network as? any AuxiliaryTensors {
            let names = infos.keys.filter { auxiliary.ownsAuxiliaryTensor(named: $0) }.sorted()
            let stored = names.isEmpty ? [:] : try project.checkpointTensors(checkpointId: checkpoint.id, names: names)
            auxiliary.loadAuxiliaryTensors(stored.values.map { NamedTensor(name: $0.name, shape: $0.shape,
                                                                           data: $0.floats) })
        }
        guard hasOptimizer else { return false }
        let counter = try project.checkpointTensors(checkpointId: checkpoint.id, names: ["optimizer.iterations"])
        for pair in parameters {
            let names = network.optimizer.stateShapes(for: [pair]).map(\.name).filter { $0 != "optimizer.iterations" }
            var state = counter
            for (name, t) in try project.checkpointTensors(checkpointId: checkpoint.id, names: names) {
                state[name] = t
            }
            try network.optimizer.loadState(state.mapValues { NamedTensor(
                name: $0.name, shape: $0.shape, data: $0.floats) }, for: [pair])
        }
        return true
    }
}

/// A model ready to swap faces: the network with a checkpoint's weights, for merge.
public final class SwapModel {
    /// The network with the checkpoint's weights, frozen for inference (merge only predicts).
    public let network: any SwapNetwork
    /// The model the checkpoint belongs to.
    public let model: ModelRecord
    /// The model's options (architecture, network sizes, optimizer), fixed at its creation.
    public let options: ModelOptions
    /// The checkpoint whose weights it holds.
    public let checkpoint: CheckpointRecord

    init(network: any SwapNetwork, model: ModelRecord, options: ModelOptions, checkpoint: CheckpointRecord) {
        self.network = network; self.model = model; self.options = options; self.checkpoint = checkpoint
    }

    /// The model's face size in pixels; inputs of another size are resized to it.
    public var resolution: Int { options.resolution }
    /// The face type the model was trained on (aligned crops for merge must be the same type).
    public var faceType: String { model.faceType }

    /// The swap of one aligned destination face (same face type as training, any size): the
    /// source decoder's face and its learned mask (grey, 255 = face), at `outputSize` (the input's
    /// size by default). Not thread-safe: one call at a time per model.
    public func swapFace(_ alignedDst: Image, outputSize: Int? = nil) -> (face: Image, mask: Image) {
        swapFaces([alignedDst], outputSize: outputSize)[0]
    }

    /// `swapFace` for several faces in one pass through the network (faster per face).
    public func swapFaces(_ alignedDst: [Image], outputSize: Int? = nil) -> [(face: Image, mask: Image)] {
        guard !alignedDst.isEmpty else { return [] }
        let r = resolution
        let input = Tensor(shape: [alignedDst.count, r, r, 3])
        for (k, image) in alignedDst.enumerated() {
            let small = image.rgb().resized(width: r, height: r, filter: .area)
            let o = input.data + k * r * r * 3
            for i in 0..<(r * r * 3) { o[i] = Float(small.pixels[i]) * (1 / 255) }
        }
        let (faces, masks) = network.predict(input, decoder: .src)
        return alignedDst.enumerated().map { k, image in
            let size = outputSize ?? image.width
            let face = tensorImage(faces, index: k, channels: 3)
            let mask = tensorImage(masks, index: k, channels: 1)
            return (face.resized(width: size, height: size), mask.resized(width: size, height: size))
        }
    }
}

/// Sample `index` of an NHWC tensor in [0, 1] as an 8-bit image.
func tensorImage(_ t: Tensor, index: Int, channels: Int) -> Image {
    let h = t.shape[1], w = t.shape[2]
    var image = Image(width: w, height: h, channels: channels)
    let src = t.data + index * h * w * channels
    for i in 0..<(h * w * channels) { image.pixels[i] = UInt8(max(0, min(255, (src[i] * 255).rounded()))) }
    return image
}

/// Loads a model for merge: `checkpoint` is `latest`, `best` (lowest held-out loss), a tag or an
/// id; `model` names the model when the project has several. Only weights are read.
public func loadModel(project: Project, checkpoint reference: String = "latest",
                      model name: String? = nil) throws -> SwapModel {
    let checkpoint = try project.checkpoint(resolving: reference, model: name)
    let model = try project.requireModel(named: checkpoint.modelName)
    let options = try ModelOptions.parse(model.optionsJson, model: model.name)
    let network = try options.makeNetwork(seed: UInt64(bitPattern: model.seed), optimizerSeed: 0)
    try CheckpointIO.load(network, project: project, checkpoint: checkpoint, model: model, optimizer: false)
    // Merge only predicts: the convolutions keep their Winograd-domain kernels between calls.
    network.freezeForInference()
    return SwapModel(network: network, model: model, options: options, checkpoint: checkpoint)
}
