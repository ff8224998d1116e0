"""Batched replay (micrograd.batched): one example's graph run for N examples with NumPy
must give what the eager per-example loop gives (a new graph for each example, backward(),
the summed gradients divided by N for the mean), to within 1e-12 relative, on random
expression graphs, random MLPs and karpathy's demo; and bad input must be refused clearly.
"""

from __future__ import annotations

import json
import math
import pathlib
import random
import subprocess
import sys
from typing import Callable, List, Sequence, Tuple

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import micrograd
from micrograd import BatchedProgram, NonFiniteError, Value, engine, primitive, run_batch, topological_order
from micrograd.batched import _Batch, numpy_forwards
from micrograd.nn import MLP
from micrograd.testing import expressions

np = pytest.importorskip("numpy", reason="run_batch needs NumPy (pip install 'micrograd-lab[fast]')")

ROOT = pathlib.Path(__file__).resolve().parent.parent
DATA = json.loads((ROOT / "tests" / "data" / "moons_1337.json").read_text())
RTOL = 1e-12
Build = Callable[..., Value]


# --- the reference: the eager loop ---------------------------------------------------------

def eager_loop(build: Build, params: Sequence[Value], X: Sequence[Sequence[float]], reduction: str = "mean"
               ) -> Tuple[List[float], List[float], List[float]]:
    """For each row of X: new input leaves, the graph built anew, backward(). Returns the
    roots, the parameters' reduced gradients, and the same reduction of the gradients'
    magnitudes (the scale a relative tolerance is taken against). Leaves `.grad` as found."""
    saved = [p.grad for p in params]
    for p in params:
        p.grad = 0.0
    roots, size = [], [0.0] * len(params)
    for row in X:
        before = [p.grad for p in params]
        out = build(*[Value(float(x)) for x in row])
        out.backward()
        roots.append(out.data)
        for k, p in enumerate(params):
            size[k] += abs(p.grad - before[k])
    n = len(X) if reduction == "mean" else 1
    grads = [p.grad / n for p in params]
    for p, g in zip(params, saved):
        p.grad = g
    return roots, grads, [s / n for s in size]


def assert_close(got: Sequence[float], want: Sequence[float], scale: Sequence[float], what: str) -> None:
    assert len(got) == len(want)
    for k, (a, b, s) in enumerate(zip(got, want, scale)):
        assert abs(a - b) <= RTOL * max(abs(b), s), f"{what}[{k}]: batched {a!r}, eager {b!r} (scale {s!r})"


def check_against_eager(build: Build, n_inputs: int, X: Sequence[Sequence[float]], reduction: str = "mean"
                        ) -> BatchedProgram:
    """Build the per-example graph once, run it batched, and compare with the eager loop."""
    # The graph is built once, at the first example (an op's domain is checked as it is built).
    placeholders = [Value(float(X[0][j]), label=f"x{j}") for j in range(n_inputs)]
    program = BatchedProgram(build(*placeholders), placeholders)
    params = program.parameters
    roots, grads, scale = eager_loop(build, params, X, reduction)
    for p in params:
        p.grad = 0.0
    got = program.run_batch(np.array(X, dtype=float).reshape(len(X), n_inputs), reduction)
    assert isinstance(got, np.ndarray) and got.dtype == np.float64 and got.shape == (len(X),)
    assert_close(got.tolist(), roots, [abs(r) for r in roots], "root")
    assert_close([p.grad for p in params], grads, scale, "grad")
    return program


# --- karpathy's demo -----------------------------------------------------------------------

def demo_model() -> MLP:
    random.seed(1337)
    return MLP(2, [16, 16, 1])


def demo_loss(model: MLP) -> Build:
    params = model.parameters()
    return lambda x1, x2, y: (1 + -y * model([x1, x2])).relu() + 1e-4 * sum(p * p for p in params)


DEMO_XY = [[x1, x2, y] for (x1, x2), y in zip(DATA["X"], DATA["y"])]


@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_the_demo_loss_matches_the_eager_loop(reduction: str) -> None:
    model = demo_model()
    program = check_against_eager(demo_loss(model), 3, DEMO_XY, reduction)
    assert set(program.parameters) == set(model.parameters())  # every weight, and nothing else
    assert program.replays == 0  # the NumPy path did it, not the fallback
    assert "3 matrix products" in repr(program)  # each layer's neurons as one product


