"""The Model zoo's nn.Module lesson: children() and modules(), named_parameters(),
train()/eval() (a fragment: switching reruns it alone), to(device) and print(model)."""

from __future__ import annotations

import streamlit as st

from explorer import devices
from explorer.i18n import _
from explorer.models import layer_table, module_lesson
from explorer.ui import widgets
from explorer.ui import zoo_networks as networks

MOVE_DEMO_MB = 5.0  # real weights for the to(device) demo only where they are instant to build


@st.fragment
@widgets.guarded("train and eval")
def train_and_eval(lesson: module_lesson.Lesson) -> None:
    st.markdown("**`train()` / `eval()`**")
    mode = st.radio(_("Mode"), ["model.train()", "model.eval()"], key="zoo_mode",
                    horizontal=True)
    training, n_training, n_all = lesson.flags[mode == "model.train()"]
    sensitive = lesson.sensitive
    names = ", ".join(f"`{n}`" for n in sensitive[:8]) + ("…" if len(sensitive) > 8 else "")
    st.markdown(
        _("`model.training = {training}`; {n} of {total} modules are in training mode.").format(
            training=training, n=n_training, total=n_all) + " "
        + (_("The {n} layers that behave differently: {names} (Dropout zeroes activations only "
             "in training; BatchNorm uses batch statistics in training and its running "
             "averages in eval).").format(n=len(sensitive), names=names)
           if sensitive else _("No Dropout or BatchNorm here, so both modes compute the same."))
    )


def module_tab(net: networks.Network, table: layer_table.LayerTable) -> None:
    """children(), modules(), named_parameters(), train()/eval(), to(device), print(model)."""
    lesson = networks.lesson(net)
    st.markdown(_("`list(model.children())` has **{children}** modules, the direct "
                  "sub-modules; `list(model.modules())` has **{modules}**: the model itself and "
                  "every descendant. Open a child to see its own tree.").format(
        children=lesson.children, modules=lesson.modules))
    for child in lesson.tree.children:
        with st.expander(_("{name} · {type} · {n:,} parameters").format(
                name=child.name, type=child.type, n=child.params)):
            st.code("\n".join(module_lesson.tree_lines(child)), language=None)
    st.markdown(_("**`named_parameters()`**: every learnable tensor with its name."))
    st.dataframe(lesson.parameters, hide_index=True, width="stretch", height=260)
    train_and_eval(lesson)
    st.markdown("**`to(device)`**")
    device = devices.pick_device()
    if table.weight_mb <= MOVE_DEMO_MB and not net.layer:
        before, after = networks.moved_devices(net.key, net.variant, net.batchnorm, str(device))
        st.markdown(_("Before: tensors per device {before}. After `model.to({device})`: "
                      "{after}. Every parameter and buffer moves; the input batch must follow "
                      "with `x.to(device)`.").format(before=before, device=repr(str(device)),
                                                     after=after))
    else:
        st.markdown(_("This table's copy lives on PyTorch's **meta** device ({devices}): "
                      "shapes without memory, which is how the page tabulates big networks "
                      "instantly. A real `model.to({device})` would move {mb:,.0f} MB.").format(
            devices=lesson.devices, device=repr(str(device)), mb=table.weight_mb))
    with st.expander("`print(model)`"):
        st.code(lesson.printed, language=None)
