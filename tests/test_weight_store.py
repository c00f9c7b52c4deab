"""Random networks' weights on disk, memory-mapped by every server process
(explorer.serving.weight_store)."""

from __future__ import annotations

import functools
import multiprocessing
import os
import time
from pathlib import Path

import torch
from torch import nn

from explorer import feature_maps as fm
from explorer.models import zoo
from explorer.serving.shared_cache import model_bytes
from explorer.serving.weight_store import WeightStore
from tests.conftest import flock_is_free


def store(tmp_path: Path, budget: int = 10**9) -> WeightStore:
    return WeightStore(lambda: tmp_path / "weights", budget)


def lenet(seed: int):
    build = functools.partial(lambda s: fm.for_inference(
        zoo.build_seeded("lenet5", seed=s, variant="mnist")), seed)
    return build, functools.partial(zoo.skeleton, "lenet5", variant="mnist")


def mapped_files() -> str:
    return Path("/proc/self/maps").read_text()


def test_a_network_is_built_once_then_mapped_from_the_file_with_the_same_weights(tmp_path):
    weights = store(tmp_path)
    build, skeleton = lenet(3)
    first = weights.get("lenet:3", build, skeleton)
    again = weights.get("lenet:3", build, skeleton)
    assert weights.builds == 1
    assert not again.training
    for (name, a), (_, b) in zip(first.state_dict().items(), again.state_dict().items(),
                                 strict=True):
        assert torch.equal(a, b), name
        assert a.stride() == b.stride(), name  # channels-last kept, as `for_inference` made it
    assert str(weights.path("lenet:3")) in mapped_files()  # pages of the file, not the heap
    x = torch.randn(2, 1, 28, 28)
    assert torch.equal(first(x), again(x))


def test_names_and_seeds_get_their_own_files(tmp_path):
    weights = store(tmp_path)
    for seed in (1, 2):
        weights.get(f"lenet:{seed}", *lenet(seed))
    a = weights.get("lenet:1", *lenet(1))
    b = weights.get("lenet:2", *lenet(2))
    assert weights.builds == 2
    first_a, first_b = (next(iter(m.state_dict().values())) for m in (a, b))
    assert not torch.equal(first_a, first_b)  # another seed, other weights
    assert weights.path("lenet:1") != weights.path("lenet:2")


def test_an_unreadable_file_is_deleted_and_the_network_rebuilt(tmp_path):
    weights = store(tmp_path)
    path = weights.path("lenet:5")
    path.parent.mkdir(parents=True)
    path.write_bytes(b"not a torch file")
    model = weights.get("lenet:5", *lenet(5))
    assert weights.builds == 1 and isinstance(model, torch.nn.Module)
    weights.get("lenet:5", *lenet(5))
    assert weights.builds == 1  # the rebuilt copy was saved over the broken one


def test_a_store_that_cannot_be_written_still_serves_the_network(tmp_path):
    (tmp_path / "weights").write_text("a file where the folder should be")
    weights = store(tmp_path)
    model = weights.get("lenet:1", *lenet(1))
    assert isinstance(model, torch.nn.Module) and weights.builds == 1


def test_the_least_recently_used_files_go_once_over_budget(tmp_path):
    weights = store(tmp_path)
    for seed in (1, 2, 3):
        weights.get(f"lenet:{seed}", *lenet(seed))
        os.utime(weights.path(f"lenet:{seed}"), (seed, seed))  # 1 oldest, 3 newest
    weights.get("lenet:1", *lenet(1))  # reading 1 makes it the most recent
    size = weights.path("lenet:1").stat().st_size
    weights.budget_bytes = 2 * size
    assert weights.prune() == 1
    assert not weights.path("lenet:2").exists()
    assert weights.path("lenet:1").exists() and weights.path("lenet:3").exists()


def test_small_networks_are_only_built(tmp_path):
    weights = WeightStore(lambda: tmp_path / "weights", 10**9, min_bytes=10**6)
    build, skeleton = lenet(1)
    for _ in range(2):
        weights.get("lenet:1", build, skeleton, size=zoo.weight_bytes("lenet5"))
    assert weights.builds == 2 and not weights.path("lenet:1").exists()


def _builds_of_two_processes(folder: Path, broken_lock: bool = False) -> list[int]:
    """How many builds each of two processes made, asking for one network at the same moment
    (a barrier just before `get`; each build takes 1 s, so without the lock both build)."""
    context = multiprocessing.get_context("spawn")  # a fork would inherit torch's threads
    barrier, out = context.Barrier(2), context.Queue()
    procs = [context.Process(target=_build_in_a_process,
                             args=(str(folder), barrier, out, broken_lock)) for _ in range(2)]
    for proc in procs:
        proc.start()
    builds = sorted(out.get(timeout=120) for _ in procs)
    for proc in procs:
        proc.join(timeout=30)
    return builds


def test_a_network_two_processes_ask_for_together_is_built_once(tmp_path):
    """The build lock is a flock on a file: it holds across processes, so a replica that
    waited for another's build maps the file instead of building a second copy."""
    assert _builds_of_two_processes(tmp_path) == [0, 1]


def test_without_the_lock_both_processes_would_build(tmp_path):
    """The test above can fail: with the flock made a no-op, both processes build."""
    assert _builds_of_two_processes(tmp_path, broken_lock=True) == [1, 1]


def _build_in_a_process(folder: str, barrier, out, broken_lock: bool) -> None:
    if broken_lock:
        import fcntl

        fcntl.flock = lambda fd, operation: None
    weights = WeightStore(lambda: Path(folder) / "weights", 10**9)
    build, skeleton = lenet(7)

    def slow_build():
        time.sleep(1.0)  # long enough for the other process to be waiting on the lock
        return build()

    barrier.wait(timeout=60)
    weights.get("lenet:7", slow_build, skeleton)
    out.put(weights.builds)


def _lock_is_free(weights: WeightStore) -> bool:
    return flock_is_free(weights.folder() / "build.lock")


def test_running_a_large_network_takes_the_machines_turn_and_a_small_one_does_not(tmp_path):
    weights = WeightStore(lambda: tmp_path / "weights", 10**9, large_bytes=10_000)
    weights.folder().mkdir()
    big, small = nn.Linear(100, 100), nn.Linear(10, 10)  # 40 KB and 440 B of weights
    with weights.turn(model_bytes(small)) as held:
        assert _lock_is_free(weights) and not held  # another process could run its own now
    with weights.turn(model_bytes(big)) as held:
        assert not _lock_is_free(weights) and held  # ...but not a large one beside this one
    assert _lock_is_free(weights)
    with weights.turn(), weights.turn(model_bytes(big)) as again, \
            weights.turn(model_bytes(small)) as within:  # a thread may take its turn again
        assert not _lock_is_free(weights) and again and within
    assert _lock_is_free(weights)
