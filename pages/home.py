"""Home: what the app teaches, the course's path through it, the compute device, a first try."""

import streamlit as st
import torch

from explorer import REPO_ROOT, lesson_plan
from explorer.i18n import _
from explorer.ui import navigation, widgets

widgets.page_header(
    "CNN Explorer",
    _("Learn how convolutional networks work by changing them and watching what PyTorch "
      "computes. Every number on every page comes from real `torch` code running now, on "
      "the photo you choose, with the settings you set."),
)

photo = widgets.image_input()
st.info(
    _("Your photo: **{name}** (sidebar). Pick a sample or upload your own there; the kernel, "
      "pooling and feature-map lessons all work on it.").format(name=photo.name),
    icon=":material/photo:",
)

st.subheader(_("Lesson roadmap: the course, chapter by chapter"), anchor="roadmap")
with widgets.section("lesson roadmap"):
    titles = {p.key: _(p.title) for p in lesson_plan.PATHS}  # translated now, in this thread
    widgets.url_state("path", "full", choices=list(titles))
    chosen = lesson_plan.lesson_path(st.radio(_("Lesson path"), list(titles), key="path",
                                              horizontal=True, format_func=titles.get))
    widgets.sync_url("path")
    st.markdown(
        _("Follow the course's chapters in order. Each stop opens the page (or the section) "
          "that teaches the chapter and says what to do there; the minutes are a suggestion, "
          "**{total} minutes** in all.").format(total=chosen.minutes)
    )
    for number, (stop, stop_minutes) in enumerate(chosen.stops, start=1):
        with st.container(border=True):
            link, task, minutes = st.columns([2, 6, 1], vertical_alignment="center")
            label = _("{number}. {chapter}").format(number=number, chapter=_(stop.chapter))
            link.page_link((REPO_ROOT / stop.script).as_posix(), label=label,
                           query_params=stop.query or None)
            task.markdown(_(stop.task))
            minutes.markdown(_("≈ {minutes} min").format(minutes=stop_minutes))
    kept = {stop.chapter for stop, _minutes in chosen.stops}
    if left_out := [_(s.chapter) for s in lesson_plan.ROADMAP if s.chapter not in kept]:
        st.caption(_("Left for homework in this lesson: {chapters}.").format(
            chapters=_(", ").join(left_out)))

st.subheader(_("Lessons"))
with widgets.section("lesson cards"):
    lessons = navigation.available_pages()
    for row in range(0, len(lessons), 3):
        for column, spec in zip(st.columns(3), lessons[row : row + 3], strict=False):
            with column.container(border=True):
                st.page_link(spec.path.as_posix(), label=_(spec.title), icon=spec.icon)
                st.caption(_(spec.summary))

st.subheader(_("Try it: one convolution, computed now"))
st.markdown(
    _("Slide the settings and PyTorch runs a real `nn.Conv2d` on a zero image of that size. "
      "The address bar follows the sliders: copy it to share exactly this view.")
)
with widgets.section("one convolution"):
    widgets.url_state("size", 28, bounds=(1, 64))
    widgets.url_state("kernel", 3, bounds=(1, 7))
    widgets.url_state("stride", 1, bounds=(1, 4))
    widgets.url_state("padding", 0, bounds=(0, 3))
    c1, c2, c3, c4 = st.columns(4)
    size = c1.slider(_("Input height and width"), 1, 64, key="size")
    kernel = c2.slider(_("Kernel size"), 1, 7, key="kernel")
    stride = c3.slider(_("Stride"), 1, 4, key="stride")
    padding = c4.slider(_("Padding"), 0, 3, key="padding")
    widgets.sync_url("size", "kernel", "stride", "padding")

    layer = torch.nn.Conv2d(1, 1, kernel_size=kernel, stride=stride, padding=padding)
    if size + 2 * padding < kernel:
        st.warning(
            _("A {k}×{k} kernel does not fit in a {n}×{n} input padded by {p}: PyTorch would "
              "refuse it. Make the input or the padding larger.").format(
                k=kernel, n=size, p=padding)
        )
    else:
        with torch.no_grad():
            out = layer(torch.zeros(1, 1, size, size))
        st.code(
            f"nn.Conv2d(1, 1, kernel_size={kernel}, stride={stride}, padding={padding})\n"
            f"input  {list((1, 1, size, size))}\noutput {list(out.shape)}",
            language="python", wrap_lines=True,  # a phone scrolls no box sideways
        )

st.subheader(_("This machine"))
with widgets.section("this machine"):
    info = widgets.device_info()
    c1, c2 = st.columns(2)
    c1.metric(_("Training device"), info.name,
              help=_("Chosen automatically: CUDA, else MPS, else CPU."))
    c1.caption(info.detail)
    c2.markdown(" · ".join(f"**{name}** {version}"
                           for name, version in widgets.versions().items()))
