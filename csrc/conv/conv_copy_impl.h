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

/* dst[b] = src[b] for lo <= b < hi, fill for the other b < n: one masked load
 * (fill in the masked lanes) and one store per vector, no call per row (short
 * rows are the common case).  Only src[lo .. hi) is read. */
static inline void FML_FN(pad_row)(FT *restrict dst, const FT *restrict src, int64_t n,
                                   int64_t lo, int64_t hi, FT fill)
{
    const VT f = VSET1(fill);
    for (int64_t j = 0; j < n; j += VL) {
        const uint32_t in = fml_conv_low_bits(hi - j, VL) & ~fml_conv_low_bits(lo - j, VL);
        const VT v = in ? VMASKLOADU_OR(f, VMASK(in), src + j) : f;
        if (j + VL <= n) VSTOREU(dst + j, v);
        else VMASKSTOREU(dst + j, VMASK(fml_conv_low_bits(n - j, VL)), v);
    }
}

/* dst[b] = src[2*b] for b < n; src[0 .. 2n-1) readable. */
static inline void FML_FN(copy_row_s2)(FT *restrict dst, const FT *restrict src, int64_t n)
{
    int64_t b = 0;
    for (; 2 * (b + VL) <= 2 * n - 1; b += VL)
        VSTOREU(dst + b, VEVEN(VLOADU(src + 2 * b), VLOADU(src + 2 * b + VL)));
    for (; b < n; b++) dst[b] = src[2 * b];
}

static void COPYBAND(const conv_plan *p, const FT *restrict xn, int64_t oh0, int64_t rb, FT fill,
                     FT *restrict buf)
{
    const fml_conv2d_geom *g = &p->g;
    const int64_t hl = (g->h - 1) * p->uh + 1, wl = (g->w - 1) * p->uw + 1;
    const int64_t rq = rb + p->rowoff, wq = p->wq;
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
                for (int64_t a = 0; a < rq; a++) {
                    FT *restrict dst = plane + a * wq;
                    const int64_t u = (oh0 + a) * g->sh + rr - g->ph0;
                    if (u < 0 || u >= hl || u % p->uh != 0) {
                        FML_FN(fill_row)(dst, wq, fill);
                        continue;
                    }
                    const FT *restrict src = xn + (c * g->h + u / p->uh) * g->w;
                    if (g->sw == 1 && p->uw == 1) {
                        /* dst[b] = src[b - pw0]: src - pw0 is only read at [lo, hi) */
                        FML_FN(pad_row)(dst, src - g->pw0, wq, lo, hi, fill);
                        continue;
                    }
                    if (lo > 0) FML_FN(fill_row)(dst, lo, fill);
                    if (p->uw == 1 && hi > lo) {
                        const FT *restrict s0 = src + (lo * g->sw + rc - g->pw0);
                        if (g->sw == 2) {
                            FML_FN(copy_row_s2)(dst + lo, s0, hi - lo);
                        } else {
                            const int64_t sw = g->sw;
                            for (int64_t b = 0; b < hi - lo; b++) dst[lo + b] = s0[b * sw];
                        }
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
