"""Issue 13's repros for the command line and the toolkit's gaps, one test each: the demo refuses
absurd options before training, fails in one line, never leaves a mixed output folder and stops
cleanly on Ctrl-C; circles are described as they are; a held-out loss of 0 stays on the plot;
`drop_last` lets BatchNorm1d models train on any data set size."""

from __future__ import annotations

import math
import os
import pathlib
import re
import signal
import subprocess
import sys
import threading

import pytest

from micrograd.app import cli, output_folder
from micrograd.app.cli import OUTPUT_NAMES, main
from micrograd.app.output_folder import OutputFolder, OutputFolderError, check_writable
from micrograd.engine import Value
from micrograd.nn import BatchNorm1d, Layer, Sequential
from micrograd.training import data
from micrograd.training.data import batches, make_circles
from micrograd.training.fit import fit
from micrograd.training.optim import SGD, LinearLR

ROOT = pathlib.Path(__file__).resolve().parent.parent
QUICK = ["--samples", "24", "--epochs", "3", "--hidden", "4", "--no-progress"]
USAGE = "usage: micrograd demo"
OLD = {name: f"from an earlier run: {name}\n".encode() for name in OUTPUT_NAMES}


def contents(folder):
    """{name: bytes} of everything in `folder`, hidden files included (so a stray temporary shows);
    None when there is no such folder."""
    if not folder.exists():
        return None
    return {p.name: (p.read_bytes() if p.is_file() else "<folder>") for p in folder.iterdir()}


@pytest.fixture
def earlier_run(tmp_path):
    """An output folder as an earlier run left it, with a file of the user's beside the demo's."""
    folder = tmp_path / "out"
    folder.mkdir()
    for name, text in OLD.items():
        (folder / name).write_bytes(text)
    (folder / "notes.txt").write_bytes(b"my notes\n")
    return folder


@pytest.fixture
def no_training(monkeypatch):
    """Fails the test if training starts: the checks under test must come before it."""
    def fit(*args, **kwargs):
        raise AssertionError("training started")
    monkeypatch.setattr(cli, "fit", fit)


def demo(folder, *args):
    return main(["demo", *QUICK, "--out", str(folder), *args])


def subprocess_env():
    """The environment for `python -m micrograd` in a child process that imports this checkout."""
    return {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}


# --- absurd options are refused by the parser, with the allowed range --------------------------

