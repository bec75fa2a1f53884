/* conv_pool_impl.h: the max-pooling tile over flat pixels (see conv_ukr_impl.h
 * for the flat layout and the store segments), written once over the vector
 * vocabulary plus
 *
 *   VUPDATE(best, tapv, v, pv)  where v > best or v is NaN: best = v, tapv = pv
 *
 * (PyTorch's rule: NaN wins, the first of equal values wins).  PNV vectors per
 * tile; POOLMAX is the function name.  No include guard. */

static void POOLMAX(int64_t k, const FT *restrict x, const int64_t *restrict off, int64_t nload,
                    FT *restrict y, FT *restrict tap, const fml_conv_seg *restrict seg,
                    int64_t nseg)
{
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
        const FT *restrict xp = x + off[p];
        const VT pv = VSET1((FT)p);
#pragma GCC unroll 8
        for (int v = 0; v < PNV; v++) {
            /* masked-off lanes read as 0: they are past the band, never stored */
            const VT xv = full ? VLOADU(xp + v * VL) : VMASKLOADU(xp + v * VL, lm[v]);
            VUPDATE(best[v], tv[v], xv, pv);
        }
    }
    int64_t s = 0;
#pragma GCC unroll 8
    for (int v = 0; v < PNV; v++) {
        for (; s < nseg && seg[s].v == v; s++) {
            const MT sm = VMASK(seg[s].mask);
            VMASKSTOREU(y + seg[s].delta, sm, best[v]);
            if (tap != NULL) VMASKSTOREU(tap + seg[s].delta, sm, tv[v]);
        }
    }
}
