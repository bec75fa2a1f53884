/* conv_wino_impl.h: the transforms of Winograd F(2x2, 3x3) (Lavin & Gray 2016)
 * over tiles in vector lanes, written once over the vector vocabulary plus
 * VSUB(a, b) and VZIPLO(a, b) / VZIPHI(a, b) (lanes a0 b0 a1 b1 ... of the low
 * / high halves).  WINO_IN / WINO_OUT / WINO_COPY are the names.  No include
 * guard.
 *
 * A band of TR tile rows; tile (r, t) covers output rows 2r, 2r+1 and columns
 * 2t, 2t+1 and reads padded input rows 2r .. 2r+3, columns 2t .. 2t+3.  The
 * band's padded input is kept as even and odd column planes, so the 4x4 input
 * patches of VL consecutive tiles are 16 plain vector loads:
 *
 *   eo[(c*rows + R)*2*pw + 0*pw + k] = xpad[c, R, 2k]      (even columns)
 *   eo[(c*rows + R)*2*pw + 1*pw + k] = xpad[c, R, 2k + 1]  (odd columns)
 *
 *   V = B^T d B,  B^T = [1 0 -1 0; 0 1 1 0; 0 -1 1 0; 0 1 0 -1]
 *   Y = A^T M A,  A^T = [1 1 1 0; 0 1 -1 -1]
 * V and M are stored as 16 matrices (xi = 4*i + j): V[xi*sv + c*T + tile],
 * M[xi*sm + o*T + tile], the caller's block strides sv >= C*T, sm >= O*T
 * keeping the 16 blocks off one L1 set. */

/* 1-D transform B^T applied to (d0, d1, d2, d3). */
#define WINO_BT(d0, d1, d2, d3, r0, r1, r2, r3) do {                                    \
        r0 = VSUB(d0, d2);                                                              \
        r1 = VADD(d1, d2);                                                              \
        r2 = VSUB(d2, d1);                                                              \
        r3 = VSUB(d1, d3);                                                              \
    } while (0)

/* Copy padded rows [row0, row0 + nrows) of the c channels of image xn (h x w,
 * padding ph0 top, pw0 left) into even/odd column planes of width pw: both
 * planes of a row from one pass over it (pad_row_s2_pair). */
static void WINO_COPY(const FT *restrict xn, int64_t c, int64_t h, int64_t w, int64_t ph0,
                      int64_t pw0, int64_t row0, int64_t nrows, int64_t pw, FT *restrict eo)
{
    uint32_t masks[2 * FML_CONV_ROW_MAXVEC];
    for (int64_t j = 0; j * VL < pw; j++)
        for (int64_t half = 0; half < 2; half++) {
            const int64_t p0 = 2 * j * VL + half * VL;          /* input column p0 + lane - pw0 */
            masks[2 * j + half] = fml_conv_low_bits(w + pw0 - p0, VL) & ~fml_conv_low_bits(pw0 - p0, VL);
        }
    const VT zero = VZERO();
    for (int64_t ci = 0; ci < c; ci++)
        for (int64_t r = 0; r < nrows; r++) {
            FT *restrict dst = eo + (ci * nrows + r) * 2 * pw;
            const int64_t u = row0 + r - ph0;
            if (u < 0 || u >= h) {
                FML_FN(fill_row)(dst, 2 * pw, (FT)0);
                continue;
            }
            FML_FN(pad_row_s2_pair)(dst, dst + pw, xn + (ci * h + u) * w - pw0, pw, masks, zero);
        }
}

/* V of channels [0, c) for tiles r < tr, t < twp (twp a multiple of VL) from the
 * even/odd planes (rows 2*tr + 2, width pw >= twp + 1). */
