"""Edge cases of the official measures, pinned on tiny hand-built event histories."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sim.events import KIND, OFFENCE_TYPE, EventLog
from sim.metrics import (
    DAYS_PER_YEAR,
    FIRST_REOFFENCE_QUARTERS,
    FORMAL_KINDS,
    INDEX_DISPOSAL_KINDS,
    INDEX_KINDS,
    PREVIOUS_OFFENCE_BANDS,
    QUARTER_COHORT_DAYS,
    attrition,
    by_person,
    children_cautioned_or_sentenced,
    co_offending,
    disposal_mix,
    disposals_per_year,
    first_time_entrants,
    offending_frequency,
    offending_prevalence,
    offending_rate_by_age,
    onset_and_persistence,
    per_100k,
    previous_offence_band,
    proven_reoffending,
    relative_rate_index,
    stage_children,
    time_to_first_reoffence,
    true_and_proven_offences,
)

# Born so that people are 14 at day 0 and turn 18 around day 1461 (4 * 365.25).
BIRTH_14 = -14 * 365.25
ALL_KINDS = (*FORMAL_KINDS, "nfa", "diversion", "community_resolution")


# --- builders ------------------------------------------------------------------------------


def people_df(*rows: tuple) -> pd.DataFrame:
    """rows: (person, birth_day[, sex[, ethnic_group]])."""
    full = [
        (r[0], r[2] if len(r) > 2 else "M", r[3] if len(r) > 3 else "White", r[1]) for r in rows
    ]
    df = pd.DataFrame(full, columns=["person", "sex", "ethnic_group", "birth_day"])
    df["birth_day"] = np.floor(df["birth_day"]).astype(np.int64)
    return df


def offences_df(*rows: tuple) -> pd.DataFrame:
    """rows: (person, day, proven_day or None, disposal[, detected])."""
    records = []
    for r in rows:
        person, day, proven, disposal = r[:4]
        detected = r[4] if len(r) > 4 else proven is not None
        records.append(
            {
                "person": person,
                "day": day,
                "type": "theft",
                "gravity": 3,
                "detected": detected,
                "proven_day": np.nan if proven is None else float(proven),
                "disposal": disposal,
            }
        )
    cols = ["person", "day", "type", "gravity", "detected", "proven_day", "disposal"]
    df = pd.DataFrame(records, columns=cols)
    return df.astype({"person": "int64", "day": "int64", "detected": bool, "proven_day": float})


def disposals_df(*rows: tuple) -> pd.DataFrame:
    """rows: (person, day, kind[, adult])."""
    full = [(r[0], r[1], r[2], r[3] if len(r) > 3 else False) for r in rows]
    df = pd.DataFrame(full, columns=["person", "day", "kind", "adult"])
    return df.astype({"person": "int64", "day": "int64", "adult": bool})


def releases_df(*rows: tuple) -> pd.DataFrame:
    """rows: (person, day)."""
    return pd.DataFrame(list(rows), columns=["person", "day"]).astype("int64")


def cohort_row(result, person: int) -> pd.Series:
    rows = result.cohort.loc[result.cohort["person"] == person]
    assert len(rows) == 1, f"person {person} should be in the cohort once"
    return rows.iloc[0]


def run(people, offences, disposals, releases=None, start=0, end=365, **kw):
    releases = releases_df() if releases is None else releases
    return proven_reoffending(people, offences, disposals, releases, start, end, **kw)


# --- follow-up and waiting periods ----------------------------------------------------------


def test_offence_on_last_follow_up_day_counts_and_day_after_does_not():
    people = people_df((1, BIRTH_14), (2, BIRTH_14))
    disposals = disposals_df((1, 100, "youth_caution"), (2, 100, "youth_caution"))
    offences = offences_df(
        (1, 465, 500, "referral_order"),  # index + 365: counts
        (2, 466, 500, "referral_order"),  # index + 366: too late
    )
    result = run(people, offences, disposals)
    assert cohort_row(result, 1)["reoffences"] == 1
    assert bool(cohort_row(result, 1)["reoffended"])
    assert cohort_row(result, 2)["reoffences"] == 0
    assert not bool(cohort_row(result, 2)["reoffended"])
    assert result.rate == 0.5


def test_reoffence_must_be_proven_within_waiting_period():
    people = people_df((1, BIRTH_14), (2, BIRTH_14), (3, BIRTH_14))
    disposals = disposals_df(
        (1, 100, "referral_order"), (2, 100, "referral_order"), (3, 100, "referral_order")
    )
    offences = offences_df(
        (1, 200, 648, "youth_caution"),  # proven on index + 365 + 183: counts
        (2, 200, 649, "youth_caution"),  # one day later: does not
        (3, 200, None, "", True),  # detected but never proven
    )
    result = run(people, offences, disposals)
    assert cohort_row(result, 1)["reoffences"] == 1
    assert cohort_row(result, 2)["reoffences"] == 0
    assert cohort_row(result, 3)["reoffences"] == 0


def test_offence_on_index_day_is_not_a_reoffence_nor_previous():
    people = people_df((1, BIRTH_14))
    disposals = disposals_df((1, 100, "youth_conditional_caution"))
    offences = offences_df(
        (1, 100, 130, "referral_order"),  # committed on the index day
        (1, 50, 100, "youth_conditional_caution"),  # the index offence, proven on index day
    )
    row = cohort_row(run(people, offences, disposals), 1)
    assert row["reoffences"] == 0
    assert row["previous_offences"] == 0
    assert row["previous_band"] == "0"


# --- index events ---------------------------------------------------------------------------


def test_custody_release_is_the_index_not_the_sentence():
    people = people_df((1, BIRTH_14), (2, BIRTH_14))
    disposals = disposals_df((1, 100, "custody"), (2, 100, "custody"))
    releases = releases_df((1, 200), (2, 400))  # person 2 released after the window
    offences = offences_df(
        (1, 150, 190, "custody"),  # committed in custody before release: not a reoffence
        (1, 300, 320, "youth_rehabilitation_order"),
    )
    result = run(people, offences, disposals, releases, start=0, end=365)
    row = cohort_row(result, 1)
    assert row["index_day"] == 200
    assert row["index_kind"] == "custody"
    assert row["reoffences"] == 1
    assert row["previous_offences"] == 1  # the offence proven at day 190
    assert 2 not in set(result.cohort["person"])
    assert result.cohort_size == 1


def test_index_is_first_event_in_window_not_before_it():
    people = people_df((1, BIRTH_14))
    disposals = disposals_df(
        (1, -50, "youth_caution"),  # before the window
        (1, 30, "referral_order"),
        (1, 60, "youth_rehabilitation_order"),
    )
    offences = offences_df(
        (1, -60, -50, "youth_caution"),
        (1, 10, 30, "referral_order"),  # the index offence
        (1, 40, 60, "youth_rehabilitation_order"),  # committed after index: a reoffence
    )
    row = cohort_row(run(people, offences, disposals), 1)
    assert row["index_day"] == 30
    assert row["index_kind"] == "referral_order"
    assert row["previous_offences"] == 1
    assert row["previous_band"] == "1-2"
    assert row["reoffences"] == 1


def test_a_child_is_indexed_once_in_each_annual_cohort():
    """Regression: one cohort over the whole window kept only each child's first index
    event, so a 10-year run read about 5 points lower reoffending than a 3-year run."""
    people = people_df((1, BIRTH_14))
    disposals = disposals_df(
        (1, 30, "youth_caution"),
        (1, 100, "referral_order"),  # same cohort year: not a second index
        (1, 400, "youth_rehabilitation_order"),  # the next year's cohort
    )
    offences = offences_df(
        (1, 10, 30, "youth_caution"),
        (1, 90, 100, "referral_order"),
        (1, 380, 400, "youth_rehabilitation_order"),
    )
    result = run(people, offences, disposals, end=2 * 364)
    cohort = result.cohort.set_index("index_day")
    assert list(cohort.index) == [30, 400]
    assert cohort.loc[30, "reoffences"] == 2 and cohort.loc[30, "previous_offences"] == 0
    assert cohort.loc[400, "reoffences"] == 0 and cohort.loc[400, "previous_offences"] == 2
    assert result.cohort_size == 2 and result.rate == 0.5


def test_three_month_cohorts_index_a_child_once_a_quarter():
    """The MoJ's measure since October 2017: a child with index events in two quarters
    of one year is in both quarterly cohorts, but only once in the annual one."""
    people = people_df((1, BIRTH_14))
    disposals = disposals_df(
        (1, 30, "youth_caution"),
        (1, 60, "referral_order"),  # same quarter: not a second index
        (1, 100, "youth_rehabilitation_order"),  # the next quarter's cohort
    )
    offences = offences_df(
        (1, 10, 30, "youth_caution"),
        (1, 50, 60, "referral_order"),
        (1, 90, 100, "youth_rehabilitation_order"),
    )
    annual = run(people, offences, disposals, end=364)
    quarterly = run(people, offences, disposals, end=364, cohort_days=QUARTER_COHORT_DAYS)
    assert list(annual.cohort["index_day"]) == [30]
    assert list(quarterly.cohort["index_day"]) == [30, 100]
    assert quarterly.cohort.set_index("index_day").loc[30, "reoffences"] == 2
    assert quarterly.rate == 0.5 and annual.rate == 1.0


def test_same_day_index_events_keep_the_most_serious():
    people = people_df((1, BIRTH_14))
    disposals = disposals_df((1, 30, "youth_caution"), (1, 30, "youth_rehabilitation_order"))
    row = cohort_row(run(people, offences_df(), disposals), 1)
    assert row["index_kind"] == "youth_rehabilitation_order"


def test_index_window_is_half_open():
    people = people_df((1, BIRTH_14), (2, BIRTH_14))
    disposals = disposals_df((1, 0, "youth_caution"), (2, 365, "youth_caution"))
    result = run(people, offences_df(), disposals, start=0, end=365)
    assert list(result.cohort["person"]) == [1]


def test_informal_outcomes_are_neither_index_events_nor_reoffences():
    people = people_df((1, BIRTH_14), (2, BIRTH_14))
    disposals = disposals_df(
        (1, 10, "triage"),
        (1, 20, "community_resolution"),
        (1, 30, "nfa"),
        (2, 10, "youth_caution"),
    )
    offences = offences_df(
        (2, 50, 60, "community_resolution"),
        (2, 70, 80, "triage"),
        (2, 90, 100, "nfa"),
        (2, 5, 8, "community_resolution"),  # informal before index: not a previous offence
    )
    result = run(people, offences, disposals)
    assert list(result.cohort["person"]) == [2]
    row = cohort_row(result, 2)
    assert row["reoffences"] == 0
    assert row["previous_offences"] == 0


# --- previous offences ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("n", "band"),
    [(0, "0"), (1, "1-2"), (2, "1-2"), (3, "3-6"), (6, "3-6"), (7, "7-10"), (10, "7-10"),
     (11, "11+"), (40, "11+")],
)  # fmt: skip
def test_previous_offences_strictly_before_index_and_banded(n, band):
    people = people_df((1, BIRTH_14))
    index_day = 300
    disposals = disposals_df((1, index_day, "referral_order"))
    before = [(1, 10 + i, 20 + i, "youth_caution") for i in range(n)]
    not_before = [
        (1, 250, index_day, "referral_order"),  # proven on the index day
        (1, 260, index_day + 5, "referral_order"),  # committed before, proven after
    ]
    offences = offences_df(*before, *not_before)
    row = cohort_row(run(people, offences, disposals), 1)
    assert row["previous_offences"] == n
    assert row["previous_band"] == band
    assert row["reoffences"] == 0  # committed before the index
    assert previous_offence_band(np.array([n]))[0] == band


# --- youth only -----------------------------------------------------------------------------


def test_youth_only_excludes_index_at_18_or_over():
    birth = -18 * 365.25 + 50  # turns 18 on about day 50
    people = people_df((1, birth), (2, birth))
    disposals = disposals_df(
        (1, 100, "youth_rehabilitation_order", True),  # adult disposal at 18
        (2, 10, "custody", False),
    )
    releases = releases_df((2, 100))  # released at 18
    youth = run(people, offences_df(), disposals, releases)
    assert youth.cohort_size == 0
    everyone = run(people, offences_df(), disposals, releases, youth_only=False)
    assert set(everyone.cohort["person"]) == {1, 2}
    assert set(everyone.cohort["age_at_index"]) == {18}


def test_youth_only_keeps_release_before_18th_birthday():
    birth = -18 * 365.25 + 150  # turns 18 on about day 150
    people = people_df((1, birth))
    releases = releases_df((1, 100))
    result = run(people, offences_df(), disposals_df((1, 10, "custody")), releases)
    assert cohort_row(result, 1)["age_at_index"] == 17


# --- headline figures and breakdowns --------------------------------------------------------


def test_rate_and_frequency():
    people = people_df((1, BIRTH_14, "M"), (2, BIRTH_14, "F"), (3, BIRTH_14, "F"))
    disposals = disposals_df(
        (1, 10, "youth_caution"), (2, 10, "referral_order"), (3, 10, "referral_order")
    )
    offences = offences_df(
        (1, 20, 30, "youth_caution"),
        (1, 40, 50, "referral_order"),
        (1, 60, 70, "custody"),
        (2, 20, 30, "referral_order"),
    )
    result = run(people, offences, disposals)
    assert result.cohort_size == 3
    assert result.reoffenders == 2
    assert result.rate == pytest.approx(2 / 3)
    assert result.frequency == pytest.approx(4 / 2)
    assert result.by("sex") == {"F": 0.5, "M": 1.0}
    by_kind = result.by("index_kind")
    assert list(by_kind) == list(INDEX_KINDS)
    assert by_kind["youth_caution"] == 1.0
    assert by_kind["referral_order"] == 0.5
    assert math.isnan(by_kind["custody"])
    assert result.by("age_at_index") == {"14": pytest.approx(2 / 3)}
    assert result.cohort["reoffended"].dtype == bool


def test_empty_cohort_gives_nan():
    result = run(people_df((1, BIRTH_14)), offences_df(), disposals_df())
    assert result.cohort_size == 0
    assert math.isnan(result.rate)
    assert math.isnan(result.frequency)
    bands = result.by("previous_band")
    assert list(bands) == list(PREVIOUS_OFFENCE_BANDS)
    assert all(math.isnan(v) for v in bands.values())
    assert list(result.cohort.columns)[:3] == ["person", "index_day", "index_kind"]


def test_frequency_nan_without_reoffenders_and_bad_by_column():
    people = people_df((1, BIRTH_14))
    result = run(people, offences_df(), disposals_df((1, 10, "youth_caution")))
    assert result.rate == 0.0
    assert math.isnan(result.frequency)
    with pytest.raises(ValueError, match="cannot group"):
        result.by("gravity")


# --- first-time entrants and caseload -------------------------------------------------------


def test_first_time_entrants():
    people = people_df(*[(p, BIRTH_14) for p in range(1, 6)])
    disposals = disposals_df(
        (1, -10, "youth_caution"),  # first formal before the window
        (1, 50, "referral_order"),
        (2, 10, "triage"),  # triage does not make an entrant...
        (2, 100, "youth_caution"),  # ...this does
        (3, 20, "triage"),
        (3, 30, "community_resolution"),
        (3, 40, "nfa"),
        (4, 60, "custody", True),  # adult: not a youth entrant
        (5, 364, "youth_conditional_caution"),
    )
    assert first_time_entrants(people, disposals, 0, 365) == 2
    assert first_time_entrants(people, disposals, 0, 100) == 0
    assert first_time_entrants(people, disposals, -20, 0) == 1


def test_children_cautioned_or_sentenced_counts_distinct_children():
    disposals = disposals_df(
        (1, 10, "youth_caution"),
        (1, 200, "referral_order"),
        (2, 20, "triage"),
        (3, 30, "custody", True),
        (4, 400, "youth_caution"),
    )
    assert children_cautioned_or_sentenced(disposals, 0, 365) == 1
    assert children_cautioned_or_sentenced(disposals, 0, 401) == 2


# --- relative rate index --------------------------------------------------------------------


def test_relative_rate_index_two_groups():
    # White: population 100, 10 arrested, 5 formal, 1 custody.
    # Black: population 50, 10 arrested, 8 formal, 4 custody.
    white, black = range(1, 11), range(11, 21)
    people = people_df(
        *[(p, BIRTH_14, "M", "White") for p in white],
        *[(p, BIRTH_14, "M", "Black") for p in black],
        (99, -25 * 365, "M", "Black"),  # adult: offences not counted as child arrests
        (98, BIRTH_14, "M", "Asian"),  # no arrests
    )
    offences = offences_df(
        *[(p, 10, None, "", True) for p in [*white, *black]],
        *[(p, 20, None, "", True) for p in black],  # second arrest: still one person
        (1, 400, None, "", True),  # outside the window
        (98, 15, None, "", False),  # undetected: not an arrest
        (99, 15, None, "", True),
    )
    disposals = disposals_df(
        *[(p, 30, "youth_caution") for p in list(white)[:5]],
        *[(p, 30, "referral_order") for p in list(black)[:8]],
        (1, 60, "custody"),
        *[(p, 60, "custody") for p in list(black)[:4]],
        (6, 30, "triage"),  # informal: not a formal disposal
        (99, 30, "custody", True),
    )
    population = {"White": 100, "Black": 50, "Asian": 40}
    rri = relative_rate_index(people, offences, disposals, 0, 365, population)
    assert set(rri) == {"arrest", "formal_disposal", "custody"}
    assert rri["arrest"]["White"] == 1.0
    assert rri["arrest"]["Black"] == pytest.approx((10 / 50) / (10 / 100))  # 2.0
    assert rri["arrest"]["Asian"] == 0.0
    assert rri["formal_disposal"]["White"] == 1.0
    assert rri["formal_disposal"]["Black"] == pytest.approx((8 / 10) / (5 / 10))  # 1.6
    assert math.isnan(rri["formal_disposal"]["Asian"])
    assert rri["custody"]["Black"] == pytest.approx((4 / 8) / (1 / 5))  # 2.5
    assert math.isnan(rri["custody"]["Asian"])

    black_ref = relative_rate_index(
        people, offences, disposals, 0, 365, population, reference="Black"
    )
    assert black_ref["arrest"]["White"] == pytest.approx(0.5)
    assert black_ref["arrest"]["Black"] == 1.0


def test_relative_rate_index_nan_when_reference_undefined():
    people = people_df((1, BIRTH_14, "M", "Black"))
    offences = offences_df((1, 10, None, "", True))
    rri = relative_rate_index(people, offences, disposals_df(), 0, 365, {"Black": 10, "White": 10})
    # The reference group's arrest rate is zero, so no group has a defined arrest RRI.
    assert math.isnan(rri["arrest"]["White"])
    assert math.isnan(rri["arrest"]["Black"])
    assert math.isnan(rri["formal_disposal"]["Black"])


# --- other measures -------------------------------------------------------------------------


def test_offending_rate_by_age_counts_distinct_offenders():
    people = people_df((1, -15 * 365.25), (2, -15 * 365.25), (3, -16 * 365.25 + 100))
    offences = offences_df(
        (1, 10, None, "", False),
        (1, 20, None, "", False),  # same offender twice: counted once
        (2, 30, 40, "youth_caution"),
        (3, 50, None, "", True),  # aged 15 at the offence
        (3, 150, None, "", True),  # aged 16
        (2, 500, None, "", False),  # outside the window
    )
    rates = offending_rate_by_age(people, offences, 0, 365, {15: 6.0, 16: 4.0, 17: 0.0})
    assert list(rates) == [str(a) for a in range(10, 21)]
    assert rates["15"] == pytest.approx(3 / 6)
    assert rates["16"] == pytest.approx(1 / 4)
    assert math.isnan(rates["17"])  # no exposure
    assert math.isnan(rates["12"])  # not given
    series = pd.Series({15: 6.0, 16: 4.0})
    assert offending_rate_by_age(people, offences, 0, 365, series)["15"] == pytest.approx(0.5)


def test_true_and_proven_offences():
    offences = offences_df(
        (1, 10, 20, "youth_caution"),
        (1, 30, None, "", False),
        (2, 40, 50, "triage"),  # disposed of informally: not proven
        (2, 300, 900, "custody"),  # proven after the window still counts
        (3, 365, 370, "referral_order"),  # committed outside the window
    )
    assert true_and_proven_offences(offences, 0, 365) == {"true": 4, "proven": 2}


def test_per_100k():
    assert per_100k(5, 20_000) == pytest.approx(25.0)
    assert math.isnan(per_100k(5, 0))


# --- property test against a loop-based reference -------------------------------------------


def reference_reoffending(people, offences, disposals, releases, start, end, youth_only):
    """Straightforward per-person re-statement of the MoJ rules, to check the vectorised one."""
    birth = dict(zip(people["person"], people["birth_day"], strict=True))
    rank = {k: i for i, k in enumerate(INDEX_KINDS)}
    events = {}
    for r in disposals.itertuples():
        if r.kind in INDEX_DISPOSAL_KINDS and start <= r.day < end and not (youth_only and r.adult):
            events.setdefault(r.person, []).append((r.day, -rank[r.kind]))
    for r in releases.itertuples():
        age = math.floor((r.day - birth[r.person]) / DAYS_PER_YEAR)  # the model's year
        if start <= r.day < end and not (youth_only and age >= 18):
            events.setdefault(r.person, []).append((r.day, -rank["custody"]))
    out = {}
    for person, evs in events.items():
        cohorts: dict[int, list] = {}  # annual cohorts of 364 days from the window's start
        for ev in evs:
            cohorts.setdefault((ev[0] - start) // 364, []).append(ev)
        for cohort_events in cohorts.values():
            index_day = min(cohort_events)[0]
            reoffences = previous = 0
            for o in offences.itertuples():
                if o.person != person or math.isnan(o.proven_day):
                    continue
                if o.disposal not in FORMAL_KINDS:
                    continue
                previous += o.proven_day < index_day
                reoffences += (
                    index_day < o.day <= index_day + 365 and o.proven_day <= index_day + 548
                )
            out[(person, index_day)] = (previous, reoffences)
    return out


@st.composite
def histories(draw):
    n_people = draw(st.integers(1, 5))
    persons = list(range(1, n_people + 1))
    births = draw(st.lists(st.integers(-19 * 365, -10 * 365), min_size=n_people, max_size=n_people))
    people = people_df(*[(p, b) for p, b in zip(persons, births, strict=True)])

    person = st.sampled_from(persons)
    day = st.integers(-400, 1200)
    offence = st.tuples(
        person, day, st.one_of(st.none(), st.integers(0, 800)), st.sampled_from(("", *ALL_KINDS))
    )
    rows = [
        (p, d, None if lag is None else d + lag, kind if lag is not None else "", lag is not None)
        for p, d, lag, kind in draw(st.lists(offence, max_size=25))
    ]
    offences = offences_df(*rows)
    disposals = disposals_df(
        *draw(
            st.lists(st.tuples(person, day, st.sampled_from(ALL_KINDS), st.booleans()), max_size=15)
        )
    )
    releases = releases_df(*draw(st.lists(st.tuples(person, day), max_size=5)))
    start = draw(st.integers(-200, 700))
    end = start + draw(st.integers(1, 700))
    return people, offences, disposals, releases, start, end


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(history=histories(), youth_only=st.booleans())
def test_property_reoffending_invariants(history, youth_only):
    people, offences, disposals, releases, start, end = history
    result = proven_reoffending(people, offences, disposals, releases, start, end, youth_only)
    cohort = result.cohort

    # At most one index event per person in each annual cohort.
    assert (
        not cohort.assign(c=(cohort["index_day"] - start) // 364)[["person", "c"]]
        .duplicated()
        .any()
    )
    assert result.reoffenders <= result.cohort_size
    if result.cohort_size:
        assert 0.0 <= result.rate <= 1.0
    else:
        assert math.isnan(result.rate)
    if result.reoffenders:
        assert result.frequency >= 1.0
    assert (cohort["reoffended"] == (cohort["reoffences"] > 0)).all()
    assert cohort["index_day"].between(start, end - 1).all()
    assert set(cohort["index_kind"]) <= set(INDEX_KINDS)

    # Every reoffence counted is an offence proven by a formal disposal after the index.
    proven = offences.loc[offences["proven_day"].notna() & offences["disposal"].isin(FORMAL_KINDS)]
    for row in cohort.itertuples():
        after = proven.loc[(proven["person"] == row.person) & (proven["day"] > row.index_day)]
        assert row.reoffences <= len(after)

    expected = reference_reoffending(people, offences, disposals, releases, start, end, youth_only)
    got = {
        (r.person, r.index_day): (r.previous_offences, r.reoffences) for r in cohort.itertuples()
    }
    assert got == expected


def test_by_person_is_set_index_with_or_without_a_range_of_ids():
    """Ids 0..n-1 in order give a RangeIndex; any other ids the plain set_index; the same
    lookups either way."""
    people = pd.DataFrame({"person": np.arange(5), "birth_day": [10, 11, 12, 13, 14]})
    got = by_person(people, "birth_day")
    assert isinstance(got.index, pd.RangeIndex)
    want = people.set_index("person")["birth_day"]
    pd.testing.assert_series_equal(got, want, check_index_type=False)
    assert pd.Series([4, 0, 4]).map(got).tolist() == [14, 10, 14]
    shuffled = people.iloc[[2, 0, 1, 4, 3]]
    pd.testing.assert_series_equal(
        by_person(shuffled, "birth_day"), shuffled.set_index("person")["birth_day"]
    )
    gaps = people.assign(person=[0, 1, 2, 3, 9])
    assert by_person(gaps, ["birth_day"]).loc[9, "birth_day"] == 14


def as_categories(frame: pd.DataFrame, column: str, names: tuple[str, ...]) -> pd.DataFrame:
    """``frame`` with ``column`` a categorical of ``names``, as a run's frames have it."""
    return frame.assign(**{column: pd.Categorical(frame[column], categories=list(names))})


