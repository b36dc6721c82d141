"""``yjsim decide``: the decision file, its design, the emulator and a small decision end to end."""

from __future__ import annotations

import json
import subprocess
import sys
from itertools import pairwise
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import assert_rejected_as_expected

from sim import emulator
from sim.decision import (
    BASE,
    RUNS,
    Decision,
    SearchSettings,
    analyse,
    frontier,
    load_decision,
    read_summary,
    run_decision,
)
from sim.decision_search import key_of, search_portfolios, search_seed

ROOT = Path(__file__).resolve().parent.parent
SMOKE = ROOT / "decisions" / "smoke.toml"
CROYDON = ROOT / "decisions" / "croydon.toml"
CLI = (sys.executable, "-m", "sim.cli")
BAD = sorted((Path(__file__).parent / "bad_decisions").glob("*.toml"))


# -- the decision file --------------------------------------------------------------------


def test_corpus_is_not_empty():
    assert len(BAD) >= 14


@pytest.mark.parametrize("path", BAD, ids=[p.stem for p in BAD])
def test_malformed_decision_is_rejected_naming_file_and_key(path: Path):
    assert_rejected_as_expected(path, load_decision)


@pytest.mark.parametrize(
    "name", ["lever_below_its_parameters_range.toml", "unknown_key.toml", "broken_toml.toml"]
)
def test_command_exits_2_with_one_line_and_writes_nothing(name: str, tmp_path: Path):
    out = tmp_path / "out"
    path = Path(__file__).parent / "bad_decisions" / name
    proc = subprocess.run(
        [sys.executable, "-m", "sim.cli", "decide", str(path), "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("yjsim: error: "), proc.stderr
    assert name in lines[0]
    assert not out.exists()


def test_shipped_decisions_load():
    croydon = load_decision(CROYDON)
    assert croydon.base_name == "croydon-2018"
    assert croydon.spec.budget_gbp == 1_000_000
    assert {"harm", "in_custody", "rri_arrest"} <= set(croydon.spec.objectives)
    assert load_decision(SMOKE).base_name == "tiny"


# -- the design ---------------------------------------------------------------------------


def test_design_is_deterministic_in_range_and_space_filling():
    d = load_decision(CROYDON)
    first, again = d.design(), load_decision(CROYDON).design()
    assert first == again
    other = d.spec.model_copy(update={"seed": d.spec.seed + 1})
    assert type(d)(d.path, other, d.base_path, d.base_name, d.text).design() != first
    n = d.spec.portfolios
    for lever in d.spec.levers:
        values = [p[lever.key] for p in first]
        if lever.choices is not None:
            assert set(values) == set(lever.choices)  # every mode appears
            continue
        lo, hi = lever.range
        assert all(lo <= v <= hi for v in values)
        if lever.integer:
            assert all(isinstance(v, int) for v in values)
        else:  # a Latin hypercube: one point in each of n equal slices of the range
            slices = np.floor((np.array(values) - lo) / (hi - lo) * n).astype(int)
            assert sorted(slices) == list(range(n))


# -- the emulator -------------------------------------------------------------------------


def test_emulator_recovers_a_known_function_on_held_back_points():
    rng = np.random.default_rng(3)
    x = rng.uniform(0, 1, size=(90, 3))  # the third input does not matter

    def f(x: np.ndarray) -> np.ndarray:
        return 40 * x[:, 0] - 25 * x[:, 1] ** 2 + 5

    y = f(x) + rng.normal(0, 0.5, len(x))
    em = emulator.fit(x[:60], y[:60], seed=0)
    acc = emulator.accuracy(y[60:], em.predict(x[60:]))
    assert acc.r2 > 0.97, acc
    assert acc.rmse < 1.5, acc
    # A constant guess scores about R^2 = 0: the measure can fail.
    assert emulator.accuracy(y[60:], np.full(30, y[:60].mean())).r2 < 0.1


def test_frontier_keeps_only_portfolios_no_cheaper_one_beats():
    cost = {"a": 0.0, "b": 10.0, "c": 20.0, "d": 30.0, "e": 5.0}
    averted = {"a": 0.0, "b": 5.0, "c": 4.0, "d": 9.0, "e": -1.0}
    assert frontier(cost, averted) == ["a", "b", "d"]


# -- a small decision end to end ----------------------------------------------------------


@pytest.fixture(scope="session")
def smoke_decision(smoke_decision_run: tuple[Path, dict]) -> tuple[Path, dict]:
    return smoke_decision_run


def test_smoke_decision_writes_a_ranked_answer_within_budget(smoke_decision):
    out, answer = smoke_decision
    on_disk = json.loads((out / "decision.json").read_text())
    assert on_disk["recommended"] == answer["recommended"]
    spec = load_decision(SMOKE).spec
    assert on_disk["budget_gbp"] == spec.budget_gbp
    by_name = {p["name"]: p for p in on_disk["portfolios"]}
    design = {f"p{i}" for i in range(1, spec.portfolios + 1)}
    searched = {f"s{i}" for i in range(1, spec.search.candidates + 1)}
    assert set(by_name) == {BASE, *design, *searched}
    for name, p in by_name.items():  # where each came from, and whose cost was measured
        origin = BASE if name == BASE else "design" if name in design else "search"
        assert p["origin"] == origin
        assert p["cost_basis"] == ("predicted" if origin == "search" else "measured")
        assert (p["observed_mean"] is None) == (origin == "search")
    best = by_name[on_disk["recommended_by_emulator"]]
    assert best["rank"] == 1 and best["cost_gbp"] <= spec.budget_gbp
    assert by_name[on_disk["recommended"]]["rank"] is not None  # verified among the leaders
    ranked = sorted((p for p in on_disk["portfolios"] if p["rank"]), key=lambda p: p["rank"])
    for p in ranked:  # within budget, custody does not rise, best first
        assert p["cost_gbp"] <= spec.budget_gbp
        assert p["expected"]["in_custody"] <= 0.0
    harm = [p["expected"]["harm"] for p in ranked]
    assert harm == sorted(harm)
    assert sum(p["probability_best"] for p in ranked) == pytest.approx(1.0)
    for p in on_disk["portfolios"]:  # lever values stay in their ranges
        for lever in spec.levers:
            if p["name"] != BASE:
                lo, hi = lever.range
                assert lo <= p["levers"][lever.key] <= hi
    acc = on_disk["emulator"]["accuracy"]
    assert set(acc) == set(spec.objectives)
    assert all(np.isfinite(a["rmse"]) and a["n_held_back"] > 0 for a in acc.values())
    costs = [f["cost_gbp"] for f in on_disk["frontier"]]
    assert costs == sorted(costs)


def test_smoke_decision_verifies_its_leaders_by_real_paired_runs(smoke_decision):
    out, answer = smoke_decision
    spec = load_decision(SMOKE).spec
    checked = answer["verification"]
    ranked = sorted((p for p in answer["portfolios"] if p["rank"]), key=lambda p: p["rank"])
    design = [p["name"] for p in ranked if p["origin"] == "design"][: spec.verify]
    searched = [p["name"] for p in answer["portfolios"] if p["origin"] == "search"]
    assert len(searched) == spec.search.candidates
    leaders = [p["name"] for p in answer["portfolios"] if p["name"] in {*design, *searched}]
    assert list(checked["portfolios"]) == leaders  # the design's leaders and the searched
    for name, entry in checked["portfolios"].items():
        assert entry["runs"] == spec.verify_draws * spec.replicates
        assert entry["origin"] == ("search" if name in searched else "design")
        harm = entry["harm"]
        assert harm["low"] <= harm["median"] <= harm["high"]
        assert isinstance(harm["agrees_with_emulator"], bool)
    p_best = [e.get("probability_best", 0.0) for e in checked["portfolios"].values()]
    assert sum(p_best) + checked[BASE]["probability_best"] == pytest.approx(1.0)
    for entry in checked["portfolios"].values():  # only options one may choose are scored
        assert ("probability_best" in entry) == entry["feasible"]
    best = answer["recommended"]
    assert best == checked["recommended"]
    assert (out / "report" / "index.html").is_file() and (out / "report" / "frontier.png").is_file()
    assert best in (out / "report" / "index.md").read_text()
    if best != BASE:  # the recommendation is within budget and custody does not rise
        assert checked["portfolios"][best]["cost_gbp"] <= spec.budget_gbp
        assert checked["portfolios"][best]["in_custody"]["mean"] <= 0.0


def test_a_tighter_budget_is_respected(smoke_decision):
    out, _ = smoke_decision
    d = load_decision(SMOKE)
    tight = type(d)(
        d.path,
        d.spec.model_copy(update={"budget_gbp": 0.0}),
        *(
            d.base_path,
            d.base_name,
            d.text,
        ),
    )
    answer = analyse(read_summary(out, 2), tight)
    for p in answer["portfolios"]:
        assert (p["rank"] is not None) <= (p["cost_gbp"] <= 0.0)
    best = next(p for p in answer["portfolios"] if p["name"] == answer["recommended"])
    assert best["cost_gbp"] <= 0.0


def test_a_rerun_resumes_without_running_again(smoke_decision):
    from sim.results import read_results

    out, answer = smoke_decision
    before = len(read_summary(out, 2))
    verified = len(read_results(out / RUNS / "verify", "summary"))
    record = (out / "design" / "search.json").read_text()
    again = run_decision(SMOKE, out, workers=1, progress=False)
    assert again.answer["recommended"] == answer["recommended"]
    assert len(read_summary(out, 2)) == before
    assert len(read_results(out / RUNS / "verify", "summary")) == verified
    assert (out / "design" / "search.json").read_text() == record
    assert again.answer["search"] == answer["search"]  # the same candidates


def test_an_output_folder_of_another_decision_is_refused(smoke_decision, tmp_path: Path):
    out, _ = smoke_decision
    other = tmp_path / "other.toml"
    other.write_text(
        SMOKE.read_text().replace("seed = 5", "seed = 6").replace('"../tests/', f'"{ROOT}/tests/')
    )
    from sim.decision import DecisionError

    with pytest.raises(DecisionError, match="another decision"):
        run_decision(other, out, workers=1, progress=False)


def test_paired_table_holds_draws_and_differences(smoke_decision):
    from sim.decision import paired_table

    out, _ = smoke_decision
    d = load_decision(SMOKE)
    table, drawn = paired_table(read_summary(out, 2), d, d.design())
    assert isinstance(table, pd.DataFrame)
    assert len(table) == d.spec.portfolios * d.spec.draws * d.spec.replicates
    assert table.groupby(["group", "draw"]).ngroups == d.spec.groups * d.spec.draws
    points = table.groupby(["group", "draw"])[drawn].first()
    assert not points.duplicated().any()  # each group's draws are its own
    assert drawn and all(c.startswith("param.") for c in drawn)
    assert "param.interventions.schools_officers.officers" not in drawn  # a lever
    assert table["diff.harm"].notna().all()


def test_a_decision_killed_mid_batch_resumes_to_the_same_answer(smoke_decision, tmp_path: Path):
    import os
    import signal
    import time

    _, answer = smoke_decision
    out = tmp_path / "killed"
    proc = subprocess.Popen(
        [*CLI, "decide", str(SMOKE), "--out", str(out), "--workers", "1", "--no-progress"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # its own process group: the kill reaches its dask workers
    )
    parts = out / RUNS / "g01" / "summary"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        if parts.is_dir() and len(list(parts.glob("*.parquet"))) >= 3:
            break
        time.sleep(0.2)
    assert proc.poll() is None, "the decision finished before it could be killed"
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    assert not (out / "decision.json").exists()
    done = run_decision(SMOKE, out, workers=1, progress=False)
    assert done.failed == 0
    assert done.answer["recommended"] == answer["recommended"]
    got = {p["name"]: p for p in done.answer["portfolios"]}
    assert set(got) == {p["name"] for p in answer["portfolios"]}
    for p in answer["portfolios"]:
        assert got[p["name"]]["levers"] == p["levers"]  # the search proposes the same
        assert got[p["name"]]["cost_gbp"] == pytest.approx(p["cost_gbp"])
        if p["origin"] != "search":
            assert got[p["name"]]["observed_mean"] == pytest.approx(p["observed_mean"])


# -- the search beyond the design ------------------------------------------------------------


def smoke_with(**update) -> Decision:
    """The smoke decision with some of its settings changed."""
    d = load_decision(SMOKE)
    return Decision(d.path, d.spec.model_copy(update=update), d.base_path, d.base_name, d.text)


def fitted_smoke(out: Path) -> dict:
    """The smoke decision's emulators and portfolios (``analyse``'s ``keep``); the search
    settings and seed do not enter the fit of the smoke decision's tests below."""
    kept: dict = {}
    analyse(read_summary(out, 2), load_decision(SMOKE), kept)
    return kept


@pytest.fixture(scope="module")
def smoke_fit(smoke_decision) -> dict:
    return fitted_smoke(smoke_decision[0])


def test_search_proposes_portfolios_in_range_and_predicted_within_budget(smoke_fit):
    d = smoke_with(search=SearchSettings(candidates=3, population=20, generations=15))
    kept = smoke_fit
    fit = kept["fit"]
    design = list(kept["levers"].values())
    record = search_portfolios(d, fit, design)
    found = record["candidates"]
    assert len(found) == 3
    for p in found:
        for lever in d.spec.levers:
            lo, hi = lever.range
            assert isinstance(p[lever.key], int) and lo <= p[lever.key] <= hi
    assert all(key_of(p) not in {key_of(q) for q in design} for p in found)  # new ones
    cost = fit.predicted_cost(d, found)
    harm = fit.by_draw(d, found, "harm").mean(axis=1)
    custody = fit.by_draw(d, found, "in_custody").mean(axis=1)
    assert (cost <= d.spec.budget_gbp).all() and (custody <= 0.0).all()
    assert list(harm) == sorted(harm)  # best first
    front = record["front"]  # a Pareto front: each step down in harm costs more
    assert [f["harm"] for f in front] == sorted(f["harm"] for f in front)
    assert all(a["cost_gbp"] > b["cost_gbp"] for a, b in pairwise(front))
    # The smoke decision's 33 x 5 lever values can be enumerated: the search found the
    # emulators' best within budget and constraints.
    every = [
        {"interventions.schools_officers.officers": o, "interventions.kickz.sites": k}
        for o in range(33)
        for k in range(5)
    ]
    mean = fit.by_draw(d, every, "harm").mean(axis=1)
    ok = (fit.predicted_cost(d, every) <= d.spec.budget_gbp) & (
        fit.by_draw(d, every, "in_custody").mean(axis=1) <= 0.0
    )
    assert harm[0] == pytest.approx(mean[ok].min())
    assert front[0]["levers"] == every[int(np.flatnonzero(ok)[np.argmin(mean[ok])])]


def test_search_is_deterministic_given_the_seed(smoke_decision, smoke_fit):
    out, _ = smoke_decision
    # A short search (2 generations of 6), so that where it starts shows in what it finds.
    small = SearchSettings(candidates=2, population=6, generations=2)
    d = smoke_with(search=small)
    kept = smoke_fit
    design = list(kept["levers"].values())
    first = search_portfolios(d, kept["fit"], design)
    assert search_portfolios(d, kept["fit"], design) == first
    # A refit on the same runs gives the same emulators and so the same search.
    assert search_portfolios(d, fitted_smoke(out)["fit"], design) == first
    other = smoke_with(search=small, seed=d.spec.seed + 1)
    assert search_seed(other.spec.seed) != search_seed(d.spec.seed)
    assert search_portfolios(other, kept["fit"], design)["front"] != first["front"]


def test_cost_emulator_predicts_the_measured_costs(smoke_decision):
    """A searched portfolio's cost is predicted from the lever values: on the design's
    held-back portfolios, and on the verification runs of the searched ones."""
    _, answer = smoke_decision
    spec = load_decision(SMOKE).spec
    acc = answer["emulator"]["cost_accuracy"]
    assert acc["n_held_back"] > 0
    assert acc["r2"] > 0.99 and acc["rmse"] < 0.05 * spec.budget_gbp, acc
    checked = answer["verification"]["portfolios"]
    searched = [n for n, e in checked.items() if e["origin"] == "search"]
    assert searched
    for name in searched:
        entry = checked[name]
        assert abs(entry["cost_gbp"] - entry["cost_expected_gbp"]) <= 3 * acc["rmse"], entry


def test_a_searched_portfolio_ranked_above_the_design_is_verified(smoke_decision):
    out, answer = smoke_decision
    spec = load_decision(SMOKE).spec
    by_name = {p["name"]: p for p in answer["portfolios"]}
    design_best = min(
        (p for p in answer["portfolios"] if p["origin"] == "design" and p["rank"]),
        key=lambda p: p["expected"]["harm"],
    )
    top = by_name["s1"]
    # The emulator expects the searched portfolio to beat every design portfolio within
    # budget and constraints (the smoke decision's, with its seed).
    assert top["origin"] == "search" and top["rank"] == 1
    assert top["expected"]["harm"] < design_best["expected"]["harm"]
    assert answer["recommended_by_emulator"] == "s1"
    assert top["cost_gbp"] <= spec.budget_gbp  # predicted
    # Real paired runs on fresh draws verify it, from its scenario file beside the design's.
    entry = answer["verification"]["portfolios"]["s1"]
    assert entry["runs"] == spec.verify_draws * spec.replicates
    assert entry["harm"]["emulator_expected"] == top["expected"]["harm"]
    scenario = (out / "design" / "s1.toml").read_text()
    for key, value in top["levers"].items():
        assert f"{key.rsplit('.', 1)[1]} = {value}" in scenario
    # decision.json records the search: its settings, what it proposed, the front.
    search = json.loads((out / "decision.json").read_text())["search"]
    assert search["portfolios"] == ["s1"]
    assert search["population"] == spec.search.population
    assert search["generations"] == spec.search.generations
    assert search["seed"] == search_seed(spec.seed)
    assert search["candidates"] == [top["levers"]]
    assert search["front"] and search["front"][0]["levers"] == top["levers"]


# -- when it loses, and what to find out ------------------------------------------------------


def test_evppi_recovers_the_value_of_a_known_parameter():
    from sim.discovery import evppi

    rng = np.random.default_rng(4)
    sample = pd.DataFrame({"matters": rng.uniform(-1, 1, 4000), "noise": rng.uniform(-1, 1, 4000)})
    # Option A's net benefit is the parameter; B's is 0. Knowing it, choose A when it is
    # positive: E[max(theta, 0)] - max(E[theta], 0) = 0.25.
    benefit = np.vstack([sample["matters"].to_numpy(), np.zeros(len(sample))])
    value = evppi(sample, benefit, {"both": ["matters", "noise"]})
    assert value["all"] == pytest.approx(0.25, abs=0.02)
    assert value["group: both"] == pytest.approx(0.25, abs=0.02)
    assert value["matters"] == pytest.approx(0.25, abs=0.02)
    assert value["noise"] < 0.02
    assert set(list(value)[:3]) == {"all", "matters", "group: both"}


def test_parameters_group_by_what_one_study_could_measure():
    from sim.discovery import parameter_groups

    names = [
        "behaviour.coef_peer",
        "behaviour.coef_label",
        "justice.detection_scale",
        "interventions.kickz.effect",
        "interventions.schools_officers.referral_effect",
        "interventions.schools_officers.truancy_reduction",
    ]
    assert parameter_groups(names) == {
        "behaviour": ["behaviour.coef_peer", "behaviour.coef_label"],
        "programme schools_officers": [
            "interventions.schools_officers.referral_effect",
            "interventions.schools_officers.truancy_reduction",
        ],
    }


def test_prim_finds_a_planted_box():
    from sim.discovery import discover

    rng = np.random.default_rng(5)
    sample = pd.DataFrame(rng.uniform(0, 1, (2000, 4)), columns=["a", "b", "c", "d"])
    beaten = ((sample["a"] > 0.7) & (sample["b"] < 0.3)).to_numpy()
    found = discover(sample, beaten)
    assert found["share_beaten"] == pytest.approx(beaten.mean())
    box = found["boxes"][0]
    bounds = {r["parameter"]: r for r in box["restricts"]}
    assert {"a", "b"} <= set(bounds) and len(bounds) <= 3
    assert bounds["a"]["low"] == pytest.approx(0.7, abs=0.05)
    assert bounds["b"]["high"] == pytest.approx(0.3, abs=0.05)
    assert box["density"] >= 0.8 and box["coverage"] >= 0.8


def test_a_loss_is_a_win_by_more_than_the_emulators_error():
    """A near-twin a hair better everywhere does not beat the recommendation."""
    from sim.discovery import losses

    recommended = np.array([10.0, 10.0, 10.0, 10.0])
    twin = recommended - 0.5  # better by less than the margin in every draw
    rival = np.array([12.0, 7.0, 11.0, 8.9])  # better by more than 1 in draws 1 and 3
    beaten, best = losses(np.vstack([recommended, twin, rival]), margin=1.0)
    assert beaten.tolist() == [False, True, False, True]
    assert best[beaten].tolist() == [2, 2]
    beaten_at_all, _ = losses(np.vstack([recommended, twin, rival]), margin=0.0)
    assert beaten_at_all.all()


def test_smoke_decision_says_when_it_loses_and_what_to_find_out(smoke_decision):
    _, answer = smoke_decision
    found = answer["scenario_discovery"]
    assert found["recommended"] == answer["recommended"]
    assert found["draws"] == load_decision(SMOKE).spec.scenario_draws
    assert sum(found["beaten_by"].values()) == pytest.approx(found["share_beaten"])
    assert found["margin"] == pytest.approx(
        answer["emulator"]["accuracy"][answer["ranked_by"]]["rmse"]
    )
    assert found["share_beaten"] <= found["share_beaten_at_all"]
    for box in found["boxes"]:
        assert 0 <= box["coverage"] <= 1 and 0 <= box["density"] <= 1
    value = answer["evppi"][answer["ranked_by"]]
    assert all(0 <= v <= value["all"] + 1e-9 for v in value.values())


def test_equity_variant_keeps_disproportionality_from_rising(smoke_decision):
    out, _ = smoke_decision
    d = load_decision(SMOKE)
    objectives = [*d.spec.objectives, "rri_arrest"]
    for weight in (0.0, 1e6):
        spec = d.spec.model_copy(update={"objectives": objectives, "equity_weight": weight})
        answer = analyse(
            read_summary(out, 2), type(d)(d.path, spec, *(d.base_path,), d.base_name, d.text)
        )
        equity = answer["equity_variant"]
        expected = {p["name"]: p["expected"] for p in answer["portfolios"]}
        assert equity["ranking"], "the base (no change) always qualifies"
        assert all(expected[n]["rri_arrest"] <= 0.0 for n in equity["ranking"])
        feasible = [p["name"] for p in answer["portfolios"] if p["rank"]]
        score = {n: expected[n]["harm"] + weight * expected[n]["rri_arrest"] for n in feasible}
        assert score[equity["recommended_weighted"]] == min(score.values())
    assert load_decision(SMOKE).spec.equity_weight == 0.0
    assert load_decision(CROYDON).spec.equity_weight > 0


def test_a_decision_with_a_choice_lever_runs_end_to_end(tmp_path: Path):
    """A choice lever (the gangs team's mode, as in decisions/croydon.toml) through the
    design, the emulators (one 0/1 input per choice), verification and discovery."""
    path = tmp_path / "choice.toml"
    path.write_text(
        f"""name = "choice"
base = "{ROOT}/tests/experiment_scenarios/tiny.toml"
budget_gbp = 300_000
portfolios = 6
groups = 2
draws = 1
verify = 1
verify_draws = 2
scenario_draws = 300
seed = 3
objectives = ["harm", "net_social_cost", "rri_arrest"]

[[levers]]
key = "interventions.gangs_team.mode"
choices = ["none", "separate", "integrated"]

[[levers]]
key = "interventions.gangs_team.annual_budget_gbp"
range = [0.0, 300000.0]

[search]
candidates = 1
population = 12
generations = 6
"""
    )
    done = run_decision(path, tmp_path / "out", workers=1, progress=False)
    answer = done.answer
    assert done.failed == 0
    modes = {
        p["levers"]["interventions.gangs_team.mode"]
        for p in answer["portfolios"]
        if p["origin"] == "design"
    }
    assert modes == {"none", "separate", "integrated"}
    # The search proposes a mode among the choices and a budget in range, rounded to
    # four significant digits of the range (hundreds of pounds); it is verified.
    (searched,) = (p for p in answer["portfolios"] if p["origin"] == "search")
    assert searched["levers"]["interventions.gangs_team.mode"] in modes
    budget = searched["levers"]["interventions.gangs_team.annual_budget_gbp"]
    assert isinstance(budget, float) and 0.0 <= budget <= 300_000.0 and budget % 100 == 0
    assert searched["name"] in answer["verification"]["portfolios"]
    assert "net_social_cost" in answer["evppi"]
    assert answer["equity_variant"]["ranking"]
    best = next(p for p in answer["portfolios"] if p["name"] == answer["recommended"])
    assert best["cost_gbp"] <= 300_000


def test_the_recommendation_states_the_measured_cost_and_small_shares_honestly():
    """A searched portfolio's cost_gbp is a prediction; the verification runs measured it.
    A share of one draw in a thousand is "under 1%", not "0%"."""
    from sim.decision_report import recommendation_paragraphs, share

    assert (share(0.0), share(0.001), share(0.004), share(0.5)) == (
        "0%",
        "under 1%",
        "under 1%",
        "50%",
    )
    answer = {
        "ranked_by": "harm",
        "objectives": {"harm": "harm"},
        "budget_gbp": 1_000_000,
        "recommended": "s1",
        "portfolios": [
            {"name": "s1", "cost_gbp": 747_000.0, "levers": {"kickz.sites": 6}, "rank": 1}
        ],
        "verification": {"portfolios": {"s1": {"cost_gbp": 626_000.0}}},
        "scenario_discovery": {
            "draws": 1000,
            "share_beaten": 0.001,
            "share_beaten_at_all": 1.0,
            "margin": 10.0,
            "beaten_by": {"base": 0.001},
        },
    }
    text = " ".join(recommendation_paragraphs(answer))
    assert "626k" in text and "747k" not in text
    assert "in under 1% of them" in text and "by any margin in 100%" in text
