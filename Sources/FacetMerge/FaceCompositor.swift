/// Puts one swapped face back into its frame: mask, erode/blur, colour transfer, face scale, warp back, blend.
import FacetCore
import FacetVision
import Foundation

/// A destination face as the merge needs it: its stored image-to-face matrix (for an aligned crop
/// of `cropSize` pixels) and its 68 landmarks in frame coordinates. Never re-detected.
public struct MergeFace: Sendable, Equatable {
    /// Frame to aligned-crop coordinates, as stored at extraction.
    public var imageToFace: Affine2D
    /// Side of the aligned crop `imageToFace` maps to, in pixels.
    public var cropSize: Int
    /// The 68 points in frame coordinates.
    public var landmarks: Landmarks68
    /// The segmenter's mask of this face over the crop `imageToFace` maps to (grey, any size), for the xseg masks.
    public var xseg: Image?

    /// A face with its stored matrix, crop size and landmarks (and, for the xseg masks, its segmenter mask).
    public init(imageToFace: Affine2D, cropSize: Int, landmarks: Landmarks68, xseg: Image? = nil) {
        self.imageToFace = imageToFace; self.cropSize = cropSize; self.landmarks = landmarks; self.xseg = xseg
    }
}

/// The window of the frame one face was blended into, and the alpha used at each of its pixels.
/// Every frame pixel outside the window, or with alpha 0, is exactly the destination's.
public struct BlendRegion: Sendable {
    /// Left edge of the window, in frame pixels.
    public var x: Int
    /// Top edge of the window, in frame pixels.
    public var y: Int
    /// Width of the window, in pixels.
    public var width: Int
    /// Height of the window, in pixels.
    public var height: Int
    /// `width * height` values in 0...1, row-major.
    public var alpha: [Float]

    /// The alpha at frame pixel (px, py); 0 outside the window.
    public func alpha(atX px: Int, y py: Int) -> Float {
        let lx = px - x, ly = py - y
        guard lx >= 0, ly >= 0, lx < width, ly < height else { return 0 }
        return alpha[ly * width + lx]
    }
}

/// The model-independent half of the merge. A value: share it between threads freely.
public struct FaceCompositor: Sendable {
    /// How the faces are put back (mode, mask, erode, blur, colour, face scale).
    public let options: MergeOptions
    /// The model's face side in pixels.
    public let resolution: Int
    /// Masks are processed at 4x the model resolution (DeepFaceLab's mask sub-resolution), so
    /// erode and blur amounts mean what they mean there and edges stay smooth when enlarged.
    public var maskResolution: Int { 4 * resolution }
    /// Moves the swapped face's jaw, eyes and mouth towards the dst's before the blend (`MergeOptions.expression`); nil
    /// leaves the model's face as it is.
    public var restorer: ExpressionRestorer?

    /// A compositor for a model of `resolution` pixels; with a `restorer`, the expression restore runs before the
    /// blend.
    public init(options: MergeOptions, resolution: Int, restorer: ExpressionRestorer? = nil) {
        precondition(resolution > 0, "model resolution must be positive")
        self.options = options
        self.resolution = resolution
        self.restorer = restorer
    }

    /// A compositor for `options`, with the expression restore when they ask for it (`options.expression` > 0),
    /// which fits landmarks with `predictor`, or without one with dlib's 68-point model from its usual place (loaded
    /// once per process; missing, a one-line error saying where to get it).
    public init(options: MergeOptions, resolution: Int, predictor: ShapePredictor?) throws {
        var restorer: ExpressionRestorer?
        if options.expression > 0 {
            restorer = ExpressionRestorer(predictor: try predictor ?? ExpressionRestorer.defaultPredictor(),
                                          strength: options.expression)
        }
        self.init(options: options, resolution: resolution, restorer: restorer)
    }

    /// Frame to model-face coordinates: the stored matrix scaled from the crop size to the resolution.
    public func faceMatrix(_ face: MergeFace) -> Affine2D {
        let s = Double(resolution) / Double(face.cropSize)
        return Affine2D(a: s, b: 0, tx: 0, c: 0, d: s, ty: 0).concatenating(face.imageToFace)
    }

