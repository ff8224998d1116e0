"""The scalar autograd engine: `Value` nodes, the ops that make them, and the backward pass.

How it works, in four steps (read the file top to bottom in the same order):

1. **A Value is a node.** It holds a number (`data`), a gradient (`grad`) and how it was
   made: the op (`Value.primitive`) and the operands it was applied to (`Value.parents`,
   plus any plain-number constants).
2. **An op is one `Primitive`: a forward formula and its local derivatives, side by side.**
   `TANH = Primitive("tanh", math.tanh, partials=(lambda x, out: 1.0 - out * out,))` says
   everything the engine knows about tanh. `x.tanh()` runs the forward formula on floats
   and records the node; nothing else is computed until a backward pass needs it.
3. **The backward pass is the chain rule, written once** (`_propagate`). It visits the
   nodes in reverse topological order (an iterative sort, so depth is limited by memory,
   not by Python's recursion limit); for each node it evaluates the op's local derivatives
   at the operands' values and adds `local * grad` into each parent's `grad`.
4. **Higher-order gradients reuse the same derivatives.** The derivatives are written with
   plain arithmetic and the generic functions below (`cos`, `log`, `sigmoid`, `where`),
   which work on floats, on Values and on any other number-like object. On floats they
   give the first-order pass its speed; on Values (`grad(..., create_graph=True)`) they
   build a graph that can be differentiated again; on symbols they print as a formula.

The lecture's graph: micrograd 0.1.0 makes constants leaf nodes (`x * 2` has children
`{x, Value(2)}`) and a neuron a chain of `*` and `+` nodes. The engine keeps its own, faster
form (constants folded into the op, a neuron's weighted sum as one `affine` node) and
presents 0.1.0's exactly through `_prev` and `_op`, built only when someone reads them
(see "The lecture's view" near the end).

Speed, and where it comes from (every trick is in one place): a node is made by `_node`
without `__init__`'s checks, and writes only six slots (rare attributes such as `label` are
class-level defaults); a neuron's weighted sum is one `affine` node whose forward pass reads
the operands' data as it goes (`_sum_of_products`); and the chain rule (`_propagate`) skips
every node whose gradient is 0 and evaluates the derivatives of the common shapes on floats
with as few calls as possible. The demo's training step runs about 90x faster than
micrograd 0.1.0's and within 5x of a hand-written plain-float loop (benchmarks/bench_step.py).

A node never refers to itself through its own attributes, so a graph is freed by
reference counting alone as soon as the last outside reference goes (micrograd 0.1.0's
`_backward` closures captured their own node, leaving every graph to the cyclic GC).
"""

from __future__ import annotations

import functools
import math
import threading
import weakref
from collections import deque
from numbers import Real
from typing import Any, Callable, Generator, Iterable, Iterator, List, Optional, Sequence, Tuple, TypeVar, Union, cast

from .arguments import finite_float

__all__ = [
    "Value", "Primitive", "primitive", "affine", "grad", "no_grad", "enable_grad", "set_grad_enabled",
    "is_grad_enabled", "NonFiniteError", "topological_order", "backward_pass", "close_stepped_passes",
    "edge_gradients",
    "exp", "log", "sin", "cos", "tanh", "sigmoid", "where",
]

Number = Union[int, float]
Operand = Union["Value", int, float]
Forward = Callable[..., float]
Derivative = Callable[..., Any]

