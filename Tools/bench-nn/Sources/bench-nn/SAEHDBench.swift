/// `bench-nn saehd`: one full SAEHD training iteration (src + dst batch, masked DSSIM + MSE + mask MSE, AdaBelief
/// step), as `bench_saehd_tf.py` times TensorFlow's. Usage: bench-nn saehd [--batch 4] [--warmup 2] [--iters 5]
/// [--archi liae-ud] [--resolution 128] [--ae-dims 256] [--e-dims 64] [--d-dims 64] [--d-mask-dims 22]
import Foundation
import FacetNN

func benchSAEHD() throws {
    let args = CommandLine.arguments
    func text(_ name: String, _ fallback: String) -> String {
        args.firstIndex(of: name).map { args[$0 + 1] } ?? fallback
    }
    let config = SAEHDConfig(resolution: option("--resolution", 128), archi: text("--archi", "liae-ud"),
                             aeDims: option("--ae-dims", 256), eDims: option("--e-dims", 64),
                             dDims: option("--d-dims", 64), dMaskDims: option("--d-mask-dims", 22))
    var fields = try timeTraining { try SAEHD(config: config, seed: 0) }
    fields["bench"] = "saehd_train_facetnn"
    fields["variant"] = "\(config.archi) \(config.resolution) px ae \(config.aeDims) e \(config.eDims) d \(config.dDims) "
        + "m \(config.dMaskDims)"
    print(json(fields))
}
