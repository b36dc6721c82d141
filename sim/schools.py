"""Schools: permanent exclusions in term, and persistent absence renewed each September.

Pupils of compulsory school age attend a mainstream school or, once permanently
excluded, their borough's pupil referral unit. Exclusions concentrate on pupils
with absence, care experience, offending and higher propensity (a risk score
whose weights are parameters), keeping the sourced mean rate. Persistent absence
is re-assessed each September, tilted by adversity. Both are risk factors of the
offending hazard (:mod:`sim.behaviour`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from sim.calendar import TERM_WEEKS_PER_YEAR
from sim.concern import Agency
from sim.params import MAX_LOG_EFFECT, Params, param

if TYPE_CHECKING:
    from sim.model import YouthJusticeModel


class Schools(Agency):
    """Exclusions during term; absence renews each school year."""

    name = "schools"

    class Params(Params):
        """Exclusion and absence dynamics."""

        permanent_exclusion_rate: float = param(
            0.002,
            unit="per pupil per year",
            basis="sourced",
            ge=0,
            le=1,
            source="dfe-exclusions-2018",
            doc="0.20% of secondary pupils permanently excluded (2017/18)",
        )
        exclusion_risk_tilt: float = param(
            1.0,
            unit="log rate per unit risk",
            basis="assumed",
            le=MAX_LOG_EFFECT,
            ge=0,
            doc="exclusions concentrate on pupils with adversity and offending",
        )
        absence_persistence: float = param(
            0.6,
            unit="probability",
            basis="assumed",
            ge=0,
            le=1,
            doc="persistently absent pupils still so the next school year",
        )

        risk_weight_absence: float = param(
            0.5,
            unit="risk score",
            basis="assumed",
            ge=0,
            le=10,
            doc="weight of persistent absence in the exclusion risk score",
        )
        risk_weight_looked_after: float = param(
            0.5,
            unit="risk score",
            basis="assumed",
            ge=0,
            le=10,
            doc="weight of being looked after in the exclusion risk score (looked-after "
            "children are excluded more: DfE exclusion statistics)",
        )
        risk_weight_offended: float = param(
            0.5,
            unit="risk score",
            basis="assumed",
            ge=0,
            le=10,
            doc="weight of having offended in the exclusion risk score",
        )
        risk_weight_propensity: float = param(
            0.3,
            unit="risk score per SD",
            basis="assumed",
            ge=0,
            le=10,
            doc="weight of offending propensity (behaviour in school) in the exclusion risk score",
        )
        absence_onset_propensity_weight: float = param(
            0.5,
            unit="log weight per SD",
            basis="assumed",
            ge=0,
            le=10,
            doc="new persistent absence leans towards pupils with higher propensity",
        )
        absence_onset_low_income_weight: float = param(
            0.5,
            unit="log weight",
            basis="assumed",
            ge=0,
            le=10,
            doc="new persistent absence leans towards pupils from low-income families",
        )

    params: Schools.Params

    def __init__(self, model: YouthJusticeModel, params: Schools.Params) -> None:
        super().__init__(model, params)
        self.set_rate_scale()

    def step(self) -> None:
        """Permanent exclusions this week (term time only)."""
        m = self.model
        if not m.calendar.term:
            return
        p, ppl, live = self.params, m.people, m.people.live
        n = live.stop - live.start
        rng = m.streams[self.name]
        # Thinning: the exclusion rate is tiny, so only pupils whose draw is below the
        # largest possible rate, ``cap``, need their own rate worked out. Which rows those
        # are (each with probability ``cap``, independently) and their draws (uniform
        # below ``cap``) are drawn directly: the same law as a uniform per live person,
        # without drawing them all. ``cap`` depends on propensities only (not on flags a
        # policy may change), so the draws stay paired across scenarios.
        base = p.permanent_exclusion_rate / TERM_WEEKS_PER_YEAR
        cap = min(base * self.cap_relative_rate, 1.0)
        k = int(rng.binomial(n, cap))
        cand = np.sort(rng.choice(n, size=k, replace=False))
        u = rng.random(k) * cap
        idx = cand + live.start
        pupil = ppl.at_school_of(idx, m.week) & ~ppl.excluded[idx]
        out = idx[pupil & (u < self.exclusion_probability(idx))]
        ppl.excluded[out] = True
        ppl.school[out] = ppl.pru_of(out)
        m.week_counts["exclusions"] += int(out.size)

    def exclusion_probability(self, idx: np.ndarray) -> np.ndarray:
        """Each pupil's chance of permanent exclusion in a term week, from their risk score
        (the sourced yearly rate over the term weeks, tilted and normalised)."""
        p = self.params
        base = p.permanent_exclusion_rate / TERM_WEEKS_PER_YEAR
        return base * np.exp(p.exclusion_risk_tilt * self.risk(idx)) / self.mean_weight

    def risk(self, idx: np.ndarray) -> np.ndarray:
        """Exclusion risk score: absence, care, offending, propensity."""
        p, ppl = self.params, self.model.people
        return (
            p.risk_weight_absence * ppl.persistent_absence[idx]
            + p.risk_weight_looked_after * ppl.looked_after[idx]
            + p.risk_weight_offended * (ppl.n_offences[idx] > 0)
            + p.risk_weight_propensity * ppl.propensity[idx]
        )

    def set_rate_scale(self) -> None:
        """Each school year: the normaliser that keeps the sourced mean rate, and its cap."""
        p, ppl, live = self.params, self.model.people, self.model.people.live
        idx = np.arange(live.start, live.stop)
        weight = np.exp(p.exclusion_risk_tilt * self.risk(idx))
        self.mean_weight = max(float(weight.mean()), 1e-12)
        # Largest weight this year can reach (every flag set, on top of the propensity).
        flags = p.risk_weight_absence + p.risk_weight_looked_after + p.risk_weight_offended
        top_risk = flags + p.risk_weight_propensity * ppl.propensity[idx].max()
        top = float(np.exp(p.exclusion_risk_tilt * top_risk))
        self.max_relative_rate = top / self.mean_weight
        # The thinning cap: the same largest weight over a lower bound of the mean weight
        # that does not depend on flags (risk >= propensity term, as the tilt is >= 0).
        floor = float(
            np.exp(p.exclusion_risk_tilt * p.risk_weight_propensity * ppl.propensity[idx]).mean()
        )
        self.cap_relative_rate = top / max(min(floor, self.mean_weight), 1e-12)

    def new_school_year(self) -> None:
        """Persistent absence is re-assessed each September, tilted by adversity."""
        m, p = self.model, self.params
        ppl, live = m.people, m.people.live
        target = m.params.population.persistent_absence_share
        n = live.stop - live.start
        u = m.streams[self.name].random(n)
        was = ppl.persistent_absence[live]
        stay = was & (u < p.absence_persistence)
        # New cases to keep the sourced share, drawn towards those at risk.
        need = max(0.0, target - stay.mean())
        risk = np.exp(
            p.absence_onset_propensity_weight * ppl.propensity[live]
            + p.absence_onset_low_income_weight * ppl.low_income[live]
        )
        onset_p = np.clip(need * n * risk / max(risk[~stay].sum(), 1e-9), 0, 1)
        onset = ~stay & (m.streams[self.name].random(n) < onset_p)
        ppl.persistent_absence[live] = stay | onset
        self.set_rate_scale()
