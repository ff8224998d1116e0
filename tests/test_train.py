"""fit() against karpathy's hand-written demo loop, on every loss, with batches, BatchNorm and a progress bar."""

from __future__ import annotations

import json
import math
import pathlib
import random

import pytest

from micrograd import fit
from micrograd.engine import Value
from micrograd.nn import MLP, Activation, BatchNorm1d, Layer, Sequential
from micrograd.training.data import make_blobs, make_moons, train_test_split
from micrograd.training.losses import hinge_loss, l2_penalty, mse_loss
from micrograd.training.optim import SGD, Adam, LinearLR, grad_norm

MOONS = json.loads((pathlib.Path(__file__).parent / "data" / "moons_1337.json").read_text())
X, Y = MOONS["X"], MOONS["y"]


def demo_model():
    random.seed(1337)
    return MLP(2, [16, 16, 1])


def demo_loop(steps, *, library_loss=False, library_optimizer=False, library_schedule=False):
    """karpathy's demo loop, optionally with one library piece swapped in at a time."""
    model = demo_model()
    optimizer = SGD(model.parameters(), lr=1.0)
    schedule = LinearLR(optimizer, start_factor=1.0, end_factor=0.1, total_iters=100)
    history = []
    for k in range(steps):
        inputs = [list(map(Value, xrow)) for xrow in X]
        scores = list(map(model, inputs))
        if library_loss:
            total_loss = hinge_loss(scores, Y) + l2_penalty(model.parameters(), 1e-4)
        else:
            losses = [(1 + -yi * scorei).relu() for yi, scorei in zip(Y, scores)]
            data_loss = sum(losses) * (1.0 / len(losses))
            reg_loss = 1e-4 * sum((p * p for p in model.parameters()))
            total_loss = data_loss + reg_loss
        history.append(total_loss.data)
        model.zero_grad()
        total_loss.backward()
        learning_rate = optimizer.lr if library_schedule else 1.0 - 0.9 * k / 100
        if library_optimizer:
            optimizer.lr = learning_rate
            optimizer.step()
        else:
            for p in model.parameters():
                p.data -= learning_rate * p.grad
        schedule.step()
    return history, model


def demo_fit(epochs, **kwargs):
    model = demo_model()
    optimizer = SGD(model.parameters(), lr=1.0)
    schedule = LinearLR(optimizer, start_factor=1.0, end_factor=0.1, total_iters=100)
    history = fit(model, X, Y, loss="hinge", optimizer=optimizer, scheduler=schedule, epochs=epochs, l2=1e-4,
                  progress=False, **kwargs)
    return history, model


def test_library_pieces_swap_into_the_demo_loop_one_at_a_time_with_the_same_numbers():
    by_hand, _ = demo_loop(4)
    assert by_hand[0] == 0.8958441028683222  # the demo's first printed loss
    for piece in ("library_loss", "library_optimizer", "library_schedule"):
        assert demo_loop(4, **{piece: True})[0] == by_hand, piece
    assert demo_fit(4)[0]["loss"] == by_hand


def test_fit_reproduces_the_demo_run_and_reaches_100_percent_training_accuracy():
    history, model = demo_fit(100)
    assert history["loss"][0] == 0.8958441028683222
    assert history["loss"][-1] == 0.010978370135492717  # the demo's step 99, to the last bit
    assert history["lr"][:2] == [1.0, 1.0 - 0.9 * 1 / 100]
    first_perfect = history["accuracy"].index(1.0)
    assert first_perfect < 100
    assert sum((s.data > 0) == (y > 0) for s, y in zip(model.batch(X), Y)) == len(Y)
    assert len(history["grad_norm"]) == 100 and all(g > 0 for g in history["grad_norm"])


def test_minibatch_adam_on_generated_moons_generalises():
    X_all, y_all = make_moons(200, noise=0.1, random_state=0)
    y_all = [2 * t - 1 for t in y_all]
    X_train, X_test, y_train, y_test = train_test_split(X_all, y_all, test_size=0.25, random_state=0)
    random.seed(0)
    model = MLP(2, [16, 16, 1])
    history = fit(model, X_train, y_train, loss="hinge", optimizer=Adam(model.parameters(), lr=0.02), epochs=25,
                  batch_size=25, validation_data=(X_test, y_test), random_state=0, progress=False)
    assert set(history) == {"loss", "accuracy", "grad_norm", "lr", "val_loss", "val_accuracy"}
    assert all(len(v) == 25 for v in history.values())
    assert history["loss"][-1] < history["loss"][0] / 4
    assert history["val_accuracy"][-1] >= 0.95


