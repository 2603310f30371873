/// The trained model as the merge's `FaceSwapper`: a checkpoint's encoder and source decoder from the project.
import FacetCore
import FacetStore
import FacetMerge
import Foundation

/// Runs a stored checkpoint's encoder and src decoder on aligned destination faces.
/// The network is used by one thread at a time (the merge's worker); a lock makes that a rule.
public final class CheckpointSwapper: FaceSwapper, @unchecked Sendable {
    /// The loaded checkpoint's network.
    public let model: SwapModel
    private let lock = NSLock()

    /// Loads `checkpoint` (`latest`, `best`, a tag or an id) of `modelName` (or the only model).
    public init(project: Project, checkpoint: String, model modelName: String? = nil) throws {
        model = try loadModel(project: project, checkpoint: checkpoint, model: modelName)
        guard model.resolution > 0, model.resolution % 16 == 0 else {
            throw FacetError.file(project.path,
                                  "checkpoint \(model.checkpoint.id) has resolution \(model.resolution), "
                                  + "which no Facet model uses")
        }
    }

    /// Side of the aligned faces the model takes and returns, in pixels.
    public var resolution: Int { model.resolution }
    /// The face type the model was trained on: dst faces must be of the same type.
    public var faceType: String { model.faceType }
    /// The checkpoint whose weights swap the faces.
    public var checkpointId: Int64 { model.checkpoint.id }

    /// The model's face and learned mask for each aligned destination face.
    public func swap(_ alignedDstFaces: [Image]) throws -> [(face: Image, mask: Image)] {
        lock.lock(); defer { lock.unlock() }
        return model.swapFaces(alignedDstFaces, outputSize: resolution)
    }
}
