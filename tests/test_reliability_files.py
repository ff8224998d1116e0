"""Issue 13, the files part: validated model files, optimizers that refuse non-finite steps,
optimizer and schedule state saved with the model (a resumed run continues bit for bit),
PyTorch-style param_groups, and BatchNorm1d's affine / track_running_stats options.

Each test is a repro from the issue (or one found while fixing it) with the values it must give.
"""

from __future__ import annotations

import json
import math
import os
import random
import struct
import tracemalloc

import pytest

from micrograd.engine import Value
from micrograd.nn import MLP, Activation, BatchNorm1d, Layer, Sequential
from micrograd.training import serialize
from micrograd.training.losses import mse_loss
from micrograd.training.optim import (
    SGD,
    Adam,
    AdamW,
    CosineAnnealingLR,
    LinearLR,
    NonFiniteStepError,
    StepLR,
    clip_grad_norm,
    grad_norm,
)
from micrograd.training.serialize import MAX_DEPTH, ModelFileError, describe, load, save


def bits(numbers):
    """Floats as IEEE-754 bit patterns: equality means bit for bit (and -0.0 != 0.0)."""
    return [struct.pack("<d", x) for x in numbers]


def bn_model():
    random.seed(2)
    return Sequential(Layer(2, 3, nonlin=False), BatchNorm1d(3), Activation("tanh"), Layer(3, 1, nonlin=False))


def model_document(model=None):
    model = model if model is not None else bn_model()
    return {"format": "micrograd", "version": 1, "architecture": describe(model), "state": model.state_dict()}


def write(tmp_path, content, name="model.json"):
    path = tmp_path / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content if isinstance(content, str) else json.dumps(content))
    return path


def refused(path, *args, match, **kwargs):
    """load(path, ...) raises ModelFileError naming the file and matching `match`; returns the message."""
    with pytest.raises(ModelFileError, match=match) as raised:
        load(path, *args, **kwargs)
    message = str(raised.value)
    assert message.startswith(f"{path}: ")
    return message


# =======================================================================================
# 1. Model files are validated before use
# =======================================================================================


def test_deep_nesting_is_a_model_file_error_not_a_recursion_error(tmp_path):
    # The repro: 100,000 brackets deep. Refused before parsing, by counting brackets.
    path = write(tmp_path, "[" * 100_000 + "]" * 100_000)
    refused(path, match=r"100,000 brackets \(\[ or \{\) in 200,000 characters: more objects and lists than a model")


def test_nesting_within_the_bracket_budget_is_refused_by_depth(tmp_path):
    # Padding keeps the bracket count legal: the parser's own recursion limit is reported.
    path = write(tmp_path, "[" * 3000 + " " * 60_000 + "]" * 3000)
    refused(path, match=f"nested deeper than the JSON parser follows, .* needs .at most {MAX_DEPTH}.")
    # Shallower than the parser's limit but deeper than a model file needs: counted exactly.
    doc = model_document()
    doc["architecture"]["modules"][2] = json.loads("[" * 70 + "]" * 70)  # where a description belongs
    path = write(tmp_path, json.dumps(doc) + " " * 2000)
    refused(path, match=f"objects and lists nested {MAX_DEPTH + 1} deep, more than a model file needs")


def test_brackets_inside_strings_cannot_hide_nesting(tmp_path):
    path = write(tmp_path, '["]",' * 2000 + " " * 40_000)  # each '"]"' would close a level for a naive count
    refused(path, match="nested deeper than the JSON parser follows")


def test_non_utf8_bytes_are_a_model_file_error_not_a_unicode_decode_error(tmp_path):
    text = json.dumps(model_document()).encode()
    path = write(tmp_path, text[:20] + b"\xff\xfe" + text[20:])
    refused(path, match="not UTF-8 text .*: byte 0xff at offset 20 is invalid start byte")


@pytest.mark.parametrize("value, match", [
    (-1.0, r"'1.running_var.0' is a variance, so it must be >= 0, got -1.0"),
    (-5e-324, r"'1.running_var.0' is a variance, so it must be >= 0, got -5e-324"),
])
def test_negative_running_var_is_refused_and_the_model_is_unchanged(tmp_path, value, match):
    doc = model_document()
    doc["state"]["1.running_var.0"] = value
    path = write(tmp_path, doc)
    model = bn_model()
    before = model.state_dict()
    refused(path, model, match=match)
    refused(path, match=match)
    assert model.state_dict() == before


def test_zero_running_var_is_a_variance_too(tmp_path):
    doc = model_document()
    doc["state"]["1.running_var.0"] = 0.0
    assert load(write(tmp_path, doc))[1].running_var[0].data == 0.0


@pytest.mark.parametrize("text, match", [
    ('1e999', r"not valid JSON: the number '1e999' is beyond the largest float"),
    ('-1e400', r"not valid JSON: the number '-1e400' is beyond the largest float"),
    ('Infinity', "not valid JSON: Infinity is not a number JSON allows"),
    ('NaN', "not valid JSON: NaN is not a number JSON allows"),
    ('0', r"architecture.modules\[1\]: 'eps' must be a number > 0.0, got 0"),
    ('-1e-5', r"architecture.modules\[1\]: 'eps' must be a number > 0.0, got -1e-05"),
    ('"1e-5"', r"architecture.modules\[1\]: 'eps' must be a number > 0.0, got '1e-5'"),
    ('true', r"architecture.modules\[1\]: 'eps' must be a number > 0.0, got True"),
])
def test_eps_must_be_finite_and_positive(tmp_path, text, match):
    doc = json.dumps(model_document())
    assert '"eps": 1e-05' in doc
    path = write(tmp_path, doc.replace('"eps": 1e-05', f'"eps": {text}'))
    refused(path, match=match)


