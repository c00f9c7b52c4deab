"""Streamlit helpers shared by every page: the sidebar, the shared image input, URL state.

Like every module of `explorer/ui/`, it imports streamlit; the lessons' logic lives in the
plain modules of `explorer/`, which never do (`tests/test_layers.py`).
"""

from __future__ import annotations

import contextlib
import functools
import io
import logging
import re
import reprlib
import traceback
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

import streamlit as st
import torch
from PIL import Image as PILImage
from streamlit.errors import FragmentHandledException
from streamlit.runtime.scriptrunner_utils.exceptions import ScriptControlException

from explorer import REPO_ROOT, devices, i18n, images
from explorer.i18n import N_, _
from explorer.training import scheduler
from explorer.ui import identity, language, share
from explorer.ui.url_params import format_param, parse_param

_IMAGE_CHOICE = "shared_image_choice"  # persists across pages (not a widget key)
_IMAGE_UPLOAD = "shared_image_upload"  # the decoded upload, kept when the uploader is cleared
_UPLOAD_PREFIX = "Your upload: "


# --- page furniture ------------------------------------------------------------------------


def page_header(title: str, lesson: str) -> None:
    """Title plus a one-paragraph statement of what the page teaches."""
    st.title(title)
    st.markdown(lesson)


def sidebar() -> None:
    """The part of the sidebar every page shares: language, the share button, the device."""
    language.picker()
    share.copy_link_button()
    info = device_info()
    st.sidebar.caption(_("Computing on **{name}** · {detail}").format(name=info.name,
                                                                        detail=info.detail))
    identity.browser_id()
    identity.teacher_panel()
    training_scheduler()
    st.html(_PAGE_CSS)


@st.cache_resource
def training_scheduler() -> scheduler.Scheduler:
    """This server process's scheduler thread, which starts queued runs as worker processes."""
    return scheduler.ensure_started()


# --- guarded sections ------------------------------------------------------------------------

GUARD_SENTENCE = N_("This part of the page could not be drawn for this image; "
                    "the rest still works.")
guard_log = logging.getLogger("explorer.guard")
_P = ParamSpec("_P")
_R = TypeVar("_R")
_short = reprlib.Repr()
_short.maxstring, _short.maxother, _short.maxlist, _short.maxdict = 120, 120, 8, 12
_PAGES_DIR = REPO_ROOT / "pages"


@contextlib.contextmanager
def section(name: str, **inputs: Any) -> Iterator[None]:
    """`with widgets.section("name"):` -- the block spoils only itself if it fails unexpectedly.

    The block draws into its own slot; if it raises, the slot is replaced by one sentence
    (`GUARD_SENTENCE`), the full traceback is logged on the server with the page, the section
    and `inputs`, and the page goes on after the block. Streamlit's own control flow
    (st.stop, st.rerun, fragment reruns) passes through untouched. It is a safety net, not
    error handling: expected bad input deserves its own sentence.
    """
    slot = st.empty()
    try:
        with slot.container():
            yield
    except (ScriptControlException, FragmentHandledException):
        raise
    except Exception as err:
        _log_failure(name, err, inputs)
        slot.warning(_(GUARD_SENTENCE), icon=":material/construction:")


def guarded(name: str) -> Callable[[Callable[_P, _R]], Callable[_P, _R | None]]:
    """Decorate a page section function with `section(name)`; it returns None if it failed.

    On a fragment put it under `@st.fragment`, so that the fragment's own reruns are guarded.
    """

    def decorate(func: Callable[_P, _R]) -> Callable[_P, _R | None]:
        @functools.wraps(func)
        def run_guarded(*args: _P.args, **kwargs: _P.kwargs) -> _R | None:
            with section(name, args=args, kwargs=kwargs):
                return func(*args, **kwargs)
            return None

        return run_guarded

    return decorate


