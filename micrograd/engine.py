"""The scalar autograd engine: `Value` nodes, their ops, and the backward pass.

Every node stores its parents (`_prev`, an ordered tuple) and, for each parent, the local
derivative d(node)/d(parent) as a float (`_local`), computed once when the node is made.
The chain rule is written once, in `backward` (and in `grad`, which returns gradients
instead of storing them). For higher-order gradients each op also names a *rule*
(`_rule`) that gives the same local derivatives as `Value` expressions.

A node never refers to itself through its own attributes, so a graph is freed by
reference counting alone as soon as the last outside reference goes (micrograd 0.1.0's
`_backward` closures captured their own node, leaving every graph to the cyclic GC).
"""

from __future__ import annotations

import functools
import math
from numbers import Real
from typing import Any, Callable, Dict, Iterable, List, Optional, Sequence, Tuple, TypeVar, Union

__all__ = ["Value", "affine", "grad", "no_grad", "is_grad_enabled", "topological_order"]

Number = Union[int, float]
Operand = Union["Value", int, float]
Locals = Tuple[Operand, ...]  # local derivatives, one per parent
Rule = Callable[["Value"], Locals]

_grad_enabled = True  # flipped by `no_grad`; ops made while it is False record no parents

_ONE = (1.0,)
_ONE_ONE = (1.0, 1.0)
_make_object = object.__new__


# ---------------------------------------------------------------------------------------
# Input checking. Every Value holds a finite float: that single invariant is what keeps a
# silent NaN from ever appearing (finite op finite is finite, or an overflow we report).
# ---------------------------------------------------------------------------------------

def _as_float(x: Any, op: str) -> float:
    """`x` as a finite float, or a TypeError/ValueError that names `op` and `x`."""
    if isinstance(x, Value):
        raise TypeError(f"{op} needs a plain real number here, got a Value: {x!r}")
    if isinstance(x, Real):
        f = float(x)
    else:
        raise TypeError(f"{op} needs a real number, got {type(x).__name__}: {x!r}")
    if not math.isfinite(f):
        raise ValueError(f"{op} needs a finite number, got {f!r}")
    return f


def _overflow(op: str, *operands: float) -> None:
    raise OverflowError(f"{op} overflowed: the result of {op} on {', '.join(map(repr, operands))} is not finite")


def _node(data: float, prev: Tuple["Value", ...], local: Tuple[float, ...], op: str, rule: Optional[Rule]) -> "Value":
    """Make the output node of an op (internal: the inputs are already checked)."""
    out = _make_object(Value)
    out.data = data
    out.grad = 0.0
    out.label = ""
    out._custom_backward = None
    if _grad_enabled:
        out._prev, out._local, out._op, out._rule = prev, local, op, rule
    else:
        out._prev, out._local, out._op, out._rule = (), (), "", None
    return out


# ---------------------------------------------------------------------------------------
# Local-derivative rules as Value expressions, used by grad(..., create_graph=True).
# Each returns d(out)/d(parent) for every parent of `out`, in `out._prev` order.
# ---------------------------------------------------------------------------------------

def _constant_rule(out: "Value") -> Locals:
    # The local derivatives do not depend on the inputs (add, relu, abs, x * constant, ...),
    # so the stored floats are already the exact answer.
    return out._local


def _mul_rule(out: "Value") -> Locals:
    a, b = out._prev
    return (b, a)


def _exp_rule(out: "Value") -> Locals:
    return (out,)  # d exp(x)/dx = exp(x), the node itself


def _log_rule(out: "Value") -> Locals:
    return (1.0 / out._prev[0],)


def _tanh_rule(out: "Value") -> Locals:
    return (1.0 - out * out,)


def _sigmoid_rule(out: "Value") -> Locals:
    return (out * (1.0 - out),)


def _softplus_rule(out: "Value") -> Locals:
    return (out._prev[0].sigmoid(),)


def _sin_rule(out: "Value") -> Locals:
    return (out._prev[0].cos(),)


def _cos_rule(out: "Value") -> Locals:
    return (-out._prev[0].sin(),)


