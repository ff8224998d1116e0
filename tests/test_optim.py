"""Optimizers against hand-computed updates, schedules at known steps, clipping, and PyTorch."""

from __future__ import annotations

import math
import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from micrograd.engine import Value
from micrograd.training.optim import (
    SGD,
    Adam,
    AdamW,
    CosineAnnealingLR,
    LinearLR,
    StepLR,
    clip_grad_norm,
    clip_grad_value,
    grad_norm,
)


def run(optimizer, p, grads):
    """Take one step per gradient (set by hand) and return the parameter after each."""
    seen = []
    for g in grads:
        optimizer.zero_grad()
        p.grad = g
        optimizer.step()
        seen.append(p.data)
    return seen


def test_plain_sgd_is_the_demos_update_to_the_last_bit():
    rng = random.Random(1)
    ps = [Value(rng.uniform(-1, 1)) for _ in range(10)]
    grads = [rng.uniform(-1, 1) for _ in ps]
    expected = [p.data - 0.37 * g for p, g in zip(ps, grads)]
    for p, g in zip(ps, grads):
        p.grad = g
    SGD(ps, lr=0.37).step()
    assert [p.data for p in ps] == expected


def test_sgd_momentum_by_hand():
    p = Value(1.0)
    # buf: 1 -> 0.9*1 + 0.5 = 1.4 -> 0.9*1.4 - 1 = 0.26; p -= 0.1 * buf
    assert run(SGD([p], lr=0.1, momentum=0.9), p, [1.0, 0.5, -1.0]) == pytest.approx([0.9, 0.76, 0.734], abs=1e-15)


def test_sgd_nesterov_by_hand():
    p = Value(1.0)
    # step 1: buf = 1, g = 1 + 0.9*1 = 1.9; step 2: buf = 1.4, g = 0.5 + 0.9*1.4 = 1.76
    assert run(SGD([p], lr=0.1, momentum=0.9, nesterov=True), p, [1.0, 0.5]) == pytest.approx([0.81, 0.634], abs=1e-15)


def test_sgd_dampening_and_weight_decay_by_hand():
    p = Value(1.0)
    # step 1: g = 1 + 0.1*1 = 1.1, buf = 1.1, p = 1 - 0.11 = 0.89
    # step 2: g = 1 + 0.1*0.89 = 1.089, buf = 0.5*1.1 + 0.75*1.089 = 1.36675, p = 0.89 - 0.136675
    opt = SGD([p], lr=0.1, momentum=0.5, dampening=0.25, weight_decay=0.1)
    assert run(opt, p, [1.0, 1.0]) == pytest.approx([0.89, 0.753325], abs=1e-15)


def adam_by_hand(p, grads, lr, b1=0.9, b2=0.999, eps=1e-8):
    """Kingma & Ba's Algorithm 1, as written in the paper (bias-corrected moments)."""
    m = v = 0.0
    out = []
    for t, g in enumerate(grads, start=1):
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        m_hat, v_hat = m / (1 - b1**t), v / (1 - b2**t)
        p = p - lr * m_hat / (math.sqrt(v_hat) + eps)
        out.append(p)
    return out


def test_adam_with_bias_correction_by_hand():
    grads = [2.0, -1.0, 0.5, 3.0, -0.25]
    p = Value(1.0)
    ours = run(Adam([p], lr=0.1), p, grads)
    assert ours == pytest.approx(adam_by_hand(1.0, grads, 0.1), rel=1e-13)
    # Thanks to the bias correction the first step has length lr (up to eps), whatever |g|.
    assert ours[0] == pytest.approx(0.9, abs=1e-9)


def test_adam_adds_weight_decay_to_the_gradient_but_adamw_decays_the_weight():
    p, q = Value(1.0), Value(1.0)
    run(Adam([p], lr=0.1, weight_decay=0.01), p, [0.0])
    run(AdamW([q], lr=0.1, weight_decay=0.01), q, [0.0])
    assert p.data == pytest.approx(0.9, abs=1e-6)  # g = 0.01: a full Adam step of length lr
    assert q.data == 1.0 * (1 - 0.1 * 0.01)  # zero gradient: only the decoupled shrink


