"""The browser view in a real browser: `sim.viz.serve` in a subprocess, headless Chromium.

Debian's Chromium (/usr/bin/chromium, installed by .ci/run when missing) is driven by
Playwright through ``executable_path``: Playwright cannot download its own browser here.
Without Chromium this test fails; it is never skipped.
"""

from __future__ import annotations

import os
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


def _wait_step(page, at_least: int, timeout: float = 40) -> None:
    deadline = time.monotonic() + timeout
    while _step(page) < at_least:
        assert time.monotonic() < deadline, f"stuck at step {_step(page)}"
        page.wait_for_timeout(200)


def _wait_changed(page, before: dict[str, str], names, timeout: float = 20) -> dict[str, str]:
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
                page.locator(f"img.yjsim-{name}").wait_for(timeout=45_000)
            page.get_by_text("Step: 0", exact=True).wait_for()
            assert page.get_by_text("croydon-2018.toml").count() >= 1
            assert page.get_by_text("Week 0 of").count() == 1
            before = _srcs(page)

            # Step: one week; the figures that show every week's data are redrawn.
            page.get_by_role("button", name="Step").click()
            page.get_by_text("Step: 1", exact=True).wait_for(timeout=20_000)
            page.get_by_text("Week 1 of").wait_for()
            weekly = ("network", "offences")
            after = _wait_changed(page, before, weekly)
            assert [n for n in weekly if after[n] != before[n]] == list(weekly)

            # Play until YOS supervision and first-time entrants have begun (about week 20
            # in this scenario and seed), pause: every figure has been redrawn.
            page.get_by_role("button", name="▶").click()
            _wait_step(page, at_least=PLAY_TO)
            page.get_by_role("button", name="❚❚").click()
            after = _wait_changed(page, before, FIGURES)
            changed = [n for n in FIGURES if after[n] != before[n]]
            assert changed == list(FIGURES), f"figures not redrawn: {set(FIGURES) - set(changed)}"
            assert _step(page) >= PLAY_TO

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
