/// DeepFaceLab's aligned-face JPEGs: the APP15 segment holding a pickled dict of the face's metadata
/// (DFLIMG/DFLJPG.py), read and written.
import FacetCore
import Foundation

/// The metadata DeepFaceLab keeps in an aligned face JPEG, typed. Fields DeepFaceLab leaves out are nil.
public struct DFLFaceInfo: Sendable, Equatable {
    /// DeepFaceLab's face type name: `half_face`, `midfull_face`, `full_face`, `whole_face`, `head`, ...
    public var faceType: String?
    /// The 68 landmarks in the aligned image's pixels.
    public var landmarks: [[Double]]?
    /// The frame the face was cut from (a file name).
    public var sourceFilename: String?
    /// The detector's box in the source frame: left, top, right, bottom.
    public var sourceRect: [Double]?
    /// The 68 landmarks in the source frame's pixels.
    public var sourceLandmarks: [[Double]]?
    /// Source frame -> aligned image, 2x3 row-major.
    public var imageToFaceMatrix: [Double]?
    /// Hand-drawn polygons: type 1 includes, 0 excludes; points in the aligned image's pixels.
    public var segIEPolys: [SegPolygon]?
    /// The XSeg mask as DeepFaceLab stores it: PNG or JPEG bytes of a one-channel image.
    public var xsegMask: Data?
    /// The other keys, kept as they were.
    public var extra: [(String, PyValue)] = []

    /// One polygon of `seg_ie_polys`.
    public struct SegPolygon: Sendable, Equatable, Codable {
        /// 1: the polygon includes its area in the mask; 0: it excludes it.
        public var type: Int
        /// The polygon's points, [x, y] in the aligned image's pixels.
        public var pts: [[Double]]
        /// A polygon of `type` through `pts`.
        public init(type: Int, pts: [[Double]]) { self.type = type; self.pts = pts }
    }

    /// Metadata with the given fields; the ones left out stay nil (DeepFaceLab leaves them out too).
    public init(faceType: String? = nil, landmarks: [[Double]]? = nil, sourceFilename: String? = nil,
                sourceRect: [Double]? = nil,
                sourceLandmarks: [[Double]]? = nil, imageToFaceMatrix: [Double]? = nil, segIEPolys: [SegPolygon]? = nil,
                xsegMask: Data? = nil) {
        self.faceType = faceType; self.landmarks = landmarks; self.sourceFilename = sourceFilename
        self.sourceRect = sourceRect; self.sourceLandmarks = sourceLandmarks; self.imageToFaceMatrix = imageToFaceMatrix
        self.segIEPolys = segIEPolys
        self.xsegMask = xsegMask
    }

    /// Field by field, `extra` in order (its values compared as `PyValue`s).
    public static func == (a: DFLFaceInfo, b: DFLFaceInfo) -> Bool {
        a.faceType == b.faceType && a.landmarks == b.landmarks && a.sourceFilename == b.sourceFilename
            && a.sourceRect == b.sourceRect && a.sourceLandmarks == b.sourceLandmarks
            && a.imageToFaceMatrix == b.imageToFaceMatrix && a.segIEPolys == b.segIEPolys
            && a.xsegMask == b.xsegMask && a.extra.count == b.extra.count && zip(a.extra, b.extra).allSatisfy {
                $0.0 == $1.0 && $0.1 == $1.1
            }
    }

    /// The typed fields of DeepFaceLab's dict; a field of the wrong type or shape is an error naming it.
    public init(dict value: PyValue) throws {
        guard case .dict(let items) = value else { throw FacetError("the APP15 block does not hold a dict") }
        func bad(_ key: String, _ want: String) -> FacetError { FacetError("APP15 field '\(key)' is not \(want)") }
        for (k, v) in items {
            guard case .str(let key) = k else { throw FacetError("the APP15 dict has a key that is not a string") }
            if case .none = v { continue }
            switch key {
            case "face_type":
                guard case .str(let s) = v else { throw bad(key, "a string") }
                faceType = s
            case "landmarks", "source_landmarks":
                guard let rows = v.rows(width: 2), rows.count == 68,
                    rows.allSatisfy({ $0.allSatisfy(\.isFinite) }) else {
                    throw bad(key, "68 finite (x, y) points")
                }
                if key == "landmarks" { landmarks = rows } else { sourceLandmarks = rows }
            case "source_filename":
                guard case .str(let s) = v else { throw bad(key, "a string") }
                sourceFilename = s
            case "source_rect":
                guard let r = v.numbers, r.count == 4, r.allSatisfy(\.isFinite) else { throw bad(key, "4 numbers") }
                sourceRect = r
            case "image_to_face_mat":
                let m = v.rows(width: 3)?.flatMap { $0 } ?? v.numbers
                guard let m, m.count == 6, m.allSatisfy(\.isFinite) else { throw bad(key, "a 2x3 matrix") }
                imageToFaceMatrix = m
            case "seg_ie_polys":
                guard case .list(let polys)? = v["polys"] else { throw bad(key, "a dict of 'polys'") }
                segIEPolys = try polys.map { p in
                    guard let t = p["type"]?.number,
                        let pts = p["pts"]?.rows(width: 2) ?? (p["pts"]?.numbers == [] ? [] : nil),
                          pts.allSatisfy({ $0.allSatisfy(\.isFinite) }) else {
                        throw bad(key, "a list of polygons with a type and (x, y) points")
                    }
                    return SegPolygon(type: Int(t), pts: pts)
                }
            case "xseg_mask":
                switch v {
                case .bytes(let d): xsegMask = d
                case .array(let a) where a.kind == "u" && a.itemSize == 1: xsegMask = a.data
                default: throw bad(key, "encoded image bytes")
                }
            default:
                extra.append((key, v))
            }
        }
    }

