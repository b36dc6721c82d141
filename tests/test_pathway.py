"""The England & Wales pathway, case by case, on hand-made arrests."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import small

from sim.events import DISPOSALS, KIND, REMAND
from sim.model import YouthJusticeModel

TYPE = {"minor": 0, "drugs": 1, "violence": 2, "robbery": 3, "weapon": 4}


def _model(**justice_params) -> YouthJusticeModel:
    sc = small()
    # Each case decided by the written rule alone: no chance element unless a test sets one.
    defaults = {
        "no_further_action_probability": 0.0,
        "out_of_court_lag_weeks": 0,
        "court_lag_weeks": 0,
        "gravity_mitigated_share": 0.0,
        "gravity_aggravated_share": 0.0,
        "remand_detention_intercept": -50.0,
        "community_remand_probability": 0.0,
        "acquittal_probability": 0.0,
        "remand_detention_acquittal_probability": 0.0,
        "absolute_discharge_probability": 0.0,
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
    m.court.step()  # first hearing (remand) of a charge, then whatever is due this week
    return int(oid[0])


def _last_kind(m: YouthJusticeModel) -> str:
    return next(k for k, v in KIND.items() if v == m.events.disposals["kind"][-1])


def _last_kind_of(m: YouthJusticeModel, person: int) -> str:
    d = m.events.disposals
    return DISPOSALS[d["kind"][d["person"] == person][-1]]


def _kind_of_case(m: YouthJusticeModel, case: int) -> str:
    return DISPOSALS[m.police.book.cases["kind"][case]]


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


def test_repeat_conviction_gets_rehabilitation_order_when_the_court_escalates():
    # Violence (gravity 3) may be cautioned again since the repeat-caution rule (it was
    # charged whatever the history before): here the police charge.
    m = _model(
        custody_intercept=-50.0, repeat_caution_probability=0.0, rehabilitation_order_intercept=50.0
    )
    p = _person(m)
    m.people.n_formal[p] = 3
    m.people.n_convictions[p] = 2
    _arrest(m, p, "violence")
    assert _last_kind(m) == "youth_rehabilitation_order"


def test_conviction_below_the_community_threshold_gets_a_first_tier_sentence():
    m = _model(
        custody_intercept=-50.0,
        repeat_caution_probability=0.0,
        rehabilitation_order_intercept=-50.0,
        repeat_referral_probability=0.0,
        first_tier_shares=(0.0, 0.0, 1.0),
    )
    p = _person(m)
    m.people.n_formal[p] = m.people.n_convictions[p] = 2
    oid = _arrest(m, p, "violence")
    assert _last_kind(m) == "fine"
    assert m.people.n_convictions[p] == 3  # a fine is a conviction
    assert m.events.offences["proven_week"][oid] == m.week
    assert not (m.people.yos_until[p] > m.week)  # and no YOS supervision
    m2 = _model(
        custody_intercept=-50.0,
        repeat_caution_probability=0.0,
        rehabilitation_order_intercept=-50.0,
        repeat_referral_probability=1.0,
        guilty_plea_probability=1.0,
    )
    p2 = _person(m2)
    m2.people.n_formal[p2] = m2.people.n_convictions[p2] = 2
    _arrest(m2, p2, "violence")
    assert _last_kind(m2) == "referral_order"  # a discretionary referral order


def test_first_conviction_without_a_guilty_plea_gets_no_referral_order():
    m = _model(guilty_plea_probability=0.0, custody_intercept=-50.0)
    p = _person(m)
    m.people.n_formal[p] = 1
    _arrest(m, p, "robbery")
    assert _last_kind(m) in (
        "youth_rehabilitation_order",
        "absolute_discharge",
        "conditional_discharge",
        "fine",
    )
    m2 = _model(
        guilty_plea_probability=1.0, custody_intercept=-50.0, absolute_discharge_probability=1.0
    )
    p2 = _person(m2)
    m2.people.n_formal[p2] = 1
    _arrest(m2, p2, "robbery")
    assert _last_kind(m2) == "absolute_discharge"  # the one exception to the referral order


def test_later_low_gravity_offences_may_be_cautioned_again():
    m = _model(
        community_resolution_probability=0.0,
        repeat_caution_probability=1.0,
        out_of_court_repeat_odds=1.0,
        repeat_conditional_caution_probability=0.0,
    )
    p = _person(m)
    for n in range(1, 4):
        _arrest(m, p, "minor")
        assert _last_kind(m) == "youth_caution"
        assert m.people.n_formal[p] == n and m.people.n_convictions[p] == 0
    _arrest(m, p, "robbery")  # gravity 5: above the repeat-caution limit, so charged
    assert m.people.n_convictions[p] == 1
    # Each previous disposal makes another less likely: none with odds near 0.
    m2 = _model(
        community_resolution_probability=0.0,
        repeat_caution_probability=1.0,
        out_of_court_repeat_odds=1e-9,
        custody_intercept=-50.0,
    )
    p2 = _person(m2)
    m2.people.n_formal[p2] = 2
    _arrest(m2, p2, "minor")
    assert m2.people.n_convictions[p2] == 1


def test_community_resolutions_after_a_formal_disposal_and_their_limit():
    m = _model(community_resolution_probability=1.0, out_of_court_repeat_odds=1.0)
    p = _person(m)
    m.people.n_formal[p] = 1  # cautioned before: a community resolution is still possible
    limit = m.params.justice.max_community_resolutions
    for _ in range(limit):
        _arrest(m, p, "minor")
        assert _last_kind(m) == "community_resolution"
    assert m.people.n_community_resolutions[p] == limit
    _arrest(m, p, "minor")
    assert _last_kind(m) != "community_resolution"
    assert m.people.n_formal[p] == 2  # a caution or a conviction: formal either way


def test_mitigating_factors_bring_a_gravity_3_offence_to_a_community_resolution():
    m = _model(community_resolution_probability=1.0, gravity_mitigated_share=0.5)
    p = _person(m)
    kinds = set()
    for q in range(p, p + 40):  # 40 children, one drugs offence (gravity 3) each
        _arrest(m, q, "drugs")
        kinds.add(_last_kind(m))
    assert {"community_resolution", "youth_caution"} <= kinds


def test_remand_in_youth_detention_is_custody_until_the_court_then_acquittal():
    m = _model(
        court_lag_weeks=4,
        remand_detention_intercept=50.0,
        remand_detention_weeks=500.0,  # no bail on review before the court date
        remand_detention_acquittal_probability=1.0,
    )
    p = _person(m, 16.0)
    m.people.n_formal[p] = 1
    oid = _arrest(m, p, "robbery")
    case = m.police.book.open_case[p]
    due = m.police.book.cases["due_week"][case]
    assert m.people.custody_release_week[p] == due  # on remand: in custody until the court
    assert m.people.yos_until[p] >= due  # and supervised by the YOS
    offences_before = m.events.offences.n
    while m.week < due:
        assert m.people.in_custody(m.week)[p - m.people.lo]
        m.step()
    # Nobody offends in custody: none of the offences since the arrest are this child's.
    assert p not in m.events.offences["person"][offences_before:]
    m.step()  # the week of the court's outcome
    assert _kind_of_case(m, case) == "acquittal"
    assert m.people.n_convictions[p] == 0 and m.people.n_formal[p] == 1  # no new record
    assert np.isnan(m.events.offences["proven_week"][oid])
    assert not m.people.in_custody(m.week)[p - m.people.lo]
    assert p not in m.events.releases["person"]  # leaving remand is not a release index event


def test_remand_time_counts_towards_a_custodial_sentence():
    lag = 6
    weeks = {}
    for remand in (-50.0, 50.0):
        m = _model(
            court_lag_weeks=lag,
            custody_intercept=50.0,
            remand_detention_intercept=remand,
            remand_detention_weeks=500.0,  # held to the court date: all of the lag served
        )
        p = _person(m, 16.0)
        m.people.n_formal[p] = m.people.n_convictions[p] = 2
        _arrest(m, p, "weapon")
        due = m.police.book.cases["due_week"][m.police.book.open_case[p]]
        while m.week <= due:
            m.step()
        assert _last_kind_of(m, p) == "custody"
        weeks[remand] = m.people.custody_release_week[p] - due
    # Same seed, person and week: the same sentence, less the weeks on remand (at least 1).
    assert weeks[50.0] == max(1, weeks[-50.0] - lag)


def test_a_remand_in_youth_detention_ends_early_on_bail_and_counts_what_was_served():
    """Held for remand_detention_weeks on average, then bailed if the court date has not
    come: over many remands with a 2-week mean and a 20-week lag, most children leave
    custody well before the court, and the weeks held are what a custodial sentence is
    later cut by."""
    lag = 20
    m = _model(court_lag_weeks=lag, remand_detention_intercept=50.0, remand_detention_weeks=2.0)
    ppl, book = m.people, m.police.book
    ages = ppl.age(m.week)
    rows = (np.flatnonzero((ages > 12) & (ages < 17)) + ppl.lo)[:200]
    for q in rows:
        _arrest(m, int(q), "robbery")
    cases = book.open_case[rows]
    due = book.cases["due_week"][cases]
    held = book.cases["remand_weeks"][cases].astype(np.int64)
    assert (book.cases["remand"][cases] == REMAND["youth_detention"]).all()
    assert (held >= 1).all() and (held <= due - m.week).all()
    assert (ppl.custody_release_week[rows] == m.week + held).all()
    assert held.mean() == pytest.approx(2.0, abs=0.6)  # a geometric mean of 2, floored at 1
    assert (held < due - m.week).mean() > 0.9  # most bailed on review before the court


def test_minority_groups_are_remanded_by_their_odds_ratio():
    m = _model(
        court_lag_weeks=10,
        remand_detention_intercept=-3.0,
        remand_detention_per_gravity=0.0,
        remand_detention_per_conviction=0.0,
        remand_detention_odds_ratio=(1.0, 20.0, 1.0, 1.0, 1.0),
    )
    ppl = m.people
    ages = ppl.age(m.week)
    rows = np.flatnonzero((ages > 12) & (ages < 17)) + ppl.lo
    detained = {0: [], 1: []}
    for group in (0, 1):
        for q in rows[ppl.ethnic[rows] == group][:150]:
            ppl.n_formal[q] = 1
            _arrest(m, int(q), "robbery")
            detained[group].append(ppl.custody_release_week[q] > m.week)
    white, black = np.mean(detained[0]), np.mean(detained[1])
    # logit -3 is 4.7%; odds x20 is 49%.
    assert white < 0.15 and black > 0.3, (white, black)


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


def test_a_run_gives_every_tier_remand_in_custody_and_priced_kinds():
    """The disposal-mix check on a whole run: the formal mix covers the YJS tiers (no
    tier empty, shares summing to 1); remanded children are part of the custody
    population (never more than it); acquittals happen; the costs price remand apart."""
    from sim.costs import pathway_costs
    from sim.summary import summarise

    sc = small(seed=2, years=3, burn_in=2)
    sc = sc.model_copy(update={"interventions": {}})
    m = YouthJusticeModel(scenario=sc)
    m.run()
    s = summarise(m)
    mix, tiers = s["disposal_mix"], s["disposal_mix_by_tier"]
    assert sum(mix.values()) == pytest.approx(1.0)
    assert sum(tiers.values()) == pytest.approx(1.0)
    assert all(share > 0 for tier, share in tiers.items() if tier != "custody"), tiers
    assert mix["fine"] + mix["conditional_discharge"] + mix["absolute_discharge"] > 0
    t = m.tally.totals
    assert 0 < t["remand_custody_weeks"] <= t["custody_weeks"]
    assert s["remand_share_of_custody_population"] == pytest.approx(
        t["remand_custody_weeks"] / t["custody_weeks"]
    )
    remand = s["remand"]
    assert sum(remand["episode_shares"].values()) == pytest.approx(1.0)
    assert remand["episode_shares"]["youth_detention"] > 0
    assert s["disposals_per_year"]["acquittal"] > 0
    assert sum(s["proven_offence_mix"].values()) == pytest.approx(1.0)
    costs = pathway_costs(m)
    c = m.params.costs
    years = m.measured_weeks / 52
    assert costs["remand_custody"] == pytest.approx(
        c.custody_place_per_year * t["remand_custody_weeks"] / 52 / years
    )
    assert costs["custody"] + costs["remand_custody"] == pytest.approx(
        c.custody_place_per_year * t["custody_weeks"] / 52 / years
    )
    assert costs["first_tier_sentences"] > 0 and costs["referral_order_panels"] > 0


def _detection_rates(m: YouthJusticeModel, offence_type: str) -> tuple[float, float]:
    """Every other child known to the police (a formal record); each commits one offence
    of ``offence_type``: the share detected among the known and among the unknown."""
    people = np.arange(m.people.lo, m.people.n)
    known = people[::2]
    m.people.n_formal[known] = 1
    n = people.size
    ids = m.events.offences.append(
        person=people,
        week=np.zeros(n, dtype=np.int64),
        type=np.full(n, TYPE[offence_type], dtype=np.int64),
        gravity=np.ones(n, dtype=np.int64),
        co_group=np.full(n, -1),
        detected=np.zeros(n, dtype=bool),
        case=np.full(n, -1),
        proven_week=np.full(n, np.nan),
        disposal=np.full(n, -1),
    )
    detected = np.isin(people, m.events.offences["person"][m.police.detect(ids, 0)])
    is_known = np.isin(people, known)
    return detected[is_known].mean(), detected[~is_known].mean()


@pytest.mark.parametrize("ratio", [1.0, 4.0])
def test_known_offenders_are_detected_ratio_times_as_often(ratio: float) -> None:
    """justice.known_offender_detection_ratio: an offence by someone with a caution or
    conviction on record leads to a suspect ``ratio`` times as often as one by someone
    without (minor offences, no search or patrol terms; 0.1 for the unknown)."""
    minor = small().justice.detection_probability[TYPE["minor"]]
    m = _model(
        known_offender_detection_ratio=ratio,
        detection_scale=0.1 / minor,
        group_detection_probability=0.0,
    )
    p_known, p_unknown = _detection_rates(m, "minor")
    # Binomial SDs at these sizes are about 0.01-0.02; 0.06 is several of them.
    assert p_unknown == pytest.approx(0.1, abs=0.06)
    assert p_known == pytest.approx(0.1 * ratio, abs=0.06)


@pytest.mark.parametrize("weight", [0.0, 0.5, 1.0])
def test_what_searches_find_carries_the_known_offender_ratio_to_its_weight(weight: float):
    """justice.known_offender_search_weight: a drugs find (proactive) of a known child is
    ratio ** weight times as likely as an unknown child's, while a reported offence keeps
    the whole ratio (searches the same everywhere and for every group: 0.1 unknown)."""
    j = small().justice
    for offence, wanted_ratio in (("drugs", 4.0**weight), ("minor", 4.0)):
        m = _model(
            known_offender_detection_ratio=4.0,
            known_offender_search_weight=weight,
            detection_scale=0.1 / j.detection_probability[TYPE[offence]],
            proactive_policing_ratio=1.0,
            patrol_deprivation_gradient=0.0,
            search_decision_by_group=(1.0,) * len(j.search_decision_by_group),
            group_detection_probability=0.0,
        )
        p_known, p_unknown = _detection_rates(m, offence)
        assert p_unknown == pytest.approx(0.1, abs=0.06), offence
        assert p_known == pytest.approx(0.1 * wanted_ratio, abs=0.06), offence
    # Weights 0 and 1 are 0.3 apart at these rates: several binomial SDs.


@pytest.mark.parametrize("probability", [0.0, 1.0])
def test_an_arrest_clears_the_persons_recent_undetected_offences(probability: float) -> None:
    """justice.clear_up_probability: the arrested person's undetected offences of the last
    clear_up_weeks join the new case and are proven with it; older ones, and other
    people's, do not."""
    m = _model(clear_up_probability=probability, clear_up_weeks=13)
    m.week = 30
    person, other = _person(m, 15.0), _person(m, 16.0)
    t = TYPE["minor"]
    earlier = m.events.offences.append(
        person=[person, person, person, other],
        week=[10, 20, 25, 25],  # week 10 is before the 13-week window
        type=[t] * 4,
        gravity=[1] * 4,
        co_group=[-1] * 4,
        detected=[False] * 4,
        case=[-1] * 4,
        proven_week=[np.nan] * 4,
        disposal=[-1] * 4,
    )
    principal = _arrest(m, person, "violence")  # a first offence: a caution, now
    off = m.events.offences
    assert "caution" in _kind_of_case(m, int(off["case"][principal]))
    in_window = earlier[1:3]
    if probability == 1.0:
        assert (off["case"][in_window] == off["case"][principal]).all()
        assert off["detected"][in_window].all()
        assert (off["proven_week"][in_window] == m.week).all()
    else:
        assert (off["case"][in_window] == -1).all() and not off["detected"][in_window].any()
    # The older offence and the other person's are never cleared by this arrest.
    assert off["case"][earlier[0]] == -1 and off["case"][earlier[3]] == -1
    assert np.isnan(off["proven_week"][earlier[[0, 3]]]).all()
