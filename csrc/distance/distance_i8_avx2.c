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

/* The 4 x 16 tile acc at rows i.. (nr of them real), columns j..j+15: every
 * lane's coarse bound first (the column terms loaded once, no branch), then the
 * rows with hits.  The coarse compare takes the row's largest error term
 * (emax >= alpha rho_j + eps bn_j); rows past nr or overflowed get -inf. */
static inline void scan_tile(const fml_i8_task *t, int64_t i, int64_t nr, int64_t j,
                             const __m256i acc[8])
{
    const __m256i cs0 = _mm256_loadu_si256((const __m256i *)(t->csum + j));
    const __m256i cs1 = _mm256_loadu_si256((const __m256i *)(t->csum + j + 8));
    const __m256 tq0 = _mm256_loadu_ps(t->tq + j), tq1 = _mm256_loadu_ps(t->tq + j + 8);
    const __m256 bl0 = _mm256_loadu_ps(t->bias_lo + j), bl1 = _mm256_loadu_ps(t->bias_lo + j + 8);
    __m256 v[8], f[8];
    uint64_t bits = 0;
    for (int64_t r = 0; r < 4; r++) {
        const int live = r < nr && !t->cand.overflow[i + r];
        const __m256 thr = _mm256_set1_ps(live ? t->cand.hv[(i + r) * t->cand.k] + t->emax[i + r]
                                               : -INFINITY);
        const __m256 sig = _mm256_set1_ps(live ? t->sig[i + r] : 0.0f);
        f[2 * r] = _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_sub_epi32(acc[2 * r], cs0)), tq0);
        f[2 * r + 1] = _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_sub_epi32(acc[2 * r + 1], cs1)), tq1);
        v[2 * r] = _mm256_fmadd_ps(sig, f[2 * r], bl0);
        v[2 * r + 1] = _mm256_fmadd_ps(sig, f[2 * r + 1], bl1);
        const unsigned m0 = (unsigned)_mm256_movemask_ps(_mm256_cmp_ps(v[2 * r], thr, _CMP_LE_OQ));
        const unsigned m1 = (unsigned)_mm256_movemask_ps(_mm256_cmp_ps(v[2 * r + 1], thr, _CMP_LE_OQ));
        bits |= (uint64_t)(m0 | m1 << 8) << (16 * r);
    }
    if (__builtin_expect(bits == 0, 1)) return;
    for (int64_t r = 0; r < 4; r++) {
        const unsigned rb = (unsigned)(bits >> (16 * r)) & 0xffffu;
        if (rb & 0xffu) row_hits(t, i + r, j, rb & 0xffu, v[2 * r], f[2 * r]);
        if (rb >> 8) row_hits(t, i + r, j + 8, rb >> 8, v[2 * r + 1], f[2 * r + 1]);
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
                scan_tile(t, i, nr, j, acc);
            }
        }
    }
}
