/* distance_i8_impl.h: knn through the int8 candidate search (distance_i8.h),
 * dtype-generic.  No include guard: included by distance_impl.h once per dtype,
 * after the AMX driver (it shares cand_finish). */

/* v rounded to float downwards / upwards (v finite) */
static inline float FML_T(f32_down)(double v)
{
    float f = (float)v;
    return (double)f > v ? nextafterf(f, -INFINITY) : f;
}

static inline float FML_T(f32_up)(double v)
{
    float f = (float)v;
    return (double)f < v ? nextafterf(f, INFINITY) : f;
}

/* Row r (d values) quantised to q (kp values, zero past d) with the float step
 * *step: q = round(r / step) in [-FML_I8_Q, FML_I8_Q].  Returns ||r - step q||
 * and sets *qn = ||step q|| and *rn = ||r|| (float64). */
static double FML_T(i8_quantise)(const FT *r, int64_t d, int64_t kp, int8_t *q, float *step,
                                 double *qn, double *rn)
{
    double amax = 0;
    for (int64_t p = 0; p < d; p++) amax = fmax(amax, fabs((double)r[p]));
    float s = amax > 0 ? (float)(amax / FML_I8_Q) : 1.0f;
    if (s == 0) s = 0x1p-149f;                        /* amax below 63 * the least float */
    double e2 = 0, q2 = 0, r2 = 0;
    for (int64_t p = 0; p < kp; p++) {
        if (p >= d) {
            q[p] = 0;
            continue;
        }
        double v = nearbyint((double)r[p] / (double)s);
        v = fmin(fmax(v, -FML_I8_Q), FML_I8_Q);
        q[p] = (int8_t)v;
        const double back = (double)s * v, diff = (double)r[p] - back;
        e2 += diff * diff;
        q2 += back * back;
        r2 += (double)r[p] * (double)r[p];
    }
    *step = s;
    *qn = sqrt(q2);
    *rn = sqrt(r2);
    return sqrt(e2);
}

/* knn of c (a GEMM metric other than kl, FML_I8_MIN_D <= d <= FML_I8_MAX_D, no
 * column split) with int8 products for the candidates.  Sets *ran = 0 (and
 * returns FML_OK) when the data do not suit it, before anything is written. */
