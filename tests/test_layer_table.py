"""The layer table vs a real forward, shape propagation that explains instead of raising, the
block diagram and the nn.Module lesson's helpers."""

from __future__ import annotations

import re

import pytest
import torch
from torch import nn

from explorer.figures import diagram
from explorer.models import layer_table, module_lesson, zoo


def real_shapes(model: nn.Module, input_shape) -> dict[str, tuple[int, ...]]:
    """Output shape of every leaf in a plain forward, captured independently of the layer table."""
    shapes: dict[str, tuple[int, ...]] = {}

    def record(name: str, out: torch.Tensor) -> None:
        shapes.setdefault(name, tuple(out.shape))

    handles = [m.register_forward_hook(lambda _m, _a, out, n=n: record(n, out))
               for n, m in model.named_modules() if n and not list(m.children())]
    with torch.no_grad():
        model.eval()(torch.randn(1, *input_shape))
    for handle in handles:
        handle.remove()
    return shapes


@pytest.mark.parametrize(("key", "variant"), [("lenet5", "mnist"), ("alexnet", "cifar"),
                                              ("resnet18", "mnist"), ("nin", "cifar"),
                                              ("densenet121", "mnist")])
def test_table_shapes_equal_a_real_forward(key, variant):
    torch.manual_seed(0)
    model = zoo.build_model(key, variant=variant)
    shape = zoo.VARIANTS[variant].input_shape
    table = layer_table.inspect_model(model, shape)
    assert {r.name: r.output_shape for r in table.rows} == real_shapes(model, shape)
    assert table.ok and not table.problems
    assert table.total_params == sum(p.numel() for p in model.parameters())


def test_meta_table_equals_the_real_one():
    model = zoo.build_model("resnet18", variant="cifar")
    with torch.device("meta"):
        meta = zoo.build_model("resnet18", variant="cifar")
    assert layer_table.inspect_model(meta, (3, 32, 32)) == layer_table.inspect_model(model,
                                                                                 (3, 32, 32))


def test_lenet_multiply_adds_and_totals():
    table = layer_table.inspect_model(zoo.build_model("lenet5"), (1, 28, 28))
    rows = {r.name: r for r in table.rows}
    assert rows["features.0"].macs == 6 * 28 * 28 * 5 * 5  # out channels × positions × kernel
    assert rows["features.3"].macs == 16 * 10 * 10 * 6 * 5 * 5
    assert rows["classifier.0"].macs == 400 * 120
    assert rows["features.1"].macs == 0 and rows["features.1"].params == 0
    assert rows["features.0"].trainable and not rows["features.1"].trainable
    assert table.total_macs == sum(r.macs for r in table.rows)
    assert table.total_params == 61_706
    assert table.output_shape == (1, 10)
    records = layer_table.table_records(table)
    assert records[0]["output shape"] == "6×28×28" and records[0]["parameters"] == 156


def test_frozen_parameters_are_not_trainable():
    model = zoo.build_model("lenet5")
    model.features.requires_grad_(False)
    table = layer_table.inspect_model(model, (1, 28, 28))
    assert table.trainable_params == table.total_params - 156 - 2416
    assert not next(r for r in table.rows if r.name == "features.0").trainable


def test_bigger_input_explains_which_in_features_the_linear_needs():
    model = zoo.build_model("lenet5")
    table = layer_table.inspect_model(model, (1, 36, 36))
    assert table.ok and table.patched == ("classifier.0",)
    (problem,) = table.problems
    assert "in_features=400" in problem and "in_features=784" in problem
    assert "16×7×7" in problem
    rows = {r.name: r for r in table.rows}
    assert rows["flatten"].output_shape == (1, 784)
    assert rows["classifier.0"].params == 784 * 120 + 120  # downstream parameters update
    assert rows["classifier.0"].note
    assert model.classifier[0].in_features == 400, "the caller's model is left alone"


def test_too_small_input_stops_the_table_without_raising():
    table = layer_table.inspect_model(zoo.build_model("lenet5"), (1, 8, 8))
    assert not table.ok and table.output_shape is None
    assert "features.3" in table.problems[0] and "too small" in table.problems[0]
    assert table.rows[-1].output_shape is None


def test_changing_a_key_layer_updates_downstream_shapes():
    with torch.device("meta"):
        model = zoo.build_model("resnet18", variant="imagenet")
    assert layer_table.key_layers(model)[:2] == ["conv1", "maxpool"]
    changed = layer_table.with_layer_changed(model, "conv1", kernel=3, stride=1)
    table = layer_table.inspect_model(changed, (3, 224, 224))
    rows = {r.name: r for r in table.rows}
    assert rows["conv1"].output_shape == (1, 64, 224, 224)
    assert rows["layer4.1.bn2"].output_shape == (1, 512, 14, 14)
    assert rows["conv1"].params == 64 * 3 * 3 * 3
    assert layer_table.kernel_and_stride(model.conv1) == (7, 2), "original untouched"
    pooled = layer_table.with_layer_changed(model, "maxpool", kernel=2, stride=2)
    assert layer_table.kernel_and_stride(pooled.maxpool) == (2, 2)


def test_stages_and_block_diagram():
    table = layer_table.inspect_model(zoo.build_model("lenet5"), (1, 28, 28))
    assert [s for s, _ in table.stages()] == ["features · stage 1", "features · stage 2",
                                             "flatten", "classifier"]
    dot = diagram.graph_dot(table, "LeNet-5")
    assert dot.startswith("digraph") and dot.rstrip().endswith("}")
    for shape in ("1×28×28", "6×14×14", "16×5×5", "400", "10"):
        assert f'label=" {shape}"' in dot
    assert len(re.findall("->", dot)) == len(table.stages()) + 1
    with torch.device("meta"):
        resnet = zoo.build_model("resnet50", variant="imagenet")
    stages = [s for s, _ in layer_table.inspect_model(resnet, (3, 224, 224)).stages()]
    assert stages == ["stem", "layer1", "layer2", "layer3", "layer4", "head"]


