"""Every translated page, opened with ?lang=zh in AppTest, shows no English sentence.

The text read back is what a student sees: titles, headers, markdown, captions, alerts, the
labels, help and options of widgets, tabs and expanders, metric labels, table headers and the
titles and axes of Plotly charts. Code in backticks, LaTeX, numbers and PyTorch/library names
are allowed; three or more English words in a row are not.
"""

from __future__ import annotations

import html
import json
import re
import time

import pytest

from explorer.models import zoo
from explorer.ui import navigation

# Pages whose every sentence goes through the catalog; the others still speak English.
TRANSLATED = [spec.script for spec in (navigation.HOME, *navigation.available_pages())
              if spec.translated]

_ALLOWED = [
    *(re.escape(paper) for paper in zoo._PAPER.values()),  # citations: authors and year
    r"Network in Network",  # a paper's title, the network's name
    r"`[^`]*`",  # code
    r"\$[^$]*\$",  # LaTeX
    r"https?://\S+",
    r"\b[A-Z]\w*Error: [^\n]*",  # PyTorch's own error message, shown as PyTorch wrote it
    r"CNN Explorer",
    r"Language · 语言",
    r"\*\*torch\*\*.*streamlit\*\* \S+",  # library versions
]
_WORD = r"[A-Za-z][A-Za-z'’-]+"  # two letters or more: axis names such as N, H, W are not words
_ENGLISH_RUN = re.compile(rf"{_WORD}(?:[ ,;:]+{_WORD}){{2,}}")


def english_sentences(text: str) -> list[str]:
    """Runs of three or more English words left once code and names are taken out."""
    for pattern in _ALLOWED:
        text = re.sub(pattern, " ", text)
    return _ENGLISH_RUN.findall(text)


def _visible_html(markup: str) -> str:
    """The text of an st.html block a reader sees: no scripts, styles or tags."""
    markup = re.sub(r"<(script|style)\b.*?</\1>", " ", markup, flags=re.DOTALL)
    return html.unescape(re.sub(r"<[^>]+>", " ", markup))


def _proto_texts(node) -> list[str]:
    proto = getattr(node, "proto", None)
    texts: list[str] = []
    for field in ("label", "help", "body", "placeholder", "caption"):
        value = getattr(proto, field, None)
        if isinstance(value, str) and value:
            texts.append(_visible_html(value) if node.type == "html" else value)
    for option in getattr(proto, "options", []) or []:
        if isinstance(option, str):
            texts.append(option)
    if node.type == "plotly_chart":
        spec = json.loads(proto.spec)
        layout = spec.get("layout", {})
        titled = [layout, *(v for v in layout.values() if isinstance(v, dict))]  # axes too
        for part in titled:
            title = part.get("title")
            if isinstance(title, dict):
                texts.append(str(title.get("text") or ""))
        texts += [str(a.get("text", "")) for a in layout.get("annotations", [])]
        texts += [str(t.get("name") or "") for t in spec.get("data", [])]
    return texts


def rendered_texts(at) -> list[str]:
    """Every string the page and its sidebar put on screen, read from the element tree."""
    texts: list[str] = []

    def walk(node) -> None:
        value = getattr(node, "value", None) if node.type in {
            "markdown", "title", "header", "subheader", "caption", "alert", "exception",
        } else None
        if isinstance(value, str):
            texts.append(value)
        texts.extend(_proto_texts(node))
        if node.type == "arrow_data_frame":
            texts.extend(str(c) for c in node.value.columns)
        for child in getattr(node, "children", {}).values():
            walk(child)

    walk(at._tree)
    return texts