def test_fit_with_cross_entropy_on_blobs():
    X_b, y_b = make_blobs(90, centers=3, cluster_std=0.5, random_state=1)
    random.seed(0)
    model = MLP(2, [8, 3], init="kaiming")
    history = fit(model, X_b, y_b, loss="cross_entropy", optimizer=Adam(model.parameters(), lr=0.05), epochs=15,
                  batch_size=30, random_state=0, progress=False)
    assert history["accuracy"][-1] == 1.0
    assert history["loss"][-1] < 0.2


def test_fit_trains_a_batchnorm_model_and_leaves_it_in_training_mode():
    X_m, y_m = make_moons(64, noise=0.1, random_state=2)
    random.seed(0)
    model = Sequential(Layer(2, 8, nonlin=False), BatchNorm1d(8), Activation("relu"), Layer(8, 1, nonlin=False))
    history = fit(model, X_m, y_m, loss="bce", optimizer=Adam(model.parameters(), lr=0.05), epochs=10,
                  batch_size=16, validation_data=(X_m, y_m), random_state=0, progress=False)
    assert history["loss"][-1] < history["loss"][0]
    assert history["val_accuracy"][-1] >= 0.8
    assert model.training and model[1].training
    assert model[1].running_mean[0].data != 0.0  # the running statistics were updated


def test_fit_records_the_norm_before_clipping_and_steps_with_the_clipped_gradient():
    model = demo_model()
    before = [p.data for p in model.parameters()]
    history = fit(model, X, Y, optimizer=SGD(model.parameters(), lr=0.5), epochs=1, max_grad_norm=1e-3,
                  progress=False)
    moved = math.sqrt(sum((p.data - b) ** 2 for p, b in zip(model.parameters(), before)))
    assert history["grad_norm"][0] > 1e-3
    assert moved == pytest.approx(0.5 * 1e-3, rel=1e-9)


def test_fit_takes_any_loss_function_and_metric():
    model = demo_model()
    history = fit(model, X[:10], [float(y) for y in Y[:10]], loss=mse_loss, epochs=2, progress=False)
    assert set(history) == {"loss", "grad_norm", "lr"}
    history = fit(model, X[:10], Y[:10], loss="mse", metric=lambda out, y: 0.5, epochs=2, progress=False)
    assert history["accuracy"] == [0.5, 0.5]


def test_fit_shows_a_progress_bar_with_loss_and_accuracy(capsys):
    model = demo_model()
    fit(model, X[:20], Y[:20], epochs=3, progress=True)
    err = capsys.readouterr().err
    assert "fit" in err and "3/3" in err and "loss=" in err and "acc=" in err
    fit(model, X[:20], Y[:20], epochs=1, progress=False)
    assert capsys.readouterr().err == ""


def test_fit_default_optimizer_is_sgd_and_records_its_lr():
    model = demo_model()
    history = fit(model, X[:10], Y[:10], epochs=2, progress=False)
    assert history["lr"] == [0.1, 0.1]


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        (
            {"loss": "l1"},
            ValueError,
            r"loss must be one of \['bce', 'cross_entropy', 'hinge', 'mse'\] or a function, got 'l1'",
        ),
        ({"loss": 3}, TypeError, "loss must be a name or a function, got int: 3"),
        ({"epochs": -1}, ValueError, "epochs must be an int >= 0, got -1"),
        ({"metric": "acc"}, TypeError, "metric must be 'auto', None or a function, got 'acc'"),
    ],
)
def test_fit_arguments_are_checked(kwargs, error, message):
    with pytest.raises(error, match=message):
        fit(demo_model(), X, Y, progress=False, **kwargs)


def test_fit_uses_the_schedulers_optimizer_and_refuses_a_different_one():
    model = demo_model()
    optimizer = SGD(model.parameters(), lr=1.0)
    schedule = LinearLR(optimizer, start_factor=1.0, end_factor=0.5, total_iters=2)
    assert fit(model, X[:10], Y[:10], scheduler=schedule, epochs=2, progress=False)["lr"] == [1.0, 0.75]
    with pytest.raises(ValueError, match="the scheduler drives a different optimizer"):
        fit(model, X, Y, optimizer=SGD(model.parameters(), lr=1.0), scheduler=schedule, progress=False)


