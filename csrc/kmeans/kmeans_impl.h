/* kmeans_impl.h: dtype-generic k-means steps.  No include guard: included by
 * kmeans.c once per dtype with FT and SFX set.  Contracts in kmeans.h. */

/* ---- Lloyd: argmin + weighted sums in the GEMM epilogue ------------------ */

typedef struct {
    const FT *x;           /* this chunk's rows */
    int64_t d, k;
    const FT *cnorm;       /* ||c_j||^2 */
    FT *best;              /* running min of ||c||^2 - 2 x.c, per row of the chunk */
    int32_t *labels;
    FT *min_d2;            /* optional */
} FML_T(lloyd_ctx);

/* Copy of a chunk's labels before the step reassigns them (delta mode), in
 * thread scratch; NULL with *err set when out of memory. */
static int32_t *FML_T(keep_old_labels)(const int32_t *labels, int64_t rows, int *err)
{
    int32_t *old = (int32_t *)fml_scratch_thread(4, (size_t)rows * sizeof(int32_t));
    if (old == NULL) *err |= FML_ENOMEM;
    else memcpy(old, labels, (size_t)rows * sizeof(int32_t));
    return old;
}

/* Rows whose label is not the one they had on entry (old). */
static int64_t FML_T(count_changed)(const int32_t *labels, const int32_t *old, int64_t rows)
{
    int64_t c = 0;
    for (int64_t i = 0; i < rows; i++) c += labels[i] != old[i];
    return c;
}

static FT FML_T(row_sqnorm)(const FT *restrict xr, int64_t d)
{
    FT s = 0;
    for (int64_t p = 0; p < d; p++) s += xr[p] * xr[p];
    return s;
}

/* Portable row argmin (contract in kmeans_argmin_impl.h). */
static void FML_T(row_argmin_scalar)(const FT *restrict row, const FT *restrict cn, int64_t nb,
                                     int64_t j0, FT *best, int32_t *arg)
{
    FT bv = *best;
    int32_t ba = *arg;
    for (int64_t j = 0; j < nb; j++) {
        const FT v = cn[j] - 2 * row[j];
        if (v < bv) {                                  /* strict: first index wins ties */
            bv = v;
            ba = (int32_t)(j0 + j);
        }
    }
    *best = bv;
    *arg = ba;
}

/* Portable small-d assignment (contract in kmeans_argmin_impl.h), VL = 1. */
static void FML_T(assign_lanes_scalar)(const FT *restrict xt, int64_t rows, int64_t d,
                                       const FT *restrict cm2, const FT *restrict cn, int64_t k,
                                       int32_t *restrict labels, FT *restrict best)
{
    for (int64_t i = 0; i < rows; i++) {
        FT bv = (FT)INFINITY;
        int32_t ba = 0;
        for (int64_t j = 0; j < k; j++) {
            FT v = cn[j];
            for (int64_t p = 0; p < d; p++) v += cm2[j * d + p] * xt[i * d + p];
            if (v < bv) {
                bv = v;
                ba = (int32_t)j;
            }
        }
        labels[i] = ba;
        best[i] = bv;
    }
}

/* Rows [0, rows) of x into VL-row transposed blocks (zero-padded last block). */
static void FML_T(lanes_pack)(const FT *restrict x, int64_t rows, int64_t d, int64_t vl,
                              FT *restrict out)
{
    for (int64_t b = 0; b * vl < rows; b++)
        for (int64_t p = 0; p < d; p++)
            for (int64_t l = 0; l < vl; l++) {
                const int64_t i = b * vl + l;
                out[(b * d + p) * vl + l] = i < rows ? x[i * d + p] : 0;
            }
}

