/// `facet serve`: the gallery in the browser, with source frames decoded on demand from the stored media.
import ArgumentParser
import FacetCore
import FacetServe
import FacetStore
import Foundation

struct ServeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Browse, sort and reject faces in a gallery in the browser (reads the project live).")
    @OptionGroup var target: ProjectArgument
    @Option(help: "Port to listen on (0: any free port).") var port: Int = 8080
    @Option(help: "Address to listen on; the default keeps the gallery on this machine.") var host: String = "127.0.0.1"

    func validate() throws {
        if !(0...65535).contains(port) { throw ValidationError("--port must be 0...65535") }
    }

    /// The root command runs synchronously, so the server runs in a task and this thread waits for it
    /// (until the process is interrupted, or the server fails to start, e.g. the port is taken).
    func run() throws {
        let p = try Project(path: target.project)
        if p.isReadOnly {
            FileHandle.standardError.write(
                Data("facet: \(p.path) is read-only: the gallery can browse but not reject\n".utf8))
        }
        let gallery = Gallery(project: p, sourceFrame: Gallery.storedMediaFrame)
        let host = self.host, port = self.port
        let done = DispatchSemaphore(value: 0)
        let failure = ServeFailure()
        Task {
            do {
                try await gallery.run(host: host, port: port) { bound in
                    FileHandle.standardOutput.write(
                        Data("facet serve: http://\(host):\(bound)/faces?role=src  (Ctrl-C to stop)\n".utf8))
                }
            } catch {
                failure.error = error
            }
            done.signal()
        }
        done.wait()
        if let e = failure.error { throw FacetError("serve on \(host):\(port): \(e)") }
    }
}

final class ServeFailure: @unchecked Sendable { var error: Error? }
