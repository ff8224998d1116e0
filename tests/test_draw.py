"""draw_dot: the DOT source it writes, rendering through the dot program micrograd finds,
the size guard, and the highlighted moments of the forward and backward passes.

Rendering runs the `graphviz-pure` executable (CI has no system Graphviz), so the tests
check the structure of the SVG and PNG, never their bytes.
"""

from __future__ import annotations

import os
import pathlib
import random
import struct
import subprocess
import sys
import textwrap
import xml.etree.ElementTree as ET

import graphviz
import pytest
from graphs import SVG, lecture_graph, svg_nodes
from graphviz.backend import dot_command

import micrograd
from micrograd import (
    DotNotFoundError,
    GraphTooLargeError,
    Value,
    backward_steps,
    draw_dot,
    forward_steps,
    topological_order,
)
from micrograd.nn import Neuron
from micrograd.visual import dot_program


def relu_example():
    """karpathy's trace_graph example, with a label: (x * 2 + 1).relu()."""
    x = Value(1.0, label="x")
    y = (x * 2 + 1).relu()
    y.backward()
    return y


def node_lines(dot):
    return [line.strip() for line in dot.body if "->" not in line]


def edge_lines(dot):
    return [line.strip() for line in dot.body if "->" in line]



# --- DOT source ---------------------------------------------------------------------------

def test_source_of_a_small_expression():
    assert draw_dot(relu_example()).source == textwrap.dedent("""\
        digraph {
        \tgraph [rankdir=LR]
        \tv0 [label="{ x | data 1.0000 | grad 2.0000 }" shape=record]
        \tv1 [label="{ data 2.0000 | grad 1.0000 }" shape=record]
        \tv1_op [label="* 2"]
        \tv1_op -> v1
        \tv0 -> v1_op
        \tv2 [label="{ data 3.0000 | grad 1.0000 }" shape=record]
        \tv2_op [label="+ 1"]
        \tv2_op -> v2
        \tv1 -> v2_op
        \tv3 [label="{ data 3.0000 | grad 1.0000 }" shape=record]
        \tv3_op [label=ReLU]
        \tv3_op -> v3
        \tv2 -> v3_op
        }
        """)


def test_returns_a_graphviz_digraph_with_format_and_rankdir():
    dot = draw_dot(relu_example(), format="png", rankdir="TB")
    assert isinstance(dot, graphviz.Digraph)
    assert dot.format == "png"
    assert dot.graph_attr["rankdir"] == "TB"


def test_every_value_and_op_is_a_node_and_every_parent_an_edge():
    a, b = Value(2.0, label="a"), Value(-3.0, label="b")
    out = (a * b + a).tanh()
    dot = draw_dot(out)
    # 4 values (a, b, a*b, +, tanh is the 5th) and 3 ops
    assert len(node_lines(dot)) == 5 + 3
    # a*b: a and b into '*'; '+': a*b and a; tanh: '+'; plus one op -> result edge per op
    assert len(edge_lines(dot)) == 2 + 2 + 1 + 3


def test_ids_come_from_graph_position_so_the_same_expression_gives_the_same_source():
    one, other = relu_example(), relu_example()
    first, second = draw_dot(one).source, draw_dot(other).source
    assert first == second
    ids = {str(id(node)) for root in (one, other) for node in topological_order(root)}
    assert "v0" in first and not any(i in first for i in ids)  # no node's id() leaks into the source


def test_ids_are_stable_across_processes():
    code = "from micrograd import Value, draw_dot; x = Value(1.0, label='x'); y = (x * 2 + 1).relu(); " \
           "y.backward(); print(draw_dot(y).source, end='')"
    runs = [subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
            for _ in range(2)]
    assert runs[0] == runs[1] == draw_dot(relu_example()).source


