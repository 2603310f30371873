/// Writing H.264 (libx264) video with an optional audio stream copied, unchanged, from another video.
import CFFmpeg
import FacetCore
import Foundation

/// Where the encoder copies audio from: usually the destination video the frames came from.
public enum AudioSource {
    case file(path: String)
    case source(any RandomAccessByteSource, name: String)
}

/// Encodes RGB frames to an H.264 yuv420p video (mp4, mov or mkv by the path's extension), copying
/// the first audio stream of `audioFrom` (or the slice of it under `audioSpan`) without re-encoding.
/// The file appears at `path` only when `finish()` succeeds: until then it is written beside it
/// under a hidden temporary name.
///
/// Cost per frame: one swscale RGB to YUV conversion and libx264's encode (its own threads).
public final class VideoEncoder {
    /// libx264's presets, fastest first.
    public static let presets = ["ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow", "slower",
                                 "veryslow", "placebo"]

    /// Where the finished video appears (when `finish()` succeeds).
    public let path: String
    /// Frame width in pixels; every frame written must have it.
    public let width: Int
    /// Frame height in pixels; every frame written must have it.
    public let height: Int
    /// Whether an audio stream is being copied (false when `audioFrom` has none).
    public var copiesAudio: Bool { audio != nil }
    /// How many frames have been written so far.
    public private(set) var framesWritten = 0

    private let temporaryPath: String
    private var output: UnsafeMutablePointer<AVFormatContext>?
    private var codec: UnsafeMutablePointer<AVCodecContext>?
    private let videoStream: UnsafeMutablePointer<AVStream>
    private var frame: UnsafeMutablePointer<AVFrame>?
    private var packet: UnsafeMutablePointer<AVPacket>?
    /// RGB to BT.601 limited-range YUV: swscale's defaults, which the stream's colour tags declare.
    private let converter = PixelConverter()
    private var audio: AudioCopy?
    private var finished = false
    private var headerWritten = false

    /// Opens the output. `fps` may be fractional (29.97 is stored as 30000/1001); `crf` is libx264's
    /// quality (0 lossless ... 51 worst, 18 visually lossless); `metadata` goes into the container
    /// (e.g. ["comment": "synthetic media: face-swapped with Facet"]). `audioSpan` (seconds from the
    /// first video frame of `audioFrom`) copies only the audio packets that overlap it, moved to start
    /// at 0: the sound of a slice of frames (packet-exact, so within one audio packet, ~23 ms for AAC).
    public init(path: String, width: Int, height: Int, fps: Double, crf: Int = 18, preset: String = "medium",
                metadata: [String: String] = [:], audioFrom: AudioSource? = nil,
                audioSpan: Range<Double>? = nil) throws {
        try FFmpeg.load()
        self.path = path
        self.width = width
        self.height = height
        guard width > 0, height > 0, width % 2 == 0, height % 2 == 0 else {
            throw FacetError.file(path, "H.264 yuv420p needs even width and height, got \(width)x\(height)")
        }
        guard fps > 0, fps.isFinite else { throw FacetError.file(path, "frame rate must be positive, got \(fps)") }
        guard (0...51).contains(crf) else { throw FacetError.file(path, "crf must be 0...51, got \(crf)") }
        guard Self.presets.contains(preset) else {
            throw FacetError.file(path,
                                  "unknown x264 preset '\(preset)' "
                                  + "(use one of \(Self.presets.joined(separator: ", ")))")
        }
        let url = URL(fileURLWithPath: path)
        temporaryPath = url.deletingLastPathComponent()
            .appendingPathComponent(".\(url.lastPathComponent).partial-\(getpid())").path + "." + url.pathExtension

        var context: UnsafeMutablePointer<AVFormatContext>?
        // The format comes from the final name; the bytes go to the temporary one.
        guard ff.avformat_alloc_output_context2(&context, nil, nil, path) >= 0, let context else {
            throw FacetError.file(path, "unknown video file extension '.\(url.pathExtension)' (use .mp4)")
        }
        output = context
        // The muxer reopens its url to move the index to the front (faststart): point it at the bytes.
        ff.av_free(context.pointee.url)
        context.pointee.url = ff.av_strdup("file:" + temporaryPath)
        guard let encoder = ff.avcodec_find_encoder_by_name("libx264") else {
            ff.avformat_free_context(context)
            output = nil
            throw FacetError.file(path, "this FFmpeg has no libx264 encoder")
        }
        guard ff.avformat_query_codec(context.pointee.oformat, AV_CODEC_ID_H264, FF_COMPLIANCE_NORMAL) == 1,
              let stream = ff.avformat_new_stream(context, nil) else {
            ff.avformat_free_context(context)
            output = nil
            throw FacetError.file(path, "the '.\(url.pathExtension)' format cannot hold H.264 video (use .mp4)")
        }
        videoStream = stream
        // Every stored property is set from here on, so a throw runs deinit, which frees what was made.
        if let audioFrom { audio = try AudioCopy(from: audioFrom, span: audioSpan, into: context, outputName: path) }

        let rate = ff.av_d2q(fps, 1_001_000)
        try openVideoEncoder(encoder, rate: rate, crf: crf, preset: preset)
        for (key, value) in metadata { ff.av_dict_set(&context.pointee.metadata, key, value, 0) }

        var status = ff.avio_open(&context.pointee.pb, "file:" + temporaryPath, AVIO_FLAG_WRITE)
        guard status >= 0 else { throw FacetError.file(path, "cannot create the file (\(FFmpeg.errorText(status)))") }
        var options: OpaquePointer?
        // The index goes in front so the video plays (e.g. in the gallery) before it fully loads.
        if ["mp4", "mov", "m4v"].contains(url.pathExtension.lowercased()) {
            ff.av_dict_set(&options, "movflags", "+faststart", 0)
        }
        status = ff.avformat_write_header(context, &options)
        ff.av_dict_free(&options)
        guard status >= 0 else {
            throw FacetError.file(path, "cannot write the video header (\(FFmpeg.errorText(status)))")
        }
        headerWritten = true
    }

