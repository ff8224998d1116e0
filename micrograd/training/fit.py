"""`fit`: the demo's training loop as one call, with a progress bar and a history to plot.

Each step is the loop every lecture writes by hand: forward pass over a mini-batch, the
loss, `zero_grad`, `backward`, (optionally) gradient clipping, `optimizer.step()`.

    history = fit(model, X, y, loss="hinge", optimizer=SGD(model.parameters(), lr=0.5), epochs=100)
    plt.plot(history["loss"])
"""

from __future__ import annotations

import random
import statistics
import time
from typing import Any, Callable, Dict, Iterable, Iterator, List, NamedTuple, Optional, Sequence, Tuple, Union

from ..arguments import whole_number
from ..compiler import Program, compile
from ..engine import Value, no_grad
from ..nn import BatchNorm1d, Module
from . import losses
from .data import RandomState, as_rng, batches
from .optim import SGD, LRScheduler, Optimizer, clip_grad_norm, grad_norm

__all__ = ["fit", "LOSSES", "History", "CompiledRun"]

LossFn = Callable[[List[Any], Sequence[Any]], Value]
MetricFn = Callable[[List[Any], Sequence[Any]], float]

# name -> (loss, the accuracy that fits its label convention, or None)
LOSSES: Dict[str, Tuple[LossFn, Optional[MetricFn]]] = {
    "hinge": (losses.hinge_loss, losses.binary_accuracy),
    "bce": (losses.binary_cross_entropy_with_logits, losses.binary_accuracy),
    "cross_entropy": (losses.cross_entropy, losses.accuracy),
    "mse": (losses.mse_loss, None),
}


# The losses whose graph has the same shape and constants for the same labels whatever the model
# outputs: a compiled step replays them exactly. (cross_entropy's logsumexp takes the largest
# logit as a constant, so its graph changes with the data.)
REPLAYABLE_LOSSES = ("hinge", "bce", "mse")


class CompiledRun(NamedTuple):
    """How `fit(..., compiled=True)` trained: with the compiled step (`used`), or why not.

    The first two steps run eagerly; the second's graph is traced and replayed from the third
    on. `eager_step_seconds` is that second step (built and differentiated eagerly),
    `trace_seconds` what `micrograd.compile` took, `replay_step_seconds` the median of the
    replayed steps (forward and backward; the optimizer's step is not counted on either side).
    """

    used: bool
    reason: str = ""
    eager_step_seconds: float = 0.0
    trace_seconds: float = 0.0
    replay_step_seconds: float = 0.0

    @property
    def speedup(self) -> float:
        """How many times faster a replayed step is than the eager one (0 if not measured)."""
        return self.eager_step_seconds / self.replay_step_seconds if self.replay_step_seconds else 0.0

    @property
    def break_even_steps(self) -> float:
        """After how many replayed steps the trace has paid for itself (inf if it never does)."""
        saved = self.eager_step_seconds - self.replay_step_seconds
        return self.trace_seconds / saved if saved > 0 else float("inf")


class History(Dict[str, List[float]]):
    """What `fit` returns: a dict of per-epoch lists (`history["loss"]`), plus `compiled`, a
    `CompiledRun` when `fit(..., compiled=True)` was asked for (else None)."""

    compiled: Optional[CompiledRun] = None


