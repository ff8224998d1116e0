"""Define a new primitive op from its forward formula and its local derivative.

    import math
    from micrograd import primitive

    @primitive
    def cube(x: float) -> float:
        return x ** 3

    @cube.derivative
    def _(x, out):            # x and out are Values: d cube / dx = 3 x²
        return 3 * x ** 2

    y = cube(Value(2.0))      # one node, op 'cube', parent x

The forward formula works on plain numbers. The derivative receives the op's arguments as
they were passed (Values, or numbers for constant arguments) and the output node, and
returns d out / d argument for every argument (a bare expression for a one-argument op).
Written with Value arithmetic, it serves twice: evaluated once per call for the float
local derivatives that `backward()` uses, and re-evaluated on the graph by
`grad(..., create_graph=True)` for second derivatives. The node records its `_op` name,
`_prev` and `_local` like every built-in op, so `draw_dot` and `gradcheck` see it too.

The lecture's way (`out = Value(t, (x,), 'cube'); out._backward = ...`) keeps working; it
just cannot be differentiated twice.
"""

from __future__ import annotations

import functools
import math
from numbers import Real
from typing import Any, Callable, List, Optional, Sequence, Tuple, Union, overload

from .engine import Value, _as_float, _node, is_grad_enabled, no_grad

__all__ = ["primitive", "Primitive"]

Operand = Union[Value, int, float]
Forward = Callable[..., float]
Derivative = Callable[..., Any]

_MATH_ERRORS = (ValueError, ZeroDivisionError, OverflowError)


class Primitive:
    """A differentiable op made from a float `forward` and a Value-arithmetic `derivative`.

    Call it like the function it wraps, with Values and/or numbers; it returns a Value
    whose parents are the Value arguments (numbers are constants, as in `x + 1.0`).
    """

    def __init__(self, forward: Forward, derivative: Optional[Derivative] = None, name: Optional[str] = None) -> None:
        if not callable(forward):
            raise TypeError(f"primitive needs a callable forward function, got {type(forward).__name__}: {forward!r}")
        self.forward = forward
        self.name = name if name is not None else getattr(forward, "__name__", "primitive")
        if not isinstance(self.name, str) or not self.name:
            raise TypeError(f"primitive name must be a non-empty str, got {self.name!r}")
        self._derivative: Optional[Derivative] = None
        if derivative is not None:
            self.derivative(derivative)
        functools.update_wrapper(self, forward)
        if name is not None:  # messages (gradcheck's too) then use the op's own name
            self.__name__ = self.__qualname__ = name

    def derivative(self, fn: Derivative) -> Derivative:
        """Set the local derivative (usable as a decorator); returns `fn` unchanged.

        `fn(*args, out)` gets the op's arguments and its output node and returns
        d out / d arg for each argument, in order (for one argument, the bare expression).
        """
        if not callable(fn):
            raise TypeError(f"{self.name} derivative must be callable, got {type(fn).__name__}: {fn!r}")
        self._derivative = fn
        return fn

    def __call__(self, *args: Operand) -> Value:
        if self._derivative is None:
            raise TypeError(f"primitive {self.name!r} has no derivative: define one with @{self.name}.derivative")
        if not args:
            raise TypeError(f"{self.name} needs at least one argument")
        numbers = [_number(a, self.name, i) for i, a in enumerate(args)]
        try:
            data = self.forward(*numbers)
        except _MATH_ERRORS as e:
            raise type(e)(f"{self.name} failed on {_show(numbers)}: {e}") from e
        except (TypeError, AttributeError) as e:
            raise TypeError(
                f"{self.name} failed on {_show(numbers)}: {e}. Its forward function receives plain floats,"
                " so write it with math: math.exp(x), not x.exp()"
            ) from e
        data = _result(data, f"{self.name}{_show(numbers)}")
        prev = tuple(a for a in args if isinstance(a, Value))
        if not prev or not is_grad_enabled():
            return Value(data)  # only constants went in, or no_grad: a leaf with no history
        positions = tuple(i for i, a in enumerate(args) if isinstance(a, Value))
        rule = _Rule(self, args, positions)
        out = _node(data, prev, (), self.name, rule)
        # The float local derivatives are the rule evaluated without recording a graph.
        with no_grad():
            local = rule(out)
        out._local = tuple(
            _result(d.data if isinstance(d, Value) else d, f"d {self.name} / d argument {i} at {_show(numbers)}")
            for i, d in zip(positions, local)
        )
        return out

    def __repr__(self) -> str:
        return f"primitive({self.name!r})"


