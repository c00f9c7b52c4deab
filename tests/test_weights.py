"""Pretrained weights on request: a checked download from a local HTTP server on 127.0.0.1,
and a check of the cached file before it is used.

Files are served through `$EXPLORER_WEIGHTS_URL` the way a school's mirror would serve them;
each is named after its own SHA-256 the way torchvision names its files, and the registry
entry of a network is pointed at it. The mirror counts the requests it answers. No test here
touches the internet.
"""

from __future__ import annotations

import hashlib
import http.server
import io
import os
import pickle
import re
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from functools import partial
from pathlib import Path

import pytest
import torch

from explorer import i18n
from explorer.models import weights, weights_digests, zoo

RESNET18 = "ResNet18_Weights.IMAGENET1K_V1"
REPO_ROOT = Path(__file__).resolve().parent.parent
#: The file name of every GET the mirror answered, in order; emptied for each test.
served_names: list[str] = []  # lowercase: a list that changes, not a constant


class _Handler(http.server.SimpleHTTPRequestHandler):
    """Serves the folder; a name containing "cut-" announces its full size, sends half, hangs
    up; one containing "slow-" takes about 1.2 s to send."""

    def log_message(self, *args) -> None:  # keep pytest's output clean
        pass

    def do_GET(self) -> None:
        path = Path(self.translate_path(self.path))
        served_names.append(path.name)
        if not path.is_file() or not {"cut-", "slow-"} & {path.name[:4], path.name[:5]}:
            super().do_GET()
            return
        data = path.read_bytes()
        self.send_response(200)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if path.name.startswith("cut-"):
            self.wfile.write(data[: len(data) // 2])
            self.wfile.flush()
            self.close_connection = True
            return
        step = len(data) // 8 + 1
        for start in range(0, len(data), step):
            self.wfile.write(data[start:start + step])
            self.wfile.flush()
            time.sleep(0.15)


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
    served_names.clear()
    try:
        yield served / "models"
    finally:
        server.shutdown()
        server.server_close()


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _register(data: bytes, stem: str, monkeypatch, enum_name: str = RESNET18,
              sha256: str = "") -> weights.WeightsFile:
    """Point the registry at a file `<stem>-<sha256[:8]>.pth` holding `data`."""
    name = f"{stem}-{_sha256(data)[:8]}.pth"
    entry = weights.WeightsFile(enum_name, f"https://download.pytorch.org/models/{name}",
                                len(data) / 2**20, sha256)
    monkeypatch.setitem(weights.REGISTRY, enum_name, entry)
    return entry


def _saved(state: dict) -> bytes:
    buffer = io.BytesIO()
    torch.save(state, buffer)
    return buffer.getvalue()


def _publish(folder: Path, state: dict, stem: str, monkeypatch, enum_name: str = RESNET18,
             sha256: str = "") -> weights.WeightsFile:
    """Save `state` as `<stem>-<sha256[:8]>.pth` in the mirror and point the registry at it."""
    data = _saved(state)
    entry = _register(data, stem, monkeypatch, enum_name, sha256)
    (folder / entry.filename).write_bytes(data)
    return entry


def _small_state() -> dict[str, torch.Tensor]:
    return {"conv.weight": torch.arange(600, dtype=torch.float32).reshape(6, 1, 10, 10)}


def _left_in_cache(entry: weights.WeightsFile) -> list[str]:
    """Every file under the torch hub folder but the download locks, hidden ones included."""
    hub = entry.path.parent.parent
    return sorted(p.relative_to(hub).as_posix() for p in hub.rglob("*")
                  if p.is_file() and p.parent.name != weights.LOCKS_DIR)


def _stored(entry: weights.WeightsFile) -> list[str]:
    """What a good download leaves: the file and its recorded SHA-256."""
    return [f"checkpoints/{entry.filename}", f"checkpoints/{entry.filename}.sha256"]


def _names_no_folder(message: str, tmp_path: Path) -> None:
    """Students read these sentences: a file name, never a path on the server."""
    assert str(tmp_path) not in message and "checkpoints" + os.sep not in message, message
    assert not re.search(r"(^|[\s(“`'\"])/\w", message), message


def _as_if_in_a_new_process(monkeypatch) -> None:
    """Forget which cached files this process has checked."""
    monkeypatch.setattr(weights, "_CHECKED", {})


def _no_load(*args, **kwargs):
    raise AssertionError("a refused file must never be loaded")


REFUSED = ("The weights file {file} on this server does not match its SHA-256 (it is damaged "
           "or was replaced), so it was not loaded: press the download button to fetch it "
           "again, or ask whoever runs the server to delete it.")


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


def test_known_full_digests_are_well_formed_and_reach_the_entries(monkeypatch):
    for filename, digest in weights_digests.SHA256.items():
        assert re.fullmatch(r"[0-9a-f]{64}", digest), filename
        prefix = weights.WeightsFile("", f"https://x/{filename}", 0.0).hash_prefix
        assert prefix and digest.startswith(prefix), f"{filename}: not its name's prefix"
    fake = "f37072fd" + "0" * 56  # not the real digest: only its way into the entry is tested
    monkeypatch.setitem(weights_digests.SHA256, "resnet18-f37072fd.pth", fake)
    monkeypatch.setattr(weights, "REGISTRY", {})
    assert weights.entry(RESNET18).sha256 == fake
    assert zoo.pretrained_file("resnet18").full_sha256() == fake
    assert weights.entry("AlexNet_Weights.IMAGENET1K_V1").sha256 == ""


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
    assert _left_in_cache(entry) == _stored(entry), "no temporary file is left behind"
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
    assert entry.source_url in message and entry.filename in message
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
    assert entry.source_url in str(err.value)
    assert _left_in_cache(entry) == []


def test_dead_server_says_what_failed_and_where_to_copy_but_no_path(tmp_path, monkeypatch):
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
    assert message.endswith("To put it in place by hand, copy the file into the checkpoints "
                            "folder of the server's torch hub cache.")
    _names_no_folder(message, tmp_path)
    assert _left_in_cache(entry) == []


def test_missing_file_on_the_mirror(mirror, tmp_path):
    entry = zoo.pretrained_file("resnet18")
    with pytest.raises(weights.DownloadError, match="answered 404") as err:
        weights.download(entry)
    _names_no_folder(str(err.value), tmp_path)
    assert _left_in_cache(entry) == []


def test_an_unwritable_cache_is_reported_without_its_path(tmp_path, monkeypatch):
    hub = tmp_path / "hub"
    hub.write_text("a file where the hub folder should be")
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(hub))
    with pytest.raises(weights.DownloadError) as err:
        weights.download(zoo.pretrained_file("resnet18"))
    assert "failed: Not a directory. To put it in place by hand" in str(err.value)
    _names_no_folder(str(err.value), tmp_path)


def test_a_full_digest_is_checked_in_all_64_digits(mirror, monkeypatch, tmp_path):
    data = _saved(_small_state())
    right = _sha256(data)
    wrong = right[:-1] + ("0" if right[-1] != "0" else "1")  # the name's prefix still matches
    entry = _publish(mirror, _small_state(), "tiny", monkeypatch, sha256=wrong)
    with pytest.raises(weights.DownloadError) as err:
        weights.download(entry)
    message = str(err.value)
    assert f"its SHA-256 is {right}, not {wrong} as recorded for this file, so it was refused " \
           "and removed" in message
    _names_no_folder(message, tmp_path)
    assert _left_in_cache(entry) == [] and served_names == [entry.filename]

    entry = _publish(mirror, _small_state(), "tiny", monkeypatch, sha256=right)
    assert weights.download(entry) == entry.path and entry.is_cached()
    assert _left_in_cache(entry) == [f"checkpoints/{entry.filename}"], \
        "a digest the project knows needs no record"

    other = weights.WeightsFile(entry.enum_name, entry.url, entry.size_mb, wrong)
    _as_if_in_a_new_process(monkeypatch)
    assert not other.is_cached(), "a cached copy is checked against the full digest too"
    assert other.refusal() == REFUSED.format(file=entry.filename)


def test_first_download_records_the_full_digest_and_a_later_change_is_refused(
        mirror, monkeypatch, tmp_path):
    entry = _publish(mirror, _small_state(), "tiny", monkeypatch)
    path = weights.download(entry)
    digest = _sha256(path.read_bytes())
    assert entry.record_path.read_text() == f"{digest}  {entry.filename}\n"  # sha256sum -c reads it
    assert entry.full_sha256() == digest and entry.is_cached() and entry.refusal() is None

    # Same size, same mtime, one byte different: the next process to use it refuses it.
    before = path.stat()
    data = bytearray(path.read_bytes())
    data[-20] ^= 0x01
    path.write_bytes(bytes(data))
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    _as_if_in_a_new_process(monkeypatch)
    assert not entry.is_cached()
    message = entry.refusal()
    assert message == REFUSED.format(file=entry.filename)
    _names_no_folder(message, tmp_path)
    with monkeypatch.context() as m, pytest.raises(zoo.PretrainedMissing):
        m.setattr(torch, "load", _no_load)
        zoo.build_pretrained("resnet18")

    # Pressing download again fetches a sound copy, checked against the recorded digest.
    served_names.clear()
    assert weights.download(entry) == path and served_names == [entry.filename]
    assert entry.is_cached() and _sha256(path.read_bytes()) == digest

    # In the same process, a change that moves the mtime is seen at the next use.
    path.write_bytes(bytes(data))
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns + 10**9))
    assert not entry.is_cached() and entry.refusal() == REFUSED.format(file=entry.filename)


