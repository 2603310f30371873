/// Identity algorithms on synthetic descriptors with dlib's geometry (faces of one person about 0.4
/// apart, of two persons about 1.0): nearest faces against a brute-force search, clustering into
/// exactly the persons drawn, and `people` reruns that keep numbers and names.
import XCTest
import FacetCore
import FacetStore
@testable import FacetCurate

final class IdentityClusteringTests: CurateTestCase {
    /// A normal draw per component around `centre` (zero when nil).
    static func descriptor(_ rng: inout SplitMix64, centre: [Float]? = nil, spread: Double) -> [Float] {
        (0..<FaceEmbedding.dimension).map { k in
            let u = max(rng.unit(), 1e-12), v = rng.unit()
            return (centre?[k] ?? 0) + Float((-2 * log(u)).squareRoot() * cos(2 * .pi * v) * spread)
        }
    }

    /// `persons` centres 0.95 apart on average, and `count` faces drawn round-robin (so persons
    /// interleave, as in a video cutting between people), each about 0.3 from its centre.
    static func faces(persons: Int, count: Int, seed: UInt64) -> (values: [Float], truth: [Int]) {
        var rng = SplitMix64(seed: seed)
        let centres = (0..<persons).map { _ in descriptor(&rng, spread: 0.06) }
        var values: [Float] = [], truth: [Int] = []
        for i in 0..<count {
            let who = (i + i / (3 * persons)) % persons
            values += descriptor(&rng, centre: centres[who], spread: 0.027)
            truth.append(who)
        }
        return (values, truth)
    }

    /// Each cluster is one drawn person and each drawn person one cluster.
    func assertPure(_ clusters: [PersonClustering.Cluster], truth: [Int], persons: Int, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(clusters.count, persons, "clusters of sizes \(clusters.map(\.members.count))", file: file, line: line)
        var seen = Set<Int>()
        for c in clusters {
            let labels = Set(c.members.map { truth[$0] })
            XCTAssertEqual(labels.count, 1, "a cluster mixes persons \(labels)", file: file, line: line)
            if let l = labels.first { XCTAssertTrue(seen.insert(l).inserted, "person \(l) split", file: file, line: line) }
            XCTAssertTrue(c.members.contains(c.representative), file: file, line: line)
        }
        XCTAssertEqual(clusters.reduce(0) { $0 + $1.members.count }, truth.count, file: file, line: line)
    }

    func testClusteringFindsExactlyThePersonsDrawn() {
        for (persons, count, seed) in [(1, 50, 1), (3, 600, 2), (12, 3000, 3)] as [(Int, Int, UInt64)] {
            let (v, truth) = Self.faces(persons: persons, count: count, seed: seed)
            let clusters = PersonClustering.cluster(v, count: count, threshold: 0.6)
            assertPure(clusters, truth: truth, persons: persons)
            for c in clusters {
                // The centre is the members' mean.
                for k in [0, 64, 127] {
                    let mean = c.members.reduce(0.0) { $0 + Double(v[$1 * 128 + k]) } / Double(c.members.count)
                    XCTAssertEqual(Double(c.centre[k]), mean, accuracy: 1e-5)
                }
            }
        }
        // Two faces: the same person under 0.6 apart, different persons over it.
        var rng = SplitMix64(seed: 9)
        let a = Self.descriptor(&rng, spread: 0.06)
        let near = zip(a, Self.descriptor(&rng, spread: 0.03)).map { $0 + $1 }
        XCTAssertLessThan(FaceEmbedding.distance(a, near), 0.6)
        XCTAssertEqual(PersonClustering.cluster(a + near, count: 2, threshold: 0.6).count, 1)
        let far = Self.descriptor(&rng, spread: 0.06)
        XCTAssertGreaterThan(FaceEmbedding.distance(a, far), 0.6)
        XCTAssertEqual(PersonClustering.cluster(a + far, count: 2, threshold: 0.6).count, 2)
        XCTAssertTrue(PersonClustering.cluster([], count: 0, threshold: 0.6).isEmpty)
    }

    /// `nearest` equals a brute-force search in double (ids and distances), with the query face left out.
    func testNearestMatchesBruteForce() {
        let (v, _) = Self.faces(persons: 5, count: 700, seed: 4)
        let ids = (0..<700).map { Int64($0 * 3 + 1) }
        let index = IdentityIndex(EmbeddingMatrix(ids: ids, values: v))
        for probe in [0, 17, 699] {
            let q = Array(v[(probe * 128)..<(probe * 128 + 128)])
            var brute: [FaceDistance] = []
            for i in 0..<700 where i != probe {
                let row = Array(v[(i * 128)..<(i * 128 + 128)])
                brute.append(FaceDistance(id: ids[i], distance: FaceEmbedding.distance(q, row)))
            }
            brute.sort { $0.distance != $1.distance ? $0.distance < $1.distance : $0.id < $1.id }
            let got = index.nearest(to: q, k: 10, excluding: ids[probe])
            XCTAssertEqual(got.map(\.id), brute.prefix(10).map(\.id))
            for (g, b) in zip(got, brute) { XCTAssertEqual(g.distance, b.distance, accuracy: 1e-12) }
        }
        XCTAssertEqual(index.nearest(to: Array(v[0..<128]), k: 5000).count, 700)
        XCTAssertEqual(index.descriptor(of: ids[3]), Array(v[384..<512]))
    }