    private func openVideoEncoder(_ encoder: UnsafePointer<AVCodec>, rate: AVRational, crf: Int,
                                  preset: String) throws {
        guard let output, let codec = ff.avcodec_alloc_context3(encoder), let frame = ff.av_frame_alloc(),
              let packet = ff.av_packet_alloc() else {
            throw FacetError.file(path, "out of memory opening the encoder")
        }
        self.codec = codec
        self.frame = frame
        self.packet = packet
        codec.pointee.width = Int32(width)
        codec.pointee.height = Int32(height)
        codec.pointee.pix_fmt = AV_PIX_FMT_YUV420P
        codec.pointee.framerate = rate
        codec.pointee.time_base = AVRational(num: rate.den, den: rate.num)
        codec.pointee.sample_aspect_ratio = AVRational(num: 1, den: 1)
        // swscale converts RGB with the BT.601 matrix into limited range: say so, so players agree.
        codec.pointee.colorspace = AVCOL_SPC_SMPTE170M
        codec.pointee.color_range = AVCOL_RANGE_MPEG
        codec.pointee.thread_count = 0
        if output.pointee.oformat.pointee.flags & AVFMT_GLOBALHEADER != 0 {
            codec.pointee.flags |= Int32(AV_CODEC_FLAG_GLOBAL_HEADER)
        }
        ff.av_opt_set(codec.pointee.priv_data, "preset", preset, 0)
        ff.av_opt_set(codec.pointee.priv_data, "crf", String(crf), 0)
        var status = ff.avcodec_open2(codec, encoder, nil)
        guard status >= 0 else {
            throw FacetError.file(path, "cannot open the libx264 encoder (\(FFmpeg.errorText(status)))")
        }
        status = ff.avcodec_parameters_from_context(videoStream.pointee.codecpar, codec)
        guard status >= 0 else { throw FacetError.file(path, "bad encoder parameters (\(FFmpeg.errorText(status)))") }
        videoStream.pointee.time_base = codec.pointee.time_base
        videoStream.pointee.avg_frame_rate = rate
        videoStream.pointee.r_frame_rate = rate

        frame.pointee.format = AV_PIX_FMT_YUV420P.rawValue
        frame.pointee.width = Int32(width)
        frame.pointee.height = Int32(height)
        status = ff.av_frame_get_buffer(frame, 0)
        guard status >= 0 else { throw FacetError.file(path, "out of memory for frames (\(FFmpeg.errorText(status)))") }
    }

    deinit {
        ff.av_frame_free(&frame)
        ff.av_packet_free(&packet)
        ff.avcodec_free_context(&codec)
        if let output {
            if output.pointee.pb != nil { ff.avio_closep(&output.pointee.pb) }
            ff.avformat_free_context(output)
        }
        if !finished { try? FileManager.default.removeItem(atPath: temporaryPath) }
    }

