/// The identity commands as a user runs them, on sample faces whose descriptors are drawn around
/// three persons' centres (the network's own descriptors on real video: IdentityRealMediaTests):
/// people (stored, listed, named, rerun), faces/sort/similar by person and identity, reject
/// --not-person with undo, and the messages for missing descriptors and unknown persons.
import XCTest
import Foundation
import FacetCore
import FacetStore

final class IdentityCLITests: CLITestCase {
    var project: String { path("i.facet") }

    nonisolated(unsafe) static var template: String?

    override class func tearDown() {
        removeTemplate(&template)
        super.tearDown()
    }

    /// Face id to the person it was drawn from: faces 1-60 round-robin over 3 persons (20 each).
    static func truth(_ id: Int64) -> Int { Int((id - 1) % 3) }

    override func setUpWithError() throws {
        try super.setUpWithError()
        try copyTemplate(&Self.template, name: "identity", to: project) { t in
            XCTAssertEqual(try facet(["init", t]).status, 0)
            try addSampleFaces(t, role: .src, count: 60, size: 48, video: Self.fixtures + "/video/src-d18.mp4")
        }
    }

    /// Stores the drawn descriptors (what `facet embed` would with the network).
    func describeFaces() throws {
        let p = try Project(path: project)
        var rng = SplitMix64(seed: 12)
        func draw(_ centre: [Float]?, _ spread: Double) -> [Float] {
            (0..<128).map { k in
                let u = max(rng.unit(), 1e-12), v = rng.unit()
                return (centre?[k] ?? 0) + Float((-2 * log(u)).squareRoot() * cos(2 * .pi * v) * spread)
            }
        }
        let centres = (0..<3).map { _ in draw(nil, 0.06) }
        let ids = try p.faceIDs(matching: FaceQuery(role: .src))
        XCTAssertEqual(ids, Array(1...60))
        try p.storeEmbeddings(ids.map { ($0, draw(centres[Self.truth($0)], 0.027)) }, recognizer: RecognizerProvenance(name: "test", sha256: "0"))
        try p.close()
    }

    func json(_ args: [String]) throws -> [[String: Any]] {
        let r = try facet(args + ["--json"])
        XCTAssertEqual(r.status, 0, r.stderr)
        return try XCTUnwrap(JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [[String: Any]], r.stdout)
    }

    func testWithoutDescriptorsEveryIdentityCommandNamesFacetEmbed() throws {
        // The copied template's WAL is folded into the file by the first command that opens it; then no more changes.
        XCTAssertEqual(try facet(["info", project]).status, 0)
        let before = FileManager.default.contents(atPath: project)
        for args in [["people", project], ["similar", project, "3"], ["sort", project, "--sort", "identity", "--role", "src"]] {
            assertFailsCleanly(try facet(args), mentioning: "facet embed")
        }
        XCTAssertEqual(FileManager.default.contents(atPath: project), before, "nothing written")
        // Histogram similarity still works, and unknown persons are named as such.
        XCTAssertEqual(try facet(["similar", project, "3", "--by", "histogram"]).status, 0)
        assertFailsCleanly(try facet(["faces", project, "--person", "1"]), mentioning: "facet people")
    }

    func testPeopleNamesFacesSortSimilarAndRejectNotPerson() throws {
        try describeFaces()
        let people = try json(["people", project])
        XCTAssertEqual(people.count, 3, "\(people)")
        XCTAssertEqual(people.map { ($0["faces"] as! NSNumber).intValue }, [20, 20, 20])
        var personOfTruth: [Int: Int64] = [:]
        for person in people {
            let pid = (person["id"] as! NSNumber).int64Value
            let faces = try json(["faces", project, "--status", "all", "--person", "\(pid)"]).map { ($0["id"] as! NSNumber).int64Value }
            XCTAssertEqual(faces.count, 20)
            let labels = Set(faces.map(Self.truth))
            XCTAssertEqual(labels.count, 1, "person \(pid) mixes drawn persons \(labels)")
            personOfTruth[labels.first!] = pid
            XCTAssertTrue(faces.contains((person["representative_face_id"] as! NSNumber).int64Value))
        }
        // Name one; the table shows it; faces by name and by --where; `person` in faces --json.
        let bob = personOfTruth[1]!
        let named = try facet(["people", project, "--name", "\(bob)", "bob"])
        XCTAssertEqual(named.status, 0, named.stderr)
        XCTAssertTrue(try facet(["people", project, "--list"]).stdout.contains("bob"))
        let bobs = try json(["faces", project, "--person", "bob"])
        XCTAssertEqual(bobs.count, 20)
        XCTAssertTrue(bobs.allSatisfy { ($0["person"] as? NSNumber)?.int64Value == bob })
        XCTAssertEqual(try json(["faces", project, "--where", "person = \(bob)"]).count, 20)
        XCTAssertEqual(try json(["faces", project, "--where", "person_name = 'bob'"]).count, 20)
        assertFailsCleanly(try facet(["faces", project, "--person", "carol"]), mentioning: "has no person 'carol'")
        assertFailsCleanly(try facet(["people", project, "--name", "99", "zed"]), mentioning: "has no person '99'")

        // A rerun keeps the numbers and the name.
        let again = try json(["people", project])
        XCTAssertEqual(Set(again.map { ($0["id"] as! NSNumber).int64Value }), Set(personOfTruth.values))
        XCTAssertEqual(again.first { ($0["id"] as! NSNumber).int64Value == bob }?["name"] as? String, "bob")

        // similar --by identity: the 10 nearest are the face's own person's.
        let near = try json(["similar", project, "4", "--k", "10"])
        XCTAssertEqual(near.count, 10)
        XCTAssertTrue(near.allSatisfy { Self.truth(($0["id"] as! NSNumber).int64Value) == Self.truth(4) }, "\(near)")
        XCTAssertTrue(near.allSatisfy { ($0["distance"] as! NSNumber).doubleValue < 0.6 })

        // sort identity: grouped by person.
        let order = try json(["sort", project, "--sort", "identity", "--role", "src"]).map { ($0["id"] as! NSNumber).int64Value }
        XCTAssertEqual(order.count, 60)
        let runs = zip(order, order.dropFirst()).filter { Self.truth($0.0) != Self.truth($0.1) }.count
        XCTAssertEqual(runs, 2, "three groups, one after the other")

        // reject everyone but bob, then undo.
        let r = try facet(["reject", project, "--role", "src", "--not-person", "bob", "--yes"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("rejected 40 faces"), r.stdout)
        let kept = try json(["faces", project, "--role", "src"]).map { ($0["id"] as! NSNumber).int64Value }
        XCTAssertEqual(Set(kept.map(Self.truth)), [1])
        XCTAssertEqual(kept.count, 20)
        XCTAssertEqual(try facet(["undo", project]).status, 0)
        XCTAssertEqual(try json(["faces", project, "--role", "src"]).count, 60)
        assertFailsCleanly(try facet(["reject", project, "--role", "dst", "--not-person", "bob"]), mentioning: "is a src person")
    }
}
