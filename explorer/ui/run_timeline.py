"""A run's timeline on screen: a slider over its snapshots, the curves with a marker at the
shown step, the probe image, the filters and each layer's maps, and Play.

While a run is live the slider follows the newest snapshot, unless the student moved off it;
after Play it rests where the playing stopped (`player.Player`). The curves are rebuilt only
when `metrics.jsonl` grows and each snapshot's pictures once (both `st.cache_data`).
"""

from __future__ import annotations

import streamlit as st

from explorer import i18n
from explorer.figures import timeline as figures
from explorer.i18n import _
from explorer.training import runs, timeline
from explorer.ui import charts, player, widgets

PLAY_FRAME_S = 0.35  # a snapshot on screen while the timeline plays


@st.cache_data(max_entries=8, ttl=3600, show_spinner=False)
def _curves(run_id: str, metrics_size: int, steps_per_epoch: int, total: int, lang: str) -> dict:
    """The curves behind the timeline marker, rebuilt only when metrics.jsonl grows."""
    c = runs.curves(runs.read_metrics(runs.runs_dir() / run_id))
    with i18n.use_language(lang):
        return figures.curves_spec(c.step, c.loss_smooth, c.epochs, steps_per_epoch, total)


def curves(run_id: str, line: timeline.Timeline) -> dict:
    """The timeline's curve figure (a plotly dict) for the run as logged so far."""
    metrics = line.folder.parent / "metrics.jsonl"
    return _curves(run_id, metrics.stat().st_size if metrics.exists() else 0,
                   int(line.meta.get("steps_per_epoch", 1)),
                   int(line.meta.get("total_steps", line.steps[-1])), i18n.language())


@st.cache_data(max_entries=256, ttl=3600, show_spinner=False)
def _pictures(run_id: str, step: int, lang: str) -> tuple[float, list[tuple[str, object]]]:
    """(epoch, [(caption, picture)]) of one snapshot: its filters and each layer's maps."""
    line = timeline.read(runs.runs_dir() / run_id)
    snap = line.snapshot(step)
    pictures = []
    with i18n.use_language(lang):
        if snap["filters"].numel():
            pictures.append((_("{layer}: first-layer filters").format(
                layer=snap["filter_layer"]), figures.filters_picture(snap["filters"])))
        for layer, maps in snap["maps"].items():
            pictures.append((_("{layer}: maps of the probe image ({c} channels, {h}×{w})").format(
                layer=layer, c=maps.shape[0], h=maps.shape[1], w=maps.shape[2]),
                figures.maps_picture(maps)))
    return float(snap["epoch"]), pictures


def follow_newest(key: str, steps: list[int], resumed: int | None = None) -> None:
    """Seed the slider under `key`: where Play stopped (`resumed`), else stay with the newest
    snapshot while a run is live, unless the student has moved off it."""
    newest, seen = steps[-1], st.session_state.get(f"{key}_newest")
    if resumed not in steps and (st.session_state.get(key) not in steps
                                 or st.session_state[key] == seen):
        st.session_state[key] = newest
    st.session_state[f"{key}_newest"] = newest


def draw_snapshot(run_id: str, line: timeline.Timeline, step: int, spec: dict,
                  playing: bool = False) -> None:
    """The curves with a marker at `step`, the probe, and the snapshot's pictures."""
    epoch, pictures = _pictures(run_id, step, i18n.language())
    left, right = st.columns([3, 2])
    # a key keeps the chart mounted across scrubs; while playing, each frame is a new chart
    charts.plotly(left, figures.with_marker(spec, step, epoch),
                  key=None if playing else f"training_timeline_curves_{run_id}",
                  config={"displaylogo": False})
    probe, label = line.probe(), line.meta.get("probe_label")
    if probe is not None:
        names = runs.read_config(line.folder.parent).class_names
        widgets.image(right, figures.probe_picture(probe),
                      caption=_("the probe: test image #{i}, a {name}").format(
                          i=line.meta.get("probe_index", 0),
                          name=names[label] if label is not None and label < len(names)
                          else "?"))
    if pictures:
        widgets.image(right, pictures[0][1], caption=pictures[0][0], width="stretch")
    columns = st.columns(max(3, len(pictures) - 1))  # a third of the width at most
    for column, (caption, picture) in zip(columns, pictures[1:], strict=False):
        widgets.image(column, picture, caption=caption, width="stretch")


def section(run_id: str) -> None:
    """Filters and maps as they were at any of about 50 moments of the run, with Play
    (call it inside a fragment: Play reruns it)."""
    line = timeline.read(runs.runs_dir() / run_id)
    st.markdown(_("**Timeline: how the filters and one test image's maps evolved**"))
    if line is None or not line.steps:
        st.caption(_("This run has no timeline snapshots (yet): they are taken from its first "
                     "step on, about 50 per run."))
        return
    key = f"training_timeline_{run_id}"
    play = player.Player(key, frame_s=PLAY_FRAME_S, widget=True)
    follow_newest(key, line.steps, play.resume())
    b1, b2 = st.columns([1, 7])
    play.button(where=b1, help=_("Step through every snapshot from the first"))
    step = b2.select_slider(_("Snapshot"), options=line.steps, key=key,
                            format_func=lambda s: _("step {s}").format(s=s),
                            label_visibility="collapsed")
    spec = curves(run_id, line)
    frame = st.empty()
    st.caption(_("{n} snapshots of {steps} steps ({mb:.2f} MB on disk). Filters: blue < 0 < "
                 "orange, each on its own scale. Maps: each channel on its own colour scale."
                 ).format(n=len(line.steps), steps=line.meta.get("total_steps", "?"),
                          mb=line.size_bytes() / 2**20) + f" {line.error()}")
    play.show(step, line.steps,
              lambda s: draw_snapshot(run_id, line, s, spec, playing=play.playing), slot=frame)