def test_the_mean_of_the_demo_losses_is_the_demo_loss_and_its_gradient() -> None:
    # karpathy's demo computes mean(hinge) + L2 over one graph of the whole batch.
    model = demo_model()
    scores = [model([Value(a), Value(b)]) for a, b in DATA["X"]]
    hinge = [(1 + -yi * si).relu() for yi, si in zip(DATA["y"], scores)]
    total = sum(hinge) * (1.0 / len(hinge)) + 1e-4 * sum(p * p for p in model.parameters())
    model.zero_grad()
    total.backward()
    want = [p.grad for p in model.parameters()]
    x1, x2, y = Value(0.0), Value(0.0), Value(0.0)
    program = BatchedProgram(demo_loss(model)(x1, x2, y), [x1, x2, y])
    model.zero_grad()
    losses = program.run_batch(DEMO_XY)
    assert float(losses.mean()) == pytest.approx(total.data, rel=1e-13)
    assert_close([p.grad for p in model.parameters()], want, [abs(g) + 1e-16 for g in want], "grad")


def test_training_with_one_program_follows_the_eager_demo_step_for_step() -> None:
    # The graph is read once; each run reads the parameters' new data (SGD changed them).
    eager, batched = demo_model(), demo_model()
    x1, x2, y = Value(0.0), Value(0.0), Value(0.0)
    program = BatchedProgram(demo_loss(batched)(x1, x2, y), [x1, x2, y])
    for k in range(3):
        scores = [eager([Value(a), Value(b)]) for a, b in DATA["X"]]
        hinge = [(1 + -yi * si).relu() for yi, si in zip(DATA["y"], scores)]
        total = sum(hinge) * (1.0 / len(hinge)) + 1e-4 * sum(p * p for p in eager.parameters())
        eager.zero_grad()
        total.backward()
        batched.zero_grad()
        loss = float(program.run_batch(DEMO_XY).mean())
        assert loss == pytest.approx(total.data, rel=1e-12), f"step {k}"
        lr = 1.0 - 0.9 * k / 100
        for model in (eager, batched):
            for p in model.parameters():
                p.data -= lr * p.grad
    for a, b in zip(eager.parameters(), batched.parameters()):
        assert a.data == pytest.approx(b.data, rel=1e-12, abs=1e-15)


def test_the_unfused_demo_network_gives_the_same_numbers() -> None:
    random.seed(1337)
    model = MLP(2, [16, 16, 1], fused=False)  # 0.1.0's chains of * and +: no matrix products
    program = check_against_eager(demo_loss(model), 3, DEMO_XY[:20])
    assert "0 matrix products" in repr(program) and program.replays == 0


# --- shared nodes and the reduction --------------------------------------------------------

def test_a_term_shared_by_every_example_counts_once_in_the_mean_and_n_times_in_the_sum() -> None:
    # loss_i = w * x_i + w * w: d loss_i / dw = x_i + 2w. The mean over the batch is
    # mean(x) + 2w (the shared term's gradient once); the sum is sum(x) + N * 2w.
    w, x = Value(3.0, label="w"), Value(0.0, label="x")
    program = BatchedProgram(w * x + w * w, [x])
    X = [[1.0], [2.0], [6.0]]
    assert program.run_batch(X).tolist() == [12.0, 15.0, 27.0]
    assert w.grad == 3.0 + 6.0
    w.grad = 0.0
    program.run_batch(X, reduction="sum")
    assert w.grad == 9.0 + 3 * 6.0


def test_a_graph_without_inputs_is_the_same_for_every_example() -> None:
    w = Value(3.0)
    program = BatchedProgram(w * w + 1.0, [])
    assert program.run_batch(np.zeros((4, 0))).tolist() == [10.0] * 4
    assert w.grad == 6.0  # the mean of four equal gradients
    program.run_batch(np.zeros((4, 0)), reduction="sum")
    assert w.grad == 6.0 + 4 * 6.0


