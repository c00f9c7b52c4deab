"""The training timeline and the predictions file: written by the engine (so by the page's
workers and the CLI alike), bounded in number and size, and showing a network that changed."""

from __future__ import annotations

import io
import threading

import numpy as np
import pytest
import torch

from explorer.training import cli, engine, predictions, runs, timeline
from explorer.training.config import TrainConfig


@pytest.fixture(scope="module")
def trained(lenet_run) -> runs.RunInfo:
    return runs.run_info(lenet_run)


def test_schedule_spreads_about_fifty_snapshots_over_any_length():
    assert timeline.schedule(0) == [0]
    assert timeline.schedule(8) == list(range(9))
    for total in (49, 50, 63, 500, 12_345, 10**6):
        steps = timeline.schedule(total)
        assert steps[0] == 0 and steps[-1] == total
        assert 40 <= len(steps) <= timeline.COUNT
        gaps = np.diff(steps)
        assert gaps.max() - gaps.min() <= 1, "evenly spread: every k or k+1 steps"


def test_a_run_leaves_bounded_snapshots_that_show_learning(trained):
    line = timeline.read(trained.path)
    assert line is not None and line.error() == ""
    total = trained.status.total_steps
    assert total == 126
    assert line.steps == timeline.schedule(total)
    assert 40 <= len(line.steps) <= timeline.COUNT
    assert line.size_bytes() < 2**20, "LeNet-5's timeline: under 1 MB"
    assert (line.folder / "probe.pt").stat().st_size < 4096, "the probe alone, not its dataset"
    assert line.layers == ["features.0", "features.3"]  # LeNet-5's two convolutions
    probe = line.probe()
    assert probe.dtype == torch.uint8 and probe.shape == (1, 28, 28)
    assert line.meta["probe_index"] == 0 and 0 <= line.meta["probe_label"] < 10

    first, last = line.snapshot(line.steps[0]), line.snapshot(line.steps[-1])
    assert first["step"] == 0 and last["step"] == total and last["epoch"] == pytest.approx(2.0)
    assert first["filter_layer"] == "features.0" and first["filters"].shape == (6, 1, 5, 5)
    assert first["filters"].dtype == torch.float16
    assert not torch.equal(first["filters"], last["filters"]), "the filters learned"
    for layer in line.layers:
        a, b = first["maps"][layer], last["maps"][layer]
        assert a.shape == b.shape and a.shape[0] <= timeline.MAX_CHANNELS
        assert not torch.equal(a, b), f"the probe's maps in {layer} changed"
    # the untrained filters are the seeded initial ones
    from explorer.training import checkpoints
    initial = checkpoints.initial_model(trained.config).features[0].weight.detach()
    assert torch.allclose(first["filters"].float(), initial, atol=1e-3)


def test_a_run_writes_every_test_prediction(trained):
    preds = predictions.read(trained.path)
    evaluation = runs.read_evaluation(trained.path)
    assert len(preds) == 2000 and preds.accuracy() == pytest.approx(evaluation.accuracy)
    assert ((preds.confidence > 0) & (preds.confidence <= 1)).all()
    wrong = predictions.sample(preds, outcome="wrong", count=1000)
    assert len(wrong) == int((~preds.right).sum())
    threes = predictions.sample(preds, true_class=3, count=10, seed=1)
    assert len(threes) == 10 and all(preds.true[i] == 3 for i in threes)
    assert threes != predictions.sample(preds, true_class=3, count=10, seed=2)
    right_threes = predictions.sample(preds, true_class=3, outcome="right", count=5)
    assert all(preds.pred[i] == 3 for i in right_threes)
    with pytest.raises(ValueError, match="outcome"):
        predictions.sample(preds, outcome="maybe")


def test_a_stopped_run_keeps_its_timeline_up_to_the_stop(tmp_path):
    stop = threading.Event()

    def on_progress(p):
        if p.step >= 20:
            stop.set()

    run_dir = engine.prepare_run(TrainConfig(epochs=3, batch_size=512, device="cpu",
                                             readouts_per_s=1000), root=tmp_path)
    status = engine.train(run_dir, stop=stop, on_progress=on_progress)
    assert status["state"] == "stopped"
    line = timeline.read(run_dir)
    planned = line.meta["planned"]
    assert line.steps[0] == 0 and line.steps[-1] == status["step"] < planned[-1]
    assert set(line.steps[:-1]) <= set(planned)
    assert predictions.read(run_dir) is None, "only a finished run has test predictions"


def test_the_cli_writes_the_timeline_too(tmp_path, monkeypatch):
    monkeypatch.setenv("EXPLORER_RUNS_DIR", str(tmp_path))
    code = cli.main(["--model", "mlp", "--epochs", "1", "--batch-size", "1024",
                     "--device", "cpu"], out=io.StringIO())
    assert code == 0
    (run,) = runs.list_runs(tmp_path)
    line = timeline.read(run.path)
    assert line.steps == timeline.schedule(run.status.total_steps)
    snap = line.snapshot(line.steps[-1])
    assert line.layers == [] and snap["maps"] == {}, "an MLP has no feature maps"
    assert snap["filters"].shape[1:] == (1, 28, 28), "its first layer's rows, as images"


def test_even_a_wide_network_on_big_images_stays_under_5_mb(tmp_path):
    """The worst case the budgets allow: three wide 64×64 layers and wide first filters."""
    model = torch.nn.Sequential(torch.nn.Conv2d(3, 96, 7, padding=3), torch.nn.ReLU(),
                                torch.nn.Conv2d(96, 96, 3, padding=1),
                                torch.nn.Conv2d(96, 96, 3, padding=1),
                                torch.nn.Conv2d(96, 96, 3, padding=1))
    x = torch.randn(1, 3, 64, 64)
    recorder = timeline.Recorder(tmp_path, model, x, torch.zeros(3, 64, 64, dtype=torch.uint8),
                                 0, 0, total_steps=10_000, steps_per_epoch=100)
    recorder.record(0)
    line = timeline.read(tmp_path)
    snap = line.snapshot(0)
    assert len(snap["maps"]) == timeline.MAX_LAYERS
    assert all(m.shape == (12, 32, 32) for m in snap["maps"].values())
    assert timeline.COUNT * line.path(0).stat().st_size + 4096 < 5 * 2**20
