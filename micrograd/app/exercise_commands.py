"""The exercise commands of `micrograd`: `exercises`, `check` and `grade`.

    micrograd exercises                         list the exercises
    micrograd exercises grad-2                  show one: statement and how to answer
    micrograd check op-1 tanh.py                check a file (write-op, find-bug, train)
    micrograd check grad-2 -1                   check a number (predict) or a line (find-bug)
    micrograd grade op-1 answers/ --csv op-1.csv   grade every .py file in a folder

Exit codes: `check` 0 when the answer is right, 1 when it is not; `grade` 0 when every file
was graded (whatever the results); 2 for a bad argument (an unknown id, a missing file),
with one line on stderr.
"""

from __future__ import annotations

import argparse
import pathlib
import sys
from typing import Any, List, Tuple

from ..exercises.catalogue import EXERCISES, get
from ..exercises.exercise import KINDS, CodeExercise
from ..exercises.feedback import Feedback
from ..exercises.find_bug import FindBug
from ..exercises.grading import grade, write_csv
from .output_folder import OutputFolderError, check_writable

__all__ = ["COMMANDS", "add_commands", "run", "FILE_CONVENTION"]

COMMANDS = ("exercises", "check", "grade")

FILE_CONVENTION = """\
what a learner's FILE.py defines, by kind:
  write-op   a function named as the op (tanh, mul, sigmoid, log) that takes Values and
             returns a Value, the lecture's way (out._backward = ...) or with micrograd.primitive
  find-bug   the fixed function, named as in the listing (train, square, bce)
  train      train(X, y, steps) returning the trained model
  The file runs in a fresh process with math, random, Value, primitive and MLP already
  imported; it may import anything else but micrograd.exercises."""


def add_commands(commands: Any) -> None:
    """Add `exercises`, `check` and `grade` to the `micrograd` parser's subcommands."""
    listing = commands.add_parser("exercises", help="list the exercises, or show one",
                                  description="List the exercises (id, kind, title), or show one's statement.",
                                  epilog=FILE_CONVENTION, formatter_class=argparse.RawDescriptionHelpFormatter)
    listing.add_argument("id", nargs="?", metavar="ID", help="an exercise to show (default: list them all)")

    check = commands.add_parser(
        "check", help="check an answer: a learner's .py file, a number or a line number",
        description="Check an answer to one exercise and print the feedback. ANSWER is a .py file for write-op,"
        " find-bug and train; a number for predict; a line number for find-bug. The file runs in a subprocess"
        " with time and memory limits. Exit status 0 when the answer is right, 1 when not, 2 for a bad argument.",
        epilog=FILE_CONVENTION, formatter_class=argparse.RawDescriptionHelpFormatter)
    check.add_argument("id", metavar="ID", help="the exercise, e.g. op-1 (`micrograd exercises` lists them)")
    check.add_argument("answer", metavar="ANSWER", help="FILE.py, or a number (predict), or a line (find-bug)")
    check.add_argument("--timeout", type=_seconds, default=None, metavar="S",
                       help="seconds before the check stops the code (default: the exercise's)")

    grading = commands.add_parser(
        "grade", help="grade every .py file in a folder for one exercise, into a CSV",
        description="Check every .py file in FOLDER (not subfolders) as an answer to exercise ID, each in its own"
        " subprocess, and write a CSV with the columns id, file, result (pass or fail) and feedback (the text the"
        " learner would see). Prints one line per file. Exit status 0 when every file was graded.",
        epilog=FILE_CONVENTION, formatter_class=argparse.RawDescriptionHelpFormatter)
    grading.add_argument("id", metavar="ID", help="the exercise (write-op, find-bug or train)")
    grading.add_argument("folder", metavar="FOLDER", type=pathlib.Path, help="the folder of learners' files")
    grading.add_argument("--csv", type=pathlib.Path, default=None, metavar="OUT",
                         help="the CSV file to write (default: the CSV on standard output)")
    grading.add_argument("--timeout", type=_seconds, default=None, metavar="S",
                         help="seconds per file before the check stops it (default: the exercise's)")


MAX_TIMEOUT = 3600.0


def _seconds(text: str) -> float:
    try:
        x = float(text)
    except ValueError:
        x = float("nan")
    if not 0.0 < x <= MAX_TIMEOUT:  # NaN fails this too
        raise argparse.ArgumentTypeError(f"must be a number of seconds > 0 and <= {MAX_TIMEOUT:g}, got {text!r}")
    return x


