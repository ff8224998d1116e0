"""The package's layers: what each imports, read from the source with `ast`, and what
`import micrograd` loads, checked in a fresh interpreter.

    arguments, lazy            standard library only
    engine                     the autograd engine
    nn, steps, symbolic,       modules; the passes one step at a time; formulas, central
    numeric, explanation,      differences, the worked chain rule behind a gradient, and
    compiler, batched          a graph replayed as generated Python; one example's graph run for a
                               whole batch (NumPy, imported lazily)
    training | testing         side by side: neither imports the other (testing holds the
                               checking tools: finite differences, strategies, the bridge to PyTorch)
    visual                     drawings and plots
    exercises                  exercises with feedback (use all of the above)
    app, micrograd/__init__    the command line, and the package's front door

Each module imports only from its own layer or those below it, and the module graph has no
cycle, including imports made inside functions (they are cycles waiting for a caller).
"""

from __future__ import annotations

import ast
import json
import pathlib
import re
import subprocess
import sys
import types
from typing import Dict, List, Optional, Set

import pytest

import micrograd

ROOT = pathlib.Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "micrograd"
HEAVY = ("graphviz", "tqdm", "numpy", "matplotlib", "hypothesis", "torch")
SIDE_BY_SIDE = 3  # the layer of training and testing, which must not import each other

LAYERS = [
    {"micrograd.arguments", "micrograd.lazy"},
    {"micrograd.engine"},
    {"micrograd.nn", "micrograd.steps", "micrograd.symbolic", "micrograd.numeric", "micrograd.explanation",
     "micrograd.compiler", "micrograd.batched"},
    {"micrograd.training", "micrograd.testing"},
    {"micrograd.visual"},
    {"micrograd.exercises"},
    {"micrograd.app", "micrograd.__main__", "micrograd"},
]


# --- the import graph, from the source -------------------------------------------------------

def module_name(path: pathlib.Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


SOURCES = {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def is_package(module: str) -> bool:
    return SOURCES[module].name == "__init__.py"


def imports_of(module: str) -> Dict[str, List[str]]:
    """The micrograd modules `module` imports (anywhere in the file, functions included),
    each with the names it takes from there (empty for `import x`)."""
    tree = ast.parse(SOURCES[module].read_text(), filename=str(SOURCES[module]))
    package = module if is_package(module) else module.rpartition(".")[0]
    found: Dict[str, List[str]] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                found.setdefault(alias.name, [])
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                source = ".".join(base + ([node.module] if node.module else []))
            else:
                source = node.module or ""
            for alias in node.names:
                submodule = f"{source}.{alias.name}"
                if submodule in SOURCES:
                    found.setdefault(submodule, [])  # `from . import losses`: the module itself
                else:
                    found.setdefault(source, []).append(alias.name)
    return {target: names for target, names in found.items() if target.split(".")[0] == "micrograd"}


GRAPH = {module: sorted(imports_of(module)) for module in SOURCES}


def layer_of(module: str) -> Optional[int]:
    """The index in LAYERS of the layer holding `module` (a subpackage holds its modules)."""
    for i, layer in enumerate(LAYERS):
        if module in layer or any(module.startswith(top + ".") for top in layer - {"micrograd"}):
            return i
    return None


def find_cycle(graph: Dict[str, List[str]]) -> Optional[List[str]]:
    """A cycle in `graph` as a list of modules (first == last), or None. Iterative DFS."""
    state: Dict[str, int] = {}  # 1: on the current path, 2: done
    for start in graph:
        if start in state:
            continue
        path, stack = [start], [iter(graph[start])]
        state[start] = 1
        while stack:
            target = next(stack[-1], None)
            if target is None:
                state[path.pop()] = 2
                stack.pop()
            elif state.get(target) == 1:
                return path[path.index(target):] + [target]
            elif target not in state and target in graph:
                state[target] = 1
                path.append(target)
                stack.append(iter(graph[target]))
    return None


def loaded_heavy_modules(statement: str) -> List[str]:
    """The heavy third-party modules loaded by `statement` in an isolated interpreter
    (`-I`: no PYTHONPATH, no user site, not the current directory) running this checkout."""
    code = (
        f"import sys; sys.path.insert(0, {str(ROOT)!r}); {statement}; import json; "
        f"print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in {HEAVY!r})))"
    )
    result = subprocess.run([sys.executable, "-I", "-c", code], capture_output=True, text=True, check=True)
    return json.loads(result.stdout)


# --- what importing loads ----------------------------------------------------------------------

def test_importing_the_engine_loads_no_third_party_library():
    assert loaded_heavy_modules("import micrograd.engine") == []


def test_importing_micrograd_loads_no_third_party_library():
    assert loaded_heavy_modules("import micrograd") == []


def test_importing_training_and_finite_differences_loads_no_third_party_library():
    statement = "import micrograd.training, micrograd.testing.finite_differences; micrograd.training.fit"
    assert loaded_heavy_modules(statement) == []


def test_the_bridge_to_pytorch_imports_pytorch_only_when_called():
    # An add-on in the testing layer: offered by `micrograd`, but PyTorch is optional and heavy.
    statement = "import micrograd, micrograd.testing.torch_bridge; micrograd.to_torch; micrograd.compare_with_torch"
    assert loaded_heavy_modules(statement) == []
    assert layer_of("micrograd.testing.torch_bridge") == SIDE_BY_SIDE
    assert set(GRAPH["micrograd.testing.torch_bridge"]) == {"micrograd.engine", "micrograd.arguments"}


def test_importing_the_exercise_catalogue_loads_no_third_party_library():
    assert loaded_heavy_modules("import micrograd.exercises.catalogue, micrograd.app.exercise_commands") == []


# --- the import graph ----------------------------------------------------------------------------

def test_the_graph_reader_sees_relative_absolute_and_function_level_imports():
    # Guards the tests below: if the reader missed imports, they would pass vacuously.
    assert "micrograd.engine" in GRAPH["micrograd.nn"]  # from .engine import ...
    assert "micrograd.training.losses" in GRAPH["micrograd.training.fit"]  # from . import losses
    assert "micrograd.visual.plot" in GRAPH["micrograd.app.cli"]  # inside a function: from ..visual import plot
    assert "micrograd.visual.dot_program" in GRAPH["micrograd.visual.graphviz_hook"]  # inside a function
    assert find_cycle({"a": ["b"], "b": ["c"], "c": ["a"], "d": []}) == ["a", "b", "c", "a"]


def test_no_import_cycles_among_micrograd_modules():
    cycle = find_cycle(GRAPH)
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])


