"""Data sets: deterministic per seed, the right shapes, labels and geometry; split and batches."""

from __future__ import annotations

import math
import random

import pytest

from micrograd.training.data import (
    batches,
    make_blobs,
    make_circles,
    make_moons,
    make_spiral,
    make_xor,
    train_test_split,
)

GENERATORS = [
    (make_moons, {"noise": 0.1}, {0, 1}),
    (make_circles, {"noise": 0.05, "factor": 0.5}, {0, 1}),
    (make_blobs, {}, {0, 1, 2}),
    (make_spiral, {}, {0, 1, 2}),
    (make_xor, {"noise": 0.05}, {0, 1}),
]


@pytest.mark.parametrize("make, kwargs, labels", GENERATORS)
def test_same_seed_same_data_other_seed_other_data(make, kwargs, labels):
    a = make(60, random_state=1337, **kwargs)
    assert make(60, random_state=1337, **kwargs) == a
    assert make(60, random_state=random.Random(1337), **kwargs) == a
    assert make(60, random_state=1338, **kwargs) != a


@pytest.mark.parametrize("make, kwargs, labels", GENERATORS)
def test_shapes_and_label_sets(make, kwargs, labels):
    X, y = make(101, random_state=0, **kwargs)
    assert len(X) == len(y) == 101
    assert all(isinstance(row, list) and len(row) == 2 and all(isinstance(v, float) for v in row) for row in X)
    assert set(y) == labels and all(type(t) is int for t in y)


@pytest.mark.parametrize("make, kwargs, labels", GENERATORS)
def test_none_uses_the_global_random_so_random_seed_repeats_it(make, kwargs, labels):
    random.seed(5)
    a = make(30, **kwargs)
    random.seed(5)
    assert make(30, **kwargs) == a


def test_moons_without_noise_lie_on_the_two_half_circles():
    X, y = make_moons(100, shuffle=False)
    assert y == [0] * 50 + [1] * 50
    for (a, b), label in zip(X, y):
        cx, cy = (0.0, 0.0) if label == 0 else (1.0, 0.5)
        assert math.hypot(a - cx, b - cy) == pytest.approx(1.0, rel=1e-14)
        assert (b >= -1e-15) if label == 0 else (b <= 0.5 + 1e-15)
    assert X[0] == [1.0, 0.0] and X[49] == pytest.approx([-1.0, 0.0], abs=1e-15)


def test_moons_halves_an_odd_count_like_sklearn():
    _, y = make_moons(7, random_state=0)
    assert y.count(0) == 3 and y.count(1) == 4


def test_circles_without_noise_have_radius_1_and_factor():
    X, y = make_circles(40, factor=0.3, random_state=0)
    for (a, b), label in zip(X, y):
        assert math.hypot(a, b) == pytest.approx(1.0 if label == 0 else 0.3, rel=1e-14)


def test_blobs_with_given_centres_and_no_spread_sit_on_the_centres():
    X, y = make_blobs(7, centers=[[0.0, 0.0, 0.0], [5.0, 5.0, 5.0]], cluster_std=0.0, random_state=0)
    assert y.count(0) == 4 and y.count(1) == 3  # the first class takes the remainder
    assert all(row == [5.0 * label] * 3 for row, label in zip(X, y))


def test_blobs_centres_are_drawn_from_the_box():
    X, y = make_blobs(300, n_features=3, centers=4, cluster_std=0.0, center_box=(2.0, 3.0), random_state=0)
    assert set(y) == {0, 1, 2, 3} and all(len(row) == 3 and all(2.0 <= v <= 3.0 for v in row) for row in X)


def test_spiral_arms_grow_from_the_centre_to_radius_1():
    X, y = make_spiral(30, n_classes=3, noise=0.0, shuffle=False)
    assert y == [0] * 10 + [1] * 10 + [2] * 10
    radii = [math.hypot(*row) for row in X[:10]]
    assert radii == pytest.approx([i / 9 for i in range(10)], abs=1e-15)


def test_xor_label_is_the_xor_of_the_signs_before_noise():
    X, y = make_xor(200, random_state=3)
    assert all(t == int((a > 0) != (b > 0)) for (a, b), t in zip(X, y))
    assert all(-1.0 <= v <= 1.0 for row in X for v in row)


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: make_moons(1), "n_samples must be an int >= 2, got 1"),
        (lambda: make_moons(10, noise=-0.1), "noise must be a number >= 0 or None, got -0.1"),
        (lambda: make_circles(10, factor=1.0), r"factor must be a number in \[0, 1\), got 1.0"),
        (lambda: make_spiral(10, n_classes=0), "n_classes must be an int >= 1, got 0"),
        (lambda: train_test_split([1, 2], [1], 0.5), "one label per sample, got 2 samples and 1 labels"),
        (lambda: train_test_split([1, 2, 3], [1, 2, 3], 1.5), "test_size must be a fraction in"),
        (lambda: train_test_split([1, 2], [1, 2], 2), "leaves 2 of 2 samples for testing"),
        (lambda: list(batches([1], [1], 0)), "batch_size must be an int >= 1, got 0"),
    ],
)
def test_bad_arguments_name_the_argument_and_value(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_random_state_of_the_wrong_type_is_a_type_error():
    with pytest.raises(TypeError, match="random_state must be an int, a random.Random or None, got '1'"):
        make_moons(10, random_state="1")


def test_train_test_split_rounds_the_test_part_up_and_keeps_pairs():
    X = [[float(i)] for i in range(10)]
    y = list(range(10))
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.25, random_state=0)
    assert (len(X_train), len(X_test)) == (7, 3)  # ceil(2.5) = 3, as in sklearn
    assert sorted(y_train + y_test) == y
    assert all(row == [float(t)] for row, t in zip(X_train + X_test, y_train + y_test))
    assert train_test_split(X, y, test_size=0.25, random_state=0)[3] == y_test
    # Unshuffled, as in sklearn: the first samples train and the last ones test.
    assert train_test_split(X, y, test_size=4, shuffle=False) == (X[:6], X[6:], y[:6], y[6:])


def test_batches_cover_every_sample_once_per_epoch():
    X = [[float(i)] for i in range(10)]
    y = list(range(10))
    got = list(batches(X, y, 4, random_state=0))
    assert [len(b[1]) for b in got] == [4, 4, 2]
    assert sorted(t for _, yb in got for t in yb) == y
    assert all(row == [float(t)] for Xb, yb in got for row, t in zip(Xb, yb))
    assert list(batches(X, y, shuffle=False)) == [(X, y)]


def test_cluster_std_errors_name_cluster_std():
    with pytest.raises(ValueError, match=r"^cluster_std must be a number >= 0 or None, got -1"):
        make_blobs(10, cluster_std=-1)
