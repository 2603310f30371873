/// The face page's source frame through the decoder `facet serve` uses (`Gallery.storedMediaFrame`), on real video.
import XCTest
import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import FacetCore
import FacetMedia
import FacetStore
import FacetTestSupport
@testable import FacetServe

final class GalleryFrameTests: XCTestCase {
    static let video = ServedProject.fixtures + "/video/src-d18.mp4"

    /// Every frame of the video, decoded once with FacetMedia's decoder (the independent reading).
    static func decodedFrames() throws -> [Int: Image] {
        let d = try VideoDecoder(path: video)
        var out: [Int: Image] = [:]
        while let f = try d.nextFrame() { out[f.index] = f.image }
        return out
    }

    /// Mean absolute difference of the RGB bytes, leaving out the 4 pixels around the outlined box.
    static func meanDifference(_ a: Image, _ b: Image, box: (x: Int, y: Int, w: Int, h: Int)) -> Double {
        var sum = 0.0, n = 0.0
        for y in 0..<a.height {
            for x in 0..<a.width {
                let nearX = abs(x - box.x) <= 3 || abs(x - box.x - box.w) <= 3
                let nearY = abs(y - box.y) <= 3 || abs(y - box.y - box.h) <= 3
                let onOutline = (nearX && y >= box.y - 3 && y <= box.y + box.h + 3) || (nearY && x >= box.x - 3 && x <= box.x + box.w + 3)
                if onOutline { continue }
                for c in 0..<3 { sum += abs(Double(a[x, y, c]) - Double(b[x, y, c])); n += 1 }
            }
        }
        return sum / n
    }

    /// `/frame/ID` of faces at several positions in the video: a JPEG of the frame the face was cut from (within JPEG
    /// error of FacetMedia's own decode of that frame, and farther from the frames 15 before and after), its box in green.
    func testSourceFramesAreTheFacesOwnFrames() async throws {
        let served = try await ServedProject(prefix: "frames-", file: "f.facet", sourceFrame: Gallery.storedMediaFrame) { project in
            try SampleFaces.fill(project, role: .src, videos: [Self.video], count: 12, cropSize: 48, framesPerVideo: 12, seed: 9)
        }
        do { try await checkFrames(served) } catch { await served.stop(); throw error }
        await served.stop()
    }

    func checkFrames(_ served: ServedProject) async throws {
        let frames = try Self.decodedFrames()
        let faces = try served.project.faces(matching: FaceQuery(role: .src))
        let picked = Set(faces.map(\.frameIndex)).sorted()
        XCTAssertGreaterThanOrEqual(picked.count, 4, "faces on several frames")
        var checked = 0
        for index in [picked.first!, picked[picked.count / 2], picked.last!] {
            let face = try XCTUnwrap(faces.first { $0.frameIndex == index })
            let (status, body, headers) = try await served.request("/frame/\(face.id)")
            XCTAssertEqual(status, 200, String(decoding: body, as: UTF8.self))
            XCTAssertEqual(headers["Content-Type"] as? String, "image/jpeg")
            let image = try JPEGCodec.decode(body)
            let own = try XCTUnwrap(frames[index])
            XCTAssertEqual(image.width, own.width); XCTAssertEqual(image.height, own.height)
            let box = (Int(face.boxX), Int(face.boxY), Int(face.boxW), Int(face.boxH))
            let same = Self.meanDifference(image, own, box: box)
            XCTAssertLessThan(same, 3, "frame \(index): mean difference \(same) from its own frame")
            for other in [index - 15, index + 15] {
                guard let o = frames[other] else { continue }
                let d = Self.meanDifference(image, o, box: box)
                XCTAssertGreaterThan(d, same, "frame \(index) is nearer to frame \(other) (\(d)) than to itself (\(same))")
            }
            // The outline: the top edge of the box is green.
            let mid = (x: min(image.width - 1, Int(face.boxX + face.boxW / 2)), y: max(0, Int(face.boxY)))
            XCTAssertGreaterThan(Int(image[mid.x, mid.y, 1]) - Int(image[mid.x, mid.y, 0]), 100, "green box outline")
            checked += 1
        }
        XCTAssertEqual(checked, 3)
        let page = try await served.request("/face/\(faces[0].id)")
        XCTAssertTrue(String(decoding: page.body, as: UTF8.self).contains("<img id=\"frame\" src=\"/frame/\(faces[0].id)\""))
    }

    /// A face whose video moved away: the frame request fails with a server error, and the gallery keeps serving.
    func testAMissingLinkedVideoIsAnErrorNotACrash() async throws {
        let copy = NSTemporaryDirectory() + "facet-frames-\(UUID().uuidString).mp4"
        try FileManager.default.copyItem(atPath: Self.video, toPath: copy)
        let served = try await ServedProject(prefix: "frames-", file: "m.facet", sourceFrame: Gallery.storedMediaFrame) { project in
            try SampleFaces.fill(project, role: .src, videos: [copy], count: 3, cropSize: 48, framesPerVideo: 3, seed: 2)
        }
        do {
            try FileManager.default.removeItem(atPath: copy)
            let (status, _, _) = try await served.request("/frame/1")
            XCTAssertGreaterThanOrEqual(status, 400)
            let (crop, _, _) = try await served.request("/crop/1")
            XCTAssertEqual(crop, 200)
        } catch { await served.stop(); throw error }
        await served.stop()
    }
}
