"""Every built-in op, from the one table of ops (`micrograd.testing.OPS`), checked by
hypothesis against central differences: values, first derivatives from `backward()`,
and second derivatives from `grad(create_graph=True)`.

Each row gives the op, its plain-float twin and its domain; an op that may take a plain
number in some position (`a + 2`, `2 ** a`) is also checked with a constant there. The
domains keep off kinks and poles; the kinks have exact tests of their own convention in
tests/test_engine.py. A meta-test fails when a public op has no row.
"""

from __future__ import annotations

import math
import typing
from typing import List, Optional, Sequence

import pytest
from hypothesis import given
from hypothesis import strategies as st

import micrograd
from micrograd import Value, central_difference, grad
from micrograd.testing import OPS, Op, arguments

H = 1e-6  # central-difference step: error ~ H**2 * f''' + eps * |f| / H, about 1e-10 here
REL, ABS = 1e-5, 1e-6  # tight: a wrong sign, factor or missing term misses by far more
MARGIN = 0.05  # distance from kinks and poles, so that steep spots stay inside REL

# Each (row, constant position) pair: None means every argument is a Value.
CASES = [(op, at) for op in OPS.values() for at in (None, *op.constants)]


def case_id(case: tuple) -> str:
    op, at = case
    return op.name if at is None else f"{op.name} constant {at}"


def build(op: Op, args: Sequence[float], at: Optional[int]) -> tuple:
    """The op on Values (a plain number at position `at`); returns (output, Value args)."""
    operands = [a if i == at else Value(a) for i, a in enumerate(args)]
    return op.build(*operands), [(i, v) for i, v in enumerate(operands) if isinstance(v, Value)]


def first_derivative(op: Op, args: Sequence[float], at: Optional[int], i: int) -> float:
    out, leaves = build(op, args, at)
    return grad(out, dict(leaves)[i])[0].data


@pytest.mark.parametrize("case", CASES, ids=case_id)
@given(data=st.data())
def test_op_matches_its_twin_and_central_differences(case: tuple, data: st.DataObject) -> None:
    op, at = case
    args = data.draw(arguments(op, margin=MARGIN), label="args")
    out, leaves = build(op, args, at)
    assert math.isclose(out.data, op.reference(*args), rel_tol=1e-12, abs_tol=1e-12), (
        f"{op.name}{tuple(args)}: value {out.data!r}, twin {op.reference(*args)!r}"
    )
    out.backward()
    for i, leaf in leaves:
        numeric = central_difference(op.reference, *args, arg=i, eps=H)
        assert math.isclose(leaf.grad, numeric, rel_tol=REL, abs_tol=ABS), (
            f"{op.name}{tuple(args)}: d/dx{i} from backward() {leaf.grad!r}, central difference {numeric!r}"
        )


@pytest.mark.parametrize("case", CASES, ids=case_id)
@given(data=st.data())
def test_second_derivatives_match_central_differences_of_first(case: tuple, data: st.DataObject) -> None:
    op, at = case
    args = data.draw(arguments(op, margin=MARGIN), label="args")
    out, leaves = build(op, args, at)
    values = [v for _, v in leaves]
    firsts = grad(out, values, create_graph=True)
    for (i, _), first in zip(leaves, firsts):
        assert math.isclose(first.data, first_derivative(op, args, at, i), rel_tol=1e-12, abs_tol=1e-12)
        seconds = grad(first, values)
        for (j, _), second in zip(leaves, seconds):
            numeric = central_difference(lambda *xs, i=i: first_derivative(op, xs, at, i), *args, arg=j, eps=H)
            assert math.isclose(second.data, numeric, rel_tol=REL, abs_tol=ABS), (
                f"{op.name}{tuple(args)}: d2/dx{i}dx{j} from grad(create_graph=True) {second.data!r}, "
                f"central difference {numeric!r}"
            )


# --- the meta-test ----------------------------------------------------------------------

# The public names each row exercises, where they are not the row's own name.
COVERS = {
    "+": ("__add__", "__radd__"),
    "-": ("__sub__", "__rsub__"),
    "*": ("__mul__", "__rmul__"),
    "/": ("__truediv__", "__rtruediv__"),
    "**": ("__pow__", "__rpow__"),
    "**3": ("__pow__",),
    "**-2": ("__pow__",),
    "neg": ("__neg__",),
    "abs": ("abs", "__abs__"),
}
NOT_OPS = {"detach"}  # returns a Value, but makes no differentiable node


def _returns_value(fn: object) -> bool:
    try:
        return typing.get_type_hints(fn).get("return") is Value
    except TypeError:  # not a function (a class, a module)
        return False


def public_ops() -> set:
    """Every public callable that returns a Value: Value's public methods and dunders, and
    the functions micrograd exports. Found from return annotations, so a new op is found
    the day it is added."""
    names = {n for n in dir(Value) if (not n.startswith("_") or n.endswith("__")) and _returns_value(getattr(Value, n))}
    names |= {n for n in micrograd.__all__ if _returns_value(getattr(micrograd, n))}
    return names - NOT_OPS


def test_every_public_op_has_a_row_in_the_table() -> None:
    covered: List[str] = [name for op in OPS for name in COVERS.get(op, (op,))]
    missing = public_ops() - set(covered)
    assert not missing, f"public ops with no row in micrograd.testing.OPS: {sorted(missing)}"


def test_meta_test_sees_the_ops_it_must() -> None:
    # Guards the meta-test itself: if discovery broke, it would pass vacuously.
    assert {"__add__", "__rpow__", "__neg__", "exp", "relu", "affine"} <= public_ops()
    assert not {"backward", "item", "draw", "__repr__", "grad", "gradcheck", "fit"} & public_ops()
