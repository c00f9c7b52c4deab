"""Model zoo: the classic CNNs as nn.Modules: layer table, shapes, parameters, FLOPs, save/load.

The networks and what is read off them come from `explorer.ui.zoo_networks`; the layer builder,
the train()/eval() switch and the state_dict upload are fragments that rerun alone."""

from __future__ import annotations

import streamlit as st

from explorer import i18n
from explorer.i18n import _
from explorer.models import comparison, course_facts, layer_table, state_dicts, zoo
from explorer.ui import (
    layer_builder,
    module_lesson_view,
    predict_panel,
    pretrained,
    residual_view,
    widgets,
    zoo_compare,
)
from explorer.ui import zoo_networks as networks

REAL_WEIGHTS_MB = 60.0  # above this, the save/load lesson would ship hundreds of MB


def reset_size() -> None:
    if (variant := zoo.VARIANTS.get(st.session_state["zoo_variant"])) is None:
        return  # a forged value: url_state puts the default back before the radio is drawn
    st.session_state["zoo_size"] = variant.height
    st.session_state["zoo_layer"] = ""


def choose_network() -> networks.Network:
    """Network, configuration and BatchNorm (all in the address bar)."""
    widgets.url_state("zoo_model", "lenet5", choices=zoo.list_models())
    widgets.url_state("zoo_variant", "mnist", choices=list(zoo.VARIANTS))
    widgets.url_state("zoo_bn", False)
    widgets.url_state("zoo_size", zoo.VARIANTS[st.session_state["zoo_variant"]].height,
                      bounds=(4, 320))
    c1, c2, c3 = st.columns([2, 3, 1])
    key = c1.selectbox(_("Network"), zoo.list_models(), key="zoo_model", on_change=reset_size,
                       format_func=lambda k: _(zoo.get_spec(k).title))
    labels = {v: zoo.VARIANTS[v].label + zoo_compare.course_mark(key, v) for v in zoo.VARIANTS}
    variant = c2.radio(_("Configuration"), list(zoo.VARIANTS), key="zoo_variant",
                       horizontal=True, on_change=reset_size, format_func=labels.get)
    spec = zoo.get_spec(key)
    batchnorm = c3.toggle("BatchNorm", key="zoo_bn", disabled=not spec.supports_batchnorm,
                          help=_("Adds BatchNorm after every conv and hidden Linear. ResNet, "
                                 "GoogLeNet and DenseNet always have it; AlexNet predates it."))
    widgets.sync_url("zoo_model", "zoo_variant", "zoo_bn", "zoo_size")
    return networks.Network(key, variant, batchnorm and spec.supports_batchnorm)


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


def about(net: networks.Network) -> None:
    """The paper, and how this configuration differs from it or where it comes from."""
    spec, config = zoo.get_spec(net.key), zoo.VARIANTS[net.variant]
    st.markdown(f"**{_(spec.title)}** · {_(spec.paper)}")
    if config.small:
        course = zoo.VARIANTS[comparison.course_variant(net.key)]
        st.info(_("**What differs from the paper and why:** {note}.").format(
            note=_(spec.small_note)) + ("" if course.small else " " + _(
                "The course's {name} is the {config} configuration.").format(
                name=_(spec.title), config=course.label)), icon=":material/compare_arrows:")
    elif spec.imagenet_from_torchvision:
        st.caption(_("torchvision's own architecture (`weights=None`): the parameter count below "
                     "is torchvision's. Built for {config}.").format(
            config=zoo.VARIANTS[net.variant].label))
        pretrained_weights(net.key, net.batchnorm)
    else:
        st.caption(_("torchvision has no such model: built from the paper's description for "
                     "{config}.").format(config=zoo.VARIANTS[net.variant].label))


