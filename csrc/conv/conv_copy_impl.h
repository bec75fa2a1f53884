/* conv_copy_impl.h: the band copy of the plane layout (conv_plan.h, diagram in
 * conv_impl.h), compiled per ISA: rows of the input (or `fill`) into the stride
 * phase planes of a band.  Vector vocabulary as conv_ukr_impl.h plus
 * VEVEN(a, b): the even lanes of the 2*VL values a, b.  COPYBAND is the
 * function name.  No include guard. */

/* dst[0 .. n) = v */
static inline void FML_FN(fill_row)(FT *restrict dst, int64_t n, FT v)
{
    const VT f = VSET1(v);
    int64_t j = 0;
    for (; j + VL <= n; j += VL) VSTOREU(dst + j, f);
    if (j < n) VMASKSTOREU(dst + j, VMASK(fml_conv_low_bits(n - j, VL)), f);
}

/* Lane masks of a padded row copy, computed once per (channel, phase) and used
 * for every row: vector j of the destination takes source lanes m[2j] (stride
 * 1: the only load) or m[2j], m[2j + 1] (stride 2: the two loads whose even
 * lanes it keeps); lanes outside the input get the fill value. */
#define FML_CONV_ROW_MAXVEC 64

static void FML_FN(row_masks)(int64_t n, int64_t lo, int64_t hi, int64_t stride, uint32_t *m)
{
    for (int64_t j = 0; j * VL < n; j++) {
        if (stride == 1) {
            const int64_t p = j * VL;
            m[2 * j] = fml_conv_low_bits(hi - p, VL) & ~fml_conv_low_bits(lo - p, VL);
            m[2 * j + 1] = 0;
        } else {           /* source positions 2b for b in [lo, hi): 2lo .. 2hi-2 */
            const int64_t p0 = 2 * j * VL, p1 = p0 + VL;
            m[2 * j] = fml_conv_low_bits(2 * hi - 1 - p0, VL) & ~fml_conv_low_bits(2 * lo - p0, VL);
            m[2 * j + 1] = fml_conv_low_bits(2 * hi - 1 - p1, VL) & ~fml_conv_low_bits(2 * lo - p1, VL);
        }
    }
}

/* The lanes m of src, f in the others: a plain load when all lanes are in
 * (a masked load and blend cost several times more, and most vectors of a
 * row are whole). */
static inline VT FML_FN(load_lanes)(uint32_t m, const FT *restrict src, VT f)
{
    if (m == fml_conv_low_bits(VL, VL)) return VLOADU(src);
    return m ? VMASKLOADU_OR(f, VMASK(m), src) : f;
}

/* One padded row: dst[b] = src[stride*b] where the masks say, fill elsewhere. */
static inline void FML_FN(pad_row_masked)(FT *restrict dst, const FT *restrict src, int64_t n,
                                          int64_t stride, const uint32_t *restrict m, VT f)
{
    int64_t j = 0;
    for (; (j + 1) * VL <= n; j++) {
        VT v;
        if (stride == 1) {
            v = FML_FN(load_lanes)(m[2 * j], src + j * VL, f);
        } else {
            const VT a = FML_FN(load_lanes)(m[2 * j], src + 2 * j * VL, f);
            const VT c = FML_FN(load_lanes)(m[2 * j + 1], src + 2 * j * VL + VL, f);
            v = VEVEN(a, c);
        }
        VSTOREU(dst + j * VL, v);
    }
    if (j * VL < n) {
        VT v;
        if (stride == 1) {
            v = FML_FN(load_lanes)(m[2 * j], src + j * VL, f);
        } else {
            const VT a = FML_FN(load_lanes)(m[2 * j], src + 2 * j * VL, f);
            const VT c = FML_FN(load_lanes)(m[2 * j + 1], src + 2 * j * VL + VL, f);
            v = VEVEN(a, c);
        }
        VMASKSTOREU(dst + j * VL, VMASK(fml_conv_low_bits(n - j * VL, VL)), v);
    }
}

/* Both stride-2 column phases of one row at once: d0[b] = src[2b], d1[b] =
 * src[2b + 1] for b < n, fill outside the input; m[2j], m[2j + 1]: the lanes of
 * the two loads of output vector j whose columns are inside the input. */
static inline void FML_FN(pad_row_s2_pair)(FT *restrict d0, FT *restrict d1,
                                           const FT *restrict src, int64_t n,
                                           const uint32_t *restrict m, VT f)
{
    for (int64_t j = 0; j * VL < n; j++) {
        const VT a = FML_FN(load_lanes)(m[2 * j], src + 2 * j * VL, f);
        const VT c = FML_FN(load_lanes)(m[2 * j + 1], src + 2 * j * VL + VL, f);
        const VT e = VEVEN(a, c), o = VODD(a, c);
        if ((j + 1) * VL <= n) {
            VSTOREU(d0 + j * VL, e);
            VSTOREU(d1 + j * VL, o);
        } else {
            const MT t = VMASK(fml_conv_low_bits(n - j * VL, VL));
            VMASKSTOREU(d0 + j * VL, t, e);
            VMASKSTOREU(d1 + j * VL, t, o);
        }
    }
}

