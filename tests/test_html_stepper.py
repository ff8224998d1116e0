"""The HTML stepper (`micrograd.save_html`): one self-contained file whose every step shows
what `draw_dot(root, highlight=step)` draws and the step's worked calculation, without
touching the graph's gradients; and, in a real browser (headless Chromium driven by
Playwright), the buttons, the slider, the arrow keys, play/pause and no network request.
"""

from __future__ import annotations

import json
import pathlib
import random
import re
import shutil
import xml.etree.ElementTree as ET

import pytest
from graphs import SVG, lecture_graph

from micrograd import (
    GraphTooLargeError,
    Value,
    backward_steps,
    forward_steps,
    frames,
    save_html,
    step_frames,
    topological_order,
)
from micrograd.nn import MLP
from micrograd.visual.html_stepper import stepper_html

HIGHLIGHT = "#d62728"
CHROMIUM = "/usr/bin/chromium"


def page_data(text):
    """The steps a page holds: the JSON its script reads."""
    found = re.search(r'<script type="application/json" id="steps">(.*?)</script>', text, re.S)
    assert found, "no step data in the page"
    return json.loads(found.group(1))


def mlp_graph(hidden=(6, 6)):
    """A squared error through an MLP with 0.1.0's unfused neurons (210 nodes for 3-6-6-1)."""
    model = MLP(3, [*hidden, 1], fused=False, rng=random.Random(0))
    x = [Value(0.5, label="x0"), Value(-1.0, label="x1"), Value(2.0, label="x2")]
    loss = (model(x) - 1.0) ** 2
    loss.label = "loss"
    return loss, model, x


def grads(root):
    return [n.grad for n in topological_order(root)]


def svg_looks(svg_text):
    """What each node and edge of an SVG by `dot` shows: {(kind, title, k): (texts, stroke,
    stroke width, fill, text colours)}; k counts groups of one title (a * a has two edges)
    in the order of their ids, which is DOT order."""
    root = ET.fromstring(svg_text)
    groups = [g for g in root.iter(SVG + "g") if g.get("class") in ("node", "edge")]
    groups.sort(key=lambda g: int(re.sub(r"\D", "", g.get("id"))))
    looks, seen = {}, {}
    for g in groups:
        title = g.find(SVG + "title").text
        k = seen.get((g.get("class"), title), 0)
        seen[(g.get("class"), title)] = k + 1
        shapes = [e for e in g.iter() if e.tag in (SVG + "polygon", SVG + "ellipse", SVG + "path")]
        texts = [t for t in g.iter(SVG + "text") if (t.text or "")]
        looks[(g.get("class"), title, k)] = (
            [t.text for t in texts], shapes[0].get("stroke"), shapes[0].get("stroke-width") or "1",
            shapes[0].get("fill") if g.get("class") == "node" else None,
            [t.get("fill") or "black" for t in texts],
        )
    return looks


# --- the file ------------------------------------------------------------------------------

def test_save_html_writes_one_file_that_needs_nothing_else(tmp_path):
    path = save_html(lecture_graph(), tmp_path / "steps.html", show_local=True)
    assert path == tmp_path / "steps.html"
    text = path.read_text(encoding="utf-8")
    assert text.startswith("<!DOCTYPE html>") and text.count("<svg") == 1
    # Nothing to fetch: no script or style from elsewhere, no link, no image, no font.
    for outside in ("<script src", "<link", "<img", "@import", "url(", "<iframe", "src="):
        assert outside not in text
    # The only addresses are the SVG's XML namespaces, which are names, never fetched.
    assert set(re.findall(r"https?://[^\s\"'<>]+", text)) <= {
        "http://www.w3.org/2000/svg", "http://www.w3.org/1999/xlink"}


