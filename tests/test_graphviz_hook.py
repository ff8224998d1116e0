"""`import micrograd` configures graphviz without importing it: the `dot` program is set
when graphviz itself is imported (micrograd.visual.graphviz_hook), in whichever order.

Each test runs a fresh interpreter with neither a system `dot` nor the environment's `bin`
on PATH, as in a Jupyter kernel, so graphviz-pure is what must be found.
"""

from __future__ import annotations

import os
import pathlib
import subprocess
import sys
import textwrap

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent


def run(code: str) -> str:
    env = dict(os.environ, PATH=os.pathsep.join(p for p in ("/usr/bin", "/bin") if os.path.isdir(p)))
    if any(os.path.exists(os.path.join(p, "dot")) for p in env["PATH"].split(os.pathsep)):
        pytest.skip("this machine has a system dot")
    code = f"import sys; sys.path.insert(0, {str(ROOT)!r})\n" + textwrap.dedent(code)
    result = subprocess.run([sys.executable, "-I", "-c", code], env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_importing_micrograd_then_graphviz_points_graphviz_at_graphviz_pure():
    out = run("""\
        import micrograd
        print("graphviz" in sys.modules)
        import graphviz
        print(graphviz.backend.dot_command.DOT_BINARY)
        """)
    before, binary = out.splitlines()
    assert before == "False"
    assert pathlib.Path(binary).name.startswith("graphviz-pure")


def test_importing_graphviz_first_configures_on_import_of_micrograd():
    out = run("""\
        from graphviz.backend import dot_command
        import micrograd
        print(dot_command.DOT_BINARY)
        """)
    assert pathlib.Path(out).name.startswith("graphviz-pure")


def test_importing_dot_program_directly_configures_as_before():
    out = run("""\
        from micrograd.visual import dot_program
        from graphviz.backend import dot_command
        print(dot_command.DOT_BINARY == dot_program.pathlib.Path(dot_program.find_dot()))
        """)
    assert out == "True"


def test_watching_twice_installs_one_finder_and_leaves_other_imports_alone():
    out = run("""\
        import micrograd
        from micrograd.visual.graphviz_hook import watch_for_graphviz, _GraphvizFinder
        watch_for_graphviz(); watch_for_graphviz()
        print(sum(isinstance(f, _GraphvizFinder) for f in sys.meta_path))
        import json, graphviz
        print(type(graphviz.__spec__.loader).__name__, json.__spec__.loader.__class__.__name__)
        """)
    count, loaders = out.splitlines()
    assert count == "1"
    assert loaders.split() == ["_ConfiguringLoader", "SourceFileLoader"]
