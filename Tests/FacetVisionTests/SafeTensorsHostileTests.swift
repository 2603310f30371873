/// Safetensors headers built to hurt the parser (what Tools/fuzz/run's fuzz-safetensors target
/// found): shapes whose byte size overflows, and numbers beyond what an Int or a double holds.
/// Each is a FacetError naming the file, never a trap.
import FacetCore
import FacetVision
import Foundation
import XCTest

final class SafeTensorsHostileTests: XCTestCase {
    private func file(header: String, data: Int) -> Data {
        let json = Data(header.utf8)
        return withUnsafeBytes(of: UInt64(json.count).littleEndian) { Data($0) } + json + Data(count: data)
    }

    func testOverflowingAndUnrepresentableShapesAreErrors() throws {
        let cases: [(String, String, String)] = [
            // 2^61 elements of 4 bytes: the element count fits an Int, the byte count does not.
            ("bytes overflow", #"{"t": {"dtype": "F32", "shape": [1073741824, 2147483648], "data_offsets": [0, 4]}}"#, "needs more than"),
            ("elements overflow", #"{"t": {"dtype": "U8", "shape": [4503599627370496, 4096], "data_offsets": [0, 4]}}"#, "absurd shape"),
            // 2^62: beyond what a double holds exactly, so never rounded into a wrong size.
            ("beyond 2^53", #"{"t": {"dtype": "F32", "shape": [4611686018427387904], "data_offsets": [0, 4]}}"#, "malformed shape"),
            ("beyond Int64", #"{"t": {"dtype": "F32", "shape": [1184467440737095516161], "data_offsets": [0, 4]}}"#, "malformed shape"),
            ("fractional", #"{"t": {"dtype": "F32", "shape": [0.5], "data_offsets": [0, 4]}}"#, "malformed shape"),
            ("huge offset", #"{"t": {"dtype": "F32", "shape": [1], "data_offsets": [0, 1e300]}}"#, "malformed shape"),
            ("negative offset", #"{"t": {"dtype": "F32", "shape": [1], "data_offsets": [-4, 0]}}"#, "spans bytes"),
        ]
        for (name, header, expected) in cases {
            XCTAssertThrowsError(try SafeTensorsFile(data: file(header: header, data: 4), path: "/m/\(name).safetensors"), name) { error in
                XCTAssertTrue(error is FacetError, "\(name): \(error)")
                XCTAssertTrue("\(error)".hasPrefix("/m/\(name).safetensors: not a valid safetensors file") && "\(error)".contains(expected), "\(name): \(error)")
            }
        }
        // The same layout with sane numbers reads.
        let ok = try SafeTensorsFile(data: file(header: #"{"t": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}}"#, data: 4), path: "ok")
        XCTAssertEqual(try ok.floats("t"), [0])
    }
}
