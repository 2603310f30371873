/// Runs the built `facet` binary as a user would: arguments in, exit status, stdout and stderr out.
import XCTest
import Foundation
import FacetStore
import FacetTestSupport

/// An error a test helper throws to fail the test that called it (XCTest reports a thrown error as a failure).
struct FacetTestFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

struct CommandResult {
    var status: Int32
    var stdout: String
    var stderr: String
}

class CLITestCase: XCTestCase {
    var dir: String!

    override func setUpWithError() throws {
        dir = NSTemporaryDirectory() + "facet-cli-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(atPath: dir) }

    func path(_ name: String) -> String { dir + "/" + name }

    /// Adds `count` stand-in faces of `role` cut from `video` (`SampleFaces`, seed 1) to the project at `project`.
    func addSampleFaces(_ project: String, role: Role, count: Int, size: Int, video: String) throws {
        let p = try Project(path: project)
        try SampleFaces.fill(p, role: role, videos: [video], count: count, cropSize: size, seed: 1)
        try p.close()
    }

    /// Copies into `project` (with its WAL) a project made once per test class: the first call
    /// builds it with `make` at `NSTemporaryDirectory()/facet-cli-NAME-PID.facet` and keeps the
    /// path in `template`; the class's `tearDown` deletes it with `removeTemplate`.
    func copyTemplate(_ template: inout String?, name: String, to project: String, make: (String) throws -> Void) throws {
        if template == nil {
            let t = NSTemporaryDirectory() + "facet-cli-\(name)-\(getpid()).facet"
            for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: t + suffix) }
            try make(t)
            template = t
        }
        for suffix in ["", "-wal"] where FileManager.default.fileExists(atPath: template! + suffix) {
            try FileManager.default.copyItem(atPath: template! + suffix, toPath: project + suffix)
        }
    }

    /// Deletes a template made by `copyTemplate` (and its WAL files).
    static func removeTemplate(_ template: inout String?) {
        if let t = template { for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: t + suffix) } }
        template = nil
    }

    /// What the `sqlite3` shell prints for `sql` on `file`, trimmed (rows on lines, columns joined by `|`).
    func sqlite(_ file: String, _ sql: String) throws -> String {
        try toolOutput("/usr/bin/sqlite3", [file, sql])
    }

    /// Rows a listing command prints with `--json` (the command must succeed).
    func rows(_ args: [String]) throws -> [[String: Any]] {
        let r = try facet(args + ["--json"])
        XCTAssertEqual(r.status, 0, "\(args): \(r.stderr)")
        return (try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [[String: Any]]) ?? []
    }

    /// The `id` of each row a listing command prints with `--json`, in its order.
    func ids(_ args: [String]) throws -> [Int64] { try rows(args).map { ($0["id"] as! NSNumber).int64Value } }

    static let repo = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let fixtures = repo.appendingPathComponent("Tests/Fixtures").path

    /// The `facet` executable built beside this test bundle.
    static var facetBinary: String {
        let productDir = Bundle.main.bundleURL.deletingLastPathComponent()
        for candidate in [productDir.appendingPathComponent("facet"), Bundle.main.bundleURL.appendingPathComponent("facet"),
                          repo.appendingPathComponent(".build/debug/facet")] where FileManager.default.isExecutableFile(atPath: candidate.path) {
            return candidate.path
        }
        return repo.appendingPathComponent(".build/debug/facet").path
    }

    @discardableResult
    func facet(_ args: [String], cwd: String? = nil) throws -> CommandResult {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: Self.facetBinary)
        p.arguments = args
        p.currentDirectoryURL = URL(fileURLWithPath: cwd ?? dir)
        // Files rather than pipes: nothing can fill up and block, whatever the command prints.
        let outPath = path(".stdout-\(UUID().uuidString)"), errPath = path(".stderr-\(UUID().uuidString)")
        FileManager.default.createFile(atPath: outPath, contents: nil)
        FileManager.default.createFile(atPath: errPath, contents: nil)
        defer { try? FileManager.default.removeItem(atPath: outPath); try? FileManager.default.removeItem(atPath: errPath) }
        p.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: outPath))
        p.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: errPath))
        p.standardInput = FileHandle.nullDevice
        try p.run()
        p.waitUntilExit()
        let outData = FileManager.default.contents(atPath: outPath) ?? Data()
        let errData = FileManager.default.contents(atPath: errPath) ?? Data()
        return CommandResult(status: p.terminationStatus, stdout: String(decoding: outData, as: UTF8.self), stderr: String(decoding: errData, as: UTF8.self))
    }

    /// Asserts exit 1 with one line on stderr containing `text`.
    func assertFailsCleanly(_ r: CommandResult, mentioning text: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(r.status, 1, "stderr: \(r.stderr)", file: file, line: line)
        let lines = r.stderr.split(separator: "\n")
        XCTAssertEqual(lines.count, 1, "one line: \(r.stderr)", file: file, line: line)
        XCTAssertTrue(r.stderr.contains(text), "expected '\(text)' in: \(r.stderr)", file: file, line: line)
    }

    func snapshot(_ file: String) -> (Data?, [String]) {
        (FileManager.default.contents(atPath: file), (try? FileManager.default.contentsOfDirectory(atPath: (file as NSString).deletingLastPathComponent).sorted()) ?? [])
    }
}

/// A test case whose tests each start from a copy of one project (`project`), made once per class by `makeTemplate`
/// through the CLI and deleted when the class's tests are done.
class TemplateProjectTestCase: CLITestCase {
    /// The file name of each test's copy, in the test's folder.
    class var projectName: String { "project.facet" }
    /// A short name for the template's file (`facet-cli-NAME-PID.facet`).
    class var templateName: String { String(describing: self) }
    /// The project the test works on: a fresh copy of the class's template.
    var project: String { path(Self.projectName) }

    /// Builds the template project at `template` (called once per class).
    func makeTemplate(_ template: String) throws { XCTFail("\(Self.self) must override makeTemplate") }

    /// Templates made so far, by class.
    nonisolated(unsafe) private static var templates: [String: String] = [:]

    override class func tearDown() {
        var t = templates.removeValue(forKey: templateName)
        removeTemplate(&t)
        super.tearDown()
    }

    override func setUpWithError() throws {
        try super.setUpWithError()
        var t = Self.templates[Self.templateName]
        try copyTemplate(&t, name: Self.templateName, to: project) { try makeTemplate($0) }
        Self.templates[Self.templateName] = t
    }
}
