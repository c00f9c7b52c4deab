import ast
from pathlib import Path

from explorer.ui import navigation


def test_every_listed_page_exists_and_is_available_in_order():
    available = navigation.available_pages()
    assert all(p.path.is_file() for p in [navigation.HOME, *available])
    assert list(navigation.LESSONS) == available
    assert len({p.url_path for p in navigation.LESSONS}) == len(navigation.LESSONS)


def test_no_stray_page_scripts():
    """Every script in pages/ is either home or listed, so nothing is unreachable."""
    listed = {navigation.HOME.path} | {p.path for p in (*navigation.LESSONS,
                                                        *navigation.TEACHER_PAGES)}
    scripts = set((navigation.REPO_ROOT / "pages").glob("*.py"))
    assert scripts <= listed, f"pages/ scripts missing from navigation: {scripts - listed}"


def _imported_modules(path):
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            yield node.module


def test_plain_modules_do_not_import_streamlit():
    """Only app.py and explorer.ui may import streamlit; the lessons' logic stays testable."""
    package = navigation.REPO_ROOT / "explorer"
    for module in package.rglob("*.py"):
        relative = module.relative_to(package)
        if relative.parts[0] == "ui" or relative == Path("app.py"):
            continue
        streamlit = [m for m in _imported_modules(module) if m.split(".")[0] == "streamlit"]
        assert not streamlit, f"{module.name} imports {streamlit}"
