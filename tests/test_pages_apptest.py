"""Every page renders with no exception on its default settings (Streamlit's AppTest)."""

import pytest

from explorer.ui import navigation

PAGES = [navigation.HOME, *navigation.available_pages()]


@pytest.mark.parametrize("spec", PAGES, ids=[p.url_path for p in PAGES])
def test_page_renders_without_exception(open_page, spec):
    at = open_page(spec.script)
    assert not at.exception, [e.value for e in at.exception]
    assert at.title, "every page starts with a title"


def test_home_demo_computes_output_shape_from_url_state(open_page):
    at = open_page("pages/home.py")
    assert "output [1, 1, 26, 26]" in at.code[0].value
    at.slider(key="padding").set_value(1).run()
    assert "output [1, 1, 28, 28]" in at.code[0].value
    assert at.query_params["padding"] in ("1", ["1"])


def test_home_lesson_paths_add_up(open_page):
    """45 minutes, 90 minutes and the full path: each a list of stops whose minutes add up to
    the length it promises, the rest named as homework."""
    from explorer import lesson_plan

    assert [p.minutes for p in lesson_plan.PATHS] == [45, 90, lesson_plan.total_minutes()]
    at = open_page("pages/home.py")
    for path in lesson_plan.PATHS:
        at.radio(key="path").set_value(path.key).run()
        shown = [int(m.value.split()[1]) for m in at.markdown if m.value.startswith("≈ ")]
        assert sum(shown) == path.minutes and len(shown) == len(path.stops)
        assert f"**{path.minutes} minutes** in all" in " ".join(m.value for m in at.markdown)
        assert at.query_params["path"] in (path.key, [path.key])
    at.radio(key="path").set_value("45").run()
    assert "Left for homework in this lesson: Batch normalisation, nn.Module, Data " \
           "augmentation." in [c.value for c in at.caption]


def test_shared_photo_choice_switches_and_follows_to_other_pages(open_page):
    at = open_page("pages/home.py")
    assert "astronaut.png" in at.sidebar.caption[-1].value
    at.sidebar.selectbox(key="shared_image_select").set_value("Chelsea").run()
    assert "chelsea.png · 451×300" in at.sidebar.caption[-1].value
    at.sidebar.selectbox(key="shared_image_select").set_value("Coffee").run()
    assert "coffee.png" in at.sidebar.caption[-1].value
    at.switch_page("../pages/convolution.py").run()
    assert not at.exception
    assert at.sidebar.selectbox(key="shared_image_select").value == "Coffee"
