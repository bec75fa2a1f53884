/* attention.h: flash-style scaled dot-product attention, forward and backward.
 *
 *   out = softmax(scale * Q K^T + mask) V          per problem (one batch x head)
 *   Q: L x E, K: S x E, V: S x Ev, mask: L x S (additive; -inf = do not attend)
 *
 * Layout: `batch` independent problems.  Problem t reads Q at q + q_off[t] with
 * row stride ldq (elements, rows contiguous), likewise K, V and the mask; equal
 * offsets share data (broadcast batch dimensions, grouped-query heads).  mask_ld
 * is the mask's row stride over L (0: one row for every query); mask rows are
 * contiguous over S.  out is batch x L x Ev and lse batch x L, contiguous.
 *
 * Forward (FlashAttention-2 structure, O(block) extra memory besides the K/V of
 * the heads being worked on, packed once per head):
 *   for each task (problem t, block of ~64 query rows)               <- threads
 *     for each key block of up to 256 keys (causal: only keys <= the block's
 *     last query; blocks past the diagonal are skipped, not masked)
 *       S = Q_blk K_blk^T        micro-kernel tiles (scale and log2(e) folded into Q)
 *       per row: add mask, running max m, P = exp2(S - m), running sum l,
 *                rescale the output accumulator by exp2(m_old - m)
 *       O_acc += P V_blk        micro-kernel reading P in place
 *     out = O_acc / l,  lse = m + log(l)    (a row with no key gets 0 and -inf)
 *
 * Backward (FlashAttention-2): per problem (one task each), D = rowsum(dO * O),
 * then for each query block and key block P = exp(S - lse) is recomputed,
 *   dV += P^T dO,  dP = dO V^T,  dS = P * (dP - D),  dQ += dS K,  dK += dS^T Q
 * (scale applied to dQ and dK), with the same O(block) memory.
 *
 * Dropout (dropout_p > 0) multiplies P, after the row sums, by keep/(1 - p)
 * with keep drawn from a counter-based hash of (seed, problem, row, key)
 * (attention_rng.h): the same mask for any thread count, and in the backward.
 *
 * Determinism: tasks are fixed (never cut by the thread count) and each output
 * element is produced by one task in a fixed order: bit-identical results for
 * any number of threads.  SIMD variants: attention_{scalar,avx2,avx512}.c.
 */
#ifndef FML_ATTENTION_H
#define FML_ATTENTION_H

#include <stdint.h>

#include "core/fml_status.h"

typedef struct {
    int64_t batch, L, S, E, Ev;
    const int64_t *q_off, *k_off, *v_off, *mask_off;   /* per problem; mask_off unused without mask */
    int64_t ldq, ldk, ldv, mask_ld;
    int causal;                 /* query i attends keys j <= i (top-left aligned) */
    double scale;
    double dropout_p;           /* in [0, 1) */
    uint64_t seed;
} fml_attention_args;

/* Blocking: keys per block and query rows per forward task (tuning aid). */
extern int64_t fml_attention_kb, fml_attention_qrows;

/* IN: q, k, v, mask (NULL: none; additive, same dtype).  OUT: out (batch x L x
 * Ev), lse (batch x L, natural log; may be NULL). */
int fml_attention_forward_f32(const fml_attention_args *args, const float *q, const float *k,
                              const float *v, const float *mask, float *out, float *lse,
                              int64_t n_threads);
int fml_attention_forward_f64(const fml_attention_args *args, const double *q, const double *k,
                              const double *v, const double *mask, double *out, double *lse,
                              int64_t n_threads);

/* IN: as the forward, plus out and lse from it and dout (batch x L x Ev,
 * contiguous).  OUT: dq (batch x L x E), dk (batch x S x E), dv (batch x S x
 * Ev), contiguous, per problem (the caller sums problems that share K or V). */
int fml_attention_backward_f32(const fml_attention_args *args, const float *q, const float *k,
                               const float *v, const float *mask, const float *out,
                               const float *lse, const float *dout, float *dq, float *dk,
                               float *dv, int64_t n_threads);
int fml_attention_backward_f64(const fml_attention_args *args, const double *q,
                               const double *k, const double *v, const double *mask,
                               const double *out, const double *lse, const double *dout,
                               double *dq, double *dk, double *dv, int64_t n_threads);

#endif
