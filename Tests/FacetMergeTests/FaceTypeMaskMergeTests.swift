/// The merge of models trained on whole faces and heads (SAEHD's face types) with every mask: the learned one, the
/// landmark hull, the dst faces' XSeg masks and their combinations. On the occluded dst sample video with the true
/// masks stored as the faces' segmenter masks, each mask paints the same part of the frame whatever the model's
/// face type (the stored full-face masks are re-aligned to it), the occluder stays untouched under every XSeg mask,
/// and each combination is the intersection of its parts.
import XCTest
import Foundation
import FacetCore
import FacetMedia
import FacetMerge
import FacetStore
import FacetTestSupport
import FacetVision

final class FaceTypeMaskMergeTests: XCTestCase {
    var folder = ""
    override func setUpWithError() throws {
        folder = NSTemporaryDirectory() + "facet-facetype-merge-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
    }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(atPath: folder) }

    /// IoU of two pixel sets.
    func iou(_ a: [Bool], _ b: [Bool]) -> Double {
        var inter = 0, union = 0
        for i in a.indices {
            if a[i] && b[i] { inter += 1 }
            if a[i] || b[i] { union += 1 }
        }
        return union == 0 ? 1 : Double(inter) / Double(union)
    }

    func testWholeFaceAndHeadModelsMergeWithEveryMask() throws {
        let p = try OccludedFixture.makeProject(at: folder + "/o.facet")
        // The true masks (hull minus occluder) as each dst face's segmenter mask, at 128 px as a segmenter gives them.
        var stored: [PredictedMask] = []
        for face in try p.faces(matching: FaceQuery(role: .dst)) {
            let m = OccludedFixture.truthMask(frame: face.frameIndex, size: 128)
            stored.append(PredictedMask(faceId: face.id, checkpointId: nil, labelRevision: "", size: 128,
                                        png: try PNGCodec.encode(m)))
        }
        try p.storePredictedMasks(stored)
        let media = try MergeEngine.destination(in: p, mediaId: nil)
        let swapper = ShiftedSwapper(resolution: 64)
        let types = ["full", "whole_face", "head"]
        for f in [12, 28, 46] {
            let row = try XCTUnwrap(MergeFixture.rows.first { $0.frame == f })
            let box = try XCTUnwrap(OccludedFixture.occluder(frame: f))
            var changed: [String: [MaskKind: [Bool]]] = [:]
            var (w, h) = (0, 0)
            for type in types {
                for kind in MaskKind.allCases {
                    let options = MergeOptions(mode: .overlay, mask: kind, erode: 0, blur: 0)
                    let out = try MergeEngine.previewWithOriginal(project: p, media: media, frame: f, swapper: swapper,
                                                                  options: options, faceType: type)
                    (w, h) = (out.original.width, out.original.height)
                    changed[type, default: [:]][kind] = (0..<(w * h)).map { (i: Int) -> Bool in
                        (0..<3).contains { (c: Int) -> Bool in
                            abs(Int(out.original.pixels[i * 3 + c]) - Int(out.merged.pixels[i * 3 + c])) > 3
                        }
                    }
                }
            }
            // In the frame: the landmark hull, the true mask (hull minus box), the box's inside 6 px from its edges.
            let hullImage = FacetVision.hullMask(of: row.landmarks.points, width: w, height: h)
            let hull: [Bool] = hullImage.pixels.map { $0 >= 128 }
            let (bx0, bx1, by0, by1) = (box.x0, box.x1, box.y0, box.y1)
            func within(_ i: Int, margin: Int) -> Bool {
                let x: Int = i % w, y: Int = i / w
                let inX: Bool = x >= bx0 - margin && x < bx1 + margin
                let inY: Bool = y >= by0 - margin && y < by1 + margin
                return inX && inY
            }
            let inBox: [Bool] = (0..<(w * h)).map { within($0, margin: -6) }
            let nearBox: [Bool] = (0..<(w * h)).map { within($0, margin: 6) }
            let truth: [Bool] = (0..<(w * h)).map { hull[$0] && !nearBox[$0] }
            let boxPixels = inBox.filter { $0 }.count
            func and(_ a: [Bool], _ b: [Bool]) -> [Bool] { zip(a, b).map { $0 && $1 } }
            func count(_ a: [Bool]) -> Int { a.filter { $0 }.count }

            for type in types {
                let c = try XCTUnwrap(changed[type])
                let what = "frame \(f), \(type)"
                let hullIoU = iou(c[.hull]!, hull)
                // The XSeg region away from the box edges (the 6 px band around it is where the 128 px mask blends).
                let xsegAway: [Bool] = zip(c[.xseg]!, nearBox).map { $0 && !$1 }
                let xsegIoU = iou(xsegAway, truth)
                print("\(what): hull IoU \(String(format: "%.3f", hullIoU)), xseg IoU \(String(format: "%.3f", xsegIoU)), "
                      + "learned \(count(c[.learned]!)) px")
                XCTAssertGreaterThan(hullIoU, 0.9, what)
                XCTAssertGreaterThan(xsegIoU, 0.9, what)
                for kind in MaskKind.allCases where kind.usesXSeg {
                    let leak = Double(count(and(c[kind]!, inBox))) / Double(boxPixels)
                    XCTAssertLessThan(leak, 0.03, "\(what), \(kind.rawValue): the occluder stays as it is")
                }
                // (The box reaches past the hull in some frames: its part inside the hull.)
                let boxInHull = and(inBox, hull)
                XCTAssertGreaterThan(Double(count(and(c[.hull]!, boxInHull))) / Double(count(boxInHull)), 0.9,
                                     "\(what): the hull alone paints over the occluder")
                XCTAssertGreaterThan(count(c[.learned]!), count(hull) / 3, what)
                // Each combination is the intersection of its parts.
                XCTAssertGreaterThan(iou(c[.xsegAndHull]!, and(c[.xseg]!, c[.hull]!)), 0.95, what)
                XCTAssertGreaterThan(iou(c[.xsegAndLearned]!, and(c[.xseg]!, c[.learned]!)), 0.95, what)
                XCTAssertGreaterThan(iou(c[.learnedAndHull]!, and(c[.learned]!, c[.hull]!)), 0.95, what)
                // The hull and the XSeg masks cover the same part of the frame as for a full-face model.
                XCTAssertGreaterThan(iou(c[.xseg]!, changed["full"]![.xseg]!), 0.92, what)
                XCTAssertGreaterThan(iou(c[.hull]!, changed["full"]![.hull]!), 0.95, what)
            }
            // The learned mask is the model's, in its own crop: the same ellipse covers more of the frame in a whole
            // face crop than in a full face one, and more again in a head crop (so the faces were re-aligned).
            let learned = types.map { count(changed[$0]![.learned]!) }
            XCTAssertGreaterThan(Double(learned[1]), 1.15 * Double(learned[0]), "frame \(f): \(learned)")
            XCTAssertGreaterThan(Double(learned[2]), 1.15 * Double(learned[1]), "frame \(f): \(learned)")
        }
    }
}
