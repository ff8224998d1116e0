"""Reliability of the engine: per-thread grad mode, finite gradients, and backward passes
that leave nothing half-done. Each test is a reproduction from the "Nothing silent,
nothing half-done" issue, or from the review of the one-source-of-truth engine."""

import gc
import math
import random
import sys
import threading

import pytest

from micrograd import Value, engine, grad, no_grad
from micrograd.engine import (
    NonFiniteError,
    backward_pass,
    enable_grad,
    is_grad_enabled,
    set_grad_enabled,
    topological_order,
)
from micrograd.nn import MLP
from micrograd.steps import backward_steps

# --- grad mode is per thread and re-entrant -----------------------------------------------


def run_in_thread(fn):
    """Run fn in a new thread and return what it returned (or raise what it raised)."""
    result = {}

    def target():
        try:
            result["value"] = fn()
        except BaseException as e:  # noqa: B036 - handed back to the test
            result["error"] = e

    t = threading.Thread(target=target)
    t.start()
    t.join(timeout=60)
    assert not t.is_alive()
    if "error" in result:
        raise result["error"]
    return result["value"]


def x_squared_plus_x_grad():
    x = Value(3.0)
    y = x * x + x
    y.backward()
    return x.grad


def test_another_threads_no_grad_does_not_switch_off_this_threads_graph():
    with no_grad():
        assert not is_grad_enabled()
        assert run_in_thread(x_squared_plus_x_grad) == 7.0  # 2x + 1 at 3
        assert not is_grad_enabled()
    assert is_grad_enabled()


def test_interleaved_no_grad_blocks_in_two_threads_leave_grad_mode_on():
    # A enters, B enters, A exits, B exits: with one process-wide flag B's exit restored "off".
    a_in, b_in, a_out = threading.Event(), threading.Event(), threading.Event()
    seen = {}

    def thread_a():
        with no_grad():
            a_in.set()
            b_in.wait(10)
        seen["a after"] = is_grad_enabled()
        a_out.set()

    def thread_b():
        a_in.wait(10)
        with no_grad():
            b_in.set()
            a_out.wait(10)
            seen["b inside"] = is_grad_enabled()
        seen["b after"] = is_grad_enabled()
        seen["b grad"] = x_squared_plus_x_grad()

    threads = [threading.Thread(target=thread_a), threading.Thread(target=thread_b)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert seen == {"a after": True, "b inside": False, "b after": True, "b grad": 7.0}
    assert is_grad_enabled()
    assert x_squared_plus_x_grad() == 7.0


def test_a_reused_no_grad_instance_restores_each_level():
    ng = no_grad()
    with ng:
        with ng:
            assert not is_grad_enabled()
        assert not is_grad_enabled()  # the inner exit restores the outer block's "off"
    assert is_grad_enabled()
    assert x_squared_plus_x_grad() == 7.0


def test_enable_grad_inside_no_grad_records_a_graph():
    with no_grad():
        with enable_grad():
            assert x_squared_plus_x_grad() == 7.0
        assert (Value(2.0) * Value(3.0)).is_leaf


def test_set_grad_enabled_works_as_a_call_and_as_a_block():
    try:
        set_grad_enabled(False)
        assert not is_grad_enabled()
        with set_grad_enabled(True):
            assert is_grad_enabled()
        assert not is_grad_enabled()  # the block put back what it found
    finally:
        set_grad_enabled(True)
    with set_grad_enabled(False):
        assert (Value(2.0) * Value(3.0)).is_leaf
    assert is_grad_enabled()
    with pytest.raises(TypeError, match="set_grad_enabled needs True or False, got int: 0"):
        set_grad_enabled(0)  # type: ignore[arg-type]


def test_grad_mode_switches_work_as_decorators():
    @no_grad()
    def off():
        return is_grad_enabled()

    @enable_grad()
    def on():
        return is_grad_enabled()

    assert off() is False and is_grad_enabled()
    with no_grad():
        assert on() is True
        assert not is_grad_enabled()


def test_a_thread_that_ends_with_grad_off_stops_counting():
    gc.collect()
    before = engine._threads_off
    run_in_thread(lambda: set_grad_enabled(False))
    gc.collect()
    assert engine._threads_off == before == 0  # the fast path is back for every thread


def test_grad_with_create_graph_records_a_graph_inside_no_grad():
    x = Value(1.5)
    y = x ** 3
    with no_grad():
        g, = grad(y, [x], create_graph=True)
    assert g.data == pytest.approx(6.75)  # 3 x^2
    assert not g.is_leaf
    assert grad(g, [x])[0].data == pytest.approx(9.0)  # 6 x


def train_small_model(seed, steps=200):
    """MLP 2-4-1 trained by hand with SGD; the loss and parameters after every step."""
    rng = random.Random(seed)
    model = MLP(2, [4, 1], activation="tanh", rng=rng)
    points = [([rng.uniform(-1, 1), rng.uniform(-1, 1)], rng.choice([-1.0, 1.0])) for _ in range(8)]
    history = []
    for _ in range(steps):
        loss = sum(((model(x) - y) ** 2 for x, y in points), Value(0.0)) * (1.0 / len(points))
        model.zero_grad()
        loss.backward()
        with no_grad():  # every thread flips its grad mode every step
            for p in model.parameters():
                p.data -= 0.1 * p.grad
            check = model(points[0][0])
        assert check.is_leaf
        history.append((loss.data, tuple(p.data for p in model.parameters())))
    return history


def test_threads_training_at_once_give_the_gradients_of_the_same_runs_one_after_another():
    seeds = [11, 12, 13, 14]
    alone = [train_small_model(seed) for seed in seeds]
    together = [None] * len(seeds)
    start = threading.Barrier(len(seeds))

    def worker(i):
        start.wait(10)
        together[i] = train_small_model(seeds[i])

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(len(seeds))]
    switch = sys.getswitchinterval()
    sys.setswitchinterval(1e-5)  # switch threads often, so the runs really interleave
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
    finally:
        sys.setswitchinterval(switch)
    assert together == alone  # every loss and every parameter, bit for bit, at every step
    assert len(alone[0]) == 200 and alone[0][0][0] != alone[0][-1][0]


