"""Behaviour of Value and the backward pass: compatibility with micrograd 0.1.0, kinks,
repeated calls, depth, determinism, higher-order gradients, grad modes and errors."""

from __future__ import annotations

import ast
import gc
import math
import pathlib
import subprocess
import sys
import textwrap

import pytest

import micrograd
from micrograd import Value, grad, no_grad, topological_order
from micrograd.app.example import readme_expression
from micrograd.engine import Value as EngineValue

PACKAGE_DIR = pathlib.Path(micrograd.__file__).parent


# --- compatibility with micrograd 0.1.0 -------------------------------------------------

def test_readme_expression_gives_karpathys_numbers_exactly():
    a, b, g = readme_expression()
    g.backward()
    assert g.data == 24.70408163265306
    assert a.grad == 138.83381924198252
    assert b.grad == 645.5772594752186


def test_value_is_importable_from_package_and_engine():
    assert micrograd.Value is EngineValue


def test_constructor_takes_children_and_op_positionally_and_label_by_keyword():
    a, b = Value(1.0), Value(2.0)
    c = Value(3.0, (a, b), "+", label="c")
    assert (c.data, c.grad, c._prev, c._op, c.label) == (3.0, 0.0, (a, b), "+", "c")
    assert Value(1.0).label == "" and Value(1.0)._prev == () and Value(1.0)._op == ""


def test_repr_matches_micrograd_010_format():
    v = Value(2.5)
    v.grad = -1.0
    assert repr(v) == "Value(data=2.5, grad=-1.0)"


def test_ops_record_parents_in_order_and_op_names():
    a, b = Value(2.0), Value(3.0)
    assert (a * b)._prev == (a, b) and (a * b)._op == "*"
    assert (b + a)._prev == (b, a) and (b + a)._op == "+"
    assert (a**2)._op == "**2" and (a**-1)._op == "**-1"
    assert a.relu()._op == "ReLU" and a.tanh()._op == "tanh" and a.exp()._op == "exp"


def test_constants_are_folded_into_the_op_but_prev_shows_them_as_leaves_like_010():
    a = Value(2.0)
    added, scaled = a + 1.0, 3 * a
    assert added.parents == (a,) and added.operands == (a, 1.0)  # the engine's own view
    assert scaled.parents == (a,) and scaled.operands == (a, 3.0)
    (x, one), (y, three) = added._prev, scaled._prev  # micrograd 0.1.0's: {a, Value(1.0)}
    assert x is a and y is a and one.is_leaf and (one.data, three.data) == (1.0, 3.0)
    assert added._prev[1] is one  # built once: the same objects every time


def test_equality_and_hash_are_by_identity():
    a, b = Value(1.0), Value(1.0)
    assert a != b and a == a
    assert len({a, b}) == 2
    assert {a: 1}[a] == 1


def test_ordering_compares_data():
    a, b = Value(1.0), Value(2.0)
    assert a < b and b > a and a <= 1.0 and b >= 2 and not (a > b)
    assert max([a, b, Value(-3.0)]) is b


def test_extra_attributes_can_be_assigned_and_cost_no_dict_until_used():
    v = Value(1.0)
    assert not hasattr(v, "__dict__") or v.__dict__ == {}
    v.m = 0.5  # optimizer state, the way learners attach it
    assert v.m == 0.5


def test_format_spec_formats_the_data():
    assert f"{Value(3.14159):.2f}" == "3.14"


def test_numpy_scalars_are_accepted_as_floats_and_defer_to_value_ops():
    np = pytest.importorskip("numpy")
    v = Value(np.float32(1.5))
    assert type(v.data) is float and v.data == 1.5
    w = np.int64(-1) * Value(2.0)  # karpathy's demo does -yi * score with NumPy labels
    assert isinstance(w, Value) and w.data == -2.0
    assert isinstance(np.float64(1.0) + Value(1.0), Value)


# --- lecture-style hand-written ops ------------------------------------------------------

def lecture_tanh(self: Value) -> Value:
    """tanh written the way the lecture writes it."""
    x = self.data
    t = (math.exp(2 * x) - 1) / (math.exp(2 * x) + 1)
    out = Value(t, (self,), "tanh")

    def _backward():
        self.grad += (1 - t**2) * out.grad

    out._backward = _backward
    return out


