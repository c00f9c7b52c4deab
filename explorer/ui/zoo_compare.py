"""The Model zoo's comparison: two or three networks side by side at the course's
configuration, every number computed from the network (`explorer.models.comparison`) beside
what its paper prints. A fragment: choosing networks reruns it alone."""

from __future__ import annotations

import streamlit as st

from explorer.i18n import _
from explorer.models import comparison, zoo
from explorer.ui import widgets
from explorer.ui import zoo_networks as networks

TTL = 3600


@st.cache_data(max_entries=32, ttl=TTL, show_spinner=False)
def _row(key: str) -> comparison.Row:
    """`key`'s numbers at the course's configuration, once per server process."""
    net = networks.Network(key, comparison.course_variant(key), False)
    size = zoo.VARIANTS[net.variant].height
    return comparison.row(key, networks.table(net, size, "en"), networks.meta_network(net))


def course_mark(key: str, variant: str) -> str:
    """The Configuration radio's suffix that marks the course's configuration of `key`."""
    return _(" · the course's") if comparison.course_variant(key) == variant else ""


def _records(rows: list[comparison.Row]) -> dict[str, list[str]]:
    """One column per network, one row per quantity: long numbers never cut off."""
    def published(value: str) -> str:
        return _("paper: {value}").format(value=value) if value else _("paper: not given")

    table: dict[str, list[str]] = {"": [_("configuration"), _("parameters"),
                                        _("multiply-adds / image"), _("depth (weighted layers)"),
                                        _("receptive field"), _("source")]}
    for r in rows:
        table[_(zoo.get_spec(r.key).title)] = [
            zoo.VARIANTS[r.variant].label, f"{r.params:,} · {published(r.published_params)}",
            f"{r.macs:,} · {published(r.published_macs)}", str(r.depth),
            _("{n}×{n} px").format(n=r.receptive_field) if r.receptive_field else "—",
            r.source or "—"]
    return table


@st.fragment
@widgets.guarded("compare networks")
def section() -> None:
    """Pick two or three networks; the table of their numbers at the course's sizes."""
    st.markdown(_("**Compare networks side by side** at the course's configuration (LeNet-5 "
                  "on 28×28 digits, the ImageNet networks at 224×224): every number is PyTorch's "
                  "own, beside what the paper prints."))
    widgets.offered_many("zoo_compare", zoo.list_models(), most=3)
    titles = {k: _(zoo.get_spec(k).title) for k in zoo.list_models()}
    # the label is never None: a forged value gets formatted too, and Streamlit cannot
    # serialise a None label
    keys = st.multiselect(_("Networks"), list(titles), default=list(comparison.DEFAULT),
                          max_selections=3, key="zoo_compare",
                          format_func=lambda k: titles.get(k, str(k)))
    if len(keys) < 2:
        st.info(_("Pick two or three networks."), icon=":material/compare_arrows:")
        return
    with st.spinner(_("Running a dummy image through the network…")):
        rows = [_row(k) for k in keys]
    st.table(_records(rows), border="horizontal", hide_index=True)
    st.caption(_("Depth counts convs and Linears on the main path (a ResNet's shortcut "
                 "projections not included); the receptive field is one cell's of the last "
                 "feature map before the global pooling. He et al. call a multiply-add a "
                 "FLOP."))
