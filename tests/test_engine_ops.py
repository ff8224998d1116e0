"""Every op in one table, checked by one property test against central differences.

Each row names the op, builds it from Values, gives the plain-float formula it must match
(an independent forward), and the domain its inputs are drawn from. The domains steer
around kinks and singularities; the kinks have exact tests of their own convention in
tests/test_engine.py. A meta-test fails when a public op has no row.
"""

from __future__ import annotations

import math
import typing
from dataclasses import dataclass
from typing import Callable, Sequence, Tuple

import pytest
from hypothesis import given
from hypothesis import strategies as st

import micrograd
from micrograd import Value, affine, grad

H = 1e-6  # central-difference step: error ~ H**2 * f''' + eps * |f| / H, about 1e-10 here
REL, ABS = 1e-5, 1e-6  # a wrong derivative (sign, factor, missing term) misses by far more


# --- domains (named strategies with bounded ranges) --------------------------------------

def reals(lo: float = -3.0, hi: float = 3.0) -> st.SearchStrategy:
    return st.floats(lo, hi, allow_nan=False, allow_infinity=False)


def away_from(points: Sequence[float], lo: float = -3.0, hi: float = 3.0, gap: float = 1e-3) -> st.SearchStrategy:
    """Reals in [lo, hi] at least `gap` from each point (kinks, poles)."""
    return reals(lo, hi).filter(lambda x: all(abs(x - p) >= gap for p in points))


positive = reals(0.1, 5.0)
nonzero = away_from([0.0], gap=0.1)


@dataclass(frozen=True)
class Op:
    name: str
    covers: Tuple[str, ...]  # the public names (methods, dunders, functions) this row exercises
    build: Callable[..., Value]  # Values -> Value
    reference: Callable[..., float]  # floats -> float, written independently of the engine
    domains: Tuple[st.SearchStrategy, ...]


def _sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))


OPS = [
    Op("add", ("__add__",), lambda a, b: a + b, lambda a, b: a + b, (reals(), reals())),
    Op("add constant", ("__add__",), lambda a: a + 2.5, lambda a: a + 2.5, (reals(),)),
    Op("radd", ("__radd__",), lambda a: 2.5 + a, lambda a: 2.5 + a, (reals(),)),
    Op("sub", ("__sub__",), lambda a, b: a - b, lambda a, b: a - b, (reals(), reals())),
    Op("sub constant", ("__sub__",), lambda a: a - 1.5, lambda a: a - 1.5, (reals(),)),
    Op("rsub", ("__rsub__",), lambda a: 1.5 - a, lambda a: 1.5 - a, (reals(),)),
    Op("mul", ("__mul__",), lambda a, b: a * b, lambda a, b: a * b, (reals(), reals())),
    Op("mul self", ("__mul__",), lambda a: a * a, lambda a: a * a, (reals(),)),
    Op("mul constant", ("__mul__",), lambda a: a * -3.0, lambda a: a * -3.0, (reals(),)),
    Op("rmul", ("__rmul__",), lambda a: -3.0 * a, lambda a: -3.0 * a, (reals(),)),
    Op("neg", ("__neg__",), lambda a: -a, lambda a: -a, (reals(),)),
    Op("truediv", ("__truediv__",), lambda a, b: a / b, lambda a, b: a / b, (reals(), nonzero)),
    Op("truediv constant", ("__truediv__",), lambda a: a / 4.0, lambda a: a / 4.0, (reals(),)),
    Op("rtruediv", ("__rtruediv__",), lambda a: 2.0 / a, lambda a: 2.0 / a, (nonzero,)),
    Op("pow int", ("__pow__",), lambda a: a**3, lambda a: a**3, (reals(),)),
    Op("pow negative int", ("__pow__",), lambda a: a**-2, lambda a: a**-2, (nonzero,)),
    Op("pow zero", ("__pow__",), lambda a: a**0, lambda a: 1.0, (reals(),)),
    Op("pow fraction", ("__pow__",), lambda a: a**2.5, lambda a: a**2.5, (positive,)),
    Op("pow Value", ("__pow__",), lambda a, b: a**b, lambda a, b: a**b, (positive, reals())),
    Op("rpow", ("__rpow__",), lambda a: 2.0**a, lambda a: 2.0**a, (reals(),)),
    Op("sqrt", ("sqrt",), lambda a: a.sqrt(), math.sqrt, (positive,)),
    Op("exp", ("exp",), lambda a: a.exp(), math.exp, (reals(),)),
    Op("log", ("log",), lambda a: a.log(), math.log, (positive,)),
    Op("tanh", ("tanh",), lambda a: a.tanh(), math.tanh, (reals(),)),
    Op("sigmoid", ("sigmoid",), lambda a: a.sigmoid(), _sigmoid, (reals(-8, 8),)),
    Op("softplus", ("softplus",), lambda a: a.softplus(), lambda a: math.log(1.0 + math.exp(a)), (reals(-8, 8),)),
    Op("sin", ("sin",), lambda a: a.sin(), math.sin, (reals(),)),
    Op("cos", ("cos",), lambda a: a.cos(), math.cos, (reals(),)),
    Op("relu", ("relu",), lambda a: a.relu(), lambda a: max(a, 0.0), (away_from([0.0]),)),
    Op(
        "leaky_relu",
        ("leaky_relu",),
        lambda a: a.leaky_relu(0.1),
        lambda a: a if a > 0 else 0.1 * a,
        (away_from([0.0]),),
    ),
    Op("abs", ("abs", "__abs__"), lambda a: abs(a), abs, (away_from([0.0]),)),
    Op(
        "affine",
        ("affine",),
        lambda w0, w1, x0, x1, b: affine([w0, w1], [x0, x1], b),
        lambda w0, w1, x0, x1, b: b + w0 * x0 + w1 * x1,
        (reals(),) * 5,
    ),
    Op(
        "affine with constant input",
        ("affine",),
        lambda w0, w1, x0, b: affine([w0, w1], [x0, 0.5], b),
        lambda w0, w1, x0, b: b + w0 * x0 + w1 * 0.5,
        (reals(),) * 4,
    ),
]

