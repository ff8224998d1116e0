"""gradcheck, gradgradcheck and central_difference: they pass right derivatives, catch wrong
ones with a readable message, say so honestly at kinks and domain edges, and leave every
Value they touch as it was."""

from __future__ import annotations

import math
import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

import micrograd
from micrograd import (
    GradcheckError,
    NotDifferentiableError,
    Value,
    central_difference,
    gradcheck,
    gradgradcheck,
    primitive,
)
from micrograd.nn import MLP
from micrograd.testing import OPS, arguments, positive_values, values

# --- central_difference -------------------------------------------------------------------


def test_central_difference_of_a_float_formula_is_the_derivative():
    # d(x² y)/dx = 2xy = 12 and d(x² y)/dy = x² = 9 at (3, 2)
    assert central_difference(lambda x, y: x * x * y, 3.0, 2.0) == pytest.approx(12.0, rel=1e-9)
    assert central_difference(lambda x, y: x * x * y, 3.0, 2.0, arg=1) == pytest.approx(9.0, rel=1e-9)
    assert central_difference(lambda x, y: x * x * y, 3.0, 2.0, arg=-1) == pytest.approx(9.0, rel=1e-9)


def test_central_difference_accepts_a_function_returning_a_value():
    assert central_difference(lambda x: Value(x).tanh(), 0.5) == pytest.approx(1.0 - math.tanh(0.5) ** 2, rel=1e-9)


def test_central_difference_step_controls_the_error():
    # The error of (f(x+h) - f(x-h)) / 2h for exp at 0 is h²/6 + O(h⁴).
    assert central_difference(math.exp, 0.0, eps=1e-2) == pytest.approx(1.0 + 1e-4 / 6, rel=1e-9)


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"arg": 2}, ValueError, "index into the 2 inputs, got 2"),
        ({"eps": 0.0}, ValueError, "eps must be positive, got 0.0"),
        ({"eps": float("nan")}, ValueError, "eps needs a finite number, got nan"),
    ],
)
def test_central_difference_rejects_bad_arguments(kwargs, error, match):
    with pytest.raises(error, match=match):
        central_difference(lambda x, y: x * y, 1.0, 2.0, **kwargs)


# --- gradcheck: right derivatives pass ----------------------------------------------------


def test_gradcheck_passes_a_correct_expression_of_floats():
    assert gradcheck(lambda a, b: (a * b).tanh() + a.exp() / b, [0.3, -1.7]) is True


def test_gradcheck_takes_a_single_input_without_a_list():
    assert gradcheck(lambda x: x.sin() * x, 0.4) is True
    assert gradcheck(lambda x: x.sin() * x, Value(0.4)) is True


def test_gradcheck_passes_steep_and_large_smooth_functions():
    # 1/x at 0.01 has f'' = 2e6, exp at 10 has f = 22026: neither may look like a kink.
    assert gradcheck(lambda x: 1.0 / x, [0.01])
    assert gradcheck(lambda x: x.exp(), [10.0])
    assert gradcheck(lambda x: (x * 1000.0).sin(), [0.0015707])


def test_gradcheck_of_a_constant_function_passes():
    assert gradcheck(lambda x: 3.0, [1.0])
    assert gradcheck(lambda x, y: x * 2.0, [1.0, 5.0])  # y unused: its gradient is 0 both ways


@given(values(-3, 3), values(-3, 3), positive_values(0.1, 3))
def test_gradcheck_passes_a_correct_expression_everywhere(a, b, c):
    assert gradcheck(lambda a, b, c: (a * b + c.log()).sigmoid() * (b - a) ** 2 + c ** b, [a, b, c])


# --- gradcheck: wrong derivatives are caught ----------------------------------------------