    /// The dict DeepFaceLab writes (fields that are nil left out, as its `dump` does), in its key order.
    public var dict: PyValue {
        var items: [(PyValue, PyValue)] = []
        func rows(_ r: [[Double]], _ array: Bool) -> PyValue {
            array ? .array(NDArray(float32: r.flatMap { $0.map(Float.init) }, shape: [r.count, 2]))
                  : .list(r.map { .list($0.map { .float($0) }) })
        }
        if let faceType { items.append((.str("face_type"), .str(faceType))) }
        if let landmarks { items.append((.str("landmarks"), rows(landmarks, false))) }
        if let sourceFilename { items.append((.str("source_filename"), .str(sourceFilename))) }
        if let sourceRect { items.append((.str("source_rect"), .tuple(sourceRect.map { .int(Int64($0.rounded())) }))) }
        if let sourceLandmarks { items.append((.str("source_landmarks"), rows(sourceLandmarks, false))) }
        if let imageToFaceMatrix {
            items.append((.str("image_to_face_mat"), .array(NDArray(float64: imageToFaceMatrix, shape: [2, 3]))))
        }
        if let segIEPolys, !segIEPolys.isEmpty {
            let polys: [PyValue] = segIEPolys.map {
                .dict([(.str("type"), .int(Int64($0.type))), (.str("pts"), rows($0.pts, true))])
            }
            items.append((.str("seg_ie_polys"), .dict([(.str("polys"), .list(polys))])))
        }
        if let xsegMask {
            items.append((.str("xseg_mask"),
                          .array(NDArray(kind: "u", itemSize: 1, bigEndian: false, shape: [xsegMask.count, 1],
                                         data: xsegMask))))
        }
        for (k, v) in extra { items.append((.str(k), v)) }
        return .dict(items)
    }
}

/// Reading and writing the APP15 segment of a JPEG the way DeepFaceLab's DFLJPG does.
public enum DFLJPG {
    /// The payload of the APP15 segment, or nil when the JPEG has none. Walks the segments from SOI to
    /// the start of scan; a file that is not a JPEG, or a segment running past the end, is an error.
    public static func app15(in data: Data) throws -> Data? {
        try segments(data).app15.map { data[$0] }
    }

    /// DeepFaceLab's metadata of a JPEG, or nil when it has no APP15 segment. A truncated segment, a
    /// pickle outside the subset DeepFaceLab writes, or a field of the wrong shape is an error.
    public static func read(_ data: Data) throws -> DFLFaceInfo? {
        guard let payload = try app15(in: data) else { return nil }
        return try DFLFaceInfo(dict: Unpickler.load(payload, what: "APP15 block"))
    }

    /// The JPEG with `info` as its APP15 segment, placed after the last APPn segment (any earlier APP15
    /// replaced), as DeepFaceLab's `dump` places it. The pickle must fit one segment (65,533 bytes).
    public static func write(_ info: DFLFaceInfo, into jpeg: Data) throws -> Data {
        let payload = Pickler.dumps(info.dict)
        guard payload.count <= 65533 else {
            throw FacetError("DeepFaceLab metadata of \(payload.count) bytes does not fit a JPEG segment "
                             + "(65,533 at most)")
        }
        let s = try segments(jpeg)
        var out = Data(jpeg[jpeg.startIndex..<s.insertAt])
        if let old = s.app15 {
            // Drop the old segment: its marker and length sit in the 4 bytes before the payload.
            out = Data(jpeg[jpeg.startIndex..<(old.lowerBound - 4)]) + Data(jpeg[old.upperBound..<s.insertAt])
        }
        out.append(contentsOf: [0xFF, 0xEF, UInt8((payload.count + 2) >> 8), UInt8((payload.count + 2) & 0xFF)])
        out.append(payload)
        out.append(jpeg[s.insertAt...])
        return out
    }

    /// The APP15 payload's range, and where a new APP15 goes (after the last APPn before the scan).
    static func segments(_ data: Data) throws -> (app15: Range<Data.Index>?, insertAt: Data.Index) {
        let b = data.startIndex
        guard data.count >= 4, data[b] == 0xFF, data[b + 1] == 0xD8 else {
            throw FacetError("not a JPEG image (no SOI marker)")
        }
        var i = b + 2, app15: Range<Data.Index>? = nil, insertAt = i
        while true {
            guard i + 2 <= data.endIndex else {
                throw FacetError("truncated JPEG (the segments end before the image data)")
            }
            guard data[i] == 0xFF else { throw FacetError("damaged JPEG (no segment marker at byte \(i - b))") }
            let marker = data[i + 1]
            if marker == 0xFF { i += 1; continue } // fill byte
            if marker == 0xD9 || marker == 0xDA || (0xD0...0xD7).contains(marker) || marker == 0x01 {
                // Start of scan (or the end): no metadata segment follows in DeepFaceLab's layout.
                if marker == 0xDA || marker == 0xD9 { return (app15, insertAt) }
                i += 2; continue
            }
            guard i + 4 <= data.endIndex else {
                throw FacetError("truncated JPEG (a segment header is cut off at byte \(i - b))")
            }
            let length = Int(data[i + 2]) << 8 | Int(data[i + 3])
            guard length >= 2, i + 2 + length <= data.endIndex else {
                let name = marker == 0xEF ? "APP15 block" : String(format: "segment 0x%02X", marker)
                throw FacetError("truncated \(name) (\(length) bytes announced at byte \(i - b), "
                                 + "\(data.endIndex - i - 2) left)")
            }
            if marker == 0xEF, app15 == nil { app15 = (i + 4)..<(i + 2 + length) }
            i += 2 + length
            if marker & 0xF0 == 0xE0 { insertAt = i }
        }
    }
}
