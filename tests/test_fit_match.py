"""`yjsim fit-match`: can a fit's targets be met together (history matching)?

The search is checked on made-up predictions whose answer is known (two targets that
one statistic cannot meet at once); the whole command on a saved history whose
statistic is a known function of its parameter (test_fit_progress.py's), so the best
candidate can be checked against the value that meets the target.
"""

from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import ROOT
from hypothesis import given, settings
from hypothesis import strategies as st
from test_fit_probe import recovery_config_with_a_new_parameter
from test_fit_progress import saved_recovery_history

from sim.calibration import CalibrationError, Target, check_fit
from sim.fit_match import (
    candidates_across,
    candidates_near,
    fit_match,
    format_fit_match,
    met,
    misfits,
    parameter_set_lines,
    search,
    wave_points,
)


def _target(name: str, **band: float) -> Target:
    return Target(
        name=name, setting="s", statistic=name, source="synthetic: a test", tolerance=1.0, **band
    )


@settings(max_examples=50, deadline=None)
@given(
    st.lists(st.floats(-20, 20), min_size=3, max_size=3),
    st.sampled_from(["value", "above", "below"]),
)
def test_vectorised_misfits_and_verdicts_are_the_targets_own(xs: list[float], kind: str):
    t = _target("a", **{kind: 1.5})
    predicted = np.array(xs)[:, None]
    m = misfits(predicted, [t])
    assert np.allclose(m[:, 0], [t.misfit(x) for x in xs])
    assert met(m, [t])[:, 0].tolist() == [t.met(x) for x in xs]


def test_the_search_names_the_target_that_cannot_be_met_with_the_others():
    # Three targets of three statistics; the first two are the same statistic (x), wanted
    # at 0 and at 10 with a tolerance of 1: no candidate meets both. The third (y) is
    # met by half the candidates, whatever x is.
    a, b, c = _target("a", value=0.0), _target("b", value=10.0), _target("c", below=0.5)
    x = np.linspace(-2, 12, 141)
    y = np.tile([0.0, 1.0], 71)[:141]
    found = search(np.column_stack([x, x, y]), [a, b, c])
    assert found.most_met == 2
    best = found.misfit[found.best]
    assert abs(best[0]) <= 1 or abs(best[1]) <= 1  # one of the pair, never both
    assert not (abs(best[0]) <= 1 and abs(best[1]) <= 1)
    assert best[2] == 0.0  # and the third
    missed = 1 if abs(best[0]) <= 1 else 0
    # The closest the missed one comes while the others stay met: x within 1 of the
    # met one's value leaves the other 9 tolerances away at best.
    assert math.isclose(found.closest_with_others[missed], 9.0, abs_tol=0.11)
    assert found.met_share[2] == np.mean(y < 0.5)
    # Counts of candidates by targets met: none meets 3; they add up to all of them.
    assert found.by_count[3] == 0 and sum(found.by_count) == x.size


def test_the_search_finds_a_candidate_meeting_every_target_when_one_exists():
    a, b = _target("a", value=0.0), _target("b", value=1.0)
    x = np.linspace(-5, 5, 101)
    found = search(np.column_stack([x, x]), [a, b])
    assert found.most_met == 2
    assert 0.0 <= x[found.best] <= 1.0
    assert np.all(found.closest_with_others <= 1.0)


def test_a_second_wave_runs_where_the_first_search_points():
    # Targets a (value 0) and b (value 1) of one statistic x: candidates with x in [0, 1]
    # meet both (the most), those within 1 of either meet one.
    a, b = _target("a", value=0.0), _target("b", value=1.0)
    x = np.linspace(-5, 5, 101)
    found = search(np.column_stack([x, x]), [a, b])
    picks = wave_points(found, 10, seed=1)
    assert picks.size == 10 and np.unique(picks).size == 10
    assert np.all(found.met_count[picks] >= 1)  # all but one of the most (2) at least
    assert np.array_equal(picks, wave_points(found, 10, seed=1))
    # Asked for more than meet that many: the best by count, then squares.
    many = wave_points(found, 60, seed=1)
    assert many.size == 60 and found.best in many


