"""Who may do what with a run, checked by the functions that act, whatever the page shows."""

from __future__ import annotations

import io
import os

import pytest
import torch

from explorer.classroom import identity
from explorer.training import access, engine, run_queue, runs
from explorer.training.config import TrainConfig

KEY = b"s" * 32
ALICE = access.Actor(identity.owner_tag(identity.new_id(), KEY))
BOB = access.Actor(identity.owner_tag(identity.new_id(), KEY))
TEACHER = access.Actor(identity.owner_tag(identity.new_id(), KEY), teacher=True)


@pytest.fixture
def root(tmp_path):
    return tmp_path / "runs"


def _run(root, actor=ALICE, **config) -> runs.RunInfo:
    """A queued run of `actor` (in the queue, as Train leaves it)."""
    run_dir = run_queue.submit(TrainConfig(device="cpu", **config), actor.owner, root)
    return runs.run_info(run_dir)


def _finished(root, actor=ALICE) -> runs.RunInfo:
    info = _run(root, actor)
    run_queue.claim(next(w for w in run_queue.waiting(root) if w.run_id == info.run_id))
    runs.write_status(info.path, "finished", epochs_done=1)
    torch.save({"state_dict": {"w": torch.ones(2)}, "config": info.config.to_dict(), "epoch": 1},
               info.path / "checkpoint.pt")
    return runs.run_info(info.path)


def _tree(folder) -> set[str]:
    return {str(p.relative_to(folder)) for p in folder.rglob("*")}


@pytest.mark.parametrize("bad", [
    "../../x", "../runs", "/etc", "/etc/passwd", "..", ".", "", " ", "a/b", "20261201-101010",
    "20261201-101010-lenet5-mnist-mini-3fa9/../../x", "20261201-101010-LENET-3fa9", None, 7,
    "20261201-101010-lenet5-mnist-mini-3fa9\x00", "20261201-101010-x-3fa9" + "-a" * 40,
])
def test_bad_run_ids_are_refused_with_one_sentence_and_touch_nothing(root, bad):
    _finished(root)
    before = _tree(root.parent)
    with pytest.raises(access.AccessDenied) as err:
        access.run_path(bad, root)
    assert str(err.value).startswith("There is no run") and str(err.value).endswith(".")
    assert str(root) not in str(err.value)
    assert _tree(root.parent) == before


def test_a_symlink_out_of_the_runs_folder_is_refused(root, tmp_path):
    real = _finished(root)
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (outside / "config.json").write_text((real.path / "config.json").read_text())
    link = root / "20261201-101010-lenet5-mnist-mini-abcd"
    link.symlink_to(outside, target_is_directory=True)
    nested = root / real.run_id / "20261201-101010-lenet5-mnist-mini-abce"
    with pytest.raises(access.AccessDenied):
        access.run_path(link.name, root)
    with pytest.raises(access.AccessDenied):
        access.run_path(str(nested.relative_to(root)), root)
    with pytest.raises(access.AccessDenied):
        access.open_run(link.name, TEACHER, root)
    assert sorted(p.name for p in outside.iterdir()) == ["config.json"]


def test_a_missing_and_a_forbidden_run_read_the_same(root):
    info = _finished(root)
    with pytest.raises(access.AccessDenied) as forbidden:
        access.open_run(info.run_id, BOB, root)
    missing_id = info.run_id[:-4] + ("0000" if not info.run_id.endswith("0000") else "0001")
    with pytest.raises(access.AccessDenied) as missing:
        access.open_run(missing_id, BOB, root)
    assert str(forbidden.value).replace(info.run_id, "ID") == str(missing.value).replace(
        missing_id, "ID")


def test_owner_and_teacher_open_a_run_others_only_once_it_is_shared(root):
    info = _finished(root)
    assert access.open_run(info.run_id, ALICE, root).run_id == info.run_id
    assert access.open_run(info.run_id, TEACHER, root).run_id == info.run_id
    assert [r.run_id for r in access.visible_runs(BOB, root)] == []
    with pytest.raises(access.AccessDenied):
        access.set_shared(info.run_id, ALICE, True, root)  # a student cannot share
    access.set_shared(info.run_id, TEACHER, True, root)
    assert access.open_run(info.run_id, BOB, root).run_id == info.run_id
    assert [r.run_id for r in access.visible_runs(BOB, root)] == [info.run_id]
    access.set_shared(info.run_id, TEACHER, False, root)
    with pytest.raises(access.AccessDenied):
        access.open_run(info.run_id, BOB, root)


