"""Save a model to a JSON file and load it back: the architecture and every number.

    save(model, "moons.json")
    model = load("moons.json")            # rebuilt from the file alone
    load("moons.json", model)             # or: into a model you built yourself

The file is plain JSON (never pickle: loading a file only ever reads numbers and names, it
cannot run code). Floats are written with `repr`, so they come back bit for bit. A file that
is malformed or does not fit the model raises `ModelFileError`, naming the file and what is
wrong, and the model is left exactly as it was: everything is checked before anything is set.

    {"format": "micrograd", "version": 1,
     "architecture": {"type": "MLP", "nin": 2, "nouts": [16, 16, 1], ...},
     "state": {"layers.0.neurons.0.w.0": 0.2364..., ...}}

The architecture can describe `MLP`, `Layer`, `Neuron`, `BatchNorm1d`, `Activation` and
`Sequential` of those; for other modules `save` writes `"architecture": null` and the file
can only be loaded into a model you pass in.
"""

from __future__ import annotations

import json
import os
import random
import tempfile
from typing import Any, Callable, Dict, List, Optional, Tuple, Union

from ..nn import MLP, Activation, BatchNorm1d, Layer, Module, Neuron, Sequential

__all__ = ["save", "load", "describe", "build", "ModelFileError", "FORMAT", "VERSION"]

FORMAT = "micrograd"
VERSION = 1
PathLike = Union[str, "os.PathLike[str]"]
Spec = Dict[str, Any]


class ModelFileError(ValueError):
    """A model file (or architecture description) that is malformed or does not fit."""


# ---------------------------------------------------------------------------------------
# Architecture: a module <-> a small JSON-ready dict
# ---------------------------------------------------------------------------------------

def _uniform(module: Module, what: str, values: List[Any]) -> Any:
    if len(set(values)) != 1:
        raise ModelFileError(f"cannot describe {module!r}: its {what} differ ({sorted(set(map(str, values)))})")
    return values[0]


def _layer_activation(layer: Layer) -> str:
    return str(_uniform(layer, "neurons' activations", [n.activation for n in layer.neurons]))


def describe(module: Module) -> Spec:
    """The architecture of `module` as a JSON-ready dict that `build` turns back into an
    equivalent module (with fresh weights). Raises ModelFileError for modules it cannot describe."""
    if isinstance(module, Neuron):
        return {"type": "Neuron", "nin": len(module.w), "activation": module.activation, "fused": module.fused}
    if isinstance(module, Layer):
        neurons = module.neurons
        fused = _uniform(module, "neurons' fused settings", [n.fused for n in neurons])
        nin = len(neurons[0].w)
        return {
            "type": "Layer",
            "nin": nin,
            "nout": len(neurons),
            "activation": _layer_activation(module),
            "fused": fused,
        }
    if isinstance(module, MLP):
        layers = [describe(layer) for layer in module.layers]
        hidden = [spec["activation"] for spec in layers[:-1]]
        return {
            "type": "MLP",
            "nin": layers[0]["nin"],
            "nouts": [spec["nout"] for spec in layers],
            "activation": _uniform(module, "hidden layers' activations", hidden) if hidden else "relu",
            "output_activation": layers[-1]["activation"],
            "fused": _uniform(module, "layers' fused settings", [spec["fused"] for spec in layers]),
        }
    if isinstance(module, BatchNorm1d):
        return {
            "type": "BatchNorm1d",
            "num_features": len(module.weight),
            "eps": module.eps,
            "momentum": module.momentum,
        }
    if isinstance(module, Activation):
        return {"type": "Activation", "name": module.name}
    if isinstance(module, Sequential):
        return {"type": "Sequential", "modules": [describe(m) for m in module.layers]}
    raise ModelFileError(
        f"cannot describe a {type(module).__name__}: only MLP, Layer, Neuron, BatchNorm1d, Activation and"
        " Sequential are known; save(model, path, architecture=False) saves the numbers alone"
    )


def _field(spec: Spec, key: str, kind: Callable[[Any], bool], expected: str, where: str) -> Any:
    if key not in spec:
        raise ModelFileError(f"{where}: missing {key!r}")
    v = spec[key]
    if not kind(v):
        raise ModelFileError(f"{where}: {key!r} must be {expected}, got {type(v).__name__}: {v!r}")
    return v


