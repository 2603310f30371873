/// Small bridges over FFmpeg's C macros and conventions that Swift cannot import directly.
import CFFmpeg
import FacetCore
import Foundation

/// FFmpeg's functions, as `ff.avcodec_open2(...)`: valid once `FFmpeg.load()` has returned.
/// (Its first use opens them if no entry has yet, so a table with missing members is never kept.)
let ff: FacetFFmpegAPI = {
    _ = try? FFmpeg.load()
    return facet_ffmpeg_api().pointee
}()

enum FFmpeg {
    /// AVERROR_EOF: FFERRTAG('E','O','F',' ').
    static let endOfFile: Int32 = -0x2046_4F45
    /// AVERROR(EAGAIN): the codec wants input (or output to be read) first.
    static let tryAgain: Int32 = -EAGAIN
    /// AVERROR(EIO), what a failing custom read reports.
    static let ioError: Int32 = -EIO
    /// AV_NOPTS_VALUE.
    static let noTimestamp = Int64.min

    /// av_strerror's text for an FFmpeg error code.
    static func errorText(_ code: Int32) -> String {
        var buffer = [CChar](repeating: 0, count: 256)
        if ff.av_strerror(code, &buffer, buffer.count) < 0 { return "error \(code)" }
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// Why FFmpeg's libraries could not be opened (nil: they are, and `ff` is filled). Tried once per process.
    private static let loadFailure: String? = {
        var message = [CChar](repeating: 0, count: 512)
        guard facet_ffmpeg_load(&message, Int32(message.count)) == 0 else {
            return String(decoding: message.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        }
        configureLogging()
        return nil
    }()

    /// Opens FFmpeg's libraries on first use (CFFmpeg.h says why they are not linked); every entry into
    /// FFmpeg (opening a video, an encoder) calls this first. Missing libraries are one line naming them.
    static func load() throws {
        if let loadFailure {
            throw FacetError("FFmpeg's libraries cannot be opened (\(loadFailure)): install Debian's libavformat59, "
                             + "libavcodec59, libswscale6 and libavutil57, or run Tools/setup", kind: .failed)
        }
    }

    /// FFmpeg logs to stderr by itself; Facet reports problems through FacetError instead, so the
    /// library is quiet unless FACET_FFMPEG_LOG names a level (e.g. "warning", "debug").
    private static func configureLogging() {
        let levels: [String: Int32] = ["quiet": AV_LOG_QUIET, "error": AV_LOG_ERROR, "warning": AV_LOG_WARNING,
                                       "info": AV_LOG_INFO, "verbose": AV_LOG_VERBOSE, "debug": AV_LOG_DEBUG]
        let requested = ProcessInfo.processInfo.environment["FACET_FFMPEG_LOG"].flatMap { levels[$0.lowercased()] }
        facet_ffmpeg_api().pointee.av_log_set_level(requested ?? AV_LOG_QUIET)
    }

    static func pixelFormatName(_ format: Int32) -> String {
        guard let name = ff.av_get_pix_fmt_name(AVPixelFormat(format)) else { return "unknown (\(format))" }
        return String(cString: name)
    }

    static func codecName(_ id: AVCodecID) -> String {
        guard let name = ff.avcodec_get_name(id) else { return "unknown" }
        return String(cString: name)
    }

    /// Seconds in a stream's time base.
    static func seconds(_ timestamp: Int64, _ timeBase: AVRational) -> Double {
        Double(timestamp) * Double(timeBase.num) / Double(timeBase.den)
    }
}

extension FFmpeg {
    /// AVERROR_INVALIDDATA: FFERRTAG('I','N','D','A').
    static let invalidData: Int32 = -0x4144_4E49
}
