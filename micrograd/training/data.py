"""Toy data sets, a train/test split and mini-batches: pure Python, plain lists, no NumPy.

The generators follow scikit-learn's `sklearn.datasets` (same algorithms, argument names and
label conventions) but draw from Python's `random`, so the numbers differ from sklearn's for
the same seed. Each returns `(X, y)`: `X` a list of `[x0, x1, ...]` rows of floats, `y` a list
of int labels 0..k-1. karpathy's demo uses labels -1/+1: `y = [2 * t - 1 for t in y]`.

`random_state` is an int seed (same seed, same data), a `random.Random`, or None for
Python's global `random` (so `random.seed(...)` makes it repeatable).
"""

from __future__ import annotations

import math
import random
from numbers import Real
from typing import Iterator, List, Optional, Sequence, Tuple, TypeVar, Union

from ..arguments import real, whole_number

__all__ = [
    "make_moons", "make_circles", "make_blobs", "make_spiral", "make_xor", "train_test_split", "batches", "as_rng",
]

RandomState = Union[None, int, random.Random]
Dataset = Tuple[List[List[float]], List[int]]
T = TypeVar("T")
L = TypeVar("L")


def as_rng(random_state: RandomState) -> random.Random:
    """The generator a `random_state` argument means: a new `random.Random(seed)` for an int,
    a `random.Random` as given, and Python's global `random` for None (so `random.seed(...)`
    makes the caller repeatable). Every function here, and `fit`, reads `random_state` so.

    Raises:
        TypeError: `random_state` is none of these (a bool, a float, a string).
    """
    # The `random` module itself is accepted too, since that is what this returns for None
    # and callers pass it back in.
    if random_state is None or random_state is random:  # type: ignore[comparison-overlap]
        return random  # type: ignore[return-value]
    if isinstance(random_state, random.Random):
        return random_state
    if isinstance(random_state, bool) or not isinstance(random_state, int):
        raise TypeError(f"random_state must be an int, a random.Random or None, got {random_state!r}")
    return random.Random(random_state)


def _noise(noise: Optional[float], name: str = "noise") -> float:
    if noise is None:
        return 0.0
    try:
        return real(name, noise, low=0.0)
    except ValueError:  # the same check, in words that mention None
        raise ValueError(f"{name} must be a number >= 0 or None, got {noise!r}") from None


def _linspace(start: float, stop: float, n: int, endpoint: bool = True) -> List[float]:
    """NumPy's linspace: n evenly spaced numbers from start to stop."""
    if n == 1:
        return [start]
    step = (stop - start) / (n - 1 if endpoint else n)
    return [start + i * step for i in range(n)]


def _finish(X: List[List[float]], y: List[int], noise: float, shuffle: bool, rng: random.Random) -> Dataset:
    """Shuffle the samples (as sklearn does, before the noise), then add Gaussian noise."""
    if shuffle:
        order = list(range(len(X)))
        rng.shuffle(order)
        X, y = [X[i] for i in order], [y[i] for i in order]
    if noise:
        X = [[v + rng.gauss(0.0, noise) for v in row] for row in X]
    return X, y


def make_moons(
    n_samples: int = 100, *, shuffle: bool = True, noise: Optional[float] = None, random_state: RandomState = None
) -> Dataset:
    """Two interleaving half circles (karpathy's demo: `make_moons(100, noise=0.1)`).

    The upper moon (label 0) is the unit half circle; the lower one (label 1) is it turned
    over and moved to (1, 0.5). `n_samples // 2` points go to the upper moon.
    """
    n = whole_number("n_samples", n_samples, low=2)
    sigma, rng = _noise(noise), as_rng(random_state)
    n_out = n // 2
    n_in = n - n_out
    X = [[math.cos(t), math.sin(t)] for t in _linspace(0.0, math.pi, n_out)]
    X += [[1.0 - math.cos(t), 1.0 - math.sin(t) - 0.5] for t in _linspace(0.0, math.pi, n_in)]
    return _finish(X, [0] * n_out + [1] * n_in, sigma, shuffle, rng)


