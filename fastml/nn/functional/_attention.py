"""Scaled dot-product attention (flash-style forward and backward) and
multi-head attention, with PyTorch's names and semantics on NumPy arrays.

The C kernels (csrc/attention) never build the L x S score matrix: queries are
processed in blocks against blocks of keys with an online softmax (running max
and sum per row), so the extra memory is O(block) plus the packed K/V of the
heads in flight.  Causal blocks above the diagonal are skipped.  Results are
bit-identical for any thread count (fixed tasks, each output row produced by
one task in a fixed order).
"""
import math
import numbers

import numpy as np

from fastml import _profiler
from fastml._config import register_simd_module
from fastml._lib import _attention
from fastml._threads import resolve_n_threads
from fastml._validation import as_float_array, check_scalar, result_dtype

register_simd_module(_attention)

_NO_OFFSETS = np.zeros(0, dtype=np.int64)


def _check_rank(x, name, min_ndim=2):
    if x.ndim < min_ndim:
        raise ValueError(f"{name} must be at least {min_ndim}-D (..., rows, features), got a "
                         f"{x.ndim}-D array of shape {x.shape}")


def _rows_contiguous(x):
    """x with unit stride along the last axis and non-negative strides (C reads rows)."""
    if x.ndim and (x.strides[-1] != x.itemsize and x.shape[-1] > 1) or any(s < 0 for s in x.strides):
        return np.ascontiguousarray(x)
    return x


