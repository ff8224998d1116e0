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

As in PyTorch, an optimizer also takes parameter groups, each with its own settings (the
keyword arguments are the defaults), and a schedule scales each group's starting rate:

    SGD([{"params": model.layers[0].parameters(), "lr": 0.01},
         {"params": model.layers[1].parameters(), "weight_decay": 1e-4}], lr=0.1, momentum=0.9)

A step is computed in full before anything changes: when any new parameter value or piece
of optimizer state would be infinite or NaN, `step()` raises `NonFiniteStepError` naming the
first such parameter and its numbers, and leaves every parameter and the optimizer as they
were. `state_dict()` / `load_state_dict()` on optimizers and schedules save and restore them
(momentum buffers, Adam's moments and step count, each group's settings), so that a resumed
run continues bit for bit; `micrograd.training.serialize.save(model, path, optimizer=...)`
puts them in the model file.
"""

from __future__ import annotations

import math
from numbers import Real
from typing import Any, Callable, ClassVar, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple, Union

from ..arguments import flag, positive_int, real, whole_number
from ..engine import NonFiniteError, Value

__all__ = [
    "Optimizer",
    "SGD",
    "Adam",
    "AdamW",
    "NonFiniteStepError",
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

Settings = Dict[str, Any]  # an optimizer's or a group's settings: {"lr": 0.1, "momentum": 0.9, ...}
Check = Callable[[str, Any], Any]  # (name for the message, value) -> the value to use, or an error
ParamGroups = Union[Value, Iterable[Value], Iterable[Mapping[str, Any]]]


class NonFiniteStepError(NonFiniteError, ValueError):
    """A training step that would put infinity or NaN somewhere it must not be: into a
    parameter or the optimizer's state (`step()`), into the learning rate (a schedule's
    `step()`), or a gradient norm that is not finite (`clip_grad_norm`). Nothing was changed."""


# --- the checks of every setting: one per kind, shared by the constructors, by assignments
# such as `opt.lr = 0.1` and by load_state_dict, so a file cannot set what a call could not.

def _at_least_0(name: str, x: Any) -> float:
    return real(name, x, low=0.0)


def _positive(name: str, x: Any) -> float:
    return real(name, x, low=0.0, low_open=True)


def _betas(name: str, x: Any) -> Tuple[float, float]:
    if isinstance(x, (str, bytes)) or not isinstance(x, (tuple, list)) or len(x) != 2:
        raise ValueError(f"{name} must be a pair (beta1, beta2), got {x!r}")
    return real(f"{name}[0]", x[0], low=0.0, high=1.0), real(f"{name}[1]", x[1], low=0.0, high=1.0)


def _finite(name: str, x: Any) -> float:
    return real(name, x)


def _step_count(name: str, x: Any) -> int:
    return whole_number(name, x, low=1)


def _qualified(where: str, name: str) -> str:
    """`lr` for the optimizer's own arguments, `param_groups[1]['lr']` for a group's."""
    return f"{where}[{name!r}]" if where else name


def _parameter_list(parameters: Iterable[Value], who: str) -> List[Value]:
    if isinstance(parameters, Value):
        return [parameters]
    try:
        params = list(parameters)
    except TypeError:
        raise TypeError(
            f"{who} needs an iterable of Values, got {type(parameters).__name__}: {parameters!r}"
        ) from None
    for p in params:
        if not isinstance(p, Value):
            raise TypeError(f"{who} needs Values as parameters, got {type(p).__name__}: {p!r}")
    return params


def _given_groups(parameters: ParamGroups, who: str) -> List[Mapping[str, Any]]:
    """What the optimizer was given, as a list of group dicts (one for a plain list of Values)."""
    if isinstance(parameters, Mapping):
        return [parameters]  # one group, given as a dict
    try:
        items: List[Any] = [parameters] if isinstance(parameters, Value) else list(parameters)
    except TypeError:
        raise TypeError(
            f"{who} needs an iterable of Values or of param group dicts, got {type(parameters).__name__}:"
            f" {_shorten(parameters)}"
        ) from None
    if not items:
        raise ValueError(f"{who} got an empty parameter list")
    if all(isinstance(x, Mapping) for x in items):
        return items
    if any(isinstance(x, Mapping) for x in items):
        raise TypeError(f"{who} needs either Values or param group dicts, not a mix of both: {_shorten(items)}")
    return [{"params": items}]


class _GroupSetting:
    """A setting read and written as an attribute of the optimizer (`opt.lr = 0.1`): with
    one parameter group it is that group's; with several, each group has its own in
    `opt.param_groups[i]` and the attribute refuses to pick one."""

    name = ""

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    def __get__(self, opt: Optional["Optimizer"], owner: Optional[type] = None) -> Any:
        if opt is None:
            return self
        return opt._only_group(self.name)[self.name]

    def __set__(self, opt: "Optimizer", value: Any) -> None:
        group = opt._only_group(self.name)
        settings = {k: v for k, v in group.items() if k != "params"}
        settings[self.name] = value
        group.update(opt._checked_settings(settings, ""))  # checked like the constructor's argument


class Optimizer:
    """Base class: parameters in one or more groups, each group a dict with its `"params"`
    and its settings (`"lr"`, ...), in `param_groups` (PyTorch's layout). `optimizer.params`
    lists every parameter; `optimizer.lr` is the learning rate of a single group (an
    attribute you may set between steps, which is what the schedules do).

    Args:
        parameters: Values (`model.parameters()`), or a list of dicts
            `{"params": [...], "lr": ..., ...}`, one per group; a group's missing settings
            come from `defaults`. A parameter may appear only once.
        defaults: the settings of every group that does not set its own, as a dict, or the
            learning rate alone.
    """

    # Each setting's check; subclasses list theirs. The cross-setting rules are in _check_group.
    _SETTINGS: ClassVar[Dict[str, Check]] = {"lr": _at_least_0}
    # The per-parameter state in state_dict(), and each entry's check.
    _STATE: ClassVar[Dict[str, Check]] = {}

    lr = _GroupSetting()

    def __init__(self, parameters: ParamGroups, defaults: Union[float, Mapping[str, Any]]) -> None:
        who = type(self).__name__
        self.defaults: Settings = self._checked_settings(
            {"lr": defaults} if not isinstance(defaults, Mapping) else dict(defaults), ""
        )
        self.param_groups: List[Dict[str, Any]] = []
        owner: Dict[int, int] = {}  # id(parameter) -> its index, to refuse a parameter given twice
        for i, given in enumerate(_given_groups(parameters, who)):
            if "params" not in given:
                raise ValueError(f"{who} param group {i} has no 'params': {dict(given)!r}")
            params = _parameter_list(given["params"], who)
            if not params:
                raise ValueError(f"{who} param group {i} has no parameters")
            for p in params:
                if id(p) in owner:
                    raise ValueError(
                        f"{who} got parameter {owner[id(p)]} ({p!r}) twice: each parameter may be given once"
                        " (else one step would update it twice)"
                    )
                owner[id(p)] = len(owner)
            settings = {k: v for k, v in given.items() if k != "params"}
            where = f"param_groups[{i}]" if settings else ""
            self.param_groups.append({"params": params, **self._checked_settings({**self.defaults, **settings}, where)})
        self.params: List[Value] = [p for group in self.param_groups for p in group["params"]]

    # --- settings -----------------------------------------------------------------------

    def _checked_settings(self, settings: Mapping[str, Any], where: str) -> Settings:
        """Every setting checked (and made the type the step computes with), or an error
        naming it: `lr must be ...` for an argument, `param_groups[1]['lr'] must be ...` for a group."""
        unknown = sorted(set(settings) - set(self._SETTINGS))
        if unknown:
            raise ValueError(
                f"{type(self).__name__} has no setting {', '.join(map(repr, unknown))}"
                f"{' in ' + where if where else ''}; its settings are {sorted(self._SETTINGS)}"
            )
        missing = sorted(set(self._SETTINGS) - set(settings))
        if missing:
            raise ValueError(f"{where or 'the settings'}: missing {', '.join(map(repr, missing))}")
        checked = {name: check(_qualified(where, name), settings[name]) for name, check in self._SETTINGS.items()}
        self._check_group(checked, where)
        return checked

    def _check_group(self, settings: Settings, where: str) -> None:
        """Rules that involve more than one setting (none here)."""

    def _only_group(self, name: str) -> Dict[str, Any]:
        if len(self.param_groups) != 1:
            raise ValueError(
                f"{type(self).__name__} has {len(self.param_groups)} param groups, each with its own {name}:"
                f" read or set optimizer.param_groups[i][{name!r}]"
            )
        return self.param_groups[0]

    # --- steps --------------------------------------------------------------------------

    def zero_grad(self) -> None:
        """Set every parameter's gradient to 0."""
        for p in self.params:
            p.grad = 0.0

    def step(self) -> None:  # pragma: no cover - every optimizer defines it
        """Update every parameter from its gradient, or, if any new number would not be
        finite, raise NonFiniteStepError and change nothing."""
        raise NotImplementedError

    def _refuse_non_finite(self, new: Sequence[float], checked: Mapping[str, Sequence[float]],
                           shown: Optional[Mapping[str, Sequence[Optional[float]]]] = None, extra: str = "") -> None:
        """Return if every new parameter value and every `checked` piece of new state is
        finite; else raise NonFiniteStepError for the first parameter with one that is not,
        showing its new numbers (and those in `shown`, None where a parameter has none)."""
        if all(map(math.isfinite, new)) and all(all(map(math.isfinite, xs)) for xs in checked.values()):
            return
        columns = list(checked.values())
        i = next(i for i, x in enumerate(new) if not (math.isfinite(x) and all(math.isfinite(c[i]) for c in columns)))
        p = self.params[i]
        g, group = self._group_of(i)
        name = f"parameter {i}" + (f" ({p.label!r})" if p.label else "")
        if len(self.param_groups) > 1:
            name += f" (in param group {g})"
        state: Dict[str, Sequence[Optional[float]]] = {**checked, **(shown or {})}
        gives = ", ".join([f"data {new[i]!r}"] + [f"{k} {xs[i]!r}" for k, xs in state.items() if xs[i] is not None])
        settings = ", ".join(f"{k}={v!r}" for k, v in group.items() if k != "params")
        raise NonFiniteStepError(
            f"{type(self).__name__}.step refused: {name} has data {p.data!r} and grad {p.grad!r}, which would give"
            f" {gives} ({settings}{extra}); nothing was changed (no parameter, no optimizer state)"
        )

    def _group_of(self, i: int) -> Tuple[int, Dict[str, Any]]:
        """The group that holds parameter `i` (an index into `params`), and its index."""
        for g, group in enumerate(self.param_groups):
            if i < len(group["params"]):
                return g, group
            i -= len(group["params"])
        raise IndexError(i)  # pragma: no cover - i comes from params

    def _commit(self, new: Sequence[float]) -> None:
        for p, x in zip(self.params, new):
            p.data = x

    # --- state --------------------------------------------------------------------------

    def state_dict(self) -> Dict[str, Any]:
        """The optimizer's state in PyTorch's layout, as plain numbers (copies):
        `{"state": {index: {name: number}}, "param_groups": [{settings..., "params": [indices]}]}`,
        where an index counts the parameters across the groups in order."""
        groups: List[Dict[str, Any]] = []
        start = 0
        for group in self.param_groups:
            n = len(group["params"])
            settings = {k: v for k, v in group.items() if k != "params"}
            groups.append({**settings, "params": list(range(start, start + n))})
            start += n
        return {"state": self._state(), "param_groups": groups}

    def load_state_dict(self, state_dict: Mapping[str, Any]) -> None:
        """Restore what `state_dict()` returned into this optimizer, which must have the same
        kind of groups of the same sizes. Everything is checked first (each setting as the
        constructor checks it, each number finite); on an error nothing changes."""
        who = f"{type(self).__name__}.load_state_dict"
        if not isinstance(state_dict, Mapping):
            raise TypeError(f"{who} needs a dict with 'state' and 'param_groups', got {type(state_dict).__name__}")
        try:
            if set(state_dict) != {"state", "param_groups"}:
                raise ValueError(f"the keys must be 'state' and 'param_groups', got {sorted(map(str, state_dict))}")
            groups = state_dict["param_groups"]
            if not isinstance(groups, (list, tuple)) or len(groups) != len(self.param_groups):
                raise ValueError(
                    f"'param_groups' must be a list of {len(self.param_groups)} groups (as this optimizer has),"
                    f" got {_count(groups)}"
                )
            settings: List[Settings] = []
            start = 0
            for i, (saved, own) in enumerate(zip(groups, self.param_groups)):
                where = f"param_groups[{i}]"
                if not isinstance(saved, Mapping):
                    raise ValueError(f"{where} must be a dict, got {type(saved).__name__}")
                n = len(own["params"])
                indices = saved.get("params")
                if not _is_index_range(indices, start, n):
                    raise ValueError(
                        f"{where}['params'] must be the indices {start} to {start + n - 1} (this optimizer's group {i}"
                        f" has {n} parameters), got {_shorten(indices)}"
                    )
                settings.append(self._checked_settings({k: v for k, v in saved.items() if k != "params"}, where))
                start += n
            entries = _state_entries(state_dict["state"], len(self.params), self._STATE)
            prepared = self._prepare_state(entries)
        except (TypeError, ValueError) as e:
            raise type(e)(f"{who}: {e}") from None
        for own, new in zip(self.param_groups, settings):
            own.update(new)
        self._set_state(prepared)

    def _state(self) -> Dict[int, Dict[str, Any]]:
        return {}

    def _prepare_state(self, entries: Dict[int, Dict[str, Any]]) -> Any:
        """Check the per-parameter entries together (they are checked one by one already)
        and put them in the form `_set_state` installs."""
        if entries:
            raise ValueError(f"{type(self).__name__} keeps no per-parameter state, got {len(entries)} entries")
        return None

    def _set_state(self, prepared: Any) -> None:
        pass

    def __repr__(self) -> str:
        n = len(self.params)
        groups = self.param_groups
        if len(groups) == 1:
            settings = ", ".join(f"{k}={v!r}" for k, v in groups[0].items() if k != "params")
            return f"{type(self).__name__}({n} parameters, {settings})"
        return f"{type(self).__name__}({n} parameters in {len(groups)} groups)"


def _count(x: Any) -> str:
    return f"{len(x)}" if isinstance(x, (list, tuple)) else f"{type(x).__name__}: {_shorten(x)}"


def _shorten(x: Any, limit: int = 80) -> str:
    text = repr(x)
    return text if len(text) <= limit else text[: limit - 5] + " ...]"


def _is_index_range(indices: Any, start: int, n: int) -> bool:
    return (
        isinstance(indices, (list, tuple))
        and len(indices) == n
        and all(type(k) is int and k == start + j for j, k in enumerate(indices))  # type(): True is not 1
    )


def _state_entries(state: Any, n: int, checks: Mapping[str, Check]) -> Dict[int, Dict[str, Any]]:
    """The per-parameter state, {index: {name: number}}, each entry checked: an index of one
    of the `n` parameters, exactly the names in `checks`, each number as its check wants it."""
    if not isinstance(state, Mapping):
        raise ValueError(f"'state' must be a dict of parameter index -> state, got {type(state).__name__}")
    entries: Dict[int, Dict[str, Any]] = {}
    for key, entry in state.items():
        if type(key) is not int or not 0 <= key < n:
            raise ValueError(f"'state' keys must be parameter indices from 0 to {n - 1}, got {key!r}")
        if not isinstance(entry, Mapping) or set(entry) != set(checks):
            got = sorted(map(str, entry)) if isinstance(entry, Mapping) else type(entry).__name__
            raise ValueError(f"state[{key}] must hold {sorted(checks)}, got {got}")
        entries[key] = {name: check(f"state[{key}][{name!r}]", entry[name]) for name, check in checks.items()}
    return entries


class SGD(Optimizer):
    """Stochastic gradient descent, as `torch.optim.SGD`.

    With `momentum` m, `dampening` d and `weight_decay` wd, for every parameter p:

        g = p.grad + wd * p
        buf = g on the first step, then m * buf + (1 - d) * g
        g = g + m * buf if nesterov else buf
        p = p - lr * g

    Each of these can be set per param group. `state_dict()["state"]` holds each parameter's
    `momentum_buffer` once it has one (after its first step with momentum).
    """

    _SETTINGS: ClassVar[Dict[str, Check]] = {
        "lr": _at_least_0, "momentum": _at_least_0, "dampening": _at_least_0, "weight_decay": _at_least_0,
        "nesterov": flag,
    }
    _STATE: ClassVar[Dict[str, Check]] = {"momentum_buffer": _finite}

    momentum = _GroupSetting()
    dampening = _GroupSetting()
    weight_decay = _GroupSetting()
    nesterov = _GroupSetting()

    def __init__(
        self,
        parameters: ParamGroups,
        lr: float = 1e-3,
        momentum: float = 0.0,
        dampening: float = 0.0,
        weight_decay: float = 0.0,
        nesterov: bool = False,
    ) -> None:
        defaults = {"lr": lr, "momentum": momentum, "dampening": dampening, "weight_decay": weight_decay,
                    "nesterov": nesterov}
        super().__init__(parameters, defaults)
        # Momentum buffers, one per parameter: None until its first step with momentum.
        self._buffers: List[Optional[float]] = [None] * len(self.params)

    def _check_group(self, settings: Settings, where: str) -> None:
        if settings["nesterov"] and (settings["momentum"] == 0.0 or settings["dampening"] != 0.0):
            momentum, dampening = settings["momentum"], settings["dampening"]
            raise ValueError(
                f"{where + ': ' if where else ''}nesterov needs momentum > 0 and dampening 0,"
                f" got {momentum=!r}, {dampening=!r}"
            )

    def step(self) -> None:
        new: List[float] = []
        buffers = list(self._buffers)  # the new buffers, kept only if the whole step is
        i = 0
        for group in self.param_groups:
            params: List[Value] = group["params"]
            lr, m, wd = group["lr"], group["momentum"], group["weight_decay"]
            if m == 0.0 and wd == 0.0:
                new += [p.data - lr * p.grad for p in params]  # the demo's update, term for term
                i += len(params)
                continue
            keep, nesterov = 1.0 - group["dampening"], group["nesterov"]
            for p in params:
                g = p.grad + wd * p.data if wd else p.grad
                if m:
                    b = buffers[i]
                    buf = buffers[i] = g if b is None else m * b + keep * g
                    g = g + m * buf if nesterov else buf
                new.append(p.data - lr * g)
                i += 1
        # A buffer that is not finite makes its parameter's new value non-finite too (lr * inf is
        # inf, 0 * inf is nan), so checking the new values covers the buffers.
        self._refuse_non_finite(new, {}, shown={"momentum_buffer": buffers})
        self._commit(new)
        self._buffers = buffers

    def _state(self) -> Dict[int, Dict[str, Any]]:
        return {i: {"momentum_buffer": b} for i, b in enumerate(self._buffers) if b is not None}

    def _prepare_state(self, entries: Dict[int, Dict[str, Any]]) -> Any:
        buffers: List[Optional[float]] = [None] * len(self.params)
        for i, entry in entries.items():
            buffers[i] = entry["momentum_buffer"]
        return buffers

    def _set_state(self, prepared: Any) -> None:
        self._buffers = prepared


class Adam(Optimizer):
    """Adam (Kingma & Ba, 2015), as `torch.optim.Adam`, with bias correction.

    At step t, for every parameter p with gradient g (plus `weight_decay * p`, L2 style):

        m = b1 * m + (1 - b1) * g            v = b2 * v + (1 - b2) * g * g
        p = p - lr / (1 - b1**t) * m / (sqrt(v) / sqrt(1 - b2**t) + eps)

    `eps` must be positive (PyTorch allows 0, which divides 0 by 0 for a parameter whose
    gradients have all been 0). `state_dict()["state"]` holds, after the first step, each
    parameter's `step` (t), `exp_avg` (m) and `exp_avg_sq` (v).
    """

    _SETTINGS: ClassVar[Dict[str, Check]] = {
        "lr": _at_least_0, "betas": _betas, "eps": _positive, "weight_decay": _at_least_0,
    }
    _STATE: ClassVar[Dict[str, Check]] = {"step": _step_count, "exp_avg": _finite, "exp_avg_sq": _at_least_0}
    _decoupled = False  # AdamW decays the weights directly instead of adding to the gradient
    _default_weight_decay = 0.0  # AdamW's is 1e-2, as in PyTorch

    betas = _GroupSetting()
    eps = _GroupSetting()
    weight_decay = _GroupSetting()

    def __init__(
        self,
        parameters: ParamGroups,
        lr: float = 1e-3,
        betas: Tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: Optional[float] = None,
    ) -> None:
        if weight_decay is None:
            weight_decay = self._default_weight_decay
        super().__init__(parameters, {"lr": lr, "betas": betas, "eps": eps, "weight_decay": weight_decay})
        self.t = 0  # steps taken, for the bias correction (every parameter takes every step)
        self._m = [0.0] * len(self.params)
        self._v = [0.0] * len(self.params)

    def step(self) -> None:
        t = self.t + 1
        m, v = self._m, self._v
        new: List[float] = []
        new_m: List[float] = []
        new_v: List[float] = []
        i = 0
        for group in self.param_groups:
            lr, (b1, b2), eps, wd = group["lr"], group["betas"], group["eps"], group["weight_decay"]
            # The moments start at 0, so early on they are biased towards 0 by these factors.
            step_size = lr / (1.0 - b1**t)
            sqrt_correction2 = math.sqrt(1.0 - b2**t)
            for p in group["params"]:
                g, data = p.grad, p.data
                if wd:
                    if self._decoupled:
                        data = data * (1.0 - lr * wd)
                    else:
                        g = g + wd * data
                mi = b1 * m[i] + (1.0 - b1) * g
                vi = b2 * v[i] + (1.0 - b2) * g * g
                new.append(data - step_size * (mi / (math.sqrt(vi) / sqrt_correction2 + eps)))
                new_m.append(mi)
                new_v.append(vi)
                i += 1
        # A moment can overflow while the parameter stays finite (g = 1e200: v = inf, the
        # step m / sqrt(v) = 0), and would then freeze it for good: the moments are checked too.
        self._refuse_non_finite(new, {"exp_avg": new_m, "exp_avg_sq": new_v}, extra=f", step {t}")
        self._commit(new)
        self.t, self._m, self._v = t, new_m, new_v

    def _state(self) -> Dict[int, Dict[str, Any]]:
        if self.t == 0:
            return {}
        return {i: {"step": self.t, "exp_avg": m, "exp_avg_sq": v} for i, (m, v) in enumerate(zip(self._m, self._v))}

    def _prepare_state(self, entries: Dict[int, Dict[str, Any]]) -> Any:
        n = len(self.params)
        if not entries:
            return 0, [0.0] * n, [0.0] * n
        if len(entries) != n:
            raise ValueError(
                f"'state' must hold every parameter (all {n} take every step) or none, got {len(entries)} entries"
            )
        steps = {entry["step"] for entry in entries.values()}
        if len(steps) != 1:
            raise ValueError(f"every parameter's 'step' must be the same (all take every step), got {sorted(steps)}")
        return steps.pop(), [entries[i]["exp_avg"] for i in range(n)], [entries[i]["exp_avg_sq"] for i in range(n)]

    def _set_state(self, prepared: Any) -> None:
        self.t, self._m, self._v = prepared


class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov & Hutter, 2019), as `torch.optim.AdamW`:
    each step first shrinks every parameter by `1 - lr * weight_decay`, then takes Adam's step
    on the plain gradient. Same arguments as Adam; `weight_decay` defaults to 1e-2."""

    _decoupled = True
    _default_weight_decay = 1e-2


# ---------------------------------------------------------------------------------------
# Learning-rate schedules. Each computes the rate at step t in closed form from each
# group's starting rate; `step()` advances t and sets every group's `lr`.
# ---------------------------------------------------------------------------------------

class LRScheduler:
    """Base class: `step()` once per epoch (or per optimizer step: your choice of unit),
    after `optimizer.step()`, as in PyTorch. Each param group's rate follows the schedule
    from its own starting rate (`base_lrs`)."""

    _SETTINGS: ClassVar[Dict[str, Check]] = {}  # each schedule's settings and their checks

    def __init__(self, optimizer: Optimizer) -> None:
        if not isinstance(optimizer, Optimizer):
            raise TypeError(f"{type(self).__name__} needs an Optimizer, got {type(optimizer).__name__}")
        self.optimizer = optimizer
        self.base_lrs: List[float] = [group["lr"] for group in optimizer.param_groups]
        self.last_epoch = 0
        self._set_lrs(0)

    def lr_from(self, base_lr: float, t: int) -> float:  # pragma: no cover - every schedule defines it
        """The learning rate at step `t` (0 is the start) of a group that started at `base_lr`."""
        raise NotImplementedError

    def lr_at(self, t: int, group: int = 0) -> float:
        """The learning rate of param group `group` at step `t` (0 is the start)."""
        return self.lr_from(self.base_lrs[group], t)

    def step(self) -> None:
        """Advance one step and set every group's learning rate."""
        self._set_lrs(self.last_epoch + 1)
        self.last_epoch += 1

    def _set_lrs(self, t: int) -> None:
        try:
            lrs = [self.lr_from(base, t) for base in self.base_lrs]
        except OverflowError:  # StepLR's gamma ** k, when it no longer fits a float
            lrs = [math.inf]
        if not all(map(math.isfinite, lrs)):
            raise NonFiniteStepError(
                f"{type(self).__name__}.step refused: the learning rate at step {t} is not finite ({lrs!r} from"
                f" base_lrs {self.base_lrs!r}, {self._settings_text()}); nothing was changed"
            )
        for group, lr in zip(self.optimizer.param_groups, lrs):
            group["lr"] = lr

    @property
    def base_lr(self) -> float:
        """The starting learning rate, for an optimizer with a single param group."""
        self.optimizer._only_group("lr")
        return self.base_lrs[0]

    def get_last_lr(self) -> float:
        """The learning rate set by the last `step()` (PyTorch's name), for an optimizer with
        a single param group (with several, each group's is `optimizer.param_groups[i]["lr"]`)."""
        return float(self.optimizer.lr)

    def state_dict(self) -> Dict[str, Any]:
        """`{"base_lrs": [...], "last_epoch": t, <each setting>: value}`: all a resumed run needs."""
        return {"base_lrs": list(self.base_lrs), "last_epoch": self.last_epoch,
                **{name: getattr(self, name) for name in self._SETTINGS}}

    def load_state_dict(self, state_dict: Mapping[str, Any]) -> None:
        """Restore what `state_dict()` returned (checked first: on an error nothing changes).
        Like PyTorch's, it leaves the optimizer's rates alone: load the optimizer's state too."""
        who = f"{type(self).__name__}.load_state_dict"
        if not isinstance(state_dict, Mapping):
            raise TypeError(f"{who} needs a dict, got {type(state_dict).__name__}")
        expected = {"base_lrs", "last_epoch", *self._SETTINGS}
        try:
            if set(state_dict) != expected:
                raise ValueError(f"the keys must be {sorted(expected)}, got {sorted(map(str, state_dict))}")
            base_lrs = state_dict["base_lrs"]
            n = len(self.optimizer.param_groups)
            if not isinstance(base_lrs, (list, tuple)) or len(base_lrs) != n:
                raise ValueError(
                    f"'base_lrs' must be a list of {n} rates (one per param group), got {_count(base_lrs)}"
                )
            bases = [_at_least_0(f"base_lrs[{i}]", lr) for i, lr in enumerate(base_lrs)]
            last_epoch = whole_number("last_epoch", state_dict["last_epoch"])
            settings = {name: check(name, state_dict[name]) for name, check in self._SETTINGS.items()}
        except (TypeError, ValueError) as e:
            raise type(e)(f"{who}: {e}") from None
        self.base_lrs, self.last_epoch = bases, last_epoch
        for name, value in settings.items():
            setattr(self, name, value)

    def _setting(self, name: str, value: Any) -> Any:
        return self._SETTINGS[name](name, value)

    def _settings_text(self) -> str:
        return ", ".join(f"{name}={getattr(self, name)!r}" for name in self._SETTINGS)


