"""Attention: fastml.nn.functional.scaled_dot_product_attention (and its
backward) against torch.nn.functional.scaled_dot_product_attention.

Shapes are (B, H, L, D): query, key and value (B, H, L, D), self-attention.
Flops: 4*B*H*L*S*D for the forward (half for causal), 2.5x that for the
backward (five products instead of two).
Bars from the attention issue (ratio = torch time / fastml time, float32, 1
and 2 threads, torch 2.13 CPU): (4, 8, 1024, 64) >= 1.3; causal >= 1.5;
(1, 8, 4096, 64) >= 1.3; (32, 12, 128, 64) with an additive padding mask
>= 1.0; backward of (4, 8, 1024, 64) >= 1.0 against torch autograd;
layer_norm and softmax on (8192, 1024) >= 1.0.  (The (1, 1, 16384, 64)
peak-memory bar is a test: tests/nn/test_attention_memory.py.)
"""
import numpy as np

from fastml.bench._case import Case, Peer, relative_tolerance


def _qkv(rng, dtype, shape):
    return tuple(rng.standard_normal(shape).astype(dtype) for _ in range(3))


def _make_plain(rng, dtype, shape):
    return _qkv(rng, dtype, shape)


def _make_padded(rng, dtype, shape):
    """Additive padding mask (B, 1, 1, S): sequence b keeps its first len_b keys."""
    B, H, L, D = shape
    q, k, v = _qkv(rng, dtype, shape)
    lengths = rng.integers(max(1, L // 2), L + 1, size=B)
    mask = np.where(np.arange(L)[None, :] < lengths[:, None], 0.0, -np.inf).astype(dtype)
    return q, k, v, mask.reshape(B, 1, 1, L)


def _make_backward(rng, dtype, shape):
    from fastml.nn.functional import scaled_dot_product_attention
    q, k, v = _qkv(rng, dtype, shape)
    out, lse = scaled_dot_product_attention(q, k, v, return_lse=True)
    grad = rng.standard_normal(out.shape).astype(dtype)
    return q, k, v, out, lse, grad


def _fastml(causal):
    def setup(q, k, v, mask=None, n_threads=1):
        from fastml.nn.functional import scaled_dot_product_attention
        return lambda: scaled_dot_product_attention(q, k, v, attn_mask=mask, is_causal=causal,
                                                    n_threads=n_threads)
    return setup


def _torch(causal):
    def setup(q, k, v, mask=None):
        import torch
        t = [torch.from_numpy(x) for x in (q, k, v)]
        m = None if mask is None else torch.from_numpy(mask)
        return lambda: torch.nn.functional.scaled_dot_product_attention(*t, attn_mask=m,
                                                                         is_causal=causal)
    return setup


def _fastml_backward(q, k, v, out, lse, grad, n_threads):
    from fastml.nn.functional import scaled_dot_product_attention_backward
    return lambda: np.concatenate([g.ravel() for g in scaled_dot_product_attention_backward(
        grad, q, k, v, out, lse, n_threads=n_threads)])


def _torch_backward(q, k, v, out, lse, grad):
    """torch autograd's backward of its SDPA (the forward is outside the timing)."""
    import torch
    t = [torch.from_numpy(x).requires_grad_() for x in (q, k, v)]
    o = torch.nn.functional.scaled_dot_product_attention(*t)
    g = torch.from_numpy(grad)

    def run():
        grads = torch.autograd.grad(o, t, g, retain_graph=True)
        return np.concatenate([x.numpy().ravel() for x in grads])
    return run


def _make_rows(rng, dtype, shape):
    rows, n = shape
    x = rng.standard_normal((rows, n)).astype(dtype)
    return x, (1 + 0.1 * rng.standard_normal(n)).astype(dtype), (0.1 * rng.standard_normal(n)).astype(dtype)


def _fastml_layer_norm(x, w, b, n_threads):
    from fastml.nn.functional import layer_norm
    return lambda: layer_norm(x, x.shape[-1], w, b, n_threads=n_threads)


def _torch_layer_norm(x, w, b):
    import torch
    tx, tw, tb = (torch.from_numpy(a) for a in (x, w, b))
    return lambda: torch.nn.functional.layer_norm(tx, (x.shape[-1],), tw, tb)


def _fastml_softmax(x, w, b, n_threads):
    from fastml.nn.functional import softmax
    return lambda: softmax(x, -1, n_threads=n_threads)


def _torch_softmax(x, w, b):
    import torch
    tx = torch.from_numpy(x)
    return lambda: torch.softmax(tx, -1)


def _rows_bytes(shape, dtype):
    return 2.0 * shape[0] * shape[1] * np.dtype(dtype).itemsize


def _flops(shape, factor=1.0):
    B, H, L, D = shape
    return 4.0 * B * H * L * L * D * factor


def _bytes(shape, dtype, n_arrays=4):
    B, H, L, D = shape
    return float(n_arrays * B * H * L * D * np.dtype(dtype).itemsize)


def _rtol(dtype, shape):
    return relative_tolerance(dtype, reduction_length=shape[2])


def _case(name, sizes, make_inputs, fastml, torch_setup, flops, nbytes=_bytes):
    return Case(name=name, family="attention", dims=("B", "H", "L", "D"), sizes=sizes,
                make_inputs=make_inputs, fastml=fastml, peers={"torch": Peer("torch", torch_setup)},
                flops=flops, bytes=nbytes, rtol=_rtol)


CASES = [
    _case("sdpa", {
        "smoke": [(2, 3, 37, 16)],
        "quick": [(4, 8, 1024, 64)],
        "full": [(4, 8, 1024, 64), (1, 8, 4096, 64)],
    }, _make_plain, _fastml(False), _torch(False), _flops),
    _case("sdpa_causal", {
        "smoke": [(2, 3, 37, 16)],
        "quick": [(4, 8, 1024, 64)],
        "full": [(4, 8, 1024, 64)],
    }, _make_plain, _fastml(True), _torch(True), lambda s: _flops(s, 0.5)),
    _case("sdpa_padmask", {
        "smoke": [(3, 2, 29, 16)],
        "quick": [(32, 12, 128, 64)],
        "full": [(32, 12, 128, 64)],
    }, _make_padded, _fastml(False), _torch(False), _flops),
    _case("sdpa_backward", {
        "smoke": [(2, 3, 37, 16)],
        "quick": [(4, 8, 1024, 64)],
        "full": [(4, 8, 1024, 64)],
    }, _make_backward, _fastml_backward, _torch_backward, lambda s: _flops(s, 2.5),
        lambda s, dt: _bytes(s, dt, 10)),
    Case(name="layer_norm", family="attention", dims=("rows", "n"),
         sizes={"smoke": [(33, 70)], "quick": [(8192, 1024)], "full": [(8192, 1024)]},
         make_inputs=_make_rows, fastml=_fastml_layer_norm,
         peers={"torch": Peer("torch", _torch_layer_norm)}, flops=lambda s: 0.0, bytes=_rows_bytes,
         rtol=lambda dtype, shape: relative_tolerance(dtype, 64)),
    Case(name="softmax", family="attention", dims=("rows", "n"),
         sizes={"smoke": [(33, 70)], "quick": [(8192, 1024)], "full": [(8192, 1024)]},
         make_inputs=_make_rows, fastml=_fastml_softmax,
         peers={"torch": Peer("torch", _torch_softmax)}, flops=lambda s: 0.0, bytes=_rows_bytes,
         rtol=lambda dtype, shape: relative_tolerance(dtype, 64)),
]
