/* trees_loss.c: gradients, hessians and values of the boosting losses.
 *
 *   squared   g = f - y               h = 1
 *   absolute  g = sign(f - y)         h = 1  (leaves are refit to medians in Python)
 *   huber     g = -clip(y - f, delta) h = 1
 *   logistic  g = p - y               h = p (1 - p),        p = 1 / (1 + exp(-f))
 *   softmax   g_k = p_k - [y == k]    h_k = p_k (1 - p_k),  p = softmax(f)
 * all times the sample weight.  Elementwise and parallel over rows; the loss
 * value is summed over fixed chunks merged in order (thread-count independent). */
#include <math.h>
#include <string.h>

#include "core/fml_dtype.h"
#include "core/fml_threads.h"
#include "trees/trees.h"

#define LOSS_CHUNKS 64

static inline double sigmoid(double f)
{
    if (f >= 0) return 1.0 / (1.0 + exp(-f));
    const double e = exp(f);
    return e / (1.0 + e);
}

int fml_tree_loss_gradients(int loss, const double *raw, const double *y, const double *w,
                            int64_t n, int64_t n_out, double delta, double *gh, int64_t n_threads)
{
    const int nt = fml_threads_for(n_threads, 64, (double)n * (double)n_out, 20000.0);
    switch (loss) {
    case FML_LOSS_SQUARED:
    case FML_LOSS_ABSOLUTE:
    case FML_LOSS_HUBER:
#pragma omp parallel for schedule(static) num_threads(nt) if (nt > 1)
        for (int64_t i = 0; i < n; i++) {
            const double r = raw[i] - y[i], wi = w ? w[i] : 1.0;
            double g;
            if (loss == FML_LOSS_SQUARED) g = r;
            else if (loss == FML_LOSS_ABSOLUTE) g = (r > 0) - (r < 0);
            else g = fabs(r) <= delta ? r : (r > 0 ? delta : -delta);
            gh[2 * i] = wi * g;
            gh[2 * i + 1] = wi;
        }
        return FML_OK;
    case FML_LOSS_LOGISTIC:
#pragma omp parallel for schedule(static) num_threads(nt) if (nt > 1)
        for (int64_t i = 0; i < n; i++) {
            const double p = sigmoid(raw[i]), wi = w ? w[i] : 1.0;
            gh[2 * i] = wi * (p - y[i]);
            gh[2 * i + 1] = wi * p * (1.0 - p);
        }
        return FML_OK;
    case FML_LOSS_SOFTMAX:
#pragma omp parallel for schedule(static) num_threads(nt) if (nt > 1)
        for (int64_t i = 0; i < n; i++) {
            const double *f = raw + i * n_out;
            double mx = f[0];
            for (int64_t k = 1; k < n_out; k++) mx = f[k] > mx ? f[k] : mx;
            double s = 0;
            for (int64_t k = 0; k < n_out; k++) s += exp(f[k] - mx);
            const double wi = w ? w[i] : 1.0;
            const int64_t yi = (int64_t)y[i];
            for (int64_t k = 0; k < n_out; k++) {
                const double p = exp(f[k] - mx) / s;
                double *o = gh + k * 2 * n + 2 * i;
                o[0] = wi * (p - (k == yi ? 1.0 : 0.0));
                o[1] = wi * p * (1.0 - p);
            }
        }
        return FML_OK;
    default:
        return FML_EINVAL;
    }
}

static double loss_one(int loss, const double *f, double y, int64_t n_out, double delta)
{
    switch (loss) {
    case FML_LOSS_SQUARED: return 0.5 * (f[0] - y) * (f[0] - y);
    case FML_LOSS_ABSOLUTE: return fabs(f[0] - y);
    case FML_LOSS_HUBER: {
        const double r = fabs(y - f[0]);
        return r <= delta ? 0.5 * r * r : delta * (r - 0.5 * delta);
    }
    case FML_LOSS_LOGISTIC: {
        const double v = f[0];
        return (v > 0 ? v : 0) + log1p(exp(-fabs(v))) - y * v;
    }
    default: {
        double mx = f[0];
        for (int64_t k = 1; k < n_out; k++) mx = f[k] > mx ? f[k] : mx;
        double s = 0;
        for (int64_t k = 0; k < n_out; k++) s += exp(f[k] - mx);
        return mx + log(s) - f[(int64_t)y];
    }
    }
}

int fml_tree_loss_value(int loss, const double *raw, const double *y, const double *w,
                        int64_t n, int64_t n_out, double delta, double *result)
{
    if (loss < FML_LOSS_SQUARED || loss > FML_LOSS_SOFTMAX) return FML_EINVAL;
    double num[LOSS_CHUNKS], den[LOSS_CHUNKS];
    const int64_t nc = n < LOSS_CHUNKS ? (n > 0 ? n : 1) : LOSS_CHUNKS;
    for (int64_t c = 0; c < nc; c++) {
        const int64_t i0 = fml_chunk_start(n, nc, c), i1 = fml_chunk_start(n, nc, c + 1);
        double s = 0, sw = 0;
        for (int64_t i = i0; i < i1; i++) {
            const double wi = w ? w[i] : 1.0;
            s += wi * loss_one(loss, raw + i * n_out, y[i], n_out, delta);
            sw += wi;
        }
        num[c] = s;
        den[c] = sw;
    }
    double s = 0, sw = 0;
    for (int64_t c = 0; c < nc; c++) {
        s += num[c];
        sw += den[c];
    }
    *result = sw > 0 ? s / sw : 0.0;
    return FML_OK;
}
