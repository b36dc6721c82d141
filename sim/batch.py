"""Running an experiment on dask.distributed, resumably.

:func:`run_experiment` runs every (scenario, draw, replicate) of an experiment
(:mod:`sim.experiment`) once, each with :func:`sim.simulation.simulate`:

- on a dask ``LocalCluster`` (one single-threaded worker process per core by default)
  or on a running scheduler given by address; the same code path either way;
- a task runs a chunk of runs and returns small status dicts, never a model, because
  one tiny run per task costs more in scheduling than in simulation;
- each run writes its own Parquet parts into the results folder (:mod:`sim.results`),
  whole or not at all; a rerun skips finished runs, so a batch killed at any moment
  resumes to exactly the uninterrupted result;
- a run that fails is recorded in ``failures/`` and the batch goes on.
"""

from __future__ import annotations

import contextlib
import math
import os
import signal
import sys
import threading
import time
import traceback
import uuid
import warnings
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sim import fork, simulation
from sim.experiment import Experiment, ExperimentError, RunSpec, load_experiment
from sim.faults import RESUME, Fault, check_writable, os_fault, remove_made
from sim.results import (
    FAILURES,
    SNAPSHOTS,
    RowContext,
    check_out,
    code_version,
    failure_table,
    finished_parts,
    locked,
    log_batch,
    new_manifest,
    remove_temporaries,
    summary_table,
    survey_parts,
    sweep_failures,
    timeseries_table,
    verify_parts,
    write_json,
    write_part,
    write_text,
)
from sim.scenario import Scenario
from sim.snapshot import Snapshot

# A Croydon 10-year run peaks at about 315 MB resident (measured with
# ru_maxrss); 2 GiB leaves room for boroughs six times larger before the
# nanny restarts a worker. London-scale runs need more: pass memory_limit.
DEFAULT_MEMORY_LIMIT = "2GiB"
# Chunks of at most this many runs, and about this many chunks per worker, so
# that a Croydon run (~10 s) dwarfs the per-task cost (~ms) yet the last
# chunks still spread over all workers.
MAX_CHUNK = 8
CHUNKS_PER_WORKER = 4
# Seconds to reach a scheduler given by address and hear its handshake, and for its
# first worker to join.
CONNECT_TIMEOUT_S = 15
WORKER_WAIT_S = 60
# Seconds an external cluster may have no worker during a batch before we say so.
NO_WORKERS_WARN_S = 60
LOOK_EVERY_S = 5.0  # how often the batch asks an external scheduler how many workers it has
# A dask handshake is a small message (a few hundred bytes); a first frame longer than
# this is some other protocol's greeting.
MAX_HANDSHAKE_BYTES = 1 << 20
# Seconds between plain progress lines when stderr is not a terminal.
LOG_EVERY_S = 30.0


# -- the task a worker runs -------------------------------------------------------------


def _error_text(exc: BaseException) -> str:
    """One line: the exception and where it was raised."""
    frames = traceback.extract_tb(exc.__traceback__)
    where = f" (at {Path(frames[-1].filename).name}:{frames[-1].lineno})" if frames else ""
    text = " ".join(f"{type(exc).__name__}: {exc}".split())
    return text + where


def _report_event(topic: str | None, msg: dict) -> None:
    if topic is None:
        return
    try:
        from distributed import get_worker

        get_worker().log_event(topic, msg)
    except ValueError:  # not inside a dask worker (called directly)
        pass


