"""Each op's one written derivative runs on floats, on Values and on symbols.

Evaluated on `micrograd.symbolic` symbols (what explain and compile build on), a derivative
becomes a formula whose Python source must give the same float the first-order pass uses,
and the same number `grad(create_graph=True)` builds as a Value."""

from __future__ import annotations

import pytest

from micrograd import engine
from micrograd.engine import Primitive, Value
from micrograd.symbolic import PYTHON_NAMESPACE, Symbol, lift

PRIMITIVES = {name: op for name, op in vars(engine).items() if isinstance(op, Primitive)}


def Sym(name: str) -> Symbol:
    return Symbol(name)


def _text(x: object) -> str:
    """A derivative (a formula, or a plain number for a constant one) as Python source."""
    return lift(x).python()


# A point inside every op's domain, per arity (affine gets two weights, two inputs, a bias).
POINTS = {1: (0.7,), 2: (1.3, 0.6), 5: (0.4, -1.2, 0.9, 0.3, 0.25)}


def test_every_builtin_op_is_a_primitive_row():
    assert set(PRIMITIVES) == {"ADD", "MUL", "POW", "EXP", "LOG", "TANH", "SIGMOID", "SOFTPLUS", "SIN", "COS",
                               "RELU", "LEAKY_RELU", "ABS", "AFFINE"}


@pytest.mark.parametrize("name", sorted(PRIMITIVES))
def test_a_derivative_written_once_becomes_source_that_computes_the_same_floats(name):
    op = PRIMITIVES[name]
    args = POINTS[5 if op is engine.AFFINE else len(op.partials)]  # type: ignore[arg-type]
    out = op.forward(*args)
    names = [f"a{i}" for i in range(len(args))]
    symbolic = op.derivatives([Sym(n) for n in names], Sym("out"))
    floats = op.derivatives(list(args), out)
    env = dict(zip(names, args), out=out, **PYTHON_NAMESPACE)
    for source, number in zip(symbolic, floats):
        assert eval(_text(source), env) == number, f"{name}: {_text(source)}"


@pytest.mark.parametrize("name", sorted(PRIMITIVES))
def test_the_same_derivative_on_values_builds_a_graph_with_the_same_numbers(name):
    op = PRIMITIVES[name]
    args = POINTS[5 if op is engine.AFFINE else len(op.partials)]  # type: ignore[arg-type]
    values = [Value(a) for a in args]
    out = op(*values)
    as_values = op.derivatives(values, out)
    as_floats = op.derivatives(list(args), out.data)
    assert [d.data if isinstance(d, Value) else d for d in as_values] == list(as_floats)


def test_printed_derivatives_read_like_the_math():
    x, out = Sym("x"), Sym("out")
    assert engine.TANH.derivatives([x], out)[0].python() == "(1.0 - (out * out))"
    assert engine.SIN.derivatives([x], out)[0].python() == "math.cos(x)"
    assert engine.RELU.derivatives([x], out)[0].python() == "(1.0 if (out > 0) else 0.0)"
    assert [_text(d) for d in engine.MUL.derivatives([Sym("a"), Sym("b")], out)] == ["b", "a"]


def test_formulas_read_as_math_with_names_and_with_numbers():
    n, out = Symbol("n", 0.8814), Symbol("tanh(n)", 0.7071)
    d, = engine.TANH.derivatives([n], out)
    assert (d.text(), d.text(numbers=True)) == ("1 - tanh(n)^2", "1 - 0.7071^2")
    assert d.latex() == r"1 - \operatorname{tanh}\left(n\right)^{2}"
    assert d.evaluate() == 1.0 - 0.7071 * 0.7071
    x, y = Symbol("x", 2.0), Symbol("y", -3.0)
    dx, dy = engine.POW.derivatives([x, y], Symbol("out", 0.125))
    assert dx.text() == "y * x^(y - 1)" and dx.text(numbers=True) == "(-3) * 2^(-3 - 1)"
    assert dy.text() == "out * log(x)" and dy.latex() == r"\mathrm{out} \cdot \log\left(x\right)"
    assert engine.LOG.derivatives([x], out)[0].latex() == r"\frac{1}{x}"
    assert engine.POW.derivatives([x, 2.0], out, [0])[0].text() == "2 * x"  # x ** (2 - 1) reads as x


def test_a_formula_refuses_to_be_branched_on():
    with pytest.raises(TypeError, match="must use micrograd.engine.where"):
        bool(Symbol("x") > 0)


def test_the_symbolic_modules_examples_run():
    import doctest

    from micrograd import symbolic
    assert doctest.testmod(symbolic).failed == 0
