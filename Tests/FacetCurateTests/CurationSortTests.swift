/// Each curation sort on faces cut from the sample videos, checked against its definition written out naively.
import XCTest
import FacetCore
@testable import FacetStore
@testable import FacetCurate

final class CurationSortTests: CurateTestCase {
    /// OpenCV's HISTCMP_BHATTACHARYYA per channel, summed: the definition, written independently.
    static func naiveDistance(_ a: [Float], _ b: [Float]) -> Double {
        var total = 0.0
        for c in 0..<3 {
            var bc = 0.0, s1 = 0.0, s2 = 0.0
            for k in 0..<256 {
                let x = Double(a[c * 256 + k]), y = Double(b[c * 256 + k])
                bc += (x * y).squareRoot(); s1 += x; s2 += y
            }
            let norm = abs(s1 * s2) > Double(Float.ulpOfOne) ? 1 / (s1 * s2).squareRoot() : 1
            total += max(1 - bc * norm, 0).squareRoot()
        }
        return total
    }

    /// DeepFaceLab's sort_by_hist, verbatim: swap the nearest unvisited item into the next place.
    static func naiveChain(_ ids: [Int64], _ hist: [Int64: [Float]]) -> [Int64] {
        var list = ids
        for i in 0..<max(0, list.count - 1) {
            var minScore = Double.infinity, jMin = i + 1
            for j in (i + 1)..<list.count {
                let s = naiveDistance(hist[list[i]]!, hist[list[j]]!)
                if s < minScore { minScore = s; jMin = j }
            }
            list.swapAt(i + 1, jMin)
        }
        return list
    }

    func testHistChainEqualsTheNaiveDefinitionOnRealCrops() throws {
        let p = try projectWithRealFaces(src: 260, dst: 40)
        let ids = try p.faceIDs(matching: FaceQuery(role: .src))
        XCTAssertEqual(ids.count, 260)
        let hist = try p.histograms(faceIDs: ids)
        let expected = Self.naiveChain(ids, hist)
        let got = try p.sortedFaceIDs(matching: FaceQuery(role: .src), by: .hist(reversed: false))
        XCTAssertEqual(got, expected)
        XCTAssertEqual(got.first, ids.first, "the chain starts from the first face")
        let reversed = try p.sortedFaceIDs(matching: FaceQuery(role: .src), by: CurationSort(parsing: "-hist")!)
        XCTAssertEqual(reversed, expected.reversed())
        // The steps really are short: the chain's mean step is well below a random pair's distance.
        let step = zip(got, got.dropFirst()).map { Self.naiveDistance(hist[$0]!, hist[$1]!) }.reduce(0, +) / Double(got.count - 1)
        let random = zip(ids, ids.reversed()).map { Self.naiveDistance(hist[$0]!, hist[$1]!) }.reduce(0, +) / Double(ids.count)
        XCTAssertLessThan(step, random * 0.8)
    }

    func testHistDissimPutsTheMostUnlikeFirst() throws {
        let p = try projectWithRealFaces(src: 260, dst: 40)
        let ids = try p.faceIDs(matching: FaceQuery(role: .src))
        let hist = try p.histograms(faceIDs: ids)
        var score: [Int64: Double] = [:]
        for a in ids { score[a] = ids.filter { $0 != a }.map { Self.naiveDistance(hist[a]!, hist[$0]!) }.reduce(0, +) }
        let got = try p.sortedFaceIDs(matching: FaceQuery(role: .src), by: .histDissim(reversed: false))
        XCTAssertEqual(Set(got), Set(ids))
        XCTAssertEqual(got.count, ids.count)
        for (a, b) in zip(got, got.dropFirst()) { XCTAssertGreaterThanOrEqual(score[a]! + 1e-8, score[b]!, "\(a) before \(b)") }
        let expected = ids.sorted { score[$0]! != score[$1]! ? score[$0]! > score[$1]! : $0 < $1 }
        XCTAssertEqual(got.prefix(10), expected.prefix(10))
    }

