"""The bridge to PyTorch: `to_torch` rebuilds a graph there, `compare_with_torch` compares gradients.

PyTorch is an independent engine with its own derivatives; the bridge gives it only each op's
forward formula (`TORCH_FORWARDS`). So random expression DAGs, every row of the table of ops
and karpathy's demo loss must give the same values and the same gradients in both, to rounding.
A meta-test fails when an op of the engine has no translation. The tests that need PyTorch skip,
saying so, when it is not installed; the meta-test and the errors raised before PyTorch is
needed run without it.
"""

from __future__ import annotations

import importlib.util
import json
import math
import pathlib
import random
import sys

import pytest
from hypothesis import given
from hypothesis import strategies as st

from micrograd import Value, compare_with_torch, engine, primitive, to_torch
from micrograd.engine import Primitive
from micrograd.nn import MLP
from micrograd.testing import OPS, TORCH_FORWARDS, GradientRow, TorchComparison, arguments, expressions
from micrograd.training.losses import hinge_loss, l2_penalty

needs_torch = pytest.mark.skipif(
    importlib.util.find_spec("torch") is None,
    reason='PyTorch is not installed (pip install "micrograd-lab[torch]"), so there is nothing to compare with',
)

MOONS = json.loads((pathlib.Path(__file__).parent / "data" / "moons_1337.json").read_text())
# Values: PyTorch computes the same formulas, mostly with the same libm functions, so they agree
# to the last bit or two. Gradients: the same derivatives in another order of additions, so they
# agree to rounding relative to the sizes of the terms that were added.
VALUE_REL = 1e-12  # measured: at most 7e-16
GRAD_REL, GRAD_ABS = 1e-11, 1e-12  # measured: at most 4e-14 over 3,000 random expressions


def engine_primitives() -> dict:
    """Every op the engine has: each is one module-level `Primitive` row of micrograd/engine.py."""
    return {name: op for name, op in vars(engine).items() if isinstance(op, Primitive)}


def assert_agree(comparison: TorchComparison, what: object) -> None:
    assert math.isclose(comparison.value, comparison.torch_value, rel_tol=VALUE_REL, abs_tol=VALUE_REL), (
        f"{what}: value ours {comparison.value!r}, PyTorch {comparison.torch_value!r}"
    )
    for row in comparison:
        assert math.isclose(row.ours, row.torch, rel_tol=GRAD_REL, abs_tol=GRAD_ABS), (
            f"{what}: d/d{row.name} ours {row.ours!r}, PyTorch {row.torch!r}"
        )


# --- the meta-test (no PyTorch needed) -------------------------------------------------------

def test_every_primitive_of_the_engine_has_a_torch_translation():
    missing = set(engine_primitives().values()) - set(TORCH_FORWARDS)
    assert not missing, f"engine ops with no entry in TORCH_FORWARDS: {sorted(op.name for op in missing)}"
    assert set(TORCH_FORWARDS) == set(engine_primitives().values())  # and nothing else is in it


def test_meta_test_sees_the_ops_it_must():
    # Guards the meta-test: if discovery broke, it would pass vacuously.
    assert {"ADD", "MUL", "POW", "TANH", "RELU", "LEAKY_RELU", "AFFINE"} <= set(engine_primitives())
    assert len(engine_primitives()) == 14


# --- errors (no PyTorch needed: they are raised before it is imported) -----------------------

def test_a_root_that_is_not_a_value_is_refused():
    with pytest.raises(TypeError, match=r"^to_torch needs a Value, got float: 2\.0$"):
        to_torch(2.0)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"^compare_with_torch needs a Value, got list"):
        compare_with_torch([Value(1.0)])  # type: ignore[arg-type]


def lecture_sinh(x: Value) -> Value:
    out = Value(math.sinh(x.data), (x,), "sinh")

    def _backward() -> None:
        x.grad += math.cosh(x.data) * out.grad

    out._backward = _backward
    return out


