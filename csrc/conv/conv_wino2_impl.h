/* conv_wino2_impl.h: the transforms of a Winograd-style 3x3 stride-2
 * convolution over tiles in vector lanes, written once over the vector
 * vocabulary (conv_ukr_impl.h, plus VSUB, VEVEN / VODD: the even / odd lanes
 * of the 2*VL values a, b, and VNEXT(a, b): lanes 1 .. VL-1 of a, then lane 0
 * of b).  W2_IN / W2_OUT are the names.  No include guard.
 *
 * In one dimension, two outputs of a 3-tap stride-2 filter (w0, w1, w2) read
 * x0 .. x4; the even taps are a 2-tap stride-1 filter on x0, x2, x4, done as
 * Winograd F(2, 2), the odd tap is one product each:
 *
 *   d = B^T x = (x0 - x2, x2, x4 - x2, x1, x3)
 *   u = G w   = (w0, w0 + w2, w2, w1, w1)
 *   y = A^T (u * d):  y0 = m0 + m1 + m3,  y1 = m1 + m2 + m4
 *
 * m0 and m3 only reach y0, m2 and m4 only y1, so they are summed in the
 * products: slots s0 = m0 + m3, s1 = m1, s2 = m2 + m4, y0 = s0 + s1,
 * y1 = s1 + s2.  A 2x2 output tile (rows 2r, 2r+1, columns 2t, 2t+1) of the
 * 2-D filter, reading padded input rows 4r .. 4r+4 and columns 4t .. 4t+4,
 * costs 25 products per (input, output) channel pair instead of 36, summed
 * into 9 slots (conv_kernels.h: FML_WINO2_POS):
 *   V = B^T d B,  U = G g G^T,  Y = A^T M A,  M = the 9 slot sums of U * V.
 * V[FML_WINO2_POS[a][b]*sv + c*ldv + tile] (a: the row index of the
 * transform), M[s*sm + o*ldm + tile], tile = tile0 + r*tw + t (tiles of a
 * row packed with no gap, so the products waste no lanes; a vector of VL
 * tiles starting in a row runs on into the next row, which is written later,
 * so the stores go in increasing tile order and ldv has VL elements of
 * slack; sv and sm, the strides of V's component blocks and M's slots, are
 * chosen by the caller so that the blocks do not fall on the same L1 sets). */

/* The 1-D transform B^T of (x0, .., x4). */
#define WINO2_BT(x0, x1, x2, x3, x4, d)                                                   \
    do {                                                                                \
        d[0] = VSUB(x0, x2);                                                            \
        d[1] = x2;                                                                      \
        d[2] = VSUB(x4, x2);                                                            \
        d[3] = x1;                                                                      \
        d[4] = x3;                                                                      \
    } while (0)

/* Columns p .. p + 4*VL - 1 of a padded row (row[j]: input column j; columns
 * outside [0, w) are zero) split by column mod 4: q[m] lane i = column
 * p + 4i + m.  Four loads (masked only where a vector reaches the padding) and
 * the even / odd splits, no store: the row is never copied. */
static inline void FML_FN(wino2_split)(const FT *restrict row, int64_t p, int64_t w, VT q[4])
{
    VT a[4];
    const VT zero = VZERO();
#pragma GCC unroll 4
    for (int j = 0; j < 4; j++) {
        const int64_t c0 = p + j * VL;
        if (c0 >= 0 && c0 + VL <= w) {
            a[j] = VLOADU(row + c0);
        } else {
            const uint32_t m = fml_conv_low_bits(w - c0, VL) & ~fml_conv_low_bits(-c0, VL);
            a[j] = m ? VMASKLOADU_OR(zero, VMASK(m), row + c0) : zero;
        }
    }
    const VT e0 = VEVEN(a[0], a[1]), e1 = VEVEN(a[2], a[3]);
    const VT o0 = VODD(a[0], a[1]), o1 = VODD(a[2], a[3]);
    q[0] = VEVEN(e0, e1);
    q[1] = VEVEN(o0, o1);
    q[2] = VODD(e0, e1);
    q[3] = VODD(o0, o1);
}

/* B^T over the columns of padded row R (ph0 rows of zeros on top) for the VL
 * tiles from t: d[b] lane i is component b of tile t + i's five columns. */
static inline void FML_FN(wino2_row)(const FT *restrict src, int64_t h, int64_t w, int64_t ph0,
                                     int64_t pw0, int64_t R, int64_t t, int64_t tw, VT d[5])
{
    const int64_t u = R - ph0;
    if (u < 0 || u >= h) {
#pragma GCC unroll 5
        for (int b = 0; b < 5; b++) d[b] = VZERO();
        return;
    }
    /* tile t reads padded columns 4t .. 4t+4; x4 of the last lane is column
     * 4(t + VL), the first of the next vector (needed if that lane is a tile) */
    const FT *restrict row = src + u * w;
    VT q[4];
    FML_FN(wino2_split)(row, 4 * t - pw0, w, q);
    const int64_t cn = 4 * (t + VL) - pw0;
    const FT next = t + VL - 1 < tw && cn >= 0 && cn < w ? row[cn] : (FT)0;
    WINO2_BT(q[0], q[1], q[2], q[3], VNEXT(q[0], VSET1(next)), d);
}

