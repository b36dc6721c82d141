"""Disproportionality with causes: ethnic group follows where children live and with whom,
agencies' decisions read it through explicit parameters, and the offending hazard never
does (issue 17, item 5)."""

from __future__ import annotations

import inspect

import numpy as np
import pytest
from conftest import run, small

import sim.behaviour
from sim import metrics
from sim.behaviour import Offending
from sim.events import OFFENCE_TYPES, REMAND
from sim.justice import listing_probability
from sim.model import YouthJusticeModel
from sim.population import ETHNIC_GROUPS, build_geography, build_population, ward_ethnic_shares
from sim.scenario import Scenario
from sim.summary import summarise

BLACK, WHITE = ETHNIC_GROUPS.index("Black"), ETHNIC_GROUPS.index("White")


def _with(sc: Scenario, block: str, **values) -> Scenario:
    """``sc`` with ``values`` set in its parameter block ``block``."""
    return sc.model_copy(update={block: getattr(sc, block).model_copy(update=values)})


def _baseline(sc: Scenario) -> Scenario:
    """``sc`` with no interventions: the police's gangs list then changes nothing else."""
    return sc.model_copy(update={"interventions": {}})


# -- where children live and with whom -------------------------------------------------
def test_ethnic_group_never_enters_the_offending_hazard():
    """Permuting everyone's ethnic group leaves each person's weekly log hazard unchanged."""
    assert "ethnic" not in inspect.getsource(sim.behaviour)
    m = YouthJusticeModel(scenario=small(years=1, burn_in=0))
    m.run(until=30)  # histories: offences, disposals, custody, victims
    peer = np.random.default_rng(0).random(m.people.capacity)
    before, n = m.offending.log_hazard(m.week, peer)
    assert n > 0 and np.isfinite(before[:n]).all()
    live = m.people.live
    rng = np.random.default_rng(1)
    m.people.ethnic[live] = rng.permutation(m.people.ethnic[live])
    assert (m.people.ethnic[live] == m.people.ethnic[live][0]).mean() < 0.9  # mixed
    fresh = Offending(m, m.params.behaviour)  # nothing cached from before the permutation
    # ...but each child's trajectory was drawn at entry from the risks they had then (a
    # new concern would draw it from today's): keep it, and the age-table rows it sets.
    fresh.trajectory[:] = m.offending.trajectory
    fresh.age_table_offset[:] = m.offending.age_table_offset
    after, n_after = fresh.log_hazard(m.week, peer)
    assert n_after == n
    np.testing.assert_array_equal(after, before)


def test_siblings_share_an_ethnic_group():
    """Every family's children (the initial population and September's entrants) share one
    group, and families of several groups exist."""
    m = YouthJusticeModel(scenario=small(years=1, burn_in=1))
    m.run(until=60)  # past a September: entrants joining older siblings' families
    ppl = m.people
    rows = np.arange(ppl.n)
    assert ppl.n > m.params.population.cohort_size * 12  # a cohort entered
    fam, eth = ppl.family[rows], ppl.ethnic[rows]
    order = np.lexsort((eth, fam))
    fam, eth = fam[order], eth[order]
    same_family = fam[1:] == fam[:-1]
    assert same_family.sum() > 500  # many families with siblings
    assert (eth[1:][same_family] == eth[:-1][same_family]).all()
    entrants = np.arange(m.params.population.cohort_size * 12, ppl.n)
    joined = np.isin(ppl.family[entrants], ppl.family[: entrants[0]])
    assert joined.sum() > 50  # entrants who joined an older sibling's family
    assert len(np.unique(eth)) == len(ETHNIC_GROUPS)


