"""The architecture inspector: layer table vs a real forward, shape propagation that explains
instead of raising, state_dict save/load safety, and the course's computed facts."""

from __future__ import annotations

import re

import pytest
import torch
from torch import nn

from explorer.models import inspector, zoo


def real_shapes(model: nn.Module, input_shape) -> dict[str, tuple[int, ...]]:
    """Output shape of every leaf in a plain forward, captured independently of the inspector."""
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
    table = inspector.inspect_model(model, shape)
    assert {r.name: r.output_shape for r in table.rows} == real_shapes(model, shape)
    assert table.ok and not table.problems
    assert table.total_params == sum(p.numel() for p in model.parameters())


def test_meta_table_equals_the_real_one():
    model = zoo.build_model("resnet18", variant="cifar")
    with torch.device("meta"):
        meta = zoo.build_model("resnet18", variant="cifar")
    assert inspector.inspect_model(meta, (3, 32, 32)) == inspector.inspect_model(model,
                                                                                 (3, 32, 32))


def test_lenet_multiply_adds_and_totals():
    table = inspector.inspect_model(zoo.build_model("lenet5"), (1, 28, 28))
    rows = {r.name: r for r in table.rows}
    assert rows["features.0"].macs == 6 * 28 * 28 * 5 * 5  # out channels × positions × kernel
    assert rows["features.3"].macs == 16 * 10 * 10 * 6 * 5 * 5
    assert rows["classifier.0"].macs == 400 * 120
    assert rows["features.1"].macs == 0 and rows["features.1"].params == 0
    assert rows["features.0"].trainable and not rows["features.1"].trainable
    assert table.total_macs == sum(r.macs for r in table.rows)
    assert table.total_params == 61_706
    assert table.output_shape == (1, 10)
    records = inspector.table_records(table)
    assert records[0]["output shape"] == "6×28×28" and records[0]["parameters"] == 156


def test_frozen_parameters_are_not_trainable():
    model = zoo.build_model("lenet5")
    model.features.requires_grad_(False)
    table = inspector.inspect_model(model, (1, 28, 28))
    assert table.trainable_params == table.total_params - 156 - 2416
    assert not next(r for r in table.rows if r.name == "features.0").trainable


def test_bigger_input_explains_which_in_features_the_linear_needs():
    model = zoo.build_model("lenet5")
    table = inspector.inspect_model(model, (1, 36, 36))
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
    table = inspector.inspect_model(zoo.build_model("lenet5"), (1, 8, 8))
    assert not table.ok and table.output_shape is None
    assert "features.3" in table.problems[0] and "too small" in table.problems[0]
    assert table.rows[-1].output_shape is None


def test_changing_a_key_layer_updates_downstream_shapes():
    with torch.device("meta"):
        model = zoo.build_model("resnet18", variant="imagenet")
    assert inspector.key_layers(model)[:2] == ["conv1", "maxpool"]
    changed = inspector.with_layer_changed(model, "conv1", kernel=3, stride=1)
    table = inspector.inspect_model(changed, (3, 224, 224))
    rows = {r.name: r for r in table.rows}
    assert rows["conv1"].output_shape == (1, 64, 224, 224)
    assert rows["layer4.1.bn2"].output_shape == (1, 512, 14, 14)
    assert rows["conv1"].params == 64 * 3 * 3 * 3
    assert inspector.kernel_and_stride(model.conv1) == (7, 2), "original untouched"
    pooled = inspector.with_layer_changed(model, "maxpool", kernel=2, stride=2)
    assert inspector.kernel_and_stride(pooled.maxpool) == (2, 2)


def test_stages_and_block_diagram():
    table = inspector.inspect_model(zoo.build_model("lenet5"), (1, 28, 28))
    assert [s for s, _ in table.stages()] == ["features · stage 1", "features · stage 2",
                                             "flatten", "classifier"]
    dot = inspector.graph_dot(table, "LeNet-5")
    assert dot.startswith("digraph") and dot.rstrip().endswith("}")
    for shape in ("1×28×28", "6×14×14", "16×5×5", "400", "10"):
        assert f'label=" {shape}"' in dot
    assert len(re.findall("->", dot)) == len(table.stages()) + 1
    with torch.device("meta"):
        resnet = zoo.build_model("resnet50", variant="imagenet")
    stages = [s for s, _ in inspector.inspect_model(resnet, (3, 224, 224)).stages()]
    assert stages == ["stem", "layer1", "layer2", "layer3", "layer4", "head"]


