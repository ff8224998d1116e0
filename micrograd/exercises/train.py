"""Train: reach a held-out accuracy on a data set within a budget of training steps.

The learner writes `train(X, y, steps)`: it gets the training points and labels and the
step budget, and returns a model (anything callable on one point). The check, where code
answers run (`micrograd.exercises.sandbox`):

- seeds Python's `random` with the exercise's seed, so that a run is repeatable (MLP's
  weights come from it), and makes the data set and its held-out split with fixed seeds;
- counts the training steps as calls of `backward()` (and of `micrograd.grad`), records the
  value each was called on (the loss curve), and stops the run at the first step past the
  budget;
- scores the returned model on the held-out points, which `train` never saw: for two
  classes, the label is 1 when the model's output is > 0, else 0; for k classes, the
  output is a list of k scores and the label is the index of the largest.
"""

from __future__ import annotations

import math
import random
import sys
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

from .. import engine
from ..engine import Value
from ..training import data
from .exercise import CodeExercise
from .feedback import Feedback
from .sandbox import LearnerError, Source, call

__all__ = ["Train", "StepBudgetExceeded"]

Dataset = Tuple[List[List[float]], List[int]]


class StepBudgetExceeded(Exception):
    """Raised inside the learner's `train` at the first backward() past the budget."""


class Train(CodeExercise):
    """Reach `target` held-out accuracy within `steps` backward passes."""

    kind = "train"
    entry = "train"

    def __init__(self, id: str, title: str, statement: str, make: Callable[[random.Random], Dataset], classes: int,
                 steps: int, target: float, hints: Sequence[str], solution: str, why: str, seed: int = 0,
                 timeout: float = 60.0) -> None:
        super().__init__(id, title, statement, hints, solution, why)
        self.make = make
        self.classes = classes
        self.steps = steps
        self.target = target
        self.seed = seed
        self.timeout = timeout

    def split(self) -> Tuple[List[List[float]], List[List[float]], List[int], List[int]]:
        """X_train, X_test, y_train, y_test: the exercise's data set and held-out split."""
        X, y = self.make(random.Random(self.seed))
        return data.train_test_split(X, y, test_size=0.25, random_state=random.Random(self.seed + 1))

    def prepare(self) -> None:
        from tqdm.auto import tqdm  # type: ignore[import-untyped,unused-ignore]  # noqa: F401  # fit's bar, before the limits

    def check_function(self, fn: Any, source: Source) -> Feedback:
        X_train, X_test, y_train, y_test = self.split()
        curve: List[float] = []
        random.seed(self.seed)
        try:
            with _counted(curve, self.steps, getattr(fn, "__globals__", None)):
                model = call(fn, X_train, list(y_train), self.steps, what="your train")
        except LearnerError as e:
            if e.mistake == "over-budget":
                return self._feedback(False, f"Your train took more than {self.steps} steps"
                                      " (calls of backward() or micrograd.grad).",
                                      ["train(X, y, steps) gets the budget as `steps`: stop there"],
                                      mistake="over-budget", curve=curve)
            return self._feedback(False, e.summary[0].upper() + e.summary[1:] + ".", e.details, mistake=e.mistake,
                                  curve=curve)
        if model is None or not callable(model):
            return self._feedback(False, f"Your train returned {type(model).__name__}, not a model.",
                                  ["return the trained model (anything callable on one point)"],
                                  mistake="no-model", curve=curve)
        try:
            accuracy = self._accuracy(model, X_test, y_test)
        except LearnerError as e:
            return self._feedback(False, e.summary[0].upper() + e.summary[1:] + ".", e.details, mistake=e.mistake,
                                  curve=curve)
        used = f"{len(curve)} of {self.steps} steps"
        reached = f"held-out accuracy {accuracy:.1%} on {len(X_test)} points, after {used}"
        if accuracy >= self.target:
            return self._feedback(True, f"{reached}: the target was {self.target:.0%}.",
                                  [f"Python's random was seeded with {self.seed}, so this run repeats exactly"],
                                  curve=curve)
        code, why = _diagnose(curve)
        return self._feedback(False, f"{reached}; the target is {self.target:.0%}.", [why], mistake=code,
                              curve=curve)

    def _accuracy(self, model: Any, X: Sequence[List[float]], y: Sequence[int]) -> float:
        right = 0
        with engine.no_grad():
            for x, label in zip(X, y):
                out = call(model, list(x), what="your model")
                right += self._label(out) == label
        return right / len(X)

    def _label(self, out: Any) -> int:
        if self.classes == 2:
            score = out[0] if isinstance(out, (list, tuple)) and len(out) == 1 else out
            if not isinstance(score, (Value, int, float)):
                raise LearnerError(f"your model returned {type(out).__name__}, not one score",
                                   ["for two classes the model returns one Value: > 0 means class 1"],
                                   "wrong-output")
            return int(_number(score) > 0)
        if not isinstance(out, (list, tuple)) or len(out) != self.classes:
            raise LearnerError(f"your model returned {type(out).__name__}, not {self.classes} scores",
                               [f"for {self.classes} classes the model returns a list of {self.classes} Values"],
                               "wrong-output")
        scores = [_number(s) for s in out]
        return max(range(len(scores)), key=scores.__getitem__)