_Check = Tuple[Callable[[Any], bool], str]  # (is the value right?, what it must be, for the error)

_POSITIVE_INT: _Check = (lambda v: isinstance(v, int) and not isinstance(v, bool) and v >= 1, "a positive int")
_NUMBER: _Check = (lambda v: isinstance(v, (int, float)) and not isinstance(v, bool), "a number")
_STR: _Check = (lambda v: isinstance(v, str), "a str")
_BOOL: _Check = (lambda v: isinstance(v, bool), "a bool")
_SIZES: _Check = (lambda v: isinstance(v, list) and len(v) > 0 and all(map(_POSITIVE_INT[0], v)),
                "a non-empty list of positive ints")
_MODULES: _Check = (lambda v: isinstance(v, list) and len(v) > 0, "a non-empty list")

# type -> the keys its description must have, and what each must be
_FIELDS: Dict[str, Dict[str, _Check]] = {
    "Neuron": {"nin": _POSITIVE_INT, "activation": _STR, "fused": _BOOL},
    "Layer": {"nin": _POSITIVE_INT, "nout": _POSITIVE_INT, "activation": _STR, "fused": _BOOL},
    "MLP": {"nin": _POSITIVE_INT, "nouts": _SIZES, "activation": _STR, "output_activation": _STR, "fused": _BOOL},
    "BatchNorm1d": {"num_features": _POSITIVE_INT, "eps": _NUMBER, "momentum": _NUMBER},
    "Activation": {"name": _STR},
    "Sequential": {"modules": _MODULES},
}


def _check_spec(spec: Any, where: str) -> Spec:
    """Check the shape of a description (types and keys) before anything is built."""
    if not isinstance(spec, dict):
        raise ModelFileError(f"{where} must be an object, got {type(spec).__name__}: {spec!r}")
    kind = spec.get("type")
    if kind not in _FIELDS:
        raise ModelFileError(f"{where}: 'type' must be one of {sorted(_FIELDS)}, got {kind!r}")
    fields = _FIELDS[kind]
    unexpected = sorted(set(spec) - set(fields) - {"type"})
    if unexpected:
        raise ModelFileError(f"{where}: unexpected keys {unexpected} for a {kind}")
    for key, (is_ok, expected) in fields.items():
        _field(spec, key, is_ok, expected, where)
    if kind == "Sequential":
        for i, sub in enumerate(spec["modules"]):
            _check_spec(sub, f"{where}.modules[{i}]")
    return spec


def _state_size(spec: Spec) -> int:
    """How many numbers a module of this description has in its state_dict."""
    kind = spec["type"]
    if kind == "Neuron":
        return int(spec["nin"]) + 1
    if kind == "Layer":
        return (int(spec["nin"]) + 1) * int(spec["nout"])
    if kind == "MLP":
        sizes: List[int] = [spec["nin"], *spec["nouts"]]
        return sum((a + 1) * b for a, b in zip(sizes, sizes[1:]))
    if kind == "BatchNorm1d":
        return 4 * int(spec["num_features"])
    if kind == "Activation":
        return 0
    return sum(_state_size(sub) for sub in spec["modules"])


def build(spec: Spec) -> Module:
    """A new module from a description made by `describe` (weights freshly initialised, from
    a private generator: building never moves Python's global `random`)."""
    _check_spec(spec, "architecture")
    return _build(spec, random.Random(0), "architecture")


def _build(spec: Spec, rng: random.Random, where: str) -> Module:
    kind = spec["type"]
    try:
        if kind == "Neuron":
            return Neuron(spec["nin"], activation=spec["activation"], fused=spec["fused"], rng=rng)
        if kind == "Layer":
            return Layer(spec["nin"], spec["nout"], activation=spec["activation"], fused=spec["fused"], rng=rng)
        if kind == "MLP":
            return MLP(
                spec["nin"],
                spec["nouts"],
                activation=spec["activation"],
                output_activation=spec["output_activation"],
                fused=spec["fused"],
                rng=rng,
            )
        if kind == "BatchNorm1d":
            return BatchNorm1d(spec["num_features"], eps=spec["eps"], momentum=spec["momentum"])
        if kind == "Activation":
            return Activation(spec["name"])
        return Sequential(*(_build(sub, rng, f"{where}.modules[{i}]") for i, sub in enumerate(spec["modules"])))
    except (TypeError, ValueError) as e:
        if isinstance(e, ModelFileError):
            raise
        raise ModelFileError(f"{where}: {e}") from None


