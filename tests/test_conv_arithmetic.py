"""The output-size formulas against PyTorch itself, by example and by property."""

from __future__ import annotations

import warnings

import pytest
import torch
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from explorer import conv_arithmetic as ca
from explorer.conv_arithmetic import Axis, Layer

# Thousands of settings in all (four layer kinds), on tiny tensors so the set stays ~10-20 s.
PROPERTY = settings(max_examples=700, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.too_slow])

sizes = st.tuples(st.integers(1, 12), st.integers(1, 12))
kernels = st.tuples(st.integers(1, 6), st.integers(1, 6))
strides = st.tuples(st.integers(1, 4), st.integers(1, 4))
pads = st.tuples(st.integers(0, 4), st.integers(0, 4))
dilations = st.tuples(st.integers(1, 3), st.integers(1, 3))


def _pytorch(layer: Layer, device: str = "cpu") -> tuple[int, ...] | None:
    """PyTorch's output shape on a real (tiny) CPU tensor, or None when it raises."""
    result = ca.torch_output_shape(layer, device)
    return None if isinstance(result, Exception) else result


def _agrees(layer: Layer) -> None:
    reason = ca.problem(layer)
    actual = _pytorch(layer)
    if reason is None:
        assert actual == ca.output_shape(layer), layer
    else:
        assert actual is None, f"we call it invalid ({reason}) but PyTorch gave {actual}"
        assert reason.endswith(".") and "\n" not in reason
        with pytest.raises(ca.InvalidLayer):
            ca.output_shape(layer)


@PROPERTY
@given(size=sizes, kernel=kernels, stride=strides, dilation=dilations,
       padding=st.one_of(pads, st.sampled_from(["same", "valid"])),
       c_in=st.integers(1, 4), c_out=st.integers(1, 4), groups=st.integers(1, 4))
def test_conv2d_shape_and_validity_match_pytorch(size, kernel, stride, dilation, padding, c_in,
                                                  c_out, groups):
    _agrees(Layer("conv", size, kernel, stride, padding, dilation, in_channels=c_in,
                  out_channels=c_out, groups=groups))


@PROPERTY
@given(size=sizes, kernel=kernels, stride=strides, dilation=dilations, padding=pads,
       output_padding=st.tuples(st.integers(0, 3), st.integers(0, 3)),
       c_in=st.integers(1, 4), c_out=st.integers(1, 4), groups=st.integers(1, 2))
def test_conv_transpose2d_shape_and_validity_match_pytorch(size, kernel, stride, dilation, padding,
                                                            output_padding, c_in, c_out, groups):
    layer = Layer("transposed", size, kernel, stride, padding, dilation, output_padding,
                  in_channels=c_in, out_channels=c_out, groups=groups)
    outs = [ca.axis_out("transposed", a) for a in layer.axes()]
    # An output of exactly 0 along one dimension and >= 1 along the other: PyTorch's own CPU
    # backends disagree there (oneDNN returns an empty tensor, the slow path raises), so no
    # rule can match "PyTorch" there. We call it invalid; the page's sliders never reach it.
    assume(not (0 in outs and max(outs) >= 1))
    _agrees(layer)


def test_transposed_zero_width_output_is_called_invalid():
    layer = Layer("transposed", (1, 1), (4, 6), padding=(0, 3))
    assert [ca.axis_out("transposed", a) for a in layer.axes()] == [4, 0]
    assert "crops" in ca.problem(layer)


@PROPERTY
@given(size=sizes, kernel=kernels, stride=strides, dilation=dilations, padding=pads,
       ceil_mode=st.booleans())
def test_maxpool2d_shape_and_validity_match_pytorch(size, kernel, stride, dilation, padding,
                                                     ceil_mode):
    _agrees(Layer("maxpool", size, kernel, stride, padding, dilation, in_channels=2,
                  ceil_mode=ceil_mode))


@PROPERTY
@given(size=sizes, kernel=kernels, stride=strides, padding=pads, ceil_mode=st.booleans())
def test_avgpool2d_shape_and_validity_match_pytorch(size, kernel, stride, padding, ceil_mode):
    _agrees(Layer("avgpool", size, kernel, stride, padding, in_channels=2, ceil_mode=ceil_mode))


# --- the course's own examples and the pieces the page draws ---------------------------------


@pytest.mark.parametrize(("h", "k", "s", "p", "expected"), [
    (28, 3, 1, 0, 26), (28, 3, 1, 1, 28), (28, 3, 2, 1, 14), (28, 5, 1, 1, 26), (28, 5, 2, 2, 14),
])
def test_course_examples(h, k, s, p, expected):
    assert ca.conv_out(h, k, s, p) == expected
    check = ca.live_check(Layer("conv", (h, h), (k, k), (s, s), (p, p)))
    assert check.torch_shape == (1, 1, expected, expected) and check.agrees


