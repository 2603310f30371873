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
        for (k, f) in faces.enumerated() {
            let small = f.width == r && f.height == r && f.channels == 3 ? f : f.rgb().resized(width: r, height: r,
                                                                                                 filter: .area)
            let o = x.data + k * px * 3
            for i in 0..<(px * 3) { o[i] = Float(small.pixels[i]) * (1 / 255) }
        }
        let p = network.predict(x)
        return (0..<faces.count).map { k in
            var m = Image(width: r, height: r, channels: 1)
            let src = p.data + k * px
            for i in 0..<px { m.pixels[i] = UInt8(max(0, min(255, (src[i] * 255).rounded()))) }
            return m
        }
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
}

/// Applies a segmenter to a project's faces.
public enum XSegApply {
    /// Stores a mask for every face of `role` (both when nil) whose stored mask is missing, from another checkpoint,
    /// or saw other labels than the face has now. Unlabelled faces get the prediction, labelled faces their drawn
    /// mask (at the network's resolution), both with the checkpoint id and label revision. One transaction per
    /// `batchSize` faces; `shouldStop` is checked between batches. `force` stores every face's mask again.
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
        let r = model.resolution
        var done = 0
        for start in stride(from: 0, to: todo.count, by: max(1, batchSize)) {
            if shouldStop() { break }
            let chunk = Array(todo[start..<min(todo.count, start + max(1, batchSize))])
            // Decoding and resizing the crops, then encoding the masks, on every core.
            var images = [Image?](repeating: nil, count: chunk.count)
            var cropSizes = [Int](repeating: 0, count: chunk.count)
            let failure = ErrorSlot()
            images.withUnsafeMutableBufferPointer { out in
                let box = UncheckedBox(out)
                cropSizes.withUnsafeMutableBufferPointer { sizes in
                    let sbox = UncheckedBox(sizes)
                    DispatchQueue.concurrentPerform(iterations: chunk.count) { k in
                        do {
                            let crop = try decodeCrop(project: project, faceID: chunk[k])
                            sbox.value[k] = crop.width
                            if revisions[chunk[k]] == nil {
                                box.value[k] = crop.rgb().resized(width: r, height: r, filter: .area)
                            }
                        } catch { failure.set(error) }
                    }
                }
            }
            if let e = failure.error { throw e }
            let toPredict = chunk.indices.filter { revisions[chunk[$0]] == nil }
            let predicted = model.predict(toPredict.map { images[$0]! })
            var masks = [Image?](repeating: nil, count: chunk.count)
            for (j, k) in toPredict.enumerated() { masks[k] = predicted[j] }
            for k in chunk.indices where revisions[chunk[k]] != nil {
                masks[k] = try labels.labelMask(faceID: chunk[k], cropSize: cropSizes[k], size: r)
            }
            let finished = masks
            var rows = [PredictedMask?](repeating: nil, count: chunk.count)
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
            try project.storePredictedMasks(rows.map { $0! })
            result.predicted += toPredict.count
            result.labelled += chunk.count - toPredict.count
            done += chunk.count
            let elapsed = Date().timeIntervalSince(started)
            let rate = Double(done) / max(elapsed, 1e-9)
            progress(XSegApplyProgress(done: done, total: todo.count, facesPerSecond: rate,
                                       etaSeconds: Double(todo.count - done) / max(rate, 1e-9)))
        }
        result.seconds = Date().timeIntervalSince(started)
        return result
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
