"""Lazy re-exports for a package: a name is imported from its module on first use.

A package's `__init__` maps each name it offers to the module that defines it, and gets its
module-level `__getattr__` and `__dir__` (PEP 562) from `lazy_exports`:

    _EXPORTS = {"SGD": "micrograd.training.optim", "optim": "micrograd.training.optim"}
    __getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
    __all__ = list(_EXPORTS)

Each name maps to the module it comes from: the name is that module's attribute (`SGD`),
or, when the module has no such attribute and is named after it, the module itself
(`optim`). So `import micrograd` imports no module it does not need yet, and none of
graphviz, tqdm, NumPy or matplotlib until a name that needs one is used. Standard library only.
"""

from __future__ import annotations

import importlib
import sys
from types import ModuleType
from typing import Any, Callable, List, Mapping, Tuple

__all__ = ["lazy_exports"]


def lazy_exports(package: str, exports: Mapping[str, str]) -> Tuple[Callable[[str], Any], Callable[[], List[str]]]:
    """`__getattr__` and `__dir__` for the package named `package`, offering each name in
    `exports` from the module it maps to (an absolute module name).

    The first access imports the module and stores the object on the package, so later
    accesses are plain attribute lookups. Unknown names raise AttributeError as Python does.
    """

    def __getattr__(name: str) -> Any:
        try:
            where = exports[name]
        except KeyError:
            raise AttributeError(f"module {package!r} has no attribute {name!r}") from None
        module = importlib.import_module(where)
        value = getattr(module, name, module)
        if value is module and where.rpartition(".")[2] != name:
            raise AttributeError(f"module {package!r} offers {name!r} from {where!r}, which has no such attribute")
        setattr(sys.modules[package], name, value)
        return value

    def __dir__() -> List[str]:
        own: ModuleType = sys.modules[package]
        return sorted(set(vars(own)) | set(exports))

    return __getattr__, __dir__
