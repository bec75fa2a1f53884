/* transformer.h: the row-wise and fused kernels of transformer blocks.
 *
 *   softmax / log_softmax   rows of x (rows x n, contiguous): max, exp(x - max)
 *                           (polynomial exp, attention_rows_impl.h), sum, scale
 *   layer_norm              y = (x - mean) / sqrt(var + eps) * w + b per row;
 *                           mean and variance in float64 (two passes) for any dtype
 *   layer_norm_backward     dx per row (float64 sums); dw = sum_rows dy * xhat and
 *                           db = sum_rows dy in float64, over fixed chunks of rows
 *                           merged in chunk order
 *   gelu                    exact x Phi(x) = 0.5 x erfc(-x / sqrt 2) (float32: a fit in
 *                           float64 lanes, relative error < 1.2e-7; float64: libm), or
 *                           the tanh form x * sigmoid(2 sqrt(2/pi) (x + 0.044715 x^3))
 *   dropout                 y = x * keep / (1 - p); keep from the counter-based hash
 *                           of attention_rng.h on (seed, i / 4096, i % 4096) for the
 *                           flat index i
 *   linear                  y = act(x W^T + b) on the core GEMM (fml_gemm.h), bias
 *                           and activation applied in its fused epilogue while the
 *                           tile is in cache
 *
 * Determinism: rows (or 4096-element blocks) are independent, and the only
 * cross-row sums (dw, db) go through fixed chunks: bit-identical results for any
 * thread count.
 */
#ifndef FML_TRANSFORMER_H
#define FML_TRANSFORMER_H

#include <stdint.h>

#include "core/fml_status.h"

enum { FML_ACT_NONE = 0, FML_ACT_RELU = 1, FML_ACT_GELU = 2, FML_ACT_GELU_TANH = 3 };

int fml_softmax_f32(int64_t rows, int64_t n, const float *x, float *y, int log_out,
                    int64_t n_threads);
int fml_softmax_f64(int64_t rows, int64_t n, const double *x, double *y, int log_out,
                    int64_t n_threads);

/* w, b: n (may be NULL); mean, rstd: rows (OUT, may be NULL). */
int fml_layer_norm_f32(int64_t rows, int64_t n, const float *x, const float *w, const float *b,
                       double eps, float *y, double *mean, double *rstd, int64_t n_threads);
int fml_layer_norm_f64(int64_t rows, int64_t n, const double *x, const double *w,
                       const double *b, double eps, double *y, double *mean, double *rstd,
                       int64_t n_threads);

/* OUT: dx (rows x n); dw, db (n, float64, may be NULL). */
int fml_layer_norm_backward_f32(int64_t rows, int64_t n, const float *x, const float *dy,
                                const float *w, double eps, float *dx, double *dw, double *db,
                                int64_t n_threads);
int fml_layer_norm_backward_f64(int64_t rows, int64_t n, const double *x, const double *dy,
                                const double *w, double eps, double *dx, double *dw, double *db,
                                int64_t n_threads);

/* approximate: 0 exact (erf), 1 tanh. */
int fml_gelu_f32(int64_t n, const float *x, float *y, int approximate, int64_t n_threads);
int fml_gelu_f64(int64_t n, const double *x, double *y, int approximate, int64_t n_threads);

int fml_dropout_f32(int64_t n, const float *x, float *y, double p, uint64_t seed,
                    int64_t n_threads);
int fml_dropout_f64(int64_t n, const double *x, double *y, double p, uint64_t seed,
                    int64_t n_threads);

/* y (m x n, contiguous) = act(x W^T + b): x m x k (row stride ldx), W n x k
 * contiguous, b n (may be NULL), activation FML_ACT_*. */
int fml_linear_f32(int64_t m, int64_t k, int64_t n, const float *x, int64_t ldx, const float *w,
                   const float *b, int activation, float *y, int64_t n_threads);
int fml_linear_f64(int64_t m, int64_t k, int64_t n, const double *x, int64_t ldx,
                   const double *w, const double *b, int activation, double *y,
                   int64_t n_threads);

#endif
