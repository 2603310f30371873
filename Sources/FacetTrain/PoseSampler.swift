/// Uniform pose sampling (DeepFaceLab's `uniform_yaw`): faces grouped into yaw x pitch bins from their stored head
/// pose, every occupied bin drawn equally often, so the few profiles of a mostly frontal set are not starved.
import Foundation
import FacetCore
import FacetNN

/// Bins of training-sample indices by head pose, and the seeded draw over them.
struct PoseBins: Equatable {
    /// Occupied bins, each the sample indices it holds, in (pitch bin, yaw bin) order.
    let bins: [[Int]]

    /// Width of a yaw bin and of a pitch bin, degrees.
    static let yawStep = 10.0, pitchStep = 10.0

    /// Groups samples by `(yaw, pitch)` (degrees). Nil when fewer than two bins are occupied (nothing to even out).
    init?(poses: [(yaw: Double, pitch: Double)]) {
        var byKey: [Int: [Int]] = [:]
        for (i, p) in poses.enumerated() {
            let y = Int((p.yaw / Self.yawStep).rounded(.down)), q = Int((p.pitch / Self.pitchStep).rounded(.down))
            byKey[(q + 1000) * 10_000 + (y + 1000), default: []].append(i)
        }
        guard byKey.count >= 2 else { return nil }
        bins = byKey.keys.sorted().map { byKey[$0]! }
    }

    /// The sample of batch slot `slot` (iteration * batch + j): bins are visited in a per-round shuffle (each bin once
    /// per round), and a bin's k-th visit takes the k-th face of a per-cycle shuffle of its faces. Depends only on
    /// (seed, slot), as the plain draw does, so a resumed run draws what an uninterrupted one would.
    func sample(slot: Int, seed: UInt64) -> Int {
        let round = slot / bins.count
        var g = SeededGenerator(seed: mix(seed, UInt64(round), 0xB1A5))
        var order = Array(0..<bins.count)
        order.shuffle(using: &g)
        let b = order[slot % bins.count]
        let faces = bins[b]
        var h = SeededGenerator(seed: mix(seed, UInt64(b), UInt64(round / faces.count), 0xFACE))
        var within = faces
        within.shuffle(using: &h)
        return within[round % faces.count]
    }
}
