"""The worked chain-rule calculation behind a gradient: `explain(node, root)`.

After `root.backward()`, `node.grad` is d root / d node. The chain rule made it as a sum
with one term per use of `node` (one per edge into a node that consumes it):

    dL/da = sum over consumers c of  dL/dc * dc/da

`explain` lists those terms with the numbers the backward pass used, in the order it
added them, so their sum is `node.grad` to the last bit; writes each local derivative
dc/da from the op's one written derivative, as a formula and with the numbers; and checks
the result against a central difference, re-evaluating the graph forward with the ops'
own forward formulas. Print it in a terminal, or show it in Jupyter (Markdown and LaTeX).

    >>> from micrograd import Value
    >>> a, b = Value(2.0, label="a"), Value(-3.0, label="b")
    >>> L = a * b + a
    >>> L.label = "L"
    >>> L.backward()
    >>> e = explain(a, L)
    >>> [t.amount for t in e.terms], e.total == a.grad
    ([-3.0, 1.0], True)
"""

from __future__ import annotations

import re
from typing import Callable, Dict, List, Optional, Sequence, Tuple

from .engine import Value, topological_order
from .numeric import EPS, central_difference
from .symbolic import Expr, Symbol, format_number, latex_name, lift

__all__ = ["explain", "Explanation", "Term", "Computation", "node_names"]

GradOf = Callable[[Value], float]

_WORDS = {"+": "add", "*": "mul", "affine": "affine", "ReLU": "relu"}  # op -> a name for unlabelled nodes


class Term:
    """One use of the explained node: the edge from it into `consumer`.

    Attributes:
        consumer: the node c that uses it.
        position: which of c's operands it is (0 for the first).
        upstream: dL/dc, c's gradient, as the chain rule pushed it.
        local: dc/dnode, the local derivative (None when c's `_backward` is hand-written,
            or when c is skipped: the pass did not evaluate it).
        amount: what this use added to the node's gradient: `local * upstream`, the same
            multiplication the backward pass did (for a hand-written `_backward`, what it
            added, read off by running it again on a scratch copy of the gradients).
        formula: dc/dnode as a formula from the op's written derivative (None when the
            derivative is hand-written, or cannot be written out symbolically).
        skipped: c's gradient is 0, so the backward pass skipped it: it added nothing.
        hand_written: c was built the lecture's way, with its own `_backward`.
    """

    __slots__ = ("consumer", "position", "upstream", "local", "amount", "formula", "skipped", "hand_written",
                 "_made")

    def __init__(self, consumer: Value, position: int, upstream: float, local: Optional[float], amount: float,
                 formula: Optional[Expr], skipped: bool, made: Value) -> None:
        self.consumer = consumer
        self.position = position
        self.upstream = upstream
        self.local = local
        self.amount = amount
        self.formula = formula
        self.skipped = skipped
        self.hand_written = made.primitive is None
        self._made = made  # the consumer as the view shows it (a fused neuron's last `+` in the lecture's)

    def __repr__(self) -> str:
        return (f"Term(consumer={self.consumer!r}, position={self.position}, upstream={self.upstream!r},"
                f" local={self.local!r}, amount={self.amount!r})")


