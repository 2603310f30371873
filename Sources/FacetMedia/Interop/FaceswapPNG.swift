/// faceswap's aligned-face PNGs: the `faceswap` iTXt chunk holding the face's alignment and source as a Python
/// literal (`str()` of a dict, read back by faceswap with `ast.literal_eval`), read with a strict literal parser.
import FacetCore
import Foundation

/// What faceswap stores in an aligned face PNG, typed.
public struct FaceswapFaceInfo: Sendable, Equatable {
    /// The 68 landmarks in the source frame's pixels.
    public var landmarks: [[Double]]
    /// The detected box in the source frame: x, y, width, height.
    public var box: [Double]
    /// The frame the face was cut from.
    public var sourceFilename: String?
    /// Which face of that frame it is.
    public var faceIndex: Int?
    /// The face file's name when faceswap wrote it.
    public var originalFilename: String?
    /// The whole dict, for what Facet does not use yet.
    public var raw: PyValue

    /// The typed fields of faceswap's dict; a field of the wrong type or shape is an error naming it.
    public init(dict: PyValue) throws {
        guard case .dict = dict, let a = dict["alignments"], case .dict = a else {
            throw FacetError("faceswap chunk: no 'alignments' dict")
        }
        guard let lm = a["landmarks_xy"]?.rows(width: 2), lm.count == 68,
            lm.allSatisfy({ $0.allSatisfy(\.isFinite) }) else {
            throw FacetError("faceswap chunk: 'landmarks_xy' is not 68 finite (x, y) points")
        }
        landmarks = lm
        var b: [Double] = []
        for k in ["x", "y", "w", "h"] {
            guard let v = a[k]?.number, v.isFinite else {
                throw FacetError("faceswap chunk: alignment '\(k)' is not a number")
            }
            b.append(v)
        }
        box = b
        raw = dict
        if let s = dict["source"] {
            if case .str(let f)? = s["source_filename"] { sourceFilename = f }
            if case .str(let f)? = s["original_filename"] { originalFilename = f }
            if let i = s["face_index"]?.number { faceIndex = Int(i) }
        }
    }
}

/// Reading faceswap's `faceswap` iTXt chunk from a PNG.
public enum FaceswapPNG {
    /// The chunk's text, or nil when the PNG has none. Walks the chunks from the signature to IEND; a
    /// chunk running past the end, or a compressed `faceswap` chunk, is an error.
    public static func text(in data: Data) throws -> String? {
        let sig: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]
        let b = data.startIndex
        guard data.count >= 8, Array(data[b..<b + 8]) == sig else { throw FacetError("not a PNG image") }
        var i = b + 8
        while i + 8 <= data.endIndex {
            let length = Int(data[i]) << 24 | Int(data[i + 1]) << 16 | Int(data[i + 2]) << 8 | Int(data[i + 3])
            let type = String(decoding: data[i + 4..<i + 8], as: UTF8.self)
            guard length <= data.endIndex - i - 12 else {
                throw FacetError("truncated PNG chunk '\(type)' at byte \(i - b)")
            }
            let body = data[i + 8..<i + 8 + length]
            if type == "IEND" { return nil }
            if type == "iTXt", let zero = body.firstIndex(of: 0),
               String(decoding: body[body.startIndex..<zero], as: UTF8.self) == "faceswap" {
                // keyword \0, compression flag, method, language \0, translated keyword \0, text
                var j = zero + 1
                guard j + 2 <= body.endIndex else { throw FacetError("truncated faceswap chunk") }
                guard body[j] == 0 else {
                    throw FacetError("a compressed faceswap chunk (faceswap writes it uncompressed)")
                }
                j += 2
                for _ in 0..<2 {
                    guard let z = body[j...].firstIndex(of: 0) else { throw FacetError("truncated faceswap chunk") }
                    j = z + 1
                }
                return String(decoding: body[j...], as: UTF8.self)
            }
            i += 12 + length
        }
        throw FacetError("truncated PNG (no IEND chunk)")
    }

    /// faceswap's metadata of a PNG, or nil when it has no `faceswap` chunk.
    public static func read(_ data: Data) throws -> FaceswapFaceInfo? {
        guard let t = try text(in: data) else { return nil }
        return try FaceswapFaceInfo(dict: PythonLiteral.parse(t, what: "faceswap chunk"))
    }
}

/// A strict parser of Python literals as `str()` writes them (what `ast.literal_eval` reads back): dicts,
/// lists, tuples, str, bytes, int, float, True, False, None. Anything else is refused with one line.
public struct PythonLiteral {
    /// How deep containers may nest.
    public static let maxDepth = 64

    /// The value `text` spells; `what` names it in errors.
    public static func parse(_ text: String, what: String = "Python literal") throws -> PyValue {
        var p = PythonLiteral(chars: Array(text.unicodeScalars), what: what)
        let v = try p.value(depth: 0)
        p.skipSpace()
        guard p.pos == p.chars.count else { throw p.fail("unexpected text after the value") }
        return v
    }

