/* attention_rows_impl.h: vector exponentials and the row kernels of the online
 * softmax (contracts in attention_kernels.h), over the ISA file's vocabulary:
 *
 *   VT VL VSET1 VLOADU VSTOREU VFMA VADD VSUB VMUL VDIV
 *   VMAX(a, b), VMIN(a, b)   x86 semantics: b when either is NaN (so NaN input stays NaN)
 *   VROUND(x)                round to nearest integer (as a float)
 *   VSCALEF(p, n)            p * 2^n for integral n >= min exponent (overflow gives inf)
 *   VSCALEF_Z(p, n, x, lo)   VSCALEF(p, n) where x >= lo (or x is NaN), else 0
 *   VHMAX(v), VHSUM(v)       horizontal max / sum (fixed order per ISA)
 *   VLOAD_TAIL(p, n, fill)   lanes [0, n) from p, the rest `fill`; VSTORE_TAIL(p, v, n)
 *   FML_ATTN_F64             1 for double (picks the polynomial)
 *   double only: VABS(v), VBLEND_NEG(x, a, b) (a where x < 0 else b),
 *   VLOAD_F32(p) / VSTORE_F32(p, v) (VL floats <-> one double vector)
 *
 * exp(x) = 2^n * e^r with n = round(x log2 e), r = x - n ln2 (two-constant
 * Cody-Waite reduction with FMA, |r| <= ln2/2), e^r a near-minimax polynomial
 * (Chebyshev fit on [-ln2/2, ln2/2]: degree 6, error 2e-9 for float32; degree
 * 11, error 3e-18 for float64).  exp2(x) = 2^n * e^((x - n) ln2), the reduction
 * x - n being exact.  Relative error about 1-2 ulp; inputs are clamped first, so
 * +inf gives inf and NaN stays NaN.  Results below the smallest normal number
 * (2^-126 resp. 2^-1022) are flushed to exactly 0, and -inf gives 0: producing
 * a subnormal costs a microcode assist of ~150 cycles on x86 (a fully masked
 * block of scores ran 2x slower), and such tiny probabilities vanish anyway.
 *
 * No include guard: included once per (ISA, dtype). */

#if FML_ATTN_F64
#define EXP2_LO (-1022.0)
#define EXP2_HI 1025.0
#define EXP_LO (-708.3)   /* above -1022 ln 2: e^r 2^n stays normal */
#define EXP_HI 710.0
#define LN2_HI 0x1.62e42fefa39efp-1
#define LN2_LO 0x1.abc9e3b39803fp-56
#define LOG2E 0x1.71547652b82fep+0
#else
#define EXP2_LO (-126.0f)
#define EXP2_HI 129.0f
#define EXP_LO (-87.3f)    /* above -126 ln 2: e^r 2^n stays normal */
#define EXP_HI 89.0f
#define LN2_HI 0x1.62e430p-1f
#define LN2_LO (-0x1.05c610p-29f)
#define LOG2E 0x1.715476p+0f
#endif

/* e^r for |r| <= ln2/2 (Horner with FMA). */
static inline __attribute__((always_inline)) VT FML_FN(exp_poly)(VT r)
{
#if FML_ATTN_F64
    VT p = VSET1(0x1.af631d0059becp-26);
    p = VFMA(p, r, VSET1(0x1.28b4057f44145p-22));
    p = VFMA(p, r, VSET1(0x1.71ddf5749d126p-19));
    p = VFMA(p, r, VSET1(0x1.a01991ac8730ap-16));
    p = VFMA(p, r, VSET1(0x1.a01a01b14378fp-13));
    p = VFMA(p, r, VSET1(0x1.6c16c187fbe02p-10));
    p = VFMA(p, r, VSET1(0x1.111111110f225p-7));
    p = VFMA(p, r, VSET1(0x1.555555554f0cfp-5));
    p = VFMA(p, r, VSET1(0x1.555555555555ap-3));
    p = VFMA(p, r, VSET1(0x1.0000000000011p-1));
    p = VFMA(p, r, VSET1(1.0));
    return VFMA(p, r, VSET1(1.0));
#else
    VT p = VSET1(0x1.6d7532p-10f);
    p = VFMA(p, r, VSET1(0x1.126fa6p-7f));
    p = VFMA(p, r, VSET1(0x1.5554acp-5f));
    p = VFMA(p, r, VSET1(0x1.555404p-3f));
    p = VFMA(p, r, VSET1(0x1.0p-1f));
    p = VFMA(p, r, VSET1(1.0f));
    return VFMA(p, r, VSET1(1.0f));
#endif
}

