"""Safer Schools officers: safer pupils, and more of their minor offences detected and more of
them excluded, more so for some groups."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import assert_no_trace, run, small, with_intervention

from sim.calendar import SEPTEMBER_WEEK, TERM, WEEKS_PER_YEAR
from sim.interventions.schools_officers import MINOR, SchoolsOfficers
from sim.model import YouthJusticeModel
from sim.population import ETHNIC_GROUPS

NAME = "schools_officers"
POPULATION, YEARS, SEED = 3000, 2, 3


def _run(on: SchoolsOfficers.Params | None, *, keep_others: bool = False) -> YouthJusticeModel:
    """A small borough with officers as given (None: without them); others kept if asked."""
    sc = small(population=POPULATION, years=YEARS, seed=SEED)
    return run(with_intervention(sc, NAME, on, keep_others))


def _pupil_in_term(model: YouthJusticeModel, persons: np.ndarray, weeks: np.ndarray):
    """Measured term weeks, and the person of school age on a school's roll then."""
    ppl = model.people
    start, end = model.burn_in_weeks, model.burn_in_weeks + model.measured_weeks
    term = TERM[(SEPTEMBER_WEEK + weeks) % WEEKS_PER_YEAR]
    age = (weeks - ppl.birth_week[persons]) / WEEKS_PER_YEAR
    return (weeks >= start) & (weeks < end) & term & (age < 16) & (ppl.school[persons] >= 0)


def _detected_minor_by_pupils(model: YouthJusticeModel) -> int:
    off = model.events.offences
    mask = _pupil_in_term(model, off["person"], off["week"]) & (off["type"] == MINOR)
    return int((mask & off["detected"]).sum())


def _pupil_victimisation_rate(model: YouthJusticeModel) -> float:
    """Term-time victimisations of pupils per offence against the person in the same weeks.

    Per offence, so that the comparison is not decided by how much offending there
    happens to be in each run (victims are drawn per violent or robbery offence).
    """
    v, off = model.events.victimisations, model.events.offences
    victimised = _pupil_in_term(model, v["person"], v["week"]).sum()
    start, end = model.burn_in_weeks, model.burn_in_weeks + model.measured_weeks
    weeks = off["week"]
    term = TERM[(SEPTEMBER_WEEK + weeks) % WEEKS_PER_YEAR]
    against_person = np.isin(off["type"], (2, 3)) & term & (weeks >= start) & (weeks < end)
    return victimised / max(int(against_person.sum()), 1)


@pytest.fixture(scope="module")
def paired() -> tuple[YouthJusticeModel, YouthJusticeModel]:
    """The same borough and seed without and with 16 officers (common random numbers).

    The detection multiplier is set high so that the few minor offences a small
    borough's pupils have detected in two years show the direction clearly.
    """
    return _run(None), _run(SchoolsOfficers.Params(officers=16, minor_detection_multiplier=4))


def test_officers_detect_more_minor_offences_of_pupils_and_prevent_victimisation(paired):
    off, on = paired
    assert _detected_minor_by_pupils(on) > _detected_minor_by_pupils(off)
    assert _pupil_victimisation_rate(on) < _pupil_victimisation_rate(off)
    out = on.interventions.items[0].outputs(YEARS)
    assert out["victimisations_prevented"] > 0
    assert out["truancy_resolved"] > 0 and out["referrals"] > 0
    assert out["cost_per_year_gbp"] == pytest.approx(16 * 60_000)


def test_officers_go_to_the_highest_priority_schools_first():
    sc = small(population=POPULATION, years=1, burn_in=0, seed=SEED)
    params = SchoolsOfficers.Params(officers=2)
    m = YouthJusticeModel(scenario=sc.model_copy(update={"interventions": {NAME: params}}))
    m.step()
    item = m.interventions.items[0]
    covered = item.officers_at > 0
    assert item.officers_at.sum() == 2 and covered.sum() == 2
    assert item.priority[covered].min() >= item.priority[~covered].max()
    # More officers than schools: every school gets one before any gets two.
    many = SchoolsOfficers.Params(officers=int(item.officers_at.size) + 1)
    m = YouthJusticeModel(scenario=sc.model_copy(update={"interventions": {NAME: many}}))
    m.step()
    counts = m.interventions.items[0].officers_at
    assert counts.min() >= 1 and counts.sum() == many.officers


