"""The course's chapters as a path through the app: where to go, what to do, how long.

The Home page draws this list; each stop names a page script and, for a section inside a page,
the query parameters that open it (`?tab=module` on Model zoo opens the nn.Module tab,
`?open=augmentation` on Training opens the augmentation preview). `PATHS` offers it as a
45-minute, a 90-minute and the full lesson: which stops each keeps, and for how long.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from explorer.i18n import N_


@dataclass(frozen=True)
class Stop:
    """One chapter of the course and the place in the app that teaches it."""

    chapter: str  # the course's chapter, translated where shown
    script: str  # page script, relative to the repository root
    task: str  # what the student does there
    minutes: int  # a suggested length for this stop in a 90-minute-style lesson plan
    query: dict[str, str] = field(default_factory=dict)  # opens a section of the page


ROADMAP: tuple[Stop, ...] = (
    Stop(N_("Convolution"), "pages/convolution.py",
         N_("Try the preset kernels on a photo, then open the pixel inspector and check one "
            "output pixel's products (one per kernel weight) and their sum by hand; finish "
            "with the moving window."),
         15),
    Stop(N_("Convolutional layers"), "pages/conv_arithmetic.py",
         N_("Predict the output size for a stride, padding and dilation, then let "
            "`nn.Conv2d` check it against the floored formula; try the slide's error case."),
         15),
    Stop(N_("Pooling and upsampling"), "pages/sampling.py",
         N_("Compare max and average pooling on the same numbers, a strided convolution "
            "against pooling, and the modes of `F.interpolate`."),
         10),
    Stop(N_("Batch normalisation"), "pages/batchnorm.py",
         N_("Step a BatchNorm layer in `train()` mode, watch the running mean and variance "
            "move, then switch to `eval()` and see what changes."),
         15),
    Stop(N_("Classic networks"), "pages/zoo.py",
         N_("Walk LeNet-5, AlexNet and VGG layer by layer: shapes, parameters and FLOPs; "
            "then look at what each layer sees on the Feature maps page."),
         20),
    Stop(N_("ResNet"), "pages/zoo.py",
         N_("Pick ResNet-18 and follow a residual block: where the shortcut joins, and why "
            "the 1×1 convolution appears when the shape changes."),
         10, {"zoo_model": "resnet18", "zoo_variant": "imagenet", "tab": "diagram"}),
    Stop(N_("nn.Module"), "pages/zoo.py",
         N_("Open a network's nn.Module tab: its children, `named_parameters()`, "
            "`state_dict()` and `print(model)`, the way the course builds its own models."),
         10, {"tab": "module"}),
    Stop(N_("Data augmentation"), "pages/training.py",
         N_("Switch on flips, rotations and rescaling and look at what the network will "
            "actually see; then train the same network with and without them."),
         15, {"open": "augmentation"}),
)


def total_minutes(stops: tuple[Stop, ...] = ROADMAP) -> int:
    """The whole path's suggested length."""
    return sum(stop.minutes for stop in stops)


@dataclass(frozen=True)
class LessonPath:
    """A lesson of a given length: some of the roadmap's stops, each with its minutes."""

    key: str  # for the address bar
    title: str  # translated where shown
    stops: tuple[tuple[Stop, int], ...]

    @property
    def minutes(self) -> int:
        return sum(minutes for _stop, minutes in self.stops)


def _path(key: str, title: str, minutes: dict[str, int]) -> LessonPath:
    """The roadmap's stops named in `minutes` (by chapter), in the roadmap's order."""
    return LessonPath(key, title, tuple((stop, minutes[stop.chapter]) for stop in ROADMAP
                                        if stop.chapter in minutes))


#: The roadmap at three lengths; a stop left out of a shorter lesson is homework.
PATHS: tuple[LessonPath, ...] = (
    _path("45", N_("45 minutes: convolution to ResNet"),
          {"Convolution": 10, "Convolutional layers": 10, "Pooling and upsampling": 5,
           "Classic networks": 10, "ResNet": 10}),
    _path("90", N_("90 minutes: the whole course, shorter"),
          {"Convolution": 15, "Convolutional layers": 15, "Pooling and upsampling": 10,
           "Batch normalisation": 10, "Classic networks": 15, "ResNet": 10, "nn.Module": 5,
           "Data augmentation": 10}),
    LessonPath("full", N_("The full path"), tuple((stop, stop.minutes) for stop in ROADMAP)),
)


def lesson_path(key: str) -> LessonPath:
    """The path of `key` ("45", "90", "full"); the full path for any other key."""
    return next((p for p in PATHS if p.key == key), PATHS[-1])
