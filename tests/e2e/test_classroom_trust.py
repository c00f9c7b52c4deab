"""Two students and a teacher in separate browsers, on a server started with the old
EXPLORER_TEACHER_MODE=1: student B, holding student A's owner id, can neither open, stop,
download nor delete A's runs, not even by sending a click of the disabled Stop button over the
websocket; the signed-in teacher can do all of it."""

from __future__ import annotations

import io
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch
from playwright.sync_api import Browser, expect

from explorer.classroom import identity, secret_key
from explorer.training import access, checkpoints, run_queue, runs
from explorer.training.config import TrainConfig
from tests.conftest import TEACHER_PASSPHRASE
from tests.e2e import wire
from tests.e2e.conftest import TIMEOUT_MS, AppDriver, running_app

pytestmark = pytest.mark.e2e
COOKIE = "explorer_id"


@pytest.fixture(scope="module")
def classroom(tmp_path_factory) -> Iterator[tuple[str, Path]]:
    """A server of its own (its own runs folder and key), with the retired switch set."""
    root = tmp_path_factory.mktemp("trust-runs")
    with running_app({"EXPLORER_RUNS_DIR": str(root), "EXPLORER_TEACHER_MODE": "1"}) as url:
        yield url, root


def _student(browser: Browser, url: str, width: int = 1440) -> AppDriver:
    context = browser.new_context(viewport={"width": width, "height": 1000},
                                  accept_downloads=True)
    context.set_default_timeout(TIMEOUT_MS)
    return AppDriver(context.new_page(), url).open("training")


def _browser_id(driver: AppDriver, key: bytes) -> str:
    cookie = next(c["value"] for c in driver.page.context.cookies() if c["name"] == COOKIE)
    browser_id = identity.verify(cookie, key)
    assert browser_id is not None, "the server set a cookie it cannot verify"
    return browser_id


class _LiveRun:
    """A run that looks alive to the server: a live process and a heartbeat every second."""

    def __init__(self, info: runs.RunInfo) -> None:
        self.info = info
        self.process = subprocess.Popen(["sleep", "600"])
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, daemon=True)
        self._thread.start()

    def _beat(self) -> None:
        while not self._stop.is_set():
            runs.write_status(self.info.path, "running", pid=self.process.pid, phase="training",
                              epochs=30, total_steps=1000, step=10)
            self._stop.wait(1.0)

    def close(self) -> None:
        self._stop.set()
        self._thread.join()
        self.process.kill()
        self.process.wait()


def _finished_run(root: Path, owner: str) -> runs.RunInfo:
    run_dir = run_queue.submit(TrainConfig(device="cpu", epochs=1), owner, root)
    item = next(w for w in run_queue.waiting(root) if w.run_id == run_dir.name)
    if run_queue.claim(item):  # the server's scheduler may not take it: it has "finished"
        pass
    runs.write_status(run_dir, "finished", epochs_done=1, test_acc=0.5)
    config = runs.read_config(run_dir)
    checkpoints.save(run_dir, checkpoints.initial_model(config), config, 1)
    return runs.run_info(run_dir)


def _claimed_live_run(root: Path, owner: str) -> _LiveRun:
    run_dir = run_queue.submit(TrainConfig(device="cpu", epochs=30), owner, root)
    live = _LiveRun(runs.run_info(run_dir))  # heartbeat first, so the scheduler leaves it be
    for item in run_queue.waiting(root):
        if item.run_id == run_dir.name:
            run_queue.claim(item)
    return live


def _sign_in(driver: AppDriver, passphrase: str) -> None:
    sidebar = driver.page.locator("[data-testid='stSidebar']")
    sidebar.get_by_text("Teacher", exact=True).click()
    sidebar.get_by_label("Teacher passphrase").fill(passphrase)
    sidebar.get_by_role("button", name="Sign in as the teacher").click()
    driver.wait()