def test_the_best_set_prints_as_scenario_tables_that_read_back_exactly():
    # A bug: the set printed at three decimals, so a base rate of 0.0030417 read "0.003"
    # (one significant figure), and nobody could run the set it found.
    import tomllib

    best = {
        "behaviour.base_weekly_rate": 0.0030417123456789,
        "behaviour.coef_peer": 0.6381,
        "justice.detection_scale": 0.1104,
        "justice.remand_detention_intercept": -4.6012,
    }
    lines = parameter_set_lines(best)
    read = tomllib.loads("\n".join(line.strip() for line in lines))
    assert {f"{m}.{k}": v for m, table in read.items() for k, v in table.items()} == best
    assert lines[0].strip() == "[behaviour]" and "[justice]" in [x.strip() for x in lines]


def test_candidates_stay_inside_the_priors_and_repeat_with_their_seed():
    x = np.random.default_rng(0).normal(0.5, 0.3, size=(50, 2))
    low, high = np.array([0.0, 0.2]), np.array([1.0, 0.8])
    c = candidates_near(x, low, high, 2000, seed=3)
    assert c.shape == (2000, 2)
    assert np.all(c >= low) and np.all(c <= high)
    assert np.array_equal(c, candidates_near(x, low, high, 2000, seed=3))
    assert not np.array_equal(c, candidates_near(x, low, high, 2000, seed=4))


def test_the_match_of_a_saved_fit_finds_the_parameter_that_meets_its_target(tmp_path: Path):
    # The history's statistic is detection_scale / 10 plus noise (SD 0.005), wanted at
    # 0.2 +- 0.01: candidates with detection_scale within 0.1 of 2 meet it.
    cal = saved_recovery_history(tmp_path, generations=3)
    found = fit_match(cal, first_generation=0, candidates=5000, seeds=2, check_seeds=2, workers=1)
    (row,) = found.targets.itertuples()
    assert found.generations == (0, 2)
    assert found.most_met == 1 and abs(row.best_misfit) <= 1.0
    assert 1.85 <= found.best["justice.detection_scale"] <= 2.15
    assert 0.0 < row.met_share < 1.0
    assert row.noise_sd < 0.02  # the emulator puts the noise near its SD, 0.005
    # The fresh runs are the tiny borough itself (not the made-up statistic): defined.
    assert math.isfinite(row.verified_mean) and math.isfinite(found.verified_distance)
    # Judged as check-fit judges a posterior mean, at full size: one row per target.
    assert found.check is not None and len(found.check) == 1
    assert math.isfinite(found.check["mean"].iloc[0])
    text = format_fit_match(found)
    assert "meets 1 of 1" in text and "  [justice]\n  detection_scale = " in text
    assert "at the best candidate" in text


def test_the_match_can_add_a_second_wave_of_runs(tmp_path: Path):
    cal = saved_recovery_history(tmp_path, generations=2)
    found = fit_match(cal, candidates=2000, seeds=0, wave_runs=3, workers=1)
    assert found.wave_runs == 3 and found.first_most_met == 1
    assert found.particles == 32  # the two generations' 40 particles less the 8 held back
    assert "a second wave of 3 runs" in format_fit_match(found)


def test_check_fit_refuses_draws_of_a_given_parameter_set(tmp_path: Path):
    cal = saved_recovery_history(tmp_path, generations=1)
    with pytest.raises(ValueError, match="draws need a posterior"):
        check_fit(cal, seeds=1, draws=True, parameters={"justice.detection_scale": 2.0})


def test_cli_fit_match_refuses_bad_options_in_one_line(tmp_path: Path):
    cal = saved_recovery_history(tmp_path, generations=1)
    for args, option in (
        (["--candidates", "0"], "--candidates"),
        (["--candidates", "1000001"], "--candidates"),
        (["--seeds", "-1"], "--seeds"),
        (["--check-seeds", "-1"], "--check-seeds"),
        (["--wave-runs", "-1"], "--wave-runs"),
        (["--since", "5"], "--since"),
    ):
        r = subprocess.run(
            [sys.executable, "-m", "sim.cli", "fit-match", str(cal.path), *args],
            capture_output=True,
            text=True,
            cwd=ROOT,
        )
        assert r.returncode == 2, r.stderr
        lines = r.stderr.strip().splitlines()
        assert len(lines) == 1 and str(cal.path) in lines[0], r.stderr
        assert option in lines[0], r.stderr


