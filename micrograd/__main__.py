"""`python -m micrograd`: a worked example of backpropagation through one expression."""

from __future__ import annotations

import sys

from .engine import Value


def worked_example() -> None:
    """Build karpathy's README expression, backpropagate, and print values and gradients."""
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
    g.backward()
    print("forward pass:  g = ((c - d)**2) / 2 + 10 / (c - d)**2, built from a = -4 and b = 2")
    print(f"  g      = {g.data:.4f}")
    print("backward pass: dg/da and dg/db, by the chain rule through every node")
    print(f"  a.grad = {a.grad:.4f}")
    print(f"  b.grad = {b.grad:.4f}")


def main(argv: "list[str] | None" = None) -> int:
    worked_example()
    return 0


if __name__ == "__main__":
    sys.exit(main())
