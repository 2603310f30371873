/// The swap graph of a trained model (destination face in; the source decoder's face and mask
/// out) as an ONNX model, in Facet's own interface or as DeepFaceLive's DFM.
import Foundation
import FacetCore
import FacetNN
import SwiftProtobuf

/// Which interface the exported graph has.
public enum SwapGraphFormat: String, Sendable, CaseIterable {
    /// Facet's: input `face` `[N, R, R, 3]` RGB; outputs `swapped_face` `[N, R, R, 3]` RGB and
    /// `swapped_mask` `[N, R, R, 1]`; NHWC float32 in [0, 1].
    case onnx
    /// DeepFaceLive's DFM (as DeepFaceLab's `export_dfm` writes it): input `in_face:0`
    /// `[N, R, R, 3]` BGR; outputs, in this order, `out_face_mask:0` (the destination decoder's
    /// mask of the input face), `out_celeb_face:0` (the swap, BGR) and `out_celeb_face_mask:0`
    /// (the source decoder's mask); NHWC float32 in [0, 1].
    case dfm
}

/// Names of the graph's inputs and outputs per format.
public enum SwapGraphNames {
    /// The input's name in an ONNX graph.
    public static let onnxInput = "face"
    /// The outputs' names in an ONNX graph: the swapped face, then the learned mask.
    public static let onnxOutputs = ["swapped_face", "swapped_mask"]
    /// The input's name in a DFM graph.
    public static let dfmInput = "in_face:0"
    /// The outputs' names in a DFM graph, in DeepFaceLive's order (see `SwapGraphFormat.dfm`).
    public static let dfmOutputs = ["out_face_mask:0", "out_celeb_face:0", "out_celeb_face_mask:0"]
}

/// What a swap graph is made of: the shared encoder's layers in order, for `liae` its two inters, and the two
/// decoders' image and mask branches.
public struct SwapGraphParts {
    /// Side of the square face the network takes and returns, in pixels.
    public var resolution: Int
    /// The shared encoder's layers, in order, each with its path (the prefix of its parameters' names).
    public var encoder: [(name: String, layer: any Layer)]
    /// SAEHD `liae`'s inters after the encoder: the swap's code is `inter_AB`'s output twice on channels (AB|AB),
    /// the destination's `inter_B`'s then `inter_AB`'s (B|AB), both read by the one decoder. Nil for the models whose
    /// encoder chain ends in the code.
    public var inters: (ab: any Layer, b: any Layer)?
    /// The source decoder's image branch (the swapped face).
    public var srcImage: any Layer
    /// The source decoder's mask branch.
    public var srcMask: any Layer
    /// The destination decoder's mask branch (DFM's mask of the input face; `liae`'s one decoder's mask branch).
    public var dstMask: any Layer

    /// The parts of a Facet network (Quick96 and its tiny variant, H128, SAEHD df and liae); throws for another.
    public init(_ network: AnyObject) throws {
        switch network {
        case let q as Quick96:
            resolution = q.config.resolution
            encoder = [("encoder", q.encoder), ("inter", q.inter)]
            srcImage = q.decoderSrc.image; srcMask = q.decoderSrc.mask; dstMask = q.decoderDst.mask
        case let h as H128:
            resolution = h.config.resolution
            encoder = [("encoder", h.encoder)]
            srcImage = h.decoderSrc.image; srcMask = h.decoderSrc.mask; dstMask = h.decoderDst.mask
        case let s as SAEHD:
            resolution = s.config.resolution
            if let interB = s.interB {
                // liae: the encoder alone is shared by both codes; the inters and the concatenations follow it.
                encoder = [("encoder", s.encoder)]
                inters = (s.inter, interB)
            } else {
                // df: the same chain as Quick96's.
                encoder = [("encoder", s.encoder), ("inter", s.inter)]
            }
            srcImage = s.decoderSrc.image; srcMask = s.decoderSrc.mask; dstMask = s.decoderDst.mask
        default:
            throw FacetError("ONNX export: a \(type(of: network)) network has no ONNX form in Facet yet")
        }
    }
}

