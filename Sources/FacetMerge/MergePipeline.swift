/// The merge as four overlapping stages: decode, model, blend, encode, each on its own thread.
import FacetCore
import Foundation

/// How far a merge has got, for a progress line.
public struct MergeProgress: Sendable {
    /// Frames merged so far.
    public var framesDone: Int
    /// Frames to merge in all.
    public var frameCount: Int
    /// Seconds since the merge began.
    public var seconds: Double
    /// Frames merged per second so far (0 before any time has passed).
    public var framesPerSecond: Double { seconds > 0 ? Double(framesDone) / seconds : 0 }
    /// Seconds left at the rate so far; nil before the first frame.
    public var etaSeconds: Double? { framesDone > 0 ? Double(frameCount - framesDone) / framesPerSecond : nil }
}

/// What a finished merge did.
public struct MergeStats: Sendable, Equatable {
    /// Frames written.
    public var frames: Int
    /// Frames that had a face to swap.
    public var framesWithFaces: Int
    /// Faces swapped and blended.
    public var facesMerged: Int
    /// Wall-clock seconds the merge took.
    public var seconds: Double
    /// Faces merged with the alignment smoothed over their track, and the seconds that took.
    public var smoothedFaces = 0
    /// Seconds spent smoothing those faces' alignment.
    public var smoothingSeconds = 0.0
}

/// A bounded hand-over between two threads; a failure on either side ends both.
final class HandOver<T>: @unchecked Sendable {
    private let condition = NSCondition()
    private var items: [T] = []
    private var closed = false
    private var failure: Error?
    private let capacity: Int

    init(capacity: Int) { self.capacity = capacity }

    /// Waits for room; false when the pipeline has failed (stop producing).
    func put(_ item: T) -> Bool {
        condition.lock(); defer { condition.unlock() }
        while items.count >= capacity && failure == nil { condition.wait() }
        guard failure == nil else { return false }
        items.append(item)
        condition.broadcast()
        return true
    }

    /// The next item, nil at the end; rethrows a failure from either side.
    func take() throws -> T? {
        condition.lock(); defer { condition.unlock() }
        while items.isEmpty && !closed && failure == nil { condition.wait() }
        if let failure { throw failure }
        guard !items.isEmpty else { return nil }
        let item = items.removeFirst()
        condition.broadcast()
        return item
    }

    func close() { condition.lock(); closed = true; condition.broadcast(); condition.unlock() }

    func fail(_ error: Error) {
        condition.lock()
        if failure == nil { failure = error }
        condition.broadcast()
        condition.unlock()
    }
}

/// Carries a value that is used by one thread at a time into a thread's closure.
final class Handed<T>: @unchecked Sendable {
    let value: T
    init(_ value: T) { self.value = value }
}

/// A frame on its way from the model to the blend: its faces, their aligned crops and the model's output.
struct SwappedFrame {
    var index: Int
    var image: Image
    var faces: [MergeFace]
    var aligned: [Image]
    var swapped: [(face: Image, mask: Image)]
    /// Which of the run's settings (compositor and swapper) merges this frame.
    var setting = 0
}

/// Looks at each merged frame beside the frame as decoded (to score the swap, say): called in frame order from
/// a pipeline stage of its own, for every frame (a frame without faces comes with none). An error stops the merge.
public protocol MergeFrameObserver: AnyObject {
    /// One frame: its full-rate index, the decoded frame, the merged frame and the faces merged into it.
    func observe(frame: Int, original: Image, merged: Image, faces: [MergeFace]) throws
}

/// Runs a merge as four overlapping stages (decode, model, blend, encode), each on its own thread.
public enum MergePipeline {
    /// Merges `frameCount` frames in four overlapping stages, each on its own thread: `nextFrame`
    /// (decoding) yields each frame with its index; the model stage takes the frames `batchFrames`
    /// at a time, crops their stored faces (`faces` of a frame index) and runs the swapper once on
    /// all of them (a batch keeps the network's matrix products large); the blend stage puts each
    /// swapped face back with the compositor; and `write` (encoding, on the calling thread) gets
    /// every merged frame in order. Frames without faces pass through untouched. The first error
    /// anywhere stops every stage and is rethrown. Batches of 8 frames: Quick96 costs 7% less per
    /// face than in batches of 4 (`Tools/bench merge` prints both), for 8 frames more in flight.
    /// With an `observer`, a fifth stage between blend and write shows it each frame beside the original.
    public static func run(frameCount: Int,
                           nextFrame: @escaping () throws -> (index: Int, image: Image)?,
                           faces: @escaping @Sendable (Int) -> [MergeFace],
                           compositor: FaceCompositor, swapper: any FaceSwapper,
                           batchFrames: Int = 8,
                           observer: (any MergeFrameObserver)? = nil,
                           write: (Image) throws -> Void,
                           progress: ((MergeProgress) -> Void)? = nil) throws -> MergeStats {
        try run(frameCount: frameCount, nextFrame: nextFrame, faces: faces, settings: [(compositor, swapper)],
                setting: { _ in 0 }, batchFrames: batchFrames, observer: observer, write: write, progress: progress)
    }

