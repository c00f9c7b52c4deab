"""The model zoo page in Chromium: every network, each family in every configuration, a Linear that
breaks when the input grows, and a state_dict downloaded and uploaded back."""

from __future__ import annotations

import torch
from playwright.sync_api import expect

from explorer.models import zoo

#: Every configuration in the browser for one network of each family; every network in every
#: configuration is built and tabulated by tests/test_zoo.py without a browser.
ALL_CONFIGURATIONS = ("lenet5", "vgg16", "resnet50")  # AppTest's sweep has every one


def test_every_network_renders_and_each_family_in_every_configuration(app):
    app.open("zoo")
    variants = list(zoo.VARIANTS)
    current = "mnist"
    for i, key in enumerate(zoo.list_models()):
        spec = zoo.get_spec(key)
        app.select("Network", spec.title)
        # start from the configuration already selected, so each network costs two clicks
        order = [current, *[v for v in variants if v != current]]
        if key not in ALL_CONFIGURATIONS:
            order = [current]
        for variant in order:
            if variant != current:
                app.page.locator("[data-testid='stRadio'] label").filter(
                    has_text=f"{variant} · ").click()
                app.wait()
                current = variant
            app.assert_healthy()
            text = app.text()
            assert f"{spec.title} ·" in text, (key, variant)
            assert "Parameters" in text and "Multiply-adds" in text
            assert "×1000" in text if variant == "imagenet" else "×10\n" in text, (key, variant)
        if key == "resnet50":
            app.screenshot("zoo_resnet50_imagenet" if current == "imagenet" else f"zoo_{key}")
        if i == 0:
            app.screenshot("zoo_mlp")


def test_growing_the_input_breaks_the_linear_and_says_why(app):
    app.open("zoo", query="zoo_model=lenet5&zoo_variant=mnist")
    size = 28
    while "needs in_features" not in app.text():  # one pixel at a time until the Linear breaks
        assert size < 40, "LeNet-5 built for 28×28 must break before 40×40"
        size += 1
        app.set_slider("Input height and width", size)
    assert size == 32, "29–31 still flatten to 16×5×5 = 400; 32 gives 16×6×6"
    text = app.text()
    assert "“classifier.0” is nn.Linear(in_features=400" in text
    assert "it needs in_features=576" in text
    app.assert_healthy()
    app.screenshot("zoo_linear_breaks")
    app.page.get_by_role("tab", name="Block diagram").click()
    diagram = app.page.locator("[data-testid='stGraphVizChart']")
    diagram.scroll_into_view_if_needed()
    expect(diagram.locator("svg").first).to_be_visible()
    app.screenshot("zoo_diagram_32")
    app.open("zoo", query="zoo_model=lenet5&zoo_variant=mnist&zoo_size=9")
    assert "too small" in app.text()
    app.assert_healthy()


def test_download_and_upload_a_state_dict(app, tmp_path):
    app.open("zoo", query="zoo_model=resnet18&zoo_variant=cifar")
    app.page.get_by_role("tab", name="Save & load").click()
    with app.page.expect_download() as info:
        app.page.get_by_role("button", name="Download state_dict (.pt)").click()
    path = tmp_path / info.value.suggested_filename
    info.value.save_as(path)
    assert path.name == "resnet18-cifar.pt"
    assert "fc.weight" in torch.load(path, weights_only=True)

    uploader = app.page.locator("[data-testid='stMain'] [data-testid='stFileUploader']")
    uploader.locator("input[type='file']").set_input_files(str(path))
    main = app.page.locator("[data-testid='stMain']")
    expect(main).to_contain_text("identical to the model above", timeout=60_000)
    app.wait()
    assert "max |Δ| = 0" in app.text()
    app.assert_healthy()
    app.screenshot("zoo_state_dict_round_trip")

    other = tmp_path / "lenet.pt"
    torch.save(zoo.build_model("lenet5").state_dict(), other)
    uploader.locator("input[type='file']").set_input_files(str(other))
    expect(main).to_contain_text("does not fit the model (strict check)", timeout=60_000)
    app.wait()
    app.assert_healthy()
    app.screenshot("zoo_state_dict_mismatch")


def test_resnet_diagram_draws_every_residual_block(app):
    """ResNet-18's diagram: a shortcut and an add node for each of torchvision's BasicBlocks,
    the three projections named as such, and the layer table names the shortcut."""
    import torchvision

    with torch.device("meta"):
        reference = torchvision.models.resnet18(weights=None)
    blocks = [m for m in reference.modules() if isinstance(m, torchvision.models.resnet.BasicBlock)]
    app.open("zoo", query="zoo_model=resnet18&zoo_variant=imagenet")
    app.page.get_by_role("tab", name="Block diagram").click()
    svg = app.page.locator("[data-testid='stGraphVizChart'] svg").first
    expect(svg).to_be_visible()
    titles = svg.locator("g.node title").evaluate_all("ts => ts.map(t => t.textContent)")
    assert sum(t.endswith("_add") for t in titles) == len(blocks) == 8
    assert sum(t.endswith("_shortcut") for t in titles) == len(blocks)
    text = svg.evaluate("s => s.textContent")
    assert text.count("shortcut: projection") == sum(b.downsample is not None for b in blocks)
    assert "8 residual blocks." in app.text()
    app.screenshot("zoo_resnet18_blocks")
    app.assert_healthy()


def test_compare_networks_at_the_course_size(app):
    """LeNet-5, VGG-16 and ResNet-18 side by side at the course's configuration: VGG-16's
    138,357,544 and ResNet-18's 11,689,512 parameters, each beside its paper's figure; the
    course's configuration is marked, and the long multiply-adds metric is shown whole."""
    app.open("zoo", query="zoo_model=vgg16&zoo_variant=imagenet")
    assert "imagenet · 3×224×224 · 1000 classes · the course's" in app.text()
    metric = app.page.locator("[data-testid='stMetric']").filter(has_text="Multiply-adds")
    expect(metric.locator("[data-testid='stMetricValue']")).to_have_text("15,470,264,320")
    value = metric.locator("[data-testid='stMetricValue'] div").first
    assert value.evaluate("e => e.scrollWidth <= e.clientWidth"), "the number is cut off"
    app.page.get_by_role("tab", name="Compare networks").click()
    table = app.page.locator("[data-testid='stTable']")
    expect(table).to_contain_text("138,357,544 · paper: 138M")
    expect(table).to_contain_text("11,689,512 · paper: not given")
    expect(table).to_contain_text("61,706 · paper: 60K")
    expect(table).to_contain_text("435×435 px")
    app.screenshot("zoo_compare")
    app.assert_healthy()


def test_following_a_residual_block_on_the_photo(app):
    """The course's ResNet-18 (MNIST size): open layer2.0, the projection block, and see its
    five tensors on the sidebar photo, the shortcut's projection as big as the main path's."""
    app.open("zoo", query="zoo_model=resnet18&zoo_variant=mnist")
    app.page.get_by_role("tab", name="Block diagram").click()
    app.toggle("Follow one residual block's tensors on your photo")
    app.select("Residual block", "layer2.0 · projection shortcut")
    captions = app.page.locator("[data-testid='stImageCaption']").all_inner_texts()
    assert any(c.startswith("x, into the block · 32×28×28") for c in captions), captions
    assert any(c.startswith("F(x): the main path · 64×14×14") for c in captions)
    assert any(c.startswith("the shortcut's projection of x · 64×14×14") for c in captions)
    app.screenshot("zoo_residual_block_photo")
    app.assert_healthy()
