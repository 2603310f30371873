/// The merge settings users know from DeepFaceLab's converter, as one value stored with each result.
import FacetCore
import FacetStore
import Foundation

/// How the swapped face is put into the frame.
public enum MergeMode: String, Codable, Sendable, CaseIterable {
    /// Alpha blend of the predicted face through the processed mask.
    case overlay
    /// Overlay after matching the predicted face's per-channel histograms to the destination face's.
    case histMatch = "hist-match"
    /// Poisson blending (like cv2.seamlessClone NORMAL_CLONE), then the masked overlay; the colour
    /// transfer goes to that result (the blend would undo it on the predicted face), as DeepFaceLab's.
    case seamless
    /// The predicted square pasted as it is, no mask.
    case raw
}

/// Which mask decides where the swapped face shows.
public enum MaskKind: String, Codable, Sendable, CaseIterable {
    /// The mask the model's decoder predicts.
    case learned
    /// The convex hull of the face's 68 stored landmarks.
    case hull
    /// Both multiplied.
    case learnedAndHull = "learned-and-hull"
    /// The segmenter's stored mask of the dst face (`facet xseg apply`): what covers the face stays as it is.
    case xseg
    /// The learned mask times the dst face's segmenter mask (DeepFaceLab's learned-prd*XSeg-dst).
    case xsegAndLearned = "xseg-and-learned"
    /// The landmark hull times the dst face's segmenter mask.
    case xsegAndHull = "xseg-and-hull"

    /// Whether the merge needs every dst face's stored segmenter mask.
    public var usesXSeg: Bool { self == .xseg || self == .xsegAndLearned || self == .xsegAndHull }
}

/// Colour transfer applied to the predicted face, towards the destination face (DeepFaceLab names).
public enum ColorTransfer: String, Codable, Sendable, CaseIterable {
    case none
    /// Reinhard: mean and standard deviation per channel in L*a*b*, inside the mask.
    case rct
    /// Linear: the covariance of the RGB colours matched (PCA square roots).
    case lct
    /// Per-channel histogram matching inside the mask.
    case histMatch = "hist-match"
    /// Iterative distribution transfer: 1-D histogram matching along rotated colour axes.
    case idt
}

/// Everything that decides how a merged frame looks, plus the encoder's quality settings.
/// Codable with snake_case keys: this is the `options_json` of a `merge_config` row.
public struct MergeOptions: Codable, Sendable, Equatable {
    /// How the face is put back: overlay, hist-match, seamless (Poisson) blend or the raw square.
    public var mode: MergeMode = .overlay
    /// Which mask limits the blend: learned, landmark hull, or both.
    public var mask: MaskKind = .learned
    /// Mask erosion (positive) or dilation (negative) in pixels of the mask's working size (4x the
    /// model resolution), as DeepFaceLab's erode modifier (-400...400).
    public var erode: Int = 0
    /// Gaussian blur of the mask edge in the same pixels (0...400).
    public var blur: Int = 0
    /// Output face scale in percent (-50...50): positive pastes the face smaller, as DeepFaceLab's
    /// output face scale modifier does.
    public var faceScale: Double = 0
    /// Colour transfer from the destination face onto the swapped one before the blend.
    public var color: ColorTransfer = .none
    /// libx264 quality (0 lossless ... 51 worst).
    public var crf: Int = 18
    /// libx264 preset.
    public var preset: String = "medium"
    /// Strength of the alignment smoothing over each face track (0: the raw per-frame alignment;
    /// 1: the default, the alignment stored at extraction; other values are recomputed for the merge).
    public var smooth: Double = 1
    /// Expression restore (0...1): the share of the way the swapped face's jaw, eyes and mouth move towards the dst
    /// face's landmarks before the blend (`ExpressionRestorer`); 0 leaves the model's face as it is.
    public var expression: Double = 0

