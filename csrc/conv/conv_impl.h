/* conv_impl.h: dtype-generic drivers of csrc/conv (copy bands, tile loops,
 * threads, backward passes, pooling, batch norm).  No include guard: included
 * once per dtype by conv.c with FT and SFX set.
 *
 * The flat plane layout.  A band of output rows [oh0, oh0 + R) reads input rows
 * from its stride phase planes: for stride s, tap a (dilation d) of output row
 * i reads padded row i*s + a*d, which is row i + (a*d)/s of phase (a*d)%s.  A
 * plane row holds Wq = Wo + ((KW-1)*dw)/sw columns, so output (i, j) is flat
 * pixel q = (i - oh0)*Wq + j and tap (c, a, b) reads plane(c, phases) at
 * q + off[c, a, b]:
 *
 *        plane of channel c, phase (0, 0), stride 1, 3x3, pad 1     Wq = Wo + 2
 *        +---+---------------------------+---+
 *   row0 | 0 |  x[c, oh0-1, :]           | 0 |   q = 0 .. Wo-1   valid
 *   row1 | 0 |  x[c, oh0,   :]           | 0 |   q = Wo, Wo+1    pad columns:
 *   ...  |   |                           |   |   computed, never stored
 *        +---+---------------------------+---+
 *   tap (a, b) of flat pixel q is at q + a*Wq + b
 *
 * A register tile covers MR output channels x NR consecutive flat pixels: NR
 * plain (unaligned) vector loads per tap whatever the stride, the pad columns
 * cost (Wq - Wo)/Wq of the work and are masked out at the store.  The same
 * planes and offsets serve pooling (one channel per tile), the data gradient
 * (a convolution of the upsampled output gradient with the flipped kernel) and
 * the weight gradient (flat pixels are the reduction). */

#define TILE_T FML_T(fml_conv_tile)
#define KSEL(name) FML_PASTE2(name, SFX)

/* The source planes of band (n, oh0, rb): x itself (zero copy) or buf filled. */
static const FT *FML_T(band_source)(const conv_plan *p, const FT *x, int64_t n, int64_t oh0,
                                    int64_t rb, FT fill, FT *buf)
{
    const fml_conv2d_geom *g = &p->g;
    if (p->zero_copy) return x + (n * g->c * g->h + oh0) * g->w;
    KSEL(fml_conv_kernels_get()->copy_band)(p, x + n * g->c * g->h * g->w, oh0, rb, fill, buf);
    return buf;
}

/* An FT whose bits are all set (a lane mask for VANDM). */
static FT FML_T(conv_all_ones)(void)
{
    FT v;
    memset(&v, 0xff, sizeof v);
    return v;
}

/* Stride-1 convolution with few output channels per group (depthwise): each
 * output plane from the input rows directly (conv_dw_impl.h), planes in
 * parallel. */
static int FML_T(conv_rows_run)(const conv_plan *p, const FT *x, const FT *w, const FT *bias,
                                int act, FT *y, int64_t n_threads)
{
    const fml_conv2d_geom *g = &p->g;
    const fml_conv_kernels *kt = fml_conv_kernels_get();
    const int64_t ng = g->groups, cg = g->c / ng, og = g->o / ng;
    const int64_t vl = kt->KSEL(dw).vl, nvec = (g->wo + vl - 1) / vl;
    const int64_t k = cg * g->kh * g->kw, planes = g->n * g->o;
    uint32_t *mask = (uint32_t *)malloc((size_t)(g->kw * nvec) * sizeof(uint32_t));
    FT *zrow = (FT *)calloc((size_t)FML_MAX(g->w, 1), sizeof(FT));
    if (mask == NULL || zrow == NULL) {
        free(mask);
        free(zrow);
        return FML_ENOMEM;
    }
    for (int64_t b = 0; b < g->kw; b++)
        for (int64_t v = 0; v < nvec; v++) {
            uint32_t bits = 0;
            for (int64_t l = 0; l < vl; l++) {
                const int64_t j = v * vl + l, col = j + b * g->dw - g->pw0;
                if (j < g->wo && col >= 0 && col < g->w) bits |= 1u << l;
            }
            mask[b * nvec + v] = bits;
        }
    const int dw3 = cg == 1 && g->kh == 3 && g->kw == 3 && g->dh == 1 && g->dw == 1;
    /* 'same' planes: the column masks of the flat run (conv_dw_impl.h DWFLAT3),
     * entry e lane l for column (e*vl + l) mod w: left taps, then right taps */
    int64_t period = 1;
    FT *tab = NULL;
    if (dw3 && kt->dw_flat && g->ph0 == 1 && g->pw0 == 1 && g->ho == g->h && g->wo == g->w &&
        g->h * g->w <= FML_CONV_DWFLAT_MAXHW) {
        for (int64_t a = g->w, b = vl; b != 0;) {   /* period = w / gcd(w, vl) */
            const int64_t r = a % b;
            a = b;
            b = r;
            period = g->w / a;
        }
        /* a plane of few vectors gets an entry per vector: the copy loop then
           indexes it directly, without the period's wrap-around */
        const int64_t nvp = (g->h * g->w + vl - 1) / vl;
        if (nvp * 2 * vl * (int64_t)sizeof(FT) <= FML_CONV_DWFLAT_TAB_BYTES) period = nvp;
        tab = (FT *)malloc((size_t)(period * 2 * vl) * sizeof(FT));
        if (tab == NULL) {
            free(mask);
            free(zrow);
            return FML_ENOMEM;
        }
        const FT ones = FML_T(conv_all_ones)(), zero = (FT)0;
        for (int64_t e = 0; e < period; e++)
            for (int64_t l = 0; l < vl; l++) {
                const int64_t col = (e * vl + l) % g->w;
                tab[(2 * e) * vl + l] = col != 0 ? ones : zero;
                tab[(2 * e + 1) * vl + l] = col != g->w - 1 ? ones : zero;
            }
    }
    const int nt = conv_threads(n_threads, planes, 2.0 * (double)planes * (double)(g->ho * g->wo) *
                                                     (double)k);
    (void)nt;
    const size_t work_el = tab != NULL ? (size_t)FML_CONV_DWFLAT_WORK(g->h, g->w, vl) : 0;
    int err = FML_OK;
#pragma omp parallel num_threads(nt) reduction(| : err)
    {
        FT *work = NULL;
        if (tab != NULL) {   /* the flat run's copies, zero outside the planes */
            work = (FT *)fml_scratch_thread(FML_CONV_SLOT, work_el * sizeof(FT));
            if (work == NULL) err |= FML_ENOMEM;
            else memset(work, 0, work_el * sizeof(FT));
        }
#pragma omp for schedule(static)
        for (int64_t pl = 0; pl < planes; pl++) {
            if (err != FML_OK) continue;
            const int64_t n = pl / g->o, o = pl % g->o, gi = o / og;
            if (dw3) {
                KSEL(kt->dw_rows3)(x + (n * g->c + gi) * g->h * g->w, g->h, g->w, w + o * 9,
                                   g->ph0, g->pw0, mask, nvec, y + pl * g->ho * g->wo, g->ho,
                                   g->wo, bias != NULL ? bias + o : NULL, act == FML_ACT_RELU,
                                   tab, period, work);
                continue;
            }
            KSEL(kt->dw_rows)(x + (n * g->c + gi * cg) * g->h * g->w, cg, g->h, g->w, w + o * k,
                              g->kh, g->kw, g->dh, g->dw, g->ph0, g->pw0, mask, nvec,
                              y + pl * g->ho * g->wo, g->ho, g->wo,
                              bias != NULL ? bias + o : NULL, act == FML_ACT_RELU, zrow);
        }
    }
    free(mask);
    free(zrow);
    free(tab);
    return err;
}

/* Channels-in-lanes pass of plan p (copy mode: the band buffer has slack for
 * the tiles' reads past its end): per band, per panel of cnr output channels,
 * tiles of cmr pixels scattered into NCHW. */
