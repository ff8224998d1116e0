"""Check gradients against finite differences: `gradcheck`, `gradgradcheck`, `central_difference`.

`backward()` and `grad()` compute derivatives by the chain rule; a central difference
estimates them from the function's values alone, (f(x + h) - f(x - h)) / 2h. The two are
independent, so when they agree the derivative is right, and when they disagree the
message says which input, by how much, and whether the function simply has no derivative
there: when the slopes from the left and the right differ by more than the tolerance,
and still do with eps ten times smaller, that is a kink (relu at 0), reported as
`NotDifferentiableError` rather than as a wrong gradient.

Defaults suit float64 (every `Value` holds one) and are PyTorch's: eps = 1e-6, whose
central difference is accurate to about eps**2 * |f'''| + 1e-16 * |f| / eps (1e-10 for
moderate f); atol = 1e-5 and rtol = 1e-3, a mismatch is reported when
|analytic - numerical| > atol + rtol * |numerical|. A sign flip or a missing factor
misses by far more.
"""

from __future__ import annotations

from numbers import Real
from typing import Any, Callable, List, Optional, Sequence, Tuple, Union

from ..arguments import finite_float
from ..engine import Value, grad, topological_order
from ..numeric import EPS, central_difference, checked_eps, output_number

__all__ = ["gradcheck", "gradgradcheck", "central_difference", "GradcheckError", "NotDifferentiableError"]

ATOL = 1e-5
RTOL = 1e-3

_ULP = 2.0 ** -52  # float64 machine epsilon: the relative rounding error of one evaluation of f

Number = Union[int, float]


class GradcheckError(AssertionError):
    """The gradients from `backward()` (or `grad()`) disagree with central differences.

    An AssertionError, so test runners show it as a failed check, not as a crash.
    """


class NotDifferentiableError(GradcheckError):
    """The function has no derivative at (or within eps of) the point checked: the slopes
    from the left and from the right differ, so no single number is "the" gradient."""


# ---------------------------------------------------------------------------------------
# Finite differences (public: they are what the gradients are checked against)
# ---------------------------------------------------------------------------------------

# ---------------------------------------------------------------------------------------
# gradcheck and gradgradcheck
# ---------------------------------------------------------------------------------------

Inputs = Union[Value, Number, Sequence[Union[Value, Number]]]


def gradcheck(f: Callable[..., Any], inputs: Inputs, *, eps: float = EPS, atol: float = ATOL, rtol: float = RTOL,
              raise_exception: bool = True) -> bool:
    """Check the gradients `backward()` gives for `f(*inputs)` against central differences.

    `inputs` is a sequence of Values and/or numbers (or a single one). Numbers become new
    leaf Values; Values are used as they are and must be leaves, so `f` may also read
    them from a closure (a model's parameters, say). `f` is called with one Value per
    input and returns a Value (a plain number counts as a constant). It is evaluated at
    the inputs and, for each input in turn, at that input moved by +-eps.

    Returns True when every input passes. Otherwise raises `GradcheckError` naming each
    failing input with its analytic and numerical derivative and the error, or
    `NotDifferentiableError` when the only failures are points where `f` has no
    derivative (slopes from the left and right disagree); with `raise_exception=False`
    it returns False instead. Afterwards every Value that `f` touched has its `.data` and
    `.grad` back as they were.
    """
    leaves = _as_leaves(inputs, "gradcheck")
    eps, atol, rtol = _check_tolerances(eps, atol, rtol)
    failures = _check(f, leaves, lambda i: f"df/d{_name(leaves[i], i)}", eps, atol, rtol)
    return _verdict(failures, f, leaves, "gradcheck", raise_exception)


