"""A student's own classes: images from the webcam or their files, kept on disk for training.

A dataset lives in `<runs>/.own/<owner tag>/<dataset id>/`:

- `meta.json`: its title and class names;
- `<class index>/<digest>.png`: each image as the app's own loader decoded it (the same caps
  and sentences as every upload), at most STORE_SIDE pixels on a side, stored as PNG under
  the digest of its pixels (the same shot twice is kept once).

The owner tag is the one runs record (`identity.owner_tag`): a dataset is found by who made
it, never by a name a student typed, and only that student or the signed-in teacher may read,
change or delete it; every function that acts checks it (`access.Actor`). A student's images
count against a quota (`EXPLORER_OWN_IMAGES`, default 2,000 images, and `EXPLORER_OWN_MB`,
default 100 MB, per student). Images stay on disk: a session holds a `Ref`, never pixels.

A zip is read in memory, member by member, never extracted by its names: its folders name the
classes, and a member whose path leaves the zip (`../`), is not an image, or would unpack
beyond the caps is refused with one sentence, as is a zip of too many files.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import hmac
import io
import json
import os
import re
import secrets
import shutil
import time
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

import torch
from PIL import Image, ImageDraw

from explorer import images
from explorer.i18n import _
from explorer.training import durable, runs
from explorer.training.access import AccessDenied, Actor

FOLDER = ".own"
PREFIX = "own:"  # a dataset key: own:<owner tag>/<dataset id>
TEST_FRACTION = 0.2
STORE_SIDE = 128  # pixels: the largest side an image is kept at (training sizes are smaller)
MIN_CLASSES, MAX_CLASSES = 2, 10
MIN_PER_CLASS = 10  # fewer images than this in a class: a warning
IMBALANCE = 3.0  # the largest class this many times the smallest: a warning
MAX_ZIP_MEMBERS = 2000
MAX_ZIP_BYTES = 200 * 2**20  # what one zip may unpack to, in all
_ID = re.compile(r"[0-9a-f]{12}")
_TAG = re.compile(r"[0-9A-Za-z_-]{1,64}")
_IMAGE = re.compile(r"[0-9a-f]{16}")


def quota_images() -> int:
    return int(os.environ.get("EXPLORER_OWN_IMAGES", "2000"))


def quota_bytes() -> int:
    return int(float(os.environ.get("EXPLORER_OWN_MB", "100")) * 2**20)


@dataclass(frozen=True)
class Ref:
    """Which dataset: its owner's tag and its id (what a session keeps)."""

    owner: str
    dataset_id: str

    @property
    def key(self) -> str:
        """The dataset key a run's settings name it by."""
        return f"{PREFIX}{self.owner}/{self.dataset_id}"

    @classmethod
    def from_key(cls, key: str) -> Ref:
        owner, _sep, dataset_id = key.removeprefix(PREFIX).partition("/")
        return cls(owner, dataset_id)


@dataclass
class Report:
    """What an addition did: how many images went in, and a sentence for each one that did not."""

    added: int = 0
    refused: list[str] = field(default_factory=list)


class OwnDatasetError(ValueError):
    """One sentence for the student: what could not be done, and why."""


def _root() -> Path:
    return runs.runs_dir() / FOLDER


def _folder(ref: Ref) -> Path:
    if not (_TAG.fullmatch(ref.owner) and _ID.fullmatch(ref.dataset_id)):
        raise _not_found()
    return _root() / ref.owner / ref.dataset_id


def _not_found() -> AccessDenied:
    return AccessDenied(_("There is no such dataset of yours."))


def _may(actor: Actor, ref: Ref) -> None:
    """The owner or the teacher; anyone else learns nothing (not even that it exists)."""
    mine = bool(actor.owner) and hmac.compare_digest(actor.owner.encode(), ref.owner.encode())
    if not (mine or actor.teacher) or not (_folder(ref) / "meta.json").is_file():
        raise _not_found()


