"""Pretrained ImageNet weights on request: which file a network needs, a checked download, and
a check of the cached file before any process uses it.

torchvision publishes each set of weights as one file whose name ends in the first hex digits
of its SHA-256 (`resnet18-f37072fd.pth`); `torch.hub.load_state_dict_from_url(...,
check_hash=True)` refuses a file whose digest does not start with them. This module has its
own download, so that it can report progress, honour a school's mirror
(`$EXPLORER_WEIGHTS_URL` replaces the base URL) and explain any failure in one sentence, and
it checks more than the name's prefix. What a file must match, strongest first:

1. its full SHA-256 in `weights_digests.SHA256`, where the project knows it;
2. else the full SHA-256 recorded beside it in `<file>.sha256` (`sha256sum`'s format), which is
   written the first time a copy of the file passes 3. This is trust on first verified use:
   the first copy is trusted only as far as 8 hex digits go (32 bits, which someone could
   search a matching file for), and every later use and every later download must then be
   that very copy, byte for byte (whoever runs the server starts over by deleting both the
   file and its record);
3. else the prefix in its name.

A download is one per machine: `fcntl.flock` on `<torch hub dir>/explorer-locks/<file>.lock`
makes the Streamlit replicas of `make serve` (and the threads of each) wait for the one that
fetches, then use its file. The bytes go to a temporary name beside the destination and are
renamed into the torch hub cache only once they match, so no partial or wrong file is ever
left there. A cached file is hashed the first time each process asks for it (`is_cached`) and
again whenever its size, mtime or inode changed since; one that fails is refused and never
loaded, and `refusal()` says so in a sentence that names the file but none of the server's
folders (students read it; the server's log has the path); `by_hand()` and a failed
download's sentence likewise say where the file goes without its absolute path. Reading a
file is `torch.load(..., weights_only=True)` (see `zoo.build_pretrained`): a weights file can
never run code.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import http.client
import logging
import os
import re
import secrets
import stat
import threading
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import torch
import torchvision
from torch.hub import HASH_REGEX

from explorer.i18n import N_, _
from explorer.models import weights_digests

BASE_URL_ENV = "EXPLORER_WEIGHTS_URL"
CHUNK_BYTES = 1 << 18
TIMEOUT_S = 30.0
LOCKS_DIR = "explorer-locks"  # beside the hub's checkpoints folder, which holds only weights
RECORD_SUFFIX = ".sha256"
#: `progress(bytes_done, bytes_total)`; the total is None when the server does not say.
Progress = Callable[[int, int | None], None]

log = logging.getLogger(__name__)
_FULL_DIGEST = re.compile(r"[0-9a-f]{64}")


class DownloadError(RuntimeError):
    """A download that did not leave a good file; `str(err)` is one sentence for the user."""


@dataclass(frozen=True)
class WeightsFile:
    """One published weights file: torchvision's weights enum entry and where its file lives."""

    enum_name: str  # e.g. "ResNet18_Weights.IMAGENET1K_V1"
    url: str  # where torchvision publishes it
    size_mb: float  # MiB, from torchvision's metadata (`_file_size`)
    sha256: str = ""  # the full digest from `weights_digests.SHA256`; "" where none is known

    @classmethod
    def from_torchvision(cls, enum_name: str) -> WeightsFile:
        weights = torchvision.models.get_weight(enum_name)
        filename = weights.url.rsplit("/", 1)[-1]
        return cls(enum_name, weights.url, float(weights.meta.get("_file_size", 0.0)),
                   weights_digests.SHA256.get(filename, ""))

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
    def record_path(self) -> Path:
        """Where its full SHA-256 is recorded on first verified use: `<path>.sha256`."""
        return self.path.with_name(self.filename + RECORD_SUFFIX)

    @property
    def source_url(self) -> str:
        """The URL to fetch: `$EXPLORER_WEIGHTS_URL/<filename>` when set, else torchvision's."""
        base = os.environ.get(BASE_URL_ENV, "").strip()
        return f"{base.rstrip('/')}/{self.filename}" if base else self.url

    def full_sha256(self) -> str:
        """The 64 hex digits the file must match: known, else recorded; "" when only the
        name's prefix is known so far."""
        return self.sha256 or _recorded(self)

    def is_cached(self) -> bool:
        """Whether the file is in the cache and passed its check in this process."""
        return _check(self) == ""

    def refusal(self) -> str | None:
        """The sentence saying why the cached file is not used; None when absent or sound."""
        why = _check(self)
        if not why:
            return None
        return _("The weights file {file} on this server {why}, so it was not loaded: press "
                 "the download button to fetch it again, or ask whoever runs the server to "
                 "delete it.").format(file=self.filename, why=_(why))

    def button_label(self) -> str:
        return _("Download ImageNet weights ({mb:.0f} MB)").format(mb=self.size_mb)

    def by_hand(self) -> str:
        """How to put the file in place without the app: its URL, its name and which folder
        of the server's it goes in, said without the server's absolute path (students read
        it; `path` is the full one)."""
        return _("download {url} and save it as {file} in the checkpoints folder of the "
                 "server's torch hub cache ($TORCH_HOME/hub/checkpoints)").format(
                     url=self.source_url, file=self.filename)


