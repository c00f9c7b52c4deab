"""What one rerun costs the server, page by page: the first render and each common interaction.

Every page listed in `explorer/ui/navigation.py` (and home) is opened in Streamlit's AppTest,
the way `tests/conftest.py`'s `open_page` does, and each of its common interactions is
replayed: a widget is set to a new value (alternating between two) and `at.run()` is timed.
That is the script time a real server spends on one student's click, without the browser and
the network (page scripts are compiled once, as a server does; AppTest alone recompiles them
on every run). A widget that lives inside an `st.fragment` is rerun the way the server reruns
it, as that fragment alone (the timed run carries the fragment's id, as the browser sends
it); the table says which scope each interaction ran in. The first render is the page switch
of a fresh session (caches are shared, as they are across students on one server).

Prints, per page and interaction, the median and p95 in milliseconds, then the worst page's
median interaction, and as the reference measured in the same run the floor of the harness:
a one-slider script rerun the same way (what any page costs before it does any work), with
each page's ratio to it.

    .venv/bin/python bench/rerun_cost.py                       # every page, ~a few minutes
    .venv/bin/python bench/rerun_cost.py --pages convolution,conv-arithmetic --reps 9

An interaction whose widget a page no longer has is reported as "missing", not an error.
"""

from __future__ import annotations

import argparse
import logging
import os
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from streamlit.runtime.scriptrunner.script_cache import ScriptCache
from streamlit.testing.v1 import AppTest
from streamlit.testing.v1 import app_test as app_test_module
from streamlit.testing.v1 import local_script_runner as lsr

REPO_ROOT = Path(__file__).resolve().parent.parent
APP = REPO_ROOT / "explorer" / "app.py"
sys.path.insert(0, str(REPO_ROOT))
os.environ.setdefault("EXPLORER_RUNS_DIR", str(Path("/tmp") / "explorer-bench-runs"))

from explorer.ui import navigation  # noqa: E402

# The harness reads widgets from the main thread, outside any script run: Streamlit warns
# "missing ScriptRunContext" for each read, hundreds of lines that bury the table. A filter,
# not a level: AppTest sets Streamlit's loggers' levels again when it starts.
logging.getLogger("streamlit.runtime.scriptrunner_utils.script_run_context").addFilter(
    lambda record: "missing ScriptRunContext" not in record.getMessage())

WIDGET_KINDS = ("slider", "select_slider", "selectbox", "radio", "toggle", "checkbox",
                "number_input", "multiselect", "text_input", "button")


@dataclass(frozen=True)
class Interaction:
    """Set widget `key` (or the button labelled `label`) to `values` in turn; None: two options.

    The last value is the page's default: the widget is left there for the next interaction.
    """

    name: str
    key: str | None = None
    values: tuple[Any, ...] | None = None
    label: str | None = None  # buttons without a key


#: Common interactions, by the page's url path. Keys are the pages' widget keys.
INTERACTIONS: dict[str, tuple[Interaction, ...]] = {
    "home": (
        Interaction("kernel size slider", "kernel", (5, 3)),
        Interaction("input size slider", "size", (32, 28)),
    ),
    "convolution": (
        Interaction("kernel preset", "convolution_preset", ("Sobel x 3x3", "Box blur 3x3")),
        Interaction("display mode", "convolution_display", ("abs", "clip")),
        Interaction("flip toggle", "convolution_flip", (True, False)),
        Interaction("colour mode", "convolution_colour", ("grayscale", "rgb")),
        Interaction("inspector x", "convolution_x", (10, 11)),
        Interaction("inspector channel", "convolution_channel", ("green", "red")),
        Interaction("moving window Step", label="Step"),
        Interaction("kernel bank", "convolution_mw_bank",
                    (["Slide's X"], ["Slide's X", "Vertical line"])),
    ),
    "conv-arithmetic": (
        Interaction("input height", "ca_h", (20, 28)),
        Interaction("kernel size", "ca_kh", (5, 3)),
        Interaction("stride", "ca_sh", (2, 1)),
        Interaction("layer type", "ca_layer", ("ConvTranspose2d", "Conv2d")),
        Interaction("grid output row", "ca_oi", (3, 4)),
        Interaction("reverse solver", "ca_want", (10, 14)),
    ),
    "sampling": (
        Interaction("pooling kind", "sp_pool", ("AvgPool2d", "MaxPool2d")),
        Interaction("pool kernel", "sp_k", (3, 2)),
        Interaction("ceil_mode", "sp_ceil", (True, False)),
        Interaction("output row", "sp_oi", (1, 0)),
        Interaction("shrink factor", "sp_factor", (3, 4)),
        Interaction("scale factor", "sp_scale", (3, 2)),
        Interaction("activation", "sp_act", ("Tanh", "ReLU")),
    ),
    "batchnorm": (
        Interaction("Step 1", label="Step 1"),
        Interaction("Step 10", label="Step 10"),
        Interaction("mode", "bn_mode", ("eval", "train")),
        Interaction("mean shift", "bn_shift", (1.0, 0.5)),
        Interaction("channel", "bn_channel", (1, 0)),
        Interaction("gamma", "bn_gamma", (1.5, 1.0)),
        Interaction("keras toggle", "bn_keras", (True, False)),
    ),
    "zoo": (
        Interaction("network", "zoo_model"),
        Interaction("configuration", "zoo_variant"),
        Interaction("input size", "zoo_size", (64, 32)),
        Interaction("mode", "zoo_mode"),
    ),
    "feature-maps": (
        # Raw values where the selectbox formats its options (AppTest sets values, not labels)
        Interaction("layer", "fm_layer", ("layer1.0.conv1", "conv1")),
        Interaction("colour scale", "fm_cmap"),
        Interaction("view", "fm_view"),
        Interaction("enlarged channel", "fm_channel", (1, 0)),
    ),
    "training": (
        Interaction("network", "training_model"),
        Interaction("epochs", "training_epochs", (3, 2)),
        Interaction("optimiser", "training_optimizer", ("sgd", "adamw")),
    ),
}


