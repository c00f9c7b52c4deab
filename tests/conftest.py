"""Fixtures shared by the unit and AppTest suites."""

from __future__ import annotations

import atexit
import fcntl
import logging
import os
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

REPO_ROOT = Path(__file__).resolve().parent.parent
APP = REPO_ROOT / "explorer" / "app.py"

# Runs made by tests go to a throwaway folder for this session, never the user's runs/; the
# browser tests' server inherits it, so a run trained in a test is visible on its pages.
_TEST_RUNS = tempfile.mkdtemp(prefix="explorer-test-runs-")
atexit.register(shutil.rmtree, _TEST_RUNS, ignore_errors=True)
os.environ.setdefault("EXPLORER_RUNS_DIR", _TEST_RUNS)

# Under pytest-xdist (make test: two workers on two cores) every process of the suite, and
# the servers and workers it starts, computes with one torch thread: two per process on two
# cores made each small op's OpenMP threads wait for a preempted peer (a feature visualisation
# test took 110 s instead of 8).
if os.environ.get("PYTEST_XDIST_WORKER"):
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    import torch

    torch.set_num_threads(int(os.environ["OMP_NUM_THREADS"]))

# Every server and AppTest of the suite has a teacher, signed in with this passphrase; its hash
# (cheap scrypt parameters, for speed) lives outside the runs folder, as an operator's would.
TEACHER_PASSPHRASE = "the suite's teacher passphrase"
_TEACHER_FILE = Path(_TEST_RUNS).with_name(Path(_TEST_RUNS).name + "-teacher-passphrase")
atexit.register(_TEACHER_FILE.unlink, missing_ok=True)
if "EXPLORER_TEACHER_PASSPHRASE_FILE" not in os.environ:
    from explorer.classroom import teacher as _teacher

    _TEACHER_FILE.write_text(_teacher.hash_passphrase(TEACHER_PASSPHRASE, n=2**10))
    os.environ["EXPLORER_TEACHER_PASSPHRASE_FILE"] = str(_TEACHER_FILE)


@pytest.fixture(autouse=True)
def guard_never_fires(request, caplog) -> None:
    """A guarded section that fails hides its exception from AppTest; fail the test instead."""
    caplog.set_level(logging.ERROR, logger="explorer.guard")
    yield
    if request.node.get_closest_marker("guard_expected"):
        return
    fired = [r for when in ("setup", "call") for r in caplog.get_records(when)
             if r.name == "explorer.guard"]
    if fired:
        pytest.fail("a guarded section failed:\n" + "\n".join(
            f"{r.getMessage()}\n{logging.Formatter().formatException(r.exc_info)}"
            for r in fired if r.exc_info), pytrace=False)


def until(predicate: Callable[[], object], timeout_s: float, what: str):
    """Poll `predicate` every 50 ms until it is true (returned) or `timeout_s` runs out."""
    deadline = time.monotonic() + timeout_s
    while not (value := predicate()):
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)
    return value


def flock_is_free(path: Path) -> bool:
    """Whether nobody holds an exclusive flock on `path` (created if missing)."""
    fd = os.open(path, os.O_CREAT | os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return True
    except BlockingIOError:
        return False
    finally:
        os.close(fd)


@pytest.fixture
def own_queue() -> None:
    """For a test that drives the queue itself: this process's scheduler thread (a page opened
    by an earlier test in this worker starts one) reads the runs folder of the moment at every
    tick, so it would claim the test's runs before the test could; it is stopped first."""
    from explorer.training import scheduler

    scheduler.stop_default()


@pytest.fixture
def open_page() -> Callable[..., AppTest]:
    """Factory: run the app in AppTest and switch to a page script (path from the repo root)."""

    def _open(script: str, timeout: float = 120, **state) -> AppTest:
        at = AppTest.from_file(str(APP), default_timeout=timeout)
        for key, value in state.items():
            at.session_state[key] = value
        at.run()
        if script != "pages/home.py":
            at.switch_page(os.path.relpath(REPO_ROOT / script, APP.parent)).run()
        return at

    return _open


@pytest.fixture(scope="session")
def lenet_run() -> Path:
    """Two epochs of LeNet-5 on mnist-mini (126 steps), trained once per test session into
    the session's runs folder, where the browser tests' server sees it too."""
    import torch

    from explorer.training import engine
    from explorer.training.config import TrainConfig

    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # the CI machine has 2 shared cores
    try:
        run_dir = engine.prepare_run(TrainConfig(epochs=2, device="cpu"))
        status = engine.train(run_dir)
    finally:
        torch.set_num_threads(threads)
    assert status["state"] == "finished", status
    from explorer.training import access

    # made by nobody's browser: the teacher shares it so that every test's student may open it
    access.set_shared(run_dir.name, access.Actor.operator(), True)
    return run_dir
