"""The README's Python examples run as written, top to bottom in one namespace, the way a
reader would paste them (the hypothesis example's tests are called too)."""

import pathlib
import re

import pytest

README = (pathlib.Path(__file__).resolve().parent.parent / "README.md").read_text()
BLOCKS = re.findall(r"```python\n(.*?)```", README, re.S)


def test_readme_has_examples():
    assert len(BLOCKS) >= 8


def test_readme_examples_run(tmp_path, monkeypatch, capsys):
    pytest.importorskip("hypothesis")
    monkeypatch.chdir(tmp_path)  # save_frames and friends write here
    namespace: dict = {}
    for block in BLOCKS:
        exec(compile(block, "README.md", "exec"), namespace)
    namespace["test_cube"]()
    namespace["test_graphs"]()
    printed = capsys.readouterr().out
    assert "24.7041\n138.8338\n645.5773" in printed  # the drop-in example's documented results
    assert namespace["history"]["accuracy"][-1] == 1.0
    assert round(namespace["history"]["loss"][0], 4) == 0.9094 and round(namespace["history"]["loss"][-1], 4) == 0.0163
    assert len(list((tmp_path / "frames").glob("step_*.png"))) == 7
    assert (tmp_path / "steps.html").read_text().count("<svg") == 1
    assert "BackwardStep(3/7: 'd' pushed grad=-2.0 to 2 parents)\n" in printed  # as the stepper's comment says
    # the worked calculation the README shows is the one explain prints, line for line
    shown = re.search(r"print\(explain\(a, L\)\).*?```\n```text\n(.*?)```", README, re.S)
    assert shown is not None and shown.group(1) in printed
