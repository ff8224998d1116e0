"""Run a learner's code: in a subprocess with time and memory limits, and in the learner's terms.

A learner's answer is untrusted code: it may loop forever, eat all memory, raise, or not
even parse. An infinite loop cannot be stopped from inside the process that runs it (not in
Jupyter either), so `run` checks an answer in a fresh Python process:

- the process gets `resource.setrlimit` limits (address space `memory_mb`, CPU time, file
  size) where the platform has them (POSIX), and is killed, with any processes it started,
  after `timeout` seconds of wall time: the answer then gets "timed out after N s";
- its working directory is an empty temporary folder, removed afterwards;
- the answer's source is sent to it as text (a function given in Jupyter is sent as the
  definitions of the cell it was written in: see `answer_source`), run there, and the
  exercise's check runs on what it defined; the feedback comes back as JSON;
- errors are reported as the line of the learner's own code that raised, never as a
  traceback from inside micrograd.

The reference solutions ship in `micrograd.exercises`, so a checker must not accept an answer
that merely imports or calls them. Two guards: before the answer runs, its source is read
with `ast` and refused if it names `micrograd.exercises` (an import, `from micrograd import
exercises`, or the name in a string, as `importlib.import_module` needs); and in the
subprocess, the exercise package is removed from `sys.modules` and a meta-path finder refuses
to import it again, which also catches imports spelt in ways `ast` cannot see. (For
write-the-op, `write_op` also refuses an op whose result is micrograd's own op.) These stop
an answer from using the shipped solutions; they are not a security boundary against a
determined attacker, who can read files, and neither is the subprocess, whose limits are
there for accidents: loops and memory hogs.
"""

from __future__ import annotations

import ast
import contextlib
import inspect
import io
import json
import linecache
import os
import pathlib
import secrets
import signal
import subprocess
import sys
import tempfile
import time
import traceback
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

from .feedback import Feedback

__all__ = ["run", "answer_source", "definitions_only", "run_source", "LearnerError", "call", "learner_line",
           "describe_error", "refers_to_exercises", "in_package", "Source", "TIMEOUT", "MEMORY_MB", "REFERENCE_MESSAGE",
           "PACKAGE"]

TIMEOUT = 20.0  # seconds of wall time for one check (a train exercise sets its own)
MEMORY_MB = 1024  # address space of the checking process: Python with micrograd and hypothesis needs ~150
LIMITS = {"memory_mb": MEMORY_MB}  # the limits of this checking process (set by `child.main`)
MAX_OUTPUT = 2000  # characters of what the learner's code printed, shown in the feedback
REFERENCE_MESSAGE = ("your answer uses micrograd.exercises, where the reference solutions live; an answer has to"
                     " do the work itself")
PACKAGE = "micrograd.exercises"
ANSWER_FILE = "<your answer>"

# The names an answer finds already imported (an answer from a notebook cell may rely on the
# notebook's first cell for them).
PRELUDE = "import math\nimport random\nfrom micrograd import Value, primitive\nfrom micrograd.nn import MLP\n"


class Source:
    """An answer as source code: the text, the file name its line numbers refer to, and the
    name of the function the check needs from it."""

    __slots__ = ("text", "filename", "entry")

    def __init__(self, text: str, filename: str, entry: str) -> None:
        self.text = text
        self.filename = filename
        self.entry = entry


class LearnerError(Exception):
    """The learner's code failed in a way the feedback explains (raised inside checks)."""

    def __init__(self, summary: str, details: Sequence[str] = (), mistake: str = "raised") -> None:
        super().__init__(summary)
        self.summary = summary
        self.details = list(details)
        self.mistake = mistake


# ---------------------------------------------------------------------------------------
# From an answer to source code
# ---------------------------------------------------------------------------------------