static int FML_T(conv_ctile_run)(const conv_plan *p, const FT *x, const FT *w, const FT *bias,
                                 int act, FT *y, int64_t n_threads)
{
    const fml_conv2d_geom *g = &p->g;
    const fml_conv_kernels *kt = fml_conv_kernels_get();
    const FML_T(fml_conv_ctile_desc) tile = kt->KSEL(ctile);
    const int64_t ng = g->groups, cg = g->c / ng, og = g->o / ng;
    const int64_t k = cg * g->kh * g->kw, howo = g->ho * g->wo;
    const int64_t nr = tile.nr, n_ot = (og + nr - 1) / nr;
    const int64_t cstride = p->nph_h * p->nph_w * p->ps;
    int64_t *off = (int64_t *)malloc((size_t)FML_MAX(k, 1) * sizeof(int64_t));
    FT *bpack = (FT *)fml_scratch_alloc((size_t)(ng * n_ot * FML_MAX(k, 1) * nr) * sizeof(FT));
    FT *bpad = (FT *)fml_scratch_alloc((size_t)(ng * n_ot * nr) * sizeof(FT));
    int err = off == NULL || bpack == NULL || bpad == NULL ? FML_ENOMEM : FML_OK;
    for (int64_t gt = 0; err == FML_OK && gt < ng * n_ot; gt++) {
        const int64_t gi = gt / n_ot, t = gt % n_ot, nj = FML_MIN(nr, og - t * nr);
        FT *restrict dst = bpack + gt * k * nr;
        const FT *restrict src = w + (gi * og + t * nr) * k;
        /* blocks of 16 taps: the nj source rows and the destination stay in L1 */
        for (int64_t q0 = 0; q0 < k; q0 += 16)
            for (int64_t j = 0; j < nr; j++)
                for (int64_t q = q0; q < FML_MIN(k, q0 + 16); q++)
                    dst[q * nr + j] = j < nj ? src[j * k + q] : (FT)0;
        for (int64_t j = 0; j < nr; j++)
            bpad[gt * nr + j] = j < nj && bias != NULL ? bias[gi * og + t * nr + j] : (FT)0;
    }
    if (err != FML_OK) {
        free(off);
        fml_scratch_free(bpack);
        fml_scratch_free(bpad);
        return err;
    }
    plan_offsets(p, cg, off);
    const int64_t n_tasks = g->n * p->n_bands;
    const int nt = conv_threads(n_threads, n_tasks, 2.0 * (double)g->n * (double)g->o *
                                                        (double)howo * (double)k);
    (void)nt;
#pragma omp parallel num_threads(nt) reduction(| : err)
    {
        FT *buf = (FT *)fml_scratch_thread(FML_CONV_SLOT, (size_t)(p->band_elems + FML_CONV_CMR_MAX) *
                                                              sizeof(FT));
        fml_conv_cspan *span = (fml_conv_cspan *)malloc(
            (size_t)band_max_cspans(p->rows, p->wq, tile.mr) * sizeof(fml_conv_cspan));
        if (buf == NULL || span == NULL) err |= FML_ENOMEM;
        else memset(buf + p->band_elems, 0, FML_CONV_CMR_MAX * sizeof(FT));
#pragma omp for schedule(static)
        for (int64_t task = 0; task < n_tasks; task++) {
            if (err != FML_OK) continue;
            const int64_t n = task / p->n_bands, oh0 = (task % p->n_bands) * p->rows;
            const int64_t rb = FML_MIN(p->rows, g->ho - oh0), nflat = (rb - 1) * p->wq + g->wo;
            const FT *src = FML_T(band_source)(p, x, n, oh0, rb, (FT)0, buf);
            const int64_t nspan = band_cspans(nflat, p->wq, g->wo, tile.mr, span);
            /* whole-image bands: pull the next image's input into L2 meanwhile,
             * a slice per channel panel (static schedule: usually this thread's) */
            const int64_t img = g->c * g->h * g->w * (int64_t)sizeof(FT);
            const int pf_next = p->n_bands == 1 && n + 1 < g->n && p->uh == 1 && p->uw == 1;
            const char *pf = pf_next ? (const char *)(x + (n + 1) * g->c * g->h * g->w) : NULL;
            const int64_t slice = (img / (ng * n_ot) + 63) / 64 * 64;
            for (int64_t gi = 0; gi < ng; gi++) {
                const FT *xs = src + gi * cg * cstride;
                FT *yg = y + ((n * g->o + gi * og) * g->ho + oh0) * g->wo;
                for (int64_t t = 0; t < n_ot; t++) {
                    const int64_t s0 = (gi * n_ot + t) * slice;
                    tile.ukr(k, bpack + (gi * n_ot + t) * k * nr, xs, off, span, nspan,
                             yg + t * nr * howo, howo, FML_MIN(nr, og - t * nr),
                             bias != NULL ? bpad + (gi * n_ot + t) * nr : NULL,
                             act == FML_ACT_RELU, pf != NULL && s0 < img ? pf + s0 : NULL,
                             FML_MIN(slice, img - s0));
                }
            }
        }
        free(span);
    }
    free(off);
    fml_scratch_free(bpack);
    fml_scratch_free(bpad);
    return err;
}

/* Weights of each group's channel tiles of mr as a[p*mr + i] (tile gt at
 * apack + gt*k*mr) and their biases (bpad + gt*mr), zero past og. */
static void FML_T(pack_weight_tiles)(const FT *w, const FT *bias, int64_t ng, int64_t og,
                                     int64_t k, int64_t mr, FT *apack, FT *bpad)
{
    const int64_t n_ot = (og + mr - 1) / mr;
    for (int64_t gt = 0; gt < ng * n_ot; gt++) {
        const int64_t gi = gt / n_ot, t = gt % n_ot;
        FT *restrict dst = apack + gt * k * mr;
        for (int64_t i = 0; i < mr; i++) {
            const int64_t o = t * mr + i;
            const FT *restrict src = w + (gi * og + o) * k;
            for (int64_t q = 0; q < k; q++) dst[q * mr + i] = o < og ? src[q] : (FT)0;
            bpad[gt * mr + i] = o < og && bias != NULL ? bias[gi * og + o] : (FT)0;
        }
    }
}

/* Channel tiles [t0, t1) of the packed weights ag (tile t: k taps x mr at
 * ag + t*k*mr; og channels) on the flat pixels [q0, q1) of planes xs (tap p of
 * pixel q at xs[off[p] + q]; q0 a multiple of nr): per block of kc taps, per
 * panel of nr pixels, the panel is packed and every tile runs on it, into
 * C[(t*mr + i)*ldc + q] (bias: bpad + t*mr, or NULL).  pfd: see PGPACK. */
static void FML_T(pgemm_tiles)(const FML_T(fml_conv_pgemm_desc) *pg, int64_t k, int64_t kc,
                               const FT *ag, int64_t t0, int64_t t1, int64_t og, const FT *xs,
                               const int64_t *off, int64_t q0, int64_t q1, int64_t pfd, FT *c,
                               int64_t ldc, const FT *bpad, int relu, FT *panel)
{
    const int64_t mr = pg->mr, nr = pg->nr;
    for (int64_t pc = 0; pc < k; pc += kc) {
        const int64_t kb = FML_MIN(kc, k - pc);
        for (int64_t q = q0; q < q1; q += nr) {
            const int64_t nv = FML_MIN(nr, q1 - q);
            pg->pack(kb, xs + q, off + pc, nv, 0, panel);
            for (int64_t t = t0; t < t1; t++) {
                if (pfd != 0) {                    /* a slice of a later panel's lines per tile */
                    const int64_t r0 = (t - t0) * kb / (t1 - t0), r1 = (t + 1 - t0) * kb / (t1 - t0);
                    for (int64_t r = r0; r < r1; r++) __builtin_prefetch(xs + q + pfd + off[pc + r], 0, 2);
                }
                const int64_t m = FML_MIN(mr, og - t * mr);
                (m <= pg->mr_short ? pg->ukr_short : pg->ukr)(
                    kb, ag + t * k * mr + pc * mr, panel, c + t * mr * ldc + q, ldc, m, nv, pc == 0,
                    pc + kb == k, bpad != NULL ? bpad + t * mr : NULL, relu);
            }
        }
    }
}

/* Packed-pixel pass of plan p (dense groups, conv_pgemm_impl.h).  Per task
 * (image, band), per block of tiles (output channels whose weights for kc
 * taps stay in L2), per block of kc taps, per panel of nr flat pixels: the
 * panel's taps are copied into an L1 buffer and every channel tile of the
 * block runs on it.  Partial sums wait in C between tap blocks, each output
 * continuing its one FMA chain, so the result is the flat tile's bit for bit.
 * C is y itself when flat pixels are the output pixels (wq == wo, e.g. 1x1),
 * else a per-thread tile copied into y without the pad columns. */
static int FML_T(conv_pgemm_run)(const conv_plan *p, const FT *x, const FT *w, const FT *bias,
                                 int act, FT *y, int64_t n_threads)
{
    const fml_conv2d_geom *g = &p->g;
    const FML_T(fml_conv_pgemm_desc) pg = fml_conv_kernels_get()->KSEL(pgemm);
    const int64_t ng = g->groups, cg = g->c / ng, og = g->o / ng;
    const int64_t k = cg * g->kh * g->kw, howo = g->ho * g->wo;
    const int64_t mr = pg.mr, nr = pg.nr, n_ot = (og + mr - 1) / mr;
    const int64_t kc = FML_MAX(1, FML_CONV_PGEMM_PANEL_BYTES / (nr * (int64_t)sizeof(FT)));
    const int64_t tb = FML_MAX(1, FML_CONV_PGEMM_WEIGHT_BYTES / (kc * mr * (int64_t)sizeof(FT)));
    const int64_t cstride = p->nph_h * p->nph_w * p->ps;
    const int direct = p->wq == g->wo;
    const int64_t ldt = (p->rows * p->wq + nr - 1) / nr * nr;   /* C tile row (not direct) */
    int64_t *off = (int64_t *)malloc((size_t)FML_MAX(k, 1) * sizeof(int64_t));
    FT *apack = (FT *)fml_scratch_alloc((size_t)(ng * n_ot * FML_MAX(k, 1) * mr) * sizeof(FT));
    FT *bpad = (FT *)fml_scratch_alloc((size_t)(ng * n_ot * mr) * sizeof(FT));
    int err = off == NULL || apack == NULL || bpad == NULL ? FML_ENOMEM : FML_OK;
    if (err == FML_OK) FML_T(pack_weight_tiles)(w, bias, ng, og, k, mr, apack, bpad);
    if (err != FML_OK) {
        free(off);
        fml_scratch_free(apack);
        fml_scratch_free(bpad);
        return err;
    }
    plan_offsets(p, cg, off);
    const int64_t n_tasks = g->n * p->n_bands;
    const int nt = conv_threads(n_threads, n_tasks, 2.0 * (double)g->n * (double)g->o *
                                                        (double)howo * (double)k);
    (void)nt;
    const int64_t intr = fml_interrupt_token();
    const int relu = act == FML_ACT_RELU;
    /* planes in memory (zero copy): each panel pulls a later one's lines into L2 */
    const int64_t pfd = p->zero_copy ? FML_CONV_PGEMM_PF_PANELS * nr : 0;
#pragma omp parallel num_threads(nt) reduction(| : err)
    {
        FT *buf = NULL;
        if (!p->zero_copy) {
            buf = (FT *)fml_scratch_thread(FML_CONV_SLOT, (size_t)FML_MAX(p->band_elems, 1) * sizeof(FT));
            if (buf == NULL) err |= FML_ENOMEM;
        }
        const size_t work_el = (size_t)(kc * nr) + (direct ? 0 : (size_t)(n_ot * mr * ldt));
        FT *panel = (FT *)fml_scratch_thread(FML_CONV_SLOT + 1, work_el * sizeof(FT));
        if (panel == NULL) err |= FML_ENOMEM;
        FT *ctile = panel + kc * nr;
#pragma omp for schedule(dynamic, 1)
        for (int64_t task = 0; task < n_tasks; task++) {
            if (err == FML_OK && fml_interrupted(intr)) err |= FML_EINTR;
            if (err != FML_OK) continue;
            const int64_t n = task / p->n_bands, oh0 = (task % p->n_bands) * p->rows;
            const int64_t rb = FML_MIN(p->rows, g->ho - oh0), nflat = (rb - 1) * p->wq + g->wo;
            const FT *src = FML_T(band_source)(p, x, n, oh0, rb, (FT)0, buf);
            for (int64_t gi = 0; gi < ng; gi++) {
                const FT *xs = src + gi * cg * cstride;
                const FT *ag = apack + gi * n_ot * k * mr;
                FT *yg = y + ((n * g->o + gi * og) * g->ho + oh0) * g->wo;
                FT *c = direct ? yg : ctile;
                const int64_t ldc = direct ? howo : ldt;
                for (int64_t t0 = 0; t0 < n_ot; t0 += tb)
                    FML_T(pgemm_tiles)(&pg, k, kc, ag, t0, FML_MIN(n_ot, t0 + tb), og, xs, off, 0,
                                       nflat, pfd, c, ldc, bias != NULL ? bpad + gi * n_ot * mr : NULL,
                                       relu, panel);
                if (!direct)                       /* the valid columns of each row */
                    for (int64_t o = 0; o < og; o++)
                        for (int64_t r = 0; r < rb; r++)
                            memcpy(yg + o * howo + r * g->wo, ctile + o * ldt + r * p->wq,
                                   (size_t)g->wo * sizeof(FT));
            }
        }
    }
    free(off);
    fml_scratch_free(apack);
    fml_scratch_free(bpad);
    return err;
}