def test_gradients_accumulate_and_inputs_and_interior_nodes_are_left_alone() -> None:
    w, b, x = Value(2.0), Value(1.0), Value(0.5)
    mid = w * x
    root = (mid + b).tanh()
    program = BatchedProgram(root, [x])
    w.grad, b.grad = 10.0, -1.0
    program.run_batch([[0.0], [1.0]], reduction="sum")
    assert w.grad == pytest.approx(10.0 + 0.0 + (1 - math.tanh(3.0) ** 2) * 1.0, rel=1e-15)
    assert b.grad == pytest.approx(-1.0 + (1 - math.tanh(1.0) ** 2) + (1 - math.tanh(3.0) ** 2), rel=1e-15)
    assert (x.data, x.grad, mid.data, mid.grad, root.grad) == (0.5, 0.0, 1.0, 0.0, 0.0)


def test_each_run_reads_the_parameters_current_data() -> None:
    w, x = Value(2.0), Value(0.0)
    program = BatchedProgram(w * x, [x])
    assert program.run_batch([[3.0]]).tolist() == [6.0]
    w.data = -1.0
    assert program.run_batch([[3.0]]).tolist() == [-3.0]


# --- random graphs ---------------------------------------------------------------------------

def split_leaves(expr, data) -> Tuple[list, list, Build]:  # type: ignore[no-untyped-def]
    """The expression's leaves split into inputs (drawn) and parameters, and a builder that
    makes the graph from new input Values and the same parameter leaves."""
    leaves = expr.leaves()
    in_graph = set(topological_order(expr(*leaves)))
    used = [x for x in leaves if x in in_graph]
    chosen = data.draw(st.permutations(used))[: data.draw(st.integers(1, len(used)))]
    positions = [leaves.index(x) for x in chosen]

    def build(*xs: Value) -> Value:
        args = list(leaves)
        for pos, x in zip(positions, xs):
            args[pos] = x
        return expr(*args)

    return chosen, positions, build


@settings(max_examples=300)
@given(expr=expressions(n_inputs=4, max_steps=8), data=st.data())
def test_random_graphs_match_the_eager_loop(expr, data) -> None:  # type: ignore[no-untyped-def]
    # Every op of the table, shared subexpressions, constants on either side. Each example
    # moves the inputs by at most 1e-4 from the drawn point, where every op is in its domain.
    chosen, positions, build = split_leaves(expr, data)
    offsets = st.floats(-1e-4, 1e-4, allow_nan=False)
    n = data.draw(st.integers(1, 6))
    X = [[expr.inputs[p] + data.draw(offsets) for p in positions] for _ in range(n)]
    program = check_against_eager(build, len(chosen), X, data.draw(st.sampled_from(["mean", "sum"])))
    assert program.replays == 0


WIDE_OPS = ["+", "-", "*", "tanh", "sigmoid", "softplus", "sin", "cos", "relu", "leaky_relu", "abs", "exp", "**3",
            "affine", "neg"]


@settings(max_examples=300)
@given(expr=expressions(WIDE_OPS, n_inputs=3, max_steps=8), data=st.data())
def test_random_graphs_over_whole_ranges_match_the_eager_loop(expr, data) -> None:  # type: ignore[no-untyped-def]
    # Ops defined everywhere, and examples drawn independently over [-8, 8], kinks included.
    chosen, _, build = split_leaves(expr, data)
    n = data.draw(st.integers(1, 6))
    X = [[data.draw(st.floats(-8.0, 8.0)) for _ in chosen] for _ in range(n)]
    check_against_eager(build, len(chosen), X)


@given(xs=st.lists(st.floats(-1000.0, 1000.0), min_size=1, max_size=8), w=st.floats(0.5, 2.0))
def test_run_batch_fails_exactly_where_the_eager_loop_fails_and_names_the_first_example(xs, w) -> None:  # type: ignore[no-untyped-def]
    # exp overflows (forward) beyond about 709.78; its gradient overflows a little before.
    weight = Value(w)

    def build(x: Value) -> Value:
        return (weight * x).exp() * 0.5 + weight

    failing = []
    for i, x in enumerate(xs):
        try:
            eager_loop(build, [weight], [[x]])
        except (ArithmeticError, ValueError) as e:
            failing.append((i, type(e)))
    if not failing:
        check_against_eager(build, 1, [[x] for x in xs])
        return
    x0 = Value(1.0)
    first, raised = failing[0]  # the same class as the eager loop's error, so `except` clauses carry over
    with pytest.raises(raised, match=rf"^run_batch: example {first} \(row {first} of X"):
        BatchedProgram(build(x0), [x0]).run_batch([[x] for x in xs])
    assert weight.grad == 0.0


