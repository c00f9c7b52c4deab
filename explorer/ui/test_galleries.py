"""A finished run's test images on screen: its most confident mistakes, and a sample of its
predictions filtered by true class and by right or wrong."""

from __future__ import annotations

import streamlit as st

from explorer.figures import handwriting as handwriting_figures
from explorer.i18n import N_, _
from explorer.training import augment, datasets, predictions, runs
from explorer.ui import widgets

OUTCOME_NAMES = {"all": N_("all"), "right": N_("right"), "wrong": N_("wrong")}


@st.cache_data(max_entries=16, ttl=3600, show_spinner=False)
def test_images(dataset: str, folder_size: int, indices: tuple[int, ...]) -> list:
    """The dataset's test images at `indices`, as uint8 arrays."""
    data = datasets.load(dataset, folder_size=folder_size)
    return [data.test_x[i].numpy() for i in indices]


def mistakes(info: runs.RunInfo, mistaken: list[runs.Mistake], names: list[str]) -> None:
    """The first 24 misclassified test images, captioned with prediction and truth."""
    st.markdown(_("**Misclassified test images**, most confident mistakes first"))
    try:
        data = datasets.load(info.config.settings.dataset,
                             folder_size=info.config.settings.folder_size)
    except datasets.DatasetUnavailable as err:
        st.warning(str(err))
        return
    cols = st.columns(12)
    for i, m in enumerate(mistaken[:24]):
        image = augment.grid_image(data.test_x[m.index].unsqueeze(0).float() / 255, nrow=1)
        widgets.image(cols[i % 12], image.numpy(), width="stretch",
                      caption=_("{pred} ({confidence:.0%}), true {true}").format(
                          pred=names[m.pred], confidence=m.confidence,
                          true=names[m.true]))


def predicted(info: runs.RunInfo) -> None:
    """Random test images with true label, prediction and confidence, right and wrong."""
    preds = predictions.read(info.path)
    if preds is None:
        return
    names = list(info.config.class_names)
    st.markdown(_("**Predictions on random test images**: green frame right, red wrong"))
    g1, g2, g3 = st.columns([2, 2, 1])
    wanted = g1.selectbox(_("True class"), [None, *range(len(names))],
                          key="training_gallery_class",
                          format_func=lambda c: _("every class") if c is None else names[c])
    outcome = g2.radio(_("Show"), predictions.OUTCOMES, horizontal=True,
                       key="training_gallery_outcome",
                       format_func=lambda o: _(OUTCOME_NAMES.get(o, o)))
    seed_key = "training_gallery_seed"
    if g3.button(_("Another sample"), icon=":material/shuffle:", key="training_gallery_more"):
        st.session_state[seed_key] = st.session_state.get(seed_key, 0) + 1
    chosen = predictions.sample(preds, true_class=wanted, outcome=outcome, count=24,
                                seed=st.session_state.get(seed_key, 0))
    if not chosen:
        st.caption(_("No test image matches: try another class or outcome."))
        return
    try:
        images = test_images(info.config.settings.dataset, info.config.settings.folder_size,
                             tuple(chosen))
    except datasets.DatasetUnavailable as err:
        st.warning(str(err))
        return
    cols = st.columns(12)
    for i, (index, image) in enumerate(zip(chosen, images, strict=True)):
        right = bool(preds.right[index])
        verdict = "✓" if right else _("✗ true {name}").format(name=names[preds.true[index]])
        widgets.image(cols[i % 12], handwriting_figures.gallery_tile(image, right),
                      width="stretch", caption=f"{names[preds.pred[index]]} "
                                               f"({preds.confidence[index]:.0%}) {verdict}")
    subset = preds.true == wanted if wanted is not None else slice(None)
    st.caption((_("{right:,} of {n:,} test images of this class are predicted right.")
                if wanted is not None else
                _("{right:,} of {n:,} test images of every class are predicted right.")).format(
        right=int(preds.right[subset].sum()), n=int(preds.right[subset].size)))
