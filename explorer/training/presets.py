"""Ready-made settings a teacher can start from the Training page.

`AIRBENCH`: the speed demo. Keller Jordan's airbench94 (https://github.com/KellerJordan/
airbench) trains CIFAR-10 to 94% in about 4 s on an A100; its network is the zoo's
`airbench`, and these are its settings as far as the engine follows them. airbench sums its
loss over a batch of 1024 and passes SGD lr = 11.5 / 7.67 / 1024 and weight decay
0.0153 · 1024 / 7.67 / 1024 (7.67 = 1 + 1 / (1 − momentum)); on the engine's mean loss the
same steps are lr ≈ 1.5 and weight decay ≈ 2e-6. Its warm-up to 23% of the steps and
linear decay is near the engine's one-cycle (warm-up 25%, cosine decay). Flips and 2-pixel
shifts are its augmentation (zero-filled here, reflected there); its biases learn at 64× the
rate (`bias_lr_scale`), its test images are scored with their mirror images (`test_flips`),
and its first layer whitens the data (`Airbench.init_from_data`). Not here: airbench's
lookahead EMA of the weights and the translated test-time views, so expect the time, and an
accuracy near, not necessarily at, 94%.

Offer a preset only where its dataset is on the machine: `available()`.
"""

from __future__ import annotations

from dataclasses import dataclass

from explorer.i18n import N_
from explorer.models import zoo
from explorer.training import datasets
from explorer.training.augment import AugmentConfig
from explorer.training.config import TrainConfig

AIRBENCH = TrainConfig(
    model="airbench", dataset="cifar10", epochs=10, batch_size=1024, optimizer="sgd", lr=1.5,
    momentum=0.85, nesterov=True, weight_decay=2e-6, schedule="onecycle", label_smoothing=0.2,
    augment=AugmentConfig(hflip=True, crop_padding=2), amp=True, compile="auto",
    bias_lr_scale=64.0, test_flips=True)


@dataclass(frozen=True)
class Preset:
    """A named TrainConfig for the Training page's preset choice."""

    key: str
    title: str  # English; the page translates it like the zoo's titles
    description: str
    config: TrainConfig


PRESETS: dict[str, Preset] = {
    "airbench": Preset("airbench", N_("Speed demo: airbench94 on CIFAR-10"),
                       N_("Keller Jordan's record-setting recipe (94% in seconds on one GPU; "
                          "github.com/KellerJordan/airbench): 10 epochs of 1024-image "
                          "batches, SGD with Nesterov momentum, one-cycle, flips and 2-pixel "
                          "shifts."), AIRBENCH),
}


def available() -> list[Preset]:
    """The presets whose dataset needs no download here (the page offers only these)."""
    return [p for p in PRESETS.values() if datasets.is_available(p.config.dataset)]


def unlisted_models() -> list[str]:
    """Networks the zoo does not list that an available preset trains (the form offers them)."""
    listed = set(zoo.list_models())
    return [p.config.model for p in available() if p.config.model not in listed]
