"""Channel pictures as jobs of the queue (explorer/training/channel_jobs.py): made in a worker
process, frames written as they come, computed once per class, and the training runs' claim,
stop and owner rules."""

from __future__ import annotations

import os
import signal
import threading

import pytest
import torch

from explorer import feature_maps as fm
from explorer import i18n
from explorer.training import (
    access,
    channel_jobs,
    channel_worker,
    checkpoints,
    datasets,
    engine,
    run_queue,
    runs,
    scheduler,
)
from explorer.training.channel_jobs import ChannelRequest
from explorer.training.config import TrainConfig
from tests.conftest import until

ALICE, BOB = access.Actor("alice"), access.Actor("bob")
TEACHER = access.Actor("teacher-browser", teacher=True)
LENET = ChannelRequest("lenet5", channel_jobs.RANDOM, "mnist", "features.0", 2, seed=3)


@pytest.fixture
def root(tmp_path, monkeypatch, own_queue):
    monkeypatch.setenv("EXPLORER_RUNS_DIR", str(tmp_path / "runs"))
    monkeypatch.setenv("EXPLORER_CHANNEL_STEPS", "24")
    monkeypatch.setenv("EXPLORER_CHANNEL_FRAMES", "3")
    return runs.runs_dir()


def _until_ended(sched: scheduler.Scheduler, info: channel_jobs.JobInfo) -> runs.RunStatus:
    until(lambda: (sched.tick() or True) and not runs.read_status(info.path).live, 120,
          "the channel job to end")
    until(lambda: (sched.tick() or True) and not sched.workers, 30, "the worker to exit")
    return runs.read_status(info.path)


def test_a_channel_job_runs_in_a_worker_and_a_class_shares_it(root):
    sched = scheduler.Scheduler(channel_jobs.root(), channel_jobs.KIND)
    info = channel_jobs.request(LENET, ALICE)
    assert info.state == "queued" and channel_jobs.position(info) == 1
    assert channel_jobs.request(LENET, BOB).path == info.path, "one job for the whole class"
    sched.tick()
    assert sched.workers[info.run_id].process.pid != os.getpid()
    status = _until_ended(sched, info)
    assert status.state == "finished", status
    assert status.pid != os.getpid()  # written by the worker
    frames = channel_jobs.read_frames(info.path)
    assert [f.step for f in frames] == [0, 12, 24]
    assert all(f.path.is_file() and f.path.read_bytes()[:4] == b"\x89PNG" for f in frames)
    result = channel_jobs.read_result(info.path)
    assert len(result["most"]) == len(result["least"]) == 6
    assert result["most"][0]["response"] >= result["least"][0]["response"]
    assert (info.path / result["filter"]).is_file() and result["mean_image_response"] >= 0
    again = channel_jobs.request(LENET, BOB)
    assert again.path == info.path and again.state == "finished", "computed once"
    assert not run_queue.waiting(channel_jobs.root()) and not sched.workers


def test_only_its_owner_or_the_teacher_stops_a_job_and_a_stopped_one_is_made_again(root):
    info = channel_jobs.request(LENET, ALICE)
    with pytest.raises(access.AccessDenied, match="Only the student"):
        channel_jobs.stop(info.run_id, BOB)
    assert channel_jobs.stop(info.run_id, TEACHER) == "dropped"
    assert runs.read_status(info.path).state == "stopped"
    with pytest.raises(ValueError, match="already have"):  # alice's limit holds meanwhile
        channel_jobs.request(LENET, ALICE)
        channel_jobs.request(ChannelRequest("lenet5", "random", "mnist", "features.3", 0), ALICE)
    again = channel_jobs.find(LENET, BOB)
    assert again is not None and again.config.owner == "alice"


def test_a_deeper_channel_s_kernels_are_drawn_one_per_input_channel(root, monkeypatch):
    monkeypatch.setenv("EXPLORER_CHANNEL_STEPS", "4")
    info = channel_jobs.request(ChannelRequest("lenet5", "random", "mnist", "features.3", 5),
                                ALICE)
    claim = run_queue.claim_by_id(info.path)
    try:
        assert channel_worker.compute(info.path, threading.Event())["state"] == "finished"
    finally:
        claim.release()
    result = channel_jobs.read_result(info.path)
    assert result["kernels"] == 6 and (info.path / result["filter"]).is_file()  # 6 × 5×5
    assert len(result["most"]) == 6


def test_a_new_job_removes_the_oldest_ended_ones_beyond_the_limit(root, monkeypatch):
    monkeypatch.setenv("EXPLORER_CHANNEL_JOBS_KEPT", "2")
    first = channel_jobs.request(LENET, ALICE)
    channel_jobs.stop(first.run_id, ALICE)
    live = channel_jobs.request(ChannelRequest("lenet5", "random", "mnist", "features.0", 0),
                                BOB)
    third = channel_jobs.request(ChannelRequest("lenet5", "random", "mnist", "features.0", 1),
                                 ALICE)
    assert not first.path.exists(), "the oldest ended job made room"
    assert live.path.exists() and third.path.exists()
    channel_jobs.request(ChannelRequest("lenet5", "random", "mnist", "features.0", 3), TEACHER)
    assert live.path.exists() and third.path.exists(), "live jobs are never removed"


