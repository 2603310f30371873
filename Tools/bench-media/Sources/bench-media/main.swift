/// Times FacetMedia's video decode and encode against the ffmpeg command line in the same run.
import FacetCore
import FacetMedia
import Foundation

struct Options {
    var reps = 5
    var encodeReps = 2
    var preset = "medium"
    var crf = 18
    var encodeVideo: String?
    var videos: [String] = []
}

func parseOptions() -> Options {
    var options = Options()
    var args = Array(CommandLine.arguments.dropFirst())
    while !args.isEmpty {
        let a = args.removeFirst()
        switch a {
        case "--reps": options.reps = Int(args.removeFirst()) ?? options.reps
        case "--encode-reps": options.encodeReps = Int(args.removeFirst()) ?? options.encodeReps
        case "--preset": options.preset = args.removeFirst()
        case "--crf": options.crf = Int(args.removeFirst()) ?? options.crf
        case "--encode": options.encodeVideo = args.removeFirst()
        default: options.videos.append(a)
        }
    }
    return options
}

func now() -> Double {
    var t = timespec()
    clock_gettime(CLOCK_MONOTONIC, &t)
    return Double(t.tv_sec) + Double(t.tv_nsec) * 1e-9
}

/// Runs ffmpeg with -benchmark; returns (wall seconds of the process, its own "rtime": the
/// transcode without process start and input probing).
func timeFFmpeg(_ arguments: [String]) throws -> (wall: Double, transcode: Double) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = ["ffmpeg", "-hide_banner", "-nostats", "-benchmark"] + arguments
    let pipe = Pipe()
    process.standardError = pipe
    process.standardOutput = FileHandle.nullDevice
    let start = now()
    try process.run()
    let text = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    process.waitUntilExit()
    let wall = now() - start
    guard process.terminationStatus == 0 else { throw FacetError("ffmpeg \(arguments.joined(separator: " ")) failed:\n\(text)") }
    guard let range = text.range(of: "rtime="), let end = text[range.upperBound...].firstIndex(of: "s"),
          let rtime = Double(text[range.upperBound..<end]) else { throw FacetError("no rtime in ffmpeg output:\n\(text)") }
    return (wall, rtime)
}

func ratio(_ ours: Double, _ theirs: Double) -> String { String(format: "%.2fx", ours / theirs) }
func pad(_ s: String, _ n: Int) -> String { s.count >= n ? s : s + String(repeating: " ", count: n - s.count) }

let options = parseOptions()
do {
    print("FacetMedia decode to RGB, best of \(options.reps) (frames/s)")
    print("  ffmpeg = `ffmpeg -i VIDEO -f rawvideo -pix_fmt rgb24 -y /dev/null`; 'process' is its wall time,")
    print("  'transcode' its own -benchmark rtime (no process start or input probing); Facet's time includes opening.")
    print("  " + pad("video", 16) + pad("frames", 8) + pad("facet", 10) + pad("ffmpeg process", 16) + pad("ffmpeg transcode", 18) + "facet/process  facet/transcode")
    for video in options.videos {
        var bestOurs = Double.infinity, bestWall = Double.infinity, bestTranscode = Double.infinity
        var frames = 0
        var checksum = 0
        // Alternate the two so both see the same machine state.
        for _ in 0..<options.reps {
            let start = now()
            let decoder = try VideoDecoder(path: video)
            var count = 0
            while let frame = try decoder.nextFrame() {
                count += 1
                checksum &+= Int(frame.image.pixels[frame.image.pixels.count / 2])
            }
            bestOurs = min(bestOurs, now() - start)
            frames = count
            let ffmpeg = try timeFFmpeg(["-i", video, "-f", "rawvideo", "-pix_fmt", "rgb24", "-y", "/dev/null"])
            bestWall = min(bestWall, ffmpeg.wall)
            bestTranscode = min(bestTranscode, ffmpeg.transcode)
        }
        let ours = Double(frames) / bestOurs, wall = Double(frames) / bestWall, transcode = Double(frames) / bestTranscode
        print("  " + pad((video as NSString).lastPathComponent, 16) + pad("\(frames)", 8) + pad(String(format: "%.0f", ours), 10)
              + pad(String(format: "%.0f", wall), 16) + pad(String(format: "%.0f", transcode), 18)
              + pad(ratio(ours, wall), 15) + ratio(ours, transcode) + (checksum == -1 ? "!" : ""))
    }

    if let video = options.encodeVideo {
        // Frames decoded once, kept in memory for Facet and written raw for ffmpeg, so both encode
        // the same RGB pictures and neither pays for decoding.
        let decoder = try VideoDecoder(path: video)
        var images: [Image] = []
        while let frame = try decoder.nextFrame() { images.append(frame.image) }
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("bench-media-\(getpid())").path
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let raw = folder + "/frames.rgb"
        var bytes = Data(capacity: images.count * images[0].pixels.count)
        for image in images { bytes.append(contentsOf: image.pixels) }
        try bytes.write(to: URL(fileURLWithPath: raw))
        let info = decoder.info
        let rate = String(format: "%.6f", info.fps)
        print("")
        print("FacetMedia encode RGB to H.264 mp4 (libx264 preset \(options.preset), crf \(options.crf)), \(images.count) frames \(info.width)x\(info.height), best of \(options.encodeReps) (frames/s)")
        print("  ffmpeg = `ffmpeg -f rawvideo -pix_fmt rgb24 -s WxH -r FPS -i frames.rgb -c:v libx264 -preset \(options.preset) -crf \(options.crf) -pix_fmt yuv420p OUT.mp4`")
        var bestOurs = Double.infinity, bestWall = Double.infinity, bestTranscode = Double.infinity
        var oursSize = 0, theirsSize = 0
        for _ in 0..<options.encodeReps {
            let out = folder + "/facet.mp4"
            let start = now()
            let encoder = try VideoEncoder(path: out, width: info.width, height: info.height, fps: info.fps, crf: options.crf, preset: options.preset)
            for image in images { try encoder.append(image) }
            try encoder.finish()
            bestOurs = min(bestOurs, now() - start)
            oursSize = (try FileManager.default.attributesOfItem(atPath: out)[.size] as? Int) ?? 0
            let theirs = folder + "/ffmpeg.mp4"
            let ffmpeg = try timeFFmpeg(["-f", "rawvideo", "-pix_fmt", "rgb24", "-s", "\(info.width)x\(info.height)", "-r", rate, "-i", raw,
                                         "-c:v", "libx264", "-preset", options.preset, "-crf", "\(options.crf)", "-pix_fmt", "yuv420p", "-y", theirs])
            bestWall = min(bestWall, ffmpeg.wall)
            bestTranscode = min(bestTranscode, ffmpeg.transcode)
            theirsSize = (try FileManager.default.attributesOfItem(atPath: theirs)[.size] as? Int) ?? 0
        }
        let n = Double(images.count)
        print("  facet \(String(format: "%.1f", n / bestOurs)) fps (\(oursSize) bytes), ffmpeg process \(String(format: "%.1f", n / bestWall)) fps, "
              + "ffmpeg transcode \(String(format: "%.1f", n / bestTranscode)) fps (\(theirsSize) bytes); "
              + "facet/process \(ratio(n / bestOurs, n / bestWall)), facet/transcode \(ratio(n / bestOurs, n / bestTranscode))")
    }
} catch {
    FileHandle.standardError.write(Data("bench-media: \(error)\n".utf8))
    exit(1)
}