_new = object.__new__  # nodes made by ops skip __init__'s argument checks (their inputs are checked)


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

    __slots__ = ("data", "grad", "_parents", "_args", "_fn", "_name", "__dict__")
    __array_ufunc__ = None  # make NumPy scalars defer to our reflected ops (np.float64 * Value)

    # Rarely set, so class-level defaults rather than slots: a new node need not write them,
    # and a node that sets one gets its own in `__dict__`.
    label: str = ""
    _hand_backward: Optional[Callable[[], None]] = None  # a lecture-style `_backward`, if one was assigned
    _view: Optional["_LectureView"] = None  # micrograd 0.1.0's view of this node, once someone reads `_prev`

    data: float
    grad: Any  # a float; a Value while grad(create_graph=True) runs
    _parents: Tuple["Value", ...]  # the Values the op was applied to, in order
    _args: Tuple[Operand, ...]  # every operand, constants included (the same tuple when there are none)
    _fn: Optional["Primitive"]  # the op; None for a leaf or a node built by hand
    _name: str  # the op's name as shown ('**2' for x ** 2)

    def __init__(self, data: Number, _children: Iterable["Value"] = (), _op: str = "", label: str = "") -> None:
        self.data = finite_float(data, "Value()")
        self.grad = 0.0
        children = tuple(_children)
        for child in children:
            if not isinstance(child, Value):
                raise TypeError(f"Value() children must be Values, got {type(child).__name__}: {child!r}")
        if not isinstance(_op, str):
            raise TypeError(f"Value() _op must be a str, got {type(_op).__name__}: {_op!r}")
        if not isinstance(label, str):
            raise TypeError(f"Value() label must be a str, got {type(label).__name__}: {label!r}")
        if label:
            self.label = label
        self._parents = self._args = children
        self._fn = None  # built by hand: its derivative is whatever `_backward` it is given
        self._name = _op

    # --- how the node was made (the engine's own view) ----------------------------------

    @property
    def parents(self) -> Tuple["Value", ...]:
        """The Values this node was computed from, in operand order (constants are not
        nodes here: `x * 2` has the one parent `x`). `()` for a leaf."""
        return self._parents

    @property
    def operands(self) -> Tuple[Operand, ...]:
        """Every operand of the op, constants included, in order: `(x, 2.0)` for `x * 2`."""
        return self._args

    @property
    def op(self) -> str:
        """The op's name ('+', '*', '**2', 'tanh', 'affine', ...); '' for a leaf."""
        return self._name

    @property
    def primitive(self) -> Optional["Primitive"]:
        """The `Primitive` that made this node (its forward formula and derivatives), or
        None for a leaf or a node built by hand."""
        return self._fn

    @property
    def is_leaf(self) -> bool:
        """True for a node with no parents: an input, a parameter, a constant (PyTorch's name)."""
        return not self._parents

    @property
    def local_grads(self) -> Optional[Tuple[float, ...]]:
        """d(self)/d(parent) for each parent, evaluated now at the operands' values: the
        factors the chain rule multiplies by. `()` for a leaf; None for a node built by hand
        (its derivatives live in its hand-written `_backward`)."""
        if self._fn is None:
            return None if self._parents else ()
        return _local_grads(self)

    # --- the lecture's `_backward` -----------------------------------------------------

    @property
    def _backward(self) -> Callable[[], None]:
        """Push this node's `grad` into its parents' `grad` (one step of the chain rule).

        A function assigned to it (the lecture's way of writing an op) replaces that step.
        """
        if self._hand_backward is not None:
            return self._hand_backward
        return functools.partial(_backward_step, self)

    @_backward.setter
    def _backward(self, fn: Callable[[], None]) -> None:
        if not callable(fn):
            raise TypeError(f"_backward must be callable, got {type(fn).__name__}: {fn!r}")
        self._hand_backward = fn
        self._fn = None  # its derivative is now the hand-written one

    # --- the ops: each one is a row of the table below the class ------------------------

    def __add__(self, other: Operand) -> "Value":
        if isinstance(other, Value):
            return _node(ADD, ADD.forward(self.data, other.data), (self, other))
        c = finite_float(other, "+")
        return _node(ADD, ADD.forward(self.data, c), (self, c), (self,))

    def __mul__(self, other: Operand) -> "Value":
        if isinstance(other, Value):
            return _node(MUL, MUL.forward(self.data, other.data), (self, other))
        c = finite_float(other, "*")
        return _node(MUL, MUL.forward(self.data, c), (self, c), (self,))

    def __pow__(self, other: Operand) -> "Value":
        if isinstance(other, Value):
            if self.data <= 0.0:
                raise ValueError(
                    f"** with a Value exponent needs a positive base (d/dy x**y = x**y * log x), got"
                    f" {self.data!r} ** {other.data!r}; use a plain number as the exponent for other bases"
                )
            return _node(POW, POW.forward(self.data, other.data), (self, other))
        k = finite_float(other, "**")
        # Named the way micrograd 0.1.0 names it ('**2'), with the exponent as written.
        return _node(POW, POW.forward(self.data, k), (self, k), (self,), f"**{other}")

    def __rpow__(self, other: Number) -> "Value":  # other ** self
        c = finite_float(other, "**")
        if c <= 0.0:
            raise ValueError(f"** with a Value exponent needs a positive base, got {c!r} ** {self.data!r}")
        return _node(POW, POW.forward(c, self.data), (c, self), (self,), f"{other}**")

    def exp(self) -> "Value":
        """e ** self."""
        return _unary(EXP, self)

    def log(self) -> "Value":
        """The natural logarithm (self > 0)."""
        return _unary(LOG, self)

    def tanh(self) -> "Value":
        """The hyperbolic tangent (stable for every finite input)."""
        return _unary(TANH, self)

    def sigmoid(self) -> "Value":
        """The logistic function 1 / (1 + e**-self), stable for every finite input."""
        return _unary(SIGMOID, self)

    def softplus(self) -> "Value":
        """log(1 + e**self), stable for every finite input; its derivative is sigmoid."""
        return _unary(SOFTPLUS, self)

    def sin(self) -> "Value":
        """The sine (radians)."""
        return _unary(SIN, self)

    def cos(self) -> "Value":
        """The cosine (radians)."""
        return _unary(COS, self)

    def relu(self) -> "Value":
        """max(0, self); its derivative at 0 is 0, as in PyTorch."""
        return _unary(RELU, self)

    def leaky_relu(self, negative_slope: float = 0.01) -> "Value":
        """self if self > 0 else negative_slope * self; derivative at 0 is negative_slope (PyTorch)."""
        a = finite_float(negative_slope, "leaky_relu")
        return _node(LEAKY_RELU, LEAKY_RELU.forward(self.data, a), (self, a), (self,))

    def abs(self) -> "Value":
        """|self|; its derivative at 0 is 0, as in PyTorch."""
        return _unary(ABS, self)

    __abs__ = abs

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
        divisor = other.data if isinstance(other, Value) else finite_float(other, "/")
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

    # --- the backward pass --------------------------------------------------------------

    def backward(self) -> None:
        """Backpropagate from this node: add d(self)/d(leaf) to every leaf's `grad`.

        Leaves (nodes with no parents, such as parameters) accumulate across calls, as in
        PyTorch, so call `zero_grad()` between steps. Every interior node's `grad` is set to
        d(self)/d(node) for this call, so a graph drawn afterwards shows true values.
        """
        order = topological_order(self)
        leaves, steps = _start_pass(order)
        try:
            _exhaust(steps)
        except BaseException:  # nothing half-done: a retry must not add to what this call added
            _restore(leaves)
            raise
        _sync_views(order)

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
        return self.data < _number(other)

    def __le__(self, other: Operand) -> bool:
        return self.data <= _number(other)

    def __gt__(self, other: Operand) -> bool:
        return self.data > _number(other)

    def __ge__(self, other: Operand) -> bool:
        return self.data >= _number(other)

    __hash__ = object.__hash__

    def __repr__(self) -> str:
        return f"Value(data={self.data}, grad={self.grad})"

    def __format__(self, spec: str) -> str:
        return format(self.data, spec) if spec else repr(self)

    # --- the lecture's view: micrograd 0.1.0's graph, node for node ----------------------

    @property
    def _prev(self) -> Tuple["Value", ...]:
        """This node's children as micrograd 0.1.0 records them (its `_prev`, a set there,
        here an ordered tuple of distinct nodes): constants are leaf Values and a fused
        neuron is 0.1.0's chain of `*` and `+` nodes. Built on first read and kept, so the
        same objects come back, and their `grad` is kept right by every `backward()`."""
        if self._view is None and _shows_differently(self):
            self._view = _LectureView(self)
        return self._view.prev if self._view is not None else _distinct(self._parents)

    @property
    def lecture_node(self) -> "Value":
        """This node as micrograd 0.1.0 built it: the node itself, or, where 0.1.0 built it
        differently (constants as leaves, a fused neuron as `*` and `+` nodes), its rebuilt
        twin, with the same op, data and grad, whose `parents` are this node's `_prev`
        with repeats (`a * a` twice) and whose `local_grads` go with them."""
        _ = self._prev  # reading it builds the view, if this node has one
        return self._view.top if self._view is not None else self

    @property
    def _op(self) -> str:
        """The op's name as micrograd 0.1.0 records it: '+' for a fused neuron's sum."""
        return "+" if self._fn is AFFINE else self._name


def _number(x: Operand) -> float:
    return x.data if isinstance(x, Value) else finite_float(x, "comparison")


# ---------------------------------------------------------------------------------------
# Primitives: an op's forward formula and its local derivatives, in one place
# ---------------------------------------------------------------------------------------

