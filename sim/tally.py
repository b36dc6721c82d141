"""The model's running totals over the measured years: events and person-weeks at risk.

The summary (:mod:`sim.summary`) turns them into annual rates: person-weeks by single
year of age and by ethnic group are the denominators of offending and arrest rates,
and the totals give the volumes and the YOS and custody means.
"""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING

import numpy as np

from sim.population import ADULT_AGE, AGE_OF_RESPONSIBILITY, ETHNIC_GROUPS, EXIT_AGE

if TYPE_CHECKING:
    from sim.model import YouthJusticeModel


class Tally:
    """Totals of the week's counts, and person-weeks at risk, in the measured years."""

    def __init__(self, n_boroughs: int) -> None:
        self.totals: Counter[str] = Counter()
        self.person_weeks_by_age = np.zeros(int(EXIT_AGE) + 1)
        self.person_weeks_by_group = np.zeros(len(ETHNIC_GROUPS))
        # Gang members aged 10-17 by group: the base of the gang-listing stage's rate.
        self.gang_member_weeks_by_group = np.zeros(len(ETHNIC_GROUPS))
        self.person_weeks_10_17 = 0
        self.person_weeks_by_borough = np.zeros(n_boroughs)
        # Rows aged 10-17 last time, and their counts by group and borough: the window
        # moves on by the few thousand rows that turned 10 or 18, so only they are counted.
        self.youth = slice(0, 0)
        self.youth_by_group = np.zeros(len(ETHNIC_GROUPS), dtype=np.int64)
        self.youth_by_borough = np.zeros(n_boroughs, dtype=np.int64)

    def record(self, model: YouthJusticeModel) -> None:
        """Add this week: its counts, and person-weeks at risk by age, group and borough.

        Counts by whole years of age come from the window's birth order (the rows of
        each age are a run of rows, found by bisection), so the tally reads only the
        rows aged 10-17, for group and custody.
        """
        ppl, lo, week = model.people, model.people.lo, model.week
        older = ppl.rows_aged(week, np.arange(self.person_weeks_by_age.size + 1))
        self.person_weeks_by_age += older[:-1] - older[1:]
        at_18, at_10 = ppl.rows_aged(week, np.array([ADULT_AGE, AGE_OF_RESPONSIBILITY]))
        youth = slice(lo + int(at_18), lo + int(at_10))
        self.count_youth(ppl.ethnic, ppl.borough, youth)
        self.person_weeks_by_group += self.youth_by_group
        members = youth.start + np.flatnonzero(ppl.gang[youth] >= 0)
        self.gang_member_weeks_by_group += np.bincount(
            ppl.ethnic[members], minlength=len(ETHNIC_GROUPS)
        )
        self.person_weeks_10_17 += youth.stop - youth.start
        if self.person_weeks_by_borough.size > 1:
            self.person_weeks_by_borough += self.youth_by_borough
        self.totals.update(model.week_counts)
        self.totals["yos_caseload_weeks"] += model.yos.caseload
        self.totals["custody_weeks"] += int(
            np.count_nonzero(ppl.custody_release_week[youth] > week)
        )

    def count_youth(self, ethnic: np.ndarray, borough: np.ndarray, youth: slice) -> None:
        """Counts by ethnic group and borough of the rows in ``youth``, from the last counts
        where the window only moved on (rows never change group or borough)."""
        old, n_g, n_b = self.youth, self.youth_by_group.size, self.youth_by_borough.size
        if youth.start < old.start or youth.stop < old.stop or youth.start > old.stop:
            self.youth_by_group = np.bincount(ethnic[youth], minlength=n_g)
            self.youth_by_borough = np.bincount(borough[youth], minlength=n_b)
        else:
            came, went = slice(old.stop, youth.stop), slice(old.start, youth.start)
            self.youth_by_group += np.bincount(ethnic[came], minlength=n_g)
            self.youth_by_group -= np.bincount(ethnic[went], minlength=n_g)
            self.youth_by_borough += np.bincount(borough[came], minlength=n_b)
            self.youth_by_borough -= np.bincount(borough[went], minlength=n_b)
        self.youth = youth