def _offsets(x, batch_shape, group=1):
    """Element offset of each (rows x cols) matrix of x over batch_shape (C order).

    Dimensions x lacks or has as 1 broadcast (offset 0).  group > 1: x's last
    batch dimension has batch_shape[-1] / group entries, and entry h of the
    result's last dimension reads x's entry h // group (grouped-query heads)."""
    nb = len(batch_shape)
    xb, xs = x.shape[:-2], x.strides[:-2]
    lead = nb - len(xb)
    off = np.zeros(batch_shape, dtype=np.int64)
    for d in range(len(xb)):
        size = batch_shape[lead + d]
        if xb[d] == 1 or size == 0:
            continue
        idx = np.arange(size, dtype=np.int64)
        if group > 1 and d == len(xb) - 1:
            idx //= group
        shape = [1] * nb
        shape[lead + d] = size
        off = off + (idx * (xs[d] // x.itemsize)).reshape(shape)
    return off.reshape(-1)


def _mask_as_additive(attn_mask, dtype):
    """Boolean mask (True = attend) -> 0 / -inf; float mask -> dtype."""
    m = np.asarray(attn_mask)
    if m.dtype == np.bool_:
        add = np.zeros(m.shape, dtype=dtype)
        add[~m] = -np.inf
        return add
    if m.dtype.kind != "f":
        raise TypeError(f"attn_mask must be a boolean or floating-point array, got dtype {m.dtype}")
    return m.astype(dtype, copy=False)


class _Problem:
    """Validated operands of one attention call and their C description."""

    def __init__(self, query, key, value, attn_mask, dropout_p, is_causal, scale, enable_gqa, seed):
        q = as_float_array(query, "query")
        k = as_float_array(key, "key")
        v = as_float_array(value, "value")
        dtype = result_dtype(q, k, v)
        q, k, v = (x.astype(dtype, copy=False) for x in (q, k, v))
        _check_rank(q, "query")
        _check_rank(k, "key")
        _check_rank(v, "value")
        L, E = q.shape[-2:]
        S, Ek = k.shape[-2:]
        Sv, Ev = v.shape[-2:]
        if Ek != E:
            raise ValueError(f"key.shape[-1] ({Ek}) must equal query.shape[-1] ({E}); "
                             f"query {q.shape}, key {k.shape}")
        if Sv != S:
            raise ValueError(f"value.shape[-2] ({Sv}) must equal key.shape[-2] ({S}); "
                             f"key {k.shape}, value {v.shape}")
        if not isinstance(is_causal, (bool, np.bool_)):
            raise TypeError(f"is_causal must be a bool, got {is_causal!r}")
        if is_causal and attn_mask is not None:
            raise ValueError("attn_mask must be None when is_causal=True (PyTorch semantics: "
                             "pass either a mask or is_causal)")
        dropout_p = check_scalar(dropout_p, "dropout_p", float, 0.0)
        if dropout_p >= 1.0:
            raise ValueError(f"dropout_p must be in [0, 1), got {dropout_p}")
        if scale is None:
            scale = 1.0 / math.sqrt(E) if E > 0 else 1.0
        else:
            scale = check_scalar(scale, "scale", float)
            if not math.isfinite(scale):
                raise ValueError(f"scale must be finite, got {scale}")
        if seed is None:
            seed = int(np.random.default_rng().integers(0, 2**63)) if dropout_p > 0 else 0
        elif isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or seed < 0:
            raise TypeError(f"seed must be a non-negative integer or None, got {seed!r}")

        group = 1
        kb, vb = k.shape[:-2], v.shape[:-2]
        if enable_gqa:
            if q.ndim < 3 or k.ndim < 3 or v.ndim < 3:
                raise ValueError("enable_gqa=True needs a heads dimension: query, key and value "
                                 f"of at least 3-D, got {q.shape}, {k.shape}, {v.shape}")
            hq, hk, hv = q.shape[-3], k.shape[-3], v.shape[-3]
            if hk != hv or hk == 0 or hq % hk:
                raise ValueError(f"enable_gqa=True: query heads ({hq}) must be a multiple of key "
                                 f"heads ({hk}) and value heads ({hv}), which must be equal")
            group = hq // hk
            kb = kb[:-1] + (hq,)
            vb = vb[:-1] + (hq,)
        mask = None
        if attn_mask is not None:
            mask = _mask_as_additive(attn_mask, dtype)
        try:
            batch = np.broadcast_shapes(q.shape[:-2], kb, vb,
                                        mask.shape[:-2] if mask is not None and mask.ndim > 2 else ())
        except ValueError:
            raise ValueError(f"batch dimensions of query {q.shape[:-2]}, key {k.shape[:-2]}, "
                             f"value {v.shape[:-2]}"
                             + (f" and attn_mask {mask.shape[:-2]}" if mask is not None else "")
                             + " do not broadcast") from None
        if mask is not None:
            target = batch + (L, S)
            try:
                ok = np.broadcast_shapes(mask.shape, target) == target
            except ValueError:
                ok = False
            if not ok:
                raise ValueError(f"attn_mask of shape {mask.shape} does not broadcast to the "
                                 f"attention weights' shape {target}")
            if mask.ndim < 2:
                mask = mask.reshape((1,) * (2 - mask.ndim) + mask.shape)
            if mask.shape[-1] != S:                    # broadcast over keys: materialise rows
                mask = np.broadcast_to(mask, mask.shape[:-1] + (S,))
            mask = np.ascontiguousarray(mask) if mask.strides[-1] != mask.itemsize else mask
            mask = _rows_contiguous(mask)

        self.q, self.k, self.v, self.mask = _rows_contiguous(q), _rows_contiguous(k), _rows_contiguous(v), mask
        self.dtype, self.batch_shape = dtype, batch
        self.n = int(np.prod(batch)) if batch else 1
        self.L, self.S, self.E, self.Ev = L, S, E, Ev
        self.group, self.causal, self.scale = group, bool(is_causal), float(scale)
        self.dropout_p, self.seed = float(dropout_p), int(seed)

    def c_args(self):
        """(offsets, leading dims) for the binding: offsets of q, k, v, mask, n each."""
        n, item = self.n, self.q.itemsize
        parts = [_offsets(self.q, self.batch_shape), _offsets(self.k, self.batch_shape, self.group),
                 _offsets(self.v, self.batch_shape, self.group),
                 _offsets(self.mask, self.batch_shape) if self.mask is not None
                 else np.zeros(n, dtype=np.int64)]
        offs = np.ascontiguousarray(np.concatenate(parts), dtype=np.int64)

        def ld(x):
            return x.strides[-2] // item if x.shape[-2] > 1 else 0
        mask_ld = ld(self.mask) if self.mask is not None else 0
        return offs, (ld(self.q), ld(self.k), ld(self.v), mask_ld)

    def flops(self):
        L, S = self.L, self.S
        if self.causal and L and S:
            frac = 1 - (S - 1) / (2 * L) if L >= S else (L + 1) / (2 * S)
        else:
            frac = 1.0
        return 2.0 * self.n * L * S * (self.E + self.Ev) * frac


def scaled_dot_product_attention(query, key, value, attn_mask=None, dropout_p=0.0,
                                 is_causal=False, scale=None, enable_gqa=False, *, seed=None,
                                 return_lse=False, n_threads=None):
    """softmax(query key^T * scale + attn_mask) value, like
    ``torch.nn.functional.scaled_dot_product_attention``, flash-style.

    Parameters
    ----------
    query : array_like, shape (..., L, E)
    key : array_like, shape (..., S, E)
    value : array_like, shape (..., S, Ev)
        float32 or float64 (float64 if any is float64).  Batch dimensions
        broadcast against each other (and the mask's).
    attn_mask : array_like, optional
        Broadcastable to (..., L, S).  Boolean: True = take part in attention.
        Float: added to the scaled scores (-inf excludes).  A query row whose
        keys are all excluded gives 0 (never NaN).
    dropout_p : float in [0, 1)
        Dropout on the attention weights (after the softmax), scaled by 1/(1-p).
    is_causal : bool
        Query i attends keys j <= i (top-left aligned lower triangle, like
        PyTorch, also when L != S).  Not together with attn_mask.
    scale : float, optional
        Default 1/sqrt(E).
    enable_gqa : bool
        Grouped-query attention: query has Hq heads (dimension -3), key and
        value Hk heads with Hq % Hk == 0; query head h uses key head h // (Hq/Hk).
    seed : int, optional (keyword)
        Seed of dropout's counter-based generator: the same seed gives the same
        mask for any thread count (pass it to the backward as well).  Default:
        a fresh random seed.
    return_lse : bool (keyword)
        Also return the log-sum-exp of each row's scaled scores (..., L), the
        input of :func:`scaled_dot_product_attention_backward` (-inf for rows
        with no key).
    n_threads : int, optional (keyword)

    Returns
    -------
    out : ndarray (..., L, Ev), and lse (..., L) when return_lse.
    """
    args = (query, key, value, attn_mask, dropout_p, is_causal, scale, enable_gqa, seed,
            return_lse, n_threads)
    if not _profiler.ACTIVE:
        return _sdpa(*args)
    return _profiler.timed("sdpa", _sdpa, args, _sdpa_cost)


def _sdpa(query, key, value, attn_mask, dropout_p, is_causal, scale, enable_gqa, seed,
          return_lse, n_threads):
    nt = resolve_n_threads(n_threads)
    pb = _Problem(query, key, value, attn_mask, dropout_p, is_causal, scale, enable_gqa, seed)
    out = np.empty(pb.batch_shape + (pb.L, pb.Ev), dtype=pb.dtype)
    lse = np.empty(pb.batch_shape + (pb.L,), dtype=pb.dtype) if return_lse else None
    if out.size:
        offs, ld = pb.c_args()
        _attention.forward(pb.q, pb.k, pb.v, pb.mask, out, lse, pb.n, pb.L, pb.S, pb.E, pb.Ev,
                           offs, ld, pb.causal, pb.scale, pb.dropout_p, pb.seed, nt)
    elif lse is not None and lse.size:                # Ev == 0: lse is still defined
        lse[...] = _lse_reference(pb) if pb.S else -np.inf
    return (out, lse) if return_lse else out


def _lse_reference(pb):
    """log-sum-exp when Ev == 0 (no output to compute; rare): plain NumPy."""
    q = np.broadcast_to(pb.q, pb.batch_shape + pb.q.shape[-2:]).astype(np.float64)
    k = pb.k
    if pb.group > 1:
        k = np.repeat(k, pb.group, axis=-3)
    s = q @ np.swapaxes(np.broadcast_to(k, pb.batch_shape + k.shape[-2:]), -1, -2) * pb.scale
    if pb.mask is not None:
        s = s + pb.mask
    if pb.causal:
        s = np.where(np.tril(np.ones((pb.L, pb.S), dtype=bool)), s, -np.inf)
    m = s.max(-1, keepdims=True)
    m = np.where(np.isfinite(m), m, 0)
    with np.errstate(divide="ignore"):
        return (np.log(np.exp(s - m).sum(-1, keepdims=True)) + m)[..., 0]


def _sdpa_cost(args, result):
    out = result[0] if isinstance(result, tuple) else result
    q, k, v = (np.shape(a) for a in args[:3])
    L, S, E, Ev = q[-2], k[-2], q[-1], v[-1]
    n = out.size // max(L * Ev, 1) if out.size else 0
    frac = 0.5 if args[5] else 1.0
    return dict(shapes=(q, k, v), dtype=str(out.dtype), threads=resolve_n_threads(args[10]),
                flops=2.0 * n * L * S * (E + Ev) * frac,
                bytes=float(n * (L * E + S * E + S * Ev + L * Ev) * out.itemsize))


def _sum_to_shape(g, shape, group=1):
    """Sum a gradient over the broadcast batch dimensions back to `shape`
    (and over the query heads of each key head when group > 1)."""
    if group > 1:
        lead = g.shape[:-3]
        g = g.reshape(lead + (g.shape[-3] // group, group) + g.shape[-2:]).sum(axis=-3)
    extra = g.ndim - len(shape)
    if extra:
        g = g.sum(axis=tuple(range(extra)))
    axes = tuple(i for i, (a, b) in enumerate(zip(g.shape, shape)) if b == 1 and a != 1)
    if axes:
        g = g.sum(axis=axes, keepdims=True)
    return np.ascontiguousarray(g.reshape(shape))


def scaled_dot_product_attention_backward(grad_out, query, key, value, out, lse, attn_mask=None,
                                          dropout_p=0.0, is_causal=False, scale=None,
                                          enable_gqa=False, *, seed=None, n_threads=None):
    """Gradients (grad_query, grad_key, grad_value) of
    :func:`scaled_dot_product_attention` (FlashAttention-2 backward: P is
    recomputed block by block from lse, D = rowsum(grad_out * out); O(block)
    extra memory).

    grad_out, out : (..., L, Ev) (out as returned by the forward); lse :
    (..., L) from the forward with ``return_lse=True``.  The other arguments
    must be those of the forward (with dropout: the same ``seed``).  Gradients
    of broadcast operands are summed over the broadcast dimensions, so each has
    its input's shape.
    """
    args = (grad_out, query, key, value, out, lse, attn_mask, dropout_p, is_causal, scale,
            enable_gqa, seed, n_threads)
    if not _profiler.ACTIVE:
        return _sdpa_backward(*args)
    return _profiler.timed("sdpa_backward", _sdpa_backward, args, _sdpa_backward_cost)


def _sdpa_backward(grad_out, query, key, value, out, lse, attn_mask, dropout_p, is_causal, scale,
                   enable_gqa, seed, n_threads):
    nt = resolve_n_threads(n_threads)
    if dropout_p and seed is None:
        raise ValueError("dropout_p > 0 needs the forward's seed to regenerate its dropout mask")
    pb = _Problem(query, key, value, attn_mask, dropout_p, is_causal, scale, enable_gqa, seed)
    qshape, kshape, vshape = np.shape(query), np.shape(key), np.shape(value)
    oshape = pb.batch_shape + (pb.L, pb.Ev)
    dout = as_float_array(grad_out, "grad_out", pb.dtype)
    o = as_float_array(out, "out", pb.dtype)
    lse = as_float_array(lse, "lse", pb.dtype)
    for name, x, shape in (("grad_out", dout, oshape), ("out", o, oshape),
                           ("lse", lse, pb.batch_shape + (pb.L,))):
        if x.shape != shape:
            raise ValueError(f"{name} must have shape {shape} (the forward's), got {x.shape}")
    dout, o, lse = (np.ascontiguousarray(x) for x in (dout, o, lse))
    n, L, S, E, Ev = pb.n, pb.L, pb.S, pb.E, pb.Ev
    full = n and L and S                    # else the gradients are all zero
    alloc = np.empty if full else np.zeros   # the kernel writes every element
    dq = alloc(pb.batch_shape + (L, E), dtype=pb.dtype)
    dk = alloc(pb.batch_shape + (S, E), dtype=pb.dtype)
    dv = alloc(pb.batch_shape + (S, Ev), dtype=pb.dtype)
    if full:
        offs, ld = pb.c_args()
        _attention.backward(pb.q, pb.k, pb.v, pb.mask, o, lse, dout, dq, dk, dv, n, L, S, E, Ev,
                            offs, ld, pb.causal, pb.scale, pb.dropout_p, pb.seed, nt)
    return (_sum_to_shape(dq, qshape), _sum_to_shape(dk, kshape, pb.group),
            _sum_to_shape(dv, vshape, pb.group))


def _sdpa_backward_cost(args, result):
    dq, dk, dv = result
    L, E, S, Ev = dq.shape[-2], dq.shape[-1], dk.shape[-2], dv.shape[-1]
    n = int(np.prod(np.shape(args[0])[:-2])) if len(np.shape(args[0])) > 2 else 1
    frac = 0.5 if args[8] else 1.0
    return dict(shapes=(np.shape(args[1]), np.shape(args[2]), np.shape(args[3])),
                dtype=str(dq.dtype), threads=resolve_n_threads(args[12]),
                flops=2.0 * n * L * S * (3 * E + 2 * Ev) * frac,
                bytes=float(n * (2 * L * E + 2 * S * E + 2 * S * Ev + 2 * L * Ev) * dq.itemsize))


def _split3(w, name, e3_axis_len=None):
    """(w_q, w_k, w_v) from a packed array (stacked on axis 0) or a 3-sequence."""
    if isinstance(w, (tuple, list)):
        if len(w) != 3:
            raise ValueError(f"{name} as a sequence must hold 3 arrays (q, k, v), got {len(w)}")
        return [None if a is None else as_float_array(a, f"{name}[{i}]") for i, a in enumerate(w)]
    w = as_float_array(w, name)
    if w.shape[0] % 3:
        raise ValueError(f"{name} packs q, k and v along axis 0, so its length must be a "
                         f"multiple of 3; got shape {w.shape}")
    e = w.shape[0] // 3
    return [w[:e], w[e:2 * e], w[2 * e:]]


def multi_head_attention(x_q, x_kv, w_qkv, b_qkv, w_out, b_out, num_heads, attn_mask=None,
                         is_causal=False, *, dropout_p=0.0, seed=None, n_threads=None):
    """Multi-head attention, batch first: project, split heads, attend, merge, project.

        q = x_q W_q^T + b_q,  k = x_kv W_k^T + b_k,  v = x_kv W_v^T + b_v   (E = embed dim)
        head h: softmax(q_h k_h^T / sqrt(E/H) + mask) v_h                (flash attention)
        out = concat_h(head h) W_out^T + b_out

    Parameters
    ----------
    x_q : (B, L, Dq) or (L, Dq);  x_kv : (B, S, Dkv) or (S, Dkv), or None (= x_q)
    w_qkv : (3E, D) packed like torch's ``in_proj_weight`` (then Dq == Dkv), or
        a tuple (w_q (E, Dq), w_k (E, Dkv), w_v (E, Dkv)).
    b_qkv : (3E,) or a tuple of three (E,) or None.
    w_out : (E_out, E);  b_out : (E_out,) or None.
    num_heads : int dividing E.
    attn_mask : SDPA semantics (True / 0 = attend, False / -inf = not), broadcast
        to (B, num_heads, L, S).  Note torch.nn.MultiheadAttention's boolean
        mask means the opposite (True = masked out).
    is_causal : query i attends keys j <= i (not together with attn_mask).

    Returns (B, L, E_out) (or (L, E_out) for unbatched input).  When x_kv is None
    and w_qkv is packed, the three projections are one GEMM and the heads are
    strided views of its output (no copies).
    """
    xq = as_float_array(x_q, "x_q")
    if xq.ndim not in (2, 3):
        raise ValueError(f"x_q must be (B, L, D) or (L, D), got shape {xq.shape}")
    unbatched = xq.ndim == 2
    self_attn = x_kv is None
    xkv = xq if self_attn else as_float_array(x_kv, "x_kv")
    if xkv.ndim != xq.ndim:
        raise ValueError(f"x_kv must have x_q's rank ({xq.ndim}), got shape {xkv.shape}")
    if unbatched:
        xq, xkv = xq[None], xkv[None]
    if xkv.shape[0] != xq.shape[0]:
        raise ValueError(f"x_q and x_kv must have the same batch size, got {xq.shape[0]} and "
                         f"{xkv.shape[0]}")
    num_heads = check_scalar(num_heads, "num_heads", int, 1)
    from fastml.nn.functional._transformer import linear
    packed = not isinstance(w_qkv, (tuple, list))
    ws = _split3(w_qkv, "w_qkv")
    bs = [None] * 3 if b_qkv is None else _split3(b_qkv, "b_qkv")
    E = ws[0].shape[0]
    for name, w in zip(("w_q", "w_k", "w_v"), ws):
        if w.ndim != 2:
            raise ValueError(f"{name} must be 2-D (E, D), got shape {w.shape}")
    if ws[1].shape[0] != E or ws[2].shape[0] != E:
        raise ValueError(f"w_q, w_k and w_v must have the same number of rows (E), got "
                         f"{[w.shape for w in ws]}")
    for name, w, x in (("w_q", ws[0], xq), ("w_k", ws[1], xkv), ("w_v", ws[2], xkv)):
        if w.shape[1] != x.shape[-1]:
            src = "x_q" if x is xq else "x_kv"
            raise ValueError(f"{name} (part of w_qkv) must have {src}'s feature size "
                             f"{x.shape[-1]} columns, got shape {w.shape}")
    if E % num_heads:
        raise ValueError(f"num_heads ({num_heads}) must divide the embedding dimension E ({E})")
    hd = E // num_heads
    B, L, S = xq.shape[0], xq.shape[1], xkv.shape[1]
    if self_attn and packed:
        w3 = np.concatenate(ws) if not isinstance(w_qkv, np.ndarray) else w_qkv
        b3 = None if b_qkv is None else np.concatenate(bs)
        qkv = linear(xq, w3, b3, n_threads=n_threads)               # (B, L, 3E)
        q, k, v = qkv[..., :E], qkv[..., E:2 * E], qkv[..., 2 * E:]
    else:
        q = linear(xq, ws[0], bs[0], n_threads=n_threads)
        k = linear(xkv, ws[1], bs[1], n_threads=n_threads)
        v = linear(xkv, ws[2], bs[2], n_threads=n_threads)

    def heads(t, n):                                   # (B, n, E) -> (B, H, n, hd) view
        return t.reshape(B, n, num_heads, hd).swapaxes(1, 2)
    o = scaled_dot_product_attention(heads(q, L), heads(k, S), heads(v, S), attn_mask=attn_mask,
                                     dropout_p=dropout_p, is_causal=is_causal, seed=seed,
                                     n_threads=n_threads)
    merged = np.ascontiguousarray(o.swapaxes(1, 2)).reshape(B, L, E)
    out = linear(merged, w_out, b_out, n_threads=n_threads)
    return out[0] if unbatched else out
