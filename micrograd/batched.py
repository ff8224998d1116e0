"""Batched replay (vmap): one example's graph, evaluated for N examples at once with NumPy.

Write the loss of ONE example with Values, say which leaves hold the example (`inputs`),
and `run_batch` evaluates that graph for every row of a matrix `X` at once:

    x1, x2, y = Value(0.0), Value(0.0), Value(0.0)                  # one example's leaves
    loss = (1 + -y * model([x1, x2])).relu() + 1e-4 * sum(p * p for p in model.parameters())
    program = BatchedProgram(loss, [x1, x2, y])                     # read the graph once
    model.zero_grad()
    losses = program.run_batch(XY, reduction="mean")                # N losses; mean gradient in .grad

`losses[i]` is the loss of example `XY[i]`, and every parameter's `.grad` grows by the mean
over the batch of d loss_i / d parameter: what the eager loop (build the graph for each
example, `backward()`, divide the summed gradients by N) gives, to within 1e-12 relative.

How it works (the file in the same order):

1. **Two kinds of node.** The graph is read once (`topological_order`). A node that depends
   on an input holds one number per example (a float64 array of N); a node that does not
   (a parameter, the L2 term) is *shared*: one float, computed once per run from the
   leaves' current `.data` with the engine's own float formulas (in generated straight-line
   code that calls them, `_SharedCode`).
2. **Forward.** Each per-example node computes its N numbers at once: with NumPy for the
   ops NumPy computes bit for bit as Python does (arithmetic, relu, abs: `numpy_forwards`),
   with the op's own float formula on each number for the others (exp, tanh, log, **,
   yours). The affine nodes of a layer (the same inputs, shared weights) run as one matrix
   product, one NumPy call for the layer instead of 2n + 1 per neuron, and the layer's
   activations (one op on rows of that product) as one op on the whole matrix.
3. **Backward.** The chain rule, with each op's ONE written derivative (its `Primitive`'s
   partials). They are written with arithmetic and the generic functions `exp`, `log`,
   `where`, ..., which dispatch on their argument; handed `_Batch` arrays (the protocol
   Values and symbols follow) they compute N local derivatives at once, the same floats
   the engine computes one at a time. There is no second table of derivatives.
4. **Shared nodes and the reduction.** Every example's loss contains the shared nodes, so
   every example's gradient reaches them: what flows into a shared node from the
   per-example nodes is summed over the batch. The L2 term, for instance, gets gradient N
   (1 from each example) before the mean divides by N, so the mean of the per-example
   gradients holds its gradient once, exactly as `mean(data losses) + L2` would.
5. **Errors.** NumPy runs with floating-point errors raised. On one (or on a non-finite
   result) the batch is replayed one example at a time with the engine's float formulas,
   which raises what the engine raises (the same class), naming the example and the node, or, where the engine would not
   have failed (NumPy evaluates a derivative where the engine skips a zero gradient), gives
   the engine's numbers.

Inputs get no gradient and keep their `.data`; interior nodes keep their `.data` and `.grad`
(the graph is replayed, not written into). NumPy is an optional dependency:
`pip install "micrograd-lab[fast]"`.
"""

from __future__ import annotations

from numbers import Real
from typing import TYPE_CHECKING, Any, Callable, Dict, Generator, List, Optional, Sequence, Tuple, Union

from . import engine
from .arguments import one_of
from .engine import (
    ABS,
    ADD,
    AFFINE,
    LEAKY_RELU,
    MUL,
    RELU,
    NonFiniteError,
    Primitive,
    Value,
    cos,
    exp,
    log,
    no_grad,
    sigmoid,
    sin,
    tanh,
    topological_order,
)

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import NDArray

    Array = NDArray[np.float64]
else:
    Array = Any  # the same name at run time (typing.get_type_hints), without importing NumPy

__all__ = ["BatchedProgram", "run_batch", "numpy_forwards", "REDUCTIONS"]

REDUCTIONS = ("mean", "sum")
_INSTALL = 'pip install "micrograd-lab[fast]"'


def _require_numpy() -> None:
    try:
        import numpy  # noqa: F401
    except ImportError:
        raise ModuleNotFoundError(f"run_batch needs NumPy, an optional dependency: {_INSTALL}", name="numpy") from None


# ---------------------------------------------------------------------------------------
# N numbers at once, in the protocol the derivatives are written in
# ---------------------------------------------------------------------------------------

def _raw(x: Any) -> Any:
    return x.array if isinstance(x, _Batch) else x


def _each(f: Callable[[float], float], array: "Array") -> "Array":
    """`f` (a float function) on each number of `array`: exact, at about 0.1 us a number."""
    import numpy as np

    return np.fromiter(map(f, array.ravel().tolist()), dtype=np.float64, count=array.size).reshape(array.shape)


def _pairs(base: Any, exponent: Any) -> "Array":
    """base ** exponent, number by number, with Python's float power (either may be a float)."""
    import numpy as np

    if isinstance(exponent, np.ndarray):
        bases = base.ravel().tolist() if isinstance(base, np.ndarray) else [base] * exponent.size
        out = [float(b ** e) for b, e in zip(bases, exponent.ravel().tolist())]
        return np.array(out, dtype=np.float64).reshape(exponent.shape)
    return np.array([float(b ** exponent) for b in base.ravel().tolist()], dtype=np.float64).reshape(base.shape)


