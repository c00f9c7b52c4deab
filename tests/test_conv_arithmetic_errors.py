"""Real errors, not clamps: a Conv2d kernel larger than the padded input is allowed and answered
with PyTorch's own RuntimeError and what to change; transposed mode explains its own formula."""

from __future__ import annotations

import torch

from explorer import conv_arithmetic as ca


def test_the_kernel_keeps_its_whole_range_when_it_may_overflow():
    values = {"size": 5, "kernel": 7, "stride": 1, "padding": 0, "dilation": 1,
              "output_padding": 0}
    clamped, limits = ca.clamp_axis("conv", values, fit_kernel=False)
    assert clamped["kernel"] == 7 and limits["kernel"] == (1, 7)
    clamped, limits = ca.clamp_axis("conv", values)  # the old behaviour stays the default
    assert clamped["kernel"] == 5 and limits["kernel"] == (1, 5)


def test_an_overflowing_kernel_gets_pytorch_s_error_and_the_ways_out():
    layer = ca.Layer("conv", (5, 5), (7, 7))
    check = ca.live_check(layer)
    try:
        torch.nn.Conv2d(1, 1, 7)(torch.zeros(1, 1, 5, 5))
    except RuntimeError as err:
        real = str(err).split("\n")[0]
    assert check.torch_error == real and check.torch_error_type == "RuntimeError"
    assert check.torch_shape is None and check.formula is None
    assert check.reason.endswith("use a kernel of at most 5, padding of at least 1 or an input "
                                 "of at least 7.")
    for fix in (ca.Layer("conv", (5, 5), (5, 5)), ca.Layer("conv", (5, 5), (7, 7), padding=(1, 1)),
                ca.Layer("conv", (7, 7), (7, 7))):
        assert ca.problem(fix) is None  # each way out the sentence names works


def test_the_page_lets_the_kernel_overflow_and_shows_the_error(open_page):
    at = open_page("pages/conv_arithmetic.py", ca_h=5, ca_w=5, ca_kh=7, ca_kw=7)
    assert not at.exception
    assert at.slider(key="ca_kh").value == 7 and at.slider(key="ca_kh").max == 7
    shown = at.error[0].value
    assert "RuntimeError: Calculated padded input size per channel: (5 x 5). Kernel size: " \
           "(7 x 7). Kernel size can't be greater than actual input size" in shown
    assert "use a kernel of at most 5" in shown
    assert [s.value for s in at.subheader][:1] == ["The formula, floored"]


def test_transposed_mode_describes_the_transposed_formula(open_page):
    at = open_page("pages/conv_arithmetic.py", ca_layer="ConvTranspose2d")
    headings = [s.value for s in at.subheader]
    assert "The transposed formula" in headings and "The formula, floored" not in headings
    text = " ".join(m.value for m in at.markdown)
    assert "scatters" in text and "floor" not in text.lower()
