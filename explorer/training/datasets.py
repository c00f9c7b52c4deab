"""Datasets for the training lessons, each decoded once into one uint8 tensor plus labels.

The registry holds the offline default `mnist-mini` (shipped in `assets/`), the torchvision
datasets MNIST, Fashion-MNIST, KMNIST and CIFAR-10 (downloaded only on demand into the data
folder, `$EXPLORER_DATA_DIR` or `<repo>/data`) and image folders in torchvision's ImageFolder
layout (`folder:<name>`), which exist only where the operator sets `$EXPLORER_DATA_ROOT`: each
sub-folder of that root is one choice, listed by name, and nothing outside it is opened,
listed or named. When the files are missing, loading raises `DatasetUnavailable` with one
sentence.
"""

from __future__ import annotations

import contextlib
import functools
import os
import socket
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError

from explorer import REPO_ROOT
from explorer.i18n import N_, _

MNIST_MINI_DIR = REPO_ROOT / "assets" / "datasets" / "mnist-mini"
FOLDER_PREFIX = "folder:"
OWN_PREFIX = "own:"  # a student's own classes (explorer/training/own_classes.py)
DOWNLOAD_TIMEOUT_S = 15.0
MAX_FOLDER_IMAGES = 20_000
IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".webp", ".gif", ".tif", ".tiff")

MNIST_MINI_NOTE = N_(
    "Real MNIST digits, small enough to live beside the project and to train on in CI; the "
    "app's offline default dataset. It is NOT the full MNIST. Never report an accuracy measured "
    "on it as an MNIST accuracy; call it \"mnist-mini\". The MNIST database of handwritten "
    "digits (Yann LeCun, Corinna Cortes, Christopher J.C. Burges) is distributed under "
    "CC BY-SA 3.0; this copy carries that attribution."
)


class DatasetUnavailable(ValueError):
    """A dataset that cannot be loaded; `str(err)` is one sentence for the user."""


@dataclass(frozen=True)
class DatasetSpec:
    """One entry of the registry."""

    key: str
    title: str
    source: str  # "bundled", "torchvision" or "folder"
    in_channels: int
    height: int
    width: int
    class_names: tuple[str, ...]
    note: str
    folder_name: str = ""  # where torchvision keeps the files under the data folder

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    @property
    def short_title(self) -> str:
        """The title without its parenthesis: "MNIST-mini (…)" is "MNIST-mini"."""
        return self.title.split(" (")[0]


_DIGITS = tuple(str(i) for i in range(10))
REGISTRY: dict[str, DatasetSpec] = {
    spec.key: spec
    for spec in (
        DatasetSpec("mnist-mini", N_("mnist-mini (offline, 8,000 + 2,000 digits)"), "bundled",
                    1, 28, 28, _DIGITS, MNIST_MINI_NOTE, "MNIST/raw"),
        DatasetSpec("mnist", N_("MNIST (download)"), "torchvision", 1, 28, 28, _DIGITS,
                    N_("60,000 + 10,000 handwritten digits (LeCun, Cortes, Burges), CC BY-SA "
                       "3.0."),
                    "MNIST/raw"),
        DatasetSpec("fashion-mnist", N_("Fashion-MNIST (download)"), "torchvision", 1, 28, 28,
                    ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt",
                     "Sneaker", "Bag", "Ankle boot"),
                    N_("60,000 + 10,000 Zalando clothing images (Xiao, Rasul, Vollgraf), MIT."),
                    "FashionMNIST/raw"),
        DatasetSpec("kmnist", N_("KMNIST (download)"), "torchvision", 1, 28, 28,
                    ("お", "き", "す", "つ", "な", "は", "ま", "や", "れ", "を"),
                    N_("60,000 + 10,000 cursive Japanese characters (Clanuwat et al.), CC BY-SA "
                       "4.0."),
                    "KMNIST/raw"),
        DatasetSpec("cifar10", N_("CIFAR-10 (download)"), "torchvision", 3, 32, 32,
                    ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse",
                     "ship", "truck"),
                    N_("50,000 + 10,000 colour photos, 32×32 (Krizhevsky, 2009)."),
                    "cifar-10-batches-py"),
    )
}


