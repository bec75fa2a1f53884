/* distance_i8_pack.c: rows and column panels of the int8 candidate search
 * (distance_i8.h), for float and double input; plain C, any CPU.  Shared by
 * knn (distance_i8_impl.h) and the k-means assignment (kmeans_i8_impl.h). */
#include "distance/distance_i8.h"

#include <math.h>
#include <string.h>

#include "core/fml_dtype.h"

/* The int8 search runs only at the avx2 level: the quantisation loop uses
 * AVX2 where the compiler can target it per function (the rest stays plain). */
#if (defined(__x86_64__) || defined(__i386__)) && defined(__GNUC__) && !defined(FML_NO_X86_SIMD)
#include <immintrin.h>
#define FML_I8_PACK_SIMD 1
#define FML_I8_PACK_TARGET __attribute__((target("avx2")))
#else
#define FML_I8_PACK_SIMD 0
#define FML_I8_PACK_TARGET
#endif

float fml_i8_f32_down(double v)
{
    float f = (float)v;
    return (double)f > v ? nextafterf(f, -INFINITY) : f;
}

float fml_i8_f32_up(double v)
{
    float f = (float)v;
    return (double)f < v ? nextafterf(f, INFINITY) : f;
}

void fml_i8_emax(const fml_i8_cols *cols, int64_t n, const float *alpha, const float *eps,
                 int64_t m, float *emax)
{
    float rmax = 0, bmax = 0;
    for (int64_t j = 0; j < n; j++) {
        rmax = fmaxf(rmax, cols->rho[j]);
        bmax = fmaxf(bmax, cols->bn[j]);
    }
    for (int64_t i = 0; i < m; i++)
        emax[i] = fml_i8_f32_up(((double)alpha[i] * rmax + (double)eps[i] * bmax) * (1 + FML_I8_REL));
}

#define FT float
#define SFX f32
#define FML_I8_LOAD4(p) _mm256_cvtps_pd(_mm_loadu_ps(p))
#include "distance/distance_i8_pack_impl.h"
#include "core/fml_dtype_end.h"
#undef FML_I8_LOAD4

#define FT double
#define SFX f64
#define FML_I8_LOAD4(p) _mm256_loadu_pd(p)
#include "distance/distance_i8_pack_impl.h"
#include "core/fml_dtype_end.h"
#undef FML_I8_LOAD4
