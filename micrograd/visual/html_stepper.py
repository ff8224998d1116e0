"""A stepper through a pass that opens in any browser: `save_html(root, "steps.html")`.

The file holds everything itself (the graph as inline SVG, the script and the style; no
network, no Jupyter): a teacher can put it on a course page, a learner can send it to a
friend. It shows the graph with the current step's node highlighted, prev/next buttons, a
slider numbered like the counter ("step 3 of 7"), play/pause, the arrow keys, and under
the graph the worked calculation of the step (`step.explanation`).

Every step's picture is `draw_dot(root, highlight=step)`, the same drawing `frames` makes.
Laying out one picture per step would repeat the whole SVG per step (a 200-node graph
would take ~30 MB), so the graph is laid out once, with each label as wide as it ever
gets, and the page keeps, per step, only what `draw_dot` draws differently from the step
before (a box's numbers, the red node and edges, a fill colour); the script applies those
changes to the one SVG. So the nodes also stay where they are as you step.
"""

from __future__ import annotations

import html
import json
import pathlib
import re
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union, cast

from ..engine import Value
from .graph import Drawing
from .step_pictures import step_frames

__all__ = ["save_html", "stepper_html"]

Look = Tuple[Tuple[str, ...], str, str, str, str, str]  # label lines, colour, fill, font colour, pen width, style


def save_html(root: Value, path: Union[str, "pathlib.Path"], direction: str = "backward", *,
              title: Optional[str] = None, **draw_options: Any) -> pathlib.Path:
    """Write a self-contained HTML stepper through the pass of `root`'s graph to `path`.

    Open the file in a browser (from disk is fine: it makes no network request). It shows
    the graph with the current step's node in red, prev/next buttons, a slider, play/pause,
    the arrow keys (Home and End jump to the ends, space plays), the counter "step k of N"
    and, under the graph, the step's worked calculation: backward, the chain rule's
    calculation of the node's gradient (`BackwardStep.explanation`); forward, how its value
    was computed. `#step=k` at the end of the address opens step k.

    Like `frames`, the page shows the gradients of this pass alone (a leaf's is what the
    pass adds to it) and every `.grad` is left exactly as it was, however often you call it.

    Args:
        root: the node to backpropagate from (or, forward, to evaluate up to).
        path: the file to write (UTF-8); its folder must exist.
        direction: "backward" or "forward".
        title: the page's heading (default: which pass, through which node).
        **draw_options: passed to `draw_dot` (`show_local=True`, `color_by_grad=True`,
            `params=`, `rankdir=`, `max_depth=`, ...), as for `frames`.

    Returns:
        The path written.

    Raises:
        GraphTooLargeError: the graph has more than `max_nodes` nodes (as `draw_dot`).
    """
    out = pathlib.Path(path)
    out.write_text(stepper_html(root, direction, title=title, who="save_html", **draw_options), encoding="utf-8")
    return out