    /// Options with each field given; the defaults are the overlay merge with the learned mask.
    public init(mode: MergeMode = .overlay, mask: MaskKind = .learned, erode: Int = 0, blur: Int = 0,
                faceScale: Double = 0, color: ColorTransfer = .none, crf: Int = 18, preset: String = "medium",
                smooth: Double = 1, expression: Double = 0) {
        self.mode = mode; self.mask = mask; self.erode = erode; self.blur = blur
        self.faceScale = faceScale; self.color = color; self.crf = crf; self.preset = preset; self.smooth = smooth
        self.expression = expression
    }

    /// Throws a one-line error for a value out of range.
    public func validate() throws {
        guard (-400...400).contains(erode) else {
            throw FacetError.setting("erode", "must be -400...400, got \(erode)")
        }
        guard (0...400).contains(blur) else { throw FacetError.setting("blur", "must be 0...400, got \(blur)") }
        guard (-50...50).contains(faceScale) else {
            throw FacetError.setting("face-scale", "must be -50...50 (percent), got \(faceScale)")
        }
        guard (0...100).contains(smooth) else { throw FacetError.setting("smooth", "must be 0...100, got \(smooth)") }
        guard (0...1).contains(expression) else {
            throw FacetError.setting("expression", "must be 0...1, got \(expression)")
        }
        guard (0...51).contains(crf) else { throw FacetError.setting("crf", "must be 0...51, got \(crf)") }
        let presets = ["ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow", "slower", "veryslow",
                       "placebo"]
        guard presets.contains(preset) else {
            throw FacetError.setting("preset", "'\(preset)' is unknown (use one of \(presets.joined(separator: ", ")))")
        }
    }

    /// Sorted-key JSON, the form stored in `merge_config.options_json`.
    public var json: String {
        let enc = JSONEncoder()
        enc.keyEncodingStrategy = .convertToSnakeCase
        enc.outputFormatting = [.sortedKeys]
        return String(decoding: (try? enc.encode(self)) ?? Data("{}".utf8), as: UTF8.self)
    }

    /// Options back from stored JSON; keys left out keep their defaults.
    public init(json: String) throws {
        let dec = JSONDecoder()
        dec.keyDecodingStrategy = .convertFromSnakeCase
        do {
            self = try dec.decode(MergeOptions.self, from: Data(json.utf8))
        } catch {
            throw FacetError("merge configuration options are not valid: \(error)")
        }
    }

    enum CodingKeys: String, CodingKey {
        case mode, mask, erode, blur, faceScale, color, crf, preset, smooth, expression
    }

    /// Reads saved options; a field a saved configuration lacks takes its default.
    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        mode = try c.decodeIfPresent(MergeMode.self, forKey: .mode) ?? .overlay
        mask = try c.decodeIfPresent(MaskKind.self, forKey: .mask) ?? .learned
        erode = try c.decodeIfPresent(Int.self, forKey: .erode) ?? 0
        blur = try c.decodeIfPresent(Int.self, forKey: .blur) ?? 0
        faceScale = try c.decodeIfPresent(Double.self, forKey: .faceScale) ?? 0
        color = try c.decodeIfPresent(ColorTransfer.self, forKey: .color) ?? .none
        crf = try c.decodeIfPresent(Int.self, forKey: .crf) ?? 18
        preset = try c.decodeIfPresent(String.self, forKey: .preset) ?? "medium"
        smooth = try c.decodeIfPresent(Double.self, forKey: .smooth) ?? 1
        // Saved before the expression restore existed: render as then.
        expression = try c.decodeIfPresent(Double.self, forKey: .expression) ?? 0
    }
}

/// What the model does for the merge: for each aligned destination face at `resolution`, the
/// face the source decoder predicts and its learned mask. Called from one worker thread at a time;
/// batching several faces per call lets the network run them together.
public protocol FaceSwapper: Sendable {
    /// Side of the square faces the model takes and returns.
    var resolution: Int { get }
    /// One `(face: RGB, mask: grey)` pair per input, each `resolution x resolution`, in input order.
    func swap(_ alignedDstFaces: [Image]) throws -> [(face: Image, mask: Image)]
}

