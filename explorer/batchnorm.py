"""The BatchNorm lab: a real `nn.BatchNorm1d`/`nn.BatchNorm2d` stepped one forward pass at a time.

The course's experiment is `x = torch.randn(100, 16) + 0.5` through `nn.BatchNorm1d(16)`, once
and then 100 times, watching `running_mean` and `running_var`. `BatchNormLab` keeps that layer
and its data, records the buffers after every step, and the functions beside it take the layer
apart: the algorithm box by hand, the update rule, train against eval mode, the batch of one,
and which axes BatchNorm, LayerNorm and InstanceNorm average over.

Data semantics (tests rely on them): at reset a standard-normal tensor `z` is drawn from a
`torch.Generator` seeded with `seed`. Each step first draws a fresh `z` from that generator when
"a new batch each step" is on, then feeds `x = z * scale + shift`. So "the same batch again"
repeats one `z`, and moving `shift` mid-run shifts that very batch.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch
from PIL import Image
from torch import nn

from explorer import kernels
from explorer.i18n import N_, _

Kind = Literal["1d", "2d"]
NormKind = Literal["BatchNorm", "LayerNorm", "InstanceNorm"]

#: PyTorch's momentum choices by label; None is the cumulative average.
MOMENTUM_CHOICES: dict[str, float | None] = {
    **{f"{m:g}": m for m in (0.001, 0.01, 0.05, 0.1, 0.2, 0.5, 0.9, 1.0)}, "None": None,
}
EPS_CHOICES: tuple[float, ...] = (1e-5, 1e-3, 0.1, 1.0)
#: Keras' BatchNormalization(momentum=0.99) default, in Keras' own convention.
KERAS_DEFAULT_MOMENTUM = 0.99
#: PyTorch's default, read from the layer itself.
TORCH_DEFAULT_MOMENTUM: float = nn.BatchNorm1d(1).momentum
#: Steps kept per lab; beyond this the student is asked to reset (keeps plots and memory small).
MAX_STEPS = 5000
#: Largest batch (N·C·H·W values) a lab accepts, so one student cannot hog the server.
MAX_VALUES = 1 << 20


# --- configuration --------------------------------------------------------------------------


@dataclass(frozen=True)
class LabConfig:
    """What defines the layer and its data; changing any of it starts a new lab."""

    kind: Kind = "1d"
    channels: int = 16
    batch_size: int = 100
    size: int = 4  # H = W of each feature map, BatchNorm2d only
    seed: int = 0
    affine: bool = True
    track_running_stats: bool = True

    @property
    def shape(self) -> tuple[int, ...]:
        """Shape of one batch: [N, C] or [N, C, H, W]."""
        if self.kind == "1d":
            return (self.batch_size, self.channels)
        return (self.batch_size, self.channels, self.size, self.size)

    @property
    def numel(self) -> int:
        """Values in one batch."""
        return math.prod(self.shape)

    @property
    def reduce_dims(self) -> tuple[int, ...]:
        """The axes BatchNorm averages over for one channel: N, or N, H and W."""
        return (0,) if self.kind == "1d" else (0, 2, 3)


@dataclass
class Knobs:
    """Settings a student may change mid-run without losing the history."""

    shift: float = 0.5
    scale: float = 1.0
    same_batch: bool = True
    momentum: float | None = 0.1
    eps: float = 1e-5
    training: bool = True
    gamma: float = 1.0  # every channel's weight, with affine on
    beta: float = 0.0


def make_layer(config: LabConfig, momentum: float | None = 0.1, eps: float = 1e-5) -> nn.Module:
    """A fresh `nn.BatchNorm1d` or `nn.BatchNorm2d` for `config`."""
    cls = nn.BatchNorm1d if config.kind == "1d" else nn.BatchNorm2d
    return cls(config.channels, eps=eps, momentum=momentum, affine=config.affine,
               track_running_stats=config.track_running_stats)


def keras_momentum(torch_momentum: float) -> float:
    """Keras' momentum (weight on the old value) for PyTorch's (weight on the new batch)."""
    return 1.0 - torch_momentum


def torch_momentum(keras: float) -> float:
    """PyTorch's momentum for Keras' momentum: the same update, the opposite number."""
    return 1.0 - keras


def format_momentum(momentum: float | None) -> str:
    """Label for a momentum choice."""
    return _("None (cumulative average)") if momentum is None else f"{momentum:g}"


def format_value(v: float | None, digits: int = 4) -> str:
    """A buffer's value for a metric: "None" for a missing (or NaN) one."""
    return "None" if v is None or v != v else f"{v:.{digits}f}"