def test_labels_with_record_syntax_and_quotes_are_escaped():
    x = Value(1.5, label='a|b {c} <d> "e" \\f')
    dot = draw_dot(x * 2.0)
    assert node_lines(dot)[0] == r'v0 [label="{ a\|b \{c\} \<d\> \"e\" \\f | data 1.5000 | grad 0.0000 }" shape=record]'
    svg = dot.pipe(format="svg", encoding="utf-8")  # dot accepts it ...
    texts = [t.text for t in ET.fromstring(svg).iter(SVG + "text")]
    assert 'a|b {c} <d> "e" \\f' in texts  # ... and shows the label as written


def test_op_names_that_look_like_html_are_plain_text():
    a = Value(1.0)
    out = Value(2.0, (a,), "<b>")
    assert 'v1_op [label="<b>"]' in node_lines(draw_dot(out))


def test_multiplying_by_a_constant_shows_the_constant():
    x = Value(3.0)
    assert 'v1_op [label="* -0.5"]' in node_lines(draw_dot(x * -0.5))
    assert 'v1_op [label="* -1"]' in node_lines(draw_dot(-x))


def test_show_local_labels_each_edge_with_its_local_derivative():
    a, b = Value(2.0, label="a"), Value(-3.0, label="b")
    dot = draw_dot(a * b, show_local=True)
    # d(a*b)/da = b = -3, d(a*b)/db = a = 2: the chain rule's multipliers
    assert edge_lines(dot)[1:] == ["v0 -> v2_op [label=-3]", "v1 -> v2_op [label=2]"]


def test_a_node_used_twice_gets_two_edges():
    x = Value(3.0, label="x")
    dot = draw_dot(x * x, show_local=True)
    assert edge_lines(dot)[1:] == ["v0 -> v1_op [label=3]", "v0 -> v1_op [label=3]"]


def test_hand_written_backward_nodes_are_drawn_without_local_derivatives():
    a, b = Value(2.0), Value(4.0)
    out = Value(8.0, (a, b), "*")

    def _backward():
        a.grad += b.data * out.grad
        b.grad += a.data * out.grad

    out._backward = _backward
    out.backward()
    dot = draw_dot(out, show_local=True)
    assert edge_lines(dot)[1:] == ["v0 -> v2_op", "v1 -> v2_op"]
    assert node_lines(dot)[0] == 'v0 [label="{ data 2.0000 | grad 4.0000 }" shape=record]'


def test_precision_sets_the_decimals():
    assert '"{ data 1.00 | grad 0.00 }"' in node_lines(draw_dot(Value(1.0), precision=2))[0]


def test_color_by_grad_fills_the_largest_gradient_darkest():
    a, b = Value(2.0, label="a"), Value(0.0, label="b")
    out = a * b + a  # d/da = b + 1 = 1, d/db = a = 2 (largest), d/d(a*b) = 1
    out.backward()
    lines = node_lines(draw_dot(out, color_by_grad=True))
    assert 'fillcolor="#d94801"' in lines[1]  # b: grad 2, the largest
    assert 'fillcolor="#fdae6b"' in lines[0]  # a: grad 1, half of it
    assert all("style=filled" in line for line in lines if "shape=record" in line)


def test_params_inputs_and_constants_are_marked_apart():
    random.seed(1337)
    n = Neuron(2)
    x0 = Value(1.0, label="x0")
    out = n([x0, 0.5])  # 0.5 stays a constant of the neuron's affine op
    lines = {line.split(" ")[0]: line for line in node_lines(draw_dot(out, params=n, inputs=[x0]))}
    for i in (0, 1, 3):  # w0, w1, b in affine's parent order (w..., x..., b)
        assert 'color="#1f63b4"' in lines[f"v{i}"] and "tooltip=parameter" in lines[f"v{i}"]
    assert "tooltip=input" in lines["v2"] and "x0" in lines["v2"]
    assert 'label=0.5' in lines["v4_op_c3"] and "style=dashed" in lines["v4_op_c3"]
    assert "tooltip=constant" in lines["v4_op_c3"]
    assert "color" not in lines["v4"]  # interior nodes are not marked
    assert sum(1 for line in edge_lines(draw_dot(out)) if "v4_op_c3 -> v4_op" in line) == 1