class Explanation:
    """How the chain rule computed `node.grad` for `root` (made by `explain`).

    Attributes:
        node, root: the node explained and the output it is differentiated from.
        terms: one `Term` per use of `node`, in the order the backward pass added them.
        total: the sum of the terms' amounts, added in that order from 0.0: `node.grad`
            bit for bit for an interior node; for a leaf, what this pass added to it
            (its `grad` itself when it was 0 before, as after `zero_grad()`).
        grad: `node.grad` as it stands.
        numeric: the central-difference estimate of d root / d node, or None (see
            `numeric_reason`).
        numeric_reason: why there is no estimate ("" when there is one).
        eps: the step of the central difference.
        view: "engine" or "lecture", the graph the terms walk.
    """

    def __init__(self, node: Value, root: Value, terms: List[Term], total: float, grad: float,
                 numeric: Optional[float], numeric_reason: str, names: Dict[Value, str], view: str,
                 precision: int) -> None:
        self.node = node
        self.root = root
        self.terms = terms
        self.total = total
        self.grad = grad
        self.numeric = numeric
        self.numeric_reason = numeric_reason
        self.eps = EPS
        self.view = view
        self._names = names
        self._precision = precision

    def name(self, node: Value) -> str:
        """The name a node goes by in this explanation: its label, or its op and a number."""
        return self._names[node]

    # --- plain text -----------------------------------------------------------------------

    def __str__(self) -> str:
        n, r = self.name(self.node), self.name(self.root)
        f = self._number
        lines = [f"d{r}/d{n} = {f(self.total)}    ({n} = {f(self.node.data)}, {self._kind()})"]
        if self.node is self.root:
            lines.append(f"  {r} is the root: the backward pass starts from d{r}/d{r} = 1.")
        elif not self.terms:
            lines.append(f"  {n} is not used by any node on the way to {r}.")
        else:
            used = "once" if len(self.terms) == 1 else f"{len(self.terms)} times; the chain rule adds one term per use"
            lines.append(f"  {n} is used {used}:")
            for i, t in enumerate(self.terms, 1):
                lines.extend(self._term_text(i, t))
            added_up = [t for t in self.terms if not t.skipped]
            if len(added_up) > 1:
                added = " + ".join(_paren(f(t.amount)) for t in added_up)
                lines.append(f"  total: d{r}/d{n} = {added} = {f(self.total)}")
            if all(t.skipped or t.amount == 0.0 for t in self.terms):
                lines.append(f"  every path from {n} to {r} carries gradient 0, so d{r}/d{n} is 0.")
        if self.total != self.grad:
            lines.append(f"  ({n}.grad is {f(self.grad)}: a leaf keeps what earlier passes added.)")
        lines.append(self._numeric_text())
        return "\n".join(lines)

    def _term_text(self, i: int, t: Term) -> List[str]:
        n, r, c = self.name(self.node), self.name(self.root), self.name(t.consumer)
        f = self._number
        twice = sum(1 for u in self.terms if u.consumer is t.consumer) > 1
        head = f"  {i}. via {c} = {self._expression(t._made)}" + (f" (as operand {t.position + 1})" if twice else "")
        if t.skipped:
            return [head, f"       d{r}/d{c} = 0: the pass skips {c}, so this use adds nothing"]
        if t.hand_written or t.local is None:
            return [head, f"       {c} has a hand-written _backward; it added {f(t.amount)}"
                          f" (d{r}/d{c} = {f(t.upstream)})"]
        p = _paren
        lines = [head, f"       d{r}/d{c} * d{c}/d{n} = {p(f(t.upstream))} * {p(f(t.local))} = {f(t.amount)}"]
        if t.formula is not None:
            shown, numbers = t.formula.text(precision=self._precision), t.formula.text(True, self._precision)
            steps = [shown] + ([numbers] if numbers != shown else []) + ([f(t.local)] if f(t.local) != numbers else [])
            lines.append(f"       d{c}/d{n} = d({self._expression(t._made)})/d{n} = {' = '.join(steps)}")
        return lines

    def _numeric_text(self) -> str:
        if self.numeric is None:
            return f"  numeric check: none ({self.numeric_reason})"
        gap = abs(self.numeric - self.total)
        return (f"  numeric check: the central difference (h = {self.eps:g}) gives {self.numeric:.12g},"
                f" {gap:.1e} from the chain rule's {self.total!r}")

    def _kind(self) -> str:
        if not self.node.parents:
            return "a leaf"
        return f"made by {self.node.op}" if self.node.op else "a node built by hand"

    def _number(self, x: float) -> str:
        return format_number(x, self._precision)

    def _expression(self, node: Value) -> str:
        """How a node was computed, in its parents' names: `a * b`, `tanh(n)`, `x * 2`."""
        return _expression(node, self._names, self._precision)

    # --- Jupyter ---------------------------------------------------------------------------

    def _repr_markdown_(self) -> str:
        n, r = latex_name(self.name(self.node)), latex_name(self.name(self.root))
        f = self._number
        d = _partial
        lines = [f"${d(r, n)} = {f(self.total)}$ &nbsp; (${n} = {f(self.node.data)}$, {self._kind()})", ""]
        for i, t in enumerate(self.terms, 1):
            c = latex_name(self.name(t.consumer))
            via = f"{i}. via ${c} = {_latex_expression(t._made, self._names)}$: "
            if t.skipped:
                lines.append(via + f"${d(r, c)} = 0$, so this use adds nothing")
            elif t.hand_written or t.local is None:
                lines.append(via + f"a hand-written `_backward` added ${f(t.amount)}$")
            else:
                up, local = _paren(f(t.upstream)), _paren(f(t.local))
                math = f"{d(r, c)} \\cdot {d(c, n)} = {up} \\cdot {local} = {f(t.amount)}"
                if t.formula is not None:
                    steps = [t.formula.latex(precision=self._precision), t.formula.latex(True, self._precision),
                             f(t.local)]
                    math += f", \\quad {d(c, n)} = {' = '.join(dict.fromkeys(steps))}"  # `a = 2`, not `a = 2 = 2`
                lines.append(via + f"${math}$")
        added_up = [t for t in self.terms if not t.skipped]
        if len(added_up) > 1:
            added = " + ".join(_paren(f(t.amount)) for t in added_up)
            lines += ["", f"total: ${d(r, n)} = {added} = {f(self.total)}$"]
        lines += ["", self._numeric_text().strip()]
        return "\n".join(lines)

    def __repr__(self) -> str:
        return f"Explanation(node={self.name(self.node)!r}, root={self.name(self.root)!r}, total={self.total!r})"


