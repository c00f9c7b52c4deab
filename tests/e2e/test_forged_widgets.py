"""Whatever a client sends over the websocket: every page takes a value out of every widget's
range, or a file of the wrong type in every uploader, and answers with its defaults or one
sentence, never an exception box, and the session lives on (the same values sent again, as a
browser keeps sending them, draw the page again).

Out of range means what no browser sends: a selectbox or radio value that is not an option,
every option of a multiselect and one more, a slider far beyond its end, a number input NaN, a
text box of 200,000 characters with a NUL in it, a table edit or cell selection outside the
table, a checkbox given a string. Uploads go in as a browser's uploader sends them (file URLs, a
multipart PUT, the widget's state), to every uploader and camera input: a text file named
`notes.txt`, which no uploader's browser filter offers, then an empty file, then a "huge" one (a
PNG whose header claims 60,000 × 60,000 pixels); one over Streamlit's upload limit is refused
before the app sees it. Every lesson page is forged as a student; the teacher's room and a
lesson page as the signed-in teacher (whose sidebar has more); Your own classes once a dataset
exists (its uploaders and camera appear only then).
"""

from __future__ import annotations

import io
import json
import math
import struct
import urllib.error
import zlib

import pytest
from PIL import Image
from streamlit.proto.WidgetStates_pb2 import WidgetState

from explorer import i18n
from explorer.classroom import identity, secret_key, teacher
from explorer.training import runs
from explorer.ui import navigation
from tests.e2e.wire import Render, Widget, WireClient, forged_session

PAGES = ["", *(spec.url_path for spec in navigation.LESSONS)]  # "": home
AS_TEACHER = [*(spec.url_path for spec in navigation.TEACHER_PAGES), "conv-arithmetic"]
UPLOADS = ("file_uploader", "camera_input")
NOT_AN_OPTION = "not an option"
# What each uploader answers a text file named notes.txt, in the session's language.
IMAGE_SENTENCE = ("“{name}” is not an image this app can read (accepted: PNG, JPEG, WebP, BMP, "
                  "TIFF, GIF).")
STATE_DICT_SENTENCE = ("This is not a PyTorch .pt file (torch.save writes a zip archive); save "
                       "one with torch.save(model.state_dict(), path).")
HUGE_SENTENCE = "“huge.png” is too large to decode safely (a possible decompression bomb)."
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
    elif widget.kind == "checkbox":
        state.string_value = NOT_AN_OPTION
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


def claimed_png(width: int, height: int) -> bytes:
    """A tiny PNG whose header claims `width` × `height` pixels (a decompression bomb)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data)))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0,
                                                              0, 0))
            + chunk(b"IDAT", zlib.compress(b"")) + chunk(b"IEND", b""))


#: (name, bytes) sent to every uploader, one after the other
FILES = (("notes.txt", b"just some notes\n"), ("empty.png", b""),
         ("huge.png", claimed_png(60_000, 60_000)))


async def _forge_everything(client: WireClient, first: Render | None = None,
                            values: bool = True, uploads: tuple[str, ...] = UPLOADS
                            ) -> list[Render]:
    """Forged values in every widget (unless not `values`) and each of FILES in every
    uploader (of the kinds `uploads`); every render."""
    first = first or await client.run()
    assert first.headings and not _problems(first), first.exceptions
    renders = [first]
    for i, (name, data) in enumerate(FILES):
        # the latest render's uploaders: a page may renew an uploader once it has read a file
        states = [await client.upload(w.id, name, data) for w in renders[-1].widgets
                  if w.kind in uploads]
        if i == 0 and values:
            states += [s for w in first.widgets if w.kind not in UPLOADS
                       and getattr(w.proto, "label", "") != LANGUAGE_PICKER
                       and (s := forged(w)) is not None]
        renders += [await client.run(states), await client.run(states)]
    return renders


def _teacher_cookie() -> str:
    """A browser id the server knows as the signed-in teacher's (as the passphrase form
    would leave it)."""
    key, browser = secret_key.load(runs.runs_dir()), identity.new_id()
    teacher.sessions(runs.runs_dir()).sign_in(identity.owner_tag(browser, key))
    return f"explorer_id={identity.sign(browser, key)}"


def _check(page: str, renders: list[Render]) -> None:
    first = renders[0]
    for render in renders[1:]:
        assert not _problems(render), f"{page or 'home'}: {_problems(render)}"
        assert render.headings[:1] == first.headings[:1], "the page was not drawn again"


@pytest.mark.parametrize("page", PAGES)
def test_forged_values_get_defaults_or_a_sentence(app_url: str, page: str) -> None:
    renders = forged_session(app_url, page, "lang=en", "", _forge_everything)
    _check(page, renders)
    first, wrong, empty, huge = renders[0], renders[2], renders[4], renders[6]
    uploaders = [w.proto.label for w in first.widgets if w.kind == "file_uploader"]
    if "…or upload your own" in uploaders:
        assert wrong.texts.count(IMAGE_SENTENCE.format(name="notes.txt")) == 1, wrong.texts
        assert empty.texts.count("“empty.png” is empty (0 bytes).") == 1, empty.texts
        assert HUGE_SENTENCE in huge.texts, huge.texts
    if "Upload a state_dict (.pt) to load into this model" in uploaders:
        assert STATE_DICT_SENTENCE in wrong.texts and STATE_DICT_SENTENCE in huge.texts


@pytest.mark.parametrize("page", AS_TEACHER)
def test_forged_values_as_the_teacher(app_url: str, page: str) -> None:
    renders = forged_session(app_url, page, "lang=en", _teacher_cookie(), _forge_everything)
    _check(page, renders)
    assert "Sign out" in [b.label for b in renders[0].buttons], "not signed in as the teacher"


async def _own_dataset(client: WireClient) -> Render:
    """Create a dataset of two classes through the page's form; the page that follows."""
    blank = await client.run()
    boxes = {w.proto.label: w for w in blank.widgets if w.kind in ("text_input", "text_area")}
    title, names = WidgetState(id=boxes["Title"].id), WidgetState(
        id=next(w.id for label, w in boxes.items() if label.startswith("Class names")))
    title.string_value, names.string_value = "forged", "rock\npaper"
    create = WidgetState(id=blank.button("Create the dataset").id)
    create.trigger_value = True
    await client.run([title, names, create])
    return await client.run()