def _number(x: Any) -> float:
    return float(x.data if isinstance(x, Value) else x)


def _diagnose(curve: Sequence[float]) -> Tuple[str, str]:
    if not curve:
        return "no-steps", "your train called backward() no times: did it train at all?"
    if not all(math.isfinite(v) for v in curve):
        return "diverged", "the loss became inf or NaN: the learning rate is too large"
    first, last, low = curve[0], curve[-1], min(curve)
    if max(curve) - low <= 1e-12 * max(1.0, abs(first)):
        return "flat", ("the loss never changed: are the parameters updated (optimizer.step(), or p.data -="
                        " lr * p.grad) after backward()?")
    if last > first:
        return "rising", ("the loss ended higher than it started: a learning rate too large, an update with the"
                          " wrong sign, or gradients not zeroed between steps")
    if last > low + 0.5 * (first - low):
        return "unstable", "the loss went down, then back up: try a smaller learning rate"
    return "too-slow", ("the loss is still falling at the last step: a larger learning rate, Adam, or a wider model"
                        " gets further within the budget")


class _counted:
    """Count backward passes (the steps), record the curve, stop past the budget."""

    def __init__(self, curve: List[float], budget: int, namespace: Optional[Dict[str, Any]] = None) -> None:
        self.curve, self.budget = curve, budget
        self.namespace: Dict[str, Any] = namespace if namespace is not None else {}
        self.saved: List[Tuple[Any, str, Any]] = []
        self.bound: List[str] = []

    def __enter__(self) -> "_counted":
        curve, budget = self.curve, self.budget
        backward, grad = Value.backward, engine.grad

        def counted_backward(root: Value, *args: Any, **kwargs: Any) -> Any:
            step(root)
            return backward(root, *args, **kwargs)

        def counted_grad(output: Value, *args: Any, **kwargs: Any) -> Any:
            step(output)
            return grad(output, *args, **kwargs)

        def step(root: Any) -> None:
            if len(curve) >= budget:
                raise LearnerError(f"your train went past {budget} steps", [], "over-budget")
            curve.append(float(root.data) if isinstance(root, Value) else math.nan)

        self.saved = [(Value, "backward", backward), (engine, "grad", grad)]
        Value.backward = counted_backward  # type: ignore[method-assign,assignment]
        engine.grad = counted_grad
        front = sys.modules.get("micrograd")  # `from micrograd import grad` after it was first used there
        if front is not None and "grad" in vars(front):
            self.saved.append((front, "grad", vars(front)["grad"]))
            front.grad = counted_grad  # type: ignore[attr-defined]
        # `from micrograd import grad` at the top of the learner's file bound the original: count it too
        self.original_grad = grad
        self.bound = [k for k, v in self.namespace.items() if v is grad]
        for k in self.bound:
            self.namespace[k] = counted_grad
        return self

    def __exit__(self, *exc: Any) -> None:
        for owner, name, original in self.saved:
            setattr(owner, name, original)
        for k in self.bound:
            self.namespace[k] = self.original_grad


