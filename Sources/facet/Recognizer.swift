/// The face recogniser the commands hand to the engines (dlib's face-recognition ResNet).
import FacetCore
import FacetExtract
import Foundation

enum FaceRecognizers {
    /// The recogniser, or a one-line error saying what is missing.
    static func load() throws -> any FaceDescriber {
        throw FacetError("the face recogniser (dlib's face-recognition ResNet) is not part of this build yet")
    }

    /// The recogniser for commands that also work without it (extract, import-faces, detect): nil,
    /// with one warning line saying what to run later, when it cannot be loaded.
    static func loadIfAvailable(for command: String) -> (any FaceDescriber)? {
        do { return try load() } catch {
            FileHandle.standardError.write(Data("facet \(command): warning: no face descriptors stored (\(error)); run `facet embed` once it is available\n".utf8))
            return nil
        }
    }
}
