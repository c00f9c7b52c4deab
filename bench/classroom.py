"""A class of students against `make serve`, and against one `make run` process in the same run.

Starts the served stack (the same generated supervisord + HAProxy configs `make serve` runs, with
REPLICAS Streamlit processes, HTTPS with its self-signed certificate) and, as the reference, one
plain Streamlit process, and drives each with the websocket load generator
`../shared/tools/loadtest.py run` (Streamlit's own protocol; see its docstring), over HTTPS/WSS
(`--tls`) for the served stack and plain HTTP for `make run`, wave after wave on the same
processes:

  busy          15 Convolution + 15 Conv arithmetic, 5 interactions, think 1–3 s   p95 < 2 s
  calm          the same 30 students, think 10–30 s                               p95 < 1 s
  feature-maps  30 students on Feature maps, think 1–3 s            p95 < 5 s, memory < 3 GB
  class         90 students spread over every lesson page, think 3–10 s   p95 < 1 s on each page

For each wave it prints the p95 (and p50) of send → script_finished over all interactions,
the peak RSS and the peak PSS summed over the Streamlit processes (sampled every 0.5 s;
HAProxy and supervisord are a few MB and not counted), the RSS after the wave against before
it (read 10 s after the wave, or for the memory wave after the shared caches' idle timeout: they
keep networks for the next students until then), and the served/reference ratio of p95.
The memory bar is judged on PSS: summed RSS counts the pages of torch's shared libraries
(about 330 MB that every process maps from the same files) once per process, though the
machine holds them once; PSS divides each shared page among the processes that map it, so the
sum is what the replicas really use.

Both setups start with a new, empty runs folder and have their weight store prepared
(`explorer/serving/prepare.py`: the large networks' default weights) before the first wave, as
a class would find a server started before the lesson: `make serve` runs it as its one-shot
program, the `make run` reference runs it before its server starts (the seconds each took
are printed). Every student uploads a photo of their own where a page takes one (`--upload`:
a folder of distinct photos made from `assets/images/` at the start, one per student), and
fetches the /media/ files its pages render as a browser does (the load generator keeps the
balancer's cookie; `--no-media` turns that off). Each wave draws its students' interactions
with a seed of its own, so the calm wave does not replay the busy wave's interactions on warm
caches. A wave meets its bar when its p95 is under it and no session failed and no exception
element was drawn; RSS is reported beside PSS. The script exits 1 when any bar is not met.

    .venv/bin/python bench/classroom.py                                   # the full run
    .venv/bin/python bench/classroom.py --students 10 --interactions 2 --waves busy,feature-maps
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from explorer import serving
from explorer.serving import shared_cache

REPO_ROOT = Path(__file__).resolve().parents[1]
LOADTEST = Path(os.environ.get("LOADTEST", REPO_ROOT.parent / "shared" / "tools" / "loadtest.py"))
RSS_BAR_MB = 3 * 1024
# The shared caches hold networks for the next students until they have been idle for
# DEFAULT_IDLE_S, and their janitor looks every quarter of that: 'after' is read past both.
MEMORY_SETTLE_S = shared_cache.DEFAULT_IDLE_S * 1.25 + 10


#: Every lesson page, for the class wave (Home has no widget to interact with).
EVERY_PAGE = ("convolution", "conv-arithmetic", "sampling", "batchnorm", "zoo", "feature-maps",
              "training", "experiments")


@dataclass(frozen=True)
class Wave:
    name: str
    pages: str
    think: str
    p95_bar_s: float
    rss_bar_mb: float | None = None
    per_page: bool = False  # the bar holds on every page's own p95, not only on the whole


def waves(students: int, class_size: int = 90) -> dict[str, Wave]:
    half = max(1, students // 2)
    mixed = f"convolution:{half},conv-arithmetic:{max(1, students - half)}"
    per_page, extra = divmod(class_size, len(EVERY_PAGE))
    spread = ",".join(f"{page}:{per_page + (i < extra)}" for i, page in enumerate(EVERY_PAGE))
    return {
        "busy": Wave("busy", mixed, "1,3", 2.0),
        "calm": Wave("calm", mixed, "10,30", 1.0),
        "feature-maps": Wave("feature-maps", f"feature-maps:{students}", "1,3", 5.0, RSS_BAR_MB),
        "class": Wave("class", spread, "3,10", 1.0, per_page=True),
    }


# --- memory of a set of processes ------------------------------------------------------------


def rss_mb(pid: int) -> float:
    return _proc_kb(f"/proc/{pid}/status", "VmRSS:") / 1024


def pss_mb(pid: int) -> float:
    """Proportional set size: each shared page divided among the processes that map it."""
    return _proc_kb(f"/proc/{pid}/smaps_rollup", "Pss:") / 1024


def _proc_kb(path: str, field: str) -> int:
    try:
        for line in Path(path).read_text().splitlines():
            if line.startswith(field):
                return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return 0


def streamlit_children(pid: int) -> list[int]:
    """The Streamlit processes supervisord runs now (new PIDs after a restart included)."""
    kids: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*/children"):
        try:
            kids += [int(k) for k in task.read_text().split()]
        except OSError:
            continue
    out = []
    for kid in kids:
        try:
            if b"streamlit" in Path(f"/proc/{kid}/cmdline").read_bytes():
                out.append(kid)
        except OSError:
            continue
    return out


class RssSampler(threading.Thread):
    """Samples the summed RSS and PSS of `pids()` every `every` s until stopped; keeps peaks."""

    def __init__(self, pids, every: float = 0.5):
        super().__init__(daemon=True)
        self.pids, self.every = pids, every
        self.peak = self.peak_pss = 0.0
        self.done = threading.Event()

    def now(self) -> tuple[float, float]:
        pids = self.pids()
        return sum(rss_mb(p) for p in pids), sum(pss_mb(p) for p in pids)

    def sample(self) -> None:
        rss, pss = self.now()
        self.peak, self.peak_pss = max(self.peak, rss), max(self.peak_pss, pss)

    def run(self) -> None:
        while not self.done.is_set():
            self.sample()
            self.done.wait(self.every)

    def stop(self) -> tuple[float, float]:
        self.done.set()
        self.join()
        self.sample()
        return self.peak, self.peak_pss


# --- the two setups --------------------------------------------------------------------------


class Reference:
    """One `streamlit run` process, as `make run` starts it (through loadtest.py serve)."""

    label = "1 process (make run)"
    tls = False  # `make run` is plain HTTP on localhost

    def __enter__(self):
        self.runs = Path(tempfile.mkdtemp(prefix="classroom-reference-runs-"))
        env = {**os.environ, "EXPLORER_RUNS_DIR": str(self.runs), "MALLOC_ARENA_MAX": "2"}
        # the same preparation `make serve` runs, so both sides meet a class alike
        t0 = time.monotonic()
        said = subprocess.run([sys.executable, "-m", "explorer.serving.prepare"],
                              capture_output=True, text=True, check=True, cwd=REPO_ROOT,
                              env=env).stdout.strip().splitlines() or ["no log"]
        print(f"{self.label}: store prepared in {time.monotonic() - t0:.0f} s ({said[-1]})",
              flush=True)
        out = subprocess.run([sys.executable, str(LOADTEST), "serve", "--cwd", str(REPO_ROOT)],
                             capture_output=True, text=True, check=True, cwd=REPO_ROOT, env=env)
        self.info = json.loads(out.stdout.strip().splitlines()[-1])
        self.port = self.info["port"]
        return self

    def pids(self) -> list[int]:
        return [self.info["pid"]]

    def process_ports(self) -> list[int]:
        return [self.port]

    def __exit__(self, *exc) -> None:
        subprocess.run([sys.executable, str(LOADTEST), "stop", "--pid", str(self.info["pid"])],
                       capture_output=True, check=False)
        shutil.rmtree(self.runs, ignore_errors=True)  # its weight store: gigabytes after a wave


class Served:
    """`make serve`: HAProxy + N Streamlit processes under supervisord, on free ports."""

    def __init__(self, replicas: int):
        self.replicas = replicas
        self.label = f"{replicas} processes (make serve)"
        self.tls = True  # as `make serve`: HTTPS on the public port

    def __enter__(self):
        self.tmp = tmp = Path(tempfile.mkdtemp(prefix="classroom-serve-"))
        ports: set[int] = set()
        while len(ports) < self.replicas + 1:
            ports.add(free_port())
        port, *backends = sorted(ports)
        self.cfg = serving.ServeConfig(
            port=port, replicas=self.replicas, backend_ports=tuple(backends), bind="127.0.0.1",
            run_dir=tmp / "run", runs_dir=tmp / "runs", cwd=REPO_ROOT,
            haproxy=serving.find_binary("haproxy"), tls=self.tls, http_port=0)
        self.proc = serving.start(self.cfg)
        serving.wait_healthy(self.cfg, self.proc)
        # As before a lesson: the store holds the large networks' default weights.
        prepared = serving.wait_prepared(self.cfg, self.proc)
        said = (self.cfg.run_dir / "prepare.log").read_text().splitlines() or ["no log"]
        print(f"{self.label}: store prepared {prepared:.0f} s after the servers were up "
              f"({said[-1]})", flush=True)
        self.port = port
        return self

    def pids(self) -> list[int]:
        return streamlit_children(self.proc.pid)

    def process_ports(self) -> list[int]:
        return list(self.cfg.ports())

    def __exit__(self, *exc) -> None:
        serving.stop(self.proc)
        shutil.rmtree(self.tmp, ignore_errors=True)  # the runs folder's weight store included


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# --- one wave ---------------------------------------------------------------------------------


def warm_up(setup, pages: list[str]) -> None:
    """One student per page on each process directly, so that 'RSS before' the first wave is a
    server that has imported and rendered its pages, as in a lesson already under way."""
    for port in setup.process_ports():
        spec = ",".join(f"{page}:1" for page in pages)
        subprocess.run([sys.executable, str(LOADTEST), "run", "--port", str(port), "--pages",
                        spec, "--interactions", "0", "--no-media", "--label", "warm-up"],
                       capture_output=True, check=True, cwd=REPO_ROOT)


# --- one wave --------------------------------------------------------------------------------


def pct(values: list[float], q: float) -> float | None:
    if not values:
        return None
    s = sorted(values)
    pos = (len(s) - 1) * q / 100
    lo = int(pos)
    hi = min(lo + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (pos - lo)


def student_photos(count: int, seed: int) -> Path:
    """`count` distinct photos, one per student: random crops of the app's sample photos at
    random sizes (320-900 px a side), as JPEG and PNG, in a new temporary folder."""
    import random

    from PIL import Image

    rng = random.Random(seed)
    sources = sorted(p for p in (REPO_ROOT / "assets" / "images").iterdir()
                     if p.suffix.lower() in (".png", ".jpg", ".jpeg"))
    folder = Path(tempfile.mkdtemp(prefix="classroom-photos-"))
    for i in range(count):
        with Image.open(rng.choice(sources)) as img:
            img = img.convert("RGB")
            w, h = img.size
            cw, ch = rng.randint(w // 2, w), rng.randint(h // 2, h)
            x, y = rng.randint(0, w - cw), rng.randint(0, h - ch)
            side = rng.randint(320, 900)
            crop = img.crop((x, y, x + cw, y + ch)).resize((side, side * ch // cw))
            crop.save(folder / f"student-{i:03d}.{'jpg' if i % 2 else 'png'}")
    return folder


def run_wave(setup, wave: Wave, args, seed: int, photos: Path | None) -> dict:
    out_json = Path(tempfile.mkstemp(prefix=f"classroom-{wave.name}-", suffix=".json")[1])
    before = sum(rss_mb(p) for p in setup.pids())
    sampler = RssSampler(setup.pids)
    sampler.start()
    cmd = [sys.executable, str(LOADTEST), "run", "--port", str(setup.port),
           "--pages", wave.pages, "--think", wave.think, "--interactions", str(args.interactions),
           "--label", f"{setup.label}: {wave.name}", "--json", str(out_json),
           "--max-seconds", str(args.max_seconds), "--seed", str(seed)]
    if photos is not None:
        cmd += ["--upload", str(photos)]
    if not args.media:
        cmd.append("--no-media")
    if setup.tls:
        cmd.append("--tls")
    t0 = time.monotonic()
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO_ROOT)
    wall = time.monotonic() - t0
    peak, peak_pss = sampler.stop()
    if proc.returncode != 0:
        raise SystemExit(f"loadtest failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    settle = args.settle if args.settle is not None else (
        MEMORY_SETTLE_S if wave.rss_bar_mb else 10.0)
    time.sleep(settle)
    after = sum(rss_mb(p) for p in setup.pids())
    phase = json.loads(out_json.read_text())
    out_json.unlink()
    interact = [v for d in phase["per_page"].values() for v in d["interact"]]
    render = [v for d in phase["per_page"].values() for v in d["render"]]
    skipped = sum(1 for st in phase["students"] for it in st["interactions"] if it["error"])
    failed = sum(len(d["failed"]) for d in phase["per_page"].values())
    exceptions = sum(len(d["exceptions"]) for d in phase["per_page"].values())
    uploads = [v for d in phase["per_page"].values() for v in d.get("upload", [])]
    pages = {page: pct(d["interact"], 95) for page, d in phase["per_page"].items()}
    return {"setup": setup.label, "wave": wave.name, "p50": pct(interact, 50),
            "p95": pct(interact, 95), "n": len(interact), "render_p95": pct(render, 95),
            "failed": failed, "skipped": skipped, "exceptions": exceptions,
            "rss_before": before, "rss_peak": peak, "rss_after": after, "wall": wall,
            "pss_peak": peak_pss, "upload_p95": pct(uploads, 95), "uploads": len(uploads),
            "pages": pages,
            "processes": len(setup.pids()),
            "markdown": proc.stdout.strip()}


def fmt(v: float | None, digits: int = 2) -> str:
    return "–" if v is None else f"{v:.{digits}f}"


def met(row: dict, wave: Wave) -> bool:
    """A wave's bar: p95 under it, no failed session, no exception element drawn (and for the
    memory wave, the PSS peak under its bar)."""
    ok = (row["p95"] is not None and row["p95"] < wave.p95_bar_s and row["failed"] == 0
          and row["exceptions"] == 0)
    if wave.per_page:
        ok = ok and all(p is not None and p < wave.p95_bar_s for p in row["pages"].values())
    return ok and (not wave.rss_bar_mb or row["pss_peak"] < wave.rss_bar_mb)


def report(rows: list[dict], chosen: list[Wave], args) -> bool:
    print(f"\n## Classroom: {args.students} students, {args.interactions} interactions, "
          f"{args.replicas} replicas, media {'on' if args.media else 'off'}, uploads "
          f"{'on' if args.upload else 'off'}, settle "
          f"{args.settle if args.settle is not None else 'auto'} s, {os.cpu_count()} cores\n")
    print("| wave | setup | interaction p50 / p95 (s) | n | first render p95 (s) | upload p95 "
          "(s) | failed | exceptions | RSS before / peak / after (MB) | after / before | PSS "
          "peak (MB) | bar |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    every = True
    by = {(r["wave"], r["setup"]): r for r in rows}
    for wave in chosen:
        for r in (r for r in rows if r["wave"] == wave.name):
            ok = met(r, wave)
            every = every and (ok or r["setup"] == Reference.label)  # the bars are the class's
            bar = f"p95 < {wave.p95_bar_s:g} s"
            if wave.rss_bar_mb:
                bar += f", PSS peak < {wave.rss_bar_mb / 1024:g} GB"
            ratio = r["rss_after"] / r["rss_before"] if r["rss_before"] else None
            print(f"| {wave.name} | {r['setup']} | {fmt(r['p50'])} / {fmt(r['p95'])} | "
                  f"{r['n']} | {fmt(r['render_p95'])} | {fmt(r['upload_p95'])} | {r['failed']} | "
                  f"{r['exceptions']} | "
                  f"{r['rss_before']:.0f} / {r['rss_peak']:.0f} / {r['rss_after']:.0f} | "
                  f"{fmt(ratio)} | {r['pss_peak']:.0f} | {bar}: {'met' if ok else 'NOT met'} |")
            if wave.per_page:
                print(f"| {wave.name} | {r['setup']}: p95 per page | " + ", ".join(
                    f"{page} {fmt(p)}" for page, p in sorted(r["pages"].items()))
                    + " | | | | | | | | | |")
        ref = [r for (w, s), r in by.items() if w == wave.name and s == Reference.label]
        srv = [r for (w, s), r in by.items() if w == wave.name and s != Reference.label]
        if ref and srv and ref[0]["p95"] and srv[0]["p95"]:
            print(f"| {wave.name} | served / reference | p95 ratio "
                  f"{srv[0]['p95'] / ref[0]['p95']:.2f} | | | | | | peak RSS ratio "
                  f"{srv[0]['rss_peak'] / max(ref[0]['rss_peak'], 1):.2f} | | | |")
    return every


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--replicas", type=int, default=os.cpu_count() or 2)
    ap.add_argument("--students", type=int, default=30)
    ap.add_argument("--interactions", type=int, default=5)
    ap.add_argument("--waves", default="busy,calm,feature-maps,class",
                    help="comma-separated, of busy, calm, feature-maps, class")
    ap.add_argument("--class-size", type=int, default=90,
                    help="students of the class wave, spread over every lesson page")
    ap.add_argument("--settle", type=float, default=None,
                    help="s after a wave before RSS 'after' (default: 10 s; for the memory "
                         f"wave {MEMORY_SETTLE_S:g} s, past the shared caches' idle timeout)")
    ap.add_argument("--max-seconds", type=float, default=400, help="cap for one wave")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--no-media", dest="media", action="store_false",
                    help="do not fetch /media/ files (a browser does)")
    ap.add_argument("--no-upload", dest="upload", action="store_false",
                    help="no student uploads a photo of their own")
    ap.add_argument("--no-reference", dest="reference", action="store_false",
                    help="skip the single-process reference")
    ap.add_argument("--no-warmup", dest="warmup", action="store_false",
                    help="measure 'RSS before' on cold processes")
    ap.add_argument("--verbose", action="store_true", help="print loadtest.py's own tables")
    args = ap.parse_args()
    missing = [name for name, ok in (("loadtest.py", LOADTEST.exists()),
                                     ("haproxy", serving.find_binary("haproxy")),
                                     ("supervisord", serving.find_binary("supervisord")),
                                     ("openssl", serving.find_binary("openssl")))
               if not ok]
    if missing:
        print(f"skipped: {', '.join(missing)} not found (loadtest at {LOADTEST}; "
              "`make serve-tools` installs haproxy, supervisor and openssl)")
        return 0
    table = waves(args.students, args.class_size)
    chosen = [table[w.strip()] for w in args.waves.split(",")]
    setups = [Served(args.replicas)] + ([Reference()] if args.reference else [])
    photos = student_photos(args.students, args.seed) if args.upload else None
    rows = []
    for setup in setups:
        with setup:
            if args.warmup:
                warm_up(setup, sorted({p.split(":")[0] for w in chosen
                                       for p in w.pages.split(",")}))
            for i, wave in enumerate(chosen):
                row = run_wave(setup, wave, args, args.seed + i, photos)
                rows.append(row)
                if args.verbose:
                    print(row["markdown"], "\n", flush=True)
                print(f"{row['setup']} · {wave.name}: p95 {fmt(row['p95'])} s over "
                      f"{row['n']} interactions ({row['skipped']} without a result), "
                      f"{row['failed']} failed sessions, {row['exceptions']} exceptions, peak RSS "
                      f"{row['rss_peak']:.0f} MB over {row['processes']} processes, "
                      f"{row['wall']:.0f} s", flush=True)
    if photos is not None:
        shutil.rmtree(photos, ignore_errors=True)
    return 0 if report(rows, chosen, args) else 1


if __name__ == "__main__":
    sys.exit(main())
