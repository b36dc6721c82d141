"""Kickz: sites in targeted wards, registers within capacity, attendance lowers risk."""

from __future__ import annotations

import numpy as np
from conftest import assert_no_trace, run, small, two_boroughs, with_intervention

from sim.calendar import WEEKS_PER_YEAR
from sim.interventions.kickz import Kickz, KickzParams
from sim.model import YouthJusticeModel

NAME = "kickz"
# A strong dose (attending removes the whole week's risk) so that the direct
# effect stands out of the divergence a single changed offence sets off.
FULL_DOSE = {"effect": 1.0, "session_evening_risk_share": 1.0, "sessions_attended_share": 1.0}


def _scenario(params: KickzParams | None, seed: int = 7, keep_others: bool = False):
    return with_intervention(small(seed=seed), NAME, params, keep_others)


def _run(params: KickzParams | None, seed: int = 7, keep_others: bool = False) -> YouthJusticeModel:
    return run(_scenario(params, seed, keep_others))


def _kickz(m: YouthJusticeModel) -> Kickz:
    return next(i for i in m.interventions if i.name == NAME)


def _offences_in(m: YouthJusticeModel, persons: np.ndarray, weeks: np.ndarray) -> int:
    """Offences committed by ``persons[k]`` in week ``weeks[k]``, for any k."""
    off = m.events.offences
    key = off["person"].astype(np.int64) * 100_000 + off["week"]
    return int(np.isin(key, persons.astype(np.int64) * 100_000 + weeks).sum())


def test_attendees_offend_less_in_the_weeks_they_attend():
    on_total = off_total = 0
    for seed in (7, 8):
        on = _run(KickzParams(**FULL_DOSE), seed)
        off = _run(None, seed)
        log = _kickz(on).attendance
        assert log.n > 1000, "the test needs attendances to mean anything"
        on_total += _offences_in(on, log["person"], log["week"])
        off_total += _offences_in(off, log["person"], log["week"])
    assert on_total < 0.5 * off_total, (on_total, off_total)


def test_targeted_wards_offend_less_with_sessions():
    on = _run(KickzParams(**FULL_DOSE))
    off = _run(None)
    wards = _kickz(on).site_wards
    counts = []
    for m in (on, off):
        o = m.events.offences
        counts.append(int(np.isin(m.people.ward[o["person"]], wards).sum()))
    assert counts[0] < 0.9 * counts[1], counts


def test_default_effect_is_modest():
    p = KickzParams()
    cut = p.session_evening_risk_share * p.sessions_attended_share * p.effect
    assert 0 < cut <= 0.15  # weak evidence (no control group): at most 15% of a week's risk


def test_sites_registers_and_attendance_follow_the_rules():
    p = KickzParams(targeting="deprivation", site_capacity=40)
    m = YouthJusticeModel(scenario=_scenario(p))
    k = _kickz(m)
    session_weeks = 0
    for _ in range(WEEKS_PER_YEAR + 10):
        m.step()
        week = m.week - 1
        ppl = m.people
        # Sites in the most deprived wards.
        assert set(k.site_wards) == set(np.argsort(-m.geography.ward_deprivation)[: p.sites])
        # Registers within capacity, of the right age and ward, nobody twice.
        members = k.members
        assert np.unique(members).size == members.size
        per_site = np.bincount(np.searchsorted(k.site_wards, ppl.ward[members]), minlength=p.sites)
        assert per_site.max(initial=0) <= p.site_capacity
        assert np.isin(ppl.ward[members], k.site_wards).all()
        age = (week - ppl.birth_week[members]) / WEEKS_PER_YEAR
        assert (age >= p.min_age).all() and (age < p.max_age).all()
        # Attenders are on a register and get the multiplier.
        came = k.attended_last
        assert np.isin(came, members).all()
        session_weeks += bool(k.session_week[m.calendar.week_of_year])
        if came.size:
            cut = p.session_evening_risk_share * p.sessions_attended_share * p.effect
            assert np.all(m.offending.hazard_multiplier[came] <= 1 - cut + 1e-12)
    assert k.session_week.sum() == p.weeks_per_year
    assert k.reached.sum() > 0 and k.caseload > 0


def test_offending_targeting_picks_the_wards_with_most_offending():
    m = YouthJusticeModel(scenario=_scenario(KickzParams(targeting="offending", sites=1)))
    for _ in range(WEEKS_PER_YEAR + 1):  # to the first September, when sites are re-placed
        m.step()
    off = m.events.offences
    recent = off["week"] >= m.week - 1 - WEEKS_PER_YEAR
    by_ward = np.bincount(m.people.ward[off["person"][recent]], minlength=6)
    assert _kickz(m).site_wards.tolist() == [int(np.argmax(by_ward))]


def test_no_sites_leaves_results_bit_identical():
    on = _run(KickzParams(sites=0), keep_others=True)
    off = _run(None, keep_others=True)
    assert_no_trace(NAME, on, off)


def test_cost_counts_only_measured_session_weeks():
    p = KickzParams(sites=2)
    m = _run(p)
    years = m.measured_weeks / WEEKS_PER_YEAR
    expected = 2 * p.cost_per_site_per_year  # sessions every session week of the year
    assert abs(_kickz(m).outputs(years)["cost_per_year_gbp"] - expected) < 1e-6 * expected


def test_each_borough_has_its_own_sites():
    p = KickzParams(sites=2)
    m = YouthJusticeModel(scenario=two_boroughs(_scenario(p)))
    for _ in range(30):
        m.step()
    k = _kickz(m)
    borough = m.geography.ward_borough
    for b in (0, 1):
        wards = np.flatnonzero(borough == b)
        best = wards[np.argsort(-m.geography.ward_deprivation[wards])[: p.sites]]
        assert set(k.site_wards[borough[k.site_wards] == b]) == set(best)
    assert np.unique(m.people.borough[k.members]).tolist() == [0, 1]
