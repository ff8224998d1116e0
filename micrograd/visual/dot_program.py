"""Finding a Graphviz `dot` program for the `graphviz` package, with no setup by the user.

The `graphviz` package renders by running the program named in its module global
`graphviz.backend.dot_command.DOT_BINARY` (by default `dot`, looked up on PATH), reading it
afresh on every render. So importing micrograd is enough to point it at a program (when
graphviz is imported: `micrograd.visual.graphviz_hook` waits for that):

1. a system Graphviz `dot` on PATH is used as is (we change nothing);
2. otherwise the `graphviz-pure` executable, a pip-installable Graphviz port that micrograd
   depends on; it takes `dot`'s command-line flags, so the `graphviz` package can run it
   unchanged (SVG, PNG, JPEG and text formats; no PDF);
3. otherwise rendering raises `DotNotFoundError`, which names both ways to get one.

We do not install a `dot` command of our own (a console-script shim): on PATH it would
shadow a system Graphviz for every other tool (Sphinx, pydot, make), which is why
graphviz-pure itself ships under another name. A Jupyter kernel often runs without its
virtual environment's `bin` on PATH, so graphviz-pure is also looked for next to the
running interpreter.
"""

from __future__ import annotations

import os
import pathlib
import shutil
import sys
import sysconfig
from typing import List, Optional

import graphviz
from graphviz.backend import dot_command

__all__ = ["DotNotFoundError", "find_dot", "configure_graphviz"]

_DEFAULT = pathlib.Path("dot")  # the graphviz package's own default
_PURE = "graphviz-pure"
_configured: Optional[pathlib.Path] = None  # what we set DOT_BINARY to, if we set it


class DotNotFoundError(graphviz.ExecutableNotFound):
    """No Graphviz `dot` program and no `graphviz-pure` executable could be found.

    A subclass of `graphviz.ExecutableNotFound`, so code that catches that still works.
    """

    def __init__(self, message: str) -> None:
        RuntimeError.__init__(self, message)


def _script_dirs() -> List[str]:
    """Where pip puts executables for this interpreter: the environment's and the user's."""
    dirs = [os.path.dirname(sys.executable)]
    for scheme in (None, f"{os.name}_user"):
        try:
            path = sysconfig.get_path("scripts", scheme) if scheme else sysconfig.get_path("scripts")
        except KeyError:  # no such install scheme on this platform
            continue
        if path and path not in dirs:
            dirs.append(path)
    return dirs


def _find_graphviz_pure() -> Optional[str]:
    """The `graphviz-pure` executable's path, on PATH or where pip installed it, or None."""
    found = shutil.which(_PURE)
    if found:
        return found
    for directory in _script_dirs():
        found = shutil.which(_PURE, path=directory)
        if found:
            return found
    return None


def _find_system_dot() -> Optional[str]:
    return shutil.which("dot")


def find_dot() -> str:
    """The path of the program the `graphviz` package should run to render.

    In order: the program you set yourself in `graphviz.backend.dot_command.DOT_BINARY`
    (if you changed it), a system `dot` on PATH, the `graphviz-pure` executable.

    Raises:
        DotNotFoundError: none of them exists; the message says how to get one.
    """
    current = pathlib.Path(dot_command.DOT_BINARY)
    if current != _DEFAULT and current != _configured:
        return str(current)  # the user's own choice: respect it
    found = _find_system_dot() or _find_graphviz_pure()
    if found is None:
        raise DotNotFoundError(
            "cannot render: found no Graphviz `dot` program on PATH and no `graphviz-pure` executable"
            f" (looked on PATH and in {', '.join(_script_dirs())}). Get either one:\n"
            "  - pip install graphviz-pure   (a pip-installable Graphviz port; micrograd depends on it,"
            " so reinstalling micrograd also brings it back), or\n"
            "  - install Graphviz itself: https://graphviz.org/download/"
            " (apt install graphviz, brew install graphviz, conda install graphviz, winget install graphviz)."
        )
    return found


def configure_graphviz() -> Optional[str]:
    """Point the `graphviz` package at a working program, if it has none of its own.

    A system `dot` on PATH, or a program you set yourself, is left alone; otherwise
    `DOT_BINARY` is set to the `graphviz-pure` executable. Run when this module is imported
    (`import micrograd` imports it as soon as graphviz is imported); call
    it again after installing or removing a Graphviz. Returns the program's path, or None
    (and changes nothing) when there is none; rendering then raises `DotNotFoundError`.
    """
    global _configured
    try:
        path = find_dot()
    except DotNotFoundError:
        path = None
    current = pathlib.Path(dot_command.DOT_BINARY)
    if current != _DEFAULT and current != _configured:
        return path  # set by the user
    if path is None or path == _find_system_dot():
        target = _DEFAULT  # a system dot is found by name, as the graphviz package expects
    else:
        target = pathlib.Path(path)
    dot_command.DOT_BINARY = target
    _configured = target if target != _DEFAULT else None
    return path


# On import (and `import micrograd` imports this module once graphviz is imported, see
# graphviz_hook): karpathy's trace_graph.ipynb imports graphviz and micrograd, then renders
# with graphviz directly, and must find a program without setup.
configure_graphviz()
