/* kmeans_kernels.h: the per-ISA pieces of the k-means steps (dispatch table). */
#ifndef FML_KMEANS_KERNELS_H
#define FML_KMEANS_KERNELS_H

#include <stdint.h>

/* Up to this many features, Lloyd assigns points without the GEMM (measured:
 * at d = 8 the GEMM tile is mostly packing and store overhead). */
#define FML_KMEANS_DIRECT_MAX_D 16

typedef struct {
    /* per-label weighted sums of a chunk's rows (or their change since the
       labels `old`, when given), written to sums / wsum */
    void (*add_rows_f32)(double *sums, double *wsum, const int32_t *labels, const int32_t *old,
                         const float *x, const float *w, int64_t rows, int64_t d, int64_t k);
    void (*add_rows_f64)(double *sums, double *wsum, const int32_t *labels, const int32_t *old,
                         const double *x, const double *w, int64_t rows, int64_t d, int64_t k);
    double (*weighted_d2_f32)(const float *x, const float *centers, const int32_t *labels,
                              const float *w, int64_t rows, int64_t d);
    double (*weighted_d2_f64)(const double *x, const double *centers, const int32_t *labels,
                              const double *w, int64_t rows, int64_t d);
    double (*exact_d2_f32)(const float *xr, const float *c, int64_t d);
    double (*exact_d2_f64)(const double *xr, const double *c, int64_t d);
    /* small-d Lloyd assignment on VL-row transposed blocks (lanes_f32/f64 = VL) */
    void (*assign_lanes_f32)(const float *xt, int64_t rows, int64_t d, const float *cm2,
                             const float *cn, int64_t k, int32_t *labels, float *best);
    void (*assign_lanes_f64)(const double *xt, int64_t rows, int64_t d, const double *cm2,
                             const double *cn, int64_t k, int32_t *labels, double *best);
    int64_t lanes_f32, lanes_f64;
    void (*row_argmin_f32)(const float *row, const float *cn, int64_t nb, int64_t j0,
                           float *best, int32_t *arg);
    void (*row_argmin_f64)(const double *row, const double *cn, int64_t nb, int64_t j0,
                           double *best, int32_t *arg);
} fml_kmeans_kernels;

void fml_kmeans_kernels_scalar(fml_kmeans_kernels *t);
void fml_kmeans_kernels_avx2(fml_kmeans_kernels *t);
void fml_kmeans_kernels_avx512(fml_kmeans_kernels *t);

/* Select the kernels of `level` (and the GEMM's) for this module. */
int fml_kmeans_init(int level);

#endif
