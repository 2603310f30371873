/// `facet xseg apply`: every face gets a stored mask from the segmenter (a labelled face keeps its drawn
/// mask), in batches of one transaction each, so a killed run loses one batch and a rerun carries on.
import Foundation
import FacetCore
import FacetMedia
import FacetNN
import FacetStore

/// A trained segmenter loaded from a checkpoint, frozen for inference.
public final class XSegModel {
    /// The network with the checkpoint's weights.
    public let network: XSegNet
    /// Its model row.
    public let model: ModelRecord
    /// The checkpoint its weights came from.
    public let checkpoint: CheckpointRecord

    init(network: XSegNet, model: ModelRecord, checkpoint: CheckpointRecord) {
        self.network = network; self.model = model; self.checkpoint = checkpoint
    }

    /// Side of the masks it predicts, in pixels.
    public var resolution: Int { network.config.resolution }

    /// Loads model `name`'s checkpoint `reference` (`latest`, `best`, a tag or an id). A project without that
    /// model, or a model without a checkpoint, gets one line saying to train it first.
    public static func load(project: Project, name: String = "xseg", checkpoint reference: String = "latest")
        throws -> XSegModel {
        guard let m = try project.model(named: name), m.architecture == xsegArchitecture else {
            throw FacetError.file(project.path, "has no xseg model '\(name)': label faces and run "
                                  + "`facet xseg train \(project.path)` first", kind: .notFound)
        }
        let c: CheckpointRecord
        do { c = try project.checkpoint(resolving: reference, model: name) } catch let e as FacetError {
            if e.kind == .notFound, ["latest", "best"].contains(reference) {
                throw FacetError.file(project.path, "xseg model '\(name)' has no checkpoint yet: run "
                                      + "`facet xseg train \(project.path)` first", kind: .notFound)
            }
            throw e
        }
        let options = try XSegModelOptions.parse(m.optionsJson, model: m.name)
        let net = try XSegNet(config: options.network, seed: 0)
        try XSegStore.load(net, project: project, checkpoint: c, model: m, optimizer: false)
        net.freezeForInference()
        return XSegModel(network: net, model: m, checkpoint: c)
    }

    /// The masks (grey, `resolution` px, 255 = uncovered face) of aligned faces of any size.
    public func predict(_ faces: [Image]) -> [Image] {
        guard !faces.isEmpty else { return [] }
        let r = resolution, px = r * r
        let x = Tensor(shape: [faces.count, r, r, 3])
        let box = UncheckedBox(x.data)
        DispatchQueue.concurrentPerform(iterations: faces.count) { k in
            let f = faces[k]
            let small = f.width == r && f.height == r && f.channels == 3 ? f : f.rgb().resized(width: r, height: r,
                                                                                                 filter: .area)
            let o = box.value + k * px * 3
            for i in 0..<(px * 3) { o[i] = Float(small.pixels[i]) * (1 / 255) }
        }
        return masks(network.predict(x), count: faces.count)
    }

    /// The first `count` masks of a probability tensor `[N, R, R, 1]`, as 8-bit images.
    func masks(_ p: Tensor, count: Int) -> [Image] {
        let r = resolution, px = r * r
        var out = [Image](repeating: Image(width: r, height: r, channels: 1), count: count)
        let probabilities = UncheckedBox(p.data)
        out.withUnsafeMutableBufferPointer { buffer in
            let box = UncheckedBox(buffer)
            DispatchQueue.concurrentPerform(iterations: count) { k in
                var m = Image(width: r, height: r, channels: 1)
                let src = probabilities.value + k * px
                for i in 0..<px { m.pixels[i] = UInt8(max(0, min(255, (src[i] * 255).rounded()))) }
                box.value[k] = m
            }
        }
        return out
    }
}

/// Progress of `xseg apply`.
public struct XSegApplyProgress: Sendable {
    /// Faces stored so far in this run.
    public var done: Int
    /// Faces this run stores in all.
    public var total: Int
    /// Faces per second so far.
    public var facesPerSecond: Double
    /// Seconds left at that rate.
    public var etaSeconds: Double
}

