"""What leading a class costs the class: 60 students on the lesson pages of `make serve`, with the
class's fragments running and without, in the same run on the same processes.

Starts the served stack (the generated supervisord + HAProxy configs `make serve` runs, two
Streamlit processes, HTTPS) with its class store in SQLite in the runs folder, warms each
process and runs one unmeasured wave, then drives waves of `../shared/tools/loadtest.py
run` (Streamlit's own websocket protocol), think 3–10 s, the students spread over every lesson
page but Feature maps:

  without   the students alone, before and after each `with` (`--pairs`, default 2: five
            waves in all): their pages draw the class's fragment once per run, but it never
            reruns by its timer, and nothing has been sent or asked
  with      the teacher has sent a view and asked a question (so every student's page draws
            the banner and the question), and every student's session reruns its timed
            fragments as a browser does: the load generator, driven from here, answers each
            `auto_rerun` message with a rerun of that fragment at its interval (a fragment
            rerun never overlaps another rerun of the same session; an interaction that waits
            for one counts the wait in its latency)

For each wave it prints the interaction p95 (send → script_finished) of every page and over
all, the fragment reruns per second, and the class store's write transactions per second,
summed over every process (each process counts its own: `EXPLORER_CLASS_STATS_DIR`). The bar:
in every wave with the fragments, every page's p95 under 1 s, no failed session and no
exception drawn; the mean p95 with and without and their ratio are printed beside it. Exits 1
when the bar is not met.

    .venv/bin/python bench/lead_a_class.py                    # 60 students, 5 interactions
    .venv/bin/python bench/lead_a_class.py --students 20 --interactions 2
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

from explorer import serving  # noqa: E402
from explorer.classroom import class_store  # noqa: E402

LOADTEST = Path(os.environ.get("LOADTEST", REPO_ROOT.parent / "shared" / "tools" / "loadtest.py"))
PAGES = ("convolution", "conv-arithmetic", "sampling", "batchnorm", "zoo", "training",
         "experiments")
P95_BAR_S = 1.0


# --- the load generator with a browser's timed fragments ------------------------------------


def _loadtest():
    spec = importlib.util.spec_from_file_location("loadtest", LOADTEST)
    module = importlib.util.module_from_spec(spec)
    sys.modules["loadtest"] = module  # its dataclasses look themselves up there
    spec.loader.exec_module(module)
    return module


def drive(argv: list[str]) -> None:
    """`loadtest.py run ARGV`, its students rerunning their timed fragments as a browser does."""
    lt = _loadtest()

    class TimedFragments(lt.Student):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self.timers: dict[str, float] = {}  # fragment id -> interval, from auto_rerun
            self.turn = asyncio.Lock()  # one rerun at a time per session
            self.res.fragment_runs = 0

        def _handle(self, msg, now):
            kind = msg.WhichOneof("type")
            if kind == "auto_rerun":
                self.timers[msg.auto_rerun.fragment_id] = msg.auto_rerun.interval
            elif kind == "stop_auto_rerun":
                self.timers.pop(msg.stop_auto_rerun.fragment_id, None)
            super()._handle(msg, now)

        async def _rerun(self, cs):
            waited = time.perf_counter()
            async with self.turn:
                waited = time.perf_counter() - waited
                self.fragment_run = cs.fragment_id  # what the reader must know while it runs
                latency, start = await super()._rerun(cs)
            return latency + waited, start

        async def _tick(self, fragment: str, interval: float) -> None:
            while not self.finished.is_set():
                await asyncio.sleep(interval)
                if fragment not in self.timers or self.ws is None or self.finished.is_set():
                    return
                cs = self._client_state(first=False)
                cs.fragment_id, cs.is_auto_rerun = fragment, True
                try:
                    await self._rerun(cs)
                except Exception:  # the session is over: the student's own loop reports it
                    return
                self.res.fragment_runs += 1

        async def _ticks(self) -> None:
            running: dict[str, asyncio.Task] = {}
            try:
                while not self.finished.is_set():
                    for fragment, interval in list(self.timers.items()):
                        if fragment not in running:
                            running[fragment] = asyncio.create_task(
                                self._tick(fragment, interval))
                    await asyncio.sleep(0.5)
            finally:
                for task in running.values():
                    task.cancel()

        async def run(self, start_delay, done):
            ticks = asyncio.create_task(self._ticks())
            try:
                return await super().run(start_delay, done)
            finally:
                ticks.cancel()

    lt.Student = TimedFragments
    sys.argv = [str(LOADTEST), "run", *argv]
    lt.main()


# --- the served stack, the class's state, the waves -------------------------------------------


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def pct(values: list[float], q: int) -> float | None:
    """The q-th percentile, interpolated between the nearest ranks (as bench/classroom.py)."""
    if len(values) < 2:
        return values[0] if values else None
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1]


def writes(stats: Path) -> int:
    total = 0
    for f in stats.glob("*.json"):
        try:
            total += json.loads(f.read_text())["writes"]
        except (OSError, ValueError, KeyError):
            continue
    return total


def wave(cfg: serving.ServeConfig, name: str, args, stats: Path, timed: bool) -> dict:
    per, extra = divmod(args.students, len(PAGES))
    pages = ",".join(f"{p}:{per + (i < extra)}" for i, p in enumerate(PAGES) if per + (i < extra))
    out = Path(tempfile.mkstemp(prefix=f"lead-{name}-", suffix=".json")[1])
    run_args = ["--port", str(cfg.port), "--pages", pages, "--think", args.think,
                "--interactions", str(args.interactions), "--label", name, "--json", str(out),
                "--max-seconds", str(args.max_seconds), "--seed", str(args.seed), "--tls",
                "--no-media"]
    cmd = ([sys.executable, __file__, "drive", *run_args] if timed
           else [sys.executable, str(LOADTEST), "run", *run_args])
    before, t0 = writes(stats), time.monotonic()
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO_ROOT)
    wall = time.monotonic() - t0
    if proc.returncode != 0:
        raise SystemExit(f"loadtest failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    time.sleep(6)  # the presence batches of the wave's last seconds
    written = writes(stats) - before
    phase = json.loads(out.read_text())
    out.unlink()
    interact = [v for d in phase["per_page"].values() for v in d["interact"]]
    fragment_runs = sum(st.get("fragment_runs", 0) for st in phase["students"])
    return {"wave": name, "p95": pct(interact, 95), "p50": pct(interact, 50), "n": len(interact),
            "pages": {p: pct(d["interact"], 95) for p, d in phase["per_page"].items()},
            "failed": sum(len(d["failed"]) for d in phase["per_page"].values()),
            "exceptions": sum(len(d["exceptions"]) for d in phase["per_page"].values()),
            "wall": wall, "writes_per_s": written / wall, "writes": written,
            "fragments_per_s": fragment_runs / wall}


def fmt(v: float | None) -> str:
    return "–" if v is None else f"{v:.2f}"


def main() -> int:
    if len(sys.argv) > 1 and sys.argv[1] == "drive":
        drive(sys.argv[2:])
        return 0
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--students", type=int, default=60)
    ap.add_argument("--interactions", type=int, default=5)
    ap.add_argument("--think", default="3,10")
    ap.add_argument("--replicas", type=int, default=2)
    ap.add_argument("--max-seconds", type=float, default=400)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--pairs", type=int, default=2,
                    help="waves with the fragments, each between two waves without")
    args = ap.parse_args()
    missing = [n for n, ok in (("loadtest.py", LOADTEST.exists()),
                               ("haproxy", serving.find_binary("haproxy")),
                               ("supervisord", serving.find_binary("supervisord")),
                               ("openssl", serving.find_binary("openssl"))) if not ok]
    if missing:
        print(f"skipped: {', '.join(missing)} not found (`make serve-tools`)")
        return 0
    tmp = Path(tempfile.mkdtemp(prefix="lead-a-class-"))
    stats = tmp / "stats"
    stats.mkdir()
    os.environ[class_store.STATS_DIR] = str(stats)  # supervisord passes it to the processes
    os.environ.pop(class_store.DATABASE_URL, None)
    ports: set[int] = set()
    while len(ports) < args.replicas + 1:
        ports.add(free_port())
    port, *backends = sorted(ports)
    cfg = serving.ServeConfig(port=port, replicas=args.replicas, backend_ports=tuple(backends),
                              bind="127.0.0.1", run_dir=tmp / "run", runs_dir=tmp / "runs",
                              haproxy=serving.find_binary("haproxy"), http_port=0,
                              prepare=False)
    proc = serving.start(cfg)
    rows = []
    try:
        serving.wait_healthy(cfg, proc)
        for backend in cfg.ports():  # every page imported and drawn once on each process
            subprocess.run([sys.executable, str(LOADTEST), "run", "--port", str(backend),
                            "--pages", ",".join(f"{p}:1" for p in PAGES), "--interactions",
                            "0", "--no-media", "--label", "warm-up"],
                           capture_output=True, check=True, cwd=REPO_ROOT)
        # one unmeasured wave first: the processes' caches (networks, pictures, questions)
        # fill under a class, not under the one-student warm-up above
        wave(cfg, "warm-up", argparse.Namespace(**{**vars(args), "interactions": 1}), stats,
             timed=False)
        store = class_store.ClassStore(path=class_store.database_path(cfg.runs_dir))
        # without, with, without, with, …, without: waves alternate, so that a machine whose
        # load swings (or caches still warming) weighs on both sides alike
        for i in range(2 * args.pairs + 1):
            timed = i % 2 == 1
            if timed:
                store.send_view("conv-arithmetic", {"ca_sh": "2", "ca_sw": "2", "ca_ph": "1",
                                                    "ca_pw": "1"})
                poll = store.ask("bench", "conv", 7, "conv-arithmetic")
            name = f"{'with' if timed else 'without'} the fragments ({i // 2 + 1})"
            rows.append(wave(cfg, name, args, stats, timed=timed))
            if timed:
                store.withdraw_view()
                store.close_poll(poll)
            print(f"{name}: p95 {fmt(rows[-1]['p95'])} s", flush=True)
        store.close()
    finally:
        serving.stop(proc)
        shutil.rmtree(tmp, ignore_errors=True)
    with_ = [r for r in rows if r["wave"].startswith("with ")]
    without = [r for r in rows if r["wave"].startswith("without")]
    ok = all(r["failed"] == 0 and r["exceptions"] == 0
             and all(p is not None and p < P95_BAR_S for p in r["pages"].values())
             for r in with_)
    print(f"\n## Leading a class: {args.students} students, {args.interactions} interactions, "
          f"think {args.think} s, {args.replicas} processes, {os.cpu_count()} cores\n")
    print("| wave | interaction p50 / p95 (s) | n | failed | exceptions | fragment reruns/s "
          "(timed + widgets in fragments) | DB writes/s (total) | p95 per page (s) |")
    print("|---|---|---|---|---|---|---|---|")
    for r in rows:
        pages = ", ".join(f"{p} {fmt(v)}" for p, v in sorted(r["pages"].items()))
        print(f"| {r['wave']} | {fmt(r['p50'])} / {fmt(r['p95'])} | {r['n']} | {r['failed']} | "
              f"{r['exceptions']} | {r['fragments_per_s']:.1f} | {r['writes_per_s']:.2f} "
              f"({r['writes']}) | {pages} |")

    def mean(group: list[dict], key: str) -> float | None:
        values = [r[key] for r in group if r[key] is not None]
        return sum(values) / len(values) if values else None

    p95_with, p95_without = mean(with_, "p95"), mean(without, "p95")
    ratio = p95_with / p95_without if p95_with and p95_without else None
    print(f"\nmean p95 with the fragments {fmt(p95_with)} s, without {fmt(p95_without)} s: "
          f"ratio {fmt(ratio)}; DB writes/s with {mean(with_, 'writes_per_s'):.2f}, without "
          f"{mean(without, 'writes_per_s'):.2f}; bar: in every wave with the fragments every "
          f"page's p95 < {P95_BAR_S:g} s, no failed session, no exception: "
          f"{'met' if ok else 'NOT met'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