def run_one(
    run: RunSpec,
    sc: Scenario,
    out: Path,
    outputs: Sequence[str],
    ctx: RowContext,
    draw: Mapping[str, float] | None = None,
    burned_in: Snapshot | None = None,
) -> dict[str, Any]:
    """Run one (scenario, draw, replicate), write its parts, and say how it went.

    ``draw`` is a parameter set applied over the scenario (see :func:`simulate`);
    ``burned_in`` a world to start from at its first measured week (:mod:`sim.fork`).
    An exception in the model is recorded in ``failures/`` and returned as
    ``ok: False``; only writing the parts may raise (then the chunk fails).
    """
    start, cpu = time.perf_counter(), time.process_time()
    try:
        done = simulation.simulate(
            sc, run.seed, draw, series="timeseries" in outputs, start=burned_in
        )
        timings = done.timings
        tables = {}
        t0 = time.perf_counter()
        if "timeseries" in outputs:
            tables["timeseries"] = timeseries_table(run, done.series)
        if "summary" in outputs:
            tables["summary"] = summary_table(run, done.scenario, done.summary, ctx)
        timings["summarise_s"] += time.perf_counter() - t0
    except Exception as exc:
        error = _error_text(exc)
        write_part(failure_table(run, error, traceback.format_exc()), out / FAILURES / run.part)
        return {
            "part": run.part,
            "ok": False,
            "error": error,
            "total_s": time.perf_counter() - start,
        }
    t0 = time.perf_counter()
    for kind in ("timeseries", "summary"):  # the summary last: it marks the run done
        if kind in tables:
            write_part(tables[kind], out / kind / run.part)
    (out / FAILURES / run.part).unlink(missing_ok=True)  # an earlier failure, now retried
    timings["write_s"] = time.perf_counter() - t0
    return {
        "part": run.part,
        "ok": True,
        "error": "",
        **timings,
        "total_s": time.perf_counter() - start,
        "cpu_s": time.process_time() - cpu,  # below total_s when the cores are shared
    }


def shared_burn_in(
    source: Scenario, seed: int, store: Path, source_version: str | None = None
) -> tuple[Snapshot, str, float]:
    """The burned-in world of ``source`` with ``seed``, kept in the folder ``store`` (a
    resumed batch, or an earlier experiment sharing the store, finds it there): see
    :func:`sim.fork.stored_burn_in`. Returns it, its file and the seconds spent making it."""
    version = source_version or code_version()
    snap, path, made_s = fork.stored_burn_in(source, seed, store, version)
    return snap, str(path), made_s


def run_chunk(
    chunk: list[tuple[RunSpec, Scenario, Scenario | None]],
    out: str,
    outputs: Sequence[str],
    ctx: RowContext,
    topic: str | None = None,
    store: str | None = None,
    keep: bool = False,
) -> list[dict[str, Any]]:
    """The dask task: run a chunk of runs one after another; return their status dicts.

    Each run is (its spec, its scenario, the scenario whose burn-in it starts from or
    None). Runs that share a burn-in are adjacent in a chunk (:func:`_chunks`): the
    burn-in is made (or read) once for them, in the folder ``store`` (default
    ``out/snapshots``), and its file is removed when all of them have succeeded unless
    ``keep`` (a store shared by experiments).
    """
    folder = Path(store) if store is not None else Path(out) / SNAPSHOTS
    # The source's hash (a read of every module) once a chunk, not once a run.
    version = code_version() if any(source is not None for _, _, source in chunk) else ""
    results = []
    held: tuple[str, Snapshot, str] | None = None  # (key, snapshot, file) of the last group
    group_ok: dict[str, bool] = {}
    for run, sc, source in chunk:
        if all((Path(out) / kind / run.part).is_file() for kind in outputs):
            # Done by an earlier attempt of this chunk (dask retries a chunk whose worker died).
            result = {"part": run.part, "ok": True, "error": "", "skipped": True}
        elif source is None:
            result = run_one(run, sc, Path(out), outputs, ctx)
        else:
            key = fork.burn_in_key(source, run.seed, version)
            made_s = 0.0
            try:
                if held is None or held[0] != key:
                    held = None  # let the last group's world go before making the next
                    snap, path, made_s = shared_burn_in(source, run.seed, folder, version)
                    held = (key, snap, path)
            except Exception as exc:  # the burn-in itself failed: every run of it fails
                error = f"the shared burn-in failed: {_error_text(exc)}"
                write_part(
                    failure_table(run, error, traceback.format_exc()),
                    Path(out) / FAILURES / run.part,
                )
                result = {"part": run.part, "ok": False, "error": error}
            else:
                result = run_one(run, sc, Path(out), outputs, ctx, burned_in=held[1])
                result["burn_in_s"] = made_s
                group_ok[held[2]] = group_ok.get(held[2], True) and result["ok"]
        _report_event(topic, {"part": run.part, "ok": result["ok"]})
        results.append(result)
    for path, ok in group_ok.items():
        if ok and not keep:  # every run of the group is done: nothing starts from it again
            Path(path).unlink(missing_ok=True)
    return results


