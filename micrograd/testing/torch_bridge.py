"""Check a graph against PyTorch: `to_torch` rebuilds it there, `compare_with_torch` compares gradients.

PyTorch is an independent engine: its derivatives were written by other people, in other
code. So when a graph built here and the same graph built there give the same gradients,
the chain rule and every derivative on the way are confirmed at once, for the whole graph
(gradcheck confirms them against finite differences, to about 1e-8; PyTorch in float64
agrees to the last few bits).

The translation reads only the forward formula of each op: `TORCH_FORWARDS` maps every
`Primitive` of the engine to the same formula written with tensor methods (`x.tanh()`,
`x ** y`), and PyTorch differentiates it. There is no second table of derivatives here.

    from micrograd import Value, compare_with_torch, to_torch

    a, b = Value(2.0, label="a"), Value(-3.0, label="b")
    loss = (a * b).tanh() + a ** 2
    root, leaves = to_torch(loss)          # a float64 tensor; {a: tensor(2.), b: tensor(-3.)}
    print(compare_with_torch(loss))        # a table: each leaf's gradient by both, and the difference

PyTorch is an optional extra (`pip install "micrograd-lab[torch]"`); it is imported by the
functions that use it, so importing this module does not import it.
"""

from __future__ import annotations

import html
import math
from dataclasses import dataclass
from typing import Any, Callable, Dict, Iterable, Iterator, List, Mapping, NamedTuple, Optional, Tuple, Union, overload

from ..arguments import finite_float
from ..engine import (
    ABS,
    ADD,
    AFFINE,
    COS,
    EXP,
    LEAKY_RELU,
    LOG,
    MUL,
    POW,
    RELU,
    SIGMOID,
    SIN,
    SOFTPLUS,
    TANH,
    Primitive,
    Value,
    grad,
    topological_order,
)

__all__ = ["TORCH_FORWARDS", "GradientRow", "TorchComparison", "TorchGraph", "compare_with_torch", "to_torch"]

Tensor = Any  # torch.Tensor: PyTorch is optional, so its types are not required to check this module
TorchForward = Callable[..., Tensor]
Names = Union[Mapping[Value, str], Mapping[str, Value], Iterable[Tuple[str, Value]]]


def _affine(*args: Tensor) -> Tensor:
    """b + w0*x0 + w1*x1 + ... for args = (w0..wn-1, x0..xn-1, b), summed in the engine's order."""
    n = len(args) // 2
    z = args[-1]
    for w, x in zip(args[:n], args[n:2 * n]):
        z = z + w * x
    return z


# Each engine op's forward formula, on tensors (every operand, constants included, arrives as a
# float64 tensor). The formulas are the engine's, so the values agree to the last bit or two and
# PyTorch's derivatives of them are the true ones: where the engine's formula has a kink that the
# function has not, another formula of the same function is used (softplus is logaddexp(x, 0),
# the engine's max(x, 0) + log1p(exp(-|x|)), without the kinks of max and abs at 0). Your own
# ops are translated with `ops=` (see `to_torch`), not by adding to this table.
TORCH_FORWARDS: Dict[Primitive, TorchForward] = {
    ADD: lambda a, b: a + b,
    MUL: lambda a, b: a * b,
    POW: lambda x, y: x ** y,
    EXP: lambda x: x.exp(),
    LOG: lambda x: x.log(),
    TANH: lambda x: x.tanh(),
    SIGMOID: lambda x: x.sigmoid(),
    SOFTPLUS: lambda x: x.logaddexp(x.new_zeros(())),
    SIN: lambda x: x.sin(),
    COS: lambda x: x.cos(),
    RELU: lambda x: x.relu(),  # relu'(0) = 0 in both engines
    LEAKY_RELU: lambda x, a: x.where(x > 0, a * x),  # x if x > 0 else a * x: slope a at 0 in both
    ABS: lambda x: x.abs(),  # |x|'(0) = 0 in both
    AFFINE: _affine,
}


def _import_torch(who: str) -> Any:
    try:
        import torch
    except ImportError as e:
        raise ImportError(f'{who} needs PyTorch: pip install "micrograd-lab[torch]"') from e
    return torch


# ---------------------------------------------------------------------------------------
# to_torch
# ---------------------------------------------------------------------------------------

