"""Write the op: the learner writes an op's backward, the lecture's way (`out._backward = ...`)
or with `micrograd.primitive`, and the check differentiates it numerically.

The check (`check_op`), in order, stopping at the first problem:

1. the op returns a `Value` connected to its inputs, made by the learner's own code (not
   micrograd's op of the same name, nor a composition of micrograd's ops, whose derivatives
   the engine would supply);
2. its forward values are right (against a float reference, `math.tanh` say);
3. `gradcheck` at fixed points of the op's domain, then hypothesis over the domain (when
   hypothesis is installed): the first failing input is reported with the derivative
   expected (a central difference) and the one `backward()` gave;
4. with an upstream gradient other than 1 (the result multiplied by 3): a `_backward` that
   forgets `out.grad` passes step 3 and fails here;
5. with an input used twice (`op(x) + 2 * x`, `op(a, a)`): `x.grad = ...` instead of `+=`
   passes the steps above and fails here.

A failing derivative is compared with the mistakes the exercise expects (1 - x² for tanh)
and with the generic ones: a flipped sign, a constant factor, the derivative of the other
variable, nothing added at all.
"""

from __future__ import annotations

import ast
import math
from typing import Any, Callable, List, NamedTuple, Optional, Sequence, Tuple

from ..engine import Primitive, Value
from ..numeric import central_difference
from ..symbolic import format_number
from ..testing.finite_differences import ATOL, RTOL, gradcheck
from .exercise import CodeExercise
from .feedback import Feedback
from .sandbox import LearnerError, Source, call

__all__ = ["WriteOp", "OpSpec", "OpMistake", "check_op", "hypothesis_strategies", "SQUARE"]

Point = Tuple[float, ...]


class OpMistake(NamedTuple):
    """A wrong derivative an exercise expects: `grads(*args, out)` gives the gradient a
    `backward()` with this mistake would give (upstream 1), one per argument."""

    code: str
    grads: Callable[..., Tuple[float, ...]]
    message: str


class OpSpec:
    """What the learner's op must compute, and where it is defined.

    Args:
        name: the function's name (`tanh`), the name the answer must define.
        forward: the float reference of the forward pass.
        domain: (low, high) for every argument; `avoid` keeps hypothesis' draws away from
            points where the op or its derivative misbehaves (0 for 1/x).
        points: fixed points checked first, one tuple per call.
        mistakes: the expected wrong derivatives.
    """

    def __init__(self, name: str, arity: int, forward: Callable[..., float], domain: Tuple[float, float],
                 points: Sequence[Point], mistakes: Sequence[OpMistake] = (), avoid: Sequence[float] = (),
                 examples: int = 30) -> None:
        self.name = name
        self.arity = arity
        self.forward = forward
        self.domain = domain
        self.points = [tuple(float(v) for v in p) for p in points]
        self.mistakes = list(mistakes)
        self.avoid = tuple(avoid)
        self.examples = examples

    @property
    def variables(self) -> List[str]:
        return ["x"] if self.arity == 1 else ["a", "b", "c"][: self.arity]

    def show(self, point: Point) -> str:
        return ", ".join(f"{v} = {format_number(x, 6)}" for v, x in zip(self.variables, point))


class WriteOp(CodeExercise):
    """Write an op and its derivative; the answer defines a function named `spec.name`."""

    kind = "write-op"

    def __init__(self, id: str, title: str, statement: str, spec: OpSpec, hints: Sequence[str], solution: str,
                 why: str) -> None:
        super().__init__(id, title, statement, hints, solution, why)
        self.spec = spec
        self.entry = spec.name

    def prepare(self) -> None:
        hypothesis_strategies()

    def check_function(self, fn: Any, source: Source) -> Feedback:
        return check_op(self.id, self.spec, fn, source)


def hypothesis_strategies() -> Any:
    """`micrograd.testing.strategies` (importing hypothesis), or None without hypothesis."""
    try:
        from ..testing import strategies
    except ImportError:  # hypothesis is an extra: without it, the fixed points only
        return None
    return strategies


def _close(got: float, expected: float) -> bool:
    return abs(got - expected) <= ATOL + RTOL * abs(expected)


def _same_value(got: float, expected: float) -> bool:
    """A forward value is a formula on floats, not an estimate: it must agree to rounding (the
    derivative tolerances, 1e-3 relative, would let a forward 0.1% off pass on as a derivative error)."""
    return math.isclose(got, expected, rel_tol=1e-9, abs_tol=1e-12)


class _Gradients(NamedTuple):
    got: Tuple[float, ...]
    expected: Tuple[float, ...]


