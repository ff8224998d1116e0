"""Losses against known values, central differences, extreme logits and (if installed) PyTorch."""

from __future__ import annotations

import math
import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from micrograd import central_difference
from micrograd.engine import Value
from micrograd.training.losses import (
    accuracy,
    binary_accuracy,
    binary_cross_entropy_with_logits,
    cross_entropy,
    hinge_loss,
    l2_penalty,
    log_softmax,
    logsumexp,
    mse_loss,
    softmax,
)


def values(xs):
    return [Value(x) for x in xs]


def test_mse_loss_known_value_and_gradient():
    out = values([1.0, 2.0])
    loss = mse_loss(out, [0.0, 4.0])
    loss.backward()
    assert loss.data == 2.5  # ((1 - 0)**2 + (2 - 4)**2) / 2
    assert [o.grad for o in out] == [1.0, -2.0]  # 2 * (o - t) / n


def test_mse_loss_averages_over_every_output_of_every_sample():
    loss = mse_loss([values([1.0, 0.0]), values([0.0, 3.0])], [[0.0, 0.0], [0.0, 1.0]])
    assert loss.data == (1.0 + 0.0 + 0.0 + 4.0) / 4


def test_hinge_loss_known_value():
    loss = hinge_loss(values([0.5, -2.0, 3.0]), [1, 1, -1])
    assert loss.data == pytest.approx((0.5 + 3.0 + 4.0) / 3, rel=1e-15)


def test_hinge_loss_is_the_demo_formula_to_the_last_bit():
    rng = random.Random(0)
    scores = values([rng.uniform(-3, 3) for _ in range(50)])
    ys = [rng.choice([-1, 1]) for _ in range(50)]
    demo = [(1 + -yi * si).relu() for yi, si in zip(ys, scores)]
    expected = sum(demo) * (1.0 / len(demo))
    assert hinge_loss(scores, ys).data == expected.data


def test_binary_cross_entropy_known_values():
    assert binary_cross_entropy_with_logits(values([0.0]), [1]).data == pytest.approx(math.log(2), rel=1e-15)
    assert binary_cross_entropy_with_logits(values([2.0]), [0]).data == pytest.approx(
        math.log1p(math.exp(2)), rel=1e-15
    )


def test_cross_entropy_known_value_and_softmax_gradient():
    z = values([1.0, 2.0, 3.0])
    loss = cross_entropy([z], [2])
    loss.backward()
    total = math.exp(1) + math.exp(2) + math.exp(3)
    assert loss.data == pytest.approx(math.log(total) - 3.0, rel=1e-14)
    expected = [math.exp(1) / total, math.exp(2) / total, math.exp(3) / total - 1.0]  # softmax - onehot
    assert [v.grad for v in z] == pytest.approx(expected, rel=1e-13)


@pytest.mark.parametrize("label, expected", [(0, 0.0), (1, 2000.0)])
def test_cross_entropy_is_exact_at_logits_of_plus_minus_1000(label, expected):
    z = values([1000.0, -1000.0])
    loss = cross_entropy([z], [label])
    loss.backward()
    assert loss.data == expected
    sign = 1.0 if label == 1 else 0.0
    assert [v.grad for v in z] == [sign, -sign]  # softmax is (1, 0) exactly


@pytest.mark.parametrize(
    "logit, label, expected, grad",
    [(1000.0, 0, 1000.0, 1.0), (1000.0, 1, 0.0, 0.0), (-1000.0, 0, 0.0, 0.0), (-1000.0, 1, 1000.0, -1.0)],
)
def test_binary_cross_entropy_is_exact_at_logits_of_plus_minus_1000(logit, label, expected, grad):
    z = Value(logit)
    loss = binary_cross_entropy_with_logits([z], [label])
    loss.backward()
    assert (loss.data, z.grad) == (expected, grad)  # gradient sigmoid(z) - y


def test_logsumexp_softmax_and_log_softmax_agree_and_do_not_overflow():
    z = [800.0, 799.0, -5.0]
    assert logsumexp(z).data == pytest.approx(800.0 + math.log(1 + math.exp(-1) + math.exp(-805)), rel=1e-15)
    probs = [p.data for p in softmax(z)]
    assert sum(probs) == pytest.approx(1.0, rel=1e-15)
    assert [math.exp(v.data) for v in log_softmax(z)] == pytest.approx(probs, rel=1e-14)


def _scalar_loss(kind, n=4, k=3):
    """(loss of a flat list of floats, sample inputs) for each loss, labels fixed."""
    rng = random.Random(7)
    if kind == "mse":
        targets = [rng.uniform(-1, 1) for _ in range(n)]
        return (lambda xs: mse_loss(xs, targets)), [rng.uniform(-2, 2) for _ in range(n)]
    if kind == "hinge":
        ys = [1, -1, 1, -1]
        # Scores at least 0.2 from the kink at y * s = 1, where the derivative jumps.
        return (lambda xs: hinge_loss(xs, ys)), [0.3, 0.1, 1.7, -1.5]
    if kind == "bce":
        ys = [0, 1, 1, 0.25]
        return (lambda xs: binary_cross_entropy_with_logits(xs, ys)), [rng.uniform(-3, 3) for _ in range(n)]
    labels = [rng.randrange(k) for _ in range(n)]
    return (lambda xs: cross_entropy([xs[i * k:(i + 1) * k] for i in range(n)], labels)), [
        rng.uniform(-3, 3) for _ in range(n * k)
    ]


