"""state_dict / load_state_dict and JSON model files: exact round trips, clean errors, no half-loads."""

from __future__ import annotations

import json
import random
import struct

import pytest

from micrograd.nn import MLP, Activation, BatchNorm1d, Layer, Module, Neuron, Sequential
from micrograd.training.serialize import ModelFileError, build, describe, load, save


def bits(state):
    """Every float as its IEEE-754 bit pattern, so -0.0 != 0.0 and nothing is approximate."""
    return {k: struct.pack("<d", v) for k, v in state.items()}


def awkward_numbers(model, seed=0):
    """Give the model floats that a lossy format would change: -0.0, subnormals, huge, many digits."""
    rng = random.Random(seed)
    specials = [-0.0, 5e-324, -2.2250738585072014e-308, 1.7976931348623157e308, 0.1, 1 / 3]
    for i, (name, p) in enumerate(list(model.named_parameters()) + list(model.named_buffers())):
        p.data = specials[i] if i < len(specials) else rng.uniform(-1, 1) * 10 ** rng.randint(-20, 20)
        if ".running_var." in f".{name}":
            p.data = abs(p.data)  # a variance: load refuses a negative one
    return model


def bn_model():
    random.seed(2)
    return Sequential(Layer(2, 3, nonlin=False), BatchNorm1d(3), Activation("tanh"), Layer(3, 1, nonlin=False))


MODELS = {
    "mlp": lambda: MLP(2, [16, 16, 1]),
    "mlp_tanh_unfused": lambda: MLP(3, [4, 2], activation="tanh", output_activation="sigmoid", fused=False),
    "layer": lambda: Layer(3, 2, activation="sigmoid"),
    "neuron": lambda: Neuron(4, nonlin=False),
    "sequential_bn": bn_model,
}


# --- state_dict --------------------------------------------------------------------------


def test_state_dict_names_every_parameter_and_buffer_with_copies_of_the_floats():
    model = Sequential(Layer(1, 1), BatchNorm1d(1))
    state = model.state_dict()
    assert state == {
        "0.neurons.0.w.0": model[0].neurons[0].w[0].data,
        "0.neurons.0.b": 0.0,
        "1.weight.0": 1.0,
        "1.bias.0": 0.0,
        "1.running_mean.0": 0.0,
        "1.running_var.0": 1.0,
    }
    state["1.weight.0"] = 7.0
    assert model[1].weight[0].data == 1.0


def test_mlp_state_dict_uses_the_named_parameters_order():
    random.seed(1337)
    model = MLP(2, [16, 16, 1])
    assert list(model.state_dict()) == [name for name, _ in model.named_parameters()]
    assert list(model.state_dict().values()) == [p.data for p in model.parameters()]


@pytest.mark.parametrize("name", sorted(MODELS))
def test_load_state_dict_round_trip_is_bit_exact(name):
    source = awkward_numbers(MODELS[name]())
    target = MODELS[name]()
    target.load_state_dict(source.state_dict())
    assert bits(target.state_dict()) == bits(source.state_dict())


@pytest.mark.parametrize(
    "change, error, message",
    [
        (lambda s: s.pop("layers.1.neurons.0.b"), ValueError, r"missing \['layers.1.neurons.0.b'\], unexpected none"),
        (lambda s: s.update(extra=1.0), ValueError, r"missing none, unexpected \['extra'\]"),
        (
            lambda s: s.update({"layers.0.neurons.0.w.1": "0.5"}),
            TypeError,
            "'layers.0.neurons.0.w.1' must be a real number, got str: '0.5'",
        ),
        (lambda s: s.update({"layers.0.neurons.0.w.1": True}), TypeError, "must be a real number, got bool: True"),
        (
            lambda s: s.update({"layers.2.neurons.0.b": float("nan")}),
            ValueError,
            "'layers.2.neurons.0.b' must be finite, got nan",
        ),
    ],
)
def test_load_state_dict_errors_name_the_entry_and_change_nothing(change, error, message):
    random.seed(0)
    model = MLP(2, [3, 2, 1])
    before = bits(model.state_dict())
    state = {k: v + 1.0 for k, v in model.state_dict().items()}
    change(state)
    with pytest.raises(error, match=message):
        model.load_state_dict(state)
    assert bits(model.state_dict()) == before


def test_load_state_dict_needs_a_mapping():
    with pytest.raises(TypeError, match="needs a dict of name -> number, got list"):
        Neuron(2).load_state_dict([1.0, 2.0, 3.0])