class _Batch:
    """A float64 array of N numbers dressed as one number for the ops' derivatives: the
    arithmetic, comparisons and methods (`exp`, `log`, ..., `where`) that Values and
    `micrograd.symbolic` symbols have, so that `engine.exp(x)` or `where(out > 0, 1.0, 0.0)`
    computes N results with one NumPy call. Like a symbol, it has no truth value."""

    __slots__ = ("array",)
    __array_ufunc__ = None  # a NumPy scalar on the left defers to our reflected ops

    def __init__(self, array: Any) -> None:
        self.array = array

    def __add__(self, other: Any) -> "_Batch":
        return _Batch(self.array + _raw(other))

    def __radd__(self, other: Any) -> "_Batch":
        return _Batch(_raw(other) + self.array)

    def __sub__(self, other: Any) -> "_Batch":
        return _Batch(self.array - _raw(other))

    def __rsub__(self, other: Any) -> "_Batch":
        return _Batch(_raw(other) - self.array)

    def __mul__(self, other: Any) -> "_Batch":
        return _Batch(self.array * _raw(other))

    def __rmul__(self, other: Any) -> "_Batch":
        return _Batch(_raw(other) * self.array)

    def __truediv__(self, other: Any) -> "_Batch":
        return _Batch(self.array / _raw(other))

    def __rtruediv__(self, other: Any) -> "_Batch":
        return _Batch(_raw(other) / self.array)

    # ** on each pair of numbers with Python's float power: NumPy's may differ in the last bit.

    def __pow__(self, other: Any) -> "_Batch":
        return _Batch(_pairs(self.array, _raw(other)))

    def __rpow__(self, other: Any) -> "_Batch":
        return _Batch(_pairs(_raw(other), self.array))

    def __neg__(self) -> "_Batch":
        return _Batch(-self.array)

    def __gt__(self, other: Any) -> "_Batch":
        return _Batch(self.array > _raw(other))

    def __lt__(self, other: Any) -> "_Batch":
        return _Batch(self.array < _raw(other))

    def __ge__(self, other: Any) -> "_Batch":
        return _Batch(self.array >= _raw(other))

    def __le__(self, other: Any) -> "_Batch":
        return _Batch(self.array <= _raw(other))

    # Identity equality, as for symbols: `y == 0.0` on a batch is False (POW's derivative
    # then takes its general formula, as it does for a Value exponent).
    __hash__ = object.__hash__

    def __bool__(self) -> bool:
        raise TypeError(
            "a batch of numbers has no single truth value: a derivative that branches on its"
            " operands must use micrograd.engine.where(condition, if_true, if_false)"
        )

    def where(self, if_true: Any, if_false: Any) -> "_Batch":
        """`if_true if self else if_false`, example by example (what `engine.where` calls)."""
        import numpy as np

        return _Batch(np.where(self.array, _raw(if_true), _raw(if_false)))

    # The generic functions on each number: the engine's own float function (engine.exp is
    # math.exp on a float), not NumPy's, which may differ in the last bit (see `numpy_forwards`).

    def exp(self) -> "_Batch":
        return _Batch(_each(exp, self.array))

    def log(self) -> "_Batch":
        return _Batch(_each(log, self.array))

    def sin(self) -> "_Batch":
        return _Batch(_each(sin, self.array))

    def cos(self) -> "_Batch":
        return _Batch(_each(cos, self.array))

    def tanh(self) -> "_Batch":
        return _Batch(_each(tanh, self.array))

    def sigmoid(self) -> "_Batch":
        return _Batch(_each(sigmoid, self.array))

    def __repr__(self) -> str:
        return f"_Batch({self.array!r})"


# ---------------------------------------------------------------------------------------
# The forward formulas NumPy computes exactly
# ---------------------------------------------------------------------------------------

_FORWARDS: Dict[Primitive, Callable[..., Any]] = {}
_BUILT_IN = {v for v in vars(engine).values() if isinstance(v, Primitive)}  # their forwards return floats


def numpy_forwards() -> Dict[Primitive, Callable[..., Any]]:
    """NumPy's spelling of the forward formulas that NumPy computes bit for bit as Python
    does (arithmetic and comparisons: +, *, relu, leaky_relu, abs, affine), keyed by the
    engine's `Primitive`. Every other op (exp, log, tanh, sigmoid, softplus, sin, cos, **,
    and ops made with `micrograd.primitive`) runs its own float formula on each number:
    NumPy's exp, tanh, log and power may differ from the C library's in the last bit, and a
    derivative such as 1 - tanh(x)**2 magnifies that near saturation (1e-9, not 1e-16)."""
    if _FORWARDS:
        return _FORWARDS
    _require_numpy()
    import numpy as np

    def affine(*args: Any) -> Any:  # b + w0*x0 + w1*x1 + ..., summed in the engine's order
        n = len(args) // 2
        z = args[-1]
        for w, x in zip(args[:n], args[n:2 * n]):
            z = z + w * x
        return z

    _FORWARDS.update({
        ADD: np.add, MUL: np.multiply, AFFINE: affine, ABS: np.abs,
        RELU: lambda x: np.where(x < 0, 0.0, x),  # 0.1.0's `0 if x < 0 else x`: relu(-0.0) is -0.0
        LEAKY_RELU: lambda x, a: np.where(x > 0, x, a * x),
    })
    return _FORWARDS


# ---------------------------------------------------------------------------------------
# The plan: every node with the slot its number lives in
# ---------------------------------------------------------------------------------------

