"""micrograd.exercises: every exercise is solvable (its checker accepts the reference solution)
and its checker rejects the planted mistakes with the right words; bad input gets feedback in
the learner's terms; learners' code runs in a subprocess with limits; the CLI.

Most checks of code answers run in-process (`isolate=False`: the same code path minus the
subprocess) to keep the suite quick; the subprocess itself is tested on its own below.
"""

from __future__ import annotations

import csv
import re
import textwrap
from typing import Any, Dict, List, Tuple

import pytest

from micrograd import Value
from micrograd.app.cli import main
from micrograd.exercises import EXERCISES, KINDS, Feedback, get
from micrograd.exercises.exercise import CodeExercise
from micrograd.exercises.sandbox import definitions_only, refers_to_exercises

ALL = list(EXERCISES.values())


def check(id: str, answer: Any) -> Feedback:
    ex = get(id)
    return ex.check(answer, isolate=False) if isinstance(ex, CodeExercise) else ex.check(answer)


# --- the catalogue -----------------------------------------------------------------------------

def test_the_catalogue_has_fifteen_exercises_and_three_of_each_kind():
    assert len(ALL) >= 15
    for kind in KINDS:
        assert sum(ex.kind == kind for ex in ALL) >= 3, kind


@pytest.mark.parametrize("ex", ALL, ids=[ex.id for ex in ALL])
def test_every_exercise_has_a_short_id_title_statement_hints_and_a_solution(ex):
    assert re.fullmatch(r"[a-z]+-\d+", ex.id)
    assert ex.title and len(ex.statement) > 40 and ex.hints
    assert str(ex.solution()) and ex.solution()._repr_markdown_().startswith(f"**{ex.id}")


def test_hints_are_revealed_one_at_a_time():
    ex = get("grad-2")
    ex.reset_hints()
    shown = [ex.hint() for _ in range(len(ex.hints) + 1)]
    assert shown[0] == f"Hint 1 of {len(ex.hints)}: {ex.hints[0]}"
    assert shown[1].startswith("Hint 2 of")
    assert shown[-1].startswith("That was the last hint")
    ex.reset_hints()


@pytest.mark.parametrize("ex", ALL, ids=[ex.id for ex in ALL])
def test_every_exercise_accepts_its_reference_solution(ex):
    if ex.kind == "predict":
        answer: Any = ex.explanation().total
    else:
        answer = ex.solution().answer
    feedback = check(ex.id, answer)
    assert feedback.passed, str(feedback)
    assert feedback.mistake == ""
    if ex.kind == "find-bug":
        assert check(ex.id, min(ex.bug_lines)).passed


# --- planted mistakes: (exercise, answer, the mistake's name, words the feedback must say) ----

def op_source(body: str, name: str = "tanh", forward: str = "math.tanh(x.data)") -> str:
    return textwrap.dedent(f"""
        def {name}(x):
            t = {forward}
            out = Value(t, (x,), "{name}")

            def _backward():
                {body}

            out._backward = _backward
            return out
        """)


MUL = """
def mul(a, b):
    out = Value(a.data * b.data, (a, b), "*")

    def _backward():
        {0}
        {1}

    out._backward = _backward
    return out
"""

SIGMOID = """
@primitive
def sigmoid(x):
    return 1 / (1 + math.exp(-x))

@sigmoid.derivative
def _(x, out):
    return {0}
"""

LOG = """
@primitive
def log(x):
    return math.log(x)

@log.derivative
def _(x, out):
    return {0}
"""


def loop(ex: str, old: str, new: str) -> str:
    solution = get(ex).solution().answer
    assert old in solution
    return solution.replace(old, new)


TRAIN_NONE = "def train(X, y, steps):\n    return None\n"
TRAIN_TOO_MANY = """
def train(X, y, steps):
    w = Value(1.0)
    for _ in range(steps + 1):
        (w * w).backward()
    return lambda x: w
"""
TRAIN_TOO_MANY_BY_GRAD = """
from micrograd import grad

def train(X, y, steps):
    w = Value(1.0)
    for _ in range(steps + 1):
        grad(w * w, [w])
    return lambda x: w
"""
TRAIN_NO_UPDATE = """
def train(X, y, steps):
    model = MLP(2, [1])
    for _ in range(steps):
        loss = sum((model(x) - t) ** 2 for x, t in zip(X[:4], y[:4]))
        model.zero_grad()
        loss.backward()
    return model
"""
TRAIN_TWO_OUTPUTS = "def train(X, y, steps):\n    model = MLP(2, [2])\n    return model\n"
TRAIN_ONE_OUTPUT = "def train(X, y, steps):\n    return MLP(2, [1])\n"