def test_module_lesson_helpers():
    model = zoo.build_model("lenet5")
    assert module_lesson.count_modules(model) == (3, len(list(model.modules())))
    tree = module_lesson.module_tree(model)
    assert [c.name for c in tree.children] == ["features", "flatten", "classifier"]
    assert tree.params == 61_706
    records = module_lesson.named_parameter_records(model)
    assert records[0] == {"name": "features.0.weight", "shape": [6, 1, 5, 5], "numel": 150,
                          "requires_grad": True}
    assert module_lesson.training_flags(model, False) == (False, 0, len(list(model.modules())))
    assert module_lesson.training_flags(model, True)[0]
    bn = zoo.build_model("lenet5", batchnorm=True)
    assert "features.1" in module_lesson.mode_sensitive(bn)
    assert module_lesson.tensor_devices(bn) == {"cpu": len(list(bn.parameters()))
                                            + len(list(bn.buffers()))}


def test_one_parameter_count_for_every_module():
    from explorer.models.modules import parameter_count

    conv = nn.Conv2d(3, 8, 3)
    assert parameter_count(conv) == 8 * 3 * 9 + 8
    shared = nn.Linear(4, 4)
    model = nn.Sequential(shared, nn.ReLU(), shared, nn.BatchNorm1d(4))
    assert parameter_count(model) == 20 + 8  # a layer used twice counts once; buffers never
    assert parameter_count(model, recurse=False) == 0
    model[3].weight.requires_grad_(False)
    assert parameter_count(model, trainable_only=True) == 24


@pytest.mark.parametrize("key", ["resnet18", "resnet50"])
def test_residual_blocks_and_their_diagram_against_torchvision(key):
    """Every residual block of torchvision's network is found, with its shortcut (identity, or
    the projection where the block changes shape) and an add node in the diagram."""
    import torchvision

    with torch.device("meta"):
        reference = getattr(torchvision.models, key)(weights=None)
        model = zoo.build_model(key, variant="imagenet")
    blocks = [m for m in reference.modules()
              if isinstance(m, torchvision.models.resnet.BasicBlock
                            | torchvision.models.resnet.Bottleneck)]
    table = layer_table.inspect_model(model, (3, 224, 224))
    assert len(table.blocks) == len(blocks)
    assert sum(not b.identity for b in table.blocks) == sum(
        b.downsample is not None for b in blocks)
    dot = diagram.graph_dot(table, key)
    assert len(re.findall(r"^  b\d+_add \[", dot, re.MULTILINE)) == len(blocks)
    assert len(re.findall(r"^  b\d+_shortcut \[", dot, re.MULTILINE)) == len(blocks)
    assert "1×1 conv, stride 2 + BatchNorm" in dot and "shortcut: identity mapping" in dot
    rows = {r.name: r for r in table.rows}
    assert "1×1 conv with stride 2" in rows["layer2.0.downsample.0"].note
    assert "identity mapping" in rows["layer1.0.bn2" if key == "resnet18" else "layer2.1.bn3"].note
    first = table.blocks[0]
    assert first.input_shape == (1, 64, 56, 56)


def test_the_course_resnet_names_its_extra_shortcut():
    table = layer_table.inspect_model(zoo.build_model("resnet18", variant="mnist"), (1, 28, 28))
    projections = [b for b in table.blocks if not b.identity]
    assert [b.name for b in projections] == ["layer2.0", "layer3.0", "layer4.0"]
    assert projections[0].shortcut == ("layer2.0.extra.0", "layer2.0.extra.1")
    assert projections[0].projection == (1, 2)
    assert projections[0].output_shape == (1, 64, 14, 14)
    note = {r.name: r.note for r in table.rows}["layer2.0.extra.0"]
    assert note.startswith("shortcut (projection): a 1×1 conv with stride 2")


@pytest.mark.parametrize(("key", "variant"), [("resnet18", "imagenet"), ("resnet18", "mnist"),
                                              ("resnet50", "cifar")])
def test_a_blocks_two_paths_add_up_to_its_output(key, variant):
    """Read on a real forward pass: F(x) + shortcut, through a ReLU, is the block's output,
    for torchvision's blocks and the course's ResBlk (whose identity is an nn.Identity)."""
    from explorer import residual_paths

    model = zoo.build_seeded(key, seed=0, variant=variant).eval()
    shape = (3, 64, 64) if variant == "imagenet" else zoo.VARIANTS[variant].input_shape
    table = layer_table.inspect_model(model, shape)
    x = torch.randn(1, *shape, generator=torch.Generator().manual_seed(0))
    for block in table.blocks[:5]:  # identities and a projection; all take 20 s more
        paths = residual_paths.block_paths(model, x, block)
        assert paths.relu_matches, block.name
        assert paths.main.shape == paths.shortcut.shape == paths.out.shape
        assert paths.identity == block.identity
        if block.identity:
            assert torch.equal(paths.shortcut, paths.x)
    if variant == "mnist":
        notes = {r.name: r.note for r in table.rows}
        assert notes["layer1.0.extra"].startswith("shortcut: the identity mapping")


def test_the_course_resnet_diagram_draws_every_block():
    table = layer_table.inspect_model(zoo.build_model("resnet18", variant="mnist"), (1, 28, 28))
    dot = diagram.graph_dot(table)
    assert len(re.findall(r"^  b\d+_add \[", dot, re.MULTILINE)) == len(table.blocks) == 8
    assert "Identity" not in dot, "nn.Identity is the identity mapping, not a layer"
