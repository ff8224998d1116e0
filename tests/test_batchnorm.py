"""BatchNorm1d against the textbook formula, central differences and PyTorch; modes; Sequential."""

from __future__ import annotations

import math
import random

import pytest

from micrograd import central_difference
from micrograd.engine import Value
from micrograd.nn import MLP, Activation, BatchNorm1d, Layer, Module, Sequential

BATCH = [[0.5, -1.0, 2.0], [1.5, 0.0, -2.0], [-0.5, 3.0, 0.0], [2.0, 1.0, 1.0]]


def textbook(batch, gamma, beta, eps=1e-5):
    """Ioffe & Szegedy's Algorithm 1, in plain floats."""
    n, d = len(batch), len(batch[0])
    out = [[0.0] * d for _ in batch]
    for j in range(d):
        col = [row[j] for row in batch]
        mu = sum(col) / n
        var = sum((x - mu) ** 2 for x in col) / n
        for i, x in enumerate(col):
            out[i][j] = gamma[j] * (x - mu) / math.sqrt(var + eps) + beta[j]
    return out


def with_affine(bn, gamma, beta):
    for p, g in zip(bn.weight, gamma):
        p.data = g
    for p, b in zip(bn.bias, beta):
        p.data = b
    return bn


def test_training_forward_matches_the_textbook_formula():
    gamma, beta = [1.5, -0.5, 2.0], [0.1, 0.2, -0.3]
    bn = with_affine(BatchNorm1d(3), gamma, beta)
    out = bn.batch(BATCH)
    expected = textbook(BATCH, gamma, beta)
    for row, ref in zip(out, expected):
        assert [v.data for v in row] == pytest.approx(ref, rel=1e-14, abs=1e-15)


def test_fresh_batchnorm_gives_zero_mean_unit_variance_features():
    out = BatchNorm1d(3, eps=1e-12).batch(BATCH)
    for j in range(3):
        col = [row[j].data for row in out]
        assert sum(col) / 4 == pytest.approx(0.0, abs=1e-15)
        assert sum(c * c for c in col) / 4 == pytest.approx(1.0, rel=1e-10)


def test_gradients_match_central_differences_through_the_batch_statistics():
    rng = random.Random(0)
    n, d = 4, 3
    coeffs = [[rng.uniform(-1, 1) for _ in range(d)] for _ in range(n)]  # loss = sum c_ij * y_ij

    def loss_of(flat):
        """flat = inputs (n*d), then gamma (d), then beta (d); returns (loss, leaves)."""
        leaves = [Value(v) for v in flat]
        bn = BatchNorm1d(d)
        bn.weight, bn.bias = leaves[n * d:n * d + d], leaves[n * d + d:]
        rows = [leaves[i * d:(i + 1) * d] for i in range(n)]
        out = bn.batch(rows)
        return sum(c * y for crow, yrow in zip(coeffs, out) for c, y in zip(crow, yrow)), leaves

    flat = [v for row in BATCH for v in row] + [1.5, -0.5, 2.0] + [0.1, 0.2, -0.3]
    loss, leaves = loss_of(flat)
    loss.backward()
    numeric = [central_difference(lambda *xs: loss_of(list(xs))[0], *flat, arg=i) for i in range(len(flat))]
    for i, (leaf, num) in enumerate(zip(leaves, numeric)):
        assert leaf.grad == pytest.approx(num, rel=1e-6, abs=1e-8), f"d loss / d input[{i}]: {leaf.grad} vs {num}"
    # The gradient of a normalised feature w.r.t. its inputs sums to 0 over the batch.
    for j in range(d):
        assert sum(leaves[i * d + j].grad for i in range(n)) == pytest.approx(0.0, abs=1e-12)


def test_running_statistics_follow_pytorchs_update():
    bn = BatchNorm1d(3, momentum=0.1)
    bn.batch(BATCH)
    bn.batch([[2 * v for v in row] for row in BATCH])
    for j in range(3):
        col = [row[j] for row in BATCH]
        mu = sum(col) / 4
        var_unbiased = sum((x - mu) ** 2 for x in col) / 3
        mean = 0.9 * (0.9 * 0.0 + 0.1 * mu) + 0.1 * (2 * mu)
        var = 0.9 * (0.9 * 1.0 + 0.1 * var_unbiased) + 0.1 * (4 * var_unbiased)
        assert bn.running_mean[j].data == pytest.approx(mean, rel=1e-14, abs=1e-16)
        assert bn.running_var[j].data == pytest.approx(var, rel=1e-14)


def test_eval_mode_uses_running_statistics_and_works_on_one_sample():
    bn = with_affine(BatchNorm1d(2), [2.0, 1.0], [0.5, 0.0])
    bn.running_mean[0].data, bn.running_var[0].data = 1.0, 4.0
    bn.eval()
    x = [Value(3.0), Value(-1.0)]
    y = bn(x)
    assert y[0].data == pytest.approx(2.0 * (3.0 - 1.0) / math.sqrt(4.0 + 1e-5) + 0.5, rel=1e-15)
    assert y[1].data == pytest.approx(-1.0 / math.sqrt(1.0 + 1e-5), rel=1e-15)
    y[0].backward()
    assert x[0].grad == pytest.approx(2.0 / math.sqrt(4.0 + 1e-5), rel=1e-15)
    assert [v.data for v in bn.batch([[3.0, -1.0]])[0]] == [v.data for v in y]
    assert bn.running_mean[0].data == 1.0  # evaluation does not update the statistics


