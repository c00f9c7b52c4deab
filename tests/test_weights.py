"""Pretrained weights on request: a checked download from a local HTTP server on 127.0.0.1.

Files are served through `$EXPLORER_WEIGHTS_URL` the way a school's mirror would serve them;
each is named after its own SHA-256 the way torchvision names its files, and the registry
entry of a network is pointed at it. No test here touches the internet.
"""

from __future__ import annotations

import hashlib
import http.server
import io
import pickle
import socket
import threading
from collections.abc import Iterator
from functools import partial
from pathlib import Path

import pytest
import torch

from explorer import i18n
from explorer.models import weights, zoo

RESNET18 = "ResNet18_Weights.IMAGENET1K_V1"


class _Handler(http.server.SimpleHTTPRequestHandler):
    """Serves the folder; a name containing "cut-" announces its full size, sends half, hangs up."""

    def log_message(self, *args) -> None:  # keep pytest's output clean
        pass

    def do_GET(self) -> None:
        path = Path(self.translate_path(self.path))
        if "cut-" not in path.name or not path.is_file():
            super().do_GET()
            return
        data = path.read_bytes()
        self.send_response(200)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data[: len(data) // 2])
        self.wfile.flush()
        self.close_connection = True


@pytest.fixture
def mirror(tmp_path, monkeypatch) -> Iterator[Path]:
    """A local mirror serving `tmp_path/served` at $EXPLORER_WEIGHTS_URL, and an empty hub."""
    served = tmp_path / "served"
    served.mkdir()
    hub = tmp_path / "hub"
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(hub))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0),
                                             partial(_Handler, directory=str(served)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    monkeypatch.setenv(weights.BASE_URL_ENV, f"http://127.0.0.1:{server.server_port}/models/")
    (served / "models").mkdir()
    try:
        yield served / "models"
    finally:
        server.shutdown()
        server.server_close()


def _publish(folder: Path, state: dict, stem: str, monkeypatch,
             enum_name: str = RESNET18) -> weights.WeightsFile:
    """Save `state` as `<stem>-<sha256[:8]>.pth` in the mirror and point the registry at it."""
    buffer = io.BytesIO()
    torch.save(state, buffer)
    data = buffer.getvalue()
    name = f"{stem}-{hashlib.sha256(data).hexdigest()[:8]}.pth"
    (folder / name).write_bytes(data)
    entry = weights.WeightsFile(enum_name, f"https://download.pytorch.org/models/{name}",
                                len(data) / 2**20)
    monkeypatch.setitem(weights.REGISTRY, enum_name, entry)
    return entry


def _small_state() -> dict[str, torch.Tensor]:
    return {"conv.weight": torch.arange(600, dtype=torch.float32).reshape(6, 1, 10, 10)}


def _left_in_cache(entry: weights.WeightsFile) -> list[str]:
    folder = entry.path.parent
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def test_registry_knows_every_network_torchvision_has_weights_for():
    with_weights = [k for k in zoo.list_models() if zoo.get_spec(k).imagenet_from_torchvision]
    assert {"alexnet", "vgg16", "googlenet", "resnet18", "densenet121"} <= set(with_weights)
    for key in with_weights:
        for batchnorm in ((False, True) if zoo.get_spec(key).family == "vgg" else (False,)):
            file = zoo.pretrained_file(key, batchnorm)
            assert file is not None and file.size_mb > 1
            assert len(file.hash_prefix) >= 6, file.filename  # torchvision's naming convention
            assert file.path.name == file.filename and file.path.parent.name == "checkpoints"
            assert file.button_label() == f"Download ImageNet weights ({file.size_mb:.0f} MB)"
    assert zoo.pretrained_file("resnet18").filename == "resnet18-f37072fd.pth"
    assert zoo.pretrained_file("vgg16", batchnorm=True).filename.startswith("vgg16_bn-")
    assert zoo.pretrained_file("nin") is None and zoo.pretrained_file("lenet5") is None


def test_mirror_url_replaces_the_base(monkeypatch):
    file = zoo.pretrained_file("resnet18")
    monkeypatch.delenv(weights.BASE_URL_ENV, raising=False)
    assert file.source_url == "https://download.pytorch.org/models/resnet18-f37072fd.pth"
    monkeypatch.setenv(weights.BASE_URL_ENV, "http://school.example/torch/")
    assert file.source_url == "http://school.example/torch/resnet18-f37072fd.pth"
    assert zoo.pretrained_url("resnet18") == file.source_url


def test_good_file_lands_in_the_hub_cache_with_progress(mirror, monkeypatch):
    entry = _publish(mirror, _small_state(), "tiny", monkeypatch)
    assert not entry.is_cached()
    seen: list[tuple[int, int | None]] = []
    path = weights.download(entry, progress=lambda done, total: seen.append((done, total)))
    assert path == entry.path and entry.is_cached()
    size = path.stat().st_size
    assert seen[0] == (0, size) and seen[-1] == (size, size)
    assert [d for d, _ in seen] == sorted(d for d, _ in seen)
    assert _left_in_cache(entry) == [entry.filename], "no temporary file is left behind"
    loaded = torch.load(path, weights_only=True)
    assert torch.equal(loaded["conv.weight"], _small_state()["conv.weight"])
    again: list = []
    assert weights.download(entry, progress=lambda *a: again.append(a)) == path
    assert again == [], "a file already in place is not fetched again"


def test_corrupted_file_is_refused_and_removed(mirror, monkeypatch):
    entry = _publish(mirror, _small_state(), "tiny", monkeypatch)
    served = mirror / entry.filename
    data = bytearray(served.read_bytes())
    data[len(data) // 2] ^= 0xFF  # same size, one byte flipped
    served.write_bytes(bytes(data))
    with pytest.raises(weights.DownloadError) as err:
        weights.download(entry)
    message = str(err.value)
    assert "refused and removed" in message and entry.hash_prefix in message
    assert entry.source_url in message and str(entry.path) in message
    assert "\n" not in message
    assert _left_in_cache(entry) == []


def test_truncated_file_is_refused(mirror, monkeypatch):
    entry = _publish(mirror, _small_state(), "tiny", monkeypatch)
    served = mirror / entry.filename
    served.write_bytes(served.read_bytes()[:1000])  # a short file, served as complete
    with pytest.raises(weights.DownloadError, match="refused and removed"):
        weights.download(entry)
    assert _left_in_cache(entry) == []


def test_connection_cut_midway_leaves_nothing(mirror, monkeypatch):
    entry = _publish(mirror, _small_state(), "cut-tiny", monkeypatch)
    with pytest.raises(weights.DownloadError, match="connection ended after") as err:
        weights.download(entry, timeout=5)
    assert entry.source_url in str(err.value) and str(entry.path) in str(err.value)
    assert _left_in_cache(entry) == []


def test_dead_server_says_what_failed_and_where_to_copy(tmp_path, monkeypatch):
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "hub"))
    with socket.socket() as sock:  # a port that was free a moment ago: nobody listens there
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    monkeypatch.setenv(weights.BASE_URL_ENV, f"http://127.0.0.1:{port}/models")
    entry = zoo.pretrained_file("resnet18")
    with pytest.raises(weights.DownloadError) as err:
        weights.download(entry, timeout=5)
    message = str(err.value)
    assert message.startswith("Downloading resnet18-f37072fd.pth from "
                              f"http://127.0.0.1:{port}/models/resnet18-f37072fd.pth failed: ")
    assert "could not be reached" in message
    assert message.endswith(f"copy the file to {entry.path}.")
    assert _left_in_cache(entry) == []


