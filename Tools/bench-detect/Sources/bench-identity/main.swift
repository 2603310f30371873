/// Times Facet's face-recognition descriptors on the faces of Tests/Fixtures/images/reference/face_descriptors.json
/// (the 45 faces dlib's reference was made on, from dlib's own 68 points) and measures the error of storing
/// descriptors as float16: one JSON line on stdout.
import FacetCore
import FacetMedia
import FacetVision
import Foundation

let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
let fixtures = root.appendingPathComponent("Tests/Fixtures").path
var rounds = 5, videoStep = 10
var args = CommandLine.arguments.dropFirst()
while let a = args.popFirst() {
    switch a {
    case "--rounds": rounds = Int(args.popFirst() ?? "") ?? rounds
    case "--video-step": videoStep = Int(args.popFirst() ?? "") ?? videoStep
    default:
        FileHandle.standardError.write("usage: bench-identity [--rounds N] [--video-step K]\n".data(using: .utf8)!)
        exit(2)
    }
}

func fail(_ message: String) -> Never {
    FileHandle.standardError.write("bench-identity: \(message)\n".data(using: .utf8)!)
    exit(1)
}

func image(_ name: String) throws -> Image {
    let parts = name.components(separatedBy: "@x")
    let base = try ImageFile.read(path: fixtures + "/images/" + parts[0]).rgb()
    guard parts.count == 2, let k = Int(parts[1]) else { return base }
    var big = Image(width: base.width * k, height: base.height * k, channels: 3)
    for y in 0..<big.height { for x in 0..<big.width { for c in 0..<3 { big[x, y, c] = base[x / k, y / k, c] } } }
    return big
}

do {
    let recognizer = try FaceRecognizer()
    let json = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath:
        fixtures + "/images/reference/face_descriptors.json"))) as! [String: Any]
    var groups: [(Image, [Landmarks68])] = []
    var names: [String] = []
    for f in json["faces"] as! [[String: Any]] {
        let name = f["image"] as! String
        let lm = Landmarks68(points: (f["landmarks"] as! [[Double]]).map { Point2($0[0], $0[1]) })
        if names.last == name { groups[groups.count - 1].1.append(lm) } else { names.append(name); groups.append((try image(name), [lm])) }
    }
    let faceCount = groups.reduce(0) { $0 + $1.1.count }
    _ = recognizer.descriptors(image: groups[0].0, faces: groups[0].1)   // warm-up
    // Per image, as extraction calls it (chips cut, then the image's faces in one batch).
    var start = Date()
    for _ in 0..<rounds { for (img, faces) in groups { _ = recognizer.descriptors(image: img, faces: faces) } }
    let perImage = Double(rounds * faceCount) / Date().timeIntervalSince(start)
    // Every chip of the set in full batches (what `facet embed` can do across frames).
    let chips = groups.flatMap { FaceRecognizer.chips(image: $0.0, faces: $0.1) }
    start = Date()
    for _ in 0..<rounds { _ = recognizer.descriptors(chips: chips) }
    let batched = Double(rounds * faceCount) / Date().timeIntervalSince(start)
    start = Date()
    for _ in 0..<rounds { for (img, faces) in groups { _ = FaceRecognizer.chips(image: img, faces: faces) } }
    let chipsPerS = Double(rounds * faceCount) / Date().timeIntervalSince(start)

    // float16 storage: the descriptors of the reference faces and of every K-th frame of the three
    // sample videos (MTCNN + dlib's landmarks), all pairs.
    var all = recognizer.descriptors(chips: chips)
    let pipeline = FacePipeline(detector: try MTCNNDetector(weightsPath: ModelFiles.mtcnnWeights()),
                                shapePredictor: try ShapePredictor(path: ModelFiles.shapePredictor()))
    var videoFaces = 0
    for video in ["src-d18", "dst-d19", "extra-d20"] {
        let decoder = try VideoDecoder(path: fixtures + "/video/\(video).mp4")
        try decoder.forEachFrame { frame in
            if frame.index % videoStep == 0, let face = pipeline.faces(in: frame.image, maxFaces: 1).first {
                all += recognizer.descriptors(image: frame.image, faces: [face.landmarks])
                videoFaces += 1
            }
            return true
        }
    }
    let half = all.map { $0.map { Float(Float16($0)) } }
    var maxError: Float = 0, pairs = 0, flips = 0, nearThreshold = 0
    for i in 0..<all.count {
        for j in (i + 1)..<all.count {
            let d32 = FaceRecognizer.distance(all[i], all[j]), d16 = FaceRecognizer.distance(half[i], half[j])
            maxError = max(maxError, abs(d32 - d16))
            pairs += 1
            if (d32 < 0.6) != (d16 < 0.6) { flips += 1 }
            if abs(d32 - 0.6) < 0.01 { nearThreshold += 1 }
        }
    }
    let result: [String: Any] = [
        "faces": faceCount, "rounds": rounds, "threads": ProcessInfo.processInfo.activeProcessorCount,
        "descriptors_per_s_per_image": perImage, "descriptors_per_s_batched": batched, "chips_per_s": chipsPerS,
        "float16": ["descriptors": all.count, "video_faces": videoFaces, "pairs": pairs, "max_abs_distance_error": maxError,
                    "threshold_flips": flips, "pairs_within_0.01_of_0.6": nearThreshold],
    ]
    let data = try JSONSerialization.data(withJSONObject: result, options: [.sortedKeys])
    print(String(decoding: data, as: UTF8.self))
} catch {
    fail("\(error)")
}