    /// Frame to output coordinates: the face matrix with the face scale applied about the centre.
    public func outputMatrix(_ face: MergeFace) -> Affine2D {
        let s = 1 + options.faceScale / 100, h = Double(resolution) / 2
        return Affine2D(a: s, b: 0, tx: h - s * h, c: 0, d: s, ty: h - s * h).concatenating(faceMatrix(face))
    }

    /// The aligned destination face the model takes: warped from the frame at three times the
    /// model resolution (or at the stored crop size when that is smaller), then area-resized to
    /// the model resolution, as training area-resizes the stored crops. Three samples per output
    /// pixel each way keep it free of aliasing. For a 64 px model this samples 192 px instead of
    /// the 256 px crop extraction stores (0.56x the work); on the sample video the two agree within
    /// 0.5 grey levels on average, 10 at most on the sharpest edges (the JPEG coding of the crops
    /// training reads, quality 90: 0.7 and 6).
    public func alignedFace(from frame: Image, face: MergeFace) -> Image {
        let size = min(face.cropSize, 3 * resolution)
        let s = Double(size) / Double(face.cropSize)
        let toCrop = Affine2D(a: s, b: 0, tx: 0, c: 0, d: s, ty: 0).concatenating(face.imageToFace)
        let crop = frame.warped(by: toCrop, width: size, height: size)
        return crop.resized(width: resolution, height: resolution, filter: .area)
    }

    /// The mask in face space at `maskResolution`, processed (erode/dilate, blur) unless raw.
    @_spi(Benchmarks) public func processedMask(face: MergeFace, learned: Image) -> Plane {
        let sub = maskResolution
        var mask: Plane
        switch options.mask {
        case .learned:
            mask = upsampled(learned, to: sub)
        case .hull:
            mask = hullMask(face)
        case .learnedAndHull:
            mask = upsampled(learned, to: sub)
            multiply(&mask, by: hullMask(face))
        case .xseg:
            mask = xsegMask(face)
        case .xsegAndLearned:
            mask = upsampled(learned, to: sub)
            multiply(&mask, by: xsegMask(face))
        case .xsegAndHull:
            mask = hullMask(face)
            multiply(&mask, by: xsegMask(face))
        }
        // DeepFaceLab's "get rid of noise": a learned mask is never exactly 0 where it should be.
        mask.values.withUnsafeMutableBufferPointer { m in
            for i in 0..<m.count { m[i] = m[i] < 1 / 255 ? 0 : m[i] }
        }
        if options.mode != .raw { MaskOps.process(&mask, erode: options.erode, blur: options.blur) }
        return mask
    }

    /// `mask` times `other` (same size), element by element.
    private func multiply(_ mask: inout Plane, by other: Plane) {
        mask.values.withUnsafeMutableBufferPointer { m in
            other.values.withUnsafeBufferPointer { o in for i in 0..<m.count { m[i] *= o[i] } }
        }
    }

    /// The face's segmenter mask in face space at the mask resolution (the hull when the face has none: the merge
    /// refuses to start without one, so only a caller building faces by hand gets here).
    func xsegMask(_ face: MergeFace) -> Plane {
        guard let x = face.xseg else { return hullMask(face) }
        return upsampled(x, to: maskResolution)
    }

    /// The convex hull of the stored landmarks, in face space at the mask resolution.
    func hullMask(_ face: MergeFace) -> Plane {
        let k = Double(maskResolution) / Double(resolution)
        let toMask = Affine2D(a: k, b: 0, tx: 0, c: 0, d: k, ty: 0).concatenating(faceMatrix(face))
        return MaskOps.hull(points: face.landmarks.transformed(by: toMask).points, size: maskResolution)
    }