MISTAKES: List[Tuple[str, Any, str, str]] = [
    ("grad-1", -6, "sign", "Your sign is flipped: dL/da is 6"),
    ("grad-1", -3, "forgot-upstream", "You gave de/da = -3, the local derivative only"),
    ("grad-1", -2, "forgot-local", "-2 is dL/de: the gradient that reaches e"),
    ("grad-1", 2, "value-not-gradient", "2 is the value of a (a.data), not dL/da"),
    ("grad-2", -2, "one-path", "You used one path; a is used 2 times (via L, c), and the paths add:"
                               " dL/da = 1 + (-2) = -1"),
    ("grad-2", 1, "one-path", "the paths add"),
    ("grad-2", 3, "value-not-gradient", "3 is the value of a (a.data)"),
    ("grad-3", 12, "one-path", "a is used 2 times (via y, as both operands)"),
    ("grad-3", 2, "forgot-upstream", "forgot to multiply each by the gradient arriving from above"),
    ("grad-4", 2, "forgot-upstream", "the chain rule multiplies it by the gradient arriving from above,"
                                     " do/dx1w1 = 0.5"),
    ("grad-4", 0.4464, "tanh-of-n", "You used 1 - n² for tanh's derivative"),
    ("grad-4", 0.5858, "tanh-unsquared", "You used 1 - o; tanh's derivative is 1 - o²"),
    ("grad-5", -4, "sign", "Your sign is flipped: dL/dt is 4"),
    ("grad-5", 6, "wrong-variable", "6 is 2x, the derivative of x²"),
    ("grad-5", -1, "forgot-upstream", "You gave dneg_t/dt = -1, the local derivative only"),
    ("grad-6", 0, "relu-let-through", "its input n = -1.5 is negative: relu'(n) = 0"),
    ("grad-6", -1, "sign", "Your sign is flipped"),
    ("op-1", op_source("x.grad = (1 - t ** 2) * out.grad"), "assigned-grad",
     "replaces the gradient with `=` where it must add with `+=`"),
    ("op-1", op_source("x.grad += 1 - t ** 2"), "forgot-upstream", "forgets the upstream gradient"),
    ("op-1", op_source("x.grad += (1 - x.data ** 2) * out.grad"), "tanh-of-x", "You wrote 1 - x²"),
    ("op-1", op_source("x.grad += (1 - t) * out.grad"), "tanh-unsquared", "You wrote 1 - t"),
    ("op-1", op_source("x.grad -= (1 - t ** 2) * out.grad"), "sign", "The sign of dtanh/dx is flipped"),
    ("op-1", "def tanh(x):\n    return x.tanh()\n", "uses-builtin", "returns micrograd's own tanh"),
    ("op-1", op_source("x.grad += (1 - t ** 2) * out.grad", forward="math.sin(x.data)"), "forward",
     "The forward value is wrong: tanh(0.5) is 0.46211716, your tanh gives 0.47942554"),
    ("op-1", op_source("pass"), "no-gradient", "left the gradient of x at 0"),
    ("op-2", MUL.format("a.grad += out.grad", "b.grad += out.grad"), "like-add", "You wrote the derivative of +"),
    ("op-2", MUL.format("a.grad += a.data * out.grad", "b.grad += b.data * out.grad"), "wrong-variable",
     "dmul/da is what dmul/db should be"),
    ("op-2", MUL.format("a.grad = b.data * out.grad", "b.grad = a.data * out.grad"), "assigned-grad",
     "for mul(a, a) at a = 2"),
    ("op-3", SIGMOID.format("x * (1 - x)"), "sigmoid-of-x", "You wrote x * (1 - x)"),
    ("op-3", SIGMOID.format("out"), "missing-factor", "You returned out alone"),
    ("op-3", "def sigmoid(x):\n    return 1 / (1 + (-x).exp())\n", "composed", "built from micrograd's ops"),
    ("op-4", LOG.format("1 / out"), "log-of-out", "You wrote 1/out"),
    ("op-4", LOG.format("-1 / x"), "sign", "The sign of dlog/dx is flipped"),
    ("op-4", LOG.format("2 / x"), "factor", "off by a factor of 2"),
    ("bug-1", 8, "wrong-line", "Not line 8: `p.data -= lr * p.grad`: the update subtracts lr * p.grad"),
    ("bug-1", get("bug-1").code, "no-zero-grad", "The gradients still pile up"),
    ("bug-1", loop("bug-1", "        model.zero_grad()\n        loss.backward()",
                   "        loss.backward()\n        model.zero_grad()"), "zero-after-backward",
     "Your parameters never move"),
    # no update at all (and no zero_grad): the parameters also never move, but zero_grad is not the reason
    ("bug-1", loop("bug-1", "        model.zero_grad()\n", "").replace("            p.data -= lr * p.grad\n",
                                                                         "            pass\n"),
     "no-update", "Your parameters never moved: nothing changed p.data"),
    ("bug-2", 6, "wrong-line", "model.zero_grad() before backward() is right"),
    ("bug-2", get("bug-2").code, "uphill", "Your loop climbs the loss"),
    ("bug-2", loop("bug-2", "        model.zero_grad()\n", ""), "no-zero-grad", "The gradients still pile up"),
    ("bug-2", loop("bug-2", "p.data -= lr * p.grad", "p.data -= 2 * lr * p.grad"), "wrong-update",
     "your parameters are not SGD's: parameter 0 should be"),
    ("bug-3", 2, "wrong-line", "the forward value x² is right"),
    ("bug-3", get("bug-3").code, "factor", "Still half the derivative"),
    ("bug-3", loop("bug-3", "2 * x.data * out.grad", "2 * out.data * out.grad"), "wrong-variable",
     "You used out where the derivative needs x"),
    ("bug-4", 99, "no-such-line", "The listing has lines 1 to 5; there is no line 99"),
    ("bug-4", get("bug-4").code, "negated", "Your loss is still minus the cross-entropy"),
    ("bug-4", loop("bug-4", "-total / len(p)", "-total"), "sum-not-mean", "not the mean: divide by len(p)"),
    ("bug-4", loop("bug-4", "-total / len(p)", "-total.data / len(p)"), "not-a-value", "Your bce returned float"),
    ("train-1", TRAIN_NONE, "no-model", "Your train returned NoneType, not a model"),
    ("train-1", TRAIN_TOO_MANY, "over-budget", "Your train took more than 60 steps"),
    ("train-1", TRAIN_NO_UPDATE, "flat", "the loss never changed: are the parameters updated"),
    ("train-1", TRAIN_TWO_OUTPUTS, "wrong-output", "Your model returned list, not one score"),
    ("train-3", TRAIN_ONE_OUTPUT, "wrong-output", "Your model returned Value, not 3 scores"),
    ("train-3", TRAIN_NONE, "no-model", "not a model"),
    ("train-2", TRAIN_TOO_MANY, "over-budget", "more than 80 steps"),
    ("train-2", TRAIN_TOO_MANY_BY_GRAD, "over-budget", "more than 80 steps"),  # grad() bound before the check
    ("train-2", TRAIN_NO_UPDATE, "flat", "the loss never changed"),
]


