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
 * outwards with room for the float32 arithmetic of the scan (distance_i8_pack.c
 * sets them).  Rows keep candidates as distance_cand.h says; knn
 * (distance_i8_impl.h) and the k-means assignment (kmeans_i8_impl.h) use it.
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

/* Slack rel for the float32 arithmetic between the exact integer product and
 * the compare (about six operations, each off by 2^-24 of magnitudes below
 * |bias| + |scale| ||s x'|| ||t y'||: rel = 2^-18 is 64 of those) and for the
 * FT rounding of the shifted rows; tiny: an absolute term for underflow. */
#define FML_I8_REL 0x1p-18
#define FML_I8_TINY 0x1p-120

/* The column side, arrays of np entries (np = columns padded to 16). */
typedef struct {
    int8_t *bpack;               /* np * kp bytes, layout above */
    int32_t *csum;               /* 63 * sum_p y'_jp */
    float *tq;                   /* t_j */
    float *bias_lo, *bias_hi;    /* bias_j rounded outwards, with its error */
    float *rho;                  /* ||y_j - t_j y'_j||, with the slack */
    float *bn;                   /* ||y_j||, rounded up */
} fml_i8_cols;

/* v rounded to float downwards / upwards (v finite). */
float fml_i8_f32_down(double v);
float fml_i8_f32_up(double v);

/* Row r (d values; NULL for a padding row) of the A side for keys
 * bias + scale x.y (scale -1 or -2): u (kp bytes, x' + 63) and the row terms
 * sig = scale s, alpha, eps (rounded outwards, with the slack).  Returns ||r||
 * (float64, 0 for padding). */
double fml_i8_pack_row_f32(const float *r, int64_t d, int64_t kp, double scale, uint8_t *u,
                           float *sig, float *alpha, float *eps);
double fml_i8_pack_row_f64(const double *r, int64_t d, int64_t kp, double scale, uint8_t *u,
                           float *sig, float *alpha, float *eps);

/* Panel jp (columns 16 jp .. 16 jp + 15 of src, n x d row-major; those past n
 * are padding) into cols; bias_j = bias[j] (NULL: 0), e.g. ||y_j||^2. */
void fml_i8_pack_panel_f32(const float *src, int64_t n, int64_t d, int64_t kp, int64_t jp,
                           const double *bias, const fml_i8_cols *cols);
void fml_i8_pack_panel_f64(const double *src, int64_t n, int64_t d, int64_t kp, int64_t jp,
                           const double *bias, const fml_i8_cols *cols);

/* emax_i >= alpha_i rho_j + eps_i bn_j for every column j < n (m rows). */
void fml_i8_emax(const fml_i8_cols *cols, int64_t n, const float *alpha, const float *eps,
                 int64_t m, float *emax);

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

/* Rows [i0, i0 + mb) against fixed thresholds thr[i] (rounded up by the
 * caller, and by 2^-20 |thr| more for the float32 roundings of thr + err): bit jj of
 * below[i * np / 16 + jp] is set when column 16 jp + jj has lo <= thr[i], so
 * every column whose key is <= thr[i] is set.  cand and emax are unused. */
void fml_distance_i8_below_avx2(const fml_i8_task *t, const float *thr, uint16_t *below);

/* The two halves of fml_distance_i8_below_avx2 for thresholds that depend
 * on the products (cand and emax unused).  estimate: v[i * np + j] = the point
 * estimate bias_lo_j + sig_i (t_j x'.y') of key_ij for rows [i0, i0 + mb) and
 * arg[i] = a column with the least one (a guess of the nearest); below_of:
 * the masks of fml_distance_i8_below_avx2 from those estimates. */
void fml_distance_i8_estimate_avx2(const fml_i8_task *t, float *v, int32_t *arg);
void fml_distance_i8_below_of_avx2(const fml_i8_task *t, const float *v, const float *thr,
                                   uint16_t *below);

#endif