class Primitive:
    """A differentiable op: a forward formula on floats and its local derivatives.

    Args:
        name: the op's name in graphs and messages.
        forward: computes the result from plain floats, one per operand.
        partials: one function per operand, `d(*operands, out) -> d out / d operand`
            (for ops with a fixed number of operands; only the ones needed are evaluated,
            so `x ** 2` never asks for d/d exponent, which needs log x).
        derivative: or one function for all operands, `d(*operands, out)` returning the
            tuple of derivatives (a bare expression for one operand).
        floats: the derivatives also run on plain floats (they use only arithmetic and the
            generic functions `exp`, `log`, `sin`, `cos`, `tanh`, `sigmoid`, `where`), which
            makes the first-order pass fast; otherwise they are given Values.
        constant_nodes: micrograd 0.1.0 makes the constants of this op leaf nodes (`+`
            and `*`: `x * 2` has the children x and Value(2)).

    Calling a primitive applies it: `TANH(x)` is `x.tanh()`. Define your own with the
    `primitive` decorator.
    """

    def __init__(
        self,
        name: str,
        forward: Forward,
        derivative: Optional[Derivative] = None,
        *,
        partials: Optional[Sequence[Derivative]] = None,
        floats: bool = False,
        constant_nodes: bool = False,
    ) -> None:
        if not isinstance(name, str) or not name:
            raise TypeError(f"primitive name must be a non-empty str, got {name!r}")
        if not callable(forward):
            raise TypeError(f"primitive needs a callable forward function, got {type(forward).__name__}: {forward!r}")
        self.name = name
        self.forward = forward
        self.partials = tuple(partials) if partials is not None else None
        self._derivative: Optional[Derivative] = None
        self.floats = floats
        self.constant_nodes = constant_nodes
        if derivative is not None:
            self.derivative(derivative)

    def derivative(self, fn: Derivative) -> Derivative:
        """Set the local derivative (usable as a decorator); returns `fn` unchanged.

        `fn(*args, out)` gets the op's arguments and its output and returns d out / d arg
        for each argument, in order (for one argument, the bare expression).
        """
        if not callable(fn):
            raise TypeError(f"{self.name} derivative must be callable, got {type(fn).__name__}: {fn!r}")
        self._derivative = fn
        return fn

    def derivatives(self, args: Sequence[Any], out: Any, wrt: Optional[Sequence[int]] = None) -> Tuple[Any, ...]:
        """d out / d args[i] for each i in `wrt` (default: every operand), evaluated on
        whatever `args` and `out` are: floats, Values or symbols."""
        if self.partials is not None:
            partials = self.partials
            if wrt is None:
                return tuple([d(*args, out) for d in partials])
            return tuple([partials[i](*args, out) for i in wrt])
        if self._derivative is None:
            raise TypeError(f"primitive {self.name!r} has no derivative: define one with @{self.name}.derivative")
        d = self._derivative(*args, out)
        ds = d if type(d) is tuple else tuple(d) if isinstance(d, list) else (d,)
        if len(ds) != len(args):
            raise ValueError(
                f"the derivative of {self.name} must give one value per argument ({len(args)}), got {len(ds)}: {d!r}"
            )
        return ds if wrt is None else tuple(ds[i] for i in wrt)

    def __call__(self, *args: Operand) -> Value:
        """Apply the op to Values and/or plain numbers (numbers are constants, not parents)."""
        if not args:
            raise TypeError(f"{self.name} needs at least one argument")
        operands = tuple(a if isinstance(a, Value) else _constant(a, self.name, i) for i, a in enumerate(args))
        numbers = [a.data if isinstance(a, Value) else a for a in operands]
        if self._derivative is None and self.partials is None:
            raise TypeError(f"primitive {self.name!r} has no derivative: define one with @{self.name}.derivative")
        try:
            data = self.forward(*numbers)
        except (ValueError, ZeroDivisionError, OverflowError) as e:
            raise type(e)(f"{self.name} failed on {_show(numbers)}: {e}") from e
        except (TypeError, AttributeError) as e:
            raise TypeError(
                f"{self.name} failed on {_show(numbers)}: {e}. Its forward function receives plain floats,"
                " so write it with math: math.exp(x), not x.exp()"
            ) from e
        data = _user_float(data, f"{self.name}{_show(numbers)}")
        parents = tuple(a for a in operands if isinstance(a, Value))
        if not parents:
            return Value(data)  # only constants went in: a leaf with no history
        out = _node(self, data, operands, parents if len(parents) < len(operands) else None)
        if out._fn is not None:
            _local_grads(out)  # evaluated once now, so a mistake in it shows where the op is used
        return out

    def __repr__(self) -> str:
        return f"primitive({self.name!r})"


def _node(fn: Primitive, data: float, args: Tuple[Operand, ...], parents: Optional[Tuple[Value, ...]] = None,
          name: Optional[str] = None) -> Value:
    """The output node of `fn` applied to `args` (already checked): `data` must be finite."""
    if data - data:  # inf - inf and nan - nan are nan: true only for a non-finite result
        numbers = ", ".join(repr(a.data if isinstance(a, Value) else a) for a in args)
        if any(_data(a) - _data(a) for a in args):  # it came in that way (a .data set by hand)
            raise ValueError(f"{fn.name} needs finite inputs, got {numbers}")
        raise OverflowError(f"{fn.name} overflowed: the result of {fn.name} on {numbers} is not finite")
    out = _new(Value)
    out.data = data
    out.grad = 0.0
    if _threads_off == 0 or _mode.off is None:  # grad mode is on (see "Gradient mode")
        out._args = args
        out._parents = args if parents is None else parents  # type: ignore[assignment]
        out._fn = fn
        out._name = name or fn.name
    else:  # no_grad: a leaf with no history
        out._parents = out._args = ()
        out._fn = None
        out._name = ""
    return out


def _unary(fn: Primitive, x: Value) -> Value:
    """`fn` applied to one Value: its forward formula on x's number, and the node."""
    d = x.data
    if d - d:  # a non-finite input can give a finite output (tanh(inf) is 1): refuse it here
        raise ValueError(f"{fn.name} needs a finite input, got {d!r} (was .data set by hand?)")
    return _node(fn, fn.forward(d), (x,))


def _constant(x: Any, op: str, i: int) -> float:
    if isinstance(x, bool) or not isinstance(x, Real):
        raise TypeError(f"{op} argument {i} must be a Value or a real number, got {type(x).__name__}: {x!r}")
    return finite_float(x, f"{op} argument {i}")


def _user_float(x: Any, what: str) -> float:
    """What a user's forward or derivative gave, as a float, or an error that says so."""
    if isinstance(x, Value) or not isinstance(x, Real) or isinstance(x, bool):
        raise TypeError(f"{what} must be a real number, got {type(x).__name__}: {x!r}")
    f = float(x)
    if not math.isfinite(f):
        raise ValueError(f"{what} is not finite: {f!r}")
    return f


def _show(numbers: Sequence[Any]) -> str:
    return "(" + ", ".join(repr(n) for n in numbers) + ")"


