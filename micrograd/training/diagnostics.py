"""Gradient diagnostics: where, in depth, do gradients vanish or explode?

After `loss.backward()`, `layer_grad_norms(model)` gives the size of each layer's gradient,
input layer first. In a deep net of saturating units (tanh, sigmoid) the early layers'
norms are orders of magnitude smaller than the last ones' (vanishing gradients); with large
weights they grow instead (exploding gradients, the case for `optim.clip_grad_norm`).

    norms = layer_grad_norms(model)
    plt.semilogy(list(norms.values()), marker="o")     # against depth
"""

from __future__ import annotations

from typing import Dict

from ..nn import Module
from .optim import grad_norm

__all__ = ["layer_grad_norms", "grad_norm"]


def layer_grad_norms(model: Module, norm_type: float = 2.0) -> Dict[str, float]:
    """{layer name: norm of that layer's parameter gradients}, in depth order.

    The layers are the model's direct submodules that have parameters (`layers.0`, ... of
    an MLP; `0`, `1`, ... of a Sequential); a model without submodules counts as one layer.
    """
    if not isinstance(model, Module):
        raise TypeError(f"layer_grad_norms needs a Module, got {type(model).__name__}: {model!r}")
    norms = {name: grad_norm(m.parameters(), norm_type) for name, m in model.named_children() if m.parameters()}
    if not norms and model.parameters():
        norms[type(model).__name__] = grad_norm(model.parameters(), norm_type)
    return norms