def test_ward_composition_follows_the_borough_shares_and_ward_deprivation():
    """The borough's shares are the sourced ones; minority shares rise with ward deprivation
    (the gradient), and with no gradient every ward has the borough's shares."""
    sc = small(population=40_000)
    p = sc.population.model_copy(update={"wards": 28})
    people = build_population(p, 1, np.random.default_rng(5))
    live = np.arange(people.lo, people.n)
    geo = people.geography
    expected = ward_ethnic_shares(p, geo)
    m = p.minority_ethnic_share
    borough = np.bincount(people.ethnic[live], minlength=len(ETHNIC_GROUPS)) / live.size
    assert borough[WHITE] == pytest.approx(1 - m, abs=0.02)
    assert borough[BLACK] == pytest.approx(m * p.black_share_of_minority, abs=0.02)
    np.testing.assert_allclose(expected.mean(axis=0)[WHITE], 1 - m, atol=1e-9)
    minority = np.bincount(people.ward[live], people.ethnic[live] > 0, geo.ward_borough.size)
    minority /= np.bincount(people.ward[live], minlength=geo.ward_borough.size)
    # Observed ward shares match the model's (whole families drawn together: loose).
    np.testing.assert_allclose(minority, 1 - expected[:, WHITE], atol=0.12)
    assert np.corrcoef(geo.ward_deprivation, minority)[0, 1] > 0.8
    most, least = np.argmax(geo.ward_deprivation), np.argmin(geo.ward_deprivation)
    assert minority[most] - minority[least] > 0.3
    flat = p.model_copy(update={"ethnic_deprivation_gradient": (0.0,) * 5})
    shares = ward_ethnic_shares(flat, build_geography(flat, np.random.default_rng(5)))
    np.testing.assert_allclose(shares, np.tile(shares[0], (shares.shape[0], 1)), atol=1e-9)


def test_white_is_the_reference_of_every_group_parameter():
    sc = small()
    for name in (
        "search_decision_by_group",
        "gang_listing_odds_by_group",
        "out_of_court_chance_by_group",
    ):
        with pytest.raises(ValueError, match="White is the reference"):
            # 0.5: a value in every one of these fields' ranges, but not the reference's 1.
            sc.justice.model_validate({**sc.justice.model_dump(), name: (0.5, 1, 1, 1, 1)})
    with pytest.raises(ValueError, match="White is the reference"):
        sc.population.model_validate(
            {**sc.population.model_dump(), "ethnic_deprivation_gradient": (0.5, 1, 1, 1, 1)}
        )


# -- agencies' decisions ---------------------------------------------------------------
def _drugs_detection_by_group(sc: Scenario, seed: int = 11) -> np.ndarray:
    """Detection rate of one solo drugs offence by each live person, by ethnic group."""
    m = YouthJusticeModel(scenario=sc, seed=seed)
    off, ppl = m.events.offences, m.people
    persons = np.arange(ppl.lo, ppl.n)
    columns = {name: np.zeros(persons.size, dtype=dt) for name, dt in off.columns.items()}
    drugs = OFFENCE_TYPES.index("drugs")
    columns.update(person=persons, type=drugs, gravity=2, co_group=-1, case=-1, disposal=-1)
    columns["proven_week"] = np.nan
    ids = off.append(**columns)
    detected = np.isin(ids, m.police.detect(ids, 0))
    eth = ppl.ethnic[persons]
    return np.array([detected[eth == g].mean() for g in range(len(ETHNIC_GROUPS))])


def test_search_decision_ratio_of_one_removes_its_disproportion():
    """Proactive detection: with no patrol gradient, Black children's drugs offences are
    found about search_decision_by_group times as often as White children's; with every
    ratio 1 they are found alike (detection kept low, away from its 0.95 cap)."""
    sc = _baseline(small(population=20_000))
    sc = _with(sc, "justice", detection_scale=0.5, patrol_deprivation_gradient=0.0)
    ratio = sc.justice.search_decision_by_group[BLACK]
    assert ratio > 1.5
    rates = _drugs_detection_by_group(sc)
    assert rates[BLACK] / rates[WHITE] == pytest.approx(ratio, rel=0.15)
    equal = _drugs_detection_by_group(_with(sc, "justice", search_decision_by_group=(1.0,) * 5))
    assert equal[BLACK] / equal[WHITE] == pytest.approx(1.0, abs=0.12)