/* 2^f for |f| <= 1/2: float32 uses a degree-6 fit of 2^f itself (no ln 2
 * multiply; 0.95 ulp measured), float64 e^(f ln 2) with the polynomial above. */
static inline __attribute__((always_inline)) VT FML_FN(exp2_poly)(VT f)
{
#if FML_ATTN_F64
    return FML_FN(exp_poly)(VMUL(f, VSET1(LN2_HI)));
#else
    VT p = VSET1(0x1.444000p-13f);
    p = VFMA(p, f, VSET1(0x1.5f48c0p-10f));
    p = VFMA(p, f, VSET1(0x1.3b2a1cp-7f));
    p = VFMA(p, f, VSET1(0x1.c6aeccp-5f));
    p = VFMA(p, f, VSET1(0x1.ebfbe0p-3f));
    p = VFMA(p, f, VSET1(0x1.62e430p-1f));
    return VFMA(p, f, VSET1(1.0f));
#endif
}

/* 2^x */
static inline __attribute__((always_inline)) VT FML_FN(vexp2)(VT x0)
{
    VT x = VMAX(VSET1(EXP2_LO), x0);
    x = VMIN(VSET1(EXP2_HI), x);
    const VT n = VROUND(x);
    return VSCALEF_Z(FML_FN(exp2_poly)(VSUB(x, n)), n, x0, VSET1(EXP2_LO));
}

/* 2^x for x <= 0 or NaN (softmax: scores minus their running max), one clamp less. */
static inline __attribute__((always_inline)) VT FML_FN(vexp2_nonpos)(VT x0)
{
    const VT x = VMAX(VSET1(EXP2_LO), x0);
    const VT n = VROUND(x);
    return VSCALEF_Z(FML_FN(exp2_poly)(VSUB(x, n)), n, x0, VSET1(EXP2_LO));
}

/* e^x */
static inline __attribute__((always_inline)) VT FML_FN(vexp)(VT x0)
{
    VT x = VMAX(VSET1(EXP_LO), x0);
    x = VMIN(VSET1(EXP_HI), x);
    const VT n = VROUND(VMUL(x, VSET1(LOG2E)));
    VT r = VFMA(n, VSET1(-LN2_HI), x);
    r = VFMA(n, VSET1(-LN2_LO), r);
    return VSCALEF_Z(FML_FN(exp_poly)(r), n, x0, VSET1(EXP_LO));
}

static FT FML_FN(row_max)(const FT *restrict x, int64_t n)
{
    VT m0 = VSET1(-(FT)INFINITY), m1 = m0;
    int64_t j = 0;
    for (; j + 2 * VL <= n; j += 2 * VL) {
        m0 = VMAX(VLOADU(x + j), m0);
        m1 = VMAX(VLOADU(x + j + VL), m1);
    }
    for (; j + VL <= n; j += VL) m0 = VMAX(VLOADU(x + j), m0);
    if (j < n) m1 = VMAX(VLOAD_TAIL(x + j, n - j, -(FT)INFINITY), m1);
    return VHMAX(VMAX(m0, m1));
}

static FT FML_FN(row_add_max)(FT *restrict x, const FT *restrict mask, FT c, int64_t n)
{
    const VT cv = VSET1(c);
    VT m0 = VSET1(-(FT)INFINITY), m1 = m0;
    int64_t j = 0;
    for (; j + 2 * VL <= n; j += 2 * VL) {
        const VT a = VFMA(VLOADU(mask + j), cv, VLOADU(x + j));
        const VT b = VFMA(VLOADU(mask + j + VL), cv, VLOADU(x + j + VL));
        VSTOREU(x + j, a);
        VSTOREU(x + j + VL, b);
        m0 = VMAX(a, m0);
        m1 = VMAX(b, m1);
    }
    for (; j + VL <= n; j += VL) {
        const VT a = VFMA(VLOADU(mask + j), cv, VLOADU(x + j));
        VSTOREU(x + j, a);
        m0 = VMAX(a, m0);
    }
    if (j < n) {
        const VT a = VFMA(VLOAD_TAIL(mask + j, n - j, 0), cv, VLOAD_TAIL(x + j, n - j, 0));
        VSTORE_TAIL(x + j, a, n - j);
        m1 = VMAX(VLOAD_TAIL(x + j, n - j, -(FT)INFINITY), m1);
    }
    return VHMAX(VMAX(m0, m1));
}

