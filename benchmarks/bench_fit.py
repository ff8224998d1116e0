"""How much does `fit` cost on top of the demo's hand-written training step?

One full-batch epoch of `fit` on karpathy's demo (MLP(2, [16, 16, 1]), 100 moons, hinge loss
+ 1e-4 L2, SGD with the demo's linear decay, progress bar on) against the demo's own step
written by hand with our engine. Both train a fresh model from the same seed for the same
number of steps and do the same arithmetic (the losses are compared to the last bit), so the
difference is the toolkit's overhead: batching, the loss functions, the optimizer, the
gradient norm for the history, accuracy (which the hand-written step does not compute) and
the progress bar.

    python benchmarks/bench_fit.py [--steps 20] [--repeats 7]

Prints the best-of-repeats time per step of each and their ratio (target: at most 1.10),
and the median ratio of back-to-back pairs (steadier on a shared machine).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import random
import statistics
import time
from typing import Callable, List

from demo_step import X, Y, micrograd_steps  # benchmarks/ is on sys.path when this script runs

from micrograd import fit
from micrograd.nn import MLP
from micrograd.training.optim import SGD, LinearLR


def demo_by_hand(steps: int) -> List[float]:
    """The demo's step as written by hand: the same function bench_step.py times."""
    return micrograd_steps(steps)[1]


def demo_with_fit(steps: int) -> List[float]:
    random.seed(1337)
    model = MLP(2, [16, 16, 1])
    optimizer = SGD(model.parameters(), lr=1.0)
    schedule = LinearLR(optimizer, start_factor=1.0, end_factor=0.1, total_iters=100)
    with contextlib.redirect_stderr(io.StringIO()):  # the bar is drawn, but not to the terminal
        history = fit(model, X, Y, loss="hinge", optimizer=optimizer, scheduler=schedule, epochs=steps, l2=1e-4)
    return history["loss"]


def time_per_step(fn: Callable[[int], List[float]], steps: int) -> float:
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
        by_hand.append(time_per_step(demo_by_hand, args.steps))
        with_fit.append(time_per_step(demo_with_fit, args.steps))
    a, b = min(by_hand), min(with_fit)
    paired = statistics.median(f / h for f, h in zip(with_fit, by_hand))
    print(f"demo step by hand : {a * 1e3:7.2f} ms (best of {args.repeats})")
    print(f"fit epoch         : {b * 1e3:7.2f} ms (best of {args.repeats})")
    print(f"ratio fit / hand  : {b / a:7.3f} best to best, {paired:.3f} median of paired runs  (target <= 1.10)")

if __name__ == "__main__":
    main()
