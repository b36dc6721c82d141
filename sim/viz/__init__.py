"""The browser view: a Mesa SolaraViz page to watch and steer the model (``yjsim viz``).

- :mod:`sim.viz.state`: the settings and levers a Reset builds from, and
  :class:`~sim.viz.state.VizModel`, the ordinary model plus a network sample laid out
  once (no solara, no rules of its own);
- :mod:`sim.viz.figures`: the matplotlib figures, built once per model, redrawn per frame;
- :mod:`sim.viz.app`: the solara pages: the model (``Page``, route ``/``) and a finished
  decision (route ``/decision``: :mod:`sim.viz.decision_page`, its words and checks in
  :mod:`sim.viz.decision_view`);
- ``python -m sim.viz bench``: the time of a frame (a step plus every figure).

This module imports neither solara nor Mesa's visualisation, so ``yjsim`` starts and can
say what to install when the ``viz`` extra is missing. The model never imports it.
"""

from __future__ import annotations

import ctypes
import importlib.metadata
import importlib.util
import ipaddress
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

from sim.scenario import load_scenario

APP = "sim.viz.app"  # its ``routes``: the model at /, a decision at /decision
SCENARIO_ENV = "YJSIM_VIZ_SCENARIO"  # the scenario `yjsim viz` was started with
DECISION_ENV = "YJSIM_VIZ_DECISION"  # the decision folder `yjsim viz --decision` opens
DECISION_ROUTE = "decision"
ASSETS_URL = "/static/assets"  # where solara serves its asset folders, read-only
PR_SET_PDEATHSIG = 1  # prctl(2) option: the signal a process gets when its parent dies


def front_end_dir() -> Path:
    """The folder the ``solara-assets`` package installed the front end in (``.../cdn``).

    Raises :class:`RuntimeError` (what to install) when the package is missing.
    """
    try:
        dist = importlib.metadata.distribution("solara-assets")
    except importlib.metadata.PackageNotFoundError:
        missing = "the browser view needs solara-assets: pip install -e '.[viz]'"
        raise RuntimeError(missing) from None
    # Its files are named relative to site-packages: ../../../share/solara/cdn/...
    for f in dist.files or []:
        parts = f.parts
        for i in range(1, len(parts) - 1):
            if parts[i - 1 : i + 1] == ("solara", "cdn"):
                return Path(dist.locate_file(Path(*parts[: i + 1]))).resolve()
    raise RuntimeError("the solara-assets package has no share/solara/cdn folder: reinstall it")


def server_command(
    scenario: str | Path | None,
    host: str = "127.0.0.1",
    port: int = 8765,
    assets: Path | None = None,
    decision: str | Path | None = None,
) -> tuple[list[str], dict[str, str]]:
    """The command line and environment that serve the page (for :func:`serve` and tests).

    The scenario path travels in ``$YJSIM_VIZ_SCENARIO``, the decision folder in
    ``$YJSIM_VIZ_DECISION``. Solara's telemetry is switched
    off, and so is its CDN proxy (``/_solara/cdn/``): that route fetches what it lacks from
    a public CDN and deletes a cached folder it is asked for (``shutil.rmtree``), so one
    GET from any web page the user visits could remove the front end. Instead the front
    end (``assets``: by default the folder ``solara-assets`` installed) is served read-only
    among Solara's static asset folders, and the page is told to load it from there: the
    browser asks nothing from outside this machine, and the server fetches nothing.
    """
    assets = Path(assets) if assets is not None else front_end_dir()
    # Solara splits this setting at commas, so such a folder cannot be named in it.
    if "," in str(assets.parent):
        raise RuntimeError(f"{assets.parent}: solara cannot serve a folder with a comma in it")
    env = dict(os.environ)
    env[SCENARIO_ENV] = str(Path(scenario).resolve()) if scenario is not None else ""
    env[DECISION_ENV] = str(Path(decision).resolve()) if decision is not None else ""
    env["SOLARA_TELEMETRY_MIXPANEL_ENABLE"] = "false"
    env["SOLARA_ASSETS_PROXY"] = "false"
    env["SOLARA_ASSETS_EXTRA_LOCATIONS"] = str(assets.parent)
    env["SOLARA_ASSETS_CDN"] = f"{ASSETS_URL}/{assets.name}"
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


