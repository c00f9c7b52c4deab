"""A student's own classes (explorer/training/own_classes.py): kept per student, on disk,
within a quota; bad files and hostile zips get one sentence each and write nothing elsewhere."""

from __future__ import annotations

import io
import zipfile

import pytest
import torch
from PIL import Image

from explorer.training import own_classes as own
from explorer.training.access import AccessDenied, Actor
from tests.shapes import shape_png

ALICE, BOB, TEACHER = Actor("a" * 32), Actor("b" * 32), Actor("t" * 32, teacher=True)


@pytest.fixture(autouse=True)
def runs_root(tmp_path, monkeypatch):
    monkeypatch.setenv("EXPLORER_RUNS_DIR", str(tmp_path / "runs"))
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # small batches: two OpenMP threads on 2 busy cores wait
    yield tmp_path / "runs"
    torch.set_num_threads(threads)


def _png(colour: tuple[int, int, int], size: tuple[int, int] = (40, 30)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, colour).save(out, format="PNG")
    return out.getvalue()


def _zip(members: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return out.getvalue()


def _files(root) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()}


def test_a_dataset_is_its_owner_s_and_the_teacher_s_alone(runs_root):
    ref = own.create(ALICE, "Fruit", ["apple", "banana", "cherry"])
    report = own.add_files(ALICE, ref, 0, [("red.png", _png((200, 0, 0))),
                                           ("red again.png", _png((200, 0, 0))),
                                           ("pink.png", _png((250, 120, 120)))])
    assert report.added == 3 and report.refused == []
    assert [len(ids) for ids in own.images_of(ALICE, ref)] == [2, 0, 0], "the same shot once"
    for nosy in (BOB, Actor("")):
        assert own.listing(nosy) == []
        for act, *args in ((own.meta,), (own.images_of,), (own.delete,),
                           (own.add_files, 0, [("x.png", _png((0, 0, 0)))])):
            with pytest.raises(AccessDenied, match="no such dataset"):
                act(nosy, ref, *args)
    assert own.listing(TEACHER) == [ref]
    first = own.images_of(ALICE, ref)[0][0]
    own.move(TEACHER, ref, 0, first, 2)
    own.remove(TEACHER, ref, 2, first)
    assert [len(ids) for ids in own.images_of(ALICE, ref)] == [1, 0, 0]
    with pytest.raises(own.OwnDatasetError, match="no longer in this class"):
        own.remove(ALICE, ref, 0, "../../meta")
    own.delete(ALICE, ref)
    assert own.listing(ALICE) == []


@pytest.mark.parametrize("classes", [["only one"], [f"c{i}" for i in range(11)],
                                     ["cat", "Cat"], ["cat", "  "]])
def test_class_names_are_checked(classes):
    with pytest.raises(own.OwnDatasetError):
        own.create(ALICE, "x", classes)


def test_bad_files_get_a_sentence_each_and_the_rest_go_in(runs_root):
    ref = own.create(ALICE, "Shapes", ["round", "square"])
    report = own.add_files(ALICE, ref, 1, [("empty.png", b""), ("notes.txt", b"hello"),
                                           ("cut.png", _png((1, 2, 3))[:60]),
                                           ("fine.jpg", _png((9, 9, 9)))])
    assert report.added == 1 and len(report.refused) == 3
    assert "empty" in report.refused[0] and "not an image" in report.refused[1]
    assert "truncated" in report.refused[2] or "damaged" in report.refused[2]
    (stored,) = own.images_of(ALICE, ref)[1]
    with Image.open(own.image_path(ALICE, ref, 1, stored)) as image:
        assert image.format == "PNG" and max(image.size) <= own.STORE_SIDE


