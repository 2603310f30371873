/// dlib's serialization format (`dlib/serialize.h`): the primitives that the shape predictor and
/// the face-recognition network files are written in, read strictly and without trapping.
import Foundation

/// What is wrong with a `.dat` file, before the path is attached.
struct DlibFormatProblem: Error {
    let message: String
}

/// A cursor over dlib's serialization: variable-length integers and (mantissa, exponent) floats.
struct DlibReader {
    private let base: UnsafePointer<UInt8>
    private let end: Int
    private(set) var offset = 0

    init(_ raw: UnsafeRawBufferPointer) {
        // An empty buffer may have no base address; any 1-byte pointer works since `end` is 0.
        base = raw.baseAddress?.assumingMemoryBound(to: UInt8.self) ?? UnsafePointer(bitPattern: 1)!
        end = raw.count
    }

    var atEnd: Bool { offset == end }
    var remaining: Int { end - offset }

    /// A control byte (bit 7: negative; low 4 bits: byte count), then that many little-endian bytes.
    @inline(__always)
    mutating func int(_ what: @autoclosure () -> String) throws(DlibFormatProblem) -> Int64 {
        guard offset < end else { throw truncated(what()) }
        let control = base[offset]
        let size = Int(control & 0x0F)
        guard control & 0x70 == 0, size >= 1, size <= 8 else {
            throw DlibFormatProblem(message: "bad integer control byte 0x\(String(control, radix: 16)) at byte "
                                             + "\(offset) (\(what()))")
        }
        guard offset + 1 + size <= end else { throw truncated(what()) }
        var magnitude: UInt64 = 0
        for i in 0..<size { magnitude |= UInt64(base[offset + 1 + i]) << (8 * UInt64(i)) }
        offset += 1 + size
        guard magnitude <= UInt64(Int64.max) else {
            throw DlibFormatProblem(message: "integer out of range at byte \(offset) (\(what()))")
        }
        return control & 0x80 != 0 ? -Int64(magnitude) : Int64(magnitude)
    }

    /// A count that must lie in `range` (every count is bounded, so a corrupt file cannot make
    /// the parser allocate or loop without limit).
    @inline(__always)
    mutating func count(_ what: @autoclosure () -> String,
                        in range: ClosedRange<Int>) throws(DlibFormatProblem) -> Int {
        let at = offset
        let v = try int(what())
        guard v >= Int64(range.lowerBound), v <= Int64(range.upperBound) else {
            throw DlibFormatProblem(message: "\(what()) is \(v) at byte \(at), "
                                             + "expected \(range.lowerBound)...\(range.upperBound)")
        }
        return Int(v)
    }

    /// dlib's portable float: value = mantissa * 2^exponent; exponents 32000/32001/32002 are
    /// +inf/-inf/NaN.
    @inline(__always)
    mutating func float(_ what: @autoclosure () -> String) throws(DlibFormatProblem) -> Float {
        let mantissa = try int(what())
        let exponent = try int(what())
        switch exponent {
        case 32000: return .infinity
        case 32001: return -.infinity
        case 32002: return .nan
        case -32768...32767:
            // The mantissa of a serialized float has at most 24 significant bits, so the double
            // product is exact and the rounding to float is the only one, as in dlib.
            return Float(Double(sign: mantissa < 0 ? .minus : .plus, exponent: Int(exponent),
                                significand: Double(mantissa.magnitude)))
        default:
            throw DlibFormatProblem(message: "float exponent \(exponent) out of range at byte \(offset) (\(what()))")
        }
    }

    func truncated(_ what: String) -> DlibFormatProblem {
        DlibFormatProblem(message: "file ends at byte \(end) while reading \(what); the file is truncated")
    }

    /// A `double` as dlib writes it: the same (mantissa, exponent) pair as a float, with a
    /// mantissa of up to 53 significant bits.
    mutating func double(_ what: @autoclosure () -> String) throws(DlibFormatProblem) -> Double {
        let mantissa = try int(what())
        let exponent = try int(what())
        switch exponent {
        case 32000: return .infinity
        case 32001: return -.infinity
        case 32002: return .nan
        case -32768...32767:
            return Double(sign: mantissa < 0 ? .minus : .plus, exponent: Int(exponent),
                          significand: Double(mantissa.magnitude))
        default:
            throw DlibFormatProblem(message: "double exponent \(exponent) out of range at byte \(offset) (\(what()))")
        }
    }

    /// A `std::string`: its length as an integer, then that many bytes (at most `maxLength`).
    mutating func string(_ what: @autoclosure () -> String, maxLength: Int = 256) throws(DlibFormatProblem) -> String {
        let n = try count("the length of \(what())", in: 0...maxLength)
        guard n <= remaining else { throw truncated(what()) }
        let text = String(decoding: UnsafeBufferPointer(start: base + offset, count: n), as: UTF8.self)
        offset += n
        return text
    }

    /// A string that must be one of `expected` (dlib's layer and version tags).
    @discardableResult
    mutating func tag(_ what: @autoclosure () -> String, oneOf expected: [String]) throws(DlibFormatProblem) -> String {
        let at = offset
        let found = try string(what())
        guard expected.contains(found) else {
            let shown = found.unicodeScalars.allSatisfy { $0.value >= 32 && $0.value < 127 } ? "'\(found)'"
                : "\(found.utf8.count) bytes that are not text"
            throw DlibFormatProblem(message: "\(what()) at byte \(at) is \(shown), "
                                             + "expected \(expected.map { "'\($0)'" }.joined(separator: " or "))")
        }
        return found
    }

    /// A `bool`: the character '1' or '0'.
    mutating func bool(_ what: @autoclosure () -> String) throws(DlibFormatProblem) -> Bool {
        guard offset < end else { throw truncated(what()) }
        let c = base[offset]
        guard c == UInt8(ascii: "0") || c == UInt8(ascii: "1") else {
            throw DlibFormatProblem(message: "bad boolean byte 0x\(String(c, radix: 16)) at byte \(offset) (\(what()))")
        }
        offset += 1
        return c == UInt8(ascii: "1")
    }

    /// An integer that must equal `value` (versions, fixed sizes).
    mutating func expect(_ what: @autoclosure () -> String, _ value: Int64) throws(DlibFormatProblem) {
        let at = offset
        let v = try int(what())
        guard v == value else { throw DlibFormatProblem(message: "\(what()) is \(v) at byte \(at), expected \(value)") }
    }

    /// `n` little-endian IEEE float32 values (how dlib writes a tensor's elements).
    mutating func rawFloats(_ what: @autoclosure () -> String, count n: Int) throws(DlibFormatProblem) -> [Float] {
        guard n >= 0, n <= remaining / 4 else { throw truncated(what()) }
        var values: [Float] = []
        values.reserveCapacity(n)
        for i in 0..<n {
            let p = offset + 4 * i
            let bits = UInt32(base[p]) | UInt32(base[p + 1]) << 8 | UInt32(base[p + 2]) << 16
                | UInt32(base[p + 3]) << 24
            values.append(Float(bitPattern: bits))
        }
        offset += 4 * n
        return values
    }

    /// Moves past `n` bytes that must all be in the file.
    mutating func skip(_ n: Int, _ what: @autoclosure () -> String) throws(DlibFormatProblem) {
        guard n >= 0, n <= remaining else { throw truncated(what()) }
        offset += n
    }
}