def shape_propagation(net: networks.Network) -> tuple[networks.Network, int]:
    """Input size and a key layer to change; returns the network to inspect and the size."""
    try:
        base = networks.meta_network(net)
    except zoo.BuildError as err:
        st.error(str(err))
        st.stop()
    key_layers = layer_table.key_layers(base)
    config = zoo.VARIANTS[net.variant]
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
        if not layer:
            return net, size
        kernel, stride = layer_table.kernel_and_stride(base.get_submodule(layer))
        kernel = widgets.number_input(_("Kernel"), 1, 11, value=kernel,
                                      key=f"zoo_kernel_{net.key}_{layer}", where=s3)
        stride = widgets.number_input(_("Stride"), 1, 4, value=stride,
                                      key=f"zoo_stride_{net.key}_{layer}", where=s4)
    return networks.Network(net.key, net.variant, net.batchnorm, layer, int(kernel),
                            int(stride)), size


def inspect(net: networks.Network, size: int) -> layer_table.LayerTable:
    """The layer table, its problems, and its totals as metrics."""
    try:
        with st.spinner(_("Running a dummy image through the network…")):
            table = networks.table(net, size, i18n.language())
    except (ValueError, RuntimeError) as err:
        st.error(_("That change cannot be applied: {error}").format(error=err))
        st.stop()
    for problem in table.problems:
        st.warning(problem, icon=":material/warning:")
    m1, m2, m3 = st.columns(3)  # three to a row: 15,470,264,320 fits whole
    m1.metric(_("Parameters"), f"{table.total_params:,}")
    m2.metric(_("Multiply-adds / image"), f"{table.total_macs:,}" if table.ok else "—",
              help=_("Counted by torch.utils.flop_counter.FlopCounterMode (FLOPs ÷ 2)."))
    m3.metric(_("Weights at fp32"), f"{table.weight_mb:,.1f} MB", help=_("parameters × 4 bytes"))
    m4, m5, m6 = st.columns(3)
    m4.metric(_("Trainable"), f"{table.trainable_params:,}")
    m5.metric(_("Output"), "×".join(map(str, table.output_shape)) if table.ok else _("none"))
    m6.metric(_("Depth (weighted layers)"), comparison.depth(table),
              help=_("Convs and Linears on the main path, as papers count them."))
    return table


def layer_table_tab(table: layer_table.LayerTable, records: list[dict[str, object]]) -> None:
    st.caption(_("{n} layers (leaf modules) in the order the forward pass met them, for a "
                 "1×{shape} input.").format(n=len(table.rows),
                                            shape="×".join(map(str, table.input_shape))))
    st.dataframe(
        [{_(layer_table.RECORD_COLUMNS.get(k, k)): v for k, v in r.items()} for r in records],
        hide_index=True, width="stretch", height=min(38 + 35 * len(records), 600),
        column_config={
            _("parameters"): st.column_config.NumberColumn(format="localized"),
            _("multiply-adds"): st.column_config.NumberColumn(format="localized"),
            _("trainable"): st.column_config.CheckboxColumn(),
        },
    )


def block_diagram_tab(dot: str, table: layer_table.LayerTable, net: networks.Network) -> None:
    st.caption(_("One box per stage; the edges carry the output shape (channels × height × "
                 "width) of the stage they leave. A red box is where the image ran out."))
    if table.blocks:
        st.markdown(_("**{n} residual blocks.** In each, the main path (solid) and the shortcut "
                      "(dashed) take the same tensor x and meet at **+**, where F(x) + x is "
                      "added: the shortcut is the identity mapping where shapes match, and a "
                      "projection ({k} here) where the block changes the channels or halves the "
                      "size.").format(n=len(table.blocks),
                                      k=sum(not b.identity for b in table.blocks)))
    st.graphviz_chart(dot, width="content")
    if table.blocks:
        residual_view.section(net, photo, table)


@st.fragment
@widgets.guarded("load an upload")
def load_an_upload(net: networks.Network) -> None:
    """The upload half of the save & load lesson (reruns alone when a file arrives)."""
    upload = widgets.uploader(_("Upload a state_dict (.pt) to load into this model"),
                              _("a state_dict saved by torch.save (.pt, .pth)"),
                              key="zoo_state_upload")
    if upload is None:
        return
    try:
        state = state_dicts.read_state_dict(upload.getvalue())
        fresh = state_dicts.load_checked(
            zoo.build_model(net.key, variant=net.variant, batchnorm=net.batchnorm), state)
    except state_dicts.StateDictError as err:
        st.error(str(err))
        return
    real = networks.seeded_network_shown(net.key, net.variant, net.batchnorm)
    diff = state_dicts.max_output_difference(real, fresh, zoo.VARIANTS[net.variant].input_shape)
    verdict = (_("Loaded {n} tensors from “{file}” with `load_state_dict(strict=True)`. On a "
                 "fixed random input its outputs are identical to the model above: the round "
                 "trip restored every weight (max |Δ| = {diff:.3g}).") if diff == 0 else
               _("Loaded {n} tensors from “{file}” with `load_state_dict(strict=True)`. On a "
                 "fixed random input its outputs are different from the model above: same "
                 "architecture, other weights (max |Δ| = {diff:.3g})."))
    st.success(verdict.format(n=len(state), file=upload.name, diff=diff))