class _Failure(Exception):
    """A formula failed, or gave a non-finite number, for one example: the message names the node.
    `forward` says it was the op's own formula (the engine raises its error as it is: ValueError
    for log(-1), OverflowError, ...), not a derivative (the engine's backward pass then raises
    NonFiniteError)."""

    def __init__(self, message: str, forward: bool = False) -> None:
        super().__init__(message)
        self.forward = forward


def _as_the_engine_raises(e: _Failure, message: str) -> Exception:
    """The error for a failed example, of the class the eager loop raises for it: an op's own
    formula failing raises as the engine's op does (ValueError for `log(-1)`, ZeroDivisionError
    for `1 / 0`, OverflowError), so `except ValueError` catches the same thing here as around the
    eager loop; a derivative or gradient that is not finite raises NonFiniteError, as backward()."""
    cause = e.__cause__
    if e.forward and isinstance(cause, (ValueError, ArithmeticError)) and not isinstance(cause, NonFiniteError):
        try:
            return type(cause)(message)
        except Exception:  # an exception class that wants other arguments: say it our way
            pass
    return NonFiniteError(message)


def _who(node: Value, index: int) -> str:
    """How a message names a node: its label, else its op and its place in the graph."""
    if node.label:
        return repr(node.label)
    return f"the {node.op!r} node (number {index} in topological order)" if node.op else f"leaf number {index}"


def _show(numbers: Sequence[Any]) -> str:
    return "(" + ", ".join(repr(float(x)) if isinstance(x, Real) else repr(x) for x in numbers) + ")"


class _Node:
    """One interior node as the replay sees it: its op, the slot its number lives in, and
    the slots of its operands (constants stay in `template`)."""

    __slots__ = ("value", "index", "slot", "fn", "template", "positions", "slots", "varying", "arrays",
                 "wrt", "wrt_slots", "wrt_varying", "formula")

    def __init__(self, value: Value, index: int, slot_of: Dict[Value, int], varying: List[bool],
                 needs_grad: List[bool]) -> None:
        self.value = value
        self.index = index
        self.slot = slot_of[value]
        self.fn: Primitive = value.primitive  # type: ignore[assignment]  # the caller refused nodes built by hand
        operands = value.operands
        self.template: Optional[List[Any]] = None
        if len(value.parents) < len(operands):  # constants among the operands
            self.template = [None if isinstance(a, Value) else a for a in operands]
        self.positions = [i for i, a in enumerate(operands) if isinstance(a, Value)]
        self.slots = [slot_of[a] for a in operands if isinstance(a, Value)]
        self.varying = varying[self.slot]
        self.arrays = [i for i, s in zip(self.positions, self.slots) if varying[s]]  # operands that are arrays
        # The operands whose gradient is wanted (parameters, and what leads to them; not inputs).
        wanted = [(i, s) for i, s in zip(self.positions, self.slots) if needs_grad[s]]
        self.wrt = [i for i, _ in wanted]
        self.wrt_slots = [s for _, s in wanted]
        self.wrt_varying = [varying[s] for _, s in wanted]
        self.formula: Optional[Callable[..., Any]] = None  # NumPy's forward, for a per-example node

    def args(self, vals: List[Any]) -> List[Any]:
        """The operands' current numbers: floats, and arrays for per-example operands."""
        if self.template is None:
            return [vals[s] for s in self.slots]
        args = list(self.template)
        for i, s in zip(self.positions, self.slots):
            args[i] = vals[s]
        return args

    def name(self) -> str:
        return _who(self.value, self.index)

    # --- one number at a time (a shared node, or one example): the engine's formulas -------

    def scalar_forward(self, vals: List[Any]) -> float:
        args = self.args(vals)
        try:
            out = float(self.fn.forward(*args))
        except (ArithmeticError, ValueError) as e:
            raise _Failure(f"{self.name()} failed on {_show(args)}: {e}", forward=True) from e
        if out - out:  # inf - inf and nan - nan are nan: true only for a non-finite result
            raise _Failure(f"{self.name()} gave {out!r}: {self.fn.name} of {_show(args)} is not finite")
        return out

    def scalar_partials(self, args: List[Any], out: float) -> Sequence[Any]:
        """The op's local derivatives with respect to the operands in `wrt`, on floats, as
        the engine's backward pass evaluates them (a user's op gets Values, as there)."""
        fn = self.fn
        try:
            if fn.floats:
                return fn.derivatives(args, out, self.wrt)
            with no_grad():
                operands = [Value(a) if i in self.positions else a for i, a in enumerate(args)]
                ds = fn.derivatives(operands, Value(out), self.wrt)
            return [float(d.data) if isinstance(d, Value) else float(d) for d in ds]
        except (ArithmeticError, ValueError) as e:
            raise _Failure(f"the local derivative of {self.name()} at {_show(args)} failed: {e}") from e

    # --- every example at once: NumPy ----------------------------------------------------

    def forward(self, vals: List[Any], n: int) -> None:
        args = self.args(vals)
        if self.formula is not None:
            vals[self.slot] = self.formula(*args)
            return
        import numpy as np  # the op's own float formula, one example at a time

        if len(args) == 1:
            vals[self.slot] = _each(self.fn.forward, args[0])
            return
        columns = [a.tolist() if i in self.arrays else [a] * n for i, a in enumerate(args)]
        vals[self.slot] = np.array([float(self.fn.forward(*row)) for row in zip(*columns)], dtype=np.float64)

    def backward(self, vals: List[Any], grads: List[Any]) -> None:
        g = grads[self.slot]
        if g is None:  # no gradient reached this node
            return
        import numpy as np

        args = self.args(vals)
        batch = list(args)
        for i in self.arrays:
            batch[i] = _Batch(args[i])
        try:
            ds = [_raw(d) for d in self.fn.derivatives(batch, _Batch(vals[self.slot]), self.wrt)]
            if not all(isinstance(d, (Real, np.ndarray)) for d in ds):
                raise TypeError("a derivative gave something that is neither numbers nor a number")
        except (TypeError, AttributeError):  # a user's derivative that needs real Values
            ds = self.partials_per_example(args, vals[self.slot])
        for s, d, per_example in zip(self.wrt_slots, ds, self.wrt_varying):
            if per_example:
                c = g if type(d) is float and d == 1.0 else d * g
                old = grads[s]
                grads[s] = c if old is None else old + c
            elif isinstance(d, np.ndarray):  # a shared operand gets the sum over the batch
                grads[s] += float(np.dot(d, g))
            else:
                grads[s] += float(d) * float(g.sum())

    def partials_per_example(self, args: List[Any], out: "Array") -> List[Any]:
        import numpy as np

        n = len(out)
        columns = [a.tolist() if i in self.arrays else [a] * n for i, a in enumerate(args)]
        try:
            rows = [self.scalar_partials(list(row), o) for row, o in zip(zip(*columns), out.tolist())]
        except _Failure as e:
            raise FloatingPointError(str(e)) from e  # the replay says which example
        return [np.array(ds, dtype=np.float64) for ds in zip(*rows)]


