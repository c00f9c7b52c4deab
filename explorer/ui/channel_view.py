"""The sections of "What a channel looks for": the channel's choice, its picture as a queue job
(progress and frames as they arrive, the stop button), its dataset examples and its map on
the student's photo. The pictures are made by a worker (`explorer.training.channel_jobs`);
this module only asks for them and reads their small files.
"""

from __future__ import annotations

import dataclasses
import functools
from pathlib import Path

import streamlit as st
from PIL import Image

from explorer.figures import feature_maps as figs
from explorer.figures.encoding import png
from explorer.i18n import N_, _
from explorer.serving.networks import Analysed, Network
from explorer.training import channel_jobs
from explorer.training.channel_jobs import ChannelRequest
from explorer.ui import feature_map_pictures as pictures
from explorer.ui import identity, network_choice, widgets

LIVE_EVERY_S = 1.0
FRAME_SIDE = 336  # px a frame is enlarged to (by a whole factor: pixels kept sharp)
STATE_NAMES = {"queued": N_("waiting in the queue"), "running": N_("being made"),
               "finished": N_("finished"), "stopped": N_("stopped"), "failed": N_("failed")}


@st.cache_resource(show_spinner=False)
def scheduler() -> None:
    """This server process's thread that starts queued channel jobs in workers."""
    channel_jobs.ensure_scheduler()


def remember_run() -> None:
    """A shared link names the trained run (Feature maps' own choice keeps it in the session
    only)."""
    widgets.url_state("fm_run", "")


def choose_channel(done: Analysed) -> tuple[str, int]:
    """The conv layer and its channel (both in the address bar)."""
    convs = [r for r in done.capture.records if r.kind == "conv"]
    names = [r.name for r in convs]
    labels = {r.name: r.label() for r in convs}
    widgets.url_state("ch_layer", names[0], choices=names)
    c1, c2 = st.columns([3, 1])
    layer = c1.selectbox(_("Conv layer"), names, key="ch_layer", format_func=labels.get)
    count = int(done.capture[layer].maps.shape[0])
    widgets.url_state("ch_channel", 0, bounds=(0, count - 1))
    if st.session_state["ch_channel"] > count - 1:
        st.session_state["ch_channel"] = count - 1
    channel = int(widgets.number_input(_("Channel"), 0, count - 1, key="ch_channel", where=c2))
    widgets.sync_url("ch_layer", "ch_channel")
    if st.session_state.get("fm_weights") == network_choice.WEIGHTS[1]:
        widgets.sync_url("fm_run")
    else:
        st.query_params.pop("fm_run", None)
    return layer, channel


def request_for(net: Network, layer: str, channel: int) -> ChannelRequest:
    """The job that shows this channel of `net` (its weights as the queue names them)."""
    seed = int(st.session_state.get("fm_seed", 0))
    if net.checkpoint is not None:
        weights = channel_jobs.RUN_PREFIX + Path(net.checkpoint[0]).name
    else:
        weights = (channel_jobs.IMAGENET if net.weights == network_choice.WEIGHTS[2]
                   else channel_jobs.RANDOM)
    return ChannelRequest(net.key, weights, net.variant, layer, channel, seed)


def _ask(request: ChannelRequest) -> None:
    """The button's action: queue the job (or find the class's), as this student."""
    try:
        channel_jobs.request(request, identity.actor())
    except ValueError as err:  # AccessDenied too: one sentence
        st.session_state["ch_problem"] = str(err)


def _stop(name: str) -> None:
    """The stop button's action, authorised here (not by the button's state)."""
    try:
        channel_jobs.stop(name, identity.actor())
    except ValueError as err:
        st.session_state["ch_problem"] = str(err)


