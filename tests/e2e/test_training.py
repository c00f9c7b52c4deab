"""Training page in Chromium: a live run survives page switches and reloads, Stop saves it."""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable

from playwright.sync_api import expect

from explorer.training import checkpoints, runs


def _steps_logged(app) -> int:
    match = re.search(r"(\d+) steps logged", app.text())
    return int(match.group(1)) if match else 0


def _wait_until(predicate, timeout_s: float = 60, what: str | Callable[[], str] = "") -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        assert time.monotonic() < deadline, \
            f"timed out waiting for {what() if callable(what) else what}"
        time.sleep(0.2)


def _my_runs(app) -> list[str]:
    return re.findall(r"\d{8}-\d{6}-lenet5-mnist-mini-[0-9a-f]{4}", app.text())


def test_live_run_keeps_growing_across_page_switches_and_stops_with_a_checkpoint(
        app, browser, app_url):
    app.open("training")
    app.assert_healthy()
    assert "mnist-mini" in app.text()
    app.set_number("Epochs", 30)  # long enough to still be running at every check below
    train = app.page.get_by_role("button", name="Train", exact=True).first
    for _ in range(3):  # a student clicking three times quickly starts one run
        train.click(force=True, no_wait_after=True)
    # (a loaded machine: the worker process starts and imports torch before its first step)
    _wait_until(lambda: _steps_logged(app) > 0, timeout_s=120,
                what=lambda: "the first logged steps; the page said: "
                     + app.text()[app.text().find("2 · Watch it train"):][:300])
    run_id = re.search(r"Run (\d{8}-\d{6}-[\w-]+)", app.text()).group(1)
    live = [r for r in runs.list_runs() if r.state in runs.ACTIVE_STATES]
    assert [r.run_id for r in live] == [run_id], "three clicks must start exactly one run"
    assert runs.read_status(live[0].path).pid != os.getpid()  # a worker process trains it
    expect(app.page.get_by_role("button", name="Train", exact=True)).to_be_disabled()
    assert app.page.locator("[data-testid='stPlotlyChart']").count() >= 2
    assert "Images per second" in app.text()
    app.screenshot("training_live")
    before = _steps_logged(app)

    # switch to another page inside the session, then come back: the run and the form remain
    app.page.locator("[data-testid='stSidebarNav'] a").filter(has_text="Home").first.click()
    app.wait()
    assert "Lessons" in app.text()
    app.page.locator("[data-testid='stSidebarNav'] a").filter(has_text="Training").first.click()
    _wait_until(lambda: f"Run {run_id}" in app.text(), what="re-attaching after a page switch")
    _wait_until(lambda: _steps_logged(app) > before, what="the curves to keep growing")
    epochs = app.widget("Epochs").locator("input").first
    assert epochs.input_value() == "30", "the form keeps its values across a page switch"

    # another student (a second browser context) does not see this run among their own
    other = browser.new_context(viewport={"width": 1440, "height": 1000})
    try:
        student = type(app)(other.new_page(), app_url).open("training")
        assert run_id not in _my_runs(student)  # (a run the teacher shared may be listed)
        # nor by its link (the teacher's view is tests/e2e/test_classroom_trust.py)
        student.open("training", f"run={run_id}")
        assert f"There is no run '{run_id}' that you can open." in student.text()
    finally:
        other.close()

    # a reload (a new browser session, same cookie) re-attaches to the live run as well
    app.open("training")
    _wait_until(lambda: f"Run {run_id}" in app.text(), what="re-attaching after a reload")
    assert run_id in _my_runs(app)
    during = _steps_logged(app)
    _wait_until(lambda: _steps_logged(app) > during, what="growth after the reload")
    app.assert_healthy()

    app.page.get_by_role("button", name=f"Stop {run_id}").first.click()
    run_dir = runs.runs_dir() / run_id
    # how fast is bench/stop_bench.py's bar (2 s); here, that it stops, with its checkpoint
    _wait_until(lambda: runs.read_status(run_dir).state == "stopped", timeout_s=30,
                what="the run to stop")
    ckpt = checkpoints.load(run_dir / "checkpoint.pt")
    assert ckpt["config"]["run_id"] == run_id and "state_dict" in ckpt
    model, _ = checkpoints.model_from_checkpoint(run_dir)
    assert sum(p.numel() for p in model.parameters()) > 0
    _wait_until(lambda: "stopped" in app.text() and "Download checkpoint.pt" in app.text(),
                what="the page to show the stopped run")
    app.wait()
    app.assert_healthy()
    assert run_id in app.text()  # listed among the runs
    expect(app.page.get_by_role("button", name="Train", exact=True)).to_be_enabled()
    app.screenshot("training_stopped")
