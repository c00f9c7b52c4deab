"""Your own classes' dataset sections: choose or make a dataset, fill its classes from the
webcam, files, a folder or a zip, and look after its images (thumbnails, move, remove).

Everything goes through `explorer.training.own_classes`, whose functions check who asks; a
session keeps only the dataset's key, the class being filled and the last upload's sentences.
Uploads are read in the widgets' callbacks and the uploaders are then replaced by fresh ones
(their keys move on), so the uploaded bytes do not stay in the session; the camera keeps its
last shot on screen until Clear photo (a renewed camera would restart its stream).
"""

from __future__ import annotations

import io

import streamlit as st

from explorer.i18n import N_, _
from explorer.training import own_classes as own
from explorer.training.access import AccessDenied, Actor
from explorer.ui import widgets

NEW = "new"  # the dataset choice that makes a new one
MOST_REFUSED = 12  # sentences shown after an upload (and how many more were left out)
IMAGES = N_("PNG, JPEG, WebP, BMP, TIFF, GIF")


def _label(actor: Actor, key: str) -> str:
    if key == NEW:
        return _("New dataset…")
    ref = own.Ref.from_key(key)
    try:
        meta = own.meta(actor, ref)
    except AccessDenied:
        return key
    title = _("{title} ({n} classes)").format(title=meta["title"], n=len(meta["classes"]))
    if actor.teacher and ref.owner != actor.owner:
        title += " · " + _("student {tag}").format(tag=ref.owner[:6])
    return title


def choose(actor: Actor) -> own.Ref | None:
    """Your datasets (the teacher: every student's) and a new one; the chosen one, or None
    while a new one is being named."""
    keys = [ref.key for ref in own.listing(actor)]
    options = [*keys, NEW]
    if st.session_state.get("own_pick") not in options:
        st.session_state["own_pick"] = keys[0] if keys else NEW
    picked = st.selectbox(_("Dataset"), options, key="own_pick",
                          format_func=lambda k: _label(actor, k))
    if picked == NEW:
        create_form(actor)
        return None
    return own.Ref.from_key(picked)


def _create(actor: Actor) -> None:
    names = [n for n in st.session_state["own_new_classes"].splitlines() if n.strip()]
    try:
        ref = own.create(actor, st.session_state["own_new_title"], names)
    except own.OwnDatasetError as err:
        st.session_state["own_create_error"] = str(err)
    else:
        st.session_state.pop("own_create_error", None)
        st.session_state["own_pick"] = ref.key


def create_form(actor: Actor) -> None:
    """Name a new dataset and its 2 to 10 classes."""
    with st.form("own_new"):
        st.text_input(_("Title"), key="own_new_title", max_chars=60,
                      placeholder=_("My classes"))
        st.text_area(_("Class names, one per line ({low} to {high})").format(
            low=own.MIN_CLASSES, high=own.MAX_CLASSES), key="own_new_classes",
            placeholder=_("rock\npaper\nscissors"), height=140)
        st.form_submit_button(_("Create the dataset"), type="primary", icon=":material/add:",
                              on_click=_create, args=(actor,))
    if error := st.session_state.pop("own_create_error", None):
        st.error(error)


def delete_button(actor: Actor, ref: own.Ref) -> None:
    """Delete the whole dataset, after a second press (its owner or the teacher)."""
    with st.popover(_("Delete this dataset"), icon=":material/delete:"):
        st.warning(_("Every image of this dataset is deleted; runs trained on it keep their "
                     "weights."))
        if st.button(_("Delete it"), key="own_delete", type="primary"):
            try:
                own.delete(actor, ref)
            except AccessDenied as err:
                st.error(str(err))
            else:
                st.session_state.pop("own_pick", None)
                st.rerun()


# --- filling the classes ------------------------------------------------------------------------


def _report(report: own.Report | None = None, error: str | None = None) -> None:
    refused = ([] if report is None else report.refused) + ([error] if error else [])
    st.session_state["own_report"] = (0 if report is None else report.added,
                                      refused[:MOST_REFUSED], max(0, len(refused) - MOST_REFUSED))


def _next_key(name: str) -> str:
    return f"own_{name}_{st.session_state.get(f'own_{name}_n', 0)}"


def _renew(name: str) -> None:
    """A fresh widget for the next shot or upload: the last one's bytes leave the session."""
    st.session_state[f"own_{name}_n"] = st.session_state.get(f"own_{name}_n", 0) + 1


def _added(actor: Actor, key: str, name: str, kind: str) -> None:
    """A widget's callback: its files (or the shot) go into the class being filled."""
    value = st.session_state.get(_next_key(name))
    ref, target = own.Ref.from_key(key), st.session_state.get("own_class", 0)
    files = value if isinstance(value, list) else [value] if value is not None else []
    if not files:  # a camera's Clear photo, or an uploader emptied
        return
    try:
        if not isinstance(target, int):  # a forged radio value (callbacks run before the page)
            raise own.OwnDatasetError(_("That class is not in this dataset."))
        if kind == "camera" and own.blank_shot(files[0].getvalue()):
            raise own.OwnDatasetError(_("This picture is all black: the camera had not started "
                                        "yet. Clear it and take it again."))
        if kind == "folder":
            _report(own.add_folder(actor, ref, [(f.name, f.getvalue()) for f in files], target))
        else:
            report = own.Report()
            for f in files:
                data = f.getvalue()
                got = (own.add_zip(actor, ref, data, target) if data[:4] == b"PK\x03\x04"
                       else own.add_files(actor, ref, target, [(f.name, data)]))
                report.added += got.added
                report.refused += got.refused
            _report(report)
    except (own.OwnDatasetError, AccessDenied) as err:
        _report(error=str(err))
    if kind != "camera":  # a camera keeps its last shot until Clear photo: a renewed one
        _renew(name)       # would have to start its stream again, and may show black meanwhile


