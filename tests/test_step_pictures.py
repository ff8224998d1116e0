"""Frames of the forward and backward passes (`micrograd.visual.step_pictures`): one drawing
per step, saved as numbered files, and the Jupyter stepper (a slider over the frames, with
each step's calculation). Every picture of a pass shows that pass alone and leaves every
`.grad` as it found it, however often it is drawn.

The moments themselves (`draw_dot(..., highlight=step)`) are tested in test_draw.py.
"""

from __future__ import annotations

import math
import re
import sys

import pytest
from graphs import lecture_graph, svg_nodes

import micrograd
from micrograd import GraphTooLargeError, Value, backward_steps, frames, save_frames, step_frames, step_through


def grads(root):
    return [n.grad for n in micrograd.topological_order(root)]


def shown_grads(drawing):
    """{label: the grad its box shows} for every labelled box of a drawing."""
    return dict(re.findall(r'label="\{ (\w+) \| data [^|]* \| grad ([^ ]+) \}"', drawing.source))


def test_frames_draw_one_picture_per_step_and_leave_every_grad_as_it_was():
    L = lecture_graph()
    drawings = frames(L, show_local=True)
    assert len(drawings) == 7
    assert grads(L) == [0.0] * 7  # nothing was run on the graph itself
    assert drawings[-1].source.count("grad ?") == 0 and drawings[0].source.count("grad ?") == 4
    assert shown_grads(drawings[-1]) == {
        "a": "6.0000", "b": "-4.0000", "c": "-2.0000", "d": "-2.0000", "f": "4.0000", "L": "1.0000"}


def test_frames_of_a_cut_view_cover_only_the_drawn_steps():
    L = lecture_graph()
    drawings = frames(L, max_depth=1)  # L, d and f are drawn; a, b, c and a*b are not
    assert len(drawings) == 3
    assert grads(L) == [0.0] * 7


def test_frames_after_a_stepped_pass_show_one_pass_and_change_nothing(tmp_path):
    """The issue's repro: backward_steps, then save_frames, used to show leaf c at -4 and f
    at 8 (two passes) next to interior d at -2 (one)."""
    L = lecture_graph()
    list(backward_steps(L))  # this is L.backward(): c.grad = -2, f.grad = 4
    after_one_pass = grads(L)
    for _ in range(2):  # however often: the same pictures, and .grad untouched
        drawings = frames(L)
        assert shown_grads(drawings[-1]) == {
            "a": "6.0000", "b": "-4.0000", "c": "-2.0000", "d": "-2.0000", "f": "4.0000", "L": "1.0000"}
        assert grads(L) == after_one_pass
    paths = save_frames(L, tmp_path / "frames")
    assert grads(L) == after_one_pass
    assert "grad &#45;2.0000" in paths[-1].read_text() and "grad &#45;4.0000" in paths[-1].read_text()  # c; b


def test_frames_twice_draw_the_same_and_keep_accumulated_leaves_and_a_zero_grad_as_they_were():
    L = lecture_graph()
    L.backward()
    L.backward()  # leaves hold two passes: a = 12, c = -4, f = 8
    before = grads(L)
    first, second = frames(L, show_local=True), frames(L, show_local=True)
    assert [d.source for d in first] == [d.source for d in second]
    assert grads(L) == before and before[0] == 12.0
    assert shown_grads(first[-1])["c"] == "-2.0000" and shown_grads(first[-1])["a"] == "6.0000"


def test_step_frames_give_each_drawing_with_its_step_and_calculation():
    L = lecture_graph()
    pictured = step_frames(L)
    reference = list(backward_steps(lecture_graph()))
    assert [step.node.label for step, _ in pictured] == [step.node.label for step in reference]
    assert [str(step.explanation) for step, _ in pictured] == [str(step.explanation) for step in reference]
    step, drawing = pictured[2]
    assert step.node.label == "d" and step.explanation.total == -2.0 and 'color="#d62728"' in drawing.source


def test_a_leaf_explained_in_a_picture_is_what_this_pass_added():
    a = Value(3.0, label="a")
    y = a * a
    y.backward()
    y.backward()  # a.grad = 12: two passes
    step, _ = step_frames(y)[-1]
    assert step.node is a and step.explanation.total == 6.0 and step.explanation.grad == 6.0
    assert a.grad == 12.0


def test_frames_leave_the_lecture_view_of_a_graph_as_it_was():
    x = Value(2.0, label="x")
    m = x * 3
    y = m.tanh()
    view = m._prev  # 0.1.0's children of x * 3: x and a leaf Value(3.0), which gets gradient too
    y.backward()
    before = [v.grad for v in view]
    assert len(view) == 2 and before[1] != 0.0
    frames(y)
    frames(y)
    assert [v.grad for v in view] == before
    y.backward()  # a real pass still accumulates into the view's leaves, as in 0.1.0
    assert [v.grad for v in view] == [2 * g for g in before]


def test_frames_check_the_size_before_running_the_pass(demo_loss):
    loss, model, _ = demo_loss
    before = [p.grad for p in model.parameters()]
    with pytest.raises(GraphTooLargeError):
        frames(loss)
    assert [p.grad for p in model.parameters()] == before


def test_save_frames_writes_numbered_files(fallback_only, tmp_path):
    paths = save_frames(lecture_graph(), tmp_path / "frames", format="png")
    assert [p.name for p in paths] == [f"step_{k:03d}.png" for k in range(1, 8)]  # file k is step k of 7
    assert all(p.read_bytes()[:4] == b"\x89PNG" for p in paths)
    svgs = save_frames(lecture_graph(), tmp_path / "fwd", "forward")
    assert len(svgs) == 7 and svg_nodes(svgs[0].read_text())[0] == "v0"