def test_lecture_style_op_works_with_backward_among_builtin_ops():
    x1, x2 = Value(2.0, label="x1"), Value(0.0, label="x2")
    w1, w2 = Value(-3.0, label="w1"), Value(1.0, label="w2")
    b = Value(6.8813735870195432, label="b")
    n = x1 * w1 + x2 * w2 + b
    o = lecture_tanh(n) * 2.0
    o.backward()
    d = 2.0 * (1 - math.tanh(n.data) ** 2)
    assert math.isclose(n.grad, d, rel_tol=1e-12)
    assert math.isclose(x1.grad, w1.data * d, rel_tol=1e-12)
    assert math.isclose(w1.grad, x1.data * d, rel_tol=1e-12)
    assert math.isclose(x2.grad, w2.data * d, rel_tol=1e-12) and w2.grad == 0.0


def test_lecture_manual_backward_one_node_at_a_time():
    # The lecture sets o.grad = 1 and calls each node's _backward() by hand, root first.
    a, b = Value(2.0), Value(-3.0)
    c = a * b
    o = c + 10.0
    o.grad = 1.0
    o._backward()
    c._backward()
    assert (c.grad, a.grad, b.grad) == (1.0, -3.0, 2.0)


def test_node_built_by_hand_without_backward_passes_no_gradient():
    a = Value(2.0)
    out = Value(5.0, (a,), "mystery")
    out.backward()
    assert a.grad == 0.0


def test_grad_reads_hand_written_backward_and_restores_every_grad():
    x = Value(0.5)
    x.grad = 7.0
    y = lecture_tanh(x * x)
    (dx,) = grad(y, [x])
    assert math.isclose(dx.data, (1 - math.tanh(0.25) ** 2) * 2 * 0.5, rel_tol=1e-12)
    assert x.grad == 7.0


def test_create_graph_through_hand_written_backward_is_a_clear_error():
    x = Value(0.5)
    with pytest.raises(ValueError, match="'tanh' node .* built by hand"):
        grad(lecture_tanh(x), [x], create_graph=True)


def test_assigning_a_non_callable_backward_is_a_type_error():
    with pytest.raises(TypeError, match="_backward must be callable, got int"):
        Value(1.0)._backward = 3


# --- kinks follow PyTorch ----------------------------------------------------------------

@pytest.mark.parametrize(
    "op, expected",
    [
        (lambda v: v.relu(), 0.0),
        (lambda v: abs(v), 0.0),
        (lambda v: v.leaky_relu(0.2), 0.2),
    ],
    ids=["relu", "abs", "leaky_relu"],
)
def test_derivative_at_kink_follows_pytorch(op, expected):
    x = Value(0.0)
    op(x).backward()
    assert x.grad == expected


def test_relu_of_negative_is_zero_with_zero_gradient():
    x = Value(-2.0)
    y = x.relu()
    y.backward()
    assert (y.data, x.grad) == (0.0, 0.0)


# --- backward semantics --------------------------------------------------------------------

def test_backward_twice_accumulates_exactly_twice_on_leaves():
    a, b, g = readme_expression()
    g.backward()
    first = (a.grad, b.grad)
    g.backward()
    assert (a.grad, b.grad) == (2 * first[0], 2 * first[1])


def test_backward_twice_leaves_interior_grads_at_this_calls_values():
    a, b, g = readme_expression()
    g.backward()
    interior = {n: n.grad for n in topological_order(g) if n._prev}
    g.backward()
    assert all(n.grad == v for n, v in interior.items())
    assert g.grad == 1.0


def test_interior_grad_is_the_derivative_of_the_root():
    x = Value(3.0)
    y = x * x  # dz/dy = 2
    z = y * 2.0
    z.backward()
    assert (y.grad, x.grad) == (2.0, 12.0)


def test_backward_on_a_leaf_adds_one():
    x = Value(3.0)
    x.backward()
    x.backward()
    assert x.grad == 2.0


def test_shared_subexpressions_accumulate_all_paths():
    x = Value(2.0)
    y = x * x
    z = y + y * x  # z = x^2 + x^3, dz/dx = 2x + 3x^2 = 16
    z.backward()
    assert x.grad == 16.0


def test_chain_of_a_million_nodes_backpropagates_without_recursion_limit():
    x = Value(1.0)
    y = x
    for _ in range(1_000_000):
        y = y + 1.0
    y.backward()
    assert y.data == 1_000_001.0 and x.grad == 1.0
    del y  # freeing the chain must not blow the C stack either


