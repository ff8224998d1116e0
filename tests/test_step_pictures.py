"""Frames of the forward and backward passes (`micrograd.visual.step_pictures`): one drawing
per step, saved as numbered files, and the Jupyter stepper (a slider over the frames).

The moments themselves (`draw_dot(..., highlight=step)`) are tested in test_draw.py.
"""

from __future__ import annotations

import sys

import pytest
from graphs import lecture_graph, svg_nodes

import micrograd
from micrograd import GraphTooLargeError, frames, save_frames, step_through


def test_frames_draw_one_picture_per_step_and_leave_grads_as_backward_does():
    L, reference = lecture_graph(), lecture_graph()
    drawings = frames(L, show_local=True)
    reference.backward()
    assert len(drawings) == 7
    assert [n.grad for n in micrograd.topological_order(L)] == [n.grad for n in micrograd.topological_order(reference)]
    assert drawings[-1].source.count("grad ?") == 0 and drawings[0].source.count("grad ?") == 4


def test_frames_of_a_cut_view_cover_only_the_drawn_steps_but_finish_the_pass():
    L, reference = lecture_graph(), lecture_graph()
    drawings = frames(L, max_depth=1)  # L, d and f are drawn; a, b, c and a*b are not
    reference.backward()
    assert len(drawings) == 3
    assert [n.grad for n in micrograd.topological_order(L)] == [n.grad for n in micrograd.topological_order(reference)]


def test_frames_check_the_size_before_running_the_pass(demo_loss):
    loss, model, _ = demo_loss
    before = [p.grad for p in model.parameters()]
    with pytest.raises(GraphTooLargeError):
        frames(loss)
    assert [p.grad for p in model.parameters()] == before


def test_save_frames_writes_numbered_files(fallback_only, tmp_path):
    paths = save_frames(lecture_graph(), tmp_path / "frames", format="png")
    assert [p.name for p in paths] == [f"step_{i:03d}.png" for i in range(7)]
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
    controls, picture = box.children
    play, slider, caption = controls.children
    assert isinstance(slider, widgets.IntSlider) and slider.max == 6
    slider.value = 3
    assert caption.value == "step 4 of 7 (forward)"
    assert svg_nodes(picture.value)[0] == "v0"


def test_frames_reject_an_unknown_direction():
    with pytest.raises(ValueError, match="direction must be 'backward' or 'forward', got 'sideways'"):
        frames(lecture_graph(), "sideways")