def test_a_file_copied_in_by_hand_is_recorded_on_first_use(mirror, monkeypatch):
    entry = _publish(mirror, _small_state(), "tiny", monkeypatch)
    entry.path.parent.mkdir(parents=True)
    entry.path.write_bytes((mirror / entry.filename).read_bytes())
    assert not entry.record_path.exists()
    assert entry.is_cached(), "its name's prefix matches: trusted on this first verified use"
    assert entry.record_path.read_text().split()[0] == _sha256(entry.path.read_bytes())
    assert served_names == []


def test_a_file_swapped_into_the_cache_is_refused_before_loading(offline_hub_path, monkeypatch):
    file = zoo.pretrained_file("resnet18")
    file.path.parent.mkdir(parents=True)
    torch.save(_small_state(), file.path)  # not what the name's SHA-256 prefix f37072fd says
    monkeypatch.setattr(torch, "load", _no_load)
    assert not file.is_cached() and file.refusal() == REFUSED.format(file=file.filename)
    with pytest.raises(zoo.PretrainedMissing):
        zoo.build_pretrained("resnet18")
    assert not file.record_path.exists(), "a refused file's digest is never recorded"


def test_an_unreadable_cached_file_is_refused(mirror, monkeypatch):
    entry = _publish(mirror, _small_state(), "tiny", monkeypatch)
    weights.download(entry)
    _as_if_in_a_new_process(monkeypatch)
    monkeypatch.setattr(weights, "_sha256_of", lambda path: open(path / "x"))  # noqa: SIM115
    assert entry.refusal() == (f"The weights file {entry.filename} on this server could not be "
                               "read, so it was not loaded: press the download button to fetch "
                               "it again, or ask whoever runs the server to delete it.")


