"""The package ships `py.typed`, so its annotations are a promise: mypy --strict must pass."""

import pathlib
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent


def test_package_is_marked_typed():
    assert (ROOT / "micrograd" / "py.typed").exists()


def test_mypy_strict_passes_on_the_package():
    pytest.importorskip("mypy")
    # Settings (strict, files, per-library overrides) come from pyproject.toml's [tool.mypy].
    result = subprocess.run(
        [sys.executable, "-m", "mypy", "--no-error-summary"], cwd=ROOT, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr
