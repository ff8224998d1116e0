"""Per-layer gradient norms: exact values, and the vanishing/exploding pictures they are for."""

from __future__ import annotations

import math
import random

import pytest

from micrograd.nn import MLP, Activation, BatchNorm1d, Layer, Neuron, Sequential
from micrograd.training.diagnostics import layer_grad_norms


def backward_through(model, x):
    model.zero_grad()
    out = model(x)
    (out if not isinstance(out, list) else sum(out)).backward()


def test_layer_grad_norms_are_each_layers_gradient_norm_in_depth_order():
    random.seed(1337)
    model = MLP(2, [16, 16, 1])
    backward_through(model, [0.5, -0.3])
    norms = layer_grad_norms(model)
    assert list(norms) == ["layers.0", "layers.1", "layers.2"]
    for i, layer in enumerate(model.layers):
        assert norms[f"layers.{i}"] == pytest.approx(math.sqrt(sum(p.grad ** 2 for p in layer.parameters())), rel=1e-15)


def test_sequential_layers_without_parameters_are_skipped():
    random.seed(0)
    model = Sequential(Layer(2, 3, nonlin=False), BatchNorm1d(3), Activation("relu"), Layer(3, 1))
    model.eval()
    backward_through(model, [0.5, -0.3])
    assert list(layer_grad_norms(model)) == ["0", "1", "3"]


def test_a_module_without_submodules_is_one_layer():
    n = Neuron(2, nonlin=False)
    backward_through(n, [3.0, 4.0])
    assert layer_grad_norms(n) == {"Neuron": math.sqrt(9.0 + 16.0 + 1.0)}  # d/dw = x, d/db = 1


def test_deep_sigmoid_net_shows_vanishing_gradients_toward_the_input():
    random.seed(0)
    model = MLP(4, [8] * 8 + [1], activation="sigmoid")
    backward_through(model, [0.5, -0.2, 0.1, 0.9])
    norms = list(layer_grad_norms(model).values())
    # sigmoid' <= 1/4 at every layer: the first layer's gradient is orders of magnitude smaller.
    assert norms[0] < norms[-1] * 1e-3


def test_deep_linear_net_with_doubled_weights_shows_exploding_gradients():
    def norms_with_weights_times(scale):
        random.seed(0)
        model = MLP(4, [8] * 6 + [1], activation="linear")
        for p in model.parameters():
            p.data *= scale
        backward_through(model, [0.5, -0.2, 0.1, 0.9])
        return list(layer_grad_norms(model).values())

    # A weight gradient is (signal from above, through 6 - i layers) x (input from below, through
    # i layers): 6 factors of |W| in all, so doubling every weight scales it by about 2**6.
    for small, large in zip(norms_with_weights_times(1.0), norms_with_weights_times(2.0)):
        assert large > 20 * small


def test_layer_grad_norms_needs_a_module():
    with pytest.raises(TypeError, match="layer_grad_norms needs a Module, got list"):
        layer_grad_norms([])
