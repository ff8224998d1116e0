"""Batched replay against the eager engine and PyTorch, on karpathy's demo step, in one run.

    python benchmarks/bench_batch.py [--steps 20] [--eager-steps 5] [--activation tanh]

The step is karpathy's demo.ipynb: MLP 2-16-16-1 (seed 1337) on the 100 two-moons points,
hinge loss + 1e-4 L2, SGD with the demo's learning-rate decay. Four ways to take it, from
the same weights on the same data:

    eager loop    one graph per example, backward() each, gradients summed then / N
                  (what run_batch must equal)
    eager demo    the demo's own way: one graph for the whole batch, one backward()
    run_batch     one example's graph, read once (BatchedProgram), run for all 100 at once
    torch         PyTorch on the same model, batched, float64, one thread (skipped, with a
                  note, when torch is not installed)

Prints the median seconds per step, the ratios, and the loss after the last step of each
(they must agree: the script fails if they do not). The machine may be shared and noisy:
read the ratios, not the seconds. The goal for run_batch: at most 3x torch's step.
`--activation tanh` swaps the hidden layers' ReLU for tanh, which run_batch computes with
the engine's own float tanh on each number (exact; NumPy's may differ in the last bit).
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import time
from pathlib import Path
from typing import Dict, List, Tuple

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

from micrograd.batched import BatchedProgram  # noqa: E402
from micrograd.engine import Value  # noqa: E402
from micrograd.nn import MLP  # noqa: E402

DATA = json.loads((ROOT / "tests" / "data" / "moons_1337.json").read_text())
X, Y = DATA["X"], DATA["y"]
L2 = 1e-4
ACTIVATION = "relu"  # the hidden layers' (--activation)


def make_model() -> MLP:
    random.seed(1337)
    return MLP(2, [16, 16, 1], activation=ACTIVATION)


def per_example_loss(model: MLP, x1: Value, x2: Value, y: Value) -> Value:
    """The demo's loss for one example: its hinge loss plus the (shared) L2 term."""
    return (1 + -y * model([x1, x2])).relu() + L2 * sum(p * p for p in model.parameters())


def sgd(model: MLP, k: int) -> None:
    learning_rate = 1.0 - 0.9 * k / 100
    for p in model.parameters():
        p.data -= learning_rate * p.grad


Run = Tuple[List[float], List[float]]  # seconds per step, loss at each step


def eager_loop(steps: int) -> Run:
    model = make_model()
    params = model.parameters()
    times, losses = [], []
    for k in range(steps):
        start = time.perf_counter()
        model.zero_grad()
        total = 0.0
        for (a, b), t in zip(X, Y):
            out = per_example_loss(model, Value(a), Value(b), Value(t))
            out.backward()
            total += out.data
        for p in params:
            p.grad /= len(X)
        losses.append(total / len(X))
        sgd(model, k)
        times.append(time.perf_counter() - start)
    return times, losses


def eager_demo(steps: int) -> Run:
    model = make_model()
    times, losses = [], []
    for k in range(steps):
        start = time.perf_counter()
        scores = [model([Value(a), Value(b)]) for a, b in X]
        hinge = [(1 + -yi * si).relu() for yi, si in zip(Y, scores)]
        total = sum(hinge) * (1.0 / len(hinge)) + L2 * sum(p * p for p in model.parameters())
        model.zero_grad()
        total.backward()
        sgd(model, k)
        losses.append(total.data)
        del scores, hinge, total  # free the graph inside the timing
        times.append(time.perf_counter() - start)
    return times, losses


def batched(steps: int) -> Tuple[List[float], List[float], float]:
    model = make_model()
    start = time.perf_counter()
    x1, x2, y = Value(0.0), Value(0.0), Value(0.0)
    program = BatchedProgram(per_example_loss(model, x1, x2, y), [x1, x2, y])
    setup = time.perf_counter() - start
    xy = np.column_stack([np.array(X), np.array(Y)])
    times, losses = [], []
    for k in range(steps):
        start = time.perf_counter()
        model.zero_grad()
        losses.append(float(program.run_batch(xy, reduction="mean").mean()))
        sgd(model, k)
        times.append(time.perf_counter() - start)
    assert program.replays == 0, "the batched run fell back to the one-example-at-a-time replay"
    return times, losses, setup


