/// How convolutions pick their algorithm (Winograd, space-to-depth, im2col), as one value bound per task, not globals.

/// The algorithm choices of `Conv2D`, read at each call from `ConvPolicy.current`. Shipping code never changes
/// them; tests and benchmarks bind another value around the code they run, for that scope and thread only:
///
///     var p = ConvPolicy.current; p.winogradMinimumTiles = 1
///     ConvPolicy.with(p) { _ = conv.forward(x) }
///
/// Forward and backward of one step must run under the same policy (they choose the same path).
public struct ConvPolicy: Sendable, Equatable {
    /// Layers whose `useWinograd` is nil take the Winograd paths where they apply. On in optimised builds; off in
    /// debug builds, whose unoptimised SIMD code makes the Winograd transforms some 50x slower than im2col.
    public var winograd: Bool
    /// 3x3 stride-1 Winograd needs this many output tiles per image (16 tiles = an 8x8 image): below, im2col.
    public var winogradMinimumTiles = 16
    /// Forces one Winograd tile size (4 or 2) wherever Winograd applies (tests cover both variants on small inputs).
    public var winogradTile: Int?
    /// 5x5 stride-2 layers may run as 3x3 Winograd over the space-to-depth input (off: im2col, for comparisons).
    public var spaceToDepth = true
    /// F(4x4) tiles per half-size image from which the space-to-depth path uses F(4x4); below, F(2x2) where it gives
    /// `winogradMinimumTiles` tiles, else im2col. Measured on Quick96's encoder (batch 8): F(4x4) wins from 12x12
    /// half-size images (9 tiles: 24x24x128 -> 256 in 26-33 ms against 41-44 ms for im2col), while on 6x6 both
    /// F(4x4) (4 tiles, 88 ms) and F(2x2) (9 tiles, 53 ms) lose to im2col (43-52 ms).
    public var spaceToDepthMinimumTiles = 9
    /// The Winograd backward applies the activation's derivative and sums the bias gradient inside the
    /// output-gradient transform (off: one pass each first, for same-run comparisons).
    public var fusesWinogradBackward = true
    /// The Winograd paths keep their transformed input from forward to backward (one input transform, and for 5x5
    /// stride-2 layers one space-to-depth copy, less per step, for memory: about 140 MiB more for Quick96 at batch 4).
    /// A layer's `keepsTransformedInput` overrides it.
    public var keepsWinogradInput = true

    /// A policy with every choice at its measured default and Winograd as given.
    public init(winograd: Bool) { self.winograd = winograd }

    /// What shipping code runs with: everything on (Winograd off in debug builds, see `winograd`).
    public static let standard: ConvPolicy = {
        #if DEBUG
        return ConvPolicy(winograd: false)
        #else
        return ConvPolicy(winograd: true)
        #endif
    }()

    /// The policy of the running code: `standard` unless a caller bound another with `with(_:_:)`.
    @TaskLocal public static var current: ConvPolicy = .standard

    /// Runs `body` with `policy` as `current` (on this thread, and in tasks it creates), then restores the previous
    /// one.
    public static func with<R>(_ policy: ConvPolicy, _ body: () throws -> R) rethrows -> R {
        try $current.withValue(policy, operation: body)
    }

    /// `current` changed by `change`, for `body` only.
    public static func with<R>(_ change: (inout ConvPolicy) -> Void, _ body: () throws -> R) rethrows -> R {
        var p = current
        change(&p)
        return try with(p, body)
    }
}
