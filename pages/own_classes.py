"""Your own classes: name 2 to 10 classes, fill them from the webcam, files, a folder or a
zip, train a classic CNN on them in the shared queue, then classify a new shot and look inside.

A table of contents: the sections are `explorer.ui.own_dataset` (the images, kept on disk under
the student's identity) and `explorer.ui.own_model` (training, using and exporting). The
session keeps the dataset's key and widget values only.
"""

from __future__ import annotations

import streamlit as st

from explorer.i18n import _
from explorer.training import own_classes as own
from explorer.training.access import AccessDenied
from explorer.ui import identity, own_dataset, own_model, widgets

widgets.page_header(
    _("Your own classes"),
    _("Name a few classes, fill each with pictures from your webcam or your files, and train "
      "one of the course's networks on them: from scratch, or fine-tuned from ImageNet "
      "weights. Then show it a new picture and see every class's probability, its feature "
      "maps and its Grad-CAM. Your images are kept on the server for you alone (the teacher "
      "can see them) until you delete them."),
)
actor = identity.actor()

st.subheader(_("1 · Your dataset"))
ref = widgets.guarded("your dataset")(own_dataset.choose)(actor)
if ref is None:
    st.stop()
try:
    own.meta(actor, ref)  # the key may be stale (deleted in another tab): say so, start over
except AccessDenied as err:
    st.warning(str(err))
    st.session_state.pop("own_pick", None)
    st.stop()
widgets.guarded("delete the dataset")(own_dataset.delete_button)(actor, ref)

st.subheader(_("2 · Fill your classes"))
own_dataset.fill(actor, ref)

st.subheader(_("3 · Train a network on them"))
own_model.train(actor, ref)
widgets.guarded("your run")(own_model.watch)(actor, ref)

st.subheader(_("4 · Show it something new"))
own_model.use(actor, ref)