def check_op(exercise: str, spec: OpSpec, fn: Callable[..., Any], source: Source) -> Feedback:
    """Check the learner's op `fn` against `spec` (see the module's docstring)."""
    name = spec.name
    try:
        problem = _check_result(spec, fn)
        if problem is not None:
            return Feedback(exercise, False, problem[0], problem[1], mistake=problem[2])
        for point in spec.points:
            out = _apply(spec, fn, point)
            right = spec.forward(*point)
            if not _same_value(out.data, right):
                return Feedback(exercise, False, f"The forward value is wrong: {name}({_args(point)}) is"
                                f" {format_number(right, 8)}, your {name} gives {format_number(out.data, 8)}.",
                                ["fix the value first: the derivative is checked against it"], mistake="forward")
        checked = 0
        for point in spec.points:
            checked += 1
            if not _passes(spec, lambda *xs: _apply(spec, fn, (), xs), point):
                return _wrong_derivative(exercise, spec, fn, point, "at a fixed point")
        failing = _hypothesis_search(spec, fn)
        hypothesis = hypothesis_strategies() is not None
        if failing is not None:
            return _wrong_derivative(exercise, spec, fn, failing, "found by hypothesis")
        upstream = _check_upstream(exercise, spec, fn, source)
        if upstream is not None:
            return upstream
        shared = _check_shared(exercise, spec, fn, source)
        if shared is not None:
            return shared
    except LearnerError as e:
        return Feedback(exercise, False, e.summary[0].upper() + e.summary[1:] + ".", e.details, mistake=e.mistake)
    low, high = spec.domain
    searched = (f"{spec.examples} inputs drawn by hypothesis from [{low:g}, {high:g}]" if hypothesis
                else "no hypothesis search (pip install \"micrograd-lab[testing]\" for one)")
    return Feedback(exercise, True, f"Your {name} is right: its derivative matches central differences.",
                    [f"checked at {checked} fixed points and {searched}",
                     "with an upstream gradient of 3 (the result multiplied by 3), and with an input used twice",
                     f"tolerance: |backward - central difference| <= {ATOL:g} + {RTOL:g} * |central difference|"])


def _passes(spec: OpSpec, graph: Callable[..., Value], point: Point) -> bool:
    """gradcheck of `graph` at `point`, with the learner's errors in their terms."""
    return bool(call(lambda: gradcheck(graph, list(point), raise_exception=False),
                     what=f"the backward pass through your {spec.name}"))


def _args(point: Point) -> str:
    return ", ".join(format_number(x, 6) for x in point)


def _apply(spec: OpSpec, fn: Callable[..., Any], point: Point, leaves: Sequence[Value] = ()) -> Value:
    """fn on leaves (or on new leaves holding `point`), checked to return a Value."""
    xs = list(leaves) or [Value(x) for x in point]
    out = call(fn, *xs, what=f"your {spec.name}")
    if not isinstance(out, Value):
        raise LearnerError(f"your {spec.name} returned {type(out).__name__} {out!r:.40}, not a Value",
                           ["return a Value made from the inputs, so that backward() can reach them"], "not-a-value")
    return out


def _check_result(spec: OpSpec, fn: Callable[..., Any]) -> Optional[Tuple[str, List[str], str]]:
    """Is the result a Value made by the learner's own op, from the inputs?"""
    xs = [Value(x) for x in spec.points[0]]
    out = _apply(spec, fn, (), xs)
    if out.primitive is not None and _built_in(out.primitive):
        if out.op == spec.name:
            return (f"Your {spec.name} returns micrograd's own {spec.name}, whose derivative the engine already"
                    " knows: write the derivative yourself.",
                    ["build the result with Value(data, (x,), ...) and set out._backward, or make an op with"
                     " micrograd.primitive"], "uses-builtin")
        return (f"Your {spec.name} is built from micrograd's ops (its last one is `{out.op}`), so the engine"
                " differentiates it for you: the exercise is to write the derivative yourself.",
                ["build the result with Value(data, (x,), ...) and set out._backward, or make an op with"
                 " micrograd.primitive"], "composed")
    if not any(p is x for p in out.parents for x in xs):
        return (f"Your {spec.name}'s result is not connected to its inputs: backward() cannot reach them.",
                [f"pass the inputs as its children: Value(data, ({', '.join(spec.variables)},), '{spec.name}')"],
                "not-connected")
    return None


def _built_in(fn: Primitive) -> bool:
    from .. import engine

    return any(fn is v for v in vars(engine).values() if isinstance(v, Primitive))


