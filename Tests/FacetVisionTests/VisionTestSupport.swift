/// Test helpers shared by the vision tests: damaged fixtures fail, and missing model files fail under CI.
import XCTest
import Foundation

/// A fixture that is damaged (truncated, wrong format): the test that reads it fails, it does not skip.
struct FixtureError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// Skips a test whose model file is missing on a developer's machine, but fails it when `CI` is set: `Tools/test`
/// fetches the models first, so a missing file there is a broken set-up, not a reason to leave MTCNN untested.
func modelMissing(_ message: String) -> Error {
    if let ci = ProcessInfo.processInfo.environment["CI"], !ci.isEmpty, ci != "0", ci.lowercased() != "false" {
        return FixtureError("\(message) (CI is set: a missing model file fails the test)")
    }
    return XCTSkip(message)
}