class TorchGraph(NamedTuple):
    """What `to_torch` returns: the root as a PyTorch tensor, and each leaf's tensor.

    It unpacks: `root, leaves = to_torch(loss)`. `leaves` maps every leaf Value of the graph
    (an input, a parameter) to its 0-dimensional float64 tensor with `requires_grad=True`,
    in graph order (`topological_order`), each leaf once however often it is used.
    """

    root: Tensor
    leaves: Dict[Value, Tensor]


def to_torch(root: Value, *, ops: Optional[Mapping[Primitive, TorchForward]] = None) -> TorchGraph:
    """Rebuild `root`'s graph in PyTorch, op for op, in float64.

    Every leaf Value becomes a fresh 0-dimensional tensor holding its current `.data`, with
    `requires_grad=True`; every other node is its op's forward formula (`TORCH_FORWARDS`)
    applied to the tensors of its operands (constants, such as the 2 of `x * 2`, become
    tensors without gradients). So `to_torch(loss).root.backward()` gives PyTorch's own
    gradients in `.grad` of each tensor in `leaves`. Nothing of the micrograd graph changes.

    `ops` translates your own ops (`micrograd.primitive`): a mapping from each such
    Primitive to its forward formula on tensors, `{cube: lambda x: x ** 3}`.

    Raises TypeError for a root that is not a Value; ValueError naming the node for a node
    whose forward formula is unknown: a node built by hand, the lecture's way
    (`Value(data, children, op)` with its own `_backward`), or an op with no translation;
    ImportError when PyTorch is not installed.
    """
    return _to_torch(root, ops, "to_torch")


def _to_torch(root: Value, ops: Optional[Mapping[Primitive, TorchForward]], who: str) -> TorchGraph:
    if not isinstance(root, Value):
        raise TypeError(f"{who} needs a Value, got {type(root).__name__}: {root!r}")
    forwards = _forwards(ops, who)
    order = topological_order(root)
    for node in order:  # every node is checked before PyTorch is imported or anything is built
        if not node.is_leaf:
            _forward_of(node, forwards, who)
    torch = _import_torch(who)
    f64 = torch.float64
    tensors: Dict[Value, Tensor] = {}
    leaves: Dict[Value, Tensor] = {}
    with torch.enable_grad():  # a caller's `torch.no_grad()` would leave nothing to differentiate
        for node in order:
            if node.is_leaf:
                t = leaves[node] = torch.tensor(node.data, dtype=f64, requires_grad=True)
            else:
                operands = [tensors[a] if isinstance(a, Value) else torch.tensor(a, dtype=f64) for a in node.operands]
                t = _apply(_forward_of(node, forwards, who), operands, node, who, torch)
            tensors[node] = t
    return TorchGraph(tensors[root], leaves)


def _apply(forward: TorchForward, operands: List[Tensor], node: Value, who: str, torch: Any) -> Tensor:
    """One node's formula on its operands' tensors; a translation that fails or gives anything but
    one float64 number (a translation passed in `ops`, most likely) is reported with the node."""
    try:
        t = forward(*operands)
    except (RuntimeError, TypeError, ValueError, ArithmeticError, AttributeError) as e:  # PyTorch's, or the formula's
        numbers = ", ".join(repr(x.item()) for x in operands)
        raise type(e)(f"{who}: the PyTorch translation of {_node_name(node)} failed on ({numbers}): {e}") from e
    if not isinstance(t, torch.Tensor) or t.shape != () or t.dtype != torch.float64:
        raise TypeError(f"{who}: the PyTorch translation of {_node_name(node)} must give a 0-dimensional float64"
                        f" tensor, got {type(t).__name__}: {t!r}")
    return t


def _forwards(ops: Optional[Mapping[Primitive, TorchForward]], who: str) -> Mapping[Primitive, TorchForward]:
    if ops is None:
        return TORCH_FORWARDS
    if not isinstance(ops, Mapping):
        raise TypeError(f"{who} ops must be a mapping from Primitive to a function on tensors, got"
                        f" {type(ops).__name__}: {ops!r}")
    for op, fn in ops.items():
        if not isinstance(op, Primitive):
            raise TypeError(f"{who} ops keys must be Primitives (made with micrograd.primitive), got"
                            f" {type(op).__name__}: {op!r}")
        if not callable(fn):
            raise TypeError(f"{who} ops[{op.name!r}] must be a function on tensors, got {type(fn).__name__}: {fn!r}")
    return {**TORCH_FORWARDS, **ops}


