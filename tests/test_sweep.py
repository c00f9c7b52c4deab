"""Property-based sweep of every page: any image the loader accepts, every widget at its extremes.

Each case renders a page in AppTest and asserts that no exception element appears and that no
guarded section fell back to its "could not be drawn" sentence (`widgets.guarded` is a safety
net; the sweep is what shows it never has to catch anything). Images go through the real
loader, so their sizes cover what it lets through: 1×1, 1×N and N×1 strips, 2×2, the most
extreme aspect ratios the pixel cap permits, the largest allowed image, in L, RGB, RGBA, P and
16-bit. Widgets are read from the rendered page, so a new widget is swept without editing this
file: every slider and number input at its minimum and maximum (and a number just outside its
range), every option of every select, radio, pill and multiselect, both states of every toggle.

Two Hypothesis profiles: "sweep-ci" (the default; `make test`, about a minute on two cores,
derandomised so CI is reproducible) and "sweep-long" (`make sweep`, random, many more cases,
and the exhaustive walk over every widget of every page). `SWEEP_PROFILE` picks one.
"""

from __future__ import annotations

import io
import os
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from PIL import Image
from streamlit.proto.WidgetStates_pb2 import WidgetState
from streamlit.testing.v1 import AppTest
from streamlit.testing.v1.element_tree import Widget

from explorer import i18n, images
from explorer.ui import language, navigation, widgets

APP = Path(__file__).resolve().parent.parent / "explorer" / "app.py"

_SLOW = [HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.large_base_example]
settings.register_profile("sweep-ci", max_examples=8, deadline=None, derandomize=True,
                          suppress_health_check=_SLOW, database=None)
settings.register_profile("sweep-long", max_examples=150, deadline=None,
                          suppress_health_check=_SLOW)
PROFILE = os.environ.get("SWEEP_PROFILE", "sweep-ci")
SWEEP = settings.get_profile(PROFILE)
LONG = PROFILE != "sweep-ci"

PAGES = [navigation.HOME, *navigation.available_pages()]
PAGE_IDS = [p.url_path for p in PAGES]
TIMEOUT = 300  # seconds per script run: the deepest networks on a busy two-core CPU
CASES: Counter[str] = Counter()  # page × input cases run, printed at the end of the module

GUARDS = {i18n.translations(lang).gettext(widgets.GUARD_SENTENCE) for lang in i18n.LANGUAGES}
MODES = ("L", "RGB", "RGBA", "P", "I;16")
MAX_SIDE = images.DEFAULT_MAX_SIDE
CAP = images.MAX_SOURCE_PIXELS


# --- photos the loader accepts ----------------------------------------------------------------


@dataclass(frozen=True)
class Photo:
    """A recipe for an image file: size and mode of the source, and what its pixels hold."""

    width: int
    height: int
    mode: str = "RGB"
    fill: str = "noise"  # noise, gradient, black, white
    seed: int = 0

    def __str__(self) -> str:
        return f"{self.width}x{self.height} {self.mode} {self.fill}"

    def encode(self) -> bytes:
        """PNG bytes of the image (PNG holds all five modes, 16-bit included)."""
        buffer = io.BytesIO()
        self.pixels().save(buffer, "PNG", compress_level=1)
        return buffer.getvalue()

    def pixels(self) -> Image.Image:
        h, w = self.height, self.width
        deep = self.mode == "I;16"
        top = 65535 if deep else 255
        channels = {"L": 1, "I;16": 1, "P": 1, "RGB": 3, "RGBA": 4}[self.mode]
        if self.fill in ("black", "white"):
            arr = np.full((h, w, channels), top if self.fill == "white" else 0)
        elif self.fill == "gradient" or h * w > 1_000_000:  # big noise costs seconds to encode
            ramp = (np.arange(w)[None, :] * 7 + np.arange(h)[:, None] * 3) % (top + 1)
            arr = np.repeat(ramp[:, :, None], channels, axis=2)
        else:
            arr = np.random.default_rng(self.seed).integers(0, top + 1, (h, w, channels))
        arr = arr.astype(np.uint16 if deep else np.uint8)
        if self.mode == "P":
            img = Image.frombytes("P", (w, h), arr[:, :, 0].tobytes())
            palette = np.random.default_rng(self.seed + 1).integers(0, 256, 768, dtype=np.uint8)
            img.putpalette(palette.tobytes())
            img.info["transparency"] = 0
            return img
        if self.mode == "I;16":
            return Image.frombytes("I;16", (w, h), arr[:, :, 0].astype("<u2").tobytes())
        return Image.fromarray(arr[:, :, 0] if channels == 1 else arr)


