"""Predict the gradient: a small graph, one highlighted node, and the learner's number for
d(root)/d(node).

The check runs the backward pass and `micrograd.explain` on a fresh copy of the graph, so
the right answer and the worked calculation are the engine's own. A wrong number is
compared with the numbers the usual mistakes give, read off the same explanation:

- one path only: the node is used several times and the answer is one term of the sum;
- the sign flipped;
- the upstream gradient forgotten: the local derivative alone (or the upstream alone);
- the value of the node instead of its gradient;
- and mistakes of the exercise's own (1 - n² for tanh's derivative, say).

Any other wrong number gets the whole worked calculation. No code of the learner runs here,
so the check is in-process.
"""

from __future__ import annotations

import math
import numbers
from typing import Any, Callable, List, NamedTuple, Optional, Sequence, Tuple

from ..engine import Value, topological_order
from ..explanation import Explanation, explain
from ..symbolic import format_number
from .exercise import Exercise, Solution
from .feedback import Feedback

__all__ = ["PredictGradient", "Mistake", "ABS_TOL", "REL_TOL"]

ABS_TOL = 0.005  # an answer rounded to 2 decimals counts
REL_TOL = 1e-3

Graph = Tuple[Value, Value]  # (root, the node asked about)


class Mistake(NamedTuple):
    """A wrong number an exercise expects, and what to say about it.

    `number(root, node)` is evaluated after the backward pass; `message` may use
    `{answer}` and `{right}`.
    """

    code: str
    number: Callable[[Value, Value], float]
    message: str


def close(a: float, b: float) -> bool:
    """Within the tolerance every predict-the-gradient check states."""
    return abs(a - b) <= ABS_TOL + REL_TOL * abs(b)


