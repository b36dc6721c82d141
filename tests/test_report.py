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
from sim.comparison import (
    COHORT_SIZE_TOLERANCE,
    HEADLINE,
    NET_COST,
    REOFFENDING,
    TRUE_OFFENCES,
    cohort_check,
    compare_all,
    drivers,
    effect,
    measure_effect,
    pairs,
    runaway,
    with_derived,
)
from sim.costs import PATHWAY_ITEMS, CostParams, pathway_costs
from sim.events import OFFENCE_TYPES
from sim.experiment import ExperimentError, part_name
from sim.report import MEASURES, cost_per_unit_averted, headline_markdown, write_report
from sim.results import write_part

ROOT = Path(__file__).resolve().parent.parent
SMOKE = ROOT / "experiments" / "smoke.toml"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


# -- the uncertainty of a paired comparison, on numbers we can check by hand -----------------


def test_one_draw_gives_the_t_interval_of_the_mean():
    d = np.array([-1.0, -2.0, 0.0, -3.0, 1.0])
    e = effect(d, np.zeros(5))
    half = stats.t.ppf(0.975, 4) * d.std(ddof=1) / math.sqrt(5)
    assert e.n == 5 and e.n_draws == 1
    assert e.centre == pytest.approx(-1.0)
    assert (e.lo, e.hi) == pytest.approx((-1.0 - half, -1.0 + half))
    # Sure it is higher: the t distribution's mass above zero.
    assert e.p_higher == pytest.approx(stats.t.sf(1.0 / (d.std(ddof=1) / math.sqrt(5)), 4))
    assert e.param_var == 0 and e.chance_var == pytest.approx(d.var(ddof=1))
    assert e.verdict == "unclear"  # the interval holds zero


def test_draws_split_parameter_uncertainty_from_chance():
    """400 draws whose expected effects spread with sd 2, replicates with sd 1 around them:
    the split finds both, and the interval is the spread of the expected effects."""
    rng = np.random.default_rng(7)
    draws, reps = 400, 10
    expected = rng.normal(1.0, 2.0, draws)
    d = np.repeat(expected, reps) + rng.normal(0, 1.0, draws * reps)
    e = effect(d, np.repeat(np.arange(draws), reps))
    assert e.param_var == pytest.approx(expected.var(ddof=1), rel=0.05)
    assert e.chance_var == pytest.approx(1.0, rel=0.05)
    assert e.param_share == pytest.approx(4 / 5, abs=0.03)
    lo, mid, hi = np.quantile(expected, [0.025, 0.5, 0.975])
    assert (e.lo, e.centre, e.hi) == pytest.approx((lo, mid, hi), abs=0.25)
    assert e.p_higher == pytest.approx((expected > 0).mean(), abs=0.03)
    # Single runs spread wider than the expected effect: chance adds to them.
    assert e.range_hi - e.range_lo > e.hi - e.lo


def test_undefined_pairs_are_left_out_and_a_constant_effect_is_a_point():
    e = effect(np.array([0.1, np.nan, -0.1, np.nan]), np.zeros(4))
    assert e.n == 2
    point = effect(np.full(6, -1000.0), np.zeros(6))
    assert (point.lo, point.centre, point.hi) == (-1000.0, -1000.0, -1000.0)
    assert point.p_higher == 0.0 and point.verdict == "better"
    assert effect(np.array([np.nan]), np.zeros(1)).n == 0


def test_disproportionality_is_judged_by_the_distance_from_parity():
    """An index that moves from above 1 to about 1 comes closer to parity: better, though
    the index itself falls (a fall below 1 would be no better)."""
    rng = np.random.default_rng(1)
    base = 1.4 + rng.normal(0, 0.02, 12)
    policy = 1.1 + rng.normal(0, 0.02, 12)
    m = pd.DataFrame(
        {
            "draw": 0,
            "replicate": range(12),
            "relative_rate_index.arrest.Black_b": base,
            "relative_rate_index.arrest.Black_p": policy,
        }
    )
    rri = next(x for x in MEASURES if x.column == "relative_rate_index.arrest.Black")
    e = measure_effect(m, rri)
    assert e.centre < 0 and e.verdict == "better" and e.p_worse < 0.01
    m["relative_rate_index.arrest.Black_p"] = 2 - base - 0.3  # as far below 1 as it was above
    assert measure_effect(m, rri).verdict == "worse"