def _pow_rule(out: "Value") -> Locals:
    x, y = out._prev
    return (y * x ** (y - 1.0), out * x.log())


def _affine_rule(out: "Value") -> Locals:
    p = out._prev  # (w0..wn-1, x0..xn-1, b): d/dw = x, d/dx = w, d/db = 1
    n = (len(p) - 1) // 2
    return (*p[n:2 * n], *p[:n], 1.0)


class _PowConstantRule:
    """d(x ** k)/dx = k * x ** (k - 1), for a constant exponent k."""

    __slots__ = ("k",)

    def __init__(self, k: float) -> None:
        self.k = k

    def __call__(self, out: "Value") -> Locals:
        k = self.k
        return (k * out._prev[0] ** (k - 1.0),) if k != 0.0 else (0.0,)


class _ExpBaseRule:
    """d(c ** y)/dy = c ** y * log(c), for a constant base c."""

    __slots__ = ("log_c",)

    def __init__(self, log_c: float) -> None:
        self.log_c = log_c

    def __call__(self, out: "Value") -> Locals:
        return (out * self.log_c,)


class Value:
    """A scalar in a computation graph: its number (`data`), the gradient of the last
    `backward()` root with respect to it (`grad`), and how it was made.

    Construct leaves with `Value(2.0, label="a")`; ops on Values build the graph:

    >>> a, b = Value(2.0), Value(-3.0)
    >>> c = a * b + a.exp()
    >>> c.backward()
    >>> round(a.grad, 6), b.grad
    (4.389056, 2.0)

    `Value(data, _children, _op)` also builds a node by hand, the way micrograd's lecture
    does; assign its `_backward` to make `backward()` push gradient through it.
    """

    __slots__ = ("data", "grad", "label", "_prev", "_local", "_rule", "_op", "_custom_backward", "__dict__")
    __array_ufunc__ = None  # make NumPy scalars defer to our reflected ops (np.float64 * Value)

    data: float
    grad: float
    label: str
    _prev: Tuple["Value", ...]
    _local: Tuple[float, ...]
    _rule: Optional[Rule]
    _op: str
    _custom_backward: Optional[Callable[[], None]]

    def __init__(self, data: Number, _children: Iterable["Value"] = (), _op: str = "", label: str = "") -> None:
        self.data = _as_float(data, "Value()")
        self.grad = 0.0
        self._prev = tuple(_children)
        for child in self._prev:
            if not isinstance(child, Value):
                raise TypeError(f"Value() children must be Values, got {type(child).__name__}: {child!r}")
        if not isinstance(_op, str):
            raise TypeError(f"Value() _op must be a str, got {type(_op).__name__}: {_op!r}")
        if not isinstance(label, str):
            raise TypeError(f"Value() label must be a str, got {type(label).__name__}: {label!r}")
        self._op = _op
        self.label = label
        # A node built by hand has no local derivatives until its `_backward` is assigned.
        self._local = ()
        self._rule = None
        self._custom_backward = None

    # --- the lecture's `_backward` -----------------------------------------------------

    @property
    def _backward(self) -> Callable[[], None]:
        """Push this node's `grad` into its parents' `grad` (one step of the chain rule).

        A function assigned to it (the lecture's way of writing an op) replaces that step.
        """
        if self._custom_backward is not None:
            return self._custom_backward
        return self._push_grad_to_parents

    @_backward.setter
    def _backward(self, fn: Callable[[], None]) -> None:
        if not callable(fn):
            raise TypeError(f"_backward must be callable, got {type(fn).__name__}: {fn!r}")
        self._custom_backward = fn

    def _push_grad_to_parents(self) -> None:
        g = self.grad
        for parent, local in zip(self._prev, self._local):
            parent.grad += local * g

    # --- arithmetic ----------------------------------------------------------------------

    def __add__(self, other: Operand) -> "Value":
        if isinstance(other, Value):
            t = self.data + other.data
            if t - t:  # inf - inf is nan and nan - nan is nan: true only for a non-finite t
                _overflow("+", self.data, other.data)
            return _node(t, (self, other), _ONE_ONE, "+", _constant_rule)
        c = _as_float(other, "+")
        t = self.data + c
        if t - t:
            _overflow("+", self.data, c)
        return _node(t, (self,), _ONE, "+", _constant_rule)

    def __mul__(self, other: Operand) -> "Value":
        if isinstance(other, Value):
            t = self.data * other.data
            if t - t:
                _overflow("*", self.data, other.data)
            return _node(t, (self, other), (other.data, self.data), "*", _mul_rule)
        c = _as_float(other, "*")
        t = self.data * c
        if t - t:
            _overflow("*", self.data, c)
        return _node(t, (self,), (c,), "*", _constant_rule)

    def __pow__(self, other: Operand) -> "Value":
        if isinstance(other, Value):
            return self._pow_value(other)
        k = _as_float(other, "**")
        x = self.data
        if x < 0.0 and not k.is_integer():
            raise ValueError(f"** of a negative number to a fractional power is complex: {x!r} ** {k!r}")
        if x == 0.0 and k < 0.0:
            raise ZeroDivisionError(f"** of zero to a negative power: {x!r} ** {k!r}")
        if x == 0.0 and 0.0 < k < 1.0:
            raise ValueError(f"** has an infinite derivative at zero: {x!r} ** {k!r}")
        try:
            t = x ** k
            local = k * x ** (k - 1.0) if k != 0.0 else 0.0
        except OverflowError:
            _overflow("**", x, k)
        if t - t or local - local:
            _overflow("**", x, k)
        # Name the op the way micrograd 0.1.0 does ('**2'), with the exponent as written.
        return _node(t, (self,), (local,), f"**{other}", _PowConstantRule(k))

    def _pow_value(self, y: "Value") -> "Value":
        x = self.data
        if x <= 0.0:
            raise ValueError(
                f"** with a Value exponent needs a positive base (d/dy x**y = x**y * log x), got {x!r} ** {y.data!r};"
                " use a plain number as the exponent for other bases"
            )
        try:
            t = x ** y.data
            dx = y.data * x ** (y.data - 1.0)
            dy = t * math.log(x)
        except OverflowError:
            _overflow("**", x, y.data)
        if t - t or dx - dx or dy - dy:
            _overflow("**", x, y.data)
        return _node(t, (self, y), (dx, dy), "**", _pow_rule)

    def __rpow__(self, other: Number) -> "Value":
        c = _as_float(other, "**")
        if c <= 0.0:
            raise ValueError(f"** with a Value exponent needs a positive base, got {c!r} ** {self.data!r}")
        log_c = math.log(c)
        try:
            t = c ** self.data
            local = t * log_c
        except OverflowError:
            _overflow("**", c, self.data)
        if t - t or local - local:
            _overflow("**", c, self.data)
        return _node(t, (self,), (local,), f"{other}**", _ExpBaseRule(log_c))

    # Composed ops, as in micrograd 0.1.0: they add no derivative of their own, and they
    # keep 0.1.0's numbers (a / b is a * b**-1, not a true division).

    def __neg__(self) -> "Value":  # -self
        return self * -1

    def __radd__(self, other: Number) -> "Value":  # other + self
        return self + other

    def __sub__(self, other: Operand) -> "Value":  # self - other
        return self + (-other)

    def __rsub__(self, other: Number) -> "Value":  # other - self
        return other + (-self)

    def __rmul__(self, other: Number) -> "Value":  # other * self
        return self * other

    def __truediv__(self, other: Operand) -> "Value":  # self / other
        divisor = other.data if isinstance(other, Value) else _as_float(other, "/")
        if divisor == 0.0:
            raise ZeroDivisionError(f"/ by zero: {self.data!r} / {divisor!r}")
        return self * other ** -1

    def __rtruediv__(self, other: Number) -> "Value":  # other / self
        if self.data == 0.0:
            raise ZeroDivisionError(f"/ by zero: {other!r} / {self.data!r}")
        return other * self ** -1

    def sqrt(self) -> "Value":
        """The square root: `self ** 0.5`."""
        return self ** 0.5

    # --- elementary functions --------------------------------------------------------------

    def exp(self) -> "Value":
        """e ** self."""
        try:
            t = math.exp(self.data)
        except OverflowError:
            raise OverflowError(f"exp overflowed: exp({self.data!r}) is larger than a float can hold") from None
        if t - t:
            _overflow("exp", self.data)
        return _node(t, (self,), (t,), "exp", _exp_rule)

    def log(self) -> "Value":
        """The natural logarithm."""
        x = self.data
        if x <= 0.0:
            raise ValueError(f"log is only defined for positive numbers, got {x!r}")
        return _node(math.log(x), (self,), (1.0 / x,), "log", _log_rule)

    def tanh(self) -> "Value":
        """The hyperbolic tangent (stable for every finite input)."""
        t = math.tanh(self.data)
        return _node(t, (self,), (1.0 - t * t,), "tanh", _tanh_rule)

    def sigmoid(self) -> "Value":
        """The logistic function 1 / (1 + e**-self), stable for every finite input."""
        x = self.data
        if x >= 0.0:
            s = 1.0 / (1.0 + math.exp(-x))
        else:  # exp(-x) would overflow for x below about -709; exp(x) cannot
            e = math.exp(x)
            s = e / (1.0 + e)
        return _node(s, (self,), (s * (1.0 - s),), "sigmoid", _sigmoid_rule)

    def softplus(self) -> "Value":
        """log(1 + e**self), stable for every finite input; its derivative is sigmoid."""
        x = self.data
        e = math.exp(-abs(x))  # in (0, 1]: cannot overflow
        t = max(x, 0.0) + math.log1p(e)
        s = 1.0 / (1.0 + e) if x >= 0.0 else e / (1.0 + e)  # sigmoid(x), from the same e
        return _node(t, (self,), (s,), "softplus", _softplus_rule)

    def sin(self) -> "Value":
        """The sine (radians)."""
        x = self.data
        return _node(math.sin(x), (self,), (math.cos(x),), "sin", _sin_rule)

    def cos(self) -> "Value":
        """The cosine (radians)."""
        x = self.data
        return _node(math.cos(x), (self,), (-math.sin(x),), "cos", _cos_rule)

    # --- piecewise-linear functions (kinks follow PyTorch) ---------------------------------

    def relu(self) -> "Value":
        """max(0, self); its derivative at 0 is 0, as in PyTorch."""
        x = self.data
        # Same expression as micrograd 0.1.0, so relu(-0.0) gives the same number.
        return _node(0.0 if x < 0 else x, (self,), (1.0 if x > 0 else 0.0,), "ReLU", _constant_rule)

    def leaky_relu(self, negative_slope: float = 0.01) -> "Value":
        """self if self > 0 else negative_slope * self; derivative at 0 is negative_slope (PyTorch)."""
        a = _as_float(negative_slope, "leaky_relu")
        x = self.data
        return _node(x if x > 0 else a * x, (self,), (1.0 if x > 0 else a,), "leaky_relu", _constant_rule)

    def abs(self) -> "Value":
        """|self|; its derivative at 0 is 0, as in PyTorch."""
        x = self.data
        return _node(abs(x), (self,), (1.0 if x > 0 else -1.0 if x < 0 else 0.0,), "abs", _constant_rule)

    __abs__ = abs

    # --- the backward pass --------------------------------------------------------------

    def backward(self) -> None:
        """Backpropagate from this node: add d(self)/d(leaf) to every leaf's `grad`.

        Leaves (nodes with no parents, such as parameters) accumulate across calls, as in
        PyTorch, so call `zero_grad()` between steps. Every interior node's `grad` is set to
        d(self)/d(node) for this call, so a graph drawn afterwards shows true values.
        """
        order = _start_backward(self)
        for node in reversed(order):
            if node._custom_backward is not None:
                node._custom_backward()
                continue
            g = node.grad
            if g == 0.0:
                continue  # nothing to push (dead ReLU branches are common)
            for parent, local in zip(node._prev, node._local):
                parent.grad += local * g

    def draw(self, **options: Any) -> Any:
        """Draw the graph behind this node: `micrograd.draw_dot(self, **options)`."""
        from .draw import draw_dot  # imported here so the engine stays importable on its own

        return draw_dot(self, **options)

    def detach(self) -> "Value":
        """A new leaf with the same `data` and no history."""
        return Value(self.data)

    def item(self) -> float:
        """The number held, as a float (PyTorch's name)."""
        return self.data

    # --- comparison and display --------------------------------------------------------
    # Ordering compares `data` (so `max(values)` and `loss < 0.01` work); equality and
    # hashing stay by identity, so nodes can live in sets and dicts.

    def __lt__(self, other: Operand) -> bool:
        return self.data < _data(other)

    def __le__(self, other: Operand) -> bool:
        return self.data <= _data(other)

    def __gt__(self, other: Operand) -> bool:
        return self.data > _data(other)

    def __ge__(self, other: Operand) -> bool:
        return self.data >= _data(other)

    __hash__ = object.__hash__

    def __repr__(self) -> str:
        return f"Value(data={self.data}, grad={self.grad})"

    def __format__(self, spec: str) -> str:
        return format(self.data, spec) if spec else repr(self)


