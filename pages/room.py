"""The room: the signed-in teacher's view of the class (explorer/ui/room.py draws each part)."""

import streamlit as st

from explorer.i18n import _
from explorer.ui import room, widgets

widgets.page_header(_("The class"), _(
    "Who is here and on which page, the class's runs, and the questions you asked. Send the "
    "class to your view with “Send this view to the class” in the sidebar of any page; ask "
    "a predict-first question with “Ask the class” under it."))
actor = room.teacher_only()

left, right = st.columns([1, 1], gap="large")
with left:
    st.subheader(_("Who is here"))
    with widgets.section("who is here"):
        room.who_is_here()
with right:
    st.subheader(_("The question on the students' pages"))
    with widgets.section("current question"):
        room.current_question()

st.subheader(_("The class's runs"))
with widgets.section("class runs"):
    room.class_runs(actor)
st.subheader(_("Leaderboard"))
with widgets.section("leaderboard"):
    room.leaderboard(actor)
st.subheader(_("This lesson's questions"))
with widgets.section("lesson record"):
    room.lesson_record(actor)
