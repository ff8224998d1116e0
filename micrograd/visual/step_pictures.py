"""Watching a pass node by node: drawings of every step, an interactive stepper for
Jupyter, and numbered image files.

`frames(root)` draws the graph after each step of `root`'s backward pass; `step_frames`
gives each drawing with its step (and so its worked calculation, `step.explanation`).
`step_through(root)` shows them with a slider, a play button and the calculation of each
step when `ipywidgets` is installed (`pip install micrograd[jupyter]`), and returns the
plain list of drawings otherwise. `save_frames` writes them as `step_001.svg`,
`step_002.svg`, ... (file k is step k, as everywhere) for slides or an animation tool;
`micrograd.save_html` writes a stepper that opens in any browser.

Every picture of a pass shows that pass alone, and leaves the graph as it found it: the
pass runs on the side (each leaf's gradient starts from 0, so a leaf shows what this pass
adds to it, as `explain` does), and afterwards every `.grad` is put back exactly as it was,
however often you draw. To change the gradients, call `root.backward()` (or step through
`backward_steps(root)`, which *is* `backward()`).
"""

from __future__ import annotations

import html
import pathlib
import re
from typing import Any, Dict, List, Tuple, Union, cast

from ..engine import Value, close_stepped_passes, topological_order
from ..steps import BackwardStep, ForwardStep, backward_steps, forward_steps
from .graph import Drawing, draw_dot

__all__ = ["frames", "save_frames", "step_frames", "step_through"]

_DIRECTIONS = ("backward", "forward")
Step = Union[BackwardStep, ForwardStep]


def step_frames(root: Value, direction: str = "backward", *, who: str = "step_frames",
                **draw_options: Any) -> List[Tuple[Step, Drawing]]:
    """Every drawn step of one pass through `root`'s graph, with its drawing, in order.

    Backward, the steps are those of `backward_steps(root)` run on the side: each leaf's
    gradient starts from 0 (so it shows what this pass adds to it; an interior node's is
    reset by the pass anyway), and once the last step is recorded every `.grad` is put
    back as it was, so calling this twice gives the same pictures and changes nothing.
    (Like any new pass, it first undoes a `backward_steps` over the same graph that you
    left unfinished.) Forward, the steps replay the evaluation order (nothing changes).

    Args:
        root: the node to backpropagate from (or, forward, to evaluate up to).
        direction: "backward" or "forward".
        **draw_options: passed to `draw_dot` (`show_local=True`, `rankdir="TB"`, ...).
            The size limit `max_nodes` is checked before the pass runs. With
            `max_depth` or `stop_at`, only the steps at drawn nodes are kept. Not
            `collapse=` (a step is one node; a box would merge many).
        who: the function a bad argument's error names (a wrapper such as `save_html`
            passes its own name, so the error points at the call the user wrote).
    """
    if direction not in _DIRECTIONS:
        raise ValueError(f"{who} direction must be 'backward' or 'forward', got {direction!r}")
    if "highlight" in draw_options:
        raise TypeError(f"{who} draws every step itself: do not pass highlight")
    if draw_options.get("collapse") is not None:  # a box merges many nodes: no step is drawn alone
        raise ValueError(
            f"{who} draws the pass one node at a time, so it cannot draw the graph collapsed"
            f" (collapse={draw_options['collapse']!r}); draw a part of a big graph with max_depth= or stop_at=,"
            " or draw_dot(root, model=..., collapse=...) for one picture of it"
        )
    # The size guard and option checks, before any .grad changes; and which nodes are in view.
    drawn = set(_checked_drawing(root, who, draw_options).values)
    steps: List[Step] = list(forward_steps(root)) if direction == "forward" else _backward_on_the_side(root)
    # Each drawing reads its step's record (`step.grads`), never the live .grad, so the
    # pictures can be drawn after the gradients are back.
    return [(step, draw_dot(root, highlight=step, **draw_options)) for step in steps if step.node in drawn]


def _checked_drawing(root: Value, who: str, draw_options: Dict[str, Any]) -> Drawing:
    """`draw_dot(root, **draw_options)`, its errors naming `who` (the function the user
    called) instead of draw_dot: the options are checked here, before any step is taken."""
    try:
        return draw_dot(root, **draw_options)
    except (TypeError, ValueError) as e:  # GraphTooLargeError is a ValueError
        message = str(e)
        if who == "draw_dot" or not message.startswith("draw_dot") or len(e.args) != 1:
            raise
        raise type(e)(who + message[len("draw_dot"):]) from None


def _backward_on_the_side(root: Value) -> List[Step]:
    """All steps of `backward_steps(root)` with the leaves starting from 0, leaving every
    `.grad` as it was found."""
    close_stepped_passes(root)  # a pass left half-done puts its gradients back before they are saved
    total = len(topological_order(root))
    leaves = [(node, node.grad) for node in topological_order(root) if node.is_leaf]
    for leaf, _ in leaves:
        leaf.grad = 0.0
    try:
        steps: List[Step] = []
        it = backward_steps(root)
        try:
            for _ in range(total):  # every step, but not the end of the pass:
                steps.append(next(it))
        finally:
            it.close()  # a pass closed before its end puts every gradient back (the engine's undo)
    finally:
        for leaf, g in leaves:  # and the leaves get what they held before they were zeroed
            leaf.grad = g
    return steps


