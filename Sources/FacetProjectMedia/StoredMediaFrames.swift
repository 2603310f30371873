/// Frames of a media stored in (or linked from) the project, whatever its kind, through one interface.
import Foundation
import FacetCore
import FacetMedia
import FacetStore

/// An embedded video's bytes as FFmpeg's custom AVIO reads them: straight from the project's chunks.
/// The one adapter from the store's chunk reader (FacetStore, which knows no FFmpeg) to FacetMedia's
/// byte source: decoding here, and the merge's audio copy. The store's reader is used by one thread
/// at a time; the lock makes concurrent `read` calls (allowed by the protocol) safe.
public final class StoredVideoBytes: RandomAccessByteSource, @unchecked Sendable {
    private let bytes: StoredMediaBytes
    private let lock = NSLock()
    /// The bytes of embedded video `mediaId` of `project`.
    public init(project: Project, mediaId: Int64) throws { bytes = try project.storedBytes(mediaId: mediaId) }
    /// The video's length in bytes.
    public var size: Int64 { bytes.size }
    /// Copies the bytes at `offset` into `buffer`; returns how many (0 at the end).
    public func read(at offset: Int64, into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        lock.lock(); defer { lock.unlock() }
        return try bytes.read(at: offset, into: buffer)
    }
}

/// One frame of a media: its index in the full-rate stream, time in seconds, RGB pixels.
public struct MediaFrame: Sendable {
    /// The frame's index in the full-rate stream (or the still's position in its folder).
    public var index: Int
    /// Presentation time in seconds.
    public var pts: Double
    /// RGB pixels.
    public var image: Image
}

/// Iterates the frames of one media record: a video (embedded or linked) or a folder of stills.
public final class MediaFrames {
    /// The media whose frames these are.
    public let media: MediaRecord
    private var decoder: VideoDecoder?
    private var stills: (project: Project, names: [String], next: Int)?
    private let selection: Double?

    /// Opens `media` for decoding at `fps` (nil: every frame). A linked file that moved or changed is a
    /// clear error naming the file.
    public init(project: Project, media: MediaRecord, fps: Double? = nil) throws {
        self.media = media
        self.selection = fps
        guard let id = media.id else { throw FacetError("media has no id") }
        if media.kind == .stills {
            stills = (project, try project.stillNames(mediaId: id), 0)
            return
        }
        if media.storage == .linked {
            let path = media.path ?? media.name
            guard FileManager.default.fileExists(atPath: path) else {
                throw FacetError.file(path, "linked video \(media.id!) (\(media.name)) is missing: "
                                      + "it moved or was deleted; import it again")
            }
            let size = ((try? FileManager.default.attributesOfItem(atPath: path)[.size]) as? NSNumber)?.int64Value ?? -1
            guard size == media.byteSize, try SHA256.hex(ofFile: path) == media.sha256 else {
                throw FacetError.file(path, "linked video \(media.id!) changed since it was imported "
                                      + "(its SHA-256 differs); import it again")
            }
            decoder = try VideoDecoder(path: path, fps: fps)
        } else {
            decoder = try VideoDecoder(source: StoredVideoBytes(project: project, mediaId: id), name: media.name,
                                       fps: fps)
        }
    }

    /// The next frame (index in the full-rate stream, pts in seconds, RGB image), nil at the end.
    public func next() throws -> MediaFrame? {
        if let decoder {
            return try decoder.nextFrame().map { MediaFrame(index: $0.index, pts: $0.pts, image: $0.image) }
        }
        guard var s = stills else { return nil }
        let fps = media.fps > 0 ? media.fps : 25
        // Stills are all kept at their own rate; with --fps, keep every k-th.
        let step = selection.map { max(1, Int((fps / $0).rounded())) } ?? 1
        while s.next < s.names.count {
            let index = s.next
            s.next += 1
            stills = s
            if index % step != 0 { continue }
            let data = try s.project.stillData(mediaId: media.id!, index: index)
            do {
                return MediaFrame(index: index, pts: Double(index) / fps, image: try decodeImage(data))
            } catch {
                throw FacetError.file(s.names[index], "still \(index) cannot be decoded: \(error)")
            }
        }
        return nil
    }
}

extension MediaFrames {
    /// Frame `index` of `media`, found by reading its frames in order: cost grows with the frame's position
    /// in the video. A frame the media does not have is an error naming the media.
    public static func image(ofFrame index: Int, media: MediaRecord, in project: Project) throws -> Image {
        let frames = try MediaFrames(project: project, media: media)
        while let f = try frames.next() {
            if f.index == index { return f.image }
            if f.index > index { break }
        }
        throw FacetError("media \(media.id ?? 0) (\(media.name)) has no frame \(index)")
    }
}

/// PNG or JPEG bytes as RGB, judged by their first bytes.
func decodeImage(_ data: Data) throws -> Image {
    switch ImageFile.kind(of: data) {
    case .png: return try PNGCodec.decode(data).rgb()
    case .jpeg: return try JPEGCodec.decode(data)
    case nil: throw FacetError("not a PNG or JPEG image")
    }
}
