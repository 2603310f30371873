/// Batches prepared ahead on the prefetcher's thread are the batches the loop makes itself: a run with prefetching
/// is bit-identical to one without, and a jump back (a rollback) gets the batches of the iteration asked for.
import XCTest
import FacetCore
import FacetNN
import FacetStore
@testable import FacetTrain

final class BatchPrefetcherTests: TrainTestCase {
    /// 10 iterations of tiny with colour transfer and a warp schedule (every part of a batch's making), prefetched and
    /// not: the same losses, weights and optimizer state to the bit; the batches were ready ahead of the engine.
    func testPrefetchedRunIsBitIdenticalToARunWithout() throws {
        var results: [(losses: [LossRow], tensors: [NamedTensor], trainer: Trainer)] = []
        for prefetch in [true, false] {
            let p = try projectWithFaces(src: 10, dst: 10, name: "p\(prefetch).facet")
            var options = TrainOptions(architecture: .tiny, name: "m", batchSize: 3, stop: .iterations(10), seed: 5)
            options.knobs.colorTransfer = .rct
            options.warpUntil = 6
            options.prefetch = prefetch
            let trainer = try Trainer(project: p, options: options)
            XCTAssertEqual(trainer.prefetcher != nil, prefetch)
            try trainer.run()
            let losses = try p.losses(modelId: trainer.model.id!)
            results.append((losses, trainer.network.exportTensors(), trainer))
        }
        let (on, off) = (results[0], results[1])
        XCTAssertEqual(on.losses.map(\.iteration), Array(1...10))
        XCTAssertEqual(on.losses.map(\.lossSrc), off.losses.map(\.lossSrc))
        XCTAssertEqual(on.losses.map(\.lossDst), off.losses.map(\.lossDst))
        XCTAssertEqual(on.tensors.count, off.tensors.count)
        XCTAssertEqual(on.tensors, off.tensors, "weights and optimizer state after 10 iterations")
        let prefetcher = try XCTUnwrap(on.trainer.prefetcher)
        // 10 batches taken; the producer may have prepared up to 3 more before the run's end paused it (2 while
        // the engine had the 10th, 1 more in the buffer the 10th gave back).
        XCTAssertGreaterThanOrEqual(prefetcher.made, 10)
        XCTAssertLessThanOrEqual(prefetcher.made, 13)
        print("batches ready when the engine asked: \(prefetcher.readyOnRequest) of 10")
        // The first is asked for before anything was made; a tiny step takes far longer than making a batch.
        XCTAssertGreaterThanOrEqual(prefetcher.readyOnRequest, 5)
    }

    /// Taking iterations 4, 5, then 2 (a rollback) and 3: each the batches a fresh maker gives for that iteration.
    func testAJumpBackGetsTheBatchesOfTheIterationAskedFor() throws {
        let p = try projectWithFaces(src: 10, dst: 10)
        var options = TrainOptions(architecture: .tiny, name: "m", batchSize: 3, stop: .iterations(10), seed: 9)
        options.knobs.eyesMouthPriority = true
        let trainer = try Trainer(project: p, options: options)
        let prefetcher = try XCTUnwrap(trainer.prefetcher)
        var seen: [[Float]] = []
        for iteration in [4, 5, 2, 3] {
            let got = prefetcher.take(iteration: iteration)
            let want = trainer.makeBatches(iteration: iteration)
            for (a, b) in [(got.src, want.src), (got.dst, want.dst)] {
                XCTAssertEqual(a.warped.values, b.warped.values, "iteration \(iteration): warped input")
                XCTAssertEqual(a.target.values, b.target.values, "iteration \(iteration): target")
                XCTAssertEqual(a.mask.values, b.mask.values, "iteration \(iteration): mask")
                XCTAssertEqual(try XCTUnwrap(a.priority).values, try XCTUnwrap(b.priority).values)
            }
            seen.append(got.src.warped.values)
            prefetcher.release(got.slot)
        }
        XCTAssertEqual(Set(seen).count, 4, "four different batches")
    }
}
