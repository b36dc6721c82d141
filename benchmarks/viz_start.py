"""How long a visitor waits for the browser view's first measured week.

    python benchmarks/viz_start.py [--scenario scenarios/croydon-2018.toml] [--visits 3]

Starts `yjsim viz` (sim.viz.serve) on a free loopback port with a fresh cache folder,
so its first start makes the burned-in world (timed: "server ready"), then opens the
page ``--visits`` times in headless Chromium (/usr/bin/chromium, via playwright) and
times each visit from navigation to the moment the page shows the first measured week
("Week N of ...", N the scenario's burn-in in weeks) and all five figures. Each visit is
a new browser tab, so a new model: the burned-in world comes from the cache.

The goal (issue 19): the first measured week within 10 seconds of opening the page.
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from playwright.sync_api import sync_playwright

from sim.scenario import load_scenario

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = "/usr/bin/chromium"
FIGURES = ("network", "offences", "entrants", "caseload", "funnel")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scenario", default=str(ROOT / "scenarios" / "croydon-2018.toml"))
    ap.add_argument("--visits", type=int, default=3)
    args = ap.parse_args()
    start_week = load_scenario(args.scenario).run.burn_in_years * 52
    port = free_port()
    url = f"http://127.0.0.1:{port}/"
    with tempfile.TemporaryDirectory(prefix="yjsim-viz-bench-") as cache:
        env = {**os.environ, "YJSIM_CACHE": cache}
        code = f"from sim.viz import serve; serve({args.scenario!r}, port={port})"
        t0 = time.perf_counter()
        server = subprocess.Popen(
            [sys.executable, "-c", code], env=env, start_new_session=True,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        try:
            while True:
                try:
                    urllib.request.urlopen(url, timeout=1)
                    break
                except OSError:
                    if server.poll() is not None:
                        sys.exit("the server stopped")
                    time.sleep(0.2)
            print(
                f"server ready (burned-in world made and cached): {time.perf_counter() - t0:.1f} s"
            )
            with sync_playwright() as pw:
                browser = pw.chromium.launch(
                    executable_path=CHROMIUM, headless=True, args=["--no-sandbox"]
                )
                for visit in range(1, args.visits + 1):
                    page = browser.new_page(viewport={"width": 1500, "height": 1250})
                    t = time.perf_counter()
                    page.goto(url)
                    page.get_by_text(f"Week {start_week} of").wait_for(timeout=120_000)
                    shown = time.perf_counter() - t
                    for name in FIGURES:
                        page.locator(f"img.yjsim-{name}").wait_for(timeout=120_000)
                    drawn = time.perf_counter() - t
                    print(
                        f"visit {visit}: week {start_week} shown after {shown:.1f} s, "
                        f"all figures after {drawn:.1f} s"
                    )
                    page.close()
                browser.close()
        finally:
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(timeout=30)


if __name__ == "__main__":
    main()
