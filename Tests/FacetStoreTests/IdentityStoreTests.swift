/// Identity in the store: a schema-2 project upgraded, descriptors in float16 (with their error
/// measured), persons saved, named, resolved and queried (the identity order over them: FacetCurateTests.IdentityOrderTests).
import XCTest
import GRDB
import FacetCore
@testable import FacetStore

final class IdentityStoreTests: StoreTestCase {
    /// A descriptor drawn like dlib's: components of a person's centre plus per-face noise.
    static func descriptor(_ rng: inout SplitMix64, centre: [Float]? = nil, spread: Double = 0.027) -> [Float] {
        (0..<FaceEmbedding.dimension).map { k in
            // Box-Muller for a normal draw.
            let u = max(rng.unit(), 1e-12), v = rng.unit()
            let z = (-2 * log(u)).squareRoot() * cos(2 * .pi * v)
            return (centre?[k] ?? 0) + Float(z * spread)
        }
    }

    /// The previous version's file (made by `facet extract` at schema 2) opens, is upgraded to the
    /// current schema, and its faces keep working: listed, sorted, with no descriptor or person yet,
    /// and then take descriptors and persons.
    func testSchema2ProjectOpensUpgradesAndWorks() throws {
        let file = path("old.facet")
        try FileManager.default.copyItem(atPath: Self.fixtures + "/projects/schema2-extra-d20.facet", toPath: file)
        let before = try DatabaseQueue(path: file)
        XCTAssertEqual(try before.read { try Int.fetchOne($0, sql: "PRAGMA user_version") }, 2)
        let oldFaces = try before.read { try Row.fetchAll($0, sql: "SELECT id, landmarks, blur FROM face ORDER BY id") }
        try before.close()
        XCTAssertEqual(oldFaces.count, 5)

        let p = try Project(path: file)
        XCTAssertEqual(try p.schemaVersion(), ProjectSchema.currentVersion)
        XCTAssertGreaterThanOrEqual(ProjectSchema.currentVersion, 3)
        let faces = try p.faces(matching: FaceQuery(role: .src, sort: [FaceSort(.blur)]))
        XCTAssertEqual(faces.count, 5)
        XCTAssertEqual(Set(faces.map(\.id)), Set(oldFaces.map { $0["id"] as Int64 }))
        XCTAssertTrue(faces.allSatisfy { $0.personId == nil && $0.landmarks68 != nil })
        XCTAssertEqual(try p.embeddingCounts(role: .src).withDescriptor, 0)
        XCTAssertEqual(try p.facesWithoutEmbedding(role: .src, limit: 100).count, 5)
        // Commands that need descriptors say how to get them.
        XCTAssertThrowsError(try p.requireEmbeddings(matching: FaceQuery(role: .src))) { e in
            XCTAssertTrue("\(e)".contains("facet embed"), "\(e)")
        }
        // The upgraded file takes descriptors (provenance recorded) and persons.
        var rng = SplitMix64(seed: 3)
        let centre = Self.descriptor(&rng, spread: 0.06)
        try p.storeEmbeddings(faces.map { ($0.id, Self.descriptor(&rng, centre: centre)) }, recognizer: RecognizerProvenance(name: "test", sha256: "ab"))
        XCTAssertEqual(try p.embeddingCounts(role: .src).withDescriptor, 5)
        let provenance = try p.read { db in try Row.fetchOne(db, sql: "SELECT recognizer, recognizer_sha256 FROM extraction") }
        XCTAssertEqual(provenance?["recognizer"] as String?, "test")
        let m = try p.requireEmbeddings(matching: FaceQuery(role: .src))
        let saved = try p.savePersons(role: .src, [PersonAssignment(existingId: nil, centre: centre, faceIDs: m.ids, representativeFaceId: m.ids[0])], threshold: 0.6)
        XCTAssertEqual(saved.persons.count, 1)
        XCTAssertEqual(try p.faces(matching: FaceQuery(role: .src)).filter { $0.personId == saved.persons[0].id }.count, 5)
        let viewRows = try p.read { db in try Int.fetchOne(db, sql: "SELECT count(*) FROM faces WHERE person = ?", arguments: [saved.persons[0].id]) }
        XCTAssertEqual(viewRows, 5)
        XCTAssertEqual(try p.integrityProblems(), [])
    }

