"""A trained run taken home (explorer/training/export.py): the `.pt` state_dict loads with
weights_only=True, the ONNX file passes onnx's checker and gives the network's outputs, each
file's loading code runs as shown, and neither names the owner or leaves for another student."""

from __future__ import annotations

import io
import os

import pytest
import torch
from PIL import Image

from explorer.classroom import identity
from explorer.models import zoo
from explorer.training import access, checkpoints, export, run_queue, runs
from explorer.training.config import TrainConfig

KEY = b"e" * 32
ALICE = access.Actor(identity.owner_tag(identity.new_id(), KEY))
BOB = access.Actor(identity.owner_tag(identity.new_id(), KEY))


@pytest.fixture
def run(tmp_path, monkeypatch) -> tuple[runs.RunInfo, torch.nn.Module]:
    """A finished LeNet-5 run of Alice's on mnist-mini, with a checkpoint of seeded weights."""
    monkeypatch.setenv("EXPLORER_RUNS_DIR", str(tmp_path / "runs"))
    run_dir = run_queue.submit(TrainConfig(model="lenet5", device="cpu"), ALICE.owner)
    info = runs.run_info(run_dir)
    run_queue.claim(next(w for w in run_queue.waiting() if w.run_id == info.run_id))
    model = zoo.build_seeded("lenet5", seed=3, **info.config.build_kwargs()).eval()
    checkpoints.save(run_dir, model, info.config, epoch=1)
    runs.write_status(run_dir, "finished", epochs_done=1)
    return runs.run_info(run_dir), model


def _photo(folder) -> None:
    Image.new("RGB", (50, 40), (200, 30, 90)).save(folder / "photo.jpg")


def test_the_state_dict_file_loads_with_weights_only_and_runs_its_code(run, tmp_path,
                                                                     monkeypatch):
    info, model = run
    data = export.state_dict_file(info.run_id, ALICE)
    assert ALICE.owner.encode() not in data and b"owner" not in data
    loaded = torch.load(io.BytesIO(data), weights_only=True)
    assert set(loaded) == set(model.state_dict()), "the state_dict alone"
    with pytest.raises(access.AccessDenied, match="no run"):
        export.state_dict_file(info.run_id, BOB)
    stem = export.file_stem(info.config)
    (tmp_path / f"{stem}.pt").write_bytes(data)
    _photo(tmp_path)
    monkeypatch.chdir(tmp_path)  # the code names its files as a student's folder holds them
    scope: dict = {}
    exec(export.loading_code(info.config, "pt"), scope)
    assert torch.allclose(scope["probabilities"],
                          model(scope["x"][None]).softmax(1)[0], atol=1e-3)


def test_the_onnx_file_passes_the_checker_and_matches_the_network(run, tmp_path, monkeypatch):
    onnx = pytest.importorskip("onnx")
    info, model = run
    data = export.onnx_file(info.run_id, ALICE)
    assert ALICE.owner.encode() not in data
    onnx.checker.check_model(onnx.load_from_string(data))
    with pytest.raises(access.AccessDenied, match="no run"):
        export.onnx_file(info.run_id, BOB)
    ort = pytest.importorskip("onnxruntime")
    batch = torch.randn(3, *info.config.input_shape)
    (logits,) = ort.InferenceSession(data).run(None, {"image": batch.numpy()})
    assert torch.allclose(torch.from_numpy(logits), model(batch).detach(), atol=1e-4)
    (tmp_path / f"{export.file_stem(info.config)}.onnx").write_bytes(data)
    _photo(tmp_path)
    monkeypatch.chdir(tmp_path)
    scope: dict = {}
    exec(export.loading_code(info.config, "onnx"), scope)
    assert torch.allclose(torch.from_numpy(scope["logits"]), model(scope["x"][None]).detach(),
                          atol=1e-4)


def test_a_class_asking_for_one_onnx_file_exports_it_once_and_a_new_checkpoint_again(
        run, monkeypatch):
    info, model = run
    export._onnx_of.cache_clear()
    exported = []
    monkeypatch.setattr(export, "to_onnx", lambda m, shape: exported.append(shape) or b"onnx")
    assert [export.onnx_file(info.run_id, ALICE) for _ in range(3)] == [b"onnx"] * 3
    assert len(exported) == 1, "the kept file, not three exports"
    with pytest.raises(access.AccessDenied, match="no run"):
        export.onnx_file(info.run_id, BOB)  # kept or not, the file is Alice's
    checkpoints.save(info.path, model, info.config, epoch=2)  # the run trained on
    ckpt = info.path / "checkpoint.pt"
    stamp = ckpt.stat().st_mtime_ns
    os.utime(ckpt, ns=(stamp + 10**9, stamp + 10**9))  # a coarse clock's same tick, apart
    export.onnx_file(info.run_id, ALICE)
    assert len(exported) == 2, "a new checkpoint is exported anew"