def _enlarged(path: Path, side: int = FRAME_SIDE) -> Image.Image:
    image = Image.open(path)
    image.load()
    scale = max(1, side // max(image.size))
    return image.resize((image.width * scale, image.height * scale), Image.NEAREST)


def _state_line(info: channel_jobs.JobInfo) -> None:
    p, steps = info.status.progress, info.config.steps
    if info.state == "queued":
        st.info(_("Waiting in the queue: number {n}. A worker starts it when one is "
                  "free.").format(n=channel_jobs.position(info) or "…"))
    elif info.state == "running":
        st.progress(min(1.0, p.step / steps), text=_("step {step} of {steps}").format(
            step=p.step, steps=steps))
    elif info.state == "finished":
        st.success(_("Finished: {steps} steps.").format(steps=steps))
    else:
        st.warning(_("{state}: {reason}").format(state=_(STATE_NAMES[info.state]),
                                                 reason=info.status.shown_reason))


def _frames(info: channel_jobs.JobInfo, where) -> None:
    frames = channel_jobs.read_frames(info.path)
    if not frames:
        where.caption(_("The first frame appears once the worker has built the network."))
        return
    last = frames[-1]
    widgets.image(where, _enlarged(last.path), caption=_(
        "step {step}: the channel's mean response {r:.3g}").format(step=last.step,
                                                                    r=last.activation),
        alt=_("The image optimised to excite channel {c} of {layer}, after {step} "
              "steps").format(c=info.config.request.channel, layer=info.config.request.layer,
                              step=last.step), width="content")
    strip = [_enlarged(f.path, 96) for f in frames]
    canvas = Image.new(strip[0].mode, (sum(s.width + 4 for s in strip), strip[0].height),
                       "white" if strip[0].mode == "RGB" else 255)
    x = 0
    for s in strip:
        canvas.paste(s, (x, 0))
        x += s.width + 4
    widgets.image(where, png(canvas), caption=_("how it grew: steps {steps}").format(
        steps=", ".join(str(f.step) for f in frames)), output_format="PNG",
        alt=_("{n} frames of the optimised image, from step 0 to {step}").format(
            n=len(frames), step=last.step), width="stretch")


def job(request: ChannelRequest, random_weights: bool, key: str = "ch") -> None:
    """The channel's picture: its job's state, frames and filter; a button to ask for it,
    and a stop button while it is live (widget keys start with `key`). Reruns every second
    while the job is live."""
    try:
        info = channel_jobs.find(request, identity.actor())
    except ValueError as err:  # AccessDenied too: one sentence
        st.error(str(err))
        return
    if problem := st.session_state.pop("ch_problem", None):
        st.error(problem)
    if info is None or info.state in ("stopped", "failed"):
        # outside the fragment: the click reruns the page, which starts the live view
        st.button(_("Find what this channel looks for") if info is None else _("Make it again"),
                  key=f"{key}_ask", type="primary", icon=":material/auto_awesome:", on_click=_ask,
                  args=(request,))
    if info is None:
        st.caption(_("A worker optimises an image, starting from noise, so that it excites "
                     "this channel as much as possible: {steps} steps, one picture of it every "
                     "few steps. A channel someone in the class already asked for is shown at "
                     "once.").format(steps=channel_jobs.steps()))
        return
    live = info.status.live
    st.fragment(_job, run_every=LIVE_EVERY_S if live else None)(request, random_weights, live,
                                                                 key)


def _job(request: ChannelRequest, random_weights: bool, was_live: bool, key: str) -> None:
    try:
        info = channel_jobs.find(request, identity.actor())
    except ValueError as err:
        st.error(str(err))
        return
    if info is None or info.status.live != was_live:
        st.rerun()  # it ended: the page draws its result, and this view stops polling
    if problem := st.session_state.pop("ch_problem", None):
        st.error(problem)
    _state_line(info)
    if info.status.live:
        st.button(_("Stop"), key=f"{key}_stop", icon=":material/stop_circle:", on_click=_stop,
                  args=(info.run_id,))
    left, right = st.columns([3, 2])
    _frames(info, left)
    result = channel_jobs.read_result(info.path)
    if result.get("filter"):
        kernels = int(result.get("kernels", 1))
        widgets.image(right, (info.path / result["filter"]).read_bytes(), caption=_(
            "the channel's own filter (blue < 0 < orange; grey/white is 0)") if kernels == 1
            else _("the channel's {n} kernels, one per input channel, each scaled to its own "
                   "range (blue < 0 < orange)").format(n=kernels),
            output_format="PNG", alt=_("The weights of channel {c} of {layer}").format(
                c=request.channel, layer=request.layer), width=160 if kernels == 1 else "content")
    if "mean_image_response" in result:
        base = result["mean_image_response"]
        right.metric(_("Response to the picture"), f"{result['activation']:.3g}",
                     help=_("The channel's mean over every position, after a ReLU."))
        right.metric(_("Response to the mean test image"), f"{base:.3g}")
        if base > 0:
            right.caption(_("The picture excites it {ratio:.1f}× as much as the mean image of "
                            "{data}.").format(ratio=result["activation"] / base,
                                              data=str(result.get("dataset", "")).split(
                                                  " (")[0]))
    if random_weights:
        right.info(_("**Random weights:** this channel has learned nothing, so the pattern it "
                     "\"looks for\" means little: it is whatever its random filter happens to "
                     "match. Compare it with the same channel of a trained network."),
                   icon=":material/casino:")


def compare(request: ChannelRequest) -> None:
    """The same channel of the same network with random weights (seeded), beside a trained
    one's: what training taught it."""
    twin = dataclasses.replace(request, weights=channel_jobs.RANDOM)
    try:
        channel_jobs.check(twin, identity.actor())
    except ValueError:
        st.caption(_("This network with random weights has no such layer to compare with."))
        return
    st.caption(_("Seed {seed}, the same layer and channel: the pattern a random filter "
                 "happens to match.").format(seed=request.seed))
    job(twin, True, key="ch_twin")


def examples(request: ChannelRequest) -> None:
    """The test images that excite the channel most and least, the patch their strongest cell
    sees drawn on each (from the finished job)."""
    try:
        info = channel_jobs.find(request, identity.actor())
    except ValueError:
        return
    result = channel_jobs.read_result(info.path) if info is not None else {}
    if "most" not in result:
        st.caption(_("Once the picture is made, the test images that excite this channel "
                     "most and least appear here.") if info is None or info.status.live else
                   _("No test images on this machine for this network's input."))
        return
    data = str(result.get("dataset", "")).split(" (")[0]
    for name, title in (("most", N_("Most exciting")), ("least", N_("Least exciting"))):
        shown = result[name]
        st.markdown(f"**{_(title)}** · {data}")
        row = _boxed_row(str(info.path), tuple((e["file"], tuple(e["patch"])) for e in shown))
        scores = " · ".join(_("“{label}”: {r:.3g}").format(label=e["label"], r=e["response"])
                            for e in shown)
        widgets.image(st, row, caption=scores, output_format="PNG", width="content",
                      alt=_("{n} test images ({labels}), each with the patch its strongest "
                            "cell sees outlined").format(
                          n=len(shown), labels=", ".join(e["label"] for e in shown)))


@functools.lru_cache(maxsize=64)
def _boxed_row(job_dir: str, shown: tuple[tuple[str, tuple[int, int, int, int]], ...]
               ) -> bytes:
    """The examples side by side, each enlarged to about 112 px with its patch outlined."""
    tiles = []
    for file, box in shown:
        image = Image.open(Path(job_dir) / file)
        tiles.append(figs.draw_box(image, box, scale=max(1, 112 // max(image.size))))
    gap = 6
    row = Image.new("RGB", (sum(t.width for t in tiles) + gap * (len(tiles) - 1),
                            max(t.height for t in tiles)), "white")
    x = 0
    for tile in tiles:
        row.paste(tile, (x, 0))
        x += tile.width + gap
    return png(row)


def on_your_photo(done: Analysed, layer: str, channel: int) -> None:
    """The channel's map on the student's photo: Feature maps' own pictures."""
    enlarged, over = pictures.channel_pictures(done.key, layer, channel, "Viridis", 0.55,
                                               done.capture, done.prepared.pixels)
    c1, c2 = st.columns(2)
    widgets.image(c1, enlarged, caption=_("channel {c}").format(c=channel), width=FRAME_SIDE,
                  output_format="PNG", alt=_("Feature map of channel {c} of {layer} on your "
                                             "photo").format(c=channel, layer=layer))
    widgets.image(c2, over, caption=_("over the input"), width=FRAME_SIDE, output_format="PNG",
                  alt=_("Channel {c} of {layer} laid over the input photo").format(
                      c=channel, layer=layer))

