/* kmeans_i8_impl.h: the Lloyd assignment through the int8 products of knn's
 * candidate search (csrc/distance/distance_i8.h), dtype-generic.  No include
 * guard: included by kmeans.c once per dtype, before kmeans_impl.h.
 *
 * Keys are ||c_j||^2 - 2 x_i.c_j.  X is quantised per row (once per fit, or per
 * chunk when no int8 form is given), the centres per step.  The label on entry
 * is a hint: its exact distance gives each row a threshold, the int8 products
 * with their Cauchy-Schwarz bounds mark the centres whose lower bound is below
 * it (on Gaussian data, d = 64, k = 256: the hint and 0.7 others on average),
 * and those are ranked by the exact difference-based distance in float64.  So
 * the labels are the exact argmin (the first index on ties), not the float
 * expansion's.  Where a row has no hint (labels outside [0, k)), the products
 * are kept as estimates and the least one is the hint. */

typedef struct {
    int64_t d, k, kp, np;
    const FT *centers;
    const uint8_t *xq;           /* X's int8 form (kmeans_i8_view), or NULL */
    int64_t n4;                  /* its rows (n padded to 4) */
    fml_i8_cols cols;
    void *buf;                   /* the column arrays, one allocation */
} FML_T(i8_plan);

/* ||x||^2 rounded down with room for its float64 roundoff, from ||x||. */
static float FML_T(i8_xn2_down)(double rn)
{
    return fml_i8_f32_down(rn * rn * (1 - 0x1p-36));
}

/* Row i < n4 of the int8 form (NULL row: padding). */
static void FML_T(i8_pack_one)(const FT *r, int64_t d, int64_t kp, uint8_t *u, float *sig,
                               float *alpha, float *eps, float *xn2)
{
    const double rn = FML_T(fml_i8_pack_row)(r, d, kp, -2.0, u, sig, alpha, eps);
    *xn2 = FML_T(i8_xn2_down)(rn);
}

void FML_T(fml_kmeans_pack_i8)(int64_t n, int64_t d, const FT *x, uint8_t *out, int64_t n_threads)
{
    const int64_t kp = kmeans_i8_kp(d), n4 = kmeans_i8_rows(n);
    kmeans_i8_form f = kmeans_i8_view(out, n4, kp);
    const int nt = fml_threads_for(n_threads, n4 / 4, (double)n * (double)d, 1.0e6);
    (void)nt;
#pragma omp parallel for schedule(static) num_threads(nt)
    for (int64_t i = 0; i < n4; i++)
        FML_T(i8_pack_one)(i < n ? x + i * d : NULL, d, kp, f.u + i * kp, f.sig + i, f.alpha + i,
                           f.eps + i, f.xn2 + i);
}

/* The centres' column side for a step.  Returns 0 (nothing allocated) when the
 * keys could leave the float range (then the float path runs); xmax: an upper
 * bound of ||x_i|| over the rows. */
static int FML_T(i8_prepare)(FML_T(i8_plan) *p, int64_t d, int64_t k, const FT *centers,
                             double xmax, int *err)
{
    const int64_t kp = kmeans_i8_kp(d), np = (k + 15) / 16 * 16;
    double cmax = 0;
    for (int64_t j = 0; j < k * d; j++) cmax = fmax(cmax, fabs((double)centers[j]));
    const double cn_bound = cmax * cmax * (double)d;     /* >= every ||c_j||^2 */
    if (!(cn_bound <= 0x1p100) || !(2.0 * xmax * sqrt(cn_bound) <= 0x1p100)) return 0;
    /* bpack, then csum, five float arrays and the float64 norms */
    const size_t bytes = (size_t)(np * kp) + (size_t)np * (sizeof(int32_t) + 5 * sizeof(float)) +
                         (size_t)k * sizeof(double) + FML_ALIGN;
    char *buf = (char *)fml_scratch_alloc(bytes);
    if (buf == NULL) {
        *err |= FML_ENOMEM;
        return 0;
    }
    double *cn = (double *)buf;
    int8_t *bpack = (int8_t *)(cn + k);
    int32_t *csum = (int32_t *)(bpack + np * kp);        /* np * kp: a multiple of 128 */
    float *colf = (float *)(csum + np);
    const fml_i8_cols cols = {bpack, csum, colf, colf + np, colf + 2 * np, colf + 3 * np,
                              colf + 4 * np};
    for (int64_t j = 0; j < k; j++) {
        double s = 0;
        for (int64_t q = 0; q < d; q++) s += (double)centers[j * d + q] * (double)centers[j * d + q];
        cn[j] = s;
    }
    for (int64_t jp = 0; jp < np / 16; jp++) FML_T(fml_i8_pack_panel)(centers, k, d, kp, jp, cn, &cols);
    p->d = d, p->k = k, p->kp = kp, p->np = np, p->centers = centers;
    p->cols = cols;
    p->buf = buf;
    return 1;
}

/* Rows per pass of the int8 kernel: their masks stay in L1. */
#define FML_KMEANS_I8_ROWS 256

/* x rounded up to a float with 2^-20 |x| to spare (x finite; the threshold
 * takes float32 roundings on its way to the compare, distance_i8.h). */