    /// A grey (or first-channel) mask image enlarged to `size`, sampled at the same index scaling
    /// the warp back uses, 0...1.
    func upsampled(_ mask: Image, to size: Int) -> Plane {
        let mw = mask.width, mh = mask.height, c = mask.channels
        var small = [Float](repeating: 0, count: mw * mh)
        for i in 0..<(mw * mh) { small[i] = Float(mask.pixels[i * c]) / 255 }
        // sampleMask's bilinear arithmetic (0 past the edge), with each column's and row's taps and
        // weights worked out once.
        func taps(_ n: Int, _ source: Int) -> (first: [Int], second: [Int], weight: [Float]) {
            let scale = Double(source) / Double(size)
            var first = [Int](repeating: 0, count: n), second = [Int](repeating: -1, count: n),
                weight = [Float](repeating: 0, count: n)
            for i in 0..<n {
                let s = min(Double(source - 1), Double(i) * scale), f = s.rounded(.down)
                first[i] = Int(f)
                if Int(f) + 1 < source { second[i] = Int(f) + 1 }
                weight[i] = Float(s - f)
            }
            return (first, second, weight)
        }
        let xs = taps(size, mw), ys = taps(size, mh)
        var out = Plane(width: size, height: size)
        small.withUnsafeBufferPointer { sm in
            out.values.withUnsafeMutableBufferPointer { o in
                for y in 0..<size {
                    let r0 = ys.first[y] * mw, r1 = ys.second[y] < 0 ? -1 : ys.second[y] * mw, ay = ys.weight[y]
                    for x in 0..<size {
                        let x0 = xs.first[x], x1 = xs.second[x], ax = xs.weight[x]
                        let t00 = sm[r0 + x0], t01 = x1 < 0 ? 0 : sm[r0 + x1]
                        let t10 = r1 < 0 ? 0 : sm[r1 + x0], t11 = (r1 < 0 || x1 < 0) ? 0 : sm[r1 + x1]
                        let top = t00 + ax * (t01 - t00), bottom = t10 + ax * (t11 - t10)
                        o[y * size + x] = top + ay * (bottom - top)
                    }
                }
            }
        }
        return out
    }

    /// Blends one swapped face into `frame` and returns where (with the alpha used).
    /// `aligned` is the model's input for this face (the destination face at the resolution) and
    /// `swapped` what the model made of it. The mask and the colour transfer are shared; then one strategy per merge
    /// mode: overlay, hist-match and raw composite while they warp the face back (`blendOverlay`); seamless warps it,
    /// Poisson-blends it into the frame, then composites (`blendSeamless`).
    @discardableResult
    public func blend(into frame: inout Image, face: MergeFace, aligned: Image,
                      swapped: (face: Image, mask: Image)) throws -> BlendRegion {
        let res = resolution
        guard swapped.face.width == res, swapped.face.height == res, swapped.face.channels >= 3 else {
            throw FacetError("the model returned a \(swapped.face.width)x\(swapped.face.height) face, "
                             + "expected \(res)x\(res) RGB")
        }
        guard swapped.mask.width == res, swapped.mask.height == res else {
            throw FacetError("the model returned a \(swapped.mask.width)x\(swapped.mask.height) mask, "
                             + "expected \(res)x\(res)")
        }
        guard aligned.width == res, aligned.height == res, frame.channels == 3 else {
            throw FacetError("the aligned face must be \(res)x\(res) and the frame RGB")
        }
        // The expression restore's map is read where the face is warped back, so the face is resampled once, not
        // warped in face space first and again into the frame (the scores measured the same both ways: README).
        var swapped = swapped
        var field: WarpField?
        if let restorer {
            field = restorer.field(face: swapped.face, aligned: aligned,
                                   dstPoints: face.landmarks.transformed(by: faceMatrix(face)).points,
                                   framePoints: face.landmarks.points, mask: swapped.mask)
            if let field { swapped.mask = field.warp(swapped.mask) }
        }
        let mask = processedMask(face: face, learned: swapped.mask)
        // Colour statistics come from where the processed mask shows the face.
        var area = [Bool](repeating: false, count: res * res)
        let step = maskResolution / res
        for y in 0..<res {
            for x in 0..<res { area[y * res + x] = mask.values[(y * step) * maskResolution + x * step] > 0 }
        }
        var predicted = floats(swapped.face)
        // Colour transfer goes to the predicted face before it is warped back, except in seamless
        // mode: the Poisson blend would undo it (it keeps only the face's gradients), so there, as in
        // DeepFaceLab's merger, it goes to the blended result, taken back into face space (`blendSeamless`).
        if options.mode != .raw && options.mode != .seamless {
            let reference = floats(aligned)
            ColorTransferOps.apply(options.color, to: &predicted, reference: reference, mask: area)
            if options.mode == .histMatch {
                ColorTransferOps.histogramMatch(&predicted, reference: reference, mask: area)
            }
        }
        guard var window = try BlendWindow(self, face: face, mask: mask, frameWidth: frame.width,
                                           frameHeight: frame.height) else {
            return BlendRegion(x: 0, y: 0, width: 0, height: 0, alpha: [])
        }
        window.field = field
        switch options.mode {
        case .overlay, .histMatch, .raw:
            return blendOverlay(into: &frame, window, predicted: predicted, mask: mask)
        case .seamless:
            return try blendSeamless(into: &frame, window, predicted: predicted, mask: mask, face: face,
                                     aligned: aligned, area: area)
        }
    }

