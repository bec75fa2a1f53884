"""Convolution and pooling: fastml.nn.functional against PyTorch (NCHW and
channels_last) and onnxruntime.

Conv shapes are (n, c, h, w, o, k, stride, pad, groups): x (n, c, h, w), weight
(o, c/groups, k, k).  Pooling shapes are (n, c, h, w, k, stride, pad).  Every
library gets its best layout: torch on NCHW tensors (its default) and on
channels_last tensors converted before the clock starts; onnxruntime runs a
one-node graph (Conv or MaxPool) with ``intra_op_num_threads`` = the thread
count and idle spinning off.  fastml takes and returns NCHW NumPy arrays, and
any layout change it makes is inside its time.

Bars from the convolution issue (ratio = peer time / fastml time, float32,
1 and 2 threads; "fastest" = the fastest of the three peers):

  conv3x3        x (8,64,56,56)   w (64,64,3,3) pad 1        >= 1.2 vs torch NCHW, >= 1.0 vs fastest
  conv1x1        x (8,256,56,56)  w (64,256,1,1)             >= 1.0 vs fastest
  conv7x7_stem   x (8,3,224,224)  w (64,3,7,7) stride 2 pad 3 >= 1.0 vs fastest
  conv3x3_s2     x (8,128,28,28)  w (128,128,3,3) stride 2 pad 1 >= 1.0 vs fastest
  depthwise3x3   x (8,256,28,28)  w (256,1,3,3) groups 256 pad 1 >= 1.0 vs fastest
  conv3x3_backward  grad_input + grad_weight of conv3x3    >= 1.0 vs torch autograd
  max_pool3x3_s2 x (8,64,112,112) kernel 3 stride 2         >= 1.0 vs torch and onnxruntime
"""
import numpy as np

from fastml.bench._case import Case, Peer, relative_tolerance

CONV_DIMS = ("n", "c", "h", "w", "o", "k", "stride", "pad", "groups")
POOL_DIMS = ("n", "c", "h", "w", "k", "stride", "pad")


def _out(size, k, stride, pad):
    return (size + 2 * pad - k) // stride + 1


# ---- inputs --------------------------------------------------------------------

