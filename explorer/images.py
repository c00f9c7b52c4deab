"""Robust image decoding: any photo a student uploads becomes a small, sane RGB or L image.

Everything a page shows starts here, so this module refuses bad input with one clear
sentence (`ImageLoadError`) and never lets a decoder exception or a decompression bomb
through. It does not import streamlit.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from explorer.i18n import _

ASSETS_DIR = Path(__file__).resolve().parent.parent / "assets"
SAMPLES_DIR = ASSETS_DIR / "images"

#: Formats we let Pillow parse; anything else is refused before a decoder runs.
ALLOWED_FORMATS = ("PNG", "JPEG", "WEBP", "BMP", "TIFF", "GIF")

#: Longest side after decoding; larger images are downscaled before any tensor work.
DEFAULT_MAX_SIDE = 1024
#: Images whose header claims more pixels than this are refused unopened (decompression bombs).
MAX_SOURCE_PIXELS = 40_000_000
#: Raw file size cap, independent of Streamlit's own upload limit.
MAX_FILE_BYTES = 20 * 1024 * 1024

Mode = Literal["RGB", "L"]


class ImageLoadError(ValueError):
    """A file that cannot become an image; `str(err)` is one sentence for the user."""


@dataclass(frozen=True)
class LoadedImage:
    """A decoded image plus what was done to it on the way in."""

    image: Image.Image
    name: str
    original_size: tuple[int, int]
    notes: tuple[str, ...] = field(default=())

    @property
    def size(self) -> tuple[int, int]:
        return self.image.size


def load_image(
    data: bytes,
    name: str = "image",
    mode: Mode = "RGB",
    max_side: int = DEFAULT_MAX_SIDE,
    max_source_pixels: int = MAX_SOURCE_PIXELS,
) -> LoadedImage:
    """Decode `data` into an RGB or L image no larger than `max_side` on its longest side.

    Honours EXIF orientation, takes the first frame of animations, flattens transparency
    onto white and maps 16-bit and float images to 8 bits. Raises `ImageLoadError` with a
    one-sentence reason for empty, oversized, truncated or non-image files.
    """
    if not data:
        raise ImageLoadError(_("“{name}” is empty (0 bytes).").format(name=name))
    if len(data) > MAX_FILE_BYTES:
        raise ImageLoadError(
            _("“{name}” is {size:.1f} MB; the limit is {limit} MB.").format(
                name=name, size=len(data) / 2**20, limit=MAX_FILE_BYTES // 2**20)
        )
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            img = Image.open(io.BytesIO(data), formats=ALLOWED_FORMATS)
            width, height = img.size
            if width * height > max_source_pixels:
                raise ImageLoadError(
                    _("“{name}” claims {w}×{h} pixels ({mp:.0f} MP), more than the "
                      "{limit:.0f} MP this app accepts.").format(
                        name=name, w=width, h=height, mp=width * height / 1e6,
                        limit=max_source_pixels / 1e6)
                )
            notes: list[str] = []
            if getattr(img, "n_frames", 1) > 1:
                img.seek(0)
                note = (  # a TIFF's frames are pages, not an animation
                    _("a {n}-page TIFF: showing page 1 (every lesson takes one image)")
                    if img.format == "TIFF" else _("animated image: showing frame 1 of {n}"))
                notes.append(note.format(n=img.n_frames))
            if img.format == "JPEG":
                # Let libjpeg decode at 1/2, 1/4 or 1/8 scale: a 24 MP photo loads in a blink.
                img.draft(img.mode, (max_side, max_side))
            img.load()
            img = _apply_exif_orientation(img, notes)
            img = _to_mode(img, mode)
    except ImageLoadError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise ImageLoadError(
            _("“{name}” is too large to decode safely (a possible decompression bomb).").format(
                name=name)
        ) from None
    except UnidentifiedImageError:
        raise ImageLoadError(
            _("“{name}” is not an image this app can read (accepted: PNG, JPEG, WebP, BMP, "
              "TIFF, GIF).").format(name=name)
        ) from None
    except (OSError, SyntaxError, ValueError, EOFError) as err:
        message = (_("“{name}” could not be decoded: it is truncated.") if "truncated" in str(err)
                   else _("“{name}” could not be decoded: it is damaged."))
        raise ImageLoadError(message.format(name=name)) from None

    if max(img.size) > max_side:
        before = img.size
        img.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
        notes.append(_("downscaled from {w0}×{h0} to {w}×{h}").format(
            w0=before[0], h0=before[1], w=img.width, h=img.height))
    return LoadedImage(image=img, name=name, original_size=(width, height), notes=tuple(notes))


def load_path(
    path: str | Path, mode: Mode = "RGB", max_side: int = DEFAULT_MAX_SIDE
) -> LoadedImage:
    """`load_image` on a file from disk."""
    path = Path(path)
    return load_image(path.read_bytes(), name=path.name, mode=mode, max_side=max_side)


def sample_images() -> dict[str, Path]:
    """The bundled sample photos, by a display name (file stem, capitalised)."""
    files = sorted(p for p in SAMPLES_DIR.iterdir() if p.suffix.lower() in {".png", ".jpg"})
    return {p.stem.capitalize(): p for p in files}


def to_mode(image: Image.Image, mode: Mode) -> Image.Image:
    """Convert an already-decoded image to RGB or L (a no-op if it is already there)."""
    return image if image.mode == mode else _to_mode(image, mode)


def _apply_exif_orientation(img: Image.Image, notes: list[str]) -> Image.Image:
    try:
        orientation = img.getexif().get(0x0112, 1)
    except Exception:  # a broken EXIF block must not sink an otherwise good photo
        return img
    if orientation in (None, 1):
        return img
    notes.append(_("rotated upright from its EXIF orientation"))
    return ImageOps.exif_transpose(img)


def _to_mode(img: Image.Image, mode: Mode) -> Image.Image:
    if img.mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F"):
        img = _high_depth_to_l(img)
    elif img.mode in ("P", "LA", "La", "PA"):
        img = img.convert("RGBA")
    if img.mode in ("RGBA", "RGBa"):
        background = Image.new("RGBA", img.size, (255, 255, 255, 255))
        img = Image.alpha_composite(background, img.convert("RGBA")).convert("RGB")
    return img.convert(mode)


def _high_depth_to_l(img: Image.Image) -> Image.Image:
    """16-bit, 32-bit int and float images: map to 0..255 (by the 16-bit range when it fits)."""
    arr = np.asarray(img, dtype=np.float64)
    lo, hi = float(arr.min()), float(arr.max())
    if img.mode != "F" and lo >= 0 and hi <= 65535:
        arr = arr / 65535.0 * 255.0
    elif hi > lo:
        arr = (arr - lo) / (hi - lo) * 255.0
    else:
        arr = np.zeros_like(arr)
    return Image.fromarray(np.clip(np.rint(arr), 0, 255).astype(np.uint8), mode="L")
