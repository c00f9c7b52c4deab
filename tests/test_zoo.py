"""The model zoo: registry, every model on every configuration, exact ImageNet parameter counts,
clear build errors and offline-only pretrained weights."""

from __future__ import annotations

import dataclasses
import hashlib
import re

import pytest
import torch
import torchvision

from explorer.models import weights, zoo

IMAGENET_PARAMS = {
    "alexnet": 61_100_840, "vgg11": 132_863_336, "vgg13": 133_047_848, "vgg16": 138_357_544,
    "vgg19": 143_667_240, "googlenet": 6_624_904, "resnet18": 11_689_512,
    "resnet34": 21_797_672, "resnet50": 25_557_032, "densenet121": 7_978_856,
}
CONTRACT_KEYS = ["mlp", "lenet5", "lenet5-classic", "alexnet", "vgg11", "vgg13", "vgg16",
                 "vgg19", "nin", "googlenet", "resnet18", "resnet34", "resnet50", "densenet121"]


def n_params(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def test_registry_has_the_course_networks_in_order():
    keys = zoo.list_models()
    assert [k for k in keys if k in CONTRACT_KEYS] == CONTRACT_KEYS
    for key in keys:
        spec = zoo.get_spec(key)
        assert spec.key == key and spec.title and spec.paper and spec.small_note
        assert "\n" not in spec.small_note
    assert zoo.get_spec("resnet50").imagenet_from_torchvision
    assert not zoo.get_spec("nin").imagenet_from_torchvision
    with pytest.raises(KeyError, match="unknown model"):
        zoo.get_spec("transformer")


def test_variants():
    assert zoo.VARIANTS["mnist"].input_shape == (1, 28, 28)
    assert zoo.VARIANTS["cifar"].input_shape == (3, 32, 32)
    assert zoo.VARIANTS["imagenet"].input_shape == (3, 224, 224)
    assert zoo.VARIANTS["imagenet"].num_classes == 1000
    assert zoo.VARIANTS["mnist"].small and not zoo.VARIANTS["imagenet"].small


@pytest.mark.parametrize("key", zoo.list_models())
def test_small_models_forward_for_real(key):
    torch.manual_seed(0)
    model = zoo.build_model(key, variant="mnist").eval()
    with torch.no_grad():
        out = model(torch.randn(2, 1, 28, 28))
    assert out.shape == (2, 10)
    assert torch.isfinite(out).all()


@pytest.mark.parametrize("key", zoo.list_models())
@pytest.mark.parametrize("variant", ["cifar", "imagenet"])
def test_models_forward_on_meta(key, variant):
    """The same code on the meta device: every shape is checked, no arithmetic is done."""
    config = zoo.VARIANTS[variant]
    with torch.device("meta"):
        model = zoo.build_model(key, variant=variant)
        out = model.eval()(torch.zeros(2, *config.input_shape))
    assert out.shape == (2, config.num_classes)


@pytest.mark.parametrize(("key", "expected"), IMAGENET_PARAMS.items())
def test_imagenet_parameter_counts_equal_torchvision(key, expected):
    with torch.device("meta"):
        assert n_params(zoo.build_model(key, variant="imagenet")) == expected


def test_vgg_configuration_c_has_1x1_convs_and_the_papers_134m():
    with torch.device("meta"):
        model = zoo.build_model("vgg16-c", variant="imagenet")
    kernels = [m.kernel_size for m in model.modules() if isinstance(m, torch.nn.Conv2d)]
    assert kernels.count((1, 1)) == 3 and len(kernels) == 13
    assert round(n_params(model) / 1e6) == 134


def test_mlp_is_the_courses_400906_parameters():
    assert n_params(zoo.build_model("mlp")) == 400_906


BATCHNORM_KEYS = [k for k in zoo.list_models() if zoo.get_spec(k).supports_batchnorm]


@pytest.mark.parametrize("key", BATCHNORM_KEYS)
def test_batchnorm_option_adds_batchnorm(key):
    plain = zoo.build_model(key, variant="cifar")
    with_bn = zoo.build_model(key, variant="cifar", batchnorm=True).eval()
    has_bn = [isinstance(m, torch.nn.modules.batchnorm._BatchNorm) for m in with_bn.modules()]
    assert any(has_bn)
    assert not any(isinstance(m, torch.nn.modules.batchnorm._BatchNorm) for m in plain.modules())
    assert with_bn(torch.zeros(2, 3, 32, 32)).shape == (2, 10)


def test_explicit_sizes_override_the_variant():
    model = zoo.build_model("lenet5", variant="mnist", in_channels=3, height=40, width=36,
                            num_classes=7)
    assert model(torch.zeros(1, 3, 40, 36)).shape == (1, 7)
    assert zoo.build_model("resnet18", variant="imagenet", height=64, width=64,
                           num_classes=5)(torch.zeros(1, 3, 64, 64)).shape == (1, 5)


def test_seeded_builds_are_identical():
    torch.manual_seed(3)
    a = zoo.build_model("lenet5")
    torch.manual_seed(3)
    b = zoo.build_model("lenet5")
    assert all(torch.equal(x, y) for x, y in zip(a.state_dict().values(),
                                                  b.state_dict().values(), strict=True))


@pytest.mark.parametrize(("key", "variant", "side"), [("lenet5", "mnist", 8),
                                                      ("vgg16", "imagenet", 16),
                                                      ("alexnet", "imagenet", 40)])
def test_too_small_input_says_why_in_one_sentence(key, variant, side):
    with pytest.raises(zoo.BuildError) as err:
        zoo.build_model(key, variant=variant, height=side, width=side)
    message = str(err.value)
    minimum = zoo.min_input_size(key, variant)
    assert minimum > side
    assert f"at least {minimum}×{minimum}" in message and f"{side}×{side}" in message
    assert message.endswith(".") and ". " not in message and "\n" not in message
    with torch.device("meta"):  # the minimum builds
        zoo.build_model(key, variant=variant, height=minimum, width=minimum)


def test_bad_settings_are_build_errors():
    with pytest.raises(zoo.BuildError, match="3-channel"):
        zoo.build_model("resnet18", variant="imagenet", in_channels=1)
    with pytest.raises(zoo.BuildError, match="Unknown configuration"):
        zoo.build_model("resnet18", variant="svhn")
    with pytest.raises(zoo.BuildError, match="at least 1"):
        zoo.build_model("mlp", num_classes=0)
    assert issubclass(zoo.BuildError, ValueError)


@pytest.fixture
def offline_hub(tmp_path, monkeypatch):
    """An empty torch hub cache, and any attempt to download fails the test."""
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path))

    def no_download(*args, **kwargs):
        raise AssertionError("the zoo must never download")

    monkeypatch.setattr(torch.hub, "load_state_dict_from_url", no_download)
    monkeypatch.setattr(torch.hub, "download_url_to_file", no_download)
    return tmp_path


