"""Find the bug: a training loop, an op or a loss with one planted bug.

The learner answers with the number of the line that is wrong (`ex.check(9)`; for a missing
line, the line it should come before), which is checked here, or with the fixed function,
which runs where code answers run (`micrograd.exercises.sandbox`) and is checked by what it
does: a fixed training loop must move the parameters exactly as SGD does, a fixed op must
match central differences, a fixed loss must give the right value and gradients. A fix that
still behaves like a known wrong version is told which one.
"""

from __future__ import annotations

import math
import random
from typing import Any, Callable, Dict, List, Optional, Sequence, Set

from ..engine import Value
from ..nn import MLP
from ..numeric import central_difference
from ..symbolic import format_number
from .exercise import CodeExercise
from .feedback import Feedback
from .sandbox import LearnerError, Source, call
from .write_op import SQUARE, check_op, hypothesis_strategies

__all__ = ["FindBug"]

FixCheck = Callable[[str, Any, Source], Feedback]


class FindBug(CodeExercise):
    """A listing with one bug. `check(line_number)` or `check(fixed_function)`."""

    kind = "find-bug"

    def __init__(self, id: str, title: str, statement: str, code: str, entry: str, bug_lines: Set[int],
                 line_notes: Dict[int, str], fix_check: FixCheck, hints: Sequence[str], solution: str,
                 why: str) -> None:
        self.code = code.strip("\n")
        listing = "\n".join(f"{i:>2}  {line}" for i, line in enumerate(self.code.splitlines(), 1))
        super().__init__(id, title, f"{statement.strip()}\n\n```python\n{listing}\n```", hints, solution, why)
        self.entry = entry
        self.bug_lines = bug_lines
        self.line_notes = line_notes
        self.fix_check = fix_check

    def check(self, answer: Any, *, isolate: bool = True, timeout: Optional[float] = None,
              memory_mb: Optional[int] = None) -> Feedback:
        """Check a line number (an int) or a fixed function (as for any code answer)."""
        if isinstance(answer, int) and not isinstance(answer, bool):
            return self.check_line(answer)
        return super().check(answer, isolate=isolate, timeout=timeout, memory_mb=memory_mb)

    def check_line(self, line: int) -> Feedback:
        """Is the bug on this line of the listing?"""
        lines = self.code.splitlines()
        if not 1 <= line <= len(lines):
            return self._feedback(False, f"The listing has lines 1 to {len(lines)}; there is no line {line}.",
                                  mistake="no-such-line")
        shown = f"line {line}: `{lines[line - 1].strip()}`"
        if line in self.bug_lines:
            return self._feedback(True, f"Yes: the bug is at {shown}.", [self._solution.why])
        note = self.line_notes.get(line, "this line is right as it stands.")
        return self._feedback(False, f"Not {shown}: {note}", ["ex.hint() gives a hint"], mistake="wrong-line")

    def prepare(self) -> None:
        if self.fix_check is _check_square:
            hypothesis_strategies()

    def check_function(self, fn: Any, source: Source) -> Feedback:
        return self.fix_check(self.id, fn, source)


# ---------------------------------------------------------------------------------------
# Training loops: the fixed loop must move the parameters exactly as SGD does
# ---------------------------------------------------------------------------------------

_X = [[0.5, -1.0], [1.5, 0.3], [-0.8, 0.9], [0.1, 0.1], [-1.2, -0.4], [0.7, 1.1]]
_Y = [1.0, -1.0, 0.5, 0.0, -0.5, 1.5]
_STEPS, _LR = 4, 0.05


def _model() -> MLP:
    return MLP(2, [3, 1], rng=random.Random(0))


def _sgd(variant: str) -> List[float]:
    """The parameters after `_STEPS` steps of the listing's loop, as `variant` writes it."""
    model = _model()
    for _ in range(_STEPS):
        scores: List[Any] = [model(x) for x in _X]  # one Value each (the last layer has one neuron)
        loss: Value = sum(((s - t) ** 2 for s, t in zip(scores, _Y)), Value(0.0)) / len(_X)
        if variant != "no-zero-grad":
            model.zero_grad()
        loss.backward()
        if variant == "zero-after-backward":
            model.zero_grad()
        sign = 1.0 if variant == "uphill" else -1.0
        for p in model.parameters():
            p.data += sign * _LR * p.grad
    return [p.data for p in model.parameters()]


_LOOP_MISTAKES = {
    "no-zero-grad": "The gradients still pile up: without model.zero_grad() before backward(), each step's p.grad"
                    " is the sum of every step's gradients so far.",
    "zero-after-backward": "Your parameters never move: model.zero_grad() after backward() wipes the gradients"
                           " before the update reads them. Zero them before backward().",
    "uphill": "Your loop climbs the loss: p.data += lr * p.grad moves uphill. Gradient descent subtracts.",
}