@cache
def load(photo: Photo) -> images.LoadedImage:
    """The photo through the app's loader, exactly as an upload would be."""
    return images.load_image(photo.encode(), name=f"sweep-{photo.width}x{photo.height}.png")


def _side(limit: int) -> st.SearchStrategy[int]:
    return st.one_of(st.sampled_from([1, 2, 3, MAX_SIDE]), st.integers(1, limit))


@st.composite
def photos(draw: st.DrawFn) -> Photo:
    """Sources up to a few times the longest side kept (the loader downscales them)."""
    width = draw(_side(3 * MAX_SIDE))
    height = min(draw(_side(3 * MAX_SIDE)), CAP // width)
    return Photo(width, height, draw(st.sampled_from(MODES)),
                 draw(st.sampled_from(["noise", "gradient", "black", "white"])),
                 draw(st.integers(0, 2**16)))


# Shapes every profile covers, on every page that shows the photo.
NAMED = {
    "1x1": Photo(1, 1, "L"),
    "2x2": Photo(2, 2, "P"),
    "1-px-high strip": Photo(MAX_SIDE, 1, "RGB"),
    "1-px-wide strip": Photo(1, MAX_SIDE, "RGBA"),
    "3-px-high strip": Photo(3 * MAX_SIDE, 3, "I;16"),
    "widest at the cap": Photo(CAP, 1, "L", "gradient"),
    "tallest at the cap": Photo(1, CAP // 4, "L", "gradient"),  # 10 MP: a taller one takes 10 s
    "largest allowed": Photo(6324, 6324, "RGB", "gradient"),  # 39.99 MP of the 40 MP cap
}


def test_named_photos_pass_the_loader_within_its_limits():
    for name, photo in NAMED.items():
        loaded = load(photo)
        assert max(loaded.size) <= MAX_SIDE and min(loaded.size) >= 1, name
        assert loaded.original_size == (photo.width, photo.height)


# --- running pages -----------------------------------------------------------------------------


def open_page(spec: navigation.PageSpec, photo: Photo | None = None) -> AppTest:
    """A fresh session on `spec`, with `photo` as the user's upload when given."""
    at = AppTest.from_file(str(APP), default_timeout=TIMEOUT)
    if photo is not None:
        loaded = load(photo)
        at.session_state["shared_image_upload"] = loaded
        at.session_state["shared_image_choice"] = "Your upload: " + loaded.name
    at.run()  # pages are registered by st.navigation on the first run
    if spec is not navigation.HOME:
        at.switch_page(os.path.relpath(spec.path, APP.parent)).run()
    return at


def check(at: AppTest, spec: navigation.PageSpec, what: str) -> None:
    """The page drew without an exception element and no guarded section gave up."""
    CASES[spec.url_path] += 1
    where = f"{spec.url_path} with {what}"
    assert not at.exception, f"{where}: {[e.value for e in at.exception]}"
    guarded = [w.value for w in at.warning if w.value in GUARDS]
    assert not guarded, f"{where}: a guarded section failed (traceback in the log)"
    titles = [t.value for t in at.title]
    in_any_language = {i18n.translations(lang).gettext(spec.title) for lang in i18n.LANGUAGES}
    assert titles and (spec is navigation.HOME or titles[0] in in_any_language), \
        f"{where}: {titles}"


def shows_photo(at: AppTest) -> bool:
    return any(w.key == "shared_image_select" for w in page_widgets(at))


@cache
def photo_pages() -> list[navigation.PageSpec]:
    """The pages that use the shared photo, read from their default render."""
    return [spec for spec in PAGES if shows_photo(open_page(spec))]


# --- the image sweep -----------------------------------------------------------------------


@pytest.mark.parametrize("name", list(NAMED))
def test_every_photo_page_draws_the_named_shapes(name):
    photo = NAMED[name]
    for spec in photo_pages():
        check(open_page(spec, photo), spec, f"{name} photo ({photo})")


@settings(SWEEP, max_examples=SWEEP.max_examples * 2)
@given(page=st.integers(0, len(PAGES) - 1), photo=photos())
@example(page=0, photo=Photo(1, 1))
def test_pages_draw_any_photo_the_loader_accepts(page, photo):
    specs = photo_pages()
    spec = specs[page % len(specs)]
    check(open_page(spec, photo), spec, f"photo {photo}")


# --- the widget sweep ----------------------------------------------------------------------


@dataclass(frozen=True)
class Move:
    """One thing a user can do to one widget: set it to `value` (a browser's widget state)."""

    kind: str
    ident: tuple[str, ...]  # key, or label and position among widgets with that label
    value: Any
    shown: str  # for messages

    def __str__(self) -> str:
        return f"{self.kind} {'/'.join(self.ident)} = {self.shown}"


SKIPPED_KINDS = {"button", "download_button", "file_uploader", "chat_input", "camera_input",
                 "audio_input", "text_input", "text_area", "date_input", "time_input",
                 "color_picker", "form_submit_button", "feedback", "pagination", "menu_button"}


def page_widgets(at: AppTest) -> list[Widget]:
    return [node for node in at._tree if isinstance(node, Widget)]


def identities(at: AppTest) -> Iterator[tuple[tuple[str, ...], Widget]]:
    seen: Counter[tuple[str, str]] = Counter()
    for w in page_widgets(at):
        label = getattr(w, "label", "")
        seen[(w.type, label)] += 1
        yield ((w.key,) if w.key else (label, str(seen[(w.type, label)]))), w


def moves(at: AppTest) -> list[Move]:
    """Every extreme setting of every enabled widget now on the page."""
    found = []
    for ident, w in identities(at):
        if w.disabled or w.type in SKIPPED_KINDS:
            continue
        for value, shown in extremes(w):
            found.append(Move(w.type, ident, value, shown))
    return found


def extremes(w: Widget) -> list[tuple[Any, str]]:
    if w.type == "slider":
        lo, hi = w.min, w.max
        if w.proto.data_type == w.proto.DataType.INT:
            lo, hi = int(lo), int(hi)
        if isinstance(w.value, list | tuple):
            return [((lo, lo), f"{lo}..{lo}"), ((hi, hi), f"{hi}..{hi}"), ((lo, hi), "full")]
        return [(lo, f"min {lo}"), (hi, f"max {hi}")]
    if w.type == "number_input":
        lo, hi = w.min, w.max
        if lo is None or hi is None:
            lo, hi = widgets.allowed_range(w.help) or (lo, hi)
        ends = [(v, f"{name} {v}") for v, name in ((lo, "min"), (hi, "max")) if v is not None]
        if LONG:  # what a student types past the ends
            ends += [(lo - w.step, f"below min {lo - w.step}")] if lo is not None else []
            ends += [(hi + w.step, f"above max {hi + w.step}")] if hi is not None else []
        return ends
    if w.type in ("selectbox", "radio"):
        options = w.options if LONG else list(dict.fromkeys(w.options[:1] + w.options[-1:]))
        return [(option, option) for option in options]
    if w.type == "select_slider":
        return [((w.options[0],), w.options[0]), ((w.options[-1],), w.options[-1])]
    if w.type == "multiselect":
        return [((), "none"), (tuple(w.options), "all")]
    if w.type == "button_group":
        options = w.options if LONG else list(dict.fromkeys(w.options[:1] + w.options[-1:]))
        return [((option,), option) for option in options]
    if w.type in ("checkbox", "toggle"):
        return [(True, "on"), (False, "off")]
    return []


def find(at: AppTest, ident: tuple[str, ...]) -> Widget | None:
    return next((w for i, w in identities(at) if i == ident), None)


def apply(at: AppTest, move: Move) -> bool:
    """Make the move as the browser would send it; False when the widget has gone."""
    w = find(at, move.ident)
    if w is None or w.disabled:
        return False
    if move.kind in ("selectbox", "radio", "select_slider", "multiselect", "button_group"):
        _send_strings(w, move.value)
    else:
        w.set_value(move.value)
    if getattr(w, "form_id", ""):
        submit = next(b for b in at.button if b.proto.is_form_submitter
                      and b.form_id == w.form_id)
        submit.click()
    return True


def _send_strings(w: Widget, value: str | list[str]) -> None:
    """Select options by their shown text, which is what the browser sends.

    AppTest's own setters take the option's Python value and format it back, which fails for
    options shown through a format_func; the browser sends the formatted text.
    """

    def state(self) -> WidgetState:
        ws = WidgetState(id=self.id)
        if isinstance(value, str):
            ws.string_value = value
        else:
            ws.string_array_value.data[:] = list(value)
        return ws

    w.__class__ = type(type(w).__name__, (type(w),), {"_widget_state": property(state)})


def rerun(at: AppTest) -> None:
    """Run again with the widgets' states. The options a select shows are in the session's
    language, so AppTest must format them in that language too (a browser sends the text)."""
    state = at.session_state  # AppTest's proxy has no .get
    shown_in = state[language.KEY] if language.KEY in state else "en"  # noqa: SIM401
    with i18n.use_language(shown_in):
        at.run()


def walk(spec: navigation.PageSpec, photo: Photo | None, choose: Callable[[list[Move]], Move],
         steps: int) -> list[str]:
    """Open `spec` and make `steps` moves picked by `choose` from what the page shows then."""
    at = open_page(spec, photo)
    done: list[str] = [f"photo {photo}" if photo else "the default photo"]
    check(at, spec, done[0])
    for _ in range(steps):
        available = moves(at)
        if not available:
            break
        move = choose(available)
        if apply(at, move):
            done.append(str(move))
            rerun(at)
            check(at, spec, ", then ".join(done))
    return done


@settings(SWEEP, max_examples=SWEEP.max_examples * 3)
@given(page=st.sampled_from(PAGES), shape=st.sampled_from([None, *NAMED.values()][:6]),
       steps=st.integers(1, 4 if LONG else 2), data=st.data())
def test_widget_extremes_in_any_order(page, shape, steps, data):
    walk(page, shape, lambda available: data.draw(st.sampled_from(available)), steps)


@pytest.mark.parametrize("spec", PAGES, ids=PAGE_IDS)
@pytest.mark.parametrize("shape", ["default", "1-px-high strip"] if LONG else ["default"])
def test_every_widget_extreme_of_every_page(spec, shape):
    """Each widget at each extreme in turn, including widgets that appear on the way (in CI a
    select's first and last options, in `make sweep` every option, on two photos)."""
    photo = None if shape == "default" else NAMED[shape]
    at = open_page(spec, photo)
    tried: set[Move] = set()
    for _ in range(2000):
        fresh = [m for m in moves(at) if m not in tried]
        if not fresh:
            break
        tried.add(fresh[0])
        if apply(at, fresh[0]):
            rerun(at)
            check(at, spec, f"{shape} photo, widgets stepped through up to {fresh[0]}")


# --- the tally -----------------------------------------------------------------------------


@pytest.fixture(scope="module", autouse=True)
def report_cases(request) -> Iterator[None]:
    yield
    plugins = request.config.pluginmanager
    reporter, capture = plugins.get_plugin("terminalreporter"), plugins.get_plugin("capturemanager")
    if reporter and capture and CASES:
        counts = ", ".join(f"{page} {n}" for page, n in sorted(CASES.items()))
        with capture.global_and_fixture_disabled():
            reporter.write_line(f"\nsweep ({PROFILE}): {sum(CASES.values())} page × input "
                                f"cases rendered: {counts}")


def test_number_range_help_reads_back():
    assert widgets.allowed_range(widgets.range_help(0, 511)) == (0, 511)
    assert widgets.allowed_range(widgets.range_help(1e-6, 100.0)) == (1e-6, 100.0)
    assert widgets.allowed_range("no range here") is None

