"""Plain NumPy references, written for clarity, not speed."""
import numpy as np


def matmul(a, b):
    """(..., m, k) @ (..., k, n) in float64 by explicit sums over k."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    return np.einsum("...ik,...kj->...ij", a, b)


# ---- distances, kernels, neighbours (fastml.metrics / fastml.neighbors) ----------

def pairwise_distances(X, Y, metric, p=2.0):
    """metric(X[i], Y[j]) in float64 from the differences, one formula per metric."""
    X = np.asarray(X, dtype=np.float64)
    Y = np.asarray(Y, dtype=np.float64)
    diff = X[:, None, :] - Y[None, :, :]
    if metric == "sqeuclidean":
        return (diff ** 2).sum(-1)
    if metric == "euclidean":
        return np.sqrt((diff ** 2).sum(-1))
    if metric == "manhattan":
        return np.abs(diff).sum(-1)
    if metric == "chebyshev":
        return np.abs(diff).max(-1)
    if metric == "minkowski":
        return (np.abs(diff) ** p).sum(-1) ** (1.0 / p)
    if metric == "dot":
        return X @ Y.T
    if metric == "cosine":
        nx = np.sqrt((X ** 2).sum(1))
        ny = np.sqrt((Y ** 2).sum(1))
        nx[nx == 0] = 1.0          # a zero row is orthogonal to everything
        ny[ny == 0] = 1.0
        return np.clip(1.0 - (X / nx[:, None]) @ (Y / ny[:, None]).T, 0.0, 2.0)
    if metric == "kl":             # scipy.special.rel_entr summed over features
        x, y = X[:, None, :], Y[None, :, :]
        with np.errstate(divide="ignore", invalid="ignore"):
            t = np.where(x > 0, np.where(y > 0, x * np.log(x / np.where(y > 0, y, 1.0)), np.inf), 0.0)
        return t.sum(-1)
    raise ValueError(metric)


def kernel(X, Y, kind, gamma=None, coef0=1.0, degree=3):
    """scikit-learn's kernel formulas in float64."""
    X = np.asarray(X, dtype=np.float64)
    Y = np.asarray(Y, dtype=np.float64)
    gamma = 1.0 / X.shape[1] if gamma is None else gamma
    if kind == "linear":
        return X @ Y.T
    if kind == "polynomial":
        return (gamma * (X @ Y.T) + coef0) ** degree
    if kind == "sigmoid":
        return np.tanh(gamma * (X @ Y.T) + coef0)
    if kind == "rbf":
        return np.exp(-gamma * pairwise_distances(X, Y, "sqeuclidean"))
    raise ValueError(kind)


def knn(X, Y, k, metric, p=2.0):
    """(distances, indices) of the k nearest rows by a stable sort of the full matrix:
    nearest first (largest first for dot), ties by the smaller index."""
    D = pairwise_distances(X, Y, metric, p)
    order = np.argsort(-D if metric == "dot" else D, axis=1, kind="stable")[:, :k]
    return np.take_along_axis(D, order, axis=1), order


def radius_neighbors(X, Y, radius, metric, p=2.0):
    """List of (indices, distances) per row: within radius (dot: >= radius), sorted."""
    D = pairwise_distances(X, Y, metric, p)
    rows = []
    for d in D:
        keep = np.flatnonzero(d >= radius if metric == "dot" else d <= radius)
        order = np.argsort(-d[keep] if metric == "dot" else d[keep], kind="stable")
        rows.append((keep[order], d[keep][order]))
    return rows


