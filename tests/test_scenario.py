"""Scenario loading, the malformed-file corpus, and the CLI's answers to bad input."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from conftest import assert_rejected_as_expected

from sim.scenario import Scenario, load_scenario
from sim.sources import bibliography, cited_keys

HERE = Path(__file__).resolve().parent
BAD = sorted((HERE / "bad_scenarios").glob("*.toml"))
SCENARIOS = sorted((HERE.parent / "scenarios").glob("*.toml"))
ROOT = HERE.parent


def test_corpus_is_not_empty():
    assert len(BAD) >= 12


@pytest.mark.parametrize("path", BAD, ids=[p.stem for p in BAD])
def test_malformed_scenario_is_rejected_naming_file_and_key(path: Path):
    assert_rejected_as_expected(path, load_scenario)


@pytest.mark.parametrize("path", BAD[:6], ids=[p.stem for p in BAD[:6]])
def test_cli_exits_2_with_one_line_and_writes_nothing(path: Path, tmp_path: Path):
    out = tmp_path / "out"
    proc = subprocess.run(
        [sys.executable, "-m", "sim.cli", "run", str(path), "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("yjsim: error: "), proc.stderr
    assert "Traceback" not in proc.stderr
    assert not out.exists()


def test_cli_rejects_out_of_range_override(tmp_path: Path):
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "sim.cli",
            "run",
            str(SCENARIOS[0]),
            "--years",
            "0",
            "--out",
            str(tmp_path / "o"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2
    assert "run.years" in proc.stderr
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize("path", SCENARIOS, ids=[p.stem for p in SCENARIOS])
def test_every_shipped_scenario_validates(path: Path):
    sc = load_scenario(path)
    assert sc.name and sc.description


def test_extends_merges_tables_key_by_key(tmp_path: Path):
    (tmp_path / "base.toml").write_text(
        'name = "base"\ndescription = "b"\n[population]\nwards = 5\nlow_income_share = 0.3\n'
    )
    (tmp_path / "child.toml").write_text(
        'name = "child"\ndescription = "c"\nextends = "base.toml"\n[population]\nwards = 7\n'
    )
    sc = load_scenario(tmp_path / "child.toml")
    assert sc.population.wards == 7
    assert sc.population.low_income_share == 0.3


def test_register_lists_every_parameter_with_a_basis_and_sourced_ones_with_a_source():
    rows = Scenario(name="x").register()
    assert len(rows) > 50
    assert {r.basis for r in rows} <= {"calibrated", "sourced", "assumed"}
    for r in rows:
        assert r.unit, r.name
        if r.basis == "sourced":
            assert r.source, r.name
        if r.basis == "assumed":
            assert r.source or r.doc, f"{r.name}: an assumption should say what it assumes"


def test_seed_documents_are_cited_in_the_register_by_bibliography_key():
    # Every register row, defaults and the values each scenario file sets (those name
    # the default's source too), so that the interventions' parameters are covered.
    rows = [r for path in SCENARIOS for r in load_scenario(path).register()]
    rows += Scenario(name="x").register()
    assert not [r.name for r in rows if ".txt" in r.source], "seed documents cited by file"
    seeds = {key for key, e in bibliography().items() if e.seed_file}
    assert len(seeds) == 5
    cited = {k for r in rows for k in cited_keys(r.source.rsplit(" from ", 1)[-1])}
    assert seeds <= cited, f"seed documents no parameter cites: {sorted(seeds - cited)}"


def test_params_command_prints_the_register():
    proc = subprocess.run(
        [sys.executable, "-m", "sim.cli", "params", str(ROOT / "scenarios" / "croydon-2018.toml")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0
    assert "population.population_10_17\t39334\tpeople\tsourced" in proc.stdout
    # The prior column ("-": none), then the source column: the bibliography key, then the
    # parameter's note.
    row = "population.population_10_17\t39334\tpeople\tsourced\t-\tcroydon-yos-2019: "
    assert row in proc.stdout
    assert "# sources: keys of docs/sources.md" in proc.stdout
