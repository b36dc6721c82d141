"""``yjsim compare A.toml B.toml``: a paired comparison of two scenarios from the command line."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from sim.cli import app
from sim.compare import experiment_text
from sim.experiment import load_experiment

HERE = Path(__file__).resolve().parent
TINY = HERE / "experiment_scenarios" / "tiny.toml"
NO_TRIAGE = HERE / "experiment_scenarios" / "tiny-no-triage.toml"
NO_POSTERIOR = HERE / "experiment_scenarios" / "no-posterior.toml"


def _yjsim(*args: str):
    return CliRunner().invoke(app, [str(a) for a in args])


def test_compare_prints_the_plain_language_lines_and_keeps_results(tmp_path: Path):
    out = tmp_path / "kept"
    result = _yjsim(
        "compare",
        TINY,
        NO_TRIAGE,
        "--seeds",
        "2",
        "--workers",
        "1",
        "--no-progress",
        "--out",
        out,
    )
    assert result.exit_code == 0, result.output
    text = result.output
    assert text.startswith("tiny-no-triage against tiny: 2 paired seeds, 2 measured years each.")
    assert (
        'The question: what changes against tiny with "The tiny test borough without triage' in text
    )
    assert "Against tiny, tiny-no-triage would " in text
    assert "True offences: " in text and "Net social cost" in text
    assert "These intervals carry chance only" in text
    # The pairs ran on the same seeds; the results stay for `yjsim report`.
    summary = pd.read_parquet(out / "summary")
    assert sorted(summary["scenario"]) == ["tiny", "tiny", "tiny-no-triage", "tiny-no-triage"]
    assert summary.groupby("replicate")["seed"].nunique().eq(1).all()
    assert f"yjsim report {out}" in text
    # Triage off at the fork: more first-time entrants, and the same lines as the report's.
    report = _yjsim("report", out)
    assert report.exit_code == 0, report.output
    md = (out / "report" / "index.md").read_text()
    first = next(line for line in text.splitlines() if line.startswith("First-time entrants"))
    assert f"- {first}" in md


def test_the_experiment_of_a_comparison_pairs_the_two_files(tmp_path: Path):
    exp = tmp_path / "compare.toml"
    exp.write_text(experiment_text(TINY, NO_TRIAGE, seeds=4, draws=3, years=1))
    loaded = load_experiment(exp)
    assert loaded.scenario_names == ["tiny", "tiny-no-triage"]  # A is the baseline
    assert (loaded.spec.replicates, loaded.spec.draws, loaded.spec.years) == (4, 3, 1)
    assert loaded.sources == [0, 0]  # B differs in policy only: it forks from A's burn-in


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        ((TINY, HERE / "nope.toml"), "nope.toml: no such scenario file"),
        ((TINY, TINY), "tiny.toml: name: 'tiny' is also the name of"),
        ((TINY, NO_TRIAGE, "--seeds", "0"), "--seeds: expected a whole number from 1"),
        ((TINY, NO_TRIAGE, "--draws", "-1"), "--draws: expected a whole number from 0"),
        ((TINY, NO_TRIAGE, "--years", "0"), "--years: expected a whole number from 1 to 100"),
        (
            (TINY, NO_POSTERIOR, "--draws", "2"),
            "no-posterior.toml: parameters: --draws needs both scenarios to name a calibrated",
        ),
        ((TINY, NO_TRIAGE, "--workers", "0"), "--workers: expected a whole number >= 1"),
    ],
)
def test_bad_input_is_one_line_exit_2_and_nothing_runs(args, expected, tmp_path: Path):
    out = tmp_path / "results"
    result = _yjsim("compare", *args, "--no-progress", "--out", out)
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and expected in lines[0], lines
    assert not out.exists()


def test_scenarios_of_different_lengths_need_years(tmp_path: Path):
    longer = tmp_path / "longer.toml"
    longer.write_text(f'name = "longer"\nextends = "{NO_TRIAGE}"\n[run]\nyears = 3\n')
    result = _yjsim("compare", TINY, longer, "--no-progress")
    assert result.exit_code == 2
    assert "longer.toml: run.years: 3 here but 2 in" in result.output
    assert "pass --years" in result.output
