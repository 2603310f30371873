/// Face-recognition descriptors for stored faces: the model the engines call, and `facet embed`,
/// which fills the descriptors of faces stored before they were (resumable, batched).
import Foundation
import Dispatch
import FacetCore
import FacetMedia
import FacetProjectMedia
import FacetStore

/// A face-recognition model as the extraction engines use it (FacetVision's `FaceRecognizer`), in two
/// steps so a batch of frames is described in one call: the face chips are cut per frame (on the
/// frame workers), then all the batch's chips go through the network at once (which uses every core).
public protocol FaceDescriber: Sendable {
    /// The model's name and file hash, recorded with the faces it describes.
    var provenance: RecognizerProvenance { get }
    /// The network's input for each face of `image`, each given by its 68 points in image
    /// coordinates, in order. Thread-safe.
    func chips(image: Image, landmarks: [Landmarks68]) -> [Image]
    /// One descriptor (128 floats) per chip, in order.
    func descriptors(chips: [Image]) -> [[Float]]
}

extension FaceDescriber {
    /// One descriptor per face of one image: `descriptors(chips: chips(...))`.
    public func descriptors(image: Image, landmarks: [Landmarks68]) -> [[Float]] {
        landmarks.isEmpty ? [] : descriptors(chips: chips(image: image, landmarks: landmarks))
    }
}

/// Progress of `facet embed` after each stored batch.
public struct EmbedProgress: Sendable {
    /// Faces described so far in this run.
    public var facesDone: Int
    /// Faces to describe in all (those without a descriptor when the run began).
    public var facesTotal: Int
    /// Faces per second since the run began.
    public var facesPerSecond: Double
    /// Estimated seconds to the end; nil until the rate is known.
    public var secondsLeft: Double?
}

/// What `facet embed` did.
public struct EmbedSummary: Sendable {
    /// Faces described by this run.
    public var facesDescribed = 0
    /// Faces that already had a descriptor.
    public var alreadyDone = 0
    /// Faces whose frame could not be decoded (left without a descriptor; a rerun tries again).
    public var skipped: [String] = []
    /// Wall-clock seconds the run took.
    public var seconds = 0.0
}

/// `facet embed`: gives every stored face without one its face-recognition descriptor.
public enum EmbeddingFiller {
    /// Computes the descriptor of every face of `role` (every role when nil) that has none, from its
    /// source frame (decoded from the stored media, as extraction saw it) and its stored landmarks.
    /// Frames are decoded in order, `batchFrames` at a time described on every core, and each batch's
    /// descriptors are stored in one transaction: a kill loses at most one batch, and a rerun does only
    /// the faces still missing.
    /// `hooks`: faults a test injects (none unless bound, see `EmbedTestHooks.current`).
    public static func run(project: Project, role: Role?, describer: any FaceDescriber, batchFrames: Int = 16,
                           hooks: EmbedTestHooks = EmbedTestHooks.current,
                           progress: (EmbedProgress) -> Void = { _ in }) throws -> EmbedSummary {
        let start = Date()
        var summary = EmbedSummary()
        let counts = try project.embeddingCounts(role: role)
        summary.alreadyDone = counts.withDescriptor
        let todo = try project.facesWithoutEmbedding(role: role, limit: Int.max)
        guard !todo.isEmpty else { return summary }
        var byMedia: [Int64: [Int: [FaceToEmbed]]] = [:]
        for f in todo { byMedia[f.mediaId, default: [:]][f.frameIndex, default: []].append(f) }
        var done = 0, batches = 0
        for mediaId in byMedia.keys.sorted() {
            let frames = byMedia[mediaId]!
            let media = try project.media(id: mediaId)
            let source = try MediaFrames(project: project, media: media)
            let last = frames.keys.max() ?? 0
            var pending: [(MediaFrame, [FaceToEmbed])] = []
            var finished = false
            while !finished {
                pending.removeAll(keepingCapacity: true)
                while pending.count < batchFrames {
                    let frame: MediaFrame?
                    do { frame = try source.next() } catch {
                        summary.skipped.append("\(media.name): \(error)")
                        if summary.skipped.count > 50 {
                            throw FacetError.file(media.name, "too many decoding errors; last: \(error)")
                        }
                        continue
                    }
                    guard let frame, frame.index <= last else { finished = true; break }
                    if let faces = frames[frame.index] { pending.append((frame, faces)) }
                }
                guard !pending.isEmpty else { continue }
                let batch = pending
                let chips = ChipSlots(count: batch.count)
                DispatchQueue.concurrentPerform(iterations: batch.count) { i in
                    let (frame, faces) = batch[i]
                    chips.set(i, describer.chips(image: frame.image, landmarks: faces.map(\.landmarks)))
                }
                let faces = batch.flatMap(\.1)
                let descriptors = describer.descriptors(chips: (0..<batch.count).flatMap { chips.get($0) })
                var rows: [(faceId: Int64, descriptor: [Float])] = []
                for (f, d) in zip(faces, descriptors) where d.count == FaceEmbedding.dimension {
                    rows.append((f.id, d))
                }
                batches += 1
                let killHere = hooks.killDuringStore == batches
                try project.storeEmbeddings(rows, recognizer: describer.provenance) {
                    if killHere { kill(getpid(), SIGKILL) }
                }
                done += rows.count
                summary.facesDescribed += rows.count
                let rate = Double(done) / max(Date().timeIntervalSince(start), 1e-6)
                progress(EmbedProgress(facesDone: done, facesTotal: todo.count, facesPerSecond: rate,
                                       secondsLeft: rate > 0 ? Double(todo.count - done) / rate : nil))
            }
        }
        summary.seconds = Date().timeIntervalSince(start)
        return summary
    }
}

/// Faults a test injects into `facet embed`; shipping code never sets any. Passed to `EmbeddingFiller.run`, whose
/// default is `current`: a test binds hooks around the code it runs, and the CLI's main binds the ones its tests ask
/// for through the environment (`FACET_TEST_KILL_DURING_EMBED`), so the library itself reads no environment variable.
public struct EmbedTestHooks: Sendable, Equatable {
    /// The process SIGKILLs itself halfway through writing the descriptors of its N-th batch, inside the batch's
    /// transaction (what a kill -9 or power cut at the worst moment does).
    public var killDuringStore: Int?

    /// Hooks with the given faults (none by default).
    public init(killDuringStore: Int? = nil) { self.killDuringStore = killDuringStore }

    /// The hooks of the running code: none unless a caller bound some with `$current.withValue`.
    @TaskLocal public static var current = EmbedTestHooks()
}

/// Per-frame chip lists that parallel workers fill, each worker its own index.
final class ChipSlots: @unchecked Sendable {
    private var values: [[Image]]
    private let lock = NSLock()
    init(count: Int) { values = Array(repeating: [], count: count) }
    func set(_ i: Int, _ v: [Image]) { lock.lock(); values[i] = v; lock.unlock() }
    func get(_ i: Int) -> [Image] { lock.lock(); defer { lock.unlock() }; return values[i] }
}