@pytest.mark.parametrize("id, answer, mistake, words", MISTAKES, ids=[f"{m[0]}-{m[2]}" for m in MISTAKES])
def test_a_planted_mistake_is_rejected_with_its_own_feedback(id, answer, mistake, words):
    feedback = check(id, answer)
    assert not feedback.passed
    assert feedback.mistake == mistake, str(feedback)
    assert words in str(feedback)


def test_every_checker_has_at_least_two_distinct_planted_mistake_messages():
    messages: Dict[str, set] = {ex.id: set() for ex in ALL}
    for id, answer, _, _ in MISTAKES:
        messages[id].add(check(id, answer).summary)
    assert {id: len(m) for id, m in messages.items() if len(m) < 2} == {}


def test_a_wrong_prediction_gets_the_worked_calculation_and_the_tolerance():
    feedback = check("grad-2", 7)
    assert feedback.mistake == "" and "7 is not dL/da" in feedback.summary
    assert "you are off by 8." in feedback.details
    assert "answers within 0.005 (or 0.1%) of the exact value count" in str(feedback)
    assert "total: dL/da = 1 + (-2) = -1" in feedback.worked
    assert r"\frac{\partial L}{\partial a}" in feedback._repr_markdown_()
    assert check("grad-2", -1.004).passed and not check("grad-2", -1.006).passed


