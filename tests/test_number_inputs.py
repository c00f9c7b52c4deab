"""Number inputs state their range in their help, and a value typed outside it gets a sentence."""

from __future__ import annotations

import pytest
from streamlit.testing.v1.element_tree import Widget

from explorer.ui import navigation, widgets

PAGES = [navigation.HOME, *navigation.available_pages()]


@pytest.mark.parametrize("spec", PAGES, ids=[p.url_path for p in PAGES])
def test_every_number_input_says_its_range(open_page, spec):
    at = open_page(spec.script)
    for box in (w for w in at._tree if isinstance(w, Widget) and w.type == "number_input"):
        assert widgets.allowed_range(box.help), f"{box.label!r} does not say its range"


def test_a_value_outside_the_range_is_kept_at_the_end_with_a_sentence(open_page):
    at = open_page("pages/batchnorm.py")
    box = at.number_input(key="bn_channels")
    assert widgets.allowed_range(box.help) == (1, 64)
    box.set_value(100).run()
    assert not at.exception
    assert at.number_input(key="bn_channels").value == 64
    assert ("Features (channels) C goes from 1 to 64; 100 is outside that, so it is now 64."
            in [w.value for w in at.warning])
    at.number_input(key="bn_seed").set_value(2).run()
    assert not any("goes from" in w.value for w in at.warning), "said once, then gone"


def test_a_range_that_moves_keeps_the_value_inside_it_silently(open_page):
    at = open_page("pages/batchnorm.py")
    at.number_input(key="bn_channel").set_value(15).run()
    at.number_input(key="bn_channels").set_value(4).run()
    assert not at.exception
    assert at.number_input(key="bn_channel").value == 3
    assert widgets.allowed_range(at.number_input(key="bn_channel").help) == (0, 3)
    assert not any("goes from" in w.value for w in at.warning)
