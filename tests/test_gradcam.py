"""Grad-CAM (explorer.gradcam): shape, sign, localisation and agreement with a by-hand version."""

from __future__ import annotations

import pytest
import torch
import torchvision
from torch import nn

from explorer import gradcam


def blob_detector() -> nn.Module:
    """Class 0 = "bright stuff": a 1x1 conv passing the image through, global pooling, linear."""
    conv = nn.Conv2d(1, 1, 1)
    head = nn.Linear(1, 2)
    with torch.no_grad():
        conv.weight.fill_(1.0)
        conv.bias.zero_()
        head.weight.copy_(torch.tensor([[1.0], [-1.0]]))
        head.bias.zero_()
    return nn.Sequential(conv, nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), head).eval()


def test_cam_has_input_size_is_non_negative_and_finds_the_blob():
    x = torch.zeros(1, 1, 20, 30)
    x[..., 2:6, 20:26] = 1.0
    result = gradcam.grad_cam(blob_detector(), x, "0", class_index=0)
    assert result.cam.shape == (20, 30)
    assert result.cam.min() >= 0 and result.cam.max() == pytest.approx(1.0)
    peak = divmod(int(result.cam.argmax()), 30)
    assert 2 <= peak[0] < 6 and 20 <= peak[1] < 26
    assert result.cam[15, 5] == 0
    # class 1 ("dark") has a negative gradient on the bright channel: nothing survives the ReLU
    assert gradcam.grad_cam(blob_detector(), x, "0", class_index=1).cam.max() == 0


def test_resnet18_matches_grad_cam_computed_by_hand():
    """Same numbers as splitting the network at layer4 and differentiating by hand.

    torchvision's ResNet runs in-place ops after the chosen layers (ReLU(inplace=True),
    `out += identity`), the case the hook's clone exists for.
    """
    torch.manual_seed(0)
    model = torchvision.models.resnet18(weights=None, num_classes=7).eval()
    x = torch.randn(1, 3, 64, 64)
    for layer in ("layer4", "layer3.1.bn2", "layer2.0.relu#2"):
        result = gradcam.grad_cam(model, x, layer)
        assert result.cam.shape == (64, 64) and result.cam.min() >= 0

    result = gradcam.grad_cam(model, x, "layer4", class_index=3)
    stem = nn.Sequential(model.conv1, model.bn1, model.relu, model.maxpool, model.layer1,
                         model.layer2, model.layer3, model.layer4)
    with torch.no_grad():
        features = stem(x)
    features.requires_grad_(True)
    score = model.fc(torch.flatten(model.avgpool(features), 1))[0, 3]
    (grad,) = torch.autograd.grad(score, features)
    cam = torch.relu((grad[0].mean((1, 2))[:, None, None] * features[0].detach()).sum(0))
    cam = nn.functional.interpolate(cam[None, None], size=(64, 64), mode="bilinear",
                                    align_corners=False)[0, 0]
    torch.testing.assert_close(result.cam, cam / cam.max())
    assert result.score == pytest.approx(float(score.detach()))
    assert result.layer_shape == (512, 2, 2)


def test_layer_without_feature_maps_is_refused():
    with pytest.raises(ValueError, match="no feature maps"):
        gradcam.grad_cam(blob_detector(), torch.zeros(1, 1, 8, 8), "4")
    assert gradcam.split_call("layer1.0.relu#2") == ("layer1.0.relu", 2)


def test_sessions_sharing_one_cached_model_do_not_see_each_others_hooks():
    """A server's sessions run in threads over one cached model: Grad-CAM's hook must not
    record another thread's capture (run under no_grad), nor a capture Grad-CAM's pass."""
    import threading

    from explorer import feature_maps as fm

    model = nn.Sequential(nn.Conv2d(1, 8, 3), nn.ReLU(), nn.Conv2d(8, 8, 3), nn.ReLU(),
                          nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(8, 3)).eval()
    x = torch.rand(1, 1, 48, 48)
    want_cam = gradcam.grad_cam(model, x, "2", class_index=1).cam
    want_layers = len(fm.capture(model, x).records)
    errors: list[BaseException] = []

    def run(job) -> None:
        try:
            for _ in range(40):
                job()
        except BaseException as err:  # collected and re-raised in the test's thread
            errors.append(err)

    def cam() -> None:
        assert torch.equal(gradcam.grad_cam(model, x, "2", class_index=1).cam, want_cam)

    def capture() -> None:
        assert len(fm.capture(model, x).records) == want_layers

    threads = [threading.Thread(target=run, args=(job,)) for job in (cam, capture, cam, capture)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors[0]
