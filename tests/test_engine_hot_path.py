"""The engine's hot path: what the training loop does per step, and what it leaves to threads."""

from __future__ import annotations

import json
import math

import pytest
import torch

from explorer.models import zoo
from explorer.training import augment, checkpoints, datasets, engine, presets, runs, timeline
from explorer.training.config import TrainConfig

SHORT = dict(device="cpu", batch_size=512, train_limit=2048, test_limit=256)


@pytest.fixture(autouse=True)
def runs_root(tmp_path, monkeypatch):
    monkeypatch.setenv("EXPLORER_RUNS_DIR", str(tmp_path / "runs"))
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield tmp_path / "runs"
    torch.set_num_threads(threads)


def test_step_lines_read_back_as_the_records_json_would_write():
    losses, lrs = [0.5, float("nan"), 1e-12, float("inf")], [1e-3, 2e-3, 3.5, 0.0]
    lines = engine.step_lines(2, 17, losses, lrs).decode().splitlines()
    records = [json.loads(line) for line in lines]
    assert [r["step"] for r in records] == [17, 18, 19, 20]
    assert records[0] == {"kind": "step", "epoch": 2, "step": 17, "loss": 0.5, "lr": 1e-3}
    assert math.isnan(records[1]["loss"]) and records[3]["loss"] == math.inf
    assert records[2]["loss"] == 1e-12 and records[2]["lr"] == 3.5


def test_the_pipelines_fast_path_normalises_as_the_general_one():
    data = datasets.load("mnist-mini")
    x = data.train_x[:64]
    pipe = augment.BatchPipeline(data.mean, data.std, augment.AugmentConfig(),
                                 torch.device("cpu"))
    general = augment.normalise(augment.to_float(x), pipe.mean, pipe.std)
    assert torch.allclose(pipe(x), general, atol=1e-5)
    assert torch.allclose(pipe(x, train=False), general, atol=1e-5)


def test_background_snapshots_from_a_shadow_match_snapshots_of_the_model(tmp_path):
    model = zoo.build_seeded("lenet5", seed=0, batchnorm=True)
    x = torch.randn(1, 1, 28, 28)
    pixels = torch.zeros(1, 28, 28, dtype=torch.uint8)
    inline = timeline.Recorder(tmp_path / "a", model, x, pixels, 0, 0, 10, 5)
    behind = timeline.Recorder(tmp_path / "b", model, x, pixels, 0, 0, 10, 5, background=True,
                               shadows=True)
    assert inline.shadows is None and behind.shadows is not None
    inline.record(3)
    behind.record(3)
    with torch.no_grad():  # the model moves on: the shadow holds the weights of step 3
        for p in model.parameters():
            p.add_(1.0)
    behind.close()
    a = timeline.read(tmp_path / "a").snapshot(3)
    b = timeline.read(tmp_path / "b").snapshot(3)
    assert torch.equal(a["filters"], b["filters"]) and a["maps"].keys() == b["maps"].keys()
    for name in a["maps"]:
        assert torch.equal(a["maps"][name], b["maps"][name])
    assert model.training, "the live model is left as it was"


def _train_a_little(model: torch.nn.Module, x: torch.Tensor) -> None:
    """Move the weights (and BatchNorm's statistics) as a training step would."""
    model.train()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    model(x.repeat(4, 1, 1, 1)).square().mean().backward()
    optimizer.step()


def _same_snapshots(a: timeline.Timeline, b: timeline.Timeline) -> None:
    assert a.steps == b.steps
    for step in a.steps:
        one, other = a.snapshot(step), b.snapshot(step)
        assert one["epoch"] == other["epoch"] and one["filter_layer"] == other["filter_layer"]
        assert torch.allclose(one["filters"].float(), other["filters"].float(), atol=1e-3)
        assert one["maps"].keys() == other["maps"].keys()
        for name in one["maps"]:  # float16 pictures, from a grouped and from a plain conv
            assert one["maps"][name].shape == other["maps"][name].shape
            assert torch.allclose(one["maps"][name].float(), other["maps"][name].float(),
                                  atol=2e-3, rtol=1e-2), (step, name)


