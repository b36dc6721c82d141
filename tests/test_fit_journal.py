"""A generation of the fit cut short resumes from its journal (sim/fit_journal.py)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyabc
import pytest
from test_calibration import write_recovery_config

import sim.calibration
from sim.calibration import Calibration, calibrate
from sim.fit_journal import JournalledSampler, generation_key, read_journal


def simulate_one_stopping_after(calls: int | None):
    """A toy generation: x uniform, accepted when x < 0.5; with ``calls`` set, the worker
    dies on that call, as a fit does when it is interrupted."""
    made = [0]

    def simulate_one() -> pyabc.Particle:
        made[0] += 1
        if calls is not None and made[0] == calls:
            raise KeyboardInterrupt("interrupted")
        x = float(np.random.uniform())  # noqa: NPY002 (the sampler seeds each worker)
        return pyabc.Particle(
            m=0,
            parameter=pyabc.Parameter({"x": x}),
            weight=1.0 + x,
            sum_stat={"x": x, "n": np.int64(3)},
            distance=x,
            accepted=x < 0.5,
        )

    return simulate_one


def test_an_interrupted_generation_keeps_its_simulations_and_resumes(tmp_path: Path):
    journal = tmp_path / "fit.journal"
    sampler = JournalledSampler(n_procs=1, journal=journal, key_of=lambda t: "key")
    with pytest.raises(Exception):  # noqa: B017 (pyabc reports a dead worker its own way)
        sampler.sample_until_n_accepted(20, simulate_one_stopping_after(13), t=3)
    files = sorted(journal.glob("t3-key-*.jsonl"))
    assert len(files) == 1
    before = read_journal(files)
    assert [r["evaluation"] for r in before] == list(range(12))  # the 13th never ended
    accepted_before = [r["parameter"]["x"] for r in before if r["accepted"]]
    assert 0 < len(accepted_before) < 12
    # A line cut short by the interruption, and a stale journal of another generation.
    with files[0].open("a") as f:
        f.write('{"evaluation": 12, "accep')
    (journal / "t2-key-1.jsonl").write_text('{"evaluation": 0, "accepted": false}\n')

    said: list[str] = []
    sampler.log = said.append
    sample = sampler.sample_until_n_accepted(20, simulate_one_stopping_after(None), t=3)
    assert sample.ok and sample.n_accepted == 20
    assert sampler.reused_ == 12 and sampler.reused_accepted_ == len(accepted_before)
    assert said == [
        f"generation 3: 12 simulations ({len(accepted_before)} accepted) taken from the "
        "journal of an interrupted run"
    ]
    # The journalled particles come first (their evaluations started first), intact.
    kept = sample.accepted_particles
    assert [p.parameter["x"] for p in kept[: len(accepted_before)]] == accepted_before
    first = kept[0]
    assert first.weight == 1.0 + first.parameter["x"] and first.sum_stat["n"] == 3
    # Every evaluation counts once: the 12 journalled and those run since (numbered on).
    after = read_journal(sorted(journal.glob("t3-key-*.jsonl")))
    assert [r["evaluation"] for r in after] == list(range(sampler.nr_evaluations_))
    assert sampler.nr_evaluations_ > 12
    assert not (journal / "t2-key-1.jsonl").exists()


def test_a_journal_with_another_threshold_is_not_reused(tmp_path: Path):
    """The key holds the threshold to the bit: a journal of another proposal is dropped."""
    assert generation_key("f", 1, 64.1) != generation_key("f", 1, np.nextafter(64.1, 65))
    assert generation_key("f", 1, 64.1) == generation_key("f", 1, 64.1)
    journal = tmp_path / "j"
    journal.mkdir()
    stale = journal / f"t1-{generation_key('f', 1, 64.0)}-7.jsonl"
    stale.write_text(json.dumps({"evaluation": 0, "accepted": False}) + "\n")
    sampler = JournalledSampler(
        n_procs=1, journal=journal, key_of=lambda t: generation_key("f", t, 64.1)
    )
    sampler.sample_until_n_accepted(3, simulate_one_stopping_after(None), t=1)
    assert sampler.reused_ == 0 and not stale.exists()


def test_calibrate_resumes_a_generation_cut_short(tmp_path: Path, monkeypatch):
    """The fit itself: its first generation dies on its 10th simulation; run again, it
    keeps the 9 that ended (all accepted: the first threshold takes every simulation
    that did not run away), runs 7 more and clears its journal."""
    cfg = write_recovery_config(tmp_path, 0.2, generations=1)
    cal = Calibration(cfg)
    real = sim.calibration.simulate_until
    made = [0]

    def dies_on_the_tenth(*args, **kwargs):
        made[0] += 1
        if made[0] == 10:
            raise KeyboardInterrupt("interrupted")
        return real(*args, **kwargs)

    monkeypatch.setattr(sim.calibration, "simulate_until", dies_on_the_tenth)
    with pytest.raises(Exception):  # noqa: B017
        calibrate(cfg, workers=1, log=lambda _: None)
    journalled = read_journal(sorted(cal.journal_path.glob("t0-*.jsonl")))
    assert len(journalled) == 9 and all(r["accepted"] for r in journalled)

    monkeypatch.setattr(sim.calibration, "simulate_until", real)
    said: list[str] = []
    calibrate(cfg, workers=1, log=said.append)
    assert any("9 simulations (9 accepted) taken from the journal" in line for line in said)
    history = pyabc.History(f"sqlite:///{cal.history_path}", _id=1)
    population = history.get_distribution(m=0, t=0)[0]
    key = "justice__detection_scale"
    assert set(r["parameter"][key] for r in journalled) <= set(population[key])
    assert int(history.get_all_populations().query("t == 0")["samples"].iloc[0]) == 16
    assert list(cal.journal_path.glob("*.jsonl")) == []
