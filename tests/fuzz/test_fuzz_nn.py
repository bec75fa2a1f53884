"""Fuzz: fastml.nn.functional."""
import numpy as np
from hypothesis import given, strategies as st
from numpy.testing import assert_allclose

from fastml.nn import functional as F
from tests import _reference as ref
from tests.fuzz._contract import FLOATS, arrays, call, finite_float, no_new_nan, tol

# public name -> the test that drives it (200 generated cases each)
_TESTS = {
    "softmax": "test_softmax", "log_softmax": "test_softmax",
    "layer_norm": "test_layer_norm", "layer_norm_backward": "test_layer_norm",
    "gelu": "test_activations", "relu": "test_activations", "dropout": "test_activations",
    "linear": "test_linear", "sinusoidal_positional_encoding": "test_sinusoidal_positional_encoding",
    "scaled_dot_product_attention": "test_sdpa", "scaled_dot_product_attention_backward": "test_sdpa",
    "multi_head_attention": "test_multi_head_attention",
    "conv1d": "test_conv", "conv1d_backward": "test_conv", "conv2d": "test_conv",
    "conv2d_backward": "test_conv", "conv_output_shape": "test_conv_shape_helpers",
    "conv2d_flops": "test_conv_shape_helpers", "max_pool2d": "test_pooling",
    "max_pool2d_backward": "test_pooling", "avg_pool2d": "test_pooling",
    "avg_pool2d_backward": "test_pooling", "adaptive_avg_pool2d": "test_pooling",
    "adaptive_avg_pool2d_backward": "test_pooling", "batch_norm": "test_batch_norm",
}
COVERS = {"fastml.nn.functional." + k: v for k, v in _TESTS.items()}

small = st.integers(0, 5)
pos = st.integers(1, 5)
DIMS = st.sampled_from([-1, 0, 1, 2, -3, 5])


def _maybe_wrong(data, value, wrong):
    """value, or sometimes one of `wrong` (an invalid argument)."""
    return data.draw(st.sampled_from(wrong)) if data.draw(st.integers(0, 5)) == 0 else value


@given(st.data())
def test_softmax(data):
    x = data.draw(arrays((small, small, small)))
    dim = data.draw(DIMS)
    for fn, log in ((F.softmax, False), (F.log_softmax, True)):
        res, err = call(fn, x, dim)
        if err is not None:
            continue
        no_new_nan(res, x)
        if finite_float(x) and x.size:
            assert_allclose(res, ref.softmax(x.astype(np.float64), axis=dim, log=log), **tol(x.dtype))



@given(st.data())
def test_layer_norm(data):
    x = data.draw(arrays((small, small, pos)))
    ns = _maybe_wrong(data, x.shape[-1:], [(), (7,), x.shape[-2:] + (1,), -1])
    w = data.draw(st.sampled_from([None, "ones"]))
    w = None if w is None else np.linspace(0.5, 1.5, x.shape[-1]).astype(x.dtype if x.dtype in FLOATS else np.float64)
    res, err = call(F.layer_norm, x, ns, w, None, extra_names=["normalized_shape", "input"])
    if err is None:
        no_new_nan(res, x)
        if finite_float(x) and x.size and x.shape[-1] > 1:
            assert_allclose(res, ref.layer_norm(x.astype(np.float64), 1, w), **tol(x.dtype, big=10))
    dy = data.draw(arrays(x.shape, dtypes=FLOATS, special=False))
    res, err = call(F.layer_norm_backward, dy, x, ns, w, None, extra_names=["normalized_shape"])
    if err is None:
        assert isinstance(res, tuple)
        no_new_nan(res[0], x, dy)



@given(st.data())
def test_activations(data):
    x = data.draw(arrays((small, small)))
    approx = data.draw(st.sampled_from(["none", "tanh", "bad"]))
    res, err = call(F.gelu, x, approximate=approx)
    if err is None:
        no_new_nan(res, x)
        if finite_float(x) and x.size:
            assert_allclose(res, ref.gelu(x.astype(np.float64), approx), **tol(x.dtype, big=1))
    res, err = call(F.relu, x)
    if err is None:
        if finite_float(x):
            assert np.array_equal(res, np.maximum(x, 0))
    p = data.draw(st.sampled_from([0.0, 0.3, 1.0, -0.1, 1.5, np.nan]))
    res, err = call(F.dropout, x, p, seed=data.draw(st.integers(0, 5)))
    if err is None and finite_float(x) and 0 < p < 1:
        kept = res != 0
        assert_allclose(res[kept], (x / (1 - p))[kept], **tol(x.dtype))