/// What `xseg apply` did.
public struct XSegApplyResult: Sendable {
    /// Faces given the network's prediction.
    public var predicted: Int
    /// Labelled faces given their drawn mask.
    public var labelled: Int
    /// Faces whose stored mask was already up to date.
    public var upToDate: Int
    /// The checkpoint used.
    public var checkpoint: CheckpointRecord
    /// Seconds the run took.
    public var seconds: Double
    /// Wall seconds of each phase on the applying thread: reading and decoding the crops, the network, the labelled
    /// faces' drawn masks, PNG encoding, and waiting for the previous batch's write (the write itself overlaps the
    /// next batch).
    public var phaseSeconds: [String: Double] = [:]
}

/// Applies a segmenter to a project's faces.
public enum XSegApply {
    /// Stores a mask for every face of `role` (both when nil) whose stored mask is missing, from another checkpoint,
    /// or saw other labels than the face has now. Unlabelled faces get the prediction, labelled faces their drawn
    /// mask (at the network's resolution), both with the checkpoint id and label revision. One transaction per
    /// `batchSize` faces, written on a thread of its own while the next batch is read and predicted (so a kill loses
    /// at most the batch being written and the one being predicted); `shouldStop` is checked between batches.
    /// `force` stores every face's mask again.
    public static func run(project: Project, model: XSegModel, labels: any XSegLabelSource, role: Role? = nil,
                           batchSize: Int = 32, force: Bool = false, shouldStop: () -> Bool = { false },
                           progress: (XSegApplyProgress) -> Void = { _ in }) throws -> XSegApplyResult {
        let started = Date()
        let revisions = try labels.labelRevisions()
        let states = try project.predictedMaskStates(role: role)
        var ids: [Int64] = []
        for r in role.map({ [$0] }) ?? Role.allCases {
            ids += try project.faceIDs(matching: FaceQuery(role: r))
        }
        let ckpt = model.checkpoint.id
        let todo = ids.filter { id in
            guard !force, let s = states[id] else { return true }
            return s.checkpointId != ckpt || s.labelRevision != (revisions[id] ?? "")
        }
        var result = XSegApplyResult(predicted: 0, labelled: 0, upToDate: ids.count - todo.count,
                                     checkpoint: model.checkpoint, seconds: 0)
        let r = model.resolution, px = r * r
        let batch = max(1, batchSize)
        let input = Tensor(shape: [batch, r, r, 3])
        var phases: [String: Double] = [:]
        func timed<T>(_ name: String, _ body: () throws -> T) rethrows -> T {
            let t = Date()
            defer { phases[name, default: 0] += Date().timeIntervalSince(t) }
            return try body()
        }
        let writer = BatchWriter(project: project)
        defer { _ = try? writer.wait() }
        var done = 0
        for start in stride(from: 0, to: todo.count, by: batch) {
            if shouldStop() { break }
            let chunk = Array(todo[start..<min(todo.count, start + batch)])
            let toPredict = chunk.indices.filter { revisions[chunk[$0]] == nil }
            // Reading and decoding the crops, resized straight into the network's input, on every core.
            var cropSizes = [Int](repeating: 0, count: chunk.count)
            let failure = ErrorSlot()
            try timed("decode") {
                var slot = [Int](repeating: -1, count: chunk.count)
                for (j, k) in toPredict.enumerated() { slot[k] = j }
                let frozenSlots = slot
                let x = UncheckedBox(input.data)
                cropSizes.withUnsafeMutableBufferPointer { sizes in
                    let sbox = UncheckedBox(sizes)
                    DispatchQueue.concurrentPerform(iterations: chunk.count) { k in
                        do {
                            let crop = try decodeCrop(project: project, faceID: chunk[k])
                            sbox.value[k] = crop.width
                            guard frozenSlots[k] >= 0 else { return }
                            let small = crop.rgb().resized(width: r, height: r, filter: .area)
                            let o = x.value + frozenSlots[k] * px * 3
                            for i in 0..<(px * 3) { o[i] = Float(small.pixels[i]) * (1 / 255) }
                        } catch { failure.set(error) }
                    }
                }
                if let e = failure.error { throw e }
            }
            var masks = [Image?](repeating: nil, count: chunk.count)
            if !toPredict.isEmpty {
                let predicted = timed("network") {
                    var x = input
                    if toPredict.count < batch {
                        x = Tensor(shape: [toPredict.count, r, r, 3])
                        x.data.update(from: input.data, count: toPredict.count * px * 3)
                    }
                    return model.masks(model.network.predict(x), count: toPredict.count)
                }
                for (j, k) in toPredict.enumerated() { masks[k] = predicted[j] }
            }
            try timed("labels") {
                for k in chunk.indices where revisions[chunk[k]] != nil {
                    masks[k] = try labels.labelMask(faceID: chunk[k], cropSize: cropSizes[k], size: r)
                }
            }
            let finished = masks
            var rows = [PredictedMask?](repeating: nil, count: chunk.count)
            try timed("encode") {
                rows.withUnsafeMutableBufferPointer { out in
                    let box = UncheckedBox(out)
                    DispatchQueue.concurrentPerform(iterations: chunk.count) { k in
                        do {
                            let png = try PNGCodec.encode(finished[k]!)
                            box.value[k] = PredictedMask(faceId: chunk[k], checkpointId: ckpt,
                                                         labelRevision: revisions[chunk[k]] ?? "", size: r, png: png)
                        } catch { failure.set(error) }
                    }
                }
                if let e = failure.error { throw e }
            }
            // The previous batch's write must have landed before this one is handed over (and before progress
            // counts it).
            try timed("write wait") { try writer.wait() }
            if start > 0 {
                let elapsed = Date().timeIntervalSince(started)
                let rate = Double(done) / max(elapsed, 1e-9)
                progress(XSegApplyProgress(done: done, total: todo.count, facesPerSecond: rate,
                                           etaSeconds: Double(todo.count - done) / max(rate, 1e-9)))
            }
            writer.submit(rows.map { $0! })
            result.predicted += toPredict.count
            result.labelled += chunk.count - toPredict.count
            done += chunk.count
        }
        try timed("write wait") { try writer.wait() }
        if done > 0 {
            let elapsed = Date().timeIntervalSince(started)
            let rate = Double(done) / max(elapsed, 1e-9)
            progress(XSegApplyProgress(done: done, total: todo.count, facesPerSecond: rate, etaSeconds: 0))
        }
        result.seconds = Date().timeIntervalSince(started)
        result.phaseSeconds = phases
        return result
    }
}

