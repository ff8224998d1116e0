"""MkDocs hooks (mkdocs.yml `hooks:`): the pages of the site that are not files in docs/.

- `api/<module>.md`, for every such entry in the nav: `::: <module>` (mkdocstrings renders the
  module from its docstrings), and for a package with lazy exports (`_EXPORTS`, see
  `micrograd.lazy`) a table of every name it offers, each linked to where it is documented.
  So documenting a new module is one line in mkdocs.yml's nav, and a name that the package
  offers but no page documents is a broken reference, which `mkdocs build --strict` refuses.
- `notebooks/<name>.ipynb` for every notebook in notebooks/ (mkdocs-jupyter renders them), and
  `notebooks/index.md`: notebooks/README.md with each notebook's file name made a link.

The functions that say where a nav entry comes from need no MkDocs, so tests/test_docs.py
uses them to check the configuration without building the site.
"""

from __future__ import annotations

import importlib
import os
import pathlib
import re
from typing import Any, Callable, Dict, Iterator, List, Optional, TypeVar

T = TypeVar("T")

try:
    from mkdocs.plugins import event_priority
except ImportError:  # tests/test_docs.py imports this file without MkDocs installed

    def event_priority(priority: float) -> Callable[[T], T]:
        return lambda f: f


REPO = pathlib.Path(__file__).resolve().parent.parent
DOCS = REPO / "docs"
NOTEBOOKS = REPO / "notebooks"
API_PAGE = re.compile(r"^api/(?P<module>[A-Za-z_][\w.]*)\.md$")
NOTEBOOK_PAGE = re.compile(r"^notebooks/(?P<name>[^/]+\.ipynb)$")
NOTEBOOKS_INDEX = "notebooks/index.md"


def nav_entries(nav: Any) -> Iterator[str]:
    """Every page path in a MkDocs nav (the `nav:` list of mkdocs.yml), in order."""
    if isinstance(nav, str):
        yield nav
    elif isinstance(nav, list):
        for item in nav:
            yield from nav_entries(item)
    elif isinstance(nav, dict):
        for value in nav.values():
            yield from nav_entries(value)


def api_modules(nav: Any) -> List[str]:
    """The modules that have an API page in the nav (`api/micrograd.engine.md` -> `micrograd.engine`)."""
    return [m.group("module") for m in map(API_PAGE.match, nav_entries(nav)) if m and m.group("module") != "index"]


def notebook_source(src_uri: str) -> Optional[pathlib.Path]:
    """The notebook file behind a nav entry `notebooks/<name>.ipynb`, or None for any other entry."""
    m = NOTEBOOK_PAGE.match(src_uri)
    return NOTEBOOKS / m.group("name") if m else None


def generated_page(src_uri: str) -> Optional[str]:
    """The Markdown of a page this hook generates for `src_uri`, or None if it generates none.

    A page that exists in docs/ wins: `api/index.md` is written by hand.
    """
    if (DOCS / src_uri).exists():
        return None
    if src_uri == NOTEBOOKS_INDEX:
        return notebooks_index()
    m = API_PAGE.match(src_uri)
    return api_page(m.group("module")) if m else None


def api_page(module: str) -> str:
    """`::: module`, and for a package with lazy exports the table of the names it offers."""
    imported = importlib.import_module(module)  # an API page for a module that does not import fails here
    exports: Optional[Dict[str, str]] = getattr(imported, "_EXPORTS", None)
    lines = [f"# `{module}`", ""]
    if exports is None:
        lines += [f"::: {module}", ""]
        return "\n".join(lines)
    lines += [
        f"::: {module}",
        "    options:",
        "      members: false",
        "",
        "## Names it offers",
        "",
        f"`from {module} import NAME` works for each name below; it is imported from its module on first use,",
        f"so `import {module}` stays quick. Each is documented on its module's page.",
        "",
        "| name | defined in |",
        "|---|---|",
    ]
    for name, where in exports.items():
        if where.rpartition(".")[2] == name and not hasattr(importlib.import_module(where), name):
            target = f"[`{name}`]({where}.md)"  # the name is the module itself (`micrograd.nn`)
        else:
            target = f"[`{name}`][{where}.{name}]"
        lines.append(f"| {target} | [`{where}`]({where}.md) |")
    lines.append("")
    return "\n".join(lines)


def notebooks_index() -> str:
    """notebooks/README.md, with each `NN_name.ipynb` made a link to its rendered page."""
    text = (NOTEBOOKS / "README.md").read_text(encoding="utf-8")
    return re.sub(r"`(\d\d_\w+\.ipynb)`", r"[`\1`](\1)", text)


# --- MkDocs events ---------------------------------------------------------------------------


def on_config(config: Any) -> Any:
    # Notebooks executed by mkdocs-jupyter show matplotlib figures inline, whatever backend the
    # shell that runs `mkdocs` chose (the test suite sets Agg, which would show none).
    os.environ["MPLBACKEND"] = "module://matplotlib_inline.backend_inline"
    return config


@event_priority(50)  # before mkdocs-jupyter's on_files (priority 0), which turns .ipynb files into pages
def on_files(files: Any, config: Any) -> Any:
    from mkdocs.structure.files import File

    wanted = list(nav_entries(config.nav or []))
    wanted += [f"notebooks/{p.name}" for p in sorted(NOTEBOOKS.glob("*.ipynb"))]  # in the nav or not
    for src_uri in dict.fromkeys(wanted):
        if files.get_file_from_path(src_uri) is not None:
            continue
        notebook = notebook_source(src_uri)
        if notebook is not None:
            if notebook.exists():  # a real file under the repository (mkdocs-jupyter re-reads it from there)
                files.append(File(src_uri, str(REPO), config.site_dir, config.use_directory_urls))
            continue  # a missing notebook stays missing: MkDocs reports the nav entry
        content = generated_page(src_uri)
        if content is not None:
            files.append(File.generated(config, src_uri, content=content))
    return files
