"""backward_steps / forward_steps: the passes one node at a time.

The stepper must *be* `backward()`: same order, same arithmetic, so the final gradients
are equal bit for bit, on every kind of graph (shared subexpressions, dead ReLUs, leaf
roots, hand-written `_backward` nodes, gradients accumulated over several calls).
"""

from __future__ import annotations

import json
import math
import pathlib
import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from micrograd import BackwardStep, Value, backward_steps, forward_steps, topological_order
from micrograd.nn import MLP

DATA = pathlib.Path(__file__).parent / "data" / "moons_1337.json"


def lecture_graph():
    """The lecture's L = (a*b + c) * f with a=2, b=-3, c=10, f=-2 (every value labelled)."""
    a, b, c, f = Value(2.0, label="a"), Value(-3.0, label="b"), Value(10.0, label="c"), Value(-2.0, label="f")
    e = a * b
    e.label = "e"
    d = e + c
    d.label = "d"
    L = d * f
    L.label = "L"
    return L, dict(a=a, b=b, c=c, d=d, e=e, f=f, L=L)


def shared_graph():
    """Shared subexpressions, a dead and a live ReLU, powers, exp and division."""
    a, b = Value(-1.5, label="a"), Value(0.5, label="b")
    s = a * b
    t = (s + a).relu() + (s - a).relu()
    u = t**2 / (b + 2.0) + s.exp()
    return u * t - 3.0 / u


def moons_loss(fused, n=8):
    random.seed(1337)
    model = MLP(2, [16, 16, 1], fused=fused)
    data = json.loads(DATA.read_text())
    scores = [model([Value(x) for x in row]) for row in data["X"][:n]]
    losses = [(1 + -yi * si).relu() for yi, si in zip(data["y"], scores)]
    return sum(losses) * (1.0 / len(losses)) + 1e-4 * sum(p * p for p in model.parameters())


def custom_graph():
    """A lecture-style hand-made node: out = a * b with its own `_backward`, then tanh."""
    a, b = Value(0.5, label="a"), Value(-1.5, label="b")
    out = Value(a.data * b.data, (a, b), "*")

    def _backward():
        a.grad += b.data * out.grad
        b.grad += a.data * out.grad

    out._backward = _backward
    return (out + a).tanh()


def grads_of(root):
    return [n.grad for n in topological_order(root)]


def run_steps(root):
    for _ in backward_steps(root):
        pass


GRAPHS = {
    "lecture": lambda: lecture_graph()[0],
    "shared": shared_graph,
    "moons_fused": lambda: moons_loss(True),
    "moons_unfused": lambda: moons_loss(False),
    "custom_backward": custom_graph,
    "leaf_root": lambda: Value(3.0),
}


@pytest.mark.parametrize("name", sorted(GRAPHS))
def test_stepper_visits_every_node_once_in_reverse_topological_order(name):
    root = GRAPHS[name]()
    order = topological_order(root)
    steps = list(backward_steps(root))
    assert [s.node for s in steps] == order[::-1]
    assert [s.index for s in steps] == list(range(len(order)))
    assert {s.total for s in steps} == {len(order)}


@pytest.mark.parametrize("name", sorted(GRAPHS))
def test_final_grads_equal_backward_bit_for_bit_over_two_calls(name):
    by_backward, by_steps = GRAPHS[name](), GRAPHS[name]()
    for _ in range(2):  # the second call checks leaf accumulation and interior reset
        by_backward.backward()
        run_steps(by_steps)
        assert [g.hex() for g in grads_of(by_steps)] == [g.hex() for g in grads_of(by_backward)]


@pytest.mark.parametrize("name", sorted(GRAPHS))
def test_last_step_grads_are_every_final_grad(name):
    root = GRAPHS[name]()
    steps = list(backward_steps(root))
    final = steps[-1].grads
    assert set(final) == set(topological_order(root))
    assert all(final[n] == n.grad for n in final)


