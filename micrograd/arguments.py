"""Argument checks shared by every layer: one place that turns bad input into a clear error.

Each check returns the argument in the form the caller computes with (a float, an int) or
raises an exception that names the argument (or op) and the offending value, never an
`assert` and never a silent conversion of a wrong type. Standard library only: the engine
uses it too.

    >>> positive_int("nin", 3)
    3
    >>> real("lr", -1.0, low=0.0)
    Traceback (most recent call last):
    ...
    ValueError: lr must be a number >= 0.0, got -1.0
"""

from __future__ import annotations

import math
from numbers import Real
from typing import Any, Optional, Sequence, Tuple, Type, Union

__all__ = ["finite_float", "real", "positive_int", "whole_number", "flag", "one_of", "instance_of"]


def finite_float(x: Any, what: str) -> float:
    """`x` as a finite float: the number every `Value` holds.

    Accepts any real number (int, float, bool, NumPy scalars); refuses anything else with a
    TypeError and NaN or infinity with a ValueError, both naming `what` and `x`.
    """
    try:
        if type(x) is float or type(x) is int:  # the common case, without the checks below (hasattr is slow)
            f = float(x)
        elif hasattr(x, "grad"):  # a Value (this module cannot import the engine to ask isinstance)
            raise TypeError(f"{what} needs a plain real number here, got a Value: {x!r}")
        elif not isinstance(x, Real):
            raise TypeError(f"{what} needs a real number, got {type(x).__name__}: {x!r}")
        else:
            f = float(x)
    except OverflowError:  # an int (or Fraction) beyond 1.8e308
        size = f" (about 10**{int(x.bit_length() * math.log10(2))})" if isinstance(x, int) else ""
        raise ValueError(
            f"{what} needs a finite number, got {type(x).__name__} too large for a float{size}"
        ) from None
    if not math.isfinite(f):
        raise ValueError(f"{what} needs a finite number, got {f!r}")
    return f


def real(name: str, x: Any, *, low: float = -math.inf, high: float = math.inf,
         low_open: bool = False, high_open: bool = True) -> float:
    """`x` as a float in the interval from `low` to `high` (closed at `low`, open at `high`
    unless told otherwise), or a ValueError naming `name`, the allowed range and the value.
    Booleans are refused: `lr=True` is a mistake, not 1.0."""
    ok = isinstance(x, Real) and not isinstance(x, bool)
    if ok:
        try:
            f = float(x)
        except OverflowError:  # an int beyond any float (10**400): out of every range
            ok = False
        else:
            ok = (f > low if low_open else f >= low) and (f < high if high_open else f <= high)
    if not ok:
        raise ValueError(f"{name} must be a number {_interval(low, high, low_open, high_open)}, got {x!r}")
    return f


def whole_number(name: str, n: Any, *, low: int = 0, high: Optional[int] = None) -> int:
    """`n` as an int with low <= n (<= high), or a ValueError naming `name` and the value.
    Booleans and floats (even 3.0) are refused."""
    if isinstance(n, bool) or not isinstance(n, int) or n < low or (high is not None and n > high):
        bound = f">= {low}" if high is None else f"from {low} to {high}"
        raise ValueError(f"{name} must be an int {bound}, got {n!r}")
    return n


def positive_int(name: str, n: Any) -> int:
    """`n` as an int >= 1 (a layer size, a count), or a ValueError naming `name` and the value."""
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"{name} must be a positive int, got {type(n).__name__}: {n!r}")
    return n


def _interval(low: float, high: float, low_open: bool, high_open: bool) -> str:
    if low == -math.inf and high == math.inf:
        return "that is finite"
    if high == math.inf:
        return f"{'>' if low_open else '>='} {low}"
    if low == -math.inf:
        return f"{'<' if high_open else '<='} {high}"
    return f"in {'(' if low_open else '['}{low}, {high}{')' if high_open else ']'}"


def flag(name: str, x: Any) -> bool:
    """`x` if it is a bool, else a ValueError naming `name` and the value: `affine="yes"` and
    `nesterov=1` are mistakes, not True."""
    if not isinstance(x, bool):
        raise ValueError(f"{name} must be a bool, got {type(x).__name__}: {x!r}")
    return x


def one_of(name: str, x: Any, allowed: Sequence[Any]) -> Any:
    """`x` if it is one of `allowed` (compared with ==, and of the same type, so `True` is not
    1), else a ValueError naming `name`, the choices and the value."""
    if not any(type(x) is type(a) and x == a for a in allowed):
        raise ValueError(f"{name} must be one of {', '.join(map(repr, allowed))}; got {x!r}")
    return x


def instance_of(name: str, x: Any, cls: Union[Type[Any], Tuple[Type[Any], ...]], what: str) -> Any:
    """`x` if it is an instance of `cls`, else a TypeError naming `name`, what was expected
    (`what`, in words: "a Module (an MLP, Layer, Neuron or Sequential)") and what was given."""
    if not isinstance(x, cls):
        raise TypeError(f"{name} must be {what}, got {type(x).__name__}: {_short(x)}")
    return x


def _short(x: Any, limit: int = 80) -> str:
    text = repr(x)
    return text if len(text) <= limit else text[: limit - 3] + "..."