def test_drivers_name_the_parameter_that_moves_the_difference():
    """The effect grows with parameter a; b is noise: a explains most of the parameters'
    share, b nearly nothing, and no share exceeds the parameters' share."""
    rng = np.random.default_rng(3)
    draws, reps = 60, 4
    a, b = rng.uniform(0, 1, draws), rng.uniform(0, 1, draws)
    expected = 10 * a
    rows = []
    for j in range(draws):
        for r in range(reps):
            base = 100 + rng.normal(0, 1)
            rows.append(
                {
                    "draw": j + 1,
                    "replicate": r,
                    "x_b": base,
                    "x_p": base + expected[j] + rng.normal(0, 1),
                    "param.behaviour.a_b": a[j],
                    "param.behaviour.a_p": a[j],
                    "param.behaviour.b_b": b[j],
                    "param.behaviour.b_p": b[j],
                    "param.population.population_10_17_b": 5000.0,  # constant: no driver
                    "param.population.population_10_17_p": 5000.0,
                }
            )
    m = pd.DataFrame(rows)
    e = effect(m["x_p"] - m["x_b"], m["draw"])
    found = drivers(m, "x", e)
    assert [d.name for d in found] == ["behaviour.a", "behaviour.b"]
    top = found[0]
    # Var(10 a) = 100/12 against chance 1: a explains about 8.3 / 9.3 of a run's variance.
    assert top.share == pytest.approx((100 / 12) / (100 / 12 + 1), abs=0.08)
    assert top.sign == 1 and found[1].share < 0.05
    assert all(d.share <= e.param_share + 1e-9 for d in found)


def test_runaway_runs_are_flagged_by_the_calibrations_limit():
    from sim.calibration import RUNAWAY_OFFENCES_PER_CHILD_YEAR as limit

    # 0.6 offences a child (Croydon's old defaults) is under the limit; twice it is past.
    s = pd.DataFrame(
        {
            "true_offences_per_year": [3_000.0, 2 * limit * 5_000.0],
            "population_10_17": [5_000.0, 5_000.0],
        }
    )
    assert list(runaway(s)) == [False, True]


def test_cost_per_unit_averted():
    rng = np.random.default_rng(1)
    d_cost = np.array([1000.0, 1200.0, 800.0, 1000.0])
    averted = np.array([10.0, 12.0, 8.0, 10.0])
    r = cost_per_unit_averted(d_cost, averted, rng)
    assert r["ratio"] == pytest.approx(100.0)
    assert r["lo"] == pytest.approx(100.0) and r["hi"] == pytest.approx(100.0)
    none = cost_per_unit_averted(d_cost, -averted, rng)
    assert math.isnan(none["ratio"]) and none["averted"] < 0
    # With draws, whole draws are resampled: still exactly 100 per unit.
    grouped = cost_per_unit_averted(d_cost, averted, rng, np.array([1, 1, 2, 2]))
    assert (grouped["lo"], grouped["hi"]) == pytest.approx((100.0, 100.0))


# -- the value of offences ---------------------------------------------------------------------


def test_each_valuation_band_is_ordered_and_the_totals_use_it():
    from sim.crime_costs import valued

    params = CostParams()
    per_year = dict.fromkeys(OFFENCE_TYPES, 10.0)
    cost = valued(per_year, params, "crime_cost")
    central = sum(10 * getattr(params, f"crime_cost_{t}")[1] for t in OFFENCE_TYPES)
    assert cost["total"] == pytest.approx(central)
    assert cost["total_low"] <= cost["total"] <= cost["total_high"]
    assert cost["robbery"] == pytest.approx(10 * 11_320)  # Heeks et al.'s robbery
    with pytest.raises(ValueError, match="crime_cost_violence: expected low <= central"):
        CostParams(crime_cost_violence=(9_000, 8_000, 14_050))


def test_pathway_items_are_the_pathway_costs_keys(small_scenario):
    from conftest import run

    model = run(small_scenario)
    assert tuple(pathway_costs(model)) == PATHWAY_ITEMS


