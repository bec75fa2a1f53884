/* conv_dw_impl.h: stride-1 convolution of few output channels (depthwise) read
 * straight from the input rows, no copy: output row i, vector chunk j, tap
 * (c, a, b) loads x[c, i + a*dh - ph0, j*VL - pw0 + b*dw + lane] with a lane
 * mask (columns outside the input read as 0, rows outside are skipped).
 * Vector vocabulary as conv_ukr_impl.h; DWROWS is the name, DNV vectors and DR rows
 * per step.  No include guard.
 *
 *   x     cg input planes of h x w, plane stride h*w
 *   wt    cg*kh*kw weights of the output channel, in (c, a, b) order
 *   mask  kw x nvec lane masks: lanes of vector v valid for column tap b
 *   y     output plane ho x wo (nvec = ceil(wo / VL) vectors per row)
 *   zrow  w zeros, read for rows outside the input
 * Summation order: taps (c, a, b) in order (taps in the padding add 0*w). */

static void DWROWS(const FT *restrict x, int64_t cg, int64_t h, int64_t w,
                   const FT *restrict wt, int64_t kh, int64_t kw, int64_t dh, int64_t dw,
                   int64_t ph0, int64_t pw0, const uint32_t *restrict mask, int64_t nvec,
                   FT *restrict y, int64_t ho, int64_t wo, const FT *restrict bias, int relu,
                   const FT *restrict zrow)
{
    const VT zero = VZERO();
    const VT bv = VSET1(bias != NULL ? *bias : (FT)0);
    /* DR output rows at a time: DR*nv independent accumulators hide the FMA
     * latency; rows outside the input read the zero row zrow (w zeros). */
    for (int64_t i0 = 0; i0 < ho; i0 += DR) {
        const int64_t nrow = FML_MIN(DR, ho - i0);
        for (int64_t j0 = 0; j0 < nvec; j0 += DNV) {
            const int64_t nv = FML_MIN(DNV, nvec - j0);
            VT acc[DR][DNV];
#pragma GCC unroll 8
            for (int r = 0; r < DR; r++)
#pragma GCC unroll 8
                for (int v = 0; v < DNV; v++) acc[r][v] = VZERO();
            for (int64_t c = 0; c < cg; c++)
                for (int64_t a = 0; a < kh; a++) {
                    const FT *rp[DR];
#pragma GCC unroll 8
                    for (int r = 0; r < DR; r++) {
                        const int64_t ih = i0 + r + a * dh - ph0;
                        /* column j0*VL - pw0 + b*dw + lane: masked lanes are never read */
                        rp[r] = (ih >= 0 && ih < h ? x + (c * h + ih) * w : zrow) + j0 * VL - pw0;
                    }
                    const FT *restrict wa = wt + (c * kh + a) * kw;
                    for (int64_t b = 0; b < kw; b++) {
                        const VT wv = VSET1(wa[b]);
                        const uint32_t *restrict mb = mask + b * nvec + j0;
                        const int64_t cb = b * dw;
#pragma GCC unroll 8
                        for (int v = 0; v < DNV; v++) {
                            if (v >= nv) break;
                            const MT m = VMASK(mb[v]);
#pragma GCC unroll 8
                            for (int r = 0; r < DR; r++)
                                acc[r][v] = VFMA(wv, VMASKLOADU(rp[r] + cb + v * VL, m), acc[r][v]);
                        }
                    }
                }
#pragma GCC unroll 8
            for (int r = 0; r < DR; r++) {
                if (r >= nrow) break;
                FT *restrict yr = y + (i0 + r) * wo + j0 * VL;
#pragma GCC unroll 8
                for (int v = 0; v < DNV; v++) {
                    if (v >= nv) break;
                    VT t = bias != NULL ? VADD(acc[r][v], bv) : acc[r][v];
                    if (relu) t = VMAX(zero, t);
                    const int64_t left = wo - (j0 + v) * VL;
                    if (left >= VL) VSTOREU(yr + v * VL, t);
                    else VMASKSTOREU(yr + v * VL, VMASK(fml_conv_low_bits(left, VL)), t);
                }
            }
        }
    }
}

/* The same for a 3x3 kernel with dilation 1 (depthwise 3x3, the common case):
 * each input row is loaded once per column tap and feeds the (up to) three
 * output rows it belongs to, with the nine weights held in registers, so the
 * loop is bound by FMAs rather than loads.  Accumulation order per output:
 * rows a = 0, 1, 2, columns b = 0, 1, 2 (as DWROWS); taps on rows outside the
 * input are skipped. */
static void DWROWS3(const FT *restrict x, int64_t h, int64_t w, const FT *restrict wt,
                    int64_t ph0, int64_t pw0, const uint32_t *restrict mask, int64_t nvec,
                    FT *restrict y, int64_t ho, int64_t wo, const FT *restrict bias, int relu)
{
    const VT zero = VZERO();
    const VT bv = VSET1(bias != NULL ? *bias : (FT)0);
    VT wk[3][3];
#pragma GCC unroll 3
    for (int a = 0; a < 3; a++)
#pragma GCC unroll 3
        for (int b = 0; b < 3; b++) wk[a][b] = VSET1(wt[a * 3 + b]);
    for (int64_t j0 = 0; j0 < nvec; j0 += DNV) {
        const int64_t nv = FML_MIN(DNV, nvec - j0);
        MT mk[3][DNV];
#pragma GCC unroll 3
        for (int b = 0; b < 3; b++)
#pragma GCC unroll 8
            for (int v = 0; v < DNV; v++) mk[b][v] = VMASK(v < nv ? mask[b * nvec + j0 + v] : 0u);
        for (int64_t i0 = 0; i0 < ho; i0 += DR) {
            VT acc[DR][DNV];
#pragma GCC unroll 8
            for (int r = 0; r < DR; r++)
#pragma GCC unroll 8
                for (int v = 0; v < DNV; v++) acc[r][v] = VZERO();
            /* input row rho = i0 - ph0 + q feeds output row i0 + r with a = q - r */
#pragma GCC unroll 8
            for (int q = 0; q < DR + 2; q++) {
                const int64_t ih = i0 - ph0 + q;
                if (ih < 0 || ih >= h) continue;
                const FT *restrict row = x + ih * w + j0 * VL - pw0;
#pragma GCC unroll 3
                for (int b = 0; b < 3; b++) {
                    VT xv[DNV];
#pragma GCC unroll 8
                    for (int v = 0; v < DNV; v++) xv[v] = VMASKLOADU(row + b + v * VL, mk[b][v]);
#pragma GCC unroll 3
                    for (int a = 2; a >= 0; a--) {         /* output row r = q - a, rows in order */
                        const int r = q - a;
                        if (r < 0 || r >= DR) continue;
#pragma GCC unroll 8
                        for (int v = 0; v < DNV; v++) acc[r][v] = VFMA(wk[a][b], xv[v], acc[r][v]);
                    }
                }
            }
#pragma GCC unroll 8
            for (int r = 0; r < DR; r++) {
                if (i0 + r >= ho) break;
                FT *restrict yr = y + (i0 + r) * wo + j0 * VL;
#pragma GCC unroll 8
                for (int v = 0; v < DNV; v++) {
                    if (v >= nv) break;
                    VT t = bias != NULL ? VADD(acc[r][v], bv) : acc[r][v];
                    if (relu) t = VMAX(zero, t);
                    const int64_t left = wo - (j0 + v) * VL;
                    if (left >= VL) VSTOREU(yr + v * VL, t);
                    else VMASKSTOREU(yr + v * VL, VMASK(fml_conv_low_bits(left, VL)), t);
                }
            }
        }
    }
}