# --- nothing non-finite gets through ---------------------------------------------------


def test_gradients_that_cancel_to_nan_raise_naming_the_leaf_and_the_amounts():
    x = Value(1e-300, label="x")
    y = x * 1e300 * 1e300 + x * (-1e300) * 1e300
    with pytest.raises(NonFiniteError) as info:
        y.backward()
    message = str(info.value)
    assert "the gradient of 'x' (a leaf, data 1e-300) is nan" in message
    assert "inf from the '*' node (local derivative 1e+300 x its grad 1e+300)" in message
    assert "-inf from the '*' node (local derivative -1e+300 x its grad 1e+300)" in message
    assert x.grad == 0.0  # and nothing was left half-done


def test_an_infinite_local_derivative_is_caught_at_the_leaf():
    x = Value(5e-324)
    with pytest.raises(NonFiniteError, match=r"gradient of a leaf \(data 5e-324\) is inf.*'log' node"):
        x.log().backward()


def test_an_interior_gradient_that_overflows_is_named_where_it_is_complete():
    x = Value(1.0)
    h = (x * 1e300).sin()  # every value stays small; the slopes are 1e300 each
    h.label = "h"
    y = ((h * 1e300).sin() * 1e300).sin()
    with pytest.raises(NonFiniteError, match=r"the gradient of 'h' \(data .*\) is -?inf, the sum of: -?inf from"):
        y.backward()
    assert x.grad == 0.0


def test_grad_reports_a_non_finite_gradient_and_puts_every_grad_back():
    x = Value(5e-324)
    x.grad = 4.0
    y = x.log()
    with pytest.raises(NonFiniteError, match="is inf"):
        grad(y, [x])
    assert x.grad == 4.0 and y.grad == 0.0


def test_a_local_derivative_too_large_for_a_float_is_named():
    with pytest.raises(NonFiniteError, match=r"the local derivative of \*\*-1 at \(1e-200, -1.0\) is too large"):
        (1 / Value(1e-200)).backward()


