"""The browser view in a real browser: `sim.viz.serve` in a subprocess, headless Chromium.

Debian's Chromium (/usr/bin/chromium, installed by .ci/run when missing) is driven by
Playwright through ``executable_path``: Playwright cannot download its own browser here.
Without Chromium the test skips, saying why, on a developer's machine; in CI (the
environment variable CI set, as CI runs .ci/run with CI=true) or when .ci/run sets
YJSIM_REQUIRE_BROWSER=1, it fails instead, so CI always proves the page works.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import SCENARIOS, free_port, wait_for_server
from playwright.sync_api import sync_playwright

from sim.scenario import load_scenario

CHROMIUM = Path("/usr/bin/chromium")
# Set by .ci/run: a missing browser is a failure there, not a skip.
REQUIRE_BROWSER = "YJSIM_REQUIRE_BROWSER"
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


def browser_required(env: dict[str, str]) -> bool:
    """Whether a missing Chromium fails the test: in CI, or when .ci/run asks for it."""
    ci = env.get("CI", "").strip().lower() not in ("", "0", "false", "no")
    return ci or env.get(REQUIRE_BROWSER, "") == "1"


def chromium_or_skip(page: str = "the served page") -> None:
    """Go on if Chromium is here; else fail in CI and skip, saying why, elsewhere."""
    if CHROMIUM.exists():
        return
    why = f"{CHROMIUM} is missing (Debian: apt-get install -y chromium; .ci/run installs it)"
    if browser_required(dict(os.environ)):
        pytest.fail(f"{why}; a browser is required here (CI or {REQUIRE_BROWSER}=1)")
    pytest.skip(f"{why}; {page} is not checked in a browser on this machine")


def stop_server(server: subprocess.Popen) -> bool:
    """SIGTERM to the server started in its own session, then SIGKILL to its group;
    return whether anything of the group was left to kill."""
    server.terminate()
    try:
        server.wait(timeout=30)
    finally:
        try:
            os.killpg(server.pid, signal.SIGKILL)
            leftover = True
        except ProcessLookupError:
            leftover = False
    return leftover


def test_a_missing_browser_fails_in_ci_and_skips_elsewhere():
    assert not browser_required({})
    assert not browser_required({"CI": "", REQUIRE_BROWSER: "0"})
    assert not browser_required({"CI": "false"})
    assert browser_required({"CI": "true"})
    assert browser_required({"CI": "1"})
    assert browser_required({REQUIRE_BROWSER: "1"})


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
    chromium_or_skip()
    port = free_port()
    url = f"http://127.0.0.1:{port}/"
    log = tmp_path / "server.log"
    scenario = SCENARIOS / "croydon-2018.toml"
    # The page starts at the first measured week, in the burned-in world (sim/viz/state.py).
    start = load_scenario(scenario).run.burn_in_years * 52
    code = f"from sim.viz import serve; serve({str(scenario)!r}, port={port})"
    with log.open("w") as out:
        # Its own session, so that anything left of it can be found and stopped.
        server = subprocess.Popen(
            [sys.executable, "-c", code], stdout=out, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
    outside: list[str] = []
    try:
        wait_for_server(url, server, log, timeout=60)
        with sync_playwright() as pw:
            browser = pw.chromium.launch(
                executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
            )
            page = browser.new_page(viewport={"width": 1500, "height": 1250})
            page.on("request", lambda r: None if r.url.startswith(LOCAL) else outside.append(r.url))
            page.goto(url)
            for name in FIGURES:
                page.locator(f"img.yjsim-{name}").wait_for(timeout=90_000)
            page.get_by_text(f"Step: {start}", exact=True).wait_for()
            assert page.get_by_text("croydon-2018.toml").count() >= 1
            assert page.get_by_text(f"Week {start} of").count() == 1
            before = _srcs(page)

            # Step: one week; the figures that show every week's data are redrawn.
            page.get_by_role("button", name="Step").click()
            page.get_by_text(f"Step: {start + 1}", exact=True).wait_for(timeout=30_000)
            page.get_by_text(f"Week {start + 1} of").wait_for()
            weekly = ("network", "offences")
            after = _wait_changed(page, before, weekly)
            assert [n for n in weekly if after[n] != before[n]] == list(weekly)

            # Play, pause: every figure with something to show has been redrawn (the
            # caseload panel only if someone is supervised or in custody).
            page.get_by_role("button", name="▶").click()
            _wait_step(page, at_least=start + PLAY_TO)
            page.get_by_role("button", name="❚❚").click()
            stepped = _settled_step(page)  # a frame in flight when paused still lands
            assert stepped >= start + PLAY_TO
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
        leftover = stop_server(server)
    assert not leftover, "the solara server outlived `serve`"
    assert outside == [], f"the page asked for something off this machine: {outside}"
    assert "Could not load URL" not in log.read_text(), log.read_text()
