"""The browser view in a real browser: `sim.viz.serve` in a subprocess, headless Chromium.

Debian's Chromium (/usr/bin/chromium, installed by .ci/run when missing) is driven by
Playwright through ``executable_path``: Playwright cannot download its own browser here.
Without Chromium this test fails; it is never skipped.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from conftest import SCENARIOS
from playwright.sync_api import sync_playwright

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
FIGURES = ("network", "offences", "entrants", "caseload", "funnel")
PLAY_TO = 30  # weeks
LOCAL = ("http://127.0.0.1:", "ws://127.0.0.1:", "data:", "blob:", "about:")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_for(url: str, server: subprocess.Popen, log: Path, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise AssertionError(f"server exited:\n{log.read_text()}")
        try:
            urllib.request.urlopen(url, timeout=2).read()
            return
        except OSError:
            time.sleep(0.3)
    raise AssertionError(f"server did not answer at {url}:\n{log.read_text()}")


def _step(page) -> int:
    text = page.locator("text=/^Step: \\d+$/").first.inner_text()
    return int(text.split(":")[1])


def _settled_step(page, timeout: float = 30) -> int:
    deadline = time.monotonic() + timeout
    last = _step(page)
    while time.monotonic() < deadline:
        page.wait_for_timeout(1000)
        now = _step(page)
        if now == last:
            return now
        last = now
    raise AssertionError("the step counter did not stop after pause")


def _wait_step(page, at_least: int, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while _step(page) < at_least:
        assert time.monotonic() < deadline, f"stuck at step {_step(page)}"
        page.wait_for_timeout(200)


def _wait_changed(page, before: dict[str, str], names, timeout: float = 30) -> dict[str, str]:
    deadline = time.monotonic() + timeout
    while True:
        after = _srcs(page)
        if all(after[n] != before[n] for n in names) or time.monotonic() > deadline:
            return after
        page.wait_for_timeout(200)


def _srcs(page) -> dict[str, str]:
    return {name: page.locator(f"img.yjsim-{name}").get_attribute("src") for name in FIGURES}


def test_served_page_steps_in_headless_chromium(tmp_path):
    assert CHROMIUM.exists(), f"{CHROMIUM} is missing: apt-get install -y chromium"
    port = _free_port()
    url = f"http://127.0.0.1:{port}/"
    log = tmp_path / "server.log"
    scenario = SCENARIOS / "croydon-2018.toml"
    code = f"from sim.viz import serve; serve({str(scenario)!r}, port={port})"
    with log.open("w") as out:
        # Its own session, so that anything left of it can be found and stopped.
        server = subprocess.Popen(
            [sys.executable, "-c", code], stdout=out, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
    outside: list[str] = []
    try:
        _wait_for(url, server, log)
        with sync_playwright() as pw:
            browser = pw.chromium.launch(
                executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
            )
            page = browser.new_page(viewport={"width": 1500, "height": 1250})
            page.on("request", lambda r: None if r.url.startswith(LOCAL) else outside.append(r.url))
            page.goto(url)
            for name in FIGURES:
                page.locator(f"img.yjsim-{name}").wait_for(timeout=90_000)
            page.get_by_text("Step: 0", exact=True).wait_for()
            assert page.get_by_text("croydon-2018.toml").count() >= 1
            assert page.get_by_text("Week 0 of").count() == 1
            before = _srcs(page)

            # Step: one week; the figures that show every week's data are redrawn.
            page.get_by_role("button", name="Step").click()
            page.get_by_text("Step: 1", exact=True).wait_for(timeout=30_000)
            page.get_by_text("Week 1 of").wait_for()
            weekly = ("network", "offences")
            after = _wait_changed(page, before, weekly)
            assert [n for n in weekly if after[n] != before[n]] == list(weekly)

            # Play, pause: by then children have entered the system (triage diverts from
            # the first weeks) and every figure with something to show has been redrawn;
            # supervision and custody only once someone is supervised (about week 20).
            page.get_by_role("button", name="▶").click()
            _wait_step(page, at_least=PLAY_TO)
            page.get_by_role("button", name="❚❚").click()
            stepped = _settled_step(page)  # a frame in flight when paused still lands
            assert stepped >= PLAY_TO
            page.get_by_text(f"Week {stepped} of").wait_for(timeout=30_000)
            measures = page.locator("text=/under YOS supervision/").first.inner_text()
            supervised = int(re.search(r"(\d+)\s+under YOS supervision", measures).group(1))
            custody = int(re.search(r"(\d+) in custody", measures).group(1))
            expected = [n for n in FIGURES if n != "caseload" or supervised + custody > 0]
            after = _wait_changed(page, before, expected)
            changed = [n for n in expected if after[n] != before[n]]
            assert changed == expected, f"figures not redrawn: {set(expected) - set(changed)}"

            shot = tmp_path / "viz.png"
            page.screenshot(path=str(shot), full_page=True)
            browser.close()
        assert shot.stat().st_size > 50_000
        assert shot.read_bytes().startswith(b"\x89PNG")
    finally:
        # SIGTERM to `serve` alone must stop the solara server it started; the group kill
        # only cleans up if it did not.
        server.terminate()
        try:
            server.wait(timeout=30)
        finally:
            try:
                os.killpg(server.pid, signal.SIGKILL)
                leftover = True
            except ProcessLookupError:
                leftover = False
    assert not leftover, "the solara server outlived `serve`"
    assert outside == [], f"the page asked for something off this machine: {outside}"
    assert "Could not load URL" not in log.read_text(), log.read_text()
