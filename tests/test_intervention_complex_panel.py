"""Complex adolescents panel: weekly intake of the highest-risk children onto plans."""

from __future__ import annotations

import numpy as np
from conftest import assert_no_trace, run, small, two_boroughs, with_intervention

from sim.interventions.complex_panel import ComplexPanel, ComplexPanelParams
from sim.model import YouthJusticeModel

NAME = "complex_panel"


def _scenario(params: ComplexPanelParams | None, seed: int = 7, keep_others: bool = False):
    return with_intervention(small(seed=seed), NAME, params, keep_others)


def _run(params: ComplexPanelParams | None, seed: int = 7, keep_others: bool = False):
    return run(_scenario(params, seed, keep_others))


def _panel(m: YouthJusticeModel) -> ComplexPanel:
    return next(i for i in m.interventions if i.name == NAME)


def _offences_on_plans(m: YouthJusticeModel, plans) -> int:
    """Offences by each planned child between the start and the end of their plan."""
    off = m.events.offences
    sel = np.zeros(off.n, dtype=bool)
    for person, start, end in zip(plans["person"], plans["start"], plans["end"], strict=True):
        sel |= (off["person"] == person) & (off["week"] >= start) & (off["week"] < end)
    return int(sel.sum())


def test_panel_cases_offend_less_than_the_same_children_without_the_panel():
    """A plan that cuts the hazard by a quarter (plan_effect 0.3, near the top of its
    prior's 90% range), so that a tenth fewer offences on plans stands clear of chance:
    at the point value (0.15, 14% off the hazard) the cut measured on two seeds was 9.7%
    on generation 7's posterior, within chance of the bound."""
    on_total = off_total = 0
    for seed in (7, 8):
        on, off = _run(ComplexPanelParams(plan_effect=0.3), seed), _run(None, seed)
        plans = _panel(on).plans
        assert plans.n > 100, "the test needs plans to mean anything"
        on_total += _offences_on_plans(on, plans)
        off_total += _offences_on_plans(off, plans)
    assert on_total < 0.9 * off_total, (on_total, off_total)


def test_intake_respects_capacity_weekly_limit_age_and_the_highest_risk_first():
    p = ComplexPanelParams(capacity=12, new_cases_per_week=3)
    m = YouthJusticeModel(scenario=_scenario(p))
    panel = _panel(m)
    seen: dict[int, tuple[np.ndarray, np.ndarray]] = {}
    scores = panel.scores

    def spy(week: int) -> tuple[np.ndarray, np.ndarray]:
        seen[week] = scores(week)
        return seen[week]

    panel.scores = spy  # records the candidates the panel saw each week
    for _ in range(40):
        n_before = panel.plans.n
        m.step()
        week = m.week - 1
        new = panel.plans["person"][n_before:]
        assert new.size <= p.new_cases_per_week
        if new.size:
            ids, score = seen[week]
            taken = np.isin(ids, new)
            assert taken.sum() == new.size
            assert score[taken].min() >= score[~taken].max(initial=-np.inf)
        assert panel.caseload <= p.capacity
        assert np.unique(panel.on_plan).size == panel.on_plan.size
        age = (week - m.people.birth_week[panel.on_plan]) / 52
        assert ((age >= p.min_age) & (age < p.max_age)).all()
        # Children on a plan get the plan's multiplier (the YOS may lower it further).
        assert np.all(
            m.offending.hazard_multiplier[panel.on_plan] <= np.exp(-p.plan_effect) + 1e-12
        )
    assert panel.caseload == p.capacity  # the panel fills up


def test_scores_flag_exploitation_risks():
    p = ComplexPanelParams()
    m = YouthJusticeModel(scenario=_scenario(p))
    for _ in range(10):
        m.step()
    panel = _panel(m)
    ids, score = panel.scores(m.week)
    ok = np.isfinite(score)
    assert ok.sum() > 1000
    ids, score = ids[ok], score[ok]
    base = m.offending.last_log_hazard_of(ids)
    extra = score - base
    ppl = m.people
    la = ppl.looked_after[ids]
    assert np.all(extra[la] >= p.weight_looked_after - 1e-12)
    gang = ppl.gang[ids] >= 0
    assert np.all(extra[gang] >= p.weight_gang - 1e-12)
    plain = ~la & ~gang & ~(ppl.victim_week[ids] > m.week - p.victim_window_weeks)
    assert np.all(extra[plain] >= 0) and np.any(extra[plain] == 0)


def test_no_capacity_leaves_results_bit_identical():
    on = _run(ComplexPanelParams(capacity=0), keep_others=True)
    off = _run(None, keep_others=True)
    assert_no_trace(NAME, on, off)


def test_cost_is_per_plan_started_in_measured_years():
    p = ComplexPanelParams()
    m = _run(p)
    panel = _panel(m)
    years = m.measured_weeks / 52
    out = panel.outputs(years)
    assert out["plans_per_year"] > 0
    expected = out["plans_per_year"] * p.cost_per_plan
    assert abs(out["cost_per_year_gbp"] - expected) < 1e-6 * expected


def test_each_borough_has_its_own_panel():
    p = ComplexPanelParams(capacity=10, new_cases_per_week=2)
    m = YouthJusticeModel(scenario=two_boroughs(_scenario(p)))
    panel = _panel(m)
    for _ in range(20):
        m.step()
        per_borough = np.bincount(m.people.borough[panel.on_plan], minlength=2)
        assert per_borough.max() <= p.capacity
    assert per_borough.tolist() == [p.capacity, p.capacity]
