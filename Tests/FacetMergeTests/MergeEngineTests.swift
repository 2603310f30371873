/// The merge over a project: the whole dst video out as H.264 with audio and the synthetic-media tag; bad input refused with nothing written.
import XCTest
import FacetCore
import FacetExtract
import FacetMedia
import FacetStore
import FacetVision
@_spi(Benchmarks) @testable import FacetMerge
import FacetTestSupport

final class MergeEngineTests: MergeTestCase {
    /// The whole video: same frame count, size, rate and audio as the destination, tagged synthetic;
    /// frames without stored faces pass through byte for byte (compared before encoding).
    func testWholeVideoMatchesTheDestination() throws {
        let (p, media) = try MergeFixture.makeProject(at: path("work.facet"))
        let out = path("swapped.mp4")
        var progressCalls = 0
        let stats = try MergeEngine.merge(project: p, media: media, swapper: ShiftedSwapper(resolution: 64),
                                          options: MergeOptions(mask: .hull, blur: 10, crf: 23, preset: "ultrafast"),
                                          output: out, progress: { _ in progressCalls += 1 })
        XCTAssertEqual(stats.frames, 250)
        XCTAssertEqual(stats.framesWithFaces, 60)
        XCTAssertEqual(stats.facesMerged, 60)
        XCTAssertEqual(progressCalls, 250)
        XCTAssertEqual(try probe(out, ["-count_frames", "-select_streams", "v:0", "-show_entries", "stream=nb_read_frames", "-of", "csv=p=0"]), "250")
        XCTAssertEqual(try probe(out, ["-select_streams", "v:0", "-show_entries", "stream=width,height,r_frame_rate,codec_name", "-of", "csv=p=0"]), "h264,480,480,30/1")
        XCTAssertEqual(try probe(out, ["-select_streams", "a:0", "-show_entries", "stream=codec_name", "-of", "csv=p=0"]), "aac")
        XCTAssertTrue(try probe(out, ["-show_entries", "format_tags=comment", "-of", "csv=p=0"]).contains("synthetic media"))
        // The face frames changed, the others did not (within the codec's tolerance).
        let merged = try VideoDecoder(path: out), original = try VideoDecoder(path: MergeFixture.dstVideo)
        var faceDiff = 0.0, plainDiff = 0.0
        while let m = try merged.nextFrame(), let o = try original.nextFrame() {
            guard m.index == 30 || m.index == 200 else { continue }
            var d = 0.0
            for i in stride(from: 0, to: m.image.pixels.count, by: 3) { d += abs(Double(m.image.pixels[i]) - Double(o.image.pixels[i])) }
            if m.index == 30 { faceDiff = d / Double(480 * 480) } else { plainDiff = d / Double(480 * 480) }
        }
        XCTAssertGreaterThan(faceDiff, 5, "frame 30 has a face: the shifted red shows")
        XCTAssertLessThan(plainDiff, 3, "frame 200 has no stored face: only codec noise")
    }

    /// Before encoding, frames without faces are the decoded frames exactly, and frames with faces
    /// differ only inside the blend.
    func testPipelinePassesFramesWithoutFacesThrough() throws {
        let decoder = try VideoDecoder(path: MergeFixture.dstVideo)
        let reference = try VideoDecoder(path: MergeFixture.dstVideo)
        let compositor = FaceCompositor(options: MergeOptions(mask: .hull), resolution: 64)
        let facesAt: @Sendable (Int) -> [MergeFace] = { $0 % 2 == 0 && $0 < 60 ? [MergeFixture.face($0)] : [] }
        var written: [Image] = []
        let stats = try MergePipeline.run(frameCount: 8, nextFrame: {
            guard let f = try decoder.nextFrame(), f.index < 8 else { return nil }
            return (f.index, f.image)
        }, faces: facesAt, compositor: compositor, swapper: ShiftedSwapper(resolution: 64), write: { written.append($0) })
        XCTAssertEqual(stats.frames, 8)
        XCTAssertEqual(stats.framesWithFaces, 4)
        for i in 0..<8 {
            let original = try XCTUnwrap(try reference.nextFrame()).image
            if i % 2 == 1 { XCTAssertEqual(written[i], original, "frame \(i) has no face and must pass through") } else { XCTAssertNotEqual(written[i], original) }
        }
    }

