"""The lecture's view of the graph: code that walks `_prev` and `_op` (karpathy's own
`trace` from trace_graph.ipynb) sees micrograd 0.1.0's graph node for node, while the
engine keeps its fused, constant-free form. The reference, tests/data/lecture_graphs_010.json,
was written by tests/lecture_graphs.py running on micrograd 0.1.0 from PyPI."""

from __future__ import annotations

import json
import math
import pathlib
import random

import lecture_graphs
import pytest

from micrograd import Value, topological_order
from micrograd.nn import MLP, Neuron

REFERENCE = json.loads((pathlib.Path(__file__).parent / "data" / "lecture_graphs_010.json").read_text())


def assert_same_graph(ours, theirs):
    assert len(ours["nodes"]) == len(theirs["nodes"]) and len(ours["edges"]) == len(theirs["edges"])
    for mine, ref in zip(ours["nodes"], theirs["nodes"]):
        assert mine[0] == ref[0], f"op {mine[0]!r} where 0.1.0 has {ref[0]!r}"
        for x, y in zip(mine[1:], ref[1:]):
            assert math.isclose(x, y, rel_tol=1e-12, abs_tol=1e-12), f"{mine} where 0.1.0 has {ref}"
    for mine, ref in zip(ours["edges"], theirs["edges"]):
        assert [m[0] for m in mine] == [r[0] for r in ref], f"edge {mine} where 0.1.0 has {ref}"
        assert all(math.isclose(x, y, rel_tol=1e-12, abs_tol=1e-12)
                   for m, r in zip(mine, ref) for x, y in zip(m[1:], r[1:])), f"edge {mine} where 0.1.0 has {ref}"


@pytest.mark.parametrize("case", sorted(lecture_graphs.CASES))
def test_karpathys_trace_sees_the_010_graph_node_for_node(case):
    assert_same_graph(lecture_graphs.describe(case), REFERENCE[case])


@pytest.mark.parametrize("case", sorted(lecture_graphs.CASES))
def test_a_view_read_before_backward_gets_its_gradients_from_backward(case):
    # The expanded nodes are made when _prev is first read; backward() then keeps their grads right.
    assert_same_graph(lecture_graphs.describe(case, hook=lecture_graphs.trace), REFERENCE[case])


def test_the_engine_keeps_its_fused_constant_free_graph():
    random.seed(1337)
    n = Neuron(2)
    x = [Value(1.0), Value(-2.0)]
    y = n(x)
    affine = y.parents[0]
    assert y.op == "ReLU" and affine.op == "affine" and affine.parents == (*n.w, *x, n.b)
    assert affine._op == "+"  # but the lecture sees 0.1.0's last `+` of the weighted sum
    partial_sum, last_product = affine._prev
    assert last_product._op == "*" and last_product._prev == (n.w[1], x[1])
    assert partial_sum._prev[0] is n.b and partial_sum._prev[1]._prev == (n.w[0], x[0])
    assert [v.op for v in topological_order(y)] == ["", "", "", "", "", "affine", "ReLU"]
    assert len(topological_order(y, view="lecture")) == 10  # 0.1.0's 10 nodes


def test_prev_gives_the_same_objects_every_time():
    x = Value(2.0)
    y = x * 3
    assert y._prev is y._prev and y._prev[1] is y._prev[1]
    random.seed(0)
    z = MLP(2, [2, 1])([x, Value(1.0)])
    first = topological_order(z, view="lecture")
    assert topological_order(z, view="lecture") == first


def test_reading_prev_changes_no_gradient_the_engine_computes():
    def run(read_view):
        random.seed(1337)
        model = MLP(2, [3, 1])
        loss = (model([Value(0.5), Value(-1.5)]) - 1) ** 2
        if read_view:
            topological_order(loss, view="lecture")
        loss.backward()
        loss.backward()
        return [p.grad for p in model.parameters()]

    assert run(True) == run(False)


def test_constant_leaves_accumulate_like_any_leaf_and_interior_view_nodes_are_reset():
    x = Value(3.0)
    y = x * 2.0
    _, two = y._prev
    y.backward()
    assert two.grad == 3.0 and x.grad == 2.0  # d y / d 2 = x
    y.backward()
    assert two.grad == 6.0 and x.grad == 4.0  # leaves accumulate, as in PyTorch
    z = Value(1.0)
    s = Neuron(2, nonlin=False)([z, z])
    partial_sum, product = s._prev
    s.backward()
    s.backward()
    assert partial_sum.grad == 1.0 and product.grad == 1.0  # interior: d s / d node for this pass


def test_a_view_made_after_backward_shows_that_backwards_gradients():
    x = Value(3.0)
    y = (x * 2.0).tanh()
    y.backward()
    product = y._prev[0]
    _, two = product._prev
    assert math.isclose(two.grad, 3.0 * (1 - math.tanh(6.0) ** 2), rel_tol=1e-15)


def test_a_node_used_twice_lists_it_once_like_010s_set():
    a = Value(3.0)
    assert (a * a)._prev == (a,) and (a + a)._prev == (a,) and (a * a).parents == (a, a)