extension MergeOptions {
    /// DeepFaceLab's converter defaults: overlay, the learned mask, no erosion, no blur, no colour
    /// transfer (`facet merge --dfl-defaults`). They leave a visible seam where the mask ends.
    public static let deepFaceLab = MergeOptions()

    /// Facet's defaults: the learned mask cut to the landmark hull, eroded 10 and blurred 20 pixels,
    /// with Reinhard colour transfer (the settings whose seam measured lowest on the sample pair; see
    /// the README's merge section), and the full expression restore (merged eyes and mouth error 0.036-0.056 of the
    /// eye distance on two pairs, against 0.064-0.112 without; README "Expression restore").
    public static let recommended = MergeOptions(mode: .overlay, mask: .learnedAndHull, erode: 10, blur: 20,
                                                 color: .rct, expression: 1)

    /// The settings a merge starts from before a saved configuration and the options given: Facet's
    /// or DeepFaceLab's defaults, and for an `h128` model the seamless mode, as DeepFaceLab's
    /// converter used for it.
    public static func defaults(architecture: String, deepFaceLab: Bool = false) -> MergeOptions {
        var o = deepFaceLab ? MergeOptions.deepFaceLab : .recommended
        if architecture == "h128" { o.mode = .seamless }
        return o
    }
}

/// The merge settings given for one run; each set one overrides the saved or default value.
public struct MergeOverrides: Sendable, Equatable {
    /// The settings given on the command line (nil: keep the saved or default value).
    public var mode: MergeMode?, mask: MaskKind?, erode: Int?, blur: Int?, faceScale: Double?
    /// The colour transfer and the encoder's settings (nil: keep the saved or default value).
    public var color: ColorTransfer?, crf: Int?, preset: String?
    /// Strength of the alignment smoothing over each face track.
    public var smooth: Double?
    /// Share of the way the jaw, eyes and mouth move towards the dst's (expression restore).
    public var expression: Double?
    /// No overrides.
    public init() {}

    /// `base` with every given value replacing its own.
    public func applied(to base: MergeOptions) -> MergeOptions {
        var o = base
        if let mode { o.mode = mode }
        if let mask { o.mask = mask }
        if let erode { o.erode = erode }
        if let blur { o.blur = blur }
        if let faceScale { o.faceScale = faceScale }
        if let color { o.color = color }
        if let crf { o.crf = crf }
        if let preset { o.preset = preset }
        if let smooth { o.smooth = smooth }
        if let expression { o.expression = expression }
        return o
    }
}

extension MergeOptions {
    /// The settings saved under `name` in the project; an unknown name is an error naming the saved ones.
    public static func saved(_ name: String, in project: Project) throws -> MergeOptions {
        guard let saved = try project.mergeConfig(named: name) else {
            let names = try project.mergeConfigs().map(\.name)
            throw FacetError.file(project.path, "has no merge configuration '\(name)'"
                                  + (names.isEmpty ? " (none saved yet: "
                                                     + "a merge saves "
                                                     + "its settings)" : " (saved: \(names.joined(separator: ", ")))"),
                                  kind: .notFound)
        }
        return try MergeOptions(json: saved.optionsJSON)
    }

    /// The settings of one merge: `saved` settings (from `saved(_:in:)`) or the defaults for the
    /// model's `architecture`, then `overrides`; validated.
    public static func resolve(saved: MergeOptions?, architecture: String, deepFaceLab: Bool = false,
                               overrides: MergeOverrides) throws -> MergeOptions {
        let options = overrides.applied(to: saved ?? defaults(architecture: architecture, deepFaceLab: deepFaceLab))
        try options.validate()
        return options
    }
}
