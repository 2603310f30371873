/// Unrolled SIMD8 kernels of the Winograd F(2x2, 3x3) and F(4x4, 3x3) transforms, generated
/// from the transform matrices (Lavin & Gray 2015); each handles 8 channels of one tile.

typealias V8 = SIMD8<Float>

@inline(__always) func load8(_ p: UnsafePointer<Float>) -> V8 { UnsafeRawPointer(p).loadUnaligned(as: V8.self) }

extension SIMD8 where Scalar == Float {
    @inline(__always) func store(_ p: UnsafeMutablePointer<Float>) { UnsafeMutableRawPointer(p).storeBytes(of: self, as: V8.self) }
}

/// F(2x2, 3x3) V = B^T d B: a 4x4 input tile to the Winograd domain.
@inline(__always)
func winogradInputKernel2(_ s: UnsafePointer<UnsafePointer<Float>>, _ d: UnsafePointer<UnsafeMutablePointer<Float>>, _ c: Int, _ post: (V8, Int) -> V8) {
    let i00 = load8(s[0] + c), i01 = load8(s[1] + c), i02 = load8(s[2] + c), i03 = load8(s[3] + c)
    let i10 = load8(s[4] + c), i11 = load8(s[5] + c), i12 = load8(s[6] + c), i13 = load8(s[7] + c)
    let i20 = load8(s[8] + c), i21 = load8(s[9] + c), i22 = load8(s[10] + c), i23 = load8(s[11] + c)
    let i30 = load8(s[12] + c), i31 = load8(s[13] + c), i32 = load8(s[14] + c), i33 = load8(s[15] + c)
    let t00: V8 = i00 - i20
    let t01: V8 = i01 - i21
    let t02: V8 = i02 - i22
    let t03: V8 = i03 - i23
    let t10: V8 = i10 + i20
    let t11: V8 = i11 + i21
    let t12: V8 = i12 + i22
    let t13: V8 = i13 + i23
    let t20: V8 = -i10 + i20
    let t21: V8 = -i11 + i21
    let t22: V8 = -i12 + i22
    let t23: V8 = -i13 + i23
    let t30: V8 = i10 - i30
    let t31: V8 = i11 - i31
    let t32: V8 = i12 - i32
    let t33: V8 = i13 - i33
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

/// F(2x2, 3x3) Y = A^T M A: a 4x4 product tile back to a 2x2 output tile.
@inline(__always)
func winogradOutputKernel2(_ s: UnsafePointer<UnsafePointer<Float>>, _ d: UnsafePointer<UnsafeMutablePointer<Float>>, _ c: Int, _ post: (V8, Int) -> V8) {
    let i00 = load8(s[0] + c), i01 = load8(s[1] + c), i02 = load8(s[2] + c), i03 = load8(s[3] + c)
    let i10 = load8(s[4] + c), i11 = load8(s[5] + c), i12 = load8(s[6] + c), i13 = load8(s[7] + c)
    let i20 = load8(s[8] + c), i21 = load8(s[9] + c), i22 = load8(s[10] + c), i23 = load8(s[11] + c)
    let i30 = load8(s[12] + c), i31 = load8(s[13] + c), i32 = load8(s[14] + c), i33 = load8(s[15] + c)
    let t00: V8 = i00 + i10 + i20
    let t01: V8 = i01 + i11 + i21
    let t02: V8 = i02 + i12 + i22
    let t03: V8 = i03 + i13 + i23
    let t10: V8 = i10 - i20 - i30
    let t11: V8 = i11 - i21 - i31
    let t12: V8 = i12 - i22 - i32
    let t13: V8 = i13 - i23 - i33
    post(t00 + t01 + t02, 0).store(d[0] + c)
    post(t01 - t02 - t03, 1).store(d[1] + c)
    post(t10 + t11 + t12, 2).store(d[2] + c)
    post(t11 - t12 - t13, 3).store(d[3] + c)
}

/// F(2x2, 3x3) dM = A dY A^T: the adjoint of the output transform.
@inline(__always)
func winogradOutputGradientKernel2(_ s: UnsafePointer<UnsafePointer<Float>>, _ d: UnsafePointer<UnsafeMutablePointer<Float>>, _ c: Int, _ post: (V8, Int) -> V8) {
    let i00 = load8(s[0] + c), i01 = load8(s[1] + c)
    let i10 = load8(s[2] + c), i11 = load8(s[3] + c)
    let t00: V8 = i00
    let t01: V8 = i01
    let t10: V8 = i00 + i10
    let t11: V8 = i01 + i11
    let t20: V8 = i00 - i10
    let t21: V8 = i01 - i11
    let t30: V8 = -i10
    let t31: V8 = -i11
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

/// F(2x2, 3x3) dd = B dV B^T: the adjoint of the input transform.
@inline(__always)
func winogradInputGradientKernel2(_ s: UnsafePointer<UnsafePointer<Float>>, _ d: UnsafePointer<UnsafeMutablePointer<Float>>, _ c: Int, _ post: (V8, Int) -> V8) {
    let i00 = load8(s[0] + c), i01 = load8(s[1] + c), i02 = load8(s[2] + c), i03 = load8(s[3] + c)
    let i10 = load8(s[4] + c), i11 = load8(s[5] + c), i12 = load8(s[6] + c), i13 = load8(s[7] + c)
    let i20 = load8(s[8] + c), i21 = load8(s[9] + c), i22 = load8(s[10] + c), i23 = load8(s[11] + c)
    let i30 = load8(s[12] + c), i31 = load8(s[13] + c), i32 = load8(s[14] + c), i33 = load8(s[15] + c)
    let t00: V8 = i00
    let t01: V8 = i01
    let t02: V8 = i02
    let t03: V8 = i03
    let t10: V8 = i10 - i20 + i30
    let t11: V8 = i11 - i21 + i31
    let t12: V8 = i12 - i22 + i32
    let t13: V8 = i13 - i23 + i33
    let t20: V8 = -i00 + i10 + i20
    let t21: V8 = -i01 + i11 + i21
    let t22: V8 = -i02 + i12 + i22
    let t23: V8 = -i03 + i13 + i23
    let t30: V8 = -i30
    let t31: V8 = -i31
    let t32: V8 = -i32
    let t33: V8 = -i33
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

/// F(2x2, 3x3) U = G w G^T: a 3x3 kernel to the Winograd domain.
@inline(__always)
func winogradWeightKernel2(_ s: UnsafePointer<UnsafePointer<Float>>, _ d: UnsafePointer<UnsafeMutablePointer<Float>>, _ c: Int, _ post: (V8, Int) -> V8) {
    let i00 = load8(s[0] + c), i01 = load8(s[1] + c), i02 = load8(s[2] + c)
    let i10 = load8(s[3] + c), i11 = load8(s[4] + c), i12 = load8(s[5] + c)
    let i20 = load8(s[6] + c), i21 = load8(s[7] + c), i22 = load8(s[8] + c)
    let t00: V8 = i00
    let t01: V8 = i01
    let t02: V8 = i02
    let t10: V8 = 0.5 * i00 + 0.5 * i10 + 0.5 * i20
    let t11: V8 = 0.5 * i01 + 0.5 * i11 + 0.5 * i21
    let t12: V8 = 0.5 * i02 + 0.5 * i12 + 0.5 * i22
    let t20: V8 = 0.5 * i00 - 0.5 * i10 + 0.5 * i20
    let t21: V8 = 0.5 * i01 - 0.5 * i11 + 0.5 * i21
    let t22: V8 = 0.5 * i02 - 0.5 * i12 + 0.5 * i22
    let t30: V8 = i20
    let t31: V8 = i21
    let t32: V8 = i22
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

/// F(2x2, 3x3) dw = G^T dU G: the adjoint of the weight transform.
@inline(__always)
func winogradWeightGradientKernel2(_ s: UnsafePointer<UnsafePointer<Float>>, _ d: UnsafePointer<UnsafeMutablePointer<Float>>, _ c: Int, _ post: (V8, Int) -> V8) {
    let i00 = load8(s[0] + c), i01 = load8(s[1] + c), i02 = load8(s[2] + c), i03 = load8(s[3] + c)
    let i10 = load8(s[4] + c), i11 = load8(s[5] + c), i12 = load8(s[6] + c), i13 = load8(s[7] + c)
    let i20 = load8(s[8] + c), i21 = load8(s[9] + c), i22 = load8(s[10] + c), i23 = load8(s[11] + c)
    let i30 = load8(s[12] + c), i31 = load8(s[13] + c), i32 = load8(s[14] + c), i33 = load8(s[15] + c)
    let t00: V8 = i00 + 0.5 * i10 + 0.5 * i20
    let t01: V8 = i01 + 0.5 * i11 + 0.5 * i21
    let t02: V8 = i02 + 0.5 * i12 + 0.5 * i22
    let t03: V8 = i03 + 0.5 * i13 + 0.5 * i23
    let t10: V8 = 0.5 * i10 - 0.5 * i20
    let t11: V8 = 0.5 * i11 - 0.5 * i21
    let t12: V8 = 0.5 * i12 - 0.5 * i22
    let t13: V8 = 0.5 * i13 - 0.5 * i23
    let t20: V8 = 0.5 * i10 + 0.5 * i20 + i30
    let t21: V8 = 0.5 * i11 + 0.5 * i21 + i31
    let t22: V8 = 0.5 * i12 + 0.5 * i22 + i32
    let t23: V8 = 0.5 * i13 + 0.5 * i23 + i33
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

/// F(4x4, 3x3) V = B^T d B: a 6x6 input tile to the Winograd domain.
@inline(__always)
func winogradInputKernel4(_ s: UnsafePointer<UnsafePointer<Float>>, _ d: UnsafePointer<UnsafeMutablePointer<Float>>, _ c: Int, _ post: (V8, Int) -> V8) {
    let i00 = load8(s[0] + c), i01 = load8(s[1] + c), i02 = load8(s[2] + c), i03 = load8(s[3] + c), i04 = load8(s[4] + c), i05 = load8(s[5] + c)
    let i10 = load8(s[6] + c), i11 = load8(s[7] + c), i12 = load8(s[8] + c), i13 = load8(s[9] + c), i14 = load8(s[10] + c), i15 = load8(s[11] + c)
    let i20 = load8(s[12] + c), i21 = load8(s[13] + c), i22 = load8(s[14] + c), i23 = load8(s[15] + c), i24 = load8(s[16] + c), i25 = load8(s[17] + c)
    let i30 = load8(s[18] + c), i31 = load8(s[19] + c), i32 = load8(s[20] + c), i33 = load8(s[21] + c), i34 = load8(s[22] + c), i35 = load8(s[23] + c)
    let i40 = load8(s[24] + c), i41 = load8(s[25] + c), i42 = load8(s[26] + c), i43 = load8(s[27] + c), i44 = load8(s[28] + c), i45 = load8(s[29] + c)
    let i50 = load8(s[30] + c), i51 = load8(s[31] + c), i52 = load8(s[32] + c), i53 = load8(s[33] + c), i54 = load8(s[34] + c), i55 = load8(s[35] + c)
    let t00: V8 = 4.0 * i00 - 5.0 * i20 + i40
    let t01: V8 = 4.0 * i01 - 5.0 * i21 + i41
    let t02: V8 = 4.0 * i02 - 5.0 * i22 + i42
    let t03: V8 = 4.0 * i03 - 5.0 * i23 + i43
    let t04: V8 = 4.0 * i04 - 5.0 * i24 + i44
    let t05: V8 = 4.0 * i05 - 5.0 * i25 + i45
    let t10: V8 = -4.0 * i10 - 4.0 * i20 + i30 + i40
    let t11: V8 = -4.0 * i11 - 4.0 * i21 + i31 + i41
    let t12: V8 = -4.0 * i12 - 4.0 * i22 + i32 + i42
    let t13: V8 = -4.0 * i13 - 4.0 * i23 + i33 + i43
    let t14: V8 = -4.0 * i14 - 4.0 * i24 + i34 + i44
    let t15: V8 = -4.0 * i15 - 4.0 * i25 + i35 + i45
    let t20: V8 = 4.0 * i10 - 4.0 * i20 - i30 + i40
    let t21: V8 = 4.0 * i11 - 4.0 * i21 - i31 + i41
    let t22: V8 = 4.0 * i12 - 4.0 * i22 - i32 + i42
    let t23: V8 = 4.0 * i13 - 4.0 * i23 - i33 + i43
    let t24: V8 = 4.0 * i14 - 4.0 * i24 - i34 + i44
    let t25: V8 = 4.0 * i15 - 4.0 * i25 - i35 + i45
    let t30: V8 = -2.0 * i10 - i20 + 2.0 * i30 + i40
    let t31: V8 = -2.0 * i11 - i21 + 2.0 * i31 + i41
    let t32: V8 = -2.0 * i12 - i22 + 2.0 * i32 + i42
    let t33: V8 = -2.0 * i13 - i23 + 2.0 * i33 + i43
    let t34: V8 = -2.0 * i14 - i24 + 2.0 * i34 + i44
    let t35: V8 = -2.0 * i15 - i25 + 2.0 * i35 + i45
    let t40: V8 = 2.0 * i10 - i20 - 2.0 * i30 + i40
    let t41: V8 = 2.0 * i11 - i21 - 2.0 * i31 + i41
    let t42: V8 = 2.0 * i12 - i22 - 2.0 * i32 + i42
    let t43: V8 = 2.0 * i13 - i23 - 2.0 * i33 + i43
    let t44: V8 = 2.0 * i14 - i24 - 2.0 * i34 + i44
    let t45: V8 = 2.0 * i15 - i25 - 2.0 * i35 + i45
    let t50: V8 = 4.0 * i10 - 5.0 * i30 + i50
    let t51: V8 = 4.0 * i11 - 5.0 * i31 + i51
    let t52: V8 = 4.0 * i12 - 5.0 * i32 + i52
    let t53: V8 = 4.0 * i13 - 5.0 * i33 + i53
    let t54: V8 = 4.0 * i14 - 5.0 * i34 + i54
    let t55: V8 = 4.0 * i15 - 5.0 * i35 + i55
    post(4.0 * t00 - 5.0 * t02 + t04, 0).store(d[0] + c)
    post(-4.0 * t01 - 4.0 * t02 + t03 + t04, 1).store(d[1] + c)
    post(4.0 * t01 - 4.0 * t02 - t03 + t04, 2).store(d[2] + c)
    post(-2.0 * t01 - t02 + 2.0 * t03 + t04, 3).store(d[3] + c)
    post(2.0 * t01 - t02 - 2.0 * t03 + t04, 4).store(d[4] + c)
    post(4.0 * t01 - 5.0 * t03 + t05, 5).store(d[5] + c)
    post(4.0 * t10 - 5.0 * t12 + t14, 6).store(d[6] + c)
    post(-4.0 * t11 - 4.0 * t12 + t13 + t14, 7).store(d[7] + c)
    post(4.0 * t11 - 4.0 * t12 - t13 + t14, 8).store(d[8] + c)
    post(-2.0 * t11 - t12 + 2.0 * t13 + t14, 9).store(d[9] + c)
    post(2.0 * t11 - t12 - 2.0 * t13 + t14, 10).store(d[10] + c)
    post(4.0 * t11 - 5.0 * t13 + t15, 11).store(d[11] + c)
    post(4.0 * t20 - 5.0 * t22 + t24, 12).store(d[12] + c)
    post(-4.0 * t21 - 4.0 * t22 + t23 + t24, 13).store(d[13] + c)
    post(4.0 * t21 - 4.0 * t22 - t23 + t24, 14).store(d[14] + c)
    post(-2.0 * t21 - t22 + 2.0 * t23 + t24, 15).store(d[15] + c)
    post(2.0 * t21 - t22 - 2.0 * t23 + t24, 16).store(d[16] + c)
    post(4.0 * t21 - 5.0 * t23 + t25, 17).store(d[17] + c)
    post(4.0 * t30 - 5.0 * t32 + t34, 18).store(d[18] + c)
    post(-4.0 * t31 - 4.0 * t32 + t33 + t34, 19).store(d[19] + c)
    post(4.0 * t31 - 4.0 * t32 - t33 + t34, 20).store(d[20] + c)
    post(-2.0 * t31 - t32 + 2.0 * t33 + t34, 21).store(d[21] + c)
    post(2.0 * t31 - t32 - 2.0 * t33 + t34, 22).store(d[22] + c)
    post(4.0 * t31 - 5.0 * t33 + t35, 23).store(d[23] + c)
    post(4.0 * t40 - 5.0 * t42 + t44, 24).store(d[24] + c)
    post(-4.0 * t41 - 4.0 * t42 + t43 + t44, 25).store(d[25] + c)
    post(4.0 * t41 - 4.0 * t42 - t43 + t44, 26).store(d[26] + c)
    post(-2.0 * t41 - t42 + 2.0 * t43 + t44, 27).store(d[27] + c)
    post(2.0 * t41 - t42 - 2.0 * t43 + t44, 28).store(d[28] + c)
    post(4.0 * t41 - 5.0 * t43 + t45, 29).store(d[29] + c)
    post(4.0 * t50 - 5.0 * t52 + t54, 30).store(d[30] + c)
    post(-4.0 * t51 - 4.0 * t52 + t53 + t54, 31).store(d[31] + c)
    post(4.0 * t51 - 4.0 * t52 - t53 + t54, 32).store(d[32] + c)
    post(-2.0 * t51 - t52 + 2.0 * t53 + t54, 33).store(d[33] + c)
    post(2.0 * t51 - t52 - 2.0 * t53 + t54, 34).store(d[34] + c)
    post(4.0 * t51 - 5.0 * t53 + t55, 35).store(d[35] + c)
}

/// F(4x4, 3x3) Y = A^T M A: a 6x6 product tile back to a 4x4 output tile.
@inline(__always)
func winogradOutputKernel4(_ s: UnsafePointer<UnsafePointer<Float>>, _ d: UnsafePointer<UnsafeMutablePointer<Float>>, _ c: Int, _ post: (V8, Int) -> V8) {
    let i00 = load8(s[0] + c), i01 = load8(s[1] + c), i02 = load8(s[2] + c), i03 = load8(s[3] + c), i04 = load8(s[4] + c), i05 = load8(s[5] + c)
    let i10 = load8(s[6] + c), i11 = load8(s[7] + c), i12 = load8(s[8] + c), i13 = load8(s[9] + c), i14 = load8(s[10] + c), i15 = load8(s[11] + c)
    let i20 = load8(s[12] + c), i21 = load8(s[13] + c), i22 = load8(s[14] + c), i23 = load8(s[15] + c), i24 = load8(s[16] + c), i25 = load8(s[17] + c)
    let i30 = load8(s[18] + c), i31 = load8(s[19] + c), i32 = load8(s[20] + c), i33 = load8(s[21] + c), i34 = load8(s[22] + c), i35 = load8(s[23] + c)
    let i40 = load8(s[24] + c), i41 = load8(s[25] + c), i42 = load8(s[26] + c), i43 = load8(s[27] + c), i44 = load8(s[28] + c), i45 = load8(s[29] + c)
    let i50 = load8(s[30] + c), i51 = load8(s[31] + c), i52 = load8(s[32] + c), i53 = load8(s[33] + c), i54 = load8(s[34] + c), i55 = load8(s[35] + c)
    let t00: V8 = i00 + i10 + i20 + i30 + i40
    let t01: V8 = i01 + i11 + i21 + i31 + i41
    let t02: V8 = i02 + i12 + i22 + i32 + i42
    let t03: V8 = i03 + i13 + i23 + i33 + i43
    let t04: V8 = i04 + i14 + i24 + i34 + i44
    let t05: V8 = i05 + i15 + i25 + i35 + i45
    let t10: V8 = i10 - i20 + 2.0 * i30 - 2.0 * i40
    let t11: V8 = i11 - i21 + 2.0 * i31 - 2.0 * i41
    let t12: V8 = i12 - i22 + 2.0 * i32 - 2.0 * i42
    let t13: V8 = i13 - i23 + 2.0 * i33 - 2.0 * i43
    let t14: V8 = i14 - i24 + 2.0 * i34 - 2.0 * i44
    let t15: V8 = i15 - i25 + 2.0 * i35 - 2.0 * i45
    let t20: V8 = i10 + i20 + 4.0 * i30 + 4.0 * i40
    let t21: V8 = i11 + i21 + 4.0 * i31 + 4.0 * i41
    let t22: V8 = i12 + i22 + 4.0 * i32 + 4.0 * i42
    let t23: V8 = i13 + i23 + 4.0 * i33 + 4.0 * i43
    let t24: V8 = i14 + i24 + 4.0 * i34 + 4.0 * i44
    let t25: V8 = i15 + i25 + 4.0 * i35 + 4.0 * i45
    let t30: V8 = i10 - i20 + 8.0 * i30 - 8.0 * i40 + i50
    let t31: V8 = i11 - i21 + 8.0 * i31 - 8.0 * i41 + i51
    let t32: V8 = i12 - i22 + 8.0 * i32 - 8.0 * i42 + i52
    let t33: V8 = i13 - i23 + 8.0 * i33 - 8.0 * i43 + i53
    let t34: V8 = i14 - i24 + 8.0 * i34 - 8.0 * i44 + i54
    let t35: V8 = i15 - i25 + 8.0 * i35 - 8.0 * i45 + i55
    post(t00 + t01 + t02 + t03 + t04, 0).store(d[0] + c)
    post(t01 - t02 + 2.0 * t03 - 2.0 * t04, 1).store(d[1] + c)
    post(t01 + t02 + 4.0 * t03 + 4.0 * t04, 2).store(d[2] + c)
    post(t01 - t02 + 8.0 * t03 - 8.0 * t04 + t05, 3).store(d[3] + c)
    post(t10 + t11 + t12 + t13 + t14, 4).store(d[4] + c)
    post(t11 - t12 + 2.0 * t13 - 2.0 * t14, 5).store(d[5] + c)
    post(t11 + t12 + 4.0 * t13 + 4.0 * t14, 6).store(d[6] + c)
    post(t11 - t12 + 8.0 * t13 - 8.0 * t14 + t15, 7).store(d[7] + c)
    post(t20 + t21 + t22 + t23 + t24, 8).store(d[8] + c)
    post(t21 - t22 + 2.0 * t23 - 2.0 * t24, 9).store(d[9] + c)
    post(t21 + t22 + 4.0 * t23 + 4.0 * t24, 10).store(d[10] + c)
    post(t21 - t22 + 8.0 * t23 - 8.0 * t24 + t25, 11).store(d[11] + c)
    post(t30 + t31 + t32 + t33 + t34, 12).store(d[12] + c)
    post(t31 - t32 + 2.0 * t33 - 2.0 * t34, 13).store(d[13] + c)
    post(t31 + t32 + 4.0 * t33 + 4.0 * t34, 14).store(d[14] + c)
    post(t31 - t32 + 8.0 * t33 - 8.0 * t34 + t35, 15).store(d[15] + c)
}

/// F(4x4, 3x3) dM = A dY A^T: the adjoint of the output transform.
@inline(__always)
func winogradOutputGradientKernel4(_ s: UnsafePointer<UnsafePointer<Float>>, _ d: UnsafePointer<UnsafeMutablePointer<Float>>, _ c: Int, _ post: (V8, Int) -> V8) {
    let i00 = load8(s[0] + c), i01 = load8(s[1] + c), i02 = load8(s[2] + c), i03 = load8(s[3] + c)
    let i10 = load8(s[4] + c), i11 = load8(s[5] + c), i12 = load8(s[6] + c), i13 = load8(s[7] + c)
    let i20 = load8(s[8] + c), i21 = load8(s[9] + c), i22 = load8(s[10] + c), i23 = load8(s[11] + c)
    let i30 = load8(s[12] + c), i31 = load8(s[13] + c), i32 = load8(s[14] + c), i33 = load8(s[15] + c)
    let t00: V8 = i00
    let t01: V8 = i01
    let t02: V8 = i02
    let t03: V8 = i03
    let t10: V8 = i00 + i10 + i20 + i30
    let t11: V8 = i01 + i11 + i21 + i31
    let t12: V8 = i02 + i12 + i22 + i32
    let t13: V8 = i03 + i13 + i23 + i33
    let t20: V8 = i00 - i10 + i20 - i30
    let t21: V8 = i01 - i11 + i21 - i31
    let t22: V8 = i02 - i12 + i22 - i32
    let t23: V8 = i03 - i13 + i23 - i33
    let t30: V8 = i00 + 2.0 * i10 + 4.0 * i20 + 8.0 * i30
    let t31: V8 = i01 + 2.0 * i11 + 4.0 * i21 + 8.0 * i31
    let t32: V8 = i02 + 2.0 * i12 + 4.0 * i22 + 8.0 * i32
    let t33: V8 = i03 + 2.0 * i13 + 4.0 * i23 + 8.0 * i33
    let t40: V8 = i00 - 2.0 * i10 + 4.0 * i20 - 8.0 * i30
    let t41: V8 = i01 - 2.0 * i11 + 4.0 * i21 - 8.0 * i31
    let t42: V8 = i02 - 2.0 * i12 + 4.0 * i22 - 8.0 * i32
    let t43: V8 = i03 - 2.0 * i13 + 4.0 * i23 - 8.0 * i33
    let t50: V8 = i30
    let t51: V8 = i31
    let t52: V8 = i32
    let t53: V8 = i33
    post(t00, 0).store(d[0] + c)
    post(t00 + t01 + t02 + t03, 1).store(d[1] + c)
    post(t00 - t01 + t02 - t03, 2).store(d[2] + c)
    post(t00 + 2.0 * t01 + 4.0 * t02 + 8.0 * t03, 3).store(d[3] + c)
    post(t00 - 2.0 * t01 + 4.0 * t02 - 8.0 * t03, 4).store(d[4] + c)
    post(t03, 5).store(d[5] + c)
    post(t10, 6).store(d[6] + c)
    post(t10 + t11 + t12 + t13, 7).store(d[7] + c)
    post(t10 - t11 + t12 - t13, 8).store(d[8] + c)
    post(t10 + 2.0 * t11 + 4.0 * t12 + 8.0 * t13, 9).store(d[9] + c)
    post(t10 - 2.0 * t11 + 4.0 * t12 - 8.0 * t13, 10).store(d[10] + c)
    post(t13, 11).store(d[11] + c)
    post(t20, 12).store(d[12] + c)
    post(t20 + t21 + t22 + t23, 13).store(d[13] + c)
    post(t20 - t21 + t22 - t23, 14).store(d[14] + c)
    post(t20 + 2.0 * t21 + 4.0 * t22 + 8.0 * t23, 15).store(d[15] + c)
    post(t20 - 2.0 * t21 + 4.0 * t22 - 8.0 * t23, 16).store(d[16] + c)
    post(t23, 17).store(d[17] + c)
    post(t30, 18).store(d[18] + c)
    post(t30 + t31 + t32 + t33, 19).store(d[19] + c)
    post(t30 - t31 + t32 - t33, 20).store(d[20] + c)
    post(t30 + 2.0 * t31 + 4.0 * t32 + 8.0 * t33, 21).store(d[21] + c)
    post(t30 - 2.0 * t31 + 4.0 * t32 - 8.0 * t33, 22).store(d[22] + c)
    post(t33, 23).store(d[23] + c)
    post(t40, 24).store(d[24] + c)
    post(t40 + t41 + t42 + t43, 25).store(d[25] + c)
    post(t40 - t41 + t42 - t43, 26).store(d[26] + c)
    post(t40 + 2.0 * t41 + 4.0 * t42 + 8.0 * t43, 27).store(d[27] + c)
    post(t40 - 2.0 * t41 + 4.0 * t42 - 8.0 * t43, 28).store(d[28] + c)
    post(t43, 29).store(d[29] + c)
    post(t50, 30).store(d[30] + c)
    post(t50 + t51 + t52 + t53, 31).store(d[31] + c)
    post(t50 - t51 + t52 - t53, 32).store(d[32] + c)
    post(t50 + 2.0 * t51 + 4.0 * t52 + 8.0 * t53, 33).store(d[33] + c)
    post(t50 - 2.0 * t51 + 4.0 * t52 - 8.0 * t53, 34).store(d[34] + c)
    post(t53, 35).store(d[35] + c)
}

/// F(4x4, 3x3) dd = B dV B^T: the adjoint of the input transform.
@inline(__always)
func winogradInputGradientKernel4(_ s: UnsafePointer<UnsafePointer<Float>>, _ d: UnsafePointer<UnsafeMutablePointer<Float>>, _ c: Int, _ post: (V8, Int) -> V8) {
    let i00 = load8(s[0] + c), i01 = load8(s[1] + c), i02 = load8(s[2] + c), i03 = load8(s[3] + c), i04 = load8(s[4] + c), i05 = load8(s[5] + c)
    let i10 = load8(s[6] + c), i11 = load8(s[7] + c), i12 = load8(s[8] + c), i13 = load8(s[9] + c), i14 = load8(s[10] + c), i15 = load8(s[11] + c)
    let i20 = load8(s[12] + c), i21 = load8(s[13] + c), i22 = load8(s[14] + c), i23 = load8(s[15] + c), i24 = load8(s[16] + c), i25 = load8(s[17] + c)
    let i30 = load8(s[18] + c), i31 = load8(s[19] + c), i32 = load8(s[20] + c), i33 = load8(s[21] + c), i34 = load8(s[22] + c), i35 = load8(s[23] + c)
    let i40 = load8(s[24] + c), i41 = load8(s[25] + c), i42 = load8(s[26] + c), i43 = load8(s[27] + c), i44 = load8(s[28] + c), i45 = load8(s[29] + c)
    let i50 = load8(s[30] + c), i51 = load8(s[31] + c), i52 = load8(s[32] + c), i53 = load8(s[33] + c), i54 = load8(s[34] + c), i55 = load8(s[35] + c)
    let t00: V8 = 4.0 * i00
    let t01: V8 = 4.0 * i01
    let t02: V8 = 4.0 * i02
    let t03: V8 = 4.0 * i03
    let t04: V8 = 4.0 * i04
    let t05: V8 = 4.0 * i05
    let t10: V8 = -4.0 * i10 + 4.0 * i20 - 2.0 * i30 + 2.0 * i40 + 4.0 * i50
    let t11: V8 = -4.0 * i11 + 4.0 * i21 - 2.0 * i31 + 2.0 * i41 + 4.0 * i51
    let t12: V8 = -4.0 * i12 + 4.0 * i22 - 2.0 * i32 + 2.0 * i42 + 4.0 * i52
    let t13: V8 = -4.0 * i13 + 4.0 * i23 - 2.0 * i33 + 2.0 * i43 + 4.0 * i53
    let t14: V8 = -4.0 * i14 + 4.0 * i24 - 2.0 * i34 + 2.0 * i44 + 4.0 * i54
    let t15: V8 = -4.0 * i15 + 4.0 * i25 - 2.0 * i35 + 2.0 * i45 + 4.0 * i55
    let t20: V8 = -5.0 * i00 - 4.0 * i10 - 4.0 * i20 - i30 - i40
    let t21: V8 = -5.0 * i01 - 4.0 * i11 - 4.0 * i21 - i31 - i41
    let t22: V8 = -5.0 * i02 - 4.0 * i12 - 4.0 * i22 - i32 - i42
    let t23: V8 = -5.0 * i03 - 4.0 * i13 - 4.0 * i23 - i33 - i43
    let t24: V8 = -5.0 * i04 - 4.0 * i14 - 4.0 * i24 - i34 - i44
    let t25: V8 = -5.0 * i05 - 4.0 * i15 - 4.0 * i25 - i35 - i45
    let t30: V8 = i10 - i20 + 2.0 * i30 - 2.0 * i40 - 5.0 * i50
    let t31: V8 = i11 - i21 + 2.0 * i31 - 2.0 * i41 - 5.0 * i51
    let t32: V8 = i12 - i22 + 2.0 * i32 - 2.0 * i42 - 5.0 * i52
    let t33: V8 = i13 - i23 + 2.0 * i33 - 2.0 * i43 - 5.0 * i53
    let t34: V8 = i14 - i24 + 2.0 * i34 - 2.0 * i44 - 5.0 * i54
    let t35: V8 = i15 - i25 + 2.0 * i35 - 2.0 * i45 - 5.0 * i55
    let t40: V8 = i00 + i10 + i20 + i30 + i40
    let t41: V8 = i01 + i11 + i21 + i31 + i41
    let t42: V8 = i02 + i12 + i22 + i32 + i42
    let t43: V8 = i03 + i13 + i23 + i33 + i43
    let t44: V8 = i04 + i14 + i24 + i34 + i44
    let t45: V8 = i05 + i15 + i25 + i35 + i45
    let t50: V8 = i50
    let t51: V8 = i51
    let t52: V8 = i52
    let t53: V8 = i53
    let t54: V8 = i54
    let t55: V8 = i55
    post(4.0 * t00, 0).store(d[0] + c)
    post(-4.0 * t01 + 4.0 * t02 - 2.0 * t03 + 2.0 * t04 + 4.0 * t05, 1).store(d[1] + c)
    post(-5.0 * t00 - 4.0 * t01 - 4.0 * t02 - t03 - t04, 2).store(d[2] + c)
    post(t01 - t02 + 2.0 * t03 - 2.0 * t04 - 5.0 * t05, 3).store(d[3] + c)
    post(t00 + t01 + t02 + t03 + t04, 4).store(d[4] + c)
    post(t05, 5).store(d[5] + c)
    post(4.0 * t10, 6).store(d[6] + c)
    post(-4.0 * t11 + 4.0 * t12 - 2.0 * t13 + 2.0 * t14 + 4.0 * t15, 7).store(d[7] + c)
    post(-5.0 * t10 - 4.0 * t11 - 4.0 * t12 - t13 - t14, 8).store(d[8] + c)
    post(t11 - t12 + 2.0 * t13 - 2.0 * t14 - 5.0 * t15, 9).store(d[9] + c)
    post(t10 + t11 + t12 + t13 + t14, 10).store(d[10] + c)
    post(t15, 11).store(d[11] + c)
    post(4.0 * t20, 12).store(d[12] + c)
    post(-4.0 * t21 + 4.0 * t22 - 2.0 * t23 + 2.0 * t24 + 4.0 * t25, 13).store(d[13] + c)
    post(-5.0 * t20 - 4.0 * t21 - 4.0 * t22 - t23 - t24, 14).store(d[14] + c)
    post(t21 - t22 + 2.0 * t23 - 2.0 * t24 - 5.0 * t25, 15).store(d[15] + c)
    post(t20 + t21 + t22 + t23 + t24, 16).store(d[16] + c)
    post(t25, 17).store(d[17] + c)
    post(4.0 * t30, 18).store(d[18] + c)
    post(-4.0 * t31 + 4.0 * t32 - 2.0 * t33 + 2.0 * t34 + 4.0 * t35, 19).store(d[19] + c)
    post(-5.0 * t30 - 4.0 * t31 - 4.0 * t32 - t33 - t34, 20).store(d[20] + c)
    post(t31 - t32 + 2.0 * t33 - 2.0 * t34 - 5.0 * t35, 21).store(d[21] + c)
    post(t30 + t31 + t32 + t33 + t34, 22).store(d[22] + c)
    post(t35, 23).store(d[23] + c)
    post(4.0 * t40, 24).store(d[24] + c)
    post(-4.0 * t41 + 4.0 * t42 - 2.0 * t43 + 2.0 * t44 + 4.0 * t45, 25).store(d[25] + c)
    post(-5.0 * t40 - 4.0 * t41 - 4.0 * t42 - t43 - t44, 26).store(d[26] + c)
    post(t41 - t42 + 2.0 * t43 - 2.0 * t44 - 5.0 * t45, 27).store(d[27] + c)
    post(t40 + t41 + t42 + t43 + t44, 28).store(d[28] + c)
    post(t45, 29).store(d[29] + c)
    post(4.0 * t50, 30).store(d[30] + c)
    post(-4.0 * t51 + 4.0 * t52 - 2.0 * t53 + 2.0 * t54 + 4.0 * t55, 31).store(d[31] + c)
    post(-5.0 * t50 - 4.0 * t51 - 4.0 * t52 - t53 - t54, 32).store(d[32] + c)
    post(t51 - t52 + 2.0 * t53 - 2.0 * t54 - 5.0 * t55, 33).store(d[33] + c)
    post(t50 + t51 + t52 + t53 + t54, 34).store(d[34] + c)
    post(t55, 35).store(d[35] + c)
}

/// F(4x4, 3x3) U = G w G^T: a 3x3 kernel to the Winograd domain.
@inline(__always)
func winogradWeightKernel4(_ s: UnsafePointer<UnsafePointer<Float>>, _ d: UnsafePointer<UnsafeMutablePointer<Float>>, _ c: Int, _ post: (V8, Int) -> V8) {
    let i00 = load8(s[0] + c), i01 = load8(s[1] + c), i02 = load8(s[2] + c)
    let i10 = load8(s[3] + c), i11 = load8(s[4] + c), i12 = load8(s[5] + c)
    let i20 = load8(s[6] + c), i21 = load8(s[7] + c), i22 = load8(s[8] + c)
    let t00: V8 = 0.25 * i00
    let t01: V8 = 0.25 * i01
    let t02: V8 = 0.25 * i02
    let t10: V8 = -0.16666666666666666 * i00 - 0.16666666666666666 * i10 - 0.16666666666666666 * i20
    let t11: V8 = -0.16666666666666666 * i01 - 0.16666666666666666 * i11 - 0.16666666666666666 * i21
    let t12: V8 = -0.16666666666666666 * i02 - 0.16666666666666666 * i12 - 0.16666666666666666 * i22
    let t20: V8 = -0.16666666666666666 * i00 + 0.16666666666666666 * i10 - 0.16666666666666666 * i20
    let t21: V8 = -0.16666666666666666 * i01 + 0.16666666666666666 * i11 - 0.16666666666666666 * i21
    let t22: V8 = -0.16666666666666666 * i02 + 0.16666666666666666 * i12 - 0.16666666666666666 * i22
    let t30: V8 = 0.041666666666666664 * i00 + 0.08333333333333333 * i10 + 0.16666666666666666 * i20
    let t31: V8 = 0.041666666666666664 * i01 + 0.08333333333333333 * i11 + 0.16666666666666666 * i21
    let t32: V8 = 0.041666666666666664 * i02 + 0.08333333333333333 * i12 + 0.16666666666666666 * i22
    let t40: V8 = 0.041666666666666664 * i00 - 0.08333333333333333 * i10 + 0.16666666666666666 * i20
    let t41: V8 = 0.041666666666666664 * i01 - 0.08333333333333333 * i11 + 0.16666666666666666 * i21
    let t42: V8 = 0.041666666666666664 * i02 - 0.08333333333333333 * i12 + 0.16666666666666666 * i22
    let t50: V8 = i20
    let t51: V8 = i21
    let t52: V8 = i22
    post(0.25 * t00, 0).store(d[0] + c)
    post(-0.16666666666666666 * t00 - 0.16666666666666666 * t01 - 0.16666666666666666 * t02, 1).store(d[1] + c)
    post(-0.16666666666666666 * t00 + 0.16666666666666666 * t01 - 0.16666666666666666 * t02, 2).store(d[2] + c)
    post(0.041666666666666664 * t00 + 0.08333333333333333 * t01 + 0.16666666666666666 * t02, 3).store(d[3] + c)
    post(0.041666666666666664 * t00 - 0.08333333333333333 * t01 + 0.16666666666666666 * t02, 4).store(d[4] + c)
    post(t02, 5).store(d[5] + c)
    post(0.25 * t10, 6).store(d[6] + c)
    post(-0.16666666666666666 * t10 - 0.16666666666666666 * t11 - 0.16666666666666666 * t12, 7).store(d[7] + c)
    post(-0.16666666666666666 * t10 + 0.16666666666666666 * t11 - 0.16666666666666666 * t12, 8).store(d[8] + c)
    post(0.041666666666666664 * t10 + 0.08333333333333333 * t11 + 0.16666666666666666 * t12, 9).store(d[9] + c)
    post(0.041666666666666664 * t10 - 0.08333333333333333 * t11 + 0.16666666666666666 * t12, 10).store(d[10] + c)
    post(t12, 11).store(d[11] + c)
    post(0.25 * t20, 12).store(d[12] + c)
    post(-0.16666666666666666 * t20 - 0.16666666666666666 * t21 - 0.16666666666666666 * t22, 13).store(d[13] + c)
    post(-0.16666666666666666 * t20 + 0.16666666666666666 * t21 - 0.16666666666666666 * t22, 14).store(d[14] + c)
    post(0.041666666666666664 * t20 + 0.08333333333333333 * t21 + 0.16666666666666666 * t22, 15).store(d[15] + c)
    post(0.041666666666666664 * t20 - 0.08333333333333333 * t21 + 0.16666666666666666 * t22, 16).store(d[16] + c)
    post(t22, 17).store(d[17] + c)
    post(0.25 * t30, 18).store(d[18] + c)
    post(-0.16666666666666666 * t30 - 0.16666666666666666 * t31 - 0.16666666666666666 * t32, 19).store(d[19] + c)
    post(-0.16666666666666666 * t30 + 0.16666666666666666 * t31 - 0.16666666666666666 * t32, 20).store(d[20] + c)
    post(0.041666666666666664 * t30 + 0.08333333333333333 * t31 + 0.16666666666666666 * t32, 21).store(d[21] + c)
    post(0.041666666666666664 * t30 - 0.08333333333333333 * t31 + 0.16666666666666666 * t32, 22).store(d[22] + c)
    post(t32, 23).store(d[23] + c)
    post(0.25 * t40, 24).store(d[24] + c)
    post(-0.16666666666666666 * t40 - 0.16666666666666666 * t41 - 0.16666666666666666 * t42, 25).store(d[25] + c)
    post(-0.16666666666666666 * t40 + 0.16666666666666666 * t41 - 0.16666666666666666 * t42, 26).store(d[26] + c)
    post(0.041666666666666664 * t40 + 0.08333333333333333 * t41 + 0.16666666666666666 * t42, 27).store(d[27] + c)
    post(0.041666666666666664 * t40 - 0.08333333333333333 * t41 + 0.16666666666666666 * t42, 28).store(d[28] + c)
    post(t42, 29).store(d[29] + c)
    post(0.25 * t50, 30).store(d[30] + c)
    post(-0.16666666666666666 * t50 - 0.16666666666666666 * t51 - 0.16666666666666666 * t52, 31).store(d[31] + c)
    post(-0.16666666666666666 * t50 + 0.16666666666666666 * t51 - 0.16666666666666666 * t52, 32).store(d[32] + c)
    post(0.041666666666666664 * t50 + 0.08333333333333333 * t51 + 0.16666666666666666 * t52, 33).store(d[33] + c)
    post(0.041666666666666664 * t50 - 0.08333333333333333 * t51 + 0.16666666666666666 * t52, 34).store(d[34] + c)
    post(t52, 35).store(d[35] + c)
}

/// F(4x4, 3x3) dw = G^T dU G: the adjoint of the weight transform.
@inline(__always)
func winogradWeightGradientKernel4(_ s: UnsafePointer<UnsafePointer<Float>>, _ d: UnsafePointer<UnsafeMutablePointer<Float>>, _ c: Int, _ post: (V8, Int) -> V8) {
    let i00 = load8(s[0] + c), i01 = load8(s[1] + c), i02 = load8(s[2] + c), i03 = load8(s[3] + c), i04 = load8(s[4] + c), i05 = load8(s[5] + c)
    let i10 = load8(s[6] + c), i11 = load8(s[7] + c), i12 = load8(s[8] + c), i13 = load8(s[9] + c), i14 = load8(s[10] + c), i15 = load8(s[11] + c)
    let i20 = load8(s[12] + c), i21 = load8(s[13] + c), i22 = load8(s[14] + c), i23 = load8(s[15] + c), i24 = load8(s[16] + c), i25 = load8(s[17] + c)
    let i30 = load8(s[18] + c), i31 = load8(s[19] + c), i32 = load8(s[20] + c), i33 = load8(s[21] + c), i34 = load8(s[22] + c), i35 = load8(s[23] + c)
    let i40 = load8(s[24] + c), i41 = load8(s[25] + c), i42 = load8(s[26] + c), i43 = load8(s[27] + c), i44 = load8(s[28] + c), i45 = load8(s[29] + c)
    let i50 = load8(s[30] + c), i51 = load8(s[31] + c), i52 = load8(s[32] + c), i53 = load8(s[33] + c), i54 = load8(s[34] + c), i55 = load8(s[35] + c)
    let t00: V8 = 0.25 * i00 - 0.16666666666666666 * i10 - 0.16666666666666666 * i20 + 0.041666666666666664 * i30 + 0.041666666666666664 * i40
    let t01: V8 = 0.25 * i01 - 0.16666666666666666 * i11 - 0.16666666666666666 * i21 + 0.041666666666666664 * i31 + 0.041666666666666664 * i41
    let t02: V8 = 0.25 * i02 - 0.16666666666666666 * i12 - 0.16666666666666666 * i22 + 0.041666666666666664 * i32 + 0.041666666666666664 * i42
    let t03: V8 = 0.25 * i03 - 0.16666666666666666 * i13 - 0.16666666666666666 * i23 + 0.041666666666666664 * i33 + 0.041666666666666664 * i43
    let t04: V8 = 0.25 * i04 - 0.16666666666666666 * i14 - 0.16666666666666666 * i24 + 0.041666666666666664 * i34 + 0.041666666666666664 * i44
    let t05: V8 = 0.25 * i05 - 0.16666666666666666 * i15 - 0.16666666666666666 * i25 + 0.041666666666666664 * i35 + 0.041666666666666664 * i45
    let t10: V8 = -0.16666666666666666 * i10 + 0.16666666666666666 * i20 + 0.08333333333333333 * i30 - 0.08333333333333333 * i40
    let t11: V8 = -0.16666666666666666 * i11 + 0.16666666666666666 * i21 + 0.08333333333333333 * i31 - 0.08333333333333333 * i41
    let t12: V8 = -0.16666666666666666 * i12 + 0.16666666666666666 * i22 + 0.08333333333333333 * i32 - 0.08333333333333333 * i42
    let t13: V8 = -0.16666666666666666 * i13 + 0.16666666666666666 * i23 + 0.08333333333333333 * i33 - 0.08333333333333333 * i43
    let t14: V8 = -0.16666666666666666 * i14 + 0.16666666666666666 * i24 + 0.08333333333333333 * i34 - 0.08333333333333333 * i44
    let t15: V8 = -0.16666666666666666 * i15 + 0.16666666666666666 * i25 + 0.08333333333333333 * i35 - 0.08333333333333333 * i45
    let t20: V8 = -0.16666666666666666 * i10 - 0.16666666666666666 * i20 + 0.16666666666666666 * i30 + 0.16666666666666666 * i40 + i50
    let t21: V8 = -0.16666666666666666 * i11 - 0.16666666666666666 * i21 + 0.16666666666666666 * i31 + 0.16666666666666666 * i41 + i51
    let t22: V8 = -0.16666666666666666 * i12 - 0.16666666666666666 * i22 + 0.16666666666666666 * i32 + 0.16666666666666666 * i42 + i52
    let t23: V8 = -0.16666666666666666 * i13 - 0.16666666666666666 * i23 + 0.16666666666666666 * i33 + 0.16666666666666666 * i43 + i53
    let t24: V8 = -0.16666666666666666 * i14 - 0.16666666666666666 * i24 + 0.16666666666666666 * i34 + 0.16666666666666666 * i44 + i54
    let t25: V8 = -0.16666666666666666 * i15 - 0.16666666666666666 * i25 + 0.16666666666666666 * i35 + 0.16666666666666666 * i45 + i55
    post(0.25 * t00 - 0.16666666666666666 * t01 - 0.16666666666666666 * t02 + 0.041666666666666664 * t03 + 0.041666666666666664 * t04, 0).store(d[0] + c)
    post(-0.16666666666666666 * t01 + 0.16666666666666666 * t02 + 0.08333333333333333 * t03 - 0.08333333333333333 * t04, 1).store(d[1] + c)
    post(-0.16666666666666666 * t01 - 0.16666666666666666 * t02 + 0.16666666666666666 * t03 + 0.16666666666666666 * t04 + t05, 2).store(d[2] + c)
    post(0.25 * t10 - 0.16666666666666666 * t11 - 0.16666666666666666 * t12 + 0.041666666666666664 * t13 + 0.041666666666666664 * t14, 3).store(d[3] + c)
    post(-0.16666666666666666 * t11 + 0.16666666666666666 * t12 + 0.08333333333333333 * t13 - 0.08333333333333333 * t14, 4).store(d[4] + c)
    post(-0.16666666666666666 * t11 - 0.16666666666666666 * t12 + 0.16666666666666666 * t13 + 0.16666666666666666 * t14 + t15, 5).store(d[5] + c)
    post(0.25 * t20 - 0.16666666666666666 * t21 - 0.16666666666666666 * t22 + 0.041666666666666664 * t23 + 0.041666666666666664 * t24, 6).store(d[6] + c)
    post(-0.16666666666666666 * t21 + 0.16666666666666666 * t22 + 0.08333333333333333 * t23 - 0.08333333333333333 * t24, 7).store(d[7] + c)
    post(-0.16666666666666666 * t21 - 0.16666666666666666 * t22 + 0.16666666666666666 * t23 + 0.16666666666666666 * t24 + t25, 8).store(d[8] + c)
}
