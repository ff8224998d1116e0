"""A big graph seen by neuron or by layer: `collapse_graph(root, model, "neuron" | "layer")`.

The engine records no module information on its nodes (that would cost every op on the
hot path), so the neurons are found afterwards, from the model: a neuron call is the node
that computes its weighted sum (the fused `affine` node, whose operands are the neuron's
own `w` and `b`, or, for `fused=False`, micrograd 0.1.0's chain `b + w0*x0 + w1*x1 + ...`)
and the activation applied to it. Boxes are named by the modules' names, the prefixes of
`named_parameters()` (`layers.0.neurons.3`).

What becomes of every node:

- neuron call → one box per call (`"neuron"`), or one box per layer merging all its calls
  (`"layer"`); a layer is a `Layer` module (an `MLP`'s `layers.0`, ...), or a `Neuron`
  that stands alone (the model itself, or an item of a `Sequential`);
- a parameter → inside its neuron's box. One read outside the neurons (an L2 term) comes
  from its layer's box (`"layer"`), or from one box per layer holding such parameters
  (`"neuron"`, where a neuron's box is one call, not the parameter's owner);
- everything else (inputs, constants, the loss's ops, ops of modules without neurons such
  as BatchNorm1d): ops, and apart from them leaves, are drawn node by node when there are
  at most `few` of them (20 in `draw_dot`). More ops are merged into one box per connected
  stretch ("loss" for the one holding the root; the ops reading one module's parameters
  are one box, named after it: "1 BatchNorm1d"); more leaves go into the box of merged ops
  that first reads them, or, when they feed the model, into one "inputs" box per box they
  feed.

It reads the engine's graph (`parents`: one `affine` node per fused neuron), not the
lecture's view (`_prev`). Standard library only (and the engine and nn below it):
`draw_dot` draws the result.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Dict, Iterator, List, Optional, Set, Tuple

from ..arguments import instance_of, one_of, whole_number
from ..engine import Value, topological_order
from ..nn import ACTIVATIONS, Layer, Module, Neuron

__all__ = ["Box", "Collapsed", "collapse_graph", "COLLAPSE_MODES"]

COLLAPSE_MODES = ("neuron", "layer")


@dataclass(eq=False)
class Box:
    """One box of a collapsed drawing.

    `kind` is "neuron" (one call of a neuron), "layer" (every call of a layer), "parameters"
    (a layer's parameters read outside its neurons), "inputs" (merged leaves), "ops" or
    "loss" (merged ops; "loss" holds the root), or "value" (one node drawn as itself). Merged
    leaves are named "inputs" when they feed the model, else "leaves".
    """

    kind: str
    name: str  # the module's name in `named_parameters()` ("layers.0.neurons.3"), or a description
    nodes: List[Value] = field(default_factory=list)  # the graph nodes it stands for, in topological order
    output: Optional[Value] = None  # the node whose data and grad it shows (a neuron's activation)
    module: Optional[Module] = None  # the Neuron or layer it shows
    calls: int = 0  # "layer": how many times the layer was called (its most-called neuron's calls)
    neuron_calls: int = 0  # "layer": how many neuron calls it merges
    parameters: List[Value] = field(default_factory=list)  # "layer", "parameters": the module's parameters
    outputs: int = 1  # "ops": how many of its nodes the rest of the graph reads (`output` is set when 1)

    @property
    def grad_norm(self) -> float:
        """sqrt(sum of grad**2) over `parameters`: how hard the last backward pass pulls on them."""
        return math.sqrt(math.fsum(p.grad * p.grad for p in self.parameters))


@dataclass(eq=False)
class Collapsed:
    """The collapsed graph: boxes in the order of their first node in the graph's topological
    order, and edges `(from, to, values, params)`: `values` is how many distinct nodes flow
    along it, `params` True for parameters read outside their neurons (an L2 term)."""

    boxes: List[Box]
    edges: List[Tuple[Box, Box, int, bool]]
    box_of: Dict[Value, Box]  # every node of the graph that some box stands for

    def find(self, kind: str) -> List[Box]:
        """The boxes of one kind, in order."""
        return [b for b in self.boxes if b.kind == kind]


@dataclass(eq=False)
class _Call:
    neuron: "_NeuronInfo"
    nodes: List[Value]
    output: Value


@dataclass(eq=False)
class _NeuronInfo:
    name: str
    neuron: Neuron
    layer_name: str
    layer: Module
    activation_op: Optional[str]  # the `op` of its activation node; None when linear


def _modules(model: Module) -> Iterator[Tuple[str, Module]]:
    """Every module under `model` (itself first), with its dotted name, depth first in
    `named_children()` order: the prefixes `named_parameters()` uses."""
    stack = [("", model)]
    while stack:
        name, module = stack.pop()
        yield name, module
        children = [(f"{name}.{n}" if name else n, m) for n, m in module.named_children()]
        stack.extend(reversed(children))


def _neurons(model: Module) -> List[_NeuronInfo]:
    activation_op = {a: (f(Value(0.0)).op if f is not None else None) for a, f in ACTIVATIONS.items()}
    layers: Dict[int, Tuple[str, Module]] = {}
    found = []
    for name, module in _modules(model):
        if isinstance(module, Layer):
            for neuron in module.neurons:
                layers[id(neuron)] = (name, module)
        elif isinstance(module, Neuron):
            layer_name, layer = layers.get(id(module), (name, module))  # a Neuron alone is its own layer
            found.append(_NeuronInfo(name, module, layer_name, layer, activation_op[module.activation]))
    return found


def _neuron_calls(order: List[Value], neurons: List[_NeuronInfo]) -> List[_Call]:
    """The neuron calls in `order`, recognised from the nodes' operands (see the module doc)."""
    by_first_weight = {n.neuron.w[0]: n for n in neurons}
    by_bias = {n.neuron.b: n for n in neurons}
    sums: Dict[Value, _Call] = {}  # a weighted sum's node → its call (done, or being built: fused=False)
    partial: Dict[Value, int] = {}  # fused=False: a partial sum → how many products it holds
    calls: List[_Call] = []
    for node in order:
        op, parents = node.op, node.parents
        if op == "affine":  # operands (w0..wn-1, x0..xn-1, b); an x may be a constant
            args = node.operands
            first = args[0]
            info = by_first_weight.get(first) if isinstance(first, Value) else None
            if info is not None:
                nin = len(info.neuron.w)
                if len(args) == 2 * nin + 1 and args[-1] is info.neuron.b and all(
                        a is w for a, w in zip(args, info.neuron.w)):
                    sums[node] = call = _Call(info, [node], node)
                    calls.append(call)
        elif op == "+" and len(parents) == 2 and len(node.operands) == 2 and parents[1].op == "*":
            # fused=False: ((b + w0*x0) + w1*x1) + ..., micrograd 0.1.0's sum((wi*xi ...), b)
            s, product = parents
            start = by_bias.get(s)
            k = 0 if start is not None else partial.get(s, -1)
            info = start if start is not None else (sums[s].neuron if k > 0 else None)
            if info is not None and product.operands[0] is info.neuron.w[k] and len(product.operands) == 2:
                call = _Call(info, [], node) if k == 0 else sums.pop(s)
                partial.pop(s, None)
                call.nodes += [product, node]
                call.output = node
                sums[node] = call
                if k + 1 == len(info.neuron.w):
                    calls.append(call)
                else:
                    partial[node] = k + 1
        elif len(parents) == 1 and len(node.operands) == 1:  # an activation of a finished sum
            found = sums.get(parents[0])
            if found is not None and parents[0] not in partial and op == found.neuron.activation_op \
                    and found.output is parents[0]:
                found.nodes.append(node)
                found.output = node
    return calls


def collapse_graph(root: Value, model: Module, by: str, *, few: int = 20) -> Collapsed:
    """The graph behind `root` with `model`'s neurons as boxes: one per call
    (`by="neuron"`) or one per layer (`by="layer"`); see the module doc for the rest.

    `few`: at most this many ops (and, apart, leaves) outside the neurons are drawn one by
    one; more are merged.

    Raises:
        TypeError: `root` is not a Value or `model` not a Module.
        ValueError: `by` is not "neuron" or "layer", `model` holds no Neuron, or no neuron
            of `model` was called in the graph.
    """
    instance_of("collapse_graph root", root, Value, "a Value")
    instance_of("collapse_graph model", model, Module, "a Module (an MLP, Layer, Neuron or Sequential)")
    one_of("collapse", by, COLLAPSE_MODES)
    whole_number("collapse_graph few", few)
    neurons = _neurons(model)
    if not neurons:
        raise ValueError(
            f"collapse={by!r}: {type(model).__name__} holds no Neuron (it has no Layer, MLP or Neuron inside),"
            " so there is nothing to draw as a neuron or layer box; draw it without collapse="
        )
    order = topological_order(root)
    calls = _neuron_calls(order, neurons)
    if not calls:
        raise ValueError(
            f"collapse={by!r}: no neuron of the given model ({type(model).__name__} with {len(neurons)} neurons)"
            " was called in the graph behind this Value; pass the model whose calls built the graph"
        )
    owner: Dict[Value, _NeuronInfo] = {p: n for n in neurons for p in n.neuron.parameters()}
    call_of: Dict[Value, _Call] = {node: call for call in calls for node in call.nodes}

    box_of: Dict[Value, Box] = {}
    layer_boxes: Dict[int, Box] = {}  # id(layer module) → its box
    param_boxes: Dict[int, Box] = {}

    def layer_box(info: _NeuronInfo, kind: str) -> Box:
        boxes = layer_boxes if kind == "layer" else param_boxes
        box = boxes.get(id(info.layer))
        if box is None:
            name = info.layer_name or type(info.layer).__name__
            box = boxes[id(info.layer)] = Box(kind, name, module=info.layer, parameters=info.layer.parameters())
        return box

    calls_of: Dict[int, Dict[int, int]] = {}  # id(layer) → id(neuron) → how many calls of it
    for call in calls:
        if by == "neuron":
            box = Box("neuron", call.neuron.name, list(call.nodes), call.output, call.neuron.neuron)
        else:
            box = layer_box(call.neuron, "layer")
            box.nodes += call.nodes
            box.neuron_calls += 1
            counts = calls_of.setdefault(id(call.neuron.layer), {})
            counts[id(call.neuron.neuron)] = counts.get(id(call.neuron.neuron), 0) + 1
        for node in call.nodes:
            box_of[node] = box
    for key, box in layer_boxes.items():
        box.calls = max(calls_of[key].values())  # a call of the layer calls each of its neurons once

    # A parameter read by its own neuron's call is inside that box; read anywhere else, it
    # comes from its layer's box ("layer") or its layer's parameters box ("neuron").
    for node in order:
        reader = call_of.get(node)
        for parent in node.parents:
            info = owner.get(parent)
            if info is None or parent in box_of or (reader is not None and reader.neuron is info):
                continue
            if by == "layer":
                box_of[parent] = layer_box(info, "layer")
            else:
                box_of[parent] = box = layer_box(info, "parameters")
                box.nodes.append(parent)

    # The rest, ops and leaves apart: each drawn as itself when there are few, else merged.
    rest = [n for n in order if n not in box_of and n not in call_of and n not in owner]
    ops, leaves = [n for n in rest if n.parents], [n for n in rest if not n.parents]
    # The parameters of modules without neurons (BatchNorm1d's weight and bias), by module.
    module_of = {p: (name, m) for name, m in _modules(model)
                 if not isinstance(m, Neuron) and not any(True for _ in m.named_children()) for p in m.parameters()}
    if len(ops) > few:
        _merge_ops(ops, root, box_of, module_of)
    _each_alone(ops, box_of)
    if len(leaves) > few:  # after the ops, whose merged boxes take in the leaves they read
        _merge_leaves(leaves, order, box_of)
    _each_alone(leaves, box_of)

    # Boxes in the order of their first node (for an MLP: inputs, layer by layer, the loss).
    position = {node: i for i, node in enumerate(order)}
    seen: Dict[int, Box] = {}
    for node in order:
        found = box_of.get(node)
        if found is not None and id(found) not in seen:
            seen[id(found)] = found
    boxes = sorted(seen.values(), key=lambda b: _first(b, position))

    flows: Dict[Tuple[int, int, bool], Set[Value]] = {}
    ends: Dict[Tuple[int, int, bool], Tuple[Box, Box, bool]] = {}
    for node in order:
        to = box_of.get(node)
        if to is None:
            continue
        reader = call_of.get(node)
        for parent in node.parents:
            src = box_of.get(parent)
            if src is None or src is to or (reader is not None and owner.get(parent) is reader.neuron):
                continue  # inside one box, or a parameter read by its own neuron (it is in every call's box)
            is_param = parent in owner  # a parameter read outside its neuron (an L2 term)
            edge = (id(src), id(to), is_param)
            flows.setdefault(edge, set()).add(parent)
            ends[edge] = (src, to, is_param)
    edges = [(src, to, len(flows[edge]), params) for edge, (src, to, params) in ends.items()]
    # A box of merged ops shows the number it hands on, when it hands on one (else none).
    handed: Dict[int, Set[Value]] = {}
    for (src_id, _, _), values in flows.items():
        handed.setdefault(src_id, set()).update(values)
    for box in boxes:
        if box.kind == "ops":
            out = handed.get(id(box), set())
            box.output = next(iter(out)) if len(out) == 1 else None
            box.outputs = len(out)
    return Collapsed(boxes, edges, box_of)


def _first(box: Box, position: Dict[Value, int]) -> int:
    """Where a box goes in the order: at its first node, except that a layer box is placed by
    its neuron calls (a parameter read by the L2 term is a leaf, early in the order)."""
    nodes = [n for n in box.nodes if n.parents] or box.nodes
    return min(position[n] for n in nodes) if nodes else 0


def _each_alone(nodes: List[Value], box_of: Dict[Value, Box]) -> None:
    """A box of its own for each node not merged into one."""
    for node in nodes:
        if node not in box_of:
            box_of[node] = Box("value", node.label or node.op or "value", [node], node)


def _merge_ops(ops: List[Value], root: Value, box_of: Dict[Value, Box],
               module_of: Dict[Value, Tuple[str, Module]]) -> None:
    """Ops outside every neuron: one box per connected stretch, where the ops that read one
    module's parameters count as connected (a BatchNorm1d's features are one box, named
    after it)."""
    leader = {n: n for n in ops}  # union-find over the edges between these ops

    def find(n: Value) -> Value:
        while leader[n] is not n:
            leader[n] = leader[leader[n]]
            n = leader[n]
        return n

    def union(a: Value, b: Value) -> None:
        a, b = find(a), find(b)
        if a is not b:
            leader[a] = b

    first_reader: Dict[int, Value] = {}  # id(module) → the first op that reads its parameters
    for node in ops:
        for p in node.parents:
            if p in leader:
                union(node, p)
            elif p in module_of:
                union(node, first_reader.setdefault(id(module_of[p][1]), node))
    groups: Dict[Value, Box] = {}
    for node in ops:  # in topological order, so each box's nodes are too
        box = groups.get(find(node))
        if box is None:
            box = groups[find(node)] = Box("ops", "ops")
        box.nodes.append(node)
        box_of[node] = box
        for p in node.parents:
            if p in module_of and box.module is None:
                name, module = module_of[p]
                box.name, box.module = f"{name} {type(module).__name__}".strip(), module
    for box in groups.values():
        if root in box.nodes:
            box.kind, box.name, box.output = "loss", "loss", root


def _merge_leaves(leaves: List[Value], order: List[Value], box_of: Dict[Value, Box]) -> None:
    """Leaves outside every neuron: into the box of merged ops that first reads them (a
    constant, a BatchNorm1d's weight), else into one box per box they feed ("inputs" when
    that is a neuron or a layer)."""
    waiting = set(leaves)
    reader: Dict[Value, Box] = {}
    for node in order:  # each leaf's first reader, in topological order
        for p in node.parents:
            if p in waiting and p not in reader and node in box_of:
                reader[p] = box_of[node]
    leaf_boxes: Dict[int, Box] = {}
    for leaf in leaves:
        first = reader.get(leaf)
        if first is not None and first.kind in ("ops", "loss"):
            first.nodes.append(leaf)
            box_of[leaf] = first
            continue
        box = leaf_boxes.get(id(first))
        if box is None:
            feeds_model = first is not None and first.kind in ("neuron", "layer")
            box = leaf_boxes[id(first)] = Box("inputs", "inputs" if feeds_model else "leaves")
        box.nodes.append(leaf)
        box_of[leaf] = box
