"""Feature maps: changed image -> all maps of one ResNet-18 layer (224×224, CPU) vs a cached repeat.

"Changed image" runs what the page runs for a new photo: preprocess, capture every layer in one
hooked forward pass, render the chosen layer's channel grid. "Cached repeat" goes through the
same `st.cache_resource` / `st.cache_data` wrappers the page uses, keyed on model settings and
the image's hash. The reference in the same run is a plain forward pass without hooks, so the
ratio says what the capture costs on top of the network itself, whatever the machine's load.

    .venv/bin/python bench/feature_maps_bench.py
"""

from __future__ import annotations

import hashlib
import logging
import os
import statistics
import time

import numpy as np
import streamlit as st
import torch
from PIL import Image

from explorer import feature_maps as fm
from explorer import images
from explorer.figures import feature_maps as figs
from explorer.models import zoo

logging.getLogger("streamlit").setLevel(logging.ERROR)
LAYER = "layer1.0.conv1"
REPEATS = 9
BUDGET_MS = 300


@st.cache_resource(max_entries=8, show_spinner=False)
def analyse(model_id: str, image_hash: str, pre_id: str, _model, _image, _pre):
    prepared = fm.prepare(_image, _pre)
    return prepared, fm.capture(_model, fm.as_input(prepared.tensor))


@st.cache_data(max_entries=32, show_spinner=False)
def layer_grid(model_id: str, image_hash: str, pre_id: str, layer: str, _capture):
    maps = _capture[layer].maps
    return figs.channel_grid(maps, fm.channel_order(maps, "mean-desc"))


def image_hash(image: Image.Image) -> str:
    return hashlib.sha1(image.tobytes()).hexdigest()


def main() -> None:
    model = fm.for_inference(zoo.build_seeded("resnet18", seed=0, variant="imagenet"))
    pre = fm.preprocessing_for("imagenet")
    base = images.load_path(images.sample_images()["Chelsea"]).image
    # each "changed image" is a genuinely different photo (one pixel row shifted)
    photos = [Image.fromarray(np.roll(np.asarray(base), i + 1, axis=0))
              for i in range(REPEATS + 1)]
    x = fm.as_input(fm.prepare(base, pre).tensor)

    def plain() -> None:
        with torch.no_grad():
            model(x)

    def changed(photo: Image.Image) -> None:
        h = image_hash(photo)
        _, cap = analyse("resnet18", h, repr(pre), model, photo, pre)
        layer_grid("resnet18", h, repr(pre), LAYER, cap)

    plain()
    changed(photos[-1])  # warm-up: allocator, caches of the colour map
    t_plain, t_changed, t_cached = [], [], []
    for photo in photos[:REPEATS]:
        t0 = time.perf_counter()
        plain()
        t1 = time.perf_counter()
        changed(photo)
        t2 = time.perf_counter()
        changed(photo)  # the same photo again: both caches hit
        t3 = time.perf_counter()
        t_plain.append(t1 - t0)
        t_changed.append(t2 - t1)
        t_cached.append(t3 - t2)
    m_plain, m_changed, m_cached = (statistics.median(t) * 1000 for t in
                                    (t_plain, t_changed, t_cached))
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"ResNet-18, 224×224, layer {LAYER}, {torch.get_num_threads()} torch threads, "
          f"load average {load:.1f}, {REPEATS} runs")
    print(f"reference: plain forward pass (no hooks)    median {m_plain:8.1f} ms")
    print(f"changed image -> all maps of one layer      median {m_changed:8.1f} ms "
          f"({m_changed / m_plain:.2f}× the plain forward; budget {BUDGET_MS} ms: "
          f"{'met' if m_changed < BUDGET_MS else 'NOT met'})")
    print(f"cached repeat (same image and model)        median {m_cached:8.3f} ms "
          f"({m_changed / max(m_cached, 1e-6):.0f}× faster than a changed image)")


if __name__ == "__main__":
    main()
