"""Plots for training and teaching: decision boundaries, learning curves, gradient norms
by depth, confusion matrices and small images. Shared by `micrograd demo` and the notebooks.

Needs matplotlib (`pip install "micrograd-lab[plot]"`); `import micrograd` does not import it.
Every function draws on the `ax` (or `axes`) it is given, or on a new figure, and returns
what it drew on, so plots compose: `fig, (a, b) = plt.subplots(1, 2)`, then pass `ax=a`.
"""

from __future__ import annotations

import math
from numbers import Integral, Real
from typing import Any, List, Mapping, Optional, Sequence, Tuple, Union

try:
    import matplotlib.pyplot as plt
    from matplotlib.colors import Normalize
    from matplotlib.lines import Line2D
except ImportError as e:  # pragma: no cover - exercised only without the extra installed
    raise ImportError('micrograd.visual.plot needs matplotlib: pip install "micrograd-lab[plot]"') from e

from ..engine import Value, no_grad
from ..nn import Module

__all__ = ["predict_classes", "plot_decision_boundary", "plot_history", "plot_grad_norms", "plot_confusion_matrix",
           "confusion_matrix", "plot_images"]

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


def _class_indices(labels: Sequence[Union[int, float]], who: str) -> List[int]:
    """Labels as class indices 0..k-1: ±1 labels (the hinge convention) become 0 and 1."""
    values = list(labels)
    if values and all(v in (-1, 1) for v in values) and -1 in values:
        return [1 if v > 0 else 0 for v in values]
    for v in values:
        if isinstance(v, bool) or not isinstance(v, Real) or not math.isfinite(v) or v != int(v) or v < 0:
            raise ValueError(f"{who} needs labels -1/+1 or 0..k-1, got {v!r}")
    return [int(v) for v in values]


