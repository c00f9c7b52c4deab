"""What each experiment trains: its arms, what differs between them and what is held equal.

Every arm is an ordinary `TrainConfig`, so an experiment's runs are ordinary runs of the
training queue. The arms of one experiment share the seed (hence the same images, the same
shuffled batches and, where the layers match, the same initial weights; see `pairing`) and
every setting except the one the claim is about.

Sizes were chosen on a 2-core CPU (one core left to the web server): the full experiments
take well under a minute of training each, the quick check a few seconds, plus a few
seconds per run to start its worker process.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import Literal

from explorer.i18n import N_, _
from explorer.training.augment import AugmentConfig
from explorer.training.config import TrainConfig

Size = Literal["full", "quick"]
SIZES: dict[Size, str] = {
    "full": N_("Full: the sizes the verdicts were designed for (under a minute of training per "
               "run on a 2-core CPU)"),
    "quick": N_("Quick check: 256 images, 1 epoch; runs in seconds but is too small to judge "
                "the claim"),
}
QUICK_IMAGES = 256


@dataclass(frozen=True)
class Arm:
    """One run of an experiment: a label for legends and its settings at full size."""

    label: str
    settings: TrainConfig


@dataclass(frozen=True)
class Experiment:
    """A claim of the course and the runs that test it."""

    key: str  # no "-": experiment ids are "<key>-<time>-<hex>"
    title: str
    claim: str  # the course's claim, in its words where the slide has words
    source: str  # where the course makes it
    varied: str  # what differs between the arms
    held: str  # what is held equal
    rule: str  # when the verdict says the claim holds
    arms: tuple[Arm, ...] = ()  # empty: computed, not trained (see kernel_cost)

    @property
    def trained(self) -> bool:
        return bool(self.arms)

    def sized(self, size: Size) -> tuple[Arm, ...]:
        """The arms at `size`: as designed, or the quick check's tiny subset and one epoch."""
        if size == "full":
            return self.arms
        return tuple(Arm(a.label, replace(a.settings, epochs=1, train_limit=QUICK_IMAGES,
                                          test_limit=QUICK_IMAGES)) for a in self.arms)


#: What every trained experiment holds equal besides its own list.
_COMMON = TrainConfig(dataset="mnist-mini", optimizer="sgd", momentum=0.9, weight_decay=5e-4,
                      schedule="constant", batch_size=128, seed=0, compile="off",
                      misclassified=0)
BN_LR, BN_LARGE_LR = 0.02, 0.5


def _bn(batchnorm: bool, lr: float) -> Arm:
    label = f"{'with' if batchnorm else 'without'} BatchNorm, lr {lr:g}"
    return Arm(label, replace(_COMMON, model="lenet5", batchnorm=batchnorm, lr=lr, epochs=2))


_AUGMENT = AugmentConfig(rotation=15.0, scale_min=0.9, scale_max=1.1, crop_padding=3)
_SCARCE = replace(_COMMON, model="lenet5", optimizer="adamw", lr=3e-3, schedule="onecycle",
                  epochs=15, batch_size=64, train_limit=1000, eval_train=True)
_DEEP = replace(_COMMON, lr=0.05, epochs=3, train_limit=4000)

