"""Plots for training and teaching: decision boundaries, learning curves, gradient norms
by depth, confusion matrices and small images. Shared by `micrograd demo` and the notebooks.

Needs matplotlib (`pip install "micrograd[plot]"`); `import micrograd` does not import it.
Every function draws on the `ax` (or `axes`) it is given, or on a new figure, and returns
what it drew on, so plots compose: `fig, (a, b) = plt.subplots(1, 2)`, then pass `ax=a`.
"""

from __future__ import annotations

import math
from typing import Any, List, Mapping, Optional, Sequence, Tuple, Union

try:
    import matplotlib.pyplot as plt
except ImportError as e:  # pragma: no cover - exercised only without the extra installed
    raise ImportError('micrograd.plot needs matplotlib: pip install "micrograd[plot]"') from e

from .engine import Value, no_grad
from .nn import Module

__all__ = [
    "predict_classes",
    "plot_decision_boundary",
    "plot_history",
    "plot_grad_norms",
    "plot_confusion_matrix",
    "confusion_matrix",
    "plot_images",
]

Axes = Any  # matplotlib.axes.Axes; kept loose so the module type-checks without stubs


def predict_classes(model: Module, X: Sequence[Sequence[float]]) -> List[int]:
    """The class the model picks for each row of X, without recording a graph.

    A model with one output scores a binary problem: class 1 when the score is > 0 (the
    demo's ±1 hinge convention, and the 0/1 logit convention alike). A model with k
    outputs picks the largest (classes 0..k-1). Modules with train/eval modes are
    evaluated in eval mode and put back as they were.
    """
    training = getattr(model, "training", None)
    if training:
        model.eval()
    try:
        with no_grad():
            outputs = [model(x) for x in X]  # type: ignore[operator]
    finally:
        if training:
            model.train(True)
    classes = []
    for out in outputs:
        if isinstance(out, Value):
            classes.append(1 if out.data > 0 else 0)
        else:
            scores = [o.data for o in out]
            classes.append(max(range(len(scores)), key=scores.__getitem__))
    return classes


def plot_decision_boundary(
    model: Module,
    X: Sequence[Sequence[float]],
    y: Sequence[Union[int, float]],
    *,
    ax: Optional[Axes] = None,
    resolution: int = 80,
    margin: float = 0.5,
    title: Optional[str] = None,
) -> Axes:
    """Colour the plane by the class `model` predicts, with the 2-D points X on top.

    Labels may be ±1 or 0..k-1. The grid is `resolution` x `resolution` model calls.
    """
    if any(len(row) != 2 for row in X):
        raise ValueError("plot_decision_boundary needs 2-D points (rows of 2 numbers)")
    if isinstance(resolution, bool) or not isinstance(resolution, int) or resolution < 2:
        raise ValueError(f"resolution must be an int >= 2, got {resolution!r}")
    ax = ax if ax is not None else plt.subplots(figsize=(5, 5))[1]
    xs, ys = [p[0] for p in X], [p[1] for p in X]
    x0, x1 = min(xs) - margin, max(xs) + margin
    y0, y1 = min(ys) - margin, max(ys) + margin
    gx = [x0 + (x1 - x0) * i / (resolution - 1) for i in range(resolution)]
    gy = [y0 + (y1 - y0) * j / (resolution - 1) for j in range(resolution)]
    grid = [[a, b] for b in gy for a in gx]
    predicted = predict_classes(model, grid)
    zz = [predicted[j * resolution:(j + 1) * resolution] for j in range(resolution)]
    ax.contourf(gx, gy, zz, cmap="Spectral", alpha=0.6)
    ax.scatter(xs, ys, c=list(y), s=25, cmap="Spectral", edgecolors="k", linewidths=0.5)
    ax.set_xlim(x0, x1)
    ax.set_ylim(y0, y1)
    if title:
        ax.set_title(title)
    return ax


def plot_history(
    history: Mapping[str, Sequence[float]],
    *,
    axes: Optional[Tuple[Axes, Axes]] = None,
    label: Optional[str] = None,
) -> Tuple[Axes, Axes]:
    """Loss (log scale) and accuracy per epoch, side by side, from `fit`'s history.

    Validation curves are drawn dashed when the history has them. Call it again with the
    same `axes` and another `label` to compare runs (optimizers, inits) on one figure.
    """
    if "loss" not in history:
        raise ValueError(f"plot_history needs a history with a 'loss' list, got keys {sorted(history)}")
    if axes is None:
        _, axes = plt.subplots(1, 2, figsize=(10, 3.5))
    loss_ax, acc_ax = axes
    name = label or "train"
    epochs = range(1, len(history["loss"]) + 1)
    (line,) = loss_ax.plot(epochs, history["loss"], label=name)
    if history.get("val_loss"):
        loss_ax.plot(epochs, history["val_loss"], "--", color=line.get_color(), label=f"{name} (held out)")
    loss_ax.set_yscale("log")
    loss_ax.set_xlabel("epoch")
    loss_ax.set_ylabel("loss")
    if history.get("accuracy"):
        acc_ax.plot(epochs, history["accuracy"], color=line.get_color(), label=name)
        if history.get("val_accuracy"):
            acc_ax.plot(epochs, history["val_accuracy"], "--", color=line.get_color(), label=f"{name} (held out)")
    acc_ax.set_xlabel("epoch")
    acc_ax.set_ylabel("accuracy")
    acc_ax.set_ylim(0.0, 1.05)
    for a in axes:
        a.legend(fontsize="small")
    return axes