class _Rule:
    """d out / d parent for every parent of a primitive's output node, as Values.

    It keeps the constant arguments and where the Value ones go, never the output node
    itself (the engine receives it as `out`), so a graph holds no reference cycle.
    """

    __slots__ = ("op", "constants", "positions")

    def __init__(self, op: Primitive, args: Sequence[Operand], positions: Tuple[int, ...]) -> None:
        self.op = op
        self.constants = tuple(None if isinstance(a, Value) else a for a in args)
        self.positions = positions

    def __call__(self, out: Value) -> Tuple[Operand, ...]:
        args: List[Any] = list(self.constants)
        for i, parent in zip(self.positions, out._prev):
            args[i] = parent
        op = self.op
        try:
            d = op._derivative(*args, out)  # type: ignore[misc]
        except _MATH_ERRORS as e:
            raise type(e)(f"the derivative of {op.name} failed at {_show([_data(a) for a in args])}: {e}") from e
        except TypeError as e:
            raise TypeError(
                f"the derivative of {op.name} failed: {e}. It receives Values (and numbers for constant"
                " arguments), so write it with Value arithmetic: x.cos(), not math.cos(x)"
            ) from e
        ds = tuple(d) if isinstance(d, (tuple, list)) else (d,)
        if len(ds) != len(args):
            raise ValueError(
                f"the derivative of {op.name} must give one value per argument ({len(args)}), got {len(ds)}: {d!r}"
            )
        for i in self.positions:
            if not isinstance(ds[i], (Value, Real)):
                raise TypeError(
                    f"the derivative of {op.name} must give Values or numbers, got"
                    f" {type(ds[i]).__name__} for argument {i}: {ds[i]!r}"
                )
        return tuple(ds[i] for i in self.positions)


@overload
def primitive(
    forward: Forward, *, derivative: Optional[Derivative] = None, name: Optional[str] = None
) -> Primitive: ...
@overload
def primitive(
    *, derivative: Optional[Derivative] = None, name: Optional[str] = None
) -> Callable[[Forward], Primitive]: ...


def primitive(
    forward: Optional[Forward] = None, *, derivative: Optional[Derivative] = None, name: Optional[str] = None
) -> Union[Primitive, Callable[[Forward], Primitive]]:
    """Make a new op from a float `forward` function and its local `derivative`.

    Use it as `@primitive` (then `@op.derivative`), as `@primitive(derivative=d, name=...)`,
    or call it: `softsign = primitive(lambda x: x / (1 + abs(x)), derivative=lambda x, out:
    1 / (1 + abs(x)) ** 2, name="softsign")`. See the module docstring for the contract.
    """
    if forward is None:
        return lambda fn: Primitive(fn, derivative, name)
    return Primitive(forward, derivative, name)


def _number(a: Any, op: str, i: int) -> float:
    if isinstance(a, Value):
        return a.data
    if isinstance(a, Real) and not isinstance(a, bool):
        return _as_float(a, f"{op} argument {i}")
    raise TypeError(f"{op} argument {i} must be a Value or a real number, got {type(a).__name__}: {a!r}")


def _data(a: Any) -> Any:
    return a.data if isinstance(a, Value) else a


def _result(x: Any, what: str) -> float:
    """What the user's forward or derivative gave, as a float, or an error that says so."""
    if isinstance(x, Value) or not isinstance(x, Real) or isinstance(x, bool):
        raise TypeError(f"{what} must be a real number, got {type(x).__name__}: {x!r}")
    f = float(x)
    if not math.isfinite(f):
        raise ValueError(f"{what} is not finite: {f!r}")
    return f


def _show(numbers: Sequence[Any]) -> str:
    return "(" + ", ".join(repr(n) for n in numbers) + ")"
