/// Evaluating a model on given faces: the one definition of the held-out loss, used by the
/// trainer for the `val_loss` it stores and by anyone who evaluates a checkpoint later (compare).
import Foundation
import FacetCore
import FacetNN
import FacetStore
import FacetVision

/// Decodes the stored faces `ids` as training does (area resize to `resolution`, or re-aligned as
/// `alignAs` when that is another face type; the soft hull of the landmarks as the mask), in the
/// order given. A face that cannot be decoded is a clear error naming it.
public func loadFaceSamples(_ ids: [Int64], project: Project, resolution: Int,
                            alignAs faceType: FaceType? = nil) throws -> [FaceSample] {
    try ids.map {
        try FaceSample.load(try project.face(id: $0), project: project, resolution: resolution, alignAs: faceType)
    }
}

/// Faces as a [N, R, R, C] tensor in [0, 1], unaugmented (what `Augmenter.fill` gives with no
/// augmentation: identity sampling lands on the pixel centres).
func faceTensor(_ images: [Image], channels: Int) -> Tensor {
    let r = images.first?.width ?? 1
    let t = Tensor(shape: [images.count, r, r, channels])
    for (k, im) in images.enumerated() {
        precondition(im.width == r && im.height == r && im.channels == channels, "faces of one size and channel count")
        let o = t.data + k * r * r * channels
        for i in 0..<(r * r * channels) { o[i] = Float(im.pixels[i]) * (1 / 255) }
    }
    return t
}

/// The held-out loss of `network` over `src` and `dst` faces: unaugmented (input = target), the
/// training loss per face (10*DSSIM + 10*MSE in the mask, plus 10*MSE of the mask), averaged per
/// role, in chunks of `chunk` faces. Nil for a role without faces. `evaluate` is the network's
/// `evaluate(src:dst:)`; both decoders run in every call, so a role with fewer faces is padded
/// with the other's (those results are ignored).
func heldOutLosses(src: [FaceSample], dst: [FaceSample], chunk: Int,
                   evaluate: (_ src: TrainingBatch, _ dst: TrainingBatch) -> StepLosses) -> (src: Double?,
                                                                                             dst: Double?) {
    guard !src.isEmpty || !dst.isEmpty else { return (nil, nil) }
    let chunk = max(1, chunk)
    func batch(_ faces: ArraySlice<FaceSample>) -> TrainingBatch {
        let images = faces.map(\.image)
        return TrainingBatch(warped: faceTensor(images, channels: 3), target: faceTensor(images, channels: 3),
                             mask: faceTensor(faces.map(\.mask), channels: 1))
    }
    let padSrc = src.isEmpty ? dst : src, padDst = dst.isEmpty ? src : dst
    var sums = (src: 0.0, dst: 0.0)
    let chunks = (max(src.count, dst.count) + chunk - 1) / chunk
    for c in 0..<chunks {
        let lo = c * chunk
        let s = lo < src.count ? src[lo..<min(lo + chunk, src.count)] : padSrc[0..<min(chunk, padSrc.count)]
        let d = lo < dst.count ? dst[lo..<min(lo + chunk, dst.count)] : padDst[0..<min(chunk, padDst.count)]
        let l = evaluate(batch(s), batch(d))
        if lo < src.count { sums.src += l.src.reduce(0) { $0 + Double($1) } }
        if lo < dst.count { sums.dst += l.dst.reduce(0) { $0 + Double($1) } }
    }
    return (src.isEmpty ? nil : sums.src / Double(src.count), dst.isEmpty ? nil : sums.dst / Double(dst.count))
}

extension SwapModel {
    /// The stored faces `ids` decoded as training this model decodes them (its resolution and
    /// face type), in the order given: what `evaluate` takes.
    public func loadFaces(_ ids: [Int64], project: Project) throws -> [FaceSample] {
        try loadFaceSamples(ids, project: project, resolution: resolution, alignAs: options.realignedFaceType)
    }

    /// This checkpoint's loss on `src` and `dst` faces (from `loadFaces`),
    /// computed exactly as the trainer computes the held-out loss it stores with a checkpoint: on
    /// the model's own held-out faces this gives back the stored `val_loss_src` / `val_loss_dst`
    /// (to float rounding; `chunk` only changes how the faces are batched).
    public func evaluate(src: [FaceSample], dst: [FaceSample], chunk: Int = 8) throws -> (src: Double?, dst: Double?) {
        for f in src + dst
        where f.image.width != resolution || f.image.height != resolution || f.mask.width != resolution {
            throw FacetError("face \(f.faceId) was loaded at \(f.image.width) px, "
                             + "but model '\(model.name)' works at \(resolution) px: "
                             + "load faces at the model's resolution")
        }
        return heldOutLosses(src: src, dst: dst, chunk: chunk) { network.evaluate(src: $0, dst: $1) }
    }
}
