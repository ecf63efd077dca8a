"""The package's shape: no import cycles, light modules stay light, and
modules and functions stay small enough to read.

The import graph is built with `ast` from the sources, imports inside
functions included (an import hidden in a function still makes a cycle).
"""

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = {"textlstm": ROOT / "textlstm", "textlstm.cli": ROOT / "cli"}
MAX_MODULE_LINES = 500
MAX_FUNCTION_LINES = 60
#: A comment line starting with this, right above a `def`, allows a longer
#: function (it must say why it reads best in one piece).
ONE_PIECE = "# One piece:"


def _modules() -> dict[str, Path]:
    modules = {}
    for package, folder in PACKAGES.items():
        for path in sorted(folder.rglob("*.py")):
            parts = list(path.relative_to(folder).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            modules[".".join([package, *parts])] = path
    return modules


MODULES = _modules()


def _imported(module: str, path: Path) -> set[str]:
    """The textlstm modules `module` imports, anywhere in its source."""
    is_package = path.name == "__init__.py"
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        names = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = module.split(".")
                anchor = anchor[: len(anchor) - node.level + (1 if is_package else 0)]
                base = ".".join([*anchor, base] if base else anchor)
            names = [base] + [f"{base}.{alias.name}" for alias in node.names]
        for name in names:
            # `from textlstm import layers` imports the module textlstm.layers;
            # `from textlstm.layers import LSTM` imports textlstm.layers.
            while name and name not in MODULES:
                name = name.rpartition(".")[0]
            if name and name != module:
                found.add(name)
    return found


def import_graph() -> dict[str, set[str]]:
    graph = {module: _imported(module, path) for module, path in MODULES.items()}
    # Importing a.b.c runs a/__init__.py and a/b/__init__.py first; those
    # parent edges are implied and not cycles of the code's making.
    return {
        module: {target for target in targets if not module.startswith(target + ".")}
        for module, targets in graph.items()
    }


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle as a list of modules (first == last), or None."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for target in sorted(graph.get(node, ())):
            if state.get(target) == 1:
                return stack[stack.index(target) :] + [target]
            if target not in state:
                cycle = visit(target)
                if cycle:
                    return cycle
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state:
            cycle = visit(node)
            if cycle:
                return cycle
    return None


def test_the_cycle_finder_finds_a_cycle_and_only_a_cycle():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b", "c"}, "b": {"c"}, "c": set()}) is None


def test_the_graph_sees_imports_inside_functions():
    graph = import_graph()
    # cli.main imports training inside `fit` (TensorFlow is heavy).
    assert "textlstm.training" in graph["textlstm.cli.main"]
    assert "textlstm.runs" in graph["textlstm.training.runner"]


def test_no_import_cycle_between_textlstm_modules():
    cycle = find_cycle(import_graph())
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


#: Modules that must load without TensorFlow: the config and the run folder
#: (so config errors and `read_run` answer at once), the export package (so
#: `predict` can tell an export from a run before importing TensorFlow), and
#: the command line itself.
LIGHT_MODULES = [
    "textlstm.errors",
    "textlstm.config",
    "textlstm.config.schema",
    "textlstm.runs",
    "textlstm.cluster",
    "textlstm.cluster.workers",
    "textlstm.cluster.launcher",
    "textlstm.export",
    "textlstm.export.verify",
    "textlstm.export.litert_predictor",
    "textlstm.cluster.listening",
    "textlstm.cli.main",
]


#: Each package of textlstm and the packages it may import (its own modules
#: always may). Read from the top: a package imports only packages listed
#: before it, so the packages cannot form a cycle; `cli` is above them all.
PACKAGE_ARROWS = {
    "errors": set(),
    "layers": set(),
    "config": {"errors"},
    "runs": {"errors", "config"},
    "cluster": {"errors", "runs"},
    "data": {"errors", "config"},
    "text": {"errors", "config", "runs"},
    "model": {"errors", "config", "runs", "layers", "text"},
    "export": {"errors", "config", "runs", "layers", "data", "text", "model"},
    "explain": {"errors", "config", "runs", "layers", "text", "model"},
    "evaluation": {"errors", "config", "runs", "data", "text", "model", "export"},
    "robustness": {"errors", "config", "runs", "data", "text", "evaluation"},
    "serving": {"errors", "cluster", "export"},
    "training": {
        *("errors", "config", "runs", "cluster", "layers", "data", "text"),
        *("model", "evaluation", "robustness"),
    },
    "pretraining": {
        *("errors", "config", "runs", "layers", "data", "text", "model"),
        "training",
    },
}
#: The only modules directly under `textlstm/` besides `__init__.py`.
TOP_LEVEL_MODULES = {"textlstm.errors"}


def package_of(module: str) -> str:
    """`textlstm.model.ngrams` -> `model`; `textlstm.cli.main` -> `cli`."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def package_arrows(graph: dict[str, set[str]]) -> dict[str, set[str]]:
    """Which package imports which, from the module graph."""
    arrows: dict[str, set[str]] = {}
    for module, targets in graph.items():
        for target in targets:
            source, imported = package_of(module), package_of(target)
            if source != imported and imported:
                arrows.setdefault(source, set()).add(imported)
    return arrows


def test_package_arrows_see_a_forbidden_import():
    graph = {"textlstm.layers.lstm": {"textlstm.model.classifier"}}
    assert package_arrows(graph) == {"layers": {"model"}}


def test_every_package_imports_only_what_it_may():
    arrows = package_arrows(import_graph())
    assert set(arrows) - {"cli"} <= set(PACKAGE_ARROWS)
    forbidden = {
        f"{source} -> {target}"
        for source, targets in arrows.items()
        if source != "cli"
        for target in targets - PACKAGE_ARROWS[source]
    }
    assert forbidden == set()


def test_the_allowed_arrows_only_point_down():
    order = list(PACKAGE_ARROWS)
    upward = {
        f"{source} -> {target}"
        for source, targets in PACKAGE_ARROWS.items()
        for target in targets
        if order.index(target) >= order.index(source)
    }
    assert upward == set()


def test_the_top_level_holds_packages_and_errors_only():
    top_level = {
        module
        for module, path in MODULES.items()
        if module.count(".") == 1
        and path.name != "__init__.py"
        and module.startswith("textlstm.")
        and not module.startswith("textlstm.cli")
    }
    assert top_level == TOP_LEVEL_MODULES
    packages = {package_of(m) for m in MODULES if m.startswith("textlstm.")}
    assert packages - {"cli"} == set(PACKAGE_ARROWS)


@pytest.mark.parametrize("module", LIGHT_MODULES)
def test_light_modules_import_no_tensorflow(module):
    code = (
        f"import sys, {module}; "
        "heavy = [m for m in ('tensorflow', 'keras', 'jax') if m in sys.modules]; "
        "print(','.join(heavy))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == ""


def test_no_module_over_500_lines():
    long = {
        name: count
        for name, path in MODULES.items()
        if (count := len(path.read_text(encoding="utf-8").splitlines()))
        > MAX_MODULE_LINES
    }
    assert long == {}


def _function_lengths(path: Path):
    lines = path.read_text(encoding="utf-8").splitlines()
    for node in ast.walk(ast.parse("\n".join(lines))):
        if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        length = node.end_lineno - node.lineno + 1
        body = node.body
        if (
            body
            and isinstance(body[0], ast.Expr)
            and isinstance(body[0].value, ast.Constant)
            and isinstance(body[0].value.value, str)
        ):
            length -= body[0].end_lineno - body[0].lineno + 1
        first = min([node.lineno] + [d.lineno for d in node.decorator_list])
        above = lines[first - 2].strip() if first >= 2 else ""
        yield node.name, node.lineno, length, above.startswith(ONE_PIECE)


def test_no_function_over_60_lines_without_a_reason():
    long = [
        f"{path.relative_to(ROOT)}:{line} {name} ({length} lines)"
        for path in MODULES.values()
        for name, line, length, excused in _function_lengths(path)
        if length > MAX_FUNCTION_LINES and not excused
    ]
    assert long == []


def test_setup_cfg_lists_every_package():
    """A package missing from setup.cfg is missing from a non-editable install."""
    import configparser

    parser = configparser.ConfigParser()
    parser.read(ROOT / "setup.cfg")
    listed = set(parser["options"]["packages"].split())
    packages = {
        module
        for module, path in MODULES.items()
        if path.name == "__init__.py" and module != "textlstm.cli"
    }
    assert packages - listed == set()


def test_git_ignores_no_source_file():
    """A pattern of .gitignore that matches a source file keeps it out of
    every clone (`runs/` once hid `textlstm/runs/__init__.py`)."""
    result = subprocess.run(
        ["git", "ls-files", "--others", "--ignored", "--exclude-standard", "--"]
        + ["textlstm", "cli", "configs", "tests", "docs"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    ignored = [
        line
        for line in result.stdout.splitlines()
        if "__pycache__" not in line and ".egg-info" not in line
    ]
    assert ignored == []
