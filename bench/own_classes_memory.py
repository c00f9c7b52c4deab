"""30 students each holding a 200-image dataset of their own classes, against one Streamlit
process: the images live on disk, not in the sessions.

Starts `streamlit run explorer/app.py` (as `make run` does, MALLOC_ARENA_MAX=2) on a new runs
folder, makes 30 students (a signed cookie each, as a browser gets) with an empty dataset of
three classes each, and opens the Your own classes page for all of them at once over
Streamlit's websocket protocol (`tests/e2e/wire.py`). Each student then uploads a zip of 200
distinct generated pictures (its folders name the classes) through the page's uploader, as a
browser does (PUT to the upload URL, the widget state naming the file), five at a time; the
page draws their thumbnails, split and warnings, and the 30 sessions stay open. The web
process's PSS is read after each phase, settled, and sampled every 0.5 s for its peak.

The reference, in the same run: the same, on a server of its own, with 10 pictures a
student. Bars: 20 times the images cost less than a quarter more memory (held PSS, 200 against
10 images a student, < 1.25), and the PSS peak stays under the classroom memory bar
(`bench/classroom.py`, RSS_BAR_MB, 3 GB). Exits 1 when a bar is not met.

    .venv/bin/python bench/own_classes_memory.py                # 30 students, 200 images each
    .venv/bin/python bench/own_classes_memory.py --students 5 --images 50
"""

from __future__ import annotations

import argparse
import asyncio
import io
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
import zipfile
from pathlib import Path

import numpy as np

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

from bench.classroom import RSS_BAR_MB, pss_mb, rss_mb  # noqa: E402
from explorer.classroom import identity, secret_key  # noqa: E402
from explorer.training import own_classes as own  # noqa: E402
from explorer.training.access import Actor  # noqa: E402
from tests.e2e.wire import WireClient  # noqa: E402
from tests.shapes import CLASSES, shape_png  # noqa: E402

REFERENCE_IMAGES = 10  # a student's images in the reference run
RATIO_BAR = 1.25  # 20× the images may cost a quarter more memory, not 20×
SETTLE_S = 5.0


def _zip(images: int, seed: int) -> bytes:
    """`images` distinct 64×64 shapes (random place, size, colours), a folder per class."""
    rng = np.random.default_rng(seed)
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for i in range(images):
            kind = CLASSES[i % len(CLASSES)]
            archive.writestr(f"shapes/{kind}/{i}.png", shape_png(kind, rng))
    return out.getvalue()