    /// Encodes the next frame: RGB, RGBA or grey, exactly width x height.
    public func append(_ image: Image) throws {
        guard !finished, let codec, let frame else { throw FacetError.file(path, "the video is already finished") }
        guard image.width == width, image.height == height else {
            throw FacetError.file(path,
                                  "frame \(framesWritten) is \(image.width)x\(image.height), "
                                  + "the video is \(width)x\(height)")
        }
        let format: AVPixelFormat
        switch image.channels {
        case 1: format = AV_PIX_FMT_GRAY8
        case 3: format = AV_PIX_FMT_RGB24
        case 4: format = AV_PIX_FMT_RGBA
        default: throw FacetError.file(path,
                                       "frame \(framesWritten) has \(image.channels) channels (grey, RGB or RGBA only)")
        }
        // The encoder may still hold the previous picture; this copies only if it does.
        var status = ff.av_frame_make_writable(frame)
        guard status >= 0 else { throw FacetError.file(path, "out of memory at frame \(framesWritten)") }
        guard converter.prepare(from: Int32(width), Int32(height), format, to: Int32(width), Int32(height),
                                AV_PIX_FMT_YUV420P) != nil else {
            throw FacetError.file(path, "cannot convert frames to yuv420p")
        }
        let converted = image.pixels.withUnsafeBytes { pixels in
            converter.convert(pixels, rowBytes: image.rowBytes, into: frame)
        }
        guard converted else { throw FacetError.file(path, "conversion to yuv420p failed at frame \(framesWritten)") }
        frame.pointee.pts = Int64(framesWritten)
        status = ff.avcodec_send_frame(codec, frame)
        guard status >= 0 else {
            throw FacetError.file(path, "cannot encode frame \(framesWritten) (\(FFmpeg.errorText(status)))")
        }
        framesWritten += 1
        try writeEncodedPackets()
    }

    /// Flushes the encoder, copies the rest of the audio, writes the index, and moves the file to
    /// `path`. Throws if no frame was appended: a video needs at least one.
    public func finish() throws {
        guard !finished, let codec, let output else { throw FacetError.file(path, "the video is already finished") }
        guard framesWritten > 0 else { throw FacetError.file(path, "no frames to write") }
        var status = ff.avcodec_send_frame(codec, nil)
        guard status >= 0 else { throw FacetError.file(path, "cannot flush the encoder (\(FFmpeg.errorText(status)))") }
        try writeEncodedPackets()
        try audio?.copy(until: nil, into: output, outputName: path)
        status = ff.av_write_trailer(output)
        guard status >= 0 else { throw FacetError.file(path, "cannot finish the video (\(FFmpeg.errorText(status)))") }
        status = ff.avio_closep(&output.pointee.pb)
        guard status >= 0 else { throw FacetError.file(path, "cannot close the file (\(FFmpeg.errorText(status)))") }
        guard rename(temporaryPath, path) == 0 else {
            throw FacetError.file(path,
                                  "cannot move the finished video into place (\(String(cString: strerror(errno))))")
        }
        finished = true
    }

    /// Writes every packet the encoder has ready, after the audio that plays before it.
    private func writeEncodedPackets() throws {
        guard let codec, let packet, let output else { return }
        while true {
            let status = ff.avcodec_receive_packet(codec, packet)
            if status == FFmpeg.tryAgain || status == FFmpeg.endOfFile { return }
            guard status >= 0 else { throw FacetError.file(path, "encoding failed (\(FFmpeg.errorText(status)))") }
            // libx264 in FFmpeg 5.1 leaves durations at 0, and the mp4 muxer then drops the last
            // frame's time: every packet lasts one frame (one tick of the codec time base).
            if packet.pointee.duration == 0 { packet.pointee.duration = 1 }
            packet.pointee.stream_index = videoStream.pointee.index
            ff.av_packet_rescale_ts(packet, codec.pointee.time_base, videoStream.pointee.time_base)
            try audio?.copy(until: (packet.pointee.dts, videoStream.pointee.time_base), into: output, outputName: path)
            let written = ff.av_interleaved_write_frame(output, packet)
            guard written >= 0 else {
                throw FacetError.file(path, "cannot write video data (\(FFmpeg.errorText(written)))")
            }
        }
    }
}

/// The audio stream being copied packet by packet from another video into the output.
private final class AudioCopy {
    let input: MediaInput
    let inputStream: UnsafeMutablePointer<AVStream>
    let outputStream: UnsafeMutablePointer<AVStream>
    private var packet: UnsafeMutablePointer<AVPacket>?
    private var holding = false
    private var done = false
    /// With a span: the packets overlapping start..<end (audio time base) are copied, shifted by -start.
    private var span: (start: Int64, end: Int64)?