def test_a_student_holding_another_s_id_can_do_nothing_with_their_runs(browser, classroom):
    url, root = classroom
    key = secret_key.load(root)
    alice = _student(browser, url)
    alice_id = _browser_id(alice, key)
    alice_tag = identity.owner_tag(alice_id, key)
    done = _finished_run(root, alice_tag)
    live = _claimed_live_run(root, alice_tag)
    try:
        # A sees both of her runs, and her download carries no trace of who she is
        alice.open("training", f"run={done.run_id}")
        assert done.run_id in alice.text() and live.info.run_id in alice.text()
        with alice.page.expect_download() as download:
            alice.page.get_by_role("button", name="Download checkpoint.pt").click()
        data = Path(download.value.path()).read_bytes()
        assert alice_id.encode() not in data and alice_tag.encode() not in data
        assert torch.load(io.BytesIO(data), weights_only=True)["config"]["owner"] == ""

        # B copies A's id into his cookie: bare, and with B's own signature
        bob = _student(browser, url)
        bob_cookie = next(c for c in bob.page.context.cookies() if c["name"] == COOKIE)
        bob_signature = bob_cookie["value"].rsplit(".", 1)[1]
        for forged in (alice_id, f"v1.{alice_id}.{bob_signature}", alice_tag):
            bob.page.context.add_cookies([{**bob_cookie, "value": forged}])
            bob.open("training", f"run={done.run_id}")
            text = bob.text()
            assert f"There is no run '{done.run_id}' that you can open." in text
            assert live.info.run_id not in text and "Download checkpoint.pt" not in text
            assert identity.verify(next(c["value"] for c in bob.page.context.cookies()
                                        if c["name"] == COOKIE), key) != alice_id
            bob.assert_healthy()
        bob.open("training", f"run={live.info.run_id}")
        expect(bob.page.get_by_role("button", name=f"Stop {live.info.run_id}")).to_have_count(0)

        # B skips the page: a click of the disabled Stop, sent over the websocket
        access.set_shared(live.info.run_id, access.Actor.operator(), True, root)
        bob_session = f"{COOKIE}={identity.sign(identity.new_id(), key)}"

        async def forge_stop(client: wire.WireClient):
            page = await client.run()
            stop = page.button(f"Stop {live.info.run_id}")
            assert stop.disabled, "a shared run is visible, but its Stop is not B's"
            return page, await client.click(stop)

        page, after = wire.forged_session(url, "training", f"run={live.info.run_id}",
                                          bob_session, forge_stop)
        assert not page.exceptions and not after.exceptions
        assert not run_queue.stop_requested(live.info.path)
        assert runs.read_status(live.info.path).state == "running"
        assert not [b for b in after.buttons if b.label == "Delete for good"]

        # the teacher signs in, sees everyone's runs, and may stop and delete them
        teacher = _student(browser, url)
        _sign_in(teacher, TEACHER_PASSPHRASE)
        assert "You are signed in as the teacher" in teacher.page.locator(
            "[data-testid='stSidebar']").inner_text()
        teacher.open("training", f"run={live.info.run_id}")
        assert "every student's runs are listed" in teacher.text()
        teacher.page.get_by_role("button", name=f"Stop {live.info.run_id}").click()
        deadline = time.monotonic() + 10
        while not run_queue.stop_requested(live.info.path) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert run_queue.stop_requested(live.info.path)
        teacher.screenshot("trust_teacher_training")
        teacher.open("training", f"run={done.run_id}")
        teacher.select("Show a run", done.run_id)  # A's run is among the teacher's choices
        teacher.page.get_by_role("button", name="Delete this run").click()  # its popover
        teacher.button("Delete for good")
        assert not done.path.exists()
        teacher.page.get_by_role("button", name="Sign out").click()
        teacher.wait()
        teacher.open("training")
        assert "every student's runs are listed" not in teacher.text()
    finally:
        live.close()


def test_a_wrong_passphrase_is_refused_in_one_sentence(browser, classroom):
    url, _root = classroom
    student = _student(browser, url)
    _sign_in(student, "not the passphrase at all")
    sidebar = student.page.locator("[data-testid='stSidebar']").inner_text()
    assert "That is not the teacher's passphrase." in sidebar
    assert "You are signed in as the teacher" not in sidebar
    student.assert_healthy()
