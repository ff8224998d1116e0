"""Drawing a computation graph with Graphviz: `draw_dot(root)`.

Each `Value` is a record box (label, data, grad); each op is its own small node between
its inputs and its result, as in karpathy's `trace_graph.ipynb`. Node ids are positions in
the graph's topological order (`v0`, `v0_op`, ...), never `id()`, so the same expression
gives the same DOT source in every run. Options make the chain rule visible (each edge's
local derivative), colour nodes by gradient, mark parameters, inputs and constants, and
draw one moment of the forward or backward pass (`highlight=`, see `micrograd.steps`).
A graph too big to read node by node is drawn by neuron or by layer (`collapse=`, see
`micrograd.visual.collapse`), and `legend=True` explains the colours and numbers.
"""

from __future__ import annotations

import html
import pathlib
from typing import Any, Dict, Iterable, List, NamedTuple, Optional, Set, Tuple, Union, cast

import graphviz

from ..arguments import flag, instance_of, one_of
from ..engine import Value, edge_gradients, topological_order
from ..nn import Module
from ..steps import BackwardStep, ForwardStep
from .collapse import COLLAPSE_MODES, Box, Collapsed, collapse_graph
from .dot_program import configure_graphviz, find_dot

__all__ = ["Drawing", "GraphTooLargeError", "draw_dot"]

Highlight = Union[Value, BackwardStep, ForwardStep]

# ColorBrewer "Oranges": pale for a small |grad|, dark for the largest in the drawing.
_GRAD_COLOURS = ("#fff5eb", "#fee6ce", "#fdd0a2", "#fdae6b", "#fd8d3c", "#f16913", "#d94801")
_PARAM_COLOUR, _INPUT_COLOUR, _CONSTANT_COLOUR = "#1f63b4", "#2a9d3a", "#8c8c8c"
_HIGHLIGHT_COLOUR = "#d62728"
_UNKNOWN = "?"  # a number not known yet at the drawn moment of a pass
_RANKDIRS = ("LR", "TB", "RL", "BT")
_NOT_IN_GRAPHVIZ_PURE = ("pdf", "ps", "ps2", "eps")


class GraphTooLargeError(ValueError):
    """The graph has more nodes than `max_nodes`: laying it out would take minutes and the
    picture would be unreadable. The message says how to draw a part of it, or all of it by
    neuron or by layer (`collapse=`)."""

    @classmethod
    def for_graph(cls, nodes: int, max_nodes: int, who: str = "draw_dot") -> "GraphTooLargeError":
        """The refusal for a graph of `nodes` value nodes, worded for the function `who`."""
        return cls(
            f"{who}: the graph behind this Value has {nodes:,} nodes, more than max_nodes={max_nodes:,};"
            " Graphviz would take a very long time to lay it out and the picture would be unreadable."
            " Draw it by layer or by neuron instead: draw_dot(root, model=<the model>, collapse=\"layer\")"
            " (one box per layer) or collapse=\"neuron\" (one box per neuron call); or draw a part of it:"
            " max_depth=3 (the last ops before the root), stop_at=<nodes whose history to leave out> (e.g. a"
            " layer's inputs, for one neuron at a time), draw_dot(<an inner node>) for the graph behind it,"
            " or pass max_nodes=None to draw everything anyway."
        )


class Drawing(graphviz.Digraph):
    """A `graphviz.Digraph` that makes sure a `dot` program exists before it renders, so a
    missing Graphviz gives `DotNotFoundError` with the two ways to get one, and asking
    graphviz-pure for a format it lacks (PDF) says so instead of failing inside it.

    `values` holds the drawn Values in DOT-id order: node `v3` is `values[3]`. A drawing by
    neuron or by layer (`collapse=`) holds its boxes in `boxes` instead: node `b3` is `boxes[3]`.
    """

    values: Tuple[Value, ...] = ()
    boxes: Tuple[Box, ...] = ()

    def pipe(self, *args: Any, **kwargs: Any) -> Any:  # also behind Jupyter's inline display
        _ensure_dot(kwargs.get("format") or (args[0] if args else None) or self.format)
        return super().pipe(*args, **kwargs)

    def render(self, *args: Any, **kwargs: Any) -> Any:  # also behind view()
        outfile = kwargs.get("outfile")
        suffix = pathlib.Path(outfile).suffix.lstrip(".") if outfile is not None else ""
        _ensure_dot(kwargs.get("format") or suffix or self.format)
        return super().render(*args, **kwargs)