@contextlib.contextmanager
def _owner_lock(owner: str) -> Iterator[None]:
    """One change of an owner's datasets at a time, across processes (the quota holds)."""
    folder = _root() / owner
    folder.mkdir(parents=True, exist_ok=True)
    fd = os.open(folder / ".lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def _check_classes(names: Iterable[str]) -> tuple[str, ...]:
    cleaned = tuple(" ".join(str(n).split())[:40] for n in names)
    if not MIN_CLASSES <= len(cleaned) <= MAX_CLASSES:
        raise OwnDatasetError(_("A dataset needs {low} to {high} classes.").format(
            low=MIN_CLASSES, high=MAX_CLASSES))
    if any(not n for n in cleaned) or len({n.casefold() for n in cleaned}) < len(cleaned):
        raise OwnDatasetError(_("Every class needs a name of its own."))
    return cleaned


def create(actor: Actor, title: str, classes: Iterable[str]) -> Ref:
    """A new, empty dataset of `actor`'s with these class names (2 to 10, all different)."""
    if not actor.owner or not _TAG.fullmatch(actor.owner):
        raise OwnDatasetError(_("This browser has no identity to keep a dataset under."))
    names = _check_classes(classes)
    ref = Ref(actor.owner, secrets.token_hex(6))
    folder = _folder(ref)
    with _owner_lock(actor.owner):
        folder.mkdir(parents=True)
        for i in range(len(names)):
            (folder / str(i)).mkdir()
        meta = {"title": " ".join(str(title).split())[:60] or _("My classes"),
                "classes": list(names), "created": time.time()}
        durable.write_bytes(folder / "meta.json", json.dumps(meta).encode())
    return ref


def meta(actor: Actor, ref: Ref) -> dict:
    """The dataset's title and class names."""
    _may(actor, ref)
    return json.loads((_folder(ref) / "meta.json").read_text())


def listing(actor: Actor) -> list[Ref]:
    """`actor`'s datasets, newest first (the teacher: every student's)."""
    owners = ([p.name for p in _root().iterdir() if p.is_dir()] if actor.teacher and
              _root().is_dir() else [actor.owner] if actor.owner else [])
    found = []
    for owner in owners:
        folder = _root() / owner
        if _TAG.fullmatch(owner) and folder.is_dir():
            found += [(p.stat().st_mtime, Ref(owner, p.name)) for p in folder.iterdir()
                      if _ID.fullmatch(p.name) and (p / "meta.json").is_file()]
    return [ref for _mtime, ref in sorted(found, key=lambda item: -item[0])]


def images_of(actor: Actor, ref: Ref) -> list[list[str]]:
    """The image ids of each class, in class order (oldest first)."""
    names = meta(actor, ref)["classes"]
    folder = _folder(ref)
    return [[p.stem for p in sorted((folder / str(i)).glob("*.png"),
                                    key=lambda p: p.stat().st_mtime)]
            for i in range(len(names))]


def image_path(actor: Actor, ref: Ref, class_index: int, image_id: str) -> Path:
    """Where one image is (for a thumbnail), after checking who asks and what they name."""
    _may(actor, ref)
    names = json.loads((_folder(ref) / "meta.json").read_text())["classes"]
    path = _folder(ref) / str(int(class_index)) / f"{image_id}.png"
    if not (0 <= int(class_index) < len(names) and _IMAGE.fullmatch(image_id)
            and path.is_file()):
        raise OwnDatasetError(_("That image is no longer in this class."))
    return path


def contact_sheet(actor: Actor, ref: Ref, class_index: int, most: int = 48, tile: int = 64,
                  columns: int = 8) -> tuple[Image.Image | None, int]:
    """The newest `most` images of one class as one picture, each tile numbered as the class
    counts its images (1 = the oldest), and how many the class holds; (None, 0) when empty.
    One picture, not one element per thumbnail: a session's page keeps a few KB, not MBs."""
    ids = images_of(actor, ref)[int(class_index)]
    shown = list(enumerate(ids, start=1))[-most:]
    if not shown:
        return None, 0
    rows = -(-len(shown) // columns)
    sheet = Image.new("RGB", (min(len(shown), columns) * (tile + 2), rows * (tile + 2)),
                      (255, 255, 255))
    draw = ImageDraw.Draw(sheet)
    folder = _folder(ref) / str(int(class_index))
    for place, (number, image_id) in enumerate(shown):
        x, y = (place % columns) * (tile + 2), (place // columns) * (tile + 2)
        with Image.open(folder / f"{image_id}.png") as img:
            sheet.paste(_square(img.convert("RGB"), tile), (x, y))
        label = str(number)
        box = draw.textbbox((x + 2, y + 2), label)
        draw.rectangle((box[0] - 2, box[1] - 1, box[2] + 2, box[3] + 1), fill=(0, 0, 0))
        draw.text((x + 2, y + 2), label, fill=(255, 255, 255))
    return sheet, len(ids)


def usage(actor: Actor, ref: Ref) -> tuple[int, int]:
    """(images, bytes) the dataset's owner keeps over all their datasets (their quota's use)."""
    _may(actor, ref)
    return _usage(ref.owner)


def _usage(owner: str) -> tuple[int, int]:
    """(images, bytes) an owner keeps over all their datasets."""
    count = size = 0
    for path in (_root() / owner).glob("*/*/*.png"):
        count += 1
        size += path.stat().st_size
    return count, size


def _stored(data: bytes, name: str) -> tuple[str, bytes]:
    """(digest, PNG bytes) of an upload as the loader decodes it, at most STORE_SIDE px."""
    loaded = images.load_image(data, name=name, mode="RGB", max_side=STORE_SIDE)
    out = io.BytesIO()
    loaded.image.save(out, format="PNG")
    return hashlib.sha256(loaded.image.tobytes()).hexdigest()[:16], out.getvalue()


def _add_one(ref: Ref, class_index: int, name: str, data: bytes, report: Report,
             usage: list[int]) -> None:
    try:
        digest, png = _stored(data, name)
    except images.ImageLoadError as err:
        report.refused.append(str(err))
        return
    if usage[0] + 1 > quota_images() or usage[1] + len(png) > quota_bytes():
        raise OwnDatasetError(_("Your quota is full ({n:,} images or {mb:.0f} MB in all): "
                                "remove some images first.").format(
            n=quota_images(), mb=quota_bytes() / 2**20))
    path = _folder(ref) / str(class_index) / f"{digest}.png"
    if not path.exists():
        durable.write_bytes(path, png, sync_folder=False)
        usage[0] += 1
        usage[1] += len(png)
    report.added += 1


def blank_shot(data: bytes) -> bool:
    """Whether a webcam shot is all black (taken before the camera delivered a picture)."""
    try:
        loaded = images.load_image(data, name="shot.jpg", mode="RGB", max_side=64)
    except images.ImageLoadError:
        return False  # the loader's own sentence comes when it is added
    return max(high for _low, high in loaded.image.getextrema()) < 8


def add_files(actor: Actor, ref: Ref, class_index: int,
              files: Iterable[tuple[str, bytes]]) -> Report:
    """Add uploads (or webcam shots) to one class; each bad file gets its own sentence."""
    names = meta(actor, ref)["classes"]
    if not 0 <= int(class_index) < len(names):
        raise OwnDatasetError(_("That class is not in this dataset."))
    report = Report()
    with _owner_lock(ref.owner):
        usage = list(_usage(ref.owner))
        try:
            for name, data in files:
                _add_one(ref, int(class_index), _shown_name(name), data, report, usage)
        except OwnDatasetError as err:
            report.refused.append(str(err))
    return report


def _shown_name(name: str) -> str:
    """A file name as a student may see it: its last part, printable, not too long."""
    base = PurePosixPath(str(name).replace("\\", "/")).name or "file"
    base = "".join(c if c.isprintable() else "?" for c in base)
    return base if len(base) <= 60 else base[:59] + "…"


def _zip_class(member: str, names: list[str], into: int | None) -> int | None:
    """The class a zip member (or a file of an uploaded folder) goes to: the class its folder
    names, else `into` (None: none)."""
    parts = PurePosixPath(member.replace("\\", "/")).parts
    folder = parts[-2].casefold() if len(parts) >= 2 else None
    named = next((i for i, n in enumerate(names) if n.casefold() == folder), None)
    return into if named is None else named


def _checked_into(actor: Actor, ref: Ref, class_index: int | None) -> list[str]:
    """The dataset's class names, once `class_index` (if any) is one of its classes."""
    names = meta(actor, ref)["classes"]
    if class_index is not None and not (isinstance(class_index, int)
                                        and 0 <= class_index < len(names)):
        raise OwnDatasetError(_("That class is not in this dataset."))
    return names


def add_folder(actor: Actor, ref: Ref, files: list[tuple[str, bytes]],
               class_index: int | None = None) -> Report:
    """Add an uploaded folder's files (named by their paths inside it): each into the class
    its folder names, else into `class_index`; at most MAX_ZIP_MEMBERS files at once."""
    if len(files) > MAX_ZIP_MEMBERS:
        raise OwnDatasetError(_("This folder holds {n:,} files; at most {limit:,} are read at "
                                "once.").format(n=len(files), limit=MAX_ZIP_MEMBERS))
    names = _checked_into(actor, ref, class_index)
    report = Report()
    by_class: dict[int, list[tuple[str, bytes]]] = {}
    for name, data in files:
        target = _zip_class(name, names, class_index)
        if target is None:
            report.refused.append(_("“{name}” is not in a folder named after one of your "
                                    "classes: left out.").format(name=_shown_name(name)))
        else:
            by_class.setdefault(target, []).append((name, data))
    for target, chosen in by_class.items():
        added = add_files(actor, ref, target, chosen)
        report.added += added.added
        report.refused += added.refused
    return report


def add_zip(actor: Actor, ref: Ref, data: bytes, class_index: int | None = None) -> Report:
    """Add a zip's images: each into the class its folder names, else into `class_index`."""
    names = _checked_into(actor, ref, class_index)
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        members = [m for m in archive.infolist() if not m.is_dir()]
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError):
        raise OwnDatasetError(_("This is not a zip file the app can read.")) from None
    if len(members) > MAX_ZIP_MEMBERS:
        raise OwnDatasetError(_("This zip holds {n:,} files; at most {limit:,} are read from "
                                "one zip.").format(n=len(members), limit=MAX_ZIP_MEMBERS))
    if sum(m.file_size for m in members) > MAX_ZIP_BYTES:
        raise OwnDatasetError(_("This zip unpacks to more than {mb} MB: split it up.").format(
            mb=MAX_ZIP_BYTES // 2**20))
    report = Report()
    with _owner_lock(ref.owner):
        usage = list(_usage(ref.owner))
        try:
            for member in members:
                _add_member(archive, member, names, class_index, ref, report, usage)
        except OwnDatasetError as err:
            report.refused.append(str(err))
    return report


def _add_member(archive: zipfile.ZipFile, member: zipfile.ZipInfo, names: list[str],
                into: int | None, ref: Ref, report: Report, usage: list[int]) -> None:
    path = member.filename
    shown = _shown_name(path)
    if path.startswith(("/", "\\")) or ".." in PurePosixPath(path.replace("\\", "/")).parts:
        report.refused.append(_("“{name}” points outside the zip: left out.").format(
            name=shown))
        return
    target = _zip_class(path, names, into)
    if target is None:
        report.refused.append(_("“{name}” is not in a folder named after one of your classes: "
                                "left out.").format(name=shown))
        return
    if member.file_size > images.MAX_FILE_BYTES:
        report.refused.append(_("“{name}” is {size:.1f} MB; the limit is {limit} MB.").format(
            name=shown, size=member.file_size / 2**20, limit=images.MAX_FILE_BYTES // 2**20))
        return
    try:
        data = archive.read(member)  # at most file_size bytes: zipfile checks the size & CRC
    except (zipfile.BadZipFile, OSError, ValueError, NotImplementedError, RuntimeError):
        report.refused.append(_("“{name}” could not be decoded: it is damaged.").format(
            name=shown))
        return
    _add_one(ref, target, shown, data, report, usage)


def remove(actor: Actor, ref: Ref, class_index: int, image_id: str) -> None:
    """Take one image out of the dataset."""
    with _owner_lock(ref.owner):
        image_path(actor, ref, class_index, image_id).unlink()


def move(actor: Actor, ref: Ref, class_index: int, image_id: str, to_class: int) -> None:
    """Put one image into another class of the same dataset."""
    names = meta(actor, ref)["classes"]
    if not 0 <= int(to_class) < len(names):
        raise OwnDatasetError(_("That class is not in this dataset."))
    with _owner_lock(ref.owner):
        source = image_path(actor, ref, class_index, image_id)
        os.replace(source, _folder(ref) / str(int(to_class)) / source.name)


def delete(actor: Actor, ref: Ref) -> None:
    """Delete the whole dataset (its runs keep their weights)."""
    _may(actor, ref)
    with _owner_lock(ref.owner):
        shutil.rmtree(_folder(ref))


def warnings(counts: list[int], names: list[str]) -> list[str]:
    """What a teacher would say before training on classes of these sizes."""
    out = []
    if sum(1 for c in counts if c) < MIN_CLASSES:
        out.append(_("Training needs images in at least two classes."))
    small = [n for n, c in zip(names, counts, strict=True) if c < MIN_PER_CLASS]
    if small:
        out.append(_("Fewer than {n} images in {classes}: the network will see too few "
                     "examples to learn them, and the test split will hold only a few.").format(
            n=MIN_PER_CLASS, classes=", ".join(small)))
    filled = [c for c in counts if c]
    if len(filled) >= 2 and max(filled) > IMBALANCE * min(filled):
        out.append(_("The classes are unbalanced ({low} to {high} images): a network can score "
                     "well by guessing the big class; the per-class accuracy tells.").format(
            low=min(filled), high=max(filled)))
    return out


def stratified_split(labels: torch.Tensor, test_fraction: float, seed: int
                     ) -> tuple[torch.Tensor, torch.Tensor]:
    """(train indices, test indices): the same share of every class held out (at least one
    image of each class with two or more), drawn with `seed`."""
    generator = torch.Generator().manual_seed(seed)
    train, test = [], []
    for label in labels.unique().tolist():
        members = (labels == label).nonzero().flatten()
        members = members[torch.randperm(len(members), generator=generator)]
        held = min(len(members) - 1, max(1, round(test_fraction * len(members))))
        test.append(members[:held])
        train.append(members[held:])
    return torch.cat(train).sort().values, torch.cat(test).sort().values


def split_counts(counts: list[int]) -> list[tuple[int, int]]:
    """(train, test) images of each class as a run on classes of these sizes splits them (the
    split `training_split` draws)."""
    labels = torch.repeat_interleave(torch.arange(len(counts)), torch.tensor(counts))
    if not len(labels):
        return [(0, 0)] * len(counts)
    train, test = stratified_split(labels, TEST_FRACTION, seed=0)
    return [(int((labels[train] == k).sum()), int((labels[test] == k).sum()))
            for k in range(len(counts))]


def tensors(actor: Actor, ref: Ref, size: int) -> tuple[torch.Tensor, torch.Tensor, list[str]]:
    """Every image as uint8 [N, 3, size, size] (each centre-cropped square, then resized), its
    labels [N] and the class names."""
    names = meta(actor, ref)["classes"]
    xs, ys = [], []
    for label, ids in enumerate(images_of(actor, ref)):
        for image_id in ids:
            with Image.open(_folder(ref) / str(label) / f"{image_id}.png") as img:
                square = _square(img.convert("RGB"), size)
            xs.append(torch.frombuffer(bytearray(square.tobytes()), dtype=torch.uint8)
                      .view(size, size, 3).permute(2, 0, 1))
            ys.append(label)
    if not xs:
        raise OwnDatasetError(_("This dataset has no images yet."))
    return torch.stack(xs), torch.tensor(ys, dtype=torch.int64), list(names)


def _square(image: Image.Image, size: int) -> Image.Image:
    side = min(image.size)
    left, top = (image.width - side) // 2, (image.height - side) // 2
    return image.crop((left, top, left + side, top + side)).resize(
        (size, size), Image.Resampling.BILINEAR)


def check_use(key: str, owner: str) -> None:
    """Refuse a run of `owner`'s on a dataset that is not theirs (one sentence, as for a
    dataset that does not exist: a student learns nothing of another's)."""
    ref = Ref.from_key(key)
    meta(Actor(owner), ref)


def version(key: str) -> tuple[int, float]:
    """(images, newest change) of a dataset: a cache of its tensors is stale when it moves."""
    folder = _folder(Ref.from_key(key))
    stamps = [p.stat().st_mtime for p in folder.glob("*/*.png")]
    return len(stamps), max(stamps, default=0.0)


def training_split(key: str, size: int
                   ) -> tuple[str, torch.Tensor, torch.Tensor, list[str], torch.Tensor,
                              torch.Tensor]:
    """The dataset as the engine trains on it: (title, uint8 images at size×size, labels,
    class names, train indices, test indices: a stratified fifth held out with seed 0).
    Server-side: whoever submits a run is checked by `check_use` first."""
    ref = Ref.from_key(key)
    owner = Actor(ref.owner)
    title = meta(owner, ref)["title"]
    x, y, names = tensors(owner, ref, size)
    counts = torch.bincount(y, minlength=len(names)).tolist()
    if sum(1 for c in counts if c >= 2) < MIN_CLASSES:
        raise OwnDatasetError(_("Training needs at least two images in each of two classes."))
    train, test = stratified_split(y, TEST_FRACTION, seed=0)
    return title, x, y, names, train, test
