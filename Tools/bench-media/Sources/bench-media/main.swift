/// Times FacetMedia's video decode and encode against the ffmpeg command line in the same run.
import FacetCore
import FacetMedia
import Foundation

struct Options {
    var reps = 5
    var encodeReps = 4
    var preset = "medium"
    var crf = 18
    var encodeVideo: String?
    /// Child mode: encode raw RGB frames from this file, the way ffmpeg reads them, then exit.
    var encodeRaw: (path: String, width: Int, height: Int, fps: Double, out: String)?
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
        case "--encode-raw":
            let parts = args.removeFirst().split(separator: ",").map(String.init)  // RAW,W,H,FPS,OUT
            options.encodeRaw = (parts[0], Int(parts[1])!, Int(parts[2])!, Double(parts[3])!, parts[4])
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

/// CPU seconds (user + system, all threads) this process has used: under load from other
/// processes, CPU time says how much work each side does when wall time is noisy.
func cpuTime() -> Double {
    var usage = rusage()
    getrusage(RUSAGE_SELF.rawValue, &usage)
    return Double(usage.ru_utime.tv_sec) + Double(usage.ru_utime.tv_usec) * 1e-6 + Double(usage.ru_stime.tv_sec) + Double(usage.ru_stime.tv_usec) * 1e-6
}

func benchField(_ name: String, in text: String) -> Double? {
    guard let range = text.range(of: name + "="), let end = text[range.upperBound...].firstIndex(of: "s") else { return nil }
    return Double(text[range.upperBound..<end])
}

/// Runs ffmpeg with -benchmark; returns (wall seconds of the process, its own "rtime": the
/// transcode without process start and input probing, and its CPU time: utime + stime).
func timeFFmpeg(_ arguments: [String]) throws -> (wall: Double, transcode: Double, cpu: Double) {
    try timeProcess("/usr/bin/env", ["ffmpeg", "-hide_banner", "-nostats", "-benchmark"] + arguments, timesOnStandardError: true)
}

/// Runs a program that prints ffmpeg-style "rtime=..s utime=..s stime=..s"; its wall time and those.
func timeProcess(_ executable: String, _ arguments: [String], timesOnStandardError: Bool) throws -> (wall: Double, transcode: Double, cpu: Double) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    let pipe = Pipe()
    if timesOnStandardError {
        process.standardError = pipe
        process.standardOutput = FileHandle.nullDevice
    } else {
        process.standardOutput = pipe
    }
    let start = now()
    try process.run()
    let text = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    process.waitUntilExit()
    let wall = now() - start
    guard process.terminationStatus == 0 else { throw FacetError("\(arguments.joined(separator: " ")) failed:\n\(text)") }
    guard let rtime = benchField("rtime", in: text), let utime = benchField("utime", in: text), let stime = benchField("stime", in: text) else {
        throw FacetError("no rtime/utime/stime in the output of \(arguments.joined(separator: " ")):\n\(text)")
    }
    return (wall, rtime, utime + stime)
}

func ratio(_ ours: Double, _ theirs: Double) -> String { String(format: "%.2fx", ours / theirs) }
func pad(_ s: String, _ n: Int) -> String { s.count >= n ? s : s + String(repeating: " ", count: n - s.count) }

/// Encodes raw RGB frames read from a file one at a time, as ffmpeg does, in a process of its own,
/// so both encoders start from the same state (a fresh process reading the same file).
func encodeRawFrames(_ job: (path: String, width: Int, height: Int, fps: Double, out: String), preset: String, crf: Int) throws {
    let start = now()
    let startCPU = cpuTime()
    let fd = open(job.path, O_RDONLY)
    guard fd >= 0 else { throw FacetError.file(job.path, "cannot open") }
    defer { close(fd) }
    let encoder = try VideoEncoder(path: job.out, width: job.width, height: job.height, fps: job.fps, crf: crf, preset: preset)
    // One frame buffer reused, as ffmpeg reuses its packet buffers.
    var image = Image(width: job.width, height: job.height, channels: 3)
    while true {
        let complete = image.pixels.withUnsafeMutableBytes { buffer -> Bool in
            var filled = 0
            while filled < buffer.count {
                let n = read(fd, buffer.baseAddress! + filled, buffer.count - filled)
                if n <= 0 { return false }
                filled += n
            }
            return true
        }
        guard complete else { break }
        try encoder.append(image)
    }
    try encoder.finish()
    print("rtime=\(now() - start)s utime=\(cpuTime() - startCPU)s stime=0s")
}