def test_leaving_the_loop_early_undoes_the_pass_and_a_retry_is_right():
    stopped, reference = shared_graph(), shared_graph()
    stopped.backward()
    reference.backward()
    untouched = grads_of(stopped)  # leaves hold one pass's gradients: a second must add to them once
    for step in backward_steps(stopped):
        if step.index == 3:
            break
    assert grads_of(stopped) == untouched  # nothing half-accumulated
    stopped.backward()
    reference.backward()
    assert grads_of(stopped) == grads_of(reference)


def test_lecture_graph_steps_by_hand():
    L, v = lecture_graph()
    steps = list(backward_steps(L))
    assert [s.node.label for s in steps] == ["L", "f", "d", "c", "e", "b", "a"]
    # Step 0: L (grad 1) pushes dL/dd = f = -2 and dL/df = d = 4; nothing else is reached yet.
    assert steps[0].grad == 1.0
    assert steps[0].pushed == ((v["d"], -2.0), (v["f"], 4.0))
    assert steps[0].grads == {v["L"]: 1.0, v["d"]: -2.0, v["f"]: 4.0}
    # Step 2: d pushes -2 to e and to c (local derivatives of + are 1).
    assert steps[2].pushed == ((v["e"], -2.0), (v["c"], -2.0))
    assert steps[2].grads == {v["L"]: 1.0, v["d"]: -2.0, v["f"]: 4.0, v["e"]: -2.0, v["c"]: -2.0}
    # Step 4: e = a*b pushes -2*b = 6 to a and -2*a = -4 to b.
    assert steps[4].pushed == ((v["a"], 6.0), (v["b"], -4.0))
    assert steps[4].processed == frozenset([v["L"], v["f"], v["d"], v["c"], v["e"]])
    assert steps[-1].grads[v["a"]] == 6.0 and steps[-1].grads[v["b"]] == -4.0


def test_each_step_shows_grads_as_they_were_at_that_moment():
    # x is used twice: its grad is half-accumulated after the first use is processed.
    x = Value(3.0, label="x")
    y = x * 2.0
    y.label = "y"
    z = y + x
    z.label = "z"
    steps = list(backward_steps(z))
    assert [s.node.label for s in steps] == ["z", "y", "x"]
    assert steps[0].grads[x] == 1.0  # from z = y + x only
    assert steps[1].grads[x] == 3.0  # plus 2 through y = 2x
    assert x.grad == 3.0


def test_a_zero_gradient_is_skipped_as_backward_does():
    x = Value(-1.0, label="x")
    r = x.relu()  # dead: local derivative 0, so x gets grad 0 ...
    w = Value(5.0, label="w")
    h = r * w  # ... and r's gradient is w = 5, but h pushes 0 to w (r = 0)
    s = (h * 0.0) + 1.0  # h gets grad 0: backward skips it
    steps = {st.node: st for st in backward_steps(s)}
    assert steps[h].grad == 0.0 and steps[h].pushed == ()
    assert r not in steps[h].grads  # nothing flowed past the skipped node
    assert w.grad == 0.0 and x.grad == 0.0


def test_custom_backward_node_is_run_and_its_pushes_are_read_off():
    root = custom_graph()
    out = root._prev[0]._prev[0]  # the hand-made node
    a, b = out._prev
    steps = {st.node: st for st in backward_steps(root)}
    step = steps[out]
    assert step.custom
    g = step.grad
    assert step.pushed == ((a, b.data * g), (b, a.data * g))
    expected = 1.0 - math.tanh(a.data * b.data + a.data) ** 2
    assert g == expected


def test_leaf_root_accumulates_one_per_call():
    x = Value(2.0)
    steps = list(backward_steps(x))
    assert len(steps) == 1 and steps[0].grad == 1.0 and steps[0].pushed == ()
    run_steps(x)
    assert x.grad == 2.0


