"""Property-test gradients with hypothesis: named strategies and assertion helpers.

A test of a new op reads:

    from hypothesis import given
    from micrograd.testing import values, assert_gradients_match

    @given(values(-5, 5, avoid=(0.0,)))
    def test_my_op_gradient(x):
        assert_gradients_match(my_op, x)

`values` draws floats from a bounded range, steered at least `margin` away from the points
in `avoid` (kinks such as relu's 0); `positive_values` draws from (0, max] for logs and
roots. `OPS` is the table of built-in ops, each with its plain-float twin and domain;
`arguments(op)` draws points inside an op's domain, and `expressions` draws random
expression graphs from a chosen set of ops, built-in or your own `Op`s (shared
subexpressions, constants on either side), each with its plain-float twin.

This module needs hypothesis (`pip install "micrograd-lab[testing]"`); neither `import micrograd`
nor `import micrograd.testing` imports it (`micrograd.testing` re-exports these names lazily).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable, Dict, Iterable, List, Optional, Sequence, Tuple, Union

try:
    from hypothesis import strategies as st
except ImportError as e:  # pragma: no cover - exercised only without the extra installed
    raise ImportError('micrograd.testing.strategies needs hypothesis: pip install "micrograd-lab[testing]"') from e

from ..arguments import finite_float
from ..engine import Value, affine
from ..numeric import EPS
from .finite_differences import ATOL, RTOL, gradcheck, gradgradcheck

__all__ = ["MARGIN", "OPS", "Expression", "Op", "arguments", "assert_gradients_match", "expressions", "positive_values",
           "values"]

MARGIN = 1e-3  # default distance from kinks and domain edges: 1000 gradcheck steps of 1e-6

Operand = Union[int, float]  # in an Expression step: an int names an earlier node, a float is a constant


# ---------------------------------------------------------------------------------------
# Numbers
# ---------------------------------------------------------------------------------------

def values(
    min_value: float = -10.0, max_value: float = 10.0, *, avoid: Iterable[float] = (), margin: float = MARGIN
) -> st.SearchStrategy[float]:
    """Finite floats in [min_value, max_value], each at least `margin` from every point in
    `avoid` (kinks and poles: `avoid=(0.0,)` for relu, abs or 1/x).

    A draw that falls too close to an avoided point is pushed out to `margin` from it, so
    hypothesis still shrinks towards simple numbers (0 becomes `margin`).
    """
    lo, hi = finite_float(min_value, "min_value"), finite_float(max_value, "max_value")
    if not lo < hi:
        raise ValueError(f"values needs min_value < max_value, got {lo!r} and {hi!r}")
    points = tuple(finite_float(p, "avoid point") for p in avoid)
    gap = finite_float(margin, "margin")
    if gap < 0.0:
        raise ValueError(f"margin must not be negative, got {gap!r}")
    floats = st.floats(lo, hi, allow_nan=False, allow_infinity=False)
    if not points:
        return floats

    def push_out(x: float) -> float:
        for p in points:
            if abs(x - p) < gap:
                x = p + gap if (x >= p and p + gap <= hi) or p - gap < lo else p - gap
        return x

    def allowed(x: float) -> bool:  # two avoided points closer than 2 margins can push into each other
        return lo <= x <= hi and all(abs(x - p) >= gap for p in points)

    return floats.map(push_out).filter(allowed)


def positive_values(min_value: float = MARGIN, max_value: float = 10.0) -> st.SearchStrategy[float]:
    """Floats in [min_value, max_value] with min_value > 0: the domain of log, sqrt, x ** y."""
    if not finite_float(min_value, "min_value") > 0.0:
        raise ValueError(f"positive_values needs min_value > 0, got {min_value!r}")
    return values(min_value, max_value)


# ---------------------------------------------------------------------------------------
# The op table
# ---------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Op:
    """One op for `expressions`: how to build it from Values, its plain-float twin, and
    where it is defined.

    `admits(args, margin)` says whether the op is defined at these float arguments and at
    least `margin` from its kinks; `constants` lists the argument positions that may be a
    plain number instead of a Value.
    """

    name: str
    arity: int
    build: Callable[..., Value]
    reference: Callable[..., float]
    admits: Callable[[Sequence[float], float], bool] = lambda args, margin: True
    constants: Tuple[int, ...] = ()

    def __repr__(self) -> str:
        return f"Op({self.name!r})"


def _away_from_zero(args: Sequence[float], margin: float) -> bool:  # relu, abs: the kink at 0
    return abs(args[0]) >= margin


def _positive(args: Sequence[float], margin: float) -> bool:  # log, sqrt, x ** y: the domain x > 0
    return args[0] >= margin


def _sigmoid(x: float) -> float:
    # The stable form: 1 / (1 + e**-x) overflows in e**-x below about x = -709.
    if x >= 0.0:
        return 1.0 / (1.0 + math.exp(-x))
    e = math.exp(x)
    return e / (1.0 + e)


def _softplus(x: float) -> float:
    return max(x, 0.0) + math.log1p(math.exp(-abs(x)))  # log(1 + e**x) without overflow


_BOTH_SIDES = (0, 1)

# Every built-in op. The twins follow micrograd's definitions where they are definitions
# (a / b is a * b**-1 and sqrt is x ** 0.5, as in micrograd 0.1.0), so a Value expression
# and its twin give the same float, not merely close ones.
OPS: Dict[str, Op] = {
    op.name: op
    for op in [
        Op("+", 2, lambda a, b: a + b, lambda a, b: a + b, constants=_BOTH_SIDES),
        Op("-", 2, lambda a, b: a - b, lambda a, b: a - b, constants=_BOTH_SIDES),
        Op("*", 2, lambda a, b: a * b, lambda a, b: a * b, constants=_BOTH_SIDES),
        Op("/", 2, lambda a, b: a / b, lambda a, b: a * b ** -1.0, lambda args, m: abs(args[1]) >= m, _BOTH_SIDES),
        # A positive base keeps x ** y real for every exponent (constant or Value).
        Op("**", 2, lambda a, b: a ** b, lambda a, b: a ** b, _positive, _BOTH_SIDES),
        # Integer exponents are real for any base, so these rows reach negative bases too.
        Op("**3", 1, lambda a: a ** 3, lambda a: a ** 3.0),
        Op("**-2", 1, lambda a: a ** -2, lambda a: a ** -2.0, lambda args, m: abs(args[0]) >= m),
        Op("neg", 1, lambda a: -a, lambda a: -a),
        Op("exp", 1, Value.exp, math.exp),
        Op("log", 1, Value.log, math.log, _positive),
        Op("tanh", 1, Value.tanh, math.tanh),
        Op("sigmoid", 1, Value.sigmoid, _sigmoid),
        Op("softplus", 1, Value.softplus, _softplus),
        Op("sin", 1, Value.sin, math.sin),
        Op("cos", 1, Value.cos, math.cos),
        Op("relu", 1, Value.relu, lambda a: a if a > 0 else 0.0, _away_from_zero),
        Op("leaky_relu", 1, Value.leaky_relu, lambda a: a if a > 0 else 0.01 * a, _away_from_zero),
        Op("abs", 1, Value.abs, abs, _away_from_zero),
        Op("sqrt", 1, Value.sqrt, lambda a: a ** 0.5, _positive),
        # Two weights, two inputs, a bias: b + w0*x0 + w1*x1, summed in that order; an input may
        # be a constant, as in a first layer.
        Op(
            "affine",
            5,
            lambda w0, w1, x0, x1, b: affine([w0, w1], [x0, x1], b),
            lambda w0, w1, x0, x1, b: b + w0 * x0 + w1 * x1,
            constants=(2, 3),
        ),
    ]
}


def arguments(
    op: Union[str, Op], min_value: float = -3.0, max_value: float = 3.0, *, margin: float = MARGIN
) -> st.SearchStrategy[Tuple[float, ...]]:
    """Tuples of `op.arity` floats in [min_value, max_value] at which `op` is defined and at
    least `margin` from its kinks: the points to check an op's gradient at.

        >>> from hypothesis import given
        >>> @given(arguments("log"))
        ... def test_log(args):
        ...     assert_gradients_match(Value.log, *args, order=2)
    """
    (row,) = _resolve([op])
    gap = finite_float(margin, "margin")
    return st.tuples(*[values(min_value, max_value)] * row.arity).filter(lambda args: row.admits(args, gap))


# ---------------------------------------------------------------------------------------
# Expressions
# ---------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Expression:
    """A random expression graph: `inputs` (the point drawn) and `steps`.

    Node i < len(inputs) is input x<i>; each step adds one node, op(operands), where an
    int operand names an earlier node (so a node can feed several later ones: shared
    subexpressions) and a float is a constant. The last node is the result.

    `expr(*xs)` (or `expr.value(*xs)`) builds it from Values; `expr.function(*xs)` is the
    plain-float twin. Both default to `inputs`.
    """

    inputs: Tuple[float, ...]
    steps: Tuple[Tuple[Op, Tuple[Operand, ...]], ...]

    def leaves(self) -> Tuple[Value, ...]:
        """New leaf Values holding `inputs`, labelled x0, x1, ..."""
        return tuple(Value(x, label=f"x{i}") for i, x in enumerate(self.inputs))

    def value(self, *xs: Union[Value, float]) -> Value:
        """The expression built from Values (numbers become new leaves)."""
        nodes = [x if isinstance(x, Value) else Value(x) for x in self._args(xs)]
        out: Value = self.run(nodes, lambda op, *args: op.build(*args))
        return out

    __call__ = value

    def function(self, *xs: float) -> float:
        """The plain-float twin of `value`."""
        out: float = self.run([float(x) for x in self._args(xs)], lambda op, *args: op.reference(*args))
        return out

    def _args(self, xs: Tuple[Any, ...]) -> Tuple[Any, ...]:
        if not xs:
            return self.inputs
        if len(xs) != len(self.inputs):
            raise TypeError(f"this expression takes {len(self.inputs)} inputs, got {len(xs)}")
        return xs

    def run(self, inputs: Sequence[Any], apply: Callable[..., Any]) -> Any:
        """The expression evaluated by another engine: `apply(op, *args)` computes one step
        (args are earlier results or constants). This is how the tests replay an expression
        in an independent autograd, e.g. `expr.run(xs, lambda op, *a: theirs[op.name](*a))`."""
        nodes = list(inputs)
        for op, operands in self.steps:
            nodes.append(apply(op, *[nodes[o] if isinstance(o, int) else o for o in operands]))
        return nodes[-1]

    def __str__(self) -> str:
        n = len(self.inputs)
        names = [f"x{i}" for i in range(n)] + [f"v{n + k}" for k in range(len(self.steps))]
        lines = [", ".join(f"x{i} = {x!r}" for i, x in enumerate(self.inputs))]
        for k, (op, operands) in enumerate(self.steps):
            args = [names[o] if isinstance(o, int) else repr(o) for o in operands]
            if op.arity == 2 and not op.name[0].isalpha():
                text = f"{args[0]} {op.name} {args[1]}"
            else:
                text = f"{op.name}({', '.join(args)})"
            lines.append(f"{names[n + k]} = {text}")
        return "; ".join(lines)

    def __repr__(self) -> str:
        return f"Expression({self})"


def expressions(
    ops: Optional[Iterable[Union[str, Op]]] = None,
    *,
    n_inputs: int = 2,
    max_steps: int = 6,
    inputs: Optional[st.SearchStrategy[float]] = None,
    constants: Optional[st.SearchStrategy[float]] = None,
    margin: float = MARGIN,
    bound: float = 1e4,
) -> st.SearchStrategy[Expression]:
    """Random expression graphs of 1 to `max_steps` ops drawn from `ops` (names in `OPS`
    or your own `Op`s; default: all of `OPS`) over `n_inputs` inputs.

    Operands are earlier nodes, often shared, or (where the op allows) a constant on
    either side. Every op is kept inside its domain and at least `margin` from its kinks,
    not only at the drawn inputs but also with each input moved by +-1e-4 (100 gradcheck
    steps), and every intermediate value stays within +-`bound`; a step that would break
    this is left out. So `gradcheck(expr, expr.inputs)` tests derivatives, not kinks.
    """
    table = _resolve(ops)
    if isinstance(n_inputs, bool) or not isinstance(n_inputs, int) or n_inputs < 1:
        raise ValueError(f"n_inputs must be a positive int, got {n_inputs!r}")
    if isinstance(max_steps, bool) or not isinstance(max_steps, int) or max_steps < 1:
        raise ValueError(f"max_steps must be a positive int, got {max_steps!r}")
    point = values(-3.0, 3.0) if inputs is None else inputs
    constant = values(-3.0, 3.0) if constants is None else constants
    margin, bound = finite_float(margin, "margin"), finite_float(bound, "bound")
    return _expressions(table, n_inputs, max_steps, point, constant, margin, bound)


_PROBE = 1e-4  # how far each input is moved when checking that a step stays in its domain


@st.composite
def _expressions(draw, table, n_inputs, max_steps, point, constant, margin, bound):  # type: ignore[no-untyped-def]
    xs = tuple(float(draw(point)) for _ in range(n_inputs))
    # Each node's value at the drawn point and with each input moved by -+_PROBE.
    probes = [xs]
    for i in range(n_inputs):
        for sign in (-1.0, 1.0):
            probes.append(tuple(x + sign * _PROBE if j == i else x for j, x in enumerate(xs)))
    rows = [tuple(p[i] for p in probes) for i in range(n_inputs)]
    steps = []
    for _ in range(draw(st.integers(1, max_steps))):
        op = draw(st.sampled_from(table))
        at = draw(st.sampled_from((None, *op.constants))) if op.constants else None
        operands = []
        for k in range(op.arity):
            if k == at:
                operands.append(float(draw(constant)))
            else:  # counted back from the newest node, so shrinking favours chains
                operands.append(len(rows) - 1 - draw(st.integers(0, len(rows) - 1)))
        row = _evaluate(op, operands, rows, margin, bound)
        if row is not None:
            steps.append((op, tuple(operands)))
            rows.append(row)
    return Expression(xs, tuple(steps))


def _evaluate(
    op: Op, operands: List[Operand], rows: List[Tuple[float, ...]], margin: float, bound: float
) -> Optional[Tuple[float, ...]]:
    """The op's value at every probe point, or None if it leaves its domain at any."""
    out = []
    for p in range(len(rows[0])):
        args = [rows[o][p] if isinstance(o, int) else o for o in operands]
        if not op.admits(args, margin):
            return None
        try:
            y = op.reference(*args)
        except (ValueError, ZeroDivisionError, OverflowError):
            return None
        if not abs(y) <= bound:
            return None
        out.append(y)
    return tuple(out)


