/// Fills a scratch project with faces cut from real video frames (augmented crops), for tests and the sort benchmark.
import Foundation
import FacetCore
import FacetMedia
import FacetStore

/// Face rows made from real image statistics without a detector: each "face" is a random square
/// crop of a decoded frame (flip, contrast and brightness, optional box blur, resized), as the peer
/// benchmark (`bench_sort.py`) augments its crops. Histogram, brightness and hue are measured on the
/// crop; blur is the variance of the grey Laplacian (higher is sharper); motion_blur the same at half
/// resolution; yaw and pitch stand in for a pose by the crop's offset from the frame centre; the
/// landmarks are a fixed face template placed in the crop. Extraction provenance says `sample-crops`,
/// so such rows are never mistaken for detections.
public enum SampleFaces {
    /// Adds `count` faces of `role` cut from the frames of `videos` (used in turn), `cropSize` pixels
    /// square, in batches of one transaction each. Deterministic for a `seed`. Returns the media ids.
    @discardableResult
    public static func fill(_ project: Project, role: Role, videos: [String], count: Int, cropSize: Int = 96,
                            framesPerVideo: Int = 60, seed: UInt64 = 1) throws -> [Int64] {
        guard !videos.isEmpty, count > 0 else { return [] }
        var framesByVideo: [(media: Int64, frames: [DecodedFrame])] = []
        for path in videos {
            let decoder = try VideoDecoder(path: path)
            let step = max(1, decoder.info.frameCount / max(1, framesPerVideo))
            var frames: [DecodedFrame] = []
            try decoder.forEachFrame { f in
                if f.index % step == 0 { frames.append(f) }
                return frames.count < framesPerVideo
            }
            let media = try mediaId(project, role: role, path: path, info: decoder.info)
            framesByVideo.append((media, frames))
        }
        let run = try project.beginExtraction(
            ExtractionProvenance(role: role, detector: "sample-crops", detectorSHA256: "-",
                                 landmarker: "template", landmarkerSHA256: "-",
                                 optionsJSON: "{\"crop_size\":\(cropSize),\"seed\":\(seed)}"))
        // Face g goes to frame slot g % slots (slots run over videos and frames in turn), as face
        // index g / slots: a batch holds whole frames, since the store skips frames it already has.
        let slots = framesByVideo.enumerated().flatMap { v, entry in entry.frames.indices.map { (v, $0) } }
        let workers = ProcessInfo.processInfo.activeProcessorCount
        let slotsPerBatch = max(1, 512 * slots.count / count)
        var firstSlot = 0
        while firstSlot < min(slots.count, count) {
            let batchSlots = Array(firstSlot..<min(slots.count, firstSlot + slotsPerBatch))
            let globals = batchSlots.flatMap { s in stride(from: s, to: count, by: slots.count) }
            var faces = [NewFace?](repeating: nil, count: globals.count)
            let failure = FirstError()
            let frozen = framesByVideo
            faces.withUnsafeMutableBufferPointer { out in
                let box = UnsafeSendable(out)
                DispatchQueue.concurrentPerform(iterations: workers) { worker in
                    for k in stride(from: worker, to: globals.count, by: workers) {
                        let g = globals[k]
                        let (v, fi) = slots[g % slots.count]
                        var rng = SplitMix64(seed: seed &* 0x9E37_79B9 &+ UInt64(g))
                        do {
                            box.value[k] = try makeFace(frame: frozen[v].frames[fi].image, faceIndex: g / slots.count,
                                                        cropSize: cropSize, rng: &rng)
                        } catch {
                            failure.set(error)
                        }
                    }
                }
            }
            if let e = failure.error { throw e }
            var byFrame: [Int: [NewFace]] = [:]
            for (k, g) in globals.enumerated() { byFrame[g % slots.count, default: []].append(faces[k]!) }
            let frames = batchSlots.map { slot -> ExtractedFrame in
                let f = framesByVideo[slots[slot].0].frames[slots[slot].1]
                return ExtractedFrame(mediaId: framesByVideo[slots[slot].0].media, frameIndex: f.index, pts: f.pts,
                                      faces: byFrame[slot] ?? [])
            }
            try project.storeFrames(frames, extractionId: run, role: role)
            firstSlot += batchSlots.count
        }
        try project.finishExtraction(id: run)
        return framesByVideo.map(\.media)
    }