def answer_source(answer: Any, entry: str) -> Tuple[Optional[Source], str]:
    """The source code of an answer, or None and why it is not one.

    - a function (or a `micrograd.primitive` op): the definitions (imports, functions,
      classes, assignments) of the file or notebook cell it was defined in, other lines
      blanked so that line numbers stay those of the cell; the function is found by its name;
    - a `pathlib.Path`, or a string ending in `.py`: that file, which must define `entry`;
    - any other string: Python source code, which must define `entry`.
    """
    if isinstance(answer, pathlib.Path) or (isinstance(answer, str) and answer.strip().endswith(".py")
                                            and "\n" not in answer.strip()):
        path = pathlib.Path(answer)
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return None, f"there is no file {str(path)!r}"
        except (OSError, UnicodeDecodeError) as e:
            return None, f"cannot read {str(path)!r}: {e}"
        return Source(text, str(path), entry), ""
    if isinstance(answer, str):
        try:
            tree = ast.parse(answer)
        except SyntaxError:
            tree = None
        looks_like_code = "\n" in answer.strip() or f"def {entry}" in answer
        if not looks_like_code and (tree is None or entry not in _defined_names(tree)):
            shown = answer if len(answer) <= 60 else answer[:57] + "..."
            return None, (f"expected your function `{entry}` (or Python source that defines it, or the path of a"
                          f" .py file), got the string {shown!r}")
        return Source(answer, ANSWER_FILE, entry), ""
    from ..engine import Primitive

    target = answer.forward if isinstance(answer, Primitive) else answer
    if not callable(target) or isinstance(target, type):
        return None, f"expected your function `{entry}`, got {type(answer).__name__}: {answer!r:.60}"
    name = answer.name if isinstance(answer, Primitive) else getattr(answer, "__name__", "")
    if not name.isidentifier():
        return None, f"give a function defined with `def {entry}(...)`, not a lambda or a callable object"
    try:
        target = inspect.unwrap(target)
        filename = inspect.getsourcefile(target) or inspect.getfile(target)
        lines = linecache.getlines(filename)
        if not lines:
            lines = inspect.getsource(target).splitlines(keepends=True)
            lines = ["\n"] * (target.__code__.co_firstlineno - 1) + lines
    except (TypeError, OSError):
        return None, (f"cannot read the source of your `{name}` (was it typed at an interactive prompt?): save it in"
                      " a file, or give its source as a string")
    return Source(definitions_only("".join(lines), name), filename, name), ""


def definitions_only(text: str, entry: str = "") -> str:
    """The imports, functions, classes and assignments of `text`, every other line blank (so
    line numbers stay), without statements that use an exercise (`ex.check(...)`) or import
    micrograd.exercises."""
    try:
        tree = ast.parse(text)
    except SyntaxError:
        return text  # let the check report the syntax error, with its line
    lines = text.splitlines(keepends=True)
    keep = [False] * len(lines)
    kinds = (ast.Import, ast.ImportFrom, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Assign,
             ast.AnnAssign)
    # Assignments are kept when a function or class of the cell reads what they assign (or they
    # assign the answer itself): not `ex = get("op-1")`, `result = train(...)`.
    needed = {entry} | {n.id for stmt in tree.body if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef,
                                                                          ast.ClassDef))
                        for n in ast.walk(stmt) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}
    for stmt in tree.body:
        if not isinstance(stmt, kinds):
            continue
        if isinstance(stmt, (ast.Assign, ast.AnnAssign)):
            targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]
            assigned = {n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name)}
            if _uses_exercise(stmt) or not assigned & needed:
                continue
        if isinstance(stmt, (ast.Import, ast.ImportFrom)) and refers_to_exercises(ast.Module([stmt], [])):
            continue  # the notebook's `from micrograd.exercises import get`: the answer itself must not use it
        first = min([stmt.lineno] + [d.lineno for d in getattr(stmt, "decorator_list", [])])
        for i in range(first - 1, (stmt.end_lineno or stmt.lineno)):
            keep[i] = True
    return "".join(line if k else "\n" for line, k in zip(lines, keep))


_EXERCISE_METHODS = {"check", "hint", "solution", "draw", "explanation", "graph"}


def _uses_exercise(node: ast.AST) -> bool:
    return any(isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute) and n.func.attr in _EXERCISE_METHODS
               for n in ast.walk(node))


