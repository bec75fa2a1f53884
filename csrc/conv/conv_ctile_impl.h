/* conv_ctile_impl.h: the channels-in-lanes convolution tile, for outputs whose
 * rows are short or strided (the flat-pixel tile of conv_ukr_impl.h would pay
 * for many pad columns): CMR consecutive flat pixels (broadcast from the input
 * planes) x CNV*VL output channels (vectors of packed weights).  Written once
 * over the vector vocabulary.  The finished tile goes through a small stack
 * buffer and is written channel by channel (its transpose into NCHW): a
 * scatter straight from the registers touches 16 output lines per instruction
 * and measured 4x slower.  CTILE is the name.  No include guard.
 *
 *   b     packed weights: b[p*NR + j] = w[channel j of the panel, tap p]
 *         (NR = CNV*VL, channels past the real ones zero)
 *   x     band planes at flat pixel 0; tap p of pixel q reads x[off[p] + q]
 *         (reads may run up to CMR - 1 pixels past the band: the band buffer
 *         has that much slack)
 *   span  tiles: pixels q0 .. q0 + CMR - 1, pixel i stored at y + out[i] (+ the
 *         channel's plane) when out[i] >= 0
 *   y     output plane of channel 0 of the panel; channel j at y + j*ldy
 *   m     channels to store (<= NR); bias: NR values or NULL
 *   pf    NULL, or pfn bytes to pull into L2 during the call (the next task's
 *         input), one line every 8 taps
 * Summation order: taps p = 0..k-1, one FMA each, as in every tile. */

static void CTILE(int64_t k, const FT *restrict b, const FT *restrict x,
                  const int64_t *restrict off, const fml_conv_cspan *restrict span,
                  int64_t nspan, FT *restrict y, int64_t ldy, int64_t m,
                  const FT *restrict bias, int relu, const char *pf, int64_t pfn)
{
    const char *pe = pf + (pf != NULL ? pfn : 0);
    enum { NR_ = CNV * VL };
    FT tmp[CMR * NR_];
    for (int64_t t = 0; t < nspan; t++) {
        const FT *restrict xb = x + span[t].q0;
        VT acc[CMR][CNV];
#pragma GCC unroll 16
        for (int i = 0; i < CMR; i++)
#pragma GCC unroll 4
            for (int v = 0; v < CNV; v++) acc[i][v] = VZERO();
        const FT *restrict bp = b;
        for (int64_t p = 0; p < k; p++) {
            const FT *restrict xp = xb + off[p];
            VT bv[CNV];
            if ((p & 7) == 0 && pf < pe) {
                __builtin_prefetch(pf, 0, 2);
                pf += 64;
            }
#pragma GCC unroll 4
            for (int v = 0; v < CNV; v++) bv[v] = VLOADU(bp + v * VL);
#pragma GCC unroll 16
            for (int i = 0; i < CMR; i++) {
                const VT ai = VSET1(xp[i]);
#pragma GCC unroll 4
                for (int v = 0; v < CNV; v++) acc[i][v] = VFMA(ai, bv[v], acc[i][v]);
            }
            bp += CNV * VL;
        }
        const VT zero = VZERO();
        VT bvv[CNV];
#pragma GCC unroll 4
        for (int v = 0; v < CNV; v++) bvv[v] = bias != NULL ? VLOADU(bias + v * VL) : zero;
#pragma GCC unroll 16
        for (int i = 0; i < CMR; i++)
#pragma GCC unroll 4
            for (int v = 0; v < CNV; v++) {
                VT r = VADD(acc[i][v], bvv[v]);
                if (relu) r = VMAX(zero, r);
                VSTOREU(tmp + i * NR_ + v * VL, r);
            }
        const int32_t *restrict out = span[t].out;
        int contiguous = 1;
        for (int i = 1; i < CMR; i++) contiguous &= out[i] == out[0] + i;
        if (contiguous) {
            for (int64_t j = 0; j < m; j++) {
                FT *restrict yj = y + j * ldy + out[0];
                for (int i = 0; i < CMR; i++) yj[i] = tmp[i * NR_ + j];
            }
        } else {
            for (int64_t j = 0; j < m; j++)
                for (int i = 0; i < CMR; i++)
                    if (out[i] >= 0) y[j * ldy + out[i]] = tmp[i * NR_ + j];
        }
    }
}
