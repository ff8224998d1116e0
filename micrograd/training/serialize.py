"""Save a model to a JSON file and load it back: the architecture and every number, and, to
resume training, the optimizer's and the schedule's state.

    save(model, "moons.json")
    model = load("moons.json")            # rebuilt from the file alone
    load("moons.json", model)             # or: into a model you built yourself

    save(model, "run.json", optimizer=opt, scheduler=sched)      # mid-training
    load("run.json", model, optimizer=opt, scheduler=sched)      # into fresh ones: the run
                                                                 # continues bit for bit

The file is plain JSON (never pickle: loading a file only ever reads numbers and names, it
cannot run code). Floats are written with `repr`, so they come back bit for bit.

    {"format": "micrograd", "version": 1,
     "architecture": {"type": "MLP", "nin": 2, "nouts": [16, 16, 1], ...},
     "state": {"layers.0.neurons.0.w.0": 0.2364..., ...},
     "optimizer": {"type": "SGD", "parameters": ["layers.0.neurons.0.w.0", ...],
                   "state_dict": {"state": {"0": {"momentum_buffer": ...}, ...}, "param_groups": [...]}},
     "scheduler": {"type": "LinearLR", "state_dict": {"base_lrs": [...], "last_epoch": 40, ...}}}

The architecture can describe `MLP`, `Layer`, `Neuron`, `BatchNorm1d`, `Activation` and
`Sequential` of those; for other modules `save` writes `"architecture": null` and the file
can only be loaded into a model you pass in. The optimizer's parameters are named by the
model's state names, so loading checks that the optimizer trains the same parameters in the
same order.

Loading trusts nothing in the file. Any problem raises `ModelFileError`, naming the file and
what is wrong, and the model, optimizer and schedule are left exactly as they were:
everything is checked before anything is set. In order:

- the size (at most `max_bytes`, checked before reading), UTF-8, and, before the JSON parser
  runs, the number of objects and lists (a model file has at most one per 16 characters);
  then the nesting depth (at most MAX_DEPTH), before anything walks the document. Rejecting
  a file costs at most some 16 times its size in memory (a legitimate one: about 6);
- JSON: no NaN or Infinity, no number beyond a float, no integer of more than 18 digits, no
  key twice;
- the document's keys, format and version;
- the architecture: each type's keys, and each value's type and range (sizes positive ints,
  activation names, BatchNorm1d's `eps` finite and > 0, `momentum` in [0, 1], flags bools);
- the state's names against the architecture, before the model is built, and each number
  (finite; a BatchNorm1d `running_var` >= 0);
- the optimizer's and schedule's sections, as their `load_state_dict` checks them.
"""

from __future__ import annotations

import json
import math
import os
import random
import tempfile
from typing import Any, Callable, Dict, Iterator, List, Optional, Tuple, Union

from ..arguments import flag, positive_int, real
from ..nn import ACTIVATIONS, MLP, Activation, BatchNorm1d, Layer, Module, Neuron, Sequential
from .optim import LRScheduler, Optimizer

__all__ = ["save", "load", "describe", "build", "ModelFileError", "FORMAT", "VERSION", "MAX_BYTES", "MAX_DEPTH"]

FORMAT = "micrograd"
VERSION = 1
MAX_BYTES = 64 * 1024 * 1024  # load's default limit: about a million numbers, far beyond a scalar engine's models
MAX_DEPTH = 64  # objects and lists inside each other; a model file needs 2 per nested Sequential, plus 6
PathLike = Union[str, "os.PathLike[str]"]
Spec = Dict[str, Any]

# The fewest characters a model file spends per object or list: 25 for the smallest optimizer
# state entry ('"0":{"momentum_buffer":0}'), more for the rest. A file with many more (`[[],[],...]`)
# would cost the parser some 20 times its size in memory, so it is refused before parsing.
_CHARS_PER_CONTAINER = 16
_MAX_INT_DIGITS = 18  # every int in a model file (a size, a step count) is far shorter


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
            "num_features": module.num_features,
            "eps": module.eps,
            "momentum": module.momentum,
            "affine": module.affine,
            "track_running_stats": module.track_running_stats,
        }
    if isinstance(module, Activation):
        return {"type": "Activation", "name": module.name}
    if isinstance(module, Sequential):
        return {"type": "Sequential", "modules": [describe(m) for m in module.layers]}
    raise ModelFileError(
        f"cannot describe a {type(module).__name__}: only MLP, Layer, Neuron, BatchNorm1d, Activation and"
        " Sequential are known; save(model, path, architecture=False) saves the numbers alone"
    )


