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

/* Weighted sums of rows [0, rows) per label, float64: sums (k x d) and wsum (k)
 * are overwritten.  Each label's additions happen in row order.  With old
 * labels (delta mode) only rows whose label changed contribute, +w x to the new
 * label and -w x to the old one: the change of the sums. */
static void FML_FN(add_rows)(double *restrict sums, double *restrict wsum,
                             const int32_t *restrict labels, const int32_t *restrict old,
                             const FT *restrict x, const FT *restrict w, int64_t rows, int64_t d,
                             int64_t k)
{
    memset(sums, 0, (size_t)(k * d) * sizeof(double));
    memset(wsum, 0, (size_t)k * sizeof(double));
    for (int64_t i = 0; i < rows; i++) {
        if (old != NULL && old[i] == labels[i]) continue;
        const FT *restrict xr = x + i * d;
        const double wd = (double)w[i];
        double *restrict s = sums + (int64_t)labels[i] * d;
        for (int64_t p = 0; p < d; p++) s[p] += wd * (double)xr[p];
        wsum[labels[i]] += wd;
        if (old == NULL) continue;
        double *restrict so = sums + (int64_t)old[i] * d;
        for (int64_t p = 0; p < d; p++) so[p] -= wd * (double)xr[p];
        wsum[old[i]] -= wd;
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
