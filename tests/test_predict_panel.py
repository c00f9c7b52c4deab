"""The Predict first panel in AppTest on every page that has one: torch's answer counts as right,
another as wrong, and the score follows."""

from __future__ import annotations

import pytest

from explorer import predict_first

PAGES = {"batchnorm": "pages/batchnorm.py", "zoo": "pages/zoo.py",
         "pooling": "pages/sampling.py", "conv": "pages/conv_arithmetic.py"}


def _answer(at, topic: str, values: tuple) -> None:
    boxes = [b for b in at.number_input if str(b.key).startswith(f"pf_{topic}_")]
    for box, value in zip(boxes, values, strict=True):
        box.set_value(value)
    next(b for b in at.button if b.label == "Check my answer").click().run()


def _said(at) -> str:
    return " ".join(m.value for m in [*at.success, *at.error])


def _score(at) -> str:
    return next(c.value for c in at.caption if c.value.startswith("Score on this page"))


@pytest.mark.parametrize("topic", list(PAGES))
def test_torch_s_answer_is_right_and_another_is_wrong(open_page, topic):
    at = open_page(PAGES[topic])
    at.toggle(key=f"pf_{topic}_on").set_value(True).run()
    question = predict_first.GENERATORS[topic](at.session_state[f"pf_{topic}_seed"])
    _answer(at, topic, question.answer)
    assert not at.exception and f"Right: {question.answer_text()}." in _said(at)
    assert _score(at) == "Score on this page: **1 of 1**"

    next(b for b in at.button if b.label == "Next question").click().run()
    question = predict_first.GENERATORS[topic](at.session_state[f"pf_{topic}_seed"])
    wrong = (question.answer[0] + (1 if question.kind == "ints" else 0.5), *question.answer[1:])
    _answer(at, topic, wrong)
    assert f"PyTorch says {question.answer_text()}." in _said(at) and "Not this time" in _said(at)
    assert _score(at) == "Score on this page: **1 of 2**"


def test_the_kernel_question_takes_a_choice(open_page):
    at = open_page("pages/convolution.py")
    at.toggle(key="pf_convolution_on").set_value(True).run()
    at.radio(key=next(r.key for r in at.radio if str(r.key).startswith("pf_convolution_"))
             ).set_value(0)
    next(b for b in at.button if b.label == "Check my answer").click().run()
    assert not at.exception
    assert ("Right: A." in _said(at)) != ("you said A" in _said(at))
    assert any("It was **" in m.value for m in at.markdown)