# ---------------------------------------------------------------------------------------
# The catalogue's tasks
# ---------------------------------------------------------------------------------------

_READS = ("`train(X, y, steps)` gets the training points (lists of 2 floats), their labels and the step budget,"
          " and returns the trained model.")


def exercises() -> List[Train]:
    """The train exercises of the catalogue."""
    return [
        Train(
            "train-1", "Two moons",
            f"""
            Train a classifier on 100 two-moons points (noise 0.1); 25 of them are held out. Reach 90%
            held-out accuracy within 60 steps. {_READS} Labels are 0 and 1; the model returns one Value,
            and > 0 means class 1.
            """,
            lambda rng: data.make_moons(100, noise=0.1, random_state=rng), 2, 60, 0.90,
            ["An MLP(2, [8, 8, 1]) is plenty.",
             "micrograd.fit with loss='hinge' wants labels -1/+1: [2 * t - 1 for t in y].",
             "Adam (micrograd.training.optim.Adam) with lr 0.05 gets there fast; one full-batch epoch is one step."],
            """
            from micrograd import fit
            from micrograd.nn import MLP
            from micrograd.training.optim import Adam

            def train(X, y, steps):
                model = MLP(2, [8, 8, 1])
                labels = [2 * t - 1 for t in y]
                fit(model, X, labels, loss="hinge", optimizer=Adam(model.parameters(), lr=0.05),
                    epochs=steps, progress=False)
                return model
            """,
            "fit makes one full-batch step per epoch, so epochs=steps uses the whole budget and no more.",
        ),
        Train(
            "train-2", "XOR",
            f"""
            Train on 100 XOR points (the four quadrants, labelled by the XOR of the signs). Reach 80%
            held-out accuracy within 80 steps. {_READS} Labels are 0 and 1; the model returns one Value,
            > 0 means class 1.
            """,
            lambda rng: data.make_xor(100, noise=0.05, random_state=rng), 2, 80, 0.80,
            ["A straight line cannot separate XOR: you need a hidden layer.",
             "Binary cross-entropy on logits: loss='bce' in fit, labels 0/1 as they are.",
             "MLP(2, [8, 1]) with Adam, lr 0.05."],
            """
            from micrograd import fit
            from micrograd.nn import MLP
            from micrograd.training.optim import Adam

            def train(X, y, steps):
                model = MLP(2, [8, 1])
                fit(model, X, y, loss="bce", optimizer=Adam(model.parameters(), lr=0.05), epochs=steps,
                    progress=False)
                return model
            """,
            "Hidden ReLUs bend the boundary; the logit > 0 is exactly p > 0.5.",
        ),
        Train(
            "train-3", "Three blobs",
            f"""
            Train on 90 points in 3 Gaussian blobs. Reach 95% held-out accuracy within 40 steps.
            {_READS} Labels are 0, 1, 2; the model returns a list of 3 Values (scores), and the largest wins.
            """,
            lambda rng: data.make_blobs(90, centers=[[2.0, 0.0], [-1.0, 1.7], [-1.0, -1.7]], cluster_std=0.5,
                                        random_state=rng), 3, 40, 0.95,
            ["The last layer needs 3 outputs: MLP(2, [8, 3]).",
             "loss='cross_entropy' in fit takes labels 0..k-1 and k scores per point.",
             "Adam with lr 0.05."],
            """
            from micrograd import fit
            from micrograd.nn import MLP
            from micrograd.training.optim import Adam

            def train(X, y, steps):
                model = MLP(2, [8, 3])
                fit(model, X, y, loss="cross_entropy", optimizer=Adam(model.parameters(), lr=0.05),
                    epochs=steps, progress=False)
                return model
            """,
            "Softmax with cross-entropy trains one score per class; the blobs are far apart, so a few steps do.",
        ),
    ]
