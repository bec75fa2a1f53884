/* distance_impl.h: dtype-generic drivers of the distance family (see distance.h).
 * No include guard: included once per dtype by distance.c with FT (storage),
 * SFX (f32/f64) and FML_EPS (machine epsilon of FT) set.
 *
 * ACC: every per-row quantity (norms, entropies, shift) and every exact
 * recomputation is float64 whatever FT is: these are the sums where
 * cancellation bites.  Tiles stay in FT.
 *
 *   prepare (GEMM metrics)        rows A fed to the GEMM, packed B, per-row terms
 *   produce tiles                 gemm_run (core's packed A, packed B and micro-
 *                                 kernel, taller row blocks than fml_gemm_fused)
 *                                 or direct_run (Y packed in transposed panels)
 *   consume tiles (epilogues)     ep_pairwise / ep_kernel / ep_knn / ep_radius
 *   finish                        knn: exact re-rank + safety check; radius: sort
 */

#define KT FML_T(fml_distance_kernels)
#define CTX FML_T(dist_ctx)
#define PAIR FML_T(dist_pair)

/* unit roundoff of FT */
#define FML_U (0.5 * (double)FML_EPS)

typedef struct {
    FT v;        /* sort key: the distance (minus the similarity for dot) */
    int64_t j;
} PAIR;

typedef struct {
    const KT *kt;
    int metric, consumer;
    const FT *x, *y;              /* the caller's rows, for exact recomputation */
    int64_t m, n, d;
    int symmetric;
    double p;                     /* minkowski */
    int ip;                       /* p when it is a small integer, else 0 */
    /* GEMM metrics */
    FT *a_copy, *b_copy;          /* shifted / normalised / log rows (owned) */
    const FT *a;                  /* rows of the GEMM's A: x or a_copy */
    double *nx, *ny;              /* sqeuclidean: squared norms of the shifted rows;
                                     cosine, dot: norms */
    FT *nxf, *nyf;                /* the same in FT for the SIMD epilogue */
    double nymax;
    double ratio;                 /* recompute where expanded < ratio * scale */
    /* kl */
    double *hx, *sx, *ax, *ly;    /* sum x log x, sum x, sum |x log x|; max |log y| per row */
    double lymax;
    uint64_t *xbits, *ybits;      /* support of x; zeros of y */
    unsigned char *yzero;
    int64_t words;
    /* kernels */
    int kind;
    double gamma, coef0, degree;
    /* outputs */
    FT *out;
    int64_t ldo;
    int64_t splits;               /* column ranges per row block (short X); knn keeps
                                     one heap per (range, row) */
    int64_t k, kk;
    FT *hv;
    int64_t *hi;
    double radius;
    fml_radius_result *res;
    int32_t **colbuf;             /* per-thread column scratch of the radius epilogue */
} CTX;

static const KT *FML_T(kernels)(void);

/* ---- helpers ------------------------------------------------------------- */

static int FML_T(is_gemm_metric)(int metric)
{
    return metric == FML_METRIC_SQEUCLIDEAN || metric == FML_METRIC_EUCLIDEAN ||
           metric == FML_METRIC_COSINE || metric == FML_METRIC_DOT || metric == FML_METRIC_KL;
}

static int FML_T(is_true_metric)(int metric) { return metric != FML_METRIC_DOT; }

/* Threads for `work` units of row-parallel preprocessing over `rows` rows. */
static int FML_T(prep_threads)(int64_t n_threads, int64_t rows, double work)
{
    return fml_threads_for(n_threads, (rows + 255) / 256, work, FML_DISTANCE_MIN_PREP_PER_THREAD);
}

/* Threshold of the recompute test, relative to the scale of the expansion:
 * the typical error of a d-long FT dot product is about sqrt(d) u, so an entry
 * above this keeps ~1/target relative accuracy. */
static double FML_T(recompute_ratio)(int64_t d, double target)
{
    const double r = target * (4.0 * sqrt((double)d) + 8.0) * FML_U;
    return r < 0.5 ? r : 0.5;
}

/* Bound factor of the expansion error used where a decision must be safe
 * (knn candidate check, radius margin): the worst case of a d-long sum. */
static double FML_T(bound_factor)(int64_t d) { return ((double)d + 16.0) * FML_U; }

/* exact distance-space value of (i, j) for a GEMM metric: sqeuclidean for both
 * euclidean flavours, 1 - cos, minus the dot product, or the KL divergence */
static double FML_T(exact)(const CTX *c, int64_t i, int64_t j)
{
    const FT *restrict x = c->x + i * c->d, *restrict y = c->y + j * c->d;
    const int64_t d = c->d;
    switch (c->metric) {
    case FML_METRIC_SQEUCLIDEAN:
    case FML_METRIC_EUCLIDEAN:
        return c->kt->exact_sq(x, y, d);
    case FML_METRIC_COSINE: {
        const double nx = c->nx[i], ny = c->ny[j];
        if (nx == 0 || ny == 0) return 1.0;
        double s = 0;                           /* 1 - cos = |x/|x| - y/|y||^2 / 2, no cancellation */
        for (int64_t p = 0; p < d; p++) {
            const double t = (double)x[p] / nx - (double)y[p] / ny;
            s += t * t;
        }
        s *= 0.5;
        return s < 0 ? 0 : (s > 2 ? 2 : s);
    }
    case FML_METRIC_DOT: {
        double s = 0;
        for (int64_t p = 0; p < d; p++) s += (double)x[p] * (double)y[p];
        return -s;
    }
    default: {                                  /* kl: sum rel_entr(x, y) */
        double s = 0;
        for (int64_t p = 0; p < d; p++) {
            const double xp = x[p], yp = y[p];
            if (xp > 0) s += yp > 0 ? xp * log(xp / yp) : INFINITY;
        }
        return s;
    }
    }
}

/* distance-space value -> the value reported for the metric */
static double FML_T(report)(const CTX *c, double v)
{
    switch (c->metric) {
    case FML_METRIC_EUCLIDEAN: return sqrt(v < 0 ? 0 : v);
    case FML_METRIC_DOT: return -v;
    default: return v;
    }
}

/* distance-space value = offset(i) + key for GEMM metrics */
static double FML_T(key_offset)(const CTX *c, int64_t i)
{
    switch (c->metric) {
    case FML_METRIC_SQEUCLIDEAN:
    case FML_METRIC_EUCLIDEAN: return c->nx[i];
    case FML_METRIC_COSINE: return 1.0;
    case FML_METRIC_KL: return c->hx[i];
    default: return 0.0;
    }
}

/* bound on |approx - exact| in distance space for row i against any row of Y;
 * the last term covers FT underflow (gradual: at most FML_TRUE_MIN per op) */
static double FML_T(key_error)(const CTX *c, int64_t i)
{
    const double f = FML_T(bound_factor)(c->d), under = 4.0 * ((double)c->d + 16) * FML_TRUE_MIN;
    switch (c->metric) {
    case FML_METRIC_SQEUCLIDEAN:
    case FML_METRIC_EUCLIDEAN: return f * (c->nx[i] + c->nymax) + under;
    case FML_METRIC_COSINE: return f * 4.0 + under;
    case FML_METRIC_DOT: return f * (c->nx[i] * c->nymax) + under;
    default: return f * (c->sx[i] * c->lymax + c->ax[i]) + under;
    }
}

static int FML_T(pair_cmp)(const void *pa, const void *pb)
{
    const PAIR *a = (const PAIR *)pa, *b = (const PAIR *)pb;
    if (a->v < b->v) return -1;
    if (a->v > b->v) return 1;
    return (a->j > b->j) - (a->j < b->j);
}

/* ---- preparation of the GEMM metrics ------------------------------------- */

static void FML_T(ctx_free)(CTX *c)
{
    fml_scratch_free(c->a_copy);
    fml_scratch_free(c->b_copy);
    fml_scratch_free(c->nx);
    if (c->ny != c->nx) fml_scratch_free(c->ny);
    fml_scratch_free(c->nxf);
    if (c->nyf != c->nxf) fml_scratch_free(c->nyf);
    fml_scratch_free(c->hx);
    fml_scratch_free(c->sx);
    fml_scratch_free(c->ax);
    fml_scratch_free(c->ly);
    fml_scratch_free(c->xbits);
    fml_scratch_free(c->ybits);
    fml_scratch_free(c->yzero);
    fml_scratch_free(c->hv);
    fml_scratch_free(c->hi);
}

static void *FML_T(alloc)(int64_t count, size_t item, int *ok)
{
    const size_t bytes = fml_mul_size((size_t)(count > 0 ? count : 1), item, ok);
    void *p = *ok ? fml_scratch_alloc(bytes) : NULL;
    if (p == NULL) *ok = 0;
    return p;
}

