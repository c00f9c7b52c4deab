"""Chinese text drawn into pictures gets real glyphs, not boxes."""

from PIL import Image, ImageDraw

from explorer.figures import fonts


def _ink(text: str) -> bytes:
    img = Image.new("L", (40, 40), 0)
    ImageDraw.Draw(img).text((4, 4), text, fill=255, font=fonts.font(24))
    return img.tobytes()


def test_a_cjk_font_is_installed_and_draws_distinct_glyphs():
    assert fonts.cjk_font_path() is not None, "install fonts-noto-cjk (make fonts)"
    drawn = {char: _ink(char) for char in "通道卷积"}
    assert all(any(v) for v in drawn.values()), "every character leaves ink"
    assert len(set(drawn.values())) == 4, "identical boxes would mean missing glyphs"


def test_label_keeps_english_when_it_cannot_draw_chinese(monkeypatch):
    monkeypatch.setattr(fonts, "cjk_font_path", lambda: None)
    assert fonts.label("通道 3", "ch 3") == "ch 3"
    assert fonts.label("ch 3", "ch 3") == "ch 3"