def test_leaves_are_not_marked_without_params_or_inputs():
    lines = node_lines(draw_dot(relu_example()))
    assert "tooltip" not in lines[0]


def test_bad_arguments_name_the_argument_and_value():
    y = relu_example()
    with pytest.raises(TypeError, match="draw_dot needs a Value, got int: 3"):
        draw_dot(3)
    with pytest.raises(ValueError, match="rankdir must be one of .* got 'XY'"):
        draw_dot(y, rankdir="XY")
    with pytest.raises(ValueError, match="max_nodes must be a non-negative int or None, got -1"):
        draw_dot(y, max_nodes=-1)
    with pytest.raises(ValueError, match="precision must be an int from 0 to 17, got 40"):
        draw_dot(y, precision=40)
    with pytest.raises(TypeError, match="params must hold Values, got float: 1.0"):
        draw_dot(y, params=[1.0])
    with pytest.raises(TypeError, match="highlight must be a Value, BackwardStep or ForwardStep, got str"):
        draw_dot(y, highlight="x")


# --- big graphs ---------------------------------------------------------------------------

def test_a_graph_above_max_nodes_is_refused_with_a_clear_message(demo_loss):
    loss, _, _ = demo_loss
    with pytest.raises(GraphTooLargeError, match="has 65,614 nodes, more than max_nodes=1,000") as info:
        draw_dot(loss)
    assert "max_depth" in str(info.value) and "stop_at" in str(info.value) and "max_nodes=None" in str(info.value)
    assert isinstance(info.value, ValueError)


def test_max_depth_draws_the_last_ops_and_says_what_is_cut(demo_loss):
    loss, _, _ = demo_loss
    dot = draw_dot(loss, max_depth=1)
    # loss = data_loss + reg: the root and its two inputs, sum(...) * 0.01 and 0.0001 * sum(...),
    # whose own inputs are cut
    assert len([line for line in node_lines(dot) if "shape=record" in line]) == 3
    cut = [line for line in node_lines(dot) if "not drawn" in line]
    assert cut == ['v0_op [label="* 0.01\\n(1 input not drawn)"]', 'v1_op [label="* 0.0001\\n(1 input not drawn)"]']
    assert svg_nodes(dot.pipe(format="svg", encoding="utf-8"))[-1] == "v2"


def test_stop_at_draws_one_neuron_at_a_time(demo_loss):
    _, model, scores = demo_loss
    neuron = model.layers[-1].neurons[0]
    # Unfused, the output neuron is 0.1.0's chain ((b + w0*x0) + w1*x1) + ...: walk it
    # back to find its inputs, the hidden layer's outputs, and stop there.
    node, hidden = scores[0], []
    while node._op == "+":
        node, product = node._prev
        hidden.append(product._prev[1])
    assert node is neuron.b and len(hidden) == 16
    dot = draw_dot(scores[0], stop_at=hidden, params=neuron)
    values = [line for line in node_lines(dot) if "shape=record" in line]
    # 16 weights, 16 inputs, 16 products, 16 sums (the first adds the bias), the bias
    assert len(values) == 16 * 4 + 1
    assert sum("tooltip=parameter" in line for line in values) == 17
    assert sum("(1 input not drawn)" in line for line in node_lines(dot)) == 16  # each input is a ReLU


# --- rendering ----------------------------------------------------------------------------

def test_renders_svg_through_graphviz_pure(fallback_only):
    dot = draw_dot(relu_example())
    assert pathlib.Path(dot_command.DOT_BINARY) == pathlib.Path(fallback_only)
    svg = dot.pipe(format="svg", encoding="utf-8")
    assert sorted(svg_nodes(svg)) == ["v0", "v1", "v1_op", "v2", "v2_op", "v3", "v3_op"]
    assert "grad 2.0000" in svg


