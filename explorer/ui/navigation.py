"""The app's table of contents: every lesson page, in course order.

`explorer/app.py` builds Streamlit's navigation from `available_pages()`, and the home page
draws one card per entry, so a new page appears everywhere by adding its script under
`pages/` and one line here.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from explorer import REPO_ROOT
from explorer.i18n import N_


@dataclass(frozen=True)
class PageSpec:
    """One page of the app."""

    script: str  # path relative to the repository root
    title: str
    icon: str  # a Material Symbols name, shown by Streamlit
    section: str
    summary: str
    translated: bool = True  # every sentence of the page goes through the catalog

    @property
    def path(self) -> Path:
        return REPO_ROOT / self.script

    @property
    def url_path(self) -> str:
        return Path(self.script).stem.replace("_", "-")


HOME = PageSpec(
    "pages/home.py", N_("Home"), ":material/home:", "",
    N_("What CNN Explorer teaches and how to use it."),
)

LESSONS: tuple[PageSpec, ...] = (
    PageSpec(
        "pages/convolution.py", N_("Convolution"), ":material/blur_on:", N_("Convolution"),
        N_("Sharpen, blur and edge-detect a photo; step the moving window and check every "
           "product."),
    ),
    PageSpec(
        "pages/conv_arithmetic.py", N_("Conv arithmetic"), ":material/grid_on:",
        N_("Convolution"),
        N_("Stride, padding and dilation against the output-size formula, checked by PyTorch."),
    ),
    PageSpec(
        "pages/sampling.py", N_("Pooling & upsampling"), ":material/photo_size_select_small:",
        N_("Convolution"),
        N_("Max and average pooling, strided convs, interpolation and ReLU on a real image."),
    ),
    PageSpec(
        "pages/batchnorm.py", N_("BatchNorm lab"), ":material/tune:", N_("Layers"),
        N_("Step BatchNorm in train and eval mode and watch its running statistics move."),
    ),
    PageSpec(
        "pages/zoo.py", N_("Model zoo"), ":material/account_tree:", N_("Networks"),
        N_("LeNet-5 to DenseNet: layer tables, shapes, parameters, FLOPs and nn.Module."),
    ),
    PageSpec(
        "pages/feature_maps.py", N_("Feature maps"), ":material/layers:", N_("Networks"),
        N_("What every layer of a classic CNN makes of your own image, with Grad-CAM."),
    ),
    PageSpec(
        "pages/channel.py", N_("What a channel looks for"), ":material/center_focus_strong:",
        N_("Networks"),
        N_("One channel of any network: the image that excites it, the test images that do, "
           "and its map on your photo."),
    ),
    PageSpec(
        "pages/training.py", N_("Training"), ":material/monitoring:", N_("Networks"),
        N_("Train a classic CNN on the GPU or CPU and watch loss and accuracy live."),
    ),
    PageSpec(
        "pages/own_classes.py", N_("Your own classes"), ":material/photo_camera:",
        N_("Networks"),
        N_("Collect your own images from the webcam or your files, train a CNN on them and "
           "watch it recognise a new shot."),
    ),
    PageSpec(
        "pages/experiments.py", N_("Experiments"), ":material/science:", N_("Networks"),
        N_("The course's claims as paired runs: BatchNorm, ReLU, augmentation, depth, "
           "3×3 kernels."),
    ),
)


#: Pages the navigation lists for the signed-in teacher only (each checks again itself).
TEACHER_PAGES: tuple[PageSpec, ...] = (
    PageSpec(
        "pages/room.py", N_("The class"), ":material/groups:", N_("Teacher"),
        N_("Who is here and on which page, the class's runs, and the answers to your "
           "questions."),
    ),
)


def available_pages() -> list[PageSpec]:
    """Lesson pages in course order (home excluded)."""
    return list(LESSONS)


def sections() -> dict[str, list[PageSpec]]:
    """Available lesson pages grouped by section, sections in course order."""
    grouped: dict[str, list[PageSpec]] = {}
    for page in available_pages():
        grouped.setdefault(page.section, []).append(page)
    return grouped


def by_url_path(url_path: str) -> PageSpec | None:
    """The page served at `url_path` ("" is Home)."""
    return next((p for p in (HOME, *LESSONS, *TEACHER_PAGES)
                 if (p.url_path if p is not HOME else "") == url_path), None)
