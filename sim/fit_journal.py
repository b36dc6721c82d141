"""A fit's generation that survives an interruption: every simulation journalled as it ends.

pyabc saves a generation to its history only when the whole generation is done. A late
generation of the validity fit takes hours (generation 7: 4,506 simulations, 1.9 hours on
2 cores), so a Ctrl-C, a laptop's sleep or the end of a machine's session lost all of
it: in this project's own work, generation 8 was started three times and never saved.

:class:`JournalledSampler` is pyabc's multicore sampler (the same workers, the same
order rule) with one addition: each worker appends every simulation it finishes to a
journal, one JSON line each (its evaluation number, whether it was accepted and, if so,
its parameters, weight, distance and statistics). When the fit is resumed, the
generation in progress starts from its journal: the journalled evaluations count, the
accepted ones are kept, and only the rest are simulated.

Why the journalled particles are valid draws of the resumed generation. A generation's
proposal (the kernel around the last saved generation), its threshold (that
generation's weighted median distance) and an accepted particle's importance weight
(prior density over the proposal's) are all fixed by the saved history. A journal is
reused only when its key matches: the fit's fingerprint, the generation and its
threshold (to the bit); anything else in the journal folder is stale and is deleted.

What is lost: the simulations running at the interruption (at most one per worker).
pyabc keeps the first ``n`` accepted particles in the order their evaluations started,
so that slow simulations are not under-represented; the lost ones leave at most one gap
per worker in that order, a negligible bias against slow simulations (at least
hundreds of evaluations a generation against two workers).

The journal is JSON, never pickle: it is read back with :func:`json.loads` only.
Journal files: ``<history>.journal/t<generation>-<key>-<pid>.jsonl``.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import time
from collections.abc import Callable
from ctypes import c_longlong
from pathlib import Path
from typing import Any

import numpy as np
import pyabc
from pyabc.sampler.multicore_evaluation_parallel import DONE
from pyabc.sampler.multicorebase import get_if_worker_healthy
from pyabc.sampler.util import get_mp_context

JOURNAL_SUFFIX = ".jsonl"


def generation_key(fingerprint: str, t: int, epsilon: float) -> str:
    """The key of generation ``t``'s journal: the fit, the generation and its threshold
    (``float.hex``, so equal keys mean bit-identical thresholds)."""
    text = f"{fingerprint}|{int(t)}|{float(epsilon).hex()}"
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _plain(value: Any) -> Any:
    """A numpy scalar as the Python number JSON writes; anything else unchanged."""
    return value.item() if isinstance(value, np.generic) else value


def particle_record(evaluation: int, particle: pyabc.Particle) -> dict[str, Any]:
    """One journal line: a rejected evaluation is its number and when it ended (``at``,
    seconds since the epoch, for the pace ``yjsim fit-status`` reports) alone."""
    at = round(time.time(), 1)
    if not particle.accepted:
        return {"evaluation": evaluation, "accepted": False, "at": at}
    return {
        "evaluation": evaluation,
        "accepted": True,
        "at": at,
        "model": int(particle.m),
        "parameter": {k: _plain(v) for k, v in particle.parameter.items()},
        "weight": float(particle.weight),
        "distance": float(particle.distance),
        "sum_stat": {k: _plain(v) for k, v in particle.sum_stat.items()},
        "proposal_id": int(particle.proposal_id),
    }


def particle_of(record: dict[str, Any]) -> pyabc.Particle:
    """An accepted particle back from its journal line."""
    return pyabc.Particle(
        m=record["model"],
        parameter=pyabc.Parameter(record["parameter"]),
        weight=record["weight"],
        sum_stat=record["sum_stat"],
        distance=record["distance"],
        accepted=True,
        proposal_id=record["proposal_id"],
    )


def read_journal(files: list[Path]) -> list[dict[str, Any]]:
    """Every complete line of ``files``, by evaluation number. A line cut short by the
    interruption (only a file's last line can be) is skipped, as its simulation is lost."""
    records = []
    for path in files:
        for line in path.read_text(encoding="utf-8").splitlines():
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError:
                continue
    return sorted(records, key=lambda r: r["evaluation"])


# A pause longer than this between two simulations' ends is the fit stopped, not slow:
# the pace is read after the last such pause.
PAUSE_SECONDS = 600


def latest_run(times_by_worker: list[list[float]]) -> list[float]:
    """The end times of the latest run's simulations, from each worker's end times.

    A run's workers write files of their own (named by process id), so a resumed run is
    the workers whose first simulation ended after every earlier worker's last one: a
    restart is seen however short the break between the runs."""
    workers = sorted((sorted(t) for t in times_by_worker if t), key=lambda t: t[0])
    start, ended = 0, float("-inf")
    for i, times in enumerate(workers):
        if times[0] > ended:
            start = i
        ended = max(ended, times[-1])
    return sorted(t for times in workers[start:] for t in times)


def recent_pace(times: list[float]) -> float | None:
    """Seconds of wall time per simulation (all workers together) over the latest
    stretch of ``times`` without a pause (``PAUSE_SECONDS``: a machine asleep within a
    run); None with under 5 simulations in it."""
    times = sorted(times)
    start = 0
    for i in range(1, len(times)):
        if times[i] - times[i - 1] > PAUSE_SECONDS:
            start = i
    stretch = times[start:]
    if len(stretch) < 5 or stretch[-1] <= stretch[0]:
        return None
    return (stretch[-1] - stretch[0]) / (len(stretch) - 1)


def journal_progress(journal: Path, saved: int) -> dict[str, Any] | None:
    """The generation in progress after generation ``saved``, from its journal (read
    only): its number, the simulations journalled, how many were accepted and the
    pace of the latest run in seconds per simulation (``seconds_each``, None if unknown:
    journals written before it was kept have no times); None when no journal is newer
    than the saved history (a stale one waits to be deleted)."""
    if not journal.is_dir():
        return None
    by_generation: dict[int, list[Path]] = {}
    for path in journal.glob(f"t*{JOURNAL_SUFFIX}"):
        head = path.name.split("-", 1)[0][1:]
        if head.isdigit() and int(head) > saved:
            by_generation.setdefault(int(head), []).append(path)
    if not by_generation:
        return None
    t = max(by_generation)
    by_worker = [read_journal([path]) for path in sorted(by_generation[t])]  # read once
    accepted = sum(1 for records in by_worker for r in records if r["accepted"])
    times_by_worker = [[r["at"] for r in records if "at" in r] for records in by_worker]
    pace = recent_pace(latest_run(times_by_worker))
    return {
        "generation": t,
        "simulations": sum(len(records) for records in by_worker),
        "accepted": accepted,
        "seconds_each": pace,
    }


def _work(
    simulate_one,
    queue,
    n_eval,
    n_acc,
    n: int,
    check_max_eval: bool,
    max_eval: float,
    sample_factory,
    journal_prefix: str,
) -> None:
    """pyabc's evaluation-parallel worker, journalling each evaluation as it ends."""
    random.seed()
    np.random.seed()  # noqa: NPY002 (pyabc's proposals draw from numpy's global state)
    path = Path(f"{journal_prefix}-{os.getpid()}{JOURNAL_SUFFIX}")
    with path.open("a", encoding="utf-8") as journal:
        sample = sample_factory()
        while n_acc.value < n and (not check_max_eval or n_eval.value < max_eval):
            with n_eval.get_lock():
                evaluation = n_eval.value
                n_eval.value += 1
            particle = simulate_one()
            journal.write(json.dumps(particle_record(evaluation, particle)) + "\n")
            journal.flush()
            sample.append(particle)
            if particle.accepted:
                with n_acc.get_lock():
                    n_acc.value += 1
                queue.put((evaluation, sample))
                sample = sample_factory()
    queue.put(DONE)


class JournalledSampler(pyabc.sampler.MulticoreEvalParallelSampler):
    """pyabc's multicore evaluation-parallel sampler with a journal per generation.

    ``journal`` is the folder of journals; ``key_of(t)`` gives generation ``t``'s key
    (:func:`generation_key`; set it once the ABC-SMC object exists, as the threshold is
    its). ``reused_`` is how many evaluations of the last generation came from the
    journal, and ``reused_accepted_`` how many of its accepted particles.
    """

    def __init__(
        self,
        n_procs: int,
        journal: Path,
        key_of: Callable[[int], str] | None = None,
        log: Callable[[str], None] | None = None,
    ):
        super().__init__(n_procs=n_procs)
        self.journal = Path(journal)
        self.key_of = key_of
        self.log = log
        self.reused_ = 0
        self.reused_accepted_ = 0

    def prefix(self, t: int) -> str:
        """Generation ``t``'s journal files start with this (then ``-<pid>.jsonl``)."""
        if self.key_of is None:
            raise RuntimeError("JournalledSampler.key_of is not set")
        return f"t{int(t)}-{self.key_of(t)}"

    def clear(self, keep_prefix: str | None = None) -> None:
        """Delete the journal's files, except those of ``keep_prefix``."""
        if not self.journal.is_dir():
            return
        for path in self.journal.glob(f"*{JOURNAL_SUFFIX}"):
            if keep_prefix is None or not path.name.startswith(keep_prefix + "-"):
                path.unlink()

    def sample_until_n_accepted(
        self,
        n,
        simulate_one,
        t,
        *,
        max_eval=np.inf,
        all_accepted=False,
        ana_vars=None,
    ):
        if all_accepted:  # pyabc's calibration sample: nothing to resume
            return super().sample_until_n_accepted(
                n, simulate_one, t, max_eval=max_eval, all_accepted=True
            )
        prefix = self.prefix(t)
        self.journal.mkdir(parents=True, exist_ok=True)
        self.clear(keep_prefix=prefix)
        earlier = read_journal(sorted(self.journal.glob(f"{prefix}-*{JOURNAL_SUFFIX}")))
        kept = [(r["evaluation"], particle_of(r)) for r in earlier if r["accepted"]]
        self.reused_, self.reused_accepted_ = len(earlier), len(kept)
        first_new = earlier[-1]["evaluation"] + 1 if earlier else 0
        if earlier and self.log is not None:
            self.log(
                f"generation {t}: {len(earlier)} simulations ({len(kept)} accepted) "
                "taken from the journal of an interrupted run"
            )

        ctx = get_mp_context()
        n_eval = ctx.Value(c_longlong)
        n_eval.value = first_new
        n_acc = ctx.Value(c_longlong)
        n_acc.value = len(kept)
        queue = ctx.Queue()
        found: list[tuple[int, Any]] = []
        if len(kept) < n:
            args = (
                simulate_one,
                queue,
                n_eval,
                n_acc,
                n,
                self.check_max_eval,
                max_eval,
                self._create_empty_sample,
                str(self.journal / prefix),
            )
            workers = [
                ctx.Process(target=_work, args=args, daemon=self.daemon)
                for _ in range(self.n_procs)
            ]
            for proc in workers:
                proc.start()
            finished = 0
            while finished < len(workers):
                value = get_if_worker_healthy(workers, queue)
                if value == DONE:
                    finished += 1
                else:
                    found.append(value)
            for proc in workers:
                proc.join()
        self.nr_evaluations_ = len(earlier) + n_eval.value - first_new

        # As pyabc does: the first n accepted in the order their evaluations started.
        samples = []
        for evaluation, particle in kept:
            sample = self._create_empty_sample()
            sample.append(particle)
            samples.append((evaluation, sample))
        samples += found
        samples.sort(key=lambda pair: pair[0])
        result = self._create_empty_sample()
        for _, sample in samples[:n]:
            result += sample
        if result.n_accepted < n:
            result.ok = False
        return result