/* n elements rounded up to an odd number of 64-byte lines: up to 64 blocks
 * that far apart start on different L1 sets (blocks a multiple of 4 KB apart
 * all start on one). */
static int64_t FML_T(wino_block_stride)(int64_t n)
{
    const int64_t line = 64 / (int64_t)sizeof(FT), lines = (n + line - 1) / line;
    return (lines | 1) * line;
}

/* Winograd F(2x2, 3x3) forward of a stride-1, dilation-1 3x3 convolution
 * (groups 1): per band of tile rows, the input tiles are transformed
 * (conv_wino_impl.h), the 16 products M_xi = U_xi V_xi run on the packed-pixel
 * tile (pgemm_tiles: tiles as pixels, input channels as the reduction; with the
 * smaller bands below, 8x64x56x56 at 1 thread: 1.09x -> 1.18x torch channels_last
 * in the bench), and the
 * outputs are transformed back straight into NCHW with bias and activation.
 * 16 multiplications per 2x2 outputs instead of 36; all bands and products in
 * a fixed order per output, so results do not depend on the thread count. */
static int FML_T(conv_wino_run)(const fml_conv2d_geom *g, const FT *x, const FT *w,
                                const FT *bias, int act, FT *y, int64_t n_threads)
{
    const fml_conv_kernels *kt = fml_conv_kernels_get();
    const FML_T(fml_conv_pgemm_desc) pg = kt->KSEL(pgemm);
    const int64_t c = g->c, o = g->o, mr = pg.mr, n_ot = (o + mr - 1) / mr;
    const int64_t vl = kt->KSEL(dense).vl, howo = g->ho * g->wo;
    const int64_t kc = FML_MAX(1, FML_CONV_PGEMM_PANEL_BYTES / (pg.nr * (int64_t)sizeof(FT)));
    const int64_t th = (g->ho + 1) / 2, tw = (g->wo + 1) / 2, twp = (tw + vl - 1) / vl * vl;
    const int64_t pw = twp + 1;
    /* tile rows per band: the transformed band (16 x (c + o) x tiles) within half
       of a 1 MB L2, beside the input planes (1 MB: 17.9 against 17.5 ms,
       standalone, 1 thread, 8x64x56x56) */
    int64_t tr = (512 * 1024 / (int64_t)sizeof(FT)) / (16 * (c + o) * twp);
    tr = FML_MAX(1, FML_MIN(tr, 8));
    tr = FML_MIN(tr, th);
    const int64_t nb = (th + tr - 1) / tr, ntile = tr * twp, nrows = 2 * tr + 2;
    /* U_xi = G g G^T packed per channel tile as a[c*mr + i] for the flat-pixel tile */
    FT *apack = (FT *)fml_scratch_alloc((size_t)(16 * n_ot * c * mr) * sizeof(FT));
    int64_t *off = (int64_t *)malloc((size_t)FML_MAX(c, 1) * sizeof(int64_t));
    if (apack == NULL || off == NULL) {
        fml_scratch_free(apack);
        free(off);
        return FML_ENOMEM;
    }
    memset(apack, 0, (size_t)(16 * n_ot * c * mr) * sizeof(FT));
    for (int64_t oi = 0; oi < o; oi++)
        for (int64_t ci = 0; ci < c; ci++) {
            const FT *restrict k3 = w + (oi * c + ci) * 9;
            double gg[4][3], u[4][4];
            for (int64_t b = 0; b < 3; b++) {                 /* G g */
                const double g0 = (double)k3[0 * 3 + b], g1 = (double)k3[1 * 3 + b];
                const double g2 = (double)k3[2 * 3 + b];
                gg[0][b] = g0;
                gg[1][b] = 0.5 * (g0 + g1 + g2);
                gg[2][b] = 0.5 * (g0 - g1 + g2);
                gg[3][b] = g2;
            }
            for (int64_t i = 0; i < 4; i++) {                 /* (G g) G^T */
                u[i][0] = gg[i][0];
                u[i][1] = 0.5 * (gg[i][0] + gg[i][1] + gg[i][2]);
                u[i][2] = 0.5 * (gg[i][0] - gg[i][1] + gg[i][2]);
                u[i][3] = gg[i][2];
            }
            for (int64_t xi = 0; xi < 16; xi++)
                apack[((xi * n_ot + oi / mr) * c + ci) * mr + oi % mr] = (FT)u[xi / 4][xi % 4];
        }
    for (int64_t ci = 0; ci < c; ci++) off[ci] = ci * ntile;
    /* V's and M's 16 blocks an odd number of lines apart (8x64x56x56: c * ntile
     * floats is 16 KB, so the 16 streams of each transform shared one L1 set) */
    const int64_t sv = FML_T(wino_block_stride)(c * ntile), sm = FML_T(wino_block_stride)(o * ntile);
    const size_t eo_el = (size_t)(c * nrows * 2 * pw), v_el = (size_t)(16 * sv);
    const size_t buf_el = eo_el + v_el + (size_t)(16 * sm);
    const int64_t n_tasks = g->n * nb;
    const int nt = conv_threads(n_threads, n_tasks, 2.0 * 9.0 * (double)g->n * (double)o *
                                                        (double)howo * (double)c);
    (void)nt;
    int err = FML_OK;
    const int64_t intr = fml_interrupt_token();
#pragma omp parallel num_threads(nt) reduction(| : err)
    {
        FT *buf = (FT *)fml_scratch_thread(FML_CONV_SLOT, buf_el * sizeof(FT));
        FT *panel = (FT *)fml_scratch_thread(FML_CONV_SLOT + 1, (size_t)(kc * pg.nr) * sizeof(FT));
        if (buf == NULL || panel == NULL) err |= FML_ENOMEM;
#pragma omp for schedule(dynamic, 1)
        for (int64_t task = 0; task < n_tasks; task++) {
            if (err == FML_OK && fml_interrupted(intr)) err |= FML_EINTR;
            if (err != FML_OK) continue;
            const int64_t n = task / nb, r0 = (task % nb) * tr, trb = FML_MIN(tr, th - r0);
            FT *eo = buf, *V = buf + eo_el, *M = buf + eo_el + v_el;
            KSEL(kt->wino_copy)(x + n * c * g->h * g->w, c, g->h, g->w, g->ph0, g->pw0, 2 * r0,
                                2 * trb + 2, pw, eo);
            KSEL(kt->wino_in)(eo, c, trb, twp, pw, V, ntile, sv);
            for (int64_t xi = 0; xi < 16; xi++)
                FML_T(pgemm_tiles)(&pg, c, kc, apack + xi * n_ot * c * mr, 0, n_ot, o,
                                   V + xi * sv, off, 0, trb * twp, 0, M + xi * sm,
                                   ntile, NULL, 0, panel);
            KSEL(kt->wino_out)(M, o, trb, twp, ntile, sm, y + n * o * howo + 2 * r0 * g->wo, howo,
                               g->wo, g->ho - 2 * r0, bias, act == FML_ACT_RELU);
        }
    }
    fml_scratch_free(apack);
    free(off);
    return err;
}

/* The kernel for plan p (not Winograd): rows for few output channels per group
 * at stride 1, else channels-in-lanes or flat-pixel tiles by the work estimate. */
static int FML_T(conv_choose)(const conv_plan *p)
{
    const fml_conv2d_geom *g = &p->g;
    const fml_conv_kernels *kt = fml_conv_kernels_get();
    const int64_t og = g->o / g->groups, k = g->c / g->groups * g->kh * g->kw;
    const TILE_T dense = kt->KSEL(dense);
    const TILE_T tile = og * 2 < dense.mr ? kt->KSEL(dw) : dense;
    if (tile.mr == 1 && g->sh == 1 && g->sw == 1 && p->uh == 1 && p->uw == 1)
        return FML_CONV_ALG_ROWS;
    const FML_T(fml_conv_ctile_desc) ct = kt->KSEL(ctile);
    if (!p->zero_copy && (double)(g->ho * g->wo) * (double)ct.nr < 2147483647.0 &&
        plan_eff_ctile(p, og, k, ct.mr, ct.nr) > plan_eff_flat(p, og, k, tile.mr, tile.nv, tile.vl))
        return FML_CONV_ALG_CTILE;
    /* planes read in place (zero copy) stream one line per tap from memory: pack
     * them (measured, 1x1 256 -> 64 at 56x56: 14.5 -> 10.0 ms).  Band copies
     * are in L2, but with thousands of taps per output the flat tile's one
     * stream per tap thrashes L1 as well: pack those too (FML_CONV_PACKED_MIN_K;
     * with fewer taps packing measured slower: the 7x7 stride-2 stem 22.1 ->
     * 23.6 ms, 3x3 stride 2 256 -> 256 at 14x14 7.3 -> 7.6 ms) */
    return tile.mr > 1 && g_packed && (p->zero_copy || k >= FML_CONV_PACKED_MIN_K)
               ? FML_CONV_ALG_PACKED
               : FML_CONV_ALG_FLAT;
}

