"""The England & Wales pathway, case by case, on hand-made arrests."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import small

from sim.events import KIND
from sim.model import YouthJusticeModel

TYPE = {"minor": 0, "drugs": 1, "violence": 2, "robbery": 3, "weapon": 4}


def _model(**justice_params) -> YouthJusticeModel:
    sc = small()
    defaults = {
        "no_further_action_probability": 0.0,
        "out_of_court_lag_weeks": 0,
        "court_lag_weeks": 0,
    }
    sc = sc.model_copy(
        update={
            "justice": sc.justice.model_copy(update={**defaults, **justice_params}),
            "interventions": {},  # the pathway alone, without triage or other schemes
        }
    )
    return YouthJusticeModel(scenario=sc)


def _person(m: YouthJusticeModel, age: float = 15.0) -> int:
    ages = m.people.age(m.week)
    return int(np.argmin(np.abs(ages - age))) + m.people.lo


def _arrest(m: YouthJusticeModel, person: int, kind: str) -> int:
    """Record an offence by ``person`` and put it through arrest and disposal this week."""
    t = TYPE[kind]
    gravity = m.params.behaviour.gravity[t]
    oid = m.events.offences.append(
        person=[person],
        week=[m.week],
        type=[t],
        gravity=[gravity],
        co_group=[-1],
        detected=[True],
        case=[-1],
        proven_week=[np.nan],
        disposal=[-1],
    )
    m.police.book.open_offences = np.concatenate([m.police.book.open_offences, oid])
    m.police.book.pending_arrests.append(offence=oid, week=[m.week])
    m.police.arrest(m.week)
    m.court.apply_disposals(m.week)
    return int(oid[0])


def _last_kind(m: YouthJusticeModel) -> str:
    return next(k for k, v in KIND.items() if v == m.events.disposals["kind"][-1])


def test_first_minor_offence_gets_community_resolution_or_caution():
    m = _model(community_resolution_probability=1.0)
    p = _person(m)
    _arrest(m, p, "minor")
    assert _last_kind(m) == "community_resolution"
    assert m.people.n_formal[p] == 0  # not a first-time entrant
    m2 = _model(community_resolution_probability=0.0, conditional_caution_probability=0.0)
    p2 = _person(m2)
    oid = _arrest(m2, p2, "minor")
    assert _last_kind(m2) == "youth_caution"
    assert m2.people.n_formal[p2] == 1 and m2.people.first_formal_week[p2] == m2.week
    assert m2.events.offences["proven_week"][oid] == m2.week


def test_no_further_action_leaves_no_record():
    m = _model(no_further_action_probability=1.0)
    p = _person(m)
    oid = _arrest(m, p, "violence")
    assert _last_kind(m) == "nfa"
    assert np.isnan(m.events.offences["proven_week"][oid])
    assert m.people.n_formal[p] == 0


def test_serious_offence_goes_to_court_first_conviction_gets_referral_order():
    m = _model(guilty_plea_probability=1.0, custody_intercept=-50.0)
    p = _person(m)
    m.people.n_formal[p] = 1  # already cautioned
    _arrest(m, p, "robbery")
    assert _last_kind(m) == "referral_order"
    assert m.people.n_convictions[p] == 1
    assert m.people.yos_until[p] == m.week + m.params.justice.referral_order_weeks


def test_repeat_conviction_gets_rehabilitation_order():
    m = _model(custody_intercept=-50.0)
    p = _person(m)
    m.people.n_formal[p] = 3
    m.people.n_convictions[p] = 2
    _arrest(m, p, "violence")
    assert _last_kind(m) == "youth_rehabilitation_order"


def test_custody_then_release_is_recorded_and_supervised():
    m = _model(custody_intercept=50.0)
    p = _person(m, 16.0)
    m.people.n_formal[p] = 2
    m.people.n_convictions[p] = 2
    _arrest(m, p, "weapon")
    assert _last_kind(m) == "custody"
    release = m.people.custody_release_week[p]
    assert release > m.week
    assert m.people.yos_until[p] > release  # licence follows custody
    while m.week <= release:
        m.step()
    r = m.events.releases
    assert p in r["person"]
    assert r["week"][list(r["person"]).index(p)] == release
    assert not m.people.in_custody(m.week)[p - m.people.lo]


def test_adults_are_not_youth_cases():
    m = _model(custody_intercept=-50.0, community_resolution_probability=0.0)
    p = _person(m, 19.0)
    _arrest(m, p, "minor")
    assert m.events.disposals["adult"][-1]
    assert np.isnan(m.people.yos_until[p]) or m.people.yos_until[p] <= m.week


def test_second_offence_while_case_open_joins_that_case():
    m = _model(court_lag_weeks=5, guilty_plea_probability=1.0, custody_intercept=-50.0)
    p = _person(m)
    m.people.n_formal[p] = 1
    a = _arrest(m, p, "robbery")  # charged, sentenced in 5 weeks
    b = _arrest(m, p, "minor")  # joins the open case
    assert m.events.offences["case"][a] == m.events.offences["case"][b]
    for _ in range(6):
        m.step()
    assert m.events.offences["proven_week"][a] == m.events.offences["proven_week"][b]


@pytest.mark.parametrize("scale", [0.5, 2.0])
def test_more_detection_means_more_proven_offences(scale):
    base = YouthJusticeModel(scenario=small(seed=3))
    base.run()
    sc = small(seed=3)
    scaled = sc.justice.detection_scale * scale  # relative to the baseline's (calibrated) level
    sc = sc.model_copy(
        update={"justice": sc.justice.model_copy(update={"detection_scale": scaled})}
    )
    other = YouthJusticeModel(scenario=sc)
    other.run()
    more = other.tally.totals["proven_offences"] > base.tally.totals["proven_offences"]
    assert more == (scale > 1)