def with_ids_apart(frame: pd.DataFrame, apart: int) -> pd.DataFrame:
    """Ids multiplied by ``apart``: too far apart for marker arrays over the ids."""
    return frame.assign(person=frame["person"] * apart)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    history=histories(),
    youth_only=st.booleans(),
    apart=st.sampled_from((1, 10**9 + 7)),
    fraction=st.sampled_from((0.0, 0.5)),
)
def test_property_reoffending_cohort_by_codes_and_sparse_ids(history, youth_only, apart, fraction):
    """The cohort is the same with the name columns as categoricals (a run's frames) and
    with ids far apart; with proven days whole or not, the counts are the reference's and
    each first reoffence is the earliest one, by brute force."""
    people, offences, disposals, releases, start, end = history
    offences = offences.assign(proven_day=offences["proven_day"] + fraction)
    plain = proven_reoffending(people, offences, disposals, releases, start, end, youth_only)
    coded = proven_reoffending(
        with_ids_apart(people, apart),
        with_ids_apart(as_categories(offences, "disposal", ("", *ALL_KINDS)), apart),
        with_ids_apart(as_categories(disposals, "kind", ALL_KINDS), apart),
        with_ids_apart(releases, apart),
        start,
        end,
        youth_only,
    ).cohort
    pd.testing.assert_frame_equal(coded.assign(person=coded["person"] // apart), plain.cohort)
    expected = reference_reoffending(people, offences, disposals, releases, start, end, youth_only)
    got = {
        (r.person, r.index_day): (r.previous_offences, r.reoffences)
        for r in plain.cohort.itertuples()
    }
    assert got == expected

    proven = offences.loc[offences["proven_day"].notna() & offences["disposal"].isin(FORMAL_KINDS)]
    for row in plain.cohort.itertuples():
        mine = proven.loc[proven["person"] == row.person]
        gaps = [
            o.day - row.index_day
            for o in mine.itertuples()
            if row.index_day < o.day <= row.index_day + 365
            and o.proven_day <= row.index_day + 365 + 183
        ]
        if gaps:
            assert row.first_reoffence_days == min(gaps)
        else:
            assert math.isnan(row.first_reoffence_days)


def test_offences_frame_is_lean_and_exact():
    """A run's offences frame: whole days as int32, proven days as float32 while exact
    (float64 otherwise), names as categoricals, and the log's own columns read-only."""
    log = EventLog()
    log.offences.append(
        person=np.array([3, 5]),
        week=np.array([10, 11]),
        type=np.array([OFFENCE_TYPE["drugs"], OFFENCE_TYPE["weapon"]]),
        gravity=np.array([1, 2]),
        co_group=np.array([-1, 7]),
        detected=np.array([True, False]),
        case=np.array([0, -1]),
        proven_week=np.array([12.0, np.nan]),
        disposal=np.array([KIND["fine"], -1]),
    )
    frame = log.offences_frame()
    assert frame["day"].dtype == np.int32 and frame["day"].tolist() == [70, 77]
    assert frame["proven_day"].dtype == np.float32
    assert frame["proven_day"].iloc[0] == 84 and np.isnan(frame["proven_day"].iloc[1])
    assert frame["type"].tolist() == ["drugs", "weapon"]
    assert frame["disposal"].tolist() == ["fine", ""]
    assert isinstance(frame["disposal"].dtype, pd.CategoricalDtype)
    with pytest.raises(ValueError, match="read-only"):
        frame["person"].to_numpy()[0] = 4
    assert log.offences["person"][0] == 3
    log.offences.set("proven_week", np.array([0]), 1 / 3)  # not exact in float32: kept
    assert log.offences_frame(("proven_day",))["proven_day"].dtype == np.float64


def same(a: object, b: object) -> bool:
    """Equal results, NaN equal to NaN."""
    return json.dumps(a, sort_keys=True, default=str) == json.dumps(b, sort_keys=True, default=str)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(history=histories(), apart=st.sampled_from((1, 10**9 + 7)))
def test_property_measures_by_codes_and_sparse_ids(history, apart):
    """Every measure that reads a name column gives the same with categoricals, and every
    measure the same with ids too far apart for marker arrays."""
    people, offences, disposals, _, start, end = history
    offences = offences.assign(co_group=np.arange(len(offences)) % 3 - 1)
    coded_people = with_ids_apart(people, apart)
    coded_offences = with_ids_apart(
        as_categories(
            as_categories(offences, "disposal", ("", *ALL_KINDS)),
            "type",
            ("theft", "drugs", "weapon"),
        ),
        apart,
    )
    coded_disposals = with_ids_apart(as_categories(disposals, "kind", ALL_KINDS), apart)

    def measures(people, offences, disposals):
        return {
            "attrition": attrition(people, offences, start, end),
            "true_and_proven": true_and_proven_offences(offences, start, end),
            "first_time_entrants": first_time_entrants(people, disposals, start, end),
            "cautioned": children_cautioned_or_sentenced(disposals, start, end),
            "mix": disposal_mix(disposals, start, end),
            "per_year": disposals_per_year(disposals, start, end, ALL_KINDS),
            "onset": onset_and_persistence(people, offences, start, end),
            "prevalence": offending_prevalence(people, offences, start, end, 10.0),
            "frequency": offending_frequency(people, offences, start, end, 10.0),
            "co_offending": co_offending(people, offences, start, end),
            "by_age": offending_rate_by_age(
                people, offences, start, end, {a: 1.0 for a in range(21)}
            ),
            "stages": {
                k: {g: int(n) for g, n in v.items() if n}
                for k, v in stage_children(people, offences, disposals, start, end).items()
            },
        }

    assert same(
        measures(coded_people, coded_offences, coded_disposals),
        measures(people, offences, disposals),
    )


# --- the outputs a reviewer checks against published patterns (issue 17) ------------------


def test_reoffending_by_mojs_age_bands_and_time_to_first_reoffence():
    born_16 = -16 * 365.25
    people = people_df((1, BIRTH_14), (2, born_16), (3, born_16), (4, BIRTH_14))
    disposals = disposals_df(
        (1, 10, "youth_caution"),
        (2, 10, "referral_order"),
        (3, 10, "referral_order"),
        (4, 10, "youth_caution"),
    )
    offences = offences_df(
        (1, 40, 60, "youth_caution"),  # first reoffence 30 days on (a later one ignored)
        (1, 300, 320, "referral_order"),
        (2, 110, 130, "referral_order"),  # 100 days: the second quarter
        (3, 375, 400, "referral_order"),  # day 365 of the follow-up: the last quarter
    )
    result = run(people, offences, disposals)
    assert result.by("age_band") == {"10-14": 0.5, "15-17": 1.0}
    assert list(cohort_row(result, 1)[["first_reoffence_days"]]) == [30.0]
    assert math.isnan(cohort_row(result, 4)["first_reoffence_days"])
    timing = time_to_first_reoffence(result.cohort)
    assert timing["mean_days"] == pytest.approx((30 + 100 + 365) / 3)
    assert timing["median_days"] == 100
    assert [timing[q] for q in FIRST_REOFFENCE_QUARTERS] == pytest.approx([1 / 3, 1 / 3, 0, 1 / 3])


def test_time_to_first_reoffence_without_reoffenders_is_nan():
    cohort = pd.DataFrame({"first_reoffence_days": [np.nan, np.nan]})
    assert all(math.isnan(v) for v in time_to_first_reoffence(cohort).values())


def test_offending_prevalence_counts_children_once_a_year():
    born_17 = -17.5 * 365.25  # turns 18 half-way through the first year
    people = people_df((1, BIRTH_14), (2, BIRTH_14), (3, born_17))
    year = int(DAYS_PER_YEAR)
    offences = offences_df(
        (1, 10, None, "nfa"),
        (1, 20, None, "nfa"),  # the same child, the same year: once
        (1, year + 5, None, "nfa"),  # and again the next year
        (2, year + 6, None, "nfa"),
        (3, 300, None, "nfa"),  # at 18: an adult's offence
    )
    # 3 child-years of offending over 2 years among 4 children.
    assert offending_prevalence(people, offences, 0, 2 * year, 4.0) == pytest.approx(0.375)
    assert math.isnan(offending_prevalence(people, offences, 0, year, 0.0))


def test_offending_frequency_counts_six_or_more_offences_in_one_year():
    """The survey's frequent offenders: six or more offences within one year of the window,
    not over the whole window; adults' offences do not count."""
    born_17 = -17.5 * 365.25  # an adult from half-way through the first year
    people = people_df((1, BIRTH_14), (2, BIRTH_14), (3, born_17))
    year = int(DAYS_PER_YEAR)
    rows = [(1, 10 + d, None, "nfa") for d in range(6)]  # six in year 0: frequent
    rows += [(2, 10 + d, None, "nfa") for d in range(3)]  # three in year 0 ...
    rows += [(2, year + 10 + d, None, "nfa") for d in range(3)]  # ... and three in year 1
    rows += [(3, 200 + d, None, "nfa") for d in range(6)]  # at 18: not a child's
    offences = offences_df(*rows)
    out = offending_frequency(people, offences, 0, 2 * year, 4.0)
    # One frequent child-year over 2 years among 4 children; 6 of the children's 12.
    assert out["frequent_share"] == pytest.approx(0.125)
    assert out["frequent_offence_share"] == pytest.approx(0.5)
    none = offending_frequency(people, offences.iloc[:0], 0, year, 4.0)
    assert none["frequent_share"] == 0.0 and math.isnan(none["frequent_offence_share"])


def test_attrition_is_the_detected_and_proven_share_of_childrens_offences():
    people = people_df((1, BIRTH_14), (2, BIRTH_14))
    offences = offences_df(
        (1, 10, 20, "youth_caution"),  # proven
        (1, 30, None, "nfa", True),  # detected, no further action
        (2, 40, None, "community_resolution", True),  # detected, informal: not proven
        (2, 50, None, "nfa", False),  # never detected
        (2, 9999, 10_010, "referral_order"),  # outside the window
    )
    assert attrition(people, offences, 0, 1000) == {"detected": 0.75, "proven": 0.25}


def test_disposal_mix_is_formal_childrens_disposals_by_kind():
    disposals = disposals_df(
        (1, 10, "youth_caution"),
        (2, 10, "youth_caution"),
        (3, 10, "referral_order"),
        (4, 10, "custody"),
        (5, 10, "community_resolution"),  # informal: not in the mix
        (6, 10, "custody", True),  # an adult's sentence
        (7, 5000, "custody"),  # outside the window
    )
    mix = disposal_mix(disposals, 0, 1000)
    assert list(mix) == list(FORMAL_KINDS)
    assert mix["youth_caution"] == 0.5
    assert mix["referral_order"] == mix["custody"] == 0.25
    assert sum(mix.values()) == pytest.approx(1.0)
    per_year = disposals_per_year(
        disposals, 0, int(DAYS_PER_YEAR), ("community_resolution", "custody")
    )
    assert per_year == {"community_resolution": 1.0, "custody": 1.0}


def test_co_offending_counts_incidents_and_offenders_by_age():
    """A group offence is one incident however many took part (the meta-analyses' unit):
    children 1 and 2 together on day 20 and child 1 alone on day 10 are two incidents,
    one co-offended, though the log has three rows for them."""
    people = people_df((1, BIRTH_14), (2, BIRTH_14), (3, -19.2 * 365.25))
    offences = offences_df(
        (1, 10, None, "nfa"), (1, 20, None, "nfa"), (2, 20, None, "nfa"), (3, 30, None, "nfa")
    )
    offences["co_group"] = [-1, 7, 7, -1]  # persons 1 and 2 together on day 20
    result = co_offending(people, offences, 0, 1000)
    assert result["share_of_offences_10_17"] == pytest.approx(1 / 2)
    assert result["share_of_offenders_10_17"] == 1.0
    by_age = result["share_of_offences_by_age"]
    assert by_age["14"] == pytest.approx(1 / 2)
    assert by_age["19"] == 0.0
    assert math.isnan(by_age["12"])


def test_onset_and_persistence_follows_the_children_who_turn_18_by_age_at_first_offence():
    """Children turning 18 in the window, by age at their first offence at 10-17. Person 1
    starts at 11 and offends three times (once at 17, proven by a caution); person 2 starts
    at 16; person 3 turns 18 after the window and person 4 only offends as an adult."""
    y = DAYS_PER_YEAR
    people = people_df((1, -17.5 * y), (2, -17.2 * y), (3, -10 * y), (4, -17.9 * y))
    offences = offences_df(
        (1, -6.4 * y, None, "nfa"),  # at 11
        (1, -3.0 * y, None, "nfa"),  # at 14
        (1, -0.2 * y, -0.1 * y, "youth_caution"),  # at 17, proven
        (2, -1.0 * y, None, "nfa"),  # at 16
        (3, -0.1 * y, None, "nfa"),  # not 18 in the window
        (4, 0.3 * y, None, "nfa"),  # at 18: an adult's offence
    )
    out = onset_and_persistence(people, offences, 0, int(y))
    true, proven = out["true"], out["proven"]
    assert true["10-12 share"] == true["15-17 share"] == 0.5
    assert true["13-14 share"] == 0.0 and math.isnan(true["13-14 mean offences"])
    assert true["10-12 mean offences"] == 3.0
    assert true["15-17 mean offences"] == 1.0
    assert true["10-12 offending at 17"] == 1.0
    assert true["15-17 offending at 17"] == 0.0  # offended at 16 only
    assert proven["15-17 share"] == 1.0  # person 1's first proven offence was at 17
    assert proven["15-17 mean offences"] == 1.0


def test_the_court_stage_counts_children_sentenced_at_court_not_cautioned():
    """The charging decision's stage: of the children cautioned or sentenced, those with a
    youth court sentence (a caution is not one, nor an adult's sentence, nor an acquittal)."""
    people = people_df(
        (1, BIRTH_14, "M", "White"),
        (2, BIRTH_14, "M", "Black"),
        (3, BIRTH_14, "M", "Black"),
        (4, BIRTH_14, "M", "Black"),
        (5, -19 * 365.25, "M", "White"),
    )
    disposals = disposals_df(
        (1, 10, "youth_caution"),
        (2, 10, "referral_order"),
        (2, 50, "youth_rehabilitation_order"),  # the same child twice: counted once
        (3, 20, "acquittal"),
        (4, 30, "youth_conditional_caution"),
        (5, 30, "fine", True),  # an adult's sentence
    )
    offences = offences_df((1, 5, 10, "youth_caution"))
    counts = stage_children(people, offences, disposals, 0, 365)
    assert dict(counts["formal_disposal"]) == {"Black": 2, "White": 1}
    assert dict(counts["court_sentence"]) == {"Black": 1}
