"""The demo training step, side by side in one run: micrograd 0.1.0, ours eager, ours compiled,
plain floats, ours batched (run_batch, when NumPy is installed) and PyTorch batched (when torch is).

    python benchmarks/bench_step.py [--steps 30] [--steps-010 5] [--deep]

micrograd 0.1.0 is installed from PyPI into a temporary virtual environment (so both
engines, both named `micrograd`, never share an interpreter). Each side runs
benchmarks/demo_step.py in its own process; this script prints medians, ratios and the
losses, and fails if the engines disagree on the loss (the compiled step must give the
eager losses bit for bit). The compiled step's one-time trace is reported apart, with the
number of steps it takes to pay for itself. The machine is shared and noisy: read the
ratios, not the seconds.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import venv
from pathlib import Path
from typing import Optional

ROOT = Path(__file__).resolve().parent.parent
WORKER = ROOT / "benchmarks" / "demo_step.py"


def run_worker(python: str, engine: str, steps: int, extra_env: dict, deep: bool) -> Optional[dict]:
    args = [python, str(WORKER), engine, str(steps)] + (["--deep"] if deep else [])
    env = {**os.environ, **extra_env}
    out = subprocess.run(args, capture_output=True, text=True, env=env, check=True).stdout
    return json.loads(out)


def install_micrograd_010(where: Path) -> str:
    venv.create(where, with_pip=True)
    python = str(where / "bin" / "python")
    subprocess.run([python, "-m", "pip", "install", "--quiet", "--no-deps", "micrograd==0.1.0"], check=True)
    return python


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=30, help="timed steps for ours and for plain floats")
    parser.add_argument("--steps-010", type=int, default=5, help="timed steps for micrograd 0.1.0 (about 2 s each)")
    parser.add_argument("--deep", action="store_true", help="backward through a 1,000,000-node chain on each engine")
    parser.add_argument("--before", metavar="REV",
                        help="also time this git revision of ours (before and after, in one run)")
    args = parser.parse_args()

    ours_env = {"PYTHONPATH": str(ROOT)}
    with tempfile.TemporaryDirectory() as tmp:
        python_010 = install_micrograd_010(Path(tmp) / "venv")
        old = run_worker(python_010, "micrograd", args.steps_010, {"PYTHONPATH": ""}, args.deep)
    ours = run_worker(sys.executable, "micrograd", args.steps, ours_env, args.deep)
    compiled = run_worker(sys.executable, "compiled", args.steps, ours_env, False)
    floats = run_worker(sys.executable, "floats", args.steps, {}, False)
    try:
        import numpy  # noqa: F401
        batched = run_worker(sys.executable, "batched", args.steps, ours_env, False)
    except ImportError:
        batched = None
    torch = run_worker(sys.executable, "torch", args.steps, ours_env, False)  # None: no torch
    assert old is not None and ours is not None and compiled is not None and floats is not None
    before = None
    if args.before:
        with tempfile.TemporaryDirectory() as tmp:
            subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", "-q", tmp, args.before], check=True)
            try:
                before = run_worker(sys.executable, "micrograd", args.steps, {"PYTHONPATH": tmp}, False)
            finally:
                subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", tmp], check=True)

    # Compare the steps all three ran; the first is the same model from the same seed.
    shared = min(len(old["losses"]), len(ours["losses"]), len(floats["losses"]))
    for k in range(shared):
        a, b, c = old["losses"][k], ours["losses"][k], floats["losses"][k]
        if abs(a - b) > 1e-12 * abs(a) or abs(a - c) > 1e-12 * abs(a):
            print(f"loss mismatch at step {k}: 0.1.0 {a!r}, ours {b!r}, floats {c!r}")
            return 1
    if compiled["losses"] != ours["losses"]:
        k = next(k for k, (a, b) in enumerate(zip(compiled["losses"], ours["losses"])) if a != b)
        print(f"compiled step differs from eager at step {k}: {compiled['losses'][k]!r} vs {ours['losses'][k]!r}")
        return 1
    for name, other in [("PyTorch", torch), ("run_batch", batched)]:
        for k, (a, b) in enumerate(zip(other["losses"] if other else [], ours["losses"])):
            if abs(a - b) > 1e-9 * abs(b):
                print(f"{name}'s loss differs at step {k}: {a!r} vs ours {b!r}")
                return 1

    runs = [("0.1.0", old), ("ours", ours), ("compiled", compiled), ("floats", floats)]
    runs += [(name, r) for name, r in [("batched", batched), ("torch", torch), ("before", before)] if r]
    median = {name: statistics.median(r["times"]) for name, r in runs}
    print(f"demo step: MLP 2-16-16-1, 100 moons points, hinge + L2, SGD (median of {args.steps} steps; "
          f"{args.steps_010} for 0.1.0)\n")
    print("| engine | median step | vs micrograd 0.1.0 | vs plain floats |")
    print("|---|---|---|---|")
    rows = [("0.1.0", "micrograd 0.1.0 (PyPI)")] + ([("before", f"micrograd at {args.before}")] if before else [])
    rows += [("ours", "micrograd (this repo), eager"), ("compiled", "micrograd, compiled step (replay)"),
             ("floats", "hand-written plain floats")]
    rows += [("batched", "micrograd, run_batch (NumPy)")] if batched else []
    rows += [("torch", "PyTorch, batched (CPU, float64, 1 thread)")] if torch else []
    for name, label in rows:
        speedup = "baseline" if name == "0.1.0" else f"{median['0.1.0'] / median[name]:.1f}x faster"
        cost = "baseline" if name == "floats" else f"{median[name] / median['floats']:.2f}x the time"
        print(f"| {label} | {median[name] * 1e3:.1f} ms | {speedup} | {cost} |")
    print(f"\nloss, first {shared} steps: identical to 1e-12 on 0.1.0, eager and floats "
          f"(step 0: {ours['losses'][0]!r}); compiled = eager bit for bit on all {len(ours['losses'])} steps")
    trace = compiled["trace"]
    saved = median["ours"] - median["compiled"]
    pays = f"pays for itself after {trace['seconds'] / saved:.0f} steps" if saved > 0 else "never pays for itself"
    print(f"compiled step's one-time trace ({trace['nodes']:,} nodes, {trace['edges']:,} edges): "
          f"{trace['seconds']:.2f} s ({trace['cpu_seconds']:.2f} s of CPU); {pays}")
    if batched is not None:
        vs = f", {median['batched'] / median['torch']:.2f}x PyTorch's step" if torch else ""
        print(f"run_batch: plan built once in {batched['trace']['seconds']:.3f} s; loss within 1e-9 of eager{vs}")
    else:
        print("run_batch: not measured (NumPy missing: pip install -e '.[fast]')")
    if torch is None:
        print("PyTorch batched: not measured (torch missing: pip install torch==2.13.0)")
    print(f"memory per `a + 1.0` (tracemalloc, 100,000 ops): ours {ours['bytes_per_add']:.0f} B, "
          f"0.1.0 {old['bytes_per_add']:.0f} B")
    for name, r in [("ours", ours), ("0.1.0", old)]:
        chain = r["chain"]
        result = chain.get("error") or f"{chain['seconds']:.2f} s, x.grad = {chain['x.grad']}"
        print(f"backward through a {chain['depth']:,}-node chain, {name}: {result[:80]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