/* Squared norms (shift != NULL: of rows - shift, written to dst) or norms. */
static void FML_T(row_norms)(const FT *src, int64_t rows, int64_t d, const double *shift, FT *dst,
                             int squared, double *norm, FT *normf, int64_t n_threads)
{
    const KT *kt = FML_T(kernels)();
    const int nt = FML_T(prep_threads)(n_threads, rows, (double)rows * (double)d);
    (void)nt;
#pragma omp parallel for schedule(static) num_threads(nt)
    for (int64_t i = 0; i < rows; i++) {
        const FT *restrict r = src + i * d;
        double s = 0;
        if (shift != NULL) {
            FT *restrict o = dst + i * d;
            for (int64_t p = 0; p < d; p++) {
                const FT t = (FT)((double)r[p] - shift[p]);
                o[p] = t;
                s += (double)t * (double)t;
            }
        } else {
            s = kt->sqnorm(r, d);
        }
        norm[i] = squared ? s : sqrt(s);
        if (normf) normf[i] = (FT)norm[i];
    }
}

/* Rows divided by their norm (zero rows stay zero). */
static void FML_T(normalise_rows)(const FT *src, int64_t rows, int64_t d, const double *norm,
                                  FT *dst, int64_t n_threads)
{
    const int nt = FML_T(prep_threads)(n_threads, rows, (double)rows * (double)d);
    (void)nt;
#pragma omp parallel for schedule(static) num_threads(nt)
    for (int64_t i = 0; i < rows; i++) {
        const double inv = norm[i] > 0 ? 1.0 / norm[i] : 0.0;
        for (int64_t p = 0; p < d; p++) dst[i * d + p] = (FT)((double)src[i * d + p] * inv);
    }
}

/* Shift for the euclidean expansion: the mean of (a sample of) Y when it is far
 * from the origin relative to the spread, else none (returns 0). */
static int FML_T(choose_shift)(const FT *y, int64_t n, int64_t d, double *shift)
{
    const int64_t step = n > 4096 ? n / 4096 : 1;
    int64_t cnt = 0;
    double sq = 0;
    for (int64_t p = 0; p < d; p++) shift[p] = 0;
    for (int64_t j = 0; j < n; j += step, cnt++)
        for (int64_t p = 0; p < d; p++) {
            shift[p] += (double)y[j * d + p];
            sq += (double)y[j * d + p] * (double)y[j * d + p];
        }
    double s2 = 0;
    for (int64_t p = 0; p < d; p++) {
        shift[p] /= (double)cnt;
        s2 += shift[p] * shift[p];
    }
    const double spread = sq / (double)cnt - s2;   /* mean squared distance to the mean */
    return s2 > 0.01 * (spread > 0 ? spread : 0);
}

/* KL: per-row terms of X, log Y (log 0 -> 0, the zeros are tracked in bitsets). */
static int FML_T(prepare_kl)(CTX *c, int64_t n_threads)
{
    const int64_t m = c->m, n = c->n, d = c->d, w = (d + 63) / 64;
    int ok = 1;
    c->words = w;
    c->hx = (double *)FML_T(alloc)(m, sizeof(double), &ok);
    c->sx = (double *)FML_T(alloc)(m, sizeof(double), &ok);
    c->ax = (double *)FML_T(alloc)(m, sizeof(double), &ok);
    c->ly = (double *)FML_T(alloc)(n, sizeof(double), &ok);
    c->xbits = (uint64_t *)FML_T(alloc)(m * w, sizeof(uint64_t), &ok);
    c->ybits = (uint64_t *)FML_T(alloc)(n * w, sizeof(uint64_t), &ok);
    c->yzero = (unsigned char *)FML_T(alloc)(n, 1, &ok);
    c->b_copy = (FT *)FML_T(alloc)(n * d, sizeof(FT), &ok);
    if (!ok) return FML_ENOMEM;
    int nt = FML_T(prep_threads)(n_threads, m, (double)m * (double)d * 8);
    (void)nt;
#pragma omp parallel for schedule(static) num_threads(nt)
    for (int64_t i = 0; i < m; i++) {
        const FT *restrict r = c->x + i * d;
        uint64_t *restrict bits = c->xbits + i * w;
        double h = 0, s = 0, a = 0;
        for (int64_t q = 0; q < w; q++) bits[q] = 0;
        for (int64_t p = 0; p < d; p++)
            if (r[p] > 0) {
                const double t = (double)r[p] * log((double)r[p]);
                h += t;
                a += fabs(t);
                s += (double)r[p];
                bits[p >> 6] |= (uint64_t)1 << (p & 63);
            }
        c->hx[i] = h;
        c->sx[i] = s;
        c->ax[i] = a;
    }
    nt = FML_T(prep_threads)(n_threads, n, (double)n * (double)d * 8);
#pragma omp parallel for schedule(static) num_threads(nt)
    for (int64_t j = 0; j < n; j++) {
        const FT *restrict r = c->y + j * d;
        FT *restrict o = c->b_copy + j * d;
        uint64_t *restrict bits = c->ybits + j * w;
        double mx = 0;
        int zero = 0;
        for (int64_t q = 0; q < w; q++) bits[q] = 0;
        for (int64_t p = 0; p < d; p++) {
            if (r[p] > 0) {
                const double l = log((double)r[p]);
                o[p] = (FT)l;
                if (fabs(l) > mx) mx = fabs(l);
            } else {
                o[p] = 0;
                zero = 1;
                bits[p >> 6] |= (uint64_t)1 << (p & 63);
            }
        }
        c->ly[j] = mx;
        c->yzero[j] = (unsigned char)zero;
    }
    c->lymax = 0;
    for (int64_t j = 0; j < n; j++)
        if (c->ly[j] > c->lymax) c->lymax = c->ly[j];
    c->a = c->x;
    return FML_OK;
}

/* Everything the GEMM metrics need: A rows (c->a), B rows (*bsrc, n x d), row terms. */
static int FML_T(prepare_gemm)(CTX *c, const FT **bsrc_out, int64_t n_threads)
{
    const int64_t m = c->m, n = c->n, d = c->d;
    const int sym = c->symmetric;
    int ok = 1, st;
    const FT *bsrc = c->y;
    c->a = c->x;
    switch (c->metric) {
    case FML_METRIC_SQEUCLIDEAN:
    case FML_METRIC_EUCLIDEAN: {
        double *shift = (double *)FML_T(alloc)(d, sizeof(double), &ok);
        c->nx = (double *)FML_T(alloc)(m, sizeof(double), &ok);
        c->nxf = (FT *)FML_T(alloc)(m, sizeof(FT), &ok);
        c->ny = sym ? c->nx : (double *)FML_T(alloc)(n, sizeof(double), &ok);
        c->nyf = sym ? c->nxf : (FT *)FML_T(alloc)(n, sizeof(FT), &ok);
        if (!ok) {
            fml_scratch_free(shift);
            return FML_ENOMEM;
        }
        const int do_shift = FML_T(choose_shift)(c->y, n, d, shift);
        if (do_shift) {
            c->a_copy = (FT *)FML_T(alloc)(m * d, sizeof(FT), &ok);
            if (!sym) c->b_copy = (FT *)FML_T(alloc)(n * d, sizeof(FT), &ok);
            if (!ok) {
                fml_scratch_free(shift);
                return FML_ENOMEM;
            }
        }
        FML_T(row_norms)(c->x, m, d, do_shift ? shift : NULL, c->a_copy, 1, c->nx, c->nxf, n_threads);
        if (!sym)
            FML_T(row_norms)(c->y, n, d, do_shift ? shift : NULL, c->b_copy, 1, c->ny, c->nyf, n_threads);
        fml_scratch_free(shift);
        if (do_shift) {
            c->a = c->a_copy;
            bsrc = sym ? c->a_copy : c->b_copy;
        }
        c->ratio = FML_T(recompute_ratio)(d, 1e4);
        break;
    }
    case FML_METRIC_COSINE:
        c->nx = (double *)FML_T(alloc)(m, sizeof(double), &ok);
        c->ny = sym ? c->nx : (double *)FML_T(alloc)(n, sizeof(double), &ok);
        c->a_copy = (FT *)FML_T(alloc)(m * d, sizeof(FT), &ok);
        if (!sym) c->b_copy = (FT *)FML_T(alloc)(n * d, sizeof(FT), &ok);
        if (!ok) return FML_ENOMEM;
        FML_T(row_norms)(c->x, m, d, NULL, NULL, 0, c->nx, NULL, n_threads);
        FML_T(normalise_rows)(c->x, m, d, c->nx, c->a_copy, n_threads);
        if (!sym) {
            FML_T(row_norms)(c->y, n, d, NULL, NULL, 0, c->ny, NULL, n_threads);
            FML_T(normalise_rows)(c->y, n, d, c->ny, c->b_copy, n_threads);
        }
        c->a = c->a_copy;
        bsrc = sym ? c->a_copy : c->b_copy;
        c->ratio = FML_T(recompute_ratio)(d, 1e3);
        break;
    case FML_METRIC_KL:
        st = FML_T(prepare_kl)(c, n_threads);
        if (st != FML_OK) return st;
        bsrc = c->b_copy;
        c->ratio = FML_T(recompute_ratio)(d, 1e3);
        break;
    default:                                     /* dot and the kernels on x.y */
        if (c->consumer == FML_CONSUMER_KNN || c->consumer == FML_CONSUMER_RADIUS) {
            c->nx = (double *)FML_T(alloc)(m, sizeof(double), &ok);
            c->ny = (double *)FML_T(alloc)(n, sizeof(double), &ok);
            if (!ok) return FML_ENOMEM;
            FML_T(row_norms)(c->x, m, d, NULL, NULL, 0, c->nx, NULL, n_threads);
            FML_T(row_norms)(c->y, n, d, NULL, NULL, 0, c->ny, NULL, n_threads);
        }
        break;
    }
    if (c->ny != NULL) {
        c->nymax = 0;
        for (int64_t j = 0; j < n; j++)
            if (c->ny[j] > c->nymax) c->nymax = c->ny[j];
    }
    *bsrc_out = bsrc;
    return FML_OK;
}