int FML_T(fml_kmeans_pack_lanes)(int64_t n, int64_t d, const FT *x, FT *out, int64_t n_threads)
{
    const int64_t vl = g_kernels.FML_T(lanes), n_chunks = kmeans_n_chunks(n);
    const int nt = fml_threads_for(n_threads, n_chunks, (double)n * (double)d, 1.0e6);
    (void)nt;
#pragma omp parallel for schedule(static) num_threads(nt)
    for (int64_t c = 0; c < n_chunks; c++) {
        const int64_t r0 = kmeans_chunk_start(n, c), r1 = kmeans_chunk_start(n, c + 1);
        FML_T(lanes_pack)(x + r0 * d, r1 - r0, d, vl, out + r0 * d);
    }
    return FML_OK;
}

static int FML_T(lloyd_epilogue)(void *vctx, int64_t i0, int64_t j0, int64_t mb, int64_t nb,
                                 FT *tile, int64_t ldt)
{
    FML_T(lloyd_ctx) *ctx = (FML_T(lloyd_ctx) *)vctx;
    const FT *cn = ctx->cnorm + j0;
    const int last = j0 + nb == ctx->k;
    for (int64_t i = 0; i < mb; i++) {
        const FT *restrict row = tile + i * ldt;
        FT best = j0 == 0 ? (FT)INFINITY : ctx->best[i0 + i];
        int32_t arg = j0 == 0 ? 0 : ctx->labels[i0 + i];
        g_kernels.FML_T(row_argmin)(row, cn, nb, j0, &best, &arg);
        ctx->labels[i0 + i] = arg;
        if (!last) {
            ctx->best[i0 + i] = best;
            continue;
        }
        const FT *xr = ctx->x + (i0 + i) * ctx->d;
        if (ctx->min_d2 != NULL) {
            const FT d2 = FML_T(row_sqnorm)(xr, ctx->d) + best;
            ctx->min_d2[i0 + i] = d2 > 0 ? d2 : 0;     /* roundoff can go below 0 */
        }
    }
    return FML_OK;
}

/* Centre norms and the packed centres (B = C^T, d x k) shared by the steps. */
static int FML_T(prepare_centers)(int64_t d, int64_t k, const FT *centers, FT **cnorm,
                                  fml_gemm_packed_b *pb, int64_t n_threads)
{
    *cnorm = (FT *)fml_scratch_alloc((size_t)k * sizeof(FT));
    if (*cnorm == NULL) return FML_ENOMEM;
    for (int64_t j = 0; j < k; j++) (*cnorm)[j] = FML_T(row_sqnorm)(centers + j * d, d);
    const int st = FML_T(fml_gemm_pack_b)(d, k, centers, 1, d, pb, n_threads);
    if (st != FML_OK) {
        fml_scratch_free(*cnorm);
        *cnorm = NULL;
    }
    return st;
}

/* Chunk partials (stride `len`: k*d sums then k weights) added in chunk order,
 * in parallel over elements; the total replaces sums / wsum, or is added to
 * them in delta mode. */
static void FML_T(merge_partials)(int64_t n_chunks, int64_t k, int64_t d, const double *partial,
                                  double *sums, double *wsum, int mode, int nt)
{
    const int64_t len = k * d + k;
    (void)nt;
#pragma omp parallel for schedule(static) num_threads(nt)
    for (int64_t e = 0; e < len; e++) {
        double s = 0;
        for (int64_t c = 0; c < n_chunks; c++) s += partial[c * len + e];
        double *dst = e < k * d ? sums + e : wsum + (e - k * d);
        *dst = mode == FML_KMEANS_SUMS_DELTA ? *dst + s : s;
    }
}

/* Lloyd for small d: no GEMM, points as SIMD lanes (assign_lanes).  xt: X in
 * lanes layout (fml_kmeans_pack_lanes), or NULL to transpose chunk by chunk. */
