"""The image loader against every kind of file a classroom can throw at it."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from explorer import images
from explorer.images import ImageLoadError, load_image


def encode(img: Image.Image, fmt: str, **kw) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format=fmt, **kw)
    return buf.getvalue()


def gradient(w: int, h: int) -> Image.Image:
    x = np.linspace(0, 255, w, dtype=np.float32)[None, :].repeat(h, 0)
    y = np.linspace(0, 255, h, dtype=np.float32)[:, None].repeat(w, 1)
    return Image.fromarray(np.stack([x, y, 255 - x], -1).astype(np.uint8), "RGB")


def test_16bit_png_maps_full_range_to_8_bits():
    arr = np.array([[0, 65535], [32768, 1000]], dtype=np.uint16)
    out = load_image(encode(Image.fromarray(arr), "PNG"), "deep.png", mode="L").image
    assert out.mode == "L"
    assert np.asarray(out).tolist() == [[0, 255], [128, 4]]


def test_cmyk_jpeg_becomes_rgb():
    data = encode(Image.new("CMYK", (32, 16), (0, 255, 255, 0)), "JPEG")  # pure red
    out = load_image(data, "cmyk.jpg").image
    assert out.mode == "RGB" and out.size == (32, 16)
    r, g, b = np.asarray(out).reshape(-1, 3).mean(0)
    assert r > 200 and g < 60 and b < 60


def test_rgba_png_is_flattened_on_white():
    img = Image.new("RGBA", (4, 4), (0, 0, 0, 0))
    img.putpixel((0, 0), (255, 0, 0, 255))
    out = np.asarray(load_image(encode(img, "PNG"), "alpha.png").image)
    assert out[0, 0].tolist() == [255, 0, 0]
    assert out[3, 3].tolist() == [255, 255, 255]


def test_palette_gif_and_animated_gif_first_frame():
    frames = [Image.new("RGB", (8, 8), c).convert("P") for c in [(255, 0, 0), (0, 0, 255)]]
    assert load_image(encode(frames[0], "GIF"), "p.gif").image.mode == "RGB"
    data = encode(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=50)
    loaded = load_image(data, "anim.gif")
    assert np.asarray(loaded.image)[0, 0].tolist() == [255, 0, 0]
    assert any("frame 1 of 2" in note for note in loaded.notes)


def test_one_bit_png_becomes_grey_levels():
    img = Image.new("1", (5, 5), 0)
    img.putpixel((2, 2), 1)
    out = np.asarray(load_image(encode(img, "PNG"), "bits.png", mode="L").image)
    assert out[2, 2] == 255 and out[0, 0] == 0


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", "empty"),
        (b"this is not a picture at all\n" * 10, "not an image"),
    ],
)
def test_non_images_are_refused_with_a_sentence(data, reason):
    with pytest.raises(ImageLoadError, match=reason):
        load_image(data, "notes.png")


def test_truncated_jpeg_is_refused():
    data = encode(gradient(256, 256), "JPEG")
    with pytest.raises(ImageLoadError, match=r"“cut\.jpg” could not be decoded"):
        load_image(data[: len(data) // 2], "cut.jpg")


def test_decompression_bomb_is_refused_before_decoding():
    data = encode(Image.new("1", (20000, 20000)), "PNG")  # ~50 kB on disk, 400 MP decoded
    assert len(data) < 200_000
    with pytest.raises(ImageLoadError, match=r"20000×20000|decompression bomb"):
        load_image(data, "bomb.png")


def test_24_megapixel_jpeg_is_downscaled():
    data = encode(gradient(6000, 4000), "JPEG", quality=70)
    loaded = load_image(data, "big.jpg")
    assert max(loaded.size) == images.DEFAULT_MAX_SIDE
    assert loaded.size == (1024, 683)
    assert loaded.original_size == (6000, 4000)
    assert any("downscaled" in n for n in loaded.notes)


@pytest.mark.parametrize("size", [(1, 1), (3, 3000)])
def test_tiny_and_sliver_images_load(size):
    loaded = load_image(encode(gradient(*size), "PNG"), "odd.png", max_side=4096)
    assert loaded.size == size


def test_exif_rotated_jpeg_is_upright():
    img = gradient(40, 20)
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90° clockwise to display"
    loaded = load_image(encode(img, "JPEG", exif=exif.tobytes()), "phone.jpg")
    assert loaded.size == (20, 40)
    assert any("EXIF" in n for n in loaded.notes)


@pytest.mark.parametrize("fmt", ["WEBP", "BMP", "TIFF"])
def test_other_formats_load(fmt):
    assert load_image(encode(gradient(30, 20), fmt), f"x.{fmt.lower()}").size == (30, 20)


def test_oversized_file_is_refused():
    with pytest.raises(ImageLoadError, match="MB"):
        load_image(b"\0" * (images.MAX_FILE_BYTES + 1), "huge.bin")


def test_samples_all_load_in_both_modes():
    samples = images.sample_images()
    assert len(samples) == 6
    for path in samples.values():
        assert images.load_path(path).image.mode == "RGB"
        assert images.load_path(path, mode="L").image.mode == "L"


def test_a_two_page_tiff_is_called_pages_not_an_animation():
    pages = [Image.new("RGB", (8, 8), c) for c in [(255, 0, 0), (0, 0, 255)]]
    loaded = load_image(encode(pages[0], "TIFF", save_all=True, append_images=pages[1:]),
                        "scan.tif")
    assert np.asarray(loaded.image)[0, 0].tolist() == [255, 0, 0]
    assert loaded.notes == ("a 2-page TIFF: showing page 1 (every lesson takes one image)",)