def test_optimizer_lr_can_be_set_between_steps():
    p = Value(1.0)
    opt = SGD([p], lr=1.0)
    p.grad = 1.0
    opt.lr = 0.25
    opt.step()
    assert p.data == 0.75


def test_zero_grad_clears_every_parameter():
    ps = [Value(1.0), Value(2.0)]
    for p in ps:
        p.grad = 3.0
    Adam(ps).zero_grad()
    assert [p.grad for p in ps] == [0.0, 0.0]


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda: SGD([], lr=0.1), "empty parameter list"),
        (lambda: SGD([Value(1.0)], lr=-1), "lr must be a number >= 0.0, got -1"),
        (lambda: SGD([Value(1.0)], lr=0.1, nesterov=True), "nesterov needs momentum > 0"),
        (lambda: Adam([Value(1.0)], betas=(0.9, 1.0)), r"betas\[1\] must be a number in \[0.0, 1.0\), got 1.0"),
        (lambda: Adam([Value(1.0)], betas=0.9), "betas must be a pair"),
    ],
)
def test_optimizer_arguments_are_checked(make, message):
    with pytest.raises(ValueError, match=message):
        make()


def test_optimizer_needs_values():
    with pytest.raises(TypeError, match="SGD needs Values as parameters, got float: 1.0"):
        SGD([1.0], lr=0.1)


# --- schedules ------------------------------------------------------------------------------


def test_linear_lr_is_the_demos_decay_to_the_last_bit():
    opt = SGD([Value(0.0)], lr=1.0)
    sched = LinearLR(opt, start_factor=1.0, end_factor=0.1, total_iters=100)
    seen = []
    for _ in range(100):
        seen.append(opt.lr)
        sched.step()
    assert seen == [1.0 - 0.9 * k / 100 for k in range(100)]
    for _ in range(5):
        sched.step()
    assert opt.lr == pytest.approx(0.1, rel=1e-15)  # stays at end_factor after total_iters


def test_step_lr_at_known_steps():
    opt = SGD([Value(0.0)], lr=0.8)
    sched = StepLR(opt, step_size=10, gamma=0.5)
    lrs = {0: opt.lr}
    for t in range(1, 31):
        sched.step()
        lrs[t] = sched.get_last_lr()
    assert (lrs[0], lrs[9], lrs[10], lrs[19], lrs[20], lrs[30]) == (0.8, 0.8, 0.4, 0.4, 0.2, 0.1)


def test_cosine_annealing_at_known_steps():
    opt = Adam([Value(0.0)], lr=1.0)
    sched = CosineAnnealingLR(opt, T_max=10, eta_min=0.2)
    assert sched.lr_at(0) == 1.0
    assert sched.lr_at(5) == pytest.approx(0.6, rel=1e-15)  # half way: the mean of the ends
    assert sched.lr_at(10) == pytest.approx(0.2, rel=1e-15)
    assert sched.lr_at(15) == pytest.approx(0.2, rel=1e-15)
    assert sched.lr_at(2) == pytest.approx(0.2 + 0.8 * (1 + math.cos(math.pi / 5)) / 2, rel=1e-15)


# --- clipping -------------------------------------------------------------------------------


def with_grads(grads):
    ps = [Value(0.0) for _ in grads]
    for p, g in zip(ps, grads):
        p.grad = g
    return ps


def test_clip_grad_norm_returns_the_norm_and_scales_to_max_norm():
    ps = with_grads([3.0, 4.0])
    assert clip_grad_norm(ps, 1.0) == 5.0
    assert [p.grad for p in ps] == pytest.approx([0.6, 0.8], rel=1e-15)


