"""Every notebook in notebooks/ is committed tidy: valid nbformat 4, outputs cleared, a seed in
its first code cell, micrograd imported, and the python3 kernel.

These tests only read the files. Running each notebook top to bottom is nbmake's job: plain
`python -m pytest` does both, since pytest is configured with `--nbmake`.
"""

from __future__ import annotations

import ast
import pathlib
from typing import Iterator, List

import nbformat
import pytest

NOTEBOOK_DIR = pathlib.Path(__file__).resolve().parent.parent / "notebooks"
NOTEBOOKS = sorted(NOTEBOOK_DIR.glob("*.ipynb"))
SEED_FUNCTIONS = {"seed", "manual_seed"}  # random.seed, np.random.seed, torch.manual_seed, ...

each_notebook = pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])


def read(path: pathlib.Path) -> nbformat.NotebookNode:
    return nbformat.read(path, as_version=nbformat.NO_CONVERT)  # as committed: no upgrade on the way in


def code_cells(nb: nbformat.NotebookNode) -> List[nbformat.NotebookNode]:
    return [cell for cell in nb.cells if cell.cell_type == "code"]


def python_of(cell: nbformat.NotebookNode) -> ast.Module:
    """The cell's source as Python, without IPython's `%magic` and `!shell` lines."""
    lines = [line for line in cell.source.splitlines() if not line.lstrip().startswith(("%", "!"))]
    return ast.parse("\n".join(lines))


def calls(tree: ast.AST) -> Iterator[str]:
    """The names of the functions called in `tree` (`np.random.seed(0)` gives "seed")."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            f = node.func
            if isinstance(f, ast.Attribute):
                yield f.attr
            elif isinstance(f, ast.Name):
                yield f.id


def imports_micrograd(tree: ast.AST) -> bool:
    for node in ast.walk(tree):
        if isinstance(node, ast.Import) and any(a.name.split(".")[0] == "micrograd" for a in node.names):
            return True
        if isinstance(node, ast.ImportFrom) and node.level == 0 and (node.module or "").split(".")[0] == "micrograd":
            return True
    return False


def test_the_notebooks_directory_has_notebooks():
    assert NOTEBOOKS, f"no notebooks found in {NOTEBOOK_DIR}"


@each_notebook
def test_notebook_is_valid_nbformat_4(path):
    nb = read(path)
    assert nb.nbformat == 4, f"{path.name} is nbformat {nb.nbformat}, expected 4"
    nbformat.validate(nb)  # raises ValidationError naming the offending field


@each_notebook
def test_notebook_is_committed_with_outputs_cleared(path):
    nb = read(path)
    dirty = [
        f"cell {i} (execution_count={cell.execution_count!r}, {len(cell.outputs)} outputs): {cell.source[:60]!r}"
        for i, cell in enumerate(nb.cells)
        if cell.cell_type == "code" and (cell.outputs or cell.execution_count is not None)
    ]
    assert not dirty, f"{path.name} has outputs or execution counts; clear them before committing:\n" + "\n".join(dirty)
    # Saved ipywidgets state is output too (Jupyter's "Save Widget State"): megabytes of JSON.
    assert "widgets" not in nb.metadata, f"{path.name} has saved widget state in its metadata"


@each_notebook
def test_first_code_cell_sets_a_seed(path):
    cells = code_cells(read(path))
    assert cells, f"{path.name} has no code cells"
    called = set(calls(python_of(cells[0])))
    assert called & SEED_FUNCTIONS, (
        f"{path.name}: the first code cell should seed the random generators (random.seed(...)),"
        f" so every run gives the numbers the prose states; it calls {sorted(called) or 'nothing'}"
    )


@each_notebook
def test_notebook_imports_micrograd(path):
    cells = code_cells(read(path))
    assert any(imports_micrograd(python_of(cell)) for cell in cells), (
        f"{path.name} never imports micrograd (`import micrograd` or `from micrograd... import ...`)"
    )


@each_notebook
def test_notebook_kernel_is_python3(path):
    kernelspec = read(path).metadata.get("kernelspec", {})
    assert kernelspec.get("name") == "python3", (
        f"{path.name} has kernelspec {dict(kernelspec)!r}, expected name 'python3'"
    )
