"""``torch.nn.functional`` names and semantics on NumPy arrays.

One module per kernel family (attention here; convolution adds its own); this
package re-exports their public functions."""
from fastml.nn.functional._attention import (multi_head_attention, scaled_dot_product_attention,
                                             scaled_dot_product_attention_backward)
from fastml.nn.functional._transformer import (dropout, gelu, layer_norm, layer_norm_backward,
                                               linear, log_softmax, sinusoidal_positional_encoding,
                                               softmax)

from fastml.nn.functional._conv import (conv1d, conv1d_backward, conv2d, conv2d_backward,
                                        conv2d_flops, conv_output_shape)
from fastml.nn.functional._pool import (adaptive_avg_pool2d, adaptive_avg_pool2d_backward,
                                        avg_pool2d, avg_pool2d_backward, max_pool2d,
                                        max_pool2d_backward)
from fastml.nn.functional._norm import batch_norm, relu

__all__ = ["scaled_dot_product_attention", "scaled_dot_product_attention_backward",
           "multi_head_attention", "softmax", "log_softmax", "layer_norm", "layer_norm_backward",
           "gelu", "dropout", "linear", "sinusoidal_positional_encoding"]
__all__ += ["conv1d", "conv1d_backward", "conv2d", "conv2d_backward", "conv2d_flops",
            "conv_output_shape", "adaptive_avg_pool2d", "adaptive_avg_pool2d_backward",
            "avg_pool2d", "avg_pool2d_backward", "max_pool2d", "max_pool2d_backward",
            "batch_norm", "relu"]
