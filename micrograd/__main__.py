"""`python -m micrograd`: a worked example of backpropagation through one expression."""

from __future__ import annotations

import sys

from .examples import readme_expression


def worked_example() -> None:
    """Build karpathy's README expression, backpropagate, and print values and gradients."""
    a, b, g = readme_expression()
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