def test_a_lecture_style_node_is_named_in_a_clear_error():
    x = Value(0.5, label="x")
    s = lecture_sinh(x)
    s.label = "s"
    loss = s * 3 + x
    for fn in (to_torch, compare_with_torch):
        with pytest.raises(ValueError, match=r"cannot translate the 'sinh' node 's' \(data 0\.52.*built by hand.*"
                                             r"micrograd\.primitive.*ops="):
            fn(loss)
    with pytest.raises(ValueError, match=r"the '\+' node \(data 3\.0\)"):  # no _backward at all, no label
        to_torch(Value(3.0, (Value(1.0), Value(2.0)), "+"))


def test_an_op_of_your_own_without_a_translation_is_named():
    @primitive
    def cube(x: float) -> float:
        return x ** 3

    @cube.derivative
    def _(x, out):  # type: ignore[no-untyped-def]
        return 3 * x ** 2

    y = cube(Value(2.0)) + 1
    with pytest.raises(ValueError, match=r"no PyTorch translation for the op 'cube' of the 'cube' node \(data 8\.0\)"
                                         r".*ops=\{cube: lambda"):
        to_torch(y)


@pytest.mark.parametrize("ops, message", [
    ([1], r"ops must be a mapping from Primitive"),
    ({"tanh": lambda x: x}, r"ops keys must be Primitives .* got str: 'tanh'"),
    ({engine.TANH: 3}, r"ops\['tanh'\] must be a function on tensors, got int: 3"),
])
def test_bad_ops_are_refused(ops, message):
    with pytest.raises(TypeError, match=message):
        to_torch(Value(1.0).tanh(), ops=ops)


@pytest.mark.parametrize("names", [3, [("a",)], {"a": 3}, [(3, "a")], {Value(1.0): 2}])
def test_bad_names_are_refused(names):
    with pytest.raises(TypeError, match=r"names must map Values to str names, or be \(name, Value\) pairs"):
        compare_with_torch(Value(1.0) * 2, names=names)


def test_without_pytorch_the_error_says_how_to_get_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "torch", None)  # `import torch` now raises ImportError, as when absent
    for fn in (to_torch, compare_with_torch):
        with pytest.raises(ImportError, match=r'^\w+ needs PyTorch: pip install "micrograd-lab\[torch\]"$'):
            fn(Value(2.0) * 3)


# --- to_torch ---------------------------------------------------------------------------------

@needs_torch
def test_to_torch_rebuilds_the_graph_with_float64_leaves_that_require_grad():
    torch = pytest.importorskip("torch")
    a, b = Value(2.0, label="a"), Value(-3.0, label="b")
    loss = (a * b + 1).tanh() * a
    before = [(v.data, v.grad) for v in (a, b, loss)]
    root, leaves = to_torch(loss)
    assert list(leaves) == [a, b]  # graph order, each leaf once
    for value, t in leaves.items():
        assert t.dtype == torch.float64 and t.shape == () and t.requires_grad and t.is_leaf
        assert t.item() == value.data
    assert root.dtype == torch.float64 and root.grad_fn is not None
    assert root.item() == loss.data
    root.backward()
    assert leaves[a].grad.item() == pytest.approx(b.data * (1 - math.tanh(-5.0) ** 2) * 2 + math.tanh(-5.0), rel=1e-14)
    assert [(v.data, v.grad) for v in (a, b, loss)] == before  # the micrograd graph is untouched


@needs_torch
def test_to_torch_records_even_inside_torch_no_grad():
    torch = pytest.importorskip("torch")
    x = Value(0.3)
    with torch.no_grad():
        root, leaves = to_torch(x.exp())
    root.backward()
    assert leaves[x].grad.item() == math.exp(0.3)


@needs_torch
def test_a_leaf_root_is_its_own_tensor():
    x = Value(4.0, label="x")
    root, leaves = to_torch(x)
    assert root is leaves[x]
    comparison = compare_with_torch(x)
    assert [(r.name, r.ours, r.torch) for r in comparison] == [("x", 1.0, 1.0)]


@needs_torch
def test_reads_the_leaves_current_data():
    # Parameters changed by an optimizer after the graph was built: PyTorch sees the new numbers.
    x = Value(1.0)
    y = x * 2
    x.data = 5.0
    root, _ = to_torch(y)
    assert root.item() == 10.0
    comparison = compare_with_torch(y)
    assert (comparison.value, comparison.torch_value) == (2.0, 10.0)
    assert comparison.value_rel_diff == 0.8 and not comparison.agrees()


