"""Build and tabulate ResNet-50 at 224×224 the way the zoo page does, against a reference.

Page path: `zoo.build_model` on the meta device + `layer_table.inspect_model` (hooks on every
leaf, FlopCounterMode). Reference, same run: a plain torchvision resnet50(weights=None) on
the CPU and one forward of a 1×3×224×224 image, which is what tabulating would cost without
the meta device. Goal: the page path stays under one second.
"""

from __future__ import annotations

import statistics
import time

import torch
import torchvision

from explorer.models import layer_table, zoo

REPEATS = 5


def page_path() -> layer_table.LayerTable:
    with torch.device("meta"):
        model = zoo.build_model("resnet50", variant="imagenet")
    return layer_table.inspect_model(model, (3, 224, 224))


def reference() -> torch.Tensor:
    model = torchvision.models.resnet50(weights=None).eval()
    with torch.no_grad():
        return model(torch.zeros(1, 3, 224, 224))


def median_seconds(fn) -> float:
    fn()  # warm-up: imports, first-call dispatch
    times = []
    for _ in range(REPEATS):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    table = page_path()
    assert table.total_params == 25_557_032 and table.output_shape == (1, 1000)
    ours = median_seconds(page_path)
    ref = median_seconds(reference)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {REPEATS} repeats")
    print(f"zoo build + tabulate ResNet-50 @224 (meta): median {ours * 1000:7.1f} ms "
          f"({len(table.rows)} layers, {table.total_macs / 1e9:.2f} G multiply-adds)")
    print(f"reference torchvision build + 1 forward:   median {ref * 1000:7.1f} ms")
    print(f"ratio page / reference: {ours / ref:.2f}×; under one second: {ours < 1.0}")


if __name__ == "__main__":
    main()
