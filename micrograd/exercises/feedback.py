"""`Feedback`: what `Exercise.check` says about an answer, for a terminal and for Jupyter.

A check never answers only pass or fail. It says what the answer got right or where it went
wrong, in the learner's terms, with the numbers: the worked calculation behind a gradient,
the first input where an op's derivative is off (expected and got), the line of the
learner's code that raised, the loss curve of a training run.
"""

from __future__ import annotations

import html
import math
from typing import Any, Dict, List, Sequence

__all__ = ["Feedback", "sparkline"]

_BARS = "▁▂▃▄▅▆▇█"


class Feedback:
    """The result of checking one answer to one exercise.

    Attributes:
        exercise: the exercise's id ("grad-1").
        passed: the answer is right (`bool(feedback)` is the same).
        summary: one line: what the check found.
        details: more lines, plain text (code in `backticks`), shown under the summary.
        mistake: a short name for the mistake recognised ("one-path", "sign", "forgot-upstream",
            "assigned-grad", "timeout", ...), "" when the answer passed or no known mistake
            matched. Stable: teachers can count them, tests assert them.
        worked: a worked calculation in plain text (monospace in Jupyter), or "".
        worked_markdown: the same as Markdown (with LaTeX), or "" to show `worked` as code.
        curve: a training run's loss per step, or empty.
    """

    __slots__ = ("exercise", "passed", "summary", "details", "mistake", "worked", "worked_markdown", "curve")

    def __init__(self, exercise: str, passed: bool, summary: str, details: Sequence[str] = (), *,
                 mistake: str = "", worked: str = "", worked_markdown: str = "",
                 curve: Sequence[float] = ()) -> None:
        self.exercise = exercise
        self.passed = bool(passed)
        self.summary = summary
        self.details = list(details)
        self.mistake = mistake
        self.worked = worked
        self.worked_markdown = worked_markdown
        self.curve = [float(x) for x in curve]

    def __bool__(self) -> bool:
        return self.passed

    @property
    def verdict(self) -> str:
        """"correct" or "not yet"."""
        return "correct" if self.passed else "not yet"

    @property
    def text(self) -> str:
        """Everything as plain text (what `print` shows)."""
        return str(self)

    def one_line(self) -> str:
        """The verdict and the summary on one line (for a CSV cell or a log)."""
        return " ".join(f"{self.verdict}: {self.summary}".split())

    def __str__(self) -> str:
        mark = "✓" if self.passed else "✗"
        lines = [f"{mark} {self.exercise}: {self.verdict}. {self.summary}"]
        lines += [f"  {line}" for line in self.details]
        if self.curve:
            lines.append(f"  loss per step: {sparkline(self.curve)}  ({_curve_numbers(self.curve)})")
        if self.worked:
            lines.append("  the worked calculation:")
            lines += [f"    {line}" for line in self.worked.splitlines()]
        return "\n".join(lines)

    def __repr__(self) -> str:
        return f"Feedback({self.exercise!r}, passed={self.passed}, mistake={self.mistake!r}, summary={self.summary!r})"

    # --- Jupyter ---------------------------------------------------------------------------

    def _repr_markdown_(self) -> str:
        mark = "✅" if self.passed else "❌"
        lines = [f"{mark} **{self.exercise}: {self.verdict}.** {self.summary}", ""]
        lines += [f"- {line}" for line in self.details]
        if self.curve:
            lines += ["", f"loss per step: `{sparkline(self.curve)}` ({_curve_numbers(self.curve)})"]
        if self.worked_markdown:
            lines += ["", "**The worked calculation:**", "", self.worked_markdown]
        elif self.worked:
            lines += ["", "**The worked calculation:**", "", "```text", self.worked, "```"]
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        colour = "#1a7f37" if self.passed else "#cf222e"
        mark = "✓" if self.passed else "✗"
        e = html.escape
        parts = [f'<div style="border-left: 4px solid {colour}; padding-left: 0.6em">',
                 f'<p><b style="color: {colour}">{mark} {e(self.exercise)}: {e(self.verdict)}.</b> '
                 f"{_code_spans(self.summary)}</p>"]
        if self.details:
            parts.append("<ul>" + "".join(f"<li>{_code_spans(d)}</li>" for d in self.details) + "</ul>")
        if self.curve:
            parts.append(f"<p>loss per step ({e(_curve_numbers(self.curve))}):<br>{_svg_curve(self.curve)}</p>")
        if self.worked:
            parts.append(f"<p><b>The worked calculation:</b></p><pre>{e(self.worked)}</pre>")
        parts.append("</div>")
        return "".join(parts)

    # --- transport (the checks of code run in a subprocess) ---------------------------------

    def to_dict(self) -> Dict[str, Any]:
        """The feedback as plain JSON-able data (`Feedback.from_dict` reads it back)."""
        return {name: getattr(self, name) for name in self.__slots__}

    @classmethod
    def from_dict(cls, d: Dict[str, Any]) -> "Feedback":
        """The feedback `to_dict` made."""
        return cls(str(d["exercise"]), bool(d["passed"]), str(d["summary"]), [str(x) for x in d.get("details", [])],
                   mistake=str(d.get("mistake", "")), worked=str(d.get("worked", "")),
                   worked_markdown=str(d.get("worked_markdown", "")), curve=list(d.get("curve", [])))


def sparkline(values: Sequence[float], width: int = 40) -> str:
    """A curve as a line of block characters, at most `width` wide (non-finite values as `!`)."""
    if not values:
        return ""
    step = max(1, math.ceil(len(values) / width))
    shown = [values[i] for i in range(0, len(values), step)]
    finite = [v for v in shown if math.isfinite(v)]
    if not finite:
        return "!" * len(shown)
    lo, hi = min(finite), max(finite)
    span = hi - lo
    return "".join("!" if not math.isfinite(v) else _BARS[0 if span == 0 else round((v - lo) / span * 7)]
                   for v in shown)


def _curve_numbers(values: Sequence[float]) -> str:
    return f"{len(values)} steps, first {values[0]:.4g}, lowest {min(values):.4g}, last {values[-1]:.4g}"


def _code_spans(text: str) -> str:
    """Escape for HTML and show `backticked` parts as code."""
    pieces = html.escape(text).split("`")
    return "".join(f"<code>{p}</code>" if i % 2 else p for i, p in enumerate(pieces))


def _svg_curve(values: Sequence[float], width: int = 320, height: int = 80) -> str:
    finite = [(i, v) for i, v in enumerate(values) if math.isfinite(v)]
    if len(finite) < 2:
        return ""
    lo, hi = min(v for _, v in finite), max(v for _, v in finite)
    span, n = (hi - lo) or 1.0, max(1, len(values) - 1)
    points: List[str] = [f"{i / n * width:.1f},{height - (v - lo) / span * height:.1f}" for i, v in finite]
    return (f'<svg width="{width}" height="{height}" style="border: 1px solid #ddd">'
            f'<polyline fill="none" stroke="#0969da" stroke-width="1.5" points="{" ".join(points)}"/></svg>')


