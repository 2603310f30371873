/// Decoding a video to RGB frames with libavformat/libavcodec/libswscale, at full rate or a chosen fps.
import CFFmpeg
import FacetCore
import Foundation

/// One decoded frame.
public struct DecodedFrame: Sendable {
    /// Position in the full-rate stream (0-based, presentation order), also when frames are skipped.
    public var index: Int
    /// Presentation time in seconds, as ffprobe reports it (`pts_time`).
    public var pts: Double
    /// The picture as RGB, at the video's width x height.
    public var image: Image
}

/// Which frames a chosen rate keeps: for each slot k at time k/fps from the first frame, the frame
/// nearest to it (the first whose time is at least half a source frame before the slot), never one
/// frame twice. A rate at or above the video's keeps every frame.
struct FrameSelection {
    let fps: Double?
    let halfSourceFrame: Double
    private var nextSlot = 0

    init(fps: Double?, sourceFPS: Double) {
        self.fps = fps
        self.halfSourceFrame = sourceFPS > 0 ? 0.5 / sourceFPS : 0
    }

    /// Whether the frame at `time` seconds after the first frame is kept.
    mutating func keeps(time: Double) -> Bool {
        guard let fps else { return true }
        guard time >= Double(nextSlot) / fps - halfSourceFrame else { return false }
        nextSlot = Int(((time + halfSourceFrame) * fps).rounded(.down)) + 1
        return true
    }
}

/// Streams the frames of one video. A cursor: use it from one thread at a time.
///
/// Cost per frame: one decode (FFmpeg frame threads on every core) and one swscale conversion
/// straight into the returned image's storage; frames skipped by `fps` are decoded but not converted.
public final class VideoDecoder {
    /// Facts about the video (size upright, frame rate, frame count), read when it was opened.
    public let info: VideoInfo
    /// The file path or source name, used in messages.
    public let name: String
    /// Frames per second to keep, nil for every frame. Set it before the first `nextFrame()`.
    public var fps: Double? {
        didSet { selection = FrameSelection(fps: fps, sourceFPS: info.fps) }
    }

    private let input: MediaInput
    private let stream: UnsafeMutablePointer<AVStream>
    private var codec: UnsafeMutablePointer<AVCodecContext>?
    private var packet: UnsafeMutablePointer<AVPacket>?
    private var frame: UnsafeMutablePointer<AVFrame>?
    private let converter = PixelConverter()
    private var scalerColour: (space: Int32, fullRange: Bool)?
    private var selection: FrameSelection

    /// Frames that came out of the decoder so far: the next frame's full-rate index.
    private var decodedCount = 0
    private var packetsRead = 0
    private var firstTime: Double?
    private var demuxerFinished = false
    private var decoderFinished = false
    /// A read error met after some frames: reported once those frames have been handed out.
    private var pendingReadStatus: Int32?
    private var endReported = false

    /// Opens a video file. Throws for a missing file, a file FFmpeg cannot read, no video stream,
    /// no frames, or a codec FFmpeg cannot decode.
    public convenience init(path: String, fps: Double? = nil) throws {
        let input = try MediaInput(path: path)
        try self.init(input: input, fps: fps, reopen: { try MediaInput(path: path) })
    }

    /// Opens a video from bytes stored elsewhere (the project file), read in place through a custom
    /// AVIO context. `name` is used in messages and as a format hint.
    public convenience init(source: any RandomAccessByteSource, name: String, fps: Double? = nil) throws {
        let input = try MediaInput(source: source, name: name)
        try self.init(input: input, fps: fps, reopen: { try MediaInput(source: source, name: name) })
    }

    private init(input: MediaInput, fps: Double?, reopen: () throws -> MediaInput) throws {
        self.input = input
        self.name = input.name
        // Counting frames (when the container lacks the number) uses a second opening, leaving this
        // one at the start.
        self.info = try VideoProbe.info(of: input, countFrames: reopen)
        self.stream = try input.videoStream()
        self.fps = fps
        self.selection = FrameSelection(fps: fps, sourceFPS: info.fps)
        if let fps, !(fps > 0) { throw FacetError.file(name, "frame rate to extract must be positive, got \(fps)") }
        try openCodec()
        // Let the demuxer drop the other streams' packets early instead of handing them to us.
        for other in input.streams where other != stream { other.pointee.discard = AVDISCARD_ALL }
    }

    deinit {
        ff.av_frame_free(&frame)
        ff.av_packet_free(&packet)
        ff.avcodec_free_context(&codec)
    }

