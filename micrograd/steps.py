"""The forward and backward passes one node at a time, for watching the chain rule work.

`backward_steps(root)` *is* `root.backward()`, cut into steps: it does the same arithmetic
on the same nodes in the same order, so when it is exhausted every `.grad` is bit for bit
what `backward()` would have left. Each step it yields says which node was just processed,
the gradient it pushed, where it pushed it, and (`step.grads`) every gradient as it stood
after that step. `forward_steps(root)` walks the evaluation order the same way.

Both walk `topological_order(root)`, so they follow the engine's order exactly.
"""

from __future__ import annotations

from typing import Dict, FrozenSet, Generator, Iterator, List, Optional, Tuple

from .engine import Value, backward_pass, close_stepped_passes, topological_order
from .explanation import Computation, Explanation, explain_step, node_names

__all__ = ["BackwardStep", "ForwardStep", "backward_steps", "forward_steps"]


class _BackwardTrace:
    """What a backward pass changed, step by step, shared by all its `BackwardStep`s.

    Storing each step's changes (not a copy of every gradient per step) keeps a whole
    pass O(edges) in memory, so even a 66,000-node loss can be stepped through.
    """

    __slots__ = ("final", "changes", "processed", "root", "order", "by_hand")

    def __init__(self, root: Value, order: List[Value]) -> None:
        self.root = root
        self.order = order  # topological_order(root): what explanations walk
        self.final: List[float] = []  # per step: the processed node's gradient (complete by then)
        self.changes: List[Tuple[Tuple[Value, float], ...]] = []  # per step: (parent, grad after)
        self.processed: List[Value] = []
        # per hand-written node (the lecture's `_backward`): what it added to each parent, read off
        # as it ran, so explanations never re-run it on gradients that have moved on since
        self.by_hand: Dict[Value, Dict[Value, float]] = {}


class BackwardStep:
    """One step of the backward pass: `node` has just pushed its gradient to its parents.

    Attributes:
        index: the step's position in the pass (0 is the root, the last is a leaf).
        total: how many steps the pass has (one per node).
        node: the node just processed. Its `grad` was complete before this step.
        grad: the gradient `node` pushed, d(root)/d(node).
        pushed: `(parent, amount)` for each edge gradient flowed along: `amount` is what
            was added to `parent.grad` (local derivative * `grad`). Empty for a leaf, and
            for a node whose gradient is 0, which `backward()` skips.
        custom: True when `node` has a hand-written `_backward` (the lecture's style); its
            `pushed` amounts are then read off the parents' gradients before and after.
    """

    __slots__ = ("index", "total", "node", "grad", "pushed", "custom", "_trace")

    def __init__(self, index: int, total: int, node: Value, grad: float,
                 pushed: Tuple[Tuple[Value, float], ...], custom: bool, trace: _BackwardTrace) -> None:
        self.index = index
        self.total = total
        self.node = node
        self.grad = grad
        self.pushed = pushed
        self.custom = custom
        self._trace = trace

    @property
    def grads(self) -> Dict[Value, float]:
        """Every reached node's gradient as it stood right after this step.

        A node is reached once it has been processed or has received gradient from a node
        that was; the others are absent (their gradient is not known yet at this moment).
        """
        trace = self._trace
        grads = dict(zip(trace.processed[: self.index + 1], trace.final))
        for changes in trace.changes[: self.index + 1]:
            grads.update(changes)
        return grads

    @property
    def explanation(self) -> Explanation:
        """The worked chain-rule calculation of this step's gradient (see `explain`):
        every use of `node`, the gradient flowing back along it and its local derivative,
        with the numbers of this moment of the pass."""
        grads = self.grads
        trace = self._trace
        return explain_step(self.node, trace.root, trace.order, lambda v: grads.get(v, 0.0),
                            added_by_hand=lambda made, parent: trace.by_hand.get(made, {}).get(parent, 0.0))

    @property
    def processed(self) -> FrozenSet[Value]:
        """The nodes processed so far, this step's node included (their gradients are final)."""
        return frozenset(self._trace.processed[: self.index + 1])

    def __repr__(self) -> str:
        where = self.node.label or self.node.op or "leaf"
        return (
            f"BackwardStep({self.index + 1}/{self.total}: {where!r} pushed grad={self.grad!r}"
            f" to {len(self.pushed)} parents)"
        )


