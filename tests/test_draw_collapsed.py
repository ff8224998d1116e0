"""draw_dot(root, model=..., collapse="neuron" | "layer"): big graphs drawn by neuron call or by
layer, and the legend (`legend=True`).

The numbers in the boxes are checked against references computed here without the boxes: a
plain-float forward and backward pass for one point, and the parameters' gradients for the
layers' norms. The demo's full loss (8,114 nodes) is rendered through graphviz-pure; the time
it takes is printed (`pytest -s`), never asserted.
"""

from __future__ import annotations

import json
import math
import pathlib
import random
import re
import time
import xml.etree.ElementTree as ET

import pytest
from graphs import SVG, svg_nodes

from micrograd import GraphTooLargeError, Value, backward_steps, draw_dot, topological_order
from micrograd.nn import MLP, Activation, BatchNorm1d, Layer, Neuron, Sequential
from micrograd.visual import collapse_graph

DATA = json.loads((pathlib.Path(__file__).parent / "data" / "moons_1337.json").read_text())


def demo_loss(fused=True):
    """karpathy's demo loss before training: MLP 2-16-16-1 (seed 1337) on 100 points, hinge + L2."""
    random.seed(1337)
    model = MLP(2, [16, 16, 1], fused=fused)
    scores = [model([Value(x) for x in row]) for row in DATA["X"]]
    losses = [(1 + -yi * si).relu() for yi, si in zip(DATA["y"], scores)]
    loss = sum(losses) * (1.0 / len(losses)) + 1e-4 * sum(p * p for p in model.parameters())
    loss.backward()
    return loss, model


@pytest.fixture(scope="module")
def demo():
    return demo_loss()


def one_point(model, i=0):
    """The hinge loss of training point i alone, after backward()."""
    x = [Value(v, label=f"x{k}") for k, v in enumerate(DATA["X"][i])]
    loss = (1 + -DATA["y"][i] * model(x)).relu()
    model.zero_grad()
    loss.backward()
    return loss, x


def float_reference(model, i=0):
    """Each neuron's output and d(loss)/d(output) for point i's hinge loss, with plain floats
    and the chain rule written out by hand: {neuron name: (data, grad)}."""
    x, y = DATA["X"][i], DATA["y"][i]
    acts, zs = [list(x)], []
    for li, layer in enumerate(model.layers):
        z = [n.b.data + sum(w.data * a for w, a in zip(n.w, acts[-1])) for n in layer.neurons]
        zs.append(z)
        acts.append(z if li == len(model.layers) - 1 else [max(0.0, v) for v in z])
    margin = 1 - y * acts[-1][0]
    grads = [None] * len(model.layers)
    grads[-1] = [-y if margin > 0 else 0.0]  # d relu(1 - y*s) / ds
    for li in range(len(model.layers) - 2, -1, -1):
        nxt = model.layers[li + 1].neurons
        # d loss/d a_j = sum over the next layer's neurons k of w_kj * (its activation's slope) * grad_k
        slope = [1.0 if li + 1 == len(model.layers) - 1 else float(zk > 0) for zk in zs[li + 1]]
        grads[li] = [sum(n.w[j].data * s * g for n, s, g in zip(nxt, slope, grads[li + 1]))
                     for j in range(len(model.layers[li].neurons))]
    return {f"layers.{li}.neurons.{j}": (acts[li + 1][j], grads[li][j])
            for li in range(len(model.layers)) for j in range(len(model.layers[li].neurons))}


def records(dot):
    """{DOT id: the record's fields} for every box of a drawing."""
    found = {}
    for line in dot.body:
        m = re.match(r'\s*(b\d+) \[label="(.*?)"', line)
        if m:
            label = m.group(2).replace("{ ", "").replace(" }", "")  # the fields, whatever their layout
            found[m.group(1)] = [f.strip() for f in label.split(" | ")]
    return found


def svg_positions(svg):
    """{node title: x of its first text} in a rendered SVG."""
    root = ET.fromstring(svg)
    return {g.find(SVG + "title").text: float(g.find(SVG + "text").get("x"))
            for g in root.iter(SVG + "g") if g.get("class") == "node"}


# --- by layer ---------------------------------------------------------------------------------