def tex_number(v: float, digits: int = 4) -> str:
    """A number for a LaTeX product: negatives in parentheses, 1e-05 as 10^{-5}."""
    if v != 0 and abs(v) < 1e-3:
        mantissa, exponent = f"{v:.0e}".split("e")
        text = rf"{mantissa}\times10^{{{int(exponent)}}}".removeprefix(r"1\times")
    else:
        text = f"{v:.{digits}f}"
    return f"({text})" if v < 0 else text


def mean_std(values: np.ndarray) -> tuple[float, float]:
    """Mean and (population) standard deviation of `values`."""
    return float(values.mean()), float(values.std())


# --- the lab --------------------------------------------------------------------------------


@dataclass(frozen=True)
class StepRecord:
    """What one step did. Step 0 is the freshly built layer (no batch statistics)."""

    step: int
    training: bool
    shift: float
    scale: float
    momentum: float | None
    running_mean: torch.Tensor | None  # after the step; None without track_running_stats
    running_var: torch.Tensor | None
    num_batches_tracked: int
    batch_mean: torch.Tensor | None = None
    batch_var: torch.Tensor | None = None  # biased: what the layer normalises with
    batch_var_unbiased: torch.Tensor | None = None  # unbiased: what running_var stores
    target_mean: torch.Tensor | None = None  # the data's true mean (dashed line)
    target_var: torch.Tensor | None = None


@dataclass(frozen=True)
class UpdateRule:
    """`running = (1 - m)·running + m·batch_stat` for one channel with this step's numbers."""

    factor: float  # m: momentum, or 1/num_batches_tracked for momentum=None
    momentum: float | None
    old_mean: float
    batch_mean: float
    new_mean: float
    by_hand_mean: float
    old_var: float
    batch_var: float  # biased
    batch_var_unbiased: float
    new_var: float
    by_hand_var: float

    def latex(self, channel: int) -> tuple[str, str]:
        """PyTorch's update of running_mean and running_var, with this step's numbers."""
        f = self.factor
        mean = (rf"\begin{{aligned}}\text{{running\_mean}}[{channel}] &= (1-{f:g})\cdot"
                rf"{tex_number(self.old_mean)} + {f:g}\cdot{tex_number(self.batch_mean)} \\ "
                rf"&= {self.by_hand_mean:.4f}\end{{aligned}}")
        var = (rf"\begin{{aligned}}\text{{running\_var}}[{channel}] &= (1-{f:g})\cdot"
               rf"{tex_number(self.old_var)} + {f:g}\cdot"
               rf"\underbrace{{{self.batch_var_unbiased:.4f}}}_{{\text{{unbiased}}}} \\ "
               rf"&= {self.by_hand_var:.4f}\end{{aligned}}")
        return mean, var

    def stored_sentence(self) -> str:
        """What the layer stored, and which variance it normalised with and which it keeps."""
        return _("The layer stored running_mean = {mean:.6f} and running_var = {var:.6f}. "
                 "It normalised this batch with the **biased** variance {biased:.4f} "
                 "(divide by m) but stores the **unbiased** {unbiased:.4f} (divide by "
                 "m − 1) in running_var.").format(
            mean=self.new_mean, var=self.new_var, biased=self.batch_var,
            unbiased=self.batch_var_unbiased)

    def keras_sentence(self) -> str:
        """PyTorch's momentum against Keras' (needs a momentum), and Keras' default."""
        k = keras_momentum(self.momentum)
        keras_default = torch_momentum(KERAS_DEFAULT_MOMENTUM)
        return _(
            "Same physics, opposite numbers: PyTorch momentum={torch_m:g} is Keras "
            "momentum={keras_m:g}. Keras' default {keras_default:g} is PyTorch "
            "momentum={as_torch:g}: {times:.0f} times slower than PyTorch's default "
            "{torch_default:g}.").format(
            torch_m=self.momentum, keras_m=k, keras_default=KERAS_DEFAULT_MOMENTUM,
            as_torch=keras_default, times=TORCH_DEFAULT_MOMENTUM / keras_default,
            torch_default=TORCH_DEFAULT_MOMENTUM)

    def keras_latex(self, channel: int) -> str:
        """The same running_mean update in Keras' convention (needs a momentum)."""
        k = keras_momentum(self.momentum)
        return (rf"\begin{{aligned}}\text{{moving\_mean}}[{channel}] &= {k:g}\cdot"
                rf"{tex_number(self.old_mean)} + (1-{k:g})\cdot{tex_number(self.batch_mean)}"
                rf" \\ &= {self.by_hand_mean:.4f}\end{{aligned}}")


