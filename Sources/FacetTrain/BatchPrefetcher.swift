/// Training batches prepared ahead: a producer thread of its own (not one of the engine's workers) decodes nothing
/// (faces are decoded once at start) but draws, colour-transfers, warps and augments the batches of the coming
/// iterations while the engine trains on the current one. A batch is a function of (seed, iteration) only, so the
/// batches are the ones the loop would have made itself, and a run with or without prefetching is bit-identical.
import Foundation
import FacetNN

/// How the batches of an iteration are made: which faces (`RoleSamples.batchIndices`), their colour transfer and
/// augmentation, all keyed by (seed, iteration).
struct BatchMaker: @unchecked Sendable {
    let src: RoleSamples
    let dst: RoleSamples
    let augmenter: Augmenter
    let colorTransfer: TrainingColorTransfer?
    /// SAEHD's `random_hsv_power` (0: off): each src input's colour shift (`HSVShift`).
    var hsvPower: Double = 0
    let seed: UInt64
    let batchSize: Int
    let resolution: Int
    let priority: Bool
    /// Whether iteration `n` warps its inputs (the run's `--no-warp` / `--warp-until`).
    let warps: @Sendable (Int) -> Bool

    /// Empty batch tensors of this run's shape.
    func emptyBatch() -> TrainingBatch {
        let r = resolution, bs = batchSize
        return TrainingBatch(warped: Tensor(shape: [bs, r, r, 3]), target: Tensor(shape: [bs, r, r, 3]),
                             mask: Tensor(shape: [bs, r, r, 1]),
                             priority: priority ? Tensor(shape: [bs, r, r, 1]) : nil)
    }

    /// Writes iteration `next`'s src and dst batches into the given tensors. `RoleSamples` caches its per-epoch
    /// shuffle, so one maker is used from one thread at a time.
    func fill(src srcBatch: TrainingBatch, dst dstBatch: TrainingBatch, iteration next: Int) {
        let warp = warps(next)
        for (samples, batch, salt) in [(src, srcBatch, UInt64(1)), (dst, dstBatch, UInt64(2))] {
            let indices = samples.batchIndices(iteration: next, batchSize: batchSize)
            var g = SeededGenerator(seed: mix(seed, UInt64(next), salt, 0xA11A))
            var c = SeededGenerator(seed: mix(seed, UInt64(next), salt, 0xC01))
            for (k, i) in indices.enumerated() {
                var sample = samples.train[i]
                if salt == 1, let ct = colorTransfer {
                    sample = sample.colorTransferred(ct, towards: dst.train[Int(c.next() % UInt64(dst.train.count))])
                }
                augmenter.fill(batch, index: k, sample: sample, generator: &g, augment: true, warp: warp)
            }
            if salt == 1 && hsvPower > 0 { shiftColors(batch.warped, iteration: next) }
        }
    }

    /// `random_hsv_power` on a src batch's inputs: one shift per face from its own stream (keyed by seed and
    /// iteration, so without it every other draw is as before). DeepFaceLab shifts the face before its warp; here it
    /// shifts the warped input, the same per-pixel change up to the interpolation between neighbouring pixels.
    func shiftColors(_ warped: Tensor, iteration next: Int) {
        var h = SeededGenerator(seed: mix(seed, UInt64(next), 1, 0x45F))
        let px = resolution * resolution
        for k in 0..<warped.batch {
            HSVShift.draw(power: hsvPower, generator: &h).apply(to: warped.data + k * px * 3, pixels: px)
        }
    }
}

/// A bounded queue of prepared batches (`depth` buffers: one in the engine's hands, the rest being filled or ready)
/// fed by one producer thread. The consumer asks for an iteration; asking for any other than the one after its last
/// (a guard's rollback, a new run) drops what was prepared and restarts the producer there.
final class BatchPrefetcher: @unchecked Sendable {
    private enum SlotState: Equatable { case free, filling, ready(Int), inUse }

    private let maker: BatchMaker
    private let condition = NSCondition()
    private let slots: [(src: TrainingBatch, dst: TrainingBatch)]
    private var states: [SlotState]
    /// The next iteration the producer prepares (nil: it waits for the consumer's first request).
    private var cursor: Int?
    /// The iteration the consumer is expected to ask for next.
    private var expected: Int?
    /// Bumped whenever prepared batches are dropped: a fill started before belongs to no one.
    private var generation = 0
    private var stopped = false
    private var madeCount = 0, readyCount = 0
    /// Batches the producer has made (for tests and benchmarks).
    var made: Int { condition.lock(); defer { condition.unlock() }; return madeCount }
    /// Requests that found their batch already made.
    var readyOnRequest: Int { condition.lock(); defer { condition.unlock() }; return readyCount }

    /// A prefetcher of `depth` (at least 2) buffers; its producer thread starts at once and waits for a request. The
    /// thread holds the prefetcher until `stop`, which its owner calls when done with it.
    init(maker: BatchMaker, depth: Int = 3) {
        self.maker = maker
        slots = (0..<max(2, depth)).map { _ in (maker.emptyBatch(), maker.emptyBatch()) }
        states = Array(repeating: .free, count: slots.count)
        let thread = Thread { [self] in produce() }
        thread.name = "facet.batches"
        thread.start()
    }

    /// The producer: fills the next iteration into a free buffer, forever, until `stop`.
    private func produce() {
        condition.lock()
        while true {
            while !stopped && (cursor == nil || !states.contains(.free)) { condition.wait() }
            if stopped { break }
            let slot = states.firstIndex(of: .free)!, iteration = cursor!, mine = generation
            cursor = iteration + 1
            states[slot] = .filling
            condition.unlock()
            maker.fill(src: slots[slot].src, dst: slots[slot].dst, iteration: iteration)
            condition.lock()
            madeCount += 1
            states[slot] = mine == generation ? .ready(iteration) : .free
            condition.broadcast()
        }
        condition.unlock()
    }

    /// The batches of `iteration`, waiting for them if they are not ready yet. Hand them back with `release` once the
    /// engine is done with them (they stay untouched until then).
    func take(iteration: Int) -> (slot: Int, src: TrainingBatch, dst: TrainingBatch) {
        condition.lock()
        defer { condition.unlock() }
        if expected != iteration { restart(at: iteration) }
        expected = iteration + 1
        if states.contains(.ready(iteration)) { readyCount += 1 }
        while true {
            if let slot = states.firstIndex(of: .ready(iteration)) {
                states[slot] = .inUse
                return (slot, slots[slot].src, slots[slot].dst)
            }
            condition.wait()
        }
    }

    /// Gives buffer `slot` back to the producer.
    func release(_ slot: Int) {
        condition.lock()
        states[slot] = .free
        condition.broadcast()
        condition.unlock()
    }

    /// Stops preparing (the run ended): what is in flight finishes, nothing more is started until the next `take`.
    func pause() {
        condition.lock()
        restart(at: nil)
        condition.unlock()
    }

    /// Ends the producer thread (it finishes the batch in hand, if any).
    func stop() {
        condition.lock()
        stopped = true
        condition.broadcast()
        condition.unlock()
    }

    /// Drops the prepared batches and points the producer at `iteration`. Called with the lock held.
    private func restart(at iteration: Int?) {
        generation += 1
        for i in states.indices where states[i] != .inUse && states[i] != .filling { states[i] = .free }
        cursor = iteration
        expected = iteration
        condition.broadcast()
    }
}