def test_the_page_holds_each_steps_calculation_and_highlighted_node_in_backward_order(tmp_path):
    L = lecture_graph()
    data = page_data(stepper_html(L))
    reference = lecture_graph()
    steps = list(backward_steps(reference))
    assert len(data["steps"]) == len(steps) == 7
    assert [s["math"] for s in data["steps"]] == [str(step.explanation) for step in steps]
    assert data["steps"][0]["math"].startswith("dL/dL = 1")
    assert data["steps"][2]["math"].startswith("dL/dd = -2")
    # the highlighted element of each step is the box of that step's node (DOT id v<i>: values[i])
    svg = re.search(r"<svg.*</svg>", text := stepper_html(L), re.S).group(0)
    titles = {g: t for g, t in re.findall(r'<g id="(node\d+)" class="node">\s*<title>(\w+)</title>', svg)}
    values = frames(L)[0].values
    shown = [values[int(titles[data["elements"][s["current"]]][1:])] for s in data["steps"]]
    assert shown == [step.node for step in backward_steps(L)]
    assert [n.label for n in shown[:4]] == ["L", "f", "d", "c"] and text.count("<svg") == 1


def test_forward_pages_show_how_each_value_was_computed():
    L = lecture_graph()
    data = page_data(stepper_html(L, "forward"))
    maths = [s["math"] for s in data["steps"]]
    assert maths == [str(step.explanation) for step in forward_steps(L)]
    assert maths[2] == "mul1 = a * b = 2 * (-3) = -6    (op *)"
    assert maths[-1] == "L = d * f = 4 * (-2) = -8    (op *)"
    assert maths[0] == "a = 2    (a leaf: its value is given, nothing is computed)"


def test_a_200_node_graph_gives_a_file_under_2_mb(tmp_path):
    loss, model, x = mlp_graph()
    assert len(topological_order(loss)) == 210
    path = save_html(loss, tmp_path / "big.html", show_local=True, color_by_grad=True, params=model, inputs=x)
    size = path.stat().st_size
    assert 100_000 < size < 2_000_000, size
    assert len(page_data(path.read_text())["steps"]) == 210


def test_save_html_refuses_a_graph_over_the_size_limit_and_writes_nothing(tmp_path):
    loss, _, _ = mlp_graph()
    with pytest.raises(GraphTooLargeError, match="210 nodes, more than max_nodes=100"):
        save_html(loss, tmp_path / "big.html", max_nodes=100)
    assert not (tmp_path / "big.html").exists()


def test_save_html_rejects_an_unknown_direction_and_a_highlight(tmp_path):
    with pytest.raises(ValueError, match="direction must be 'backward' or 'forward', got 'up'"):
        save_html(lecture_graph(), tmp_path / "x.html", "up")
    with pytest.raises(TypeError, match="do not pass highlight"):
        save_html(lecture_graph(), tmp_path / "x.html", highlight=None)


def test_save_html_errors_name_save_html_not_draw_dot(tmp_path):
    # The user called save_html: a bad option's error names it, with the same exception type.
    L = lecture_graph()
    with pytest.raises(ValueError, match=r"^save_html rankdir must be one of \('LR', 'TB', 'RL', 'BT'\), got 'XX'$"):
        save_html(L, tmp_path / "x.html", rankdir="XX")
    with pytest.raises(TypeError, match=r"^save_html\(\) got an unexpected keyword argument 'bogus'$"):
        save_html(L, tmp_path / "x.html", bogus=1)
    with pytest.raises(GraphTooLargeError, match=r"^save_html: the graph behind this Value has 7 nodes, more than"
                                                 r" max_nodes=3;"):
        save_html(L, tmp_path / "x.html", max_nodes=3)
    with pytest.raises(ValueError, match=r"^save_html direction must be 'backward' or 'forward', got 'up'$"):
        save_html(L, tmp_path / "x.html", "up")
    with pytest.raises(TypeError, match=r"^save_html draws every step itself: do not pass highlight$"):
        save_html(L, tmp_path / "x.html", highlight=L)
    model = MLP(2, [1])
    with pytest.raises(ValueError, match=r"^save_html draws the pass one node at a time"):
        save_html(model([1.0, 2.0]), tmp_path / "x.html", collapse="neuron", model=model)
    assert not (tmp_path / "x.html").exists()
    with pytest.raises(ValueError, match=r"^stepper_html precision must be an int from 0 to 17, got 99$"):
        stepper_html(L, precision=99)


