"""micrograd.nn: drop-in for micrograd 0.1.0 (signatures, reprs, init, numbers) and beyond."""

from __future__ import annotations

import json
import math
import pathlib
import random

import pytest

from micrograd import Value, topological_order
from micrograd.nn import MLP, Layer, Module, Neuron

MOONS = json.loads((pathlib.Path(__file__).parent / "data" / "moons_1337.json").read_text())


def demo_loss(model, X, y):
    """karpathy's demo.ipynb loss, verbatim: hinge loss + 1e-4 L2, and accuracy."""
    inputs = [list(map(Value, xrow)) for xrow in X]
    scores = list(map(model, inputs))
    losses = [(1 + -yi * scorei).relu() for yi, scorei in zip(y, scores)]
    data_loss = sum(losses) * (1.0 / len(losses))
    alpha = 1e-4
    reg_loss = alpha * sum((p * p for p in model.parameters()))
    total_loss = data_loss + reg_loss
    accuracy = [(yi > 0) == (scorei.data > 0) for yi, scorei in zip(y, scores)]
    return total_loss, sum(accuracy) / len(accuracy)


def train_demo(steps, **mlp_kwargs):
    random.seed(1337)
    model = MLP(2, [16, 16, 1], **mlp_kwargs)
    history = []
    for k in range(steps):
        total_loss, acc = demo_loss(model, MOONS["X"], MOONS["y"])
        model.zero_grad()
        total_loss.backward()
        learning_rate = 1.0 - 0.9 * k / 100
        for p in model.parameters():
            p.data -= learning_rate * p.grad
        history.append((total_loss.data, acc))
    return model, history


def test_demo_step_zero_loss_is_micrograd_010s_exactly():
    _, history = train_demo(1)
    assert history[0] == (0.8958441028683222, 0.5)


def test_demo_after_100_steps_matches_micrograd_010():
    # micrograd 0.1.0 printed 0.010978370135492717 at 100% for this data and seed.
    _, history = train_demo(100)
    loss, acc = history[-1]
    assert math.isclose(loss, 0.010978370135492717, rel_tol=1e-12) and acc == 1.0


def test_fused_and_expanded_neurons_give_the_same_numbers():
    fused, _ = train_demo(3)
    expanded, _ = train_demo(3, fused=False)
    for p, q in zip(fused.parameters(), expanded.parameters()):
        assert math.isclose(p.data, q.data, rel_tol=1e-12, abs_tol=1e-15)


def test_expanded_neuron_draws_every_multiply_and_add():
    random.seed(0)
    n = Neuron(2, fused=False)
    y = n([Value(1.0), Value(-2.0)])
    ops = [v._op for v in topological_order(y) if v._op]
    assert sorted(ops) == ["*", "*", "+", "+", "ReLU"]
    fused = Neuron(2)([Value(1.0), Value(-2.0)])
    assert [v.op for v in topological_order(fused) if v.op] == ["affine", "ReLU"]


def test_default_init_draws_uniform_weights_in_micrograd_010s_order():
    random.seed(42)
    model = MLP(3, [4, 2])
    random.seed(42)
    expected = []
    for nin, nout in [(3, 4), (4, 2)]:
        for _ in range(nout):
            expected += [random.uniform(-1, 1) for _ in range(nin)] + [0.0]
    assert [p.data for p in model.parameters()] == expected


def test_reprs_match_micrograd_010():
    model = MLP(2, [3, 1])
    assert repr(model) == (
        "MLP of [Layer of [ReLUNeuron(2), ReLUNeuron(2), ReLUNeuron(2)], Layer of [LinearNeuron(3)]]"
    )
    assert repr(Neuron(2, nonlin=False)) == "LinearNeuron(2)"
    assert repr(Neuron(2, activation="tanh")) == "TanhNeuron(2)"


def test_layer_returns_a_single_value_for_one_neuron_and_a_list_otherwise():
    assert isinstance(Layer(2, 1)([1.0, 2.0]), Value)
    assert len(Layer(2, 3)([1.0, 2.0])) == 3


def test_one_neuron_hidden_layer_works():
    random.seed(1)
    model = MLP(2, [16, 1, 1])  # crashes in micrograd 0.1.0
    y = model([0.5, -0.5])
    y.backward()
    assert isinstance(y, Value) and len(model.parameters()) == 16 * 3 + 17 + 2


def test_nouts_may_be_a_tuple():
    assert len(MLP(2, (4, 1)).layers) == 2


