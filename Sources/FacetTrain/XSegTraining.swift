/// `facet xseg train`: the segmenter trained on the labelled faces of both roles, with augmentation that makes
/// a few labels go far (the same random affine and grid warp on the face and its mask, flips, colour, blur),
/// saving checkpoints of its own model kind whose held-out measure is the IoU on labelled faces it never trains on.
import Foundation
import FacetCore
import FacetMedia
import FacetNN
import FacetStore

/// Where the segmenter's training masks come from: the faces a user labelled (include/exclude polygons).
public protocol XSegLabelSource {
    /// The labelled faces with the revision of their labels (any text that changes when the labels do).
    func labelRevisions() throws -> [Int64: String]
    /// The face's labelled mask over its aligned crop (`cropSize` px), grey, `size` x `size`, 255 = face.
    func labelMask(faceID: Int64, cropSize: Int, size: Int) throws -> Image
}

/// Labels held in memory: a mask (any size, over the whole crop) and a revision per face.
public struct FixedLabels: XSegLabelSource {
    /// The masks and revisions by face id.
    public var masks: [Int64: (revision: String, mask: Image)]
    /// Labels from `masks`.
    public init(_ masks: [Int64: (revision: String, mask: Image)]) { self.masks = masks }
    /// Every face in `masks` with its revision.
    public func labelRevisions() throws -> [Int64: String] { masks.mapValues(\.revision) }
    /// The stored mask resized to `size`.
    public func labelMask(faceID: Int64, cropSize: Int, size: Int) throws -> Image {
        guard let m = masks[faceID] else { throw FacetError("face \(faceID) has no mask labels") }
        return m.mask.grey().resized(width: size, height: size, filter: .area)
    }
}

/// The options stored with an xseg model (its `options_json`), fixed at creation.
public struct XSegModelOptions: Codable, Sendable, Equatable {
    /// The network's sizes.
    public var network: XSegConfig
    /// Faces per step.
    public var batchSize: Int
    /// Adam's step size.
    public var learningRate: Double

    /// Options with each field given.
    public init(network: XSegConfig = .standard, batchSize: Int = 8, learningRate: Double = 1e-3) {
        self.network = network; self.batchSize = batchSize; self.learningRate = learningRate
    }

    /// Parses a stored model's options; the error names the model.
    static func parse(_ json: String, model: String) throws -> XSegModelOptions {
        do { return try JSONDecoder().decode(XSegModelOptions.self, from: Data(json.utf8)) } catch {
            throw FacetError("model '\(model)': its xseg options are unreadable (\(error)); the project is damaged")
        }
    }
}

/// What `facet xseg train` asks for.
public struct XSegTrainOptions: Sendable {
    /// The model's name (a new one, or one to resume: a run always carries on an existing model of this name).
    public var name = "xseg"
    /// A new model's options.
    public var model = XSegModelOptions()
    /// When the run stops (`.iterations` counts over all runs of the model).
    public var stop: StopCondition = .iterations(2000)
    /// Minutes between checkpoints (one is always saved at the end).
    public var saveEveryMinutes: Double = 5
    /// Seeds a new model's weights, its split, sampling and augmentation.
    public var seed: UInt64 = 1
    /// Options with the defaults.
    public init() {}
}

/// A labelled face at the network's resolution.
struct XSegSample {
    let faceId: Int64
    let image: Image
    let mask: Image
}

/// IoU of two masks thresholded at 0.5 (1 when both are empty).
public func maskIoU(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, count: Int) -> Double {
    var inter = 0, union = 0
    for i in 0..<count {
        let x = a[i] > 0.5, y = b[i] > 0.5
        if x && y { inter += 1 }
        if x || y { union += 1 }
    }
    return union == 0 ? 1 : Double(inter) / Double(union)
}