static int FML_T(lloyd_direct)(int64_t n, int64_t d, const FT *x, const FT *xt,
                               const FT *sample_weight, int64_t k, const FT *centers,
                               int32_t *labels, FT *min_d2, double *sums, double *wsum,
                               double *partial, int update, int64_t *changed, int nt)
{
    const int64_t vl = g_kernels.FML_T(lanes);
    const int64_t n_chunks = kmeans_n_chunks(n), len = k * d + k;
    FT *cm2 = (FT *)fml_scratch_alloc((size_t)(k * (d + 1)) * sizeof(FT));
    if (cm2 == NULL) return FML_ENOMEM;
    FT *cn = cm2 + k * d;
    for (int64_t j = 0; j < k; j++) {
        for (int64_t p = 0; p < d; p++) cm2[j * d + p] = -2 * centers[j * d + p];
        cn[j] = FML_T(row_sqnorm)(centers + j * d, d);
    }
    int err = FML_OK;
#pragma omp parallel for schedule(dynamic, 1) num_threads(nt) reduction(| : err)
    for (int64_t c = 0; c < n_chunks; c++) {
        const int64_t r0 = kmeans_chunk_start(n, c), r1 = kmeans_chunk_start(n, c + 1);
        const int64_t rows = r1 - r0, padded = (rows + vl - 1) / vl * vl;
        FT *best = (FT *)fml_scratch_thread(3, (size_t)rows * sizeof(FT));
        FT *tmp = xt ? NULL : (FT *)fml_scratch_thread(1, (size_t)(padded * d) * sizeof(FT));
        if (best == NULL || (xt == NULL && tmp == NULL)) {
            err |= FML_ENOMEM;
            continue;
        }
        const FT *blk = xt ? xt + r0 * d : tmp;        /* r0 is a multiple of vl */
        if (xt == NULL) FML_T(lanes_pack)(x + r0 * d, rows, d, vl, tmp);
        const int32_t *old = FML_T(keep_old_labels)(labels + r0, rows, &err);
        if (old == NULL) continue;
        g_kernels.FML_T(assign_lanes)(blk, rows, d, cm2, cn, k, labels + r0, best);
        changed[c] = FML_T(count_changed)(labels + r0, old, rows);
        if (min_d2 != NULL)
            for (int64_t i = r0; i < r1; i++) {
                const FT d2 = FML_T(row_sqnorm)(x + i * d, d) + best[i - r0];
                min_d2[i] = d2 > 0 ? d2 : 0;
            }
        if (update)
            g_kernels.FML_T(add_rows)(partial + c * len, partial + c * len + k * d, labels + r0,
                                      update == FML_KMEANS_SUMS_DELTA ? old : NULL,
                                      x + r0 * d, sample_weight + r0, rows, d, k);
    }
    if (err == FML_OK && update)
        FML_T(merge_partials)(n_chunks, k, d, partial, sums, wsum, update, nt);
    fml_scratch_free(cm2);
    return err;
}

/* An upper bound of ||x_i|| over the rows: from X's int8 form when given
 * (||x|| <= ||s x'|| + ||x - s x'|| = (alpha + eps) / 2), else a pass over X. */
static double FML_T(i8_xmax)(int64_t n, int64_t d, const FT *x, const uint8_t *xq)
{
    double m = 0;
    if (xq != NULL) {
        const kmeans_i8_form f = kmeans_i8_view(xq, kmeans_i8_rows(n), kmeans_i8_kp(d));
        for (int64_t i = 0; i < n; i++) {              /* NaN (no valid form) propagates */
            const double v = 0.5 * ((double)f.alpha[i] + (double)f.eps[i]);
            if (!(v <= m)) m = v;
        }
        return m * (1 + 1e-6);
    }
    for (int64_t i = 0; i < n; i++) {
        const double v = (double)FML_T(row_sqnorm)(x + i * d, d);
        if (!(v <= m)) m = v;
    }
    return sqrt(m) * (1 + 1e-3);
}

/* The total of the chunks' counts, in chunk order. */
static int64_t FML_T(sum_counts)(const int64_t *count, int64_t n_chunks)
{
    int64_t s = 0;
    for (int64_t c = 0; c < n_chunks; c++) s += count[c];
    return s;
}

static int FML_T(lloyd_chunks)(int64_t n, int64_t d, const FT *x, const FT *xpack, int64_t mr,
                               const uint8_t *xq, const FT *sample_weight, int64_t k,
                               const FT *centers, int32_t *labels, FT *min_d2, double *sums,
                               double *wsum, double *partial, int update, int64_t *changed,
                               int64_t n_threads);