@pytest.mark.parametrize("key, value, match", [
    ("momentum", 1.5, r"'momentum' must be a number in \[0.0, 1.0\], got 1.5"),
    ("momentum", -0.1, r"'momentum' must be a number in \[0.0, 1.0\], got -0.1"),
    ("num_features", "3", "'num_features' must be a positive int, got str: '3'"),
    ("num_features", 0, "'num_features' must be a positive int, got int: 0"),
    ("affine", "yes", "'affine' must be a bool, got str: 'yes'"),
    ("track_running_stats", 1, "'track_running_stats' must be a bool, got int: 1"),
])
def test_batchnorm_hyper_parameters_are_checked_with_their_ranges(tmp_path, key, value, match):
    doc = model_document()
    doc["architecture"]["modules"][1][key] = value
    refused(write(tmp_path, doc), match=r"architecture.modules\[1\]: " + match)


def test_build_refuses_an_infinite_eps_given_as_a_dict():
    spec = {"type": "BatchNorm1d", "num_features": 2, "eps": math.inf, "momentum": 0.1}
    with pytest.raises(ModelFileError, match="architecture: 'eps' must be a number > 0.0, got inf"):
        serialize.build(spec)


@pytest.mark.parametrize("change, match", [
    (lambda d: d.update(version=True), "unsupported version True"),
    (lambda d: d.update(format=1), r"'format' is 1, expected 'micrograd'"),
    (lambda d: d["architecture"]["modules"][0].update(nin=2.0), "'nin' must be a positive int, got float: 2.0"),
    (lambda d: d["architecture"]["modules"][0].update(activation="swish"),
     r"'activation' must be one of \['linear', 'relu', 'sigmoid', 'tanh'\], got str: 'swish'"),
    (lambda d: d["state"].update({"0.neurons.0.b": "0.5"}), "'0.neurons.0.b' must be a real number, got str: '0.5'"),
    (lambda d: d["state"].update({"0.neurons.0.b": [0.5]}), r"'0.neurons.0.b' must be a real number, got list"),
    (lambda d: d.update(optimizer=[]), "'optimizer' must be an object, got list"),
    (lambda d: d.update(scheduler={}), "has a 'scheduler' but no 'optimizer'"),
])
def test_wrong_types_are_named(tmp_path, change, match):
    doc = model_document()
    change(doc)
    refused(write(tmp_path, doc), bn_model(), match=match)


def test_state_names_are_checked_before_the_model_is_built(tmp_path, monkeypatch):
    doc = model_document()
    doc["state"]["1.running_vra.0"] = doc["state"].pop("1.running_var.0")

    def no_build(*args):
        raise AssertionError("the model was built before the state's names were checked")

    monkeypatch.setattr(serialize, "_build", no_build)
    refused(write(tmp_path, doc), match=r"missing \['1.running_var.0'\], unexpected \['1.running_vra.0'\]")


def test_a_huge_size_in_the_description_is_refused_without_building(tmp_path, monkeypatch):
    doc = model_document(MLP(2, [3, 1]))
    doc["architecture"]["nouts"] = [10**17, 1]
    monkeypatch.setattr(serialize, "_build", lambda *args: pytest.fail("built"))
    refused(write(tmp_path, doc), match=r"has 400000000000000001 numbers but 'state' holds 13")


def test_integers_of_more_than_18_digits_are_refused_while_parsing(tmp_path):
    path = write(tmp_path, json.dumps(model_document()).replace('"version": 1', '"version": ' + "9" * 5000))
    refused(path, match=r"the integer '9999.*\(5,002 characters\) has more than 18 digits")


def test_a_file_above_max_bytes_is_refused_before_it_is_read(tmp_path):
    path = write(tmp_path, b" " * 3_000_000)
    tracemalloc.start()
    try:
        message = refused(path, match="the file is 3,000,000 bytes, more than load reads .*max_bytes=2,000,000",
                          max_bytes=2_000_000)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert "pass a larger max_bytes" in message and peak < 100_000  # nothing of the file was read
    with pytest.raises(ValueError, match="max_bytes must be a positive int, got int: 0"):
        load(path, max_bytes=0)


def test_the_default_size_limit(tmp_path):
    assert serialize.MAX_BYTES == 64 * 1024 * 1024
    path = write(tmp_path, json.dumps(model_document()))
    refused(path, match="more than load reads", max_bytes=100)


