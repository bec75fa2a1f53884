/* conv.h: 2-D convolution (forward, backward), pooling, batch normalisation and
 * ReLU on NCHW arrays, float32 and float64 (fastml.nn.functional).
 *
 * Convolution is PyTorch's cross-correlation:
 *
 *   y[n, o, i, j] = bias[o] + sum_{c in group(o), a < KH, b < KW}
 *                   w[o, c', a, b] * x[n, c, i*sh + a*dh - ph0, j*sw + b*dw - pw0]
 *
 * with x read as 0 outside [0, H) x [0, W).  Padding may be asymmetric
 * (ph0/ph1, pw0/pw1: PyTorch's padding='same' with an even receptive field).
 * Python (fastml/nn/functional/_conv.py) validates every argument and computes
 * the output size; the C code trusts it.
 *
 * Algorithms, chosen by shape (conv_impl.h has the details and a diagram):
 *   - Flat-pixel tile: the input is seen as "planes": per channel, per stride
 *     phase, a padded 2-D array of width Wq in which output pixel (i, j) reads
 *     kernel tap (a, b) at flat position (i*Wq + j) + off[c, a, b].  A stride-1
 *     convolution without padding reads the caller's x in place (zero copy,
 *     e.g. every 1x1, with the next band prefetched into L2); other
 *     convolutions copy a band of rows (one image, a few rows: memory bounded
 *     by a tile, never an im2col buffer) into a thread's scratch.  A register
 *     tile of MR output channels x NR consecutive flat positions runs the whole
 *     reduction (c, a, b) in a fixed order and stores bias + activation
 *     straight into y (NCHW), skipping the Wq - Wo pad columns with masked
 *     stores.
 *   - Channels-in-lanes tile (short or strided rows, e.g. 3x3 stride 2 at
 *     14x14): 14 consecutive pixels x 32 output channels, scattered into NCHW;
 *     chosen over the flat tile by a work estimate (pad columns computed,
 *     channel padding, store cost).
 *   - Winograd F(2x2, 3x3) for 3x3 stride 1 with >= 16 channels (also the data
 *     gradient): 16 products on the flat tile instead of 36 per 2x2 outputs.
 *   - 3x3 stride 2 with >= 16 channels and >= 256 2x2 output tiles: the even
 *     taps of each dimension as Winograd F(2, 2), 25 products instead of 36
 *     per 2x2 outputs, summed into 9 products on the packed-pixel tile
 *     (conv_wino2_impl.h).
 *   - Packed-pixel tile: the flat-pixel tile for zero-copy passes, with each
 *     panel of pixels copied into L1 first (conv_pgemm_impl.h).
 *   - Depthwise (few output channels per group, stride 1): straight from the
 *     input rows with lane masks, 3x3 with the weights in registers.
 * Pooling uses the same planes (max without indices reads the input rows).
 *
 * Threads and determinism: tasks are (image, band of output rows) pairs whose
 * boundaries depend on the shapes only; each output element is produced by one
 * micro-kernel call with the same reduction order whatever the thread count,
 * so results are bit-identical for any number of threads.  Reductions over the
 * batch (weight and bias gradients, batch statistics) use fixed chunks merged
 * in chunk order.
 */
#ifndef FML_CONV_H
#define FML_CONV_H

#include <stdint.h>

#include "core/fml_status.h"

/* Geometry of one 2-D convolution (or pooling window).  All sizes int64. */
typedef struct {
    int64_t n, c, h, w;        /* input x: n x c x h x w */
    int64_t o;                 /* output channels (pooling: o == c) */
    int64_t kh, kw;            /* kernel */
    int64_t sh, sw;            /* stride (>= 1) */
    int64_t ph0, ph1, pw0, pw1;/* padding top/bottom, left/right (>= 0 from Python) */
    int64_t dh, dw;            /* dilation (>= 1) */
    int64_t groups;            /* c % groups == 0, o % groups == 0 */
    int64_t ho, wo;            /* output size (>= 1), computed by Python */
} fml_conv2d_geom;

enum { FML_ACT_NONE = 0, FML_ACT_RELU = 1 };

/* Select the kernels of `level` (fml_cpu.h) for this module (and the GEMM's). */
int fml_conv_init(int level);

/* y = conv(x, w) + bias, then activation.  IN: x (n,c,h,w), w (o, c/groups, kh, kw),
 * bias (o) or NULL.  OUT: y (n, o, ho, wo), fully written. */
int fml_conv2d_forward_f32(const fml_conv2d_geom *g, const float *x, const float *w,
                           const float *bias, int act, float *y, int64_t n_threads);
int fml_conv2d_forward_f64(const fml_conv2d_geom *g, const double *x, const double *w,
                           const double *bias, int act, double *y, int64_t n_threads);

/* The forward kernel chosen for g (for tests and the profiler); -1: no memory. */
enum { FML_CONV_ALG_FLAT = 0, FML_CONV_ALG_CTILE = 1, FML_CONV_ALG_WINOGRAD = 2,
       FML_CONV_ALG_ROWS = 3, FML_CONV_ALG_PACKED = 4, FML_CONV_ALG_WINOGRAD_S2 = 5 };
int fml_conv2d_algorithm_f32(const fml_conv2d_geom *g);
int fml_conv2d_algorithm_f64(const fml_conv2d_geom *g);

