/* distance.h: pairwise distances, kernel (Gram) matrices and exact nearest
 * neighbours, fused so that no m x n matrix is built unless it is the output.
 *
 *   X: m x d, Y: n x d, both row-major and contiguous (the Python layer copies
 *   anything else).  Rows of X are "queries" i, rows of Y are j.
 *
 * Two producers feed the same tile consumers (distance_impl.h):
 *   - GEMM metrics (sqeuclidean, euclidean, cosine, dot, kl, the kernels): the
 *     core's packed A, packed B and micro-kernel (csrc/core/fml_gemm.h) give
 *     row-block x 256 tiles of X' Y'^T (X', Y' shifted, normalised or log rows),
 *     written straight into the output for pairwise results;
 *   - direct metrics (manhattan, chebyshev, minkowski): a register-tiled kernel
 *     over Y packed in transposed panels (distance_kernels_impl.h, one instance
 *     per ISA) produces the same tiles.
 *   Consumers: finish the output in place (+ norms, clamp, sqrt, kernel
 *   function), keep per-row top-k heaps (knn), or collect the entries within a
 *   radius.  knn over the GEMM metrics with d >= 32 on CPUs with AMX-BF16 gets
 *   its candidates from bf16 tiles with rigorous error bounds instead
 *   (distance_amx.h), at the avx2 level from int8 products with Cauchy-Schwarz
 *   bounds (distance_i8.h, d <= 4096), then the same exact re-rank.
 *
 * Accuracy: the expansion ||x||^2 + ||y||^2 - 2 x.y cancels when points are far
 * from the origin and close together.  The data are first shifted by the mean
 * of Y when that mean is far from the origin (distances are shift-invariant),
 * and every entry whose expanded value is small relative to the norms is
 * recomputed from the differences in float64; knn re-ranks its candidates with
 * exact distances and rescans a row exactly when the error bound of the
 * expansion cannot separate its k-th neighbour from the rest.
 *
 * Threads: tasks are fixed row blocks; each output row is produced by one
 * thread in a fixed order, so results are bit-identical for any thread count.
 * Entry points return an FML_* status and trust their arguments (validated in
 * fastml/metrics/pairwise.py and fastml/neighbors/_search.py).
 */
#ifndef FML_DISTANCE_H
#define FML_DISTANCE_H

#include <stdint.h>

#include "core/fml_status.h"

enum fml_distance_metric {
    FML_METRIC_SQEUCLIDEAN = 0,
    FML_METRIC_EUCLIDEAN = 1,
    FML_METRIC_COSINE = 2,      /* 1 - cos, zero rows count as orthogonal (distance 1) */
    FML_METRIC_DOT = 3,         /* x.y, a similarity: knn/radius take the largest */
    FML_METRIC_MANHATTAN = 4,
    FML_METRIC_CHEBYSHEV = 5,
    FML_METRIC_MINKOWSKI = 6,   /* (sum |x-y|^p)^(1/p), p > 0 */
    FML_METRIC_KL = 7           /* sum rel_entr(x, y): x, y >= 0 */
};

enum fml_kernel_kind {
    FML_KERNEL_LINEAR = 0,      /* x.y */
    FML_KERNEL_POLYNOMIAL = 1,  /* (gamma x.y + coef0)^degree */
    FML_KERNEL_RBF = 2,         /* exp(-gamma ||x-y||^2) */
    FML_KERNEL_SIGMOID = 3      /* tanh(gamma x.y + coef0) */
};

/* Select the kernels of `level` (fml_cpu.h), and the GEMM's, for this module. */
int fml_distance_init(int level);

/* knn's AMX candidate search (distance_amx.h): allow = 1 / 0 turns it on / off
 * (-1: leave); returns whether it is in use (CPU, OS and the avx512 level). */
int fml_distance_amx(int allow);

/* knn's int8 candidate search (distance_i8.h), the same way: in use at the avx2
 * level (AVX-512 CPUs take their float32 path or AMX). */
int fml_distance_i8(int allow);

/* OUT out[i*ldo + j] = metric(X[i], Y[j]).  symmetric: Y is X (n == m), the
 * result is symmetric and its diagonal exactly 0 (true metrics). */
int fml_distance_pairwise_f32(int metric, double p, const float *x, int64_t m, const float *y,
                              int64_t n, int64_t d, int symmetric, float *out, int64_t ldo,
                              int64_t n_threads);
int fml_distance_pairwise_f64(int metric, double p, const double *x, int64_t m, const double *y,
                              int64_t n, int64_t d, int symmetric, double *out, int64_t ldo,
                              int64_t n_threads);

/* OUT out[i*ldo + j] = kernel(X[i], Y[j]) (see fml_kernel_kind). */
int fml_distance_kernel_f32(int kind, double gamma, double coef0, double degree, const float *x,
                            int64_t m, const float *y, int64_t n, int64_t d, int symmetric,
                            float *out, int64_t ldo, int64_t n_threads);
int fml_distance_kernel_f64(int kind, double gamma, double coef0, double degree, const double *x,
                            int64_t m, const double *y, int64_t n, int64_t d, int symmetric,
                            double *out, int64_t ldo, int64_t n_threads);

/* OUT dist[i*k + c], ind[i*k + c]: the k nearest rows of Y to X[i] (1 <= k <= n),
 * nearest first (largest first for dot), ties by the smaller index. */
int fml_distance_knn_f32(int metric, double p, const float *x, int64_t m, const float *y,
                         int64_t n, int64_t d, int64_t k, float *dist, int64_t *ind,
                         int64_t n_threads);
int fml_distance_knn_f64(int metric, double p, const double *x, int64_t m, const double *y,
                         int64_t n, int64_t d, int64_t k, double *dist, int64_t *ind,
                         int64_t n_threads);

/* Radius neighbours: every j with metric(X[i], Y[j]) <= radius (>= radius for
 * dot), sorted by distance (largest first for dot), ties by index.  The result
 * lives in C scratch until copied out:
 *   fml_distance_radius_*  -> *res (NULL on failure)
 *   fml_radius_total(res)  -> number of pairs found
 *   fml_radius_copy_*(res, indptr[m+1], indices[total], dist[total])
 *   fml_radius_free(res) */
typedef struct fml_radius_result fml_radius_result;
int fml_distance_radius_f32(int metric, double p, const float *x, int64_t m, const float *y,
                            int64_t n, int64_t d, double radius, fml_radius_result **res,
                            int64_t n_threads);
int fml_distance_radius_f64(int metric, double p, const double *x, int64_t m, const double *y,
                            int64_t n, int64_t d, double radius, fml_radius_result **res,
                            int64_t n_threads);
int64_t fml_radius_total(const fml_radius_result *res);
void fml_radius_copy_f32(const fml_radius_result *res, int64_t *indptr, int64_t *indices,
                         float *dist);
void fml_radius_copy_f64(const fml_radius_result *res, int64_t *indptr, int64_t *indices,
                         double *dist);
void fml_radius_free(fml_radius_result *res);

#endif