def test_a_zip_s_folders_name_the_classes_and_hostile_members_are_left_out(runs_root):
    ref = own.create(ALICE, "Pets", ["cat", "dog"])
    data = _zip({"pets/cat/1.png": _png((1, 1, 1)), "pets/Dog/2.png": _png((2, 2, 2)),
                 "pets/dog/readme.txt": b"not an image", "../escape.png": _png((3, 3, 3)),
                 "/etc/abs.png": _png((4, 4, 4)), "pets/bird/3.png": _png((5, 5, 5)),
                 "loose.png": _png((6, 6, 6))})
    report = own.add_zip(ALICE, ref, data)
    assert report.added == 2, report
    refused = "\n".join(report.refused)
    assert "readme.txt" in refused and "not an image" in refused
    assert "escape.png” points outside the zip" in refused
    assert "abs.png” points outside the zip" in refused
    assert "3.png” is not in a folder named after one of your classes" in refused
    assert [len(ids) for ids in own.images_of(ALICE, ref)] == [1, 1]
    assert all(path.startswith(".own/") for path in _files(runs_root)), _files(runs_root)
    into = own.add_zip(ALICE, ref, _zip({"a.png": _png((7, 7, 7))}), class_index=1)
    assert into.added == 1


def test_zip_bombs_many_files_and_junk_are_refused_whole(runs_root):
    ref = own.create(ALICE, "x", ["a", "b"])
    bomb = io.BytesIO()
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("a/zeros.png", b"\0" * (own.MAX_ZIP_BYTES + 1))
    assert len(bomb.getvalue()) < 2**20, "a small file that unpacks to 200 MB"
    with pytest.raises(own.OwnDatasetError, match="unpacks to more than 200 MB"):
        own.add_zip(ALICE, ref, bomb.getvalue())
    many = _zip({f"a/{i}.png": b"x" for i in range(10_000)})
    with pytest.raises(own.OwnDatasetError, match="10,000 files"):
        own.add_zip(ALICE, ref, many)
    with pytest.raises(own.OwnDatasetError, match="not a zip file"):
        own.add_zip(ALICE, ref, b"PK\x03\x04 but no more")
    assert own.images_of(ALICE, ref) == [[], []]


def test_the_quota_stops_an_upload_with_one_sentence(runs_root, monkeypatch):
    monkeypatch.setenv("EXPLORER_OWN_IMAGES", "3")
    ref = own.create(ALICE, "x", ["a", "b"])
    report = own.add_files(ALICE, ref, 0, [(f"{i}.png", _png((i, 0, 0))) for i in range(5)])
    assert report.added == 3 and len(report.refused) == 1
    assert "quota is full (3 images" in report.refused[0]
    other = own.create(ALICE, "y", ["a", "b"])  # the quota is the student's, over datasets
    assert own.add_files(ALICE, other, 0, [("9.png", _png((9, 9, 9)))]).added == 0
    assert own.add_files(BOB, own.create(BOB, "z", ["a", "b"]), 0,
                         [("9.png", _png((9, 9, 9)))]).added == 1


def test_warnings_split_and_tensors(runs_root):
    assert own.warnings([0, 12], ["a", "b"])[0].startswith("Training needs images in at least")
    said = own.warnings([4, 40], ["a", "b"])
    assert any("Fewer than 10 images in a" in s for s in said)
    assert any("unbalanced (4 to 40" in s for s in said)
    assert own.warnings([20, 25], ["a", "b"]) == []
    labels = torch.tensor([0] * 20 + [1] * 10 + [2] * 2)
    train, test = own.stratified_split(labels, 0.2, seed=0)
    assert sorted(torch.cat([train, test]).tolist()) == list(range(32))
    assert [int((labels[test] == k).sum()) for k in range(3)] == [4, 2, 1]
    ref = own.create(ALICE, "x", ["a", "b"])
    own.add_files(ALICE, ref, 1, [("wide.png", _png((10, 200, 30), (90, 30)))])
    x, y, names = own.tensors(ALICE, ref, 16)
    assert x.shape == (1, 3, 16, 16) and x.dtype == torch.uint8 and y.tolist() == [1]
    assert names == ["a", "b"] and x[0, 1].float().mean() == pytest.approx(200, abs=2)


