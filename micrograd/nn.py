"""Neurons, layers and multi-layer perceptrons built from `Value`s.

Drop-in compatible with micrograd 0.1.0: the same signatures, reprs and default
initialisation (each weight `random.uniform(-1, 1)` from Python's global `random`, in the
same order; bias 0), so the same seed gives the same model and the same numbers.
"""

from __future__ import annotations

import math
import random
from numbers import Real
from typing import Any, Dict, Iterator, List, Mapping, Optional, Sequence, Tuple, Union, cast

from .arguments import finite_float, flag, positive_int
from .engine import Operand, Value, affine

__all__ = ["Module", "Neuron", "Layer", "MLP", "BatchNorm1d", "Activation", "Sequential", "ACTIVATIONS", "INITS"]

Input = Union[Value, float, Sequence[Union[Value, float]]]

ACTIVATIONS = {"relu": Value.relu, "tanh": Value.tanh, "sigmoid": Value.sigmoid, "linear": None}
_REPR_NAMES = {"relu": "ReLU", "tanh": "Tanh", "sigmoid": "Sigmoid", "linear": "Linear"}

# Weight init: the half-width of the uniform interval, given the neuron's fan-in.
INITS = {
    "uniform": lambda nin: 1.0,  # micrograd 0.1.0
    "kaiming": lambda nin: math.sqrt(6.0 / nin),  # He et al. 2015, for ReLU: Var(w) = 2 / fan_in
    "lecun": lambda nin: math.sqrt(3.0 / nin),  # LeCun 1998, for tanh/sigmoid/linear: Var(w) = 1 / fan_in
}


class Module:
    """Base class: anything with parameters.

    Submodules are found by looking at the attributes (a Module, or a list of Modules), so
    `train()`, `eval()`, `state_dict()` and `batch()` work for subclasses you write too.
    """

    training = True  # the mode set by train()/eval(); a class default so 0.1.0 subclasses need no __init__

    def zero_grad(self) -> None:
        """Set every parameter's gradient to 0 (call it before each `backward()`)."""
        for p in self.parameters():
            p.grad = 0.0

    def parameters(self) -> List[Value]:
        """The trainable Values, in a fixed order."""
        return []

    def named_parameters(self) -> Iterator[Tuple[str, Value]]:
        """(name, parameter) pairs, in `parameters()` order, named like PyTorch's."""
        for i, p in enumerate(self.parameters()):
            yield str(i), p

    def _named_parameters_of_children(self) -> Iterator[Tuple[str, Value]]:
        """Each submodule's named parameters, prefixed by its name in `named_children()`:
        the naming of every container (Layer, MLP, Sequential)."""
        for prefix, m in self.named_children():
            for name, p in m.named_parameters():
                yield f"{prefix}.{name}", p

    # --- submodules and modes ------------------------------------------------------------

    def named_children(self) -> Iterator[Tuple[str, "Module"]]:
        """The direct submodules, named by attribute (`layers.0` for an item of a list)."""
        for attr, v in vars(self).items():
            if isinstance(v, Module):
                yield attr, v
            elif isinstance(v, (list, tuple)):
                for i, m in enumerate(v):
                    if isinstance(m, Module):
                        yield f"{attr}.{i}", m

    def children(self) -> Iterator["Module"]:
        """The direct submodules."""
        for _, m in self.named_children():
            yield m

    def train(self, mode: bool = True) -> "Module":
        """Set training mode (the default) on this module and every submodule; returns self.

        Only some modules behave differently: BatchNorm1d normalises with the batch's own
        statistics in training mode and with its running statistics in evaluation mode.
        """
        self.training = bool(mode)
        for m in self.children():
            m.train(mode)
        return self

    def eval(self) -> "Module":
        """Set evaluation mode (`train(False)`); returns self."""
        return self.train(False)

    def batch(self, xs: Sequence[Input]) -> List[Union[Value, List[Value]]]:
        """The outputs for a whole mini-batch: `model.batch(X)` is `[model(x) for x in X]`,
        except that modules that look across the batch (BatchNorm1d) see all of it at once."""
        return [self(x) for x in xs]  # type: ignore[operator]

    # --- state: the numbers that define a trained module ---------------------------------

    def named_buffers(self) -> Iterator[Tuple[str, Value]]:
        """State that is not trained by gradients (BatchNorm1d's running statistics), as
        (name, Value) pairs. Buffers are in `state_dict()` but not in `parameters()`."""
        for prefix, m in self.named_children():
            for name, b in m.named_buffers():
                yield f"{prefix}.{name}", b

    def state_dict(self) -> Dict[str, float]:
        """Every parameter and buffer as {name: float}, in `named_parameters()` order, then the
        buffers. The floats are copies: changing the dict does not change the module."""
        state = {name: p.data for name, p in self.named_parameters()}
        for name, b in self.named_buffers():
            state[name] = b.data
        return state

    def load_state_dict(self, state_dict: Mapping[str, float]) -> None:
        """Set every parameter and buffer from `state_dict` (as made by `state_dict()`).

        All of it is checked first (the same names, each a finite real number), so on any
        error nothing is changed and the error says which name and value are wrong.
        """
        if not isinstance(state_dict, Mapping):
            raise TypeError(f"load_state_dict needs a dict of name -> number, got {type(state_dict).__name__}")
        targets = dict(self.named_parameters())
        targets.update(self.named_buffers())
        missing = [k for k in targets if k not in state_dict]
        unexpected = [k for k in state_dict if k not in targets]
        if missing or unexpected:
            raise ValueError(
                f"load_state_dict: the state does not fit {type(self).__name__}"
                f" ({len(targets)} entries expected, {len(state_dict)} given):"
                f" missing {_some(missing)}, unexpected {_some(unexpected)}"
            )
        values: Dict[str, float] = {}
        for name, v in state_dict.items():
            if isinstance(v, bool) or not isinstance(v, Real):
                raise TypeError(f"load_state_dict: {name!r} must be a real number, got {type(v).__name__}: {v!r}")
            if not math.isfinite(v):
                raise ValueError(f"load_state_dict: {name!r} must be finite, got {v!r}")
            values[name] = float(v)
        for name, v in values.items():
            targets[name].data = v


