"""Neurons, layers and multi-layer perceptrons built from `Value`s.

Drop-in compatible with micrograd 0.1.0: the same signatures, reprs and default
initialisation (each weight `random.uniform(-1, 1)` from Python's global `random`, in the
same order; bias 0), so the same seed gives the same model and the same numbers.
"""

from __future__ import annotations

import math
import random
from numbers import Real
from typing import Iterator, List, Optional, Sequence, Tuple, Union, cast

from .engine import Value, _affine

__all__ = ["Module", "Neuron", "Layer", "MLP", "ACTIVATIONS", "INITS"]

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
    """Base class: anything with parameters."""

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


def _check_size(name: str, n: object) -> int:
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"{name} must be a positive int, got {type(n).__name__}: {n!r}")
    return n


def _as_inputs(x: Input, nin: int, who: Module) -> List[Value]:
    """The input as a list of `nin` Values (plain numbers become constant leaves)."""
    # A lone number or Value is a one-element input (cast: mypy cannot narrow by numbers.Real).
    xs = [x] if isinstance(x, (Value, Real)) else list(cast(Sequence[Union[Value, float]], x))
    if len(xs) != nin:
        raise ValueError(f"{who!r} expects {nin} inputs, got {len(xs)}")
    return [xi if isinstance(xi, Value) else Value(xi) for xi in xs]


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
        _check_size("nin", nin)
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
        return self._forward(_as_inputs(x, len(self.w), self))

    def _forward(self, xs: List[Value]) -> Value:
        if self.fused:
            act = _affine(self.w, xs, self.b)
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
        _check_size("nout", nout)
        self.neurons = [Neuron(nin, **kwargs) for _ in range(nout)]  # type: ignore[arg-type]

    def __call__(self, x: Input) -> Union[Value, List[Value]]:
        out = self._forward(_as_inputs(x, len(self.neurons[0].w), self))
        return out[0] if len(out) == 1 else out

    def _forward(self, xs: List[Value]) -> List[Value]:
        return [n._forward(xs) for n in self.neurons]

    def parameters(self) -> List[Value]:
        return [p for n in self.neurons for p in n.parameters()]

    def named_parameters(self) -> Iterator[Tuple[str, Value]]:
        for i, n in enumerate(self.neurons):
            for name, p in n.named_parameters():
                yield f"neurons.{i}.{name}", p

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
        _check_size("nin", nin)
        if isinstance(nouts, (str, bytes)) or not isinstance(nouts, Sequence) or len(nouts) == 0:
            raise ValueError(f"nouts must be a non-empty list of layer sizes, got {nouts!r}")
        sizes = [nin] + [_check_size("each of nouts", n) for n in nouts]
        last = len(nouts) - 1
        self.layers = [
            Layer(sizes[i], sizes[i + 1], activation=output_activation if i == last else activation, **kwargs)
            for i in range(len(nouts))
        ]

    def __call__(self, x: Input) -> Union[Value, List[Value]]:
        xs = _as_inputs(x, len(self.layers[0].neurons[0].w), self)
        for layer in self.layers:
            xs = layer._forward(xs)  # always a list, so a 1-neuron hidden layer works
        return xs[0] if len(xs) == 1 else xs

    def parameters(self) -> List[Value]:
        return [p for layer in self.layers for p in layer.parameters()]

    def named_parameters(self) -> Iterator[Tuple[str, Value]]:
        for i, layer in enumerate(self.layers):
            for name, p in layer.named_parameters():
                yield f"layers.{i}.{name}", p

    def __repr__(self) -> str:
        return f"MLP of [{', '.join(str(layer) for layer in self.layers)}]"
