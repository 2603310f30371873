/// `bench-nn h128`: one full H128 training iteration (src + dst batch, both decoders with their
/// mask branches, DSSIM or MSE under the blurred mask + mask MAE, Adam step), as
/// `bench_h128_tf.py` times TensorFlow's. Usage: bench-nn h128 [--batch 4] [--warmup 2] [--iters 5] [--lighter] [--pixel-loss]
import Foundation
import FacetNN

func benchH128() throws {
    let args = CommandLine.arguments
    var config: H128Config = args.contains("--lighter") ? .lighter : .h128
    config.pixelLoss = args.contains("--pixel-loss")
    var fields = try timeTraining { try H128(config: config, seed: 0) }
    fields["bench"] = "h128_train_facetnn"
    fields["variant"] = (args.contains("--lighter") ? "lighter" : "h128") + (config.pixelLoss ? "+pixel_loss" : "")
    print(json(fields))
}