def _ensure_dot(format: str) -> None:
    configure_graphviz()  # picks up a Graphviz installed since micrograd was imported
    program = find_dot()  # raises DotNotFoundError when there is none
    if format in _NOT_IN_GRAPHVIZ_PURE and pathlib.Path(program).name.startswith("graphviz-pure"):
        raise ValueError(
            f"cannot render format={format!r}: graphviz-pure (the dot program in use, {program}) writes no"
            " PDF or PostScript; use format='svg' or 'png', or install Graphviz itself (https://graphviz.org/download/)"
        )


def _escape_record(text: str) -> str:
    """`text` as a literal field of a Graphviz record label (`{ a | b }`)."""
    text = text.replace("\\", "\\\\")
    for ch in '{}|<>"':
        text = text.replace(ch, "\\" + ch)
    return text.replace("\n", "\\n")


def _escape_text(text: str) -> str:
    """`text` as a literal plain label: no escape sequences, never read as an HTML label."""
    return cast(str, graphviz.nohtml(text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")))


def _walk(root: Value, max_depth: Optional[int], stop_at: Set[Value]) -> Tuple[List[Value], Set[Value]]:
    """The nodes to draw, parents before children (the engine's topological order when
    nothing is cut), and the set of nodes whose parents are not drawn."""
    depth = {root: 0}
    if max_depth is not None:  # breadth first: a node's depth is its shortest distance to root
        frontier = [root]
        while frontier:
            nxt = []
            for node in frontier:
                if depth[node] >= max_depth or node in stop_at:
                    continue
                for parent in node.parents:
                    if parent not in depth:
                        depth[parent] = depth[node] + 1
                        nxt.append(parent)
            frontier = nxt

    def expands(node: Value) -> bool:
        return node not in stop_at and (max_depth is None or depth[node] < max_depth)

    order = topological_order(root, expand=expands)
    return order, {node for node in order if node.parents and not expands(node)}


class _Moment:
    """One moment of a pass, as the drawing needs it."""

    def __init__(self, forward: bool, node: Value, known: Dict[Value, float],
                 amounts: Tuple[Optional[float], ...] = (), grad: float = 0.0) -> None:
        self.forward = forward  # forward: `known` holds data; backward: grads
        self.node = node
        self.known = known
        # Backward: the gradient `node` gave along each edge, in `node.parents` order (None
        # for an edge that carried nothing new); empty when it pushed nothing.
        self.amounts = amounts
        self.grad = grad  # the gradient `node` pushed


def _moment(root: Value, highlight: Highlight) -> _Moment:
    if isinstance(highlight, ForwardStep):
        return _Moment(True, highlight.node, {n: n.data for n in highlight.computed})
    if isinstance(highlight, BackwardStep):
        node = highlight.node
        if highlight.custom:  # amounts were read off per parent: show each once
            by_parent = dict(highlight.pushed)
            parents = node.parents
            amounts = tuple(by_parent.get(p) if parents.index(p) == j else None for j, p in enumerate(parents))
        else:
            amounts = tuple(amount for _, amount in highlight.pushed)
        return _Moment(False, node, highlight.grads, amounts, highlight.grad)
    if not isinstance(highlight, Value):
        raise TypeError(
            f"highlight must be a Value, BackwardStep or ForwardStep, got {type(highlight).__name__}: {highlight!r}"
        )
    # A bare node: the moment right after it is processed, reading the live gradients
    # (right while `backward_steps` is at this node, or after the pass, when all are final).
    backward_order = topological_order(root)[::-1]
    try:
        processed = backward_order[: backward_order.index(highlight) + 1]  # Value == is identity
    except ValueError:
        raise ValueError(f"draw_dot: the highlighted node {highlight!r} is not in the graph behind {root!r}") from None
    known = {}
    for node in processed:
        known[node] = node.grad
        if node.grad != 0.0 or _by_hand(node):
            for parent in node.parents:
                known[parent] = parent.grad
    g = highlight.grad
    # What backward() adds along each edge (a hand-written _backward's amounts are unknown).
    pushes = not _by_hand(highlight) and not highlight.is_leaf and g != 0.0
    amounts = tuple(edge_gradients(highlight)) if pushes else ()
    return _Moment(False, highlight, known, amounts, g)


def _as_set(nodes: Any, name: str) -> Set[Value]:
    if nodes is None:
        return set()
    if hasattr(nodes, "parameters") and callable(nodes.parameters):  # a Module
        nodes = nodes.parameters()
    if isinstance(nodes, Value):
        nodes = [nodes]
    out = set()
    for node in nodes:
        if not isinstance(node, Value):
            raise TypeError(f"{name} must hold Values, got {type(node).__name__}: {node!r}")
        out.add(node)
    return out


def draw_dot(
    root: Value,
    format: str = "svg",
    rankdir: str = "LR",
    *,
    show_local: bool = False,
    color_by_grad: bool = False,
    params: Any = None,
    inputs: Any = None,
    highlight: Optional[Highlight] = None,
    max_nodes: Optional[int] = 1000,
    max_depth: Optional[int] = None,
    stop_at: Optional[Iterable[Value]] = None,
    precision: int = 4,
    model: Optional[Module] = None,
    collapse: Optional[str] = None,
    legend: bool = False,
) -> Drawing:
    """Draw the computation graph behind `root` as a `graphviz.Digraph`.

    In Jupyter the result displays inline; `.render("name")` writes `name.svg`, and
    `.pipe(format="png")` gives the bytes. Rendering needs a `dot` program: a system
    Graphviz or the `graphviz-pure` executable installed with micrograd.

    Args:
        root: the node to draw the graph of (usually a loss).
        format: the output format for `render`/`pipe` ("svg", "png", ...).
        rankdir: "LR" (inputs left, root right), "TB", "RL" or "BT".
        show_local: label each edge from an input to an op with the local derivative
            d(out)/d(in) that the chain rule multiplies by (blank for a hand-written
            `_backward`, whose derivatives are not recorded).
        color_by_grad: fill each value node by |grad|, darkest for the largest in view.
        params: the parameters (an iterable of Values or a Module), drawn with a blue
            border. `inputs`: the inputs, green. When either is given, every other leaf
            is drawn as a constant (grey, dashed); otherwise leaves are not marked.
        highlight: one moment of a pass: a `BackwardStep` or `ForwardStep` (see
            `micrograd.steps`), or a node, meaning the backward pass right after that
            node pushed its gradient (reading the live `.grad`s). The node and the edges
            gradient just flowed along are red; numbers not known yet show "?".
        max_nodes: refuse (`GraphTooLargeError`) to draw more value nodes than this;
            None draws any size (a 66,000-node graph takes Graphviz many minutes).
        max_depth: draw only the last `max_depth` ops before the root; deeper nodes are
            left out and the cut nodes say how many inputs are not drawn.
        stop_at: nodes whose own history is not drawn (for example a layer's inputs, to
            draw one layer or one neuron at a time).
        precision: decimals shown for data and grad.
        model: with `collapse`, the Module whose calls built the graph (an MLP, Layer,
            Neuron, or a Sequential holding them).
        collapse: "neuron" draws each call of a neuron (its weighted sum and activation)
            as one box showing its output's data and grad; "layer" merges every call of a
            layer into one box showing how many calls it merges and the gradient norm of
            its parameters. Inputs, constants and the loss's ops are drawn node by node
            when there are few (at most 20 ops, and 20 leaves), else merged: the model's
            inputs into an "inputs" box, ops into one box per connected stretch ("loss"
            holds the root).
            A parameter read outside its neuron (an L2 term) comes from its layer's box
            along a dashed edge (by neuron: from a box of that layer's parameters).
            `highlight` may then only be a Value (its box is marked), and `show_local`,
            `max_depth` and `stop_at` do not apply. See `micrograd.visual.collapse`.
        legend: add a legend that explains the drawing's border colours, fills, boxes and
            edge numbers (only those that appear in it).

    Raises:
        GraphTooLargeError: more than `max_nodes` value nodes (or boxes) would be drawn.
        ValueError: a bad option, `collapse` without `model`, or a `model` none of whose
            neurons was called in the graph.
    """
    if not isinstance(root, Value):
        raise TypeError(f"draw_dot needs a Value, got {type(root).__name__}: {root!r}")
    if rankdir not in _RANKDIRS:
        raise ValueError(f"draw_dot rankdir must be one of {_RANKDIRS}, got {rankdir!r}")
    for name, n in (("max_nodes", max_nodes), ("max_depth", max_depth)):
        if n is not None and (isinstance(n, bool) or not isinstance(n, int) or n < 0):
            raise ValueError(f"draw_dot {name} must be a non-negative int or None, got {n!r}")
    if isinstance(precision, bool) or not isinstance(precision, int) or not 0 <= precision <= 17:
        raise ValueError(f"draw_dot precision must be an int from 0 to 17, got {precision!r}")
    flag("draw_dot legend", legend)
    if collapse is not None or model is not None:
        return _draw_collapsed(root, model, collapse, format=format, rankdir=rankdir, show_local=show_local,
                               color_by_grad=color_by_grad, params=params, inputs=inputs, highlight=highlight,
                               max_nodes=max_nodes, max_depth=max_depth, stop_at=stop_at, precision=precision,
                               legend=legend)

    nodes, cut = _walk(root, max_depth, _as_set(stop_at, "stop_at"))
    if max_nodes is not None and len(nodes) > max_nodes:
        raise GraphTooLargeError.for_graph(len(nodes), max_nodes)
    moment = _moment(root, highlight) if highlight is not None else None
    if moment is not None and moment.node not in set(nodes):
        raise ValueError(f"draw_dot: the highlighted node {moment.node!r} is not in the drawn graph")
    param_set, input_set = _as_set(params, "params"), _as_set(inputs, "inputs")
    mark_leaves = bool(param_set or input_set)

    dot = Drawing(format=format, graph_attr={"rankdir": rankdir})
    dot.values = tuple(nodes)
    ids = {node: f"v{i}" for i, node in enumerate(nodes)}
    shown = {node: _shown_numbers(node, moment) for node in nodes}
    largest = max((abs(g) for _, g in shown.values() if g is not None), default=0.0)
    for node in nodes:
        data, grad = shown[node]
        fields = [_escape_record(node.label)] if node.label else []
        fields.append("data " + (_UNKNOWN if data is None else f"{data:.{precision}f}"))
        fields.append("grad " + (_UNKNOWN if grad is None else f"{grad:.{precision}f}"))
        attrs = {"shape": "record", "label": "{ " + " | ".join(fields) + " }"}
        styles = []
        if mark_leaves and node.is_leaf:
            styles += _mark_leaf(attrs, node, param_set, input_set)
        if color_by_grad and grad is not None:
            level = 0 if largest == 0.0 else round(abs(grad) / largest * (len(_GRAD_COLOURS) - 1))
            attrs["fillcolor"] = _GRAD_COLOURS[level]
            styles.append("filled")
        if moment is not None and node is moment.node:
            attrs.update(color=_HIGHLIGHT_COLOUR, penwidth="3")
        if styles:
            attrs["style"] = ",".join(styles)
        dot.node(ids[node], **attrs)
        if node.parents:
            _draw_op(dot, node, ids, node in cut, moment, show_local, precision)
    if legend:
        drawn = {_leaf_kind(n, param_set, input_set) for n in nodes if mark_leaves and n.is_leaf}
        if any(n.op == "affine" and len(n.operands) != len(n.parents) for n in nodes if n not in cut):
            drawn.add("constant")  # a neuron fed plain numbers: they are drawn as constants
        hand = any(_by_hand(n) for n in nodes)
        _draw_legend(dot, _plain_legend(drawn, color_by_grad, moment, show_local, hand, any(n in cut for n in nodes)))
    return dot


def _shown_numbers(node: Value, moment: Optional[_Moment]) -> Tuple[Optional[float], Optional[float]]:
    """(data, grad) as the drawing shows them: None where not known at the drawn moment."""
    if moment is None:
        return node.data, node.grad
    if moment.forward:  # values appear one by one; gradients are not part of the forward pass
        return (node.data if node in moment.known else None), None
    return node.data, moment.known.get(node)


def _leaf_kind(node: Value, params: Set[Value], inputs: Set[Value]) -> str:
    return "parameter" if node in params else "input" if node in inputs else "constant"


def _mark_leaf(attrs: Dict[str, str], node: Value, params: Set[Value], inputs: Set[Value]) -> List[str]:
    """Style a leaf as a parameter, an input or a constant; returns the styles to add."""
    if node in params:
        attrs.update(color=_PARAM_COLOUR, penwidth="2", tooltip="parameter")
        return []
    if node in inputs:
        attrs.update(color=_INPUT_COLOUR, penwidth="2", tooltip="input")
        return []
    attrs.update(color=_CONSTANT_COLOUR, fontcolor=_CONSTANT_COLOUR, tooltip="constant")
    return ["dashed"]


def _draw_op(dot: Drawing, node: Value, ids: Dict[Value, str], cut: bool, moment: Optional[_Moment],
             show_local: bool, precision: int) -> None:
    """The op node that made `node`, the edge to it, and the edges from its inputs."""
    name = ids[node]
    op = name + "_op"
    # Highlighted: the node of a forward step, or a backward step that pushed gradient.
    current = moment is not None and node is moment.node and (moment.forward or any(
        a is not None for a in moment.amounts))
    label = node.op or "?"
    constants = [a for a in node.operands if not isinstance(a, Value)]
    if node.op in ("*", "+") and constants:
        label = f"{node.op} {constants[0]:g}"  # x * c, x + c: the constant is part of the op
    if cut:
        k = len(node.parents)
        label += f"\n({k} input{'s' if k > 1 else ''} not drawn)"
    attrs = {"label": _escape_text(label)}
    if current:
        attrs.update(_hot())
    dot.node(op, **attrs)
    dot.edge(op, name, **(_hot() if current else {}))
    if cut:
        return
    local = node.local_grads  # None for a hand-written _backward: its derivatives are not recorded
    amounts = moment.amounts if moment is not None and current else ()
    j = 0  # the parent's position: local derivatives and amounts are per parent
    for position, operand in enumerate(node.operands):
        if not isinstance(operand, Value):
            if node.op == "affine":  # a neuron fed plain numbers: each is an input, drawn as a constant
                _draw_constant(dot, f"{op}_c{position}", operand, op, precision)
            continue
        edge: Dict[str, str] = {}
        if show_local and local is not None:
            edge["label"] = _escape_text(f"{local[j]:.{precision}g}")
        if current:
            edge.update(_hot())
            amount = amounts[j] if j < len(amounts) else None
            if amount is not None and moment is not None and local is not None and "label" in edge:
                # the chain rule: local * grad = what is added
                edge["label"] = _escape_text(
                    f"{local[j]:.{precision}g} * {moment.grad:.{precision}g} = {amount:.{precision}g}"
                )
            elif amount is not None:
                edge["label"] = _escape_text(f"+= {amount:.{precision}g}")
        dot.edge(ids[operand], op, **edge)
        j += 1


def _draw_constant(dot: Drawing, name: str, value: float, op: str, precision: int) -> None:
    """A constant operand as a dashed box feeding its op (no gradient flows into it)."""
    dot.node(name, label=_escape_text(f"{value:.{precision}g}"), shape="box", style="dashed",
             color=_CONSTANT_COLOUR, fontcolor=_CONSTANT_COLOUR, tooltip="constant")
    dot.edge(name, op, style="dashed", color=_CONSTANT_COLOUR)


def _by_hand(node: Value) -> bool:
    """Built the lecture's way, `Value(data, children, op)`: its derivatives are in user code."""
    return node.primitive is None and not node.is_leaf


def _hot() -> Dict[str, str]:
    return {"color": _HIGHLIGHT_COLOUR, "fontcolor": _HIGHLIGHT_COLOUR, "penwidth": "2"}


# --- the legend ------------------------------------------------------------------------------

class _Entry(NamedTuple):
    """One row of the legend: a small sample drawn as the drawing draws it, and its meaning."""

    sample: str  # the sample's text
    meaning: str
    color: str = "black"  # the sample's border
    border: int = 1  # its width; 0 for none (a number on an edge, an op's name)
    dashed: bool = False
    fill: str = ""
    fontcolor: str = "black"


_LEAF_ENTRIES = {
    "parameter": _Entry("w", "blue border: a parameter (trained)", _PARAM_COLOUR, 2),
    "input": _Entry("x", "green border: an input", _INPUT_COLOUR, 2),
    "constant": _Entry("1", "grey, dashed: a constant (neither parameter nor input)", _CONSTANT_COLOUR, 1, True,
                       fontcolor=_CONSTANT_COLOUR),
}


def _plain_legend(leaves: Set[str], color_by_grad: bool, moment: Optional[_Moment], show_local: bool,
                  hand: bool, cut: bool) -> List[_Entry]:
    """The legend's rows for a node-by-node drawing: only what this drawing shows."""
    entries = [
        _Entry("label | data | grad", "a value: its number, and d(root)/d(value)"),
        _Entry("+", "an ellipse: the op that made the value its arrow points to", border=0),
    ]
    entries += [_LEAF_ENTRIES[kind] for kind in ("parameter", "input", "constant") if kind in leaves]
    if color_by_grad:
        entries.append(_Entry("grad", "fill: |grad|, darkest for the largest in the drawing", fill=_GRAD_COLOURS[-2]))
    if moment is not None:
        entries.append(_Entry("node", "red border: the node of this step", _HIGHLIGHT_COLOUR, 3))
        if not moment.forward:
            entries.append(_Entry("+= g", "red edge: gradient this step adds to an input", border=0,
                                  fontcolor=_HIGHLIGHT_COLOUR))
        entries.append(_Entry(_UNKNOWN, "not known yet at this step", border=0))
    if show_local:
        entries.append(_Entry("0.5", "a number on an edge into an op: the local derivative d(op)/d(input),"
                              " the factor the chain rule multiplies by", border=0))
        if moment is not None and not moment.forward:
            entries.append(_Entry("l * g = a", "the chain rule at this step: local derivative * grad = added",
                                  border=0, fontcolor=_HIGHLIGHT_COLOUR))
        if hand:
            entries.append(_Entry("", "no number: a hand-written _backward (its derivatives are not recorded)",
                                  border=0))
    if cut:
        entries.append(_Entry("(k inputs not drawn)", "the graph goes on behind this op", border=0))
    return entries


def _draw_legend(dot: Drawing, entries: List[_Entry]) -> None:
    """The rows as one node, `legend`: an HTML-like table, so the rows keep their order in any layout."""
    rows = []
    for e in entries:
        cell = [f'border="{e.border}"', f'color="{e.color}"']
        if e.dashed:
            cell.append('style="dashed"')
        if e.fill:
            cell.append(f'bgcolor="{e.fill}"')
        sample = f'<font color="{e.fontcolor}">{html.escape(e.sample)}</font>' if e.sample else " "
        rows.append(f'<tr><td {" ".join(cell)}>{sample}</td><td align="left">{html.escape(e.meaning)}</td></tr>')
    frame = f'border="1" cellborder="0" cellspacing="4" cellpadding="3" style="dashed" color="{_CONSTANT_COLOUR}"'
    table = (f"<table {frame}>"
             '<tr><td colspan="2"><b>legend</b></td></tr>' + "".join(rows) + "</table>")
    dot.node("legend", label=f"<{table}>", shape="plaintext", fontsize="11")


# --- drawing by neuron or by layer -------------------------------------------------------------

def _draw_collapsed(root: Value, model: Any, collapse: Any, *, format: str, rankdir: str, show_local: bool,
                    color_by_grad: bool, params: Any, inputs: Any, highlight: Any, max_nodes: Optional[int],
                    max_depth: Optional[int], stop_at: Any, precision: int, legend: bool) -> Drawing:
    if collapse is None:
        raise ValueError(
            "draw_dot: model= is used only to draw the graph by neuron or by layer; pass collapse=\"neuron\" or"
            " collapse=\"layer\" with it (to mark the model's parameters in a node-by-node drawing, pass"
            " params=model instead)"
        )
    one_of("draw_dot collapse", collapse, COLLAPSE_MODES)
    if model is None:
        raise ValueError(
            f"draw_dot collapse={collapse!r} needs model=, the Module whose calls built the graph"
            " (the MLP, Layer, Neuron or Sequential), to find its neurons"
        )
    instance_of("draw_dot model", model, Module, "a Module (an MLP, Layer, Neuron or Sequential)")
    for name, given in (("max_depth", max_depth is not None), ("stop_at", stop_at is not None),
                        ("show_local", show_local)):
        if given:
            raise ValueError(
                f"draw_dot: {name} does not apply with collapse={collapse!r} (a box merges many ops and edges);"
                f" draw without collapse= to use {name}"
            )
    if highlight is not None and not isinstance(highlight, Value):
        raise ValueError(
            f"draw_dot: with collapse={collapse!r}, highlight may only be a Value (its box is marked), got"
            f" {type(highlight).__name__}; a moment of a pass (a BackwardStep or ForwardStep) is drawn node by"
            " node: draw without collapse=, with max_depth= or stop_at= for a big graph"
        )
    graph = collapse_graph(root, model, collapse)
    if max_nodes is not None and len(graph.boxes) > max_nodes:
        hint = ' collapse="layer" draws one box per layer,' if collapse == "neuron" else ""
        raise GraphTooLargeError(
            f"draw_dot: collapse={collapse!r} still gives {len(graph.boxes):,} boxes, more than"
            f" max_nodes={max_nodes:,};{hint} draw_dot(<one output>) draws a smaller graph, or pass max_nodes=None"
            " to draw it anyway."
        )
    marked = _highlighted_boxes(graph, highlight, root, collapse) if highlight is not None else []
    param_set, input_set = _as_set(params, "params"), _as_set(inputs, "inputs")
    mark_leaves = bool(param_set or input_set)

    dot = Drawing(format=format, graph_attr={"rankdir": rankdir})
    dot.boxes = tuple(graph.boxes)
    ids = {id(box): f"b{i}" for i, box in enumerate(graph.boxes)}
    shown = {id(box): _box_grad(box) for box in graph.boxes}
    largest = max((abs(g) for g in shown.values() if g is not None), default=0.0)
    leaf_kinds = set()
    for box in graph.boxes:
        name = ids[id(box)]
        attrs = {"shape": "record", "label": _box_label(box, precision, rankdir)}
        styles = []
        if box.kind == "value" and box.output is not None and box.output.is_leaf and mark_leaves:
            styles += _mark_leaf(attrs, box.output, param_set, input_set)
            leaf_kinds.add(_leaf_kind(box.output, param_set, input_set))
        elif box.kind in ("layer", "parameters"):
            attrs.update(color=_PARAM_COLOUR, penwidth="2")
        elif box.kind in ("inputs", "leaves"):
            attrs.update(color=_INPUT_COLOUR if box.name == "inputs" else _CONSTANT_COLOUR, penwidth="2")
        elif box.kind in ("ops", "loss"):
            styles.append("rounded")
        grad = shown[id(box)]
        if color_by_grad and grad is not None:
            level = 0 if largest == 0.0 else round(abs(grad) / largest * (len(_GRAD_COLOURS) - 1))
            attrs["fillcolor"] = _GRAD_COLOURS[level]
            styles.append("filled")
        if any(box is m for m in marked):
            attrs.update(color=_HIGHLIGHT_COLOUR, penwidth="3")
        if styles:
            attrs["style"] = ",".join(styles)
        dot.node(name, **attrs)
        out = box.output
        if box.kind == "value" and out is not None and out.parents:  # one op, drawn as in a full drawing
            label = out.op or "?"
            constants = [a for a in out.operands if not isinstance(a, Value)]
            if out.op in ("*", "+") and constants:
                label = f"{out.op} {constants[0]:g}"
            dot.node(name + "_op", label=_escape_text(label))
            dot.edge(name + "_op", name)
    for src, to, count, is_param in graph.edges:
        head = ids[id(to)] + ("_op" if to.kind == "value" and to.output is not None and to.output.parents else "")
        edge: Dict[str, str] = {}
        if is_param:
            edge.update(style="dashed", color=_PARAM_COLOUR, fontcolor=_PARAM_COLOUR,
                        label=_escape_text(f"{count} parameter{'s' if count > 1 else ''}"))
        elif count > 1:
            edge["label"] = _escape_text(f"{count:,} values")
        dot.edge(ids[id(src)], head, **edge)
    if legend:
        _draw_legend(dot, _collapsed_legend(graph, leaf_kinds, color_by_grad, bool(marked)))
    return dot


def _box_grad(box: Box) -> Optional[float]:
    """The number `color_by_grad` fills a box by: its output's grad, or its parameters' norm."""
    if box.kind in ("layer", "parameters"):
        return box.grad_norm
    if box.kind in ("inputs", "leaves") or box.output is None:
        return None
    return float(box.output.grad)


def _box_label(box: Box, precision: int, rankdir: str) -> str:
    """A box's record label: its rows one above the other, a row's fields side by side."""
    def number(x: float) -> str:
        return f"{x:.{precision}f}"

    rows: List[Union[str, Tuple[str, ...]]]
    out = box.output
    if box.kind == "value":  # one node alone, as a node-by-node drawing shows it: label | data | grad
        node = box.nodes[0]
        fields = ([node.label] if node.label else []) + ["data " + number(node.data), "grad " + number(node.grad)]
        return "{ " + " | ".join(_escape_record(f) for f in fields) + " }"
    if box.kind == "neuron" and out is not None:
        rows = [box.name or "neuron", (repr(box.module), "data " + number(out.data), "grad " + number(out.grad))]
    elif box.kind == "layer":
        neurons = len(getattr(box.module, "neurons", [box.module]))
        rows = [box.name, f"{neurons} neuron{'s' if neurons > 1 else ''}",
                f"{box.calls:,} call{'s' if box.calls != 1 else ''} ({box.neuron_calls:,} neuron calls)",
                f"grad norm {number(box.grad_norm)} ({len(box.parameters)} parameters)"]
    elif box.kind == "parameters":
        rows = [f"{box.name} parameters", f"{len(box.nodes)} read outside the neurons",
                f"grad norm {number(box.grad_norm)} (all {len(box.parameters)})"]
    elif box.kind == "inputs":
        rows = [box.name, f"{len(box.nodes):,} values"]
    else:  # merged ops
        counts: Dict[str, int] = {}
        for node in box.nodes:
            if node.parents:
                counts[node.op] = counts.get(node.op, 0) + 1
        ops = ", ".join(f"{op} x{k}" for op, k in sorted(counts.items(), key=lambda item: (-item[1], item[0])))
        leaves = sum(1 for node in box.nodes if not node.parents)
        read = f" (and {leaves:,} lea{'ves' if leaves > 1 else 'f'} they read)" if leaves else ""
        rows = [box.name, f"{sum(counts.values()):,} ops: {ops}{read}"]
        rows.append(("data " + number(out.data), "grad " + number(out.grad)) if out is not None
                    else f"{box.outputs:,} outputs")
    # A record's fields run across the rank direction and flip at each { }: in a left-to-right
    # drawing `a | { b | c }` puts a above b and c side by side; top to bottom that needs braces.
    body = " | ".join(_escape_record(r) if isinstance(r, str) else "{ " + " | ".join(map(_escape_record, r)) + " }"
                      for r in rows)
    return "{ " + body + " }" if rankdir in ("TB", "BT") else body


def _highlighted_boxes(graph: Collapsed, node: Value, root: Value, collapse: str) -> List[Box]:
    box = graph.box_of.get(node)
    if box is not None:
        return [box]
    # A parameter inside its neuron: every box (every call) of that neuron, or its layer's box.
    owners = [b for b in graph.boxes if b.module is not None and b.kind in ("neuron", "layer")
              and any(p is node for p in b.module.parameters())]
    if owners:
        return owners
    raise ValueError(f"draw_dot: the highlighted node {node!r} is not in the graph behind {root!r}")


def _collapsed_legend(graph: Collapsed, leaves: Set[str], color_by_grad: bool, highlighted: bool
                      ) -> List[_Entry]:
    """The legend's rows for a drawing by neuron or by layer: only what this drawing shows."""
    kinds = {box.kind for box in graph.boxes}
    entries = []
    if "neuron" in kinds:
        entries.append(_Entry("name | neuron | data | grad",
                              "one call of a neuron (weighted sum and activation): its output's data and grad"))
    if "layer" in kinds:
        entries.append(_Entry("name | calls | grad norm",
                              "a layer: all its calls in one box; grad norm = sqrt(sum of grad^2) of its parameters",
                              _PARAM_COLOUR, 2))
    if "parameters" in kinds:
        entries.append(_Entry("name parameters", "a layer's parameters that are read outside its neurons (L2 term)",
                              _PARAM_COLOUR, 2))
    if "inputs" in kinds or "leaves" in kinds:
        entries.append(_Entry("inputs | n values", "leaves merged into one box (green: they feed the model)",
                              _INPUT_COLOUR, 2))
    if "ops" in kinds or "loss" in kinds:
        entries.append(_Entry("loss | ops | data | grad",
                              "ops outside the neurons merged into one box"
                              " (data, grad: of its output, when it has one)"))
    if "value" in kinds:
        entries.append(_Entry("label | data | grad", "one node outside the neurons, drawn as itself"))
    entries += [_LEAF_ENTRIES[kind] for kind in ("parameter", "input", "constant") if kind in leaves]
    if any(is_param for *_, is_param in graph.edges):
        entries.append(_Entry("k parameters", "dashed blue edge: parameters read directly (the L2 term)", border=0,
                              fontcolor=_PARAM_COLOUR))
    if any(count > 1 for _, _, count, _ in graph.edges):
        entries.append(_Entry("n values", "on an edge: how many distinct nodes flow along it", border=0))
    if color_by_grad:
        entries.append(_Entry("grad", "fill: |grad| (a layer: its grad norm), darkest for the largest here",
                              fill=_GRAD_COLOURS[-2]))
    if highlighted:
        entries.append(_Entry("box", "red border: the box holding the highlighted node", _HIGHLIGHT_COLOUR, 3))
    return entries