@pytest.mark.parametrize(
    "args, message",
    [
        (["--lr", "1e300"], "argument --lr: must be a number > 0 and <= 10, got '1e300'"),
        (["--lr", "nan"], "argument --lr: must be a number > 0 and <= 10, got 'nan'"),
        (["--lr", "inf"], "argument --lr: must be a number > 0 and <= 10, got 'inf'"),
        (["--lr", "-0.1"], "argument --lr: must be a number > 0 and <= 10, got '-0.1'"),
        (["--lr", "1e-400"], "argument --lr: must be a number > 0 and <= 10, got '1e-400'"),  # rounds to 0.0
        (["--noise", "1e308"], "argument --noise: must be a number >= 0 and <= 10, got '1e308'"),
        (["--noise", "nan"], "argument --noise: must be a number >= 0 and <= 10, got 'nan'"),
        (["--noise=-inf"], "argument --noise: must be a number >= 0 and <= 10, got '-inf'"),
        (["--noise", "-inf"], "argument --noise: expected one argument"),  # argparse: '-inf' looks like an option
        (["--test-size", "nan"], "argument --test-size: must be a number >= 0 and < 1, got 'nan'"),
        (["--test-size", "-0.5"], "argument --test-size: must be a number >= 0 and < 1, got '-0.5'"),
        (["--samples", "0"], "argument --samples: must be a whole number from 2 to 10000, got '0'"),
        (["--samples", "-5"], "argument --samples: must be a whole number from 2 to 10000, got '-5'"),
        (["--samples", "1e9"], "argument --samples: must be a whole number from 2 to 10000, got '1e9'"),
        (["--samples", "10001"], "argument --samples: must be a whole number from 2 to 10000, got '10001'"),
        (["--epochs", "-1"], "argument --epochs: must be a whole number from 1 to 10000, got '-1'"),
        (["--epochs", "99999999999999999999"],
         "argument --epochs: must be a whole number from 1 to 10000, got '99999999999999999999'"),
        (["--epochs", "2.5"], "argument --epochs: must be a whole number from 1 to 10000, got '2.5'"),
        (["--dataset", "spiral", "--classes", "0"], "argument --classes: must be a whole number from 2 to 20, got '0'"),
        (["--dataset", "blobs", "--classes", "21"],
         "argument --classes: must be a whole number from 2 to 20, got '21'"),
        (["--hidden", "257"], "argument --hidden: must be 1 to 8 layer widths separated by commas, each a whole"
         " number from 1 to 256 (like 16,16), got '257'"),
        (["--hidden", "-4"], "argument --hidden: must be 1 to 8 layer widths separated by commas, each a whole"
         " number from 1 to 256 (like 16,16), got '-4'"),
        (["--hidden", ",".join(["4"] * 9)], "argument --hidden: must be 1 to 8 layer widths separated by commas,"
         " each a whole number from 1 to 256 (like 16,16), got '4,4,4,4,4,4,4,4,4'"),
        (["--hidden", ""], "argument --hidden: must be 1 to 8 layer widths separated by commas, each a whole"
         " number from 1 to 256 (like 16,16), got ''"),
        (["--seed", "1.5"], "argument --seed: invalid int value: '1.5'"),
        (["--out", ""], "argument --out: must name a folder, got ''"),
        (["--out", "a\0b"], "argument --out: must be a folder name without NUL characters, got 'a\\x00b'"),
        (["--dataset", "spiral", "--classes", "3", "--samples", "2", "--test-size", "0"],
         "argument --samples: 2 points with --test-size 0 leave 2 to train on; spiral needs at least 3 (one per"
         " class)"),
        (["--samples", "10", "--test-size", "0.95"],
         "argument --samples: 10 points with --test-size 0.95 leave 0 to train on; moons needs at least 2 (one per"
         " class)"),
        (["--epochs"], "argument --epochs: expected one argument"),
        (["--tests-size", "0.1"], "unrecognized arguments: --tests-size 0.1"),
    ],
)
def test_absurd_options_exit_2_with_the_allowed_range_before_training(
    tmp_path, capsys, no_training, monkeypatch, args, message
):
    monkeypatch.chdir(tmp_path)  # `--out ''` would otherwise mean the current folder
    assert main(["demo", "--out", "never", *args]) == 2
    captured = capsys.readouterr()
    assert captured.err.startswith("usage: micrograd") and captured.err.endswith(f": error: {message}\n")
    assert "Traceback" not in captured.err and captured.out == ""
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    "argv, message",
    [
        (["nope"], "argument COMMAND: invalid choice: 'nope'"),
        (["--bogus"], "unrecognized arguments: --bogus"),
        (["example", "--epochs", "3"], "unrecognized arguments: --epochs 3"),
        (["example", "extra"], "unrecognized arguments: extra"),
    ],
)
def test_bad_arguments_to_every_command_exit_2_with_a_usage_line(capsys, argv, message):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("usage: micrograd") and message in err and "Traceback" not in err


def test_the_largest_allowed_numbers_train_without_overflow(tmp_path, capsys):
    # The top of each range is usable, not just refused one step above: sgd at --lr 10 on data
    # with --noise 10 gives finite numbers and a full set of files.
    code = demo(tmp_path / "out", "--optimizer", "sgd", "--lr", "10", "--noise", "10", "--epochs", "20")
    assert code == 0, capsys.readouterr().err
    assert sorted(contents(tmp_path / "out")) == sorted(OUTPUT_NAMES)


def test_demo_help_states_every_range(capsys):
    assert main(["demo", "--help"]) == 0
    text = " ".join(capsys.readouterr().out.split())  # argparse wraps lines anywhere
    for allowed in ("2 to 10000 (default: 200)", "0 to 10 (default: the data set's", "2 to 20 (default: 3)",
                    ">= 0 and < 1;", "1 to 8 layers of 1 to 256", "1 to 10000 (default: 100)", "> 0 and <= 10",
                    "any whole number", "all files or none", "130 Ctrl-C"):
        assert allowed in text


# --- the output folder is checked before training ----------------------------------------------