def worker_info() -> tuple[str, str]:
    """Run on each worker of a given scheduler before a batch: its source hash, its malloc trim."""
    return code_version(), os.environ.get("MALLOC_TRIM_THRESHOLD_", "")


# -- the batch --------------------------------------------------------------------------


@dataclass
class BatchResult:
    """What a batch did: run counts, failures and where the time went."""

    out: Path
    runs: int
    skipped: int
    succeeded: int
    failed: int
    failures: list[dict[str, Any]]
    workers: int
    cluster_start_s: float
    wall_s: float
    timings: dict[str, float] = field(default_factory=dict)
    per_run: list[dict[str, Any]] = field(default_factory=list)

    def describe(self) -> str:
        """One line for the terminal."""
        if self.workers == 0:  # see run_experiment: nothing was left to do
            return (
                f"{self.runs} runs: all already done, nothing to do (no cluster started); "
                f"results in {self.out}"
            )
        text = (
            f"{self.runs} runs: {self.skipped} already done, {self.succeeded} ran, "
            f"{self.failed} failed ({self.wall_s:.1f} s on {self.workers} workers); "
            f"results in {self.out}"
        )
        if self.failed:
            text += f"; failures listed in {self.out / FAILURES}"
        return text


class _Progress:
    """A tqdm bar on a terminal, plain log lines otherwise, or nothing."""

    def __init__(self, total: int, done_before: int, name: str, enabled: bool) -> None:
        self.total, self.enabled, self.name = total, enabled, name
        self.start = time.monotonic()
        self.last_log = -math.inf
        self.bar = None
        self.n = self.failed = 0
        if enabled and sys.stderr.isatty():
            from tqdm import tqdm

            self.bar = tqdm(
                total=total,
                desc=f"{name} ({done_before} already done)" if done_before else name,
                unit="run",
                file=sys.stderr,
                dynamic_ncols=True,
                bar_format="{l_bar}{bar}| {n_fmt}/{total_fmt} runs "
                "[{elapsed}<{remaining}, {rate_fmt}{postfix}]",
            )
            self.bar.set_postfix_str("0 failed")
        elif enabled:
            self._log(f"{total} runs to do ({done_before} already done)")

    def _log(self, text: str) -> None:
        print(f"yjsim: {self.name}: {text}", file=sys.stderr, flush=True)

    def update(self, n: int, failed: int) -> None:
        if not self.enabled or (n == self.n and failed == self.failed):
            return
        step, self.n, self.failed = n - self.n, n, failed
        if self.bar is not None:
            self.bar.update(step)
            self.bar.set_postfix_str(f"{failed} failed")
            return
        now = time.monotonic()
        if now - self.last_log >= LOG_EVERY_S or n == self.total:
            self.last_log = now
            elapsed = now - self.start
            left = elapsed / n * (self.total - n) if n else math.nan
            self._log(
                f"{n}/{self.total} runs done, {failed} failed, {_hms(elapsed)} elapsed, "
                f"about {_hms(left)} left"
            )

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def _hms(seconds: float) -> str:
    if not math.isfinite(seconds):
        return "?"
    s = round(seconds)
    return (
        f"{s // 3600}:{s % 3600 // 60:02d}:{s % 60:02d}" if s >= 3600 else f"{s // 60}:{s % 60:02d}"
    )


