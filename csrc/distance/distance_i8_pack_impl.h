/* distance_i8_pack_impl.h: the quantisation and packing of the int8 candidate
 * search (contracts in distance_i8.h), dtype-generic.  No include guard:
 * included by distance_i8_pack.c once per dtype with FT and SFX set. */

/* Row r (d values) quantised to q (kp values, zero past d) with the float step
 * *step: q = r / step rounded to nearest, in [-FML_I8_Q, FML_I8_Q].  Returns
 * ||r - step q|| and sets *qn = ||step q|| and *rn = ||r|| (float64).  Any
 * integer q is valid (the bounds use the q chosen), so the loops are written
 * to vectorise: four partial sums, rounding by the 1.5 * 2^52 shift (exact for
 * |v| < 2^51), no branch and no libm call. */
FML_I8_PACK_TARGET static double FML_T(quantise)(const FT *r, int64_t d, int64_t kp, int8_t *q,
                                                 float *step, double *qn, double *rn)
{
    double am[4] = {0, 0, 0, 0};
    int64_t p = 0;
    for (; p + 4 <= d; p += 4)
        for (int l = 0; l < 4; l++) {
            const double a = fabs((double)r[p + l]);
            am[l] = a > am[l] ? a : am[l];
        }
    for (; p < d; p++) {
        const double a = fabs((double)r[p]);
        am[0] = a > am[0] ? a : am[0];
    }
    double amax = am[0] > am[1] ? am[0] : am[1];
    amax = am[2] > amax ? am[2] : amax;
    amax = am[3] > amax ? am[3] : amax;
    float s = amax > 0 ? (float)(amax / FML_I8_Q) : 1.0f;
    if (s == 0) s = 0x1p-149f;                        /* amax below 63 * the least float */
    /* |r * inv| <= amax / s <= 63 (1 + 2^-23): the rounding stays in range */
    const double inv = 1.0 / (double)s, sd = (double)s, shift = 0x1.8p52;
    double e2[4] = {0, 0, 0, 0}, q2[4] = {0, 0, 0, 0}, r2[4] = {0, 0, 0, 0};
    for (p = 0; p + 4 <= d; p += 4)
        for (int l = 0; l < 4; l++) {
            const double x = (double)r[p + l], qd = (x * inv + shift) - shift;
            q[p + l] = (int8_t)(int)qd;
            const double back = sd * qd, diff = x - back;
            e2[l] += diff * diff;
            q2[l] += back * back;
            r2[l] += x * x;
        }
    for (; p < d; p++) {
        const double x = (double)r[p], qd = (x * inv + shift) - shift;
        q[p] = (int8_t)(int)qd;
        const double back = sd * qd, diff = x - back;
        e2[0] += diff * diff;
        q2[0] += back * back;
        r2[0] += x * x;
    }
    for (p = d; p < kp; p++) q[p] = 0;
    *step = s;
    *qn = sqrt((q2[0] + q2[1]) + (q2[2] + q2[3]));
    *rn = sqrt((r2[0] + r2[1]) + (r2[2] + r2[3]));
    return sqrt((e2[0] + e2[1]) + (e2[2] + e2[3]));
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
