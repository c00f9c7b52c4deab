"""Model zoo: the classic CNNs as nn.Modules: layer table, shapes, parameters, FLOPs, save/load.

The network, configuration and shape-propagation controls rerun the page; everything they
produce (the table, its records, the diagram, the nn.Module lesson's facts) is cached across
sessions by those small values. The train()/eval() switch and the state_dict upload are
fragments: they rerun alone.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import streamlit as st
import torch

from explorer import devices, i18n
from explorer.figures import diagram
from explorer.i18n import N_, _
from explorer.models import course_facts, layer_stack, layer_table, module_lesson, state_dicts, zoo
from explorer.models.modules import shape_text
from explorer.training import datasets
from explorer.ui import predict_panel, pretrained, widgets

widgets.page_header(
    _("Model zoo"),
    _("LeNet-5 to DenseNet as real `nn.Module`s. Pick a network and an input configuration: "
      "PyTorch runs a dummy image through it and every shape, parameter count and "
      "multiply-add below comes from that forward pass. Change the input size or a key "
      "layer and watch the numbers follow, or break."),
)


def variant_label(name: str) -> str:
    v = zoo.VARIANTS[name]
    return _("{name} · {c}×{h}×{w} · {k} classes").format(name=name, c=v.in_channels,
                                                          h=v.height, w=v.width, k=v.num_classes)



REAL_WEIGHTS_MB = 60.0  # above this, the save/load lesson would ship hundreds of MB
MOVE_DEMO_MB = 5.0  # real weights for the to(device) demo only where they are instant to build


TTL = 3600  # seconds; every cache is also bounded by max_entries

predict_panel.panel("zoo", what=_("the layer table's count"))


# --- build your own network -----------------------------------------------------------------
STACK, STACK_IDS, STACK_SHAPE = "zoo_stack", "zoo_stack_ids", ("zoo_stack_c", "zoo_stack_h",
                                                               "zoo_stack_w")
TRAIN_DATA = datasets.REGISTRY["mnist-mini"]  # the dataset the Training page starts with


def _fresh_ids(n: int) -> list[int]:
    start = st.session_state.get("zoo_stack_next_id", 0)
    st.session_state["zoo_stack_next_id"] = start + n
    return list(range(start, start + n))


def _load_stack(stack: layer_stack.Stack) -> None:
    """Replace the builder's stack (new ids, so every argument box starts from the stack)."""
    st.session_state[STACK] = layer_stack.format_stack(stack)
    st.session_state[STACK_IDS] = _fresh_ids(len(stack))


def _stack() -> layer_stack.Stack:
    return layer_stack.parse(st.session_state[STACK])


def _move(index: int, step: int) -> None:
    stack, ids = list(_stack()), st.session_state[STACK_IDS]
    j = index + step
    stack[index], stack[j] = stack[j], stack[index]
    ids[index], ids[j] = ids[j], ids[index]
    st.session_state[STACK] = layer_stack.format_stack(tuple(stack))


def _remove(index: int) -> None:
    stack = list(_stack())
    del stack[index]
    del st.session_state[STACK_IDS][index]
    st.session_state[STACK] = layer_stack.format_stack(tuple(stack))


def _add(shape: tuple[int, ...]) -> None:
    kind = st.session_state["zoo_stack_add"]
    if len(_stack()) >= layer_stack.MAX_LAYERS:
        st.session_state["zoo_stack_note"] = _("A stack holds at most {n} layers.").format(
            n=layer_stack.MAX_LAYERS)
        return
    st.session_state[STACK] = layer_stack.format_stack(layer_stack.append_default(_stack(), kind,
                                                                                  shape))
    st.session_state[STACK_IDS] += _fresh_ids(1)


def _set_arg(index: int, name: str, key: str) -> None:
    """An argument box changed: write it into the stack before the rerun draws it."""
    stack = list(_stack())
    stack[index] = stack[index].with_arg(name, st.session_state[key])
    st.session_state[STACK] = layer_stack.format_stack(tuple(stack))