static FT FML_FN(row_exp2_sum)(FT *restrict x, FT m, int64_t n)
{
    const VT mv = VSET1(m);
    VT s0 = VSET1(0), s1 = s0;
    int64_t j = 0;
    for (; j + 2 * VL <= n; j += 2 * VL) {
        const VT a = FML_FN(vexp2_nonpos)(VSUB(VLOADU(x + j), mv));
        const VT b = FML_FN(vexp2_nonpos)(VSUB(VLOADU(x + j + VL), mv));
        VSTOREU(x + j, a);
        VSTOREU(x + j + VL, b);
        s0 = VADD(s0, a);
        s1 = VADD(s1, b);
    }
    for (; j + VL <= n; j += VL) {
        const VT a = FML_FN(vexp2_nonpos)(VSUB(VLOADU(x + j), mv));
        VSTOREU(x + j, a);
        s0 = VADD(s0, a);
    }
    if (j < n) {
        /* lanes past n hold -inf, so they add exp2(-inf) = 0 */
        const VT a = FML_FN(vexp2_nonpos)(VSUB(VLOAD_TAIL(x + j, n - j, -(FT)INFINITY), mv));
        VSTORE_TAIL(x + j, a, n - j);
        s1 = VADD(s1, a);
    }
    return VHSUM(VADD(s0, s1));
}

static void FML_FN(row_exp2)(FT *restrict x, FT m, int64_t n)
{
    const VT mv = VSET1(m);
    int64_t j = 0;
    for (; j + VL <= n; j += VL) VSTOREU(x + j, FML_FN(vexp2_nonpos)(VSUB(VLOADU(x + j), mv)));
    if (j < n)
        VSTORE_TAIL(x + j, FML_FN(vexp2_nonpos)(VSUB(VLOAD_TAIL(x + j, n - j, 0), mv)), n - j);
}

static void FML_FN(row_scale)(FT *restrict x, FT a, int64_t n)
{
    const VT av = VSET1(a);
    int64_t j = 0;
    for (; j + VL <= n; j += VL) VSTOREU(x + j, VMUL(VLOADU(x + j), av));
    if (j < n) VSTORE_TAIL(x + j, VMUL(VLOAD_TAIL(x + j, n - j, 0), av), n - j);
}

/* One online-softmax step for `rows` whole rows of a score tile (every key of
 * the block valid: no mask, no dropout, not on the causal diagonal), row i at
 * x + i*ld, n keys: m[i] <- max(m[i], row max); P = exp2(x - m[i]) in place;
 * l[i] <- l[i] * exp2(m_old - m_new) + sum P; acc row i (nacc elements, ldacc
 * apart) scaled by the same factor.  A row whose running max stays -inf gets P
 * = 0.  The per-row path in attention_impl.h does the same with masks. */
static void FML_FN(online_rows)(FT *restrict x, int64_t ld, int64_t rows, int64_t n,
                                FT *restrict m, FT *restrict l, FT *restrict acc, int64_t ldacc,
                                int64_t nacc)
{
    for (int64_t i = 0; i < rows; i++) {
        FT *restrict xr = x + i * ld;
        const FT mx = FML_FN(row_max)(xr, n), mold = m[i];
        const FT mnew = mx > mold ? mx : mold;
        if (mnew == -(FT)INFINITY) {
            for (int64_t j = 0; j < n; j++) xr[j] = 0;
            continue;
        }
        FT alpha = 1;
        if (mold != mnew) {
            FT lane[VL];
            VSTOREU(lane, FML_FN(vexp2)(VSET1(mold - mnew)));   /* 0 when mold is -inf */
            alpha = lane[0];
        }
        const FT s = FML_FN(row_exp2_sum)(xr, mnew, n);
        l[i] = l[i] * alpha + s;
        m[i] = mnew;
        if (alpha != 1 && mold != -(FT)INFINITY) FML_FN(row_scale)(acc + i * ldacc, alpha, nacc);
    }
}


static void FML_FN(row_scale_copy)(FT *restrict y, const FT *restrict x, FT a, int64_t n)
{
    const VT av = VSET1(a);
    int64_t j = 0;
    for (; j + VL <= n; j += VL) VSTOREU(y + j, VMUL(VLOADU(x + j), av));
    if (j < n) VSTORE_TAIL(y + j, VMUL(VLOAD_TAIL(x + j, n - j, 0), av), n - j);
}

