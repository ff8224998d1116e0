"""Whole random expressions against an independent engine (HIPS autograd).

`micrograd.testing.expressions` draws random expression graphs over the one table of ops
(shared subexpressions, constants on either side, every step inside its domain and off
its kinks). Each is evaluated by our engine and replayed in autograd on NumPy with that
engine's own version of every op; values and gradients must agree to rounding.
"""

from __future__ import annotations

import math
import operator

import pytest
from hypothesis import given, settings

from micrograd import grad
from micrograd.testing import OPS, expressions

anp = pytest.importorskip("autograd.numpy")
autograd = pytest.importorskip("autograd")

# Every op of micrograd.testing.OPS, written with autograd's NumPy.
THEIRS = {
    "+": operator.add,
    "-": operator.sub,
    "*": operator.mul,
    "/": operator.truediv,
    "**": operator.pow,
    "**3": lambda a: a**3,
    "**-2": lambda a: a**-2,
    "neg": operator.neg,
    "exp": anp.exp,
    "log": anp.log,
    "tanh": anp.tanh,
    "sigmoid": lambda a: 1.0 / (1.0 + anp.exp(-a)),
    "softplus": lambda a: anp.logaddexp(0.0, a),
    "sin": anp.sin,
    "cos": anp.cos,
    "relu": lambda a: anp.maximum(a, 0.0),
    "leaky_relu": lambda a: anp.where(a > 0, a, 0.01 * a),
    "abs": anp.abs,
    "sqrt": anp.sqrt,
    "affine": lambda w0, w1, x0, x1, b: b + w0 * x0 + w1 * x1,
}


def test_every_op_in_the_table_has_an_autograd_twin():
    assert set(THEIRS) == set(OPS)


@settings(max_examples=1000)
@given(expressions(n_inputs=3, max_steps=8))
def test_random_expressions_match_autograd(expr):
    leaves = expr.leaves()
    ours = expr(*leaves)
    ours.backward()

    def theirs(xs):
        return expr.run([xs[i] for i in range(len(leaves))], lambda op, *args: THEIRS[op.name](*args))

    point = anp.array(expr.inputs, dtype=float)
    expected_value = float(theirs(point))
    expected_grads = autograd.grad(theirs)(point)
    assert math.isclose(ours.data, expected_value, rel_tol=1e-9, abs_tol=1e-9), (
        f"{expr}: value ours {ours.data!r}, autograd {expected_value!r}"
    )
    for i, leaf in enumerate(leaves):
        assert math.isclose(leaf.grad, float(expected_grads[i]), rel_tol=1e-7, abs_tol=1e-7), (
            f"{expr}: d/dx{i} ours {leaf.grad!r}, autograd {float(expected_grads[i])!r}"
        )
    # grad() must agree with backward() on the same expression.
    assert [g.data for g in grad(ours, leaves)] == [leaf.grad for leaf in leaves]