#: Entries by weights enum name, filled on first use; tests may put their own entry here.
REGISTRY: dict[str, WeightsFile] = {}


def entry(enum_name: str) -> WeightsFile:
    """The file of torchvision weights `enum_name` (e.g. "ResNet18_Weights.IMAGENET1K_V1")."""
    if enum_name not in REGISTRY:
        REGISTRY[enum_name] = WeightsFile.from_torchvision(enum_name)
    return REGISTRY[enum_name]


_LOCKS: dict[tuple[str, str], threading.Lock] = {}
_LOCKS_GUARD = threading.Lock()


def _lock(kind: str, filename: str) -> threading.Lock:
    with _LOCKS_GUARD:
        return _LOCKS.setdefault((kind, filename), threading.Lock())


@contextlib.contextmanager
def _machine_lock(file: WeightsFile) -> Iterator[None]:
    """Hold `<hub>/explorer-locks/<file>.lock` exclusively: one download per machine.

    The lock file stays: removing it would let a process that opened it before the removal
    and one that creates it afresh both hold "the" lock. The kernel drops the lock when its
    holder dies, so a killed download never blocks the next one.
    """
    lock_path = Path(torch.hub.get_dir()) / LOCKS_DIR / f"{file.filename}.lock"
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with open(lock_path, "a+b") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


# --- what a file must match --------------------------------------------------------------------

def _recorded(file: WeightsFile) -> str:
    """The full SHA-256 recorded beside the file; "" when none is (a record that is not 64 hex
    digits starting with the name's prefix counts as none and is rewritten on the next
    verified use)."""
    try:
        words = file.record_path.read_text(encoding="ascii").split()
    except (OSError, UnicodeDecodeError):
        return ""
    digest = words[0].lower() if words else ""
    return digest if _FULL_DIGEST.fullmatch(digest) and digest.startswith(
        file.hash_prefix) else ""


def _expected(file: WeightsFile) -> str:
    """What the file's SHA-256 must begin with: all 64 digits where known, else the prefix."""
    return file.full_sha256() or file.hash_prefix


def _record(file: WeightsFile, sha256: str) -> None:
    """Write `<file>.sha256` (atomically) after its first verification by the name's prefix."""
    path = file.record_path
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.part")
    try:
        tmp.write_text(f"{sha256}  {file.filename}\n", encoding="ascii")
        os.replace(tmp, path)
    except OSError as err:  # a read-only cache: the file was still checked, by its prefix
        log.warning("could not record the SHA-256 of %s in %s: %s", file.filename, path, err)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


def _sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


# --- the cached file ------------------------------------------------------------------------

#: Why a cached file is refused; translated when `refusal()` says it.
_MISMATCH = N_("does not match its SHA-256 (it is damaged or was replaced)")
_UNREADABLE = N_("could not be read")
#: path -> (what `os.stat` said when it was checked, "" or why it was refused)
_CHECKED: dict[Path, tuple[tuple[int, int, int, int], str]] = {}