def test_floor_drops_the_last_row_and_names_it():
    # (28 - 3) / 2 = 12.5 floors to 12: the last window ends on row 26 and row 27 is never read.
    axis = Layer("conv", (28, 28), (3, 3), (2, 2)).axes()[0]
    assert ca.axis_out("conv", axis) == 13
    assert ca.window("conv", axis, 12) == [24, 25, 26]
    assert ca.dropped("conv", axis) == [27]
    assert ca.read_counts("conv", axis)[27] == 0
    # With padding 1 the floor drops only the bottom padding row (index 28 = padding).
    assert ca.dropped("conv", Layer("conv", (28, 28), (3, 3), (2, 2), (1, 1)).axes()[0]) == [28]
    assert ca.dropped("conv", Layer().axes()[0]) == []


def test_stride_past_the_kernel_skips_cells():
    axis = Axis(size=8, kernel=1, stride=2)
    assert ca.skipped("conv", axis) == [1, 3, 5]
    assert ca.dropped("conv", axis) == [7]


def test_window_and_fed_by_are_inverse():
    for kind in ("conv", "transposed", "maxpool"):
        axis = Axis(size=9, kernel=3, stride=2, pad_before=1, pad_after=1, dilation=2)
        out = ca.axis_out(kind, axis)
        for i in range(out):
            for j in ca.window(kind, axis, i):
                if 0 <= j < axis.size:
                    assert i in ca.fed_by(kind, axis, j), (kind, i, j)


def test_transposed_window_matches_autograd():
    layer = Layer("transposed", (5, 5), (3, 3), (2, 2), (1, 1), (1, 1), (1, 1))
    module = ca.build_module(layer, "cpu")
    torch.nn.init.ones_(module.weight)
    x = torch.ones(1, 1, 5, 5, requires_grad=True)
    module(x)[0, 0, 4, 6].backward()
    h, w = layer.axes()
    rows, cols = ca.window("transposed", h, 4), ca.window("transposed", w, 6)
    fed = {(r, c) for r in range(5) for c in range(5) if x.grad[0, 0, r, c] != 0}
    assert fed == {(r, c) for r in rows for c in cols}


def test_same_and_valid_padding():
    assert ca.resolve_padding("same", 4, 1) == (1, 2)
    assert ca.resolve_padding("same", 3, 2) == (2, 2)
    assert ca.resolve_padding("valid", 5) == (0, 0)
    same = Layer("conv", (7, 9), (4, 4), padding="same")
    assert ca.output_shape(same) == (1, 1, 7, 9) == ca.live_check(same).torch_shape
    strided = Layer("conv", (7, 9), (3, 3), (2, 2), "same")
    assert "stride > 1" in ca.problem(strided)
    assert isinstance(ca.torch_output_shape(strided), ValueError)


def test_parameters_and_multiply_adds_come_from_torch():
    layer = Layer("conv", (28, 28), (5, 5), (1, 1), (2, 2), in_channels=6, out_channels=16,
                  groups=2, batch=4)
    check = ca.live_check(layer)
    assert check.weight_shape == (16, 3, 5, 5) and check.bias_shape == (16,)
    assert check.parameters == 16 * 3 * 25 + 16
    assert check.multiply_adds == 4 * 16 * 28 * 28 * 3 * 25


def test_invalid_layer_explained_not_raised():
    check = ca.live_check(Layer("conv", (4, 4), (7, 7)))
    assert check.torch_shape is None and "Kernel size can't be greater" in check.torch_error
    assert "reaches" in check.reason and check.formula is None


def test_reverse_solver_finds_the_course_settings():
    hits = ca.solve(28, 14)
    assert (3, 2, 1, 1) in hits and (5, 2, 2, 1) in hits
    for k, s, p, d in hits:
        assert ca.conv_out(28, k, s, p, d) == 14
    assert ca.solve(28, 200) == []
    assert all(ca.conv_transpose_out(7, k, s, p, d) == 14
               for k, s, p, d in ca.solve(7, 14, "transposed"))


def test_code_twin_builds_the_same_layer():
    layer = Layer("conv", (20, 30), (3, 5), (2, 2), (1, 2), (1, 1), in_channels=4,
                  out_channels=8, groups=2)
    twin = ca.code_twin(layer)
    assert twin == "nn.Conv2d(4, 8, kernel_size=(3, 5), stride=2, padding=(1, 2), groups=2)"
    built = eval(twin, {"nn": torch.nn})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert tuple(built(torch.zeros(1, 4, 20, 30)).shape) == ca.output_shape(layer)


