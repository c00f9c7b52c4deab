"""The conv-arithmetic page in AppTest: reachable control states never raise."""

from __future__ import annotations


def _metric(at, label):
    return next(m.value for m in at.metric if m.label == label)


def test_every_mode_and_extreme_setting_renders_without_exception(open_page):
    at = open_page("pages/conv_arithmetic.py")
    assert _metric(at, "H_out") == "26"
    cases = [("Conv2d", "numbers", True), ("Conv2d", "same", False), ("Conv2d", "valid", True),
             ("ConvTranspose2d", "numbers", False)]
    for layer, pad_mode, square in cases:
        at.radio(key="ca_layer").set_value(layer).run()
        if layer == "Conv2d":
            at.radio(key="ca_pad_mode").set_value(pad_mode).run()
        at.toggle(key="ca_square").set_value(square).run()
        for key, value in (("ca_h", 1), ("ca_kh", 7), ("ca_sh", 4)):
            slider = at.slider(key=key)
            if not slider.disabled:
                slider.set_value(min(max(value, slider.min), slider.max)).run()
            assert not at.exception, (layer, pad_mode, square, key, at.exception[0].value)
        # whatever the state, the page shows a number or one sentence saying why not
        assert _metric(at, "H_out") != "—" or at.error


def test_groups_that_do_not_divide_are_explained(open_page):
    at = open_page("pages/conv_arithmetic.py", ca_cin=4, ca_cout=6)
    at.number_input(key="ca_groups").set_value(4).run()
    assert not at.exception
    assert any("groups must divide C_out" in e.value for e in at.error)
    assert "out_channels must be divisible by groups" in at.warning[0].value
    at.number_input(key="ca_groups").set_value(2).run()
    assert _metric(at, "Parameters") == f"{6 * 2 * 3 * 3 + 6:,}"


def test_transposed_matches_the_formula(open_page):
    at = open_page("pages/conv_arithmetic.py", ca_layer="ConvTranspose2d", ca_h=7, ca_w=7,
                   ca_kh=4, ca_sh=2, ca_ph=1)
    assert _metric(at, "H_out") == str((7 - 1) * 2 - 2 * 1 + (4 - 1) + 1)
    assert "nn.ConvTranspose2d(1, 1, kernel_size=4, stride=2, padding=1)" in at.code[-1].value


def test_a_padding_row_left_over_is_not_called_an_image_row(open_page):
    """28 rows, 3×3, stride 2, padding 1: the floor leaves the padding row after the image
    unread, and no image row; the page says which is which."""
    at = open_page("pages/conv_arithmetic.py", ca_sh=2, ca_ph=1)
    text = " ".join(m.value for m in at.markdown)
    assert "Image rows dropped by the floor: **none**; padding rows after the image left " \
           "unread: **1**" in text


def test_broken_settings_leave_no_empty_heading(open_page):
    at = open_page("pages/conv_arithmetic.py", ca_h=2, ca_kh=7)
    assert at.error and "Shapes with many kernels" not in [s.value for s in at.subheader]