def _gradients(spec: OpSpec, fn: Callable[..., Any], point: Point) -> _Gradients:
    xs = [Value(x) for x in point]
    out = _apply(spec, fn, (), xs)
    call(out.backward, what=f"the backward pass through your {spec.name}")
    got = tuple(float(x.grad) for x in xs)
    expected = tuple(central_difference(lambda *a: _apply(spec, fn, a).data, *point, arg=i) for i in range(len(point)))
    return _Gradients(got, expected)


def _wrong_derivative(exercise: str, spec: OpSpec, fn: Callable[..., Any], point: Point, how: str) -> Feedback:
    g = _gradients(spec, fn, point)
    out = spec.forward(*point)
    names = spec.variables
    shown = [f"d{spec.name}/d{v}: expected {format_number(e, 8)} (central difference), got {format_number(x, 8)}"
             for v, e, x in zip(names, g.expected, g.got)]
    head = f"at {spec.show(point)} ({how}): " + "; ".join(shown)
    for m in spec.mistakes:
        if _matches(spec, m, fn):
            return Feedback(exercise, False, m.message, [head], mistake=m.code)
    code, message = _generic(spec, g, point, out)
    return Feedback(exercise, False, message, [head], mistake=code)


def _matches(spec: OpSpec, m: OpMistake, fn: Callable[..., Any]) -> bool:
    for point in spec.points:
        g = _gradients(spec, fn, point)
        wrong = m.grads(*point, spec.forward(*point))
        if not all(_close(x, w) for x, w in zip(g.got, wrong)):
            return False
    return True


def _generic(spec: OpSpec, g: _Gradients, point: Point, out: float) -> Tuple[str, str]:
    name, names = spec.name, spec.variables
    bad = [i for i, (x, e) in enumerate(zip(g.got, g.expected)) if not _close(x, e)]
    if all(x == 0.0 for x in g.got):
        return "no-gradient", (f"backward() left the gradient of {names[bad[0]]} at 0: your {name} adds nothing to it."
                               " Did you set out._backward = _backward, and does it add to the input's .grad?")
    i = bad[0]
    v, got, expected = names[i], g.got[i], g.expected[i]
    if _close(-got, expected):
        return "sign", f"The sign of d{name}/d{v} is flipped: you have {format_number(got, 6)}, it is" \
                       f" {format_number(expected, 6)}."
    for j in range(len(names)):
        if j != i and _close(got, g.expected[j]):
            return "wrong-variable", (f"d{name}/d{v} is what d{name}/d{names[j]} should be: you took the derivative"
                                      f" with respect to the wrong variable ({names[j]} instead of {v}).")
    if _close(got, out):
        return "value-not-derivative", (f"You gave {name}'s value as its derivative: d{name}/d{v} at"
                                        f" {spec.show(point)} is {format_number(expected, 6)}.")
    if expected != 0.0:
        ratio = got / expected
        for factor in (2.0, 0.5, 3.0, 1 / 3, 4.0, 0.25):
            if abs(ratio - factor) < 1e-3 * factor:
                return "factor", (f"d{name}/d{v} is off by a factor of {format_number(factor, 4)}: you have"
                                  f" {format_number(got, 6)}, it is {format_number(expected, 6)}.")
    return "wrong-derivative", f"d{name}/d{v} is wrong at {spec.show(point)}, the first failing input found."


def _hypothesis_search(spec: OpSpec, fn: Callable[..., Any]) -> Optional[Point]:
    """The shrunk input where gradcheck fails, searched by hypothesis over the domain, or None."""
    strategies = hypothesis_strategies()
    if strategies is None:
        return None
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    low, high = spec.domain
    failing: List[Point] = []

    @settings(max_examples=spec.examples, derandomize=True, database=None, deadline=None,
              suppress_health_check=list(HealthCheck), report_multiple_bugs=False)
    @given(st.tuples(*[strategies.values(low, high, avoid=spec.avoid, margin=0.01)] * spec.arity))
    def search(point: Point) -> None:
        if not _passes(spec, lambda *xs: _apply(spec, fn, (), xs), point):
            failing.append(point)
            raise AssertionError(point)

    try:
        search()
    except AssertionError:
        return failing[-1]
    return None