def stepper_html(root: Value, direction: str = "backward", *, title: Optional[str] = None,
                 who: str = "stepper_html", **draw_options: Any) -> str:
    """The page `save_html` writes, as a string (to serve or embed it yourself). `who` is
    the function a bad argument's error names (`save_html` passes its own name)."""
    pictured = step_frames(root, direction, who=who, **draw_options)
    drawings = [drawing for _, drawing in pictured]
    cache: Dict[str, Optional[Tuple[str, str, Attrs, Look]]] = {}  # most lines are the same at every step
    statements = [_statements(d, cache) for d in drawings]
    keys = [key for key, _, _ in statements[0]]
    looks = [[look for _, _, look in s] for s in statements]
    if any([key for key, _, _ in s] != keys for s in statements):
        raise RuntimeError("save_html: draw_dot drew different elements at different steps")  # never expected

    # The layout: step 1's drawing with every label as wide as it is at any step.
    labels = []
    for i in range(len(keys)):
        widest = max(range(len(looks)), key=lambda k: sum(map(len, looks[k][i][0])))
        labels.append(statements[widest][i][1].get("label", ""))
    template = drawings[0].copy()
    template.body[:] = _with_labels(drawings[0], labels)
    svg = cast(str, template.pipe(format="svg", encoding="utf-8"))
    svg, elements = _svg_elements(svg, keys)

    ids = {node: f"v{i}" for i, node in enumerate(drawings[0].values)}
    position = {key: i for i, key in enumerate(keys)}
    # An element that looks the same at every step (the legend, a leaf's constant...) is left
    # exactly as dot drew it in the laid-out SVG: the script's restyling (one colour for a
    # node's every line and shape) would flatten a legend's table into one colour and one text.
    changing = [i for i in range(len(keys)) if any(step_looks[i] != looks[0][i] for step_looks in looks)]
    steps = []
    previous: Optional[List[Look]] = None
    for (step, _), now in zip(pictured, looks):
        changed = [[i, _look_json(now[i])] for i in changing if previous is None or now[i] != previous[i]]
        steps.append({
            "changes": changed,
            "current": position[("node", ids[step.node], 0)],
            "math": str(step.explanation),
        })
        previous = now
    data = {"elements": elements, "kinds": [kind for kind, _, _ in keys], "steps": steps, "direction": direction}
    name = root.label or (f"the output of {root.op}" if root.op else "a leaf")
    heading = title if title is not None else f"The {direction} pass through {name}, step by step"
    script_data = json.dumps(data, separators=(",", ":")).replace("<", "\\u003c")
    return _PAGE.format(title=html.escape(heading), svg=svg, data=script_data, total=len(steps),
                        legend=_LEGEND[direction], css=_CSS, script=_SCRIPT)


# --- reading draw_dot's drawing ------------------------------------------------------------

Key = Tuple[str, str, int]  # ("node", name, 0) or ("edge", "tail->head", k-th such edge)
Attrs = Dict[str, str]
_NODE = re.compile(r"\t+(?!graph\b|node\b|edge\b|subgraph\b)([A-Za-z_][\w]*|\"(?:[^\"\\]|\\.)*\")\s*(\[|$)")
_EDGE = re.compile(r"\t+([A-Za-z_]\w*|\"(?:[^\"\\]|\\.)*\")\s*->\s*([A-Za-z_]\w*|\"(?:[^\"\\]|\\.)*\")\s*(\[|$)")


def _statements(drawing: Drawing, cache: Dict[str, Optional[Tuple[str, str, Attrs, Look]]]
                ) -> List[Tuple[Key, Attrs, Look]]:
    """The node and edge statements of a drawing's DOT source, in order, with their
    attributes (raw) and look. Graph, default-attribute and subgraph lines are skipped:
    they are the same at every step. `cache` holds the lines already read."""
    out: List[Tuple[Key, Attrs, Look]] = []
    seen: Dict[str, int] = {}
    for line in drawing.body:
        if line not in cache:
            cache[line] = _statement(line.rstrip("\n"))
        parsed = cache[line]
        if parsed is None:
            continue
        kind, name, attrs, look = parsed
        k = 0
        if kind == "edge":  # a * a: two edges with one name
            k = seen.get(name, 0)
            seen[name] = k + 1
        out.append(((kind, name, k), attrs, look))
    return out


def _statement(line: str) -> Optional[Tuple[str, str, Attrs, Look]]:
    edge = _EDGE.match(line)
    if edge:
        name, attrs = f"{_unquote(edge.group(1))}->{_unquote(edge.group(2))}", _attributes(line, edge.start(3))
        return "edge", name, attrs, _look("edge", name, attrs)
    node = _NODE.match(line)
    if node:
        name, attrs = _unquote(node.group(1)), _attributes(line, node.start(2))
        return "node", name, attrs, _look("node", name, attrs)
    return None


