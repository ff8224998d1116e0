"""Trace a graph once, replay it as straight-line Python: `compile(root) -> Program`.

The graph of a training step has the same shape every step; only the numbers change. So
`compile(loss)` walks `loss`'s graph once and writes it out as Python source, one line per
forward node and one per chain-rule step, with every local derivative *inlined from the op's
one written derivative*: each `Primitive`'s derivative is evaluated on `micrograd.symbolic`
symbols, and the formula it returns is printed. There is no second table of derivatives.

    x, w = Value(2.0, label="x"), Value(-3.0, label="w")
    y = (x * w).tanh()
    y.label = "y"
    program = compile(y)
    print(program.source)   # among its lines:
                            #   v2 = x * w
                            #   y = math.tanh(v2)
                            #   g_y = 1.0
                            #   g2 = (1.0 - y * y) * g_y
                            #   g_x += w * g2

`program.run()` re-evaluates the forward pass from the leaves' current `.data` and runs the
backward pass, adding into the leaves' `.grad` exactly as `root.backward()` does (the same
float operations in the same order, so the same numbers to the last bit), and returns the
root's new value. Between runs, change the leaves' data: an optimizer's step, new inputs.

What it cannot see: Python control flow. The program replays the graph that was traced; if
the code that built it would build another graph for other data (an `if` on a value, a
constant computed from the data, such as logsumexp's max), the replay computes the old
graph, as `torch.jit.trace` does. `program.check()` compares one replay with eager on the
current data (pass it a freshly built root to compare with what your code builds now).

Reliability, as for `backward()`: a replay never lets a non-finite number through. It
checks the root, the leaves' new gradients and the inputs of every op that could turn an
infinity into a finite number (tanh, relu, ...); on anything non-finite (or any exception)
it runs the same graph eagerly, which raises the engine's own error naming the node. A run
that fails leaves every leaf's `.grad` as it was.
"""

from __future__ import annotations

import builtins
import keyword
import math
import re
import time
from collections import deque
from itertools import repeat
from operator import attrgetter
from typing import Any, Callable, Dict, Iterable, List, Optional, Sequence, Set, Tuple, cast

from .engine import ADD, AFFINE, MUL, POW, Primitive, Value, no_grad, topological_order
from .symbolic import PYTHON_NAMESPACE, Constant, Expr, Symbol

__all__ = ["compile", "Program", "ReplayMismatchError", "GraphTooLargeToCompileError", "MAX_EDGES"]

# A trace costs about 13 us of CPU per edge (chain-rule line), two thirds of it Python's own
# compile(): the demo's 69,150-edge graph takes 0.9 s, a 296,280-edge one 4 s and ~300 MB (the
# program is compiled in parts, so memory stays bounded). Beyond this many edges a straight-line
# program is not worth its compile time; compile refuses it, saying so.
MAX_EDGES = 500_000
_CHAIN = 100  # at most this many terms in one sum: Python's compiler recurses once per term

_data_of = attrgetter("data")
_grad_of = attrgetter("grad")


class ReplayMismatchError(AssertionError):
    """`Program.check()` found the replay and the eager pass disagreeing."""


class GraphTooLargeToCompileError(ValueError):
    """The graph has more edges than a straight-line program can be compiled for (`MAX_EDGES`)."""