def _check_upstream(exercise: str, spec: OpSpec, fn: Callable[..., Any], source: Source) -> Optional[Feedback]:
    point = spec.points[0]
    if _passes(spec, lambda *xs: _apply(spec, fn, (), xs) * 3.0, point):
        return None
    xs = [Value(x) for x in point]
    call((_apply(spec, fn, (), xs) * 3.0).backward, what=f"the backward pass through your {spec.name}")
    g = _gradients(spec, fn, point)
    v = spec.variables[0]
    details = [f"with the result multiplied by 3, at {spec.show(point)}: d(3 * {spec.name})/d{v} should be"
               f" {format_number(3 * g.expected[0], 6)}, yours is {format_number(xs[0].grad, 6)}"]
    if _close(xs[0].grad, g.expected[0]):
        return Feedback(exercise, False, f"Your {spec.name} forgets the upstream gradient: the chain rule multiplies"
                        " the local derivative by out.grad, the gradient arriving from above.",
                        details + ["with out.grad = 1 (the op alone) the two agree, which is why it looked right",
                                   f"in _backward: {v}.grad += (local derivative) * out.grad"],
                        mistake="forgot-upstream")
    return Feedback(exercise, False, f"Your {spec.name} gives a wrong gradient when out.grad is not 1.", details,
                    mistake="wrong-upstream")


def _check_shared(exercise: str, spec: OpSpec, fn: Callable[..., Any], source: Source) -> Optional[Feedback]:
    point = spec.points[0]
    if spec.arity == 1:
        graphs: List[Tuple[str, Callable[..., Value], Point]] = [
            (f"{spec.name}(x) + 2 * x", lambda x: _apply(spec, fn, (), [x]) + x * 2.0, point),
            (f"2 * x + {spec.name}(x)", lambda x: x * 2.0 + _apply(spec, fn, (), [x]), point),
        ]
    else:
        graphs = [(f"{spec.name}(a, a)", lambda a: _apply(spec, fn, (), [a] * spec.arity), point[:1]),
                  (f"{spec.name}(a, b) + a", lambda a, b: _apply(spec, fn, (), [a, b]) + a, point)]
    for shown, graph, at in graphs:
        if _passes(spec, graph, at):
            continue
        xs = [Value(x) for x in at]
        call(graph(*xs).backward, what=f"the backward pass through your {spec.name}")
        expected = central_difference(lambda *a, graph=graph: graph(*[Value(x) for x in a]).data, *at)
        details = [f"for {shown} at {spec.show(at)}: d/d{spec.variables[0]} should be {format_number(expected, 6)},"
                   f" backward() gave {format_number(xs[0].grad, 6)}"]
        line = _assigned_grad(source)
        if line:
            details.append(line)
        return Feedback(exercise, False, f"Your {spec.name} breaks when an input is used twice: its _backward"
                        " replaces the gradient with `=` where it must add with `+=`, so the other use's"
                        " contribution is lost.", details + ["the chain rule adds one term per use (the a + a"
                                                             " bug, karpathy/micrograd issue 64)"],
                        mistake="assigned-grad")
    return None


def _assigned_grad(source: Source) -> str:
    """`line N: x.grad = ...` where the source assigns to a .grad with `=`, or ""."""
    try:
        tree = ast.parse(source.text)
    except SyntaxError:
        return ""
    lines = source.text.splitlines()
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Attribute) and t.attr == "grad"
                                                for t in node.targets):
            return f"line {node.lineno}: `{lines[node.lineno - 1].strip()}`: write `+=`"
    return ""


# ---------------------------------------------------------------------------------------
# The catalogue's ops
# ---------------------------------------------------------------------------------------

def _sigmoid(x: float) -> float:
    if x >= 0:
        return 1.0 / (1.0 + math.exp(-x))
    z = math.exp(x)
    return z / (1.0 + z)


SQUARE = OpSpec(
    "square", 1, lambda x: x * x, (-5.0, 5.0), [(1.5,), (-0.7,), (3.0,)],
    [OpMistake("factor", lambda x, out: (x,), "Still half the derivative: d(x²)/dx = 2x, and your _backward adds"
               " x * out.grad."),
     OpMistake("wrong-variable", lambda x, out: (2 * out,), "You used out where the derivative needs x:"
               " d(x²)/dx = 2x, not 2x².")],
)


