/// The preview grid users know from DeepFaceLab: per row a src face, its reconstruction, a dst
/// face, its reconstruction, and the dst face swapped to src.
import Foundation
import FacetCore
import FacetMedia
import FacetNN

enum PreviewGrid {
    /// Columns of the grid, left to right.
    static let columns = ["src", "src rec", "dst", "dst rec", "dst->src"]

    /// The grid for `src` and `dst` samples (one row per pair, as many rows as the shorter list),
    /// one pixel of grey between cells, as PNG bytes.
    static func render(_ network: any SwapNetwork, src: [FaceSample], dst: [FaceSample]) throws -> Data {
        let rows = min(src.count, dst.count)
        guard rows > 0 else { throw FacetError("a preview needs at least one face of each role") }
        let r = network.resolution
        func batch(_ samples: [FaceSample]) -> Tensor {
            let t = Tensor(shape: [rows, r, r, 3])
            for k in 0..<rows {
                let o = t.data + k * r * r * 3
                for i in 0..<(r * r * 3) { o[i] = Float(samples[k].image.pixels[i]) * (1 / 255) }
            }
            return t
        }
        let s = batch(src), d = batch(dst)
        let srcRec = network.predict(s, decoder: .src).image
        let dstRec = network.predict(d, decoder: .dst).image
        let swapped = network.predict(d, decoder: .src).image
        let gap = 1, cellsWide = columns.count
        var grid = Image(width: cellsWide * r + (cellsWide + 1) * gap, height: rows * r + (rows + 1) * gap, channels: 3)
        for i in 0..<grid.pixels.count { grid.pixels[i] = 64 }
        func paste(_ cell: Image, row: Int, column: Int) {
            let x0 = gap + column * (r + gap), y0 = gap + row * (r + gap)
            for y in 0..<r {
                let dst = ((y0 + y) * grid.width + x0) * 3
                grid.pixels.replaceSubrange(dst..<(dst + r * 3), with: cell.pixels[(y * r * 3)..<((y + 1) * r * 3)])
            }
        }
        for k in 0..<rows {
            paste(src[k].image, row: k, column: 0)
            paste(tensorImage(srcRec, index: k, channels: 3), row: k, column: 1)
            paste(dst[k].image, row: k, column: 2)
            paste(tensorImage(dstRec, index: k, channels: 3), row: k, column: 3)
            paste(tensorImage(swapped, index: k, channels: 3), row: k, column: 4)
        }
        return try PNGCodec.encode(grid)
    }
}
