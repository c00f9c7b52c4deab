"""Experiments: each runs at a tiny size through the queue's folders, with one shared start and
one batch order per pair; verdicts on recorded metrics, including claims that do not hold."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest
import torch

from explorer.experiments import designs, kernel_cost, pairing, verdicts
from explorer.models import zoo
from explorer.training import checkpoints, engine, run_queue, runs
from explorer.training.config import RunConfig, TrainConfig


@pytest.fixture
def root(tmp_path, monkeypatch):
    monkeypatch.delenv("EXPLORER_RUNS_PER_OWNER", raising=False)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield tmp_path / "runs"
    torch.set_num_threads(threads)


def _train_queue(root: Path) -> None:
    """What the scheduler's workers do, in this process: claim each queued run and train it."""
    for item in run_queue.waiting(root):
        assert run_queue.claim(item)
        engine.train(root / item.run_id)


def _tiny(experiment: designs.Experiment) -> designs.Experiment:
    """The quick check, smaller still: 64 training and 64 test images."""
    arms = tuple(designs.Arm(a.label, replace(a.settings, train_limit=64, test_limit=64,
                                              batch_size=32))
                 for a in experiment.sized("quick"))
    return replace(experiment, arms=arms)


@pytest.mark.parametrize("key", [k for k, e in designs.EXPERIMENTS.items() if e.trained])
def test_each_experiment_runs_at_a_tiny_size_from_one_start_in_one_batch_order(root, key):
    experiment = _tiny(designs.get(key))
    experiment_id = pairing.submit(experiment, "full", "alice", root)
    assert len(run_queue.waiting(root)) == len(experiment.arms)
    _train_queue(root)

    (group,) = pairing.groups(key, root)
    assert group.experiment_id == experiment_id and not group.live
    assert [r.config.arm for r in group.runs] == [a.label for a in experiment.arms]
    arms = pairing.arm_runs(group)
    assert all(a.state == "finished" and len(a.epochs) == 1 for a in arms)

    # identical initial weights wherever the layers match, checked tensor by tensor here too
    reference = torch.load(group.runs[0].path / pairing.INITIAL, weights_only=True)
    for info in group.runs[1:]:
        start = torch.load(info.path / pairing.INITIAL, weights_only=True)
        shared = json.loads((info.path / pairing.SHARED).read_text())["copied"]
        assert shared, "every pair shares its conv and Linear layers"
        for name, ref_name in shared:
            assert torch.equal(start[name], reference[ref_name])
    # the same batches in the same order: one digest of the epoch's permutation for all
    assert len({a.epochs[0]["order"] for a in arms}) == 1
    check = pairing.fairness(group, arms)
    assert check.tensors_checked > 0 and check.tensors_equal == check.tensors_checked
    assert check.orders_equal and "identical initial weights" in check.sentence()

    verdict = verdicts.verdict(experiment, arms)
    assert verdict.holds is not None and "%" in verdict.sentence


def test_the_plain_and_residual_networks_start_from_every_same_weight():
    plain = zoo.build_seeded("plain26", seed=3)
    residual = zoo.build_seeded("residual26", seed=3)
    a, b = plain.state_dict(), residual.state_dict()
    assert list(a) == list(b) and all(torch.equal(a[k], b[k]) for k in a)
    convs = sum(isinstance(m, torch.nn.Conv2d) for m in plain.modules())
    assert convs == 25 and "plain26" not in zoo.list_models()
    x = torch.randn(2, 1, 28, 28)
    assert not torch.allclose(plain.eval()(x), residual.eval()(x))  # only the `+ x` differs


def test_shared_layers_are_copied_by_kind_and_order_and_batchnorm_keeps_its_own():
    reference = zoo.build_seeded("lenet5", seed=0)
    model = zoo.build_seeded("lenet5", seed=1, batchnorm=True)
    bn_before = {k: v.clone() for k, v in model.state_dict().items() if "running" in k}
    copied = pairing.copy_shared_layers(reference, model)
    assert len(copied) == 10  # 2 convs + 3 Linears, weight and bias each
    ref_state, state = reference.state_dict(), model.state_dict()
    assert all(torch.equal(state[name], ref_state[ref_name]) for name, ref_name in copied)
    assert all(torch.equal(state[k], v) for k, v in bn_before.items())