/* ---- column splits ------------------------------------------------------------ */

/* Whether the producer writes the caller's output directly (pairwise, kernels). */
static int FML_T(tiles_to_out)(const CTX *c)
{
    return c->consumer == FML_CONSUMER_PAIRWISE || c->consumer == FML_CONSUMER_KERNEL;
}

/* Rows per task of the producer that serves c.  GEMM tiles written straight
 * into a (large) output use the GEMM's own MC: taller blocks scatter the
 * micro-kernel's stores over more rows and measured slower (10000^2 x 128:
 * 265 vs 213 ms).  Tiles kept in scratch (knn, radius) use taller blocks, so
 * that each B block streamed from memory serves more rows. */
static int64_t FML_T(task_rows)(const CTX *c)
{
    if (FML_T(is_gemm_metric)(c->metric) || c->consumer == FML_CONSUMER_KERNEL) {
        const FML_T(fml_gemm_kernel) *gk = FML_T(fml_gemm_kernel_get)();
        if (FML_T(tiles_to_out)(c)) return gk->mc;
        return gk->mr * FML_GEMM_ROW_PANELS;
    }
    return FML_DIRECT_MB;
}

/* Column ranges per row block: 1 unless X is too short to give the team enough
 * tasks.  Depends on the shapes only (never on the thread count); radius keeps
 * one list per row, so it never splits. */
static int64_t FML_T(choose_splits)(const CTX *c, int64_t kk)
{
    const int64_t row_blocks = (c->m + FML_T(task_rows)(c) - 1) / FML_T(task_rows)(c);
    const int64_t nblocks = (c->n + FML_TILE_NB - 1) / FML_TILE_NB;
    if (c->consumer == FML_CONSUMER_RADIUS || row_blocks >= FML_MIN_TASKS) return 1;
    int64_t s = FML_MIN((FML_MIN_TASKS + row_blocks - 1) / row_blocks, nblocks);
    if (kk > 0) s = FML_MIN(s, c->n / (kk > FML_TILE_NB ? kk : FML_TILE_NB));
    return s < 1 ? 1 : s;
}

/* The column blocks [b0, b1) of split s. */
static void FML_T(split_range)(const CTX *c, int64_t s, int64_t *b0, int64_t *b1)
{
    const int64_t nblocks = (c->n + FML_TILE_NB - 1) / FML_TILE_NB;
    *b0 = fml_chunk_start(nblocks, c->splits, s);
    *b1 = fml_chunk_start(nblocks, c->splits, s + 1);
}

static int64_t FML_T(split_of)(const CTX *c, int64_t j0)
{
    const int64_t b = j0 / FML_TILE_NB;
    for (int64_t s = 1; s < c->splits; s++) {
        int64_t b0, b1;
        FML_T(split_range)(c, s, &b0, &b1);
        if (b < b0) return s - 1;
    }
    return c->splits - 1;
}

typedef int (*FML_T(tile_consumer))(void *ctx, int64_t i0, int64_t j0, int64_t mb, int64_t nb,
                                    FT *tile, int64_t ldt);

/* ---- GEMM producer ---------------------------------------------------------------- */

/* Tiles of A B'^T (A = c->a, m x d; B' = bsrc, n x d) for `consume`; to_out:
 * the tiles are the caller's output itself, finished in place by `consume`.
 *
 *   A packed once (fml_gemm_pack_a), B packed once (fml_gemm_pack_b)
 *   task = (row block of task_rows() rows, column split)         <- threads
 *     for each 256-column block of the split, in order
 *       for p0 in steps of KC                                  <- fixed order
 *         for each NR panel of the block      (B micro-panel stays in L1)
 *           for each MR panel of the row block  (A micro-panels stream from L2)
 *             ukr -> tile (row block x 256, in L2), or straight into out
 *       consume(tile)
 *
 * Unlike fml_gemm_fused (MC-row tasks), a B block streamed from memory serves
 * the whole row block, which is what bounds knn over long Y.  Writing pairwise
 * results straight into out lets the stores drain while the next tiles compute
 * (a separate tile-to-out copy was a memory-bound 20% of the time).  Every tile
 * element is the same micro-kernel sums in the same p0 order for any thread
 * count, so results are bit-identical. */
static void FML_T(fix_flagged)(const CTX *c, int64_t i, int64_t j0, int64_t nb, FT *o);
static void FML_T(zero_diagonal)(const CTX *c, int64_t i, int64_t j0, int64_t nb, FT *o, FT value);

static int FML_T(gemm_run)(CTX *c, const FT *bsrc, FML_T(tile_consumer) consume, int to_out,
                           int64_t n_threads)
{
    const FML_T(fml_gemm_kernel) *gk = FML_T(fml_gemm_kernel_get)();
    const int64_t m = c->m, n = c->n, d = c->d, nr = gk->nr, kc = gk->kc, nbk = FML_TILE_NB;
    const int64_t mbk = FML_T(task_rows)(c), row_blocks = (m + mbk - 1) / mbk;
    const int64_t n_tasks = row_blocks * c->splits;
    int ok = 1, err = FML_OK;
    int64_t mr = gk->mr;
    FT *apack = (FT *)FML_T(alloc)(FML_T(fml_gemm_packed_a_len)(m, d), sizeof(FT), &ok);
    if (!ok) return FML_ENOMEM;
    fml_gemm_packed_b pb = {0, 0, 0, NULL};
    err = FML_T(fml_gemm_pack_a)(m, d, c->a, d, 1, apack, &mr, n_threads);
    if (err == FML_OK) err = FML_T(fml_gemm_pack_b)(d, n, bsrc, 1, d, &pb, n_threads);
    /* the shifted / normalised / log copies are packed now */
    fml_scratch_free(c->a_copy);
    fml_scratch_free(c->b_copy);
    c->a_copy = c->b_copy = NULL;
    c->a = NULL;
    if (err != FML_OK) {
        fml_scratch_free(apack);
        fml_gemm_packed_b_free(&pb);
        return err;
    }
    const FT *bpack = (const FT *)pb.data;
    /* pairwise sqeuclidean / euclidean straight into out: the finish is fused
       into the micro-kernel's store (when this level has one for the core's tile) */
    const KT *kt = c->kt;
    const int fuse_sq = to_out && c->consumer == FML_CONSUMER_PAIRWISE && kt->ukr_sq != NULL &&
                        kt->gmr == mr && kt->gnr == nr &&
                        (c->metric == FML_METRIC_SQEUCLIDEAN || c->metric == FML_METRIC_EUCLIDEAN);
    const int root = c->metric == FML_METRIC_EUCLIDEAN;
    const double work = 2.0 * (double)m * (double)n * (double)d * (double)(sizeof(FT) / sizeof(float));
    const int nt = fml_threads_for(n_threads, n_tasks, work, FML_DISTANCE_MIN_WORK_PER_THREAD);
    const int64_t intr = fml_interrupt_token();
    (void)nt;
#pragma omp parallel num_threads(nt) reduction(| : err)
    {
        FT *tile = to_out ? NULL : (FT *)fml_scratch_thread(3, (size_t)mbk * (size_t)nbk * sizeof(FT));
        if (!to_out && tile == NULL) err |= FML_ENOMEM;
#pragma omp for schedule(dynamic, 1)
        for (int64_t task = 0; task < n_tasks; task++) {
            if (err == FML_OK && fml_interrupted(intr)) err |= FML_EINTR;
            if (err != FML_OK) continue;
            const int64_t i0 = (task / c->splits) * mbk, mb = FML_MIN(mbk, m - i0);
            int64_t b0, b1;
            FML_T(split_range)(c, task % c->splits, &b0, &b1);
            for (int64_t j0 = b0 * nbk; j0 < FML_MIN(b1 * nbk, n); j0 += nbk) {
                const int64_t nb = FML_MIN(nbk, n - j0);
                FT *t = to_out ? c->out + i0 * c->ldo + j0 : tile;
                const int64_t ldt = to_out ? c->ldo : nbk;
                int64_t flagged = 0;
                for (int64_t p0 = 0; p0 < d; p0 += kc) {
                    const int64_t kb = FML_MIN(kc, d - p0);
                    const int fused = fuse_sq && p0 + kb == d;      /* last k block */
                    for (int64_t jj = 0; jj < nb; jj += nr) {
                        const FT *bp = bpack + ((j0 + jj) / nr) * d * nr + p0 * nr;
                        const int64_t nv = FML_MIN(nr, nb - jj);
                        for (int64_t ii = 0; ii < mb; ii += mr) {
                            const FT *ap = apack + ((i0 + ii) / mr) * d * mr + p0 * mr;
                            if (fused)
                                flagged += kt->ukr_sq(kb, ap, bp, t + ii * ldt + jj, ldt,
                                                      FML_MIN(mr, mb - ii), nv, p0 > 0,
                                                      c->nxf + i0 + ii, c->nyf + j0 + jj,
                                                      (FT)c->ratio, root);
                            else
                                gk->ukr(kb, ap, bp, t + ii * ldt + jj, ldt, FML_MIN(mr, mb - ii),
                                        nv, p0 > 0);
                        }
                    }
                }
                if (!fuse_sq) {
                    err |= consume(c, i0, j0, mb, nb, t, ldt);
                } else {                              /* what ep_pairwise does after finish_sq */
                    fml_store_fence();                /* the streaming stores of ukr_sq */
                    for (int64_t r = 0; r < mb; r++) {
                        if (flagged) FML_T(fix_flagged)(c, i0 + r, j0, nb, t + r * ldt);
                        FML_T(zero_diagonal)(c, i0 + r, j0, nb, t + r * ldt, 0);
                    }
                }
                if (err != FML_OK) break;
            }
        }
    }
    fml_scratch_free(apack);
    fml_gemm_packed_b_free(&pb);
    return err;
}

