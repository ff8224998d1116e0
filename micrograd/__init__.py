"""micrograd: a scalar reverse-mode autograd engine and a small neural-network library.

Drop-in compatible with Andrej Karpathy's micrograd 0.1.0 (`from micrograd.engine import
Value`, `from micrograd.nn import MLP`), and beyond it: every common op, no recursion limit,
deterministic and repeatable `backward()`, higher-order gradients, clear errors, graphs you
can draw and step through, gradient checking, and a training toolkit.

The package is layered, each layer importing only the ones below it:

    arguments   argument checks (standard library only)
    engine      `Value`, its ops (`Primitive`, `primitive` for your own) and the backward pass
    nn, steps   modules (`MLP`); the backward and forward passes one step at a time;
    compiler    a graph traced once and replayed as generated Python (`compile`);
    batched     one example's graph run for a whole batch at once (`run_batch`, NumPy)
    training    losses, optimizers, data sets, `fit`, saving models, diagnostics
    testing     finite-difference gradient checks; hypothesis strategies; the bridge to PyTorch
    visual      drawing graphs (graphviz), stepping pictures, plots (matplotlib)
    exercises   exercises with feedback: predict a gradient, write an op, find a bug, train
    app         the `micrograd` command

Every name below is imported on first use, so `import micrograd` is quick and imports no
third-party library; `from micrograd import draw_dot` imports graphviz, and so on.
"""

from .lazy import lazy_exports
from .visual.graphviz_hook import watch_for_graphviz

__version__ = "0.3.0"

_EXPORTS = {
    # the engine, its ops, and the passes step by step
    "Value": "micrograd.engine",
    "affine": "micrograd.engine",
    "grad": "micrograd.engine",
    "is_grad_enabled": "micrograd.engine",
    "no_grad": "micrograd.engine",
    "enable_grad": "micrograd.engine",
    "set_grad_enabled": "micrograd.engine",
    "NonFiniteError": "micrograd.engine",
    "topological_order": "micrograd.engine",
    "Primitive": "micrograd.engine",
    "primitive": "micrograd.engine",
    "BackwardStep": "micrograd.steps",
    "explain": "micrograd.explanation",
    "compile": "micrograd.compiler",
    "Program": "micrograd.compiler",
    "ReplayMismatchError": "micrograd.compiler",
    "Explanation": "micrograd.explanation",
    "Computation": "micrograd.explanation",
    "ForwardStep": "micrograd.steps",
    "backward_steps": "micrograd.steps",
    "forward_steps": "micrograd.steps",
    # one example's graph, run for a whole batch with NumPy
    "BatchedProgram": "micrograd.batched",
    "run_batch": "micrograd.batched",
    # pictures
    "DotNotFoundError": "micrograd.visual.dot_program",
    "configure_graphviz": "micrograd.visual.dot_program",
    "find_dot": "micrograd.visual.dot_program",
    "GraphTooLargeError": "micrograd.visual.graph",
    "draw_dot": "micrograd.visual.graph",
    "frames": "micrograd.visual.step_pictures",
    "save_frames": "micrograd.visual.step_pictures",
    "step_frames": "micrograd.visual.step_pictures",
    "save_html": "micrograd.visual.html_stepper",
    "step_through": "micrograd.visual.step_pictures",
    # gradient checks
    "GradcheckError": "micrograd.testing.finite_differences",
    "NotDifferentiableError": "micrograd.testing.finite_differences",
    "central_difference": "micrograd.numeric",
    "gradcheck": "micrograd.testing.finite_differences",
    "gradgradcheck": "micrograd.testing.finite_differences",
    # checking against PyTorch (an optional extra)
    "compare_with_torch": "micrograd.testing.torch_bridge",
    "to_torch": "micrograd.testing.torch_bridge",
    # training
    "fit": "micrograd.training.fit",
    "save": "micrograd.training.serialize",
    "load": "micrograd.training.serialize",
    "ModelFileError": "micrograd.training.serialize",
    # modules and subpackages: `micrograd.optim` is `micrograd.training.optim`
    "nn": "micrograd.nn",
    "data": "micrograd.training.data",
    "diagnostics": "micrograd.training.diagnostics",
    "losses": "micrograd.training.losses",
    "optim": "micrograd.training.optim",
    "serialize": "micrograd.training.serialize",
    "training": "micrograd.training",
    "exercises": "micrograd.exercises",
    "testing": "micrograd.testing",
    "visual": "micrograd.visual",
}

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
# `from micrograd import *` must not shadow the builtin compile(): it is `micrograd.compile`, or
# `from micrograd import compile` when asked for by name.
__all__ = [*(name for name in _EXPORTS if name != "compile"), "__version__"]

# karpathy's trace_graph.ipynb imports micrograd and graphviz, then renders with graphviz
# directly: it must find a `dot` program without setup, yet `import micrograd` must not
# import graphviz. So the configuration waits for graphviz's own import.
watch_for_graphviz()
del lazy_exports, watch_for_graphviz
