"""explain(node, root): the worked chain-rule calculation behind a gradient, with the real
numbers, checked against the backward pass bit for bit and against central differences."""

import math
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from micrograd import Value, backward_steps, explain
from micrograd.engine import topological_order
from micrograd.nn import MLP, Neuron


def lecture_expression():
    """The lecture's L = (a*b + c) * f = -8.0, every node labelled."""
    a, b, c, f = Value(2.0, label="a"), Value(-3.0, label="b"), Value(10.0, label="c"), Value(-2.0, label="f")
    e = a * b
    e.label = "e"
    d = e + c
    d.label = "d"
    L = d * f
    L.label = "L"
    L.backward()
    return L, dict(a=a, b=b, c=c, d=d, e=e, f=f, L=L)


def lecture_neuron():
    x1, x2 = Value(2.0, label="x1"), Value(0.0, label="x2")
    w1, w2 = Value(-3.0, label="w1"), Value(1.0, label="w2")
    b = Value(6.8813735870195432, label="b")
    n = x1 * w1 + x2 * w2 + b
    n.label = "n"
    o = n.tanh()
    o.label = "o"
    o.backward()
    return o, dict(x1=x1, x2=x2, w1=w1, w2=w2, b=b, n=n, o=o)


def test_a_leaf_of_the_lecture_expression_shows_the_chain_rule_with_its_numbers():
    L, v = lecture_expression()
    e = explain(v["a"], L)
    assert len(e.terms) == 1
    t = e.terms[0]
    assert (t.consumer, t.upstream, t.local, t.amount) == (v["e"], -2.0, -3.0, 6.0)
    assert t.formula is not None and t.formula.text() == "b" and t.formula.text(numbers=True) == "-3"
    assert e.total == v["a"].grad == 6.0
    text = str(e)
    assert "dL/da = 6    (a = 2, a leaf)" in text
    assert "dL/de * de/da = (-2) * (-3) = 6" in text
    assert "de/da = d(a * b)/da = b = -3" in text
    assert e.numeric == pytest.approx(6.0, abs=1e-8)


def test_the_neuron_shows_the_tanh_derivative_as_the_lecture_writes_it():
    o, v = lecture_neuron()
    e = explain(v["n"], o)
    assert "do/dn = d(tanh(n))/dn = 1 - tanh(n)^2 = 1 - 0.7071^2 = 0.5" in str(e)
    assert e.total == v["n"].grad
    assert e.numeric == pytest.approx(0.5, abs=1e-8)
    markdown = e._repr_markdown_()
    assert r"\frac{\partial o}{\partial n}" in markdown
    assert r"1 - \operatorname{tanh}\left(n\right)^{2} = 1 - 0.7071^{2} = 0.5" in markdown


def test_a_used_twice_gives_two_terms_that_add():
    # karpathy/micrograd issue 64: b = a + a must give db/da = 2, one path per use.
    a = Value(3.0, label="a")
    b = a + a
    b.label = "b"
    b.backward()
    e = explain(a, b)
    assert [(t.consumer, t.position, t.amount) for t in e.terms] == [(b, 0, 1.0), (b, 1, 1.0)]
    assert e.total == a.grad == 2.0
    text = str(e)
    assert "a is used 2 times; the chain rule adds one term per use" in text
    assert "(as operand 1)" in text and "(as operand 2)" in text
    assert "total: db/da = 1 + 1 = 2" in text


def test_a_constant_folded_into_an_op_shows_as_a_number():
    a = Value(4.0, label="a")
    y = a * 3
    y.label = "y"
    y.backward()
    e = explain(a, y)
    assert e.terms[0].local == 3.0 and e.terms[0].formula.text() == "3"
    assert "via y = a * 3" in str(e)


def test_the_lecture_view_explains_the_constant_leaf_micrograd_010_makes():
    a = Value(4.0, label="a")
    y = a * 3
    y.label = "y"
    y.backward()
    three = next(p for p in y._prev if p is not a)
    e = explain(three, y, view="lecture")
    assert e.total == three.grad == 4.0 and e.terms[0].formula.text() == "a"


def test_an_interior_total_is_the_gradient_bit_for_bit_in_the_order_backward_added():
    random.seed(7)
    model = MLP(3, [4, 4, 1])
    xs = [[random.uniform(-1, 1) for _ in range(3)] for _ in range(5)]
    loss = sum(((model(x) - 1.0) ** 2 for x in xs), Value(0.0))
    loss.backward()
    for node in topological_order(loss):
        e = explain(node, loss)
        if node.parents:
            assert e.total == node.grad, node  # exact: same additions, same order
        assert e.grad == node.grad


def test_a_leaf_total_is_what_this_pass_added():
    a = Value(2.0, label="a")
    y = a * a
    y.backward()
    y.backward()  # a leaf accumulates: 4 + 4
    e = explain(a, y)
    assert e.total == 4.0 and a.grad == 8.0
    assert "a leaf keeps what earlier passes added" in str(e)


def test_a_fused_neuron_is_one_op_with_one_local_derivative_per_parent():
    random.seed(1)
    neuron = Neuron(2, activation="tanh")
    x0 = Value(0.5, label="x0")
    out = neuron([x0, -1.0])
    out.backward()
    w0 = neuron.w[0]
    e = explain(w0, out)
    assert e.terms[0].consumer.op == "affine"
    assert e.terms[0].local == 0.5 and e.total == w0.grad
    lecture = explain(x0, out, view="lecture")
    assert lecture.terms[0].consumer.op == "*"  # 0.1.0's w0 * x0 node
    assert lecture.total == x0.grad
    assert lecture.numeric == pytest.approx(x0.grad, abs=1e-8)