def _data(x: Operand) -> float:
    return x.data if isinstance(x, Value) else _as_float(x, "comparison")


def affine(weights: Sequence[Value], inputs: Sequence[Operand], bias: Value) -> Value:
    """`bias + w0*x0 + w1*x1 + ...` as a single node (a neuron before its activation).

    The sum is taken in micrograd 0.1.0's order, so the numbers are the ones its
    `sum((wi*xi for ...), b)` gives, but the graph holds one node instead of 2n.
    Plain numbers among the inputs are treated as constants.
    """
    if len(weights) != len(inputs):
        raise ValueError(f"affine needs as many inputs as weights, got {len(inputs)} inputs for {len(weights)} weights")
    if not isinstance(bias, Value):
        raise TypeError(f"affine needs a Value bias, got {type(bias).__name__}: {bias!r}")
    for w in weights:
        if not isinstance(w, Value):
            raise TypeError(f"affine needs Value weights, got {type(w).__name__}: {w!r}")
    return _affine(weights, [x if isinstance(x, Value) else Value(x) for x in inputs], bias)


def _affine(weights: Sequence[Value], xs: Sequence[Value], bias: Value) -> Value:
    """`affine` without the argument checks, for callers that guarantee them (nn.Neuron)."""
    w_data = [w.data for w in weights]
    x_data = [x.data for x in xs]
    z = bias.data
    for w, x in zip(w_data, x_data):
        z += w * x
    if z - z:
        _overflow("affine", *x_data)
    return _node(z, (*weights, *xs, bias), (*x_data, *w_data, 1.0), "affine", _affine_rule)


