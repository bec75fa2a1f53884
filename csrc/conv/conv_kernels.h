/* conv_kernels.h: the per-ISA pieces of csrc/conv (dispatch table, filled once
 * per SIMD level by conv.c / conv_avx2.c / conv_avx512.c). */
#ifndef FML_CONV_KERNELS_H
#define FML_CONV_KERNELS_H

#include <stdint.h>

#include "conv/conv_plan.h"

/* One masked store of a tile: lanes `mask` of vector `v` go to y + delta + lane. */
typedef struct {
    int64_t delta;
    uint32_t mask;
    int32_t v;
} fml_conv_seg;

/* One tile of a band: flat pixels [q0, q0 + nload) (nload <= the tile width)
 * whose valid outputs are stored by seg[s0 .. s0 + ns). */
typedef struct {
    int64_t q0, nload;
    int32_t s0, ns;
} fml_conv_span;

/* A tile of the channels-in-lanes kernel: flat pixels q0 .. q0 + 15 (at most),
 * pixel i stored at output offset out[i] (from the band's first output row), or
 * not at all when out[i] < 0. */
#define FML_CONV_CMR_MAX 16
typedef struct {
    int64_t q0;
    int32_t out[FML_CONV_CMR_MAX];
} fml_conv_cspan;

typedef void (*fml_conv_ctile_f32)(int64_t k, const float *b, const float *x, const int64_t *off,
                                   const fml_conv_cspan *span, int64_t nspan, float *y,
                                   int64_t ldy, int64_t m, const float *bias, int relu,
                                   const char *pf, int64_t pfn);
typedef void (*fml_conv_ctile_f64)(int64_t k, const double *b, const double *x,
                                   const int64_t *off, const fml_conv_cspan *span, int64_t nspan,
                                   double *y, int64_t ldy, int64_t m, const double *bias,
                                   int relu, const char *pf, int64_t pfn);

/* The direct-convolution tile, run over a list of spans (contract in
 * conv_ukr_impl.h). */
typedef void (*fml_conv_ukr_f32)(int64_t k, const float *a, const float *x, const int64_t *off,
                                 const fml_conv_span *span, int64_t nspan,
                                 const fml_conv_seg *seg, float *y, int64_t ldy, int64_t m,
                                 const float *bias, int relu, int64_t pfd);
typedef void (*fml_conv_ukr_f64)(int64_t k, const double *a, const double *x,
                                 const int64_t *off, const fml_conv_span *span, int64_t nspan,
                                 const fml_conv_seg *seg, double *y, int64_t ldy, int64_t m,
                                 const double *bias, int relu, int64_t pfd);

/* The packed-pixel tile and its panel copy (conv_pgemm_impl.h). */
typedef void (*fml_conv_pgemm_f32)(int64_t k, const float *a, const float *b, float *c,
                                   int64_t ldc, int64_t m, int64_t n, int first, int last,
                                   const float *bias, int relu);
typedef void (*fml_conv_pgemm_f64)(int64_t k, const double *a, const double *b, double *c,
                                   int64_t ldc, int64_t m, int64_t n, int first, int last,
                                   const double *bias, int relu);
typedef void (*fml_conv_pgpack_f32)(int64_t kb, const float *x, const int64_t *off, int64_t n,
                                    int64_t pfd, float *dst);
typedef void (*fml_conv_pgpack_f64)(int64_t kb, const double *x, const int64_t *off, int64_t n,
                                    int64_t pfd, double *dst);

/* Max pooling tile over nv*vl flat pixels, run over spans (conv_pool_impl.h):
 * y = max over the k taps (NaN wins, first tap on ties); tap (may be NULL) gets
 * the winning tap number as FT (-1: no tap beat -inf), stored like y. */
typedef void (*fml_pool_max_f32)(int64_t k, const float *x, const int64_t *off,
                                 const fml_conv_span *span, int64_t nspan,
                                 const fml_conv_seg *seg, float *y, float *tap);
typedef void (*fml_pool_max_f64)(int64_t k, const double *x, const int64_t *off,
                                 const fml_conv_span *span, int64_t nspan,
                                 const fml_conv_seg *seg, double *y, double *tap);

