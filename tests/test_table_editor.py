"""table_editor.SquareGrid in AppTest: seeding, resizing and replacing a typed grid."""

from __future__ import annotations

from streamlit.testing.v1 import AppTest


def _page() -> None:
    import streamlit as st

    from explorer.ui import table_editor

    grid = table_editor.SquareGrid("cells", "size", (1, 5))
    grid.seed([["1", "2"], ["3", "4"]])
    st.button("Ones", on_click=grid.set, args=([["1"] * 3] * 3,))
    grid.editor("Size", on_change=lambda: st.session_state.update(changed=True))
    st.markdown(repr(grid.cells))


def _open(**state) -> AppTest:
    at = AppTest.from_function(_page, default_timeout=60)
    for key, value in state.items():
        at.session_state[key] = value
    return at.run()


def test_seed_then_resize_grows_and_crops_around_the_centre():
    at = _open()
    assert not at.exception
    assert at.number_input(key="size").value == 2 and at.session_state["cells_v"] == 0
    at.number_input(key="size").set_value(4).run()
    assert at.session_state["cells"] == [["0"] * 4, ["0", "1", "2", "0"], ["0", "3", "4", "0"],
                                         ["0"] * 4]
    assert at.session_state["changed"] and at.session_state["cells_v"] == 1
    at.number_input(key="size").set_value(1).run()
    assert at.session_state["cells"] == [["1"]]


def test_set_replaces_the_cells_and_the_size_and_redraws_the_table():
    at = _open()
    next(b for b in at.button if b.label == "Ones").click().run()
    assert at.session_state["cells"] == [["1"] * 3] * 3
    assert at.number_input(key="size").value == 3
    assert at.session_state["cells_v"] == 1
    assert "changed" not in at.session_state, "only the student's edits call on_change"


def test_a_grid_kept_from_another_visit_gets_its_size_back():
    """Streamlit forgets the size input's value on another page; the cells stay."""
    at = _open(cells=[["0"] * 3] * 3)
    assert at.number_input(key="size").value == 3
    assert at.markdown[0].value == repr([["0"] * 3] * 3)


def test_a_report_that_changes_no_cell_is_not_an_edit():
    """A grid drawn for the last preset can send its state late, naming a cell with the value
    it has: the grid is not redrawn and the page is not told of an edit (its preset stays)."""
    def page() -> None:
        import streamlit as st

        from explorer.ui import table_editor

        grid = table_editor.SquareGrid("cells", "size", (1, 5))
        grid.seed([["1", "2"], ["3", "4"]])
        then = lambda: st.session_state.update(changed=True)  # noqa: E731
        grid.editor("Size", on_change=then)
        st.button("Late report", on_click=grid._edited, args=("late", then))

    at = AppTest.from_function(page, default_timeout=60).run()
    at.session_state["late"] = {"edited_rows": {"0": {"0": "1"}}}  # "1" is there already
    at.button[0].click().run()
    assert "changed" not in at.session_state and at.session_state["cells_v"] == 0
    at.session_state["late"] = {"edited_rows": {"0": {"0": "7"}}}  # a real edit
    at.button[0].click().run()
    assert at.session_state["changed"] and at.session_state["cells"][0] == ["7", "2"]
