"""Batched on-device augmentation: exact geometry, per-sample randomness, normalisation."""

from __future__ import annotations

import torch

from explorer.training import augment
from explorer.training.augment import AugmentConfig


def _batch(n=64, h=6, w=6):
    return (torch.arange(h * w, dtype=torch.float32).view(1, 1, h, w) / (h * w)).repeat(
        n, 1, 1, 1)


def _gen(seed=0):
    return torch.Generator().manual_seed(seed)


def test_nothing_enabled_is_the_identity():
    x = _batch()
    assert not AugmentConfig().enabled
    assert augment.augment(x, AugmentConfig(), _gen()) is x
    same = AugmentConfig(scale_min=1.0, scale_max=1.0, rotation=0)
    assert torch.equal(augment.augment(x, same, _gen()), x)


def test_flips_are_exact_and_drawn_per_sample():
    x = _batch()
    y = augment.augment(x, AugmentConfig(hflip=True), _gen())
    flipped = torch.flip(x[0], dims=[-1])
    is_flip = [torch.allclose(y[i], flipped, atol=1e-5) for i in range(len(x))]
    is_same = [torch.allclose(y[i], x[0], atol=1e-5) for i in range(len(x))]
    assert all(a or b for a, b in zip(is_flip, is_same, strict=True))
    assert 10 < sum(is_flip) < 54  # both outcomes in one batch: randomness is per sample


def test_rot90_gives_every_quarter_turn_exactly():
    x = _batch()
    y = augment.augment(x, AugmentConfig(rot90=True), _gen())
    turns = [torch.rot90(x[0], k, dims=(1, 2)) for k in range(4)]
    counts = [sum(torch.allclose(y[i], t, atol=1e-5) for i in range(len(x))) for t in turns]
    assert sum(counts) == len(x) and min(counts) > 0


def test_random_crop_shifts_by_whole_pixels_with_zero_fill():
    x = _batch() + 0.01
    y = augment.augment(x, AugmentConfig(crop_padding=2), _gen())
    padded = torch.nn.functional.pad(x[0], (2, 2, 2, 2))
    crops = [padded[:, i:i + 6, j:j + 6] for i in range(5) for j in range(5)]
    for i in range(len(x)):
        assert any(torch.allclose(y[i], c, atol=1e-5) for c in crops)


def test_rotation_and_zoom_keep_shape_and_mass_roughly():
    x = torch.zeros(8, 1, 28, 28)
    x[:, :, 10:18, 10:18] = 1.0
    y = augment.augment(x, AugmentConfig(rotation=30, scale_min=0.9, scale_max=1.1), _gen())
    assert y.shape == x.shape
    assert torch.allclose(y.sum((1, 2, 3)), x.sum((1, 2, 3)), rtol=0.3)
    assert not torch.allclose(y[0], y[1])  # each sample drew its own angle and zoom


def test_noise_is_clamped_and_has_the_requested_spread():
    x = torch.full((16, 1, 32, 32), 0.5)
    y = augment.augment(x, AugmentConfig(noise=0.1), _gen())
    assert y.min() >= 0 and y.max() <= 1
    assert abs(float((y - x).std()) - 0.1) < 0.01


def test_same_seed_same_draws():
    cfg = AugmentConfig(hflip=True, rotation=15, crop_padding=2, noise=0.05)
    x = _batch(8, 12, 12)
    assert torch.equal(augment.augment(x, cfg, _gen(3)), augment.augment(x, cfg, _gen(3)))


def test_pipeline_normalises_resizes_and_augments_only_in_training():
    x = torch.randint(0, 256, (32, 1, 28, 28), dtype=torch.uint8)
    mean = (float(x.float().mean() / 255),)
    std = (float((x.float() / 255).std()),)
    pipe = augment.BatchPipeline(mean, std, AugmentConfig(hflip=True), torch.device("cpu"),
                                 size=32)
    out = pipe(x, train=False)
    assert out.shape == (32, 1, 32, 32)
    plain = augment.BatchPipeline(mean, std, AugmentConfig(), torch.device("cpu"))(x, False)
    assert abs(float(plain.mean())) < 1e-3 and abs(float(plain.std()) - 1) < 1e-2
    assert not torch.equal(pipe(x, train=True), out)


def test_preview_rows_start_with_the_original():
    x = torch.randint(0, 256, (3, 1, 10, 10), dtype=torch.uint8)
    grid = augment.preview(x, AugmentConfig(noise=0.2), copies=4)
    assert grid.shape == (12, 1, 10, 10)
    assert torch.allclose(grid[4], x[1].float() / 255)
    image = augment.grid_image(grid, nrow=4, upscale=2)
    assert image.dtype == torch.uint8 and image.shape[-1] == 3
    assert "noise σ=0.2" in AugmentConfig(noise=0.2).describe()
