/// swscale conversions between FFmpeg frames and Image buffers, sliced over threads like ffmpeg's scale filter.
import CFFmpeg
import FacetCore
import Foundation

/// Frees nothing: a buffer wrapped this way belongs to a Swift array that outlives the call.
private func keepBuffer(_ opaque: UnsafeMutableRawPointer?, _ data: UnsafeMutablePointer<UInt8>?) {}

/// One swscale context, rebuilt when the geometry or formats change. Legacy `sws_scale` runs on one
/// thread; `sws_scale_frame` with the "threads" option splits each picture into slices over the
/// cores, as ffmpeg's scale filter does (it matters most while libx264 waits for its next frame).
final class PixelConverter {
    private struct Geometry: Equatable {
        var sourceWidth: Int32, sourceHeight: Int32, sourceFormat: AVPixelFormat
        var targetWidth: Int32, targetHeight: Int32, targetFormat: AVPixelFormat
    }

    private var context: OpaquePointer?
    private var geometry: Geometry?
    /// Scratch frame headers for wrapping Image storage; their buffers are never FFmpeg's.
    private var wrapper: UnsafeMutablePointer<AVFrame>?

    init() {}

    deinit {
        ff.sws_freeContext(context)
        ff.av_frame_free(&wrapper)
    }

    /// Makes the context fit; true when it was (re)built, so per-context settings must be redone.
    func prepare(from sourceWidth: Int32, _ sourceHeight: Int32, _ sourceFormat: AVPixelFormat,
                 to targetWidth: Int32, _ targetHeight: Int32, _ targetFormat: AVPixelFormat) -> Bool? {
        let wanted = Geometry(sourceWidth: sourceWidth, sourceHeight: sourceHeight, sourceFormat: sourceFormat,
                              targetWidth: targetWidth, targetHeight: targetHeight, targetFormat: targetFormat)
        if wanted == geometry, context != nil { return false }
        ff.sws_freeContext(context)
        context = nil
        geometry = nil
        guard let made = ff.sws_alloc_context() else { return nil }
        let raw = UnsafeMutableRawPointer(made)
        ff.av_opt_set_int(raw, "srcw", Int64(sourceWidth), 0)
        ff.av_opt_set_int(raw, "srch", Int64(sourceHeight), 0)
        ff.av_opt_set_int(raw, "src_format", Int64(sourceFormat.rawValue), 0)
        ff.av_opt_set_int(raw, "dstw", Int64(targetWidth), 0)
        ff.av_opt_set_int(raw, "dsth", Int64(targetHeight), 0)
        ff.av_opt_set_int(raw, "dst_format", Int64(targetFormat.rawValue), 0)
        ff.av_opt_set_int(raw, "sws_flags", Int64(SWS_BICUBIC), 0)
        ff.av_opt_set_int(raw, "threads", Int64(ProcessInfo.processInfo.activeProcessorCount), 0)
        guard ff.sws_init_context(made, nil, nil) >= 0 else {
            ff.sws_freeContext(made)
            return nil
        }
        context = made
        geometry = wanted
        return true
    }

    /// Sets the YUV matrix and ranges (see sws_setColorspaceDetails); applies to every slice.
    func setColourDetails(sourceMatrix: Int32, sourceFullRange: Bool, targetFullRange: Bool) {
        guard let context else { return }
        ff.sws_setColorspaceDetails(context, ff.sws_getCoefficients(sourceMatrix), sourceFullRange ? 1 : 0,
                                 ff.sws_getCoefficients(SWS_CS_DEFAULT), targetFullRange ? 1 : 0, 0, 1 << 16, 1 << 16)
    }

    /// Converts `source` into packed pixels at `target` (`rowBytes` apart). Returns false on failure.
    func convert(_ source: UnsafePointer<AVFrame>, into target: UnsafeMutableRawBufferPointer, rowBytes: Int) -> Bool {
        guard let context, let geometry,
            let frame = wrappedFrame(target, rowBytes: rowBytes, width: geometry.targetWidth,
                                                                    height: geometry.targetHeight,
                                                                    format: geometry.targetFormat) else { return false }
        defer { ff.av_frame_unref(frame) }
        return ff.sws_scale_frame(context, frame, source) >= 0
    }

    /// Converts packed pixels at `source` into `target` (an allocated frame). Returns false on failure.
    func convert(_ source: UnsafeRawBufferPointer, rowBytes: Int, into target: UnsafeMutablePointer<AVFrame>) -> Bool {
        guard let context, let geometry,
              let frame = wrappedFrame(UnsafeMutableRawBufferPointer(mutating: source), rowBytes: rowBytes,
                                       width: geometry.sourceWidth,
                                       height: geometry.sourceHeight,
                                       format: geometry.sourceFormat) else { return false }
        defer { ff.av_frame_unref(frame) }
        return ff.sws_scale_frame(context, target, frame) >= 0
    }

    /// The scratch frame over `bytes`, reference-counted with a no-op free so swscale takes a
    /// reference instead of copying the picture.
    private func wrappedFrame(_ bytes: UnsafeMutableRawBufferPointer, rowBytes: Int, width: Int32, height: Int32,
                              format: AVPixelFormat) -> UnsafeMutablePointer<AVFrame>? {
        if wrapper == nil { wrapper = ff.av_frame_alloc() }
        guard let frame = wrapper, let base = bytes.baseAddress?.assumingMemoryBound(to: UInt8.self),
              let buffer = ff.av_buffer_create(base, bytes.count, keepBuffer, nil, 0) else { return nil }
        frame.pointee.buf.0 = buffer
        frame.pointee.data.0 = base
        frame.pointee.linesize.0 = Int32(rowBytes)
        frame.pointee.width = width
        frame.pointee.height = height
        frame.pointee.format = format.rawValue
        return frame
    }
}