@dataclass(frozen=True)
class ArrayDataset:
    """A whole dataset as tensors: images uint8 [N, C, H, W], labels int64 [N]."""

    key: str
    title: str
    train_x: torch.Tensor
    train_y: torch.Tensor
    test_x: torch.Tensor
    test_y: torch.Tensor
    class_names: tuple[str, ...]
    mean: tuple[float, ...]
    std: tuple[float, ...]
    note: str

    @property
    def shape(self) -> tuple[int, int, int]:
        c, h, w = self.train_x.shape[1:]
        return int(c), int(h), int(w)

    @property
    def num_classes(self) -> int:
        return len(self.class_names)


def data_dir() -> Path:
    """Where downloaded datasets live: `$EXPLORER_DATA_DIR`, else `<repo>/data` (git-ignored)."""
    return Path(os.environ.get("EXPLORER_DATA_DIR") or REPO_ROOT / "data")


def data_root() -> Path | None:
    """`$EXPLORER_DATA_ROOT`, the one folder whose sub-folders may be trained on, or None."""
    named = os.environ.get("EXPLORER_DATA_ROOT")
    return Path(named).expanduser().resolve() if named else None


def _inside(path: Path, root: Path) -> bool:
    try:
        return path.resolve().is_relative_to(root)
    except OSError:
        return False


def server_folders() -> list[str]:
    """The image folders the operator offers: the data root's sub-folders, by name, sorted."""
    root = data_root()
    if root is None or not root.is_dir():
        return []
    return sorted(d.name for d in root.iterdir()
                  if not d.name.startswith(".") and d.is_dir() and _inside(d, root))[:500]


def folder_key(name: str) -> str:
    """The dataset key of the data root's sub-folder `name`."""
    return FOLDER_PREFIX + name


def _folder_refused() -> DatasetUnavailable:
    return DatasetUnavailable(_("That image folder is not one of the folders this server "
                                "offers for training."))


def server_folder(key: str) -> Path:
    """The folder of a `folder:<name>` key, inside the data root; DatasetUnavailable otherwise.

    The same sentence whatever is wrong (no root, an absolute path, `..`, a link out, a name
    that does not exist), so that a refusal says nothing about the server's disk.
    """
    name = key[len(FOLDER_PREFIX):]
    root = data_root()
    if root is None or name not in server_folders():
        raise _folder_refused()
    return (root / name).resolve()


def choices() -> list[str]:
    """Registry keys, offline default first."""
    return list(REGISTRY)


def expected_folder(key: str) -> Path:
    """The folder where a download dataset's files are expected."""
    spec = REGISTRY[key]
    return (MNIST_MINI_DIR if spec.source == "bundled" else data_dir()) / spec.folder_name


def shown_folder(key: str) -> str:
    """Where a dataset's files go, as a student may read it: relative to the project, or to
    `$EXPLORER_DATA_DIR`; never the server's absolute path."""
    folder = expected_folder(key)
    with contextlib.suppress(ValueError):
        return str(folder.relative_to(REPO_ROOT))
    return f"$EXPLORER_DATA_DIR/{REGISTRY[key].folder_name}"


def _torchvision_class(key: str):
    from torchvision import datasets as tvd

    return {"mnist-mini": tvd.MNIST, "mnist": tvd.MNIST, "fashion-mnist": tvd.FashionMNIST,
            "kmnist": tvd.KMNIST, "cifar10": tvd.CIFAR10}[key]


def is_available(key: str) -> bool:
    """True when loading `key` needs no download."""
    if key.startswith(FOLDER_PREFIX):
        return key[len(FOLDER_PREFIX):] in server_folders()
    if key.startswith(OWN_PREFIX):
        try:
            return load(key).num_classes >= 2
        except DatasetUnavailable:
            return False
    spec = REGISTRY[key]
    if spec.source == "bundled":
        return True
    cls = _torchvision_class(key)
    probe = cls.__new__(cls)
    probe.root = str(data_dir())
    probe.train = True
    check = getattr(probe, "_check_exists", None) or probe._check_integrity
    try:
        return bool(check())
    except Exception:
        return False