def test_step_repr_names_the_node():
    L, _ = lecture_graph()
    first = next(iter(backward_steps(L)))
    assert isinstance(first, BackwardStep)
    assert repr(first) == "BackwardStep(1/7: 'L' pushed grad=1.0 to 2 parents)"


def test_forward_steps_follow_evaluation_order_and_change_nothing():
    L, v = lecture_graph()
    before = grads_of(L)
    steps = list(forward_steps(L))
    assert [s.node for s in steps] == topological_order(L)
    assert [s.node.label for s in steps] == ["a", "b", "e", "c", "d", "f", "L"]
    assert steps[2].computed == frozenset([v["a"], v["b"], v["e"]])
    assert repr(steps[2]) == "ForwardStep(3/7: 'e' = -6.0)"
    assert grads_of(L) == before


@pytest.mark.parametrize("walk", [backward_steps, forward_steps])
def test_steps_need_a_value(walk):
    with pytest.raises(TypeError, match="needs a Value, got float: 1.0"):
        next(walk(1.0))


# Random expressions: each entry picks an op and (by index) the earlier nodes it uses, so
# subexpressions are shared and the graph is a DAG, not a tree.
OPS = [
    lambda x, y: x + y, lambda x, y: x * y, lambda x, y: x - y, lambda x, y: x.tanh() * y,
    lambda x, y: x.relu() + 0.5 * y, lambda x, y: (x * x + 1.0).log() + y.sigmoid(),
]


@given(
    leaves=st.lists(st.floats(-2.0, 2.0, allow_nan=False), min_size=1, max_size=4),
    program=st.lists(st.tuples(st.integers(0, len(OPS) - 1), st.integers(0, 10**6), st.integers(0, 10**6)),
                     min_size=1, max_size=12),
)
def test_random_expressions_step_to_backward_bit_for_bit(leaves, program):
    def build():
        nodes = [Value(x) for x in leaves]
        for op, i, j in program:
            nodes.append(OPS[op](nodes[i % len(nodes)], nodes[j % len(nodes)]))
        return nodes[-1]

    by_backward, by_steps = build(), build()
    by_backward.backward()
    steps = list(backward_steps(by_steps))
    assert [topological_order(by_steps).index(s.node) for s in steps] == list(range(len(steps)))[::-1]
    assert [g.hex() for g in grads_of(by_steps)] == [g.hex() for g in grads_of(by_backward)]


def test_a_forward_step_explains_how_its_value_was_computed():
    x, w = Value(-3.0, label="x"), Value(0.5, label="w")
    n = x * w + 1
    n.label = "n"
    out = n.tanh()
    out.label = "out"
    shown = [str(step.explanation) for step in forward_steps(out)]
    assert shown == [
        "x = -3    (a leaf: its value is given, nothing is computed)",
        "w = 0.5    (a leaf: its value is given, nothing is computed)",
        "mul1 = x * w = (-3) * 0.5 = -1.5    (op *)",
        "n = mul1 + 1 = (-1.5) + 1 = -0.5    (op +)",
        "out = tanh(n) = tanh(-0.5) = -0.4621    (op tanh)",
    ]
    last = list(forward_steps(out))[-1].explanation
    assert (last.expression, last.numbers, last.value) == ("tanh(n)", "tanh(-0.5)", out.data)
    assert last._repr_markdown_() == (r"$\mathrm{out} = \operatorname{tanh}\left(n\right)"
                                      r" = \operatorname{tanh}\left(-0.5\right) = -0.4621$")


def test_a_forward_step_of_a_node_built_by_hand_says_so():
    a, b = Value(2.0, label="a"), Value(5.0, label="b")
    c = Value(a.data + b.data, (a, b), "+")  # the lecture's way: no primitive behind it
    c.label = "c"
    assert str(list(forward_steps(c))[-1].explanation) == "c = a + b = 2 + 5 = 7    (a node built by hand)"