def _attribute_spans(line: str, start: int) -> List[Tuple[str, str, int, int]]:
    """(key, raw value, start, end) of each `key=value` in the attribute list opening at
    `line[start]` (a "["; `start` is the line's length when it has no list)."""
    spans: List[Tuple[str, str, int, int]] = []
    i = start + 1
    while i < len(line):
        while i < len(line) and line[i] in " \t,;":
            i += 1
        if i >= len(line) or line[i] == "]":
            break
        eq = line.index("=", i)
        key = line[i:eq].strip()
        j = eq + 1
        if line[j] == '"':  # a quoted string: up to the next unescaped quote
            j += 1
            while line[j] != '"':
                j += 2 if line[j] == "\\" else 1
            j += 1
        elif line[j] == "<":  # an HTML-like label: balanced angle brackets
            depth = 0
            while True:
                depth += {"<": 1, ">": -1}.get(line[j], 0)
                j += 1
                if depth == 0:
                    break
        else:
            while j < len(line) and line[j] not in " \t,;]":
                j += 1
        spans.append((key, line[eq + 1:j], eq + 1, j))
        i = j
    return spans


def _attributes(line: str, start: int) -> Attrs:
    return {key: raw for key, raw, _, _ in _attribute_spans(line, start)}


def _unquote(raw: str) -> str:
    if raw.startswith('"') and raw.endswith('"'):
        return re.sub(r'\\"', '"', raw[1:-1])
    return raw


def _with_labels(drawing: Drawing, labels: Sequence[str]) -> List[str]:
    """The drawing's DOT lines with the i-th node or edge statement's label set to labels[i]."""
    lines: List[str] = []
    i = 0
    for line in drawing.body:
        match = _EDGE.match(line.rstrip("\n")) or _NODE.match(line.rstrip("\n"))
        if not match:
            lines.append(line)
            continue
        label, i = labels[i], i + 1
        text = line.rstrip("\n")
        opening = match.start(match.lastindex or 0)  # the "[" of the attribute list, or the line's end
        spans = {key: (a, b) for key, _, a, b in _attribute_spans(text, opening)}
        if "label" in spans:
            a, b = spans["label"]
            text = text[:a] + label + text[b:]
        elif label and opening < len(text):
            text = text[:opening + 1] + f"label={label} " + text[opening + 1:]
        elif label:
            text = f"{text} [label={label}]"
        lines.append(text + "\n")
    return lines


def _look(kind: str, name: str, attrs: Attrs) -> Look:
    """How a node or edge statement looks, with Graphviz's defaults spelled out."""
    record = _unquote(attrs.get("shape", "")) in ("record", "Mrecord")
    if "label" in attrs:
        lines = _label_lines(attrs["label"], record)
    else:  # a node's default label is its name; an edge has none
        lines = (name,) if kind == "node" else ()
    style = _unquote(attrs.get("style", ""))
    color = _unquote(attrs.get("color", "black"))
    fill = "none"
    if kind == "node" and "filled" in style:
        fill = _unquote(attrs.get("fillcolor") or attrs.get("color") or "lightgrey")
    return (lines, color, fill, _unquote(attrs.get("fontcolor", "black")),
            _unquote(attrs.get("penwidth", "1")), style)


def _look_json(look: Look) -> List[Any]:
    return [list(look[0]), *look[1:]]


def _label_lines(raw: str, record: bool) -> Tuple[str, ...]:
    """The lines of text Graphviz draws for a label, in order (a record's fields in turn)."""
    if raw.startswith("<"):  # HTML-like: each line break, and each table cell, starts a new text
        body = raw[1:-1]
        parts = re.split(r"<br\s*/?>|</td\s*>", body, flags=re.IGNORECASE)
        return tuple(html.unescape(re.sub(r"<[^>]*>", "", p)) for p in parts if re.sub(r"<[^>]*>", "", p))
    text = raw[1:-1] if raw.startswith('"') else raw
    lines: List[str] = []
    current: List[str] = []

    def end_line() -> None:
        line = "".join(current).strip() if record else "".join(current)
        if line:
            lines.append(line)
        current.clear()

    i = 0
    while i < len(text):
        ch = text[i]
        if ch == "\\" and i + 1 < len(text):
            nxt = text[i + 1]
            if nxt in "nlr":
                end_line()
            else:
                current.append(nxt)
            i += 2
            continue
        if record and ch in "{}|":
            end_line()
        else:
            current.append(ch)
        i += 1
    end_line()
    return tuple(lines)


