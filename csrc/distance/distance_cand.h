/* distance_cand.h: the per-row state of knn's low-precision candidate searches
 * (AMX bf16 tiles in distance_amx.c, AVX2 int8 products in distance_i8_avx2.c).
 *
 * Each (row i, column j) the search visits has bounds lo <= key_ij <= up.  A
 * row keeps a max-heap of its k smallest `up` (the root T is >= the true k-th
 * key) and every column whose lo was <= T when it was seen; T only falls, so a
 * column dropped (lo > T) can never be among the k nearest.  distance_impl.h
 * re-ranks the survivors exactly.  A row whose list fills with survivors gives
 * up (overflow) and is redone on the float path.  Columns of one row must be
 * visited by one thread, in a fixed order (the lists are then deterministic). */
#ifndef FML_DISTANCE_CAND_H
#define FML_DISTANCE_CAND_H

#include <stdint.h>

typedef struct {
    float *hv;                   /* max-heap of the k smallest up: row i at i * k */
    int64_t *hi;                 /* its columns (INT64_MAX: empty slot) */
    int64_t k;
    int64_t *cand_j;             /* candidates, row i at i * cap: column and lo */
    float *cand_lo;
    int64_t *cand_n;
    int64_t cap;
    unsigned char *overflow;     /* the row's list overflowed: redo it exactly */
} fml_cand_rows;

/* (a, ia) > (b, ib) in (value, index) order */
static inline int fml_cand_gt(float a, int64_t ia, float b, int64_t ib)
{
    return a > b || (a == b && ia > ib);
}

/* Replace the root of the max-heap (hv, hi) of k entries by (v, j). */
static inline void fml_cand_heap_replace(float *hv, int64_t *hi, int64_t k, float v, int64_t j)
{
    int64_t pos = 0;
    for (;;) {
        int64_t child = 2 * pos + 1;
        if (child >= k) break;
        if (child + 1 < k && fml_cand_gt(hv[child + 1], hi[child + 1], hv[child], hi[child])) child++;
        if (!fml_cand_gt(hv[child], hi[child], v, j)) break;
        hv[pos] = hv[child];
        hi[pos] = hi[child];
        pos = child;
    }
    hv[pos] = v;
    hi[pos] = j;
}

/* Column j (bounds lo, up; the caller checked lo against the root) joins row
 * i: its candidates, and its heap when up beats the root.  When the list is
 * full, the entries the root has passed by are dropped first; if that frees
 * nothing the row overflows. */
static inline void fml_cand_add(const fml_cand_rows *s, int64_t i, int64_t j, float lo, float up)
{
    float *hv = s->hv + i * s->k;
    int64_t *hi = s->hi + i * s->k;
    int64_t *cj = s->cand_j + i * s->cap, *n = s->cand_n + i;
    float *cl = s->cand_lo + i * s->cap;
    if (*n == s->cap) {
        const float thr = hv[0];
        int64_t keep = 0;
        for (int64_t q = 0; q < *n; q++)
            if (cl[q] <= thr) {
                cj[keep] = cj[q];
                cl[keep++] = cl[q];
            }
        *n = keep;
        if (keep == s->cap) {
            s->overflow[i] = 1;
            return;
        }
    }
    cj[*n] = j;
    cl[(*n)++] = lo;
    if (fml_cand_gt(hv[0], hi[0], up, j)) fml_cand_heap_replace(hv, hi, s->k, up, j);
}

#endif
