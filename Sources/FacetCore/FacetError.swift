/// The errors every module reports to the user: one line saying what and what to do.

/// Something the user gave Facet that it cannot use, or an operation that failed.
/// `description` is the single line printed on stderr before exiting with status 1.
public struct FacetError: Error, CustomStringConvertible, Sendable, Equatable {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }

    /// "PATH: problem", the shape of every bad-input message.
    public static func file(_ path: String, _ problem: String) -> FacetError {
        FacetError("\(path): \(problem)")
    }
}