class PredictGradient(Exercise):
    """Predict d(root)/d(node) for a small graph.

    `build()` makes the graph (forward pass only, nodes labelled) and returns (root, node).
    `ex.graph()` gives a fresh copy, `ex.draw()` draws it with the node highlighted and no
    gradients shown, and `ex.check(number)` says whether the number is right and, if not,
    where it went wrong.
    """

    kind = "predict"

    def __init__(self, id: str, title: str, statement: str, build: Callable[[], Graph], hints: Sequence[str],
                 why: str, mistakes: Sequence[Mistake] = ()) -> None:
        super().__init__(id, title, statement, hints, "", why)
        self._build = build
        self.mistakes = list(mistakes)
        root, node = build()
        self.root_name, self.node_name = root.label or "root", node.label or "node"

    def graph(self) -> Graph:
        """A fresh copy of the graph: (root, node), forward pass done, gradients all 0."""
        return self._build()

    def draw(self) -> Any:
        """The graph drawn with `draw_dot`: values shown, gradients hidden ("?"), the node
        asked about in red. Displays inline in Jupyter."""
        from ..steps import ForwardStep
        from ..visual.graph import draw_dot

        root, node = self.graph()
        order = [n for n in topological_order(root) if n is not node] + [node]
        # The last moment of a forward pass that computed `node` last: every value known, no
        # gradient yet, the node highlighted.
        return draw_dot(root, highlight=ForwardStep(len(order) - 1, len(order), node, order))

    def explanation(self) -> Explanation:
        """The worked calculation (runs the backward pass on a fresh graph)."""
        root, node = self.graph()
        root.backward()
        return explain(node, root)

    def solution(self) -> Solution:
        e = self.explanation()
        answer = f"d{self.root_name}/d{self.node_name} = {format_number(e.total, 6)}"
        return Solution(self.id, answer, f"{self._solution.why}\n\n{e}")

    def check(self, answer: Any) -> Feedback:
        """Check a predicted gradient (a number; a numeric string is read as one)."""
        number, problem = _as_number(answer)
        if number is None:
            return self._feedback(False, problem, [f"Give d{self.root_name}/d{self.node_name} as a number,"
                                                   " for example ex.check(-1.5)."], mistake="not-a-number")
        root, node = self.graph()
        root.backward()
        e = explain(node, root)
        right = e.total
        tol = f"answers within {ABS_TOL:g} (or {REL_TOL:.1%}) of the exact value count, so 2 decimals are enough"
        if close(number, right):
            return self._feedback(True, f"d{self.root_name}/d{self.node_name} = {format_number(right, 6)}.",
                                  [self._how(e), tol])
        worked, markdown = str(e), e._repr_markdown_()
        for code, wrong, message in self._candidates(root, node, e):
            if close(number, wrong) and not close(wrong, right):
                return self._feedback(False, message.format(answer=_show(number), right=_show(right)), [tol],
                                      mistake=code, worked=worked, worked_markdown=markdown)
        return self._feedback(False, f"{_show(number)} is not d{self.root_name}/d{self.node_name}; compare your"
                              " steps with the worked calculation below.",
                              [f"you are off by {_show(number - right)}.", tol], mistake="", worked=worked,
                              worked_markdown=markdown)

    def _how(self, e: Explanation) -> str:
        if len(e.terms) > 1:
            return (f"{self.node_name} is used {len(e.terms)} times, and you added the paths: "
                    + " + ".join(_paren(t.amount) for t in e.terms) + ".")
        return "one path, local derivative times the gradient from above: right."

    def _candidates(self, root: Value, node: Value, e: Explanation) -> List[Tuple[str, float, str]]:
        r, n = self.root_name, self.node_name
        found: List[Tuple[str, float, str]] = [(m.code, m.number(root, node), m.message) for m in self.mistakes]
        uses = [t for t in e.terms if not t.skipped]
        if len(uses) > 1:
            paths = " + ".join(_paren(t.amount) for t in uses)
            consumers = list(dict.fromkeys(e.name(u.consumer) for u in uses))
            via = ", ".join(consumers) if len(consumers) > 1 else f"{consumers[0]}, as both operands"
            for t in uses:
                found.append(("one-path", t.amount,
                              f"You used one path; {n} is used {len(uses)} times (via {via}), and the paths add:"
                              f" d{r}/d{n} = {paths} = {{right}}."))
        found.append(("sign", -e.total, f"Your sign is flipped: d{r}/d{n} is {{right}}. Look for a minus sign"
                                        " in a local derivative or in a value you multiplied by."))
        for t in uses:
            c = e.name(t.consumer)
            if t.local is not None and t.upstream != 1.0:
                found.append(("forgot-upstream", t.local,
                              f"You gave d{c}/d{n} = {_show(t.local)}, the local derivative only; the chain rule"
                              f" multiplies it by the gradient arriving from above, d{r}/d{c} = {_show(t.upstream)}:"
                              f" {_paren(t.local)} * {_paren(t.upstream)} = {_show(t.amount)}."))
            if t.local is not None and t.local != 1.0:
                found.append(("forgot-local", t.upstream,
                              f"You gave d{r}/d{c} = {_show(t.upstream)}, the gradient arriving at {c}; multiply it"
                              f" by the local derivative d{c}/d{n} = {_show(t.local)} to go one step further back."))
        if len(uses) > 1 and all(t.local is not None for t in uses):
            found.append(("forgot-upstream", math.fsum(t.local for t in uses if t.local is not None),
                          f"You added the local derivatives of the {len(uses)} uses of {n} but forgot to multiply"
                          " each by the gradient arriving from above."))
        found.append(("value-not-gradient", node.data,
                      f"{{answer}} is the value of {n} ({n}.data), not d{r}/d{n}, its gradient."))
        return found


def _as_number(answer: Any) -> Tuple[Optional[float], str]:
    if isinstance(answer, bool):
        return None, f"Expected a number, got {answer!r} (a bool)."
    if isinstance(answer, Value):
        return None, "Expected the number you predict, got a Value: predict it without running backward()."
    if isinstance(answer, str):
        try:
            answer = float(answer.strip())
        except ValueError:
            return None, f"Expected a number, got the string {answer!r}."
    if not isinstance(answer, numbers.Real):
        return None, f"Expected a number, got {type(answer).__name__}: {answer!r:.60}."
    x = float(answer)
    if not math.isfinite(x):
        return None, f"Expected a finite number, got {x!r}."
    return x, ""