def test_formula_latex_shows_floor_numbers_and_colours():
    axis = Layer("conv", (28, 28), (3, 3), (2, 2), (1, 1)).axes()[0]
    sym, num = ca.formula_latex("conv", axis, {"padding": "#123456"})
    assert r"\left\lfloor" in sym and r"\textcolor{#123456}{2p}" in sym
    assert num.endswith("= 14") and "13.5" in num
    sym, num = ca.formula_latex("transposed", Axis(7, 4, 2, 1, 1))
    assert num.endswith(f"= {ca.conv_transpose_out(7, 4, 2, 1)}")


def test_channel_mismatch_is_the_real_pytorch_message():
    case = ca.channel_mismatch()
    assert "expected input[1, 1, 28, 28] to have 3 channels, but got 1 channels" in case.message
    assert "3 channels" in case.explanation


@settings(max_examples=300, deadline=None, derandomize=True)
@given(kind=st.sampled_from(ca.KINDS), size=st.integers(1, 64), kernel=st.integers(1, 7),
       stride=st.integers(1, 4), padding=st.integers(0, 3), dilation=st.integers(1, 3),
       output_padding=st.integers(0, 3), same=st.booleans())
def test_clamped_sliders_never_give_an_empty_output(kind, size, kernel, stride, padding,
                                                    dilation, output_padding, same):
    same = same and kind == "conv"
    values = {"size": size, "kernel": kernel, "stride": 1 if same else stride,
              "padding": padding, "dilation": dilation, "output_padding": output_padding}
    clamped, limits = ca.clamp_axis(kind, values, same_padding=same)
    for name, value in clamped.items():
        assert limits[name][0] <= value <= limits[name][1], name
    pad = "same" if same else (clamped["padding"],) * 2
    layer = Layer(kind, (clamped["size"],) * 2, (clamped["kernel"],) * 2,
                  (clamped["stride"],) * 2, pad, (clamped["dilation"],) * 2,
                  (clamped["output_padding"],) * 2)
    assert ca.problem(layer) is None, (layer, ca.problem(layer))
    # every value a slider offers is itself safe: the largest kernel still fits
    top = Layer(kind, layer.size, (limits["kernel"][1],) * 2, layer.stride, pad, layer.dilation,
                layer.output_padding)
    assert ca.problem(top) is None


@pytest.mark.parametrize("kind", ca.KINDS)
def test_reverse_solver_agrees_with_the_full_validity_check(kind):
    for wanted in (1, 5, 14):
        expected = [
            (k, s, p, d)
            for k in range(1, 8) for s in range(1, 5) for p in range(4) for d in range(1, 4)
            if not (kind == "avgpool" and d > 1)
            and ca.problem(layer := Layer(kind, (14, 14), (k, k), (s, s), (p, p), (d, d))) is None
            and ca.output_shape(layer)[2] == wanted
        ]
        assert ca.solve(14, wanted, kind) == expected


def _dims(h: int, w: int, **settings: int) -> dict[str, dict[str, int]]:
    base = {"kernel": 3, "stride": 1, "padding": 0, "dilation": 1, "output_padding": 0}
    return {"h": {"size": h, **base, **settings}, "w": {"size": w, **base, **settings}}


def test_settle_copies_the_height_to_the_width_and_keeps_typed_padding():
    dims = _dims(28, 28, kernel=5)
    dims["w"]["kernel"] = 1
    settled, limits = ca.settle("conv", "numbers", True, dims)
    assert settled["w"]["kernel"] == settled["h"]["kernel"] == 5
    assert limits["h"]["kernel"] == (1, 7)
    valid, _limits = ca.settle("conv", "valid", False, _dims(5, 5, padding=3))
    assert valid["h"]["padding"] == 3  # kept for when the padding numbers come back
    transposed, limits = ca.settle("transposed", "numbers", False, _dims(40, 40))
    assert transposed["h"]["size"] == ca.TRANSPOSED_MAX_SIZE
    assert limits["h"]["size"] == (1, ca.TRANSPOSED_MAX_SIZE)
    assert ca.page_ranges("conv").size == range(1, 65)


def test_the_shape_table_rows_and_the_padded_size():
    layer = Layer("conv", (7, 9), (3, 3), (1, 1), (2, 2), in_channels=4, out_channels=6,
                  batch=2)
    rows = ca.shape_rows(layer, ca.live_check(layer))
    assert [r[2] for r in rows] == [[2, 4, 7, 9], [6, 4, 3, 3], [6], [2, 6, 9, 11]]
    assert layer.axes()[0].padded == 11


def test_worked_formula_goes_on_two_lines():
    axis = Layer("conv", (28, 28), (3, 3), (2, 2), (1, 1)).axes()[0]
    two = ca.on_two_lines(ca.formula_latex("conv", axis)[1])
    assert two.startswith(r"\begin{aligned}&= \left\lfloor \frac{28")
    assert r"+ 1 \\ &= \left\lfloor 13.5 \right\rfloor + 1 = 14\end{aligned}" in two