def _svg_elements(svg: str, keys: Sequence[Key]) -> Tuple[str, List[str]]:
    """The SVG ready to inline (no XML prologue), and the `id` of each key's `<g>` in it."""
    svg = svg[svg.index("<svg"):]
    groups = re.findall(r'<g id="([^"]+)" class="(node|edge)">\s*<title>([^<]*)</title>', svg)
    by_title: Dict[Tuple[str, str], List[str]] = {}
    for gid, kind, title in groups:
        by_title.setdefault((kind, html.unescape(title)), []).append(gid)
    for ids in by_title.values():
        ids.sort(key=lambda gid: int(re.sub(r"\D", "", gid) or 0))  # edgeN: N counts in DOT order
    elements = []
    for kind, name, k in keys:
        found = by_title.get((kind, name), [])
        if k >= len(found):
            raise RuntimeError(f"save_html: the laid-out SVG has no {kind} {name!r}")  # never expected
        elements.append(found[k])
    return svg, elements


_LEGEND = {
    "backward": "Red: the node whose gradient is complete at this step, and the edges it pushes it along"
                " (local derivative * its gradient = what is added to the input's grad). \"?\": not reached yet.",
    "forward": "Red: the node computed at this step. \"?\": not computed yet (gradients come in the backward pass).",
}

_CSS = """
body { font-family: system-ui, sans-serif; margin: 1em 2em; color: #222; }
h1 { font-size: 1.3em; }
#controls { display: flex; gap: .5em; align-items: center; flex-wrap: wrap; margin: .5em 0; }
#controls button { font-size: 1em; padding: .2em .7em; }
#slider { flex: 1; min-width: 10em; max-width: 40em; }
#counter { font-variant-numeric: tabular-nums; min-width: 11em; }
#graph { overflow: auto; border: 1px solid #ddd; padding: .3em; }
#graph.fit svg { max-width: 100%; height: auto; }
#math { background: #f7f7f7; border-left: 4px solid #d62728; padding: .7em 1em; overflow-x: auto; font-size: .95em; }
.legend { color: #555; font-size: .9em; }
"""