/* ---- direct producer (manhattan, chebyshev, minkowski) -------------------- */

/* sum |x - y|^p for real p (no SIMD: pow per element), same contract as the table's */
static void FML_T(direct_powr)(int64_t d, const FT *x, int64_t m, const FT *panel, FT *cc,
                               int64_t ldc, int64_t n, int64_t nr, double p)
{
    for (int64_t i = 0; i < m; i++)
        for (int64_t j = 0; j < n; j++) {
            double s = 0;
            for (int64_t q = 0; q < d; q++) s += pow(fabs((double)x[i * d + q] - (double)panel[q * nr + j]), p);
            cc[i * ldc + j] = (FT)s;
        }
}

/* Tiles of the direct metrics, handed to `consume` exactly like the fused GEMM
 * gemm_run does: tasks are (row block of FML_DIRECT_MB rows, column split), each
 * visits its 256-column blocks in order on one thread.  to_out: the tile is the
 * caller's output itself (pairwise). */
static int FML_T(direct_run)(CTX *c, FML_T(tile_consumer) consume, int to_out, int64_t n_threads)
{
    const KT *kt = c->kt;
    const int64_t m = c->m, n = c->n, d = c->d, nr = kt->nr, mr = kt->mr;
    const int64_t mbk = FML_DIRECT_MB, nbk = FML_TILE_NB;
    const int64_t n_panels = (n + nr - 1) / nr, n_tasks = (m + mbk - 1) / mbk * c->splits;
    int ok = 1;
    FT *ypack = (FT *)FML_T(alloc)(n_panels * nr * d, sizeof(FT), &ok);
    if (!ok) return FML_ENOMEM;
    int nt = FML_T(prep_threads)(n_threads, n, (double)n * (double)d);
    (void)nt;
#pragma omp parallel for schedule(static) num_threads(nt)
    for (int64_t jp = 0; jp < n_panels; jp++) {
        FT *restrict dst = ypack + jp * d * nr;
        const int64_t j0 = jp * nr, nv = FML_MIN(nr, n - j0);
        for (int64_t j = 0; j < nr; j++) {
            if (j < nv)
                for (int64_t p = 0; p < d; p++) dst[p * nr + j] = c->y[(j0 + j) * d + p];
            else
                for (int64_t p = 0; p < d; p++) dst[p * nr + j] = 0;
        }
    }
    const double ops = c->metric == FML_METRIC_MINKOWSKI && c->ip == 0 ? 40.0 : 3.0;
    nt = fml_threads_for(n_threads, n_tasks, ops * (double)m * (double)n * (double)d,
                         FML_DISTANCE_MIN_WORK_PER_THREAD);
    int err = FML_OK;
    const int64_t intr = fml_interrupt_token();
#pragma omp parallel num_threads(nt) reduction(| : err)
    {
        FT *tile = to_out ? NULL : (FT *)fml_scratch_thread(3, (size_t)mbk * (size_t)nbk * sizeof(FT));
        if (!to_out && tile == NULL) err |= FML_ENOMEM;
#pragma omp for schedule(dynamic, 1)
        for (int64_t task = 0; task < n_tasks; task++) {
            if (err == FML_OK && fml_interrupted(intr)) err |= FML_EINTR;
            if (err != FML_OK) continue;
            const int64_t i0 = (task / c->splits) * mbk, mb = FML_MIN(mbk, m - i0);
            int64_t b0, b1;
            FML_T(split_range)(c, task % c->splits, &b0, &b1);
            for (int64_t j0 = b0 * nbk; j0 < FML_MIN(b1 * nbk, n); j0 += nbk) {
                const int64_t nb = FML_MIN(nbk, n - j0);
                FT *t = to_out ? c->out + i0 * c->ldo + j0 : tile;
                const int64_t ldt = to_out ? c->ldo : nbk;
                for (int64_t jj = 0; jj < nb; jj += nr) {     /* Y panel stays in L1 */
                    const FT *panel = ypack + ((j0 + jj) / nr) * d * nr;
                    const int64_t nv = FML_MIN(nr, nb - jj);
                    for (int64_t ii = 0; ii < mb; ii += mr) {
                        const FT *xr = c->x + (i0 + ii) * d;
                        const int64_t mv = FML_MIN(mr, mb - ii);
                        FT *ct = t + ii * ldt + jj;
                        switch (c->metric) {
                        case FML_METRIC_MANHATTAN: kt->direct_l1(d, xr, mv, panel, ct, ldt, nv); break;
                        case FML_METRIC_CHEBYSHEV: kt->direct_chebyshev(d, xr, mv, panel, ct, ldt, nv); break;
                        default:
                            if (c->ip > 0) kt->direct_powi(d, xr, mv, panel, ct, ldt, nv, c->ip);
                            else FML_T(direct_powr)(d, xr, mv, panel, ct, ldt, nv, nr, c->p);
                        }
                    }
                }
                err |= consume(c, i0, j0, mb, nb, t, ldt);
                if (err != FML_OK) break;
            }
        }
    }
    fml_scratch_free(ypack);
    return err;
}

/* minkowski sum -> distance */
static FT FML_T(mink_root)(const CTX *c, FT s)
{
    if (c->ip == 1) return s;
    if (c->ip == 2) return (FT)sqrt((double)s);
    return (FT)pow((double)s, 1.0 / c->p);
}

/* ---- consumers ---------------------------------------------------------- */

/* recompute the entries finish_sq/finish_cos marked -1 */
static void FML_T(fix_flagged)(const CTX *c, int64_t i, int64_t j0, int64_t nb, FT *o)
{
    for (int64_t j = 0; j < nb; j++)
        if (o[j] < 0) o[j] = (FT)FML_T(report)(c, FML_T(exact)(c, i, j0 + j));
}

static void FML_T(kl_row)(const CTX *c, int64_t i, int64_t j0, int64_t nb, const FT *g, FT *o)
{
    const uint64_t *xb = c->xbits + i * c->words;
    const double hx = c->hx[i], sx = c->sx[i], ax = c->ax[i], r = c->ratio;
    for (int64_t j = 0; j < nb; j++) {
        const int64_t jj = j0 + j;
        double v = hx - (double)g[j];
        int inf = 0;
        if (c->yzero[jj]) {
            const uint64_t *yb = c->ybits + jj * c->words;
            for (int64_t q = 0; q < c->words; q++) inf |= (xb[q] & yb[q]) != 0;
        }
        if (inf) v = INFINITY;
        else if (fabs(v) < r * (ax + sx * c->ly[jj])) v = FML_T(exact)(c, i, jj);
        o[j] = (FT)v;
    }
}

/* KL in key space: support violations become +inf keys (g = -inf). */
static void FML_T(kl_mark_inf)(const CTX *c, int64_t i, int64_t j0, int64_t nb, FT *g)
{
    const uint64_t *xb = c->xbits + i * c->words;
    for (int64_t j = 0; j < nb; j++) {
        const int64_t jj = j0 + j;
        if (!c->yzero[jj]) continue;
        const uint64_t *yb = c->ybits + jj * c->words;
        for (int64_t q = 0; q < c->words; q++)
            if (xb[q] & yb[q]) {
                g[j] = -(FT)INFINITY;
                break;
            }
    }
}

static void FML_T(zero_diagonal)(const CTX *c, int64_t i, int64_t j0, int64_t nb, FT *o, FT value)
{
    if (c->symmetric && i >= j0 && i < j0 + nb) o[i - j0] = value;
}