def test_an_empty_out_is_refused_and_the_current_folder_left_alone(tmp_path, capsys, monkeypatch, no_training):
    monkeypatch.chdir(tmp_path)
    assert main(["demo", "--out", ""]) == 2
    assert "argument --out: must name a folder, got ''" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def test_an_out_inside_a_file_is_refused_before_training(tmp_path, capsys, no_training):
    (tmp_path / "file").write_text("x")
    assert demo(tmp_path / "file" / "sub") == 2
    err = capsys.readouterr().err
    assert f"argument --out: cannot create {str(tmp_path / 'file' / 'sub')!r}: {str(tmp_path / 'file')!r} is a file," \
        " not a folder" in err


def test_an_out_that_cannot_be_written_is_refused_before_training(tmp_path, capsys, monkeypatch, no_training):
    def refuse(*args, **kwargs):
        raise PermissionError(13, "Permission denied")
    monkeypatch.setattr(output_folder.tempfile, "mkstemp", refuse)  # as in a folder of someone else's
    assert demo(tmp_path / "new" / "out") == 2
    err = capsys.readouterr().err
    assert err.startswith(USAGE)
    assert err.endswith(
        f"micrograd demo: error: argument --out: cannot write into {str(tmp_path)!r}: Permission denied\n"
    )
    assert contents(tmp_path) == {}


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0, reason="root may write into any folder")
def test_a_read_only_out_is_refused_before_training(earlier_run, capsys, no_training):
    before = contents(earlier_run)
    earlier_run.chmod(0o555)
    try:
        assert demo(earlier_run) == 2
    finally:
        earlier_run.chmod(0o755)
    assert f"argument --out: cannot write into {str(earlier_run)!r}: Permission denied" in capsys.readouterr().err
    assert contents(earlier_run) == before


def test_a_folder_where_an_output_file_goes_is_refused_before_training(tmp_path, capsys, no_training):
    (tmp_path / "out" / "model.json").mkdir(parents=True)
    assert demo(tmp_path / "out") == 2
    assert f"argument --out: {str(tmp_path / 'out' / 'model.json')!r} is a folder, where a file of that name would go" \
        in capsys.readouterr().err


def test_a_broken_link_as_out_is_refused(tmp_path, capsys, no_training):
    (tmp_path / "link").symlink_to(tmp_path / "gone")
    assert demo(tmp_path / "link") == 2
    assert f"must be a folder (or a new name), got the broken link {str(tmp_path / 'link')!r}" \
        in capsys.readouterr().err


def test_checking_an_out_leaves_nothing_behind(tmp_path):
    check_writable(tmp_path / "a" / "b", OUTPUT_NAMES)
    check_writable(tmp_path, OUTPUT_NAMES)
    assert contents(tmp_path) == {}
    with pytest.raises(OutputFolderError, match="needs a folder name, got ''"):
        check_writable("", OUTPUT_NAMES)


# --- all new files or the folder as it was ------------------------------------------------------

def test_a_run_replaces_every_demo_file_and_leaves_other_files_alone(earlier_run, capsys):
    assert demo(earlier_run) == 0
    after = contents(earlier_run)
    assert sorted(after) == sorted([*OUTPUT_NAMES, "notes.txt"])  # no temporary left over
    assert after["notes.txt"] == b"my notes\n"
    assert all(after[name] != OLD[name] for name in OUTPUT_NAMES)
    assert after["decision_boundary.png"][:8] == b"\x89PNG\r\n\x1a\n"
    assert oct(os.stat(earlier_run / "history.json").st_mode & 0o777) == oct(0o666 & ~current_umask())


def current_umask():
    mask = os.umask(0)
    os.umask(mask)
    return mask


def test_without_matplotlib_an_earlier_runs_pngs_are_removed_and_said_so(earlier_run, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)  # `import` of it now raises ImportError
    assert demo(earlier_run) == 0
    out = capsys.readouterr().out
    assert sorted(contents(earlier_run)) == ["history.json", "model.json", "neuron.html", "neuron.svg", "notes.txt"]
    assert "removed, as they were from an earlier run: decision_boundary.png, training_curves.png" in out


class StopAfter(LinearLR):
    """The demo's schedule, with a Ctrl-C (or another error) once `epochs` epochs have trained."""

    epochs = 2
    error: BaseException = KeyboardInterrupt()

    def step(self):
        super().step()
        if self.last_epoch == self.epochs:
            raise self.error