    func testColumnSortsFollowTheStoredSignatures() throws {
        let p = try projectWithRealFaces(src: 260, dst: 40)
        for field in [FaceField.blur, .motionBlur, .yaw, .pitch, .faceSize, .brightness, .hue] {
            for desc in [false, true] {
                let ids = try p.sortedFaceIDs(matching: FaceQuery(role: .src), by: .column(FaceSort(field, descending: desc)))
                XCTAssertEqual(ids.count, 260)
                let faces = try p.faces(matching: FaceQuery(role: .src))
                let value = Dictionary(uniqueKeysWithValues: faces.map { f -> (Int64, Double) in
                    switch field {
                    case .blur: return (f.id, f.blur)
                    case .motionBlur: return (f.id, f.motionBlur)
                    case .yaw: return (f.id, f.yaw)
                    case .pitch: return (f.id, f.pitch)
                    case .faceSize: return (f.id, f.faceSize)
                    case .brightness: return (f.id, f.brightness)
                    default: return (f.id, f.hue)
                    }
                })
                for (a, b) in zip(ids, ids.dropFirst()) {
                    if desc { XCTAssertGreaterThanOrEqual(value[a]!, value[b]!, "\(field)") } else { XCTAssertLessThanOrEqual(value[a]!, value[b]!, "\(field)") }
                }
            }
        }
        // Sharpness really measures the crops: blurred crops score lower than sharp ones on average.
        let blur = try p.faces(matching: FaceQuery(role: .src, sort: [FaceSort(.blur)])).map(\.blur)
        XCTAssertLessThan(blur.first!, blur.last! / 2)
    }

    func testBestKeepsNFacesSpreadOverYawSharpestFirst() throws {
        let p = try projectWithRealFaces(src: 260, dst: 40)
        let faces = try p.faces(matching: FaceQuery(role: .src))
        let byId = Dictionary(uniqueKeysWithValues: faces.map { ($0.id, $0) })
        let best = try p.sortedFaceIDs(matching: FaceQuery(role: .src), by: CurationSort(parsing: "best:40")!)
        XCTAssertEqual(best.count, 40)
        XCTAssertEqual(Set(best).count, 40)
        // Every yaw bin that has faces gives at least one when there are fewer bins than N, and the first
        // face taken from a bin is that bin's sharpest.
        var bins: [Int: [FaceRecord]] = [:]
        for f in faces { bins[BestSelection.bin(f.yaw, BestSelection.yawBins), default: []].append(f) }
        var firstOfBin: [Int: Int64] = [:]
        for id in best { let b = BestSelection.bin(byId[id]!.yaw, BestSelection.yawBins); if firstOfBin[b] == nil { firstOfBin[b] = id } }
        if bins.count <= 40 { XCTAssertEqual(Set(firstOfBin.keys), Set(bins.keys)) }
        for (b, id) in firstOfBin {
            let sharpest = bins[b]!.max { $0.blur != $1.blur ? $0.blur < $1.blur : $0.id > $1.id }!
            XCTAssertEqual(id, sharpest.id, "bin \(b)")
        }
        // Yaw bins come in order.
        let order = best.map { BestSelection.bin(byId[$0]!.yaw, BestSelection.yawBins) }
        XCTAssertEqual(order, order.sorted())
        // Asking for more than there are gives them all.
        XCTAssertEqual(try p.sortedFaceIDs(matching: FaceQuery(role: .src), by: .best(1000)).count, 260)
    }

    func testSimilarReturnsTheKNearestWithExactDistances() throws {
        let p = try projectWithRealFaces(src: 260, dst: 40)
        let ids = try p.faceIDs(matching: FaceQuery(role: .src))
        let hist = try p.histograms(faceIDs: ids)
        for query in [ids[0], ids[77], ids[259]] {
            let got = try p.similarFaces(to: query, k: 7, role: .src)
            let all: [FaceDistance] = ids.filter { $0 != query }.map { (id: Int64) -> FaceDistance in
                FaceDistance(id: id, distance: Self.naiveDistance(hist[query]!, hist[id]!))
            }
            let expected = Array(all.sorted { (a: FaceDistance, b: FaceDistance) -> Bool in
                a.distance != b.distance ? a.distance < b.distance : a.id < b.id
            }.prefix(7))
            XCTAssertEqual(got.map(\.id), expected.map(\.id))
            for (g, e) in zip(got, expected) { XCTAssertEqual(g.distance, e.distance, accuracy: 1e-12) }
        }
        XCTAssertThrowsError(try p.similarFaces(to: 999_999, k: 3, role: nil)) { e in
            XCTAssertTrue("\(e)".contains("has no face 999999"), "\(e)")
        }
    }