    /// Overlay, hist-match and raw: each window pixel the mask reaches (raw: the face square) gets its alpha and, where
    /// it is above 0, `dst (1 - a) + face a` at once; outside the face square the face is black, as the warp's constant
    /// border gives. Only the part of each row that can reach the mask's box is visited.
    func blendOverlay(into frame: inout Image, _ window: BlendWindow, predicted: [Float], mask: Plane) -> BlendRegion {
        let (x0, y0, w, h, fw) = (window.x0, window.y0, window.width, window.height, frame.width)
        let res = resolution, maxCoord = window.maxCoord
        var alpha = [Float](repeating: 0, count: w * h)
        withPixels(&frame, &alpha, predicted, mask.values) { px, al, pf, mv in
            for ly in 0..<h {
                for lx in window.span(row: ly) {
                    let (u, v, within) = window.faceCoordinates(lx, ly)
                    let a = window.alpha(mv, u, v, within: within)
                    al[ly * w + lx] = a
                    guard a > 0 else { continue }
                    var r: Float = 0, g: Float = 0, b: Float = 0
                    if within {
                        let (su, sv) = window.read(u, v)
                        (r, g, b) = sampleRGB(pf, res, min(max(su, 0), maxCoord), min(max(sv, 0), maxCoord))
                    }
                    let p = ((y0 + ly) * fw + x0 + lx) * 3
                    px[p] = mixed(px[p], r, a); px[p + 1] = mixed(px[p + 1], g, a); px[p + 2] = mixed(px[p + 2], b, a)
                }
            }
        }
        return BlendRegion(x: x0, y: y0, width: w, height: h, alpha: alpha)
    }

    /// Seamless: the face warped onto the whole face square (the Poisson blend reads its gradients there) with the
    /// mask's alpha; DeepFaceLab's seamless region (the alpha above the lowest tenth that has any pixels) blended into
    /// the frame; the colour transfer on that result; then `dst (1 - a) + result a` where a > 0.
    func blendSeamless(into frame: inout Image, _ window: BlendWindow, predicted: [Float], mask: Plane, face: MergeFace,
                       aligned: Image, area: [Bool]) throws -> BlendRegion {
        let (x0, y0, w, h, fw) = (window.x0, window.y0, window.width, window.height, frame.width)
        let res = resolution, maxCoord = window.maxCoord
        var alpha = [Float](repeating: 0, count: w * h)
        var warped = [Float](repeating: 0, count: w * h * 3)
        var inside = [Bool](repeating: false, count: w * h)
        withFloats(&alpha, &warped, predicted, mask.values) { al, wp, pf, mv in
            for ly in 0..<h {
                for lx in window.span(row: ly) {
                    let (u, v, within) = window.faceCoordinates(lx, ly)
                    let q = ly * w + lx
                    al[q] = window.alpha(mv, u, v, within: within)
                    inside[q] = within
                    guard within else { continue }
                    let (su, sv) = window.read(u, v)
                    let (r, g, b) = sampleRGB(pf, res, min(max(su, 0), maxCoord), min(max(sv, 0), maxCoord))
                    wp[q * 3] = r; wp[q * 3 + 1] = g; wp[q * 3 + 2] = b
                }
            }
        }
        var threshold: Float = 0
        for i in 1..<10 where alpha.contains(where: { $0 > Float(i) / 10 }) { threshold = Float(i) / 10; break }
        if threshold > 0 {
            var target = [Float](repeating: 0, count: w * h * 3)
            var region = [Bool](repeating: false, count: w * h)
            frame.pixels.withUnsafeBufferPointer { px in
                for ly in 0..<h {
                    for lx in 0..<w {
                        let q = ly * w + lx, p = ((y0 + ly) * fw + x0 + lx) * 3
                        for c in 0..<3 { target[q * 3 + c] = Float(px[p + c]) / 255 }
                        // Outside the face square the "source" is the frame itself (BORDER_TRANSPARENT).
                        if !inside[q] { for c in 0..<3 { warped[q * 3 + c] = target[q * 3 + c] } }
                        region[q] = alpha[q] > threshold && inside[q]
                    }
                }
            }
            SeamlessClone.blend(source: &warped, target: target, region: region, width: w, height: h)
        }
        if options.color != .none {
            try transferColourAfterBlend(frame: frame, window: (x0, y0, w, h), alpha: alpha, warped: &warped,
                                         face: face, reference: floats(aligned), area: area)
        }
        // Only where a > 0: elsewhere the frame keeps its exact bytes.
        withPixels(&frame, &alpha, warped, []) { px, al, wp, _ in
            for ly in 0..<h {
                for lx in 0..<w {
                    let q = ly * w + lx, a = al[q]
                    guard a > 0 else { continue }
                    let p = ((y0 + ly) * fw + x0 + lx) * 3
                    for c in 0..<3 { px[p + c] = mixed(px[p + c], wp[q * 3 + c], a) }
                }
            }
        }
        return BlendRegion(x: x0, y: y0, width: w, height: h, alpha: alpha)
    }

