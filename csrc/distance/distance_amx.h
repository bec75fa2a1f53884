/* distance_amx.h: the AMX (bf16 tile) candidate search behind exact knn.
 *
 * For knn over the GEMM metrics (sqeuclidean, euclidean, cosine, dot) with
 * d >= FML_AMX_MIN_D on CPUs with AMX-TILE + AMX-BF16 (and the OS permission),
 * the products X'Y'^T are first computed from bf16 copies of the rows with
 * tile instructions (~16x the float32 FMA rate).  Each product carries a
 * rigorous error bound, so each (row i, column j) gets an interval
 *     lo_ij <= true key_ij <= hi_ij,        key = bias_j + scale * x'_i . y'_j
 * Rows keep candidates as distance_cand.h says (a heap of the k smallest hi
 * whose root T is >= the true k-th key, and every j with lo_ij <= T).  A row not in the candidate list
 * has true key >= lo > T >= k-th key, so the exact float64 re-rank of the
 * candidates (distance_impl.h) gives the exact neighbours.  A row whose
 * candidate list overflows (bf16 cannot separate its points: far from the
 * origin relative to their spread, duplicates) is redone on the float32 path.
 *
 * Layouts (bf16 as uint16_t):
 *   A: rows of kp (d padded to 32) values, rows padded to a multiple of 32.
 *   B: panels of 16 rows of Y; panel jp = kp/32 blocks of 1 KB, block kb holds
 *      pairs: b[(p/2)*32 + jj*2 + p%2] = Y'[16 jp + jj, 32 kb + p] (VNNI).
 * Columns are padded to a multiple of 32 with bl = +inf (never candidates).
 */
#ifndef FML_DISTANCE_AMX_H
#define FML_DISTANCE_AMX_H

#include <stdint.h>

#include "distance/distance_cand.h"

#define FML_AMX_MIN_D 32     /* below this, bf16 rarely separates neighbours */
#define FML_AMX_ROWS 32      /* rows per tile block (2 A tiles) */
#define FML_AMX_COLS 32      /* columns per tile block (2 B tiles) */

typedef struct {
    const uint16_t *apack, *bpack;
    int64_t kp;                  /* padded d, a multiple of 32 */
    int64_t m;                   /* real rows (rows >= m are padding) */
    int64_t i0, mb;              /* this task's rows: i0 a multiple of 32 */
    int64_t j0, j1;              /* this task's columns: multiples of 32 (j1 padded) */
    const float *bl;             /* per column: bias_j - C q_j (+inf past n) */
    const float *w;              /* per column: 2 C q_j */
    const float *r;              /* per row: C p_i */
    float scale;                 /* key = bias + scale * dot */
    fml_cand_rows cand;          /* per-row state (distance_cand.h) */
    float *cbuf;                 /* 32 x 32 floats, 64-byte aligned, per thread */
} fml_amx_task;

/* 1 if this CPU and OS run AMX-BF16 tiles for this process (asks the kernel for
 * the tile-data permission once), else 0.  Needs the avx512 level too. */
int fml_distance_amx_probe(void);

/* Configure / release the tile registers of the calling thread. */
void fml_distance_amx_begin(void);
void fml_distance_amx_end(void);

/* Run one task (see fml_amx_task). */
void fml_distance_amx_task(const fml_amx_task *t);

#endif