def _forward_of(node: Value, forwards: Mapping[Primitive, TorchForward], who: str) -> TorchForward:
    """The tensor formula of a non-leaf node's op, or an error naming the node."""
    op = node.primitive
    if op is None:  # made as Value(data, children, op), its derivative (if any) in a hand-written _backward
        raise ValueError(
            f"{who} cannot translate {_node_name(node)}: it was built by hand, the lecture's way"
            " (Value(data, children, op) and a _backward of its own), so its forward formula is unknown."
            " Write the op with micrograd.primitive and pass its formula on tensors as"
            f" {who}(..., ops={{your_op: lambda x: ...}})"
        )
    try:
        return forwards[op]
    except KeyError:
        raise ValueError(
            f"{who} has no PyTorch translation for the op {op.name!r} of {_node_name(node)}: pass its"
            f" forward formula on tensors as {who}(..., ops={{{op.name}: lambda *tensors: ...}})"
        ) from None


def _node_name(node: Value) -> str:
    label = f" {node.label!r}" if node.label else ""
    return f"the {node.op or 'unnamed'!r} node{label} (data {node.data!r})"


# ---------------------------------------------------------------------------------------
# compare_with_torch
# ---------------------------------------------------------------------------------------

@dataclass(frozen=True)
class GradientRow:
    """One leaf's gradient by both engines.

    `name` is the leaf's label (or the name given in `names=`; 'leaf 3', the 4th leaf in
    graph order, when it has neither); `ours` is d root / d leaf from micrograd's backward
    pass, `torch` the same from PyTorch's; `abs_diff` = |ours - torch| and `rel_diff` =
    abs_diff / max(|ours|, |torch|), 0 when both are 0.
    """

    name: str
    leaf: Value
    ours: float
    torch: float
    abs_diff: float
    rel_diff: float


