"""`yjsim fit-status`: where a saved calibration stands, read without writing.

The history is made by pyabc itself, with the calibration's own layout (particles
under the priors' keys, each accepted particle's statistics and distance kept), from
a model that costs nothing to run, so the figures can be checked against it.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pyabc
import pytest
from conftest import ROOT
from test_calibration import write_recovery_config

from sim.calibration import Calibration, CalibrationError, Target
from sim.fit_progress import (
    MetTogether,
    fit_progress,
    format_fit_progress,
    met_together_lines,
    targets_met_together,
)

STAT = "tiny.detected_share_of_offences"
TARGET = 0.2  # tolerance 0.01: the recovery config's 5%


def saved_recovery_history(tmp_path: Path, generations: int = 2) -> Calibration:
    """A two-generation history of the recovery config, as `yjsim calibrate` saves it:
    the statistic is a tenth of detection_scale plus noise, so the squared misfit of a
    particle is its distance."""
    cal = Calibration(write_recovery_config(tmp_path, TARGET, generations))
    (target,) = cal.targets
    (prior,) = cal.priors

    def model(pars: dict) -> dict:
        x = pars[prior.key] / 10 + np.random.normal(0, 0.005)  # noqa: NPY002 (pyabc's state)
        return {STAT: x, "distance": target.misfit(x) ** 2}

    np.random.seed(3)  # noqa: NPY002
    abc = pyabc.ABCSMC(
        model,
        pyabc.Distribution(**{prior.key: prior.rv()}),
        lambda x, _: float(x["distance"]),
        population_size=20,
        sampler=pyabc.sampler.SingleCoreSampler(),
    )
    cal.history_path.parent.mkdir(parents=True)
    abc.new(f"sqlite:///{cal.history_path}", {"distance": 0.0})
    cal.history_path.with_suffix(".fingerprint").write_text(cal.fingerprint() + "\n")
    abc.run(max_nr_populations=generations)
    return cal


def test_the_status_summarises_the_latest_generation_from_its_particles(tmp_path: Path):
    cal = saved_recovery_history(tmp_path)
    before = hashlib.sha256(cal.history_path.read_bytes()).hexdigest()
    p = fit_progress(cal, closest=5)
    # It reads, never writes: the history is byte for byte what it was.
    assert hashlib.sha256(cal.history_path.read_bytes()).hexdigest() == before

    history = pyabc.History(f"sqlite:///{cal.history_path}", _id=1)
    assert p.generation == history.max_t == 1
    assert list(p.generations["generation"]) == [0, 1]
    assert (p.generations["simulations"] >= 20).all()
    assert (p.generations["minutes"] > 0).all()
    # One fitted target, whose squared misfit is the distance: the closest five's mean
    # squared misfit is the mean of the five smallest distances pyabc kept.
    distances = np.sort(history.get_weighted_distances(t=1)["distance"].to_numpy())
    (row,) = p.targets.itertuples()
    assert row.target == STAT and row.fitted
    assert row.closest_misfit_squared == pytest.approx(distances[:5].mean())
    assert row.closest_misfit_squared <= distances.mean()
    # The parameter's weighted median is pyabc's, in the parameter's own units.
    particles, w = history.get_distribution(m=0, t=1)
    (prior,) = cal.priors
    values = prior.natural(particles[prior.key].to_numpy())
    (par,) = p.parameters.itertuples()
    assert par.parameter == "justice.detection_scale"
    assert par.median == pytest.approx(pyabc.weighted_statistics.weighted_median(values, w))
    assert prior.low <= par.low_5 <= par.median <= par.high_95 <= prior.high

    text = format_fit_progress(p)
    assert "generations 0 to 1 saved" in text and STAT in text
    assert "0.200 ± 0.010" in text  # the target as it is wanted

    # An earlier generation is shown when asked for.
    assert fit_progress(cal, generation=0).generation == 0


def test_a_missing_or_foreign_history_gets_one_clear_line(tmp_path: Path):
    cal = Calibration(write_recovery_config(tmp_path, TARGET, 1))
    with pytest.raises(CalibrationError, match=r"no saved history.*run `yjsim calibrate"):
        fit_progress(cal)
    (tmp_path / "saved").mkdir()
    cal = saved_recovery_history(tmp_path / "saved")
    cal.history_path.with_suffix(".fingerprint").write_text("another fit\n")
    with pytest.raises(CalibrationError, match="different config or targets"):
        fit_progress(cal)


def test_cli_fit_status_prints_the_tables_and_refuses_a_bad_generation(tmp_path: Path):
    cal = saved_recovery_history(tmp_path)
    cmd = [sys.executable, "-m", "sim.cli", "fit-status", str(cal.path), "--closest", "3"]
    ok = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
    assert ok.returncode == 0, ok.stderr
    assert "effective size" in ok.stdout and "justice.detection_scale" in ok.stdout
    bad = subprocess.run([*cmd, "--generation", "5"], capture_output=True, text=True, cwd=ROOT)
    assert bad.returncode == 2
    assert bad.stderr.strip().splitlines() == [
        f"yjsim: error: {cal.path}: --generation: expected 0 to 1, got 5"
    ]


def test_the_status_shows_the_generation_in_progress_from_its_journal(tmp_path: Path):
    """A fit interrupted in generation 2 has journalled 30 simulations, 6 accepted: the
    status says so, with the acceptance so far and the simulations still to go at it."""
    cal = saved_recovery_history(tmp_path)
    assert fit_progress(cal).in_progress is None
    assert "in progress" not in format_fit_progress(fit_progress(cal))
    journal = cal.journal_path
    journal.mkdir()
    lines = [
        json.dumps({"evaluation": i, "accepted": i % 5 == 0, "distance": 1.0}) for i in range(30)
    ]
    (journal / "t2-abc-11.jsonl").write_text("\n".join(lines[:20]) + "\n")
    (journal / "t2-abc-12.jsonl").write_text("\n".join(lines[20:]) + "\n")
    # A stale journal of a saved generation is not the one in progress.
    (journal / "t1-old-10.jsonl").write_text(lines[0] + "\n")
    p = fit_progress(cal)
    assert p.in_progress == {
        "generation": 2,
        "simulations": 30,
        "accepted": 6,
        "wanted": 16,
        "seconds_each": None,  # lines without times (as before journals kept them)
    }
    text = format_fit_progress(p)
    assert (
        "generation 2 in progress (journal): 30 simulations, 6 of 16 particles accepted "
        "(acceptance 0.20 so far: about 50 simulations to go)"
    ) in text


def test_the_generation_in_progress_says_how_long_it_has_to_go_at_its_recent_pace(
    tmp_path: Path,
):
    """Journal lines carry the time each simulation ended. The pace is read from the
    latest stretch without a pause of more than ten minutes (a fit resumed in another
    sitting does not count the night between): here 10 simulations, one every 30 s,
    after a pause of over half an hour; 4 of the 20 accepted, so the 12 particles still
    wanted take about 60 simulations, 30 minutes at that pace."""
    cal = saved_recovery_history(tmp_path)
    journal = cal.journal_path
    journal.mkdir()
    times = [1000.0 + 5 * i for i in range(10)] + [3000.0 + 30 * i for i in range(10)]
    lines = [
        json.dumps({"evaluation": i, "accepted": i % 5 == 0, "at": at})
        for i, at in enumerate(times)
    ]
    (journal / "t2-abc-11.jsonl").write_text("\n".join(lines) + "\n")
    p = fit_progress(cal)
    assert p.in_progress["simulations"] == 20 and p.in_progress["accepted"] == 4
    assert p.in_progress["seconds_each"] == pytest.approx(30.0)
    text = format_fit_progress(p)
    assert "about 60 simulations to go, about 30 minutes at the recent pace" in text


def test_the_pace_is_the_resumed_runs_alone_even_after_a_short_break(tmp_path: Path):
    """A fit stopped and resumed within ten minutes (a restart, not a night): the pace is
    read from the resumed run's workers alone (their journal files are new, named by
    process id), not averaged over the break. The first run's two workers ended a
    simulation every 5 s; after a 4-minute break the resumed run's two end one every
    20 s between them."""
    cal = saved_recovery_history(tmp_path)
    journal = cal.journal_path
    journal.mkdir()

    def write(name: str, first: int, times: list[float]) -> None:
        lines = [
            json.dumps({"evaluation": first + i, "accepted": False, "at": at})
            for i, at in enumerate(times)
        ]
        (journal / name).write_text("\n".join(lines) + "\n")

    write("t2-abc-11.jsonl", 0, [1000.0 + 10 * i for i in range(5)])  # 1000 ... 1040
    write("t2-abc-12.jsonl", 5, [1005.0 + 10 * i for i in range(5)])  # 1005 ... 1045
    write("t2-abc-21.jsonl", 10, [1300.0 + 40 * i for i in range(5)])  # 1300 ... 1460
    write("t2-abc-22.jsonl", 15, [1320.0 + 40 * i for i in range(5)])  # 1320 ... 1480
    p = fit_progress(cal)
    assert p.in_progress["simulations"] == 20
    assert p.in_progress["seconds_each"] == pytest.approx(20.0)


def _target(statistic: str, fit: bool = True, **band: float) -> Target:
    return Target(
        name=statistic, setting="s", statistic=statistic, fit=fit, source="a source 2020", **band
    )


def test_which_targets_the_particles_meet_together():
    """Four particles and three fitted targets (and a reported one, which does not count).
    a and b are each met, but never by one particle: a conflict the fit cannot get past
    by sampling longer; c is met by nobody."""
    targets = [
        _target("a", value=10, tolerance=1),
        _target("b", above=5, tolerance=1),
        _target("c", value=0, tolerance=0.1),
        _target("shown", fit=False, value=0, tolerance=1),
    ]
    stats = [
        {"s.a": 10.5, "s.b": 4.0, "s.c": 1.0, "s.shown": 0.0, "distance": 3.0},  # meets a
        {"s.a": 13.0, "s.b": 6.0, "s.c": 1.0, "s.shown": 0.0, "distance": 2.0},  # meets b
        {"s.a": 12.0, "s.b": 4.5, "s.c": 1.0, "s.shown": 0.0, "distance": 1.0},  # none
        {"s.a": 10.9, "s.b": 4.9, "s.c": 0.5, "s.shown": 0.0, "distance": 5.0},  # meets a
    ]
    met = targets_met_together(stats, targets)
    assert met.particles == 4
    assert met.by_count == [1, 3, 0, 0]  # particles meeting 0, 1, 2 and 3 of the 3
    # Of the particles meeting most (1), the closest (distance 2) misses a and c.
    assert met.most == 1 and met.most_misses == ["s.a", "s.c"]
    assert met.never_together == [("s.a", "s.b")]
    assert met.never_met == ["s.c"]


def test_the_status_says_how_many_targets_the_particles_meet_together(tmp_path: Path):
    cal = saved_recovery_history(tmp_path)
    p = fit_progress(cal)
    assert p.met_together.particles == 40  # two generations of 20
    assert sum(p.met_together.by_count) == 40
    text = format_fit_progress(p)
    assert "Targets met together by the accepted particles of generations 0 to 1" in text


def test_the_status_points_to_fit_match_while_no_particle_meets_every_target():
    def lines(most: int) -> str:
        m = MetTogether(
            particles=10,
            by_count=[0, 10, 0] if most == 1 else [0, 5, 5],  # particles meeting 0, 1, 2 of 2
            most=most,
            most_misses=["s.b"] if most == 1 else [],
            never_together=[],
            never_met=[],
        )
        return "\n".join(met_together_lines(m, 3))

    assert "yjsim fit-match" in lines(1)  # one of 2 met at most
    assert "yjsim fit-match" not in lines(2)  # a particle meets both


def test_a_target_the_particles_did_not_record_shows_a_dash_not_nan(tmp_path: Path):
    """A reported target added after the fit started has no value in its particles: its
    row shows dashes, and a long name keeps the columns aligned."""
    import dataclasses

    import pandas as pd

    p = fit_progress(saved_recovery_history(tmp_path))
    name = "average.proven_reoffending_rate_after_youth_rehabilitation_order"
    added = {
        "target": name,
        "fitted": False,
        "wanted": "0.662 ± 0.050",
        "weighted_median": float("nan"),
        "closest_median": float("nan"),
        "closest_misfit_squared": float("nan"),
    }
    p = dataclasses.replace(p, targets=pd.concat([p.targets, pd.DataFrame([added])]))
    lines = format_fit_progress(p).splitlines()
    row = next(line for line in lines if name in line)
    assert "nan" not in row and row.split()[-3:] == ["-", "-", "-"]
    header = next(line for line in lines if line.startswith("target"))
    first = next(line for line in lines if STAT in line)
    assert len(row) == len(header) == len(first)