def kmeans_lloyd(X, centers, n_iter, sample_weight=None):
    """Plain Lloyd iterations from `centers`: assign each row to its nearest
    centre (first index on ties), move each centre to its weighted mean (an
    empty cluster keeps its centre).  Returns labels for the final centres,
    the centres and the inertia, in float64."""
    X = np.asarray(X, dtype=np.float64)
    c = np.array(centers, dtype=np.float64)
    w = np.ones(len(X)) if sample_weight is None else np.asarray(sample_weight, np.float64)

    def assign(c):
        d2 = ((X[:, None, :] - c[None, :, :]) ** 2).sum(axis=2)
        return d2.argmin(axis=1), d2.min(axis=1)

    for _ in range(n_iter):
        labels, _ = assign(c)
        for j in range(len(c)):
            mask = labels == j
            if w[mask].sum() > 0:
                c[j] = (w[mask, None] * X[mask]).sum(axis=0) / w[mask].sum()
    labels, d2 = assign(c)
    return labels, c, float((w * d2).sum())


# ---- trees (fastml.tree, fastml.ensemble) -----------------------------------


def gini(counts):
    """Gini impurity 1 - sum p_k^2 of class counts (or weights)."""
    c = np.asarray(counts, dtype=np.float64)
    p = c / c.sum()
    return 1.0 - float((p * p).sum())


def entropy_bits(counts):
    """Entropy -sum p_k log2 p_k of class counts (0 log 0 = 0)."""
    c = np.asarray(counts, dtype=np.float64)
    p = c[c > 0] / c.sum()
    return float(-(p * np.log2(p)).sum())


def xgb_gain(GL, HL, GR, HR, lam=0.0, gamma=0.0):
    """XGBoost split gain 0.5 [GL^2/(HL+l) + GR^2/(HR+l) - G^2/(H+l)] - gamma."""
    G, H = GL + GR, HL + HR
    return 0.5 * (GL * GL / (HL + lam) + GR * GR / (HR + lam) - G * G / (H + lam)) - gamma


def best_split_exhaustive(bins, n_bins, g, h, lam=0.0, min_child_weight=0.0, min_samples_leaf=1,
                          classes=None, n_classes=0, criterion="xgb"):
    """Best split of one node by trying every feature, threshold bin and side for
    the missing bin (255), one candidate at a time (no prefix sums).

    XGB: gain from (g, h); "gini": weighted impurity decrease from class labels.
    Returns (gain, feature, bin, missing_left), the first best in the order
    feature, then missing right before missing left, then bin."""
    n, d = bins.shape
    best = (-np.inf, -1, -1, -1)
    for f in range(d):
        col = bins[:, f].astype(np.int64)
        miss = col == 255
        for ml in (0, 1):
            if ml and not miss.any():
                continue
            last = n_bins[f] - (1 if ml else 0)      # missing right also tries "values | NaN"
            if not miss.any():
                last = n_bins[f] - 1
            for b in range(last):
                left = np.where(miss, bool(ml), col <= b)
                nl, nr = left.sum(), (~left).sum()
                if nl < max(min_samples_leaf, 1) or nr < max(min_samples_leaf, 1):
                    continue
                if criterion == "xgb":
                    HL, HR = h[left].sum(), h[~left].sum()
                    if HL < min_child_weight or HR < min_child_weight:
                        continue
                    gain = xgb_gain(g[left].sum(), HL, g[~left].sum(), HR, lam)
                else:
                    cl = np.bincount(classes[left], minlength=n_classes)
                    cr = np.bincount(classes[~left], minlength=n_classes)
                    gain = n * gini(cl + cr) - nl * gini(cl) - nr * gini(cr)
                if best[1] < 0 or gain > best[0] + 1e-12 * max(1.0, abs(best[0])):
                    best = (gain, f, b, ml)
    return best


# ---- attention and transformer kernels (fastml.nn.functional) --------------------