/* K (S x E, row stride ldk) into NR-key panels of K^T: dst[(j0/NR)*E*NR + p*NR + j]
 * = K[j0 + j, p], keys past S zero.  Whole panels gather VL keys at a time. */
static void FML_FN(pack_kt)(int64_t S, int64_t E, const FT *restrict k, int64_t ldk,
                            FT *restrict dst)
{
    const int64_t nr = NV * VL;
    for (int64_t j0 = 0; j0 < S; j0 += nr) {
        FT *restrict panel = dst + (j0 / nr) * E * nr;
        if (j0 + nr <= S) {
            for (int64_t p = 0; p < E; p++)
#pragma GCC unroll 4
                for (int v = 0; v < NV; v++)
                    VSTOREU(panel + p * nr + v * VL, VGATHER(k + (j0 + v * VL) * ldk + p, ldk));
            continue;
        }
        const int64_t nv = S - j0;
        for (int64_t p = 0; p < E; p++) {
            for (int64_t j = 0; j < nv; j++) panel[p * nr + j] = k[(j0 + j) * ldk + p];
            for (int64_t j = nv; j < nr; j++) panel[p * nr + j] = 0;
        }
    }
}

/* V (S x Ev, row stride ldv) into NR-column panels: dst[(c0/NR)*S*NR + p*NR + j]
 * = V[p, c0 + j], columns past Ev zero. */
static void FML_FN(pack_v)(int64_t S, int64_t Ev, const FT *restrict v, int64_t ldv,
                           FT *restrict dst)
{
    const int64_t nr = NV * VL;
    for (int64_t c0 = 0; c0 < Ev; c0 += nr) {
        FT *restrict panel = dst + (c0 / nr) * S * nr;
        const int64_t nv = FML_MIN(nr, Ev - c0);
        if (nv == nr) {
            for (int64_t p = 0; p < S; p++)
#pragma GCC unroll 4
                for (int u = 0; u < NV; u++)
                    VSTOREU(panel + p * nr + u * VL, VLOADU(v + p * ldv + c0 + u * VL));
            continue;
        }
        for (int64_t p = 0; p < S; p++) {
            for (int64_t j = 0; j < nv; j++) panel[p * nr + j] = v[p * ldv + c0 + j];
            for (int64_t j = nv; j < nr; j++) panel[p * nr + j] = 0;
        }
    }
}

static void FML_FN(row_dsoftmax)(FT *restrict x, const FT *restrict p, FT d, int64_t n)
{
    const VT dv = VSET1(d);
    int64_t j = 0;
    for (; j + VL <= n; j += VL) VSTOREU(x + j, VMUL(VLOADU(p + j), VSUB(VLOADU(x + j), dv)));
    if (j < n)
        VSTORE_TAIL(x + j, VMUL(VLOAD_TAIL(p + j, n - j, 0), VSUB(VLOAD_TAIL(x + j, n - j, 0), dv)),
                    n - j);
}

static FT FML_FN(row_dot)(const FT *restrict x, const FT *restrict y, int64_t n)
{
    VT s0 = VSET1(0), s1 = s0;
    int64_t j = 0;
    for (; j + 2 * VL <= n; j += 2 * VL) {
        s0 = VFMA(VLOADU(x + j), VLOADU(y + j), s0);
        s1 = VFMA(VLOADU(x + j + VL), VLOADU(y + j + VL), s1);
    }
    for (; j + VL <= n; j += VL) s0 = VFMA(VLOADU(x + j), VLOADU(y + j), s0);
    if (j < n) s1 = VFMA(VLOAD_TAIL(x + j, n - j, 0), VLOAD_TAIL(y + j, n - j, 0), s1);
    return VHSUM(VADD(s0, s1));
}

/* ---- standalone row kernels (transformer.c) -------------------------------- */