def test_topological_order_puts_parents_first_and_root_last():
    a, b, g = readme_expression()
    order = topological_order(g)
    position = {n: i for i, n in enumerate(order)}
    assert order[-1] is g and len(position) == len(order)
    assert all(position[p] < position[n] for n in order for p in n.parents)


DETERMINISM_SCRIPT = textwrap.dedent(
    """
    import random
    from micrograd.engine import Value
    from micrograd.nn import MLP
    random.seed(0)
    model = MLP(3, [8, 8, 1], fused=False)
    xs = [[random.uniform(-1, 1) for _ in range(3)] for _ in range(20)]
    loss = sum((model(x) - 1.0) ** 2 for x in xs)
    loss.backward()
    print([p.grad.hex() for p in model.parameters()])
    """
)


def test_gradients_are_bit_identical_across_processes():
    outputs = set()
    for hash_seed in ("0", "1", "12345"):
        result = subprocess.run(
            [sys.executable, "-c", DETERMINISM_SCRIPT],
            capture_output=True, text=True, check=True, env={"PYTHONHASHSEED": hash_seed, "PATH": ""},
        )
        outputs.add(result.stdout)
    assert len(outputs) == 1


def test_graph_is_freed_by_reference_counting_alone():
    # micrograd 0.1.0's nodes reach themselves through their _backward closures, so only
    # the cyclic GC frees them; ours must leave the collector nothing to find.
    gc.collect()
    gc.disable()
    try:
        a, b, g = readme_expression()
        x = Value(0.3)
        h = (x.tanh() * x.sigmoid() + x.exp().log() + x**Value(2.0) + 2.0**x).softplus() / (x.sin() + 3.0)
        h.backward()
        g.backward()
        del a, b, g, x, h
        assert gc.collect() == 0
    finally:
        gc.enable()


# --- higher-order gradients, no_grad, detach ----------------------------------------------

def test_grad_matches_backward_and_leaves_grad_untouched():
    a, b, g = readme_expression()
    da, db = grad(g, [a, b])
    assert (a.grad, b.grad) == (0.0, 0.0)
    g.backward()
    assert (da.data, db.data) == (a.grad, b.grad)


def test_grad_of_unrelated_input_is_zero_and_single_input_is_accepted():
    x, y = Value(2.0), Value(5.0)
    assert grad(x * x, y)[0].data == 0.0
    assert grad(x * x, x)[0].data == 4.0


def test_second_and_third_derivatives_through_create_graph():
    x = Value(2.0)
    y = x**3 + x.exp()
    (dy,) = grad(y, [x], create_graph=True)
    (d2y,) = grad(dy, [x], create_graph=True)
    (d3y,) = grad(d2y, [x])
    assert math.isclose(dy.data, 3 * 4 + math.exp(2), rel_tol=1e-14)
    assert math.isclose(d2y.data, 6 * 2 + math.exp(2), rel_tol=1e-14)
    assert math.isclose(d3y.data, 6 + math.exp(2), rel_tol=1e-14)


def test_hessian_vector_product():
    # f = x^2 y + y^3; H = [[2y, 2x], [2x, 6y]]; at (1, 2), H @ (1, -1) = (4 - 2, 2 - 12)
    x, y = Value(1.0), Value(2.0)
    f = x * x * y + y**3
    gx, gy = grad(f, [x, y], create_graph=True)
    hv = grad(gx * 1.0 + gy * -1.0, [x, y])
    assert [v.data for v in hv] == [2.0, -10.0]


def test_create_graph_results_can_be_backpropagated():
    x = Value(3.0)
    (dx,) = grad(x**2, [x], create_graph=True)  # 2x
    dx.backward()
    assert x.grad == 2.0


def test_no_grad_records_no_parents_and_restores_state():
    x = Value(2.0)
    with no_grad():
        y = x * x + 1.0
        assert not micrograd.is_grad_enabled()
        with no_grad():
            pass
        assert not micrograd.is_grad_enabled()
    assert micrograd.is_grad_enabled()
    assert y._prev == () and y.data == 5.0
    assert (x * x).parents == (x, x) and (x * x)._prev == (x,)  # 0.1.0's _prev is a set


def test_no_grad_restores_state_after_an_exception_and_works_as_decorator():
    with pytest.raises(ZeroDivisionError):
        with no_grad():
            Value(1.0) / 0
    assert micrograd.is_grad_enabled()

    @no_grad()
    def evaluate(v):
        return v * 2.0

    assert evaluate(Value(1.0))._prev == () and micrograd.is_grad_enabled()


