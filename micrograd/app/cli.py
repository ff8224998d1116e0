"""The `micrograd` command (also `python -m micrograd`).

    micrograd demo                  train an MLP on two moons; write pictures to ./micrograd-demo/
    micrograd demo --dataset spiral --hidden 32,32 --epochs 200
    micrograd example               backpropagate through micrograd 0.1.0's README expression
    micrograd                       the example, then a pointer to the demo and --help
    micrograd exercises             the exercises; `check ID ANSWER` and `grade ID FOLDER` (exercise_commands)

`main(argv)` returns the exit code (0; 1 for a failure, 2 for a bad argument, as argparse does;
130 for Ctrl-C) and never raises, so tests and notebooks can call it directly. Every option is
checked, the output folder included, before training starts; the demo's files are written all
together at the end or not at all (`micrograd.app.output_folder`).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import pathlib
import random
import sys
import time
from typing import Any, Callable, Dict, List, NamedTuple, Optional, Sequence, Tuple

from .. import __version__
from ..arguments import real, whole_number
from ..engine import Value, no_grad
from ..nn import MLP, Neuron
from ..training import data, serialize
from ..training.fit import History, fit
from ..training.optim import SGD, Adam, LinearLR, Optimizer
from ..visual.graph import draw_dot
from ..visual.html_stepper import save_html
from . import exercise_commands
from .example import readme_expression
from .output_folder import OutputFolder, OutputFolderError, check_writable

__all__ = ["main", "build_parser", "demo", "worked_example", "DATASETS", "DemoResult", "DemoError", "DemoInterrupted"]

Points = List[List[float]]


class Dataset(NamedTuple):
    """A data set the demo can train on: `make(samples, noise, classes, rng) -> (X, y)`."""

    about: str
    noise: float  # the default --noise
    multiclass: bool  # True: --classes picks the number of classes; False: always 2
    make: Callable[[int, float, int, random.Random], Tuple[Points, List[int]]]


def _blob_centres(k: int) -> Points:
    """k centres evenly spaced on a circle of radius 2: always separable, in view."""
    return [[2.0 * math.cos(2 * math.pi * j / k), 2.0 * math.sin(2 * math.pi * j / k)] for j in range(k)]


DATASETS: Dict[str, Dataset] = {
    "moons": Dataset("two interleaving half circles (karpathy's demo)", 0.1, False,
                     lambda n, noise, k, rng: data.make_moons(n, noise=noise, random_state=rng)),
    "circles": Dataset("two rings around one centre, the inner one of half the radius", 0.05, False,
                       lambda n, noise, k, rng: data.make_circles(n, noise=noise, factor=0.5, random_state=rng)),
    "xor": Dataset("the four quadrants, labelled by the XOR of the signs", 0.05, False,
                   lambda n, noise, k, rng: data.make_xor(n, noise=noise, random_state=rng)),
    "spiral": Dataset("interleaved spiral arms, one per class (CS231n)", 0.2, True,
                      lambda n, noise, k, rng: data.make_spiral(n, k, noise=noise, random_state=rng)),
    "blobs": Dataset("Gaussian blobs on a circle, one per class", 0.5, True,
                     lambda n, noise, k, rng: data.make_blobs(n, centers=_blob_centres(k), cluster_std=noise,
                                                              random_state=rng)),
}

DEFAULT_LR = {"adam": 0.05, "sgd": 1.0}
L2 = 1e-4  # karpathy's demo's weight penalty
FILES = {
    "boundary": ("decision_boundary.png", "the class the model picks at every point of the plane, and the data"),
    "curves": ("training_curves.png", "loss and accuracy per epoch"),
    "neuron": ("neuron.svg", "the computation graph of first-layer neuron {neuron} on training point {point}"),
    "stepper": ("neuron.html", "that graph's backward pass step by step, with the chain rule's numbers (a browser)"),
    "model": ("model.json", "the trained model: micrograd.load('{path}')"),
    "history": ("history.json", "the numbers behind the curves"),
}
OUTPUT_NAMES = tuple(name for name, _ in FILES.values())
PLOT_MISSING = 'PNG plots need matplotlib: pip install "micrograd-lab[plot]"'


# ---------------------------------------------------------------------------------------
# Argument parsing
# ---------------------------------------------------------------------------------------

# The checks are micrograd.arguments'; the messages are argparse's kind: they quote what was typed
# and say what is allowed. Every number has an upper bound too: a demo of a pure-Python engine has
# no use for 10**9 epochs, and --lr 1e300 or --noise 1e308 would only end in an overflow.
MAX_SAMPLES = 10_000
MAX_EPOCHS = 10_000
MAX_CLASSES = 20
MAX_WIDTH = 256  # a 2-256-256-1 model already takes ~5 s an epoch on the default 150 points
MAX_LAYERS = 8
MAX_NOISE = 10.0  # the patterns span about 2 units; noise 10 already hides them completely
MAX_LR = 10.0


def _whole_number(low: int, high: int) -> Callable[[str], int]:
    def parse(text: str) -> int:
        try:
            return whole_number("", int(text), low=low, high=high)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be a whole number from {low} to {high}, got {text!r}") from None
    return parse


def _number(low: float, high: float, *, above: bool = False, below: bool = False) -> Callable[[str], float]:
    """A parser of numbers in the interval from low to high (open at `low` when `above`, at `high`
    when `below`); NaN and both infinities are never in it."""
    def parse(text: str) -> float:
        try:
            return real("", float(text), low=low, low_open=above, high=high, high_open=below)
        except ValueError:
            interval = f"{'>' if above else '>='} {low:g} and {'<' if below else '<='} {high:g}"
            raise argparse.ArgumentTypeError(f"must be a number {interval}, got {text!r}") from None
    return parse


def _hidden_sizes(text: str) -> List[int]:
    """'16,16' -> [16, 16]: the hidden layers' widths, input side first."""
    parts = [p.strip() for p in text.split(",")]
    if not (len(parts) <= MAX_LAYERS and all(p.isdecimal() and 1 <= int(p) <= MAX_WIDTH for p in parts)):
        raise argparse.ArgumentTypeError(
            f"must be 1 to {MAX_LAYERS} layer widths separated by commas, each a whole number from 1 to"
            f" {MAX_WIDTH} (like 16,16), got {text!r}"
        )
    return [int(p) for p in parts]