# Each field's check: it returns if the value is right, else raises ValueError naming the
# field (as given) and saying what it must be. Ranges come from micrograd.arguments, the
# checks the constructors use, so a file cannot describe what a call could not build.
_Check = Callable[[str, Any], object]


def _shape(is_ok: Callable[[Any], bool], expected: str) -> _Check:
    def check(name: str, v: Any) -> None:
        if not is_ok(v):
            raise ValueError(f"{name} must be {expected}, got {type(v).__name__}: {_short(v)}")

    return check


def _is_positive_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool) and v >= 1


_POSITIVE_INT: _Check = positive_int
_BOOL: _Check = flag
_ACTIVATION: _Check = _shape(lambda v: isinstance(v, str) and v in ACTIVATIONS, f"one of {sorted(ACTIVATIONS)}")
_SIZES: _Check = _shape(lambda v: isinstance(v, list) and len(v) > 0 and all(map(_is_positive_int, v)),
                        "a non-empty list of positive ints")
_MODULES: _Check = _shape(lambda v: isinstance(v, list) and len(v) > 0, "a non-empty list")


def _eps(name: str, v: Any) -> float:
    return real(name, v, low=0.0, low_open=True)  # and finite: the interval is open at infinity


def _momentum(name: str, v: Any) -> float:
    return real(name, v, low=0.0, high=1.0, high_open=False)


# type -> the keys its description must have, and each one's check
_FIELDS: Dict[str, Dict[str, _Check]] = {
    "Neuron": {"nin": _POSITIVE_INT, "activation": _ACTIVATION, "fused": _BOOL},
    "Layer": {"nin": _POSITIVE_INT, "nout": _POSITIVE_INT, "activation": _ACTIVATION, "fused": _BOOL},
    "MLP": {"nin": _POSITIVE_INT, "nouts": _SIZES, "activation": _ACTIVATION, "output_activation": _ACTIVATION,
            "fused": _BOOL},
    "BatchNorm1d": {"num_features": _POSITIVE_INT, "eps": _eps, "momentum": _momentum, "affine": _BOOL,
                    "track_running_stats": _BOOL},
    "Activation": {"name": _ACTIVATION},
    "Sequential": {"modules": _MODULES},
}
# Keys a description may leave out (files written before the option existed), and their values.
_DEFAULTS: Dict[str, Dict[str, Any]] = {"BatchNorm1d": {"affine": True, "track_running_stats": True}}


def _check_spec(spec: Any, where: str) -> Spec:
    """Check a description (keys, types, ranges) before anything is built; return it with
    the optional keys filled in, so that it compares equal to `describe` of its module."""
    if not isinstance(spec, dict):
        raise ModelFileError(f"{where} must be an object, got {type(spec).__name__}: {_short(spec)}")
    kind = spec.get("type")
    if not isinstance(kind, str) or kind not in _FIELDS:
        raise ModelFileError(f"{where}: 'type' must be one of {sorted(_FIELDS)}, got {_short(kind)}")
    fields = _FIELDS[kind]
    unexpected = sorted(set(spec) - set(fields) - {"type"})
    if unexpected:
        raise ModelFileError(f"{where}: unexpected keys {unexpected} for a {kind}")
    checked: Spec = {**_DEFAULTS.get(kind, {}), **spec}
    for key, check in fields.items():
        if key not in checked:
            raise ModelFileError(f"{where}: missing {key!r}")
        try:
            check(repr(key), checked[key])
        except (TypeError, ValueError) as e:
            raise ModelFileError(f"{where}: {e}") from None
    if kind == "Sequential":
        checked["modules"] = [_check_spec(sub, f"{where}.modules[{i}]") for i, sub in enumerate(checked["modules"])]
    return checked