def sdpa(q, k, v, mask=None, causal=False, scale=None, gqa=False, return_lse=False):
    """softmax(q k^T * scale + mask) v in float64 with the full L x S matrix.

    mask: bool (True = attend) or additive float, broadcast like PyTorch;
    causal: query i attends keys j <= i; a row with no key gives 0 (lse -inf)."""
    q, k, v = (np.asarray(x, dtype=np.float64) for x in (q, k, v))
    if gqa:
        group = q.shape[-3] // k.shape[-3]
        k, v = np.repeat(k, group, axis=-3), np.repeat(v, group, axis=-3)
    L, S = q.shape[-2], k.shape[-2]
    scale = 1.0 / np.sqrt(q.shape[-1]) if scale is None else scale
    s = np.matmul(q, np.swapaxes(k, -1, -2)) * scale
    if mask is not None:
        mask = np.asarray(mask)
        s = np.where(mask, s, -np.inf) if mask.dtype == bool else s + mask
    if causal:
        s = np.where(np.tril(np.ones((L, S), dtype=bool)), s, -np.inf)
    m = s.max(axis=-1, keepdims=True) if S else np.full(s.shape[:-1] + (1,), -np.inf)
    m = np.where(np.isfinite(m), m, 0.0)
    p = np.exp(s - m)
    total = p.sum(axis=-1, keepdims=True)
    safe = np.where(total > 0, total, 1.0)
    out = np.where(total > 0, np.matmul(p / safe, v), 0.0)
    if not return_lse:
        return out
    with np.errstate(divide="ignore"):
        lse = np.where(total[..., 0] > 0, np.log(safe[..., 0]) + m[..., 0], -np.inf)
    return out, lse


def sdpa_backward(dout, q, k, v, mask=None, causal=False, scale=None):
    """Gradients of sdpa (no dropout) by the textbook formulas, float64."""
    q, k, v, dout = (np.asarray(x, dtype=np.float64) for x in (q, k, v, dout))
    L, S = q.shape[-2], k.shape[-2]
    scale = 1.0 / np.sqrt(q.shape[-1]) if scale is None else scale
    s = np.matmul(q, np.swapaxes(k, -1, -2)) * scale
    if mask is not None:
        mask = np.asarray(mask)
        s = np.where(mask, s, -np.inf) if mask.dtype == bool else s + mask
    if causal:
        s = np.where(np.tril(np.ones((L, S), dtype=bool)), s, -np.inf)
    m = s.max(axis=-1, keepdims=True)
    m = np.where(np.isfinite(m), m, 0.0)
    p = np.exp(s - m)
    total = p.sum(axis=-1, keepdims=True)
    p = np.where(total > 0, p / np.where(total > 0, total, 1.0), 0.0)
    dv = np.matmul(np.swapaxes(p, -1, -2), dout)
    dp = np.matmul(dout, np.swapaxes(v, -1, -2))
    ds = p * (dp - (dp * p).sum(axis=-1, keepdims=True))
    dq = np.matmul(ds, k) * scale
    dk = np.matmul(np.swapaxes(ds, -1, -2), q) * scale
    return dq, dk, dv


# ---- convolution, pooling, batch norm (fastml.nn.functional) -------------------------

def conv2d(x, w, b=None, stride=(1, 1), pads=((0, 0), (0, 0)), dilation=(1, 1), groups=1):
    """Cross-correlation in float64: zero-pad, then one einsum per kernel tap and group.

    pads: ((top, bottom), (left, right))."""
    x = np.asarray(x, dtype=np.float64)
    w = np.asarray(w, dtype=np.float64)
    n, c, h, wd = x.shape
    o, cg, kh, kw = w.shape
    (sh, sw), (dh, dw) = stride, dilation
    xp = np.pad(x, ((0, 0), (0, 0), pads[0], pads[1]))
    ho = (xp.shape[2] - dh * (kh - 1) - 1) // sh + 1
    wo = (xp.shape[3] - dw * (kw - 1) - 1) // sw + 1
    og = o // groups
    y = np.zeros((n, o, ho, wo))
    for g in range(groups):
        xg = xp[:, g * cg:(g + 1) * cg]
        wg = w[g * og:(g + 1) * og]
        for a in range(kh):
            for bb in range(kw):
                patch = xg[:, :, a * dh: a * dh + sh * (ho - 1) + 1: sh,
                           bb * dw: bb * dw + sw * (wo - 1) + 1: sw]
                y[:, g * og:(g + 1) * og] += np.einsum("nchw,oc->nohw", patch, wg[:, :, a, bb])
    if b is not None:
        y += np.asarray(b, dtype=np.float64)[None, :, None, None]
    return y