# The hostile shapes measured: each is refused, and its peak memory while being refused is
# within a small multiple of its size. Measured (4 MB each): bracket floods 2x, non-UTF-8 3x,
# long numbers 2-3x, a list of floats 9x, an object of 333,333 tiny keys 16x (the parser's
# own cost for a legitimate-looking state; a real model file costs about 6x).
SIZE = 1_500_000
HOSTILE = {
    "nested lists": lambda: "[" * SIZE,
    "empty lists": lambda: "[" + "[]," * (SIZE // 3) + "[]]",
    "empty objects": lambda: "[" + "{}," * (SIZE // 3) + "{}]",
    "escapes": lambda: '"' + '\\"' * (SIZE // 2),
    "non-UTF-8": lambda: b"\xff" * SIZE,
    "long integer": lambda: "1" * SIZE,
    "floats in the state": lambda: '{"format": "micrograd", "version": 1, "architecture": null, "state": {"a": ['
    + "0.0," * (SIZE // 4) + "0.0]}}",
    "tiny keys in the state": lambda: '{"format": "micrograd", "version": 1, "architecture": null, "state": {'
    + ",".join(f'"k{i}":0.5' for i in range(SIZE // 11)) + "}}",
}


@pytest.mark.parametrize("shape", sorted(HOSTILE))
def test_rejecting_a_large_hostile_file_costs_a_small_multiple_of_its_size(tmp_path, shape):
    path = write(tmp_path, HOSTILE[shape]())
    size = os.path.getsize(path)
    model = bn_model()
    before = model.state_dict()
    tracemalloc.start()
    try:
        with pytest.raises(ModelFileError, match=str(path)):
            load(path, model)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 20 * size, f"{shape}: {peak:,} bytes at the peak for a {size:,}-byte file ({peak / size:.1f}x)"
    assert model.state_dict() == before


def test_bracket_floods_cost_about_twice_their_size(tmp_path):
    path = write(tmp_path, HOSTILE["empty lists"]())
    tracemalloc.start()
    try:
        refused(path, match="more objects and lists than a model file holds")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 2.5 * os.path.getsize(path)  # the bytes and the text, nothing parsed


def test_a_legitimate_file_passes_the_bracket_budget_with_room(tmp_path):
    # The densest file save writes: an optimizer state entry per parameter.
    random.seed(0)
    model = MLP(1, [1])
    opt = Adam(model.parameters(), lr=0.1)
    for p in model.parameters():
        p.grad = 1.0
    opt.step()
    path = tmp_path / "m.json"
    save(model, path, optimizer=opt)
    text = path.read_text()
    brackets = text.count("[") + text.count("{")
    assert brackets * 16 < len(text)
    fresh = load(path)
    load(path, fresh, optimizer=Adam(fresh.parameters(), lr=0.1))


# --- BatchNorm1d's options in the file ---------------------------------------------------

@pytest.mark.parametrize("options", [{"affine": False}, {"track_running_stats": False},
                                     {"affine": False, "track_running_stats": False}])
def test_batchnorm_options_are_saved_and_loaded(tmp_path, options):
    random.seed(4)
    model = Sequential(Layer(2, 3, nonlin=False), BatchNorm1d(3, eps=1e-3, momentum=0.25, **options))
    model.batch([[0.5, -1.0], [1.5, 2.0], [-0.5, 0.25]])  # moves the running statistics, where kept
    save(model, tmp_path / "m.json")
    rebuilt = load(tmp_path / "m.json")
    bn = rebuilt[1]
    assert (bn.affine, bn.track_running_stats, bn.eps, bn.momentum) == (
        options.get("affine", True), options.get("track_running_stats", True), 1e-3, 0.25)
    assert describe(rebuilt) == describe(model)
    assert bits(rebuilt.state_dict().values()) == bits(model.state_dict().values())
    assert list(rebuilt.state_dict()) == list(model.state_dict())
    # The options are part of the architecture: a model with the default options does not fit.
    other = Sequential(Layer(2, 3, nonlin=False), BatchNorm1d(3, eps=1e-3, momentum=0.25))
    with pytest.raises(ModelFileError, match="does not match the model's"):
        load(tmp_path / "m.json", other)


def test_a_file_written_before_the_options_existed_loads_with_the_defaults(tmp_path):
    doc = model_document()
    for key in ("affine", "track_running_stats"):
        del doc["architecture"]["modules"][1][key]
    model = load(write(tmp_path, doc))
    assert model[1].affine and model[1].track_running_stats
    assert model.state_dict() == doc["state"]
    load(tmp_path / "model.json", bn_model())  # and it fits a model built today


def test_state_names_from_a_description_are_the_modules_own():
    nested = Sequential(Layer(2, 2), BatchNorm1d(2, track_running_stats=False))
    models = [MLP(3, [4, 2]), Layer(2, 3), bn_model(), Sequential(BatchNorm1d(2, affine=False), nested)]
    for model in models:
        spec = serialize._check_spec(describe(model), "architecture")
        assert sorted(name for name, _ in serialize._state_names(spec)) == sorted(model.state_dict())
        assert serialize._state_size(spec) == len(model.state_dict())


# =======================================================================================
# 2. Optimizers refuse a step that would make any parameter non-finite
# =======================================================================================


def params_with(grads, data=None, label=None):
    data = data or [1.0] * len(grads)
    ps = [Value(d) for d in data]
    for p, g in zip(ps, grads):
        p.grad = g
    if label:
        ps[0].label = label
    return ps


def test_sgd_with_lr_1e308_refuses_and_changes_nothing():
    ps = params_with([-2.0, 0.5], data=[1.0, 2.0], label="w")
    opt = SGD(ps, lr=1e308)
    with pytest.raises(NonFiniteStepError) as raised:
        opt.step()
    assert str(raised.value) == (
        "SGD.step refused: parameter 0 ('w') has data 1.0 and grad -2.0, which would give data inf (lr=1e+308,"
        " momentum=0.0, dampening=0.0, weight_decay=0.0, nesterov=False); nothing was changed (no parameter, no"
        " optimizer state)"
    )
    assert [p.data for p in ps] == [1.0, 2.0]  # not even parameter 1, whose own step was finite (2.0 - 5e307)
    assert isinstance(raised.value, ValueError)


def test_adam_with_an_infinite_gradient_refuses_and_keeps_its_state():
    ps = params_with([0.5, -0.25])
    opt = Adam(ps, lr=0.1)
    opt.step()
    before_data, before_state = [p.data for p in ps], opt.state_dict()
    ps[1].grad = math.inf
    with pytest.raises(NonFiniteStepError, match=r"Adam.step refused: parameter 1 has data 1.0999999\d* and grad inf,"
                       r" which would give data nan, exp_avg inf, exp_avg_sq inf \(lr=0.1, betas=\(0.9, 0.999\),"
                       r" eps=1e-08, weight_decay=0.0, step 2\)"):
        opt.step()
    assert bits(p.data for p in ps) == bits(before_data)
    assert opt.state_dict() == before_state and opt.t == 1
    ps[1].grad = -0.25  # the same step, finite again, goes through from the same state
    opt.step()
    assert opt.t == 2


def test_adam_refuses_a_second_moment_that_overflows_though_the_parameter_stays_finite():
    # g = 1e200: v = (1 - b2) g^2 = inf, m / sqrt(v) = 0, so the parameter would not move, now or ever.
    ps = params_with([1e200])
    with pytest.raises(NonFiniteStepError, match=r"would give data 1.0, exp_avg 9.99999\d*e\+198, exp_avg_sq inf"):
        Adam(ps).step()
    assert ps[0].data == 1.0


def test_sgd_momentum_buffers_are_kept_when_a_step_is_refused():
    ps = params_with([1.0, 1.0])
    opt = SGD(ps, lr=0.1, momentum=0.9)
    opt.step()
    opt.step()
    before = ([p.data for p in ps], opt.state_dict())
    assert before[1]["state"] == {0: {"momentum_buffer": 1.9}, 1: {"momentum_buffer": 1.9}}
    ps[0].grad = 1e308  # parameter 0's own step is finite (buffer 1e308, data 0.71 - 1e307)
    ps[1].grad = math.nan
    with pytest.raises(NonFiniteStepError, match=r"parameter 1 has data 0\.71 and grad nan, which would give data nan,"
                       r" momentum_buffer nan \(lr=0.1, momentum=0.9"):
        opt.step()
    assert ([p.data for p in ps], opt.state_dict()) == before


def test_weight_decay_that_overflows_the_gradient_is_refused():
    ps = params_with([0.0], data=[1e300])
    opt = SGD(ps, lr=0.5, weight_decay=1e10)  # g = 0 + 1e10 * 1e300 = inf
    with pytest.raises(NonFiniteStepError, match=r"parameter 0 has data 1e\+300 and grad 0.0, which would give data"
                       r" -inf \(lr=0.5, momentum=0.0, dampening=0.0, weight_decay=10000000000.0"):
        opt.step()
    assert ps[0].data == 1e300
    q = params_with([0.0], data=[1e300])
    with pytest.raises(NonFiniteStepError, match="AdamW.step refused"):
        AdamW(q, lr=1e300, weight_decay=1e10).step()  # the decoupled shrink 1 - lr * wd overflows
    assert q[0].data == 1e300


def test_the_refusal_names_the_group_of_the_first_offender():
    a, b = params_with([1.0]), params_with([1.0])
    opt = SGD([{"params": a}, {"params": b, "lr": 1e308}], lr=0.1)
    b[0].grad = -1e10
    with pytest.raises(NonFiniteStepError, match=r"parameter 1 \(in param group 1\) has data 1.0 and grad"
                       r" -10000000000.0.*lr=1e\+308"):
        opt.step()
    assert a[0].data == 1.0  # group 0's finite step was not taken either


def test_adam_eps_must_be_positive():
    # eps = 0 divided 0 by 0 (a raw ZeroDivisionError) for a parameter whose gradients were all 0.
    with pytest.raises(ValueError, match=r"eps must be a number > 0.0, got 0"):
        Adam([Value(1.0)], eps=0)


def test_clip_grad_norm_with_an_infinite_gradient_raises_and_leaves_the_gradients():
    ps = params_with([3.0, math.inf, 4.0])
    with pytest.raises(NonFiniteStepError) as raised:
        clip_grad_norm(ps, 1.0)
    assert str(raised.value) == (
        "clip_grad_norm: the 2.0-norm of the gradients is inf, so they cannot be clipped to 1.0: parameter 1 has"
        " grad inf; nothing was changed (error_if_nonfinite=False returns the norm instead)"
    )
    assert [p.grad for p in ps] == [3.0, math.inf, 4.0]  # PyTorch's default would make them 0, nan, 0


def test_clip_grad_norm_error_if_nonfinite_false_returns_the_norm_and_leaves_the_gradients():
    ps = params_with([3.0, math.nan])
    assert math.isnan(clip_grad_norm(ps, 1.0, error_if_nonfinite=False))
    assert ps[0].grad == 3.0 and math.isnan(ps[1].grad)
    with pytest.raises(ValueError, match="error_if_nonfinite must be a bool, got str"):
        clip_grad_norm(ps, 1.0, error_if_nonfinite="no")


def test_clip_grad_norm_when_only_the_norm_overflows():
    ps = params_with([1.5e308, 1.5e308])
    with pytest.raises(NonFiniteStepError, match="every gradient is finite, but their norm is beyond the largest"):
        clip_grad_norm(ps, 1.0)


def test_grad_norm_is_nan_for_a_nan_gradient_whatever_its_position():
    # max(1.0, nan) is 1.0 but max(nan, 1.0) is nan: the infinity norm no longer depends on the order.
    for grads in ([1.0, math.nan], [math.nan, 1.0]):
        assert math.isnan(grad_norm(params_with(grads), math.inf))
        assert math.isnan(grad_norm(params_with(grads)))
    assert grad_norm(params_with([math.inf, 1.0]), 3) == math.inf


def test_a_schedule_that_overflows_the_learning_rate_refuses():
    opt = SGD([Value(1.0)], lr=1.0)
    sched = StepLR(opt, step_size=1, gamma=10.0)
    for _ in range(308):
        sched.step()
    assert opt.lr == 1e308
    with pytest.raises(NonFiniteStepError, match=r"StepLR.step refused: the learning rate at step 309 is not finite"):
        sched.step()
    assert (opt.lr, sched.last_epoch) == (1e308, 308)


# =======================================================================================
# 3. Optimizer state saved and loaded with the model: a resumed run continues bit for bit
# =======================================================================================

random.seed(7)
DATA_X = [[random.uniform(-2, 2), random.uniform(-2, 2)] for _ in range(12)]
DATA_Y = [math.sin(x0) * x1 for x0, x1 in DATA_X]


def make_run(kind):
    """A fresh model, optimizer and schedule (None for none) of one kind of run."""
    random.seed(11)
    model = MLP(2, [5, 4, 1], activation="tanh")
    params = model.parameters()
    if kind == "sgd_momentum":
        opt = SGD(params, lr=0.05, momentum=0.9, nesterov=True, weight_decay=1e-3)
        return model, opt, None
    if kind == "adam":
        return model, Adam(params, lr=0.02, betas=(0.8, 0.99)), None
    if kind == "adamw_linear":
        opt = AdamW(params, lr=0.03)
        return model, opt, LinearLR(opt, start_factor=1.0, end_factor=0.2, total_iters=8)
    if kind == "sgd_groups_cosine":
        first, rest = params[:15], params[15:]
        opt = SGD([{"params": first, "lr": 0.1}, {"params": rest, "weight_decay": 0.01}], lr=0.03, momentum=0.5)
        return model, opt, CosineAnnealingLR(opt, T_max=7, eta_min=0.001)
    raise AssertionError(kind)


def train(model, opt, sched, steps):
    for _ in range(steps):
        loss = mse_loss(model.batch(DATA_X), DATA_Y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        if sched is not None:
            sched.step()


RUNS = ["sgd_momentum", "adam", "adamw_linear", "sgd_groups_cosine"]


@pytest.mark.parametrize("kind", RUNS)
def test_a_resumed_run_continues_bit_for_bit(tmp_path, kind):
    N, M = 6, 5
    model, opt, sched = make_run(kind)
    train(model, opt, sched, N + M)
    uninterrupted = bits(p.data for p in model.parameters())

    model, opt, sched = make_run(kind)
    train(model, opt, sched, N)
    save(model, tmp_path / "run.json", optimizer=opt, scheduler=sched)
    del model, opt, sched

    resumed = load(tmp_path / "run.json")  # rebuilt from the file; a fresh optimizer and schedule over it,
    _, template, template_sched = make_run(kind)  # made as the first ones were
    opt = _same_optimizer(template, resumed)
    sched = _same_schedule(template_sched, opt)
    load(tmp_path / "run.json", resumed, optimizer=opt, scheduler=sched)
    train(resumed, opt, sched, M)
    assert bits(p.data for p in resumed.parameters()) == uninterrupted

    # The control: the same resume with the model's numbers alone (fresh optimizer state) drifts off.
    forgetful = load(tmp_path / "run.json")
    opt = _same_optimizer(template, forgetful)
    train(forgetful, opt, _same_schedule(template_sched, opt), M)
    assert bits(p.data for p in forgetful.parameters()) != uninterrupted


def _same_optimizer(template, model):
    """An optimizer made like `template` (fresh state) over `model`'s parameters."""
    params = model.parameters()
    groups, start = [], 0
    for group in template.param_groups:
        n = len(group["params"])
        groups.append({**{k: v for k, v in group.items() if k != "params"}, "params": params[start:start + n]})
        start += n
    return type(template)(groups)


def _same_schedule(template, opt):
    if template is None:
        return None
    settings = {k: v for k, v in template.state_dict().items() if k not in ("base_lrs", "last_epoch")}
    return type(template)(opt, **settings)


def test_optimizer_state_dict_round_trip_into_a_fresh_optimizer():
    ps = params_with([0.5, -1.0])
    opt = Adam(ps, lr=0.1)
    opt.step()
    opt.step()
    state = opt.state_dict()
    assert state["param_groups"] == [{"lr": 0.1, "betas": (0.9, 0.999), "eps": 1e-8, "weight_decay": 0.0,
                                      "params": [0, 1]}]
    assert set(state["state"]) == {0, 1} and state["state"][0]["step"] == 2
    fresh = Adam(ps, lr=0.5)
    fresh.load_state_dict(state)
    assert fresh.state_dict() == state and fresh.lr == 0.1 and fresh.t == 2


@pytest.mark.parametrize("change, error, match", [
    (lambda s: s["param_groups"][0].update(lr=-1.0), ValueError,
     r"SGD.load_state_dict: param_groups\[0\]\['lr'\] must be a number >= 0.0, got -1.0"),
    (lambda s: s["param_groups"][0].update(params=[0]), ValueError,
     r"param_groups\[0\]\['params'\] must be the indices 0 to 1 .*got \[0\]"),
    (lambda s: s["param_groups"][0].pop("nesterov"), ValueError, r"param_groups\[0\]: missing 'nesterov'"),
    (lambda s: s["param_groups"][0].update(betas=(0.9, 0.99)), ValueError, "SGD has no setting 'betas'"),
    (lambda s: s["state"].update({5: {"momentum_buffer": 1.0}}), ValueError, "'state' keys must be parameter indices"),
    (lambda s: s["state"].update({0: {"momentum_buffer": math.inf}}), ValueError,
     r"state\[0\]\['momentum_buffer'\] must be a number that is finite, got inf"),
    (lambda s: s["state"].update({0: {"exp_avg": 1.0}}), ValueError, r"state\[0\] must hold \['momentum_buffer'\]"),
    (lambda s: s.update(extra=1), ValueError, "the keys must be 'state' and 'param_groups'"),
])
def test_optimizer_load_state_dict_checks_everything_first(change, error, match):
    ps = params_with([1.0, 2.0])
    opt = SGD(ps, lr=0.1, momentum=0.9)
    opt.step()
    state = opt.state_dict()
    state["param_groups"] = [dict(g) for g in state["param_groups"]]
    state["state"] = dict(state["state"])
    before = opt.state_dict()
    change(state)
    with pytest.raises(error, match=match):
        opt.load_state_dict(state)
    assert opt.state_dict() == before


def test_schedule_state_dict_round_trip():
    opt = SGD([Value(1.0)], lr=0.8)
    sched = StepLR(opt, step_size=2, gamma=0.5)
    for _ in range(5):
        sched.step()
    assert sched.state_dict() == {"base_lrs": [0.8], "last_epoch": 5, "step_size": 2, "gamma": 0.5}
    other = StepLR(SGD([Value(1.0)], lr=0.1), step_size=1)
    other.load_state_dict(sched.state_dict())
    other.step()
    assert other.get_last_lr() == 0.1 and other.last_epoch == 6  # 0.8 * 0.5 ** 3
    with pytest.raises(ValueError, match="StepLR.load_state_dict: gamma must be a number >= 0.0, got -1"):
        other.load_state_dict({**sched.state_dict(), "gamma": -1})
    with pytest.raises(ValueError, match="last_epoch must be an int >= 0, got -1"):
        other.load_state_dict({**sched.state_dict(), "last_epoch": -1})
    assert other.last_epoch == 6


def saved_run(tmp_path):
    model, opt, sched = make_run("adamw_linear")
    train(model, opt, sched, 3)
    save(model, tmp_path / "run.json", optimizer=opt, scheduler=sched)
    return json.loads((tmp_path / "run.json").read_text())


def fresh_run():
    model, opt, sched = make_run("adamw_linear")
    return model, opt, sched, (model.state_dict(), opt.state_dict(), sched.state_dict())


def test_the_file_names_the_optimizers_parameters_by_the_models_names(tmp_path):
    doc = saved_run(tmp_path)
    assert doc["optimizer"]["type"] == "AdamW" and doc["scheduler"]["type"] == "LinearLR"
    assert doc["optimizer"]["parameters"] == list(doc["state"])
    assert doc["optimizer"]["state_dict"]["state"]["0"]["step"] == 3
    assert doc["scheduler"]["state_dict"]["last_epoch"] == 3


@pytest.mark.parametrize("change, match", [
    (lambda d: d["optimizer"].update(type="Adam"), "'optimizer' is the state of a 'Adam', not of the AdamW"),
    (lambda d: d["optimizer"]["parameters"].reverse(),
     r"'optimizer': 'parameters' names parameter 0 'layers.2.neurons.0.b', but the optimizer's parameter 0 is"
     r" 'layers.0.neurons.0.w.0'"),
    (lambda d: d["optimizer"]["parameters"].pop(), "names 43 parameters, but the optimizer has 44"),
    (lambda d: d["optimizer"]["state_dict"]["param_groups"][0].update(lr=-1),
     r"'optimizer': AdamW.load_state_dict: param_groups\[0\]\['lr'\] must be a number >= 0.0, got -1"),
    (lambda d: d["optimizer"]["state_dict"]["state"]["3"].update(exp_avg_sq=-1.0),
     r"state\[3\]\['exp_avg_sq'\] must be a number >= 0.0, got -1.0"),
    (lambda d: d["optimizer"]["state_dict"]["state"]["3"].update(step=4),
     r"every parameter's 'step' must be the same .*got \[3, 4\]"),
    (lambda d: d["optimizer"]["state_dict"]["state"].update({"x": {}}),
     "'state' keys must be parameter indices, got 'x'"),
    (lambda d: d["scheduler"]["state_dict"].update(total_iters=0),
     "'scheduler': LinearLR.load_state_dict: total_iters must be a positive int, got int: 0"),
    (lambda d: d["scheduler"].update(type="StepLR"), "'scheduler' is the state of a 'StepLR', not of the LinearLR"),
    (lambda d: d.pop("scheduler"),
     r"the file holds no scheduler state \(save it with save\(model, path, scheduler=...\)\)"),
])
def test_a_bad_training_state_leaves_model_optimizer_and_schedule_unchanged(tmp_path, change, match):
    doc = saved_run(tmp_path)
    change(doc)
    path = write(tmp_path, doc, "bad.json")
    model, opt, sched, before = fresh_run()
    refused(path, model, optimizer=opt, scheduler=sched, match=match)
    assert (model.state_dict(), opt.state_dict(), sched.state_dict()) == before


def test_load_with_an_optimizer_needs_the_model(tmp_path):
    saved_run(tmp_path)
    _, opt, _, _ = fresh_run()
    with pytest.raises(ValueError, match=r"needs the model the optimizer trains: model = load\(path\)"):
        load(tmp_path / "run.json", optimizer=opt)
    model, opt, sched, _ = fresh_run()
    with pytest.raises(ValueError, match="the scheduler drives a different optimizer"):
        load(tmp_path / "run.json", model, optimizer=SGD(model.parameters()), scheduler=sched)


def test_a_file_without_optimizer_state_says_so(tmp_path):
    model, opt, _ = make_run("adam")
    save(model, tmp_path / "m.json")
    refused(tmp_path / "m.json", model, optimizer=opt, match="the file holds no optimizer state")
    load(tmp_path / "m.json", model)  # and a file with optimizer state loads without one


def test_save_refuses_an_optimizer_over_other_parameters(tmp_path):
    model, _, _ = make_run("adam")
    with pytest.raises(ValueError, match=r"save: the optimizer's parameter 0 \(Value\(data=1.0.*is not a parameter"):
        save(model, tmp_path / "m.json", optimizer=SGD([Value(1.0)]))
    assert not (tmp_path / "m.json").exists()


# =======================================================================================
# 4. PyTorch-style param_groups
# =======================================================================================


def test_each_group_steps_with_its_own_lr_and_weight_decay():
    a, b = Value(1.0), Value(2.0)
    a.grad = b.grad = 0.5
    opt = SGD([{"params": [a], "lr": 0.1}, {"params": [b], "weight_decay": 0.25}], lr=0.01)
    assert [g["lr"] for g in opt.param_groups] == [0.1, 0.01]
    assert [g["weight_decay"] for g in opt.param_groups] == [0.0, 0.25]
    opt.step()
    assert a.data == 1.0 - 0.1 * 0.5
    assert b.data == 2.0 - 0.01 * (0.5 + 0.25 * 2.0)
    assert opt.params == [a, b]


def test_opt_lr_reads_and_writes_the_single_group():
    p = Value(1.0)
    opt = SGD([p], lr=0.5)
    assert opt.lr == 0.5 and opt.param_groups[0]["lr"] == 0.5
    opt.lr = 0.25
    assert opt.param_groups[0]["lr"] == 0.25
    with pytest.raises(ValueError, match="lr must be a number >= 0.0, got nan"):
        opt.lr = math.nan
    assert opt.lr == 0.25
    two = SGD([{"params": [Value(1.0)]}, {"params": [Value(2.0)], "lr": 0.1}], lr=0.5)
    with pytest.raises(ValueError, match=r"SGD has 2 param groups, each with its own lr: read or set"
                       r" optimizer.param_groups\[i\]\['lr'\]"):
        print(two.lr)
    with pytest.raises(ValueError, match="2 param groups"):
        two.lr = 0.1


@pytest.mark.parametrize("make, error, match", [
    (lambda p: SGD([{"params": [p], "lr": -0.5}]), ValueError, r"param_groups\[0\]\['lr'\] must be a number >= 0.0"),
    (lambda p: SGD([{"params": [p], "lrr": 0.5}]), ValueError, "SGD has no setting 'lrr' in param_groups"),
    (lambda p: SGD([{"lr": 0.5}]), ValueError, "param group 0 has no 'params'"),
    (lambda p: SGD([{"params": []}]), ValueError, "param group 0 has no parameters"),
    (lambda p: SGD([p, {"params": [p]}]), TypeError, "either Values or param group dicts, not a mix"),
    (lambda p: SGD([{"params": [p]}, {"params": [p]}]), ValueError, "got parameter 0 .* twice"),
    (lambda p: SGD(5), TypeError, "SGD needs an iterable of Values or of param group dicts, got int: 5"),
    (lambda p: SGD([{"params": [p], "nesterov": True}], momentum=0.0), ValueError,
     r"param_groups\[0\]: nesterov needs momentum > 0"),
    (lambda p: Adam([{"params": [p], "betas": (0.9, 1.0)}]), ValueError,
     r"param_groups\[0\]\['betas'\]\[1\] must be a number in \[0.0, 1.0\)"),
])
def test_param_groups_are_checked(make, error, match):
    with pytest.raises(error, match=match):
        make(Value(1.0))


def test_schedules_scale_each_groups_starting_rate():
    opt = SGD([{"params": [Value(1.0)], "lr": 0.8}, {"params": [Value(2.0)]}], lr=0.1)
    sched = StepLR(opt, step_size=2, gamma=0.5)
    seen = []
    for _ in range(5):
        seen.append([g["lr"] for g in opt.param_groups])
        sched.step()
    assert seen == [[0.8, 0.1], [0.8, 0.1], [0.4, 0.05], [0.4, 0.05], [0.2, 0.025]]
    assert sched.base_lrs == [0.8, 0.1] and sched.lr_at(4, group=1) == 0.025


SCHEDULES = [
    (StepLR, "StepLR", dict(step_size=3, gamma=0.5)),
    (LinearLR, "LinearLR", dict(start_factor=1.0, end_factor=0.1, total_iters=10)),
    (CosineAnnealingLR, "CosineAnnealingLR", dict(T_max=10, eta_min=0.001)),
]


@pytest.mark.parametrize("ours, name, kwargs", SCHEDULES)
def test_param_group_schedules_match_pytorchs_lr_sequence(ours, name, kwargs):
    torch = pytest.importorskip("torch")
    opt = SGD([{"params": [Value(1.0)], "lr": 0.3}, {"params": [Value(2.0)]}], lr=0.05)
    sched = ours(opt, **kwargs)
    t1, t2 = (torch.zeros(1, requires_grad=True) for _ in range(2))
    ref = torch.optim.SGD([{"params": [t1], "lr": 0.3}, {"params": [t2]}], lr=0.05)
    ref_sched = getattr(torch.optim.lr_scheduler, name)(ref, **kwargs)
    for _ in range(11):  # to T_max: past it PyTorch's cosine rises again, ours stays at eta_min (no restarts)
        assert [g["lr"] for g in opt.param_groups] == pytest.approx([g["lr"] for g in ref.param_groups], rel=1e-12)
        ref.step()
        ref_sched.step()
        sched.step()


@pytest.mark.parametrize("ours, name, kwargs", [
    (SGD, "SGD", dict(lr=0.1, momentum=0.9)),
    (Adam, "Adam", dict(lr=0.05)),
    (AdamW, "AdamW", dict(lr=0.05)),
])
def test_param_groups_match_pytorch_on_a_quadratic(ours, name, kwargs):
    torch = pytest.importorskip("torch")
    start, target = [1.5, -0.5, 2.0], [0.3, 0.7, -1.0]
    ps = [Value(x) for x in start]
    groups = [{"params": ps[:2], "lr": 0.02, "weight_decay": 0.1}, {"params": ps[2:]}]
    opt = ours(groups, **kwargs)
    ts = [torch.tensor([x], dtype=torch.float64, requires_grad=True) for x in start]
    ref = getattr(torch.optim, name)([{"params": ts[:2], "lr": 0.02, "weight_decay": 0.1}, {"params": ts[2:]}],
                                     foreach=False, **kwargs)
    for _ in range(15):
        opt.zero_grad()
        sum((p - c) ** 2 * (i + 1) for i, (p, c) in enumerate(zip(ps, target))).backward()
        opt.step()
        ref.zero_grad()
        sum((t - c) ** 2 * (i + 1) for i, (t, c) in enumerate(zip(ts, target))).sum().backward()
        ref.step()
    assert [p.data for p in ps] == pytest.approx([t.item() for t in ts], rel=1e-12, abs=1e-14)
    ours_layout = opt.state_dict()["param_groups"]
    theirs = ref.state_dict()["param_groups"]
    assert [g["params"] for g in ours_layout] == [g["params"] for g in theirs]
    assert [g["lr"] for g in ours_layout] == [g["lr"] for g in theirs]


# =======================================================================================
# 5. BatchNorm1d(affine=False, track_running_stats=False), and a batch of one
# =======================================================================================

BATCH = [[0.5, -1.0, 2.0], [1.5, 0.0, -2.0], [-0.5, 3.0, 0.0], [2.0, 1.0, 1.0]]


def normalised(batch, eps=1e-5):
    n = len(batch)
    out = [[0.0] * len(batch[0]) for _ in batch]
    for j in range(len(batch[0])):
        col = [row[j] for row in batch]
        mu = sum(col) / n
        var = sum((x - mu) ** 2 for x in col) / n
        for i, x in enumerate(col):
            out[i][j] = (x - mu) / math.sqrt(var + eps)
    return out


def test_affine_false_has_no_parameters_and_only_normalises():
    bn = BatchNorm1d(3, affine=False)
    assert bn.weight is None and bn.bias is None and bn.parameters() == []
    assert list(bn.state_dict()) == [f"running_{s}.{i}" for s in ("mean", "var") for i in range(3)]
    out = bn.batch(BATCH)
    for row, ref in zip(out, normalised(BATCH)):
        assert [v.data for v in row] == pytest.approx(ref, rel=1e-14, abs=1e-15)
    assert repr(bn) == "BatchNorm1d(3, affine=False)"
    with_affine = BatchNorm1d(3)  # gamma 1, beta 0: the same numbers, up to rounding of 1 * y + 0
    assert [v.data for row in with_affine.batch(BATCH) for v in row] == [v.data for row in out for v in row]


def test_track_running_stats_false_uses_the_batch_statistics_in_eval_too():
    bn = BatchNorm1d(3, track_running_stats=False)
    assert bn.running_mean is None and bn.running_var is None and list(bn.named_buffers()) == []
    training = [v.data for row in bn.batch(BATCH) for v in row]
    bn.eval()
    evaluation = [v.data for row in bn.batch(BATCH) for v in row]
    assert evaluation == training
    with pytest.raises(ValueError, match=r"with track_running_stats=False \(even in evaluation mode\), so it needs the"
                       r" whole batch: call bn.batch\(X\) \(or model.batch\(X\)\)$"):
        bn([1.0, 2.0, 3.0])
    assert repr(bn) == "BatchNorm1d(3, track_running_stats=False)"


def test_a_batch_of_one_is_refused_with_pytorchs_words():
    bn = BatchNorm1d(3)
    with pytest.raises(ValueError) as raised:
        bn.batch([[1.0, 2.0, 3.0]])
    assert str(raised.value) == (
        "BatchNorm1d(3): expected more than 1 value per channel when training, got input size (1, 3): batch"
        " statistics need at least 2 samples per batch, got 1 (one sample's variance is 0: every output would be"
        " the bias, whatever the input); drop a final batch of one, or call model.eval() to use the running"
        " statistics"
    )
    bn.eval()
    assert len(bn.batch([[1.0, 2.0, 3.0]])) == 1  # evaluation mode uses the running statistics
    no_stats = BatchNorm1d(3, track_running_stats=False).eval()
    with pytest.raises(ValueError, match=r"got input size \(1, 3\).*drop a final batch of one$"):
        no_stats.batch([[1.0, 2.0, 3.0]])  # no running statistics to fall back on, as in PyTorch
    with pytest.raises(ValueError, match=r"got input size \(0, 3\)"):
        BatchNorm1d(3).batch([])


def test_batchnorm_options_must_be_bools():
    with pytest.raises(ValueError, match="affine must be a bool, got str: 'no'"):
        BatchNorm1d(2, affine="no")
    with pytest.raises(ValueError, match="track_running_stats must be a bool, got int: 0"):
        BatchNorm1d(2, track_running_stats=0)
    with pytest.raises(ValueError, match="eps must be a positive number, got inf"):
        BatchNorm1d(2, eps=math.inf)


@pytest.mark.parametrize("affine, track", [(False, True), (True, False), (False, False)])
def test_batchnorm_options_match_pytorch(affine, track):
    torch = pytest.importorskip("torch")
    bn = BatchNorm1d(3, momentum=0.2, affine=affine, track_running_stats=track)
    ref = torch.nn.BatchNorm1d(3, momentum=0.2, affine=affine, track_running_stats=track).double()
    leaves = [[Value(v) for v in row] for row in BATCH]
    out = bn.batch(leaves)
    sum(y * y * (j + 1) for row in out for j, y in enumerate(row)).backward()
    x = torch.tensor(BATCH, dtype=torch.float64, requires_grad=True)
    y = ref(x)
    (y * y * torch.tensor([1.0, 2.0, 3.0], dtype=torch.float64)).sum().backward()
    assert [v.data for row in out for v in row] == pytest.approx(y.flatten().tolist(), rel=1e-12, abs=1e-14)
    assert [v.grad for row in leaves for v in row] == pytest.approx(x.grad.flatten().tolist(), rel=1e-10, abs=1e-12)
    assert len(bn.parameters()) == len(list(ref.parameters())) * 3
    assert (bn.running_mean is None) == (ref.running_mean is None)
    bn.eval()
    ref.eval()
    sample = [[0.1, 0.2, 0.3], [1.0, -1.0, 0.5]]
    with torch.no_grad():
        expected = ref(torch.tensor(sample, dtype=torch.float64)).flatten().tolist()
    assert [v.data for row in bn.batch(sample) for v in row] == pytest.approx(expected, rel=1e-12, abs=1e-14)