@given(st.data())
def test_linear(data):
    n, i, o = data.draw(small), data.draw(small), data.draw(small)
    x = data.draw(arrays((n, i)))
    w = data.draw(arrays((o, _maybe_wrong(data, i, [i + 1]))))
    b = data.draw(st.sampled_from([None, "b"]))
    b = None if b is None else data.draw(arrays((o,), dtypes=FLOATS))
    act = data.draw(st.sampled_from([None, "relu", "gelu", "tanh"]))
    res, err = call(F.linear, x, w, b, act)
    if err is not None:
        return
    no_new_nan(res, x, w, b)
    if finite_float(x, w, b) and act is None:
        expect = x.astype(np.float64) @ w.astype(np.float64).T + (0 if b is None else b)
        assert_allclose(res, expect, **tol(res.dtype, i, big=10))


@given(st.integers(-2, 40), st.integers(-2, 40), st.sampled_from(FLOATS + [np.int32]))
def test_sinusoidal_positional_encoding(length, d_model, dtype):
    res, err = call(F.sinusoidal_positional_encoding, length, d_model, dtype=dtype)
    if err is None:
        assert res.shape == (length, d_model) and np.isfinite(res).all()
        assert (np.abs(res) <= 1 + 1e-6).all()


def _qkv(data):
    b, l, s, e = data.draw(small), data.draw(small), data.draw(small), data.draw(pos)
    q = data.draw(arrays((b, 2, l, e)))
    k = data.draw(arrays((b, 2, s, _maybe_wrong(data, e, [e + 1]))))
    v = data.draw(arrays((b, 2, s, data.draw(pos))))
    return q, k, v


@given(st.data())
def test_sdpa(data):
    q, k, v = _qkv(data)
    causal = data.draw(st.booleans())
    mask = None
    if data.draw(st.integers(0, 2)) == 0:
        mask = data.draw(st.sampled_from(["bool", "float", "bad"]))
        shape = (q.shape[-2], k.shape[-2]) if mask != "bad" else (3, 7)
        mask = (np.arange(np.prod(shape)).reshape(shape) % 3 != 0) if mask == "bool" else \
            np.zeros(shape, np.float32)
    res, err = call(F.scaled_dot_product_attention, q, k, v, attn_mask=mask, is_causal=causal,
                    return_lse=True, extra_names=["query", "key", "value", "attn_mask", "is_causal"])
    if err is not None:
        return
    out, lse = res
    no_new_nan(out, q, k, v)
    if finite_float(q, k, v) and q.size and k.size and mask is None:
        assert_allclose(out, ref.sdpa(q.astype(np.float64), k.astype(np.float64), v.astype(np.float64),
                                      causal=causal), **tol(out.dtype, big=10))
    g = np.ones_like(out)
    res, err = call(F.scaled_dot_product_attention_backward, g, q, k, v, out, lse, attn_mask=mask,
                    is_causal=causal, extra_names=["query", "key", "value", "grad_out"])
    if err is None:
        for r, a in zip(res, (q, k, v)):
            assert r.shape == a.shape



@given(st.data())
def test_multi_head_attention(data):
    b, l, s = data.draw(small), data.draw(pos), data.draw(pos)
    heads = data.draw(st.sampled_from([1, 2, 3, 0]))
    e = data.draw(st.sampled_from([2, 4, 6]))
    xq = data.draw(arrays((b, l, e), dtypes=FLOATS))
    xkv = data.draw(arrays((b, s, e), dtypes=FLOATS))
    w = data.draw(arrays((3 * e, _maybe_wrong(data, e, [e + 1])), dtypes=FLOATS, special=False, scale=0.3))
    bq = data.draw(arrays((3 * e,), dtypes=FLOATS, special=False))
    wo = data.draw(arrays((e, e), dtypes=FLOATS, special=False, scale=0.3))
    res, err = call(F.multi_head_attention, xq, xkv, w, bq, wo, None, heads,
                    is_causal=data.draw(st.booleans()))
    if err is None:
        assert res.shape == xq.shape
        no_new_nan(res, xq, xkv)