class BatchNormLab:
    """A real BatchNorm layer, its data generator and the history of its buffers."""

    def __init__(self, config: LabConfig | None = None, knobs: Knobs | None = None) -> None:
        self.config = config or LabConfig()
        self.knobs = knobs or Knobs()
        self.reset()

    def reset(self) -> None:
        """Fresh layer, fresh generator, empty history (keeps config and knobs)."""
        self.layer = make_layer(self.config, self.knobs.momentum, self.knobs.eps)
        self.generator = torch.Generator().manual_seed(self.config.seed)
        self.z = torch.randn(self.config.shape, generator=self.generator)
        # the repeated batch and its statistics, per (shift, scale): most steps reuse them
        self._memo: tuple[tuple[float, float], torch.Tensor, dict[str, torch.Tensor]] | None = None
        self.last_input: torch.Tensor | None = None
        self.last_output: torch.Tensor | None = None
        self.last_training = True
        self.error: str | None = None
        self.history: list[StepRecord] = [self._record(0, None)]
        self.apply(self.knobs)

    def apply(self, knobs: Knobs) -> None:
        """Change the mid-run settings (shift, scale, batch mode, momentum, eps, mode)."""
        self.knobs = copy.copy(knobs)
        self.layer.momentum = knobs.momentum
        self.layer.eps = knobs.eps
        if self.layer.affine:
            with torch.no_grad():
                self.layer.weight.fill_(knobs.gamma)
                self.layer.bias.fill_(knobs.beta)

    def output(self) -> torch.Tensor | None:
        """The last step's output, recomputed with the current γ and β on a copy of the layer.

        Train-mode outputs depend only on the batch and γ, β; eval-mode steps do not move the
        buffers; so this equals what the step returned when γ and β have not changed since.
        """
        if self.last_input is None:
            return None
        return forward(self.layer, self.last_input, self.last_training)[0]

    def batch(self) -> torch.Tensor:
        """The batch the layer sees now: the last one fed, or the one the next step repeats."""
        return self.z * self.knobs.scale + self.knobs.shift

    def batch_mean(self) -> torch.Tensor:
        """Per-channel mean of `batch()` over N (and H, W)."""
        return self.batch().mean(self.config.reduce_dims)

    @property
    def steps(self) -> int:
        return self.history[-1].step

    def step(self, n: int = 1) -> int:
        """Run `n` forward passes; returns how many ran. A refusal lands in `self.error`."""
        self.error = None
        for done in range(n):
            if self.steps >= MAX_STEPS:
                self.error = _("This lab keeps {n} steps; press Reset to start again.").format(
                    n=MAX_STEPS)
                return done
            if not self.knobs.same_batch:
                self.z = torch.randn(self.config.shape, generator=self.generator)
                self._memo = None
            key = (self.knobs.shift, self.knobs.scale)
            if self._memo is None or self._memo[0] != key:
                x = self.batch()
                self._memo = (key, x, batch_statistics(x))
            x = self._memo[1]
            self.layer.train(self.knobs.training)
            try:
                with torch.no_grad():
                    y = self.layer(x)
            except ValueError as err:  # PyTorch refuses one value per channel in train mode
                self.error = str(err)
                return done
            self.last_input, self.last_output, self.last_training = x, y, self.knobs.training
            self.history.append(self._record(self.steps + 1, self._memo[2]))
        return n

    def _record(self, step: int, batch_stats: dict[str, torch.Tensor] | None) -> StepRecord:
        layer, knobs = self.layer, self.knobs
        tracked = layer.track_running_stats
        stats: dict[str, torch.Tensor] = {}
        if batch_stats is not None:
            stats = dict(batch_stats)
            if knobs.same_batch:
                stats.update(target_mean=stats["batch_mean"],
                             target_var=stats["batch_var_unbiased"])
            else:
                c = self.config.channels
                stats.update(target_mean=torch.full((c,), knobs.shift),
                             target_var=torch.full((c,), knobs.scale**2))
        return StepRecord(
            step=step, training=knobs.training, shift=knobs.shift, scale=knobs.scale,
            momentum=knobs.momentum,
            running_mean=layer.running_mean.clone() if tracked else None,
            running_var=layer.running_var.clone() if tracked else None,
            num_batches_tracked=int(layer.num_batches_tracked) if tracked else 0,
            **stats,
        )

    # --- views of the history ---------------------------------------------------------------

    def series(self, name: str) -> np.ndarray:
        """History of one recorded tensor as an array [steps, C] (NaN where not recorded)."""
        c = self.config.channels
        rows = [getattr(r, name) for r in self.history]
        return np.stack([np.full(c, np.nan) if t is None else t.double().numpy() for t in rows])

    def update_rule(self, channel: int) -> UpdateRule | None:
        """The last step's running-statistics update for `channel`, recomputed by hand."""
        if len(self.history) < 2 or not self.config.track_running_stats:
            return None
        old, new = self.history[-2], self.history[-1]
        if not new.training:
            return None
        m = new.momentum
        factor = 1.0 / new.num_batches_tracked if m is None else m
        c = channel
        return UpdateRule(
            factor=factor, momentum=m,
            old_mean=float(old.running_mean[c]), batch_mean=float(new.batch_mean[c]),
            new_mean=float(new.running_mean[c]),
            by_hand_mean=(1 - factor) * float(old.running_mean[c]) + factor * float(
                new.batch_mean[c]),
            old_var=float(old.running_var[c]), batch_var=float(new.batch_var[c]),
            batch_var_unbiased=float(new.batch_var_unbiased[c]),
            new_var=float(new.running_var[c]),
            by_hand_var=(1 - factor) * float(old.running_var[c]) + factor * float(
                new.batch_var_unbiased[c]),
        )

    def catch_up(self, channel: int, fraction: float = 0.95) -> CatchUp | None:
        """How fast running_mean followed the last change of the data's mean (shift)."""
        if not self.config.track_running_stats:
            return None
        steps = [r for r in self.history if r.batch_mean is not None]
        change = next((i for i in range(len(steps) - 1, 0, -1)
                       if steps[i].shift != steps[i - 1].shift), None)
        if change is None:
            return None
        start = steps[change - 1]
        target = float(steps[-1].target_mean[channel])
        gap0 = float(start.running_mean[channel]) - target
        closed = None
        for r in steps[change:]:
            if not r.training:
                continue
            if abs(float(r.running_mean[channel]) - target) <= (1 - fraction) * abs(gap0):
                closed = r.step - start.step
                break
        m = steps[-1].momentum
        predicted = None if m is None or m >= 1 else math.ceil(
            math.log(1 - fraction) / math.log(1 - m))
        if m is not None and m >= 1:
            predicted = 1
        return CatchUp(from_step=start.step, old_shift=start.shift, new_shift=steps[-1].shift,
                       gap=gap0, steps_measured=closed, steps_predicted=predicted,
                       fraction=fraction)