def test_step_through_without_ipywidgets_is_a_list_of_drawings(monkeypatch):
    monkeypatch.setitem(sys.modules, "ipywidgets", None)  # makes `import ipywidgets` fail
    drawings = step_through(lecture_graph())
    assert isinstance(drawings, list) and len(drawings) == 7


def test_step_through_with_ipywidgets_is_a_slider_over_the_steps(fallback_only):
    widgets = pytest.importorskip("ipywidgets")
    box = step_through(lecture_graph(), direction="forward")
    controls, picture, calculation = box.children
    play, slider, caption = controls.children
    # one numbering: the slider reads k beside "step k of N"
    assert isinstance(slider, widgets.IntSlider) and (slider.min, slider.max, slider.value) == (1, 7, 1)
    assert (play.min, play.max) == (1, 7)
    assert caption.value == "step 1 of 7 (forward)"
    slider.value = 4
    assert caption.value == "step 4 of 7 (forward)"
    assert svg_nodes(picture.value)[0] == "v0"
    assert "$c = 10$" in calculation.value  # step 4 computes c: a leaf
    slider.value = 3
    assert r"\mathrm{mul1} = a \cdot b = 2 \cdot (-3) = -6" in calculation.value


def test_step_through_shows_each_steps_chain_rule_calculation_and_fits_the_cell(fallback_only):
    widgets = pytest.importorskip("ipywidgets")
    L = lecture_graph()
    box = step_through(L, show_local=True)
    controls, picture, calculation = box.children
    _, slider, caption = controls.children
    assert isinstance(calculation, widgets.HTMLMath)
    assert r"\frac{\partial L}{\partial L} = 1" in calculation.value
    slider.value = 3  # d
    assert caption.value == "step 3 of 7 (backward)"
    assert r"\frac{\partial L}{\partial d} = -2" in calculation.value
    assert r"1 \cdot (-2) = -2" in calculation.value
    # the SVG shrinks to the cell's width instead of pushing the root out of view
    assert re.search(r'<svg style="max-width:100%;height:auto" width="\d+pt"', picture.value)
    assert grads(L) == [0.0] * 7


def test_frames_reject_an_unknown_direction():
    with pytest.raises(ValueError, match="direction must be 'backward' or 'forward', got 'sideways'"):
        frames(lecture_graph(), "sideways")


def test_each_picture_function_names_itself_in_a_bad_options_error(tmp_path):
    from micrograd.nn import MLP

    L = lecture_graph()
    model = MLP(2, [1])
    calls = {
        "frames": lambda **kw: frames(L, **kw),
        "step_frames": lambda **kw: step_frames(L, **kw),
        "save_frames": lambda **kw: save_frames(L, tmp_path / "out", **kw),
        "step_through": lambda **kw: step_through(L, **kw),
    }
    for who, call in calls.items():
        with pytest.raises(ValueError, match=rf"^{who} rankdir must be one of .*, got 'XX'$"):
            call(rankdir="XX")
        with pytest.raises(TypeError, match=rf"^{who}\(\) got an unexpected keyword argument 'colour'$"):
            call(colour=True)
        with pytest.raises(GraphTooLargeError, match=rf"^{who}: the graph behind this Value has 7 nodes"):
            call(max_nodes=2)
        with pytest.raises(ValueError, match=rf"^{who} draws the pass one node at a time, so it cannot draw the"
                                             r" graph collapsed \(collapse='layer'\)"):
            call(collapse="layer", model=model)
    assert not (tmp_path / "out").exists()
    # draw_dot itself still names draw_dot
    with pytest.raises(ValueError, match=r"^draw_dot rankdir must be"):
        micrograd.draw_dot(L, rankdir="XX")


def _lecture_tanh(v):
    """tanh written the lecture's way: its own `_backward`, no primitive."""
    import math

    t = math.tanh(v.data)
    out = Value(t, (v,), "tanh")

    def _backward():
        v.grad += (1 - t ** 2) * out.grad

    out._backward = _backward
    return out


def test_the_calculation_below_a_hand_written_op_reads_what_it_added_in_that_pass():
    from micrograd import backward_steps
    from micrograd.visual.step_pictures import step_frames

    x = Value(0.5, label="x")
    n = x * 2
    n.label = "n"
    z = _lecture_tanh(n)
    z.label = "z"
    added = 1 - math.tanh(1.0) ** 2
    pictured = [step.explanation for step, _ in step_frames(z)]
    assert pictured[1].total == added and pictured[1].grad == added
    assert f"it added {added:.2f}" in str(pictured[1])
    steps = list(backward_steps(z))
    z.grad = 0.0  # the live gradient moves on; the explanation of that step must not
    assert steps[1].explanation.total == added
    assert "a leaf keeps" not in str(steps[1].explanation)


def test_pictures_drawn_while_a_stepped_pass_is_half_done_do_not_keep_its_gradients():
    from micrograd import backward_steps, frames

    a, b = Value(2.0), Value(-3.0)
    L = a * b + a
    it = backward_steps(L)
    for _ in range(3):
        next(it)
    frames(L)
    L.backward()
    assert (a.grad, b.grad) == (-2.0, 2.0)  # one pass, as backward() alone gives


@pytest.mark.parametrize("options, message", [
    ({"format": "bogus"}, "unknown format: 'bogus'"),
    ({"prefix": "../x"}, "save_frames prefix must be a file name's start, without a folder, got '../x'"),
    ({"prefix": ""}, "save_frames prefix must be"),
])
def test_save_frames_refuses_what_it_cannot_write_before_making_the_folder(tmp_path, options, message):
    a = Value(2.0)
    with pytest.raises(ValueError, match=re.escape(message)):
        save_frames(a * a, tmp_path / "frames", **options)
    assert not (tmp_path / "frames").exists()