class Program:
    """A traced graph, replayed by generated Python (made by `compile`).

    Attributes:
        root: the node the program computes and differentiates.
        nodes: every node of the graph in topological order (parents first, `root` last):
            the order the forward lines follow; the backward lines walk it backwards.
        leaves: the nodes without parents (parameters, inputs, constants), in that order.
        inputs: the leaves named as the graph's inputs (`compile(..., inputs=)`).
        parameters: the other leaves (the ones an optimizer changes).
        outputs: interior nodes whose `.data` every `run()` writes back (`compile(..., outputs=)`).
        source: the generated Python source.
        edges: how many chain-rule steps (lines) the backward pass has.
        trace_seconds: how long `compile` took (walking the graph, writing and compiling the source).
    """

    def __init__(self, root: Value, nodes: List[Value], inputs: Tuple[Value, ...], outputs: Tuple[Value, ...],
                 source: str, names: List[str], grad_names: List[str], edges: int, replay: Callable[..., Any],
                 trace_seconds: float) -> None:
        self.root = root
        self.nodes = nodes
        self.leaves = [v for v in nodes if not v.parents]
        self.inputs = inputs
        chosen = set(inputs)
        self.parameters = [v for v in self.leaves if v not in chosen]
        self.outputs = outputs
        self.source = source
        self.edges = edges
        self.trace_seconds = trace_seconds
        self._names = names
        self._grad_names = grad_names
        self._replay = replay

    # --- running ---------------------------------------------------------------------------

    def run(self, sync: bool = False) -> float:
        """Replay the forward and backward pass on the leaves' current `.data`; return the root's value.

        Adds d root / d leaf into every leaf's `.grad`, as `root.backward()` does (leaves
        accumulate: call `zero_grad()` between steps), and writes the new `.data` of the
        `outputs`. With `sync=True` every interior node also gets its new `.data` and `.grad`
        (as after an eager pass), so `draw_dot` and `explain` show the replayed numbers.

        Raises what `backward()` (or building the graph) raises on the same numbers:
        `NonFiniteError`, `OverflowError`, `ValueError`, ... naming the node (found by running the
        graph eagerly once the replay meets a non-finite number); the leaves' gradients are then
        as they were before the call.
        """
        leaves = self.leaves
        try:
            value, grads, guard, outputs, scope = self._replay(
                list(map(_data_of, leaves)), list(map(_grad_of, leaves)), sync)
            total = sum(grads)
            ok = not (value - value or total - total or guard - guard)  # x - x is nan only for inf and nan
        except Exception:  # noqa: BLE001 - whatever it was, the eager pass says it in the engine's words
            ok = False
        if not ok:
            return self._eager()
        deque(map(setattr, leaves, repeat("grad"), grads), maxlen=0)  # at C speed
        deque(map(setattr, self.outputs, repeat("data"), outputs), maxlen=0)
        if sync:
            self._sync(scope)
        return value  # type: ignore[no-any-return]

    def _sync(self, scope: Dict[str, Any]) -> None:
        for node, name, gname in zip(self.nodes, self._names, self._grad_names):
            if node.parents:
                node.data = scope[name]
                node.grad = scope[gname] + 0.0  # -0.0 + 0.0 is 0.0: eager starts every interior grad at 0.0
        _lecture_views_outdated(self.nodes)

    def _eager(self) -> float:
        """The same graph, eagerly: each node's op recomputed from its operands with the engine's
        checks, then `root.backward()`. Raises the engine's error naming the node, or (if the
        compiled run only looked suspicious) gives the same numbers the replay would have."""
        _forward_eagerly(self.nodes)
        self.root.backward()
        return self.root.data

    def run_batch(self, X: Any, reduction: str = "mean") -> Any:
        """Evaluate the graph for every row of `X` at once (one value per input leaf per row) and
        accumulate the mean (or sum) of the parameters' gradients; see `micrograd.batched`."""
        from . import batched  # NumPy is imported there, on first use

        return batched.run_batch(self, X, reduction)

    # --- checking --------------------------------------------------------------------------

    def check(self, rebuilt: Optional[Value] = None) -> None:
        """Compare one replay with the eager engine on the current data; raise on any difference.

        Without an argument, the eager side recomputes the traced graph node by node and runs
        `backward()`: it checks the compiled code. Pass `rebuilt`, the root your own code
        builds from the current data (`program.check(loss_fn(model))`), to check that the
        code still builds the same graph: data-dependent control flow shows up here. Every
        leaf's `.grad` is left as it was; interior nodes hold the eager pass's numbers.

        Raises:
            ReplayMismatchError: the shapes, the root values or a leaf gradient differ (bit for bit).
        """
        if rebuilt is not None and not isinstance(rebuilt, Value):
            raise TypeError(f"check needs a Value (a root rebuilt from the current data), got"
                            f" {type(rebuilt).__name__}: {rebuilt!r}")
        leaves = self.leaves
        before = list(map(_grad_of, leaves))
        try:
            value, grads, _, _, _ = self._replay(list(map(_data_of, leaves)), list(before), False)
        except Exception as e:  # noqa: BLE001 - compared with what the eager pass does below
            self._eager_raises_too(e)
            raise ReplayMismatchError(f"Program.check: the replay raised {e!r}, the eager pass did not") from e
        if rebuilt is None:
            other_leaves: List[Value] = leaves
            _forward_eagerly(self.nodes)
            root = self.root
        else:
            other = topological_order(rebuilt)
            _same_shape(self.nodes, other, self._names)
            other_leaves = [v for v in other if not v.parents]
            root = rebuilt
        saved = list(map(_grad_of, other_leaves))
        try:
            for leaf, g in zip(other_leaves, before):
                leaf.grad = g
            root.backward()
            eager = list(map(_grad_of, other_leaves))
        finally:
            for leaf, g in zip(other_leaves, saved):
                leaf.grad = g
            for leaf, g in zip(leaves, before):
                leaf.grad = g
        problems = []
        if not _same_float(value, root.data):
            problems.append(f"the root is {value!r} replayed, {root.data!r} eagerly")
        for i, (leaf, a, b) in enumerate(zip(leaves, grads, eager)):
            if not _same_float(a, b):
                problems.append(f"the gradient of {self._names[self.nodes.index(leaf)]} (leaf {i}) is {a!r}"
                                f" replayed, {b!r} eagerly")
        if problems:
            shown = "; ".join(problems[:5]) + (f"; and {len(problems) - 5} more" if len(problems) > 5 else "")
            raise ReplayMismatchError(f"Program.check: the replay and the eager pass differ: {shown}")

    def _eager_raises_too(self, error: Exception) -> None:
        """If the eager pass fails on the current data too, raise its error (the replay was right to fail)."""
        before = list(map(_grad_of, self.leaves))
        try:
            self._eager()
        finally:
            for leaf, g in zip(self.leaves, before):
                leaf.grad = g

    def __repr__(self) -> str:
        return (f"<Program: {len(self.nodes)} nodes, {len(self.leaves)} leaves ({len(self.inputs)} inputs),"
                f" {self.edges} edges; root {self._names[-1]}>")