@dataclass(frozen=True)
class CatchUp:
    """Steps running_mean needed to close `fraction` of the gap after a shift of the data."""

    from_step: int
    old_shift: float
    new_shift: float
    gap: float
    steps_measured: int | None  # None: not caught up yet
    steps_predicted: int | None  # from (1 - m)^k; None for the cumulative average
    fraction: float

    def sentence(self, channel: int, training: bool) -> str:
        """When the data moved, and how long running_mean[channel] took to follow: measured,
        or why not yet (`training`: the layer's mode now), and predicted."""
        if self.steps_measured is not None:
            measured = _("{n} steps").format(n=self.steps_measured)
        elif not training:
            measured = _("never, while the layer is in eval mode (its buffers stay put)")
        else:
            measured = _("not yet: step on")
        predicted = (_("no fixed rate with the cumulative average: each step weighs 1/n, so it "
                       "slows down the longer it has run") if self.steps_predicted is None
                     else _("{n} steps by (1 − momentum)^k").format(n=self.steps_predicted))
        return _(
            "At step {step} the mean shift went from {old:g} to {new:g}. To close {fraction:.0%} "
            "of the gap in running_mean[{c}]: measured **{measured}**; predicted {predicted}."
        ).format(step=self.from_step, old=self.old_shift, new=self.new_shift,
                 fraction=self.fraction, c=channel, measured=measured, predicted=predicted)