def explain(node: Value, root: Value, *, view: str = "engine", precision: int = 4) -> Explanation:
    """Explain `node.grad` as the chain rule computed it for `root` (call after `root.backward()`).

    Args:
        node: any node of `root`'s graph: a leaf, an interior node, `root` itself.
        root: the node `backward()` was called on.
        view: "engine" walks the engine's graph (a fused neuron is one `affine` op with one
            local derivative per parent); "lecture" walks micrograd 0.1.0's graph (`_prev`:
            constants as leaves, a neuron as `*` and `+` nodes).
        precision: significant digits of the numbers shown (the attributes are exact).

    Nothing is recomputed but the local derivatives of the edges out of `node` and, for the
    numeric check, the part of the forward pass that depends on `node`.
    """
    for what, x in (("node", node), ("root", root)):
        if not isinstance(x, Value):
            raise TypeError(f"explain needs a Value {what}, got {type(x).__name__}: {x!r}")
    if view not in ("engine", "lecture"):
        raise ValueError(f"explain view must be 'engine' or 'lecture', got {view!r}")
    if root.parents and root.grad != 1.0:
        raise ValueError(
            f"explain reads the gradients of root's last backward pass, but root.grad is {root.grad!r}, not 1:"
            " call root.backward() first (and explain against the node you called it on)"
        )
    order = topological_order(root, view=view)
    return _explain(node, root, order, lambda v: v.grad, view, precision)


class Computation:
    """How the forward pass computed a node's value: `d = e + c = -6 + 10 = 4`.

    Made by `ForwardStep.explanation` (`names` from `node_names(order)`); the forward
    counterpart of `Explanation`. `str()` is the plain-text line; Jupyter shows it as math.

    Attributes:
        node: the node computed.
        expression: how it was computed, in its operands' names (`e + c`; "" for a leaf).
        numbers: the same with the operands' values at the moment (`-6 + 10`; "" for a leaf).
        value: the result, `node.data`.
    """

    def __init__(self, node: Value, names: Dict[Value, str], precision: int = 4) -> None:
        self.node = node
        self.value = node.data
        self._name = names.get(node, "leaf")
        self._precision = precision
        if node.parents:
            self.expression = _expression(node, names, precision)
            # infix ops write a negative operand in parentheses, (-3) * 0.5; a call needs none, tanh(-0.5)
            infix = node.op in ("+", "*", "affine") or "**" in node.op
            values = {a: (_paren if infix else str)(format_number(a.data, precision)) for a in node.parents}
            self.numbers = _expression(node, values, precision)
        else:
            self.expression = self.numbers = ""
        self._latex = _latex_expression(node, names) if node.parents else ""

    def __str__(self) -> str:
        n, value = self._name, format_number(self.value, self._precision)
        if not self.node.parents:
            return f"{n} = {value}    (a leaf: its value is given, nothing is computed)"
        kind = f"op {self.node.op}" if self.node.primitive is not None else "a node built by hand"
        return f"{n} = {self.expression} = {self.numbers} = {value}    ({kind})"

    def _repr_markdown_(self) -> str:
        n, value = latex_name(self._name), format_number(self.value, self._precision)
        if not self.node.parents:
            return f"${n} = {value}$ &nbsp; (a leaf: its value is given)"
        if re.fullmatch(r"[A-Za-z_]\w*\(.*\)", self.expression):  # a call, tanh(n): an operator
            symbols, numbers = latex_name(self.expression), latex_name(self.numbers)
        else:
            symbols, numbers = self._latex, self.numbers.replace(" * ", r" \cdot ").replace("*", r" \cdot ")
        return f"${n} = {symbols} = {numbers} = {value}$"

    def __repr__(self) -> str:
        return f"Computation(node={self._name!r}, value={self.value!r})"