def _some(names: List[str], limit: int = 5) -> str:
    """Up to `limit` names for an error message, with a count of the rest."""
    if not names:
        return "none"
    shown = ", ".join(map(repr, names[:limit]))
    return f"[{shown}, and {len(names) - limit} more]" if len(names) > limit else f"[{shown}]"


def _short_name(module: Module) -> str:
    """A one-line name for error messages (an MLP's full repr runs to hundreds of characters)."""
    if isinstance(module, MLP):
        sizes = [len(layer.neurons) for layer in module.layers]
        return f"MLP({len(module.layers[0].neurons[0].w)}, {sizes})"
    if isinstance(module, Layer):
        return f"Layer({len(module.neurons[0].w)}, {len(module.neurons)})"
    return repr(module)


def _as_inputs(x: Input, nin: int, who: Module) -> List[Value]:
    """The input as a list of `nin` Values (plain numbers become constant leaves)."""
    return [xi if isinstance(xi, Value) else Value(xi) for xi in _as_operands(x, nin, who)]


def _as_operands(x: Input, nin: int, who: Module) -> List[Operand]:
    """The input as a list of `nin` Values and plain numbers. A number stays a constant of
    the ops it feeds, as in micrograd 0.1.0, whose `wi * xi` makes a new leaf of it for
    every neuron (the lecture's view shows exactly those)."""
    # A lone number or Value is a one-element input (cast: mypy cannot narrow by numbers.Real).
    xs = [x] if isinstance(x, (Value, Real)) else list(cast(Sequence[Union[Value, float]], x))
    if len(xs) != nin:
        raise ValueError(f"{_short_name(who)} expects {nin} inputs, got {len(xs)}")
    return [xi if isinstance(xi, Value) else finite_float(xi, f"{_short_name(who)} input") for xi in xs]