@pytest.mark.parametrize("activation, fn", [
    ("tanh", math.tanh), ("sigmoid", lambda z: 1 / (1 + math.exp(-z))), ("relu", lambda z: max(z, 0.0)),
])
def test_hidden_activation_choice(activation, fn):
    random.seed(3)
    n = Neuron(2, activation=activation)
    z = n.b.data + n.w[0].data * 0.3 + n.w[1].data * -0.7
    assert math.isclose(n([0.3, -0.7]).data, fn(z), rel_tol=1e-15)


def test_mlp_activation_applies_to_hidden_layers_and_output_stays_linear():
    model = MLP(2, [4, 1], activation="tanh")
    assert repr(model.layers[0].neurons[0]) == "TanhNeuron(2)"
    assert repr(model.layers[1].neurons[0]) == "LinearNeuron(4)"
    assert repr(MLP(2, [1], output_activation="sigmoid").layers[0].neurons[0]) == "SigmoidNeuron(2)"


@pytest.mark.parametrize("init, bound", [("kaiming", math.sqrt(6 / 50)), ("lecun", math.sqrt(3 / 50))])
def test_fan_in_scaled_init(init, bound):
    weights = [w.data for w in Layer(50, 40, init=init, rng=random.Random(0)).parameters() if w.data != 0.0]
    assert max(abs(w) for w in weights) <= bound
    assert max(abs(w) for w in weights) > 0.95 * bound  # 2000 draws fill the interval
    variance = sum(w * w for w in weights) / len(weights)
    assert math.isclose(variance, bound**2 / 3, rel_tol=0.1)


def test_rng_argument_makes_init_independent_of_global_random():
    a = MLP(2, [3, 1], rng=random.Random(7))
    random.seed(0)
    b = MLP(2, [3, 1], rng=random.Random(7))
    assert [p.data for p in a.parameters()] == [p.data for p in b.parameters()]


def test_named_parameters_follow_parameters_order_with_pytorch_style_names():
    model = MLP(2, [2, 1])
    named = list(model.named_parameters())
    assert [p for _, p in named] == model.parameters()
    assert [n for n, _ in named][:4] == ["layers.0.neurons.0.w.0", "layers.0.neurons.0.w.1", "layers.0.neurons.0.b",
                                         "layers.0.neurons.1.w.0"]
    assert named[-1][0] == "layers.1.neurons.0.b"


def test_user_module_subclass_gets_zero_grad_and_named_parameters():
    class Pair(Module):
        def __init__(self):
            self.a, self.b = Value(1.0), Value(2.0)

        def parameters(self):
            return [self.a, self.b]

    m = Pair()
    m.a.grad = 3.0
    m.zero_grad()
    assert m.a.grad == 0.0 and [n for n, _ in m.named_parameters()] == ["0", "1"]


def test_zero_grad_resets_every_parameter():
    model = MLP(2, [3, 1])
    model([1.0, 2.0]).backward()
    model.zero_grad()
    assert all(p.grad == 0.0 for p in model.parameters())


@pytest.mark.parametrize(
    "make, error, message",
    [
        (lambda: MLP(2, [3, 1])([1.0, 2.0, 3.0]), ValueError, r"^MLP\(2, \[3, 1\]\) expects 2 inputs, got 3$"),
        (lambda: Layer(2, 3)([1.0]), ValueError, r"^Layer\(2, 3\) expects 2 inputs, got 1$"),
        (lambda: Neuron(2)([1.0]), ValueError, r"ReLUNeuron\(2\) expects 2 inputs, got 1"),
        (lambda: Neuron(0), ValueError, r"nin must be a positive int, got int: 0"),
        (lambda: Layer(2, 0), ValueError, r"nout must be a positive int"),
        (lambda: MLP(2, []), ValueError, r"nouts must be a non-empty list"),
        (lambda: MLP(2, [3, 2.5]), ValueError, r"each of nouts must be a positive int, got float: 2.5"),
        (lambda: Neuron(2, activation="swish"), ValueError, r"activation must be one of .* got 'swish'"),
        (lambda: Neuron(2, nonlin=False, activation="tanh"), ValueError, r"nonlin=False"),
        (lambda: Neuron(2, init="zeros"), ValueError, r"init must be one of .* got 'zeros'"),
        (lambda: Neuron(2)(["a", 1.0]), TypeError, r"needs a real number, got str"),
    ],
)
def test_bad_arguments_raise_clear_errors(make, error, message):
    with pytest.raises(error, match=message):
        make()