def stats(x: torch.Tensor) -> tuple[tuple[float, ...], tuple[float, ...]]:
    flat = x.transpose(0, 1).reshape(x.shape[1], -1).float() / 255.0
    return tuple(flat.mean(1).tolist()), tuple(flat.std(1).clamp_min(1e-3).tolist())


def _as_nchw(data) -> torch.Tensor:
    x = torch.as_tensor(np.asarray(data))
    if x.ndim == 3:  # MNIST family: [N, H, W]
        return x.unsqueeze(1).contiguous()
    return x.permute(0, 3, 1, 2).contiguous()  # CIFAR: [N, H, W, C]


def _load_torchvision(key: str, download: bool) -> ArrayDataset:
    spec = REGISTRY[key]
    cls = _torchvision_class(key)
    root = MNIST_MINI_DIR if spec.source == "bundled" else data_dir()
    folder = shown_folder(key)
    if not is_available(key):
        if not download:
            raise DatasetUnavailable(
                _("{name} is not on this machine yet: its files are expected in {folder} "
                  "(download it, which needs internet, or copy them there).").format(
                    name=spec.short_title, folder=folder)
            )
        root.mkdir(parents=True, exist_ok=True)
        previous = socket.getdefaulttimeout()
        socket.setdefaulttimeout(DOWNLOAD_TIMEOUT_S)  # never hang on a machine without network
        try:
            cls(str(root), train=True, download=True)
            cls(str(root), train=False, download=True)
        except Exception:
            raise DatasetUnavailable(
                _("Could not download {name} (no network?): put its files in {folder} and try "
                  "again.").format(name=spec.short_title, folder=folder)
            ) from None
        finally:
            socket.setdefaulttimeout(previous)
    try:
        train = cls(str(root), train=True, download=False)
        test = cls(str(root), train=False, download=False)
    except Exception as err:
        raise DatasetUnavailable(
            _("The files of {name} in {folder} could not be read ({error}); delete them and "
              "download again.").format(name=spec.short_title, folder=folder,
                                        error=str(err).replace(str(root), "…"))
        ) from None
    train_x, test_x = _as_nchw(train.data), _as_nchw(test.data)
    mean, std = stats(train_x)
    return ArrayDataset(
        key, spec.title, train_x, torch.as_tensor(train.targets, dtype=torch.int64),
        test_x, torch.as_tensor(test.targets, dtype=torch.int64), spec.class_names, mean, std,
        spec.note,
    )


def _decode_folder(files: list[Path], size: int, mode: str) -> torch.Tensor:
    out = torch.empty(len(files), 1 if mode == "L" else 3, size, size, dtype=torch.uint8)
    for i, path in enumerate(files):
        with Image.open(path) as img:
            img = img.convert(mode).resize((size, size), Image.Resampling.BILINEAR)
        arr = torch.from_numpy(np.asarray(img).copy())
        out[i] = arr.unsqueeze(0) if mode == "L" else arr.permute(2, 0, 1)
    return out


def _class_files(root: Path, within: Path) -> dict[str, list[Path]]:
    """Each class folder's images; links that lead outside `within` are skipped."""
    classes = sorted(d for d in root.iterdir()
                     if d.is_dir() and not d.name.startswith(".") and _inside(d, within))
    return {d.name: sorted(p for p in d.rglob("*") if p.suffix.lower() in IMAGE_EXTENSIONS
                           and p.is_file() and _inside(p, within)) for d in classes}