def test_gradcheck_catches_a_sign_flip_and_names_both_numbers():
    wrong_sin = primitive(math.sin, derivative=lambda x, out: -x.cos(), name="wrong_sin")
    with pytest.raises(GradcheckError) as caught:
        gradcheck(wrong_sin, [0.0])
    assert type(caught.value) is GradcheckError
    message = str(caught.value)
    assert message.startswith("gradcheck failed for wrong_sin at (x0=0.0):\n")
    assert "df/dx0 at x0 = 0.0: analytic (backward) -1.0, numerical (central difference, eps=1e-06)" in message
    assert "0.9999999999998334" in message  # (sin(1e-6) - sin(-1e-6)) / 2e-6
    assert "error 1.9999999999998335 > tolerance" in message


def test_gradcheck_catches_a_missing_factor():
    cube = primitive(lambda x: x ** 3, derivative=lambda x, out: x ** 2, name="cube")  # forgot the 3
    with pytest.raises(GradcheckError, match=r"analytic \(backward\) 4.0, numerical .* 12.0000000"):
        gradcheck(cube, [2.0])


def _lecture_mul(a: Value, b: Value, buggy: bool) -> Value:
    """a * b written the lecture's way; `buggy` uses `=` where `+=` belongs."""
    out = Value(a.data * b.data, (a, b), "*")

    def _backward() -> None:
        if buggy:
            a.grad = b.data * out.grad
            b.grad = a.data * out.grad
        else:
            a.grad += b.data * out.grad
            b.grad += a.data * out.grad

    out._backward = _backward
    return out


def test_gradcheck_catches_assignment_instead_of_accumulation_in_a_lecture_op():
    # x feeds the product and the sum, so `=` throws away the gradient of one path.
    with pytest.raises(GradcheckError, match=r"df/dx0 at x0 = 2.0: analytic \(backward\) 3.0, numerical"):
        gradcheck(lambda x, y: _lecture_mul(x, y, buggy=True) + x, [2.0, 3.0])
    assert gradcheck(lambda x, y: _lecture_mul(x, y, buggy=False) + x, [2.0, 3.0])


def test_gradcheck_lists_every_failing_input_and_uses_labels():
    a, b = Value(1.5, label="a"), Value(2.0, label="b")
    swapped = primitive(lambda x, y: x * y, derivative=lambda x, y, out: (x, y), name="swapped")
    with pytest.raises(GradcheckError) as caught:
        gradcheck(swapped, [a, b])
    lines = str(caught.value).splitlines()
    assert lines[0] == "gradcheck failed for swapped at (a=1.5, b=2.0):"
    assert lines[1].startswith("  df/da at a = 1.5: analytic (backward) 1.5, numerical")
    assert lines[2].startswith("  df/db at b = 2.0: analytic (backward) 2.0, numerical")


def test_gradcheck_returns_false_instead_of_raising_when_asked():
    wrong = primitive(math.exp, derivative=lambda x, out: 2 * out, name="wrong_exp")
    assert gradcheck(wrong, [0.5], raise_exception=False) is False
    assert gradcheck(Value.exp, [0.5], raise_exception=False) is True


# --- kinks and domain edges are reported as what they are ---------------------------------


@pytest.mark.parametrize(
    "f, left, right",
    [(Value.relu, 0.0, 1.0), (Value.abs, -1.0, 1.0), (lambda x: x.leaky_relu(0.1), 0.1, 1.0)],
)
def test_gradcheck_reports_a_kink_as_not_differentiable(f, left, right):
    with pytest.raises(NotDifferentiableError) as caught:
        gradcheck(f, [0.0])
    message = str(caught.value)
    assert "f is not differentiable here" in message
    assert f"its slope is {left!r} from the left and {right!r} from the right" in message


def test_gradcheck_reports_a_kink_within_eps_of_the_point():
    with pytest.raises(NotDifferentiableError, match="not differentiable within eps = 1e-06 of this point"):
        gradcheck(Value.relu, [3e-7])
    assert gradcheck(Value.relu, [3e-7], eps=1e-8)  # a smaller step stays on one side