def probe_scheduler(address: str, timeout: float | None = None) -> None:
    """Check that ``address`` (tcp://host:port) is a dask scheduler before dask connects.

    A dask scheduler sends its handshake as soon as a connection opens. Dask's own
    connect waits for it with no time limit, so a port that accepts and says nothing
    (an HTTP server, a mistyped dashboard port) would hang it for good: here the first
    frame must arrive within ``timeout`` seconds and look like a handshake. Other
    schemes (tls://, ucx://) are left to dask. Raises :class:`~sim.faults.Fault`.
    ``timeout`` defaults to :data:`CONNECT_TIMEOUT_S`.
    """
    import socket
    import struct

    from distributed.comm.addressing import parse_address, parse_host_port

    try:
        scheme, loc = parse_address(address)
        if scheme != "tcp":
            return
        host, port = parse_host_port(loc)
    except (ValueError, TypeError) as e:
        raise ExperimentError(
            "--scheduler", "", f"not an address like tcp://host:8786: {e}"
        ) from None
    timeout = CONNECT_TIMEOUT_S if timeout is None else timeout
    deadline = time.monotonic() + timeout
    try:
        with socket.create_connection((host, port), timeout=timeout) as sock:
            head = b""
            while len(head) < 8:
                sock.settimeout(max(deadline - time.monotonic(), 0.01))
                chunk = sock.recv(8 - len(head))
                if not chunk:
                    raise Fault(address, "closed the connection: not a dask scheduler")
                head += chunk
    except TimeoutError:
        raise Fault(
            address,
            f"no dask handshake within {timeout:g} s: not a dask scheduler "
            "(the scheduler's port is usually 8786; 8787 is its dashboard)",
        ) from None
    except OSError as e:
        raise Fault(address, f"cannot reach the scheduler: {e.strerror or e}") from None
    (size,) = struct.unpack("<Q", head)
    if not 0 < size <= MAX_HANDSHAKE_BYTES:
        raise Fault(address, "answered with something other than a dask handshake")


def _start_cluster(
    workers: int | None, scheduler: str | None, memory_limit: str
) -> tuple[Any, Any, int]:
    """A dask Client on a new LocalCluster or on a running scheduler."""

    from distributed import Client

    if scheduler is not None:
        if workers is not None:
            raise ExperimentError(
                "--workers",
                "",
                "applies to a local cluster; with --scheduler the cluster's own workers are used",
            )
        probe_scheduler(scheduler)
        try:
            client = Client(scheduler, timeout=CONNECT_TIMEOUT_S)
        except (OSError, TimeoutError, ValueError) as e:
            raise Fault(scheduler, f"cannot reach the scheduler: {e}") from None
        try:
            client.wait_for_workers(1, timeout=WORKER_WAIT_S)
        except TimeoutError:
            client.close()
            raise Fault(
                scheduler, f"no worker joined the scheduler within {WORKER_WAIT_S} s"
            ) from None
        return client, None, len(client.scheduler_info()["workers"])
    n = workers if workers is not None else (os.cpu_count() or 1)
    if n < 1:
        raise ExperimentError("--workers", "", f"expected at least 1 worker, got {n}")
    with warnings.catch_warnings():
        # The scheduler's health endpoint falls back to a free port when another cluster
        # holds 8787; that is fine here (no dashboard is served), so say nothing.
        warnings.filterwarnings("ignore", message="Port .* is already in use")
        # The workers ignore Ctrl-C (they inherit SIGINT ignored, and Python keeps it so):
        # this process stops them in order, instead of each printing a traceback.
        previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
        try:
            cluster = _local_cluster(n, memory_limit)
        finally:
            signal.signal(signal.SIGINT, previous)
    return Client(cluster), cluster, n