/* Forward pass of plan p: y = act(conv(x, w) + bias).  The tile is chosen by
 * output channels per group: the dense tile (MR channels share each pixel load)
 * unless a group has too few channels to fill half of it (depthwise). */
static int FML_T(conv_run)(const conv_plan *p, const FT *x, const FT *w, const FT *bias,
                           int act, FT *y, int64_t n_threads)
{
    const fml_conv2d_geom *g = &p->g;
    const fml_conv_kernels *kt = fml_conv_kernels_get();
    const int64_t ng = g->groups, cg = g->c / ng, og = g->o / ng;
    const int64_t k = cg * g->kh * g->kw, howo = g->ho * g->wo;
    const TILE_T dense = kt->KSEL(dense);
    const TILE_T tile = og * 2 < dense.mr ? kt->KSEL(dw) : dense;
    const int64_t mr = tile.mr, n_ot = (og + mr - 1) / mr;
    const int alg = FML_T(conv_choose)(p);
    if (alg == FML_CONV_ALG_ROWS) return FML_T(conv_rows_run)(p, x, w, bias, act, y, n_threads);
    if (alg == FML_CONV_ALG_PACKED) {     /* longer bands: fewer panels start unprefetched */
        conv_plan pz;
        int err = plan_make(&pz, g, p->uh, p->uw, (int64_t)sizeof(FT), FML_CONV_PGEMM_BAND_BYTES,
                            8, 0);
        if (err == FML_OK) err = FML_T(conv_pgemm_run)(&pz, x, w, bias, act, y, n_threads);
        plan_free(&pz);
        return err;
    }
    if (alg == FML_CONV_ALG_CTILE) {
        /* larger bands: the packed weights stream from L2 once per band */
        conv_plan pc;
        int err = plan_make(&pc, g, p->uh, p->uw, (int64_t)sizeof(FT), FML_CONV_CTILE_BAND_BYTES,
                            8, 0);
        if (err == FML_OK) err = FML_T(conv_ctile_run)(&pc, x, w, bias, act, y, n_threads);
        plan_free(&pc);
        return err;
    }
    const int64_t cstride = p->nph_h * p->nph_w * p->ps;   /* elements between channels */
    int64_t *off = (int64_t *)malloc((size_t)(k + 16) * sizeof(int64_t));
    FT *apack = NULL, *bpad = NULL;
    int err = off == NULL ? FML_ENOMEM : FML_OK;
    if (err == FML_OK && mr > 1) {
        /* weights of each group's channel tiles as a[p*mr + i], zero past og */
        apack = (FT *)fml_scratch_alloc((size_t)(ng * n_ot * k * mr) * sizeof(FT));
        bpad = (FT *)fml_scratch_alloc((size_t)(ng * n_ot * mr) * sizeof(FT));
        if (apack == NULL || bpad == NULL) err = FML_ENOMEM;
        if (err == FML_OK) FML_T(pack_weight_tiles)(w, bias, ng, og, k, mr, apack, bpad);
    }
    if (err != FML_OK) {
        free(off);
        fml_scratch_free(apack);
        fml_scratch_free(bpad);
        return err;
    }
    plan_offsets(p, cg, off);
    for (int64_t t = 0; t < 16; t++) off[k + t] = k > 0 ? off[k - 1] : 0;   /* prefetch look-ahead */
    const int64_t n_tasks = g->n * p->n_bands;
    const int nt = conv_threads(n_threads, n_tasks, 2.0 * (double)g->n * (double)g->o *
                                                        (double)howo * (double)k);
    (void)nt;
    const int64_t intr = fml_interrupt_token();
#pragma omp parallel num_threads(nt) reduction(| : err)
    {
        FT *buf = NULL;
        if (!p->zero_copy) {
            buf = (FT *)fml_scratch_thread(FML_CONV_SLOT, (size_t)FML_MAX(p->band_elems, 1) * sizeof(FT));
            if (buf == NULL) err |= FML_ENOMEM;
        }
        band_lists bl;
        err |= band_lists_alloc(&bl, p->rows, p->wq, tile.nv, tile.vl);
#pragma omp for schedule(dynamic, 1)
        for (int64_t task = 0; task < n_tasks; task++) {
            if (err == FML_OK && fml_interrupted(intr)) err |= FML_EINTR;
            if (err != FML_OK) continue;
            const int64_t n = task / p->n_bands, oh0 = (task % p->n_bands) * p->rows;
            const int64_t rb = FML_MIN(p->rows, g->ho - oh0), nflat = (rb - 1) * p->wq + g->wo;
            const FT *src = FML_T(band_source)(p, x, n, oh0, rb, (FT)0, buf);
            const int64_t nspan = band_spans(nflat, p->wq, g->wo, tile.nv, tile.vl, bl.span, bl.seg);
            /* zero copy: while this band is computed, each channel tile pulls one
             * vector of every tap of the next band (same image) into L2 */
            const int64_t pfd = p->zero_copy && oh0 + rb < g->ho ? p->rows * g->w : 0;
            /* one output channel tile at a time over the whole band: its packed
             * weights stay in L1 while the band's planes stream from L2 */
            for (int64_t gi = 0; gi < ng; gi++) {
                const FT *xs = src + gi * cg * cstride;
                FT *yg = y + ((n * g->o + gi * og) * g->ho + oh0) * g->wo;
                for (int64_t t = 0; t < n_ot; t++) {
                    const int64_t m = FML_MIN(mr, og - t * mr);
                    const FT *a, *bb;
                    if (mr > 1) {
                        a = apack + (gi * n_ot + t) * k * mr;
                        bb = bias != NULL ? bpad + (gi * n_ot + t) * mr : NULL;
                    } else {
                        a = w + (gi * og + t) * k;
                        bb = bias != NULL ? bias + gi * og + t : NULL;
                    }
                    tile.ukr(k, a, xs, off, bl.span, nspan, bl.seg, yg + t * mr * howo, howo, m, bb,
                             act == FML_ACT_RELU, pfd + (t % tile.nv) * tile.vl * (pfd != 0));
                }
            }
        }
        band_lists_free(&bl);
    }
    free(off);
    fml_scratch_free(apack);
    fml_scratch_free(bpad);
    return err;
}

/* Bytes of one image's transformed input and products in the stride-2
 * Winograd pass (25 components per input channel, 9 slots per output channel,
 * per 2x2 output tile). */
static double FML_T(wino2_bytes_per_image)(const fml_conv2d_geom *g)
{
    return (25.0 * (double)g->c + 9.0 * (double)g->o) * (double)((g->ho + 1) / 2) *
           (double)((g->wo + 1) / 2) * (double)sizeof(FT);
}

/* Winograd-style 3x3 stride-2 forward (conv_wino2_impl.h: 25 products per 2x2
 * output tile instead of 36, summed into 9 slots), groups 1, dilation 1.  For
 * each chunk of images (its transformed input V and products M within
 * FML_CONV_WINO2_BYTES):
 *   1. V = B^T d B of every tile, input channels in parallel;
 *   2. M_s = U_s V_s for the 9 slots s on the packed-pixel tile (U_s V_s: the
 *      slot's 1, 2 or 4 components, K = that many times C), tasks (slot,
 *      block of tiles) in parallel;
 *   3. Y = A^T M A + bias, activation, output channels in parallel.
 * Each output is the same sums whatever the thread count. */