def _same_float(a: Any, b: Any) -> bool:
    """Bit for bit: the same number with the same sign (0.0 is not -0.0), or both NaN."""
    if isinstance(a, float) and isinstance(b, float):
        return a.hex() == b.hex() or (a != a and b != b)
    return bool(a == b)


def _same_shape(traced: List[Value], rebuilt: List[Value], names: List[str]) -> None:
    """Raise ReplayMismatchError at the first node where the rebuilt graph differs in shape."""
    if len(traced) != len(rebuilt):
        raise ReplayMismatchError(f"Program.check: the rebuilt graph has {len(rebuilt)} nodes, the traced one"
                                  f" {len(traced)}: the code builds another graph for this data; compile again")
    at_t = {v: i for i, v in enumerate(traced)}
    at_r = {v: i for i, v in enumerate(rebuilt)}
    for i, (t, r) in enumerate(zip(traced, rebuilt)):
        same = t.primitive is r.primitive and t.op == r.op and len(t.operands) == len(r.operands)
        if same:
            for a, b in zip(t.operands, r.operands):
                if isinstance(a, Value) != isinstance(b, Value):
                    same = False
                elif isinstance(a, Value):
                    same = same and at_t[a] == at_r[b]  # type: ignore[index]
                else:
                    same = same and _same_float(a, b)
        if not same:
            raise ReplayMismatchError(
                f"Program.check: node {i} ({names[i]}) was {_show(t)} when traced and is {_show(r)} now:"
                " the code builds another graph for this data (control flow or a constant that depends on"
                " it); compile again, or keep it out of the compiled graph"
            )


def _show(node: Value) -> str:
    if not node.parents:
        return "a leaf"
    shown = ", ".join("node" if isinstance(a, Value) else repr(a) for a in node.operands)
    return f"{node.op}({shown})"


# ---------------------------------------------------------------------------------------
# The eager pass on the traced graph (what a failed or suspicious replay falls back to)
# ---------------------------------------------------------------------------------------

def _forward_eagerly(nodes: Sequence[Value]) -> None:
    """Recompute every interior node's `.data` from its operands, in order, with the checks
    the ops make when they build a node: a non-finite input or result, or a domain error,
    raises naming the node (a leaf with a non-finite `.data` set by hand is named too)."""
    _lecture_views_outdated(nodes)
    for node in nodes:
        fn = node.primitive
        if fn is None:
            if not node.parents and not math.isfinite(node.data):
                raise ValueError(f"the leaf {_who(node)} has a non-finite data {node.data!r} (set by hand?)")
            continue
        numbers = [a.data if isinstance(a, Value) else a for a in node.operands]
        for x in numbers:
            if not math.isfinite(x):
                raise ValueError(f"{fn.name} needs finite inputs, got {_numbers(numbers)} at {_who(node)}")
        if fn is POW and isinstance(node.operands[1], Value) and numbers[0] <= 0.0:
            raise ValueError(f"** with a Value exponent needs a positive base, got {numbers[0]!r} **"
                             f" {numbers[1]!r} at {_who(node)}")
        try:
            data = fn.forward(*numbers)
        except (ValueError, ZeroDivisionError, OverflowError) as e:
            raise type(e)(f"{fn.name} failed on {_numbers(numbers)} at {_who(node)}: {e}") from e
        if isinstance(data, bool) or not isinstance(data, (int, float)):
            raise TypeError(f"{fn.name}{_numbers(numbers)} must be a real number, got {type(data).__name__}: {data!r}")
        data = float(data)
        if not math.isfinite(data):
            raise OverflowError(f"{fn.name} overflowed: the result of {fn.name} on {_numbers(numbers)} is not"
                                f" finite, at {_who(node)}")
        node.data = data


