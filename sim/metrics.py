"""Official youth justice measures computed from a run's recorded events.

These mirror the published statistics (Ministry of Justice proven reoffending, Youth Justice
Board first-time entrants, disproportionality relative rate indices) so model output can be
set beside the real series. They run once at the end of a run, so they favour clarity and
vectorised pandas over speed; nothing here loops over people.

Time is in integer days throughout. Inputs are the event tables described in each function:

- ``people``: person, sex, ethnic_group, birth_day
- ``offences``: person, day, type, gravity, detected, proven_day (NaN if never proven), disposal
- ``disposals``: person, day, kind, adult
- ``releases``: person, day
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from sim.calendar import DAYS_PER_WEEK, WEEKS_PER_YEAR
from sim.events import FORMAL_DISPOSALS, OFFENCE_TYPES
from sim.population import ADULT_AGE  # youth measures count events before this birthday

# Disposals that count as "cautioned or sentenced" (defined once, in sim/events.py): they
# make a first-time entrant and are the only outcomes that make an offence "proven"; nfa,
# diversion, community_resolution and acquittal leave no record.
FORMAL_KINDS: tuple[str, ...] = FORMAL_DISPOSALS

# Disposals that start a reoffending follow-up: cautions and non-custodial convictions. A
# custodial sentence is not one; the release from custody is (the person can only reoffend
# in the community once out).
INDEX_DISPOSAL_KINDS: tuple[str, ...] = (
    "youth_caution",
    "youth_conditional_caution",
    "absolute_discharge",
    "conditional_discharge",
    "fine",
    "referral_order",
    "youth_rehabilitation_order",
)

# The tiers the Youth Justice Statistics group cautions and sentences into.
DISPOSAL_TIERS: dict[str, tuple[str, ...]] = {
    "pre_court": ("youth_caution", "youth_conditional_caution"),
    "first_tier": ("absolute_discharge", "conditional_discharge", "fine", "referral_order"),
    "community": ("youth_rehabilitation_order",),
    "custody": ("custody",),
}

# Index kinds as reported in the cohort, least to most serious; "custody" means a release.
# When a person has two index events on the same first day, the most serious one is kept.
INDEX_KINDS: tuple[str, ...] = (*INDEX_DISPOSAL_KINDS, "custody")

# MoJ measure: reoffences committed within 12 months of the index event...
FOLLOW_UP_DAYS: int = 365
# ...and proven by a caution or conviction within a further 6 months.
WAITING_DAYS: int = 183

# MoJ bands for the number of previous proven offences, in order.
PREVIOUS_OFFENCE_BANDS: tuple[str, ...] = ("0", "1-2", "3-6", "7-10", "11+")

# Single years of age reported by offending_rate_by_age (the model follows people to 21).
OFFENDING_AGES: tuple[int, ...] = tuple(range(10, 21))

DAYS_PER_YEAR: float = float(WEEKS_PER_YEAR * DAYS_PER_WEEK)  # the model year: 52 weeks
# Reoffending cohorts are annual, as the MoJ counted them to 2016/17: one model year.
COHORT_DAYS: int = WEEKS_PER_YEAR * DAYS_PER_WEEK
# Since October 2017 the MoJ builds the measure from 3-month cohorts (docs/sources.md,
# moj-reoffending-2016-17): a
# quarter of the model year, 13 weeks. A child can then be indexed four times a year.
QUARTER_COHORT_DAYS: int = COHORT_DAYS // 4

# The MoJ's age bands for children's proven reoffending, by age at the index event.
REOFFENDING_AGE_BANDS: tuple[str, ...] = ("10-14", "15-17")
# The follow-up year in quarters: when reoffenders' first proven reoffence came.
FIRST_REOFFENCE_QUARTERS: tuple[str, ...] = (
    "0-3 months",
    "3-6 months",
    "6-9 months",
    "9-12 months",
)

# Columns of ReoffendingResult.by() may group on.
BY_COLUMNS: tuple[str, ...] = (
    "previous_band",
    "index_kind",
    "age_at_index",
    "age_band",
    "sex",
    "ethnic_group",
)

_COHORT_COLUMNS: tuple[str, ...] = (
    "person",
    "index_day",
    "index_kind",
    "previous_offences",
    "previous_band",
    "age_at_index",
    "age_band",
    "sex",
    "ethnic_group",
    "reoffences",
    "reoffended",
    "first_reoffence_days",  # days from the index to the first proven reoffence; NaN: none
)

# RRI stages, in the order a child moves through the system.
RRI_STAGES: tuple[str, ...] = ("arrest", "formal_disposal", "custody")


def age_in_years(day: np.ndarray | pd.Series, birth_day: np.ndarray | pd.Series) -> np.ndarray:
    """Whole years of age on ``day``, so every measure ages people the same way."""
    diff = np.asarray(day, dtype=float) - np.asarray(birth_day, dtype=float)
    return np.floor(diff / DAYS_PER_YEAR).astype(np.int64)


def by_person(people: pd.DataFrame, columns: str | list[str]) -> pd.Series | pd.DataFrame:
    """``people.set_index("person")[columns]``: attributes to look up by person id.

    A run's people frame lists the ids 0..n-1 in order; then the index is a RangeIndex,
    so lookups are positional, with no hash table of millions of ids to build and check
    for uniqueness each time (London's summary did that a dozen times, over 3 million).
    """
    ids = people["person"].to_numpy()
    if np.array_equal(ids, np.arange(ids.size)):
        return people[columns].set_axis(pd.RangeIndex(ids.size, name="person"))
    return people.set_index("person")[columns]


def previous_offence_band(counts: np.ndarray | pd.Series) -> np.ndarray:
    """Map previous-offence counts to PREVIOUS_OFFENCE_BANDS, as the MoJ tables group them."""
    n = np.asarray(counts, dtype=np.int64)
    conditions = [n <= 0, n <= 2, n <= 6, n <= 10]
    return np.select(
        conditions, list(PREVIOUS_OFFENCE_BANDS[:4]), default=PREVIOUS_OFFENCE_BANDS[4]
    )


def per_100k(count: float, population: float) -> float:
    """Rate per 100,000 population, the unit of published YJ rates; NaN without population."""
    return _rate(count, population) * 100_000.0


def _in_window(day: pd.Series, start_day: float, end_day: float) -> pd.Series:
    """Half-open window [start_day, end_day), so consecutive periods never double count."""
    return (day >= start_day) & (day < end_day)


def _formal_proven(offences: pd.DataFrame) -> pd.Series:
    """Offences proven by a caution or conviction (informal outcomes do not prove offences)."""
    return offences["proven_day"].notna() & offences["disposal"].isin(FORMAL_KINDS)


def _youth_formal(disposals: pd.DataFrame) -> pd.DataFrame:
    """Formal disposals given while the person was a child: the youth justice caseload."""
    mask = disposals["kind"].isin(FORMAL_KINDS) & ~disposals["adult"].astype(bool)
    return disposals.loc[mask]


@dataclass(frozen=True)
class ReoffendingResult:
    """Cohort of a proven reoffending measure, with the published headline figures."""

    cohort: pd.DataFrame

    @property
    def cohort_size(self) -> int:
        """Number of people with an index event in the period."""
        return len(self.cohort)

    @property
    def reoffenders(self) -> int:
        """Cohort members with at least one proven reoffence."""
        return int(self.cohort["reoffended"].sum())

    @property
    def rate(self) -> float:
        """Binary reoffending rate: share of the cohort who reoffended (NaN if empty)."""
        if self.cohort_size == 0:
            return float("nan")
        return float(self.cohort["reoffended"].mean())

    @property
    def frequency(self) -> float:
        """Average reoffences per reoffender (NaN if nobody reoffended)."""
        if self.reoffenders == 0:
            return float("nan")
        return float(self.cohort["reoffences"].sum()) / self.reoffenders

    def by(self, column: str) -> dict[str, float]:
        """Reoffending rate per group of ``column``, keyed by str, as the breakdown tables are.

        previous_band and index_kind always list every category (NaN where empty) so runs can
        be stacked; other columns list only the groups present in the cohort.
        """
        if column not in BY_COLUMNS:
            raise ValueError(f"cannot group reoffending by {column!r}; choose from {BY_COLUMNS}")
        rates = self.cohort.groupby(self.cohort[column].astype(str))["reoffended"].mean()
        out = {str(k): float(v) for k, v in rates.items()}
        fixed = {
            "previous_band": PREVIOUS_OFFENCE_BANDS,
            "index_kind": INDEX_KINDS,
            "age_band": REOFFENDING_AGE_BANDS,
        }.get(column)
        if fixed is not None:
            return {k: out.get(k, float("nan")) for k in fixed}
        return dict(sorted(out.items(), key=lambda kv: _sort_key(kv[0])))


def _sort_key(key: str) -> tuple[int, float | str]:
    """Sort numeric keys (ages) numerically and the rest alphabetically."""
    try:
        return (0, float(key))
    except ValueError:
        return (1, key)


def _index_events(
    people: pd.DataFrame,
    disposals: pd.DataFrame,
    releases: pd.DataFrame,
    start_day: int,
    end_day: int,
    youth_only: bool,
    cohort_days: int,
) -> pd.DataFrame:
    """Each person's first index event in each cohort period of the window.

    Cohorts are consecutive periods of ``cohort_days`` counted from ``start_day``, as
    the Ministry of Justice counts its cohorts: a child indexed in two periods is in
    both. (One cohort over a many-year window would keep only each child's first index
    event, so the rate would fall as the window grows.) Columns: person, index_day,
    index_kind.
    """
    disp = disposals.loc[
        disposals["kind"].isin(INDEX_DISPOSAL_KINDS)
        & _in_window(disposals["day"], start_day, end_day)
    ]
    if youth_only:
        disp = disp.loc[~disp["adult"].astype(bool)]
    rel = releases.loc[_in_window(releases["day"], start_day, end_day), ["person", "day"]]
    if youth_only and len(rel):
        birth = rel["person"].map(by_person(people, "birth_day"))
        if birth.isna().any():
            raise ValueError("releases refer to people missing from the people table")
        rel = rel.loc[age_in_years(rel["day"], birth) < ADULT_AGE]
    events = pd.concat(
        [
            pd.DataFrame({"person": disp["person"], "day": disp["day"], "kind": disp["kind"]}),
            pd.DataFrame({"person": rel["person"], "day": rel["day"], "kind": "custody"}),
        ],
        ignore_index=True,
    )
    events["rank"] = events["kind"].map({k: i for i, k in enumerate(INDEX_KINDS)})
    events["cohort"] = (events["day"] - start_day) // cohort_days
    events = events.sort_values(
        ["person", "day", "rank"], ascending=[True, True, False], kind="mergesort"
    ).drop_duplicates(["person", "cohort"], keep="first")
    return pd.DataFrame(
        {
            "person": events["person"].to_numpy(dtype=np.int64),
            "index_day": events["day"].to_numpy(dtype=np.int64),
            "index_kind": events["kind"].to_numpy(dtype=object),
        }
    )


def proven_reoffending(
    people: pd.DataFrame,
    offences: pd.DataFrame,
    disposals: pd.DataFrame,
    releases: pd.DataFrame,
    start_day: int,
    end_day: int,
    youth_only: bool = True,
    cohort_days: int = COHORT_DAYS,
) -> ReoffendingResult:
    """Ministry of Justice proven reoffending for index events in [start_day, end_day).

    Cohort: people with a caution, non-custodial conviction or custody release in the
    window; each person's first such event in each cohort period (``cohort_days``:
    annual by default, ``QUARTER_COHORT_DAYS`` for the MoJ's measure since 2017) is an
    index. A reoffence is an offence committed in the FOLLOW_UP_DAYS after the index
    (index day excluded, last day included) and proven by a caution or conviction within
    a further WAITING_DAYS. ``youth_only`` keeps index events that happened before the
    18th birthday, which is how the youth measure is published.
    """
    index = _index_events(people, disposals, releases, start_day, end_day, youth_only, cohort_days)

    proven = offences.loc[_formal_proven(offences), ["person", "day", "proven_day"]]
    key = ["person", "index_day"]  # a person may be indexed once in each cohort period
    linked = proven.merge(index[key], on="person", how="inner")
    previous = linked.loc[linked["proven_day"] < linked["index_day"]].groupby(key).size()
    follow_end = linked["index_day"] + FOLLOW_UP_DAYS
    is_reoffence = (
        (linked["day"] > linked["index_day"])
        & (linked["day"] <= follow_end)
        & (linked["proven_day"] <= follow_end + WAITING_DAYS)
    )
    reoffences = linked.loc[is_reoffence].groupby(key).size()
    first_gap = (
        (linked["day"] - linked["index_day"])
        .loc[is_reoffence]
        .groupby([linked["person"].loc[is_reoffence], linked["index_day"].loc[is_reoffence]])
        .min()
    )

    attrs = by_person(people, ["sex", "ethnic_group", "birth_day"])
    missing = ~index["person"].isin(attrs.index)
    if missing.any():
        raise ValueError(
            f"cohort members missing from people table: {index.loc[missing, 'person'].tolist()}"
        )
    member = attrs.loc[index["person"]]

    prev_counts = counts_per_index(previous, index)
    re_counts = counts_per_index(reoffences, index)
    age = age_in_years(index["index_day"], member["birth_day"])
    if first_gap.empty:
        first_days = np.full(len(index), np.nan)
    else:
        keys = pd.MultiIndex.from_frame(index[["person", "index_day"]])
        first_days = first_gap.reindex(keys).to_numpy(dtype=float)
    cohort = pd.DataFrame(
        {
            "person": index["person"].to_numpy(dtype=np.int64),
            "index_day": index["index_day"].to_numpy(dtype=np.int64),
            "index_kind": index["index_kind"].to_numpy(dtype=object),
            "previous_offences": prev_counts,
            "previous_band": previous_offence_band(prev_counts).astype(object),
            "age_at_index": age,
            "age_band": np.where(age < 15, "10-14", np.where(age < 18, "15-17", "18+")).astype(
                object
            ),
            "sex": member["sex"].to_numpy(dtype=object),
            "ethnic_group": member["ethnic_group"].to_numpy(dtype=object),
            "reoffences": re_counts,
            "reoffended": re_counts > 0,
            "first_reoffence_days": first_days,
        },
        columns=list(_COHORT_COLUMNS),
    )
    return ReoffendingResult(cohort=cohort.reset_index(drop=True))


def counts_per_index(counts: pd.Series, index: pd.DataFrame) -> np.ndarray:
    """A count keyed by (person, index_day), in the order of ``index``'s rows (0 if absent)."""
    if counts.empty:
        return np.zeros(len(index), dtype=np.int64)
    keys = pd.MultiIndex.from_frame(index[["person", "index_day"]])
    return counts.reindex(keys, fill_value=0).to_numpy(dtype=np.int64)


def first_time_entrants(
    people: pd.DataFrame, disposals: pd.DataFrame, start_day: int, end_day: int
) -> int:
    """Children whose first-ever formal youth disposal falls in [start_day, end_day).

    This is the YJB first-time entrant count: a first caution or sentence as a child.
    Informal outcomes (nfa, triage, community resolution) never make an entrant, and anyone
    already cautioned or sentenced before the window is not a first-time entrant in it.
    ``people`` is accepted for a uniform signature; entrants need not appear in it.
    """
    del people
    formal = _youth_formal(disposals)
    first_day = formal.groupby("person")["day"].min()
    return int(_in_window(first_day, start_day, end_day).sum())


def children_cautioned_or_sentenced(disposals: pd.DataFrame, start_day: int, end_day: int) -> int:
    """Distinct children given a formal disposal in [start_day, end_day) (the YJ caseload)."""
    formal = _youth_formal(disposals)
    return int(formal.loc[_in_window(formal["day"], start_day, end_day), "person"].nunique())


def offending_rate_by_age(
    people: pd.DataFrame,
    offences: pd.DataFrame,
    start_day: int,
    end_day: int,
    person_days_by_age: Mapping[int, float] | pd.Series,
) -> dict[str, float]:
    """Annual offending prevalence by age: offenders per person-year at risk, ages 10..20.

    Counts distinct people committing at least one true offence (detected or not) in
    [start_day, end_day) at each single year of age at the offence, divided by the caller's
    exposure for that age. Despite its name, ``person_days_by_age`` holds person-YEARS at
    risk (age -> years), so a one-year window gives the share of that age who offended.
    Ages with no exposure give NaN.
    """
    exposure = {int(k): float(v) for k, v in dict(person_days_by_age).items()}
    window = offences.loc[_in_window(offences["day"], start_day, end_day), ["person", "day"]]
    birth = window["person"].map(by_person(people, "birth_day"))
    if birth.isna().any():
        raise ValueError("offences refer to people missing from the people table")
    ages = pd.DataFrame({"person": window["person"], "age": age_in_years(window["day"], birth)})
    offenders = ages.drop_duplicates().groupby("age").size()
    out: dict[str, float] = {}
    for age in OFFENDING_AGES:
        years = exposure.get(age, 0.0)
        out[str(age)] = float(offenders.get(age, 0)) / years if years > 0 else float("nan")
    return out


def _rate(numerator: float, denominator: float) -> float:
    """numerator / denominator, NaN when the denominator is zero or missing."""
    if denominator is None or not denominator > 0:
        return float("nan")
    return float(numerator) / float(denominator)


def relative_rate_index(
    people: pd.DataFrame,
    offences: pd.DataFrame,
    disposals: pd.DataFrame,
    start_day: int,
    end_day: int,
    population_by_group: Mapping[str, float],
    reference: str = "White",
    youth_only: bool = True,
) -> dict[str, dict[str, float]]:
    """Relative rate index per ethnic group at each stage, as in disproportionality tools.

    Stage rates, each over distinct people of the group with events in [start_day, end_day):

    - arrest: people with a detected offence (by day committed) per head of population;
    - formal_disposal: people with a formal youth disposal per arrested person;
    - custody: people sentenced to custody per person with a formal disposal.

    RRI = group rate / reference-group rate, NaN where either is undefined or the reference
    rate is zero. With ``youth_only`` (default) arrests count only offences committed before
    the 18th birthday and custody only youth sentences, so every stage is about children.
    Returns stage -> group -> RRI for every group in population_by_group or people.
    """
    group_of = by_person(people, "ethnic_group")
    birth = by_person(people, "birth_day")

    arrests = offences.loc[
        offences["detected"].astype(bool) & _in_window(offences["day"], start_day, end_day),
        ["person", "day"],
    ]
    if youth_only:
        age = (arrests["day"] - arrests["person"].map(birth)) / DAYS_PER_YEAR
        arrests = arrests.loc[np.floor(age) < ADULT_AGE]
    window_disp = disposals.loc[_in_window(disposals["day"], start_day, end_day)]
    formal = _youth_formal(window_disp)
    custody = window_disp.loc[window_disp["kind"] == "custody"]
    if youth_only:
        custody = custody.loc[~custody["adult"].astype(bool)]

    def people_per_group(events: pd.DataFrame) -> pd.Series:
        persons = pd.Series(events["person"].unique())
        return persons.map(group_of).value_counts()

    counts = {
        "arrest": people_per_group(arrests),
        "formal_disposal": people_per_group(formal),
        "custody": people_per_group(custody),
    }
    groups = sorted(
        set(population_by_group)
        | set(people["ethnic_group"].dropna().astype(str).unique())  # set() of 3M strings: slow
        | {reference}
    )

    def stage_rates(stage: str) -> dict[str, float]:
        num = counts[stage]
        rates = {}
        for g in groups:
            if stage == "arrest":
                denom = float(population_by_group.get(g, float("nan")))
            elif stage == "formal_disposal":
                denom = float(counts["arrest"].get(g, 0))
            else:
                denom = float(counts["formal_disposal"].get(g, 0))
            rates[g] = _rate(num.get(g, 0), denom)
        return rates

    out: dict[str, dict[str, float]] = {}
    for stage in RRI_STAGES:
        rates = stage_rates(stage)
        ref = rates[reference]
        out[stage] = {g: _rate(r, ref) for g, r in rates.items()}
    return out


def true_and_proven_offences(
    offences: pd.DataFrame, start_day: int, end_day: int
) -> dict[str, int]:
    """Offences committed in [start_day, end_day): all ("true") and those later proven.

    "proven" counts offences committed in the window that were disposed of by a caution or
    conviction at any time, so the gap between the two is the model's dark figure plus
    attrition.
    """
    window = _in_window(offences["day"], start_day, end_day)  # a mask: no copy of the rows
    return {"true": int(window.sum()), "proven": int((_formal_proven(offences) & window).sum())}


def time_to_first_reoffence(cohort: pd.DataFrame) -> dict[str, float]:
    """When reoffenders reoffended: mean and median days from the index event to the first
    proven reoffence, and the share whose first came in each quarter of the follow-up year
    (FIRST_REOFFENCE_QUARTERS), as the MoJ's time-to-reoffence tables group it."""
    days = cohort["first_reoffence_days"].dropna().to_numpy(dtype=float)
    out: dict[str, float] = {
        "mean_days": float(days.mean()) if days.size else float("nan"),
        "median_days": float(np.median(days)) if days.size else float("nan"),
    }
    quarter = np.minimum((days - 1) // (FOLLOW_UP_DAYS / 4), 3)  # day 365 is in the last
    for q, name in enumerate(FIRST_REOFFENCE_QUARTERS):
        out[name] = float((quarter == q).mean()) if days.size else float("nan")
    return out


@dataclass(frozen=True)
class _WindowOffences:
    """Row numbers of the offences committed in a window, with the offender's age then and
    the window's year (0, 1, ...): plain arrays over the offence table, no copy of it."""

    rows: np.ndarray
    person: np.ndarray
    age: np.ndarray
    year: np.ndarray

    @classmethod
    def of(
        cls, people: pd.DataFrame, offences: pd.DataFrame, start_day: int, end_day: int
    ) -> _WindowOffences:
        day = offences["day"].to_numpy()
        rows = np.flatnonzero((day >= start_day) & (day < end_day))
        person = offences["person"].to_numpy()[rows]
        birth = by_person(people, "birth_day")
        if isinstance(birth.index, pd.RangeIndex):  # ids 0..n-1: a person is their row
            if person.size and person.max() >= len(birth):
                raise ValueError("offences refer to people missing from the people table")
            born = birth.to_numpy()[person]
        else:
            born = birth.reindex(person).to_numpy()
            if np.isnan(born.astype(float)).any():
                raise ValueError("offences refer to people missing from the people table")
        age = age_in_years(day[rows], born)
        year = ((day[rows] - start_day) // DAYS_PER_YEAR).astype(np.int64)
        return cls(rows, person, age, year)

    def children(self) -> np.ndarray:
        """Mask of the offences committed at 10-17."""
        return self.age < ADULT_AGE


def _distinct_per_year(
    person: np.ndarray, year: np.ndarray, flag: np.ndarray | None = None
) -> tuple[int, int]:
    """Over the years: distinct (person, year) pairs, and those of them with ``flag`` on at
    least one row (0 without a flag). Marker arrays, one year at a time (a loop over
    years, not people)."""
    if person.size == 0:
        return 0, 0
    seen = np.zeros(int(person.max()) + 1, dtype=bool)
    flagged = np.zeros_like(seen)
    pairs = with_flag = 0
    for y in np.unique(year):
        at = year == y
        seen[:] = False
        flagged[:] = False
        seen[person[at]] = True
        if flag is not None:
            flagged[person[at & flag]] = True
        pairs += int(seen.sum())
        with_flag += int(flagged.sum())
    return pairs, with_flag


def offending_prevalence(
    people: pd.DataFrame,
    offences: pd.DataFrame,
    start_day: int,
    end_day: int,
    population_10_17: float,
) -> float:
    """The share of 10-17-year-olds who offend in a year, as self-report surveys ask it.

    Distinct children with at least one true offence (detected or not) at ages 10-17 in
    each year of [start_day, end_day), averaged over the years, over the mean number of
    10-17-year-olds. (A survey asks children of 10-17 about the last 12 months; counting
    offences at 10-17 differs from that only at the edges of the age range.)
    """
    w = _WindowOffences.of(people, offences, start_day, end_day)
    child = w.children()
    offenders, _ = _distinct_per_year(w.person[child], w.year[child])
    years = (end_day - start_day) / DAYS_PER_YEAR
    return _rate(offenders / years, population_10_17)


def attrition(
    people: pd.DataFrame, offences: pd.DataFrame, start_day: int, end_day: int
) -> dict[str, float]:
    """Of the offences children (10-17) commit in [start_day, end_day): the share detected
    and the share proven by a caution or conviction (the rest is the dark figure and the
    attrition of the pathway)."""
    w = _WindowOffences.of(people, offences, start_day, end_day)
    rows = w.rows[w.children()]
    proven = offences["proven_day"].to_numpy()[rows]
    disposal = pd.Series(offences["disposal"].to_numpy()[rows], dtype=object, copy=False)
    formal = ~np.isnan(proven) & disposal.isin(FORMAL_KINDS).to_numpy()
    return {
        "detected": _rate(offences["detected"].to_numpy()[rows].astype(bool).sum(), rows.size),
        "proven": _rate(formal.sum(), rows.size),
    }


def disposal_mix(disposals: pd.DataFrame, start_day: int, end_day: int) -> dict[str, float]:
    """Shares of the formal disposals given to children in [start_day, end_day), by kind
    (FORMAL_KINDS: cautions, discharges, fines, referral orders, youth rehabilitation
    orders, custody), as the Youth Justice Statistics break down the cautions and
    sentences given to children."""
    formal = _youth_formal(disposals)
    kinds = formal.loc[_in_window(formal["day"], start_day, end_day), "kind"].astype(str)
    counts = kinds.value_counts()
    return {k: _rate(counts.get(k, 0), len(kinds)) for k in FORMAL_KINDS}


def disposal_tiers(mix: Mapping[str, float]) -> dict[str, float]:
    """A disposal mix (:func:`disposal_mix`) summed into the Youth Justice Statistics'
    tiers: pre-court, first tier, community, custody."""
    tiers = DISPOSAL_TIERS.items()
    return {tier: float(sum(mix.get(k, 0.0) for k in kinds)) for tier, kinds in tiers}


def proven_offence_mix(
    people: pd.DataFrame,
    offences: pd.DataFrame,
    types: np.ndarray,
    start_day: int,
    end_day: int,
) -> dict[str, float]:
    """Shares by type (OFFENCE_TYPES) of the offences children (10-17) committed in
    [start_day, end_day) that were proven by a caution or conviction, as the Youth Justice
    Statistics count proven offences. ``types``: each offence's type code, row for row
    with ``offences`` (a plain array: no label column over every offence)."""
    w = _WindowOffences.of(people, offences, start_day, end_day)
    rows = w.rows[w.children()]
    proven = offences["proven_day"].to_numpy()[rows]
    disposal = pd.Series(offences["disposal"].to_numpy()[rows], dtype=object, copy=False)
    formal = ~np.isnan(proven) & disposal.isin(FORMAL_KINDS).to_numpy()
    counts = np.bincount(np.asarray(types)[rows[formal]], minlength=len(OFFENCE_TYPES))
    return {k: _rate(counts[i], counts.sum()) for i, k in enumerate(OFFENCE_TYPES)}


def disposals_per_year(
    disposals: pd.DataFrame, start_day: int, end_day: int, kinds: tuple[str, ...]
) -> dict[str, float]:
    """Disposals of each kind given to children per year of [start_day, end_day), formal or
    not (community resolutions and diversions included)."""
    child = disposals.loc[
        ~disposals["adult"].astype(bool) & _in_window(disposals["day"], start_day, end_day)
    ]
    counts = child["kind"].astype(str).value_counts()
    years = (end_day - start_day) / DAYS_PER_YEAR
    return {k: float(counts.get(k, 0)) / years for k in kinds}


def co_offending(
    people: pd.DataFrame, offences: pd.DataFrame, start_day: int, end_day: int
) -> dict[str, object]:
    """Co-offending in [start_day, end_day), in both of its units.

    - ``share_of_offences_10_17``: offences by 10-17-year-olds committed with others;
    - ``share_of_offenders_10_17``: children who offended in a year who did so with others
      at least once that year (the unit of most "share who co-offend" figures);
    - ``share_of_offences_by_age``: by single year of age at the offence, 10 to 20 (it
      falls with age in the Cambridge Study: Reiss and Farrington 1991).

    ``offences`` needs person, day and co_group (-1 for an offence committed alone).
    """
    w = _WindowOffences.of(people, offences, start_day, end_day)
    together = offences["co_group"].to_numpy()[w.rows] >= 0
    by_age = {}
    for a in OFFENDING_AGES:  # a loop over 11 ages, not people
        at = w.age == a
        by_age[str(a)] = _rate(together[at].sum(), at.sum())
    child = w.children()
    offenders, with_others = _distinct_per_year(w.person[child], w.year[child], together[child])
    return {
        "share_of_offences_10_17": _rate(together[child].sum(), child.sum()),
        "share_of_offenders_10_17": _rate(with_others, offenders),
        "share_of_offences_by_age": by_age,
    }