def test_renders_png_through_graphviz_pure(fallback_only, tmp_path):
    path = draw_dot(relu_example(), format="png").render(tmp_path / "graph")
    data = pathlib.Path(path).read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])  # the IHDR chunk
    assert width > height > 0  # drawn left to right


def test_asking_graphviz_pure_for_pdf_says_it_has_none(fallback_only, tmp_path):
    dot = draw_dot(relu_example(), format="pdf")
    for render in (dot.pipe, lambda: dot.render(tmp_path / "g"), lambda: draw_dot(relu_example()).pipe("pdf")):
        with pytest.raises(ValueError, match="cannot render format='pdf': graphviz-pure .* use format='svg' or 'png'"):
            render()


def test_jupyter_display_is_an_svg(fallback_only):
    bundle = draw_dot(relu_example())._repr_mimebundle_()
    assert svg_nodes(bundle["image/svg+xml"])[0] == "v0"


def test_a_plain_graphviz_digraph_renders_after_importing_micrograd_without_system_graphviz(tmp_path):
    # A fresh interpreter with neither `dot` nor the environment's bin on PATH (as in a
    # Jupyter kernel): importing micrograd must be enough for graphviz to render.
    code = textwrap.dedent("""\
        from graphviz import Digraph
        import micrograd.engine
        g = Digraph(format="svg")
        g.node("a", label="{ data 1.0000 | grad 0.0000 }", shape="record")
        g.edge("a", "b")
        print(g.render("out"))
        """)
    env = dict(os.environ, PATH=os.pathsep.join(p for p in ("/usr/bin", "/bin") if os.path.isdir(p)))
    if any(os.path.exists(os.path.join(p, "dot")) for p in env["PATH"].split(os.pathsep)):
        pytest.skip("this machine has a system dot")
    result = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert svg_nodes((tmp_path / "out.svg").read_text()) == ["a", "b"]


def test_a_system_dot_on_path_is_left_to_the_graphviz_package(monkeypatch):
    monkeypatch.setattr(dot_program, "_find_system_dot", lambda: "/usr/bin/dot")
    monkeypatch.setattr(dot_command, "DOT_BINARY", pathlib.Path("/somewhere/graphviz-pure"))
    monkeypatch.setattr(dot_program, "_configured", pathlib.Path("/somewhere/graphviz-pure"))
    assert dot_program.configure_graphviz() == "/usr/bin/dot"
    assert dot_command.DOT_BINARY == pathlib.Path("dot")


def test_a_program_the_user_chose_is_respected(monkeypatch):
    monkeypatch.setattr(dot_command, "DOT_BINARY", pathlib.Path("/opt/my/dot"))
    assert dot_program.configure_graphviz() == "/opt/my/dot"
    assert dot_command.DOT_BINARY == pathlib.Path("/opt/my/dot")


def test_no_dot_anywhere_gives_an_error_naming_both_ways_to_get_one(monkeypatch):
    monkeypatch.setattr(dot_program, "_find_system_dot", lambda: None)
    monkeypatch.setattr(dot_program, "_find_graphviz_pure", lambda: None)
    monkeypatch.setattr(dot_command, "DOT_BINARY", pathlib.Path("dot"))
    monkeypatch.setattr(dot_program, "_configured", None)
    dot = draw_dot(relu_example())
    for render in (dot.pipe, lambda: dot.render("never-written"), dot._repr_mimebundle_):
        with pytest.raises(DotNotFoundError) as info:
            render()
        message = str(info.value)
        assert "pip install graphviz-pure" in message and "https://graphviz.org/download/" in message
        assert isinstance(info.value, graphviz.ExecutableNotFound)  # graphviz's own except clauses catch it
    assert not os.path.exists("never-written")


# --- moments of the passes ------------------------------------------------------------------