# ---------------------------------------------------------------------------------------
# Files
# ---------------------------------------------------------------------------------------

def save(model: Module, path: PathLike, *, architecture: bool = True) -> None:
    """Write the model's architecture (unless `architecture=False`) and `state_dict()` to a
    JSON file. The file is written to a temporary name first, so a failed save never leaves
    a half-written file behind."""
    if not isinstance(model, Module):
        raise TypeError(f"save needs a Module, got {type(model).__name__}: {model!r}")
    document = {
        "format": FORMAT,
        "version": VERSION,
        "architecture": describe(model) if architecture else None,
        "state": model.state_dict(),
    }
    text = json.dumps(document, indent=1, allow_nan=False)  # repr floats: exact round trip
    directory = os.path.dirname(os.path.abspath(os.fspath(path)))
    fd, tmp = tempfile.mkstemp(prefix=".micrograd-", suffix=".json", dir=directory)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text + "\n")
        # mkstemp makes the file private (0600); give it the mode open() would have.
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def _reject_constant(name: str) -> None:
    raise ValueError(f"{name} is not a number JSON allows")


def _no_duplicate_keys(pairs: List[Tuple[str, Any]]) -> Dict[str, Any]:
    d: Dict[str, Any] = {}
    for k, v in pairs:
        if k in d:
            raise ValueError(f"the key {k!r} appears twice")
        d[k] = v
    return d


def load(path: PathLike, model: Optional[Module] = None) -> Module:
    """Read a model file written by `save`.

    Without `model`, build the model the file describes and return it. With `model`, check
    that it has the file's architecture and load the numbers into it (and return it).
    Raises ModelFileError naming the file and the problem; the model is then unchanged.
    """
    if model is not None and not isinstance(model, Module):
        raise TypeError(f"load needs a Module to load into (or None), got {type(model).__name__}: {model!r}")
    with open(path, encoding="utf-8") as f:
        text = f.read()
    try:
        return _load_document(text, model)
    except ModelFileError as e:
        raise ModelFileError(f"{os.fspath(path)}: {e}") from None


def _load_document(text: str, model: Optional[Module]) -> Module:
    try:
        doc = json.loads(text, parse_constant=_reject_constant, object_pairs_hook=_no_duplicate_keys)
    except ValueError as e:  # json.JSONDecodeError is a ValueError
        raise ModelFileError(f"not valid JSON: {e}") from None
    if not isinstance(doc, dict):
        raise ModelFileError(f"the file must hold a JSON object, got {type(doc).__name__}")
    if doc.get("format") != FORMAT:
        raise ModelFileError(f"not a micrograd model file ('format' is {doc.get('format')!r}, expected {FORMAT!r})")
    if doc.get("version") != VERSION:
        raise ModelFileError(f"unsupported version {doc.get('version')!r} (this micrograd reads version {VERSION})")
    unexpected = sorted(set(doc) - {"format", "version", "architecture", "state"})
    if unexpected:
        raise ModelFileError(f"unexpected top-level keys {unexpected}")
    for key in ("architecture", "state"):
        if key not in doc:
            raise ModelFileError(f"missing {key!r}")
    spec, state = doc["architecture"], doc["state"]
    if not isinstance(state, dict):
        raise ModelFileError(f"'state' must be an object of name -> number, got {type(state).__name__}")
    if spec is not None:
        _check_spec(spec, "architecture")
        if _state_size(spec) != len(state):
            raise ModelFileError(
                f"the architecture ({spec['type']}) has {_state_size(spec)} numbers but 'state' holds {len(state)}"
            )
    if model is None:
        if spec is None:
            raise ModelFileError(
                "the file has no architecture (saved with architecture=False): pass the model to load into"
            )
        target = _build(spec, random.Random(0), "architecture")
    else:
        target = model
        if spec is not None:
            try:
                own = describe(model)
            except ModelFileError:
                own = None  # a model we cannot describe: the state's names and count still must match
            if own is not None and own != spec:
                raise ModelFileError(f"the file's architecture {spec} does not match the model's {own}")
    try:
        target.load_state_dict(state)
    except (TypeError, ValueError) as e:
        raise ModelFileError(f"'state': {e}") from None
    return target
