"""micrograd.testing: the strategies respect their domains, expressions equal their float
twins, the assertion helper catches wrong derivatives and hypothesis shrinks them small."""

from __future__ import annotations

import math
import subprocess
import sys

import pytest
from hypothesis import find, given, settings
from hypothesis import strategies as st

import micrograd
from micrograd import GradcheckError, Value, gradcheck, gradgradcheck, primitive
from micrograd.testing import (
    MARGIN,
    OPS,
    Expression,
    Op,
    arguments,
    assert_gradients_match,
    expressions,
    positive_values,
    values,
)

# --- hypothesis stays optional -------------------------------------------------------------


def test_importing_micrograd_does_not_import_hypothesis():
    code = "import sys, micrograd; print('hypothesis' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"


# --- values -------------------------------------------------------------------------------


@given(values(-2.0, 5.0))
def test_values_stay_in_their_bounds(x):
    assert -2.0 <= x <= 5.0 and math.isfinite(x)


@given(values(-1.0, 1.0, avoid=(0.0, 0.5), margin=0.01))
def test_values_keep_their_margin_from_avoided_points(x):
    assert -1.0 <= x <= 1.0
    assert abs(x) >= 0.01 and abs(x - 0.5) >= 0.01


def test_values_push_an_avoided_point_out_to_the_margin_and_inside_the_bounds():
    # hypothesis draws the simplest float, 0, first; it becomes the margin, or minus it
    # when the margin above would leave the range.
    assert find(values(-1.0, 1.0, avoid=(0.0,)), lambda x: True) == MARGIN
    assert find(values(-1.0, 0.0, avoid=(0.0,)), lambda x: True) == -MARGIN


@given(positive_values())
def test_positive_values_are_inside_the_domain_of_log(x):
    assert x >= MARGIN
    assert gradcheck(Value.log, [x])


@pytest.mark.parametrize(
    "make, match",
    [
        (lambda: values(1.0, 1.0), "min_value < max_value, got 1.0 and 1.0"),
        (lambda: values(0.0, math.inf), "max_value needs a finite number, got inf"),
        (lambda: values(margin=-1.0, avoid=(0.0,)), "margin must not be negative, got -1.0"),
        (lambda: positive_values(0.0), "positive_values needs min_value > 0, got 0.0"),
        (lambda: expressions(["log", "nope"]), "unknown op 'nope'"),
        (lambda: expressions(n_inputs=0), "n_inputs must be a positive int, got 0"),
    ],
)
def test_strategies_reject_bad_arguments(make, match):
    with pytest.raises(ValueError, match=match):
        make()


# --- the op table -------------------------------------------------------------------------

# The meta-test (every public op has a row in OPS) lives in tests/test_engine_ops.py.


@pytest.mark.parametrize("name", list(OPS))
def test_each_op_builds_a_value_equal_to_its_twin(name):
    op = OPS[name]
    args = [0.7, 1.3, -0.4, 0.2, 0.9][: op.arity]
    assert op.admits(args, MARGIN)
    assert op.build(*map(Value, args)).data == op.reference(*args)


# --- expressions --------------------------------------------------------------------------


@settings(max_examples=2000)
@given(expressions(n_inputs=3, max_steps=8))
def test_an_expression_evaluates_to_the_same_number_as_its_float_twin(expr):
    assert expr.value().data == expr.function()
    assert expr(*expr.leaves()).data == expr.function(*expr.inputs)


@given(expressions(n_inputs=2, max_steps=8, margin=0.01))
def test_every_step_of_an_expression_stays_in_its_domain(expr):
    nodes = list(expr.inputs)
    for op, operands in expr.steps:
        args = [nodes[o] if isinstance(o, int) else o for o in operands]
        assert op.admits(args, 0.01), (op, args)
        nodes.append(op.reference(*args))
        assert abs(nodes[-1]) <= 1e4
        assert sum(isinstance(o, float) for o in operands) <= 1
        assert all(isinstance(o, float) or o < len(nodes) - 1 for o in operands)


@given(expressions(["relu", "abs", "*", "-"], n_inputs=1, max_steps=6))
def test_expressions_use_only_the_chosen_ops_and_keep_off_kinks(expr):
    assert {op.name for op, _ in expr.steps} <= {"relu", "abs", "*", "-"}
    assert gradcheck(expr, expr.inputs)  # would raise NotDifferentiableError on a kink


def _shares_a_subexpression(expr: Expression) -> bool:
    uses = [o for _, operands in expr.steps for o in operands if isinstance(o, int)]
    return any(uses.count(o) > 1 for o in set(uses) if o >= len(expr.inputs))