def test_highlighting_a_backward_step_marks_the_node_and_the_edges_it_pushed_along():
    L = lecture_graph()
    steps = list(backward_steps(L))
    dot = draw_dot(L, highlight=steps[2])  # d = e + c, with e = a*b unlabelled: pushes -2 to both
    nodes = {line.split(" ")[0]: line for line in node_lines(dot)}
    assert 'color="#d62728"' in nodes["v4"] and "penwidth=3" in nodes["v4"]  # d
    assert "grad -2.0000" in nodes["v4"] and "grad -2.0000" in nodes["v3"] and "grad -2.0000" in nodes["v2"]
    assert "grad ?" in nodes["v0"] and "grad ?" in nodes["v1"]  # a, b: not reached yet
    hot = [line for line in edge_lines(dot) if "#d62728" in line]
    assert hot == [
        'v4_op -> v4 [color="#d62728" fontcolor="#d62728" penwidth=2]',
        'v2 -> v4_op [label="+= -2" color="#d62728" fontcolor="#d62728" penwidth=2]',
        'v3 -> v4_op [label="+= -2" color="#d62728" fontcolor="#d62728" penwidth=2]',
    ]


def test_with_show_local_a_highlighted_edge_shows_the_chain_rule_product():
    x, w = Value(3.0, label="x"), Value(-0.5, label="w")
    out = x * x * w  # (x*x) * w
    steps = list(backward_steps(out))
    dot = draw_dot(out, highlight=steps[2], show_local=True)  # x*x, grad w = -0.5, pushes 3 * -0.5 twice
    assert steps[2].node is out._prev[0]
    assert [line for line in edge_lines(dot) if "v0 -> v1_op" in line] == [
        'v0 -> v1_op [label="3 * -0.5 = -1.5" color="#d62728" fontcolor="#d62728" penwidth=2]'] * 2


def test_highlighting_a_hand_written_backward_shows_what_it_added_once_per_parent():
    x = Value(3.0, label="x")
    out = Value(9.0, (x, x), "square")

    def _backward():
        x.grad += 2 * x.data * out.grad

    out._backward = _backward
    root = out * 2.0
    steps = list(backward_steps(root))
    edges = [line for line in edge_lines(draw_dot(root, highlight=steps[1], show_local=True)) if "v0 -> " in line]
    assert edges == ['v0 -> v1_op [label="+= 12" color="#d62728" fontcolor="#d62728" penwidth=2]',
                     'v0 -> v1_op [color="#d62728" fontcolor="#d62728" penwidth=2]']


def test_highlighting_a_node_mid_pass_draws_the_same_moment_as_its_step():
    L = lecture_graph()
    live = []
    for step in backward_steps(L):  # the live .grads, while the pass is at this step
        live.append(draw_dot(L, highlight=step.node, show_local=True).source)
    L2 = lecture_graph()
    recorded = [draw_dot(L2, highlight=s, show_local=True).source for s in list(backward_steps(L2))]
    assert live == recorded


def test_highlighting_a_forward_step_hides_values_not_computed_yet():
    L = lecture_graph()
    steps = list(forward_steps(L))
    nodes = node_lines(draw_dot(L, highlight=steps[2]))  # a, b, a*b computed
    assert "data -6.0000" in nodes[2] and "data ?" in nodes[4]
    assert all("grad ?" in line for line in nodes if "shape=record" in line)


def test_highlighting_a_node_outside_the_graph_is_an_error():
    with pytest.raises(ValueError, match="is not in the graph"):
        draw_dot(lecture_graph(), highlight=Value(1.0))


def test_drawing_values_map_dot_ids_back_to_nodes():
    y = relu_example()
    dot = draw_dot(y)
    assert dot.values == tuple(micrograd.topological_order(y))
    assert dot.values[3] is y and 'v3 [label="{ data 3.0000 | grad 1.0000 }" shape=record]' in node_lines(dot)
