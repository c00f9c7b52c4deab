"""The training engine: accuracy, schedules, faults (divergence, OOM, stop), evaluation, CLI."""

from __future__ import annotations

import io
import threading

import pytest
import torch

from explorer.models import zoo
from explorer.training import augment, checkpoints, cli, datasets, engine, runs
from explorer.training.config import TrainConfig


@pytest.fixture(autouse=True)
def runs_root(tmp_path, monkeypatch):
    monkeypatch.setenv("EXPLORER_RUNS_DIR", str(tmp_path / "runs"))
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # the CI machine has 2 shared cores
    yield tmp_path / "runs"
    torch.set_num_threads(threads)


def _epochs(run_dir):
    return [m for m in runs.read_metrics(run_dir) if m["kind"] == "epoch"]


@pytest.mark.slow
def test_lenet5_reaches_97_5_percent_on_mnist_mini_within_10_epochs():
    config = TrainConfig(model="lenet5", dataset="mnist-mini", epochs=6, batch_size=64,
                         optimizer="adamw", lr=4e-3, schedule="onecycle", seed=0,
                         device="cpu")
    run_dir = engine.prepare_run(config)
    status = engine.train(run_dir)
    assert status["state"] == "finished", status["reason"]
    epochs = _epochs(run_dir)
    assert len(epochs) == 6
    assert epochs[-1]["test_acc"] >= 0.975, [e["test_acc"] for e in epochs]
    evaluation = runs.read_evaluation(run_dir)
    assert evaluation.accuracy == pytest.approx(epochs[-1]["test_acc"], abs=1e-6)
    matrix = torch.tensor(evaluation.confusion)
    assert matrix.sum() == 2000 and matrix.shape == (10, 10)
    assert len(evaluation.misclassified) == min(48, int(matrix.sum() - matrix.trace()))
    model, config_back = checkpoints.model_from_checkpoint(run_dir)
    assert config_back.class_names == tuple(str(i) for i in range(10))
    data = datasets.load("mnist-mini")
    x = (data.test_x[:500].float() / 255 - data.mean[0]) / data.std[0]
    with torch.no_grad():
        acc = (model(x).argmax(1) == data.test_y[:500]).float().mean()
    assert acc > 0.96  # the checkpoint holds the trained weights


def test_learning_rate_10_diverges_with_a_reason():
    config = TrainConfig(epochs=3, batch_size=256, lr=10.0, device="cpu", readouts_per_s=50)
    run_dir = engine.prepare_run(config)
    status = engine.train(run_dir)
    assert status["state"] == "failed"
    assert "Diverged" in status["reason"] and "learning rate 10" in status["reason"]
    assert runs.read_status(run_dir).state == "failed"
    assert status["epochs_done"] == 0


def test_stop_mid_epoch_keeps_a_loadable_checkpoint():
    stop = threading.Event()
    steps_per_epoch = 8000 // 512 + 1

    def on_progress(p):
        if p.step >= steps_per_epoch + 3:  # in the middle of epoch 2
            stop.set()

    config = TrainConfig(epochs=4, batch_size=512, device="cpu", readouts_per_s=1000)
    run_dir = engine.prepare_run(config)
    status = engine.train(run_dir, stop=stop, on_progress=on_progress)
    assert status["state"] == "stopped" and status["epochs_done"] == 1
    assert "during epoch 2" in status["reason"]
    ckpt = checkpoints.load(run_dir / "checkpoint.pt")
    assert ckpt["epoch"] == 1 and ckpt["config"]["run_id"] == run_dir.name
    model, _ = checkpoints.model_from_checkpoint(run_dir)
    assert model(torch.zeros(2, 1, 28, 28)).shape == (2, 10)
    assert len(_epochs(run_dir)) == 1


def test_cuda_out_of_memory_suggests_a_smaller_batch(monkeypatch):
    class Greedy(torch.nn.Linear):
        def forward(self, x):
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 40 GiB")

    monkeypatch.setattr(zoo, "build_seeded", lambda *a, **k: Greedy(1, 1))
    run_dir = engine.prepare_run(TrainConfig(batch_size=512, device="cpu"))
    status = engine.train(run_dir)
    assert status["state"] == "failed"
    assert "ran out of memory at batch size 512" in status["reason"]
    assert "batch size of 256" in status["reason"]


def test_a_model_that_cannot_be_built_fails_with_its_sentence():
    run_dir = engine.prepare_run(TrainConfig(model="vgg11", image_size=4, device="cpu"))
    status = engine.train(run_dir)
    assert status["state"] == "failed"
    assert "Traceback" not in status["reason"] and status["reason"].endswith(".")


def test_missing_dataset_offline_refuses_before_writing(monkeypatch, tmp_path, runs_root):
    monkeypatch.setenv("EXPLORER_DATA_DIR", str(tmp_path / "nodata"))
    with pytest.raises(datasets.DatasetUnavailable, match="expected in"):
        engine.prepare_run(TrainConfig(dataset="fashion-mnist"))
    assert not runs_root.exists() or not any(runs_root.iterdir())


@pytest.mark.parametrize("bad", [dict(optimizer="rmsprop"), dict(schedule="warmup"),
                                 dict(epochs=0), dict(lr=0.0), dict(label_smoothing=1.0)])
def test_invalid_settings_are_refused(bad):
    with pytest.raises(ValueError):
        TrainConfig(**bad).validate()


