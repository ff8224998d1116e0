"""The checking process: `python -c "from micrograd.exercises.child import main; main()"`.

`sandbox.run` starts it with a job on stdin (the exercise's id, the answer's source, the
limits, where to write the result); it imports what the check needs, sets the limits, hides
`micrograd.exercises` from the answer, runs the check and writes the feedback as JSON.
"""

from __future__ import annotations

import importlib.abc
import json
import os
import sys
from typing import Any

from . import catalogue, sandbox
from .feedback import Feedback
from .sandbox import REFERENCE_MESSAGE, Source, in_package, run_source

__all__ = ["main"]


class _RefuseExercises(importlib.abc.MetaPathFinder):
    """Refuses to import micrograd.exercises (while an answer runs in the checking process)."""

    def find_spec(self, fullname: str, path: Any, target: Any = None) -> None:
        if in_package(fullname):
            raise ImportError(REFERENCE_MESSAGE, name=fullname)
        return None


def _limit(memory_mb: int, cpu_seconds: float) -> None:
    try:
        import resource
    except ImportError:  # pragma: no cover - not POSIX: the wall-time limit still holds
        return
    for limit, value in ((resource.RLIMIT_AS, memory_mb * 1024 * 1024), (resource.RLIMIT_CPU, int(cpu_seconds) + 1),
                         (resource.RLIMIT_FSIZE, 64 * 1024 * 1024)):
        _, hard = resource.getrlimit(limit)
        if hard != resource.RLIM_INFINITY:
            value = min(value, hard)
        try:
            resource.setrlimit(limit, (value, hard))
        except (ValueError, OSError):  # pragma: no cover - a platform that refuses: the other limits hold
            pass


def main() -> None:
    """The checking process: read the job from stdin, check, write the feedback as JSON."""
    job = json.loads(sys.stdin.read())
    exercise: Any = catalogue.get(job["exercise"])  # a CodeExercise: only those are run here
    exercise.prepare()
    sandbox.LIMITS["memory_mb"] = job["memory_mb"]
    _limit(job["memory_mb"], job["cpu_seconds"])
    for name in [m for m in sys.modules if in_package(m)]:
        del sys.modules[name]
    front = sys.modules.get("micrograd")
    if front is not None and "exercises" in vars(front):
        delattr(front, "exercises")
    sys.meta_path.insert(0, _RefuseExercises())
    source = Source(job["text"], job["filename"], job["entry"])
    try:
        feedback = run_source(exercise.id, source, exercise.check_function)
    except MemoryError:
        feedback = Feedback(exercise.id, False, f"Your code ran out of memory (the check allows"
                            f" {job['memory_mb']} MB).", [], mistake="memory")
    except Exception as e:  # noqa: BLE001 - a check that fails is ours to fix, but the learner still gets words
        feedback = Feedback(exercise.id, False, f"The check itself failed ({type(e).__name__}: {e}); please report"
                            " it, with your answer.", [], mistake="check-failed")
    with open(job["result"], "w", encoding="utf-8") as f:
        json.dump(feedback.to_dict(), f)
    sys.stdout.flush()
    os._exit(0)  # now, even if the answer left threads running that would keep the process alive
