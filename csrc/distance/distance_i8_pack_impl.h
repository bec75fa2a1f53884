/* distance_i8_pack_impl.h: the quantisation and packing of the int8 candidate
 * search (contracts in distance_i8.h), dtype-generic.  No include guard:
 * included by distance_i8_pack.c once per dtype with FT and SFX set. */

/* Row r (d values) quantised to q (kp values, zero past d) with the float step
 * *step: q = r / step rounded to nearest, in [-FML_I8_Q, FML_I8_Q].  Returns
 * ||r - step q|| and sets *qn = ||step q|| and *rn = ||r|| (float64).  Any
 * integer q is valid (the bounds use the q chosen): rounding by the 1.5 * 2^52
 * shift (exact for |v| < 2^51), four lanes of AVX2 where the build can. */
FML_I8_PACK_TARGET static double FML_T(quantise)(const FT *r, int64_t d, int64_t kp, int8_t *q,
                                                 float *step, double *qn, double *rn)
{
    int64_t p = 0;
    double amax = 0;
#if FML_I8_PACK_SIMD
    __m256d am = _mm256_setzero_pd();
    const __m256d sign = _mm256_set1_pd(-0.0);
    for (; p + 4 <= d; p += 4) am = _mm256_max_pd(am, _mm256_andnot_pd(sign, FML_I8_LOAD4(r + p)));
    double lane[4];
    _mm256_storeu_pd(lane, am);
    for (int l = 0; l < 4; l++) amax = lane[l] > amax ? lane[l] : amax;
#endif
    for (; p < d; p++) {
        const double a = fabs((double)r[p]);
        amax = a > amax ? a : amax;
    }
    float s = amax > 0 ? (float)(amax / FML_I8_Q) : 1.0f;
    if (s == 0) s = 0x1p-149f;                        /* amax below 63 * the least float */
    /* |r * inv| <= amax / s <= 63 (1 + 2^-23): the rounding stays in range */
    const double inv = 1.0 / (double)s, sd = (double)s, shift = 0x1.8p52;
    double e2 = 0, q2 = 0, r2 = 0;
    p = 0;
#if FML_I8_PACK_SIMD
    {
        const __m256d vinv = _mm256_set1_pd(inv), vs = _mm256_set1_pd(sd), vsh = _mm256_set1_pd(shift);
        __m256d ve = _mm256_setzero_pd(), vq = ve, vr = ve;
        for (; p + 4 <= d; p += 4) {
            const __m256d x = FML_I8_LOAD4(r + p);
            const __m256d qd = _mm256_sub_pd(_mm256_add_pd(_mm256_mul_pd(x, vinv), vsh), vsh);
            const __m128i qi = _mm256_cvtpd_epi32(qd);
            const int32_t bytes = _mm_cvtsi128_si32(_mm_packs_epi16(_mm_packs_epi32(qi, qi), qi));
            memcpy(q + p, &bytes, 4);
            const __m256d back = _mm256_mul_pd(vs, qd), diff = _mm256_sub_pd(x, back);
            ve = _mm256_add_pd(ve, _mm256_mul_pd(diff, diff));
            vq = _mm256_add_pd(vq, _mm256_mul_pd(back, back));
            vr = _mm256_add_pd(vr, _mm256_mul_pd(x, x));
        }
        double le[4], lq[4], lr[4];
        _mm256_storeu_pd(le, ve);
        _mm256_storeu_pd(lq, vq);
        _mm256_storeu_pd(lr, vr);
        e2 = (le[0] + le[1]) + (le[2] + le[3]);
        q2 = (lq[0] + lq[1]) + (lq[2] + lq[3]);
        r2 = (lr[0] + lr[1]) + (lr[2] + lr[3]);
    }
#endif
    for (; p < d; p++) {
        const double x = (double)r[p], qd = (x * inv + shift) - shift;
        q[p] = (int8_t)(int)qd;
        const double back = sd * qd, diff = x - back;
        e2 += diff * diff;
        q2 += back * back;
        r2 += x * x;
    }
    for (p = d; p < kp; p++) q[p] = 0;
    *step = s;
    *qn = sqrt(q2);
    *rn = sqrt(r2);
    return sqrt(e2);
}

double FML_T(fml_i8_pack_row)(const FT *r, int64_t d, int64_t kp, double scale, uint8_t *u,
                              float *sig, float *alpha, float *eps)
{
    if (r == NULL) {
        memset(u, FML_I8_Q, (size_t)kp);
        *sig = *alpha = *eps = 0;
        return 0;
    }
    int8_t *q = (int8_t *)u;                           /* quantised in place, then offset */
    float s;
    double qn, rn;
    const double e = FML_T(quantise)(r, d, kp, q, &s, &qn, &rn);
    for (int64_t p = 0; p < kp; p++) u[p] = (uint8_t)(q[p] + FML_I8_Q);
    *sig = (float)(scale * s);                         /* exact: scale is -1 or -2 */
    *alpha = fml_i8_f32_up(-scale * qn * (1 + FML_I8_REL));
    *eps = fml_i8_f32_up(-scale * e * (1 + FML_I8_REL));
    return rn;
}

void FML_T(fml_i8_pack_panel)(const FT *src, int64_t n, int64_t d, int64_t kp, int64_t jp,
                              const double *bias, const fml_i8_cols *cols)
{
    /* the error of the FT norms in bias, and the float32 arithmetic of the scan */
    const double dbias = (double)(d + 8) * 0x1p-24 + FML_I8_REL;
    int8_t row[FML_I8_MAX_D];
    for (int64_t jj = 0; jj < 16; jj++) {
        const int64_t j = jp * 16 + jj;
        float s = 0;
        double qn = 0, rn = 0, e = 0;
        if (j < n) e = FML_T(quantise)(src + j * d, d, kp, row, &s, &qn, &rn);
        else memset(row, 0, (size_t)kp);
        int32_t sum = 0;
        for (int64_t p = 0; p < kp; p++) {
            cols->bpack[(jp * (kp / 4) + p / 4) * 64 + (jj / 8) * 32 + (jj % 8) * 4 + p % 4] = row[p];
            sum += row[p];
        }
        cols->csum[j] = FML_I8_Q * sum;
        cols->tq[j] = s;
        if (j >= n) {
            cols->bias_lo[j] = INFINITY;
            cols->bias_hi[j] = cols->rho[j] = cols->bn[j] = 0;
            continue;
        }
        const double b = bias != NULL ? bias[j] : 0.0;
        cols->bias_lo[j] = fml_i8_f32_down(b - dbias * b - FML_I8_TINY);
        cols->bias_hi[j] = fml_i8_f32_up(b + dbias * b + FML_I8_TINY);
        cols->rho[j] = fml_i8_f32_up((e + FML_I8_REL * (rn + e)) * (1 + FML_I8_REL));
        cols->bn[j] = fml_i8_f32_up(rn * (1 + FML_I8_REL));
    }
}