def batch_statistics(x: torch.Tensor) -> dict[str, torch.Tensor]:
    """Per-channel batch mean, biased variance (what BatchNorm normalises with) and unbiased
    variance (what it stores), over N, or N, H and W."""
    per_channel = x.transpose(0, 1).reshape(x.shape[1], -1)  # one row per channel
    m = per_channel.shape[1]
    var, mean = torch.var_mean(per_channel, dim=1, correction=0)
    unbiased = var * (m / (m - 1)) if m > 1 else torch.full_like(var, math.nan)  # m=1: eval only
    return dict(batch_mean=mean, batch_var=var, batch_var_unbiased=unbiased)


# --- the algorithm box ----------------------------------------------------------------------


@dataclass(frozen=True)
class HandComputation:
    """The slide's algorithm for one value, written out, beside the layer's own output."""

    channel: int
    index: tuple[int, ...]  # position of the chosen value in the input tensor
    m: int  # values per channel that were averaged
    uses_batch_stats: bool
    x: float
    mean: float
    var: float  # biased batch variance, or running_var in eval mode
    eps: float
    x_hat: float
    gamma: float
    beta: float
    y_hand: float
    y_layer: float
    max_abs_diff: float  # over the whole output tensor

    def statistics_latex(self) -> list[str]:
        """The mean and variance it normalises with: the batch's, or the running ones."""
        if self.uses_batch_stats:
            return [rf"\mu_B = \frac{{1}}{{m}}\sum_{{i=1}}^{{m}} x_i = {self.mean:.6f}",
                    rf"\sigma_B^2 = \frac{{1}}{{m}}\sum_{{i=1}}^{{m}}(x_i-\mu_B)^2 = "
                    rf"{self.var:.6f}"]
        return [rf"\mu = \text{{running\_mean}} = {self.mean:.6f},\quad "
                rf"\sigma^2 = \text{{running\_var}} = {self.var:.6f}"]

    def output_latex(self) -> list[str]:
        """Normalise, then scale and shift, with this value's numbers."""
        return [rf"\hat x_i = \frac{{x_i-\mu}}{{\sqrt{{\sigma^2+\epsilon}}}} = "
                rf"\frac{{{self.x:.6f} - {tex_number(self.mean, 6)}}}{{\sqrt{{{self.var:.6f} + "
                rf"{tex_number(self.eps)}}}}} = {self.x_hat:.6f}",
                rf"y_i = \gamma\hat x_i + \beta = {tex_number(self.gamma, 2)}\cdot"
                rf"{tex_number(self.x_hat, 6)} + {tex_number(self.beta, 2)} = {self.y_hand:.6f}"]