@pytest.mark.parametrize("existing", [True, False])
def test_ctrl_c_during_training_prints_one_line_exits_130_and_writes_nothing(
    tmp_path, earlier_run, capsys, monkeypatch, existing
):
    folder = earlier_run if existing else tmp_path / "new" / "out"
    before = contents(folder)
    monkeypatch.setattr(cli, "LinearLR", StopAfter)
    assert demo(folder, "--epochs", "5") == 130
    captured = capsys.readouterr()
    assert captured.err == "micrograd: interrupted after epoch 2 of 5; nothing written\n"
    assert "final loss" not in captured.out
    assert contents(folder) == before  # byte for byte; for a new folder: still none
    assert not (tmp_path / "new").exists()  # the parent a new folder needed is gone again too


def test_ctrl_c_before_the_first_epoch_ends_says_so(tmp_path, capsys, monkeypatch):
    def interrupted_fit(*args, **kwargs):
        raise KeyboardInterrupt
    monkeypatch.setattr(cli, "fit", interrupted_fit)
    assert demo(tmp_path / "out") == 130
    assert capsys.readouterr().err == "micrograd: interrupted before the end of epoch 1 of 3; nothing written\n"
    assert contents(tmp_path / "out") is None


@pytest.mark.parametrize("drawing", ["_neuron_graph", "_neuron_stepper"])
def test_ctrl_c_while_drawing_after_training_writes_nothing(earlier_run, capsys, monkeypatch, drawing):
    before = contents(earlier_run)

    def interrupted(*args):
        raise KeyboardInterrupt
    monkeypatch.setattr(cli, drawing, interrupted)  # the PNGs (and the SVG) are staged by now
    assert demo(earlier_run) == 130
    assert capsys.readouterr().err == \
        "micrograd: interrupted after training (3 epochs), while writing the files; nothing written\n"
    assert contents(earlier_run) == before


class FailingReplace:
    """os.replace that raises `error` on its `n`-th call (counting from 1) and works otherwise."""

    def __init__(self, n, error):
        self.n, self.error, self.calls = n, error, 0
        self.real = os.replace

    def __call__(self, src, dst):
        self.calls += 1
        if self.calls == self.n:
            raise self.error
        self.real(src, dst)


def while_moving_in(monkeypatch, replace):
    """Use `replace` for os.replace only while the staged files are moved into place (serialize.save
    uses os.replace too, while the files are written)."""
    real_commit = OutputFolder._commit

    def commit(self):
        with monkeypatch.context() as m:
            m.setattr(os, "replace", replace)
            real_commit(self)
    monkeypatch.setattr(OutputFolder, "_commit", commit)


@pytest.mark.parametrize("n", [1, 2, 3, 6, 10])  # 2 moves per file (old one aside, new one in): every stage
def test_a_failure_while_moving_the_files_in_puts_the_old_ones_back(earlier_run, capsys, monkeypatch, n):
    before = contents(earlier_run)
    replace = FailingReplace(n, OSError(28, "No space left on device"))
    while_moving_in(monkeypatch, replace)
    assert demo(earlier_run) == 1
    err = capsys.readouterr().err
    assert err == f"micrograd: error: writing the files failed: [Errno 28] No space left on device;" \
        f" nothing written to {str(earlier_run)!r}\n"
    assert contents(earlier_run) == before
    assert replace.calls >= n


def test_a_keyboard_interrupt_while_moving_the_files_in_puts_the_old_ones_back(earlier_run, capsys, monkeypatch):
    before = contents(earlier_run)
    while_moving_in(monkeypatch, FailingReplace(5, KeyboardInterrupt()))
    assert demo(earlier_run) == 130
    assert capsys.readouterr().err == \
        "micrograd: interrupted after training (3 epochs), while writing the files; nothing written\n"
    assert contents(earlier_run) == before


@pytest.mark.skipif(threading.current_thread() is not threading.main_thread(), reason="signals go to the main thread")
def test_a_real_ctrl_c_while_moving_the_files_in_waits_until_all_are_in(earlier_run, capsys, monkeypatch):
    real = os.replace
    calls = []

    def replace_and_press_ctrl_c(src, dst):
        if not calls:
            os.kill(os.getpid(), signal.SIGINT)  # as a user would, at the worst moment
        calls.append(dst)
        real(src, dst)
    while_moving_in(monkeypatch, replace_and_press_ctrl_c)
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)  # as in a terminal, even in a background job
    try:
        assert demo(earlier_run) == 130
        assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # put back as it was
    finally:
        signal.signal(signal.SIGINT, previous)
    assert capsys.readouterr().err == f"micrograd: interrupted after writing every file into {str(earlier_run)!r}\n"
    after = contents(earlier_run)
    assert sorted(after) == sorted([*OUTPUT_NAMES, "notes.txt"])
    assert all(after[name] != OLD[name] for name in OUTPUT_NAMES)
    assert len(calls) == 2 * len(OUTPUT_NAMES)  # each old file renamed aside, each new one moved in


