"""The `micrograd` command: `demo` writes real pictures and a model and prints the history's
numbers, every data set trains, a seed fixes everything, bad arguments are named; `example`."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import xml.etree.ElementTree as ET

import pytest

from micrograd import serialize
from micrograd.app.cli import DATASETS, build_parser, main

# Small and quick: a 2-4-out model, a few epochs, no progress bar.
QUICK = ["--samples", "24", "--epochs", "3", "--hidden", "4", "--no-progress"]
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
SVG = "{http://www.w3.org/2000/svg}"


def run(tmp_path, capsys, *args, out="out"):
    """main(["demo", ...]) into tmp_path/out: (exit code, stdout, stderr, output folder)."""
    folder = tmp_path / out
    code = main(["demo", *QUICK, "--out", str(folder), *args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err, folder


def history_of(folder):
    return json.loads((folder / "history.json").read_text())


def svg_texts(path):
    """The text of every label in an SVG, in document order."""
    root = ET.parse(path).getroot()  # raises on anything but well-formed XML
    assert root.tag == f"{SVG}svg"
    return [t.text for t in root.iter(f"{SVG}text")]


def test_demo_writes_pngs_an_svg_a_model_and_a_history(tmp_path, capsys):
    code, out, err, folder = run(tmp_path, capsys)
    assert code == 0, err
    assert sorted(p.name for p in folder.iterdir()) == [
        "decision_boundary.png", "history.json", "model.json", "neuron.html", "neuron.svg", "training_curves.png",
    ]
    for png in ("decision_boundary.png", "training_curves.png"):
        assert (folder / png).read_bytes()[:8] == PNG_MAGIC
    model = serialize.load(folder / "model.json")
    assert [len(layer.neurons) for layer in model.layers] == [4, 1]
    assert len(history_of(folder)["loss"]) == 3
    for name in ("decision_boundary.png", "training_curves.png", "neuron.svg", "neuron.html", "model.json",
                 "history.json"):
        assert name in out


def test_demo_draws_an_expanded_neuron_that_the_input_switches_on(tmp_path, capsys):
    code, out, _, folder = run(tmp_path, capsys)
    root = ET.parse(folder / "neuron.svg").getroot()
    titles = [g.find(f"{SVG}title").text for g in root.iter(f"{SVG}g") if g.get("class") == "node"]
    graph = [t for t in titles if not t.startswith("legend")]
    assert len(graph) == 15  # 10 values (x0 x1 w0 w1 b, 2 products, 2 sums, out) and 5 ops (*, *, +, +, ReLU)
    texts = svg_texts(folder / "neuron.svg")
    for label in ("x0", "x1", "w0", "w1", "b", "out", "*", "+", "ReLU"):
        assert label in texts
    out_data = texts[texts.index("out") + 1]
    assert out_data.startswith("data ") and float(out_data.split()[1]) > 0  # ReLU on: gradients flow
    assert code == 0
    assert re.search(r"neuron\.svg .* first-layer neuron \d+ on training point \d+", out)


def test_the_demos_neuron_svg_has_a_legend_for_its_borders_and_edge_numbers(tmp_path, capsys):
    code, _, err, folder = run(tmp_path, capsys)
    assert code == 0, err
    root = ET.parse(folder / "neuron.svg").getroot()
    titles = [g.find(f"{SVG}title").text for g in root.iter(f"{SVG}g") if g.get("class") == "node"]
    assert titles.count("legend") == 1
    legend = " ".join(svg_texts(folder / "neuron.svg"))
    for words in ("legend", "blue border: a parameter", "green border: an input",
                  "a number on an edge into an op: the local derivative d(op)/d(input)"):
        assert words in legend
    assert "constant" not in legend  # every leaf here is a parameter or an input: nothing to explain
    # the swatches have the colours of the graph's own borders
    strokes = {g.find(f"{SVG}title").text: {p.get("stroke") for p in g.iter(f"{SVG}polygon")}
               for g in root.iter(f"{SVG}g") if g.get("class") == "node"}
    graph_strokes = set().union(*(s for t, s in strokes.items() if not t.startswith("legend")))
    legend_strokes = set().union(*(s for t, s in strokes.items() if t.startswith("legend")))
    assert {"#1f63b4", "#2a9d3a"} <= graph_strokes & legend_strokes


def test_demo_prints_the_final_numbers_of_its_history(tmp_path, capsys):
    code, out, _, folder = run(tmp_path, capsys)
    h = history_of(folder)
    assert f"final loss {h['loss'][-1]:.4g}, accuracy {h['accuracy'][-1]:.1%} on the training points" in out
    assert f"held out:  loss {h['val_loss'][-1]:.4g}, accuracy {h['val_accuracy'][-1]:.1%} on 6 points" in out
    assert "data:  moons, 24 points, noise 0.1, seed 1337: 18 to train on, 6 held out" in out
    assert "model: MLP 2-4-1 (17 parameters), hinge loss on -1/+1 labels + 1e-4 L2" in out


def test_demo_trains_with_the_compiled_step_and_eager_gives_the_same_files(tmp_path, capsys):
    code, out, _, folder = run(tmp_path, capsys, out="compiled")
    assert code == 0
    assert re.search(r"step:  compiled \(micrograd.compile\): [\d.]+ ms an epoch instead of [\d.]+ ms eager,"
                     r" [\d.]+x faster; the trace took [\d.]+ s and (paid for itself after \d+ epochs|did not pay)",
                     out)
    code, eager_out, _, eager_folder = run(tmp_path, capsys, "--eager", out="eager")
    assert code == 0
    assert "step:  eager (--eager)" in eager_out
    for name in ("history.json", "model.json", "neuron.svg"):
        assert (folder / name).read_bytes() == (eager_folder / name).read_bytes(), name

    def numbers(text):
        return re.sub(r"(done in|step: ) .*", "", text.replace(str(folder), "DIR").replace(str(eager_folder), "DIR"))

    assert numbers(out) == numbers(eager_out)


def test_demo_says_why_a_cross_entropy_run_trains_eagerly(tmp_path, capsys):
    code, out, _, _ = run(tmp_path, capsys, "--dataset", "spiral")
    assert code == 0
    assert "step:  eager, as a compiled step would not replay exactly: cross_entropy" in out


def test_demo_without_a_held_out_part_trains_on_every_point(tmp_path, capsys):
    code, out, _, folder = run(tmp_path, capsys, "--test-size", "0")
    assert code == 0
    assert "24 to train on, 0 held out" in out and "held out:" not in out
    assert "val_loss" not in history_of(folder)


@pytest.mark.parametrize("dataset, outputs", [("moons", 1), ("circles", 1), ("xor", 1), ("spiral", 3), ("blobs", 3)])
def test_each_data_set_trains_with_one_output_per_class_beyond_two(tmp_path, capsys, dataset, outputs):
    code, out, err, folder = run(tmp_path, capsys, "--dataset", dataset)
    assert code == 0, err
    model = serialize.load(folder / "model.json")
    assert len(model.layers[-1].neurons) == outputs
    assert (folder / "decision_boundary.png").read_bytes()[:8] == PNG_MAGIC
    loss = "hinge loss" if outputs == 1 else "cross-entropy over 3 classes"
    assert loss in out and f"data:  {dataset}," in out


def test_classes_sets_the_number_of_blobs(tmp_path, capsys):
    code, out, _, folder = run(tmp_path, capsys, "--dataset", "blobs", "--classes", "4")
    assert code == 0
    assert len(serialize.load(folder / "model.json").layers[-1].neurons) == 4
    assert "4 classes" in out


def test_demo_writes_a_stepper_through_the_neurons_backward_pass(tmp_path, capsys):
    code, out, _, folder = run(tmp_path, capsys)
    assert code == 0
    page = (folder / "neuron.html").read_text(encoding="utf-8")
    data = json.loads(re.search(r'<script type="application/json" id="steps">(.*?)</script>', page, re.S).group(1))
    assert len(data["steps"]) == 10  # one per value node of neuron.svg's graph
    assert data["steps"][0]["math"].startswith("dout/dout = 1")
    assert page.count("<svg") == 1 and "<script src" not in page and "<link" not in page
    assert "first-layer neuron" in page
    assert re.search(r"neuron\.html .* backward pass step by step", out)


def test_same_seed_same_numbers_and_files_other_seed_other_numbers(tmp_path, capsys):
    outs = {}
    for name, seed in (("a", "7"), ("b", "7"), ("c", "8")):
        code, out, _, folder = run(tmp_path, capsys, "--seed", seed, "--dataset", "spiral", out=name)
        assert code == 0
        outs[name] = re.sub(r"(done in|step: ) .*", "", out.replace(str(folder), "DIR"))
    a, b, c = (tmp_path / n for n in "abc")
    assert outs["a"] == outs["b"]
    for name in ("history.json", "model.json", "neuron.svg", "neuron.html"):
        assert (a / name).read_bytes() == (b / name).read_bytes(), name
    assert outs["a"] != outs["c"]
    assert (a / "model.json").read_bytes() != (c / "model.json").read_bytes()


@pytest.mark.parametrize(
    "args, message",
    [
        (
            ["--hidden", "16,x"],
            "argument --hidden: must be 1 to 8 layer widths separated by commas, each a whole number from 1 to 256"
            " (like 16,16), got '16,x'",
        ),
        (
            ["--hidden", "16,0"],
            "argument --hidden: must be 1 to 8 layer widths separated by commas, each a whole number from 1 to 256"
            " (like 16,16), got '16,0'",
        ),
        (
            ["--hidden", "16,,16"],
            "argument --hidden: must be 1 to 8 layer widths separated by commas, each a whole number from 1 to 256"
            " (like 16,16), got '16,,16'",
        ),
        (["--epochs", "0"], "argument --epochs: must be a whole number from 1 to 10000, got '0'"),
        (["--samples", "many"], "argument --samples: must be a whole number from 2 to 10000, got 'many'"),
        (["--dataset", "swiss"], "argument --dataset: invalid choice: 'swiss'"),
        (["--optimizer", "lbfgs"], "argument --optimizer: invalid choice: 'lbfgs'"),
        (["--lr", "0"], "argument --lr: must be a number > 0 and <= 10, got '0'"),
        (["--noise", "-0.1"], "argument --noise: must be a number >= 0 and <= 10, got '-0.1'"),
        (["--test-size", "1"], "argument --test-size: must be a number >= 0 and < 1, got '1'"),
        (["--seed", "x"], "argument --seed: invalid int value: 'x'"),
        (["--classes", "4"], "argument --classes: moons has 2 classes (--classes is for spiral and blobs), got 4"),
        (["--dataset", "spiral", "--classes", "1"], "argument --classes: must be a whole number from 2 to 20, got '1'"),
        (["--dataset", "spiral", "--samples", "3"],
         "argument --samples: 3 points with --test-size 0.25 leave 2 to train on; spiral needs at least 3"),
    ],
)
def test_bad_arguments_exit_2_naming_the_argument_and_the_value(tmp_path, capsys, args, message):
    folder = tmp_path / "never"
    assert main(["demo", "--out", str(folder), *args]) == 2
    captured = capsys.readouterr()
    assert message in captured.err
    assert captured.err.startswith("usage: micrograd demo")
    assert captured.out == "" and not folder.exists()


def test_an_out_that_is_a_file_is_refused_before_training(tmp_path, capsys):
    path = tmp_path / "taken"
    path.write_text("not a folder")
    assert main(["demo", "--out", str(path)]) == 2
    assert f"argument --out: must be a folder (or a new name), got the file {str(path)!r}" in capsys.readouterr().err
    assert path.read_text() == "not a folder"


def test_demo_help_mentions_every_option_and_data_set(capsys):
    assert main(["demo", "--help"]) == 0
    text = capsys.readouterr().out
    demo_parser = build_parser().parse_args(["demo"]).parser
    options = [s for action in demo_parser._actions for s in action.option_strings if s.startswith("--")]
    assert set(options) >= {"--dataset", "--samples", "--noise", "--classes", "--test-size", "--hidden",
                            "--epochs", "--optimizer", "--lr", "--seed", "--out", "--no-progress"}
    for option in options:
        assert option in text
    for name in DATASETS:
        assert name in text
    for name in ("decision_boundary.png", "training_curves.png", "neuron.svg", "neuron.html", "model.json"):
        assert name in text


def test_top_level_help_lists_the_commands(capsys):
    assert main(["--help"]) == 0
    text = capsys.readouterr().out
    assert "demo" in text and "example" in text and "With no command" in text


def test_example_prints_the_readme_expression_and_its_gradients(capsys):
    assert main(["example"]) == 0
    out = capsys.readouterr().out
    assert "g      = 24.7041" in out and "a.grad = 138.8338" in out and "b.grad = 645.5773" in out
    assert "demo" not in out


def test_no_command_runs_the_example_and_points_to_the_demo(capsys):
    assert main([]) == 0
    out = capsys.readouterr().out
    assert "a.grad = 138.8338" in out
    assert "python -m micrograd demo" in out and "--help" in out


def test_without_matplotlib_the_demo_trains_writes_the_svg_and_says_how_to_get_pngs(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)  # `import` of it now raises ImportError
    code, out, _, folder = run(tmp_path, capsys)
    assert code == 0
    assert sorted(p.name for p in folder.iterdir()) == ["history.json", "model.json", "neuron.html", "neuron.svg"]
    assert 'no PNGs: PNG plots need matplotlib: pip install "micrograd-lab[plot]"' in out
    assert "final loss" in out


def test_python_dash_m_micrograd_demo_runs_with_a_progress_bar(tmp_path):
    folder = tmp_path / "demo"
    result = subprocess.run(
        [sys.executable, "-m", "micrograd", "demo", "--epochs", "2", "--samples", "24", "--hidden", "4",
         "--out", str(folder)],
        capture_output=True, text=True, timeout=120, cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    assert "2/2" in result.stderr  # tqdm's bar: 2 epochs of 2
    h = json.loads((folder / "history.json").read_text())
    assert f"final loss {h['loss'][-1]:.4g}" in result.stdout
    assert (folder / "decision_boundary.png").read_bytes()[:8] == PNG_MAGIC


def test_the_default_demo_separates_the_moons_into_micrograd_demo(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["demo", "--no-progress"]) == 0
    out = capsys.readouterr().out
    h = history_of(tmp_path / "micrograd-demo")
    assert len(h["loss"]) == 100
    assert h["accuracy"][-1] == 1.0 and h["val_accuracy"][-1] == 1.0
    assert h["loss"][-1] < 0.02
    assert "data:  moons, 200 points, noise 0.1, seed 1337: 150 to train on, 50 held out" in out
    assert "model: MLP 2-16-16-1 (337 parameters), hinge loss on -1/+1 labels + 1e-4 L2;" \
        " adam, lr 0.05 decaying to 0.005 over 100 epochs" in out
    assert f"wrote, in micrograd-demo{os.sep}:" in out