def test_fit_needs_one_label_per_sample():
    with pytest.raises(ValueError, match="one label per sample and at least one sample, got 100 samples, 99 labels"):
        fit(demo_model(), X, Y[:-1], progress=False)


def test_grad_norm_history_is_the_norm_of_the_step_gradient():
    model = demo_model()
    history = fit(model, X, Y, optimizer=SGD(model.parameters(), lr=0.0), epochs=1, progress=False)
    assert history["grad_norm"][0] == grad_norm(model.parameters())  # lr 0: the gradient is still there


def test_mini_batches_without_a_seed_draw_from_the_global_random():
    X, y = make_moons(20, noise=0.1, random_state=0)
    random.seed(5)
    model = MLP(2, [4, 1])
    first = fit(model, X, [2 * t - 1 for t in y], batch_size=6, epochs=2, progress=False)
    random.seed(5)
    model = MLP(2, [4, 1])
    second = fit(model, X, [2 * t - 1 for t in y], batch_size=6, epochs=2, progress=False)
    assert first["loss"] == second["loss"] and len(first["loss"]) == 2


def test_l2_penalty_is_the_demos_sum_in_one_node():
    ps = [Value(0.5), Value(-2.0), Value(3.0)]
    penalty = l2_penalty(ps, 1e-4)
    expected = 1e-4 * sum((p * p for p in ps))
    assert penalty.data == expected.data
    penalty.backward()
    assert [p.grad for p in ps] == [2e-4 * p.data for p in ps]
    assert l2_penalty([], 0.5).data == 0.0


def test_fit_with_the_compiled_step_gives_the_eager_history_bit_for_bit():
    eager, eager_model = demo_fit(30)
    compiled, compiled_model = demo_fit(30, compiled=True)
    assert compiled == eager
    assert [p.data for p in compiled_model.parameters()] == [p.data for p in eager_model.parameters()]
    run = compiled.compiled
    assert run is not None and run.used and run.reason == ""
    assert run.trace_seconds > 0 and run.eager_step_seconds > 0 and run.replay_step_seconds > 0
    assert run.speedup == run.eager_step_seconds / run.replay_step_seconds
    assert eager.compiled is None


@pytest.mark.parametrize("kwargs, reason", [
    ({"batch_size": 10}, "mini-batches"),
    ({"loss": "cross_entropy"}, "cross_entropy takes the largest logit as a constant"),
    ({"loss": mse_loss}, "a loss function of your own may build another graph"),
])
def test_fit_trains_eagerly_where_a_replay_would_not_be_exact_and_says_why(kwargs, reason):
    random.seed(0)
    k = 2 if kwargs.get("loss") == "cross_entropy" else 1
    model = MLP(2, [4, k])
    labels = [max(y, 0) for y in Y[:20]] if k == 2 else Y[:20]
    args = {"loss": "hinge", **kwargs}
    history = fit(model, X[:20], labels, epochs=2, progress=False, compiled=True, **args)
    assert history.compiled is not None and not history.compiled.used
    assert reason in history.compiled.reason


def test_fit_compiled_with_multiple_outputs_and_a_metric_reads_the_replayed_outputs():
    random.seed(3)
    model = MLP(2, [4, 2])
    labels = [(1.0 if y > 0 else 0.0) for y in Y[:30]]
    targets = [[t, 1.0 - t] for t in labels]
    eager = fit(model, X[:30], targets, loss="mse", epochs=5, progress=False, metric=None)
    random.seed(3)
    model = MLP(2, [4, 2])
    compiled = fit(model, X[:30], targets, loss="mse", epochs=5, progress=False, metric=None, compiled=True)
    assert compiled == eager and compiled.compiled is not None and compiled.compiled.used
    random.seed(4)
    model = MLP(2, [4, 1])
    a = fit(model, X[:30], labels, loss="bce", epochs=4, progress=False)
    random.seed(4)
    model = MLP(2, [4, 1])
    b = fit(model, X[:30], labels, loss="bce", epochs=4, progress=False, compiled=True)
    assert a == b and "accuracy" in b


def test_fit_compiles_the_second_step_so_two_epochs_never_replay():
    history, _ = demo_fit(2, compiled=True)
    assert history.compiled is not None and not history.compiled.used
    assert "compiled after the second" in history.compiled.reason