def hand_computation(
    x: torch.Tensor, y: torch.Tensor, layer: nn.Module, training: bool, channel: int,
    sample: int,
) -> HandComputation:
    """Recompute `y = layer(x)` step by step (mean, variance, normalise, scale and shift).

    Done in float64 from the formulas, not with `F.batch_norm`, for every value; the chosen
    `channel`/`sample` (first spatial position for 2d) is reported in detail.
    """
    xd = x.double()
    dims = (0,) if x.dim() == 2 else (0, 2, 3)
    view = (1, -1) + (1,) * (x.dim() - 2)
    m = x.numel() // x.shape[1]
    uses_batch = training or not layer.track_running_stats
    if uses_batch:
        mean = xd.sum(dims) / m
        var = ((xd - mean.view(view)) ** 2).sum(dims) / m
    else:
        mean, var = layer.running_mean.double(), layer.running_var.double()
    x_hat = (xd - mean.view(view)) / torch.sqrt(var.view(view) + layer.eps)
    if layer.affine:
        gamma, beta = layer.weight.detach().double(), layer.bias.detach().double()
    else:
        gamma, beta = torch.ones(x.shape[1], dtype=torch.float64), torch.zeros(
            x.shape[1], dtype=torch.float64)
    y_hand = gamma.view(view) * x_hat + beta.view(view)
    index = (sample, channel) + (0,) * (x.dim() - 2)
    return HandComputation(
        channel=channel, index=index, m=m, uses_batch_stats=uses_batch, x=float(xd[index]),
        mean=float(mean[channel]), var=float(var[channel]), eps=layer.eps,
        x_hat=float(x_hat[index]), gamma=float(gamma[channel]), beta=float(beta[channel]),
        y_hand=float(y_hand[index]), y_layer=float(y[index]),
        max_abs_diff=float((y_hand - y.double()).abs().max()),
    )


# --- the layer's insides --------------------------------------------------------------------


def layer_vars(layer: nn.Module, preview: int = 4) -> str:
    """A `vars(layer)`-style listing: parameters, buffers and flags, as on the slide."""

    def show(t: torch.Tensor | None) -> str:
        if t is None:
            return "None"
        if t.dim() == 0:
            return f"tensor({t.item()})"
        head = ", ".join(f"{v:.4f}" for v in t.detach()[:preview].tolist())
        more = ", ..." if t.numel() > preview else ""
        return f"tensor([{head}{more}])  # shape {list(t.shape)}"

    lines = [f"{type(layer).__name__}", f"  training            = {layer.training}",
             "  _parameters:"]
    lines += [f"    {name:<20}= {show(p)}" for name, p in layer._parameters.items()]
    lines.append("  _buffers:")
    lines += [f"    {name:<20}= {show(b)}" for name, b in layer._buffers.items()]
    for flag in ("num_features", "eps", "momentum", "affine", "track_running_stats"):
        lines.append(f"  {flag:<20}= {getattr(layer, flag)}")
    return "\n".join(lines)


# --- train against eval ---------------------------------------------------------------------


@dataclass(frozen=True)
class ModeComparison:
    """One channel of a batch, and what the layer makes of it in train and in eval mode."""

    x: np.ndarray
    y_train: np.ndarray
    y_eval: np.ndarray

    def summary(self) -> str:
        """Both outputs' mean and standard deviation, and why they differ."""
        (train_mean, train_std), (eval_mean, eval_std) = map(mean_std, (self.y_train,
                                                                        self.y_eval))
        return _("Train-mode output: mean {train_mean:.3f}, std {train_std:.3f}. Eval-mode "
                 "output: mean {eval_mean:.3f}, std {eval_std:.3f}. They agree once the running "
                 "statistics have caught up with the data, up to a factor √((m−1)/m): "
                 "running_var holds the unbiased variance, train mode divides by the biased "
                 "one.").format(train_mean=train_mean, train_std=train_std,
                                eval_mean=eval_mean, eval_std=eval_std)


def forward(layer: nn.Module, x: torch.Tensor, training: bool) -> tuple[torch.Tensor | None,
                                                                        str | None]:
    """`layer(x)` in train or eval mode on a copy (the lab's buffers never move).

    Returns (output, None), or (None, PyTorch's message) when it refuses one value per channel.
    """
    probe = copy.deepcopy(layer).train(training)
    try:
        with torch.no_grad():
            return probe(x), None
    except ValueError as err:
        return None, str(err)


