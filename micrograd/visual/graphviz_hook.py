"""Configure graphviz when it is imported, without importing it: `watch_for_graphviz()`.

karpathy's `trace_graph.ipynb` imports micrograd, then renders with the `graphviz` package
directly (`from graphviz import Digraph`), so pointing graphviz at a `dot` program (see
`micrograd.visual.dot_program`) must happen without the user asking. Importing graphviz in
`import micrograd` would cost every user its import time, so instead a finder on
`sys.meta_path` waits for the `graphviz` package to finish its own import and then runs
`configure_graphviz()`.

It waits for the package, not for `graphviz.backend.dot_command` (the module holding
`DOT_BINARY`): that module finishes while `graphviz/__init__.py` is still running, before
`graphviz.ExecutableNotFound` exists, which `dot_program` subclasses. Any import of a
graphviz module imports the package first, so `dot_command` is always there by then.

Standard library only: graphviz itself is neither imported here nor patched; the finder
asks the other finders for graphviz's real spec and wraps that spec's loader.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import sys
from types import ModuleType
from typing import Any, Optional, Sequence

__all__ = ["watch_for_graphviz"]

_WATCHED = "graphviz"


def watch_for_graphviz() -> None:
    """Run `configure_graphviz()` now if graphviz is imported, else when it is.

    Safe to call again: the finder is installed once.
    """
    if _WATCHED in sys.modules:
        _configure()
    elif not any(isinstance(finder, _GraphvizFinder) for finder in sys.meta_path):
        sys.meta_path.insert(0, _GraphvizFinder())


def _configure() -> None:
    from . import dot_program  # here, not at the top: it imports graphviz

    # When dot_program's own `import graphviz` brought us here, dot_program is still being
    # imported and has no configure_graphviz yet; it configures graphviz at its end itself.
    configure = getattr(dot_program, "configure_graphviz", None)
    if configure is not None:
        configure()


class _GraphvizFinder(importlib.abc.MetaPathFinder):
    """Finds nothing itself: hands back graphviz's real spec with a loader that configures
    graphviz once the package has run."""

    def find_spec(
        self, fullname: str, path: Optional[Sequence[str]], target: Optional[ModuleType] = None
    ) -> Optional[importlib.machinery.ModuleSpec]:
        if fullname != _WATCHED:
            return None
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec: Optional[importlib.machinery.ModuleSpec] = finder.find_spec(fullname, path, target)
            if spec is not None:
                if spec.loader is not None:
                    spec.loader = _ConfiguringLoader(spec.loader)
                return spec
        return None


class _ConfiguringLoader(importlib.abc.Loader):
    """The real loader of graphviz, plus `configure_graphviz()` after the module has run."""

    def __init__(self, loader: importlib.abc.Loader) -> None:
        self.loader = loader

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> Optional[ModuleType]:
        return self.loader.create_module(spec)

    def exec_module(self, module: ModuleType) -> None:
        self.loader.exec_module(module)
        _configure()

    def __getattr__(self, name: str) -> Any:  # get_resource_reader, get_filename, ...
        return getattr(self.loader, name)