@pytest.mark.parametrize("seed", range(5))
def test_clip_grad_norm_leaves_exactly_max_norm(seed):
    rng = random.Random(seed)
    ps = with_grads([rng.gauss(0, 10) for _ in range(50)])
    before = [p.grad for p in ps]
    norm = clip_grad_norm(ps, 2.5)
    assert norm == pytest.approx(math.sqrt(sum(g * g for g in before)), rel=1e-14)
    assert grad_norm(ps) == pytest.approx(2.5, rel=4e-16)
    assert [p.grad for p in ps] == [g * (2.5 / norm) for g in before]  # one scale: the direction is kept


def test_clip_grad_norm_leaves_small_gradients_alone():
    ps = with_grads([0.1, -0.2])
    assert clip_grad_norm(ps, 1.0) == pytest.approx(math.sqrt(0.05), rel=1e-15)
    assert [p.grad for p in ps] == [0.1, -0.2]


def test_clip_grad_norm_does_not_overflow_on_huge_gradients():
    ps = with_grads([1e200, 1e200])
    assert clip_grad_norm(ps, 1.0) == pytest.approx(math.sqrt(2) * 1e200, rel=1e-15)
    assert grad_norm(ps) == pytest.approx(1.0, rel=1e-15)


def test_grad_norm_other_p():
    ps = with_grads([3.0, -4.0])
    assert grad_norm(ps, math.inf) == 4.0
    assert grad_norm(ps, 1) == pytest.approx(7.0, rel=1e-15)


def test_clip_grad_value_clamps_each_gradient():
    ps = with_grads([3.0, -4.0, 0.5])
    clip_grad_value(ps, 1.0)
    assert [p.grad for p in ps] == [1.0, -1.0, 0.5]


# --- PyTorch as an independent oracle (skipped when it is not installed) -------------------

TORCH_CASES = [
    (SGD, "SGD", dict(lr=0.1, momentum=0.9)),
    (SGD, "SGD", dict(lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.01)),
    (SGD, "SGD", dict(lr=0.05, momentum=0.5, dampening=0.3, weight_decay=0.1)),
    (Adam, "Adam", dict(lr=0.1)),
    (Adam, "Adam", dict(lr=0.05, betas=(0.8, 0.99), eps=1e-6, weight_decay=0.1)),
    (AdamW, "AdamW", dict(lr=0.05, weight_decay=0.1)),
]


@pytest.mark.parametrize("ours, name, kwargs", TORCH_CASES)
def test_optimizer_matches_pytorch_on_a_quadratic_for_20_steps(ours, name, kwargs):
    torch = pytest.importorskip("torch")
    start = [1.5, -0.5, 2.0]
    target = [0.3, 0.7, -1.0]
    ps = [Value(x) for x in start]
    opt = ours(ps, **kwargs)
    t = torch.tensor(start, dtype=torch.float64, requires_grad=True)
    ref = getattr(torch.optim, name)([t], foreach=False, **kwargs)
    for _ in range(20):
        loss = sum(((p - c) ** 2 * (i + 1) for i, (p, c) in enumerate(zip(ps, target))))
        opt.zero_grad()
        loss.backward()
        opt.step()
        weights = torch.tensor([1.0, 2.0, 3.0], dtype=torch.float64)
        ref_loss = (((t - torch.tensor(target, dtype=torch.float64)) ** 2) * weights).sum()
        ref.zero_grad()
        ref_loss.backward()
        ref.step()
    assert [p.data for p in ps] == pytest.approx(t.tolist(), rel=1e-12, abs=1e-14)


def test_adamw_defaults_to_pytorchs_weight_decay():
    assert AdamW([Value(1.0)]).weight_decay == 1e-2
    assert Adam([Value(1.0)]).weight_decay == 0.0



@given(st.lists(st.floats(-1e6, 1e6), min_size=1, max_size=40), st.floats(1e-3, 1e3))
def test_clip_grad_norm_never_leaves_more_than_max_norm(grads, max_norm):
    ps = with_grads(grads)
    norm = clip_grad_norm(ps, max_norm)
    if norm > max_norm:
        assert grad_norm(ps) == pytest.approx(max_norm, rel=1e-15)
    else:
        assert [p.grad for p in ps] == grads