    private func openCodec() throws {
        let parameters = stream.pointee.codecpar
        let codecID = parameters!.pointee.codec_id
        guard let decoder = ff.avcodec_find_decoder(codecID) else {
            throw FacetError.file(name, "video codec '\(FFmpeg.codecName(codecID))' cannot be decoded by this FFmpeg")
        }
        guard let context = ff.avcodec_alloc_context3(decoder), let packet = ff.av_packet_alloc(),
              let frame = ff.av_frame_alloc() else {
            throw FacetError.file(name, "out of memory opening the decoder")
        }
        self.codec = context
        self.packet = packet
        self.frame = frame
        var status = ff.avcodec_parameters_to_context(context, parameters)
        guard status >= 0 else {
            throw FacetError.file(name, "bad video stream parameters (\(FFmpeg.errorText(status)))")
        }
        context.pointee.pkt_timebase = stream.pointee.time_base
        // As the ffmpeg command line does: threads chosen by FFmpeg (cores + 1), frame and slice threading.
        context.pointee.thread_count = 0
        context.pointee.thread_type = FF_THREAD_FRAME | FF_THREAD_SLICE
        status = ff.avcodec_open2(context, decoder, nil)
        guard status >= 0 else {
            throw FacetError.file(name,
                                  "cannot open the '\(FFmpeg.codecName(codecID))' decoder "
                                  + "(\(FFmpeg.errorText(status)))")
        }
    }

    /// The next kept frame, or nil at the end. A decoding error throws with the frame number; the
    /// frames before it have already been returned, and calling again continues after the damage
    /// when the decoder can (a file that ends early then returns nil).
    public func nextFrame() throws -> DecodedFrame? {
        while let decoded = try decodeNext() {
            let (index, pts) = decoded
            if firstTime == nil { firstTime = pts }
            if selection.keeps(time: pts - firstTime!) {
                let image = try convertFrame(index: index)
                ff.av_frame_unref(frame)
                return DecodedFrame(index: index, pts: pts, image: image)
            }
            ff.av_frame_unref(frame)
        }
        return nil
    }

    /// Calls `body` with every kept frame in order; stops early when `body` returns false.
    public func forEachFrame(_ body: (DecodedFrame) throws -> Bool) throws {
        while let frame = try nextFrame() {
            if try !body(frame) { return }
        }
    }

    /// Decodes the next frame of the full-rate stream into `frame`; its index and pts in seconds.
    private func decodeNext() throws -> (Int, Double)? {
        guard let codec, let packet, let frame else { return nil }
        while !decoderFinished {
            let received = ff.avcodec_receive_frame(codec, frame)
            if received == 0 {
                let index = decodedCount
                decodedCount += 1
                return (index, presentationTime(of: frame, index: index))
            }
            if received == FFmpeg.endOfFile {
                decoderFinished = true
                break
            }
            if received != FFmpeg.tryAgain {
                if dataEndedEarly(status: received) { continue }
                // The damaged picture is not output, and (like ffmpeg and ffprobe) not counted.
                throw FacetError.file(name, "cannot decode frame \(decodedCount) (\(FFmpeg.errorText(received)))")
            }
            // The decoder wants input.
            if demuxerFinished {
                ff.avcodec_send_packet(codec, nil)
                continue
            }
            let read = ff.av_read_frame(input.context, packet)
            if read < 0 {
                demuxerFinished = true
                // Junk after the last promised frame is no loss worth an error.
                if read != FFmpeg.endOfFile && packetsRead < info.frameCount { pendingReadStatus = read }
                ff.avcodec_send_packet(codec, nil)
                continue
            }
            defer { ff.av_packet_unref(packet) }
            guard packet.pointee.stream_index == stream.pointee.index else { continue }
            packetsRead += 1
            let sent = ff.avcodec_send_packet(codec, packet)
            if sent < 0 && sent != FFmpeg.tryAgain {
                if dataEndedEarly(status: sent) { continue }
                throw FacetError.file(name, "cannot decode frame \(decodedCount) (\(FFmpeg.errorText(sent)))")
            }
        }
        return try finish()
    }

    /// Whether a decoding error is the last packet cut short because the data stopped before the
    /// container's frame count (a truncated file, a failing source). Then the end of the data is
    /// reported once the decoded frames are out, which says more than the decoder's complaint.
    private func dataEndedEarly(status: Int32) -> Bool {
        guard let io = input.context.pointee.pb, ff.avio_feof(io) != 0, packetsRead < info.frameCount else {
            return false
        }
        if !demuxerFinished {
            demuxerFinished = true
            ff.avcodec_send_packet(codec, nil)
        }
        if pendingReadStatus == nil { pendingReadStatus = io.pointee.error < 0 ? io.pointee.error : status }
        return true
    }

    /// At the end of the stream: report what went wrong once, then nil.
    private func finish() throws -> (Int, Double)? {
        guard !endReported else { return nil }
        endReported = true
        if let status = pendingReadStatus {
            let ending = "video data ends at frame \(decodedCount) of \(info.frameCount)"
            throw input.readError(status,
                                  doing: input.sourceFailed ? ending : ending + ": the file is truncated or damaged")
        }
        if decodedCount == 0 { throw FacetError.file(name, "no video frame could be decoded") }
        // The container promised more pictures than the file holds: cut off, e.g. an interrupted copy.
        if packetsRead < info.frameCount {
            throw FacetError.file(name,
                                  "video data ends at frame \(decodedCount) of \(info.frameCount): "
                                  + "the file is truncated or damaged")
        }
        return nil
    }

