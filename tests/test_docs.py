"""The documentation site's configuration (mkdocs.yml, docs/) is complete and its examples run.

Without building the site: `mkdocs build --strict` is CI's own step after the test command
(.ci/run), because it executes every notebook. These tests catch, in the everyday test run, what
makes that build fail or the site incomplete: a public module with no API page, a nav entry
that points nowhere, a notebook missing from the nav, a README section that a page includes but
the README no longer marks, and a documented example that no longer runs or no longer gives
the numbers the page states. The checks that need MkDocs itself skip, saying so, without it
(`pip install -e ".[docs]"`).
"""

from __future__ import annotations

import importlib
import importlib.util
import pathlib
import pkgutil
import re
from typing import Any, Dict, List

import pytest

import micrograd

ROOT = pathlib.Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
CONFIG = ROOT / "mkdocs.yml"

# Modules that are not public API, so have no API page (tell the reader so: docs/api/index.md does).
INTERNAL = {"micrograd.arguments", "micrograd.lazy", "micrograd.__main__"}
INTERNAL_PACKAGES = ("micrograd.app",)  # the command line: `python -m micrograd demo --help` is its documentation


def load_hooks() -> Any:
    """docs/hooks.py, which says where each nav entry comes from (it needs no MkDocs for that)."""
    spec = importlib.util.spec_from_file_location("micrograd_docs_hooks", DOCS / "hooks.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


hooks = load_hooks()


def read_config() -> Dict[str, Any]:
    """mkdocs.yml as YAML, its MkDocs-specific tags (`!ENV [NAME, default]`) read as their default."""
    yaml = pytest.importorskip("yaml", reason="PyYAML reads mkdocs.yml (it comes with the dev and docs extras)")

    class Loader(yaml.SafeLoader):
        pass

    def env(loader: Any, node: Any) -> Any:
        # `!ENV [NAME, default]`: MkDocs reads the variable; without it set, the default applies.
        return loader.construct_sequence(node)[-1] if isinstance(node, yaml.SequenceNode) else None

    Loader.add_constructor("!ENV", env)
    return yaml.load(CONFIG.read_text(encoding="utf-8"), Loader=Loader)  # a SafeLoader: no arbitrary objects


def public_modules() -> List[str]:
    """Every module of the package except the internal ones: each must have an API page."""
    found = ["micrograd"]
    for info in pkgutil.walk_packages(micrograd.__path__, "micrograd."):
        name = info.name
        if name in INTERNAL or name.startswith(INTERNAL_PACKAGES) or name.rpartition(".")[2].startswith("_"):
            continue
        found.append(name)
    return found


def python_blocks(path: pathlib.Path) -> List[tuple]:
    """The ```python blocks of a Markdown page, each with the line it starts on."""
    text = path.read_text(encoding="utf-8")
    return [(text.count("\n", 0, m.start(1)), m.group(1)) for m in re.finditer(r"```python\n(.*?)```", text, re.S)]


def run_page(path: pathlib.Path) -> Dict[str, Any]:
    """Run a page's Python blocks top to bottom in one namespace, as a reader pasting them would;
    a failure's traceback points at the page's own line numbers."""
    namespace: Dict[str, Any] = {"__name__": "__docs__"}
    blocks = python_blocks(path)
    assert blocks, f"{path.name} has no ```python blocks"
    for line, block in blocks:
        code = compile("\n" * line + block, str(path), "exec")
        exec(code, namespace)
    return namespace


# --- the configuration ----------------------------------------------------------------------------


def test_mkdocs_yml_parses_and_uses_the_standard_stack():
    config = read_config()
    assert config["theme"]["name"] == "material"
    assert config["docs_dir"] == "docs"
    assert config["hooks"] == ["docs/hooks.py"]
    plugins = {next(iter(p)) if isinstance(p, dict) else p: (p[next(iter(p))] if isinstance(p, dict) else {})
               for p in config["plugins"]}
    assert {"search", "mkdocstrings", "mkdocs-jupyter"} <= set(plugins)
    assert plugins["mkdocstrings"]["handlers"]["python"]["options"]["docstring_style"] == "google"
    jupyter = plugins["mkdocs-jupyter"]
    assert jupyter["execute"] is True  # the site shows the notebooks' outputs (committed cleared)
    assert jupyter["allow_errors"] is False  # a notebook that raises fails the build
    assert jupyter["include"] == ["*.ipynb"]  # never docs/hooks.py or a Markdown page


def test_every_public_module_has_an_api_page():
    pages = set(hooks.api_modules(read_config()["nav"]))
    exported = set(micrograd._EXPORTS.values())  # every module the package's names come from
    missing = sorted((exported | set(public_modules())) - pages)
    assert not missing, (
        "public modules with no API page; add one line per module under 'API reference' in mkdocs.yml's nav, "
        + ", ".join(f"`- {m}: api/{m}.md`" for m in missing)
    )
    stale = sorted(pages - set(public_modules()))
    assert not stale, f"API pages for modules that are not public modules of the package: {stale}"


def test_every_nav_entry_points_to_a_page():
    for entry in hooks.nav_entries(read_config()["nav"]):
        notebook = hooks.notebook_source(entry)
        if notebook is not None:
            assert notebook.is_file(), f"the nav lists {entry}, but {notebook.relative_to(ROOT)} does not exist"
        elif not (DOCS / entry).is_file():
            assert hooks.generated_page(entry) is not None, f"the nav lists {entry}: no docs/{entry}, nothing generated"


def test_every_notebook_is_in_the_nav():
    entries = set(hooks.nav_entries(read_config()["nav"]))
    notebooks = sorted(p.name for p in (ROOT / "notebooks").glob("*.ipynb"))
    assert notebooks
    missing = [name for name in notebooks if f"notebooks/{name}" not in entries]
    assert not missing, f"notebooks not in mkdocs.yml's nav (under 'Notebooks'): {missing}"


def test_api_page_of_a_module_renders_it_from_its_docstrings():
    assert hooks.generated_page("api/micrograd.engine.md") == "# `micrograd.engine`\n\n::: micrograd.engine\n"


def test_api_page_of_a_package_lists_every_name_it_offers_with_a_link():
    page = hooks.generated_page("api/micrograd.md")
    assert "::: micrograd\n    options:\n      members: false" in page
    rows = [line for line in page.splitlines() if line.startswith("| [")]
    assert len(rows) == len(micrograd._EXPORTS)
    # a name defined in a module links to its entry there; a name that is a module links to its page
    assert "| [`Value`][micrograd.engine.Value] | [`micrograd.engine`](micrograd.engine.md) |" in rows
    optim = "micrograd.training.optim"
    assert f"| [`optim`]({optim}.md) | [`{optim}`]({optim}.md) |" in rows
    training = hooks.generated_page("api/micrograd.training.md")
    assert "| [`fit`][micrograd.training.fit.fit] | [`micrograd.training.fit`](micrograd.training.fit.md) |" in training


def test_a_page_written_by_hand_wins_over_a_generated_one():
    assert (DOCS / "api" / "index.md").is_file()
    assert hooks.generated_page("api/index.md") is None
    assert hooks.generated_page("faq.md") is None


def test_an_api_page_for_a_module_that_does_not_exist_fails_loudly():
    with pytest.raises(ModuleNotFoundError, match="micrograd.no_such_module"):
        hooks.generated_page("api/micrograd.no_such_module.md")


def test_the_notebooks_page_is_the_notebooks_readme_with_links():
    page = hooks.generated_page("notebooks/index.md")
    for path in sorted((ROOT / "notebooks").glob("*.ipynb")):
        assert f"[`{path.name}`]({path.name})" in page, f"notebooks/README.md does not mention {path.name}"


def test_every_included_readme_section_is_marked_in_the_readme():
    """`--8<-- "FILE:name"` includes FILE's lines between its `[start:name]` and `[end:name]` markers."""
    includes = [
        (page, file, section)
        for page in DOCS.rglob("*.md")
        for file, section in re.findall(r'^--8<-- "([^":]+):([\w-]+)"$', page.read_text(encoding="utf-8"), re.M)
    ]
    assert len(includes) >= 4  # the intro, the table of changes, the lecture's view, the layout
    for page, file, section in includes:
        text = (ROOT / file).read_text(encoding="utf-8")
        start, end = f"--8<-- [start:{section}]", f"--8<-- [end:{section}]"
        assert text.count(start) == 1 and text.count(end) == 1, f"{page.name} includes {file}:{section}, unmarked"
        assert 0 < text.index(end) - text.index(start), f"{file}: {section}'s end marker comes before its start"
    faq = (DOCS / "faq.md").read_text(encoding="utf-8")
    assert '--8<-- "README.md:changes"' in faq  # the table of differences from 0.1.0 lives in the README only


# --- the examples ---------------------------------------------------------------------------------


def test_the_faq_examples_run(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    namespace = run_page(DOCS / "faq.md")
    printed = capsys.readouterr().out
    assert "unsupported operand type(s) for +: 'int' and 'Plain'" in printed  # no __radd__: a TypeError
    assert "RecursionError" in printed  # __radd__ written as other + self
    assert "\n5.0\n" in printed and namespace["a"].grad == 4.0  # the naive recursion's 5.0, then the sorted pass's 4.0
    assert "db/da = 1 + 1 = 2" in printed  # explain on a + a: the two uses add
    assert namespace["runs"][0] == namespace["runs"][1]  # two processes, the same gradients


def test_the_faq_answers_every_question_the_issue_lists():
    faq = (DOCS / "faq.md").read_text(encoding="utf-8")
    questions = re.findall(r"^## (.+)$", faq, re.M)
    for words in ["__radd__", "+=", "topological sort", "zero_grad", "same numbers", "differ from micrograd 0.1.0"]:
        assert any(words in q for q in questions), f"no FAQ question about {words!r}: {questions}"
    for issue in [4, 39, 56, 57, 58, 76, 82, 64, 21, 90]:  # karpathy/micrograd's threads that ask them
        assert f"karpathy/micrograd/issues/{issue})" in faq, f"the FAQ does not cite karpathy/micrograd#{issue}"


def test_code_quoted_from_a_file_is_in_that_file():
    """A ```python title="FILE" block quotes FILE (it is shown, not run): every line of it must be there."""
    quoted = [
        (page, m.group(1), m.group(2))
        for page in DOCS.rglob("*.md")
        for m in re.finditer(r'```python title="([^"]+)"\n(.*?)```', page.read_text(encoding="utf-8"), re.S)
    ]
    assert quoted  # how-it-works.md quotes the engine's table of ops
    for page, file, block in quoted:
        source = (ROOT / file).read_text(encoding="utf-8")
        for line in filter(None, block.splitlines()):
            assert line in source, f"{page.name} quotes {file}, which no longer has the line {line!r}"


@pytest.mark.parametrize("page", ["index.md", "quickstart.md", "how-it-works.md"])
def test_the_pages_examples_run(page, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    run_page(DOCS / page)
    if page == "index.md":
        assert capsys.readouterr().out == "25.3610 29.5042 -20.1439\n"  # the numbers its comment states


# --- with MkDocs installed ------------------------------------------------------------------------


def test_mkdocs_loads_the_configuration_and_every_plugin(monkeypatch):
    pytest.importorskip("mkdocs", reason='MkDocs is not installed (pip install -e ".[docs]")')
    for plugin in ("material", "mkdocstrings", "mkdocstrings_handlers.python", "mkdocs_jupyter"):
        pytest.importorskip(plugin, reason=f'{plugin} is not installed (pip install -e ".[docs]")')
    from mkdocs.config import load_config

    monkeypatch.chdir(ROOT)
    monkeypatch.delenv("MICROGRAD_DOCS_EXECUTE", raising=False)
    config = load_config(str(CONFIG))  # validates every option, loads the theme, the plugins and the hooks
    assert config.theme.name == "material"
    assert {"material/search", "mkdocstrings", "mkdocs-jupyter", "docs/hooks.py"} <= set(config.plugins)
    assert config.plugins["mkdocs-jupyter"].config["execute"] is True  # `!ENV [..., true]` without the variable
    assert "docs/hooks.py" in config.hooks
    monkeypatch.setenv("MICROGRAD_DOCS_EXECUTE", "false")
    assert load_config(str(CONFIG)).plugins["mkdocs-jupyter"].config["execute"] is False