def conv2d_backward(gy, x, w, stride=(1, 1), pads=((0, 0), (0, 0)), dilation=(1, 1), groups=1):
    """(grad_x, grad_w, grad_b) of conv2d by scattering each tap's contribution, float64."""
    gy = np.asarray(gy, dtype=np.float64)
    x = np.asarray(x, dtype=np.float64)
    w = np.asarray(w, dtype=np.float64)
    n, c, h, wd = x.shape
    o, cg, kh, kw = w.shape
    (sh, sw), (dh, dw) = stride, dilation
    xp = np.pad(x, ((0, 0), (0, 0), pads[0], pads[1]))
    gxp = np.zeros_like(xp)
    gw = np.zeros_like(w)
    ho, wo = gy.shape[2:]
    og = o // groups
    for g in range(groups):
        for a in range(kh):
            for bb in range(kw):
                rows = slice(a * dh, a * dh + sh * (ho - 1) + 1, sh)
                cols = slice(bb * dw, bb * dw + sw * (wo - 1) + 1, sw)
                patch = xp[:, g * cg:(g + 1) * cg, rows, cols]
                gyg = gy[:, g * og:(g + 1) * og]
                gw[g * og:(g + 1) * og, :, a, bb] = np.einsum("nohw,nchw->oc", gyg, patch)
                gxp[:, g * cg:(g + 1) * cg, rows, cols] += np.einsum(
                    "nohw,oc->nchw", gyg, w[g * og:(g + 1) * og, :, a, bb])
    gx = gxp[:, :, pads[0][0]: pads[0][0] + h, pads[1][0]: pads[1][0] + wd]
    return gx, gw, gy.sum(axis=(0, 2, 3))


def _pool_windows(h, k, s, p, d, ceil_mode):
    """Output count and, per output, the window's input positions (padding dropped)."""
    num = h + 2 * p - d * (k - 1) - 1 + (s - 1 if ceil_mode else 0)
    out = num // s + 1
    if ceil_mode and (out - 1) * s >= h + p:
        out -= 1
    return out, [[i * s - p + t * d for t in range(k) if 0 <= i * s - p + t * d < h] for i in range(out)]


def max_pool2d(x, k, s, p=(0, 0), d=(1, 1), ceil_mode=False):
    """(values, flat indices) by explicit loops; NaN wins, the first maximum wins."""
    x = np.asarray(x)
    n, c, h, w = x.shape
    ho, rows = _pool_windows(h, k[0], s[0], p[0], d[0], ceil_mode)
    wo, cols = _pool_windows(w, k[1], s[1], p[1], d[1], ceil_mode)
    y = np.empty((n, c, ho, wo), dtype=x.dtype)
    idx = np.empty((n, c, ho, wo), dtype=np.int64)
    for i in range(ho):
        for j in range(wo):
            for nn in range(n):
                for cc in range(c):
                    best, bi = -np.inf, rows[i][0] * w + cols[j][0]
                    for r in rows[i]:
                        for q in cols[j]:
                            v = x[nn, cc, r, q]
                            if v > best or np.isnan(v):
                                best, bi = v, r * w + q
                            if np.isnan(best):
                                break
                        if np.isnan(best):
                            break
                    y[nn, cc, i, j], idx[nn, cc, i, j] = best, bi
    return y, idx


def avg_pool2d(x, k, s, p=(0, 0), ceil_mode=False, count_include_pad=True, divisor_override=None):
    """PyTorch's average pooling by explicit loops in float64."""
    x = np.asarray(x, dtype=np.float64)
    n, c, h, w = x.shape
    ho, rows = _pool_windows(h, k[0], s[0], p[0], 1, ceil_mode)
    wo, cols = _pool_windows(w, k[1], s[1], p[1], 1, ceil_mode)
    y = np.empty((n, c, ho, wo))
    for i in range(ho):
        h0 = i * s[0] - p[0]
        ph = min(h0 + k[0], h + p[0]) - h0
        for j in range(wo):
            w0 = j * s[1] - p[1]
            pw = min(w0 + k[1], w + p[1]) - w0
            total = x[:, :, rows[i]][:, :, :, cols[j]].sum(axis=(2, 3))
            div = divisor_override or (ph * pw if count_include_pad else len(rows[i]) * len(cols[j]))
            y[:, :, i, j] = total / div
    return y