def save_and_load_tab(net: networks.Network, table: layer_table.LayerTable) -> None:
    if table.weight_mb > REAL_WEIGHTS_MB:
        st.info(_("{name} weighs {mb:,.0f} MB at fp32: too much to send through a browser "
                  "lesson. Pick a small configuration (or a network under {limit:.0f} MB) to "
                  "save and load its state_dict.").format(name=_(zoo.get_spec(net.key).title),
                                                          mb=table.weight_mb,
                                                          limit=REAL_WEIGHTS_MB))
        return
    if net.layer:
        st.info(_("Save & load works on the network as built: set the key layer back to "
                  "“none (as built)”."))
        return
    st.markdown(_(
        "`torch.save(model.state_dict(), path)` stores only tensors, by name. Download this "
        "model's state_dict (seeded random weights), then upload it back: it is read with "
        "`torch.load(..., weights_only=True)`, which refuses any file that would run code, "
        "and loaded with a strict key check."
    ))
    st.download_button(
        _("Download state_dict (.pt)"),
        data=lambda: state_dicts.state_dict_bytes(
            networks.seeded_network(net.key, net.variant, net.batchnorm)),
        file_name=f"{net.key}-{net.variant}{'-bn' if net.batchnorm else ''}.pt",
        mime="application/octet-stream", on_click="ignore", icon=":material/download:",
    )
    load_an_upload(net)


def tabs(net: networks.Network, size: int, table: layer_table.LayerTable) -> None:
    tab_table, tab_graph, tab_module, tab_save, tab_facts, tab_compare = st.tabs(
        [_("Layer table"), _("Block diagram"), "nn.Module", _("Save & load"),
         _("All the course's numbers"), _("Compare networks")],
        # ?tab=module, ?tab=diagram: the Home page's roadmap opens that lesson directly
        default={"module": "nn.Module", "diagram": _("Block diagram")}.get(
            st.query_params.get("tab", "")),
    )
    records, dot = networks.table_view(net, size, i18n.language(),
                                       _(zoo.get_spec(net.key).title))
    with tab_table, widgets.section("layer table"):
        layer_table_tab(table, records)
    with tab_graph, widgets.section("block diagram"):
        block_diagram_tab(dot, table, net)
    with tab_module, widgets.section("nn.Module"):
        module_lesson_view.module_tab(net, table)
    with tab_save, widgets.section("save and load"):
        save_and_load_tab(net, table)
    with tab_facts, widgets.section("the course's numbers"):
        for fact in course_facts.Fact:
            st.markdown(f"- {course_facts.sentence(fact)}")
    with tab_compare:
        zoo_compare.section()


# --- the page ---------------------------------------------------------------------------------

widgets.page_header(
    _("Model zoo"),
    _("LeNet-5 to DenseNet as real `nn.Module`s. Pick a network and an input configuration: "
      "PyTorch runs a dummy image through it and every shape, parameter count and "
      "multiply-add below comes from that forward pass. Change the input size or a key "
      "layer and watch the numbers follow, or break."),
)
photo = widgets.image_input()  # the residual block's tensors are shown on it
predict_panel.panel("zoo", what=_("the layer table's count"))
layer_builder.section()
network = choose_network()
about(network)
network, input_size = shape_propagation(network)
inspected = inspect(network, input_size)
for next_to_it in course_facts.for_family(zoo.get_spec(network.key).family):
    st.success(course_facts.sentence(next_to_it), icon=":material/calculate:")
tabs(network, input_size, inspected)