/* y = softmax(x) or, with log_out, log_softmax(x), over one row (n >= 1). */
static void FML_FN(row_softmax)(const FT *restrict x, FT *restrict y, int64_t n, int log_out)
{
    const FT m = FML_FN(row_max)(x, n);
    const VT mv = VSET1(m);
    VT s0 = VSET1(0), s1 = s0;
    int64_t j = 0;
    if (log_out) {                 /* sum of exp(x - m) only; y = x - m - log(sum) */
        for (; j + VL <= n; j += VL) s0 = VADD(s0, FML_FN(vexp)(VSUB(VLOADU(x + j), mv)));
        if (j < n) s1 = FML_FN(vexp)(VSUB(VLOAD_TAIL(x + j, n - j, -(FT)INFINITY), mv));
        const FT off = m + (FT)log((double)VHSUM(VADD(s0, s1)));
        const VT ov = VSET1(off);
        for (j = 0; j + VL <= n; j += VL) VSTOREU(y + j, VSUB(VLOADU(x + j), ov));
        if (j < n) VSTORE_TAIL(y + j, VSUB(VLOAD_TAIL(x + j, n - j, 0), ov), n - j);
        return;
    }
    for (; j + VL <= n; j += VL) {
        const VT e = FML_FN(vexp)(VSUB(VLOADU(x + j), mv));
        VSTOREU(y + j, e);
        s0 = VADD(s0, e);
    }
    if (j < n) {
        const VT e = FML_FN(vexp)(VSUB(VLOAD_TAIL(x + j, n - j, -(FT)INFINITY), mv));
        VSTORE_TAIL(y + j, e, n - j);
        s1 = e;
    }
    FML_FN(row_scale)(y, (FT)1 / VHSUM(VADD(s0, s1)), n);
}

/* Mean and 1/sqrt(var + eps) of one row in float64 (two passes: the second
 * sums squared deviations, so no cancellation). */
static void FML_FN(row_moments)(const FT *restrict x, int64_t n, double eps, double *mean,
                                double *rstd)
{
    double s = 0, q = 0;
#pragma omp simd reduction(+ : s)
    for (int64_t j = 0; j < n; j++) s += (double)x[j];
    const double mu = s / (double)n;
#pragma omp simd reduction(+ : q)
    for (int64_t j = 0; j < n; j++) q += ((double)x[j] - mu) * ((double)x[j] - mu);
    *mean = mu;
    *rstd = 1.0 / sqrt(q / (double)n + eps);
}

/* y = (x - mean) * rstd * w + b (w, b may be NULL) */
static void FML_FN(row_normalize)(const FT *restrict x, FT *restrict y, int64_t n, double mean,
                                  double rstd, const FT *restrict w, const FT *restrict b)
{
    const FT mu = (FT)mean, r = (FT)rstd;
    if (w != NULL && b != NULL) {
#pragma omp simd
        for (int64_t j = 0; j < n; j++) y[j] = (x[j] - mu) * r * w[j] + b[j];
    } else if (w != NULL) {
#pragma omp simd
        for (int64_t j = 0; j < n; j++) y[j] = (x[j] - mu) * r * w[j];
    } else if (b != NULL) {
#pragma omp simd
        for (int64_t j = 0; j < n; j++) y[j] = (x[j] - mu) * r + b[j];
    } else {
#pragma omp simd
        for (int64_t j = 0; j < n; j++) y[j] = (x[j] - mu) * r;
    }
}

/* Layer-norm backward of one row: dx = rstd * (g - mean(g) - xhat * mean(g * xhat))
 * with g = dy * w (dy without w), sums in float64; adds dy * xhat to dw and dy to
 * db (float64 row partials of the caller's chunk; may be NULL). */
static void FML_FN(row_layer_norm_bwd)(const FT *restrict x, const FT *restrict dy,
                                       const FT *restrict w, int64_t n, double mean, double rstd,
                                       FT *restrict dx, double *restrict dw, double *restrict db)
{
    double sg = 0, sgx = 0;
#pragma omp simd reduction(+ : sg, sgx)
    for (int64_t j = 0; j < n; j++) {
        const double g = w != NULL ? (double)dy[j] * (double)w[j] : (double)dy[j];
        const double xh = ((double)x[j] - mean) * rstd;
        sg += g;
        sgx += g * xh;
    }
    const double a = sg / (double)n, c = sgx / (double)n;
#pragma omp simd
    for (int64_t j = 0; j < n; j++) {
        const double g = w != NULL ? (double)dy[j] * (double)w[j] : (double)dy[j];
        const double xh = ((double)x[j] - mean) * rstd;
        dx[j] = (FT)(rstd * (g - a - xh * c));
    }
    if (dw != NULL) {
#pragma omp simd
        for (int64_t j = 0; j < n; j++) dw[j] += (double)dy[j] * (((double)x[j] - mean) * rstd);
    }
    if (db != NULL) {
#pragma omp simd
        for (int64_t j = 0; j < n; j++) db[j] += (double)dy[j];
    }
}

/* GELU, tanh approximation, written as x * sigmoid(2u): 0.5 (1 + tanh u) =
 * 1 / (1 + exp(-2u)), u = sqrt(2/pi) (x + 0.044715 x^3); no cancellation for
 * negative x. */