def _state_size(spec: Spec) -> int:
    """How many numbers a module of this (checked) description has in its state_dict.
    Computed from the sizes alone, so a description of a huge model costs nothing."""
    kind = spec["type"]
    if kind == "Neuron":
        return int(spec["nin"]) + 1
    if kind == "Layer":
        return (int(spec["nin"]) + 1) * int(spec["nout"])
    if kind == "MLP":
        sizes: List[int] = [spec["nin"], *spec["nouts"]]
        return sum((a + 1) * b for a, b in zip(sizes, sizes[1:]))
    if kind == "BatchNorm1d":
        per_feature = (2 if spec["affine"] else 0) + (2 if spec["track_running_stats"] else 0)
        return per_feature * int(spec["num_features"])
    if kind == "Activation":
        return 0
    return sum(_state_size(sub) for sub in spec["modules"])


def _state_names(spec: Spec, prefix: str = "") -> Iterator[Tuple[str, str]]:
    """(name, kind) of every number in the state_dict of a module of this (checked)
    description, as the module names them; kind is 'parameter', 'running_mean' or 'running_var'."""
    kind = spec["type"]
    if kind == "Neuron":
        for i in range(spec["nin"]):
            yield f"{prefix}w.{i}", "parameter"
        yield f"{prefix}b", "parameter"
    elif kind == "Layer":
        neuron = {"type": "Neuron", "nin": spec["nin"]}
        for j in range(spec["nout"]):
            yield from _state_names(neuron, f"{prefix}neurons.{j}.")
    elif kind == "MLP":
        sizes = [spec["nin"], *spec["nouts"]]
        for k, (nin, nout) in enumerate(zip(sizes, sizes[1:])):
            yield from _state_names({"type": "Layer", "nin": nin, "nout": nout}, f"{prefix}layers.{k}.")
    elif kind == "BatchNorm1d":
        kinds = (["weight", "bias"] if spec["affine"] else []) + (
            ["running_mean", "running_var"] if spec["track_running_stats"] else []
        )
        for name in kinds:
            for i in range(spec["num_features"]):
                yield f"{prefix}{name}.{i}", name if name.startswith("running") else "parameter"
    elif kind == "Sequential":
        for i, sub in enumerate(spec["modules"]):
            yield from _state_names(sub, f"{prefix}{i}.")


def _model_state_names(model: Module) -> Dict[str, str]:
    """{name: kind} of the model's state_dict, as `_state_names` gives for a description
    (for a model that has none): buffers are named `...running_var.<i>` by BatchNorm1d."""
    kinds = {name: "parameter" for name, _ in model.named_parameters()}
    for name, _ in model.named_buffers():
        parts = name.split(".")
        kinds[name] = parts[-2] if len(parts) >= 2 else "buffer"
    return kinds


def build(spec: Spec) -> Module:
    """A new module from a description made by `describe` (weights freshly initialised, from
    a private generator: building never moves Python's global `random`)."""
    return _build(_check_spec(spec, "architecture"), random.Random(0), "architecture")


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
            return BatchNorm1d(
                spec["num_features"],
                eps=spec["eps"],
                momentum=spec["momentum"],
                affine=spec["affine"],
                track_running_stats=spec["track_running_stats"],
            )
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

def save(
    model: Module,
    path: PathLike,
    *,
    architecture: bool = True,
    optimizer: Optional[Optimizer] = None,
    scheduler: Optional[LRScheduler] = None,
) -> None:
    """Write the model's architecture (unless `architecture=False`) and `state_dict()` to a
    JSON file, and, when given, the optimizer's and the schedule's `state_dict()` (to resume
    training with `load(path, model, optimizer=..., scheduler=...)`). The optimizer must
    train parameters of `model`, and the schedule must drive that optimizer.

    The file is written to a temporary name first, so a failed save never leaves a
    half-written file behind."""
    if not isinstance(model, Module):
        raise TypeError(f"save needs a Module, got {type(model).__name__}: {model!r}")
    _check_training_objects("save", optimizer, scheduler)
    document: Dict[str, Any] = {
        "format": FORMAT,
        "version": VERSION,
        "architecture": describe(model) if architecture else None,
        "state": model.state_dict(),
    }
    if optimizer is not None:
        names = _parameter_names("save", model, optimizer)
        document["optimizer"] = {"type": type(optimizer).__name__, "parameters": names,
                                 "state_dict": optimizer.state_dict()}
    if scheduler is not None:
        document["scheduler"] = {"type": type(scheduler).__name__, "state_dict": scheduler.state_dict()}
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


