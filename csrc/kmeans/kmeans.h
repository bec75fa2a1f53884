/* kmeans.h: the fused Lloyd step, the Hamerly bound-based step and the exact
 * inertia of k-means.
 *
 * Layout: X is n x d row-major, centers k x d row-major, labels int32.
 * Sums are float64 (sum of weighted points per cluster, k x d, and the cluster
 * weights, k): float32 input is accumulated in float64 because k-means sums
 * hundreds of thousands of points.
 *
 * Determinism: rows are cut into fixed chunks of FML_KMEANS_CHUNK rows (never
 * by thread count); each chunk accumulates its own partial sums, and partial
 * sums are added in chunk order.  Labels, sums, centres and inertia are
 * bit-identical for any number of threads.
 */
#ifndef FML_KMEANS_H
#define FML_KMEANS_H

#include <stdint.h>

#include "core/fml_status.h"

#define FML_KMEANS_CHUNK 4096

/* Doubles of workspace the Lloyd and Hamerly steps need for n rows (the chunks'
 * partial sums); the caller allocates it once per fit. */
int64_t fml_kmeans_workspace_len(int64_t n, int64_t k, int64_t d);

/* What a Lloyd step does besides the labels (its `update` argument). */
enum {
    FML_KMEANS_LABELS_ONLY = 0,  /* sums / wsum untouched (may be NULL) */
    FML_KMEANS_SUMS = 1,         /* sums / wsum overwritten with those of the new labels */
    FML_KMEANS_SUMS_DELTA = 2    /* sums / wsum hold those of the labels on entry; the
                                    step adds the change (only rows whose label moved
                                    are read again) */
};

/* One Lloyd E-step + sums: labels[i] = argmin_j ||x_i - c_j||^2 (smallest j on
 * ties), computed as ||c_j||^2 - 2 x_i.c_j through the fused GEMM (the n x k
 * distance matrix is never built) or the int8 assignment (below).  OUT:
 * labels (n); sums (k x d) and wsum (k) per `update` (above); min_d2 (n, may
 * be NULL): the squared distance to the chosen centre (from the expansion,
 * clamped at 0, or exact on the int8 path).  xpack (may be NULL): X packed once
 * per fit by fml_gemm_pack_a_* with panel height mr, saves packing X on every
 * step; xq (may be NULL): X's int8 form.  workspace: fml_kmeans_workspace_len
 * doubles (unused, may be NULL, with FML_KMEANS_LABELS_ONLY).  n_changed (may
 * be NULL): rows whose label differs from the one on entry.  Every mode adds
 * per label in row order within fixed chunks merged in chunk order: bits do
 * not depend on threads. */
int fml_kmeans_lloyd_f32(int64_t n, int64_t d, const float *x, const float *xpack, int64_t mr,
                         const uint8_t *xq, const float *sample_weight, int64_t k,
                         const float *centers, int32_t *labels, float *min_d2, double *sums,
                         double *wsum, double *workspace, int update, int64_t *n_changed,
                         int64_t n_threads);
int fml_kmeans_lloyd_f64(int64_t n, int64_t d, const double *x, const double *xpack, int64_t mr,
                         const uint8_t *xq, const double *sample_weight, int64_t k,
                         const double *centers, int32_t *labels, double *min_d2, double *sums,
                         double *wsum, double *workspace, int update, int64_t *n_changed,
                         int64_t n_threads);

/* The int8 assignment of the Lloyd step (kmeans_i8_impl.h): at the avx2 level
 * for FML_I8_MIN_D <= d <= FML_I8_MAX_D (csrc/distance/distance_i8.h), the
 * products of 7-bit rows bound every distance and leave each point a few
 * candidates, ranked by the exact float64 distance.  There the labels are the
 * exact argmin (first index on ties); elsewhere the float expansion's.
 * fml_kmeans_i8_len: bytes of X's int8 form, 0 when the step does not use it;
 * fml_kmeans_pack_i8_*: X into that form (once per fit), the xq that
 * fml_kmeans_lloyd_* takes (NULL: each chunk is quantised on the fly).
 * fml_kmeans_i8(allow): allow < 0 queries; returns whether it is in use. */