# ---------------------------------------------------------------------------------------
# Graph traversal and gradients
# ---------------------------------------------------------------------------------------

def topological_order(root: Value, expand: Optional[Callable[[Value], bool]] = None) -> List[Value]:
    """Every node `root` depends on, parents before children, `root` last.

    Iterative (an explicit stack), so depth is limited by memory, not by Python's recursion
    limit. The order is the one micrograd 0.1.0's recursive `build_topo` gives for the same
    parent order, and it is deterministic because parents are an ordered tuple.

    `expand(node)`, when given, decides whether to walk on into a node's parents; a node it
    refuses is still listed, but what lies behind it is not (drawing part of a graph).
    """
    if not isinstance(root, Value):
        raise TypeError(f"topological_order needs a Value, got {type(root).__name__}: {root!r}")
    order: List[Value] = []
    visited = {root}
    stack = [(root, iter(root._prev if expand is None or expand(root) else ()))]
    while stack:
        node, parents = stack[-1]
        for parent in parents:
            if parent not in visited:
                visited.add(parent)
                stack.append((parent, iter(parent._prev if expand is None or expand(parent) else ())))
                break
        else:  # every parent is placed: the node can follow them
            stack.pop()
            order.append(node)
    return order


def _start_backward(root: Value) -> List[Value]:
    """What `backward()` does before the chain rule runs (shared with the stepper, so the
    two cannot drift apart): reset every interior node's grad, seed the root (1, or +1 for
    a leaf root, which accumulates like any leaf), and return the topological order."""
    order = topological_order(root)
    for node in order:
        if node._prev:
            node.grad = 0.0
    root.grad = 1.0 if root._prev else root.grad + 1.0
    return order


