import ast

from explorer import navigation


def test_every_listed_page_that_exists_is_available_in_order():
    available = navigation.available_pages()
    assert [p for p in navigation.LESSONS if p.path.exists()] == available
    assert len({p.url_path for p in navigation.LESSONS}) == len(navigation.LESSONS)


def test_no_stray_page_scripts():
    """Every script in pages/ is either home or listed, so nothing is unreachable."""
    listed = {navigation.HOME.path} | {p.path for p in navigation.LESSONS}
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
    """Only app.py and the ui helpers may touch streamlit; the lessons' logic stays testable."""
    for module in (navigation.REPO_ROOT / "explorer").rglob("*.py"):
        if module.name in {"ui.py", "app.py"} or module.name.startswith("ui_"):
            continue
        streamlit = [m for m in _imported_modules(module) if m.split(".")[0] == "streamlit"]
        assert not streamlit, f"{module.name} imports {streamlit}"