def test_save_html_twice_gives_the_same_file_and_leaves_every_grad_as_it_was(tmp_path):
    L = lecture_graph()
    L.backward()
    L.backward()  # the leaves now hold two passes' worth: a, b, c, f = 12, -8, -4, 8
    before = grads(L)
    first = save_html(L, tmp_path / "1.html").read_bytes()
    second = save_html(L, tmp_path / "2.html").read_bytes()
    assert first == second
    assert grads(L) == before
    # the page shows one pass's numbers: c (a leaf) gets -2 and f 4, as d (interior) does -2
    last = page_data(first.decode())["steps"][-1]
    assert last["math"].startswith("dL/da = 6")
    looks = {tuple(look[0]) for _, look in
             (change for step in page_data(first.decode())["steps"] for change in step["changes"])}
    assert ("c", "data 10.0000", "grad -2.0000") in looks and ("f", "data -2.0000", "grad 4.0000") in looks
    assert {look for look in looks if look[:1] in (("c",), ("f",))} == {  # never the -4 and 8 that .grad holds
        ("c", "data 10.0000", "grad ?"), ("c", "data 10.0000", "grad -2.0000"),
        ("f", "data -2.0000", "grad 4.0000")}  # f is reached by step 1


def test_the_laid_out_svg_is_filled_in_with_each_steps_numbers():
    """Applying the page's changes in turn gives, at every step, the record fields that
    frames() draws (the script does the same in the browser: see the browser tests)."""
    L = lecture_graph()
    data = page_data(stepper_html(L, show_local=True))
    pictured = step_frames(L, show_local=True)
    looks = {}
    for step, (_, drawing) in zip(data["steps"], pictured):
        looks.update({i: look for i, look in step["changes"]})
        drawn = [line for line in drawing.body if "shape=record" in line]
        texts = [" | ".join(looks[i][0]) for i, kind in enumerate(data["kinds"]) if kind == "node"
                 and len(looks[i][0]) > 1]
        assert [t for t in texts] == [re.search(r'label="\{ (.*) \}"', line).group(1) for line in drawn]


# --- in a real browser ---------------------------------------------------------------------

@pytest.fixture(scope="module")
def browser():
    """Headless Chromium (Debian's package), driven by Playwright."""
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed: pip install playwright")
    chromium = shutil.which("chromium") or (CHROMIUM if pathlib.Path(CHROMIUM).exists() else None)
    if chromium is None:
        pytest.skip("no Chromium to drive: apt-get install chromium (Debian's package, /usr/bin/chromium)")
    with sync_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=chromium)
        yield launched
        launched.close()


class Page:
    """A page opened from disk that refuses (and records) every request but its own file's."""

    def __init__(self, browser, path, hash=""):
        self.url = path.resolve().as_uri()
        self.context = browser.new_context(viewport={"width": 1000, "height": 700})
        self.requests, self.errors = [], []

        def route(r):
            self.requests.append(r.request.url)
            if r.request.url.split("#")[0] == self.url:
                r.continue_()
            else:
                r.abort()
        self.context.route("**/*", route)
        self.page = self.context.new_page()
        self.page.on("request", lambda request: self.requests.append(request.url))
        self.page.on("pageerror", lambda error: self.errors.append(str(error)))
        self.page.goto(self.url + hash)

    def state(self):
        """(counter text, slider value, the highlighted node's texts, the shown calculation)."""
        page = self.page
        highlighted = page.evaluate(
            """() => Array.from(document.querySelectorAll('#graph g.node'))
                 .filter(g => { const s = g.querySelector('polygon, ellipse');
                                return s.getAttribute('stroke') === '%s' && s.getAttribute('stroke-width') === '3'; })
                 .map(g => Array.from(g.querySelectorAll('text')).map(t => t.textContent))""" % HIGHLIGHT)
        return (page.inner_text("#counter"), page.input_value("#slider"), highlighted,
                page.eval_on_selector("#math", "e => e.textContent"))

    def looks(self):
        return svg_looks(self.page.eval_on_selector("#graph svg", "e => e.outerHTML"))

    def close(self):
        self.context.close()
        assert self.errors == [], self.errors
        # only the page itself was ever asked for: no script, style, font or image from anywhere
        assert {url.split("#")[0] for url in self.requests} == {self.url}, self.requests


