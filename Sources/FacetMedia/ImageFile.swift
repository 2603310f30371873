/// Reading and writing PNG/JPEG image files on disk.
import FacetCore
import Foundation

/// Image files by content (reading) or by extension (writing).
public enum ImageFile {
    /// The file extensions Facet treats as images, lower-case.
    public static let extensions: Set<String> = ["png", "jpg", "jpeg"]

    /// The kind of image a file holds, judged by its first bytes (names can lie).
    public enum Kind: Sendable { case png, jpeg }

    /// PNG or JPEG by magic bytes; nil for anything else.
    public static func kind(of data: Data) -> Kind? {
        if data.starts(with: [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]) { return .png }
        if data.starts(with: [0xFF, 0xD8, 0xFF]) { return .jpeg }
        return nil
    }

    /// The image at `path` as RGB (alpha dropped, grey expanded), whatever its extension says.
    public static func read(path: String) throws -> Image {
        let data = try readData(path: path)
        do {
            switch kind(of: data) {
            case .png: return try PNGCodec.decode(data).rgb()
            case .jpeg: return try JPEGCodec.decode(data)
            case nil: throw FacetError("not a PNG or JPEG image")
            }
        } catch let error as FacetError {
            throw FacetError.file(path, error.message)
        }
    }

    /// Writes PNG for `.png` and JPEG (quality 90, or `jpegQuality`) for `.jpg`/`.jpeg`, atomically.
    public static func write(_ image: Image, path: String, jpegQuality: Int = 90) throws {
        let ext = (path as NSString).pathExtension.lowercased()
        let data: Data
        do {
            switch ext {
            case "png": data = try PNGCodec.encode(image)
            case "jpg", "jpeg": data = try JPEGCodec.encode(image, quality: jpegQuality)
            default: throw FacetError("unknown image extension '.\(ext)': use .png, .jpg or .jpeg")
            }
        } catch let error as FacetError {
            throw FacetError.file(path, error.message)
        }
        do {
            try data.write(to: URL(fileURLWithPath: path), options: .atomic)
        } catch {
            throw FacetError.file(path, "cannot write (\(reason(error)))")
        }
    }

    static func readData(path: String) throws -> Data {
        var isFolder: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isFolder) else {
            throw FacetError.file(path, "no such file")
        }
        if isFolder.boolValue { throw FacetError.file(path, "is a folder, not an image file") }
        do {
            return try Data(contentsOf: URL(fileURLWithPath: path))
        } catch {
            throw FacetError.file(path, "cannot read (\(reason(error)))")
        }
    }

    /// The underlying POSIX reason of a Foundation file error, which is what users can act on.
    static func reason(_ error: Error) -> String {
        let ns = error as NSError
        if let underlying = ns.userInfo[NSUnderlyingErrorKey] as? NSError, underlying.domain == NSPOSIXErrorDomain {
            return String(cString: strerror(Int32(underlying.code)))
        }
        return ns.localizedDescription
    }
}