def test_lenet5_learns_three_generated_shapes_from_scratch(runs_root):
    import time

    import numpy as np

    from explorer.training import augment, engine, runs
    from explorer.training.config import TrainConfig

    rng = np.random.default_rng(0)
    kinds = ["circle", "square", "triangle"]
    ref = own.create(ALICE, "Shapes", kinds)
    for index, kind in enumerate(kinds):
        report = own.add_files(ALICE, ref, index,
                               [(f"{kind}{i}.png", shape_png(kind, rng)) for i in range(60)])
        assert report.added == 60, report.refused
    config = TrainConfig(model="lenet5", dataset=ref.key, epochs=20, batch_size=32, lr=1e-2,
                         device="cpu", folder_size=32, seed=0,
                         augment=augment.AugmentConfig(hflip=True, crop_padding=2))
    with pytest.raises(ValueError, match="no such dataset"):
        engine.prepare_run(config, owner=BOB.owner)  # nobody else's runs train on it
    start = time.monotonic()
    run_dir = engine.prepare_run(config, owner=ALICE.owner)
    status = engine.train(run_dir)
    took = time.monotonic() - start
    assert status["state"] == "finished", status
    evaluation = runs.read_evaluation(run_dir)
    print(f"held-out accuracy {evaluation.accuracy:.1%} on {sum(map(sum, evaluation.confusion))}"
          f" images in {took:.0f} s; per class {evaluation.per_class_accuracy}")
    assert sum(map(sum, evaluation.confusion)) == 36, "a fifth of each class held out"
    assert evaluation.accuracy >= 0.9 and took < 60


@pytest.mark.parametrize("frozen", [True, False])
def test_fine_tuning_a_resnet18_moves_only_its_new_head_when_the_backbone_is_frozen(
        runs_root, tmp_path, monkeypatch, frozen):
    """d2l's fine-tuning on a student's classes, from a local stand-in for the ImageNet file
    (a seeded torchvision ResNet-18, checked by its SHA-256 like the published one)."""
    import dataclasses
    import hashlib

    import numpy as np
    import torchvision

    from explorer.models import weights, zoo
    from explorer.training import checkpoints, engine
    from explorer.training.config import TrainConfig

    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "hub"))
    torch.manual_seed(0)
    published = torchvision.models.resnet18(weights=None).state_dict()
    file = zoo.pretrained_file("resnet18")
    file.path.parent.mkdir(parents=True)
    torch.save(published, file.path)
    monkeypatch.setitem(weights.REGISTRY, file.enum_name, dataclasses.replace(
        file, sha256=hashlib.sha256(file.path.read_bytes()).hexdigest()))
    rng = np.random.default_rng(1)
    kinds = ["circle", "square", "triangle"]
    ref = own.create(ALICE, "Shapes", kinds)
    for index, kind in enumerate(kinds):
        own.add_files(ALICE, ref, index, [(f"{i}.png", shape_png(kind, rng)) for i in range(8)])
    config = TrainConfig(model="resnet18", dataset=ref.key, epochs=1, batch_size=8,
                         optimizer="sgd", lr=0.05, device="cpu", folder_size=64,
                         pretrained=True, freeze_backbone=frozen)
    run_dir = engine.prepare_run(config, owner=ALICE.owner)
    status = engine.train(run_dir)
    assert status["state"] == "finished", status
    tuned = checkpoints.load(run_dir)["state_dict"]
    assert tuned["fc.weight"].shape == (3, 512), "a new head for the three classes"
    start = zoo.build_seeded("resnet18", seed=0, variant="imagenet", num_classes=3)
    assert not torch.equal(tuned["fc.weight"], start.state_dict()["fc.weight"])
    backbone = [k for k, v in published.items() if k in tuned and tuned[k].shape == v.shape
                and v.dtype.is_floating_point and "running" not in k]
    assert len(backbone) == 60, "every conv and BatchNorm parameter came from the file"
    moved = [k for k in backbone if not torch.equal(tuned[k], published[k])]
    assert (moved == []) == frozen, moved[:5]


