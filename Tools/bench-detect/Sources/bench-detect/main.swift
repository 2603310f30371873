/// Times Facet's MTCNN detector on the inputs of ../shared/bench/bench_facedetect.py and prints one JSON line.
import FacetCore
import FacetMedia
import FacetVision
import Foundation

/// The peer script's two inputs from one image: the image at 512x512, and the image resized
/// (bilinear, as cv2.INTER_LINEAR) to 720x720 and centred on a black 1280x720 canvas.
func benchmarkInputs(_ image: Image) -> [(String, Image)] {
    let square = image.width == 512 && image.height == 512 ? image : image.resized(width: 512, height: 512)
    let inner = image.resized(width: 720, height: 720)
    var canvas = Image(width: 1280, height: 720, channels: 3)
    for y in 0..<720 {
        let src = y * 720 * 3, dst = (y * 1280 + 280) * 3
        canvas.pixels.replaceSubrange(dst..<(dst + 720 * 3), with: inner.pixels[src..<(src + 720 * 3)])
    }
    return [("512x512", square), ("1280x720", canvas)]
}

func usage() -> Never {
    FileHandle.standardError.write("""
    usage: bench-detect [--image PATH] [--reps N] [--threads N] [--verbose] [EXTRA_IMAGE...]
      times detect() on the peer benchmark's two inputs built from PATH (default: the astronaut
      fixture), then on any extra images; one JSON line on stdout.

    """.data(using: .utf8)!)
    exit(2)
}

let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path
var imagePath = root + "/Tests/Fixtures/images/reference/astronaut.png"
var reps = 10
var threads = min(2, ProcessInfo.processInfo.activeProcessorCount)
var verbose = false
var extra: [String] = []
var args = Array(CommandLine.arguments.dropFirst())
while !args.isEmpty {
    let a = args.removeFirst()
    func value() -> String {
        if args.isEmpty { usage() }
        return args.removeFirst()
    }
    func number() -> Int {
        guard let n = Int(value()), n > 0 else { usage() }
        return n
    }
    switch a {
    case "--image": imagePath = value()
    case "--reps": reps = number()
    case "--threads": threads = number()
    case "--verbose": verbose = true
    case "--help", "-h": usage()
    default: if a.hasPrefix("-") { usage() } else { extra.append(a) }
    }
}

func json(_ value: Any) -> String {
    String(data: try! JSONSerialization.data(withJSONObject: value, options: [.sortedKeys, .withoutEscapingSlashes]), encoding: .utf8)!
}

do {
    let detector = try MTCNNDetector(weightsPath: ModelFiles.mtcnnWeights(), threads: threads)
    var inputs = benchmarkInputs(try ImageFile.read(path: imagePath))
    for path in extra { inputs.append(((path as NSString).lastPathComponent, try ImageFile.read(path: path))) }
    var results: [String: Any] = [:]
    for (name, image) in inputs {
        var faces = detector.detect(image)
        faces = detector.detect(image)   // two warm-up calls, as the peer script makes
        let start = DispatchTime.now().uptimeNanoseconds
        for _ in 0..<reps { faces = detector.detect(image) }
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        if verbose {
            for f in faces {
                let points = f.points5.map { String(format: "(%.1f, %.1f)", $0.x, $0.y) }.joined(separator: " ")
                FileHandle.standardError.write(String(format: "%@: box %.1f %.1f %.1f %.1f score %.4f points %@\n",
                                                      name, f.box.x, f.box.y, f.box.width, f.box.height, f.score, points).data(using: .utf8)!)
            }
        }
        results["facet_\(name)"] = [
            "images_per_s": (Double(reps) / seconds * 100).rounded() / 100,
            "ms_per_image": (1000 * seconds / Double(reps) * 10).rounded() / 10,
            "faces": faces.count,
            "boxes": faces.prefix(3).map { [Int($0.box.x), Int($0.box.y), Int($0.box.width), Int($0.box.height)] },
        ]
    }
    print(json(["bench": "facet_detect", "image": imagePath, "reps": reps, "threads": threads,
                "cpu_count": ProcessInfo.processInfo.activeProcessorCount, "results": results]))
} catch {
    FileHandle.standardError.write("bench-detect: \(error)\n".data(using: .utf8)!)
    exit(1)
}