@settings(max_examples=60)
@given(data=st.data())
def test_random_networks_and_losses_match_the_eager_loop(data) -> None:  # type: ignore[no-untyped-def]
    nin = data.draw(st.integers(1, 3))
    sizes = data.draw(st.lists(st.integers(1, 5), min_size=1, max_size=3))
    activation = data.draw(st.sampled_from(["relu", "tanh", "sigmoid", "linear"]))
    model = MLP(nin, sizes, activation=activation, rng=random.Random(data.draw(st.integers(0, 2**32))))
    params = model.parameters()
    l2 = data.draw(st.sampled_from([0.0, 1e-3]))
    kind = data.draw(st.sampled_from(["mse", "hinge", "logistic"]))
    constant_input = data.draw(st.booleans())  # a plain number among the network's inputs

    def build(*xs: Value) -> Value:
        *features, y = xs
        inputs = [1.5, *features[1:]] if constant_input else list(features)
        out = model(inputs)
        score = out if isinstance(out, Value) else sum(out[1:], out[0])  # no new leaf per example
        if kind == "mse":
            loss = (score - y) ** 2
        elif kind == "hinge":
            loss = (1 - y * score).relu()
        else:
            loss = (-y * score).softplus()
        return loss + l2 * sum(p * p for p in params) if l2 else loss

    n = data.draw(st.integers(1, 8))
    X = [[data.draw(st.floats(-2.0, 2.0)) for _ in range(nin)] + [data.draw(st.sampled_from([-1.0, 1.0]))]
         for _ in range(n)]
    if constant_input:  # the first feature is not an input then: drop its column
        X = [row[1:] for row in X]
        n_inputs = nin
        program_build: Build = lambda *xs: build(Value(0.0), *xs)  # noqa: E731
    else:
        n_inputs = nin + 1
        program_build = build
    program = check_against_eager(program_build, n_inputs, X, data.draw(st.sampled_from(["mean", "sum"])))
    assert program.replays == 0


def test_a_layer_with_mixed_activations_matches_the_eager_loop() -> None:
    # One matrix product for the three neurons, then relu on rows 0 and 2, tanh on row 1,
    # and one neuron's sum used twice (by its activation and by the loss directly).
    rng = random.Random(5)
    ws = [[Value(rng.uniform(-1, 1)) for _ in range(2)] for _ in range(3)]
    bs = [Value(rng.uniform(-1, 1)) for _ in range(3)]

    def build(x0: Value, x1: Value) -> Value:
        z = [engine.affine(w, [x0, x1], b) for w, b in zip(ws, bs)]
        a = [z[0].relu(), z[1].tanh(), z[2].relu()]
        return (a[0] * a[1] + a[2] + z[2] * 0.5) ** 2

    X = [[rng.uniform(-2, 2), rng.uniform(-2, 2)] for _ in range(12)]
    program = check_against_eager(build, 2, X)
    assert "1 matrix products" in repr(program) and program.replays == 0


def test_inputs_as_the_weights_of_an_affine_node_run_without_a_matrix_product() -> None:
    w, b = [Value(0.5), Value(-2.0)], Value(0.25)
    def build(x0: Value, x1: Value) -> Value:
        return engine.affine([x0, x1], w, b).tanh()
    program = check_against_eager(build, 2, [[1.0, 2.0], [-0.5, 0.3], [0.0, 0.0]])
    assert "0 matrix products" in repr(program)


# --- the one written derivative on arrays --------------------------------------------------

BUILTINS = [v for v in vars(engine).values() if isinstance(v, engine.Primitive)]
EXACT = numpy_forwards()


def batched_forward(fn, *args):  # type: ignore[no-untyped-def]
    """The op's N results as run_batch computes them: NumPy where it is exact, else the float formula on each."""
    if fn in EXACT:
        return EXACT[fn](*args)
    return np.array([fn.forward(*row) for row in zip(*[a.tolist() if isinstance(a, np.ndarray) else [a] * 8
                                                        for a in args])][: len(args[0])])


def test_numpy_computes_only_the_ops_it_computes_exactly() -> None:
    assert set(EXACT) == {engine.ADD, engine.MUL, engine.AFFINE, engine.ABS, engine.RELU, engine.LEAKY_RELU}
    assert len(BUILTINS) == 14


