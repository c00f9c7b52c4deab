"""The server's byte-bounded caches (explorer.serving.shared_cache)."""

from __future__ import annotations

import gc
import threading
import time

import torch
from torch import nn

from explorer.memory import tensor_bytes
from explorer.serving.shared_cache import SharedCache, model_bytes


def linear(n: int) -> nn.Module:
    return nn.Linear(n, n, bias=False)  # n*n float32 weights: 4 n² bytes


def test_size_counts_parameters_and_buffers():
    assert model_bytes(linear(10)) == 400
    assert model_bytes(nn.BatchNorm2d(4)) == 4 * (4 + 4 + 4 + 4) + 8  # + num_batches_tracked


def test_views_of_one_storage_count_once():
    t = torch.zeros(1, 8, 4, 4)
    assert tensor_bytes([t, t[0], t[0, :2], torch.zeros(3)]) == 8 * 16 * 4 + 3 * 4


def test_least_recently_used_models_leave_once_over_budget():
    cache = SharedCache(4 * 100 * 100 * 2, model_bytes)  # room for two 100×100 models
    for key in "abc":
        cache.get(key, lambda: linear(100))
    assert cache.keys() == ["b", "c"]
    cache.get("b", lambda: linear(100))  # a hit makes b the most recent
    cache.get("d", lambda: linear(100))
    assert cache.keys() == ["b", "d"]
    assert cache.total_bytes() <= cache.budget_bytes
    assert cache.builds == 4


def test_one_model_over_budget_is_still_kept_so_its_student_does_not_rebuild_it():
    cache = SharedCache(1000, model_bytes)
    big = cache.get("big", lambda: linear(100))
    assert cache.get("big", lambda: linear(100)) is big
    assert cache.builds == 1
    cache.get("small", lambda: linear(2))
    assert cache.keys() == ["small"]


def test_room_is_made_before_a_build_of_a_kind_seen_before():
    """The peak is what the cache holds while building: a full cache plus the new value
    would be over budget, so a value of a known size gets its room first."""
    cache = SharedCache(4 * 100 * 100 * 2, model_bytes)  # room for two 100×100 models
    held_during_build: list[list[str]] = []

    def build() -> nn.Module:
        held_during_build.append(cache.keys())
        return linear(100)

    cache.get("a", build, kind="linear-100")
    cache.get("b", build, kind="linear-100")
    cache.get("c", build, kind="linear-100")
    assert held_during_build == [[], ["a"], ["b"]]  # a left before c was built, not after
    assert cache.keys() == ["b", "c"]
    cache.get("d", build, kind="something new")  # size unknown: evicted only afterwards
    assert held_during_build[-1] == ["b", "c"] and cache.keys() == ["c", "d"]
    assert cache.get("c", build, kind="linear-100") is not None
    assert len(held_during_build) == 4  # a hit builds nothing and evicts nothing


def test_idle_models_are_dropped():
    now = [0.0]
    cache = SharedCache(10**9, model_bytes, idle_s=60, clock=lambda: now[0])
    cache.get("a", lambda: linear(4))
    now[0] = 30
    cache.get("b", lambda: linear(4))
    now[0] = 75  # a idle for 75 s, b for 45 s
    cache.get("b", lambda: linear(4))
    assert cache.keys() == ["b"]


def test_concurrent_sessions_asking_for_one_model_build_it_once_and_builds_never_overlap():
    cache = SharedCache(10**9, model_bytes)
    running, overlapped = [0], []

    def build() -> nn.Module:
        running[0] += 1
        overlapped.append(running[0] > 1)
        time.sleep(0.05)
        running[0] -= 1
        return linear(8)

    got: list[nn.Module] = []
    keys = ["x"] * 6 + ["y"] * 2
    threads = [threading.Thread(target=lambda k=k: got.append(cache.get(k, build)))
               for k in keys]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert cache.builds == 2 and not any(overlapped)
    assert len({id(m) for m in got}) == 2


def test_a_value_evicted_while_still_in_use_is_taken_back_not_rebuilt():
    cache = SharedCache(4 * 10 * 10, model_bytes)  # room for one 10×10 model
    held = cache.get("a", lambda: linear(10))
    cache.get("b", lambda: linear(10))  # evicts a, which a rerun still holds
    assert cache.keys() == ["b"]
    assert cache.get("a", lambda: linear(10)) is held
    assert cache.builds == 2
    del held
    cache.get("c", lambda: linear(10))  # evicts a again, and now nobody holds it
    gc.collect()
    before = cache.builds
    again = cache.get("a", lambda: linear(10))
    assert cache.builds == before + 1 and again is not None


def test_sweep_drops_idle_values_without_any_request():
    now = [0.0]
    cache = SharedCache(10**9, model_bytes, idle_s=60, clock=lambda: now[0])
    cache.get("a", lambda: linear(4))
    now[0] = 61
    assert cache.sweep() == 1 and cache.keys() == []


def test_a_value_that_comes_back_cheaply_is_not_kept_over_budget_but_shared_while_held():
    cache = SharedCache(4 * 10 * 10, model_bytes)  # room for one 10×10 model
    small = cache.get("small", lambda: linear(10), keep_oversize=False)
    assert cache.keys() == ["small"]  # within budget: cached as usual
    big = cache.get("big", lambda: linear(100), keep_oversize=False)
    assert cache.keys() == ["small"] and cache.builds == 2  # over budget: not cached...
    assert cache.get("big", lambda: linear(100), keep_oversize=False) is big  # ...but shared
    assert cache.builds == 2
    del big
    gc.collect()
    cache.get("big", lambda: linear(100), keep_oversize=False)
    assert cache.builds == 3  # nobody held it: gone, memory and all
    assert cache.get("small", lambda: linear(10)) is small


def test_a_miss_waits_for_its_turn_before_the_caches_own():
    cache = SharedCache(10**9, model_bytes)
    order: list[str] = []

    class Turn:
        def __enter__(self):
            order.append("turn")

        def __exit__(self, *exc):
            order.append("turn over")

    def build() -> nn.Module:
        order.append("build")
        return linear(2)

    cache.get("a", build, turn=Turn)
    cache.get("a", build, turn=Turn)  # a hit takes no turn
    assert order == ["turn", "build", "turn over"]


def test_a_build_under_an_exclusive_turn_does_not_hold_up_the_processes_other_builds():
    """A VGG built under the machine's turn (which yields True) leaves this process's lock
    free: a small network asked for meanwhile is built at once, not after the VGG."""
    lock = threading.RLock()
    models = SharedCache(10**9, model_bytes, build_lock=lock)
    started, release = threading.Event(), threading.Event()

    class MachineTurn:
        def __enter__(self):
            return True

        def __exit__(self, *exc):
            return None

    def slow_large() -> nn.Module:
        started.set()
        release.wait(10)
        return linear(8)

    large = threading.Thread(target=models.get, args=("vgg", slow_large),
                             kwargs={"turn": MachineTurn})
    large.start()
    assert started.wait(10)
    small = threading.Thread(target=models.get, args=("lenet", lambda: linear(2)))
    small.start()  # takes the process's lock, which the VGG's build left free
    small.join(5)
    built_meanwhile = models.keys() == ["lenet"]
    release.set()
    large.join(10)
    small.join(10)
    assert built_meanwhile and set(models.keys()) == {"vgg", "lenet"}
