import pytest

from explorer.ui.url_params import format_param, parse_param


@pytest.mark.parametrize(
    ("raw", "default", "kw", "expected"),
    [
        (None, 3, {}, 3),
        ("5", 3, {}, 5),
        ("5.0", 3, {}, 5),
        ("banana", 3, {}, 3),
        ("99", 3, {"bounds": (1, 7)}, 7),
        ("-4", 3, {"bounds": (1, 7)}, 1),
        ("0.25", 0.1, {}, 0.25),
        ("nan", 0.1, {}, 0.1),
        ("true", False, {}, True),
        ("maybe", False, {}, False),
        ("Blur", "Sharpen", {"choices": ["Sharpen", "Blur"]}, "Blur"),
        ("Nope", "Sharpen", {"choices": ["Sharpen", "Blur"]}, "Sharpen"),
    ],
)
def test_parse_param_never_raises(raw, default, kw, expected):
    assert parse_param(raw, default, **kw) == expected


@pytest.mark.parametrize("value", [True, False, 7, 0.5, "Edge detect"])
def test_format_round_trips(value):
    assert parse_param(format_param(value), value) == value