def _check_training_objects(who: str, optimizer: Optional[Optimizer], scheduler: Optional[LRScheduler]) -> None:
    if optimizer is not None and not isinstance(optimizer, Optimizer):
        raise TypeError(f"{who} needs an Optimizer as optimizer (or None), got {type(optimizer).__name__}")
    if scheduler is not None:
        if not isinstance(scheduler, LRScheduler):
            raise TypeError(f"{who} needs an LRScheduler as scheduler (or None), got {type(scheduler).__name__}")
        if scheduler.optimizer is not optimizer:
            raise ValueError(f"{who}: the scheduler drives a different optimizer than optimizer= (pass its own)")


def _parameter_names(who: str, model: Module, optimizer: Optimizer) -> List[str]:
    """The model's name of each of the optimizer's parameters, in the optimizer's order."""
    names = {id(p): name for name, p in model.named_parameters()}
    for i, p in enumerate(optimizer.params):
        if id(p) not in names:
            raise ValueError(f"{who}: the optimizer's parameter {i} ({p!r}) is not a parameter of the model")
    return [names[id(p)] for p in optimizer.params]


def load(
    path: PathLike,
    model: Optional[Module] = None,
    *,
    optimizer: Optional[Optimizer] = None,
    scheduler: Optional[LRScheduler] = None,
    max_bytes: int = MAX_BYTES,
) -> Module:
    """Read a model file written by `save`.

    Without `model`, build the model the file describes and return it. With `model`, check
    that it has the file's architecture and load the numbers into it (and return it). With
    `optimizer` (and `scheduler`), also restore their state from the file: they must be made
    over `model` as they were when saved (same kind, same parameters in the same order, same
    groups), so build or load the model first, make them, then load.

    Raises ModelFileError naming the file and the problem; the model, optimizer and
    schedule are then unchanged. A file larger than `max_bytes` is refused before it is
    read. Errors from the file system (FileNotFoundError, PermissionError) are raised as
    they are: they name the path already, and they are not about the file's contents.
    """
    if model is not None and not isinstance(model, Module):
        raise TypeError(f"load needs a Module to load into (or None), got {type(model).__name__}: {model!r}")
    _check_training_objects("load", optimizer, scheduler)
    if optimizer is not None and model is None:
        raise ValueError(
            "load(path, optimizer=...) needs the model the optimizer trains: model = load(path), make the"
            " optimizer over model.parameters(), then load(path, model, optimizer=...)"
        )
    limit = positive_int("max_bytes", max_bytes)
    try:
        return _load_document(path, limit, model, optimizer, scheduler)
    except ModelFileError as e:
        raise ModelFileError(f"{os.fspath(path)}: {e}") from None


def _read_text(path: PathLike, max_bytes: int) -> str:
    with open(path, "rb") as f:
        size = os.fstat(f.fileno()).st_size
        if size > max_bytes:
            raise ModelFileError(_too_large(f"{size:,} bytes", max_bytes))
        # The size the file system reports, and one byte more to see whether there is more (read(n)
        # allocates n bytes at once, so n is never the limit itself).
        raw = f.read(size + 1)
        if len(raw) > size:  # a file that grew, or one with no size (a pipe): read on, up to the limit
            parts, total = [raw], len(raw)
            while total <= max_bytes:
                chunk = f.read(1 << 20)
                if not chunk:
                    break
                parts.append(chunk)
                total += len(chunk)
            if total > max_bytes:
                raise ModelFileError(_too_large(f"more than {max_bytes:,} bytes", max_bytes))
            raw = b"".join(parts)
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise ModelFileError(
            f"not UTF-8 text (a model file is JSON in UTF-8): byte {raw[e.start]:#04x} at offset {e.start}"
            f" is {e.reason}"
        ) from None