def _check_loop(exercise: str, fn: Any, source: Source) -> Feedback:
    model = _model()
    try:
        losses = call(fn, model, _X, _Y, _STEPS, _LR, what="your train")
    except LearnerError as e:
        return Feedback(exercise, False, e.summary[0].upper() + e.summary[1:] + ".", e.details, mistake=e.mistake)
    got = [p.data for p in model.parameters()]
    if _same(got, _sgd("right")):
        shown = " → ".join(format_number(x, 4) for x in losses) if isinstance(losses, list) else ""
        return Feedback(exercise, True, f"Fixed: after {_STEPS} steps your parameters are SGD's, to 1e-9.",
                        [f"the loss: {shown}" if shown else "", "checked on a 2-3-1 MLP and 6 points"][not shown:])
    for variant, message in _LOOP_MISTAKES.items():
        if _same(got, _sgd(variant)):
            if variant == "zero-after-backward" and not _zeroes_after_backward(source.text):
                # Parameters that never moved fit more than one mistake: say what was seen.
                variant, message = "no-update", (
                    "Your parameters never moved: nothing changed p.data, or the gradients were wiped"
                    " before the update read them. The update is p.data -= lr * p.grad, after backward().")
            return Feedback(exercise, False, message, [f"checked with {_STEPS} steps of lr = {_LR} on a 2-3-1 MLP"],
                            mistake=variant)
    right = _sgd("right")
    i = next(i for i, (a, b) in enumerate(zip(got, right)) if not math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12))
    return Feedback(exercise, False, f"After {_STEPS} steps your parameters are not SGD's: parameter {i} should be"
                    f" {format_number(right[i], 8)}, yours is {format_number(got[i], 8)}.",
                    ["train must update model.parameters() in place: p.data -= lr * p.grad, after zero_grad()"
                     " and backward()"], mistake="wrong-update")


def _zeroes_after_backward(text: str) -> bool:
    """Whether the code calls `.zero_grad()` on a line after one that calls `.backward()`."""
    lines = text.splitlines()
    backward = [i for i, line in enumerate(lines) if ".backward(" in line.split("#")[0]]
    return bool(backward) and any(".zero_grad(" in line.split("#")[0] for line in lines[backward[0] + 1:])


def _same(a: Sequence[float], b: Sequence[float]) -> bool:
    return len(a) == len(b) and all(math.isclose(x, y, rel_tol=1e-9, abs_tol=1e-12) for x, y in zip(a, b))


# ---------------------------------------------------------------------------------------
# The loss: value and gradients against the float formula
# ---------------------------------------------------------------------------------------

_P = [0.9, 0.2, 0.65, 0.4, 0.05]
_T = [1, 0, 1, 1, 0]


def _bce(p: Sequence[float], t: Sequence[int]) -> float:
    return -math.fsum(ti * math.log(pi) + (1 - ti) * math.log(1 - pi) for pi, ti in zip(p, t)) / len(p)


def _check_bce(exercise: str, fn: Any, source: Source) -> Feedback:
    ps = [Value(x) for x in _P]
    try:
        out = call(fn, ps, list(_T), what="your bce")
        if not isinstance(out, Value):
            return Feedback(exercise, False, f"Your bce returned {type(out).__name__}, not a Value.",
                            ["return the loss as a Value, so that backward() can run from it"], mistake="not-a-value")
        call(out.backward, what="the backward pass through your bce")
    except LearnerError as e:
        return Feedback(exercise, False, e.summary[0].upper() + e.summary[1:] + ".", e.details, mistake=e.mistake)
    right = _bce(_P, _T)
    where = f"for p = {_P} and t = {_T}: the loss should be {format_number(right, 8)}, yours is" \
            f" {format_number(out.data, 8)}"
    if math.isclose(out.data, -right, rel_tol=1e-9):
        return Feedback(exercise, False, "Your loss is still minus the cross-entropy: minimising it pushes every p"
                        " away from its label.", [where], mistake="negated")
    if math.isclose(out.data, right * len(_P), rel_tol=1e-9) or math.isclose(out.data, -right * len(_P), rel_tol=1e-9):
        return Feedback(exercise, False, "Your loss is the sum over the points, not the mean: divide by len(p).",
                        [where], mistake="sum-not-mean")
    if not math.isclose(out.data, right, rel_tol=1e-9):
        return Feedback(exercise, False, "Your loss has the wrong value.", [where], mistake="wrong-value")
    for i, p in enumerate(ps):
        expected = central_difference(lambda x, i=i: _bce(_P[:i] + [x] + _P[i + 1:], _T), _P[i])
        if not math.isclose(p.grad, expected, rel_tol=1e-4, abs_tol=1e-6):
            return Feedback(exercise, False, f"The value is right, but dL/dp[{i}] is {format_number(p.grad, 6)};"
                            f" it should be {format_number(expected, 6)}.",
                            ["is part of the loss computed on .data (plain floats), which backward() cannot see?"],
                            mistake="wrong-gradient")
    return Feedback(exercise, True, "Fixed: the right cross-entropy, and its gradients match central differences.",
                    [where])