/* Max pooling of one plane from its rows (column stride 1 or 2, no indices).
 * work: FML_POOL3S2_WORK(wo, vl) elements (vl >= the kernel's vector length)
 * for the separable 3x3 stride-2 path, or NULL. */
#define FML_POOL3S2_WORK(wo, vl) (5 * ((wo) + 2 * (vl) + 1))
typedef void (*fml_pool_max_rows_f32)(const float *x, int64_t h, int64_t w, int64_t kh, int64_t kw,
                                      int64_t sh, int64_t sw, int64_t dh, int64_t dw, int64_t ph0,
                                      int64_t pw0, const uint32_t *mask, int64_t nvec, float *y,
                                      int64_t ho, int64_t wo, float *work);
typedef void (*fml_pool_max_rows_f64)(const double *x, int64_t h, int64_t w, int64_t kh,
                                      int64_t kw, int64_t sh, int64_t sw, int64_t dh, int64_t dw,
                                      int64_t ph0, int64_t pw0, const uint32_t *mask, int64_t nvec,
                                      double *y, int64_t ho, int64_t wo, double *work);

/* Band copy (conv_copy_impl.h): output rows [oh0, oh0 + rb) 's planes of image
 * xn into buf, `fill` outside the input. */
typedef void (*fml_conv_copy_f32)(const conv_plan *p, const float *xn, int64_t oh0, int64_t rb,
                                  float fill, float *buf);
typedef void (*fml_conv_copy_f64)(const conv_plan *p, const double *xn, int64_t oh0, int64_t rb,
                                  double fill, double *buf);

/* Stride-1 convolution of one output channel straight from the input rows
 * (conv_dw_impl.h). */
typedef void (*fml_conv_dw_rows_f32)(const float *x, int64_t cg, int64_t h, int64_t w,
                                     const float *wt, int64_t kh, int64_t kw, int64_t dh,
                                     int64_t dw, int64_t ph0, int64_t pw0, const uint32_t *mask,
                                     int64_t nvec, float *y, int64_t ho, int64_t wo,
                                     const float *bias, int relu, const float *zrow);
typedef void (*fml_conv_dw_rows_f64)(const double *x, int64_t cg, int64_t h, int64_t w,
                                     const double *wt, int64_t kh, int64_t kw, int64_t dh,
                                     int64_t dw, int64_t ph0, int64_t pw0, const uint32_t *mask,
                                     int64_t nvec, double *y, int64_t ho, int64_t wo,
                                     const double *bias, int relu, const double *zrow);

/* Winograd F(2x2, 3x3) transforms (conv_wino_impl.h). */
typedef void (*fml_wino_copy_f32)(const float *xn, int64_t c, int64_t h, int64_t w, int64_t ph0,
                                  int64_t pw0, int64_t row0, int64_t nrows, int64_t pw, float *eo);
typedef void (*fml_wino_copy_f64)(const double *xn, int64_t c, int64_t h, int64_t w, int64_t ph0,
                                  int64_t pw0, int64_t row0, int64_t nrows, int64_t pw, double *eo);
typedef void (*fml_wino_in_f32)(const float *eo, int64_t c, int64_t tr, int64_t twp, int64_t pw,
                                float *V, int64_t ntile, int64_t sv);
typedef void (*fml_wino_in_f64)(const double *eo, int64_t c, int64_t tr, int64_t twp, int64_t pw,
                                double *V, int64_t ntile, int64_t sv);
typedef void (*fml_wino_out_f32)(const float *M, int64_t o, int64_t tr, int64_t twp, int64_t ntile,
                                 int64_t sm, float *y, int64_t ldy, int64_t wo, int64_t nout_rows,
                                 const float *bias, int relu);
typedef void (*fml_wino_out_f64)(const double *M, int64_t o, int64_t tr, int64_t twp,
                                 int64_t ntile, int64_t sm, double *y, int64_t ldy, int64_t wo,
                                 int64_t nout_rows, const double *bias, int relu);