static int FML_T(knn_i8)(CTX *c, FT *dist, int64_t *ind, int64_t n_threads, int *ran)
{
    const int64_t m = c->m, n = c->n, d = c->d, k = c->k;
    const int64_t kp = (d + 7) / 8 * 8, mp = (m + 3) / 4 * 4, np = (n + 15) / 16 * 16;
    const int64_t cap = FML_I8_CAP(k);
    *ran = 0;
    const FT *bsrc = NULL;
    int sq, fits;
    int st = FML_T(cand_prepare)(c, &bsrc, &sq, &fits, n_threads);
    if (st != FML_OK || !fits) return st;
    const double scale = sq ? -2.0 : -1.0;
    int ok = 1;
    uint8_t *apack = (uint8_t *)FML_T(alloc)(mp * kp, 1, &ok);
    int8_t *bpack = (int8_t *)FML_T(alloc)(np * kp, 1, &ok);
    int32_t *csum = (int32_t *)FML_T(alloc)(np, sizeof(int32_t), &ok);
    float *colf = (float *)FML_T(alloc)(5 * np, sizeof(float), &ok);
    float *rowf = (float *)FML_T(alloc)(4 * mp, sizeof(float), &ok);
    fml_cand_rows cand = {0};
    if (!FML_T(cand_alloc)(&cand, m, k, cap)) ok = 0;
    if (!ok) {
        st = FML_ENOMEM;
        goto done;
    }
    float *tq = colf, *bias_lo = colf + np, *bias_hi = colf + 2 * np, *rho = colf + 3 * np;
    float *bn = colf + 4 * np, *sig = rowf, *alpha = rowf + mp, *eps = rowf + 2 * mp;
    float *emax = rowf + 3 * mp;
    /* Slack rel for the float32 arithmetic between the exact integer product
     * and the compare (about six operations, each off by 2^-24 of magnitudes
     * below |bias| + |scale| ||s x'|| ||t y'||: rel = 2^-18 is 64 of those) and
     * for the FT rounding of the shifted rows; dbias adds the error of the FT
     * norms, tiny an absolute term for underflow. */
    const double rel = 0x1p-18, dbias = (double)(d + 8) * 0x1p-24 + rel, tiny = 0x1p-120;
    const int ntp = FML_T(prep_threads)(n_threads, FML_MAX(m, n), (double)(m + n) * (double)d);
    (void)ntp;
#pragma omp parallel num_threads(ntp)
    {
#pragma omp for schedule(static) nowait
        for (int64_t i = 0; i < mp; i++) {
            uint8_t *u = apack + i * kp;
            if (i >= m) {
                memset(u, FML_I8_Q, (size_t)kp);
                sig[i] = alpha[i] = eps[i] = 0;
                continue;
            }
            int8_t *q = (int8_t *)u;                     /* quantised in place, then offset */
            float s;
            double qn, rn;
            const double e = FML_T(i8_quantise)(c->a + i * d, d, kp, q, &s, &qn, &rn);
            for (int64_t p = 0; p < kp; p++) u[p] = (uint8_t)(q[p] + FML_I8_Q);
            sig[i] = (float)(scale * s);                  /* exact: scale is -1 or -2 */
            alpha[i] = FML_T(f32_up)(-scale * qn * (1 + rel));
            eps[i] = FML_T(f32_up)(-scale * e * (1 + rel));
        }
#pragma omp for schedule(static) nowait
        for (int64_t jp = 0; jp < np / 16; jp++) {
            int8_t row[FML_I8_MAX_D];
            for (int64_t jj = 0; jj < 16; jj++) {
                const int64_t j = jp * 16 + jj;
                float s = 0;
                double qn = 0, rn = 0, e = 0;
                if (j < n) e = FML_T(i8_quantise)(bsrc + j * d, d, kp, row, &s, &qn, &rn);
                else memset(row, 0, (size_t)kp);
                int32_t sum = 0;
                for (int64_t p = 0; p < kp; p++) {
                    bpack[(jp * (kp / 4) + p / 4) * 64 + (jj / 8) * 32 + (jj % 8) * 4 + p % 4] = row[p];
                    sum += row[p];
                }
                csum[j] = FML_I8_Q * sum;
                tq[j] = s;
                if (j >= n) {
                    bias_lo[j] = INFINITY;
                    bias_hi[j] = rho[j] = bn[j] = 0;
                    continue;
                }
                const double b = sq ? c->ny[j] : 0.0;
                bias_lo[j] = FML_T(f32_down)(b - dbias * b - tiny);
                bias_hi[j] = FML_T(f32_up)(b + dbias * b + tiny);
                rho[j] = FML_T(f32_up)((e + rel * (rn + e)) * (1 + rel));
                bn[j] = FML_T(f32_up)(rn * (1 + rel));
            }
        }
    }
    float rmax = 0, bmax = 0;
    for (int64_t j = 0; j < n; j++) {
        rmax = fmaxf(rmax, rho[j]);
        bmax = fmaxf(bmax, bn[j]);
    }
    for (int64_t i = 0; i < m; i++)
        emax[i] = FML_T(f32_up)(((double)alpha[i] * rmax + (double)eps[i] * bmax) * (1 + rel));
    fml_i8_task base = {apack, bpack, kp, m, 0, 0, np, csum, tq, bias_lo, bias_hi, rho, bn,
                        sig, alpha, eps, emax, cand};
    const int64_t n_tasks = (m + FML_AMX_TASK_ROWS - 1) / FML_AMX_TASK_ROWS;
    const int nt = fml_threads_for(n_threads, n_tasks, (double)m * (double)n * (double)d,
                                   FML_DISTANCE_MIN_WORK_PER_THREAD);
    (void)nt;
    const int64_t intr = fml_interrupt_token();
#pragma omp parallel for schedule(dynamic, 1) num_threads(nt) reduction(| : st)
    for (int64_t task = 0; task < n_tasks; task++) {
        if (st == FML_OK && fml_interrupted(intr)) st |= FML_EINTR;
        if (st != FML_OK) continue;
        fml_i8_task t = base;
        t.i0 = task * FML_AMX_TASK_ROWS;
        t.mb = FML_MIN(FML_AMX_TASK_ROWS, m - t.i0);
        fml_distance_i8_task_avx2(&t);
    }
    if (st != FML_OK) goto done;
    *ran = 1;
    st = FML_T(cand_finish)(c, &base.cand, dist, ind, n_threads);
done:
    fml_scratch_free(apack);
    fml_scratch_free(bpack);
    fml_scratch_free(csum);
    fml_scratch_free(colf);
    fml_scratch_free(rowf);
    FML_T(cand_free)(&cand);
    return st;
}