def expected(step):
    """What the page should show at backward `step`: the one highlighted box (its node's
    label, data and the gradient it pushed) and its calculation."""
    node = step.node
    return [[node.label, f"data {node.data:.4f}", f"grad {step.grad:.4f}"]], str(step.explanation)


def test_next_three_times_shows_the_fourth_step_of_backward_steps(browser, tmp_path):
    L = lecture_graph()
    path = save_html(L, tmp_path / "steps.html", show_local=True)
    steps = list(backward_steps(lecture_graph()))
    page = Page(browser, path)
    try:
        for k in range(1, 5):
            counter, slider, highlighted, math = page.state()
            assert (counter, slider) == (f"step {k} of 7 (backward)", str(k))
            assert (highlighted, math) == expected(steps[k - 1]), k
            if k < 4:
                page.page.click("#next")
        assert steps[3].node.label == "c" and page.state()[2] == [["c", "data 10.0000", "grad -2.0000"]]
        # every box, edge label and colour is what frames() draws at that step
        assert page.looks() == svg_looks(frames(L, show_local=True)[3].pipe(format="svg", encoding="utf-8"))
        page.page.click("#prev")
        assert page.state()[0] == "step 3 of 7 (backward)"
        assert page.looks() == svg_looks(frames(L, show_local=True)[2].pipe(format="svg", encoding="utf-8"))
    finally:
        page.close()


def test_the_slider_the_arrow_keys_and_the_address_choose_the_step(browser, tmp_path):
    L = lecture_graph()
    path = save_html(L, tmp_path / "steps.html")
    steps = list(backward_steps(lecture_graph()))
    page = Page(browser, path, "#step=5")
    try:
        assert page.state()[0] == "step 5 of 7 (backward)"
        page.page.locator("#slider").fill("2")
        assert page.state() == ("step 2 of 7 (backward)", "2", *expected(steps[1]))
        page.page.locator("body").click(position={"x": 5, "y": 5})  # focus off the slider: keys go to the page
        for key, k in (("ArrowRight", 3), ("ArrowRight", 4), ("ArrowLeft", 3), ("End", 7), ("ArrowRight", 7),
                       ("Home", 1), ("ArrowLeft", 1)):
            page.page.keyboard.press(key)
            assert page.state() == (f"step {k} of 7 (backward)", str(k), *expected(steps[k - 1])), key
        assert page.page.is_disabled("#prev") and not page.page.is_disabled("#next")
    finally:
        page.close()


def test_play_advances_and_pause_stops(browser, tmp_path):
    path = save_html(lecture_graph(), tmp_path / "steps.html")
    page = Page(browser, path)
    try:
        page.page.click("#play")
        assert page.page.inner_text("#play").endswith("pause")
        page.page.wait_for_function("document.getElementById('counter').textContent.startsWith('step 3 ')",
                                    timeout=10_000)
        page.page.click("#play")
        assert page.page.inner_text("#play").endswith("play")
        stopped = page.state()[0]
        page.page.wait_for_timeout(1500)
        assert page.state()[0] == stopped
    finally:
        page.close()


def test_the_forward_page_steps_through_the_evaluation_order(browser, tmp_path):
    L = lecture_graph()
    path = save_html(L, tmp_path / "forward.html", "forward")
    steps = list(forward_steps(L))
    page = Page(browser, path)
    try:
        for _ in range(3):
            page.page.click("#next")
        counter, slider, highlighted, math = page.state()
        assert (counter, slider) == ("step 4 of 7 (forward)", "4")
        assert steps[3].node.label == "c"
        assert highlighted == [["c", "data 10.0000", "grad ?"]] and math == str(steps[3].explanation)
        assert page.looks() == svg_looks(frames(L, "forward")[3].pipe(format="svg", encoding="utf-8"))
    finally:
        page.close()