def test_patrol_gradient_alone_makes_an_exposure_disparity():
    """With equal search decisions, patrols weighted to deprived (more diverse) wards still
    find minority children's drugs offences more often: exposure, not decision."""
    sc = _baseline(small(population=20_000))
    sc = _with(
        sc,
        "justice",
        detection_scale=0.5,
        search_decision_by_group=(1.0,) * 5,
        patrol_deprivation_gradient=0.6,
    )
    rates = _drugs_detection_by_group(sc)
    assert rates[BLACK] / rates[WHITE] > 1.1


def _out_of_court_kinds(sc: Scenario, chance: tuple[float, ...]) -> tuple[np.ndarray, ...]:
    """The police's out-of-court decisions for every live person arrested in week 0 for
    a gravity-2 offence, with ``out_of_court_chance_by_group`` = ``chance``."""
    m = YouthJusticeModel(scenario=_with(sc, "justice", out_of_court_chance_by_group=chance))
    persons = np.arange(m.people.lo, m.people.n)
    kind = np.full(persons.size, -1, dtype=np.int64)
    m.police.out_of_court(persons, np.full(persons.size, 2), kind, week=0)
    return kind, m.people.ethnic[persons]


def test_the_out_of_court_decision_by_group_charges_the_rest():
    """Keyed draws, so the same cases face the same matrix: White children's decisions do
    not move, and a Black child's case goes out of court with the group's chance of what
    it would have been, the rest charged (kind -1); nothing charged before is now kept
    out of court."""
    sc = _baseline(small(population=20_000))
    equal, eth = _out_of_court_kinds(sc, (1.0,) * 5)
    lowered, _ = _out_of_court_kinds(sc, (1.0, 0.5, 1.0, 1.0, 1.0))
    white, black = eth == WHITE, eth == BLACK
    np.testing.assert_array_equal(lowered[white], equal[white])
    out_before = black & (equal >= 0)
    assert out_before.sum() > 300
    assert (lowered[black & (equal < 0)] < 0).all()
    kept = lowered[out_before] >= 0
    np.testing.assert_array_equal(lowered[out_before][kept], equal[out_before][kept])
    assert kept.mean() == pytest.approx(0.5, abs=0.08)


def test_gang_listing_odds_ratio_of_one_removes_its_disproportion():
    """Without interventions the gangs list changes nothing else, so paired runs differ in
    the listing decision only: White children are listed alike, and the Black children
    listed with equal odds are a subset of those listed with raised odds."""
    sc = _baseline(small(years=2, burn_in=1, seed=3))
    sc = _with(sc, "gangs", member_share=0.03)  # enough members in a small borough
    raised = run(_with(sc, "justice", gang_listing_odds_by_group=(1.0, 4.0, 1.0, 1.0, 1.0)))
    equal = run(_with(sc, "justice", gang_listing_odds_by_group=(1.0,) * 5))
    for model in (raised, equal):
        listed = np.flatnonzero(~np.isnan(model.people.gang_listed_week))
        assert listed.size > 20
        assert (model.people.n_arrests[listed] > 0).all()  # listed at an arrest
    eth = raised.people.ethnic
    r = ~np.isnan(raised.people.gang_listed_week)
    e = ~np.isnan(equal.people.gang_listed_week)
    np.testing.assert_array_equal(r & (eth == WHITE), e & (eth == WHITE))
    black_e, black_r = e & (eth == BLACK), r & (eth == BLACK)
    assert (black_r | ~black_e).all()  # subset
    assert black_r.sum() > black_e.sum()
    s_r, s_e = summarise(raised), summarise(equal)
    listing_r = s_r["relative_rate_index"]["gang_listing"]["Black"]
    listing_e = s_e["relative_rate_index"]["gang_listing"]["Black"]
    assert listing_r > listing_e


def test_no_one_is_listed_when_listing_is_off():
    sc = _with(
        small(years=1, burn_in=1),
        "justice",
        gang_listing_probability=0.0,
        gang_associate_listing_probability=0.0,
    )
    m = run(sc)
    assert np.isnan(m.people.gang_listed_week).all()


