/// Hand-drawn mask labels: include and exclude polygons in a face crop's pixel coordinates, their rasterizer, and the
/// JSON-lines label file of `facet mask --import` / `--export-labels`.
import Foundation

/// One polygon of a face's mask label, in the face crop's pixel coordinates: (0, 0) is the crop's top-left corner,
/// (size, size) its bottom-right one, and pixel (i, j) covers [i, i + 1) x [j, j + 1).
public struct MaskPolygon: Sendable, Equatable, Codable {
    /// What a polygon does to the mask, applied in order.
    public enum Kind: String, Sendable, Equatable, Codable, CaseIterable {
        /// Fills the polygon: part of the face to keep.
        case include
        /// Cuts the polygon out of what earlier polygons filled: a hand, hair, a microphone over the face.
        case exclude
    }

    /// Include or exclude.
    public var kind: Kind
    /// The corners in order (at least 3), closed back to the first.
    public var points: [Point2]

    /// A polygon of `kind` with these corners.
    public init(kind: Kind, points: [Point2]) { self.kind = kind; self.points = points }

    /// Most polygons one face may hold, and most corners one polygon may have: far above what hand labelling
    /// makes, and a bound on what one label line can cost to store and draw.
    public static let maxPolygons = 256, maxPoints = 4096

    /// The polygon with every corner mapped through `m` (e.g. from one face's crop to another's).
    public func transformed(by m: Affine2D) -> MaskPolygon { MaskPolygon(kind: kind, points: points.map(m.apply)) }

    /// The polygon with every corner moved inside 0...size on both axes.
    public func clamped(to size: Int) -> MaskPolygon {
        let s = Double(size)
        return MaskPolygon(kind: kind, points: points.map { Point2(min(max($0.x, 0), s), min(max($0.y, 0), s)) })
    }

    /// The polygon with its corners rounded to float32, as the project stores them.
    public var stored: MaskPolygon {
        MaskPolygon(kind: kind, points: points.map { Point2(Double(Float($0.x)), Double(Float($0.y))) })
    }

    /// Why the polygon cannot label a crop of `cropSize` pixels (nil when it can): fewer than 3 corners, too many,
    /// or a corner that is not a number or lies outside the crop.
    public func problem(cropSize: Int) -> String? {
        guard points.count >= 3 else {
            return "has \(points.count) point\(points.count == 1 ? "" : "s"); a polygon needs at least 3"
        }
        guard points.count <= Self.maxPoints else {
            return "has \(points.count) points; a polygon may have at most \(Self.maxPoints)"
        }
        let s = Double(cropSize)
        if let p = points.first(where: { !$0.x.isFinite || !$0.y.isFinite || $0.x < 0 || $0.y < 0 || $0.x > s
                                         || $0.y > s }) {
            return "point [\(MaskLabels.number(p.x)), \(MaskLabels.number(p.y))] lies outside the "
                + "\(cropSize)x\(cropSize) crop (0...\(cropSize) on both axes)"
        }
        return nil
    }