    private static func mediaId(_ project: Project, role: Role, path: String, info: VideoInfo) throws -> Int64 {
        let sha = try SHA256.hex(ofFile: path)
        if try project.media().contains(where: { $0.sha256 == sha }) {
            throw FacetError.file(project.path,
                                  "already holds \(path): sample faces go into a project without that video")
        }
        let size = ((try? FileManager.default.attributesOfItem(atPath: path)[.size]) as? NSNumber)?.int64Value ?? 0
        let m = MediaRecord(role: role, name: (path as NSString).lastPathComponent, kind: .video, storage: .linked,
                            path: (path as NSString).standardizingPath, sha256: sha, byteSize: size,
                            container: info.container,
                            codec: info.codec, width: info.width, height: info.height, fps: info.fps,
                            frameCount: info.frameCount, duration: info.duration, hasAudio: false)
        return try project.importMedia(m) { nil }.id!
    }

    /// One augmented crop of `frame` and its measured signatures.
    static func makeFace(frame: Image, faceIndex: Int, cropSize: Int, rng: inout SplitMix64) throws -> NewFace {
        let side = min(frame.width, frame.height)
        let s = rng.int(in: min(side, max(32, side / 3))...min(side, side * 5 / 6))
        let x = rng.int(in: 0...(frame.width - s)), y = rng.int(in: 0...(frame.height - s))
        var crop = frame.cropped(x: x, y: y, width: s, height: s).resized(width: cropSize, height: cropSize,
                                                                          filter: .area)
        let flip = rng.unit() < 0.5
        let contrast = 0.7 + 0.6 * rng.unit(), bright = -30 + 60 * rng.unit()
        let w = cropSize, h = cropSize
        var px = crop.pixels
        for yy in 0..<h {
            for xx in 0..<w {
                let sx = flip ? w - 1 - xx : xx
                for c in 0..<3 {
                    let v = Double(crop.pixels[(yy * w + sx) * 3 + c]) * contrast + bright
                    px[(yy * w + xx) * 3 + c] = UInt8(max(0, min(255, v.rounded())))
                }
            }
        }
        crop = Image(width: w, height: h, channels: 3, pixels: px)
        if rng.unit() < 0.5 { crop = boxBlur(crop, radius: 1 + rng.int(in: 0...2)) }

        let stats = measure(crop)
        let scale = Double(cropSize) / Double(s)
        // Frame -> crop: scale about the crop origin, mirrored when flipped.
        let m = flip ? Affine2D(a: -scale, b: 0, tx: scale * Double(x + s) - 1, c: 0, d: scale, ty: -scale * Double(y))
                     : Affine2D(a: scale, b: 0, tx: -scale * Double(x), c: 0, d: scale, ty: -scale * Double(y))
        let toFrame = m.inverted ?? .identity
        let landmarks = Landmarks68(points: faceTemplate.map { toFrame.apply(Point2($0.x * Double(cropSize),
                                                                                    $0.y * Double(cropSize))) })
        let cx = Double(x) + Double(s) / 2 - Double(frame.width) / 2,
            cy = Double(y) + Double(s) / 2 - Double(frame.height) / 2
        return NewFace(faceIndex: faceIndex, score: 0.9 + 0.1 * rng.unit(),
                       box: (Double(x), Double(y), Double(s), Double(s)),
                       points5: [], landmarks: landmarks, matrix: m, faceType: "full", cropSize: cropSize,
                       cropFormat: "jpeg",
                       crop: try JPEGCodec.encode(crop, quality: 90), histogram: stats.histogram, blur: stats.sharpness,
                       motionBlur: stats.halfSharpness, yaw: (flip ? -1 : 1) * 70 * cx / Double(frame.width),
                       pitch: 70 * cy / Double(frame.height), roll: 0, brightness: stats.brightness, hue: stats.hue,
                       faceSize: Double(s))
    }

    struct Stats {
        var histogram: [Float]
        var sharpness: Double
        var halfSharpness: Double
        var brightness: Double
        var hue: Double
    }

    /// RGB histograms (each channel sums to 1), Laplacian variances, mean luma and circular mean hue.
    static func measure(_ img: Image) -> Stats {
        let w = img.width, h = img.height, n = w * h
        var hist = [Float](repeating: 0, count: 768)
        var grey = [Double](repeating: 0, count: n)
        var hx = 0.0, hy = 0.0, luma = 0.0
        for i in 0..<n {
            let r = img.pixels[3 * i], g = img.pixels[3 * i + 1], b = img.pixels[3 * i + 2]
            hist[Int(r)] += 1; hist[256 + Int(g)] += 1; hist[512 + Int(b)] += 1
            let y = 0.299 * Double(r) + 0.587 * Double(g) + 0.114 * Double(b)
            grey[i] = y; luma += y
            let (hue, sat) = hueSat(Double(r), Double(g), Double(b))
            hx += sat * cos(hue * .pi / 180); hy += sat * sin(hue * .pi / 180)
        }
        for k in 0..<768 { hist[k] /= Float(n) }
        var hueDeg = atan2(hy, hx) * 180 / .pi
        if hueDeg < 0 { hueDeg += 360 }
        var half = [Double](repeating: 0, count: (w / 2) * (h / 2))
        for y in 0..<(h / 2) { for x in 0..<(w / 2) {
            half[y * (w / 2) + x] = (grey[2 * y * w + 2 * x] + grey[2 * y * w + 2 * x + 1]
                                     + grey[(2 * y + 1) * w + 2 * x] + grey[(2 * y + 1) * w + 2 * x + 1]) / 4
        } }
        return Stats(histogram: hist, sharpness: laplacianVariance(grey, w, h),
                     halfSharpness: laplacianVariance(half, w / 2, h / 2),
                     brightness: luma / Double(n), hue: hueDeg)
    }

