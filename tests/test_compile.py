"""micrograd.compile: a graph traced once, replayed by generated Python, bit for bit as eager.

Every comparison is exact (`float.hex`): the replay must do the same float operations in
the same order as rebuilding the graph and calling `backward()`.
"""

from __future__ import annotations

import json
import math
import pathlib
import random
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import micrograd
from micrograd import NonFiniteError, Value, primitive
from micrograd.compiler import GraphTooLargeToCompileError, Program, ReplayMismatchError, compile
from micrograd.engine import Primitive, topological_order
from micrograd.nn import MLP
from micrograd.testing import expressions

MOONS = json.loads((pathlib.Path(__file__).parent / "data" / "moons_1337.json").read_text())


def bits(x: float) -> str:
    return x.hex()


def lecture_neuron():
    """The lecture's neuron: o = tanh(x1*w1 + x2*w2 + b), labelled as in the lecture."""
    x1, x2 = Value(2.0, label="x1"), Value(0.0, label="x2")
    w1, w2 = Value(-3.0, label="w1"), Value(1.0, label="w2")
    b = Value(6.8813735870195432, label="b")
    x1w1 = x1 * w1
    x1w1.label = "x1*w1"
    x2w2 = x2 * w2
    x2w2.label = "x2*w2"
    x1w1x2w2 = x1w1 + x2w2
    x1w1x2w2.label = "x1*w1 + x2*w2"
    n = x1w1x2w2 + b
    n.label = "n"
    o = n.tanh()
    o.label = "o"
    return o, [x1, x2, w1, w2, b]


# --- the same numbers as eager, bit for bit ------------------------------------------------------

def _eager(expr, data, start):
    """Rebuild `expr` on new leaves holding `data` with gradients `start`; backward; the numbers."""
    leaves = [Value(x) for x in data]
    for leaf, g in zip(leaves, start):
        leaf.grad = g
    out = expr(*leaves)
    out.backward()
    return out.data, [leaf.grad for leaf in leaves]


@settings(max_examples=300)
@given(expressions(n_inputs=3, max_steps=10), st.lists(st.floats(-1e-3, 1e-3), min_size=3, max_size=3),
       st.sampled_from([0.0, 0.25, -1.5]))
def test_run_gives_the_eager_root_and_leaf_gradients_bit_for_bit_after_the_data_changes(expr, shift, start):
    leaves = expr.leaves()
    root = expr(*leaves)
    used = set(topological_order(root))
    program = compile(root, inputs=[leaf for leaf in leaves if leaf in used])
    for step in range(2):  # twice: gradients accumulate from what the leaves hold
        data = [x + (step + 1) * s for x, s in zip(expr.inputs, shift)]
        starts = [leaf.grad if step else start for leaf in leaves]
        for leaf, x, g in zip(leaves, data, starts):
            leaf.data, leaf.grad = x, g
        try:
            expected = _eager(expr, data, starts)
        except (ArithmeticError, ValueError) as e:  # out of an op's domain: the replay must fail the same way
            with pytest.raises(type(e)):
                program.run()
            assert [leaf.grad for leaf in leaves] == starts  # a failed run changes no gradient
            return
        value = program.run()
        assert bits(value) == bits(expected[0]), f"{expr}: root {value!r} vs eager {expected[0]!r}"
        got = [leaf.grad for leaf in leaves]
        assert [bits(g) for g in got] == [bits(g) for g in expected[1]], f"{expr}: {got} vs eager {expected[1]}"


def _demo_loss(model, X, Y):
    scores = list(map(model, [list(map(Value, x)) for x in X]))
    losses = [(1 + -yi * si).relu() for yi, si in zip(Y, scores)]
    return sum(losses) * (1.0 / len(losses)) + 1e-4 * sum((p * p for p in model.parameters()))


def test_karpathys_demo_trains_100_sgd_steps_with_the_eager_loss_at_every_step():
    X, Y = MOONS["X"], MOONS["y"]
    random.seed(1337)
    eager = MLP(2, [16, 16, 1])
    random.seed(1337)
    replayed = MLP(2, [16, 16, 1])
    program = compile(_demo_loss(replayed, X, Y))
    assert len(program.nodes) == 8114 and program.edges == 69150
    for k in range(100):
        loss = _demo_loss(eager, X, Y)
        eager.zero_grad()
        loss.backward()
        replayed.zero_grad()
        for leaf in program.leaves:  # the inputs' gradients too, as the eager run makes new inputs each step
            leaf.grad = 0.0
        assert program.run() == loss.data, f"step {k}"
        lr = 1.0 - 0.9 * k / 100
        for p, q in zip(eager.parameters(), replayed.parameters()):
            assert q.grad == p.grad
            p.data -= lr * p.grad
            q.data -= lr * q.grad
    assert loss.data == 0.010978370135492717  # the demo's step 99, to the last bit


