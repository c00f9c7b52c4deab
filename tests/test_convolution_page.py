"""The convolution page in AppTest: bad kernels get one sentence, the arithmetic agrees."""

from __future__ import annotations

from PIL import Image

from explorer import images, kernels

PAGE = "pages/convolution.py"


def _texts(at) -> str:
    parts = [e.value for kind in ("markdown", "caption", "error", "warning", "info")
             for e in getattr(at, kind)]
    return "\n".join(str(p) for p in parts)


def _agree(at) -> None:
    metrics = {m.label: m.value for m in at.metric}
    sum_label = "Sum of the products"
    tensor = next(v for k, v in metrics.items() if k.startswith("Output tensor"))
    assert float(metrics[sum_label]) == float(tensor)
    assert metrics["They agree"] == "yes"


def test_defaults_render_and_the_inspector_agrees(open_page):
    at = open_page(PAGE)
    assert not at.exception
    _agree(at)
    assert "Output so far" in at.text[0].value


def test_every_preset_draws_and_the_inspector_agrees(open_page):
    at = open_page(PAGE)
    for name in kernels.PRESETS:
        at.selectbox(key="convolution_preset").set_value(name).run()
        assert not at.exception, name
        _agree(at)


def test_sobel_flip_shows_the_difference_and_the_code_twin(open_page):
    at = open_page(PAGE)
    at.selectbox(key="convolution_preset").set_value("Sobel x 3x3").run()
    at.toggle(key="convolution_flip").set_value(True).run()
    assert not at.exception
    assert "not symmetric" in _texts(at)
    code = next(c.value for c in at.code if "F.conv2d" in c.value and "Image.open" in c.value)
    assert "kernel.flip(0, 1)" in code and "groups=3" in code
    _agree(at)


def test_non_numeric_cell_gives_one_sentence(open_page):
    at = open_page(PAGE, convolution_cells=[["1", "x"], ["0", "1"]],
                   convolution_preset="Custom")
    assert not at.exception
    assert [e.value for e in at.error] == [
        "The cell at row 1, column 2 of the kernel is “x”, which is not a number "
        "(use e.g. 2, -0.5 or 1/9)."]


def test_all_zero_kernel_with_normalise_warns(open_page):
    at = open_page(PAGE, convolution_cells=[["0"] * 3] * 3, convolution_preset="Custom",
                   convolution_normalise=True)
    assert not at.exception
    assert any("all zeros" in w.value for w in at.warning)
    _agree(at)


def test_kernel_larger_than_the_image(open_page):
    tiny = images.LoadedImage(Image.new("RGB", (4, 3), (9, 9, 9)), "tiny.png", (4, 3))
    at = open_page(PAGE, shared_image_upload=tiny, shared_image_choice="Your upload: tiny.png")
    assert not at.exception
    assert [e.value for e in at.error] == [
        "The 5x5 kernel is larger than the 4x3 image; choose a smaller kernel or a larger "
        "image."]
    at.selectbox(key="convolution_preset").set_value("Edge detect 3x3 (course)").run()
    assert not at.exception and not at.error
    _agree(at)


def test_moving_window_buttons_step_to_the_end(open_page):
    at = open_page(PAGE)
    step = next(b for b in at.button if b.label == "Step")
    step.click().run()
    assert "= 4`" in _texts(at)
    next(b for b in at.button if b.label == "End").click().run()
    assert "4 3 4\n2 4 3\n2 3 4" in at.text[0].value


def test_play_runs_the_window_to_the_end_and_the_slide_button_rewinds(open_page):
    at = open_page(PAGE)
    next(b for b in at.button if b.label == "Step").click().run()
    next(b for b in at.button if b.label == "Play").click().run()
    assert not at.exception
    assert at.session_state["convolution_mw_step"] == 9
    assert "Output: 9 of 9 cells" in _texts(at)
    assert "4 3 4\n2 4 3\n2 3 4" in at.text[0].value
    assert next(b for b in at.button if b.label == "Play").disabled
    at.number_input(key="convolution_mw_isize").set_value(6).run()
    assert at.session_state["convolution_mw_step"] == 0
    grown = at.session_state["convolution_mw_input"]
    assert len(grown) == 6 and grown[0] == ["0"] * 6 and grown[1][1:] == ["1", "1", "1", "0", "0"]
    next(b for b in at.button if b.label == "Step").click().run()
    next(b for b in at.button if b.label == "Back to the slide's grids").click().run()
    assert at.session_state["convolution_mw_step"] == 0
    assert at.number_input(key="convolution_mw_isize").value == 5
    assert "Output so far:\n· · ·\n· · ·\n· · ·" in at.text[0].value


def test_a_preset_fills_the_grid_and_a_resize_makes_it_custom(open_page):
    at = open_page(PAGE)
    at.selectbox(key="convolution_preset").set_value("Gaussian blur 5x5").run()
    assert at.number_input(key="convolution_size").value == 5
    assert at.session_state["convolution_cells"][2] == ["6", "24", "36", "24", "6"]
    assert at.toggle(key="convolution_normalise").value
    at.number_input(key="convolution_size").set_value(3).run()
    assert not at.exception
    assert at.session_state["convolution_preset"] == "Custom"
    assert at.session_state["convolution_cells"] == [["16", "24", "16"], ["24", "36", "24"],
                                                     ["16", "24", "16"]]
    _agree(at)


def test_a_new_photo_starts_the_inspector_at_its_centre(open_page):
    """The inspected pixel near one photo's corner does not end up pressed into the next
    photo's corner: a new photo starts at its own centre."""
    at = open_page("pages/convolution.py", convolution_x=500, convolution_y=500)
    assert at.number_input(key="convolution_x").value == 500
    at.sidebar.selectbox(key="shared_image_select").set_value("Chelsea").run()  # 451×300
    assert not at.exception
    assert (at.number_input(key="convolution_x").value,
            at.number_input(key="convolution_y").value) == (225, 150)