class LinearLR(LRScheduler):
    """The factor on each starting `lr` goes linearly from `start_factor` to `end_factor`
    over `total_iters` steps, then stays (as `torch.optim.lr_scheduler.LinearLR`).

    karpathy's demo decay (`lr = 1.0 - 0.9 * k / 100`) is `LinearLR(SGD(params, lr=1.0),
    start_factor=1.0, end_factor=0.1, total_iters=100)`, to the last bit.
    """

    _SETTINGS: ClassVar[Dict[str, Check]] = {
        "start_factor": _at_least_0, "end_factor": _at_least_0, "total_iters": positive_int,
    }

    def __init__(
        self, optimizer: Optimizer, start_factor: float = 1.0 / 3, end_factor: float = 1.0, total_iters: int = 5
    ) -> None:
        self.start_factor: float = self._setting("start_factor", start_factor)
        self.end_factor: float = self._setting("end_factor", end_factor)
        self.total_iters: int = self._setting("total_iters", total_iters)
        super().__init__(optimizer)

    def lr_from(self, base_lr: float, t: int) -> float:
        s, e = self.start_factor, self.end_factor
        # The demo's expression, 1.0 - 0.9 * k / 100, with s = 1.0, s - e = 0.9, total = 100.
        return base_lr * (s - (s - e) * min(t, self.total_iters) / self.total_iters)


