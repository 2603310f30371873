/// `facet import-model --from dfl`: a DeepFaceLab Quick96 model folder into a Facet checkpoint.
import Foundation
import FacetCore
import FacetMedia
import FacetNN
import FacetStore

/// What `DFLModelImport.importQuick96` stored.
public struct DFLModelImportSummary: Sendable {
    /// The name of the model created.
    public var model: String
    /// The checkpoint holding the imported weights.
    public var checkpoint: CheckpointRecord
    /// Number of tensors imported.
    public var tensors: Int
    /// Number of trainable floats imported.
    public var parameters: Int
    /// DeepFaceLab's iteration count (`data.dat`), where Facet's training goes on from.
    public var iteration: Int
    /// The model name DeepFaceLab's files in the folder carry (`<name>_Quick96_data.dat`).
    public var folderModelName: String
}

/// Reads DeepFaceLab's Quick96 (`models/Model_Quick96`): `<name>_Quick96_{encoder,inter,decoder_src,decoder_dst}.npy`,
/// each `pickle.dumps` of `{TensorFlow variable name less the model's scope: float32 array}`, and
/// `<name>_Quick96_data.dat`
/// (a pickled dict with `iter`). DeepFaceLab's layout differs from Facet's in three places, converted here: it flattens
/// the encoder's output in NCHW order and `reshape_4D`s the dense output from NCHW order (Facet uses NHWC: the rows of
/// `dense1` and the columns and bias of `dense2` are permuted), and it trains on BGR images (Facet on RGB: the first
/// convolution's input channels and the output convolutions' channels are reversed). The optimizer state is not
/// imported (Facet's RMSprop starts from zero).
public enum DFLModelImport {
    /// The model files of `folder`: the one Quick96 model's name there, or an error naming what the folder holds.
    public static func findQuick96(folder: String) throws -> String {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: folder) else {
            throw FacetError.file(folder, "cannot be read as a folder")
        }
        let data = names.filter { $0.hasSuffix("_data.dat") }
        let quick = data.filter { $0.hasSuffix("_Quick96_data.dat") }
            .map { String($0.dropLast("_Quick96_data.dat".count)) }.sorted()
        if quick.count == 1 { return quick[0] }
        if quick.count > 1 {
            throw FacetError.file(folder,
                                  "holds several Quick96 models (\(quick.joined(separator: ", "))): "
                                  + "keep one per folder")
        }
        let others = data.map { String($0.dropLast("_data.dat".count)) }.sorted()
        if let other = others.first {
            throw FacetError.file(folder,
                                  "holds the DeepFaceLab model '\(other)', not a Quick96: "
                                  + "only Quick96 matches a Facet architecture exactly")
        }
        throw FacetError.file(folder, "holds no DeepFaceLab model (no <name>_Quick96_data.dat)")
    }

    /// How one Facet parameter comes from a DeepFaceLab variable.
    enum Conversion { case same, dense1Rows, dense2Columns, dense2Bias, reverseInput, reverseOutput }

    /// Facet's Quick96 parameter -> (DeepFaceLab file part, variable key, conversion).
    static func mapping(_ c: Quick96Config) -> [String: (part: String, key: String, conversion: Conversion)] {
        var m: [String: (String, String, Conversion)] = [:]
        func both(_ facet: String, _ part: String, _ dfl: String, weight: Conversion = .same,
                  bias: Conversion = .same) {
            m[facet + ".weight"] = (part, dfl + "/weight:0", weight)
            m[facet + ".bias"] = (part, dfl + "/bias:0", bias)
        }
        for i in 0..<4 {
            both("encoder.down\(i + 1)", "encoder", "down1/downs_\(i)/conv1", weight: i == 0 ? .reverseInput : .same)
        }
        both("inter.dense1", "inter", "dense1", weight: .dense1Rows)
        both("inter.dense2", "inter", "dense2", weight: .dense2Columns, bias: .dense2Bias)
        both("inter.up", "inter", "upscale1/conv1")
        for d in ["decoder_src", "decoder_dst"] {
            for i in 0..<3 {
                both("\(d).up\(i)", d, "upscale\(i)/conv1")
                both("\(d).res\(i).conv1", d, "res\(i)/conv1")
                both("\(d).res\(i).conv2", d, "res\(i)/conv2")
            }
            for (i, name) in ["out_conv", "out_conv1", "out_conv2", "out_conv3"].enumerated() {
                both("\(d).out.conv\(i)", d, name, weight: .reverseOutput, bias: .reverseOutput)
            }
            for i in 0..<4 { both("\(d).mask_up\(i)", d, "upscalem\(i)/conv1") }
            both("\(d).mask_out", d, "out_convm")
        }
        return m
    }

    /// A pickled dict of named float arrays (one `.npy` file of DeepFaceLab's) as name -> (shape, floats).
    static func arrays(_ path: String) throws -> [String: (shape: [Int], values: [Float])] {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw FacetError.file(path, "cannot be read")
        }
        let value: PyValue
        do {
            value = try Unpickler.load(data, what: "DeepFaceLab weights")
        } catch let e as FacetError {
            throw FacetError.file(path, e.message)
        }
        guard case .dict(let items) = value else { throw FacetError.file(path, "is not a dict of named arrays") }
        var out: [String: (shape: [Int], values: [Float])] = [:]
        for (k, v) in items {
            guard case .str(let name) = k, case .array(let a) = v, a.kind == "f", let d = a.doubles else {
                throw FacetError.file(path, "holds something other than named float arrays (\(k))")
            }
            out[name] = (a.shape, d.map { Float($0) })
        }
        return out
    }

    /// Converts DeepFaceLab's values of one variable to Facet's layout for `parameter` of `shape`.
    static func convert(_ v: [Float], shape: [Int], _ conversion: Conversion, config c: Quick96Config) -> [Float] {
        var out = v
        switch conversion {
        case .same: break
        case .dense1Rows:
            // Row of feature (y, x, ch) in NHWC order <- DeepFaceLab's row (ch, y, x).
            let s = c.resolution / 16, ch = c.encoderDims * 8, cols = shape[1]
            for y in 0..<s { for x in 0..<s { for k in 0..<ch {
                let facet = (y * s + x) * ch + k, dfl = (k * s + y) * s + x
                for j in 0..<cols { out[facet * cols + j] = v[dfl * cols + j] }
            } } }
        case .dense2Columns, .dense2Bias:
            let s = c.lowestDenseResolution, ch = c.aeDims, rows = conversion == .dense2Bias ? 1 : shape[0],
                cols = s * s * ch
            for r in 0..<rows { for y in 0..<s { for x in 0..<s { for k in 0..<ch {
                out[r * cols + (y * s + x) * ch + k] = v[r * cols + (k * s + y) * s + x]
            } } } }
        case .reverseInput:
            // [k, k, cin, cout]: BGR input channels -> RGB.
            let (k2, cin, cout) = (shape[0] * shape[1], shape[2], shape[3])
            for p in 0..<k2 {
                for i in 0..<cin {
                    for o in 0..<cout { out[(p * cin + i) * cout + o] = v[(p * cin + (cin - 1 - i)) * cout + o] }
                }
            }
        case .reverseOutput:
            // [k, k, cin, 3] or [3]: BGR output channels -> RGB.
            let cout = shape.last!, rows = v.count / cout
            for r in 0..<rows { for o in 0..<cout { out[r * cout + o] = v[r * cout + (cout - 1 - o)] } }
        }
        return out
    }

    /// Imports the Quick96 model in `folder` as a new Facet `quick96` model `name` (default: the folder's model
    /// name) whose first checkpoint holds its weights at DeepFaceLab's iteration. The project needs kept src and dst
    /// faces (the checkpoint's held-out loss and preview are computed on them). Everything is checked before anything
    /// is written: a missing file or variable, an unexpected one, or a shape that differs from Facet's Quick96 is an
    /// error naming the file and the variable.
    public static func importQuick96(folder: String, name: String? = nil,
                                     into project: Project) throws -> DFLModelImportSummary {
        let dflName = try findQuick96(folder: folder)
        let prefix = (folder as NSString).appendingPathComponent(dflName + "_Quick96_")
        guard let dat = FileManager.default.contents(atPath: prefix + "data.dat") else {
            throw FacetError.file(prefix + "data.dat", "cannot be read")
        }
        let info: PyValue
        do {
            info = try Unpickler.load(dat, what: "DeepFaceLab model data")
        } catch let e as FacetError {
            throw FacetError.file(prefix + "data.dat", e.message)
        }
        guard let iter = info["iter"]?.number, iter >= 0, iter < 1e12, iter == iter.rounded() else {
            throw FacetError.file(prefix + "data.dat", "has no iteration count ('iter')")
        }
        let config = Quick96Config.quick96
        let map = mapping(config)
        var parts: [String: [String: (shape: [Int], values: [Float])]] = [:]
        for part in ["encoder", "inter", "decoder_src", "decoder_dst"] {
            parts[part] = try arrays(prefix + part + ".npy")
        }

        // Check everything against Facet's Quick96 before the project is touched.
        let reference = try Quick96(config: config, seed: 0)
        var values: [String: [Float]] = [:]
        var used: [String: Set<String>] = [:]
        for (facetName, p) in reference.namedParameters {
            guard let (part, key, conversion) = map[facetName] else {
                throw FacetError("import-model: Facet's Quick96 parameter \(facetName) has no DeepFaceLab name")
            }
            let file = prefix + part + ".npy"
            guard let a = parts[part]?[key] else {
                throw FacetError.file(file, "has no '\(key)' (Facet's \(facetName))")
            }
            guard a.shape == p.value.shape else {
                throw FacetError.file(file,
                                      "'\(key)' is \(a.shape), Facet's Quick96 \(facetName) is \(p.value.shape): "
                                      + "the architectures differ")
            }
            values[facetName] = convert(a.values, shape: a.shape, conversion, config: config)
            used[part, default: []].insert(key)
        }
        for (part, arrays) in parts.sorted(by: { $0.key < $1.key }) {
            if let extra = arrays.keys.sorted().first(where: { !(used[part]?.contains($0) ?? false) }) {
                throw FacetError.file(prefix + part + ".npy",
                                      "holds '\(extra)', which Facet's Quick96 has no place for: "
                                      + "the architectures differ")
            }
        }

        let trainer = try Trainer(project: project,
                                  options: TrainOptions(architecture: .quick96, name: name ?? dflName, seed: 0))
        for (facetName, p) in trainer.network.namedParameters {
            let v = values[facetName]!
            v.withUnsafeBufferPointer { p.value.data.update(from: $0.baseAddress!, count: v.count) }
            p.valueChanged()
        }
        trainer.startAt(iteration: Int(iter))
        let checkpoint = try trainer.saveCheckpoint()
        return DFLModelImportSummary(model: trainer.model.name, checkpoint: checkpoint, tensors: values.count,
                                     parameters: trainer.network.parameterCount, iteration: Int(iter),
                                     folderModelName: dflName)
    }
}
