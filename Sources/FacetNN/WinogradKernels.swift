/// Unrolled SIMD8 kernels of the Winograd F(2x2, 3x3) transforms (generated from the
/// transform matrices; each handles 8 channels of one tile).

typealias V8 = SIMD8<Float>

@inline(__always) func load8(_ p: UnsafePointer<Float>) -> V8 { UnsafeRawPointer(p).loadUnaligned(as: V8.self) }

extension SIMD8 where Scalar == Float {
    @inline(__always) func store(_ p: UnsafeMutablePointer<Float>) { UnsafeMutableRawPointer(p).storeBytes(of: self, as: V8.self) }
}

/// V = B^T d B: a 4x4 input tile to the Winograd domain.
@inline(__always)
func winogradInputKernel(_ s: UnsafePointer<UnsafePointer<Float>>, _ d: UnsafePointer<UnsafeMutablePointer<Float>>, _ c: Int, _ post: (V8, Int) -> V8) {
    let i00 = load8(s[0] + c), i01 = load8(s[1] + c), i02 = load8(s[2] + c), i03 = load8(s[3] + c)
    let i10 = load8(s[4] + c), i11 = load8(s[5] + c), i12 = load8(s[6] + c), i13 = load8(s[7] + c)
    let i20 = load8(s[8] + c), i21 = load8(s[9] + c), i22 = load8(s[10] + c), i23 = load8(s[11] + c)
    let i30 = load8(s[12] + c), i31 = load8(s[13] + c), i32 = load8(s[14] + c), i33 = load8(s[15] + c)
    let t00 = i00 - i20
    let t01 = i01 - i21
    let t02 = i02 - i22
    let t03 = i03 - i23
    let t10 = i10 + i20
    let t11 = i11 + i21
    let t12 = i12 + i22
    let t13 = i13 + i23
    let t20 = -i10 + i20
    let t21 = -i11 + i21
    let t22 = -i12 + i22
    let t23 = -i13 + i23
    let t30 = i10 - i30
    let t31 = i11 - i31
    let t32 = i12 - i32
    let t33 = i13 - i33
    post(t00 - t02, 0).store(d[0] + c)
    post(t01 + t02, 1).store(d[1] + c)
    post(-t01 + t02, 2).store(d[2] + c)
    post(t01 - t03, 3).store(d[3] + c)
    post(t10 - t12, 4).store(d[4] + c)
    post(t11 + t12, 5).store(d[5] + c)
    post(-t11 + t12, 6).store(d[6] + c)
    post(t11 - t13, 7).store(d[7] + c)
    post(t20 - t22, 8).store(d[8] + c)
    post(t21 + t22, 9).store(d[9] + c)
    post(-t21 + t22, 10).store(d[10] + c)
    post(t21 - t23, 11).store(d[11] + c)
    post(t30 - t32, 12).store(d[12] + c)
    post(t31 + t32, 13).store(d[13] + c)
    post(-t31 + t32, 14).store(d[14] + c)
    post(t31 - t33, 15).store(d[15] + c)
}

/// Y = A^T M A: a 4x4 product tile back to a 2x2 output tile.
@inline(__always)
func winogradOutputKernel(_ s: UnsafePointer<UnsafePointer<Float>>, _ d: UnsafePointer<UnsafeMutablePointer<Float>>, _ c: Int, _ post: (V8, Int) -> V8) {
    let i00 = load8(s[0] + c), i01 = load8(s[1] + c), i02 = load8(s[2] + c), i03 = load8(s[3] + c)
    let i10 = load8(s[4] + c), i11 = load8(s[5] + c), i12 = load8(s[6] + c), i13 = load8(s[7] + c)
    let i20 = load8(s[8] + c), i21 = load8(s[9] + c), i22 = load8(s[10] + c), i23 = load8(s[11] + c)
    let i30 = load8(s[12] + c), i31 = load8(s[13] + c), i32 = load8(s[14] + c), i33 = load8(s[15] + c)
    let t00 = i00 + i10 + i20
    let t01 = i01 + i11 + i21
    let t02 = i02 + i12 + i22
    let t03 = i03 + i13 + i23
    let t10 = i10 - i20 - i30
    let t11 = i11 - i21 - i31
    let t12 = i12 - i22 - i32
    let t13 = i13 - i23 - i33
    post(t00 + t01 + t02, 0).store(d[0] + c)
    post(t01 - t02 - t03, 1).store(d[1] + c)
    post(t10 + t11 + t12, 2).store(d[2] + c)
    post(t11 - t12 - t13, 3).store(d[3] + c)
}

