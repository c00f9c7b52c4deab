"""The bilingual app: catalog complete and tidy, the course's terms, language per session."""

from __future__ import annotations

import re
import string
import threading
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po

from explorer import i18n

ROOT = Path(__file__).resolve().parent.parent
KEYWORDS = {"_": None, "N_": None, "ngettext": (1, 2)}


def _extracted() -> dict[str, list[str]]:
    """msgid -> where it is used, extracted from the code the way `make messages` does."""
    with (ROOT / "babel.cfg").open() as cfg:
        method_map, options_map = parse_mapping_cfg(cfg)
    found: dict[str, list[str]] = {}
    for filename, lineno, message, _comments, _context in extract_from_dir(
            str(ROOT), method_map, options_map, keywords=KEYWORDS):
        msgid = message if isinstance(message, str) else message[0]
        if msgid:
            found.setdefault(msgid, []).append(f"{filename}:{lineno}")
    return found


@pytest.fixture(scope="module")
def catalog():
    with i18n.catalog_path("zh").open("rb") as handle:
        return read_po(handle, locale="zh")


@pytest.fixture(scope="module")
def extracted():
    return _extracted()


def _entries(catalog) -> dict[str, object]:
    return {(m.id if isinstance(m.id, str) else m.id[0]): m for m in catalog if m.id}


def test_every_message_in_the_code_has_a_chinese_translation(catalog, extracted):
    entries = _entries(catalog)
    missing = {k: v for k, v in extracted.items() if k not in entries}
    assert not missing, f"not in the zh catalog (run `make messages`): {missing}"
    empty = [k for k, m in entries.items() if not m.string or m.fuzzy
             or (not isinstance(m.string, str) and not all(m.string))]
    assert not empty, f"untranslated or fuzzy in the zh catalog: {empty}"


def test_no_catalog_entry_is_unused(catalog, extracted):
    unused = sorted(set(_entries(catalog)) - set(extracted))
    assert not unused, f"in the zh catalog but no longer in the code: {unused}"
    assert not catalog.obsolete, f"obsolete entries left in the catalog: {list(catalog.obsolete)}"


def _fields(text: str) -> set[str]:
    return {name for _lit, name, _spec, _conv in string.Formatter().parse(text) if name}


def _source_fields(message) -> set[str]:
    """The placeholders of a message's English (both forms of a plural message)."""
    ids = [message.id] if isinstance(message.id, str) else list(message.id)
    return set().union(*(_fields(i) for i in ids))


def test_translations_keep_the_named_placeholders(catalog):
    for msgid, message in _entries(catalog).items():
        strings = [message.string] if isinstance(message.string, str) else list(message.string)
        for translated in strings:
            assert _fields(translated) == _source_fields(message), (msgid, translated)
    with i18n.use_language("zh"):  # and they format with the names the English uses
        for msgid, message in _entries(catalog).items():
            names = dict.fromkeys(_source_fields(message), 1)
            if isinstance(message.id, str):
                i18n._(msgid).format(**names)
            else:
                i18n.ngettext(*message.id, 2).format(**names)


def _glossary() -> list[tuple[str, list[str]]]:
    rows = []
    for line in (ROOT / "docs" / "glossary.md").read_text().splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 3 and cells[0] and not set(cells[0]) <= set("-") and cells[0] != "中文":
            rows.append((cells[1], [w.strip() for w in cells[0].split("/")]))
    return rows


def test_glossary_lists_the_course_terms():
    english = {term for term, _zh in _glossary()}
    for term in ("convolution", "kernel", "stride", "padding", "dilation", "pooling",
                 "upsampling", "receptive field", "feature map", "data augmentation",
                 "channel", "fully connected layer", "residual", "learning rate"):
        assert term in english


# English phrases where a glossary word means something else (a GPU's "kernels" are not 卷积核).
OTHER_SENSES = ("fused kernels",)


