/* distance_i8.h: int8 products for knn's candidate search on AVX2 CPUs (the
 * AMX path of distance_amx.h is preferred where it runs).
 *
 * The rows fed to the GEMM (after the metric's shift or normalisation) are
 * quantised per row: x_i ~ s_i x'_i, y_j ~ t_j y'_j with x', y' integers in
 * [-63, 63] and s_i, t_j floats.  x'.y' is exact in int32: vpmaddubsw multiplies
 * u = x' + 63 (u8) by y' (s8) and adds pairs, two k-groups are summed in int16
 * (|sum| <= 4 * 126 * 63 < 2^15), vpmaddwd widens; the 63 * sum_p y'_jp the
 * offset adds is taken off per column.  That is about twice the float32 FMA
 * rate.  Cauchy-Schwarz bounds what quantisation loses,
 *     |x_i.y_j - s_i t_j x'.y'| <= ||s_i x'_i|| ||y_j - t_j y'_j|| + ||x_i - s_i x'_i|| ||y_j||,
 * so with key = bias_j + scale x.y each (i, j) gets
 *     lo = bias_lo_j + sig_i (t_j x'.y') - (alpha_i rho_j + eps_i bn_j) <= key,
 *     hi = bias_hi_j + sig_i (t_j x'.y') + (alpha_i rho_j + eps_i bn_j) >= key,
 * where sig_i = scale s_i and the per-row / per-column factors were rounded
 * outwards with room for the float32 arithmetic of the scan (distance_i8_impl.h
 * sets them).  Rows keep candidates as distance_cand.h says.
 *
 * Layouts: A: row i at apack + i * kp, bytes u = x' + 63 (kp = d padded to a
 * multiple of 8 with x' = 0; rows padded to a multiple of 4).  B: panel jp of
 * 16 columns is kp / 4 groups of 64 bytes; group g holds, for columns jj = 0..7
 * and then 8..15, the four values y'[16 jp + jj][4 g .. 4 g + 3].  Columns past
 * n are zero with bias_lo = +inf (never candidates).
 */
#ifndef FML_DISTANCE_I8_H
#define FML_DISTANCE_I8_H

#include <stdint.h>

#include "distance/distance_cand.h"

#define FML_I8_MIN_D 32       /* below this, 7-bit values rarely separate neighbours */
#define FML_I8_MAX_D 4096     /* |x'.y'| < 2^24: exact as a float */
#define FML_I8_Q 63           /* |x'|, |y'| <= FML_I8_Q */

typedef struct {
    const uint8_t *apack;
    const int8_t *bpack;
    int64_t kp;                  /* padded d, a multiple of 8 */
    int64_t m;                   /* real rows */
    int64_t i0, mb;              /* this task's rows: i0 a multiple of 4 */
    int64_t np;                  /* padded columns, a multiple of 16 */
    const int32_t *csum;         /* per column: 63 * sum_p y'_jp */
    const float *tq;             /* per column: t_j */
    const float *bias_lo, *bias_hi;
    const float *rho;            /* per column: ||y_j - t_j y'_j||, with the slack */
    const float *bn;             /* per column: ||y_j||, rounded up */
    const float *sig;            /* per row: scale * s_i */
    const float *alpha;          /* per row: |scale| ||s_i x'_i||, with the slack */
    const float *eps;            /* per row: |scale| ||x_i - s_i x'_i||, with the slack */
    const float *emax;           /* per row: >= alpha_i rho_j + eps_i bn_j for every j */
    fml_cand_rows cand;
} fml_i8_task;

/* Run one task: rows [i0, i0 + mb) against every column, in column order. */
void fml_distance_i8_task_avx2(const fml_i8_task *t);

#endif