    static func laplacianVariance(_ g: [Double], _ w: Int, _ h: Int) -> Double {
        guard w > 2, h > 2 else { return 0 }
        var sum = 0.0, sq = 0.0
        for y in 1..<(h - 1) { for x in 1..<(w - 1) {
            let i = y * w + x
            let l = g[i - 1] + g[i + 1] + g[i - w] + g[i + w] - 4 * g[i]
            sum += l; sq += l * l
        } }
        let m = Double((w - 2) * (h - 2))
        return sq / m - (sum / m) * (sum / m)
    }

    static func hueSat(_ r: Double, _ g: Double, _ b: Double) -> (Double, Double) {
        let mx = max(r, g, b), mn = min(r, g, b), d = mx - mn
        guard d > 0 else { return (0, 0) }
        var hue: Double
        if mx == r {
            hue = 60 * (g - b) / d
        } else if mx == g {
            hue = 60 * ((b - r) / d + 2)
        } else {
            hue = 60 * ((r - g) / d + 4)
        }
        if hue < 0 { hue += 360 }
        return (hue, d / mx)
    }

    static func boxBlur(_ img: Image, radius: Int) -> Image {
        let w = img.width, h = img.height
        var out = img.pixels
        for y in 0..<h { for x in 0..<w { for c in 0..<3 {
            var s = 0, k = 0
            for dy in -radius...radius { for dx in -radius...radius {
                let xx = x + dx, yy = y + dy
                if xx >= 0 && xx < w && yy >= 0 && yy < h { s += Int(img.pixels[(yy * w + xx) * 3 + c]); k += 1 }
            } }
            out[(y * w + x) * 3 + c] = UInt8(s / k)
        } } }
        return Image(width: w, height: h, channels: 3, pixels: out)
    }

    /// A 68-point face in unit-square crop coordinates (jaw, brows, nose, eyes, mouth), roughly the
    /// mean face of a "full" crop: enough to draw and to check that landmarks survive export.
    static let faceTemplate: [Point2] = {
        var p: [Point2] = []
        // jaw
        for i in 0..<17 { let t = Double(i) / 16 * .pi; p.append(Point2(0.5 - 0.36 * cos(t), 0.42 + 0.4 * sin(t))) }
        // right brow
        for i in 0..<5 { p.append(Point2(0.22 + 0.045 * Double(i), 0.34 - 0.02 * sin(Double(i) / 4 * .pi))) }
        // left brow
        for i in 0..<5 { p.append(Point2(0.6 + 0.045 * Double(i), 0.34 - 0.02 * sin(Double(i) / 4 * .pi))) }
        for i in 0..<4 { p.append(Point2(0.5, 0.42 + 0.05 * Double(i))) }  // nose bridge
        for i in 0..<5 { p.append(Point2(0.43 + 0.035 * Double(i), 0.63)) }  // nostrils
        for eye in [0.32, 0.68] {
            for i in 0..<6 {
                let t = Double(i) / 6 * 2 * .pi
                p.append(Point2(eye - 0.06 * cos(t), 0.43 - 0.025 * sin(t)))
            }
        }
        // outer lip
        for i in 0..<12 {
            let t = Double(i) / 12 * 2 * .pi
            p.append(Point2(0.5 - 0.12 * cos(t), 0.76 - 0.05 * sin(t)))
        }
        // inner lip
        for i in 0..<8 { let t = Double(i) / 8 * 2 * .pi; p.append(Point2(0.5 - 0.08 * cos(t), 0.76 - 0.02 * sin(t))) }
        return p
    }()
}

/// Lets disjoint-index writers share a buffer across Dispatch workers.
struct UnsafeSendable<T>: @unchecked Sendable {
    let value: T
    init(_ value: T) { self.value = value }
}

/// The first error thrown by any of several workers.
final class FirstError: @unchecked Sendable {
    private let lock = NSLock()
    private var stored: Error?
    var error: Error? { lock.lock(); defer { lock.unlock() }; return stored }
    func set(_ e: Error) { lock.lock(); if stored == nil { stored = e }; lock.unlock() }
}