def test_every_module_belongs_to_a_layer():
    assert [m for m in SOURCES if layer_of(m) is None] == []


def test_each_layer_above_the_engine_imports_only_its_own_layer_and_those_below():
    wrong = []
    for module, targets in GRAPH.items():
        if module == "micrograd.engine":
            continue  # its own test below
        mine = layer_of(module)
        assert mine is not None, module
        for target in targets:
            theirs = layer_of(target)
            sideways = mine == theirs == SIDE_BY_SIDE and target.split(".")[:2] != module.split(".")[:2]
            if theirs is None or theirs > mine or sideways:
                wrong.append(f"{module} imports {target}")
    assert wrong == []


def test_visual_may_import_the_layers_below_but_not_the_app():
    for module in (m for m in GRAPH if m.startswith("micrograd.visual")):
        assert not [t for t in GRAPH[module] if t.startswith("micrograd.app") or t == "micrograd"], module


def test_exercises_import_no_app():
    for module in (m for m in GRAPH if m.startswith("micrograd.exercises")):
        assert not [t for t in GRAPH[module] if t.startswith("micrograd.app") or t == "micrograd"], module


def test_training_imports_neither_visual_nor_the_app():
    for module in (m for m in GRAPH if m.startswith("micrograd.training")):
        bad = [t for t in GRAPH[module] if t.startswith(("micrograd.visual", "micrograd.app")) or t == "micrograd"]
        assert bad == [], module


def test_the_engine_imports_only_arguments_and_the_standard_library():
    tree = ast.parse(SOURCES["micrograd.engine"].read_text())
    absolute = {alias.name.split(".")[0] for node in ast.walk(tree)
                if isinstance(node, ast.Import) for alias in node.names}
    absolute |= {node.module.split(".")[0] for node in ast.walk(tree)
                 if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module}
    assert set(GRAPH["micrograd.engine"]) <= {"micrograd.arguments"}
    assert absolute - {"__future__"} <= set(sys.stdlib_module_names)


def test_no_module_imports_a_private_name_from_another():
    private = [
        f"{module} imports {name} from {source}"
        for module in SOURCES
        for source, names in imports_of(module).items()
        for name in names
        if name.startswith("_") and not re.fullmatch(r"__\w+__", name)
    ]
    assert private == []


# --- the names micrograd offers ----------------------------------------------------------------

@pytest.mark.parametrize("package", [micrograd, micrograd.training, micrograd.testing, micrograd.visual,
                                     micrograd.exercises])
def test_every_name_a_package_offers_resolves_and_is_listed(package: types.ModuleType):
    for name in package.__all__:
        assert getattr(package, name) is not None, name
    assert set(package.__all__) <= set(dir(package))


@pytest.mark.parametrize("package", ["micrograd.training", "micrograd.testing", "micrograd.visual"])
def test_a_subpackage_offers_exactly_its_modules_public_names(package: str):
    public: Set[str] = set()
    for module in (m for m in SOURCES if m.startswith(package + ".")):
        tree = ast.parse(SOURCES[module].read_text())
        for node in tree.body:
            if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "__all__" for t in node.targets):
                public |= set(ast.literal_eval(node.value))
    assert set(sys.modules[package].__all__) == public


def test_top_level_module_names_are_the_modules_in_their_layers():
    assert micrograd.optim is micrograd.training.optim
    assert micrograd.data is micrograd.training.data
    assert micrograd.serialize.load is micrograd.load
    assert micrograd.nn is sys.modules["micrograd.nn"]
    assert isinstance(micrograd.testing, types.ModuleType) and callable(micrograd.testing.gradcheck)


def test_fit_is_the_function_however_its_module_was_imported_first():
    code = (
        f"import sys; sys.path.insert(0, {str(ROOT)!r}); import micrograd.training.fit; "
        "module = sys.modules['micrograd.training.fit']; from micrograd.training import fit; import micrograd; "
        "print(callable(fit), fit is micrograd.fit, fit is module.fit)"
    )
    result = subprocess.run([sys.executable, "-I", "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.split() == ["True", "True", "True"]


def test_an_unknown_name_is_an_attribute_error_as_for_any_module():
    with pytest.raises(AttributeError, match=r"^module 'micrograd' has no attribute 'x'$"):
        micrograd.x  # noqa: B018
    with pytest.raises(AttributeError, match=r"^module 'micrograd.training' has no attribute 'plot'$"):
        micrograd.training.plot  # noqa: B018
