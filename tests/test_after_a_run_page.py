"""The Training page after (and during) a run, in AppTest: the timeline for finished, stopped
and running runs, the predictions gallery, and the handwriting section."""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path

import pytest
import torch
from streamlit.testing.v1 import AppTest

from explorer.training import runs, timeline

APP = Path(__file__).resolve().parent.parent / "explorer" / "app.py"


@pytest.fixture(scope="module")
def finished(lenet_run) -> Path:
    return lenet_run


def _copy(run_dir: Path, suffix: str, state: str, keep_snapshots: int | None = None) -> Path:
    """A copy of the run in another state; with `keep_snapshots`, only its first snapshots."""
    copy = run_dir.with_name(f"{run_dir.name[:-4]}{suffix}")
    shutil.copytree(run_dir, copy)
    for name in ("predictions.json", "evaluation.json"):
        (copy / name).unlink()
    if keep_snapshots is not None:
        for path in (copy / timeline.FOLDER).glob("*-*.pt"):  # step- and frames- files
            path.unlink()
        _add_snapshots(run_dir, copy, slice(0, keep_snapshots))
    status = json.loads((copy / "status.json").read_text())
    # a running run's heartbeat comes from a live process on this machine: this one
    status.update(state=state, pid=os.getpid(), updated=time.time(), host=runs.HOST)
    (copy / "status.json").write_text(json.dumps(status))
    return copy


def _add_snapshots(source: Path, run_dir: Path, which: slice) -> None:
    """Write `which` of the source run's snapshots into `run_dir`'s timeline, one file each,
    as a worker taking them one by one would."""
    line = timeline.read(source)
    for step in line.steps[which]:
        torch.save(line.snapshot(step), run_dir / timeline.FOLDER / f"step-{step:07d}.pt")


def _open(run_id: str) -> AppTest:
    at = AppTest.from_file(str(APP), default_timeout=120)
    at.query_params["run"] = run_id
    at.run()
    at.switch_page("../pages/training.py").run()
    assert not at.exception, at.exception
    return at


def _slider(at: AppTest, run_id: str):
    return at.select_slider(key=f"training_timeline_{run_id}")


def _marker_step(at: AppTest) -> int:
    """The step the timeline chart's marker stands at."""
    for chart in at.get("plotly_chart"):
        spec = json.loads(chart.proto.spec)
        for shape in spec.get("layout", {}).get("shapes", []):
            if shape.get("line", {}).get("dash") == "dot":
                return int(shape["x0"])
    raise AssertionError("no timeline marker on the page")


def test_finished_run_has_timeline_gallery_and_canvas(finished):
    at = _open(finished.name)
    line = timeline.read(finished)
    slider = _slider(at, finished.name)
    assert list(slider.options) == [f"step {s}" for s in line.steps]
    assert slider.value == line.steps[-1] and _marker_step(at) == line.steps[-1]
    slider.set_value(line.steps[5]).run()
    assert not at.exception and _marker_step(at) == line.steps[5]
    captions = [c.value for c in at.caption]
    assert any(f"{len(line.steps)} snapshots of {line.steps[-1]} steps" in c for c in captions)
    markdown = [m.value for m in at.markdown]
    assert any("Predictions on random test images" in m for m in markdown)
    assert any("Your own handwriting" in m for m in markdown)
    at.selectbox(key="training_gallery_class").set_value(4).run()
    assert not at.exception
    assert any("test images of this class are predicted right" in c.value for c in at.caption)


def test_stopped_run_keeps_its_timeline_and_canvas(finished):
    stopped = _copy(finished, "5d0b", "stopped")
    at = _open(stopped.name)
    assert _slider(at, stopped.name).value == timeline.read(stopped).steps[-1]
    markdown = [m.value for m in at.markdown]
    assert not any("Predictions on random test images" in m for m in markdown)
    assert any("Your own handwriting" in m for m in markdown)


def test_running_run_timeline_follows_the_newest_snapshot(finished):
    running = _copy(finished, "11fe", "running", keep_snapshots=10)
    at = _open(running.name)
    steps = timeline.read(running).steps
    assert len(steps) == 10 and _slider(at, running.name).value == steps[-1]
    # the worker writes more snapshots; the next refresh of the fragment shows the newest
    _add_snapshots(finished, running, slice(10, 20))
    at.run()
    newest = timeline.read(running).steps[-1]
    assert _slider(at, running.name).value == newest and _marker_step(at) == newest
    # a student who scrubbed back stays where they are while new snapshots arrive
    _slider(at, running.name).set_value(steps[2]).run()
    _add_snapshots(finished, running, slice(20, 25))
    at.run()
    assert _slider(at, running.name).value == steps[2]
    runs.write_status(running, "stopped", "test over")  # the live fragment stops polling


def test_feature_maps_with_a_digit_model_warns_and_offers_the_canvas(open_page, finished):
    at = open_page("pages/feature_maps.py", fm_weights="Training run", fm_run=finished.name)
    assert not at.exception, at.exception
    warnings = [w.value for w in at.warning]
    assert any("trained on 28×28 handwritten digits" in w and "confidence means nothing here"
               in w for w in warnings), warnings
    assert "Your own handwriting" in [s.value for s in at.subheader]
    assert any("Draw a digit on the canvas" in i.value for i in at.info)
    assert not any("Random weights" in i.value for i in at.info)