# --- fragment-scoped reruns -----------------------------------------------------------------
# AppTest reruns the whole script on every interaction; the server reruns only the fragment a
# widget lives in. The forward messages of each run say which fragment drew each widget, and
# a timed run can carry that fragment's id the way the browser's rerun request does.

_widget_fragment: dict[str, str] = {}
_scope: list[str] = []  # the fragment id the next run is scoped to, if any
_parse = lsr.parse_tree_from_messages
_RerunData = lsr.RerunData


def _recording_parse(messages: list) -> Any:
    for msg in messages:
        if msg.WhichOneof("type") != "delta" or msg.delta.WhichOneof("type") != "new_element":
            continue
        element = msg.delta.new_element
        kind = element.WhichOneof("type")
        widget_id = getattr(getattr(element, kind, None), "id", "") if kind else ""
        if widget_id:
            _widget_fragment[widget_id] = msg.delta.fragment_id
    return _parse(messages)


def _scoped_rerun_data(**kwargs: Any) -> Any:
    if _scope:
        kwargs["fragment_id_queue"] = list(_scope)
    return _RerunData(**kwargs)


lsr.parse_tree_from_messages = _recording_parse
lsr.RerunData = _scoped_rerun_data

# A server compiles each page script once and keeps the bytecode; AppTest makes a new script
# cache for every run and so recompiles the page (and its magic AST pass) every time: ~0.1 s
# per run for a 500-line page, which no student waits for. Share one cache, as a server does.
_SHARED_SCRIPT_CACHE = ScriptCache()
app_test_module.ScriptCache = lambda: _SHARED_SCRIPT_CACHE


# --- measuring ------------------------------------------------------------------------------


@dataclass
class Row:
    page: str
    name: str
    scope: str = "page"
    times: list[float] = field(default_factory=list)
    note: str = ""

    def median(self) -> float:
        return statistics.median(self.times) * 1000 if self.times else float("nan")

    def p95(self) -> float:
        if not self.times:
            return float("nan")
        ordered = sorted(self.times)
        return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))] * 1000


def open_page(script: str, timeout: float) -> tuple[AppTest, float]:
    """A fresh session on `script`; returns it and the seconds the page's own run took."""
    at = AppTest.from_file(str(APP), default_timeout=timeout)
    start = time.perf_counter()
    at.run()
    if script != navigation.HOME.script:
        start = time.perf_counter()
        at.switch_page(os.path.relpath(REPO_ROOT / script, APP.parent)).run()
    return at, time.perf_counter() - start


def find_widget(at: AppTest, item: Interaction) -> Any | None:
    for kind in WIDGET_KINDS:
        for widget in at.get(kind):
            if item.key is not None and getattr(widget, "key", None) == item.key:
                return widget
            if item.key is None and getattr(widget, "label", None) == item.label:
                return widget
    return None


def interact(at: AppTest, item: Interaction, rep: int) -> tuple[float, str] | None:
    """Change the widget once and time the rerun; None when the widget is not on the page."""
    widget = find_widget(at, item)
    if widget is None or getattr(widget, "disabled", False):
        return None
    if kind_of(widget) == "button":
        widget.click()
    elif item.values is None:  # the first two options, by index (labels may be formatted)
        if len(getattr(widget, "options", [])) < 2 or not hasattr(widget, "index"):
            return None
        index = (rep + 1) % 2
        if hasattr(widget, "select_index"):
            widget.select_index(index)
        else:
            widget.set_value(widget.options[index])
    else:
        widget.set_value(item.values[(rep + 1) % len(item.values)])
    fragment = _widget_fragment.get(widget.id, "")
    if fragment:
        _scope.append(fragment)
    try:
        start = time.perf_counter()
        at.run()
        elapsed = time.perf_counter() - start
    finally:
        _scope.clear()
    if at.exception:
        raise RuntimeError(f"{item.name}: {at.exception[0].value}")
    if fragment:
        at.run()  # untimed: a fragment-only tree lacks the rest of the page's widgets
    return elapsed, "fragment" if fragment else "page"