def adaptive_avg_pool2d(x, out):
    """Mean over PyTorch's adaptive bins [floor(i*H/Ho), ceil((i+1)*H/Ho))."""
    x = np.asarray(x, dtype=np.float64)
    n, c, h, w = x.shape
    y = np.empty((n, c, out[0], out[1]))
    for i in range(out[0]):
        r0, r1 = (i * h) // out[0], -((-(i + 1) * h) // out[0])
        for j in range(out[1]):
            c0, c1 = (j * w) // out[1], -((-(j + 1) * w) // out[1])
            y[:, :, i, j] = x[:, :, r0:r1, c0:c1].mean(axis=(2, 3))
    return y


def batch_norm(x, mean, var, weight=None, bias=None, eps=1e-5):
    """(x - mean) / sqrt(var + eps) * weight + bias per channel (axis 1), float64."""
    x = np.asarray(x, dtype=np.float64)
    shape = (1, -1) + (1,) * (x.ndim - 2)
    y = (x - np.reshape(mean, shape)) / np.sqrt(np.reshape(var, shape) + eps)
    if weight is not None:
        y = y * np.reshape(weight, shape)
    if bias is not None:
        y = y + np.reshape(bias, shape)
    return y


def softmax(x, axis=-1, log=False):
    """Stable softmax / log_softmax in float64."""
    x = np.asarray(x, dtype=np.float64)
    m = np.max(x, axis=axis, keepdims=True)
    e = np.exp(x - m)
    s = e.sum(axis=axis, keepdims=True)
    return x - m - np.log(s) if log else e / s


def layer_norm(x, n_dims, w=None, b=None, eps=1e-5):
    """Over the last n_dims dimensions, biased variance, float64."""
    x = np.asarray(x, dtype=np.float64)
    axes = tuple(range(x.ndim - n_dims, x.ndim))
    mu = x.mean(axis=axes, keepdims=True)
    var = ((x - mu) ** 2).mean(axis=axes, keepdims=True)
    y = (x - mu) / np.sqrt(var + eps)
    if w is not None:
        y = y * np.asarray(w, dtype=np.float64)
    if b is not None:
        y = y + np.asarray(b, dtype=np.float64)
    return y


def layer_norm_backward(dy, x, n_dims, w=None, eps=1e-5):
    """(dx, dw, db) of layer_norm by the textbook formulas, float64."""
    x = np.asarray(x, dtype=np.float64)
    dy = np.asarray(dy, dtype=np.float64)
    axes = tuple(range(x.ndim - n_dims, x.ndim))
    lead = tuple(range(x.ndim - n_dims))
    n = int(np.prod(x.shape[x.ndim - n_dims:]))
    mu = x.mean(axis=axes, keepdims=True)
    rstd = 1.0 / np.sqrt(((x - mu) ** 2).mean(axis=axes, keepdims=True) + eps)
    xhat = (x - mu) * rstd
    g = dy * (np.asarray(w, dtype=np.float64) if w is not None else 1.0)
    dx = rstd * (g - g.sum(axis=axes, keepdims=True) / n
                 - xhat * (g * xhat).sum(axis=axes, keepdims=True) / n)
    return dx, (dy * xhat).sum(axis=lead), dy.sum(axis=lead)


def gelu(x, approximate="none"):
    """x * Phi(x) with math.erf (or the tanh form), float64."""
    import math
    x = np.asarray(x, dtype=np.float64)
    if approximate == "tanh":
        return 0.5 * x * (1 + np.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x ** 3)))
    return x * 0.5 * np.vectorize(math.erfc)(-x / math.sqrt(2))
