"""Your own handwriting through a trained network: a drawing canvas, the MNIST preprocessing
step by step, all the class probabilities and every layer's maps of the drawing.

Shared by the Training page (after a run) and the Feature maps page (with a digit model),
hence here rather than in a page script. The canvas is `streamlit-drawable-canvas`; the
section is a fragment, so a stroke reruns it alone.
"""

from __future__ import annotations

import pandas as pd
import streamlit as st
import torch
from streamlit_drawable_canvas import st_canvas

from explorer import feature_maps as fm
from explorer import handwriting
from explorer.figures import feature_maps as fm_figures
from explorer.figures import handwriting as figures
from explorer.i18n import _
from explorer.serving import networks
from explorer.training.config import RunConfig
from explorer.ui import charts, widgets

CANVAS_PX = 280  # ten canvas pixels per MNIST pixel
STROKE_PX = 20  # about two MNIST pixels once a tall digit is scaled into 20 px


def _what_to_draw(config: RunConfig) -> str:
    return _("a digit") if config.settings.dataset in handwriting.DIGIT_DATASETS else (
        _("something from {data}").format(data=config.dataset_title or config.settings.dataset))


@st.fragment
@widgets.guarded("your own handwriting")
def section(run_dir: str, mtime: float, key: str) -> None:
    """The canvas, and once something is drawn: preprocessing, prediction, layer maps.

    Takes the run's folder and checkpoint time, not its network: a fragment keeps its
    arguments in the session, and the network belongs in the server's model cache
    (`networks.run_model`). It runs in the turn its size calls for, like every network.
    """
    model, config = networks.run_model(run_dir, mtime)
    thing = _what_to_draw(config)
    st.markdown(_("Draw {thing} with the mouse: light ink on black, as MNIST's digits are. It "
                  "is prepared the way MNIST was made, then shown to the network when you lift "
                  "the mouse. The canvas toolbar undoes, redoes and clears.").format(
        thing=thing))
    left, right = st.columns([1, 2])
    with left:
        st.html('<div style="height:30px"></div>')  # room for the canvas's floating toolbar
        drawn = st_canvas(stroke_width=STROKE_PX, stroke_color="#FFFFFF",
                          background_color="#000000", height=CANVAS_PX, width=CANVAS_PX,
                          drawing_mode="freedraw", return_image_data=True,
                          key=f"{key}_canvas")
    picture = drawn.image_data if drawn.json_data and drawn.json_data.get("objects") else None
    steps = handwriting.prepare(picture) if picture is not None else None
    if steps is None:
        right.info(_("Draw {thing} on the canvas: the prediction and the maps appear here."
                     ).format(thing=thing),
                   icon=":material/draw:")
        return
    x = handwriting.to_input(steps.centred, config)
    with networks.heavy_work(networks.weight_bytes((config.model, config.variant))):
        capture = fm.capture(model, fm.as_input(x))
    probabilities = torch.softmax(capture.logits, 0).tolist()
    names = fm.run_class_names(config)
    best = max(range(len(probabilities)), key=probabilities.__getitem__)
    with right:
        st.metric(_("The network reads"), f"{names[best]}",
                  _("{p:.1%} sure").format(p=probabilities[best]),
                  delta_color="off", delta_arrow="off")
        charts.plotly(st, figures.probabilities_figure(probabilities, names),
                      key=f"{key}_probabilities", config={"displayModeBar": False})
    preprocessing(steps)
    layer_maps(capture)


def preprocessing(steps: handwriting.Steps) -> None:
    st.markdown(_("**Prepared the way MNIST was made**"))
    captions = [_("your drawing; red: the ink's bounding box"), _("cropped to the box"),
                _("scaled into {n}×{n}, aspect kept").format(n=handwriting.BOX),
                _("in {n}×{n}, centre of mass (red +) at the centre: what the network sees"
                  ).format(n=handwriting.FIELD)]
    for column, picture, caption in zip(st.columns(4), figures.steps_pictures(steps), captions,
                                        strict=True):
        widgets.image(column, picture, caption=caption, width="stretch")
    st.markdown("  \n".join(f"{i}. {s}" for i, s in enumerate(steps.describe(), 1)))


def layer_maps(capture: fm.Capture) -> None:
    layers = capture.overview()
    if not layers:
        st.info(_("This network has no convolutional layers, so the drawing has no feature "
                  "maps; its prediction is above."))
        return
    st.markdown(_("**Every layer's feature maps of your drawing** (each channel on its own "
                  "colour scale, bright = strong)"))
    columns = st.columns(min(4, len(layers)))
    for i, record in enumerate(layers):
        widgets.image(
            columns[i % len(columns)], fm_figures.channel_grid(record.maps, tile=40),
            width="stretch",
            caption=f"{record.name} · {record.type_name} · {' × '.join(map(str, record.shape))}")
    stats = pd.DataFrame({_("layer"): [r.name for r in layers],
                          _("mean activation"): [float(r.maps.float().mean()) for r in layers],
                          _("fraction = 0"): [float((r.maps == 0).float().mean())
                                              for r in layers]})
    st.dataframe(stats, hide_index=True)