class WorkerWatch:
    """Says when an external cluster has had no worker for ``limit_s`` seconds (and when
    one is back): dask itself waits for workers without a word."""

    def __init__(self, address: str, limit_s: float | None = None) -> None:
        self.address = address
        self.limit_s = NO_WORKERS_WARN_S if limit_s is None else limit_s
        self.since: float | None = None
        self.warned = False

    def see(self, n_workers: int, now: float) -> str | None:
        """The line to print, if any, after seeing ``n_workers`` at time ``now`` (seconds)."""
        if n_workers > 0:
            self.since = None
            if self.warned:
                self.warned = False
                return f"{self.address} has {n_workers} worker(s) again; going on"
            return None
        if self.since is None:
            self.since = now
        if not self.warned and now - self.since >= self.limit_s:
            self.warned = True
            return (
                f"{self.address} has had no worker for {self.limit_s:g} s; the batch waits "
                f"for one to join (start a worker, or press Ctrl-C and later {RESUME})"
            )
        return None


def _local_cluster(n: int, memory_limit: str) -> Any:
    import logging

    import dask
    from distributed import LocalCluster

    # Dask's nanny sets MALLOC_TRIM_THRESHOLD_=65536 in its workers, which turns off
    # glibc's adaptive mmap threshold: every large numpy temporary is then mapped and
    # unmapped again, and a Croydon run takes twice the CPU time (14.6 s against 8.0 s
    # measured in one process). None removes it from the workers' environment.
    with dask.config.set({"distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_": None}):
        return LocalCluster(
            n_workers=n,
            threads_per_worker=1,  # one run at a time per process: the step is single-threaded
            processes=True,
            memory_limit=memory_limit,
            host="127.0.0.1",
            dashboard_address=None,
            # Errors in a task come back to the batch and are recorded in failures/;
            # the workers' own log of them (a traceback each) would only be noise.
            silence_logs=logging.CRITICAL,
        )


def _chunks(runs: list[RunSpec], size: int) -> list[list[RunSpec]]:
    """Chunks of about ``size`` runs that never split a (draw, replicate): the runs that
    start from one shared burn-in stay in one task, which makes the burn-in once."""
    chunks: list[list[RunSpec]] = []
    current: list[RunSpec] = []
    for run in runs:
        if len(current) >= size and (run.draw, run.replicate) != (
            current[-1].draw,
            current[-1].replicate,
        ):
            chunks.append(current)
            current = []
        current.append(run)
    if current:
        chunks.append(current)
    return chunks