_DOWNLOAD_IN_ANOTHER_PROCESS = """
import sys, time
from pathlib import Path
from explorer.models import weights
ready, go, url = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3]
ready.touch()
while not go.exists():
    time.sleep(0.01)
print(weights.download(weights.WeightsFile("Tiny", url, 0.0), timeout=60))
"""


@pytest.mark.slow
def test_two_processes_downloading_the_same_file_fetch_it_once(mirror, monkeypatch, tmp_path):
    """Two server replicas press the button at once: one fetches, the other waits and uses
    its file (the mirror takes about 1.2 s to send it, so they overlap)."""
    entry = _publish(mirror, _small_state(), "slow-tiny", monkeypatch)
    env = dict(os.environ, TORCH_HOME=str(tmp_path))  # their hub is this test's tmp_path/hub
    children = []
    for n in range(2):
        ready, go = tmp_path / f"ready-{n}", tmp_path / "go"
        children.append((ready, subprocess.Popen(
            [sys.executable, "-c", _DOWNLOAD_IN_ANOTHER_PROCESS, str(ready), str(go),
             entry.url], cwd=REPO_ROOT, env=env, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, text=True)))
    deadline = time.monotonic() + 120
    while not all(ready.exists() for ready, _ in children):
        assert time.monotonic() < deadline and all(c.poll() is None for _, c in children)
        time.sleep(0.05)
    (tmp_path / "go").touch()
    for _, child in children:
        out, err = child.communicate(timeout=120)
        assert child.returncode == 0, err
        assert out.strip() == str(entry.path)
    assert served_names == [entry.filename], "exactly one network fetch for the machine"
    assert _left_in_cache(entry) == _stored(entry)
    assert entry.is_cached()


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


