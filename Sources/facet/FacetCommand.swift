/// The `facet` command line: the root command, shared options, and how errors become exit codes.
import ArgumentParser
import FacetCore
import FacetExtract
import FacetNN
import FacetStore
import FacetTrain
import Foundation

@main
struct Facet: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "facet",
        abstract: "Face-swap workbench: the whole project (videos, faces, models) in one SQLite file.",
        discussion: "Consent of the people shown in the videos is the user's duty. Merged videos are tagged as "
                    + "synthetic media.",
        version: FacetVersion.string,
        groupedSubcommands: [
            CommandGroup(name: "Start",
                         subcommands: [InitCommand.self, ImportCommand.self, ImportFacesCommand.self, InfoCommand.self,
                                       DemoCommand.self]),
            CommandGroup(name: "Extract", subcommands: [ExtractCommand.self, DetectCommand.self]),
            CommandGroup(name: "Curate faces", subcommands: [
                FacesCommand.self, TracksCommand.self, SortCommand.self, SimilarCommand.self, EmbedCommand.self,
                PeopleCommand.self, DuplicatesCommand.self, RejectCommand.self, RestoreCommand.self,
                TagCommand.self, TagsCommand.self, MaskCommand.self, UndoCommand.self, RedoCommand.self,
                OrderingsCommand.self,
                ExportCommand.self,
                ServeCommand.self,
            ]),
            CommandGroup(name: "Train and choose a model", subcommands: [
                TrainCommand.self, PretrainCommand.self, XSegCommand.self, CheckpointsCommand.self, ScoreCommand.self,
                TagCheckpointCommand.self,
                CompareCommand.self,
                PlotCommand.self, PruneCommand.self, ExportModelCommand.self, ImportModelCommand.self,
            ]),
            CommandGroup(name: "Merge", subcommands: [MergeCommand.self, MergeConfigsCommand.self, MergesCommand.self]),
        ]
    )

    /// Exit status: 0 success; 1 bad input or a failed operation (one line on stderr); 2 usage.
    static func main() {
        do {
            var command = try parseAsRoot()
            if (command as? BLASUse)?.needsFastBLAS ?? true { selectFastBLASKernels() }
            try withTestHooksFromEnvironment { try command.run() }
        } catch let error as FacetError {
            // A message about a setting names it as the option the user typed.
            FileHandle.standardError.write(Data("facet: \(error.setting != nil ? "--" : "")\(error.message)\n".utf8))
            Foundation.exit(1)
        } catch {
            let code = exitCode(for: error)
            if code == .success { Facet.exit(withError: error) }
            if code == .validationFailure || error is ValidationError {
                FileHandle.standardError.write(Data((fullMessage(for: error) + "\n").utf8))
                Foundation.exit(2)
            }
            Facet.exit(withError: error)
        }
    }
}

/// Whether a command's run leans on OpenBLAS (sgemm, sgemv). Those that do (every command not listed
/// here: detection, embedding, training, merging, curation sorts) start again with the fast kernels when
/// OpenBLAS picked generic ones (`selectFastBLASKernels`); commands that only read and write rows start
/// once, since a second process start (about 70 ms) is most of what a one-off query waits for.
protocol BLASUse {
    /// False when the run makes no BLAS call worth a restart.
    var needsFastBLAS: Bool { get }
}

extension InitCommand: BLASUse { var needsFastBLAS: Bool { false } }
extension ImportCommand: BLASUse { var needsFastBLAS: Bool { false } }
extension InfoCommand: BLASUse { var needsFastBLAS: Bool { false } }
extension FacesCommand: BLASUse { var needsFastBLAS: Bool { false } }
extension RejectCommand: BLASUse { var needsFastBLAS: Bool { false } }
extension RestoreCommand: BLASUse { var needsFastBLAS: Bool { false } }
extension TagCommand: BLASUse { var needsFastBLAS: Bool { false } }
extension TagsCommand: BLASUse { var needsFastBLAS: Bool { false } }
extension MaskCommand: BLASUse { var needsFastBLAS: Bool { false } }
extension UndoCommand: BLASUse { var needsFastBLAS: Bool { false } }
extension RedoCommand: BLASUse { var needsFastBLAS: Bool { false } }
extension OrderingsCommand: BLASUse { var needsFastBLAS: Bool { false } }
extension CheckpointsCommand: BLASUse { var needsFastBLAS: Bool { false } }
extension TagCheckpointCommand: BLASUse { var needsFastBLAS: Bool { false } }
extension PlotCommand: BLASUse { var needsFastBLAS: Bool { false } }
extension PruneCommand: BLASUse { var needsFastBLAS: Bool { false } }
extension MergeConfigsCommand: BLASUse { var needsFastBLAS: Bool { false } }
/// By identity, `similar` is one pass of float16 descriptors (no BLAS); by histogram it runs sgemv bounds.
extension SimilarCommand: BLASUse { var needsFastBLAS: Bool { by == .histogram } }