def test_gradcheck_reports_a_point_too_close_to_the_edge_of_the_domain():
    with pytest.raises(GradcheckError) as caught:
        gradcheck(Value.log, [3e-7])
    assert type(caught.value) is GradcheckError  # not a kink: f is undefined a step away
    assert "f cannot be evaluated within eps = 1e-06 of this point" in str(caught.value)
    assert "ValueError: log is only defined for positive numbers, got -7e-07" in str(caught.value)


def test_gradcheck_mixes_kinks_and_mismatches_as_a_plain_failure():
    wrong_sin = primitive(math.sin, derivative=lambda x, out: -x.cos(), name="wrong_sin")
    with pytest.raises(GradcheckError) as caught:
        gradcheck(lambda x, y: x.relu() + wrong_sin(y), [0.0, 0.0])
    assert type(caught.value) is GradcheckError
    assert "not differentiable" in str(caught.value) and "analytic (backward)" in str(caught.value)


# --- gradcheck leaves everything as it was ------------------------------------------------


def test_gradcheck_restores_data_and_grad_of_inputs():
    x, y = Value(0.7), Value(-1.2)
    x.grad, y.grad = 5.0, -3.0
    gradcheck(lambda x, y: x * y + x.tanh(), [x, y])
    assert (x.data, x.grad, y.data, y.grad) == (0.7, 5.0, -1.2, -3.0)


def test_gradcheck_restores_inputs_when_it_fails_or_f_raises():
    x = Value(0.25)
    x.grad = 1.5
    with pytest.raises(GradcheckError):
        gradcheck(primitive(math.exp, derivative=lambda x, out: -out, name="bad"), [x])
    with pytest.raises(GradcheckError):
        gradcheck(Value.log, [Value(3e-7)])
    assert (x.data, x.grad) == (0.25, 1.5)


def test_gradcheck_checks_a_model_through_a_closure_and_restores_its_parameters():
    random.seed(0)
    model = MLP(2, [3, 1], activation="tanh")
    for p in model.parameters():
        p.grad = 0.125
    before = [(p.data, p.grad) for p in model.parameters()]
    xs = [(0.5, -1.0), (-0.3, 0.8)]

    def loss(*params: Value) -> Value:  # reads the parameters from the model, not from params
        return sum(((model(x) - 1.0) ** 2 for x in xs), Value(0.0))

    assert gradcheck(loss, model.parameters())
    assert [(p.data, p.grad) for p in model.parameters()] == before


# --- argument errors ----------------------------------------------------------------------


def test_gradcheck_rejects_bad_inputs_with_the_offending_value():
    x = Value(1.0)
    with pytest.raises(ValueError, match=r"input 0 must be a leaf Value .* output of '\*'"):
        gradcheck(lambda v: v, [x * 2.0])
    with pytest.raises(ValueError, match="input 1 is the same Value as input 0"):
        gradcheck(lambda a, b: a * b, [x, x])
    with pytest.raises(TypeError, match="gradcheck input 0 needs a real number, got str: 'a'"):
        gradcheck(lambda v: v, ["a"])
    with pytest.raises(ValueError, match="at least one input"):
        gradcheck(lambda: Value(1.0), [])
    with pytest.raises(ValueError, match="rtol must not be negative, got -1.0"):
        gradcheck(lambda v: v, [1.0], rtol=-1.0)
    with pytest.raises(TypeError, match="must return a Value or a number, got str: 'no'"):
        gradcheck(lambda v: "no", [1.0])


# --- gradgradcheck ------------------------------------------------------------------------


_CONSTANT = 1.75  # a constant operand, for the variants with a number on one side


def _variants():
    """Every built-in op, with all Value operands and with a constant in each allowed position."""
    cases = []
    for op in OPS.values():
        cases.append(pytest.param(op, None, id=op.name))
        cases += [pytest.param(op, k, id=f"{op.name} with constant argument {k}") for k in op.constants]
    return cases