class Neuron(Module):
    """One neuron: `activation(b + w0*x0 + w1*x1 + ...)`.

    Args:
        nin: number of inputs.
        nonlin: micrograd 0.1.0's switch: False makes a linear neuron.
        activation: "relu" (default), "tanh", "sigmoid" or "linear".
        init: "uniform" (U(-1, 1), micrograd 0.1.0), "kaiming" (U(±sqrt(6/nin)), for ReLU)
            or "lecun" (U(±sqrt(3/nin)), for tanh, sigmoid and linear).
        fused: compute `b + sum(w*x)` as one graph node (fast, the default), or, when
            False, as micrograd 0.1.0's chain of `*` and `+` nodes (to draw every step).
            Both give exactly the same numbers.
        rng: a `random.Random` to draw weights from; default, Python's global `random`.
    """

    def __init__(
        self,
        nin: int,
        nonlin: bool = True,
        *,
        activation: Optional[str] = None,
        init: str = "uniform",
        fused: bool = True,
        rng: Optional[random.Random] = None,
    ) -> None:
        positive_int("nin", nin)
        if activation is None:
            activation = "relu" if nonlin else "linear"
        elif activation not in ACTIVATIONS:
            raise ValueError(f"activation must be one of {sorted(ACTIVATIONS)}, got {activation!r}")
        elif not nonlin and activation != "linear":
            raise ValueError(f"nonlin=False asks for a linear neuron, but activation={activation!r}")
        if init not in INITS:
            raise ValueError(f"init must be one of {sorted(INITS)}, got {init!r}")
        uniform = (rng or random).uniform
        bound = INITS[init](nin)
        self.w = [Value(uniform(-bound, bound)) for _ in range(nin)]
        self.b = Value(0.0)
        self.activation = activation
        self.nonlin = activation != "linear"
        self.fused = fused

    def __call__(self, x: Input) -> Value:
        return self._forward(_as_operands(x, len(self.w), self))

    def _forward(self, xs: Sequence[Operand]) -> Value:
        if self.fused:
            act = affine(self.w, xs, self.b)
        else:
            act = sum((wi * xi for wi, xi in zip(self.w, xs)), self.b)
        f = ACTIVATIONS[self.activation]
        return f(act) if f is not None else act

    def parameters(self) -> List[Value]:
        return self.w + [self.b]

    def named_parameters(self) -> Iterator[Tuple[str, Value]]:
        for i, w in enumerate(self.w):
            yield f"w.{i}", w
        yield "b", self.b

    def __repr__(self) -> str:
        return f"{_REPR_NAMES[self.activation]}Neuron({len(self.w)})"


class Layer(Module):
    """`nout` neurons that all see the same inputs. Keyword arguments go to each `Neuron`.

    Called on one input vector it returns a list of `nout` Values, or a single Value when
    `nout` is 1 (as in micrograd 0.1.0).
    """

    def __init__(self, nin: int, nout: int, **kwargs: object) -> None:
        positive_int("nout", nout)
        self.neurons = [Neuron(nin, **kwargs) for _ in range(nout)]  # type: ignore[arg-type]

    def __call__(self, x: Input) -> Union[Value, List[Value]]:
        out = self._forward(_as_operands(x, len(self.neurons[0].w), self))
        return out[0] if len(out) == 1 else out

    def _forward(self, xs: Sequence[Operand]) -> List[Value]:
        return [n._forward(xs) for n in self.neurons]

    def parameters(self) -> List[Value]:
        return [p for n in self.neurons for p in n.parameters()]

    def named_parameters(self) -> Iterator[Tuple[str, Value]]:
        return self._named_parameters_of_children()  # neurons.0.w.0, ...

    def __repr__(self) -> str:
        return f"Layer of [{', '.join(str(n) for n in self.neurons)}]"


