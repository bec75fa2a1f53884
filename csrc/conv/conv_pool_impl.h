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