def _load_folder(key: str, size: int) -> ArrayDataset:
    root = server_folder(key)
    split_dirs = [root / "train", next((root / n for n in ("test", "val") if (root / n).is_dir()),
                                       root / "test")]
    if all(d.is_dir() for d in split_dirs):
        train_files = _class_files(split_dirs[0], root)
        test_files = _class_files(split_dirs[1], root)
    else:
        train_files, test_files = _class_files(root, root), {}
    names = sorted(name for name, files in train_files.items() if files)
    if len(names) < 2:
        raise DatasetUnavailable(
            _("{folder} needs one sub-folder of images per class (ImageFolder layout, at least "
              "two classes), like cats/001.jpg and dogs/001.jpg.").format(folder=root.name)
        )
    total = sum(len(train_files[n]) + len(test_files.get(n, [])) for n in names)
    if total > MAX_FOLDER_IMAGES:
        raise DatasetUnavailable(
            _("{folder} holds {n:,} images; this page decodes at most {limit:,}.").format(
                folder=root.name, n=total, limit=MAX_FOLDER_IMAGES)
        )
    files, labels, test_mask = [], [], []
    for label, name in enumerate(names):
        train_list = train_files[name]
        test_list = test_files.get(name, [])
        if not test_files:  # no split on disk: every fifth image (seeded) goes to test
            order = np.random.default_rng(0).permutation(len(train_list))
            test_list = [train_list[i] for i in order[::5]]
            train_list = [train_list[i] for i in sorted(set(order) - set(order[::5]))]
        files += train_list + test_list
        labels += [label] * (len(train_list) + len(test_list))
        test_mask += [False] * len(train_list) + [True] * len(test_list)
    try:
        first = Image.open(files[0])
        mode = "L" if first.mode in ("L", "1", "I;16", "I") else "RGB"
        x = _decode_folder(files, size, mode)
    except (OSError, UnidentifiedImageError) as err:
        raise DatasetUnavailable(_("An image in {folder} could not be read: {error}.").format(
            folder=root.name, error=str(err).replace(str(root), root.name))) from None
    y = torch.tensor(labels, dtype=torch.int64)
    mask = torch.tensor(test_mask)
    mean, std = stats(x[~mask])
    return ArrayDataset(
        key, f"Image folder {root.name}", x[~mask], y[~mask], x[mask],
        y[mask], tuple(names), mean, std, f"{len(files):,} images from {root.name}, resized to "
        f"{size}×{size}.",
    )


@functools.lru_cache(maxsize=4)
def _load_own(key: str, size: int, stamp: tuple[int, float]) -> ArrayDataset:
    """A student's own dataset, decoded again whenever it changed (`stamp`)."""
    from explorer.training import own_classes

    try:
        title, x, y, names, train, test = own_classes.training_split(key, size)
    except ValueError as err:  # no images, one class only, or gone
        raise DatasetUnavailable(str(err)) from None
    mean, std = stats(x[train])
    return ArrayDataset(
        key, title, x[train], y[train], x[test], y[test], tuple(names), mean, std,
        f"{len(y):,} images of your own in {len(names)} classes, at {size}×{size}; "
        f"{len(test):,} held out for testing, the same share of each class.")


@functools.lru_cache(maxsize=6)
def _load_cached(key: str, folder_size: int, data_dir_: str, root: str) -> ArrayDataset:
    if key.startswith(FOLDER_PREFIX):
        return _load_folder(key, folder_size)
    return _load_torchvision(key, download=False)


def load(key: str, *, download: bool = False, folder_size: int = 32) -> ArrayDataset:
    """Decode dataset `key` once (cached per process) into uint8 tensors.

    `download=True` fetches a missing torchvision dataset into `data_dir()` (with a short
    socket timeout); otherwise a missing one raises `DatasetUnavailable` naming the folder.
    """
    if key.startswith(OWN_PREFIX):
        from explorer.training import own_classes

        try:
            stamp = own_classes.version(key)
        except ValueError:  # (access.AccessDenied: a malformed or vanished key)
            raise DatasetUnavailable(_("There is no such dataset of yours.")) from None
        return _load_own(key, folder_size, stamp)
    if not key.startswith(FOLDER_PREFIX) and key not in REGISTRY:
        raise DatasetUnavailable(f"Unknown dataset {key!r}: choose one of {', '.join(REGISTRY)}.")
    if download and not key.startswith(FOLDER_PREFIX) and not is_available(key):
        _load_torchvision(key, download=True)  # fetch the files; the cached load reads them
    if key.startswith(FOLDER_PREFIX):
        server_folder(key)  # refused before the cache: a folder removed since is not served
    return _load_cached(key, folder_size, str(data_dir()), str(data_root()))