def backward_steps(root: Value) -> Generator[BackwardStep, None, None]:
    """Run `root.backward()` one node at a time, yielding a `BackwardStep` after each.

    The nodes come in the order the chain rule needs them: reverse topological order,
    root first, every node only after everything that depends on it. Before the first
    step, as in `backward()`, every interior node's gradient is reset and the root is
    seeded (1, or +1 for a leaf root); leaves keep what they hold and accumulate.

    The `.grad` attributes change as you go, so between steps the graph shows the pass
    in progress; `step.grads` keeps each moment for drawing later. Leaving the loop early
    undoes the pass: every `.grad` goes back to what it was before the first step, so
    nothing is left half-accumulated and a later `backward()` gives the right numbers.

    A generator cannot tell a `break` from being garbage-collected: an iterator you start
    by hand (`it = backward_steps(L); next(it)`) is undone when it is closed or collected.
    Call `it.close()` (or run it to the end) before you go on, so that happens when you
    choose; a gradient changed since by someone else is left alone.
    """
    if not isinstance(root, Value):
        raise TypeError(f"backward_steps needs a Value, got {type(root).__name__}: {root!r}")
    # Every number comes from the engine's own pass (backward_pass is backward(), one node
    # at a time): this only records what each step added.
    close_stepped_passes(root)  # as backward() would: the gradients below are then this pass's start
    order = topological_order(root)
    total = len(order)
    before = {node: node.grad for node in order if node.is_leaf}  # leaves keep theirs; the rest start at 0
    trace = _BackwardTrace(root, order)
    latest: Dict[Value, float] = {}  # the newest gradient of every node reached so far
    steps = backward_pass(root)
    try:
        for i, (node, amounts) in enumerate(steps):
            custom = node.primitive is None and not node.is_leaf  # built by hand, the lecture's way
            if custom:  # its _backward wrote the grads itself: read off what each parent gained
                parents = tuple(dict.fromkeys(node.parents))
                pushed = tuple((p, p.grad - latest.get(p, before.get(p, 0.0))) for p in parents
                               if p.grad != latest.get(p, before.get(p, 0.0)))
            else:
                parents = node.parents if amounts is not None else ()
                pushed = tuple(zip(parents, amounts)) if amounts is not None else ()
            changes = tuple((p, p.grad) for p in parents)
            if custom:
                trace.by_hand[node] = dict(pushed)
            latest.update(changes)
            trace.processed.append(node)
            trace.final.append(node.grad)
            trace.changes.append(changes)
            yield BackwardStep(i, total, node, node.grad, pushed, custom, trace)
    finally:
        steps.close()  # closed early: the engine's pass puts every gradient back


class ForwardStep:
    """One step of the forward pass: `node`'s value has just been computed.

    Attributes:
        index: the step's position in evaluation order (0 is the first leaf).
        total: how many steps the pass has (one per node).
        node: the node just computed (a leaf is "computed" when it is first read).
    """

    __slots__ = ("index", "total", "node", "_order", "_names")

    def __init__(self, index: int, total: int, node: Value, order: List[Value],
                 names: Optional[Dict[Value, str]] = None) -> None:
        self.index = index
        self.total = total
        self.node = node
        self._order = order
        self._names = names if names is not None else {}  # shared by a pass's steps: filled once

    @property
    def explanation(self) -> Computation:
        """How this step's node was computed (`d = e + c = -6 + 10 = 4`), naming nodes
        as `explain` does; a leaf's value is given."""
        if not self._names:
            self._names.update(node_names(self._order))
        return Computation(self.node, self._names)

    @property
    def computed(self) -> FrozenSet[Value]:
        """The nodes whose values are known at this moment, this step's node included."""
        return frozenset(self._order[: self.index + 1])

    def __repr__(self) -> str:
        where = self.node.label or self.node.op or "leaf"
        return f"ForwardStep({self.index + 1}/{self.total}: {where!r} = {self.node.data!r})"


def forward_steps(root: Value) -> Iterator[ForwardStep]:
    """The nodes `root` depends on in evaluation order (parents before children, `root`
    last), one `ForwardStep` each. The graph is already computed; this replays the order
    in which its values appeared, for drawing. Nothing is changed."""
    if not isinstance(root, Value):
        raise TypeError(f"forward_steps needs a Value, got {type(root).__name__}: {root!r}")
    order = topological_order(root)
    names: Dict[Value, str] = {}
    for i, node in enumerate(order):
        yield ForwardStep(i, len(order), node, order, names)