def _a_long_job_past_its_first_frame(monkeypatch) -> tuple[scheduler.Scheduler,
                                                            channel_jobs.JobInfo]:
    """Alice's job of 100,000 steps, running in its worker and past its first frame."""
    monkeypatch.setenv("EXPLORER_CHANNEL_STEPS", "100000")
    sched = scheduler.Scheduler(channel_jobs.root(), channel_jobs.KIND)
    info = channel_jobs.request(LENET, ALICE)
    sched.tick()
    until(lambda: len(channel_jobs.read_frames(info.path)) >= 1, 60, "the first frame")
    return sched, info


def test_a_stop_ends_a_running_job_at_its_next_step(root, monkeypatch):
    sched, info = _a_long_job_past_its_first_frame(monkeypatch)
    assert channel_jobs.stop(info.run_id, ALICE) == "requested"
    status = _until_ended(sched, info)
    assert status.state == "stopped" and "Stopped at step" in status.reason, status
    assert channel_jobs.read_frames(info.path)[-1].step == status.progress.step > 0


def test_a_killed_worker_says_the_picture_s_worker_ended_not_a_training_run(root, monkeypatch):
    sched, info = _a_long_job_past_its_first_frame(monkeypatch)
    os.kill(sched.workers[info.run_id].process.pid, signal.SIGKILL)  # as the OOM killer does
    status = _until_ended(sched, info)
    assert status.state == "failed"
    assert status.reason == ("The worker making this picture ended unexpectedly (signal 9, "
                             "SIGKILL); the frames it made are kept."), status.reason
    with i18n.use_language("zh"):
        assert "生成这张图的工作进程意外结束了（信号 9，SIGKILL）" in status.shown_reason
    assert channel_jobs.read_frames(info.path), "the frames it made are still there"


def test_a_trained_run_s_channel_is_made_from_its_checkpoint_and_its_dataset(lenet_run,
                                                                            monkeypatch):
    """The worker's own function, in this process: the run's weights, mnist-mini's test images."""
    monkeypatch.setenv("EXPLORER_CHANNEL_STEPS", "96")
    monkeypatch.setenv("EXPLORER_CHANNEL_FRAMES", "2")
    base = lenet_run.parent  # the session's runs folder, where the shared run is
    request = ChannelRequest("lenet5", f"run:{lenet_run.name}", "mnist", "features.0", 0)
    info = channel_jobs.request(request, BOB, base)  # the teacher shared the run
    claim = run_queue.claim_by_id(info.path)  # as a worker started by hand: nobody else runs it
    try:
        status = channel_worker.compute(info.path, threading.Event())
        assert status["state"] == "finished" and status["step"] == 96
        result = channel_jobs.read_result(info.path)
        assert result["dataset"].startswith("mnist-mini") and len(result["most"]) == 6
        trained, config = checkpoints.model_from_checkpoint(lenet_run)
        pre = fm.preprocessing_for(config.variant, config=config)
        images = datasets.load("mnist-mini").test_x[:channel_worker.MAX_TEST_IMAGES].float()
        with torch.no_grad():
            maps = trained.features[0]((images / 255 - pre.mean[0]) / pre.std[0])
        assert result["most"][0]["response"] == pytest.approx(float(maps[:, 0].amax()),
                                                              rel=1e-3), "the run's weights"
        print(f"picture {result['activation']:.3f} vs the mean test image "
              f"{result['mean_image_response']:.3f}")
        assert result["activation"] > result["mean_image_response"]
    finally:
        claim.release()
        claim.drop()
        runs.remove_run(info.path)


def test_a_trained_run_s_channels_follow_its_owner_rules_and_forged_requests_are_refused(root):
    run_dir = engine.prepare_run(TrainConfig(device="cpu", epochs=1), owner="alice")
    theirs = ChannelRequest("lenet5", f"run:{run_dir.name}", "mnist", "features.0", 0)
    with pytest.raises(access.AccessDenied, match="no run"):
        channel_jobs.request(theirs, BOB)
    with pytest.raises(access.AccessDenied, match="no checkpoint"):
        channel_jobs.request(theirs, ALICE)
    for forged in (ChannelRequest("lenet5", "random", "mnist", "features.0", 6),
                   ChannelRequest("lenet5", "random", "mnist", "classifier.0", 0),
                   ChannelRequest("lenet5", "random", "mnist", "nowhere", 0)):
        with pytest.raises(ValueError, match="has no channel"):
            channel_jobs.request(forged, ALICE)
    for forged in (ChannelRequest("lenet5", "../../etc", "mnist", "features.0", 0),
                   ChannelRequest("nonet", "random", "mnist", "features.0", 0),
                   ChannelRequest("lenet5", "imagenet", "mnist", "features.0", 0)):
        with pytest.raises(access.AccessDenied):
            channel_jobs.request(forged, ALICE)
    for name in ("../x", "ch-" + "0" * 20, 3, "ch-../../etc/passwd"):
        with pytest.raises(access.AccessDenied):
            channel_jobs.open_job(name, ALICE)
    assert not list(channel_jobs.root().glob("ch-*")), "nothing was created"
