/// The errors every module reports to the user: one line saying what and what to do, and a kind
/// (GRDB's `ResultCode` style) that the command line and the gallery word and map to a status.

/// Something the user gave Facet that it cannot use, or an operation that failed.
/// `description` is the single line printed on stderr before exiting with status 1.
public struct FacetError: Error, CustomStringConvertible, Sendable, Equatable {
    /// What went wrong, as a caller branches on it (the gallery picks its HTTP status by it).
    public enum Kind: String, Sendable, CaseIterable {
        /// Input that cannot be used: a bad file, value, expression or request.
        case badInput = "bad input"
        /// Something named that the project does not hold: a face, model, checkpoint, ordering, configuration.
        case notFound = "not found"
        /// The request clashes with what is there: already imported, already exists, a different model.
        case conflict
        /// Another process holds the project's write lock.
        case busy
        /// The disk (or SQLite's page limit) is full.
        case diskFull = "disk full"
        /// The file or folder cannot be written.
        case readOnly = "read-only"
        /// A damaged project, checkpoint or media file.
        case corrupt
        /// An operation that failed for another reason (codec, system).
        case failed
    }

    /// The kind of failure.
    public let kind: Kind
    /// The setting the message starts with (`erode`, `where`), when it is about one: the command line
    /// words it as its option (`--erode`), other callers as the setting's name.
    public let setting: String?
    /// The one line for the user.
    public let message: String
    /// An error of `kind` (bad input unless said otherwise) with its one-line message.
    public init(_ message: String, kind: Kind = .badInput) {
        self.message = message; self.kind = kind; self.setting = nil
    }

    /// "NAME problem" about the setting NAME (bad input), e.g. `setting("erode", "must be -400...400")`.
    public static func setting(_ name: String, _ problem: String) -> FacetError { FacetError(setting: name, problem) }

    private init(setting: String, _ problem: String) {
        message = setting + " " + problem; kind = .badInput; self.setting = setting
    }
    /// The one-line message, as the CLI prints it.
    public var description: String { message }

    /// "PATH: problem", the shape of every bad-input message.
    public static func file(_ path: String, _ problem: String, kind: Kind = .badInput) -> FacetError {
        FacetError("\(path): \(problem)", kind: kind)
    }
}

extension FacetError.Kind {
    /// `case FacetError.Kind.notFound:` in a `catch` or `switch` over any error, as GRDB's `ResultCode`.
    public static func ~= (kind: FacetError.Kind, error: any Error) -> Bool { (error as? FacetError)?.kind == kind }
}
