/// What a video is (codec, size, rate, exact frame count, audio) without decoding it.
import CFFmpeg
import FacetCore
import Foundation

/// The facts the store records about an imported video.
public struct VideoInfo: Sendable, Equatable {
    /// FFmpeg's demuxer name, e.g. "mov,mp4,m4a,3gp,3g2,mj2" or "matroska,webm"; "stills" for a folder of images.
    public var container: String
    /// FFmpeg's codec name, e.g. "h264"; "png"/"mjpeg" for stills (of the first image).
    public var codec: String
    /// Width in pixels, upright (after `rotation`).
    public var width: Int
    /// Height in pixels, upright (after `rotation`).
    public var height: Int
    /// Frames per second (the stream's average rate; FFmpeg's guess when the container has none).
    public var fps: Double
    /// Exact number of video frames (packets counted when the container does not say).
    public var frameCount: Int
    /// Seconds.
    public var duration: Double
    /// Whether the file has an audio stream (which a merge can copy).
    public var hasAudio: Bool
    /// Degrees clockwise (0, 90, 180, 270) the stored picture is turned to show upright, from the
    /// stream's display matrix (phones record this way). Decoded frames come out upright, and
    /// `width`/`height` are the upright size, as with the ffmpeg command line.
    public var rotation: Int

    /// The facts of a video, field by field (the probe and the stills folder make them).
    public init(container: String, codec: String, width: Int, height: Int, fps: Double, frameCount: Int,
                duration: Double, hasAudio: Bool,
                rotation: Int = 0) {
        self.container = container
        self.codec = codec
        self.width = width
        self.height = height
        self.fps = fps
        self.frameCount = frameCount
        self.duration = duration
        self.hasAudio = hasAudio
        self.rotation = rotation
    }
}

/// Reads the facts of a video file without decoding its frames.
public enum VideoProbe {
    /// Facts about the video file at `path`. Throws when it has no video stream or no frames.
    /// Cost: opening the file, plus one pass over its packets when the container lacks a frame count.
    public static func probe(path: String) throws -> VideoInfo {
        let input = try MediaInput(path: path)
        return try info(of: input, countFrames: { input })
    }

    /// The same, for a video stored elsewhere (e.g. inside the project file).
    public static func probe(source: any RandomAccessByteSource, name: String) throws -> VideoInfo {
        let input = try MediaInput(source: source, name: name)
        return try info(of: input, countFrames: { input })
    }

    /// Checks that every frame the container promises is present, reading packets only (no
    /// decoding, so it costs about as much as reading the file). Throws a one-line error for a
    /// truncated or damaged file; returns the number of video packets.
    @discardableResult
    public static func verifyComplete(path: String) throws -> Int {
        let input = try MediaInput(path: path)
        let info = try info(of: input, countFrames: { input })
        let stream = try input.videoStream()
        let counted: (packets: Int, duration: Double)
        do {
            counted = try countPackets(in: MediaInput(path: path), streamIndex: stream.pointee.index)
        } catch let e as FacetError {
            throw FacetError.file(path,
                                  "is damaged or truncated "
                                  + "(\(e.message.replacingOccurrences(of: path + ": ", with: "")))")
        }
        if counted.packets < info.frameCount {
            throw FacetError.file(path,
                                  "is truncated: it promises \(info.frameCount) frames but only "
                                  + "\(counted.packets) are present")
        }
        return counted.packets
    }

    /// The container's metadata tags (title, comment, description, ...), e.g. to check that a merged
    /// video says it is synthetic.
    public static func tags(path: String) throws -> [String: String] {
        let input = try MediaInput(path: path)
        var tags: [String: String] = [:]
        var entry: UnsafeMutablePointer<AVDictionaryEntry>? = nil
        while let next = ff.av_dict_get(input.context.pointee.metadata, "", entry, AV_DICT_IGNORE_SUFFIX) {
            tags[String(cString: next.pointee.key)] = String(cString: next.pointee.value)
            entry = next
        }
        return tags
    }