def is_loopback(host: str) -> bool:
    """Whether every address ``host`` names is this machine's loopback (127.0.0.0/8, ::1).

    A name that does not resolve counts as not loopback.
    """
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, None)
    except (OSError, UnicodeError):
        return False
    return bool(infos) and all(ipaddress.ip_address(i[4][0]).is_loopback for i in infos)


def die_with_parent() -> Callable[[], None] | None:
    """A ``preexec_fn`` that makes the child get SIGKILL when this process dies (Linux).

    Without it, a SIGKILL of ``yjsim viz`` (which cannot be caught) leaves the solara server
    serving. None where ``prctl`` is not available (then only :func:`serve`'s own handlers
    stop the server).
    """
    if not sys.platform.startswith("linux"):
        return None
    prctl = ctypes.CDLL(None, use_errno=True).prctl  # looked up before the fork
    parent = os.getpid()

    def preexec() -> None:
        if prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_SET_PDEATHSIG) failed")
        if os.getppid() != parent:  # the parent died before prctl: nobody to serve
            os._exit(1)

    return preexec


def serve(
    scenario: Path | None,
    host: str = "127.0.0.1",
    port: int = 8765,
    decision: Path | None = None,
) -> None:
    """Serve the page at http://HOST:PORT until interrupted (binds to 127.0.0.1 by default).

    Checks the scenario first (a broken file raises :class:`sim.scenario.ScenarioError`, one
    line naming the file and key), the decision folder (one that is not a finished decision
    raises :class:`sim.viz.decision_view.DecisionFolderError`, one line naming the path and
    what is expected) and that the ``viz`` extra is installed. With a decision, the page
    at ``/decision`` opens it, and the model's burned-in world is made when a visitor
    first opens ``/``, not before.
    """
    if scenario is not None:
        load_scenario(scenario)
    if decision is not None:
        from sim.viz.decision_view import load_decision_folder

        load_decision_folder(decision)
    missing = [m for m in ("solara", "ipyvuetify") if importlib.util.find_spec(m) is None]
    if missing:
        raise RuntimeError(f"the browser view needs {', '.join(missing)}: pip install -e '.[viz]'")
    if decision is None:
        prepare_default_world(scenario)
    cmd, env = server_command(scenario, host, port, decision=decision)
    if not is_loopback(host):
        print(
            f"yjsim: warning: serving on {host}, not a loopback address: anyone who can reach "
            "this machine can open the page and run the model (--host 127.0.0.1 keeps it "
            "to this machine)",
            file=sys.stderr,
        )
    if decision is not None:
        shown = f"[{host}]" if ":" in host else host
        print(f"yjsim: the decision is at http://{shown}:{port}/{DECISION_ROUTE}", file=sys.stderr)
    # The server dies with this process, even with a SIGKILL that no handler sees.
    server = subprocess.Popen(cmd, env=env, preexec_fn=die_with_parent())
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


def prepare_default_world(scenario: Path | None) -> None:
    """Make (or find) the burned-in world the page opens with, before serving it, so
    that the first visitor sees the first measured week within seconds."""
    from sim.viz.state import VizSettings, burned_in_world, cache_dir

    t0 = time.perf_counter()
    print("yjsim: preparing the burned-in world the page starts from...", file=sys.stderr)
    burned_in_world(VizSettings.for_file(scenario))
    print(
        f"yjsim: ready in {time.perf_counter() - t0:.1f} s (cached in {cache_dir()})",
        file=sys.stderr,
    )


def _exit_on_signal(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)
