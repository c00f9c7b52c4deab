"""The package's layers, as a table: who may import whom. A new upward import fails here.

From the bottom up: `core` (i18n, devices, images, memory, the package root), `models/`, the
lessons (the plain modules beside them: kernels, conv_arithmetic, feature_maps, ...), `figures/`,
`training/`, `experiments/`, `classroom/`, `serving/`, then `ui/` and the `pages/`, and the
entrypoints. A layer imports only layers below it and itself, at run time; an import under
`if TYPE_CHECKING:` is a type annotation and does not count. Only `ui/`, the pages and the app
import streamlit, and no two modules import each other, however indirectly.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
CORE = {"i18n", "devices", "images", "memory", "__init__", "__main__"}
ENTRYPOINTS = {"app", "train"}

#: layer -> the layers it may import (besides itself)
ALLOWED: dict[str, set[str]] = {
    "core": set(),
    # the layer-stack builder uses the conv-arithmetic lesson's formula, and lessons build
    # zoo networks: models and lessons may import each other (never in a cycle, below)
    "models": {"core", "lessons"},
    "lessons": {"core", "models"},
    "figures": {"core", "models", "lessons"},
    "training": {"core", "models", "lessons", "figures"},
    "experiments": {"core", "models", "lessons", "figures", "training"},
    # a class poll checks an answer against the predict-first question's torch answer
    "classroom": {"core", "lessons", "training"},
    # serving opens trained runs' checkpoints; training never imports serving (no cycle)
    "serving": {"core", "models", "lessons", "figures", "training"},
    "ui": {"core", "models", "lessons", "figures", "training", "experiments", "classroom",
           "serving"},
    "pages": {"core", "models", "lessons", "figures", "training", "experiments", "classroom",
              "serving", "ui"},
    "entrypoints": {"core", "training", "ui"},
}
STREAMLIT_LAYERS = {"ui", "pages", "entrypoints"}


def module_name(path: Path) -> str:
    rel = path.relative_to(REPO).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def layer_of(module: str) -> str:
    parts = module.split(".")
    if parts[0] == "pages":
        return "pages"
    if len(parts) == 1 or parts[1] in CORE:
        return "core"
    if parts[1] in ENTRYPOINTS:
        return "entrypoints"
    if (REPO / "explorer" / parts[1]).is_dir():
        return {"models": "models", "figures": "figures", "training": "training",
                "experiments": "experiments", "classroom": "classroom", "serving": "serving",
                "ui": "ui"}.get(parts[1], parts[1])
    return "lessons"


def _type_checking_lines(tree: ast.AST) -> set[int]:
    lines = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for child in ast.walk(node):
                if hasattr(child, "lineno"):
                    lines.add(child.lineno)
    return lines


def imports_of(path: Path, known: set[str]) -> set[str]:
    """The modules of this repository (and 'streamlit') that `path` imports at run time."""
    tree = ast.parse(path.read_text())
    skip = _type_checking_lines(tree)
    found: set[str] = set()
    for node in ast.walk(tree):
        if getattr(node, "lineno", None) in skip:
            continue
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module, *(f"{node.module}.{a.name}" for a in node.names)]
        for name in names:
            if name.split(".")[0] == "streamlit":
                found.add("streamlit")
            elif name in known:
                found.add(name)
    return found


def _graph() -> dict[str, set[str]]:
    files = [*sorted((REPO / "explorer").rglob("*.py")), *sorted((REPO / "pages").glob("*.py"))]
    known = {module_name(f) for f in files}
    return {module_name(f): imports_of(f, known) for f in files}


GRAPH = _graph()


def test_the_table_names_every_layer_there_is():
    assert {layer_of(m) for m in GRAPH} <= set(ALLOWED)


@pytest.mark.parametrize("module", sorted(GRAPH))
def test_no_upward_import(module):
    mine = layer_of(module)
    upward = sorted(f"{target} ({layer_of(target)})" for target in GRAPH[module] - {"streamlit"}
                    if layer_of(target) != mine and layer_of(target) not in ALLOWED[mine])
    assert not upward, f"{module} ({mine}) imports {upward}"


@pytest.mark.parametrize("module", sorted(GRAPH))
def test_only_the_ui_imports_streamlit(module):
    if "streamlit" in GRAPH[module]:
        assert layer_of(module) in STREAMLIT_LAYERS, f"{module} imports streamlit"


def test_no_import_cycles():
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(module: str) -> None:
        state[module] = 1
        stack.append(module)
        for target in sorted(GRAPH[module] - {"streamlit"}):
            # a package's __init__ importing its own submodules is how packages work
            if target.startswith(module + "."):
                continue
            if state.get(target) == 1:
                cycle = [*stack[stack.index(target):], target]
                pytest.fail("import cycle: " + " -> ".join(cycle))
            if target not in state:
                visit(target)
        stack.pop()
        state[module] = 2

    for module in sorted(GRAPH):
        if module not in state:
            visit(module)


def test_the_check_catches_an_upward_import(tmp_path):
    """The table is not a formality: a lesson importing the serving layer is caught."""
    lesson = tmp_path / "lesson.py"
    lesson.write_text("from explorer.serving import shared_cache\n"
                      "from typing import TYPE_CHECKING\n"
                      "if TYPE_CHECKING:\n    from explorer.ui import widgets\n")
    found = imports_of(lesson, set(GRAPH))
    assert found == {"explorer.serving", "explorer.serving.shared_cache"}
    assert layer_of("explorer.serving.shared_cache") not in ALLOWED[layer_of("explorer.kernels")]