# -- a report on made-up results with known effects --------------------------------------------


BANDS = ("0", "1-2", "3-6", "7-10", "11+")
BAND_RATES = (0.25, 0.35, 0.5, 0.6, 0.7)


def _row(rng: np.random.Generator, cohort: np.ndarray) -> dict[str, float]:
    """A baseline run's measures; ``cohort``: children by band of previous offences."""
    offences = {
        t: n + rng.normal(0, n / 50)
        for t, n in zip(OFFENCE_TYPES, (4_000, 1_000, 3_500, 500, 1_000), strict=True)
    }
    row = {
        "population_10_17": 10_000.0,
        "children_cautioned_or_sentenced_per_year": 400 + rng.normal(0, 20),
        "first_time_entrants_per_year": 200 + rng.normal(0, 10),
        "proven_reoffending_rate": float(np.dot(cohort, BAND_RATES) / cohort.sum()),
        "reoffending_cohort_per_year": float(cohort.sum()) / 10,
        "true_offences_per_year": sum(offences.values()),
        "custody_sentences_per_year": 20 + rng.normal(0, 2),
        "custody_population_mean": 15 + rng.normal(0, 1),
        "relative_rate_index.arrest.Black": 1.6 + rng.normal(0, 0.05),
        "relative_rate_index.formal_disposal.Black": 1.2 + rng.normal(0, 0.05),
        "relative_rate_index.stop_search.Black": 1.9 + rng.normal(0, 0.05),
        "relative_rate_index.gang_listing.Black": 1.8 + rng.normal(0, 0.05),
    }
    for k in PATHWAY_ITEMS:
        row[f"cost_per_year_gbp.{k}"] = 500_000 + rng.normal(0, 10_000)
    row["cost_per_year_gbp.triage"] = 100_000.0
    row["cost_per_year_gbp.total"] = sum(
        v for k, v in row.items() if k.startswith("cost_per_year_gbp.")
    )
    for k, n, r in zip(BANDS, cohort, BAND_RATES, strict=True):
        row[f"reoffending_cohort_by_previous_offences.{k}"] = float(n)
        row[f"reoffending_rate_by_previous_offences.{k}"] = r
    _value(row, offences)
    return row


def _value(row: dict[str, float], offences: dict[str, float]) -> None:
    """The crime cost and harm columns of a row, at the default valuation."""
    from sim.crime_costs import valued

    params = CostParams()
    for t in OFFENCE_TYPES:
        row[f"true_offences_per_year_by_type.{t}"] = offences[t]
    for what, col in (
        ("crime_cost", "crime_cost_per_year_gbp"),
        ("harm_days", "crime_harm_days_per_year"),
    ):
        for k, v in valued(offences, params, what).items():
            row[f"{col}.{k}"] = v


