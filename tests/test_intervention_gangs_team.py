"""Gangs team: support takes people out of gangs; enforcement alone widens the net."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import assert_no_trace, run, small, with_intervention

from sim.interventions.gangs_team import GangsTeam
from sim.model import YouthJusticeModel
from sim.summary import summarise, timeseries

NAME = "gangs_team"
POPULATION, YEARS, SEED = 3000, 2, 3


def _run(on: GangsTeam.Params | None, *, keep_others: bool = False) -> YouthJusticeModel:
    """A small borough with the team as given (None: without it); others kept if asked."""
    sc = small(population=POPULATION, years=YEARS, seed=SEED)
    return run(with_intervention(sc, NAME, on, keep_others))


def _gang_member_weeks(model: YouthJusticeModel) -> int:
    ts = timeseries(model)
    return int(ts.loc[ts["measured"], "gang_members"].sum())


def _first_cohort_offences(
    item: GangsTeam, models: tuple[YouthJusticeModel, ...]
) -> list[np.ndarray]:
    """In each model, the offences of the team's first intake during their first spell.

    Until the team first takes people on it has changed nothing, so the first intake
    is chosen on a history both runs share: comparing the same people over the same
    weeks with and without the team is a fair paired comparison (later intakes are
    chosen on the team's own run, whose histories have drifted apart).
    """
    week0 = np.nanmin(item.first_intake)
    first = np.flatnonzero(item.first_intake == week0)
    spell = (week0 + 1, week0 + 1 + item.params.support_weeks)
    masks = []
    for model in models:
        off = model.events.offences
        when = (off["week"] >= spell[0]) & (off["week"] < spell[1])
        masks.append(when & np.isin(off["person"], first))
    return masks


@pytest.fixture(scope="module")
def baseline() -> YouthJusticeModel:
    return _run(None)


def test_support_takes_people_out_of_gangs_and_cuts_their_offending(baseline):
    # Support only (no enforcement), strong enough to show in a small borough in two years;
    # targeting by risk, so the first intake is large there whatever the police have listed.
    support = GangsTeam.Params(
        mode="integrated",
        targeting="risk",
        support_effect=0.5,
        support_exit_rate=2.0,
        enforcement_detection=1.0,
    )
    on = _run(support)
    item = on.interventions.items[0]
    assert item.outputs(YEARS)["supported_gang_exits"] > 0
    assert _gang_member_weeks(on) < _gang_member_weeks(baseline)
    # The first people taken on offend less while supported than they do without the team.
    mine_b, mine_on = _first_cohort_offences(item, (baseline, on))
    assert mine_b.sum() > 0
    assert mine_on.sum() < mine_b.sum()


def test_enforcement_alone_raises_proven_offending_not_true_offending(baseline):
    enforce = GangsTeam.Params(
        mode="integrated",
        targeting="risk",
        support_effect=0.0,
        support_exit_rate=0.0,
        enforcement_detection=3,
    )
    on = _run(enforce)
    s_b, s_on = summarise(baseline), summarise(on)
    ratio_b = s_b["proven_offences_per_year"] / s_b["true_offences_per_year"]
    ratio_on = s_on["proven_offences_per_year"] / s_on["true_offences_per_year"]
    assert ratio_on > ratio_b
    # The targeted people's offences are detected more often than the same people's
    # offences in the same weeks without the team.
    mine_b, mine_on = _first_cohort_offences(on.interventions.items[0], (baseline, on))
    detected_b = baseline.events.offences["detected"][mine_b].mean()
    detected_on = on.events.offences["detected"][mine_on].mean()
    assert detected_on > detected_b


def test_integration_funds_fewer_wasted_places_and_sees_more():
    sep = GangsTeam(_model_stub(), GangsTeam.Params(mode="separate"))
    integ = GangsTeam(_model_stub(), GangsTeam.Params(mode="integrated"))
    none = GangsTeam(_model_stub(), GangsTeam.Params(mode="none"))
    assert integ.sharing > sep.sharing
    assert integ.places == sep.places == 80  # budget 500k / 6k = 83 places, capped at 80
    assert integ.effective_places > sep.effective_places
    assert none.places == none.effective_places == 0
    broke = GangsTeam(_model_stub(), GangsTeam.Params(annual_budget_gbp=50_000))
    assert broke.places == 8  # the budget binds


def _model_stub() -> YouthJusticeModel:
    return YouthJusticeModel(scenario=small(population=500, years=1, burn_in=0, seed=SEED))


@pytest.mark.parametrize("targeting", ["risk", "matrix", "network"])
def test_every_targeting_rule_fills_places_with_people_close_to_gangs(targeting):
    sc = small(population=POPULATION, years=1, burn_in=1, seed=SEED)
    params = GangsTeam.Params(mode="integrated", targeting=targeting)
    m = YouthJusticeModel(scenario=sc.model_copy(update={"interventions": {NAME: params}}))
    m.run()
    out = m.interventions.items[0].outputs(1)
    assert out["reach"] > 0
    assert out["identification_accuracy"] > 0.5


def test_a_team_with_no_budget_changes_nothing():
    base = _run(None, keep_others=True)
    idle = _run(GangsTeam.Params(mode="integrated", annual_budget_gbp=0), keep_others=True)
    item = next(i for i in idle.interventions if i.name == NAME)
    assert item.outputs(YEARS)["reach"] == 0
    assert_no_trace(NAME, idle, base)
