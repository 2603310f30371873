/// Src-to-dst colour transfer of training faces (DeepFaceLab's `ct_mode`): each src face the encoder and the src
/// decoder see is recoloured towards a random dst face, so the src decoder learns to reproduce the dst's lighting.
import FacetCore
import FacetMerge

/// Which colour transfer a model's src training faces get.
public enum TrainingColorTransfer: String, Codable, Sendable, CaseIterable {
    /// Reinhard: each L*a*b* channel's mean and spread inside the face moved to the dst face's.
    case rct
    /// Linear: the RGB covariance matched.
    case lct

    /// The merge's transfer of the same name.
    var merge: ColorTransfer { self == .rct ? .rct : .lct }
}

extension FaceSample {
    /// This face with its colours moved towards `reference`'s by `kind`, statistics inside this face's hull mask
    /// (both are aligned faces of the same size, so the hulls largely coincide).
    func colorTransferred(_ kind: TrainingColorTransfer, towards reference: FaceSample) -> FaceSample {
        let n = image.width * image.height
        guard reference.image.width == image.width, reference.image.height == image.height, image.channels == 3,
              reference.image.channels == 3 else { return self }
        var face = image.pixels.map { Float($0) * (1 / 255) }
        let ref = reference.image.pixels.map { Float($0) * (1 / 255) }
        let inside = (0..<n).map { mask.pixels[$0] >= 128 }
        transferColors(kind.merge, face: &face, reference: ref, mask: inside)
        var out = self
        out.image.pixels = face.map { UInt8(max(0, min(255, ($0 * 255).rounded()))) }
        return out
    }
}
