"""Each op's one written derivative runs on floats, on Values and on symbols.

The symbols here are a small stand-in for what explain and compile build on: evaluated on
them, a derivative becomes Python source, which must give the same float the first-order
pass uses and the same number `grad(create_graph=True)` builds as a Value."""

from __future__ import annotations

import math

import pytest

from micrograd import engine
from micrograd.engine import Primitive, Value

PRIMITIVES = {name: op for name, op in vars(engine).items() if isinstance(op, Primitive)}


class Sym:
    """A number known only by name: arithmetic on it writes source code."""

    def __init__(self, text: str) -> None:
        self.text = text

    def _bin(self, op: str, other: object, swap: bool = False) -> "Sym":
        a, b = self.text, other.text if isinstance(other, Sym) else repr(other)
        return Sym(f"({b} {op} {a})" if swap else f"({a} {op} {b})")

    def __add__(self, o): return self._bin("+", o)
    def __radd__(self, o): return self._bin("+", o, True)
    def __sub__(self, o): return self._bin("-", o)
    def __rsub__(self, o): return self._bin("-", o, True)
    def __mul__(self, o): return self._bin("*", o)
    def __rmul__(self, o): return self._bin("*", o, True)
    def __truediv__(self, o): return self._bin("/", o)
    def __rtruediv__(self, o): return self._bin("/", o, True)
    def __pow__(self, o): return self._bin("**", o)
    def __neg__(self): return Sym(f"(-{self.text})")
    def __gt__(self, o): return self._bin(">", o)
    def __lt__(self, o): return self._bin("<", o)
    def where(self, a, b): return Sym(f"({_text(a)} if {self.text} else {_text(b)})")
    def exp(self): return Sym(f"math.exp({self.text})")
    def log(self): return Sym(f"math.log({self.text})")
    def sin(self): return Sym(f"math.sin({self.text})")
    def cos(self): return Sym(f"math.cos({self.text})")
    def sigmoid(self): return Sym(f"(1.0 / (1.0 + math.exp(-{self.text})))")


def _text(x: object) -> str:
    return x.text if isinstance(x, Sym) else repr(x)


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
    env = dict(zip(names, args), out=out, math=math)
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
    assert engine.TANH.derivatives([x], out)[0].text == "(1.0 - (out * out))"
    assert engine.SIN.derivatives([x], out)[0].text == "math.cos(x)"
    assert engine.RELU.derivatives([x], out)[0].text == "(1.0 if (out > 0) else 0.0)"
    assert [_text(d) for d in engine.MUL.derivatives([Sym("a"), Sym("b")], out)] == ["b", "a"]