def _lecture_views_outdated(nodes: Sequence[Value]) -> None:
    """Drop micrograd 0.1.0's view of each node (what `_prev` shows, built on request): it holds the
    numbers of the data it was built from, and is built again from the new data when next read."""
    for node in nodes:
        node.__dict__.pop("_view", None)


def _who(node: Value) -> str:
    return f"the node labelled {node.label!r}" if node.label else f"a {node.op!r} node" if node.op else "a leaf"


def _numbers(numbers: Sequence[Any]) -> str:
    return "(" + ", ".join(repr(x) for x in numbers) + ")"


# ---------------------------------------------------------------------------------------
# compile: names, forward lines, backward lines
# ---------------------------------------------------------------------------------------

def compile(root: Value, inputs: Iterable[Value] = (), *, outputs: Iterable[Value] = ()) -> Program:  # noqa: A001
    """Trace `root`'s graph once into a `Program` whose `run()` replays it.

    Args:
        root: the node to compute and differentiate (a loss).
        inputs: leaves of the graph that stand for the data (`x1`, `x2`, `y`); the other
            leaves are its parameters. `run()` reads every leaf's current `.data` either way;
            the distinction is for `run_batch` and for readers of `program.inputs`.
        outputs: interior nodes (a model's predictions) whose `.data` each `run()` writes back,
            so a metric can read them without `sync=True`.

    Raises:
        TypeError: `root` (or an input or output) is not a Value.
        ValueError: an input is not a leaf of the graph (or is repeated), an output is not in it;
            or a node has a hand-written `_backward` (the lecture's style), whose derivative the
            compiler cannot read: make the op with `micrograd.primitive` instead.
        GraphTooLargeToCompileError: more than `MAX_EDGES` chain-rule steps.
    """
    start = time.perf_counter()
    if not isinstance(root, Value):
        raise TypeError(f"compile needs a Value root, got {type(root).__name__}: {root!r}")
    nodes = topological_order(root)
    position = {v: i for i, v in enumerate(nodes)}
    chosen = _inputs(inputs, position)
    watched = _outputs(outputs, position)
    edges = 0
    for node in nodes:
        if node.parents and node.primitive is None:
            raise ValueError(
                f"compile: {_who(node)} ({node!r}) was built by hand, the lecture's way (Value(data, children, op)"
                " and a hand-written _backward), so the compiler cannot read its derivative; make the op with"
                " micrograd.primitive (its forward formula and its derivative, in one place) and it compiles"
            )
        edges += len(node.parents)
    if edges > MAX_EDGES:
        raise GraphTooLargeToCompileError(
            f"compile: the graph has {edges:,} edges, more than the {MAX_EDGES:,} a straight-line program can be"
            " compiled for in reasonable time and memory; compile a smaller piece (one mini-batch, one example)"
            " or run it eagerly"
        )
    writer = _Writer(nodes, position, watched)
    parts = writer.sources()
    namespace = dict(writer.namespace)
    for part in parts:  # one at a time: compiling a function costs memory in proportion to its size
        exec(builtins.compile(part, f"<micrograd program of {root!r}>", "exec"), namespace)  # noqa: S102 - ours
    source = "\n".join(parts)
    return Program(root, nodes, chosen, watched, source, writer.names, writer.grad_names, edges,
                   namespace["replay"], time.perf_counter() - start)


def _inputs(inputs: Iterable[Value], position: Dict[Value, int]) -> Tuple[Value, ...]:
    if isinstance(inputs, Value):
        inputs = (inputs,)
    chosen = tuple(inputs)
    for x in chosen:
        if not isinstance(x, Value):
            raise TypeError(f"compile inputs must be Values (leaves of the graph), got {type(x).__name__}: {x!r}")
        if x not in position:
            raise ValueError(f"compile: the input {x!r} is not in the graph of the root")
        if x.parents:
            raise ValueError(f"compile: the input {x!r} is not a leaf (it is computed by {x.op!r}); inputs are"
                             " the leaves whose data you set")
    if len(set(chosen)) != len(chosen):
        raise ValueError("compile: an input is listed twice")
    return chosen


def _outputs(outputs: Iterable[Value], position: Dict[Value, int]) -> Tuple[Value, ...]:
    if isinstance(outputs, Value):
        outputs = (outputs,)
    watched = tuple(outputs)
    for x in watched:
        if not isinstance(x, Value):
            raise TypeError(f"compile outputs must be Values (nodes of the graph), got {type(x).__name__}: {x!r}")
        if x not in position:
            raise ValueError(f"compile: the output {x!r} is not in the graph of the root")
    return watched


