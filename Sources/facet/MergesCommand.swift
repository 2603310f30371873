/// `facet merges`: the project's merge runs, and a run's worst frames with the measure that flags each.
import ArgumentParser
import FacetCore
import FacetSelect
import FacetStore
import Foundation

/// Words for a run's scores, shared by `merge` and `merges`.
enum MergeRunText {
    /// One line of a run's mean scores (the ones present).
    static func summary(_ s: [String: Double]) -> String {
        var parts: [String] = []
        func f(_ key: String, _ label: String, _ format: String) {
            if let v = s[key] { parts.append("\(label) \(String(format: format, v))") }
        }
        f(MergeMetric.identityToSrc, "identity: to src", "%.3f")
        f(MergeMetric.identityToDst, "to dst", "%.3f")
        f(MergeMetric.landmarks, "landmarks", "%.3f")
        f(MergeMetric.eyesMouth, "eyes+mouth", "%.3f")
        f(MergeMetric.detail, "detail", "%.2f")
        if let j = s[MergeMetric.jitter] {
            let ratio = s["jitter_ratio"].map { String(format: " (%.2fx the dst's own)", $0) } ?? ""
            parts.append(String(format: "jitter %.4f", j) + ratio)
        }
        return parts.isEmpty ? "no measures" : parts.joined(separator: ", ")
    }
}

struct MergesCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "merges",
        abstract: "List the project's merge runs, or with RUN --worst N a run's worst frames and why.",
        discussion: "A frame's measures are compared with the run's median in robust spreads; it ranks by its worst. "
            + "Measures: identity (distance to the src person minus to the dst), landmarks and eyes+mouth "
            + "(expression and pose), detail (sharpness over the original's) and jitter (the face's jump against "
            + "the head).")
    @OptionGroup var target: ProjectArgument
    @Argument(help: ArgumentHelp("A run's id (facet merges lists them).", valueName: "run")) var runID: Int64?
    @Option(help: "With RUN: the N worst frames (default 10).") var worst: Int?
    @OptionGroup var output: JSONFlag

    func validate() throws {
        if let worst, worst < 1 { throw ValidationError("--worst must be at least 1, got \(worst)") }
        if worst != nil && runID == nil {
            throw ValidationError("--worst needs a RUN (facet merges PROJECT lists them)")
        }
    }

    struct RunLine: Encodable {
        var run: MergeRunRecord
        var summary: [String: Double]
    }
    struct WorstLines: Encodable {
        var run: MergeRunRecord
        var summary: [String: Double]
        var worst: [WorstFrame]
    }

    func run() throws {
        let p = try Project(path: target.project, mode: .readOnly)
        guard let id = runID else {
            let runs = try p.mergeRuns()
            let lines = try runs.map {
                RunLine(run: $0, summary: MergeRuns.summary(try p.mergeFrameScores(runId: $0.id)))
            }
            if output.json { try printJSON(lines); return }
            if lines.isEmpty { print("no merge runs (facet merge records each)"); return }
            for l in lines {
                let r = l.run
                let state = r.finished ? String(format: "finished, %.1f s", r.seconds ?? 0)
                    : "unfinished (stopped or killed)"
                let checkpoint = r.checkpointId.map { "#\($0)" } ?? "-"
                print("run \(r.id)  \(r.startedAt.prefix(19))  media \(r.mediaId)  checkpoint \(checkpoint)  "
                      + "frames \(r.firstFrame)..\(r.lastFrame): \(r.frames) merged, \(r.facesMerged) faces, "
                      + "\(r.framesScored) scored  \(state)")
                print("    \(r.output)")
                if r.framesScored > 0 { print("    " + MergeRunText.summary(l.summary)) }
                for n in r.notes.split(separator: "\n") { print("    note: \(n)") }
            }
            return
        }
        let r = try p.mergeRun(id: id)
        let scores = try p.mergeFrameScores(runId: id)
        let worst = MergeRuns.worstFrames(scores, count: self.worst ?? 10)
        if output.json { try printJSON(WorstLines(run: r, summary: MergeRuns.summary(scores), worst: worst)); return }
        print("run \(r.id): \(r.framesScored) frames scored of \(r.frames) merged "
              + "(\(r.finished ? "finished" : "unfinished")), \(r.output)")
        if scores.isEmpty {
            print("no scored frames (merged with --no-score, or stopped before its first scores were saved)")
            return
        }
        print("    " + MergeRunText.summary(MergeRuns.summary(scores)))
        for w in worst {
            print(String(format: "frame %5d  %@  (%.1f spreads from the run's median)", w.frame,
                         MergeRunText.why(w), w.spread))
        }
    }
}

extension MergeRunText {
    /// Why a frame is among the worst, in words.
    static func why(_ w: WorstFrame) -> String {
        switch w.metric {
        case "identity":
            return String(format: "identity: %.3f from the src person, %.3f from the dst",
                          w.values[MergeMetric.identityToSrc] ?? .nan, w.values[MergeMetric.identityToDst] ?? .nan)
        case MergeMetric.landmarks: return String(format: "landmarks off the dst's by %.3f eye distances", w.value)
        case MergeMetric.eyesMouth: return String(format: "eyes+mouth off the dst's by %.3f eye distances", w.value)
        case MergeMetric.detail: return String(format: "detail %.2f of the original's", w.value)
        case MergeMetric.jitter:
            return String(format: "jitter %.4f eye distances (the dst's own %.4f)", w.value,
                          w.values[MergeMetric.dstJitter] ?? .nan)
        default: return "\(w.metric) \(w.value)"
        }
    }
}