def grad(output: Value, inputs: Union[Value, Sequence[Value]], create_graph: bool = False) -> Tuple[Value, ...]:
    """d(output)/d(input) for each input, as Values, leaving every `.grad` untouched.

    With `create_graph=True` the results are themselves nodes of a graph built from the
    inputs, so they can be differentiated again (second derivatives, Hessian-vector
    products). An input that `output` does not depend on gets 0.
    """
    if not isinstance(output, Value):
        raise TypeError(f"grad needs a Value output, got {type(output).__name__}: {output!r}")
    inputs = (inputs,) if isinstance(inputs, Value) else tuple(inputs)
    for x in inputs:
        if not isinstance(x, Value):
            raise TypeError(f"grad needs Value inputs, got {type(x).__name__}: {x!r}")

    grads: Dict[Value, Operand] = {output: 1.0}  # node -> d(output)/d(node), a float or (create_graph) a Value
    for node in reversed(topological_order(output)):
        g = grads.get(node)
        if g is None or not node._prev:
            continue
        if create_graph:
            local = _rule_of(node)(node)
        elif node._custom_backward is not None:
            local = _locals_of_custom(node, node._custom_backward)
        else:
            local = node._local
        for parent, d in zip(node._prev, local):
            contribution = d * g
            previous = grads.get(parent)
            grads[parent] = contribution if previous is None else previous + contribution
    results = []
    for x in inputs:
        g = grads.get(x, 0.0)
        results.append(g if isinstance(g, Value) else Value(g))
    return tuple(results)