def _save_as_published(state: dict, key: str, monkeypatch) -> None:
    """Save `state` under torchvision's file name for `key` and make the file's SHA-256 the
    one its registry entry expects (made-up tensors never match the published digest)."""
    file = zoo.pretrained_file(key)
    file.path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(state, file.path)
    digest = hashlib.sha256(file.path.read_bytes()).hexdigest()
    monkeypatch.setitem(weights.REGISTRY, file.enum_name,
                        dataclasses.replace(file, sha256=digest))


def test_missing_pretrained_weights_say_where_they_go(offline_hub):
    path = zoo.pretrained_path("resnet18")
    assert path == offline_hub / "checkpoints" / "resnet18-f37072fd.pth"
    with pytest.raises(zoo.PretrainedMissing) as err:
        zoo.build_pretrained("resnet18")
    message = str(err.value)
    assert message == ("No pretrained ResNet-18 weights on this machine: download "
                       "https://download.pytorch.org/models/resnet18-f37072fd.pth and save it "
                       "as resnet18-f37072fd.pth in the checkpoints folder of the server's "
                       "torch hub cache ($TORCH_HOME/hub/checkpoints).")
    assert str(offline_hub) not in message, "students never read the server's folders"
    assert zoo.pretrained_path("nin") is None


def test_a_refused_cached_file_says_why_rather_than_missing(offline_hub):
    path = zoo.pretrained_path("resnet18")
    path.parent.mkdir(parents=True)
    path.write_bytes(b"not the published weights")
    with pytest.raises(zoo.PretrainedMissing) as err:
        zoo.build_pretrained("resnet18")
    assert str(err.value) == zoo.pretrained_file("resnet18").refusal()
    assert "does not match its SHA-256" in str(err.value) and str(offline_hub) not in str(
        err.value)


def test_a_file_that_is_not_a_state_dict_is_named_without_its_folder(offline_hub,
                                                                      monkeypatch):
    _save_as_published({"fc.weight": torch.zeros(1)}, "resnet18", monkeypatch)
    with pytest.raises(zoo.PretrainedMissing) as err:
        zoo.build_pretrained("resnet18")
    message = str(err.value)
    assert message.startswith("The weights file resnet18-f37072fd.pth is not a plain "
                              "state_dict of ResNet-18 (")
    assert str(offline_hub) not in message and not re.search(r"(^|[\s(“`'\"])/\w", message)