def test_optimisers_and_schedules():
    model = torch.nn.Linear(2, 2)
    sgd = engine.make_optimizer(model, TrainConfig(optimizer="sgd", nesterov=True, lr=0.1))
    assert isinstance(sgd, torch.optim.SGD) and sgd.defaults["nesterov"]
    assert isinstance(engine.make_optimizer(model, TrainConfig(optimizer="adam")),
                      torch.optim.Adam)
    assert type(engine.make_optimizer(model, TrainConfig(optimizer="adamw"))) is \
        torch.optim.AdamW

    def lrs(schedule, **kw):
        cfg = TrainConfig(optimizer="sgd", lr=1.0, epochs=4, schedule=schedule, **kw)
        opt = engine.make_optimizer(model, cfg)
        sched = engine.make_schedule(opt, cfg, steps_per_epoch=10)
        out = []
        for _ in range(40):
            out.append(opt.param_groups[0]["lr"])
            opt.step()
            sched.step()
        return out

    assert set(lrs("constant")) == {1.0}
    step = lrs("step", step_epochs=2, step_gamma=0.1)
    assert step[19] == 1.0 and step[20] == pytest.approx(0.1)
    cosine = lrs("cosine")
    assert cosine[0] == 1.0 and cosine[-1] < 0.01 and cosine == sorted(cosine, reverse=True)
    one = lrs("onecycle")
    assert one[0] < 0.1 and max(one) == pytest.approx(1.0, rel=0.02) and one[-1] < 0.01


def test_evaluation_counts_and_sorts_mistakes():
    labels = torch.tensor([0, 0, 1, 1, 2])
    logits = torch.tensor([[5.0, 0, 0], [0, 9, 0], [0, 5, 0], [0, 0, 1], [0, 0, 5]])
    ev = engine.evaluation(logits, labels, ["a", "b", "c"], keep=10)
    assert ev["confusion"] == [[1, 1, 0], [0, 1, 1], [0, 0, 1]]
    assert ev["per_class_accuracy"] == [0.5, 0.5, 1.0]
    assert ev["accuracy"] == pytest.approx(0.6)
    assert [m["index"] for m in ev["misclassified"]] == [1, 3]  # most confident first
    assert ev["misclassified"][0] == {"index": 1, "true": 0, "pred": 1,
                                      "confidence": pytest.approx(1.0, abs=1e-3)}


def test_config_round_trips_through_json_dict():
    cfg = TrainConfig(augment=engine.augment.AugmentConfig(hflip=True, noise=0.1))
    assert TrainConfig.from_dict({**cfg.to_dict(), "run_id": "x", "variant": "mnist"}) == cfg


def test_cli_trains_and_writes_the_same_run_folder(runs_root):
    out = io.StringIO()
    code = cli.main(["--model", "lenet5", "--dataset", "mnist-mini", "--epochs", "1",
                       "--batch-size", "512", "--device", "cpu", "--hflip"], out=out)
    assert code == 0, out.getvalue()
    (run,) = runs.list_runs()
    assert run.state == "finished" and run.has_checkpoint
    assert run.config.settings.augment.hflip is True
    text = out.getvalue()
    assert "[" in text and "img/s" in text and "epoch 1: train loss" in text


def test_cli_says_one_sentence_for_a_missing_dataset(monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("EXPLORER_DATA_DIR", str(tmp_path / "nodata"))
    assert cli.main(["--dataset", "kmnist"]) == 2
    assert "KMNIST is not on this machine yet" in capsys.readouterr().err


@pytest.mark.parametrize("schedule", ["constant", "cosine", "onecycle"])
def test_biases_at_a_scaled_rate_keep_the_same_decay_per_step(schedule):
    model = torch.nn.Sequential(torch.nn.Conv2d(1, 4, 3), torch.nn.BatchNorm2d(4))
    cfg = TrainConfig(optimizer="sgd", lr=0.5, weight_decay=1e-3, schedule=schedule,
                      bias_lr_scale=64.0, epochs=2)
    opt = engine.make_optimizer(model, cfg)
    weights, biases = opt.param_groups
    assert [p.ndim for p in weights["params"]] == [4]
    assert len(biases["params"]) == 3, "the conv's bias, BatchNorm's scale and shift"
    sched = engine.make_schedule(opt, cfg, steps_per_epoch=10)
    for _ in range(7):
        opt.step()
        sched.step()
        assert biases["lr"] == pytest.approx(64 * weights["lr"])
        assert biases["lr"] * biases["weight_decay"] == pytest.approx(
            weights["lr"] * weights["weight_decay"])


def test_test_flips_score_the_mean_of_an_image_and_its_mirror():
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(16, 3))
    x = torch.randint(0, 256, (5, 1, 4, 4), dtype=torch.uint8)
    pipe = augment.BatchPipeline((0.5,), (0.25,), augment.AugmentConfig(), torch.device("cpu"))
    both = engine.predict(model, x, pipe, 2, flips=True)
    plain = engine.predict(model, x, pipe, 2)
    mirrored = engine.predict(model, x.flip(-1), pipe, 2)
    assert torch.allclose(both, (plain + mirrored) / 2, atol=1e-6)


@pytest.mark.parametrize("steps", [1, 2, 3, 7])
def test_a_one_cycle_of_a_few_steps_still_steps(steps):
    model = torch.nn.Linear(2, 2)
    cfg = TrainConfig(optimizer="sgd", lr=0.1, epochs=1, schedule="onecycle")
    opt = engine.make_optimizer(model, cfg)
    sched = engine.make_schedule(opt, cfg, steps_per_epoch=steps)
    for _ in range(steps):
        opt.step()
        sched.step()
    assert 0 < opt.param_groups[0]["lr"] <= 0.1
