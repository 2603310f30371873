/// Decoding the real sample videos, compared with what ffprobe and ffmpeg report for them.
import FacetCore
@testable import FacetMedia
import Foundation
import XCTest

/// Reference values from Tools/bench-media/make-test-reference (ffprobe frame counts and pts,
/// ffmpeg's own rgb24 decode for mean colours).
private struct VideoReference {
    let name: String
    let fps: Double
    let frameCount: Int
    let duration: Double
    let means: [Int: [Double]]
}

private let references = [
    VideoReference(name: "src-d18.mp4", fps: 30, frameCount: 216, duration: 7.2,
                   means: [0: [137.451, 127.813, 121.3], 108: [137.599, 127.648, 121.316], 215: [138.128, 127.843, 121.668]]),
    VideoReference(name: "dst-d19.mp4", fps: 30, frameCount: 250, duration: 8.3333,
                   means: [0: [146.994, 134.079, 125.09], 125: [146.8, 133.711, 124.89], 249: [146.485, 133.157, 124.438]]),
    // Tagged BT.709 (the others are untagged, so BT.601): checks that the frame's matrix is used.
    VideoReference(name: "extra-d20.mp4", fps: 25, frameCount: 175, duration: 7.0,
                   means: [0: [53.5, 43.375, 37.846], 87: [69.456, 56.196, 56.856], 174: [82.189, 67.907, 71.044]]),
]

/// Bytes in memory whose reads fail from `failAt` on, like a store whose chunk went missing.
private final class FailingByteSource: RandomAccessByteSource {
    let data: Data
    let failAt: Int64
    init(data: Data, failAt: Int64) { self.data = data; self.failAt = failAt }
    var size: Int64 { Int64(data.count) }
    func read(at offset: Int64, into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        if offset + Int64(buffer.count) > failAt { throw FacetError("chunk 7 of the stored video is missing") }
        return try DataByteSource(data).read(at: offset, into: buffer)
    }
}

final class VideoDecodeTests: XCTestCase {
    func testProbeMatchesFFprobe() throws {
        for ref in references {
            let info = try VideoProbe.probe(path: Fixtures.video(ref.name))
            XCTAssertTrue(info.container.contains("mp4"), info.container)
            XCTAssertEqual(info.codec, "h264")
            XCTAssertEqual([info.width, info.height], [480, 480])
            XCTAssertEqual(info.fps, ref.fps, accuracy: 1e-9, ref.name)
            XCTAssertEqual(info.frameCount, ref.frameCount, ref.name)
            XCTAssertEqual(info.duration, ref.duration, accuracy: 0.001, ref.name)
            XCTAssertTrue(info.hasAudio, ref.name)
        }
    }

    func testFullRateDecodeGivesEveryFrameWithFFprobePTSAndFFmpegColours() throws {
        for ref in references {
            let decoder = try VideoDecoder(path: Fixtures.video(ref.name))
            XCTAssertEqual(decoder.info.frameCount, ref.frameCount)
            var count = 0
            while let frame = try decoder.nextFrame() {
                XCTAssertEqual(frame.index, count)
                // ffprobe: constant steps of 1/fps from 0 (see make-test-reference).
                XCTAssertEqual(frame.pts, Double(count) / ref.fps, accuracy: 1e-6)
                XCTAssertEqual([frame.image.width, frame.image.height, frame.image.channels], [480, 480, 3])
                if let expected = ref.means[count] {
                    let mean = meanColour(frame.image)
                    for c in 0..<3 { XCTAssertEqual(mean[c], expected[c], accuracy: 2, "\(ref.name) frame \(count)") }
                }
                count += 1
            }
            XCTAssertEqual(count, ref.frameCount, ref.name)
            XCTAssertTrue(try decoder.nextFrame() == nil, "stays at the end")
        }
    }

