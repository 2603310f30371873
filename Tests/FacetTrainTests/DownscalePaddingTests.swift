/// Quick96 and SAEHD pad their 5x5 stride-2 downscales as DeepFaceLab's leras does (`k / 2` zeros on every side), and
/// the models made before (TensorFlow's SAME, one pixel later) keep their padding: their options, as an earlier build
/// stored them, have no `downscale_padding`, and their networks are built as they were trained. A warm start pads as
/// the model it starts from.
import XCTest
import GRDB
import FacetCore
import FacetNN
import FacetStore
@testable import FacetTrain

final class DownscalePaddingTests: TrainTestCase {
    /// The model rows of a project made by Facet at 7c1d470 (the sample pair, `Tools/bench saehd-score`), verbatim.
    static let quick96Before = #"{"architecture":"quick96","augmentation":{"flip_probability":0.5,"random_warp":true,"#
        + #""rotation_degrees":10,"scale":0.05,"shift":0.05},"batch_size":4,"format_version":1,"max_validation_faces":32,"#
        + #""network":{"ae_dims":128,"decoder_dims":64,"encoder_dims":64,"mask_dims":16,"resolution":96},"#
        + #""optimizer":{"kind":"rmsprop","learning_rate":0.0002,"lr_dropout":0.3},"validation_fraction":0.1}"#
    static let saehdBefore = #"{"architecture":"saehd","augmentation":{"flip_probability":0.5,"random_warp":true,"#
        + #""rotation_degrees":10,"scale":0.05,"shift":0.05},"batch_size":4,"format_version":1,"max_validation_faces":32,"#
        + #""network":{"ae_dims":128,"decoder_dims":32,"encoder_dims":32,"mask_dims":16,"resolution":96},"#
        + #""optimizer":{"kind":"adabelief","learning_rate":5e-05,"lr_dropout":1},"saehd":{"blur_out_mask":false,"#
        + #""clip_gradients":false,"face_type":"full","gan":{"gan_dims":16,"gan_patch_size":12,"gan_power":0,"#
        + #""true_face_power":0},"network":{"ae_dims":128,"archi":"liae-ud","d_dims":32,"d_mask_dims":16,"e_dims":32,"#
        + #""resolution":96},"random_hsv_power":0},"validation_fraction":0.1}"#

    /// The paddings of a network's encoder convolutions, in order.
    func encoderPaddings(_ n: any SwapNetwork) throws -> [ConvPadding] {
        let encoder: Sequential
        if let q = n as? Quick96 { encoder = q.encoder } else { encoder = try XCTUnwrap(n as? SAEHD).encoder }
        return encoder.layers.compactMap { ($0.1 as? Conv2D)?.padding }
    }

    func testModelsMadeBeforeKeepTensorFlowsPaddingAndNewOnesPadAsLeras() throws {
        for (json, name) in [(Self.quick96Before, "q"), (Self.saehdBefore, "s")] {
            let old = try ModelOptions.parse(json, model: name)
            XCTAssertNil(old.network.downscalePadding)
            XCTAssertNil(old.saehd?.network.downscalePadding)
            XCTAssertEqual(try encoderPaddings(old.makeNetwork(seed: 1, optimizerSeed: 1)), [.same, .same, .same, .same])
            XCTAssertFalse(try old.json().contains("downscale_padding"), "an old row stays as it was")
        }
        for architecture in [TrainArchitecture.quick96, .saehd] {
            let new = ModelOptions(architecture: architecture,
                                   saehd: architecture == .saehd ? SAEHDOptions(network: SAEHDConfig(resolution: 64,
                                       archi: "liae-ud", aeDims: 32, eDims: 16, dDims: 16, dMaskDims: 16)) : nil)
            let json = try new.json()
            XCTAssertTrue(json.contains(#""downscale_padding":"symmetric""#), json)
            let back = try ModelOptions.parse(json, model: "n")
            XCTAssertEqual(back, new)
            XCTAssertEqual(try encoderPaddings(back.makeNetwork(seed: 1, optimizerSeed: 1)),
                           [.symmetric, .symmetric, .symmetric, .symmetric], architecture.rawValue)
        }
        // The demo's tiny model is Facet's own: TensorFlow's padding, as before.
        XCTAssertEqual(try encoderPaddings(ModelOptions(architecture: .tiny).makeNetwork(seed: 1, optimizerSeed: 1)),
                       [.same, .same, .same, .same])
        XCTAssertEqual(ConvPadding.symmetric.rawValue, "symmetric")
    }

    /// A new quick96 model warm-started from one made before pads as that one (its weights read what they learned
    /// on), and from a new one as leras.
    func testAWarmStartPadsAsTheModelItStartsFrom() throws {
        let a = try projectWithFaces(src: 4, dst: 4, name: "a.facet")
        try Trainer(project: a, options: TrainOptions(architecture: .quick96, name: "new", batchSize: 2,
                                                      stop: .iterations(1), seed: 2)).run()
        try Trainer(project: a, options: TrainOptions(architecture: .quick96, name: "old", batchSize: 2,
                                                      stop: .iterations(1), seed: 3)).run()
        // "old" as an earlier build stored it: no downscale_padding.
        let oldModel = try XCTUnwrap(try a.model(named: "old"))
        var oldOptions = try ModelOptions.parse(oldModel.optionsJson, model: "old")
        XCTAssertEqual(oldOptions.network.downscalePadding, .symmetric)
        oldOptions.network.downscalePadding = nil
        let queue = try DatabaseQueue(path: a.path)
        try queue.write { db in
            try db.execute(sql: "UPDATE model SET options_json = ? WHERE id = ?",
                           arguments: [try oldOptions.json(), oldModel.id!])
        }
        try queue.close()

        let b = try projectWithFaces(src: 4, dst: 4, name: "b.facet")
        for (source, expected) in [("old", ConvPadding.same), ("new", .symmetric)] {
            var options = TrainOptions(architecture: .quick96, name: "from-\(source)", batchSize: 2, stop: .iterations(1),
                                       seed: 9)
            options.initFrom = WarmStart(path: a.path, checkpoint: "\(source):latest")
            let warm = try Trainer(project: b, options: options)
            XCTAssertEqual(try encoderPaddings(warm.network), [expected, expected, expected, expected], source)
            let stored = try ModelOptions.parse(try XCTUnwrap(try b.model(named: "from-\(source)")).optionsJson,
                                                model: source)
            XCTAssertEqual(stored.network.downscalePadding ?? .same, expected, source)
        }
    }
}
