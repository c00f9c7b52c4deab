"""Predict first: questions a student answers before the page shows the answer.

Each generator turns a seed into a question with random but valid settings (so no two
students get the same sequence, and a page can rebuild a question from its seed alone), and
computes the answer by running the real torch layer; nothing is stored but the seed. `check`
accepts exactly that answer: whole numbers must match, decimals may be off by the question's
stated tolerance, a choice must be the right one. `working` is the arithmetic revealed after
the student has answered.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import torch
from PIL import Image
from torch import nn

from explorer import conv_arithmetic as ca
from explorer import kernels
from explorer.i18n import _, ngettext
from explorer.models import zoo
from explorer.models.modules import leaf_modules

AnswerKind = Literal["ints", "float", "choice"]
FLOAT_TOLERANCE = 0.01  # decimals count as right within ±0.01


@dataclass(frozen=True)
class Question:
    """One question: what to show, what to ask, the torch answer and how it comes about."""

    topic: str
    prompt: str  # markdown
    code: str  # the PyTorch that sets it up
    kind: AnswerKind
    fields: tuple[str, ...]  # one input per field (ints, float); the options (choice)
    answer: tuple[float, ...]  # computed by torch; for a choice, the right option's index
    working: str  # markdown (with $$ LaTeX $$): the arithmetic, shown after answering
    tolerance: float = 0.0
    picture: np.ndarray | None = field(default=None, compare=False)
    options_pictures: tuple[tuple[str, np.ndarray], ...] = field(default=(), compare=False)

    def answer_text(self) -> str:
        """The answer as the page says it."""
        if self.kind == "choice":
            return self.fields[int(self.answer[0])]
        if self.kind == "float":
            return f"{self.fields[0]} = {self.answer[0]:.4f}"
        return ", ".join(f"{name} = {int(v):,}" for name, v in zip(self.fields, self.answer,
                                                                   strict=True))


def check(question: Question, given: tuple[float, ...]) -> bool:
    """True exactly when `given` is the torch answer (floats within the stated tolerance)."""
    if len(given) != len(question.answer) or any(g is None for g in given):
        return False
    if question.kind == "float":
        return abs(float(given[0]) - question.answer[0]) <= question.tolerance + 1e-9
    return all(float(g) == float(a) for g, a in zip(given, question.answer, strict=True))


def _ask(topic: str, prompt: str, code: str, kind: AnswerKind, fields: tuple[str, ...],
         answer: tuple[float, ...], working: str, **extra) -> Question:
    return Question(topic, prompt, code, kind, fields, answer, working, **extra)


# --- Conv arithmetic: the output's height and width -------------------------------------------


def _axis_latex(kind: ca.Kind, axis: ca.Axis, symbol: str) -> str:
    sym, num = ca.formula_latex(kind, axis, symbol=symbol)
    return f"$$ {sym} {num} $$"


def _first_valid(draw: Callable[[], ca.Layer]) -> ca.Layer:
    """Draw settings until PyTorch would accept them."""
    while True:
        layer = draw()
        if ca.problem(layer) is None:
            return layer


def _shape_and_working(layer: ca.Layer, intro: str) -> tuple[tuple[int, ...], str]:
    """The real layer's output shape, and the formula for both axes with its numbers."""
    shape = ca.torch_output_shape(layer)
    h, w = layer.axes()
    return shape, "\n\n".join([intro, _axis_latex(layer.kind, h, "H"),
                                _axis_latex(layer.kind, w, "W"),
                                _("The real layer says `{shape}`.").format(shape=list(shape))])