def _defined_names(tree: ast.Module) -> List[str]:
    names = []
    for stmt in tree.body:
        if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.append(stmt.name)
        elif isinstance(stmt, ast.Assign):
            names += [t.id for t in stmt.targets if isinstance(t, ast.Name)]
    return names


def refers_to_exercises(text: Any) -> Optional[int]:
    """The line where source `text` (or an `ast` tree) names micrograd.exercises (an import
    of it, `from micrograd import exercises`, the name in a string), or None."""
    try:
        tree = text if isinstance(text, ast.AST) else ast.parse(text)
    except SyntaxError:
        return None
    for node in ast.walk(tree):
        if isinstance(node, ast.Import) and any(in_package(a.name) for a in node.names):
            return node.lineno
        if isinstance(node, ast.ImportFrom) and node.module and not node.level:
            if in_package(node.module) or (node.module == "micrograd" and any(a.name == "exercises"
                                                                               for a in node.names)):
                return node.lineno
        if isinstance(node, ast.Attribute) and node.attr == "exercises" and isinstance(node.value, ast.Name) \
                and node.value.id == "micrograd":
            return node.lineno
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and PACKAGE in node.value:
            return node.lineno
    return None


def in_package(name: str) -> bool:
    """Is `name` micrograd.exercises or one of its modules?"""
    return name == PACKAGE or name.startswith(PACKAGE + ".")


# ---------------------------------------------------------------------------------------
# Running it, in the learner's terms
# ---------------------------------------------------------------------------------------

def learner_line(error: BaseException, filename: str) -> str:
    """`line N: <code>` of the learner's file deepest in the traceback of `error`, or ""."""
    frames = [f for f in traceback.extract_tb(error.__traceback__) if f.filename == filename]
    if not frames:
        return ""
    f = frames[-1]
    code = (f.line or "").strip()
    where = f"line {f.lineno}" + (f" (in {f.name})" if f.name not in ("<module>", "") else "")
    return f"{where}: `{code}`" if code else where


def describe_error(error: BaseException) -> str:
    """An exception as the learner would want it: type and message, one line."""
    if isinstance(error, MemoryError):
        return "MemoryError: out of memory"
    text = " ".join(str(error).split())
    if isinstance(error, ImportError) and PACKAGE in text:
        return REFERENCE_MESSAGE
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


_FILENAME = [ANSWER_FILE]  # the file the running answer's line numbers refer to


def call(fn: Callable[..., Any], *args: Any, what: str = "your function") -> Any:
    """Call the learner's `fn`; turn anything it raises into a `LearnerError` that names
    the line of the learner's code, not micrograd's internals."""
    try:
        return fn(*args)
    except LearnerError:
        raise
    except RecursionError as e:
        raise LearnerError(f"{what} recursed too deeply", [learner_line(e, _FILENAME[0]) or "(no line of yours)"],
                           "raised") from None
    except MemoryError:
        raise LearnerError(f"{what} ran out of memory", [f"the check allows {LIMITS['memory_mb']} MB"],
                           "memory") from None
    except SystemExit:
        raise LearnerError(f"{what} called exit(); a function being checked must return", [], "raised") from None
    except Exception as e:  # noqa: BLE001 - the learner's code may raise anything: report it in their terms
        line = learner_line(e, _FILENAME[0])
        said = describe_error(e)
        if said == REFERENCE_MESSAGE:
            raise LearnerError(REFERENCE_MESSAGE, [line] if line else [], "uses-reference") from None
        details = [line] if line else []
        if isinstance(e, NameError):  # from a notebook: the name was defined in another cell
            details.append("the check runs only the definitions of the file or notebook cell your function is in,"
                           " with math, random, Value, primitive and MLP imported: import or define it there")
        raise LearnerError(f"{what} raised {said}", details, "raised") from None


CheckFunction = Callable[[Any, Source], Feedback]