def test_sync_writes_every_interior_nodes_data_and_grad_as_an_eager_pass_would():
    o, leaves = lecture_neuron()
    program = compile(o)
    x1, x2, w1, w2, b = leaves
    x1.data, w2.data = 1.5, -0.5
    program.run(sync=True)
    twin, twin_leaves = lecture_neuron()
    twin_leaves[0].data, twin_leaves[3].data = 1.5, -0.5
    rebuilt_root = twin_leaves[0] * twin_leaves[2] + twin_leaves[1] * twin_leaves[3] + twin_leaves[4]
    rebuilt_root = rebuilt_root.tanh()
    rebuilt_root.backward()
    for mine, theirs in zip(topological_order(o), topological_order(rebuilt_root)):
        assert (mine.data, mine.grad) == (theirs.data, theirs.grad), mine.label


def test_sync_rebuilds_the_lecture_view_from_the_new_numbers():
    random.seed(0)
    model = MLP(2, [2, 1])
    x = [Value(1.0, label="x1"), Value(-2.0, label="x2")]
    out = model(x)
    neuron = model.layers[0].neurons[0](x)  # an affine node inside: its lecture view is 0.1.0's * and + chain
    program = compile(out + neuron)
    _ = [v._prev for v in program.nodes]  # build every view, with the old numbers
    x[0].data = 3.0
    program.run(sync=True)
    for v in program.nodes:
        assert v.lecture_node.data == v.data
        if v.parents:
            assert v.lecture_node.grad == v.grad


def test_without_sync_interior_nodes_keep_their_old_numbers_but_outputs_are_written():
    x = Value(1.0, label="x")
    h = x * 3.0
    y = h.tanh()
    program = compile(y, outputs=[h])
    x.data = 2.0
    assert program.run() == math.tanh(6.0)
    assert h.data == 6.0 and y.data == math.tanh(3.0)


def test_a_leaf_root_gets_one_added_to_its_gradient_like_backward():
    x = Value(3.0)
    program = compile(x)
    assert program.run() == 3.0 and x.grad == 1.0
    program.run()
    assert x.grad == 2.0


def test_a_users_primitives_compile_with_their_own_derivatives():
    @primitive
    def cube(x: float) -> float:
        return x ** 3

    @cube.derivative
    def _(x, out):  # with Values: the replay calls it on the numbers, as backward() does
        return 3 * x ** 2 / x.exp()

    mysin = Primitive("mysin", math.sin, partials=(lambda x, out: math.cos(x),), floats=True)  # math.cos: no symbols
    square = Primitive("square", lambda x: x * x, partials=(lambda x, out: 2.0 * x,), floats=True)
    a, b = Value(0.7, label="a"), Value(-1.2, label="b")
    out = cube(a) * mysin(b) + square(a * b)
    program = compile(out)
    a.data, b.data = 0.4, 0.3
    value = program.run()
    a2, b2 = Value(0.4), Value(0.3)
    eager = cube(a2) * mysin(b2) + square(a2 * b2)
    eager.backward()
    assert (value, a.grad, b.grad) == (eager.data, a2.grad, b2.grad)
    assert re.search(r"g\d+ \+?= 2.0 \* v\d+ \* g\d+", program.source)  # square's derivative, inlined
    assert re.search(r"_d\d+ = d_cube\(a, v\d+\)", program.source)  # cube's, written with Values: called


# --- readable source -----------------------------------------------------------------------------

def test_the_lecture_neuron_reads_as_backprop_by_hand():
    o, _ = lecture_neuron()
    source = compile(o).source
    lines = [line.strip() for line in source.splitlines()]
    for line in [
        "x1_w1 = x1 * w1",
        "x1_w1_x2_w2 = x1_w1 + x2_w2",
        "n = x1_w1_x2_w2 + b",
        "o = math.tanh(n)",  # the forward line
        "g_o = 1.0",
        "g_n = (1.0 - o * o) * g_o",  # tanh's one written derivative, 1 - out * out, inlined
        "g_b += g_n",  # + passes the gradient on unchanged: 1.0 * g is g
        "g_x1 += w1 * g_x1_w1",
        "g_w1 += x1 * g_x1_w1",
    ]:
        assert line in lines, f"{line!r} not in:\n{source}"
    assert lines.index("o = math.tanh(n)") < lines.index("g_o = 1.0") < lines.index("g_x1 += w1 * g_x1_w1")