def test_the_demo_loss_by_layer_reads_inputs_then_the_three_layers_then_the_loss(demo):
    loss, model = demo
    assert len(topological_order(loss)) == 8114
    start = time.perf_counter()
    dot = draw_dot(loss, model=model, collapse="layer")
    svg = dot.pipe(format="svg", encoding="utf-8")
    seconds = time.perf_counter() - start
    print(f"\ndemo loss (8,114 nodes) by layer: draw_dot and SVG rendering took {seconds:.2f} s")
    assert [(b.kind, b.name) for b in dot.boxes] == [
        ("inputs", "inputs"), ("layer", "layers.0"), ("layer", "layers.1"), ("layer", "layers.2"), ("loss", "loss")]
    main = [line.strip() for line in dot.body if "->" in line and "dashed" not in line]
    assert main == ['b0 -> b1 [label="200 values"]', 'b1 -> b2 [label="1,600 values"]',
                    'b2 -> b3 [label="1,600 values"]', 'b3 -> b4 [label="100 values"]']
    x = svg_positions(svg)
    assert sorted(x, key=x.get) == ["b0", "b1", "b2", "b3", "b4"]  # left to right, as rankdir="LR" puts them


def test_a_layer_box_shows_its_calls_and_its_parameters_gradient_norm(demo):
    loss, model = demo
    dot = draw_dot(loss, model=model, collapse="layer")
    fields = records(dot)
    for i, (box_id, neurons) in enumerate([("b1", 16), ("b2", 16), ("b3", 1)]):
        params = model.layers[i].parameters()
        norm = math.sqrt(sum(p.grad ** 2 for p in params))
        assert norm > 0.1
        assert fields[box_id] == [
            f"layers.{i}", f"{neurons} neuron{'s' if neurons > 1 else ''}",
            f"100 calls ({100 * neurons:,} neuron calls)", f"grad norm {norm:.4f} ({len(params)} parameters)"]
    assert fields["b0"] == ["inputs", "200 values"]
    assert fields["b4"] == ["loss", "1,077 ops: + x538, * x439, ReLU x100", f"data {loss.data:.4f}", "grad 1.0000"]
    assert loss.data == 0.8958441028683222  # karpathy's first loss: this is his graph


def test_the_l2_terms_parameters_come_from_their_layers_along_dashed_edges(demo):
    loss, model = demo
    graph = collapse_graph(loss, model, "layer")
    read = {(src.name, to.name): count for src, to, count, params in graph.edges if params}
    assert read == {("layers.0", "loss"): 48, ("layers.1", "loss"): 272, ("layers.2", "loss"): 17}
    dashed = [line for line in draw_dot(loss, model=model, collapse="layer").body if "dashed" in line]
    assert len(dashed) == 3 and all('label="' in line and "parameters" in line for line in dashed)


def test_unfused_neurons_give_the_same_boxes_and_numbers():
    loss, model = demo_loss(fused=False)
    assert len(topological_order(loss)) == 65614  # 0.1.0's chains of * and +
    fused_loss, fused_model = demo_loss(fused=True)
    unfused = draw_dot(loss, model=model, collapse="layer")
    fused = draw_dot(fused_loss, model=fused_model, collapse="layer")
    assert records(unfused) == records(fused)
    assert [len(b.nodes) for b in unfused.boxes] == [200, 8000, 52800, 3200, 1077]


# --- by neuron ----------------------------------------------------------------------------------

def test_one_training_point_by_neuron_shows_33_neuron_boxes_with_their_outputs_numbers(demo):
    _, model = demo
    loss, x = one_point(model)
    dot = draw_dot(loss, model=model, collapse="neuron")
    neurons = [b for b in dot.boxes if b.kind == "neuron"]
    assert len(neurons) == 33
    reference = float_reference(model)
    assert sorted(b.name for b in neurons) == sorted(reference)
    fields = records(dot)
    ids = {id(b): f"b{i}" for i, b in enumerate(dot.boxes)}
    for box in neurons:
        data, grad = reference[box.name]
        assert box.output.data == pytest.approx(data, rel=1e-12, abs=1e-12)
        assert box.output.grad == pytest.approx(grad, rel=1e-9, abs=1e-12)
        assert fields[ids[id(box)]][2:] == [f"data {data:.4f}", f"grad {grad:.4f}"]
    assert any(g != 0.0 for _, g in reference.values())  # the point's hinge is active: gradients flow
    assert len(svg_nodes(dot.pipe(format="svg", encoding="utf-8"))) == len(dot.boxes) + 3  # + the loss's 3 ops