def _lenet() -> None:
    _load_stack(layer_stack.parse(layer_stack.LENET5))


def _from_code() -> None:
    try:
        _load_stack(layer_stack.from_code(st.session_state.get("zoo_stack_code", "")))
    except layer_stack.StackError as err:
        st.session_state["zoo_stack_note"] = str(err)


def _start_stack() -> None:
    """The stack from the address bar once per session, else LeNet-5; unreadable: LeNet-5."""
    if STACK in st.session_state:
        return
    try:
        stack = layer_stack.parse(st.query_params.get("stack", layer_stack.LENET5))
    except layer_stack.StackError as err:
        st.session_state["zoo_stack_note"] = _("The stack in the address bar was not read: "
                                               "{error}").format(error=err)
        stack = layer_stack.parse(layer_stack.LENET5)
    _load_stack(stack)
    shape = st.query_params.get("stack_in", "1x28x28").split("x")
    defaults = shape if len(shape) == 3 and all(v.isdigit() for v in shape) else ["1", "28", "28"]
    for key, value, top in zip(STACK_SHAPE, defaults, (64, 512, 512), strict=True):
        st.session_state[key] = min(max(int(value), 1), top)


def _layer_row(index: int, uid: int, layer: layer_stack.Layer, row: layer_stack.Row | None,
               count: int) -> None:
    """One layer: its arguments (editable), what torch made of it, and move/remove buttons."""
    cols = st.columns([1.1, 5.5, 2.4, 0.4, 0.4, 0.4], vertical_alignment="center")
    cols[0].markdown(f"**{index + 1}. {layer.kind}**")
    args = layer.spec.args
    if args:
        boxes = cols[1].columns(len(args))
        for box, arg, value in zip(boxes, args, layer.values, strict=True):
            key = f"zoo_stack_{uid}_{arg.name}"
            low, high = (int(arg.low), int(arg.high)) if arg.integer else (arg.low, arg.high)
            widgets.number_input(arg.name, low, high,
                                 value=int(value) if arg.integer else float(value), key=key,
                                 where=box, step=None if arg.integer else 0.1,
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
    cols[3].button("", icon=":material/arrow_upward:", key=f"zoo_stack_up_{uid}",
                   on_click=_move, args=(index, -1), disabled=index == 0, help=_("Move up"))
    cols[4].button("", icon=":material/arrow_downward:", key=f"zoo_stack_down_{uid}",
                   on_click=_move, args=(index, 1), disabled=index == count - 1,
                   help=_("Move down"))
    cols[5].button("", icon=":material/close:", key=f"zoo_stack_del_{uid}", on_click=_remove,
                   args=(index,), help=_("Remove this layer"))
    if row is not None and row.error:
        st.error(_("`{code}` gets a {shape} input and PyTorch refuses it:\n\n`{error}`\n\n"
                   "**What to change:** {advice}").format(
            code=layer_stack.layer_code(layer), shape=shape_text(row.input_shape),
            error=f"{row.error_type}: {row.error}", advice=row.advice), icon=":material/error:")


def _train_this(stack: layer_stack.Stack, shape: tuple[int, ...]) -> None:
    """Hand the stack to the Training page, if it fits the dataset it starts with."""
    data = TRAIN_DATA
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
        st.session_state["training_dataset"] = "mnist-mini"
        st.switch_page("../pages/training.py")  # relative to the entrypoint, explorer/app.py


@st.fragment
@widgets.guarded("build your own network")
def build_your_own() -> None:
    """Stack layers, watch every shape, see PyTorch's error where it breaks, then train it."""
    _start_stack()
    st.markdown(_("Stack layers and give an input shape: each layer runs for real (on "
                  "PyTorch's meta device) and shows its output shape, parameters and "
                  "multiply-adds. Where a layer cannot take its input, you see PyTorch's own "
                  "error and what to change."))
    s1, s2, s3 = st.columns(3)
    shape = tuple(int(widgets.number_input(label, 1, top, key=key, where=col))
                  for label, top, key, col in zip((_("Input channels"), _("Input height"),
                                                   _("Input width")), (64, 512, 512),
                                                  STACK_SHAPE, (s1, s2, s3), strict=True))
    stack = _stack()
    result = layer_stack.propagate(stack, shape)
    rows = {r.index: r for r in result.rows}
    for i, (uid, layer) in enumerate(zip(st.session_state[STACK_IDS], stack, strict=True)):
        _layer_row(i, uid, layer, rows.get(i), len(stack))
    a1, a2 = st.columns([2, 1], vertical_alignment="bottom")
    a1.selectbox(_("Layer to add at the end"), list(layer_stack.KINDS), key="zoo_stack_add")
    a2.button(_("Add layer"), icon=":material/add:", key="zoo_stack_add_button", on_click=_add,
              args=(shape,))
    if note := st.session_state.pop("zoo_stack_note", None):
        st.warning(note)
    if (broken := result.broken) is not None:
        st.warning(_("The stack breaks at layer {n}: fix it there (see above), and every shape "
                     "after it follows.").format(n=broken.index + 1), icon=":material/build:")
    else:
        st.success(_("Output {shape} per image · {params:,} parameters · {macs:,} "
                     "multiply-adds.").format(shape=shape_text(result.output_shape),
                                              params=result.params, macs=result.macs),
                   icon=":material/check_circle:")
    if "stack" in st.query_params or st.session_state[STACK] != layer_stack.LENET5 \
            or shape != (1, 28, 28):  # the address bar stays short until the stack is yours
        st.query_params["stack"] = st.session_state[STACK]
        st.query_params["stack_in"] = "x".join(map(str, shape))
    c1, c2 = st.columns(2)
    with c1:
        st.code("import torch.nn as nn\n\n" + layer_stack.to_code(stack), language="python")
        st.caption(_("The address bar holds this stack: copy the link to share it."))
    with c2:
        st.text_area(_("Paste nn.Sequential code to load it"), key="zoo_stack_code", height=150,
                     placeholder="model = nn.Sequential(nn.Conv2d(1, 6, kernel_size=5), ...)")
        st.button(_("Load this code"), key="zoo_stack_load", on_click=_from_code)
        st.button(_("Back to LeNet-5"), key="zoo_stack_reset", on_click=_lenet)
    _train_this(stack, shape)


st.session_state.setdefault("zoo_stack_open", "stack" in st.query_params)
with st.expander(_("Build your own network"), expanded=st.session_state["zoo_stack_open"],
                 icon=":material/construction:"):
    build_your_own()


@st.cache_resource(max_entries=48, ttl=TTL, show_spinner=False)
def meta_model(key: str, variant: str, batchnorm: bool) -> torch.nn.Module:
    """The network on PyTorch's meta device: every shape, no memory, instant to build."""
    with torch.device("meta"):
        return zoo.build_model(key, variant=variant, batchnorm=batchnorm)


@st.cache_resource(max_entries=96, ttl=TTL, show_spinner=False)
def inspect(key: str, variant: str, batchnorm: bool, size: int, layer: str, kernel: int,
            stride: int, lang: str) -> tuple[torch.nn.Module, layer_table.LayerTable]:
    """The network (a key layer changed) and its layer table, whose notes are in `lang`."""
    model = meta_model(key, variant, batchnorm)
    if layer:
        model = layer_table.with_layer_changed(model, layer, kernel=kernel, stride=stride)
    channels = zoo.VARIANTS[variant].in_channels
    with i18n.use_language(lang):
        return model, layer_table.inspect_model(model, (channels, size, size))


@st.cache_data(max_entries=96, ttl=TTL, show_spinner=False)
def table_view(args: tuple, title: str) -> tuple[list[dict[str, object]], str]:
    """The layer table as records and the block diagram as DOT, once per inspection."""
    table = inspect(*args)[1]
    return layer_table.table_records(table), diagram.graph_dot(table, title)


@dataclass(frozen=True)
class Lesson:
    """Everything the nn.Module tab shows, computed once per inspection on a copy."""

    children: int
    modules: int
    tree: module_lesson.TreeNode
    parameters: list[dict[str, object]]
    flags: dict[bool, tuple[bool, int, int]]  # train -> (model.training, in training, all)
    sensitive: list[str]
    devices: dict[str, int]
    printed: str


@st.cache_resource(max_entries=96, ttl=TTL, show_spinner=False)
def lesson_facts(args: tuple) -> Lesson:
    lesson = copy.deepcopy(inspect(*args)[0])  # train()/eval() must not touch the cached model
    n_children, n_modules = module_lesson.count_modules(lesson)
    flags = {train: module_lesson.training_flags(lesson, train) for train in (True, False)}
    return Lesson(n_children, n_modules, module_lesson.module_tree(lesson),
                  module_lesson.named_parameter_records(lesson), flags,
                  module_lesson.mode_sensitive(lesson), module_lesson.tensor_devices(lesson),
                  module_lesson.print_form(lesson))


@st.cache_resource(max_entries=6, ttl=TTL, show_spinner="Initialising real weights…")
def real_model(key: str, variant: str, batchnorm: bool, seed: int = 0) -> torch.nn.Module:
    return zoo.build_seeded(key, seed=seed, variant=variant, batchnorm=batchnorm).eval()


@st.cache_data(max_entries=12, ttl=TTL, show_spinner=False)
def moved_devices(key: str, variant: str, batchnorm: bool, device: str
                  ) -> tuple[dict[str, int], dict[str, int]]:
    """Tensors per device of the real model, before and after `to(device)`."""
    real = real_model(key, variant, batchnorm)
    moved = copy.deepcopy(real).to(device)
    return module_lesson.tensor_devices(real), module_lesson.tensor_devices(moved)


@st.cache_data(show_spinner=False)
def facts() -> dict[str, object]:
    return {"mlp": course_facts.mlp_vs_lenet(), "vgg": course_facts.vgg_stacked_convs(64),
            "bottleneck": course_facts.bottleneck_macs(),
            "1x1": course_facts.one_by_one_is_linear(),
            "deep": course_facts.vgg19_vs_resnet101()}


def reset_size() -> None:
    st.session_state["zoo_size"] = zoo.VARIANTS[st.session_state["zoo_variant"]].height
    st.session_state["zoo_layer"] = ""


def pretrained_weights(key: str, batchnorm: bool) -> None:
    """Whether torchvision's ImageNet weights of this network are here, and a download if not."""
    file = zoo.pretrained_file(key, batchnorm)
    if file.is_cached():
        st.success(_("Pretrained ImageNet weights (`{name}`) are on this server as `{file}`, "
                     "checked by their SHA-256: the Feature maps page shows what they "
                     "learned.").format(name=file.enum_name, file=file.filename),
                   icon=":material/check:")
        return
    w1, w2 = st.columns([1, 2])
    messages = st.container()  # progress and errors at full width, under the button
    w2.caption(_("torchvision publishes ImageNet weights for this network (`{name}`); they are "
                 "not on this machine yet. By hand: {by_hand}.").format(name=file.enum_name,
                                                                        by_hand=file.by_hand()))
    with w1:
        if pretrained.download_button(file, key="zoo_download", messages=messages):
            st.rerun()


# --- controls ------------------------------------------------------------------------------
widgets.url_state("zoo_model", "lenet5", choices=zoo.list_models())
widgets.url_state("zoo_variant", "mnist", choices=list(zoo.VARIANTS))
widgets.url_state("zoo_bn", False)
widgets.url_state("zoo_size", zoo.VARIANTS[st.session_state["zoo_variant"]].height, bounds=(4, 320))
c1, c2, c3 = st.columns([2, 3, 1])
key = c1.selectbox(_("Network"), zoo.list_models(), key="zoo_model", on_change=reset_size,
                   format_func=lambda k: _(zoo.get_spec(k).title))
variant = c2.radio(_("Configuration"), list(zoo.VARIANTS), key="zoo_variant", horizontal=True,
                   format_func=variant_label, on_change=reset_size)
spec = zoo.get_spec(key)
config = zoo.VARIANTS[variant]
batchnorm = c3.toggle("BatchNorm", key="zoo_bn", disabled=not spec.supports_batchnorm,
                      help=_("Adds BatchNorm after every conv and hidden Linear. ResNet, "
                             "GoogLeNet and DenseNet always have it; AlexNet predates it."))
batchnorm = batchnorm and spec.supports_batchnorm
widgets.sync_url("zoo_model", "zoo_variant", "zoo_bn", "zoo_size")

st.markdown(f"**{_(spec.title)}** · {_(spec.paper)}")
if config.small:
    st.info(_("**What differs from the paper and why:** {note}.").format(note=_(spec.small_note)),
            icon=":material/compare_arrows:")
elif spec.imagenet_from_torchvision:
    st.caption(_("torchvision's own architecture (`weights=None`): the parameter count below is "
                 "torchvision's. Built for {config}.").format(config=variant_label(variant)))
    pretrained_weights(key, batchnorm)
else:
    st.caption(_("torchvision has no such model: built from the paper's description for "
                 "{config}.").format(config=variant_label(variant)))

# --- shape propagation controls -------------------------------------------------------------
try:
    base = meta_model(key, variant, batchnorm)
except zoo.BuildError as err:
    st.error(str(err))
    st.stop()
key_layers = layer_table.key_layers(base)
with st.container(border=True):
    st.markdown(_("**Shape propagation.** The network was built for {h}×{w} inputs; feed it "
                  "another size, or change a key layer, and every shape, parameter and "
                  "multiply-add downstream follows.").format(h=config.height, w=config.width))
    s1, s2, s3, s4 = st.columns([3, 2, 1, 1])
    size = s1.slider(_("Input height and width"), 4, 320, key="zoo_size")
    if st.session_state.get("zoo_layer") not in ["", *key_layers]:
        st.session_state["zoo_layer"] = ""
    layer = s2.selectbox(_("Key layer to change"), ["", *key_layers], key="zoo_layer",
                         format_func=lambda n: n or _("none (as built)"))
    kernel, stride = layer_table.kernel_and_stride(base.get_submodule(layer)) if layer else (3, 1)
    if layer:
        kernel = widgets.number_input(_("Kernel"), 1, 11, value=kernel,
                                      key=f"zoo_kernel_{key}_{layer}", where=s3)
        stride = widgets.number_input(_("Stride"), 1, 4, value=stride,
                                      key=f"zoo_stride_{key}_{layer}", where=s4)

args = (key, variant, batchnorm, size, layer, int(kernel), int(stride), i18n.language())
try:
    with st.spinner(_("Running a dummy image through the network…")):
        model, table = inspect(*args)
except (ValueError, RuntimeError) as err:
    st.error(_("That change cannot be applied: {error}").format(error=err))
    st.stop()

for problem in table.problems:
    st.warning(problem, icon=":material/warning:")

m1, m2, m3, m4, m5 = st.columns(5)
m1.metric(_("Parameters"), f"{table.total_params:,}")
m2.metric(_("Trainable"), f"{table.trainable_params:,}")
m3.metric(_("Multiply-adds / image"), f"{table.total_macs:,}" if table.ok else "—",
          help=_("Counted by torch.utils.flop_counter.FlopCounterMode (FLOPs ÷ 2)."))
m4.metric(_("Weights at fp32"), f"{table.weight_mb:,.1f} MB", help=_("parameters × 4 bytes"))
m5.metric(_("Output"), "×".join(map(str, table.output_shape)) if table.ok else _("none"))


# --- the course's facts, next to the model they belong to -----------------------------------
def fact_text(name: str) -> str:
    f = facts()[name]
    if name == "mlp":
        return _("The course's MLP {widths} has **{mlp:,}** parameters (**{mb:.1f} MB** at fp32; "
                 "the slide rounds to “390K”), against **{lenet:,}** for LeNet-5 on the same "
                 "28×28 digits.").format(widths=list(f.widths), mlp=f.mlp_params, mb=f.mlp_mb,
                                         lenet=f.lenet_params)
    if name == "vgg":
        return _("One 7×7 conv on C = {c} channels needs 49C² = **{big:,}** weights; three "
                 "stacked 3×3 convs see the same {rf}×{rf} window with 27C² = **{stacked:,}** "
                 "(and two more ReLUs).").format(c=f.channels, big=f.big_kernel_params,
                                                 rf=f.receptive_field, stacked=f.stacked_params)
    if name == "bottleneck":
        return _("On {c} channels a direct 3×3 conv costs **{direct:,}** multiply-adds per "
                 "position; the bottleneck 1×1 ({c}→{reduced}), 3×3, 1×1 (→{c}) costs "
                 "**{bottleneck:,}**.").format(c=f.channels, direct=f.direct_macs,
                                               reduced=f.reduced, bottleneck=f.bottleneck_macs)
    if name == "1x1":
        return _("A 1×1 conv is a Linear applied to every pixel: on a {cin}×{h}×{w} input, "
                 "`Conv2d({cin}, {cout}, 1)` and `Linear({cin}, {cout})` with the same weights "
                 "differ by at most **{diff:.1e}**.").format(
            cin=f.in_channels, h=f.height, w=f.width, cout=f.out_channels,
            diff=f.max_difference)
    vgg19, resnet101 = f
    return _("Depth is not size: VGG-19 has **{vgg:,}** parameters, ResNet-101 only "
             "**{resnet:,}** (torchvision builders, no weights downloaded).").format(
        vgg=vgg19, resnet=resnet101)


FAMILY_FACTS = {"mlp": ["mlp"], "lenet": ["mlp"], "vgg": ["vgg", "deep"], "nin": ["1x1"],
                "googlenet": ["1x1"], "resnet": ["bottleneck", "deep"], "densenet": ["1x1"],
                "alexnet": []}
for name in FAMILY_FACTS.get(spec.family, []):
    st.success(fact_text(name), icon=":material/calculate:")

# --- tabs -----------------------------------------------------------------------------------
tab_table, tab_graph, tab_module, tab_save, tab_facts = st.tabs(
    [_("Layer table"), _("Block diagram"), "nn.Module", _("Save & load"),
     _("All the course's numbers")],
    # ?tab=module: the Home page's roadmap opens the nn.Module lesson directly
    default="nn.Module" if st.query_params.get("tab") == "module" else None,
)

records, dot = table_view(args, _(spec.title))
COLUMNS = {"layer": N_("layer"), "type": N_("type"), "stage": N_("stage"),
           "output shape": N_("output shape"), "parameters": N_("parameters"),
           "trainable": N_("trainable"), "multiply-adds": N_("multiply-adds"), "note": N_("note")}
with tab_table, widgets.section("layer table"):
    st.caption(_("{n} layers (leaf modules) in the order the forward pass met them, for a "
                 "1×{shape} input.").format(n=len(table.rows),
                                            shape="×".join(map(str, table.input_shape))))
    st.dataframe(
        [{_(COLUMNS.get(k, k)): v for k, v in r.items()} for r in records], hide_index=True,
        width="stretch", height=420,
        column_config={
            _("parameters"): st.column_config.NumberColumn(format="localized"),
            _("multiply-adds"): st.column_config.NumberColumn(format="localized"),
            _("trainable"): st.column_config.CheckboxColumn(),
        },
    )

with tab_graph, widgets.section("block diagram"):
    st.caption(_("One box per stage; the edges carry the output shape (channels × height × "
                 "width) of the stage they leave. A red box is where the image ran out."))
    st.graphviz_chart(dot, width="stretch")


def tree_lines(node: module_lesson.TreeNode, depth: int = 0) -> list[str]:
    line = f"{'    ' * depth}{node.name}: {node.type}  " + _("({n:,} params)").format(n=node.params)
    return [line, *(x for child in node.children for x in tree_lines(child, depth + 1))]


@st.fragment
@widgets.guarded("train and eval")
def train_and_eval(lesson: Lesson) -> None:
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


with tab_module, widgets.section("nn.Module"):
    lesson = lesson_facts(args)
    st.markdown(_("`list(model.children())` has **{children}** modules, the direct "
                  "sub-modules; `list(model.modules())` has **{modules}**: the model itself and "
                  "every descendant. Open a child to see its own tree.").format(
        children=lesson.children, modules=lesson.modules))
    for child in lesson.tree.children:
        with st.expander(_("{name} · {type} · {n:,} parameters").format(
                name=child.name, type=child.type, n=child.params)):
            st.code("\n".join(tree_lines(child)), language=None)

    st.markdown(_("**`named_parameters()`**: every learnable tensor with its name."))
    st.dataframe(lesson.parameters, hide_index=True, width="stretch", height=260)

    train_and_eval(lesson)

    st.markdown("**`to(device)`**")
    device = devices.pick_device()
    if table.weight_mb <= MOVE_DEMO_MB and not layer:
        before, after = moved_devices(key, variant, batchnorm, str(device))
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


@st.fragment
@widgets.guarded("load an upload")
def load_an_upload(key: str, variant: str, batchnorm: bool) -> None:
    """The upload half of the save & load lesson (reruns alone when a file arrives)."""
    upload = st.file_uploader(_("Upload a state_dict (.pt) to load into this model"),
                              type=["pt", "pth"], key="zoo_state_upload")
    if upload is None:
        return
    try:
        state = state_dicts.read_state_dict(upload.getvalue())
        fresh = state_dicts.load_checked(
            zoo.build_model(key, variant=variant, batchnorm=batchnorm), state
        )
    except state_dicts.StateDictError as err:
        st.error(str(err))
        return
    real = real_model(key, variant, batchnorm)
    diff = state_dicts.max_output_difference(real, fresh, zoo.VARIANTS[variant].input_shape)
    verdict = (_("Loaded {n} tensors from “{file}” with `load_state_dict(strict=True)`. On a "
                 "fixed random input its outputs are identical to the model above: the round "
                 "trip restored every weight (max |Δ| = {diff:.3g}).") if diff == 0 else
               _("Loaded {n} tensors from “{file}” with `load_state_dict(strict=True)`. On a "
                 "fixed random input its outputs are different from the model above: same "
                 "architecture, other weights (max |Δ| = {diff:.3g})."))
    st.success(verdict.format(n=len(state), file=upload.name, diff=diff))


with tab_save, widgets.section("save and load"):
    if table.weight_mb > REAL_WEIGHTS_MB:
        st.info(_("{name} weighs {mb:,.0f} MB at fp32: too much to send through a browser "
                  "lesson. Pick a small configuration (or a network under {limit:.0f} MB) to "
                  "save and load its state_dict.").format(name=_(spec.title), mb=table.weight_mb,
                                                          limit=REAL_WEIGHTS_MB))
    elif layer:
        st.info(_("Save & load works on the network as built: set the key layer back to "
                  "“none (as built)”."))
    else:
        st.markdown(_(
            "`torch.save(model.state_dict(), path)` stores only tensors, by name. Download this "
            "model's state_dict (seeded random weights), then upload it back: it is read with "
            "`torch.load(..., weights_only=True)`, which refuses any file that would run code, "
            "and loaded with a strict key check."
        ))
        st.download_button(
            _("Download state_dict (.pt)"),
            data=lambda: state_dicts.state_dict_bytes(real_model(key, variant, batchnorm)),
            file_name=f"{key}-{variant}{'-bn' if batchnorm else ''}.pt",
            mime="application/octet-stream", on_click="ignore",
            icon=":material/download:",
        )
        load_an_upload(key, variant, batchnorm)

with tab_facts, widgets.section("the course's numbers"):
    for name in ("mlp", "vgg", "1x1", "bottleneck", "deep"):
        st.markdown(f"- {fact_text(name)}")