/* Whether dense flat-pixel passes pack their pixels (FML_CONV_ALG_PACKED, the
 * default) or read the planes in place (same bits; for tests).  Returns the
 * previous setting. */
int fml_conv_set_packed(int on);
/* When 3x3 stride-2 convolutions use the Winograd-style pass: 0 never, 1 when
 * the shape qualifies (the default), 2 whenever the pass can run it (for
 * tests).  Returns the previous setting. */
int fml_conv_set_wino2(int mode);

/* Gradients of y = conv(x, w) + bias for the geometry g.  IN: gy (n, o, ho, wo),
 * x, w.  OUT (each may be NULL when not wanted): gx (n,c,h,w), gw (o, c/groups,
 * kh, kw), gb (o).  gw and gb are sums over the batch in fixed chunks. */
int fml_conv2d_backward_f32(const fml_conv2d_geom *g, const float *gy, const float *x,
                            const float *w, float *gx, float *gw, float *gb,
                            int64_t n_threads);
int fml_conv2d_backward_f64(const fml_conv2d_geom *g, const double *gy, const double *x,
                            const double *w, double *gx, double *gw, double *gb,
                            int64_t n_threads);

/* Max pooling over windows kh x kw (stride, padding, dilation of g; o == c,
 * groups ignored).  Padding and window parts past the input are ignored (-inf).
 * NaN wins (as in PyTorch); on ties the first window position wins.
 * OUT: y (n, c, ho, wo); idx (same shape, may be NULL): flat index i*w + j of
 * the chosen input element in its (n, c) plane. */
int fml_max_pool2d_f32(const fml_conv2d_geom *g, const float *x, float *y, int64_t *idx,
                       int64_t n_threads);
int fml_max_pool2d_f64(const fml_conv2d_geom *g, const double *x, double *y, int64_t *idx,
                       int64_t n_threads);
/* gx = 0, then gx[plane][idx] += gy for every output (in output order). */
int fml_max_pool2d_backward_f32(const fml_conv2d_geom *g, const float *gy, const int64_t *idx,
                                float *gx, int64_t n_threads);
int fml_max_pool2d_backward_f64(const fml_conv2d_geom *g, const double *gy, const int64_t *idx,
                                double *gx, int64_t n_threads);

/* Average pooling.  The divisor of a window is divisor_override when > 0; else,
 * with count_include_pad, the window's size clipped to the padded input
 * (PyTorch's rule); else the number of input elements it covers. */
int fml_avg_pool2d_f32(const fml_conv2d_geom *g, const float *x, int count_include_pad,
                       int64_t divisor_override, float *y, int64_t n_threads);
int fml_avg_pool2d_f64(const fml_conv2d_geom *g, const double *x, int count_include_pad,
                       int64_t divisor_override, double *y, int64_t n_threads);
int fml_avg_pool2d_backward_f32(const fml_conv2d_geom *g, const float *gy, int count_include_pad,
                                int64_t divisor_override, float *gx, int64_t n_threads);
int fml_avg_pool2d_backward_f64(const fml_conv2d_geom *g, const double *gy,
                                int count_include_pad, int64_t divisor_override, double *gx,
                                int64_t n_threads);

/* Adaptive average pooling to ho x wo (PyTorch's bins: rows floor(i*h/ho) to
 * ceil((i+1)*h/ho)).  Only n, c, h, w, ho, wo of g are used. */
int fml_adaptive_avg_pool2d_f32(const fml_conv2d_geom *g, const float *x, float *y,
                                int64_t n_threads);
int fml_adaptive_avg_pool2d_f64(const fml_conv2d_geom *g, const double *x, double *y,
                                int64_t n_threads);
int fml_adaptive_avg_pool2d_backward_f32(const fml_conv2d_geom *g, const float *gy, float *gx,
                                         int64_t n_threads);
int fml_adaptive_avg_pool2d_backward_f64(const fml_conv2d_geom *g, const double *gy,
                                         double *gx, int64_t n_threads);

/* Per-channel statistics of x (n, c, hw) in float64: mean[c] and the biased
 * variance var[c] (sum of squared differences from the mean / (n*hw)),
 * two-pass, summed in fixed chunks. */
int fml_batch_stats_f32(int64_t n, int64_t c, int64_t hw, const float *x, double *mean,
                        double *var, int64_t n_threads);
int fml_batch_stats_f64(int64_t n, int64_t c, int64_t hw, const double *x, double *mean,
                        double *var, int64_t n_threads);

/* y[n, c, :] = x[n, c, :] * scale[c] + shift[c], then activation. */
int fml_channel_affine_f32(int64_t n, int64_t c, int64_t hw, const float *x, const float *scale,
                           const float *shift, int act, float *y, int64_t n_threads);
int fml_channel_affine_f64(int64_t n, int64_t c, int64_t hw, const double *x,
                           const double *scale, const double *shift, int act, double *y,
                           int64_t n_threads);

/* y = max(x, 0) elementwise (NaN stays NaN); y may be x. */
int fml_relu_f32(int64_t len, const float *x, float *y, int64_t n_threads);
int fml_relu_f64(int64_t len, const double *x, double *y, int64_t n_threads);

#endif