def frames(root: Value, direction: str = "backward", **draw_options: Any) -> List[Drawing]:
    """One drawing per step of the pass through `root`'s graph, in order.

    Each shows the gradients of this pass alone (a leaf's is what the pass adds to it), and
    every `.grad` is left exactly as it was: see `step_frames`, which takes the same
    arguments and also gives each drawing's step.
    """
    return _drawings(root, direction, "frames", draw_options)


def _drawings(root: Value, direction: str, who: str, draw_options: Dict[str, Any]) -> List[Drawing]:
    return [drawing for _, drawing in step_frames(root, direction, who=who, **draw_options)]


def save_frames(
    root: Value,
    directory: Union[str, "pathlib.Path"],
    direction: str = "backward",
    *,
    format: str = "svg",
    prefix: str = "step",
    **draw_options: Any,
) -> List[pathlib.Path]:
    """Render every step of the pass to `directory/{prefix}_001.{format}`, ... and return
    the paths: file k is step k of the pass, numbered from 1 as in "step 1 of N" (what
    ffmpeg's `step_%03d.png` also finds). The directory is created if needed. `format` is any
    format the `dot` program writes ("svg", "png"; graphviz-pure has no "pdf"). Like
    `frames`, it shows this pass's gradients and leaves every `.grad` as it was."""
    if not isinstance(prefix, str) or not prefix or prefix in (".", "..") or any(c in prefix for c in "/\\"):
        raise ValueError(f"save_frames prefix must be a file name's start, without a folder, got {prefix!r}")
    out = pathlib.Path(directory)
    drawings = _drawings(root, direction, "save_frames", draw_options)
    # The first picture is rendered before the folder is made: a format `dot` cannot write
    # fails here and leaves nothing behind.
    first = drawings[0].pipe(format=format) if drawings else b""
    out.mkdir(parents=True, exist_ok=True)
    width = max(3, len(str(len(drawings))))
    paths = []
    for i, drawing in enumerate(drawings, 1):
        path = out / f"{prefix}_{i:0{width}d}.{format}"
        path.write_bytes(first if i == 1 else drawing.pipe(format=format))
        paths.append(path)
    return paths


def step_through(root: Value, direction: str = "backward", **draw_options: Any) -> Any:
    """An interactive stepper for Jupyter: a slider (and play button) over the steps of
    the pass, numbered 1 to N as in "step k of N", showing the graph at each (fitted to the
    cell's width) and, under it, the step's calculation: backward, the chain rule's worked
    calculation of the highlighted node's gradient (`step.explanation`); forward, how its
    value was computed. Like `frames`, it shows this pass's gradients and leaves every
    `.grad` as it was. Without `ipywidgets` installed, the list of drawings from `frames`."""
    pictured = step_frames(root, direction, who="step_through", **draw_options)
    try:
        import ipywidgets as widgets
    except ImportError:  # optional: the drawings are still useful as a list
        return [drawing for _, drawing in pictured]

    rendered: Dict[int, Tuple[str, str]] = {}

    def shown(k: int) -> Tuple[str, str]:  # render on demand: most frames of a long pass are never looked at
        if k not in rendered:
            step, drawing = pictured[k - 1]
            svg = cast(str, drawing.pipe(format="svg", encoding="utf-8"))
            rendered[k] = (_fit_to_width(svg), _markdown_html(step.explanation._repr_markdown_()))
        return rendered[k]

    total = len(pictured)
    slider = widgets.IntSlider(value=1, min=1, max=total, description="step", continuous_update=False)
    play = widgets.Play(value=1, min=1, max=total, interval=1000, description="play")
    widgets.jslink((play, "value"), (slider, "value"))
    svg, math = shown(1)
    picture = widgets.HTML(value=svg, layout=widgets.Layout(width="100%"))
    calculation = widgets.HTMLMath(value=math)
    caption = widgets.Label(value=f"step 1 of {total} ({direction})")

    def show(change: Dict[str, Any]) -> None:
        k = change["new"]
        picture.value, calculation.value = shown(k)
        caption.value = f"step {k} of {total} ({direction})"

    slider.observe(show, names="value")
    return widgets.VBox([widgets.HBox([play, slider, caption]), picture, calculation])


def _fit_to_width(svg: str) -> str:
    """An SVG written by `dot`, made to shrink to its container's width (keeping its
    proportions) instead of running past it: a wide graph's root stays in view."""
    return re.sub(r"<svg\b", '<svg style="max-width:100%;height:auto"', svg, count=1)


def _markdown_html(markdown: str) -> str:
    """The small Markdown an `Explanation` or `Computation` writes (lines of text with
    `$...$` math and `code`), as HTML for a widget that typesets the math (HTMLMath)."""
    paragraphs = []
    for line in markdown.split("\n"):
        if not line.strip():
            continue
        text = html.escape(line, quote=False).replace("&amp;nbsp;", "&nbsp;")
        text = re.sub(r"`([^`]*)`", r"<code>\1</code>", text)
        paragraphs.append(f"<div>{text}</div>")
    return "\n".join(paragraphs)