/// Builds the ONNX model of `parts` in `format`; `metadata` goes into the model's
/// `metadata_props` (model name, architecture, checkpoint...).
public func swapGraphModel(_ parts: SwapGraphParts, format: SwapGraphFormat, name: String,
                           metadata: [(String, String)]) throws -> Onnx_ModelProto {
    let r = parts.resolution
    var low = LayerLowering()
    let input = format == .onnx ? SwapGraphNames.onnxInput : SwapGraphNames.dfmInput
    _ = low.g.fresh(input)
    // NHWC in; DeepFaceLive's frames are BGR (OpenCV), Facet's networks are trained on RGB.
    var nhwc = input
    if format == .dfm {
        nhwc = low.g.node("Gather", [input, low.g.int64s("bgr_to_rgb", [2, 1, 0])], [Attr.int("axis", 3)],
                          hint: "in/bgr_to_rgb")
    }
    let nchw = low.g.node("Transpose", [nhwc], [Attr.ints("perm", [0, 3, 1, 2])], hint: "in/to_nchw")
    var code = GraphValue(name: nchw, shape: .map(channels: 3, height: r, width: r))
    for (name, layer) in parts.encoder { code = try low.lower(layer, code, path: name) }
    // liae: the swap reads AB|AB; DFM's mask of the input face reads B|AB (DeepFaceLab's `export_dfm`).
    var dstCode: GraphValue?
    if let inters = parts.inters {
        let encoded = code
        let ab = try low.lower(inters.ab, encoded, path: "inter_AB")
        code = try low.concatenate([ab, ab], axis: 1, path: "swap_code")
        if format == .dfm {
            let b = try low.lower(inters.b, encoded, path: "inter_B")
            dstCode = try low.concatenate([b, ab], axis: 1, path: "dst_code")
        }
    }
    let decoderPath = parts.inters == nil ? "decoder_src" : "decoder"

    /// NCHW value to an NHWC graph output named `output`, the channels reversed first for BGR.
    func out(_ v: GraphValue, _ output: String, bgr: Bool) throws -> (String, Int) {
        guard case .map(let c, r, r) = v.shape else {
            throw FacetError("ONNX export: \(output) is \(v.shape), not a \(r) px face")
        }
        var x = v.name
        if bgr {
            x = low.g.node("Gather", [x, low.g.int64s("rgb_to_bgr", [2, 1, 0])], [Attr.int("axis", 1)],
                           hint: output + "/to_bgr")
        }
        low.g.node("Transpose", [x], [Attr.ints("perm", [0, 2, 3, 1])], hint: output + "/to_nhwc", output: output)
        return (output, c)
    }
    var outputs: [(String, Int)] = []
    let face = try low.lower(parts.srcImage, code, path: decoderPath)
    let mask: GraphValue, dstMask: GraphValue?
    if let dstCode {
        // liae's one mask branch reads both codes: stacked on the batch axis, run once (its weights stored once),
        // split in two halves again.
        let both = try low.concatenate([code, dstCode], axis: 0, path: "mask_codes")
        let masks = try low.lower(parts.srcMask, both, path: decoderPath)
        let halves = low.g.node("Split", [masks.name], [Attr.int("axis", 0)], hint: "mask_halves", outputs: 2)
        mask = GraphValue(name: halves[0], shape: masks.shape)
        dstMask = GraphValue(name: halves[1], shape: masks.shape)
    } else {
        mask = try low.lower(parts.srcMask, code, path: decoderPath)
        dstMask = try format == .dfm ? low.lower(parts.dstMask, code, path: "decoder_dst") : nil
    }
    switch format {
    case .onnx:
        outputs.append(try out(face, SwapGraphNames.onnxOutputs[0], bgr: false))
        outputs.append(try out(mask, SwapGraphNames.onnxOutputs[1], bgr: false))
    case .dfm:
        guard let dstMask else { throw FacetError("ONNX export: the DFM graph lacks the input face's mask") }
        outputs.append(try out(dstMask, SwapGraphNames.dfmOutputs[0], bgr: false))
        outputs.append(try out(face, SwapGraphNames.dfmOutputs[1], bgr: true))
        outputs.append(try out(mask, SwapGraphNames.dfmOutputs[2], bgr: false))
    }

    func valueInfo(_ name: String, channels: Int) -> Onnx_ValueInfoProto {
        var v = Onnx_ValueInfoProto()
        v.name = name
        var t = Onnx_TypeProto.Tensor()
        t.elemType = Int32(Onnx_TensorProto.DataType.float.rawValue)
        var s = Onnx_TensorShapeProto()
        var n = Onnx_TensorShapeProto.Dimension(); n.dimParam = "N"
        var side = Onnx_TensorShapeProto.Dimension(); side.dimValue = Int64(r)
        var ch = Onnx_TensorShapeProto.Dimension(); ch.dimValue = Int64(channels)
        s.dim = [n, side, side, ch]
        t.shape = s
        v.type.tensorType = t
        return v
    }
    var graph = Onnx_GraphProto()
    graph.name = name
    graph.node = low.g.nodes
    graph.initializer = low.g.initializers
    graph.input = [valueInfo(input, channels: 3)]
    graph.output = outputs.map { valueInfo($0.0, channels: $0.1) }

    var model = Onnx_ModelProto()
    model.irVersion = ONNXVersions.irVersion
    var opset = Onnx_OperatorSetIdProto()
    opset.domain = ""
    opset.version = ONNXVersions.opset
    model.opsetImport = [opset]
    model.producerName = "facet"
    model.graph = graph
    model.metadataProps = metadata.map { k, v in
        var e = Onnx_StringStringEntryProto(); e.key = k; e.value = v; return e
    }
    return model
}
