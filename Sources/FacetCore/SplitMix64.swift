/// SplitMix64 (Steele, Lea and Flood, 2014): a small, fast 64-bit generator that gives the same
/// numbers on every platform for a seed. For what must repeat exactly from run to run: sample face
/// sets, colour-transfer rotations, seeded test inputs, and the seeding of FacetNN's xoshiro256**.
public struct SplitMix64: RandomNumberGenerator, Sendable {
    /// The generator's whole state: the same state gives the same numbers after it.
    public var state: UInt64

    /// A generator whose numbers are fixed by `seed`.
    public init(seed: UInt64) { state = seed }

    /// The next 64 random bits.
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// A uniform double in [0, 1) from the top 53 bits.
    public mutating func unit() -> Double { Double(next() >> 11) / Double(1 << 53) }

    /// An integer in `range` (modulo reduction: the bias is below 2^-40 for the small ranges used here).
    public mutating func int(in range: ClosedRange<Int>) -> Int { range.lowerBound + Int(next() % UInt64(range.count)) }
}
