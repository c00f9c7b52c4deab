"""Feature maps' preprocessing section: how the photo becomes the tensor that goes in, each
stage a picture and a numbered step.

For a network that reads handwritten digits, a photo is prepared the way MNIST was made
(`explorer.handwriting.prepare_photo`: inverted when the ink is darker than the paper,
contrast stretched, softly thresholded, then the canvas's own crop, 20×20 box and centre of
mass), and the student can switch that off to see the plain path and why it matters.
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from explorer import feature_maps as fm
from explorer import handwriting
from explorer.i18n import _
from explorer.models.modules import shape_text
from explorer.serving.networks import Analysed, Network
from explorer.ui import feature_map_pictures as pictures
from explorer.ui import widgets


def choose(net: Network, image) -> fm.Preprocessing:
    """The network's preprocessing, with the toggles a grayscale network offers: prepare a
    digit photo as MNIST was (digit networks, on by default), else invert."""
    pre = fm.preprocessing_for(net.variant, config=net.config)
    if not pre.grayscale:
        return pre
    if fm.reads_digits(net.variant, net.config):
        widgets.url_state("fm_mnist", True)
        st.toggle(_("Prepare the photo as MNIST was made (a photo of a handwritten digit)"),
                  key="fm_mnist",
                  help=_("Ink made light on black, contrast stretched, paper cleared, the "
                         "digit cropped, scaled into 20×20 and centred by its centre of mass "
                         "in 28×28: the canvas's own steps. Switch it off to see what the "
                         "network makes of the photo merely resized and cropped."))
        widgets.sync_url("fm_mnist")
        if st.session_state["fm_mnist"]:
            return fm.preprocessing_for(net.variant, config=net.config, digit_photo=True)
    widgets.url_state("fm_invert", fm.looks_dark_on_light(image))
    st.toggle(_("Invert (for a dark digit on light paper: MNIST digits are light on dark)"),
              key="fm_invert")
    widgets.sync_url("fm_invert")
    return fm.preprocessing_for(net.variant, config=net.config,
                                invert=st.session_state["fm_invert"])


def _captions(done: Analysed, image, pre: fm.Preprocessing) -> list[str]:
    prepared = done.prepared
    tensor = _("normalised tensor, per channel (blue < 0 < orange)")
    if prepared.digit is not None and prepared.digit.steps is not None:
        return [_("your photo in grey {w}×{h}").format(w=image.width, h=image.height),
                _("light ink on dark (inverted)") if prepared.digit.dark_ink
                else _("light ink on dark (as it was)"),
                _("contrast stretched"),
                _("soft threshold; red: the ink's bounding box"), _("cropped to the box"),
                _("scaled into {n}×{n}, aspect kept").format(n=handwriting.BOX),
                _("in {n}×{n}, centre of mass (red +) at the centre: what the network sees"
                  ).format(n=handwriting.FIELD), tensor]
    rw, rh = prepared.resized_size or prepared.resized.size
    return [_("your image {w}×{h}").format(w=image.width, h=image.height),
            (_("resized {w:,}×{h:,}, its centre shown") if prepared.window_only
             else _("resized {w:,}×{h:,}")).format(w=rw, h=rh),
            _("centre crop {h}×{w}: what the network sees").format(h=pre.height, w=pre.width),
            tensor]


def _steps(prepared: fm.Prepared, pre: fm.Preprocessing) -> list[str]:
    if pre.digit_photo and prepared.digit is not None:
        if prepared.digit.steps is None:
            return pre.steps()
        return [*prepared.digit.describe(), *prepared.digit.steps.describe(photo=True),
                *pre.steps()]
    return pre.steps()


def show(done: Analysed, image, pre: fm.Preprocessing) -> None:
    """The expander: every stage as a picture, the steps in words, the input's statistics."""
    prepared = done.prepared
    x = prepared.tensor
    with st.expander(_("Preprocessing: the tensor that goes in is {shape}").format(
            shape=shape_text(x.shape)), expanded=pre.grayscale):
        if pre.digit_photo and prepared.digit is not None and prepared.digit.steps is None:
            st.warning(_("No ink stands out of the paper in this photo, so it was only "
                         "resized and cropped."), icon=":material/warning:")
        stages = pictures.preprocessing_pictures(done.image_id, done.pre_id, image, prepared,
                                                 pre)
        captions = _captions(done, image, pre)
        for row in range(0, len(stages), 4):
            for column, picture, caption in zip(st.columns(4), stages[row:row + 4],
                                                captions[row:row + 4], strict=True):
                widgets.image(column, picture, caption=caption, width="stretch",
                              output_format="PNG")
        st.markdown("  \n".join(f"{i}. {s}" for i, s in enumerate(_steps(prepared, pre), 1)))
        stats = fm.input_statistics(x)
        st.dataframe(pd.DataFrame({_("channel"): range(pre.in_channels),
                                   _("mean"): stats["mean"], _("std"): stats["std"],
                                   _("min"): stats["min"], _("max"): stats["max"]}),
                     hide_index=True)
