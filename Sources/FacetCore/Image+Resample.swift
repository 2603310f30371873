/// Resizing and affine warps of `Image`, with no allocation per pixel.

/// What a warp samples outside the source image.
public enum BorderMode: Sendable {
    /// A constant value (0 = black).
    case constant(UInt8)
    /// The nearest edge pixel.
    case replicate
}

/// How `resized` computes each output pixel from the input's.
public enum ResizeFilter: Sendable {
    /// Bilinear interpolation with pixel centres aligned (OpenCV's INTER_LINEAR).
    case bilinear
    /// Pixel-area averaging, for shrinking without aliasing (OpenCV's INTER_AREA).
    case area
}

extension Image {
    /// The image scaled to `width x height`. Area falls back to bilinear when enlarging.
    public func resized(width w: Int, height h: Int, filter: ResizeFilter = .bilinear) -> Image {
        if w == width && h == height { return self }
        if filter == .area && w <= width && h <= height { return areaResized(width: w, height: h) }
        let sx = Double(width) / Double(w), sy = Double(height) / Double(h)
        // Map output pixel centre to input: x_in = (x + 0.5) * sx - 0.5, as an affine warp.
        let m = Affine2D(a: sx, b: 0, tx: 0.5 * sx - 0.5, c: 0, d: sy, ty: 0.5 * sy - 0.5)
        return warped(outputToInput: m, width: w, height: h, border: .replicate)
    }

    private func areaResized(width w: Int, height h: Int) -> Image {
        var out = Image(width: w, height: h, channels: channels)
        let c = channels
        let sx = Double(width) / Double(w), sy = Double(height) / Double(h)
        // Each output column's (row's) source pixels and their overlap, worked out once; the sums
        // then run in the same order with the same products as a pixel-by-pixel evaluation.
        func spans(_ n: Int, _ scale: Double, _ limit: Int)
            -> (start: [Int], count: [Int], index: [Int], weight: [Double]) {
            var start = [Int](), count = [Int](), index = [Int](), weight = [Double]()
            for o in 0..<n {
                let f0 = Double(o) * scale, f1 = f0 + scale
                let i0 = Int(f0), i1 = min(limit, Int(f1.rounded(.up)))
                start.append(index.count)
                for i in i0..<max(i0, i1) {
                    let wgt = min(f1, Double(i + 1)) - max(f0, Double(i))
                    if wgt <= 0 { continue }
                    index.append(i); weight.append(wgt)
                }
                count.append(index.count - start.last!)
            }
            return (start, count, index, weight)
        }
        let cols = spans(w, sx, width), rows = spans(h, sy, height)
        var acc = [Double](repeating: 0, count: c)
        pixels.withUnsafeBufferPointer { src in
            out.pixels.withUnsafeMutableBufferPointer { dst in
                acc.withUnsafeMutableBufferPointer { acc in
                    for oy in 0..<h {
                        let ry = rows.start[oy], ny = rows.count[oy]
                        for ox in 0..<w {
                            let rx = cols.start[ox], nx = cols.count[ox]
                            let q = (oy * w + ox) * c
                            if c == 3 {
                                // RGB unrolled: the same sums in the same order as the loop below.
                                var a0 = 0.0, a1 = 0.0, a2 = 0.0, total = 0.0
                                for j in ry..<(ry + ny) {
                                    let iy = rows.index[j], wy = rows.weight[j]
                                    for i in rx..<(rx + nx) {
                                        let wgt = cols.weight[i] * wy
                                        let p = (iy * width + cols.index[i]) * 3
                                        a0 += wgt * Double(src[p]); a1 += wgt * Double(src[p + 1])
                                        a2 += wgt * Double(src[p + 2])
                                        total += wgt
                                    }
                                }
                                dst[q] = UInt8(max(0, min(255, (a0 / total).rounded())))
                                dst[q + 1] = UInt8(max(0, min(255, (a1 / total).rounded())))
                                dst[q + 2] = UInt8(max(0, min(255, (a2 / total).rounded())))
                                continue
                            }
                            for k in 0..<c { acc[k] = 0 }
                            var total = 0.0
                            for j in ry..<(ry + ny) {
                                let iy = rows.index[j], wy = rows.weight[j]
                                for i in rx..<(rx + nx) {
                                    let wgt = cols.weight[i] * wy
                                    let p = (iy * width + cols.index[i]) * c
                                    for k in 0..<c { acc[k] += wgt * Double(src[p + k]) }
                                    total += wgt
                                }
                            }
                            for k in 0..<c { dst[q + k] = UInt8(max(0, min(255, (acc[k] / total).rounded()))) }
                        }
                    }
                }
            }
        }
        return out
    }

