"""The Your own classes page in AppTest: a new student gets the form and nothing of another
student's; a dataset made through the form is drawn with its thumbnails, split and Train."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from explorer.training import own_classes as own
from explorer.training.access import Actor

PAGE = "pages/own_classes.py"
BOB = Actor("b" * 32)


def _png(colour: tuple[int, int, int]) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (20, 20), colour).save(out, format="PNG")
    return out.getvalue()


@pytest.fixture
def bobs():
    """Another student's dataset in the runs folder the page reads, removed afterwards."""
    ref = own.create(BOB, "Bob's secret pets", ["cat", "dog"])
    own.add_files(BOB, ref, 0, [("c.png", _png((1, 2, 3)))])
    yield ref
    own.delete(BOB, ref)


def test_a_new_student_gets_the_form_and_nothing_of_another_s(open_page, bobs):
    at = open_page(PAGE)
    assert not at.exception
    assert [b.label for b in at.button if "Create" in b.label] == ["Create the dataset"]
    assert at.selectbox[-1].options == ["New dataset…"], "Bob's dataset is not offered"
    assert "secret pets" not in str(at.main)


def test_a_dataset_made_through_the_form_is_drawn(open_page):
    at = open_page(PAGE)
    at.text_input[-1].input("Mine")
    at.text_area[0].input("left\nright")
    next(b for b in at.button if b.label == "Create the dataset").click().run()
    assert not at.exception
    me = own.Ref.from_key(at.session_state["own_pick"])
    owner = Actor(me.owner)
    own.add_files(owner, me, 0, [(f"{i}.png", _png((i, 0, 0))) for i in range(3)])
    own.add_files(owner, me, 1, [(f"{i}.png", _png((0, i, 0))) for i in range(3)])
    at.run()
    assert not at.exception
    captions = "\n".join(c.value for c in at.caption)
    assert "A fifth of every class is held out" in captions
    split = at.dataframe[0].value
    assert split.iloc[:, 1].tolist() == [3, 3] and split.iloc[:, 3].tolist() == [1, 1], split
    train = next(b for b in at.button if b.label == "Train")
    assert not train.disabled, "two classes of three images: ready"
    own.delete(owner, me)


def test_fine_tuning_is_offered_with_imagenet_weights_and_reaches_the_run(open_page,
                                                                          monkeypatch):
    """With ResNet-18's ImageNet file on the machine (here: said to be), the page offers
    fine-tuning and its backbone choice, and Train submits exactly that to the queue."""
    from explorer.models import zoo
    from explorer.training import run_queue, runs

    real = zoo.pretrained_file

    class Here:
        def __init__(self, file):
            self.file = file

        def is_cached(self) -> bool:
            return True

    monkeypatch.setattr(zoo, "pretrained_file", lambda key, *a: Here(real(key, *a))
                        if real(key, *a) is not None else None)
    submitted = []
    monkeypatch.setattr(run_queue, "submit", lambda config, owner: submitted.append(
        (config, owner)) or runs.runs_dir() / "20261202-000000-resnet18-x-0000")
    at = open_page(PAGE)
    at.text_input[-1].input("Tuned")
    at.text_area[0].input("left\nright")
    next(b for b in at.button if b.label == "Create the dataset").click().run()
    me = own.Ref.from_key(at.session_state["own_pick"])
    for index in (0, 1):
        own.add_files(Actor(me.owner), me, index,
                      [(f"{i}.png", _png((i, index * 90, 0))) for i in range(3)])
    at.session_state["own_model"] = "resnet18"
    at.run()
    start = next(r for r in at.radio if r.label == "Start from")
    assert not start.disabled
    start.set_value("imagenet").run()
    backbone = next(r for r in at.radio if r.label == "The pretrained layers (the backbone)")
    assert backbone.value == "frozen"
    backbone.set_value("slower").run()
    next(b for b in at.button if b.label == "Train").click().run()
    assert not at.exception
    (config, owner), = submitted
    assert owner == me.owner and config.dataset == me.key and config.model == "resnet18"
    assert config.pretrained and not config.freeze_backbone
    own.delete(Actor(me.owner), me)
