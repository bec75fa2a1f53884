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
 * Contract of UKR (tile: UMR output channels x UNV*VL consecutive flat pixels,
 * run for each of the nspan spans of a band in turn):
 *   a     packed weights: a[p*UMR + i] = w[channel i of the tile, tap p], p < k
 *         (channels past the real ones are zero-padded by the driver)
 *   x     source planes at flat pixel 0 of the band; tap p of pixel q of the
 *         band is x[off[p] + q]
 *   span  tiles [q0, q0 + nload): pixels past nload are neither read (masked
 *         loads; the last tile of a band would run past the planes) nor
 *         computed (whole vectors past it are skipped)
 *   seg   stores of span s: seg[s0 .. s0 + ns) (sorted by vector): lanes
 *         `mask` of vector `v` go to y + i*ldy + delta + lane, channel i < m
 *   y     output plane of channel 0 of the tile at the band's first row
 *   m     channels to store (<= UMR)
 *   bias  UMR values added before the activation, or NULL
 *   pfd   0, or a distance (elements) at which to prefetch one line per tap
 *         into L2 (zero copy: x is the caller's array in memory, and the next
 *         band's lines are pulled in while this band is computed from L2)
 * Accumulation order: taps p = 0..k-1, one FMA each, for every output; the
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

/* The k-loop of one tile: NA active vectors (a constant after inlining),
 * MASKED: lanes past nload read through masks; PF: prefetch pf + off[p]. */
#define UKR_LOOP(NA, MASKED, PF)                                                         \
    for (int64_t p = 0; p < k; p++) {                                                   \
        const FT *restrict xp = xb + off[p];                                            \
        VT bv[UNV];                                                                     \
        if (PF) __builtin_prefetch(xp + pfd, 0, 2);                                     \
        _Pragma("GCC unroll 8")                                                         \
        for (int v = 0; v < (NA); v++)                                                  \
            bv[v] = (MASKED) ? VMASKLOADU(xp + v * VL, lm[v]) : VLOADU(xp + v * VL);     \
        _Pragma("GCC unroll 16")                                                        \
        for (int i = 0; i < UMR; i++) {                                                 \
            const VT ai = VSET1(ap[p * UMR + i]);                                        \
            _Pragma("GCC unroll 8")                                                     \
            for (int v = 0; v < (NA); v++) acc[i][v] = VFMA(ai, bv[v], acc[i][v]);      \
        }                                                                               \
    }

static void UKR(int64_t k, const FT *restrict ap, const FT *restrict x,
                const int64_t *restrict off, const fml_conv_span *restrict span, int64_t nspan,
                const fml_conv_seg *restrict seg, FT *restrict y, int64_t ldy, int64_t m,
                const FT *restrict bias, int relu, int64_t pfd)
{
    for (int64_t t = 0; t < nspan; t++) {
        const FT *restrict xb = x + span[t].q0;
        const int64_t nload = span[t].nload;
        VT acc[UMR][UNV];
        MT lm[UNV];
#pragma GCC unroll 16
        for (int i = 0; i < UMR; i++)
#pragma GCC unroll 8
            for (int v = 0; v < UNV; v++) acc[i][v] = VZERO();
        if (nload >= UNV * VL) {
            if (pfd != 0) {
                UKR_LOOP(UNV, 0, 1)
            } else {
                UKR_LOOP(UNV, 0, 0)
            }
        } else {                                   /* last tile of a band */
#pragma GCC unroll 8
            for (int v = 0; v < UNV; v++) lm[v] = VMASK(fml_conv_low_bits(nload - v * VL, VL));
#if UNV > 1
            if (nload <= VL) {
                UKR_LOOP(1, 1, 0)
            } else
#endif
#if UNV > 2
            if (nload <= 2 * VL) {
                UKR_LOOP(2, 1, 0)
            } else
#endif
            {
                UKR_LOOP(UNV, 1, 0)
            }
        }

        const VT zero = VZERO();
#pragma GCC unroll 16
        for (int i = 0; i < UMR; i++) {
            if (i >= m) break;
            const VT bi = VSET1(bias != NULL ? bias[i] : (FT)0);
#pragma GCC unroll 8
            for (int v = 0; v < UNV; v++) {
                VT r = bias != NULL ? VADD(acc[i][v], bi) : acc[i][v];
                acc[i][v] = relu ? VMAX(zero, r) : r;
            }
        }
        /* Stores, vector by vector (segments are sorted by v): constant indices into acc. */
        const fml_conv_seg *restrict sg = seg + span[t].s0;
        const int64_t ns = span[t].ns;
        int64_t s = 0;
#pragma GCC unroll 8
        for (int v = 0; v < UNV; v++) {
            for (; s < ns && sg[s].v == v; s++) {
                FT *restrict yp = y + sg[s].delta;
                if (sg[s].mask == fml_conv_low_bits(VL, VL)) {
#pragma GCC unroll 16
                    for (int i = 0; i < UMR; i++) {
                        if (i >= m) break;
                        VSTOREU(yp + i * ldy, acc[i][v]);
                    }
                } else {
                    const MT sm = VMASK(sg[s].mask);
#pragma GCC unroll 16
                    for (int i = 0; i < UMR; i++) {
                        if (i >= m) break;
                        VMASKSTOREU(yp + i * ldy, sm, acc[i][v]);
                    }
                }
            }
        }
    }
}
#undef UKR_LOOP
