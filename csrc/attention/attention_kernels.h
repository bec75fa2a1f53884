/* attention_kernels.h: the per-ISA pieces of the attention family (dispatch
 * table), filled once per SIMD level by attention_{scalar,avx2,avx512}.c.
 *
 * Two register-tiled micro-kernels (same broadcast-A x vector-B tile as the
 * core GEMM, fml_gemm_ukr_impl.h), differing only in how they read A:
 *
 *   ukr      A(i, p) = a[i + p*acs]             acs = MR: a packed A panel (Q);
 *                                                acs = tile leading dim: the
 *                                                transpose of a row-major tile
 *   ukr_rowa A(i, p) = a[i*FML_ATTN_TILE_LD + p] a row-major score tile, read
 *                                                in place (P V, dS K)
 *
 *   B(p, j) = b[p*ldb + j] for p < k, j < NR: packed NR-wide panels (ldb = NR),
 *   or rows read in place (ldb = the row stride; all NR columns must be readable).
 *   C[i, j] = c[i*ldc + j]; only i < m <= MR, j < n <= NR are written.
 *   accumulate == 0: C = A B and C is never read; != 0: C += A B.
 *   No alignment requirement on any pointer.  k may be 0.
 *
 * Row kernels (n >= 0 elements, vectorised with masked or copied tails):
 * exponentials are polynomial (no libm), relative error about 2 ulp in float32
 * and float64; see attention_rows_impl.h.
 */
#ifndef FML_ATTENTION_KERNELS_H
#define FML_ATTENTION_KERNELS_H

#include <stdint.h>

/* Leading dimension (elements) of every score tile; a key block is at most
 * FML_ATTN_TILE_LD - 16 keys.  Compile-time so that ukr_rowa addresses the
 * rows of A with constant displacements (one pointer register for all MR rows).
 * Not a power of two: rows of a tile do not alias in L1. */
#define FML_ATTN_TILE_LD 272

/* One SIMD level's attention kernels for one dtype. */
typedef struct {
    const char *name;                    /* e.g. "attn_14x32_f32__avx512" */
    int64_t mr, nr;                      /* register tile of both micro-kernels */
    void (*ukr)(int64_t k, const float *a, int64_t acs, const float *b, int64_t ldb, float *c,
                int64_t ldc, int64_t m, int64_t n, int accumulate);
    void (*ukr_rowa)(int64_t k, const float *a, const float *b, int64_t ldb, float *c,
                     int64_t ldc, int64_t m, int64_t n, int accumulate);
    float (*row_max)(const float *x, int64_t n);                       /* -inf if n == 0 */
    float (*row_add_max)(float *x, const float *mask, float c, int64_t n); /* x += c*mask; max */
    float (*row_exp2_sum)(float *x, float m, int64_t n);     /* x = exp2(x - m); sum (m finite) */
    void (*row_exp2)(float *x, float m, int64_t n);          /* x = exp2(x - m), no sum */
    void (*row_scale)(float *x, float a, int64_t n);         /* x *= a */
    /* online-softmax step for whole rows of a tile (contract at the body) */
    void (*online_rows)(float *x, int64_t ld, int64_t rows, int64_t n, float *m, float *l,
                        float *acc, int64_t ldacc, int64_t nacc);
    void (*row_dsoftmax)(float *x, const float *p, float d, int64_t n); /* x = p * (x - d) */
    float (*row_dot)(const float *x, const float *y, int64_t n);        /* sum x*y */
    void (*row_scale_copy)(float *y, const float *x, float a, int64_t n); /* y = a*x */
    /* K (S x E) into NR-key panels of K^T (E x NR each, keys past S zero) */
    void (*pack_kt)(int64_t S, int64_t E, const float *k, int64_t ldk, float *dst);
    /* V (S x Ev) into NR-column panels (S x NR each, columns past Ev zero) */
    void (*pack_v)(int64_t S, int64_t Ev, const float *v, int64_t ldv, float *dst);
    /* standalone rows (transformer.c); contracts at the bodies in attention_rows_impl.h */
    void (*row_softmax)(const float *x, float *y, int64_t n, int log_out);
    void (*row_moments)(const float *x, int64_t n, double eps, double *mean, double *rstd);
    void (*row_normalize)(const float *x, float *y, int64_t n, double mean, double rstd,
                          const float *w, const float *b);
    void (*row_layer_norm_bwd)(const float *x, const float *dy, const float *w, int64_t n,
                               double mean, double rstd, float *dx, double *dw, double *db);
    void (*row_gelu_tanh)(const float *x, float *y, int64_t n);
    void (*row_gelu_erf)(const float *x, float *y, int64_t n);       /* exact GELU */
    void (*row_dropout)(const float *x, float *y, int64_t n, uint64_t row_key, int64_t j0,
                        uint32_t threshold, float scale);
} fml_attention_kernels_f32;

