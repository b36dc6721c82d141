"""Operation Encompass and MARAC: notifications to schools, the 4-in-12-months rule, support."""

from __future__ import annotations

import numpy as np
from conftest import assert_no_trace, run, small, with_intervention

from sim.interventions.encompass import Encompass, EncompassParams
from sim.model import YouthJusticeModel

NAME = "encompass"
# A strong dose (frequent incidents, support removing all domestic-abuse risk) so
# that the effect stands out of the divergence a single changed offence sets off.
STRONG = {"incident_rate_per_year": 3.0, "notification_effect": 1.0, "marac_effect": 1.0}


def _scenario(params: EncompassParams | None, seed: int = 7, keep_others: bool = False):
    return with_intervention(small(seed=seed), NAME, params, keep_others)


def _run(
    params: EncompassParams | None, seed: int = 7, keep_others: bool = False
) -> YouthJusticeModel:
    return run(_scenario(params, seed, keep_others))


def _encompass(m: YouthJusticeModel) -> Encompass:
    return next(i for i in m.interventions if i.name == NAME)


def test_children_exposed_to_domestic_abuse_offend_less_with_support():
    on_total = off_total = 0
    for seed in (7, 8):
        on, off = _run(EncompassParams(**STRONG), seed), _run(None, seed)
        exposed = np.flatnonzero(on.people.domestic_abuse[: on.people.n])
        on_total += int(np.isin(on.events.offences["person"], exposed).sum())
        off_total += int(np.isin(off.events.offences["person"], exposed).sum())
    assert on_total < 0.95 * off_total, (on_total, off_total)


def test_support_lowers_the_domestic_abuse_weight_of_supported_children_only():
    p = EncompassParams()
    m = YouthJusticeModel(scenario=_scenario(p))
    e = _encompass(m)
    for _ in range(60):
        m.step()
    week = m.week - 1
    live = m.people.live
    ids = np.arange(live.start, live.stop)
    notified = e.notified_until[ids] > week
    marac = e.marac_until[ids] > week
    assert notified.any() and marac.any()
    expected = np.where(notified, 1 - p.notification_effect, 1.0) * np.where(
        marac, 1 - p.marac_effect, 1.0
    )
    np.testing.assert_allclose(m.offending.da_risk_weight[ids], expected)
    # Only exposed children are supported; notifications reach pupils only.
    assert m.people.domestic_abuse[ids[notified | marac]].all()
    inc = e.incidents
    assert (inc["notified"] <= inc["children"]).all()
    assert e.incidents.n > 0 and e.reached.sum() > 0


def test_marac_rule_four_incidents_within_52_weeks():
    m = YouthJusticeModel(scenario=_scenario(EncompassParams()))
    e = _encompass(m)
    a, b, c = 11, 22, 33

    def incident(family: int, week: int) -> bool:
        return family in e.record_incidents(np.array([family]), week)

    assert not incident(a, 0) and not incident(a, 10) and not incident(a, 20)
    assert incident(a, 30)  # the fourth within 12 months
    assert not incident(a, 31)  # a referral needs four new incidents
    assert not incident(a, 40) and not incident(a, 50)
    assert incident(a, 60)  # 31, 40, 50, 60: four since the referral, within 52 weeks
    # Weeks 0 and 51 are in the same 52-week window; weeks 0 and 52 are not.
    assert [incident(b, w) for w in (0, 20, 40, 51)] == [False, False, False, True]
    assert [incident(c, w) for w in (0, 20, 40, 52)] == [False, False, False, False]
    assert incident(c, 55)  # 20, 40, 52, 55
    # Several households at once, each on its own history.
    got = e.record_incidents(np.array([a, b, c]), 61)
    assert got.size == 0


def test_every_marac_case_is_exactly_where_the_incident_records_reach_four_in_a_year():
    m = _run(EncompassParams(incident_rate_per_year=3.0))
    e = _encompass(m)
    inc, marac = e.incidents, e.marac_cases
    assert marac.n > 10, "the test needs MARAC cases to mean anything"
    expected = set()
    weeks_of: dict[int, list[int]] = {}
    for fam, week in zip(inc["family"].tolist(), inc["week"].tolist(), strict=True):
        weeks_of.setdefault(fam, []).append(week)
    for fam, weeks in weeks_of.items():
        since = []  # incidents since the last referral
        for w in weeks:
            since = [x for x in [*since, w] if x > w - 52]
            if len(since) >= 4:
                expected.add((fam, w))
                since = []
    got = set(zip(marac["family"].tolist(), marac["week"].tolist(), strict=True))
    assert got == expected


def test_no_incidents_leaves_results_bit_identical():
    on = _run(EncompassParams(incident_rate_per_year=0.0), keep_others=True)
    off = _run(None, keep_others=True)
    assert_no_trace(NAME, on, off)


def test_costs_are_notifications_and_marac_cases_in_measured_years():
    p = EncompassParams()
    m = _run(p)
    e = _encompass(m)
    years = m.measured_weeks / 52
    out = e.outputs(years)
    expected = (
        out["notifications_per_year"] * p.cost_per_notification
        + out["marac_cases_per_year"] * p.cost_per_marac_case
    )
    assert out["notifications_per_year"] > 0
    assert abs(out["cost_per_year_gbp"] - expected) < 1e-6 * expected