class _AffineGroup:
    """The affine nodes of one layer (the same inputs, shared weights and biases) as one
    matrix product: Z = W @ X + b, one row per neuron, one column per example."""

    __slots__ = ("slots", "w_slots", "b_slots", "x_slots", "x_constants", "x_varying", "x_needed",
                 "w_needed", "scratch", "k", "nin")

    def __init__(self, members: List[_Node], scratch: int, needs_grad: List[bool], varying: List[bool]) -> None:
        first = members[0]
        operands = first.value.operands
        self.nin = nin = (len(operands) - 1) // 2
        self.k = len(members)
        self.slots = [m.slot for m in members]
        slot_at = [dict(zip(m.positions, m.slots)) for m in members]
        self.w_slots = [at[j] for at in slot_at for j in range(nin)]  # row by row: W[i, j]
        self.b_slots = [at[2 * nin] for at in slot_at]
        self.x_slots: List[Optional[int]] = [slot_at[0].get(nin + j) for j in range(nin)]  # None: a constant
        self.x_constants = [None if isinstance(x, Value) else x for x in operands[nin:2 * nin]]
        self.x_varying = [s is not None and varying[s] for s in self.x_slots]
        self.x_needed = [s is not None and needs_grad[s] for s in self.x_slots]
        self.w_needed = any(needs_grad[s] for s in self.w_slots + self.b_slots)
        self.scratch = scratch  # the slot that keeps W and X for the backward pass

    def forward(self, vals: List[Any], n: int) -> None:
        import numpy as np

        w = np.array([vals[s] for s in self.w_slots], dtype=np.float64).reshape(self.k, self.nin)
        b = np.array([vals[s] for s in self.b_slots], dtype=np.float64)
        x = np.empty((self.nin, n))
        for j, (s, c) in enumerate(zip(self.x_slots, self.x_constants)):
            x[j] = c if s is None else vals[s]  # a shared or constant input is the same in every example
        z = w @ x
        z += b[:, None]
        vals[self.scratch] = (w, x, z)
        for s, row in zip(self.slots, z):
            vals[s] = row

    def backward(self, vals: List[Any], grads: List[Any]) -> None:
        import numpy as np

        rows = [grads[s] for s in self.slots]
        if all(r is None for r in rows):
            return
        w, x, _ = vals[self.scratch]
        zero = np.zeros(x.shape[1])
        g = np.stack([zero if r is None else r for r in rows])  # (neurons, examples)
        if self.w_needed:
            for s, d in zip(self.w_slots, (g @ x.T).ravel().tolist()):  # summed over the batch
                grads[s] += d
            for s, d in zip(self.b_slots, g.sum(axis=1).tolist()):
                grads[s] += d
        if any(self.x_needed):
            dx = w.T @ g
            for slot, needed, per_example, row in zip(self.x_slots, self.x_needed, self.x_varying, dx):
                if not needed or slot is None:
                    continue
                if per_example:
                    old = grads[slot]
                    grads[slot] = row if old is None else old + row
                else:
                    grads[slot] += float(row.sum())


