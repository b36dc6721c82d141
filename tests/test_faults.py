"""Fault injection for the runner (issue 21, items 3-6 and 8): sizes, damaged results,
a scheduler that is not dask, operating-system errors and Ctrl-C.

Each test injects one fault and checks that it ends in one line that names the path,
with exit status 2 (bad input) or 3 (a fault), nothing half-written and no traceback.

The tests run as root here, and root ignores permission bits: a read-only folder is
made with ``chattr +i`` (the immutable flag, which binds root too) where the file
system supports it, and otherwise by making every write under the folder raise
``EROFS`` (see :func:`read_only`). A file that cannot be read is simulated the same
way (root can read any file).
"""

from __future__ import annotations

import builtins
import contextlib
import errno
import fcntl
import http.server
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pandas as pd
import psutil
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from conftest import write_experiment
from typer.testing import CliRunner

from sim import batch, simulation
from sim.batch import WorkerWatch, probe_scheduler, run_experiment
from sim.cli import EXIT_BAD_INPUT, EXIT_FAULT, app
from sim.experiment import MAX_RUNS, Experiment, ExperimentError, load_experiment
from sim.faults import Fault
from sim.population import MAX_CHILDREN
from sim.results import DAMAGED, read_manifest
from sim.scenario import Scenario, load_scenario
from sim.tomlfile import InputError

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
TINY = HERE / "experiment_scenarios" / "tiny.toml"


def experiment_file(tmp: Path, name: str = "exp", replicates: int = 3, **extra) -> Path:
    """The tiny borough against more detection, with this file's seed."""
    return write_experiment(tmp, name, replicates, seed=5, **extra)


SORT = ["scenario", "draw", "replicate"]


def _cli(*args: str) -> tuple[int, str]:
    """Run the command in this process; its exit status and its stderr."""
    result = CliRunner().invoke(app, list(args))
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception  # a traceback: the test fails here with it
    return result.exit_code, result.stderr


def _one_line(stderr: str, *needles: str) -> str:
    lines = [ln for ln in stderr.splitlines() if ln.startswith("yjsim: error") or "fault" in ln]
    assert len(lines) == 1, stderr
    assert "Traceback" not in stderr, stderr
    for n in needles:
        assert n in lines[0], lines[0]
    return lines[0]


def _frame(out: Path, kind: str) -> pd.DataFrame:
    files = sorted((out / kind).glob("*.parquet"))
    frame = pd.concat([pd.read_parquet(f) for f in files], ignore_index=True)
    return frame.sort_values(SORT + (["week"] if kind == "timeseries" else [])).reset_index(
        drop=True
    )


