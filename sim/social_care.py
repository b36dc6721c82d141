"""Children's social care: children entering care.

Adolescents enter care at a sourced rate, several times more often from homes with
domestic abuse. Being looked after is a risk factor of the offending hazard
(:mod:`sim.behaviour`) and of exclusion (:mod:`sim.schools`).
"""

from __future__ import annotations

import numpy as np

from sim.calendar import WEEKS_PER_YEAR
from sim.concern import Agency
from sim.params import MAX_WEIGHT, Params, param
from sim.population import ADULT_AGE, age_of


class SocialCare(Agency):
    """Children's social care: children entering care."""

    name = "social_care"

    class Params(Params):
        """Children's social care: entry into care."""

        care_entry_rate: float = param(
            0.002,
            unit="per child per year",
            basis="assumed",
            ge=0,
            le=1,
            doc="adolescent entry into care (DfE CLA 2018: ~32,000 starts a year, a third "
            "aged 10-15)",
        )
        care_entry_domestic_abuse_ratio: float = param(
            4.0,
            unit="rate ratio",
            basis="assumed",
            le=MAX_WEIGHT,
            ge=1,
            doc="domestic abuse is the second most common reason for entering care",
        )

    params: SocialCare.Params

    def step(self) -> None:
        """Children entering care this week."""
        m, p = self.model, self.params
        ppl, live = m.people, m.people.live
        rng = m.streams[self.name]
        base = p.care_entry_rate / WEEKS_PER_YEAR
        # Thinning: only those whose draw is below the largest rate can enter care. Which
        # live rows those are (each with probability ``cap``, independently) and their
        # draws (uniform below ``cap``) are drawn directly: the same law as a uniform per
        # live person, without drawing them all. The draws depend on the window's size
        # and the parameters only, never on anyone's state.
        cap = min(base * p.care_entry_domestic_abuse_ratio, 1.0)
        n_live = live.stop - live.start
        k = int(rng.binomial(n_live, cap))
        cand = np.sort(rng.choice(n_live, size=k, replace=False))
        u = rng.random(k) * cap
        idx = cand + live.start
        ratio = np.where(ppl.domestic_abuse[idx], p.care_entry_domestic_abuse_ratio, 1.0)
        under_18 = age_of(ppl.birth_week[idx], m.week) < ADULT_AGE
        new = idx[~ppl.looked_after[idx] & under_18 & (u < base * ratio)]
        ppl.looked_after[new] = True
        m.week_counts["care_entries"] += int(new.size)
