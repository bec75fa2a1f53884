/* conv_ukr_impl.h: the direct-convolution register tile, written once over the
 * vector vocabulary of conv_avx2.c / conv_avx512.c / conv.c (scalar):
 *
 *   VT VL MT  vector type, lanes, lane-mask type
 *   VZERO() VSET1(x) VLOADU(p) VSTOREU(p, v) VFMA(a, b, c) = a*b + c
 *   VADD(a, b) VMAX(a, b) (= b where either is NaN, like maxps)
 *   VMASK(bits) VMASKLOADU(p, m) (masked lanes read as 0, never touched)
 *   VMASKSTOREU(p, m, v)
 *
 * and UKR (function name), UMR (output channels per tile), UNV (vectors of
 * flat pixels per tile).  No include guard: one inclusion per tile shape, ISA
 * and dtype.
 *
 * Contract of UKR (tile: UMR output channels x UNV*VL consecutive flat pixels):
 *   a     packed weights: a[p*UMR + i] = w[channel i of the tile, tap p], p < k
 *         (channels past the real ones are zero-padded by the driver)
 *   x     source planes at the tile's first flat pixel; tap p reads
 *         x[off[p] + j] for pixel j of the tile
 *   nload pixels j < nload may be read; lanes past it are masked (the last
 *         tile of a band: its reads would run past the planes)
 *   y     output plane of channel 0 of the tile; channel i at y + i*ldy
 *   m     channels to store (<= UMR)
 *   bias  UMR values added before the activation, or NULL
 *   seg   nseg stores (sorted by vector): lanes `mask` of vector `v` go to
 *         y + i*ldy + delta + lane, for every channel i < m
 * Accumulation order: taps p = 0..k-1, one FMA each, for every output.  The
 * result does not depend on where the tile starts, so threads and band sizes
 * never change a bit. */

#ifndef FML_CONV_TAIL_BITS
#define FML_CONV_TAIL_BITS
/* Lane mask with the low `n` of `vl` lanes set. */
static inline uint32_t fml_conv_low_bits(int64_t n, int64_t vl)
{
    return n <= 0 ? 0u : (n >= vl ? (vl >= 32 ? 0xffffffffu : (1u << vl) - 1u) : (1u << n) - 1u);
}
#endif

static void UKR(int64_t k, const FT *restrict a, const FT *restrict x, const int64_t *restrict off,
                int64_t nload, FT *restrict y, int64_t ldy, int64_t m, const FT *restrict bias,
                int relu, const fml_conv_seg *restrict seg, int64_t nseg)
{
    VT acc[UMR][UNV];
#pragma GCC unroll 16
    for (int i = 0; i < UMR; i++)
#pragma GCC unroll 8
        for (int v = 0; v < UNV; v++) acc[i][v] = VZERO();

    if (nload >= UNV * VL) {                       /* full tile: plain loads */
        for (int64_t p = 0; p < k; p++) {
            const FT *restrict xp = x + off[p];
            VT bv[UNV];
#pragma GCC unroll 8
            for (int v = 0; v < UNV; v++) bv[v] = VLOADU(xp + v * VL);
#pragma GCC unroll 16
            for (int i = 0; i < UMR; i++) {
                const VT ai = VSET1(a[i]);
#pragma GCC unroll 8
                for (int v = 0; v < UNV; v++) acc[i][v] = VFMA(ai, bv[v], acc[i][v]);
            }
            a += UMR;
        }
    } else {                                       /* last tile of a band */
        MT lm[UNV];
#pragma GCC unroll 8
        for (int v = 0; v < UNV; v++) lm[v] = VMASK(fml_conv_low_bits(nload - v * VL, VL));
        for (int64_t p = 0; p < k; p++) {
            const FT *restrict xp = x + off[p];
            VT bv[UNV];
#pragma GCC unroll 8
            for (int v = 0; v < UNV; v++) bv[v] = VMASKLOADU(xp + v * VL, lm[v]);
#pragma GCC unroll 16
            for (int i = 0; i < UMR; i++) {
                const VT ai = VSET1(a[i]);
#pragma GCC unroll 8
                for (int v = 0; v < UNV; v++) acc[i][v] = VFMA(ai, bv[v], acc[i][v]);
            }
            a += UMR;
        }
    }

    const VT zero = VZERO();
#pragma GCC unroll 16
    for (int i = 0; i < UMR; i++) {
        if (i >= m) break;
        const VT bi = VSET1(bias != NULL ? bias[i] : (FT)0);
#pragma GCC unroll 8
        for (int v = 0; v < UNV; v++) {
            VT t = bias != NULL ? VADD(acc[i][v], bi) : acc[i][v];
            acc[i][v] = relu ? VMAX(zero, t) : t;
        }
    }
    /* Stores, vector by vector (seg is sorted by v), constant indices into acc. */
    int64_t s = 0;
#pragma GCC unroll 8
    for (int v = 0; v < UNV; v++) {
        for (; s < nseg && seg[s].v == v; s++) {
            FT *restrict yp = y + seg[s].delta;
            if (seg[s].mask == fml_conv_low_bits(VL, VL)) {
#pragma GCC unroll 16
                for (int i = 0; i < UMR; i++) {
                    if (i >= m) break;
                    VSTOREU(yp + i * ldy, acc[i][v]);
                }
            } else {
                const MT sm = VMASK(seg[s].mask);
#pragma GCC unroll 16
                for (int i = 0; i < UMR; i++) {
                    if (i >= m) break;
                    VMASKSTOREU(yp + i * ldy, sm, acc[i][v]);
                }
            }
        }
    }
}