static int FML_T(conv_wino2_run)(const fml_conv2d_geom *g, const FT *x, const FT *w,
                                 const FT *bias, int act, FT *y, int64_t n_threads)
{
    const fml_conv_kernels *kt = fml_conv_kernels_get();
    const FML_T(fml_conv_pgemm_desc) pg = kt->KSEL(pgemm);
    const int64_t c = g->c, o = g->o, mr = pg.mr, nr = pg.nr, n_ot = (o + mr - 1) / mr;
    const int64_t vl = kt->KSEL(dense).vl, howo = g->ho * g->wo, chw = c * g->h * g->w;
    const int64_t th = (g->ho + 1) / 2, tw = (g->wo + 1) / 2, tpi = th * tw;
    const int64_t kc = FML_MAX(1, FML_CONV_PGEMM_PANEL_BYTES / (nr * (int64_t)sizeof(FT)));
    const int64_t per_img = (int64_t)FML_T(wino2_bytes_per_image)(g);
    const int64_t nimg = FML_MAX(1, FML_MIN(g->n, FML_CONV_WINO2_BYTES / per_img));
    const int64_t ldv = nimg * tpi + vl, ldm = ldv;
    /* V's 25 component blocks and M's 9 slots: an odd number of cache lines
     * apart.  With c * ldv * sizeof(FT) a multiple of 4 KB (8x128x28x28: 50 x
     * 4 KB), the input transform's 25 store streams and the output transform's
     * 9 load streams all fell on one L1 set: 99 against 44 us per image, 1
     * thread, measured */
    const int64_t sv = FML_T(wino_block_stride)(c * ldv), sm = FML_T(wino_block_stride)(o * ldm);
    /* U = G g G^T, packed per slot s and channel tile t, K = LEN[s]*c taps:
     * apack[START[s]*n_ot*c*mr + (t*LEN[s]*c + k)*mr + i]; then V and M (kept by
     * this thread across calls: no page faults per call) */
    const size_t a_el = (size_t)(25 * n_ot * c * mr), vm_el = (size_t)(25 * sv + 9 * sm);
    FT *apack = (FT *)fml_scratch_thread(FML_SCRATCH_CALL_SLOT, (a_el + vm_el) * sizeof(FT));
    int64_t *off = (int64_t *)malloc((size_t)(4 * c) * sizeof(int64_t));
    if (apack == NULL || off == NULL) {
        free(off);
        return FML_ENOMEM;
    }
    FT *V = apack + a_el, *M = V + 25 * sv;
    for (int64_t k = 0; k < 4 * c; k++) off[k] = k / c * sv + k % c * ldv;
    const int nt = conv_threads(n_threads, FML_MIN(c, o), 2.0 * 9.0 * (double)g->n * (double)o *
                                                          (double)howo * (double)c);
    int err = FML_OK;
    const int64_t intr = fml_interrupt_token();
    const int relu = act == FML_ACT_RELU;
#pragma omp parallel num_threads(nt) reduction(| : err)
    {
        FT *panel = (FT *)fml_scratch_thread(FML_CONV_SLOT + 1, (size_t)(kc * nr) * sizeof(FT));
        const int64_t cm = c * mr;
        /* the weight transform's by-tap copy of one channel tile (slot 3 is
           free in this pass; kept by the thread across calls) */
        FT *wt = (FT *)fml_scratch_thread(FML_CONV_SLOT, (size_t)(9 * cm) * sizeof(FT));
        if (panel == NULL || wt == NULL) err |= FML_ENOMEM;
        /* no barrier after U or after the output transform: the input
         * transform reads neither U nor M, and its barrier orders both (every
         * thread passes it only after its own U tiles and previous outputs) */
#pragma omp for schedule(static) nowait
        for (int64_t t = 0; t < n_ot; t++) {           /* U by channel tile (no shared lines) */
            if (wt == NULL) continue;
            FT *restrict dst[25];                      /* component (a, b) of this tile */
            for (int64_t a = 0; a < 5; a++)
                for (int64_t b = 0; b < 5; b++) {
                    const int64_t s = FML_WINO2_SLOT[a] * 3 + FML_WINO2_SLOT[b];
                    const int64_t p = FML_WINO2_POS[a][b], len = FML_WINO2_LEN[s];
                    dst[a * 5 + b] = apack + (FML_WINO2_START[s] * n_ot + t * len) * c * mr +
                                     (p - FML_WINO2_START[s]) * c * mr;
                }
            /* the tile's weights by tap, in the packed order: wt[q*cm + ci*mr + i] */
            for (int64_t i = 0; i < mr; i++)
                for (int64_t ci = 0; ci < c; ci++)
                    for (int64_t q = 0; q < 9; q++)
                        wt[q * cm + ci * mr + i] = t * mr + i < o ? w[((t * mr + i) * c + ci) * 9 + q] : (FT)0;
            /* G g G^T, G = (1 0 0; 1 0 1; 0 0 1; 0 1 0; 0 1 0): sums of weights,
             * in double, one vector of (channel, row) pairs at a time */
#pragma omp simd
            for (int64_t at = 0; at < cm; at++) {
                double gg[5][3];
                for (int64_t q = 0; q < 3; q++) {
                    const double g0 = (double)wt[q * cm + at], g1 = (double)wt[(3 + q) * cm + at];
                    const double g2 = (double)wt[(6 + q) * cm + at];
                    gg[0][q] = g0;
                    gg[1][q] = g0 + g2;
                    gg[2][q] = g2;
                    gg[3][q] = g1;
                    gg[4][q] = g1;
                }
                for (int64_t r = 0; r < 5; r++) {
                    dst[5 * r + 0][at] = (FT)gg[r][0];
                    dst[5 * r + 1][at] = (FT)(gg[r][0] + gg[r][2]);
                    dst[5 * r + 2][at] = (FT)gg[r][2];
                    dst[5 * r + 3][at] = (FT)gg[r][1];
                    dst[5 * r + 4][at] = (FT)gg[r][1];
                }
            }
        }
        for (int64_t n0 = 0; n0 < g->n; n0 += nimg) {
            const int64_t ni = FML_MIN(nimg, g->n - n0), ntile = ni * tpi;
            /* product tasks: (slot, a block of about 8 panels of tiles) */
            const int64_t nqb = (ntile + 8 * nr - 1) / (8 * nr);
            const int64_t qb = ((ntile + nqb - 1) / nqb + nr - 1) / nr * nr;
            if (err == FML_OK && fml_interrupted(intr)) err |= FML_EINTR;
#pragma omp for schedule(static)
            for (int64_t ci = 0; ci < c; ci++)          /* images in order: see the tile stores */
                for (int64_t i = 0; i < ni && err == FML_OK; i++)
                    KSEL(kt->wino2_in)(x + (n0 + i) * chw, sv, ci, g->h, g->w, g->ph0, g->pw0, th,
                                       tw, V, ldv, i * tpi);
#pragma omp for schedule(dynamic, 1)
            for (int64_t task = 0; task < 9 * nqb; task++) {
                if (err != FML_OK) continue;
                /* the longest first (4, 2, then 1 channel blocks): the last
                 * tasks taken are the short ones, so the threads end together */
                static const int8_t order[9] = {0, 2, 6, 8, 1, 3, 5, 7, 4};
                const int64_t s = order[task / nqb], q0 = (task % nqb) * qb;
                const int64_t st = FML_WINO2_START[s];
                /* V is in L3 (or memory): each tile fetches a slice of the
                 * next panel's lines (measured: 3% less time at 1 thread) */
                FML_T(pgemm_tiles)(&pg, FML_WINO2_LEN[s] * c, kc, apack + st * n_ot * c * mr, 0,
                                   n_ot, o, V + st * sv, off, q0, FML_MIN(ntile, q0 + qb), nr,
                                   M + s * sm, ldm, NULL, 0, panel);
            }
#pragma omp for schedule(static) nowait
            for (int64_t oi = 0; oi < o; oi++) {
                if (err != FML_OK) continue;
                for (int64_t s = 0; s < 9; s++)       /* the lanes read past the last tile */
                    memset(M + s * sm + oi * ldm + ntile, 0, (size_t)vl * sizeof(FT));
                for (int64_t i = 0; i < ni; i++)
                    KSEL(kt->wino2_out)(M, sm, oi, ldm, th, tw, i * tpi,
                                        y + ((n0 + i) * o + oi) * howo, g->ho, g->wo,
                                        bias != NULL ? bias[oi] : (FT)0, relu);
            }
        }
    }
    free(off);
    return err;
}

/* Winograd F(2x2, 3x3) for a 3x3 stride-1 convolution with enough channels
 * (measured: below 16 input or output channels the transforms cost more than
 * the 2.25x fewer multiplications save). */
static int64_t FML_T(wino_row_tiles)(int64_t wo)
{
    const int64_t vl = fml_conv_kernels_get()->KSEL(dense).vl;
    return ((wo + 1) / 2 + vl - 1) / vl * vl;
}

static int FML_T(use_wino)(const fml_conv2d_geom *g)
{
    return g->kh == 3 && g->kw == 3 && g->sh == 1 && g->sw == 1 && g->dh == 1 && g->dw == 1 &&
           g->groups == 1 && g->c >= FML_CONV_WINO_MIN_CH && g->o >= FML_CONV_WINO_MIN_CH &&
           /* tiles of a row are padded to whole vectors: at most ~28% of them wasted */
           4 * ((g->wo + 1) / 2) >= 3 * FML_T(wino_row_tiles)(g->wo);
}

/* The stride-2 variant: 3x3, dilation 1, groups 1, enough channels, one
 * image's transforms within the budget. */
static int FML_T(use_wino2)(const fml_conv2d_geom *g)
{
    const double per_img = FML_T(wino2_bytes_per_image)(g);
    const double tiles = (double)g->n * (double)((g->ho + 1) / 2) * (double)((g->wo + 1) / 2);
    return g_wino2 && g->kh == 3 && g->kw == 3 && g->sh == 2 && g->sw == 2 && g->dh == 1 &&
           g->dw == 1 && g->groups == 1 && g->c >= FML_CONV_WINO_MIN_CH &&
           g->o >= FML_CONV_WINO_MIN_CH && per_img <= (double)FML_CONV_WINO2_BYTES &&
           (g_wino2 == 2 || tiles >= FML_CONV_WINO2_MIN_TILES);
}

int FML_T(fml_conv2d_algorithm)(const fml_conv2d_geom *g)
{
    if (FML_T(use_wino)(g)) return FML_CONV_ALG_WINOGRAD;
    if (FML_T(use_wino2)(g)) return FML_CONV_ALG_WINOGRAD_S2;
    conv_plan p;
    if (plan_make(&p, g, 1, 1, (int64_t)sizeof(FT), FML_CONV_BAND_BYTES, 8, 0) != FML_OK) return -1;
    const int alg = FML_T(conv_choose)(&p);
    plan_free(&p);
    return alg;
}

int FML_T(fml_conv2d_forward)(const fml_conv2d_geom *g, const FT *x, const FT *w,
                              const FT *bias, int act, FT *y, int64_t n_threads)
{
    if (g->n <= 0 || g->o <= 0 || g->ho <= 0 || g->wo <= 0) return FML_OK;
    if (FML_T(use_wino)(g)) return FML_T(conv_wino_run)(g, x, w, bias, act, y, n_threads);
    if (FML_T(use_wino2)(g)) return FML_T(conv_wino2_run)(g, x, w, bias, act, y, n_threads);
    conv_plan p;
    int err = plan_make(&p, g, 1, 1, (int64_t)sizeof(FT), FML_CONV_BAND_BYTES, 8, 0);
    if (err == FML_OK) err = FML_T(conv_run)(&p, x, w, bias, act, y, n_threads);
    plan_free(&p);
    return err;
}

/* ---- backward ------------------------------------------------------------------ */

/* gx = the transposed convolution of gy: a stride-1 convolution of gy upsampled
 * by the stride (zeros between) with the flipped kernel, channels swapped. */