class TorchComparison:
    """What `compare_with_torch` found: the root's value and every leaf's gradient by both
    engines, with their differences.

    `rows` holds one `GradientRow` per leaf, in graph order; the comparison iterates over
    them, `len()` counts them, and `comparison["w"]` (a name) or `comparison[0]` picks one.
    `max_rel_diff` and `max_abs_diff` are the largest differences over the leaves; `value`,
    `torch_value` and `value_rel_diff` compare the root's value itself. `str()` is a text
    table; in Jupyter it shows as an HTML table. Long tables show the leaves that differ most.
    """

    SHOWN = 20  # rows shown in a table before it shows only the leaves that differ most

    def __init__(self, value: float, torch_value: float, rows: Iterable[GradientRow]) -> None:
        self.value = value
        self.torch_value = torch_value
        self.value_rel_diff = _rel_diff(value, torch_value)
        self.rows: Tuple[GradientRow, ...] = tuple(rows)
        self.max_rel_diff = max((r.rel_diff for r in self.rows), default=0.0)
        self.max_abs_diff = max((r.abs_diff for r in self.rows), default=0.0)
        self._by_name = {r.name: r for r in self.rows}

    def __iter__(self) -> Iterator[GradientRow]:
        return iter(self.rows)

    def __len__(self) -> int:
        return len(self.rows)

    @overload
    def __getitem__(self, key: int) -> GradientRow: ...

    @overload
    def __getitem__(self, key: str) -> GradientRow: ...

    def __getitem__(self, key: Union[int, str]) -> GradientRow:
        if isinstance(key, str):
            try:
                return self._by_name[key]
            except KeyError:
                some = ", ".join(repr(n) for n in list(self._by_name)[:8]) + (", ..." if len(self) > 8 else "")
                raise KeyError(f"no leaf named {key!r}; the leaves are {some}") from None
        return self.rows[key]

    def agrees(self, rtol: float = 1e-9, atol: float = 1e-12) -> bool:
        """Whether every gradient and the root's value agree: |ours - torch| <= atol + rtol * |torch|."""
        return not self._disagreeing(rtol, atol)

    def assert_close(self, rtol: float = 1e-9, atol: float = 1e-12) -> None:
        """Raise AssertionError, naming each leaf (and the root's value) whose numbers
        differ by more than atol + rtol * |torch|; return None when all agree."""
        __tracebackhide__ = True  # pytest: show the failing test, not this helper
        wrong = self._disagreeing(rtol, atol)
        if wrong:
            raise AssertionError(
                f"micrograd and PyTorch disagree beyond atol {atol!r} + rtol {rtol!r} * |torch| on"
                f" {len(wrong)} of {len(self) + 1} numbers:\n" + "\n".join(f"  {w}" for w in wrong[:20])
                + ("\n  ..." if len(wrong) > 20 else "")
            )

    def _disagreeing(self, rtol: float, atol: float) -> List[str]:
        for what, tolerance in (("rtol", rtol), ("atol", atol)):
            if finite_float(tolerance, f"compare_with_torch {what}") < 0:
                raise ValueError(f"compare_with_torch {what} must be 0 or more, got {tolerance!r}")

        def off(ours: float, torch: float) -> bool:
            return not abs(ours - torch) <= atol + rtol * abs(torch)  # a NaN never agrees

        wrong = []
        if off(self.value, self.torch_value):
            wrong.append(f"the root's value: micrograd {self.value!r}, PyTorch {self.torch_value!r}")
        wrong += [f"d root / d {r.name}: micrograd {r.ours!r}, PyTorch {r.torch!r} (relative difference"
                  f" {r.rel_diff:.1e})" for r in self.rows if off(r.ours, r.torch)]
        return wrong

    # --- display ---------------------------------------------------------------------------

    def summary(self) -> str:
        """One sentence: how many leaves, the largest relative difference and where, the root's value."""
        text = f"micrograd vs PyTorch (float64), {len(self)} lea{'f' if len(self) == 1 else 'ves'}: "
        if self.rows and self.max_rel_diff == 0.0:
            text += "every gradient is the same in both; "
        elif self.rows:
            worst = max(self.rows, key=lambda r: r.rel_diff)
            text += f"the gradients differ by at most {_diff(self.max_rel_diff)} (relative, at {worst.name}); "
        if self.value == self.torch_value:
            return text + f"the root's value is {self.value!r} in both"
        return text + (f"the root's value is {self.value!r} here, {self.torch_value!r} in PyTorch"
                       f" (relative difference {_diff(self.value_rel_diff)})")

    def _shown(self) -> Tuple[str, List[GradientRow]]:
        if len(self) <= self.SHOWN:
            return "", list(self.rows)
        if self.max_rel_diff == 0.0:
            return f"the first {self.SHOWN} of {len(self)} leaves (all of them in .rows)", list(self.rows[: self.SHOWN])
        worst = sorted(self.rows, key=lambda r: -r.rel_diff)[: self.SHOWN]  # stable: ties stay in graph order
        return f"the {self.SHOWN} of {len(self)} leaves that differ most (all of them in .rows)", worst

    def _cells(self, rows: List[GradientRow]) -> List[List[str]]:
        return [[r.name, repr(r.leaf.data), repr(r.ours), repr(r.torch), _diff(r.abs_diff), _diff(r.rel_diff)]
                for r in rows]

    HEADER = ["leaf", "data", "micrograd grad", "torch grad", "abs diff", "rel diff"]

    def __str__(self) -> str:
        note, rows = self._shown()
        cells = [self.HEADER, *self._cells(rows)]
        widths = [max(len(row[i]) for row in cells) for i in range(len(self.HEADER))]

        def line(row: List[str]) -> str:  # names left-aligned, numbers right-aligned
            return "  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths))).rstrip()

        table = [line(cells[0]), "  ".join("-" * w for w in widths), *map(line, cells[1:])]
        return "\n".join([self.summary(), *([note] if note else []), *table])

    def _repr_html_(self) -> str:
        note, rows = self._shown()
        head = "".join(f"<th>{html.escape(h)}</th>" for h in self.HEADER)
        body = "".join(
            "<tr>" + "".join(f'<td style="text-align:{"left" if i == 0 else "right"}">{html.escape(c)}</td>'
                             for i, c in enumerate(row)) + "</tr>"
            for row in self._cells(rows)
        )
        caption = html.escape(self.summary()) + (f"<br><i>{html.escape(note)}</i>" if note else "")
        return (f"<table><caption style=\"text-align:left\">{caption}</caption>"
                f"<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>")

    def __repr__(self) -> str:
        return f"<TorchComparison: {len(self)} leaves, max_rel_diff={self.max_rel_diff:.1e}>"