@pytest.mark.parametrize("vmap_works", [True, False])
@pytest.mark.parametrize(("name", "kwargs"), [("lenet5", {"batchnorm": True}), ("mlp", {})])
def test_batched_snapshots_are_the_snapshots_one_at_a_time(tmp_path, monkeypatch, name, kwargs,
                                                           vmap_works):
    """Held weights taken in one vmapped pass (or, where vmap fails, one pass each) make the
    same pictures as a snapshot taken at its step; a stop's snapshot off the plan comes after."""
    model = zoo.build_seeded(name, seed=0, **kwargs)
    x = torch.randn(1, 1, 28, 28)
    pixels = torch.zeros(1, 28, 28, dtype=torch.uint8)
    if not vmap_works:
        monkeypatch.setattr(timeline, "vmap", lambda *a, **k: (_ for _ in ()).throw(
            RuntimeError("no batching rule")))
    recorders = (timeline.Recorder(tmp_path / "a", model, x, pixels, 0, 0, 12, 4, count=4),
                 timeline.Recorder(tmp_path / "b", model, x, pixels, 0, 0, 12, 4, count=4,
                                   background=True, shadows=False))
    assert recorders[1].batched and not recorders[0].batched
    assert recorders[1].steps == {0, 4, 8, 12}
    for step in [0, 4, "flush", 8, 10]:  # 10 is off the plan: a stop's snapshot
        for recorder in recorders:
            recorder.flush() if step == "flush" else recorder.record(step)
        _train_a_little(model, x)
    assert len(recorders[1].held) == 0, "an off-plan snapshot takes the held ones first"
    recorders[1].close()
    a, b = timeline.read(tmp_path / "a"), timeline.read(tmp_path / "b")
    assert sorted(p.name for p in b.folder.glob("*.pt")) == [
        "frames-0000000-0000004.pt", "frames-0000008-0000008.pt", "probe.pt",
        "step-0000010.pt"]
    assert a.steps == [0, 4, 8, 10]
    _same_snapshots(a, b)
    assert model.training, "the live model is left as it was"


def test_a_batched_recorder_writes_what_it_holds_within_a_second(tmp_path, monkeypatch):
    model = zoo.build_seeded("lenet5", seed=0)
    clock = [100.0]
    monkeypatch.setattr(timeline.time, "monotonic", lambda: clock[0])
    recorder = timeline.Recorder(tmp_path, model, torch.randn(1, 1, 28, 28),
                                 torch.zeros(1, 28, 28, dtype=torch.uint8), 0, 0, 100, 100,
                                 background=True)
    recorder.record(0)
    recorder.tick()
    clock[0] += timeline.FLUSH_S / 2
    recorder.record(2)
    recorder.tick()
    assert recorder.held == [0, 2], "held: the oldest is half a second old"
    clock[0] += timeline.FLUSH_S / 2
    recorder.tick()
    assert recorder.held == []
    recorder.close()
    assert timeline.read(tmp_path).steps == [0, 2]


def test_a_network_too_large_to_hold_twice_is_snapshotted_step_by_step(tmp_path, monkeypatch):
    model = zoo.build_seeded("lenet5", seed=0)
    monkeypatch.setattr(timeline, "BATCH_MAX_BYTES", sum(
        p.numel() * p.element_size() for p in model.parameters()))
    recorder = timeline.Recorder(tmp_path, model, torch.randn(1, 1, 28, 28),
                                 torch.zeros(1, 28, 28, dtype=torch.uint8), 0, 0, 10, 10,
                                 background=True, shadows=False)
    assert not recorder.batched
    recorder.record(0)
    recorder.close()
    assert [p.name for p in tmp_path.joinpath("timeline").glob("step-*")] == ["step-0000000.pt"]


def test_every_step_is_logged_once_and_the_train_loss_is_their_weighted_mean():
    run_dir = engine.prepare_run(TrainConfig(epochs=2, readouts_per_s=1000, **SHORT))
    status = engine.train(run_dir)
    assert status["state"] == "finished"
    metrics = runs.read_metrics(run_dir)
    steps = [m for m in metrics if m["kind"] == "step"]
    assert [m["step"] for m in steps] == list(range(1, status["total_steps"] + 1))
    per_epoch = status["total_steps"] // 2
    for epoch in (1, 2):
        (record,) = [m for m in metrics if m["kind"] == "epoch" and m["epoch"] == epoch]
        losses = [m["loss"] for m in steps if m["epoch"] == epoch]
        assert len(losses) == per_epoch  # 2048 / 512: four full batches
        assert record["train_loss"] == pytest.approx(sum(losses) / per_epoch, rel=1e-5)


def test_losses_leave_the_device_a_few_times_a_second_not_every_step(monkeypatch):
    made = []
    real = engine._Readout.__init__

    def counting(self, *args, **kwargs):
        made.append(1)
        real(self, *args, **kwargs)

    monkeypatch.setattr(engine._Readout, "__init__", counting)
    run_dir = engine.prepare_run(TrainConfig(epochs=3, readouts_per_s=0.5, **SHORT))
    status = engine.train(run_dir)
    assert status["state"] == "finished"
    # one at each epoch's end, one more per two seconds at most: far fewer than the 12 steps
    assert len(made) <= 3 + math.ceil(status["elapsed_s"] / 2) + 1 < status["total_steps"]