    /// The 8-bit mask the polygons draw on a `width x height` crop: 0 everywhere, each include polygon filled with
    /// 255, each exclude polygon cut back to 0, in order (non-zero winding, so a polygon that crosses itself is
    /// filled whole). With `samples` > 1 each pixel is `samples x samples` points and its value the share inside
    /// (anti-aliased edges); with 1, a pixel is inside when its centre is.
    public static func rasterize(_ polygons: [MaskPolygon], width: Int, height: Int, samples: Int = 4) -> [UInt8] {
        precondition(width >= 0 && height >= 0 && samples >= 1, "rasterize needs a size and at least 1 sample")
        var out = [UInt8](repeating: 0, count: width * height)
        guard !polygons.isEmpty, width > 0, height > 0 else { return out }
        struct Edge { var x0, y0, x1, y1: Double; var up: Bool }
        let shapes: [(include: Bool, edges: [Edge], top: Double, bottom: Double)] = polygons.map { poly in
            var edges: [Edge] = []
            var top = Double.infinity, bottom = -Double.infinity
            for i in poly.points.indices {
                let a = poly.points[i], b = poly.points[(i + 1) % poly.points.count]
                guard a.x.isFinite, a.y.isFinite, b.x.isFinite, b.y.isFinite, a.y != b.y else { continue }
                edges.append(a.y < b.y ? Edge(x0: a.x, y0: a.y, x1: b.x, y1: b.y, up: true)
                                       : Edge(x0: b.x, y0: b.y, x1: a.x, y1: a.y, up: false))
                top = min(top, a.y, b.y); bottom = max(bottom, a.y, b.y)
            }
            return (poly.kind == .include, edges, top, bottom)
        }
        let s = samples, rowSamples = width * s, n = s * s
        var line = [UInt8](repeating: 0, count: rowSamples)
        var coverage = [Int](repeating: 0, count: width)
        var crossings: [(x: Double, wind: Int)] = []
        for y in 0..<height {
            for x in 0..<width { coverage[x] = 0 }
            for sy in 0..<s {
                let py = Double(y) + (Double(sy) + 0.5) / Double(s)
                for i in 0..<rowSamples { line[i] = 0 }
                for shape in shapes where py >= shape.top && py < shape.bottom {
                    crossings.removeAll(keepingCapacity: true)
                    for e in shape.edges where py >= e.y0 && py < e.y1 {
                        crossings.append((e.x0 + (py - e.y0) * (e.x1 - e.x0) / (e.y1 - e.y0), e.up ? 1 : -1))
                    }
                    crossings.sort { $0.x < $1.x }
                    let value: UInt8 = shape.include ? 1 : 0
                    var wind = 0, start = 0.0
                    for c in crossings {
                        let before = wind
                        wind += c.wind
                        if before == 0 && wind != 0 {
                            start = c.x
                        } else if before != 0 && wind == 0 {
                            // Sample i (centre (i + 0.5) / s) is inside when start <= centre < c.x.
                            let limit = Double(rowSamples)
                            let lo = Int(min(max(0, (start * Double(s) - 0.5).rounded(.up)), limit))
                            let hi = Int(min(max(0, (c.x * Double(s) - 0.5).rounded(.up)), limit))
                            if lo < hi { for i in lo..<hi { line[i] = value } }
                        }
                    }
                }
                for i in 0..<rowSamples where line[i] != 0 { coverage[i / s] += 1 }
            }
            for x in 0..<width { out[y * width + x] = UInt8((coverage[x] * 255 + n / 2) / n) }
        }
        return out
    }
}

/// One line of a label file: a face and its polygons (none: the face's labels are cleared).
public struct MaskLabelLine: Sendable, Equatable {
    /// The line number in the file, from 1.
    public var line: Int
    /// The face's id in the project.
    public var face: Int64
    /// The face's polygons, in drawing order.
    public var polygons: [MaskPolygon]
    /// A line with each field given.
    public init(line: Int, face: Int64, polygons: [MaskPolygon]) {
        self.line = line; self.face = face; self.polygons = polygons
    }
}

/// The JSON-lines label file: one face a line, `{"face": ID, "polygons": [{"kind": "include"|"exclude",
/// "points": [[x, y], ...]}]}`; blank lines are skipped, other keys ignored.
public enum MaskLabels {
    private struct LinePayload: Decodable {
        var face: Int64
        var polygons: [PolygonPayload]
    }

    private struct PolygonPayload: Decodable {
        var kind: String
        var points: [[Double]]
    }

