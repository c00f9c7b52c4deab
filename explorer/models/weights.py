"""Pretrained ImageNet weights on request: which file a network needs, and a checked download.

torchvision publishes each set of weights as one file whose name ends in the first hex digits
of its SHA-256 (`resnet18-f37072fd.pth`); `torch.hub.load_state_dict_from_url(...,
check_hash=True)` refuses a file whose digest does not start with them. This module follows
the same convention with its own download, so that it can report progress, honour a school's
mirror (`$EXPLORER_WEIGHTS_URL` replaces the base URL) and explain any failure in one
sentence. The file is written to a temporary name beside its destination and renamed into the
torch hub cache only once its hash matches, so no partial or wrong file is ever left there.
Reading it is `torch.load(..., weights_only=True)` (see `zoo.build_pretrained`): a weights
file can never run code.
"""

from __future__ import annotations

import contextlib
import hashlib
import http.client
import os
import secrets
import threading
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
import torchvision
from torch.hub import HASH_REGEX

from explorer.i18n import _

BASE_URL_ENV = "EXPLORER_WEIGHTS_URL"
CHUNK_BYTES = 1 << 18
TIMEOUT_S = 30.0
#: `progress(bytes_done, bytes_total)`; the total is None when the server does not say.
Progress = Callable[[int, int | None], None]


class DownloadError(RuntimeError):
    """A download that did not leave a good file; `str(err)` is one sentence for the user."""


@dataclass(frozen=True)
class WeightsFile:
    """One published weights file: torchvision's weights enum entry and where its file lives."""

    enum_name: str  # e.g. "ResNet18_Weights.IMAGENET1K_V1"
    url: str  # where torchvision publishes it
    size_mb: float  # MiB, from torchvision's metadata (`_file_size`)

    @classmethod
    def from_torchvision(cls, enum_name: str) -> WeightsFile:
        weights = torchvision.models.get_weight(enum_name)
        return cls(enum_name, weights.url, float(weights.meta.get("_file_size", 0.0)))

    @property
    def filename(self) -> str:
        return self.url.rsplit("/", 1)[-1]

    @property
    def hash_prefix(self) -> str:
        """The leading hex digits of the file's SHA-256, as its name gives them."""
        match = HASH_REGEX.search(self.filename)
        return match.group(1) if match else ""

    @property
    def path(self) -> Path:
        """Where the file goes: `<torch hub dir>/checkpoints/<filename>`."""
        return Path(torch.hub.get_dir()) / "checkpoints" / self.filename

    @property
    def source_url(self) -> str:
        """The URL to fetch: `$EXPLORER_WEIGHTS_URL/<filename>` when set, else torchvision's."""
        base = os.environ.get(BASE_URL_ENV, "").strip()
        return f"{base.rstrip('/')}/{self.filename}" if base else self.url

    def is_cached(self) -> bool:
        return self.path.is_file()

    def button_label(self) -> str:
        return _("Download ImageNet weights ({mb:.0f} MB)").format(mb=self.size_mb)

    def by_hand(self) -> str:
        """The sentence that says how to put the file in place without the app."""
        return _("download {url} and save it as {path}").format(url=self.source_url,
                                                                  path=self.path)


#: Entries by weights enum name, filled on first use; tests may put their own entry here.
REGISTRY: dict[str, WeightsFile] = {}


def entry(enum_name: str) -> WeightsFile:
    """The file of torchvision weights `enum_name` (e.g. "ResNet18_Weights.IMAGENET1K_V1")."""
    if enum_name not in REGISTRY:
        REGISTRY[enum_name] = WeightsFile.from_torchvision(enum_name)
    return REGISTRY[enum_name]


_LOCKS: dict[str, threading.Lock] = {}
_LOCKS_GUARD = threading.Lock()


def _lock(filename: str) -> threading.Lock:
    with _LOCKS_GUARD:
        return _LOCKS.setdefault(filename, threading.Lock())


def _reason(err: BaseException) -> str:
    if isinstance(err, urllib.error.HTTPError):
        return _("the server answered {code} {why}").format(code=err.code, why=err.reason)
    if isinstance(err, urllib.error.URLError):
        return _("the server could not be reached ({why})").format(why=err.reason)
    if isinstance(err, TimeoutError):
        return _("the server stopped answering")
    return str(err) or type(err).__name__


def _fetch(url: str, tmp: Path, progress: Progress | None, timeout: float) -> str:
    """Stream `url` into `tmp`; return the hex SHA-256 of what arrived. Raises on short reads."""
    digest = hashlib.sha256()
    with urllib.request.urlopen(url, timeout=timeout) as response, open(tmp, "wb") as out:
        length = response.headers.get("Content-Length")
        total = int(length) if length and length.isdigit() else None
        done = 0
        if progress:
            progress(0, total)
        while chunk := response.read(CHUNK_BYTES):
            out.write(chunk)
            digest.update(chunk)
            done += len(chunk)
            if progress:
                progress(done, total)
    if total is not None and done != total:
        raise DownloadError(_("the connection ended after {done} of {total} bytes").format(
            done=f"{done:,}", total=f"{total:,}"))
    return digest.hexdigest()


def download(file: WeightsFile, progress: Progress | None = None,
             timeout: float = TIMEOUT_S) -> Path:
    """Fetch `file` into the torch hub cache, checked by its hash; return its path.

    Nothing is done when the file is already there. The bytes go to a temporary file beside
    the destination and are renamed into place only when their SHA-256 starts with the
    file's hash prefix; on any failure the temporary file is removed and `DownloadError`
    says what failed, the URL, and where the file can be copied by hand.
    """
    url, path = file.source_url, file.path
    with _lock(file.filename):
        if path.is_file():
            return path
        tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.part")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            sha256 = _fetch(url, tmp, progress, timeout)
            if not sha256.startswith(file.hash_prefix):
                raise DownloadError(
                    _("its SHA-256 begins {digest}, not {prefix} as its name requires, so it "
                      "was refused and removed").format(
                        digest=sha256[:len(file.hash_prefix) or 8], prefix=file.hash_prefix))
            os.replace(tmp, path)
        except (OSError, ValueError, http.client.HTTPException, DownloadError) as err:
            # OSError covers URLError, HTTPError, timeouts, a full disk and an unwritable cache
            raise DownloadError(
                _("Downloading {file} from {url} failed: {why}. To put it in place by hand, "
                  "copy the file to {path}.").format(file=file.filename, url=url,
                                                     why=_reason(err), path=path)) from None
        finally:
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()
    return path