def gradgradcheck(f: Callable[..., Any], inputs: Inputs, *, eps: float = EPS, atol: float = ATOL, rtol: float = RTOL,
                  raise_exception: bool = True) -> bool:
    """Check second derivatives: every d²f / (dx_i dx_j) that `grad(create_graph=True)`
    gives against central differences of the first derivatives `grad()` gives.

    For each input i, the first derivative d f/dx_i is built as a graph with
    `grad(f(*xs), xs, create_graph=True)[i]`; its `backward()` gives the analytic second
    derivatives, and the central differences are taken of the plain first derivative
    `grad(f(*xs), xs)[i]` (the float local derivatives `backward()` uses), so a derivative
    rule that disagrees with them is caught, its value included. Arguments, defaults and
    the result are those of `gradcheck`. Every op in `f` needs a derivative rule (built-in
    ops and `micrograd.primitive` ops have one; a hand-written `_backward` does not).
    """
    leaves = _as_leaves(inputs, "gradgradcheck")
    eps, atol, rtol = _check_tolerances(eps, atol, rtol)
    failures: List[Tuple[str, bool]] = []
    for i in range(len(leaves)):
        def graph(*xs: Value, i: int = i) -> Value:
            return grad(_as_value(f(*xs), f), xs, create_graph=True)[i]

        def plain(*xs: Value, i: int = i) -> float:
            return grad(_as_value(f(*xs), f), xs)[i].data

        def what(j: int, i: int = i) -> str:
            return f"d²f/d{_name(leaves[i], i)} d{_name(leaves[j], j)}"

        graph.__qualname__ = plain.__qualname__ = f"df/d{_name(leaves[i], i)}"
        failures += _check(graph, leaves, what, eps, atol, rtol, plain)
    return _verdict(failures, f, leaves, "gradgradcheck", raise_exception)


def _check(
    f: Callable[..., Any],
    leaves: Sequence[Value],
    what: Callable[[int], str],
    eps: float,
    atol: float,
    rtol: float,
    numeric: Optional[Callable[..., Any]] = None,
) -> List[Tuple[str, bool]]:
    """Compare backward() of `f` with finite differences of `numeric` (default: `f`
    itself) for each leaf.

    Returns (message, is_kink) pairs for the failures: first, if `numeric` is given and
    its value differs from `f`'s, that; then one per failing leaf, in input order.
    """
    start = [x.data for x in leaves]
    analytic, value = _analytic(f, leaves)
    failures = []
    g = f if numeric is None else numeric
    base = value if numeric is None else output_number(g(*leaves), g)
    if abs(value - base) > atol + rtol * abs(base):
        name = getattr(f, "__qualname__", "f")
        failures.append((f"{name} from grad(create_graph=True) is {value!r}, but grad() gives {base!r}", False))
    for i, x in enumerate(leaves):
        def at(moved: float, x: Value = x, x0: float = start[i]) -> float:
            x.data = moved
            try:
                return output_number(g(*leaves), g)
            finally:
                x.data = x0

        where = f"{what(i)} at {_name(x, i)} = {start[i]!r}"
        try:
            failure = _compare(at, start[i], base, analytic[i], where, eps, atol, rtol)
        except (ValueError, ZeroDivisionError, OverflowError) as e:
            # f is not defined (or not finite) a step away: the point is too close to the
            # edge of its domain (log near 0) for a central difference of this eps.
            failure = (
                f"{where}: f cannot be evaluated within eps = {eps!r} of this point ({type(e).__name__}: {e});"
                " move the point further from the edge of f's domain",
                False,
            )
        if failure is not None:
            failures.append(failure)
    return failures


def _analytic(f: Callable[..., Any], leaves: Sequence[Value]) -> Tuple[List[float], float]:
    """d f / d leaf for every leaf by `backward()`, and f's value; every `.grad` in f's
    graph is put back as it was."""
    out = f(*leaves)
    if not isinstance(out, Value):
        return [0.0] * len(leaves), output_number(out, f)  # a constant: no input affects it
    nodes = topological_order(out)
    saved = [(node, node.grad) for node in dict.fromkeys([*nodes, *leaves])]
    try:
        for x in leaves:
            x.grad = 0.0
        out.backward()
        return [x.grad for x in leaves], out.data
    finally:
        for node, g in saved:
            node.grad = g