def compare_modes(layer: nn.Module, x: torch.Tensor, channel: int) -> ModeComparison | None:
    """Outputs of `x` in train and eval mode; None when PyTorch refuses the batch."""
    (y_train, _error), (y_eval, _eval_error) = forward(layer, x, True), forward(layer, x, False)
    if y_train is None or y_eval is None:
        return None
    return ModeComparison(*(channel_values(t, channel) for t in (x, y_train, y_eval)))


def channel_values(t: torch.Tensor, channel: int) -> np.ndarray:
    """Every value of one channel of an [N, C] or [N, C, H, W] tensor, as float64."""
    return t[:, channel].flatten().double().numpy()


@dataclass(frozen=True)
class SingleSample:
    """One test sample through the layer, with and without `model.eval()`."""

    x: torch.Tensor
    y_eval: torch.Tensor | None  # None when PyTorch refuses (no running stats to fall back on)
    y_train: torch.Tensor | None  # None when PyTorch refuses
    error: str | None  # PyTorch's own message for train mode

    @property
    def max_abs_diff(self) -> float | None:
        if self.y_train is None or self.y_eval is None:
            return None
        return float((self.y_train - self.y_eval).abs().max())

    def channel_means(self) -> tuple[np.ndarray | None, np.ndarray | None]:
        """Per-channel means of the eval-mode and train-mode outputs."""
        dims = [d for d in range(self.x.dim()) if d != 1]
        return tuple(None if y is None else y.mean(dims).double().numpy()
                     for y in (self.y_eval, self.y_train))

    def means_table(self) -> dict[str, object]:
        """Each channel's output mean in eval and in train mode, as dataframe columns."""
        eval_means, train_means = self.channel_means()
        return {_("channel"): list(range(self.x.shape[1])),
                _("output mean, eval mode"): np.round(eval_means, 4),
                _("output mean, train mode (its own stats)"): np.round(train_means, 4)}

    def eval_value(self, channel: int) -> float | None:
        """The eval-mode output of `channel` (its first position), None when refused."""
        return None if self.y_eval is None else float(self.y_eval[0, channel].flatten()[0])


def single_sample(lab: BatchNormLab) -> SingleSample:
    """A fresh test sample from the lab's data distribution through a copy of its layer.

    In train mode BatchNorm1d refuses a batch of one (a single value per channel has no
    variance); BatchNorm2d accepts one image and normalises it with its own statistics.
    """
    cfg = lab.config
    gen = torch.Generator().manual_seed(cfg.seed + 1_000_003)
    x = torch.randn((1, *cfg.shape[1:]), generator=gen) * lab.knobs.scale + lab.knobs.shift
    y_eval, _error = forward(lab.layer, x, False)
    y_train, error = forward(lab.layer, x, True)
    return SingleSample(x=x, y_eval=y_eval, y_train=y_train, error=error)


# --- which axes are averaged ----------------------------------------------------------------


NORM_AXES: dict[NormKind, str] = {
    "BatchNorm": "N, H, W",
    "LayerNorm": "C, H, W",
    "InstanceNorm": "H, W",
}


def norm_group(kind: NormKind, shape: tuple[int, int, int, int], sample: int = 0,
               channel: int = 0) -> torch.Tensor:
    """Which inputs share the statistics that normalise input[sample, channel, 0, 0].

    Asked of the real layers: the gradient of that output with respect to the input is
    nonzero exactly over the values its mean and variance were computed from.
    """
    _n, c, h, w = shape
    layer = {
        "BatchNorm": lambda: nn.BatchNorm2d(c, affine=False, dtype=torch.float64),
        "LayerNorm": lambda: nn.LayerNorm([c, h, w], elementwise_affine=False,
                                          dtype=torch.float64),
        "InstanceNorm": lambda: nn.InstanceNorm2d(c, dtype=torch.float64),
    }[kind]()
    x = torch.randn(shape, dtype=torch.float64,
                    generator=torch.Generator().manual_seed(7)).requires_grad_(True)
    layer(x)[sample, channel, 0, 0].backward()
    return x.grad != 0


