"""The weekly calendar: school terms, holidays and seasons.

Step 0 is the first week of September (start of the academic year), so every
52nd step a new cohort of 10-year-olds enters and year groups move up. A
model year is 52 weeks; a day is ``week * 7``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

WEEKS_PER_YEAR = 52
DAYS_PER_WEEK = 7
SEPTEMBER_WEEK = 35  # ISO-ish week of year in which the English school year starts

# Term weeks by week of year (0 = first week of January). English schools have
# 39 term weeks (190 days; Education (School Day and School Year) Regulations
# 1999): spring 1-12 less a half-term, summer 15-28 less a half-term, autumn
# 35-50 less a half-term. The 13 holiday weeks are 0, 7, 13-14, 21, 29-34, 42, 51.
_HOLIDAY_WEEKS = {0, 7, 13, 14, 21, 29, 30, 31, 32, 33, 34, 42, 51}
TERM = np.array([w not in _HOLIDAY_WEEKS for w in range(WEEKS_PER_YEAR)])
assert TERM.sum() == 39
TERM_WEEKS_PER_YEAR = int(TERM.sum())  # 39 school weeks a year

# Meteorological seasons by week of year.
SEASON_NAMES = ("winter", "spring", "summer", "autumn")
SEASON = np.array(
    [0 if (w < 9 or w >= 48) else 1 if w < 22 else 2 if w < 35 else 3 for w in range(52)]
)


@dataclass(frozen=True)
class Week:
    """What the calendar says about one model step."""

    step: int
    week_of_year: int
    year: int  # model year (academic year) counted from the start
    term: bool
    season: int
    new_school_year: bool  # the first week of September, when a cohort enters

    @property
    def day(self) -> int:
        return self.step * DAYS_PER_WEEK

    @property
    def season_name(self) -> str:
        return SEASON_NAMES[self.season]


def week(step: int) -> Week:
    """The calendar facts for model step ``step`` (step 0 = first week of September)."""
    woy = (SEPTEMBER_WEEK + step) % WEEKS_PER_YEAR
    return Week(
        step=step,
        week_of_year=woy,
        year=step // WEEKS_PER_YEAR,
        term=bool(TERM[woy]),
        season=int(SEASON[woy]),
        new_school_year=step > 0 and step % WEEKS_PER_YEAR == 0,
    )


def never(n: int) -> np.ndarray:
    """An "until week" (or "since week") array for ``n`` people: float weeks, NaN = never.

    The one encoding of a spell: a person is in it while ``until > week`` (NaN compares
    false, so "never" needs no special value), and "not in it" is ``~(until > week)``.
    """
    return np.full(n, np.nan)
