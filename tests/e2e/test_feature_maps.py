"""Feature maps in Chromium: upload a photo, switch networks and layers, Grad-CAM, a checkpoint."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from PIL import Image

from explorer import images
from explorer.models import zoo
from explorer.training import access

REPO_ROOT = images.ASSETS_DIR.parent


def pick_option(app, label: str, steps: int) -> str:
    """Move `steps` options down (negative: up) in the selectbox `label`, by keyboard."""
    combo = app.widget(label, "stSelectbox").locator("[role='combobox']").first
    before = combo.input_value()
    combo.click()
    for _ in range(abs(steps)):
        app.page.keyboard.press("ArrowDown" if steps > 0 else "ArrowUp")
    app.page.keyboard.press("Enter")
    app.wait()
    chosen = app.widget(label, "stSelectbox").locator("[role='combobox']").first.input_value()
    assert chosen != before, f"{label}: the choice did not change"
    return chosen


def test_upload_switch_networks_layers_and_grad_cam(app, tmp_path):
    photo = tmp_path / "my_cat.jpg"
    Image.open(images.sample_images()["Chelsea"]).save(photo, quality=90)
    app.open("feature-maps")
    app.upload_image(photo)
    app.assert_healthy()
    assert "my_cat.jpg" in app.page.locator("[data-testid='stSidebar']").inner_text()
    text = app.text()
    assert "the tensor that goes in is 1×3×224×224" in text
    assert app.page.locator("img[alt^='The strongest channel of each layer']").count() == 1
    app.screenshot("feature_maps_resnet18")

    for index in (3, 7):  # a few layers of ResNet-18
        chosen = pick_option(app, "Layer", index)
        app.assert_healthy()
        assert f"{chosen.split(' · ')[0]}: all" in app.text()
    app.radio("Sort channels by", "Mean activation, high → low")
    app.assert_healthy()
    app.screenshot("feature_maps_layer_grid")

    app.select("Input size", "CIFAR-size 3×32×32")  # before the switch: no ImageNet AlexNet
    app.select("Network", zoo.get_spec("alexnet").title)
    app.assert_healthy()
    assert "1×3×32×32" in app.text()
    pick_option(app, "Layer", 2)
    app.assert_healthy()

    app.select("Network", zoo.get_spec("lenet5").title)
    assert pick_option(app, "Input size", -1) == "MNIST-size 1×28×28"
    app.assert_healthy()
    # a digit network: the photo is prepared as MNIST was, in grey, unless switched off
    assert "1×1×28×28" in app.text() and "in grey, shrunk to at most 280 px" in app.text()
    app.screenshot("feature_maps_lenet_mnist")

    app.radio("View", "Prediction & Grad-CAM")
    app.assert_healthy()
    assert "Grad-CAM for" in app.text()
    app.screenshot("feature_maps_gradcam")
    app.radio("View", "Receptive field")
    app.assert_healthy()
    assert re.search(r"Receptive field\s+\d+×\d+ px", app.text())
    app.screenshot("feature_maps_receptive_field")
    assert "fm_view=Receptive" in app.page.url


def test_checkpoint_from_a_short_training_run(app):
    runs_dir = os.environ["EXPLORER_RUNS_DIR"]  # the server under test reads the same folder
    done = subprocess.run(
        [sys.executable, "-m", "explorer.train", "--model", "lenet5", "--dataset", "mnist-mini",
         "--epochs", "1", "--runs-dir", runs_dir, "--threads", "1"],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=300, check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    run_id = re.search(r"run (\S+) →", done.stdout).group(1)
    # a run of the terminal's, not this browser's: students see it once the teacher shares it
    access.set_shared(run_id, access.Actor.operator(), True, root=Path(runs_dir))

    app.open("feature-maps", query="fm_view=First-layer+filters")
    app.radio("Weights", "Training run")
    app.select("Training run", f"{run_id} (finished)")
    app.assert_healthy()
    text = app.text()
    assert "trained on mnist-mini" in text and "1×1×28×28" in text
    assert "after training (seed 0)" in text and "at initialisation" in text
    assert re.search(r"Training moved these weights by \d", text)
    app.screenshot("feature_maps_checkpoint_filters")
    app.radio("View", "Prediction & Grad-CAM")
    app.assert_healthy()
    assert "Grad-CAM for" in app.text()
    app.screenshot("feature_maps_checkpoint_gradcam")