    /// `run` with several settings in one render: frame `i` is merged with `settings[setting(i)]` (its compositor
    /// and swapper); each batch runs each swapper once on its frames' faces.
    public static func run(frameCount: Int,
                           nextFrame: @escaping () throws -> (index: Int, image: Image)?,
                           faces: @escaping @Sendable (Int) -> [MergeFace],
                           settings: [(compositor: FaceCompositor, swapper: any FaceSwapper)],
                           setting: @escaping @Sendable (Int) -> Int,
                           batchFrames: Int = 8,
                           observer: (any MergeFrameObserver)? = nil,
                           write: (Image) throws -> Void,
                           progress: ((MergeProgress) -> Void)? = nil) throws -> MergeStats {
        precondition(!settings.isEmpty, "a merge needs at least one setting")
        let start = Date()
        let batch = max(1, batchFrames)
        let decoded = HandOver<(Int, Image)>(capacity: 3)
        let modelled = HandOver<SwappedFrame>(capacity: batch)
        let merged = HandOver<(Image, Int)>(capacity: 3)
        // With an observer, the blend hands its frames (and the originals) to the observing stage instead.
        let blended = HandOver<(index: Int, original: Image, merged: Image, faces: [MergeFace])>(capacity: 3)
        let failAll: @Sendable (Error) -> Void = { error in
            decoded.fail(error); modelled.fail(error); merged.fail(error); blended.fail(error)
        }
        let observing = observer.map { Handed($0) }
        let source = Handed(nextFrame)
        let decodeThread = Thread {
            do {
                while let frame = try source.value() {
                    guard decoded.put((frame.index, frame.image)) else { return }
                }
                decoded.close()
            } catch { failAll(error) }
        }
        let modelThread = Thread {
            do {
                var frames: [(Int, Image)] = []
                var ended = false
                while !ended {
                    frames.removeAll(keepingCapacity: true)
                    while frames.count < batch, let frame = try decoded.take() { frames.append(frame) }
                    ended = frames.count < batch
                    var items = frames.map { frame in
                        let (index, image) = frame, list = faces(index), s = setting(index)
                        let compositor = settings[s].compositor
                        return SwappedFrame(index: index, image: image, faces: list,
                                            aligned: list.map { compositor.alignedFace(from: image, face: $0) },
                                            swapped: [], setting: s)
                    }
                    // The items hold the only references to their frames, so the blend works in place.
                    frames.removeAll(keepingCapacity: true)
                    // Each setting's swapper once on the batch's faces it merges.
                    for s in Set(items.map(\.setting)).sorted() {
                        let members = items.indices.filter { items[$0].setting == s && !items[$0].faces.isEmpty }
                        let all = members.flatMap { items[$0].aligned }
                        guard !all.isEmpty else { continue }
                        let out = try settings[s].swapper.swap(all)
                        guard out.count == all.count else {
                            throw FacetError("the model returned \(out.count) faces for \(all.count)")
                        }
                        var k = 0
                        for i in members {
                            items[i].swapped = Array(out[k..<(k + items[i].faces.count)])
                            k += items[i].faces.count
                        }
                    }
                    for item in items { guard modelled.put(item) else { return } }
                }
                modelled.close()
            } catch { failAll(error) }
        }
        let blendThread = Thread {
            do {
                while var item = try modelled.take() {
                    // Blended in place: the frame's pixels belong to this item alone (no copy), unless an
                    // observer needs the original too (then the first blend copies it).
                    let original = observing == nil ? nil : item.image
                    let compositor = settings[item.setting].compositor
                    for i in item.faces.indices {
                        try compositor.blend(into: &item.image, face: item.faces[i], aligned: item.aligned[i],
                                             swapped: item.swapped[i])
                    }
                    if let original {
                        guard blended.put((item.index, original, item.image, item.faces)) else { return }
                    } else {
                        guard merged.put((item.image, item.faces.count)) else { return }
                    }
                }
                if observing != nil { blended.close() } else { merged.close() }
            } catch { failAll(error) }
        }
        var threads = [decodeThread, modelThread, blendThread]
        if let observing {
            threads.append(Thread {
                do {
                    while let item = try blended.take() {
                        try observing.value.observe(frame: item.index, original: item.original, merged: item.merged,
                                                    faces: item.faces)
                        guard merged.put((item.merged, item.faces.count)) else { return }
                    }
                    merged.close()
                } catch { failAll(error) }
            })
        }
        for thread in threads {
            thread.stackSize = 8 << 20
            thread.start()
        }
        var stats = MergeStats(frames: 0, framesWithFaces: 0, facesMerged: 0, seconds: 0)
        do {
            while let (frame, faceCount) = try merged.take() {
                try write(frame)
                stats.frames += 1
                if faceCount > 0 { stats.framesWithFaces += 1; stats.facesMerged += faceCount }
                progress?(MergeProgress(framesDone: stats.frames, frameCount: frameCount,
                                        seconds: Date().timeIntervalSince(start)))
            }
        } catch {
            // Stop the other stages before leaving, so nothing keeps decoding into the void.
            failAll(error)
            throw error
        }
        stats.seconds = Date().timeIntervalSince(start)
        return stats
    }
}