class StepLR(LRScheduler):
    """Multiply the rate by `gamma` every `step_size` steps (as `torch.optim.lr_scheduler.StepLR`)."""

    _SETTINGS: ClassVar[Dict[str, Check]] = {"step_size": positive_int, "gamma": _at_least_0}

    def __init__(self, optimizer: Optimizer, step_size: int, gamma: float = 0.1) -> None:
        self.step_size: int = self._setting("step_size", step_size)
        self.gamma: float = self._setting("gamma", gamma)
        super().__init__(optimizer)

    def lr_from(self, base_lr: float, t: int) -> float:
        return base_lr * self.gamma ** (t // self.step_size)


class CosineAnnealingLR(LRScheduler):
    """Half a cosine from each starting rate down to `eta_min` over `T_max` steps
    (`torch.optim.lr_scheduler.CosineAnnealingLR`, closed form, without restarts)."""

    _SETTINGS: ClassVar[Dict[str, Check]] = {"T_max": positive_int, "eta_min": _at_least_0}

    def __init__(self, optimizer: Optimizer, T_max: int, eta_min: float = 0.0) -> None:
        self.T_max: int = self._setting("T_max", T_max)
        self.eta_min: float = self._setting("eta_min", eta_min)
        super().__init__(optimizer)

    def lr_from(self, base_lr: float, t: int) -> float:
        t = min(t, self.T_max)
        return self.eta_min + (base_lr - self.eta_min) * (1.0 + math.cos(math.pi * t / self.T_max)) / 2.0


# ---------------------------------------------------------------------------------------
# Gradient clipping: the classic remedy for exploding gradients.
# ---------------------------------------------------------------------------------------

def clip_grad_norm(
    parameters: Iterable[Value], max_norm: float, norm_type: float = 2.0, error_if_nonfinite: bool = True
) -> float:
    """Scale all gradients together so that their joint norm is at most `max_norm`.

    Returns the norm before clipping (to log or plot). When it exceeds `max_norm`, every
    gradient is multiplied by `max_norm / norm`, so the direction is kept and the new norm is
    `max_norm` (to rounding). Unlike PyTorch, no 1e-6 is added to the norm, so the scale is exact.
    `norm_type` is p of the p-norm, or `math.inf` for the largest absolute gradient.

    A norm that is not finite (an infinite or NaN gradient) cannot be clipped: scaling by
    `max_norm / inf` would turn every gradient into 0 or NaN. Then, by default, it raises
    NonFiniteStepError naming the first such gradient; with `error_if_nonfinite=False` it
    returns the norm and leaves the gradients as they are (the optimizer's step then refuses
    them, or the caller skips the step). PyTorch has the same argument, default False: here
    the default is True, so that a non-finite norm is never passed on silently.
    """
    params = _parameter_list(parameters, "clip_grad_norm")
    max_norm = real("max_norm", max_norm, low=0.0)
    flag("error_if_nonfinite", error_if_nonfinite)
    total = grad_norm(params, norm_type)
    if not math.isfinite(total):
        if not error_if_nonfinite:
            return total
        bad = next((i for i, p in enumerate(params) if not math.isfinite(p.grad)), None)
        culprit = (
            f"parameter {bad} has grad {params[bad].grad!r}" if bad is not None
            else "every gradient is finite, but their norm is beyond the largest float"
        )
        raise NonFiniteStepError(
            f"clip_grad_norm: the {norm_type}-norm of the gradients is {total!r}, so they cannot be clipped to"
            f" {max_norm!r}: {culprit}; nothing was changed (error_if_nonfinite=False returns the norm instead)"
        )
    if total > max_norm:
        scale = max_norm / total
        for p in params:
            p.grad *= scale
    return total


def grad_norm(parameters: Iterable[Value], norm_type: float = 2.0) -> float:
    """The p-norm of all the gradients together (2 by default; `math.inf`: the largest |grad|).
    NaN if any gradient is NaN; else infinity if any is infinite."""
    params = _parameter_list(parameters, "grad_norm")
    if isinstance(norm_type, bool) or not isinstance(norm_type, Real) or not norm_type > 0:
        raise ValueError(f"norm_type must be a positive number or math.inf, got {norm_type!r}")
    grads = [p.grad for p in params]
    if not grads:
        return 0.0
    if not all(map(math.isfinite, grads)):
        # Said here, not left to max() and hypot(): max(1.0, nan) is 1.0, and hypot(inf, nan) is inf.
        return math.nan if any(g != g for g in grads) else math.inf
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
