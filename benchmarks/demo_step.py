"""One engine's side of the demo-step benchmark; run by bench_step.py in each interpreter.

    python demo_step.py micrograd STEPS   # whichever micrograd this interpreter imports
    python demo_step.py compiled STEPS    # ours, the step traced once by micrograd.compile and replayed
    python demo_step.py floats STEPS      # hand-written plain-float forward/backward
    python demo_step.py batched STEPS     # ours, one example's graph run for the batch by run_batch (NumPy)
    python demo_step.py torch STEPS       # PyTorch, the whole batch at once (float64, one thread)

The step is karpathy's demo.ipynb: MLP 2-16-16-1 (seed 1337) on 100 two-moons points,
hinge loss + 1e-4 L2, SGD with the demo's linear learning-rate decay. Prints one JSON
object: per-step seconds, per-step loss, and (for micrograd) memory and depth probes.
Only the standard library and the engine are imported (NumPy and torch only by their modes),
so it runs on micrograd 0.1.0.
"""

import json
import pathlib
import random
import sys
import time
import tracemalloc

DATA = json.loads((pathlib.Path(__file__).resolve().parent.parent / "tests" / "data" / "moons_1337.json").read_text())
X, Y = DATA["X"], DATA["y"]
SIZES = [2, 16, 16, 1]


def learning_rate(k):
    """The demo's learning rate at step k: 1.0 decaying linearly to 0.1 over 100 steps."""
    return 1.0 - 0.9 * k / 100


def sgd(model, k):
    """The demo's update, on any micrograd's parameters (0.1.0's included)."""
    rate = learning_rate(k)
    for p in model.parameters():
        p.data -= rate * p.grad


def micrograd_steps(steps):
    from micrograd.engine import Value
    from micrograd.nn import MLP

    random.seed(1337)
    model = MLP(2, [16, 16, 1])
    times, losses = [], []
    for k in range(steps):
        start = time.perf_counter()
        inputs = [list(map(Value, xrow)) for xrow in X]
        scores = list(map(model, inputs))
        step_losses = [(1 + -yi * scorei).relu() for yi, scorei in zip(Y, scores)]
        data_loss = sum(step_losses) * (1.0 / len(step_losses))
        reg_loss = 1e-4 * sum((p * p for p in model.parameters()))
        total_loss = data_loss + reg_loss
        model.zero_grad()
        total_loss.backward()
        sgd(model, k)
        loss = total_loss.data
        del inputs, scores, step_losses, data_loss, reg_loss, total_loss  # free the graph inside the timing
        times.append(time.perf_counter() - start)
        losses.append(loss)
    return times, losses


def compiled_steps(steps):
    """The same step replayed by `micrograd.compile`: the graph is built and traced once (timed
    apart, as `trace`), then every step is zero_grad, `program.run()` and the same SGD update."""
    from micrograd import compile
    from micrograd.engine import Value
    from micrograd.nn import MLP

    random.seed(1337)
    model = MLP(2, [16, 16, 1])
    start, cpu = time.perf_counter(), time.process_time()
    inputs = [list(map(Value, xrow)) for xrow in X]  # leaves now: the graph is built once, outside the steps
    scores = list(map(model, inputs))
    step_losses = [(1 + -yi * scorei).relu() for yi, scorei in zip(Y, scores)]
    total_loss = sum(step_losses) * (1.0 / len(step_losses)) + 1e-4 * sum((p * p for p in model.parameters()))
    program = compile(total_loss)
    trace = {"seconds": time.perf_counter() - start, "cpu_seconds": time.process_time() - cpu,
             "nodes": len(program.nodes), "edges": program.edges}
    others = [leaf for leaf in program.leaves if leaf not in set(model.parameters())]
    times, losses = [], []
    for k in range(steps):
        start = time.perf_counter()
        model.zero_grad()
        for leaf in others:  # the inputs' gradients: the eager step makes new inputs, with 0, each step
            leaf.grad = 0.0
        loss = program.run()
        sgd(model, k)
        times.append(time.perf_counter() - start)
        losses.append(loss)
    return times, losses, trace


def initial_layers():
    """The demo's starting weights, drawn from seed 1337 in micrograd's order: per layer, per
    neuron, [weights, bias] (bias 0, as micrograd's Neuron starts it)."""
    random.seed(1337)
    return [[[[random.uniform(-1, 1) for _ in range(nin)], 0.0] for _ in range(nout)]
            for nin, nout in zip(SIZES, SIZES[1:])]


def batched_steps(steps):
    """Ours with `micrograd.BatchedProgram`: one example's loss (its hinge term plus the shared
    L2 term) run for all 100 points at once with NumPy; the plan is built once (`trace`)."""
    import numpy as np

    from micrograd import BatchedProgram
    from micrograd.engine import Value
    from micrograd.nn import MLP

    random.seed(1337)
    model = MLP(2, [16, 16, 1])
    start = time.perf_counter()
    x1, x2, y = Value(0.0), Value(0.0), Value(0.0)
    loss = (1 + -y * model([x1, x2])).relu() + 1e-4 * sum(p * p for p in model.parameters())
    program = BatchedProgram(loss, [x1, x2, y])
    trace = {"seconds": time.perf_counter() - start}
    xy = np.column_stack([np.array(X), np.array(Y)])
    times, losses = [], []
    for k in range(steps):
        start = time.perf_counter()
        model.zero_grad()
        loss = float(program.run_batch(xy, reduction="mean").mean())
        sgd(model, k)
        times.append(time.perf_counter() - start)
        losses.append(loss)
    return times, losses, trace