static void WINO_IN(const FT *restrict eo, int64_t c, int64_t tr, int64_t twp, int64_t pw,
                    FT *restrict V, int64_t ntile, int64_t sv)
{
    const int64_t nrows = 2 * tr + 2;
    for (int64_t ci = 0; ci < c; ci++)
        for (int64_t r = 0; r < tr; r++)
            for (int64_t t = 0; t < twp; t += VL) {
                VT d[4][4];
#pragma GCC unroll 4
                for (int i = 0; i < 4; i++) {
                    const FT *restrict row = eo + (ci * nrows + 2 * r + i) * 2 * pw + t;
                    VT e0 = VLOADU(row), o0 = VLOADU(row + pw);
                    VT e1 = VLOADU(row + 1), o1 = VLOADU(row + pw + 1);
                    WINO_BT(e0, o0, e1, o1, d[i][0], d[i][1], d[i][2], d[i][3]);   /* d B */
                }
                FT *restrict out = V + ci * ntile + r * twp + t;
#pragma GCC unroll 4
                for (int j = 0; j < 4; j++) {
                    VT v0, v1, v2, v3;
                    WINO_BT(d[0][j], d[1][j], d[2][j], d[3][j], v0, v1, v2, v3);   /* B^T (d B) */
                    VSTOREU(out + (0 * 4 + j) * sv, v0);
                    VSTOREU(out + (1 * 4 + j) * sv, v1);
                    VSTOREU(out + (2 * 4 + j) * sv, v2);
                    VSTOREU(out + (3 * 4 + j) * sv, v3);
                }
            }
}

/* The 2*VL outputs of VL tiles' two columns y0, y1 (+ bias bv, then ReLU when
 * relu) into row yr (columns 2t, 2t+1, 2t+2, ... interleaved), the first `left`
 * of them; masked stores only for a partial vector.  Shared with the stride-2
 * pass (conv_wino2_impl.h). */
static inline void FML_FN(wino_store_pair)(FT *restrict yr, VT y0, VT y1, VT bv, int relu,
                                           int64_t left)
{
    y0 = VADD(y0, bv);
    y1 = VADD(y1, bv);
    if (relu) {
        y0 = VMAX(VZERO(), y0);
        y1 = VMAX(VZERO(), y1);
    }
    const VT lo = VZIPLO(y0, y1), hi = VZIPHI(y0, y1);
    if (left < VL) {
        VMASKSTOREU(yr, VMASK(fml_conv_low_bits(left, VL)), lo);
        return;
    }
    VSTOREU(yr, lo);
    if (left >= 2 * VL) VSTOREU(yr + VL, hi);
    else if (left > VL) VMASKSTOREU(yr + VL, VMASK(fml_conv_low_bits(left - VL, VL)), hi);
}

/* Y = A^T M A for channels [0, o) and tiles r < tr, t < twp; stores the 2x2
 * outputs (+ bias, activation) into y (channel stride ldy, rows of wo; output
 * rows past nout_rows and columns past wo are not stored). */
static void WINO_OUT(const FT *restrict M, int64_t o, int64_t tr, int64_t twp, int64_t ntile,
                     int64_t sm, FT *restrict y, int64_t ldy, int64_t wo, int64_t nout_rows,
                     const FT *restrict bias, int relu)
{
    for (int64_t oi = 0; oi < o; oi++) {
        const VT bv = VSET1(bias != NULL ? bias[oi] : (FT)0);
        for (int64_t r = 0; r < tr; r++) {
            if (2 * r >= nout_rows) break;
            for (int64_t t = 0; t < twp; t += VL) {
                if (2 * t >= wo) break;
                const FT *restrict in = M + oi * ntile + r * twp + t;
                VT m[4][4];
#pragma GCC unroll 4
                for (int i = 0; i < 4; i++)
#pragma GCC unroll 4
                    for (int j = 0; j < 4; j++) m[i][j] = VLOADU(in + (4 * i + j) * sm);
                VT s[2][4];                            /* A^T M */
#pragma GCC unroll 4
                for (int j = 0; j < 4; j++) {
                    s[0][j] = VADD(VADD(m[0][j], m[1][j]), m[2][j]);
                    s[1][j] = VSUB(VSUB(m[1][j], m[2][j]), m[3][j]);
                }
#pragma GCC unroll 2
                for (int i = 0; i < 2; i++) {
                    if (2 * r + i >= nout_rows) break;
                    FML_FN(wino_store_pair)(y + oi * ldy + (2 * r + i) * wo + 2 * t,
                                            VADD(VADD(s[i][0], s[i][1]), s[i][2]),
                                            VSUB(VSUB(s[i][1], s[i][2]), s[i][3]), bv, relu,
                                            wo - 2 * t);
                }
            }
        }
    }
}
#undef WINO_BT
