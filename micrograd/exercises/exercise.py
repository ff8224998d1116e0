"""`Exercise`: what every exercise has, whatever its kind.

An exercise has a short id, a title, a statement, hints revealed one at a time, a solution
shown only when asked for, and `check(answer)`, which returns `Feedback`. The four kinds
(`micrograd.exercises.predict`, `.write_op`, `.find_bug`, `.train`) say what an answer is
and how it is checked.
"""

from __future__ import annotations

import textwrap
from typing import Any, List, Optional, Sequence

from .feedback import Feedback

__all__ = ["Exercise", "CodeExercise", "Solution", "KINDS"]

KINDS = {
    "predict": "predict the gradient",
    "write-op": "write the op",
    "find-bug": "find the bug",
    "train": "train",
}


class Solution:
    """A reference solution: the answer, and why it is right. Prints in a terminal and
    renders in Jupyter."""

    __slots__ = ("exercise", "answer", "why")

    def __init__(self, exercise: str, answer: str, why: str) -> None:
        self.exercise = exercise
        self.answer = answer
        self.why = why

    def __str__(self) -> str:
        return f"{self.exercise}, a solution:\n\n{self.answer}\n\n{self.why}"

    def __repr__(self) -> str:
        return f"Solution({self.exercise!r})"

    def _repr_markdown_(self) -> str:
        body = self.answer if "\n" not in self.answer else f"```python\n{self.answer}\n```"
        return f"**{self.exercise}, a solution:**\n\n{body}\n\n{self.why}"


class Exercise:
    """One exercise. Subclasses (one per kind) define what `check` accepts.

    Attributes:
        id: short and stable ("grad-1"): the CLI, the CSV and `get` use it.
        kind: "predict", "write-op", "find-bug" or "train" (see `KINDS`).
        title: a few words.
        statement: the task, with everything needed to do it.
        hints: revealed one at a time by `hint()`.
    """

    kind = ""

    def __init__(self, id: str, title: str, statement: str, hints: Sequence[str], solution: str, why: str) -> None:
        self.id = id
        self.title = title
        self.statement = textwrap.dedent(statement).strip()
        self.hints: List[str] = list(hints)
        self._solution = Solution(id, textwrap.dedent(solution).strip(), textwrap.dedent(why).strip())
        self._hints_shown = 0

    def hint(self) -> str:
        """The next hint (the first, then the second, ...); after the last, says so."""
        if not self.hints:
            return f"{self.id} has no hints."
        if self._hints_shown >= len(self.hints):
            return f"That was the last hint ({len(self.hints)} of {len(self.hints)}); ex.solution() shows a solution."
        self._hints_shown += 1
        return f"Hint {self._hints_shown} of {len(self.hints)}: {self.hints[self._hints_shown - 1]}"

    def reset_hints(self) -> None:
        """Start the hints from the first again."""
        self._hints_shown = 0

    def solution(self) -> Solution:
        """A reference solution, with why it is right. Only on request: try first."""
        return self._solution

    def check(self, answer: Any) -> Feedback:
        """Check an answer; return `Feedback` saying what is right or where it went wrong."""
        raise NotImplementedError

    def describe(self) -> str:
        """The id, kind, title and statement as text."""
        return f"{self.id} ({KINDS[self.kind]}): {self.title}\n\n{self.statement}"

    def __str__(self) -> str:
        return self.describe()

    def __repr__(self) -> str:
        return f"<exercise {self.id} ({KINDS[self.kind]}): {self.title}>"

    def _repr_markdown_(self) -> str:
        return f"### {self.id}: {self.title}\n\n*{KINDS[self.kind]}*\n\n{self.statement}"

    def _feedback(self, passed: bool, summary: str, details: Sequence[str] = (), **kw: Any) -> Feedback:
        return Feedback(self.id, passed, summary, details, **kw)


class CodeExercise(Exercise):
    """An exercise answered with code: a function, Python source, or a .py file.

    `check(answer)` runs the answer in a subprocess with time and memory limits
    (`micrograd.exercises.sandbox`); `check(answer, isolate=False)` runs it in this process,
    for trusted code only. The answer must define the function named `entry`.

    Subclasses define `check_function(fn, source)`, the check proper, which runs where the
    answer runs, and may define `prepare()`, which imports what the check needs before the
    answer is run.
    """

    entry = ""
    timeout = 20.0

    def check(self, answer: Any, *, isolate: bool = True, timeout: Optional[float] = None,
              memory_mb: Optional[int] = None) -> Feedback:
        """Check a code answer: your function, its source as a string, or a .py file's path.

        Args:
            isolate: run it in a subprocess with limits (default); False runs it here.
            timeout: seconds before the check stops it (default: the exercise's).
            memory_mb: the address space it may use (default: `sandbox.MEMORY_MB`).
        """
        from . import sandbox

        return sandbox.run(self, answer, isolate=isolate, timeout=timeout, memory_mb=memory_mb)

    def prepare(self) -> None:
        """Import what `check_function` needs (called before the answer runs)."""

    def check_function(self, fn: Any, source: Any) -> Feedback:
        """Check the learner's function `fn` (defined by `source`, a `sandbox.Source`)."""
        raise NotImplementedError