EXPERIMENTS: dict[str, Experiment] = {e.key: e for e in (
    Experiment(
        "batchnorm", N_("BatchNorm: faster training, larger learning rates"),
        N_("Batch normalisation makes training converge faster and lets the network train with "
           "much larger learning rates."),
        N_("BatchNorm lecture (Ioffe & Szegedy, 2015)"),
        N_("BatchNorm after every conv and hidden Linear, or none; a learning rate of {lr} and "
           "a large one of {large_lr}"),
        N_("LeNet-5 (ReLU, max-pool) on mnist-mini, SGD with momentum 0.9 at a constant rate, "
           "batch 128, 2 epochs, seed 0: the same conv and Linear weights at the start and the "
           "same batches in the same order"),
        N_("with BatchNorm the test accuracy after the first epoch at lr {lr} is at least 1 "
           "point higher, and at lr {large_lr} only the BatchNorm network trains (test "
           "accuracy above 50%)"),
        (_bn(False, BN_LR), _bn(True, BN_LR), _bn(False, BN_LARGE_LR), _bn(True, BN_LARGE_LR)),
    ),
    Experiment(
        "activation", N_("Sigmoid + average pooling against ReLU + max pooling"),
        N_("LeNet-5 as published (and as d2l writes it) uses sigmoid and average pooling; with "
           "ReLU and max pooling it trains where the sigmoid network stalls."),
        N_("LeNet lecture; d2l.ai §7.6"),
        N_("sigmoid activations with average pooling (d2l's LeNet) or ReLU with max pooling"),
        N_("the same layer sizes and initial weights, SGD with momentum 0.9 at lr 0.1, batch "
           "128, 3 epochs on mnist-mini, the same batches in the same order"),
        N_("after the last epoch the ReLU network's test accuracy is at least 10 points higher"),
        tuple(Arm(label, replace(_COMMON, model=model, lr=0.1, epochs=3)) for label, model in (
            (N_("sigmoid + average pool (d2l)"), "lenet5-classic"),
            (N_("ReLU + max pool"), "lenet5"))),
    ),
    Experiment(
        "augmentation", N_("Augmentation when data is scarce"),
        N_("When training data is scarce the network memorises it; data augmentation fights "
           "this overfitting."),
        N_("Data augmentation lecture"),
        N_("random rotation ±15°, zoom 0.9–1.1 and shifts of up to 3 pixels on every training "
           "image, or none"),
        N_("LeNet-5 on the same 1,000 mnist-mini training images (2,000 test images), AdamW "
           "with a one-cycle schedule peaking at lr 0.003, batch 64, 15 epochs, the same initial "
           "weights and batch order; the "
           "training images are scored without augmentation, as the test images are"),
        N_("with augmentation the gap between training and test accuracy is smaller and the "
           "test accuracy is not lower"),
        (Arm(N_("no augmentation"), _SCARCE),
         Arm(N_("augmentation"), replace(_SCARCE, augment=_AUGMENT))),
    ),
    Experiment(
        "depth", N_("Deep plain networks against residual ones"),
        N_("“Stack more layers?” In the CIFAR-10 experiments the deeper plain network trains "
           "worse, and residual connections fix it."),
        N_("ResNet lecture (He et al., 2015, section 4.2)"),
        N_("26 layers (25 3×3 convs and a Linear, BatchNorm after each conv) with or without the "
           "residual connections, which add no weights"),
        N_("every weight at the start (the two networks have identical parameters), SGD with "
           "momentum 0.9 at lr 0.05, batch 128, 3 epochs on the same 4,000 mnist-mini images in "
           "the same order"),
        N_("the plain network's training loss after the last epoch is at least 10% higher than "
           "the residual one's"),
        tuple(Arm(label, replace(_DEEP, model=model)) for label, model in (
            (N_("plain, 26 layers"), "plain26"), (N_("residual, 26 layers"), "residual26"))),
    ),
    Experiment(
        "kernels", N_("Three 3×3 convolutions against one 7×7"),
        N_("Three stacked 3×3 convolutions see as much as one 7×7 convolution, with 27C² weights "
           "instead of 49C², and two more non-linearities."),
        N_("VGG lecture (Simonyan & Zisserman, 2014)"),
        N_("one 7×7 conv, or three 3×3 convs in a row, C channels in and out, no bias"),
        N_("C, the input size, and padding that keeps the size"),
        N_("the stack has fewer weights and fewer multiply-adds and its measured receptive field "
           "is the same 7×7"),
    ),
)}


def text(field: str) -> str:
    """One of an experiment's sentences in the session's language, its numbers filled in."""
    return _(field).format(lr=f"{BN_LR:g}", large_lr=f"{BN_LARGE_LR:g}")


_BN_LABEL = re.compile(r"(with|without) BatchNorm, lr (\S+)")


def arm_title(label: str) -> str:
    """An arm's label in the session's language (run folders keep the English label)."""
    if match := _BN_LABEL.fullmatch(label):
        template = (_("with BatchNorm, lr {lr}") if match[1] == "with"
                    else _("without BatchNorm, lr {lr}"))
        return template.format(lr=match[2])
    return _(label)


def get(key: str) -> Experiment:
    """The experiment `key`; KeyError names the known ones."""
    try:
        return EXPERIMENTS[key]
    except KeyError:
        raise KeyError(f"unknown experiment {key!r}; known: {', '.join(EXPERIMENTS)}") from None
