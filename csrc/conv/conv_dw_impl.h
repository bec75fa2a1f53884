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

#ifdef VANDM
/* nu (<= 8) vectors of 'same' 3x3 output at pixel q of the padded copies
 * DWFLAT3 makes: tap (a, b) reads copy b at q + (a-1)*w + b - 1. */
static inline __attribute__((always_inline)) void
DWFLATV(const FT *restrict xl, const FT *restrict xc, const FT *restrict xr, int64_t w,
        const FT *restrict wt, const int nu, FT *restrict yq, const FT *restrict bias, int relu)
{
    VT acc[8];
#pragma GCC unroll 8
    for (int u = 0; u < 8; u++) acc[u] = VZERO();
#pragma GCC unroll 3
    for (int a = 0; a < 3; a++)
#pragma GCC unroll 3
        for (int b = 0; b < 3; b++) {
            const VT wv = VSET1(wt[a * 3 + b]);
            /* opaque per tap, so the address is not kept live across taps */
            const FT *xt = (b == 0 ? xl : b == 1 ? xc : xr) + (a - 1) * w + (b - 1);
            __asm__("" : "+r"(xt));
#pragma GCC unroll 8
            for (int u = 0; u < nu; u++) acc[u] = VFMA(wv, VLOADU(xt + u * VL), acc[u]);
        }
    const VT bv = VSET1(bias != NULL ? *bias : (FT)0);
#pragma GCC unroll 8
    for (int u = 0; u < nu; u++) {
        VT t = bias != NULL ? VADD(acc[u], bv) : acc[u];
        if (relu) t = VMAX(VZERO(), t);
        VSTOREU(yq + u * VL, t);
    }
}

/* Vector q of DWFLAT3's three copies of the plane (lim pixels; lanes past it
 * store zeros), with the column masks m (right taps' mask, then left's). */
static inline __attribute__((always_inline)) void
DWCOPYV(const FT *restrict x, int64_t lim, const FT *restrict m, int64_t q, FT *restrict xl,
        FT *restrict xc, FT *restrict xr)
{
    const VT v = q + VL <= lim ? VLOADU(x + q) : VMASKLOADU(x + q, VMASK(fml_conv_low_bits(lim - q, VL)));
    VSTOREU(xl + q, VANDM(v, m + VL));
    VSTOREU(xc + q, v);
    VSTOREU(xr + q, VANDM(v, m));
}

/* 'same' 3x3 depthwise (pad 1, stride 1): the plane as one flat run of pixels
 * q = 0 .. h*w - 1, whose tap (a, b) is x[q + (a-1)*w + b - 1] whatever the
 * row, so no lane is wasted on short rows (28 columns: 98 vectors a plane
 * instead of 112) and eight vectors share each weight broadcast.  The taps
 * read three copies of the plane in work (FML_CONV_DWFLAT_WORK elements, zero
 * on entry to a call): between zero rows (the padding above and below), and
 * for the taps b = 0 / b = 2 with column w-1 / column 0 zeroed, the pixels
 * that a lane of column 0 / w-1 would otherwise read from the neighbouring
 * row.  tab masks those columns: vector t starts at column (t*VL) mod w, so
 * entry t mod period (left mask, then right) serves it.  Every output sums
 * its nine products in DWROWS3's order; padding taps add 0*w where DWROWS3
 * skips the rows outside, which leaves the same bits for finite weights. */
static void DWFLAT3(const FT *restrict x, int64_t h, int64_t w, const FT *restrict wt,
                    const FT *restrict tab, int64_t period, FT *restrict work,
                    FT *restrict y, const FT *restrict bias, int relu)
{
    const int64_t lim = h * w, nv = (lim + VL - 1) / VL, len = FML_CONV_DWFLAT_LEN(h, w, VL);
    /* with work on a vector boundary, the taps of the middle row (a = 1) load
     * aligned vectors: xl + q - 1, xc + q, xr + q + 1 */
    FT *restrict xl = work + (w + VL - 1) / VL * VL + 1, *restrict xc = xl + len - 1,
                 *restrict xr = xc + len - 1;
    /* the copies: entry t of tab when it has one per vector, else t mod period
     * (a direct index measured 13% fewer instructions than the wrap-around) */
    if (period == nv)
        for (int64_t t = 0; t < nv; t++) DWCOPYV(x, lim, tab + t * 2 * VL, t * VL, xl, xc, xr);
    else
        for (int64_t t = 0, e = 0; t < nv; t++) {
            DWCOPYV(x, lim, tab + e * 2 * VL, t * VL, xl, xc, xr);
            if (++e == period) e = 0;
        }
    const int64_t nfull = lim / VL;
    int64_t t = 0;
    for (; t + 8 <= nfull; t += 8) {
        /* opaque copy: keeps the nine broadcasts in the block, not in registers */
        const FT *wq = wt;
        __asm__("" : "+r"(wq));
        DWFLATV(xl + t * VL, xc + t * VL, xr + t * VL, w, wq, 8, y + t * VL, bias, relu);
    }
    for (; t < nfull; t++)
        DWFLATV(xl + t * VL, xc + t * VL, xr + t * VL, w, wt, 1, y + t * VL, bias, relu);
    if (t < nv) {   /* the partial last vector, through the buffer's slack */
        FT yb[VL];
        DWFLATV(xl + t * VL, xc + t * VL, xr + t * VL, w, wt, 1, yb, bias, relu);
        memcpy(y + t * VL, yb, (size_t)(lim - t * VL) * sizeof(FT));
    }
}
#endif

/* The same for a 3x3 kernel with dilation 1 (depthwise 3x3, the common case):
 * each input row is loaded once per column tap and feeds the (up to) three
 * output rows it belongs to, with the nine weights held in registers, so the
 * loop is bound by FMAs rather than loads.  Accumulation order per output:
 * rows a = 0, 1, 2, columns b = 0, 1, 2 (as DWROWS); taps on rows outside the
 * input are skipped.  tab, work (NULL: none): the column masks and the
 * buffer of DWFLAT3, which then computes a 'same' plane. */
static void DWROWS3(const FT *restrict x, int64_t h, int64_t w, const FT *restrict wt,
                    int64_t ph0, int64_t pw0, const uint32_t *restrict mask, int64_t nvec,
                    FT *restrict y, int64_t ho, int64_t wo, const FT *restrict bias, int relu,
                    const FT *restrict tab, int64_t period, FT *restrict work)
{
#ifdef VANDM
    if (tab != NULL && work != NULL && ph0 == 1 && pw0 == 1 && ho == h && wo == w) {
        DWFLAT3(x, h, w, wt, tab, period, work, y, bias, relu);
        return;
    }
#else
    (void)tab;
    (void)period;
    (void)work;
#endif
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
