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
DISPOSALS = (
    "nfa",
    "diversion",
    "community_resolution",
    "youth_caution",
    "youth_conditional_caution",
    "referral_order",
    "youth_rehabilitation_order",
    "custody",
)
KIND = {name: i for i, name in enumerate(DISPOSALS)}
# The one definition of "formal": a caution or a court sentence. Only these make a
# first-time entrant, count as "cautioned or sentenced" and make an offence proven.
FIRST_FORMAL_KIND = KIND["youth_caution"]
FORMAL_DISPOSALS: tuple[str, ...] = DISPOSALS[FIRST_FORMAL_KIND:]
# Disposals given by the youth court (convictions).
FIRST_COURT_KIND = KIND["referral_order"]
COURT_DISPOSALS: tuple[str, ...] = DISPOSALS[FIRST_COURT_KIND:]


def is_formal(kind: np.ndarray) -> np.ndarray:
    """Mask of disposal codes (``KIND`` values) that are formal: a caution or a sentence."""
    return np.asarray(kind) >= FIRST_FORMAL_KIND


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
    def offences_frame(self) -> pd.DataFrame:
        o = self.offences
        disposal = o["disposal"]
        names = np.array([*DISPOSALS, ""], dtype=object)
        return pd.DataFrame(
            {
                "person": o["person"],
                "day": o["week"].astype(np.int64) * DAYS_PER_WEEK,
                "type": np.array(OFFENCE_TYPES, dtype=object)[o["type"]],
                "gravity": o["gravity"].astype(np.int64),
                "detected": o["detected"],
                "proven_day": o["proven_week"] * DAYS_PER_WEEK,
                "disposal": names[np.where(disposal < 0, len(DISPOSALS), disposal)],
                "co_group": o["co_group"],
            }
        )

    def disposals_frame(self) -> pd.DataFrame:
        d = self.disposals
        return pd.DataFrame(
            {
                "person": d["person"],
                "day": d["week"].astype(np.int64) * DAYS_PER_WEEK,
                "kind": np.array(DISPOSALS, dtype=object)[d["kind"]],
                "adult": d["adult"],
                "offences": d["offences"],
            }
        )

    def releases_frame(self) -> pd.DataFrame:
        r = self.releases
        return pd.DataFrame(
            {"person": r["person"], "day": r["week"].astype(np.int64) * DAYS_PER_WEEK}
        )
