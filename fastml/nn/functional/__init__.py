"""``torch.nn.functional`` names and semantics on NumPy arrays.

One module per kernel family (attention here; convolution adds its own); this
package re-exports their public functions."""
from fastml.nn.functional._attention import (scaled_dot_product_attention,
                                             scaled_dot_product_attention_backward)

__all__ = ["scaled_dot_product_attention", "scaled_dot_product_attention_backward"]