    func testDecodedPixelsMatchFFmpegsOwnDecode() throws {
        // Stronger than mean colours: every pixel of three frames against ffmpeg's rgb24 output.
        let path = Fixtures.video("extra-d20.mp4")
        let indices = [0, 87, 174]
        let select = indices.map { "eq(n\\,\($0))" }.joined(separator: "+")
        guard let tool = try runTool("ffmpeg", ["-v", "error", "-i", path, "-vf", "select=\(select)", "-vsync", "0",
                                                "-f", "rawvideo", "-pix_fmt", "rgb24", "-"]) else {
            throw XCTSkip("ffmpeg is not installed")
        }
        _ = tool
        let raw = try rawOutput("ffmpeg", ["-v", "error", "-i", path, "-vf", "select=\(select)", "-vsync", "0",
                                           "-f", "rawvideo", "-pix_fmt", "rgb24", "-"])
        let frameBytes = 480 * 480 * 3
        XCTAssertEqual(raw.count, frameBytes * indices.count)
        let decoder = try VideoDecoder(path: path)
        var found = 0
        while let frame = try decoder.nextFrame() {
            guard let slot = indices.firstIndex(of: frame.index) else { continue }
            let reference = [UInt8](raw[(slot * frameBytes)..<((slot + 1) * frameBytes)])
            var total = 0, worst = 0
            for (a, b) in zip(frame.image.pixels, reference) {
                let d = abs(Int(a) - Int(b))
                total += d
                worst = max(worst, d)
            }
            XCTAssertLessThan(Double(total) / Double(frameBytes), 0.5, "frame \(frame.index)")
            XCTAssertLessThanOrEqual(worst, 4, "frame \(frame.index)")
            found += 1
        }
        XCTAssertEqual(found, 3)
    }

    func testChosenFPSKeepsTheFrameNearestEachSlot() throws {
        let decoder = try VideoDecoder(path: Fixtures.video("src-d18.mp4"), fps: 5)
        var indices: [Int] = []
        try decoder.forEachFrame { frame in
            XCTAssertEqual(frame.pts, Double(frame.index) / 30, accuracy: 1e-6)
            indices.append(frame.index)
            return true
        }
        XCTAssertEqual(indices, Array(stride(from: 0, to: 216, by: 6)))

        // 7 fps from 30: slot k at k/7 s, nearest source frame round(30k/7) (never a tie).
        let seven = try VideoDecoder(path: Fixtures.video("src-d18.mp4"))
        seven.fps = 7
        var picked: [Int] = []
        while let frame = try seven.nextFrame() { picked.append(frame.index) }
        let expected = (0..<100).map { Int((Double($0) * 30 / 7).rounded()) }.filter { $0 < 216 }
        XCTAssertEqual(picked, expected)

        // A rate above the video's keeps every frame, once.
        let fast = try VideoDecoder(path: Fixtures.video("extra-d20.mp4"), fps: 60)
        var all: [Int] = []
        while let frame = try fast.nextFrame() { all.append(frame.index) }
        XCTAssertEqual(all, Array(0..<175))
    }

    func testDecodingFromAByteSourceMatchesTheFile() throws {
        let path = Fixtures.video("dst-d19.mp4")
        let fromFile = try VideoDecoder(path: path, fps: 3)
        let fromMemory = try VideoDecoder(source: DataByteSource(Data(contentsOf: URL(fileURLWithPath: path))), name: "stored:dst-d19.mp4", fps: 3)
        let fromPread = try VideoDecoder(source: FileByteSource(path: path), name: "dst-d19.mp4", fps: 3)
        XCTAssertEqual(fromMemory.info, fromFile.info)
        XCTAssertEqual(try VideoProbe.probe(source: FileByteSource(path: path), name: "x.mp4"), fromFile.info)
        var count = 0
        while let a = try fromFile.nextFrame() {
            let b = try XCTUnwrap(try fromMemory.nextFrame())
            let c = try XCTUnwrap(try fromPread.nextFrame())
            XCTAssertEqual(a.index, b.index)
            XCTAssertEqual(a.pts, c.pts)
            XCTAssertTrue(a.image == b.image && a.image == c.image, "frame \(a.index)")
            count += 1
        }
        XCTAssertEqual(count, 25)
        XCTAssertTrue(try fromMemory.nextFrame() == nil)
    }

