"""Watching a pass node by node: drawings of every step, an interactive stepper for
Jupyter, and numbered image files.

`frames(root)` runs `root`'s backward pass (exactly `root.backward()`, so leaves
accumulate as usual) and draws the graph after each step. `step_through(root)` shows them
with a slider and a play button when `ipywidgets` is installed (`pip install
micrograd[jupyter]`), and returns the plain list of drawings otherwise. `save_frames` writes
them as `step_000.svg`, `step_001.svg`, ... for slides or an animation tool.
"""

from __future__ import annotations

import pathlib
from typing import Any, Dict, List, Union, cast

from ..engine import Value
from ..steps import backward_steps, forward_steps
from .graph import Drawing, draw_dot

__all__ = ["frames", "save_frames", "step_through"]

_DIRECTIONS = ("backward", "forward")


def frames(root: Value, direction: str = "backward", **draw_options: Any) -> List[Drawing]:
    """One drawing per step of the pass through `root`'s graph, in order.

    Args:
        root: the node to backpropagate from (or, forward, to evaluate up to).
        direction: "backward" runs `root.backward()` one node at a time (leaves
            accumulate, as with `backward()`); "forward" replays the evaluation order.
        **draw_options: passed to `draw_dot` (`show_local=True`, `rankdir="TB"`, ...).
            The size limit `max_nodes` is checked before the pass runs. With
            `max_depth` or `stop_at`, only the steps at drawn nodes get a drawing.
    """
    if direction not in _DIRECTIONS:
        raise ValueError(f"direction must be 'backward' or 'forward', got {direction!r}")
    if "highlight" in draw_options:
        raise TypeError("frames draws every step itself: do not pass highlight")
    # The size guard and option checks, before any .grad changes; and which nodes are in view.
    drawn = set(draw_dot(root, **draw_options).values)
    steps = backward_steps(root) if direction == "backward" else forward_steps(root)
    # With max_depth or stop_at, the pass still runs through every node, but only the
    # steps at drawn nodes get a picture.
    return [draw_dot(root, highlight=step, **draw_options) for step in steps if step.node in drawn]


def save_frames(
    root: Value,
    directory: Union[str, "pathlib.Path"],
    direction: str = "backward",
    *,
    format: str = "svg",
    prefix: str = "step",
    **draw_options: Any,
) -> List[pathlib.Path]:
    """Render every step of the pass to `directory/{prefix}_000.{format}`, ... and return
    the paths. The directory is created if needed. `format` is any format the `dot` program
    writes ("svg", "png"; graphviz-pure has no "pdf")."""
    out = pathlib.Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    drawings = frames(root, direction, **draw_options)
    width = max(3, len(str(len(drawings) - 1)))
    paths = []
    for i, drawing in enumerate(drawings):
        path = out / f"{prefix}_{i:0{width}d}.{format}"
        path.write_bytes(drawing.pipe(format=format))
        paths.append(path)
    return paths


def step_through(root: Value, direction: str = "backward", **draw_options: Any) -> Any:
    """An interactive stepper for Jupyter: a slider (and play button) over the steps of
    the pass, showing the graph at each. Without `ipywidgets` installed, the list of
    drawings from `frames` (display them one by one, or index into it)."""
    drawings = frames(root, direction, **draw_options)
    try:
        import ipywidgets as widgets
    except ImportError:  # optional: the drawings are still useful as a list
        return drawings

    rendered: Dict[int, str] = {}

    def svg(i: int) -> str:  # render on demand: most frames of a long pass are never looked at
        if i not in rendered:
            rendered[i] = cast(str, drawings[i].pipe(format="svg", encoding="utf-8"))
        return rendered[i]

    last = len(drawings) - 1
    slider = widgets.IntSlider(value=0, min=0, max=last, description="step", continuous_update=False)
    play = widgets.Play(value=0, min=0, max=last, interval=1000, description="play")
    widgets.jslink((play, "value"), (slider, "value"))
    picture = widgets.HTML(value=svg(0))
    caption = widgets.Label(value=f"step 1 of {last + 1} ({direction})")

    def show(change: Dict[str, Any]) -> None:
        i = change["new"]
        picture.value = svg(i)
        caption.value = f"step {i + 1} of {last + 1} ({direction})"

    slider.observe(show, names="value")
    return widgets.VBox([widgets.HBox([play, slider, caption]), picture])
