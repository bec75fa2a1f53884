/* conv_gwc_impl.h: the weight-gradient tile with output channels in the
 * vector lanes (the channels-in-lanes tile of conv_ctile_impl.h turned
 * around): for taps i < GCM and channels j < GCNV*VL of a panel,
 *
 *   out[j*ldo + i] += sum_{q < nq} x[off[i] + q] * gt[q*NR + j]     (float64 out)
 *
 * gt: the output gradient of the panel's channels transposed to flat-pixel
 * major (zero in the pad columns, so they add nothing); x: the input planes;
 * off: the taps (entries past nk repeat a valid tap and are not stored).  The
 * whole reduction over q stays in registers: one pass over a band per tile,
 * one float64 addition per output.  GWC is the name.  No include guard. */

static void GWC(int64_t nq, const FT *restrict gt, const FT *restrict x,
                const int64_t *restrict off, int64_t nk, double *restrict out, int64_t ldo,
                int64_t m)
{
    enum { NR_ = GCNV * VL };
    VT acc[GCM][GCNV];
    const FT *restrict xp[GCM];
#pragma GCC unroll 16
    for (int i = 0; i < GCM; i++) {
        xp[i] = x + off[i < nk ? i : 0];
#pragma GCC unroll 4
        for (int v = 0; v < GCNV; v++) acc[i][v] = VZERO();
    }
    for (int64_t q = 0; q < nq; q++) {
        VT bv[GCNV];
#pragma GCC unroll 4
        for (int v = 0; v < GCNV; v++) bv[v] = VLOADU(gt + q * NR_ + v * VL);
#pragma GCC unroll 16
        for (int i = 0; i < GCM; i++) {
            const VT ai = VSET1(xp[i][q]);
#pragma GCC unroll 4
            for (int v = 0; v < GCNV; v++) acc[i][v] = VFMA(ai, bv[v], acc[i][v]);
        }
    }
    FT tmp[NR_];
    for (int i = 0; i < GCM && i < nk; i++) {
#pragma GCC unroll 4
        for (int v = 0; v < GCNV; v++) VSTOREU(tmp + v * VL, acc[i][v]);
        for (int64_t j = 0; j < m; j++) out[j * ldo + i] += (double)tmp[j];
    }
}
