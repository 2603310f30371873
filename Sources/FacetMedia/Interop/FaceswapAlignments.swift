/// faceswap's alignments exported as JSON (`python tools.py alignments -j export`, read back by faceswap's
/// extract with its 'file' detector and aligner): `{frame file name: [{"detected": [left, top, right, bottom],
/// "landmarks_2d": [[x, y] x 68]}, ...]}` in frame pixels, origin at the top left, written with
/// `json.dumps(data, indent=2)`. Frames of a video are named `<video stem>_<frame number from 1, 6 digits><video
/// extension>` (faceswap's `lib/image.py`), stills by their file name.
import FacetCore
import Foundation

/// One face of a faceswap alignments JSON file.
public struct FaceswapAlignedFace: Sendable, Equatable {
    /// The detected box in frame pixels: left, top, right, bottom.
    public var detected: [Double]
    /// The 68 landmarks in frame pixels, as the file has them.
    public var landmarks: [[Double]]
}

/// A faceswap alignments JSON file, read strictly.
public struct FaceswapAlignments: Sendable, Equatable {
    /// Each frame's faces, in the file's order, by the frame's file name.
    public var frames: [String: [FaceswapAlignedFace]]

    /// Files larger than this are refused before parsing (a 100,000-frame video with one face each is ~250 MB).
    public static let maxBytes = 512 << 20

    /// faceswap's name for frame `index` (0-based) of the video file `videoName`: `stem_000001.ext`.
    public static func videoFrameName(_ videoName: String, index: Int) -> String {
        let ext = (videoName as NSString).pathExtension
        let stem = (videoName as NSString).deletingPathExtension
        let number = String(index + 1)
        return stem + "_" + String(repeating: "0",
                                   count: max(0, 6 - number.count)) + number + (ext.isEmpty ? "" : "." + ext)
    }

    private struct Face: Decodable {
        var detected: [Double]?
        var landmarks_2d: [[Double]]
    }

    /// Parses `data`; anything but faceswap's layout (68 finite landmarks and a 4-number box per face) is a
    /// `FacetError` naming the frame and face. faceswap's 4-point ROI faces are refused: Facet aligns from 68.
    public static func parse(_ data: Data) throws -> FaceswapAlignments {
        guard data.count <= maxBytes else {
            throw FacetError("is \(data.count >> 20) MiB, "
                             + "more than a faceswap alignments file of \(maxBytes >> 20) MiB")
        }
        let raw: [String: [Face]]
        do {
            raw = try JSONDecoder().decode([String: [Face]].self, from: data)
        } catch let e as DecodingError {
            throw FacetError("is not a faceswap alignments JSON file (\(describe(e)))")
        } catch {
            throw FacetError("is not a faceswap alignments JSON file (\(error))")
        }
        var frames: [String: [FaceswapAlignedFace]] = [:]
        for (frame, faces) in raw {
            guard !frame.isEmpty else { throw FacetError("has a frame with an empty name") }
            var out: [FaceswapAlignedFace] = []
            for (i, f) in faces.enumerated() {
                let at = "frame '\(frame)', face \(i)"
                let lm = f.landmarks_2d
                guard lm.count == 68 else {
                    throw FacetError("\(at): \(lm.count) landmarks; Facet needs faceswap's 68-point landmarks "
                                     + "(4-point ROI faces are not supported)")
                }
                guard lm.allSatisfy({ $0.count == 2 && $0[0].isFinite && $0[1].isFinite }) else {
                    throw FacetError("\(at): 'landmarks_2d' is not 68 finite (x, y) points")
                }
                guard let box = f.detected else { throw FacetError("\(at): no 'detected' box") }
                guard box.count == 4, box.allSatisfy(\.isFinite), box[2] >= box[0], box[3] >= box[1] else {
                    throw FacetError("\(at): 'detected' is not [left, top, right, bottom]")
                }
                out.append(FaceswapAlignedFace(detected: box, landmarks: lm))
            }
            frames[frame] = out
        }
        return FaceswapAlignments(frames: frames)
    }

    /// A decoding error as one short phrase: where, and what.
    static func describe(_ e: DecodingError) -> String {
        func path(_ c: [any CodingKey]) -> String {
            c.isEmpty ? "the top level"
                : c.map { $0.intValue.map { "[\($0)]" } ?? "'\($0.stringValue)'" }.joined(separator: " ")
        }
        switch e {
        case .typeMismatch(_, let c): return "at \(path(c.codingPath)): wrong type"
        case .valueNotFound(_, let c): return "at \(path(c.codingPath)): missing value"
        case .keyNotFound(let k, let c): return "at \(path(c.codingPath)): no '\(k.stringValue)'"
        case .dataCorrupted(let c): return c.codingPath.isEmpty ? "not valid JSON" : "at \(path(c.codingPath)): "
                                                                                     + "\(c.debugDescription)"
        @unknown default: return "unreadable"
        }
    }
}