def operands(fn):  # type: ignore[no-untyped-def]
    """Points inside each op's domain: a positive base for log and **, any number elsewhere."""
    n = 5 if fn is engine.AFFINE else (2 if fn.partials is not None and len(fn.partials) == 2 else 1)
    low = 0.1 if fn in (engine.LOG, engine.POW) else -30.0
    point = st.tuples(*[st.floats(low, 30.0 if low < 0 else 5.0)] + [st.floats(-3.0, 3.0)] * (n - 1))
    return st.lists(point, min_size=1, max_size=8)


@pytest.mark.parametrize("fn", BUILTINS, ids=lambda p: p.name)
@given(data=st.data())
def test_each_op_s_forward_and_derivatives_on_arrays_are_its_float_ones_bit_for_bit(fn, data) -> None:  # type: ignore[no-untyped-def]
    # The ONE written derivative, run on _Batch arrays, gives exactly the floats the engine's
    # backward pass computes for each example (NumPy only where it is exact, as in forward).
    points = data.draw(operands(fn))
    if fn is engine.POW:
        points = [(x, y) for x, y in points if abs(y * math.log(x)) < 600]  # no overflow
        if not points:
            return
    columns = [np.array(c) for c in zip(*points)]
    with np.errstate(all="raise", under="ignore"):
        out = batched_forward(fn, *columns)
        ds = fn.derivatives([_Batch(c) for c in columns], _Batch(out))
    for i, point in enumerate(points):
        want_out = fn.forward(*point)
        assert out[i] == want_out, (point, out[i], want_out)
        for j, (d, want) in enumerate(zip(ds, fn.derivatives(list(point), want_out))):
            got = np.broadcast_to(d.array if isinstance(d, _Batch) else d, out.shape)[i]
            assert got == want, f"d {fn.name} / d operand {j} at {point}: {got!r} on arrays, {want!r} on floats"


def test_a_branch_on_a_batch_is_refused_with_a_pointer_to_where() -> None:
    with pytest.raises(TypeError, match="where"):
        bool(_Batch(np.array([1.0, -1.0])) > 0)


# --- ops of your own -------------------------------------------------------------------------

@primitive
def cube(x: float) -> float:
    return x ** 3


@cube.derivative
def _cube_derivative(x, out):  # type: ignore[no-untyped-def]
    return 3 * x ** 2  # Value arithmetic: runs on a batch as written


@primitive
def clipped(x: float) -> float:
    return min(max(x, -1.0), 1.0) * 2.0


@clipped.derivative
def _clipped_derivative(x, out):  # type: ignore[no-untyped-def]
    return 2.0 if -1.0 < x.data < 1.0 else 0.0  # reads .data: one example at a time


@pytest.mark.parametrize("op", [cube, clipped], ids=["value-arithmetic", "reads-data"])
def test_an_op_of_your_own_matches_the_eager_loop(op) -> None:  # type: ignore[no-untyped-def]
    w = Value(0.7)
    check_against_eager(lambda x: op(w * x) * w, 1, [[0.5], [-2.0], [1.2], [0.1]])


# --- errors ------------------------------------------------------------------------------------

@pytest.fixture
def simple():  # type: ignore[no-untyped-def]
    w, x, y = Value(2.0, label="w"), Value(0.0, label="x"), Value(0.0, label="y")
    return BatchedProgram((w * x - y) ** 2, [x, y]), w


@pytest.mark.parametrize("X, message", [
    ([1.0, 2.0], r"X must have shape \(N, 2\): one row per example, one column per input \(x, y\); got shape \(2,\)"),
    ([[1.0, 2.0, 3.0]], r"got shape \(1, 3\)"),
    (np.zeros((2, 2, 2)), r"got shape \(2, 2, 2\)"),
    (np.zeros((0, 2)), "X has no rows"),
    ([[1.0, 2.0], [3.0, float("nan")]], r"X must be finite, got nan in row 1, column 1 \(y\)"),
    ([[float("inf"), 2.0]], r"X must be finite, got inf in row 0, column 0 \(x\)"),
    ([[1.0, 2.0], [3.0]], "X must be an N x 2 array of numbers"),
])
def test_an_x_that_does_not_fit_is_refused_naming_what_is_wrong(simple, X, message) -> None:  # type: ignore[no-untyped-def]
    program, w = simple
    with pytest.raises(ValueError, match=message):
        program.run_batch(X)
    assert w.grad == 0.0


