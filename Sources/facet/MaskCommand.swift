/// `facet mask`: hand-drawn mask labels (include/exclude polygons per face) in and out, and masks as PNG files.
import ArgumentParser
import FacetCore
import FacetCurate
import FacetStore
import Foundation

struct MaskCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mask",
        abstract: "Import or export hand-drawn mask labels (include/exclude polygons per face), or write each "
                  + "face's mask as a PNG.",
        discussion: """
            A label file has one JSON object a line: {"face": ID, "polygons": [{"kind": "include"|"exclude", \
            "points": [[x, y], ...]}]}, points in the face crop's pixels (0...crop size), polygons drawn in order \
            (include fills, exclude cuts out). --import replaces the polygons of each face it names (an empty list \
            clears them) in one undoable change (facet undo takes it back); a bad line is refused with its line \
            number and nothing changes. --export writes f<ID>.png (8-bit grey, crop size, 255 inside the mask) for \
            every face of every status: drawn where a face is labelled, predicted elsewhere (the mask `facet xseg \
            apply` stored, scaled bilinearly from the segmenter's resolution to the crop). A face with neither \
            labels nor a prediction (never applied, or its labels cleared since the last apply) gets no file; the \
            summary counts them. The gallery (facet serve) draws labels on the face page and shows the stored masks.
            """)
    @OptionGroup var target: ProjectArgument
    @Option(name: .customLong("import"), help: ArgumentHelp("Store the labels of a JSON-lines file.",
                                                             valueName: "file.jsonl"))
    var importFile: String?
    @Option(name: .customLong("export-labels"),
            help: ArgumentHelp("Write the labels of every labelled face to a JSON-lines file (- for stdout).",
                               valueName: "file.jsonl"))
    var exportLabels: String?
    @Option(name: .customLong("export"),
            help: ArgumentHelp("Write each face's mask (drawn where labelled, predicted elsewhere) as f<ID>.png "
                               + "into a folder.", valueName: "dir"))
    var exportDir: String?
    @OptionGroup var role: RoleOption
    @Flag(help: "With --export: write into a non-empty folder (files of the same name are replaced).")
    var force = false

    func validate() throws {
        let chosen = [importFile, exportLabels, exportDir].compactMap { $0 }.count
        if chosen != 1 {
            throw ValidationError("mask needs exactly one of --import FILE, --export-labels FILE or --export DIR")
        }
        if importFile != nil && role.role != nil {
            throw ValidationError("--role applies to --export and --export-labels (a label file names its faces)")
        }
        if force && exportDir == nil { throw ValidationError("--force applies to --export") }
    }

    func run() throws {
        if let file = importFile {
            // The file is read and checked before the project is opened for writing.
            let lines = try MaskExport.readLabelFile(file)
            let p = try Project(path: target.project)
            let r = try MaskExport.importLabels(p, lines: lines, from: file, command: maskCommandLine())
            let changed = r.summary.changed.count
            print("read labels of \(faces(r.lines)) from \(file): \(changed) changed"
                  + (changed > 0 ? " (\(idRanges(r.summary.changed))) [`facet undo` takes them back]" : ""))
            return
        }
        let p = try Project(path: target.project, mode: .readOnly)
        if let file = exportLabels {
            if file == "-" {
                for line in try MaskExport.labelLines(p, role: role.role) { print(line) }
                return
            }
            let n = try MaskExport.exportLabels(p, role: role.role, to: file)
            print("wrote the labels of \(faces(n)) to \(file)")
            return
        }
        if let dir = exportDir {
            var progress = ProgressLine()
            let r = try MaskExport.exportMasks(p, role: role.role, to: dir, force: force,
                                               predicted: MaskExport.storedPredictions(p),
                                               progress: { done, total in
                                                   progress.update("mask: \(done)/\(total) faces")
                                               })
            print("wrote \(r.labelled + r.predicted) masks to \(dir) (\(r.labelled) from labels, "
                  + "\(r.predicted) predicted)"
                  + (r.missing > 0 ? "; \(faces(r.missing)) with neither labels nor a predicted mask got no file "
                                     + "(facet xseg apply \(target.project) predicts them)" : ""))
        }
    }
}

/// The command as the user typed it, for the curation history.
private func maskCommandLine() -> String {
    "facet " + CommandLine.arguments.dropFirst().map { $0.contains(" ") ? "'\($0)'" : $0 }.joined(separator: " ")
}