typedef struct {
    const char *name;
    int64_t mr, nr;
    void (*ukr)(int64_t k, const double *a, int64_t acs, const double *b, int64_t ldb,
                double *c, int64_t ldc, int64_t m, int64_t n, int accumulate);
    void (*ukr_rowa)(int64_t k, const double *a, const double *b, int64_t ldb, double *c,
                     int64_t ldc, int64_t m, int64_t n, int accumulate);
    double (*row_max)(const double *x, int64_t n);
    double (*row_add_max)(double *x, const double *mask, double c, int64_t n);
    double (*row_exp2_sum)(double *x, double m, int64_t n);
    void (*row_exp2)(double *x, double m, int64_t n);
    void (*row_scale)(double *x, double a, int64_t n);
    void (*online_rows)(double *x, int64_t ld, int64_t rows, int64_t n, double *m, double *l,
                        double *acc, int64_t ldacc, int64_t nacc);
    void (*row_dsoftmax)(double *x, const double *p, double d, int64_t n);
    double (*row_dot)(const double *x, const double *y, int64_t n);
    void (*row_scale_copy)(double *y, const double *x, double a, int64_t n);
    void (*pack_kt)(int64_t S, int64_t E, const double *k, int64_t ldk, double *dst);
    void (*pack_v)(int64_t S, int64_t Ev, const double *v, int64_t ldv, double *dst);
    /* standalone rows (transformer.c); contracts at the bodies in attention_rows_impl.h */
    void (*row_softmax)(const double *x, double *y, int64_t n, int log_out);
    void (*row_moments)(const double *x, int64_t n, double eps, double *mean, double *rstd);
    void (*row_normalize)(const double *x, double *y, int64_t n, double mean, double rstd,
                          const double *w, const double *b);
    void (*row_layer_norm_bwd)(const double *x, const double *dy, const double *w, int64_t n,
                               double mean, double rstd, double *dx, double *dw, double *db);
    void (*row_gelu_tanh)(const double *x, double *y, int64_t n);
    void (*row_gelu_erf)(const double *x, double *y, int64_t n);
    void (*row_dropout)(const double *x, double *y, int64_t n, uint64_t row_key, int64_t j0,
                        uint32_t threshold, double scale);
} fml_attention_kernels_f64;

void fml_attention_kernels_scalar(fml_attention_kernels_f32 *k32, fml_attention_kernels_f64 *k64);
void fml_attention_kernels_avx2(fml_attention_kernels_f32 *k32, fml_attention_kernels_f64 *k64);
void fml_attention_kernels_avx512(fml_attention_kernels_f32 *k32, fml_attention_kernels_f64 *k64);

/* Select the kernels of `level` (fml_cpu.h) for this module; returns the level used. */
int fml_attention_init(int level);
const fml_attention_kernels_f32 *fml_attention_kernels_get_f32(void);
const fml_attention_kernels_f64 *fml_attention_kernels_get_f64(void);

#endif
