"""The course's networks, written the way torchvision writes them: small blocks, one builder per
variant. `explorer.zoo` is the registry that picks a builder; import models from there.

Every builder here has the signature `(in_channels, height, width, num_classes, batchnorm)`
and returns a freshly initialised `nn.Module` producing logits `[N, num_classes]`.
"""