_RESERVED = set(keyword.kwlist) | set(dir(builtins)) | set(PYTHON_NAMESPACE) | {"replay"}


def _identifier(label: str) -> str:
    name = re.sub(r"\W+", "_", label).strip("_")  # 'x1*w1 + x2*w2' -> x1_w1_x2_w2
    if name and name[0].isdigit():
        name = "v_" + name
    return name if name.isidentifier() else ""  # '' (no usable label): the node is numbered instead


class _Writer:
    """Writes the program's source: names for every node, then the forward and backward lines."""

    def __init__(self, nodes: List[Value], position: Dict[Value, int], outputs: Tuple[Value, ...]) -> None:
        self.nodes = nodes
        self.position = position
        self.outputs = outputs
        self.namespace: Dict[str, Any] = dict(PYTHON_NAMESPACE)
        self.taken: Set[str] = set(_RESERVED)
        self.names: List[str] = []
        self.grad_names: List[str] = []
        for i, v in enumerate(nodes):
            label = _identifier(v.label) if v.label else ""
            self.names.append(self._unique(label or f"v{i}"))
            self.grad_names.append(self._unique(f"g_{label}" if label else f"g{i}"))
        self.symbols = [Symbol(n, v.data, n) for n, v in zip(self.names, nodes)]
        self.functions: Dict[int, str] = {}  # id(function) -> its name in the generated code
        self.guarded: Dict[int, None] = {}  # nodes whose value is checked for being finite (an ordered set)

    def _unique(self, name: str) -> str:
        while name in self.taken:
            name += "_"
        self.taken.add(name)
        return name

    def _function(self, fn: Any, name: str) -> str:
        """The name `fn` goes by in the generated code (put into its namespace once)."""
        key = id(fn)
        if key not in self.functions:
            own = getattr(fn, "__name__", "")
            if getattr(math, own, None) is fn:
                self.functions[key] = f"math.{own}"
            elif getattr(builtins, own, None) is fn:
                self.functions[key] = own
            else:
                self.functions[key] = self._unique(name)
                self.namespace[self.functions[key]] = fn
        return self.functions[key]

    # --- the whole source ------------------------------------------------------------------

    def sources(self) -> List[str]:
        """The program as Python source, in parts to compile one at a time: functions `_part0`,
        `_part1`, ... (for a large graph) and, last, `replay`, which calls them in turn."""
        nodes, names, gnames = self.nodes, self.names, self.grad_names
        leaves = [i for i, v in enumerate(nodes) if not v.parents]
        units: List[_Unit] = [(["# the leaves: their data, and the gradients they hold so far (leaves accumulate)",
                                *_sequence("", [names[i] for i in leaves], " = _data"),
                                *_sequence("", [gnames[i] for i in leaves], " = _grads")],
                               [], [names[i] for i in leaves] + [gnames[i] for i in leaves]),
                              (["# forward pass"], [], [])]
        for i, v in enumerate(nodes):
            if v.parents:
                units.append((self._forward(i, v), [names[self.position[a]] for a in v.parents], [names[i]]))
        units.append((["# backward pass: the chain rule, from the root back to the leaves. As in backward(), a node",
                       "# whose gradient is 0 pushes nothing (`if g:`), and each term is local derivative * gradient"],
                      [], []))
        units.extend(self._backward())
        guard = [names[i] for i in self.guarded]
        final = []
        if guard:
            self.namespace["_fsum"] = math.fsum
            final.append("# finite? the inputs of the ops that could turn an infinity into a finite number")
            final += _sequence("_guard = _fsum(", guard, ")")
        else:
            final.append("_guard = 0.0")
        outputs = [names[self.position[v]] for v in self.outputs]
        final += _sequence("_grads = ", [gnames[i] for i in leaves], "")
        final += _sequence("_outputs = ", outputs, "")
        return _assemble(units, final, [*guard, *[gnames[i] for i in leaves], *outputs, names[-1]], names[-1])

    # --- forward ---------------------------------------------------------------------------

    def _operands(self, v: Value) -> List[Any]:
        """Each operand as a symbol (a node) or its number (a constant)."""
        return [self.symbols[self.position[a]] if isinstance(a, Value) else a for a in v.operands]

    def _forward(self, i: int, v: Value) -> List[str]:
        fn = cast(Primitive, v.primitive)  # not None: compile refused nodes built by hand
        name = self.names[i]
        args = self._operands(v)
        if fn is ADD or fn is MUL or fn is AFFINE:  # arithmetic: the op's forward formula itself, run on symbols
            return _assign(name, fn.forward(*args))
        if fn is POW and not isinstance(args[1], Expr) and float(args[1]).is_integer() and args[1] != 0.0:
            # x ** k for a whole k is Python's float ** (what the op's forward computes); 1 / inf is 0, so
            # the base of a negative power is checked for being finite
            if args[1] < 0:
                self._guard(v)
            return [f"{name} = {_print(args[0])[0]} ** {args[1]!r}"]
        # Any other op: a call of its forward function. Its inputs are checked for being finite:
        # tanh(inf) is 1 and relu(-inf) is 0, so an infinity would otherwise vanish without a trace.
        self._guard(v)
        own = fn.floats and getattr(fn.forward, "__module__", None) in ("math", "builtins", "micrograd.engine")
        if fn is POW:  # a Value exponent: the engine allows only a positive base
            call = self._function(_positive_base_power, "power")
        elif own:
            call = self._function(fn.forward, _function_name(fn))
        else:  # a user's op: its result is checked as Primitive.__call__ checks it
            call = self._function(_checked_forward(fn), _function_name(fn))
        return [f"{name} = {call}({', '.join(_print(a)[0] for a in args)})"]

    def _guard(self, v: Value) -> None:
        for a in v.parents:
            self.guarded[self.position[a]] = None

    # --- backward --------------------------------------------------------------------------

    def _backward(self) -> List["_Unit"]:
        """One unit per interior node, children first: its chain-rule lines, what they read and write."""
        nodes, names, gnames = self.nodes, self.names, self.grad_names
        last = len(nodes) - 1
        if not nodes[last].parents:  # a leaf root: backward() adds 1 to its gradient
            return [([f"{gnames[last]} += 1.0"], [gnames[last]], [gnames[last]])]
        units: List[_Unit] = []
        written: Set[int] = set()  # interior nodes whose gradient has had its first term
        for i in range(last, -1, -1):
            v = nodes[i]
            if not v.parents:
                continue
            g = gnames[i]
            block: List[str] = []
            first: List[str] = []
            reads = [g, names[i], *[names[self.position[p]] for p in v.parents]]
            writes = []
            for parent, (term, level) in zip(v.parents, self._partials(i, v, block)):
                j = self.position[parent]
                # local * upstream, as backward() multiplies them; 1.0 * g is g exactly, so it is left out
                amount = g if term == "1.0" else f"{term if level <= _PRODUCT else f'({term})'} * {g}"
                writes.append(gnames[j])
                if parent.parents and j not in written:
                    written.add(j)
                    first.append(gnames[j])
                    block.append(f"{gnames[j]} = {amount}")  # backward() adds it to 0.0: the same number
                else:
                    reads.append(gnames[j])
                    block.append(f"{gnames[j]} += {amount}")
            if i == last:  # the root's gradient is 1: nothing to test
                units.append(([f"{g} = 1.0", *block], reads[1:], [g, *writes]))
                continue
            lines = [f"if {g}:", *("    " + line for line in block)]
            if first:
                lines += ["else:", *(f"    {n} = 0.0" for n in first)]
            units.append((lines, reads, writes))
        return units

    def _partials(self, i: int, v: Value, block: List[str]) -> List[Tuple[str, int]]:
        """The local derivative of `v` with respect to each parent, as code: the op's one derivative
        evaluated on symbols. A derivative that needs more than symbols offer (a user's, written
        with Value methods) is called on the numbers instead, in a line added to `block`."""
        fn = cast(Primitive, v.primitive)
        args = self._operands(v)
        out = self.symbols[i]
        operands = v.operands
        wrt = None if len(v.parents) == len(operands) else [k for k, a in enumerate(operands) if isinstance(a, Value)]
        if fn.floats:
            try:
                return [_print(d) for d in fn.derivatives(args, out, wrt)]
            except Exception:  # noqa: BLE001, S110 - symbols lack something the derivative uses: call it instead
                pass
        helper = self._function(_numeric_partials(fn, [None if isinstance(a, Expr) else a for a in args], wrt),
                                f"d_{_function_name(fn)}")
        local = f"_d{i}"
        shown = ", ".join(_print(a)[0] for a in args if isinstance(a, Expr))
        block.append(f"{local} = {helper}({shown}, {self.names[i]})")
        return [(f"{local}[{k}]", _ATOM) for k in range(len(v.parents))]


