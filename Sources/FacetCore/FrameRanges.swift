/// Frame ranges as users type them (`120..180`, `120...180`, `7`), optionally with a name (`120..180=NAME`):
/// the merge's `--frames`, `--skip` and `--config-for`. Parsing never traps (Tools/fuzz: fuzz-frame-ranges).
import Foundation

/// A frame range with an optional name after `=`.
public struct FrameRangeSpec: Sendable, Equatable {
    /// The frames, inclusive, full-rate indices.
    public var frames: ClosedRange<Int>
    /// The name after `=` (e.g. a saved merge configuration), nil when none was given.
    public var name: String?

    /// A range from its parts.
    public init(frames: ClosedRange<Int>, name: String? = nil) { self.frames = frames; self.name = name }

    /// The largest frame index a range may name (far above any video; keeps sums and counts from overflowing).
    public static let maxFrame = 100_000_000

    /// `A..B`, `A...B` or `A` (0 <= A <= B <= maxFrame), then `=NAME` when `named`; anything else is a
    /// one-line FacetError saying what was expected.
    public static func parse(_ text: String, named: Bool) throws -> FrameRangeSpec {
        var rangeText = Substring(text)
        var name: String?
        if named {
            guard let eq = text.firstIndex(of: "=") else {
                throw FacetError("'\(text)' is not A..B=NAME (a frame range, '=', a saved merge configuration's name)")
            }
            rangeText = text[..<eq]
            let n = String(text[text.index(after: eq)...]).trimmingCharacters(in: .whitespaces)
            guard !n.isEmpty else { throw FacetError("'\(text)' names no configuration after '='") }
            name = n
        }
        let parts = rangeText.replacingOccurrences(of: "...", with: "..").components(separatedBy: "..")
        guard parts.count <= 2, let a = Int(parts[0].trimmingCharacters(in: .whitespaces)),
              let b = parts.count == 2 ? Int(parts[1].trimmingCharacters(in: .whitespaces)) : a else {
            throw FacetError("'\(rangeText)' is not a frame range A..B (or one frame A)")
        }
        guard a >= 0, a <= b, b <= maxFrame else {
            throw FacetError("'\(rangeText)' is not a frame range: it needs 0 <= A <= B <= \(maxFrame)")
        }
        return FrameRangeSpec(frames: a...b, name: name)
    }

    /// The first pair of ranges that overlap, if any (checked in sorted order: n log n).
    public static func firstOverlap(_ ranges: [ClosedRange<Int>]) -> (ClosedRange<Int>, ClosedRange<Int>)? {
        let sorted = ranges.sorted {
            $0.lowerBound != $1.lowerBound ? $0.lowerBound < $1.lowerBound : $0.upperBound < $1.upperBound
        }
        for i in sorted.indices.dropFirst() where sorted[i].lowerBound <= sorted[i - 1].upperBound {
            return (sorted[i - 1], sorted[i])
        }
        return nil
    }
}