def test_a_right_op_states_what_was_checked():
    feedback = check("op-1", get("op-1").solution().answer)
    assert "checked at 3 fixed points and 30 inputs drawn by hypothesis from [-4, 4]" in feedback.details
    assert "with an upstream gradient of 3" in feedback.details[1]


def test_a_wrong_derivative_reports_the_failing_input_with_expected_and_got():
    feedback = check("op-4", LOG.format("1 / out"))
    assert feedback.details == ["at x = 0.5 (at a fixed point): dlog/dx: expected 2 (central difference),"
                                " got -1.442695"]


def test_an_assigned_grad_names_the_line():
    feedback = check("op-1", op_source("x.grad = (1 - t ** 2) * out.grad"))
    assert "line 7: `x.grad = (1 - t ** 2) * out.grad`: write `+=`" in feedback.details


# --- feedback renders ----------------------------------------------------------------------

def test_feedback_prints_in_a_terminal_and_renders_in_jupyter():
    feedback = check("grad-1", -6)
    text = str(feedback)
    assert text.startswith("✗ grad-1: not yet. Your sign is flipped")
    assert "the worked calculation:" in text and "dL/da = 6" in text
    assert feedback._repr_markdown_().startswith("❌ **grad-1: not yet.**")
    assert "<pre>" in feedback._repr_html_() and "&#x27;" not in feedback.summary
    assert not feedback and bool(check("grad-1", 6))
    again = Feedback.from_dict(feedback.to_dict())
    assert str(again) == text and again.mistake == "sign"


def test_a_training_curve_is_shown_as_a_sparkline_and_svg():
    feedback = Feedback("train-1", True, "ok", curve=[3.0, 2.0, 1.0, 0.5])
    assert "loss per step: █▅▂▁  (4 steps, first 3, lowest 0.5, last 0.5)" in str(feedback)
    assert "<polyline" in feedback._repr_html_()


# --- bad input, in the learner's terms -----------------------------------------------------

@pytest.mark.parametrize("answer, words", [
    ("abc", "Expected a number, got the string 'abc'."),
    (Value(6.0), "got a Value: predict it without running backward()"),
    (None, "Expected a number, got NoneType"),
    (float("nan"), "Expected a finite number"),
])
def test_a_prediction_that_is_not_a_number_is_told_so(answer, words):
    feedback = check("grad-1", answer)
    assert feedback.mistake == "not-a-number" and words in feedback.summary


@pytest.mark.parametrize("answer, mistake, words", [
    ("tanh", "not-code", "Expected your function `tanh` (or Python source that defines it, or the path of a .py"
                         " file), got the string 'tanh'."),
    (42, "not-code", "Expected your function `tanh`, got int: 42"),
    (lambda x: x, "not-code", "not a lambda"),
    ("def tanh(x):\n    return x.data.exp()\n", "raised",
     "Your tanh raised AttributeError: 'float' object has no attribute 'exp'."),
    ("import no_such_module\ndef tanh(x):\n    return x\n", "raised",
     "Your code, when it was run, raised ModuleNotFoundError: No module named 'no_such_module'."),
    ("def tanh(x)\n    return x\n", "syntax", "Your code does not parse"),
    ("def tanh(x):\n    return 0.5\n", "not-a-value", "Your tanh returned float 0.5, not a Value."),
    ("def tanh(x):\n    return Value(0.5)\n", "not-connected", "not connected to its inputs"),
    ("def tan(x):\n    return x\ntanh = 3\n", "not-a-function", "`tanh` is an int, not a function."),
])
def test_a_code_answer_that_is_wrong_in_kind_is_told_so_in_its_own_terms(answer, mistake, words):
    feedback = check("op-1", answer)
    assert feedback.mistake == mistake, str(feedback)
    assert words in str(feedback)
    assert "micrograd/" not in str(feedback) and "Traceback" not in str(feedback)


def test_an_answer_that_raises_shows_the_learners_own_line():
    feedback = check("op-1", "def tanh(x):\n    y = x * 2\n    return y.data.exp()\n")
    assert feedback.details == ["line 3 (in tanh): `return y.data.exp()`"]