    func testSourceFailingMidwayReportsFrameNumberAfterUsableFrames() throws {
        // extra-d20 keeps its index (moov) at the front, so the open succeeds and decoding runs
        // until the bytes stop.
        let data = try Data(contentsOf: URL(fileURLWithPath: Fixtures.video("extra-d20.mp4")))
        let decoder = try VideoDecoder(source: FailingByteSource(data: data, failAt: Int64(data.count / 2)), name: "stored:extra")
        var frames = 0
        do {
            while try decoder.nextFrame() != nil { frames += 1 }
            XCTFail("expected the missing chunk to be reported")
        } catch let error as FacetError {
            XCTAssertGreaterThan(frames, 40)
            XCTAssertTrue(error.message.hasPrefix("stored:extra: "), error.message)
            XCTAssertTrue(error.message.contains("frame \(frames) of 175"), error.message)
            XCTAssertTrue(error.message.contains("chunk 7 of the stored video is missing"), error.message)
        }
        XCTAssertTrue(try decoder.nextFrame() == nil, "the error is reported once, then the end")
    }

    func testStillsFolderIsAVideoOfImagesInNaturalOrder() throws {
        let folder = try temporaryFolder(self)
        for (i, name) in ["f10.png", "f2.jpg", "f1.png", ".hidden.png", "notes.txt"].enumerated() {
            var image = Image(width: 20, height: 10, channels: 3)
            for k in image.pixels.indices { image.pixels[k] = UInt8(i * 40) }
            if name.hasSuffix(".txt") {
                try Data("x".utf8).write(to: URL(fileURLWithPath: folder + "/" + name))
            } else {
                try ImageFile.write(image, path: folder + "/" + name)
            }
        }
        let stills = try StillsFolder(path: folder, fps: 10)
        XCTAssertEqual(stills.files.map { ($0 as NSString).lastPathComponent }, ["f1.png", "f2.jpg", "f10.png"])
        XCTAssertEqual(stills.info, VideoInfo(container: "stills", codec: "png", width: 20, height: 10, fps: 10, frameCount: 3, duration: 0.3, hasAudio: false))
        let second = try stills.frame(at: 1)
        XCTAssertEqual(second.pts, 0.1, accuracy: 1e-12)
        XCTAssertEqual(meanColour(second.image)[0], 40, accuracy: 2)
    }

    // MARK: bad input

    func testBadVideoInputsGiveOneLineErrorsNamingTheFile() throws {
        let folder = try temporaryFolder(self)
        assertFacetError(try VideoDecoder(path: folder + "/none.mp4"), contains: [folder + "/none.mp4", "no such file"])
        assertFacetError(try VideoProbe.probe(path: folder), contains: [folder, "folder"])

        let garbage = folder + "/garbage.mp4"
        try Data((0..<5000).map { UInt8(truncatingIfNeeded: $0 &* 7919 &+ 13) }).write(to: URL(fileURLWithPath: garbage))
        assertFacetError(try VideoProbe.probe(path: garbage), contains: [garbage, "not a video"])
        assertFacetError(try VideoDecoder(source: DataByteSource(Data("plain text".utf8)), name: "stored:notes"), contains: ["stored:notes: "])

        // dst-d19 keeps its index at the end: a half copy has none, and cannot be opened.
        let data = try Data(contentsOf: URL(fileURLWithPath: Fixtures.video("dst-d19.mp4")))
        let cut = folder + "/cut.mp4"
        try data.prefix(data.count / 2).write(to: URL(fileURLWithPath: cut))
        assertFacetError(try VideoDecoder(path: cut), contains: [cut, "incomplete"])

        // extra-d20 keeps it at the front: the frames before the cut decode, then the error says where.
        let early = folder + "/early.mp4"
        let front = try Data(contentsOf: URL(fileURLWithPath: Fixtures.video("extra-d20.mp4")))
        try front.prefix(200_000).write(to: URL(fileURLWithPath: early))
        let decoder = try VideoDecoder(path: early)
        var frames = 0
        assertFacetError(try { while try decoder.nextFrame() != nil { frames += 1 } }(), contains: [early, "ends at frame", "of 175", "truncated"])
        XCTAssertGreaterThan(frames, 50)
        XCTAssertLessThan(frames, 175)

        let emptyFolder = folder + "/empty"
        try FileManager.default.createDirectory(atPath: emptyFolder, withIntermediateDirectories: false)
        assertFacetError(try StillsFolder(path: emptyFolder), contains: [emptyFolder, "no images"])
        assertFacetError(try StillsFolder(path: garbage), contains: [garbage, "not a folder"])
    }

