/// Encoding H.264 mp4 files, read back by ffprobe and by our own decoder.
import FacetCore
@testable import FacetMedia
import Foundation
import XCTest

final class VideoEncodeTests: XCTestCase {
    /// Frame `i` of a test clip: a moving gradient with a level that changes per frame, so frames
    /// are told apart by their mean colour.
    private func clipFrame(_ i: Int, width: Int, height: Int) -> Image {
        var image = Image(width: width, height: height, channels: 3)
        for y in 0..<height {
            for x in 0..<width {
                image[x, y, 0] = UInt8((x * 2 + i * 3) & 0xFF)
                image[x, y, 1] = UInt8(40 + i * 4)
                image[x, y, 2] = UInt8((y * 3) & 0xFF)
            }
        }
        return image
    }

    private func ffprobe(_ arguments: [String]) throws -> [String: String]? {
        guard let result = try runTool("ffprobe", ["-v", "error", "-of", "default=nw=1"] + arguments) else { return nil }
        var fields: [String: String] = [:]
        for line in result.output.split(separator: "\n") {
            let parts = line.split(separator: "=", maxSplits: 1).map(String.init)
            if parts.count == 2, fields[parts[0]] == nil { fields[parts[0]] = parts[1] }
        }
        return fields
    }

    func testEncodedMP4KeepsEveryFrameTheAudioAndTheTags() throws {
        let folder = try temporaryFolder(self)
        let out = folder + "/swapped.mp4"
        let tag = "synthetic media: face-swapped with Facet"
        let encoder = try VideoEncoder(path: out, width: 64, height: 48, fps: 30, crf: 18, preset: "veryfast",
                                       metadata: ["comment": tag, "description": tag], audioFrom: .file(path: Fixtures.video("dst-d19.mp4")))
        XCTAssertTrue(encoder.copiesAudio)
        let frames = 40
        for i in 0..<frames { try encoder.append(clipFrame(i, width: 64, height: 48)) }
        XCTAssertFalse(FileManager.default.fileExists(atPath: out), "the file appears only when finished")
        try encoder.finish()
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: folder), ["swapped.mp4"], "no temporary file left")

        // Our own reading: every frame, in order, with its colour.
        let info = try VideoProbe.probe(path: out)
        XCTAssertEqual(info.codec, "h264")
        XCTAssertEqual([info.width, info.height, info.frameCount], [64, 48, frames])
        XCTAssertEqual(info.fps, 30, accuracy: 1e-9)
        XCTAssertTrue(info.hasAudio)
        XCTAssertEqual(try VideoProbe.tags(path: out)["comment"], tag)
        let decoder = try VideoDecoder(path: out)
        var count = 0
        while let frame = try decoder.nextFrame() {
            XCTAssertEqual(frame.pts, Double(count) / 30, accuracy: 1e-6)
            let expected = meanColour(clipFrame(count, width: 64, height: 48)), got = meanColour(frame.image)
            for c in 0..<3 { XCTAssertEqual(got[c], expected[c], accuracy: 3, "frame \(count) channel \(c)") }
            count += 1
        }
        XCTAssertEqual(count, frames)

        // ffprobe's reading: frame count by decoding, yuv420p, the whole audio stream copied, the tags.
        guard let video = try ffprobe(["-count_frames", "-select_streams", "v:0", "-show_entries",
                                       "stream=codec_name,pix_fmt,nb_read_frames,nb_frames,avg_frame_rate,duration", out]) else {
            throw XCTSkip("ffprobe is not installed")
        }
        XCTAssertEqual(video["codec_name"], "h264")
        XCTAssertEqual(video["pix_fmt"], "yuv420p")
        XCTAssertEqual(video["nb_read_frames"], "\(frames)")
        XCTAssertEqual(video["nb_frames"], "\(frames)")
        XCTAssertEqual(video["avg_frame_rate"], "30/1")
        // With packet durations set, the last frame keeps its time: 40 frames last 4/3 s.
        XCTAssertEqual(Double(video["duration"] ?? "") ?? 0, Double(frames) / 30, accuracy: 0.001)
        let audio = try XCTUnwrap(try ffprobe(["-count_packets", "-select_streams", "a:0", "-show_entries", "stream=codec_name,nb_read_packets", out]))
        let sourceAudio = try XCTUnwrap(try ffprobe(["-count_packets", "-select_streams", "a:0", "-show_entries", "stream=nb_read_packets",
                                                      Fixtures.video("dst-d19.mp4")]))
        XCTAssertEqual(audio["codec_name"], "aac")
        XCTAssertEqual(audio["nb_read_packets"], sourceAudio["nb_read_packets"])
        let tags = try XCTUnwrap(try ffprobe(["-show_entries", "format_tags=comment,description", out]))
        XCTAssertEqual(tags["TAG:comment"], tag)
        XCTAssertEqual(tags["TAG:description"], tag)
    }

    func testFractionalRateAudioFromAByteSourceAndNoAudio() throws {
        let folder = try temporaryFolder(self)
        let out = folder + "/ntsc.mp4"
        let source = try FileByteSource(path: Fixtures.video("extra-d20.mp4"))
        let encoder = try VideoEncoder(path: out, width: 32, height: 32, fps: 30000.0 / 1001.0, preset: "ultrafast",
                                       audioFrom: .source(source, name: "stored:extra"))
        for i in 0..<5 { try encoder.append(clipFrame(i, width: 32, height: 32)) }
        try encoder.finish()
        let info = try VideoProbe.probe(path: out)
        XCTAssertEqual(info.fps, 30000.0 / 1001.0, accuracy: 1e-9)
        XCTAssertEqual(info.frameCount, 5)
        XCTAssertTrue(info.hasAudio)

        // A source without audio gives a video without audio, not an error.
        let silentSource = folder + "/silent.mp4"
        let first = try VideoEncoder(path: silentSource, width: 32, height: 32, fps: 25, preset: "ultrafast")
        XCTAssertFalse(first.copiesAudio)
        try first.append(clipFrame(0, width: 32, height: 32).grey())
        try first.append(clipFrame(1, width: 32, height: 32))
        try first.finish()
        let second = try VideoEncoder(path: folder + "/silent2.mp4", width: 32, height: 32, fps: 25, preset: "ultrafast",
                                      audioFrom: .file(path: silentSource))
        XCTAssertFalse(second.copiesAudio)
        try second.append(clipFrame(0, width: 32, height: 32))
        try second.finish()
        XCTAssertFalse(try VideoProbe.probe(path: folder + "/silent2.mp4").hasAudio)
    }

    func testAudioThatMP4CannotHoldGoesIntoMatroska() throws {
        let folder = try temporaryFolder(self)
        let pcm = folder + "/pcm.avi"
        guard let made = try runTool("ffmpeg", ["-v", "error", "-y", "-f", "lavfi", "-i", "testsrc=size=32x32:rate=10:duration=1",
                                                "-f", "lavfi", "-i", "sine=duration=1", "-c:v", "mpeg4", "-c:a", "pcm_s16le", pcm]) else {
            throw XCTSkip("ffmpeg is not installed")
        }
        XCTAssertEqual(made.status, 0)
        assertFacetError(try VideoEncoder(path: folder + "/out.mp4", width: 32, height: 32, fps: 10, audioFrom: .file(path: pcm)),
                         contains: [folder + "/out.mp4", "pcm_s16le", ".mkv"])
        let mkv = folder + "/out.mkv"
        let encoder = try VideoEncoder(path: mkv, width: 32, height: 32, fps: 10, preset: "ultrafast", audioFrom: .file(path: pcm))
        for i in 0..<10 { try encoder.append(clipFrame(i, width: 32, height: 32)) }
        try encoder.finish()
        let info = try VideoProbe.probe(path: mkv)
        XCTAssertEqual([info.frameCount, info.width], [10, 32])
        XCTAssertTrue(info.hasAudio)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: folder).sorted(), ["out.mkv", "pcm.avi"])
    }

    func testEncoderRefusesBadSettingsAndFrames() throws {
        let folder = try temporaryFolder(self)
        let out = folder + "/x.mp4"
        assertFacetError(try VideoEncoder(path: out, width: 63, height: 48, fps: 30), contains: [out, "even", "63x48"])
        assertFacetError(try VideoEncoder(path: out, width: 64, height: 48, fps: 30, preset: "warp"), contains: [out, "preset 'warp'"])
        assertFacetError(try VideoEncoder(path: out, width: 64, height: 48, fps: 0), contains: [out, "frame rate"])
        assertFacetError(try VideoEncoder(path: folder + "/x.qqq", width: 64, height: 48, fps: 30), contains: [".qqq"])
        assertFacetError(try VideoEncoder(path: folder + "/missing/x.mp4", width: 64, height: 48, fps: 30), contains: ["missing/x.mp4", "cannot create"])
        assertFacetError(try VideoEncoder(path: out, width: 64, height: 48, fps: 30, audioFrom: .file(path: folder + "/none.mp4")),
                         contains: [folder + "/none.mp4", "no such file"])
        let encoder = try VideoEncoder(path: out, width: 64, height: 48, fps: 30, preset: "ultrafast")
        assertFacetError(try encoder.finish(), contains: [out, "no frames"])
        assertFacetError(try encoder.append(Image(width: 32, height: 48)), contains: [out, "frame 0 is 32x48", "64x48"])
        try encoder.append(Image(width: 64, height: 48))
        try encoder.finish()
        assertFacetError(try encoder.append(Image(width: 64, height: 48)), contains: [out, "finished"])
        XCTAssertEqual(try VideoProbe.probe(path: out).frameCount, 1)
    }

    func testAbandonedEncoderLeavesNoFile() throws {
        let folder = try temporaryFolder(self)
        do {
            let encoder = try VideoEncoder(path: folder + "/gone.mp4", width: 32, height: 32, fps: 30, preset: "ultrafast")
            try encoder.append(Image(width: 32, height: 32))
        }
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: folder), [])
    }
}