def sigint_as_in_a_terminal():
    # A shell starts background jobs with SIGINT ignored, and the child would inherit that;
    # the default lets Python install the handler that turns Ctrl-C into KeyboardInterrupt.
    signal.signal(signal.SIGINT, signal.SIG_DFL)


@pytest.mark.skipif(os.name != "posix", reason="sends SIGINT to a child process")
def test_ctrl_c_in_a_real_process_prints_one_line_exits_130_and_writes_nothing(tmp_path):
    folder = tmp_path / "demo"
    command = [sys.executable, "-m", "micrograd", "demo", "--samples", "24", "--hidden", "4", "--epochs", "10000",
               "--no-progress", "--out", str(folder)]
    child = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                             env=subprocess_env(), cwd=tmp_path, preexec_fn=sigint_as_in_a_terminal)
    watchdog = threading.Timer(120, child.kill)  # a hang fails the test instead of blocking the suite
    watchdog.start()
    try:
        assert child.stdout is not None
        assert child.stdout.readline().startswith("data:")
        assert child.stdout.readline().startswith("model:")  # printed just before the first epoch
        child.send_signal(signal.SIGINT)
        out, err = child.communicate(timeout=120)
    finally:
        watchdog.cancel()
        child.kill()
    assert child.returncode == 130
    assert re.fullmatch(
        r"micrograd: interrupted (after epoch \d+|before the end of epoch 1) of 10000; nothing written\n", err
    ), err
    assert out == ""
    assert not folder.exists()


def test_a_diverging_run_exits_1_with_one_line_and_writes_nothing(earlier_run, capsys, monkeypatch):
    before = contents(earlier_run)
    real_fit = cli.fit

    def fit_from_huge_weights(model, *args, **kwargs):
        model.parameters()[0].data = 1e308  # where --lr 1e300 used to lead: the first forward pass overflows
        return real_fit(model, *args, **kwargs)
    monkeypatch.setattr(cli, "fit", fit_from_huge_weights)
    assert demo(earlier_run) == 1
    err = capsys.readouterr().err
    assert err.startswith("micrograd: error: training failed in epoch 1 of 3 (a smaller --lr may help): OverflowError:")
    assert err.endswith(f"; nothing written to {str(earlier_run)!r}\n") and err.count("\n") == 1
    assert contents(earlier_run) == before


def test_an_unexpected_error_is_one_line_too(capsys, monkeypatch):
    def broken():
        raise RuntimeError("something\nbroke")
    monkeypatch.setattr(cli, "worked_example", broken)
    assert main(["example"]) == 1
    assert capsys.readouterr().err == "micrograd: error: RuntimeError: something broke\n"


def test_demo_called_directly_raises_demo_interrupted_a_keyboard_interrupt(tmp_path, monkeypatch):
    monkeypatch.setattr(cli, "LinearLR", StopAfter)
    args = cli.build_parser().parse_args(["demo", *QUICK, "--out", str(tmp_path / "out")])
    with pytest.raises(KeyboardInterrupt, match="interrupted after epoch 2 of 3; nothing written") as caught:
        cli.demo(args)
    assert isinstance(caught.value, cli.DemoInterrupted)
    assert contents(tmp_path / "out") is None


def test_output_folder_refuses_a_name_it_was_not_given(tmp_path):
    with OutputFolder(tmp_path / "out", ["a.txt"]) as out:
        with pytest.raises(ValueError, match=r"OutputFolder has no file 'b.txt'; its files are \['a.txt'\]"):
            out.staging_path("b.txt")
        out.staging_path("a.txt").write_text("a")
    assert contents(tmp_path / "out") == {"a.txt": b"a"}
    with pytest.raises(ValueError, match="plain file names, got '../a.txt'"):
        OutputFolder(tmp_path, ["../a.txt"])