def test_detach_makes_a_leaf_that_blocks_gradient():
    x = Value(3.0)
    y = x * x
    z = y.detach() * x
    z.backward()
    assert z.data == 27.0 and x.grad == 9.0 and y.grad == 0.0


def test_stability_of_tanh_and_sigmoid_at_large_inputs():
    for x, tanh, sigmoid in [(1000.0, 1.0, 1.0), (-1000.0, -1.0, 0.0)]:
        v = Value(x)
        t, s = v.tanh(), v.sigmoid()
        assert (t.data, s.data) == (tanh, sigmoid)
        (t + s).backward()
        assert v.grad == 0.0
    assert Value(-1000.0).softplus().data == 0.0 and Value(1000.0).softplus().data == 1000.0


# --- errors ------------------------------------------------------------------------------

@pytest.mark.parametrize(
    "bad, type_name",
    [("a", "str"), (None, "NoneType"), (1 + 2j, "complex"), ([1.0], "list")],
)
def test_constructor_rejects_non_real_numbers_naming_the_type(bad, type_name):
    with pytest.raises(TypeError, match=rf"Value\(\) needs a real number, got {type_name}"):
        Value(bad)


def test_constructor_accepts_ints_and_bools_as_floats():
    assert type(Value(3).data) is float and Value(3).data == 3.0 and Value(True).data == 1.0


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -float("inf")])
def test_constructor_rejects_non_finite_numbers(bad):
    with pytest.raises(ValueError, match="Value\\(\\) needs a finite number"):
        Value(bad)


@pytest.mark.parametrize(
    "expression, error, message",
    [
        (lambda: Value(0.0).log(), ValueError, "log is only defined for positive numbers, got 0.0"),
        (lambda: Value(-1.0).log(), ValueError, "log is only defined for positive numbers, got -1.0"),
        (lambda: Value(1.0) / 0, ZeroDivisionError, r"/ by zero: 1.0 / 0.0"),
        (lambda: Value(1.0) / Value(0.0), ZeroDivisionError, r"/ by zero: 1.0 / 0.0"),
        (lambda: 2.0 / Value(0.0), ZeroDivisionError, r"/ by zero: 2.0 / 0.0"),
        (lambda: Value(0.0) ** -1, ZeroDivisionError, r"\*\* of zero to a negative power: 0.0 \*\* -1.0"),
        (lambda: Value(-8.0) ** (1 / 3), ValueError, r"negative number to a fractional power is complex: -8.0"),
        (lambda: Value(-2.0) ** Value(2.0), ValueError, r"Value exponent needs a positive base.*-2.0"),
        (lambda: 0.0 ** Value(2.0), ValueError, r"needs a positive base, got 0.0"),
        (lambda: Value(1000.0).exp(), OverflowError, r"exp overflowed: exp\(1000.0\)"),
        (lambda: Value(1e200) * Value(1e200), OverflowError, r"\* overflowed.*1e\+200"),
        (lambda: Value(10.0) ** 400, OverflowError, r"\*\* overflowed.*10.0"),
        (lambda: 10.0 ** Value(400.0), OverflowError, r"\*\* overflowed"),
        (lambda: Value(1.0) + "a", TypeError, r"\+ needs a real number, got str: 'a'"),
        (lambda: Value(1.0) * None, TypeError, r"\* needs a real number, got NoneType"),
        (lambda: Value(1.0) + float("nan"), ValueError, r"\+ needs a finite number, got nan"),
        (lambda: Value(1.0) ** "2", TypeError, r"\*\* needs a real number, got str"),
        (lambda: Value(1.0, ["a"]), TypeError, r"children must be Values, got str"),
        (lambda: micrograd.affine([Value(1.0)], [1.0, 2.0], Value(0.0)), ValueError, r"2 inputs for 1 weights"),
    ],
)
def test_bad_input_raises_an_error_naming_the_op_and_value(expression, error, message):
    with pytest.raises(error, match=message):
        expression()


def test_library_has_no_assert_statements():
    # `python -O` strips asserts: input checks must be real exceptions.
    for path in PACKAGE_DIR.rglob("*.py"):
        tree = ast.parse(path.read_text(), filename=str(path))
        asserts = [node.lineno for node in ast.walk(tree) if isinstance(node, ast.Assert)]
        assert not asserts, f"{path.name} has assert statements at lines {asserts}"