def torch_steps(steps):
    """PyTorch's batched CPU step on the same model (the same starting weights) and data:
    float64, one thread. None when torch is not installed (bench_step.py then says so)."""
    try:
        import torch
    except ImportError:
        return None
    torch.set_num_threads(1)
    params = []
    for layer in initial_layers():
        params.append(torch.tensor([w for w, _ in layer], dtype=torch.float64, requires_grad=True))
        params.append(torch.tensor([b for _, b in layer], dtype=torch.float64, requires_grad=True))
    xs = torch.tensor(X, dtype=torch.float64)
    ys = torch.tensor(Y, dtype=torch.float64)
    times, losses = [], []
    for k in range(steps):
        start = time.perf_counter()
        h = xs
        for i in range(0, len(params), 2):
            h = h @ params[i].T + params[i + 1]
            if i + 2 < len(params):
                h = torch.relu(h)
        total = torch.relu(1 - ys * h.squeeze(1)).mean() + 1e-4 * sum((p * p).sum() for p in params)
        for p in params:
            p.grad = None
        total.backward()
        with torch.no_grad():
            for p in params:
                p -= learning_rate(k) * p.grad
        times.append(time.perf_counter() - start)
        losses.append(total.item())
    return times, losses


def float_steps(steps):
    """The same step with plain floats and a hand-derived backward pass: the pure-Python limit."""
    layers = initial_layers()  # layers[l] = list of neurons, each [weights list, bias]
    times, losses = [], []
    n = len(X)
    for k in range(steps):
        start = time.perf_counter()
        grads = [[[[0.0] * len(w), 0.0] for w, _ in layer] for layer in layers]
        data_loss = 0
        for x, y in zip(X, Y):
            acts = [x]
            for li, layer in enumerate(layers):
                last = li == len(layers) - 1
                out = []
                for w, b in layer:
                    z = b
                    for wi, xi in zip(w, acts[-1]):
                        z += wi * xi
                    out.append(z if last else (0 if z < 0 else z))
                acts.append(out)
            margin = -y * acts[-1][0] + 1
            data_loss += 0 if margin < 0 else margin
            if margin <= 0:
                continue
            # backward through this sample: d(loss)/d(score) = -y / n
            delta = [-y * (1.0 / n)]
            for li in range(len(layers) - 1, -1, -1):
                inputs = acts[li]
                back = [0.0] * len(inputs)
                for (w, _), gw, d in zip(layers[li], grads[li], delta):
                    if d == 0.0:
                        continue
                    gwi = gw[0]
                    for i, xi in enumerate(inputs):
                        gwi[i] += xi * d
                        back[i] += w[i] * d
                    gw[1] += d
                if li:
                    delta = [g if a > 0 else 0.0 for g, a in zip(back, acts[li])]
        reg = 0
        for layer in layers:
            for w, b in layer:
                for wi in w:
                    reg += wi * wi
                reg += b * b
        total = data_loss * (1.0 / n) + 1e-4 * reg
        rate = learning_rate(k)
        for layer, glayer in zip(layers, grads):
            for neuron, (gw, gb) in zip(layer, glayer):
                w = neuron[0]
                for i in range(len(w)):
                    w[i] -= rate * (gw[i] + 2e-4 * w[i])
                neuron[1] -= rate * (gb + 2e-4 * neuron[1])
        times.append(time.perf_counter() - start)
        losses.append(total)
    return times, losses


def bytes_per_add_constant(ops=100_000):
    """tracemalloc bytes per `a + 1.0`, with every result kept alive in a chain."""
    from micrograd.engine import Value

    x = Value(1.0)
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    for _ in range(ops):
        x = x + 1.0
    used = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()
    return used / ops


def deepest_chain(depth=1_000_000):
    """Seconds for backward() through a chain of `depth` nodes, or the error it raised."""
    from micrograd.engine import Value

    x = Value(1.0)
    y = x
    for _ in range(depth):
        y = y + 1.0
    start = time.perf_counter()
    try:
        y.backward()
    except RecursionError as error:
        return {"depth": depth, "error": f"RecursionError: {error}"}
    return {"depth": depth, "seconds": time.perf_counter() - start, "x.grad": x.grad}


def main():
    engine, steps = sys.argv[1], int(sys.argv[2])
    if engine == "floats":
        times, losses = float_steps(steps)
        print(json.dumps({"times": times, "losses": losses}))
        return
    if engine == "compiled":
        times, losses, trace = compiled_steps(steps)
        print(json.dumps({"times": times, "losses": losses, "trace": trace}))
        return
    if engine == "batched":
        times, losses, trace = batched_steps(steps)
        print(json.dumps({"times": times, "losses": losses, "trace": trace}))
        return
    if engine == "torch":
        result = torch_steps(steps)
        print(json.dumps(None if result is None else {"times": result[0], "losses": result[1]}))
        return
    times, losses = micrograd_steps(steps)
    result = {"times": times, "losses": losses, "bytes_per_add": bytes_per_add_constant()}
    result["chain"] = deepest_chain(1_000_000 if "--deep" in sys.argv else 10_000)
    print(json.dumps(result))


if __name__ == "__main__":
    sys.setrecursionlimit(1000)  # the interpreter's default, whatever the caller set
    main()
