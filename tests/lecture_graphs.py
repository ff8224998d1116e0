"""The lecture's graph tracer run on a few expressions, as plain data to compare engines.

`trace` is karpathy's own, copied unchanged from micrograd's `trace_graph.ipynb`: it walks
`_prev` and `_op`. `describe(case)` builds one case with whichever micrograd is importable
and lists every traced node as (op, data, grad) and every edge as (child, parent), sorted,
so that graphs from two engines (whose `_prev` orders differ) can be compared.

    python tests/lecture_graphs.py > tests/data/lecture_graphs_010.json

run with micrograd 0.1.0 installed (`pip install micrograd==0.1.0` in a fresh venv) wrote
the reference file that tests/test_lecture_view.py compares our engine against.
"""

import json
import random
import sys


def trace(root):
    nodes, edges = set(), set()
    def build(v):
        if v not in nodes:
            nodes.add(v)
            for child in v._prev:
                edges.add((child, v))
                build(child)
    build(root)
    return nodes, edges


def _finish(root, hook):
    if hook is not None:
        hook(root)  # e.g. read `_prev` before the backward pass
    root.backward()
    return root


def _simple(hook=None):
    from micrograd.engine import Value
    x = Value(1.0)
    y = (x * 2 + 1).relu()
    return _finish(y, hook)


def _neuron(hook=None):
    from micrograd import nn
    from micrograd.engine import Value
    random.seed(1337)
    n = nn.Neuron(2)
    x = [Value(1.0), Value(-2.0)]
    y = n(x)
    return _finish(y, hook)


def _readme(hook=None):
    # micrograd 0.1.0's README expression, as micrograd.app.example builds it; written out
    # here because this script must run on micrograd 0.1.0 too, which has no such module.
    from micrograd.engine import Value
    a = Value(-4.0)
    b = Value(2.0)
    c = a + b
    d = a * b + b**3
    c += c + 1
    c += 1 + c + (-a)
    d += d * 2 + (b + a).relu()
    d += 3 * d + (b - a).relu()
    e = c - d
    f = e**2
    g = f / 2.0
    g += 10.0 / f
    return _finish(g, hook)


def _mlp(hook=None):
    from micrograd.engine import Value
    from micrograd.nn import MLP
    random.seed(1337)
    model = MLP(2, [4, 3, 1])
    loss = (model([Value(0.5), Value(-1.5)]) - 1) ** 2 + 1e-4 * sum(p * p for p in model.parameters())
    return _finish(loss, hook)


def _shared(hook=None):
    from micrograd.engine import Value
    a = Value(3.0)
    b = a * a + a  # a used three times: 0.1.0's _prev is a set, so `a * a` has one child
    return _finish(b, hook)


CASES = {"simple": _simple, "neuron": _neuron, "readme": _readme, "mlp": _mlp, "shared": _shared}


def describe(case, hook=None):
    """Every node (op, data, grad) and edge of the traced graph of `case`, sorted."""
    return describe_graph(CASES[case](hook))


def describe_graph(root):
    """Every node (op, data, grad) and edge of the graph `trace` finds behind `root`, sorted."""
    nodes, edges = trace(root)
    key = {n: (n._op, float(n.data), float(n.grad)) for n in nodes}
    return {"nodes": sorted(key.values()), "edges": sorted([key[a], key[b]] for a, b in edges)}


if __name__ == "__main__":
    json.dump({case: describe(case) for case in CASES}, sys.stdout, indent=0)
    print()
