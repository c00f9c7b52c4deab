"""Feature-map capture, preprocessing, receptive fields and statistics (explorer.feature_maps,
explorer.receptive_field); the pictures are tested in test_feature_map_figures.py."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torchvision
from PIL import Image
from torch import nn

from explorer import feature_maps as fm
from explorer.figures import feature_maps as figs
from explorer.models import zoo
from explorer.training.config import RunConfig, TrainConfig


class Block(nn.Module):
    """A residual block with in-place ops after the recorded layers, like torchvision's."""

    def __init__(self, c: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(c, c, 3, padding=1)
        self.bn = nn.BatchNorm2d(c)
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.bn(self.conv(x))
        out += x
        return self.relu(out)


def small_cnn() -> nn.Module:
    torch.manual_seed(0)
    model = nn.Sequential(
        nn.Conv2d(3, 8, 5, padding=2), nn.BatchNorm2d(8), nn.ReLU(inplace=True),
        nn.MaxPool2d(2), Block(8), nn.Conv2d(8, 16, 3, stride=2), nn.ReLU(),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(16, 4),
    )
    for m in model.modules():  # non-trivial BatchNorm statistics
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.uniform_(-1, 1)
            m.running_var.uniform_(0.5, 2)
    return model.eval()


def assert_capture_is_real(model: nn.Module, x: torch.Tensor) -> fm.Capture:
    """Every record equals its module re-run on the captured input; logits equal model(x)."""
    cap = fm.capture(model, x, keep_inputs=True)
    assert cap.records, "nothing was captured"
    with torch.no_grad():
        torch.testing.assert_close(cap.logits, model(x)[0].float())
        for rec in cap.records:
            module = model.get_submodule(rec.name.partition("#")[0])
            again = module(*fm._clone(rec.inputs))
            assert again.shape == rec.output.shape, rec.name
            torch.testing.assert_close(again, rec.output, msg=rec.name)
    return cap


def test_small_cnn_capture_matches_direct_recomputation():
    model = small_cnn()
    cap = assert_capture_is_real(model, torch.randn(1, 3, 32, 32))
    names = [r.name for r in cap.records]
    # each leaf and the block, in execution order; the reused ReLU appears once per call
    assert names[:5] == ["0", "1", "2", "3", "4.conv"]
    assert "4" in names and cap["4"].kind == "block"
    assert cap["0"].shape == (8, 32, 32) and cap["3"].shape == (8, 16, 16)
    assert cap["5"].shape == (16, 7, 7) and cap["9"].shape == (4,)
    # the in-place `out += x` and ReLU ran after bn was recorded: its record kept bn's output
    assert (cap["4.bn"].output < 0).any()


def test_a_relu_on_an_untouched_recorded_output_is_derived_not_stored_again():
    model = small_cnn()
    cap = assert_capture_is_real(model, torch.randn(1, 3, 32, 32))
    # 1 (BatchNorm) → 2 (ReLU in place): the ReLU's maps are relu(1's clone), no second copy
    assert cap["2"].recorded is cap["1"].recorded and cap["2"].derive is not None
    assert (cap["1"].output < 0).any() and (cap["2"].output >= 0).all()
    # 5 (conv) → 6 (ReLU, not in place): derived too
    assert cap["6"].recorded is cap["5"].recorded
    # the block's ReLU runs after `out += x` changed bn's output: it must keep its own clone
    assert cap["4.relu"].derive is None and cap["4.relu"].recorded is not cap["4.bn"].recorded
    stored = fm.capture(model, torch.randn(1, 3, 32, 32)).nbytes
    every_output = sum(r.output.numel() * 4 for r in cap.records) + cap.logits.numel() * 4
    assert stored < every_output


def test_resnet18_capture_matches_direct_recomputation():
    torch.manual_seed(0)
    model = torchvision.models.resnet18(weights=None).eval()
    cap = assert_capture_is_real(model, torch.randn(1, 3, 64, 64))
    assert cap["layer1.0.relu#2"].shape == (64, 16, 16)
    assert cap["layer4"].shape == (512, 2, 2)
    assert len([r for r in cap.records if r.kind == "conv"]) == 20


def test_channels_last_capture_gives_the_same_maps():
    model = small_cnn()
    x = torch.randn(1, 3, 32, 32)
    plain = fm.capture(model, x)
    fast = fm.capture(fm.for_inference(small_cnn()), fm.as_input(x))
    for a, b in zip(plain.records, fast.records, strict=True):
        torch.testing.assert_close(a.output, b.output, msg=a.name)


def _zoo_cases():
    return [(key, variant) for key in zoo.list_models() for variant in ("mnist", "cifar")]


@pytest.mark.parametrize(("key", "variant"), _zoo_cases())
def test_every_zoo_model_capture_matches_a_real_forward_pass(key, variant):
    model = zoo.build_seeded(key, seed=0, variant=variant).eval()
    pre = fm.preprocessing_for(variant)
    cap = assert_capture_is_real(model, torch.randn(1, pre.in_channels, pre.height, pre.width))
    assert any(r.is_spatial for r in cap.records) or key == "mlp"


def test_imagenet_resnet18_at_reduced_size_matches_direct_recomputation():
    model = zoo.build_seeded("resnet18", seed=0, variant="imagenet", height=64, width=64).eval()
    assert_capture_is_real(model, torch.randn(1, 3, 64, 64))


@pytest.mark.parametrize("key", ["alexnet", "vgg16", "googlenet", "resnet50", "densenet121"])
def test_imagenet_models_at_224_capture_real_shapes_on_meta(key):
    """Full-size ImageNet shapes without the cost of weights: every layer on the meta device."""
    with torch.device("meta"):
        model = zoo.build_seeded(key, seed=0, variant="imagenet").eval()
    cap = fm.capture(model, torch.empty(1, 3, 224, 224, device="meta"), keep_inputs=True)
    assert cap.logits.shape == (1000,)
    with torch.no_grad():
        for rec in cap.records:
            module = model.get_submodule(rec.name.partition("#")[0])
            assert module(*fm._clone(rec.inputs)).shape == rec.output.shape, rec.name
    assert cap.records[0].output.shape[-1] in (55, 56, 112, 224)


# --- receptive fields ----------------------------------------------------------------------


def test_receptive_field_textbook_values():
    model = torchvision.models.resnet18(weights=None).eval()
    cap = fm.capture(model, torch.randn(1, 3, 224, 224))
    assert cap["conv1"].rf.size == (7, 7) and cap["conv1"].rf.jump == (2, 2)
    assert cap["maxpool"].rf.size == (11, 11) and cap["maxpool"].rf.jump == (4, 4)
    assert cap["layer4"].rf.size == (435, 435) and cap["layer4"].rf.jump == (32, 32)
    vgg = torchvision.models.vgg.make_layers(torchvision.models.vgg.cfgs["D"]).eval()
    rf = fm.capture(vgg, torch.randn(1, 3, 64, 64))
    assert rf["29"].rf.size == (196, 196)  # conv5_3's ReLU
    assert rf["30"].rf.size == (212, 212) and rf["30"].rf.jump == (32, 32)  # pool5


def test_receptive_field_box_matches_autograd():
    """The box of one cell is exactly the input region whose pixels change that cell."""
    model = nn.Sequential(nn.Conv2d(1, 1, 3, padding=1), nn.AvgPool2d(2),
                          nn.Conv2d(1, 1, 5, stride=2, padding=1, dilation=2),
                          nn.Conv2d(1, 1, 3, stride=1, padding=0))
    for m in model:
        if isinstance(m, nn.Conv2d):
            nn.init.constant_(m.weight, 1.0)
    x = torch.rand(1, 1, 48, 48)
    rf = fm.capture(model, x)["3"].rf
    row, col = 2, 3
    xg = x.clone().requires_grad_(True)
    model(xg)[0, 0, row, col].backward()
    rows = torch.nonzero(xg.grad[0, 0].abs().sum(1)).flatten()
    cols = torch.nonzero(xg.grad[0, 0].abs().sum(0)).flatten()
    top, left, bottom, right = rf.box(row, col)
    assert (top, left, bottom, right) == (rows.min(), cols.min(), rows.max(), cols.max())
    assert rf.size == (bottom - top + 1, right - left + 1)


def test_residual_add_takes_the_larger_field():
    cap = fm.capture(small_cnn(), torch.randn(1, 3, 32, 32))
    # block: conv 3x3 on the 2x-pooled map (jump 2) grows the field by 4; ReLU after the add
    assert cap["4.conv"].rf.size == (cap["3"].rf.size[0] + 4,) * 2
    assert cap["4.relu"].rf == cap["4.bn"].rf == cap["4"].rf


# --- preprocessing ------------------------------------------------------------------------


def test_imagenet_preprocessing_resizes_crops_and_normalises():
    pre = fm.preprocessing_for("imagenet")
    img = Image.new("RGB", (400, 300), (255, 128, 0))
    prepared = fm.prepare(img, pre)
    assert prepared.resized.size == (341, 256)
    assert prepared.pixels.size == (224, 224)
    assert prepared.tensor.shape == (1, 3, 224, 224)
    expected = [(v / 255 - m) / s for v, m, s in zip((255, 128, 0), fm.IMAGENET_MEAN,
                                                         fm.IMAGENET_STD, strict=True)]
    torch.testing.assert_close(prepared.tensor[0, :, 100, 100], torch.tensor(expected))


def test_mnist_preprocessing_is_grayscale_28_with_invert():
    img = Image.new("RGB", (60, 90), (255, 255, 255))
    plain = fm.prepare(img, fm.preprocessing_for("mnist"))
    inverted = fm.prepare(img, fm.preprocessing_for("mnist", invert=True))
    assert plain.tensor.shape == inverted.tensor.shape == (1, 1, 28, 28)
    assert plain.pixels.mode == "L"
    torch.testing.assert_close(plain.tensor.max(), torch.tensor((1 - 0.1307) / 0.3081))
    torch.testing.assert_close(inverted.tensor.max(), torch.tensor((0 - 0.1307) / 0.3081))
    assert fm.looks_dark_on_light(img)
    assert "invert" in " ".join(fm.preprocessing_for("mnist", invert=True).steps())


def test_run_config_sets_size_and_statistics():
    config = RunConfig("r", TrainConfig(), variant="cifar", in_channels=1, height=28, width=28,
                       num_classes=3, class_names=("a", "b", "c"), mean=(0.5,), std=(0.25,))
    pre = fm.preprocessing_for("imagenet", config=config)
    assert (pre.in_channels, pre.height, pre.width, pre.mean, pre.std) == (1, 28, 28, (0.5,),
                                                                         (0.25,))
    assert fm.run_class_names(config) == ["a", "b", "c"]


def test_unknown_variant_is_one_sentence():
    with pytest.raises(ValueError, match="Unknown input variant"):
        fm.preprocessing_for("svhn")


# --- statistics and pictures ----------------------------------------------------------------


def test_channel_stats_sorting_and_strongest():
    maps = torch.tensor([[[0.0, 0.0], [1.0, 3.0]],
                         [[5.0, 5.0], [5.0, 5.0]],
                         [[-1.0, 0.0], [2.0, -3.0]]])
    stats = fm.channel_stats(maps)
    assert stats["min"] == [0.0, 5.0, -3.0]
    assert stats["max"] == [3.0, 5.0, 2.0]
    assert stats["mean"] == [1.0, 5.0, -0.5]
    assert stats["zeros"] == [0.5, 0.0, 0.25]
    assert stats["negative"] == [0.0, 0.0, 0.5]
    assert fm.channel_order(maps, "mean-desc") == [1, 0, 2]
    assert fm.channel_order(maps, "mean-asc") == [2, 0, 1]
    assert fm.channel_order(maps) == [0, 1, 2]
    assert fm.strongest_channel(maps) == 1


def test_filter_summary_tells_smooth_from_noise():
    torch.manual_seed(0)
    noise = torch.randn(16, 3, 7, 7)
    ramp = torch.linspace(-1, 1, 7)
    smooth = (ramp[None, :] + ramp[:, None]).expand(16, 3, 7, 7)
    assert abs(fm.filter_summary(noise)["smoothness"]) < 0.15
    assert fm.filter_summary(smooth)["smoothness"] > 0.7


def test_top_k_is_sorted_softmax_with_names():
    logits = torch.tensor([0.0, 3.0, 1.0, 2.0])
    top = fm.top_k(logits, ["a", "b", "c", "d"], k=5)
    assert [t[1] for t in top] == ["b", "d", "c", "a"]
    assert sum(t[2] for t in top) == pytest.approx(1.0)
    assert top[0][2] == pytest.approx(float(torch.softmax(logits, 0)[1]))


def test_overview_strip_and_overlay_are_images():
    cap = fm.capture(small_cnn(), torch.randn(1, 3, 32, 32))
    records = cap.overview()
    assert [r.kind for r in records] == ["conv", "pooling", "conv", "block", "conv", "pooling"]
    strip = figs.overview_strip(records)
    assert strip.height > 112 and strip.width > 6 * 14
    base = Image.new("RGB", (32, 32))
    out = figs.overlay(base, torch.ones(4, 4), cmap="Gray", alpha=0.5)
    assert out.size == (32, 32) and np.asarray(out)[5, 5].tolist() in ([127] * 3, [128] * 3)


def test_input_statistics_are_per_channel_of_the_first_image():
    x = torch.stack([torch.arange(8.0).reshape(2, 2, 2), -torch.ones(2, 2, 2)])
    stats = fm.input_statistics(x)
    assert stats["mean"].tolist() == [1.5, 5.5] and stats["min"].tolist() == [0.0, 4.0]
    assert stats["max"].tolist() == [3.0, 7.0]
    torch.testing.assert_close(stats["std"], x[0].reshape(2, -1).std(1))


def test_filter_change_compares_trained_filters_with_their_start():
    torch.manual_seed(0)
    initial = torch.randn(4, 1, 5, 5)
    trained = initial * 1.5
    change = fm.filter_change(trained, initial)
    assert change.moved == pytest.approx(0.5)
    assert change.trained == fm.filter_summary(trained)
    assert change.change["std"] == pytest.approx(change.trained["std"] - change.initial["std"])


def test_class_names_come_from_the_run_imagenet_or_the_variant():
    config = RunConfig("r", TrainConfig(), variant="mnist", in_channels=1, height=28, width=28,
                       num_classes=2, class_names=("yes", "no"), mean=(0.5,), std=(0.25,))
    assert fm.class_names_for("mnist", 2, config) == ["yes", "no"]
    assert fm.class_names_for("imagenet", 1000)[:1] == zoo.imagenet_class_names()[:1]
    assert fm.class_names_for("cifar", 10)[0] == "airplane"
    assert fm.class_names_for("cifar", 3) == ["class 0", "class 1", "class 2"]


def test_grad_cam_layers_are_spatial_convs_blocks_and_relus():
    cap = fm.capture(small_cnn(), torch.randn(1, 3, 32, 32))
    assert cap.cam_layers() == ["0", "2", "4.conv", "4.relu", "4", "5", "6"]  # in running order