# ---------------------------------------------------------------------------------------
# Generic functions: derivatives are written with these and with arithmetic, so that one
# written derivative runs on floats (first order), on Values (higher order) and on symbols.
# ---------------------------------------------------------------------------------------

def exp(x: Any) -> Any:
    """e ** x of a float, a Value or a symbol."""
    return math.exp(x) if isinstance(x, Real) else x.exp()


def log(x: Any) -> Any:
    """The natural logarithm of a float, a Value or a symbol."""
    return _log(float(x)) if isinstance(x, Real) else x.log()


def sin(x: Any) -> Any:
    """The sine of a float, a Value or a symbol."""
    return math.sin(x) if isinstance(x, Real) else x.sin()


def cos(x: Any) -> Any:
    """The cosine of a float, a Value or a symbol."""
    return math.cos(x) if isinstance(x, Real) else x.cos()


def tanh(x: Any) -> Any:
    """The hyperbolic tangent of a float, a Value or a symbol."""
    return math.tanh(x) if isinstance(x, Real) else x.tanh()


def sigmoid(x: Any) -> Any:
    """The logistic function of a float, a Value or a symbol."""
    return _sigmoid(float(x)) if isinstance(x, Real) else x.sigmoid()


def where(condition: Any, if_true: Any, if_false: Any) -> Any:
    """`if_true if condition else if_false`, as a function, so that a symbolic condition
    (a symbol compared with a number) can print itself or become generated code."""
    if hasattr(condition, "where"):  # a symbolic condition; any other (bool, NumPy bool) is a plain truth value
        return condition.where(if_true, if_false)
    return if_true if condition else if_false


# ---------------------------------------------------------------------------------------
# The table of ops. Each row: the forward formula (floats in, float out, checking its
# domain) and the local derivative d out / d operand for each operand, `out` being the
# result. Everything else the engine does with an op, it reads from here.
# ---------------------------------------------------------------------------------------

def _sigmoid(x: float) -> float:
    if x >= 0.0:
        return 1.0 / (1.0 + math.exp(-x))
    e = math.exp(x)  # exp(-x) would overflow for x below about -709; exp(x) cannot
    return e / (1.0 + e)


def _softplus(x: float) -> float:
    return max(x, 0.0) + math.log1p(math.exp(-abs(x)))  # log(1 + e**x) without overflow


def _exp(x: float) -> float:
    try:
        return math.exp(x)
    except OverflowError:
        raise OverflowError(f"exp overflowed: exp({x!r}) is larger than a float can hold") from None


def _log(x: float) -> float:
    if x <= 0.0:
        raise ValueError(f"log is only defined for positive numbers, got {x!r}")
    return math.log(x)


def _power(x: float, y: float) -> float:
    if x - x or y - y:  # inf ** 0 is 1: a non-finite input can give a finite result
        raise ValueError(f"** needs finite inputs, got {x!r} ** {y!r}")
    if x < 0.0 and not y.is_integer():
        raise ValueError(f"** of a negative number to a fractional power is complex: {x!r} ** {y!r}")
    if x == 0.0 and y < 0.0:
        raise ZeroDivisionError(f"** of zero to a negative power: {x!r} ** {y!r}")
    try:
        return float(x ** y)
    except OverflowError:
        raise OverflowError(f"** overflowed: the result of ** on {x!r}, {y!r} is not finite") from None


def _affine(*args: float) -> float:
    """b + w0*x0 + w1*x1 + ... for args = (w0..wn-1, x0..xn-1, b), summed in 0.1.0's order."""
    n = len(args) // 2
    z = args[-1]
    for w, x in zip(args[:n], args[n:2 * n]):
        z += w * x
    return z


def _affine_derivative(*args: Any) -> Tuple[Any, ...]:
    n = (len(args) - 1) // 2  # args = (w0..wn-1, x0..xn-1, b, out): d/dw = x, d/dx = w, d/db = 1
    return (*args[n:2 * n], *args[:n], 1.0)


ADD = Primitive("+", lambda a, b: a + b, partials=(lambda a, b, out: 1.0, lambda a, b, out: 1.0),
                floats=True, constant_nodes=True)
MUL = Primitive("*", lambda a, b: a * b, partials=(lambda a, b, out: b, lambda a, b, out: a),
                floats=True, constant_nodes=True)
POW = Primitive("**", _power, partials=(
    # d/dx x**y = y * x**(y-1); x**0 is constant (and 0 ** -1 would divide by zero). For a
    # Value or symbol y, `y == 0.0` is identity, hence False: the formula, whose base is positive.
    lambda x, y, out: 0.0 if y == 0.0 else y * x ** (y - 1.0),
    lambda x, y, out: out * log(x),  # d/dy x**y = x**y * log x (needs x > 0: only asked for a Value y)
), floats=True)
EXP = Primitive("exp", _exp, partials=(lambda x, out: out,), floats=True)  # the result itself
LOG = Primitive("log", _log, partials=(lambda x, out: 1.0 / x,), floats=True)
TANH = Primitive("tanh", math.tanh, partials=(lambda x, out: 1.0 - out * out,), floats=True)
SIGMOID = Primitive("sigmoid", _sigmoid, partials=(lambda x, out: out * (1.0 - out),), floats=True)
SOFTPLUS = Primitive("softplus", _softplus, partials=(lambda x, out: sigmoid(x),), floats=True)
SIN = Primitive("sin", math.sin, partials=(lambda x, out: cos(x),), floats=True)
COS = Primitive("cos", math.cos, partials=(lambda x, out: -sin(x),), floats=True)
# Piecewise linear: at the kink the derivative follows PyTorch (relu'(0) = 0, |x|'(0) = 0).
# relu's forward is 0.1.0's expression, so relu(-0.0) gives the same number.
# relu's derivative reads the result, as 0.1.0's `(out.data > 0) * out.grad` does (the same
# thing as x > 0, unless the input's data is changed between the forward and backward pass).
RELU = Primitive("ReLU", lambda x: 0.0 if x < 0 else x, partials=(lambda x, out: where(out > 0, 1.0, 0.0),),
                 floats=True)
LEAKY_RELU = Primitive("leaky_relu", lambda x, a: x if x > 0 else a * x, partials=(
    lambda x, a, out: where(x > 0, 1.0, a),
    lambda x, a, out: where(x > 0, 0.0, x),
), floats=True)
ABS = Primitive("abs", abs, partials=(lambda x, out: where(x > 0, 1.0, where(x < 0, -1.0, 0.0)),), floats=True)
# A neuron's weighted sum as one node: 2n + 1 operands, one derivative for all of them.
AFFINE = Primitive("affine", _affine, _affine_derivative, floats=True)