/// dM = A dY A^T: the adjoint of the output transform.
@inline(__always)
func winogradOutputGradientKernel(_ s: UnsafePointer<UnsafePointer<Float>>, _ d: UnsafePointer<UnsafeMutablePointer<Float>>, _ c: Int, _ post: (V8, Int) -> V8) {
    let i00 = load8(s[0] + c), i01 = load8(s[1] + c)
    let i10 = load8(s[2] + c), i11 = load8(s[3] + c)
    let t00 = i00
    let t01 = i01
    let t10 = i00 + i10
    let t11 = i01 + i11
    let t20 = i00 - i10
    let t21 = i01 - i11
    let t30 = -i10
    let t31 = -i11
    post(t00, 0).store(d[0] + c)
    post(t00 + t01, 1).store(d[1] + c)
    post(t00 - t01, 2).store(d[2] + c)
    post(-t01, 3).store(d[3] + c)
    post(t10, 4).store(d[4] + c)
    post(t10 + t11, 5).store(d[5] + c)
    post(t10 - t11, 6).store(d[6] + c)
    post(-t11, 7).store(d[7] + c)
    post(t20, 8).store(d[8] + c)
    post(t20 + t21, 9).store(d[9] + c)
    post(t20 - t21, 10).store(d[10] + c)
    post(-t21, 11).store(d[11] + c)
    post(t30, 12).store(d[12] + c)
    post(t30 + t31, 13).store(d[13] + c)
    post(t30 - t31, 14).store(d[14] + c)
    post(-t31, 15).store(d[15] + c)
}

/// dd = B dV B^T: the adjoint of the input transform.
@inline(__always)
func winogradInputGradientKernel(_ s: UnsafePointer<UnsafePointer<Float>>, _ d: UnsafePointer<UnsafeMutablePointer<Float>>, _ c: Int, _ post: (V8, Int) -> V8) {
    let i00 = load8(s[0] + c), i01 = load8(s[1] + c), i02 = load8(s[2] + c), i03 = load8(s[3] + c)
    let i10 = load8(s[4] + c), i11 = load8(s[5] + c), i12 = load8(s[6] + c), i13 = load8(s[7] + c)
    let i20 = load8(s[8] + c), i21 = load8(s[9] + c), i22 = load8(s[10] + c), i23 = load8(s[11] + c)
    let i30 = load8(s[12] + c), i31 = load8(s[13] + c), i32 = load8(s[14] + c), i33 = load8(s[15] + c)
    let t00 = i00
    let t01 = i01
    let t02 = i02
    let t03 = i03
    let t10 = i10 - i20 + i30
    let t11 = i11 - i21 + i31
    let t12 = i12 - i22 + i32
    let t13 = i13 - i23 + i33
    let t20 = -i00 + i10 + i20
    let t21 = -i01 + i11 + i21
    let t22 = -i02 + i12 + i22
    let t23 = -i03 + i13 + i23
    let t30 = -i30
    let t31 = -i31
    let t32 = -i32
    let t33 = -i33
    post(t00, 0).store(d[0] + c)
    post(t01 - t02 + t03, 1).store(d[1] + c)
    post(-t00 + t01 + t02, 2).store(d[2] + c)
    post(-t03, 3).store(d[3] + c)
    post(t10, 4).store(d[4] + c)
    post(t11 - t12 + t13, 5).store(d[5] + c)
    post(-t10 + t11 + t12, 6).store(d[6] + c)
    post(-t13, 7).store(d[7] + c)
    post(t20, 8).store(d[8] + c)
    post(t21 - t22 + t23, 9).store(d[9] + c)
    post(-t20 + t21 + t22, 10).store(d[10] + c)
    post(-t23, 11).store(d[11] + c)
    post(t30, 12).store(d[12] + c)
    post(t31 - t32 + t33, 13).store(d[13] + c)
    post(-t30 + t31 + t32, 14).store(d[14] + c)
    post(-t33, 15).store(d[15] + c)
}

