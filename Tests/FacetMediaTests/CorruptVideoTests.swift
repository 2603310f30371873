/// Bit-flipped copies of the sample videos: every one probes and decodes to a correct result or a one-line error naming the file, never a crash.
import XCTest
import FacetCore
@testable import FacetMedia

final class CorruptVideoTests: XCTestCase {
    /// For each sample (one with its index at the end, one with it at the front), variants with
    /// 1 to 64 random bytes replaced anywhere but the first 32 bytes (the file type box): the probe
    /// and a full decode either succeed with frames of the video's size, no more than it has,
    /// or throw a FacetError of one line naming the file. Both outcomes occur.
    func testBitFlippedVideosDecodeOrFailWithOneLineNamingTheFile() throws {
        let folder = try temporaryFolder(self)
        var rng = SplitMix64(seed: 20261126)  // seeded: a failing variant can be made again
        var decoded = 0, refused = 0, failedMidway = 0
        for name in ["dst-d19.mp4", "extra-d20.mp4"] {
            let original = try Data(contentsOf: URL(fileURLWithPath: Fixtures.video(name)))
            let clean = try VideoProbe.probe(path: Fixtures.video(name))
            for variant in 0..<10 {
                var bytes = [UInt8](original)
                let flips = [1, 4, 16, 64][variant % 4]
                for _ in 0..<flips {
                    let at = Int.random(in: 32..<bytes.count, using: &rng)
                    bytes[at] ^= UInt8.random(in: 1...255, using: &rng)
                }
                let path = folder + "/\(variant)-\(name)"
                try Data(bytes).write(to: URL(fileURLWithPath: path))
                func check(_ error: Error, _ stage: String) {
                    guard let error = error as? FacetError else { return XCTFail("\(path) \(stage): not a FacetError: \(error)") }
                    XCTAssertFalse(error.message.contains("\n"), "\(path) \(stage): '\(error.message)' is not one line")
                    XCTAssertTrue(error.message.contains(path), "\(path) \(stage): '\(error.message)' does not name the file")
                }
                let probe: VideoInfo
                do { probe = try VideoProbe.probe(path: path) } catch { check(error, "probe"); refused += 1; continue }
                var frames = 0
                do {
                    let decoder = try VideoDecoder(path: path)
                    while let frame = try decoder.nextFrame() {
                        XCTAssertEqual(frame.image.width, clean.width, path)
                        XCTAssertEqual(frame.image.height, clean.height, path)
                        XCTAssertEqual(frame.image.pixels.count, clean.width * clean.height * 3, path)
                        frames += 1
                    }
                    XCTAssertLessThanOrEqual(frames, max(probe.frameCount, clean.frameCount), path)
                    decoded += 1
                } catch {
                    check(error, "decode after \(frames) frames")
                    failedMidway += 1
                }
            }
        }
        print("corrupt-video: 20 variants: \(decoded) decoded whole, \(refused) refused at the probe, \(failedMidway) stopped with an error while decoding")
        XCTAssertGreaterThan(decoded, 0, "a few flipped bytes in the picture data should still decode (FFmpeg conceals them)")
        XCTAssertGreaterThan(refused + failedMidway, 0, "some variants should hit the container and be refused")
    }
}
