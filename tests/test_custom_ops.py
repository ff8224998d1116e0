"""`primitive`: a new op from a float forward and a Value-arithmetic derivative works with
backward(), grad(create_graph=True), gradcheck, no_grad, and next to lecture-style ops."""

from __future__ import annotations

import gc
import math

import pytest
from hypothesis import given, settings

from micrograd import Primitive, Value, grad, gradcheck, gradgradcheck, no_grad, primitive
from micrograd.testing import assert_gradients_match, positive_values, values


@primitive
def cube(x: float) -> float:
    """x³."""
    return x ** 3


@cube.derivative
def _cube_derivative(x: Value, out: Value) -> Value:
    return 3 * x ** 2


@primitive(derivative=lambda x, y, out: (x / out, y / out))
def hypot(x: float, y: float) -> float:
    return math.hypot(x, y)


softsign = primitive(lambda x: x / (1 + abs(x)), derivative=lambda x, out: 1 / (1 + abs(x)) ** 2, name="softsign")

# tanh with its derivative written from the output, as the engine's own tanh does
my_tanh = primitive(math.tanh, derivative=lambda x, out: 1 - out * out, name="my_tanh")


def test_a_primitive_makes_one_node_with_its_name_parents_and_local_derivatives():
    x, y = Value(3.0), Value(4.0)
    out = hypot(x, y)
    assert out.data == 5.0
    assert out._op == "hypot"
    assert out._prev == (x, y)
    assert out.local_grads == (3.0 * 5.0 ** -1, 4.0 * 5.0 ** -1)  # x / out and y / out, as Value division


def test_constant_arguments_are_not_parents():
    x = Value(4.0)
    out = hypot(3.0, x)
    assert out._prev == (x,)
    assert out.local_grads == (0.8,)
    assert hypot(3.0, 4.0).data == 5.0 and hypot(3.0, 4.0)._prev == ()


def test_backward_through_a_primitive_matches_the_hand_derivative():
    x = Value(2.0)
    y = cube(x) * x  # x⁴: d/dx = 4x³ = 32, with x used twice
    y.backward()
    assert y.data == 16.0
    assert x.grad == 32.0


def test_create_graph_differentiates_the_derivative_again():
    x = Value(2.0)
    (d1,) = grad(cube(x), x, create_graph=True)
    (d2,) = grad(d1, x, create_graph=True)
    (d3,) = grad(d2, x)
    assert (d1.data, d2.data, d3.data) == (12.0, 12.0, 6.0)  # 3x², 6x, 6
    t = Value(0.5)
    (dt,) = grad(grad(my_tanh(t), t, create_graph=True)[0], t)
    s = math.tanh(0.5)
    assert dt.data == pytest.approx(-2 * s * (1 - s * s), rel=1e-12)


@settings(max_examples=1000)
@given(values(-3, 3))
def test_correct_primitives_pass_first_and_second_order_checks(x):
    assert_gradients_match(cube, x, order=2)
    assert_gradients_match(my_tanh, x, order=2)
    assert_gradients_match(softsign, x if abs(x) > 1e-3 else 1e-3)  # |x| has a kink at 0


@given(values(-3, 3), values(-3, 3).filter(lambda y: abs(y) > 0.1))
def test_a_two_argument_primitive_passes_with_values_and_constants(x, y):
    assert gradgradcheck(hypot, [x, y])
    assert gradgradcheck(lambda v: hypot(v, y), [x])
    assert gradgradcheck(lambda v: hypot(x, v), [y])


def test_primitives_and_lecture_style_ops_mix_in_one_graph():
    def lecture_square(a: Value) -> Value:
        out = Value(a.data ** 2, (a,), "square")

        def _backward() -> None:
            a.grad += 2 * a.data * out.grad

        out._backward = _backward
        return out

    x = Value(1.5)
    y = lecture_square(cube(x)) + cube(lecture_square(x))  # 2 x⁶: d/dx = 12 x⁵
    y.backward()
    assert x.grad == pytest.approx(12 * 1.5 ** 5, rel=1e-12)
    assert gradcheck(lambda v: lecture_square(cube(v)) + cube(lecture_square(v)), [1.5])


def test_under_no_grad_a_primitive_records_no_parents():
    x = Value(2.0)
    with no_grad():
        out = cube(x)
    assert out.data == 8.0 and out._prev == () and out.local_grads == ()


def test_a_primitive_graph_is_freed_without_the_cycle_collector():
    gc.collect()
    gc.disable()
    try:
        x = Value(2.0)
        out = hypot(cube(x), 2.0)
        grad(out, x, create_graph=True)
        out.backward()
        del out
        assert gc.collect() == 0  # nothing was left for the collector: no reference cycles
    finally:
        gc.enable()


def test_decorator_keeps_the_forward_functions_name_and_docstring():
    assert isinstance(cube, Primitive)
    assert cube.__doc__ == "x³."
    assert cube.name == "cube" and repr(cube) == "primitive('cube')"
    assert softsign.__name__ == "softsign"


def test_errors_name_the_op_and_the_values():
    undefined = primitive(lambda x: x)
    with pytest.raises(TypeError, match="primitive '<lambda>' has no derivative: define one with @<lambda>.derivative"):
        undefined(Value(1.0))
    root = primitive(math.sqrt, derivative=lambda x, out: 0.5 / out, name="root")
    with pytest.raises(ValueError, match=r"root failed on \(-1.0\): math domain error"):
        root(Value(-1.0))
    with pytest.raises(ZeroDivisionError, match=r"the derivative of root failed at \(0.0\)"):
        root(Value(0.0))
    with pytest.raises(ValueError, match=r"big\(1000.0\) is not finite: inf"):
        primitive(lambda x: math.inf, derivative=lambda x, out: 0.0, name="big")(Value(1000.0))
    with pytest.raises(TypeError, match="root argument 0 must be a Value or a real number, got str: 'a'"):
        root("a")


def test_a_derivative_with_the_wrong_arity_or_mixed_up_number_types_is_explained():
    two = primitive(lambda x, y: x * y, derivative=lambda x, y, out: y, name="two")
    with pytest.raises(ValueError, match=r"the derivative of two must give one value per argument \(2\), got 1"):
        two(Value(1.0), Value(2.0))
    mathy = primitive(math.sin, derivative=lambda x, out: math.cos(x), name="mathy")
    with pytest.raises(TypeError, match=r"write it with Value arithmetic: x.cos\(\), not math.cos\(x\)"):
        mathy(Value(1.0))
    valuey = primitive(lambda x: x.exp(), derivative=lambda x, out: out, name="valuey")
    with pytest.raises(TypeError, match=r"valuey failed on \(1.0\): .* receives plain floats"):
        valuey(Value(1.0))


@given(positive_values(0.01, 5))
def test_a_wrong_primitive_derivative_fails_the_check(x):
    wrong_log = primitive(math.log, derivative=lambda x, out: 1 / (2 * x), name="wrong_log")  # a factor 2 off
    with pytest.raises(AssertionError, match="wrong_log"):
        assert_gradients_match(wrong_log, x)