def run_experiment(
    path: Path,
    out: Path,
    workers: int | None = None,
    scheduler: str | None = None,
    progress: bool = True,
    memory_limit: str = DEFAULT_MEMORY_LIMIT,
    snapshots: Path | None = None,
) -> BatchResult:
    """Run (or resume) an experiment into ``out``; return what was done.

    With a shared burn-in, the burned-in worlds are kept in ``out/snapshots`` while runs
    that start from them are unfinished; ``snapshots`` names a folder to keep them in
    instead, for good, so that later experiments with the same baseline world, seeds and
    draws read them rather than burn in again (:mod:`sim.fork`).

    Raises :class:`~sim.tomlfile.InputError` (an :class:`ExperimentError`, or the error
    of a scenario or posterior) for a bad experiment file, a plan over the size limit
    or a results folder of another experiment, and :class:`~sim.faults.Fault` for a
    results folder that cannot be written or a scheduler that does not answer; in every
    such case nothing is written and no cluster is left running. A fault during the
    batch (a full disk) keeps what was finished and says to rerun. Runs that fail are
    recorded in ``out/failures/`` and counted in the result; they are retried by the
    next rerun. If every run is already done, no cluster is started.
    """
    path, out = Path(path), Path(out)
    exp = load_experiment(path)
    manifest = check_out(out, exp)
    outputs = tuple(exp.spec.outputs)
    runs = exp.runs()
    plan = {r.part for r in runs}
    if manifest is not None and plan <= finished_parts(out, outputs):
        # Every run has its parts; if they all read, there is nothing to do (no cluster).
        surveys = [survey_parts(out / kind, plan) for kind in outputs]
        if not any(s.damaged for s in surveys):
            for s in surveys:
                for path in s.strays:
                    _warn(f"{path}: not a part of this experiment; ignored")
            return BatchResult(out, len(runs), len(runs), 0, 0, [], 0, 0.0, 0.0)
    made = check_writable(out)  # before the cluster starts: a fault here costs nothing
    if snapshots is not None:
        try:
            made += check_writable(Path(snapshots))
        except BaseException:
            remove_made(made)
            raise

    t_cluster = time.perf_counter()
    try:
        client, cluster, n_workers = _start_cluster(workers, scheduler, memory_limit)
    except BaseException:
        remove_made(made)
        raise
    cluster_start_s = time.perf_counter() - t_cluster
    try:
        here = code_version()
        if scheduler is not None:
            try:
                infos = list(client.run(worker_info).values())
            except Exception as e:  # e.g. the workers cannot import sim
                remove_made(made)
                raise ExperimentError(
                    "--scheduler", "", f"the workers at {scheduler} cannot run yjsim: {e}"
                ) from None
            theirs = {code for code, _ in infos}
            if any(trim for _, trim in infos):
                _warn(
                    "the workers run with MALLOC_TRIM_THRESHOLD_ set (dask's nanny sets 65536), "
                    "which makes a run about twice as slow; start them with it unset "
                    "(docs/experiments.md)"
                )
            if theirs != {here}:
                _warn(
                    f"the workers at {scheduler} see other yjsim source "
                    f"({', '.join(sorted(theirs))}) than this process ({here}); "
                    "if the model changed, restart them from this checkout"
                )
        out.mkdir(parents=True, exist_ok=True)
        with locked(out):
            manifest = check_out(out, exp)  # again, now that we hold the lock
            if manifest is None:
                manifest = new_manifest(exp)
                write_json(out / "experiment.json", manifest)
            elif manifest.get("code_version") != here:
                _warn(
                    f"{out} was started with model source {manifest.get('code_version')} and "
                    f"is resumed with {here}; if the model changed, results will mix the two "
                    "(DIR/batches.jsonl records each batch's source)"
                )
            for kind in (*outputs, FAILURES):
                (out / kind).mkdir(exist_ok=True)
            if not (out / "experiment.toml").exists():
                write_text(out / "experiment.toml", exp.text)
            remove_temporaries(out)
            finished = verify_parts(out, outputs, plan, _warn)
            result = _run_batch(
                exp,
                runs,
                finished,
                out,
                outputs,
                client,
                n_workers,
                progress,
                cluster_start_s,
                scheduler,
                snapshots,
            )
            log_batch(
                out,
                version=here,
                cluster=scheduler or f"local, {result.workers} workers",
                runs=result.runs,
                skipped=result.skipped,
                succeeded=result.succeeded,
                failed=result.failed,
                wall_s=result.wall_s,
            )
            return result
    except OSError as e:  # a full disk, a folder made read-only mid-batch
        raise os_fault(e, where=out, resumable=True) from None
    finally:
        with _interrupts_ignored():  # a second Ctrl-C while the workers stop says nothing
            client.close()
            if cluster is not None:
                cluster.close()


@contextlib.contextmanager
def _interrupts_ignored() -> Iterator[None]:
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def _warn(text: str) -> None:
    print(f"yjsim: warning: {text}", file=sys.stderr, flush=True)