@pytest.mark.parametrize("X", [[["a", "b"]], np.array([[True, False]]), [[1 + 2j, 0.0]]])
def test_an_x_that_is_not_real_numbers_is_a_type_error(simple, X) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(TypeError, match="X must hold real numbers"):
        simple[0].run_batch(X)


@pytest.mark.parametrize("reduction", ["average", "MEAN", None, 1])
def test_an_unknown_reduction_is_refused(simple, reduction) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValueError, match=r"run_batch reduction must be one of 'mean', 'sum', got"):
        simple[0].run_batch([[1.0, 2.0]], reduction=reduction)


def test_inputs_must_be_distinct_leaves_of_the_graph() -> None:
    w, x = Value(2.0), Value(1.0, label="x")
    hidden = w * x
    root = hidden.tanh()
    with pytest.raises(ValueError, match=r"inputs\[0\] is not a leaf but the result of '\*'"):
        BatchedProgram(root, [hidden])
    with pytest.raises(ValueError, match=r"inputs\[1\] \('x'\) is inputs\[0\] again"):
        BatchedProgram(root, [x, x])
    with pytest.raises(ValueError, match=r"inputs\[1\] is not in the graph of the root"):
        BatchedProgram(root, [x, Value(3.0)])
    with pytest.raises(TypeError, match=r"inputs\[0\] must be a leaf Value, got float: 1.0"):
        BatchedProgram(root, [1.0])  # type: ignore[list-item]
    with pytest.raises(TypeError, match="inputs must be a list of leaf Values, got Value"):
        BatchedProgram(root, x)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="needs a Value root, got float"):
        BatchedProgram(1.0, [x])  # type: ignore[arg-type]


def test_a_node_with_a_hand_written_backward_is_refused_naming_it() -> None:
    x, w = Value(1.0), Value(2.0)
    out = Value(x.data * w.data, (x, w), "mul_by_hand")

    def _backward() -> None:
        x.grad += w.data * out.grad

    out._backward = _backward
    with pytest.raises(ValueError, match="cannot replay the 'mul_by_hand' node .* hand-written _backward.*primitive"):
        BatchedProgram(out.tanh(), [x])


def test_an_example_whose_value_overflows_is_named_with_the_engine_s_reason() -> None:
    w, x = Value(1.0), Value(0.0, label="x")
    z = (w * x).exp()
    z.label = "z"
    program = BatchedProgram(z * 2.0, [x])
    with pytest.raises(OverflowError, match=r"^run_batch: example 2 \(row 2 of X: \(800.0\)\): 'z' failed on"
                                             r" \(800.0\): exp overflowed") as info:
        program.run_batch([[1.0], [2.0], [800.0]])
    assert isinstance(info.value.__cause__, OverflowError)
    assert w.grad == 0.0  # nothing half-done


def test_an_example_outside_an_op_s_domain_is_named_with_the_engine_s_message() -> None:
    w, x = Value(1.0), Value(1.0)
    program = BatchedProgram((w * x).log(), [x])
    with pytest.raises(ValueError, match=r"example 1 .*the 'log' node \(number \d+ in topological order\)"
                                             r" failed on \(-1.0\): log is only defined for positive numbers"):
        program.run_batch([[1.0], [-1.0]])


def test_an_infinite_gradient_is_named() -> None:
    w, x = Value(1.0), Value(0.0)
    program = BatchedProgram((w * x) ** 0.5, [x])
    with pytest.raises(NonFiniteError, match=r"example 0 .*local derivative of the '\*\*0.5' node"):
        program.run_batch([[0.0], [4.0]])


def test_where_numpy_fails_but_the_engine_does_not_the_engine_s_numbers_are_given() -> None:
    # sqrt's derivative is infinite at 0, but the engine never asks for it there: the
    # gradient reaching sqrt is 0 (it is multiplied by 0). NumPy evaluates it for every
    # example; the run falls back to the one-example-at-a-time replay.
    w = Value(1.0)

    def build(x: Value) -> Value:
        return (w * x) ** 0.5 * 0.0 + w * x

    program = check_against_eager(build, 1, [[0.0], [4.0]])
    assert program.replays == 1 and w.grad == 2.0


