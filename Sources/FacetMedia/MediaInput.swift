/// An opened FFmpeg demuxer over a file path or a RandomAccessByteSource (custom AVIO).
import CFFmpeg
import FacetCore
import Foundation

/// The cursor FFmpeg's read/seek callbacks move over a RandomAccessByteSource. One per AVIOContext,
/// used only from the thread that drives that demuxer.
private final class SourceCursor {
    let source: any RandomAccessByteSource
    var position: Int64 = 0
    /// The source's own error, kept so the user sees it rather than FFmpeg's generic "I/O error".
    var failure: Error?
    init(_ source: any RandomAccessByteSource) { self.source = source }
}

private func readSource(_ opaque: UnsafeMutableRawPointer?, _ buffer: UnsafeMutablePointer<UInt8>?,
                        _ size: Int32) -> Int32 {
    guard let opaque, let buffer, size > 0 else { return FFmpeg.ioError }
    let cursor = Unmanaged<SourceCursor>.fromOpaque(opaque).takeUnretainedValue()
    do {
        let n = try cursor.source.read(at: cursor.position,
                                       into: UnsafeMutableRawBufferPointer(start: buffer, count: Int(size)))
        if n <= 0 { return FFmpeg.endOfFile }
        cursor.position += Int64(n)
        return Int32(n)
    } catch {
        cursor.failure = error
        return FFmpeg.ioError
    }
}

private func seekSource(_ opaque: UnsafeMutableRawPointer?, _ offset: Int64, _ whence: Int32) -> Int64 {
    guard let opaque else { return Int64(FFmpeg.ioError) }
    let cursor = Unmanaged<SourceCursor>.fromOpaque(opaque).takeUnretainedValue()
    let size = cursor.source.size
    // AVSEEK_FORCE is a hint that seeking is worth it even if slow; it does not change the meaning.
    switch whence & ~Int32(AVSEEK_FORCE) {
    case Int32(AVSEEK_SIZE): return size
    case SEEK_SET: cursor.position = offset
    case SEEK_CUR: cursor.position += offset
    case SEEK_END: cursor.position = size + offset
    default: return Int64(FFmpeg.ioError)
    }
    return cursor.position
}

/// An open AVFormatContext with stream info read. Closing (deinit) frees the custom AVIO context and
/// its buffer, which avformat_close_input leaves to the caller.
final class MediaInput {
    let name: String
    private(set) var context: UnsafeMutablePointer<AVFormatContext>
    private var io: UnsafeMutablePointer<AVIOContext>?
    private let cursor: SourceCursor?

