"""The repository is lint-clean: ruff, configured in pyproject.toml, finds nothing.

Running ruff as a test makes the plain test command fail on a lint error, so a long line or an
unused import cannot slip in unnoticed. Skipped where ruff is not installed (it is in the dev extra).
"""

from __future__ import annotations

import pathlib
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent


def test_ruff_finds_nothing_in_the_repository():
    pytest.importorskip("ruff")
    result = subprocess.run(
        [sys.executable, "-m", "ruff", "check", "--no-cache", str(ROOT)],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, f"ruff check found problems:\n{result.stdout}{result.stderr}"
