"""Training page in Chromium: a live run survives page switches and reloads, Stop saves it."""

from __future__ import annotations

import re
import time

from explorer.training import checkpoints, runs


def _steps_logged(app) -> int:
    match = re.search(r"(\d+) steps logged", app.text())
    return int(match.group(1)) if match else 0


def _wait_until(predicate, timeout_s: float = 60, what: str = "") -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)


def test_live_run_keeps_growing_across_page_switches_and_stops_with_a_checkpoint(app):
    app.open("training")
    app.assert_healthy()
    assert "mnist-mini" in app.text()
    app.set_number("Epochs", 30)  # long enough to still be running at every check below
    app.button("Train")
    _wait_until(lambda: _steps_logged(app) > 0, what="the first logged steps")
    run_id = re.search(r"Run (\d{8}-\d{6}-[\w-]+)", app.text()).group(1)
    assert app.page.locator("[data-testid='stPlotlyChart']").count() >= 2
    assert "Images per second" in app.text()
    app.screenshot("training_live")
    before = _steps_logged(app)

    # switch to another page inside the session, then come back: the run is found again
    app.page.locator("[data-testid='stSidebarNav'] a").filter(has_text="Home").first.click()
    app.wait()
    assert "Lessons" in app.text()
    app.page.locator("[data-testid='stSidebarNav'] a").filter(has_text="Training").first.click()
    _wait_until(lambda: f"Run {run_id}" in app.text(), what="re-attaching after a page switch")
    _wait_until(lambda: _steps_logged(app) > before, what="the curves to keep growing")

    # a reload (a new browser session) re-attaches to the live run as well
    app.open("training")
    _wait_until(lambda: f"Run {run_id}" in app.text(), what="re-attaching after a reload")
    during = _steps_logged(app)
    _wait_until(lambda: _steps_logged(app) > during, what="growth after the reload")
    app.assert_healthy()

    app.page.get_by_role("button", name="Stop").first.click()
    run_dir = runs.runs_dir() / run_id
    _wait_until(lambda: runs.read_status(run_dir)["state"] == "stopped", timeout_s=5,
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
    app.screenshot("training_stopped")