static int FML_T(conv_backward_data)(const fml_conv2d_geom *g, const FT *gy, const FT *w,
                                     FT *gx, int64_t n_threads)
{
    const int64_t ng = g->groups, cg = g->c / ng, og = g->o / ng, kk = g->kh * g->kw;
    FT *wt = (FT *)fml_scratch_alloc((size_t)(g->c * og * kk) * sizeof(FT));
    if (wt == NULL) return FML_ENOMEM;
    for (int64_t gi = 0; gi < ng; gi++)
        for (int64_t c = 0; c < cg; c++)
            for (int64_t o = 0; o < og; o++)
                for (int64_t t = 0; t < kk; t++)
                    wt[((gi * cg + c) * og + o) * kk + (kk - 1 - t)] =
                        w[((gi * og + o) * cg + c) * kk + t];
    fml_conv2d_geom b = *g;
    b.c = g->o;
    b.h = g->ho;
    b.w = g->wo;
    b.o = g->c;
    b.sh = b.sw = 1;
    b.ph0 = (g->kh - 1) * g->dh - g->ph0;
    b.pw0 = (g->kw - 1) * g->dw - g->pw0;
    b.ph1 = g->h + g->ph0 - (g->ho - 1) * g->sh - 1;
    b.pw1 = g->w + g->pw0 - (g->wo - 1) * g->sw - 1;
    b.ho = g->h;
    b.wo = g->w;
    int err;
    if (g->sh == 1 && g->sw == 1 && FML_T(use_wino)(&b)) {
        err = FML_T(conv_wino_run)(&b, gy, wt, NULL, FML_ACT_NONE, gx, n_threads);
        fml_scratch_free(wt);
        return err;
    }
    conv_plan p;
    err = plan_make(&p, &b, g->sh, g->sw, (int64_t)sizeof(FT), FML_CONV_BAND_BYTES, 8, 0);
    if (err == FML_OK) err = FML_T(conv_run)(&p, gy, wt, NULL, FML_ACT_NONE, gx, n_threads);
    plan_free(&p);
    fml_scratch_free(wt);
    return err;
}

/* gw[o, c, a, b] = sum_n sum_(i,j) gy[n, o, i, j] * xpad[n, c, i*sh + a*dh, j*sw + b*dw]:
 * per band, the output gradient transposed to flat-pixel major (panels of the
 * tile's channel width, zero in the pad columns) times the input planes at each
 * tap's offset (conv_gwc_impl.h: taps x channels, the band's whole reduction in
 * registers).  Bands are cut into a fixed number of chunks (not threads) with
 * float64 partial sums, added in chunk order. */
static int FML_T(conv_backward_weight)(const fml_conv2d_geom *g, const FT *gy, const FT *x,
                                       FT *gw, int64_t n_threads)
{
    const fml_conv_kernels *kt = fml_conv_kernels_get();
    const int64_t ng = g->groups, cg = g->c / ng, og = g->o / ng;
    const int64_t k = cg * g->kh * g->kw, tm = kt->gwc_m, nr = kt->KSEL(gwc_nr);
    const int64_t n_op = (og + nr - 1) / nr;                 /* channel panels per group */
    conv_plan p;
    int err = plan_make(&p, g, 1, 1, (int64_t)sizeof(FT), FML_CONV_GW_BAND_BYTES, 1,
                        ng * n_op * nr);
    if (err != FML_OK) return err;
    const int64_t units = g->n * p.n_bands;
    int64_t n_chunks = FML_MIN(units, FML_CONV_GW_MAX_CHUNKS);
    n_chunks = FML_MAX(1, FML_MIN(n_chunks, FML_CONV_GW_MAX_PARTIAL / FML_MAX(1, g->o * k)));
    const int64_t ldt = p.rows * p.wq * nr, cstride = p.nph_h * p.nph_w * p.ps;
    int64_t *off = (int64_t *)malloc((size_t)k * sizeof(int64_t));
    double *part = (double *)calloc((size_t)(n_chunks * g->o * k), sizeof(double));
    if (off == NULL || part == NULL) {
        free(off);
        free(part);
        plan_free(&p);
        return FML_ENOMEM;
    }
    plan_offsets(&p, cg, off);
    /* the transposed gradient starts on a cache line: its rows are whole vectors */
    const int64_t gt0 = (p.band_elems + 15) / 16 * 16;
    const size_t buf_elems = (size_t)(gt0 + ng * n_op * ldt);
    const int nt = conv_threads(n_threads, n_chunks, 2.0 * (double)g->n * (double)g->o *
                                                         (double)(g->ho * g->wo) * (double)k);
    (void)nt;
    const int64_t intr = fml_interrupt_token();
#pragma omp parallel num_threads(nt) reduction(| : err)
    {
        FT *buf = (FT *)fml_scratch_thread(FML_CONV_SLOT, FML_MAX(buf_elems, 1) * sizeof(FT));
        if (buf == NULL) err |= FML_ENOMEM;
#pragma omp for schedule(dynamic, 1)
        for (int64_t ch = 0; ch < n_chunks; ch++) {
            if (err == FML_OK && fml_interrupted(intr)) err |= FML_EINTR;
            if (err != FML_OK) continue;
            double *pc = part + ch * g->o * k;
            FT *gt = buf + gt0;
            for (int64_t u = fml_chunk_start(units, n_chunks, ch);
                 u < fml_chunk_start(units, n_chunks, ch + 1); u++) {
                const int64_t n = u / p.n_bands, oh0 = (u % p.n_bands) * p.rows;
                const int64_t rb = FML_MIN(p.rows, g->ho - oh0), nflat = (rb - 1) * p.wq + g->wo;
                const FT *src = FML_T(band_source)(&p, x, n, oh0, rb, (FT)0, buf);
                /* the output gradient of each panel of nr channels, flat-pixel major,
                 * zero in the pad columns and past the group's channels */
                for (int64_t gp = 0; gp < ng * n_op; gp++) {
                    const int64_t gi = gp / n_op, o0 = (gp % n_op) * nr, mj = FML_MIN(nr, og - o0);
                    FT *restrict d = gt + gp * ldt;
                    for (int64_t r = 0; r < rb; r++)
                        for (int64_t c = 0; c < p.wq; c++) {
                            FT *restrict dq = d + (r * p.wq + c) * nr;
                            if (c >= g->wo) {
                                for (int64_t j = 0; j < nr; j++) dq[j] = 0;
                                continue;
                            }
                            const FT *restrict s =
                                gy + ((n * g->o + gi * og + o0) * g->ho + oh0 + r) * g->wo + c;
                            const int64_t ps = g->ho * g->wo;
                            for (int64_t j = 0; j < mj; j++) dq[j] = s[j * ps];
                            for (int64_t j = mj; j < nr; j++) dq[j] = 0;
                        }
                }
                for (int64_t gp = 0; gp < ng * n_op; gp++) {
                    const int64_t gi = gp / n_op, o0 = (gp % n_op) * nr, mj = FML_MIN(nr, og - o0);
                    for (int64_t t0 = 0; t0 < k; t0 += tm)
                        KSEL(kt->gwc)(nflat, gt + gp * ldt, src + gi * cg * cstride, off + t0,
                                      FML_MIN(tm, k - t0), pc + (gi * og + o0) * k + t0, k, mj);
                }
            }
        }
    }
    if (err == FML_OK) {
        const int64_t total = g->o * k;
        for (int64_t e = 0; e < total; e++) {
            double s = 0;
            for (int64_t ch = 0; ch < n_chunks; ch++) s += part[ch * total + e];
            gw[e] = (FT)s;
        }
    }
    free(off);
    free(part);
    plan_free(&p);
    return err;
}

int FML_T(fml_conv2d_backward)(const fml_conv2d_geom *g, const FT *gy, const FT *x,
                               const FT *w, FT *gx, FT *gw, FT *gb, int64_t n_threads)
{
    const int64_t howo = g->ho * g->wo;
    if (gb != NULL) {
        const int nt = conv_threads(n_threads, g->o, (double)g->n * (double)g->o * (double)howo);
        (void)nt;
#pragma omp parallel for schedule(static) num_threads(nt)
        for (int64_t o = 0; o < g->o; o++) {
            double s = 0;
            for (int64_t n = 0; n < g->n; n++) {
                const FT *restrict r = gy + (n * g->o + o) * howo;
                double t = 0;
                for (int64_t j = 0; j < howo; j++) t += (double)r[j];
                s += t;
            }
            gb[o] = (FT)s;
        }
    }
    int err = FML_OK;
    if (gx != NULL && g->n > 0 && g->c > 0) {
        if (g->o == 0 || howo == 0) memset(gx, 0, (size_t)(g->n * g->c * g->h * g->w) * sizeof(FT));
        else err |= FML_T(conv_backward_data)(g, gy, w, gx, n_threads);
    }
    if (gw != NULL && err == FML_OK) {
        const int64_t total = g->o * (g->c / g->groups) * g->kh * g->kw;
        if (g->n == 0 || howo == 0) memset(gw, 0, (size_t)total * sizeof(FT));
        else if (total > 0) err |= FML_T(conv_backward_weight)(g, gy, x, gw, n_threads);
    }
    return err;
}

/* ---- pooling ----------------------------------------------------------------- */

/* Max pooling: planes filled with -inf, one channel per tile; the winning tap
 * becomes the flat input index (PyTorch's first valid tap when no tap beat
 * -inf). */
/* Max pooling without indices, column stride 1 or 2: planes from their rows
 * (conv_pool_impl.h), in parallel. */