def test_by_neuron_the_inputs_and_the_few_loss_ops_are_drawn_as_themselves(demo):
    _, model = demo
    loss, x = one_point(model)
    dot = draw_dot(loss, model=model, collapse="neuron", inputs=x)
    values = [b for b in dot.boxes if b.kind == "value"]
    # x0, x1, then the hinge: -y * score, 1 + that, relu
    assert [b.nodes[0] for b in values[:2]] == x
    assert [b.output.op for b in values[2:]] == ["*", "+", "ReLU"] and values[-1].output is loss
    ops = [line.strip() for line in dot.body if "_op [label" in line]
    assert [re.search(r'label=("[^"]*"|\w+)', line).group(1).strip('"') for line in ops] == ["* 1", "+ 1", "ReLU"]
    assert sum("tooltip=input" in line for line in dot.body) == 2
    # a neuron of layer 1 reads both inputs; the output neuron feeds the loss's first op
    edges = [line.strip() for line in dot.body if "->" in line]
    first = {f"b{i}": b for i, b in enumerate(dot.boxes)}
    assert sum(line.startswith("b0 -> ") for line in edges) == 16
    out = next(i for i, b in first.items() if b.name == "layers.2.neurons.0")
    assert f"{out} -> b{dot.boxes.index(values[2])}_op" in edges


def test_a_layer_has_as_many_boxes_by_neuron_as_calls_of_its_neurons(demo):
    _, model = demo
    xs = [[Value(v) for v in row] for row in DATA["X"][:2]]
    out = sum(model(x) for x in xs)
    graph = collapse_graph(out, model, "neuron")
    assert len(graph.find("neuron")) == 66


def test_the_whole_demo_loss_by_neuron_is_refused_pointing_to_by_layer(demo):
    loss, model = demo
    with pytest.raises(GraphTooLargeError, match=r"collapse='neuron' still gives 3,404 boxes.*collapse=\"layer\""):
        draw_dot(loss, model=model, collapse="neuron")
    # 3,300 neuron calls, 200 inputs, the loss, and a box per layer for the parameters the L2 term reads
    assert len(collapse_graph(loss, model, "neuron").find("parameters")) == 3


def test_the_refusal_of_a_big_graph_names_collapse():
    loss, _ = demo_loss()
    with pytest.raises(GraphTooLargeError, match="8,114 nodes") as info:
        draw_dot(loss)
    assert 'collapse="layer"' in str(info.value) and 'collapse="neuron"' in str(info.value)
    assert "model=" in str(info.value) and "max_depth" in str(info.value)
    assert str(GraphTooLargeError.for_graph(5000, 1000, "save_html")).startswith("save_html: the graph")


# --- other models -------------------------------------------------------------------------------

def test_a_layer_alone_a_neuron_alone_and_a_sequential():
    random.seed(0)
    layer = Layer(2, 3)
    x = [Value(0.5), Value(-1.0)]
    out = sum(layer(x))
    assert [b.name for b in collapse_graph(out, layer, "neuron").find("neuron")] == [
        "neurons.0", "neurons.1", "neurons.2"]
    (box,) = collapse_graph(out, layer, "layer").find("layer")
    assert (box.name, box.calls, box.neuron_calls) == ("Layer", 1, 3)

    neuron = Neuron(2, activation="tanh")
    y = neuron(x) * 2
    y.backward()
    (box,) = collapse_graph(y, neuron, "neuron").find("neuron")
    assert box.output.op == "tanh" and len(box.nodes) == 2 and box.module is neuron
    (box,) = collapse_graph(y, neuron, "layer").find("layer")
    assert box.name == "Neuron"
    assert box.grad_norm == pytest.approx(math.sqrt(sum(p.grad ** 2 for p in neuron.parameters())), rel=1e-12)
    dot = draw_dot(y, model=neuron, collapse="neuron")
    assert [b.kind for b in dot.boxes] == ["value", "value", "neuron", "value"]  # x0, x1, the neuron, * 2
    out = dot.boxes[2].output
    assert out.op == "tanh" and records(dot)["b2"] == ["neuron", "TanhNeuron(2)", f"data {out.data:.4f}", "grad 2.0000"]

    model = Sequential(Layer(2, 4, nonlin=False), BatchNorm1d(4), Activation("relu"), Layer(4, 1, nonlin=False))
    rows = [[Value(a), Value(b)] for a, b in DATA["X"][:8]]
    total = sum(model.batch(rows))
    graph = collapse_graph(total, model, "layer")
    assert [b.name for b in graph.find("layer")] == ["0", "3"]
    assert [b.calls for b in graph.find("layer")] == [8, 8]
    # BatchNorm1d and the ReLUs hold no neuron: their ops are one box, named after the module
    # whose parameters they read, between the two layers
    assert [(b.kind, b.name) for b in graph.boxes] == [
        ("inputs", "inputs"), ("layer", "0"), ("ops", "1 BatchNorm1d"), ("layer", "3"), ("loss", "loss")]
    norm = graph.boxes[2]
    assert set(model[1].parameters()) <= set(norm.nodes) and norm.output is None and norm.outputs == 32
    dot = draw_dot(total, model=model, collapse="layer")
    assert records(dot)["b2"][2] == "32 outputs"
    assert svg_nodes(dot.pipe(format="svg", encoding="utf-8")) == ["b0", "b1", "b2", "b3", "b4"]