def test_one_sample_in_training_mode_is_an_error_that_says_what_to_do():
    bn = BatchNorm1d(2)
    with pytest.raises(ValueError, match=r"needs the whole batch: call bn.batch\(X\).*model.eval\(\)"):
        bn([1.0, 2.0])
    # PyTorch's words: "Expected more than 1 value per channel when training, got input size ..."
    with pytest.raises(ValueError, match=r"more than 1 value per channel when training, got input size \(1, 2\)"):
        bn.batch([[1.0, 2.0]])


def test_batchnorm_matches_pytorch_forward_backward_and_running_stats():
    torch = pytest.importorskip("torch")
    bn = with_affine(BatchNorm1d(3, momentum=0.2), [1.5, -0.5, 2.0], [0.1, 0.2, -0.3])
    leaves = [[Value(v) for v in row] for row in BATCH]
    out = bn.batch(leaves)
    sum(y * y * (j + 1) for row in out for j, y in enumerate(row)).backward()

    ref = torch.nn.BatchNorm1d(3, momentum=0.2).double()
    with torch.no_grad():
        ref.weight.copy_(torch.tensor([1.5, -0.5, 2.0], dtype=torch.float64))
        ref.bias.copy_(torch.tensor([0.1, 0.2, -0.3], dtype=torch.float64))
    x = torch.tensor(BATCH, dtype=torch.float64, requires_grad=True)
    y = ref(x)
    (y * y * torch.tensor([1.0, 2.0, 3.0], dtype=torch.float64)).sum().backward()

    assert [v.data for row in out for v in row] == pytest.approx(y.flatten().tolist(), rel=1e-12, abs=1e-14)
    assert [v.grad for row in leaves for v in row] == pytest.approx(x.grad.flatten().tolist(), rel=1e-10, abs=1e-12)
    assert [p.grad for p in bn.weight] == pytest.approx(ref.weight.grad.tolist(), rel=1e-12)
    assert [v.data for v in bn.running_mean] == pytest.approx(ref.running_mean.tolist(), rel=1e-14)
    assert [v.data for v in bn.running_var] == pytest.approx(ref.running_var.tolist(), rel=1e-14)


# --- modes, Sequential --------------------------------------------------------------------


def test_train_and_eval_reach_every_submodule_and_return_the_module():
    model = Sequential(Layer(2, 3, nonlin=False), BatchNorm1d(3), Activation("relu"), MLP(3, [2, 1]))
    assert model.eval() is model
    assert not any(m.training for m in [model, *model.layers, *model[3].layers, *model[3].layers[0].neurons])
    model.train()
    assert all(m.training for m in [model, *model.layers, *model[3].layers, *model[3].layers[0].neurons])


def test_a_0_1_0_style_subclass_without_init_has_modes():
    class Twice(Module):
        def __call__(self, x):
            return 2 * x

    m = Twice()
    assert m.training and m.eval() is m and not m.training


def test_batch_is_the_per_sample_call_for_models_without_batchnorm():
    random.seed(0)
    model = MLP(2, [4, 1])
    X = [[0.1, 0.2], [-1.0, 0.5], [0.3, 0.3]]
    assert [o.data for o in model.batch(X)] == [model(x).data for x in X]


def test_sequential_with_batchnorm_between_layers_trains_on_batches_and_predicts_one_sample_in_eval():
    random.seed(1)
    model = Sequential(Layer(2, 4, nonlin=False), BatchNorm1d(4), Activation("relu"), Layer(4, 1, nonlin=False))
    X = [[0.1, 0.2], [-1.0, 0.5], [0.3, 0.3], [1.0, -1.0]]
    scores = model.batch(X)
    assert len(scores) == 4 and all(isinstance(s, Value) for s in scores)
    sum(scores).backward()
    assert any(p.grad != 0.0 for p in model[1].parameters())
    model.eval()
    assert isinstance(model(X[0]), Value)
    assert [s.data for s in model.batch(X)] == [model(x).data for x in X]


def test_sequential_names_parameters_like_pytorch():
    model = Sequential(Layer(2, 2), BatchNorm1d(2))
    names = [name for name, _ in model.named_parameters()]
    assert names[:3] == ["0.neurons.0.w.0", "0.neurons.0.w.1", "0.neurons.0.b"]
    assert names[-4:] == ["1.weight.0", "1.weight.1", "1.bias.0", "1.bias.1"]
    assert [n for n, _ in model.named_buffers()] == [
        "1.running_mean.0", "1.running_mean.1", "1.running_var.0", "1.running_var.1"
    ]
    assert len(model) == 2 and model[1] is model.layers[1]
    assert repr(model) == "Sequential(Layer of [ReLUNeuron(2), ReLUNeuron(2)], BatchNorm1d(2))"


@pytest.mark.parametrize(
    "make, error, message",
    [
        (lambda: BatchNorm1d(0), ValueError, "num_features must be a positive int, got int: 0"),
        (lambda: BatchNorm1d(2, eps=0), ValueError, "eps must be a positive number, got 0"),
        (lambda: BatchNorm1d(2, momentum=2), ValueError, r"momentum must be a number in \[0, 1\], got 2"),
        (lambda: Activation("gelu"), ValueError, "activation must be one of .*got 'gelu'"),
        (lambda: Sequential(), ValueError, "at least one module"),
        (
            lambda: Sequential(Layer(1, 1), len),
            TypeError,
            "Sequential needs Modules, got builtin_function_or_method at position 1",
        ),
    ],
)
def test_module_arguments_are_checked(make, error, message):
    with pytest.raises(error, match=message):
        make()