class _SharedCode:
    """The shared nodes' forward and backward passes as straight-line Python, one line per
    node and per chain-rule step (`v12 = F3(vals[7], v9)`, `g9 += P5(vals[7], v9, v12) * g12`):
    the calls the interpreted loop makes, to the ops' own forward functions and partials
    (called, not copied), without the loop's overhead per node. It is one generator: the
    forward pass, a `yield` while the per-example part runs, then the backward pass, so the
    values stay in local variables between the two. A graph whose shared part is very large
    keeps the loop (compiling the source would take longer than it saves)."""

    LIMIT = 20_000  # shared nodes; beyond it the loop runs them

    def __init__(self, shared: List[_Node], backward: List[_Node], leaf_slots: List[int],
                 read_outside: Sequence[int]) -> None:
        names: Dict[int, str] = {}
        namespace: Dict[str, Any] = {}
        made = {m.slot for m in shared}

        def ref(obj: Any, prefix: str) -> str:
            name = names.get(id(obj))
            if name is None:
                name = names[id(obj)] = f"{prefix}{len(names)}"
                namespace[name] = obj
            return name

        def args(m: _Node) -> List[str]:  # a leaf's number is read from vals where it is used
            shown = [repr(a) for a in m.template] if m.template is not None else [""] * len(m.slots)
            for i, s in zip(m.positions, m.slots):
                shown[i] = f"v{s}" if s in made else f"vals[{s}]"
            return shown

        lines = ["def run(vals):"]
        for m in shared:
            call = f"{ref(m.fn.forward, 'F')}({', '.join(args(m))})"
            lines.append(f" v{m.slot} = {call}" if m.fn in _BUILT_IN else f" v{m.slot} = float({call})")
        lines += [f" vals[{s}] = v{s}" for s in sorted(made.intersection(read_outside))]
        # Yields the sum of the shared values (finite if every one is), and is sent the gradients.
        lines.append(f" grads = yield sum(({''.join(f'v{m.slot}, ' for m in shared)}))")
        pushed = sorted({m.slot for m in backward} | {s for m in backward for s in m.wrt_slots})
        reached = [s for s in pushed if s in read_outside]  # what the per-example part added to
        rest = [s for s in pushed if s not in read_outside]
        lines += [f" g{s} = grads[{s}]" for s in reached] + ([f" {' = '.join(f'g{s}' for s in rest)} = 0.0"]
                                                             if rest else [])
        for m in backward:
            a, g = args(m), f"g{m.slot}"
            lines.append(f" if {g}:")  # 0.0 pushes nothing, as in the engine (NaN does: it is caught later)
            fn = m.fn
            if fn.floats and fn.partials is not None:
                for i, s in zip(m.wrt, m.wrt_slots):
                    lines.append(f"  g{s} += {ref(fn.partials[i], 'P')}({', '.join(a)}, v{m.slot}) * {g}")
                continue
            how = f"{ref(fn.derivatives, 'D')}([{', '.join(a)}], v{m.slot}, {m.wrt!r})" if fn.floats else \
                f"{ref(m.scalar_partials, 'S')}([{', '.join(a)}], v{m.slot})"
            lines.append(f"  d = {how}")
            lines += [f"  g{s} += d[{j}] * {g}" for j, s in enumerate(m.wrt_slots)]
        lines += [f" grads[{s}] = g{s}" for s in leaf_slots if s in pushed] + [" yield 0.0"]
        exec(compile("\n".join(lines), "<micrograd.batched shared nodes>", "exec"), namespace)  # noqa: S102 - our own source
        self.run: Callable[[List[Any]], Generator[float, Any, None]] = namespace["run"]


class _UnaryBlock:
    """The same one-operand op (relu, tanh, ...) on rows of one affine group: a layer's
    activations, as one op on the group's (neurons x examples) matrix, forward and back."""

    __slots__ = ("fn", "formula", "slots", "operand_slots", "rows", "group_scratch", "scratch", "needed")

    def __init__(self, members: List[_Node], group: _AffineGroup, scratch: int, needs_grad: List[bool]) -> None:
        self.fn = members[0].fn
        self.formula = numpy_forwards().get(self.fn)
        self.slots = [m.slot for m in members]
        self.operand_slots = [m.slots[0] for m in members]
        rows = [group.slots.index(s) for s in self.operand_slots]
        self.rows: Optional[List[int]] = None if rows == list(range(group.k)) else rows
        self.group_scratch = group.scratch
        self.scratch = scratch
        self.needed = [needs_grad[s] for s in self.operand_slots]

    def forward(self, vals: List[Any], n: int) -> None:
        z = vals[self.group_scratch][2]
        if self.rows is not None:
            z = z[self.rows]
        out = self.formula(z) if self.formula is not None else _each(self.fn.forward, z)
        vals[self.scratch] = (z, out)
        for s, row in zip(self.slots, out):
            vals[s] = row

    def backward(self, vals: List[Any], grads: List[Any]) -> None:
        import numpy as np

        rows = [grads[s] for s in self.slots]
        if all(r is None for r in rows):
            return
        z, out = vals[self.scratch]
        zero = np.zeros(out.shape[1])
        (d,) = self.fn.derivatives([_Batch(z)], _Batch(out), [0])
        pushed = _raw(d) * np.stack([zero if r is None else r for r in rows])
        for s, needed, row in zip(self.operand_slots, self.needed, pushed):
            if needed:
                old = grads[s]
                grads[s] = row if old is None else old + row


_Step = Union[_Node, _AffineGroup, _UnaryBlock]