/* V of input channel ci of image xn (h x w, padding ph0 top, pw0 left)
 * for its th x tw tiles, at tile index tile0, in one pass: per vector of tiles,
 * down the tile rows, each padded row's column transform goes straight into
 * the row transform (a = 0: R0 - R2, 1: R2, 2: R4 - R2, 3: R1, 4: R3 of the
 * five rows R0 .. R4 = 4r .. 4r+4; R4 is the next tile row's R0).  The last,
 * partial vector of each row runs first, in increasing row order: its lanes
 * past the row's end land on the next row's first tiles, which the whole
 * vectors write afterwards. */
static void W2_IN(const FT *restrict xn, int64_t sv, int64_t ci, int64_t h, int64_t w,
                  int64_t ph0, int64_t pw0, int64_t th, int64_t tw, FT *restrict V, int64_t ldv,
                  int64_t tile0)
{
    const int64_t twp = (tw + VL - 1) / VL * VL, last = twp - VL;
    const FT *restrict src = xn + ci * h * w;
    FT *restrict base = V + ci * ldv + tile0;
    for (int64_t k = 0; k < twp; k += VL) {
        const int64_t t = k == 0 ? last : k - VL;
        VT r0[5], r1[5], r2[5];
        FML_FN(wino2_row)(src, h, w, ph0, pw0, 0, t, tw, r0);
        for (int64_t r = 0; r < th; r++) {
            FT *restrict out = base + r * tw + t;
            FML_FN(wino2_row)(src, h, w, ph0, pw0, 4 * r + 1, t, tw, r1);
#pragma GCC unroll 5
            for (int b = 0; b < 5; b++) VSTOREU(out + FML_WINO2_POS[3][b] * sv, r1[b]);
            FML_FN(wino2_row)(src, h, w, ph0, pw0, 4 * r + 2, t, tw, r2);
#pragma GCC unroll 5
            for (int b = 0; b < 5; b++) {
                VSTOREU(out + FML_WINO2_POS[0][b] * sv, VSUB(r0[b], r2[b]));
                VSTOREU(out + FML_WINO2_POS[1][b] * sv, r2[b]);
            }
            FML_FN(wino2_row)(src, h, w, ph0, pw0, 4 * r + 3, t, tw, r1);
#pragma GCC unroll 5
            for (int b = 0; b < 5; b++) VSTOREU(out + FML_WINO2_POS[4][b] * sv, r1[b]);
            FML_FN(wino2_row)(src, h, w, ph0, pw0, 4 * r + 4, t, tw, r0);
#pragma GCC unroll 5
            for (int b = 0; b < 5; b++) VSTOREU(out + FML_WINO2_POS[2][b] * sv, VSUB(r0[b], r2[b]));
        }
    }
}

/* Y = A^T M A of output channel oi for the th x tw tiles at tile0 into
 * its plane y (ho x wo), plus bias, then max(0, .) (relu).  M: the 9 slots,
 * A^T = (1 1 0; 0 1 1); VL elements of readable slack past each row's last
 * tile. */
static void W2_OUT(const FT *restrict M, int64_t sm, int64_t oi, int64_t ldm, int64_t th,
                   int64_t tw, int64_t tile0, FT *restrict y, int64_t ho, int64_t wo, FT bias,
                   int relu)
{
    const VT bv = VSET1(bias);
    for (int64_t r = 0; r < th; r++)
        for (int64_t t = 0; t < tw; t += VL) {
            const FT *restrict in = M + oi * ldm + tile0 + r * tw + t;
            VT s[2][3];                                /* A^T M */
#pragma GCC unroll 3
            for (int b = 0; b < 3; b++) {
                const VT m0 = VLOADU(in + (0 * 3 + b) * sm);
                const VT m1 = VLOADU(in + (1 * 3 + b) * sm);
                const VT m2 = VLOADU(in + (2 * 3 + b) * sm);
                s[0][b] = VADD(m0, m1);
                s[1][b] = VADD(m1, m2);
            }
#pragma GCC unroll 2
            for (int i = 0; i < 2; i++) {
                if (2 * r + i >= ho) break;
                FML_FN(wino_store_pair)(y + (2 * r + i) * wo + 2 * t, VADD(s[i][0], s[i][1]),
                                        VADD(s[i][1], s[i][2]), bv, relu, wo - 2 * t);
            }
        }
}
#undef WINO2_BT