class MLP(Module):
    """A multi-layer perceptron: `MLP(2, [16, 16, 1])` maps 2 inputs to 1 output.

    Hidden layers use `activation` (ReLU by default), the last layer `output_activation`
    (linear by default), as in micrograd 0.1.0. Other keyword arguments (`init`, `fused`,
    `rng`) go to every `Neuron`. Returns a single Value when the last layer has one neuron.
    """

    def __init__(
        self,
        nin: int,
        nouts: Sequence[int],
        *,
        activation: str = "relu",
        output_activation: str = "linear",
        **kwargs: object,
    ) -> None:
        positive_int("nin", nin)
        if isinstance(nouts, (str, bytes)) or not isinstance(nouts, Sequence) or len(nouts) == 0:
            raise ValueError(f"nouts must be a non-empty list of layer sizes, got {nouts!r}")
        sizes = [nin] + [positive_int("each of nouts", n) for n in nouts]
        last = len(nouts) - 1
        self.layers = [
            Layer(sizes[i], sizes[i + 1], activation=output_activation if i == last else activation, **kwargs)
            for i in range(len(nouts))
        ]

    def __call__(self, x: Input) -> Union[Value, List[Value]]:
        xs: Sequence[Operand] = _as_operands(x, len(self.layers[0].neurons[0].w), self)
        for layer in self.layers:
            xs = layer._forward(xs)  # always a list, so a 1-neuron hidden layer works
        out = cast(List[Value], xs)
        return out[0] if len(out) == 1 else out

    def parameters(self) -> List[Value]:
        return [p for layer in self.layers for p in layer.parameters()]

    def named_parameters(self) -> Iterator[Tuple[str, Value]]:
        return self._named_parameters_of_children()  # layers.0.neurons.0.w.0, ...

    def __repr__(self) -> str:
        return f"MLP of [{', '.join(str(layer) for layer in self.layers)}]"


# ---------------------------------------------------------------------------------------
# Beyond 0.1.0: batch normalization, and the pieces to put it between layers.
# ---------------------------------------------------------------------------------------

def _features(out: List[Value]) -> Union[Value, List[Value]]:
    return out[0] if len(out) == 1 else out  # one feature comes out as a Value, as from a Layer