/// The segmenter's training run. Create it (checks the labels, loads or creates the model), then `run`.
public final class XSegTrainer {
    /// The project the model is stored in.
    public let project: Project
    /// The xseg model trained.
    public private(set) var model: ModelRecord
    /// Its options.
    public let options: XSegModelOptions
    /// The network.
    public let network: XSegNet
    /// The last completed iteration.
    public private(set) var iteration: Int
    /// The checkpoint this run resumed from.
    public let resumedFrom: CheckpointRecord?
    let train: [XSegSample]
    let validation: [XSegSample]
    let seed: UInt64
    let run: XSegTrainOptions
    let faces: Tensor, masks: Tensor
    private var trainSeconds: Double
    private var pending: [LossRow] = []
    private var recent: [Double] = []
    /// The IoU on the held-out faces at the latest checkpoint.
    public private(set) var lastIoU: Double?

    /// Faces trained on and held out.
    public var faceCounts: (train: Int, validation: Int) { (train.count, validation.count) }

    /// Checks the labels, then loads the model `options.name` (resuming its newest checkpoint) or creates it.
    /// Every bad-input error comes before anything is written.
    public init(project: Project, labels: any XSegLabelSource, options run: XSegTrainOptions) throws {
        self.project = project
        self.run = run
        guard run.saveEveryMinutes > 0 else { throw FacetError.setting("save-every-minutes", "must be positive") }
        let revisions = try labels.labelRevisions()
        let existing = try project.model(named: run.name)
        if let m = existing, m.architecture != xsegArchitecture {
            throw FacetError.file(project.path, "model '\(run.name)' is a \(m.architecture) model, not a segmenter: "
                                  + "pick another --name")
        }
        let options = try existing.map { try XSegModelOptions.parse($0.optionsJson, model: $0.name) } ?? run.model
        try options.network.validate()
        guard options.batchSize >= 1 else { throw FacetError.setting("batch", "must be at least 1") }
        self.options = options
        seed = existing.map { UInt64(bitPattern: $0.seed) } ?? run.seed
        let labelled = revisions.keys.sorted()
        // The split: a resumed model keeps its held-out faces; new labelled faces join training.
        var held = Set<Int64>()
        if let m = existing {
            let s = try project.modelFaces(modelId: m.id!)
            held = Set(s.validation.values.flatMap { $0 })
        } else {
            var g = SeededGenerator(seed: mix(seed, 0x5E6))
            let shuffled = labelled.shuffled(using: &g)
            let n = labelled.count >= 5 ? max(1, labelled.count / 5) : 0
            held = Set(shuffled.prefix(n))
        }
        let trainIDs = labelled.filter { !held.contains($0) }, heldIDs = labelled.filter { held.contains($0) }
        guard trainIDs.count >= 2 else {
            throw FacetError.file(project.path,
                                  "has \(labelled.count) faces with mask labels, \(trainIDs.count) to train on: "
                                  + "label at "
                                  + "least 2 (facet mask \(project.path) --import FILE.jsonl, or in facet serve)")
        }
        let r = options.network.resolution
        func load(_ id: Int64) throws -> XSegSample {
            let face = try project.face(id: id)
            let image = try decodeCrop(project: project, faceID: id).rgb().resized(width: r, height: r, filter: .area)
            return XSegSample(faceId: id, image: image,
                              mask: try labels.labelMask(faceID: id, cropSize: face.cropSize, size: r))
        }
        train = try trainIDs.map(load)
        validation = try heldIDs.map(load)
        network = try XSegNet(config: options.network, seed: seed,
                              optimizer: Adam(learningRate: Float(options.learningRate),
                                              seed: UInt32(truncatingIfNeeded: seed)))
        faces = Tensor(shape: [options.batchSize, r, r, 3])
        masks = Tensor(shape: [options.batchSize, r, r, 1])

        if let m = existing, let c = try project.checkpoints(modelId: m.id!).filter({ !$0.tensorsPruned }).last {
            try XSegStore.load(network, project: project, checkpoint: c, model: m, optimizer: true)
            try project.discardLosses(modelId: m.id!, after: c.iteration)
            model = m
            iteration = c.iteration
            trainSeconds = c.trainSeconds
            resumedFrom = c
            lastIoU = c.valLoss.map { 1 - $0 }
            let known = Set(try project.modelFaces(modelId: m.id!).train.values.flatMap { $0 })
            let new = train.map(\.faceId).filter { !known.contains($0) }
            let added = try XSegTrainer.splitByRole(project, new, validation: [])
            try project.addModelFaces(modelId: m.id!, split: added)
        } else {
            let record = ModelRecord(name: run.name, architecture: xsegArchitecture, resolution: r,
                                     faceType: try project.face(id: labelled[0]).faceType,
                                     optionsJson: String(decoding: try JSONEncoder().encode(options), as: UTF8.self),
                                     seed: Int64(bitPattern: seed))
            let split = try XSegTrainer.splitByRole(project, trainIDs, validation: heldIDs)
            model = try project.createModel(record, split: split, replacingUnsaved: existing != nil)
            iteration = 0
            trainSeconds = 0
            resumedFrom = nil
        }
    }