    /// The model stage takes the faces of several frames in one call; every frame still comes out
    /// exactly as merging it on its own makes it, in order.
    func testPipelineBatchesFramesThroughTheModel() throws {
        final class Counting: FaceSwapper, @unchecked Sendable {
            let inner = ShiftedSwapper(resolution: 64)
            let lock = NSLock()
            var calls: [Int] = []
            var resolution: Int { 64 }
            func swap(_ faces: [Image]) throws -> [(face: Image, mask: Image)] {
                lock.lock(); calls.append(faces.count); lock.unlock()
                return try inner.swap(faces)
            }
        }
        let decoder = try VideoDecoder(path: MergeFixture.dstVideo)
        let compositor = FaceCompositor(options: MergeOptions(mask: .hull, blur: 10), resolution: 64)
        let facesAt: @Sendable (Int) -> [MergeFace] = { $0 % 3 == 2 ? [] : [MergeFixture.face($0)] }
        let counting = Counting()
        var written: [Image] = []
        let stats = try MergePipeline.run(frameCount: 10, nextFrame: {
            guard let f = try decoder.nextFrame(), f.index < 10 else { return nil }
            return (f.index, f.image)
        }, faces: facesAt, compositor: compositor, swapper: counting, batchFrames: 4, write: { written.append($0) })
        XCTAssertEqual(stats.frames, 10)
        XCTAssertEqual(stats.facesMerged, 7)
        // Frames 0-3 hold faces at 0, 1, 3; frames 4-7 at 4, 6, 7; frames 8-9 at 9.
        XCTAssertEqual(counting.calls, [3, 3, 1])
        let reference = try VideoDecoder(path: MergeFixture.dstVideo)
        for i in 0..<10 {
            var expected = try XCTUnwrap(try reference.nextFrame()).image
            _ = try compositor.merge(frame: &expected, faces: facesAt(i), swapper: ShiftedSwapper(resolution: 64))
            XCTAssertEqual(written[i], expected, "frame \(i)")
        }
    }

