"""Server time per rerun of the conv-arithmetic page: largest grid vs. smallest grid.

Two measures, medians of N reruns, the layer cache cleared before each so every rerun pays
for a settings change:
- the page's computations, called as the page calls them (clamping, the live PyTorch check
  with FlopCounterMode, the formulas, the Plotly grid with its animation frames serialised
  to JSON as Streamlit does, the reverse solver): this is the budgeted figure;
- whole AppTest reruns of the page: an upper bound, as AppTest adds its own polling and
  message parsing on top of the server's work.
Budget: the largest grid the sliders allow must stay under 150 ms a rerun.

    .venv/bin/python bench/conv_arithmetic_bench.py [runs]
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

import plotly.io as pio
from streamlit.testing.v1 import AppTest

from explorer import conv_arithmetic as ca
from explorer.figures import conv_arithmetic as conv_grid

REPO = Path(__file__).resolve().parent.parent
BUDGET_MS = 150.0
SMALLEST = {"ca_h": 1, "ca_w": 1, "ca_kh": 1, "ca_ph": 0, "ca_sh": 1, "ca_dh": 1}
# 64×64 input padded by 3 (70×70 cells), output 64×64: 64 animation frames of 49 taps each,
# 64 channels in and out on a batch of 64 for the parameter and multiply-add counts.
LARGEST = {"ca_h": 64, "ca_w": 64, "ca_kh": 7, "ca_ph": 3, "ca_sh": 1, "ca_dh": 1,
           "ca_cin": 64, "ca_cout": 64, "ca_batch": 64, "ca_want": 32}


def computation_times(settings: dict[str, int], runs: int) -> list[float]:
    """Milliseconds per rerun of the page's computations for square `settings`."""
    values = {"size": settings["ca_h"], "kernel": settings["ca_kh"],
              "stride": settings["ca_sh"], "padding": settings["ca_ph"],
              "dilation": settings["ca_dh"], "output_padding": 0}
    times = []
    for i in range(runs):
        ca.live_check.cache_clear()
        start = time.perf_counter()
        v, _ = ca.clamp_axis("conv", values)
        for _ in range(2):  # height and width
            ca.clamp_axis("conv", values)
        layer = ca.Layer("conv", (v["size"],) * 2, (v["kernel"],) * 2, (v["stride"],) * 2,
                         (v["padding"],) * 2, (v["dilation"],) * 2,
                         in_channels=settings.get("ca_cin", 1),
                         out_channels=settings.get("ca_cout", 1),
                         batch=settings.get("ca_batch", 1))
        check = ca.live_check(layer)
        for axis in layer.axes():
            ca.formula_latex("conv", axis)
        ca.code_twin(layer)
        figure = conv_grid.arithmetic_grid_figure(layer, (0, i % 2), (0, 0))
        pio.to_json(figure.to_dict(), validate=False)
        ca.dropped("conv", layer.axes()[0])
        ca.skipped("conv", layer.axes()[0])
        ca.solve(v["size"], settings.get("ca_want", 14))
        times.append((time.perf_counter() - start) * 1000)
    assert check.agrees
    return times


def rerun_times(settings: dict[str, int], runs: int) -> list[float]:
    """Milliseconds per rerun of the page, the output cell moving between reruns."""
    at = AppTest.from_file(str(REPO / "explorer" / "app.py"), default_timeout=120)
    for key, value in settings.items():
        at.session_state[key] = value
    at.run()
    at.switch_page("../pages/conv_arithmetic.py").run()
    assert not at.exception, [e.value for e in at.exception]
    times = []
    for i in range(runs):
        ca.live_check.cache_clear()
        at.session_state["ca_oj"] = i % 2  # a new output cell: the grid is rebuilt
        start = time.perf_counter()
        at.run()
        times.append((time.perf_counter() - start) * 1000)
        assert not at.exception, [e.value for e in at.exception]
    shown = {m.label: m.value for m in at.metric}
    print(f"  shown H_out={shown['H_out']} W_out={shown['W_out']} "
          f"multiply-adds={shown['Multiply-adds']}")
    return times


def main(runs: int = 15) -> int:
    print(f"conv-arithmetic page: {runs} reruns each, medians per rerun")
    small = statistics.median(computation_times(SMALLEST, runs))
    large = statistics.median(computation_times(LARGEST, runs))
    print("page computations (server work, budgeted):")
    print(f"  smallest grid (1×1, k1):          {small:7.1f} ms  (reference)")
    print(f"  largest grid  (64×64, k7, p3):    {large:7.1f} ms  "
          f"ratio {large / small:.2f}× the reference")
    print("whole AppTest reruns (upper bound, includes AppTest's polling and parsing):")
    app_small = statistics.median(rerun_times(SMALLEST, runs))
    app_large = statistics.median(rerun_times(LARGEST, runs))
    print(f"  smallest grid:                    {app_small:7.1f} ms  (reference)")
    print(f"  largest grid:                     {app_large:7.1f} ms  "
          f"ratio {app_large / app_small:.2f}× the reference")
    verdict = "OK" if large < BUDGET_MS else "OVER BUDGET"
    print(f"budget {BUDGET_MS:.0f} ms per rerun for the largest grid: {verdict}")
    return 0 if large < BUDGET_MS else 1


if __name__ == "__main__":
    sys.exit(main(int(sys.argv[1]) if len(sys.argv) > 1 else 15))
