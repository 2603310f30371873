/// `--init-from`: a new model in another project starts from a checkpoint's exact weights, records where they came
/// from, keeps a frozen encoder fixed, and refuses a different architecture with one line before writing anything.
import XCTest
import FacetCore
import FacetNN
import FacetStore
@testable import FacetTrain

final class WarmStartTests: TrainTestCase {
    func testInitFromLoadsTheExactTensorsRecordsLineageAndFreezes() throws {
        let a = try projectWithFaces(src: 6, dst: 6, name: "a.facet")
        let source = try Trainer(project: a, options: TrainOptions(architecture: .tiny, batchSize: 2, stop: .iterations(3), seed: 2))
        let c = try source.run().checkpoint
        let weights = source.network.namedParameters.map { $0.parameter.value.values }

        XCTAssertEqual(WarmStart.parse(a.path + ":tiny:best"), WarmStart(path: a.path, checkpoint: "tiny:best"))
        XCTAssertEqual(WarmStart.parse(a.path), WarmStart(path: a.path, checkpoint: "latest"))

        let b = try projectWithFaces(src: 6, dst: 6, name: "b.facet")
        var options = TrainOptions(architecture: .tiny, name: "warm", batchSize: 2, stop: .iterations(2), seed: 9)
        options.initFrom = WarmStart(path: a.path, checkpoint: String(c.id), freeze: ["encoder"])
        let warm = try Trainer(project: b, options: options)
        XCTAssertEqual(warm.network.namedParameters.map { $0.parameter.value.values }, weights, "the exact tensors")
        let model = try XCTUnwrap(try b.model(named: "warm"))
        let lineage = try XCTUnwrap(try b.modelInit(modelId: model.id!))
        XCTAssertEqual(lineage, ModelInit(sourcePath: a.path, sourceSHA256: try SHA256.hex(ofFile: a.path), sourceModel: "tiny",
                                          sourceCheckpointId: c.id, sourceIteration: 3, frozen: "encoder"))
        XCTAssertEqual(try ModelOptions.parse(model.optionsJson, model: "warm").frozen, ["encoder"])

        try warm.run()
        for (k, (name, p)) in warm.network.namedParameters.enumerated() {
            if name.hasPrefix("encoder.") || name.hasPrefix("inter.") {
                XCTAssertEqual(p.value.values, weights[k], "\(name) stays frozen")
            } else if name.hasSuffix(".weight") {
                XCTAssertNotEqual(p.value.values, weights[k], "\(name) trains")
            }
        }
        // A resumed warm model keeps its encoder frozen.
        let resumed = try Trainer(project: b, options: TrainOptions(name: "warm", resume: true, stop: .iterations(3)))
        XCTAssertFalse(resumed.trainable.contains { $0.name.hasPrefix("encoder.") })
        XCTAssertTrue(resumed.trainable.contains { $0.name.hasPrefix("decoder_src.") })
    }

    /// SAEHD liae: the pretrained tensors exactly, and `--freeze encoder` keeps the encoder and `inter_AB` (the inter
    /// both persons' codes go through) fixed while `inter_B` and the decoder train; another archi is refused.
    func testSAEHDLIAEStartsFromTheCheckpointAndFreezesTheSharedParts() throws {
        func saehd(_ archi: String, name: String, seed: UInt64) -> TrainOptions {
            var o = TrainOptions(architecture: .saehd, name: name, batchSize: 2, stop: .iterations(2), seed: seed)
            o.saehd = SAEHDTrainingTests.tiny(archi)
            return o
        }
        let a = try projectWithFaces(src: 6, dst: 6, name: "a.facet")
        let source = try Trainer(project: a, options: saehd("liae-ud", name: "generic", seed: 2))
        let c = try source.run().checkpoint
        let weights = Dictionary(uniqueKeysWithValues: source.network.namedParameters.map { ($0.name, $0.parameter.value.values) })

        let b = try projectWithFaces(src: 6, dst: 6, name: "b.facet")
        var options = saehd("liae-ud", name: "warm", seed: 9)
        options.initFrom = WarmStart(path: a.path, checkpoint: String(c.id), freeze: ["encoder"])
        XCTAssertEqual(try options.initFrom!.sourceOptions().saehd, SAEHDTrainingTests.tiny("liae-ud"))
        let warm = try Trainer(project: b, options: options)
        for (name, p) in warm.network.namedParameters { XCTAssertEqual(p.value.values, weights[name], name) }
        XCTAssertEqual(Set(warm.trainable.map { $0.name.split(separator: ".")[0] }), ["inter_B", "decoder"])
        try warm.run()
        var kept = 0, trained = 0
        for (name, p) in warm.network.namedParameters {
            if name.hasPrefix("encoder.") || name.hasPrefix("inter_AB.") {
                XCTAssertEqual(p.value.values, weights[name], "\(name) stays frozen")
                kept += 1
            } else if name.hasSuffix(".weight") {
                XCTAssertNotEqual(p.value.values, weights[name], "\(name) trains")
                trained += 1
            }
        }
        XCTAssertGreaterThan(kept, 8)
        XCTAssertGreaterThan(trained, 8)

        var other = saehd("df-ud", name: "df", seed: 9)
        other.initFrom = WarmStart(path: a.path)
        XCTAssertThrowsError(try Trainer(project: b, options: other)) { error in
            XCTAssertTrue("\(error)".hasSuffix("--init-from needs the same architecture"), "\(error)")
        }
        XCTAssertNil(try b.model(named: "df"))
    }

    func testADifferentArchitectureIsRefusedWithOneLineBeforeAnythingIsWritten() throws {
        let a = try projectWithFaces(src: 6, dst: 6, name: "a.facet")
        try Trainer(project: a, options: TrainOptions(architecture: .tiny, batchSize: 2, stop: .iterations(1), seed: 2)).run()
        let b = try projectWithFaces(src: 6, dst: 6, name: "b.facet")
        var options = TrainOptions(architecture: .quick96, batchSize: 2, stop: .iterations(1), seed: 9)
        options.initFrom = WarmStart(path: a.path)
        XCTAssertThrowsError(try Trainer(project: b, options: options)) { error in
            let text = "\(error)"
            XCTAssertTrue(text.hasSuffix("checkpoint #1 is a tiny model (64 px, encoder 24, bottleneck 64, decoder 24), not the quick96 "
                                         + "network of this model (96 px, encoder 64, bottleneck 128, decoder 64): --init-from needs "
                                         + "the same architecture"), text)
            XCTAssertFalse(text.contains("\n"))
        }
        XCTAssertEqual(try b.models().count, 0, "no model row written")
        options.initFrom = WarmStart(path: dir + "/missing.facet")
        XCTAssertThrowsError(try Trainer(project: b, options: options)) { error in
            XCTAssertTrue("\(error)".contains("missing.facet: not found (--init-from)"), "\(error)")
        }
    }
}
