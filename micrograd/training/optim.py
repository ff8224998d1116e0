"""Optimizers, learning-rate schedules and gradient clipping, with PyTorch's names and update rules.

An optimizer holds a list of parameters (leaf Values) and changes their `.data` from their
`.grad` in `step()`; `zero_grad()` clears the gradients. It slots into karpathy's demo loop
in place of its last two lines:

    optimizer = SGD(model.parameters(), lr=1.0)
    for k in range(100):
        ...
        optimizer.zero_grad()          # was: model.zero_grad()
        total_loss.backward()
        optimizer.lr = 1.0 - 0.9 * k / 100
        optimizer.step()               # was: for p in model.parameters(): p.data -= lr * p.grad

Plain SGD makes exactly the demo's update (`p.data -= lr * p.grad`), so the numbers match.
"""

from __future__ import annotations

import math
from numbers import Real
from typing import Dict, Iterable, List, Optional, Tuple

from ..arguments import positive_int, real
from ..engine import Value

__all__ = [
    "Optimizer",
    "SGD",
    "Adam",
    "AdamW",
    "LRScheduler",
    "LinearLR",
    "StepLR",
    "CosineAnnealingLR",
    "clip_grad_norm",
    "clip_grad_norm_",
    "clip_grad_value",
    "clip_grad_value_",
    "grad_norm",
]


def _parameter_list(parameters: Iterable[Value], who: str) -> List[Value]:
    params: List[Value] = [parameters] if isinstance(parameters, Value) else list(parameters)
    for p in params:
        if not isinstance(p, Value):
            raise TypeError(f"{who} needs Values as parameters, got {type(p).__name__}: {p!r}")
    return params


class Optimizer:
    """Base class: a list of parameters and a learning rate `lr` (an attribute you may set
    between steps, which is what the schedules do)."""

    def __init__(self, parameters: Iterable[Value], lr: float) -> None:
        self.params = _parameter_list(parameters, type(self).__name__)
        if not self.params:
            raise ValueError(f"{type(self).__name__} got an empty parameter list")
        self.lr = real("lr", lr, low=0.0)

    def zero_grad(self) -> None:
        """Set every parameter's gradient to 0."""
        for p in self.params:
            p.grad = 0.0

    def step(self) -> None:  # pragma: no cover - every optimizer defines it
        """Update every parameter from its gradient."""
        raise NotImplementedError

    def __repr__(self) -> str:
        settings = ", ".join(f"{k}={v!r}" for k, v in self._settings().items())
        return f"{type(self).__name__}({len(self.params)} parameters, {settings})"

    def _settings(self) -> Dict[str, object]:
        return {"lr": self.lr}


class SGD(Optimizer):
    """Stochastic gradient descent, as `torch.optim.SGD`.

    With `momentum` m, `dampening` d and `weight_decay` wd, for every parameter p:

        g = p.grad + wd * p
        buf = g on the first step, then m * buf + (1 - d) * g
        g = g + m * buf if nesterov else buf
        p = p - lr * g
    """

    def __init__(
        self,
        parameters: Iterable[Value],
        lr: float = 1e-3,
        momentum: float = 0.0,
        dampening: float = 0.0,
        weight_decay: float = 0.0,
        nesterov: bool = False,
    ) -> None:
        super().__init__(parameters, lr)
        self.momentum = real("momentum", momentum, low=0.0)
        self.dampening = real("dampening", dampening, low=0.0)
        self.weight_decay = real("weight_decay", weight_decay, low=0.0)
        self.nesterov = bool(nesterov)
        if self.nesterov and (self.momentum == 0.0 or self.dampening != 0.0):
            raise ValueError(f"nesterov needs momentum > 0 and dampening 0, got {momentum=!r}, {dampening=!r}")
        self._buffers: List[float] = []  # momentum buffers, one per parameter, after the first step

    def step(self) -> None:
        lr, m, wd = self.lr, self.momentum, self.weight_decay
        if m == 0.0 and wd == 0.0:
            for p in self.params:
                p.data -= lr * p.grad  # the demo's update, term for term
            return
        first = not self._buffers
        for i, p in enumerate(self.params):
            g = p.grad + wd * p.data if wd else p.grad
            if m:
                if first:
                    self._buffers.append(g)
                    buf = g
                else:
                    buf = self._buffers[i] = m * self._buffers[i] + (1.0 - self.dampening) * g
                g = g + m * buf if self.nesterov else buf
            p.data -= lr * g

    def _settings(self) -> Dict[str, object]:
        return {"lr": self.lr, "momentum": self.momentum, "weight_decay": self.weight_decay, "nesterov": self.nesterov}