def test_listing_probability_multiplies_the_odds():
    base = np.array([0.0, 0.5, 0.2, 1.0])
    got = listing_probability(base, np.array([3.0, 3.0, 1.0, 0.5]))
    np.testing.assert_allclose(got, [0.0, 0.75, 0.2, 1.0])


# -- relative rate indices with intervals ------------------------------------------------
def test_disproportionality_intervals_cover_a_known_ratio():
    counts = {
        "arrest": {"White": 100, "Black": 200},
        "formal_disposal": {"White": 50, "Black": 100},
        "custody": {"White": 5, "Black": 10},
    }
    out = metrics.disproportionality(counts, {"White": 1000.0, "Black": 1000.0}, seed=1)
    rri, spread = out["relative_rate_index"], out["relative_rate_index_interval"]
    assert rri["arrest"]["Black"] == pytest.approx(2.0)
    assert rri["formal_disposal"]["Black"] == pytest.approx(1.0)  # half of arrests, each
    per_head = out["relative_rate_index_per_population"]
    assert per_head["formal_disposal"]["Black"] == pytest.approx(2.0)
    arrest = spread["arrest"]["Black"]
    assert 1.0 < arrest["low"] < 2.0 < arrest["high"] < 3.0
    assert spread["arrest"]["White"] == {"low": 1.0, "high": 1.0}
    custody = spread["custody"]["Black"]
    assert custody["high"] - custody["low"] > arrest["high"] - arrest["low"]  # fewer events


def test_summary_has_every_stage_with_intervals():
    s = summarise(run(small(years=1, burn_in=1)))
    for key in ("relative_rate_index", "relative_rate_index_per_population"):
        assert set(s[key]) == set(metrics.DISPROPORTIONALITY_STAGES)
        for stage, by_group in s[key].items():
            assert set(by_group) == set(ETHNIC_GROUPS)
            assert by_group["White"] in (1.0, None)  # None: no White child at the stage
            spread = s[f"{key}_interval"][stage]
            for g, value in by_group.items():
                if value is not None and spread[g]["low"] is not None:
                    assert spread[g]["low"] <= spread[g]["high"]
    assert s["relative_rate_index"]["arrest"]["White"] == 1.0
    black = s["relative_rate_index_interval"]["arrest"]["Black"]
    assert black["low"] < s["relative_rate_index"]["arrest"]["Black"] < black["high"]


def test_the_remand_stage_counts_each_child_remanded_to_youth_detention_once():
    """The summary's remand stage is the distinct children of each group whose charged
    youth case, heard in the measured years, was remanded to youth detention (counted
    here afresh from the case book), and it follows the court's odds by group."""

    sc = _baseline(small(years=2, burn_in=1, seed=4))
    sc = _with(
        sc,
        "justice",
        remand_detention_intercept=-1.0,  # enough remands in a small borough
        remand_detention_odds_ratio=(1.0, 10.0, 1.0, 1.0, 1.0),
    )
    m = run(sc)
    s = summarise(m)
    c = m.police.book.cases
    start, end = m.burn_in_weeks, m.burn_in_weeks + m.measured_weeks
    expected = dict.fromkeys(ETHNIC_GROUPS, 0)
    seen = set()
    for i in range(c.n):
        if (
            start <= c["due_week"][i] < end
            and c["charged"][i]
            and not c["adult"][i]
            and c["remand"][i] == REMAND["youth_detention"]
            and int(c["person"][i]) not in seen
        ):
            seen.add(int(c["person"][i]))
            expected[ETHNIC_GROUPS[m.people.ethnic[c["person"][i]]]] += 1
    assert sum(expected.values()) > 20
    assert dict(metrics.remanded_children_by_group(c, m.people.ethnic, start, end)) == expected
    # Ten times the odds: Black children arrested are remanded more often than White.
    assert s["relative_rate_index"]["remand_detention"]["Black"] > 1.5
