"""Programme effects as priors: their declaration, their draws, and the runs that use them."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import ROOT, SCENARIOS, small, with_intervention

from sim.batch import run_experiment
from sim.experiment import drawn_value, effect_values, load_experiment
from sim.interventions import load_all
from sim.interventions.gangs_team import GangsTeam
from sim.interventions.hotspots import Hotspots
from sim.interventions.schools_officers import SchoolsOfficers
from sim.interventions.triage import Triage
from sim.model import YouthJusticeModel
from sim.params import EffectPrior, Params, param, register_rows
from sim.scenario import Scenario, load_scenario
from sim.sources import bibliography_keys, cited_keys

EXPERIMENT_SCENARIOS = ROOT / "tests" / "experiment_scenarios"

# Every programme effect the issue names (issue 18, item 1), with a prior.
EFFECTS = {
    "yos.supervision_effect",
    "interventions.triage.programme_effect",
    "interventions.gangs_team.support_effect",
    "interventions.gangs_team.support_exit_rate",
    "interventions.gangs_team.enforcement_detection",
    "interventions.schools_officers.truancy_reduction",
    "interventions.schools_officers.victimisation_prevented",
    "interventions.schools_officers.referral_effect",
    "interventions.schools_officers.minor_detection_multiplier",
    "interventions.kickz.effect",
    "interventions.encompass.notification_effect",
    "interventions.encompass.marac_effect",
    "interventions.complex_panel.plan_effect",
    "interventions.complex_panel.victim_protection",
    "interventions.complex_panel.gang_exit_per_year",
    "interventions.hotspots.deterrence",
    "interventions.hotspots.displacement",
    "interventions.hotspots.detection_multiplier",
    "interventions.met_track.hazard_effect",
    "interventions.met_track.victim_protection",
}


def _declared():
    """Every parameter row as declared: the core's and every intervention's."""
    rows = Scenario(name="x").register()
    for name, cls in sorted(load_all().items()):
        rows += register_rows(f"interventions.{name}", cls.Params())
    return rows


# -- the prior type ------------------------------------------------------------------------


def test_each_kind_of_prior_has_its_median_and_interval():
    z = 1.6448536269514722
    normal = EffectPrior.normal(0.14, 0.25)
    assert normal.quantile(0.5) == pytest.approx(0.14)
    assert normal.quantile(0.95) == pytest.approx(0.14 + z * 0.25)
    lognormal = EffectPrior.lognormal(1.21, 0.0758)
    assert lognormal.quantile(0.5) == pytest.approx(1.21)
    assert lognormal.quantile(0.975) == pytest.approx(1.40, abs=0.005)  # Fisher & Hennessy
    beta = EffectPrior.beta(1.0, 4.0)
    assert beta.quantile(0.5) == pytest.approx(1 - 0.5 ** (1 / 4))  # Beta(1, b): 1-(1-u)^(1/b)
    uniform = EffectPrior.uniform(1.0, 2.0)
    assert uniform.quantile(0.25) == pytest.approx(1.25)
    assert normal.describe() == "normal(mean 0.14, sd 0.25): median 0.14, 90% -0.271 to 0.551"


def test_a_draw_is_clipped_to_the_parameters_bounds():
    prior = EffectPrior.normal(0.5, 1.0).within(-3.0, 3.0)
    assert prior.draw(1e-15) == -3.0  # far in the tail: the bound
    assert -3.0 < prior.draw(0.01) < 0.5


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: EffectPrior.normal(0.1, 0.0), "not a valid normal prior"),
        (lambda: EffectPrior.lognormal(-1.0, 0.2), "not a valid lognormal prior"),
        (lambda: EffectPrior.beta(0.0, 1.0), "not a valid beta prior"),
        (lambda: EffectPrior.uniform(2.0, 1.0), "not a valid uniform prior"),
        (lambda: EffectPrior.normal(math.nan, 1.0), "expected finite numbers"),
        (lambda: EffectPrior.normal(0.0, 1.0).within(0.0, 3.0), "leaves the parameter's bounds"),
    ],
)
def test_an_impossible_prior_is_refused(make, message):
    with pytest.raises(ValueError, match=message):
        make()


def test_a_prior_goes_with_a_float_bounded_by_ge_and_le():
    prior = EffectPrior.uniform(0.0, 1.0)
    with pytest.raises(ValueError, match="a prior is for a programme effect"):
        param(1, unit="u", basis="assumed", ge=0, le=2, prior=prior)
    with pytest.raises(ValueError, match="bounded with ge and le"):
        param(0.5, unit="u", basis="assumed", gt=0, le=2, prior=prior)

    class Block(Params):
        x: float = param(0.5, unit="u", basis="assumed", ge=0, le=1, prior=prior)
        y: float = param(0.5, unit="u", basis="assumed", ge=0, le=1)

    rows = {r.name: r for r in register_rows("b", Block())}
    assert rows["b.x"].prior == EffectPrior("uniform", 0.0, 1.0, 0.0, 1.0)  # with its bounds
    assert rows["b.y"].prior is None
    assert rows["b.x"].default == 0.5


# -- the register -------------------------------------------------------------------------


def test_every_programme_effect_has_a_prior_with_its_evidence():
    rows = {r.name: r for r in _declared()}
    with_prior = {name for name, r in rows.items() if r.prior is not None}
    assert with_prior >= EFFECTS, sorted(EFFECTS - with_prior)
    known = bibliography_keys()
    for name in with_prior:
        r = rows[name]
        assert r.basis in ("sourced", "assumed"), name
        assert all(k in known for k in cited_keys(r.source)), name
        # An assumed prior says why in its note; a sourced one cites its evidence.
        assert r.doc and (r.basis == "assumed" or cited_keys(r.source)), name
        lo, hi = r.prior.quantile(np.array([0.01, 0.99]))
        assert lo <= r.default <= hi, f"{name}: point value {r.default} outside its prior"


def test_the_params_command_shows_each_effects_prior_and_sources():
    proc = subprocess.run(
        [sys.executable, "-m", "sim.cli", "params", str(SCENARIOS / "croydon-2018.toml")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    line = next(
        x for x in proc.stdout.splitlines() if x.startswith("interventions.triage.programme_effect")
    )
    _, value, unit, basis, prior, note = line.split("\t")
    assert float(value) == Triage.Params().programme_effect
    assert (unit, basis) == ("log hazard reduction", "sourced")
    assert prior.startswith("normal(mean 0.14, sd 0.25): median 0.14, 90% -0.271 to 0.551")
    assert note.startswith("schwalbe-2012; wilson-2018: ")
    # A parameter with no prior shows "-" in the prior column.
    assert "\npopulation.population_10_17\t39334\tpeople\tsourced\t-\t" in proc.stdout


# -- the draws ------------------------------------------------------------------------------


def _priors() -> dict[str, EffectPrior]:
    return {r.name: r.prior for r in _declared() if r.prior is not None}


def test_a_draw_of_an_effect_depends_only_on_seed_draw_and_name():
    priors = _priors()
    one = effect_values(priors, seed=5, draw=3)
    assert set(one) == set(priors)
    assert one == effect_values(priors, seed=5, draw=3)
    # The same value whatever else is drawn with it.
    name = "interventions.triage.programme_effect"
    assert effect_values({name: priors[name]}, 5, 3) == {name: one[name]}
    assert effect_values(priors, 5, 4)[name] != one[name]
    assert effect_values(priors, 6, 3)[name] != one[name]
    assert effect_values(priors, 5, 0) == {}  # draw 0: the point values, no draw
    for n, v in one.items():
        assert priors[n].low <= v <= priors[n].high


def test_draws_follow_the_prior():
    prior = EffectPrior.normal(0.14, 0.25).within(-3, 3)
    values = np.array([effect_values({"a.b": prior}, 1, d)["a.b"] for d in range(1, 2001)])
    assert values.mean() == pytest.approx(0.14, abs=0.025)  # 4 standard errors
    assert values.std() == pytest.approx(0.25, rel=0.08)
    lognormal = EffectPrior.lognormal(1.21, 0.0758).within(1.0, 10.0)
    ratios = np.array([effect_values({"a.c": lognormal}, 1, d)["a.c"] for d in range(1, 2001)])
    assert np.median(ratios) == pytest.approx(1.21, abs=0.01)


def test_a_draw_is_the_same_in_another_process():
    priors = _priors()
    code = (
        "import json; from sim.experiment import effect_values; from sim.scenario import "
        "Scenario; from sim.interventions import load_all; from sim.params import register_rows\n"
        "rows = Scenario(name='x').register()\n"
        "for n, c in sorted(load_all().items()): rows += register_rows('interventions.' + n, "
        "c.Params())\n"
        "print(json.dumps(effect_values({r.name: r.prior for r in rows if r.prior}, 11, 7)))"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=ROOT
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == effect_values(priors, 11, 7)


def test_drawn_value_reads_a_dotted_parameter():
    sc = load_scenario(SCENARIOS / "croydon-2018.toml", use_posterior=False)
    assert drawn_value(sc, "yos.supervision_effect") == sc.yos.supervision_effect
    point = Triage.Params().programme_effect
    assert drawn_value(sc, "interventions.triage.programme_effect") == point
    assert math.isnan(drawn_value(sc, "interventions.kickz.effect"))  # not configured


# -- experiments ------------------------------------------------------------------------------


def _experiment(tmp_path: Path, extra: str = "", scenarios=("tiny", "tiny-no-triage")) -> Path:
    files = ", ".join(f'"{EXPERIMENT_SCENARIOS / s}.toml"' for s in scenarios)
    path = tmp_path / "effects.toml"
    path.write_text(
        f'name = "effects"\nscenarios = [{files}]\nreplicates = 1\ndraws = 2\nseed = 4\n'
        f'years = 1\nburn_in_years = 1\noutputs = ["summary"]\n{extra}'
    )
    return path


def test_every_scenario_of_a_draw_runs_the_same_effects(tmp_path: Path):
    exp = load_experiment(_experiment(tmp_path))
    assert set(exp.effect_priors) >= {
        "yos.supervision_effect",
        "interventions.triage.programme_effect",
        "interventions.gangs_team.support_effect",
    }
    assert exp.drawn_names[: len(exp.posterior.names)] == exp.posterior.names
    for d in (1, 2):
        runs = [r for r in exp.runs() if r.draw == d]
        values = exp.effects(d)
        for run in runs:
            sc = exp.scenario_for(run)
            for name in exp.effects_of[run.scenario_index]:
                assert drawn_value(sc, name) == values[name]
        source = exp.source_for(runs[1])  # the shared burn-in has the draw's effects too
        assert source.yos.supervision_effect == values["yos.supervision_effect"]
    assert exp.effects(1) != exp.effects(2)
    # The posterior's parameters are drawn as before, on top.
    run = exp.runs()[0]
    drawn = exp.posterior.draw(run.particle)
    assert exp.scenario_for(run).behaviour.coef_peer == drawn["behaviour.coef_peer"]


def test_a_value_the_scenario_sets_itself_is_not_drawn(tmp_path: Path):
    own = tmp_path / "own.toml"
    own.write_text(
        f'name = "own"\nextends = "{EXPERIMENT_SCENARIOS / "tiny.toml"}"\n'
        "[interventions.triage]\nprogramme_effect = 0.5\n"
    )
    path = _experiment(tmp_path, scenarios=("tiny",))
    path.write_text(path.read_text().replace('.toml"]', f'.toml", "{own}"]'))
    exp = load_experiment(path)
    name = "interventions.triage.programme_effect"
    assert name in exp.effects_of[0] and name not in exp.effects_of[1]
    runs = [r for r in exp.runs() if r.draw == 1]
    assert drawn_value(exp.scenario_for(runs[0]), name) == exp.effects(1)[name]
    assert drawn_value(exp.scenario_for(runs[1]), name) == 0.5
    # A parameter set in a scenario is a drawn column, not a column of differing parameters.
    assert f"param.{name}" not in exp.param_columns()


def test_effects_point_keeps_the_point_values(tmp_path: Path):
    exp = load_experiment(_experiment(tmp_path, 'effects = "point"\n'))
    assert exp.effect_priors == {} and exp.drawn_names == exp.posterior.names
    run = exp.runs()[0]
    point = Triage.Params().programme_effect
    assert exp.scenario_for(run).interventions["triage"].programme_effect == point


def test_a_batch_records_each_runs_effects(tmp_path: Path):
    path = _experiment(tmp_path)
    result = run_experiment(path, tmp_path / "out", workers=1, progress=False)
    assert (result.succeeded, result.failed) == (4, 0)
    exp = load_experiment(path)
    df = pd.read_parquet(tmp_path / "out" / "summary")
    manifest = json.loads((tmp_path / "out" / "experiment.json").read_text())
    assert manifest["drawn_effects"] == sorted(exp.effect_priors)
    for name in exp.effect_priors:
        column = f"param.{name}"
        for d, group in df.groupby("draw"):
            values = group[column].dropna().unique()
            assert list(values) == [exp.effects(int(d))[name]], (column, d)
    for name in exp.posterior.names:
        assert f"param.{name}" in df.columns


def test_draws_zero_records_no_effects(tmp_path: Path):
    path = _experiment(tmp_path)
    path.write_text(path.read_text().replace("draws = 2", "draws = 0"))
    exp = load_experiment(path)
    assert exp.effect_priors == {} and exp.drawn_names == ()
    run = exp.runs()[0]
    assert exp.scenario_for(run) is exp.scenarios[0]  # the point values, untouched


# -- harmful draws: the mechanisms take a negative effect --------------------------------


def _model(name: str, params) -> YouthJusticeModel:
    sc = with_intervention(small(population=1500, years=1), name, params)
    return YouthJusticeModel(scenario=sc, seed=3)


def test_a_negative_programme_effect_raises_the_hazard():
    m = _model("triage", Triage.Params(programme_effect=-0.5))
    item = m.interventions.items[0]
    ids = np.arange(m.people.lo, m.people.lo + 5)
    item.until[ids] = m.week + 4
    item.active = ids
    m.reset_multipliers()
    item.before_offending(m.week)
    assert m.offending.hazard_multiplier[ids] == pytest.approx(np.exp(0.5))

    m = _model("gangs_team", GangsTeam.Params(support_effect=-0.2, enforcement_detection=1.0))
    item = m.interventions.items[0]
    item.active = ids
    m.reset_multipliers()
    item.before_offending(m.week)
    assert m.offending.hazard_multiplier[ids] == pytest.approx(np.exp(0.2))

    m = _model("schools_officers", SchoolsOfficers.Params(referral_effect=-0.3))
    item = m.interventions.items[0]
    item.active = ids
    m.reset_multipliers()
    item.before_offending(m.week)
    assert m.offending.hazard_multiplier[ids] == pytest.approx(np.exp(0.3))


def test_negative_displacement_is_a_diffusion_of_benefits():
    params = Hotspots.Params(displacement=-0.5, deterrence=0.2, interval_weeks=8)
    m = _model("hotspots", params)
    item = m.interventions.items[0]
    while not item.active.any():
        m.step()
    m.reset_multipliers()
    item.before_offending(m.week)
    near = item.displace_to
    assert near.any()
    assert (item.multiplier[near] < 1).all() and (item.multiplier[near] >= 0).all()
    assert item.multiplier[item.active] == pytest.approx(0.8)


def test_every_point_value_is_its_priors_median():
    """Point runs use the centre of what the evidence says (issue 18): the prior's median,
    to the precision the value is written with."""
    for r in _declared():
        if r.prior is not None:
            median = float(r.prior.quantile(0.5))
            assert r.default == pytest.approx(median, abs=0.005), (r.name, r.default, median)