@pytest.mark.parametrize("op, constant_at", _variants())
@given(data=st.data())
def test_gradgradcheck_passes_for_every_builtin_op(op, constant_at, data):
    args = list(data.draw(arguments(op, margin=0.01), label="args"))
    if constant_at is not None:
        args[constant_at] = _CONSTANT
        if not op.admits(args, 0.01):
            return  # e.g. the positive base 1.75 ** x needs no other case
    positions = [k for k in range(op.arity) if k != constant_at]

    def f(*xs: Value) -> Value:
        full = list(args)
        for k, x in zip(positions, xs):
            full[k] = x
        return op.build(*full)

    point = [args[k] for k in positions]
    assert gradcheck(f, point)
    assert gradgradcheck(f, point)


@pytest.mark.parametrize(
    "f, point",
    [
        (lambda x: x ** 2, [-1.5]),  # constant exponents with negative bases
        (lambda x: x ** -1, [-0.5]),
        (lambda x: x ** 3, [-2.0]),
        (lambda x: x ** 0, [-2.0]),
        (lambda x: 2.0 ** x, [-0.5]),
        (lambda x: x.leaky_relu(0.2), [-0.4]),
        (lambda w0, w1, x0, b: micrograd.affine([w0, w1], [x0, 0.5], b), [0.3, -0.2, 1.1, 0.7]),
    ],
)
def test_gradgradcheck_passes_for_builtin_op_variants_the_table_leaves_out(f, point):
    assert gradgradcheck(f, point)


def test_gradgradcheck_catches_a_derivative_that_breaks_the_graph():
    # The derivative's value is right (backward passes), but it reads x.data, a plain float:
    # differentiated again it is a constant, so the second derivative comes out 0, not 6x.
    cube = primitive(lambda x: x ** 3, derivative=lambda x, out: 3 * x.data ** 2, name="cube")

    assert gradcheck(cube, [2.0])
    with pytest.raises(GradcheckError) as caught:
        gradgradcheck(cube, [2.0])
    message = str(caught.value)
    assert message.startswith("gradgradcheck failed for")
    assert "d²f/dx0 dx0 at x0 = 2.0: analytic (backward) 0.0, numerical" in message


def test_gradgradcheck_checks_mixed_second_derivatives():
    # d²(x y²)/dx dy = 2y and d²/dy² = 2x
    assert gradgradcheck(lambda x, y: x * y * y, [1.5, -0.5])
    # d(x y)/dy written as x.data: right in value, but a constant when differentiated
    # again, which only the mixed second derivative d/dx (d/dy) sees.
    mul = primitive(lambda x, y: x * y, derivative=lambda x, y, out: (y, x.data), name="mul")

    assert gradcheck(mul, [1.0, -0.5])
    with pytest.raises(GradcheckError) as caught:
        gradgradcheck(mul, [1.0, -0.5])
    lines = str(caught.value).splitlines()[1:]
    assert len(lines) == 1
    assert lines[0].startswith("  d²f/dx1 dx0 at x0 = 1.0: analytic (backward) 0.0, numerical")


def test_gradgradcheck_explains_a_lecture_op_has_no_rule():
    with pytest.raises(ValueError, match="cannot differentiate through the '\\*' node"):
        gradgradcheck(lambda x, y: _lecture_mul(x, y, buggy=False), [2.0, 3.0])


def test_gradcheck_says_when_eps_is_too_small_for_the_point():
    with pytest.raises(GradcheckError, match="eps = 1e-06 is below the spacing of floats near this point"):
        gradcheck(lambda x: x * 2.0, [1e12])
    assert gradcheck(lambda x: x * 2.0, [1e12], eps=1e-2)
    with pytest.raises(ValueError, match="eps = 1e-06 is below the spacing of floats near 1000000000000.0"):
        central_difference(lambda x: x, 1e12)