@pytest.mark.parametrize("kind", ["mse", "hinge", "bce", "cross_entropy"])
def test_loss_gradient_matches_central_differences(kind):
    loss_of, xs = _scalar_loss(kind)
    leaves = values(xs)
    loss_of(leaves).backward()
    numeric = [central_difference(lambda *v: loss_of(values(list(v))), *xs, arg=i) for i in range(len(xs))]
    for i, (g, n) in enumerate(zip((v.grad for v in leaves), numeric)):
        assert g == pytest.approx(n, rel=1e-6, abs=1e-9), f"{kind}: d loss / d x[{i}] is {g}, finite differences {n}"


def test_l2_penalty_is_the_demo_regularization():
    ps = values([0.5, -2.0])
    assert l2_penalty(ps, 1e-4).data == 1e-4 * (0.25 + 4.0)


def test_binary_accuracy_reads_both_label_conventions():
    scores = values([0.3, -0.1, 2.0, -4.0])
    assert binary_accuracy(scores, [1, -1, -1, -1]) == 0.75
    assert binary_accuracy(scores, [1, 0, 0, 0]) == 0.75


def test_accuracy_takes_the_argmax_first_of_ties():
    logits = [values([0.1, 0.9, 0.0]), values([2.0, 2.0, 1.0]), [0.0, 0.0, 5.0]]
    assert accuracy(logits, [1, 0, 0]) == pytest.approx(2 / 3)


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: hinge_loss(values([1.0, 2.0]), [1]), "one label per output, got 2 outputs and 1 labels"),
        (lambda: hinge_loss(values([1.0]), [0]), r"labels must be one of \[-1, 1\], got 0"),
        (lambda: hinge_loss([], []), "at least one sample"),
        (lambda: binary_cross_entropy_with_logits(values([1.0]), [2]), r"labels must be in \[0, 1\], got 2"),
        (lambda: cross_entropy([values([1.0, 2.0])], [2]), r"labels must be ints in 0..1, got 2"),
        (lambda: cross_entropy([Value(1.0)], [0]), "at least 2 class scores"),
        (lambda: logsumexp([]), "at least one value"),
    ],
)
def test_loss_errors_name_the_problem(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_a_single_output_instead_of_a_list_is_a_type_error():
    with pytest.raises(TypeError, match="hinge_loss needs a list of outputs, one per sample, got a single Value"):
        hinge_loss(Value(1.0), [1])


# --- PyTorch as an independent oracle (skipped when it is not installed) -------------------


def test_losses_and_gradients_match_pytorch():
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    rng = random.Random(3)
    n, k = 5, 4
    logits = [[rng.uniform(-5, 5) for _ in range(k)] for _ in range(n)]
    labels = [rng.randrange(k) for _ in range(n)]
    ours = [values(row) for row in logits]
    loss = cross_entropy(ours, labels)
    loss.backward()
    t = torch.tensor(logits, dtype=torch.float64, requires_grad=True)
    ref = F.cross_entropy(t, torch.tensor(labels))
    ref.backward()
    assert loss.data == pytest.approx(ref.item(), rel=1e-14)
    assert [v.grad for row in ours for v in row] == pytest.approx(t.grad.flatten().tolist(), rel=1e-12, abs=1e-15)

    z = [rng.uniform(-5, 5) for _ in range(n)]
    ys = [rng.choice([0, 1]) for _ in range(n)]
    ours = values(z)
    loss = binary_cross_entropy_with_logits(ours, ys)
    loss.backward()
    t = torch.tensor(z, dtype=torch.float64, requires_grad=True)
    ref = F.binary_cross_entropy_with_logits(t, torch.tensor(ys, dtype=torch.float64))
    ref.backward()
    assert loss.data == pytest.approx(ref.item(), rel=1e-14)
    assert [v.grad for v in ours] == pytest.approx(t.grad.tolist(), rel=1e-12, abs=1e-15)

    targets = [rng.uniform(-1, 1) for _ in range(n)]
    assert mse_loss(values(z), targets).data == pytest.approx(
        F.mse_loss(torch.tensor(z, dtype=torch.float64), torch.tensor(targets, dtype=torch.float64)).item(), rel=1e-14
    )


# --- properties over the whole range of logits ------------------------------------------------

logit_rows = st.integers(2, 5).flatmap(
    lambda k: st.tuples(st.lists(st.floats(-1000, 1000), min_size=k, max_size=k), st.integers(0, k - 1))
)


@given(logit_rows)
def test_cross_entropy_gradient_is_softmax_minus_onehot_for_any_logits(row):
    logits, label = row
    z = values(logits)
    loss = cross_entropy([z], [label])
    loss.backward()
    m = max(logits)
    exps = [math.exp(v - m) for v in logits]
    probs = [e / sum(exps) for e in exps]
    assert math.isfinite(loss.data) and loss.data >= 0.0
    assert loss.data == pytest.approx(m + math.log(sum(exps)) - logits[label], rel=1e-12, abs=1e-12)
    expected = [p - (i == label) for i, p in enumerate(probs)]
    assert [v.grad for v in z] == pytest.approx(expected, rel=1e-12, abs=1e-15)


@given(st.floats(-1000, 1000), st.sampled_from([0, 1]))
def test_binary_cross_entropy_gradient_is_sigmoid_minus_label_for_any_logit(logit, label):
    z = Value(logit)
    loss = binary_cross_entropy_with_logits([z], [label])
    loss.backward()
    sigmoid = 1 / (1 + math.exp(-logit)) if logit >= 0 else math.exp(logit) / (1 + math.exp(logit))
    assert math.isfinite(loss.data) and loss.data >= 0.0
    assert z.grad == pytest.approx(sigmoid - label, rel=1e-12, abs=1e-15)


def test_cross_entropy_accepts_numpy_integer_labels():
    np = pytest.importorskip("numpy")
    logits = [[Value(1.0), Value(2.0)], [Value(0.5), Value(-1.0)]]
    assert cross_entropy(logits, np.array([1, 0])).data == cross_entropy(logits, [1, 0]).data