    /// --frames: exactly those frames, with the destination's audio of their time span: its packets,
    /// copied unchanged, from frame A's start to frame B's end.
    func testFrameRange() throws {
        let (p, media) = try MergeFixture.makeProject(at: path("work.facet"))
        let out = path("part.mp4")
        let stats = try MergeEngine.merge(project: p, media: media, swapper: ShiftedSwapper(resolution: 64),
                                          options: MergeOptions(mask: .hull, preset: "ultrafast"), output: out, frames: 45...104)
        XCTAssertEqual(stats.frames, 60)
        XCTAssertEqual(try probe(out, ["-count_frames", "-select_streams", "v:0", "-show_entries", "stream=nb_read_frames", "-of", "csv=p=0"]), "60")
        XCTAssertEqual(try probe(out, ["-select_streams", "a", "-show_entries", "stream=codec_name", "-of", "csv=p=0"]), "aac")
        // 60 frames at 30/s: 2 s of sound, within one AAC packet (1024 samples at 44.1 kHz, 23 ms) each end.
        let audioSeconds = try XCTUnwrap(Double(try probe(out, ["-select_streams", "a:0", "-show_entries", "stream=duration", "-of", "csv=p=0"])))
        XCTAssertEqual(audioSeconds, 2.0, accuracy: 0.05)
        // The right slice: the output's audio packets are the source's from 1.5 s (frame 45) to 3.5 s.
        func packets(_ file: String) throws -> [(time: Double, size: Int)] {
            try probe(file, ["-select_streams", "a:0", "-show_entries", "packet=pts_time,size", "-of", "csv=p=0"])
                .split(separator: "\n").map { line in
                    let f = line.split(separator: ",")
                    return (Double(f[0]) ?? .nan, Int(f[1]) ?? -1)
                }
        }
        let copied = try packets(out), source = try packets(MergeFixture.dstVideo)
        let first = try XCTUnwrap(source.firstIndex { $0.time + 1024.0 / 44100 > 1.5 + 1e-6 })
        XCTAssertGreaterThan(copied.count, 80)
        XCTAssertEqual(copied.map(\.size), source[first..<(first + copied.count)].map(\.size))
        XCTAssertEqual(copied[0].time, source[first].time - 1.5, accuracy: 0.001, "the audio keeps its place against the frames")
        XCTAssertGreaterThanOrEqual(source[first + copied.count].time, 3.5 - 1e-6, "the slice stops at frame 104's end")
        XCTAssertThrowsError(try MergeEngine.merge(project: p, media: media, swapper: ShiftedSwapper(resolution: 64),
                                                   options: MergeOptions(), output: path("no.mp4"), frames: 240...260)) { e in
            XCTAssertTrue("\(e)".contains("outside dst video"), "\(e)")
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: path("no.mp4")))
    }

    /// A preview is the frame the full merge would make.
    func testPreviewIsOneMergedFrame() throws {
        let (p, media) = try MergeFixture.makeProject(at: path("work.facet"))
        let options = MergeOptions(mode: .overlay, mask: .hull, erode: 5, blur: 15, color: .rct)
        let (image, regions) = try MergeEngine.preview(project: p, media: media, frame: 12, swapper: ShiftedSwapper(resolution: 64), options: options)
        var expected = try MergeFixture.frame(12)
        _ = try FaceCompositor(options: options, resolution: 64).merge(frame: &expected, faces: [MergeFixture.face(12)], swapper: ShiftedSwapper(resolution: 64))
        XCTAssertEqual(image, expected)
        XCTAssertEqual(regions.count, 1)
        look(image, "preview-12")
        XCTAssertThrowsError(try MergeEngine.preview(project: p, media: media, frame: 100, swapper: ShiftedSwapper(resolution: 64), options: options)) { e in
            XCTAssertTrue("\(e)".contains("no kept faces in frames 100...100"), "\(e)")
        }
    }

    func testNoDestinationFacesIsRefusedWithNothingWritten() throws {
        let (p, media) = try MergeFixture.makeProject(at: path("work.facet"), withFaces: false)
        let out = path("swapped.mp4")
        XCTAssertThrowsError(try MergeEngine.merge(project: p, media: media, swapper: IdentitySwapper(resolution: 64), options: MergeOptions(), output: out)) { e in
            XCTAssertTrue("\(e)".contains("has no kept faces"), "\(e)")
            XCTAssertTrue("\(e)".contains("facet extract"), "\(e)")
        }
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir).filter { $0.hasSuffix(".mp4") }, [])
    }

    /// A model of another known face type (SAEHD's whole face here) gets the stored faces re-aligned to its type
    /// from their landmarks; an unknown type is refused with nothing written.
    func testFaceTypeOtherThanTheModelsIsRealignedOrRefused() throws {
        let (p, media) = try MergeFixture.makeProject(at: path("work.facet"))
        let stored = try MergeEngine.facesAndSmoothing(in: p, media: media, smoothing: 0).faces
        let wide = try MergeEngine.facesAndSmoothing(in: p, media: media, faceType: "whole_face", smoothing: 0).faces
        let s = try XCTUnwrap(stored.values.first?.first), w = try XCTUnwrap(wide[stored.keys.first!]?.first)
        XCTAssertEqual(w.imageToFace, alignmentMatrix(landmarks: w.landmarks, faceType: .wholeFace, size: w.cropSize))
        XCTAssertNotEqual(w.imageToFace, s.imageToFace)
        // The whole face is wider: the same face is smaller in its crop.
        XCTAssertLessThan(abs(w.imageToFace.a), abs(s.imageToFace.a))
        XCTAssertThrowsError(try MergeEngine.merge(project: p, media: media, swapper: IdentitySwapper(resolution: 64), options: MergeOptions(),
                                                   output: path("x.mp4"), faceType: "chin")) { e in
            XCTAssertTrue("\(e)".contains("trained on chin faces but dst face"), "\(e)")
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: path("x.mp4")))
    }

    /// A linked dst video that moved, or changed after import: a clear error, nothing written.
    func testLinkedDestinationMovedOrChanged() throws {
        let linked = path("dst.mp4")
        try FileManager.default.copyItem(atPath: MergeFixture.dstVideo, toPath: linked)
        let (p, media) = try MergeFixture.makeProject(at: path("work.facet"), link: linked)
        let out = path("swapped.mp4")
        // Changed: one byte flipped in the middle.
        var bytes = try Data(contentsOf: URL(fileURLWithPath: linked))
        bytes[bytes.count / 2] ^= 0xFF
        try bytes.write(to: URL(fileURLWithPath: linked))
        XCTAssertThrowsError(try MergeEngine.merge(project: p, media: media, swapper: IdentitySwapper(resolution: 64), options: MergeOptions(), output: out)) { e in
            XCTAssertTrue("\(e)".contains("changed since it was imported"), "\(e)")
        }
        // Moved away.
        try FileManager.default.removeItem(atPath: linked)
        XCTAssertThrowsError(try MergeEngine.merge(project: p, media: media, swapper: IdentitySwapper(resolution: 64), options: MergeOptions(), output: out)) { e in
            XCTAssertTrue("\(e)".contains("is missing"), "\(e)")
        }
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir).filter { $0.contains(".mp4") }, [])
    }

    /// A model failing half-way leaves no output file, not even the partial one.
    func testFailureHalfWayLeavesNothing() throws {
        let (p, media) = try MergeFixture.makeProject(at: path("work.facet"))
        XCTAssertThrowsError(try MergeEngine.merge(project: p, media: media, swapper: WrongSizeSwapper(resolution: 64),
                                                   options: MergeOptions(preset: "ultrafast"), output: path("swapped.mp4")))
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir).filter { $0.contains(".mp4") }, [])
    }

    func testMergeConfigurationsAreSavedByName() throws {
        let (p, _) = try MergeFixture.makeProject(at: path("work.facet"), withFaces: false)
        let a = MergeOptions(mode: .seamless, erode: 5, blur: 10, color: .rct)
        try p.saveMergeConfig(name: "soft", checkpointId: nil, optionsJSON: a.json)
        XCTAssertEqual(try MergeOptions(json: try XCTUnwrap(try p.mergeConfig(named: "soft")).optionsJSON), a)
        let b = MergeOptions(mode: .overlay, blur: 40)
        try p.saveMergeConfig(name: "soft", checkpointId: nil, optionsJSON: b.json)
        XCTAssertEqual(try p.mergeConfigs().map(\.name), ["soft"])
        XCTAssertEqual(try MergeOptions(json: try XCTUnwrap(try p.mergeConfig(named: "soft")).optionsJSON), b)
        XCTAssertNil(try p.mergeConfig(named: "other"))
        XCTAssertThrowsError(try p.saveMergeConfig(name: "x", checkpointId: 99, optionsJSON: "{}")) { e in
            XCTAssertTrue("\(e)".contains("has no checkpoint 99"), "\(e)")
        }
    }
}
