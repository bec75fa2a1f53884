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
static void POOLROWS(const FT *restrict x, int64_t h, int64_t w, int64_t kh, int64_t kw,
                     int64_t sh, int64_t sw, int64_t dh, int64_t dw, int64_t ph0, int64_t pw0,
                     const uint32_t *restrict mask, int64_t nvec, FT *restrict y, int64_t ho,
                     int64_t wo)
{
    const VT ninf = VSET1(-(FT)INFINITY);
    int nan = 0;
    {
        int64_t j = 0;
        const int64_t len = h * w;
        for (; j + VL <= len; j += VL) nan |= VANYNAN(VLOADU(x + j));
        for (; j < len; j++) nan |= x[j] != x[j];
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
