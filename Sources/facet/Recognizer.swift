/// The face recogniser the commands hand to the engines: dlib's face-recognition ResNet (FacetVision).
import FacetCore
import FacetExtract
import FacetStore
import FacetVision
import Foundation

/// FacetVision's recogniser as the engines' `FaceDescriber`: chips cut per frame, descriptors batched.
struct DlibFaceDescriber: FaceDescriber {
    let recognizer: FaceRecognizer
    var provenance: RecognizerProvenance {
        RecognizerProvenance(name: FaceRecognizer.modelName, sha256: recognizer.sha256)
    }
    func chips(image: Image, landmarks: [Landmarks68]) -> [Image] {
        FaceRecognizer.chips(image: image, faces: landmarks)
    }
    func descriptors(chips: [Image]) -> [[Float]] { chips.isEmpty ? [] : recognizer.descriptors(chips: chips) }
}

enum FaceRecognizers {
    /// The recogniser (`Models/dlib_face_recognition_resnet_model_v1.dat`, or in `$FACET_MODELS`), or
    /// a one-line error naming the file and what is wrong with it.
    static func load() throws -> any FaceDescriber {
        DlibFaceDescriber(recognizer: try FaceRecognizer())
    }

    /// The recogniser for commands that also work without it (extract, import-faces, detect): nil,
    /// with one warning line saying what to run later, when it cannot be loaded.
    static func loadIfAvailable(for command: String) -> (any FaceDescriber)? {
        do { return try load() } catch {
            FileHandle.standardError.write(Data("""
                facet \(command): warning: no face descriptors stored (\(error)); \
                run Tools/fetch-models, then `facet embed`\n
                """.utf8))
            return nil
        }
    }
}