/// Debian's OpenBLAS 0.3.21 does not recognise some current Xeons and falls back to generic kernels
/// (sgemm about 3x slower). It reads OPENBLAS_CORETYPE only at start-up, so when it has picked the
/// generic kernels and the user set nothing, name the right family and start again.
func selectFastBLASKernels() {
    guard getenv("OPENBLAS_CORETYPE") == nil, getenv("FACET_BLAS_REEXEC") == nil, Engine.blasKernelWarning != nil else {
        return
    }
    let cpuinfo = (try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)) ?? ""
    let family = cpuinfo.contains(" avx512f") ? "SkylakeX" : cpuinfo.contains(" avx2") ? "Haswell" : nil
    guard let family else { return }
    setenv("OPENBLAS_CORETYPE", family, 1)
    setenv("FACET_BLAS_REEXEC", "1", 1)
    var argv: [UnsafeMutablePointer<CChar>?] = CommandLine.arguments.map { strdup($0) } + [nil]
    execv("/proc/self/exe", &argv)
    // execv returned: carry on with the slow kernels rather than fail.
}

/// Runs `body` with the fault-injection hooks the CLI tests ask for through the environment
/// (`FACET_TEST_MAX_PAGE_COUNT`:
/// a full disk; `FACET_TEST_KILL_DURING_SAVE`: a kill inside a checkpoint save; `FACET_TEST_KILL_DURING_EMBED`: a kill
/// inside `facet embed`'s N-th batch). Read here, in the CLI's main only, and
/// bound for the command's run, so that the libraries read no environment and need no hidden option on every command.
func withTestHooksFromEnvironment(_ body: () throws -> Void) throws {
    let env = ProcessInfo.processInfo.environment
    let project = ProjectTestHooks(maxPageCount: env["FACET_TEST_MAX_PAGE_COUNT"].flatMap { Int($0) })
    let trainer = TrainerTestHooks(killDuringSave: env["FACET_TEST_KILL_DURING_SAVE"].flatMap { Int($0) })
    let embed = EmbedTestHooks(killDuringStore: env["FACET_TEST_KILL_DURING_EMBED"].flatMap { Int($0) })
    try ProjectTestHooks.$current.withValue(project) {
        try TrainerTestHooks.$current.withValue(trainer) {
            try EmbedTestHooks.$current.withValue(embed) { try body() }
        }
    }
}

enum FacetVersion {
    static let string = "0.1.0"
}

/// The project file argument every project command takes first.
struct ProjectArgument: ParsableArguments {
    @Argument(help: "The project file (NAME.facet).")
    var project: String
}

/// `--json` for listing commands.
struct JSONFlag: ParsableArguments {
    @Flag(name: .long, help: "Print JSON (snake_case keys) instead of a table.")
    var json = false
}

/// Writes `value` as pretty JSON with snake_case keys to stdout.
func printJSON<T: Encodable>(_ value: T) throws {
    let enc = JSONEncoder()
    enc.keyEncodingStrategy = .convertToSnakeCase
    enc.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
    let data = try enc.encode(value)
    FileHandle.standardOutput.write(data)
    FileHandle.standardOutput.write(Data("\n".utf8))
}

/// A progress line on stderr, rewritten in place when stderr is a terminal.
struct ProgressLine {
    let isTTY = isatty(STDERR_FILENO) != 0
    var lastPrint = Date.distantPast
    mutating func update(_ text: String, force: Bool = false) {
        let now = Date()
        guard force || now.timeIntervalSince(lastPrint) >= (isTTY ? 0.2 : 5) else { return }
        lastPrint = now
        FileHandle.standardError.write(Data((isTTY ? "\r\u{1B}[K" + text : text + "\n").utf8))
    }
    func finish(_ text: String) {
        FileHandle.standardError.write(Data((isTTY ? "\r\u{1B}[K" + text + "\n" : text + "\n").utf8))
    }
}

/// Formats a number for tables: fixed decimals, right-aligned to `width`.
func fmt(_ v: Double, _ decimals: Int = 2, width: Int = 8) -> String {
    let s = String(format: "%.\(decimals)f", v)
    return String(repeating: " ", count: max(0, width - s.count)) + s
}

func pad(_ s: String, _ width: Int) -> String {
    s.count >= width ? s : s + String(repeating: " ", count: width - s.count)
}