AddedByHand = Callable[[Value, Value], float]


def explain_step(node: Value, root: Value, order: Sequence[Value], grad_of: GradOf, precision: int = 4, *,
                 added_by_hand: Optional[AddedByHand] = None) -> Explanation:
    """`explain` for a moment of a stepped pass: `grad_of(v)` gives each node's gradient at
    that moment (used by `BackwardStep.explanation`). `order` is `topological_order(root)`.
    `added_by_hand(made, parent)` gives what a hand-written `_backward` added to `parent` in
    that pass, as recorded when it ran (without it, the `_backward` is run again on scratch
    gradients, which is right only while its output's gradient is still this pass's)."""
    return _explain(node, root, order, grad_of, "engine", precision, added_by_hand)


def _explain(node: Value, root: Value, order: Sequence[Value], grad_of: GradOf, view: str,
             precision: int, added_by_hand: Optional[AddedByHand] = None) -> Explanation:
    position = {v: i for i, v in enumerate(order)}
    if node not in position:
        raise ValueError(
            f"explain: {node!r} is not in the graph of {root!r} ({view} view), so it has no gradient from it;"
            " pass a node that root was computed from"
        )
    names = node_names(order)
    lecture = view == "lecture"
    terms = _terms(node, order, position[node], grad_of, lecture, names, precision, added_by_hand)
    if node is root:
        total = 1.0 if node.parents else grad_of(node)
    elif lecture and node.lecture_node is node and node in set(topological_order(root)):
        # A node of the engine's own graph: the engine added its terms, in the engine's order
        # (which can differ from the lecture's when three or more uses add up).
        engine_order = topological_order(root)
        total = _sum(_terms(node, engine_order, engine_order.index(node), grad_of, False, None, precision,
                            added_by_hand))
    else:
        total = _sum(terms)
    numeric, reason = _numeric(node, root, order, lecture, names)
    return Explanation(node, root, terms, total, grad_of(node), numeric, reason, names, view, precision)


def _terms(node: Value, order: Sequence[Value], start: int, grad_of: GradOf, lecture: bool,
           names: Optional[Dict[Value, str]], precision: int,
           added_by_hand: Optional[AddedByHand] = None) -> List[Term]:
    """One term per edge out of `node`, in the order the chain rule walks (children first);
    formulas only when `names` are given."""
    terms: List[Term] = []
    for consumer in reversed(order[start + 1:]):
        made = consumer.lecture_node if lecture else consumer
        uses = [j for j, p in enumerate(made.parents) if p is node]
        if not uses:
            continue
        upstream = grad_of(consumer)
        if made.primitive is None:  # built by hand: one term, whatever it added
            added = added_by_hand(made, node) if added_by_hand is not None else _added_by_hand(made, node)
            terms.append(Term(consumer, uses[0], upstream, None, added, None, False, made))
            continue
        skipped = upstream == 0.0  # the pass skips a node with nothing to push (and adds nothing)
        local = None if skipped else made.local_grads
        for j in uses:
            formula = _formula(made, j, names, precision) if names is not None else None
            d = None if local is None else local[j]
            terms.append(Term(consumer, j, upstream, d, 0.0 if d is None else d * upstream, formula, skipped, made))
    return terms


def _sum(terms: List[Term]) -> float:
    total = 0.0  # the pass resets interior gradients to 0 and adds each term in turn
    for t in terms:
        if not t.skipped:
            total += t.amount
    return total


