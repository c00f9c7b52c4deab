"""Leading a class through the pages, in AppTest (the browser test does it through HAProxy):
the teacher's Send and Ask, a student's banner and question in English and Chinese, an
answer checked against torch's, the class page only for the teacher."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from explorer import predict_first
from explorer.classroom import class_store
from tests.conftest import REPO_ROOT, TEACHER_PASSPHRASE


@pytest.fixture
def class_runs(monkeypatch, tmp_path):
    """A runs folder, and so a class store, of this test's own."""
    monkeypatch.setenv("EXPLORER_RUNS_DIR", str(tmp_path))
    return tmp_path


def _sign_in(at):
    at.text_input(key="teacher_passphrase").input(TEACHER_PASSPHRASE)
    next(b for b in at.button if b.label == "Sign in as the teacher").click()
    return at.run()


def _texts(at) -> str:
    return "\n".join(str(e.value) for e in [*at.markdown, *at.info, *at.success, *at.error])


def test_the_teacher_sends_a_view_and_asks_and_a_student_answers(open_page, class_runs):
    teacher = _sign_in(open_page("pages/conv_arithmetic.py"))
    teacher.sidebar.button(key="class_send_view").click()
    teacher.run()
    store = class_store.default(class_runs)
    assert store.current_view().page == "conv-arithmetic"
    assert any("The class sees: Conv arithmetic — Conv2d" in c.value
               for c in teacher.sidebar.caption)
    teacher.toggle(key="pf_conv_on").set_value(True).run()
    next(b for b in teacher.button if b.key.startswith("class_ask_conv_")).click()
    teacher.run()
    assert not teacher.exception
    poll = store.current_poll()
    assert poll.topic == "conv" and poll.open
    assert "The class's answers:** 0 of" in _texts(teacher)

    student = open_page("pages/sampling.py")
    assert "Your teacher is on **Conv arithmetic — Conv2d, kernel 3" in _texts(student)
    assert "**Your teacher asks the class:** What are the output's height and width?" in \
        _texts(student)
    right = predict_first.conv_output(poll.seed).answer
    for name, value in zip(("H_out", "W_out"), right, strict=True):
        student.number_input(key=f"class_poll_{poll.id}_{name}").set_value(int(value))
    next(b for b in student.button if b.label == "Send my answer").click()
    student.run()
    assert not student.exception
    [answer] = store.answers(poll.id)
    assert answer.right and "Your answer is in" in _texts(student)

    chinese = open_page("pages/batchnorm.py")
    chinese.radio(key="lang_picker").set_value("简体中文").run()
    assert "老师正在看 **卷积的尺寸计算 — Conv2d, 卷积核 3" in _texts(chinese)
    assert "**老师向全班提问：**" in _texts(chinese)


def test_the_class_page_is_the_teacher_s_only(open_page, class_runs):
    student = open_page("pages/home.py")
    with pytest.raises(ValueError, match=r"room\.py"):  # not in a student's navigation at all
        student.switch_page("../pages/room.py")
    alone = AppTest.from_file(str(REPO_ROOT / "pages" / "room.py"), default_timeout=60).run()
    assert any("This page is for the signed-in teacher" in i.value for i in alone.info)
    assert not alone.metric  # the page stopped before anything of the class
    teacher = _sign_in(open_page("pages/home.py"))
    teacher.switch_page("../pages/room.py").run()
    assert not teacher.exception
    assert any(m.label == "Students here now" for m in teacher.metric)
    # the class page is not a view to send: students have no such page
    assert not [b for b in teacher.sidebar.button if b.key == "class_send_view"]
    class_store.default(class_runs).send_view("room", {})  # as if it had been sent anyway
    assert "Your teacher is on" not in _texts(open_page("pages/home.py"))


def test_the_before_after_check_from_the_class_page(open_page, class_runs):
    teacher = _sign_in(open_page("pages/zoo.py"))
    teacher.toggle(key="pf_zoo_on").set_value(True).run()
    teacher.checkbox(key="class_check_zoo").check().run()
    next(b for b in teacher.button if b.key.startswith("class_ask_zoo_")).click()
    teacher.run()
    store = class_store.default(class_runs)
    before = store.current_poll()
    assert before.phase == "before" and before.topic == "zoo"
    right = predict_first.layer_parameters(before.seed).answer
    store.answer(before.id, "a student", right, True)  # as polls.answer records it
    teacher.switch_page("../pages/room.py").run()
    check = teacher.dataframe[-1].value  # the before/after table
    assert list(check.iloc[0][["before", "after", "gain"]]) == ["100% of 1", "–", "–"]
    ask_again = next(b for b in teacher.button if b.key == f"room_after_{before.id}")
    ask_again.click()
    teacher.run()
    assert not teacher.exception
    after = store.current_poll()
    assert (after.phase, after.pair_of, after.seed) == ("after", before.id, before.seed)
    assert not any(b.key == f"room_after_{before.id}" for b in teacher.button)