def test_expressions_include_shared_subexpressions_and_constants_on_either_side():
    shared = find(expressions(), _shares_a_subexpression)
    assert _shares_a_subexpression(shared)
    left = find(expressions(["-"]), lambda e: any(isinstance(ops[0], float) for _, ops in e.steps))
    right = find(expressions(["-"]), lambda e: any(isinstance(ops[1], float) for _, ops in e.steps))
    # The Value expressions put the constant on the side the step says: c - x, x - c.
    assert left.value().data == left.function() and right.value().data == right.function()


def test_an_expression_reads_as_its_steps():
    expr = Expression((0.5, -2.0), ((OPS["*"], (0, 1)), (OPS["tanh"], (2,)), (OPS["-"], (1.5, 3))))
    assert str(expr) == "x0 = 0.5, x1 = -2.0; v2 = x0 * x1; v3 = tanh(v2); v4 = 1.5 - v3"
    assert expr.function() == 1.5 - math.tanh(-1.0)
    assert repr(expr).startswith("Expression(x0 = 0.5")


@settings(max_examples=2000)
@given(expressions(n_inputs=3, max_steps=8))
def test_random_expressions_pass_first_and_second_order_checks(expr):
    assert gradcheck(expr, expr.inputs)
    assert gradgradcheck(expr, expr.inputs)


# A user's own op in the table: softsign, defined with `primitive`, mixed with built-ins.
softsign = primitive(lambda x: x / (1 + abs(x)), derivative=lambda x, out: 1 / (1 + abs(x)) ** 2, name="softsign")
SOFTSIGN = Op("softsign", 1, softsign, lambda x: x / (1 + abs(x)), admits=lambda args, m: abs(args[0]) >= m)


@given(expressions([SOFTSIGN, "*", "+", "exp"], n_inputs=2))
def test_expressions_accept_a_users_own_op(expr):
    assert expr.value().data == pytest.approx(expr.function(), rel=1e-12, abs=1e-12)
    assert gradgradcheck(expr, expr.inputs)


# --- assert_gradients_match ---------------------------------------------------------------


def test_assert_gradients_match_passes_silently_and_raises_a_readable_error():
    assert assert_gradients_match(lambda x, y: x * y.exp(), 0.5, -1.0, order=2) is None
    flipped = primitive(math.sin, derivative=lambda x, out: -x.cos(), name="flipped")
    with pytest.raises(GradcheckError, match=r"df/dx0 at x0 = 0.25: analytic \(backward\) -0.968912421710"):
        assert_gradients_match(flipped, 0.25)
    with pytest.raises(ValueError, match="order must be 1 or 2, got 3"):
        assert_gradients_match(flipped, 0.25, order=3)


def test_hypothesis_shrinks_a_wrong_derivative_to_a_small_input():
    # The derivative of x⁴ written with a factor missing (x³ instead of 4x³): wrong at
    # every x except 0, so the minimal failing input is small.
    quartic = primitive(lambda x: x ** 4, derivative=lambda x, out: x ** 3, name="quartic")
    failing = []

    @settings(database=None, max_examples=200, derandomize=True)
    @given(values(-100.0, 100.0))
    def users_test(x):
        try:
            assert_gradients_match(quartic, x)
        except GradcheckError:
            failing.append(x)
            raise

    with pytest.raises(GradcheckError) as caught:
        users_test()
    # hypothesis replays the shrunk example last; it is the one it reports.
    assert failing and abs(failing[-1]) <= 1.0
    assert failing[-1] != 0.0
    notes = "\n".join(getattr(caught.value, "__notes__", []))
    assert f"x={failing[-1]!r}" in notes
    assert "df/dx0" in str(caught.value) and "quartic" in str(caught.value)


def test_module_docstring_example_runs():
    # The three-line test from the docstring, for an op the user wrote.
    my_op = primitive(lambda x: x * abs(x), derivative=lambda x, out: 2 * abs(x), name="signed_square")

    @given(values(-5, 5, avoid=(0.0,)))
    def test_my_op_gradient(x):
        assert_gradients_match(my_op, x)

    test_my_op_gradient()
    assert micrograd.testing.__doc__ and "assert_gradients_match(my_op, x)" in micrograd.testing.__doc__


def test_the_strategies_compose_with_other_hypothesis_strategies():
    pairs = st.tuples(values(0.0, 1.0), positive_values(2.0, 3.0))
    x, y = find(pairs, lambda p: p[0] > 0.5)
    assert 0.5 < x <= 1.0 and 2.0 <= y <= 3.0


@given(arguments("log", -2.0, 2.0))
def test_arguments_are_inside_the_ops_domain(args):
    (x,) = args
    assert MARGIN <= x <= 2.0
    assert_gradients_match(Value.log, *args, order=2)


@given(arguments("/", margin=0.1))
def test_arguments_of_a_binary_op_keep_the_divisor_off_zero(args):
    assert len(args) == 2 and abs(args[1]) >= 0.1
