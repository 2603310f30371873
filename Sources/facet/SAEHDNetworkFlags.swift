/// The options that fix a new SAEHD model's network and face type, shared by `facet train` and `facet pretrain`.
import ArgumentParser
import FacetCore
import FacetNN
import FacetTrain
import FacetVision

/// `--archi`, `--resolution`, `--face-type`, the widths and `--preset` of a new `--model saehd`.
struct SAEHDNetworkFlags: ParsableArguments {
    @Option(help: "saehd: df or liae with any of -u, -d, -t (default liae-ud). Fixed at creation.") var archi: String?
    @Option(help: "saehd: face size, 64 to 640 in steps of 16 (32 with -d or -t; default 128). Fixed at creation.")
    var resolution: Int?
    @Option(help: "saehd: half (h), mid_full (mf), full (f), whole_face (wf) or head (default full); fixed.")
    var faceType: String?
    @Option(help: "saehd: autoencoder width ae_dims, 32 to 1024 (default 256). Fixed at creation.") var aeDims: Int?
    @Option(help: "saehd: encoder width e_dims, 16 to 256, even (default 64). Fixed at creation.") var eDims: Int?
    @Option(help: "saehd: decoder width d_dims, 16 to 256, even (default 64). Fixed at creation.") var dDims: Int?
    @Option(help: "saehd: mask decoder width d_mask_dims, 16 to 256, even (default d_dims / 3, even: 22).")
    var dMaskDims: Int?
    @Option(help: "saehd: cpu = liae-ud, 96 px, ae 128, e 32, d 32, d_mask 16, for two CPU cores (README).")
    var preset: String?

    /// Whether any of them was given.
    var given: Bool {
        archi != nil || resolution != nil || faceType != nil || aeDims != nil || eDims != nil || dDims != nil
            || dMaskDims != nil || preset != nil
    }

    /// A new SAEHD model's options from these flags (DeepFaceLab's defaults, or the preset, for those not given),
    /// not yet validated.
    func options() throws -> SAEHDOptions {
        var net = SAEHDConfig.deepFaceLab
        if let p = preset {
            guard p == "cpu" else { throw FacetError.setting("preset", "knows: cpu (got '\(p)')") }
            net = SAEHDOptions.cpuPreset
        }
        if let a = archi { net.archi = a.lowercased() }
        if let r = resolution { net.resolution = r }
        if let v = aeDims { net.aeDims = v }
        if let v = eDims { net.eDims = v }
        if let v = dDims {
            net.dDims = v
            if dMaskDims == nil && preset == nil { net.dMaskDims = SAEHDConfig.defaultMaskDims(dDims: v) }
        }
        if let v = dMaskDims { net.dMaskDims = v }
        var o = SAEHDOptions(network: net)
        if let f = faceType {
            let short: [String: FaceType] = ["h": .half, "mf": .midFull, "f": .full, "wf": .wholeFace]
            guard let t = short[f.lowercased()] ?? FaceType(rawValue: f.lowercased()) else {
                throw FacetError.setting("face-type", "knows half (h), mid_full (mf), full (f), whole_face (wf), "
                                         + "head; got '\(f)'")
            }
            o.faceType = t
        }
        return o
    }
}

/// `--color-transfer`: DeepFaceLab's `ct_mode` values Facet has, `none` included (to turn it off on resume).
enum ColorTransferChoice: String, ExpressibleByArgument, CaseIterable {
    /// No colour transfer.
    case none
    /// Reinhard's, in L*a*b*.
    case rct
    /// The linear one (RGB covariance).
    case lct

    /// The training option (nil for none).
    var transfer: TrainingColorTransfer? { TrainingColorTransfer(rawValue: rawValue) }
}