    /// Warps with `imageToOutput` (e.g. an image-to-face matrix) into a `width x height` image,
    /// sampling bilinearly. The same as OpenCV's `warpAffine` with INTER_LINEAR.
    public func warped(by imageToOutput: Affine2D, width w: Int, height h: Int,
                       border: BorderMode = .constant(0)) -> Image {
        guard let inv = imageToOutput.inverted else { return Image(width: w, height: h, channels: channels) }
        return warped(outputToInput: inv, width: w, height: h, border: border)
    }

    /// Samples the source at `outputToInput(x, y)` for every output pixel (x, y).
    public func warped(outputToInput m: Affine2D, width w: Int, height h: Int, border: BorderMode) -> Image {
        var out = Image(width: w, height: h, channels: channels)
        guard width > 0, height > 0 else { return out }
        let c = channels, sw = width, sh = height
        var fill: UInt8 = 0
        var replicate = false
        switch border {
        case .constant(let v): fill = v
        case .replicate: replicate = true
        }
        pixels.withUnsafeBufferPointer { src in
            out.pixels.withUnsafeMutableBufferPointer { dst in
                for oy in 0..<h {
                    var fx = m.b * Double(oy) + m.tx
                    var fy = m.d * Double(oy) + m.ty
                    for ox in 0..<w {
                        let q = (oy * w + ox) * c
                        let x0f = fx.rounded(.down), y0f = fy.rounded(.down)
                        let ax = Float(fx - x0f), ay = Float(fy - y0f)
                        var x0 = Int(x0f), y0 = Int(y0f)
                        var x1 = x0 + 1, y1 = y0 + 1
                        fx += m.a; fy += m.c
                        if x0 >= 0 && y0 >= 0 && x1 < sw && y1 < sh {
                            let p00 = (y0 * sw + x0) * c, p01 = p00 + c, p10 = p00 + sw * c, p11 = p10 + c
                            if c == 3 {
                                // RGB, the common case, unrolled (the same arithmetic as the loop below).
                                @inline(__always) func channel(_ k: Int) -> UInt8 {
                                    let top = Float(src[p00 + k]) + ax * (Float(src[p01 + k]) - Float(src[p00 + k]))
                                    let bot = Float(src[p10 + k]) + ax * (Float(src[p11 + k]) - Float(src[p10 + k]))
                                    return UInt8(top + ay * (bot - top) + 0.5)
                                }
                                dst[q] = channel(0); dst[q + 1] = channel(1); dst[q + 2] = channel(2)
                                continue
                            }
                            for k in 0..<c {
                                let top = Float(src[p00 + k]) + ax * (Float(src[p01 + k]) - Float(src[p00 + k]))
                                let bot = Float(src[p10 + k]) + ax * (Float(src[p11 + k]) - Float(src[p10 + k]))
                                dst[q + k] = UInt8(top + ay * (bot - top) + 0.5)
                            }
                            continue
                        }
                        if replicate {
                            x0 = min(max(x0, 0), sw - 1); x1 = min(max(x1, 0), sw - 1)
                            y0 = min(max(y0, 0), sh - 1); y1 = min(max(y1, 0), sh - 1)
                            let p00 = (y0 * sw + x0) * c, p01 = (y0 * sw + x1) * c
                            let p10 = (y1 * sw + x0) * c, p11 = (y1 * sw + x1) * c
                            for k in 0..<c {
                                let top = Float(src[p00 + k]) + ax * (Float(src[p01 + k]) - Float(src[p00 + k]))
                                let bot = Float(src[p10 + k]) + ax * (Float(src[p11 + k]) - Float(src[p10 + k]))
                                dst[q + k] = UInt8(top + ay * (bot - top) + 0.5)
                            }
                        } else {
                            // Constant border: each of the four taps outside reads `fill`.
                            func tap(_ x: Int, _ y: Int, _ k: Int) -> Float {
                                (x >= 0 && y >= 0 && x < sw && y < sh) ? Float(src[(y * sw + x) * c + k]) : Float(fill)
                            }
                            if x1 < 0 || y1 < 0 || x0 >= sw || y0 >= sh {
                                for k in 0..<c { dst[q + k] = fill }
                                continue
                            }
                            for k in 0..<c {
                                let top = tap(x0, y0, k) + ax * (tap(x1, y0, k) - tap(x0, y0, k))
                                let bot = tap(x0, y1, k) + ax * (tap(x1, y1, k) - tap(x0, y1, k))
                                dst[q + k] = UInt8(top + ay * (bot - top) + 0.5)
                            }
                        }
                    }
                }
            }
        }
        return out
    }
}
