/* conv_pool_impl.h: the max-pooling tile over flat pixels, run over the spans
 * of a band (see conv_ukr_impl.h for the flat layout, spans and segments),
 * written once over the vector vocabulary plus
 *
 *   VUPDATE(best, tapv, v, pv)  where v > best or v is NaN: best = v, tapv = pv
 *
 * (PyTorch's rule: NaN wins, the first of equal values wins).  PNV vectors per
 * tile; POOLMAX is the function name.  No include guard. */

static void POOLMAX(int64_t k, const FT *restrict x, const int64_t *restrict off,
                    const fml_conv_span *restrict span, int64_t nspan,
                    const fml_conv_seg *restrict seg, FT *restrict y, FT *restrict tap)
{
    for (int64_t t = 0; t < nspan; t++) {
        const FT *restrict xb = x + span[t].q0;
        const int64_t nload = span[t].nload;
        VT best[PNV], tv[PNV];
        MT lm[PNV];
#pragma GCC unroll 8
        for (int v = 0; v < PNV; v++) {
            best[v] = VSET1(-(FT)INFINITY);
            tv[v] = VSET1((FT)-1);
            lm[v] = VMASK(fml_conv_low_bits(nload - v * VL, VL));
        }
        const int full = nload >= PNV * VL;
        for (int64_t p = 0; p < k; p++) {
            const FT *restrict xp = xb + off[p];
            const VT pv = VSET1((FT)p);
#pragma GCC unroll 8
            for (int v = 0; v < PNV; v++) {
                /* masked-off lanes read as 0: they are past the band, never stored */
                const VT xv = full ? VLOADU(xp + v * VL) : VMASKLOADU(xp + v * VL, lm[v]);
                VUPDATE(best[v], tv[v], xv, pv);
            }
        }
        const fml_conv_seg *restrict sg = seg + span[t].s0;
        const int64_t ns = span[t].ns;
        int64_t s = 0;
#pragma GCC unroll 8
        for (int v = 0; v < PNV; v++) {
            for (; s < ns && sg[s].v == v; s++) {
                const MT sm = VMASK(sg[s].mask);
                VMASKSTOREU(y + sg[s].delta, sm, best[v]);
                if (tap != NULL) VMASKSTOREU(tap + sg[s].delta, sm, tv[v]);
            }
        }
    }
}

/* Max pooling of one plane straight from the input rows (no copy, no
 * indices), for column strides 1 and 2: output row i takes rows i*sh - ph0 +
 * a*dh; for stride 2 the 2*VL input columns of an output vector are loaded
 * and their even lanes kept (VEVEN).  Columns outside the input read as -inf
 * through the lane masks (mask[(b*nvec + j)*2 + half]).  A plane without NaN
 * (checked first: VANYNAN) takes VMAX(v, best) (= v > best ? v : best: the
 * first of equal values stays); one with NaN takes VMAXNAN(best, v) (compare
 * and blend: NaN wins, PyTorch's rule).  PROWS vectors per step; POOLROWS is
 * the name. */
/* The horizontal maxima of input row r for 3 taps at stride 2:
 * hr[o] = max(P[2o], P[2o + 1], P[2o + 2]) for o < wo, P the row shifted by pw0
 * and -inf outside it.  The row is split once into its even and odd columns
 * (e[o] = P[2o], od[o] = P[2o + 1]; e has wo + 1 entries), so the three taps
 * are plain loads.  Ties keep the first tap (VMAX(later, earlier)). */
static void FML_PASTE2(POOLROWS, hrow3)(const FT *restrict xr, int64_t w, int64_t pw0,
                                        int64_t wo, FT *restrict e, FT *restrict od,
                                        FT *restrict hr)
{
    const int64_t ne = wo + 1;
    int64_t o = 0;
    for (; o < ne; o++) {                              /* left edge: columns before 0 */
        const int64_t c = 2 * o - pw0;
        if (c >= 0) break;
        e[o] = c >= 0 ? xr[c] : -(FT)INFINITY;
        od[o] = c + 1 >= 0 && c + 1 < w ? xr[c + 1] : -(FT)INFINITY;
    }
    for (; o + VL <= ne && 2 * (o + VL) - pw0 <= w; o += VL) {
        const VT lo = VLOADU(xr + 2 * o - pw0), hi = VLOADU(xr + 2 * o - pw0 + VL);
        VSTOREU(e + o, VEVEN(lo, hi));
        VSTOREU(od + o, VODD(lo, hi));
    }
    for (; o < ne; o++) {                              /* right edge */
        const int64_t c = 2 * o - pw0;
        e[o] = c < w ? xr[c] : -(FT)INFINITY;
        od[o] = c + 1 < w ? xr[c + 1] : -(FT)INFINITY;
    }
    for (int64_t p = ne; p < ne + VL; p++) e[p] = od[p] = -(FT)INFINITY;
    for (o = 0; o < wo; o += VL)
        VSTOREU(hr + o, VMAX(VLOADU(e + o + 1), VMAX(VLOADU(od + o), VLOADU(e + o))));
}

