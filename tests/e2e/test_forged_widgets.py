"""Whatever a client sends over the websocket: every page takes a value out of every widget's
range, or a file of the wrong type in every uploader, and answers with its defaults or one
sentence, never an exception box, and the session lives on (the same values sent again, as a
browser keeps sending them, draw the page again).

Out of range means what no browser sends: a selectbox or radio value that is not an option,
every option of a multiselect and one more, a slider far beyond its end, a number input NaN, a
text box of 200,000 characters with a NUL in it, a table edit or cell selection outside the
table. Uploads go in as a browser's uploader sends them (file URLs, a multipart PUT, the
widget's state), but named `notes.txt`, which no uploader's browser filter offers.
"""

from __future__ import annotations

import io
import json
import math

import pytest
from PIL import Image
from streamlit.proto.WidgetStates_pb2 import WidgetState

from explorer import i18n
from explorer.ui import navigation
from tests.e2e.wire import Render, Widget, WireClient, forged_session

PAGES = ["", *(spec.url_path for spec in navigation.LESSONS)]  # "": home
NOT_AN_OPTION = "not an option"
# What each uploader answers a text file named notes.txt, in the session's language.
IMAGE_SENTENCE = ("“{name}” is not an image this app can read (accepted: PNG, JPEG, WebP, BMP, "
                  "TIFF, GIF).")
STATE_DICT_SENTENCE = ("This is not a PyTorch .pt file (torch.save writes a zip archive); save "
                       "one with torch.save(model.state_dict(), path).")
LANGUAGE_PICKER = "Language · 语言"  # forged elsewhere; here it would switch the language


def forged(widget: Widget) -> WidgetState | None:
    """A value for `widget` that its browser widget can never report (None: nothing to forge)."""
    state, proto = WidgetState(id=widget.id), widget.proto
    if widget.kind in ("selectbox", "radio"):
        state.string_value = NOT_AN_OPTION
    elif widget.kind == "multiselect":  # no option, and more than max_selections allows
        state.string_array_value.data.extend([NOT_AN_OPTION, *proto.options])
    elif widget.kind == "slider" and proto.options:  # a select_slider
        state.string_array_value.data.extend([NOT_AN_OPTION] * len(proto.default))
    elif widget.kind == "slider":
        state.double_array_value.data.extend([proto.max + 1e6] * len(proto.default))
    elif widget.kind == "number_input":
        state.double_value = math.nan
    elif widget.kind in ("text_input", "text_area"):
        state.string_value = "\x00<b>" * 50_000
    elif widget.kind == "dataframe" and (proto.editing_mode or proto.selection_mode):
        state.string_value = json.dumps({
            "edited_rows": {"999": {"0": "x"}, "0": {"999": 1e308}},
            "selection": {"rows": [999], "columns": ["nope"], "cells": [[999, "nope"]]}})
    else:
        return None
    return state


def _problems(render: Render) -> list[str]:
    guard = {i18n.translations(lang).gettext("This part of the page could not be drawn for this "
                                             "image; the rest still works.")
             for lang in i18n.LANGUAGES}
    return render.exceptions + [t for t in render.texts if t in guard]


async def _forge_everything(client: WireClient) -> list[Render]:
    first = await client.run()
    assert first.headings and not _problems(first), first.exceptions
    states = []
    for widget in first.widgets:
        if widget.kind == "file_uploader":
            states.append(await client.upload(widget.id, "notes.txt", b"just some notes\n"))
        elif getattr(widget.proto, "label", "") != LANGUAGE_PICKER and (s := forged(widget)):
            states.append(s)
    return [first, await client.run(states), await client.run(states)]


@pytest.mark.parametrize("page", PAGES)
def test_forged_values_get_defaults_or_a_sentence(app_url: str, page: str) -> None:
    first, forged_run, again = forged_session(app_url, page, "lang=en", "",
                                              _forge_everything)
    for render in (forged_run, again):
        assert not _problems(render), f"{page or 'home'}: {_problems(render)}"
        assert render.headings[:1] == first.headings[:1], "the page was not drawn again"
    uploaders = [w.proto.label for w in first.widgets if w.kind == "file_uploader"]
    for label, sentence in (("…or upload your own", IMAGE_SENTENCE.format(name="notes.txt")),
                            ("Upload a state_dict (.pt) to load into this model",
                             STATE_DICT_SENTENCE)):
        if label in uploaders:
            assert again.texts.count(sentence) == 1, (label, again.texts)


@pytest.mark.parametrize(("page", "sentence"), [
    ("", IMAGE_SENTENCE), ("zoo", STATE_DICT_SENTENCE)])
def test_a_wrong_file_is_answered_in_chinese(app_url: str, page: str, sentence: str) -> None:
    _, _, again = forged_session(app_url, page, "lang=zh", "", _forge_everything)
    assert not _problems(again), _problems(again)
    chinese = i18n.translations("zh").gettext(sentence).format(name="notes.txt")
    assert again.texts.count(chinese) == 1, (chinese, again.texts)


def _png() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), "white").save(buffer, format="PNG")
    return buffer.getvalue()


@pytest.mark.parametrize(("page", "uploader", "name", "data", "sentence"), [
    ("", "…or upload your own", "empty.png", b"", "“{name}” is empty (0 bytes)."),
    ("", "…or upload your own", "weights.jpg", b"PK\x05\x06" + bytes(18),
     IMAGE_SENTENCE),
    ("zoo", "Upload a state_dict (.pt) to load into this model", "photo.pt", None,
     STATE_DICT_SENTENCE),
], ids=["empty", "renamed-to-jpg", "photo-renamed-to-pt"])
def test_an_empty_or_renamed_file_gets_one_sentence(app_url: str, page: str, uploader: str,
                                                    name: str, data: bytes | None,
                                                    sentence: str) -> None:
    async def steps(client: WireClient) -> Render:
        first = await client.run()
        widget = next(w for w in first.widgets if w.kind == "file_uploader"
                      and w.proto.label == uploader)
        state = await client.upload(widget.id, name, _png() if data is None else data)
        await client.run([state])
        return await client.run([state])

    again = forged_session(app_url, page, "lang=en", "", steps)
    assert not _problems(again), _problems(again)
    assert again.texts.count(sentence.format(name=name)) == 1, again.texts
