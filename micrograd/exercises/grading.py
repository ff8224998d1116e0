"""Grade a folder of learners' files for one exercise, into rows for a CSV."""

from __future__ import annotations

import csv
import pathlib
from typing import IO, Iterator, List, Optional, Tuple, Union

from .catalogue import get
from .exercise import CodeExercise
from .feedback import Feedback

__all__ = ["grade", "write_csv", "CSV_COLUMNS"]

CSV_COLUMNS = ("id", "file", "result", "feedback")


def grade(exercise_id: str, folder: Union[str, pathlib.Path], *, timeout: Optional[float] = None
          ) -> Iterator[Tuple[pathlib.Path, Feedback]]:
    """Check every `*.py` file in `folder` (not its subfolders, in name order) as an answer to
    the exercise, each in its own subprocess; yields (file, feedback) as each finishes.

    Raises KeyError for an unknown id, ValueError for an exercise not answered with code,
    NotADirectoryError for a folder that is not one.
    """
    exercise = get(exercise_id)
    if not isinstance(exercise, CodeExercise):
        raise ValueError(f"{exercise_id} is answered with a number, not a file: grade the code exercises"
                         " (write-op, find-bug, train)")
    path = pathlib.Path(folder)
    if not path.is_dir():
        raise NotADirectoryError(f"{str(path)!r} is not a folder")
    for file in sorted(path.glob("*.py")):
        yield file, exercise.check(file, timeout=timeout)


def write_csv(rows: List[Tuple[pathlib.Path, Feedback]], out: IO[str]) -> None:
    """Write `CSV_COLUMNS`: the exercise id, the file's name, pass or fail, and the feedback
    (the whole text, so a teacher sees what the learner would)."""
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    for file, feedback in rows:
        writer.writerow([feedback.exercise, file.name, "pass" if feedback.passed else "fail", feedback.text])