def test_chinese_text_uses_the_glossary_terms(catalog):
    """A message whose English says "stride" (outside code) says 步幅 in Chinese, and so on."""
    wrong = []
    for msgid, message in _entries(catalog).items():
        prose = re.sub(r"`[^`]*`|\{\w*[^}]*\}|\w+=\S+", "", msgid)  # code, placeholders
        for other_sense in OTHER_SENSES:
            prose = prose.replace(other_sense, "")
        translated = message.string if isinstance(message.string, str) else message.string[0]
        for term, words in _glossary():
            if re.search(rf"\b{re.escape(term)}(s|es)?\b", prose, re.IGNORECASE) and not any(
                    w in translated for w in words):
                wrong.append(f"{term} -> {'/'.join(words)}: {msgid!r} -> {translated!r}")
    assert not wrong, "\n".join(wrong)


def test_language_follows_the_override_then_the_provider():
    assert i18n._("Stride") == "Stride"
    with i18n.use_language("zh"):
        assert i18n._("Stride") == "步幅"
        assert i18n._("a sentence nobody translated") == "a sentence nobody translated"
    assert i18n.language_from_locale("zh-CN") == "zh"
    assert i18n.language_from_locale("zh-Hant-TW") == "zh"
    assert i18n.language_from_locale("en-GB") == "en"
    assert i18n.language_from_locale(None) == "en"


def test_each_thread_keeps_its_own_language():
    """Two sessions' script threads translating at the same moment do not mix languages."""
    barrier = threading.Barrier(2)
    seen: dict[str, list[str]] = {}

    def session(lang: str) -> None:
        with i18n.use_language(lang):
            words = []
            for _round in range(200):
                barrier.wait()
                words.append(i18n._("Padding"))
            seen[lang] = words

    threads = [threading.Thread(target=session, args=(lang,)) for lang in ("en", "zh")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert set(seen["en"]) == {"Padding"} and set(seen["zh"]) == {"填充"}


def test_no_module_that_translates_rebinds_the_underscore():
    """`for _ in ...` or `a, _ = ...` in a module (or function) that calls `_()` would replace
    the translation function with a value: name throwaway variables something else."""
    import ast

    offenders = []
    for path in [*ROOT.glob("explorer/**/*.py"), *ROOT.glob("pages/*.py")]:
        tree = ast.parse(path.read_text())
        imports_it = any(isinstance(n, ast.ImportFrom) and n.module == "explorer.i18n"
                         and any(a.name == "_" for a in n.names) for n in ast.walk(tree))
        if imports_it:
            offenders += [f"{path.relative_to(ROOT)}:{n.lineno}" for n in ast.walk(tree)
                          if isinstance(n, ast.Name) and n.id == "_"
                          and isinstance(n.ctx, ast.Store)]
    assert not offenders, offenders


def _emphasis_that_will_not_render(text: str) -> list[str]:
    """`**` that CommonMark cannot open or close where the text needs it to: in Chinese a
    closing `**` right after full-width punctuation and before a character is not
    right-flanking, so "**原因：**第" shows its asterisks. Placeholders count as characters."""
    text = re.sub(r"\{[^}]*\}", "字", text)

    def punct(c: str) -> bool:
        return bool(re.match(r"[\W_]", c)) and not c.isspace()

    bad = []
    for k, found in enumerate(re.finditer(r"\*\*", text)):
        i = found.start()
        before, after = (text[i - 1] if i else " "), (text[i + 2] if i + 2 < len(text) else " ")
        opens = not after.isspace() and (not punct(after) or before.isspace() or punct(before))
        closes = not before.isspace() and (not punct(before) or after.isspace() or punct(after))
        if not (opens if k % 2 == 0 else closes):
            bad.append(text[max(0, i - 12):i + 12])
    return bad


def test_bold_text_in_chinese_renders(catalog):
    assert _emphasis_that_will_not_render("**原因：**第一") == ["**原因：**第一"]
    bad = {m.id if isinstance(m.id, str) else m.id[0]: found for m in catalog if m.id
           for found in [_emphasis_that_will_not_render(
               m.string if isinstance(m.string, str) else m.string[0])] if found}
    assert not bad, bad