    func testDuplicatesKeepTheSharpestAndSpareDistinctFaces() throws {
        let p = try projectWithRealFaces(src: 260, dst: 40)
        // Near-copies of ten faces, as consecutive frames of a still shot give: the same crop with a
        // little noise in its histogram, one frame later, slightly blurrier.
        let originals = Array(try p.faces(matching: FaceQuery(role: .src)).prefix(10))
        let originalHist = try p.histograms(faceIDs: originals.map(\.id))
        let run = try p.beginExtraction(ExtractionProvenance(role: .src, detector: "test", detectorSHA256: "-", landmarker: "test", landmarkerSHA256: "-", optionsJSON: "{}"))
        var frames: [ExtractedFrame] = []
        for (k, f) in originals.enumerated() {
            var h = originalHist[f.id]!
            for i in h.indices where h[i] > 0 { h[i] *= 1 + 0.02 * Float((i * 7 + k) % 5 - 2) }
            for c in 0..<3 { let s = h[(c * 256)..<(c * 256 + 256)].reduce(0, +); for i in (c * 256)..<(c * 256 + 256) { h[i] /= s } }
            let crop = try p.faceCrop(id: f.id)
            let face = NewFace(faceIndex: 0, score: f.score, box: (f.boxX, f.boxY, f.boxW, f.boxH), points5: [], landmarks: f.landmarks68!,
                               matrix: f.imageToFace, faceType: f.faceType, cropSize: f.cropSize, cropFormat: crop.format, crop: crop.data,
                               histogram: h, blur: f.blur * 0.9, motionBlur: f.motionBlur, yaw: f.yaw, pitch: f.pitch, roll: f.roll,
                               brightness: f.brightness, hue: f.hue, faceSize: f.faceSize)
            frames.append(ExtractedFrame(mediaId: f.mediaId, frameIndex: 100_000 + k, pts: 0, faces: [face]))
        }
        try p.storeFrames(frames, extractionId: run, role: .src)
        let faces = Dictionary(uniqueKeysWithValues: try p.faces(matching: FaceQuery(role: .src)).map { ($0.id, $0) })
        let hist = try p.histograms(faceIDs: Array(faces.keys))
        let threshold = 0.1
        let groups = try p.duplicateGroups(matching: FaceQuery(role: .src), threshold: threshold)
        let dups = Set(groups.flatMap { $0.duplicates.map(\.id) })
        let copies = Set(try p.faceIDs(matching: FaceQuery(role: .src, whereSQL: "frame_index >= 100000")))
        XCTAssertEqual(copies.count, 10)
        XCTAssertTrue(copies.isSubset(of: dups), "every near-copy is found: \(copies.subtracting(dups))")
        let kept = Set(faces.keys).subtracting(dups)
        for g in groups {
            XCTAssertTrue(kept.contains(g.keep))
            for d in g.duplicates {
                XCTAssertEqual(d.distance, Self.naiveDistance(hist[g.keep]!, hist[d.id]!), accuracy: 1e-12)
                XCTAssertLessThan(d.distance, threshold)
                XCTAssertGreaterThanOrEqual(faces[g.keep]!.blur, faces[d.id]!.blur)
            }
        }
        // Faces left kept are pairwise at least the threshold apart.
        let k = Array(kept)
        for i in 0..<k.count { for j in (i + 1)..<k.count { XCTAssertGreaterThanOrEqual(Self.naiveDistance(hist[k[i]]!, hist[k[j]]!), threshold) } }
    }
}