_Unit = Tuple[List[str], List[str], List[str]]  # lines of code, the variables they read, those they assign
PART_LINES = 40_000  # lines per compiled function: Python's compiler takes time and memory per function


def _assemble(units: List[_Unit], final: List[str], final_reads: List[str], root: str) -> List[str]:
    """The function `replay(_data, _grads, _sync)` made of `units` then `final`. A long program is
    cut into functions of about PART_LINES lines, compiled one at a time (so compiling never holds
    the whole program), each taking the variables it reads that earlier parts assigned and
    returning those that later parts read."""
    end = f"    return {root}, _grads, _guard, _outputs, {{}} if _sync else None"
    if sum(len(u[0]) for u in units) <= PART_LINES:
        body = [line for u in units for line in u[0]] + final
        return ["def replay(_data, _grads, _sync):\n" + "".join(f"    {line}\n" for line in body)
                + end.replace("{}", "locals()") + "\n"]
    parts: List[List[_Unit]] = [[]]
    size = 0
    for u in units:
        if size > PART_LINES:
            parts.append([])
            size = 0
        parts[-1].append(u)
        size += len(u[0])
    needed: List[Set[str]] = [set() for _ in parts]  # read by the parts after each part (or at the end)
    later = set(final_reads)
    for k in range(len(parts) - 1, -1, -1):
        needed[k] = set(later)
        for u in parts[k]:
            later.update(u[1])
    sources, calls = [], []
    assigned: Set[str] = set()
    for k, part in enumerate(parts):
        takes = [] if k == 0 else list(dict.fromkeys(r for u in part for r in u[1] if r in assigned))
        for u in part:
            assigned.update(u[2])
        gives = list(dict.fromkeys(w for u in part for w in u[2] if w in needed[k]))
        head = _sequence(f"def _part{k}", ["_data", "_grads", "_sync"] if k == 0 else ["_sync", *takes], ":")
        body = [f"    {line}" for u in part for line in u[0]]
        back = _sequence("return ", gives, ", (locals() if _sync else None)")
        sources.append("\n".join([*head, *body, *("    " + line for line in back)]) + "\n")
        args = ["_data", "_grads", "_sync"] if k == 0 else ["_sync", *takes]
        calls += _sequence("", gives, f", _part = _part{k}(" + ", ".join(args) + ")")
        calls.append("if _sync: _scope.update(_part)")
    main = ["def replay(_data, _grads, _sync):", "    _scope = {}", *("    " + c for c in calls),
            *("    " + line for line in final), end.replace("{}", "_scope")]
    return [*sources, "\n".join(main) + "\n"]


