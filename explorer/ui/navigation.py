"""The app's table of contents: every lesson page, in course order.

`explorer/app.py` builds Streamlit's navigation from `available_pages()`, and the home page
draws one card per entry, so a new page appears everywhere by adding its script under
`pages/` and one line here.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from explorer import REPO_ROOT


@dataclass(frozen=True)
class PageSpec:
    """One page of the app."""

    script: str  # path relative to the repository root
    title: str
    icon: str  # a Material Symbols name, shown by Streamlit
    section: str
    summary: str

    @property
    def path(self) -> Path:
        return REPO_ROOT / self.script

    @property
    def url_path(self) -> str:
        return Path(self.script).stem.replace("_", "-")


HOME = PageSpec(
    "pages/home.py", "Home", ":material/home:", "", "What CNN Explorer teaches and how to use it."
)

LESSONS: tuple[PageSpec, ...] = (
    PageSpec(
        "pages/convolution.py", "Convolution", ":material/blur_on:", "Convolution",
        "Sharpen, blur and edge-detect a photo; step the moving window and check every product.",
    ),
    PageSpec(
        "pages/conv_arithmetic.py", "Conv arithmetic", ":material/grid_on:", "Convolution",
        "Stride, padding and dilation against the output-size formula, checked by PyTorch.",
    ),
    PageSpec(
        "pages/sampling.py", "Pooling & upsampling", ":material/photo_size_select_small:",
        "Convolution",
        "Max and average pooling, strided convs, interpolation and ReLU on a real image.",
    ),
    PageSpec(
        "pages/batchnorm.py", "BatchNorm lab", ":material/tune:", "Layers",
        "Step BatchNorm in train and eval mode and watch its running statistics move.",
    ),
    PageSpec(
        "pages/zoo.py", "Model zoo", ":material/account_tree:", "Networks",
        "LeNet-5 to DenseNet: layer tables, shapes, parameters, FLOPs and nn.Module.",
    ),
    PageSpec(
        "pages/feature_maps.py", "Feature maps", ":material/layers:", "Networks",
        "What every layer of a classic CNN makes of your own image, with Grad-CAM.",
    ),
    PageSpec(
        "pages/training.py", "Training", ":material/monitoring:", "Networks",
        "Train a classic CNN on the GPU or CPU and watch loss and accuracy live.",
    ),
    PageSpec(
        "pages/experiments.py", "Experiments", ":material/science:", "Networks",
        "The course's claims as paired runs: BatchNorm, ReLU, augmentation, depth, 3×3 kernels.",
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
