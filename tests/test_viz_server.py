"""The viz's server as an attacker or a careless user meets it (issue 21, items 1 and 8).

The server is started for real (``solara run`` in a subprocess on a free loopback port),
as ``yjsim viz`` starts it. The front end it serves is a hard-linked copy of the installed
``solara-assets`` folder, so a route that deletes files could only delete the copy's links,
never the installed package.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from conftest import SCENARIOS, free_port, wait_for_server

import sim.viz
from sim.viz import front_end_dir, is_loopback, serve, server_command

ROOT = Path(__file__).resolve().parent.parent
CROYDON = SCENARIOS / "croydon-2018.toml"
DIST = "@widgetti/solara-vuetify-app@10.1.1/dist"  # the folder the page's script is in
UNCACHED = "left-pad@1.3.0/index.js"  # a package solara-assets does not ship
# Solara's CDN proxy took about 7 s per miss trying the public CDN; a refusal is instant.
QUICK = 2.0  # seconds


def _get(url: str) -> tuple[int, bytes, float]:
    """(status, body, seconds) of a GET."""
    t0 = time.monotonic()
    try:
        with urllib.request.urlopen(url, timeout=30) as r:
            return r.status, r.read(), time.monotonic() - t0
    except urllib.error.HTTPError as e:
        return e.code, b"", time.monotonic() - t0


def _port_open(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(1)
        return s.connect_ex(("127.0.0.1", port)) == 0


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


def _stop_group(proc: subprocess.Popen) -> bool:
    """Kill what is left of a process group; True if anything was."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        return False
    proc.wait()
    return True


@pytest.fixture
def front_end(tmp_path: Path) -> Path:
    """A copy of the installed front end, hard-linked (instant, no space), named ``cdn``."""
    copy = tmp_path / "front" / "cdn"
    shutil.copytree(front_end_dir(), copy, copy_function=os.link)
    assert (copy / DIST).is_dir()
    return copy


def test_no_request_can_delete_the_front_end_or_fetch_from_a_cdn(tmp_path, front_end):
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    cmd, env = server_command(CROYDON, port=port, assets=front_end)
    env["PYTHONPATH"] = str(ROOT)
    log = tmp_path / "server.log"
    with log.open("w") as out:
        server = subprocess.Popen(
            cmd, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        wait_for_server(f"{base}/readyz", server, log, timeout=90)
        # The GET that removed the 61 MB dist/ folder through Solara's CDN proxy, the same
        # path where the page now loads its front end, and a path nobody has cached (the
        # proxy fetched it from a public CDN): each refused at once, without the network.
        cdn = env["SOLARA_ASSETS_CDN"]
        paths = [f"/_solara/cdn/{DIST}", f"{cdn}/{DIST}", f"/_solara/cdn/{UNCACHED}"]
        paths += [f"{cdn}/{UNCACHED}", f"/_solara/cdn/{DIST}/../../../../bin/python"]
        for path in paths:
            status, _, seconds = _get(base + path)
            assert status in (403, 404), (path, status)
            assert seconds < QUICK, (path, seconds)
        assert (front_end / DIST).is_dir()
        assert len(list((front_end / DIST).iterdir())) > 10
        # The page and every script and style sheet it names still load, all from here.
        status, page, _ = _get(base + "/")
        assert status == 200
        urls = re.findall(r'<(?:script|link)[^>]*(?:src|href)="([^"]+)"', page.decode())
        scripts = [u for u in urls if "solara-vuetify-app" in u and u.endswith(".js")]
        assert len(scripts) == 1, urls
        for url in urls:
            assert not url.startswith(("http:", "https:", "//")), f"{url} is off this machine"
            status, body, _ = _get(base + "/" + url.lstrip("/"))
            assert status == 200 and body, url
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        finally:
            _stop_group(server)
    assert "Could not load URL" not in log.read_text()


def test_the_server_dies_with_yjsim_viz_on_sigkill(tmp_path):
    port = free_port()
    log = tmp_path / "serve.log"
    code = f"from sim.viz import serve; serve({str(CROYDON)!r}, port={port})"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    with log.open("w") as out:
        # Its own session, so that anything left of it can be found and stopped.
        parent = subprocess.Popen(
            [sys.executable, "-c", code], env=env, stdout=out, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
    try:
        wait_for_server(f"http://127.0.0.1:{port}/readyz", parent, log, timeout=90)
        os.kill(parent.pid, signal.SIGKILL)  # no handler runs: only the kernel can tell
        parent.wait()
        deadline = time.monotonic() + 5  # seconds; the kernel signals the child at once
        while _port_open(port) and time.monotonic() < deadline:
            time.sleep(0.1)
        closed = not _port_open(port)
        while _group_alive(parent.pid) and time.monotonic() < deadline:
            time.sleep(0.1)  # a killed process is gone once the init process reaps it
    finally:
        leftover = _stop_group(parent)
    assert closed, "the solara server kept serving after yjsim viz was killed"
    assert not leftover, "a process of yjsim viz outlived it"


class _FinishedServer:
    """Stands for the solara server in :func:`serve`: it has already stopped cleanly."""

    def __init__(self, cmd, **kwargs) -> None:
        self.cmd, self.kwargs = cmd, kwargs

    def wait(self, timeout: float | None = None) -> int:
        return 0

    def poll(self) -> int:
        return 0


@pytest.fixture
def no_world(monkeypatch):
    """serve() without making the burned-in world first (a test of its own below)."""
    monkeypatch.setattr(sim.viz, "prepare_default_world", lambda scenario: None)


def test_serve_makes_the_default_burned_in_world_before_the_server_starts(
    monkeypatch, capsys, tmp_path
):
    from sim.viz.state import cache_dir

    started = []

    class Server(_FinishedServer):
        def __init__(self, cmd, **kwargs) -> None:
            super().__init__(cmd, **kwargs)
            started.append(sorted(cache_dir().glob("*.yjsnap")))

    monkeypatch.setenv("YJSIM_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(sim.viz.subprocess, "Popen", Server)
    serve(None, port=free_port())
    assert len(started) == 1 and len(started[0]) == 1  # the world was there first
    err = capsys.readouterr().err
    assert "preparing the burned-in world" in err and "ready in" in err


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.0.2.1"])
def test_serving_beyond_this_machine_warns_on_stderr(monkeypatch, capsys, host, no_world):
    monkeypatch.setattr(sim.viz.subprocess, "Popen", _FinishedServer)
    serve(None, host=host, port=free_port())
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1
    assert f"warning: serving on {host}, not a loopback address" in err


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "::1", "127.0.0.2"])
def test_serving_on_loopback_says_nothing(monkeypatch, capsys, host, no_world):
    monkeypatch.setattr(sim.viz.subprocess, "Popen", _FinishedServer)
    serve(None, host=host, port=free_port())
    assert capsys.readouterr().err == ""
    assert is_loopback(host)


def test_a_name_that_does_not_resolve_is_not_loopback():
    assert not is_loopback("no-such-host.invalid")