def _added_by_hand(made: Value, node: Value) -> float:
    """What a hand-written `_backward` adds to `node.grad`: run it once more on scratch
    gradients (its parents' gradients set to 0, then put back)."""
    parents = list(dict.fromkeys(made.parents))
    saved = [(p, p.grad) for p in parents]
    try:
        for p in parents:
            p.grad = 0.0
        made._backward()
        return float(node.grad)
    finally:
        for p, g in saved:
            p.grad = g


def node_names(order: Sequence[Value]) -> Dict[Value, str]:
    """Every node's name in an explanation: its label, or its op and a count (`tanh1`, `mul2`, `leaf3`)."""
    names: Dict[Value, str] = {}
    counts: Dict[str, int] = {}
    taken = {v.label for v in order if v.label}
    for v in order:
        if v.label:
            names[v] = v.label
            continue
        word = _WORDS.get(v.op, v.op if v.op.isidentifier() else "pow" if v.op.startswith("**") or
                          v.op.endswith("**") else "node") if v.parents else "leaf"
        while True:
            counts[word] = counts.get(word, 0) + 1
            name = f"{word}{counts[word]}"
            if name not in taken:
                break
        names[v] = name
    return names


def _expression(node: Value, names: Dict[Value, str], precision: int) -> str:
    """`a * b`, `tanh(n)`, `x * 2`, `b + w0*x0 + ...`: how a node was computed."""
    if not node.parents:
        return names.get(node, "leaf")
    shown = [names.get(a, "?") if isinstance(a, Value) else format_number(a, precision) for a in node.operands]
    op = node.op
    if op in ("+", "*"):
        return f" {op} ".join(shown)
    if op.startswith("**") or op.endswith("**") or op == "**":
        return f"{shown[0]}^{shown[1]}"
    if op == "affine":
        k = len(shown) // 2
        return " + ".join([shown[-1]] + [f"{w}*{_paren(x)}" for w, x in zip(shown[:k], shown[k:2 * k])])
    return f"{op}({', '.join(shown)})"


def _latex_expression(node: Value, names: Dict[Value, str]) -> str:
    text = _expression(node, {v: latex_name(n) for v, n in names.items()}, 4)
    return text.replace(" * ", r" \cdot ").replace("*", r" \cdot ")


def _formula(made: Value, j: int, names: Dict[Value, str], precision: int) -> Optional[Expr]:
    """d made / d operand j as a formula from the op's written derivative, or None."""
    fn = made.primitive
    if fn is None:
        return None
    args = [Symbol(names.get(a, "?"), a.data) if isinstance(a, Value) else a for a in made.operands]
    out = Symbol(_expression(made, names, precision), made.data)
    operand = [i for i, a in enumerate(made.operands) if isinstance(a, Value)][j]
    try:
        return lift(fn.derivatives(args, out, [operand])[0])
    except Exception:  # noqa: BLE001 - a user's derivative may use what symbols lack: no formula, still the numbers
        return None


def _numeric(node: Value, root: Value, order: Sequence[Value], lecture: bool,
             names: Dict[Value, str]) -> Tuple[Optional[float], str]:
    """d root / d node by a central difference: the graph re-evaluated forward from `node`
    with the ops' own forward formulas."""
    if node is root:
        return 1.0, ""
    start = order.index(node)
    downstream = [v.lecture_node if lecture else v for v in order[start + 1:]]
    shown = list(order[start + 1:])
    for made, v in zip(downstream, shown):
        if made.primitive is None and made.parents:
            return None, (f"{names[v]} has a hand-written _backward, and the engine does not know its forward"
                          " formula; make it with micrograd.primitive to have it checked")

    def root_at(x: float) -> float:
        values: Dict[Value, float] = {node: x}
        for made, v in zip(downstream, shown):
            operands = made.operands
            if any(isinstance(a, Value) and a in values for a in operands):
                numbers = [values.get(a, a.data) if isinstance(a, Value) else a for a in operands]
                values[v] = values[made] = made.primitive.forward(*numbers)  # type: ignore[union-attr]
        return values.get(root, root.data)

    try:
        return central_difference(root_at, node.data, eps=EPS), ""
    except (ArithmeticError, ValueError) as e:
        return None, f"the forward pass fails within h = {EPS:g} of {node.data!r}: {e}"


def _partial(top: str, bottom: str) -> str:
    return rf"\frac{{\partial {top}}}{{\partial {bottom}}}"


def _paren(number: str) -> str:
    return f"({number})" if number.startswith("-") else number