def _log_failure(name: str, err: Exception, inputs: dict[str, Any]) -> None:
    """The traceback plus what is needed to replay it: page, section, inputs, widget values."""
    frames = traceback.extract_tb(err.__traceback__)
    page = next((Path(f.filename).name for f in frames
                 if Path(f.filename).resolve().parent == _PAGES_DIR), "?")
    try:
        state = {k: v for k, v in st.session_state.to_dict().items()
                 if isinstance(v, str | int | float | bool) and not k.startswith("_")}
    except Exception:  # no session (a bare call): the inputs alone must do
        state = {}
    shown = ", ".join(f"{k}={_short.repr(v)}" for k, v in inputs.items())
    guard_log.error("section %r of page %s failed; inputs: %s; session: %s", name, page,
                    shown or "none", _short.repr(state), exc_info=err)


# Streamlit writes "Press Enter to apply" inside a number input, over the right end of the
# typed value, so a long value ran under it; it goes just under the box instead. A chart's
# summary (`charts.plotly`) is clipped to a pixel, not display:none, which a screen reader
# would skip too.
_PAGE_CSS = """<style>
[data-testid="stNumberInput"] [data-testid="InputInstructions"] { top: 0.1rem; line-height: 1; }
.explorer-chart-summary { position: absolute; width: 1px; height: 1px; padding: 0;
  margin: -1px; overflow: hidden; clip: rect(0, 0, 0, 0); white-space: nowrap; border: 0; }
</style>"""


# --- number inputs that say their range ---------------------------------------------------------

_RANGE_RE = re.compile(r"Allowed: (\S+) to (\S+)\.$")


def range_help(low: float, high: float) -> str:
    """The sentence every number input's help ends with; `allowed_range` reads it back (in
    English, the language the sweep runs in)."""
    return _("Allowed: {low} to {high}.").format(low=_number(low), high=_number(high))


def allowed_range(help_text: str | None) -> tuple[float, float] | None:
    """(low, high) from a help text ending in `range_help`, else None."""
    match = _RANGE_RE.search(help_text or "")
    return (_parse_number(match[1]), _parse_number(match[2])) if match else None


def _number(value: float) -> str:
    return f"{value:,}" if isinstance(value, int) else f"{value:g}"


def _parse_number(text: str) -> float:
    text = text.replace(",", "")
    return int(text) if text.lstrip("-").isdigit() else float(text)


def number_input(
    label: str,
    min_value: float,
    max_value: float,
    value: float | None = None,
    *,
    key: str,
    where: Any = None,
    help: str | None = None,
    step: float | None = None,
    on_change: Callable[..., None] | None = None,
    args: tuple = (),
    **kwargs: Any,
) -> Any:
    """`st.number_input` (in container `where`) that states its range in its help and answers
    a typed value outside it with a sentence, keeping the nearest allowed value.

    Streamlit's own min/max make the browser refuse such a value in a silent red box, so the
    bounds are checked here instead. When the range itself moves (another widget, a new photo)
    the value is kept inside it without a word.
    """
    where = st if where is None else where
    integer = isinstance(min_value, int) and isinstance(max_value, int)
    current = st.session_state.get(key)
    if current is None:
        current = min_value if value is None else value
    elif not min_value <= current <= max_value:
        current = min(max(current, min_value), max_value)
    # Streamlit turns an integer input's reported value into an int before any code of ours
    # runs, and a NaN sent over the websocket raises there on every later rerun; a float
    # input drops a non-finite value instead, so whole numbers travel as floats shown as such.
    st.session_state[key] = float(current) if integer else current
    number_format = kwargs.pop("format", None)
    allowed = range_help(min_value, max_value)
    result = where.number_input(
        label, key=key, step=float(step or 1) if integer else step,
        format="%.0f" if integer else number_format,
        help=f"{help} {allowed}" if help else allowed,
        on_change=_keep_in_range,
        args=(key, label, min_value, max_value, integer, on_change, args),
        **kwargs,
    )
    if note := st.session_state.pop(f"_range_note_{key}", None):
        where.warning(note, icon=":material/straighten:")
    if result is None:
        return None
    result = min(max(result, min_value), max_value)  # a forged value is not our bounds' peer
    return round(result) if integer else result


