"""Property-based invariants over random seeds and borough shapes (hypothesis)."""

from __future__ import annotations

import math

import numpy as np
from conftest import small
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sim.model import YouthJusticeModel
from sim.summary import summarise

PROPS = settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _rates(summary: dict):
    """Every value in the summary that is a rate (0-1)."""
    yield summary["proven_reoffending_rate"]
    for key in (
        "reoffending_rate_by_previous_offences",
        "reoffending_rate_by_index_disposal",
        "reoffending_rate_by_age",
        "reoffending_rate_by_sex",
        "reoffending_rate_by_ethnic_group",
        "offending_rate_by_age",
    ):
        yield from summary[key].values()


@PROPS
@given(seed=st.integers(0, 2**31), population=st.integers(800, 2500))
def test_rates_in_unit_interval_and_records_consistent(seed, population):
    m = YouthJusticeModel(scenario=small(seed=seed, population=population, years=1, burn_in=0))
    m.run()
    s = summarise(m)
    for r in _rates(s):
        assert r is None or (0.0 <= r <= 1.0 and not math.isnan(r))
    assert s["proven_offences_per_year"] <= s["true_offences_per_year"]
    assert s["children_cautioned_or_sentenced_per_year"] <= s["population_10_17"]
    off = m.events.offences
    proven = ~np.isnan(off["proven_week"])
    assert np.all(off["detected"][proven]) and np.all(
        off["proven_week"][proven] >= off["week"][proven]
    )
    # Every disposal's person had a detected offence at or before it.
    d = m.events.disposals
    first_detected = np.full(m.people.n, np.inf)
    det = off["detected"]
    np.minimum.at(first_detected, off["person"][det], off["week"][det])
    assert np.all(first_detected[d["person"]] <= d["week"])


@PROPS
@given(seed=st.integers(0, 2**31), weeks=st.integers(40, 120))
def test_people_conserved_and_windows_valid(seed, weeks):
    sc = small(seed=seed, population=1200, years=3, burn_in=0)
    m = YouthJusticeModel(scenario=sc)
    n0 = m.people.n
    for _ in range(weeks):
        m.step()
    septembers = (weeks - 1) // 52
    assert m.people.n == n0 + septembers * sc.population.cohort_size
    assert 0 <= m.people.lo <= m.people.n
    age = m.people.age(m.week - 1)  # the week just simulated
    assert np.all((age >= 9) & (age < 21))
    ids = m.events.offences["person"]
    assert np.all(ids < m.people.n)
    in_c = m.people.in_custody(m.week - 1)
    assert not np.any(in_c & m.people.at_school(m.week - 1))
    assert m.yos.caseload >= 0


@settings(max_examples=200, deadline=None)
@given(
    gaps=st.lists(st.integers(0, 3), max_size=60),
    week=st.integers(-200, 400),
)
def test_property_first_row_of_week_bisects_the_week_ordered_log(gaps, week):
    """A table appended week by week: its first row of ``week`` or later is the count of
    rows before that week, as a bisection in int64 (or a scan) gives it."""
    from sim.events import Table

    table = Table({"week": "i4", "person": "i8"}, capacity=4)
    weeks = np.cumsum(gaps, dtype=np.int64) + 5  # week order, repeats allowed
    for w in weeks:
        table.append(week=np.array([w]), person=np.array([0]))
    expected = int((weeks < week).sum())
    assert table.first_row_of_week(week) == expected
    assert expected == int(np.searchsorted(weeks, week, side="left"))
