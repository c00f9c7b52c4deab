"""Leading a class: a teacher and three students in separate browsers, through two Streamlit
processes behind HAProxy (`make serve`'s configs; students on both processes).

The teacher sends their view and every student's banner shows it within 10 s and opens it
(the student's own settings on the page they left are there on the way back); the teacher asks
a predict-first question, the three answers are counted exactly once with the right bars,
though the process two of the students were on is killed mid-poll; Reveal reaches all three.
Then the teacher's room page and a student's banner are screenshot at 1440 px and 390 px in
English and Chinese.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import time
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, expect

from explorer import predict_first, serving
from explorer.classroom import class_store
from tests.conftest import TEACHER_PASSPHRASE, until
from tests.e2e.conftest import AppDriver, _free_port
from tests.e2e.test_classroom_trust import _sign_in
from tests.e2e.test_serving import _server_of, _student

pytestmark = pytest.mark.skipif(
    not (serving.find_binary("haproxy") and serving.find_binary("supervisord")
         and serving.find_binary("openssl")),
    reason="haproxy, supervisord and openssl are not all installed and could not be "
           "(`make serve-tools` installs them)")
REACH_MS = 10_000  # the bar: a broadcast reaches every student within 10 s
ONE, TWO = serving.program_name(1), serving.program_name(2)
VIEW = "ca_sh=2&ca_sw=2&ca_ph=1&ca_pw=1"


@pytest.fixture(scope="module")
def stack(tmp_path_factory) -> Iterator[serving.ServeConfig]:
    tmp = tmp_path_factory.mktemp("lead")
    ports: set[int] = set()
    while len(ports) < 3:
        ports.add(_free_port())
    port, *backends = sorted(ports)
    cfg = serving.ServeConfig(
        port=port, http_port=0, replicas=2, backend_ports=tuple(backends), bind="127.0.0.1",
        run_dir=tmp / "run", runs_dir=tmp / "runs", haproxy=serving.find_binary("haproxy"),
        check_interval="1s", prepare=False)
    proc = serving.start(cfg)
    try:
        serving.wait_healthy(cfg, proc, timeout=90)
        until(lambda: _balancer_has_both(cfg), 30, "HAProxy to see both processes up")
        yield cfg
    finally:
        serving.stop(proc)


def _balancer_has_both(cfg: serving.ServeConfig) -> bool:
    """Whether HAProxy's own checks have both processes UP (a process that answered a check
    late at start is DOWN there until two checks pass, and its students go to the other)."""
    with socket.socket(socket.AF_UNIX) as sock:
        sock.settimeout(5)
        sock.connect(str(cfg.run_dir / "haproxy.sock"))
        sock.sendall(b"show stat\n")
        out = b"".join(iter(lambda: sock.recv(65536), b"")).decode()
    states = [row.split(",")[17] for row in out.splitlines()
              if row.startswith("streamlit,streamlit-")]
    return states == ["UP", "UP"]


def _poll(cfg: serving.ServeConfig) -> class_store.Poll:
    store = class_store.ClassStore(path=class_store.database_path(cfg.runs_dir))
    try:
        poll = store.current_poll()
        assert poll is not None
        return poll
    finally:
        store.close()


def _answer(student: AppDriver, values: tuple[int, ...]) -> None:
    box = student.page.locator(".st-key-class_poll")
    for name, value in zip(("H_out", "W_out"), values, strict=True):
        box.get_by_label(name).fill(str(value))
    box.get_by_role("button", name="Send my answer").click()
    expect(box).to_contain_text("Your answer is in", timeout=REACH_MS)


def _restarted(cfg: serving.ServeConfig, name: str, old_pid: int) -> None:
    deadline = time.monotonic() + 45
    while time.monotonic() < deadline:
        pid = serving.replica_pids(cfg).get(name)
        if pid and pid != old_pid and serving.healthy(cfg.ports()[int(name[-1]) - 1]):
            return
        time.sleep(0.5)
    pytest.fail(f"{name} was not restarted")


def test_a_teacher_leads_three_students_on_two_processes(browser: Browser, stack):
    cfg = stack
    _ctx, teacher = _student(browser, cfg, server=TWO)
    teacher.open("conv-arithmetic", VIEW)
    _sign_in(teacher, TEACHER_PASSPHRASE)
    students = []
    for server, page in ((ONE, "sampling"), (ONE, "batchnorm"), (TWO, "sampling")):
        _c, student = _student(browser, cfg, server=server)
        student.open(page)
        students.append(student)
    assert [_server_of(s) for s in (teacher, *students)] == [TWO, ONE, ONE, TWO]
    ada, ben, cai = students
    cai.set_slider("Pool kernel", 3)  # Cai's own work on Pooling, before the teacher calls
    assert "sp_k=3" in cai.page.url

    # the view: a banner on every student's page within 10 s, and Go there opens it
    teacher.button("Send this view to the class")
    for student in students:
        banner = student.page.locator(".st-key-class_banner")
        expect(banner).to_contain_text(
            "Your teacher is on Conv arithmetic — Conv2d, kernel 3, stride 2, padding 1",
            timeout=REACH_MS)
    cai.screenshot("lead_student_banner_en_1440")
    for student in students:
        student.page.locator(".st-key-class_banner").get_by_role("button",
                                                                  name="Go there").click()
        student.wait()
        assert "/conv-arithmetic" in student.page.url and "ca_sh=2" in student.page.url
        assert "stride=2, padding=1" in student.text()  # the page's code twin: the real layer
        expect(student.page.locator(".st-key-class_banner")).to_have_count(0)
    cai.page.get_by_role("button", name="Back to my work on Pooling & upsampling").click()
    cai.wait()
    assert "/sampling" in cai.page.url and "sp_k=3" in cai.page.url
    expect(cai.widget("Pool kernel", "stSlider").get_by_role("slider")).to_have_attribute(
        "aria-valuetext", "3")

    # a question: three answers, the process of two of them killed between the first two
    teacher.toggle("Predict first")
    teacher.button("Ask the class")
    poll = _poll(cfg)
    right = tuple(int(v) for v in predict_first.conv_output(poll.seed).answer)
    wrong = (right[0] + 1, right[1])
    for student in students:
        expect(student.page.locator(".st-key-class_poll")).to_contain_text(
            "Your teacher asks the class: What are the output's height and width?",
            timeout=REACH_MS)
    _answer(ada, right)
    pid = serving.replica_pids(cfg)[ONE]
    os.kill(pid, signal.SIGKILL)  # Ada's and Ben's process, mid-poll
    _answer(cai, wrong)
    # Ben's page reconnects (to the other process, or the restarted one) and gets the question
    expect(ben.page.locator(".st-key-class_poll")).to_contain_text("Your teacher asks the class",
                                                                   timeout=45_000)
    ben.wait()
    _answer(ben, wrong)
    results = teacher.page.get_by_text(re.compile(r"The class's answers: 3 of"))
    expect(results).to_be_visible(timeout=REACH_MS)
    chart = teacher.page.locator(f".st-key-class_results_{poll.id} [data-testid='stPlotlyChart']")
    expect(chart.locator(".bartext")).to_have_count(2)
    labels, counts = chart.locator(".js-plotly-plot").evaluate(
        "e => [e.data[0].y, e.data[0].x]")  # what the drawn bars show
    assert dict(zip(labels, counts, strict=True)) == {f"{wrong[0]} × {wrong[1]}": 2,
                                                      f"{right[0]} × {right[1]}": 1}
    store = class_store.ClassStore(path=class_store.database_path(cfg.runs_dir))
    assert len(store.answers(poll.id)) == 3  # none lost in the restart, none twice
    store.close()

    # Reveal: every student sees torch's answer and whether they were right
    teacher.page.get_by_role("button", name="Reveal").click()
    for student, verdict in ((ada, "Right:"), (ben, "Not this time"), (cai, "Not this time")):
        expect(student.page.locator(".st-key-class_poll")).to_contain_text(
            verdict, timeout=REACH_MS)
    expect(teacher.page.get_by_text(re.compile(r"PyTorch says .*: 1 of 3 right"))
           ).to_be_visible(timeout=REACH_MS)
    teacher.screenshot("lead_teacher_question_en_1440")
    _restarted(cfg, ONE, pid)  # supervisord brought the killed process back meanwhile

    # the room, and a student's banner, at 1440 px and on a phone, in English and Chinese
    for lang in ("en", "zh"):
        for width in (1440, 390):
            for who, driver, page in (("teacher", teacher, "room"), ("student", cai, "")):
                driver.page.set_viewport_size({"width": width, "height": 900})
                driver.open(page, f"lang={lang}")
                collapse = driver.page.get_by_label("Collapse sidebar")
                if width < 500 and collapse.is_visible():  # a phone: the sidebar over the page
                    collapse.click()
                if who == "student":
                    expect(driver.page.locator(".st-key-class_banner")).to_be_visible(
                        timeout=REACH_MS)
                else:
                    expect(driver.page.get_by_text(
                        "Students here now" if lang == "en" else "当前在线学生")).to_be_visible()
                driver.screenshot(f"lead_{who}_{lang}_{width}")
