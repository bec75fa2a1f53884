/* trees_hist.c: per-node histograms of binned features.
 *
 *   XGB:   hist[f][bin(i, f)] += (g_i, h_i)            one 16-byte add per update
 *   class: hist[f][bin(i, f) * C + y_i] += w_i          (+ 1 in channel K if weighted)
 *
 * The rows of a node arrive as an index list in increasing order (stable
 * partitions keep it so), and their gradients already gathered into that order
 * ("ordered gradients"), so per feature the loop streams the index list and the
 * gradients and reads one byte of the feature's column per row.
 *
 * Kernels take four features per pass over the rows: the index and gradient
 * loads are shared, and the four read-modify-write chains are independent, so
 * a run of equal bins in one feature (store-to-load forwarding latency) does not
 * stall the loop.
 *
 * Threads: feature-parallel (each feature summed over the rows in order by one
 * thread), or for few features and many rows row-parallel: fml_tree_hist_row_chunks
 * fixes the chunks from (nf, m) only, each chunk fills its own histogram and
 * they are added in chunk order.  Either way the sums do not depend on the
 * thread count. */
#include <string.h>

#include "core/fml_dtype.h"
#include "core/fml_threads.h"
#include "trees/trees_internal.h"

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#define NS FML_TREE_N_SLOTS
#define GROUP FML_TREE_HIST_GROUP
#define HIST_MIN_UPDATES_PER_THREAD 32768.0
#define CHUNK_ROWS 16384
#define MAX_CHUNKS 16
#define ROW_PARALLEL_MAX_FEATURES 8

int64_t fml_tree_hist_row_chunks(int64_t nf, int64_t m)
{
    if (nf >= ROW_PARALLEL_MAX_FEATURES || m < 2 * CHUNK_ROWS) return 0;
    const int64_t c = m / CHUNK_ROWS;
    return c > MAX_CHUNKS ? MAX_CHUNKS : c;
}

#if defined(__SSE2__)
typedef __m128d pair_t;
static inline __attribute__((always_inline)) pair_t pair_load(const double *v) { return _mm_load_pd(v); }
/* (g, 1) built in registers: two scalar stores and a vector load would miss
 * store-to-load forwarding on every row */
static inline __attribute__((always_inline)) pair_t pair_g1(const double *g)
{
    return _mm_unpacklo_pd(_mm_load_sd(g), _mm_set1_pd(1.0));
}
static inline __attribute__((always_inline)) void pair_add(double *h, pair_t v)
{
    _mm_store_pd(h, _mm_add_pd(_mm_load_pd(h), v));
}
#else
typedef struct { double a, b; } pair_t;
static inline pair_t pair_load(const double *v) { pair_t p = {v[0], v[1]}; return p; }
static inline pair_t pair_g1(const double *g) { pair_t p = {g[0], 1.0}; return p; }
static inline void pair_add(double *h, pair_t v)
{
    h[0] += v.a;
    h[1] += v.b;
}
#endif

/* G features (bc[g]: bin column, hc[g]: histogram), positions j0..j1.
 * CONST_H: the constant-hessian fast path: og holds g only (every h is 1), at
 * og[j * os], and the pair added is (g, 1): half the bytes gathered and read. */
static inline __attribute__((always_inline)) void xgb_block(
    const int G, const int CONST_H, const uint8_t *const *restrict bc, double *const *restrict hc,
    const int32_t *restrict rows, int64_t j0, int64_t j1, const double *restrict og, int64_t os)
{
    const uint8_t *b0 = bc[0], *b1 = G > 1 ? bc[1] : 0, *b2 = G > 2 ? bc[2] : 0, *b3 = G > 3 ? bc[3] : 0;
    double *h0 = hc[0], *h1 = G > 1 ? hc[1] : 0, *h2 = G > 2 ? hc[2] : 0, *h3 = G > 3 ? hc[3] : 0;
    for (int64_t j = j0; j < j1; j++) {
        const int64_t r = rows != NULL ? rows[j] : j;
        const pair_t v = CONST_H ? pair_g1(og + j * os) : pair_load(og + 2 * j);
        pair_add(h0 + 2 * b0[r], v);
        if (G > 1) pair_add(h1 + 2 * b1[r], v);
        if (G > 2) pair_add(h2 + 2 * b2[r], v);
        if (G > 3) pair_add(h3 + 2 * b3[r], v);
    }
}