    private let chars: [Unicode.Scalar]
    private let what: String
    private var pos = 0
    private init(chars: [Unicode.Scalar], what: String) { self.chars = chars; self.what = what }

    private func fail(_ why: String) -> FacetError { FacetError("\(what): \(why) at character \(pos)") }
    private mutating func skipSpace() {
        while pos < chars.count, [" ", "\n", "\t", "\r"].contains(chars[pos]) { pos += 1 }
    }
    private func peek() -> Unicode.Scalar? { pos < chars.count ? chars[pos] : nil }

    private mutating func value(depth: Int) throws -> PyValue {
        guard depth <= PythonLiteral.maxDepth else {
            throw fail("values nested more than \(PythonLiteral.maxDepth) deep")
        }
        skipSpace()
        guard let c = peek() else { throw fail("the text ends where a value was expected") }
        switch c {
        case "{":
            pos += 1
            var items: [(PyValue, PyValue)] = []
            while true {
                skipSpace()
                if peek() == "}" { pos += 1; return .dict(items) }
                let k = try value(depth: depth + 1)
                skipSpace()
                guard peek() == ":" else { throw fail("':' expected in a dict") }
                pos += 1
                items.append((k, try value(depth: depth + 1)))
                skipSpace()
                if peek() == "," { pos += 1 } else if peek() != "}" { throw fail("',' or '}' expected") }
            }
        case "[", "(":
            let close: Unicode.Scalar = c == "[" ? "]" : ")"
            pos += 1
            var items: [PyValue] = []
            while true {
                skipSpace()
                if peek() == close { pos += 1; return c == "[" ? .list(items) : .tuple(items) }
                items.append(try value(depth: depth + 1))
                skipSpace()
                if peek() == "," { pos += 1 } else if peek() != close { throw fail("',' or '\(close)' expected") }
            }
        case "'", "\"": return .str(try quoted())
        case "b":
            pos += 1
            guard let q = peek(), q == "'" || q == "\"" else { throw fail("a name where a value was expected") }
            let s = try quoted(bytes: true)
            return .bytes(Data(s.unicodeScalars.map { UInt8($0.value) }))
        default:
            if c == "-" || c == "+" || c == "." || ("0"..."9").contains(c) { return try number() }
            var word = ""
            while let ch = peek(), ch.properties.isAlphabetic || ch == "_" || ("0"..."9").contains(ch) {
                word.unicodeScalars.append(ch)
                pos += 1
            }
            switch word {
            case "True": return .bool(true)
            case "False": return .bool(false)
            case "None": return .none
            case "inf": return .float(.infinity)
            case "nan": return .float(.nan)
            default: throw fail("'\(word.prefix(40))' is not a literal (only dict, list, tuple, str, bytes, numbers, "
                                + "True, False, None are)")
            }
        }
    }

    private mutating func number() throws -> PyValue {
        let start = pos
        if peek() == "-" || peek() == "+" { pos += 1 }
        var isFloat = false
        while let c = peek(), ("0"..."9").contains(c) || c == "." || c == "e" || c == "E"
                || ((c == "-" || c == "+") && (chars[pos - 1] == "e" || chars[pos - 1] == "E")) {
            if c == "." || c == "e" || c == "E" { isFloat = true }
            pos += 1
        }
        var text = String(String.UnicodeScalarView(chars[start..<pos]))
        if text == "-" || text == "+" {
            // -inf / -nan
            var word = ""
            while let ch = peek(), ch.properties.isAlphabetic { word.unicodeScalars.append(ch); pos += 1 }
            guard word == "inf" || word == "nan" else { throw fail("a malformed number") }
            text += word
            isFloat = true
        }
        if isFloat {
            guard let d = Double(text) else { throw fail("a malformed number '\(text.prefix(40))'") }
            return .float(d)
        }
        guard let i = Int64(text) else { throw fail("an integer out of range or malformed '\(text.prefix(40))'") }
        return .int(i)
    }

    private mutating func quoted(bytes: Bool = false) throws -> String {
        let q = chars[pos]
        pos += 1
        var out = String.UnicodeScalarView()
        while true {
            guard let c = peek() else { throw fail("an unterminated string") }
            pos += 1
            if c == q { return String(out) }
            if c != "\\" {
                if bytes && c.value > 127 { throw fail("a non-ASCII character in a bytes literal") }
                out.append(c); continue
            }
            guard let e = peek() else { throw fail("an unterminated string") }
            pos += 1
            switch e {
            case "n": out.append("\n")
            case "r": out.append("\r")
            case "t": out.append("\t")
            case "\\", "'", "\"": out.append(e)
            case "x", "u", "U":
                let n = e == "x" ? 2 : e == "u" ? 4 : 8
                guard !(bytes && e != "x"), pos + n <= chars.count,
                      let v = UInt32(String(String.UnicodeScalarView(chars[pos..<pos + n])), radix: 16),
                          let s = Unicode.Scalar(v) else {
                    throw fail("a malformed escape")
                }
                pos += n
                out.append(s)
            default: throw fail("an escape '\\\(e)' Python's str() does not write")
            }
        }
    }
}