def test_a_parameter_set_to_infinity_by_hand_is_named() -> None:
    w, x = Value(1.0, label="w"), Value(0.0)
    program = BatchedProgram(w * x, [x])
    w.data = math.inf
    with pytest.raises(ValueError, match="'w' has non-finite data inf"):
        program.run_batch([[1.0]])


def test_a_shared_value_that_overflows_is_named() -> None:
    w, x = Value(100.0), Value(0.0)
    big = (w * 2.0).exp()
    program = BatchedProgram(big * x, [x])
    w.data = 500.0  # the optimizer took a huge step: exp(1000) overflows
    with pytest.raises(OverflowError, match=r"^run_batch: the 'exp' node .* exp overflowed"):
        program.run_batch([[1.0]])


# --- run_batch, the function -------------------------------------------------------------

def test_run_batch_takes_a_root_with_its_inputs() -> None:
    w, x = Value(3.0), Value(0.0)
    assert run_batch(w * x, [[1.0], [2.0]], inputs=[x]).tolist() == [3.0, 6.0]
    assert w.grad == 1.5
    with pytest.raises(TypeError, match=r"needs inputs=\[...\]"):
        run_batch(w * x, [[1.0]])
    with pytest.raises(TypeError, match="needs a BatchedProgram, a Program or a root Value, got str"):
        run_batch("loss", [[1.0]])


def test_run_batch_keeps_its_plan_on_a_program_object() -> None:
    class Program:  # what micrograd.compile returns: an object with .root and .inputs
        def __init__(self, root: Value, inputs: List[Value]) -> None:
            self.root, self.inputs = root, inputs

    w, x = Value(3.0), Value(0.0)
    program = Program(w * x + w, [x])
    assert run_batch(program, [[1.0], [2.0]], "sum").tolist() == [6.0, 9.0]
    plan = program._batched_program  # type: ignore[attr-defined]
    assert isinstance(plan, BatchedProgram) and w.grad == 1.0 + 2.0 + 2.0
    run_batch(program, [[1.0]])
    assert program._batched_program is plan  # type: ignore[attr-defined]
    program.root = w * x  # a new graph: a new plan
    assert run_batch(program, [[1.0]]).tolist() == [3.0]
    assert program._batched_program is not plan  # type: ignore[attr-defined]


def test_run_batch_and_the_program_class_are_exported() -> None:
    assert micrograd.run_batch is run_batch and micrograd.BatchedProgram is BatchedProgram


def test_without_numpy_run_batch_says_how_to_get_it() -> None:
    code = (
        "import sys; sys.modules['numpy'] = None\n"
        "from micrograd import Value, run_batch\n"
        "x = Value(1.0)\n"
        "try:\n"
        "    run_batch(x * 2, [[1.0]], inputs=[x])\n"
        "except ModuleNotFoundError as e:\n"
        "    print(e)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    assert out.stdout.strip() == 'run_batch needs NumPy, an optional dependency: pip install "micrograd-lab[fast]"'


def test_importing_the_module_does_not_import_numpy() -> None:
    code = "import sys, micrograd.batched; print('numpy' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    assert out.stdout.strip() == "False"


def test_a_domain_error_is_raised_as_the_eager_loop_raises_it():
    # `except ValueError` must catch the same failures here as around the eager loop.
    a, w = Value(1.0, label="a"), Value(2.0, label="w")
    X = np.array([[1.0], [-1.0]])
    with pytest.raises(ValueError, match=r"example 1 \(row 1 of X: \(-1.0\)\).*log is only defined for positive"):
        BatchedProgram((a * w).log(), [a]).run_batch(X)
    with pytest.raises(ValueError):
        (Value(-1.0) * w).log()
    with pytest.raises(ZeroDivisionError, match=r"example 1 \(row 1 of X: \(0.0\)\)"):
        BatchedProgram(w / a, [a]).run_batch(np.array([[2.0], [0.0]]))
    with pytest.raises(ZeroDivisionError):
        w / Value(0.0)
    w.grad = 0.0
    BatchedProgram(w / a, [a]).run_batch(np.array([[2.0], [4.0]]))
    assert w.grad == pytest.approx((1 / 2 + 1 / 4) / 2, rel=1e-15)
