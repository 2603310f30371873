/// Training on faces as `facet extract` stores them (MTCNN, dlib landmarks, DeepFaceLab
/// alignment): the landmark hull lands on the face in the aligned crop, and a run goes through.
import XCTest
import FacetCore
import FacetExtract
import FacetStore
@testable import FacetNN
@testable import FacetTrain

final class ExtractedFacesTests: TrainTestCase {
    /// Both sample videos extracted at 1 fps (a few faces per role).
    func extractedProject() throws -> Project {
        let p = try Project.create(at: path("extracted.facet"))
        for (role, file) in [(Role.src, "src-d18.mp4"), (Role.dst, "dst-d19.mp4")] {
            try MediaImporter.importMedia(path: Self.fixtures + "/video/" + file, role: role, link: true, into: p)
            var options = ExtractionOptions(role: role)
            options.fps = 1
            let summary = try Extractor(project: p, options: options).run { _ in }
            XCTAssertGreaterThanOrEqual(summary.facesStored, 4, "\(role) faces extracted")
        }
        return p
    }

    func testHullMaskOfExtractedFacesCoversTheFaceAndTrainingRuns() throws {
        let p = try extractedProject()
        for role in Role.allCases {
            let face = try XCTUnwrap(try p.faces(matching: FaceQuery(role: role, status: .kept)).first)
            let sample = try FaceSample.load(face, project: p, resolution: 64)
            // A full-face crop: the hull is a large central blob, neither empty nor the whole crop.
            let coverage = sample.mask.pixels.reduce(0) { $0 + Double($1) / 255 } / Double(64 * 64)
            XCTAssertGreaterThan(coverage, 0.25, "\(role) hull coverage")
            XCTAssertLessThan(coverage, 0.8, "\(role) hull coverage")
            XCTAssertEqual(sample.mask[32, 36, 0], 255, "\(role): the crop's centre is face")
            XCTAssertEqual(sample.mask[1, 1, 0], 0, "\(role): the corner is not")
        }
        let result = try Trainer(project: p, options: TrainOptions(architecture: .tiny, batchSize: 2, stop: .iterations(2), seed: 1)).run()
        XCTAssertEqual(result.checkpoint.iteration, 2)
        XCTAssertNotNil(result.checkpoint.valLoss)
    }

    /// Eyes-and-mouth priority on faces with real landmarks (MTCNN + dlib through `facet extract`): the mask lies on
    /// small regions of the face, and the priority raises the share of the src image gradient there.
    func testEyesMouthPriorityRaisesTheEyeAndMouthGradientShare() throws {
        let p = try extractedProject()
        let face = try XCTUnwrap(try p.faces(matching: FaceQuery(role: .src, status: .kept)).first)
        let sample = try FaceSample.load(face, project: p, resolution: 64)
        let em = sample.eyesMouth.pixels.reduce(0) { $0 + Double($1) / 255 } / Double(64 * 64)
        let hull = sample.mask.pixels.reduce(0) { $0 + Double($1) / 255 } / Double(64 * 64)
        print("eyes+mouth mask: \(em) of the crop, hull \(hull)")
        XCTAssertGreaterThan(em, 0.02)
        XCTAssertLessThan(em, 0.4 * hull)
        XCTAssertTrue(zip(sample.eyesMouth.pixels, sample.mask.pixels).allSatisfy { $0 == 0 || $1 > 0 }, "inside the hull")

        func share(priority: Bool) throws -> Double {
            var options = TrainOptions(architecture: .tiny, name: priority ? "on" : "off", batchSize: 2, stop: .iterations(1), seed: 4)
            options.knobs.eyesMouthPriority = priority
            let trainer = try Trainer(project: p, options: options)
            XCTAssertEqual(trainer.options.eyesMouthPriority, priority)
            trainer.step()
            let g = (trainer.network as! Quick96).step.imageGradSrc
            // The eyes-and-mouth region of this batch (drawn identically by both runs: same seed, same faces).
            let region = try XCTUnwrap(priorityRegion ?? trainer.makeBatches(iteration: 1).src.priority)
            priorityRegion = region
            var inside = 0.0, all = 0.0
            for i in 0..<g.count {
                let v = Double(abs(g[i]))
                all += v
                if region[i / 3] > 0.5 { inside += v }
            }
            return inside / all
        }
        let on = try share(priority: true), off = try share(priority: false)
        print("share of |dLoss/dImage| on the eyes and mouth: priority \(on), without \(off)")
        // Measured on the sample videos (tiny, seed 4, batch 2): 0.48 with the priority, 0.24 without.
        XCTAssertGreaterThan(on, 1.6 * off)
    }
    private var priorityRegion: Tensor?
}
