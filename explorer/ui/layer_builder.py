"""Build your own network: the layer-stack editor (`explorer.models.layer_stack` does the work).

The session keeps the stack as its URL text (`zoo_stack`) and one id per row (`zoo_stack_ids`):
an argument box is keyed by its row's id, so a row that moves keeps its boxes and a new stack
gets fresh ones. The editor is a fragment: editing a layer reruns only it.
"""

from __future__ import annotations

import streamlit as st

from explorer.i18n import _
from explorer.models import layer_stack, zoo
from explorer.models.modules import shape_text
from explorer.training import datasets
from explorer.ui import widgets

STACK, IDS, NEXT_ID, NOTE = "zoo_stack", "zoo_stack_ids", "zoo_stack_next_id", "zoo_stack_note"
SHAPE_KEYS = ("zoo_stack_c", "zoo_stack_h", "zoo_stack_w")
TRAIN_DATA = "mnist-mini"  # the dataset the Training page starts with


def _fresh_ids(n: int) -> list[int]:
    start = st.session_state.get(NEXT_ID, 0)
    st.session_state[NEXT_ID] = start + n
    return list(range(start, start + n))


def _stack() -> layer_stack.Stack:
    return layer_stack.parse(st.session_state[STACK])


def _keep(stack: layer_stack.Stack, ids: tuple[int, ...] | list[int] | None = None) -> None:
    """Store `stack` (and its rows' ids, when they changed)."""
    st.session_state[STACK] = layer_stack.format_stack(stack)
    if ids is not None:
        st.session_state[IDS] = list(ids)


def _load(stack: layer_stack.Stack) -> None:
    """Replace the stack (new ids, so every argument box starts from the stack)."""
    _keep(stack, _fresh_ids(len(stack)))


def _move(index: int, step: int) -> None:
    _keep(layer_stack.moved(_stack(), index, step),
          layer_stack.moved(st.session_state[IDS], index, step))


def _remove(index: int) -> None:
    _keep(layer_stack.removed(_stack(), index), layer_stack.removed(st.session_state[IDS], index))


def _add(shape: layer_stack.Shape) -> None:
    try:
        stack = layer_stack.append_default(_stack(), st.session_state["zoo_stack_add"], shape)
    except layer_stack.StackError as err:
        st.session_state[NOTE] = str(err)
        return
    _keep(stack, [*st.session_state[IDS], *_fresh_ids(1)])


def _set_arg(index: int, name: str, key: str) -> None:
    """An argument box changed: write it into the stack before the rerun draws it."""
    _keep(layer_stack.with_arg(_stack(), index, name, st.session_state[key]))


def _lenet() -> None:
    _load(layer_stack.parse(layer_stack.LENET5))


def _from_code() -> None:
    try:
        _load(layer_stack.from_code(st.session_state.get("zoo_stack_code", "")))
    except layer_stack.StackError as err:
        st.session_state[NOTE] = str(err)


def _start() -> None:
    """The stack from the address bar once per session, else LeNet-5; unreadable: LeNet-5."""
    if STACK in st.session_state:
        return
    try:
        stack = layer_stack.parse(st.query_params.get("stack", layer_stack.LENET5))
    except layer_stack.StackError as err:
        st.session_state[NOTE] = _("The stack in the address bar was not read: "
                                   "{error}").format(error=err)
        stack = layer_stack.parse(layer_stack.LENET5)
    _load(stack)
    shape = layer_stack.parse_shape(st.query_params.get("stack_in"))
    for key, side in zip(SHAPE_KEYS, shape, strict=True):
        st.session_state[key] = side


def _layer_row(index: int, uid: int, layer: layer_stack.Layer, row: layer_stack.Row | None,
               count: int) -> None:
    """One layer: its arguments (editable), what torch made of it, and move/remove buttons."""
    cols = st.columns([1.0, 4.6, 2.0, 2.6], vertical_alignment="center")
    moves = cols[3].container(horizontal=True, gap="small")  # one row, on a phone too
    cols[0].markdown(f"**{index + 1}. {layer.kind}**")
    args = layer.spec.args
    if args:
        # a row that wraps, not columns: a phone's narrow columns broke "in_channels" mid-word
        boxes = cols[1].container(horizontal=True)
        for arg, value in zip(args, layer.values, strict=True):
            key = f"zoo_stack_{uid}_{arg.name}"
            low, high = (int(arg.low), int(arg.high)) if arg.integer else (arg.low, arg.high)
            widgets.number_input(arg.name, low, high,
                                 value=int(value) if arg.integer else float(value), key=key,
                                 where=boxes, step=None if arg.integer else 0.1, width=118,
                                 on_change=_set_arg, args=(index, arg.name, key))
    else:
        cols[1].caption(_("no arguments"))
    if row is None:
        cols[2].caption(_("not reached"))
    elif row.error:
        cols[2].markdown(":red[**" + _("breaks here") + "**]")
    else:
        cols[2].markdown(_("→ `{shape}` · {params:,} params · {macs:,} MACs").format(
            shape=shape_text(row.output_shape), params=row.params, macs=row.macs))
    # words, not icons alone: a screen reader read those as "arrow_upward icon", in English
    moves.button(_("Up"), key=f"zoo_stack_up_{uid}",
                 on_click=_move, args=(index, -1), disabled=index == 0, help=_("Move up"))
    moves.button(_("Down"), key=f"zoo_stack_down_{uid}",
                 on_click=_move, args=(index, 1), disabled=index == count - 1,
                 help=_("Move down"))
    moves.button(_("Remove"), key=f"zoo_stack_del_{uid}", on_click=_remove,
                 args=(index,), help=_("Remove this layer"))
    if row is not None and row.error:
        st.error(_("`{code}` gets a {shape} input and PyTorch refuses it:\n\n`{error}`\n\n"
                   "**What to change:** {advice}").format(
            code=layer_stack.layer_code(layer), shape=shape_text(row.input_shape),
            error=f"{row.error_type}: {row.error}", advice=row.advice), icon=":material/error:")