class BatchNorm1d(Module):
    """Batch normalization (Ioffe & Szegedy, 2015), as `torch.nn.BatchNorm1d`.

    In training mode each feature is normalised across the samples of the mini-batch and
    then scaled and shifted by learnable `weight` (gamma, starts at 1) and `bias` (beta,
    starts at 0):

        y = weight * (x - mean) / sqrt(var + eps) + bias       (var: the biased variance)

    The gradient flows through the mean and variance too, so every sample's output depends
    on every other sample: call it on the whole batch, `bn.batch(X)` or `model.batch(X)`.
    Each training call also updates running estimates,
    `running = (1 - momentum) * running + momentum * batch_stat` (the variance unbiased, as
    in PyTorch), which evaluation mode (`model.eval()`) uses instead, so a single sample
    `bn(x)` works there.

    Args:
        num_features: the number of features (inputs, and outputs).
        eps: added to the variance, for numerical stability (> 0).
        momentum: the weight of each new batch in the running statistics (in [0, 1]).
        affine: learn `weight` and `bias` (the default); with False, `y = (x - mean) /
            sqrt(var + eps)`, and `weight` and `bias` are None, as in PyTorch.
        track_running_stats: keep running statistics (the default); with False there are
            none (`running_mean` and `running_var` are None) and the batch's own statistics
            are used in evaluation mode too, so it always needs a batch, as in PyTorch.

    A batch of one sample is refused wherever batch statistics are used (its variance is 0,
    so every output would be `bias` whatever the input), with PyTorch's words.
    """

    def __init__(
        self,
        num_features: int,
        eps: float = 1e-5,
        momentum: float = 0.1,
        affine: bool = True,
        track_running_stats: bool = True,
    ) -> None:
        n = positive_int("num_features", num_features)
        if isinstance(eps, bool) or not isinstance(eps, Real) or not 0 < eps < math.inf:
            raise ValueError(f"eps must be a positive number, got {eps!r}")
        if isinstance(momentum, bool) or not isinstance(momentum, Real) or not 0 <= momentum <= 1:
            raise ValueError(f"momentum must be a number in [0, 1], got {momentum!r}")
        flag("affine", affine)
        flag("track_running_stats", track_running_stats)
        self.num_features: int = n
        self.eps: float = float(eps)
        self.momentum: float = float(momentum)
        self.affine: bool = affine
        self.track_running_stats: bool = track_running_stats
        self.weight: Optional[List[Value]] = [Value(1.0) for _ in range(n)] if affine else None
        self.bias: Optional[List[Value]] = [Value(0.0) for _ in range(n)] if affine else None
        # Buffers: Values so that load_state_dict sets them like parameters, but never trained.
        self.running_mean: Optional[List[Value]] = [Value(0.0) for _ in range(n)] if track_running_stats else None
        self.running_var: Optional[List[Value]] = [Value(1.0) for _ in range(n)] if track_running_stats else None

    def _running_statistics(self) -> Optional[Tuple[List[Value], List[Value]]]:
        """(running_mean, running_var) when they normalise, None when the batch's own
        statistics do: PyTorch's rule, in training mode, and always when none are kept."""
        if self.training or self.running_mean is None or self.running_var is None:
            return None
        return self.running_mean, self.running_var

    def __call__(self, x: Input) -> Union[Value, List[Value]]:
        stats = self._running_statistics()
        if stats is None:
            why = "in training mode" if self.training else "with track_running_stats=False (even in evaluation mode)"
            fix = " or switch to evaluation mode with model.eval()" if self.running_mean is not None else ""
            raise ValueError(
                f"{self!r} normalises across a batch {why}, so it needs the whole batch:"
                f" call bn.batch(X) (or model.batch(X)){fix}"
            )
        return _features(self._eval_forward(_as_inputs(x, self.num_features, self), *stats))

    def batch(self, xs: Sequence[Input]) -> List[Union[Value, List[Value]]]:
        rows = [_as_inputs(x, self.num_features, self) for x in xs]
        stats = self._running_statistics()
        if stats is not None:
            return [_features(self._eval_forward(r, *stats)) for r in rows]
        n = len(rows)
        if n < 2:
            # PyTorch's message, then ours: why, and what to do.
            hint = "" if self.running_mean is None else ", or call model.eval() to use the running statistics"
            raise ValueError(
                f"{self!r}: expected more than 1 value per channel when training, got input size"
                f" ({n}, {self.num_features}): batch statistics need at least 2 samples per batch, got {n}"
                f" (one sample's variance is 0: every output would be the bias, whatever the input); drop a"
                f" final batch of one{hint}"
            )
        out: List[List[Value]] = [[] for _ in rows]
        m = self.momentum
        for j in range(self.num_features):
            column = [r[j] for r in rows]
            mean = cast(Value, sum(column)) * (1.0 / n)
            centered = [x - mean for x in column]
            var = cast(Value, sum(d * d for d in centered)) * (1.0 / n)
            inv_std = (var + self.eps) ** -0.5
            if self.weight is not None and self.bias is not None:
                w, b = self.weight[j], self.bias[j]
                for row_out, d in zip(out, centered):
                    row_out.append(w * (d * inv_std) + b)
            else:
                for row_out, d in zip(out, centered):
                    row_out.append(d * inv_std)
            if self.training and self.running_mean is not None and self.running_var is not None:
                self.running_mean[j].data = (1.0 - m) * self.running_mean[j].data + m * mean.data
                self.running_var[j].data = (1.0 - m) * self.running_var[j].data + m * var.data * n / (n - 1)
        return [_features(r) for r in out]

    def _eval_forward(self, xs: List[Value], running_mean: List[Value], running_var: List[Value]) -> List[Value]:
        # The running statistics are constants here: no gradient flows into them.
        normalised = [
            (x - mu.data) * (1.0 / math.sqrt(var.data + self.eps)) for x, mu, var in zip(xs, running_mean, running_var)
        ]
        if self.weight is None or self.bias is None:
            return normalised
        return [w * y + b for y, w, b in zip(normalised, self.weight, self.bias)]

    def parameters(self) -> List[Value]:
        return self.weight + self.bias if self.weight is not None and self.bias is not None else []

    def named_parameters(self) -> Iterator[Tuple[str, Value]]:
        for i, w in enumerate(self.weight or []):
            yield f"weight.{i}", w
        for i, b in enumerate(self.bias or []):
            yield f"bias.{i}", b

    def named_buffers(self) -> Iterator[Tuple[str, Value]]:
        for i, v in enumerate(self.running_mean or []):
            yield f"running_mean.{i}", v
        for i, v in enumerate(self.running_var or []):
            yield f"running_var.{i}", v

    def __repr__(self) -> str:
        options = "".join(
            f", {name}=False" for name in ("affine", "track_running_stats") if not getattr(self, name)
        )
        return f"BatchNorm1d({self.num_features}{options})"