def kind_of(widget: Any) -> str:
    return type(widget).__name__.lower()


def measure(spec: navigation.PageSpec, reps: int, renders: int, timeout: float,
            log: Callable[[str], None]) -> list[Row]:
    rows = [Row(spec.url_path if spec is not navigation.HOME else "home", "first render")]
    at = None
    for _ in range(renders):
        at, seconds = open_page(spec.script, timeout)
        rows[0].times.append(seconds)
    assert at is not None
    if at.exception:
        rows[0].note = f"exception: {at.exception[0].value}"[:60]
        return rows
    for item in INTERACTIONS.get(rows[0].page, ()):
        row = Row(rows[0].page, item.name)
        rows.append(row)
        try:
            for rep in range(reps + 1):  # the first change warms this widget's caches
                result = interact(at, item, rep)
                if result is None:
                    row.note = "missing"
                    break
                if rep:
                    row.times.append(result[0])
                row.scope = result[1]
            else:  # leave the widget at its default for the next interaction
                widget = find_widget(at, item)
                values = item.values
                if widget is not None and values and kind_of(widget) != "button":
                    widget.set_value(values[-1])
                    at.run()
        except Exception as err:  # a page under someone else's change: report, go on
            row.note = f"error: {err}"[:60]
            at, _ = open_page(spec.script, timeout)
        log(f"  {row.page:16} {row.name:22} {row.median():8.1f} ms")
    return rows


FLOOR_SCRIPT = """import streamlit as st
st.slider("x", 0, 10, key="x")
"""


def floor_ms(reps: int, timeout: float) -> float:
    """Median ms of a rerun of a one-slider script through the same harness."""
    at = AppTest.from_string(FLOOR_SCRIPT, default_timeout=timeout)
    at.run()
    times = []
    for rep in range(reps + 1):
        at.slider(key="x").set_value(rep % 2 + 1)
        start = time.perf_counter()
        at.run()
        if rep:
            times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


def print_table(rows: list[Row], floor: float | None = None) -> None:
    print(f"\n{'page':16} {'interaction':22} {'scope':9} {'median ms':>10} {'p95 ms':>9}  note")
    for row in rows:
        print(f"{row.page:16} {row.name:22} {row.scope:9} {row.median():10.1f} "
              f"{row.p95():9.1f}  {row.note}")
    per_page: dict[str, list[float]] = {}
    for row in rows:
        if row.name != "first render" and row.times:
            per_page.setdefault(row.page, []).extend(row.times)
    if per_page:
        worst = max(per_page, key=lambda p: statistics.median(per_page[p]))
        print(f"\nworst page by median interaction: {worst} "
              f"{statistics.median(per_page[worst]) * 1000:.1f} ms")
        for page, times in per_page.items():
            median = statistics.median(times) * 1000
            ratio = f"  ({median / floor:.1f}× the floor)" if floor else ""
            print(f"  {page:16} median of all interactions {median:7.1f} ms{ratio}")
    if floor:
        print(f"reference, same run: a one-slider script reruns in {floor:.1f} ms (median)")


def main() -> None:
    specs = [navigation.HOME, *navigation.available_pages()]
    names = ["home" if s is navigation.HOME else s.url_path for s in specs]
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pages", default=",".join(names),
                        help=f"comma-separated url paths (default all: {','.join(names)})")
    parser.add_argument("--reps", type=int, default=7, help="timed changes per interaction")
    parser.add_argument("--renders", type=int, default=3, help="fresh sessions per page")
    parser.add_argument("--timeout", type=float, default=300.0)
    args = parser.parse_args()
    wanted = [p.strip() for p in args.pages.split(",") if p.strip()]
    unknown = set(wanted) - set(names)
    if unknown:
        parser.error(f"unknown page(s) {sorted(unknown)}; choose from {names}")
    floor = floor_ms(args.reps, args.timeout)
    rows: list[Row] = []
    for spec, name in zip(specs, names, strict=True):
        if name in wanted:
            print(f"{name} …", flush=True)
            rows += measure(spec, args.reps, args.renders, args.timeout,
                            lambda line: print(line, flush=True))
    print_table(rows, floor)


if __name__ == "__main__":
    main()