static void xgb_group(int G, const uint8_t *const *bc, double *const *hc, const int32_t *rows,
                      int64_t j0, int64_t j1, const double *og, int const_h, int64_t os)
{
    /* rows == NULL (the root over all rows) gets its own loops: no index load */
    if (const_h) {
        if (rows) {
            switch (G) {
            case 4: xgb_block(4, 1, bc, hc, rows, j0, j1, og, os); break;
            case 3: xgb_block(3, 1, bc, hc, rows, j0, j1, og, os); break;
            case 2: xgb_block(2, 1, bc, hc, rows, j0, j1, og, os); break;
            default: xgb_block(1, 1, bc, hc, rows, j0, j1, og, os); break;
            }
        } else {
            switch (G) {
            case 4: xgb_block(4, 1, bc, hc, NULL, j0, j1, og, os); break;
            case 3: xgb_block(3, 1, bc, hc, NULL, j0, j1, og, os); break;
            case 2: xgb_block(2, 1, bc, hc, NULL, j0, j1, og, os); break;
            default: xgb_block(1, 1, bc, hc, NULL, j0, j1, og, os); break;
            }
        }
    } else {
        if (rows) {
            switch (G) {
            case 4: xgb_block(4, 0, bc, hc, rows, j0, j1, og, 2); break;
            case 3: xgb_block(3, 0, bc, hc, rows, j0, j1, og, 2); break;
            case 2: xgb_block(2, 0, bc, hc, rows, j0, j1, og, 2); break;
            default: xgb_block(1, 0, bc, hc, rows, j0, j1, og, 2); break;
            }
        } else {
            switch (G) {
            case 4: xgb_block(4, 0, bc, hc, NULL, j0, j1, og, 2); break;
            case 3: xgb_block(3, 0, bc, hc, NULL, j0, j1, og, 2); break;
            case 2: xgb_block(2, 0, bc, hc, NULL, j0, j1, og, 2); break;
            default: xgb_block(1, 0, bc, hc, NULL, j0, j1, og, 2); break;
            }
        }
    }
}

static inline __attribute__((always_inline)) void class_block(
    const int G, const int weighted, const int64_t C, const uint8_t *const *restrict bc,
    double *const *restrict hc, const int32_t *restrict rows, int64_t j0, int64_t j1,
    const int32_t *restrict oc, const double *restrict ow)
{
    const int64_t K = weighted ? C - 1 : C;
    for (int64_t j = j0; j < j1; j++) {
        const int64_t r = rows != NULL ? rows[j] : j;
        const int64_t c = oc[j];
        const double w = ow != NULL ? ow[j] : 1.0;
        for (int g = 0; g < G; g++) {
            double *h = hc[g] + bc[g][r] * C;
            h[c] += w;
            if (weighted) h[K] += 1.0;
        }
    }
}

static void class_group(int G, int weighted, int64_t C, const uint8_t *const *bc,
                        double *const *hc, const int32_t *rows, int64_t j0, int64_t j1,
                        const int32_t *oc, const double *ow)
{
    if (weighted) {
        switch (G) {
        case 4: class_block(4, 1, C, bc, hc, rows, j0, j1, oc, ow); break;
        case 3: class_block(3, 1, C, bc, hc, rows, j0, j1, oc, ow); break;
        case 2: class_block(2, 1, C, bc, hc, rows, j0, j1, oc, ow); break;
        default: class_block(1, 1, C, bc, hc, rows, j0, j1, oc, ow); break;
        }
    } else if (C == 2) {   /* binary, unweighted: the common forest case */
        switch (G) {
        case 4: class_block(4, 0, 2, bc, hc, rows, j0, j1, oc, ow); break;
        case 3: class_block(3, 0, 2, bc, hc, rows, j0, j1, oc, ow); break;
        case 2: class_block(2, 0, 2, bc, hc, rows, j0, j1, oc, ow); break;
        default: class_block(1, 0, 2, bc, hc, rows, j0, j1, oc, ow); break;
        }
    } else {
        switch (G) {
        case 4: class_block(4, 0, C, bc, hc, rows, j0, j1, oc, ow); break;
        case 3: class_block(3, 0, C, bc, hc, rows, j0, j1, oc, ow); break;
        case 2: class_block(2, 0, C, bc, hc, rows, j0, j1, oc, ow); break;
        default: class_block(1, 0, C, bc, hc, rows, j0, j1, oc, ow); break;
        }
    }
}

/* The histogram of active feature i of a chunk's compact buffer. */
#define CHUNK_HIST(scratch, c, i, nf, C) ((scratch) + (((c) * (nf) + (i)) * NS * (C)))

static void run_group(const fml_hist_src *src, int G, const uint8_t *const *bc, double *const *hc,
                      int64_t j0, int64_t j1)
{
    if (src->kind == 0) xgb_group(G, bc, hc, src->rows, j0, j1, src->og, src->const_h, src->og_stride);
    else class_group(G, src->weighted, src->C, bc, hc, src->rows, j0, j1, src->oc, src->ow);
}