class Activation(Module):
    """An activation function as a module, applied to every feature: `Activation("relu")`.

    For `Sequential(Layer(2, 16, nonlin=False), BatchNorm1d(16), Activation("relu"), ...)`,
    where the normalization sits between a layer's weighted sum and its nonlinearity.
    """

    def __init__(self, name: str) -> None:
        if name not in ACTIVATIONS:
            raise ValueError(f"activation must be one of {sorted(ACTIVATIONS)}, got {name!r}")
        self.name = name

    def __call__(self, x: Input) -> Union[Value, List[Value]]:
        f = ACTIVATIONS[self.name]
        xs = [x] if isinstance(x, (Value, Real)) else list(cast(Sequence[Union[Value, float]], x))
        vs = [xi if isinstance(xi, Value) else Value(xi) for xi in xs]
        return _features([f(v) for v in vs] if f is not None else vs)

    def __repr__(self) -> str:
        return f"Activation({self.name!r})"


class Sequential(Module):
    """Modules applied one after another: `Sequential(Layer(2, 16), BatchNorm1d(16), Layer(16, 1, nonlin=False))`.

    `model(x)` runs one sample through; `model.batch(X)` runs a whole mini-batch through,
    module by module, so a BatchNorm1d inside sees the batch. Parameters are named like
    PyTorch's (`0.neurons.3.w.1`, `1.weight.0`).
    """

    def __init__(self, *modules: Module) -> None:
        if not modules:
            raise ValueError("Sequential needs at least one module, got none")
        for i, m in enumerate(modules):
            if not isinstance(m, Module):
                raise TypeError(f"Sequential needs Modules, got {type(m).__name__} at position {i}: {m!r}")
        self.layers = list(modules)

    def __call__(self, x: Input) -> Union[Value, List[Value]]:
        out: Any = x
        for m in self.layers:
            out = m(out)  # type: ignore[operator]
        return cast(Union[Value, List[Value]], out)

    def batch(self, xs: Sequence[Input]) -> List[Union[Value, List[Value]]]:
        out: Sequence[Any] = xs
        for m in self.layers:
            out = m.batch(out)
        return list(out)

    def __getitem__(self, i: int) -> Module:
        return self.layers[i]

    def __len__(self) -> int:
        return len(self.layers)

    def named_children(self) -> Iterator[Tuple[str, Module]]:
        for i, m in enumerate(self.layers):
            yield str(i), m

    def parameters(self) -> List[Value]:
        return [p for m in self.layers for p in m.parameters()]

    def named_parameters(self) -> Iterator[Tuple[str, Value]]:
        return self._named_parameters_of_children()  # 0.neurons.0.w.0, ...

    def __repr__(self) -> str:
        return f"Sequential({', '.join(repr(m) for m in self.layers)})"