def test_a_run_starts_from_its_initial_weights_file(root):
    config = TrainConfig(model="lenet5", device="cpu", epochs=1, train_limit=32, test_limit=32,
                         batch_size=32, optimizer="sgd", momentum=0.0, weight_decay=0.0,
                         lr=1e-12, schedule="constant", compile="off")
    run_dir = engine.prepare_run(config, root, initial_weights="initial.pt")
    start = zoo.build_seeded("lenet5", seed=123).state_dict()
    torch.save(start, run_dir / "initial.pt")
    assert engine.train(run_dir)["state"] == "finished"
    trained = checkpoints.load(run_dir)["state_dict"]
    assert all(torch.allclose(trained[k], start[k], atol=1e-6) for k in start)
    seeded = zoo.build_seeded("lenet5", seed=0).state_dict()
    assert not torch.equal(trained["features.0.weight"], seeded["features.0.weight"])


def test_batch_order_digests_differ_when_the_order_does():
    g = torch.Generator().manual_seed(0)
    a, b = torch.randperm(100, generator=g), torch.randperm(100, generator=g)
    assert engine.order_fingerprint(a) == engine.order_fingerprint(a.clone())
    assert engine.order_fingerprint(a) != engine.order_fingerprint(b)
    assert engine.subset(100, 10, 0).tolist() == engine.subset(100, 10, 0).tolist()
    assert len(engine.subset(100, 10, 0)) == 10 and len(engine.subset(100, 0, 0)) == 100


def test_an_experiment_is_one_submission_and_a_failed_one_leaves_nothing(root, monkeypatch):
    experiment = _tiny(designs.get("activation"))
    pairing.submit(experiment, "full", "bob", root)
    assert len(run_queue.live_runs("bob", root)) == 2
    assert len(run_queue.submissions(run_queue.live_runs("bob", root))) == 1
    with pytest.raises(ValueError, match="You already have experiment activation-"):
        pairing.submit(experiment, "full", "bob", root)

    def broken(run_dirs):
        raise OSError("disk full")

    monkeypatch.setattr(pairing, "write_shared_start", broken)
    with pytest.raises(OSError):
        pairing.submit(experiment, "full", "carol", root)
    assert run_queue.live_runs("carol", root) == [] and len(run_queue.waiting(root)) == 2


def test_run_config_keeps_the_new_fields_and_reads_old_folders():
    settings = TrainConfig(model="custom", layers="flatten_linear-784", train_limit=10)
    config = RunConfig("r", settings, "mnist", 1, 28, 28, 10, ("a",) * 10, (0.1,), (0.3,),
                       experiment="depth-x-y", arm="plain", initial_weights="initial.pt")
    back = RunConfig.from_dict(json.loads(json.dumps(config.to_dict())))
    assert back == config and back.build_kwargs()["layers"] == "flatten_linear-784"
    old = {k: v for k, v in config.to_dict().items()
           if k not in ("experiment", "arm", "initial_weights", "layers", "train_limit",
                        "test_limit", "eval_train")}
    old["model"] = "lenet5"
    read = RunConfig.from_dict(old)
    assert (read.experiment, read.initial_weights, read.settings.train_limit) == ("", "", 0)
    assert "layers" not in read.build_kwargs()


# --- verdicts on recorded metrics -------------------------------------------------------------

_CONFIG = RunConfig("r", TrainConfig(), "mnist", 1, 28, 28, 10, tuple("0123456789"), (0.1,),
                    (0.3,), train_size=1000)


def _arm(label: str, accs: list[float], *, state: str = "finished", reason: str = "",
         losses: list[float] | None = None, train: list[float] | None = None) -> pairing.ArmRun:
    epochs = tuple({"epoch": i + 1, "test_acc": a, "train_acc": a,
                    "train_loss": (losses or [1.0] * len(accs))[i],
                    **({"train_eval_acc": train[i]} if train else {})}
                   for i, a in enumerate(accs))
    info = runs.RunInfo("r", Path("."), _CONFIG,
                         runs.RunStatus.from_dict("r", {"state": state, "reason": reason}), False)
    return pairing.ArmRun(label, info, epochs, (), ())


def _verdict(key, *arms):
    return verdicts.verdict(designs.get(key), arms)