    private static func splitByRole(_ project: Project, _ train: [Int64],
                                    validation: [Int64]) throws -> ModelFaceSplit {
        var s = ModelFaceSplit()
        for id in train { s.train[try project.face(id: id).role, default: []].append(id) }
        for id in validation { s.validation[try project.face(id: id).role, default: []].append(id) }
        return s
    }

    /// One iteration: a batch drawn and augmented from (seed, iteration) alone, one Adam step. The mean BCE.
    @discardableResult
    public func step() -> Double {
        let started = Date()
        let next = iteration + 1
        let bs = options.batchSize, n = train.count
        let augmenter = XSegAugmenter(resolution: options.network.resolution)
        for k in 0..<bs {
            let slot = next * bs + k, epoch = slot / n
            var p = SeededGenerator(seed: mix(seed, UInt64(epoch), 0xE90C))
            let index = Array(0..<n).shuffled(using: &p)[slot % n]
            var g = SeededGenerator(seed: mix(seed, UInt64(next), UInt64(k), 0xA06))
            augmenter.fill(faces: faces, masks: masks, index: k, sample: train[index], generator: &g)
        }
        let losses = network.trainStep(faces: faces, masks: masks)
        let loss = Double(losses.reduce(0, +) / Float(max(1, losses.count)))
        iteration = next
        trainSeconds += Date().timeIntervalSince(started)
        pending.append(LossRow(iteration: next, lossSrc: loss, lossDst: loss, seconds: trainSeconds))
        recent.append(loss)
        if recent.count > 50 { recent.removeFirst(recent.count - 50) }
        return loss
    }

    /// Mean IoU of the predicted masks of `samples` (unaugmented) against their labels; nil without any.
    func iou(_ samples: [XSegSample]) -> Double? {
        guard !samples.isEmpty else { return nil }
        let r = options.network.resolution, px = r * r
        var total = 0.0
        for start in stride(from: 0, to: samples.count, by: 16) {
            let chunk = Array(samples[start..<min(samples.count, start + 16)])
            let x = Tensor(shape: [chunk.count, r, r, 3])
            for (k, s) in chunk.enumerated() {
                for i in 0..<(px * 3) { x.data[k * px * 3 + i] = Float(s.image.pixels[i]) * (1 / 255) }
            }
            let p = network.predict(x)
            for (k, s) in chunk.enumerated() {
                let truth = s.mask.pixels.map { Float($0) / 255 }
                total += truth.withUnsafeBufferPointer { maskIoU(p.data + k * px, $0.baseAddress!, count: px) }
            }
        }
        return total / Double(samples.count)
    }

    /// Saves a checkpoint now: weights, optimizer state, pending losses, and as held-out loss 1 - IoU on the
    /// held-out labelled faces (both roles), so `best` is the checkpoint with the highest IoU.
    @discardableResult
    public func saveCheckpoint() throws -> CheckpointRecord {
        let heldOut = iou(validation)
        lastIoU = heldOut
        let mean = recent.isEmpty ? nil : recent.reduce(0, +) / Double(recent.count)
        let rng = try JSONEncoder().encode(["seed": seed, "iteration": UInt64(iteration)])
        let c = NewCheckpoint(modelId: model.id!, iteration: iteration, lossSrc: mean, lossDst: mean,
                              valLossSrc: heldOut.map { 1 - $0 }, valLossDst: heldOut.map { 1 - $0 },
                              trainSeconds: trainSeconds, rngState: rng)
        let network = self.network
        let saved = try project.saveCheckpoint(c, losses: pending) { writer in
            for t in network.exportTensors() {
                try writer.write(name: t.name, kind: t.name.hasPrefix("optimizer.") ? .optimizer : .weight,
                                 shape: t.shape, values: t.data)
            }
        }
        pending.removeAll()
        return saved
    }