def tile(maps: torch.Tensor | np.ndarray, gap: int = 1) -> np.ndarray:
    """Lay an [N, C, H, W] block out as one 2-D array: channels down, samples across.

    Cells of different (sample, channel) are separated by `gap` NaN rows/columns.
    """
    a = np.asarray(maps, dtype=np.float64)
    n, c, h, w = a.shape
    out = np.full((c * (h + gap) - gap, n * (w + gap) - gap), np.nan)
    for i in range(n):
        for j in range(c):
            out[j * (h + gap): j * (h + gap) + h, i * (w + gap): i * (w + gap) + w] = a[i, j]
    return out


# --- BatchNorm2d on the shared image --------------------------------------------------------


#: Fixed 3×3 kernels applied to the image's grey levels: four feature maps per crop.
# The Convolution page's presets, as 3x3 kernels (the course's 5x5 sharpen without its border).
FEATURE_KERNELS: dict[str, torch.Tensor] = {
    N_("blur"): kernels.PRESETS["Box blur 3x3"].tensor(),
    N_("vertical edges"): kernels.PRESETS["Sobel x 3x3"].tensor(),
    N_("horizontal edges"): kernels.PRESETS["Sobel y 3x3"].tensor(),
    N_("sharpen"): kernels.PRESETS["Sharpen 5x5 (course)"].tensor()[1:-1, 1:-1],
}


@dataclass(frozen=True)
class FeatureMapsNorm:
    """A batch of feature maps from the image, before and after a real BatchNorm2d."""

    names: tuple[str, ...]
    before: torch.Tensor  # [N, C, H, W]
    after: torch.Tensor
    mean_before: np.ndarray  # per channel, over N, H and W
    std_before: np.ndarray
    mean_after: np.ndarray
    std_after: np.ndarray

    def constant_channels(self) -> list[str]:
        """The channels (translated names) that are constant over N, H and W."""
        return [_(name) for name, std in zip(self.names, self.std_before, strict=True)
                if std < 1e-6]

    def table(self) -> dict[str, object]:
        """Each channel's mean and standard deviation before and after, as columns."""
        return {_("channel"): [_(name) for name in self.names],
                _("mean before"): np.round(self.mean_before, 4),
                _("std before"): np.round(self.std_before, 4),
                _("mean after"): np.round(self.mean_after, 4),
                _("std after"): np.round(self.std_after, 4)}


def image_feature_maps(image: Image.Image, crops: int = 4, size: int = 32) -> torch.Tensor:
    """A batch of `crops` square crops of `image` (its four corners first), each turned into
    one feature map per `FEATURE_KERNELS` entry: shape [crops, kernels, size, size]."""
    grey = image.convert("L")
    w, h = grey.size
    half = max(1, min(w, h) // 2)
    boxes = [(0, 0), (w - half, 0), (0, h - half), (w - half, h - half),
             ((w - half) // 2, (h - half) // 2)]
    tiles = []
    for k in range(crops):
        left, top = boxes[k % len(boxes)]
        tile_img = grey.crop((left, top, left + half, top + half)).resize(
            (size + 2, size + 2), Image.Resampling.BILINEAR)
        tiles.append(torch.from_numpy(np.asarray(tile_img, dtype=np.float32) / 255.0))
    batch = torch.stack(tiles).unsqueeze(1)  # [N, 1, size+2, size+2]
    weight = torch.stack(list(FEATURE_KERNELS.values())).unsqueeze(1)
    return nn.functional.conv2d(batch, weight)


def batchnorm_feature_maps(maps: torch.Tensor) -> FeatureMapsNorm:
    """`nn.BatchNorm2d` (train mode, no affine) over a batch of feature maps."""
    layer = nn.BatchNorm2d(maps.shape[1], affine=False)
    with torch.no_grad():
        after = layer(maps)
    dims = (0, 2, 3)

    def stats(t: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
        return t.mean(dims).double().numpy(), t.var(dims, unbiased=False).sqrt().double().numpy()

    mb, sb = stats(maps)
    ma, sa = stats(after)
    return FeatureMapsNorm(tuple(FEATURE_KERNELS)[: maps.shape[1]], maps, after, mb, sb, ma, sa)

