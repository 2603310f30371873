/// The 68-point facial landmarks (iBUG 300-W order) and their byte form in the project file.
import Foundation

/// 68 points in image (frame) coordinates, in the iBUG 300-W order dlib uses.
public struct Landmarks68: Sendable, Equatable {
    /// The 68 points, in order (jaw 0-16, brows 17-26, nose 27-35, eyes 36-47, mouth 48-67).
    public var points: [Point2]

    /// Landmarks from exactly 68 points.
    public init(points: [Point2]) {
        precondition(points.count == 68, "68 landmarks expected, got \(points.count)")
        self.points = points
    }

    /// Little-endian float32 pairs x0 y0 x1 y1 ... (544 bytes), the `face.landmarks` column.
    public var packed: Data { packFloat32(points.flatMap { [Float($0.x), Float($0.y)] }) }

    /// Landmarks from their `packed` bytes; nil unless there are exactly 136 floats.
    public init?(packed data: Data) {
        let v = unpackFloat32(data)
        guard v.count == 136 else { return nil }
        self.points = (0..<68).map { Point2(Double(v[2 * $0]), Double(v[2 * $0 + 1])) }
    }

    /// Every point mapped through `m`.
    public func transformed(by m: Affine2D) -> Landmarks68 { Landmarks68(points: points.map(m.apply)) }
}

/// Little-endian float32 bytes of `values`.
public func packFloat32(_ values: [Float]) -> Data { packLittleEndian(values) }

/// Floats from little-endian float32 bytes (a trailing partial value is ignored).
public func unpackFloat32(_ data: Data) -> [Float] { unpackLittleEndian(data) }

/// Little-endian float64 bytes of `values` (the `face.matrix` column).
public func packFloat64(_ values: [Double]) -> Data { packLittleEndian(values) }

/// Doubles from little-endian float64 bytes (a trailing partial value is ignored).
public func unpackFloat64(_ data: Data) -> [Double] { unpackLittleEndian(data) }

/// Float and Double by their IEEE bit patterns, for the byte forms above.
protocol BitPatternFloat {
    associatedtype Bits: FixedWidthInteger
    var bitPattern: Bits { get }
    init(bitPattern: Bits)
}

extension Float: BitPatternFloat {}
extension Double: BitPatternFloat {}

private func packLittleEndian<F: BitPatternFloat>(_ values: [F]) -> Data {
    var d = Data(capacity: values.count * MemoryLayout<F.Bits>.size)
    for v in values { withUnsafeBytes(of: v.bitPattern.littleEndian) { d.append(contentsOf: $0) } }
    return d
}

private func unpackLittleEndian<F: BitPatternFloat>(_ data: Data) -> [F] {
    let size = MemoryLayout<F.Bits>.size, n = data.count / size
    var out = [F](repeating: F(bitPattern: 0), count: n)
    data.withUnsafeBytes { raw in
        for i in 0..<n {
            out[i] = F(bitPattern: F.Bits(littleEndian: raw.loadUnaligned(fromByteOffset: i * size, as: F.Bits.self)))
        }
    }
    return out
}