@widgets.guarded("your classes")
def fill(actor: Actor, ref: own.Ref) -> None:
    """The class being filled, its three ways in, what the last addition did, the thumbnails
    of every class, and the warnings. Not a fragment: every addition changes the split and
    the Train button below, so it redraws the page once; picking an image to move or remove
    redraws only that row (`manage`)."""
    key = ref.key
    names = own.meta(actor, ref)["classes"]
    widgets.offered("own_class", list(range(len(names))))
    target = st.radio(_("Add images to"), list(range(len(names))), key="own_class",
                      horizontal=True, format_func=lambda i: names[i])
    camera, files = st.columns(2)
    camera.camera_input(_("Take a picture for “{name}”").format(name=names[target]),
                        key=_next_key("camera"), on_change=_added,
                        args=(actor, key, "camera", "camera"))
    widgets.uploader(_("Images or zips for “{name}”").format(name=names[target]),
                     _("{images}; a zip: its folders named after your classes go there, the "
                       "rest into this class").format(images=_(IMAGES)),
                     key=_next_key("files"), where=files, multiple=True, on_change=_added,
                     args=(actor, key, "files", "files"))
    widgets.uploader(_("A folder for “{name}”").format(name=names[target]),
                     _("a folder of images; sub-folders named after your classes go there"),
                     key=_next_key("folder"), where=files, multiple="directory",
                     on_change=_added, args=(actor, key, "folder", "folder"))
    if (last := st.session_state.get("own_report")) is not None:
        added, refused, more = last
        if added:
            st.success(_("{n} image(s) added.").format(n=added))
        for sentence in refused:
            st.warning(sentence)
        if more:
            st.caption(_("…and {n} more left out.").format(n=more))
    counts = gallery(actor, ref, names)
    for sentence in own.warnings(counts, names):
        st.warning(sentence, icon=":material/warning:")
    used, size = own.usage(actor, ref)
    st.caption(_("Your quota: {used:,} of {n:,} images, {mb:.1f} of {quota:.0f} MB, over all "
                 "your datasets.").format(used=used, n=own.quota_images(), mb=size / 2**20,
                                          quota=own.quota_bytes() / 2**20))


@st.cache_data(max_entries=64, ttl=3600, show_spinner=False)
def _sheet(key: str, class_index: int, ids: tuple[str, ...], _actor: Actor) -> bytes | None:
    """A class's contact sheet as JPEG, once per (class, images in it)."""
    sheet, _count = own.contact_sheet(_actor, own.Ref.from_key(key), class_index)
    if sheet is None:
        return None
    out = io.BytesIO()
    sheet.save(out, format="JPEG", quality=85)
    return out.getvalue()


def gallery(actor: Actor, ref: own.Ref, names: list[str]) -> list[int]:
    """Each class's thumbnails and count, then one row to move or remove an image; returns
    the counts."""
    ids = own.images_of(actor, ref)
    counts = [len(i) for i in ids]
    for index, name in enumerate(names):
        if not ids[index]:
            continue
        shown = min(len(ids[index]), 48)
        widgets.image(st, _sheet(ref.key, index, tuple(ids[index]), actor),
                      caption=_("“{name}”: {n} image(s); the newest {shown} shown, numbered "
                                "from the oldest").format(name=name, n=counts[index],
                                                         shown=shown),
                      alt=_("Thumbnails of the class “{name}”").format(name=name))
    if any(counts):
        st.fragment(manage)(actor, ref.key)
    return counts


@widgets.guarded("move or remove an image")
def manage(actor: Actor, key: str) -> None:
    """Pick an image by class and number; move it to another class or remove it (then the
    page redraws: the counts and the split change)."""
    ref = own.Ref.from_key(key)
    names = own.meta(actor, ref)["classes"]
    ids = own.images_of(actor, ref)
    filled = [i for i, c in enumerate(ids) if c]
    widgets.offered("own_manage_class", filled)
    m1, m2, m3, m4, m5 = st.columns([2, 1, 1, 2, 2], vertical_alignment="bottom")
    cls = m1.selectbox(_("Image of class"), filled, key="own_manage_class",
                       format_func=lambda i: names[i])
    number = int(widgets.number_input(_("Number"), 1, len(ids[cls]), key="own_manage_number",
                                      where=m2))
    image_id = ids[cls][min(number, len(ids[cls])) - 1]
    try:
        m3.image(str(own.image_path(actor, ref, cls, image_id)), width=56)
    except own.OwnDatasetError:
        return
    others = [i for i in range(len(names)) if i != cls]
    widgets.offered("own_move_to", others)
    to = m4.selectbox(_("Move to"), others, key="own_move_to", format_func=lambda i: names[i])
    b1, b2 = m5.columns(2)
    try:
        if b1.button(_("Move"), key="own_move", icon=":material/drive_file_move:"):
            own.move(actor, ref, cls, image_id, to)
            st.rerun(scope="app")
        if b2.button(_("Remove"), key="own_remove", icon=":material/delete:"):
            own.remove(actor, ref, cls, image_id)
            st.rerun(scope="app")
    except (own.OwnDatasetError, AccessDenied) as err:
        st.error(str(err))