# --- the same numbers in both engines --------------------------------------------------------

@needs_torch
@given(expressions(n_inputs=3, max_steps=8))
def test_random_expressions_give_the_same_values_and_gradients(expr):
    leaves = expr.leaves()
    ours = expr(*leaves)
    root, _ = to_torch(ours)
    assert math.isclose(root.item(), ours.data, rel_tol=VALUE_REL, abs_tol=VALUE_REL), (
        f"{expr}: value ours {ours.data!r}, PyTorch {root.item()!r}"
    )
    assert_agree(compare_with_torch(ours), expr)


CASES = [(op, at) for op in OPS.values() for at in (None, *op.constants)]


@needs_torch
@pytest.mark.parametrize("case", CASES, ids=lambda c: c[0].name if c[1] is None else f"{c[0].name} constant {c[1]}")
@given(data=st.data())
def test_every_op_in_the_table_gives_the_same_value_and_gradients(case, data):
    op, at = case
    args = data.draw(arguments(op), label="args")
    operands = [a if i == at else Value(a, label=f"x{i}") for i, a in enumerate(args)]
    comparison = compare_with_torch(op.build(*operands))
    assert_agree(comparison, f"{op.name}{tuple(args)}")
    assert {r.name for r in comparison} == {v.label for v in operands if isinstance(v, Value)}


@needs_torch
@given(x=st.floats(-3, 3), y=st.floats(-3, 3), slope=st.floats(-2, 2))
def test_primitives_with_every_operand_a_value(x, y, slope):
    # Shapes OPS does not reach: leaky_relu with a Value slope, a ** b of two Values (positive base).
    a, b, s = Value(x, label="a"), Value(y, label="b"), Value(slope, label="s")
    assert_agree(compare_with_torch(engine.LEAKY_RELU(a, s) * b), (x, slope))
    assert_agree(compare_with_torch(engine.POW(a.exp(), b)), (x, y))
    assert_agree(compare_with_torch(engine.AFFINE(a, b, 2.0, s, 0.5)), (x, y, slope))


@needs_torch
@pytest.mark.parametrize("build, expected", [
    (lambda x: x.relu(), 0.0),
    (lambda x: x.abs(), 0.0),
    (lambda x: x.leaky_relu(0.1), 0.1),
    (lambda x: x ** 0, 0.0),
    (lambda x: x.softplus(), 0.5),  # no kink: translated as logaddexp(x, 0), not max(x, 0) + log1p(exp(-|x|))
])
def test_the_kinks_follow_the_same_convention_in_both(build, expected):
    x = Value(0.0, label="x")
    (row,) = compare_with_torch(build(x))
    assert (row.ours, row.torch) == (expected, expected)


@needs_torch
def test_a_leaf_used_twice_gets_both_contributions_once():
    a, b = Value(-1.5, label="a"), Value(0.5, label="b")
    loss = a * a + a * b + (a + a).tanh()
    comparison = compare_with_torch(loss)
    assert [r.name for r in comparison] == ["a", "b"]
    expected = 2 * a.data + b.data + 2 * (1 - math.tanh(2 * a.data) ** 2)
    assert comparison["a"].ours == pytest.approx(expected, rel=1e-15)
    assert comparison["a"].torch == pytest.approx(expected, rel=1e-15)
    assert comparison["b"].ours == comparison["b"].torch == a.data


def demo_loss(fused: bool) -> tuple:
    """karpathy's demo: MLP 2-16-16-1 on his 100 moons, hinge loss + 1e-4 * L2."""
    random.seed(1337)
    model = MLP(2, [16, 16, 1], fused=fused)
    scores = [model(row) for row in MOONS["X"]]
    loss = hinge_loss(scores, MOONS["y"]) + l2_penalty(model.parameters(), 1e-4)
    return loss, model


@needs_torch
@pytest.mark.parametrize("fused", [True, False], ids=["fused neurons", "0.1.0's neurons"])
def test_the_demo_mlp_loss_gives_the_same_gradients(fused):
    loss, model = demo_loss(fused)
    comparison = compare_with_torch(loss, names=model.named_parameters())
    assert_agree(comparison, "the demo's loss")
    names = {r.name for r in comparison}
    assert {name for name, _ in model.named_parameters()} <= names and len(model.parameters()) == 337
    assert comparison.max_rel_diff < 1e-12
    assert comparison["layers.0.neurons.0.w.0"].leaf is model.layers[0].neurons[0].w[0]