def _conv_inputs(rng, dtype, shape):
    n, c, h, w, o, k, stride, pad, groups = shape
    x = rng.standard_normal((n, c, h, w), dtype=np.float32).astype(dtype, copy=False)
    wt = rng.standard_normal((o, c // groups, k, k), dtype=np.float32).astype(dtype, copy=False)
    wt *= np.asarray(1.0 / np.sqrt(c // groups * k * k), dtype=dtype)
    return x, wt, stride, pad, groups


def _backward_inputs(rng, dtype, shape):
    n, c, h, w, o, k, stride, pad, groups = shape
    x, wt, stride, pad, groups = _conv_inputs(rng, dtype, shape)
    gy = rng.standard_normal((n, o, _out(h, k, stride, pad), _out(w, k, stride, pad)),
                             dtype=np.float32).astype(dtype, copy=False)
    return gy, x, wt, stride, pad, groups


def _pool_inputs(rng, dtype, shape):
    n, c, h, w, k, stride, pad = shape
    x = rng.standard_normal((n, c, h, w), dtype=np.float32).astype(dtype, copy=False)
    return x, k, stride, pad


# ---- fastml ---------------------------------------------------------------------

def _fastml_conv(x, wt, stride, pad, groups, n_threads):
    from fastml.nn.functional import conv2d
    return lambda: conv2d(x, wt, None, stride, pad, 1, groups, n_threads=n_threads)


def _fastml_backward(gy, x, wt, stride, pad, groups, n_threads):
    from fastml.nn.functional import conv2d_backward
    return lambda: conv2d_backward(gy, x, wt, stride, pad, 1, groups,
                                   output_mask=(True, True, False), n_threads=n_threads)[:2]


def _fastml_pool(x, k, stride, pad, n_threads):
    from fastml.nn.functional import max_pool2d
    return lambda: max_pool2d(x, k, stride, pad, n_threads=n_threads)


# ---- peers --------------------------------------------------------------------------

def _torch_conv(channels_last):
    def setup(x, wt, stride, pad, groups):
        import torch
        tx, tw = torch.from_numpy(x), torch.from_numpy(wt)
        if channels_last:
            tx = tx.contiguous(memory_format=torch.channels_last)
            tw = tw.contiguous(memory_format=torch.channels_last)

        def run():
            with torch.no_grad():
                return torch.nn.functional.conv2d(tx, tw, None, stride, pad, 1, groups)
        return run
    return setup


def _torch_backward(channels_last):
    def setup(gy, x, wt, stride, pad, groups):
        import torch
        fmt = torch.channels_last if channels_last else torch.contiguous_format
        tx = torch.from_numpy(x).contiguous(memory_format=fmt).requires_grad_()
        tw = torch.from_numpy(wt).contiguous(memory_format=fmt).requires_grad_()
        tg = torch.from_numpy(gy).contiguous(memory_format=fmt)
        y = torch.nn.functional.conv2d(tx, tw, None, stride, pad, 1, groups)
        return lambda: torch.autograd.grad(y, (tx, tw), tg, retain_graph=True)
    return setup


def _torch_pool(channels_last):
    def setup(x, k, stride, pad):
        import torch
        tx = torch.from_numpy(x)
        if channels_last:
            tx = tx.contiguous(memory_format=torch.channels_last)
        return lambda: torch.nn.functional.max_pool2d(tx, k, stride, pad)
    return setup


def _ort_session(node, inputs, initializers):
    """An onnxruntime session of one node on the thread count fastml runs with."""
    import onnx
    import onnxruntime as ort
    from onnx import TensorProto, helper, numpy_helper

    import fastml
    elem = {np.dtype(np.float32): TensorProto.FLOAT, np.dtype(np.float64): TensorProto.DOUBLE}
    graph = helper.make_graph(
        [node], "fastml_bench",
        [helper.make_tensor_value_info(name, elem[a.dtype], list(a.shape)) for name, a in inputs],
        [helper.make_tensor_value_info("y", elem[inputs[0][1].dtype], None)],
        [numpy_helper.from_array(a, name) for name, a in initializers])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    so = ort.SessionOptions()
    so.intra_op_num_threads = fastml.get_num_threads()
    so.inter_op_num_threads = 1
    so.add_session_config_entry("session.intra_op.allow_spinning", "0")
    sess = ort.InferenceSession(model.SerializeToString(), so, providers=["CPUExecutionProvider"])
    feed = {name: a for name, a in inputs}
    return lambda: sess.run(None, feed)[0]


def _ort_conv(x, wt, stride, pad, groups):
    from onnx import helper
    k = wt.shape[2]
    node = helper.make_node("Conv", ["x", "w"], ["y"], kernel_shape=[k, k], strides=[stride] * 2,
                            pads=[pad] * 4, group=groups)
    return _ort_session(node, [("x", x)], [("w", wt)])


def _ort_pool(x, k, stride, pad):
    from onnx import helper
    node = helper.make_node("MaxPool", ["x"], ["y"], kernel_shape=[k, k], strides=[stride] * 2,
                            pads=[pad] * 4)
    return _ort_session(node, [("x", x)], [])


CONV_PEERS = {"torch": Peer("torch", _torch_conv(False)),
              "torch_cl": Peer("torch", _torch_conv(True)),
              "onnxruntime": Peer("onnxruntime", _ort_conv)}
BACKWARD_PEERS = {"torch": Peer("torch", _torch_backward(False)),
                  "torch_cl": Peer("torch", _torch_backward(True))}
POOL_PEERS = {"torch": Peer("torch", _torch_pool(False)),
              "torch_cl": Peer("torch", _torch_pool(True)),
              "onnxruntime": Peer("onnxruntime", _ort_pool)}


# ---- costs ------------------------------------------------------------------------------

def _conv_flops(shape):
    n, c, h, w, o, k, stride, pad, groups = shape
    return 2.0 * n * o * _out(h, k, stride, pad) * _out(w, k, stride, pad) * (c // groups) * k * k


def _conv_bytes(shape, dtype):
    n, c, h, w, o, k, stride, pad, groups = shape
    out = n * o * _out(h, k, stride, pad) * _out(w, k, stride, pad)
    return float((n * c * h * w + o * (c // groups) * k * k + out) * np.dtype(dtype).itemsize)


def _conv_rtol(dtype, shape):
    n, c, h, w, o, k, stride, pad, groups = shape
    return relative_tolerance(dtype, reduction_length=(c // groups) * k * k)


def _backward_flops(shape):
    return 2.0 * _conv_flops(shape)


def _backward_bytes(shape, dtype):
    n, c, h, w, o, k, stride, pad, groups = shape
    return 2.0 * _conv_bytes(shape, dtype)


def _backward_rtol(dtype, shape):
    n, c, h, w, o, k, stride, pad, groups = shape
    ho, wo = _out(h, k, stride, pad), _out(w, k, stride, pad)
    return relative_tolerance(dtype, reduction_length=max(n * ho * wo, o * k * k))


def _backward_summary(result, inputs):
    gx, gw = result
    return np.concatenate([np.asarray(gx).ravel(), np.asarray(gw).ravel()])


def _pool_flops(shape):
    return 0.0


def _pool_bytes(shape, dtype):
    n, c, h, w, k, stride, pad = shape
    return float(n * c * (h * w + _out(h, k, stride, pad) * _out(w, k, stride, pad)) *
                 np.dtype(dtype).itemsize)


def _conv_case(name, sizes):
    return Case(name=name, family="conv", dims=CONV_DIMS, sizes=sizes, make_inputs=_conv_inputs,
                fastml=_fastml_conv, peers=CONV_PEERS, flops=_conv_flops, bytes=_conv_bytes,
                rtol=_conv_rtol, dtypes=("float32",))


CASES = [
    _conv_case("conv3x3", {"smoke": [(2, 5, 9, 11, 7, 3, 1, 1, 1)],
                           "quick": [(2, 32, 28, 28, 32, 3, 1, 1, 1)],
                           "full": [(8, 64, 56, 56, 64, 3, 1, 1, 1)]}),
    _conv_case("conv1x1", {"smoke": [(2, 9, 6, 7, 5, 1, 1, 0, 1)],
                           "quick": [(2, 128, 28, 28, 64, 1, 1, 0, 1)],
                           "full": [(8, 256, 56, 56, 64, 1, 1, 0, 1)]}),
    _conv_case("conv7x7_stem", {"smoke": [(1, 3, 20, 18, 8, 7, 2, 3, 1)],
                                "quick": [(2, 3, 112, 112, 64, 7, 2, 3, 1)],
                                "full": [(8, 3, 224, 224, 64, 7, 2, 3, 1)]}),
    _conv_case("conv3x3_s2", {"smoke": [(2, 6, 11, 10, 9, 3, 2, 1, 1)],
                              "quick": [(2, 64, 28, 28, 64, 3, 2, 1, 1)],
                              "full": [(8, 128, 28, 28, 128, 3, 2, 1, 1)]}),
    _conv_case("depthwise3x3", {"smoke": [(2, 6, 9, 10, 6, 3, 1, 1, 6)],
                                "quick": [(2, 128, 28, 28, 128, 3, 1, 1, 128)],
                                "full": [(8, 256, 28, 28, 256, 3, 1, 1, 256)]}),
    Case(name="conv3x3_backward", family="conv", dims=CONV_DIMS,
         sizes={"smoke": [(2, 5, 9, 11, 7, 3, 1, 1, 1)],
                "quick": [(2, 32, 28, 28, 32, 3, 1, 1, 1)],
                "full": [(8, 64, 56, 56, 64, 3, 1, 1, 1)]},
         make_inputs=_backward_inputs, fastml=_fastml_backward, peers=BACKWARD_PEERS,
         flops=_backward_flops, bytes=_backward_bytes, rtol=_backward_rtol,
         dtypes=("float32",), summary=_backward_summary),
    Case(name="max_pool3x3_s2", family="conv", dims=POOL_DIMS,
         sizes={"smoke": [(2, 3, 11, 12, 3, 2, 0)],
                "quick": [(2, 64, 56, 56, 3, 2, 0)],
                "full": [(8, 64, 112, 112, 3, 2, 0)]},
         make_inputs=_pool_inputs, fastml=_fastml_pool, peers=POOL_PEERS, flops=_pool_flops,
         bytes=_pool_bytes, rtol=lambda dtype, shape: relative_tolerance(dtype), dtypes=("float32",)),
]