static inline float FML_T(i8_thr_up)(double x)
{
    return (float)(x + fabs(x) * 0x1p-19 + 0x1p-130);
}

/* Labels (and min_d2 when not NULL) of rows [r0, r1) of x; r0 a multiple of 4.
 * labels (of the chunk) holds the hints on entry, any value outside [0, k)
 * meaning none. */
static int FML_T(i8_assign)(const FML_T(i8_plan) *p, const FT *x, int64_t r0, int64_t r1,
                            int32_t *labels, FT *min_d2)
{
    const int64_t d = p->d, k = p->k, kp = p->kp, rows = r1 - r0, rows4 = kmeans_i8_rows(rows);
    const int64_t S = FML_KMEANS_I8_ROWS, npan = p->np / 16;
    kmeans_i8_form f;
    if (p->xq != NULL) {
        f = kmeans_i8_view(p->xq, p->n4, kp);
        f.u += r0 * kp, f.sig += r0, f.alpha += r0, f.eps += r0, f.xn2 += r0;
    } else {                                             /* quantise this chunk */
        uint8_t *own = (uint8_t *)fml_scratch_thread(0, kmeans_i8_bytes(rows4, kp));
        if (own == NULL) return FML_ENOMEM;
        f = kmeans_i8_view(own, rows4, kp);
        for (int64_t i = 0; i < rows4; i++)
            FML_T(i8_pack_one)(i < rows ? x + (r0 + i) * d : NULL, d, kp, f.u + i * kp, f.sig + i,
                               f.alpha + i, f.eps + i, f.xn2 + i);
    }
    /* per pass of S rows: hints, their distances, thresholds, the masks; the
     * estimates (S x np floats, in L2) when a row has no hint */
    const size_t bytes = (size_t)S * (sizeof(double) + sizeof(float) + 2 * sizeof(int32_t) +
                                      (size_t)npan * 2);
    char *buf = (char *)fml_scratch_thread(1, bytes);
    if (buf == NULL) return FML_ENOMEM;
    double *hd2 = (double *)buf;
    float *thr = (float *)(hd2 + S);
    int32_t *hint = (int32_t *)(thr + S), *guess = hint + S;
    uint16_t *below = (uint16_t *)(guess + S);
    float *est = NULL;
    for (int64_t s0 = 0; s0 < rows; s0 += S) {
        const int64_t sr = FML_MIN(S, rows - s0);
        const fml_i8_task t = {f.u + s0 * kp, p->cols.bpack, kp, sr, 0, sr, p->np, p->cols.csum,
                               p->cols.tq, p->cols.bias_lo, p->cols.bias_hi, p->cols.rho,
                               p->cols.bn, f.sig + s0, f.alpha + s0, f.eps + s0, NULL, {0}};
        int missing = 0;
        for (int64_t r = 0; r < sr; r++) {
            hint[r] = labels[s0 + r];
            missing |= hint[r] < 0 || hint[r] >= k;
        }
        if (missing && est == NULL) {
            est = (float *)fml_scratch_thread(2, (size_t)(S * p->np) * sizeof(float));
            if (est == NULL) return FML_ENOMEM;
        }
        if (missing) {
            fml_distance_i8_estimate_avx2(&t, est, guess);
            for (int64_t r = 0; r < sr; r++)
                if (hint[r] < 0 || hint[r] >= k) hint[r] = guess[r];
        }
        for (int64_t r = 0; r < sr; r++) {
            /* key_h = d2 - ||x||^2 <= thr (float64 roundoff of both covered) */
            const int64_t i = r0 + s0 + r, h = hint[r];
            const double v = g_kernels.FML_T(exact_d2)(x + i * d, p->centers + h * d, d);
            const double xn = (double)f.xn2[s0 + r];
            hd2[r] = v;
            thr[r] = FML_T(i8_thr_up)(v * (1 + 0x1p-36) - xn + 0x1p-50 * (v + xn));
        }
        if (missing) fml_distance_i8_below_of_avx2(&t, est, thr, below);
        else fml_distance_i8_below_avx2(&t, thr, below);
        for (int64_t r = 0; r < sr; r++) {
            const int64_t i = r0 + s0 + r, h = hint[r];
            const FT *xr = x + i * d;
            const uint16_t *mk = below + r * npan;
            /* the hint, then every other column that can beat it, in order:
             * the smallest float64 distance, the first index on ties */
            double best = hd2[r];
            int64_t arg = h;
            for (int64_t jp = 0; jp < npan; jp++) {
                unsigned bits = mk[jp];
                while (bits) {
                    const int64_t j = jp * 16 + __builtin_ctz(bits);
                    bits &= bits - 1;
                    if (j == h || j >= k) continue;
                    const double e = g_kernels.FML_T(exact_d2)(xr, p->centers + j * d, d);
                    if (e < best || (e == best && j < arg)) {
                        best = e;
                        arg = j;
                    }
                }
            }
            labels[i - r0] = (int32_t)arg;
            if (min_d2 != NULL) min_d2[i - r0] = (FT)best;
        }
    }
    return FML_OK;
}
