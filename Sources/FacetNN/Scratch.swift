/// Large reusable scratch buffers (im2col columns, Winograd tiles, space-to-depth copies) shared by the layers.
import Foundation

/// Convolutions need big temporaries (the im2col matrix is up to tens of MiB) only while they run; sharing one set
/// across all layers keeps peak memory at the largest single need instead of the sum. An arena is one such set:
/// layers use `ScratchArena.current` (the process's `shared` arena unless a caller binds another, e.g. a second
/// model on another thread that should not wait for nor fall back from the first). A caller on another thread while
/// the arena is busy gets private temporaries instead, so sharing is never a correctness matter.
public final class ScratchArena: @unchecked Sendable {
    private let lock = NSLock()
    /// Raw buffers (`with`) and their capacities, in floats.
    private var buffers: [UnsafeMutablePointer<Float>] = []
    private var capacities: [Int] = []
    /// Tensor buffers of the space-to-depth path (`withTensors`), under `tensorLock`.
    private var tensors: [Tensor] = []
    private let tensorLock = NSLock()

    /// An empty arena; buffers grow on first use and are freed with it.
    public init() {}

    deinit { buffers.forEach { $0.deallocate() } }

    /// The arena every layer uses unless the running code bound another.
    public static let shared = ScratchArena()

    /// The arena of the running code: `shared` unless bound with `$current.withValue`.
    @TaskLocal public static var current: ScratchArena = .shared

    /// Runs `body` with `counts.count` buffers holding at least `counts[i]` floats each (contents unspecified).
    func with<R>(_ counts: [Int], _ body: ([UnsafeMutablePointer<Float>]) -> R) -> R {
        if lock.try() {
            defer { lock.unlock() }
            while buffers.count < counts.count {
                buffers.append(.allocate(capacity: 1))
                capacities.append(1)
            }
            for (i, n) in counts.enumerated() where capacities[i] < n {
                buffers[i].deallocate()
                buffers[i] = .allocate(capacity: n)
                capacities[i] = n
            }
            return body(Array(buffers.prefix(counts.count)))
        }
        let temps = counts.map { UnsafeMutablePointer<Float>.allocate(capacity: max($0, 1)) }
        defer { temps.forEach { $0.deallocate() } }
        return body(temps)
    }

    /// `with` for the space-to-depth path's temporaries (at most 3), kept apart from `with`'s buffers (under a lock of
    /// their own) because that path runs Winograd, which takes `with`'s buffers, while these are in use.
    func withTensors<R>(_ counts: [Int], _ body: ([UnsafeMutablePointer<Float>]) -> R) -> R {
        precondition(counts.count <= 3)
        if tensorLock.try() {
            defer { tensorLock.unlock() }
            while tensors.count < counts.count { tensors.append(Tensor(shape: [0])) }
            for (i, c) in counts.enumerated() { tensors[i].resize(to: [c]) }
            return body(tensors.prefix(counts.count).map { $0.data })
        }
        let temps = counts.map { Tensor(shape: [$0]) }
        return body(temps.map { $0.data })
    }
}

/// The scratch buffers of the running code's arena (`ScratchArena.current`).
enum Scratch {
    /// Runs `body` with `counts.count` buffers holding at least `counts[i]` floats each (contents unspecified).
    static func with<R>(_ counts: [Int], _ body: ([UnsafeMutablePointer<Float>]) -> R) -> R {
        ScratchArena.current.with(counts, body)
    }
}