def plot_grad_norms(
    norms: Mapping[str, float], *, ax: Optional[Axes] = None, label: Optional[str] = None
) -> Axes:
    """Gradient norm per layer against depth (log scale), from `diagnostics.layer_grad_norms`.

    A line falling steeply towards the input layer is a vanishing gradient; one rising,
    an exploding gradient. Call again with the same `ax` and a `label` to compare remedies.
    """
    if not norms:
        raise ValueError("plot_grad_norms needs at least one layer's norm, got none")
    ax = ax if ax is not None else plt.subplots(figsize=(6, 3.5))[1]
    depth = range(1, len(norms) + 1)
    # A norm of exactly 0 (a dead layer) cannot sit on a log axis: draw it at the floor.
    floor = min((v for v in norms.values() if v > 0), default=1e-300) / 10
    ax.plot(depth, [v if v > 0 else floor for v in norms.values()], marker="o", label=label)
    ax.set_yscale("log")
    ax.set_xlabel("layer (1 = input side)")
    ax.set_ylabel("gradient norm")
    ax.set_xticks(list(depth))
    if label:
        ax.legend(fontsize="small")
    return ax


def confusion_matrix(labels: Sequence[int], predictions: Sequence[int], n_classes: Optional[int] = None) -> List[List[int]]:
    """counts[true][predicted] for classes 0..n_classes-1."""
    if len(labels) != len(predictions):
        raise ValueError(f"confusion_matrix needs as many predictions as labels, got {len(predictions)} and {len(labels)}")
    k = n_classes if n_classes is not None else max(list(labels) + list(predictions)) + 1
    counts = [[0] * k for _ in range(k)]
    for t, p in zip(labels, predictions):
        counts[t][p] += 1
    return counts


def plot_confusion_matrix(
    labels: Sequence[int],
    predictions: Sequence[int],
    *,
    class_names: Optional[Sequence[str]] = None,
    ax: Optional[Axes] = None,
) -> Axes:
    """A confusion matrix with the count in every cell (rows: true class, columns: predicted)."""
    n = len(class_names) if class_names is not None else None
    counts = confusion_matrix(labels, predictions, n)
    k = len(counts)
    ax = ax if ax is not None else plt.subplots(figsize=(0.5 * k + 2, 0.5 * k + 1.5))[1]
    ax.imshow(counts, cmap="Blues")
    names = list(class_names) if class_names is not None else [str(i) for i in range(k)]
    ax.set_xticks(range(k), names)
    ax.set_yticks(range(k), names)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    top = max(max(row) for row in counts) or 1
    for i in range(k):
        for j in range(k):
            if counts[i][j]:
                ax.text(j, i, str(counts[i][j]), ha="center", va="center", fontsize=8,
                        color="white" if counts[i][j] > top / 2 else "black")
    return ax


def plot_images(
    images: Sequence[Sequence[float]],
    shape: Tuple[int, int],
    *,
    titles: Optional[Sequence[str]] = None,
    columns: int = 8,
) -> Any:
    """Small grey images (flat rows of pixels, e.g. 8x8 digits) in a grid; returns the figure."""
    if not images:
        raise ValueError("plot_images needs at least one image, got none")
    h, w = shape
    for i, image in enumerate(images):
        if len(image) != h * w:
            raise ValueError(f"image {i} has {len(image)} pixels, but shape {shape} needs {h * w}")
    rows = math.ceil(len(images) / columns)
    cols = min(columns, len(images))
    fig, axes = plt.subplots(rows, cols, figsize=(1.3 * cols, 1.5 * rows), squeeze=False)
    for k, ax in enumerate(axes.flat):
        ax.axis("off")
        if k < len(images):
            ax.imshow([list(images[k][r * w:(r + 1) * w]) for r in range(h)], cmap="gray_r")
            if titles is not None:
                ax.set_title(titles[k], fontsize=8)
    fig.tight_layout()
    return fig