def test_a_missing_function_lists_what_the_file_defines(tmp_path):
    path = tmp_path / "answer.py"
    path.write_text("def tan(x):\n    return x\n")
    feedback = check("op-1", path)
    assert feedback.mistake == "missing" and feedback.details[0] == "it defines: tan"
    assert check("op-1", tmp_path / "none.py").summary == f"There is no file {str(tmp_path / 'none.py')!r}."


def test_a_function_is_sent_with_the_definitions_of_its_cell_and_its_line_numbers():
    cell = ("from micrograd.exercises import get\nex = get('op-1')\nimport math\nK = 2\n\ndef tanh(x):\n"
            "    return K\nex.check(tanh)\nprint(tanh)\n")
    kept = definitions_only(cell, "tanh")
    assert kept.splitlines() == ["", "", "import math", "K = 2", "", "def tanh(x):", "    return K", "", ""]


# --- the reference solutions cannot be borrowed --------------------------------------------

@pytest.mark.parametrize("source", [
    "from micrograd.exercises import get\n",
    "import micrograd.exercises.write_op\n",
    "from micrograd import exercises\n",
    "import micrograd\nx = micrograd.exercises\n",
    "import importlib\nm = importlib.import_module('micrograd.exercises')\n",
])
def test_the_static_guard_finds_every_spelling_of_the_exercise_package(source):
    assert refers_to_exercises(source) is not None
    assert refers_to_exercises("import micrograd.testing\nfrom micrograd import Value\n") is None


def test_an_answer_that_calls_the_reference_solution_is_refused():
    source = ("from micrograd.exercises import get\nexec(get('op-1').solution().answer)\n")
    feedback = check("op-1", source)
    assert feedback.mistake == "uses-reference"
    assert "uses micrograd.exercises, where the reference solutions live" in feedback.summary


def test_in_the_subprocess_a_disguised_import_of_the_reference_is_refused():
    source = ("import importlib\ndef tanh(x):\n    m = importlib.import_module('micrograd.exer' + 'cises')\n"
              "    return m.get('op-1')\n")
    feedback = get("op-1").check(source)
    assert feedback.mistake == "uses-reference", str(feedback)
    assert feedback.details == ["line 3 (in tanh): `m = importlib.import_module('micrograd.exer' + 'cises')`"]


# --- the subprocess: limits -----------------------------------------------------------------

def test_the_subprocess_accepts_a_right_answer_given_as_a_function():
    namespace: Dict[str, Any] = {}
    exec(compile(get("op-2").solution().answer, "<test>", "exec"), {"Value": Value}, namespace)  # noqa: S102
    # A function from a string has no file to read its source from: told so, in words.
    assert get("op-2").check(namespace["mul"]).mistake == "not-code"
    feedback = get("op-2").check(get("op-2").solution().answer)
    assert feedback.passed, str(feedback)


def test_an_endless_loop_times_out():
    feedback = get("op-1").check("def tanh(x):\n    while True:\n        pass\n", timeout=1.5)
    assert feedback.mistake == "timeout"
    assert feedback.summary == "Your code timed out after 1.5 s."


def test_a_memory_hog_runs_out_of_memory_not_the_machine():
    feedback = get("op-1").check("def tanh(x):\n    return bytearray(8 * 1024 ** 3)\n", memory_mb=512)
    assert feedback.mistake == "memory", str(feedback)
    assert feedback.summary == "Your tanh ran out of memory."


def test_a_file_that_does_not_import_is_reported_with_its_line(tmp_path):
    path = tmp_path / "answer.py"
    path.write_text("import math\nfrom micrograd import NoSuchThing\n")
    feedback = get("op-1").check(path)
    assert feedback.mistake == "raised"
    assert "ImportError: cannot import name 'NoSuchThing' from 'micrograd'" in feedback.summary
    assert feedback.details == ["line 2: `from micrograd import NoSuchThing`"]


# --- the command line ----------------------------------------------------------------------

def test_cli_lists_the_exercises(capsys):
    assert main(["exercises"]) == 0
    out = capsys.readouterr().out
    assert re.search(r"^op-1 +write the op +tanh, the lecture's way$", out, re.M)
    assert f"{len(ALL)} exercises." in out
    assert main(["exercises", "bug-2"]) == 0
    assert re.search(r"^ 9 +p\.data \+= lr \* p\.grad$", capsys.readouterr().out, re.M)