/// Writes batches of masks on a thread of its own, one at a time: `submit` hands one over, `wait` blocks until it
/// is stored and rethrows the write's error.
final class BatchWriter: @unchecked Sendable {
    private let project: Project
    private let queue = DispatchQueue(label: "facet-xseg-apply-writer")
    private let group = DispatchGroup()
    private let failure = ErrorSlot()

    init(project: Project) { self.project = project }

    /// Starts storing `masks` (after any batch still being written).
    func submit(_ masks: [PredictedMask]) {
        let project = self.project, failure = self.failure
        queue.async(group: group) {
            guard failure.error == nil else { return }
            do { try project.storePredictedMasks(masks) } catch { failure.set(error) }
        }
    }

    /// Blocks until every submitted batch is stored; throws the first write error.
    func wait() throws {
        group.wait()
        if let e = failure.error { throw e }
    }
}

/// The first error any worker hit.
final class ErrorSlot: @unchecked Sendable {
    private let lock = NSLock()
    private var first: Error?
    /// Keeps `e` unless an error is already kept.
    func set(_ e: Error) { lock.lock(); if first == nil { first = e }; lock.unlock() }
    /// The kept error.
    var error: Error? { lock.lock(); defer { lock.unlock() }; return first }
}

/// A buffer handed to concurrent workers that write disjoint elements.
struct UncheckedBox<T>: @unchecked Sendable {
    let value: T
    init(_ value: T) { self.value = value }
}

/// A face's stored segmenter mask, decoded (grey, the network's resolution, over the whole crop); the error says
/// to run `facet xseg apply` when it has none.
public func storedXSegMask(project: Project, faceID: Int64) throws -> Image {
    guard let m = try project.predictedMask(faceID: faceID) else {
        throw FacetError.file(project.path, "face \(faceID) has no predicted mask: run "
                              + "`facet xseg apply \(project.path)` first")
    }
    do { return try PNGCodec.decode(m.png) } catch {
        throw FacetError.file(project.path, "face \(faceID): its predicted mask cannot be decoded (\(error)); run "
                              + "`facet xseg apply \(project.path)` again", kind: .corrupt)
    }
}
