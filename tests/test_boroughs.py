"""Areas of several boroughs (London): population split, cross-borough ties, outputs by borough."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import small

from sim import metrics
from sim.calendar import DAYS_PER_WEEK
from sim.model import YouthJusticeModel
from sim.population import BoroughSpec
from sim.summary import people_frame, summarise

BOROUGHS = [
    BoroughSpec(name="North", population_10_17=1600, wards=3, secondary_schools=2),
    BoroughSpec(name="East", population_10_17=800, wards=2, secondary_schools=1, deprivation=1),
    BoroughSpec(name="South", population_10_17=1200, wards=3, secondary_schools=2),
]


@pytest.fixture(scope="module")
def area() -> YouthJusticeModel:
    sc = small(years=2, burn_in=1)
    sc = sc.model_copy(
        update={
            "population": sc.population.model_copy(update={"boroughs": BOROUGHS}),
            "interventions": {},
        }
    )
    m = YouthJusticeModel(scenario=sc)
    m.run()
    return m


def test_population_is_split_by_borough_sizes_and_schools_stay_in_borough(area):
    ppl, geo = area.people, area.geography
    live = np.arange(ppl.lo, ppl.n)
    counts = np.bincount(ppl.borough[live], minlength=3)
    expected = np.array([b.population_10_17 for b in BOROUGHS]) / 8
    assert np.allclose(counts / counts.sum(), expected / expected.sum(), atol=0.01)
    assert np.all(geo.ward_borough[ppl.ward[live]] == ppl.borough[live])
    mainstream = live[ppl.school[live] < geo.n_mainstream]
    assert np.all(geo.school_borough[ppl.school[mainstream]] == ppl.borough[mainstream])
    pru = live[ppl.school[live] >= geo.n_mainstream]
    assert np.all(ppl.school[pru] - geo.n_mainstream == ppl.borough[pru])


def test_friendships_cross_borough_lines_but_neighbourhoods_do_not(area):
    b = area.people.borough
    friends = area.network.edges["friendship"]
    across = b[friends[:, 0]] != b[friends[:, 1]]
    assert 0 < across.mean() < 0.2
    nb = area.network.edges["neighbourhood"]
    assert np.all(b[nb[:, 0]] == b[nb[:, 1]])


def test_outputs_by_borough_add_up_to_the_area(area):
    s = summarise(area)
    rows = s["by_borough"]
    assert list(rows) == ["North", "East", "South"]
    for key in (
        "children_cautioned_or_sentenced_per_year",
        "first_time_entrants_per_year",
        "true_offences_per_year",
        "proven_offences_per_year",
        "population_10_17",
    ):
        total = sum(r[key] for r in rows.values())
        assert total == pytest.approx(s[key], rel=1e-9), key


def test_borough_reoffending_equals_the_measure_on_that_borough_alone(area):
    people = people_frame(area)
    offences = area.events.offences_frame()
    disposals = area.events.disposals_frame()
    releases = area.events.releases_frame()
    start = area.burn_in_weeks * 7
    end = start + area.measured_weeks * 7
    mine = people[people["borough"] == 0]
    ids = mine["person"].to_numpy()
    alone = metrics.proven_reoffending(
        mine,
        offences[offences["person"].isin(ids)],
        disposals[disposals["person"].isin(ids)],
        releases[releases["person"].isin(ids)],
        start,
        end,
    )
    got = summarise(area)["by_borough"]["North"]["proven_reoffending_rate"]
    assert alone.cohort_size > 5
    assert got == pytest.approx(alone.rate)


def test_entrenchment_counts_each_index_members_offences_before_it(area):
    """The cohort's true offences before index: each index event's own count, by brute force."""
    s = summarise(area)["reoffending_cohort_true_offences_before_index"]
    start = area.burn_in_weeks * DAYS_PER_WEEK
    end = start + area.measured_weeks * DAYS_PER_WEEK
    ev = area.events
    cohort = metrics.proven_reoffending(
        people_frame(area),
        ev.offences_frame(),
        ev.disposals_frame(),
        ev.releases_frame(),
        start,
        end,
    ).cohort
    assert len(cohort) > 10
    person, day = ev.offences["person"], ev.offences["week"].astype(np.int64) * DAYS_PER_WEEK
    pairs = zip(cohort["person"], cohort["index_day"], strict=True)
    counts = np.array([np.sum((person == p) & (day < d)) for p, d in pairs])  # a small cohort
    assert s == {"mean": float(counts.mean()), "median": float(np.median(counts))}


def test_tally_youth_counts_kept_from_week_to_week_equal_a_fresh_count():
    """The counts of 10-17s by group and borough, moved on with the window, are each
    week's fresh count (also after a jump back, as a new window gives)."""
    sc = small(years=2, burn_in=0)
    sc = sc.model_copy(
        update={"population": sc.population.model_copy(update={"boroughs": BOROUGHS})}
    )
    m = YouthJusticeModel(scenario=sc)
    for _ in range(60):  # measured weeks, past a September
        m.step()
        youth = m.tally.youth
        assert youth.stop > youth.start
        ppl = m.people
        want_g = np.bincount(ppl.ethnic[youth], minlength=m.tally.youth_by_group.size)
        want_b = np.bincount(ppl.borough[youth], minlength=len(BOROUGHS))
        np.testing.assert_array_equal(m.tally.youth_by_group, want_g)
        np.testing.assert_array_equal(m.tally.youth_by_borough, want_b)
    back = slice(youth.start - 5, youth.stop - 5)
    m.tally.count_youth(ppl.ethnic, ppl.borough, back)
    np.testing.assert_array_equal(
        m.tally.youth_by_borough, np.bincount(ppl.borough[back], minlength=3)
    )
