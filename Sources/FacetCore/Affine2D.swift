/// 2x3 affine transforms: the image-to-face matrices of aligned crops.

/// A point in image or face coordinates.
public struct Point2: Sendable, Equatable, Codable {
    /// Horizontal coordinate, pixels to the right.
    public var x: Double
    /// Vertical coordinate, pixels down.
    public var y: Double
    /// The point (x, y).
    public init(_ x: Double, _ y: Double) { self.x = x; self.y = y }
}

/// `[a b tx; c d ty]`: maps (x, y) to (a x + b y + tx, c x + d y + ty).
public struct Affine2D: Sendable, Equatable, Codable {
    /// First row: x' = a x + b y + tx.
    public var a: Double, b: Double, tx: Double
    /// Second row: y' = c x + d y + ty.
    public var c: Double, d: Double, ty: Double

    /// The transform with these six coefficients.
    public init(a: Double, b: Double, tx: Double, c: Double, d: Double, ty: Double) {
        self.a = a; self.b = b; self.tx = tx; self.c = c; self.d = d; self.ty = ty
    }

    /// Row-major `[a, b, tx, c, d, ty]`.
    public init(_ m: [Double]) {
        precondition(m.count == 6, "an affine matrix has 6 values")
        self.init(a: m[0], b: m[1], tx: m[2], c: m[3], d: m[4], ty: m[5])
    }

    /// The transform that leaves every point where it is.
    public static let identity = Affine2D(a: 1, b: 0, tx: 0, c: 0, d: 1, ty: 0)

    /// Row-major `[a, b, tx, c, d, ty]`.
    public var values: [Double] { [a, b, tx, c, d, ty] }

    /// Where the transform maps `p`.
    @inlinable public func apply(_ p: Point2) -> Point2 {
        Point2(a * p.x + b * p.y + tx, c * p.x + d * p.y + ty)
    }

    /// How the transform scales areas (negative when it mirrors); zero when it is singular.
    public var determinant: Double { a * d - b * c }

    /// The inverse transform; nil when the matrix is singular.
    public var inverted: Affine2D? {
        let det = determinant
        guard abs(det) > 1e-12 else { return nil }
        let ia = d / det, ib = -b / det, ic = -c / det, id = a / det
        return Affine2D(a: ia, b: ib, tx: -(ia * tx + ib * ty), c: ic, d: id, ty: -(ic * tx + id * ty))
    }

    /// `self` after `other`: first `other`, then `self`.
    public func concatenating(_ other: Affine2D) -> Affine2D {
        Affine2D(a: a * other.a + b * other.c, b: a * other.b + b * other.d, tx: a * other.tx + b * other.ty + tx,
                 c: c * other.a + d * other.c, d: c * other.b + d * other.d, ty: c * other.tx + d * other.ty + ty)
    }

    /// Uniform scale factor of a similarity transform (sqrt of |det|).
    public var scale: Double { abs(determinant).squareRoot() }
}