def run_source(exercise_id: str, source: Source, check: CheckFunction) -> Feedback:
    """Run the answer's source, find its `entry`, and `check` it (in this process)."""
    line = refers_to_exercises(source.text)
    if line is not None:
        return Feedback(exercise_id, False, REFERENCE_MESSAGE[0].upper() + REFERENCE_MESSAGE[1:] + ".",
                        [f"line {line} names micrograd.exercises."], mistake="uses-reference")
    _FILENAME[0] = source.filename
    if source.filename not in linecache.cache or source.filename == ANSWER_FILE:  # a notebook cell keeps its own
        linecache.cache[source.filename] = (len(source.text), None, source.text.splitlines(keepends=True),
                                            source.filename)
    printed = io.StringIO()
    try:
        with contextlib.redirect_stdout(printed):
            feedback = _run(exercise_id, source, check)
    except LearnerError as e:
        feedback = Feedback(exercise_id, False, e.summary[0].upper() + e.summary[1:] + ".", e.details,
                            mistake=e.mistake)
    shown = printed.getvalue()
    if shown.strip():
        cut = shown if len(shown) <= MAX_OUTPUT else shown[:MAX_OUTPUT] + " ..."
        feedback.details.append("your code printed: " + " | ".join(cut.strip().splitlines()[:20]))
    return feedback


def _run(exercise_id: str, source: Source, check: CheckFunction) -> Feedback:
    try:
        code = compile(source.text, source.filename, "exec")
    except SyntaxError as e:
        where = f"line {e.lineno}: `{(e.text or '').strip()}`" if e.lineno else ""
        raise LearnerError(f"your code does not parse: {e.msg}", [where] if where else [], "syntax") from None
    namespace: Dict[str, Any] = {"__name__": "__answer__"}
    exec(compile(PRELUDE, "<prelude>", "exec"), namespace)  # noqa: S102 - our own three imports
    call(exec, code, namespace, what="your code, when it was run,")
    entry = namespace.get(source.entry)
    if entry is None:
        defined = sorted(k for k, v in namespace.items() if callable(v) and not k.startswith("_")
                         and getattr(v, "__module__", "") == "__answer__")
        return Feedback(exercise_id, False, f"Your code does not define `{source.entry}`.",
                        [f"it defines: {', '.join(defined)}" if defined else "it defines no functions",
                         f"the check calls the function named `{source.entry}`"], mistake="missing")
    if not callable(entry):
        return Feedback(exercise_id, False,
                        f"`{source.entry}` is {_a(type(entry).__name__)}, not a function.", [],
                        mistake="not-a-function")
    return check(entry, source)


# ---------------------------------------------------------------------------------------
# The subprocess
# ---------------------------------------------------------------------------------------

def run(exercise: Any, answer: Any, *, isolate: bool = True, timeout: Optional[float] = None,
        memory_mb: Optional[int] = None) -> Feedback:
    """Check a code answer to `exercise` (which has `id`, `entry` and `check_function`).

    `isolate=False` runs it in this process, without limits: for trusted code (tests of the
    catalogue, a teacher's own solutions), not for learners' files.
    """
    source, problem = answer_source(answer, exercise.entry)
    if source is None:
        return Feedback(exercise.id, False, problem[0].upper() + problem[1:] + ".", [], mistake="not-code")
    if not isolate:
        return run_source(exercise.id, source, exercise.check_function)
    seconds = float(timeout if timeout is not None else exercise.timeout)
    job = {"exercise": exercise.id, "text": source.text, "filename": source.filename, "entry": source.entry,
           "memory_mb": int(memory_mb if memory_mb is not None else MEMORY_MB), "cpu_seconds": seconds + 5}
    root = str(pathlib.Path(__file__).resolve().parent.parent.parent)
    boot = f"import sys; sys.path.insert(0, {root!r}); from micrograd.exercises.child import main; main()"
    # A token in the environment marks every process the answer starts, even one that leaves the
    # process group (`start_new_session=True`): after the check they are found under /proc and
    # stopped. (An answer that also clears its environment escapes this: a guard, not a sandbox.)
    token = secrets.token_hex(16)
    env = dict(os.environ, MPLBACKEND="Agg", OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1",
               MICROGRAD_CHECK=token)
    with tempfile.TemporaryDirectory(prefix="micrograd-check-") as folder:
        result = pathlib.Path(folder) / "feedback.json"
        job["result"] = str(result)
        errors = pathlib.Path(folder) / "stderr.txt"
        # No pipe for the answer's output: a process it starts could hold a pipe open long after
        # the check has ended, and reading it to the end would wait for that process.
        with open(errors, "wb") as err_file:
            proc = subprocess.Popen([sys.executable, "-I", "-c", boot], stdin=subprocess.PIPE,
                                    stdout=subprocess.DEVNULL, stderr=err_file, cwd=folder, env=env,
                                    start_new_session=True)
        try:
            stdin = proc.stdin
            if stdin is not None:
                try:
                    stdin.write(json.dumps(job).encode())
                    stdin.close()
                except BrokenPipeError:  # it ended before reading the job: reported below
                    pass
            proc.wait(timeout=seconds)
        except subprocess.TimeoutExpired:
            left = _stop(proc, token)
            return Feedback(exercise.id, False, f"Your code timed out after {seconds:g} s.",
                            ["an endless loop? (a `while` whose condition never turns false, a training loop"
                             " without an end)", _stopped(left)], mistake="timeout")
        except BaseException:  # Ctrl-C in a terminal or Jupyter's stop button: the answer must not run on
            _stop(proc, token)
            raise
        left = _stop(proc, token)  # what it started and left running (a detached `sleep`, a server)
        if result.exists():
            try:
                feedback = Feedback.from_dict(json.loads(result.read_text(encoding="utf-8")))
            except (ValueError, KeyError, TypeError):
                pass
            else:
                if left:
                    feedback.details.append(_stopped(left))
                return feedback
        err = errors.read_bytes()
    return _crashed(exercise.id, proc.returncode, err.decode(errors="replace"), job["memory_mb"])