def test_data_changed_to_a_pole_before_backward_gives_a_named_error():
    x = Value(2.0)
    y = x.log()
    x.data = 0.0
    with pytest.raises(NonFiniteError, match=r"the local derivative of log at \(0.0\) is infinite"):
        y.backward()
    z = Value(3.0)
    w = z ** -1
    z.data = 0.0
    with pytest.raises(NonFiniteError, match=r"the local derivative of \*\*-1 at \(0.0, -1.0\) is infinite"):
        w.backward()


def test_a_hand_written_backward_that_writes_inf_is_caught_right_after_it_runs():
    a = Value(2.0, label="a")
    out = Value(a.data ** 2, (a,), "square", label="sq")

    def _backward():
        a.grad += math.inf * out.grad

    out._backward = _backward
    loss = out * 3.0
    with pytest.raises(NonFiniteError) as info:
        loss.backward()
    assert "the hand-written _backward of 'sq' (data 4.0, grad 3.0) made the gradient of 'a'" in str(info.value)
    assert "inf" in str(info.value)
    assert a.grad == 0.0


def test_sqrt_of_zero_is_zero_as_in_micrograd_010_and_its_infinite_slope_is_named():
    assert Value(0.0).sqrt().data == 0.0
    assert (Value(0.0) ** 0.25).data == 0.0
    with no_grad():
        assert Value(0.0).sqrt().data == 0.0
    with pytest.raises(NonFiniteError, match=r"local derivative of \*\*0.5 at \(0.0, 0.5\) is infinite"):
        Value(0.0).sqrt().backward()
    dead = Value(0.0).sqrt() * 0.0  # no gradient reaches the pole: nothing to complain about
    dead.backward()


UNARY = ["exp", "log", "tanh", "sigmoid", "softplus", "sin", "cos", "relu", "abs", "leaky_relu", "sqrt"]


@pytest.mark.parametrize("op", UNARY)
@pytest.mark.parametrize("bad", [math.inf, -math.inf, math.nan])
def test_every_unary_op_refuses_a_non_finite_input(op, bad):
    x = Value(0.5)
    x.data = bad  # only possible by hand: Value() itself refuses it
    with pytest.raises((ValueError, OverflowError), match=r"finite"):
        getattr(x, op)()


# --- a failed backward leaves nothing half-done -------------------------------------------


def graph_with_a_custom_op(fail):
    """d = c + w with c = (w*3) + (w*5) built by hand: dd/dw = 3 + 5 + 1 = 9."""
    w = Value(2.0, label="w")
    a, b = w * 3.0, w * 5.0
    c = Value(a.data + b.data, (a, b), "+")

    def _backward():
        a.grad += c.grad
        if fail:
            raise RuntimeError("boom")
        b.grad += c.grad

    c._backward = _backward
    return w, c + w


def test_an_exception_inside_backward_leaves_every_leaf_as_it_was():
    w, d = graph_with_a_custom_op(fail=True)
    w.grad = 2.0  # from an earlier pass
    with pytest.raises(RuntimeError, match="boom"):
        d.backward()
    assert w.grad == 2.0  # the +1 from `c + w` and the +3 from w*3 are gone


def test_a_retry_after_a_failed_backward_gives_the_right_numbers():
    state = {"fail": True}
    w = Value(2.0, label="w")
    a, b = w * 3.0, w * 5.0
    c = Value(a.data + b.data, (a, b), "+")

    def _backward():
        a.grad += c.grad
        if state["fail"]:
            raise RuntimeError("boom")
        b.grad += c.grad

    c._backward = _backward
    d = c + w
    with pytest.raises(RuntimeError):
        d.backward()
    state["fail"] = False
    d.backward()
    assert w.grad == 9.0  # 3 + 5 + 1, once: the failed call left nothing behind


def test_ctrl_c_inside_backward_leaves_every_leaf_as_it_was():
    w = Value(1.5)
    y = w * w
    custom = Value(y.data, (y,), "id")

    def _backward():
        raise KeyboardInterrupt

    custom._backward = _backward
    w.grad = 0.25
    with pytest.raises(KeyboardInterrupt):
        (custom + w).backward()
    assert w.grad == 0.25