def _folder(text: str) -> pathlib.Path:
    # Path('') is '.', so an empty --out would quietly write into the current folder.
    if not text:
        raise argparse.ArgumentTypeError("must name a folder, got ''")
    if "\0" in text:
        raise argparse.ArgumentTypeError(f"must be a folder name without NUL characters, got {text!r}")
    return pathlib.Path(text)


def build_parser() -> argparse.ArgumentParser:
    """The parser of `micrograd` and its commands."""
    parser = argparse.ArgumentParser(
        prog="micrograd",
        description="micrograd: a scalar autograd engine and a small neural-network library to learn "
        "backpropagation from.\n\nWith no command, runs `example` and points to the others.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"micrograd {__version__}")
    commands = parser.add_subparsers(dest="command", title="commands", metavar="COMMAND")

    commands.add_parser(
        "example",
        help="backpropagate through micrograd 0.1.0's README expression and print the gradients",
        description="Build the expression from micrograd 0.1.0's README from a = -4 and b = 2, run the "
        "backward pass, and print g, dg/da and dg/db.",
    )

    names = ", ".join(DATASETS)
    demo = commands.add_parser(
        "demo",
        help="train a small neural net on a 2-D toy data set and save pictures of it",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description=(
            "Train a multi-layer perceptron on a 2-D toy data set with a progress bar, print the final loss\n"
            "and accuracy, and write into the output folder:\n"
            + "".join(
                f"  {name:<22} {about.format(path='model.json', neuron='i', point='j')}\n"
                for name, about in FILES.values()
            )
            + "\nTwo-class data sets (moons, circles, xor) train one output with the hinge loss on -1/+1\n"
            "labels, as karpathy's demo does; spiral and blobs train one output per class with the\n"
            "cross-entropy loss. Both add 1e-4 times the sum of squared weights. A quarter of the points\n"
            "is held out (--test-size) to show how well the model generalises. The learning rate decays\n"
            "linearly to a tenth of --lr over the run. The same --seed gives the same numbers.\n\n"
            "The options are checked, the output folder included, before training starts. Nothing is\n"
            "written until training ends, and then every file at once: Ctrl-C or an error leaves the\n"
            "folder as it was. Exit codes: 0 done, 1 failed (one line on stderr), 2 bad option, 130 Ctrl-C."
        ),
        epilog="data sets:\n" + "".join(f"  {k:<8} {d.about} (noise {d.noise:g})\n" for k, d in DATASETS.items())
        + "\nexamples:\n  micrograd demo\n  micrograd demo --dataset spiral --hidden 32,32 --epochs 200\n"
        "  micrograd demo --optimizer sgd --lr 1.0 --out runs/sgd",
    )
    demo.add_argument("--dataset", choices=list(DATASETS), default="moons", metavar="NAME",
                      help=f"the data set: {names} (default: moons; see below)")
    demo.add_argument("--samples", type=_whole_number(2, MAX_SAMPLES), default=200, metavar="N",
                      help=f"points in the data set, held-out ones included: 2 to {MAX_SAMPLES} (default: 200)")
    demo.add_argument("--noise", type=_number(0.0, MAX_NOISE), default=None, metavar="X",
                      help=f"how far the points stray from the pattern: 0 to {MAX_NOISE:g}"
                      " (default: the data set's, below)")
    demo.add_argument("--classes", type=_whole_number(2, MAX_CLASSES), default=None, metavar="K",
                      help=f"classes for spiral and blobs: 2 to {MAX_CLASSES} (default: 3); moons, circles and xor"
                      " have 2")
    demo.add_argument("--test-size", type=_number(0.0, 1.0, below=True), default=0.25, metavar="F",
                      help="fraction of the points held out of training and scored after it, >= 0 and < 1;"
                      " 0 trains on all (default: 0.25)")
    demo.add_argument("--hidden", type=_hidden_sizes, default=[16, 16], metavar="W,W",
                      help=f"widths of the hidden ReLU layers, input side first: 1 to {MAX_LAYERS} layers of 1 to"
                      f" {MAX_WIDTH} (default: 16,16)")
    demo.add_argument("--epochs", type=_whole_number(1, MAX_EPOCHS), default=100, metavar="N",
                      help=f"passes over the training points, one full-batch step each: 1 to {MAX_EPOCHS}"
                      " (default: 100)")
    demo.add_argument("--optimizer", choices=["adam", "sgd"], default="adam",
                      help="the update rule (default: adam)")
    demo.add_argument("--lr", type=_number(0.0, MAX_LR, above=True), default=None, metavar="RATE",
                      help=f"the starting learning rate, > 0 and <= {MAX_LR:g} (default: 0.05 for adam; 1.0,"
                      " karpathy's, for sgd)")
    demo.add_argument("--seed", type=int, default=1337, metavar="INT",
                      help="seeds the data, the held-out split and the weights: any whole number (default: 1337)")
    demo.add_argument("--out", type=_folder, default=pathlib.Path("micrograd-demo"), metavar="DIR",
                      help="the folder to write into, created if missing; checked before training, and filled"
                      " only at the end, all files or none (default: ./micrograd-demo)")
    demo.add_argument("--no-progress", action="store_true", help="no progress bar")
    demo.add_argument("--eager", action="store_true",
                      help="rebuild the graph every epoch instead of replaying the compiled step (the same numbers,"
                      " slower per epoch; to compare)")
    demo.set_defaults(parser=demo)  # for errors found after parsing, with the demo's usage line
    exercise_commands.add_commands(commands)
    return parser


class _Settings(NamedTuple):
    dataset: Dataset
    classes: int
    noise: float
    lr: float


def _settings(args: argparse.Namespace) -> _Settings:
    """The demo's settings with every default filled in."""
    spec = DATASETS[args.dataset]
    k = (3 if args.classes is None else args.classes) if spec.multiclass else 2
    noise = spec.noise if args.noise is None else args.noise
    lr = DEFAULT_LR[args.optimizer] if args.lr is None else args.lr
    return _Settings(spec, k, noise, lr)


def _check_demo_args(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """Checks that need more than one argument, or the file system; parser.error exits with
    code 2, like argparse. All of them run before training, so a bad option costs no time."""
    spec = DATASETS[args.dataset]
    if args.classes is not None and not spec.multiclass and args.classes != 2:
        parser.error(f"argument --classes: {args.dataset} has 2 classes (--classes is for spiral and blobs),"
                     f" got {args.classes}")
    try:
        check_writable(args.out, OUTPUT_NAMES)
    except OutputFolderError as e:
        parser.error(f"argument --out: {e}")
    k = _settings(args).classes
    n_train = args.samples - math.ceil(args.test_size * args.samples)
    if n_train < k:
        parser.error(
            f"argument --samples: {args.samples} points with --test-size {args.test_size:g} leave"
            f" {n_train} to train on; {args.dataset} needs at least {k} (one per class)"
        )


# ---------------------------------------------------------------------------------------
# The commands
# ---------------------------------------------------------------------------------------

def worked_example() -> None:
    """Build karpathy's README expression, backpropagate, and print values and gradients."""
    a, b, g = readme_expression()
    g.backward()
    print("forward pass:  g = ((c - d)**2) / 2 + 10 / (c - d)**2, built from a = -4 and b = 2")
    print(f"  g      = {g.data:.4f}")
    print("backward pass: dg/da and dg/db, by the chain rule through every node")
    print(f"  a.grad = {a.grad:.4f}")
    print(f"  b.grad = {b.grad:.4f}")


class DemoResult(NamedTuple):
    """What `demo` made: the model, its data, the training history and the files written."""

    model: MLP
    train: Tuple[Points, List[int]]
    test: Optional[Tuple[Points, List[int]]]
    history: History
    files: Dict[str, pathlib.Path]
    plots_skipped: bool
    neuron: Tuple[int, int]  # (first-layer neuron, training point) drawn in neuron.svg
    removed: Tuple[pathlib.Path, ...] = ()  # an earlier run's files this run did not make (PNGs without matplotlib)


class DemoError(RuntimeError):
    """The demo failed after its options were checked (training diverged, a file could not be
    written). The message says where and what was written (nothing); the cause is `__cause__`."""


class DemoInterrupted(KeyboardInterrupt):
    """Ctrl-C during `demo`. Still a KeyboardInterrupt; its message says how far the demo got
    and what was written: nothing, unless every file was already in place."""


def demo(args: argparse.Namespace) -> DemoResult:
    """Make the data, train and write the files, as `args` say
    (`build_parser().parse_args(["demo", ...])`). Prints nothing but the progress bar (on stderr).

    The output folder is checked before training. The files are written under temporary names
    and moved into place together at the end, so the folder holds either every new file or
    just what it held before; a folder the demo created is removed again on failure.

    Raises:
        OutputFolderError: `args.out` cannot take the files (found before training starts).
        DemoError: training or writing failed; nothing was written.
        DemoInterrupted: Ctrl-C (a KeyboardInterrupt), with a message saying what was written.
    """
    try:
        return _demo(args)
    except KeyboardInterrupt as e:
        if isinstance(e, DemoInterrupted):
            raise
        # Before training started (making the data, the model): there was nothing to write yet.
        raise DemoInterrupted(_interrupted(None, True, 0, args.epochs)) from None


def _demo(args: argparse.Namespace) -> DemoResult:
    spec, k, noise, lr = _settings(args)
    folder = OutputFolder(args.out, OUTPUT_NAMES)  # an unwritable folder is found now, not after the last epoch
    # One seed, separate streams: the weights do not change when --samples does.
    X, y = spec.make(args.samples, noise, k, random.Random(args.seed))
    if args.test_size > 0:
        X_train, X_test, y_train, y_test = data.train_test_split(
            X, y, args.test_size, random_state=random.Random(args.seed)
        )
    else:
        X_train, X_test, y_train, y_test = X, [], y, []
    binary = k == 2
    if binary:  # the hinge loss's labels: -1 and +1
        y_train, y_test = [2 * t - 1 for t in y_train], [2 * t - 1 for t in y_test]
    model = MLP(2, [*args.hidden, 1 if binary else k], rng=random.Random(args.seed))
    optimizer: Optimizer = (
        Adam(model.parameters(), lr=lr) if args.optimizer == "adam" else SGD(model.parameters(), lr=lr)
    )
    schedule = LinearLR(optimizer, start_factor=1.0, end_factor=0.1, total_iters=args.epochs)
    test = (X_test, y_test) if X_test else None
    training = True
    try:
        with folder:
            history = fit(
                model, X_train, y_train, loss="hinge" if binary else "cross_entropy", optimizer=optimizer,
                scheduler=schedule, epochs=args.epochs, l2=L2, validation_data=test, progress=not args.no_progress,
                compiled=not args.eager,
            )
            training = False
            plots_skipped, neuron = _write_files(folder, args, model, (X_train, y_train), test, history)
    except KeyboardInterrupt:
        # The scheduler steps once per epoch: its count is the number of epochs trained.
        raise DemoInterrupted(_interrupted(folder, training, schedule.last_epoch, args.epochs)) from None
    except Exception as e:
        if training:
            where = f"training failed in epoch {schedule.last_epoch + 1} of {args.epochs}"
            if isinstance(e, (ArithmeticError, ValueError)):
                where += " (a smaller --lr may help)"
        else:
            where = "writing the files failed"
        raise DemoError(f"{where}: {_one_line(e)}; nothing written to {str(args.out)!r}") from e
    files = {key: folder.folder / name for key, (name, _) in FILES.items() if folder.folder / name in folder.written}
    return DemoResult(model, (X_train, y_train), test, history, files, plots_skipped, neuron, tuple(folder.removed))


def _interrupted(folder: Optional[OutputFolder], training: bool, epochs_done: int, epochs: int) -> str:
    """The one line Ctrl-C prints: how far the demo got and what it wrote."""
    if folder is not None and folder.committed:  # Ctrl-C held back while the files were moved into place
        return f"interrupted after writing every file into {str(folder.folder)!r}"
    if not training:
        return f"interrupted after training ({epochs} epochs), while writing the files; nothing written"
    if epochs_done == 0:
        return f"interrupted before the end of epoch 1 of {epochs}; nothing written"
    return f"interrupted after epoch {epochs_done} of {epochs}; nothing written"


def _write_files(
    folder: OutputFolder,
    args: argparse.Namespace,
    model: MLP,
    train: Tuple[Points, List[int]],
    test: Optional[Tuple[Points, List[int]]],
    history: History,
) -> Tuple[bool, Tuple[int, int]]:
    """Draw and save every file into `folder`'s staging names; returns (plots skipped?, (neuron, point))."""
    X_train, y_train = train
    plots_skipped = False
    try:
        from matplotlib.figure import Figure  # drawn without pyplot: no display, no global figures

        from ..visual import plot
    except ImportError:
        plots_skipped = True
    else:
        fig = Figure(figsize=(5.5, 5.5))
        title = f"{args.dataset}: {_percent(history['accuracy'][-1])} train"
        if test is not None:
            title += f", {_percent(history['val_accuracy'][-1])} held out"
        plot.plot_decision_boundary(model, X_train, y_train, ax=fig.subplots(), title=title, held_out=test)
        _save_figure(fig, folder.staging_path(FILES["boundary"][0]))
        fig = Figure(figsize=(10, 3.5))
        plot.plot_history(history, axes=tuple(fig.subplots(1, 2)))
        _save_figure(fig, folder.staging_path(FILES["curves"][0]))
    neuron, point = _pick_neuron(model, X_train)
    folder.staging_path(FILES["neuron"][0]).write_bytes(_neuron_graph(model, neuron, X_train[point]))
    _neuron_stepper(model, neuron, X_train[point], folder.staging_path(FILES["stepper"][0]))
    serialize.save(model, folder.staging_path(FILES["model"][0]))
    folder.staging_path(FILES["history"][0]).write_text(json.dumps(history, indent=1) + "\n")
    return plots_skipped, (neuron, point)


def _save_figure(fig: Any, path: pathlib.Path) -> None:
    fig.tight_layout()
    fig.savefig(path, dpi=100, format="png")


def _pick_neuron(model: MLP, X: Points) -> Tuple[int, int]:
    """(neuron, point): the first first-layer neuron that some training point switches on, and
    that point. On an input where the ReLU is off, every gradient in the picture would be 0."""
    for i, neuron in enumerate(model.layers[0].neurons):
        for j, x in enumerate(X):
            with no_grad():
                if neuron(x).data > 0:  # ReLU's output is positive exactly when it is on
                    return i, j
    return 0, 0


def _neuron_graph(model: MLP, i: int, x: Sequence[float]) -> bytes:
    """SVG of first-layer neuron i on input x, expanded into 0.1.0's `*` and `+` nodes (the
    trained model computes the same thing as one fused node), with d(out)/d(node) as each
    box's grad and the local derivative on each edge, and a legend that says so."""
    out, params, inputs = _expanded_neuron(model, i, x)
    out.backward()
    drawing = draw_dot(out, show_local=True, params=params, inputs=inputs, legend=True)
    return bytes(drawing.pipe(format="svg"))


def _neuron_stepper(model: MLP, i: int, x: Sequence[float], path: pathlib.Path) -> None:
    """The graph of `_neuron_graph` as an HTML stepper through its backward pass."""
    out, params, inputs = _expanded_neuron(model, i, x)
    save_html(out, path, show_local=True, params=params, inputs=inputs,
              title=f"Backpropagation through first-layer neuron {i}, step by step")


def _expanded_neuron(model: MLP, i: int, x: Sequence[float]) -> Tuple[Value, List[Value], List[Value]]:
    """(out, parameters, inputs): first-layer neuron i on input x, rebuilt as 0.1.0's `*` and `+` nodes."""
    trained = model.layers[0].neurons[i]
    neuron = Neuron(len(trained.w), activation=trained.activation, fused=False, rng=random.Random(0))
    neuron.w = [Value(w.data, label=f"w{k}") for k, w in enumerate(trained.w)]
    neuron.b = Value(trained.b.data, label="b")
    inputs = [Value(xk, label=f"x{k}") for k, xk in enumerate(x)]
    out = neuron(inputs)
    out.label = "out"
    return out, neuron.parameters(), inputs


def _percent(x: float) -> str:
    return f"{x:.1%}"


def _run_demo(args: argparse.Namespace) -> int:
    result: Optional[DemoResult] = None
    try:
        start = time.perf_counter()
        spec, k, noise, lr = _settings(args)
        n_test = math.ceil(args.test_size * args.samples) if args.test_size > 0 else 0
        classes = f", {k} classes" if spec.multiclass else ""
        print(f"data:  {args.dataset}, {args.samples} points{classes}, noise {noise:g}, seed {args.seed}:"
              f" {args.samples - n_test} to train on, {n_test} held out")
        sizes = [2, *args.hidden, 1 if k == 2 else k]
        n_params = sum((a + 1) * b for a, b in zip(sizes, sizes[1:]))
        loss = "hinge loss on -1/+1 labels" if k == 2 else f"cross-entropy over {k} classes"
        print(f"model: MLP {'-'.join(map(str, sizes))} ({n_params} parameters), {loss} + 1e-4 L2;"
              f" {args.optimizer}, lr {lr:g} decaying to {lr / 10:g} over {args.epochs} epochs")
        sys.stdout.flush()  # before the progress bar, which goes to stderr
        result = demo(args)
        _report(args, result, start)
    except KeyboardInterrupt as e:  # outside demo(): before it began, or after it wrote every file
        if isinstance(e, DemoInterrupted):
            raise
        if result is None:
            raise DemoInterrupted(_interrupted(None, True, 0, args.epochs)) from None
        raise DemoInterrupted(f"interrupted after writing every file into {str(args.out)!r}") from None
    return 0


def _report(args: argparse.Namespace, result: DemoResult, start: float) -> None:
    h = result.history
    print(f"final loss {h['loss'][-1]:.4g}, accuracy {_percent(h['accuracy'][-1])} on the training points (last epoch)")
    if result.test is not None:
        print(f"held out:  loss {h['val_loss'][-1]:.4g}, accuracy {_percent(h['val_accuracy'][-1])}"
              f" on {len(result.test[0])} points the model never trained on")
    print(f"wrote, in {args.out}{os.sep}:")
    for key, path in result.files.items():
        print(f"  {path.name:<22} {FILES[key][1].format(path=path, neuron=result.neuron[0], point=result.neuron[1])}")
    if result.removed:
        print(f"removed, as they were from an earlier run: {', '.join(path.name for path in result.removed)}")
    if result.plots_skipped:
        print(f"no PNGs: {PLOT_MISSING}")
    print(_speed(result.history))
    print(f"done in {time.perf_counter() - start:.1f} s")


def _speed(history: History) -> str:
    """One line on the compiled step: what it gained, or why the demo trained eagerly."""
    run = getattr(history, "compiled", None)  # a plain dict, from a fit of your own: nothing to say
    if run is None:
        return "step:  eager (--eager): the graph rebuilt every epoch; without --eager the step is compiled"
    if not run.used:
        return f"step:  eager, as a compiled step would not replay exactly: {run.reason}"
    ms = 1e3
    pays = run.break_even_steps
    after = f"paid for itself after {math.ceil(pays)} epochs" if pays != float("inf") else "did not pay for itself"
    return (f"step:  compiled (micrograd.compile): {run.replay_step_seconds * ms:.1f} ms an epoch instead of"
            f" {run.eager_step_seconds * ms:.1f} ms eager, {run.speedup:.1f}x faster; the trace took"
            f" {run.trace_seconds:.2f} s and {after}")


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run the `micrograd` command with `argv` (default: the process's arguments); return the exit code.

    0 on success; 2 for a bad argument (argparse's usage line and the reason, on stderr); 1 for
    a failure after the arguments were checked, 130 for Ctrl-C: each one line on stderr,
    `micrograd: error: ...` or `micrograd: interrupted ...`. Never raises SystemExit,
    KeyboardInterrupt or any other exception, so tests and notebooks can call it directly.
    """
    try:
        return _main(argv)
    except KeyboardInterrupt as e:  # 128 + SIGINT, as a shell reports a process that Ctrl-C ended
        _say(f"micrograd: {e}" if isinstance(e, DemoInterrupted) else "micrograd: interrupted")
        return 130


def _main(argv: Optional[Sequence[str]]) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
        if args.command == "demo":
            _check_demo_args(args.parser, args)
    except SystemExit as e:  # --help, --version, or a bad argument (argparse has printed why)
        return int(e.code or 0)
    try:
        if args.command == "demo":
            return _run_demo(args)
        if args.command in exercise_commands.COMMANDS:
            return exercise_commands.run(args)
        worked_example()
        if args.command is None:
            print()
            print("next: `python -m micrograd demo` trains a neural net on two moons and draws it;")
            print("      `python -m micrograd --help` lists the commands.")
        return 0
    except BrokenPipeError:  # `micrograd demo | head`: the reader has gone; no traceback
        # Point stdout at devnull so that the interpreter's last flush does not fail again
        # (the recipe in Python's documentation of SIGPIPE).
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    except Exception as e:  # one line, not a traceback: the user did nothing a traceback would explain
        _say(f"micrograd: error: {_one_line(e)}")
        return 1


def _one_line(e: BaseException) -> str:
    """An exception as one line of text: its message (with its type when that is not already
    ours or the operating system's), newlines folded into spaces."""
    text = " ".join(str(e).split())
    if isinstance(e, (DemoError, OSError)) and text:
        return text
    return f"{type(e).__name__}: {text}" if text else type(e).__name__


def _say(line: str) -> None:
    try:
        print(line, file=sys.stderr, flush=True)
    except (OSError, ValueError):  # stderr closed or gone: nowhere left to say it
        pass