def make_circles(
    n_samples: int = 100,
    *,
    shuffle: bool = True,
    noise: Optional[float] = None,
    random_state: RandomState = None,
    factor: float = 0.8,
) -> Dataset:
    """Two rings around the origin: points evenly spaced on the unit circle (label 0) and on a
    circle of radius `factor` inside it (label 1), then Gaussian `noise` on the coordinates.
    Both classes are rings, not discs: without noise, no point lies inside the inner ring.
    `n_samples // 2` points go to the outer ring."""
    n = whole_number("n_samples", n_samples, low=2)
    if isinstance(factor, bool) or not isinstance(factor, Real) or not 0 <= factor < 1:
        raise ValueError(f"factor must be a number in [0, 1), got {factor!r}")
    sigma, rng = _noise(noise), as_rng(random_state)
    n_out = n // 2
    n_in = n - n_out
    X = [[math.cos(t), math.sin(t)] for t in _linspace(0.0, 2 * math.pi, n_out, endpoint=False)]
    X += [[factor * math.cos(t), factor * math.sin(t)] for t in _linspace(0.0, 2 * math.pi, n_in, endpoint=False)]
    return _finish(X, [0] * n_out + [1] * n_in, sigma, shuffle, rng)


def make_blobs(
    n_samples: int = 100,
    n_features: int = 2,
    *,
    centers: Union[None, int, Sequence[Sequence[float]]] = None,
    cluster_std: float = 1.0,
    center_box: Tuple[float, float] = (-10.0, 10.0),
    shuffle: bool = True,
    random_state: RandomState = None,
) -> Dataset:
    """Gaussian blobs, one per class, with standard deviation `cluster_std`.

    `centers` is a number of classes (3 by default; the centres are drawn uniformly from
    `center_box`) or a list of centre points. Samples are shared out evenly, the first
    classes getting one more when they do not divide.
    """
    n = whole_number("n_samples", n_samples, low=1)
    rng = as_rng(random_state)
    if centers is None or isinstance(centers, int):
        k = whole_number("centers", 3 if centers is None else centers, low=1)
        d = whole_number("n_features", n_features, low=1)
        lo, hi = center_box
        points = [[rng.uniform(lo, hi) for _ in range(d)] for _ in range(k)]
    else:
        points = [[float(v) for v in c] for c in centers]
        if not points or len({len(c) for c in points}) != 1:
            raise ValueError(f"centers must be a non-empty list of points of one dimension, got {centers!r}")
    std = _noise(cluster_std, "cluster_std")
    k = len(points)
    X: List[List[float]] = []
    y: List[int] = []
    for label, centre in enumerate(points):
        count = n // k + (label < n % k)
        X += [[c + rng.gauss(0.0, std) for c in centre] for _ in range(count)]
        y += [label] * count
    return _finish(X, y, 0.0, shuffle, rng)


def make_spiral(
    n_samples: int = 100,
    n_classes: int = 3,
    *,
    noise: float = 0.2,
    shuffle: bool = True,
    random_state: RandomState = None,
) -> Dataset:
    """Interleaved spiral arms, one per class (the CS231n data set; not in sklearn).

    Arm j has radius going 0 to 1 while its angle goes from 4j to 4(j+1) radians, plus
    Gaussian noise of `noise` on the angle, so the classes are not linearly separable.
    """
    n = whole_number("n_samples", n_samples, low=1)
    k = whole_number("n_classes", n_classes, low=1)
    sigma, rng = _noise(noise), as_rng(random_state)
    X: List[List[float]] = []
    y: List[int] = []
    for label in range(k):
        count = n // k + (label < n % k)
        radii = _linspace(0.0, 1.0, count)
        angles = [t + rng.gauss(0.0, sigma) if sigma else t for t in _linspace(4.0 * label, 4.0 * (label + 1), count)]
        X += [[r * math.sin(t), r * math.cos(t)] for r, t in zip(radii, angles)]
        y += [label] * count
    return _finish(X, y, 0.0, shuffle, rng)


