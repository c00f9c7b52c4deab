"""The course's facts about the classic architectures are computed, not typed."""

from __future__ import annotations

import pytest
import torch

from explorer.models import course_facts, layer_table, zoo


def test_the_courses_facts_are_computed():
    mlp = course_facts.mlp_vs_lenet()
    assert mlp.mlp_params == 400_906 and f"{mlp.mlp_mb:.1f}" == "1.6"
    assert mlp.widths == (784, 256, 256, 256, 256, 10)
    assert mlp.lenet_params == 61_706
    stack = course_facts.vgg_stacked_convs(64)
    assert stack.big_kernel_params == 49 * 64**2 and stack.stacked_params == 27 * 64**2
    assert stack.receptive_field == 7
    bottleneck = course_facts.bottleneck_macs()
    assert bottleneck.direct_macs == 9 * 256 * 256 == 589_824
    assert bottleneck.bottleneck_macs == 256 * 64 + 9 * 64 * 64 + 64 * 256 == 69_632
    assert course_facts.one_by_one_is_linear().max_difference < 1e-5
    assert course_facts.vgg19_vs_resnet101() == (143_667_240, 44_549_160)
    assert layer_table.weight_memory_mb(400_906) == pytest.approx(1.603624)


def test_the_mlp_sentence_says_what_torch_counts_and_what_the_slide_prints():
    mlp = course_facts.mlp_vs_lenet()
    assert mlp.mlp_weights == 784 * 256 + 3 * 256 * 256 + 256 * 10 == 399_872
    assert mlp.mlp_biases == 4 * 256 + 10 == 1_034
    text = course_facts.sentence(course_facts.Fact.MLP)
    assert "**400,906** parameters by PyTorch's count" in text
    assert "399,872 weights and 1,034 biases" in text
    assert "the course's slide prints “390K”" in text
    assert "rounds" not in text  # 400,906 does not round to 390K


def test_every_fact_has_a_sentence_in_each_language_and_families_pick_theirs():
    from explorer import i18n

    for lang in i18n.LANGUAGES:
        with i18n.use_language(lang):
            assert all(course_facts.sentence(f) for f in course_facts.Fact)
    assert list(course_facts.Fact) == ["mlp", "vgg", "1x1", "bottleneck", "deep"]
    assert course_facts.for_family("resnet") == (course_facts.Fact.BOTTLENECK,
                                                 course_facts.Fact.DEEP)
    assert course_facts.for_family("alexnet") == () == course_facts.for_family("unknown")
    assert course_facts.computed() is course_facts.computed()


def test_networks_compared_at_the_course_size():
    """LeNet-5 on digits, VGG-16 and ResNet-18 at 224: the numbers the zoo's comparison shows."""
    from explorer.models import comparison, layer_table

    rows = {}
    for key in comparison.DEFAULT:
        variant = comparison.course_variant(key)
        with torch.device("meta"):
            model = zoo.build_model(key, variant=variant)
        table = layer_table.inspect_model(model, zoo.VARIANTS[variant].input_shape)
        rows[key] = comparison.row(key, table, model)
    assert [rows[k].variant for k in comparison.DEFAULT] == ["mnist", "imagenet", "imagenet"]
    assert rows["vgg16"].params == 138_357_544 and rows["resnet18"].params == 11_689_512
    assert [rows[k].depth for k in comparison.DEFAULT] == [5, 16, 18]
    assert rows["resnet18"].receptive_field == 435 and rows["vgg16"].receptive_field == 212
    assert rows["vgg16"].published_params == "138M"