def test_an_abandoned_backward_steps_puts_every_gradient_back():
    x, y = Value(2.0), Value(-3.0)
    loss = (x * y + x).tanh()
    loss.backward()
    before = [n.grad for n in topological_order(loss)]
    steps = backward_steps(loss)
    for _ in range(3):
        next(steps)
    assert [n.grad for n in topological_order(loss)] != before  # the pass is under way
    steps.close()
    assert [n.grad for n in topological_order(loss)] == before
    loss.backward()  # the retry adds exactly one more pass
    assert x.grad == 2 * before[0] and y.grad == 2 * before[1]


def test_a_backward_started_while_a_stepped_pass_is_open_undoes_it_first():
    x = Value(2.0)
    loss = x * x + x
    steps = backward_pass(loss)
    next(steps)
    next(steps)
    assert x.grad == 5.0  # the stepped pass is under way: 1 from `+ x`, 4 from x * x
    loss.backward()  # a cell stepped halfway, then backward(): one pass, not one and a half
    assert x.grad == 5.0
    with pytest.raises(RuntimeError, match="abandoned .* when another backward pass started"):
        next(steps)
    del steps
    gc.collect()
    assert x.grad == 5.0  # dropping the abandoned pass changes nothing


def test_a_gradient_set_by_hand_during_a_stepped_pass_is_not_undone():
    x = Value(2.0)
    loss = x * x + x
    steps = backward_pass(loss)
    next(steps)
    x.grad = 0.0  # zero_grad in the middle of the pass
    steps.close()
    assert x.grad == 0.0


def test_a_failed_stepped_pass_puts_every_gradient_back():
    w, d = graph_with_a_custom_op(fail=True)
    w.grad = 1.0
    with pytest.raises(RuntimeError):
        for _ in backward_pass(d):
            pass
    assert w.grad == 1.0


# --- the review of the engine rewrite -----------------------------------------------------


def test_an_engine_nodes_backward_can_be_called_again_and_again():
    a = Value(3.0)
    c = a * Value(2.0)
    c.grad = 1.0
    step = c._backward
    step()
    step()  # a stored _backward is a function, not a one-shot generator
    assert a.grad == 4.0


def test_stepping_by_hand_gives_the_lectures_constant_leaves_their_gradient():
    # micrograd 0.1.0: a = Value(3.0); c = a * 2; c.grad = 1.0; c._backward() -> [(2, 3.0), (3.0, 2.0)]
    a = Value(3.0)
    c = a * 2
    c.grad = 1.0
    c._backward()
    assert sorted((p.data, p.grad) for p in c._prev) == [(2.0, 3.0), (3.0, 2.0)]


def test_relu_derivative_reads_the_forward_result_as_micrograd_010_does():
    x = Value(2.0)
    y = x.relu()
    x.data = -1.0  # changed between the forward and the backward pass
    y.backward()
    assert x.grad == 1.0  # 0.1.0: (out.data > 0) * out.grad, and out.data is still 2.0


def test_an_mlp_on_plain_numbers_shows_micrograd_010s_graph():
    # Counted with micrograd 0.1.0 (PyPI) on the same seed: 10 and 1,009 nodes.
    random.seed(1337)
    from micrograd.nn import Neuron
    one = Neuron(2)([2.0, 0.0])
    random.seed(1337)
    mlp = MLP(2, [16, 16, 1])([2.0, 0.0])
    assert len(topological_order(one, view="lecture")) == 10
    assert len(topological_order(mlp, view="lecture")) == 1009
    assert len(topological_order(mlp)) == 402  # the engine's own graph: the inputs are constants of affine


def test_an_int_too_large_for_a_float_is_a_named_error_not_a_bare_overflow():
    too_large = r"Value\(\) needs a finite number, got int too large for a float \(about 10\*\*400\)"
    with pytest.raises(ValueError, match=too_large):
        Value(10 ** 400)
    with pytest.raises(ValueError, match=r"\+ needs a finite number, got int too large"):
        Value(1.0) + 10 ** 400
