/// The merge as four overlapping stages: decode, model, blend, encode, each on its own thread.
import FacetCore
import Foundation

/// How far a merge has got, for a progress line.
public struct MergeProgress: Sendable {
    public var framesDone: Int
    public var frameCount: Int
    public var seconds: Double
    public var framesPerSecond: Double { seconds > 0 ? Double(framesDone) / seconds : 0 }
    /// Seconds left at the rate so far; nil before the first frame.
    public var etaSeconds: Double? { framesDone > 0 ? Double(frameCount - framesDone) / framesPerSecond : nil }
}

/// What a finished merge did.
public struct MergeStats: Sendable, Equatable {
    public var frames: Int
    public var framesWithFaces: Int
    public var facesMerged: Int
    public var seconds: Double
    /// Faces merged with the alignment smoothed over their track, and the seconds that took.
    public var smoothedFaces = 0
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
}

public enum MergePipeline {
    /// Merges `frameCount` frames in four overlapping stages, each on its own thread: `nextFrame`
    /// (decoding) yields each frame with its index; the model stage takes the frames `batchFrames`
    /// at a time, crops their stored faces (`faces` of a frame index) and runs the swapper once on
    /// all of them (a batch keeps the network's matrix products large); the blend stage puts each
    /// swapped face back with the compositor; and `write` (encoding, on the calling thread) gets
    /// every merged frame in order. Frames without faces pass through untouched. The first error
    /// anywhere stops every stage and is rethrown. Batches of 8 frames: Quick96 costs 7% less per
    /// face than in batches of 4 (`Tools/bench merge` prints both), for 8 frames more in flight.
    public static func run(frameCount: Int,
                           nextFrame: @escaping () throws -> (index: Int, image: Image)?,
                           faces: @escaping @Sendable (Int) -> [MergeFace],
                           compositor: FaceCompositor, swapper: any FaceSwapper,
                           batchFrames: Int = 8,
                           write: (Image) throws -> Void,
                           progress: ((MergeProgress) -> Void)? = nil) throws -> MergeStats {
        let start = Date()
        let batch = max(1, batchFrames)
        let decoded = HandOver<(Int, Image)>(capacity: 3)
        let modelled = HandOver<SwappedFrame>(capacity: batch)
        let merged = HandOver<(Image, Int)>(capacity: 3)
        let failAll: @Sendable (Error) -> Void = { error in
            decoded.fail(error); modelled.fail(error); merged.fail(error)
        }
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
                        let (index, image) = frame, list = faces(index)
                        return SwappedFrame(index: index, image: image, faces: list,
                                            aligned: list.map { compositor.alignedFace(from: image, face: $0) }, swapped: [])
                    }
                    // The items hold the only references to their frames, so the blend works in place.
                    frames.removeAll(keepingCapacity: true)
                    let all = items.flatMap(\.aligned)
                    if !all.isEmpty {
                        let out = try swapper.swap(all)
                        guard out.count == all.count else { throw FacetError("the model returned \(out.count) faces for \(all.count)") }
                        var k = 0
                        for i in items.indices {
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
                    // Blended in place: the frame's pixels belong to this item alone (no copy).
                    for i in item.faces.indices {
                        try compositor.blend(into: &item.image, face: item.faces[i], aligned: item.aligned[i], swapped: item.swapped[i])
                    }
                    guard merged.put((item.image, item.faces.count)) else { return }
                }
                merged.close()
            } catch { failAll(error) }
        }
        for thread in [decodeThread, modelThread, blendThread] {
            thread.stackSize = 8 << 20
            thread.start()
        }
        var stats = MergeStats(frames: 0, framesWithFaces: 0, facesMerged: 0, seconds: 0)
        do {
            while let (frame, faceCount) = try merged.take() {
                try write(frame)
                stats.frames += 1
                if faceCount > 0 { stats.framesWithFaces += 1; stats.facesMerged += faceCount }
                progress?(MergeProgress(framesDone: stats.frames, frameCount: frameCount, seconds: Date().timeIntervalSince(start)))
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