int64_t fml_kmeans_i8_len(int64_t n, int64_t d);
void fml_kmeans_pack_i8_f32(int64_t n, int64_t d, const float *x, uint8_t *out, int64_t n_threads);
void fml_kmeans_pack_i8_f64(int64_t n, int64_t d, const double *x, uint8_t *out, int64_t n_threads);
int fml_kmeans_i8(int allow);

/* Hamerly step.  IN-OUT: labels (n), upper (n) and lower (n) bounds on the
 * distance (not squared) to the assigned centre and to the second closest.
 * IN: half_sep (k): half the distance from each centre to its nearest other
 * centre.  A point whose upper bound (after tightening) is at most
 * max(lower, half_sep[label]) keeps its label without computing distances;
 * the others are gathered and run through the fused GEMM against all centres.
 * OUT: sums / wsum as for Lloyd with update FML_KMEANS_SUMS or
 * FML_KMEANS_SUMS_DELTA, n_recomputed (points that needed all k), n_changed
 * (may be NULL: points whose label changed). */
int fml_kmeans_hamerly_f32(int64_t n, int64_t d, const float *x, const float *sample_weight,
                           int64_t k, const float *centers, const double *half_sep,
                           int32_t *labels, double *upper, double *lower, double *sums,
                           double *wsum, double *workspace, int update,
                           int64_t *n_recomputed, int64_t *n_changed, int64_t n_threads);
int fml_kmeans_hamerly_f64(int64_t n, int64_t d, const double *x, const double *sample_weight,
                           int64_t k, const double *centers, const double *half_sep,
                           int32_t *labels, double *upper, double *lower, double *sums,
                           double *wsum, double *workspace, int update,
                           int64_t *n_recomputed, int64_t *n_changed, int64_t n_threads);

/* Small d (<= FML_KMEANS_DIRECT_MAX_D): X transposed in blocks of SIMD-width
 * rows, the xpack that fml_kmeans_lloyd_* takes for such d instead of the GEMM
 * packing (fml_kmeans_lanes_len elements). */
int64_t fml_kmeans_lanes_len(int64_t n, int64_t d, int is_f64);
int fml_kmeans_pack_lanes_f32(int64_t n, int64_t d, const float *x, float *out, int64_t n_threads);
int fml_kmeans_pack_lanes_f64(int64_t n, int64_t d, const double *x, double *out,
                              int64_t n_threads);

/* Hamerly bounds after the centres moved by shift[j]: upper[i] += shift[label],
 * lower[i] -= the largest drift of any other centre (second_drift for points of
 * cluster `top`, the one that moved most, top_drift for the others), >= 0. */
int fml_kmeans_bounds_move(int64_t n, const int32_t *labels, const double *shift, int32_t top,
                           double top_drift, double second_drift, double *upper, double *lower,
                           int64_t n_threads);

/* mean (d, float64) = the column means of X, summed in fixed chunks merged in
 * chunk order; out = X - mean rounded to FT (out may be x). */
int fml_kmeans_center_f32(int64_t n, int64_t d, const float *x, float *out, double *mean,
                          int64_t n_threads);
int fml_kmeans_center_f64(int64_t n, int64_t d, const double *x, double *out, double *mean,
                          int64_t n_threads);

/* Exact inertia sum_i w_i ||x_i - c_{labels_i}||^2, difference-based, float64. */
int fml_kmeans_inertia_f32(int64_t n, int64_t d, const float *x, const float *sample_weight,
                           const float *centers, const int32_t *labels, double *inertia,
                           int64_t n_threads);
int fml_kmeans_inertia_f64(int64_t n, int64_t d, const double *x, const double *sample_weight,
                           const double *centers, const int32_t *labels, double *inertia,
                           int64_t n_threads);

/* out[i] = ||x_i - c_{labels_i}||^2, exact (difference-based, float64). */
int fml_kmeans_point_d2_f32(int64_t n, int64_t d, const float *x, const float *centers,
                            const int32_t *labels, double *out, int64_t n_threads);
int fml_kmeans_point_d2_f64(int64_t n, int64_t d, const double *x, const double *centers,
                            const int32_t *labels, double *out, int64_t n_threads);

#endif