    func testNamesWithColonsAreFilesNotProtocols() throws {
        let folder = try temporaryFolder(self)
        // Relative names: "take:2.mp4" would otherwise ask FFmpeg for a protocol called "take".
        let previous = FileManager.default.currentDirectoryPath
        XCTAssertTrue(FileManager.default.changeCurrentDirectoryPath(folder))
        defer { FileManager.default.changeCurrentDirectoryPath(previous) }
        let odd = "take:2.mp4"
        try FileManager.default.copyItem(atPath: Fixtures.video("extra-d20.mp4"), toPath: odd)
        XCTAssertEqual(try VideoProbe.probe(path: odd).frameCount, 175)
        let out = "out:1.mp4"
        let encoder = try VideoEncoder(path: out, width: 16, height: 16, fps: 25, preset: "ultrafast", audioFrom: .file(path: odd))
        try encoder.append(Image(width: 16, height: 16))
        try encoder.finish()
        XCTAssertEqual(try VideoProbe.probe(path: out).frameCount, 1)
    }

    func testFileWhoseReadsFailIsReported() throws {
        // Reading /proc/self/mem at offset 0 fails with EIO, even for root.
        guard FileManager.default.fileExists(atPath: "/proc/self/mem") else { throw XCTSkip("no /proc") }
        assertFacetError(try VideoProbe.probe(path: "/proc/self/mem"), contains: ["/proc/self/mem: ", "Input/output error"])
    }

    func testFileWithoutReadPermissionIsReported() throws {
        guard getuid() != 0 else { throw XCTSkip("root can read any file, so permissions cannot be tested") }
        let folder = try temporaryFolder(self)
        let locked = folder + "/locked.mp4"
        try FileManager.default.copyItem(atPath: Fixtures.video("src-d18.mp4"), toPath: locked)
        chmod(locked, 0)
        assertFacetError(try VideoProbe.probe(path: locked), contains: [locked, "cannot read"])
    }

    func testMadeWithFFmpegAudioOnlyZeroFramesAndOddPixelFormatsAreRefused() throws {
        let folder = try temporaryFolder(self)
        let audio = folder + "/tone.m4a"
        guard let made = try runTool("ffmpeg", ["-v", "error", "-y", "-f", "lavfi", "-i", "sine=duration=1", "-c:a", "aac", audio]) else {
            throw XCTSkip("ffmpeg is not installed")
        }
        XCTAssertEqual(made.status, 0)
        assertFacetError(try VideoProbe.probe(path: audio), contains: [audio, "has no video stream", "audio"])
        assertFacetError(try VideoDecoder(path: audio), contains: [audio, "has no video stream"])

        // A video stream with no pictures in it.
        let empty = folder + "/empty.raw", zero = folder + "/zero.avi"
        try Data().write(to: URL(fileURLWithPath: empty))
        try runTool("ffmpeg", ["-v", "error", "-y", "-f", "rawvideo", "-pix_fmt", "yuv420p", "-s", "32x16", "-r", "5", "-i", empty, "-c:v", "copy", zero])
        assertFacetError(try VideoProbe.probe(path: zero), contains: [zero, "no frames"])
        assertFacetError(try VideoDecoder(path: zero), contains: [zero, "no frames"])

        // Raw video in a pixel layout swscale cannot read (uyyvyy411), stored without conversion.
        let raw = folder + "/odd.raw", odd = folder + "/odd.nut"
        try Data(repeating: 100, count: 32 * 16 * 3 / 2 * 3).write(to: URL(fileURLWithPath: raw))
        try runTool("ffmpeg", ["-v", "error", "-y", "-f", "rawvideo", "-pix_fmt", "uyyvyy411", "-s", "32x16", "-r", "5",
                               "-i", raw, "-c:v", "copy", odd])
        let decoder = try VideoDecoder(path: odd)
        XCTAssertEqual(decoder.info.frameCount, 3)
        assertFacetError(try decoder.nextFrame(), contains: [odd, "unsupported pixel format uyyvyy411", "frame 0"])
    }