def conv_output(seed: int) -> Question:
    """A random valid Conv2d on a random input: what are H_out and W_out?"""
    rng = random.Random(seed)
    layer = _first_valid(lambda: ca.Layer(
        "conv", (rng.randint(5, 40), rng.randint(5, 40)), (k := rng.choice((1, 3, 3, 5, 7)),
                                                           rng.choice((k, 3, 1))),
        (s := rng.choice((1, 1, 2, 2, 3)), rng.choice((s, 1, 2))),
        (p := rng.randint(0, 3), rng.choice((p, 0, 1))),
        (d := rng.choice((1, 1, 1, 2)), d), (0, 0), rng.randint(1, 4), rng.randint(1, 16)))
    shape, working = _shape_and_working(
        layer, _("PyTorch floors:") + " $H_{out} = \\lfloor (H_{in} + 2p - d(k-1) - 1)/s \\rfloor "
        "+ 1$.")
    code = (f"x = torch.randn(1, {layer.in_channels}, {layer.size[0]}, {layer.size[1]})\n"
            f"conv = {ca.code_twin(layer)}\nconv(x).shape  # [1, {layer.out_channels}, ?, ?]")
    return _ask("conv", _("What are the output's height and width?"), code, "ints",
                ("H_out", "W_out"), (shape[2], shape[3]), working)


# --- Pooling: the output shape ----------------------------------------------------------------