def _function_name(fn: Primitive) -> str:
    name = fn.name.lower()
    return name if name.isidentifier() else "power" if fn is POW else "op"


def _sequence(head: str, names: List[str], tail: str) -> List[str]:
    """`head(a, b, ...)tail`, a tuple of names, as lines of at most about 100 characters."""
    if len(names) <= 1:
        return [f"{head}({names[0]},){tail}" if names else f"{head}(){tail}"]
    rows, row = [], ""
    for n in names:
        if row and len(row) + len(n) > 92:
            rows.append(row.rstrip())
            row = ""
        row += n + ", "
    rows.append(row.rstrip(", "))
    if len(rows) == 1:
        return [f"{head}({rows[0]}){tail}"]
    return [f"{head}(", *(f"    {r}" for r in rows), f"){tail}"]


def _checked_forward(fn: Primitive) -> Callable[..., float]:
    """A user's forward function, its result checked as `Primitive.__call__` checks it."""
    forward = fn.forward

    def checked(*numbers: float) -> float:
        x = forward(*numbers)
        if isinstance(x, bool) or not isinstance(x, (int, float)):
            raise TypeError(f"{fn.name} must give a real number, got {type(x).__name__}")
        return float(x)

    return checked


def _positive_base_power(x: float, y: float) -> float:
    """x ** y for a Value exponent y, which the engine allows only for a positive base."""
    if not x > 0.0:
        raise ValueError(f"** with a Value exponent needs a positive base, got {x!r} ** {y!r}")
    return POW.forward(x, y)


def _numeric_partials(fn: Primitive, constants: List[Any], wrt: Optional[List[int]]
                      ) -> Callable[..., Tuple[float, ...]]:
    """The op's derivative called on numbers, as the eager pass calls it: on floats for an op
    whose derivative takes floats, else on Values (without recording a graph)."""
    positions = [k for k, c in enumerate(constants) if c is None]

    def partials(*numbers: float) -> Tuple[float, ...]:
        *xs, out = numbers
        if fn.floats:
            args: List[Any] = list(constants)
            for k, x in zip(positions, xs):
                args[k] = x
            return tuple(fn.derivatives(args, out, wrt))
        with no_grad():
            args = list(constants)
            for k, x in zip(positions, xs):
                args[k] = Value(x)
            ds = fn.derivatives(args, Value(out))
        chosen = range(len(args)) if wrt is None else wrt
        result = []
        for k in chosen:
            d = ds[k]
            d = d.data if isinstance(d, Value) else d
            if isinstance(d, bool) or not isinstance(d, (int, float)):
                raise TypeError(f"the derivative of {fn.name} must give Values or numbers, got {type(d).__name__}")
            result.append(float(d))
        return tuple(result)

    return partials