static void FML_FN(row_gelu_tanh)(const FT *restrict x, FT *restrict y, int64_t n)
{
    const VT c1 = VSET1((FT)(-2.0 * 0.7978845608028654)), c3 = VSET1((FT)(-2.0 * 0.7978845608028654 * 0.044715));
    const VT one = VSET1(1);
    int64_t j = 0;
    for (; j + VL <= n; j += VL) {
        const VT v = VLOADU(x + j);
        const VT t = VMUL(v, VFMA(VMUL(v, v), c3, c1));          /* -2u */
        VSTOREU(y + j, VDIV(v, VADD(one, FML_FN(vexp)(t))));
    }
    if (j < n) {
        const VT v = VLOAD_TAIL(x + j, n - j, 0);
        const VT t = VMUL(v, VFMA(VMUL(v, v), c3, c1));
        VSTORE_TAIL(y + j, VDIV(v, VADD(one, FML_FN(vexp)(t))), n - j);
    }
}

#if FML_ATTN_F64
/* Exact GELU x * Phi(x) for float32 rows, computed in float64 lanes:
 * Phi(x) = erfc(-x/sqrt 2) / 2 with erfc(z) = t exp(-z^2 - 1.26551223 + t P(t)),
 * t = 1 / (1 + z/2), z >= 0 (Numerical Recipes' Chebyshev fit, relative error
 * < 1.2e-7 everywhere, so also in the tail where x Phi(x) is tiny), and
 * 1 - erfc(|z|)/2 for x >= 0.  Needs VLOAD_F32 / VSTORE_F32 (float <-> VT). */
static inline __attribute__((always_inline)) VT FML_FN(gelu_erf_vec)(VT x)
{
    const VT z = VMUL(VABS(x), VSET1(0.70710678118654752440));
    const VT t = VDIV(VSET1(1.0), VFMA(z, VSET1(0.5), VSET1(1.0)));
    VT p = VSET1(0.17087277);
    p = VFMA(p, t, VSET1(-0.82215223));
    p = VFMA(p, t, VSET1(1.48851587));
    p = VFMA(p, t, VSET1(-1.13520398));
    p = VFMA(p, t, VSET1(0.27886807));
    p = VFMA(p, t, VSET1(-0.18628806));
    p = VFMA(p, t, VSET1(0.09678418));
    p = VFMA(p, t, VSET1(0.37409196));
    p = VFMA(p, t, VSET1(1.00002368));
    p = VFMA(p, t, VSET1(-1.26551223));
    const VT half_erfc = VMUL(VMUL(t, FML_FN(vexp)(VSUB(p, VMUL(z, z)))), VSET1(0.5));
    return VMUL(x, VBLEND_NEG(x, half_erfc, VSUB(VSET1(1.0), half_erfc)));
}

static void FML_PASTE2(row_gelu_erf_f32, ISA)(const float *restrict x, float *restrict y, int64_t n)
{
    int64_t j = 0;
    for (; j + VL <= n; j += VL) VSTORE_F32(y + j, FML_FN(gelu_erf_vec)(VLOAD_F32(x + j)));
    for (; j < n; j++) {                  /* tail: one lane at a time */
        FT tmp[VL];
        for (int l = 0; l < VL; l++) tmp[l] = (FT)x[j];
        VSTOREU(tmp, FML_FN(gelu_erf_vec)(VLOADU(tmp)));
        y[j] = (float)tmp[0];
    }
}

/* float64 rows: libm erfc (the fit above is only float32-accurate). */
static void FML_FN(row_gelu_erf)(const FT *restrict x, FT *restrict y, int64_t n)
{
    for (int64_t j = 0; j < n; j++) y[j] = 0.5 * x[j] * erfc(-x[j] * 0.70710678118654752440);
}
#endif

/* y[j] = x[j] * keep(row_key, j0 + j) * scale (0 when dropped; y may be x); see
 * attention_rng.h */
static void FML_FN(row_dropout)(const FT *x, FT *y, int64_t n, uint64_t row_key,
                                int64_t j0, uint32_t threshold, FT scale)
{
#pragma omp simd
    for (int64_t j = 0; j < n; j++)
        y[j] = fml_rng_u32(row_key, (uint64_t)(j0 + j)) >= threshold ? x[j] * scale : (FT)0;
}

#undef EXP2_LO
#undef EXP2_HI
#undef EXP_LO
#undef EXP_HI
#undef LN2_HI
#undef LN2_LO
#undef LOG2E