def test_a_hand_written_backward_is_said_so_and_its_amount_read_off():
    a = Value(2.0, label="a")
    sq = Value(4.0, (a,), "sq", label="sq")

    def _backward():
        a.grad += 2 * a.data * sq.grad

    sq._backward = _backward
    L = sq * 3
    L.label = "L"
    L.backward()
    before = {n: n.grad for n in topological_order(L)}
    e = explain(a, L)
    assert e.terms[0].hand_written and e.terms[0].amount == 12.0 and e.total == 12.0
    assert "sq has a hand-written _backward; it added 12" in str(e)
    assert e.numeric is None and "hand-written _backward" in e.numeric_reason
    assert {n: n.grad for n in topological_order(L)} == before  # reading it off changed nothing


def test_a_path_that_carries_no_gradient_is_said_to():
    x = Value(-1.0, label="x")
    dead = (x * 2).relu() * 5
    dead.label = "dead"
    dead.backward()
    e = explain(x, dead)
    assert e.total == 0.0 and e.terms[0].skipped
    assert "the pass skips" in str(e) and "every path from x to dead carries gradient 0" in str(e)


def test_the_root_explains_itself():
    L, v = lecture_expression()
    e = explain(L, L)
    assert e.total == 1.0 and e.terms == [] and "the backward pass starts from dL/dL = 1" in str(e)


def test_every_backward_step_carries_its_explanation():
    L, v = lecture_expression()
    for node in topological_order(L):
        node.grad = 0.0  # leaves then hold this pass alone
    for step in backward_steps(L):
        e = step.explanation
        assert e.node is step.node and e.total == step.grad
    assert e.node is v["a"] and "dL/de * de/da = (-2) * (-3) = 6" in str(e)


@pytest.mark.parametrize("call, error, message", [
    (lambda L, v: explain(1.0, L), TypeError, "explain needs a Value node, got float: 1.0"),
    (lambda L, v: explain(v["a"], "L"), TypeError, "explain needs a Value root, got str"),
    (lambda L, v: explain(Value(1.0), L), ValueError, "is not in the graph of"),
    (lambda L, v: explain(v["a"], v["a"] * 7), ValueError, "call root.backward\\(\\) first"),
    (lambda L, v: explain(v["a"], L, view="karpathy"), ValueError, "view must be 'engine' or 'lecture'"),
])
def test_bad_input_says_what_to_do(call, error, message):
    L, v = lecture_expression()
    with pytest.raises(error, match=message):
        call(L, v)


UNARY = ["tanh", "sigmoid", "sin", "cos", "softplus"]  # bounded growth: no overflow in three steps


@settings(deadline=None, max_examples=60)
@given(x=st.floats(-2, 2), y=st.floats(0.5, 2), ops=st.lists(st.sampled_from(UNARY), min_size=1, max_size=3))
def test_random_expressions_agree_with_backward_and_with_central_differences(x, y, ops):
    a, b = Value(x, label="a"), Value(y, label="b")
    h = a * b + a
    for op in ops:
        h = getattr(h, op)() + b * a
    h.backward()
    for node in (a, b):
        e = explain(node, h)
        assert e.total == node.grad
        assert e.numeric == pytest.approx(node.grad, rel=1e-5, abs=1e-6)
        assert math.isfinite(e.total)


def test_rounding_never_shows_a_number_as_a_different_exact_one():
    # tanh(6) = 0.99998771...: shown as 1, `1 - tanh(e)^2 = 1 - 1^2 = 2.458e-05` would be false.
    e = Value(6.0, label="e")
    L = e.tanh()
    L.label = "L"
    L.backward()
    text = str(explain(e, L))
    assert "1 - tanh(e)^2 = 1 - 0.99998771^2 = 2.458e-05" in text
    assert "0.99998771^{2}" in explain(e, L)._repr_markdown_()


@pytest.mark.parametrize("value, shown", [
    (math.tanh(6.0), "0.99998771"),   # rounds to 1: more digits, until the part hidden shows
    (-2.00004, "-2.00004"),
    (99999.7, "99999.7"),             # 1e+05 reads as exactly 100000 too
    (3.0000000000000004, "3.0000000000000004"),  # at most 17 digits: the float's repr
    (12345.6, "1.235e+04"),           # has its point: plainly rounded, kept at 4 digits
    (1.2345678e20, "1.235e+20"),      # an integer as big as this is not stretched to 17 digits
    (1e16 + 2, "1e+16"),
    (2.0, "2"), (0.5, "0.5"), (2.458e-05, "2.458e-05"), (math.inf, "inf"),
])
def test_format_number_shows_more_digits_only_where_rounding_would_fake_an_exact_number(value, shown):
    from micrograd.symbolic import format_number

    assert format_number(value) == shown


def test_the_markdown_form_says_each_step_of_a_local_derivative_once():
    a, b = Value(2.0, label="a"), Value(-3.0, label="b")
    e = a * b
    e.label = "e"
    e.backward()
    markdown = explain(b, e)._repr_markdown_()
    assert r"\frac{\partial e}{\partial b} = a = 2$" in markdown and "= 2 = 2" not in markdown
