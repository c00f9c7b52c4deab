"""What a channel looks for, in Chromium: ask for a channel's picture, watch its frames arrive
from the worker, stop the job, and reopen the view's link in a fresh browser; then a finished
channel's three views, at 1440 and 390 px, in English and Chinese."""

from __future__ import annotations

import re
import tempfile
from collections.abc import Iterator
from urllib.parse import urlencode

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import TIMEOUT_MS, AppDriver, running_app

#: A job long enough to be stopped after its second frame (LeNet-5 steps take milliseconds).
STEPS, FRAMES = 800, 5
VIEW = {"fm_model": "lenet5", "fm_weights": "Random (seeded)", "fm_variant": "mnist",
        "fm_seed": "0", "ch_layer": "features.0"}


@pytest.fixture(scope="module")
def channel_url() -> Iterator[str]:
    """A server of its own: its jobs' steps are set for the test, its runs folder is empty."""
    with running_app({"EXPLORER_CHANNEL_STEPS": str(STEPS),
                      "EXPLORER_CHANNEL_FRAMES": str(FRAMES),
                      "EXPLORER_RUNS_DIR": tempfile.mkdtemp(prefix="explorer-channel-")}) as url:
        yield url


def _driver(browser, url: str, width: int = 1440) -> AppDriver:
    context = browser.new_context(viewport={"width": width, "height": 1000})
    context.set_default_timeout(TIMEOUT_MS)
    return AppDriver(context.new_page(), url)


def _frames_shown(app: AppDriver) -> list[int]:
    match = re.search(r"how it grew: steps ([\d, ]+)", app.text())
    return [int(s) for s in match.group(1).split(", ")] if match else []


def test_frames_arrive_a_stop_ends_the_job_and_its_link_reopens_it(browser, channel_url):
    app = _driver(browser, channel_url)
    app.open("channel", urlencode({**VIEW, "ch_channel": "2"}))
    app.assert_healthy()
    assert "What a channel looks for" in app.text()
    app.button("Find what this channel looks for")
    expect(app.page.get_by_text(re.compile(r"how it grew: steps 0, \d+"))).to_be_visible(
        timeout=90_000)  # two frames: the worker started and is optimising
    assert len(_frames_shown(app)) >= 2
    app.button("Stop")
    expect(app.page.get_by_text(re.compile("Stopped at step"))).to_be_visible(timeout=30_000)
    shown = _frames_shown(app)
    assert shown[-1] < STEPS, shown
    app.assert_healthy()
    link = app.page.url
    assert "ch_channel=2" in link and "ch_layer=features.0" in link and "fm_model=lenet5" in link

    fresh = _driver(browser, channel_url)  # another browser: no session, no cookie
    fresh.page.goto(link)
    expect(fresh.page.get_by_text(re.compile("Stopped at step"))).to_be_visible()
    fresh.wait()
    assert _frames_shown(fresh) == shown
    expect(fresh.page.get_by_role("button", name="Make it again")).to_be_visible()
    assert fresh.page.get_by_role("button", name="Stop").count() == 0
    fresh.assert_healthy()
    app.page.context.close()
    fresh.page.context.close()


def test_a_finished_channel_s_three_views_in_english_and_chinese(browser, channel_url):
    app = _driver(browser, channel_url)
    app.open("channel", urlencode({**VIEW, "ch_channel": "4"}))
    app.button("Find what this channel looks for")
    expect(app.page.get_by_text(re.compile(r"Finished: \d+ steps"))).to_be_visible(
        timeout=120_000)
    app.wait(settle_ms=800)
    text = app.text()
    assert "Most exciting" in text and "Least exciting" in text
    assert "Random weights:" in text and "the mean image of" in text
    assert app.page.locator("img[alt^='6 test images']").count() == 2
    app.screenshot("channel_en_1440")
    app.page.set_viewport_size({"width": 390, "height": 900})
    app.wait()
    app.screenshot("channel_en_390")
    zh = _driver(browser, channel_url)
    zh.open("channel", urlencode({**VIEW, "ch_channel": "4", "lang": "zh"}))
    expect(zh.page.get_by_text("最能激发它的")).to_be_visible()
    zh.assert_healthy()
    zh.screenshot("channel_zh_1440")
    zh.page.set_viewport_size({"width": 390, "height": 900})
    zh.wait()
    zh.screenshot("channel_zh_390")
    app.page.context.close()
    zh.page.context.close()
