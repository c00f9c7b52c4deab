"""Networks and captures served to every session (explorer.serving.networks): the one call
for a shared value, the turn for heavy work, training runs' networks, and the layers."""

from __future__ import annotations

import os
import subprocess
import sys
import threading

import pytest
import torch
from torch import nn

from explorer.serving import networks, shared_cache, weight_store
from explorer.serving.shared_cache import SharedCache, model_bytes
from explorer.serving.weight_store import WeightStore
from explorer.training import checkpoints, runs
from explorer.training.config import RunConfig, TrainConfig
from tests.conftest import flock_is_free


@pytest.fixture
def machine(tmp_path, monkeypatch) -> WeightStore:
    """The machine's turn in a folder of this test's, large from 10 kB on."""
    store = WeightStore(lambda: tmp_path / "weights", 10**9, large_bytes=10_000)
    store.folder().mkdir()
    monkeypatch.setattr(weight_store, "networks", store)
    return store


def machine_turn_is_free(store: WeightStore) -> bool:
    return flock_is_free(store.folder() / "build.lock")


def process_lock_is_free() -> bool:
    """Whether another thread of this process could take `shared_cache.heavy_work` now."""
    free: list[bool] = []

    def probe() -> None:
        took = shared_cache.heavy_work.acquire(blocking=False)
        free.append(took)
        if took:
            shared_cache.heavy_work.release()

    thread = threading.Thread(target=probe)
    thread.start()
    thread.join()
    return free[0]


def test_heavy_work_on_a_large_network_takes_the_machines_turn_instead_of_the_process_lock(
        machine):
    with networks.heavy_work(40_000):
        assert not machine_turn_is_free(machine) and process_lock_is_free()
    with networks.heavy_work(440):
        assert machine_turn_is_free(machine) and not process_lock_is_free()
    assert machine_turn_is_free(machine) and process_lock_is_free()


def test_get_builds_once_in_the_turn_its_network_calls_for(machine):
    cache, asked, seen = SharedCache(10**6, model_bytes), [], []

    def size() -> int:
        asked.append(1)
        return 40_000

    def build() -> nn.Module:
        seen.append(not machine_turn_is_free(machine))
        return nn.Linear(10, 10)

    first = networks.get(cache, "big", build, network_bytes=size)
    assert networks.get(cache, "big", build, network_bytes=size) is first
    assert seen == [True] and len(asked) == 1  # the size is asked on a miss only


def test_get_makes_room_first_and_does_not_keep_a_mapped_network_over_budget():
    cache = SharedCache(4 * 100 * 100 * 2, model_bytes)  # room for two 100×100 layers
    for key in "ab":
        networks.get(cache, key, lambda: nn.Linear(100, 100, bias=False), kind="100")
    kept: list[list] = []

    def build() -> nn.Module:
        kept.append(cache.keys())  # what was left when the build began
        return nn.Linear(100, 100, bias=False)

    networks.get(cache, "c", build, kind="100")
    assert kept == [["b"]]  # room for one more of its kind was made before the build
    big = networks.get(cache, "big", lambda: nn.Linear(300, 300, bias=False),
                       expected_bytes=lambda: 4 * 300 * 300, mapped=True)
    assert cache.keys() == []  # held by this test, but not by the cache
    del big


def small_run(tmp_path) -> tuple[str, RunConfig, nn.Module]:
    config = RunConfig("20260101-000000-lenet5-mnist-0000", TrainConfig(model="lenet5"),
                       variant="mnist", in_channels=1, height=28, width=28, num_classes=10,
                       class_names=tuple("0123456789"), mean=(0.1307,), std=(0.3081,))
    run_dir = runs.create_run(config, tmp_path)
    model = checkpoints.initial_model(config)
    checkpoints.save(run_dir, model, config, epoch=1)
    return str(run_dir), config, model


def test_a_runs_network_comes_from_the_model_cache_with_its_config(tmp_path):
    run_dir, config, trained = small_run(tmp_path)
    mtime = os.path.getmtime(os.path.join(run_dir, "checkpoint.pt"))
    builds = shared_cache.models.builds
    model, loaded = networks.run_model(run_dir, mtime)
    again, same = networks.run_model(run_dir, mtime)
    assert again is model and same == loaded == config
    assert shared_cache.models.builds == builds + 1
    assert networks.run_network(run_dir, mtime) is model
    x = torch.rand(1, 1, 28, 28)
    with torch.no_grad():
        torch.testing.assert_close(model(x), trained.eval()(x))
    assert networks._run_weight_bytes(run_dir) == networks.weight_bytes(("lenet5", "mnist"))
    assert networks._run_weight_bytes(str(tmp_path / "gone")) == 0


def loaded(*modules: str) -> list[str]:
    """The explorer modules a fresh interpreter has loaded after importing `modules`."""
    code = (f"import sys, {', '.join(modules)}; "
            "print(' '.join(m for m in sys.modules if m.startswith('explorer')))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True)
    return done.stdout.split()


def test_lessons_and_training_load_no_serving_and_the_weight_store_no_training():
    """A training worker imports the timeline (which uses a lesson) without the serving
    layer, and the weight store finds its folder without importing training."""
    assert not [m for m in loaded("explorer.training.timeline", "explorer.feature_maps")
                if m.startswith("explorer.serving")]
    assert not [m for m in loaded("explorer.serving.weight_store")
                if m.startswith("explorer.training")]


def test_the_weight_store_lives_in_the_runs_folder(monkeypatch, tmp_path):
    monkeypatch.setenv("EXPLORER_RUNS_DIR", str(tmp_path))
    assert weight_store.networks.folder() == tmp_path / ".cache" / "weights"
    assert weight_store.networks.folder() == runs.runs_dir() / ".cache" / "weights"