/* Winograd-style 3x3 stride-2 transforms (conv_wino2_impl.h).  The 25
 * transformed inputs (a, b) (a, b < 5: the 1-D components of B^T) are summed
 * into 9 products (slots): component a goes to slot row FML_WINO2_SLOT[a], so
 * slot (sa, sb) reduces over n(sa) * n(sb) components of C channels each
 * (n = 2, 1, 2: 4, 2 or 1 channel blocks).  V keeps a slot's components next
 * to each other: component (a, b) is block FML_WINO2_POS[a][b] of V's rows,
 * slot s starts at block FML_WINO2_START[s] and spans FML_WINO2_LEN[s]. */
static const int8_t FML_WINO2_SLOT[5] = {0, 1, 2, 0, 2};
static const int8_t FML_WINO2_POS[5][5] = {{0, 4, 6, 1, 7},
                                           {10, 12, 13, 11, 14},
                                           {15, 19, 21, 16, 22},
                                           {2, 5, 8, 3, 9},
                                           {17, 20, 23, 18, 24}};
static const int8_t FML_WINO2_START[9] = {0, 4, 6, 10, 12, 13, 15, 19, 21};
static const int8_t FML_WINO2_LEN[9] = {4, 2, 4, 2, 1, 2, 4, 2, 4};
typedef void (*fml_wino2_in_f32)(const float *xn, int64_t sv, int64_t ci, int64_t h, int64_t w,
                                 int64_t ph0, int64_t pw0, int64_t th, int64_t tw, float *V,
                                 int64_t ldv, int64_t tile0);
typedef void (*fml_wino2_in_f64)(const double *xn, int64_t sv, int64_t ci, int64_t h, int64_t w,
                                 int64_t ph0, int64_t pw0, int64_t th, int64_t tw, double *V,
                                 int64_t ldv, int64_t tile0);
typedef void (*fml_wino2_out_f32)(const float *M, int64_t sm, int64_t oi, int64_t ldm, int64_t th,
                                  int64_t tw, int64_t tile0, float *y, int64_t ho, int64_t wo,
                                  float bias, int relu);
typedef void (*fml_wino2_out_f64)(const double *M, int64_t sm, int64_t oi, int64_t ldm, int64_t th,
                                  int64_t tw, int64_t tile0, double *y, int64_t ho, int64_t wo,
                                  double bias, int relu);

/* The flat run of 'same' 3x3 depthwise planes (conv_dw_impl.h DWFLAT3): the
 * largest plane it takes, one copy of a plane in its buffer (vector length
 * vl; a multiple of vl, at least nv*vl + 2w + vl + 2 for the nv vectors of
 * h*w pixels), and the buffer: three copies, starting at lanes 1, 0 and vl-1
 * of a vector. */
#define FML_CONV_DWFLAT_MAXHW 16384
/* planes whose DWFLAT3 masks fit in this many bytes get one entry per vector */
#define FML_CONV_DWFLAT_TAB_BYTES 16384
#define FML_CONV_DWFLAT_LEN(h, w, vl) (((h) * (w) + 3 * (w) + 3 * (vl)) / (vl) * (vl))
#define FML_CONV_DWFLAT_WORK(h, w, vl) (3 * FML_CONV_DWFLAT_LEN(h, w, vl) + ((w) + (vl) - 1) / (vl) * (vl) + 1)

/* The same for one input channel, 3x3 kernel, dilation 1 (conv_dw_impl.h);
 * tab, period, work: the column masks and buffer of a 'same' plane's flat run
 * (NULL: the row kernel; only levels with dw_flat use them). */
typedef void (*fml_conv_dw_rows3_f32)(const float *x, int64_t h, int64_t w, const float *wt,
                                      int64_t ph0, int64_t pw0, const uint32_t *mask,
                                      int64_t nvec, float *y, int64_t ho, int64_t wo,
                                      const float *bias, int relu, const float *tab,
                                      int64_t period, float *work);
typedef void (*fml_conv_dw_rows3_f64)(const double *x, int64_t h, int64_t w, const double *wt,
                                      int64_t ph0, int64_t pw0, const uint32_t *mask,
                                      int64_t nvec, double *y, int64_t ho, int64_t wo,
                                      const double *bias, int relu, const double *tab,
                                      int64_t period, double *work);

