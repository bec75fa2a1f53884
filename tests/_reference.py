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