def _too_large(size: str, max_bytes: int) -> str:
    return f"the file is {size}, more than load reads (max_bytes={max_bytes:,}); pass a larger max_bytes to read it"


def _check_density(text: str) -> None:
    """Refuse, before the JSON parser sees it, text with far more objects and lists than a
    model file holds (`[[],[],...]` costs the parser some 20 times its size in memory, and
    `[[[[...` exhausts its recursion). Brackets inside strings are counted too: a model
    file's strings (names) have none, so this only ever overcounts a hostile file."""
    containers = text.count("[") + text.count("{")
    limit = 64 + len(text) // _CHARS_PER_CONTAINER
    if containers > limit:
        raise ModelFileError(
            f"{containers:,} brackets ([ or {{) in {len(text):,} characters: more objects and lists than a model"
            f" file holds (at most one per {_CHARS_PER_CONTAINER} characters, here {limit:,}); refused before parsing"
        )


def _check_depth(doc: Any) -> None:
    """Refuse a document nested deeper than MAX_DEPTH, before any code that walks it
    recursively (the description's checks) sees it. Iterative: any depth is safe here."""
    stack = [(doc, 1)]
    while stack:
        node, depth = stack.pop()
        children = node.values() if isinstance(node, dict) else node
        for child in children:
            if isinstance(child, (dict, list)):
                if depth + 1 > MAX_DEPTH:
                    raise ModelFileError(_too_deep(f"{depth + 1} deep"))
                stack.append((child, depth + 1))


def _too_deep(depth: str) -> str:
    return f"objects and lists nested {depth}, more than a model file needs (at most {MAX_DEPTH})"


def _reject_constant(name: str) -> None:
    raise ValueError(f"{name} is not a number JSON allows")


def _finite_float(text: str) -> float:
    x = float(text)
    if not math.isfinite(x):  # 1e999 is valid JSON, but float() makes it inf
        raise ValueError(f"the number {_short(text)} is beyond the largest float")
    return x


def _short_int(text: str) -> int:
    if len(text.lstrip("-")) > _MAX_INT_DIGITS:  # also spares int() a number of a million digits
        raise ValueError(f"the integer {_short(text)} has more than {_MAX_INT_DIGITS} digits")
    return int(text)


def _no_duplicate_keys(pairs: List[Tuple[str, Any]]) -> Dict[str, Any]:
    d = dict(pairs)
    if len(d) < len(pairs):
        seen = set()
        k = next(k for k, _ in pairs if k in seen or seen.add(k))  # type: ignore[func-returns-value]
        raise ValueError(f"the key {_short(k)} appears twice")
    return d


def _short(x: Any, limit: int = 60) -> str:
    """`repr(x)`, cut short: a hostile file's values can be megabytes long."""
    text = repr(x)
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text):,} characters)"


def _parse(text: str) -> Any:
    _check_density(text)
    try:
        doc = json.loads(
            text,
            parse_constant=_reject_constant,
            parse_float=_finite_float,
            parse_int=_short_int,
            object_pairs_hook=_no_duplicate_keys,
        )
    except ValueError as e:  # json.JSONDecodeError is a ValueError, and so are the hooks' errors
        raise ModelFileError(f"not valid JSON: {e}") from None
    except RecursionError:  # the parser recurses per level: within the density limit, ~1000 levels fit
        raise ModelFileError(_too_deep("deeper than the JSON parser follows")) from None
    if isinstance(doc, (dict, list)):
        _check_depth(doc)
    return doc


_REQUIRED = ("format", "version", "architecture", "state")
_OPTIONAL = ("optimizer", "scheduler")


