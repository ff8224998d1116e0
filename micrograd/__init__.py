"""micrograd: a scalar reverse-mode autograd engine and a small neural-network library.

Drop-in compatible with Andrej Karpathy's micrograd 0.1.0 (`from micrograd.engine import
Value`, `from micrograd.nn import MLP`), and beyond it: every common op, no recursion limit,
deterministic and repeatable `backward()`, higher-order gradients, clear errors, graphs you
can draw and step through, gradient checking, and a training toolkit.
"""

from . import data, diagnostics, losses, nn, optim, serialize
from .engine import Primitive, primitive
from .dot_program import DotNotFoundError, configure_graphviz, find_dot
from .draw import GraphTooLargeError, draw_dot
from .engine import Value, affine, grad, is_grad_enabled, no_grad, topological_order
from .gradcheck import GradcheckError, NotDifferentiableError, central_difference, gradcheck, gradgradcheck
from .stepper import frames, save_frames, step_through
from .stepping import BackwardStep, ForwardStep, backward_steps, forward_steps
from .train import fit

__version__ = "0.2.0"

__all__ = ["Value", "affine", "grad", "is_grad_enabled", "nn", "no_grad", "topological_order", "__version__"]
__all__ += ["BackwardStep", "DotNotFoundError", "ForwardStep", "GraphTooLargeError", "backward_steps", "configure_graphviz"]
__all__ += ["draw_dot", "find_dot", "forward_steps", "frames", "save_frames", "step_through"]
__all__ += ["GradcheckError", "NotDifferentiableError", "Primitive", "central_difference", "gradcheck", "gradgradcheck"]
__all__ += ["primitive"]
__all__ += ["data", "diagnostics", "fit", "losses", "optim", "serialize"]