# --- circles, as they are ---------------------------------------------------------------------

def test_circles_are_two_rings_and_the_help_says_so(capsys):
    X, y = make_circles(200, factor=0.5, shuffle=False)
    radii = {label: {round(abs(complex(*x)), 12) for x, t in zip(X, y) if t == label} for label in (0, 1)}
    assert radii == {0: {1.0}, 1: {0.5}}  # every point on one of two circles: no point inside the inner one
    assert main(["demo", "--help"]) == 0
    text = capsys.readouterr().out
    assert "circles  two rings around one centre, the inner one of half the radius" in text
    assert "disc" not in text
    assert "Two rings around the origin" in (make_circles.__doc__ or "")
    assert cli.DATASETS["circles"].make(10, 0.0, 2, data.as_rng(0))[0][0] != [0.0, 0.0]


# --- a loss of exactly 0 on the log axis ----------------------------------------------------------

def test_a_held_out_loss_of_0_keeps_its_curve_on_a_symlog_axis():
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from micrograd.visual.plot import plot_history

    history = {"loss": [0.8, 0.3, 0.1, 0.05], "val_loss": [0.9, 0.2, 0.0, 0.0]}
    try:
        loss_ax, _ = plot_history(history)
        assert loss_ax.get_yscale() == "symlog"
        assert loss_ax.yaxis.get_transform().linthresh == 0.05  # linear below the least positive loss
        train, held = loss_ax.get_lines()
        assert list(held.get_ydata()) == [0.9, 0.2, 0.0, 0.0]
        loss_ax.figure.canvas.draw()
        assert loss_ax.get_ylim()[0] <= 0.0 < loss_ax.get_ylim()[1]  # 0 is inside the view
        # Every point has a place on the screen; a log axis sends 0 to -inf, where the line ends.
        on_screen = loss_ax.transData.transform(list(zip(held.get_xdata(), held.get_ydata())))
        assert all(math.isfinite(v) for point in on_screen for v in point)
        assert loss_ax.get_ylabel() == "loss (symlog: linear below 0.05, to show 0)"

        # Without a 0 it stays a log axis; a later run with a 0 on the same axes switches it.
        axes = plot_history({"loss": [1.0, 0.5]}, label="sgd")
        assert axes[0].get_yscale() == "log" and axes[0].get_ylabel() == "loss"
        plot_history({"loss": [1.0, 0.0]}, axes=axes, label="adam")
        assert axes[0].get_yscale() == "symlog" and axes[0].yaxis.get_transform().linthresh == 0.5
    finally:
        plt.close("all")


def test_the_demo_curves_use_symlog_when_the_held_out_loss_reaches_0(tmp_path, capsys, monkeypatch):
    pytest.importorskip("matplotlib")
    from micrograd.visual import plot

    # The default moons run's held-out hinge loss is exactly 0 from epoch 45 on; a made-up
    # history of that shape spares the test the 100 epochs.
    history = {"loss": [0.9, 0.4, 0.1], "accuracy": [0.5, 0.9, 1.0], "val_loss": [1.0, 0.3, 0.0],
               "val_accuracy": [0.5, 0.9, 1.0], "grad_norm": [1.0, 1.0, 1.0], "lr": [0.05, 0.035, 0.02]}
    monkeypatch.setattr(cli, "fit", lambda *args, **kwargs: history)
    seen = []
    real = plot.plot_history

    def spy(history, **kwargs):
        axes = real(history, **kwargs)
        seen.append((list(axes[0].get_lines()[1].get_ydata()), axes[0].get_yscale()))
        return axes
    monkeypatch.setattr(plot, "plot_history", spy)
    assert demo(tmp_path / "out") == 0
    assert seen == [([1.0, 0.3, 0.0], "symlog")]


# --- drop_last --------------------------------------------------------------------------------------