def _fake_results(out: Path, replicates: int = 8, draws: int = 0) -> None:
    """A results folder. 'policy' cuts every offence type by 10% and first-time entrants by
    2, costs 5,000 GBP a year more, and leaves out a quarter of the cohort, the children
    with no previous offences first: the measured rate rises though nobody reoffends more.
    'other' is the baseline again; its replicate 0 failed. With draws, 'policy''s cut in
    offences grows with the drawn parameter param.behaviour.coef_peer."""
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
        "draws": draws,
        "seed": 1,
        "years": 10,
        "burn_in_years": 4,
        "outputs": ["summary"],
        "runs": replicates * max(draws, 1) * len(scenarios),
        "code_version": "abc",
    }
    (out / "experiment.json").write_text(json.dumps(manifest))
    for d in range(1, draws + 1) if draws else [0]:
        peer = 0.5 + 0.1 * d
        cut = 0.1 if not draws else 0.05 + 0.1 * (peer - 0.5)
        for r in range(replicates):
            cohort = np.array([400.0, 300, 200, 60, 40]) + rng.normal(0, 5, 5).round()
            base = _row(rng, cohort)
            policy = dict(base)
            offences = {
                t: base[f"true_offences_per_year_by_type.{t}"] * (1 - cut) for t in OFFENCE_TYPES
            }
            policy["true_offences_per_year"] = sum(offences.values())
            _value(policy, offences)
            policy["first_time_entrants_per_year"] = base["first_time_entrants_per_year"] - 2
            policy["cost_per_year_gbp.triage"] = base["cost_per_year_gbp.triage"] + 5000
            policy["cost_per_year_gbp.total"] = base["cost_per_year_gbp.total"] + 5000
            smaller = cohort.copy()
            smaller[0] -= cohort.sum() / 4  # a quarter fewer, all with no previous offence
            for k, n in zip(BANDS, smaller, strict=True):
                policy[f"reoffending_cohort_by_previous_offences.{k}"] = float(n)
            policy["reoffending_cohort_per_year"] = float(smaller.sum()) / 10
            policy["proven_reoffending_rate"] = float(np.dot(smaller, BAND_RATES) / smaller.sum())
            for name, values in (("base", base), ("policy", policy), ("other", base)):
                if name == "other" and r == 0 and d <= 1:
                    continue  # this run failed
                row = {"scenario": name, "replicate": r, "draw": d, "seed": 1 + r, **values}
                if draws:
                    row["param.behaviour.coef_peer"] = peer
                write_part(pa.Table.from_pylist([row]), out / "summary" / part_name(name, d, r))
    failure = {
        "scenario": "other",
        "replicate": 0,
        "draw": 1 if draws else 0,
        "seed": 1,
        "error": "ValueError: made up",
        "traceback": "",
    }
    write_part(
        pa.Table.from_pylist([failure]),
        out / "failures" / part_name("other", failure["draw"], 0),
    )


