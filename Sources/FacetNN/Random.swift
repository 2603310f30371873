/// Seedable random numbers, so that a model's initial weights (and hence a run) are reproducible.
import FacetCore

/// xoshiro256** seeded through SplitMix64: fast, statistically sound, and identical on every
/// platform for a given seed (unlike `SystemRandomNumberGenerator`).
public struct SeededGenerator: RandomNumberGenerator, Sendable {
    private var s: (UInt64, UInt64, UInt64, UInt64)

    /// A generator whose sequence is fixed by `seed`.
    public init(seed: UInt64) {
        var seeder = SplitMix64(seed: seed)
        s = (seeder.next(), seeder.next(), seeder.next(), seeder.next())
    }

    /// The next 64 random bits.
    public mutating func next() -> UInt64 {
        let result = ((s.1 &* 5) << 7 | (s.1 &* 5) >> 57) &* 9
        let t = s.1 << 17
        s.2 ^= s.0
        s.3 ^= s.1
        s.1 ^= s.2
        s.0 ^= s.3
        s.2 ^= t
        s.3 = (s.3 << 45) | (s.3 >> 19)
        return result
    }

    /// A float uniform in [0, 1) with 24 random bits.
    public mutating func nextUnitFloat() -> Float { Float(next() >> 40) * (1.0 / 16_777_216.0) }
}

/// A 32-bit integer hash (lowbias32) used for counter-based randomness: the value for element `i`
/// does not depend on how the work is split over threads.
@inline(__always)
func hash32(_ x: UInt32) -> UInt32 {
    var h = x
    h ^= h >> 16
    h &*= 0x7FEB_352D
    h ^= h >> 15
    h &*= 0x846C_A68B
    h ^= h >> 16
    return h
}

extension Tensor {
    /// Fills the tensor with Glorot-uniform values, U(-l, l) with l = sqrt(6 / (fanIn + fanOut)),
    /// the Keras / leras default for kernels.
    public func fillGlorotUniform(fanIn: Int, fanOut: Int, using generator: inout SeededGenerator) {
        let limit = (6.0 / Float(fanIn + fanOut)).squareRoot()
        for i in 0..<count { data[i] = (generator.nextUnitFloat() * 2 - 1) * limit }
    }
}