def _keep_in_range(key: str, label: str, low: float, high: float, integer: bool,
                   then: Callable[..., None] | None, args: tuple) -> None:
    typed = st.session_state.get(key)
    if typed is not None and integer:  # the callbacks after this one read a whole number
        st.session_state[key] = round(typed)
    if typed is not None and not low <= typed <= high:
        kept = min(max(typed, low), high)
        st.session_state[key] = round(kept) if integer else kept
        st.session_state[f"_range_note_{key}"] = _(
            "{label} goes from {low} to {high}; {typed} is outside that, so it is now {kept}."
        ).format(label=label, low=_number(low), high=_number(high), typed=_number(typed),
                 kept=_number(kept))
    if then is not None:
        then(*args)


# --- pictures that stay on screen ----------------------------------------------------------------

#: Tallest a picture is drawn, in CSS pixels: an upright strip drawn at its column's width
#: would be tens of thousands of pixels tall and push the rest of the page out of reach.
MAX_PICTURE_HEIGHT = 480


def picture(image: Any, *, where: Any = None, width: int | str = "stretch",
            max_height: int = MAX_PICTURE_HEIGHT, alt: str | None = None,
            **kwargs: Any) -> None:
    """`st.image` (in container `where`), narrowed so that it is never drawn taller than
    `max_height` px; `image` is a PIL image, an array or encoded bytes. Its text alternative
    is `alt_text(alt or the caption, image)`."""
    where = st if where is None else where
    kwargs["alt"] = alt_text(alt or kwargs.get("caption") or _("A picture"), image)
    columns, rows = _picture_size(image)
    if rows > columns:  # upright: its height decides how wide it may be
        fits = max(1, round(max_height * columns / rows))
        narrowed = fits if width == "stretch" else min(int(width), fits)
        if narrowed < 120 and (caption := kwargs.pop("caption", None)):
            where.image(image, width=narrowed, **kwargs)
            where.caption(caption)  # under a narrow picture it would wrap letter by letter
            return
        width = narrowed
    where.image(image, width=width, **kwargs)


def image(where: Any, picture: Any, *, caption: str | None = None, alt: str | None = None,
          **kwargs: Any) -> None:
    """`where.image(picture)` with a text alternative: `alt_text(alt or caption, picture)`."""
    where.image(picture, caption=caption,
                alt=alt_text(alt or caption or _("A picture"), picture), **kwargs)


def alt_text(what: str, image: Any) -> str:
    """A picture's text alternative, in the session's language: `what` it shows (layer,
    channel, photo), then its size in pixels and, unless it is encoded, its range of values."""
    columns, rows = _picture_size(image)
    values = _value_range(image)
    what = what.rstrip(" .。")
    if values is None:
        return _("{what}. Picture of {w}×{h} pixels.").format(what=what, w=columns, h=rows)
    return _("{what}. Picture of {w}×{h} pixels, values from {low:g} to {high:g}.").format(
        what=what, w=columns, h=rows, low=values[0], high=values[1])


def _value_range(image: Any) -> tuple[float, float] | None:
    """(smallest, largest) value of a PIL image or an array; None for encoded bytes."""
    if isinstance(image, bytes | bytearray):
        return None
    if hasattr(image, "getextrema"):
        bands = image.getextrema()
        bands = bands if isinstance(bands[0], tuple) else (bands,)
        return float(min(b[0] for b in bands)), float(max(b[1] for b in bands))
    return float(image.min()), float(image.max())


def _picture_size(image: Any) -> tuple[int, int]:
    """(width, height) in pixels, read from the header when the picture is encoded."""
    if isinstance(image, bytes | bytearray):
        with PILImage.open(io.BytesIO(image)) as header:
            return header.size
    if hasattr(image, "shape"):  # numpy array or tensor, rows first
        return int(image.shape[1]), int(image.shape[0])
    return image.size


# --- state across pages, the device, versions ------------------------------------------------


def keep_widget_state(name: str, keys: Sequence[str]) -> None:
    """Keep a page's widget values across page switches (Streamlit drops unrendered widgets).

    Call once at the top of the page with its value widgets' keys (not buttons): it restores
    the values saved under `name` and saves the latest ones for the next visit.
    """
    saved: dict[str, Any] = st.session_state.setdefault(f"_kept_{name}", {})
    for key in keys:
        if key not in st.session_state and key in saved:
            st.session_state[key] = saved[key]
        if key in st.session_state:
            saved[key] = st.session_state[key]


