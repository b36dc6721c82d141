"""The browser view: a Mesa SolaraViz page to watch and steer the model (``yjsim viz``).

- :mod:`sim.viz.state`: the settings and levers a Reset builds from, and
  :class:`~sim.viz.state.VizModel`, the ordinary model plus a network sample laid out
  once (no solara, no rules of its own);
- :mod:`sim.viz.figures`: the matplotlib figures, built once per model, redrawn per frame;
- :mod:`sim.viz.app`: the solara page (``Page``);
- ``python -m sim.viz bench``: the time of a frame (a step plus every figure).

This module imports neither solara nor Mesa's visualisation, so ``yjsim`` starts and can
say what to install when the ``viz`` extra is missing. The model never imports it.
"""

from __future__ import annotations

import importlib.util
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

from sim.scenario import load_scenario

APP = "sim.viz.app:Page"
SCENARIO_ENV = "YJSIM_VIZ_SCENARIO"  # the scenario `yjsim viz` was started with


def server_command(
    scenario: str | Path | None, host: str = "127.0.0.1", port: int = 8765
) -> tuple[list[str], dict[str, str]]:
    """The command line and environment that serve the page (for :func:`serve` and tests).

    The scenario path travels in ``$YJSIM_VIZ_SCENARIO``. Solara's telemetry is switched
    off; its asset proxy stays on, as it serves the front end from the solara-assets
    package, so the browser asks nothing from outside this machine.
    """
    env = dict(os.environ)
    env[SCENARIO_ENV] = str(Path(scenario).resolve()) if scenario is not None else ""
    env["SOLARA_TELEMETRY_MIXPANEL_ENABLE"] = "false"
    cmd = [
        sys.executable,
        "-m",
        "solara",
        "run",
        APP,
        "--host",
        host,
        "--port",
        str(port),
        "--production",
        "--no-open",
    ]
    return cmd, env


def serve(scenario: Path | None, host: str = "127.0.0.1", port: int = 8765) -> None:
    """Serve the page at http://HOST:PORT until interrupted (binds to 127.0.0.1 by default).

    Checks the scenario first (a broken file raises :class:`sim.scenario.ScenarioError`, one
    line naming the file and key) and that the ``viz`` extra is installed.
    """
    if scenario is not None:
        load_scenario(scenario)
    missing = [m for m in ("solara", "ipyvuetify") if importlib.util.find_spec(m) is None]
    if missing:
        raise RuntimeError(f"the browser view needs {', '.join(missing)}: pip install -e '.[viz]'")
    cmd, env = server_command(scenario, host, port)
    server = subprocess.Popen(cmd, env=env)
    # A SIGTERM to this process stops the server too (by default it would be left running).
    in_main = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _exit_on_signal) if in_main else None
    try:
        rc = server.wait()
    except KeyboardInterrupt:  # Ctrl-C reaches the server too; let it finish
        rc = server.wait()
    finally:
        if server.poll() is None:
            server.terminate()
            try:
                server.wait(timeout=10)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()
        if in_main:
            signal.signal(signal.SIGTERM, previous)
    if rc not in (0, -signal.SIGINT, 128 + signal.SIGINT):  # stopped by Ctrl-C is fine
        raise RuntimeError(f"the solara server stopped with exit status {rc}")


def _exit_on_signal(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)