def affine(weights: Sequence[Value], inputs: Sequence[Operand], bias: Value) -> Value:
    """`bias + w0*x0 + w1*x1 + ...` as a single node (a neuron before its activation).

    The sum is taken in micrograd 0.1.0's order, so the numbers are the ones its
    `sum((wi*xi for ...), b)` gives, but the graph holds one node instead of 2n; its
    `_prev` still shows 0.1.0's chain of `*` and `+` nodes. Plain numbers among the inputs
    are constants of the op (not parents), as in `x * 2`; the lecture's view shows each as
    a new leaf, as 0.1.0's `wi * xi` makes one for every neuron.
    """
    if len(weights) != len(inputs):
        raise ValueError(f"affine needs as many inputs as weights, got {len(inputs)} inputs for {len(weights)} weights")
    if not isinstance(bias, Value):
        raise TypeError(f"affine needs a Value bias, got {type(bias).__name__}: {bias!r}")
    xs: Sequence[Value] = inputs  # type: ignore[assignment]  # (a cast() here costs a typing lookup per neuron)
    try:
        return _node(AFFINE, _sum_of_products(bias, weights, xs), (*weights, *xs, bias))
    except AttributeError:  # a plain number among them: only inputs may be one
        pass
    for w in weights:
        if not isinstance(w, Value):
            raise TypeError(f"affine needs Value weights, got {type(w).__name__}: {w!r}")
    operands = (*weights, *[x if isinstance(x, Value) else _constant(x, "affine", i)
                            for i, x in enumerate(inputs, len(weights))], bias)
    numbers = [a.data if isinstance(a, Value) else a for a in operands]
    return _node(AFFINE, _affine(*numbers), operands, tuple(a for a in operands if isinstance(a, Value)))


def _sum_of_products(bias: Value, weights: Sequence[Value], inputs: Sequence[Value]) -> float:
    """`_affine` on the operands' data, read as it goes: the speed trick behind every neuron
    (half the time of gathering the floats first), the same additions in the same order."""
    z = bias.data
    for w, x in zip(weights, inputs):
        z += w.data * x.data
    return z


def primitive(
    forward: Optional[Forward] = None, *, derivative: Optional[Derivative] = None, name: Optional[str] = None
) -> Any:
    """Make a new op from a float `forward` function and its local `derivative`.

        @primitive
        def cube(x: float) -> float:   # forward: plain floats
            return x ** 3

        @cube.derivative
        def _(x, out):                 # d cube / dx, with Values: so it differentiates again
            return 3 * x ** 2

    Or `primitive(forward, derivative=d, name="...")`, or `@primitive(name=...)`. The
    derivative receives the op's arguments as they were passed (Values, or numbers for
    constant arguments) and the output, and returns d out / d argument for every argument
    (a bare expression for a one-argument op). Written with Value arithmetic (`x.cos()`),
    it serves the first-order pass and `grad(..., create_graph=True)` alike. It is also
    evaluated once when the op is applied, so a mistake in it shows where the op is used.
    The lecture's way (`out._backward = ...`) keeps working too; it just cannot be
    differentiated twice.
    """
    def make(fn: Forward) -> Primitive:
        op = Primitive(name if name is not None else getattr(fn, "__name__", "primitive"), fn, derivative)
        functools.update_wrapper(op, fn)
        if name is not None:  # messages (gradcheck's too) then use the op's own name
            op.__name__ = op.__qualname__ = name  # type: ignore[attr-defined]
        return op

    return make if forward is None else make(forward)


# ---------------------------------------------------------------------------------------
# The backward pass
# ---------------------------------------------------------------------------------------

def topological_order(root: Value, expand: Optional[Callable[[Value], bool]] = None, *,
                      view: str = "engine") -> List[Value]:
    """Every node `root` depends on, parents before children, `root` last.

    Iterative (an explicit stack), so depth is limited by memory, not by Python's recursion
    limit. The order is the one micrograd 0.1.0's recursive `build_topo` gives for the same
    parent order, and it is deterministic because parents are an ordered tuple.

    `expand(node)`, when given, decides whether to walk on into a node's parents; a node it
    refuses is still listed, but what lies behind it is not (drawing part of a graph).
    `view="lecture"` walks micrograd 0.1.0's graph (`_prev`: constants as leaves, a fused
    neuron as `*` and `+` nodes) instead of the engine's own (`parents`).
    """
    if not isinstance(root, Value):
        raise TypeError(f"topological_order needs a Value, got {type(root).__name__}: {root!r}")
    if view not in _VIEWS:
        raise ValueError(f"topological_order view must be 'engine' or 'lecture', got {view!r}")
    lecture = view == "lecture"
    order: List[Value] = []
    visited = {root}
    stack = [(root, iter(_parents_in(root, lecture) if expand is None or expand(root) else ()))]
    while stack:
        node, parents = stack[-1]
        for parent in parents:
            if parent not in visited:
                visited.add(parent)
                if expand is None or expand(parent):
                    stack.append((parent, iter(parent._prev if lecture else parent._parents)))
                else:
                    stack.append((parent, iter(())))
                break
        else:  # every parent is placed: the node can follow them
            stack.pop()
            order.append(node)
    return order


_VIEWS = ("engine", "lecture")


def _parents_in(node: Value, lecture: bool) -> Tuple[Value, ...]:
    return node._prev if lecture else node._parents


def backward_pass(root: Value) -> Generator[Tuple[Value, Optional[List[float]]], None, None]:
    """`root.backward()`, one node at a time, for watching the chain rule work.

    Before the first node, as in `backward()`, every interior node's gradient is reset and
    the root is seeded (1, or +1 for a leaf root, which accumulates like any leaf). Then it
    yields `(node, amounts)` for every node in reverse topological order, right after the
    node pushed its gradient: `amounts[j]` is exactly what was added to `node.parents[j]
    .grad`, or None when the node has a hand-written `_backward` (or pushed nothing: a leaf,
    or a zero gradient, which `backward()` skips). Exhausted, it has done what `backward()`
    does, bit for bit. Abandoned midway (closed, or dropped), or stopped by an error, it
    puts every gradient back as it found it, so a retry gives the right numbers.
    """
    if not isinstance(root, Value):
        raise TypeError(f"backward_pass needs a Value, got {type(root).__name__}: {root!r}")
    return _stepped_pass(topological_order(root))


def _stepped_pass(order: List[Value]) -> Generator[Tuple[Value, Optional[List[float]]], None, None]:
    if _open_passes:
        _abandon_open_passes(order)
    state = _OpenPass(order)
    _, steps = _start_pass(order)
    state.started()
    _open_passes.add(state)
    try:
        for node, local in steps:
            state.pushed(node)
            # node.grad is what it pushed (a node is never its own parent): the same products it added.
            yield node, None if local is None else [d * node.grad for d in local]
            if state.abandoned:
                raise RuntimeError(
                    "this stepped backward pass was abandoned (its gradients put back) when another"
                    " backward pass started on the same graph; start a new one"
                )
        state.finished = True
    finally:
        _open_passes.discard(state)
        if not state.finished:
            state.undo()  # abandoned or failed: the graph goes back to how the pass found it
    _sync_views(order)