int FML_T(fml_kmeans_lloyd)(int64_t n, int64_t d, const FT *x, const FT *xpack, int64_t mr,
                            const uint8_t *xq, const FT *sample_weight, int64_t k,
                            const FT *centers, int32_t *labels, FT *min_d2, double *sums,
                            double *wsum, double *partial, int update, int64_t *n_changed,
                            int64_t n_threads)
{
    int64_t changed[FML_KMEANS_MAX_CHUNKS] = {0};
    const int64_t n_chunks = kmeans_n_chunks(n);
    const int err = FML_T(lloyd_chunks)(n, d, x, xpack, mr, xq, sample_weight, k, centers, labels,
                                        min_d2, sums, wsum, partial, update, changed, n_threads);
    if (n_changed != NULL) *n_changed = FML_T(sum_counts)(changed, n_chunks);
    return err;
}

static int FML_T(lloyd_chunks)(int64_t n, int64_t d, const FT *x, const FT *xpack, int64_t mr,
                               const uint8_t *xq, const FT *sample_weight, int64_t k,
                               const FT *centers, int32_t *labels, FT *min_d2, double *sums,
                               double *wsum, double *partial, int update, int64_t *changed,
                               int64_t n_threads)
{
    if (n <= 0 || k <= 0) return FML_OK;
    const int64_t n_chunks = kmeans_n_chunks(n), len = k * d + k;
    const int nt = fml_threads_for(n_threads, n_chunks, 2.0 * (double)n * (double)k * (double)d,
                                   FML_KMEANS_MIN_WORK_PER_THREAD);
    if (d <= FML_KMEANS_DIRECT_MAX_D)
        return FML_T(lloyd_direct)(n, d, x, xpack, sample_weight, k, centers, labels, min_d2,
                                   sums, wsum, partial, update, changed, nt);
    int err = FML_OK;
    FML_T(i8_plan) i8 = {0};
    i8.xq = xq;
    i8.n4 = kmeans_i8_rows(n);
    const int use_i8 = kmeans_i8_on(d) && k > 1 &&
                       FML_T(i8_prepare)(&i8, d, k, centers, FML_T(i8_xmax)(n, d, x, xq), &err);
    if (err != FML_OK) return err;
    FT *cnorm = NULL;
    fml_gemm_packed_b pb = {0, 0, 0, NULL};
    if (!use_i8) err = FML_T(prepare_centers)(d, k, centers, &cnorm, &pb, nt);
    if (err != FML_OK) return err;
    const int64_t intr = fml_interrupt_token();
    if (err == FML_OK) {
#pragma omp parallel for schedule(dynamic, 1) num_threads(nt) reduction(| : err)
        for (int64_t c = 0; c < n_chunks; c++) {
            if (err == FML_OK && fml_interrupted(intr)) err |= FML_EINTR;
            if (err != FML_OK) continue;
            const int64_t r0 = kmeans_chunk_start(n, c), r1 = kmeans_chunk_start(n, c + 1);
            const int32_t *old = FML_T(keep_old_labels)(labels + r0, r1 - r0, &err);
            if (old == NULL) continue;
            if (use_i8) {
                err |= FML_T(i8_assign)(&i8, x, r0, r1, labels + r0, min_d2 ? min_d2 + r0 : NULL);
            } else {
                /* running minimum per row of the chunk: thread scratch, not an n-sized array */
                FT *best = (FT *)fml_scratch_thread(3, (size_t)(r1 - r0) * sizeof(FT));
                if (best == NULL) {
                    err |= FML_ENOMEM;
                    continue;
                }
                FML_T(lloyd_ctx) ctx = {x + r0 * d, d, k, cnorm, best,
                                        labels + r0, min_d2 ? min_d2 + r0 : NULL};
                if (xpack != NULL)
                    err |= FML_T(fml_gemm_fused_packed)(xpack, mr, r0, r1 - r0, &pb,
                                                        FML_T(lloyd_epilogue), &ctx, 1);
                else
                    err |= FML_T(fml_gemm_fused)(r1 - r0, x + r0 * d, d, 1, &pb,
                                                 FML_T(lloyd_epilogue), &ctx, 1);
            }
            changed[c] = FML_T(count_changed)(labels + r0, old, r1 - r0);
            if (update)
                g_kernels.FML_T(add_rows)(partial + c * len, partial + c * len + k * d, labels + r0,
                                          update == FML_KMEANS_SUMS_DELTA ? old : NULL,
                                          x + r0 * d, sample_weight + r0, r1 - r0, d, k);
        }
    }
    if (err == FML_OK && update) FML_T(merge_partials)(n_chunks, k, d, partial, sums, wsum, update, nt);
    fml_scratch_free(i8.buf);
    fml_scratch_free(cnorm);
    fml_gemm_packed_b_free(&pb);
    return err;
}