def test_batchnorm_verdict_holds_and_fails_on_the_numbers():
    holds = _verdict("batchnorm", _arm("a", [0.82, 0.95]), _arm("b", [0.97, 0.974]),
                     _arm("c", [0.098, 0.098]), _arm("d", [0.95, 0.951]))
    assert holds.holds is True
    assert "with BatchNorm 97.0%, without 82.0%" in holds.sentence
    assert holds.sentence.endswith("The claim holds on this run.")
    diverged = _verdict("batchnorm", _arm("a", [0.82, 0.95]), _arm("b", [0.97, 0.974]),
                        _arm("c", [], state="failed", reason="Diverged. The loss exploded."),
                        _arm("d", [0.95, 0.951]))
    assert diverged.holds is True and "the loss exploded" in diverged.sentence
    both_train = _verdict("batchnorm", _arm("a", [0.96, 0.97]), _arm("b", [0.962, 0.974]),
                          _arm("c", [0.9, 0.93]), _arm("d", [0.95, 0.951]))
    assert both_train.holds is False
    assert "does not hold" in both_train.sentence
    assert "BatchNorm did not make the first epoch clearly better" in both_train.sentence
    assert "without BatchNorm it trained at lr 0.5 as well" in both_train.sentence


def test_activation_verdict():
    assert _verdict("activation", _arm("sigmoid", [0.1, 0.1, 0.09]),
                    _arm("relu", [0.8, 0.9, 0.94])).holds is True
    kept_up = _verdict("activation", _arm("sigmoid", [0.8, 0.9, 0.93]),
                       _arm("relu", [0.8, 0.9, 0.94]))
    assert kept_up.holds is False and "sigmoid network kept up" in kept_up.sentence


def test_augmentation_verdict_reads_the_gap_between_training_and_test_images():
    holds = _verdict("augmentation", _arm("none", [0.94], train=[1.0]),
                     _arm("aug", [0.96], train=[0.98]))
    assert holds.holds is True and "a gap of 6.0 points" in holds.sentence
    worse = _verdict("augmentation", _arm("none", [0.94], train=[0.96]),
                     _arm("aug", [0.93], train=[0.99]))
    assert worse.holds is False
    assert "the gap did not shrink" in worse.sentence and "test accuracy fell" in worse.sentence


def test_depth_verdict_compares_training_losses():
    assert _verdict("depth", _arm("plain", [0.8], losses=[0.4]),
                    _arm("residual", [0.9], losses=[0.17])).holds is True
    same = _verdict("depth", _arm("plain", [0.9], losses=[0.18]),
                    _arm("residual", [0.9], losses=[0.17]))
    assert same.holds is False and "trained about as well" in same.sentence


def test_the_verdict_stays_open_while_runs_are_live_stopped_failed_or_missing():
    done = _arm("sigmoid", [0.1])
    live = _verdict("activation", done, _arm("relu", [], state="running"))
    assert live.holds is None and live.sentence.startswith("Waiting for 1 of 2 runs: relu")
    stopped = _verdict("activation", done, _arm("relu", [0.5], state="stopped"))
    assert stopped.holds is None and "was stopped" in stopped.sentence
    crashed = _verdict("activation", done, _arm("relu", [], state="failed",
                                                reason="The process ended (signal 9)."))
    assert crashed.holds is None and "signal 9" in crashed.sentence
    assert _verdict("activation", done).holds is None
    quick = verdicts.verdict(designs.get("activation"), [done, _arm("relu", [0.9])], quick=True)
    assert quick.holds is True and "too few images" in quick.sentence


def test_three_3x3_convs_against_one_7x7_are_counted_and_measured():
    cost = kernel_cost.compare(channels=16, size=10)
    assert cost.stacked_weights == 27 * 16**2 and cost.single_weights == 49 * 16**2
    assert cost.stacked_macs == 27 * 16**2 * 100 and cost.single_macs == 49 * 16**2 * 100
    assert cost.single_field == cost.stacked_field == (7, 7)
    assert cost.stacked_paths[3][3] == 49 and cost.stacked_paths[0][0] == 1
    assert cost.holds and cost.sentence().endswith("The claim holds.")


def test_an_arm_knows_its_train_test_gap_per_epoch():
    arm = _arm("aug", [0.90, 0.94], train=[0.95, 0.96])
    assert arm.measures_training_accuracy
    assert [g["epoch"] for g in arm.gaps] == [1, 2]
    assert arm.gaps[1]["gap"] == pytest.approx(0.02)
    plain = _arm("none", [0.9])
    assert not plain.measures_training_accuracy and plain.gaps == []
    assert not _arm("none", []).measures_training_accuracy


def test_the_kernel_cost_is_computed_once_per_pair_of_numbers():
    assert kernel_cost.compare(16, 10) is kernel_cost.compare(16, 10)
    assert kernel_cost.compare(16, 10) is not kernel_cost.compare(16, 14)