def device_info() -> devices.DeviceInfo:
    """The auto-picked device, described once per server and language."""
    return _device_info(i18n.language())


@st.cache_resource
def _device_info(lang: str) -> devices.DeviceInfo:
    with i18n.use_language(lang):
        return devices.describe_device()


def versions() -> dict[str, str]:
    """Versions of the libraries the lessons run on."""
    import torchvision

    return {"torch": torch.__version__, "torchvision": torchvision.__version__,
            "streamlit": st.__version__}


# --- URL state ------------------------------------------------------------------------------


def url_state(
    key: str,
    default: Any,
    *,
    choices: Sequence[Any] | None = None,
    bounds: tuple[float, float] | None = None,
) -> None:
    """Seed widget `key` from the address bar once per session, else with `default`.

    Create the widget with `key=key` and no `value`/`index` argument, then call
    `sync_url(key, ...)` so the address bar follows the widget. A value outside `choices` or
    `bounds` (only a client that forges widget state sends one) is replaced the same way.
    """
    if key not in st.session_state or not _allowed(st.session_state[key], choices, bounds):
        st.session_state[key] = parse_param(st.query_params.get(key), default, choices, bounds)


def offered(key: str, options: Sequence[Any]) -> None:
    """Before a selectbox or radio keyed `key`: a value that is none of `options` (only a
    client that forges widget state sends one) is dropped, so the widget shows its default."""
    if key in st.session_state and st.session_state[key] not in options:
        del st.session_state[key]


def offered_many(key: str, options: Sequence[Any], most: int | None = None) -> None:
    """Before a multiselect keyed `key`: only its `options` are kept, at most `most` of them
    (Streamlit raises on more than `max_selections`, which only a forged client sends)."""
    if isinstance(chosen := st.session_state.get(key), list | tuple):
        kept = [value for value in chosen if value in options][:most]
        if kept != list(chosen):
            st.session_state[key] = kept


def _allowed(value: Any, choices: Sequence[Any] | None, bounds: tuple[float, float] | None
             ) -> bool:
    if choices is not None and value not in choices:
        return False
    try:
        return bounds is None or bounds[0] <= value <= bounds[1]
    except TypeError:
        return False


def sync_url(*keys: str) -> None:
    """Write the current values of `keys` into the address bar."""
    for key in keys:
        if key in st.session_state:
            st.query_params[key] = format_param(st.session_state[key])


# --- uploads ---------------------------------------------------------------------------------