def test_no_officers_changes_nothing():
    base = _run(None, keep_others=True)
    idle = _run(SchoolsOfficers.Params(officers=0), keep_others=True)
    item = next(i for i in idle.interventions if i.name == NAME)
    assert item.outputs(YEARS)["reach"] == 0
    assert_no_trace(NAME, idle, base)


# -- what officers do beside what they may prevent (issue 18) ------------------------------
BLACK = ETHNIC_GROUPS.index("Black")
WHITE = ETHNIC_GROUPS.index("White")


def _term_model(params: SchoolsOfficers.Params) -> YouthJusticeModel:
    """A small borough with only these officers, stepped into a term week (allocated)."""
    sc = small(population=POPULATION, years=1, burn_in=0, seed=SEED)
    m = YouthJusticeModel(scenario=sc.model_copy(update={"interventions": {NAME: params}}))
    m.step()
    while not m.calendar.term:
        m.step()
    return m


def test_officers_exclude_more_pupils_of_their_schools_more_so_by_group():
    """Each covered pupil's extra exclusion chance is q x (ratio**dose - 1) x excess."""
    params = SchoolsOfficers.Params(
        officers=3, exclusion_rate_ratio=2.0, excess_by_group=(1.0, 3.0, 1.0, 1.0, 1.0)
    )
    m = _term_model(params)
    item, ppl, live = m.interventions.items[0], m.people, m.people.live
    q = 0.05  # a pupil's own weekly chance, raised so that one week has enough exclusions
    m.schools.exclusion_probability = lambda idx: np.full(idx.size, q)
    ids = np.arange(live.start, live.stop)
    candidates = ids[ppl.at_school_of(ids, m.week) & ~ppl.excluded[ids]]
    dose = item._pupil_dose(candidates, m.week)
    assert (dose > 0).any() and (dose == 0).any()  # covered and uncovered schools
    expected = q * (2.0**dose - 1) * np.where(ppl.ethnic[candidates] == BLACK, 3.0, 1.0)
    m.week_counts["exclusions"] = 0
    item._exclude(m.week)
    out = candidates[ppl.excluded[candidates]]
    assert out.size == m.week_counts["exclusions"] > 0
    assert (ppl.school[out] == ppl.pru_of(out)).all()  # now on the pupil referral unit's roll
    assert np.isin(out, candidates[dose > 0]).all()  # only pupils of covered schools
    for group in (WHITE, BLACK):
        mine = ppl.ethnic[candidates] == group
        n, e = int(np.isin(candidates[mine], out).sum()), expected[mine]
        assert abs(n - e.sum()) < 4 * np.sqrt((e * (1 - e)).sum()) + 1, (group, n, e.sum())


def test_officers_detect_black_pupils_minor_offences_more_by_their_excess():
    params = SchoolsOfficers.Params(officers=3, excess_by_group=(1.0, 2.0, 1.0, 1.0, 1.0))
    m = _term_model(params)
    item, off, ppl = m.interventions.items[0], m.events.offences, m.people
    persons = np.arange(ppl.lo, ppl.n)
    columns = {name: np.zeros(persons.size, dtype=dt) for name, dt in off.columns.items()}
    columns.update(person=persons, type=MINOR, gravity=1, co_group=-1, case=-1, disposal=-1)
    columns["proven_week"] = np.nan
    ids = off.append(**columns)
    prob = np.full(ids.size, 0.1)
    extra = item.adjust_detection(ids, prob, m.week) / prob - 1
    dose = item._pupil_dose(persons, m.week)
    base = params.in_school_offence_share * (params.minor_detection_multiplier - 1) * dose
    eth = ppl.ethnic[persons]
    np.testing.assert_allclose(extra[eth == WHITE], base[eth == WHITE])
    np.testing.assert_allclose(extra[eth == BLACK], 2 * base[eth == BLACK])
    assert (extra[eth == BLACK] > 0).any()


def test_white_is_the_reference_of_the_officers_excess():
    with pytest.raises(ValueError, match="White is the reference"):
        SchoolsOfficers.Params(excess_by_group=(2.0, 1.0, 1.0, 1.0, 1.0))