    /// Seamless mode's colour transfer, as DeepFaceLab's merger does it: the blended window
    /// (frame * (1 - alpha) + warped * alpha) is taken into face space with the face matrix (no face
    /// scale), colour-transferred towards the destination face inside `area`, and put back into
    /// `warped`, which the caller then blends with the same alpha.
    func transferColourAfterBlend(frame: Image, window: (x0: Int, y0: Int, w: Int, h: Int), alpha: [Float],
                                  warped: inout [Float], face: MergeFace, reference: [Float], area: [Bool]) throws {
        let res = resolution, (x0, y0, w, h) = window
        let toFace = faceMatrix(face)
        guard let toFrame = toFace.inverted else {
            throw FacetError("face matrix is singular: the stored face cannot be put back")
        }
        var blended = [Float](repeating: 0, count: w * h * 3)
        blended.withUnsafeMutableBufferPointer { bl in
        warped.withUnsafeBufferPointer { wp in
        frame.pixels.withUnsafeBufferPointer { px in
            for ly in 0..<h {
                for lx in 0..<w {
                    let q = ly * w + lx, p = ((y0 + ly) * frame.width + x0 + lx) * 3, a = alpha[q]
                    for c in 0..<3 { bl[q * 3 + c] = Float(px[p + c]) / 255 * (1 - a) + wp[q * 3 + c] * a }
                }
            }
        }
        }
        }
        // The blended result at a frame point: the window bilinearly, the frame's own pixels outside it.
        func value(_ fx: Double, _ fy: Double, _ c: Int) -> Float {
            let xf = fx.rounded(.down), yf = fy.rounded(.down)
            let ax = Float(fx - xf), ay = Float(fy - yf)
            func at(_ x: Int, _ y: Int) -> Float {
                let cx = min(max(x, 0), frame.width - 1), cy = min(max(y, 0), frame.height - 1)
                let lx = cx - x0, ly = cy - y0
                if lx >= 0, ly >= 0, lx < w, ly < h { return blended[(ly * w + lx) * 3 + c] }
                return Float(frame.pixels[(cy * frame.width + cx) * 3 + c]) / 255
            }
            let x = Int(xf), y = Int(yf)
            let top = at(x, y) + ax * (at(x + 1, y) - at(x, y)),
                bottom = at(x, y + 1) + ax * (at(x + 1, y + 1) - at(x, y + 1))
            return top + ay * (bottom - top)
        }
        var out = [Float](repeating: 0, count: res * res * 3)
        for v in 0..<res {
            for u in 0..<res {
                let f = toFrame.apply(Point2(Double(u), Double(v)))
                for c in 0..<3 { out[(v * res + u) * 3 + c] = value(f.x, f.y, c) }
            }
        }
        ColorTransferOps.apply(options.color, to: &out, reference: reference, mask: area)
        let maxCoord = Double(res - 1)
        out.withUnsafeBufferPointer { o in
        blended.withUnsafeBufferPointer { bl in
        warped.withUnsafeMutableBufferPointer { wp in
            for ly in 0..<h {
                for lx in 0..<w {
                    let q = ly * w + lx
                    guard alpha[q] > 0 else { continue }
                    let fx = Double(x0 + lx), fy = Double(y0 + ly)
                    let u = toFace.a * fx + toFace.b * fy + toFace.tx, v = toFace.c * fx + toFace.d * fy + toFace.ty
                    if u >= -0.5 && v >= -0.5 && u <= maxCoord + 0.5 && v <= maxCoord + 0.5 {
                        let (r, g, b) = sampleRGB(o, res, min(max(u, 0), maxCoord), min(max(v, 0), maxCoord))
                        wp[q * 3] = r; wp[q * 3 + 1] = g; wp[q * 3 + 2] = b
                    } else {
                        for c in 0..<3 { wp[q * 3 + c] = bl[q * 3 + c] }
                    }
                }
            }
        }
        }
        }
    }

