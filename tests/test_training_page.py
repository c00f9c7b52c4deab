"""Training page in AppTest: offline datasets get one sentence and no Train button."""

from __future__ import annotations


def test_missing_download_dataset_says_where_files_go(open_page, tmp_path, monkeypatch):
    from torchvision import datasets as tvd

    def no_network(self):
        raise OSError("[Errno -3] Temporary failure in name resolution")

    monkeypatch.setattr(tvd.FashionMNIST, "download", no_network)
    monkeypatch.setenv("EXPLORER_DATA_DIR", str(tmp_path / "nodata"))
    at = open_page("pages/training.py")
    assert not at.exception
    at.selectbox(key="training_dataset").set_value("fashion-mnist").run()
    assert not at.exception
    warnings = [w.value for w in at.warning]
    # where the files go, in words a student may read: never the server's absolute path
    assert any("$EXPLORER_DATA_DIR/FashionMNIST/raw" in w for w in warnings), warnings
    assert not any(str(tmp_path) in w for w in warnings)
    train = next(b for b in at.button if b.key == "training_train")
    assert train.disabled
    at.button(key="training_download").click().run()  # no network: one sentence, no traceback
    assert not at.exception
    errors = [e.value for e in at.error]
    assert len(errors) == 1 and errors[0].startswith("Could not download Fashion-MNIST")


def test_the_speed_demo_preset_fills_the_form_where_cifar10_is_here(open_page, monkeypatch):
    from explorer.training import datasets, presets, run_queue
    from explorer.ui import train_form

    at = open_page("pages/training.py")
    assert not any(b.key == "training_preset_airbench" for b in at.button), \
        "no CIFAR-10 on this machine: no preset"
    real = datasets.is_available
    monkeypatch.setattr(datasets, "is_available", lambda key: key == "cifar10" or real(key))
    at.run()
    assert any(o.startswith("airbench94") for o in at.selectbox(key="training_model").options)
    at.button(key="training_preset_airbench").click().run()
    assert not at.exception
    expected = train_form.preset_state(presets.PRESETS["airbench"])
    held = {key: at.session_state[key] for key in expected}
    assert held == {**expected, "training_scale": held["training_scale"]}
    assert tuple(held["training_scale"]) == expected["training_scale"]
    assert at.selectbox(key="training_model").value == "airbench"
    assert at.selectbox(key="training_dataset").value == "cifar10"
    submitted = []

    def submit(config, owner):
        submitted.append(config)
        raise ValueError("(not queued in this test)")

    monkeypatch.setattr(run_queue, "submit", submit)
    at.button(key="training_train").click().run()
    (config,) = submitted  # what Train sends: the preset's settings, also those off the form
    airbench = presets.AIRBENCH
    for name in ("model", "dataset", "epochs", "batch_size", "optimizer", "lr", "momentum",
                 "nesterov", "weight_decay", "schedule", "label_smoothing", "augment",
                 "bias_lr_scale", "test_flips"):
        assert getattr(config, name) == getattr(airbench, name), name