def compare_with_torch(root: Value, *, names: Optional[Names] = None,
                       ops: Optional[Mapping[Primitive, TorchForward]] = None) -> TorchComparison:
    """Differentiate `root` with micrograd and with PyTorch, and compare every leaf's gradient.

    PyTorch's side is `to_torch(root)` and its `backward()`. micrograd's side is the ordinary
    backward pass (through `micrograd.grad`, the same chain rule as `root.backward()`), run with
    every gradient set aside first and put back afterwards: like `gradcheck`, the comparison
    leaves every `.grad` (and `.data`) as it found it, so it can be called at any point of a
    training loop, between `zero_grad()` and `backward()` or after them, without adding a
    second gradient into the parameters. The gradients compared are d root / d leaf of this
    one pass, not what earlier passes accumulated. PyTorch reads the leaves' current `.data`:
    if one was changed after the graph was built, the root's values differ (`value_rel_diff`),
    and the graph should be built again.

    `names` names the leaves in the report: a mapping Value -> name (or name -> Value, such as
    `dict(model.named_parameters())`), or (name, Value) pairs such as
    `model.named_parameters()`; otherwise a leaf is named by its label, or by its
    position in graph order ('leaf 3'). `ops` translates your own ops, as for `to_torch`.

    Returns a `TorchComparison` (a table in Jupyter, text from `print`; `.rows`,
    `.max_rel_diff`, `.assert_close()`). Raises what `to_torch` raises, and what
    `backward()` raises (such as NonFiniteError) when micrograd's own pass fails.
    """
    if not isinstance(root, Value):
        raise TypeError(f"compare_with_torch needs a Value, got {type(root).__name__}: {root!r}")
    given = _names(names)
    graph = _to_torch(root, ops, "compare_with_torch")
    leaves = list(graph.leaves)
    ours = [g.data for g in grad(root, leaves)] if leaves else []
    graph.root.backward()
    torch_grads = [0.0 if t.grad is None else float(t.grad) for t in graph.leaves.values()]
    labels = _leaf_names(leaves, given)
    rows = [GradientRow(name, leaf, a, b, abs(a - b), _rel_diff(a, b))
            for name, leaf, a, b in zip(labels, leaves, ours, torch_grads)]
    return TorchComparison(root.data, float(graph.root.detach()), rows)


def _names(names: Optional[Names]) -> Dict[Value, str]:
    if names is None:
        return {}
    try:
        items = list(names.items()) if isinstance(names, Mapping) else [(v, n) for n, v in names]
        # dict(model.named_parameters()) maps names to Values: take either direction
        pairs = [(b, a) if isinstance(a, str) and isinstance(b, Value) else (a, b) for a, b in items]
    except (TypeError, ValueError):  # not iterable, or not pairs
        raise TypeError("compare_with_torch names must map Values to str names, or be (name, Value) pairs such as"
                        f" model.named_parameters(), got {names!r}") from None
    for value, name in pairs:
        if not isinstance(value, Value) or not isinstance(name, str):
            raise TypeError(
                "compare_with_torch names must map Values to str names, or be (name, Value) pairs such as"
                f" model.named_parameters(), got the pair {name!r}: {value!r}"
            )
    return dict(pairs)


def _leaf_names(leaves: List[Value], given: Dict[Value, str]) -> List[str]:
    """Each leaf's name: given, else its label, else 'leaf i'; a repeated name gets its position too."""
    names = [given.get(leaf) or leaf.label or f"leaf {i}" for i, leaf in enumerate(leaves)]
    counts: Dict[str, int] = {}
    for n in names:
        counts[n] = counts.get(n, 0) + 1
    return [n if counts[n] == 1 else f"{n} (leaf {i})" for i, n in enumerate(names)]


def _rel_diff(a: float, b: float) -> float:
    scale = max(abs(a), abs(b))
    if scale == 0.0:
        return 0.0
    d = abs(a - b) / scale
    return d if not math.isnan(d) else math.inf  # a NaN or inf on one side: as different as can be


def _diff(x: float) -> str:
    return "0" if x == 0.0 else f"{x:.1e}"