def exercises() -> List[WriteOp]:
    """The write-the-op exercises of the catalogue."""
    return [
        WriteOp(
            "op-1", "tanh, the lecture's way",
            """
            Write `tanh(x)` for a Value x, the way the lecture does: compute t = math.tanh(x.data), make
            `out = Value(t, (x,), 'tanh')`, and give it a `_backward` that adds the chain rule's term
            to x.grad. Return out.

            Check it with `ex.check(tanh)` (or `python -m micrograd check op-1 tanh.py`).
            """,
            OpSpec("tanh", 1, math.tanh, (-4.0, 4.0), [(0.5,), (-1.5,), (2.0,)], [
                OpMistake("tanh-of-x", lambda x, out: (1 - x * x,), "You wrote 1 - x²: tanh's derivative is"
                          " 1 - tanh(x)², that is 1 - t² with t = out.data."),
                OpMistake("tanh-unsquared", lambda x, out: (1 - out,), "You wrote 1 - t: tanh's derivative is"
                          " 1 - t², t squared."),
            ]),
            ["d tanh(x)/dx = 1 - tanh(x)², and tanh(x) is the t you already computed.",
             "The chain rule: x.grad gets (local derivative) * out.grad.",
             "Use += : x may be used elsewhere too, and those uses add their own terms."],
            """
            def tanh(x):
                t = math.tanh(x.data)
                out = Value(t, (x,), "tanh")

                def _backward():
                    x.grad += (1 - t ** 2) * out.grad

                out._backward = _backward
                return out
            """,
            "The local derivative 1 - t² reuses the forward result; multiplying by out.grad is the chain rule;"
            " += lets every use of x add its term.",
        ),
        WriteOp(
            "op-2", "Multiplication, the lecture's way",
            """
            Write `mul(a, b)` for two Values: out = Value(a.data * b.data, (a, b), '*') with a `_backward`
            that adds to both a.grad and b.grad. (The check also calls mul(a, a).)
            """,
            OpSpec("mul", 2, lambda a, b: a * b, (-5.0, 5.0), [(2.0, -3.0), (0.5, 4.0), (-1.5, -2.5)], [
                OpMistake("like-add", lambda a, b, out: (1.0, 1.0), "You wrote the derivative of +: for a * b,"
                          " d/da = b and d/db = a, not 1."),
            ]),
            ["d(a*b)/da = b and d(a*b)/db = a.",
             "Each is multiplied by out.grad.",
             "mul(a, a) has a twice as a child: with +=, both terms land in a.grad."],
            """
            def mul(a, b):
                out = Value(a.data * b.data, (a, b), "*")

                def _backward():
                    a.grad += b.data * out.grad
                    b.grad += a.data * out.grad

                out._backward = _backward
                return out
            """,
            "Each input gets the other's value times the upstream gradient, added with +=.",
        ),
        WriteOp(
            "op-3", "sigmoid with micrograd.primitive",
            """
            Make `sigmoid` with `micrograd.primitive`: a forward function on plain floats, and a
            derivative that receives the argument and the output (Values) and returns d out / dx:

                @primitive
                def sigmoid(x): ...            # floats: use math.exp

                @sigmoid.derivative
                def _(x, out): ...             # return d sigmoid / dx

            The engine does the chain rule for you.
            """,
            OpSpec("sigmoid", 1, _sigmoid, (-6.0, 6.0), [(0.5,), (-2.0,), (3.0,)], [
                OpMistake("sigmoid-of-x", lambda x, out: (x * (1 - x),), "You wrote x * (1 - x): sigmoid's derivative"
                          " is s * (1 - s) with s = sigmoid(x), the output."),
                OpMistake("missing-factor", lambda x, out: (out,), "You returned out alone: d sigmoid/dx ="
                          " out * (1 - out)."),
            ]),
            ["sigmoid(x) = 1 / (1 + exp(-x)).",
             "Its derivative is sigmoid(x) * (1 - sigmoid(x)).",
             "The derivative function gets `out`, the result: use it."],
            """
            @primitive
            def sigmoid(x):
                return 1 / (1 + math.exp(-x))

            @sigmoid.derivative
            def _(x, out):
                return out * (1 - out)
            """,
            "s' = s (1 - s), written with the output, as the engine's own sigmoid does. (For x below -709,"
            " math.exp(-x) overflows: micrograd's sigmoid splits by sign.)",
        ),
        WriteOp(
            "op-4", "log, either way",
            """
            Write `log(x)` for a Value x > 0, the lecture's way or with `micrograd.primitive`.
            The check draws x from (0.05, 10).
            """,
            OpSpec("log", 1, math.log, (0.05, 10.0), [(0.5,), (2.0,), (7.0,)], [
                OpMistake("log-of-out", lambda x, out: (1 / out,), "You wrote 1/out: d log(x)/dx = 1/x, in the"
                          " input x, not the output."),
            ]),
            ["d log(x)/dx = 1/x.",
             "With micrograd.primitive: `return 1 / x` in the derivative.",
             "The lecture's way: x.grad += (1 / x.data) * out.grad."],
            """
            @primitive
            def log(x):
                return math.log(x)

            @log.derivative
            def _(x, out):
                return 1 / x
            """,
            "d log x / dx = 1/x; the engine multiplies it by the upstream gradient.",
        ),
    ]