def test_check_fit_judges_a_parameter_set_file_and_refuses_a_bad_one(tmp_path: Path):
    # What fit-match prints as its best set, judged as check-fit judges a posterior
    # mean, with no posterior and nothing written.
    cal = saved_recovery_history(tmp_path, generations=1)

    def check(text: str) -> subprocess.CompletedProcess:
        path = tmp_path / "set.toml"
        path.write_text(text)
        return subprocess.run(
            [
                sys.executable,
                "-m",
                "sim.cli",
                "check-fit",
                str(cal.path),
                "--seeds",
                "2",
                "--workers",
                "1",
                "--parameters",
                str(path),
            ],
            capture_output=True,
            text=True,
            cwd=ROOT,
        )

    before = sorted(p for p in tmp_path.rglob("*") if p.name != "set.toml")
    r = check("[justice]\ndetection_scale = 2.0\n")
    assert r.returncode == 0, r.stderr
    assert "the parameter set in" in r.stdout and "| target |" in r.stdout
    assert sorted(p for p in tmp_path.rglob("*") if p.name != "set.toml") == before
    bad = {
        "[justice]\nno_such_parameter = 1\n": "justice.no_such_parameter",
        "[justice]\ndetection_scale = 'high'\n": "justice.detection_scale",
        "[justice]\ndetection_scale = -1.0\n": "detection_scale",
        "[justice\n": "not valid TOML",
        "# nothing\n": "no parameters",
    }
    for text, named in bad.items():
        r = check(text)
        assert r.returncode == 2, (text, r.stderr)
        lines = r.stderr.strip().splitlines()
        assert len(lines) == 1 and "set.toml" in lines[0] and named in lines[0], r.stderr


def test_candidates_across_draw_the_flagged_columns_over_their_whole_prior():
    # A history of another model holds a new parameter at one value; its candidates
    # must span the prior, or no wave could ever learn what it does.
    x = np.column_stack([np.random.default_rng(0).normal(0.5, 0.1, 200), np.full(200, 1.0)])
    low, high = np.array([0.0, 0.0]), np.array([1.0, 1.0])
    c = candidates_across(x, low, high, 5000, seed=2, across=np.array([False, True]))
    assert c[:, 1].min() < 0.01 and c[:, 1].max() > 0.99  # uniform over 0-1
    assert np.array_equal(c[:, 0], candidates_near(x, low, high, 5000, seed=2)[:, 0])
    same = candidates_across(x, low, high, 5000, seed=2, across=np.array([False, False]))
    assert np.array_equal(same, candidates_near(x, low, high, 5000, seed=2))


def test_the_match_can_start_from_another_models_fit_and_run_several_waves(tmp_path: Path):
    """A structural change adds a free parameter the old fit lacks: its particles take
    the settings' value, the candidates draw it across its prior, and the waves' runs
    (which need a wave at least) teach the emulators what it does."""
    (tmp_path / "old").mkdir()
    old = saved_recovery_history(tmp_path / "old", generations=2)
    cal = recovery_config_with_a_new_parameter(tmp_path / "new")
    lacks = r"--wave-runs: the history lacks justice\.clear_up_probability"
    with pytest.raises(CalibrationError, match=lacks):
        fit_match(cal, history_path=old.history_path, seeds=0, workers=1)
    with pytest.raises(CalibrationError, match="--waves"):
        fit_match(cal, history_path=old.history_path, wave_runs=2, waves=0, workers=1)
    found = fit_match(
        cal,
        history_path=old.history_path,
        candidates=2000,
        seeds=0,
        wave_runs=3,
        waves=2,
        workers=1,
    )
    assert found.at_setting_values == ["justice.clear_up_probability"]
    assert found.wave_runs == 6 and found.waves == 2
    assert found.particles == 32  # two generations' 40 particles less the 8 held back
    assert 0.0 <= found.best["justice.clear_up_probability"] <= 0.5
    text = format_fit_match(found)
    assert "another model" in text and "justice.clear_up_probability" in text
    assert "2 waves of 3 runs" in text
