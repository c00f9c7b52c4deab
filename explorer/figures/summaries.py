"""A chart's short text summary for a screen reader, computed from the figure's own data.

A sighted student reads a Plotly chart at a glance; a screen reader gets only what is written
down. `summary(figure)` reads the figure's dict (title, axes, traces, frames) and says what
each trace shows, by kind: a line where it starts, where it ends and its range ("Loss falls
from 2.30 to 0.41 over step 1 to 126"), bars the highest and the lowest, a heatmap its size
and its range of values, a histogram how many values it counts and their range. It is in the
session's language, and never longer than a few traces: the rest is counted.
"""

from __future__ import annotations

import base64
import math
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from explorer.i18n import _

MOST_TRACES = 6  # said one by one; more are counted


def summary(figure: Any) -> str:
    """One paragraph about `figure` (a `go.Figure`, a `PrebuiltFigure` or its dict)."""
    spec = figure if isinstance(figure, dict) else figure.to_dict()
    layout = spec.get("layout") or {}
    parts = []
    title = _text(layout.get("title")) or ", ".join(  # else the subplots' titles
        t for note in layout.get("annotations") or () if (t := _text(note.get("text"))))
    parts.append(_("Chart: {title}.").format(title=title) if title else _("Chart."))
    traces = [t for t in spec.get("data") or () if t.get("visible", True) is not False]
    said = [s for s in (trace_summary(t, layout) for t in traces[:MOST_TRACES]) if s]
    parts += [_capitalised(s) for s in said]
    if len(traces) > MOST_TRACES:
        parts.append(_("And {n} more series.").format(n=len(traces) - MOST_TRACES))
    if not said:
        parts.append(_("It has no data yet."))
    if frames := spec.get("frames"):
        parts.append(_("It is animated: {n} frames.").format(n=len(frames)))
    return " ".join(parts)


def trace_summary(trace: dict, layout: dict | None = None) -> str:
    """One sentence about one trace, by its kind; "" for a trace with nothing to say."""
    layout = layout or {}
    kind = trace.get("type", "scatter")
    name = _text(trace.get("name"))
    if kind in ("scatter", "scattergl"):
        return _line(trace, name, layout)
    if kind == "bar":
        return _bars(trace, name, layout)
    if kind in ("heatmap", "contour"):
        return _grid(trace, name)
    if kind == "histogram":
        return _histogram(trace, name)
    if kind == "image":
        return _image(trace, name)
    return ""


def number(value: float, percent: bool = False) -> str:
    """Three significant digits, plain for whole numbers below a million; or a percentage."""
    if percent:
        return f"{value:.1%}"
    if float(value).is_integer() and abs(value) < 1e6:
        return str(int(value))
    return f"{value:.3g}"


def _axis(layout: dict, trace: dict, letter: str) -> dict:
    """The layout's axis a trace is drawn on (`xaxis`, `yaxis2`, ...)."""
    return layout.get(f"{letter}axis" + str(trace.get(f"{letter}axis", letter))[1:]) or {}


def _percent(axis: dict) -> bool:
    return "%" in str(axis.get("tickformat", ""))


def _line(trace: dict, name: str, layout: dict) -> str:
    ys = values(trace.get("y"))
    xs = values(trace.get("x"))
    if not ys:
        return ""
    y_axis = _axis(layout, trace, "y")
    percent = _percent(y_axis)
    name = name or _text(y_axis.get("title")) or _("The line")
    first, last = ys[0], ys[-1]
    a, b = number(first, percent), number(last, percent)
    if len(ys) == 1:
        return _("{name}: one point, {value}.").format(name=name, value=a)
    span = ""
    if len(xs) == len(ys):
        across = _text(_axis(layout, trace, "x").get("title"))
        words = _("over {axis} {x0} to {x1}").format(axis=across, x0=number(xs[0]),
                                                      x1=number(xs[-1]))
        span = " " + " ".join(words.split())
    if math.isclose(first, last, rel_tol=1e-3, abs_tol=1e-12):
        sentence = _("{name} stays at {a}{span}").format(name=name, a=a, span=span)
    elif last < first:
        sentence = _("{name} falls from {a} to {b}{span}").format(name=name, a=a, b=b, span=span)
    else:
        sentence = _("{name} rises from {a} to {b}{span}").format(name=name, a=a, b=b, span=span)
    lo, hi = min(ys), max(ys)
    if lo < min(first, last) or hi > max(first, last):
        sentence += _(" (lowest {lo}, highest {hi})").format(lo=number(lo, percent),
                                                             hi=number(hi, percent))
    return sentence + "."