static int FML_T(ep_pairwise)(void *vctx, int64_t i0, int64_t j0, int64_t mb, int64_t nb, FT *tile,
                              int64_t ldt)
{
    const CTX *c = (const CTX *)vctx;
    const KT *kt = c->kt;
    for (int64_t r = 0; r < mb; r++) {
        const int64_t i = i0 + r;
        FT *g = tile + r * ldt, *o = c->out + i * c->ldo + j0;
        switch (c->metric) {
        case FML_METRIC_SQEUCLIDEAN:
        case FML_METRIC_EUCLIDEAN:
            if (kt->finish_sq(g, nb, c->nxf[i], c->nyf + j0, (FT)c->ratio,
                              c->metric == FML_METRIC_EUCLIDEAN, o))
                FML_T(fix_flagged)(c, i, j0, nb, o);
            break;
        case FML_METRIC_COSINE:
            if (kt->finish_cos(g, nb, (FT)c->ratio, o)) FML_T(fix_flagged)(c, i, j0, nb, o);
            break;
        case FML_METRIC_DOT:                        /* the tile is the result */
            if (g != o) memcpy(o, g, (size_t)nb * sizeof(FT));
            break;
        case FML_METRIC_KL:
            FML_T(kl_row)(c, i, j0, nb, g, o);
            break;
        case FML_METRIC_MINKOWSKI:                  /* direct: o is the tile */
            if (c->ip != 1)
                for (int64_t j = 0; j < nb; j++) o[j] = FML_T(mink_root)(c, o[j]);
            break;
        default:                                    /* manhattan, chebyshev: done */
            break;
        }
        if (FML_T(is_true_metric)(c->metric)) FML_T(zero_diagonal)(c, i, j0, nb, o, 0);
    }
    return FML_OK;
}

static int FML_T(ep_kernel)(void *vctx, int64_t i0, int64_t j0, int64_t mb, int64_t nb, FT *tile,
                            int64_t ldt)
{
    const CTX *c = (const CTX *)vctx;
    const double gm = c->gamma, c0 = c->coef0, deg = c->degree;
    for (int64_t r = 0; r < mb; r++) {
        const int64_t i = i0 + r;
        FT *g = tile + r * ldt, *o = c->out + i * c->ldo + j0;
        switch (c->kind) {
        case FML_KERNEL_LINEAR:
            if (g != o) memcpy(o, g, (size_t)nb * sizeof(FT));
            break;
        case FML_KERNEL_POLYNOMIAL:
            for (int64_t j = 0; j < nb; j++) o[j] = (FT)pow(gm * (double)g[j] + c0, deg);
            break;
        case FML_KERNEL_SIGMOID:
            for (int64_t j = 0; j < nb; j++) o[j] = (FT)tanh(gm * (double)g[j] + c0);
            break;
        default:                                    /* rbf on the accurate sqeuclidean */
            if (c->kt->finish_sq(g, nb, c->nxf[i], c->nyf + j0, (FT)c->ratio, 0, o))
                FML_T(fix_flagged)(c, i, j0, nb, o);
            FML_T(zero_diagonal)(c, i, j0, nb, o, 0);
            for (int64_t j = 0; j < nb; j++) o[j] = (FT)exp(-gm * (double)o[j]);
            break;
        }
    }
    return FML_OK;
}

/* key = scale * tile + bias; see distance.h for what the key means per metric */
static void FML_T(key_form)(const CTX *c, const FT **bias, FT *scale)
{
    switch (c->metric) {
    case FML_METRIC_SQEUCLIDEAN:
    case FML_METRIC_EUCLIDEAN: *bias = c->nyf; *scale = -2; break;
    case FML_METRIC_COSINE:
    case FML_METRIC_DOT:
    case FML_METRIC_KL: *bias = NULL; *scale = -1; break;
    default: *bias = NULL; *scale = 1; break;   /* direct metrics: the tile is the key */
    }
}

static int FML_T(ep_knn)(void *vctx, int64_t i0, int64_t j0, int64_t mb, int64_t nb, FT *tile,
                         int64_t ldt)
{
    const CTX *c = (const CTX *)vctx;
    const FT *bias;
    FT scale;
    FML_T(key_form)(c, &bias, &scale);
    const int64_t base = FML_T(split_of)(c, j0) * c->m;
    for (int64_t r = 0; r < mb; r++) {
        const int64_t i = i0 + r;
        FT *g = tile + r * ldt;
        if (c->metric == FML_METRIC_KL) FML_T(kl_mark_inf)(c, i, j0, nb, g);
        c->kt->scan_topk(g, nb, bias ? bias + j0 : NULL, scale, j0, c->hv + (base + i) * c->kk,
                         c->hi + (base + i) * c->kk, c->kk);
    }
    return FML_OK;
}

/* ---- radius results --------------------------------------------------------- */

static int FML_T(radius_push)(fml_radius_row *row, FT v, int64_t j)
{
    if (row->len == row->cap) {
        const int64_t cap = row->cap ? 2 * row->cap : 16;
        void *p = realloc(row->data, (size_t)cap * sizeof(PAIR));
        if (p == NULL) return FML_ENOMEM;
        row->data = p;
        row->cap = cap;
    }
    PAIR *pr = (PAIR *)row->data + row->len++;
    pr->v = v;
    pr->j = j;
    return FML_OK;
}

static int FML_T(ep_radius)(void *vctx, int64_t i0, int64_t j0, int64_t mb, int64_t nb, FT *tile,
                            int64_t ldt)
{
    const CTX *c = (const CTX *)vctx;
    const FT *bias;
    FT scale;
    FML_T(key_form)(c, &bias, &scale);
    int32_t *cols = c->colbuf[fml_thread_id()];
    const int gemm = FML_T(is_gemm_metric)(c->metric), dot = c->metric == FML_METRIC_DOT;
    const double r = c->radius;
    for (int64_t rr = 0; rr < mb; rr++) {
        const int64_t i = i0 + rr;
        FT *g = tile + rr * ldt;
        fml_radius_row *row = &c->res->rows[i];
        double thr;                                       /* key-space candidate threshold */
        if (gemm) {
            double rd = c->metric == FML_METRIC_EUCLIDEAN ? r * r : (dot ? -r : r);
            thr = rd - FML_T(key_offset)(c, i) + FML_T(key_error)(c, i);
            if (c->metric == FML_METRIC_EUCLIDEAN) thr += 4 * FML_U * r * r;
            if (c->metric == FML_METRIC_KL) FML_T(kl_mark_inf)(c, i, j0, nb, g);
        } else if (c->metric == FML_METRIC_MINKOWSKI && c->ip != 1) {
            thr = pow(r, c->p) * (1 + 64 * FML_U) + 1e-300;
        } else {
            thr = r;
        }
        if (thr != thr || thr == -INFINITY) continue;       /* nothing can qualify */
        const FT fthr = thr > (double)FML_FT_MAX ? (FT)INFINITY : (FT)thr;
        /* FT rounding of thr must not drop a candidate: step up one ulp */
        const FT sthr = (FT)thr < thr ? FML_NEXTUP(fthr) : fthr;
        const int64_t cnt = c->kt->select_le(g, nb, bias ? bias + j0 : NULL, scale, sthr, cols);
        for (int64_t q = 0; q < cnt; q++) {
            const int64_t j = j0 + cols[q];
            double val;
            if (gemm) {
                if (c->metric == FML_METRIC_KL && g[cols[q]] == -(FT)INFINITY) continue;
                val = FML_T(report)(c, FML_T(exact)(c, i, j));
                if (c->symmetric && i == j && FML_T(is_true_metric)(c->metric)) val = 0;
                if (dot ? !(val >= r) : !(val <= r)) continue;
            } else {
                const FT v = c->metric == FML_METRIC_MINKOWSKI ? FML_T(mink_root)(c, g[cols[q]]) : g[cols[q]];
                val = (double)v;
                if (!(val <= r)) continue;
            }
            const FT fv = (FT)val;
            if (FML_T(radius_push)(row, dot ? -fv : fv, j) != FML_OK) return FML_ENOMEM;
        }
    }
    return FML_OK;
}

/* ---- drivers ---------------------------------------------------------------- */

static int FML_T(run_tiles)(CTX *c, FML_T(tile_consumer) consume, int64_t n_threads)
{
    if (c->splits < 1) c->splits = FML_T(choose_splits)(c, 0);
    if (FML_T(is_gemm_metric)(c->metric) || c->consumer == FML_CONSUMER_KERNEL) {
        const FT *bsrc = NULL;
        const int st = FML_T(prepare_gemm)(c, &bsrc, n_threads);
        return st != FML_OK ? st : FML_T(gemm_run)(c, bsrc, consume, FML_T(tiles_to_out)(c), n_threads);
    }
    return FML_T(direct_run)(c, consume, FML_T(tiles_to_out)(c), n_threads);
}

static void FML_T(ctx_init)(CTX *c, int metric, double p, const FT *x, int64_t m, const FT *y,
                            int64_t n, int64_t d, int consumer)
{
    memset(c, 0, sizeof(*c));
    c->kt = FML_T(kernels)();
    c->metric = metric;
    c->consumer = consumer;
    c->x = x;
    c->y = y;
    c->m = m;
    c->n = n;
    c->d = d;
    c->p = p;
    c->ip = (p >= 1 && p <= 64 && p == floor(p)) ? (int)p : 0;
    if (metric == FML_METRIC_MANHATTAN) c->ip = 1;
}

int FML_T(fml_distance_pairwise)(int metric, double p, const FT *x, int64_t m, const FT *y,
                                 int64_t n, int64_t d, int symmetric, FT *out, int64_t ldo,
                                 int64_t n_threads)
{
    if (m <= 0 || n <= 0) return FML_OK;
    CTX c;
    FML_T(ctx_init)(&c, metric, p, x, m, y, n, d, FML_CONSUMER_PAIRWISE);
    c.symmetric = symmetric;
    c.out = out;
    c.ldo = ldo;
    const int st = FML_T(run_tiles)(&c, FML_T(ep_pairwise), n_threads);
    FML_T(ctx_free)(&c);
    return st;
}