    func testRotatedPhoneVideoComesOutUprightLikeFFmpeg() throws {
        let folder = try temporaryFolder(self)
        let plain = folder + "/plain.mp4"
        guard try runTool("ffmpeg", ["-v", "error", "-y", "-i", Fixtures.video("src-d18.mp4"), "-frames:v", "3", "-vf", "scale=96:64",
                                     "-an", "-c:v", "libx264", "-preset", "ultrafast", plain]) != nil else {
            throw XCTSkip("ffmpeg is not installed")
        }
        for rotate in [90, 180, 270] {
            // The rotate tag becomes a display matrix, as phones write it.
            let turned = folder + "/turned\(rotate).mp4"
            try runTool("ffmpeg", ["-v", "error", "-y", "-i", plain, "-c", "copy", "-metadata:s:v:0", "rotate=\(rotate)", turned])
            let decoder = try VideoDecoder(path: turned)
            // ffprobe gives the matrix's counter-clockwise angle (FFmpeg 5.1 writes the tag with the
            // opposite sign, so 90 becomes 90 counter-clockwise); `rotation` is the clockwise turn.
            let probed = try XCTUnwrap(try runTool("ffprobe", ["-v", "error", "-select_streams", "v", "-show_entries",
                                                               "stream_side_data=rotation", "-of", "csv=p=0", turned]))
            let counterClockwise = try XCTUnwrap(Int(probed.output.trimmingCharacters(in: .whitespacesAndNewlines)))
            XCTAssertEqual(decoder.info.rotation, ((-counterClockwise) % 360 + 360) % 360, "rotate \(rotate)")
            XCTAssertEqual([decoder.info.width, decoder.info.height], rotate == 180 ? [96, 64] : [64, 96])
            let ours = try XCTUnwrap(try decoder.nextFrame()).image
            XCTAssertEqual([ours.width, ours.height], [decoder.info.width, decoder.info.height])
            // ffmpeg autorotates by default; the same pixels must come out.
            let theirs = try rawOutput("ffmpeg", ["-v", "error", "-i", turned, "-frames:v", "1", "-f", "rawvideo", "-pix_fmt", "rgb24", "-"])
            XCTAssertEqual(theirs.count, ours.pixels.count)
            let worst = zip(ours.pixels, theirs).map { abs(Int($0) - Int($1)) }.max() ?? 999
            XCTAssertLessThanOrEqual(worst, 4, "rotate \(rotate)")
        }
    }

    func testOtherContainersAndCodecs() throws {
        // Small clips re-encoded from a fixture: Matroska and WebM lack a frame count (packets are
        // counted), AVI carries MPEG-4 Part 2, MOV carries H.264.
        let folder = try temporaryFolder(self)
        let source = Fixtures.video("src-d18.mp4")
        let cases: [(String, [String], String)] = [
            ("clip.mkv", ["-c:v", "libx264", "-preset", "ultrafast"], "h264"),
            ("clip.webm", ["-c:v", "libvpx", "-b:v", "200k"], "vp8"),
            ("clip.avi", ["-c:v", "mpeg4"], "mpeg4"),
            ("clip.mov", ["-c:v", "libx264", "-preset", "ultrafast"], "h264"),
        ]
        for (name, codec, codecName) in cases {
            let out = folder + "/" + name
            guard let made = try runTool("ffmpeg", ["-v", "error", "-y", "-i", source, "-frames:v", "12", "-vf", "scale=96:64", "-an"] + codec + [out]) else {
                throw XCTSkip("ffmpeg is not installed")
            }
            XCTAssertEqual(made.status, 0, name)
            let decoder = try VideoDecoder(path: out)
            XCTAssertEqual(decoder.info.codec, codecName)
            XCTAssertEqual(decoder.info.frameCount, 12, name)
            XCTAssertEqual(try VideoProbe.probe(path: out), decoder.info, name)
            XCTAssertEqual([decoder.info.width, decoder.info.height], [96, 64])
            XCTAssertFalse(decoder.info.hasAudio)
            var frames = 0
            while let frame = try decoder.nextFrame() {
                XCTAssertEqual(frame.pts, Double(frames) / 30, accuracy: 0.002, name)
                frames += 1
            }
            XCTAssertEqual(frames, 12, name)
        }
    }
}

/// The standard output of a tool as bytes.
func rawOutput(_ name: String, _ arguments: [String]) throws -> Data {
    try runCapturingOutput("/usr/bin/env", [name] + arguments).output
}
