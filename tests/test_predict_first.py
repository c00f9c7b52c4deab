"""Predict first: generated settings are valid, the shown code gives the answer when run, and the
checker accepts exactly torch's answer (floats within the stated ±0.01)."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image
from torch import nn

from explorer import images, kernels
from explorer import predict_first as pf
from explorer.models import zoo

SEEDS = st.integers(0, 2**31 - 1)


def _run_shown_code(question: pf.Question) -> dict:
    """Execute the code a question shows (our own generated text) and return its namespace."""
    *body, last = question.code.strip().split("\n")
    scope = {"torch": torch, "nn": nn, "build_model": zoo.build_model}
    with torch.device("meta") if question.topic == "zoo" else torch.device("cpu"):
        exec("\n".join(body), scope)
        if question.topic != "zoo":
            scope["result"] = eval(last.split("#")[0], scope)
    return scope


def _wrong_versions(question: pf.Question) -> list[tuple]:
    if question.kind == "choice":
        return [(i,) for i in range(len(question.fields)) if i != question.answer[0]]
    if question.kind == "float":
        a = question.answer[0]
        return [(a + 0.011,), (a - 0.011,), (a + 1,)]
    return [tuple(v + (1 if j == i else 0) for j, v in enumerate(question.answer))
            for i in range(len(question.answer))]


def _accepts_exactly_the_answer(question: pf.Question) -> None:
    assert pf.check(question, question.answer)
    if question.kind == "float":
        assert pf.check(question, (question.answer[0] + 0.009,))
        assert pf.check(question, (round(question.answer[0], 2),))
    for wrong in _wrong_versions(question):
        assert not pf.check(question, wrong), wrong
    assert not pf.check(question, (None,) * len(question.answer))
    assert not pf.check(question, ())


@settings(max_examples=60, deadline=None)
@given(SEEDS)
def test_conv_questions_are_valid_and_their_code_gives_the_answer(seed):
    q = pf.conv_output(seed)
    shape = _run_shown_code(q)["result"]
    assert (shape[2], shape[3]) == q.answer and min(q.answer) >= 1
    assert "The real layer says" in q.working and "\\lfloor" in q.working
    _accepts_exactly_the_answer(q)


@settings(max_examples=60, deadline=None)
@given(SEEDS)
def test_pooling_questions_are_valid_and_their_code_gives_the_answer(seed):
    q = pf.pooling_output(seed)
    assert tuple(_run_shown_code(q)["result"]) == q.answer and min(q.answer) >= 1
    _accepts_exactly_the_answer(q)


@settings(max_examples=60, deadline=None)
@given(SEEDS)
def test_batchnorm_questions_running_mean_and_eval_output(seed):
    q = pf.batchnorm_question(seed)
    result = _run_shown_code(q)["result"]
    assert float(result.detach().flatten()[0]) == pytest.approx(q.answer[0], abs=1e-6)
    assert q.kind == "float" and q.tolerance == pf.FLOAT_TOLERANCE == 0.01
    assert "±0.01" in q.prompt
    _accepts_exactly_the_answer(q)


@settings(max_examples=25, deadline=None)
@given(SEEDS)
def test_zoo_questions_count_a_real_layer(seed):
    q = pf.layer_parameters(seed)
    layer = _run_shown_code(q)["layer"]
    assert sum(p.numel() for p in layer.parameters()) == q.answer[0] > 0
    _accepts_exactly_the_answer(q)


def test_kernel_question_shows_one_of_four_kernels_applied_by_torch():
    photo = images.load_path(next(iter(images.sample_images().values()))).image
    for seed in range(8):
        q = pf.which_kernel(seed, photo)
        names = [label.split(": ", 1)[1] for label, _ in q.options_pictures]
        assert len(set(names)) == 4 and q.fields == ("A", "B", "C", "D")
        families = [next(i for i, f in enumerate(pf.KERNEL_FAMILIES) if n in f) for n in names]
        assert len(set(families)) == 4  # four kernels that look different
        right = names[int(q.answer[0])]
        small = photo.convert("L")
        small.thumbnail((pf.QUIZ_SIDE, pf.QUIZ_SIDE), Image.Resampling.BILINEAR)
        # an independent reference: PyTorch's own conv2d on the zero-padded photo, shown as
        # the page shows outputs (|y| for a kernel whose weights sum to 0, else clipped)
        w = kernels.PRESETS[right].tensor()
        x = kernels.image_tensor(small, "grayscale")
        y = torch.nn.functional.conv2d(
            torch.nn.functional.pad(x, (w.shape[-1] // 2,) * 4), w[None, None].to(x.dtype))
        shown = (y.abs() if abs(float(w.sum())) < 1e-9 else y).clamp(0, 255).round()
        assert q.picture.shape == tuple(y.shape[-2:])
        # at most one grey level apart: a faster conv may round a .5 the other way
        assert abs(q.picture.astype(int) - shown[0, 0].numpy().astype(int)).max() <= 1
        assert right not in q.prompt and right not in q.code  # the names wait for the answer
        _accepts_exactly_the_answer(q)


def test_seeds_give_students_different_questions_and_one_seed_the_same():
    conv = {pf.conv_output(seed).code for seed in range(40)}
    assert len(conv) >= 35
    assert pf.conv_output(7) == pf.conv_output(7)
    topics = {pf.batchnorm_question(seed).fields for seed in range(20)}
    assert topics == {("running_mean[0]",), ("output",)}  # both BatchNorm questions come up