def test_pretrained_weights_load_from_the_hub_cache(offline_hub, monkeypatch):
    torch.manual_seed(1)
    source = zoo.build_model("resnet18", variant="imagenet")
    _save_as_published(source.state_dict(), "resnet18", monkeypatch)
    target = zoo.build_pretrained("resnet18")
    assert torch.equal(target.fc.weight, source.fc.weight)
    assert not target.training


def test_published_file_quirks_are_undone(offline_hub, monkeypatch):
    """torchvision's builders read the files as published: GoogLeNet with its auxiliary heads
    (dropped after loading), DenseNet with the pre-0.4 "norm.1" key names."""
    published = torchvision.models.googlenet(weights=None, aux_logits=True, init_weights=False)
    assert any(k.startswith(("aux1.", "aux2.")) for k in published.state_dict())
    _save_as_published(published.state_dict(), "googlenet", monkeypatch)
    googlenet = zoo.build_pretrained("googlenet")
    assert googlenet.aux1 is None and googlenet.transform_input
    assert torch.equal(googlenet.fc.weight, published.fc.weight)

    densenet = torchvision.models.densenet121(weights=None)
    new_key = "features.denseblock1.denselayer1.norm1.weight"
    old = {k.replace("norm1.", "norm.1.").replace("conv2.", "conv.2."): v
           for k, v in densenet.state_dict().items()
           if not k.endswith("num_batches_tracked")}  # as published: pre-0.4, no counters
    assert "features.denseblock1.denselayer1.norm.1.weight" in old and new_key not in old
    _save_as_published(old, "densenet121", monkeypatch)
    loaded = zoo.build_pretrained("densenet121")
    assert torch.equal(loaded.state_dict()[new_key], densenet.state_dict()[new_key])
    with torch.device("meta"):
        names = set(zoo.build_model("densenet121", variant="imagenet").state_dict())
    assert set(loaded.state_dict()) == names


def test_imagenet_preprocessing_comes_from_the_weights():
    transforms = zoo.imagenet_transforms("vgg16")
    assert list(transforms.mean) == [0.485, 0.456, 0.406]
    assert list(transforms.std) == [0.229, 0.224, 0.225]
    assert transforms.resize_size == [256] and transforms.crop_size == [224]


def test_imagenet_class_names_offline():
    names = zoo.imagenet_class_names()
    assert len(names) == 1000 and names[0] == "tench"


def _weights(model):
    return [t.clone() for t in model.state_dict().values()]


def test_seeded_builds_are_reproducible_under_concurrency():
    """Two threads building with different seeds each get exactly a lone build's weights."""
    import threading

    alone = {seed: _weights(zoo.build_seeded("lenet5", seed=seed)) for seed in (1, 2)}
    torch.manual_seed(123)
    before = torch.random.get_rng_state()
    for _ in range(20):
        got: dict[int, list] = {}
        barrier = threading.Barrier(2)

        def build(seed, got=got, barrier=barrier):
            barrier.wait()
            got[seed] = _weights(zoo.build_seeded("lenet5", seed=seed))

        threads = [threading.Thread(target=build, args=(s,)) for s in (1, 2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        for seed in (1, 2):
            assert all(torch.equal(a, b) for a, b in zip(got[seed], alone[seed], strict=True))
    assert torch.equal(torch.random.get_rng_state(), before)  # the caller's RNG is untouched


def test_each_vgg_configuration_is_listed_once_under_a_name_no_other_entry_shares():
    titles = [zoo.get_spec(k).title for k in zoo.list_models()]
    assert len(set(titles)) == len(titles)
    vgg = [t for t in titles if t.startswith("VGG")]
    for letter in "ABCDE":
        assert sum(f"configuration {letter}" in t for t in vgg) == 1, (letter, vgg)
    assert len({t.split(" (")[0] for t in vgg}) == len(vgg)  # not even the part before "("


def test_the_zoo_page_keeps_its_networks_in_the_shared_byte_bounded_cache(open_page):
    from explorer.serving import shared_cache
    from explorer.ui.zoo_networks import SEED, Network

    shared_cache.models.clear()
    at = open_page("pages/zoo.py")
    assert not at.exception, [e.value for e in at.exception]
    keys = shared_cache.models.keys()
    assert ("zoo", "meta", Network("lenet5", "mnist", False)) in keys
    assert ("zoo", "seeded", "lenet5", "mnist", False, SEED) in keys  # the to(device) lesson
    at.selectbox(key="zoo_layer").set_value("features.0").run()
    keys = shared_cache.models.keys()
    assert ("zoo", "meta", Network("lenet5", "mnist", False, "features.0", 5, 1)) in keys
    mlp = next(s.value for s in at.success if "course's MLP" in s.value)
    assert "**400,906** parameters by PyTorch's count" in mlp and "prints “390K”" in mlp