    private func presentationTime(of frame: UnsafeMutablePointer<AVFrame>, index: Int) -> Double {
        var timestamp = frame.pointee.best_effort_timestamp
        if timestamp == FFmpeg.noTimestamp { timestamp = frame.pointee.pts }
        if timestamp == FFmpeg.noTimestamp { return info.fps > 0 ? Double(index) / info.fps : 0 }
        return FFmpeg.seconds(timestamp, stream.pointee.time_base)
    }

    /// The decoded picture as RGB at the video's size, written by swscale into the image's own storage.
    private func convertFrame(index: Int) throws -> Image {
        guard let frame else { throw FacetError.file(name, "decoder is closed") }
        let source = frame.pointee
        let format = AVPixelFormat(source.format)
        guard ff.sws_isSupportedInput(format) > 0 else {
            throw FacetError.file(name,
                                  "unsupported pixel format \(FFmpeg.pixelFormatName(source.format)) at frame \(index)")
        }
        // Convert at the stored (coded) size; a rotated video is turned upright afterwards.
        let sideways = info.rotation == 90 || info.rotation == 270
        let width = sideways ? info.height : info.width, height = sideways ? info.width : info.height
        guard let rebuilt = converter.prepare(from: source.width, source.height, format, to: Int32(width),
                                              Int32(height), AV_PIX_FMT_RGB24) else {
            throw FacetError.file(name,
                                  "cannot convert pixel format \(FFmpeg.pixelFormatName(source.format)) to RGB at "
                                  + "frame \(index)")
        }
        // The frame's own matrix (BT.601/709/...) and range, the way ffmpeg's scale filter reads them.
        let fullRange = source.color_range == AVCOL_RANGE_JPEG || Self.fullRangeFormats.contains(format)
        let space = Int32(bitPattern: source.colorspace.rawValue)
        if rebuilt || scalerColour?.space != space || scalerColour?.fullRange != fullRange {
            let isYUV = ff.av_pix_fmt_desc_get(format)
                .map { $0.pointee.flags & UInt64(AV_PIX_FMT_FLAG_RGB) == 0 && $0.pointee.nb_components >= 3 } ?? false
            if isYUV {
                let matrix = space == Int32(bitPattern: AVCOL_SPC_UNSPECIFIED.rawValue) ? SWS_CS_DEFAULT : space
                converter.setColourDetails(sourceMatrix: matrix, sourceFullRange: fullRange, targetFullRange: true)
            }
            scalerColour = (space, fullRange)
        }
        let rowBytes = width * 3
        var converted = false
        let pixels = [UInt8](unsafeUninitializedCapacity: rowBytes * height) { buffer, initialized in
            converted = converter.convert(frame, into: UnsafeMutableRawBufferPointer(buffer), rowBytes: rowBytes)
            if !converted { buffer.initialize(repeating: 0) }
            initialized = rowBytes * height
        }
        if !converted { throw FacetError.file(name, "pixel conversion to RGB failed at frame \(index)") }
        let image = Image(width: width, height: height, channels: 3, pixels: pixels)
        return info.rotation == 0 ? image : Self.turned(image, clockwise: info.rotation)
    }

    /// `image` (RGB) turned clockwise by 90, 180 or 270 degrees. O(pixels), one pass.
    static func turned(_ image: Image, clockwise degrees: Int) -> Image {
        let w = image.width, h = image.height
        let outWidth = degrees == 180 ? w : h, outHeight = degrees == 180 ? h : w
        let pixels = [UInt8](unsafeUninitializedCapacity: w * h * 3) { out, initialized in
            image.pixels.withUnsafeBufferPointer { src in
                for y in 0..<outHeight {
                    for x in 0..<outWidth {
                        // The source pixel that lands at (x, y).
                        let sx: Int, sy: Int
                        switch degrees {
                        case 90: sx = y; sy = h - 1 - x
                        case 180: sx = w - 1 - x; sy = h - 1 - y
                        default: sx = w - 1 - y; sy = x
                        }
                        let s = (sy * w + sx) * 3, d = (y * outWidth + x) * 3
                        out[d] = src[s]; out[d + 1] = src[s + 1]; out[d + 2] = src[s + 2]
                    }
                }
            }
            initialized = w * h * 3
        }
        return Image(width: outWidth, height: outHeight, channels: 3, pixels: pixels)
    }

    /// The deprecated "J" formats that mean full-range YUV by themselves.
    private static let fullRangeFormats: Set<AVPixelFormat> = [
        AV_PIX_FMT_YUVJ420P, AV_PIX_FMT_YUVJ422P, AV_PIX_FMT_YUVJ444P, AV_PIX_FMT_YUVJ440P, AV_PIX_FMT_YUVJ411P,
    ]
}