    /// Swaps and blends every face of one frame; returns the regions in face order.
    public func merge(frame: inout Image, faces: [MergeFace], swapper: any FaceSwapper) throws -> [BlendRegion] {
        guard !faces.isEmpty else { return [] }
        let aligned = faces.map { alignedFace(from: frame, face: $0) }
        let swapped = try swapper.swap(aligned)
        guard swapped.count == faces.count else {
            throw FacetError("the model returned \(swapped.count) faces for \(faces.count)")
        }
        var regions: [BlendRegion] = []
        for i in faces.indices {
            regions.append(try blend(into: &frame, face: faces[i], aligned: aligned[i], swapped: swapped[i]))
        }
        return regions
    }
}

/// Where one face lands in its frame: the window of frame pixels the output square covers (a pixel of margin, clipped
/// to the frame), how a window pixel maps into the face square and the mask, and which part of each row can matter.
struct BlendWindow {
    let x0: Int, y0: Int, width: Int, height: Int
    /// Frame to output face square (`FaceCompositor.outputMatrix`).
    let out: Affine2D
    /// The face square's last coordinate (resolution - 1), and the mask's scale over it and side.
    let maxCoord: Double, k: Double, maskSide: Int
    /// Raw mode: alpha 1 on the whole face square, no mask.
    let raw: Bool
    /// The mask's nonzero bounds grown by one mask pixel: every other point keeps alpha 0 without sampling.
    let bx0: Double, by0: Double, bx1: Double, by1: Double
    /// The face-square coordinates a row is visited for: the whole square (seamless, raw) or the mask's box.
    let uReach: ClosedRange<Double>, vReach: ClosedRange<Double>
    /// The expression restore's backward map over the face square, if any.
    var field: WarpField?

    /// The window of `face` in a `frameWidth` x `frameHeight` frame, or nil when the square falls outside it.
    init?(_ c: FaceCompositor, face: MergeFace, mask: Plane, frameWidth: Int, frameHeight: Int) throws {
        let res = c.resolution
        out = c.outputMatrix(face)
        guard let back = out.inverted else {
            throw FacetError("face matrix is singular: the stored face cannot be put back")
        }
        let corners = [Point2(0, 0), Point2(Double(res), 0), Point2(0, Double(res)),
                       Point2(Double(res), Double(res))].map(back.apply)
        let x0 = max(0, Int(corners.map(\.x).min()!.rounded(.down)) - 1)
        let y0 = max(0, Int(corners.map(\.y).min()!.rounded(.down)) - 1)
        let x1 = min(frameWidth - 1, Int(corners.map(\.x).max()!.rounded(.up)) + 1)
        let y1 = min(frameHeight - 1, Int(corners.map(\.y).max()!.rounded(.up)) + 1)
        guard x1 >= x0, y1 >= y0 else { return nil }
        self.x0 = x0; self.y0 = y0
        width = x1 - x0 + 1; height = y1 - y0 + 1
        maskSide = c.maskResolution
        k = Double(maskSide) / Double(res)
        maxCoord = Double(res - 1)
        raw = c.options.mode == .raw
        let box = raw ? nil : mask.bounds(above: 0)
        let grown = box.map { (Double($0.x0 - 1), Double($0.y0 - 1), Double($0.x1 + 1), Double($0.y1 + 1)) } ?? (0, 0,
                                                                                                                 -1, -1)
        bx0 = grown.0; by0 = grown.1; bx1 = grown.2; by1 = grown.3
        let whole = c.options.mode == .seamless || raw
        let (uLo, uHi, vLo, vHi) = whole ? (-0.5, maxCoord + 0.5, -0.5, maxCoord + 0.5) : (bx0 / k, bx1 / k, by0 / k,
                                                                                           by1 / k)
        uReach = uLo...max(uLo, uHi)
        vReach = vLo...max(vLo, vHi)
    }

