"""How much does `fit` cost on top of the demo's hand-written training step?

One full-batch epoch of `fit` on karpathy's demo (MLP(2, [16, 16, 1]), 100 moons, hinge loss
+ 1e-4 L2, SGD with the demo's linear decay, progress bar on) against the demo's own step
written by hand with our engine. Both train a fresh model from the same seed for the same
number of steps and do the same arithmetic (the losses are compared to the last bit), so the
difference is the toolkit's overhead: batching, the loss functions, the optimizer, the
gradient norm for the history, accuracy and the progress bar.

    python benchmarks/bench_fit.py [--steps 20] [--repeats 7]

Prints the best-of-repeats time per step of each and their ratio (target: at most 1.10).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import pathlib
import random
import time

from micrograd import fit
from micrograd.engine import Value
from micrograd.nn import MLP
from micrograd.optim import SGD, LinearLR

DATA = json.loads((pathlib.Path(__file__).resolve().parent.parent / "tests" / "data" / "moons_1337.json").read_text())
X, Y = DATA["X"], DATA["y"]


def demo_by_hand(steps: int) -> list:
    random.seed(1337)
    model = MLP(2, [16, 16, 1])
    losses = []
    for k in range(steps):
        inputs = [list(map(Value, xrow)) for xrow in X]
        scores = list(map(model, inputs))
        data_losses = [(1 + -yi * scorei).relu() for yi, scorei in zip(Y, scores)]
        data_loss = sum(data_losses) * (1.0 / len(data_losses))
        reg_loss = 1e-4 * sum((p * p for p in model.parameters()))
        total_loss = data_loss + reg_loss
        accuracy = [(yi > 0) == (scorei.data > 0) for yi, scorei in zip(Y, scores)]
        losses.append((total_loss.data, sum(accuracy) / len(accuracy)))
        model.zero_grad()
        total_loss.backward()
        learning_rate = 1.0 - 0.9 * k / 100
        for p in model.parameters():
            p.data -= learning_rate * p.grad
    return [loss for loss, _ in losses]


def demo_with_fit(steps: int) -> list:
    random.seed(1337)
    model = MLP(2, [16, 16, 1])
    optimizer = SGD(model.parameters(), lr=1.0)
    schedule = LinearLR(optimizer, start_factor=1.0, end_factor=0.1, total_iters=100)
    with contextlib.redirect_stderr(io.StringIO()):  # the bar is drawn, but not to the terminal
        history = fit(model, X, Y, loss="hinge", optimizer=optimizer, scheduler=schedule, epochs=steps, l2=1e-4)
    return history["loss"]


def best_time_per_step(fn, steps: int) -> float:
    start = time.perf_counter()
    fn(steps)
    return (time.perf_counter() - start) / steps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()

    assert demo_by_hand(args.steps) == demo_with_fit(args.steps), "fit must reproduce the demo's numbers"
    by_hand, with_fit = [], []
    for _ in range(args.repeats):  # interleaved, so drift on a shared machine hits both
        by_hand.append(best_time_per_step(demo_by_hand, args.steps))
        with_fit.append(best_time_per_step(demo_with_fit, args.steps))
    a, b = min(by_hand), min(with_fit)
    print(f"demo step by hand : {a * 1e3:7.2f} ms")
    print(f"fit epoch         : {b * 1e3:7.2f} ms")
    print(f"ratio fit / hand  : {b / a:7.3f}  (target <= 1.10)")


if __name__ == "__main__":
    main()
