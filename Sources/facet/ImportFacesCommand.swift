/// `facet import-faces`: a folder of already-aligned faces (a DeepFaceLab `aligned` folder) as faces of a role.
import ArgumentParser
import FacetCore
import FacetExtract
import FacetStore
import FacetVision
import Foundation

struct ImportFacesCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "import-faces",
        abstract: "Import a folder of aligned face images (PNG/JPEG) as faces, signatures computed: "
                  + "landmarks from DeepFaceLab's APP15 block when a file has one (kept as they are, "
                  + "with its source frame, rect, matrix, polygons and mask), found on the image otherwise.")
    @OptionGroup var target: ProjectArgument
    @OptionGroup var roleOption: RequiredRoleOption
    @OptionGroup var faceTypeOption: FaceTypeOption
    @Argument(help: "The folder of aligned face images.") var folder: String

    func run() throws {
        let ft = faceTypeOption.faceType, role = roleOption.role
        // Everything is checked with the file open read-only: bad input leaves it byte for byte as it was.
        let reader = try Project(path: target.project, mode: .readOnly)
        let plan = try FaceSetImporter.plan(folder: folder, role: role, in: reader)
        try reader.close()
        let describer = FaceRecognizers.loadIfAvailable(for: "import-faces")
        let p = try Project(path: target.project)
        var line = ProgressLine()
        let s = try FaceSetImporter.importFaces(plan, faceType: ft, into: p, describer: describer) { done, total in
            line.update("import-faces \(folder): \(done)/\(total)")
        }
        line.finish("import-faces \(role.rawValue): \(s.facesStored) faces from \(s.media.name) "
                    + "(media #\(s.media.id ?? 0))"
            + (s.fromMetadata > 0 ? ", \(s.fromMetadata) with their own landmarks" : "")
            + (s.withoutDetection > 0 ? ", \(s.withoutDetection) without a detection "
                                        + "(landmarks fitted in the aligned face box)" : "")
            + ", \(String(format: "%.1f", s.seconds)) s")
    }
}
