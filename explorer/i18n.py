"""English and 简体中文: every sentence the app shows goes through `_` (or `ngettext`).

The English text in the code is the message id; the Chinese lives in a gettext catalog,
`explorer/locale/zh/LC_MESSAGES/messages.po`, kept with Babel (`babel.cfg` says what is
extracted; the glossary of the course's terms is `docs/glossary.md`). The catalog is compiled in
memory the first time a process needs it, so a fresh clone needs no build step and there is
no compiled file that could fall behind its source.

The language belongs to one browser session. Streamlit runs a session's script in a thread of
its own, and a fragment may rerun later in a new thread, so the language is read at every call
from the session through a provider the UI registers (`set_language_provider`); a
`ContextVar` (`use_language`) overrides it for code outside a session: tests, CLI, figures
built in a worker. Placeholders are named, `_("{n} channels").format(n=8)`, so a translation
can put them in its own order.
"""

from __future__ import annotations

import contextlib
import functools
import gettext
import io
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from pathlib import Path
from typing import TypeVar

LANGUAGES: dict[str, str] = {"en": "English", "zh": "简体中文"}
DEFAULT = "en"
LOCALE_DIR = Path(__file__).parent / "locale"
DOMAIN = "messages"

_T = TypeVar("_T")
_override: ContextVar[str | None] = ContextVar("explorer_language", default=None)
_provider: Callable[[], str | None] | None = None


def catalog_path(lang: str) -> Path:
    """The `.po` file of `lang`."""
    return LOCALE_DIR / lang / "LC_MESSAGES" / f"{DOMAIN}.po"


@functools.cache
def translations(lang: str) -> gettext.NullTranslations:
    """`lang`'s catalog, compiled once per process; English is the source text itself."""
    path = catalog_path(lang)
    if lang == DEFAULT or not path.exists():
        return gettext.NullTranslations()
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    with path.open("rb") as handle:
        catalog = read_po(handle, locale=lang)
    compiled = io.BytesIO()
    write_mo(compiled, catalog, use_fuzzy=False)
    compiled.seek(0)
    return gettext.GNUTranslations(compiled)


def set_language_provider(provider: Callable[[], str | None]) -> None:
    """Register where the current session keeps its language (called by the UI)."""
    global _provider
    _provider = provider


def language() -> str:
    """The language of the code running now: an override, else the session's, else English."""
    lang = _override.get()
    if lang is None and _provider is not None:
        lang = _provider()
    return lang if lang in LANGUAGES else DEFAULT


@contextlib.contextmanager
def use_language(lang: str) -> Iterator[None]:
    """`with use_language("zh"):` -- `_` answers in `lang` inside the block, in this context."""
    token = _override.set(lang)
    try:
        yield
    finally:
        _override.reset(token)


def language_from_locale(locale: str | None) -> str:
    """The app's language for a browser locale such as "zh-CN" or "en-GB"."""
    return "zh" if (locale or "").lower().startswith("zh") else DEFAULT


def _(message: str) -> str:
    """`message` in the current language."""
    return translations(language()).gettext(message)


def ngettext(singular: str, plural: str, n: int) -> str:
    """The singular or plural form of a message for `n`, in the current language."""
    return translations(language()).ngettext(singular, plural, n)


def N_(message: str) -> str:
    """Mark `message` for the catalog without translating it now (module-level constants);
    translate it with `_` where it is shown."""
    return message


def language_cache(maxsize: int) -> Callable[[Callable[..., _T]], Callable[..., _T]]:
    """`functools.lru_cache` for a function whose result holds sentences: one entry per
    language, so a session in Chinese never gets a result cached by a session in English."""

    def decorate(func: Callable[..., _T]) -> Callable[..., _T]:
        @functools.lru_cache(maxsize=maxsize)
        def in_language(lang: str, *args: object) -> _T:
            with use_language(lang):
                return func(*args)

        @functools.wraps(func)
        def cached(*args: object) -> _T:
            return in_language(language(), *args)

        cached.cache_clear = in_language.cache_clear  # type: ignore[attr-defined]
        return cached

    return decorate