/* ---- Hamerly: bounds skip most points once clusters settle --------------- */

typedef struct {
    int64_t k;
    const FT *cnorm;
    FT *best, *second;     /* running two smallest of ||c||^2 - 2 x.c per gathered row */
    int32_t *arg;
} FML_T(top2_ctx);

/* Two smallest of cn[j] - 2 row[j] per row, with the vectorised row argmin run
 * twice: the second time with the winner masked out (row[arg] = -inf makes its
 * value +inf).  Blocks are merged: the best two of (old best, old second, block
 * best, block second). */
static int FML_T(top2_epilogue)(void *vctx, int64_t i0, int64_t j0, int64_t mb, int64_t nb,
                                FT *tile, int64_t ldt)
{
    FML_T(top2_ctx) *ctx = (FML_T(top2_ctx) *)vctx;
    const FT *cn = ctx->cnorm + j0;
    for (int64_t i = 0; i < mb; i++) {
        FT *row = tile + i * ldt;
        FT b1 = (FT)INFINITY, b2 = (FT)INFINITY;
        int32_t a1 = (int32_t)j0, a2 = (int32_t)j0;
        g_kernels.FML_T(row_argmin)(row, cn, nb, j0, &b1, &a1);
        row[a1 - j0] = -(FT)INFINITY;
        g_kernels.FML_T(row_argmin)(row, cn, nb, j0, &b2, &a2);
        if (j0 == 0) {
            ctx->best[i0 + i] = b1;
            ctx->second[i0 + i] = b2;
            ctx->arg[i0 + i] = a1;
            continue;
        }
        const FT o1 = ctx->best[i0 + i], o2 = ctx->second[i0 + i];
        if (b1 < o1) {                                 /* earlier block keeps ties */
            ctx->best[i0 + i] = b1;
            ctx->arg[i0 + i] = a1;
            ctx->second[i0 + i] = o1 < b2 ? o1 : b2;
        } else {
            ctx->second[i0 + i] = b1 < o2 ? b1 : o2;
        }
    }
    return FML_OK;
}

static inline double FML_T(exact_dist)(const FT *xr, const FT *c, int64_t d)
{
    return sqrt(g_kernels.FML_T(exact_d2)(xr, c, d));
}