def make_xor(
    n_samples: int = 100, *, noise: Optional[float] = None, shuffle: bool = True, random_state: RandomState = None
) -> Dataset:
    """Points uniform in the square [-1, 1]^2, label 1 where exactly one coordinate is
    positive (the XOR of the signs), then Gaussian `noise` on the coordinates. No single
    line separates the classes: the classic case for a hidden layer."""
    n = whole_number("n_samples", n_samples, low=1)
    sigma, rng = _noise(noise), as_rng(random_state)
    X = [[rng.uniform(-1.0, 1.0), rng.uniform(-1.0, 1.0)] for _ in range(n)]
    y = [int((a > 0) != (b > 0)) for a, b in X]
    return _finish(X, y, sigma, shuffle, rng)


def train_test_split(
    X: Sequence[T],
    y: Sequence[L],
    test_size: Union[float, int] = 0.25,
    *,
    shuffle: bool = True,
    random_state: RandomState = None,
) -> Tuple[List[T], List[T], List[L], List[L]]:
    """Split into `X_train, X_test, y_train, y_test` (sklearn's order).

    `test_size` is a fraction of the samples (rounded up, as in sklearn) or a count.
    """
    n = len(X)
    if len(y) != n:
        raise ValueError(f"train_test_split needs one label per sample, got {n} samples and {len(y)} labels")
    if isinstance(test_size, bool) or not isinstance(test_size, Real):
        raise ValueError(f"test_size must be a fraction in (0, 1) or a count, got {test_size!r}")
    if isinstance(test_size, int):
        n_test = test_size
    elif 0.0 < test_size < 1.0:
        n_test = math.ceil(test_size * n)
    else:
        raise ValueError(f"test_size must be a fraction in (0, 1) or a count, got {test_size!r}")
    if not 0 < n_test < n:
        raise ValueError(f"test_size={test_size!r} leaves {n_test} of {n} samples for testing: both parts need some")
    if shuffle:  # as sklearn's ShuffleSplit: the test set is the front of a permutation
        order = list(range(n))
        as_rng(random_state).shuffle(order)
        train, test = order[n_test:], order[:n_test]
    else:  # as sklearn: the first samples train, the last ones test
        train, test = list(range(n - n_test)), list(range(n - n_test, n))
    return [X[i] for i in train], [X[i] for i in test], [y[i] for i in train], [y[i] for i in test]


def batches(
    X: Sequence[T],
    y: Sequence[L],
    batch_size: Optional[int] = None,
    *,
    shuffle: bool = True,
    random_state: RandomState = None,
    drop_last: bool = False,
) -> Iterator[Tuple[List[T], List[L]]]:
    """One epoch of mini-batches `(X_batch, y_batch)`: every sample exactly once, in a
    shuffled order (or in order, `shuffle=False`); the last batch may be smaller.
    `batch_size=None` gives the whole data set as one batch.

    `drop_last=True` leaves out the last batch when it is smaller than `batch_size`, as
    PyTorch's `DataLoader(drop_last=True)` does (so no batch, if there are fewer samples than
    `batch_size`). With `shuffle`, the left-out samples are different ones each epoch. Use it for
    a model with `BatchNorm1d`, which cannot train on a batch of one sample.
    """
    n = len(X)
    if len(y) != n:
        raise ValueError(f"batches needs one label per sample, got {n} samples and {len(y)} labels")
    size = max(n, 1) if batch_size is None else whole_number("batch_size", batch_size, low=1)  # no data: no batch
    if not isinstance(drop_last, bool):
        raise TypeError(f"drop_last must be True or False, got {type(drop_last).__name__}: {drop_last!r}")
    order = list(range(n))
    if shuffle:
        as_rng(random_state).shuffle(order)
    end = n - n % size if drop_last else n
    for start in range(0, end, size):
        chunk = order[start:start + size]
        yield [X[i] for i in chunk], [y[i] for i in chunk]