def _compare(
    at: Callable[[float], float],
    x: float,
    fx: float,
    analytic: float,
    what: str,
    eps: float,
    atol: float,
    rtol: float,
) -> Optional[Tuple[str, bool]]:
    """A failure message (and whether it is a kink) for one input, or None if it passes."""
    if x + eps == x or x - eps == x:
        return (f"{what}: eps = {eps!r} is below the spacing of floats near this point; pass a larger eps", False)
    left, right, numerical, noise = _slopes(at, x, fx, eps)
    tolerance = atol + rtol * abs(numerical)
    gap = abs(right - left)
    # A differentiable f has one-sided slopes that differ by about f'' * eps, and shrink
    # with eps; at a kink they differ by a jump that does not shrink. Rounding makes each
    # slope uncertain by `noise`, so only a gap well above it counts.
    if gap > tolerance and gap > 100.0 * noise:
        left_small, right_small, _, _ = _slopes(at, x, fx, eps / 10.0)
        ratio = abs(right_small - left_small) / gap
        if ratio > 0.3:  # the jump stays: a kink at x itself
            return (
                f"{what}: f is not differentiable here: its slope is {left_small!r} from the left and"
                f" {right_small!r} from the right; backward() gives {analytic!r}, a convention",
                True,
            )
        if ratio < 0.03:  # the jump went away: a kink between x - eps and x + eps, not at x
            return (
                f"{what}: f is not differentiable within eps = {eps!r} of this point: its slopes over eps are"
                f" {left!r} on the left and {right!r} on the right, while backward() gives {analytic!r};"
                " move the point further than eps from the kink, or pass a smaller eps",
                True,
            )
    error = abs(analytic - numerical)
    if error <= tolerance:
        return None
    return (
        f"{what}: analytic (backward) {analytic!r}, numerical (central difference, eps={eps!r})"
        f" {numerical!r}, error {error!r} > tolerance {tolerance!r} (atol {atol!r} + rtol {rtol!r} * |numerical|)",
        False,
    )


def _slopes(at: Callable[[float], float], x: float, fx: float, h: float) -> Tuple[float, float, float, float]:
    """Slopes over [x - h, x], [x, x + h] and [x - h, x + h] (the central difference), and
    how uncertain rounding makes the one-sided ones."""
    up, down = x + h, x - h
    f_up, f_down = at(up), at(down)
    left = (fx - f_down) / (x - down)
    right = (f_up - fx) / (up - x)
    central = (f_up - f_down) / (up - down)  # the step as rounded, not 2h: one rounding error fewer
    noise = 8.0 * _ULP * max(abs(fx), abs(f_up), abs(f_down)) / h
    return left, right, central, noise


def _verdict(
    failures: List[Tuple[str, bool]], f: Callable[..., Any], leaves: Sequence[Value], check: str, raise_exception: bool
) -> bool:
    if not failures:
        return True
    if not raise_exception:
        return False
    point = ", ".join(f"{_name(x, i)}={x.data!r}" for i, x in enumerate(leaves))
    name = getattr(f, "__qualname__", None) or repr(f)
    lines = "\n".join(f"  {message}" for message, _ in failures)
    error = NotDifferentiableError if all(kink for _, kink in failures) else GradcheckError
    raise error(f"{check} failed for {name} at ({point}):\n{lines}")


# ---------------------------------------------------------------------------------------
# Argument checking
# ---------------------------------------------------------------------------------------

def _as_leaves(inputs: Inputs, check: str) -> List[Value]:
    """The inputs as distinct leaf Values (numbers become new leaves)."""
    items: List[Any] = [inputs] if isinstance(inputs, (Value, Real)) else list(inputs)  # type: ignore[arg-type]
    if not items:
        raise ValueError(f"{check} needs at least one input, got none")
    leaves: List[Value] = []
    for i, x in enumerate(items):
        if isinstance(x, Value):
            if not x.is_leaf:
                raise ValueError(
                    f"{check} input {i} must be a leaf Value (one with no parents), got the output of"
                    f" {x.op!r}: {x!r}; pass x.detach() to check f at that number"
                )
            for j, earlier in enumerate(leaves):
                if earlier is x:
                    raise ValueError(f"{check} input {i} is the same Value as input {j}: pass each Value once")
            leaves.append(x)
        else:
            leaves.append(Value(finite_float(x, f"{check} input {i}")))
    return leaves


def _as_value(out: Any, f: Callable[..., Any]) -> Value:
    return out if isinstance(out, Value) else Value(output_number(out, f))


def _check_tolerances(eps: Any, atol: Any, rtol: Any) -> Tuple[float, float, float]:
    tolerances = []
    for name, t in (("atol", atol), ("rtol", rtol)):
        t = finite_float(t, name)
        if t < 0.0:
            raise ValueError(f"{name} must not be negative, got {t!r}")
        tolerances.append(t)
    return checked_eps(eps), tolerances[0], tolerances[1]


def _name(x: Value, i: int) -> str:
    """How messages name input i: its label if it has one, else x<i>."""
    return x.label or f"x{i}"