class Adam(Optimizer):
    """Adam (Kingma & Ba, 2015), as `torch.optim.Adam`, with bias correction.

    At step t, for every parameter p with gradient g (plus `weight_decay * p`, L2 style):

        m = b1 * m + (1 - b1) * g            v = b2 * v + (1 - b2) * g * g
        p = p - lr / (1 - b1**t) * m / (sqrt(v) / sqrt(1 - b2**t) + eps)
    """

    _decoupled = False  # AdamW decays the weights directly instead of adding to the gradient
    _default_weight_decay = 0.0  # AdamW's is 1e-2, as in PyTorch

    def __init__(
        self,
        parameters: Iterable[Value],
        lr: float = 1e-3,
        betas: Tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: Optional[float] = None,
    ) -> None:
        super().__init__(parameters, lr)
        if not isinstance(betas, (tuple, list)) or len(betas) != 2:
            raise ValueError(f"betas must be a pair (beta1, beta2), got {betas!r}")
        self.betas = (real("betas[0]", betas[0], low=0.0, high=1.0), real("betas[1]", betas[1], low=0.0, high=1.0))
        self.eps = real("eps", eps, low=0.0)
        if weight_decay is None:
            weight_decay = self._default_weight_decay
        self.weight_decay = real("weight_decay", weight_decay, low=0.0)
        self.t = 0  # steps taken, for the bias correction
        self._m = [0.0] * len(self.params)
        self._v = [0.0] * len(self.params)

    def step(self) -> None:
        self.t += 1
        lr, (b1, b2), eps, wd = self.lr, self.betas, self.eps, self.weight_decay
        # The moments start at 0, so early on they are biased towards 0 by these factors.
        step_size = lr / (1.0 - b1**self.t)
        sqrt_correction2 = math.sqrt(1.0 - b2**self.t)
        m, v = self._m, self._v
        for i, p in enumerate(self.params):
            g = p.grad
            if wd:
                if self._decoupled:
                    p.data *= 1.0 - lr * wd
                else:
                    g = g + wd * p.data
            m[i] = b1 * m[i] + (1.0 - b1) * g
            v[i] = b2 * v[i] + (1.0 - b2) * g * g
            p.data -= step_size * (m[i] / (math.sqrt(v[i]) / sqrt_correction2 + eps))

    def _settings(self) -> Dict[str, object]:
        return {"lr": self.lr, "betas": self.betas, "eps": self.eps, "weight_decay": self.weight_decay}


class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov & Hutter, 2019), as `torch.optim.AdamW`:
    each step first shrinks every parameter by `1 - lr * weight_decay`, then takes Adam's step
    on the plain gradient. Same arguments as Adam; `weight_decay` defaults to 1e-2."""

    _decoupled = True
    _default_weight_decay = 1e-2


# ---------------------------------------------------------------------------------------
# Learning-rate schedules. Each computes the rate at step t in closed form from the
# optimizer's starting `lr`; `step()` advances t and sets `optimizer.lr`.
# ---------------------------------------------------------------------------------------

class LRScheduler:
    """Base class: `step()` once per epoch (or per optimizer step: your choice of unit),
    after `optimizer.step()`, as in PyTorch."""

    def __init__(self, optimizer: Optimizer) -> None:
        if not isinstance(optimizer, Optimizer):
            raise TypeError(f"{type(self).__name__} needs an Optimizer, got {type(optimizer).__name__}")
        self.optimizer = optimizer
        self.base_lr = optimizer.lr
        self.last_epoch = 0
        optimizer.lr = self.lr_at(0)

    def lr_at(self, t: int) -> float:  # pragma: no cover - every schedule defines it
        """The learning rate at step `t` (0 is the start)."""
        raise NotImplementedError

    def step(self) -> None:
        """Advance one step and set the optimizer's learning rate."""
        self.last_epoch += 1
        self.optimizer.lr = self.lr_at(self.last_epoch)

    def get_last_lr(self) -> float:
        """The learning rate set by the last `step()` (PyTorch's name)."""
        return self.optimizer.lr