def test_unlabelled_nodes_are_numbered_in_topological_order_and_long_sums_are_split():
    xs = [Value(float(k)) for k in range(250)]
    ws = [Value(0.5) for _ in xs]
    z = micrograd.affine(ws, xs, Value(1.0))
    program = compile(z.relu())
    assert "v502 = relu(v501)" in program.source
    sums = [line for line in program.source.splitlines() if line.strip().startswith("v501 = ")]
    assert len(sums) == 3  # 250 terms in statements of at most 100 (one Python line would not compile)
    z2 = micrograd.affine(ws, xs, Value(1.0)).relu()
    z2.backward()
    program.run()
    assert [w.grad for w in ws] == [2 * x.data for x in xs]  # two passes accumulated, each x


# --- check() ---------------------------------------------------------------------------------------

def test_check_passes_when_the_replay_matches_and_leaves_gradients_alone():
    o, leaves = lecture_neuron()
    program = compile(o)
    leaves[0].grad = 0.5
    program.check()
    twin, _ = lecture_neuron()
    program.check(o)
    assert [leaf.grad for leaf in leaves] == [0.5, 0.0, 0.0, 0.0, 0.0]


def test_check_with_a_rebuilt_graph_finds_data_dependent_control_flow():
    x = Value(1.0, label="x")

    def f(x):
        return x * 2.0 if x.data > 0 else x * 3.0

    program = compile(f(x))
    x.data = -1.0
    with pytest.raises(ReplayMismatchError, match=r"node 1 \(v1\) was \*\(node, 2.0\) when traced and is"
                                                  r" \*\(node, 3.0\) now: the code builds another graph"):
        program.check(f(x))
    assert x.grad == 0.0


# --- errors ----------------------------------------------------------------------------------------

def test_bad_arguments_are_named():
    o, leaves = lecture_neuron()
    with pytest.raises(TypeError, match="compile needs a Value root, got float: 1.0"):
        compile(1.0)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="the input .* is not in the graph"):
        compile(o, inputs=[Value(1.0)])
    with pytest.raises(ValueError, match="is not a leaf"):
        compile(o, inputs=[o])
    with pytest.raises(ValueError, match="listed twice"):
        compile(o, inputs=[leaves[0], leaves[0]])
    with pytest.raises(TypeError, match="compile inputs must be Values"):
        compile(o, inputs=[2.0])  # type: ignore[list-item]
    with pytest.raises(ValueError, match="the output .* is not in the graph"):
        compile(o, outputs=[Value(1.0)])
    with pytest.raises(TypeError, match="check needs a Value"):
        compile(o).check(3)  # type: ignore[arg-type]


def test_a_hand_written_backward_is_refused_pointing_to_primitive():
    x = Value(2.0, label="x")
    out = Value(x.data ** 3, (x,), "cube")

    def _backward():
        x.grad += 3 * x.data ** 2 * out.grad

    out._backward = _backward
    with pytest.raises(ValueError, match=r"'cube' node .* by hand.* hand-written _backward.* micrograd.primitive"):
        compile(out + 1.0)


def test_a_graph_beyond_the_size_limit_is_refused_before_compiling(monkeypatch):
    monkeypatch.setattr(micrograd.compiler, "MAX_EDGES", 10)
    x = Value(1.0)
    y = x
    for _ in range(11):
        y = y + x
    with pytest.raises(GraphTooLargeToCompileError, match="22 edges, more than the 10"):
        compile(y)


def test_run_batch_on_a_program_is_the_eager_loop_over_the_rows():
    pytest.importorskip("numpy", reason="run_batch needs NumPy (the fast extra)")
    w, b = Value(0.7, label="w"), Value(-0.2, label="b")
    x, y = Value(0.0, label="x"), Value(0.0, label="y")
    loss = ((w * x + b).tanh() - y) ** 2
    program = compile(loss, inputs=[x, y])
    rows = [[0.5, 1.0], [-1.5, 0.0], [2.0, -1.0]]
    losses = program.run_batch(rows, reduction="mean")
    expected = []
    grads = [0.0, 0.0]
    for xi, yi in rows:
        W, B = Value(0.7), Value(-0.2)
        one = ((W * xi + B).tanh() - yi) ** 2
        one.backward()
        expected.append(one.data)
        grads = [grads[0] + W.grad / len(rows), grads[1] + B.grad / len(rows)]
    assert list(losses) == pytest.approx(expected, rel=1e-12)
    assert [w.grad, b.grad] == pytest.approx(grads, rel=1e-12)