def _resolve(ops: Optional[Iterable[Union[str, Op]]]) -> Tuple[Op, ...]:
    if ops is None:
        return tuple(OPS.values())
    table = []
    for op in ops:
        if isinstance(op, Op):
            table.append(op)
        elif op in OPS:
            table.append(OPS[op])
        else:
            raise ValueError(f"unknown op {op!r}: use a name from micrograd.testing.OPS ({', '.join(OPS)}) or an Op")
    if not table:
        raise ValueError("expressions needs at least one op, got none")
    return tuple(table)


# ---------------------------------------------------------------------------------------
# Assertions
# ---------------------------------------------------------------------------------------

def assert_gradients_match(
    f: Callable[..., Value],
    *xs: Union[Value, float],
    order: int = 1,
    eps: float = EPS,
    atol: float = ATOL,
    rtol: float = RTOL,
) -> None:
    """Raise `GradcheckError` unless `f`'s derivatives at `xs` match central differences.

    `order=1` checks `backward()` (`gradcheck`); `order=2` also checks the second
    derivatives from `grad(create_graph=True)` (`gradgradcheck`). Tolerances as there.
    """
    __tracebackhide__ = True  # pytest: show the failing test, not this helper
    if order not in (1, 2) or isinstance(order, bool):
        raise ValueError(f"order must be 1 or 2, got {order!r}")
    gradcheck(f, xs, eps=eps, atol=atol, rtol=rtol)
    if order == 2:
        gradgradcheck(f, xs, eps=eps, atol=atol, rtol=rtol)