@needs_torch
def test_the_comparison_leaves_every_grad_as_it_found_it():
    loss, model = demo_loss(True)
    params = model.parameters()
    for i, p in enumerate(params):
        p.grad = 0.25 * i  # as if a backward pass had already run
    before = [p.grad for p in params]
    comparison = compare_with_torch(loss, names=model.named_parameters())
    assert [p.grad for p in params] == before and loss.grad == 0.0
    model.zero_grad()
    loss.backward()  # one ordinary pass after the comparison: nothing was added twice
    by_leaf = {r.leaf: r.ours for r in comparison}
    assert [p.grad for p in params] == [by_leaf[p] for p in params]


@needs_torch
def test_a_deep_chain_is_no_problem():
    x = Value(0.5, label="x")
    y = x
    for _ in range(20_000):
        y = (y * 0.999).tanh() + 0.001
    comparison = compare_with_torch(y)
    assert_agree(comparison, "a chain of 60,000 nodes")


@needs_torch
def test_your_own_op_with_its_translation_and_a_wrong_derivative_caught():
    @primitive
    def softsign(x: float) -> float:
        return x / (1 + abs(x))

    @softsign.derivative
    def _(x, out):  # type: ignore[no-untyped-def]
        return ((1 + abs(x)) - x) / (1 + abs(x)) ** 2  # BUG: d|x|/dx is sign(x), not 1

    ops = {softsign: lambda x: x / (1 + x.abs())}
    right = Value(0.5, label="x")
    compare_with_torch(softsign(right) * 3, ops=ops).assert_close()  # x > 0: where the bug hides
    wrong = Value(-1.0, label="x")
    comparison = compare_with_torch(softsign(wrong) * 3, ops=ops)
    assert (comparison["x"].ours, comparison["x"].torch) == (2.25, 0.75)
    assert not comparison.agrees()
    with pytest.raises(AssertionError, match=r"disagree .* on 1 of 2 numbers:\n  d root / d x: micrograd 2\.25, "
                                             r"PyTorch 0\.75 \(relative difference 6\.7e-01\)$"):
        comparison.assert_close()


# --- the report -------------------------------------------------------------------------------

def made_up(rows: list, value: float = 1.0, torch_value: float = 1.0) -> TorchComparison:
    """A comparison with chosen numbers (ours, theirs) per leaf, to test the report itself."""
    leaves = [Value(1.0, label=f"p{i}") for i in range(len(rows))]
    return TorchComparison(value, torch_value, [
        GradientRow(f"p{i}", leaf, a, b, abs(a - b), abs(a - b) / max(abs(a), abs(b)) if a or b else 0.0)
        for i, (leaf, (a, b)) in enumerate(zip(leaves, rows))
    ])


def test_rows_are_reachable_by_position_and_name():
    c = made_up([(1.0, 1.0), (2.0, 2.5)])
    assert len(c) == 2 and [r.name for r in c] == ["p0", "p1"] and c[1] is c["p1"] is c.rows[1]
    assert c.max_rel_diff == 0.2 and c.max_abs_diff == 0.5
    with pytest.raises(KeyError, match=r"no leaf named 'q'; the leaves are 'p0', 'p1'"):
        c["q"]


def test_the_text_table_shows_both_gradients_and_the_differences():
    text = str(made_up([(1.0, 1.0), (2.0, 2.5)], 3.0, 3.0))
    lines = text.splitlines()
    assert lines[0] == ("micrograd vs PyTorch (float64), 2 leaves: the gradients differ by at most 2.0e-01"
                        " (relative, at p1); the root's value is 3.0 in both")
    assert lines[1].split() == ["leaf", "data", "micrograd", "grad", "torch", "grad", "abs", "diff", "rel", "diff"]
    assert lines[3].split() == ["p0", "1.0", "1.0", "1.0", "0", "0"]
    assert lines[4].split() == ["p1", "1.0", "2.0", "2.5", "5.0e-01", "2.0e-01"]
    assert "here, 3.5 in PyTorch (relative difference 1.4e-01)" in made_up([], 3.0, 3.5).summary()
    assert made_up([(1.0, 1.0)]).summary() == ("micrograd vs PyTorch (float64), 1 leaf: every gradient is the same in"
                                               " both; the root's value is 1.0 in both")


