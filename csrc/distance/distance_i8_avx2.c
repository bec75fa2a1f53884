/* distance_i8_avx2.c: the int8 candidate search of knn (see distance_i8.h),
 * compiled with the avx2 flags and called only at the avx2 level or above.
 *
 * A task walks its rows in tiles of 4 against 16-column panels: 8 int32
 * accumulators (4 rows x 2 vectors of 8 columns) over the whole kp, two
 * k-groups of 4 per step summed in int16 before the widening vpmaddwd; then each
 * row's 16 lower bounds are compared with its threshold while in registers.
 * A panel (16 x kp bytes) stays in L1 while the task's rows (in L2) pass it.
 */
#include "distance/distance_i8.h"

#include <immintrin.h>
#include <math.h>
#include <string.h>

#define FML_I8_CHUNK 512      /* columns per pass over the task's rows (64 KB at kp = 128) */


static inline __m256i bcast4(const uint8_t *p)
{
    int32_t v;
    memcpy(&v, p, sizeof(v));
    return _mm256_set1_epi32(v);
}

/* acc[2 r + h] (r < 4 rows, h: columns 8h..8h+7) = sum_p u[r][p] * y'[col][p] */
static inline void tile_4x16(const uint8_t *a, int64_t kp, const int8_t *b, __m256i acc[8])
{
    const __m256i ones = _mm256_set1_epi16(1);
    __m256i c0 = _mm256_setzero_si256(), c1 = c0, c2 = c0, c3 = c0, c4 = c0, c5 = c0, c6 = c0, c7 = c0;
    const uint8_t *a0 = a, *a1 = a + kp, *a2 = a + 2 * kp, *a3 = a + 3 * kp;
    for (int64_t p = 0; p < kp; p += 8, b += 128) {
        const __m256i b0 = _mm256_loadu_si256((const __m256i *)b);
        const __m256i b1 = _mm256_loadu_si256((const __m256i *)(b + 32));
        const __m256i b2 = _mm256_loadu_si256((const __m256i *)(b + 64));
        const __m256i b3 = _mm256_loadu_si256((const __m256i *)(b + 96));
#define FML_I8_ROW(ar, lo, hi)                                                                  \
    {                                                                                         \
        const __m256i x0 = bcast4(ar + p), x1 = bcast4(ar + p + 4);                           \
        lo = _mm256_add_epi32(lo, _mm256_madd_epi16(_mm256_add_epi16(_mm256_maddubs_epi16(x0, b0), \
                                                                     _mm256_maddubs_epi16(x1, b2)), \
                                                    ones));                                   \
        hi = _mm256_add_epi32(hi, _mm256_madd_epi16(_mm256_add_epi16(_mm256_maddubs_epi16(x0, b1), \
                                                                     _mm256_maddubs_epi16(x1, b3)), \
                                                    ones));                                   \
    }
        FML_I8_ROW(a0, c0, c1)
        FML_I8_ROW(a1, c2, c3)
        FML_I8_ROW(a2, c4, c5)
        FML_I8_ROW(a3, c6, c7)
#undef FML_I8_ROW
    }
    acc[0] = c0, acc[1] = c1, acc[2] = c2, acc[3] = c3;
    acc[4] = c4, acc[5] = c5, acc[6] = c6, acc[7] = c7;
}

/* Row i's lanes `bits` (columns j..j+7) that passed the coarse compare: their
 * exact lower bounds against the threshold, then distance_cand.h. */
static void row_hits(const fml_i8_task *t, int64_t i, int64_t j, unsigned bits, __m256 v, __m256 f)
{
    const __m256 err = _mm256_fmadd_ps(_mm256_set1_ps(t->alpha[i]), _mm256_loadu_ps(t->rho + j),
                                       _mm256_mul_ps(_mm256_set1_ps(t->eps[i]), _mm256_loadu_ps(t->bn + j)));
    float lv[8], fv[8], ev[8];
    _mm256_storeu_ps(lv, _mm256_sub_ps(v, err));
    _mm256_storeu_ps(fv, f);
    _mm256_storeu_ps(ev, err);
    const float *hv = t->cand.hv + i * t->cand.k, sig = t->sig[i];
    while (bits && !t->cand.overflow[i]) {
        const int l = __builtin_ctz(bits);
        bits &= bits - 1;
        if (!(lv[l] <= hv[0])) continue;              /* not close enough, or the root moved */
        fml_cand_add(&t->cand, i, j + l, lv[l], (t->bias_hi[j + l] + sig * fv[l]) + ev[l]);
    }
}

/* Row i of a tile: lanes acc0 (columns j..j+7), acc1 (j+8..j+15).  The coarse
 * compare takes the row's largest error term (emax >= alpha rho_j + eps bn_j). */
static inline void scan_row(const fml_i8_task *t, int64_t i, int64_t j, __m256i acc0, __m256i acc1)
{
    const __m256 thr = _mm256_set1_ps(t->cand.hv[i * t->cand.k] + t->emax[i]);
    const __m256 sig = _mm256_set1_ps(t->sig[i]);
    __m256i acc[2] = {acc0, acc1};
    for (int h = 0; h < 2; h++) {
        const int64_t jh = j + 8 * h;
        const __m256i q = _mm256_sub_epi32(acc[h], _mm256_loadu_si256((const __m256i *)(t->csum + jh)));
        const __m256 f = _mm256_mul_ps(_mm256_cvtepi32_ps(q), _mm256_loadu_ps(t->tq + jh));
        const __m256 v = _mm256_fmadd_ps(sig, f, _mm256_loadu_ps(t->bias_lo + jh));
        const unsigned bits = (unsigned)_mm256_movemask_ps(_mm256_cmp_ps(v, thr, _CMP_LE_OQ));
        if (__builtin_expect(bits != 0, 0)) row_hits(t, i, jh, bits, v, f);
    }
}

void fml_distance_i8_task_avx2(const fml_i8_task *t)
{
    const int64_t kp = t->kp, rows = t->m - t->i0 < t->mb ? t->m - t->i0 : t->mb;
    for (int64_t jc = 0; jc < t->np; jc += FML_I8_CHUNK) {
        const int64_t jc1 = jc + FML_I8_CHUNK < t->np ? jc + FML_I8_CHUNK : t->np;
        for (int64_t r0 = 0; r0 < rows; r0 += 4) {
            const int64_t i = t->i0 + r0, nr = rows - r0 < 4 ? rows - r0 : 4;
            const uint8_t *a = t->apack + i * kp;
            for (int64_t j = jc; j < jc1; j += 16) {
                __m256i acc[8];
                tile_4x16(a, kp, t->bpack + j * kp, acc);
                for (int64_t r = 0; r < nr; r++)
                    if (!t->cand.overflow[i + r]) scan_row(t, i + r, j, acc[2 * r], acc[2 * r + 1]);
            }
        }
    }
}
