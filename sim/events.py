"""Recorded events: offences, disposals, custody releases, as growable columns.

The step appends a few hundred rows a week at most; arrays double when full,
so appending stays cheap and nothing is a Python object per event. Metrics
read the log once, at the end of a run, as pandas DataFrames.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from sim.calendar import DAYS_PER_WEEK

OFFENCE_TYPES = ("minor", "drugs", "violence", "robbery", "weapon")
OFFENCE_TYPE = {name: i for i, name in enumerate(OFFENCE_TYPES)}

# Disposals in order of escalation. "diversion" is a case claimed at the police decision
# by an intervention (triage, say: the case records which one), with no formal record.
# "acquittal" is a charged case the court does not convict (acquitted, dismissed or
# withdrawn): no record. The court's sentences run from the first tier (discharges,
# fines, referral orders) through the community (youth rehabilitation order) to custody.
DISPOSALS = (
    "nfa",
    "diversion",
    "community_resolution",
    "acquittal",
    "youth_caution",
    "youth_conditional_caution",
    "absolute_discharge",
    "conditional_discharge",
    "fine",
    "referral_order",
    "youth_rehabilitation_order",
    "custody",
)
KIND = {name: i for i, name in enumerate(DISPOSALS)}
# The one definition of "formal": a caution or a court sentence. Only these make a
# first-time entrant, count as "cautioned or sentenced" and make an offence proven.
FIRST_FORMAL_KIND = KIND["youth_caution"]
FORMAL_DISPOSALS: tuple[str, ...] = DISPOSALS[FIRST_FORMAL_KIND:]
# Sentences of the youth court (convictions); an acquittal is not one.
FIRST_COURT_KIND = KIND["absolute_discharge"]
COURT_DISPOSALS: tuple[str, ...] = DISPOSALS[FIRST_COURT_KIND:]
OUT_OF_COURT_DISPOSALS: tuple[str, ...] = (
    "community_resolution",
    "youth_caution",
    "youth_conditional_caution",
)
# The first-tier sentences other than the referral order, in the order of
# ``JusticeParams.first_tier_shares``.
DISCHARGES_AND_FINES: tuple[str, ...] = ("absolute_discharge", "conditional_discharge", "fine")
# Where a charged child waits for the court's outcome (sim/justice.py, YouthCourt.remand).
REMANDS = ("bail", "community_remand", "youth_detention")
REMAND = {name: i for i, name in enumerate(REMANDS)}


def is_formal(kind: np.ndarray) -> np.ndarray:
    """Mask of disposal codes (``KIND`` values) that are formal: a caution or a sentence."""
    return np.asarray(kind) >= FIRST_FORMAL_KIND


def labels(names: tuple[str, ...] | np.ndarray, codes: np.ndarray) -> pd.Series:
    """The names of ``codes`` as an object column for a frame.

    Given to ``pd.DataFrame`` as a bare object array, the column is first checked for
    dates and numbers with scratch arrays of every type (~40 bytes a row: 0.5 GB for
    London's offences); a Series that says its dtype is taken as it is.
    """
    return pd.Series(np.asarray(names, dtype=object)[codes], dtype=object, copy=False)


def categories(names: tuple[str, ...], codes: np.ndarray) -> pd.Series:
    """The names of ``codes`` (indices into ``names``) as a categorical column.

    A byte a row (the codes as given, when they are int8) where an object column holds
    a pointer of eight; comparing and ``isin`` read the codes, not strings. Every code
    must be a valid index into ``names``.
    """
    dtype = pd.CategoricalDtype(pd.Index(list(names), dtype=object))
    return pd.Series(pd.Categorical.from_codes(codes, dtype=dtype), copy=False)


def _narrow(days: np.ndarray) -> np.ndarray:
    """Float days as float32 when that holds each of them exactly (whole days below 2**24
    do), else as they are: half the memory, and every comparison with an integer day is
    made in float64, so its result is the same."""
    small = days.astype(np.float32)
    return small if np.array_equal(small, days, equal_nan=True) else days


def _read_only(column: np.ndarray) -> np.ndarray:
    """A view of ``column`` that cannot be written through (the log itself stays writable)."""
    view = column.view()
    view.flags.writeable = False
    return view


class Table:
    """A columnar table that grows by doubling; ``n`` rows are valid."""

    def __init__(self, columns: dict[str, str], capacity: int = 1024) -> None:
        self.columns = columns
        self.n = 0
        self.data = {name: np.zeros(capacity, dtype=dt) for name, dt in columns.items()}

    def append(self, **values: np.ndarray) -> np.ndarray:
        """Append rows (all columns given as equal-length arrays); returns their row ids."""
        k = len(next(iter(values.values())))
        if self.n + k > len(next(iter(self.data.values()))):
            new_cap = max(2 * (self.n + k), 1024)
            for name, arr in self.data.items():
                grown = np.zeros(new_cap, dtype=arr.dtype)
                grown[: self.n] = arr[: self.n]
                self.data[name] = grown
        rows = np.arange(self.n, self.n + k)
        for name in self.columns:
            self.data[name][rows] = values[name]
        self.n += k
        return rows

    def __getitem__(self, name: str) -> np.ndarray:
        return self.data[name][: self.n]

    def keep(self, mask: np.ndarray) -> None:
        """Keep only the valid rows where ``mask`` is true (for small queues)."""
        k = int(mask.sum())
        for arr in self.data.values():
            arr[:k] = arr[: self.n][mask]
        self.n = k

    def first_row_of_week(self, week: int) -> int:
        """The first row whose ``week`` is ``week`` or later (rows are appended in week
        order: each week's after the last's), ``n`` if there is none.

        The bisection is made in the column's own type (int32): given a Python int,
        numpy first converts the whole column to int64, a pass over every row of the
        log (0.2 ms at 400,000 rows against 1.4 us; London's log reaches 22 million).
        """
        weeks = self["week"]
        return int(np.searchsorted(weeks, weeks.dtype.type(week), side="left"))

    def set(self, name: str, rows: np.ndarray, values) -> None:
        self.data[name][rows] = values

    def frame(self) -> pd.DataFrame:
        return pd.DataFrame({name: self[name].copy() for name in self.columns})


class EventLog:
    """Everything that happened in a run that the measures need."""

    def __init__(self) -> None:
        self.offences = Table(
            {
                "person": "i8",
                "week": "i4",
                "type": "i1",
                "gravity": "i1",
                "co_group": "i8",  # offences committed together share a group id (-1 alone)
                "detected": "?",
                "case": "i8",  # -1 until detected
                "proven_week": "f8",  # NaN unless proven by caution or conviction
                "disposal": "i1",  # KIND of the disposal that dealt with it, -1 none
            }
        )
        self.disposals = Table(
            {"person": "i8", "week": "i4", "kind": "i1", "adult": "?", "offences": "i4"}
        )
        self.releases = Table({"person": "i8", "week": "i4"})
        self.victimisations = Table({"person": "i8", "week": "i4", "offence": "i8"})

    # -- frames for the measures (days, names) ----------------------------
    # The offences frame's person, detected and co_group are read-only views of the log's
    # own columns (0.4 GB of copies for London's 22 million offences); its other columns,
    # and the other frames', are fresh arrays. The frames are built with copy=False: pandas
    # would otherwise stack same-typed columns into one block, holding them twice while it
    # does. Name columns are categoricals (``categories``): London's 22 million offences
    # took 0.35 GB as object columns, and ``isin`` on strings was most of a second each
    # time a measure asked "proven?".
    def offences_frame(self, columns: tuple[str, ...] | None = None) -> pd.DataFrame:
        """The offences, one row each; ``columns``: only these, in this order (all if None:
        person, day, type, gravity, detected, proven_day, disposal, co_group). ``day`` is
        int32; ``proven_day`` (NaN if never proven) float32 when that holds every day
        exactly (whole days do), else float64; ``type`` and ``disposal`` are categoricals;
        an offence no disposal dealt with has ""."""
        o = self.offences
        make = {
            "person": lambda: _read_only(o["person"]),
            "day": lambda: o["week"] * DAYS_PER_WEEK,  # int32, as the weeks
            "type": lambda: categories(OFFENCE_TYPES, o["type"]),
            "gravity": lambda: o["gravity"].astype(np.int64),
            "detected": lambda: _read_only(o["detected"]),
            "proven_day": lambda: _narrow(o["proven_week"] * DAYS_PER_WEEK),
            "disposal": lambda: categories(
                (*DISPOSALS, ""), np.where(o["disposal"] < 0, len(DISPOSALS), o["disposal"])
            ),
            "co_group": lambda: _read_only(o["co_group"]),
        }
        return pd.DataFrame({name: make[name]() for name in columns or make}, copy=False)

    def disposals_frame(self) -> pd.DataFrame:
        d = self.disposals
        return pd.DataFrame(
            {
                "person": d["person"].copy(),
                "day": d["week"].astype(np.int64) * DAYS_PER_WEEK,
                "kind": categories(DISPOSALS, d["kind"]),
                "adult": d["adult"].copy(),
                "offences": d["offences"].copy(),
            },
            copy=False,
        )

    def releases_frame(self) -> pd.DataFrame:
        r = self.releases
        return pd.DataFrame(
            {"person": r["person"], "day": r["week"].astype(np.int64) * DAYS_PER_WEEK}
        )