    /// Opens a file on disk with FFmpeg's own file protocol.
    init(path: String) throws {
        try FFmpeg.load()
        var isFolder: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isFolder) else {
            throw FacetError.file(path, "no such file")
        }
        if isFolder.boolValue { throw FacetError.file(path, "is a folder, not a video file") }
        guard FileManager.default.isReadableFile(atPath: path) else {
            throw FacetError.file(path, "cannot read (permission denied)")
        }
        name = path
        cursor = nil
        var opened: UnsafeMutablePointer<AVFormatContext>?
        // "file:" keeps a name with a colon ("take:2.mp4", "http:x") from being read as a protocol.
        let status = ff.avformat_open_input(&opened, "file:" + path, nil, nil)
        guard status >= 0, let opened else { throw Self.openError(path, status) }
        context = opened
        try readStreamInfo()
    }

    /// Opens bytes from `source` through a custom AVIOContext; `name` is used in messages and as a
    /// hint to FFmpeg's format probe (its extension).
    init(source: any RandomAccessByteSource, name: String) throws {
        try FFmpeg.load()
        self.name = name
        let cursor = SourceCursor(source)
        self.cursor = cursor
        let bufferSize: Int32 = 1 << 16
        guard let buffer = ff.av_malloc(Int(bufferSize))?.assumingMemoryBound(to: UInt8.self) else {
            throw FacetError.file(name, "out of memory opening the video")
        }
        // The cursor outlives the AVIOContext: both belong to self, and deinit frees the context first.
        guard let io = ff.avio_alloc_context(buffer, bufferSize, 0, Unmanaged.passUnretained(cursor).toOpaque(),
                                          readSource, nil, seekSource) else {
            ff.av_free(buffer)
            throw FacetError.file(name, "out of memory opening the video")
        }
        self.io = io
        var opened = ff.avformat_alloc_context()
        guard opened != nil else {
            Self.free(io: &self.io)
            throw FacetError.file(name, "out of memory opening the video")
        }
        opened!.pointee.pb = io
        let status = ff.avformat_open_input(&opened, name, nil, nil)
        guard status >= 0, let opened else {
            // avformat_open_input freed the format context; the custom AVIO context is still ours.
            let failure = cursor.failure
            Self.free(io: &self.io)
            if let failure = failure as? FacetError { throw failure }
            throw Self.openError(name, status)
        }
        context = opened
        try readStreamInfo()
    }

    deinit {
        var opened: UnsafeMutablePointer<AVFormatContext>? = context
        ff.avformat_close_input(&opened)
        Self.free(io: &io)
    }

    private static func free(io: inout UnsafeMutablePointer<AVIOContext>?) {
        guard io != nil else { return }
        // FFmpeg may have replaced the buffer we gave it, so free the one it holds now.
        ff.av_freep(&io!.pointee.buffer)
        ff.avio_context_free(&io)
    }

    private static func openError(_ name: String, _ status: Int32) -> FacetError {
        if status == FFmpeg.invalidData {
            return FacetError.file(name,
                                   "not a video FFmpeg can read, or the file is incomplete "
                                   + "(\(FFmpeg.errorText(status)))")
        }
        return FacetError.file(name, "cannot open as video (\(FFmpeg.errorText(status)))")
    }

    private func readStreamInfo() throws {
        let status = ff.avformat_find_stream_info(context, nil)
        guard status >= 0 else { throw readError(status, doing: "cannot read the stream layout") }
    }

    /// An error for a failed read, preferring the byte source's own message.
    func readError(_ status: Int32, doing what: String) -> FacetError {
        if let failure = cursor?.failure {
            cursor?.failure = nil
            if let failure = failure as? FacetError { return FacetError.file(name, "\(what): \(failure.message)") }
            return FacetError.file(name, "\(what): \(failure)")
        }
        return FacetError.file(name, "\(what) (\(FFmpeg.errorText(status)))")
    }

    /// Whether the byte source threw (its message is kept for `readError`).
    var sourceFailed: Bool { cursor?.failure != nil }

    var streams: [UnsafeMutablePointer<AVStream>] {
        (0..<Int(context.pointee.nb_streams)).compactMap { context.pointee.streams[$0] }
    }

    /// The main video stream: FFmpeg's pick, never a cover picture attached to an audio file.
    func videoStream() throws -> UnsafeMutablePointer<AVStream> {
        let isPicture = {
            (s: UnsafeMutablePointer<AVStream>) in s.pointee.disposition & Int32(AV_DISPOSITION_ATTACHED_PIC) != 0
        }
        let best = ff.av_find_best_stream(context, AVMEDIA_TYPE_VIDEO, -1, -1, nil, 0)
        if best >= 0, let stream = context.pointee.streams[Int(best)], !isPicture(stream) { return stream }
        if let stream = streams.first(where: {
            $0.pointee.codecpar.pointee.codec_type == AVMEDIA_TYPE_VIDEO && !isPicture($0)
        }) {
            return stream
        }
        let kinds = streams.map { stream in
            ff.av_get_media_type_string(stream.pointee.codecpar.pointee.codec_type)
                .map { String(cString: $0) } ?? "unknown"
        }
        throw FacetError.file(name,
                              "has no video stream" + (kinds.isEmpty ? "" : " (streams: "
                                                                            + "\(kinds.joined(separator: ", ")))"))
    }

    var hasAudio: Bool { streams.contains { $0.pointee.codecpar.pointee.codec_type == AVMEDIA_TYPE_AUDIO } }
}
