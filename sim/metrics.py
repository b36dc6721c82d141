"""Official youth justice measures computed from a run's recorded events.

These mirror the published statistics (Ministry of Justice proven reoffending, Youth Justice
Board first-time entrants, disproportionality relative rate indices) so model output can be
set beside the real series. They run once at the end of a run, vectorised; nothing here
loops over people. A London run's log holds over 20 million offences, so the measures over
offences work on plain arrays (row numbers, views of the window's rows, marker arrays over
person ids) rather than pandas merges, group-bys and copies of the frame (benchmarks/
README.md, issue 19, "Round 5: the summary").

Time is in integer days throughout. Inputs are the event tables described in each function:

- ``people``: person, sex, ethnic_group, birth_day
- ``offences``: person, day, type, gravity, detected, proven_day (NaN if never proven), disposal
- ``disposals``: person, day, kind, adult
- ``releases``: person, day

Name columns (type, disposal, kind) may be strings or categoricals (a run's frames,
``sim.events``); both give the same results.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from sim.calendar import DAYS_PER_WEEK, WEEKS_PER_YEAR
from sim.events import (
    COURT_DISPOSALS,
    DISCHARGES_AND_FINES,
    FORMAL_DISPOSALS,
    KIND,
    OFFENCE_TYPES,
    REMAND,
    REMANDS,
    Table,
)
from sim.population import (  # youth measures count events before the adult birthday
    ADULT_AGE,
    AGE_OF_RESPONSIBILITY,
    ETHNIC_GROUPS,
)

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
    "first_tier": (*DISCHARGES_AND_FINES, "referral_order"),
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

# MoJ bands for the number of previous proven offences, in order, and the most each of
# them but the last holds.
PREVIOUS_OFFENCE_BANDS: tuple[str, ...] = ("0", "1-2", "3-6", "7-10", "11+")
PREVIOUS_BAND_TOPS: tuple[int, ...] = (0, 2, 6, 10)

# Single years of age reported by offending_rate_by_age (the model follows people to 21).
OFFENDING_AGES: tuple[int, ...] = tuple(range(10, 21))

DAYS_PER_YEAR: float = float(WEEKS_PER_YEAR * DAYS_PER_WEEK)  # the model year: 52 weeks
WHOLE_DAYS_PER_YEAR: int = WEEKS_PER_YEAR * DAYS_PER_WEEK
# Reoffending cohorts are annual, as the MoJ counted them to 2016/17: one model year.
COHORT_DAYS: int = WEEKS_PER_YEAR * DAYS_PER_WEEK
# Since October 2017 the MoJ builds the measure from 3-month cohorts (docs/sources.md,
# moj-reoffending-2016-17): a
# quarter of the model year, 13 weeks. A child can then be indexed four times a year.
QUARTER_COHORT_DAYS: int = COHORT_DAYS // 4

# The MoJ's age bands for children's proven reoffending, by age at the index event.
REOFFENDING_AGE_BANDS: tuple[str, ...] = ("10-14", "15-17")
# The follow-up year in quarters: when reoffenders' first proven reoffence came.
# "Within one month" of the index event, as the MoJ's juvenile bulletins quote it (11% of
# the children who reoffended in 2016/17): 30 days, so 4 model weeks (28 days) count.
ONE_MONTH_DAYS: int = 30

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
# Every stage at which disproportionality is measured (sim.summary): "stop_search" is a
# detected drugs or weapons offence (found by police activity), "gang_listing" being put
# on the police's gangs list. Each counts distinct children (under 18 at the event).
DISPROPORTIONALITY_STAGES: tuple[str, ...] = (
    "stop_search",
    "arrest",
    "formal_disposal",
    "court_sentence",
    "custody",
    "remand_detention",
    "gang_listing",
)
# What each stage's rate is per in ``relative_rate_index`` (the YJB-style chain: each
# stage over the one before it); ``relative_rate_index_per_population`` divides every
# stage by the group's 10-17 population instead.
STAGE_BASE: dict[str, str] = {
    "stop_search": "population",
    "arrest": "population",
    "formal_disposal": "arrest",
    # Of the children cautioned or sentenced, those sentenced at court (the charging
    # decision: out of court or charge, justice.out_of_court_chance_by_group).
    "court_sentence": "formal_disposal",
    "custody": "formal_disposal",
    # Children remanded to youth detention (the court's decision, its odds by group in
    # justice.remand_detention_odds_ratio) per child arrested; counted from the case book
    # (sim/summary.py), as the logs of offences and disposals do not hold remands.
    "remand_detention": "arrest",
    "gang_listing": "gang_members",
}
# Offence types found by police activity rather than reported (sim.justice.PROACTIVE_TYPES).
PROACTIVE_OFFENCE_TYPES: tuple[str, ...] = ("drugs", "weapon")
# Draws of the parametric bootstrap behind each RRI's 95% interval.
RRI_BOOTSTRAP_DRAWS = 2000


def age_in_years(day: np.ndarray | pd.Series, birth_day: np.ndarray | pd.Series) -> np.ndarray:
    """Whole years of age on ``day``, so every measure ages people the same way."""
    day, birth_day = np.asarray(day), np.asarray(birth_day)
    if day.dtype.kind in "iu" and birth_day.dtype.kind in "iu":
        # Whole days: the integer quotient is the floor of the float one (a quotient of
        # integers below 2**40 by 364 is never within rounding of a whole number).
        age = np.subtract(day, birth_day, dtype=np.int64)
        return np.floor_divide(age, WHOLE_DAYS_PER_YEAR, out=age)
    diff = np.asarray(day, dtype=float) - np.asarray(birth_day, dtype=float)
    return np.floor(diff / DAYS_PER_YEAR).astype(np.int64)


def by_person(people: pd.DataFrame, columns: str | list[str]) -> pd.Series | pd.DataFrame:
    """``people.set_index("person")[columns]``: attributes to look up by person id.

    A run's people frame lists the ids 0..n-1 in order; then the index is a RangeIndex,
    so lookups are positional, with no hash table of millions of ids to build and check
    for uniqueness each time (London's summary did that a dozen times, over 3 million),
    and the columns are the people frame's own, not copies: read them, do not write.
    """
    ids = people["person"].to_numpy()
    if np.array_equal(ids, np.arange(ids.size)):
        index = pd.RangeIndex(ids.size, name="person")
        if isinstance(columns, str):
            return people[columns].set_axis(index, copy=False)
        return pd.DataFrame({c: people[c].set_axis(index, copy=False) for c in columns}, copy=False)
    return people.set_index("person")[columns]


def previous_offence_band(counts: np.ndarray | pd.Series) -> np.ndarray:
    """Map previous-offence counts to PREVIOUS_OFFENCE_BANDS, as the MoJ tables group them."""
    n = np.asarray(counts, dtype=np.int64)
    conditions = [n <= top for top in PREVIOUS_BAND_TOPS]
    return np.select(
        conditions, list(PREVIOUS_OFFENCE_BANDS[:4]), default=PREVIOUS_OFFENCE_BANDS[4]
    )


def per_100k(count: float, population: float) -> float:
    """Rate per 100,000 population, the unit of published YJ rates; NaN without population."""
    return _rate(count, population) * 100_000.0


def _in_window(day: pd.Series, start_day: float, end_day: float) -> pd.Series:
    """Half-open window [start_day, end_day), so consecutive periods never double count."""
    return (day >= start_day) & (day < end_day)


def _one_of(column: pd.Series, names: tuple[str, ...]) -> np.ndarray:
    """Mask of the rows of a name column (object or categorical) whose name is in ``names``.

    A categorical is read through its codes: when the names are a run of its categories
    (the formal disposals are), two compares of a byte a row, with no scratch array of
    eight bytes a row as ``isin`` makes.
    """
    if isinstance(column.dtype, pd.CategoricalDtype):
        hit = np.flatnonzero(column.cat.categories.isin(names))
        codes = column.cat.codes.to_numpy()
        if hit.size == 0:
            return np.zeros(codes.size, dtype=bool)
        if hit[-1] - hit[0] + 1 == hit.size:
            return (codes >= hit[0]) & (codes <= hit[-1])
        return np.isin(codes, hit)
    return column.isin(names).to_numpy()


def formally_proven(offences: pd.DataFrame) -> np.ndarray:
    """Mask of the offences proven by a caution or conviction (informal outcomes do not
    prove offences): a proven day and a formal disposal (FORMAL_KINDS)."""
    return _one_of(offences["disposal"], FORMAL_KINDS) & offences["proven_day"].notna().to_numpy()


def _youth_formal_mask(disposals: pd.DataFrame) -> np.ndarray:
    """Mask of the formal disposals given while the person was a child."""
    return _one_of(disposals["kind"], FORMAL_KINDS) & ~disposals["adult"].to_numpy(dtype=bool)


def _youth_formal(disposals: pd.DataFrame) -> pd.DataFrame:
    """Formal disposals given while the person was a child: the youth justice caseload."""
    return disposals.loc[_youth_formal_mask(disposals)]


def _count_names(column: pd.Series) -> pd.Series:
    """Rows of each name in a name column, indexed by name (a categorical's from its codes,
    with no column of strings made; absent names count 0 or are left out)."""
    if isinstance(column.dtype, pd.CategoricalDtype):
        return column.value_counts()
    return column.astype(str).value_counts()


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
        _one_of(disposals["kind"], INDEX_DISPOSAL_KINDS)
        & _in_window(disposals["day"], start_day, end_day).to_numpy()
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
            pd.DataFrame(
                {"person": disp["person"], "day": disp["day"], "kind": disp["kind"].astype(object)}
            ),
            pd.DataFrame({"person": rel["person"], "day": rel["day"], "kind": "custody"}),
        ],
        ignore_index=True,
    )
    rank = events["kind"].map({k: i for i, k in enumerate(INDEX_KINDS)}).to_numpy()
    person = events["person"].to_numpy(dtype=np.int64)
    day = events["day"].to_numpy(dtype=np.int64)
    cohort = (day - start_day) // cohort_days
    # By person, day and the most serious kind first (a stable sort); then each person's
    # first event of each cohort period (a person's periods follow their days: adjacent).
    order = np.lexsort((-rank, day, person))
    person, day, cohort = person[order], day[order], cohort[order]
    first = np.ones(order.size, dtype=bool)
    first[1:] = (person[1:] != person[:-1]) | (cohort[1:] != cohort[:-1])
    return pd.DataFrame(
        {
            "person": person[first],
            "index_day": day[first],
            "index_kind": events["kind"].to_numpy(dtype=object)[order[first]],
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

    proven = np.flatnonzero(formally_proven(offences))  # one pass of the mask, three gathers
    prev_counts, re_counts, first_days = _linked_counts(
        offences["person"].to_numpy()[proven],
        offences["day"].to_numpy()[proven],
        offences["proven_day"].to_numpy()[proven].astype(float),
        index["person"].to_numpy(),
        index["index_day"].to_numpy(),
    )

    attrs = by_person(people, ["sex", "ethnic_group", "birth_day"])
    if isinstance(attrs.index, pd.RangeIndex):  # no hash table of every id to test against
        ids = index["person"].to_numpy()
        missing = (ids < 0) | (ids >= len(attrs))
    else:
        missing = ~index["person"].isin(attrs.index).to_numpy()
    if missing.any():
        raise ValueError(
            f"cohort members missing from people table: {index.loc[missing, 'person'].tolist()}"
        )
    member = attrs.loc[index["person"]]

    age = age_in_years(index["index_day"], member["birth_day"])
    cohort = pd.DataFrame(
        {
            "person": index["person"].to_numpy(dtype=np.int64),
            "index_day": index["index_day"].to_numpy(dtype=np.int64),
            "index_kind": index["index_kind"].to_numpy(dtype=object),
            "previous_offences": prev_counts,
            # Name columns hold the few names themselves, not a string object a row.
            "previous_band": np.asarray(PREVIOUS_OFFENCE_BANDS, dtype=object)[
                np.searchsorted(PREVIOUS_BAND_TOPS, prev_counts, side="left")
            ],
            "age_at_index": age,
            "age_band": np.asarray((*REOFFENDING_AGE_BANDS, "18+"), dtype=object)[
                np.searchsorted((15, 18), age, side="right")
            ],
            "sex": member["sex"].to_numpy(dtype=object),
            "ethnic_group": member["ethnic_group"].to_numpy(dtype=object),
            "reoffences": re_counts,
            "reoffended": re_counts > 0,
            "first_reoffence_days": first_days,
        },
        columns=list(_COHORT_COLUMNS),
    )
    return ReoffendingResult(cohort=cohort.reset_index(drop=True))


def _linked_counts(
    person: np.ndarray,
    day: np.ndarray,
    proven_day: np.ndarray,
    index_person: np.ndarray,
    index_day: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For each index event (``index_person``, ``index_day``), over the proven offences
    (``person``, ``day`` committed, ``proven_day``): the offences proven before the index
    day, the reoffences (committed in the FOLLOW_UP_DAYS after the index, index day
    excluded, and proven within a further WAITING_DAYS), and the days from the index to
    the first reoffence (NaN: none).

    Each offence is found among its person's by bisection: a key per offence, its person
    (numbered densely) times a width plus the rank of its day among the distinct days,
    sorted once. (Pairing every proven offence with every index event of its person, as a
    merge does, held London's ten years' offences once per index: 1.5 GB.)
    """
    n = index_person.size
    code, n_codes = _dense(person)
    if code is person:  # the ids are the codes
        known = (index_person >= 0) & (index_person < n_codes)
        at = index_person
    else:
        persons = np.unique(person)
        at = np.searchsorted(persons, index_person)
        known = at < persons.size
        known[known] = persons[at[known]] == index_person[known]
    # An index person with no proven offence gets a negative key base: nothing is found.
    icode = np.where(known, at, -1)

    def person_keys(values: np.ndarray) -> tuple[np.ndarray, int, Callable[..., np.ndarray]]:
        """A key per offence, its person's code times a width plus the rank of its value,
        the width, and the rank bound of a query (searchsorted's sides: below it, or at
        most it). Whole days are their own ranks, shifted; other values are ranked among
        the distinct ones."""
        whole = values.astype(np.int64) if values.dtype.kind == "f" else values
        if values.size and (values.dtype.kind in "iu" or np.array_equal(whole, values)):
            low = int(whole.min())
            width = int(whole.max()) - low + 2

            def bound(query: np.ndarray, side: str) -> np.ndarray:
                return np.clip(query - low + (side == "right"), 0, width - 1)

            return code * width + (whole - low), width, bound
        levels = np.unique(values)

        def rank(query: np.ndarray, side: str) -> np.ndarray:
            return np.searchsorted(levels, query, side=side)

        return code * (levels.size + 1) + rank(values, "left"), levels.size + 1, rank

    keys, width, bound = person_keys(proven_day)
    keys.sort()
    base = icode * width
    previous = np.searchsorted(keys, base + bound(index_day, "left")) - np.searchsorted(keys, base)

    keys, width, bound = person_keys(day)
    order = np.argsort(keys)  # equal keys are one person's offences of one day: any order
    keys = keys[order]
    base = icode * width
    follow_end = index_day + FOLLOW_UP_DAYS
    lo = np.searchsorted(keys, base + bound(index_day, "right"))
    hi = np.searchsorted(keys, base + bound(follow_end, "right"))
    # Each event's candidates (committed in its follow-up), in the order of their days.
    span = hi - lo
    event = np.repeat(np.arange(n), span)
    rows = order[np.arange(event.size) + np.repeat(lo - (np.cumsum(span) - span), span)]
    ok = proven_day[rows] <= (follow_end + WAITING_DAYS)[event]
    reoffences = np.bincount(event[ok], minlength=n).astype(np.int64)
    event, rows = event[ok], rows[ok]
    head = np.ones(event.size, dtype=bool)  # each event's earliest reoffence
    head[1:] = event[1:] != event[:-1]
    first = np.full(n, np.nan)
    first[event[head]] = day[rows[head]] - index_day[event[head]]
    return previous.astype(np.int64), reoffences, first


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
    formal = _youth_formal_mask(disposals)
    code, n = _dense(disposals["person"].to_numpy()[formal])
    day = disposals["day"].to_numpy()[formal]
    # A first formal day in the window: one in the window and none before (marker arrays).
    before = np.zeros(n, dtype=bool)
    before[code[day < start_day]] = True
    within = np.zeros(n, dtype=bool)
    within[code[(day >= start_day) & (day < end_day)]] = True
    return int((within & ~before).sum())


def children_cautioned_or_sentenced(disposals: pd.DataFrame, start_day: int, end_day: int) -> int:
    """Distinct children given a formal disposal in [start_day, end_day) (the YJ caseload)."""
    day = disposals["day"].to_numpy()
    counted = _youth_formal_mask(disposals) & (day >= start_day) & (day < end_day)
    return len(pd.unique(disposals["person"].to_numpy()[counted]))


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
    w = _WindowOffences.of(people, offences, start_day, end_day)
    code, n = _dense(w.person)
    seen = np.zeros(n, dtype=bool)
    out: dict[str, float] = {}
    for age in OFFENDING_AGES:  # distinct offenders of each age: marker arrays, not a sort
        years = exposure.get(age, 0.0)
        if years > 0:
            seen[:] = False
            seen[code[w.age == age]] = True
            out[str(age)] = float(seen.sum()) / years
        else:
            out[str(age)] = float("nan")
    return out


def _rate(numerator: float, denominator: float) -> float:
    """numerator / denominator, NaN when the denominator is zero or missing."""
    if denominator is None or not denominator > 0:
        return float("nan")
    return float(numerator) / float(denominator)


def stage_children(
    people: pd.DataFrame,
    offences: pd.DataFrame,
    disposals: pd.DataFrame,
    start_day: int,
    end_day: int,
    youth_only: bool = True,
) -> dict[str, pd.Series]:
    """Distinct people with each stage's event in [start_day, end_day), by ethnic group.

    - stop_search: a detected drugs or weapons offence (by day committed; needs the
      offences' ``type``, else the stage is left out);
    - arrest: a detected offence (by day committed);
    - formal_disposal: a formal youth disposal; court_sentence: a youth court sentence
      (a formal disposal that is not a caution); custody: a custodial sentence.

    With ``youth_only`` (default) offences count only before the 18th birthday and
    custody only youth sentences, so every stage is about children.
    """
    group_of = by_person(people, "ethnic_group")
    birth = by_person(people, "birth_day")

    # The detected offences' columns picked one at a time: ``.loc`` with a list of columns
    # copied those columns of every offence first.
    detected = offences["detected"].to_numpy(dtype=bool)
    picked = detected & _in_window(offences["day"], start_day, end_day).to_numpy()
    columns = [c for c in ("person", "day", "type") if c in offences.columns]
    arrests = pd.DataFrame({c: offences[c].array[picked] for c in columns})
    if youth_only:
        age = (arrests["day"] - arrests["person"].map(birth)) / DAYS_PER_YEAR
        arrests = arrests.loc[np.floor(age) < ADULT_AGE]
    window_disp = disposals.loc[_in_window(disposals["day"], start_day, end_day)]
    formal = _youth_formal(window_disp)
    court = formal.loc[_one_of(formal["kind"], COURT_DISPOSALS)]
    custody = window_disp.loc[window_disp["kind"] == "custody"]
    if youth_only:
        custody = custody.loc[~custody["adult"].astype(bool)]

    def people_per_group(events: pd.DataFrame) -> pd.Series:
        persons = pd.Series(events["person"].unique())
        return persons.map(group_of).value_counts()

    counts = {}
    if "type" in arrests.columns:
        proactive = _one_of(arrests["type"], PROACTIVE_OFFENCE_TYPES)
        counts["stop_search"] = people_per_group(arrests.loc[proactive])
    counts["arrest"] = people_per_group(arrests)
    counts["formal_disposal"] = people_per_group(formal)
    counts["court_sentence"] = people_per_group(court)
    counts["custody"] = people_per_group(custody)
    return counts


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

    Stage rates, each over distinct people of the group with events in [start_day, end_day)
    (:func:`stage_children`):

    - arrest: people with a detected offence (by day committed) per head of population;
    - formal_disposal: people with a formal youth disposal per arrested person;
    - custody: people sentenced to custody per person with a formal disposal.

    RRI = group rate / reference-group rate, NaN where either is undefined or the reference
    rate is zero. Returns stage -> group -> RRI for every group in population_by_group or
    people. (:func:`disproportionality` adds the other stages and intervals.)
    """
    counts = stage_children(people, offences, disposals, start_day, end_day, youth_only)
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


def disproportionality(
    counts: Mapping[str, Mapping[str, float]],
    population_by_group: Mapping[str, float],
    gang_members_by_group: Mapping[str, float] | None = None,
    reference: str = "White",
    seed: int = 0,
    draws: int = RRI_BOOTSTRAP_DRAWS,
) -> dict[str, dict]:
    """Relative rate indices at every stage, each with a 95% interval.

    ``counts``: stage -> group -> distinct children at that stage (:func:`stage_children`
    plus "gang_listing"); ``population_by_group``: mean 10-17 population; with
    ``gang_members_by_group`` (mean gang members aged 10-17) the gang-listing stage is
    also read per member. Returns

    - ``relative_rate_index``: stage -> group -> RRI, each stage's rate over its base
      (:data:`STAGE_BASE`: population, the stage before, or gang members);
    - ``relative_rate_index_per_population``: every stage per head of population;
    - ``..._interval`` of each: stage -> group -> {"low", "high"}, the 2.5th and 97.5th
      percentiles of a parametric bootstrap within the run: population-based counts
      redrawn as Poisson, each later stage of the chain as binomial out of the redrawn
      stage before. It is the sampling noise of the run's children (treated as
      independent: families and co-offending make it somewhat narrow), not the spread
      over seeds. ``seed`` makes it reproducible.
    """
    groups = list(population_by_group)
    if reference not in groups:
        groups.append(reference)
    stages = [s for s in DISPROPORTIONALITY_STAGES if s in counts]
    pop = np.array([float(population_by_group.get(g, np.nan)) for g in groups])
    members = np.array(
        [float((gang_members_by_group or {}).get(g, np.nan)) for g in groups], dtype=float
    )
    observed = {s: np.array([float(counts[s].get(g, 0)) for g in groups]) for s in stages}
    rng = np.random.default_rng([seed, 17])  # the summary's own draws, not the model's
    drawn: dict[str, np.ndarray] = {}
    for s in stages:  # in chain order, so a stage's base is drawn before it
        base = STAGE_BASE[s]
        k = observed[s]
        if base in observed and base in drawn:
            n_obs = observed[base]
            share = np.divide(k, n_obs, out=np.zeros_like(k), where=n_obs > 0)
            drawn[s] = rng.binomial(drawn[base].astype(np.int64), np.clip(share, 0, 1))
        else:
            drawn[s] = rng.poisson(k, size=(draws, k.size))
    ref = groups.index(reference)

    def rri(rate: np.ndarray) -> np.ndarray:
        with np.errstate(divide="ignore", invalid="ignore"):
            out = rate / rate[..., ref : ref + 1]
        return np.where(np.isfinite(out), out, np.nan)

    def base_of(s: str, values: dict[str, np.ndarray], per_population: bool) -> np.ndarray:
        base = "population" if per_population else STAGE_BASE[s]
        if base == "population":
            return pop
        if base == "gang_members":
            return members
        return values[base] if base in values else np.full(len(groups), np.nan)

    def table(rates: np.ndarray) -> dict[str, float]:
        return {g: float(v) for g, v in zip(groups, rates, strict=True)}

    def interval(samples: np.ndarray) -> dict[str, dict[str, float]]:
        out = {}
        for i, g in enumerate(groups):
            col = samples[:, i]
            col = col[np.isfinite(col)]
            lo, hi = np.percentile(col, [2.5, 97.5]) if col.size else (np.nan, np.nan)
            out[g] = {"low": float(lo), "high": float(hi)}
        return out

    result: dict[str, dict] = {}
    for per_population, key in (
        (False, "relative_rate_index"),
        (True, "relative_rate_index_per_population"),
    ):
        point, spread = {}, {}
        for s in stages:
            with np.errstate(divide="ignore", invalid="ignore"):
                rate = observed[s] / base_of(s, observed, per_population)
                rates = drawn[s] / base_of(s, drawn, per_population)
            point[s] = table(rri(rate))
            spread[s] = interval(rri(rates))
        result[key] = point
        result[f"{key}_interval"] = spread
    return result


def true_and_proven_offences(
    offences: pd.DataFrame, start_day: int, end_day: int
) -> dict[str, int]:
    """Offences committed in [start_day, end_day): all ("true") and those later proven.

    "proven" counts offences committed in the window that were disposed of by a caution or
    conviction at any time, so the gap between the two is the model's dark figure plus
    attrition.
    """
    window = _in_window(offences["day"], start_day, end_day).to_numpy()  # no copy of the rows
    return {"true": int(window.sum()), "proven": int((formally_proven(offences) & window).sum())}


def time_to_first_reoffence(cohort: pd.DataFrame) -> dict[str, float]:
    """When reoffenders reoffended: mean and median days from the index event to the first
    proven reoffence, the share whose first came within one month (ONE_MONTH_DAYS), and the
    share in each quarter of the follow-up year (FIRST_REOFFENCE_QUARTERS), as the MoJ's
    time-to-reoffence tables group it."""
    days = cohort["first_reoffence_days"].dropna().to_numpy(dtype=float)
    out: dict[str, float] = {
        "mean_days": float(days.mean()) if days.size else float("nan"),
        "median_days": float(np.median(days)) if days.size else float("nan"),
        "within_one_month": float((days <= ONE_MONTH_DAYS).mean()) if days.size else float("nan"),
    }
    quarter = np.minimum((days - 1) // (FOLLOW_UP_DAYS / 4), 3)  # day 365 is in the last
    for q, name in enumerate(FIRST_REOFFENCE_QUARTERS):
        out[name] = float((quarter == q).mean()) if days.size else float("nan")
    return out


def _dense(ids: np.ndarray) -> tuple[np.ndarray, int]:
    """Ids as codes 0..n-1 (equal ids, equal codes) and n: the ids themselves when they are
    small non-negative integers (a run's people, its co-offending groups), else their ranks
    (a sort). "Small": below four per id given plus 4 million, so that marker arrays and
    counts as long as the largest id stay cheap."""
    if (
        ids.size
        and ids.dtype.kind in "iu"
        and ids.min() >= 0
        and ids.max() < 4 * ids.size + (1 << 22)
    ):
        return ids, int(ids.max()) + 1
    uniques, codes = np.unique(ids, return_inverse=True)
    return codes, uniques.size


def _member(values: np.ndarray, members: np.ndarray) -> np.ndarray:
    """``np.isin(values, members)``; for small non-negative integer ids, a marker array."""
    ints = values.dtype.kind in "iu" and members.dtype.kind in "iu"
    if ints and values.size and min(values.min(), members.min(initial=0)) >= 0:
        top = max(int(values.max()), int(members.max(initial=0)))
        if top < 4 * (values.size + members.size) + (1 << 22):
            marker = np.zeros(top + 1, dtype=bool)
            marker[members] = True
            return marker[values]
    return np.isin(values, members)


def _birth_days(people: pd.DataFrame, person: np.ndarray) -> np.ndarray:
    """The birth day of each of ``person`` (ids), from the people table: a fresh array."""
    birth = by_person(people, "birth_day")
    if isinstance(birth.index, pd.RangeIndex):  # ids 0..n-1: a person is their row
        if person.size and (person.max() >= len(birth) or person.min() < 0):
            raise ValueError("offences refer to people missing from the people table")
        return birth.to_numpy()[person]
    born = np.array(birth.reindex(person).to_numpy())  # a copy: callers may write to it
    if np.isnan(born.astype(float)).any():
        raise ValueError("offences refer to people missing from the people table")
    return born


def window_rows(day: np.ndarray, start_day: float, end_day: float) -> slice | np.ndarray:
    """The rows of ``day`` in [start_day, end_day): a slice when they are contiguous (as in
    a run's event log, which is in time order: then ``column[rows]`` is a view, not a
    copy), else their row numbers."""
    inside = (day >= start_day) & (day < end_day)
    n = int(np.count_nonzero(inside))
    first = int(inside.argmax()) if n else 0
    return slice(first, first + n) if inside[first : first + n].all() else inside.nonzero()[0]


def _ages(people: pd.DataFrame, person: np.ndarray, day: np.ndarray) -> np.ndarray:
    """Each of ``person``'s whole years of age on ``day`` (:func:`age_in_years`), as int16,
    worked out in the birth days' own array (no scratch arrays of eight bytes a row)."""
    born = _birth_days(people, person)
    if born.dtype == np.int64 and day.dtype.kind in "iu":
        np.subtract(day, born, out=born)
        return np.floor_divide(born, WHOLE_DAYS_PER_YEAR, out=born).astype(np.int16)
    return age_in_years(day, born).astype(np.int16)


@dataclass(frozen=True)
class _WindowOffences:
    """The offences committed in a window: their rows of the offence table (a slice when
    they are contiguous, as in a run's log, which is in time order: then ``column[rows]``
    is a view, not a copy), the offender, their age then and the window's year (0, 1,
    ...). Ages and years are int16 (whole years: two bytes a row where int64 took eight)."""

    rows: slice | np.ndarray
    person: np.ndarray
    age: np.ndarray
    year: np.ndarray

    @classmethod
    def of(
        cls, people: pd.DataFrame, offences: pd.DataFrame, start_day: int, end_day: int
    ) -> _WindowOffences:
        day = offences["day"].to_numpy()
        rows = window_rows(day, start_day, end_day)
        person = offences["person"].to_numpy()[rows]
        day = day[rows]
        age = _ages(people, person, day)
        if day.dtype.kind in "iu" and float(start_day).is_integer():
            # Whole days: the integer quotient is the floor of the float one.
            year = np.subtract(day, int(start_day), dtype=np.int64)
            np.floor_divide(year, WHOLE_DAYS_PER_YEAR, out=year)
        else:
            year = (day - start_day) // DAYS_PER_YEAR
        return cls(rows, person, age, year.astype(np.int16))

    def children(self) -> np.ndarray:
        """Mask of the offences committed at 10-17."""
        return self.age < ADULT_AGE


def _distinct_per_year(
    person: np.ndarray, year: np.ndarray, keep: np.ndarray, flag: np.ndarray | None = None
) -> tuple[int, int]:
    """Over the years, of the rows ``keep`` picks: distinct (person, year) pairs, and those
    of them with ``flag`` on at least one row (0 without a flag). Marker arrays, one year at
    a time (a loop over years, not people)."""
    if not keep.any():
        return 0, 0
    person, n = _dense(person)
    seen = np.zeros(n, dtype=bool)
    flagged = np.zeros_like(seen)
    pairs = with_flag = 0
    for y in np.unique(year[keep]):
        at = keep & (year == y)
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
    offenders, _ = _distinct_per_year(w.person, w.year, child)
    years = (end_day - start_day) / DAYS_PER_YEAR
    return _rate(offenders / years, population_10_17)


# A "frequent offender" in the Offending, Crime and Justice Survey: six or more offences
# in the last 12 months (ocjs-2005).
FREQUENT_OFFENCES_PER_YEAR = 6


def offending_frequency(
    people: pd.DataFrame,
    offences: pd.DataFrame,
    start_day: int,
    end_day: int,
    population_10_17: float,
) -> dict[str, float]:
    """How concentrated 10-17s' offending is, in the survey's terms.

    For each year of [start_day, end_day), each child's true offences at 10-17 in that
    year: ``frequent_share`` is the mean number of children with FREQUENT_OFFENCES_PER_YEAR
    or more, over the mean number of 10-17-year-olds (the survey's 7-8% of 10-25s);
    ``frequent_offence_share`` is the share of all those offences that such children
    committed (the survey's "more than 80%").
    """
    w = _WindowOffences.of(people, offences, start_day, end_day)
    child = w.children()
    if not child.any():
        return {"frequent_share": 0.0, "frequent_offence_share": float("nan")}
    # Offences per (person, year) pair: each year's counted per person (whole numbers,
    # summed exactly in any order).
    code, n = _dense(w.person)
    frequent_pairs = frequent_offences = all_offences = 0
    for y in np.unique(w.year[child]):  # a loop over years, not people
        counts = np.bincount(code[child & (w.year == y)], minlength=n)
        frequent = counts >= FREQUENT_OFFENCES_PER_YEAR
        frequent_pairs += int(frequent.sum())
        frequent_offences += int(counts[frequent].sum())
        all_offences += int(counts.sum())
    years = (end_day - start_day) / DAYS_PER_YEAR
    return {
        "frequent_share": _rate(frequent_pairs / years, population_10_17),
        "frequent_offence_share": float(np.int64(frequent_offences) / np.int64(all_offences)),
    }


# Bands of the age at onset (first offence at 10-17), early to late.
ONSET_BANDS: tuple[str, ...] = ("10-12", "13-14", "15-17")


def onset_and_persistence(
    people: pd.DataFrame, offences: pd.DataFrame, start_day: int, end_day: int
) -> dict[str, dict[str, float]]:
    """Early onset and persistence, over the children who turn 18 in [start_day, end_day)
    (their whole 10-17 record is in the log once the burn-in is 8 years or more).

    For each band of age at the first offence (ONSET_BANDS), in two records:
    - ``true``: age at the first true offence; per band the share of these children's
      offenders who started then, their mean true offences at 10-17, and the share of
      them still offending at 17;
    - ``proven``: age at the first proven offence (a caution or conviction); per band
      the share of those with a record, and their mean proven offences at 10-17.
    Early starters commit more offences in both records (Farrington et al. 2003); a
    pattern to check, not a target.
    """
    birth = by_person(people, "birth_day")
    born = birth.to_numpy(dtype=float)
    ids = birth.index.to_numpy()
    turns_18 = born + ADULT_AGE * DAYS_PER_YEAR
    cohort = ids[(turns_18 >= start_day) & (turns_18 < end_day)]
    del birth, born, ids, turns_18  # people-sized scratch, not held through the rest
    person = offences["person"].to_numpy()
    mine = _member(person, cohort)  # a mask over the log, a byte a row
    who = person[mine]
    age = _ages(people, who, offences["day"].to_numpy()[mine])
    child = (age >= AGE_OF_RESPONSIBILITY) & (age < ADULT_AGE)
    proven = formally_proven(offences)[mine][child]  # of the offences at 10-17
    who, age = who[child], age[child]
    out: dict[str, dict[str, float]] = {"true": {}, "proven": {}}
    for record, offender_of, at_age in (("true", who, age), ("proven", who[proven], age[proven])):
        # Each offender's first and last age (10-17: marker arrays, an age at a time, each
        # write of a step the same value) and count of offences, by person code.
        code, n = _dense(offender_of)
        size = np.bincount(code, minlength=n)
        first = np.zeros(n, dtype=np.int64)
        last = np.zeros(n, dtype=np.int64)
        ages = range(int(AGE_OF_RESPONSIBILITY), int(ADULT_AGE))
        for a in reversed(ages):
            first[code[at_age == a]] = a
        for a in ages:
            last[code[at_age == a]] = a
        offender = size > 0
        size, first, last = size[offender], first[offender], last[offender]
        band = np.digitize(first, [13, 15])  # 10-12 -> 0, 13-14 -> 1, 15-17 -> 2
        starters = size.size
        for b, name in enumerate(ONSET_BANDS):  # a loop over three bands, not people
            at = band == b
            out[record][f"{name} share"] = _rate(at.sum(), starters)
            out[record][f"{name} mean offences"] = (
                float(size[at].mean()) if at.any() else float("nan")
            )
            if record == "true":
                out[record][f"{name} offending at 17"] = _rate(
                    (last[at] >= ADULT_AGE - 1).sum(), at.sum()
                )
    return out


def attrition(
    people: pd.DataFrame, offences: pd.DataFrame, start_day: int, end_day: int
) -> dict[str, float]:
    """Of the offences children (10-17) commit in [start_day, end_day): the share detected
    and the share proven by a caution or conviction (the rest is the dark figure and the
    attrition of the pathway)."""
    w = _WindowOffences.of(people, offences, start_day, end_day)
    child = w.children()
    n = int(child.sum())
    formal = formally_proven(offences)[w.rows][child]
    detected = offences["detected"].to_numpy()[w.rows][child]
    return {
        "detected": _rate(detected.astype(bool).sum(), n),
        "proven": _rate(formal.sum(), n),
    }


def disposal_mix(disposals: pd.DataFrame, start_day: int, end_day: int) -> dict[str, float]:
    """Shares of the formal disposals given to children in [start_day, end_day), by kind
    (FORMAL_KINDS: cautions, discharges, fines, referral orders, youth rehabilitation
    orders, custody), as the Youth Justice Statistics break down the cautions and
    sentences given to children."""
    formal = _youth_formal(disposals)
    kinds = formal.loc[_in_window(formal["day"], start_day, end_day), "kind"]
    counts = _count_names(kinds)
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
    formal = formally_proven(offences)[w.rows] & w.children()
    counts = np.bincount(np.asarray(types)[w.rows][formal], minlength=len(OFFENCE_TYPES))
    return {k: _rate(counts[i], counts.sum()) for i, k in enumerate(OFFENCE_TYPES)}


def disposals_per_year(
    disposals: pd.DataFrame, start_day: int, end_day: int, kinds: tuple[str, ...]
) -> dict[str, float]:
    """Disposals of each kind given to children per year of [start_day, end_day), formal or
    not (community resolutions and diversions included)."""
    child = disposals.loc[
        ~disposals["adult"].astype(bool) & _in_window(disposals["day"], start_day, end_day)
    ]
    counts = _count_names(child["kind"])
    years = (end_day - start_day) / DAYS_PER_YEAR
    return {k: float(counts.get(k, 0)) / years for k in kinds}


def co_offending(
    people: pd.DataFrame, offences: pd.DataFrame, start_day: int, end_day: int
) -> dict[str, object]:
    """Co-offending in [start_day, end_day), in both of its units.

    - ``share_of_offences_10_17``: offences (incidents) by 10-17-year-olds committed with
      others, the unit of the meta-analyses' "share of offences" (0.29 over all ages);
    - ``share_of_offenders_10_17``: children who offended in a year who did so with others
      at least once that year (the unit of most "share who co-offend" figures);
    - ``share_of_offences_by_age``: by single year of age at the offence, 10 to 20 (it
      falls with age in the Cambridge Study: Reiss and Farrington 1991).

    The event log has a row per person in an offence, so an offence by a group of k is
    k rows: each row counts 1/k of an incident (a group of children and adults counts
    the children's share).

    ``offences`` needs person, day and co_group (-1 for an offence committed alone).
    """
    w = _WindowOffences.of(people, offences, start_day, end_day)
    group = offences["co_group"].to_numpy()[w.rows]
    together = group >= 0
    weight = np.ones(group.size)
    if together.any():
        code, n = _dense(group[together])
        weight[together] = 1.0 / np.bincount(code, minlength=n)[code]
    by_age = {}
    for a in OFFENDING_AGES:  # a loop over 11 ages, not people
        at = w.age == a
        by_age[str(a)] = _rate(weight[at & together].sum(), weight[at].sum())
    child = w.children()
    offenders, with_others = _distinct_per_year(w.person, w.year, child, together)
    return {
        "share_of_offences_10_17": _rate(weight[child & together].sum(), weight[child].sum()),
        "share_of_offenders_10_17": _rate(with_others, offenders),
        "share_of_offences_by_age": by_age,
    }


def heard_youth_cases(
    cases: Table | Mapping[str, np.ndarray], start_week: int, end_week: int
) -> np.ndarray:
    """Mask of children's charged cases whose court outcome fell in [start_week,
    end_week) and whose remand was decided (the cases the remand measures count)."""
    c = cases
    window = (c["due_week"] >= start_week) & (c["due_week"] < end_week)
    return window & c["charged"] & ~c["adult"] & (c["remand"] >= 0)


def remanded_children_by_group(
    cases: Table | Mapping[str, np.ndarray],
    ethnic: np.ndarray,
    start_week: int,
    end_week: int,
) -> pd.Series:
    """Distinct children remanded to youth detention on the cases heard in the window
    (:func:`heard_youth_cases`), by ethnic group; ``ethnic`` holds each person's group."""
    heard = heard_youth_cases(cases, start_week, end_week)
    heard &= cases["remand"] == REMAND["youth_detention"]
    persons = np.unique(cases["person"][heard])
    counts = np.bincount(ethnic[persons], minlength=len(ETHNIC_GROUPS))
    return pd.Series(counts, index=list(ETHNIC_GROUPS))


def remand_episodes(
    cases: Table | Mapping[str, np.ndarray], start_week: int, end_week: int
) -> dict[str, dict[str, float]]:
    """Children's charged cases heard in [start_week, end_week) (by the week of the
    court's outcome): the shares remanded on bail, to the community and to youth
    detention, and what became of those remanded to youth detention (acquitted,
    custody, another sentence), as the Youth Justice Statistics report remand.

    ``cases``: the police's case table (``CaseBook.cases``, sim/justice.py) or any mapping
    with its columns due_week, charged, adult, remand and kind.
    """
    c = cases
    heard = heard_youth_cases(c, start_week, end_week)
    remand = c["remand"][heard].astype(np.int64)
    counts = np.bincount(remand, minlength=len(REMANDS))
    total = max(int(counts.sum()), 1)
    kind = c["kind"][heard][remand == REMAND["youth_detention"]]
    n = max(kind.size, 1)
    acquitted = int((kind == KIND["acquittal"]).sum())
    custody = int((kind == KIND["custody"]).sum())
    return {
        "episode_shares": {r: float(counts[i] / total) for i, r in enumerate(REMANDS)},
        "youth_detention_outcomes": {
            "acquittal": acquitted / n,
            "custody": custody / n,
            "other_sentence": (kind.size - acquitted - custody) / n,
        },
    }