int FML_T(fml_kmeans_hamerly)(int64_t n, int64_t d, const FT *x, const FT *sample_weight,
                              int64_t k, const FT *centers, const double *half_sep,
                              int32_t *labels, double *upper, double *lower, double *sums,
                              double *wsum, double *partial, int update,
                              int64_t *n_recomputed, int64_t *n_changed, int64_t n_threads)
{
    *n_recomputed = 0;
    if (n_changed != NULL) *n_changed = 0;
    if (n <= 0 || k <= 0) return FML_OK;
    const int64_t n_chunks = kmeans_n_chunks(n), len = k * d + k;
    const int nt = fml_threads_for(n_threads, n_chunks, 2.0 * (double)n * (double)d * 8.0,
                                   FML_KMEANS_MIN_WORK_PER_THREAD);
    FT *cnorm = NULL;
    fml_gemm_packed_b pb = {0, 0, 0, NULL};
    int err = FML_T(prepare_centers)(d, k, centers, &cnorm, &pb, nt);
    if (err != FML_OK) return err;
    FT cmax = 0;
    for (int64_t j = 0; j < k; j++) cmax = cnorm[j] > cmax ? cnorm[j] : cmax;
    int64_t recomputed[FML_KMEANS_MAX_CHUNKS], changed[FML_KMEANS_MAX_CHUNKS];
    if (err == FML_OK) {
#pragma omp parallel for schedule(dynamic, 1) num_threads(nt) reduction(| : err)
        for (int64_t c = 0; c < n_chunks; c++) {
            const int64_t r0 = kmeans_chunk_start(n, c), r1 = kmeans_chunk_start(n, c + 1);
            const int64_t rows = r1 - r0;
            double *ps = partial + c * len;
            recomputed[c] = changed[c] = 0;
            const int32_t *old = FML_T(keep_old_labels)(labels + r0, rows, &err);
            if (old == NULL) continue;
            /* scratch: gathered rows, their indices and top-2 state */
            const size_t bytes = (size_t)rows * ((size_t)d * sizeof(FT) + sizeof(int64_t) +
                                                 2 * sizeof(FT) + sizeof(int32_t)) + 4 * FML_ALIGN;
            char *buf = (char *)fml_scratch_thread(1, bytes);
            if (buf == NULL) {
                err |= FML_ENOMEM;
                continue;
            }
            /* widest type first so every array is aligned for its type */
            int64_t *gidx = (int64_t *)buf;
            FT *gx = (FT *)(gidx + rows);
            FT *b1 = gx + rows * d;
            FT *b2 = b1 + rows;
            int32_t *garg = (int32_t *)(b2 + rows);
            int64_t ng = 0;
            for (int64_t i = r0; i < r1; i++) {
                const int32_t a = labels[i];
                const double m = lower[i] > half_sep[a] ? lower[i] : half_sep[a];
                if (upper[i] <= m) continue;
                upper[i] = FML_T(exact_dist)(x + i * d, centers + a * d, d);
                if (upper[i] <= m) continue;
                memcpy(gx + ng * d, x + i * d, (size_t)d * sizeof(FT));
                gidx[ng++] = i;
            }
            recomputed[c] = ng;
            if (ng > 0) {
                FML_T(top2_ctx) ctx = {k, cnorm, b1, b2, garg};
                err |= FML_T(fml_gemm_fused)(ng, gx, d, 1, &pb, FML_T(top2_epilogue), &ctx, 1);
                for (int64_t g = 0; g < ng; g++) {
                    const int64_t i = gidx[g];
                    const FT *xr = x + i * d;
                    const double xn = (double)FML_T(row_sqnorm)(xr, d);
                    /* the expansion's rounding, bounded generously: lower stays a lower bound */
                    const double slack = 64.0 * FML_EPS * (xn + (double)cmax);
                    labels[i] = garg[g];
                    upper[i] = FML_T(exact_dist)(xr, centers + garg[g] * d, d);
                    const double l2 = xn + (double)b2[g] - slack;
                    lower[i] = k > 1 && l2 > 0 ? sqrt(l2) : 0.0;
                }
            }
            changed[c] = FML_T(count_changed)(labels + r0, old, rows);
            g_kernels.FML_T(add_rows)(ps, ps + k * d, labels + r0,
                                      update == FML_KMEANS_SUMS_DELTA ? old : NULL, x + r0 * d,
                                      sample_weight + r0, rows, d, k);
        }
    }
    if (err == FML_OK) {
        FML_T(merge_partials)(n_chunks, k, d, partial, sums, wsum, update, nt);
        *n_recomputed = FML_T(sum_counts)(recomputed, n_chunks);
        if (n_changed != NULL) *n_changed = FML_T(sum_counts)(changed, n_chunks);
    }
    fml_scratch_free(cnorm);
    fml_gemm_packed_b_free(&pb);
    return err;
}