/* Weight-gradient tile with channels in lanes (conv_gwc_impl.h). */
typedef void (*fml_conv_gwc_f32)(int64_t nq, const float *gt, const float *x, const int64_t *off,
                                 int64_t nk, double *out, int64_t ldo, int64_t m);
typedef void (*fml_conv_gwc_f64)(int64_t nq, const double *gt, const double *x,
                                 const int64_t *off, int64_t nk, double *out, int64_t ldo,
                                 int64_t m);

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
    fml_conv_ctile_f32 ukr;
    int64_t mr, nr;            /* tile: mr flat pixels x nr output channels */
} fml_conv_ctile_desc_f32;

typedef struct {
    fml_conv_ctile_f64 ukr;
    int64_t mr, nr;
} fml_conv_ctile_desc_f64;

typedef struct {
    fml_conv_pgemm_f32 ukr;
    fml_conv_pgpack_f32 pack;
    int64_t mr, nr;            /* tile: mr channels x nr packed pixels */
    /* the same over the first mr_short rows of a tile packed for mr (a last
     * channel tile with at most mr_short channels: fewer wasted products) */
    fml_conv_pgemm_f32 ukr_short;
    int64_t mr_short;
} fml_conv_pgemm_desc_f32;

typedef struct {
    fml_conv_pgemm_f64 ukr;
    fml_conv_pgpack_f64 pack;
    int64_t mr, nr;
    fml_conv_pgemm_f64 ukr_short;
    int64_t mr_short;
} fml_conv_pgemm_desc_f64;

typedef struct {
    const char *name;
    fml_conv_ctile_desc_f32 ctile_f32;     /* channels in lanes (short / strided rows) */
    fml_conv_ctile_desc_f64 ctile_f64;
    fml_conv_tile_f32 dense_f32, dw_f32;   /* dense: many channels; dw: one channel */
    fml_conv_tile_f64 dense_f64, dw_f64;
    fml_conv_pgemm_desc_f32 pgemm_f32;     /* dense, pixels packed per panel */
    fml_conv_pgemm_desc_f64 pgemm_f64;
    fml_pool_max_f32 pool_max_f32;
    fml_pool_max_f64 pool_max_f64;
    int64_t pool_nv;                       /* vectors per pooling tile */
    fml_pool_max_rows_f32 pool_max_rows_f32;
    fml_pool_max_rows_f64 pool_max_rows_f64;
    fml_conv_gwc_f32 gwc_f32;
    fml_conv_gwc_f64 gwc_f64;
    int64_t gwc_m, gwc_nr_f32, gwc_nr_f64;  /* taps x channels of the lanes tile */
    fml_affine_row_f32 affine_row_f32;
    fml_affine_row_f64 affine_row_f64;
    fml_conv_dw_rows_f32 dw_rows_f32;
    fml_conv_dw_rows_f64 dw_rows_f64;
    fml_conv_dw_rows3_f32 dw_rows3_f32;
    fml_conv_dw_rows3_f64 dw_rows3_f64;
    int dw_flat;                           /* dw_rows3 has the flat run (takes tab, work) */
    fml_wino_copy_f32 wino_copy_f32;
    fml_wino_copy_f64 wino_copy_f64;
    fml_wino_in_f32 wino_in_f32;
    fml_wino_in_f64 wino_in_f64;
    fml_wino_out_f32 wino_out_f32;
    fml_wino_out_f64 wino_out_f64;
    fml_wino2_in_f32 wino2_in_f32;
    fml_wino2_in_f64 wino2_in_f64;
    fml_wino2_out_f32 wino2_out_f32;
    fml_wino2_out_f64 wino2_out_f64;
    fml_conv_copy_f32 copy_band_f32;
    fml_conv_copy_f64 copy_band_f64;
} fml_conv_kernels;

void fml_conv_kernels_scalar(fml_conv_kernels *t);
void fml_conv_kernels_avx2(fml_conv_kernels *t);
void fml_conv_kernels_avx512(fml_conv_kernels *t);

/* The kernels selected by fml_conv_init. */
const fml_conv_kernels *fml_conv_kernels_get(void);

#endif
