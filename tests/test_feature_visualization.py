"""Feature visualisation of a channel (explorer/feature_visualization.py): for a LeNet-5
trained on mnist-mini, each first-layer channel's optimised image excites it far more than
the mean test image does and holds that channel's own filter; a random network's excite less."""

from __future__ import annotations

import pytest
import torch

from explorer import feature_visualization as fv
from explorer.models import zoo
from explorer.training import augment, checkpoints, datasets

SETTINGS = fv.Settings(steps=96, frames=4, lr=0.08)


@pytest.fixture(autouse=True)
def one_thread():
    """Batch-1 steps of a small network: OpenMP threads only wait for each other (on a busy
    2-core machine a step took 30× longer with two)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def digits():
    data = datasets.load("mnist-mini")
    pipe = augment.BatchPipeline(data.mean, data.std, augment.AugmentConfig(),
                                 torch.device("cpu"))
    return data, lambda x: pipe(x, train=False)


def _optimised(model, channel, data) -> fv.Frame:
    frames = list(fv.visualise(model, "features.0", channel, data.shape, data.mean, data.std,
                               fv.colour_basis(data.train_x[:64]), SETTINGS))
    assert [f.step for f in frames] == [0, 32, 64, 96]
    return frames[-1]


def test_a_trained_lenet_s_first_channels_see_their_own_filters(lenet_run, digits):
    """Measured (2 epochs of LeNet-5, 96 steps): the optimised images excite their channels
    1.5-11× (median about 8×) more than the mean test image; a channel whose filter is mostly
    negative (a dark detector) gets little more from any image than from the mostly black
    mean digit, so not every channel reaches 10×."""
    data, normalise = digits
    model, _ = checkpoints.model_from_checkpoint(lenet_run)
    mean_image = normalise(data.test_x[:1000].float().mean(0, keepdim=True).round().byte())
    weight = model.features[0].weight.detach()
    random_model = zoo.build_seeded("lenet5", seed=1)
    images, ratios, trained, untrained = [], [], [], []
    for channel in range(weight.shape[0]):
        frame = _optimised(model, channel, data)
        base = float(fv.channel_response(model, "features.0", channel, mean_image))
        images.append((frame.image - data.mean[0]) / data.std[0])
        ratios.append(frame.activation / max(base, 1e-9))
        trained.append(frame.activation)
        untrained.append(_optimised(random_model, channel, data).activation)
        print(f"channel {channel}: optimised {frame.activation:.3f} vs mean test image "
              f"{base:.3f} ({ratios[-1]:.1f}×); random network's {untrained[-1]:.3f}")
        assert frame.activation > base
    assert sorted(ratios)[len(ratios) // 2] >= 5, ratios
    assert sum(trained) > 1.3 * sum(untrained), "measured 1.7×: trained channels excite more"
    # the centre cell's own optimum ("neuron"): the patch it sees is its filter's pattern
    rf = fv.receptive_field(model, "features.0", mean_image)
    top, left, bottom, right = (int(v) for v in rf.box(14, 14))
    match = []  # match[i][j]: correlation of image i's centre patch with filter j
    for channel in range(weight.shape[0]):
        frames = fv.visualise(model, "features.0", channel, data.shape, data.mean, data.std,
                              torch.ones(1, 1), fv.Settings(steps=96, frames=2, lr=0.08,
                                                            objective="neuron"))
        centre = list(frames)[-1].image[0, top:bottom + 1, left:right + 1].flatten()
        match.append([float(torch.corrcoef(torch.stack([centre, w.flatten()]))[0, 1])
                      for w in weight])
    own = [row[i] for i, row in enumerate(match)]
    others = [v for i, row in enumerate(match) for j, v in enumerate(row) if j != i]
    print(f"centre patch ~ own filter: {', '.join(f'{v:.2f}' for v in own)}; ~ the other "
          f"filters: {sum(others) / len(others):.2f} on average")
    assert (bottom - top, right - left) == (4, 4)
    assert min(own) > 0.25 and sum(own) / len(own) > sum(others) / len(others) + 0.3
    assert all(p.requires_grad for p in model.parameters()), "the model is left as it was"


def test_the_first_frame_comes_before_any_step_and_a_stop_ends_it(digits):
    data, _ = digits
    model = zoo.build_seeded("lenet5", seed=0)
    asked = []

    def stop() -> bool:
        asked.append(1)
        return len(asked) > 20

    frames = list(fv.visualise(model, "features.3", 2, data.shape, data.mean, data.std,
                               torch.ones(1, 1), fv.Settings(steps=200, frames=5), stop))
    assert frames[0].step == 0 and len(frames) == 2, [f.step for f in frames]
    assert frames[-1].image.shape == data.shape and frames[-1].image.min() >= 0


def test_dataset_examples_rank_the_images_and_name_the_patch_their_best_cell_sees(digits):
    data, normalise = digits
    model = zoo.build_seeded("lenet5", seed=0)
    most, least = fv.dataset_examples(model, "features.0", 1, data.test_x[:300], normalise,
                                      count=5)
    assert [e.response for e in most] == sorted((e.response for e in most), reverse=True)
    assert most[-1].response >= least[0].response
    responses = torch.stack([
        torch.nn.functional.conv2d(normalise(data.test_x[i:i + 1]), model.features[0].weight,
                                   model.features[0].bias, padding=model.features[0].padding
                                   )[0, 1].max() for i in range(300)])
    assert most[0].index == int(responses.argmax()) and least[0].index == int(responses.argmin())
    top, left, bottom, right = most[0].patch
    assert bottom - top + 1 <= 5 and right - left + 1 <= 5, "a 5×5 conv's cell sees 5×5 pixels"


def test_colour_basis_decorrelates_the_data_s_colours():
    g = torch.Generator().manual_seed(0)
    grey = torch.rand(200, 1, 4, 4, generator=g)
    images = torch.cat([grey, grey * 0.8 + 0.2 * torch.rand(200, 1, 4, 4, generator=g),
                        torch.rand(200, 1, 4, 4, generator=g)], 1)
    basis = fv.colour_basis(images)
    assert basis.shape == (3, 3) and basis.norm(dim=0).max() == pytest.approx(1.0)
    pixels = images.transpose(0, 1).reshape(3, -1)
    covariance = torch.cov(pixels)
    assert torch.allclose(basis @ basis.T * (covariance.trace() / (basis @ basis.T).trace()),
                          covariance, rtol=0.2, atol=0.01)
