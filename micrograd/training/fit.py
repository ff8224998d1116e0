"""`fit`: the demo's training loop as one call, with a progress bar and a history to plot.

Each step is the loop every lecture writes by hand: forward pass over a mini-batch, the
loss, `zero_grad`, `backward`, (optionally) gradient clipping, `optimizer.step()`.

    history = fit(model, X, y, loss="hinge", optimizer=SGD(model.parameters(), lr=0.5), epochs=100)
    plt.plot(history["loss"])
"""

from __future__ import annotations

import random
from typing import Any, Callable, Dict, Iterable, Iterator, List, Optional, Sequence, Tuple, Union

from ..arguments import whole_number
from ..engine import Value, no_grad
from ..nn import BatchNorm1d, Module
from . import losses
from .data import RandomState, as_rng, batches
from .optim import SGD, LRScheduler, Optimizer, clip_grad_norm, grad_norm

__all__ = ["fit", "LOSSES"]

LossFn = Callable[[List[Any], Sequence[Any]], Value]
MetricFn = Callable[[List[Any], Sequence[Any]], float]

# name -> (loss, the accuracy that fits its label convention, or None)
LOSSES: Dict[str, Tuple[LossFn, Optional[MetricFn]]] = {
    "hinge": (losses.hinge_loss, losses.binary_accuracy),
    "bce": (losses.binary_cross_entropy_with_logits, losses.binary_accuracy),
    "cross_entropy": (losses.cross_entropy, losses.accuracy),
    "mse": (losses.mse_loss, None),
}


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
) -> Dict[str, List[float]]:
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

    Returns:
        `{"loss": [...], "accuracy": [...], "grad_norm": [...], "lr": [...]}`, plus
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

    history: Dict[str, List[float]] = {"loss": [], "grad_norm": [], "lr": []}
    if metric_fn is not None:
        history["accuracy"] = []
    if validation_data is not None:
        history["val_loss"] = []
        if metric_fn is not None:
            history["val_accuracy"] = []

    from tqdm.auto import tqdm  # type: ignore[import-untyped,unused-ignore]  # here: it costs `import micrograd` ~60 ms

    model.train()
    bar = tqdm(range(epochs), desc="fit", unit="epoch", disable=not progress, leave=True)
    try:
        for _ in bar:
            history["lr"].append(optimizer.param_groups[0]["lr"])  # the first group's, with several
            epoch = batches(X, y, batch_size, shuffle=batch_size is not None, random_state=rng, drop_last=drop_last)
            loss_value, score, norm = _train_epoch(model, epoch, loss_fn, metric_fn, optimizer, l2, max_grad_norm)
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
    return history


def _train_epoch(
    model: Module,
    epoch: Iterable[Tuple[List[Any], List[Any]]],
    loss_fn: LossFn,
    metric_fn: Optional[MetricFn],
    optimizer: Optimizer,
    l2: float,
    max_grad_norm: Optional[float],
) -> Tuple[float, Optional[float], float]:
    """One pass over the mini-batches: (mean loss, mean metric or None, mean gradient norm)."""
    params = optimizer.params
    n = steps = 0
    loss_sum = metric_sum = norm_sum = last_loss = last_metric = 0.0
    for Xb, yb in epoch:
        outputs = model.batch(Xb)
        total = loss_fn(outputs, yb)
        if l2:
            total = total + losses.l2_penalty(model.parameters(), l2)
        optimizer.zero_grad()
        total.backward()
        norm_sum += grad_norm(params) if max_grad_norm is None else clip_grad_norm(params, max_grad_norm)
        optimizer.step()
        steps += 1
        n += len(yb)
        last_loss = total.data
        loss_sum += last_loss * len(yb)
        if metric_fn is not None:
            last_metric = metric_fn(outputs, yb)
            metric_sum += last_metric * len(yb)
        # Free this step's graph before the next one is built, so its memory is reused
        # rather than a second graph allocated beside it (measured: ~25% of a demo epoch).
        del outputs, total
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