int FML_T(fml_distance_kernel)(int kind, double gamma, double coef0, double degree, const FT *x,
                               int64_t m, const FT *y, int64_t n, int64_t d, int symmetric,
                               FT *out, int64_t ldo, int64_t n_threads)
{
    if (m <= 0 || n <= 0) return FML_OK;
    CTX c;
    FML_T(ctx_init)(&c, kind == FML_KERNEL_RBF ? FML_METRIC_SQEUCLIDEAN : FML_METRIC_DOT, 2, x, m,
                    y, n, d, FML_CONSUMER_KERNEL);
    c.kind = kind;
    c.gamma = gamma;
    c.coef0 = coef0;
    c.degree = degree;
    c.symmetric = symmetric;
    c.out = out;
    c.ldo = ldo;
    const int st = FML_T(run_tiles)(&c, FML_T(ep_kernel), n_threads);
    FML_T(ctx_free)(&c);
    return st;
}

/* reported value -> sort key (ascending) */
static FT FML_T(sort_key)(const CTX *c, FT v) { return c->metric == FML_METRIC_DOT ? -v : v; }

/* Exact top-k of row i over all of Y (the rare fallback of knn). */
static void FML_T(knn_row_exact)(const CTX *c, int64_t i, PAIR *best, int64_t k)
{
    int64_t len = 0;
    for (int64_t j = 0; j < c->n; j++) {
        double v = FML_T(exact)(c, i, j);
        if (v != v) v = INFINITY;
        const FT key = FML_T(sort_key)(c, (FT)FML_T(report)(c, v));
        PAIR cand = {key, j};
        if (len < k) {                                     /* insertion into a sorted list */
            int64_t q = len++;
            while (q > 0 && FML_T(pair_cmp)(&best[q - 1], &cand) > 0) {
                best[q] = best[q - 1];
                q--;
            }
            best[q] = cand;
        } else if (FML_T(pair_cmp)(&cand, &best[k - 1]) < 0) {
            int64_t q = k - 1;
            while (q > 0 && FML_T(pair_cmp)(&best[q - 1], &cand) > 0) {
                best[q] = best[q - 1];
                q--;
            }
            best[q] = cand;
        }
    }
}

/* Candidates of row i (one heap per column split) -> its k neighbours, sorted. */
static void FML_T(knn_finish_row)(const CTX *c, int64_t i, PAIR *tmp, FT *dist, int64_t *ind)
{
    const int64_t kk = c->kk, k = c->k;
    const int gemm = FML_T(is_gemm_metric)(c->metric);
    int64_t cnt = 0;
    int safe = 1;
    double bound = INFINITY;     /* no row outside the candidates is nearer than this */
    for (int64_t s = 0; s < c->splits; s++) {
        const FT *hv = c->hv + (s * c->m + i) * kk;
        const int64_t *hi = c->hi + (s * c->m + i) * kk;
        int64_t b0, b1, valid = 0;
        FML_T(split_range)(c, s, &b0, &b1);
        const int64_t cols = FML_MIN(b1 * FML_TILE_NB, c->n) - b0 * FML_TILE_NB;
        for (int64_t q = 0; q < kk; q++) {
            if (hi[q] == INT64_MAX) continue;
            double v;
            if (gemm) {
                v = FML_T(exact)(c, i, hi[q]);
                if (v != v) v = INFINITY;
                if (c->symmetric && hi[q] == i && FML_T(is_true_metric)(c->metric)) v = 0;
                v = FML_T(report)(c, v);
            } else {
                v = c->metric == FML_METRIC_MINKOWSKI ? (double)FML_T(mink_root)(c, hv[q])
                                                      : (double)hv[q];
            }
            tmp[cnt].v = FML_T(sort_key)(c, (FT)v);
            tmp[cnt].j = hi[q];
            cnt++;
            valid++;
        }
        if (valid < FML_MIN(kk, cols)) safe = 0;      /* a NaN key kept a slot empty */
        /* rows of this split outside its heap have approx key >= the heap root, so
         * exact distance-space values >= root + offset - error.  A +inf root (kl)
         * leaves only +inf rows of larger index outside: they never rank higher. */
        if (gemm && cols > kk && !(hv[0] == (FT)INFINITY)) {
            const double b = (double)hv[0] + FML_T(key_offset)(c, i) - FML_T(key_error)(c, i);
            if (b < bound) bound = b;
        }
    }
    qsort(tmp, (size_t)cnt, sizeof(PAIR), FML_T(pair_cmp));
    if (cnt < k) safe = 0;
    if (safe && bound < INFINITY) {
        /* the k-th neighbour in distance space (undo report/sort_key), rounded up */
        double kv = (double)tmp[k - 1].v;
        if (c->metric == FML_METRIC_EUCLIDEAN) kv = kv * kv;
        const double kth = (kv < 0 ? kv * (1 - 8 * FML_U) : kv * (1 + 8 * FML_U)) + 1e-300;
        safe = bound > kth;
    }
    if (!safe) FML_T(knn_row_exact)(c, i, tmp, k);
    for (int64_t q = 0; q < k; q++) {
        dist[q] = c->metric == FML_METRIC_DOT ? -tmp[q].v : tmp[q].v;
        ind[q] = tmp[q].j;
    }
}

/* ---- knn through the AMX candidate search (distance_amx.h) ------------------- */

/* float -> bf16, round to nearest even (finite input) */
static inline uint16_t FML_T(to_bf16)(FT v)
{
    const float f = (float)v;
    uint32_t u;
    memcpy(&u, &f, sizeof(u));
    u += 0x7fffu + ((u >> 16) & 1u);
    return (uint16_t)(u >> 16);
}

/* Exact neighbours of the rows whose flag is set, on the float32 path. */
static int FML_T(knn_redo_rows)(const CTX *c, const unsigned char *flag, FT *dist, int64_t *ind,
                                int64_t n_threads);
static int FML_T(knn_run)(int metric, double p, const FT *x, int64_t m, const FT *y, int64_t n,
                          int64_t d, int64_t k, FT *dist, int64_t *ind, int64_t n_threads,
                          int allow_lowp);

/* Row i: candidates -> exact re-rank -> its k neighbours; 0 if it must be redone. */
static int FML_T(cand_finish_row)(const CTX *c, const fml_cand_rows *s, int64_t i, PAIR *tmp,
                                  FT *dist, int64_t *ind)
{
    const int64_t k = c->k;
    if (s->overflow[i] || s->hi[i * k] == INT64_MAX) return 0;
    const float thr = s->hv[i * k];
    const int64_t *cj = s->cand_j + i * s->cap;
    const float *cl = s->cand_lo + i * s->cap;
    int64_t cnt = 0;
    for (int64_t q = 0; q < s->cand_n[i]; q++) {
        if (!(cl[q] <= thr)) continue;
        double v = FML_T(exact)(c, i, cj[q]);
        if (v != v) return 0;
        if (c->symmetric && cj[q] == i && FML_T(is_true_metric)(c->metric)) v = 0;
        tmp[cnt].v = FML_T(sort_key)(c, (FT)FML_T(report)(c, v));
        tmp[cnt].j = cj[q];
        cnt++;
    }
    if (cnt < k) return 0;
    qsort(tmp, (size_t)cnt, sizeof(PAIR), FML_T(pair_cmp));
    for (int64_t q = 0; q < k; q++) {
        dist[q] = c->metric == FML_METRIC_DOT ? -tmp[q].v : tmp[q].v;
        ind[q] = tmp[q].j;
    }
    return 1;
}

/* After a candidate search filled s: every row re-ranked exactly, the rows it
 * could not settle redone on the float path. */
static int FML_T(cand_finish)(const CTX *c, const fml_cand_rows *s, FT *dist, int64_t *ind,
                              int64_t n_threads)
{
    const int64_t m = c->m, d = c->d, k = c->k, cap = s->cap;
    int64_t redo = 0;
    int st = FML_OK;
    const int nt = fml_threads_for(n_threads, (m + 63) / 64, (double)m * (double)cap * (double)d,
                                   FML_DISTANCE_MIN_PREP_PER_THREAD);
    (void)nt;
#pragma omp parallel num_threads(nt) reduction(| : st) reduction(+ : redo)
    {
        PAIR *tmp = (PAIR *)malloc((size_t)cap * sizeof(PAIR));
        if (tmp == NULL) st |= FML_ENOMEM;
#pragma omp for schedule(dynamic, 64)
        for (int64_t i = 0; i < m; i++) {
            if (tmp == NULL) continue;
            if (!FML_T(cand_finish_row)(c, s, i, tmp, dist + i * k, ind + i * k)) {
                s->overflow[i] = 1;
                redo++;
            } else {
                s->overflow[i] = 0;
            }
        }
        free(tmp);
    }
    if (st == FML_OK && redo > 0) st = FML_T(knn_redo_rows)(c, s->overflow, dist, ind, n_threads);
    return st;
}