class Sampler(threading.Thread):
    """The process's PSS every 0.5 s; keeps the peak."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid, self.peak, self._done = pid, 0.0, threading.Event()

    def run(self) -> None:
        while not self._done.wait(0.5):
            self.peak = max(self.peak, pss_mb(self.pid))

    def stop(self) -> float:
        self._done.set()
        self.join()
        return max(self.peak, pss_mb(self.pid))


def _server(runs: Path) -> tuple[subprocess.Popen, str]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = dict(os.environ, EXPLORER_RUNS_DIR=str(runs), MALLOC_ARENA_MAX="2")
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "explorer/app.py", "--server.headless",
         "true", "--server.port", str(port), "--server.address", "127.0.0.1",
         "--server.fileWatcherType", "none", "--browser.gatherUsageStats", "false"],
        cwd=REPO_ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
                if response.read() == b"ok":
                    return proc, url
        except OSError:
            time.sleep(0.5)
    proc.kill()
    raise SystemExit("streamlit did not start")


def _settled(pid: int) -> tuple[float, float]:
    time.sleep(SETTLE_S)
    return pss_mb(pid), rss_mb(pid)


async def _open_all(url: str, cookies: list[str]) -> list[WireClient]:
    clients = [WireClient(url, "own-classes", "lang=en", cookie) for cookie in cookies]
    for client in clients:
        await client.__aenter__()
    renders = await asyncio.gather(*(client.run(timeout=300) for client in clients))
    for render in renders:
        assert not render.exceptions, render.exceptions
        assert "1 · Your dataset" in render.headings, render.headings
    return clients


async def _warm(url: str, cookie: str) -> None:
    """One student opens the page first: the imports and caches of a started server."""
    async with WireClient(url, "own-classes", "lang=en", cookie) as client:
        await client.run(timeout=300)


async def _upload(client: WireClient, data: bytes, images: int, turn: asyncio.Semaphore
                  ) -> None:
    async with turn:
        first = await client.run(timeout=300)
        uploader = next(w for w in first.widgets if w.kind == "file_uploader"
                        and w.proto.label.startswith("Images or zips"))
        state = await client.upload(uploader.id, "shapes.zip", data)
        render = await client.run([state], timeout=600)
        assert not render.exceptions, render.exceptions
        assert f"{images} image(s) added." in render.text, render.text[:2000]


async def _students(url: str, cookies: list[str], zips: list[bytes], images: int,
                    pid: int) -> dict[str, float]:
    figures: dict[str, float] = {}
    clients = await _open_all(url, cookies)
    figures["open_pss"], _rss = _settled(pid)
    sampler = Sampler(pid)
    sampler.start()
    turn = asyncio.Semaphore(5)
    start = time.monotonic()
    await asyncio.gather(*(_upload(c, z, images, turn) for c, z in zip(clients, zips,
                                                                      strict=True)))
    figures["upload_s"] = time.monotonic() - start
    await asyncio.gather(*(client.run(timeout=300) for client in clients))  # redrawn once more
    figures["peak_pss"] = sampler.stop()
    figures["held_pss"], figures["held_rss"] = _settled(pid)
    for client in clients:
        await client.__aexit__(None, None, None)
    return figures


def _measure_in(runs: Path, students: int, images: int) -> dict[str, float]:
    os.environ["EXPLORER_RUNS_DIR"] = str(runs)  # the datasets made here are the server's
    key = secret_key.load(runs)
    cookies, zips = [], []
    for student in range(students):
        browser = identity.new_id()
        own.create(Actor(identity.owner_tag(browser, key)), f"Shapes {student}", CLASSES)
        cookies.append(f"explorer_id={identity.sign(browser, key)}")
        zips.append(_zip(images, seed=student))
    proc, url = _server(runs)
    try:
        asyncio.run(_warm(url, cookies[0]))
        idle_pss, _rss = _settled(proc.pid)
        figures = asyncio.run(_students(url, cookies, zips, images, proc.pid))
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    figures["idle_pss"] = idle_pss
    figures["disk_mb"] = sum(p.stat().st_size for p in (runs / own.FOLDER).rglob("*.png")) / 2**20
    return figures


def measure(students: int, images: int) -> dict[str, float]:
    """A new runs folder and server; `students` each upload `images` pictures and stay."""
    runs = Path(tempfile.mkdtemp(prefix="own-classes-bench-"))
    try:
        figures = _measure_in(runs, students, images)
    finally:  # a bench stopped half way leaves no datasets behind
        shutil.rmtree(runs, ignore_errors=True)
    idle_pss = figures["idle_pss"]
    print(f"{students} students × {images} images ({figures['disk_mb']:.1f} MB of PNG on disk; "
          f"uploads {figures['upload_s']:.1f} s in all, five at a time): PSS after one student "
          f"{idle_pss:.0f} MB, {students} open {figures['open_pss']:.0f} MB, holding their "
          f"datasets {figures['held_pss']:.0f} MB (RSS {figures['held_rss']:.0f} MB), peak "
          f"{figures['peak_pss']:.0f} MB", flush=True)
    return figures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--students", type=int, default=30)
    parser.add_argument("--images", type=int, default=200)
    parser.add_argument("--reference-images", type=int, default=REFERENCE_IMAGES)
    args = parser.parse_args()
    reference = measure(args.students, args.reference_images)
    measured = measure(args.students, args.images)
    ratio = measured["held_pss"] / reference["held_pss"]
    print(f"held PSS, {args.images} against {args.reference_images} images a student: "
          f"{ratio:.2f} (bar < {RATIO_BAR}); PSS peak {measured['peak_pss']:.0f} MB (the "
          f"classroom bar < {RSS_BAR_MB} MB)")
    met = ratio < RATIO_BAR and measured["peak_pss"] < RSS_BAR_MB
    print("bars met" if met else "a bar is NOT met")
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
