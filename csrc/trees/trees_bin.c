/* trees_bin.c: quantile binning of features into uint8 bins.
 *
 * Fit (per feature, parallel over features): the values at a subsample of rows,
 * NaN dropped, are sorted (LSD radix sort on order-preserving 64-bit keys);
 * with at most max_bins distinct values the thresholds are the midpoints
 * between neighbours, otherwise the (midpoint) quantiles at q / max_bins,
 * q = 1 .. max_bins - 1, with repeats removed.  Thresholds are padded to 256
 * with +inf.
 *
 * Transform: bin(x) = number of thresholds < x, NaN -> 255 (the per-ISA
 * kernel fml_trees_k.bin_values on a block of one column copied to doubles).  So x <= threshold[b]
 * iff bin(x) <= b, the test trees use on raw values.  Parallel over blocks of
 * rows; every feature of a block of X is binned while the block is in cache. */
#include <math.h>
#include <string.h>

#include "core/fml_dtype.h"
#include "core/fml_scratch.h"
#include "core/fml_threads.h"
#include "trees/trees_internal.h"

#define BIN_BLOCK 2048
#define BIN_FIT_GROUP 8     /* features collected per pass over the sample rows */

/* Order-preserving map of doubles to unsigned keys (negative: flip all bits). */
static inline uint64_t double_key(double v)
{
    uint64_t u;
    memcpy(&u, &v, sizeof u);
    return (u >> 63) ? ~u : (u | 0x8000000000000000ULL);
}

static inline double key_double(uint64_t k)
{
    const uint64_t u = (k >> 63) ? (k & 0x7fffffffffffffffULL) : ~k;
    double v;
    memcpy(&v, &u, sizeof v);
    return v;
}

/* LSD radix sort, 11 bits per pass (6 passes cover 64 bits; the counts of all
 * passes come from one read and fit in L2); passes where every key has the
 * same digit are skipped. */
#define RADIX_BITS 11
#define RADIX_SIZE (1 << RADIX_BITS)
#define RADIX_PASSES 6
static void radix_sort_u64(uint64_t *keys, uint64_t *tmp, int64_t n)
{
    if (n < 2) return;
    static __thread int64_t count[RADIX_PASSES][RADIX_SIZE];
    memset(count, 0, sizeof count);
    for (int64_t i = 0; i < n; i++) {
        const uint64_t k = keys[i];
        for (int d = 0; d < RADIX_PASSES; d++) count[d][(k >> (RADIX_BITS * d)) & (RADIX_SIZE - 1)]++;
    }
    uint64_t *src = keys, *dst = tmp;
    for (int d = 0; d < RADIX_PASSES; d++) {
        int64_t *c = count[d];
        int trivial = 0;
        for (int b = 0; b < RADIX_SIZE; b++)
            if (c[b] == n) trivial = 1;
        if (trivial) continue;
        int64_t off = 0;
        for (int b = 0; b < RADIX_SIZE; b++) {
            const int64_t v = c[b];
            c[b] = off;
            off += v;
        }
        const int shift = RADIX_BITS * d;
        for (int64_t i = 0; i < n; i++) {
            const uint64_t k = src[i];
            dst[c[(k >> shift) & (RADIX_SIZE - 1)]++] = k;
        }
        uint64_t *t = src;
        src = dst;
        dst = t;
    }
    if (src != keys) memcpy(keys, src, (size_t)n * sizeof(uint64_t));
}

/* A threshold between neighbours a < b with a <= t < b. */
static inline double midpoint(double a, double b)
{
    double t = a * 0.5 + b * 0.5;
    if (!(t < b)) t = a;          /* a and b adjacent doubles: keep them apart */
    if (t < a) t = a;
    return t;
}

/* Thresholds from sorted values v[0..nv); returns the number of bins. */
static int32_t thresholds_from_sorted(const double *v, int64_t nv, int64_t max_bins, double *thr)
{
    int64_t nt = 0;
    if (nv > 0) {
        int64_t n_distinct = 1;
        for (int64_t i = 1; i < nv && n_distinct <= max_bins; i++) n_distinct += v[i] != v[i - 1];
        if (n_distinct <= max_bins) {
            for (int64_t i = 1; i < nv; i++)
                if (v[i] != v[i - 1]) thr[nt++] = midpoint(v[i - 1], v[i]);
        } else {
            for (int64_t q = 1; q < max_bins; q++) {
                /* numpy.percentile(..., method="midpoint") at 100 q / max_bins */
                const double pos = (double)q / (double)max_bins * (double)(nv - 1);
                const int64_t lo = (int64_t)floor(pos), hi = (int64_t)ceil(pos);
                const double t = v[lo] == v[hi] ? v[lo] : v[lo] * 0.5 + v[hi] * 0.5;
                if (nt == 0 || t > thr[nt - 1]) thr[nt++] = t;
            }
            /* the largest value must stay right of the last threshold */
            while (nt > 0 && !(thr[nt - 1] < v[nv - 1])) nt--;
        }
    }
    for (int64_t b = nt; b < FML_TREE_N_SLOTS; b++) thr[b] = INFINITY;
    return (int32_t)(nt + 1);
}

#define FT float
#define SFX f32
#include "trees/trees_bin_impl.h"
#include "core/fml_dtype_end.h"

#define FT double
#define SFX f64
#include "trees/trees_bin_impl.h"
#include "core/fml_dtype_end.h"
