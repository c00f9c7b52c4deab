"""Home: what the app teaches, one card per lesson, the compute device and a first experiment."""

import streamlit as st
import torch

from explorer.ui import navigation, widgets

widgets.page_header(
    "CNN Explorer",
    "Learn how convolutional networks work by changing them and watching what PyTorch "
    "computes. Every number on every page comes from real `torch` code running now, on "
    "the photo you choose, with the settings you set.",
)

photo = widgets.image_input()
st.info(
    f"Your photo: **{photo.name}** (sidebar). Pick a sample or upload your own there; the "
    "kernel, pooling and feature-map lessons all work on it.",
    icon=":material/photo:",
)

st.subheader("Lessons")
with widgets.section("lesson cards"):
    lessons = navigation.available_pages()
    for row in range(0, len(lessons), 3):
        for column, spec in zip(st.columns(3), lessons[row : row + 3], strict=False):
            with column.container(border=True):
                st.page_link(spec.path.as_posix(), label=spec.title, icon=spec.icon)
                st.caption(spec.summary)

st.subheader("Try it: one convolution, computed now")
st.markdown(
    "Slide the settings and PyTorch runs a real `nn.Conv2d` on a zero image of that size. "
    "The address bar follows the sliders: copy it to share exactly this view."
)
with widgets.section("one convolution"):
    widgets.url_state("size", 28, bounds=(1, 64))
    widgets.url_state("kernel", 3, bounds=(1, 7))
    widgets.url_state("stride", 1, bounds=(1, 4))
    widgets.url_state("padding", 0, bounds=(0, 3))
    c1, c2, c3, c4 = st.columns(4)
    size = c1.slider("Input height and width", 1, 64, key="size")
    kernel = c2.slider("Kernel size", 1, 7, key="kernel")
    stride = c3.slider("Stride", 1, 4, key="stride")
    padding = c4.slider("Padding", 0, 3, key="padding")
    widgets.sync_url("size", "kernel", "stride", "padding")

    layer = torch.nn.Conv2d(1, 1, kernel_size=kernel, stride=stride, padding=padding)
    if size + 2 * padding < kernel:
        st.warning(
            f"A {kernel}×{kernel} kernel does not fit in a {size}×{size} input padded by "
            f"{padding}: PyTorch would refuse it. Make the input or the padding larger."
        )
    else:
        with torch.no_grad():
            out = layer(torch.zeros(1, 1, size, size))
        st.code(
            f"nn.Conv2d(1, 1, kernel_size={kernel}, stride={stride}, padding={padding})\n"
            f"input  {list((1, 1, size, size))}\noutput {list(out.shape)}",
            language="python",
        )

st.subheader("This machine")
with widgets.section("this machine"):
    info = widgets.device_info()
    c1, c2 = st.columns(2)
    c1.metric("Training device", info.name,
              help="Chosen automatically: CUDA, else MPS, else CPU.")
    c1.caption(info.detail)
    c2.markdown(" · ".join(f"**{name}** {version}"
                           for name, version in widgets.versions().items()))