def test_cli_checks_a_file_with_exit_status_0_or_1(tmp_path, capsys):
    good, bad = tmp_path / "good.py", tmp_path / "bad.py"
    good.write_text(get("bug-3").solution().answer)
    bad.write_text(get("bug-3").code)
    assert main(["check", "bug-3", str(good)]) == 0
    assert "✓ bug-3: correct." in capsys.readouterr().out
    assert main(["check", "bug-3", str(bad)]) == 1
    assert "Still half the derivative" in capsys.readouterr().out
    assert main(["check", "bug-3", "5"]) == 0 and main(["check", "grad-2", "-1"]) == 0
    assert main(["check", "grad-2", "1"]) == 1


@pytest.mark.parametrize("argv, words", [
    (["check", "op-9", "x.py"], "micrograd check: error: no exercise 'op-9'; `micrograd exercises` lists them"),
    (["check", "op-1", "missing.py"], "micrograd check: error: no file 'missing.py'"),
    (["grade", "grad-1", "."], "grad-1 is answered with a number, not a file"),
    (["grade", "op-1", "no-such-folder"], "'no-such-folder' is not a folder"),
])
def test_cli_bad_arguments_are_one_line_and_exit_status_2(argv, words, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.strip() == err.strip().splitlines()[0] and words in err


def test_cli_grades_a_folder_into_a_csv(tmp_path, capsys):
    folder = tmp_path / "answers"
    folder.mkdir()
    (folder / "ada.py").write_text(get("op-3").solution().answer)
    (folder / "bob.py").write_text(SIGMOID.format("out"))
    (folder / "cy.py").write_text("def sigmoid(x):\n    while True:\n        pass\n")
    (folder / "notes.txt").write_text("not graded")
    out = tmp_path / "op-3.csv"
    assert main(["grade", "op-3", str(folder), "--csv", str(out), "--timeout", "2"]) == 0
    assert "1 of 3 passed; wrote" in capsys.readouterr().out
    with open(out, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert [(r["id"], r["file"], r["result"]) for r in rows] == [
        ("op-3", "ada.py", "pass"), ("op-3", "bob.py", "fail"), ("op-3", "cy.py", "fail")]
    assert "You returned out alone" in rows[1]["feedback"]
    assert "timed out after 2 s" in rows[2]["feedback"]


def test_the_file_convention_is_in_the_help(capsys):
    assert main(["check", "--help"]) == 0
    assert "train(X, y, steps) returning the trained model" in capsys.readouterr().out


# --- a few more promises ---------------------------------------------------------------------

def test_the_drawing_hides_the_gradients_and_highlights_the_node_asked_about():
    source = get("grad-2").draw().source
    assert "grad ?" in source and "grad 0.0000" not in source and "grad 1.0000" not in source
    assert source.count("penwidth=3") == 1 and "{ a | data 3.0000 | grad ? }" in source


def test_a_training_check_repeats_exactly():
    ex = get("train-3")
    first, second = (ex.check(ex.solution().answer, isolate=False) for _ in range(2))
    assert first.passed and first.curve == second.curve and len(first.curve) == 40
    assert first.summary == second.summary


def test_what_an_answer_prints_is_shown_with_the_feedback():
    feedback = check("bug-3", get("bug-3").solution().answer + "\nprint('hello from the answer')\n")
    assert feedback.passed and feedback.details[-1] == "your code printed: hello from the answer"


def test_without_hypothesis_the_op_is_checked_at_the_fixed_points_and_says_so(monkeypatch):
    from micrograd.exercises import write_op

    monkeypatch.setattr(write_op, "hypothesis_strategies", lambda: None)
    feedback = check("op-4", get("op-4").solution().answer)
    assert feedback.passed
    assert feedback.details[0] == ('checked at 3 fixed points and no hypothesis search'
                                   ' (pip install "micrograd-lab[testing]" for one)')


def test_cli_grade_without_csv_writes_the_csv_to_stdout(tmp_path, capsys):
    (tmp_path / "a.py").write_text(get("bug-4").solution().answer)
    assert main(["grade", "bug-4", str(tmp_path)]) == 0
    captured = capsys.readouterr()
    assert captured.out.splitlines()[0] == "id,file,result,feedback"
    assert captured.out.splitlines()[1].startswith("bug-4,a.py,pass,")
    assert "1 of 1 passed" in captured.err


def test_a_derivative_wrong_only_away_from_the_fixed_points_is_found_by_hypothesis():
    feedback = check("op-1", op_source("x.grad += (1 - t ** 2 if x.data < 2.5 else 0.5) * out.grad"))
    assert feedback.mistake == "wrong-derivative"
    assert feedback.summary == "dtanh/dx is wrong at x = 3, the first failing input found."
    assert feedback.details == ["at x = 3 (found by hypothesis): dtanh/dx: expected 0.0098660372 (central"
                                " difference), got 0.5"]


def test_a_name_from_another_cell_is_explained():
    feedback = check("op-1", "def tanh(x):\n    return np.tanh(x)\n")
    assert feedback.summary == "Your tanh raised NameError: name 'np' is not defined."
    assert feedback.details[0] == "line 2 (in tanh): `return np.tanh(x)`"
    assert "only the definitions of the file or notebook cell your function is in" in feedback.details[1]


@pytest.mark.parametrize("value", ["0", "-1", "nan", "soon", "1e9"])
def test_cli_refuses_a_timeout_that_is_not_a_positive_number_of_seconds(value, capsys):
    assert main(["check", "op-1", "x.py", "--timeout", value]) == 2
    assert f"must be a number of seconds > 0 and <= 3600, got {value!r}" in capsys.readouterr().err


def _running(marker: str) -> List[int]:
    """Live (not zombie) processes whose command line holds `marker`."""
    import pathlib

    found = []
    for entry in pathlib.Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and marker in (entry / "cmdline").read_bytes().decode(errors="replace"):
                if (entry / "stat").read_text().split(") ")[1][0] != "Z":
                    found.append(int(entry.name))
        except (OSError, IndexError):
            pass
    return found


@pytest.mark.skipif(not __import__("pathlib").Path("/proc").is_dir(), reason="finding processes needs Linux's /proc")
@pytest.mark.parametrize("endless", [False, True])
def test_a_process_the_answer_leaves_running_neither_holds_up_the_check_nor_survives_it(tmp_path, endless):
    # It leaves the check's process group (a new session) and would hold its output pipe open.
    marker = "37.4159" if endless else "37.2653"
    start = "import subprocess\nsubprocess.Popen(['sleep', '" + marker + "'], start_new_session=True)\n"
    body = "while True: pass" if endless else "x.grad += (1 - t ** 2) * out.grad"
    path = tmp_path / "answer.py"
    path.write_text(start + "import math\nfrom micrograd import Value\n" + op_source(body))
    import subprocess
    import sys

    # the timeout catches a hang (the check would otherwise wait for `sleep` to end)
    done = subprocess.run([sys.executable, "-m", "micrograd", "check", "op-1", str(path), "--timeout", "3"],
                          capture_output=True, text=True, timeout=30)
    if endless:
        assert done.returncode == 1 and "timed out after 3 s" in done.stdout
        assert "the check stopped it and every process it started" in done.stdout
    else:
        assert done.returncode == 0, done.stdout + done.stderr
    assert _running(marker) == []


def test_get_says_what_an_id_is():
    with pytest.raises(TypeError, match="an exercise id is a string such as 'op-1', got int: 3"):
        get(3)
    with pytest.raises(KeyError, match="no exercise 'op-99'; the exercises are grad-1"):
        get("op-99")


def test_cli_grade_refuses_a_csv_it_cannot_write_before_grading(tmp_path, capsys):
    folder = tmp_path / "answers"
    folder.mkdir()
    (folder / "never_graded.py").write_text("while True:\n    pass\n")  # grading it would take the timeout
    assert main(["grade", "op-1", str(folder), "--csv", str(tmp_path / "no" / "out.csv")]) == 2
    err = capsys.readouterr().err
    assert "--csv" in err and "there is no folder" in err and "never_graded" not in err


def test_a_forward_value_a_little_off_is_called_a_wrong_forward_value():
    feedback = check("op-1", op_source("x.grad += (1 - t ** 2) * out.grad", forward="math.tanh(x.data) * 1.001"))
    assert feedback.mistake == "forward" and "The forward value is wrong" in feedback.summary
