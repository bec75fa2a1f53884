/* distance_kernels.h: the per-ISA pieces of the distance family (dispatch table).
 *
 * One instance per SIMD level (distance.c: scalar, distance_avx2.c,
 * distance_avx512.c), all from distance_kernels_impl.h; fml_distance_init()
 * picks one table per dtype at import (and when the SIMD level is forced).
 *
 * finish_sq / finish_cos may work in place (g == out).
 *
 * Direct tiles (manhattan, chebyshev, integer minkowski): Y is packed in
 * panels of NR rows transposed, panel[p*NR + j] = Y[j0 + j, p] (zero past n),
 * and a call computes
 *     c[i*ldc + j] = reduce_p op(x[i*d + p] - panel[p*NR + j])   i < m <= MR, j < n <= NR
 * reading rows i < m of x only.  Row kernels work on one tile row of length nb.
 */
#ifndef FML_DISTANCE_KERNELS_H
#define FML_DISTANCE_KERNELS_H

#include <stdint.h>

typedef struct {
    const char *isa;
    int64_t mr, nr;   /* direct tile: MR rows of X by NR rows of Y (one panel) */
    void (*direct_l1)(int64_t d, const float *x, int64_t m, const float *panel, float *c,
                      int64_t ldc, int64_t n);
    void (*direct_chebyshev)(int64_t d, const float *x, int64_t m, const float *panel, float *c,
                             int64_t ldc, int64_t n);
    /* sum |x - y|^ip for an integer ip >= 1 */
    void (*direct_powi)(int64_t d, const float *x, int64_t m, const float *panel, float *c,
                        int64_t ldc, int64_t n, int ip);
    /* out[j] = max(nx + ny[j] - 2 g[j], 0) (sqrt'ed if root), or -1 where the
     * expansion may have cancelled (value < ratio (nx + ny[j])); returns how many -1 */
    int64_t (*finish_sq)(const float *g, int64_t nb, float nx, const float *ny, float ratio,
                         int root, float *out);
    /* out[j] = min(max(1 - g[j], 0), 2), or -1 where 1 - g[j] < thr; returns how many -1 */
    int64_t (*finish_cos)(const float *g, int64_t nb, float thr, float *out);
    /* key[j] = scale g[j] (+ bias[j]); offer (key[j], j0 + j) to the max-heap
     * (hv, hi) of kk entries, keeping the kk smallest (key, index) pairs */
    void (*scan_topk)(const float *g, int64_t nb, const float *bias, float scale, int64_t j0,
                      float *hv, int64_t *hi, int64_t kk);
    /* the j with key[j] <= thr, into cols; returns how many */
    int64_t (*select_le)(const float *g, int64_t nb, const float *bias, float scale, float thr,
                         int32_t *cols);
    /* sum (x - y)^2 and sum x^2 in float64 (8 fixed partial sums: same bits at every level) */
    double (*exact_sq)(const float *x, const float *y, int64_t d);
    double (*sqnorm)(const float *x, int64_t d);
    /* the GEMM core's micro-tile (gmr x gnr, core-packed panels) with finish_sq
       fused into its store, for pairwise sqeuclidean; NULL where not provided */
    int64_t gmr, gnr;
    int64_t (*ukr_sq)(int64_t k, const float *a, const float *b, float *c, int64_t ldc, int64_t m,
                      int64_t n, int accumulate, const float *nx, const float *ny, float ratio, int root);
} fml_distance_kernels_f32;

typedef struct {
    const char *isa;
    int64_t mr, nr;
    void (*direct_l1)(int64_t d, const double *x, int64_t m, const double *panel, double *c,
                      int64_t ldc, int64_t n);
    void (*direct_chebyshev)(int64_t d, const double *x, int64_t m, const double *panel,
                             double *c, int64_t ldc, int64_t n);
    void (*direct_powi)(int64_t d, const double *x, int64_t m, const double *panel, double *c,
                        int64_t ldc, int64_t n, int ip);
    int64_t (*finish_sq)(const double *g, int64_t nb, double nx, const double *ny, double ratio,
                         int root, double *out);
    int64_t (*finish_cos)(const double *g, int64_t nb, double thr, double *out);
    void (*scan_topk)(const double *g, int64_t nb, const double *bias, double scale, int64_t j0,
                      double *hv, int64_t *hi, int64_t kk);
    int64_t (*select_le)(const double *g, int64_t nb, const double *bias, double scale,
                         double thr, int32_t *cols);
    double (*exact_sq)(const double *x, const double *y, int64_t d);
    double (*sqnorm)(const double *x, int64_t d);
    /* the GEMM core's micro-tile (gmr x gnr, core-packed panels) with finish_sq
       fused into its store, for pairwise sqeuclidean; NULL where not provided */
    int64_t gmr, gnr;
    int64_t (*ukr_sq)(int64_t k, const double *a, const double *b, double *c, int64_t ldc, int64_t m,
                      int64_t n, int accumulate, const double *nx, const double *ny, double ratio, int root);
} fml_distance_kernels_f64;

void fml_distance_kernels_scalar(fml_distance_kernels_f32 *k32, fml_distance_kernels_f64 *k64);
void fml_distance_kernels_avx2(fml_distance_kernels_f32 *k32, fml_distance_kernels_f64 *k64);
void fml_distance_kernels_avx512(fml_distance_kernels_f32 *k32, fml_distance_kernels_f64 *k64);

#endif
