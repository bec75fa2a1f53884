/* conv_wino2_impl.h: the transforms of a Winograd-style 3x3 stride-2
 * convolution over tiles in vector lanes, written once over the vector
 * vocabulary (VSUB, VZIPLO / VZIPHI as in conv_wino_impl.h).  W2_IN / W2_OUT
 * are the names.  No include guard.
 *
 * In one dimension, two outputs of a 3-tap stride-2 filter (w0, w1, w2) read
 * x0 .. x4; the even taps are a 2-tap stride-1 filter on x0, x2, x4, done as
 * Winograd F(2, 2), the odd tap is one product each:
 *
 *   d = B^T x = (x0 - x2, x2, x4 - x2, x1, x3)
 *   u = G w   = (w0, w0 + w2, w2, w1, w1)
 *   y = A^T (u * d):  y0 = m0 + m1 + m3,  y1 = m1 + m2 + m4
 *
 * so a 2x2 output tile (rows 2r, 2r+1, columns 2t, 2t+1) of the 2-D filter,
 * reading padded input rows 4r .. 4r+4 and columns 4t .. 4t+4, costs 25
 * products per (input, output) channel pair instead of 36:
 *   V = B^T d B,  U = G g G^T,  Y = A^T (U * V) A.
 * V and M are 25 matrices, xi = 5a + b (a: the row index of the transform):
 * V[(xi*C + c)*ldv + tile], tile = tile0 + r*tw + t (tiles of a row packed
 * with no gap, so the products waste no lanes; a vector of VL tiles starting
 * in a row runs on into the next row, which is written later, so the stores
 * go in increasing tile order and ldv has VL elements of slack). */

/* The 1-D transform B^T of (x0, .., x4). */
#define WINO2_BT(x0, x1, x2, x3, x4, d)                                                   \
    do {                                                                                \
        d[0] = VSUB(x0, x2);                                                            \
        d[1] = x2;                                                                      \
        d[2] = VSUB(x4, x2);                                                            \
        d[3] = x1;                                                                      \
        d[4] = x3;                                                                      \
    } while (0)

/* V of input channel ci (of c) of image xn (h x w, padding ph0 top, pw0 left)
 * for its th x tw tiles, at tile index tile0.  work: FML_CONV_WINO2_WORK. */
static void W2_IN(const FT *restrict xn, int64_t c, int64_t ci, int64_t h, int64_t w,
                  int64_t ph0, int64_t pw0, int64_t th, int64_t tw, FT *restrict V, int64_t ldv,
                  int64_t tile0, FT *restrict work)
{
    const int64_t twp = (tw + VL - 1) / VL * VL, nq = twp + VL, nrow = 4 * th + 1;
    FT *restrict q = work;                     /* columns 4k + m of one padded row: q[m*nq + k] */
    FT *restrict line = work + 4 * nq;         /* one padded input row, 4*nq columns */
    FT *restrict rt = line + 4 * nq;           /* each row's B^T over columns: rt[(R*5 + b)*twp + t] */
    const FT *restrict src = xn + ci * h * w;
    const VT zero = VZERO();
    for (int64_t R = 0; R < nrow; R++) {
        const int64_t u = R - ph0;
        FT *restrict rr = rt + R * 5 * twp;
        if (u < 0 || u >= h) {
            for (int64_t j = 0; j < 5 * twp; j += VL) VSTOREU(rr + j, zero);
            continue;
        }
        /* the padded row in line (zeros around), then split by column mod 4 */
        const int64_t n_in = FML_MIN(w, 4 * nq - pw0);
        for (int64_t j = 0; j < FML_MIN(pw0, 4 * nq); j++) line[j] = 0;
        if (n_in > 0) memcpy(line + pw0, src + u * w, (size_t)n_in * sizeof(FT));
        for (int64_t j = pw0 + FML_MAX(n_in, 0); j < 4 * nq; j++) line[j] = 0;
        for (int64_t k = 0; k < nq; k += VL) {
            const FT *restrict lk = line + 4 * k;
            const VT v0 = VLOADU(lk), v1 = VLOADU(lk + VL), v2 = VLOADU(lk + 2 * VL);
            const VT v3 = VLOADU(lk + 3 * VL);
            const VT e0 = VEVEN(v0, v1), e1 = VEVEN(v2, v3), o0 = VODD(v0, v1), o1 = VODD(v2, v3);
            VSTOREU(q + k, VEVEN(e0, e1));
            VSTOREU(q + nq + k, VEVEN(o0, o1));
            VSTOREU(q + 2 * nq + k, VODD(e0, e1));
            VSTOREU(q + 3 * nq + k, VODD(o0, o1));
        }
        for (int64_t t = 0; t < twp; t += VL) {
            VT d[5];
            WINO2_BT(VLOADU(q + t), VLOADU(q + nq + t), VLOADU(q + 2 * nq + t),
                     VLOADU(q + 3 * nq + t), VLOADU(q + t + 1), d);
#pragma GCC unroll 5
            for (int b = 0; b < 5; b++) VSTOREU(rr + b * twp + t, d[b]);
        }
    }
    for (int64_t r = 0; r < th; r++)
        for (int64_t t = 0; t < twp; t += VL) {
            FT *restrict out = V + ci * ldv + tile0 + r * tw + t;
#pragma GCC unroll 5
            for (int b = 0; b < 5; b++) {
                const FT *restrict col = rt + (4 * r * 5 + b) * twp + t;
                VT v[5];
                WINO2_BT(VLOADU(col), VLOADU(col + 5 * twp), VLOADU(col + 10 * twp),
                         VLOADU(col + 15 * twp), VLOADU(col + 20 * twp), v);
#pragma GCC unroll 5
                for (int a = 0; a < 5; a++) VSTOREU(out + (5 * a + b) * c * ldv, v[a]);
            }
        }
}

/* Y = A^T M A of output channel oi (of o) for the th x tw tiles at tile0 into
 * its plane y (ho x wo), plus bias, then max(0, .) (relu).  M has VL elements
 * of readable slack past each row's last tile. */
static void W2_OUT(const FT *restrict M, int64_t o, int64_t oi, int64_t ldm, int64_t th,
                   int64_t tw, int64_t tile0, FT *restrict y, int64_t ho, int64_t wo, FT bias,
                   int relu)
{
    const VT bv = VSET1(bias);
    for (int64_t r = 0; r < th; r++)
        for (int64_t t = 0; t < tw; t += VL) {
            const FT *restrict in = M + oi * ldm + tile0 + r * tw + t;
            VT s[2][5];                                /* A^T M */
#pragma GCC unroll 5
            for (int b = 0; b < 5; b++) {
                const VT m0 = VLOADU(in + (0 * 5 + b) * o * ldm);
                const VT m1 = VLOADU(in + (1 * 5 + b) * o * ldm);
                const VT m2 = VLOADU(in + (2 * 5 + b) * o * ldm);
                const VT m3 = VLOADU(in + (3 * 5 + b) * o * ldm);
                const VT m4 = VLOADU(in + (4 * 5 + b) * o * ldm);
                s[0][b] = VADD(VADD(m0, m1), m3);
                s[1][b] = VADD(VADD(m1, m2), m4);
            }
#pragma GCC unroll 2
            for (int i = 0; i < 2; i++) {
                if (2 * r + i >= ho) break;
                FML_FN(wino_store_pair)(y + (2 * r + i) * wo + 2 * t,
                                        VADD(VADD(s[i][0], s[i][1]), s[i][3]),
                                        VADD(VADD(s[i][1], s[i][2]), s[i][4]), bv, relu, wo - 2 * t);
            }
        }
}
#undef WINO2_BT