static int FML_T(max_pool_rows_run)(const fml_conv2d_geom *g, const FT *x, FT *y,
                                    int64_t n_threads)
{
    const fml_conv_kernels *kt = fml_conv_kernels_get();
    const int64_t vl = kt->KSEL(dw).vl, nvec = (g->wo + vl - 1) / vl;
    const int64_t planes = g->n * g->c, hw = g->h * g->w, howo = g->ho * g->wo;
    uint32_t *mask = (uint32_t *)malloc((size_t)(g->kw * nvec * 2) * sizeof(uint32_t));
    if (mask == NULL) return FML_ENOMEM;
    /* load `half` of output vector j, tap b: lanes whose output column is valid,
     * even position (stride 2) and input column inside the row */
    for (int64_t b = 0; b < g->kw; b++)
        for (int64_t j = 0; j < nvec; j++)
            for (int64_t half = 0; half < 2; half++) {
                uint32_t bits = 0;
                for (int64_t l = 0; l < vl; l++) {
                    const int64_t pos = half * vl + l;         /* element of the 2*vl (or vl) loaded */
                    if (g->sw == 1 && half == 1) break;
                    if (g->sw == 2 && pos % 2 != 0) continue;
                    const int64_t ow = j * vl + (g->sw == 2 ? pos / 2 : pos);
                    const int64_t col = ow * g->sw - g->pw0 + b * g->dw;
                    if (ow < g->wo && col >= 0 && col < g->w) bits |= 1u << l;
                }
                mask[(b * nvec + j) * 2 + half] = bits;
            }
    const int nt = conv_threads(n_threads, planes, (double)planes * (double)(hw + howo * g->kh * g->kw));
    const int sep = g->kh == 3 && g->kw == 3 && g->sh == 2 && g->sw == 2 && g->dh == 1 && g->dw == 1;
    int err = FML_OK;
    (void)nt;
#pragma omp parallel num_threads(nt) reduction(| : err)
    {
        FT *work = sep ? (FT *)fml_scratch_thread(FML_CONV_SLOT,
                                                  (size_t)FML_POOL3S2_WORK(g->wo, 16) * sizeof(FT))
                       : NULL;
        if (sep && work == NULL) err |= FML_ENOMEM;
#pragma omp for schedule(static)
        for (int64_t pl = 0; pl < planes; pl++)
            if (err == FML_OK)
                KSEL(kt->pool_max_rows)(x + pl * hw, g->h, g->w, g->kh, g->kw, g->sh, g->sw, g->dh,
                                        g->dw, g->ph0, g->pw0, mask, nvec, y + pl * howo, g->ho,
                                        g->wo, work);
    }
    free(mask);
    return err;
}

int FML_T(fml_max_pool2d)(const fml_conv2d_geom *g, const FT *x, FT *y, int64_t *idx,
                          int64_t n_threads)
{
    if (g->n <= 0 || g->c <= 0) return FML_OK;
    if (idx == NULL && (g->sw == 1 || g->sw == 2)) return FML_T(max_pool_rows_run)(g, x, y, n_threads);
    const fml_conv_kernels *kt = fml_conv_kernels_get();
    const int64_t k = g->kh * g->kw, nv = kt->pool_nv, vl = kt->KSEL(dw).vl;
    conv_plan p;
    int err = plan_make(&p, g, 1, 1, (int64_t)sizeof(FT), FML_CONV_BAND_BYTES, 8, 0);
    if (err != FML_OK) return err;
    int64_t *off = (int64_t *)malloc((size_t)k * sizeof(int64_t));
    if (off == NULL) {
        plan_free(&p);
        return FML_ENOMEM;
    }
    plan_offsets(&p, 1, off);
    const int64_t n_tasks = g->n * p.n_bands, howo = g->ho * g->wo;
    const int64_t cstride = p.nph_h * p.nph_w * p.ps;
    const size_t buf_elems = (size_t)(p.band_elems + (idx != NULL ? p.rows * g->wo : 0));
    const int nt = conv_threads(n_threads, n_tasks, (double)(g->n * g->c) * (double)howo * (double)k);
    (void)nt;
    const int64_t intr = fml_interrupt_token();
#pragma omp parallel num_threads(nt) reduction(| : err)
    {
        FT *buf = (FT *)fml_scratch_thread(FML_CONV_SLOT, FML_MAX(buf_elems, 1) * sizeof(FT));
        if (buf == NULL) err |= FML_ENOMEM;
        band_lists bl;
        err |= band_lists_alloc(&bl, p.rows, p.wq, nv, vl);
#pragma omp for schedule(dynamic, 1)
        for (int64_t task = 0; task < n_tasks; task++) {
            if (err == FML_OK && fml_interrupted(intr)) err |= FML_EINTR;
            if (err != FML_OK) continue;
            const int64_t n = task / p.n_bands, oh0 = (task % p.n_bands) * p.rows;
            const int64_t rb = FML_MIN(p.rows, g->ho - oh0), nflat = (rb - 1) * p.wq + g->wo;
            const FT *src = FML_T(band_source)(&p, x, n, oh0, rb, -(FT)INFINITY, buf);
            const int64_t nspan = band_spans(nflat, p.wq, g->wo, nv, vl, bl.span, bl.seg);
            FT *tap = idx != NULL ? buf + p.band_elems : NULL;
            for (int64_t c = 0; c < g->c; c++) {
                const int64_t plane = (n * g->c + c) * howo + oh0 * g->wo;
                KSEL(kt->pool_max)(k, src + c * cstride, off, bl.span, nspan, bl.seg, y + plane, tap);
                if (idx == NULL) continue;
                for (int64_t r = 0; r < rb; r++) {
                    const int64_t ih0 = (oh0 + r) * g->sh - g->ph0;
                    int64_t a0 = 0;                       /* first tap row inside the input */
                    while (ih0 + a0 * g->dh < 0) a0++;
                    for (int64_t j = 0; j < g->wo; j++) {
                        const int64_t iw0 = j * g->sw - g->pw0;
                        int64_t t = (int64_t)tap[r * g->wo + j], a, b;
                        if (t < 0) {
                            a = a0;
                            b = 0;
                            while (iw0 + b * g->dw < 0) b++;
                        } else {
                            a = t / g->kw;
                            b = t % g->kw;
                        }
                        idx[plane + r * g->wo + j] = (ih0 + a * g->dh) * g->w + iw0 + b * g->dw;
                    }
                }
            }
        }
        band_lists_free(&bl);
    }
    free(off);
    plan_free(&p);
    return err;
}

int FML_T(fml_max_pool2d_backward)(const fml_conv2d_geom *g, const FT *gy, const int64_t *idx,
                                   FT *gx, int64_t n_threads)
{
    const int64_t planes = g->n * g->c, howo = g->ho * g->wo, hw = g->h * g->w;
    const int nt = conv_threads(n_threads, planes, 4.0 * (double)planes * (double)(howo + hw));
    (void)nt;
#pragma omp parallel for schedule(static) num_threads(nt)
    for (int64_t pl = 0; pl < planes; pl++) {
        FT *restrict d = gx + pl * hw;
        const FT *restrict s = gy + pl * howo;
        const int64_t *restrict ix = idx + pl * howo;
        memset(d, 0, (size_t)hw * sizeof(FT));
        for (int64_t j = 0; j < howo; j++) d[ix[j]] += s[j];
    }
    return FML_OK;
}

/* Divisors of average pooling, separable: rows (hs) times columns (ws). */
static void FML_T(avg_divisors)(int64_t out, int64_t in, int64_t k, int64_t s, int64_t p0,
                                int64_t p1, int count_include_pad, int64_t *div)
{
    for (int64_t i = 0; i < out; i++) {
        int64_t start = i * s - p0, end = FML_MIN(start + k, in + p1);
        const int64_t pool = end - start;
        start = FML_MAX(start, 0);
        end = FML_MIN(end, in);
        div[i] = count_include_pad ? pool : end - start;
    }
}

/* Average pooling: the depthwise tile with unit weights (sums in tap order,
 * zero padding), then each output divided by its window's divisor. */
int FML_T(fml_avg_pool2d)(const fml_conv2d_geom *g, const FT *x, int count_include_pad,
                          int64_t divisor_override, FT *y, int64_t n_threads)
{
    if (g->n <= 0 || g->c <= 0) return FML_OK;
    const fml_conv_kernels *kt = fml_conv_kernels_get();
    const TILE_T tile = kt->KSEL(dw);
    const int64_t k = g->kh * g->kw;
    conv_plan p;
    int err = plan_make(&p, g, 1, 1, (int64_t)sizeof(FT), FML_CONV_BAND_BYTES, 8, 0);
    if (err != FML_OK) return err;
    int64_t *off = (int64_t *)malloc((size_t)k * sizeof(int64_t));
    int64_t *dh = (int64_t *)malloc((size_t)(g->ho + g->wo) * sizeof(int64_t));
    FT *ones = (FT *)malloc((size_t)k * sizeof(FT));
    if (off == NULL || dh == NULL || ones == NULL) {
        free(off);
        free(dh);
        free(ones);
        plan_free(&p);
        return FML_ENOMEM;
    }
    int64_t *dw = dh + g->ho;
    for (int64_t t = 0; t < k; t++) ones[t] = 1;
    plan_offsets(&p, 1, off);
    FML_T(avg_divisors)(g->ho, g->h, g->kh, g->sh, g->ph0, g->ph1, count_include_pad, dh);
    FML_T(avg_divisors)(g->wo, g->w, g->kw, g->sw, g->pw0, g->pw1, count_include_pad, dw);
    const int64_t n_tasks = g->n * p.n_bands, howo = g->ho * g->wo;
    const int64_t cstride = p.nph_h * p.nph_w * p.ps;
    const int nt = conv_threads(n_threads, n_tasks, 2.0 * (double)(g->n * g->c) * (double)howo * (double)k);
    (void)nt;
    const int64_t intr = fml_interrupt_token();
#pragma omp parallel num_threads(nt) reduction(| : err)
    {
        FT *buf = NULL;
        if (!p.zero_copy) {
            buf = (FT *)fml_scratch_thread(FML_CONV_SLOT, (size_t)FML_MAX(p.band_elems, 1) * sizeof(FT));
            if (buf == NULL) err |= FML_ENOMEM;
        }
        band_lists bl;
        err |= band_lists_alloc(&bl, p.rows, p.wq, tile.nv, tile.vl);
#pragma omp for schedule(dynamic, 1)
        for (int64_t task = 0; task < n_tasks; task++) {
            if (err == FML_OK && fml_interrupted(intr)) err |= FML_EINTR;
            if (err != FML_OK) continue;
            const int64_t n = task / p.n_bands, oh0 = (task % p.n_bands) * p.rows;
            const int64_t rb = FML_MIN(p.rows, g->ho - oh0), nflat = (rb - 1) * p.wq + g->wo;
            const FT *src = FML_T(band_source)(&p, x, n, oh0, rb, (FT)0, buf);
            const int64_t nspan = band_spans(nflat, p.wq, g->wo, tile.nv, tile.vl, bl.span, bl.seg);
            for (int64_t c = 0; c < g->c; c++) {
                FT *yp = y + (n * g->c + c) * howo + oh0 * g->wo;
                tile.ukr(k, ones, src + c * cstride, off, bl.span, nspan, bl.seg, yp, howo, 1, NULL,
                         0, (int64_t)0);
                for (int64_t r = 0; r < rb; r++)
                    for (int64_t j = 0; j < g->wo; j++) {
                        const int64_t d = divisor_override > 0 ? divisor_override
                                                               : dh[oh0 + r] * dw[j];
                        yp[r * g->wo + j] /= (FT)d;
                    }
            }
        }
        band_lists_free(&bl);
    }
    free(off);
    free(dh);
    free(ones);
    plan_free(&p);
    return err;
}