def _check_square(exercise: str, fn: Any, source: Source) -> Feedback:
    return check_op(exercise, SQUARE, fn, source)


_LOOP = """
def train(model, X, y, steps, lr):
    losses = []
    for step in range(steps):
        scores = [model(x) for x in X]
        loss = sum((s - t) ** 2 for s, t in zip(scores, y)) / len(X)
{zero}        loss.backward()
        for p in model.parameters():
            p.data {update} lr * p.grad
        losses.append(loss.data)
    return losses
"""

_FIX_A_LOOP = ("Copy the listing, fix it, and check the function (`ex.check(train)`, or a file with"
               " `python -m micrograd check {id} train.py`); or name the line: `ex.check(line_number)`.")


def exercises() -> List[FindBug]:
    """The find-the-bug exercises of the catalogue."""
    return [
        FindBug(
            "bug-1", "The loss goes down, then up",
            "This loop trains for a few steps, then the loss climbs. Which line is wrong (or, for a missing line,"
            " which line should it come before)? " + _FIX_A_LOOP.format(id="bug-1"),
            _LOOP.format(zero="", update="-="), "train", {4, 5, 6},
            {8: "the update subtracts lr * p.grad, which is gradient descent's sign.",
             5: "the mean squared error is written correctly.",
             9: "recording loss.data (a float) is fine."},
            _check_loop,
            ["backward() adds to p.grad; it does not overwrite it.",
             "What is in p.grad at the second step?",
             "Something must reset the gradients before each backward()."],
            _LOOP.format(zero="        model.zero_grad()\n", update="-=").strip("\n"),
            "backward() accumulates (+=) into p.grad, so without model.zero_grad() before it each step uses the"
            " sum of all gradients so far. The fix belongs before line 6, `loss.backward()`.",
        ),
        FindBug(
            "bug-2", "The loss only grows",
            "With this loop the loss grows from the first step. Which line is wrong? "
            + _FIX_A_LOOP.format(id="bug-2"),
            _LOOP.format(zero="        model.zero_grad()\n", update="+="), "train", {9},
            {6: "model.zero_grad() before backward() is right: each step's gradient starts from 0.",
             7: "backward() is where it should be, after zero_grad().",
             5: "the mean squared error is written correctly."},
            _check_loop,
            ["p.grad points uphill: the direction in which the loss grows fastest.",
             "Which way should the parameters move?",
             "Look at the sign of the update."],
            _LOOP.format(zero="        model.zero_grad()\n", update="-=").strip("\n"),
            "The gradient points uphill; gradient descent moves against it: p.data -= lr * p.grad.",
        ),
        FindBug(
            "bug-3", "A derivative off by a factor",
            "This hand-written square op passes a quick look but fails gradcheck. Which line is wrong? Or fix it"
            " and check `square`.",
            '''
def square(x):
    out = Value(x.data ** 2, (x,), "**2")

    def _backward():
        x.grad += x.data * out.grad

    out._backward = _backward
    return out
''', "square", {5},
            {2: "the forward value x² is right.",
             7: "setting out._backward is how the lecture's ops attach their derivative."},
            _check_square,
            ["What is d(x²)/dx?", "Compare it with what _backward adds."],
            '''
def square(x):
    out = Value(x.data ** 2, (x,), "**2")

    def _backward():
        x.grad += 2 * x.data * out.grad

    out._backward = _backward
    return out
''',
            "d(x²)/dx = 2x: the listing forgot the 2 (line 5).",
        ),
        FindBug(
            "bug-4", "A loss that rewards being wrong",
            "This binary cross-entropy (p are probabilities as Values, t labels 0 or 1) makes the model worse the"
            " longer it trains. Which line is wrong? Or fix it and check `bce`.",
            '''
def bce(p, t):
    total = 0
    for pi, ti in zip(p, t):
        total = total + ti * pi.log() + (1 - ti) * (1 - pi).log()
    return total / len(p)
''', "bce", {4, 5},
            {2: "starting the sum at 0 is fine.",
             3: "pairing each probability with its label is right."},
            _check_bce,
            ["log p is negative for p < 1: what sign does the total have?",
             "Cross-entropy is -(t log p + (1 - t) log(1 - p)), averaged."],
            '''
def bce(p, t):
    total = 0
    for pi, ti in zip(p, t):
        total = total + ti * pi.log() + (1 - ti) * (1 - pi).log()
    return -total / len(p)
''',
            "The log-likelihood is negative; the loss is its negative (line 5, or subtract in line 4).",
        ),
    ]