class BatchedProgram:
    """One example's graph, read once, to be evaluated for a whole batch by `run_batch`.

    Args:
        root: the per-example result (a loss), a Value.
        inputs: the leaves that hold one example: column j of `X` goes into `inputs[j]`.
            Every other leaf is a parameter, whose gradient is accumulated.

    The graph's structure is read now, its numbers at every run (the parameters' current
    `.data`), so one program serves every training step. Raises TypeError or ValueError for
    a root or inputs that do not fit, and for a node built by hand with a lecture-style
    `_backward` (its derivative is hidden in a function: make the op a `micrograd.primitive`).

    Attributes: `root`, `inputs`, `parameters` (the other leaves, in topological order) and
    `replays`, the number of runs that NumPy could not do and the replay one example at a
    time did (see the module's docstring).
    """

    def __init__(self, root: Value, inputs: Sequence[Value]) -> None:
        _require_numpy()
        if not isinstance(root, Value):
            raise TypeError(f"run_batch needs a Value root, got {type(root).__name__}: {root!r}")
        if isinstance(inputs, (str, bytes, Value)) or not isinstance(inputs, Sequence):
            raise TypeError(f"run_batch inputs must be a list of leaf Values, got {type(inputs).__name__}: {inputs!r}")
        order = topological_order(root)
        slot_of = {v: i for i, v in enumerate(order)}
        self.root = root
        self.inputs: Tuple[Value, ...] = tuple(inputs)
        self._check_inputs(slot_of)
        for index, v in enumerate(order):
            if v.primitive is None and not v.is_leaf:
                raise ValueError(
                    f"run_batch cannot replay {_who(v, index)}: it was built by hand (Value(data, children, op)),"
                    " so its derivative, if any, lives in a hand-written _backward, which works on one number;"
                    " define the op with micrograd.primitive (a forward formula and its derivative) to batch it"
                )
        size = len(order)
        input_slots = {slot_of[x] for x in self.inputs}
        varying = [False] * size  # depends on an input: one number per example
        needs_grad = [False] * size  # leads to a parameter: its gradient is wanted
        for i, v in enumerate(order):
            if v.is_leaf:
                varying[i] = i in input_slots
                needs_grad[i] = not varying[i]
            else:
                parents = [slot_of[p] for p in v.parents]
                varying[i] = any(varying[p] for p in parents)
                needs_grad[i] = any(needs_grad[p] for p in parents)
        self._size = size
        self._root = slot_of[root]
        self._varying_root = varying[self._root]
        self._input_slots = [slot_of[x] for x in self.inputs]
        self.parameters: Tuple[Value, ...] = tuple(v for i, v in enumerate(order) if v.is_leaf and not varying[i])
        self._leaf_slots = [slot_of[p] for p in self.parameters]
        nodes = [_Node(v, i, slot_of, varying, needs_grad) for i, v in enumerate(order) if not v.is_leaf]
        self._shared = [m for m in nodes if not m.varying]
        self._shared_backward = [m for m in reversed(self._shared) if needs_grad[m.slot] and m.wrt]
        self._replay_backward = [m for m in reversed(nodes) if needs_grad[m.slot] and m.wrt]
        self._per_example = [m for m in nodes if m.varying]
        self._forward: List[_Step] = []
        self._backward: List[_Step] = []
        self._groups = 0
        self.replays = 0
        self._plan(needs_grad, varying)
        # The shared slots the per-example part reads (operands) or adds gradient to, and the root.
        outside = {s for m in self._per_example for s in m.slots if not varying[s]} | {self._root}
        small = len(self._shared) <= _SharedCode.LIMIT
        self._code = _SharedCode(self._shared, self._shared_backward, self._leaf_slots, sorted(outside)) \
            if small else None

    def _check_inputs(self, slot_of: Dict[Value, int]) -> None:
        seen: Dict[Value, int] = {}
        for j, x in enumerate(self.inputs):
            if not isinstance(x, Value):
                raise TypeError(f"run_batch inputs[{j}] must be a leaf Value, got {type(x).__name__}: {x!r}")
            name = f"inputs[{j}]" + (f" ({x.label!r})" if x.label else "")
            if x in seen:
                raise ValueError(f"run_batch {name} is inputs[{seen[x]}] again: each input takes its own column of X")
            seen[x] = j
            if x not in slot_of:
                raise ValueError(f"run_batch {name} is not in the graph of the root: the root does not depend on it")
            if not x.is_leaf:
                raise ValueError(
                    f"run_batch {name} is not a leaf but the result of {x.op!r}: an input must be a leaf Value"
                    " that each example's numbers are written into"
                )

    def _plan(self, needs_grad: List[bool], varying: List[bool]) -> None:
        """The per-example steps in topological order. Affine nodes with the same inputs and
        shared weights become one group, which runs where its first member was."""
        forwards = numpy_forwards()
        groups: Dict[Any, List[_Node]] = {}
        for m in self._per_example:
            if m.fn is AFFINE and _shared_weights(m, varying):
                nin = (len(m.value.operands) - 1) // 2
                key = tuple(m.value.operands[nin:2 * nin])  # Values by identity, constants by value
                groups.setdefault(key, []).append(m)
        # A built-in one-operand op on rows of a group: a layer's activations, as one block.
        group_of = {m.slot: key for key, members in groups.items() for m in members}
        blocks: Dict[Tuple[Any, ...], List[_Node]] = {}
        for m in self._per_example:
            if m.fn in _BUILT_IN and m.template is None and len(m.slots) == 1 and m.slots[0] in group_of:
                blocks.setdefault((group_of[m.slots[0]], m.fn), []).append(m)
        first: Dict[int, Tuple[str, Tuple[Any, ...]]] = {id(members[0]): ("group", key) for key, members in
                                                         groups.items()}
        first.update({id(members[0]): ("block", key) for key, members in blocks.items()})
        grouped = {id(m) for members in [*groups.values(), *blocks.values()] for m in members}
        made: Dict[Any, _AffineGroup] = {}
        scratch = self._size
        for m in self._per_example:
            if id(m) in first:
                kind, key = first[id(m)]
                step: _Step
                if kind == "group":
                    step = made[key] = _AffineGroup(groups[key], scratch, needs_grad, varying)
                else:  # its group ran before: the group's first member comes before the block's
                    step = _UnaryBlock(blocks[key], made[key[0]], scratch, needs_grad)
                scratch += 1
                self._forward.append(step)
                if any(needs_grad[s] for s in step.slots):
                    self._backward.append(step)
            elif id(m) not in grouped:
                m.formula = forwards.get(m.fn)
                self._forward.append(m)
                if needs_grad[m.slot] and m.wrt:
                    self._backward.append(m)
        self._backward.reverse()
        self._groups = len(groups)
        self._slots = scratch
        # Where a run's gradients start: 0.0 for a shared node, None (no array yet) per example.
        self._grads: List[Any] = [None if v else 0.0 for v in varying] + [None] * (scratch - self._size)

    # --- running -----------------------------------------------------------------------

    def run_batch(self, X: Any, reduction: str = "mean") -> "Array":
        """Evaluate the graph for every row of `X` (shape N x len(inputs)) and add the mean
        (`reduction="mean"`) or the sum (`"sum"`) over the batch of each parameter's
        gradient into its `.grad` (it accumulates, as with `backward()`: call `zero_grad()`
        first). Returns the N root values as a float64 NumPy array.

        Raises ValueError for an X of the wrong shape or with NaN or infinity in it. Where the
        eager loop would fail on some example, raises what the engine raises there, of the
        same class (ValueError for `log` of a negative number, ZeroDivisionError, NonFiniteError
        for a value or gradient that is not finite), naming the example and the node, with the
        engine's own error as its cause.
        """
        import numpy as np

        one_of("run_batch reduction", reduction, REDUCTIONS)
        xt = self._matrix(X)
        n = xt.shape[1]
        vals: List[Any] = [None] * self._slots
        for s, p in zip(self._leaf_slots, self.parameters):
            vals[s] = float(p.data)
        self._check_parameters(vals)
        for s, column in zip(self._input_slots, xt):
            vals[s] = column
        shared = self._shared_forward(vals)
        try:
            with np.errstate(over="raise", divide="raise", invalid="raise", under="ignore"):
                roots, totals = self._run_arrays(vals, n, shared)
            if not (np.isfinite(roots).all() and np.isfinite(totals).all()):
                raise FloatingPointError("a non-finite result")
        except (ArithmeticError, ValueError):  # NumPy's floating-point error: the engine's view of it
            roots, totals = self._replay(vals, xt)
        mean = reduction == "mean"
        for p, total in zip(self.parameters, totals.tolist()):
            p.grad += total / n if mean else total
        return roots

    def _shared_forward(self, vals: List[Any]) -> Optional[Generator[float, Any, None]]:
        """The shared nodes' values, from the parameters' data: by the generated code (it is
        returned, paused before its backward pass), or by the loop, which also names the
        node when a value is not finite."""
        if self._code is not None:
            run = self._code.run(vals)
            try:
                total = next(run)
                if not total - total:  # every shared value is finite (or their sum overflowed: the loop looks)
                    return run
            except (ArithmeticError, ValueError):
                pass
        self._shared_loop(vals)
        return None

    def _shared_loop(self, vals: List[Any]) -> None:
        try:
            for m in self._shared:
                vals[m.slot] = m.scalar_forward(vals)
        except _Failure as e:
            raise _as_the_engine_raises(e, f"run_batch: {e}") from e.__cause__

    def _run_arrays(self, vals: List[Any], n: int, shared: Optional[Generator[float, Any, None]]
                    ) -> Tuple["Array", "Array"]:
        import numpy as np

        for step in self._forward:
            step.forward(vals, n)
        out = vals[self._root]
        roots = np.array(out, dtype=np.float64) if self._varying_root else np.full(n, out, dtype=np.float64)
        grads = list(self._grads)
        grads[self._root] = np.ones(n) if self._varying_root else float(n)  # each example's seed is 1
        for step in self._backward:
            step.backward(vals, grads)
        try:
            if shared is not None:
                shared.send(grads)
            else:
                for m in self._shared_backward:
                    g = grads[m.slot]
                    if g == 0.0:  # nothing to push, as in the engine
                        continue
                    for s, d in zip(m.wrt_slots, m.scalar_partials(m.args(vals), vals[m.slot])):
                        grads[s] += d * g
        except _Failure as e:
            raise FloatingPointError(str(e)) from e
        totals = np.array([grads[s] for s in self._leaf_slots], dtype=np.float64)
        return roots, totals

    def _replay(self, vals: List[Any], xt: "Array") -> Tuple["Array", "Array"]:
        """The eager loop, one example at a time, with the engine's float formulas, its
        order, and its rule of skipping a zero gradient: it names the example and node that
        fail, or gives the engine's numbers where only NumPy's evaluation failed."""
        import numpy as np

        self.replays += 1
        self._shared_loop(vals)  # every shared value (the generated code keeps most to itself)
        shared: List[Any] = [v if isinstance(v, float) else None for v in vals]
        roots, totals = [], [0.0] * len(self._leaf_slots)
        for i, row in enumerate(xt.T.tolist()):
            v = list(shared)
            for s, x in zip(self._input_slots, row):
                v[s] = x
            try:
                for m in self._per_example:
                    v[m.slot] = m.scalar_forward(v)
                g = [0.0] * self._size
                g[self._root] = 1.0
                for m in self._replay_backward:
                    gm = g[m.slot]
                    if gm == 0.0:
                        continue
                    if gm - gm:
                        raise _Failure(f"the gradient of {m.name()} is {gm!r}")
                    for s, d in zip(m.wrt_slots, m.scalar_partials(m.args(v), v[m.slot])):
                        g[s] += d * gm
                for k, s in enumerate(self._leaf_slots):
                    if g[s] - g[s]:
                        raise _Failure(f"the gradient of {_who(self.parameters[k], s)} is {g[s]!r}")
                    totals[k] += g[s]
            except _Failure as e:
                message = f"run_batch: example {i} (row {i} of X: {_show(row)}): {e}"
                raise _as_the_engine_raises(e, message) from e.__cause__
            roots.append(v[self._root])
        for k, total in enumerate(totals):
            if total - total:
                raise NonFiniteError(
                    f"run_batch: the gradient of {_who(self.parameters[k], self._leaf_slots[k])}, summed over"
                    f" the batch, is {total!r} (every example's own gradient is finite)"
                )
        return np.array(roots, dtype=np.float64), np.array(totals, dtype=np.float64)

    # --- checks --------------------------------------------------------------------------

    def _matrix(self, X: Any) -> "Array":
        """X as a contiguous (inputs x examples) float64 array: one row per input."""
        import numpy as np

        k = len(self.inputs)
        names = ", ".join(x.label or f"inputs[{j}]" for j, x in enumerate(self.inputs))
        try:
            a = np.asarray(X)
        except ValueError as e:  # ragged rows
            raise ValueError(f"run_batch: X must be an N x {k} array of numbers (columns: {names}): {e}") from None
        if a.dtype.kind == "O":
            try:
                a = a.astype(np.float64)
            except (TypeError, ValueError) as e:
                raise TypeError(f"run_batch: X must hold real numbers: {e}") from None
        elif a.dtype.kind not in "iuf":
            raise TypeError(f"run_batch: X must hold real numbers, got an array of {a.dtype}")
        if a.ndim != 2 or a.shape[1] != k:
            hint = " (for one input, X.reshape(-1, 1))" if a.ndim == 1 and k == 1 else ""
            raise ValueError(
                f"run_batch: X must have shape (N, {k}): one row per example, one column per input ({names});"
                f" got shape {a.shape}{hint}"
            )
        if a.shape[0] == 0:
            raise ValueError("run_batch: X has no rows; it needs at least one example")
        a = a.astype(np.float64, copy=False)
        finite = np.isfinite(a)
        if not finite.all():
            r, c = (int(i) for i in np.argwhere(~finite)[0])
            raise ValueError(f"run_batch: X must be finite, got {float(a[r, c])!r} in row {r}, column {c}"
                             f" ({self.inputs[c].label or f'inputs[{c}]'})")
        return np.ascontiguousarray(a.T)

    def _check_parameters(self, vals: List[Any]) -> None:
        total = sum(vals[s] for s in self._leaf_slots)
        if not total - total:
            return  # every parameter is finite (a sum that overflowed is looked at below)
        for k, s in enumerate(self._leaf_slots):
            if vals[s] - vals[s]:
                raise ValueError(f"run_batch: {_who(self.parameters[k], s)} has non-finite data {vals[s]!r}"
                                 " (was .data set by hand?)")

    def __repr__(self) -> str:
        shared = len(self._shared) + len(self.parameters)
        return (f"BatchedProgram({self._size} nodes: {self._size - shared} per example, {shared} shared;"
                f" {len(self.inputs)} inputs, {len(self.parameters)} parameters; {self._groups} matrix products)")


