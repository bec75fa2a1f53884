/* conv_kernels.h: the per-ISA pieces of csrc/conv (dispatch table, filled once
 * per SIMD level by conv.c / conv_avx2.c / conv_avx512.c). */
#ifndef FML_CONV_KERNELS_H
#define FML_CONV_KERNELS_H

#include <stdint.h>

/* One masked store of a tile: lanes `mask` of vector `v` go to y + delta + lane. */
typedef struct {
    int64_t delta;
    uint32_t mask;
    int32_t v;
} fml_conv_seg;

/* The direct-convolution tile (contract in conv_ukr_impl.h). */
typedef void (*fml_conv_ukr_f32)(int64_t k, const float *a, const float *x, const int64_t *off,
                                 int64_t nload, float *y, int64_t ldy, int64_t m,
                                 const float *bias, int relu, const fml_conv_seg *seg,
                                 int64_t nseg);
typedef void (*fml_conv_ukr_f64)(int64_t k, const double *a, const double *x,
                                 const int64_t *off, int64_t nload, double *y, int64_t ldy,
                                 int64_t m, const double *bias, int relu,
                                 const fml_conv_seg *seg, int64_t nseg);

/* Max pooling tile over nv*vl flat pixels (conv_pool_impl.h): y = max over the
 * k taps (NaN wins, first tap on ties); tap (may be NULL) gets the winning tap
 * number as FT (-1: no tap beat -inf).  Stores through seg like the conv tile. */
typedef void (*fml_pool_max_f32)(int64_t k, const float *x, const int64_t *off, int64_t nload,
                                 float *y, float *tap, const fml_conv_seg *seg, int64_t nseg);
typedef void (*fml_pool_max_f64)(int64_t k, const double *x, const int64_t *off, int64_t nload,
                                 double *y, double *tap, const fml_conv_seg *seg, int64_t nseg);

/* Weight-gradient tile (conv_gw_impl.h): for i < m, j < nk:
 *   out[i*ldo + j] += sum_{q < nq} g[i*ldg + q] * x[off[j] + q]    (float64 out) */
typedef void (*fml_conv_gw_f32)(int64_t nq, const float *g, int64_t ldg, const float *x,
                                const int64_t *off, double *out, int64_t ldo, int64_t m,
                                int64_t nk);
typedef void (*fml_conv_gw_f64)(int64_t nq, const double *g, int64_t ldg, const double *x,
                                const int64_t *off, double *out, int64_t ldo, int64_t m,
                                int64_t nk);

/* Row helpers compiled per ISA (conv_rows_impl.h). */
typedef void (*fml_affine_row_f32)(int64_t len, const float *x, float s, float b, int relu,
                                   float *y);
typedef void (*fml_affine_row_f64)(int64_t len, const double *x, double s, double b, int relu,
                                   double *y);

typedef struct {
    fml_conv_ukr_f32 ukr;
    int64_t mr, nv, vl;        /* tile: mr channels x nv*vl flat pixels */
} fml_conv_tile_f32;

typedef struct {
    fml_conv_ukr_f64 ukr;
    int64_t mr, nv, vl;
} fml_conv_tile_f64;

typedef struct {
    const char *name;
    fml_conv_tile_f32 dense_f32, dw_f32;   /* dense: many channels; dw: one channel */
    fml_conv_tile_f64 dense_f64, dw_f64;
    fml_pool_max_f32 pool_max_f32;
    fml_pool_max_f64 pool_max_f64;
    int64_t pool_nv;                       /* vectors per pooling tile */
    fml_conv_gw_f32 gw_f32;
    fml_conv_gw_f64 gw_f64;
    int64_t gw_mr, gw_nk;                  /* weight-gradient tile */
    fml_affine_row_f32 affine_row_f32;
    fml_affine_row_f64 affine_row_f64;
} fml_conv_kernels;

void fml_conv_kernels_scalar(fml_conv_kernels *t);
void fml_conv_kernels_avx2(fml_conv_kernels *t);
void fml_conv_kernels_avx512(fml_conv_kernels *t);

/* The kernels selected by fml_conv_init. */
const fml_conv_kernels *fml_conv_kernels_get(void);

#endif
