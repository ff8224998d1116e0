"""Test gradients: finite-difference checks and hypothesis strategies for property tests.

A test of a new op reads:

    from hypothesis import given
    from micrograd.testing import values, assert_gradients_match

    @given(values(-5, 5, avoid=(0.0,)))
    def test_my_op_gradient(x):
        assert_gradients_match(my_op, x)

`gradcheck`, `gradgradcheck` and `central_difference` (`micrograd.testing.finite_differences`)
need only the standard library. The strategies (`micrograd.testing.strategies`: `values`,
`positive_values`, `arguments`, `expressions`, the op table `OPS`, `assert_gradients_match`)
need hypothesis (`pip install "micrograd-lab[testing]"`); it is imported when one of them is first
used, so neither `import micrograd` nor `import micrograd.testing` imports it.

`to_torch` and `compare_with_torch` (`micrograd.testing.torch_bridge`) rebuild a graph in
PyTorch and compare every leaf's gradient with PyTorch's; they need PyTorch
(`pip install "micrograd-lab[torch]"`), imported when one of them is first called.
"""

from ..lazy import lazy_exports

_EXPORTS = {
    **dict.fromkeys(
        ["gradcheck", "gradgradcheck", "central_difference", "GradcheckError", "NotDifferentiableError"],
        "micrograd.testing.finite_differences",
    ),
    **dict.fromkeys(
        ["MARGIN", "OPS", "Expression", "Op", "arguments", "assert_gradients_match", "expressions",
         "positive_values", "values"],
        "micrograd.testing.strategies",
    ),
    **dict.fromkeys(
        ["TORCH_FORWARDS", "GradientRow", "TorchComparison", "TorchGraph", "compare_with_torch", "to_torch"],
        "micrograd.testing.torch_bridge",
    ),
}

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
__all__ = list(_EXPORTS)
del lazy_exports
