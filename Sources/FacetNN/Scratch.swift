/// One large reusable scratch buffer (im2col columns, Winograd tiles) shared by all layers.
import Foundation

/// Convolutions need a big temporary (the im2col matrix is up to tens of MiB) only while they run;
/// sharing one buffer across all layers keeps peak memory at the largest single need instead of
/// the sum. A caller on another thread while the buffer is busy gets a private temporary instead.
enum Scratch {
    nonisolated(unsafe) private static var buffers: [UnsafeMutablePointer<Float>] = []
    nonisolated(unsafe) private static var capacities: [Int] = []
    private static let lock = NSLock()

    /// Runs `body` with `counts.count` buffers holding at least `counts[i]` floats each
    /// (contents unspecified).
    static func with<R>(_ counts: [Int], _ body: ([UnsafeMutablePointer<Float>]) -> R) -> R {
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

    /// Frees the shared buffers (they are reallocated on next use).
    static func release() {
        lock.lock()
        defer { lock.unlock() }
        buffers.forEach { $0.deallocate() }
        buffers = []
        capacities = []
    }
}
