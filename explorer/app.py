"""Entrypoint: `streamlit run explorer/app.py`. Builds the navigation and runs the chosen page."""

import gc

import streamlit as st

from explorer.i18n import _
from explorer.ui import class_banner, identity, language, navigation, widgets

st.set_page_config(
    page_title="CNN Explorer", page_icon=":material/grid_view:", layout="wide",
    initial_sidebar_state="auto",  # open on a laptop, closed over a phone's page
)


@st.cache_resource(show_spinner=False)
def _freeze_startup_heap() -> None:
    """Once per server process: move the ~420,000 objects of the loaded libraries out of the
    garbage collector's reach, so that its full collections cost microseconds, not 0.2 s."""
    gc.freeze()


_freeze_startup_heap()


def _page(spec: navigation.PageSpec, default: bool = False) -> st.Page:
    if default:  # the default page is served at the root URL and takes no url_path
        return st.Page(spec.path, title=_(spec.title), icon=spec.icon, default=True)
    return st.Page(spec.path, title=_(spec.title), icon=spec.icon, url_path=spec.url_path)


language.init()  # before the first translated word: navigation titles are translated
pages: dict[str, list[st.Page]] = {"": [_page(navigation.HOME, default=True)]}
for section, specs in navigation.sections().items():
    pages[_(section)] = [_page(spec) for spec in specs]

if identity.is_teacher():
    pages[_("Teacher")] = [_page(spec) for spec in navigation.TEACHER_PAGES]
current = st.navigation(pages)
widgets.sidebar()
spec = navigation.by_url_path(current.url_path)
if language.init() != "en" and spec is not None and not spec.translated:
    st.info(_("This page is not translated into Chinese yet: it is shown in English."),
            icon=":material/translate:")
class_banner.show(current.url_path)  # the class's banner and question; the teacher's Send
current.run()
