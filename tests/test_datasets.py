"""Datasets: the offline default, clear messages offline, image folders, caching."""

from __future__ import annotations

import socket

import pytest
import torch
from PIL import Image

from explorer.training import datasets


@pytest.fixture
def empty_data_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("EXPLORER_DATA_DIR", str(tmp_path / "data"))
    return tmp_path / "data"


def test_mnist_mini_is_decoded_once_into_uint8_tensors():
    data = datasets.load("mnist-mini")
    assert data.train_x.shape == (8000, 1, 28, 28) and data.train_x.dtype == torch.uint8
    assert data.test_x.shape == (2000, 1, 28, 28)
    assert data.train_y.dtype == torch.int64 and set(data.train_y.unique().tolist()) == set(
        range(10))
    assert 0.10 < data.mean[0] < 0.16 and 0.28 < data.std[0] < 0.34
    assert datasets.load("mnist-mini") is data  # cached: decoded once per process
    assert "NOT the full MNIST" in data.note and "CC BY-SA 3.0" in data.note


@pytest.mark.parametrize("key", ["mnist", "fashion-mnist", "kmnist", "cifar10"])
def test_missing_download_dataset_names_the_folder(empty_data_dir, key):
    assert not datasets.is_available(key)
    with pytest.raises(datasets.DatasetUnavailable) as err:
        datasets.load(key)
    message = str(err.value)
    assert "$EXPLORER_DATA_DIR/" in message and "expected in" in message
    assert str(empty_data_dir) not in message  # a student never reads the server's paths
    assert message.count(". ") == 0 and "\n" not in message  # one sentence


def test_failed_download_is_one_sentence_and_quick(empty_data_dir, monkeypatch):
    from torchvision import datasets as tvd

    timeouts = []

    def no_network(self, *args, **kwargs):
        timeouts.append(socket.getdefaulttimeout())  # what a real fetch would wait at most
        raise OSError("[Errno -3] Temporary failure in name resolution")

    monkeypatch.setattr(tvd.KMNIST, "download", no_network)
    before = socket.getdefaulttimeout()
    with pytest.raises(datasets.DatasetUnavailable) as err:
        datasets.load("kmnist", download=True)
    assert timeouts == [datasets.DOWNLOAD_TIMEOUT_S]  # never the default: wait for ever
    assert socket.getdefaulttimeout() == before  # and put back afterwards
    assert "Could not download KMNIST" in str(err.value)
    assert "$EXPLORER_DATA_DIR/KMNIST/raw" in str(err.value)
    assert str(empty_data_dir) not in str(err.value)


def test_unknown_key_is_refused():
    with pytest.raises(datasets.DatasetUnavailable, match="Unknown dataset"):
        datasets.load("imagenet-22k")


def _folder(root, classes, per_class, mode="RGB", size=(20, 12)):
    for c, name in enumerate(classes):
        (root / name).mkdir(parents=True)
        for i in range(per_class):
            Image.new(mode, size, (c * 100, i, 0) if mode == "RGB" else c * 100).save(
                root / name / f"{i}.png")


@pytest.fixture
def data_root(tmp_path, monkeypatch):
    """The operator's data root, holding the image folders offered for training."""
    root = tmp_path / "offered"
    root.mkdir()
    monkeypatch.setenv("EXPLORER_DATA_ROOT", str(root))
    return root


def test_image_folder_is_split_resized_and_labelled(data_root):
    _folder(data_root / "pets", ["cats", "dogs", "fish"], 10)
    assert datasets.server_folders() == ["pets"]
    data = datasets.load(datasets.folder_key("pets"), folder_size=16)
    assert data.class_names == ("cats", "dogs", "fish")
    assert data.train_x.shape[1:] == (3, 16, 16)
    assert len(data.train_y) == 24 and len(data.test_y) == 6
    assert data.test_y.bincount().tolist() == [2, 2, 2]
    # the red channel encodes the class: labels and pixels stay together
    assert torch.equal(data.train_x[:, 0, 0, 0] // 100, data.train_y.to(torch.uint8))


def test_image_folder_with_train_and_test_and_greyscale(data_root):
    _folder(data_root / "g" / "train", ["a", "b"], 4, mode="L")
    _folder(data_root / "g" / "test", ["a", "b"], 2, mode="L")
    data = datasets.load("folder:g", folder_size=8)
    assert data.shape == (1, 8, 8)
    assert (len(data.train_y), len(data.test_y)) == (8, 4)


def test_bad_image_folders_get_one_sentence(data_root):
    _folder(data_root / "one", ["only"], 3)
    with pytest.raises(datasets.DatasetUnavailable, match="one sub-folder of images per class"):
        datasets.load("folder:one")


REFUSED = "not one of the folders this server offers"


@pytest.mark.parametrize("name", ["nowhere", "/", "/etc", "~", "..", "../outside", "pets/..",
                                  "pets/cats", ".hidden", "", "pets\x00"])
def test_nothing_outside_the_data_root_is_opened_or_reported(data_root, tmp_path, name):
    _folder(data_root / "pets", ["cats", "dogs"], 3)
    _folder(tmp_path / "outside", ["secret-a", "secret-b"], 3)
    _folder(data_root / ".hidden", ["x", "y"], 3)
    assert not datasets.is_available(datasets.folder_key(name))
    with pytest.raises(datasets.DatasetUnavailable) as err:
        datasets.load(datasets.folder_key(name))
    assert REFUSED in str(err.value)  # the same sentence, existing or not
    assert "secret" not in str(err.value) and str(tmp_path) not in str(err.value)


def test_links_out_of_the_data_root_are_not_followed(data_root, tmp_path):
    _folder(tmp_path / "outside", ["secret-a", "secret-b"], 3)
    (data_root / "link").symlink_to(tmp_path / "outside", target_is_directory=True)
    _folder(data_root / "pets", ["cats", "dogs"], 5)
    (data_root / "pets" / "secrets").symlink_to(tmp_path / "outside" / "secret-a",
                                                target_is_directory=True)
    (data_root / "pets" / "cats" / "stolen.png").symlink_to(
        tmp_path / "outside" / "secret-b" / "0.png")
    assert datasets.server_folders() == ["pets"]
    with pytest.raises(datasets.DatasetUnavailable, match=REFUSED):
        datasets.load("folder:link")
    data = datasets.load("folder:pets", folder_size=8)
    assert data.class_names == ("cats", "dogs") and len(data.train_y) + len(data.test_y) == 10


def test_without_a_data_root_no_folder_is_offered(tmp_path, monkeypatch):
    monkeypatch.delenv("EXPLORER_DATA_ROOT", raising=False)
    _folder(tmp_path / "pets", ["cats", "dogs"], 3)
    assert datasets.server_folders() == []
    with pytest.raises(datasets.DatasetUnavailable, match=REFUSED):
        datasets.load(f"folder:{tmp_path / 'pets'}")
