/// The project's own mask labels (`facet mask --import`, the gallery's editor) as the segmenter trains on them.
import Foundation
import FacetCore
import FacetStore

/// The include/exclude polygons stored per face, rasterized over the crop at the size asked for.
public struct ProjectMaskLabels: XSegLabelSource {
    /// The project the labels live in.
    public let project: Project
    /// Labels of `project`.
    public init(project: Project) { self.project = project }

    /// The faces with at least one polygon, with their labels' revision (as text).
    public func labelRevisions() throws -> [Int64: String] {
        let ids = try project.labelledFaceIDs()
        return try project.maskLabelRevisions(faceIDs: ids).mapValues { String($0) }
    }

    /// The face's polygons filled (include) and cut (exclude) in order, scaled from the crop's `cropSize` pixels to
    /// `size`, 4x4 samples per pixel.
    public func labelMask(faceID: Int64, cropSize: Int, size: Int) throws -> Image {
        let polygons = try project.maskPolygons(faceIDs: [faceID])[faceID] ?? []
        let k = Double(size) / Double(cropSize)
        let scaled = polygons.map { $0.transformed(by: Affine2D(a: k, b: 0, tx: 0, c: 0, d: k, ty: 0)) }
        return Image(width: size, height: size, channels: 1,
                     pixels: MaskPolygon.rasterize(scaled, width: size, height: size))
    }
}