def test_own_classes_uploaders_take_anything(app_url: str) -> None:
    """The dataset's uploaders (files, a folder), which appear once it exists."""
    async def steps(client: WireClient) -> list[Render]:
        filled = await _own_dataset(client)  # the camera: below
        return await _forge_everything(client, filled, values=False, uploads=("file_uploader",))

    renders = forged_session(app_url, "own-classes", "lang=en", "", steps)
    _check("own-classes", renders)
    assert [w.kind for w in renders[0].widgets].count("file_uploader") == 2
    for render, (name, _data) in zip(renders[1::2], FILES, strict=True):
        assert any(name in t for t in render.texts), (name, render.texts)


def test_own_classes_widgets_with_forged_values(app_url: str) -> None:
    async def steps(client: WireClient) -> list[Render]:
        return await _forge_everything(client, await _own_dataset(client),
                                       uploads=("file_uploader",))

    _check("own-classes", forged_session(app_url, "own-classes", "lang=en", "", steps))


@pytest.mark.xfail(strict=True, reason=(
    "st.camera_input's own deserializer insists on a .jpg name (streamlit 1.67, "
    "camera_input.py: enforce_filename_restriction) and raises while Streamlit reads the "
    "widget states, before the script runs: no option turns it off; docs/accessibility.md"))
def test_a_camera_picture_named_notes_txt_leaves_the_session_alive(app_url: str) -> None:
    async def steps(client: WireClient) -> Render:
        filled = await _own_dataset(client)
        camera = next(w for w in filled.widgets if w.kind == "camera_input")
        state = await client.upload(camera.id, "notes.txt", b"just some notes\n")
        await client.run([state])
        return await client.run()

    again = forged_session(app_url, "own-classes", "lang=en", "", steps)
    assert not _problems(again), _problems(again)


def test_a_file_over_the_upload_limit_is_refused_and_the_session_lives(app_url: str) -> None:
    async def steps(client: WireClient) -> Render:
        first = await client.run()
        widget = next(w for w in first.widgets if w.kind == "file_uploader")
        # Streamlit's maxUploadSize (20 MB): a 413, or the connection closed mid-body
        with pytest.raises(urllib.error.URLError):
            await client.upload(widget.id, "big.png", bytes(21 * 2**20))
        return await client.run()

    again = forged_session(app_url, "", "lang=en", "", steps)
    assert again.headings and not _problems(again), again.exceptions


@pytest.mark.parametrize(("page", "sentence"), [
    ("", IMAGE_SENTENCE), ("zoo", STATE_DICT_SENTENCE)])
def test_a_wrong_file_is_answered_in_chinese(app_url: str, page: str, sentence: str) -> None:
    again = forged_session(app_url, page, "lang=zh", "", _forge_everything)[2]
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