def fit(
    model: Module,
    X: Sequence[Sequence[float]],
    y: Sequence[Any],
    *,
    loss: Union[str, LossFn] = "hinge",
    optimizer: Optional[Optimizer] = None,
    epochs: int = 100,
    batch_size: Optional[int] = None,
    drop_last: bool = False,
    scheduler: Optional[LRScheduler] = None,
    l2: float = 0.0,
    max_grad_norm: Optional[float] = None,
    metric: Union[str, MetricFn, None] = "auto",
    validation_data: Optional[Tuple[Sequence[Sequence[float]], Sequence[Any]]] = None,
    random_state: RandomState = None,
    progress: bool = True,
    compiled: bool = False,
) -> History:
    """Train `model` on `(X, y)` and return the history, a dict of per-epoch lists.

    Args:
        loss: "hinge" (labels -1/+1, the demo's), "bce" (labels 0/1, on logits),
            "cross_entropy" (labels 0..k-1, the model returns k logits) or "mse"; or any
            `loss(outputs, labels) -> Value`.
        optimizer: default: the scheduler's, else `SGD(model.parameters(), lr=0.1)`.
        epochs: passes over the data.
        batch_size: samples per step, drawn in a new shuffled order each epoch; None (the
            default) uses all of them in order, one step per epoch, like the demo.
        drop_last: skip each epoch's last batch when it is smaller than `batch_size` (PyTorch's
            `DataLoader(drop_last=True)`); the samples left out change from epoch to epoch.
            A model with `BatchNorm1d` needs it when `len(X) % batch_size == 1`, since
            BatchNorm1d cannot train on a batch of one sample: fit refuses that case before
            the first step, naming this option.
        scheduler: its `step()` is called after every epoch.
        l2: adds `l2 * sum(p * p)` to the loss (the demo's regularization, `alpha = 1e-4`).
        max_grad_norm: clip the gradients' joint norm to this before each step.
        metric: "auto" (the accuracy that fits the named loss), None, or `metric(outputs,
            labels) -> float`.
        validation_data: `(X_val, y_val)` to evaluate after every epoch, in eval mode.
        random_state: seeds the mini-batch order (see `micrograd.training.data`).
        progress: show a progress bar (in a terminal or in Jupyter, via `tqdm.auto`).
        compiled: trace the first step's graph with `micrograd.compile` and replay it for the
            others: the same numbers to the last bit, several times faster per step, after a
            one-time trace (about a second for the demo), from the third step on (the first two
            run eagerly, the second is timed and traced). Used only where a replay is exact:
            whole-batch steps (no `batch_size`), a loss among "hinge", "bce" and "mse", and no
            BatchNorm1d (whose running statistics are updated outside the graph); otherwise
            fit trains eagerly, and `history.compiled.reason` says why.

    Returns:
        A `History`, the dict `{"loss": [...], "accuracy": [...], "grad_norm": [...], "lr": [...]}`, plus
        `"val_loss"` and `"val_accuracy"` with validation data; "accuracy" only with a
        metric. Loss and accuracy are those of each step's forward pass (before its update),
        averaged over the epoch's samples; `grad_norm` is the mean norm before clipping.
    """
    if not isinstance(model, Module):
        raise TypeError(f"fit needs a Module, got {type(model).__name__}: {model!r}")
    loss_fn, auto_metric = _loss(loss)
    metric_fn = auto_metric if metric == "auto" else metric
    if metric_fn is not None and not callable(metric_fn):
        raise TypeError(f"metric must be 'auto', None or a function, got {metric!r}")
    if isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 0:
        raise ValueError(f"epochs must be an int >= 0, got {epochs!r}")
    if len(X) != len(y) or not X:
        raise ValueError(
            f"fit needs one label per sample and at least one sample, got {len(X)} samples, {len(y)} labels"
        )
    if optimizer is None:
        optimizer = scheduler.optimizer if scheduler is not None else SGD(model.parameters(), lr=0.1)
    elif scheduler is not None and scheduler.optimizer is not optimizer:
        raise ValueError("the scheduler drives a different optimizer than the one passed to fit")
    _check_batches(model, len(X), batch_size, drop_last)
    rng: random.Random = as_rng(random_state)

    history = History(loss=[], grad_norm=[], lr=[])
    if metric_fn is not None:
        history["accuracy"] = []
    if validation_data is not None:
        history["val_loss"] = []
        if metric_fn is not None:
            history["val_accuracy"] = []

    from tqdm.auto import tqdm  # type: ignore[import-untyped,unused-ignore]  # here: it costs `import micrograd` ~60 ms

    step = _CompiledStep(_replay_refused(model, loss, batch_size), epochs) if compiled else None
    model.train()
    bar = tqdm(range(epochs), desc="fit", unit="epoch", disable=not progress, leave=True)
    try:
        for _ in bar:
            history["lr"].append(optimizer.param_groups[0]["lr"])  # the first group's, with several
            epoch = batches(X, y, batch_size, shuffle=batch_size is not None, random_state=rng, drop_last=drop_last)
            loss_value, score, norm = _train_epoch(model, epoch, loss_fn, metric_fn, optimizer, l2, max_grad_norm,
                                                   step)
            if scheduler is not None:
                scheduler.step()
            history["loss"].append(loss_value)
            history["grad_norm"].append(norm)
            shown = {"loss": f"{loss_value:.4g}"}
            if score is not None:
                history["accuracy"].append(score)
                shown["acc"] = f"{score:.1%}"
            if validation_data is not None:
                val_loss, val_score = _evaluate(model, validation_data, loss_fn, metric_fn)
                history["val_loss"].append(val_loss)
                shown["val_loss"] = f"{val_loss:.4g}"
                if val_score is not None:
                    history["val_accuracy"].append(val_score)
                    shown["val_acc"] = f"{val_score:.1%}"
            bar.set_postfix(shown, refresh=False)  # tqdm redraws at its own pace: no cost per epoch
    finally:
        bar.close()
    if step is not None:
        history.compiled = step.report()
    return history


