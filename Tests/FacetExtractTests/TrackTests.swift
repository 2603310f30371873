/// Face tracks on the sample videos: one track per one-person clip, two across a cut, dropped faces
/// filled back, and a project made before tracks upgraded and tracked.
import XCTest
import GRDB
import FacetCore
import FacetMedia
import FacetVision
@testable import FacetExtract
@testable import FacetStore

final class TrackTests: XCTestCase {
    var dir: String!
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("Fixtures").path

    override func setUpWithError() throws {
        dir = NSTemporaryDirectory() + "facet-tracks-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(atPath: dir) }

    /// A new project at `path` with `video` (linked) as `role`, extracted at the full rate.
    static func extracted(_ video: String, role: Role, at path: String, trackOptions: TrackBuildOptions? = TrackBuildOptions(),
                          dropFace: (@Sendable (Int, Int) -> Bool)? = nil, migrations: [Migration] = ProjectSchema.migrations) throws -> (Project, ExtractionSummary) {
        let p = try Project.create(at: path, migrations: migrations)
        try MediaImporter.importMedia(path: video, role: role, link: true, into: p)
        let summary = try Extractor(project: p, options: ExtractionOptions(role: role), trackOptions: trackOptions, dropFace: dropFace).run { _ in }
        return (p, summary)
    }

    /// dst-d19 extracted once for the tests that compare with it.
    static let referenceDst: String = {
        let folder = NSTemporaryDirectory() + "facet-tracks-reference-\(UUID().uuidString)"
        try! FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let (p, _) = try! extracted(fixtures + "/video/dst-d19.mp4", role: .dst, at: folder + "/dst.facet")
        try! p.close()
        return folder + "/dst.facet"
    }()

    /// Landmarks of every face of `role` by frame index.
    static func landmarksByFrame(_ p: Project, role: Role) throws -> [Int: Landmarks68] {
        var out: [Int: Landmarks68] = [:]
        for f in try p.faces(matching: FaceQuery(role: role)) { out[f.frameIndex] = f.landmarks68 }
        return out
    }

    /// Each one-person sample clip is one track over every frame, every face in it with a smoothed
    /// alignment that is steadier than the raw one and stays close to it.
    func testOnePersonClipsAreOneTrackOverEveryFrame() throws {
        for (file, role, frames) in [("dst-d19", Role.dst, 250), ("src-d18", Role.src, 216)] {
            let p: Project
            if role == .dst {
                p = try Project(path: Self.referenceDst, mode: .readOnly)
            } else {
                p = try Self.extracted(Self.fixtures + "/video/\(file).mp4", role: role, at: dir + "/\(file).facet").0
            }
            let tracks = try p.tracks(role: role)
            XCTAssertEqual(tracks.count, 1, "\(file): \(tracks)")
            let t = try XCTUnwrap(tracks.first)
            XCTAssertEqual(t.firstFrame, 0)
            XCTAssertEqual(t.lastFrame, frames - 1)
            XCTAssertEqual(t.faces, frames)
            XCTAssertEqual(t.gaps, 0)
            XCTAssertFalse(t.endsAtCut)
            let raw = try XCTUnwrap(t.jitterRaw), smooth = try XCTUnwrap(t.jitterSmoothed)
            XCTAssertLessThan(smooth, 0.6 * raw, "\(file): jitter \(raw) -> \(smooth) eye distances")
            let faces = try p.faces(matching: FaceQuery(role: role))
            XCTAssertTrue(faces.allSatisfy { $0.trackId == t.id })
            let smoothed = try p.smoothedAlignments(faceIDs: faces.map(\.id))
            XCTAssertEqual(smoothed.count, frames)
            var drift = 0.0, worst = 0.0
            for f in faces {
                let lm = try XCTUnwrap(f.landmarks68), s = try XCTUnwrap(smoothed[f.id])
                let d = meanLandmarkDistance(lm, s.landmarks) / eyeDistance(lm)
                drift += d / Double(frames); worst = max(worst, d)
                // The matrix is the alignment of the smoothed landmarks; the raw ones are untouched.
                for (a, b) in zip(s.matrix.values, alignmentMatrix(landmarks: s.landmarks, faceType: .full, size: 256).values) {
                    XCTAssertEqual(a, b, accuracy: 1e-3 * max(1, abs(b)))
                }
            }
            XCTAssertLessThan(drift, 0.02, "\(file): mean distance smoothed to raw, eye distances")
            XCTAssertLessThan(worst, 0.06, "\(file): largest distance smoothed to raw, eye distances")
            print("\(file): jitter \(raw) -> \(smooth); smoothed vs raw mean \(drift), max \(worst) eye distances")
        }
    }

    /// Two sample videos one after the other (ffmpeg concat): two tracks, the first ending at the
    /// cut, and the smoothing of each only from its own faces (the faces either side of the cut stay
    /// where they were detected).
    func testSceneCutSplitsTracksAndSmoothingStopsThere() throws {
        let clip = dir + "/cut.mp4"
        let ffmpeg = Process()
        ffmpeg.executableURL = URL(fileURLWithPath: "/usr/bin/ffmpeg")
        ffmpeg.arguments = ["-v", "error", "-i", Self.fixtures + "/video/src-d18.mp4", "-i", Self.fixtures + "/video/dst-d19.mp4",
                            "-filter_complex", "[0:v]trim=end_frame=45,setpts=PTS-STARTPTS[a];[1:v]trim=end_frame=45,setpts=PTS-STARTPTS[b];[a][b]concat=n=2:v=1:a=0[v]",
                            "-map", "[v]", "-c:v", "libx264", "-crf", "16", "-preset", "veryfast", "-pix_fmt", "yuv420p", clip]
        try ffmpeg.run(); ffmpeg.waitUntilExit()
        XCTAssertEqual(ffmpeg.terminationStatus, 0)
        let (p, summary) = try Self.extracted(clip, role: .dst, at: dir + "/cut.facet")
        let tracks = try p.tracks(role: .dst)
        XCTAssertEqual(tracks.map { [$0.firstFrame, $0.lastFrame, $0.faces] }, [[0, 44, 45], [45, 89, 45]])
        let faces = try p.faces(matching: FaceQuery(role: .dst, sort: [FaceSort(.frameIndex)]))
        let before = try XCTUnwrap(faces.first { $0.frameIndex == 44 }), after = try XCTUnwrap(faces.first { $0.frameIndex == 45 })
        let overlap = FaceBox(x: before.boxX, y: before.boxY, width: before.boxW, height: before.boxH)
            .iou(FaceBox(x: after.boxX, y: after.boxY, width: after.boxW, height: after.boxH))
        // The two people stand in about the same place: the boxes overlap, and the cut is the histogram's.
        XCTAssertEqual(summary.tracks?.cuts, overlap >= TrackingOptions().minOverlap ? 1 : 0, "box overlap across the cut \(overlap)")
        XCTAssertEqual(tracks[0].endsAtCut, overlap >= TrackingOptions().minOverlap)
        let smoothed = try p.smoothedAlignments(faceIDs: faces.map(\.id))
        for t in tracks {
            let members = faces.filter { $0.trackId == t.id }
            let own = TrackSmoother(strength: t.smoothing).smooth(ordinals: members.map(\.frameIndex), landmarks: members.map { $0.landmarks68! })
            for (f, l) in zip(members, own) { XCTAssertEqual(smoothed[f.id]?.landmarks.packed, l.packed, "frame \(f.frameIndex) smoothed from its own track only") }
        }
        for f in [before, after] {
            let d = meanLandmarkDistance(f.landmarks68!, smoothed[f.id]!.landmarks) / eyeDistance(f.landmarks68!)
            XCTAssertLessThan(d, 0.03, "frame \(f.frameIndex) beside the cut stays where it was")
        }
        let hist = try p.histograms(faceIDs: faces.map(\.id))
        var within: [Double] = []
        for (a, b) in zip(faces, faces.dropFirst()) where a.trackId == b.trackId { within.append(summedBhattacharyya(hist[a.id]!, hist[b.id]!)) }
        within.sort()
        let across = summedBhattacharyya(hist[before.id]!, hist[after.id]!)
        XCTAssertGreaterThan(across, TrackingOptions().cutDistance)
        print("cut clip: overlap across the cut \(overlap), cuts \(summary.tracks?.cuts ?? -1); histogram distance across \(across), "
              + "within tracks median \(within[within.count / 2]), max \(within.last!)")
    }

    /// Every tenth face dropped at extraction (a test hook): one track with 25 one-frame gaps; the
    /// tracker fills them, by detecting again at lower thresholds or, with
    /// the second detection off, by interpolating along the track (both within a few pixels: measured
    /// mean 2.6 px redetected, 2.0 px interpolated, eye distance about 100 px).
    func testDroppedFacesComeBackAsFilledFaces() throws {
        var noFill = TrackBuildOptions()
        noFill.fillGaps = false
        let (p, _) = try Self.extracted(Self.fixtures + "/video/dst-d19.mp4", role: .dst, at: dir + "/dropped.facet", trackOptions: noFill,
                                        dropFace: { frame, _ in frame % 10 == 5 })
        let tracks = try p.tracks(role: .dst)
        XCTAssertEqual(tracks.count, 1)
        XCTAssertEqual(tracks.first?.faces, 225)
        XCTAssertEqual(tracks.first?.gaps, 25)
        let media = try XCTUnwrap(try p.media(role: .dst).first)
        XCTAssertEqual(try p.framesWithoutFaces(mediaId: media.id!, frameCount: 250).count, 25)
        try p.close()
        let copy = dir + "/interpolated.facet"
        try FileManager.default.copyItem(atPath: dir + "/dropped.facet", toPath: copy)

        let reference = try Self.landmarksByFrame(try Project(path: Self.referenceDst, mode: .readOnly), role: .dst)
        for (file, redetect) in [(dir + "/dropped.facet", true), (copy, false)] {
            let project = try Project(path: file)
            var o = TrackBuildOptions()
            o.redetect = redetect
            let summary = try FaceTracker(project: project, options: o).run(role: .dst)
            XCTAssertEqual(summary.redetected + summary.interpolated, 25)
            if !redetect { XCTAssertEqual(summary.interpolated, 25) }
            let t = try XCTUnwrap(try project.tracks(role: .dst).first)
            XCTAssertEqual(t.faces, 250)
            XCTAssertEqual(t.filled, 25)
            XCTAssertEqual(t.gaps, 0)
            XCTAssertEqual(try project.framesWithoutFaces(mediaId: media.id!, frameCount: 250), [])
            let filled = try project.faces(matching: FaceQuery(role: .dst, whereSQL: "filled IS NOT NULL"))
            XCTAssertEqual(filled.map(\.frameIndex).sorted(), Array(stride(from: 5, to: 250, by: 10)))
            var mean = 0.0, worst = 0.0
            for f in filled {
                XCTAssertEqual(f.filled, redetect ? f.filled : "interpolated")
                XCTAssertEqual(f.status, .kept, "a filled face is merged like any other")
                let d = meanLandmarkDistance(try XCTUnwrap(f.landmarks68), try XCTUnwrap(reference[f.frameIndex]))
                mean += d / 25; worst = max(worst, d)
                // Its crop is stored and decodes to the crop size.
                let crop = try project.faceCrop(id: f.id)
                XCTAssertEqual(try JPEGCodec.decode(crop.data).width, 256)
            }
            print("filled (redetect \(redetect)): \(summary.redetected) redetected, \(summary.interpolated) interpolated; landmarks vs the dropped faces: mean \(mean) px, worst \(worst) px")
            // dlib's own fit moves by about this much when the box moves a little (the reference
            // faces jitter by ~2.5% of the eye distance, about 2.5 px here).
            XCTAssertLessThan(mean, 3.5, "mean landmark distance to the dropped faces, px")
            XCTAssertLessThan(worst, 7, "worst face's mean landmark distance, px")
        }
    }

    /// A project made before tracks (schema 2) opens, is upgraded, keeps its faces, and gets its
    /// tracks from the tracker (as `facet tracks` builds them).
    func testProjectWithoutTracksIsUpgradedAndTracked() throws {
        let v2 = Array(ProjectSchema.migrations.prefix { $0.version <= 2 })
        let path = dir + "/v2.facet"
        let (old, _) = try Self.extracted(Self.fixtures + "/video/extra-d20.mp4", role: .dst, at: path, trackOptions: nil, migrations: v2)
        XCTAssertEqual(try old.schemaVersion(), 2)
        let before = try old.faces(matching: FaceQuery(role: .dst)).map { [$0.id: $0.landmarks] }
        try old.close()
        let p = try Project(path: path)
        XCTAssertEqual(try p.schemaVersion(), ProjectSchema.currentVersion)
        let media = try XCTUnwrap(try p.media(role: .dst).first)
        XCTAssertFalse(try p.tracksAreCurrent(mediaId: media.id!))
        let faces = try p.faces(matching: FaceQuery(role: .dst))
        XCTAssertEqual(faces.map { [$0.id: $0.landmarks] }, before)
        XCTAssertTrue(faces.allSatisfy { $0.trackId == nil && $0.filled == nil })
        let summary = try FaceTracker(project: p).run(role: .dst)
        XCTAssertTrue(try p.tracksAreCurrent(mediaId: media.id!))
        XCTAssertGreaterThanOrEqual(summary.tracks, 1)
        let all = try p.faces(matching: FaceQuery(role: .dst))
        XCTAssertEqual(try p.smoothedAlignments(faceIDs: all.map(\.id)).count, all.count)
        XCTAssertEqual(try p.integrityProblems(), [])
        print("extra-d20 (made at schema 2): \(summary)")
    }
}