def _run_batch(
    exp: Experiment,
    runs: list[RunSpec],
    finished: set[str],
    out: Path,
    outputs: tuple[str, ...],
    client: Any,
    n_workers: int,
    progress: bool,
    cluster_start_s: float,
    scheduler: str | None = None,
    snapshots: Path | None = None,
) -> BatchResult:
    from distributed import wait

    sweep_failures(out, finished)
    pending = [r for r in runs if r.part not in finished]
    size = exp.spec.chunk or max(
        1, min(MAX_CHUNK, math.ceil(len(pending) / (CHUNKS_PER_WORKER * max(n_workers, 1))))
    )
    ctx = RowContext.of(exp)
    topic = f"yjsim-runs-{uuid.uuid4().hex}"
    reported: dict[str, bool] = {}
    lock = threading.Lock()

    def on_event(event: tuple[float, dict]) -> None:
        msg = event[1]
        with lock:
            reported[msg["part"]] = bool(msg["ok"])

    bar = _Progress(len(pending), len(runs) - len(pending), exp.name, progress)
    watch = WorkerWatch(scheduler) if scheduler is not None else None
    last_look = -math.inf
    results: dict[str, dict[str, Any]] = {}
    start = time.perf_counter()
    client.subscribe_topic(topic, on_event)
    try:
        futures = {}
        for chunk in _chunks(pending, size):
            payload = [(r, exp.scenario_for(r), exp.source_for(r)) for r in chunk]
            fut = client.submit(
                run_chunk,
                payload,
                str(out),
                outputs,
                ctx,
                topic,
                str(snapshots) if snapshots is not None else None,
                snapshots is not None,
                pure=False,
            )
            futures[fut] = chunk
        waiting = set(futures)
        while waiting:
            try:
                done = wait(waiting, timeout=0.5, return_when="FIRST_COMPLETED").done
            except TimeoutError:
                done = set()
            for fut in done:
                waiting.discard(fut)
                chunk = futures.pop(fut)  # and let the cluster forget its result
                try:
                    for r in fut.result():
                        results[r["part"]] = r
                except Exception as exc:  # the chunk died (a killed worker, a write error)
                    error = f"the task failed: {_error_text(exc)}"
                    on_disk = finished_parts(out, outputs)
                    for run in chunk:
                        if run.part in on_disk:
                            results.setdefault(run.part, {"part": run.part, "ok": True})
                        elif run.part not in results:
                            write_part(
                                failure_table(run, error, traceback.format_exc()),
                                out / FAILURES / run.part,
                            )
                            results[run.part] = {"part": run.part, "ok": False, "error": error}
            if watch is not None and waiting and time.monotonic() - last_look >= LOOK_EVERY_S:
                last_look = time.monotonic()
                # n_workers=0: the count alone, not every worker's details.
                info = client.scheduler_info(n_workers=0)
                line = watch.see(int(info.get("n_workers", len(info["workers"]))), last_look)
                if line is not None:
                    _warn(line)
            with lock:
                merged = {**reported, **{k: v["ok"] for k, v in results.items()}}
            bar.update(len(merged), sum(not ok for ok in merged.values()))
    finally:
        bar.close()
        with contextlib.suppress(Exception):
            client.unsubscribe_topic(topic)
    wall = time.perf_counter() - start
    sweep_failures(out, finished_parts(out, outputs))
    by_part = {r.part: r for r in runs}
    failures = [
        {
            "scenario": by_part[p].scenario,
            "replicate": by_part[p].replicate,
            "draw": by_part[p].draw,
            "error": r.get("error", ""),
        }
        for p, r in results.items()
        if not r["ok"]
    ]
    timings: dict[str, float] = {}
    for r in results.values():
        for k in (
            "burn_in_s",
            "build_s",
            "simulate_s",
            "summarise_s",
            "write_s",
            "total_s",
            "cpu_s",
        ):
            if k in r:
                timings[k] = timings.get(k, 0.0) + r[k]
    return BatchResult(
        out=out,
        runs=len(runs),
        skipped=len(runs) - len(pending),
        succeeded=sum(r["ok"] for r in results.values()),
        failed=len(failures),
        failures=failures,
        workers=n_workers,
        cluster_start_s=cluster_start_s,
        wall_s=wall,
        timings=timings,
        per_run=list(results.values()),
    )