    /// Nil when the source has no audio.
    init?(from source: AudioSource, span seconds: Range<Double>?, into output: UnsafeMutablePointer<AVFormatContext>,
          outputName: String) throws {
        switch source {
        case .file(let path): input = try MediaInput(path: path)
        case .source(let bytes, let name): input = try MediaInput(source: bytes, name: name)
        }
        let index = ff.av_find_best_stream(input.context, AVMEDIA_TYPE_AUDIO, -1, -1, nil, 0)
        guard index >= 0, let stream = input.context.pointee.streams[Int(index)] else { return nil }
        inputStream = stream
        let codecID = stream.pointee.codecpar.pointee.codec_id
        guard ff.avformat_query_codec(output.pointee.oformat, codecID, FF_COMPLIANCE_NORMAL) == 1 else {
            throw FacetError.file(outputName,
                                  "the audio of \(input.name) (\(FFmpeg.codecName(codecID))) cannot be copied into "
                                  + "this format without re-encoding (write .mkv, which holds any audio)")
        }
        guard let out = ff.avformat_new_stream(output, nil), let packet = ff.av_packet_alloc() else {
            throw FacetError.file(outputName, "out of memory adding the audio stream")
        }
        outputStream = out
        self.packet = packet
        let status = ff.avcodec_parameters_copy(out.pointee.codecpar, stream.pointee.codecpar)
        guard status >= 0 else {
            throw FacetError.file(outputName, "cannot copy the audio parameters (\(FFmpeg.errorText(status)))")
        }
        // The source container's codec tag may mean nothing in the output container.
        out.pointee.codecpar.pointee.codec_tag = 0
        out.pointee.time_base = stream.pointee.time_base
        for other in input.streams where other != stream { other.pointee.discard = AVDISCARD_ALL }
        if let seconds {
            // Seconds count from the first video frame: the container's clock at the video's start.
            var origin = 0.0
            if let v = input.streams.first(where: { $0.pointee.codecpar.pointee.codec_type == AVMEDIA_TYPE_VIDEO }),
               v.pointee.start_time != FFmpeg.noTimestamp {
                origin = Double(v.pointee.start_time) * av_q2d(v.pointee.time_base)
            }
            let base = av_q2d(stream.pointee.time_base)
            let start = Int64(((origin + seconds.lowerBound) / base).rounded()),
                end = Int64(((origin + seconds.upperBound) / base).rounded())
            span = (start, end)
            // Start reading at the slice (nothing has been read yet: if the seek fails, from the top).
            if start > 0 { _ = ff.av_seek_frame(input.context, index, start, AVSEEK_FLAG_BACKWARD) }
        }
    }

    deinit { ff.av_packet_free(&packet) }

    /// Copies audio packets that start at or before `limit` (all that are left when nil).
    func copy(until limit: (timestamp: Int64, timeBase: AVRational)?,
              into output: UnsafeMutablePointer<AVFormatContext>, outputName: String) throws {
        guard let packet else { return }
        while !done {
            if !holding {
                let status = ff.av_read_frame(input.context, packet)
                if status == FFmpeg.endOfFile { done = true; return }
                guard status >= 0 else { throw input.readError(status, doing: "cannot read the audio to copy") }
                guard packet.pointee.stream_index == inputStream.pointee.index else {
                    ff.av_packet_unref(packet); continue
                }
                if let span {
                    let t = packet.pointee.pts != FFmpeg.noTimestamp ? packet.pointee.pts : packet.pointee.dts
                    if t != FFmpeg.noTimestamp {
                        // Ends before the slice: skip it (a slice from 0 keeps the encoder's priming
                        // packet, as the whole copy does). Starts at or after its end: done.
                        if span.start > 0 && t + max(packet.pointee.duration, 1) <= span.start {
                            ff.av_packet_unref(packet); continue
                        }
                        if t >= span.end { ff.av_packet_unref(packet); done = true; return }
                    }
                    if packet.pointee.pts != FFmpeg.noTimestamp { packet.pointee.pts -= span.start }
                    if packet.pointee.dts != FFmpeg.noTimestamp { packet.pointee.dts -= span.start }
                }
                holding = true
            }
            let time = packet.pointee.dts != FFmpeg.noTimestamp ? packet.pointee.dts : packet.pointee.pts
            if let limit, time != FFmpeg.noTimestamp,
               ff.av_compare_ts(time, inputStream.pointee.time_base, limit.timestamp, limit.timeBase) > 0 {
                return
            }
            packet.pointee.stream_index = outputStream.pointee.index
            packet.pointee.pos = -1
            ff.av_packet_rescale_ts(packet, inputStream.pointee.time_base, outputStream.pointee.time_base)
            holding = false
            let status = ff.av_interleaved_write_frame(output, packet)
            guard status >= 0 else {
                throw FacetError.file(outputName, "cannot write audio data (\(FFmpeg.errorText(status)))")
            }
        }
    }
}