# Other states of translated pages whose sentences only appear there.
STATES = [
    ("pages/conv_arithmetic.py", {"ca_h": 5, "ca_w": 5, "ca_kh": 7, "ca_kw": 7,
                                  "pf_conv_on": True}),
    ("pages/conv_arithmetic.py", {"ca_layer": "ConvTranspose2d", "ca_cin": 3, "ca_groups": 2}),
    ("pages/conv_arithmetic.py", {"ca_pad_mode": "same", "ca_want": 300}),
    ("pages/sampling.py", {"sp_pool": "AvgPool2d", "sp_k": 3, "sp_p": 1, "pf_pooling_on": True}),
    ("pages/batchnorm.py", {"bn_kind": "2d", "bn_batch": 1, "bn_size": 1, "bn_keras": True,
                            "bn_single_shown": True, "pf_batchnorm_on": True}),
    ("pages/convolution.py", {"convolution_preset": "Sobel x 3x3", "convolution_flip": True,
                              "convolution_display": "abs", "pf_convolution_on": True,
                              "convolution_mw_step": 3}),
    ("pages/convolution.py", {"convolution_preset": "Blur 5x5 (course)",
                              "convolution_normalise": False, "convolution_mw_bank": []}),
    ("pages/zoo.py", {"zoo_model": "resnet18", "zoo_size": 8, "zoo_mode": "model.eval()"}),
    ("pages/zoo.py", {"zoo_model": "vgg16", "zoo_variant": "imagenet", "pf_zoo_on": True}),
    ("pages/feature_maps.py", {"fm_model": "lenet5", "fm_variant": "mnist",
                               "fm_view": "First-layer filters"}),
    ("pages/feature_maps.py", {"fm_model": "lenet5", "fm_variant": "mnist",
                               "fm_view": "Prediction & Grad-CAM"}),
    ("pages/feature_maps.py", {"fm_model": "lenet5", "fm_variant": "mnist",
                               "fm_view": "Receptive field"}),
    ("pages/batchnorm.py", {"bn_track": False, "bn_affine": False, "bn_momentum": "None",
                            "bn_mode": "eval", "bn_single_shown": True}),
]


@pytest.mark.parametrize(("script", "state"), [(s, {}) for s in TRANSLATED] + STATES)
def test_page_in_chinese_has_no_english_sentence(open_page, script, state):
    at = open_page(script, lang="zh", **state)
    assert not at.exception, [e.value for e in at.exception]
    found = {run for text in rendered_texts(at) for run in english_sentences(text)}
    assert not found, f"untranslated on {script} {state}: {sorted(found)}"


def test_the_sweep_would_see_english(open_page):
    """The same reading on the English page finds sentences, so the check can fail."""
    at = open_page("pages/home.py", lang="en")
    assert any(english_sentences(t) for t in rendered_texts(at))


def test_navigation_titles_follow_the_language(open_page):
    at = open_page("pages/home.py", lang="zh")
    assert at.title[0].value == "CNN Explorer"
    assert at.sidebar.radio(key="lang_picker").value == "简体中文"
    assert at.query_params["lang"] in ("zh", ["zh"])
    assert any("课程路线图" in s.value for s in at.subheader)
    at.sidebar.radio(key="lang_picker").set_value("English").run()
    assert at.query_params["lang"] in ("en", ["en"])
    assert any("Lesson roadmap" in s.value for s in at.subheader)


def test_an_untranslated_page_says_so_in_chinese(open_page, monkeypatch):
    """A page marked untranslated (none is, today) gets one Chinese sentence saying so."""
    import dataclasses

    real = navigation.by_url_path
    monkeypatch.setattr(navigation, "by_url_path", lambda path: dataclasses.replace(
        real(path), translated=False) if path == "sampling" else real(path))
    assert any("本页还没有" in i.value for i in open_page("pages/sampling.py", lang="zh").info)
    assert not any("本页还没有" in i.value
                   for i in open_page("pages/sampling.py", lang="en").info)
    assert not any("本页还没有" in i.value
                   for i in open_page("pages/batchnorm.py", lang="zh").info)


def test_training_after_a_run_in_chinese(open_page, lenet_run):
    """A finished run: curves, results, the timeline, predictions and the drawing canvas."""
    at = open_page("pages/training.py", lang="zh", training_run=lenet_run.name,
                   training_hflip=True)
    assert not at.exception, [e.value for e in at.exception]
    found = {run for text in rendered_texts(at) for run in english_sentences(text)}
    assert not found, f"untranslated on the Training page after a run: {sorted(found)}"


