"""micrograd: a scalar reverse-mode autograd engine and a small neural-network library.

Drop-in compatible with Andrej Karpathy's micrograd 0.1.0 (`from micrograd.engine import
Value`, `from micrograd.nn import MLP`), and beyond it: every common op, no recursion limit,
deterministic and repeatable `backward()`, higher-order gradients, clear errors.
"""

from . import data, diagnostics, losses, nn, optim, serialize
from .train import fit
from .engine import Value, affine, grad, is_grad_enabled, no_grad, topological_order

__version__ = "0.2.0"

__all__ = ["Value", "affine", "grad", "is_grad_enabled", "nn", "no_grad", "topological_order", "__version__"]
__all__ += ["data", "diagnostics", "fit", "losses", "optim", "serialize"]