class _OpenPass:
    """A stepped backward pass under way: what to put back if it is abandoned."""

    __slots__ = ("nodes", "before", "left", "finished", "abandoned", "__weakref__")

    def __init__(self, order: List[Value]) -> None:
        self.nodes = order
        self.before = [(node, node.grad) for node in order]
        self.left: dict[Value, Any] = {}  # the gradient this pass last left in each node
        self.finished = self.abandoned = False

    def started(self) -> None:
        self.left = {node: node.grad for node in self.nodes}

    def pushed(self, node: Value) -> None:
        for parent in node._parents:
            self.left[parent] = parent.grad

    def undo(self) -> None:
        if not self.abandoned:
            self.abandoned = True
            # Put back only what nobody changed since (told by identity: the float object
            # this pass stored is still there): a `zero_grad()` or `.grad = ...` made in the
            # middle of a pass stands.
            _restore([(node, g) for node, g in self.before if node.grad is self.left[node]])


_open_passes: "weakref.WeakSet[_OpenPass]" = weakref.WeakSet()  # stepped passes not yet finished


def close_stepped_passes(root: Value) -> None:
    """Undo every unfinished stepped backward pass (`backward_pass`, `backward_steps`) over
    `root`'s graph, as a new pass would when it starts: their gradients are put back. For code
    that reads the gradients before starting a pass of its own (the stepper's pictures)."""
    if _open_passes:
        _abandon_open_passes(topological_order(root))


def _abandon_open_passes(order: Sequence[Value]) -> None:
    """Before a pass starts: undo any unfinished stepped pass over the same nodes, so the
    two never add into one gradient (a cell stepped halfway, then `backward()`)."""
    for state in list(_open_passes):
        if not state.finished and not state.abandoned and not set(state.nodes).isdisjoint(order):
            state.undo()


Leaves = List[Tuple[Value, Any]]  # each leaf of a pass, with the gradient it had before
Steps = Iterator[Tuple[Value, Optional[Sequence[Any]]]]  # the chain rule, one node at a time


def _start_pass(order: Sequence[Value], create_graph: bool = False, *, alone: bool = True
                ) -> Tuple[Leaves, Steps]:
    """Reset every interior node's grad, seed the root; return each leaf with the gradient
    it had (to put back if the pass fails) and the chain rule's steps. `alone`: first undo
    any unfinished stepped pass over these nodes (`grad`, which puts everything back, needn't)."""
    if alone and _open_passes:
        _abandon_open_passes(order)
    leaves = []
    for node in order:
        if node._parents:
            node.grad = 0.0
        else:
            leaves.append((node, node.grad))
    root = order[-1]
    root.grad = 1.0 if root._parents else root.grad + 1.0
    return leaves, _propagate(order, create_graph)


def _restore(leaves: Leaves) -> None:
    for leaf, g in leaves:
        leaf.grad = g


def _sync_views(order: Sequence[Value]) -> None:
    """Give the nodes of micrograd 0.1.0's view (made only if someone read `_prev`) their grads."""
    if _LectureView.made:
        for node in order:
            if node._view is not None:
                node._view.sync(node)


def _backward_step(node: Value) -> None:
    """An engine node's `_backward()`: one step of the chain rule, as the lecture calls it by hand."""
    _exhaust(_propagate((node,)))
    if node._view is not None:
        node._view.sync(node)  # the lecture's constant leaves get their share too


def _propagate(order: Sequence[Value], create_graph: bool = False) -> Steps:
    """The chain rule, the one place gradients are accumulated: for each node of `order`
    (a topological order, walked backwards: children before parents), add
    d(node)/d(parent) * node.grad into each parent's grad. Yields each node with its local
    derivatives (None when it pushed nothing, or pushed by a hand-written `_backward`).

    A node's gradient is complete when the walk reaches it, so that is where it is checked
    for being finite (once per node, not per edge): the error names the node and the
    amounts that made it.
    """
    node = None
    try:
        for node in reversed(order):
            fn = node._fn
            if fn is None:  # a leaf, or a node built by hand
                if node._hand_backward is not None:  # the lecture's way: the op pushes its own gradient
                    if create_graph:
                        raise _built_by_hand(node)
                    node._hand_backward()
                    _check_hand_backward(node)
                elif not _finite(node.grad):
                    raise _nonfinite_gradient(node, order)
                yield node, None
                continue
            g = node.grad
            if g == 0.0:  # nothing to push (dead ReLU branches are common)
                yield node, None
                continue
            parents = node._parents
            partials = fn.partials
            local: Sequence[Any]
            args = node._args
            # Speed: the float first-order pass evaluates the derivatives of the common shapes
            # with as few calls as it can; the same derivatives on the same numbers.
            if create_graph or not fn.floats:
                if not _finite(g):
                    raise _nonfinite_gradient(node, order)
                local = _local_grads(node, create_graph)  # the general way: Values, users' ops
            elif g - g:  # inf - inf and nan - nan are nan: true only for a non-finite gradient
                raise _nonfinite_gradient(node, order)
            elif partials is None:  # one derivative for all operands (affine)
                if args is parents:
                    local = fn._derivative(*[p.data for p in parents], node.data)  # type: ignore[misc]
                else:  # constant inputs (a first layer fed plain numbers)
                    local = _local_grads(node)
            elif len(args) == 1:  # x.tanh(), x.relu(), ...
                local = (partials[0](parents[0].data, node.data),)
            elif len(args) == 2:
                a, b = args
                if args is parents:  # x * y
                    x, y = parents[0].data, parents[1].data
                    local = (partials[0](x, y, node.data), partials[1](x, y, node.data))
                elif a is parents[0]:  # x * 2, x + 1, x ** 2: a constant second
                    local = (partials[0](parents[0].data, b, node.data),)
                else:  # 2 ** y: a constant first
                    local = (partials[1](a, parents[0].data, node.data),)
            else:
                local = _local_grads(node)
            for parent, d in zip(parents, local):
                parent.grad += d * g
            yield node, local
    except (ArithmeticError, ValueError) as e:
        if isinstance(e, NonFiniteError) or node is None or node._fn is None or create_graph:
            raise
        _local_grads(node)  # a fast path's derivative failed: this raises it again, in words
        raise


class NonFiniteError(FloatingPointError):
    """A gradient (or an update) came out infinite or NaN. The message names the node and
    the numbers that produced it. (NumPy raises FloatingPointError for the same thing
    under `np.errstate(all="raise")`.)"""


