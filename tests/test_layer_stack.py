"""The layer-stack builder: text and code round trips, shape propagation against torch on random
stacks (Hypothesis), PyTorch's own errors and the sentence that says what to change."""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from torch import nn

from explorer.models import layer_stack as ls
from explorer.models import zoo

LENET = ls.parse(ls.LENET5)


def _layer(draw, kind: str, channels: int) -> ls.Layer:
    """A layer of `kind` whose sizes mostly fit `channels`, and sometimes do not."""
    fit = draw(st.booleans()) or draw(st.booleans())  # three times in four they fit
    some = draw(st.integers(1, 4))
    if kind == "Conv2d":
        return ls.make_layer(kind, channels if fit else some, draw(st.integers(1, 4)),
                             draw(st.integers(1, 5)), draw(st.integers(1, 3)),
                             draw(st.integers(0, 2)))
    if kind in ("MaxPool2d", "AvgPool2d"):
        k = draw(st.integers(1, 4))
        return ls.make_layer(kind, k, draw(st.integers(1, 3)),
                             draw(st.integers(0, k // 2 if fit else 2)))
    if kind == "BatchNorm2d":
        return ls.make_layer(kind, channels if fit else some)
    if kind == "Dropout":
        return ls.make_layer(kind, draw(st.sampled_from((0.0, 0.5))))
    if kind == "Linear":
        return ls.make_layer(kind, draw(st.integers(1, 600)), draw(st.integers(1, 8)))
    return ls.make_layer(kind)


@st.composite
def stacks(draw) -> tuple[ls.Stack, tuple[int, int, int]]:
    shape = (draw(st.integers(1, 3)), draw(st.integers(1, 16)), draw(st.integers(1, 16)))
    channels, stack = shape[0], []
    for _ in range(draw(st.integers(0, 7))):
        layer = _layer(draw, draw(st.sampled_from(list(ls.KINDS))), channels)
        if layer.kind == "Linear" and draw(st.booleans()):  # often the right in_features
            flat = ls.propagate(tuple(stack), shape).output_shape
            if flat is not None:
                layer = layer.with_arg("in_features", min(flat[-1], 100_000))
        stack.append(layer)
        if layer.kind == "Conv2d":
            channels = layer.values[1]
    return tuple(stack), shape


def _run_code(stack: ls.Stack, shape: tuple[int, ...]) -> list[tuple | BaseException]:
    """Execute the generated nn.Sequential code and feed a real CPU tensor through it."""
    scope: dict = {"nn": nn}
    exec(ls.to_code(stack), scope)  # our own generated code, not user input
    x, out = torch.zeros(1, *shape), []
    for module in scope["model"].eval():
        try:
            with torch.no_grad():
                x = module(x)
        except (RuntimeError, ValueError, IndexError) as err:
            out.append(err)
            break
        out.append(tuple(x.shape[1:]))
    return out


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(stacks())
def test_propagation_agrees_with_torch_running_the_generated_code(case):
    stack, shape = case
    result = ls.propagate(stack, shape)
    truth = _run_code(stack, shape)
    assert len(result.rows) == len(truth)
    for row, real in zip(result.rows, truth, strict=True):
        if isinstance(real, BaseException):
            assert row.error == str(real).strip().split("\n")[0]
            assert row.error_type == type(real).__name__ and row.advice.endswith(".")
            assert ls.expected_shape(row.layer, row.input_shape) is None
        else:
            assert row.error is None and row.output_shape == real
            assert ls.expected_shape(row.layer, row.input_shape) == real  # the hand arithmetic
    # text and code both round-trip
    assert ls.parse(ls.format_stack(stack)) == stack
    assert ls.from_code(ls.to_code(stack)) == stack


def test_lenet_shapes_parameters_and_multiply_adds_come_from_torch():
    result = ls.propagate(LENET, (1, 28, 28))
    assert result.output_shape == (10,) and result.broken is None
    first = result.rows[0]
    assert (first.output_shape, first.params, first.macs) == ((6, 28, 28), 156, 6 * 28 * 28 * 25)
    model = ls.build(LENET)
    assert result.params == sum(p.numel() for p in model.parameters()) == 61_706
    assert model(torch.zeros(2, 1, 28, 28)).shape == (2, 10)


def test_the_issue_s_example_sentence():
    row = ls.propagate(LENET, (1, 32, 32)).broken
    assert row.index == 7
    assert row.error == "mat1 and mat2 shapes cannot be multiplied (1x576 and 400x120)"
    assert row.advice == ("Linear expects 400 inputs but gets 576: set in_features to 576 or "
                          "resize the input to 28×28.")


@pytest.mark.parametrize(("text", "shape", "advice"), [
    ("conv-1-6-5_conv-8-6-3", (1, 28, 28), "Conv2d expects 8 input channels but gets 6: set "
     "in_channels to 6."),
    ("conv-1-6-3_bn-8", (1, 8, 8), "BatchNorm2d expects 8 channels but gets 6: set num_features "
     "to 6."),
    ("flatten_conv-1-6-3", (1, 8, 8), "Conv2d needs channels × height × width maps, but it gets "
     "1-D 64 numbers: move Flatten below the last Conv2d or pooling layer."),
    ("conv-1-6-5_linear-400", (1, 8, 8), "Linear works on the last dimension (4 numbers of a "
     "6×4×4 tensor): add a Flatten before it, which makes 96 inputs."),
    ("conv-1-6-7", (1, 5, 5), "The 7×7 window does not fit the 5×5 map (padded by 0: 5 cells): "
     "use kernel_size 5 or less, more padding, a larger input, or fewer layers that shrink it "
     "before this one."),
    ("maxpool-2-2-2", (1, 8, 8), "Pooling padding may be at most half the kernel: set padding to "
     "1 or less, or use a larger kernel."),
])
def test_each_break_has_pytorch_s_error_and_one_sentence_of_what_to_change(text, shape, advice):
    row = ls.propagate(ls.parse(text), shape).broken
    assert row is not None and row.error and row.advice == advice


def test_code_is_parsed_never_run_and_bad_code_gets_one_sentence():
    code = "model = nn.Sequential(nn.Conv2d(1, 6, kernel_size=5, padding=2), nn.ReLU())"
    assert ls.from_code(code) == (ls.make_layer("Conv2d", 1, 6, 5, 1, 2), ls.make_layer("ReLU"))
    for bad, words in [("model = nn.Sequential(", "not valid Python"),
                       ("x = 1", "No nn.Sequential"),
                       ("nn.Sequential(nn.LSTM(3, 4))", "not a layer this builder offers"),
                       ("nn.Sequential(nn.Linear(__import__('os').getpid(), 4))", "plain number"),
                       ("nn.Sequential(nn.Conv2d(1, 6, 50))", "between 1 and 11"),
                       ("nn.Sequential(nn.Linear(4, 2, banana=3))", "no argument 'banana'")]:
        with pytest.raises(ls.StackError, match=words):
            ls.from_code(bad)
    with pytest.raises(ls.StackError, match="Unknown layer 'lstm'"):
        ls.parse("conv_lstm")
    with pytest.raises(ls.StackError, match="whole number"):
        ls.parse("conv-1.5")


def test_trainable_check_and_defaults_that_fit():
    ls.check_trainable(LENET, (1, 28, 28), 10)
    with pytest.raises(ls.StackError, match="a 10-class dataset needs 10"):
        ls.check_trainable(ls.parse("flatten_linear-784-7"), (1, 28, 28), 10)
    with pytest.raises(ls.StackError, match="Layer 1"):
        ls.check_trainable(ls.parse("conv-3-6-3"), (1, 28, 28), 10)
    grown = ls.append_default(ls.parse("conv-1-6-5_maxpool"), "Conv2d", (1, 28, 28))
    assert grown[-1].values[0] == 6
    grown = ls.append_default((*grown, ls.make_layer("Flatten")), "Linear", (1, 28, 28))
    assert grown[-1].values[0] == math.prod(ls.propagate(grown[:-1], (1, 28, 28)).output_shape)


def test_the_zoo_builds_a_stack_for_a_run_and_refuses_one_that_does_not_fit():
    model = zoo.build_seeded(zoo.CUSTOM, seed=0, layers=ls.LENET5)
    again = zoo.build_seeded(zoo.CUSTOM, seed=0, layers=ls.LENET5)
    assert torch.equal(model[0].weight, again[0].weight)
    assert zoo.get_spec(zoo.CUSTOM).title.startswith("Your network")
    with pytest.raises(zoo.BuildError, match="set in_channels to 3"):
        zoo.build_model(zoo.CUSTOM, variant="cifar", layers=ls.LENET5)


def test_the_builders_edits_move_remove_and_change_one_layer():
    stack = ls.parse("conv-1-6-5_relu_flatten")
    assert ls.format_stack(ls.moved(stack, 0, 1)) == "relu_conv-1-6-5_flatten"
    assert ls.moved([10, 11, 12], 2, -1) == (10, 12, 11)  # a row's id moves with its layer
    assert ls.format_stack(ls.removed(stack, 1)) == "conv-1-6-5_flatten"
    assert ls.removed((10, 11, 12), 0) == (11, 12)
    assert ls.with_arg(stack, 0, "out_channels", 8)[0].arg("out_channels") == 8
    assert ls.with_arg(stack, 0, "out_channels", 8)[1:] == stack[1:]


def test_a_full_stack_takes_no_more_layers():
    full = tuple(ls.make_layer("ReLU") for _i in range(ls.MAX_LAYERS))
    with pytest.raises(ls.StackError, match=f"at most {ls.MAX_LAYERS} layers"):
        ls.append_default(full, "ReLU", (1, 28, 28))
    assert len(ls.append_default(full[1:], "ReLU", (1, 28, 28))) == ls.MAX_LAYERS


@pytest.mark.parametrize(("text", "shape"), [
    ("3x32x32", (3, 32, 32)), ("0x999x7", (1, 512, 7)), ("100x1x1", (64, 1, 1)),
    (None, (1, 28, 28)), ("", (1, 28, 28)), ("3x32", (1, 28, 28)), ("3x-2x9", (1, 28, 28)),
    ("axbxc", (1, 28, 28)),
])
def test_the_input_shape_in_the_address_bar_is_read_within_the_builders_limits(text, shape):
    assert ls.parse_shape(text) == shape
    assert ls.parse_shape(ls.shape_param(shape)) == shape


def test_only_lenet_on_digits_is_the_builders_default():
    assert ls.is_default(ls.LENET5, (1, 28, 28))
    assert not ls.is_default(ls.LENET5, (3, 28, 28))
    assert not ls.is_default("relu", (1, 28, 28))