/* Candidate state of m rows (distance_cand.h): empty heaps and lists.  0 when
 * out of memory (what was allocated is freed by cand_free). */
static int FML_T(cand_alloc)(fml_cand_rows *s, int64_t m, int64_t k, int64_t cap)
{
    int ok = 1;
    s->k = k;
    s->cap = cap;
    s->hv = (float *)FML_T(alloc)(m * k, sizeof(float), &ok);
    s->hi = (int64_t *)FML_T(alloc)(m * k, sizeof(int64_t), &ok);
    s->cand_j = (int64_t *)FML_T(alloc)(m * cap, sizeof(int64_t), &ok);
    s->cand_lo = (float *)FML_T(alloc)(m * cap, sizeof(float), &ok);
    s->cand_n = (int64_t *)FML_T(alloc)(m, sizeof(int64_t), &ok);
    s->overflow = (unsigned char *)FML_T(alloc)(m, 1, &ok);
    if (!ok) return 0;
    for (int64_t i = 0; i < m; i++) {
        s->cand_n[i] = 0;
        s->overflow[i] = 0;
    }
    for (int64_t q = 0; q < m * k; q++) {
        s->hv[q] = INFINITY;
        s->hi[q] = INT64_MAX;
    }
    return 1;
}

static void FML_T(cand_free)(fml_cand_rows *s)
{
    fml_scratch_free(s->hv);
    fml_scratch_free(s->hi);
    fml_scratch_free(s->cand_j);
    fml_scratch_free(s->cand_lo);
    fml_scratch_free(s->cand_n);
    fml_scratch_free(s->overflow);
}

/* The rows' key terms (squared norms, or 1 for cosine) stay far inside the
 * float range: float32 sums of the candidate searches cannot overflow. */
static int FML_T(cand_keys_fit)(const CTX *c, int sq)
{
    double pmax = 0, qmax = 0;
    for (int64_t i = 0; i < c->m; i++)
        pmax = fmax(pmax, c->metric == FML_METRIC_COSINE ? 1.0 : (sq ? c->nx[i] : c->nx[i] * c->nx[i]));
    for (int64_t j = 0; j < c->n; j++)
        qmax = fmax(qmax, c->metric == FML_METRIC_COSINE ? 1.0 : (sq ? c->ny[j] : c->ny[j] * c->ny[j]));
    return pmax < 1e30 && qmax < 1e30;
}

/* The GEMM rows of c for a candidate search; *sq: the euclidean family (key =
 * ||y||^2 - 2 x.y, else - x.y); *fits: cand_keys_fit (else the float path). */
static int FML_T(cand_prepare)(CTX *c, const FT **bsrc, int *sq, int *fits, int64_t n_threads)
{
    const int st = FML_T(prepare_gemm)(c, bsrc, n_threads);
    *sq = c->metric == FML_METRIC_SQEUCLIDEAN || c->metric == FML_METRIC_EUCLIDEAN;
    *fits = st == FML_OK && FML_T(cand_keys_fit)(c, *sq);
    return st;
}

/* knn of c (a GEMM metric other than kl, d >= FML_AMX_MIN_D, no column split)
 * with bf16 tiles for the candidates.  Sets *ran = 0 (and returns FML_OK) when
 * the data do not suit it, before anything is written. */
static int FML_T(knn_amx)(CTX *c, FT *dist, int64_t *ind, int64_t n_threads, int *ran)
{
    const int64_t m = c->m, n = c->n, d = c->d, k = c->k;
    const int64_t kp = (d + 31) / 32 * 32, mp = (m + 31) / 32 * 32, np = (n + 31) / 32 * 32;
    const int64_t cap = FML_AMX_CAP(k);
    *ran = 0;
    const FT *bsrc = NULL;
    int sq, fits;
    int st = FML_T(cand_prepare)(c, &bsrc, &sq, &fits, n_threads);
    if (st != FML_OK || !fits) return st;
    const double scale = sq ? -2.0 : -1.0;
    /* |key - approx| <= C (p_i + q_j): bf16 rounding of both factors (2^-8 each),
     * float32 sums of kp products, the FT rounding of the shifted rows, and the
     * float32 arithmetic of the bounds themselves */
    const double eps_bf = 0x1p-7 + 0x1p-16 + (double)(kp + 2) * 0x1p-24;
    const double C = -scale * eps_bf / 2 + ((double)d + 16.0) * FML_U + 16 * 0x1p-24;
    int ok = 1;
    uint16_t *apack = (uint16_t *)FML_T(alloc)(mp * kp, sizeof(uint16_t), &ok);
    uint16_t *bpack = (uint16_t *)FML_T(alloc)(np * kp, sizeof(uint16_t), &ok);
    float *bl = (float *)FML_T(alloc)(np, sizeof(float), &ok);
    float *w = (float *)FML_T(alloc)(np, sizeof(float), &ok);
    float *r = (float *)FML_T(alloc)(m, sizeof(float), &ok);
    fml_cand_rows cand = {0};
    if (!FML_T(cand_alloc)(&cand, m, k, cap)) ok = 0;
    if (!ok) {
        st = FML_ENOMEM;
        goto done;
    }
    const int ntp = FML_T(prep_threads)(n_threads, FML_MAX(m, n), (double)(m + n) * (double)d);
    (void)ntp;
#pragma omp parallel num_threads(ntp)
    {
#pragma omp for schedule(static) nowait
        for (int64_t i = 0; i < mp; i++)
            for (int64_t q = 0; q < kp; q++)
                apack[i * kp + q] = (i < m && q < d) ? FML_T(to_bf16)(c->a[i * d + q]) : 0;
#pragma omp for schedule(static) nowait
        for (int64_t jp = 0; jp < np / 16; jp++)        /* VNNI panels of 16 rows */
            for (int64_t kb = 0; kb < kp / 32; kb++) {
                uint16_t *blk = bpack + jp * kp * 16 + kb * 512;
                for (int64_t q = 0; q < 32; q++)
                    for (int64_t jj = 0; jj < 16; jj++) {
                        const int64_t j = jp * 16 + jj, pcol = kb * 32 + q;
                        blk[(q / 2) * 32 + jj * 2 + (q & 1)] =
                            (j < n && pcol < d) ? FML_T(to_bf16)(bsrc[j * d + pcol]) : 0;
                    }
            }
    }
    for (int64_t j = 0; j < np; j++) {
        if (j >= n) {
            bl[j] = INFINITY;
            w[j] = 0;
            continue;
        }
        const double qj = c->metric == FML_METRIC_COSINE ? 1.0 : (sq ? c->ny[j] : c->ny[j] * c->ny[j]);
        bl[j] = (float)((sq ? c->ny[j] : 0.0) - C * qj);
        w[j] = (float)(2 * C * qj);
    }
    /* tiles treat bf16 denormal inputs and float32 denormal results as zero: an
     * absolute error of at most 2^-126 per operation */
    const double tiny = -scale * (double)(2 * kp + 8) * 0x1p-126;
    for (int64_t i = 0; i < m; i++) {
        const double pi = c->metric == FML_METRIC_COSINE ? 1.0 : (sq ? c->nx[i] : c->nx[i] * c->nx[i]);
        r[i] = (float)(C * pi + tiny);
    }
    fml_amx_task base = {apack, bpack, kp, m, 0, 0, 0, np, bl, w, r, (float)scale, cand, NULL};
    const int64_t n_tasks = (m + FML_AMX_TASK_ROWS - 1) / FML_AMX_TASK_ROWS;
    const int nt = fml_threads_for(n_threads, n_tasks, 2.0 * (double)m * (double)n * (double)d / 16,
                                   FML_DISTANCE_MIN_WORK_PER_THREAD);
    (void)nt;
    const int64_t intr = fml_interrupt_token();
#pragma omp parallel num_threads(nt) reduction(| : st)
    {
        float *cbuf = (float *)fml_scratch_thread(3, FML_AMX_ROWS * FML_AMX_COLS * sizeof(float));
        if (cbuf == NULL) st |= FML_ENOMEM;
        else fml_distance_amx_begin();
#pragma omp for schedule(dynamic, 1)
        for (int64_t task = 0; task < n_tasks; task++) {
            if (st == FML_OK && fml_interrupted(intr)) st |= FML_EINTR;
            if (cbuf == NULL || st != FML_OK) continue;
            fml_amx_task t = base;
            t.i0 = task * FML_AMX_TASK_ROWS;
            t.mb = FML_MIN(FML_AMX_TASK_ROWS, mp - t.i0);
            t.cbuf = cbuf;
            fml_distance_amx_task(&t);
        }
        if (cbuf != NULL) fml_distance_amx_end();
    }
    if (st != FML_OK) goto done;
    *ran = 1;
    st = FML_T(cand_finish)(c, &base.cand, dist, ind, n_threads);
done:
    fml_scratch_free(apack);
    fml_scratch_free(bpack);
    fml_scratch_free(bl);
    fml_scratch_free(w);
    fml_scratch_free(r);
    FML_T(cand_free)(&cand);
    return st;
}

#include "distance/distance_i8_impl.h"