/// U = G w G^T: a 3x3 kernel to the Winograd domain.
@inline(__always)
func winogradWeightKernel(_ s: UnsafePointer<UnsafePointer<Float>>, _ d: UnsafePointer<UnsafeMutablePointer<Float>>, _ c: Int, _ post: (V8, Int) -> V8) {
    let i00 = load8(s[0] + c), i01 = load8(s[1] + c), i02 = load8(s[2] + c)
    let i10 = load8(s[3] + c), i11 = load8(s[4] + c), i12 = load8(s[5] + c)
    let i20 = load8(s[6] + c), i21 = load8(s[7] + c), i22 = load8(s[8] + c)
    let t00 = i00
    let t01 = i01
    let t02 = i02
    let t10 = 0.5 * i00 + 0.5 * i10 + 0.5 * i20
    let t11 = 0.5 * i01 + 0.5 * i11 + 0.5 * i21
    let t12 = 0.5 * i02 + 0.5 * i12 + 0.5 * i22
    let t20 = 0.5 * i00 - 0.5 * i10 + 0.5 * i20
    let t21 = 0.5 * i01 - 0.5 * i11 + 0.5 * i21
    let t22 = 0.5 * i02 - 0.5 * i12 + 0.5 * i22
    let t30 = i20
    let t31 = i21
    let t32 = i22
    post(t00, 0).store(d[0] + c)
    post(0.5 * t00 + 0.5 * t01 + 0.5 * t02, 1).store(d[1] + c)
    post(0.5 * t00 - 0.5 * t01 + 0.5 * t02, 2).store(d[2] + c)
    post(t02, 3).store(d[3] + c)
    post(t10, 4).store(d[4] + c)
    post(0.5 * t10 + 0.5 * t11 + 0.5 * t12, 5).store(d[5] + c)
    post(0.5 * t10 - 0.5 * t11 + 0.5 * t12, 6).store(d[6] + c)
    post(t12, 7).store(d[7] + c)
    post(t20, 8).store(d[8] + c)
    post(0.5 * t20 + 0.5 * t21 + 0.5 * t22, 9).store(d[9] + c)
    post(0.5 * t20 - 0.5 * t21 + 0.5 * t22, 10).store(d[10] + c)
    post(t22, 11).store(d[11] + c)
    post(t30, 12).store(d[12] + c)
    post(0.5 * t30 + 0.5 * t31 + 0.5 * t32, 13).store(d[13] + c)
    post(0.5 * t30 - 0.5 * t31 + 0.5 * t32, 14).store(d[14] + c)
    post(t32, 15).store(d[15] + c)
}

/// dw = G^T dU G: the adjoint of the weight transform.
@inline(__always)
func winogradWeightGradientKernel(_ s: UnsafePointer<UnsafePointer<Float>>, _ d: UnsafePointer<UnsafeMutablePointer<Float>>, _ c: Int, _ post: (V8, Int) -> V8) {
    let i00 = load8(s[0] + c), i01 = load8(s[1] + c), i02 = load8(s[2] + c), i03 = load8(s[3] + c)
    let i10 = load8(s[4] + c), i11 = load8(s[5] + c), i12 = load8(s[6] + c), i13 = load8(s[7] + c)
    let i20 = load8(s[8] + c), i21 = load8(s[9] + c), i22 = load8(s[10] + c), i23 = load8(s[11] + c)
    let i30 = load8(s[12] + c), i31 = load8(s[13] + c), i32 = load8(s[14] + c), i33 = load8(s[15] + c)
    let t00 = i00 + 0.5 * i10 + 0.5 * i20
    let t01 = i01 + 0.5 * i11 + 0.5 * i21
    let t02 = i02 + 0.5 * i12 + 0.5 * i22
    let t03 = i03 + 0.5 * i13 + 0.5 * i23
    let t10 = 0.5 * i10 - 0.5 * i20
    let t11 = 0.5 * i11 - 0.5 * i21
    let t12 = 0.5 * i12 - 0.5 * i22
    let t13 = 0.5 * i13 - 0.5 * i23
    let t20 = 0.5 * i10 + 0.5 * i20 + i30
    let t21 = 0.5 * i11 + 0.5 * i21 + i31
    let t22 = 0.5 * i12 + 0.5 * i22 + i32
    let t23 = 0.5 * i13 + 0.5 * i23 + i33
    post(t00 + 0.5 * t01 + 0.5 * t02, 0).store(d[0] + c)
    post(0.5 * t01 - 0.5 * t02, 1).store(d[1] + c)
    post(0.5 * t01 + 0.5 * t02 + t03, 2).store(d[2] + c)
    post(t10 + 0.5 * t11 + 0.5 * t12, 3).store(d[3] + c)
    post(0.5 * t11 - 0.5 * t12, 4).store(d[4] + c)
    post(0.5 * t11 + 0.5 * t12 + t13, 5).store(d[5] + c)
    post(t20 + 0.5 * t21 + 0.5 * t22, 6).store(d[6] + c)
    post(0.5 * t21 - 0.5 * t22, 7).store(d[7] + c)
    post(0.5 * t21 + 0.5 * t22 + t23, 8).store(d[8] + c)
}