@pytest.fixture(scope="module")
def fake_report(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("fake")
    _fake_results(out)
    return write_report(out)


def test_report_files_are_written(fake_report: Path):
    folder = fake_report.parent
    assert fake_report.name == "index.html" and (folder / "index.md").is_file()
    for name in ("headline.png", "effects.png", "composition.png", "cost_effectiveness.png"):
        data = (folder / name).read_bytes()
        assert data.startswith(PNG_MAGIC) and len(data) > 10_000, name
    page = fake_report.read_text()
    for img in re.findall(r'<img src="([^"]+)"', page):
        assert (folder / img).is_file(), img
    # The first screen: the headline table (the page links it as a figure; the Markdown
    # shows the figure), before any evidence.
    assert page.index('href="headline.png"') < page.index("<h2>The evidence</h2>")
    md = (folder / "index.md").read_text()
    assert md.index("![headline") < md.index("| Policy (vs baseline)") < md.index("## The evidence")


def test_a_published_report_says_how_it_was_made_and_finds_its_charts(
    fake_report: Path, tmp_path: Path
):
    """docs/results.md: the report under its title, a line with the commands and commit
    that made it, every chart copied beside it and linked there."""
    from sim.report import publish_report

    results = fake_report.parent.parent
    manifest = json.loads((results / "experiment.json").read_text())
    (tmp_path / "docs").mkdir()
    target = publish_report(results, tmp_path / "docs" / "results.md")
    md = target.read_text()
    title, blank, provenance = md.splitlines()[:3]
    assert title.startswith("# ") and blank == ""
    assert f"yjsim experiment {manifest.get('experiment_file', '?')} --out" in provenance
    assert "--publish" in provenance and manifest["code_version"] in provenance
    links = re.findall(r"\]\(([^)]+\.png)\)", md)
    assert links and all(link.startswith("results/") for link in links)
    for link in links:
        assert (tmp_path / "docs" / link).read_bytes().startswith(PNG_MAGIC), link
    # A target that is not Markdown, or in no folder, is refused before anything is written.
    with pytest.raises(ExperimentError, match=r"--publish: expected the path of a \.md file"):
        publish_report(results, tmp_path / "docs" / "results.txt")
    with pytest.raises(ExperimentError, match="no such folder"):
        publish_report(results, tmp_path / "nowhere" / "results.md")


def test_a_published_report_names_the_commit_that_wrote_it_when_the_runs_are_older(
    fake_report: Path, tmp_path: Path, monkeypatch
):
    """The runs of docs/results.md can come from an earlier commit than the report's code:
    the provenance line names both, so neither is taken for the other."""
    import shutil

    import sim.results
    from sim.report import publish_report

    results = tmp_path / "results"  # a copy: the fixture's folder is shared
    shutil.copytree(fake_report.parent.parent, results)
    manifest_file = results / "experiment.json"
    manifest = json.loads(manifest_file.read_text())
    manifest["git_commit"] = "aaaaaaaaaaaa"
    manifest_file.write_text(json.dumps(manifest))
    (tmp_path / "docs").mkdir()
    monkeypatch.setattr(sim.results, "git_commit", lambda: "bbbbbbbbbbbb")
    provenance = publish_report(results, tmp_path / "docs" / "results.md").read_text()
    provenance = provenance.splitlines()[2]
    assert "runs made at commit `aaaaaaaaaaaa`" in provenance
    assert "report written at commit `bbbbbbbbbbbb`" in provenance
    monkeypatch.setattr(sim.results, "git_commit", lambda: "aaaaaaaaaaaa")
    provenance = publish_report(results, tmp_path / "docs" / "results.md").read_text()
    assert "at commit `aaaaaaaaaaaa`" in provenance and "report written" not in provenance


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


def test_headline_states_the_known_effects(fake_report: Path):
    md = (fake_report.parent / "index.md").read_text()
    rows = {r["Policy (vs baseline)"]: r for r in _table_after(md, "| Policy (vs baseline)")}
    assert list(rows) == ["policy", "other"]
    cell = rows["policy"]
    assert len(cell) == 1 + len(HEADLINE)
    assert re.match(
        r"-10\.0% \(-10\.\d% to -9\.\d%\): better \(over 99% sure\)", cell["True offences"]
    )
    assert (
        cell["Programme + justice cost"].startswith("+5,000 GBP")
        and "worse" in cell["Programme + justice cost"]
    )
    # 'other' is the baseline again: no change anywhere.
    assert all("no clear change" in v or v == "other" for v in rows["other"].values())


def test_a_composition_driven_rate_is_never_shown_as_better(fake_report: Path):
    """The cohort loses a quarter, its lowest-risk children: the rate rises 5 points with
    nobody reoffending more. The headline and the lines say "not comparable", uncoloured."""
    md = (fake_report.parent / "index.md").read_text()
    row = next(
        r
        for r in _table_after(md, "| Policy (vs baseline)")
        if r["Policy (vs baseline)"] == "policy"
    )
    assert row["Reoffending rate"].startswith("not comparable")
    glance = md[: md.index("## The evidence")]
    assert (
        "Proven reoffending rate: not comparable, because the cohort it is measured on "
        "changes size by -25%" in glance
    )
    assert "judge the policy by true offences" in glance
    page = fake_report.read_text()
    td = re.search(r"<td([^>]*)>not comparable \(cohort changed\)", page)
    assert td is not None and "background" not in td.group(1)


def test_colour_only_where_the_interval_excludes_no_change(fake_report: Path):
    page = fake_report.read_text()
    for attrs, text in re.findall(r"<td([^>]*)>([^<]*)</td>", page):
        if "no clear change" in text:
            assert "background" not in attrs, text
        if re.search(r": (better|worse) \(", text):
            assert "background" in attrs, text


def test_the_top_layer_has_lines_rankings_and_the_question(fake_report: Path):
    md = (fake_report.parent / "index.md").read_text()
    glance = md[: md.index("## The evidence")]
    assert 'The question: what changes against base with "the policy scenario"?' in glance
    assert (
        "Against base, policy would be worse on spending; better on true offences, harm" in glance
    )
    assert re.search(
        r"True offences: -10\.0% \(-10\.\d% to -9\.\d%\), better: we are over 99% sure\.", glance
    )
    assert "It would cost 5,000 GBP a year in programme and justice spending" in glance
    assert "100% of that change is priced with assumed unit costs" in glance
    assert "These intervals carry chance only" in glance
    ranked = _table_after(md, "| Rank | Policy | Net social cost")
    # 10% fewer offences are worth far more than 5,000 GBP: policy ranks first.
    assert [r["Policy"] for r in ranked] == ["policy", "other"]
    assert ranked[0]["Verdict"] == "better"
    per_pound = _table_after(md, "| Rank | Policy | Harm averted")
    assert (
        per_pound[0]["Policy"] == "policy"
        and per_pound[0]["Reading"] == "costs money to avert harm"
    )


def test_costs_say_whether_they_are_sourced_or_assumed(fake_report: Path):
    md = (fake_report.parent / "index.md").read_text()
    items = {r["Cost item"]: r for r in _table_after(md, "| Cost item")}
    assert items["custody"]["Unit cost"] == "sourced"  # costs.custody_place_per_year
    assert items["court"]["Unit cost"] == "assumed"
    assert items["triage"]["Unit cost"] == "assumed" and items["triage"]["policy"] == "+5,000 GBP"
    types = {r["Offence type"]: r for r in _table_after(md, "| Offence type")}
    assert (
        types["robbery"]["Cost basis"] == "sourced" and types["violence"]["Cost basis"] == "assumed"
    )
    assert types["drugs"]["Harm basis"] == "sourced"  # the Cambridge index leaves them out


def test_report_explains_the_composition_effect_and_value_for_money(fake_report: Path):
    md = (fake_report.parent / "index.md").read_text()
    assert "the cohort the rate is measured on changes by -25.0%" in md
    assert "Fewer children are counted, and those left out differ from the rest" in md
    row = next(r for r in _table_after(md, "| Policy | Extra spending") if r["Policy"] == "policy")
    assert row["Extra spending a year"] == "+5,000 GBP"
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


def test_with_draws_the_report_names_the_driver(tmp_path: Path):
    _fake_results(tmp_path, replicates=3, draws=6)
    manifest = json.loads((tmp_path / "experiment.json").read_text())
    manifest["posterior"] = "calibration/posterior-validity.parquet"
    fit = {"calibration": "validity", "generation": 7, "epsilon": 64.1, "effective_size": 120}
    manifest["posterior_fit"] = {**fit, "simulations": 11000}
    (tmp_path / "experiment.json").write_text(json.dumps(manifest))
    md = (write_report(tmp_path).parent / "index.md").read_text()
    # Which posterior, and how far its fit had gone: results from a fit still converging
    # must say so.
    assert (
        "6 parameter draws of posterior-validity.parquet (generation 7 of its fit, "
        "distance threshold 64.1, effective size 120 particles; the same draw"
    ) in md
    rows = [
        r
        for r in _table_after(md, "| Policy | Measure | Parameters' share")
        if r["Policy"] == "policy" and r["Measure"] == "True offences"
    ]
    assert rows and rows[0]["Largest drivers (first-order share)"].startswith("behaviour.coef_peer")
    assert "(-)" in rows[0]["Largest drivers (first-order share)"]  # more peer, fewer offences
    assert "These intervals carry chance only" not in md
    assert "These runs drew 6 parameter sets (6 distinct posterior particles)" in md


def test_runaway_pairs_are_left_out_and_reported(tmp_path: Path):
    _fake_results(tmp_path)
    part = tmp_path / "summary" / part_name("policy", 0, 3)
    row = pd.read_parquet(part).iloc[0].to_dict()
    from sim.calibration import RUNAWAY_OFFENCES_PER_CHILD_YEAR as limit

    row["true_offences_per_year"] = 2 * limit * row["population_10_17"]  # past the limit
    write_part(pa.Table.from_pylist([row]), part)
    summary = pd.read_parquet(tmp_path / "summary")
    comps = compare_all(summary, "base", ["policy"])
    assert comps["policy"].runaway_pairs == 1 and comps["policy"].runaway_policy_only == 1
    assert comps["policy"].pairs == 7
    assert comps["policy"].effects[TRUE_OFFENCES.column].pct == pytest.approx(-10.0, abs=0.05)
    md = (write_report(tmp_path).parent / "index.md").read_text()
    assert "## Runs whose offending ran away" in md
    assert (
        "1 paired futures were left out because offending ran away (in 1 of them only under policy)"
        in md
    )


def test_the_cohort_rule_passes_an_unchanged_cohort(tmp_path: Path):
    _fake_results(tmp_path)
    s = with_derived(pd.read_parquet(tmp_path / "summary"))
    same = pairs(s, "base", "other")
    check = cohort_check(same, s, "base")
    assert check.comparable and check.reason == ""
    changed = cohort_check(pairs(s, "base", "policy"), s, "base")
    assert not changed.comparable
    assert changed.size.pct == pytest.approx(-25.0, abs=0.5)
    assert abs(changed.size.pct) >= 100 * COHORT_SIZE_TOLERANCE
    # A quarter fewer with no previous offence: the rest's mix alone raises the rate.
    assert changed.mix_shift.centre > 0.03
    # Results that do not record the cohort cannot show the rate as better or worse.
    bare = s.drop(columns=[c for c in s if c.startswith("reoffending_cohort")])
    assert not cohort_check(pairs(bare, "base", "other"), bare, "base").comparable
    net = compare_all(s, "base", ["policy"])["policy"].effects[NET_COST.column]
    assert net.centre < 0  # 10% less crime outweighs 5,000 GBP
    assert compare_all(s, "base", ["policy"])["policy"].effects[REOFFENDING.column].centre > 0


# -- a report on a real (tiny) batch ----------------------------------------------------------


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
    # With one draw, the change shown is the mean paired difference of the data.
    pivot = summary.pivot(index="replicate", columns="scenario", values="true_offences_per_year")
    diff = (pivot["tiny-more-detection"] - pivot["tiny"]).mean()
    row = next(x for x in md.splitlines() if x.startswith("| True offences (all offending"))
    shown = row.split("|")[4].strip()
    assert float(shown.replace(",", "")) == pytest.approx(diff, abs=0.051), (shown, diff)
    # Each run's offences by type add up, and are valued at the central unit costs.
    by_type = summary[[f"true_offences_per_year_by_type.{t}" for t in OFFENCE_TYPES]].sum(axis=1)
    assert np.allclose(by_type, summary["true_offences_per_year"])
    params = CostParams()
    cost = sum(
        summary[f"true_offences_per_year_by_type.{t}"] * getattr(params, f"crime_cost_{t}")[1]
        for t in OFFENCE_TYPES
    )
    assert np.allclose(cost, summary["crime_cost_per_year_gbp.total"])


def test_the_git_commit_is_the_checkouts_or_none():
    """Recorded in each results folder's manifest: the checkout's commit, marked when the
    model's files differ from it; None where there is no git checkout."""
    import subprocess

    from sim.results import git_commit

    commit = git_commit()
    root = Path(__file__).resolve().parent.parent
    head = subprocess.run(
        ["git", "-C", str(root), "rev-parse", "--short=12", "HEAD"], capture_output=True, text=True
    )
    if head.returncode != 0:
        assert commit is None
        return
    assert commit is not None and re.fullmatch(r"[0-9a-f]{12}(\+changes)?", commit)
    assert commit.split("+")[0] == head.stdout.strip()


@pytest.mark.parametrize(
    "centre, lo, hi, kind",
    [
        (0.003, 0.001, 0.006, "ratio"),  # an index that clearly moves, by thousandths
        (-0.0004, -0.0007, -0.0001, "ratio"),
        (0.03, 0.01, 0.04, "pct"),  # +0.03% of a count
        (0.0002, 0.0001, 0.0004, "rate"),  # +0.02 points of reoffending
    ],
)
def test_an_interval_that_excludes_zero_never_prints_as_zeros(centre, lo, hi, kind):
    """The shipped report read "distance from parity 0.00 (0.00 to 0.00): worse": two
    decimals hid a small change that was clear. An interval clear of zero shows enough
    digits for both of its ends to be seen on the same side of it."""
    from sim.plain_language import interval

    text = interval(centre, lo, hi, kind)
    ends = re.findall(r"[+-]?\d[\d,]*\.?\d*", text)
    assert len(ends) == 3, text
    values = [float(e.replace(",", "")) for e in ends]
    assert all(v != 0 for v in values), text
    assert all((v > 0) == (lo > 0) for v in values), text


def test_an_interval_across_zero_keeps_its_usual_digits():
    from sim.plain_language import interval

    assert interval(0.001, -0.002, 0.003, "ratio") == "0.00 (0.00 to 0.00)"
    assert interval(0.23, -1.5, 2.0, "pct") == "+0.2% (-1.5% to +2.0%)"


def test_the_shipped_results_are_linked_and_find_their_charts():
    """docs/results.md ships with the repository (issue 18): the README links it, it says
    how it was made, and every chart it links is there."""
    shipped = ROOT / "docs" / "results.md"
    assert "(docs/results.md)" in (ROOT / "README.md").read_text()
    md = shipped.read_text()
    assert md.splitlines()[2].startswith("> **How these results were made:**")
    assert "parameter draws" in md.splitlines()[2]  # over draws, not at the posterior mean
    links = re.findall(r"\]\(([^)]+\.png)\)", md)
    assert links
    for link in links:
        assert (shipped.parent / link).read_bytes().startswith(PNG_MAGIC), link


def _check_row(target: str, wanted: str, mean: float, low: float, high: float, **kw) -> dict:
    return {
        "target": target,
        "setting": "average",
        "statistic": target,
        "wanted": wanted,
        "mean": mean,
        "q05": low,
        "q95": high,
        **kw,
    }


def test_the_report_says_how_well_its_posterior_matches_what_was_measured(tmp_path: Path):
    """The runs drew from a posterior that `yjsim check-fit` judged: the report finds that
    check by the posterior's hash and says, for a strategist, how many targets it meets,
    which it misses, and which published patterns it was not fitted to are far off. A
    check of another posterior is not used."""
    results = tmp_path / "results"
    _fake_results(results, replicates=4)
    posterior = tmp_path / "calibration" / "posterior-x.parquet"
    posterior.parent.mkdir()
    posterior.write_bytes(b"a posterior")
    manifest = json.loads((results / "experiment.json").read_text())
    manifest |= {"posterior": str(posterior), "posterior_sha256": "feed" * 16}
    (results / "experiment.json").write_text(json.dumps(manifest))
    rows = [
        _check_row("volume", "395 ± 60", 400.0, 380, 420, met=True, fitted=True, misfit=0.08),
        _check_row(
            "reoffending", "0.39 ± 0.03", 0.45, 0.44, 0.46, met=False, fitted=True, misfit=2
        ),
        _check_row(
            "caution_rate", "0.30 ± 0.05", 0.32, 0.3, 0.34, met=True, fitted=False, misfit=0.4
        ),
        _check_row(
            "custody_rate",
            "0.70 ± 0.05",
            0.4,
            0.35,
            0.45,
            met=False,
            fitted=False,
            misfit=-6,
            statistic="proven_reoffending_rate_after_custody",  # shown in words
        ),
        _check_row(
            "yro_rate", "0.66 ± 0.05", 0.58, 0.55, 0.6, met=False, fitted=False, misfit=-1.6
        ),
    ]
    record = {
        "format": 1,
        "config": "calibration/x.toml",
        "posterior": posterior.name,
        "posterior_sha256": "feed" * 16,
        "seeds": 20,
        "tables": {"mean": rows},
    }
    (posterior.parent / "report").mkdir()
    check = posterior.parent / "report" / "check-fit.json"
    check.write_text(json.dumps(record))
    md = (write_report(results).parent / "index.md").read_text()
    section = md[md.index("### How well the model matches what was measured") :]
    assert "meets 1 of the 2 targets it was fitted to" in section
    # The first screen says so too, before the evidence.
    glance = md[: md.index("## The evidence")]
    assert "it meets 1 of the 2 published figures it was fitted to" in glance
    assert "| reoffending | average | 0.39 ± 0.03 | 0.450 (0.440 to 0.460) |" in section
    assert "1 of the 3 published patterns it was not fitted to" in section
    # Far off: more than two tolerances from the published figure (custody, 6); the
    # youth rehabilitation order's 1.6 tolerances is missed but not far off.
    far = section.split("Far off")[1]
    assert "| reoffending after release from custody | average | 0.70 ± 0.05 |" in far
    assert "yro_rate" not in far
    # Another posterior's check is not this one's.
    record["posterior_sha256"] = "beef" * 16
    check.write_text(json.dumps(record))
    md = (write_report(results).parent / "index.md").read_text()
    assert "No check of this posterior's fit was found" in md