def _a(noun: str) -> str:
    """`an int`, `a str`: the noun with its article."""
    return ("an " if noun[:1].lower() in "aeiou" else "a ") + noun


def _stopped(left: int) -> str:
    if left:
        return (f"the check stopped it, but {left} process(es) it started could not be stopped"
                " (they left the check's environment)")
    return "the check stopped it and every process it started"


def _stop(proc: "subprocess.Popen[bytes]", token: str) -> int:
    """Kill the checking process, its process group and every process carrying `token` in its
    environment; wait for the checking process. Returns how many marked processes survive."""
    try:
        if hasattr(os, "killpg"):
            os.killpg(proc.pid, signal.SIGKILL)  # the answer's own child processes too
        else:  # pragma: no cover - Windows
            proc.kill()
    except (ProcessLookupError, PermissionError):
        pass
    proc.wait()
    for _ in range(3):  # a process may start another while the first is being stopped
        marked = _marked(token)
        if not marked:
            return 0
        for pid in marked:
            try:
                os.kill(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        time.sleep(0.05)
    return len(_marked(token))


def _marked(token: str) -> List[int]:
    """The processes whose environment holds MICROGRAD_CHECK=token (Linux's /proc; elsewhere none)."""
    needle = f"MICROGRAD_CHECK={token}".encode()
    found: List[int] = []
    proc_dir = pathlib.Path("/proc")
    if not proc_dir.is_dir():  # pragma: no cover - not Linux
        return found
    for entry in proc_dir.iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            if needle in (entry / "environ").read_bytes().split(b"\0"):
                found.append(int(entry.name))
        except OSError:  # gone already, or not ours to read
            pass
    return found


def _crashed(exercise_id: str, code: int, err: str, memory_mb: int) -> Feedback:
    """Feedback for a checking process that ended without a result."""
    if "MemoryError" in err or code == -getattr(signal, "SIGKILL", 9):
        return Feedback(exercise_id, False, f"Your code ran out of memory (the check allows {memory_mb} MB).",
                        ["a list or a graph that grows without end?"], mistake="memory")
    if code == -getattr(signal, "SIGXCPU", 24):
        return Feedback(exercise_id, False, "Your code used up its CPU time.", [], mistake="timeout")
    return Feedback(exercise_id, False, f"Your code ended the checking process (exit status {code}) before it"
                    " finished.", ["did it call os._exit() or kill its own process?"], mistake="crashed")