# --- files -------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(MODELS))
def test_saved_model_is_rebuilt_from_the_file_alone_bit_exact(name, tmp_path):
    model = awkward_numbers(MODELS[name]())
    path = tmp_path / "model.json"
    save(model, path)
    rebuilt = load(path)
    assert type(rebuilt) is type(model) and repr(rebuilt) == repr(model)
    assert describe(rebuilt) == describe(model)
    assert bits(rebuilt.state_dict()) == bits(model.state_dict())


def test_rebuilt_model_computes_the_same_numbers(tmp_path):
    random.seed(1337)
    model = MLP(2, [16, 16, 1])
    save(model, tmp_path / "m.json")
    random.seed(99)
    state = random.getstate()
    rebuilt = load(tmp_path / "m.json")
    assert random.getstate() == state  # building the model did not draw from the global random
    x = [0.3, -1.2]
    assert rebuilt(x).data == model(x).data


def test_load_into_an_existing_model_and_the_file_is_plain_json(tmp_path):
    model = bn_model()
    awkward_numbers(model)
    save(model, tmp_path / "m.json")
    doc = json.loads((tmp_path / "m.json").read_text())
    assert doc["format"] == "micrograd" and doc["version"] == 1
    assert doc["architecture"]["modules"][1] == {"type": "BatchNorm1d", "num_features": 3, "eps": 1e-5, "momentum": 0.1,
                                                 "affine": True, "track_running_stats": True}
    other = bn_model()
    assert load(tmp_path / "m.json", other) is other
    assert bits(other.state_dict()) == bits(model.state_dict())


def test_a_custom_module_saves_its_numbers_and_loads_into_a_model(tmp_path):
    class Pair(Module):
        def __init__(self):
            self.a, self.b = Neuron(2), Neuron(2)

        def parameters(self):
            return self.a.parameters() + self.b.parameters()

    model = awkward_numbers(Pair())
    with pytest.raises(ModelFileError, match="cannot describe a Pair"):
        save(model, tmp_path / "p.json")
    save(model, tmp_path / "p.json", architecture=False)
    with pytest.raises(ModelFileError, match="no architecture .* pass the model to load into"):
        load(tmp_path / "p.json")
    other = load(tmp_path / "p.json", Pair())
    assert bits(other.state_dict()) == bits(model.state_dict())


def test_build_makes_fresh_modules_from_a_description():
    model = build({"type": "MLP", "nin": 2, "nouts": [3, 1], "activation": "tanh", "output_activation": "linear",
                   "fused": True})
    assert repr(model) == "MLP of [Layer of [TanhNeuron(2), TanhNeuron(2), TanhNeuron(2)], Layer of [LinearNeuron(3)]]"


def good_file():
    random.seed(3)
    model = MLP(2, [3, 1])
    return model, {
        "format": "micrograd",
        "version": 1,
        "architecture": describe(model),
        "state": {k: v * 2 for k, v in model.state_dict().items()},
    }


def edit(change):
    """A good file's JSON text after `change(document)` (a function that edits the dict)."""

    def make():
        _, doc = good_file()
        change(doc)
        return json.dumps(doc)

    return make


def _set(path, value):
    def change(doc):
        *outer, last = path
        for key in outer:
            doc = doc[key]
        doc[last] = value

    return change


def _delete(path):
    def change(doc):
        *outer, last = path
        for key in outer:
            doc = doc[key]
        del doc[last]

    return change