def _show(x: float) -> str:
    return format_number(x, 6)


def _paren(x: float) -> str:  # a negative number inside a sum or product
    s = _show(x)
    return f"({s})" if s.startswith("-") else s


# ---------------------------------------------------------------------------------------
# The catalogue's graphs
# ---------------------------------------------------------------------------------------

def _labelled(**values: float) -> List[Value]:
    return [Value(v, label=k) for k, v in values.items()]


def _lecture_L() -> Graph:
    a, b, c, f = _labelled(a=2.0, b=-3.0, c=10.0, f=-2.0)
    e = a * b
    e.label = "e"
    d = e + c
    d.label = "d"
    L = d * f
    L.label = "L"
    return L, a


def _used_twice() -> Graph:
    a, b = _labelled(a=3.0, b=-2.0)
    c = a * b
    c.label = "c"
    L = c + a
    L.label = "L"
    return L, a


def _a_plus_a() -> Graph:
    (a,) = _labelled(a=3.0)
    y = a + a
    y.label = "y"
    L = y * y
    L.label = "L"
    return L, a


def _tanh_neuron() -> Graph:
    x1, w1, x2, w2, b = _labelled(x1=2.0, w1=-3.0, x2=0.0, w2=1.0, b=6.881373587019543)
    x1w1 = x1 * w1
    x1w1.label = "x1w1"
    x2w2 = x2 * w2
    x2w2.label = "x2w2"
    n = x1w1 + x2w2 + b
    n.label = "n"
    o = n.tanh()
    o.label = "o"
    return o, w1


def _squared_error() -> Graph:
    x, t = _labelled(x=3.0, t=5.0)
    e = x - t  # x + (t * -1)
    e.label = "e"
    for p in e.parents:
        if p.parents:
            p.label = "neg_t"
    L = e ** 2
    L.label = "L"
    return L, t


def _dead_relu() -> Graph:
    w, x = _labelled(w=2.0, x=-1.0)
    n = w * x + 0.5
    n.label = "n"
    r = n.relu()
    r.label = "r"
    L = r + w
    L.label = "L"
    return L, w


def _named(root: Value, label: str) -> Value:
    return next(v for v in topological_order(root) if v.label == label)


def _tanh_with_n_squared(root: Value, node: Value) -> float:
    n = _named(root, "n").data
    return _named(root, "x1").data * (1.0 - n * n)


def _tanh_unsquared(root: Value, node: Value) -> float:
    return _named(root, "x1").data * (1.0 - root.data)


def _relu_let_through(root: Value, node: Value) -> float:
    return _named(root, "x").data + 1.0


def _derivative_of_x_squared(root: Value, node: Value) -> float:
    return 2.0 * _named(root, "x").data


