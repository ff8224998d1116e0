"""Training on top of `micrograd.nn`: losses, optimizers, toy data sets, `fit`, saving
models and gradient diagnostics. Standard library only (`fit` imports tqdm when it runs).

    from micrograd.training import SGD, fit, make_moons

Each name is imported from its module on first use (see `micrograd.lazy`).
"""

from ..lazy import lazy_exports

# The module `fit.py` and its function `fit` share a name, and the import system sets a
# submodule as an attribute of its package whenever it loads it, which would make
# `micrograd.training.fit` the module. Binding the function here, after that, keeps it the function.
from .fit import fit as fit

_EXPORTS = {
    **dict.fromkeys(["fit", "LOSSES", "History", "CompiledRun"], "micrograd.training.fit"),
    **dict.fromkeys(
        ["mse_loss", "hinge_loss", "binary_cross_entropy_with_logits", "cross_entropy", "logsumexp",
         "log_softmax", "softmax", "l2_penalty", "binary_accuracy", "accuracy"],
        "micrograd.training.losses",
    ),
    **dict.fromkeys(
        ["Optimizer", "SGD", "Adam", "AdamW", "NonFiniteStepError", "LRScheduler", "LinearLR", "StepLR",
         "CosineAnnealingLR", "clip_grad_norm", "clip_grad_norm_", "clip_grad_value", "clip_grad_value_", "grad_norm"],
        "micrograd.training.optim",
    ),
    **dict.fromkeys(
        ["make_moons", "make_circles", "make_blobs", "make_spiral", "make_xor", "train_test_split", "batches",
         "as_rng"],
        "micrograd.training.data",
    ),
    **dict.fromkeys(
        ["save", "load", "describe", "build", "ModelFileError", "FORMAT", "VERSION", "MAX_BYTES", "MAX_DEPTH"],
        "micrograd.training.serialize",
    ),
    "layer_grad_norms": "micrograd.training.diagnostics",
}

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
__all__ = list(_EXPORTS)
del lazy_exports