_SCRIPT = r"""
(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("steps").textContent);
  var N = data.steps.length;
  var groups = data.elements.map(function (id) { return document.getElementById(id); });
  var slider = document.getElementById("slider"), counter = document.getElementById("counter");
  var math = document.getElementById("math"), play = document.getElementById("play");
  var graph = document.getElementById("graph");
  var shown = 0, timer = null;

  function applyLook(i, look) {
    var g = groups[i], edge = data.kinds[i] === "edge";
    var lines = look[0], color = look[1], fill = look[2], fontcolor = look[3], pen = look[4];
    var dashed = look[5].indexOf("dashed") >= 0, dotted = look[5].indexOf("dotted") >= 0;
    var shapes = g.querySelectorAll("polygon, ellipse, polyline, path");
    for (var s = 0; s < shapes.length; s++) {
      var shape = shapes[s], tag = shape.tagName.toLowerCase();
      shape.setAttribute("stroke", color);
      shape.setAttribute("stroke-width", pen);
      if (dashed) shape.setAttribute("stroke-dasharray", "5,2");
      else if (dotted) shape.setAttribute("stroke-dasharray", "1,5");
      else shape.removeAttribute("stroke-dasharray");
      if (edge && tag === "polygon") shape.setAttribute("fill", color);       // the arrowhead
      else if (!edge && s === 0 && tag !== "polyline") shape.setAttribute("fill", fill);
    }
    var texts = g.querySelectorAll("text");
    for (var t = 0; t < texts.length; t++) {
      texts[t].textContent = t < lines.length ? lines[t] : "";
      texts[t].setAttribute("fill", fontcolor);
    }
  }

  // The looks of step k (1..N): step 1's, then each later step's changes in turn.
  function looksAt(k) {
    var looks = {};
    for (var s = 0; s < k; s++) {
      var changes = data.steps[s].changes;
      for (var c = 0; c < changes.length; c++) looks[changes[c][0]] = changes[c][1];
    }
    return looks;
  }

  var current = {};
  function show(k) {
    k = Math.max(1, Math.min(N, k));
    var looks = looksAt(k);
    for (var i in looks) {
      if (JSON.stringify(current[i]) !== JSON.stringify(looks[i])) applyLook(+i, looks[i]);
    }
    current = looks;
    shown = k;
    slider.value = String(k);
    counter.textContent = "step " + k + " of " + N + " (" + data.direction + ")";
    math.textContent = data.steps[k - 1].math;
    document.getElementById("prev").disabled = k === 1;
    document.getElementById("next").disabled = k === N;
    var node = groups[data.steps[k - 1].current];
    if (node && !graph.classList.contains("fit") && node.scrollIntoView) {
      node.scrollIntoView({block: "nearest", inline: "nearest"});
    }
    try { history.replaceState(null, "", "#step=" + k); } catch (e) { /* some browsers refuse on file:// */ }
  }

  function stop() {
    if (timer !== null) { clearInterval(timer); timer = null; }
    play.textContent = "\u25B6 play";
  }
  function start() {
    if (shown === N) show(1);
    timer = setInterval(function () { if (shown < N) show(shown + 1); if (shown === N) stop(); }, 1000);
    play.textContent = "\u23F8 pause";
  }
  function toggle() { if (timer === null) start(); else stop(); }

  document.getElementById("prev").addEventListener("click", function () { stop(); show(shown - 1); });
  document.getElementById("next").addEventListener("click", function () { stop(); show(shown + 1); });
  play.addEventListener("click", toggle);
  slider.addEventListener("input", function () { stop(); show(parseInt(slider.value, 10)); });
  document.getElementById("fit").addEventListener("change", function (e) {
    graph.classList.toggle("fit", e.target.checked); show(shown);
  });
  document.addEventListener("keydown", function (e) {
    var tag = (e.target && e.target.tagName || "").toLowerCase();
    if (e.target === slider) return;                      // the slider moves itself with the arrows
    if (e.key === "ArrowRight") { stop(); show(shown + 1); }
    else if (e.key === "ArrowLeft") { stop(); show(shown - 1); }
    else if (e.key === "Home") { stop(); show(1); }
    else if (e.key === "End") { stop(); show(N); }
    else if (e.key === " " && tag !== "button" && tag !== "input") { toggle(); }
    else return;
    e.preventDefault();
  });

  // The first show() draws every element (the laid-out SVG holds the widest labels).
  var fromAddress = /^#step=(\d+)$/.exec(location.hash);
  show(fromAddress ? parseInt(fromAddress[1], 10) : 1);
})();
"""

_PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="micrograd save_html">
<title>{title}</title>
<style>{css}</style>
</head>
<body>
<h1>{title}</h1>
<div id="controls">
<button id="prev" type="button" title="previous step (left arrow)">&#9664; prev</button>
<button id="play" type="button" title="play or pause (space)">&#9654; play</button>
<button id="next" type="button" title="next step (right arrow)">next &#9654;</button>
<input id="slider" type="range" min="1" max="{total}" value="1" step="1" aria-label="step">
<span id="counter">step 1 of {total}</span>
<label><input id="fit" type="checkbox" checked> fit to width</label>
</div>
<p class="legend">{legend}</p>
<div id="graph" class="fit">
{svg}
</div>
<h2>The calculation at this step</h2>
<pre id="math"></pre>
<script type="application/json" id="steps">{data}</script>
<script>{script}</script>
</body>
</html>
"""