    /// Float16 storage: every component within float16's half-ulp, and distances between random
    /// descriptors (same and different persons) within 2e-3 of the float32 ones: nothing near the
    /// 0.6 threshold's precision. Prints the largest error measured.
    func testFloat16StorageErrorIsFarBelowTheThreshold() throws {
        var rng = SplitMix64(seed: 7)
        let centres = (0..<20).map { _ in Self.descriptor(&rng, spread: 0.06) }
        var exact: [[Float]] = [], stored: [[Float]] = []
        for i in 0..<400 {
            let d = Self.descriptor(&rng, centre: centres[i % 20])
            exact.append(d)
            let back = try XCTUnwrap(FaceEmbedding.unpack(FaceEmbedding.pack(d)))
            for k in 0..<d.count { XCTAssertEqual(back[k], Float(Float16(d[k])), "component \(k)") }
            stored.append(back)
        }
        var worst = 0.0, worstRelative = 0.0
        for i in 0..<exact.count {
            for j in (i + 1)..<exact.count {
                let a = FaceEmbedding.distance(exact[i], exact[j]), b = FaceEmbedding.distance(stored[i], stored[j])
                worst = max(worst, abs(a - b)); worstRelative = max(worstRelative, abs(a - b) / a)
            }
        }
        print("float16 descriptors: largest distance error \(worst) (relative \(worstRelative)) over \(exact.count * (exact.count - 1) / 2) pairs")
        XCTAssertLessThan(worst, 2e-3)
        XCTAssertGreaterThan(worst, 0, "float16 rounds: an error of exactly 0 means the test did not round")
        // Special values survive.
        let special: [Float] = [0, -0.0, 1e-6, -3e-5, 65504, 1e-8] + Array(repeating: 0.125, count: 122)
        let back = try XCTUnwrap(FaceEmbedding.unpack(FaceEmbedding.pack(special)))
        for k in 0..<special.count { XCTAssertEqual(back[k], Float(Float16(special[k]))) }
        XCTAssertNil(FaceEmbedding.unpack(Data(count: 255)))
    }

    /// Persons: saved with faces, resolved by number or name, named (refusing clashes and numbers),
    /// continued by a later save (id and name kept), unnamed empty ones removed, named ones kept.
    func testPersonsSaveNameResolveContinueAndQuery() throws {
        let p = try projectWithFaces(30)
        let ids = try p.faceIDs(matching: FaceQuery(role: .src))
        var rng = SplitMix64(seed: 11)
        let a = Self.descriptor(&rng, spread: 0.06), b = Self.descriptor(&rng, spread: 0.06), c = Self.descriptor(&rng, spread: 0.06)
        let first = try p.savePersons(role: .src, [
            PersonAssignment(existingId: nil, centre: b, faceIDs: Array(ids[20...]), representativeFaceId: ids[20]),
            PersonAssignment(existingId: nil, centre: a, faceIDs: Array(ids[..<20]), representativeFaceId: ids[3]),
        ], threshold: 0.6)
        XCTAssertEqual(first.persons.map(\.faceCount), [20, 10], "the larger new person gets the lower number")
        let (pa, pb) = (first.persons[0], first.persons[1])
        XCTAssertEqual(pa.representativeFaceId, ids[3])
        XCTAssertEqual(first.facesChanged, 30)
        var q = FaceQuery(role: .src)
        q.person = pb.id
        XCTAssertEqual(try p.faceIDs(matching: q), Array(ids[20...]))
        q.person = nil; q.notPerson = pb.id
        XCTAssertEqual(try p.faceIDs(matching: q), Array(ids[..<20]))
        q.notPerson = nil; q.whereSQL = "person = \(pa.id) AND person_name IS NULL"
        XCTAssertEqual(try p.countFaces(matching: q), 20)

        XCTAssertEqual(try p.namePerson(id: pa.id, name: "alice").name, "alice")
        XCTAssertEqual(try p.person(resolving: "alice").id, pa.id)
        XCTAssertEqual(try p.person(resolving: "\(pb.id)").id, pb.id)
        XCTAssertEqual(try p.person(resolving: "person \(pb.id)").id, pb.id)
        XCTAssertThrowsError(try p.namePerson(id: pb.id, name: "alice")) { XCTAssertTrue("\($0)".contains("already named"), "\($0)") }
        XCTAssertThrowsError(try p.namePerson(id: pb.id, name: "42")) { XCTAssertTrue("\($0)".contains("number"), "\($0)") }
        XCTAssertThrowsError(try p.person(resolving: "bob")) { e in
            XCTAssertTrue("\(e)".contains("has no person 'bob'") && "\(e)".contains("alice"), "\(e)")
        }
        XCTAssertThrowsError(try p.person(resolving: "1", role: .dst)) { XCTAssertTrue("\($0)".contains("facet people"), "\($0)") }

        // A later clustering continues alice, drops the unnamed b, adds c; then one that leaves alice empty keeps her name.
        let second = try p.savePersons(role: .src, [
            PersonAssignment(existingId: pa.id, centre: a, faceIDs: Array(ids[..<25]), representativeFaceId: ids[0]),
            PersonAssignment(existingId: nil, centre: c, faceIDs: Array(ids[25...]), representativeFaceId: ids[25]),
        ], threshold: 0.6)
        XCTAssertEqual(second.removed, [pb.id])
        XCTAssertEqual(second.facesChanged, 10)
        XCTAssertEqual(second.persons.first { $0.id == pa.id }?.name, "alice")
        XCTAssertEqual(second.persons.first { $0.id == pa.id }?.faceCount, 25)
        let third = try p.savePersons(role: .src, [PersonAssignment(existingId: nil, centre: c, faceIDs: ids, representativeFaceId: ids[0])], threshold: 0.6)
        let alice = try XCTUnwrap(third.persons.first { $0.id == pa.id })
        XCTAssertEqual(alice.faceCount, 0)
        XCTAssertEqual(alice.name, "alice")
        XCTAssertEqual(try p.integrityProblems(), [])
    }
}
