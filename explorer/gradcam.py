"""Grad-CAM (Selvaraju et al., 2017): which region of the image drove the score of one class.

For a chosen conv layer with activations A (channels k), weigh each channel by the spatial
mean of d score / d A_k and keep the positive part of the weighted sum:

    cam = ReLU( sum_k  mean_ij(d y_c / d A_k[i, j]) * A_k )

then upsample it to the input's size and scale it to [0, 1].

Why not torchcam: the method is the dozen lines below, torchcam is not installed, and the
project avoids new dependencies. Writing it here also lets us handle what a generic library
would trip over in this app: modules called twice (torchvision's ResNet reuses one ReLU, so a
layer is named "layer1.0.relu#2" for its second call) and in-place operations after the chosen
layer (`ReLU(inplace=True)`, `out += identity`), which the hook sidesteps by handing a clone
downstream while it keeps the original activation for the gradient.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from explorer.models.modules import exclusive


@dataclass(frozen=True)
class GradCam:
    """A class activation map for one class on one layer."""

    cam: torch.Tensor  # [H, W] like the input, in [0, 1]
    class_index: int
    score: float  # the class's logit
    layer_shape: tuple[int, ...]  # [C, h, w] of the layer's activation
    channel_weights: torch.Tensor  # [C], mean gradient per channel


def split_call(layer: str) -> tuple[str, int]:
    """"layer1.0.relu#2" -> ("layer1.0.relu", 2); a plain name is call 1."""
    name, _, call = layer.partition("#")
    return name, int(call) if call else 1


def grad_cam(model: nn.Module, x: torch.Tensor, layer: str,
             class_index: int | None = None) -> GradCam:
    """Grad-CAM of `class_index` (default: the top class) at module `layer` for input [1, C, H, W].

    The model should be in eval mode. Raises ValueError when `layer` gives no 4-D output.
    """
    name, want = split_call(layer)
    module = model.get_submodule(name)
    seen: list[torch.Tensor] = []
    calls = 0

    def hook(_module: nn.Module, _args: tuple, output: object) -> object:
        nonlocal calls
        calls += 1
        if calls != want or not isinstance(output, torch.Tensor) or output.dim() != 4:
            return None
        seen.append(output)
        return output.clone()  # later in-place ops change the clone, not our activation

    with exclusive(model):
        handle = module.register_forward_hook(hook)
        try:
            with torch.enable_grad():
                logits = model(x)
                if not seen:
                    raise ValueError(f"Layer “{layer}” gives no feature maps to explain.")
                activation = seen[0]
                index = int(logits[0].argmax()) if class_index is None else int(class_index)
                score = logits[0, index]
                (grad,) = torch.autograd.grad(score, activation)
        finally:
            handle.remove()
    weights = grad[0].float().mean(dim=(1, 2))
    cam = F.relu((weights[:, None, None] * activation[0].detach().float()).sum(0))
    cam = F.interpolate(cam[None, None], size=tuple(x.shape[-2:]), mode="bilinear",
                        align_corners=False)[0, 0].clamp(min=0)
    peak = cam.max()
    if peak > 0:
        cam = cam / peak
    return GradCam(cam, index, float(score.detach()), tuple(activation.shape[1:]),
                   weights.detach())