static int FML_T(knn_redo_rows)(const CTX *c, const unsigned char *flag, FT *dist, int64_t *ind,
                                int64_t n_threads)
{
    const int64_t m = c->m, d = c->d, k = c->k;
    int64_t cnt = 0;
    for (int64_t i = 0; i < m; i++) cnt += flag[i] != 0;
    int ok = 1;
    FT *xs = (FT *)FML_T(alloc)(cnt * d, sizeof(FT), &ok);
    FT *ds = (FT *)FML_T(alloc)(cnt * k, sizeof(FT), &ok);
    int64_t *is = (int64_t *)FML_T(alloc)(cnt * k, sizeof(int64_t), &ok);
    int st = ok ? FML_OK : FML_ENOMEM;
    if (ok) {
        for (int64_t i = 0, q = 0; i < m; i++)
            if (flag[i]) memcpy(xs + (q++) * d, c->x + i * d, (size_t)d * sizeof(FT));
        st = FML_T(knn_run)(c->metric, c->p, xs, cnt, c->y, c->n, d, k, ds, is, n_threads, 0);
    }
    if (st == FML_OK)
        for (int64_t i = 0, q = 0; i < m; i++)
            if (flag[i]) {
                memcpy(dist + i * k, ds + q * k, (size_t)k * sizeof(FT));
                memcpy(ind + i * k, is + q * k, (size_t)k * sizeof(int64_t));
                q++;
            }
    fml_scratch_free(xs);
    fml_scratch_free(ds);
    fml_scratch_free(is);
    return st;
}

static int FML_T(knn_run)(int metric, double p, const FT *x, int64_t m, const FT *y, int64_t n,
                          int64_t d, int64_t k, FT *dist, int64_t *ind, int64_t n_threads,
                          int allow_lowp)
{
    if (m <= 0 || n <= 0 || k <= 0) return FML_OK;
    if (k > n) return FML_EINVAL;
    CTX c;
    FML_T(ctx_init)(&c, metric, p, x, m, y, n, d, FML_CONSUMER_KNN);
    c.symmetric = x == y && m == n;
    c.k = k;
    /* GEMM metrics keep extra candidates for the exact re-rank */
    c.kk = FML_T(is_gemm_metric)(metric) ? FML_MIN(n, k + 8 + k / 4) : k;
    c.splits = FML_T(choose_splits)(&c, c.kk);
    /* a low-precision candidate search, where one runs and the data suit it */
    const int lowp = allow_lowp && c.splits == 1 && FML_T(is_gemm_metric)(metric) &&
                     metric != FML_METRIC_KL;
    const int amx = lowp && fml_distance_amx_active() && d >= FML_AMX_MIN_D;
    const int i8 = lowp && !amx && fml_distance_i8_active() && d >= FML_I8_MIN_D && d <= FML_I8_MAX_D;
    if (amx || i8) {
        int ran = 0;
        const int st = amx ? FML_T(knn_amx)(&c, dist, ind, n_threads, &ran)
                           : FML_T(knn_i8)(&c, dist, ind, n_threads, &ran);
        if (st != FML_OK || ran) {
            FML_T(ctx_free)(&c);
            return st;
        }
        FML_T(ctx_free)(&c);                      /* unsuited data: the float path */
        FML_T(ctx_init)(&c, metric, p, x, m, y, n, d, FML_CONSUMER_KNN);
        c.symmetric = x == y && m == n;
        c.k = k;
        c.kk = FML_MIN(n, k + 8 + k / 4);
        c.splits = FML_T(choose_splits)(&c, c.kk);
    }
    const int64_t slots = c.splits * m * c.kk;
    int ok = 1;
    c.hv = (FT *)FML_T(alloc)(slots, sizeof(FT), &ok);
    c.hi = (int64_t *)FML_T(alloc)(slots, sizeof(int64_t), &ok);
    if (!ok) {
        FML_T(ctx_free)(&c);
        return FML_ENOMEM;
    }
    for (int64_t q = 0; q < slots; q++) {
        c.hv[q] = (FT)INFINITY;
        c.hi[q] = INT64_MAX;
    }
    int st = FML_T(run_tiles)(&c, FML_T(ep_knn), n_threads);
    if (st == FML_OK) {
        const int64_t tmp_len = FML_MAX(c.splits * c.kk, k);
        const int nt = fml_threads_for(n_threads, (m + 63) / 64,
                                       (double)m * (double)c.kk * (double)d * 4, FML_DISTANCE_MIN_PREP_PER_THREAD);
        (void)nt;
#pragma omp parallel num_threads(nt) reduction(| : st)
        {
            PAIR *tmp = (PAIR *)malloc((size_t)tmp_len * sizeof(PAIR));
            if (tmp == NULL) st |= FML_ENOMEM;
#pragma omp for schedule(dynamic, 64)
            for (int64_t i = 0; i < m; i++)
                if (tmp != NULL) FML_T(knn_finish_row)(&c, i, tmp, dist + i * k, ind + i * k);
            free(tmp);
        }
    }
    FML_T(ctx_free)(&c);
    return st;
}

int FML_T(fml_distance_knn)(int metric, double p, const FT *x, int64_t m, const FT *y, int64_t n,
                            int64_t d, int64_t k, FT *dist, int64_t *ind, int64_t n_threads)
{
    /* The candidate searches (AMX, int8) hold FML_AMX_CAP(k) candidates per
     * row: queries go in batches so that this state stays below ~200 MB
     * (results do not depend on the batches: every row is exact). */
    const int64_t cap = fml_distance_i8_active() ? FML_I8_CAP(k) : FML_AMX_CAP(k);
    const int64_t batch = FML_MAX(256, ((int64_t)1 << 24) / cap) / 256 * 256;
    if (m <= batch || !(fml_distance_amx_active() || fml_distance_i8_active()))
        return FML_T(knn_run)(metric, p, x, m, y, n, d, k, dist, ind, n_threads, 1);
    for (int64_t i0 = 0; i0 < m; i0 += batch) {
        const int64_t mb = FML_MIN(batch, m - i0);
        const int st = FML_T(knn_run)(metric, p, x + i0 * d, mb, y, n, d, k, dist + i0 * k,
                                      ind + i0 * k, n_threads, 1);
        if (st != FML_OK) return st;
    }
    return FML_OK;
}

int FML_T(fml_distance_radius)(int metric, double p, const FT *x, int64_t m, const FT *y,
                               int64_t n, int64_t d, double radius, fml_radius_result **res,
                               int64_t n_threads)
{
    *res = NULL;
    fml_radius_result *r = (fml_radius_result *)calloc(1, sizeof(fml_radius_result));
    if (r == NULL) return FML_ENOMEM;
    r->m = m > 0 ? m : 0;
    r->item = sizeof(PAIR);
    r->is_f64 = sizeof(FT) == sizeof(double);
    r->rows = (fml_radius_row *)calloc((size_t)(r->m > 0 ? r->m : 1), sizeof(fml_radius_row));
    if (r->rows == NULL) {
        free(r);
        return FML_ENOMEM;
    }
    if (m <= 0 || n <= 0) {
        *res = r;
        return FML_OK;
    }
    CTX c;
    FML_T(ctx_init)(&c, metric, p, x, m, y, n, d, FML_CONSUMER_RADIUS);
    c.symmetric = x == y && m == n;
    c.radius = radius;
    c.res = r;
    const int max_threads = fml_threads_omp_max() > n_threads ? fml_threads_omp_max() : (int)n_threads;
    int32_t *colmem = (int32_t *)malloc((size_t)(max_threads > 0 ? max_threads : 1) *
                                        FML_TILE_NB * sizeof(int32_t));
    int32_t **cols = (int32_t **)malloc((size_t)(max_threads > 0 ? max_threads : 1) * sizeof(int32_t *));
    int st = FML_OK;
    if (colmem == NULL || cols == NULL) {
        st = FML_ENOMEM;
    } else {
        for (int t = 0; t < max_threads; t++) cols[t] = colmem + (int64_t)t * FML_TILE_NB;
        c.colbuf = cols;
        st = FML_T(run_tiles)(&c, FML_T(ep_radius), n_threads);
    }
    free(colmem);
    free(cols);
    FML_T(ctx_free)(&c);
    if (st != FML_OK) {
        fml_radius_free(r);
        return st;
    }
    for (int64_t i = 0; i < m; i++)
        if (r->rows[i].len > 1)
            qsort(r->rows[i].data, (size_t)r->rows[i].len, sizeof(PAIR), FML_T(pair_cmp));
    r->negate = metric == FML_METRIC_DOT;
    *res = r;
    return FML_OK;
}

void FML_T(fml_radius_copy)(const fml_radius_result *res, int64_t *indptr, int64_t *indices,
                            FT *dist)
{
    int64_t pos = 0;
    indptr[0] = 0;
    for (int64_t i = 0; i < res->m; i++) {
        const PAIR *pr = (const PAIR *)res->rows[i].data;
        for (int64_t q = 0; q < res->rows[i].len; q++, pos++) {
            indices[pos] = pr[q].j;
            dist[pos] = res->negate ? -pr[q].v : pr[q].v;
        }
        indptr[i + 1] = pos;
    }
}

#undef KT
#undef CTX
#undef PAIR
#undef FML_U