def _shared_weights(node: _Node, varying: List[bool]) -> bool:
    """Whether an affine node's weights and bias are the same in every example, so that
    the neurons with its inputs can make one matrix product."""
    nin = (len(node.value.operands) - 1) // 2
    slot_at = dict(zip(node.positions, node.slots))
    return all(i in slot_at and not varying[slot_at[i]] for i in [*range(nin), 2 * nin])  # w0..wn-1, b


def run_batch(program: Any, X: Any, reduction: str = "mean", inputs: Optional[Sequence[Value]] = None) -> "Array":
    """Evaluate one example's graph for every row of `X` at once, and add the mean (or the
    sum) over the batch of each parameter's gradient into its `.grad`.

    `program` is a `BatchedProgram`; or a root Value, with `inputs` the leaves that take
    the columns of `X` (the graph is read anew at each call: make a `BatchedProgram` to
    reuse it); or any object with `.root` and `.inputs` (a compiled `Program`), on which
    the plan is kept, in the attribute `_batched_program`, for the next call. Returns the N
    root values as a float64 NumPy array; `BatchedProgram.run_batch` lists the errors.
    """
    if isinstance(program, BatchedProgram):
        plan = program
    elif isinstance(program, Value):
        if inputs is None:
            raise TypeError("run_batch(root, X) needs inputs=[...]: the leaves that take the columns of X")
        plan = BatchedProgram(program, inputs)
    elif hasattr(program, "root") and hasattr(program, "inputs"):
        cached = getattr(program, "_batched_program", None)
        if isinstance(cached, BatchedProgram) and cached.root is program.root and \
                cached.inputs == tuple(program.inputs):
            plan = cached
        else:
            plan = BatchedProgram(program.root, program.inputs)
            try:
                program._batched_program = plan
            except AttributeError:  # an object with __slots__: no cache, a new plan each call
                pass
    else:
        raise TypeError(f"run_batch needs a BatchedProgram, a Program or a root Value, got"
                        f" {type(program).__name__}: {program!r}")
    if inputs is not None and plan.inputs != tuple(inputs):
        raise ValueError("run_batch: inputs= is for a root Value; this program has inputs of its own")
    return plan.run_batch(X, reduction)