    /// Parses a label file's bytes. Throws one `FacetError` naming `path`, the line and the problem: not JSON, not
    /// a label object, an unknown kind, a point that is not two numbers, a polygon with fewer than 3 points, a face
    /// named twice. Crop bounds and face ids are the project's to check (`Project.setMaskPolygons`).
    public static func parse(_ data: Data, path: String) throws -> [MaskLabelLine] {
        var out: [MaskLabelLine] = []
        var firstLine: [Int64: Int] = [:]
        var lineNumber = 0
        for raw in data.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false) {
            lineNumber += 1
            let bytes = Data(raw)
            guard bytes.contains(where: { !($0 == 0x20 || $0 == 0x09 || $0 == 0x0D) }) else { continue }
            let place = "\(path):\(lineNumber)"
            guard String(data: bytes, encoding: .utf8) != nil else {
                throw FacetError.file(place, "is not UTF-8 text (a label file is JSON lines)")
            }
            let payload: LinePayload
            do {
                payload = try JSONDecoder().decode(LinePayload.self, from: bytes)
            } catch let e as DecodingError {
                throw FacetError.file(place, describe(e))
            } catch {
                throw FacetError.file(place, "is not a JSON label line: \(error)")
            }
            guard payload.polygons.count <= MaskPolygon.maxPolygons else {
                throw FacetError.file(place, "face \(payload.face) has \(payload.polygons.count) polygons; "
                                      + "a face may have at most \(MaskPolygon.maxPolygons)")
            }
            var polygons: [MaskPolygon] = []
            for (k, p) in payload.polygons.enumerated() {
                guard let kind = MaskPolygon.Kind(rawValue: p.kind) else {
                    throw FacetError.file(place, "polygon \(k + 1): kind \"\(p.kind)\" is neither \"include\" nor "
                                          + "\"exclude\"")
                }
                if let bad = p.points.firstIndex(where: { $0.count != 2 || !$0[0].isFinite || !$0[1].isFinite }) {
                    throw FacetError.file(place, "polygon \(k + 1): point \(bad + 1) is not [x, y] (two numbers)")
                }
                let poly = MaskPolygon(kind: kind, points: p.points.map { Point2($0[0], $0[1]) })
                if poly.points.count < 3 || poly.points.count > MaskPolygon.maxPoints,
                   let problem = poly.problem(cropSize: Int.max / 2) {
                    throw FacetError.file(place, "polygon \(k + 1) \(problem)")
                }
                polygons.append(poly)
            }
            if let first = firstLine[payload.face] {
                throw FacetError.file(place, "face \(payload.face) is labelled again (first on line \(first)); "
                                      + "give each face one line")
            }
            firstLine[payload.face] = lineNumber
            out.append(MaskLabelLine(line: lineNumber, face: payload.face, polygons: polygons))
        }
        return out
    }

    /// One line of a label file (no line break), with coordinates as float32 prints them.
    public static func line(face: Int64, polygons: [MaskPolygon]) -> String {
        "{\"face\": \(face), \"polygons\": \(json(polygons))}"
    }

    /// The JSON array of `polygons` as a label line holds it.
    public static func json(_ polygons: [MaskPolygon]) -> String {
        "[" + polygons.map { p in
            "{\"kind\": \"\(p.kind.rawValue)\", \"points\": ["
                + p.points.map { "[\(number($0.x)), \(number($0.y))]" }.joined(separator: ", ") + "]}"
        }.joined(separator: ", ") + "]"
    }

    /// Parses the JSON array `json` writes; throws a `FacetError` when it is not one.
    public static func polygons(json text: String) throws -> [MaskPolygon] {
        let lines = try parse(Data("{\"face\": 0, \"polygons\": \(text)}".utf8), path: "polygons")
        return lines.first?.polygons ?? []
    }

    /// A coordinate as float32 prints it (shortest round trip), whole numbers without a fraction.
    public static func number(_ v: Double) -> String {
        let f = Float(v)
        guard f.isFinite else { return v.isNaN ? "NaN" : (v < 0 ? "-Infinity" : "Infinity") }
        if f == f.rounded(), abs(f) < 1e15 { return String(Int64(f)) }
        return "\(f)"
    }

    private static func describe(_ e: DecodingError) -> String {
        func at(_ path: [CodingKey]) -> String {
            path.isEmpty ? "" : " at " + path.map { $0.intValue.map { "[\($0)]" } ?? ".\($0.stringValue)" }
                .joined().drop(while: { $0 == "." })
        }
        switch e {
        case .dataCorrupted(let c) where c.codingPath.isEmpty:
            return "is not JSON (a label file has one JSON object a line: {\"face\": ID, \"polygons\": [...]})"
        case .keyNotFound(let key, let c):
            return "has no \"\(key.stringValue)\"\(at(c.codingPath)) (a label line is {\"face\": ID, \"polygons\": "
                + "[{\"kind\": \"include\"|\"exclude\", \"points\": [[x, y], ...]}]})"
        case .typeMismatch(_, let c), .valueNotFound(_, let c), .dataCorrupted(let c):
            return "unexpected value\(at(c.codingPath)) (a label line is {\"face\": ID, \"polygons\": "
                + "[{\"kind\": \"include\"|\"exclude\", \"points\": [[x, y], ...]}]})"
        @unknown default:
            return "is not a label line"
        }
    }
}
