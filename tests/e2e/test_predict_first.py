"""Predict first in Chromium: one question answered right, the next one wrong, the score kept;
and Conv arithmetic answering an oversized kernel with PyTorch's own error."""

from __future__ import annotations

import torch
from torch import nn


def _torch_answer(code: str) -> tuple[int, int]:
    """Run the question's own setup as a student would in Python: (H_out, W_out)."""
    setup, last = code.strip().rsplit("\n", 1)
    scope = {"torch": torch, "nn": nn}
    exec(setup, scope)  # the page's generated code: two lines that build x and the conv
    shape = eval(last.split("#")[0], scope)
    return shape[2], shape[3]


def _question_code(app) -> str:
    return app.page.locator("[data-testid='stCode']").filter(
        has_text="conv = nn.Conv2d(").first.inner_text()


def _answer(app, h: int, w: int) -> None:
    for label, value in (("H_out", h), ("W_out", w)):
        app.widget(label, "stNumberInput").locator("input").fill(str(value))
    app.page.get_by_role("button", name="Check my answer").click()
    app.wait()


def test_one_answer_right_one_wrong_and_the_score(app):
    app.open("conv-arithmetic")
    app.toggle("Predict first")
    assert "What are the output's height and width?" in app.text()
    first = _question_code(app)
    h, w = _torch_answer(first)
    _answer(app, h, w)
    text = app.text()
    assert f"Right: H_out = {h}, W_out = {w}." in text
    assert "The real layer says" in text and "Score on this page: 1 of 1" in text
    app.screenshot("predict_first_right")

    app.button("Next question")
    second = _question_code(app)
    assert second != first
    h, w = _torch_answer(second)
    _answer(app, h + 1, w)
    text = app.text()
    assert f"Not this time: you said {h + 1}, {w}; PyTorch says H_out = {h}, W_out = {w}." in text
    assert "Score on this page: 1 of 2" in text
    app.assert_healthy()
    app.screenshot("predict_first_wrong")


def test_an_oversized_kernel_shows_pytorch_s_error(app):
    app.open("conv-arithmetic", "ca_h=5&ca_w=5&ca_kh=7&ca_kw=7")
    app.assert_healthy()
    text = app.text()
    assert "PyTorch refuses this layer" in text
    assert "Kernel size can't be greater than actual input size" in text
    assert "use a kernel of at most 5, padding of at least 1 or an input of at least 7" in text
    app.screenshot("conv_arithmetic_kernel_too_large")