# ---------------------------------------------------------------------------------------
# Printing formulas as Python with only the parentheses the order of operations needs
# ---------------------------------------------------------------------------------------

_ATOM, _POWER, _UNARY, _PRODUCT, _SUM, _COMPARE, _WHERE = range(7)  # lower binds tighter
_LEVEL = {"**": _POWER, "*": _PRODUCT, "/": _PRODUCT, "+": _SUM, "-": _SUM,
          ">": _COMPARE, "<": _COMPARE, ">=": _COMPARE, "<=": _COMPARE}


def _code(e: Any) -> str:
    return _print(e)[0]


def _print(e: Any) -> Tuple[str, int]:
    """Python source for a formula (or a number) and how loosely it binds. Left-nested chains
    of one operator (an affine node's long sum) are printed without recursion."""
    if type(e) is Symbol:  # the common case first: a trace prints hundreds of thousands
        return e.code, _ATOM
    if not isinstance(e, Expr):
        if isinstance(e, bool) or not isinstance(e, (int, float)):
            raise TypeError(f"cannot write {type(e).__name__} as code: {e!r}")
        text = repr(e)
        return text, _UNARY if text.startswith("-") else _ATOM
    if isinstance(e, Symbol):
        return e.code, _ATOM
    if isinstance(e, Constant):
        return _print(e.value)
    op = e.op
    if op in _LEVEL:
        level = _LEVEL[op]
        if op == "**":
            base, exponent = _print(e.args[0]), _print(e.args[1])
            b = base[0] if base[1] == _ATOM else f"({base[0]})"
            x = exponent[0] if exponent[1] in (_ATOM, _POWER) else f"({exponent[0]})"  # ** is right-associative
            return f"{b} ** {x}", _POWER
        if level == _COMPARE:  # never chained: a < b < c would mean something else in Python
            sides = [_print(x) for x in e.args]
            a, b = (code if lv < _COMPARE else f"({code})" for code, lv in sides)
            return f"{a} {op} {b}", _COMPARE
        # Walk the left spine: ((a + b) + c) + d prints as a + b + c + d (Python's + is left-associative).
        rights = []
        node = e
        while isinstance(node, Expr) and node.op in _LEVEL and _LEVEL[node.op] == level and node.op != "**":
            rights.append((node.op, node.args[1]))
            node = node.args[0]
        left, left_level = _print(node)
        parts = [left if left_level <= level else f"({left})"]
        for o, r in reversed(rights):
            code, r_level = _print(r)
            parts.append(f" {o} " + (code if r_level < level else f"({code})"))  # a - (b - c) keeps its parentheses
        return "".join(parts), level
    if op == "neg":
        inner, level = _print(e.args[0])
        return "-" + (inner if level <= _POWER else f"({inner})"), _UNARY
    if op == "where":
        cond, yes, no = (_print(x) for x in e.args)
        show = [code if level < _WHERE else f"({code})" for code, level in (yes, cond, no)]
        return f"{show[0]} if {show[1]} else {show[2]}", _WHERE
    return f"{_FUNCTIONS[op]}({_print(e.args[0])[0]})", _ATOM


_FUNCTIONS = {"exp": "math.exp", "log": "math.log", "sin": "math.sin", "cos": "math.cos", "tanh": "math.tanh",
              "sigmoid": "sigmoid"}


def _assign(name: str, e: Any) -> List[str]:
    """`name = <e>`; a long sum split over several statements (the same additions in the same order)."""
    if not isinstance(e, Expr) or e.op not in ("+", "*"):
        return [f"{name} = {_code(e)}"]
    rights = []
    node: Any = e
    while isinstance(node, Expr) and node.op == e.op:
        rights.append(node.args[1])
        node = node.args[0]
    rights.reverse()
    if len(rights) <= _CHAIN:
        return [f"{name} = {_code(e)}"]
    lines = []
    level = _LEVEL[e.op]
    first, first_level = _print(node)
    acc = first if first_level <= level else f"({first})"
    for k in range(0, len(rights), _CHAIN):
        terms = [_print(r) for r in rights[k:k + _CHAIN]]
        shown = [code if r_level < level else f"({code})" for code, r_level in terms]
        lines.append(f"{name} = {acc} {e.op} " + f" {e.op} ".join(shown))
        acc = name
    return lines