/* ---- centring ------------------------------------------------------------- */

int FML_T(fml_kmeans_center)(int64_t n, int64_t d, const FT *x, FT *out, double *mean,
                             int64_t n_threads)
{
    for (int64_t p = 0; p < d; p++) mean[p] = 0;
    if (n <= 0) return FML_OK;
    const int64_t n_chunks = kmeans_n_chunks(n);
    double *part = (double *)fml_scratch_alloc((size_t)(n_chunks * d) * sizeof(double));
    if (part == NULL) return FML_ENOMEM;
    const int nt = fml_threads_for(n_threads, n_chunks, 2.0 * (double)n * (double)d, 1.0e6);
    (void)nt;
#pragma omp parallel num_threads(nt)
    {
#pragma omp for schedule(static)
        for (int64_t c = 0; c < n_chunks; c++) {
            double *restrict acc = part + c * d;
            for (int64_t p = 0; p < d; p++) acc[p] = 0;
            for (int64_t i = kmeans_chunk_start(n, c); i < kmeans_chunk_start(n, c + 1); i++)
                for (int64_t p = 0; p < d; p++) acc[p] += (double)x[i * d + p];
        }
#pragma omp single
        for (int64_t p = 0; p < d; p++) {
            double s = 0;
            for (int64_t c = 0; c < n_chunks; c++) s += part[c * d + p];
            mean[p] = s / (double)n;
        }
#pragma omp for schedule(static)
        for (int64_t c = 0; c < n_chunks; c++)
            for (int64_t i = kmeans_chunk_start(n, c); i < kmeans_chunk_start(n, c + 1); i++)
                for (int64_t p = 0; p < d; p++) out[i * d + p] = x[i * d + p] - (FT)mean[p];
    }
    fml_scratch_free(part);
    return FML_OK;
}

/* ---- exact inertia ------------------------------------------------------- */

int FML_T(fml_kmeans_inertia)(int64_t n, int64_t d, const FT *x, const FT *sample_weight,
                              const FT *centers, const int32_t *labels, double *inertia,
                              int64_t n_threads)
{
    *inertia = 0;
    if (n <= 0) return FML_OK;
    const int64_t n_chunks = kmeans_n_chunks(n);
    double part[FML_KMEANS_MAX_CHUNKS];
    const int nt = fml_threads_for(n_threads, n_chunks, 3.0 * (double)n * (double)d,
                                   FML_KMEANS_MIN_WORK_PER_THREAD);
    (void)nt;
#pragma omp parallel for schedule(static) num_threads(nt)
    for (int64_t c = 0; c < n_chunks; c++) {
        const int64_t r0 = kmeans_chunk_start(n, c), r1 = kmeans_chunk_start(n, c + 1);
        part[c] = g_kernels.FML_T(weighted_d2)(x + r0 * d, centers, labels + r0, sample_weight + r0,
                                               r1 - r0, d);
    }
    double s = 0;
    for (int64_t c = 0; c < n_chunks; c++) s += part[c];
    *inertia = s;
    return FML_OK;
}

int FML_T(fml_kmeans_point_d2)(int64_t n, int64_t d, const FT *x, const FT *centers,
                               const int32_t *labels, double *out, int64_t n_threads)
{
    const int64_t n_chunks = kmeans_n_chunks(n);
    const int nt = fml_threads_for(n_threads, n_chunks, 3.0 * (double)n * (double)d,
                                   FML_KMEANS_MIN_WORK_PER_THREAD);
    (void)nt;
#pragma omp parallel for schedule(static) num_threads(nt)
    for (int64_t c = 0; c < n_chunks; c++) {
        const int64_t r0 = kmeans_chunk_start(n, c), r1 = kmeans_chunk_start(n, c + 1);
        for (int64_t i = r0; i < r1; i++) {
            out[i] = g_kernels.FML_T(exact_d2)(x + i * d, centers + (int64_t)labels[i] * d, d);
        }
    }
    return FML_OK;
}