def _bars(trace: dict, name: str, layout: dict) -> str:
    horizontal = trace.get("orientation") == "h"
    heights = values(trace.get("x" if horizontal else "y"))
    labels = [number(label) if isinstance(label, (int, float, np.number)) else _text(label)
              for label in _items(trace.get("y" if horizontal else "x"))]
    if not heights:
        return ""
    if len(labels) != len(heights):
        labels = [str(i) for i in range(len(heights))]
    percent = _percent(_axis(layout, trace, "x" if horizontal else "y"))
    name = name or _("Bars")
    top = int(np.argmax(heights))
    if len(heights) == 1:
        return _("{name}: {label} {value}.").format(name=name, label=labels[0],
                                                      value=number(heights[0], percent))
    low = int(np.argmin(heights))
    return _("{name}: {n} bars, highest {top} ({top_value}), lowest {low} ({low_value}).").format(
        name=name, n=len(heights), top=labels[top], top_value=number(heights[top], percent),
        low=labels[low], low_value=number(heights[low], percent))


def _grid(trace: dict, name: str) -> str:
    z = trace.get("z")
    rows = list(_items(z))
    flat = values(z)
    if not rows or not flat:
        return ""
    width = len(list(_items(rows[0])))
    name = name or _("A grid")
    return _("{name}: {h} × {w} cells, values from {lo} to {hi}.").format(
        name=name, h=len(rows), w=width, lo=number(min(flat)), hi=number(max(flat)))


def _histogram(trace: dict, name: str) -> str:
    data = values(trace.get("x")) or values(trace.get("y"))
    if not data:
        return ""
    return _("{name}: a histogram of {n} values from {lo} to {hi}.").format(
        name=name or _("Histogram"), n=len(data), lo=number(min(data)), hi=number(max(data)))


def _image(trace: dict, name: str) -> str:
    z = trace.get("z")
    if z is None:
        return _("{name}: a picture.").format(name=name or _("Picture"))
    rows = list(_items(z))
    width = len(list(_items(rows[0]))) if rows else 0
    return _("{name}: a picture of {h} × {w} pixels.").format(
        name=name or _("Picture"), h=len(rows), w=width)


def values(data: Any) -> list[float]:
    """The finite numbers in `data` (nested lists, arrays, Plotly's base64 typed arrays)."""
    if data is None:
        return []
    if isinstance(data, dict) and "bdata" in data:
        data = np.frombuffer(base64.b64decode(data["bdata"]), dtype=data.get("dtype", "f8"))
    if isinstance(data, np.ndarray):
        if not np.issubdtype(data.dtype, np.number):
            data = data.tolist()
        else:
            flat = data.astype(float).ravel()
            return flat[np.isfinite(flat)].tolist()
    out: list[float] = []
    for item in _items(data):
        if isinstance(item, (list, tuple, np.ndarray, dict)):
            out += values(item)
        elif (isinstance(item, (int, float, np.number)) and not isinstance(item, bool)
              and math.isfinite(float(item))):
            out.append(float(item))
    return out


def _items(data: Any) -> Iterable[Any]:
    if data is None or isinstance(data, (str, bytes)):
        return ()
    if isinstance(data, dict) and "bdata" in data:
        return values(data)
    if isinstance(data, np.ndarray):
        return list(data)
    return data if isinstance(data, Sequence) else ()


def _capitalised(sentence: str) -> str:
    """A sentence that starts with a plain lower-case word, capitalised (never an identifier
    such as running_mean)."""
    first = sentence.split(" ", 1)[0].rstrip(":")
    return sentence[0].upper() + sentence[1:] if first.isalpha() and first.islower() else sentence


def _text(title: Any) -> str:
    """A title's words, without Plotly's <br> and markup."""
    if isinstance(title, dict):
        title = title.get("text")
    if title is None:
        return ""
    words = str(title).replace("<br>", " ").replace("<br />", " ")
    while "<" in words and ">" in words[words.index("<"):]:
        start = words.index("<")
        words = words[:start] + words[words.index(">", start) + 1:]
    return " ".join(words.split())