class LinearLR(LRScheduler):
    """The factor on the starting `lr` goes linearly from `start_factor` to `end_factor` over
    `total_iters` steps, then stays (as `torch.optim.lr_scheduler.LinearLR`).

    karpathy's demo decay (`lr = 1.0 - 0.9 * k / 100`) is `LinearLR(SGD(params, lr=1.0),
    start_factor=1.0, end_factor=0.1, total_iters=100)`, to the last bit.
    """

    def __init__(
        self, optimizer: Optimizer, start_factor: float = 1.0 / 3, end_factor: float = 1.0, total_iters: int = 5
    ) -> None:
        self.start_factor = real("start_factor", start_factor, low=0.0)
        self.end_factor = real("end_factor", end_factor, low=0.0)
        self.total_iters = positive_int("total_iters", total_iters)
        super().__init__(optimizer)

    def lr_at(self, t: int) -> float:
        s, e = self.start_factor, self.end_factor
        # The demo's expression, 1.0 - 0.9 * k / 100, with s = 1.0, s - e = 0.9, total = 100.
        return self.base_lr * (s - (s - e) * min(t, self.total_iters) / self.total_iters)


class StepLR(LRScheduler):
    """Multiply the rate by `gamma` every `step_size` steps (as `torch.optim.lr_scheduler.StepLR`)."""

    def __init__(self, optimizer: Optimizer, step_size: int, gamma: float = 0.1) -> None:
        self.step_size = positive_int("step_size", step_size)
        self.gamma = real("gamma", gamma, low=0.0)
        super().__init__(optimizer)

    def lr_at(self, t: int) -> float:
        return self.base_lr * self.gamma ** (t // self.step_size)


class CosineAnnealingLR(LRScheduler):
    """Half a cosine from the starting rate down to `eta_min` over `T_max` steps
    (`torch.optim.lr_scheduler.CosineAnnealingLR`, closed form, without restarts)."""

    def __init__(self, optimizer: Optimizer, T_max: int, eta_min: float = 0.0) -> None:
        self.T_max = positive_int("T_max", T_max)
        self.eta_min = real("eta_min", eta_min, low=0.0)
        super().__init__(optimizer)

    def lr_at(self, t: int) -> float:
        t = min(t, self.T_max)
        return self.eta_min + (self.base_lr - self.eta_min) * (1.0 + math.cos(math.pi * t / self.T_max)) / 2.0


# ---------------------------------------------------------------------------------------
# Gradient clipping: the classic remedy for exploding gradients.
# ---------------------------------------------------------------------------------------

def clip_grad_norm(parameters: Iterable[Value], max_norm: float, norm_type: float = 2.0) -> float:
    """Scale all gradients together so that their joint norm is at most `max_norm`.

    Returns the norm before clipping (to log or plot). When it exceeds `max_norm`, every
    gradient is multiplied by `max_norm / norm`, so the direction is kept and the new norm is
    `max_norm` (to rounding). Unlike PyTorch, no 1e-6 is added to the norm, so the scale is exact.
    `norm_type` is p of the p-norm, or `math.inf` for the largest absolute gradient.
    """
    params = _parameter_list(parameters, "clip_grad_norm")
    max_norm = real("max_norm", max_norm, low=0.0)
    total = grad_norm(params, norm_type)
    if total > max_norm:
        scale = max_norm / total
        for p in params:
            p.grad *= scale
    return total


def grad_norm(parameters: Iterable[Value], norm_type: float = 2.0) -> float:
    """The p-norm of all the gradients together (2 by default; `math.inf`: the largest |grad|)."""
    params = _parameter_list(parameters, "grad_norm")
    if isinstance(norm_type, bool) or not isinstance(norm_type, Real) or not norm_type > 0:
        raise ValueError(f"norm_type must be a positive number or math.inf, got {norm_type!r}")
    grads = [p.grad for p in params]
    if not grads:
        return 0.0
    if norm_type == 2.0:
        return math.hypot(*grads)  # scaled internally: no overflow for huge gradients
    if norm_type == math.inf:
        return max(abs(g) for g in grads)
    # Divide by the largest first, so the powers neither overflow nor underflow to 0.
    top = max(abs(g) for g in grads)
    if top == 0.0:
        return 0.0
    return top * sum((abs(g) / top) ** norm_type for g in grads) ** (1.0 / norm_type)


def clip_grad_value(parameters: Iterable[Value], clip_value: float) -> None:
    """Clamp every gradient to [-clip_value, clip_value]."""
    c = real("clip_value", clip_value, low=0.0)
    for p in _parameter_list(parameters, "clip_grad_value"):
        p.grad = min(max(p.grad, -c), c)


# PyTorch's in-place names, for code written against torch.nn.utils.
clip_grad_norm_ = clip_grad_norm
clip_grad_value_ = clip_grad_value
