/// The `identity` order (FacetCurate over the store's descriptors and persons), on synthetic faces and descriptors.
import XCTest
import FacetCore
import FacetStore
@testable import FacetCurate

final class IdentityOrderTests: CurateTestCase {
    /// A descriptor drawn like dlib's (`IdentityClusteringTests.descriptor`), spread 0.027 by default.
    static func descriptor(_ rng: inout SplitMix64, centre: [Float]? = nil, spread: Double = 0.027) -> [Float] {
        IdentityClusteringTests.descriptor(&rng, centre: centre, spread: spread)
    }

    /// `identity` order: persons by size, each person's faces by distance to its centre (nearest
    /// first; `-identity` farthest first), computed here from the stored descriptors; faces without a
    /// descriptor or a person refused with the command that fills them.
    func testIdentityOrderGroupsByPersonNearestToTheCentreFirst() throws {
        let p = try projectWithFaces(24)
        let ids = try p.faceIDs(matching: FaceQuery(role: .src))
        XCTAssertThrowsError(try p.sortedFaceIDs(matching: FaceQuery(role: .src), by: .identity(reversed: false))) {
            XCTAssertTrue("\($0)".contains("facet embed"), "\($0)")
        }
        var rng = SplitMix64(seed: 5)
        let a = Self.descriptor(&rng, spread: 0.06), b = Self.descriptor(&rng, spread: 0.06)
        var desc: [Int64: [Float]] = [:]
        for (i, id) in ids.enumerated() { desc[id] = Self.descriptor(&rng, centre: i % 3 == 0 ? b : a) }
        try p.storeEmbeddings(ids.map { ($0, desc[$0]!) }, recognizer: RecognizerProvenance(name: "t", sha256: "0"))
        XCTAssertThrowsError(try p.sortedFaceIDs(matching: FaceQuery(role: .src), by: .identity(reversed: false))) {
            XCTAssertTrue("\($0)".contains("facet people"), "\($0)")
        }
        let small = ids.enumerated().filter { $0.offset % 3 == 0 }.map(\.element), big = ids.filter { !small.contains($0) }
        _ = try p.savePersons(role: .src, [
            PersonAssignment(existingId: nil, centre: b, faceIDs: small, representativeFaceId: small[0]),
            PersonAssignment(existingId: nil, centre: a, faceIDs: big, representativeFaceId: big[0]),
        ], threshold: 0.6)
        func byDistance(_ group: [Int64], _ c: [Float]) -> [Int64] {
            group.sorted { x, y in
                let dx = FaceEmbedding.distance(FaceEmbedding.unpack(FaceEmbedding.pack(desc[x]!))!, c)
                let dy = FaceEmbedding.distance(FaceEmbedding.unpack(FaceEmbedding.pack(desc[y]!))!, c)
                return dx != dy ? dx < dy : x < y
            }
        }
        let expected = byDistance(big, a) + byDistance(small, b)
        XCTAssertEqual(try p.sortedFaceIDs(matching: FaceQuery(role: .src), by: .identity(reversed: false)), expected)
        XCTAssertEqual(try p.sortedFaceIDs(matching: FaceQuery(role: .src), by: .identity(reversed: true)),
                       Array(byDistance(big, a).reversed()) + Array(byDistance(small, b).reversed()))
        XCTAssertEqual(CurationSort(parsing: "identity"), .identity(reversed: false))
        XCTAssertEqual(CurationSort(parsing: "-face"), .identity(reversed: true))
        XCTAssertEqual(CurationSort.identity(reversed: true).description, "-identity")
    }
}
