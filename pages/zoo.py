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

from explorer import devices
from explorer.figures import diagram
from explorer.models import course_facts, layer_stack, layer_table, module_lesson, state_dicts, zoo
from explorer.models.modules import shape_text
from explorer.training import datasets
from explorer.ui import predict_panel, pretrained, widgets

widgets.page_header(
    "Model zoo",
    "LeNet-5 to DenseNet as real `nn.Module`s. Pick a network and an input configuration: "
    "PyTorch runs a dummy image through it and every shape, parameter count and "
    "multiply-add below comes from that forward pass. Change the input size or a key "
    "layer and watch the numbers follow, or break.",
)

VARIANT_LABELS = {
    name: f"{name} · {v.in_channels}×{v.height}×{v.width} · {v.num_classes} classes"
    for name, v in zoo.VARIANTS.items()
}
REAL_WEIGHTS_MB = 60.0  # above this, the save/load lesson would ship hundreds of MB
MOVE_DEMO_MB = 5.0  # real weights for the to(device) demo only where they are instant to build


TTL = 3600  # seconds; every cache is also bounded by max_entries

predict_panel.panel("zoo", what="the layer table's count")


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
        st.session_state["zoo_stack_note"] = (f"A stack holds at most "
                                              f"{layer_stack.MAX_LAYERS} layers.")
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
        st.session_state["zoo_stack_note"] = f"The stack in the address bar was not read: {err}"
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
        cols[1].caption("no arguments")
    if row is None:
        cols[2].caption("not reached")
    elif row.error:
        cols[2].markdown(":red[**breaks here**]")
    else:
        cols[2].markdown(f"→ `{shape_text(row.output_shape)}` · {row.params:,} params · "
                         f"{row.macs:,} MACs")
    cols[3].button("", icon=":material/arrow_upward:", key=f"zoo_stack_up_{uid}",
                   on_click=_move, args=(index, -1), disabled=index == 0, help="Move up")
    cols[4].button("", icon=":material/arrow_downward:", key=f"zoo_stack_down_{uid}",
                   on_click=_move, args=(index, 1), disabled=index == count - 1,
                   help="Move down")
    cols[5].button("", icon=":material/close:", key=f"zoo_stack_del_{uid}", on_click=_remove,
                   args=(index,), help="Remove this layer")
    if row is not None and row.error:
        st.error(f"`{layer_stack.layer_code(layer)}` gets a {shape_text(row.input_shape)} input "
                 f"and PyTorch refuses it:\n\n`{row.error_type}: {row.error}`\n\n"
                 f"**What to change:** {row.advice}", icon=":material/error:")