    /// The window columns of row `ly` that can reach `uReach` x `vReach` (a superset; each pixel is still checked).
    func span(row ly: Int) -> Range<Int> {
        rowSpan(out, y: Double(y0 + ly), x0: x0, width: width, u: uReach, v: vReach)
    }

    /// Where the face is read for face-square point (u, v): the point itself, or with an expression restore, where
    /// its map says.
    @inline(__always)
    func read(_ u: Double, _ v: Double) -> (Double, Double) {
        guard let field else { return (u, v) }
        let d = field.displacement(atX: u, y: v)
        return (u + d.x, v + d.y)
    }

    /// Face-square coordinates of window pixel (lx, ly), and whether they fall on the square (half a pixel around it).
    @inline(__always)
    func faceCoordinates(_ lx: Int, _ ly: Int) -> (u: Double, v: Double, within: Bool) {
        let fx = Double(x0 + lx), fy = Double(y0 + ly)
        let u = out.a * fx + out.b * fy + out.tx, v = out.c * fx + out.d * fy + out.ty
        return (u, v, u >= -0.5 && v >= -0.5 && u <= maxCoord + 0.5 && v <= maxCoord + 0.5)
    }

    /// The alpha at face coordinates (u, v): raw, 1 on the square; else the mask sampled bilinearly inside its box,
    /// values under 1/255 taken as 0; at most 1.
    @inline(__always)
    func alpha(_ mv: UnsafeBufferPointer<Float>, _ u: Double, _ v: Double, within: Bool) -> Float {
        var a: Float = 0
        if raw {
            a = within ? 1 : 0
        } else {
            let mu = u * k, mvv = v * k
            if mu >= bx0 && mu <= bx1 && mvv >= by0 && mvv <= by1 {
                a = sampleMask(mv, maskSide, mu, mvv)
                if a < 1 / 255 { a = 0 }
            }
        }
        return min(1, a)
    }
}

/// `dst (1 - a) + colour a` for one byte, `colour` in 0...1, rounded and clamped.
@inline(__always)
func mixed(_ dst: UInt8, _ colour: Float, _ a: Float) -> UInt8 {
    UInt8(min(255, max(0, Float(dst) * (1 - a) + colour * 255 * a + 0.5)))
}

/// The blend strategies' one pointer scope: a frame's bytes and a float array to write, two float arrays to read.
@inline(__always)
func withPixels(_ frame: inout Image, _ out: inout [Float], _ a: [Float], _ b: [Float],
                _ body: (UnsafeMutableBufferPointer<UInt8>, UnsafeMutableBufferPointer<Float>,
                         UnsafeBufferPointer<Float>, UnsafeBufferPointer<Float>) -> Void) {
    frame.pixels.withUnsafeMutableBufferPointer { px in
        out.withUnsafeMutableBufferPointer { o in
            a.withUnsafeBufferPointer { pa in b.withUnsafeBufferPointer { pb in body(px, o, pa, pb) } }
        }
    }
}

/// `withPixels` for two float arrays to write and two to read.
@inline(__always)
func withFloats(_ out1: inout [Float], _ out2: inout [Float], _ a: [Float], _ b: [Float],
                _ body: (UnsafeMutableBufferPointer<Float>, UnsafeMutableBufferPointer<Float>,
                         UnsafeBufferPointer<Float>, UnsafeBufferPointer<Float>) -> Void) {
    out1.withUnsafeMutableBufferPointer { o1 in
        out2.withUnsafeMutableBufferPointer { o2 in
            a.withUnsafeBufferPointer { pa in b.withUnsafeBufferPointer { pb in body(o1, o2, pa, pb) } }
        }
    }
}