def test_a_graph_the_model_did_not_build_is_a_clear_error():
    random.seed(0)
    model, other = MLP(2, [3, 1]), MLP(2, [3, 1])
    out = other([1.0, 2.0])
    with pytest.raises(ValueError, match=r"collapse='layer': no neuron of the given model \(MLP with 4 neurons\)"):
        draw_dot(out, model=model, collapse="layer")
    with pytest.raises(ValueError, match="Sequential holds no Neuron"):
        draw_dot(out, model=Sequential(Activation("relu")), collapse="neuron")


# --- options and bad input ----------------------------------------------------------------------

def test_highlighting_a_node_marks_the_box_that_holds_it(demo):
    _, model = demo
    loss, x = one_point(model)
    neuron = model.layers[1].neurons[3]
    hidden = next(n for n in topological_order(loss) if n.op == "affine" and n.operands[0] is neuron.w[0])
    dot = draw_dot(loss, model=model, collapse="neuron", highlight=hidden)
    red = [line for line in dot.body if 'color="#d62728"' in line]
    assert len(red) == 1 and 'label="layers.1.neurons.3 |' in red[0]
    # a parameter sits inside every call of its neuron
    xs = [[Value(v) for v in row] for row in DATA["X"][:3]]
    three = sum(model(x) for x in xs)
    dot = draw_dot(three, model=model, collapse="neuron", highlight=neuron.b)
    assert sum('color="#d62728"' in line for line in dot.body) == 3


def test_by_layer_a_highlighted_parameter_marks_its_layer(demo):
    loss, model = demo
    dot = draw_dot(loss, model=model, collapse="layer", highlight=model.layers[1].neurons[0].w[5])
    (red,) = [line for line in dot.body if 'color="#d62728"' in line]
    assert 'label="layers.1 |' in red


def test_a_layer_called_twice_on_the_same_numbers_counts_two_calls():
    random.seed(0)
    model = MLP(2, [3, 1])
    out = model([1.0, 2.0]) + model([1.0, 2.0])
    (first, second) = collapse_graph(out, model, "layer").find("layer")
    assert (first.calls, first.neuron_calls, second.calls, second.neuron_calls) == (2, 6, 2, 2)


def test_by_neuron_the_l2_terms_parameters_come_from_a_box_per_layer(demo):
    _, model = demo
    x = [Value(v) for v in DATA["X"][0]]
    loss = (1 + -DATA["y"][0] * model(x)).relu() + 1e-4 * sum(p * p for p in model.parameters())
    model.zero_grad()
    loss.backward()
    graph = collapse_graph(loss, model, "neuron")
    boxes = sorted(graph.find("parameters"), key=lambda b: b.name)
    assert [(b.name, len(b.nodes)) for b in boxes] == [("layers.0", 48), ("layers.1", 272), ("layers.2", 17)]
    norm = math.sqrt(sum(p.grad ** 2 for p in model.layers[0].parameters()))
    assert boxes[0].grad_norm == pytest.approx(norm, rel=1e-12)
    read = sorted((src.name, count) for src, to, count, params in graph.edges if params)
    assert read == [("layers.0", 48), ("layers.1", 272), ("layers.2", 17)] and len(graph.find("neuron")) == 33
    # 3 for the hinge, 337 p*p, 337 + to sum them, 1e-4 * and the final +: 679 ops, merged; the two
    # inputs are few, drawn as themselves
    assert [b.kind for b in graph.boxes].count("loss") == 1 and len(graph.find("loss")[0].nodes) == 679
    assert [b.nodes for b in graph.find("value")] == [[x[0]], [x[1]]]


def test_boxes_stack_their_fields_in_either_direction(demo):
    loss, model = demo
    across = records(draw_dot(loss, model=model, collapse="layer", rankdir="TB"))
    assert across == records(draw_dot(loss, model=model, collapse="layer"))
    tb = [line for line in draw_dot(loss, model=model, collapse="layer", rankdir="TB").body if "b1 [" in line]
    assert 'label="{ layers.0 | 16 neurons |' in tb[0]  # stacked: top to bottom needs braces
    lr = [line for line in draw_dot(loss, model=model, collapse="layer").body if "b1 [" in line]
    assert 'label="layers.0 | 16 neurons |' in lr[0]


