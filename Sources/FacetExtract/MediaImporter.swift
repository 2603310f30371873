/// `facet import`: a video file or a folder of stills into the project, all or nothing.
import Foundation
import FacetCore
import FacetMedia
import FacetStore

/// `facet import`: stores a video or a folder of stills in the project as a media.
public enum MediaImporter {
    /// Probes `path` (a video, or a folder of PNG/JPEG stills), hashes it, and stores it in the
    /// project in chunks (or only its path and hash with `link`). One transaction: a failure or a
    /// kill leaves the project as it was. The same content twice is refused by hash.
    @discardableResult
    public static func importMedia(path: String, role: Role, link: Bool, stillsFPS: Double = 25,
                                   into project: Project) throws -> MediaRecord {
        var isFolder: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isFolder) else {
            throw FacetError.file(path, "no such file or folder")
        }
        let absolute = URL(fileURLWithPath: path).standardizedFileURL.path
        let name = (absolute as NSString).lastPathComponent
        if isFolder.boolValue {
            if link {
                throw FacetError.file(path, "--link works for video files only; a folder of stills is always stored")
            }
            let folder = try StillsFolder(path: path, fps: stillsFPS)
            // Check every image decodes before storing any, and hash names and bytes in order.
            var hasher = SHA256()
            var total: Int64 = 0
            for file in folder.files {
                let data = try readFile(file)
                _ = try ImageFile.read(path: file)
                hasher.update(Data((file as NSString).lastPathComponent.utf8))
                hasher.update(data)
                total += Int64(data.count)
            }
            let info = folder.info
            let record = MediaRecord(role: role, name: name, kind: .stills, storage: .embedded, path: absolute,
                                     sha256: hasher.finalizeHex(),
                                     byteSize: total, container: info.container, codec: info.codec, width: info.width,
                                     height: info.height,
                                     fps: info.fps, frameCount: info.frameCount, duration: info.duration,
                                     hasAudio: false)
            var next = 0
            return try project.importMedia(record) {
                guard next < folder.files.count else { return nil }
                defer { next += 1 }
                let file = folder.files[next]
                return ((file as NSString).lastPathComponent, try readFile(file))
            }
        }
        let info = try VideoProbe.probe(path: path)
        try VideoProbe.verifyComplete(path: path)
        let sha = try SHA256.hex(ofFile: path)
        let size = ((try? FileManager.default.attributesOfItem(atPath: path)[.size]) as? NSNumber)?.int64Value ?? 0
        let record = MediaRecord(role: role, name: name, kind: .video, storage: link ? .linked : .embedded,
                                 path: absolute, sha256: sha,
                                 byteSize: size, container: info.container, codec: info.codec, width: info.width,
                                 height: info.height,
                                 fps: info.fps, frameCount: info.frameCount, duration: info.duration,
                                 hasAudio: info.hasAudio)
        if link { return try project.importMedia(record) { nil } }
        guard let handle = FileHandle(forReadingAtPath: path) else { throw FacetError.file(path, "cannot be read") }
        defer { try? handle.close() }
        var stored: Int64 = 0
        return try project.importMedia(record) {
            let block: Data?
            do { block = try handle.read(upToCount: Project.mediaChunkBytes) } catch {
                throw FacetError.file(path, "read failed at byte \(stored): \(error.localizedDescription)")
            }
            guard let block, !block.isEmpty else {
                if stored != size { throw FacetError.file(path, "changed while it was being imported") }
                return nil
            }
            stored += Int64(block.count)
            return (nil, block)
        }
    }

    private static func readFile(_ path: String) throws -> Data {
        guard let d = FileManager.default.contents(atPath: path) else { throw FacetError.file(path, "cannot be read") }
        return d
    }
}
