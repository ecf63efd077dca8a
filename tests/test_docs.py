"""The docs site (`mkdocs.yml`, `docs/`) builds strictly, offline, without
TensorFlow, and its API reference covers every public module and name.

`mkdocs build --strict` turns every warning into a failure: a broken link
or anchor, a page missing from the navigation, a `::: module` reference
that griffe cannot resolve (a module moved or renamed). The build runs in a
process where `tensorflow`, `keras` and `jax` cannot be imported, which
proves that the API reference is read from the source statically.
"""

import os
import re
import subprocess
import sys
from pathlib import Path

import griffe
import pytest

ROOT = Path(__file__).parents[1]
PACKAGE = ROOT / "textlstm"
API_PAGES = ROOT / "docs" / "api"
README = ROOT / "README.md"
DIRECTIVE = re.compile(r"^::: (textlstm(?:\.\w+)*)\s*$", re.MULTILINE)

# `python -m mkdocs ...` with the heavy frameworks made unimportable.
BUILD_WITHOUT_FRAMEWORKS = (
    "import runpy, sys; "
    "sys.modules.update(dict.fromkeys(['tensorflow', 'keras', 'jax'], None)); "
    "runpy.run_module('mkdocs', run_name='__main__', alter_sys=True)"
)


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    site_dir = tmp_path_factory.mktemp("site")
    result = subprocess.run(
        [sys.executable, "-c", BUILD_WITHOUT_FRAMEWORKS, "build", "--strict"]
        + ["--site-dir", str(site_dir)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return site_dir


def documented_modules() -> list[str]:
    """Modules named by a `::: module` directive of the API pages."""
    return sorted(
        {
            name
            for page in API_PAGES.glob("*.md")
            for name in DIRECTIVE.findall(page.read_text())
        }
    )


def static_package():
    """textlstm as griffe reads it for the docs (source only, no import)."""
    extensions = griffe.load_extensions(str(ROOT / "docs" / "_ext" / "docstrings.py"))
    return griffe.load(
        "textlstm",
        search_paths=[str(ROOT)],
        allow_inspection=False,
        extensions=extensions,
        resolve_aliases=True,
        resolve_external=False,
    )


def test_the_site_builds_strictly_without_tensorflow(site):
    pages = {path.relative_to(site).as_posix() for path in site.rglob("*.html")}
    assert {"index.html", "getting-started.html", "api/layers.html"} <= pages
    assert (site / "images" / "memory_lag.png").stat().st_size > 1000


def test_the_site_loads_nothing_from_the_network(site):
    external = re.compile(r"<(?:link|script|img)\b[^>]*(?:href|src)=\"(?:https?:)?//")
    offenders = [
        path.relative_to(site).as_posix()
        for path in site.rglob("*.html")
        if external.search(path.read_text())
    ]
    assert offenders == []


def test_generated_parts_are_filled_in(site):
    cli = (site / "cli.html").read_text()
    assert "<!-- textlstm:" not in cli  # every marker expanded
    assert "Usage: textlstm fit [OPTIONS]" in cli
    assert "<code>model.cell</code>" in cli and "<code>train.seed</code>" in cli


def test_every_public_module_has_an_api_page():
    documented = documented_modules()
    modules = [
        f"textlstm.{path.stem if path.is_file() else path.name}"
        for path in sorted(PACKAGE.iterdir())
        if not path.name.startswith("_")
        and (path.suffix == ".py" or (path / "__init__.py").is_file())
    ]
    missing = [
        module
        for module in modules
        if not any(
            name == module or name.startswith(f"{module}.") for name in documented
        )
    ]
    assert missing == [], f"add `::: <module>` to a page of docs/api/ for {missing}"


def test_every_name_in_all_has_an_entry(site):
    """Classes and functions always (so each needs a docstring); constants
    when documented (a `#:` comment above them)."""
    html = "".join(path.read_text() for path in (site / "api").glob("*.html"))
    anchors = set(re.findall(r'id="(textlstm[\w.]*)"', html))
    package, missing = static_package(), []
    for path in documented_modules():
        module = package[path.removeprefix("textlstm.")]
        if not module.is_module:  # a `::: module.Class` directive
            continue
        for name in sorted(map(str, module.exports or ())):
            member = module.members.get(name)  # None: loaded lazily (explain)
            target = member.final_target if member and member.is_alias else member
            if target and target.is_attribute and not target.has_docstring:
                continue
            entry = re.compile(rf"^{re.escape(path)}(\.\w+)*\.{re.escape(name)}$")
            if not any(entry.match(anchor) for anchor in anchors):
                missing.append(f"{path}.{name}")
    assert missing == [], f"no API entry (or no docstring) for {missing}"


def test_the_readme_links_to_pages_that_exist(site):
    links = re.findall(r"\]\((docs/[^)#\s]+\.md)(?:#([\w-]+))?\)", README.read_text())
    assert len(links) >= 8
    broken = []
    for page, anchor in links:
        built = site / Path(page).relative_to("docs").with_suffix(".html")
        if not (ROOT / page).is_file() or not built.is_file():
            broken.append(page)
        elif anchor and f'id="{anchor}"' not in built.read_text():
            broken.append(f"{page}#{anchor}")
    assert broken == []