static void COPYBAND(const conv_plan *p, const FT *restrict xn, int64_t oh0, int64_t rb, FT fill,
                     FT *restrict buf)
{
    const fml_conv2d_geom *g = &p->g;
    const int64_t hl = (g->h - 1) * p->uh + 1, wl = (g->w - 1) * p->uw + 1;
    const int64_t rq = rb + p->rowoff, wq = p->wq;
    if (g->sw == 2 && p->nph_w == 2 && p->uw == 1 && p->uh == 1 &&
        (wq + VL - 1) / VL <= FML_CONV_ROW_MAXVEC) {
        /* stride-2 columns, both phases used: each source row loaded once */
        uint32_t masks[2 * FML_CONV_ROW_MAXVEC];
        for (int64_t j = 0; j * VL < wq; j++)
            for (int64_t half = 0; half < 2; half++) {
                const int64_t p0 = 2 * j * VL + half * VL;      /* column p0 + lane - pw0 */
                masks[2 * j + half] = fml_conv_low_bits(wl + g->pw0 - p0, VL) &
                                      ~fml_conv_low_bits(g->pw0 - p0, VL);
            }
        const VT fv = VSET1(fill);
        for (int64_t c = 0; c < g->c; c++)
            for (int64_t ia = 0; ia < p->nph_h; ia++) {
                const int64_t rr = p->ph_val_h[ia];
                FT *restrict pl0 = buf + ((c * p->nph_h + ia) * 2 + 0) * p->ps;
                FT *restrict pl1 = buf + ((c * p->nph_h + ia) * 2 + 1) * p->ps;
                for (int64_t a = 0; a < rq; a++) {
                    const int64_t u = (oh0 + a) * g->sh + rr - g->ph0;
                    if (u < 0 || u >= hl) {
                        FML_FN(fill_row)(pl0 + a * wq, wq, fill);
                        FML_FN(fill_row)(pl1 + a * wq, wq, fill);
                        continue;
                    }
                    FML_FN(pad_row_s2_pair)(pl0 + a * wq, pl1 + a * wq,
                                            xn + (c * g->h + u) * g->w - g->pw0, wq, masks, fv);
                }
            }
        return;
    }
    for (int64_t c = 0; c < g->c; c++)
        for (int64_t ia = 0; ia < p->nph_h; ia++)
            for (int64_t ib = 0; ib < p->nph_w; ib++) {
                const int64_t rr = p->ph_val_h[ia], rc = p->ph_val_w[ib];
                FT *restrict plane = buf + ((c * p->nph_h + ia) * p->nph_w + ib) * p->ps;
                /* columns b with input: v = b*sw + rc - pw0 in [0, wl) */
                int64_t lo = 0;
                while (lo < wq && lo * g->sw + rc - g->pw0 < 0) lo++;
                int64_t hi = lo;
                while (hi < wq && hi * g->sw + rc - g->pw0 < wl) hi++;
                /* stride 1 or 2 without upsampling: masked vector rows */
                uint32_t masks[2 * FML_CONV_ROW_MAXVEC];
                const int vec_rows = p->uw == 1 && (g->sw == 1 || g->sw == 2) &&
                                     (wq + VL - 1) / VL <= FML_CONV_ROW_MAXVEC;
                if (vec_rows) FML_FN(row_masks)(wq, lo, hi, g->sw, masks);
                const VT fv = VSET1(fill);
                for (int64_t a = 0; a < rq; a++) {
                    FT *restrict dst = plane + a * wq;
                    const int64_t u = (oh0 + a) * g->sh + rr - g->ph0;
                    if (u < 0 || u >= hl || u % p->uh != 0) {
                        FML_FN(fill_row)(dst, wq, fill);
                        continue;
                    }
                    const FT *restrict src = xn + (c * g->h + u / p->uh) * g->w;
                    if (vec_rows) {
                        /* dst[b] = src[sw*b + rc - pw0]: read only where the masks say */
                        FML_FN(pad_row_masked)(dst, src + rc - g->pw0, wq, g->sw, masks, fv);
                        continue;
                    }
                    if (lo > 0) FML_FN(fill_row)(dst, lo, fill);
                    if (p->uw == 1 && hi > lo) {
                        const FT *restrict s0 = src + (lo * g->sw + rc - g->pw0);
                        const int64_t sw = g->sw;
                        for (int64_t b = 0; b < hi - lo; b++) dst[lo + b] = s0[b * sw];
                    } else if (p->uw > 1) {
                        for (int64_t b = lo; b < hi; b++) {
                            const int64_t v = b * g->sw + rc - g->pw0;
                            dst[b] = v % p->uw == 0 ? src[v / p->uw] : fill;
                        }
                    }
                    if (hi < wq) FML_FN(fill_row)(dst + hi, wq - hi, fill);
                }
            }
}