# Public callables that return a Value but make no differentiable node from their inputs.
NOT_OPS = {"detach"}
def forward(op: Op, xs: Sequence[float]) -> float:
    return op.build(*map(Value, xs)).data


def central_difference(op: Op, xs: Sequence[float], i: int) -> float:
    up, down = list(xs), list(xs)
    up[i] += H
    down[i] -= H
    return (forward(op, up) - forward(op, down)) / (2 * H)


def op_inputs(op: Op) -> st.SearchStrategy:
    return st.tuples(*op.domains)


@pytest.mark.parametrize("op", OPS, ids=lambda op: op.name)
@given(data=st.data())
def test_op_matches_reference_and_central_differences(op: Op, data: st.DataObject) -> None:
    xs = data.draw(op_inputs(op), label="inputs")
    leaves = [Value(x) for x in xs]
    out = op.build(*leaves)
    assert math.isclose(out.data, op.reference(*xs), rel_tol=1e-12, abs_tol=1e-12), (
        f"{op.name}{tuple(xs)}: forward {out.data!r}, reference {op.reference(*xs)!r}"
    )
    out.backward()
    for i, leaf in enumerate(leaves):
        numeric = central_difference(op, xs, i)
        assert math.isclose(leaf.grad, numeric, rel_tol=REL, abs_tol=ABS), (
            f"{op.name}{tuple(xs)}: d/dx{i} analytic {leaf.grad!r}, central difference {numeric!r}"
        )


@pytest.mark.parametrize("op", OPS, ids=lambda op: op.name)
@given(data=st.data())
def test_second_derivatives_match_central_differences_of_first(op: Op, data: st.DataObject) -> None:
    """grad(create_graph=True) twice gives the Hessian; check each entry against a central
    difference of the first derivative (itself from grad, without create_graph)."""
    xs = data.draw(op_inputs(op), label="inputs")
    n = len(xs)

    def first_derivative(point: Sequence[float], i: int) -> float:
        leaves = [Value(x) for x in point]
        return grad(op.build(*leaves), leaves[i])[0].data

    leaves = [Value(x) for x in xs]
    firsts = grad(op.build(*leaves), leaves, create_graph=True)
    for i in range(n):
        assert math.isclose(firsts[i].data, first_derivative(xs, i), rel_tol=1e-12, abs_tol=1e-12)
        seconds = grad(firsts[i], leaves)
        for j in range(n):
            up, down = list(xs), list(xs)
            up[j] += H
            down[j] -= H
            numeric = (first_derivative(up, i) - first_derivative(down, i)) / (2 * H)
            assert math.isclose(seconds[j].data, numeric, rel_tol=REL, abs_tol=ABS), (
                f"{op.name}{tuple(xs)}: d2/dx{i}dx{j} analytic {seconds[j].data!r}, central difference {numeric!r}"
            )


def _returns_value(fn: object) -> bool:
    try:
        return typing.get_type_hints(fn).get("return") is Value
    except TypeError:  # not a function (a class, a module)
        return False


def public_ops() -> set:
    """Every public callable that returns a Value: Value's public methods and dunders, and
    the functions micrograd exports. Found from the return annotations, so a new op is
    found the day it is added."""
    names = {n for n in dir(Value) if (not n.startswith("_") or n.endswith("__")) and _returns_value(getattr(Value, n))}
    names |= {n for n in micrograd.__all__ if _returns_value(getattr(micrograd, n))}
    return names - NOT_OPS


def test_every_public_op_has_a_row_in_the_table() -> None:
    covered = {name for op in OPS for name in op.covers}
    missing = public_ops() - covered
    assert not missing, f"public ops with no row in OPS: {sorted(missing)}"


def test_meta_test_sees_the_ops_it_must() -> None:
    # Guards the meta-test itself: if discovery broke, it would pass vacuously.
    assert {"__add__", "__rpow__", "__neg__", "exp", "relu", "affine"} <= public_ops()
    assert not {"backward", "item", "__repr__", "grad", "topological_order"} & public_ops()
