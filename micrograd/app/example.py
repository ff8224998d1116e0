"""Small worked examples, shared by `python -m micrograd`, the tests and the notebooks."""

from __future__ import annotations

from typing import Tuple

from ..engine import Value


def readme_expression() -> Tuple[Value, Value, Value]:
    """The expression from micrograd 0.1.0's README, built from a = -4 and b = 2.

    Returns (a, b, g). After `g.backward()`: g = 24.70408163265306,
    a.grad = 138.83381924198252, b.grad = 645.5772594752186.
    """
    a = Value(-4.0, label="a")
    b = Value(2.0, label="b")
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
    g.label = "g"
    return a, b, g