def test_module_lesson_helpers():
    model = zoo.build_model("lenet5")
    assert inspector.count_modules(model) == (3, len(list(model.modules())))
    tree = inspector.module_tree(model)
    assert [c.name for c in tree.children] == ["features", "flatten", "classifier"]
    assert tree.params == 61_706
    records = inspector.named_parameter_records(model)
    assert records[0] == {"name": "features.0.weight", "shape": [6, 1, 5, 5], "numel": 150,
                          "requires_grad": True}
    assert inspector.training_flags(model, False) == (False, 0, len(list(model.modules())))
    assert inspector.training_flags(model, True)[0]
    bn = zoo.build_model("lenet5", batchnorm=True)
    assert "features.1" in inspector.mode_sensitive(bn)
    assert inspector.tensor_devices(bn) == {"cpu": len(list(bn.parameters()))
                                            + len(list(bn.buffers()))}


def test_state_dict_round_trip_restores_identical_outputs():
    torch.manual_seed(0)
    model = zoo.build_model("resnet18", variant="mnist")
    data = inspector.state_dict_bytes(model)
    torch.manual_seed(1)
    other = zoo.build_model("resnet18", variant="mnist")
    assert inspector.max_output_difference(model, other, (1, 28, 28)) > 0
    inspector.load_checked(other, inspector.read_state_dict(data))
    assert inspector.max_output_difference(model, other, (1, 28, 28)) == 0.0


class _Payload:
    """Unpickling this would create a file: a stand-in for arbitrary code in a .pt upload."""

    def __init__(self, marker) -> None:
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def test_a_pickle_that_would_run_code_is_refused_and_nothing_runs(tmp_path):
    marker = tmp_path / "pwned.txt"
    path = tmp_path / "evil.pt"
    torch.save({"weight": torch.zeros(2), "payload": _Payload(marker)}, path)
    assert not marker.exists()
    with pytest.raises(inspector.StateDictError, match="Refused") as err:
        inspector.read_state_dict(path.read_bytes())
    assert "weights_only=True" in str(err.value)
    assert not marker.exists()


@pytest.mark.parametrize(("data", "message"), [(b"", "empty"), (b"not a torch file", "not a "
                                               "PyTorch .pt file")])
def test_files_that_are_not_state_dicts(data, message):
    with pytest.raises(inspector.StateDictError, match=message):
        inspector.read_state_dict(data)


def test_a_tensor_is_not_a_state_dict(tmp_path):
    path = tmp_path / "t.pt"
    torch.save(torch.zeros(3), path)
    with pytest.raises(inspector.StateDictError, match="not a state_dict"):
        inspector.read_state_dict(path.read_bytes())


def test_strict_key_check_lists_every_kind_of_mismatch():
    state = zoo.build_model("lenet5").state_dict()
    message = inspector.key_mismatches(zoo.build_model("lenet5", batchnorm=True), state)
    assert message and "missing keys" in message and "features.1.running_mean" in message
    message = inspector.key_mismatches(zoo.build_model("lenet5", variant="cifar"), state)
    assert "shape mismatches" in message and "features.0.weight: file [6, 1, 5, 5]" in message
    message = inspector.key_mismatches(zoo.build_model("mlp"), state)
    assert "unexpected keys" in message and "more" in message
    with pytest.raises(inspector.StateDictError, match="strict check"):
        inspector.load_checked(zoo.build_model("mlp"), state)
    assert inspector.key_mismatches(zoo.build_model("lenet5"), state) is None


def test_the_courses_facts_are_computed():
    mlp = inspector.mlp_vs_lenet()
    assert mlp.mlp_params == 400_906 and f"{mlp.mlp_mb:.1f}" == "1.6"
    assert mlp.widths == (784, 256, 256, 256, 256, 10)
    assert mlp.lenet_params == 61_706
    stack = inspector.vgg_stacked_convs(64)
    assert stack.big_kernel_params == 49 * 64**2 and stack.stacked_params == 27 * 64**2
    assert stack.receptive_field == 7
    bottleneck = inspector.bottleneck_macs()
    assert bottleneck.direct_macs == 9 * 256 * 256 == 589_824
    assert bottleneck.bottleneck_macs == 256 * 64 + 9 * 64 * 64 + 64 * 256 == 69_632
    assert inspector.one_by_one_is_linear().max_difference < 1e-5
    assert inspector.vgg19_vs_resnet101() == (143_667_240, 44_549_160)
    assert inspector.weight_memory_mb(400_906) == pytest.approx(1.603624)