MALFORMED = [
    ("truncated json", lambda: json.dumps(good_file()[1])[:-10], "not valid JSON"),
    ("empty file", lambda: "", "not valid JSON"),
    ("nan literal", edit(_set(["state", "layers.0.neurons.0.b"], float("nan"))), "NaN is not a number JSON allows"),
    ("infinity literal", edit(_set(["state", "layers.0.neurons.0.b"], float("-inf"))), "-Infinity is not a number"),
    ("duplicate key", lambda: json.dumps(good_file()[1])[:-1] + ', "version": 1}', "the key 'version' appears twice"),
    ("a list", lambda: "[1, 2]", "must hold a JSON object, got list"),
    ("wrong format", edit(_set(["format"], "pickle")), "not a micrograd model file"),
    ("wrong version", edit(_set(["version"], 2)), "unsupported version 2"),
    ("extra top-level key", edit(_set(["extra"], 1)), r"unexpected top-level keys \['extra'\]"),
    ("missing state", edit(_delete(["state"])), "missing 'state'"),
    ("missing architecture", edit(_delete(["architecture"])), "missing 'architecture'"),
    ("state not an object", edit(_set(["state"], [1.0])), "'state' must be an object"),
    ("missing parameter", edit(_delete(["state", "layers.1.neurons.0.b"])), "has 13 numbers but 'state' holds 12"),
    ("renamed parameter", edit(lambda d: d["state"].update({"bogus": d["state"].pop("layers.0.neurons.0.b")})),
     r"missing \['layers.0.neurons.0.b'\], unexpected \['bogus'\]"),
    ("string number", edit(_set(["state", "layers.0.neurons.1.w.0"], "1.5")),
     "'layers.0.neurons.1.w.0' must be a real number, got str: '1.5'"),
    ("null number", edit(_set(["state", "layers.0.neurons.1.w.0"], None)), "must be a real number, got NoneType"),
    ("bool number", edit(_set(["state", "layers.0.neurons.1.w.0"], True)), "must be a real number, got bool"),
    ("list number", edit(_set(["state", "layers.0.neurons.1.w.0"], [1.0])), "must be a real number, got list"),
    (
        "wrong shape",
        edit(_set(["architecture", "nouts"], [4, 1])),
        "the architecture \\(MLP\\) has 17 numbers but 'state' holds 13",
    ),
    ("unknown type", edit(_set(["architecture", "type"], "Transformer")), "'type' must be one of"),
    (
        "nouts not ints",
        edit(_set(["architecture", "nouts"], [3.0, 1])),
        "'nouts' must be a non-empty list of positive ints",
    ),
    ("fused not bool", edit(_set(["architecture", "fused"], "yes")), "'fused' must be a bool, got str: 'yes'"),
    ("missing nin", edit(_delete(["architecture", "nin"])), "architecture: missing 'nin'"),
    (
        "unknown activation",
        edit(_set(["architecture", "activation"], "swish")),
        "architecture: 'activation' must be one of .*got str: 'swish'",  # checked before the model is compared
    ),
    ("architecture a list", edit(_set(["architecture"], [])), "architecture must be an object, got list"),
]


@pytest.mark.parametrize("case, make_text, message", MALFORMED, ids=[c[0] for c in MALFORMED])
def test_malformed_file_errors_cleanly_and_leaves_the_model_untouched(case, make_text, message, tmp_path):
    model, _ = good_file()
    before = bits(model.state_dict())
    path = tmp_path / "bad.json"
    path.write_text(make_text())
    with pytest.raises(ModelFileError, match=message) as raised:
        load(path, model)
    assert str(path) in str(raised.value)  # the error names the file
    assert bits(model.state_dict()) == before
    with pytest.raises(ModelFileError):
        load(path)  # and the same file cannot be rebuilt either


def test_unbuildable_architecture_names_the_problem(tmp_path):
    path = tmp_path / "bad.json"
    path.write_text(edit(_set(["architecture", "activation"], "swish"))())
    with pytest.raises(ModelFileError, match="architecture: 'activation' must be one of .*got str: 'swish'"):
        load(path)


def test_good_file_loads_into_the_model(tmp_path):
    # The control for the table above: unedited, the same document loads.
    model, doc = good_file()
    path = tmp_path / "good.json"
    path.write_text(json.dumps(doc))
    load(path, model)
    assert model.state_dict() == doc["state"]


def test_mismatched_architecture_names_both(tmp_path):
    random.seed(0)
    save(MLP(2, [4, 1]), tmp_path / "a.json")
    model = MLP(2, [3, 1])
    with pytest.raises(ModelFileError, match=r"'nouts': \[4, 1\].*does not match the model's.*'nouts': \[3, 1\]"):
        load(tmp_path / "a.json", model)


def test_saved_file_gets_the_ordinary_mode_not_the_temporary_files_private_one(tmp_path):
    import os
    import stat

    from micrograd.nn import MLP
    from micrograd.training.serialize import save

    umask = os.umask(0o022)
    try:
        save(MLP(2, [2, 1]), tmp_path / "m.json")
        (tmp_path / "plain.txt").write_text("x")
    finally:
        os.umask(umask)
    mode = stat.S_IMODE((tmp_path / "m.json").stat().st_mode)
    assert mode == stat.S_IMODE((tmp_path / "plain.txt").stat().st_mode) == 0o644
