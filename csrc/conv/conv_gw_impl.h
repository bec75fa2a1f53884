/* conv_gw_impl.h: the weight-gradient tile, written once over the vector
 * vocabulary plus VREDUCE(v) (sum of the lanes, in a fixed order per ISA).
 *
 *   out[i*ldo + j] += sum_{q < nq} g[i*ldg + q] * x[off[j] + q]   i < m, j < nk
 *
 * g: the output gradient of GMR channels in the flat layout (zero in the pad
 * columns, so they add nothing); x: the input planes; off: GNK taps.  Lanes
 * accumulate q in steps of VL, then are summed once per call into float64
 * (the caller makes nq long: a whole band).  Rows i >= m and taps j >= nk are
 * computed from repeated valid pointers and never stored.  GWK is the name. */

static void GWK(int64_t nq, const FT *restrict g, int64_t ldg, const FT *restrict x,
                const int64_t *restrict off, double *restrict out, int64_t ldo, int64_t m,
                int64_t nk)
{
    VT acc[GMR][GNK];
    const FT *gp[GMR];
    const FT *xp[GNK];
#pragma GCC unroll 8
    for (int i = 0; i < GMR; i++) {
        gp[i] = g + (i < m ? i : 0) * ldg;
#pragma GCC unroll 8
        for (int j = 0; j < GNK; j++) acc[i][j] = VZERO();
    }
#pragma GCC unroll 8
    for (int j = 0; j < GNK; j++) xp[j] = x + off[j < nk ? j : 0];
    int64_t q = 0;
    for (; q + VL <= nq; q += VL) {
        VT gv[GMR];
#pragma GCC unroll 8
        for (int i = 0; i < GMR; i++) gv[i] = VLOADU(gp[i] + q);
#pragma GCC unroll 8
        for (int j = 0; j < GNK; j++) {
            const VT xv = VLOADU(xp[j] + q);
#pragma GCC unroll 8
            for (int i = 0; i < GMR; i++) acc[i][j] = VFMA(gv[i], xv, acc[i][j]);
        }
    }
    if (q < nq) {                                   /* tail: masked, reads stop at nq */
        const MT lm = VMASK(fml_conv_low_bits(nq - q, VL));
        VT gv[GMR];
#pragma GCC unroll 8
        for (int i = 0; i < GMR; i++) gv[i] = VMASKLOADU(gp[i] + q, lm);
#pragma GCC unroll 8
        for (int j = 0; j < GNK; j++) {
            const VT xv = VMASKLOADU(xp[j] + q, lm);
#pragma GCC unroll 8
            for (int i = 0; i < GMR; i++) acc[i][j] = VFMA(gv[i], xv, acc[i][j]);
        }
    }
    for (int i = 0; i < GMR && i < m; i++)
        for (int j = 0; j < GNK && j < nk; j++) out[i * ldo + j] += (double)VREDUCE(acc[i][j]);
}
