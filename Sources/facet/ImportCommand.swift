/// `facet import`: bring a video (or a folder of stills) into the project for a role.
import ArgumentParser
import FacetCore
import FacetExtract
import FacetStore
import Foundation

struct ImportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "import",
                                                    abstract: "Import a video or a folder of images as src or dst.")
    @OptionGroup var target: ProjectArgument
    @OptionGroup var roleOption: RequiredRoleOption
    @Argument(help: "Video files or folders of PNG/JPEG stills.") var media: [String]
    @Flag(help: "Keep only the path and SHA-256 of a video instead of a copy inside the project.") var link = false
    @Option(help: "Frame rate a folder of stills stands for.") var stillsFps: Double = 25

    func run() throws {
        let p = try Project(path: target.project)
        let role = roleOption.role
        for path in media {
            let m = try MediaImporter.importMedia(path: path, role: role, link: link, stillsFPS: stillsFps, into: p)
            print("imported #\(m.id ?? 0) \(m.role.rawValue) \(m.name): \(m.kind) \(m.codec) \(m.width)x\(m.height) "
                  + "\(String(format: "%.3g", m.fps)) fps, \(m.frameCount) frames, "
                  + "\(String(format: "%.2f", m.duration)) "
                  + "s\(m.hasAudio ? ", audio" : "")\(m.storage == .linked ? " (linked)" : "")")
        }
    }
}