/* 3x3 stride-2 max pooling of a plane without NaN, separable: each input row's
 * horizontal maxima (hrow3) are computed once and kept for the two output rows
 * that share it (a ring of three), each output row is the max of its three
 * rows, in row order (first of equal values, as the 9-tap scan). */
static void FML_PASTE2(POOLROWS, sep3)(const FT *restrict x, int64_t h, int64_t w, int64_t ph0,
                                       int64_t pw0, FT *restrict y, int64_t ho, int64_t wo,
                                       FT *restrict work)
{
    const int64_t len = wo + 2 * VL + 1;
    FT *e = work, *od = work + len, *ring = work + 2 * len;
    int64_t tag[3] = {-1, -1, -1};
    for (int64_t i = 0; i < ho; i++) {
        const FT *hr[3];
        int nr = 0;
        for (int64_t a = 0; a < 3; a++) {
            const int64_t r = 2 * i - ph0 + a;
            if (r < 0 || r >= h) continue;
            FT *slot = ring + (r % 3) * len;
            if (tag[r % 3] != r) {
                FML_PASTE2(POOLROWS, hrow3)(x + r * w, w, pw0, wo, e, od, slot);
                tag[r % 3] = r;
            }
            hr[nr++] = slot;
        }
        FT *restrict yr = y + i * wo;
        for (int64_t o = 0; o < wo; o += VL) {
            VT best = nr > 0 ? VLOADU(hr[0] + o) : VSET1(-(FT)INFINITY);
            for (int q = 1; q < nr; q++) best = VMAX(VLOADU(hr[q] + o), best);
            if (wo - o >= VL) VSTOREU(yr + o, best);
            else VMASKSTOREU(yr + o, VMASK(fml_conv_low_bits(wo - o, VL)), best);
        }
    }
}

static void POOLROWS(const FT *restrict x, int64_t h, int64_t w, int64_t kh, int64_t kw,
                     int64_t sh, int64_t sw, int64_t dh, int64_t dw, int64_t ph0, int64_t pw0,
                     const uint32_t *restrict mask, int64_t nvec, FT *restrict y, int64_t ho,
                     int64_t wo, FT *restrict work)
{
    const VT ninf = VSET1(-(FT)INFINITY);
    int nan = 0;
    {
        int64_t j = 0;
        const int64_t len = h * w;
        for (; j + VL <= len; j += VL) nan |= VANYNAN(VLOADU(x + j));
        for (; j < len; j++) nan |= x[j] != x[j];
    }
    if (!nan && work != NULL && kh == 3 && kw == 3 && sh == 2 && sw == 2 && dh == 1 && dw == 1) {
        FML_PASTE2(POOLROWS, sep3)(x, h, w, ph0, pw0, y, ho, wo, work);
        return;
    }
    for (int64_t i = 0; i < ho; i++) {
        for (int64_t j0 = 0; j0 < nvec; j0 += PROWS) {
            const int64_t nv = FML_MIN(PROWS, nvec - j0);
            VT best[PROWS];
#pragma GCC unroll 8
            for (int v = 0; v < PROWS; v++) best[v] = ninf;
            for (int64_t a = 0; a < kh; a++) {
                const int64_t ih = i * sh - ph0 + a * dh;
                if (ih < 0 || ih >= h) continue;
                const FT *restrict row = x + ih * w - pw0;
                for (int64_t b = 0; b < kw; b++) {
                    const uint32_t *restrict mb = mask + (b * nvec + j0) * 2;
                    const FT *restrict rb = row + b * dw + j0 * VL * sw;
#pragma GCC unroll 8
                    for (int v = 0; v < PROWS; v++) {
                        if (v >= nv) break;
                        VT val;
                        if (sw == 1) {
                            val = VMASKLOADU_OR(ninf, VMASK(mb[2 * v]), rb + v * VL);
                        } else {
                            const VT lo = VMASKLOADU_OR(ninf, VMASK(mb[2 * v]), rb + 2 * v * VL);
                            const VT hi = VMASKLOADU_OR(ninf, VMASK(mb[2 * v + 1]), rb + 2 * v * VL + VL);
                            val = VEVEN(lo, hi);
                        }
                        best[v] = nan ? VMAXNAN(best[v], val) : VMAX(val, best[v]);
                    }
                }
            }
            FT *restrict yr = y + i * wo + j0 * VL;
#pragma GCC unroll 8
            for (int v = 0; v < PROWS; v++) {
                if (v >= nv) break;
                const int64_t left = wo - (j0 + v) * VL;
                if (left >= VL) VSTOREU(yr + v * VL, best[v]);
                else VMASKSTOREU(yr + v * VL, VMASK(fml_conv_low_bits(left, VL)), best[v]);
            }
        }
    }
}