    /// `people` on a project: persons stored; named; a rerun after new faces of the same persons and
    /// of a new one keeps every number and the name, and adds one person.
    func testPeopleRerunKeepsNumbersAndNames() throws {
        let p = try Project.create(at: path("people.facet"))
        let media = try p.importMedia(MediaRecord(role: .src, name: "clip.mp4", kind: "video", storage: "linked", path: "/nowhere", sha256: "x",
                                                  byteSize: 1, container: "mp4", codec: "h264", width: 64, height: 64, fps: 30,
                                                  frameCount: 1000, duration: 33, hasAudio: false)) { nil }.id!
        let run = try p.beginExtraction(ExtractionProvenance(role: .src, detector: "t", detectorSHA256: "0", landmarker: "t", landmarkerSHA256: "0", optionsJSON: "{}"))
        let (v, truth) = Self.faces(persons: 4, count: 400, seed: 6)
        func store(_ rows: Range<Int>) throws {
            try p.storeFrames(rows.map { i in
                var f = Self.face(i)
                f.embedding = Array(v[(i * 128)..<(i * 128 + 128)])
                return ExtractedFrame(mediaId: media, frameIndex: i, pts: Double(i) / 30, faces: [f])
            }, extractionId: run, role: .src)
        }
        // 300 faces of the 4 persons, then 100 more of them.
        try store(0..<300)
        let ids = try p.faceIDs(matching: FaceQuery(role: .src))
        let first = try PeopleFinder.run(p, role: .src)
        XCTAssertEqual(first.persons.count, 4)
        let label = Dictionary(uniqueKeysWithValues: try p.faces(matching: FaceQuery(role: .src)).map { ($0.id, $0.personId!) })
        var personOfTruth: [Int: Int64] = [:]
        for (i, id) in ids.enumerated() {
            if let known = personOfTruth[truth[i]] { XCTAssertEqual(label[id], known) } else { personOfTruth[truth[i]] = label[id] }
        }
        try p.namePerson(id: personOfTruth[2]!, name: "carol")
        try store(300..<400)
        let second = try PeopleFinder.run(p, role: .src)
        XCTAssertEqual(second.persons.count, 4)
        XCTAssertEqual(second.newPersons, [])
        XCTAssertEqual(second.facesChanged, 100, "only the new faces get a person")
        for (i, f) in try p.faces(matching: FaceQuery(role: .src)).enumerated() { XCTAssertEqual(f.personId, personOfTruth[truth[i]]) }
        XCTAssertEqual(try p.person(resolving: "carol").id, personOfTruth[2])
        // A new person's faces: one more person, the others unchanged.
        var rng = SplitMix64(seed: 77)
        let newcomer = Self.descriptor(&rng, spread: 0.06)
        try p.storeFrames((400..<430).map { i in
            var f = Self.face(i)
            f.embedding = Self.descriptor(&rng, centre: newcomer, spread: 0.027)
            return ExtractedFrame(mediaId: media, frameIndex: i, pts: Double(i) / 30, faces: [f])
        }, extractionId: run, role: .src)
        let third = try PeopleFinder.run(p, role: .src)
        XCTAssertEqual(third.persons.count, 5)
        XCTAssertEqual(third.newPersons.count, 1)
        XCTAssertEqual(third.facesChanged, 30)
        XCTAssertEqual(Set(third.persons.map(\.id)).subtracting(third.newPersons), Set(personOfTruth.values))
    }

    /// A minimal stored face (signatures irrelevant here).
    static func face(_ i: Int) -> NewFace {
        NewFace(faceIndex: 0, score: 0.9, box: (0, 0, 10, 10), points5: [], landmarks: Landmarks68(points: (0..<68).map { Point2(Double($0), Double(i % 50)) }),
                matrix: .identity, faceType: "full", cropSize: 64, cropFormat: "jpeg", crop: Data([0xFF, 0xD8]),
                histogram: [Float](repeating: 1.0 / 256, count: 768), blur: 1, motionBlur: 1, yaw: 0, pitch: 0, roll: 0,
                brightness: 100, hue: 0, faceSize: 50)
    }
}