def _replay_refused(model: Module, loss: Union[str, LossFn], batch_size: Optional[int]) -> str:
    """Why a compiled step would not replay this training exactly ('' when it would)."""
    if batch_size is not None:
        return "mini-batches: each batch's graph holds other data"
    if not isinstance(loss, str) or loss not in REPLAYABLE_LOSSES:
        name = loss if isinstance(loss, str) else "a loss function of your own"
        return (f"{name} may build another graph for other outputs (cross_entropy takes the largest logit as a"
                " constant); the replayable losses are " + ", ".join(REPLAYABLE_LOSSES))
    if any(isinstance(m, BatchNorm1d) for m in _modules(model)):
        return "BatchNorm1d updates its running statistics outside the graph"
    return ""


class _CompiledStep:
    """The traced step of `fit(..., compiled=True)`: its program and timings."""

    def __init__(self, refused: str, steps: int) -> None:
        self.refused = refused
        self.steps = steps  # one per epoch: compiling pays only if there is a third
        self.program: Optional[Program] = None
        self.outputs: List[Any] = []
        self.others: List[Value] = []  # leaves that are not parameters: their grads are reset each step
        self.eager = self.trace = 0.0
        self.eager_steps = 0
        self.replays: List[float] = []

    def report(self) -> CompiledRun:
        if self.refused:
            return CompiledRun(False, self.refused, self.eager)
        if self.program is None:
            return CompiledRun(False, f"{self.steps} epoch(s): the step is compiled after the second, for a third",
                               self.eager)
        replay = statistics.median(self.replays) if self.replays else 0.0
        return CompiledRun(True, "", self.eager, self.trace, replay)


