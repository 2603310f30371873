/// Running a command-line tool (sqlite3, ffprobe) from a test and reading what it prints.
import Foundation

/// The standard output of `executable` run with `arguments`, trimmed of surrounding white space (its standard error
/// goes where the test's does).
public func toolOutput(_ executable: String, _ arguments: [String]) throws -> String {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: executable)
    p.arguments = arguments
    let pipe = Pipe()
    p.standardOutput = pipe
    try p.run()
    let data = pipe.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    return String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
}
