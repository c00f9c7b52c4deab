""""Send this view to the class": the teacher's page and its settings, for every student's banner.

A view is what a share link holds: the page's url path and the settings the page mirrors into
the address bar (`?ca_sh=2&ca_ph=1…`). The teacher sends it (`send`, the teacher only), every
student's page reads it from the class store and says where the teacher is in the student's
own language (`describe`), and "Go there" opens it (`follow_params`: the settings without the
language, which stays the student's).
"""

from __future__ import annotations

import re

from explorer.classroom.class_store import Broadcast, ClassStore
from explorer.i18n import N_, _
from explorer.training.access import AccessDenied, Actor

#: Address-bar settings that stay the student's own when they follow the teacher.
PERSONAL = frozenset({"lang"})
MAX_PARAMS, MAX_VALUE = 64, 400
_KEY = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,39}")

#: The settings a banner names, in this order: (key, or the height and width keys of one
#: setting; its name, or None to show the value alone). Pages' other settings travel unnamed.
DESCRIBED: tuple[tuple[str | tuple[str, str], str | None], ...] = (
    ("ca_layer", None), ("sp_pool", None), ("zoo_model", None), ("fm_model", None),
    (("ca_kh", "ca_kw"), N_("kernel")), (("ca_sh", "ca_sw"), N_("stride")),
    (("ca_ph", "ca_pw"), N_("padding")), (("ca_dh", "ca_dw"), N_("dilation")),
    ("kernel", N_("kernel")), ("stride", N_("stride")), ("padding", N_("padding")),
    ("sp_k", N_("kernel")), ("sp_s", N_("stride")), ("sp_p", N_("padding")),
    ("fm_layer", N_("layer")), ("photo", None),
)
MAX_DESCRIBED = 4


def clean_params(params: dict[str, object]) -> dict[str, str]:
    """The settings a view carries: string keys of the pages' shape and bounded values, the
    personal ones left out."""
    out: dict[str, str] = {}
    for key, value in params.items():
        if len(out) >= MAX_PARAMS:
            break
        if isinstance(key, str) and _KEY.fullmatch(key) and key not in PERSONAL:
            text = str(value[-1] if isinstance(value, list) and value else value)
            if len(text) <= MAX_VALUE and text.isprintable():
                out[key] = text
    return out


def send(store: ClassStore, actor: Actor, page: str, params: dict[str, object]) -> int:
    """Send `page` with `params` to the class: the signed-in teacher only."""
    if not actor.teacher:
        raise AccessDenied(_("Only the signed-in teacher may send a view to the class."))
    return store.send_view(page, clean_params(params))


def withdraw(store: ClassStore, actor: Actor) -> None:
    """Take the banner off the students' pages: the teacher only."""
    if not actor.teacher:
        raise AccessDenied(_("Only the signed-in teacher may send a view to the class."))
    store.withdraw_view()


def settings_text(params: dict[str, str]) -> str:
    """'Conv2d, kernel 3, stride 2, padding 1': the named settings of a view, translated."""
    parts = []
    for key, label in DESCRIBED:
        if isinstance(key, tuple):
            h, w = params.get(key[0]), params.get(key[1])
            value = None if h is None else (h if w in (None, h) else f"{h}×{w}")
        else:
            value = params.get(key)
        if value is not None:
            parts.append(value if label is None else f"{_(label)} {value}")
    return ", ".join(parts[:MAX_DESCRIBED])


def describe(view: Broadcast, page_title: str) -> str:
    """'Conv arithmetic — Conv2d, stride 2, padding 1' (the page's title already translated)."""
    settings = settings_text(view.params)
    return f"{page_title} — {settings}" if settings else page_title


def follow_params(view: Broadcast) -> dict[str, str]:
    """The address-bar settings a student opens when they follow the view."""
    return clean_params(view.params)


def is_on(view: Broadcast, page: str, params: dict[str, object]) -> bool:
    """Whether a session on `page` with `params` already shows the teacher's view."""
    mine = clean_params(params)
    return page == view.page and all(mine.get(k) == v for k, v in view.params.items())