class _BadArgument(Exception):
    pass


def run(args: argparse.Namespace) -> int:
    """Run one of `COMMANDS`; the exit code."""
    try:
        if args.command == "exercises":
            return _list(args)
        if args.command == "check":
            return _check(args)
        return _grade(args)
    except _BadArgument as e:
        print(f"micrograd {args.command}: error: {e}", file=sys.stderr)
        return 2


def _exercise(id: str) -> Any:
    try:
        return get(id)
    except KeyError:
        raise _BadArgument(f"no exercise {id!r}; `micrograd exercises` lists them: {', '.join(EXERCISES)}") from None


def _list(args: argparse.Namespace) -> int:
    if args.id:
        ex = _exercise(args.id)
        print(ex.describe())
        print(f"\nanswer: micrograd check {ex.id} {_answer_word(ex)}")
        return 0
    width = max(len(i) for i in EXERCISES)
    for ex in EXERCISES.values():
        print(f"{ex.id:<{width}}  {KINDS[ex.kind]:<21}  {ex.title}")
    print(f"\n{len(EXERCISES)} exercises. `micrograd exercises ID` shows one; `micrograd check ID ANSWER` checks an"
          " answer.")
    return 0


def _answer_word(ex: Any) -> str:
    if isinstance(ex, FindBug):
        return f"LINE  or  micrograd check {ex.id} {ex.entry}.py"
    if isinstance(ex, CodeExercise):
        return f"{ex.entry}.py"
    return "NUMBER"


def _check(args: argparse.Namespace) -> int:
    ex = _exercise(args.id)
    answer: Any = args.answer
    if not isinstance(ex, CodeExercise):
        feedback: Feedback = ex.check(answer)  # a number, parsed (and refused in words) by the check
    elif isinstance(ex, FindBug) and answer.strip().lstrip("+").isdigit():
        feedback = ex.check(int(answer))
    else:
        path = pathlib.Path(answer)
        if not path.is_file():
            raise _BadArgument(f"no file {answer!r}" + (f" ({ex.id} is answered with a .py file)"
                                                         if path.suffix != ".py" else ""))
        feedback = ex.check(path, timeout=args.timeout)
    print(feedback)
    return 0 if feedback.passed else 1


def _grade(args: argparse.Namespace) -> int:
    ex = _exercise(args.id)
    if not isinstance(ex, CodeExercise):
        raise _BadArgument(f"{ex.id} is answered with a number, not a file: grade a write-op, find-bug or train"
                           " exercise")
    if not args.folder.is_dir():
        raise _BadArgument(f"{str(args.folder)!r} is not a folder")
    if args.csv is not None and args.csv.is_dir():
        raise _BadArgument(f"--csv {str(args.csv)!r} is a folder; give a file name")
    if args.csv is not None:  # before grading a whole folder, not after
        if not args.csv.parent.is_dir():
            raise _BadArgument(f"--csv {str(args.csv)!r}: there is no folder {str(args.csv.parent)!r}")
        try:
            check_writable(args.csv.parent, [args.csv.name])
        except OutputFolderError as e:
            raise _BadArgument(f"--csv {str(args.csv)!r}: {e}") from None
    rows: List[Tuple[pathlib.Path, Feedback]] = []
    log = sys.stdout if args.csv is not None else sys.stderr  # keep stdout for the CSV itself
    for file, feedback in grade(ex.id, args.folder, timeout=args.timeout):
        rows.append((file, feedback))
        print(f"{file.name}: {feedback.one_line()}", file=log, flush=True)
    if not rows:
        raise _BadArgument(f"no .py files in {str(args.folder)!r}")
    passed = sum(f.passed for _, f in rows)
    if args.csv is None:
        write_csv(rows, sys.stdout)
    else:
        try:
            with open(args.csv, "w", newline="", encoding="utf-8") as out:
                write_csv(rows, out)
        except OSError as e:
            raise _BadArgument(f"cannot write {str(args.csv)!r}: {e.strerror}") from None
    print(f"{passed} of {len(rows)} passed" + (f"; wrote {args.csv}" if args.csv is not None else ""), file=log)
    return 0
