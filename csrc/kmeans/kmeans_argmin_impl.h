/* kmeans_argmin_impl.h: the row argmin of the Lloyd epilogue, one per ISA.
 *
 *   for j < nb: v_j = cn[j] - 2 * row[j];  if v_j < *best: *best = v_j, *arg = j0 + j
 *
 * i.e. the first index of the minimum (ties keep the smaller index), exactly as
 * the scalar loop: 2 * row[j] is exact, so the fused multiply-add rounds the
 * same way as the separate subtraction.  No include guard: the ISA file defines
 * FT, SFX, ISA, the vector vocabulary (VT, VL, IT, ...) and
 * FML_FN(reduce_argmin)(v, idx, &min, &index): the minimum lane value and the
 * smallest index among the lanes holding it. */

static void FML_FN(row_argmin)(const FT *restrict row, const FT *restrict cn, int64_t nb,
                               int64_t j0, FT *best, int32_t *arg)
{
    /* two independent chains (even and odd vectors) hide the compare -> blend latency */
    VT vmin0 = VSET1((FT)INFINITY), vmin1 = vmin0;
    IT vidx0 = ISET1(0), vidx1 = vidx0;
    IT cur0 = IRAMP(j0), cur1 = IADD(cur0, ISET1(VL));
    const IT step = ISET1(2 * VL);
    const VT m2 = VSET1((FT)-2);
    int64_t j = 0;
    for (; j + 2 * VL <= nb; j += 2 * VL) {
        const VT v0 = VFMA(VLOADU(row + j), m2, VLOADU(cn + j));
        const VT v1 = VFMA(VLOADU(row + j + VL), m2, VLOADU(cn + j + VL));
        const MT lt0 = VCMPLT(v0, vmin0), lt1 = VCMPLT(v1, vmin1);
        vmin0 = VBLEND(lt0, vmin0, v0);
        vidx0 = IBLEND(lt0, vidx0, cur0);
        vmin1 = VBLEND(lt1, vmin1, v1);
        vidx1 = IBLEND(lt1, vidx1, cur1);
        cur0 = IADD(cur0, step);
        cur1 = IADD(cur1, step);
    }
    if (j + VL <= nb) {
        const VT v0 = VFMA(VLOADU(row + j), m2, VLOADU(cn + j));
        const MT lt0 = VCMPLT(v0, vmin0);
        vmin0 = VBLEND(lt0, vmin0, v0);
        vidx0 = IBLEND(lt0, vidx0, cur0);
        j += VL;
    }
    FT bv = *best;
    int32_t ba = *arg;
    /* each lane holds the first minimum of its residue class: the answer is the
     * smallest index among the lanes equal to the overall minimum */
    FT m0, m1, m;
    int64_t i0, i1, mi;
    FML_FN(reduce_argmin)(vmin0, vidx0, &m0, &i0);
    FML_FN(reduce_argmin)(vmin1, vidx1, &m1, &i1);
    if (m1 < m0 || (m1 == m0 && i1 < i0)) {
        m = m1;
        mi = i1;
    } else {
        m = m0;
        mi = i0;
    }
    if (m < bv) {
        bv = m;
        ba = (int32_t)mi;
    }
    for (; j < nb; j++) {                                /* tail, in order */
        const FT v = cn[j] - 2 * row[j];
        if (v < bv) {
            bv = v;
            ba = (int32_t)(j0 + j);
        }
    }
    *best = bv;
    *arg = ba;
}

/* NB consecutive blocks of VL points (xt at the first) against every centre:
 * each centre coordinate is broadcast once for the NB blocks, the points are
 * memory operands of the FMAs (no registers held across centres). */
static inline void FML_FN(assign_blocks)(const FT *restrict xt, int nb, int64_t d,
                                         const FT *restrict cm2, const FT *restrict cn,
                                         int64_t k, VT *vmin, IT *vidx)
{
    for (int b = 0; b < nb; b++) {
        vmin[b] = VSET1((FT)INFINITY);
        vidx[b] = ISET1(0);
    }
    for (int64_t j = 0; j < k; j++) {
        VT acc[4];
        for (int b = 0; b < nb; b++) acc[b] = VSET1(cn[j]);
        for (int64_t p = 0; p < d; p++) {
            const VT c = VSET1(cm2[j * d + p]);
            for (int b = 0; b < nb; b++) acc[b] = VFMA(c, VLOADU(xt + (b * d + p) * VL), acc[b]);
        }
        const IT jv = ISET1(j);
        for (int b = 0; b < nb; b++) {
            const MT lt = VCMPLT(acc[b], vmin[b]);
            vmin[b] = VBLEND(lt, vmin[b], acc[b]);
            vidx[b] = IBLEND(lt, vidx[b], jv);
        }
    }
}

/* Direct assignment for small d, points as lanes (no GEMM): xt holds blocks of
 * VL rows transposed, xt[(b*d + p)*VL + l] = x[b*VL + l][p] (see lanes_pack);
 * for each centre j, v_j = cn[j] + sum_p cm2[j*d + p] * x_p with cm2 = -2 c,
 * and every lane keeps its running minimum (strict <: the first j wins ties).
 * OUT: labels[i], best[i] = min_j v_j for i < rows.  Four blocks at a time
 * (measured, d = 8, k = 16: one at a time is bound by the broadcasts). */
static void FML_FN(assign_lanes)(const FT *restrict xt, int64_t rows, int64_t d,
                                 const FT *restrict cm2, const FT *restrict cn, int64_t k,
                                 int32_t *restrict labels, FT *restrict best)
{
    const int64_t nblk = (rows + VL - 1) / VL;
    for (int64_t b0 = 0; b0 < nblk;) {
        const int nb = nblk - b0 >= 4 ? 4 : 1;
        VT vmin[4];
        IT vidx[4];
        if (nb == 4) FML_FN(assign_blocks)(xt + b0 * d * VL, 4, d, cm2, cn, k, vmin, vidx);
        else FML_FN(assign_blocks)(xt + b0 * d * VL, 1, d, cm2, cn, k, vmin, vidx);
        for (int b = 0; b < nb; b++, b0++) {
            FT lv[VL];
            IELEM_T li[VL];
            VSTOREU(lv, vmin[b]);
            ISTOREU(li, vidx[b]);
            const int64_t nv = rows - b0 * VL < VL ? rows - b0 * VL : VL;
            for (int64_t l = 0; l < nv; l++) {
                labels[b0 * VL + l] = (int32_t)li[l];
                best[b0 * VL + l] = lv[l];
            }
        }
    }
}