/// An image's first three channels as floats in 0...1, interleaved.
@_spi(Benchmarks) public func floats(_ image: Image) -> [Float] {
    let n = image.width * image.height, c = image.channels
    var out = [Float](repeating: 0, count: n * 3)
    image.pixels.withUnsafeBufferPointer { src in
        for i in 0..<n {
            for k in 0..<3 { out[i * 3 + k] = Float(src[i * c + min(k, c - 1)]) / 255 }
        }
    }
    return out
}

/// The window columns `lx` (frame x = `x0 + lx`, `0..<width`) of frame row `y` that `m` may take
/// into `u` x `v`: a superset by a pixel on each side of the exact interval, empty when none can.
func rowSpan(_ m: Affine2D, y: Double, x0: Int, width: Int, u: ClosedRange<Double>,
             v: ClosedRange<Double>) -> Range<Int> {
    var lo = -Double.infinity, hi = Double.infinity
    for (slope, offset, range) in [(m.a, m.b * y + m.tx, u), (m.c, m.d * y + m.ty, v)] {
        if slope == 0 {
            if !range.contains(offset) { return 0..<0 }
            continue
        }
        let e0 = (range.lowerBound - offset) / slope, e1 = (range.upperBound - offset) / slope
        lo = max(lo, min(e0, e1)); hi = min(hi, max(e0, e1))
    }
    guard lo <= hi else { return 0..<0 }
    let first = max(0, Int(max(-1e9, lo - Double(x0)).rounded(.down)) - 1)
    let last = min(width - 1, Int(min(1e9, hi - Double(x0)).rounded(.up)) + 1)
    return first <= last ? first..<(last + 1) : 0..<0
}

/// Bilinear mask sample at (x, y); 0 outside the `size x size` plane.
@inline(__always)
@_spi(Benchmarks) public func sampleMask(_ m: UnsafeBufferPointer<Float>, _ size: Int, _ x: Double,
                                         _ y: Double) -> Float {
    let xf = x.rounded(.down), yf = y.rounded(.down)
    let x0 = Int(xf), y0 = Int(yf)
    if x0 < -1 || y0 < -1 || x0 >= size || y0 >= size { return 0 }
    let ax = Float(x - xf), ay = Float(y - yf)
    if x0 >= 0 && y0 >= 0 && x0 + 1 < size && y0 + 1 < size {
        // All four taps inside (nearly every sample): no checks per tap.
        let p = y0 * size + x0
        let m00 = m[p], m01 = m[p + 1], m10 = m[p + size], m11 = m[p + size + 1]
        let top = m00 + ax * (m01 - m00), bottom = m10 + ax * (m11 - m10)
        return top + ay * (bottom - top)
    }
    @inline(__always) func at(_ xx: Int, _ yy: Int) -> Float {
        (xx >= 0 && yy >= 0 && xx < size && yy < size) ? m[yy * size + xx] : 0
    }
    let top = at(x0, y0) + ax * (at(x0 + 1, y0) - at(x0, y0))
    let bottom = at(x0, y0 + 1) + ax * (at(x0 + 1, y0 + 1) - at(x0, y0 + 1))
    return top + ay * (bottom - top)
}

/// Bilinear RGB sample of an interleaved float square at (x, y) already clamped into it.
@inline(__always)
@_spi(Benchmarks) public func sampleRGB(_ f: UnsafeBufferPointer<Float>, _ size: Int, _ x: Double,
                                        _ y: Double) -> (Float, Float, Float) {
    let x0 = min(Int(x), size - 1), y0 = min(Int(y), size - 1)
    let x1 = min(x0 + 1, size - 1), y1 = min(y0 + 1, size - 1)
    let ax = Float(x - Double(x0)), ay = Float(y - Double(y0))
    let p00 = (y0 * size + x0) * 3, p01 = (y0 * size + x1) * 3, p10 = (y1 * size + x0) * 3, p11 = (y1 * size + x1) * 3
    func ch(_ k: Int) -> Float {
        let top = f[p00 + k] + ax * (f[p01 + k] - f[p00 + k])
        let bottom = f[p10 + k] + ax * (f[p11 + k] - f[p10 + k])
        return top + ay * (bottom - top)
    }
    return (ch(0), ch(1), ch(2))
}