def test_missing_file_on_the_mirror(mirror):
    entry = zoo.pretrained_file("resnet18")
    with pytest.raises(weights.DownloadError, match="answered 404"):
        weights.download(entry)
    assert _left_in_cache(entry) == []


def test_downloaded_network_loads_as_plain_tensors(mirror, monkeypatch):
    """The whole path: a published-style ResNet-18 file from the mirror into the model."""
    torch.manual_seed(3)
    source = zoo.build_model("resnet18", variant="imagenet")
    entry = _publish(mirror, source.state_dict(), "resnet18", monkeypatch)
    with pytest.raises(zoo.PretrainedMissing, match="No pretrained ResNet-18 weights"):
        zoo.build_pretrained("resnet18")
    weights.download(entry)
    model = zoo.build_pretrained("resnet18")
    assert torch.equal(model.fc.weight, source.fc.weight) and not model.training
    assert not any(t.is_meta for t in model.state_dict().values())


class _Payload:
    """An object whose unpickling would run code: exactly what weights_only=True refuses."""

    def __reduce__(self):
        return (print, ("this ran while loading",))


def test_a_file_that_would_run_code_is_never_unpickled(offline_hub_path, capsys):
    path = zoo.pretrained_path("resnet18")
    path.parent.mkdir(parents=True)
    with open(path, "wb") as fh:
        pickle.dump({"fc.weight": _Payload()}, fh, protocol=2)
    with pytest.raises(zoo.PretrainedMissing, match="not a plain state_dict"):
        zoo.build_pretrained("resnet18")
    assert "this ran" not in capsys.readouterr().out