def _data(x: Any) -> Any:
    """The number in a gradient: a float, or (with `create_graph`) a Value's data."""
    return x.data if isinstance(x, Value) else x


def _finite(x: Any) -> bool:
    """Whether a gradient (a float, or a Value with `create_graph`) is finite."""
    x = _data(x)
    return not (x - x)  # inf - inf and nan - nan are nan; any finite x gives 0


def _who(node: Value) -> str:
    """How a message names a node: its label, else its op."""
    label = node.label
    if label:
        return f"{label!r}"
    return f"the {node._name!r} node" if node._name else "a leaf"


def _describe(node: Value) -> str:
    """A node named, with its data: "'x' (a leaf, data 2.0)", "the 'log' node (data 0.5)"."""
    leaf = "a leaf, " if node.label and not node._parents else ""
    return f"{_who(node)} ({leaf}data {node.data!r})"


def _nonfinite_gradient(node: Value, order: Sequence[Value]) -> NonFiniteError:
    """The error for a node whose gradient came out non-finite, listing what was added into it."""
    terms = []
    for child in order:
        if not any(p is node for p in child._parents):
            continue
        if child._fn is None:
            terms.append(f"what the hand-written _backward of {_who(child)} added")
            continue
        try:
            local = _local_grads(child)
        except (ArithmeticError, ValueError) as e:
            terms.append(f"{_who(child)}, whose local derivative failed: {e}")
            continue
        for parent, d in zip(child._parents, local):
            if parent is node:
                g = _data(child.grad)
                terms.append(f"{d * g!r} from {_who(child)} (local derivative {d!r} x its grad {g!r})")
    made = f", the sum of: {'; '.join(terms[:6])}" + ("; ..." if len(terms) > 6 else "") if terms else ""
    return NonFiniteError(f"backward: the gradient of {_describe(node)} is {_data(node.grad)!r}{made}")


def _check_hand_backward(node: Value) -> None:
    """Right after a hand-written `_backward` ran: did it write a non-finite gradient?"""
    for parent in node._parents:
        if not _finite(parent.grad):
            raise NonFiniteError(
                f"backward: the hand-written _backward of {_describe(node)[:-1]}, grad {node.grad!r})"
                f" made the gradient of {_describe(parent)} {parent.grad!r}"
            )


def edge_gradients(node: Value, create_graph: bool = False) -> List[Any]:
    """What the chain rule adds into each parent's grad when `node` is processed:
    d(node)/d(parent) * node.grad, in `node.parents` order (Values with `create_graph`).
    The backward pass adds exactly these numbers; drawings and the stepper show them."""
    g = node.grad
    return [d * g for d in _local_grads(node, create_graph)]


def _local_grads(node: Value, create_graph: bool = False) -> Tuple[Any, ...]:
    """d(node)/d(parent) for each parent, from the op's derivatives: floats, or (with
    `create_graph`) Values, so the result can be differentiated again."""
    fn = node._fn
    if fn is None:
        raise _built_by_hand(node)
    args = node._args
    wrt = None if args is node._parents else [i for i, a in enumerate(args) if isinstance(a, Value)]
    if create_graph:
        return fn.derivatives(args, node, wrt)
    if not fn.floats:
        return _user_local_grads(fn, node, wrt)
    numbers = [a.data for a in args] if wrt is None else [a.data if isinstance(a, Value) else a for a in args]  # type: ignore[union-attr]
    try:
        return fn.derivatives(numbers, node.data, wrt)
    except OverflowError:
        raise NonFiniteError(
            f"the local derivative of {node._name} at {_show(numbers)} is too large for a float"
        ) from None
    except ZeroDivisionError as e:  # 1 / x at 0, x ** -0.5 at 0: the derivative is infinite there
        raise NonFiniteError(f"the local derivative of {node._name} at {_show(numbers)} is infinite ({e})") from None
    except (ArithmeticError, ValueError) as e:
        raise type(e)(f"the local derivative of {node._name} at {_show(numbers)} failed: {e}") from e


def _user_local_grads(fn: Primitive, node: Value, wrt: Optional[List[int]]) -> Tuple[float, ...]:
    """A user's derivative, written with Value arithmetic, evaluated without recording a
    graph; every way it can go wrong is reported in the terms the user wrote it in."""
    args = node._args
    at = _show([_number(a) for a in args])
    try:
        with no_grad():
            ds = fn.derivatives(args, node)
    except (ValueError, ZeroDivisionError, OverflowError) as e:
        raise type(e)(f"the derivative of {fn.name} failed at {at}: {e}") from e
    except TypeError as e:
        if "one value per argument" in str(e):
            raise
        raise TypeError(
            f"the derivative of {fn.name} failed: {e}. It receives Values (and numbers for constant"
            " arguments), so write it with Value arithmetic: x.cos(), not math.cos(x)"
        ) from e
    positions = range(len(args)) if wrt is None else wrt
    for i in positions:
        if not isinstance(ds[i], (Value, Real)):
            raise TypeError(f"the derivative of {fn.name} must give Values or numbers, got"
                            f" {type(ds[i]).__name__} for argument {i}: {ds[i]!r}")
    return tuple(_user_float(_number(ds[i]), f"d {fn.name} / d argument {i} at {at}") for i in positions)


def _built_by_hand(node: Value) -> ValueError:
    return ValueError(
        f"grad(create_graph=True) cannot differentiate through the {node._name or 'unnamed'!r} node {node!r}:"
        " it was built by hand without a derivative rule"
    )


def _exhaust(steps: Iterator[Any]) -> None:
    deque(steps, maxlen=0)  # runs the iterator to its end at C speed


# ---------------------------------------------------------------------------------------
# Gradients as Values (higher order)
# ---------------------------------------------------------------------------------------

def grad(output: Value, inputs: Union[Value, Sequence[Value]], create_graph: bool = False) -> Tuple[Value, ...]:
    """d(output)/d(input) for each input, as Values, leaving every `.grad` untouched.

    With `create_graph=True` the results are themselves nodes of a graph built from the
    inputs, so they can be differentiated again (second derivatives, Hessian-vector
    products); the ops' derivatives are then evaluated on Values instead of floats. An input
    that `output` does not depend on gets 0. This is the backward pass itself, run with
    every gradient set aside first and put back afterwards.
    """
    if not isinstance(output, Value):
        raise TypeError(f"grad needs a Value output, got {type(output).__name__}: {output!r}")
    inputs = (inputs,) if isinstance(inputs, Value) else tuple(inputs)
    for x in inputs:
        if not isinstance(x, Value):
            raise TypeError(f"grad needs Value inputs, got {type(x).__name__}: {x!r}")
    order = topological_order(output)
    saved = {node: node.grad for node in [*order, *inputs]}
    mode = is_grad_enabled()
    try:
        _set_grad_mode(mode or create_graph)  # a create_graph pass records its graph whatever the mode
        for node in saved:
            node.grad = 0.0
        _exhaust(_start_pass(order, create_graph, alone=False)[1])
        results = [x.grad for x in inputs]
    finally:
        _set_grad_mode(mode)
        for node, g in saved.items():
            node.grad = g
    return tuple(g if isinstance(g, Value) else Value(g) for g in results)


