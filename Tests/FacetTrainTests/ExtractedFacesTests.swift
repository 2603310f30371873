/// Training on faces as `facet extract` stores them (MTCNN, dlib landmarks, DeepFaceLab
/// alignment): the landmark hull lands on the face in the aligned crop, and a run goes through.
import XCTest
import FacetCore
import FacetExtract
import FacetStore
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
}