def _load_document(
    path: PathLike, max_bytes: int, model: Optional[Module], optimizer: Optional[Optimizer],
    scheduler: Optional[LRScheduler]
) -> Module:
    doc = _parse(_read_text(path, max_bytes))  # the text is let go once parsed, before a model is built
    if not isinstance(doc, dict):
        raise ModelFileError(f"the file must hold a JSON object, got {type(doc).__name__}")
    if doc.get("format") != FORMAT:
        raise ModelFileError(
            f"not a micrograd model file ('format' is {_short(doc.get('format'))}, expected {FORMAT!r})"
        )
    version = doc.get("version")
    if type(version) is not int or version != VERSION:  # type(): True == 1, but is no version
        raise ModelFileError(f"unsupported version {_short(version)} (this micrograd reads version {VERSION})")
    unexpected = sorted(set(doc) - set(_REQUIRED) - set(_OPTIONAL))
    if unexpected:
        raise ModelFileError(f"unexpected top-level keys [{', '.join(map(_short, unexpected))}]")
    for key in _REQUIRED:
        if key not in doc:
            raise ModelFileError(f"missing {key!r}")
    for key in _OPTIONAL:
        if key in doc and not isinstance(doc[key], dict):
            raise ModelFileError(f"{key!r} must be an object, got {type(doc[key]).__name__}")
    if "scheduler" in doc and "optimizer" not in doc:
        raise ModelFileError("the file has a 'scheduler' but no 'optimizer' for it to drive")
    spec, state = doc["architecture"], doc["state"]
    if not isinstance(state, dict):
        raise ModelFileError(f"'state' must be an object of name -> number, got {type(state).__name__}")

    # The numbers' names and values, checked against the description before any model is built.
    if spec is not None:
        spec = _check_spec(spec, "architecture")
        size = _state_size(spec)
        if size != len(state):
            raise ModelFileError(f"the architecture ({spec['type']}) has {size} numbers but 'state' holds {len(state)}")
        _check_state(state, dict(_state_names(spec)))
    if model is None:
        if spec is None:
            raise ModelFileError(
                "the file has no architecture (saved with architecture=False): pass the model to load into"
            )
        target = _build(spec, random.Random(0), "architecture")
    else:
        target = model
        own = _description_or_none(model)
        if spec is not None and own is not None and own != spec:
            raise ModelFileError(f"the file's architecture {_short(spec, 300)} does not match the model's {own}")
        if spec is None or own is None:  # a model we cannot describe: its own names must match
            _check_state(state, _model_state_names(model))

    optimizer_state = scheduler_state = None
    if optimizer is not None:
        optimizer_state = _optimizer_section(doc, target, optimizer)
    if scheduler is not None:
        scheduler_state = _scheduler_section(doc, scheduler)
    _apply(target, state, optimizer, optimizer_state, scheduler, scheduler_state)
    return target


def _description_or_none(model: Module) -> Optional[Spec]:
    try:
        return describe(model)
    except ModelFileError:
        return None


def _check_state(state: Dict[str, Any], expected: Dict[str, str]) -> None:
    """`state` has exactly the `expected` names ({name: kind}), each a finite real number,
    every running variance >= 0; else ModelFileError naming the entry."""
    if len(state) != len(expected) or any(name not in expected for name in state):
        missing = [k for k in expected if k not in state]
        unexpected = [k for k in state if k not in expected]
        raise ModelFileError(
            f"'state' does not fit the model ({len(expected)} entries expected, {len(state)} given):"
            f" missing {_some(missing)}, unexpected {_some(unexpected)}"
        )
    for name, v in state.items():
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            raise ModelFileError(f"'state': {name!r} must be a real number, got {type(v).__name__}: {_short(v)}")
        if not math.isfinite(v):  # not from a file (the parser refuses them), but from a dict
            raise ModelFileError(f"'state': {name!r} must be finite, got {v!r}")
        if v < 0 and expected[name] == "running_var":
            raise ModelFileError(f"'state': {name!r} is a variance, so it must be >= 0, got {v!r}")


def _some(names: List[str], limit: int = 5) -> str:
    """Up to `limit` names for an error message, with a count of the rest."""
    if not names:
        return "none"
    shown = ", ".join(_short(n) for n in names[:limit])
    return f"[{shown}, and {len(names) - limit} more]" if len(names) > limit else f"[{shown}]"