def test_a_wide_graph_fits_the_window_so_the_first_steps_node_is_in_view(browser, tmp_path):
    loss, model, x = mlp_graph()
    path = save_html(loss, tmp_path / "big.html", show_local=True, params=model, inputs=x)
    page = Page(browser, path)
    try:
        box = page.page.evaluate("""() => {
            const svg = document.querySelector('#graph svg').getBoundingClientRect();
            const graph = document.getElementById('graph').getBoundingClientRect();
            const root = Array.from(document.querySelectorAll('#graph g.node')).find(
                g => g.querySelector('polygon, ellipse').getAttribute('stroke-width') === '3').getBoundingClientRect();
            const view = document.querySelector('#graph svg').viewBox.baseVal;
            return [svg.width, svg.height, view.width, view.height, graph.width, root.left, root.right,
                    window.innerWidth];
        }""")
        svg_width, svg_height, view_width, view_height, graph_width, left, right, window = box
        assert svg_width <= graph_width and 0 <= left < right <= window
        assert svg_height / svg_width == pytest.approx(view_height / view_width, rel=0.02)  # shrunk, not squashed
        page.page.uncheck("#fit")  # full size: wider than the window, scrolled to the current node
        assert page.page.evaluate("document.querySelector('#graph svg').getBoundingClientRect().width") > window
        page.page.keyboard.press("End")
        assert page.state()[0] == "step 210 of 210 (backward)"
    finally:
        page.close()


def used_twice():
    """a used twice by one op (two edges with one name) and by another; a constant folded in."""
    a, b = Value(3.0, label="a"), Value(-2.0, label="b")
    s = a * a
    s.label = "s"
    t = (s + b * 2).tanh() * a
    t.label = "t"
    return t, [a], [b]


def by_hand():
    """A node built the lecture's way, with a hand-written _backward."""
    x, y = Value(2.0, label="x"), Value(5.0, label="y")
    z = Value(x.data * y.data, (x, y), "*")
    z.label = "z"

    def _backward():
        x.grad += y.data * z.grad
        y.grad += x.data * z.grad
    z._backward = _backward
    out = z + x
    out.label = "out"
    return out, [x], [y]


def a_leaf():
    return Value(3.0, label="x"), [], []


@pytest.mark.parametrize("graph, direction, options", [
    (a_leaf, "backward", {}),
    (used_twice, "backward", {"show_local": True, "color_by_grad": True}),
    (used_twice, "backward", {"params": True, "max_depth": 2, "rankdir": "TB"}),
    (used_twice, "forward", {"params": True}),
    (by_hand, "backward", {"show_local": True, "color_by_grad": True, "params": True}),
    (used_twice, "backward", {"legend": True, "show_local": True, "color_by_grad": True, "params": True}),
    (used_twice, "forward", {"legend": True}),
])
def test_every_step_of_the_page_looks_as_frames_draws_it(browser, tmp_path, graph, direction, options):
    root, params, inputs = graph()
    if options.pop("params", False):
        options.update(params=params, inputs=inputs)
    path = save_html(root, tmp_path / "steps.html", direction, **options)
    drawn = frames(root, direction, **options)
    page = Page(browser, path)
    try:
        for k, drawing in enumerate(drawn, 1):
            assert page.state()[0] == f"step {k} of {len(drawn)} ({direction})"
            assert page.looks() == svg_looks(drawing.pipe(format="svg", encoding="utf-8")), k
            page.page.keyboard.press("ArrowRight")
        assert page.page.is_disabled("#next") and page.page.is_disabled("#prev") == (len(drawn) == 1)
        for k in {max(1, len(drawn) - 1), 1}:  # going back, and jumping, are the same pictures
            page.page.locator("#slider").fill(str(k))
            assert page.looks() == svg_looks(drawn[k - 1].pipe(format="svg", encoding="utf-8")), k
    finally:
        page.close()


def test_a_legend_keeps_one_text_per_cell_at_every_step(browser, tmp_path):
    # The legend is an HTML-like table: each cell is its own text, as draw_dot's SVG has it.
    L = lecture_graph()
    path = save_html(L, tmp_path / "legend.html", legend=True)
    page = Page(browser, path)
    try:
        for _ in range(3):
            texts = page.page.evaluate(
                "() => Array.from(document.querySelectorAll('#graph g.node text')).map(t => t.textContent)")
            meanings = [t for t in texts if "red border" in t or "its number" in t]
            assert len(meanings) == 2, texts  # two cells, two texts: not run together into one
            page.page.keyboard.press("ArrowRight")
    finally:
        page.close()