def test_feature_maps_of_a_trained_digit_network_in_chinese(open_page, lenet_run):
    """The digit-model warning, the invert switch and the handwriting section."""
    at = open_page("pages/feature_maps.py", lang="zh", fm_weights="Training run",
                   fm_run=lenet_run.name)
    assert not at.exception, [e.value for e in at.exception]
    found = {run for text in rendered_texts(at) for run in english_sentences(text)}
    assert not found, f"untranslated on Feature maps with a trained network: {sorted(found)}"


@pytest.mark.parametrize("script", TRANSLATED)
def test_chinese_after_english_gets_nothing_cached_in_english(open_page, script):
    """Figures and sentences cached across sessions are keyed by language: a session in
    Chinese right after one in English (the same server process) sees no English."""
    open_page(script, lang="en")
    at = open_page(script, lang="zh")
    found = {run for text in rendered_texts(at) for run in english_sentences(text)}
    assert not found, f"cached in English on {script}: {sorted(found)}"


def test_a_finished_experiment_in_chinese(open_page, tmp_path, monkeypatch):
    """The verdict, the checks and the arms' states of a finished (quick) experiment."""
    import torch

    from explorer.experiments import designs, pairing
    from explorer.training import access, engine, run_queue, runs

    monkeypatch.setenv("EXPLORER_RUNS_DIR", str(tmp_path))
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        eid = pairing.submit(designs.get("activation"), "quick", "teacher")
        for item in run_queue.waiting():
            if run_queue.claim(item):  # else the server's scheduler thread took it
                engine.train(tmp_path / item.run_id)
    finally:
        torch.set_num_threads(threads)
    deadline = time.monotonic() + 180
    while any(r.state in runs.ACTIVE_STATES for g in pairing.groups("activation")
              if g.experiment_id == eid for r in g.runs):
        assert time.monotonic() < deadline, "the experiment's runs did not finish"
        time.sleep(0.5)
    for group in pairing.groups("activation"):  # another browser's: the teacher shares them
        for run in group.runs:
            access.set_shared(run.run_id, access.Actor.operator(), True)
    at = open_page("pages/experiments.py", lang="zh")
    assert not at.exception, [e.value for e in at.exception]
    assert any("快速检查" in m.value for m in [*at.success, *at.warning])
    found = {run for text in rendered_texts(at) for run in english_sentences(text)}
    assert not found, f"untranslated on Experiments after a run: {sorted(found)}"


def test_the_layer_builder_s_error_and_advice_in_chinese(open_page):
    """A stack PyTorch refuses: the error stays PyTorch's, everything around it is Chinese."""
    from explorer.models import layer_stack as ls

    stack = ls.parse(ls.LENET5)
    broken = (ls.make_layer("Conv2d", 3, *stack[0].values[1:]), *stack[1:])
    at = open_page("pages/zoo.py", lang="zh", zoo_stack=ls.format_stack(broken),
                   zoo_stack_ids=list(range(len(broken))), zoo_stack_open=True)
    assert not at.exception, [e.value for e in at.exception]
    assert any("in_channels" in e.value and "应该怎么改" in e.value for e in at.error)
    found = {run for text in rendered_texts(at) for run in english_sentences(text)}
    assert not found, f"untranslated in the layer builder: {sorted(found)}"


def test_a_link_made_from_an_upload_says_the_photo_stayed_behind():
    from streamlit.testing.v1 import AppTest

    from tests.conftest import APP

    at = AppTest.from_file(str(APP), default_timeout=60)
    at.query_params["photo"] = "upload"
    at.query_params["lang"] = "zh"
    at.run()
    assert any("上传" in i.value and "链接" in i.value for i in at.sidebar.info)
    fresh = AppTest.from_file(str(APP), default_timeout=60)
    fresh.query_params["photo"] = "Coffee"
    fresh.run()
    assert "coffee.png" in fresh.sidebar.caption[-1].value
    assert not fresh.sidebar.info