def test_batches_drop_last_leaves_out_only_a_short_last_batch():
    X, y = list(range(10)), [i * 10 for i in range(10)]
    kept = list(batches(X, y, 4, random_state=0, drop_last=True))
    assert [len(xb) for xb, _ in kept] == [4, 4]
    assert all(yi == 10 * xi for xb, yb in kept for xi, yi in zip(xb, yb))
    assert len({x for xb, _ in kept for x in xb}) == 8
    # drop_last=False (the default) is today's behaviour, to the sample and the order.
    assert list(batches(X, y, 4, random_state=0)) == list(batches(X, y, 4, random_state=0, drop_last=False))
    assert [len(xb) for xb, _ in batches(X, y, 4, random_state=0)] == [4, 4, 2]
    # Nothing to drop when the size divides; no batch at all when there are fewer samples (as PyTorch).
    assert [len(xb) for xb, _ in batches(X[:8], y[:8], 4, drop_last=True)] == [4, 4]
    assert list(batches(X[:3], y[:3], 4, drop_last=True)) == []
    assert list(batches(X, y, drop_last=True, shuffle=False)) == [(X, y)]
    assert list(batches([], [])) == []


def test_batches_drop_last_leaves_out_other_samples_each_epoch():
    rng = data.as_rng(0)
    left_out = [set(range(9)) - {x for xb, _ in batches(list(range(9)), [0] * 9, 4, random_state=rng,
                                                       drop_last=True) for x in xb} for _ in range(5)]
    assert all(len(s) == 1 for s in left_out) and len({min(s) for s in left_out}) > 1


def test_batches_drop_last_must_be_a_bool():
    with pytest.raises(TypeError, match="drop_last must be True or False, got str: 'yes'"):
        list(batches([1], [1], 1, drop_last="yes"))


def batchnorm_model():
    return Sequential(Layer(2, 4, nonlin=False, rng=data.as_rng(0)), BatchNorm1d(4),
                      Layer(4, 1, nonlin=False, rng=data.as_rng(1)))  # seeded: the same weights every time


def test_fit_with_batchnorm_and_a_last_batch_of_one_trains_with_drop_last():
    X, y = data.make_moons(9, noise=0.1, random_state=0)  # 9 = 4 + 4 + 1
    y = [2 * t - 1 for t in y]
    model = batchnorm_model()
    steps = []
    optimizer = SGD(model.parameters(), lr=0.1)
    real_step = optimizer.step
    optimizer.step = lambda: (steps.append(1), real_step())[1]
    history = fit(model, X, y, batch_size=4, drop_last=True, epochs=3, optimizer=optimizer, random_state=0,
                  progress=False)
    assert len(steps) == 6  # two batches of 4 an epoch; the ninth sample sits out
    assert len(history["loss"]) == 3 and all(v == v and v < float("inf") for v in history["loss"])


def test_fit_names_drop_last_before_training_when_batchnorm_would_get_a_batch_of_one():
    X, y = data.make_moons(9, noise=0.1, random_state=0)
    model = batchnorm_model()
    before = model.state_dict()
    with pytest.raises(ValueError, match=re.escape(
        "fit: the model's BatchNorm1d needs at least 2 samples per batch in training mode, 9 samples in batches of 4"
        " leave a last batch of 1; pass drop_last=True (or another batch_size)"
    )):
        fit(model, X, y, batch_size=4, epochs=1, progress=False)
    assert model.state_dict() == before  # refused before the first step
    with pytest.raises(ValueError, match="got batch_size=1; use batch_size >= 2"):
        fit(model, X, y, batch_size=1, epochs=1, progress=False)
    with pytest.raises(ValueError, match="got 1 sample"):
        fit(model, X[:1], y[:1], epochs=1, progress=False)


def test_fit_drop_last_with_fewer_samples_than_a_batch_is_refused():
    with pytest.raises(ValueError, match="drop_last=True and batch_size=16 has no batch to train on: there are 9"):
        fit(batchnorm_model(), [[0.0, 0.0]] * 9, [1] * 9, batch_size=16, drop_last=True, progress=False)


def test_fit_without_drop_last_is_unchanged_for_a_model_without_batchnorm():
    X, y = data.make_moons(9, noise=0.1, random_state=0)
    y = [2 * t - 1 for t in y]

    def run(**kwargs):
        model = Sequential(Layer(2, 3, rng=data.as_rng(0)), Layer(3, 1, nonlin=False, rng=data.as_rng(1)))
        return fit(model, X, y, batch_size=4, epochs=2, random_state=3, progress=False, **kwargs), model

    (h1, m1), (h2, m2) = run(), run(drop_last=False)
    assert h1 == h2 and m1.state_dict() == m2.state_dict()
    assert isinstance(m1.parameters()[0], Value)
