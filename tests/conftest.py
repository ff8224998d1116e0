"""Shared test configuration: hypothesis profiles, and the fixtures the drawing tests share.

`ci` (the default here): derandomized, so a run is repeatable, and no deadline, because the
machine is shared and timing is noisy. `dev`: random, more examples; select it with
`pytest --hypothesis-profile=dev`.
"""

import json
import os
import pathlib
import random

import pytest
from graphviz.backend import dot_command
from hypothesis import HealthCheck, settings

from micrograd.engine import Value
from micrograd.nn import MLP
from micrograd.visual import dot_program

DATA = pathlib.Path(__file__).parent / "data" / "moons_1337.json"

settings.register_profile(
    "ci", deadline=None, derandomize=True, max_examples=200, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile("dev", deadline=None, max_examples=1000)
settings.load_profile("ci")


# --- drawing (test_draw.py, test_step_pictures.py) -----------------------------------------

@pytest.fixture
def fallback_only(monkeypatch):
    """Behave as on a machine with no system Graphviz: only graphviz-pure can be used."""
    monkeypatch.setattr(dot_program, "_find_system_dot", lambda: None)
    monkeypatch.setattr(dot_command, "DOT_BINARY", pathlib.Path("dot"))
    monkeypatch.setattr(dot_program, "_configured", None)
    path = dot_program.configure_graphviz()
    assert path is not None and os.path.basename(path).startswith("graphviz-pure")
    yield path


@pytest.fixture(scope="module")
def demo_loss():
    """The demo's loss over all 100 points with 0.1.0's unfused neurons: 65,614 nodes."""
    random.seed(1337)
    model = MLP(2, [16, 16, 1], fused=False)
    data = json.loads(DATA.read_text())
    scores = [model([Value(x) for x in row]) for row in data["X"]]
    losses = [(1 + -yi * si).relu() for yi, si in zip(data["y"], scores)]
    loss = sum(losses) * (1.0 / len(losses)) + 1e-4 * sum(p * p for p in model.parameters())
    return loss, model, scores
