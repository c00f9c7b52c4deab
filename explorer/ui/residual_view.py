"""The Model zoo's residual block on the student's photo: pick a block of the diagram and see
the tensors on its two paths, x, F(x), the shortcut, F(x) + shortcut and the ReLU after it.

The network is the zoo's seeded one (`zoo_networks.seeded_network`), so what matters here is
the shapes and the add, not what the weights learned; the pictures are each tensor's mean over
its channels, drawn and encoded once per (network, block, photo) for every session.
"""

from __future__ import annotations

import streamlit as st
from PIL import Image

from explorer import feature_maps as fm
from explorer import images, kernels, residual_paths
from explorer.figures import feature_maps as figs
from explorer.figures.encoding import png
from explorer.i18n import _
from explorer.models import layer_table, zoo
from explorer.models.modules import shape_text
from explorer.ui import widgets
from explorer.ui import zoo_networks as networks

TTL = 3600


@st.cache_data(max_entries=32, ttl=TTL, show_spinner=False)
def _pictures(net: networks.Network, block_name: str, photo_key: tuple, _image: Image.Image,
              _table: layer_table.LayerTable) -> list[tuple[bytes, tuple[int, ...], float]]:
    """(picture, shape, mean |value|) of x, F(x), the shortcut, the sum and the output."""
    model = networks.seeded_network(net.key, net.variant, net.batchnorm)
    pre = fm.preprocessing_for(net.variant)
    x = fm.prepare(_image, pre).tensor
    block = next(b for b in _table.blocks if b.name == block_name)
    paths = residual_paths.block_paths(model, x, block)
    out = []
    for tensor in (paths.x, paths.main, paths.shortcut, paths.total, paths.out):
        mean = tensor.float().mean(0, keepdim=True)
        picture = figs.enlarge(figs.scale_to_unit(mean)[0], "Viridis", size=180)
        out.append((png(picture), tuple(tensor.shape), float(tensor.abs().mean())))
    return out


@st.fragment
@widgets.guarded("a residual block on your photo")
def section(net: networks.Network, photo: images.LoadedImage,
            table: layer_table.LayerTable) -> None:
    """A block chooser and its five tensors, side by side."""
    if not st.toggle(_("Follow one residual block's tensors on your photo"), key="zoo_block_on"):
        return
    if net.layer:
        st.info(_("Set the key layer back to “none (as built)” to follow a block."))
        return
    names = [b.name for b in table.blocks]
    if st.session_state.get("zoo_block") not in names:
        st.session_state["zoo_block"] = names[0]
    labels = {b.name: b.name + ("" if b.identity else _(" · projection shortcut"))
              for b in table.blocks}
    name = st.selectbox(_("Residual block"), names, key="zoo_block", format_func=labels.get)
    size = zoo.VARIANTS[net.variant].height
    built = networks.table(net.as_built, size, "en")
    with st.spinner(_("Initialising real weights…")):
        shown = _pictures(net.as_built, name, kernels.image_key(photo.image, photo.name),
                          photo.image, built)
    block = next(b for b in built.blocks if b.name == name)
    captions = [_("x, into the block"), _("F(x): the main path"),
                _("x: the identity mapping") if block.identity
                else _("the shortcut's projection of x"),
                _("F(x) + shortcut: the add"), _("ReLU: the block's output")]
    for column, (picture, shape, mean), caption in zip(st.columns(5), shown, captions,
                                                        strict=True):
        column.image(picture, output_format="PNG", width="stretch", caption=_(
            "{what} · {shape} · mean |value| {mean:.3f}").format(
            what=caption, shape=shape_text(shape), mean=mean))
    st.caption(_("Each picture is the tensor's mean over its channels (seeded random weights: "
                 "the shapes and the add are the lesson, not what was learned). The add needs "
                 "both paths in the same shape, which is why a block that changes the channels "
                 "or halves the size has a projection on its shortcut."))