def _train_this(stack: layer_stack.Stack) -> None:
    """Hand the stack to the Training page, if it fits the dataset it starts with."""
    data = datasets.REGISTRY[TRAIN_DATA]
    channels, height, width, classes = data.in_channels, data.height, data.width, data.num_classes
    try:
        layer_stack.check_trainable(stack, (channels, height, width), classes)
    except layer_stack.StackError as err:
        st.caption(_("To train it on mnist-mini ({c}×{h}×{w} digits, {k} classes): {error}"
                     ).format(c=channels, h=height, w=width, k=classes, error=err))
        ready = False
    else:
        ready = True
    if st.button(_("Train this network"), icon=":material/model_training:", disabled=not ready,
                 key="zoo_stack_train", type="primary"):
        st.session_state["training_layers"] = layer_stack.format_stack(stack)
        st.session_state["training_model"] = zoo.CUSTOM
        st.session_state["training_dataset"] = TRAIN_DATA
        st.switch_page("../pages/training.py")  # relative to the entrypoint, explorer/app.py


def _input_shape() -> layer_stack.Shape:
    columns = st.columns(3)
    labels = (_("Input channels"), _("Input height"), _("Input width"))
    return tuple(int(widgets.number_input(label, 1, top, key=key, where=col))
                 for label, top, key, col in zip(labels, layer_stack.INPUT_LIMITS, SHAPE_KEYS,
                                                 columns, strict=True))


def _outcome(result: layer_stack.Propagation) -> None:
    """Where the stack breaks, or what comes out of it."""
    if note := st.session_state.pop(NOTE, None):
        st.warning(note)
    if (broken := result.broken) is not None:
        st.warning(_("The stack breaks at layer {n}: fix it there (see above), and every shape "
                     "after it follows.").format(n=broken.index + 1), icon=":material/build:")
    else:
        st.success(_("Output {shape} per image · {params:,} parameters · {macs:,} "
                     "multiply-adds.").format(shape=shape_text(result.output_shape),
                                              params=result.params, macs=result.macs),
                   icon=":material/check_circle:")


def _code(stack: layer_stack.Stack) -> None:
    """The stack as code (the address bar holds it too), and code to load a stack from."""
    c1, c2 = st.columns(2)
    with c1:
        st.code("import torch.nn as nn\n\n" + layer_stack.to_code(stack), language="python",
                wrap_lines=True)
        st.caption(_("The address bar holds this stack: copy the link to share it."))
    with c2:
        st.text_area(_("Paste nn.Sequential code to load it"), key="zoo_stack_code", height=150,
                     placeholder="model = nn.Sequential(nn.Conv2d(1, 6, kernel_size=5), ...)")
        st.button(_("Load this code"), key="zoo_stack_load", on_click=_from_code)
        st.button(_("Back to LeNet-5"), key="zoo_stack_reset", on_click=_lenet)


@st.fragment
@widgets.guarded("build your own network")
def editor() -> None:
    """Stack layers, watch every shape, see PyTorch's error where it breaks, then train it."""
    _start()
    st.markdown(_("Stack layers and give an input shape: each layer runs for real (on "
                  "PyTorch's meta device) and shows its output shape, parameters and "
                  "multiply-adds. Where a layer cannot take its input, you see PyTorch's own "
                  "error and what to change."))
    shape = _input_shape()
    stack = _stack()
    result = layer_stack.propagate(stack, shape)
    rows = {r.index: r for r in result.rows}
    for i, (uid, layer) in enumerate(zip(st.session_state[IDS], stack, strict=True)):
        _layer_row(i, uid, layer, rows.get(i), len(stack))
    a1, a2 = st.columns([2, 1], vertical_alignment="bottom")
    a1.selectbox(_("Layer to add at the end"), list(layer_stack.KINDS), key="zoo_stack_add")
    a2.button(_("Add layer"), icon=":material/add:", key="zoo_stack_add_button", on_click=_add,
              args=(shape,))
    _outcome(result)
    # the address bar stays short until the stack is yours
    if "stack" in st.query_params or not layer_stack.is_default(st.session_state[STACK], shape):
        st.query_params["stack"] = st.session_state[STACK]
        st.query_params["stack_in"] = layer_stack.shape_param(shape)
    _code(stack)
    _train_this(stack)


def section() -> None:
    """The builder in an expander, open when the address bar brought a stack."""
    st.session_state.setdefault("zoo_stack_open", "stack" in st.query_params)
    with st.expander(_("Build your own network"), expanded=st.session_state["zoo_stack_open"],
                     icon=":material/construction:"):
        editor()
