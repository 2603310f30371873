/// Random-access byte sources that FFmpeg can read through a custom AVIO context.
import FacetCore
import Foundation

/// Bytes that can be read at any offset: the store implements this over a stored video's chunks,
/// so a video is decoded straight from the project file without a temporary copy.
///
/// Sendable because a decoder may be opened on one task and the source shared by several decoders
/// (probe, extraction, merge); implementations must allow concurrent `read` calls.
public protocol RandomAccessByteSource: AnyObject, Sendable {
    /// Total length in bytes.
    var size: Int64 { get }
    /// Copies up to `buffer.count` bytes starting at `offset` into `buffer`; returns how many were
    /// copied, 0 at or past the end. Throws when the bytes cannot be read.
    func read(at offset: Int64, into buffer: UnsafeMutableRawBufferPointer) throws -> Int
}

/// Bytes held in memory.
public final class DataByteSource: RandomAccessByteSource {
    /// The bytes it serves.
    public let data: Data
    /// A source over `data` (kept, not copied).
    public init(_ data: Data) { self.data = data }
    /// The length of `data`, in bytes.
    public var size: Int64 { Int64(data.count) }

    /// Copies up to `buffer.count` bytes from `offset` into `buffer`; 0 at or past the end.
    public func read(at offset: Int64, into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        guard offset >= 0, offset < size else { return 0 }
        let start = data.startIndex + Int(offset)
        let count = min(buffer.count, data.endIndex - start)
        data.copyBytes(to: buffer.bindMemory(to: UInt8.self), from: start..<(start + count))
        return count
    }
}

/// A file read with `pread`, so concurrent readers never share a file position.
public final class FileByteSource: RandomAccessByteSource {
    /// The file's path, for messages.
    public let path: String
    /// The file's length in bytes, read once when it was opened.
    public let size: Int64
    private let descriptor: Int32

    /// Opens the file at `path` for reading; throws (naming it) when it is missing, a folder or unreadable.
    public init(path: String) throws {
        var isFolder: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isFolder) else {
            throw FacetError.file(path, "no such file")
        }
        guard !isFolder.boolValue else { throw FacetError.file(path, "is a folder, not a file") }
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw FacetError.file(path, "cannot open (\(String(cString: strerror(errno))))") }
        var status = stat()
        guard fstat(fd, &status) == 0 else {
            close(fd)
            throw FacetError.file(path, "cannot read its size (\(String(cString: strerror(errno))))")
        }
        self.path = path
        self.descriptor = fd
        self.size = Int64(status.st_size)
    }

    deinit { close(descriptor) }

    /// Copies up to `buffer.count` bytes from `offset` into `buffer` with `pread` (retried on EINTR);
    /// 0 at or past the end; throws when the read fails.
    public func read(at offset: Int64, into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        while true {
            let n = pread(descriptor, buffer.baseAddress, buffer.count, off_t(offset))
            if n >= 0 { return n }
            if errno == EINTR { continue }
            throw FacetError.file(path, "read failed at byte \(offset) (\(String(cString: strerror(errno))))")
        }
    }
}