def _conv_args(data, nd):
    n, c, o = data.draw(small), data.draw(pos), data.draw(pos)
    groups = data.draw(st.sampled_from([1, 1, c, 2, 0]))
    sp = tuple(data.draw(st.integers(0, 7)) for _ in range(nd))
    ks = tuple(data.draw(st.integers(1, 4)) for _ in range(nd))
    cg = max(c // groups, 1) if groups else c
    x = data.draw(arrays((n, c) + sp))
    w = data.draw(arrays((o * (groups if groups == c else 1), _maybe_wrong(data, cg, [cg + 1])) + ks))
    kw = dict(stride=data.draw(st.sampled_from([1, 2, 3, 0])),
              padding=data.draw(st.sampled_from([0, 1, 2, "same", "valid", -1])),
              dilation=data.draw(st.sampled_from([1, 2, 0])), groups=groups)
    if kw["padding"] == "same":
        kw["stride"] = 1
    return x, w, kw


@given(st.data())
def test_conv(data):
    nd = data.draw(st.sampled_from([1, 2]))
    x, w, kw = _conv_args(data, nd)
    fwd, bwd = (F.conv1d, F.conv1d_backward) if nd == 1 else (F.conv2d, F.conv2d_backward)
    res, err = call(fwd, x, w, None, **kw)
    if err is not None:
        return
    no_new_nan(res, x, w)
    if nd == 2 and finite_float(x, w) and isinstance(kw["padding"], int) and x.size and w.size:
        p = kw["padding"]
        expect = ref.conv2d(x.astype(np.float64), w.astype(np.float64), None, (kw["stride"],) * 2,
                            ((p, p), (p, p)), (kw["dilation"],) * 2, kw["groups"])
        assert_allclose(res, expect, **tol(res.dtype, w[0].size, big=10))
    gy = np.ones_like(res)
    res2, err = call(bwd, gy, x, w, **kw, extra_names=["grad_output"])
    if err is None:
        gx, gw, gb = res2
        assert gx.shape == x.shape and gw.shape == w.shape



@given(st.data())
def test_conv_shape_helpers(data):
    shape_in = tuple(data.draw(st.integers(-1, 9)) for _ in range(data.draw(st.sampled_from([3, 4, 2]))))
    shape_w = tuple(data.draw(st.integers(-1, 4)) for _ in range(len(shape_in)))
    kw = dict(stride=data.draw(st.sampled_from([1, 2, 0])), padding=data.draw(st.sampled_from([0, 1, -1])),
              dilation=data.draw(st.sampled_from([1, 2])), groups=data.draw(st.sampled_from([1, 2])))
    res, err = call(F.conv_output_shape, shape_in, shape_w, **kw)
    if err is None:
        assert all(int(s) >= 1 for s in res[2:])
    res, err = call(F.conv2d_flops, shape_in, shape_w, **kw)
    if err is None:
        assert res >= 0



@given(st.data())
def test_pooling(data):
    x = data.draw(arrays((small, pos, st.integers(0, 8), st.integers(0, 8))))
    k = data.draw(st.sampled_from([1, 2, 3, 0, (2, 1), 9]))
    s = data.draw(st.sampled_from([None, 1, 2, 0]))
    p = data.draw(st.sampled_from([0, 1, 2, -1]))
    ceil = data.draw(st.booleans())
    res, err = call(F.max_pool2d, x, k, s, p, ceil_mode=ceil, return_indices=True)
    if err is None:
        y, idx = res
        no_new_nan(y, x)
        gx, err2 = call(F.max_pool2d_backward, np.ones_like(y), x, k, s, p, ceil_mode=ceil, indices=idx,
                        extra_names=["grad_output"])
        assert err2 is None and gx.shape == x.shape
    res, err = call(F.avg_pool2d, x, k, s, p, ceil_mode=ceil,
                    count_include_pad=data.draw(st.booleans()))
    if err is None:
        no_new_nan(res, x)
        gx, err2 = call(F.avg_pool2d_backward, np.ones_like(res), x, k, s, p, ceil_mode=ceil,
                        extra_names=["grad_output"])
        assert err2 is None and gx.shape == x.shape
    out = data.draw(st.sampled_from([1, 2, (3, 2), 0, None]))
    res, err = call(F.adaptive_avg_pool2d, x, out)
    if err is None:
        no_new_nan(res, x)
        if finite_float(x) and x.size and out not in (None, 0):
            osz = (out, out) if isinstance(out, int) else out
            assert_allclose(res, ref.adaptive_avg_pool2d(x.astype(np.float64), osz), **tol(x.dtype, big=10))
        gx, err2 = call(F.adaptive_avg_pool2d_backward, np.ones_like(res), x, extra_names=["grad_output"])
        assert err2 is None and gx.shape == x.shape



@given(st.data())
def test_batch_norm(data):
    x = data.draw(arrays((small, pos, small, small)))
    c = x.shape[1]
    mean = data.draw(arrays((_maybe_wrong(data, c, [c + 1]),), dtypes=FLOATS, special=False))
    var = np.abs(data.draw(arrays((c,), dtypes=FLOATS, special=False)))
    training = data.draw(st.booleans())
    res, err = call(F.batch_norm, x, mean.copy(), var.copy(), training=training,
                    eps=data.draw(st.sampled_from([1e-5, 0.0, -1.0])))
    if err is None:
        no_new_nan(res, x)
        if not training and finite_float(x):
            expect = ref.batch_norm(x.astype(np.float64), mean.astype(np.float64), var.astype(np.float64))
            assert_allclose(res, expect, **tol(x.dtype, big=1e3))