def _train_this(stack: layer_stack.Stack, shape: tuple[int, ...]) -> None:
    """Hand the stack to the Training page, if it fits the dataset it starts with."""
    data = TRAIN_DATA
    channels, height, width, classes = data.in_channels, data.height, data.width, data.num_classes
    try:
        layer_stack.check_trainable(stack, (channels, height, width), classes)
    except layer_stack.StackError as err:
        st.caption(f"To train it on mnist-mini ({channels}×{height}×{width} digits, {classes} "
                   f"classes): {err}")
        ready = False
    else:
        ready = True
    if st.button("Train this network", icon=":material/model_training:", disabled=not ready,
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
    st.markdown("Stack layers and give an input shape: each layer runs for real (on PyTorch's "
                "meta device) and shows its output shape, parameters and multiply-adds. Where "
                "a layer cannot take its input, you see PyTorch's own error and what to change.")
    s1, s2, s3 = st.columns(3)
    shape = tuple(int(widgets.number_input(label, 1, top, key=key, where=col))
                  for label, top, key, col in zip(("Input channels", "Input height",
                                                   "Input width"), (64, 512, 512),
                                                  STACK_SHAPE, (s1, s2, s3), strict=True))
    stack = _stack()
    result = layer_stack.propagate(stack, shape)
    rows = {r.index: r for r in result.rows}
    for i, (uid, layer) in enumerate(zip(st.session_state[STACK_IDS], stack, strict=True)):
        _layer_row(i, uid, layer, rows.get(i), len(stack))
    a1, a2 = st.columns([2, 1], vertical_alignment="bottom")
    a1.selectbox("Layer to add at the end", list(layer_stack.KINDS), key="zoo_stack_add")
    a2.button("Add layer", icon=":material/add:", key="zoo_stack_add_button", on_click=_add,
              args=(shape,))
    if note := st.session_state.pop("zoo_stack_note", None):
        st.warning(note)
    if (broken := result.broken) is not None:
        st.warning(f"The stack breaks at layer {broken.index + 1}: fix it there (see above), "
                   "and every shape after it follows.", icon=":material/build:")
    else:
        st.success(f"Output {shape_text(result.output_shape)} per image · {result.params:,} "
                   f"parameters · {result.macs:,} multiply-adds.", icon=":material/check_circle:")
    if "stack" in st.query_params or st.session_state[STACK] != layer_stack.LENET5 \
            or shape != (1, 28, 28):  # the address bar stays short until the stack is yours
        st.query_params["stack"] = st.session_state[STACK]
        st.query_params["stack_in"] = "x".join(map(str, shape))
    c1, c2 = st.columns(2)
    with c1:
        st.code("import torch.nn as nn\n\n" + layer_stack.to_code(stack), language="python")
        st.caption("The address bar holds this stack: copy the link to share it.")
    with c2:
        st.text_area("Paste nn.Sequential code to load it", key="zoo_stack_code", height=150,
                     placeholder="model = nn.Sequential(nn.Conv2d(1, 6, kernel_size=5), ...)")
        st.button("Load this code", key="zoo_stack_load", on_click=_from_code)
        st.button("Back to LeNet-5", key="zoo_stack_reset", on_click=_lenet)
    _train_this(stack, shape)


st.session_state.setdefault("zoo_stack_open", "stack" in st.query_params)
with st.expander("Build your own network", expanded=st.session_state["zoo_stack_open"],
                 icon=":material/construction:"):
    build_your_own()


@st.cache_resource(max_entries=48, ttl=TTL, show_spinner=False)
def meta_model(key: str, variant: str, batchnorm: bool) -> torch.nn.Module:
    """The network on PyTorch's meta device: every shape, no memory, instant to build."""
    with torch.device("meta"):
        return zoo.build_model(key, variant=variant, batchnorm=batchnorm)


@st.cache_resource(max_entries=96, ttl=TTL,
                   show_spinner="Running a dummy image through the network…")
def inspect(key: str, variant: str, batchnorm: bool, size: int, layer: str, kernel: int,
            stride: int) -> tuple[torch.nn.Module, layer_table.LayerTable]:
    model = meta_model(key, variant, batchnorm)
    if layer:
        model = layer_table.with_layer_changed(model, layer, kernel=kernel, stride=stride)
    channels = zoo.VARIANTS[variant].in_channels
    return model, layer_table.inspect_model(model, (channels, size, size))


@st.cache_data(max_entries=96, ttl=TTL, show_spinner=False)
def table_view(args: tuple, title: str) -> tuple[list[dict[str, object]], str]:
    """The layer table as records and the block diagram as DOT, once per inspection."""
    _, table = inspect(*args)
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
        st.success(f"Pretrained ImageNet weights (`{file.enum_name}`) are at `{file.path}`: "
                   "the Feature maps page shows what they learned.", icon=":material/check:")
        return
    w1, w2 = st.columns([1, 2])
    messages = st.container()  # progress and errors at full width, under the button
    w2.caption(f"torchvision publishes ImageNet weights for this network (`{file.enum_name}`); "
               f"they are not on this machine yet. By hand: {file.by_hand()}.")
    with w1:
        if pretrained.download_button(file, key="zoo_download", messages=messages):
            st.rerun()


# --- controls ------------------------------------------------------------------------------
widgets.url_state("zoo_model", "lenet5", choices=zoo.list_models())
widgets.url_state("zoo_variant", "mnist", choices=list(zoo.VARIANTS))
widgets.url_state("zoo_bn", False)
widgets.url_state("zoo_size", zoo.VARIANTS[st.session_state["zoo_variant"]].height, bounds=(4, 320))
c1, c2, c3 = st.columns([2, 3, 1])
key = c1.selectbox("Network", zoo.list_models(), key="zoo_model", on_change=reset_size,
                   format_func=lambda k: zoo.get_spec(k).title)
variant = c2.radio("Configuration", list(zoo.VARIANTS), key="zoo_variant", horizontal=True,
                   format_func=VARIANT_LABELS.get, on_change=reset_size)
spec = zoo.get_spec(key)
config = zoo.VARIANTS[variant]
batchnorm = c3.toggle("BatchNorm", key="zoo_bn", disabled=not spec.supports_batchnorm,
                      help="Adds BatchNorm after every conv and hidden Linear. ResNet, "
                      "GoogLeNet and DenseNet always have it; AlexNet predates it.")
batchnorm = batchnorm and spec.supports_batchnorm
widgets.sync_url("zoo_model", "zoo_variant", "zoo_bn", "zoo_size")

st.markdown(f"**{spec.title}** · {spec.paper}")
if config.small:
    st.info(f"**What differs from the paper and why:** {spec.small_note}.",
            icon=":material/compare_arrows:")
elif spec.imagenet_from_torchvision:
    st.caption(f"torchvision's own architecture (`weights=None`): the parameter count below is "
               f"torchvision's. Built for {VARIANT_LABELS[variant]}.")
    pretrained_weights(key, batchnorm)
else:
    st.caption("torchvision has no such model: built from the paper's description for "
               f"{VARIANT_LABELS[variant]}.")

# --- shape propagation controls -------------------------------------------------------------
try:
    base = meta_model(key, variant, batchnorm)
except zoo.BuildError as err:
    st.error(str(err))
    st.stop()
key_layers = layer_table.key_layers(base)
with st.container(border=True):
    st.markdown(f"**Shape propagation.** The network was built for "
                f"{config.height}×{config.width} inputs; feed it another size, or change a "
                "key layer, and every shape, parameter and multiply-add downstream follows.")
    s1, s2, s3, s4 = st.columns([3, 2, 1, 1])
    size = s1.slider("Input height and width", 4, 320, key="zoo_size")
    if st.session_state.get("zoo_layer") not in ["", *key_layers]:
        st.session_state["zoo_layer"] = ""
    layer = s2.selectbox("Key layer to change", ["", *key_layers], key="zoo_layer",
                         format_func=lambda n: n or "none (as built)")
    kernel, stride = layer_table.kernel_and_stride(base.get_submodule(layer)) if layer else (3, 1)
    if layer:
        kernel = widgets.number_input("Kernel", 1, 11, value=kernel,
                                      key=f"zoo_kernel_{key}_{layer}", where=s3)
        stride = widgets.number_input("Stride", 1, 4, value=stride,
                                      key=f"zoo_stride_{key}_{layer}", where=s4)

args = (key, variant, batchnorm, size, layer, int(kernel), int(stride))
try:
    model, table = inspect(*args)
except (ValueError, RuntimeError) as err:
    st.error(f"That change cannot be applied: {err}")
    st.stop()

for problem in table.problems:
    st.warning(problem, icon=":material/warning:")

m1, m2, m3, m4, m5 = st.columns(5)
m1.metric("Parameters", f"{table.total_params:,}")
m2.metric("Trainable", f"{table.trainable_params:,}")
m3.metric("Multiply-adds / image", f"{table.total_macs:,}" if table.ok else "—",
          help="Counted by torch.utils.flop_counter.FlopCounterMode (FLOPs ÷ 2).")
m4.metric("Weights at fp32", f"{table.weight_mb:,.1f} MB", help="parameters × 4 bytes")
m5.metric("Output", "×".join(map(str, table.output_shape)) if table.ok else "none")


# --- the course's facts, next to the model they belong to -----------------------------------
def fact_text(name: str) -> str:
    f = facts()[name]
    if name == "mlp":
        return (f"The course's MLP {list(f.widths)} has **{f.mlp_params:,}** parameters "
                f"(**{f.mlp_mb:.1f} MB** at fp32; the slide rounds to “390K”), against "
                f"**{f.lenet_params:,}** for LeNet-5 on the same 28×28 digits.")
    if name == "vgg":
        c = f.channels
        return (f"One 7×7 conv on C = {c} channels needs 49C² = **{f.big_kernel_params:,}** "
                f"weights; three stacked 3×3 convs see the same {f.receptive_field}×"
                f"{f.receptive_field} window with 27C² = **{f.stacked_params:,}** "
                "(and two more ReLUs).")
    if name == "bottleneck":
        return (f"On {f.channels} channels a direct 3×3 conv costs **{f.direct_macs:,}** "
                f"multiply-adds per position; the bottleneck 1×1 ({f.channels}→{f.reduced}), "
                f"3×3, 1×1 (→{f.channels}) costs **{f.bottleneck_macs:,}**.")
    if name == "1x1":
        return (f"A 1×1 conv is a Linear applied to every pixel: on a {f.in_channels}×"
                f"{f.height}×{f.width} input, `Conv2d({f.in_channels}, {f.out_channels}, 1)` "
                f"and `Linear({f.in_channels}, {f.out_channels})` with the same weights differ "
                f"by at most **{f.max_difference:.1e}**.")
    vgg19, resnet101 = f
    return (f"Depth is not size: VGG-19 has **{vgg19:,}** parameters, ResNet-101 only "
            f"**{resnet101:,}** (torchvision builders, no weights downloaded).")


FAMILY_FACTS = {"mlp": ["mlp"], "lenet": ["mlp"], "vgg": ["vgg", "deep"], "nin": ["1x1"],
                "googlenet": ["1x1"], "resnet": ["bottleneck", "deep"], "densenet": ["1x1"],
                "alexnet": []}
for name in FAMILY_FACTS.get(spec.family, []):
    st.success(fact_text(name), icon=":material/calculate:")

# --- tabs -----------------------------------------------------------------------------------
tab_table, tab_graph, tab_module, tab_save, tab_facts = st.tabs(
    ["Layer table", "Block diagram", "nn.Module", "Save & load", "All the course's numbers"],
    # ?tab=module: the Home page's roadmap opens the nn.Module lesson directly
    default="nn.Module" if st.query_params.get("tab") == "module" else None,
)

records, dot = table_view(args, spec.title)
with tab_table, widgets.section("layer table"):
    st.caption(f"{len(table.rows)} layers (leaf modules) in the order the forward pass "
               f"met them, for a 1×{'×'.join(map(str, table.input_shape))} input.")
    st.dataframe(
        records, hide_index=True, width="stretch", height=420,
        column_config={
            "parameters": st.column_config.NumberColumn(format="localized"),
            "multiply-adds": st.column_config.NumberColumn(format="localized"),
            "trainable": st.column_config.CheckboxColumn(),
        },
    )

with tab_graph, widgets.section("block diagram"):
    st.caption("One box per stage; the edges carry the output shape (channels × height × "
               "width) of the stage they leave. A red box is where the image ran out.")
    st.graphviz_chart(dot, width="stretch")


def tree_lines(node: module_lesson.TreeNode, depth: int = 0) -> list[str]:
    line = f"{'    ' * depth}{node.name}: {node.type}  ({node.params:,} params)"
    return [line, *(x for child in node.children for x in tree_lines(child, depth + 1))]


@st.fragment
@widgets.guarded("train and eval")
def train_and_eval(lesson: Lesson) -> None:
    st.markdown("**`train()` / `eval()`**")
    mode = st.radio("Mode", ["model.train()", "model.eval()"], key="zoo_mode", horizontal=True)
    training, n_training, n_all = lesson.flags[mode == "model.train()"]
    sensitive = lesson.sensitive
    st.markdown(
        f"`model.training = {training}`; {n_training} of {n_all} modules are in training mode. "
        + (f"The {len(sensitive)} layers that behave differently: "
           + ", ".join(f"`{n}`" for n in sensitive[:8]) + ("…" if len(sensitive) > 8 else "")
           + " (Dropout zeroes activations only in training; BatchNorm uses batch statistics "
           "in training and its running averages in eval)."
           if sensitive else "No Dropout or BatchNorm here, so both modes compute the same.")
    )


with tab_module, widgets.section("nn.Module"):
    lesson = lesson_facts(args)
    st.markdown(f"`list(model.children())` has **{lesson.children}** modules, the direct "
                f"sub-modules; `list(model.modules())` has **{lesson.modules}**: the model "
                "itself and every descendant. Open a child to see its own tree.")
    for child in lesson.tree.children:
        with st.expander(f"{child.name} · {child.type} · {child.params:,} parameters"):
            st.code("\n".join(tree_lines(child)), language=None)

    st.markdown("**`named_parameters()`**: every learnable tensor with its name.")
    st.dataframe(lesson.parameters, hide_index=True, width="stretch", height=260)

    train_and_eval(lesson)

    st.markdown("**`to(device)`**")
    device = devices.pick_device()
    if table.weight_mb <= MOVE_DEMO_MB and not layer:
        before, after = moved_devices(key, variant, batchnorm, str(device))
        st.markdown(f"Before: tensors per device {before}. After "
                    f"`model.to({str(device)!r})`: {after}. Every "
                    "parameter and buffer moves; the input batch must follow with "
                    "`x.to(device)`.")
    else:
        st.markdown(f"This table's copy lives on PyTorch's **meta** device "
                    f"({lesson.devices}): shapes without memory, which is "
                    f"how the page tabulates big networks instantly. A real "
                    f"`model.to({str(device)!r})` would move {table.weight_mb:,.0f} MB.")

    with st.expander("`print(model)`"):
        st.code(lesson.printed, language=None)


@st.fragment
@widgets.guarded("load an upload")
def load_an_upload(key: str, variant: str, batchnorm: bool) -> None:
    """The upload half of the save & load lesson (reruns alone when a file arrives)."""
    upload = st.file_uploader("Upload a state_dict (.pt) to load into this model",
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
    verdict = ("identical to the model above: the round trip restored every weight"
               if diff == 0 else
               "different from the model above: same architecture, other weights")
    st.success(f"Loaded {len(state)} tensors from “{upload.name}” with "
               f"`load_state_dict(strict=True)`. On a fixed random input its "
               f"outputs are {verdict} (max |Δ| = {diff:.3g}).")


with tab_save, widgets.section("save and load"):
    if table.weight_mb > REAL_WEIGHTS_MB:
        st.info(f"{spec.title} weighs {table.weight_mb:,.0f} MB at fp32: too much to send "
                f"through a browser lesson. Pick a small configuration (or a network under "
                f"{REAL_WEIGHTS_MB:.0f} MB) to save and load its state_dict.")
    elif layer:
        st.info("Save & load works on the network as built: set the key layer back to "
                "“none (as built)”.")
    else:
        st.markdown(
            "`torch.save(model.state_dict(), path)` stores only tensors, by name. Download this "
            "model's state_dict (seeded random weights), then upload it back: it is read with "
            "`torch.load(..., weights_only=True)`, which refuses any file that would run code, "
            "and loaded with a strict key check."
        )
        st.download_button(
            "Download state_dict (.pt)",
            data=lambda: state_dicts.state_dict_bytes(real_model(key, variant, batchnorm)),
            file_name=f"{key}-{variant}{'-bn' if batchnorm else ''}.pt",
            mime="application/octet-stream", on_click="ignore",
            icon=":material/download:",
        )
        load_an_upload(key, variant, batchnorm)

with tab_facts, widgets.section("the course's numbers"):
    for name in ("mlp", "vgg", "1x1", "bottleneck", "deep"):
        st.markdown(f"- {fact_text(name)}")