    /// Trains until the stop condition or `shouldStop()`, saving every `saveEveryMinutes` and at the end.
    /// `progress` gets (iteration, iterations per second, recent loss, the checkpoint just saved if any).
    public func run(shouldStop: () -> Bool = { false },
                    progress: (_ iteration: Int, _ rate: Double, _ loss: Double, _ saved: CheckpointRecord?) -> Void
                        = { _, _, _, _ in }) throws -> CheckpointRecord {
        let start = Date(), first = iteration
        var lastSave = Date(), lastFlush = Date()
        var saved: CheckpointRecord?
        func rate() -> Double { Double(iteration - first) / max(Date().timeIntervalSince(start), 1e-9) }
        func recentLoss() -> Double { recent.isEmpty ? .nan : recent.reduce(0, +) / Double(recent.count) }
        while !shouldStop() {
            let done: Bool
            switch run.stop {
            case .iterations(let n): done = iteration >= n
            case .minutes(let m): done = Date().timeIntervalSince(start) >= m * 60
            case .targetLoss(let t): done = recent.count >= 20 && recentLoss() <= t
            case .never: done = false
            }
            if done { break }
            step()
            if Date().timeIntervalSince(lastSave) >= run.saveEveryMinutes * 60 {
                saved = try saveCheckpoint()
                lastSave = Date()
                progress(iteration, rate(), recentLoss(), saved)
            } else {
                if Date().timeIntervalSince(lastFlush) >= 2 {
                    try project.appendLosses(modelId: model.id!, pending)
                    pending.removeAll()
                    lastFlush = Date()
                }
                progress(iteration, rate(), recentLoss(), nil)
            }
        }
        if saved?.iteration != iteration {
            if iteration == first, let r = resumedFrom { return r }
            saved = try saveCheckpoint()
            progress(iteration, rate(), recentLoss(), saved)
        }
        return saved!
    }
}

/// Writing and reading an xseg network's tensors in checkpoint rows.
enum XSegStore {
    /// Loads checkpoint `checkpoint`'s weights (and optimizer state when asked and stored) into `network`;
    /// a checkpoint of another network size is refused naming the model.
    static func load(_ network: XSegNet, project: Project, checkpoint: CheckpointRecord, model: ModelRecord,
                     optimizer: Bool) throws {
        let infos = try project.checkpointTensorInfos(checkpointId: checkpoint.id)
        let wanted = infos.filter { $0.kind == .weight || (optimizer && $0.kind == .optimizer) }.map(\.name)
        let stored = try project.checkpointTensors(checkpointId: checkpoint.id, names: wanted)
        let tensors = stored.values.map { NamedTensor(name: $0.name, shape: $0.shape, data: $0.floats) }
        let hasOptimizer = optimizer && stored.values.contains { $0.kind == .optimizer }
        do {
            try Checkpoint.load(tensors, parameters: network.namedParameters,
                                optimizer: hasOptimizer ? network.optimizer : nil)
        } catch {
            throw FacetError("model '\(model.name)': checkpoint \(checkpoint.id) does not fit the xseg network of "
                             + "this build (\(error))")
        }
    }
}

/// Decodes a face's stored crop; the error names the face and what to do.
func decodeCrop(project: Project, faceID: Int64) throws -> Image {
    let crop = try project.faceCrop(id: faceID)
    do {
        return crop.format == "png" ? try PNGCodec.decode(crop.data) : try JPEGCodec.decode(crop.data)
    } catch {
        throw FacetError.file(project.path, "face \(faceID): its aligned crop cannot be decoded (\(error)); "
                              + "reject it with facet reject")
    }
}