let options = parseOptions()
if let job = options.encodeRaw {
    do { try encodeRawFrames(job, preset: options.preset, crf: options.crf) } catch {
        FileHandle.standardError.write(Data("bench-media: \(error)\n".utf8))
        exit(1)
    }
    exit(0)
}
do {
    print("FacetMedia decode to RGB, best of \(options.reps) (frames/s)")
    print("  ffmpeg = `ffmpeg -i VIDEO -f rawvideo -pix_fmt rgb24 -y /dev/null`; 'process' is its wall time,")
    print("  'transcode' its own -benchmark rtime (no process start or input probing); Facet's time includes opening.")
    print("  " + pad("video", 16) + pad("frames", 8) + pad("facet", 10) + pad("ffmpeg process", 16) + pad("ffmpeg transcode", 18) + "facet/process  facet/transcode")
    var cpuRows: [String] = []
    for video in options.videos {
        var bestOurs = Double.infinity, bestWall = Double.infinity, bestTranscode = Double.infinity
        var oursCPU = Double.infinity, theirsCPU = Double.infinity
        var frames = 0
        var checksum = 0
        func decodeWithFacet() throws {
            let startCPU = cpuTime()
            let start = now()
            let decoder = try VideoDecoder(path: video)
            var count = 0
            while let frame = try decoder.nextFrame() {
                count += 1
                checksum &+= Int(frame.image.pixels[frame.image.pixels.count / 2])
            }
            bestOurs = min(bestOurs, now() - start)
            oursCPU = min(oursCPU, cpuTime() - startCPU)
            frames = count
        }
        func decodeWithFFmpeg() throws {
            let ffmpeg = try timeFFmpeg(["-i", video, "-f", "rawvideo", "-pix_fmt", "rgb24", "-y", "/dev/null"])
            bestWall = min(bestWall, ffmpeg.wall)
            bestTranscode = min(bestTranscode, ffmpeg.transcode)
            theirsCPU = min(theirsCPU, ffmpeg.cpu)
        }
        // Each side goes first on alternate rounds, so a change in the machine's load hits both.
        for round in 0..<options.reps {
            if round % 2 == 0 { try decodeWithFacet(); try decodeWithFFmpeg() } else { try decodeWithFFmpeg(); try decodeWithFacet() }
        }
        cpuRows.append("  " + pad((video as NSString).lastPathComponent, 16) + String(format: "facet %.3f s, ffmpeg %.3f s", oursCPU, theirsCPU)
                       + " (ffmpeg/facet \(ratio(theirsCPU, oursCPU)))")
        let ours = Double(frames) / bestOurs, wall = Double(frames) / bestWall, transcode = Double(frames) / bestTranscode
        print("  " + pad((video as NSString).lastPathComponent, 16) + pad("\(frames)", 8) + pad(String(format: "%.0f", ours), 10)
              + pad(String(format: "%.0f", wall), 16) + pad(String(format: "%.0f", transcode), 18)
              + pad(ratio(ours, wall), 15) + ratio(ours, transcode) + (checksum == -1 ? "!" : ""))
    }

    if !cpuRows.isEmpty {
        print("  CPU seconds (all threads), the work done whatever the machine's load; above 1 means Facet does less:")
        cpuRows.forEach { print($0) }
    }

    if let video = options.encodeVideo {
        // Frames decoded once and written raw; both encoders read that file in a fresh process, so
        // they encode the same RGB pictures and neither pays for decoding.
        let decoder = try VideoDecoder(path: video)
        var images: [Image] = []
        while let frame = try decoder.nextFrame() { images.append(frame.image) }
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("bench-media-\(getpid())").path
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let raw = folder + "/frames.rgb"
        do {
            var bytes = Data(capacity: images.count * images[0].pixels.count)
            for image in images { bytes.append(contentsOf: image.pixels) }
            try bytes.write(to: URL(fileURLWithPath: raw))
        }
        let n = Double(images.count)
        images = []
        let info = decoder.info
        let rate = String(format: "%.6f", info.fps)
        print("")
        print("FacetMedia encode RGB to H.264 mp4 (libx264 preset \(options.preset), crf \(options.crf)), \(Int(n)) frames \(info.width)x\(info.height), best of \(options.encodeReps) (frames/s)")
        print("  ffmpeg = `ffmpeg -f rawvideo -pix_fmt rgb24 -s WxH -r FPS -i frames.rgb -c:v libx264 -preset \(options.preset) -crf \(options.crf) -pix_fmt yuv420p OUT.mp4`")
        var bestOurs = Double.infinity, bestWall = Double.infinity, bestTranscode = Double.infinity
        var oursCPU = Double.infinity, theirsCPU = Double.infinity, bestOursEncode = Double.infinity
        var oursSize = 0, theirsSize = 0
        func encodeWithFacet() throws {
            let out = folder + "/facet.mp4"
            let child = try timeProcess(CommandLine.arguments[0], ["--preset", options.preset, "--crf", "\(options.crf)",
                                                                   "--encode-raw", "\(raw),\(info.width),\(info.height),\(info.fps),\(out)"],
                                        timesOnStandardError: false)
            bestOurs = min(bestOurs, child.wall)
            bestOursEncode = min(bestOursEncode, child.transcode)
            oursCPU = min(oursCPU, child.cpu)
            oursSize = (try FileManager.default.attributesOfItem(atPath: out)[.size] as? Int) ?? 0
        }
        func encodeWithFFmpeg() throws {
            let theirs = folder + "/ffmpeg.mp4"
            let ffmpeg = try timeFFmpeg(["-f", "rawvideo", "-pix_fmt", "rgb24", "-s", "\(info.width)x\(info.height)", "-r", rate, "-i", raw,
                                         "-c:v", "libx264", "-preset", options.preset, "-crf", "\(options.crf)", "-pix_fmt", "yuv420p", "-y", theirs])
            bestWall = min(bestWall, ffmpeg.wall)
            bestTranscode = min(bestTranscode, ffmpeg.transcode)
            theirsCPU = min(theirsCPU, ffmpeg.cpu)
            theirsSize = (try FileManager.default.attributesOfItem(atPath: theirs)[.size] as? Int) ?? 0
        }
        // Each side goes first on alternate rounds, so a change in the machine's load hits both.
        for round in 0..<options.encodeReps {
            if round % 2 == 0 { try encodeWithFacet(); try encodeWithFFmpeg() } else { try encodeWithFFmpeg(); try encodeWithFacet() }
        }
        func fps(_ seconds: Double) -> String { String(format: "%.1f", n / seconds) }
        print("  Both run as fresh processes reading the same raw file; 'process' is wall time, 'encode' the time")
        print("  from opening the input to the finished file (ffmpeg's -benchmark rtime), 'CPU' user+system of all threads.")
        print("  facet:  process \(fps(bestOurs)) fps, encode \(fps(bestOursEncode)) fps, CPU \(String(format: "%.2f", oursCPU)) s, \(oursSize) bytes")
        print("  ffmpeg: process \(fps(bestWall)) fps, encode \(fps(bestTranscode)) fps, CPU \(String(format: "%.2f", theirsCPU)) s, \(theirsSize) bytes")
        print("  facet/ffmpeg: process \(ratio(bestWall, bestOurs)), encode \(ratio(bestTranscode, bestOursEncode)), CPU work \(ratio(theirsCPU, oursCPU)) (above 1: Facet faster / less work)")
    }
} catch {
    FileHandle.standardError.write(Data("bench-media: \(error)\n".utf8))
    exit(1)
}
