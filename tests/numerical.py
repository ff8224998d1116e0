"""Central differences for the toolkit's tests: d f / d x_i of a function of plain floats."""

from __future__ import annotations

from typing import Callable, List, Sequence


def central_differences(f: Callable[[List[float]], float], xs: Sequence[float], h: float = 1e-6) -> List[float]:
    """(f(x + h e_i) - f(x - h e_i)) / 2h for every i: error O(h^2) for smooth f."""
    grads = []
    for i in range(len(xs)):
        up, down = list(xs), list(xs)
        up[i] += h
        down[i] -= h
        grads.append((f(up) - f(down)) / (2 * h))
    return grads