# --- nothing non-finite gets through ---------------------------------------------------------------

def test_nan_set_by_hand_on_a_leaf_is_named_and_no_gradient_changes():
    o, leaves = lecture_neuron()
    program = compile(o)
    leaves[2].grad = 0.25
    leaves[2].data = math.nan
    with pytest.raises(ValueError, match="'w1' has a non-finite data nan"):
        program.run()
    assert [leaf.grad for leaf in leaves] == [0.0, 0.0, 0.25, 0.0, 0.0]


@pytest.mark.parametrize("squash", [Value.tanh, Value.relu, Value.sigmoid, Value.exp])
def test_an_overflow_that_an_op_would_squash_to_a_finite_number_is_still_caught(squash):
    x = Value(-1.0, label="x")
    y = squash(x * 3.0)
    program = compile(y)
    x.data = -1e308  # x * 3 is -inf; tanh, relu, sigmoid and exp would make it finite
    with pytest.raises(OverflowError, match=r"\* overflowed: the result of \* on \(-1e\+308, 3.0\) is not finite"):
        program.run()
    with pytest.raises(OverflowError):  # what building the graph eagerly does
        squash(x * 3.0)
    assert x.grad == 0.0


def test_a_gradient_that_overflows_raises_the_engines_nonfinite_error_and_changes_nothing():
    x = Value(1e-300, label="x")
    y = (x * 1e300) * 1e300
    program = compile(y)
    x.grad = 1.0
    x.data = 2e-300  # the forward pass stays finite (2e300); d y / d x is 1e300 * 1e300
    with pytest.raises(NonFiniteError, match="the gradient of 'x'"):
        program.run()
    assert x.grad == 1.0


def test_a_domain_error_after_the_data_changes_is_the_ops_own():
    x = Value(2.0, label="x")
    program = compile(x.log() * 2.0)
    x.data = -1.0
    with pytest.raises(ValueError, match="log is only defined for positive numbers, got -1.0"):
        program.run()


def test_program_exposes_what_a_batched_evaluator_needs():
    x, y = Value(1.0, label="x"), Value(2.0, label="y")
    w = Value(0.5, label="w")
    loss = ((x * w) - y) ** 2
    program = compile(loss, inputs=[x, y])
    assert isinstance(program, Program) and micrograd.compile is compile
    assert program.nodes == topological_order(loss) and program.root is loss
    assert program.inputs == (x, y) and program.parameters == [w]
    assert set(program.leaves) == {x, y, w}
    assert "leaves (2 inputs)" in repr(program)


@settings(max_examples=50)
@given(expressions(n_inputs=2, max_steps=12), st.integers(1, 6))
def test_a_program_cut_into_parts_gives_the_same_numbers_as_one_function(expr, part_lines):
    leaves = expr.leaves()
    root = expr(*leaves)
    whole = compile(root)
    saved = micrograd.compiler.PART_LINES
    micrograd.compiler.PART_LINES = part_lines
    try:
        cut = compile(root)
    finally:
        micrograd.compiler.PART_LINES = saved
    assert "def _part1" in cut.source and "_part" not in whole.source
    results = []
    for program in (whole, cut):
        for leaf in leaves:
            leaf.grad = 0.5
        value = program.run(sync=True)
        results.append((bits(value), [bits(leaf.grad) for leaf in leaves],
                        [(bits(v.data), bits(v.grad)) for v in program.nodes]))
    assert results[0] == results[1], str(expr)


def test_a_graph_of_300k_edges_compiles_in_parts():
    random.seed(0)
    model = MLP(2, [16, 16, 1])
    X, Y = MOONS["X"] * 5, MOONS["y"] * 5
    program = compile(_demo_loss(model, X[:435], Y[:435]))
    assert program.edges == 296280
    assert program.source.count("def _part") >= 10  # each part compiled on its own: memory stays bounded
    before = [p.data for p in model.parameters()]
    value = program.run()
    twin = _demo_loss(model, X[:435], Y[:435])
    grads = [p.grad for p in model.parameters()]
    model.zero_grad()
    twin.backward()
    assert value == twin.data and grads == [p.grad for p in model.parameters()]
    assert before == [p.data for p in model.parameters()]


def test_a_star_import_of_micrograd_leaves_the_builtin_compile_alone():
    namespace: dict = {}
    exec("from micrograd import *", namespace)  # noqa: S102
    assert "compile" not in namespace and "Program" in namespace
    assert micrograd.compile is compile and "compile" in dir(micrograd)