int FML_T(fml_avg_pool2d_backward)(const fml_conv2d_geom *g, const FT *gy, int count_include_pad,
                                   int64_t divisor_override, FT *gx, int64_t n_threads)
{
    const int64_t planes = g->n * g->c, howo = g->ho * g->wo, hw = g->h * g->w;
    int64_t *dh = (int64_t *)malloc((size_t)(g->ho + g->wo + 1) * sizeof(int64_t));
    if (dh == NULL) return FML_ENOMEM;
    int64_t *dw = dh + g->ho;
    FML_T(avg_divisors)(g->ho, g->h, g->kh, g->sh, g->ph0, g->ph1, count_include_pad, dh);
    FML_T(avg_divisors)(g->wo, g->w, g->kw, g->sw, g->pw0, g->pw1, count_include_pad, dw);
    const int nt = conv_threads(n_threads, planes, (double)planes * (double)(howo * g->kh * g->kw + hw));
    (void)nt;
#pragma omp parallel for schedule(static) num_threads(nt)
    for (int64_t pl = 0; pl < planes; pl++) {
        FT *restrict d = gx + pl * hw;
        const FT *restrict s = gy + pl * howo;
        memset(d, 0, (size_t)hw * sizeof(FT));
        for (int64_t i = 0; i < g->ho; i++) {
            const int64_t h0 = FML_MAX(i * g->sh - g->ph0, 0);
            const int64_t h1 = FML_MIN(i * g->sh - g->ph0 + g->kh, g->h);
            for (int64_t j = 0; j < g->wo; j++) {
                const int64_t w0 = FML_MAX(j * g->sw - g->pw0, 0);
                const int64_t w1 = FML_MIN(j * g->sw - g->pw0 + g->kw, g->w);
                const int64_t dv = divisor_override > 0 ? divisor_override : dh[i] * dw[j];
                const FT v = s[i * g->wo + j] / (FT)dv;
                for (int64_t a = h0; a < h1; a++)
                    for (int64_t b = w0; b < w1; b++) d[a * g->w + b] += v;
            }
        }
    }
    free(dh);
    return FML_OK;
}

/* Adaptive average pooling: bin i of n over `in` is [floor(i*in/n), ceil((i+1)*in/n)). */
int FML_T(fml_adaptive_avg_pool2d)(const fml_conv2d_geom *g, const FT *x, FT *y,
                                   int64_t n_threads)
{
    const int64_t planes = g->n * g->c, howo = g->ho * g->wo, hw = g->h * g->w;
    const int nt = conv_threads(n_threads, planes, (double)planes * (double)(hw + howo));
    (void)nt;
#pragma omp parallel for schedule(static) num_threads(nt)
    for (int64_t pl = 0; pl < planes; pl++) {
        const FT *restrict s = x + pl * hw;
        FT *restrict d = y + pl * howo;
        for (int64_t i = 0; i < g->ho; i++) {
            const int64_t h0 = (i * g->h) / g->ho, h1 = ((i + 1) * g->h + g->ho - 1) / g->ho;
            for (int64_t j = 0; j < g->wo; j++) {
                const int64_t w0 = (j * g->w) / g->wo, w1 = ((j + 1) * g->w + g->wo - 1) / g->wo;
                double acc[4] = {0, 0, 0, 0};      /* float64 sums: a global pool adds a whole plane */
                for (int64_t a = h0; a < h1; a++) {
                    const FT *restrict r = s + a * g->w;
                    int64_t b = w0;
                    for (; b + 4 <= w1; b += 4)
                        for (int l = 0; l < 4; l++) acc[l] += (double)r[b + l];
                    for (int l = 0; b < w1; b++, l++) acc[l] += (double)r[b];
                }
                d[i * g->wo + j] = (FT)(((acc[0] + acc[1]) + (acc[2] + acc[3])) /
                                        (double)((h1 - h0) * (w1 - w0)));
            }
        }
    }
    return FML_OK;
}

int FML_T(fml_adaptive_avg_pool2d_backward)(const fml_conv2d_geom *g, const FT *gy, FT *gx,
                                            int64_t n_threads)
{
    const int64_t planes = g->n * g->c, howo = g->ho * g->wo, hw = g->h * g->w;
    const int nt = conv_threads(n_threads, planes, (double)planes * (double)(hw + howo));
    (void)nt;
#pragma omp parallel for schedule(static) num_threads(nt)
    for (int64_t pl = 0; pl < planes; pl++) {
        const FT *restrict s = gy + pl * howo;
        FT *restrict d = gx + pl * hw;
        memset(d, 0, (size_t)hw * sizeof(FT));
        for (int64_t i = 0; i < g->ho; i++) {
            const int64_t h0 = (i * g->h) / g->ho, h1 = ((i + 1) * g->h + g->ho - 1) / g->ho;
            for (int64_t j = 0; j < g->wo; j++) {
                const int64_t w0 = (j * g->w) / g->wo, w1 = ((j + 1) * g->w + g->wo - 1) / g->wo;
                const FT v = s[i * g->wo + j] / (FT)((h1 - h0) * (w1 - w0));
                for (int64_t a = h0; a < h1; a++)
                    for (int64_t b = w0; b < w1; b++) d[a * g->w + b] += v;
            }
        }
    }
    return FML_OK;
}

/* ---- batch norm, ReLU --------------------------------------------------------- */

/* Two passes per channel (mean, then squared differences), float64, four
 * partial sums combined in a fixed order; channels in parallel. */
int FML_T(fml_batch_stats)(int64_t n, int64_t c, int64_t hw, const FT *x, double *mean,
                           double *var, int64_t n_threads)
{
    const int nt = conv_threads(n_threads, c, 2.0 * (double)(n * c) * (double)hw);
    (void)nt;
#pragma omp parallel for schedule(static) num_threads(nt)
    for (int64_t ci = 0; ci < c; ci++) {
        double s[4] = {0, 0, 0, 0};
        for (int64_t i = 0; i < n; i++) {
            const FT *restrict r = x + (i * c + ci) * hw;
            int64_t j = 0;
            for (; j + 4 <= hw; j += 4)
                for (int l = 0; l < 4; l++) s[l] += (double)r[j + l];
            for (int l = 0; j < hw; j++, l++) s[l] += (double)r[j];
        }
        const double cnt = (double)(n * hw);
        const double m = cnt > 0 ? ((s[0] + s[1]) + (s[2] + s[3])) / cnt : 0.0;
        double v[4] = {0, 0, 0, 0};
        for (int64_t i = 0; i < n; i++) {
            const FT *restrict r = x + (i * c + ci) * hw;
            int64_t j = 0;
            for (; j + 4 <= hw; j += 4)
                for (int l = 0; l < 4; l++) {
                    const double d = (double)r[j + l] - m;
                    v[l] += d * d;
                }
            for (int l = 0; j < hw; j++, l++) {
                const double d = (double)r[j] - m;
                v[l] += d * d;
            }
        }
        mean[ci] = m;
        var[ci] = cnt > 0 ? ((v[0] + v[1]) + (v[2] + v[3])) / cnt : 0.0;
    }
    return FML_OK;
}

int FML_T(fml_channel_affine)(int64_t n, int64_t c, int64_t hw, const FT *x, const FT *scale,
                              const FT *shift, int act, FT *y, int64_t n_threads)
{
    const fml_conv_kernels *kt = fml_conv_kernels_get();
    const int64_t rows = n * c;
    const int nt = conv_threads(n_threads, rows, 2.0 * (double)rows * (double)hw);
    (void)nt;
#pragma omp parallel for schedule(static) num_threads(nt)
    for (int64_t r = 0; r < rows; r++)
        KSEL(kt->affine_row)(hw, x + r * hw, scale[r % c], shift[r % c], act == FML_ACT_RELU,
                             y + r * hw);
    return FML_OK;
}

int FML_T(fml_relu)(int64_t len, const FT *x, FT *y, int64_t n_threads)
{
    const fml_conv_kernels *kt = fml_conv_kernels_get();
    const int64_t chunk = 16384, n_chunks = (len + chunk - 1) / chunk;
    const int nt = conv_threads(n_threads, n_chunks, 2.0 * (double)len);
    (void)nt;
#pragma omp parallel for schedule(static) num_threads(nt)
    for (int64_t ch = 0; ch < n_chunks; ch++) {
        const int64_t j0 = ch * chunk;
        KSEL(kt->affine_row)(FML_MIN(chunk, len - j0), x + j0, (FT)1, (FT)0, 1, y + j0);
    }
    return FML_OK;
}

#undef TILE_T
#undef KSEL