def test_only_owner_or_teacher_can_stop_a_run_the_queue_checks(root):
    info = _run(root)
    impostor = access.Actor(info.config.owner.upper())  # near misses are not the owner
    for other in (BOB, impostor, access.Actor("")):
        with pytest.raises(access.AccessDenied, match="Only the student"):
            run_queue.request_stop(info.path, other)
    assert not run_queue.stop_requested(info.path)
    assert [w.run_id for w in run_queue.waiting(root)] == [info.run_id]
    assert runs.read_status(info.path).state == "queued"
    assert run_queue.request_stop(info.path, TEACHER) == "dropped"
    second = _run(root)
    assert run_queue.request_stop(second.path, ALICE) == "dropped"


def test_a_shared_run_still_cannot_be_stopped_by_another_student(root):
    info = _run(root)
    access.set_shared(info.run_id, TEACHER, True, root)
    with pytest.raises(access.AccessDenied):
        run_queue.request_stop(info.path, BOB)


def test_downloaded_checkpoints_carry_no_owner(root):
    info = _finished(root)
    assert info.config.owner == ALICE.owner
    data = access.checkpoint_download(info.run_id, ALICE, root)
    assert ALICE.owner.encode() not in data
    ckpt = torch.load(io.BytesIO(data), weights_only=True)
    assert ckpt["config"]["owner"] == "" and ckpt["config"]["run_id"] == info.run_id
    assert torch.equal(ckpt["state_dict"]["w"], torch.ones(2))
    with pytest.raises(access.AccessDenied):
        access.checkpoint_download(info.run_id, BOB, root)
    access.set_shared(info.run_id, TEACHER, True, root)
    assert ALICE.owner.encode() not in access.checkpoint_download(info.run_id, BOB, root)


def test_owner_ids_are_not_in_what_students_can_list(root):
    info = _finished(root)
    access.set_shared(info.run_id, TEACHER, True, root)
    listed = access.visible_runs(BOB, root)
    assert listed and all(not BOB.owns(r.config) for r in listed)
    assert ALICE.owner not in info.run_id


def test_delete_is_for_the_owner_or_teacher_and_never_a_live_run(root):
    live = _run(root)
    with pytest.raises(access.AccessDenied, match="stop it first"):
        access.delete_run(live.run_id, ALICE, root)
    run_queue.request_stop(live.path, ALICE)
    done = _finished(root, BOB)
    with pytest.raises(access.AccessDenied):
        access.delete_run(done.run_id, ALICE, root)
    access.set_shared(done.run_id, TEACHER, True, root)
    with pytest.raises(access.AccessDenied, match="Only the student"):
        access.delete_run(done.run_id, ALICE, root)  # seeing a shared run is not owning it
    access.delete_run(done.run_id, TEACHER, root)
    assert not done.path.exists()
    access.delete_run(live.run_id, ALICE, root)
    assert not live.path.exists() and not any(
        w.run_id == live.run_id for w in run_queue.waiting(root))


def test_the_operator_is_the_teacher():
    assert access.Actor.operator().teacher


def test_prepare_run_records_the_tag_given(root):
    run_dir = engine.prepare_run(TrainConfig(device="cpu"), root, owner=ALICE.owner)
    assert runs.read_config(run_dir).owner == ALICE.owner
    assert os.path.isdir(run_dir)


@pytest.mark.parametrize("crafted", ["../../x", "/etc/passwd", "..", "%2e%2e"])
def test_a_crafted_run_link_gets_one_sentence_on_the_page(crafted):
    from streamlit.testing.v1 import AppTest

    from tests.conftest import APP

    at = AppTest.from_file(str(APP), default_timeout=120)
    at.query_params["run"] = crafted
    at.run()
    at.switch_page("../pages/training.py").run()
    assert not at.exception
    warnings = [w.value for w in at.warning]
    assert f"There is no run {crafted!r} that you can open." in warnings
    shown = " ".join(e.value for e in [*at.warning, *at.info, *at.caption, *at.markdown]
                     if isinstance(e.value, str))
    assert str(runs.runs_dir()) not in shown and "/tmp" not in shown
