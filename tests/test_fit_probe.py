"""`yjsim fit-probe`: a change run at a saved fit's closest particles, paired by seed.

The history is the recovery config's (the tiny borough, detection_scale free), saved by
pyabc as `yjsim calibrate` saves it (test_fit_progress.py); the probe then runs the
tiny borough for real.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import ROOT
from test_calibration import write_recovery_config
from test_fit_progress import STAT, saved_recovery_history

from sim.calibration import Calibration, CalibrationError
from sim.fit_probe import closest_particles, fit_probe, format_fit_probe, parse_change
from sim.fit_progress import saved_history


def test_parse_change_reads_toml_values_and_bare_words():
    assert parse_change("justice.detection_scale=1.5") == ("justice.detection_scale", 1.5)
    assert parse_change("interventions.triage.enabled = false") == (
        "interventions.triage.enabled",
        False,
    )
    assert parse_change("interventions.gangs_team.mode=integrated") == (
        "interventions.gangs_team.mode",
        "integrated",
    )
    assert parse_change('x.y="a b"') == ("x.y", "a b")
    for bad in ("justice.detection_scale", "=1", "a.b=", "a.b=1 2"):
        with pytest.raises(ValueError):
            parse_change(bad)


def test_a_change_moves_its_target_and_a_change_of_nothing_moves_nothing(tmp_path: Path):
    cal = saved_recovery_history(tmp_path)
    history = saved_history(cal)
    particles = closest_particles(cal, history, history.max_t, 2)
    distances = np.sort(history.get_weighted_distances(t=history.max_t)["distance"])
    assert len(particles) == 2 and all(
        0.3 <= th["justice.detection_scale"] <= 3 for _, th in particles
    )
    assert history.get_weighted_distances(t=history.max_t)["distance"].iloc[
        particles[0][0]
    ] == pytest.approx(distances[0])

    # Detection cut to a tenth of the lowest particle's: the detected share falls in
    # every pair, and its interval is below zero.
    low = 0.1 * min(th["justice.detection_scale"] for _, th in particles)
    probe = fit_probe(cal, {"justice.detection_scale": low}, closest=2, seeds=2, workers=1)
    (row,) = probe.targets.itertuples()
    assert row.target == STAT and row.fitted and row.pairs == 4
    assert row.changed < row.as_fitted
    assert row.high < 0 and row.low <= row.difference <= row.high
    assert probe.undefined_as_fitted == probe.undefined_changed == 0
    text = format_fit_probe(probe)
    assert STAT in text and "justice.detection_scale" in text and "95%" in text

    # A cost changes no behaviour: the same seeds give the same runs,
    # so every paired difference is exactly zero.
    same = fit_probe(
        cal, {"interventions.triage.cost_per_case": 1.0}, closest=2, seeds=2, workers=1
    )
    (row,) = same.targets.itertuples()
    assert row.difference == 0 and row.low == 0 and row.high == 0
    assert same.distance_changed == same.distance_as_fitted


def test_bad_changes_and_options_get_one_line_naming_the_option(tmp_path: Path):
    cal = saved_recovery_history(tmp_path)
    with pytest.raises(CalibrationError, match=r"--set: .*no_such"):
        fit_probe(cal, {"justice.no_such": 1.0}, workers=1)
    with pytest.raises(CalibrationError, match="--set"):
        fit_probe(cal, {"justice.detection_scale": -1.0}, workers=1)
    with pytest.raises(CalibrationError, match="--setting: expected one of tiny"):
        fit_probe(cal, {"justice.detection_scale": 1.0}, settings=["croydon"], workers=1)
    with pytest.raises(CalibrationError, match="--closest"):
        fit_probe(cal, {"justice.detection_scale": 1.0}, closest=0, workers=1)
    with pytest.raises(CalibrationError, match="--generation: expected 0 to 1"):
        fit_probe(cal, {"justice.detection_scale": 1.0}, generation=4, workers=1)

    cmd = [sys.executable, "-m", "sim.cli", "fit-probe", str(cal.path)]
    bad = subprocess.run(
        [*cmd, "--set", "justice.detection_scale"], capture_output=True, text=True, cwd=ROOT
    )
    assert bad.returncode == 2
    assert bad.stderr.strip().splitlines() == [
        "yjsim: error: --set: expected NAME=VALUE, got 'justice.detection_scale'"
    ]
    unknown = subprocess.run(
        [*cmd, "--set", "justice.no_such=1"], capture_output=True, text=True, cwd=ROOT
    )
    assert unknown.returncode == 2 and len(unknown.stderr.strip().splitlines()) == 1
    assert str(cal.path) in unknown.stderr and "justice.no_such" in unknown.stderr


def recovery_config_with_a_new_parameter(folder: Path) -> Calibration:
    """The recovery config (in ``folder``, made here) with a second free parameter,
    ``justice.clear_up_probability`` (0 to 0.5), that a saved recovery history lacks: a
    structural change's config, whose old fit is another model's."""
    folder.mkdir()
    path = write_recovery_config(folder, 0.2, generations=1)
    path.write_text(
        path.read_text()
        + """
[[parameter]]
name = "justice.clear_up_probability"
prior = "uniform"
low = 0.0
high = 0.5
why = "a parameter the old fit did not have"
"""
    )
    return Calibration(path)


def test_a_probe_can_run_at_the_particles_of_another_models_fit(tmp_path: Path):
    """After a structural change the old fit no longer answers the config (another
    fingerprint, a new free parameter), but its particles can still show what the change
    does: with ``history_path`` the probe runs the model as it now is at that history's
    closest particles, and a free parameter the history lacks takes the settings' value
    (and says so)."""
    (tmp_path / "old").mkdir()
    old = saved_recovery_history(tmp_path / "old")
    cal = recovery_config_with_a_new_parameter(tmp_path / "new")
    with pytest.raises(CalibrationError, match="no saved history"):
        fit_probe(cal, {"justice.detection_scale": 1.0}, workers=1)
    probe = fit_probe(
        cal,
        {"justice.detection_scale": 1.0},
        closest=1,
        seeds=1,
        workers=1,
        history_path=old.history_path,
    )
    assert probe.at_setting_values == ["justice.clear_up_probability"]
    assert probe.history == str(old.history_path)
    text = format_fit_probe(probe)
    assert "justice.clear_up_probability" in text and "another model" in text
    with pytest.raises(CalibrationError, match="--history: no saved history"):
        fit_probe(
            cal, {"justice.detection_scale": 1.0}, workers=1, history_path=tmp_path / "none.db"
        )