# ---------------------------------------------------------------------------------------
# The lecture's view: micrograd 0.1.0's graph, built on request
# ---------------------------------------------------------------------------------------

def _distinct(nodes: Tuple[Value, ...]) -> Tuple[Value, ...]:
    """The nodes without repeats, in order (0.1.0's `_prev` is a set: `a * a` has one child)."""
    if len(nodes) < 2 or (len(nodes) == 2 and nodes[0] is not nodes[1]):
        return nodes
    return tuple(dict.fromkeys(nodes))


def _shows_differently(node: Value) -> bool:
    """Whether 0.1.0 would have built this node from other nodes than the engine did."""
    fn = node._fn
    if fn is AFFINE:
        return len(node._args) > 1
    return fn is not None and fn.constant_nodes and node._args is not node._parents


class _LectureView:
    """micrograd 0.1.0's children of one engine node, made by rebuilding the node the way
    0.1.0 does (constants wrapped in leaf Values, a fused neuron as `*` and `+` nodes) with
    the ordinary ops, so every number and derivative in it comes from the table of ops.

    `top` is the rebuilt node (same op, same data as the engine's); the engine node shows
    `top`'s children as its own `_prev`. After each backward pass `sync` gives the rebuilt
    nodes the gradients 0.1.0 would have: it runs the chain rule from `top` through them,
    and puts back the grads of the engine node's real parents, which already have theirs.
    """

    made = False  # set once any view exists; until then backward() skips looking for them

    __slots__ = ("prev", "top", "interior")

    def __init__(self, node: Value) -> None:
        with enable_grad():  # the rebuilt nodes need their history
            if node._fn is AFFINE:
                args = node._args
                n = len(args) // 2
                top = cast(Value, args[-1])  # the bias
                for w, x in zip(args[:n], args[n:2 * n]):  # 0.1.0's sum((wi * xi for ...), b)
                    top = top + w * x  # a plain-number input is a constant of `*`: a new leaf per neuron
            else:
                operands = [a if isinstance(a, Value) else Value(a) for a in node._args]
                top = _node(node._fn, node.data, tuple(operands), name=node._name)  # type: ignore[arg-type]
        self.top = top
        self.prev = _distinct(top._parents)
        real = set(node._parents)
        self.interior = [v for v in topological_order(top, expand=lambda v: v not in real)
                         if v._parents and v not in real]
        _LectureView.made = True
        self.sync(node)

    def sync(self, node: Value) -> None:
        real = [(p, p.grad) for p in dict.fromkeys(node._parents)]
        for v in self.interior:
            v.grad = 0.0
        self.top.grad = node.grad
        _exhaust(_propagate(self.interior))
        for p, g in real:
            p.grad = g


# ---------------------------------------------------------------------------------------
# Gradient mode: per thread, as in PyTorch
# ---------------------------------------------------------------------------------------

F = TypeVar("F", bound=Callable[..., Any])


class _GradMode(threading.local):
    """One thread's grad mode: `off` is held while ops record no history, and `saved` is
    the stack of modes that the `with` blocks entered in this thread will restore."""

    def __init__(self) -> None:
        self.off: Optional[_Off] = None
        self.saved: List[bool] = []


class _Off:
    """Held by a thread while its grad mode is off. Counting the holders lets the hot path
    (`_node`) read one global instead of the thread-local mode while no thread has turned
    grad mode off; a thread that ends with grad mode off frees its `_Off`, so the count
    stays right."""

    def __init__(self) -> None:
        global _threads_off
        with _count_lock:
            _threads_off += 1

    def __del__(self) -> None:
        global _threads_off
        with _count_lock:
            _threads_off -= 1


_threads_off = 0  # how many threads have grad mode off: while 0, every thread records history
_count_lock = threading.RLock()  # re-entrant: an _Off may be freed (and count) while another counts
_mode = _GradMode()


def _set_grad_mode(enabled: bool) -> None:
    if enabled:
        _mode.off = None
    elif _mode.off is None:
        _mode.off = _Off()


def is_grad_enabled() -> bool:
    """Whether ops record history in this thread: False inside `no_grad()`."""
    return _mode.off is None


class _GradModeSwitch:
    """Context manager and decorator that sets this thread's grad mode for a block and then
    puts back the mode the block found. Each `with` saves its own state (on a per-thread
    stack), so a reused or nested instance restores correctly, and threads never see each
    other's mode."""

    enabled: bool

    def __enter__(self) -> "_GradModeSwitch":
        _mode.saved.append(is_grad_enabled())
        _set_grad_mode(self.enabled)
        return self

    def __exit__(self, *exc_info: object) -> None:
        _set_grad_mode(_mode.saved.pop())

    def __call__(self, fn: F) -> F:
        enabled = self.enabled

        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with set_grad_enabled(enabled):
                return fn(*args, **kwargs)

        return wrapper  # type: ignore[return-value]

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class no_grad(_GradModeSwitch):
    """Context manager (or decorator) inside which ops record no parents.

    Use it for evaluation and for parameter updates: the results are leaves, so no graph
    is kept alive. The mode belongs to the thread that enters it (as in PyTorch): other
    threads keep recording their graphs.
    """

    enabled = False


class enable_grad(_GradModeSwitch):
    """Context manager (or decorator) that turns history recording back on inside a
    `no_grad` block, for this thread."""

    enabled = True


class set_grad_enabled(_GradModeSwitch):
    """Turn this thread's grad mode on or off: at once when called (`set_grad_enabled(False)`),
    and for a block only when used with `with` (the mode is restored at its end)."""

    def __init__(self, mode: bool) -> None:
        if not isinstance(mode, bool):
            raise TypeError(f"set_grad_enabled needs True or False, got {type(mode).__name__}: {mode!r}")
        self.enabled = mode
        self._before: Optional[bool] = is_grad_enabled()  # what the first `with` restores
        _set_grad_mode(mode)

    def __enter__(self) -> "set_grad_enabled":
        before, self._before = self._before, None
        _mode.saved.append(is_grad_enabled() if before is None else before)
        _set_grad_mode(self.enabled)
        return self

    def __repr__(self) -> str:
        return f"set_grad_enabled({self.enabled})"