def pooling_output(seed: int) -> Question:
    """A random valid MaxPool2d or AvgPool2d on a random batch: what shape comes out?"""
    rng = random.Random(seed)
    kind: ca.Kind = rng.choice(("maxpool", "avgpool"))
    layer = _first_valid(lambda: ca.Layer(
        kind, (rng.randint(5, 40), rng.randint(5, 40)), (k := rng.randint(2, 4),) * 2,
        (rng.choice((k, k, 1, 2, 3)),) * 2, (rng.randint(0, k // 2),) * 2,
        in_channels=rng.choice((1, 3, 16, 64)), batch=rng.randint(1, 8),
        ceil_mode=rng.random() < 0.3))
    intro = (_("Pooling keeps the batch ({batch}) and the channels ({channels}); each map "
               "shrinks by the formula (ceil_mode=True rounds up, but a last window may not "
               "start in the padding):") if layer.ceil_mode else
             _("Pooling keeps the batch ({batch}) and the channels ({channels}); each map "
               "shrinks by the formula (PyTorch floors):"))
    shape, working = _shape_and_working(
        layer, intro.format(batch=layer.batch, channels=layer.in_channels))
    code = (f"x = torch.randn({layer.batch}, {layer.in_channels}, {layer.size[0]}, "
            f"{layer.size[1]})\npool = {ca.code_twin(layer)}\npool(x).shape")
    return _ask("pooling", _("What is the shape of the output?"), code, "ints",
                ("N", "C", "H_out", "W_out"), tuple(shape), working)


# --- BatchNorm: running_mean after k steps, and the eval-mode output ---------------------------


def _batch_for(rng: random.Random, size: int, channels: int) -> torch.Tensor:
    """A batch whose channel 0 holds small whole numbers (easy to average by hand)."""
    x = torch.tensor([[float(rng.randint(-4, 8)) for _col in range(channels)]
                      for _row in range(size)])
    return x


def running_mean(seed: int) -> Question:
    """BatchNorm1d in training mode sees k batches: what is running_mean[0] then?"""
    rng = random.Random(seed)
    momentum = rng.choice((0.1, 0.2, 0.5))
    steps = rng.randint(1, 3)
    layer = nn.BatchNorm1d(2, momentum=momentum)
    batches = [_batch_for(rng, 4, 2) for _step in range(steps)]
    lines, value = [], 0.0
    with torch.no_grad():
        for i, x in enumerate(batches, start=1):
            layer.train()(x)
            mean = float(x[:, 0].mean())
            lines.append(_("step {i}:").format(i=i)
                         + f" $(1 - {momentum:g}) \\cdot {value:.4g} + {momentum:g} "
                         f"\\cdot {mean:g} = {float(layer.running_mean[0]):.4g}$")
            value = float(layer.running_mean[0])
    shown = "\n".join(f"x{i} = torch.tensor({x.int().tolist()}, dtype=torch.float)"
                      for i, x in enumerate(batches, start=1))
    code = (f"bn = nn.BatchNorm1d(2, momentum={momentum:g})  # "
            + _("running_mean starts at 0") + "\n"
            f"{shown}\n" + "\n".join(f"bn(x{i})" for i in range(1, steps + 1))
            + "\nbn.running_mean[0]")
    working = (_("In training mode each step moves the running mean towards the batch's mean "
                 "of channel 0 (the first column): running_mean ← (1 − momentum)·running_mean "
                 "+ momentum·batch mean.") + "\n\n" + "\n\n".join(lines))
    prompt = ngettext("After this training step, what is `bn.running_mean[0]`? (within ±0.01)",
                      "After these {n} training steps, what is `bn.running_mean[0]`? (within "
                      "±0.01)", steps).format(n=steps)
    return _ask("batchnorm", prompt,
                code, "float", ("running_mean[0]",),
                (value,), working, tolerance=FLOAT_TOLERANCE)


def eval_output(seed: int) -> Question:
    """BatchNorm1d in eval mode with given running statistics: what does it output?"""
    rng = random.Random(seed)
    mean = rng.choice((-2.0, -1.0, -0.5, 0.0, 0.5, 1.0, 2.0, 3.0))
    var = rng.choice((0.25, 1.0, 4.0, 9.0, 16.0))
    gamma, beta = rng.choice((1.0, 2.0, 0.5)), rng.choice((0.0, 1.0, -1.0))
    x = float(rng.randint(-4, 6))
    layer = nn.BatchNorm1d(1).eval()
    with torch.no_grad():
        layer.running_mean.fill_(mean)
        layer.running_var.fill_(var)
        layer.weight.fill_(gamma)
        layer.bias.fill_(beta)
        y = float(layer(torch.tensor([[x]]))[0, 0])
    code = (f"bn = nn.BatchNorm1d(1).eval()\nwith torch.no_grad():\n"
            f"    bn.running_mean.fill_({mean:g}); bn.running_var.fill_({var:g})\n"
            f"    bn.weight.fill_({gamma:g}); bn.bias.fill_({beta:g})  # γ and β\n"
            f"bn(torch.tensor([[{x:.1f}]]))")
    working = (
        _("In eval mode BatchNorm uses the running statistics, not the batch's:") + " "
        "$y = \\gamma \\cdot (x - \\mu_{running}) / \\sqrt{\\sigma^2_{running} + \\epsilon} + "
        "\\beta$" + _(" with {eps}.").format(eps="$\\epsilon = 10^{-5}$") + "\n\n"
        f"$$ y = {gamma:g} \\cdot ({x:g} - ({mean:g})) / \\sqrt{{{var:g} + 10^{{-5}}}} + "
        f"({beta:g}) = {y:.4f} $$")
    return _ask("batchnorm", _("What does the layer output? (within ±0.01)"), code, "float",
                (_("output"),), (y,), working, tolerance=FLOAT_TOLERANCE)


def batchnorm_question(seed: int) -> Question:
    """Either BatchNorm question, chosen by the seed."""
    return (running_mean if random.Random(seed).random() < 0.5 else eval_output)(seed)


# --- Model zoo: the parameters of one layer ----------------------------------------------------

_COUNTED = (nn.Conv2d, nn.Linear, nn.BatchNorm2d, nn.BatchNorm1d)


def layer_parameters(seed: int) -> Question:
    """A random layer of a random zoo network: how many parameters does it have?"""
    rng = random.Random(seed)
    key = rng.choice(zoo.list_models())
    variant = rng.choice(("mnist", "cifar"))
    batchnorm = rng.random() < 0.4
    with torch.device("meta"):
        model = zoo.build_model(key, variant=variant, batchnorm=batchnorm)
    layers = [(n, m) for n, m in leaf_modules(model).items() if isinstance(m, _COUNTED)]
    name, layer = rng.choice(layers)
    parts = [(n, tuple(p.shape), p.numel()) for n, p in layer.named_parameters()]
    total = sum(count for _name, _shape, count in parts)
    spec = zoo.get_spec(key)
    terms = " + ".join(f"{n} {list(shape)} = {count:,}" for n, shape, count in parts)
    buffers = [n for n, _buffer in layer.named_buffers() if n != "num_batches_tracked"]
    working = (_("`sum(p.numel() for p in layer.parameters())`: {terms}; total **{total:,}**."
                 ).format(terms=terms, total=total)
               + (" " + _("The buffers {names} are state, not parameters: nothing learns them by "
                          "gradient.").format(names=", ".join(f"`{b}`" for b in buffers))
                  if buffers else ""))
    code = (f"model = build_model({key!r}, variant={variant!r}"
            f"{', batchnorm=True' if batchnorm else ''})\n"
            f"layer = model.get_submodule({name!r})\n"
            f"print(layer)  # {layer}")
    return _ask("zoo", _("In {network} ({variant}), how many parameters does `{name}`, "
                         "`{layer}`, have?").format(network=_(spec.title), variant=variant,
                                                    name=name, layer=layer),
                code, "ints", (_("parameters"),), (total,), working)


# --- Convolution: which of four kernels made this picture -------------------------------------

#: Kernels that look different from each other, one per family.
KERNEL_FAMILIES: tuple[tuple[str, ...], ...] = (
    ("Identity 3x3",), ("Box blur 3x3", "Gaussian blur 5x5"), ("Sharpen 5x5 (course)",),
    ("Edge detect 3x3 (course)", "Outline 3x3"), ("Sobel x 3x3",), ("Sobel y 3x3",),
    ("Emboss 3x3",))
QUIZ_SIDE = 160  # the photo is shrunk to this on its long side: details a kernel changes stay


def _kernel_output(x: torch.Tensor, preset: kernels.Preset) -> np.ndarray:
    y = kernels.apply_kernel(x, preset.tensor())
    return kernels.to_display(y, "abs" if abs(float(preset.tensor().sum())) < 1e-9 else "clip")


def kernel_grid_text(preset: kernels.Preset) -> str:
    """The kernel's weights as rows of numbers (the option a student reads)."""
    weights = preset.tensor()
    scale = "" if not preset.normalise else f" ÷ {float(torch.tensor(preset.weights).sum()):g}"
    rows = [" ".join(f"{v:>3g}" for v in row) for row in torch.tensor(preset.weights).tolist()]
    return "\n".join(rows) + scale if weights.numel() else ""


def which_kernel(seed: int, image: Image.Image) -> Question:
    """The photo through one of four kernels: which one made it?"""
    rng = random.Random(seed)
    names = [rng.choice(family) for family in rng.sample(KERNEL_FAMILIES, 4)]
    right = rng.randrange(4)
    photo = image.convert("L")
    photo.thumbnail((QUIZ_SIDE, QUIZ_SIDE), Image.Resampling.BILINEAR)
    largest = max(kernels.PRESETS[n].size for n in names)
    if min(photo.size) < largest:
        raise kernels.KernelError(
            _("The quiz shrinks the photo to at most {side} px a side, which leaves "
              "{width}×{height} px here; its kernels need at least {size}×{size} px, so there "
              "is no kernel quiz for this photo.").format(
                side=QUIZ_SIDE, width=photo.width, height=photo.height, size=largest))
    x = kernels.image_tensor(photo, "grayscale")
    outputs = [_kernel_output(x, kernels.PRESETS[n]) for n in names]
    letters = "ABCD"
    shown = [_(kernels.PRESET_NAMES.get(name, name)) for name in names]
    options = tuple(f"{letters[i]}: {name}" for i, name in enumerate(shown))
    working = _("It was **{name}**. Each option's output on the same photo (edge kernels sum "
                "to 0, so their outputs are shown as absolute values):").format(
        name=shown[right])
    return _ask("convolution", _("Which of these four kernels produced this picture?"),
                "\n\n".join(f"# {letters[i]}\n{kernel_grid_text(kernels.PRESETS[n])}"
                            for i, n in enumerate(names)),
                "choice", tuple(letters[i] for i in range(4)), (right,), working,
                picture=outputs[right],
                options_pictures=tuple(zip(options, outputs, strict=True)))


GENERATORS = {"conv": conv_output, "pooling": pooling_output, "batchnorm": batchnorm_question,
              "zoo": layer_parameters}