def test_fast_epochs_checkpoint_at_most_once_a_second_and_always_the_last(monkeypatch):
    saved = []
    real = checkpoints.save

    def counting(run_dir, model, config, epoch):
        saved.append(epoch)
        return real(run_dir, model, config, epoch)

    monkeypatch.setattr(checkpoints, "save", counting)
    monkeypatch.setattr(engine, "FAST_EPOCH_S", 1e9)  # every epoch counts as fast
    monkeypatch.setattr(engine, "CHECKPOINT_EVERY_S", 1e9)
    run_dir = engine.prepare_run(TrainConfig(epochs=4, **SHORT))
    assert engine.train(run_dir)["state"] == "finished"
    assert saved == [1, 4]  # the first (nothing saved yet) and the last
    assert checkpoints.load(run_dir)["epoch"] == 4


def test_the_engine_picks_cuda_graphs_on_one_gpu_only():
    assert engine.compile_mode(torch.device("cuda"), 1) == "reduce-overhead"
    assert engine.compile_mode(torch.device("cuda"), 2) == "default"
    assert engine.compile_mode(torch.device("cpu"), 1) == "default"


def test_the_speed_demo_preset_is_valid_and_offered_only_with_its_dataset(monkeypatch):
    presets.AIRBENCH.validate()
    model = zoo.build_model(presets.AIRBENCH.model, variant="cifar")
    assert model(torch.zeros(2, 3, 32, 32)).shape == (2, 10)
    assert 1.9e6 < sum(p.numel() for p in model.parameters()) < 2.1e6  # airbench94's size
    monkeypatch.setattr(datasets, "is_available", lambda key: False)
    assert presets.available() == []
    monkeypatch.setattr(datasets, "is_available", lambda key: key == "cifar10")
    assert [p.key for p in presets.available()] == ["airbench"]


def test_the_airbench_network_trains_in_the_engine():
    run_dir = engine.prepare_run(TrainConfig(model="airbench", epochs=1, device="cpu",
                                             batch_size=64, train_limit=128, test_limit=64,
                                             optimizer="sgd", lr=0.1))
    assert engine.train(run_dir)["state"] == "finished"


def test_airbench_s_first_layer_whitens_the_training_patches():
    from explorer.models.architectures import airbench

    g = torch.Generator().manual_seed(0)
    base = torch.randn(400, 3, 1, 1, generator=g)  # correlated channels, smooth images
    images = (base + 0.3 * torch.randn(400, 3, 12, 12, generator=g)).cumsum(-1) / 4

    def covariance(weights: torch.Tensor) -> torch.Tensor:
        out = torch.nn.functional.conv2d(images, weights[:12])  # +v half; −v is its mirror
        flat = out.permute(0, 2, 3, 1).reshape(-1, 12).double()
        return flat.T @ flat / len(flat)

    exact = covariance(airbench.whitening_weights(images, eps=0.0))
    assert torch.allclose(exact, torch.eye(12, dtype=torch.double), atol=1e-4), exact.diagonal()
    weights = airbench.whitening_weights(images)
    assert weights.shape == (24, 3, 2, 2)
    damped = covariance(weights)  # decorrelated; ε damps only the faintest directions
    assert torch.allclose(damped, damped.diagonal().diag(), atol=1e-4)
    assert (damped.diagonal()[:3] > 0.999).all() and (damped.diagonal() <= 1).all()
    assert torch.equal(weights[12:], -weights[:12])


def test_the_engine_sets_airbench_s_whitening_from_the_data_and_keeps_it_frozen():
    from explorer.models.architectures import airbench

    small = {**SHORT, "train_limit": 512, "test_limit": 64}  # one step of a wide network
    run_dir = engine.prepare_run(TrainConfig(model="airbench", dataset="mnist-mini", epochs=1,
                                             optimizer="sgd", lr=0.2, **small))
    status = engine.train(run_dir)
    assert status["state"] == "finished", status
    data = datasets.load("mnist-mini")
    pipe = augment.BatchPipeline(data.mean, data.std, augment.AugmentConfig(),
                                 torch.device("cpu"))
    train_x = data.train_x[engine.subset(len(data.train_y), small["train_limit"], 0)]
    expected = airbench.whitening_weights(pipe(train_x[:engine.INIT_IMAGES], train=False))
    weights = checkpoints.load(run_dir)["state_dict"]["0.weight"]
    assert torch.allclose(weights, expected, atol=1e-5), "set from the data, then not trained"
