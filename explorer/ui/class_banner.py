""""Send this view to the class": the teacher's button in the sidebar of every page, and the
banner every student's page shows, in the student's language, with "Go there".

`show` is called by the app before each page runs. A student's page holds one small fragment
that reruns itself every `LIVE_EVERY_S`: it reports the session's presence (batched by the
process), reads the class's current view and question from the store's per-process summary,
and draws the banner and the question (`class_poll`). "Go there"
switches page inside the student's own session, so the work on the page they leave is kept as
any page switch keeps it; the settings of the teacher's view replace the student's own on
that page only.
"""

from __future__ import annotations

import streamlit as st

from explorer import i18n
from explorer.classroom import broadcast, class_store
from explorer.i18n import _
from explorer.training import access
from explorer.ui import class_poll, class_session, identity, language, navigation

LIVE_EVERY_S = 4.0
MAX_NICKNAME = 24
#: Session keys behind a setting that is not a widget's own key (the shared photo).
_SETTING_KEYS = {"photo": ("shared_image_choice", "shared_image_select")}
#: (the teacher's page, the page the student left for it, its settings then)
_RETURN = "_class_return"


def _students_page(page: str) -> navigation.PageSpec | None:
    """The page at `page` if every student has it (Home or a lesson; not the class page)."""
    spec = navigation.by_url_path(page)
    return spec if spec is navigation.HOME or spec in navigation.LESSONS else None


def _title(page: str) -> str:
    spec = navigation.by_url_path(page)
    return _(spec.title) if spec is not None else page


def _open(page: str, params: dict[str, str]) -> None:
    """Switch this session to `page` showing `params`: they replace the session's own values
    of those settings (widget values, values kept for the page's next visit)."""
    spec = _students_page(page)
    if spec is None:
        st.warning(_("That page is not on this server."), icon=":material/link_off:")
        return
    kept = [v for k, v in st.session_state.items() if str(k).startswith("_kept_")
            and isinstance(v, dict)]
    for key in params:
        for session_key in (key, *_SETTING_KEYS.get(key, ())):
            st.session_state.pop(session_key, None)
        for saved in kept:
            saved.pop(key, None)
    st.switch_page(spec.path, query_params={**params, language.KEY: i18n.language()})


@st.fragment(run_every=LIVE_EVERY_S)
def _live(page: str) -> None:
    """The class's one timed fragment on a student's page: presence, banner, question."""
    class_session.note()
    live = class_session.store().live()
    _banner(page, live.broadcast)
    class_poll.draw(live.poll)


def _banner(page: str, view: class_store.Broadcast | None) -> None:
    here = broadcast.clean_params(st.query_params.to_dict())
    back = st.session_state.get(_RETURN)
    if view is not None and _students_page(view.page) and not broadcast.is_on(view, page, here):
        with st.container(border=True, horizontal=True, vertical_alignment="center",
                          key="class_banner"):
            st.markdown(_(":material/campaign: Your teacher is on **{view}**").format(
                view=broadcast.describe(view, _title(view.page))))
            if st.button(_("Go there"), key=f"class_go_{view.id}", type="primary",
                         icon=":material/arrow_forward:"):
                # where the student was, with their settings, for the way back
                st.session_state[_RETURN] = (view.page, page, here)
                _open(view.page, broadcast.follow_params(view))
    elif back is not None and back[0] == page:  # on the teacher's view, sent or withdrawn
        with st.container(border=True, horizontal=True, vertical_alignment="center",
                          key="class_banner_back"):
            st.markdown(_(":material/co_present: You are on your teacher's view."))
            if st.button(_("Back to my work on {page}").format(page=_title(back[1])),
                         key="class_back", icon=":material/undo:"):
                st.session_state.pop(_RETURN, None)
                _open(back[1], back[2])


def _teacher_sidebar(page: str) -> None:
    """Send this view, or withdraw the one sent."""
    store = class_session.store()
    actor = identity.actor()
    with st.sidebar.container(border=True, key="class_send"):
        view = store.live(max_age_s=0).broadcast
        if _students_page(page) and st.button(  # not the class page: students have none
                _("Send this view to the class"), icon=":material/cast_for_education:",
                key="class_send_view", width="stretch"):
            try:
                broadcast.send(store, actor, page, st.query_params.to_dict())
            except access.AccessDenied as err:
                st.error(str(err))
            view = store.live(max_age_s=0).broadcast
        if view is not None:
            st.caption(_("The class sees: {view}").format(
                view=broadcast.describe(view, _title(view.page))))
            if st.button(_("Withdraw it"), key="class_withdraw", icon=":material/cancel:"):
                broadcast.withdraw(store, actor)
                st.rerun()


def _nickname() -> None:
    """A student's name on the teacher's screens (else 'student 7')."""
    with (st.sidebar.expander(_("Your name in class"), icon=":material/badge:"),
          st.form("class_nickname", border=False)):
        typed = st.text_input(_("Nickname"), max_chars=MAX_NICKNAME, key="class_nick",
                              help=_("What your teacher's screen calls you; empty: a number."))
        if st.form_submit_button(_("Save")):
            name = "".join(c for c in (typed or "") if c.isprintable()).strip()
            class_session.store().set_nickname(identity.actor().owner, name[:MAX_NICKNAME])
            st.caption(_("Saved."))


def show(page: str) -> None:
    """The class's part of every page: for the teacher the sidebar's Send button; for a
    student the banner, the teacher's question and the nickname."""
    class_session.note(page)
    if class_session.actor().teacher:
        _teacher_sidebar(page)
        return
    _nickname()
    _live(page)
