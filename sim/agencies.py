"""The agencies around young people, as Mesa agents acting on the arrays.

Each agency's ``step`` is one vectorised operation on the people arrays (or
a small loop over this week's few cases). The model calls them in a fixed
order (see ``YouthJusticeModel.step``), never shuffled.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import mesa
import numpy as np

from sim import justice
from sim.calendar import WEEKS_PER_YEAR
from sim.params import Params, param

if TYPE_CHECKING:
    from sim.model import YouthJusticeModel


class SchoolsParams(Params):
    """Exclusion and absence dynamics."""

    permanent_exclusion_rate: float = param(
        0.002,
        unit="per pupil per year",
        basis="sourced",
        ge=0,
        le=1,
        source="DfE Permanent and fixed-period exclusions 2017/18: 0.20% of secondary pupils",
    )
    exclusion_risk_tilt: float = param(
        1.0,
        unit="log rate per unit risk",
        basis="assumed",
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


class SocialCareParams(Params):
    """Children's social care: entry into care."""

    care_entry_rate: float = param(
        0.002,
        unit="per child per year",
        basis="assumed",
        ge=0,
        le=1,
        doc="adolescent entry into care (DfE CLA 2018: ~32,000 starts a year, a third aged 10-15)",
    )
    care_entry_domestic_abuse_ratio: float = param(
        4.0,
        unit="rate ratio",
        basis="assumed",
        ge=1,
        doc="domestic abuse is the second most common reason for entering care",
    )


class Agency(mesa.Agent):
    """An agency acting on the arrays of the model that owns it."""

    model: YouthJusticeModel

    def __init__(self, model: YouthJusticeModel) -> None:
        super().__init__(model)


class Police(Agency):
    """Detection of this week's offences, then arrests and the police decision."""

    def step(self) -> None:
        m, week = self.model, self.model.week
        m.week_counts["detected"] += int(justice.detect(m, m.new_offences, week).size)
        justice.arrest(m, week)


class YouthCourt(Agency):
    """Sentences charged cases and puts every due disposal into effect."""

    def step(self) -> None:
        justice.apply_disposals(self.model, self.model.week)


class YouthOffendingService(Agency):
    """Supervises children on orders and licence; its capacity shapes its effect."""

    def capacity(self) -> float:
        p = self.model.params.yos
        return p.case_managers * p.cases_per_manager

    def supervised(self) -> np.ndarray:
        """Live-window mask of children under YOS supervision (community or custody)."""
        ppl, week = self.model.people, self.model.week
        return ppl.yos_until[ppl.live] > week

    def before_offending(self) -> None:
        """Supervision lowers the hazard, less so when overloaded or poorly assessed."""
        m, p = self.model, self.model.params.yos
        sup = self.supervised()
        m.yos_caseload = int(sup.sum())
        load = m.yos_caseload / max(self.capacity(), 1e-9)
        self.effectiveness = p.assessment_quality * min(1.0, 1.0 / max(load, 1e-9))
        live = m.people.live
        m.hazard_multiplier[live][sup] *= np.exp(-p.supervision_effect * self.effectiveness)

    def step(self) -> None:
        """Releases from custody this week (licence supervision was set at sentence)."""
        justice.release(self.model, self.model.week)


class Schools(Agency):
    """Exclusions during term; absence renews each school year."""

    def step(self) -> None:
        m = self.model
        if not m.calendar.term:
            return
        p, ppl, live = m.params.schools, m.people, m.people.live
        n = live.stop - live.start
        rng = m.streams["schools"]
        # Thinning: the exclusion rate is tiny, so only pupils whose draw is below the
        # largest possible rate, ``cap``, need their own rate worked out. Which rows those
        # are (each with probability ``cap``, independently) and their draws (uniform
        # below ``cap``) are drawn directly: the same law as a uniform per live person,
        # without drawing them all. ``cap`` depends on propensities only (not on flags a
        # policy may change), so the draws stay paired across scenarios.
        base = p.permanent_exclusion_rate / 39  # 39 term weeks a year
        cap = min(base * self._cap_relative_rate, 1.0)
        k = int(rng.binomial(n, cap))
        cand = np.sort(rng.choice(n, size=k, replace=False))
        u = rng.random(k) * cap
        idx = cand + live.start
        pupil = ppl.at_school_of(idx, m.week) & ~ppl.excluded[idx]
        rate = base * np.exp(p.exclusion_risk_tilt * self._risk(idx)) / self._mean_weight
        out = idx[pupil & (u < rate)]
        ppl.excluded[out] = True
        ppl.school[out] = ppl.pru_of(out)
        m.week_counts["exclusions"] += int(out.size)

    def _risk(self, idx: np.ndarray) -> np.ndarray:
        """Exclusion risk score: absence, care, offending, propensity."""
        ppl = self.model.people
        return (
            0.5 * ppl.persistent_absence[idx]
            + 0.5 * ppl.looked_after[idx]
            + 0.5 * (ppl.n_offences[idx] > 0)
            + 0.3 * ppl.propensity[idx]
        )

    def set_rate_scale(self) -> None:
        """Each school year: the normaliser that keeps the sourced mean rate, and its cap."""
        p, ppl, live = self.model.params.schools, self.model.people, self.model.people.live
        idx = np.arange(live.start, live.stop)
        weight = np.exp(p.exclusion_risk_tilt * self._risk(idx))
        self._mean_weight = max(float(weight.mean()), 1e-12)
        # Largest weight this year can reach (flags at most 1.5 above today's).
        top = float(np.exp(p.exclusion_risk_tilt * (1.5 + 0.3 * ppl.propensity[idx].max())))
        self._max_relative_rate = top / self._mean_weight
        # The thinning cap: the same largest weight over a lower bound of the mean weight
        # that does not depend on flags (risk >= 0.3 x propensity, as the tilt is >= 0).
        floor = float(np.exp(p.exclusion_risk_tilt * 0.3 * ppl.propensity[idx]).mean())
        self._cap_relative_rate = top / max(min(floor, self._mean_weight), 1e-12)

    def new_school_year(self) -> None:
        """Persistent absence is re-assessed each September, tilted by adversity."""
        m, p, ppl, live = (
            self.model,
            self.model.params.schools,
            self.model.people,
            self.model.people.live,
        )
        target = m.params.population.persistent_absence_share
        n = live.stop - live.start
        u = m.streams["schools"].random(n)
        was = ppl.persistent_absence[live]
        stay = was & (u < p.absence_persistence)
        # New cases to keep the sourced share, drawn towards those at risk.
        need = max(0.0, target - stay.mean())
        risk = np.exp(0.5 * ppl.propensity[live] + 0.5 * ppl.low_income[live])
        onset_p = np.clip(need * n * risk / max(risk[~stay].sum(), 1e-9), 0, 1)
        onset = ~stay & (m.streams["schools"].random(n) < onset_p)
        ppl.persistent_absence[live] = stay | onset
        self.set_rate_scale()


class SocialCare(Agency):
    """Children's social care: children entering care."""

    def step(self) -> None:
        m = self.model
        p, ppl, live = m.params.social_care, m.people, m.people.live
        rng = m.streams["social_care"]
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
        under_18 = (m.week - ppl.birth_week[idx]) / WEEKS_PER_YEAR < 18  # as ppl.age, for a few
        new = idx[~ppl.looked_after[idx] & under_18 & (u < base * ratio)]
        ppl.looked_after[new] = True
        m.week_counts["care_entries"] += int(new.size)
