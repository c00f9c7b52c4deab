"""Preparing the weight store before a class (explorer.serving.prepare)."""

from __future__ import annotations

import io

import torch

from explorer.models import zoo
from explorer.serving import networks, prepare
from explorer.serving.weight_store import WeightStore


def small_store(tmp_path) -> WeightStore:
    """A store whose threshold lets LeNet-5 at 224 px in (21.7 MB) but not at 28 or 32 px."""
    return WeightStore(lambda: tmp_path / "weights", 10**9, min_bytes=2**20)


def test_the_defaults_are_the_networks_large_enough_for_the_store_largest_first(tmp_path):
    pairs = networks.stored_defaults(small_store(tmp_path), keys=["lenet5", "alexnet"])
    assert pairs == [("alexnet", "imagenet"), ("alexnet", "cifar"),  # 233, 29 MB
                     ("lenet5", "imagenet"), ("alexnet", "mnist")]  # 21.7, 21.6 MB
    everything = networks.stored_defaults()  # the real threshold: the networks a class waits for
    assert ("vgg16", "imagenet") in everything and ("resnet18", "imagenet") not in everything
    assert all(v == "imagenet" for _, v in everything)


def test_prepared_networks_are_mapped_by_the_server_with_the_seeds_weights(tmp_path):
    store, out = small_store(tmp_path), io.StringIO()
    assert prepare.prepare(store, keys=["lenet5"], out=out) == 1
    assert "prepared 1 networks" in out.getvalue() and "1 built" in out.getvalue()
    assert prepare.prepare(store, keys=["lenet5"], out=io.StringIO()) == 0  # a restart
    served = networks.random_network("lenet5", "imagenet", False, 0, store=store)
    assert store.builds == 1  # what the page gets is the prepared file, mapped
    fresh = zoo.build_seeded("lenet5", seed=0, variant="imagenet")
    for (name, a), (_, b) in zip(served.state_dict().items(), fresh.state_dict().items(),
                                 strict=True):
        assert torch.equal(a, b), name


def test_a_store_that_cannot_be_written_is_said_once_and_nothing_is_built(tmp_path):
    (tmp_path / "weights").write_text("a file where the folder should be")
    store, out = small_store(tmp_path), io.StringIO()
    assert prepare.prepare(store, keys=["lenet5"], out=out) == 0
    assert out.getvalue().startswith("no weight store to prepare:") and store.builds == 0