@pytest.mark.parametrize("filled", [[0, 0], [5, 0], [5, 1]], ids=["empty", "one class only",
                                                                   "one image in a class"])
def test_a_run_on_empty_or_single_classes_is_refused_in_one_sentence(runs_root, filled):
    from explorer.training import run_queue
    from explorer.training.config import TrainConfig

    ref = own.create(ALICE, "x", ["a", "b"])
    for index, n in enumerate(filled):
        own.add_files(ALICE, ref, index, [(f"{i}.png", _png((i, index, 9))) for i in range(n)])
    before = _files(runs_root)
    with pytest.raises(ValueError) as err:
        run_queue.submit(TrainConfig(model="lenet5", dataset=ref.key, device="cpu"), ALICE.owner)
    sentence = str(err.value)
    assert sentence.startswith(("Training needs", "This dataset has no images")), sentence
    assert sentence.count(".") == 1 and str(runs_root) not in sentence
    assert not [p for p in _files(runs_root) - before if not p.endswith(".lock")], \
        "no run folder is left behind (a lock file at most)"


def test_an_uploaded_folder_goes_by_its_sub_folders_and_is_capped(runs_root):
    ref = own.create(ALICE, "Pets", ["cat", "dog"])
    report = own.add_folder(ALICE, ref, [("pets/cat/1.png", _png((1, 1, 1))),
                                         ("pets/dog/2.png", _png((2, 2, 2))),
                                         ("pets/3.png", _png((3, 3, 3))),
                                         ("pets/x.txt", b"text")], class_index=1)
    assert report.added == 3 and len(report.refused) == 1, report
    assert [len(ids) for ids in own.images_of(ALICE, ref)] == [1, 2]
    with pytest.raises(own.OwnDatasetError, match="at most 2,000 are read at once"):
        own.add_folder(ALICE, ref, [(f"f/{i}.png", b"x") for i in range(own.MAX_ZIP_MEMBERS + 1)])


def test_the_contact_sheet_and_the_split_counts(runs_root):
    ref = own.create(ALICE, "x", ["a", "b"])
    own.add_files(ALICE, ref, 0, [(f"{i}.png", _png((i * 20, 0, 0))) for i in range(10)])
    sheet, count = own.contact_sheet(ALICE, ref, 0, most=6, tile=32, columns=4)
    assert count == 10 and sheet.size == (4 * 34, 2 * 34), "6 tiles: two rows of four"
    assert own.contact_sheet(ALICE, ref, 1) == (None, 0)
    with pytest.raises(AccessDenied):
        own.contact_sheet(BOB, ref, 0)
    assert own.split_counts([10, 5, 1, 0]) == [(8, 2), (4, 1), (1, 0), (0, 0)]
    assert own.usage(ALICE, ref)[0] == 10 and own.usage(TEACHER, ref)[0] == 10


@pytest.mark.parametrize("into", [-1, 2, "0"])
def test_a_zip_or_folder_into_no_such_class_is_refused_and_writes_nothing(runs_root, into):
    ref = own.create(ALICE, "x", ["a", "b"])
    before = _files(runs_root)
    for add in (lambda: own.add_zip(ALICE, ref, _zip({"1.png": _png((1, 1, 1))}), into),
                lambda: own.add_folder(ALICE, ref, [("1.png", _png((1, 1, 1)))], into)):
        with pytest.raises(own.OwnDatasetError, match="That class is not in this dataset"):
            add()
    assert _files(runs_root) == before


def test_a_black_webcam_shot_is_told_apart(runs_root):
    assert own.blank_shot(_png((0, 0, 0))) and own.blank_shot(_png((3, 5, 2)))
    assert not own.blank_shot(_png((0, 0, 40))) and not own.blank_shot(b"not an image")
