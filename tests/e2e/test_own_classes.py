"""Your own classes in Chromium with a fake camera: a student shoots pictures into two classes,
uploads a zip into a third (a stray text file in it gets its sentence), trains LeNet-5 for an
epoch in the shared queue and has a new shot classified; a second student sees none of it; the
signed-in teacher sees it and removes an image."""

from __future__ import annotations

import io
import json
import re
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image
from playwright.sync_api import Browser, expect

from tests.conftest import TEACHER_PASSPHRASE
from tests.e2e import conftest as harness
from tests.e2e.conftest import CHROMIUM_ARGS, TIMEOUT_MS, AppDriver, chromium_path

pytestmark = pytest.mark.e2e
CAMERA = ["--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream"]
VIDEO_PLAYING = """() => [...document.querySelectorAll('video')].some(
    v => v.readyState >= 2 && v.currentTime > 0.3)"""


@pytest.fixture(scope="module")
def camera_browser(browser: Browser) -> Iterator[Browser]:
    """Chromium again, with a fake camera that needs no permission prompt."""
    launched = browser.browser_type.launch(executable_path=chromium_path(), headless=True,
                                           args=CHROMIUM_ARGS + CAMERA)
    yield launched
    launched.close()


def _person(browser: Browser, url: str, width: int = 1440) -> AppDriver:
    """A browser of its own (a cookie, so an identity, of its own), watched for problems as
    the harness watches every page."""
    context = browser.new_context(viewport={"width": width, "height": 1000},
                                  permissions=["camera"])
    context.set_default_timeout(TIMEOUT_MS)
    context.expose_binding("__explorerProblem",
                           lambda _source, text: harness._PROBLEMS.append(text))
    context.add_init_script(harness._WATCH_JS.replace("GUARDS", json.dumps(harness._GUARDS)))
    harness._CONTEXTS.append(context)
    context.on("close", lambda closed: harness._CONTEXTS.remove(closed))
    return AppDriver(context.new_page(), url).open("own-classes")


def _shoot(driver: AppDriver, which: int = 0) -> None:
    """Press Take Photo once the fake camera's stream plays (a shot before that is black)."""
    driver.page.wait_for_function(VIDEO_PLAYING, timeout=TIMEOUT_MS)
    driver.page.get_by_role("button", name="Take Photo").nth(which).click()
    driver.wait()


def _fill(driver: AppDriver, name: str, shots: int) -> None:
    """`shots` pictures into class `name`: Take Photo, then Clear photo for the next. A shot
    taken before the restarted stream delivers is black, and a second black one is the same
    image, kept once: then it shoots again."""
    driver.radio("Add images to", name)
    for count in range(1, shots + 1):
        for _attempt in range(3):
            _shoot(driver)
            caption = driver.page.get_by_text(f"“{name}”: {count} image(s)")
            try:
                expect(caption).to_be_visible(timeout=10_000)
            except AssertionError:
                kept = False
            else:
                kept = True
            driver.page.get_by_role("button", name="Clear photo").first.click()
            driver.wait(settle_ms=700)  # the stream starts again
            if kept:
                break
        else:
            pytest.fail(f"three shots did not make {count} image(s) in {name}")


def _zip(folder: Path) -> Path:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for i in range(4):
            png = io.BytesIO()
            Image.new("RGB", (48, 40), (20, 40 * i, 200)).save(png, format="PNG")
            archive.writestr(f"mine/sky/{i}.png", png.getvalue())
        archive.writestr("mine/sky/notes.txt", b"not an image")
    path = folder / "sky.zip"
    path.write_bytes(out.getvalue())
    return path


def test_a_student_collects_trains_and_classifies_and_only_the_teacher_sees_it(
        camera_browser, app_url, tmp_path):
    alice = _person(camera_browser, app_url)
    alice.page.get_by_label("Title").fill("Things")
    alice.page.get_by_label(re.compile("^Class names")).fill("leaf\nsun\nsky")
    alice.button("Create the dataset")
    for name in ("leaf", "sun"):
        _fill(alice, name, 2)
    alice.radio("Add images to", "sky")
    alice.page.locator("[data-testid='stFileUploader']").first.locator(
        "input[type='file']").set_input_files(str(_zip(tmp_path)))
    alice.wait(settle_ms=800)
    for said in ("4 image(s) added.", "“notes.txt” is not an image", "“sky”: 4 image(s)",
                 "Fewer than 10 images in leaf, sun, sky"):  # (the page redraws after the add)
        expect(alice.page.get_by_text(said).first).to_be_visible()
    alice.set_number("Epochs", 1)
    alice.button("Train")
    expect(alice.page.get_by_text("Take a new picture")).to_be_visible(timeout=120_000)
    alice.wait()
    assert "on the Training page" in alice.text()
    _shoot(alice, which=1)  # the second camera: a new shot for the network
    expect(alice.page.get_by_text(re.compile(r"^It sees: (leaf|sun|sky)"))).to_be_visible(
        timeout=TIMEOUT_MS)  # the network runs and back-propagates for Grad-CAM first
    text = alice.text()
    for name in ("leaf", "sun", "sky"):
        assert re.search(rf"^{name}$", text, re.M), f"every class's probability: {name}"
    assert "Grad-CAM for" in text and "Its feature maps, layer by layer" in text
    assert "Download as ONNX" in text and "weights_only=True" in text
    link = alice.page.get_by_role("link", name=re.compile("on the Training page"))
    run_id = re.search(r"Run (\S+) on the Training page", link.inner_text()).group(1)
    link.click()
    alice.page.get_by_text(f"Run {run_id}").first.wait_for()
    alice.wait()
    assert "Things" in alice.text(), "the run on Training, named after the dataset"

    bob = _person(camera_browser, app_url)
    assert "Things" not in bob.text() and "leaf" not in bob.text()
    expect(bob.page.get_by_role("button", name="Create the dataset")).to_be_visible()

    teacher = _person(camera_browser, app_url)
    sidebar = teacher.page.locator("[data-testid='stSidebar']")
    sidebar.get_by_text("Teacher", exact=True).click()
    sidebar.get_by_label("Teacher passphrase").fill(TEACHER_PASSPHRASE)
    sidebar.get_by_role("button", name="Sign in as the teacher").click()
    expect(sidebar.get_by_text("You are signed in as the teacher")).to_be_visible()
    teacher.open("own-classes")  # the newest dataset of the class first
    text = teacher.text()
    assert "“leaf”: 2 image(s)" in text and "A student's dataset is theirs to train on" in text
    teacher.button("Remove")
    expect(teacher.page.get_by_text("“leaf”: 1 image(s)")).to_be_visible()
    for driver in (alice, bob, teacher):
        driver.page.context.close()