def exercises() -> List[PredictGradient]:
    """The predict-the-gradient exercises of the catalogue."""
    return [
        PredictGradient(
            "grad-1", "The lecture's L, one step at a time",
            """
            The lecture's first graph: a = 2, b = -3, c = 10, f = -2, then e = a * b, d = e + c and
            L = d * f (so L = -8). `ex.draw()` shows it, with a in red.

            What is dL/da? Give a number: `ex.check(...)`.
            """,
            _lecture_L,
            ["Work backwards from L: dL/dL = 1. What is dL/dd? (L = d * f.)",
             "A + passes its gradient on unchanged: dL/de = dL/dd.",
             "e = a * b, so de/da = b. Multiply it by dL/de."],
            "dL/da = dL/dd * dd/de * de/da = f * 1 * b = (-2) * (-3) = 6.",
            [Mistake("forgot-local", lambda root, node: _named(root, "f").data,
                     "{answer} is dL/de: the gradient that reaches e. One more step: multiply by de/da = b.")],
        ),
        PredictGradient(
            "grad-2", "A node used twice",
            """
            a = 3, b = -2, c = a * b, L = c + a. Note that a is used twice: once in c, once in L.

            What is dL/da?
            """,
            _used_twice,
            ["a reaches L along two paths: through c, and directly.",
             "Each path gives a term: dL/dc * dc/da, and dL/dL * dL/da along the direct edge.",
             "The terms add: that is why backward() uses +=."],
            "Through c: dL/dc * dc/da = 1 * b = -2. Directly: 1. They add: -2 + 1 = -1.",
        ),
        PredictGradient(
            "grad-3", "a + a",
            """
            a = 3, y = a + a, L = y * y. (karpathy/micrograd issue 64: with `=` instead of `+=` in
            the backward pass this comes out wrong.)

            What is dL/da?
            """,
            _a_plus_a,
            ["First dL/dy: L = y * y, so dL/dy = 2y.",
             "y = a + a uses a twice: as the first operand and as the second.",
             "Each operand's edge carries dL/dy * 1; add them."],
            "dL/dy = 2y = 12; y = a + a has two edges from a, each carrying 12: dL/da = 12 + 12 = 24.",
        ),
        PredictGradient(
            "grad-4", "Through a tanh neuron",
            """
            The lecture's neuron: x1 = 2, w1 = -3, x2 = 0, w2 = 1, b = 6.8814, n = x1*w1 + x2*w2 + b
            and o = tanh(n) (so n = 0.8814 and o = 0.7071).

            What is do/dw1?
            """,
            _tanh_neuron,
            ["d tanh(n)/dn = 1 - tanh(n)², and tanh(n) is o.",
             "do/dn = 1 - 0.7071² = 0.5. The + nodes pass it on to x1w1.",
             "x1w1 = x1 * w1: d(x1w1)/dw1 = x1."],
            "do/dn = 1 - o² = 0.5; the + nodes pass 0.5 to x1w1; d(x1w1)/dw1 = x1 = 2: do/dw1 = 0.5 * 2 = 1.",
            [Mistake("tanh-of-n", _tanh_with_n_squared,
                     "You used 1 - n² for tanh's derivative; it is 1 - tanh(n)² = 1 - o², with o = 0.7071."),
             Mistake("tanh-unsquared", _tanh_unsquared,
                     "You used 1 - o; tanh's derivative is 1 - o², o squared.")],
        ),
        PredictGradient(
            "grad-5", "The gradient of a squared error with respect to its target",
            """
            A prediction x = 3 and a target t = 5: e = x - t, L = e ** 2. (micrograd computes x - t as
            x + neg_t with neg_t = t * -1, as the drawing shows.)

            What is dL/dt?
            """,
            _squared_error,
            ["dL/de = 2e, and e = -2.",
             "e = x - t is x + (-1) * t: de/dt = -1.",
             "Multiply: dL/dt = dL/de * de/dt."],
            "dL/de = 2e = -4; de/dt = -1; dL/dt = (-4) * (-1) = 4.",
            [Mistake("wrong-variable", _derivative_of_x_squared,
                     "{answer} is 2x, the derivative of x²; L is (x - t)², and the question is about t.")],
        ),
        PredictGradient(
            "grad-6", "A relu that is off",
            """
            w = 2, x = -1, n = w * x + 0.5, r = relu(n), L = r + w.

            What is dL/dw?
            """,
            _dead_relu,
            ["w is used twice: in n, and directly in L.",
             "n = -1.5: what is relu's derivative at a negative input?",
             "relu'(n) = 0 for n < 0: the path through r carries nothing."],
            "The path through n carries relu'(-1.5) = 0; the direct edge carries 1: dL/dw = 0 + 1 = 1.",
            [Mistake("relu-let-through", _relu_let_through,
                     "You let the gradient through the relu, but its input n = -1.5 is negative: relu'(n) = 0,"
                     " so only the direct path counts.")],
        ),
    ]