def _stat_key(st: os.stat_result) -> tuple[int, int, int, int]:
    return st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns


def _check(file: WeightsFile) -> str | None:
    """None: no file in the cache; "": it passed its check; else why it is refused.

    The file is hashed once per process, and again when `os.stat` says it changed.
    """
    path = file.path
    try:
        st = path.stat()
    except FileNotFoundError:
        return None
    except OSError:
        return _UNREADABLE
    if not stat.S_ISREG(st.st_mode):
        return None
    key = _stat_key(st)
    with _lock("check", file.filename):
        known = _CHECKED.get(path)
        if known is not None and known[0] == key:
            return known[1]
        expected = _expected(file)
        try:
            sha256 = _sha256_of(path)
        except OSError as err:
            why, detail = _UNREADABLE, str(err)
        else:
            why, detail = ("", "") if sha256.startswith(expected) else (
                _MISMATCH, f"SHA-256 {sha256}, expected {expected}")
            if not why and len(expected) < 64:
                _record(file, sha256)
        _CHECKED[path] = (key, why)
    if why:
        log.warning("refused the weights file %s: %s", path, detail)
    return why


# --- the download ------------------------------------------------------------------------------

def _reason(err: BaseException) -> str:
    if isinstance(err, urllib.error.HTTPError):
        return _("the server answered {code} {why}").format(code=err.code, why=err.reason)
    if isinstance(err, urllib.error.URLError):
        return _("the server could not be reached ({why})").format(why=err.reason)
    if isinstance(err, TimeoutError):
        return _("the server stopped answering")
    if isinstance(err, OSError) and err.filename is not None:
        return err.strerror or type(err).__name__  # its str() would show a path on the server
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


def _mismatch(sha256: str, expected: str) -> str:
    if len(expected) == 64:
        return _("its SHA-256 is {digest}, not {expected} as recorded for this file, so it "
                 "was refused and removed").format(digest=sha256, expected=expected)
    return _("its SHA-256 begins {digest}, not {prefix} as its name requires, so it was "
             "refused and removed").format(digest=sha256[:len(expected) or 8], prefix=expected)


def _fetch_into_place(file: WeightsFile, progress: Progress | None, timeout: float) -> None:
    """Fetch, check and rename into the cache; the caller holds the file's locks."""
    path = file.path
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.part")
    try:
        sha256 = _fetch(file.source_url, tmp, progress, timeout)
        expected = _expected(file)
        if not sha256.startswith(expected):
            raise DownloadError(_mismatch(sha256, expected))
        if len(expected) < 64:
            _record(file, sha256)  # before the file appears, so it is never there unrecorded
        os.replace(tmp, path)
        _CHECKED[path] = (_stat_key(path.stat()), "")  # just hashed: no need to read it again
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


def download(file: WeightsFile, progress: Progress | None = None,
             timeout: float = TIMEOUT_S) -> Path:
    """Fetch `file` into the torch hub cache, checked by its SHA-256; return its path.

    Nothing is fetched when a sound copy is already there, or when another process of this
    machine fetched one while this one waited for it. A copy that fails its check is fetched
    again. The bytes must match all 64 hex digits of the file's SHA-256 where known (from
    `weights_digests` or the record of its first verified use), else the prefix in its name,
    after which their full digest is recorded. On any failure the temporary file is removed
    and `DownloadError` says what failed and the URL, naming no folder of the server's.
    """
    path = file.path
    try:
        with _lock("download", file.filename), _machine_lock(file):
            if _check(file) != "":
                path.parent.mkdir(parents=True, exist_ok=True)
                _fetch_into_place(file, progress, timeout)
    except (OSError, ValueError, http.client.HTTPException, DownloadError) as err:
        # OSError covers URLError, HTTPError, timeouts, a full disk and an unwritable cache
        log.warning("downloading %s from %s failed (%s); by hand it goes to %s",
                    file.filename, file.source_url, err, path)
        raise DownloadError(
            _("Downloading {file} from {url} failed: {why}. To put it in place by hand, copy "
              "the file into the checkpoints folder of the server's torch hub cache.").format(
                file=file.filename, url=file.source_url, why=_reason(err))) from None
    return path