void fml_tree_hist_features(const fml_hist_src *src, const int32_t *feats, int64_t nf, double *hist)
{
    const int64_t fsize = NS * src->C;
    for (int64_t g0 = 0; g0 < nf; g0 += GROUP) {
        const uint8_t *bc[GROUP];
        double *hc[GROUP];
        const int G = (int)FML_MIN(GROUP, nf - g0);
        for (int g = 0; g < G; g++) {
            const int64_t f = feats[g0 + g];
            bc[g] = src->bins + f * src->n_samples;
            hc[g] = hist + f * fsize;
            memset(hc[g], 0, (size_t)fsize * sizeof(double));
        }
        run_group(src, G, bc, hc, 0, src->m);
    }
}

/* Row chunk c of a row-parallel build into its compact histograms. */
static void chunk_hist(const fml_hist_src *src, const int32_t *feats, int64_t nf, double *scratch,
                       int64_t n_chunks, int64_t c)
{
    const int64_t C = src->C, fsize = NS * C, m = src->m;
    const int64_t j0 = fml_chunk_start(m, n_chunks, c), j1 = fml_chunk_start(m, n_chunks, c + 1);
    for (int64_t g0 = 0; g0 < nf; g0 += GROUP) {
        const uint8_t *bc[GROUP];
        double *hc[GROUP];
        const int G = (int)FML_MIN(GROUP, nf - g0);
        for (int g = 0; g < G; g++) {
            bc[g] = src->bins + (int64_t)feats[g0 + g] * src->n_samples;
            hc[g] = CHUNK_HIST(scratch, c, g0 + g, nf, C);
            memset(hc[g], 0, (size_t)fsize * sizeof(double));
        }
        run_group(src, G, bc, hc, j0, j1);
    }
}

/* Feature i's histogram = its chunks' histograms added in chunk order. */
static void chunk_merge(const int32_t *feats, int64_t nf, int64_t C, const double *scratch,
                        int64_t n_chunks, double *hist, int64_t i)
{
    const int64_t fsize = NS * C;
    double *restrict dst = hist + (int64_t)feats[i] * fsize;
    memcpy(dst, CHUNK_HIST(scratch, 0, i, nf, C), (size_t)fsize * sizeof(double));
    for (int64_t c = 1; c < n_chunks; c++) {
        const double *restrict src_c = CHUNK_HIST(scratch, c, i, nf, C);
        for (int64_t t = 0; t < fsize; t++) dst[t] += src_c[t];
    }
}

void fml_tree_hist_build(const fml_hist_src *src, const int32_t *feats, int64_t nf, double *hist,
                         double *chunk_scratch, int64_t n_threads)
{
    const int64_t C = src->C, m = src->m;
    const int64_t n_chunks = fml_tree_hist_row_chunks(nf, m);
    if (n_chunks == 0) {
        const int64_t n_groups = (nf + GROUP - 1) / GROUP;
        const int nt = fml_threads_for(n_threads, n_groups, (double)m * (double)nf,
                                       HIST_MIN_UPDATES_PER_THREAD);
        if (nt > 1) {
#pragma omp taskloop grainsize(1) default(shared)
            for (int64_t gi = 0; gi < n_groups; gi++)
                fml_tree_hist_features(src, feats + gi * GROUP, FML_MIN(GROUP, nf - gi * GROUP), hist);
        } else {
            fml_tree_hist_features(src, feats, nf, hist);
        }
        return;
    }
    /* row-parallel: chunk c fills its compact histograms, then a fixed-order merge */
    const int nt = fml_threads_for(n_threads, n_chunks, (double)m * (double)nf,
                                   HIST_MIN_UPDATES_PER_THREAD);
    if (nt > 1) {
#pragma omp taskloop grainsize(1) default(shared)
        for (int64_t c = 0; c < n_chunks; c++) chunk_hist(src, feats, nf, chunk_scratch, n_chunks, c);
#pragma omp taskloop grainsize(1) default(shared)
        for (int64_t i = 0; i < nf; i++) chunk_merge(feats, nf, C, chunk_scratch, n_chunks, hist, i);
    } else {
        for (int64_t c = 0; c < n_chunks; c++) chunk_hist(src, feats, nf, chunk_scratch, n_chunks, c);
        for (int64_t i = 0; i < nf; i++) chunk_merge(feats, nf, C, chunk_scratch, n_chunks, hist, i);
    }
}

void fml_tree_hist_subtract(double *dst, const double *a, const double *b, const int32_t *feats,
                            int64_t nf, int64_t n_channels)
{
    const int64_t fsize = NS * n_channels;
    for (int64_t i = 0; i < nf; i++) {
        const int64_t off = (int64_t)feats[i] * fsize;
        double *d = dst + off;             /* dst may be a (in-place parent -> larger child) */
        const double *x = a + off, *restrict y = b + off;
        for (int64_t t = 0; t < fsize; t++) d[t] = x[t] - y[t];
    }
}
