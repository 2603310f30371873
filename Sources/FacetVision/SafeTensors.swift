/// Reads safetensors files (the container Tools/fetch-models writes the MTCNN weights into).
import FacetCore
import Foundation

/// A safetensors file held in memory: an 8-byte little-endian header length N, N bytes of JSON
/// `{name: {dtype, shape, data_offsets: [start, end]}, "__metadata__": {...}}`, then the tensor bytes,
/// offsets counted from byte 8 + N. Every offset and size is checked when the file is opened, so a
/// truncated or corrupt file is a `FacetError` naming the file, never an out-of-bounds read.
public struct SafeTensorsFile: Sendable {
    /// One tensor's entry in the header.
    public struct TensorInfo: Sendable, Equatable {
        /// safetensors' dtype name, e.g. `F32`.
        public var dtype: String
        /// Elements per dimension, outermost first.
        public var shape: [Int]
        /// Byte range inside the data section.
        public var range: Range<Int>
        /// Number of elements (the product of the shape).
        public var elementCount: Int { shape.reduce(1, *) }
    }

    /// The file's path, for messages.
    public let path: String
    /// The header's tensors by name.
    public let tensors: [String: TensorInfo]
    /// The free-form string pairs under `__metadata__`.
    public let metadata: [String: String]
    private let data: Data
    private let dataStart: Int

    /// Bytes per element of the dtypes safetensors defines.
    private static let elementSizes: [String: Int] = [
        "F64": 8, "F32": 4, "F16": 2, "BF16": 2, "I64": 8, "I32": 4, "I16": 2, "I8": 1,
        "U64": 8, "U32": 4, "U16": 2, "U8": 1, "BOOL": 1,
    ]

    /// Reads and checks the file at `path`; throws naming it when it is unreadable or malformed.
    public init(path: String) throws {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw FacetError.file(path, "cannot read the file")
        }
        try self.init(data: data, path: path)
    }

    /// Parses `data`, reporting problems against `path`.
    public init(data: Data, path: String) throws {
        func corrupt(_ why: String) -> FacetError {
            FacetError.file(path, "not a valid safetensors file (\(why)): run Tools/fetch-models again to rebuild it")
        }
        guard data.count >= 8 else { throw corrupt("\(data.count) bytes, shorter than the 8-byte header length") }
        let headerLength = data.withUnsafeBytes { UInt64(littleEndian: $0.loadUnaligned(as: UInt64.self)) }
        guard headerLength <= UInt64(data.count - 8) else {
            throw corrupt("header length \(headerLength) runs past the end of the \(data.count)-byte file")
        }
        let start = 8 + Int(headerLength)
        let headerBytes = data.subdata(in: (data.startIndex + 8)..<(data.startIndex + start))
        guard let json = try? JSONSerialization.jsonObject(with: headerBytes),
            let header = json as? [String: Any] else {
            throw corrupt("the header is not a JSON object")
        }
        let dataSize = data.count - start
        var tensors: [String: TensorInfo] = [:]
        var metadata: [String: String] = [:]
        for (name, value) in header {
            if name == "__metadata__" {
                if let pairs = value as? [String: Any] {
                    for (k, v) in pairs { metadata[k] = v as? String ?? "\(v)" }
                }
                continue
            }
            guard let entry = value as? [String: Any],
                  let dtype = entry["dtype"] as? String,
                  let shapeValues = entry["shape"] as? [Any],
                  let offsetValues = entry["data_offsets"] as? [Any], offsetValues.count == 2 else {
                throw corrupt("tensor \(name) lacks dtype, shape or data_offsets")
            }
            // Whole numbers a double holds exactly (|n| < 2^53): a larger or fractional value is
            // malformed, never rounded or clamped into range.
            func integer(_ value: Any) -> Int? {
                guard let n = value as? NSNumber else { return nil }
                let d = n.doubleValue
                guard d.rounded() == d, abs(d) < 9_007_199_254_740_992 else { return nil }
                return Int(d)
            }
            let shape = shapeValues.compactMap(integer)
            let offsets = offsetValues.compactMap(integer)
            guard shape.count == shapeValues.count, shape.allSatisfy({ $0 >= 0 }), offsets.count == 2 else {
                throw corrupt("tensor \(name) has a malformed shape or data_offsets")
            }
            guard let elementSize = Self.elementSizes[dtype] else {
                throw corrupt("tensor \(name) has unknown dtype \(dtype)")
            }
            let (begin, end) = (offsets[0], offsets[1])
            guard 0 <= begin, begin <= end, end <= dataSize else {
                throw corrupt("tensor \(name) spans bytes \(begin)..<\(end) of a \(dataSize)-byte data section "
                              + "(truncated?)")
            }
            var count = 1
            for d in shape {
                let (product, overflow) = count.multipliedReportingOverflow(by: d)
                guard !overflow else { throw corrupt("tensor \(name) has an absurd shape \(shape)") }
                count = product
            }
            let bytes = count.multipliedReportingOverflow(by: elementSize)
            guard !bytes.overflow, bytes.partialValue == end - begin else {
                throw corrupt("tensor \(name) of shape \(shape) \(dtype) needs "
                              + "\(bytes.overflow ? "more than \(Int.max)" : "\(bytes.partialValue)") bytes, "
                                + "has \(end - begin)")
            }
            tensors[name] = TensorInfo(dtype: dtype, shape: shape, range: begin..<end)
        }
        self.path = path
        self.tensors = tensors
        self.metadata = metadata
        self.data = data
        self.dataStart = start
    }

    /// The float32 values of tensor `name`, checked against `shape` when one is given.
    public func floats(_ name: String, shape expected: [Int]? = nil) throws -> [Float] {
        guard let info = tensors[name] else {
            throw FacetError.file(path, "has no tensor \(name): run Tools/fetch-models again")
        }
        guard info.dtype == "F32" else {
            throw FacetError.file(path, "tensor \(name) is \(info.dtype), float32 (F32) expected")
        }
        if let expected, expected != info.shape {
            throw FacetError.file(path, "tensor \(name) has shape \(info.shape), expected \(expected)")
        }
        var out = [Float](repeating: 0, count: info.elementCount)
        data.withUnsafeBytes { raw in
            let base = dataStart + info.range.lowerBound
            for i in 0..<out.count {
                out[i] = Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: base + 4 * i,
                                                                                  as: UInt32.self)))
            }
        }
        return out
    }
}