def test_a_file_that_would_run_code_is_never_unpickled(offline_hub_path, monkeypatch, capsys):
    """Even a file that passes its hash check is read as tensors only (weights_only=True)."""
    payload = pickle.dumps({"fc.weight": _Payload()}, protocol=2)
    path = _register(payload, "resnet18", monkeypatch).path
    path.parent.mkdir(parents=True)
    path.write_bytes(payload)
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
    assert "answered 404" in error and "copy the file into the checkpoints folder" in error
    assert at.radio(key="fm_weights").value == "Random (seeded)"
    assert not zoo.pretrained_file("resnet18").is_cached()


def test_a_refused_copy_is_explained_on_the_page_and_fetched_again(open_page,
                                                                  resnet18_on_mirror, tmp_path):
    entry = resnet18_on_mirror
    entry.path.parent.mkdir(parents=True)
    entry.path.write_bytes(b"not the weights its name promises")
    at = open_page("pages/feature_maps.py")
    assert not at.exception
    assert REFUSED.format(file=entry.filename) in _texts(at.warning)
    assert at.radio(key="fm_weights").value == "Random (seeded)"
    (button,) = [b for b in at.button if b.key == "fm_download"]
    assert entry.hash_prefix in button.help and "recorded" in button.help
    _names_no_folder(button.help, tmp_path)
    button.click().run()
    assert not at.exception, at.exception
    assert entry.is_cached() and at.radio(key="fm_weights").value == "ImageNet pretrained"
    assert not [w for w in _texts(at.warning) if "was not loaded" in w]


def test_choosing_imagenet_with_a_refused_copy_says_only_why(open_page, resnet18_on_mirror):
    entry = resnet18_on_mirror
    entry.path.parent.mkdir(parents=True)
    entry.path.write_bytes(b"not the weights its name promises")
    at = open_page("pages/feature_maps.py", fm_weights="ImageNet pretrained")
    assert not at.exception
    assert _texts(at.warning) == [REFUSED.format(file=entry.filename)]
    assert any("Random weights: this network has learned nothing" in t for t in _texts(at.info))


def test_model_zoo_offers_the_download_for_imagenet_networks(open_page, resnet18_on_mirror,
                                                            tmp_path):
    at = open_page("pages/zoo.py", zoo_model="resnet18", zoo_variant="imagenet")
    assert not at.exception
    (button,) = [b for b in at.button if b.key == "zoo_download"]
    (by_hand,) = [c for c in _texts(at.caption) if resnet18_on_mirror.source_url in c]
    assert f"save it as {resnet18_on_mirror.filename} in the checkpoints folder" in by_hand
    _names_no_folder(by_hand, tmp_path)
    button.click().run()
    assert not at.exception and resnet18_on_mirror.is_cached()
    (success,) = [s for s in _texts(at.success) if "Pretrained ImageNet weights" in s]
    assert f"`{resnet18_on_mirror.filename}`" in success
    _names_no_folder(success, tmp_path)
    assert not [b for b in at.button if b.key == "zoo_download"]


def test_a_failed_download_says_why_in_chinese(mirror, monkeypatch, tmp_path):
    entry = _publish(mirror, _small_state(), "tiny", monkeypatch)
    served = mirror / entry.filename
    served.write_bytes(served.read_bytes()[:1000])
    with i18n.use_language("zh"), pytest.raises(weights.DownloadError) as err:
        weights.download(entry)
    message = str(err.value)
    assert message.startswith(f"从 {entry.source_url} 下载 {entry.filename} 失败：")
    assert "已被拒绝并删除" in message and message.endswith("checkpoints 文件夹中。")
    _names_no_folder(message, tmp_path)


def test_a_refused_copy_says_why_in_chinese(offline_hub_path):
    file = zoo.pretrained_file("resnet18")
    file.path.parent.mkdir(parents=True)
    file.path.write_bytes(b"swapped")
    with i18n.use_language("zh"):
        message = file.refusal()
    assert message == (f"服务器上的权重文件 {file.filename} 与它的 SHA-256 不符"
                       "（文件已损坏或被替换），所以没有加载它：请按下载按钮重新获取，"
                       "或请服务器的管理员把它删除。")
