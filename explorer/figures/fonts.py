"""A font with Chinese glyphs for text drawn into pictures with Pillow.

Pillow's built-in font has Latin glyphs only, so Chinese labels would come out as boxes. The
project installs Debian's `fonts-noto-cjk` (`make fonts`, run by `make run`, `serve` and `test`);
this module finds it, or any other font fontconfig knows for Chinese. Without one, it logs
once which package to install and `label` draws the English text instead of boxes.
"""

from __future__ import annotations

import functools
import logging
import shutil
import subprocess
from pathlib import Path

from PIL import ImageFont

log = logging.getLogger(__name__)

# Debian's paths for fonts-noto-cjk and fonts-wqy-microhei, checked before asking fontconfig.
KNOWN_CJK_FONTS = (
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/noto-cjk/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
)
NOTO_CJK_SC_INDEX = 2  # in NotoSansCJK-Regular.ttc: JP, KR, SC, TC, HK; SC is Simplified Chinese


@functools.cache
def cjk_font_path() -> Path | None:
    """A font file with Chinese glyphs, or None (logged once) if this machine has none."""
    for candidate in KNOWN_CJK_FONTS:
        if Path(candidate).is_file():
            return Path(candidate)
    if shutil.which("fc-list"):
        try:
            listed = subprocess.run(["fc-list", ":lang=zh", "file"], capture_output=True,
                                    text=True, timeout=10, check=False).stdout
        except (OSError, subprocess.SubprocessError):
            listed = ""
        for line in sorted(listed.splitlines()):
            path = Path(line.split(":")[0].strip())
            if path.is_file():
                return path
    log.warning("No font with Chinese glyphs found; pictures keep English labels. "
                "Install one: apt-get install fonts-noto-cjk (or run `make fonts` as root).")
    return None


@functools.lru_cache(maxsize=16)
def font(size: int) -> ImageFont.ImageFont | ImageFont.FreeTypeFont:
    """A `size`-px font for labels: the CJK font if there is one, else Pillow's default."""
    path = cjk_font_path()
    if path is not None:
        index = NOTO_CJK_SC_INDEX if path.name.startswith("NotoSansCJK") else 0
        try:
            return ImageFont.truetype(str(path), size, index=index)
        except OSError:
            log.warning("Could not read the font %s; using Pillow's default.", path)
    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow without FreeType
        return ImageFont.load_default()


def label(translated: str, english: str) -> str:
    """`translated` if it can be drawn, else `english` (ASCII text needs no CJK font)."""
    return translated if translated.isascii() or cjk_font_path() is not None else english
