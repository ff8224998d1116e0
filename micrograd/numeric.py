"""Numerical derivatives: the central difference, (f(x + h) - f(x - h)) / 2h.

The independent check on every gradient the chain rule computes: `gradcheck` compares the
two, and `explain` shows both for a node. Standard library only, like the engine.
"""

from __future__ import annotations

from numbers import Real
from typing import Any, Callable, Union

from .arguments import finite_float
from .engine import Value

__all__ = ["EPS", "central_difference", "checked_eps", "output_number"]

# PyTorch's default step for float64, accurate to about eps**2 |f'''| + 1e-16 |f| / eps.
EPS = 1e-6

Number = Union[int, float]


def central_difference(f: Callable[..., Any], *xs: Number, arg: int = 0, eps: float = EPS) -> float:
    """Estimate d f(*xs) / d xs[arg] as (f(.., x + eps, ..) - f(.., x - eps, ..)) / 2eps.

    `f` takes plain numbers and returns a number or a `Value` (its `.data` is used), so
    it can be a float formula or one built from Values (`lambda x: Value(x).tanh()`):

        >>> round(central_difference(lambda x, y: x * x * y, 3.0, 2.0, arg=0), 6)
        12.0

    The difference is divided by the step actually taken, (x + eps) - (x - eps) as
    rounded, not by 2eps, which removes one rounding error from the estimate.
    """
    eps = checked_eps(eps)
    if not xs:
        raise TypeError("central_difference needs at least one point to differentiate at, got none")
    if isinstance(arg, bool) or not isinstance(arg, int) or not -len(xs) <= arg < len(xs):
        raise ValueError(f"central_difference arg must be an index into the {len(xs)} inputs, got {arg!r}")
    point = [finite_float(x, f"central_difference input {i}") for i, x in enumerate(xs)]

    def at(x: float) -> float:
        moved = list(point)
        moved[arg] = x
        return output_number(f(*moved), f)

    up, down = point[arg] + eps, point[arg] - eps
    if up == down:
        raise ValueError(f"central_difference eps = {eps!r} is below the spacing of floats near {point[arg]!r}")
    return (at(up) - at(down)) / (up - down)

def output_number(out: Any, f: Callable[..., Any]) -> float:
    """f's result as a float: a Value's data or a plain number (else a TypeError naming f)."""
    if isinstance(out, Value):
        return out.data
    if isinstance(out, Real) and not isinstance(out, bool):
        return float(out)
    name = getattr(f, "__qualname__", f)
    raise TypeError(f"{name!r} must return a Value or a number, got {type(out).__name__}: {out!r}")


def checked_eps(eps: Any) -> float:
    """A finite-difference step, checked: a positive finite number."""
    e = finite_float(eps, "eps")
    if e <= 0.0:
        raise ValueError(f"eps must be positive, got {e!r}")
    return e
