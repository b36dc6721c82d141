"""The policy comparison report: its statistics, and what a reader finds in it."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from scipy import stats

from sim.batch import run_experiment
from sim.experiment import ExperimentError, part_name
from sim.report import (
    MEASURES,
    cost_per_unit_averted,
    headline_markdown,
    paired_comparison,
    write_report,
)
from sim.results import write_part

ROOT = Path(__file__).resolve().parent.parent
SMOKE = ROOT / "experiments" / "smoke.toml"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


# -- statistics on numbers we can check by hand ----------------------------------------------


def test_paired_comparison_mean_interval_and_chance_better():
    base = np.array([10.0, 12.0, 9.0, 11.0, 8.0])
    policy = np.array([9.0, 10.0, 9.0, 8.0, 9.0])  # differences -1, -2, 0, -3, +1
    r = paired_comparison(base, policy, "lower")
    d = policy - base
    half = stats.t.ppf(0.975, 4) * d.std(ddof=1) / math.sqrt(5)
    assert r["n"] == 5
    assert r["diff"] == pytest.approx(-1.0)
    assert (r["lo"], r["hi"]) == pytest.approx((-1.0 - half, -1.0 + half))
    assert r["base"] == pytest.approx(10.0) and r["policy"] == pytest.approx(9.0)
    assert r["pct"] == pytest.approx(-10.0)
    # better in 3 pairs, a tie in 1 (half), worse in 1: 3.5 / 5
    assert r["p_better"] == pytest.approx(0.7)


def test_pairs_with_an_undefined_value_are_left_out():
    r = paired_comparison(np.array([0.5, np.nan, 0.4]), np.array([0.4, 0.3, np.nan]), "lower")
    assert r["n"] == 1 and r["diff"] == pytest.approx(-0.1)
    assert math.isnan(r["lo"])  # one pair has no interval
    empty = paired_comparison(np.array([np.nan]), np.array([1.0]), "lower")
    assert empty["n"] == 0 and math.isnan(empty["diff"])


def test_disproportionality_is_better_closer_to_parity():
    base = np.array([1.5, 0.8, 1.2])
    policy = np.array([1.2, 0.6, 0.9])  # closer, further, equally far (0.2 vs 0.1 -> worse)
    r = paired_comparison(base, policy, "closer to 1")
    # |0.2|<|0.5| better; |0.4|>|0.2| worse; |0.1|<|0.2| better
    assert r["p_better"] == pytest.approx(2 / 3)


def test_cost_per_unit_averted():
    rng = np.random.default_rng(1)
    d_cost = np.array([1000.0, 1200.0, 800.0, 1000.0])
    averted = np.array([10.0, 12.0, 8.0, 10.0])
    r = cost_per_unit_averted(d_cost, averted, rng)
    assert r["ratio"] == pytest.approx(100.0)
    assert r["lo"] == pytest.approx(100.0) and r["hi"] == pytest.approx(100.0)
    none = cost_per_unit_averted(d_cost, -averted, rng)
    assert math.isnan(none["ratio"]) and none["averted"] < 0


# -- a report on made-up results with a known effect -----------------------------------------


def _fake_results(out: Path, replicates: int = 8) -> None:
    """A results folder: 'policy' cuts true offences by 10% and first-time entrants by 2
    in every replicate, costs 5,000 GBP a year more; its reoffending rate rises by 5 points
    on a cohort that shrinks by a quarter (the composition effect)."""
    rng = np.random.default_rng(3)
    for kind in ("summary", "failures"):
        (out / kind).mkdir(parents=True)
    scenarios = ["base", "policy", "other"]
    manifest = {
        "format": 1,
        "name": "fake",
        "description": "made-up results for the report tests",
        "baseline": "base",
        "scenarios": [
            {
                "name": s,
                "description": f"the {s} scenario",
                "file": f"{s}.toml",
                "interventions": [],
            }
            for s in scenarios
        ],
        "replicates": replicates,
        "draws": 0,
        "seed": 1,
        "years": 10,
        "burn_in_years": 4,
        "outputs": ["summary"],
        "runs": replicates * len(scenarios),
        "code_version": "abc",
    }
    (out / "experiment.json").write_text(json.dumps(manifest))
    for r in range(replicates):
        base = {
            "children_cautioned_or_sentenced_per_year": 400 + rng.normal(0, 20),
            "first_time_entrants_per_year": 200 + rng.normal(0, 10),
            "proven_reoffending_rate": 0.40 + rng.normal(0, 0.02),
            "reoffending_cohort_per_year": 300 + rng.normal(0, 10),
            "true_offences_per_year": 10_000 + rng.normal(0, 300),
            "custody_sentences_per_year": 20 + rng.normal(0, 2),
            "custody_population_mean": 15 + rng.normal(0, 1),
            "cost_per_year_gbp.total": 5e6 + rng.normal(0, 1e5),
            "relative_rate_index.arrest.Black": 1.6 + rng.normal(0, 0.05),
            "relative_rate_index.formal_disposal.Black": 1.2 + rng.normal(0, 0.05),
            "relative_rate_index.stop_search.Black": 1.9 + rng.normal(0, 0.05),
            "relative_rate_index.gang_listing.Black": 1.8 + rng.normal(0, 0.05),
        }
        policy = dict(base)
        policy["true_offences_per_year"] = base["true_offences_per_year"] * 0.9
        policy["first_time_entrants_per_year"] = base["first_time_entrants_per_year"] - 2
        policy["cost_per_year_gbp.total"] = base["cost_per_year_gbp.total"] + 5000
        policy["proven_reoffending_rate"] = base["proven_reoffending_rate"] + 0.05
        policy["reoffending_cohort_per_year"] = base["reoffending_cohort_per_year"] * 0.75
        for name, values in (("base", base), ("policy", policy), ("other", base)):
            if name == "other" and r == 0:
                continue  # this run failed
            row = {"scenario": name, "replicate": r, "draw": 0, "seed": 1 + r, **values}
            write_part(pa.Table.from_pylist([row]), out / "summary" / part_name(name, 0, r))
    failure = {
        "scenario": "other",
        "replicate": 0,
        "draw": 0,
        "seed": 1,
        "error": "ValueError: made up",
        "traceback": "",
    }
    write_part(pa.Table.from_pylist([failure]), out / "failures" / part_name("other", 0, 0))


@pytest.fixture(scope="module")
def fake_report(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("fake")
    _fake_results(out)
    return write_report(out)


def test_report_files_are_written(fake_report: Path):
    folder = fake_report.parent
    assert fake_report.name == "index.html" and (folder / "index.md").is_file()
    for name in ("effects.png", "composition.png", "cost_effectiveness.png"):
        data = (folder / name).read_bytes()
        assert data.startswith(PNG_MAGIC) and len(data) > 10_000, name
    page = fake_report.read_text()
    for img in re.findall(r'<img src="([^"]+)"', page):
        assert (folder / img).is_file(), img


def _table_after(md: str, header_start: str) -> list[dict[str, str]]:
    """The rows of the Markdown table whose header line starts with ``header_start``."""
    lines = md.splitlines()
    i = next(k for k, line in enumerate(lines) if line.startswith(header_start))
    columns = [c.strip() for c in lines[i].strip("|").split("|")]
    rows = []
    for line in lines[i + 2 :]:
        if not line.startswith("|"):
            break
        cells = [c.strip() for c in line.strip("|").split("|")]
        rows.append(dict(zip(columns, cells, strict=True)))
    return rows


def test_headline_table_states_the_known_effects(fake_report: Path):
    md = (fake_report.parent / "index.md").read_text()
    rows = {r["Policy (vs baseline)"]: r for r in _table_after(md, "| Policy (vs baseline)")}
    assert list(rows) == ["policy", "other"]
    cell = rows["policy"]
    assert len(cell) == 1 + len(MEASURES)
    assert cell["True offences"] == "-10.0% (100%)"
    assert cell["First-time entrants"].endswith("(100%)")
    assert cell["Reoffending rate"] == "+5.0 pts (0%)"
    assert cell["Cost"].endswith("(0%)")
    assert cell["Cautioned or sentenced"] == "+0.0% (50%)"  # unchanged: every pair a tie
    # 'other' is the baseline again: no change, and a tie in every pair.
    assert set(rows["other"].values()) - {"other"} <= {"+0.0% (50%)", "0.0 pts (50%)", "0.00 (50%)"}


def test_report_explains_the_composition_effect_and_value_for_money(fake_report: Path):
    md = (fake_report.parent / "index.md").read_text()
    assert "measured reoffending rate rises by 5.0 points while true offences fall by 10.0%" in md
    assert "cohort the rate is measured on changes by -25.0%" in md
    assert "fewer children enter the cohort, and those left out reoffend less often" in md
    # 5,000 GBP for 10% of ~10,000 offences: about 5 GBP per offence averted.
    row = next(r for r in _table_after(md, "| Policy | Extra cost") if r["Policy"] == "policy")
    assert row["Extra cost a year"] == "+5,000 GBP"
    assert re.match(r"[45] GBP per offence averted", row["Cost per offence averted"]), row
    assert row["Cost per first-time entrant averted"].startswith(  # 5,000 GBP / 2 children
        "2,500 GBP per first-time entrant averted (95% interval 2,500 GBP to 2,500 GBP)"
    )


def test_report_lists_failed_runs_and_counts_pairs(fake_report: Path):
    md = (fake_report.parent / "index.md").read_text()
    assert "## Runs that failed" in md
    assert "| other | 0 | 0 | ValueError: made up |" in md
    assert "23 of 24 runs finished, 1 failed" in md
    html = fake_report.read_text()
    assert "<h2>Runs that failed</h2>" in html and "ValueError: made up" in html


def test_headline_markdown_matches_the_report(fake_report: Path):
    table = headline_markdown(fake_report.parent.parent)
    md = (fake_report.parent / "index.md").read_text()
    assert table.strip() in md


def test_a_folder_without_results_is_refused(tmp_path: Path):
    with pytest.raises(ExperimentError, match="not an experiment results folder"):
        write_report(tmp_path)


# -- a report on a real (tiny) batch ------------------------------------------------------


def test_report_on_the_smoke_experiment(tmp_path: Path):
    out = tmp_path / "smoke"
    run_experiment(SMOKE, out, workers=1, progress=False)
    index = write_report(out)
    md = (index.parent / "index.md").read_text()
    summary = pd.read_parquet(out / "summary")
    assert "# Policy comparison: smoke" in md
    assert "| tiny | baseline |" in md and "| tiny-more-detection | policy |" in md
    assert "3 paired replicates per scenario" in md
    assert "6 of 6 runs finished, 0 failed" in md
    for column in ("offences", "first_time_entrants", "custody_population"):
        data = (index.parent / f"series_{column}.png").read_bytes()
        assert data.startswith(PNG_MAGIC)
    # The difference in the detail table is the mean paired difference of the data.
    pivot = summary.pivot(index="replicate", columns="scenario", values="true_offences_per_year")
    diff = (pivot["tiny-more-detection"] - pivot["tiny"]).mean()
    row = next(x for x in md.splitlines() if x.startswith("| True offences"))
    shown = row.split("|")[4].strip()
    assert float(shown.replace(",", "")) == pytest.approx(diff, abs=0.051), (shown, diff)
