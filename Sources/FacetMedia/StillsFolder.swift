/// A folder of images used as a video of stills (DeepFaceLab users often start from extracted frames).
import FacetCore
import Foundation

/// The PNG/JPEG files of one folder, in natural order ("frame2" before "frame10"), as frames.
public struct StillsFolder: Sendable {
    /// The folder's path, for messages.
    public let path: String
    /// Full paths of the image files, in frame order.
    public let files: [String]
    /// Size and codec of the first image; `fps` is the rate given (a folder has none of its own).
    public let info: VideoInfo

    /// Lists the images in `path` (not its subfolders; hidden files skipped). `fps` is the rate the
    /// stills stand for, 25 by default as with FFmpeg's image-sequence reader.
    /// Throws when the path is not a folder, holds no images, or the first image cannot be read.
    public init(path: String, fps: Double = 25) throws {
        var isFolder: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isFolder) else {
            throw FacetError.file(path, "no such folder")
        }
        guard isFolder.boolValue else { throw FacetError.file(path, "is a file, not a folder of images") }
        guard fps > 0 else { throw FacetError.file(path, "frame rate must be positive, got \(fps)") }
        let names: [String]
        do {
            names = try FileManager.default.contentsOfDirectory(atPath: path)
        } catch {
            throw FacetError.file(path, "cannot list the folder (\(ImageFile.reason(error)))")
        }
        let images = names.filter {
            !$0.hasPrefix(".") && ImageFile.extensions.contains(($0 as NSString).pathExtension.lowercased())
        }
            .sorted { $0.compare($1, options: [.numeric]) == .orderedAscending }
        guard !images.isEmpty else {
            throw FacetError.file(path, "no images in this folder (looked for .png, .jpg, .jpeg)")
        }
        let folder = path.hasSuffix("/") ? String(path.dropLast()) : path
        self.path = path
        self.files = images.map { folder + "/" + $0 }
        let first = try ImageFile.read(path: files[0])
        let kind = ImageFile.kind(of: try ImageFile.readData(path: files[0]))
        self.info = VideoInfo(container: "stills", codec: kind == .png ? "png" : "mjpeg", width: first.width,
                              height: first.height,
                              fps: fps, frameCount: files.count, duration: Double(files.count) / fps, hasAudio: false)
    }

    /// Frame `index` as RGB, with pts `index / fps`. Images may differ in size from the first.
    public func frame(at index: Int) throws -> DecodedFrame {
        precondition(files.indices.contains(index), "frame \(index) outside 0..<\(files.count)")
        return DecodedFrame(index: index, pts: Double(index) / info.fps, image: try ImageFile.read(path: files[index]))
    }
}
