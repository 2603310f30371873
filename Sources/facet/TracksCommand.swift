/// `facet tracks`: a role's face tracks (built at extraction; built here for older projects), jitter, gaps.
import ArgumentParser
import FacetCore
import FacetExtract
import FacetStore
import Foundation

/// One line about a tracking run, for `extract` and `tracks`.
func trackSummaryLine(role: Role, _ t: TrackBuildSummary) -> String {
    let jitter = (t.jitterRaw.map { String(format: "%.4f", $0) } ?? "-",
                  t.jitterSmoothed.map { String(format: "%.4f", $0) } ?? "-")
    return "tracks \(role.rawValue): \(t.tracks) tracks over \(t.faces) faces, \(t.cuts) scene cuts, gaps filled: "
           + "\(t.redetected) "
        + "redetected, \(t.interpolated) interpolated, \(t.gapFrames) frames still missing; jitter \(jitter.0) raw, "
        + "\(jitter.1) smoothed "
        + "(eye distances), \(String(format: "%.2f", t.seconds)) s"
}

/// A track as `facet tracks --json` prints it.
struct TrackJSON: Encodable {
    var track: Int64, mediaId: Int64, role: String, firstFrame: Int, lastFrame: Int, faces: Int, filled: Int, gaps: Int
    var endsAtCut: Bool, jitterRaw: Double?, jitterSmoothed: Double?, smoothing: Double
    /// The person most of the track's faces belong to (`facet people`); nil before people are found.
    var person: Int64?
    init(_ t: TrackRecord, person: Int64?) {
        track = t.id; mediaId = t.mediaId; role = t.role.rawValue; firstFrame = t.firstFrame; lastFrame = t.lastFrame
        faces = t.faces; filled = t.filled; gaps = t.gaps; endsAtCut = t.endsAtCut; jitterRaw = t.jitterRaw
        jitterSmoothed = t.jitterSmoothed; smoothing = t.smoothing; self.person = person
    }
}

/// Frames without a face, as `facet tracks --gaps --json` prints them.
struct GapJSON: Encodable {
    var mediaId: Int64, media: String, first: Int, last: Int, frames: Int
}

struct TracksCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tracks",
        abstract: "List a role's face tracks (first and last frame, faces, filled faces, gaps, "
                  + "jitter before and after smoothing).",
        discussion: "Tracks are built at the end of `facet extract`; for a project made before tracks existed, "
                    + "or with --recompute, they are built here (linking, gap filling, smoothing), "
                    + "which writes to the project.")
    @OptionGroup var target: ProjectArgument
    @Option(help: "src or dst.") var role: Role
    @Flag(help: "Instead of tracks, list the frames of the role's videos still without a face, as ranges.")
    var gaps = false
    @Flag(help: "Build the tracks again (e.g. with another --smooth).") var recompute = false
    @Option(help: "Smoothing strength of the stored alignment when building (0 none, 1 default, more is smoother).")
    var smooth: Double = 1
    @Flag(help: "When building, do not fill gaps.") var noFill = false
    @OptionGroup var output: JSONFlag

    func validate() throws {
        guard smooth >= 0, smooth <= 100 else { throw ValidationError("--smooth must be 0...100") }
    }

    func run() throws {
        let p = try Project(path: target.project)
        let media = try p.media(role: role)
        guard !media.isEmpty else { throw FacetError.file(p.path, "has no \(role.rawValue) media") }
        let stale = try media.contains {
            try !p.tracksAreCurrent(mediaId: $0.id!) && !p.processedFrameIndices(mediaId: $0.id!).isEmpty
        }
        if recompute || stale {
            var o = TrackBuildOptions()
            o.smoothing = smooth
            o.fillGaps = !noFill
            let summary = try FaceTracker(project: p, options: o).run(role: role)
            FileHandle.standardError.write(Data((trackSummaryLine(role: role, summary) + "\n").utf8))
        }
        if gaps {
            var out: [GapJSON] = []
            for m in media where m.kind == .video || m.kind == .stills {
                for r in try p.framesWithoutFaces(mediaId: m.id!, frameCount: m.frameCount) {
                    out.append(GapJSON(mediaId: m.id!, media: m.name, first: r.lowerBound, last: r.upperBound,
                                       frames: r.count))
                }
            }
            if output.json { try printJSON(out); return }
            if out.isEmpty { print("every frame of the \(role.rawValue) media has a face"); return }
            print("media  first   last  frames")
            for g in out {
                print("\(String(format: "%5lld", g.mediaId)) \(String(format: "%6d", g.first)) "
                      + "\(String(format: "%6d", g.last)) \(String(format: "%7d", g.frames))  \(g.media)")
            }
            return
        }
        let tracks = try p.tracks(role: role)
        let persons = try p.trackPersons(role: role)
        if output.json { try printJSON(tracks.map { TrackJSON($0, person: persons[$0.id]) }); return }
        print("track media  first   last  faces filled  gaps cut  jitter raw  smoothed  person")
        for t in tracks {
            let raw = t.jitterRaw.map { String(format: "%10.4f", $0) } ?? "         -"
            let sm = t.jitterSmoothed.map { String(format: "%9.4f", $0) } ?? "        -"
            print("\(String(format: "%5lld", t.id)) \(String(format: "%5lld", t.mediaId)) "
                  + "\(String(format: "%6d", t.firstFrame)) \(String(format: "%6d", t.lastFrame)) "
                  + "\(String(format: "%6d", t.faces)) \(String(format: "%6d", t.filled)) "
                  + "\(String(format: "%5d", t.gaps)) \(t.endsAtCut ? "yes" : " no")  \(raw) \(sm)  "
                  + "\(persons[t.id].map { String($0) } ?? "-")")
        }
    }
}