    /// Reads facts from an opened input. `countFrames` gives an input positioned at the start (the
    /// same one when the caller is done with it, a fresh one otherwise) for containers such as
    /// Matroska/WebM that do not store a frame count.
    static func info(of input: MediaInput, countFrames: () throws -> MediaInput) throws -> VideoInfo {
        let stream = try input.videoStream()
        let parameters = stream.pointee.codecpar.pointee
        let rate = ff.av_guess_frame_rate(input.context, stream, nil)
        let fps = rate.num > 0 && rate.den > 0 ? Double(rate.num) / Double(rate.den) : 0
        var frameCount = Int(stream.pointee.nb_frames)
        var duration = 0.0
        if stream.pointee.duration != FFmpeg.noTimestamp && stream.pointee.duration > 0 {
            duration = FFmpeg.seconds(stream.pointee.duration, stream.pointee.time_base)
        } else if input.context.pointee.duration != FFmpeg.noTimestamp && input.context.pointee.duration > 0 {
            duration = Double(input.context.pointee.duration) / Double(AV_TIME_BASE)
        }
        if frameCount <= 0 {
            let counted = try countPackets(in: countFrames(), streamIndex: stream.pointee.index)
            frameCount = counted.packets
            if duration == 0 { duration = counted.duration }
        }
        guard frameCount > 0 else { throw FacetError.file(input.name, "has a video stream but no frames") }
        guard parameters.width > 0, parameters.height > 0 else {
            throw FacetError.file(input.name,
                                  "video stream has no picture size (\(parameters.width)x\(parameters.height))")
        }
        let container = input.context.pointee.iformat.map { String(cString: $0.pointee.name) } ?? "unknown"
        let turn = rotation(of: stream)
        let sideways = turn == 90 || turn == 270
        return VideoInfo(container: container, codec: FFmpeg.codecName(parameters.codec_id),
                         width: Int(sideways ? parameters.height : parameters.width),
                         height: Int(sideways ? parameters.width : parameters.height),
                         fps: fps, frameCount: frameCount, duration: duration, hasAudio: input.hasAudio, rotation: turn)
    }

    /// The clockwise turn that shows the stream upright, rounded to a quarter turn the way the
    /// ffmpeg command line's autorotate does.
    static func rotation(of stream: UnsafeMutablePointer<AVStream>) -> Int {
        var size: Int = 0
        guard let data = ff.av_stream_get_side_data(stream, AV_PKT_DATA_DISPLAYMATRIX, &size), size >= 36 else {
            return 0
        }
        let counterClockwise = data.withMemoryRebound(to: Int32.self, capacity: 9) { ff.av_display_rotation_get($0) }
        guard counterClockwise.isFinite else { return 0 }
        let quarter = Int((-counterClockwise / 90).rounded())
        return ((quarter % 4) + 4) % 4 * 90
    }

    /// Video packets in the stream, and the time from the first to the end of the last.
    private static func countPackets(in input: MediaInput, streamIndex: Int32) throws -> (packets: Int,
                                                                                          duration: Double) {
        guard let packet = ff.av_packet_alloc() else { throw FacetError.file(input.name, "out of memory") }
        defer {
            var p: UnsafeMutablePointer<AVPacket>? = packet
            ff.av_packet_free(&p)
        }
        let timeBase = input.context.pointee.streams[Int(streamIndex)]!.pointee.time_base
        var count = 0
        var first = Int64.max, end = Int64.min
        while true {
            let status = ff.av_read_frame(input.context, packet)
            if status == FFmpeg.endOfFile { break }
            if status < 0 { throw input.readError(status, doing: "cannot read packet \(count) while counting frames") }
            if packet.pointee.stream_index == streamIndex {
                count += 1
                if packet.pointee.pts != FFmpeg.noTimestamp {
                    first = min(first, packet.pointee.pts)
                    end = max(end, packet.pointee.pts + packet.pointee.duration)
                }
            }
            ff.av_packet_unref(packet)
        }
        let duration = end > first ? FFmpeg.seconds(end - first, timeBase) : 0
        return (count, duration)
    }
}