def pytorch(steps: int) -> Run:
    import torch

    torch.set_num_threads(1)
    ours = make_model()
    layers = []
    for i, layer in enumerate(ours.layers):
        linear = torch.nn.Linear(len(layer.neurons[0].w), len(layer.neurons), dtype=torch.float64)
        with torch.no_grad():
            linear.weight.copy_(torch.tensor([[w.data for w in n.w] for n in layer.neurons], dtype=torch.float64))
            linear.bias.copy_(torch.tensor([n.b.data for n in layer.neurons], dtype=torch.float64))
        hidden = torch.nn.ReLU() if ACTIVATION == "relu" else torch.nn.Tanh()
        layers += [linear] + ([hidden] if i < len(ours.layers) - 1 else [])
    model = torch.nn.Sequential(*layers)
    xs = torch.tensor(X, dtype=torch.float64)
    ys = torch.tensor(Y, dtype=torch.float64)
    params = list(model.parameters())
    times, losses = [], []
    for k in range(steps):
        start = time.perf_counter()
        scores = model(xs).squeeze(1)
        total = torch.relu(1 - ys * scores).mean() + L2 * sum((p * p).sum() for p in params)
        model.zero_grad()
        total.backward()
        with torch.no_grad():
            learning_rate = 1.0 - 0.9 * k / 100
            for p in params:
                p -= learning_rate * p.grad
        losses.append(total.item())
        times.append(time.perf_counter() - start)
    return times, losses


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=20, help="timed steps for run_batch, the demo and torch")
    parser.add_argument("--eager-steps", type=int, default=5, help="timed steps for the eager per-example loop")
    parser.add_argument("--activation", choices=["relu", "tanh"], default="relu", help="the hidden layers'")
    args = parser.parse_args()
    global ACTIVATION
    ACTIVATION = args.activation

    results: Dict[str, Run] = {"eager loop": eager_loop(args.eager_steps), "eager demo": eager_demo(args.steps)}
    b_times, b_losses, setup = batched(args.steps)
    results["run_batch"] = (b_times, b_losses)
    note = ""
    try:
        import torch  # noqa: F401
    except ImportError:
        note = "torch is not installed (pip install torch): no PyTorch row"
    else:
        results["torch"] = pytorch(args.steps)

    medians = {name: statistics.median(times) for name, (times, _) in results.items()}
    print(f"karpathy's demo step (MLP 2-16-16-1, {ACTIVATION}, 100 points, hinge + L2, SGD):"
          f" median of {args.steps} steps ({args.eager_steps} for the eager loop)")
    base = medians.get("torch")
    for name, seconds in medians.items():
        vs_torch = f"  {seconds / base:8.2f}x torch" if base else ""
        losses = results[name][1]
        print(f"  {name:<11} {seconds * 1e3:9.3f} ms{vs_torch}   loss after {len(losses)} steps: {losses[-1]:.15f}")
    print(f"  run_batch: {medians['eager loop'] / medians['run_batch']:.0f}x faster than the eager loop,"
          f" {medians['eager demo'] / medians['run_batch']:.1f}x faster than the eager demo step")
    print(f"  BatchedProgram built (graph read, code generated) in {setup * 1e3:.1f} ms,"
          f" {setup / medians['run_batch']:.0f} batched steps' worth")
    if note:
        print(f"  note: {note}")
    elif base:
        verdict = "met" if medians["run_batch"] <= 3 * base else "MISSED"
        print(f"  goal, run_batch <= 3x torch: {verdict} ({medians['run_batch'] / base:.2f}x)")

    # The numbers must agree: the same loss at every step the eager loop took.
    reference = results["eager loop"][1]
    for name, (_, losses) in results.items():
        for k, (ours, theirs) in enumerate(zip(losses, reference)):
            if abs(ours - theirs) > 1e-9 * max(1.0, abs(theirs)):
                print(f"FAIL: at step {k} the eager loop's loss is {theirs!r}, {name}'s {ours!r}")
                return 1
    print(f"  the loss at each of the first {len(reference)} steps agrees with the eager loop's within 1e-9")
    return 0


if __name__ == "__main__":
    sys.exit(main())
