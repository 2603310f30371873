/// The merge as three overlapping stages: decode, swap and composite, encode, each on its own thread.
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

public enum MergePipeline {
    /// Merges `frameCount` frames: `nextFrame` (on a decode thread) yields each frame with its index,
    /// `faces` gives the stored faces of a frame index, the compositor and swapper run on a second
    /// thread, and `write` (on the calling thread) gets every merged frame in order. Frames without
    /// faces pass through untouched. The first error anywhere stops every stage and is rethrown.
    public static func run(frameCount: Int,
                           nextFrame: @escaping () throws -> (index: Int, image: Image)?,
                           faces: @escaping @Sendable (Int) -> [MergeFace],
                           compositor: FaceCompositor, swapper: any FaceSwapper,
                           write: (Image) throws -> Void,
                           progress: ((MergeProgress) -> Void)? = nil) throws -> MergeStats {
        let start = Date()
        let decoded = HandOver<(Int, Image)>(capacity: 3)
        let merged = HandOver<(Image, Int)>(capacity: 3)
        let source = Handed(nextFrame)
        let decodeThread = Thread {
            do {
                while let frame = try source.value() {
                    guard decoded.put((frame.index, frame.image)) else { return }
                }
                decoded.close()
            } catch {
                decoded.fail(error)
                merged.fail(error)
            }
        }
        let mergeThread = Thread {
            do {
                while let (index, image) = try decoded.take() {
                    var frame = image
                    let list = faces(index)
                    if !list.isEmpty { _ = try compositor.merge(frame: &frame, faces: list, swapper: swapper) }
                    guard merged.put((frame, list.count)) else { return }
                }
                merged.close()
            } catch {
                decoded.fail(error)
                merged.fail(error)
            }
        }
        decodeThread.stackSize = 8 << 20
        mergeThread.stackSize = 8 << 20
        decodeThread.start()
        mergeThread.start()
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
            decoded.fail(error)
            merged.fail(error)
            throw error
        }
        stats.seconds = Date().timeIntervalSince(start)
        return stats
    }
}
