/// Blocking work of the gallery (video decoding, image coding, SQLite reads and writes, which may wait
/// on another process's lock) on threads of its own, off Swift's cooperative pool.
import Foundation

/// Runs closures on at most `width` threads of its own, first come first served; callers await the
/// result. Swift's cooperative pool has one thread per core (two here) and also runs the HTTP server's
/// tasks, so a handler that blocked it (a source frame decodes the video from its start) would stall
/// every other request, even a page that needs a millisecond. Threads are started when work arrives
/// and end when the queue is empty, so an idle lane holds none. The queue is not bounded here: the
/// gallery's in-flight limit (`InFlightLimit`) bounds it.
final class BlockingLane: @unchecked Sendable {
    let name: String
    let width: Int
    private let condition = NSCondition()
    private var queue: [@Sendable () -> Void] = []
    private var head = 0
    private var running = 0

    init(name: String, width: Int) {
        self.name = name
        self.width = max(1, width)
    }

    /// `body`'s result (or error), computed on one of the lane's threads. The result comes back
    /// through a lock rather than inside the continuation: the hand-off from a thread outside Swift's
    /// concurrency runtime then has a happens-before edge ThreadSanitizer sees (the runtime's own
    /// atomics are not instrumented, so it reported the response's header storage, written here and
    /// read by the server after the await, as a race).
    func run<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        let box = ResultBox<T>()
        await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
            submit {
                box.set(Result { try body() })
                c.resume()
            }
        }
        return try box.take().get()
    }

    private func submit(_ job: @escaping @Sendable () -> Void) {
        condition.lock()
        queue.append(job)
        let start = running < width
        if start { running += 1 }
        condition.unlock()
        guard start else { return }
        let thread = Thread { [self] in self.work() }
        thread.name = name
        thread.start()
    }

    /// One thread's loop: take the oldest job until none is left.
    private func work() {
        while true {
            condition.lock()
            guard head < queue.count else {
                running -= 1
                queue.removeAll(keepingCapacity: queue.capacity <= 64)
                head = 0
                condition.unlock()
                return
            }
            let job = queue[head]
            head += 1
            condition.unlock()
            job()
        }
    }
}

/// One result, handed from the thread that computed it to the task that awaits it under a lock.
private final class ResultBox<T>: @unchecked Sendable {
    private let lock = NSLock()
    private var result: Result<T, Error>?

    func set(_ r: Result<T, Error>) { lock.lock(); result = r; lock.unlock() }

    func take() -> Result<T, Error> {
        lock.lock(); defer { lock.unlock() }
        return result!
    }
}