def test_color_by_grad_fills_the_largest_darkest(demo):
    loss, model = demo
    dot = draw_dot(loss, model=model, collapse="layer", color_by_grad=True)
    fills = {b.name: re.search(r'fillcolor="([^"]+)"', line).group(1)
             for b, line in zip(dot.boxes, [line for line in dot.body if re.match(r"\s*b\d+ \[", line)])
             if "fillcolor" in line}
    assert fills["layers.0"] == "#d94801"  # grad norm 2.06, the largest number shown
    assert "inputs" not in fills  # merged inputs show no gradient


def test_bad_arguments_give_clear_errors(demo):
    loss, model = demo
    with pytest.raises(ValueError, match="draw_dot collapse must be one of 'neuron', 'layer'; got 'neurons'"):
        draw_dot(loss, model=model, collapse="neurons")
    with pytest.raises(ValueError, match=r"collapse='layer' needs model=, the Module"):
        draw_dot(loss, collapse="layer")
    with pytest.raises(TypeError, match=r"draw_dot model must be a Module \(an MLP, Layer, Neuron or Sequential\),"
                                        r" got list: \[Value"):
        draw_dot(loss, model=model.parameters(), collapse="layer")
    with pytest.raises(ValueError, match="model= is used only to draw the graph by neuron or by layer"):
        draw_dot(loss, model=model)
    for option in ({"show_local": True}, {"max_depth": 2}, {"stop_at": [loss]}):
        with pytest.raises(ValueError, match=f"{next(iter(option))} does not apply with collapse='layer'"):
            draw_dot(loss, model=model, collapse="layer", **option)
    step = next(backward_steps(loss))
    with pytest.raises(ValueError, match="highlight may only be a Value .* got BackwardStep"):
        draw_dot(loss, model=model, collapse="layer", highlight=step)
    with pytest.raises(ValueError, match="is not in the graph behind"):
        draw_dot(loss, model=model, collapse="layer", highlight=Value(1.0))
    with pytest.raises(ValueError, match="draw_dot legend must be a bool, got str: 'yes'"):
        draw_dot(loss, model=model, collapse="layer", legend="yes")
    with pytest.raises(TypeError, match="collapse_graph root must be a Value, got float"):
        collapse_graph(1.0, model, "layer")
    with pytest.raises(ValueError, match="collapse must be one of 'neuron', 'layer'; got True"):
        collapse_graph(loss, model, True)


# --- the legend ---------------------------------------------------------------------------------

def legend_rows(dot):
    (line,) = [line for line in dot.body if line.strip().startswith("legend [")]
    return re.findall(r'<td align="left">([^<]*)</td>', line)


def test_the_legend_explains_what_a_drawing_by_layer_shows(demo):
    loss, model = demo
    dot = draw_dot(loss, model=model, collapse="layer", legend=True)
    rows = legend_rows(dot)
    assert rows[0].startswith("a layer: all its calls in one box; grad norm = sqrt(sum of grad^2)")
    assert any("dashed blue edge: parameters read directly" in r for r in rows)
    assert any(r.startswith("leaves merged") for r in rows) and any(r.startswith("ops outside") for r in rows)
    assert not any("neuron (weighted sum" in r for r in rows)  # no neuron box here
    assert "legend" in svg_nodes(dot.pipe(format="svg", encoding="utf-8"))
    assert not any(line.strip().startswith("legend") for line in draw_dot(loss, model=model, collapse="layer").body)


def test_the_legend_of_a_plain_drawing_has_a_row_for_each_border_colour_and_the_edge_numbers():
    x, w = Value(2.0, label="x"), Value(-3.0, label="w")
    y = (x * w + Value(1.0, label="c")).tanh()
    y.backward()
    rows = legend_rows(draw_dot(y, params=[w], inputs=[x], show_local=True, legend=True))
    assert rows == [
        "a value: its number, and d(root)/d(value)",
        "an ellipse: the op that made the value its arrow points to",
        "blue border: a parameter (trained)",
        "green border: an input",
        "grey, dashed: a constant (neither parameter nor input)",
        "a number on an edge into an op: the local derivative d(op)/d(input), the factor the chain rule multiplies by",
    ]
    rows = legend_rows(draw_dot(y, highlight=next(backward_steps(y)), legend=True))
    assert "red border: the node of this step" in rows and "not known yet at this step" in rows
    assert not any("border: a parameter" in r for r in rows)  # no leaf is marked


def test_the_legend_has_a_constant_row_for_a_neuron_fed_plain_numbers():
    random.seed(0)
    neuron = Neuron(2)
    rows = legend_rows(draw_dot(neuron([1.0, 2.0]), legend=True))
    assert "grey, dashed: a constant (neither parameter nor input)" in rows
