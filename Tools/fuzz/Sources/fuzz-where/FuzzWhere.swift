/// libFuzzer target: any text as the SQL expression of `--where` (and the gallery's filter) over a
/// project of 40 faces with tags and a rejected one. Each input must list faces or give a FacetError,
/// never a trap; and after every input the project must be exactly as before (the expression only
/// ever runs read-only): same faces, statuses, tags, models and schema.
import FacetCore
import FacetStore
import Foundation

let project: Project = {
    let path = NSTemporaryDirectory() + "facet-fuzz-where-\(getpid()).facet"
    for s in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + s) }
    let p = try! Project.create(at: path)
    let media = try! p.importMedia(MediaRecord(role: .src, name: "clip.mp4", kind: "video", storage: "linked", path: "/nowhere/clip.mp4",
                                               sha256: "fuzz", byteSize: 10, container: "mp4", codec: "h264", width: 64, height: 64, fps: 30,
                                               frameCount: 40, duration: 1.3, hasAudio: false)) { nil }.id!
    let run = try! p.beginExtraction(ExtractionProvenance(role: .src, detector: "fuzz", detectorSHA256: "0", landmarker: "fuzz",
                                                          landmarkerSHA256: "0", optionsJSON: "{}"))
    let frames = (0..<40).map { k -> ExtractedFrame in
        var hist = [Float](repeating: 0, count: 768)
        hist[k % 256] = 1; hist[256 + (k * 7) % 256] = 1; hist[512 + (k * 13) % 256] = 1
        let d = Double(k)
        let face = NewFace(faceIndex: 0, score: 0.9, box: (d, d, 50, 60), points5: [], landmarks: Landmarks68(points: (0..<68).map { Point2(Double($0 + k), Double($0)) }),
                           matrix: Affine2D(a: 1, b: 0, tx: -d, c: 0, d: 1, ty: 0), faceType: "full", cropSize: 64, cropFormat: "jpeg",
                           crop: Data([0xFF, 0xD8, UInt8(k)]), histogram: hist, blur: Double((k * 37) % 101), motionBlur: d, yaw: d - 20,
                           pitch: 0, roll: 0, brightness: 100, hue: 20, faceSize: 50 + d)
        return ExtractedFrame(mediaId: media, frameIndex: k, pts: d / 30, faces: [face])
    }
    try! p.storeFrames(frames, extractionId: run, role: .src)
    _ = try! p.setStatus(.rejected, faceIDs: [3], command: "fuzz")
    _ = try! p.setTag("good", on: [1, 2], command: "fuzz")
    return p
}()

/// Everything a write could change, as one string.
func state() -> String {
    let faces = try! project.faces(matching: FaceQuery())
    let tagged = try! project.faceIDs(matching: FaceQuery(tag: "good"))
    return "\(faces.map { "\($0.id):\($0.status):\($0.blur)" }) \(tagged) \(try! project.counts()) \(try! project.schemaVersion())"
}
let before = state()

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzWhere(_ bytes: UnsafePointer<UInt8>, _ count: Int) -> CInt {
    let text = String(decoding: UnsafeBufferPointer(start: bytes, count: count), as: UTF8.self)
    var q = FaceQuery(whereSQL: text, sort: [FaceSort(.blur, descending: true)], limit: 10)
    _ = try? project.faces(matching: q)
    _ = try? project.countFaces(matching: q)
    q.role = .src
    _ = try? project.faceIDs(matching: q)
    precondition(state() == before, "the expression changed the project: \(text)")
    return 0
}

// SwiftPM links an executable's entry point as `fuzz_where_main` (main is an alias of it), so libFuzzer's
// own main is not linked: this one hands the arguments to libFuzzer's driver.
@_silgen_name("LLVMFuzzerRunDriver")
func LLVMFuzzerRunDriver(_ argc: UnsafeMutablePointer<CInt>, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
                         _ callback: @convention(c) (UnsafePointer<UInt8>, Int) -> CInt) -> CInt

@_cdecl("fuzz_where_main")
public func fuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    var count = argc, values = argv
    // The project is built before the first input, so its one-time allocations are no input's leak.
    precondition(!before.isEmpty)
    return LLVMFuzzerRunDriver(&count, &values, fuzzWhere)
}