def uploader(label: str, accepted: str, *, key: str, where: Any = None,
             help: str | None = None, multiple: bool | str = False, **kwargs: Any) -> Any:
    """`st.file_uploader` that takes any file and leaves the verdict to the caller's reader.

    A client that skips the browser's file filter can send any name, and Streamlit's own
    `type=` check then raises while it reads the widget state, on every rerun until the
    student reloads: so no `type=` here, and the reader answers a wrong file in a sentence.
    Streamlit's "Drag and drop file here" and "Browse files" are not translatable
    (streamlit/streamlit#1353), so a line in the session's language above says what to do and
    which files (`accepted`) are read. `multiple`: many files (True) or a folder
    ("directory"); `kwargs` go to `st.file_uploader` (e.g. `on_change`).
    """
    where = st if where is None else where
    where.caption((_("Drag files or a folder onto the box below, or press its button to choose "
                     "them. Accepted: {accepted}, up to {mb} MB each.") if multiple else
                   _("Drag a file onto the box below, or press its button to choose one. "
                     "Accepted: {accepted}, up to {mb} MB.")).format(
                        accepted=accepted, mb=images.MAX_FILE_BYTES // 2**20))
    return where.file_uploader(label, key=key, help=help, accept_multiple_files=multiple,
                               **kwargs)


# --- the shared image ---------------------------------------------------------------------


def _photo_label(option: str) -> str:
    """Sample photos go by their names; an upload says it is one, in the session's language.

    (The option values themselves stay as they are: pages and tests choose photos by name.)
    """
    if option.startswith(_UPLOAD_PREFIX):
        return _("Your upload: {name}").format(name=option.removeprefix(_UPLOAD_PREFIX))
    return option


@st.cache_resource(show_spinner=False)
def _sample(path: str, lang: str) -> images.LoadedImage:
    with i18n.use_language(lang):  # its notes are sentences
        return images.load_path(Path(path))


def image_input(mode: images.Mode = "RGB") -> images.LoadedImage:
    """Sidebar widget: a sample photo or the user's upload, shared by every page of a session.

    Returns the chosen image in `mode`. A file that cannot be read shows one sentence and
    leaves the previous choice in place.
    """
    samples = images.sample_images()
    linked = st.query_params.get("photo")
    if _IMAGE_CHOICE not in st.session_state and linked in samples:  # a shared link's photo
        st.session_state[_IMAGE_CHOICE] = linked
    with st.sidebar:
        st.subheader(_("Image"))
        choice_slot = st.container()
        uploaded = uploader(
            _("…or upload your own"), _("PNG, JPEG, WebP, BMP, TIFF, GIF"),
            key="shared_image_uploader",
            help=_("Images larger than {side} px on the longest side are downscaled before "
                   "any computation.").format(side=images.DEFAULT_MAX_SIDE),
        )
        just_uploaded = False
        if uploaded is not None and st.session_state.get("_shared_upload_id") != uploaded.file_id:
            st.session_state["_shared_upload_id"] = uploaded.file_id
            try:
                loaded = images.load_image(uploaded.getvalue(), name=uploaded.name)
            except images.ImageLoadError as err:
                st.session_state["_shared_upload_error"] = str(err)
            else:
                st.session_state.pop("_shared_upload_error", None)
                st.session_state[_IMAGE_UPLOAD] = loaded
                st.session_state[_IMAGE_CHOICE] = _UPLOAD_PREFIX + loaded.name
                just_uploaded = True
        if error := st.session_state.get("_shared_upload_error"):
            st.error(error)

        upload: images.LoadedImage | None = st.session_state.get(_IMAGE_UPLOAD)
        options = list(samples) + ([_UPLOAD_PREFIX + upload.name] if upload else [])
        # The select's own state is the freshest choice, unless an upload just replaced it;
        # the persistent copy carries the choice to pages where the select was not drawn.
        picked = st.session_state.get("shared_image_select")
        if not just_uploaded and picked in options:
            st.session_state[_IMAGE_CHOICE] = picked
        if st.session_state.get(_IMAGE_CHOICE) not in options:
            st.session_state[_IMAGE_CHOICE] = options[0]
        st.session_state["shared_image_select"] = st.session_state[_IMAGE_CHOICE]
        with choice_slot:
            choice = st.selectbox(_("Photo"), options, key="shared_image_select",
                                  format_func=_photo_label)
        st.session_state[_IMAGE_CHOICE] = choice
        from_upload = choice.startswith(_UPLOAD_PREFIX)
        # an upload cannot travel in a link; the share button says so when it sees this mark
        st.query_params["photo"] = share.UPLOAD_MARK if from_upload else choice
        if linked == share.UPLOAD_MARK and not upload and "_upload_link_noted" not in \
                st.session_state:
            st.session_state["_upload_link_noted"] = True
            st.info(_("This link was made with an uploaded photo, which a link cannot carry; "
                      "you see a sample photo instead. Upload your own above."),
                    icon=":material/link_off:")

        loaded = upload if upload and from_upload else _sample(
            str(samples[choice]), i18n.language()
        )
        picture(loaded.image, max_height=320,
                alt=_("The photo every page works on: {name}").format(name=loaded.name))
        caption = f"{loaded.name} · {loaded.image.width}×{loaded.image.height}"
        st.caption(" · ".join([caption, *loaded.notes]))
    if mode == loaded.image.mode:
        return loaded
    return images.LoadedImage(
        images.to_mode(loaded.image, mode), loaded.name, loaded.original_size, loaded.notes
    )