def _section(doc: Dict[str, Any], key: str, of: object, keys: Tuple[str, ...]) -> Dict[str, Any]:
    """The file's 'optimizer' or 'scheduler' object, checked to be one saved from a `type(of)`."""
    if key not in doc:
        raise ModelFileError(f"the file holds no {key} state (save it with save(model, path, {key}=...))")
    section: Dict[str, Any] = doc[key]
    if set(section) != set(keys):
        raise ModelFileError(f"{key!r} must have the keys {list(keys)}, got [{', '.join(map(_short, section))}]")
    if section["type"] != type(of).__name__:
        raise ModelFileError(
            f"{key!r} is the state of a {_short(section['type'])}, not of the {type(of).__name__} to load it into"
        )
    return section


def _optimizer_section(doc: Dict[str, Any], model: Module, optimizer: Optimizer) -> Dict[str, Any]:
    """The optimizer's state_dict from the file, with its parameters checked against the
    model's names and its JSON keys turned back into parameter indices."""
    section = _section(doc, "optimizer", optimizer, ("type", "parameters", "state_dict"))
    saved = section["parameters"]
    names = _parameter_names("load", model, optimizer)
    if not isinstance(saved, list) or saved != names:
        if not isinstance(saved, list):
            problem = f"must be a list of the parameters' names, got {type(saved).__name__}"
        elif len(saved) != len(names):
            problem = f"names {len(saved)} parameters, but the optimizer has {len(names)}"
        else:
            i = next(i for i, (a, b) in enumerate(zip(saved, names)) if a != b)
            problem = f"names parameter {i} {_short(saved[i])}, but the optimizer's parameter {i} is {names[i]!r}"
        raise ModelFileError(f"'optimizer': 'parameters' {problem} (make the optimizer as it was made when saved)")
    state_dict = section["state_dict"]
    if not isinstance(state_dict, dict) or not isinstance(state_dict.get("state"), dict):
        raise ModelFileError("'optimizer': 'state_dict' must be an object with a 'state' object")
    entries: Dict[Any, Any] = {}
    for key, entry in state_dict["state"].items():
        if not (key.isascii() and key.isdigit()):  # JSON keys are strings: "12" was parameter 12
            raise ModelFileError(f"'optimizer': 'state' keys must be parameter indices, got {_short(key)}")
        entries[int(key)] = entry
    return {**state_dict, "state": entries}


def _scheduler_section(doc: Dict[str, Any], scheduler: LRScheduler) -> Dict[str, Any]:
    section = _section(doc, "scheduler", scheduler, ("type", "state_dict"))
    state_dict = section["state_dict"]
    if not isinstance(state_dict, dict):
        raise ModelFileError(f"'scheduler': 'state_dict' must be an object, got {type(state_dict).__name__}")
    return state_dict


def _apply(
    model: Module,
    state: Dict[str, Any],
    optimizer: Optional[Optimizer],
    optimizer_state: Optional[Dict[str, Any]],
    scheduler: Optional[LRScheduler],
    scheduler_state: Optional[Dict[str, Any]],
) -> None:
    """Load the model's, the optimizer's and the schedule's state, all or nothing: the model's
    is checked already; the others are checked by their load_state_dict, and if one refuses,
    those loaded before it get their old state back."""
    undo: List[Callable[[], None]] = []
    section = "state"
    try:
        old_model = model.state_dict()
        model.load_state_dict(state)
        undo.append(lambda: model.load_state_dict(old_model))
        if optimizer is not None and optimizer_state is not None:
            section = "optimizer"
            old_optimizer = optimizer.state_dict()
            optimizer.load_state_dict(optimizer_state)
            undo.append(lambda: optimizer.load_state_dict(old_optimizer))
        if scheduler is not None and scheduler_state is not None:
            section = "scheduler"
            scheduler.load_state_dict(scheduler_state)
    except (TypeError, ValueError) as e:
        for restore in reversed(undo):
            restore()
        raise ModelFileError(f"{section!r}: {e}") from None
