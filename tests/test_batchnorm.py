"""The BatchNorm lab against independently run torch layers, the course's numbers and the slide."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image
from torch import nn

from explorer import batchnorm as bn
from explorer import images

# --- an independent run of the same experiment ----------------------------------------------


def reference_run(config: bn.LabConfig, ops: list[tuple[str, object]]):
    """Replay `ops` on a fresh torch layer with its own generator; buffers after every step."""
    cls = nn.BatchNorm1d if config.kind == "1d" else nn.BatchNorm2d
    layer = cls(config.channels, affine=config.affine,
                track_running_stats=config.track_running_stats)
    gen = torch.Generator().manual_seed(config.seed)
    z = torch.randn(config.shape, generator=gen)
    shift, scale, same, training = 0.5, 1.0, True, True
    means, variances = [], []
    for op, value in ops:
        if op == "step":
            for _ in range(value):
                if not same:
                    z = torch.randn(config.shape, generator=gen)
                layer.train(training)
                with torch.no_grad():
                    layer(z * scale + shift)
                if config.track_running_stats:
                    means.append(layer.running_mean.clone())
                    variances.append(layer.running_var.clone())
        elif op == "shift":
            shift = value
        elif op == "scale":
            scale = value
        elif op == "same":
            same = value
        elif op == "training":
            training = value
        elif op == "momentum":
            layer.momentum = value
        elif op == "eps":
            layer.eps = value
    return layer, means, variances


def lab_run(config: bn.LabConfig, ops: list[tuple[str, object]]) -> bn.BatchNormLab:
    lab = bn.BatchNormLab(config)
    field = {"shift": "shift", "scale": "scale", "same": "same_batch", "training": "training",
             "momentum": "momentum", "eps": "eps"}
    for op, value in ops:
        if op == "step":
            assert lab.step(value) == value and lab.error is None
        else:
            lab.apply(dataclasses.replace(lab.knobs, **{field[op]: value}))
    return lab


OPS = st.one_of(
    st.tuples(st.just("step"), st.integers(1, 6)),
    st.tuples(st.just("shift"), st.floats(-3, 3, allow_nan=False)),
    st.tuples(st.just("scale"), st.floats(0.1, 3, allow_nan=False)),
    st.tuples(st.just("same"), st.booleans()),
    st.tuples(st.just("training"), st.booleans()),
    st.tuples(st.just("momentum"), st.sampled_from(list(bn.MOMENTUM_CHOICES.values()))),
    st.tuples(st.just("eps"), st.sampled_from(bn.EPS_CHOICES)),
)
CONFIGS = st.builds(
    bn.LabConfig, kind=st.sampled_from(["1d", "2d"]), channels=st.integers(1, 5),
    batch_size=st.integers(2, 6), size=st.integers(1, 3), seed=st.integers(0, 50),
    affine=st.booleans(), track_running_stats=st.booleans(),
)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(config=CONFIGS, ops=st.lists(OPS, max_size=12))
def test_buffers_equal_an_independent_layer_exactly_after_any_sequence(config, ops):
    lab = lab_run(config, ops)
    ref, means, variances = reference_run(config, ops)
    recorded = lab.history[1:]
    assert len(recorded) == sum(v for op, v in ops if op == "step")
    if not config.track_running_stats:
        assert lab.history[-1].running_mean is None and lab.layer.running_mean is None
        return
    # every displayed step, not only the last, is what torch's own layer holds
    for record, mean, var in zip(recorded, means, variances, strict=True):
        assert torch.equal(record.running_mean, mean)
        assert torch.equal(record.running_var, var)
    assert torch.equal(lab.history[-1].running_mean, ref.running_mean)
    assert torch.equal(lab.history[-1].running_var, ref.running_var)
    assert torch.equal(lab.layer.running_mean, ref.running_mean)
    assert lab.history[-1].num_batches_tracked == int(ref.num_batches_tracked)


@pytest.mark.parametrize("kind", ["1d", "2d"])
def test_a_fixed_mixed_sequence_equals_the_reference(kind):
    ops = [("step", 3), ("momentum", None), ("step", 4), ("same", False), ("shift", 2.0),
           ("momentum", 0.5), ("step", 5), ("training", False), ("step", 2)]
    config = bn.LabConfig(kind=kind, channels=3, batch_size=5, size=2)
    lab, (ref, _, _) = lab_run(config, ops), reference_run(config, ops)
    assert torch.equal(lab.history[-1].running_mean, ref.running_mean)
    assert torch.equal(lab.history[-1].running_var, ref.running_var)


def test_the_reference_can_tell_a_difference():
    """Guard: the comparison above fails when the lab feeds different data."""
    config = bn.LabConfig(channels=4, batch_size=8)
    lab = lab_run(config, [("step", 3)])
    ref, _, _ = reference_run(config, [("shift", 0.6), ("step", 3)])
    assert not torch.equal(lab.history[-1].running_mean, ref.running_mean)


# --- the course's numbers -------------------------------------------------------------------


def test_the_course_experiment_shows_the_slide_numbers():
    lab = bn.BatchNormLab()  # x = randn(100, 16) + 0.5, BatchNorm1d(16), momentum 0.1
    x = lab.batch()
    assert x.shape == (100, 16)
    assert lab.step(1) == 1
    first = lab.history[-1]
    torch.testing.assert_close(first.running_mean, 0.1 * x.mean(0))
    assert abs(float(first.running_mean.mean()) - 0.05) < 0.01
    lab.step(100)
    last = lab.history[-1]
    assert last.num_batches_tracked == 101
    torch.testing.assert_close(last.running_mean, x.mean(0), atol=1e-4, rtol=0)
    assert float(last.running_mean.min()) > 0.2 and float(last.running_mean.max()) < 0.8
    # running_var left 1 for the unbiased batch variance, not the biased one it normalised with
    torch.testing.assert_close(last.running_var, x.var(0, unbiased=True), atol=1e-4, rtol=0)
    assert not torch.allclose(last.running_var, x.var(0, unbiased=False), atol=1e-4)
    assert torch.equal(lab.history[0].running_var, torch.ones(16))


def test_momentum_none_is_the_cumulative_average():
    lab = bn.BatchNormLab(bn.LabConfig(channels=6, batch_size=10),
                          bn.Knobs(momentum=None, same_batch=False, scale=2.0))
    lab.step(25)
    batch_means = torch.stack([r.batch_mean for r in lab.history[1:]])
    batch_vars = torch.stack([r.batch_var_unbiased for r in lab.history[1:]])
    torch.testing.assert_close(lab.layer.running_mean, batch_means.mean(0), atol=1e-6, rtol=0)
    torch.testing.assert_close(lab.layer.running_var, batch_vars.mean(0), atol=1e-6, rtol=0)
    rule = lab.update_rule(0)
    assert rule.momentum is None and rule.factor == pytest.approx(1 / 25)


@pytest.mark.parametrize("momentum", [0.1, 0.5, None])
def test_update_rule_by_hand_matches_the_layer(momentum):
    lab = bn.BatchNormLab(bn.LabConfig(channels=3, batch_size=7),
                          bn.Knobs(momentum=momentum, same_batch=False))
    assert lab.update_rule(0) is None
    lab.step(4)
    for c in range(3):
        rule = lab.update_rule(c)
        assert rule.by_hand_mean == pytest.approx(rule.new_mean, abs=1e-6)
        assert rule.by_hand_var == pytest.approx(rule.new_var, abs=1e-6)
        assert rule.batch_var_unbiased == pytest.approx(rule.batch_var * 7 / 6, rel=1e-5)


def test_keras_momentum_is_the_other_weight():
    assert bn.keras_momentum(0.1) == pytest.approx(0.9)
    assert bn.torch_momentum(bn.KERAS_DEFAULT_MOMENTUM) == pytest.approx(0.01)
    assert bn.torch_momentum(bn.keras_momentum(0.3)) == pytest.approx(0.3)


# --- the algorithm box ----------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["1d", "2d"])
@pytest.mark.parametrize("training", [True, False])
@pytest.mark.parametrize("affine,track,eps", [(True, True, 1e-5), (False, True, 0.1),
                                              (True, False, 1.0)])
def test_hand_computation_equals_the_layer(kind, training, affine, track, eps):
    config = bn.LabConfig(kind=kind, channels=4, batch_size=9, size=3, affine=affine,
                          track_running_stats=track)
    lab = bn.BatchNormLab(config, bn.Knobs(eps=eps, gamma=1.7, beta=-0.4, shift=1.5,
                                           scale=2.0))
    lab.step(5)
    lab.apply(dataclasses.replace(lab.knobs, training=training))
    lab.step(1)
    y = lab.output()
    assert torch.equal(y, lab.last_output)
    for channel, sample in [(0, 0), (3, 8)]:
        hand = bn.hand_computation(lab.last_input, y, lab.layer, training, channel, sample)
        assert hand.max_abs_diff < 1e-5
        assert hand.y_hand == pytest.approx(hand.y_layer, abs=1e-5)
        assert hand.uses_batch_stats == (training or not track)
        expected_gamma = 1.7 if affine else 1.0
        assert hand.gamma == pytest.approx(expected_gamma)
        assert hand.x_hat == pytest.approx((hand.x - hand.mean) / math.sqrt(hand.var + eps))


def test_hand_computation_notices_a_wrong_layer_output():
    lab = bn.BatchNormLab(bn.LabConfig(channels=2, batch_size=4))
    lab.step(1)
    hand = bn.hand_computation(lab.last_input, lab.last_output + 1e-3, lab.layer, True, 0, 0)
    assert hand.max_abs_diff > 1e-4


def test_gamma_and_beta_move_the_output_not_the_buffers():
    lab = bn.BatchNormLab(bn.LabConfig(channels=3, batch_size=50))
    lab.step(1)
    before = lab.layer.running_mean.clone()
    lab.apply(dataclasses.replace(lab.knobs, gamma=2.0, beta=1.0))
    y = lab.output()
    assert torch.equal(lab.layer.running_mean, before)
    torch.testing.assert_close(y.mean(0), torch.ones(3), atol=1e-5, rtol=0)
    torch.testing.assert_close(y.std(0, unbiased=False), torch.full((3,), 2.0), atol=1e-3, rtol=0)


# --- train vs eval, batch of one, shift -----------------------------------------------------


def test_forgot_eval_batchnorm1d_refuses_a_batch_of_one_with_pytorchs_message():
    lab = bn.BatchNormLab()
    lab.step(10)
    buffers = lab.layer.running_mean.clone()
    single = bn.single_sample(lab)
    assert single.error.startswith("Expected more than 1 value per channel when training")
    assert "torch.Size([1, 16])" in single.error
    assert single.y_train is None and single.y_eval.shape == (1, 16)
    assert torch.equal(lab.layer.running_mean, buffers), "the demo must not touch the lab"
    assert lab.history[-1].num_batches_tracked == 10


def test_forgot_eval_batchnorm2d_normalises_one_image_with_its_own_statistics():
    lab = bn.BatchNormLab(bn.LabConfig(kind="2d", channels=3, batch_size=8, size=4),
                          bn.Knobs(shift=2.0))
    lab.step(30)
    single = bn.single_sample(lab)
    assert single.error is None
    _, train_means = single.channel_means()
    np.testing.assert_allclose(train_means, 0.0, atol=1e-5)  # its own statistics: mean β = 0
    assert single.max_abs_diff > 0.05


def test_stepping_a_batch_of_one_in_train_mode_is_refused_without_an_exception():
    lab = bn.BatchNormLab(bn.LabConfig(batch_size=1, channels=4))
    assert lab.step(3) == 0
    assert "Expected more than 1 value per channel" in lab.error
    assert lab.steps == 0
    lab.apply(dataclasses.replace(lab.knobs, training=False))
    assert lab.step(2) == 2 and lab.error is None
    assert torch.equal(lab.layer.running_mean, torch.zeros(4))  # eval never moves them


def test_train_and_eval_agree_once_the_running_stats_caught_up():
    lab = bn.BatchNormLab(bn.LabConfig(channels=2, batch_size=400))
    fresh = bn.compare_modes(lab.layer, lab.batch(), 0)
    assert np.abs(fresh.y_train - fresh.y_eval).max() > 0.1
    lab.step(200)
    caught = bn.compare_modes(lab.layer, lab.batch(), 0)
    # not equal: train mode divides by the biased variance, running_var holds the unbiased one
    np.testing.assert_allclose(caught.y_train, caught.y_eval * math.sqrt(400 / 399), atol=1e-3)
    np.testing.assert_array_equal(caught.x, lab.batch()[:, 0].double().numpy())


def test_distribution_shift_catch_up_matches_one_minus_momentum_to_the_k():
    lab = bn.BatchNormLab(bn.LabConfig(channels=3, batch_size=20))
    lab.step(200)
    assert lab.catch_up(0) is None
    lab.apply(dataclasses.replace(lab.knobs, shift=2.5))
    lab.step(10)
    early = lab.catch_up(1)
    assert early.steps_measured is None and early.steps_predicted == 29
    lab.step(40)
    catch = lab.catch_up(1)
    assert catch.from_step == 200 and catch.new_shift == 2.5 and catch.gap < -1.9
    assert catch.steps_measured == catch.steps_predicted == 29


def test_the_lab_caps_its_history(monkeypatch):
    monkeypatch.setattr(bn, "MAX_STEPS", 5)
    lab = bn.BatchNormLab(bn.LabConfig(channels=2, batch_size=4))
    assert lab.step(10) == 5
    assert "Reset" in lab.error
    lab.reset()
    assert lab.steps == 0 and len(lab.history) == 1


def test_series_shape_and_targets():
    lab = bn.BatchNormLab(bn.LabConfig(channels=3, batch_size=10),
                          bn.Knobs(same_batch=False, shift=1.0, scale=2.0))
    lab.step(4)
    means = lab.series("running_mean")
    assert means.shape == (5, 3)
    targets = lab.series("target_var")
    assert np.isnan(targets[0]).all() and (targets[1:] == 4.0).all()


# --- the layer's insides and the pictures ---------------------------------------------------


def test_layer_vars_lists_parameters_buffers_and_flags():
    lab = bn.BatchNormLab(knobs=bn.Knobs(momentum=None))
    lab.step(2)
    text = bn.layer_vars(lab.layer)
    for word in ("BatchNorm1d", "weight", "bias", "running_mean", "running_var",
                 "num_batches_tracked", "tensor(2)", "momentum            = None",
                 "track_running_stats = True"):
        assert word in text
    bare = bn.layer_vars(bn.make_layer(bn.LabConfig(affine=False, track_running_stats=False)))
    assert "weight              = None" in bare and "running_mean        = None" in bare


@pytest.mark.parametrize("kind,size", [("BatchNorm", 3 * 3 * 3), ("LayerNorm", 4 * 3 * 3),
                                       ("InstanceNorm", 3 * 3)])
def test_norm_group_is_the_set_of_averaged_axes(kind, size):
    group = bn.norm_group(kind, (3, 4, 3, 3), sample=1, channel=2)
    assert int(group.sum()) == size
    assert group[1, 2].all()
    if kind == "BatchNorm":
        assert group[:, 2].all() and not group[:, [0, 1, 3]].any()
    elif kind == "LayerNorm":
        assert group[1].all() and not group[[0, 2]].any()
    else:
        assert not group[0].any() and not group[1, 1].any()


def test_tile_lays_out_channels_down_and_samples_across():
    maps = torch.arange(2 * 3 * 2 * 2, dtype=torch.float32).reshape(2, 3, 2, 2)
    grid = bn.tile(maps, gap=1)
    assert grid.shape == (3 * 3 - 1, 2 * 3 - 1)
    np.testing.assert_array_equal(grid[3:5, 3:5], maps[1, 1].numpy())
    assert np.isnan(grid[2]).all() and np.isnan(grid[:, 2]).all()


def test_batchnorm2d_on_the_photos_feature_maps():
    photo = images.load_path(next(iter(images.sample_images().values())))
    maps = bn.image_feature_maps(photo.image, crops=4, size=16)
    assert maps.shape == (4, len(bn.FEATURE_KERNELS), 16, 16)
    result = bn.batchnorm_feature_maps(maps)
    np.testing.assert_allclose(result.mean_after, 0.0, atol=1e-5)
    np.testing.assert_allclose(result.std_after, 1.0, atol=1e-3)
    assert result.std_before.max() / result.std_before.min() > 1.2  # scales differ before


def test_feature_maps_of_a_tiny_image_do_not_fail():
    maps = bn.image_feature_maps(Image.new("RGB", (1, 1), (10, 200, 30)))
    result = bn.batchnorm_feature_maps(maps)
    assert np.isfinite(result.after.numpy()).all()


@pytest.mark.parametrize("shape", [(7, 3), (5, 3, 4, 4), (1, 3, 2, 2)])
def test_batch_statistics_match_torch(shape):
    x = torch.randn(shape, generator=torch.Generator().manual_seed(3)) * 2 + 1
    dims = (0,) if x.dim() == 2 else (0, 2, 3)
    stats = bn.batch_statistics(x)
    torch.testing.assert_close(stats["batch_mean"], x.mean(dims))
    torch.testing.assert_close(stats["batch_var"], x.var(dims, unbiased=False))
    torch.testing.assert_close(stats["batch_var_unbiased"], x.var(dims, unbiased=True))


def test_a_batch_that_is_too_big_is_flagged_by_its_size():
    assert bn.LabConfig().numel == 1600 <= bn.MAX_VALUES
    assert bn.LabConfig(kind="2d", channels=64, batch_size=512, size=16).numel > bn.MAX_VALUES


# --- what the page shows, as text -------------------------------------------------------------


def test_numbers_for_metrics_and_latex():
    assert bn.format_value(None) == bn.format_value(float("nan")) == "None"
    assert bn.format_value(0.123456) == "0.1235"
    assert bn.tex_number(-0.5) == "(-0.5000)" and bn.tex_number(1e-5) == r"10^{-5}"
    assert bn.tex_number(3e-4, 2) == r"3\times10^{-4}"
    assert bn.mean_std(np.array([1.0, 3.0])) == (2.0, 1.0)


def test_the_update_rule_and_the_algorithm_box_are_written_with_the_steps_numbers():
    lab = bn.BatchNormLab(bn.LabConfig(channels=3, batch_size=7))
    lab.step(2)
    rule = lab.update_rule(1)
    mean_tex, var_tex = rule.latex(1)
    assert r"\text{running\_mean}[1]" in mean_tex and f"{rule.by_hand_mean:.4f}" in mean_tex
    assert r"\underbrace" in var_tex and f"{rule.by_hand_var:.4f}" in var_tex
    assert f"{rule.by_hand_mean:.4f}" in rule.keras_latex(1) and "0.9" in rule.keras_latex(1)
    assert f"{rule.new_mean:.6f}" in rule.stored_sentence()
    assert "Keras' default 0.99 is PyTorch momentum=0.01: 10 times slower" \
        in rule.keras_sentence()
    hand = bn.hand_computation(lab.last_input, lab.output(), lab.layer, True, 1, 0)
    assert len(hand.statistics_latex()) == 2 and len(hand.output_latex()) == 2
    assert f"{hand.y_hand:.6f}" in hand.output_latex()[1]
    lab.layer.eval()
    held = bn.hand_computation(lab.last_input, lab.output(), lab.layer, False, 1, 0)
    assert r"\text{running\_mean}" in held.statistics_latex()[0]


def test_a_shift_is_told_in_one_sentence():
    lab = bn.BatchNormLab(bn.LabConfig(channels=2, batch_size=50))
    lab.step(5)
    lab.apply(bn.Knobs(shift=1.5))
    lab.step(40)
    text = lab.catch_up(0).sentence(0, training=True)
    assert "went from 0.5 to 1.5" in text and "running_mean[0]" in text
    assert "29 steps by (1 − momentum)^k" in text


def test_each_session_keeps_its_own_lab(open_page):
    """Two browsers step their labs apart (no shared cache of labs to evict one); the lab lives
    in the session's resource cache, session state holds no tensors."""
    first = open_page("pages/batchnorm.py")
    first.button(key="bn_step10").click().run()
    second = open_page("pages/batchnorm.py")
    second.button(key="bn_step1").click().run()
    first.button(key="bn_step1").click().run()
    steps = [{m.label: m.value for m in at.metric}["Steps"] for at in (first, second)]
    assert steps == ["11", "1"]
    assert first.session_state["bn_lab_id"] != second.session_state["bn_lab_id"]
    held = first.session_state.values()
    assert not any(isinstance(v, (bn.BatchNormLab, torch.Tensor)) for v in held)


def test_three_hundred_sessions_keep_three_hundred_labs(monkeypatch):
    """The lab's cache is per session: no count of other students pushes a lab out (the old
    global cache held 256), and a session's labs go when it disconnects."""
    from streamlit.runtime.caching import cache_resource_api

    from explorer.ui import batchnorm_lab

    session = {"id": ""}
    monkeypatch.setattr(cache_resource_api, "get_session_id_or_throw", lambda: session["id"])
    ids = [f"test-session-{i}" for i in range(300)]
    try:
        for i, session["id"] in enumerate(ids):
            batchnorm_lab._slot("lab")["lab"] = i
        for i, session["id"] in enumerate(ids):
            assert batchnorm_lab._slot("lab")["lab"] == i
        cache_resource_api.clear_session_cache(ids[0])  # what a disconnect does
        session["id"] = ids[0]
        assert batchnorm_lab._slot("lab") == {}
    finally:
        for session_id in ids:
            cache_resource_api.clear_session_cache(session_id)
