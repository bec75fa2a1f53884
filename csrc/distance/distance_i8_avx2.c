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

/* acc[2 r + h] (r < 4 rows, h: columns 8h..8h+7) = sum_p u[r][p] * y'[col][p]
 * - csum[col] (the accumulators start at -csum: the offset's term comes off
 * for free) */
static inline void tile_4x16(const uint8_t *a, int64_t kp, const int8_t *b, const int32_t *cs,
                             __m256i acc[8])
{
    const __m256i ones = _mm256_set1_epi16(1);
    const __m256i z = _mm256_setzero_si256();
    __m256i c0 = _mm256_sub_epi32(z, _mm256_loadu_si256((const __m256i *)cs));
    __m256i c1 = _mm256_sub_epi32(z, _mm256_loadu_si256((const __m256i *)(cs + 8)));
    __m256i c2 = c0, c3 = c1, c4 = c0, c5 = c1, c6 = c0, c7 = c1;
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

/* The coarse thresholds of rows i..i+3 (nr real): the heap root plus the row's
 * largest error term (emax >= alpha rho_j + eps bn_j), -inf for rows past nr or
 * overflowed; and their sig (0 for those). */
static inline void row_terms(const fml_i8_task *t, int64_t i, int64_t nr, float thr[4], float sig[4])
{
    for (int64_t r = 0; r < 4; r++) {
        const int live = r < nr && !t->cand.overflow[i + r];
        thr[r] = live ? t->cand.hv[(i + r) * t->cand.k] + t->emax[i + r] : -INFINITY;
        sig[r] = live ? t->sig[i + r] : 0.0f;
    }
}

/* The 4 x 16 tile acc at rows i.., columns j..j+15: every lane's coarse bound
 * against its row's threshold, without branches; the rare tile with a hit
 * goes to row_hits lane group by lane group.  Returns whether it had one (the
 * thresholds are then stale). */
static inline int scan_tile(const fml_i8_task *t, int64_t i, int64_t j, const __m256i acc[8],
                            const float thr[4], const float sig[4])
{
    const __m256 tq0 = _mm256_loadu_ps(t->tq + j), tq1 = _mm256_loadu_ps(t->tq + j + 8);
    const __m256 bl0 = _mm256_loadu_ps(t->bias_lo + j), bl1 = _mm256_loadu_ps(t->bias_lo + j + 8);
    __m256 v[8], any = _mm256_setzero_ps();
    for (int64_t r = 0; r < 4; r++) {
        const __m256 th = _mm256_broadcast_ss(thr + r), sg = _mm256_broadcast_ss(sig + r);
        v[2 * r] = _mm256_fmadd_ps(sg, _mm256_mul_ps(_mm256_cvtepi32_ps(acc[2 * r]), tq0), bl0);
        v[2 * r + 1] = _mm256_fmadd_ps(sg, _mm256_mul_ps(_mm256_cvtepi32_ps(acc[2 * r + 1]), tq1), bl1);
        any = _mm256_or_ps(any, _mm256_or_ps(_mm256_cmp_ps(v[2 * r], th, _CMP_LE_OQ),
                                             _mm256_cmp_ps(v[2 * r + 1], th, _CMP_LE_OQ)));
    }
    if (__builtin_expect(_mm256_movemask_ps(any) == 0, 1)) return 0;
    for (int64_t r = 0; r < 4; r++) {
        const __m256 th = _mm256_broadcast_ss(thr + r);
        for (int h = 0; h < 2; h++) {
            const unsigned bits = (unsigned)_mm256_movemask_ps(_mm256_cmp_ps(v[2 * r + h], th, _CMP_LE_OQ));
            if (bits == 0) continue;
            const __m256 f = _mm256_mul_ps(_mm256_cvtepi32_ps(acc[2 * r + h]), h ? tq1 : tq0);
            row_hits(t, i + r, j + 8 * h, bits, v[2 * r + h], f);
        }
    }
    return 1;
}

void fml_distance_i8_task_avx2(const fml_i8_task *t)
{
    const int64_t kp = t->kp, rows = t->m - t->i0 < t->mb ? t->m - t->i0 : t->mb;
    for (int64_t jc = 0; jc < t->np; jc += FML_I8_CHUNK) {
        const int64_t jc1 = jc + FML_I8_CHUNK < t->np ? jc + FML_I8_CHUNK : t->np;
        for (int64_t r0 = 0; r0 < rows; r0 += 4) {
            const int64_t i = t->i0 + r0, nr = rows - r0 < 4 ? rows - r0 : 4;
            const uint8_t *a = t->apack + i * kp;
            float thr[4], sig[4];
            row_terms(t, i, nr, thr, sig);
            for (int64_t j = jc; j < jc1; j += 16) {
                __m256i acc[8];
                tile_4x16(a, kp, t->bpack + j * kp, t->csum + j, acc);
                if (scan_tile(t, i, j, acc, thr, sig)) row_terms(t, i, nr, thr, sig);
            }
        }
    }
}

/* The lanes of tile acc (rows i.., columns j..j+15) whose lower bound
 * lo = bias_lo + sig (t y'.x') - (alpha rho + eps bn) is <= thr, as 16-bit
 * masks per row, computed as v <= thr + err without a branch. */
static inline void below_tile(const fml_i8_task *t, int64_t i, int64_t nr, int64_t j,
                              const __m256i acc[8], const float *thr, uint16_t *below,
                              int64_t npan)
{
    const __m256 tq0 = _mm256_loadu_ps(t->tq + j), tq1 = _mm256_loadu_ps(t->tq + j + 8);
    const __m256 bl0 = _mm256_loadu_ps(t->bias_lo + j), bl1 = _mm256_loadu_ps(t->bias_lo + j + 8);
    const __m256 rh0 = _mm256_loadu_ps(t->rho + j), rh1 = _mm256_loadu_ps(t->rho + j + 8);
    const __m256 bn0 = _mm256_loadu_ps(t->bn + j), bn1 = _mm256_loadu_ps(t->bn + j + 8);
    for (int64_t r = 0; r < nr; r++) {
        const __m256 sg = _mm256_broadcast_ss(t->sig + i + r), th = _mm256_broadcast_ss(thr + i + r);
        const __m256 al = _mm256_broadcast_ss(t->alpha + i + r), ep = _mm256_broadcast_ss(t->eps + i + r);
        const __m256 v0 = _mm256_fmadd_ps(sg, _mm256_mul_ps(_mm256_cvtepi32_ps(acc[2 * r]), tq0), bl0);
        const __m256 v1 = _mm256_fmadd_ps(sg, _mm256_mul_ps(_mm256_cvtepi32_ps(acc[2 * r + 1]), tq1), bl1);
        const __m256 t0 = _mm256_fmadd_ps(al, rh0, _mm256_fmadd_ps(ep, bn0, th));
        const __m256 t1 = _mm256_fmadd_ps(al, rh1, _mm256_fmadd_ps(ep, bn1, th));
        const unsigned m0 = (unsigned)_mm256_movemask_ps(_mm256_cmp_ps(v0, t0, _CMP_LE_OQ));
        const unsigned m1 = (unsigned)_mm256_movemask_ps(_mm256_cmp_ps(v1, t1, _CMP_LE_OQ));
        below[(i + r) * npan + j / 16] = (uint16_t)(m0 | m1 << 8);
    }
}

void fml_distance_i8_below_avx2(const fml_i8_task *t, const float *thr, uint16_t *below)
{
    const int64_t kp = t->kp, rows = t->m - t->i0 < t->mb ? t->m - t->i0 : t->mb;
    const int64_t npan = t->np / 16;
    for (int64_t jc = 0; jc < t->np; jc += FML_I8_CHUNK) {
        const int64_t jc1 = jc + FML_I8_CHUNK < t->np ? jc + FML_I8_CHUNK : t->np;
        for (int64_t r0 = 0; r0 < rows; r0 += 4) {
            const int64_t i = t->i0 + r0, nr = rows - r0 < 4 ? rows - r0 : 4;
            const uint8_t *a = t->apack + i * kp;
            for (int64_t j = jc; j < jc1; j += 16) {
                __m256i acc[8];
                tile_4x16(a, kp, t->bpack + j * kp, t->csum + j, acc);
                below_tile(t, i, nr, j, acc, thr, below, npan);
            }
        }
    }
}

/* The point estimates v = bias_lo + sig (t y'.x') of the keys of rows i.. (nr
 * real) at columns j..j+15 into v (row stride np), and their running argmin:
 * per row one vector of lane minima and their columns (strict <: the first
 * column of a lane wins). */
static inline void estimate_tile(const fml_i8_task *t, int64_t i, int64_t nr, int64_t j,
                                 const __m256i acc[8], float *v, __m256 vmin[4], __m256i vidx[4])
{
    const __m256 tq0 = _mm256_loadu_ps(t->tq + j), tq1 = _mm256_loadu_ps(t->tq + j + 8);
    const __m256 bl0 = _mm256_loadu_ps(t->bias_lo + j), bl1 = _mm256_loadu_ps(t->bias_lo + j + 8);
    const __m256i j0 = _mm256_add_epi32(_mm256_set1_epi32((int32_t)j),
                                        _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
    const __m256i j1 = _mm256_add_epi32(j0, _mm256_set1_epi32(8));
    for (int64_t r = 0; r < nr; r++) {
        const __m256 sg = _mm256_broadcast_ss(t->sig + i + r);
        const __m256 v0 = _mm256_fmadd_ps(sg, _mm256_mul_ps(_mm256_cvtepi32_ps(acc[2 * r]), tq0), bl0);
        const __m256 v1 = _mm256_fmadd_ps(sg, _mm256_mul_ps(_mm256_cvtepi32_ps(acc[2 * r + 1]), tq1), bl1);
        _mm256_storeu_ps(v + (i + r) * t->np + j, v0);
        _mm256_storeu_ps(v + (i + r) * t->np + j + 8, v1);
        const __m256 lt0 = _mm256_cmp_ps(v0, vmin[r], _CMP_LT_OQ);
        __m256 m = _mm256_blendv_ps(vmin[r], v0, lt0);
        __m256i x = _mm256_castps_si256(_mm256_blendv_ps(_mm256_castsi256_ps(vidx[r]),
                                                         _mm256_castsi256_ps(j0), lt0));
        const __m256 lt1 = _mm256_cmp_ps(v1, m, _CMP_LT_OQ);
        vmin[r] = _mm256_blendv_ps(m, v1, lt1);
        vidx[r] = _mm256_castps_si256(_mm256_blendv_ps(_mm256_castsi256_ps(x),
                                                       _mm256_castsi256_ps(j1), lt1));
    }
}

void fml_distance_i8_estimate_avx2(const fml_i8_task *t, float *v, int32_t *arg)
{
    const int64_t kp = t->kp, rows = t->m - t->i0 < t->mb ? t->m - t->i0 : t->mb;
    for (int64_t r0 = 0; r0 < rows; r0 += 4) {
        const int64_t i = t->i0 + r0, nr = rows - r0 < 4 ? rows - r0 : 4;
        const uint8_t *a = t->apack + i * kp;
        __m256 vmin[4];
        __m256i vidx[4];
        for (int r = 0; r < 4; r++) {
            vmin[r] = _mm256_set1_ps(INFINITY);
            vidx[r] = _mm256_setzero_si256();
        }
        for (int64_t j = 0; j < t->np; j += 16) {
            __m256i acc[8];
            tile_4x16(a, kp, t->bpack + j * kp, t->csum + j, acc);
            estimate_tile(t, i, nr, j, acc, v, vmin, vidx);
        }
        for (int64_t r = 0; r < nr; r++) {
            float mv[8];
            int32_t mi[8];
            _mm256_storeu_ps(mv, vmin[r]);
            _mm256_storeu_si256((__m256i *)mi, vidx[r]);
            int l = 0;
            for (int q = 1; q < 8; q++)
                if (mv[q] < mv[l]) l = q;
            arg[i + r] = mi[l];
        }
    }
}

void fml_distance_i8_below_of_avx2(const fml_i8_task *t, const float *v, const float *thr,
                                   uint16_t *below)
{
    const int64_t rows = t->m - t->i0 < t->mb ? t->m - t->i0 : t->mb, npan = t->np / 16;
    for (int64_t i = t->i0; i < t->i0 + rows; i++) {
        const __m256 al = _mm256_broadcast_ss(t->alpha + i), ep = _mm256_broadcast_ss(t->eps + i);
        const __m256 th = _mm256_broadcast_ss(thr + i);
        for (int64_t j = 0; j < t->np; j += 8) {
            const __m256 te = _mm256_fmadd_ps(al, _mm256_loadu_ps(t->rho + j),
                                              _mm256_fmadd_ps(ep, _mm256_loadu_ps(t->bn + j), th));
            const unsigned m = (unsigned)_mm256_movemask_ps(
                _mm256_cmp_ps(_mm256_loadu_ps(v + i * t->np + j), te, _CMP_LE_OQ));
            uint16_t *dst = below + i * npan + j / 16;
            *dst = (j & 8) ? (uint16_t)(*dst | m << 8) : (uint16_t)m;
        }
    }
}