@contextlib.contextmanager
def read_only(folder: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """``folder`` and all below it read-only for the duration; yields how.

    ``chattr -R +i`` where supported (ext4 here: it binds root, who ignores permission
    bits); otherwise every write call under ``folder`` (open for writing, mkdir,
    replace, unlink) raises EROFS as a read-only file system would.
    """
    done = subprocess.run(["chattr", "-R", "+i", str(folder)], capture_output=True)
    if done.returncode == 0:
        try:
            yield "chattr"
        finally:
            subprocess.run(["chattr", "-R", "-i", str(folder)], check=True)
        return
    root = str(folder.resolve())

    def under(path) -> bool:
        return str(Path(os.fspath(path)).resolve()).startswith(root)

    def refuse(path) -> None:
        raise OSError(errno.EROFS, "Read-only file system", os.fspath(path))

    real_open, real_mkdir, real_replace = builtins.open, os.mkdir, os.replace

    def fake_open(file, mode="r", *a, **k):
        if isinstance(file, str | os.PathLike) and any(c in mode for c in "wax+") and under(file):
            refuse(file)
        return real_open(file, mode, *a, **k)

    def fake_mkdir(path, *a, **k):
        if under(path):
            refuse(path)
        return real_mkdir(path, *a, **k)

    def fake_replace(src, dst, *a, **k):
        if under(src) or under(dst):
            refuse(dst)
        return real_replace(src, dst, *a, **k)

    monkeypatch.setattr(builtins, "open", fake_open)
    monkeypatch.setattr(os, "mkdir", fake_mkdir)
    monkeypatch.setattr(os, "replace", fake_replace)
    yield "monkeypatch"


def _no_cluster(*_a, **_k):
    raise AssertionError("a cluster was started")


# -- item 3: sizes --------------------------------------------------------------------


def test_population_bound_is_documented_and_enforced():
    """100,000,000 children validated before; now the bound is in the register's doc."""
    sc = Scenario(name="x")
    doc = {r.name: r.doc for r in sc.register()}["population.population_10_17"]
    assert "2,000,000" in doc and "London" in doc
    assert MAX_CHILDREN == 2_000_000
    for stem in ("population_too_large", "boroughs_too_large"):
        with pytest.raises(InputError) as info:
            load_scenario(HERE / "bad_scenarios" / f"{stem}.toml")
        assert "\n" not in str(info.value)


def test_workers_above_the_cores_are_refused_unless_allowed(tmp_path, monkeypatch):
    seen: list[int | None] = []

    def fake_run(path, out, workers, scheduler, progress, snapshots=None):
        seen.append(workers)
        raise Fault(out, "stopped here by the test")

    monkeypatch.setattr(batch, "run_experiment", fake_run)
    exp = experiment_file(tmp_path)
    too_many = str((os.cpu_count() or 1) + 1)
    code, err = _cli("experiment", str(exp), "--out", str(tmp_path / "o"), "--workers", too_many)
    assert code == EXIT_BAD_INPUT
    _one_line(err, "--workers", "--allow-more-workers")
    assert seen == []  # refused before anything started
    code, err = _cli(
        "experiment",
        str(exp),
        "--out",
        str(tmp_path / "o"),
        "--workers",
        too_many,
        "--allow-more-workers",
    )
    assert code == EXIT_FAULT and seen == [int(too_many)]


def test_a_plan_over_the_limit_is_refused_before_its_run_list_is_made(monkeypatch):
    """replicates = 100000 with draws = 10000 died with a MemoryError building 2e9 specs."""

    def no_runs(self):
        raise AssertionError("the run list was built")

    monkeypatch.setattr(Experiment, "runs", no_runs)
    start = time.monotonic()
    with pytest.raises(ExperimentError) as info:
        load_experiment(HERE / "bad_experiments" / "plan_too_large.toml")
    assert time.monotonic() - start < 5
    msg = str(info.value)
    assert "1,000,000,000 runs (100,000 replicates x 10,000 draws x 1 scenarios)" in msg
    assert f"{MAX_RUNS:,}" in msg


# -- item 4: damaged results -------------------------------------------------------------


@pytest.fixture(scope="module")
def finished(tmp_path_factory) -> Path:
    """A finished 6-run experiment (kept pristine: tests copy it)."""
    tmp = tmp_path_factory.mktemp("finished")
    out = tmp / "out"
    result = run_experiment(experiment_file(tmp), out, workers=1, progress=False)
    assert result.succeeded == 6 and result.failed == 0
    return out


def _copy(finished: Path, tmp_path: Path) -> Path:
    out = tmp_path / "out"
    shutil.copytree(finished, out)
    return out


DAMAGES: dict[str, Callable[[Path], None]] = {
    "truncated": lambda p: p.write_bytes(p.read_bytes()[: p.stat().st_size // 2]),
    "emptied": lambda p: p.write_bytes(b""),
    "not_parquet": lambda p: p.write_text("this is not a Parquet file\n"),
    "folder": lambda p: (p.unlink(), p.mkdir()),
}


def test_damaged_parts_are_named_moved_aside_and_run_again(finished, tmp_path, capsys):
    """Four kinds of damage, one part each; before, all four counted as done."""
    out = _copy(finished, tmp_path)
    parts = sorted((out / "summary").glob("*.parquet"))
    damaged = {}
    for (kind, damage), part in zip(DAMAGES.items(), parts, strict=False):
        folder = "timeseries" if kind == "folder" else "summary"
        target = out / folder / part.name
        damage(target)
        damaged[kind] = target
    stray = out / "summary" / "notes.parquet"
    stray.write_text("not ours")
    foreign = out / "summary" / "other__d0000__r00099.parquet"
    shutil.copy(parts[-1], foreign)
    capsys.readouterr()
    result = run_experiment(_exp_of(out), out, workers=1, progress=False)
    err = capsys.readouterr().err
    assert "Traceback" not in err
    for kind, path in damaged.items():
        lines = [ln for ln in err.splitlines() if str(path) in ln]
        assert len(lines) == 1 and "damaged" in lines[0], (kind, err)
        assert (out / DAMAGED / path.parent.name / path.name).exists()
    for path in (stray, foreign):
        lines = [ln for ln in err.splitlines() if str(path) in ln]
        assert len(lines) == 1 and "ignored" in lines[0], err
        assert path.exists()
    assert (result.skipped, result.succeeded, result.failed) == (2, 4, 0)
    stray.unlink()
    foreign.unlink()
    for kind in ("summary", "timeseries"):
        pd.testing.assert_frame_equal(_frame(out, kind), _frame(finished, kind), check_exact=True)


def _exp_of(out: Path) -> Path:
    return Path(read_manifest(out)["experiment_file"])


def test_the_report_names_damaged_and_foreign_parts_and_leaves_them_out(finished, tmp_path):
    """Before: an ArrowInvalid traceback, and "7 of 6 runs" with a foreign part."""
    from sim.report import write_report

    out = _copy(finished, tmp_path)
    parts = sorted((out / "summary").glob("*.parquet"))
    DAMAGES["truncated"](parts[0])
    DAMAGES["folder"](parts[1])
    foreign = out / "summary" / "other__d0000__r00099.parquet"
    shutil.copy(parts[-1], foreign)
    lines: list[str] = []
    page = write_report(out, log=lines.append)
    assert len(lines) == 3, lines
    for path, word in ((parts[0], "damaged"), (parts[1], "damaged"), (foreign, "not a part")):
        assert any(str(path) in ln and word in ln for ln in lines), lines
    md = page.with_suffix(".md").read_text()
    assert "4 of 6 runs finished" in md
    assert "Parts left out" in md and all(ln in md for ln in lines)


def test_a_rerun_with_nothing_left_starts_no_cluster_and_names_strays(
    finished, tmp_path, monkeypatch, capsys
):
    """Before: a cluster started (14 s) to do nothing."""
    out = _copy(finished, tmp_path)
    foreign = out / "summary" / "other__d0000__r00099.parquet"
    shutil.copy(next((out / "summary").glob("*.parquet")), foreign)
    monkeypatch.setattr(batch, "_start_cluster", _no_cluster)
    result = run_experiment(_exp_of(out), out, workers=1, progress=False)
    assert (result.runs, result.skipped, result.succeeded) == (6, 6, 0)
    assert "nothing to do" in result.describe()
    assert str(foreign) in capsys.readouterr().err


# -- item 5: a scheduler that is not dask ---------------------------------------------------


@contextlib.contextmanager
def _server(kind: str) -> Iterator[str]:
    """A loopback server on a free port for the duration: it never answers, speaks HTTP,
    or greets like SSH. Its threads are daemons and it is closed on exit."""
    if kind == "http":
        httpd = http.server.ThreadingHTTPServer(
            ("127.0.0.1", 0), http.server.BaseHTTPRequestHandler
        )
        thread = threading.Thread(target=httpd.serve_forever, daemon=True)
        thread.start()
        try:
            yield f"tcp://127.0.0.1:{httpd.server_address[1]}"
        finally:
            httpd.shutdown()
            httpd.server_close()
        return
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(8)
    sock.settimeout(0.2)
    stop = threading.Event()
    held: list[socket.socket] = []

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            held.append(conn)
            if kind == "banner":
                conn.sendall(b"SSH-2.0-OpenSSH_9.6\r\n")

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"tcp://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        stop.set()
        thread.join(5)
        for c in held:
            c.close()
        sock.close()


def _bounded(seconds: float, fn: Callable[[], object]) -> object:
    """``fn()`` in a daemon thread; fail if it takes longer than ``seconds`` (a hang)."""
    box: dict[str, object] = {}

    def target() -> None:
        try:
            box["value"] = fn()
        except BaseException as e:  # handed to the test
            box["error"] = e

    t = threading.Thread(target=target, daemon=True)
    t.start()
    t.join(seconds)
    assert not t.is_alive(), f"still waiting after {seconds} s"
    if "error" in box:
        raise box["error"]  # type: ignore[misc]
    return box.get("value")


@pytest.mark.parametrize("kind", ["silent", "http", "banner"])
def test_a_port_that_is_not_dask_fails_within_the_timeout(kind, tmp_path, monkeypatch):
    """Before: an HTTP port or a silent listener hung for more than 150 s."""
    monkeypatch.setattr(batch, "CONNECT_TIMEOUT_S", 2)
    with _server(kind) as address:
        start = time.monotonic()
        with pytest.raises(Fault) as info:
            _bounded(
                30,
                lambda: run_experiment(
                    experiment_file(tmp_path), tmp_path / "o", scheduler=address, progress=False
                ),
            )
        assert time.monotonic() - start < 10
    assert str(info.value).startswith(address) and "dask" in str(info.value)
    assert not (tmp_path / "o").exists()


def test_a_port_that_is_not_dask_exits_with_the_fault_status(tmp_path, monkeypatch):
    monkeypatch.setattr(batch, "CONNECT_TIMEOUT_S", 1)
    with _server("http") as address:
        code, err = _bounded(
            30,
            lambda: _cli(
                "experiment",
                str(experiment_file(tmp_path)),
                "--out",
                str(tmp_path / "o"),
                "--scheduler",
                address,
            ),
        )
    assert code == EXIT_FAULT
    _one_line(err, address, "no dask handshake within 1 s")


def test_probe_accepts_a_real_scheduler():
    from distributed import LocalCluster

    with LocalCluster(n_workers=0, processes=False, dashboard_address=None) as cluster:
        probe_scheduler(cluster.scheduler_address, timeout=5)


def test_an_external_cluster_without_workers_is_said_once_and_its_return_too():
    watch = WorkerWatch("tcp://h:8786", limit_s=60)
    assert watch.see(2, 0.0) is None
    assert watch.see(0, 10.0) is None
    assert watch.see(0, 69.0) is None
    line = watch.see(0, 70.0)
    assert line is not None and "no worker for 60 s" in line and "rerun" in line
    assert watch.see(0, 200.0) is None  # once
    assert "again" in (watch.see(1, 201.0) or "")
    assert watch.see(1, 202.0) is None


def test_an_external_cluster_that_loses_its_only_worker_says_so(tmp_path, monkeypatch, capsys):
    """Before: the batch waited without a word. The "external" cluster is a LocalCluster
    started here (loopback); its worker is retired mid-batch, then one is started again
    and the batch finishes."""
    from distributed import LocalCluster

    monkeypatch.setattr(batch, "NO_WORKERS_WARN_S", 1)
    monkeypatch.setattr(batch, "LOOK_EVERY_S", 0.1)
    exp = experiment_file(tmp_path, replicates=4, chunk=1)
    out = tmp_path / "out"
    with LocalCluster(
        n_workers=1,
        processes=True,
        threads_per_worker=1,
        host="127.0.0.1",
        dashboard_address=None,
        silence_logs=logging.CRITICAL,
    ) as cluster:
        box: dict[str, object] = {}

        def go() -> None:
            try:
                box["result"] = run_experiment(
                    exp, out, scheduler=cluster.scheduler_address, progress=False
                )
            except BaseException as e:  # handed to the test
                box["error"] = e

        thread = threading.Thread(target=go, daemon=True)
        thread.start()
        deadline = time.monotonic() + 120
        while not list(out.glob("summary/*.parquet")):
            assert time.monotonic() < deadline and thread.is_alive(), box
            time.sleep(0.05)
        cluster.scale(0)
        while "no worker for 1 s" not in (seen := capsys.readouterr().err):
            assert time.monotonic() < deadline and thread.is_alive(), box
            time.sleep(0.1)
        assert "rerun the same command to resume" in seen
        cluster.scale(1)
        thread.join(120)
    assert not thread.is_alive() and "error" not in box, box
    assert box["result"].failed == 0 and box["result"].succeeded == 8


# -- item 6: operating-system errors ----------------------------------------------------


def _tiny_run_file(tmp: Path) -> Path:
    path = tmp / "run.toml"
    path.write_text(f'extends = "{TINY}"\nname = "tiny-run"\n[run]\nyears = 1\nburn_in_years = 0\n')
    return path


@pytest.mark.parametrize("where", ["under_a_file", "name_too_long"])
def test_run_with_an_impossible_out_fails_before_simulating(where, tmp_path, monkeypatch):
    """Before: the run simulated first, then a NotADirectoryError or OSError traceback."""
    monkeypatch.setattr(simulation, "simulate", _no_cluster)
    (tmp_path / "afile").write_text("x")
    out = tmp_path / "afile" / "out" if where == "under_a_file" else tmp_path / ("n" * 300)
    code, err = _cli("run", str(_tiny_run_file(tmp_path)), "--out", str(out), "--no-progress")
    assert code == EXIT_BAD_INPUT
    _one_line(err, str(out))


def test_run_with_a_read_only_out_fails_before_simulating(tmp_path, monkeypatch):
    """Read-only by chattr +i (or EROFS by monkeypatch; see read_only)."""
    monkeypatch.setattr(simulation, "simulate", _no_cluster)
    ro = tmp_path / "ro"
    ro.mkdir()
    run_file = _tiny_run_file(tmp_path)
    with read_only(ro, monkeypatch):
        code, err = _cli("run", str(run_file), "--out", str(ro / "out"), "--no-progress")
    assert code == EXIT_FAULT
    _one_line(err, str(ro / "out"), "cannot write")
    assert not (ro / "out").exists()


def test_experiment_with_a_read_only_out_fails_before_the_cluster(tmp_path, monkeypatch):
    """Before: the cluster started, then a PermissionError traceback."""
    monkeypatch.setattr(batch, "_start_cluster", _no_cluster)
    ro = tmp_path / "ro"
    ro.mkdir()
    exp = experiment_file(tmp_path)
    with read_only(ro, monkeypatch):
        code, err = _cli("experiment", str(exp), "--out", str(ro / "out"), "--workers", "1")
    assert code == EXIT_FAULT
    _one_line(err, str(ro / "out"))


def test_a_rerun_in_a_read_only_results_folder_is_one_line(finished, tmp_path, monkeypatch):
    monkeypatch.setattr(batch, "_start_cluster", _no_cluster)
    out = _copy(finished, tmp_path)
    next((out / "summary").glob("*.parquet")).unlink()  # one run left to do
    with read_only(out, monkeypatch):
        code, err = _cli("experiment", str(_exp_of(out)), "--out", str(out), "--workers", "1")
    assert code == EXIT_FAULT
    _one_line(err, str(out), "cannot write")


def test_report_in_a_read_only_results_folder_is_one_line(finished, tmp_path, monkeypatch):
    out = _copy(finished, tmp_path)
    with read_only(out, monkeypatch):
        code, err = _cli("report", str(out))
    assert code == EXIT_FAULT
    _one_line(err, str(out / "report"), "cannot write")
    assert not (out / "report").exists()


def test_a_disk_that_fills_mid_batch_keeps_the_work_and_says_rerun(finished, tmp_path, monkeypatch):
    """ENOSPC from the part writes (injected by monkeypatch: no small file system is
    mounted by a test). Before: the failure-record write raised again, a traceback."""
    from sim import results

    out = _copy(finished, tmp_path)
    for p in sorted((out / "summary").glob("*.parquet"))[:2]:
        p.unlink()
    real = results.write_part

    def full(table, path):
        if path.parent.name == "failures":
            raise OSError(errno.ENOSPC, "No space left on device", str(path))
        return real(table, path)

    def worker_full(*_a, **_k):
        raise OSError(errno.ENOSPC, "No space left on device", "part")

    monkeypatch.setattr(batch, "write_part", full)
    monkeypatch.setattr(batch, "run_chunk", worker_full)
    with pytest.raises(Fault) as info:
        run_experiment(_exp_of(out), out, workers=1, progress=False)
    msg = str(info.value)
    assert "no space left" in msg and msg.endswith("rerun the same command to resume")
    assert len(list((out / "summary").glob("*.parquet"))) == 4  # the finished runs are kept


@contextlib.contextmanager
def small_disk(path: Path) -> Iterator[bool]:
    """A 256 KiB tmpfs at ``path`` (room for about 3 tiny runs' parts) if this machine
    lets us mount one (root here); yields whether it did, and unmounts it after."""
    path.mkdir()
    mounted = (
        subprocess.run(
            ["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(path)], capture_output=True
        ).returncode
        == 0
    )
    try:
        yield mounted
    finally:
        if mounted:  # lazily: a worker may still hold a file open for a moment
            subprocess.run(["umount", "-l", str(path)], check=True)


def test_a_full_disk_mid_batch_is_one_line_and_resumes_to_the_same_result(
    finished, tmp_path, monkeypatch, capfd
):
    """A real full disk: the results folder on a 256 KiB tmpfs (where mounting is not
    allowed, ENOSPC is injected into every write instead, as in the test above).
    Before: the failure-record write raised ENOSPC again, a traceback."""
    exp = experiment_file(tmp_path)  # the same runs as the ``finished`` fixture
    small = tmp_path / "small"
    with small_disk(small) as mounted:
        if not mounted:

            def worker_full(*_a, **_k):
                raise OSError(errno.ENOSPC, "No space left on device", "part")

            monkeypatch.setattr(batch, "run_chunk", worker_full)
        try:
            result = run_experiment(exp, small / "out", workers=1, progress=False)
        except Fault as e:  # the failure records did not fit either
            assert str(e).endswith("rerun the same command to resume"), e
            assert "no space left" in str(e) and str(e).startswith(str(small / "out")), e
        else:  # they fitted: the runs that did not are recorded as failed
            assert result.failed > 0 and result.succeeded < 6
        err = capfd.readouterr().err
        assert "Traceback" not in err and "Compute Failed" not in err, err
        shutil.copytree(small / "out", tmp_path / "big")
    monkeypatch.undo()
    result = run_experiment(exp, tmp_path / "big", workers=1, progress=False)
    assert result.failed == 0 and result.skipped + result.succeeded == 6
    for kind in ("summary", "timeseries"):
        pd.testing.assert_frame_equal(
            _frame(tmp_path / "big", kind), _frame(finished, kind), check_exact=True
        )


def test_a_scenario_name_too_long_for_a_file_name_is_bad_input(tmp_path):
    """Before: OSError (file name too long) from the first part's write."""
    long = tmp_path / "long.toml"
    long.write_text(f'extends = "{TINY}"\nname = "{"x" * 220}"\n')
    exp = tmp_path / "e.toml"
    exp.write_text(f'name = "e"\nscenarios = ["{TINY}", "{long}"]\nreplicates = 1\n')
    code, err = _cli("experiment", str(exp), "--out", str(tmp_path / "o"))
    assert code == EXIT_BAD_INPUT
    _one_line(err, str(exp), "long.toml", "too long for a results file name")
    assert not (tmp_path / "o").exists()


def test_an_unreadable_extends_parent_is_one_line(tmp_path, monkeypatch):
    """Unreadable by monkeypatch (root reads every file): open raises EACCES."""
    parent = tmp_path / "parent.toml"
    parent.write_text('name = "p"\n')
    child = tmp_path / "child.toml"
    child.write_text('extends = "parent.toml"\nname = "c"\n')
    real_open = builtins.open

    def fake_open(file, *a, **k):
        if isinstance(file, str | os.PathLike) and Path(file).name == "parent.toml":
            raise PermissionError(errno.EACCES, "Permission denied", os.fspath(file))
        return real_open(file, *a, **k)

    monkeypatch.setattr(builtins, "open", fake_open)
    code, err = _cli("validate", str(child))
    assert code == EXIT_BAD_INPUT
    _one_line(err, "parent.toml", "permission denied")


@pytest.mark.parametrize("text", ["{not json", "[]", '{"name": "x"}', ""])
def test_a_broken_manifest_is_one_line_for_report(text, finished, tmp_path):
    """Before: a JSONDecodeError or KeyError traceback."""
    out = _copy(finished, tmp_path)
    (out / "experiment.json").write_text(text)
    code, err = _cli("report", str(out))
    assert code == EXIT_FAULT
    _one_line(err, str(out / "experiment.json"), "damaged")
    assert not (out / "report").exists()


def test_check_fit_with_a_column_it_cannot_apply_writes_nothing(tmp_path):
    """Before: the report folder was made, then a ScenarioError traceback."""
    work = tmp_path / "calibration"
    shutil.copytree(HERE / "calibration", work, ignore=shutil.ignore_patterns("runs", "*.parquet"))
    scen = tmp_path / "experiment_scenarios"
    shutil.copytree(HERE / "experiment_scenarios", scen)
    for f in scen.glob("*.toml"):  # as test_calibration does: the repo's Croydon file
        f.write_text(
            f.read_text().replace(
                '"../../scenarios/croydon-2018.toml"',
                f'"{(ROOT / "scenarios" / "croydon-2018.toml").as_posix()}"',
            )
        )
    table = pa.table(
        {
            "justice.detection_scale": [1.0, 1.1],
            "behaviour.no_such": [0.1, 0.2],
            "weight": [0.5, 0.5],
        }
    )
    pq.write_table(table, work / "posterior-smoke.parquet")
    code, err = _cli("check-fit", str(work / "smoke.toml"), "--seeds", "2", "--workers", "1")
    assert code == EXIT_BAD_INPUT
    _one_line(err, "posterior-smoke.parquet", "behaviour.no_such", "unknown parameter")
    assert not (work / "report-smoke").exists()


# -- item 8: Ctrl-C ---------------------------------------------------------------------------


def test_ctrl_c_exits_130_with_the_resume_line_and_no_worker_tracebacks(tmp_path):
    """SIGINT to the whole process group, as a terminal's Ctrl-C sends it. Before: 66
    lines of dask worker tracebacks and no line on resuming."""
    exp = experiment_file(tmp_path, name="ctrlc", replicates=20, chunk=1)
    out = tmp_path / "out"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "sim.cli",
            "experiment",
            str(exp),
            "--out",
            str(out),
            "--workers",
            "1",
            "--no-progress",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        # As a terminal starts it: SIGINT at its default. A child inherits an ignored
        # SIGINT, and Python then never raises KeyboardInterrupt; a test that ran before
        # this one in the same pytest worker can leave SIGINT ignored (the run then went
        # on to the end and exited 0, three fresh-clone CI runs in a row).
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    try:
        deadline = time.monotonic() + 120
        while not list((out / "summary").glob("*.parquet")) if (out / "summary").is_dir() else True:
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "no run finished in 120 s"
            time.sleep(0.05)
        children = psutil.Process(proc.pid).children(recursive=True)
        os.killpg(proc.pid, signal.SIGINT)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
    assert proc.returncode == 130, err
    assert "Traceback" not in err, err
    assert "rerun the same command to resume" in err
    assert len(err.splitlines()) <= 3, err
    _, alive = psutil.wait_procs(children, timeout=30)
    assert not alive
    n = len(list((out / "summary").glob("*.parquet")))
    assert 0 < n < 40


def test_output_cut_short_by_its_reader_is_not_a_fault():
    """``yjsim params | head``: the reader closes the pipe after the first line. Before:
    "yjsim: fault: ?: cannot read or write: Broken pipe" on stderr and exit 3, as if the
    machine had refused a write. Unix tools end quietly there, with SIGPIPE's status.
    The pipe is shrunk to one page, so the register (about 60 kB) cannot fit in it
    before the reader goes, and the writer always meets the closed pipe."""
    read_end, write_end = os.pipe()
    fcntl.fcntl(write_end, fcntl.F_SETPIPE_SZ, 4096)
    proc = subprocess.Popen(
        [sys.executable, "-m", "sim.cli", "params", "scenarios/croydon-2018.toml"],
        cwd=ROOT,
        stdout=write_end,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    os.close(write_end)
    with os.fdopen(read_end) as reader:
        first = reader.readline()
    _, err = proc.communicate(timeout=120)
    assert first.startswith("# parameter register"), first
    assert err == "", err
    assert proc.returncode == 128 + signal.SIGPIPE