def plot_decision_boundary(
    model: Module,
    X: Sequence[Sequence[float]],
    y: Sequence[Union[int, float]],
    *,
    ax: Optional[Axes] = None,
    resolution: int = 80,
    margin: float = 0.5,
    title: Optional[str] = None,
    held_out: Optional[Tuple[Sequence[Sequence[float]], Sequence[Union[int, float]]]] = None,
) -> Axes:
    """Colour the plane by the class `model` predicts, with the 2-D points X on top.

    Labels may be ±1 or 0..k-1; a point and the region of its class get the same colour.
    `held_out=(X_test, y_test)` adds those points as triangles. The grid is `resolution`
    x `resolution` model calls.
    """
    points = list(X) + (list(held_out[0]) if held_out is not None else [])
    if not points:
        raise ValueError("plot_decision_boundary needs at least one point, got none")
    for row in points:
        if len(row) != 2:
            raise ValueError(f"plot_decision_boundary needs 2-D points (rows of 2 numbers), got {row!r}")
    if isinstance(resolution, bool) or not isinstance(resolution, int) or resolution < 2:
        raise ValueError(f"resolution must be an int >= 2, got {resolution!r}")
    if len(y) != len(X):
        raise ValueError(f"plot_decision_boundary needs one label per point, got {len(X)} points and {len(y)} labels")
    classes = _class_indices(y, "plot_decision_boundary")
    held_classes = _class_indices(held_out[1], "plot_decision_boundary held_out") if held_out is not None else []
    if held_out is not None and len(held_classes) != len(held_out[0]):
        raise ValueError(
            "plot_decision_boundary held_out needs one label per point,"
            f" got {len(held_out[0])} points and {len(held_classes)} labels"
        )
    ax = ax if ax is not None else plt.subplots(figsize=(5, 5))[1]
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    x0, x1 = min(xs) - margin, max(xs) + margin
    y0, y1 = min(ys) - margin, max(ys) + margin
    gx = [x0 + (x1 - x0) * i / (resolution - 1) for i in range(resolution)]
    gy = [y0 + (y1 - y0) * j / (resolution - 1) for j in range(resolution)]
    grid = [[a, b] for b in gy for a in gx]
    predicted = predict_classes(model, grid)
    zz = [predicted[j * resolution:(j + 1) * resolution] for j in range(resolution)]
    # One colour per class, the same for a region and for its points: class i is the band
    # [i - 0.5, i + 0.5] of the fill (coloured by its middle, i) and the value i of the
    # scatter, under one norm that puts class 0 and class k-1 at the colormap's two ends.
    k = max(classes + held_classes + predicted + [1]) + 1
    cmap, norm = "Spectral", Normalize(vmin=0, vmax=k - 1)
    ax.contourf(gx, gy, zz, levels=[i - 0.5 for i in range(k + 1)], alpha=0.45, cmap=cmap, norm=norm)
    n = len(X)
    ax.scatter(xs[:n], ys[:n], c=classes, s=25, edgecolors="k", linewidths=0.5, cmap=cmap, norm=norm)
    if held_out is not None:
        ax.scatter(xs[n:], ys[n:], c=held_classes, s=36, marker="^", edgecolors="k", linewidths=0.5,
                   cmap=cmap, norm=norm)
        # Grey markers in the legend: it says which shape is which, not which class.
        shapes = [Line2D([], [], marker=m, linestyle="", markerfacecolor="lightgrey", markeredgecolor="k", label=t)
                  for m, t in (("o", "training"), ("^", "held out"))]
        ax.legend(handles=shapes, fontsize="small", loc="upper right")
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

    A loss of exactly 0 (a hinge loss once every point is beyond the margin, often the
    held-out one) has no place on a log scale, where its curve would vanish. When any curve on
    the loss axes touches 0, the axis is symlog instead: logarithmic above the least positive
    loss, linear below it, so 0 sits one decade's height under that least value. The y label
    says so.
    """
    if "loss" not in history:
        raise ValueError(f"plot_history needs a history with a 'loss' list, got keys {sorted(history)}")
    if axes is None:
        _, axes = plt.subplots(1, 2, figsize=(10, 3.5))
    loss_ax, acc_ax = axes
    name = label or "train"
    held = f"{label} (held out)" if label else "held out"
    epochs = range(1, len(history["loss"]) + 1)
    (line,) = loss_ax.plot(epochs, history["loss"], label=name)
    if history.get("val_loss"):
        loss_ax.plot(epochs, history["val_loss"], "--", color=line.get_color(), label=held)
    _set_loss_scale(loss_ax)
    loss_ax.set_xlabel("epoch")
    if history.get("accuracy"):
        acc_ax.plot(epochs, history["accuracy"], color=line.get_color(), label=name)
        if history.get("val_accuracy"):
            acc_ax.plot(epochs, history["val_accuracy"], "--", color=line.get_color(), label=held)
    acc_ax.set_xlabel("epoch")
    acc_ax.set_ylabel("accuracy")
    acc_ax.set_ylim(0.0, 1.05)
    for a in axes:
        if a.get_legend_handles_labels()[0]:  # no accuracy curves (an mse history): no empty legend
            a.legend(fontsize="small")
    return axes


def _set_loss_scale(ax: Axes) -> None:
    """Log scale for every loss curve on `ax`, the earlier runs' included; symlog when one of
    them has a loss <= 0, which a log axis would leave out (with no sign that it did)."""
    values = [float(v) for line in ax.get_lines() for v in line.get_ydata()]
    finite = [v for v in values if math.isfinite(v)]
    if all(v > 0 for v in finite):
        ax.set_yscale("log")
        ax.set_ylabel("loss")
        return
    # Linear up to the least positive loss: every positive loss stays on the log part, where
    # the curves keep the shape they have on a log axis, and 0 gets the room of one decade.
    linthresh = min((v for v in finite if v > 0), default=1.0)
    ax.set_yscale("symlog", linthresh=linthresh)
    ax.set_ylabel(f"loss (symlog: linear below {linthresh:.2g}, to show 0)")


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


def confusion_matrix(
    labels: Sequence[int], predictions: Sequence[int], n_classes: Optional[int] = None
) -> List[List[int]]:
    """`counts[true][predicted]` for classes 0..n_classes-1 (default: the largest class seen, plus 1)."""
    if len(labels) != len(predictions):
        raise ValueError(
            f"confusion_matrix needs as many predictions as labels, got {len(predictions)} and {len(labels)}"
        )
    if n_classes is None:
        if len(labels) == 0:
            raise ValueError("confusion_matrix needs n_classes when there are no labels, got none")
    elif isinstance(n_classes, bool) or not isinstance(n_classes, int) or n_classes < 1:
        raise ValueError(f"n_classes must be an int >= 1, got {n_classes!r}")
    seen = [
        int(c) for pair in zip(labels, predictions) for c in pair if isinstance(c, Integral) and not isinstance(c, bool)
    ]
    k = n_classes if n_classes is not None else max(seen, default=0) + 1
    counts = [[0] * k for _ in range(k)]
    for i, (t, p) in enumerate(zip(labels, predictions)):
        for name, c in (("label", t), ("prediction", p)):
            # A negative index would count silently in the wrong cell (a -1 of a ±1 label).
            if isinstance(c, bool) or not isinstance(c, Integral) or not 0 <= c < k:
                raise ValueError(f"confusion_matrix: {name} {i} must be a class index in 0..{k - 1}, got {c!r}")
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
    if isinstance(columns, bool) or not isinstance(columns, int) or columns < 1:
        raise ValueError(f"columns must be an int >= 1, got {columns!r}")
    if titles is not None and len(titles) != len(images):
        raise ValueError(f"plot_images needs one title per image, got {len(titles)} titles for {len(images)} images")
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