def test_a_long_table_shows_the_leaves_that_differ_most():
    rows = [(1.0, 1.0)] * 30 + [(1.0, 1.1), (1.0, 2.0)]
    text = str(made_up(rows))
    assert "the 20 of 32 leaves that differ most (all of them in .rows)" in text
    body = text.splitlines()[4:]
    assert len(body) == 20 and body[0].split()[0] == "p31" and body[1].split()[0] == "p30"
    assert "the first 20 of 30 leaves" in str(made_up([(1.0, 1.0)] * 30))


def test_jupyter_shows_an_html_table_with_names_escaped():
    leaf = Value(1.0)
    c = TorchComparison(1.0, 1.0, [GradientRow("<w & b>", leaf, 1.0, 1.0, 0.0, 0.0)])
    page = c._repr_html_()
    assert page.startswith("<table>") and page.endswith("</table>")
    assert "<th>micrograd grad</th><th>torch grad</th>" in page and "&lt;w &amp; b&gt;" in page and "<w" not in page
    assert repr(c) == "<TorchComparison: 1 leaves, max_rel_diff=0.0e+00>"


@needs_torch
def test_unlabelled_and_repeated_names_get_positions():
    x, y, z = Value(1.0), Value(2.0, label="w"), Value(3.0, label="w")
    names = [r.name for r in compare_with_torch(x * y + z)]
    assert names == ["leaf 0", "w (leaf 1)", "w (leaf 2)"]
    names = [r.name for r in compare_with_torch(x * y + z, names={x: "input"})]
    assert names == ["input", "w (leaf 1)", "w (leaf 2)"]


def test_the_meta_test_fails_for_a_new_engine_op_without_a_translation(monkeypatch):
    monkeypatch.setattr(engine, "CUBE", Primitive("cube", lambda x: x ** 3, partials=(lambda x, out: 3 * x * x,)),
                        raising=False)
    with pytest.raises(AssertionError, match=r"engine ops with no entry in TORCH_FORWARDS: \['cube'\]"):
        test_every_primitive_of_the_engine_has_a_torch_translation()


CUBE_MUST = r"translation of the 'cube' node \(data 8\.0\) must give a 0-dimensional float64 tensor, "


@needs_torch
@pytest.mark.parametrize("translation, error, message", [
    (lambda t: t.no_such_method(), AttributeError, r"translation of the 'cube' node \(data 8\.0\) failed on \(2\.0\)"),
    (lambda t: 8.0, TypeError, CUBE_MUST + r"got float: 8\.0"),
    (lambda t: t.float() ** 3, TypeError, CUBE_MUST + r"got Tensor: tensor\(8\., grad_fn"),  # float32
])
def test_a_translation_that_fails_is_reported_with_its_node(translation, error, message):
    cube = primitive(lambda x: x ** 3, derivative=lambda x, out: 3 * x ** 2, name="cube")
    with pytest.raises(error, match=r"^to_torch: the PyTorch " + message):
        to_torch(cube(Value(2.0)), ops={cube: translation})


def test_names_may_be_a_dict_of_named_parameters_and_tolerances_must_be_sensible():
    pytest.importorskip("torch", reason="needs PyTorch: pip install 'micrograd-lab[torch]'")
    from micrograd import compare_with_torch
    from micrograd.nn import MLP

    model = MLP(2, [2, 1], rng=random.Random(0))
    loss = model([0.5, -1.0]) ** 2
    by_dict = compare_with_torch(loss, names=dict(model.named_parameters()))
    by_pairs = compare_with_torch(loss, names=model.named_parameters())
    assert [r.name for r in by_dict.rows] == [r.name for r in by_pairs.rows]
    assert "layers.0.neurons.0.w.0" in [r.name for r in by_dict.rows]
    with pytest.raises(ValueError, match="compare_with_torch rtol must be 0 or more, got -1"):
        by_dict.assert_close(rtol=-1)
    with pytest.raises(ValueError, match="atol"):
        by_dict.agrees(atol=float("nan"))