@pytest.fixture
def offline_hub_path(tmp_path, monkeypatch) -> Path:
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path))
    return tmp_path


# --- the pages ------------------------------------------------------------------------------


@pytest.fixture
def resnet18_on_mirror(mirror, monkeypatch) -> weights.WeightsFile:
    """A ResNet-18 state_dict published on the mirror as torchvision would name it."""
    torch.manual_seed(5)
    return _publish(mirror, zoo.build_model("resnet18", variant="imagenet").state_dict(),
                    "resnet18", monkeypatch)


def _texts(elements) -> list[str]:
    return [e.value for e in elements]


def test_feature_maps_offers_the_download_and_then_uses_the_weights(open_page,
                                                                    resnet18_on_mirror):
    at = open_page("pages/feature_maps.py")
    assert not at.exception
    assert at.radio(key="fm_weights").value == "Random (seeded)"
    assert any("Random weights: this network has learned nothing" in t for t in _texts(at.info))
    (button,) = [b for b in at.button if b.key == "fm_download"]
    assert button.label == f"Download ImageNet weights ({resnet18_on_mirror.size_mb:.0f} MB)"
    button.click().run()
    assert not at.exception, at.exception
    assert resnet18_on_mirror.is_cached()
    assert at.radio(key="fm_weights").value == "ImageNet pretrained"
    assert not [b for b in at.button if b.key == "fm_download"]
    assert not any("Random weights" in t for t in _texts(at.info))

    fresh = open_page("pages/feature_maps.py")  # a new student: ImageNet is the default now
    assert fresh.radio(key="fm_weights").value == "ImageNet pretrained"


def test_a_failed_download_says_one_sentence_on_the_page(open_page, mirror):
    at = open_page("pages/feature_maps.py")
    at.button(key="fm_download").click().run()  # 404 on the mirror
    assert not at.exception
    (error,) = _texts(at.error)
    assert error.startswith("Downloading resnet18-f37072fd.pth from http://127.0.0.1:")
    assert "answered 404" in error and "copy the file to" in error
    assert at.radio(key="fm_weights").value == "Random (seeded)"
    assert not zoo.pretrained_file("resnet18").is_cached()


def test_model_zoo_offers_the_download_for_imagenet_networks(open_page, resnet18_on_mirror):
    at = open_page("pages/zoo.py", zoo_model="resnet18", zoo_variant="imagenet")
    assert not at.exception
    (button,) = [b for b in at.button if b.key == "zoo_download"]
    assert any(resnet18_on_mirror.source_url in c for c in _texts(at.caption))
    button.click().run()
    assert not at.exception and resnet18_on_mirror.is_cached()
    assert any("Pretrained ImageNet weights" in s for s in _texts(at.success))
    assert not [b for b in at.button if b.key == "zoo_download"]


def test_a_failed_download_says_why_in_chinese(mirror, monkeypatch):
    entry = _publish(mirror, _small_state(), "tiny", monkeypatch)
    served = mirror / entry.filename
    served.write_bytes(served.read_bytes()[:1000])
    with i18n.use_language("zh"), pytest.raises(weights.DownloadError) as err:
        weights.download(entry)
    message = str(err.value)
    assert message.startswith(f"从 {entry.source_url} 下载 {entry.filename} 失败：")
    assert "已被拒绝并删除" in message and str(entry.path) in message