def _rule_of(node: Value) -> Rule:
    if node._rule is None:
        raise ValueError(
            f"grad(create_graph=True) cannot differentiate through the {node._op or 'unnamed'!r} node {node!r}:"
            " it was built by hand without a derivative rule"
        )
    return node._rule


def _locals_of_custom(node: Value, backward: Callable[[], None]) -> Tuple[float, ...]:
    """Read the local derivatives off a hand-written `_backward` by running it once with
    grad 1 on zeroed parents, then putting every `.grad` back as it was."""
    parents = list(dict.fromkeys(node._prev))
    saved = [(p, p.grad) for p in parents] + [(node, node.grad)]
    try:
        for p in parents:
            p.grad = 0.0
        node.grad = 1.0
        backward()
        by_parent = {p: p.grad for p in parents}
    finally:
        for p, g in saved:
            p.grad = g
    # A parent listed twice (x * x by hand) got both contributions at once: count it once.
    seen = set()
    local = []
    for p in node._prev:
        local.append(0.0 if p in seen else by_parent[p])
        seen.add(p)
    return tuple(local)


# ---------------------------------------------------------------------------------------
# Gradient mode
# ---------------------------------------------------------------------------------------

F = TypeVar("F", bound=Callable[..., Any])


class no_grad:
    """Context manager (or decorator) inside which ops record no parents.

    Use it for evaluation and for parameter updates: the results are leaves, so no graph
    is kept alive. The setting is global to the process (not per thread).
    """

    def __enter__(self) -> "no_grad":
        global _grad_enabled
        self._previous = _grad_enabled
        _grad_enabled = False
        return self

    def __exit__(self, *exc_info: object) -> None:
        global _grad_enabled
        _grad_enabled = self._previous

    def __call__(self, fn: F) -> F:
        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with no_grad():
                return fn(*args, **kwargs)

        return wrapper  # type: ignore[return-value]


def is_grad_enabled() -> bool:
    """False inside `no_grad()`."""
    return _grad_enabled