def _train_epoch(
    model: Module,
    epoch: Iterable[Tuple[List[Any], List[Any]]],
    loss_fn: LossFn,
    metric_fn: Optional[MetricFn],
    optimizer: Optimizer,
    l2: float,
    max_grad_norm: Optional[float],
    compiled: Optional[_CompiledStep] = None,
) -> Tuple[float, Optional[float], float]:
    """One pass over the mini-batches: (mean loss, mean metric or None, mean gradient norm)."""
    params = optimizer.params
    n = steps = 0
    loss_sum = metric_sum = norm_sum = last_loss = last_metric = 0.0
    for Xb, yb in epoch:
        if compiled is not None and compiled.program is not None:
            optimizer.zero_grad()
            for leaf in compiled.others:
                leaf.grad = 0.0
            start = time.perf_counter()
            total_data = compiled.program.run()
            compiled.replays.append(time.perf_counter() - start)
            outputs = compiled.outputs  # their .data is the replay's
        else:
            start = time.perf_counter()
            outputs = model.batch(Xb)
            total = loss_fn(outputs, yb)
            if l2:
                total = total + losses.l2_penalty(model.parameters(), l2)
            optimizer.zero_grad()
            total.backward()
            total_data = total.data
            # The first step warms up (it allocates a whole graph for the first time): the second
            # is the eager step the replays are compared with, and the one traced.
            if compiled is not None and compiled.program is None:
                compiled.eager = time.perf_counter() - start
                compiled.eager_steps += 1
                if compiled.eager_steps == 2 < compiled.steps and not compiled.refused:
                    flat = [v for out in outputs for v in (out if isinstance(out, list) else [out])]
                    compiled.program = compile(total, outputs=[v for v in flat if v.parents])
                    compiled.trace = compiled.program.trace_seconds
                    compiled.outputs = outputs
                    mine = set(params)
                    compiled.others = [v for v in compiled.program.leaves if v not in mine]
            del total
        norm_sum += grad_norm(params) if max_grad_norm is None else clip_grad_norm(params, max_grad_norm)
        optimizer.step()
        steps += 1
        n += len(yb)
        last_loss = total_data
        loss_sum += last_loss * len(yb)
        if metric_fn is not None:
            last_metric = metric_fn(outputs, yb)
            metric_sum += last_metric * len(yb)
        # Free this step's graph before the next one is built, so its memory is reused
        # rather than a second graph allocated beside it (measured: ~25% of a demo epoch).
        del outputs
    # One full batch: report its numbers as they are (a weighted mean would round them).
    loss_value = last_loss if steps == 1 else loss_sum / n
    score = None if metric_fn is None else last_metric if steps == 1 else metric_sum / n
    return loss_value, score, norm_sum / steps


def _check_batches(model: Module, n: int, batch_size: Optional[int], drop_last: bool) -> None:
    """Refuse, before any step, batch settings that cannot train: no batch at all, or (for a
    model with BatchNorm1d) a batch of one sample, which has no variance to normalise by."""
    if not isinstance(drop_last, bool):
        raise TypeError(f"drop_last must be True or False, got {type(drop_last).__name__}: {drop_last!r}")
    if batch_size is None:
        smallest = n
    else:
        size = whole_number("batch_size", batch_size, low=1)
        if drop_last and n < size:
            raise ValueError(
                f"fit with drop_last=True and batch_size={size} has no batch to train on: there are {n} samples"
            )
        smallest = size if drop_last else n % size or size
    if smallest == 1 and any(isinstance(m, BatchNorm1d) for m in _modules(model)):
        if batch_size is None or n == 1:
            why = f"got {n} sample"
        elif batch_size == 1:
            why = "got batch_size=1; use batch_size >= 2"
        else:
            why = (f"{n} samples in batches of {batch_size} leave a last batch of 1; pass drop_last=True"
                   " (or another batch_size)")
        raise ValueError(f"fit: the model's BatchNorm1d needs at least 2 samples per batch in training mode, {why}")


def _modules(model: Module) -> Iterator[Module]:
    """`model` and every submodule, depth first (an explicit stack: no recursion)."""
    stack = [model]
    while stack:
        m = stack.pop()
        yield m
        stack.extend(m.children())


def _loss(loss: Union[str, LossFn]) -> Tuple[LossFn, Optional[MetricFn]]:
    if isinstance(loss, str):
        if loss not in LOSSES:
            raise ValueError(f"loss must be one of {sorted(LOSSES)} or a function, got {loss!r}")
        return LOSSES[loss]
    if not callable(loss):
        raise TypeError(f"loss must be a name or a function, got {type(loss).__name__}: {loss!r}")
    return loss, None


def _evaluate(
    model: Module, data: Tuple[Sequence[Sequence[float]], Sequence[Any]], loss_fn: LossFn, metric_fn: Optional[MetricFn]
) -> Tuple[float, Optional[float]]:
    """Loss and metric on held-out data, in eval mode and without building a graph."""
    Xv, yv = data
    model.eval()
    try:
        with no_grad():
            outputs = model.batch(Xv)
            value = loss_fn(outputs, yv).data
            score = metric_fn(outputs, yv) if metric_fn is not None else None
    finally:
        model.train()
    return value, score
