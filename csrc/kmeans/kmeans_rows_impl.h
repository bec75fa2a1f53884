/* kmeans_rows_impl.h: per-row helpers of the k-means steps, plain C compiled
 * once per ISA file so that the compiler vectorises them for that target.
 * No include guard: expects FT, SFX, ISA.
 *
 * exact_d2 sums in 8 interleaved float64 partial sums, added in a fixed order at
 * the end: the same bits on every ISA (no FMA contraction under -std=c11) and
 * wide enough to vectorise. */

/* ||x - c||^2 in float64, difference-based (no cancellation). */
static double FML_FN(exact_d2)(const FT *restrict xr, const FT *restrict c, int64_t d)
{
    double acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    int64_t p = 0;
    for (; p + 8 <= d; p += 8)
        for (int l = 0; l < 8; l++) {
            const double t = (double)xr[p + l] - (double)c[p + l];
            acc[l] += t * t;
        }
    for (int l = 0; p < d; p++, l++) {
        const double t = (double)xr[p] - (double)c[p];
        acc[l] += t * t;
    }
    return ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
}

/* Row i's weighted contribution, + to label `to` and - from `from` (< 0: none). */
static inline void FML_FN(add_row)(double *restrict sums, double *restrict wsum,
                                   const FT *restrict xr, double wd, int64_t d, int32_t to,
                                   int32_t from)
{
    double *restrict s = sums + (int64_t)to * d;
    for (int64_t p = 0; p < d; p++) s[p] += wd * (double)xr[p];
    wsum[to] += wd;
    if (from < 0) return;
    double *restrict so = sums + (int64_t)from * d;
    for (int64_t p = 0; p < d; p++) so[p] -= wd * (double)xr[p];
    wsum[from] -= wd;
}

/* Weighted sums of rows [0, rows) per label, float64: sums (k x d) and wsum (k)
 * are overwritten.  Each label's additions happen in row order.  With old
 * labels (delta mode) only rows whose label changed contribute, +w x to the new
 * label and -w x to the old one: the change of the sums.  Those rows are few
 * and scattered (X is not in cache): their indices are gathered first, without
 * a branch, so that their loads overlap, and prefetched ahead. */
static void FML_FN(add_rows)(double *restrict sums, double *restrict wsum,
                             const int32_t *restrict labels, const int32_t *restrict old,
                             const FT *restrict x, const FT *restrict w, int64_t rows, int64_t d,
                             int64_t k)
{
    memset(sums, 0, (size_t)(k * d) * sizeof(double));
    memset(wsum, 0, (size_t)k * sizeof(double));
    if (old == NULL) {
        for (int64_t i = 0; i < rows; i++)
            FML_FN(add_row)(sums, wsum, x + i * d, (double)w[i], d, labels[i], -1);
        return;
    }
    enum { BLOCK = 2048, AHEAD = 16 };
    int32_t idx[BLOCK];
    for (int64_t i0 = 0; i0 < rows; i0 += BLOCK) {
        const int64_t i1 = i0 + BLOCK < rows ? i0 + BLOCK : rows;
        int64_t m = 0;
        for (int64_t i = i0; i < i1; i++) {
            idx[m] = (int32_t)i;
            m += old[i] != labels[i];
        }
        for (int64_t q = 0; q < m; q++) {
            if (q + AHEAD < m) __builtin_prefetch(x + (int64_t)idx[q + AHEAD] * d, 0, 3);
            const int64_t i = idx[q];
            FML_FN(add_row)(sums, wsum, x + i * d, (double)w[i], d, labels[i], old[i]);
        }
    }
}

/* sum_i w_i ||x_i - c_{labels_i}||^2 over rows [0, rows), in row order. */
static double FML_FN(weighted_d2)(const FT *restrict x, const FT *restrict centers,
                                  const int32_t *restrict labels, const FT *restrict w,
                                  int64_t rows, int64_t d)
{
    double s = 0;
    for (int64_t i = 0; i < rows; i++)
        s += (double)w[i] * FML_FN(exact_d2)(x + i * d, centers + (int64_t)labels[i] * d, d);
    return s;
}
