"""Triage: a YOS assessment at first arrest, and diversion out of the formal system.

At the police decision (the ``divert`` hook) a youth offending service worker
assesses children arrested for the first time (MPS response para 11: "young
people arrested for the first time have an immediate assessment from Youth
Offending Team staff"). A child who is eligible (no previous formal disposal,
no previous triage, an offence at or below a gravity threshold, under 18) and
who admits the offence is diverted into a restorative or short programme
while places last: no caution, no conviction, so no formal record and no
first-time entry. The programme lowers the child's risk for some weeks.

The composition effect the earlier Croydon YOT inspection describes follows
without being written in: the children triage takes are the ones with the
shortest careers, so the formal cohort that is left is smaller and more
entrenched, and its measured reoffending rate can rise while true offending
falls (``reoffending_cohort_by_previous_offences``, ``proven_reoffending_rate``
and ``true_offences_per_year`` in the summary show it side by side).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from sim.calendar import never
from sim.interventions import Intervention, InterventionParams
from sim.params import CROYDON_EARLIER, MAX_COUNT, MAX_GBP, MPS_2009, EffectPrior, param
from sim.population import age_of

if TYPE_CHECKING:
    from sim.model import YouthJusticeModel

# Salts of this stream's counter-based draws (one per decision, never reused).
_SALT_ADMIT = 1
_SALT_QUEUE = 2


class Triage(Intervention):
    """YOS triage at first arrest: diversion with a short programme, no formal record."""

    name = "triage"
    stream_key = 101  # its random stream (sim/rng.py); never renumber
    description = (
        "YOS assessment at first arrest; low-gravity, admitted cases diverted to a "
        "restorative programme with no formal record (" + CROYDON_EARLIER + ")"
    )

    class Params(InterventionParams):
        """Who is eligible, how many places, what the programme does and costs."""

        def acts(self) -> bool:
            """Off with no places a year."""
            return self.enabled and self.cases_per_year > 0

        max_gravity: int = param(
            3,
            unit="YJB gravity score",
            basis="assumed",
            ge=0,
            le=8,
            doc="low-level offences only (gravity 1-3: minor, drugs, common assault here); "
            "robbery and weapons (5) go down the formal pathway",
        )
        max_previous_formal: int = param(
            0,
            unit="formal disposals",
            basis="sourced",
            le=100,
            ge=0,
            source=MPS_2009,
            doc="para 11: triage is for young people arrested for the first time (no previous "
            "caution or conviction)",
        )
        max_previous_triage: int = param(
            0,
            unit="triages",
            basis="sourced",
            le=100,
            ge=0,
            source=MPS_2009,
            doc="para 11: first arrest only; some schemes allow a second triage (set 1)",
        )
        max_age: float = param(
            18.0,
            unit="years",
            basis="sourced",
            gt=10,
            le=21,
            source="cda-1998",
            doc="youth offending teams work with children aged 10-17; 18-year-olds are dealt "
            "with as adults",
        )
        admission_probability: float = param(
            0.8,
            unit="probability",
            basis="assumed",
            ge=0,
            le=1,
            doc="eligible children who admit the offence and, with their carers, consent "
            "(triage requires an admission)",
        )
        cases_per_year: int = param(
            600,
            unit="cases a year",
            basis="assumed",
            le=MAX_COUNT,
            ge=0,
            doc="triage places a year (YOS workers in custody suites); set above Croydon's "
            "eligible volume so that admission, not places, limits it; 0 switches triage off",
        )
        programme_weeks: int = param(
            12,
            unit="weeks",
            basis="assumed",
            ge=0,
            le=104,
            doc="a restorative intervention or short programme of about three months",
        )
        programme_effect: float = param(
            0.14,
            unit="log hazard reduction",
            basis="sourced",
            ge=-3,
            le=3,
            source="schwalbe-2012; wilson-2018",
            prior=EffectPrior.normal(0.14, 0.25),
            doc="risk while on the programme (negative: the programme raises it). Diversion "
            "programmes against formal processing: OR 0.83, 95% CI 0.43-1.58 on recidivism "
            "(Schwalbe et al. 2012); at a 50% base, OR 0.83 gives 45.4% reoffending, a log "
            "hazard ratio of ln(ln 0.5 / ln 0.546) = 0.14 (CI -0.31 to 0.66), so normal(0.14, "
            "0.25). The whole diversion effect, programme and avoided record, is 50% -> 44% "
            "(Wilson et al. 2018; log HR 0.18), and the model has the record's part "
            "separately (behaviour.coef_label). Read as acting in the programme's weeks, when "
            "a first arrestee's risk is highest (behaviour.coef_recent)",
        )
        cost_per_case: float = param(
            700,
            unit="GBP per case",
            basis="assumed",
            le=MAX_GBP,
            ge=0,
            doc="a YOS assessment in custody and a few restorative sessions (about 20 hours of a "
            "YOS worker at GBP 35 an hour); Cleveland PCC funded county-wide triage with up "
            "to GBP 200k a year (decision 30-2014)",
        )

    def __init__(self, model: YouthJusticeModel, params: Triage.Params) -> None:
        super().__init__(model, params)
        cap = model.people.capacity
        self.params: Triage.Params = params
        self.n_triaged = np.zeros(cap, dtype=np.int16)  # triages so far, per person
        self.until = never(cap)  # on the programme while until > week
        self.active = np.empty(0, dtype=np.int64)  # on the programme now (few)
        self.cases_total = 0
        self.cases_measured = 0  # diverted in the measured years
        self._year = -1
        self._used = 0  # places used this model year

    def divert(
        self, persons: np.ndarray, gravity: np.ndarray, undecided: np.ndarray, week: int
    ) -> np.ndarray | None:
        """Claim eligible, admitted first arrests while this year's places last."""
        p, m = self.params, self.model
        if p.cases_per_year <= 0 or persons.size == 0:
            return None
        if m.calendar.year != self._year:
            self._year, self._used = m.calendar.year, 0
        free = p.cases_per_year - self._used
        if free <= 0:
            return None
        ppl = m.people
        age = age_of(ppl.birth_week[persons], week)
        eligible = (
            undecided
            & (gravity <= p.max_gravity)
            & (ppl.n_formal[persons] <= p.max_previous_formal)
            & (self.n_triaged[persons] <= p.max_previous_triage)
            & (age < p.max_age)
        )
        if not eligible.any():
            return None
        admits = m.streams.uniform(self.name, week, persons, _SALT_ADMIT)
        claim = eligible & (admits < p.admission_probability)
        n_claim = int(claim.sum())
        if n_claim > free:
            # More cases than places: a random subset this week (first come, first served
            # across weeks), so no group is favoured by its row order.
            queue = m.streams.uniform(self.name, week, persons, _SALT_QUEUE)
            order = np.flatnonzero(claim)[np.argsort(queue[claim], kind="stable")]
            claim = np.zeros(persons.size, dtype=bool)
            claim[order[:free]] = True
            n_claim = free
        if n_claim == 0:
            return None
        taken = persons[claim]
        self._used += n_claim
        self.n_triaged[taken] += 1
        self.reached[taken] = True
        self.cases_total += n_claim
        if m.measuring:
            self.cases_measured += n_claim
            self.cost_gbp += p.cost_per_case * n_claim
        if p.programme_weeks > 0:
            self.until[taken] = week + p.programme_weeks
            self.active = np.union1d(self.active, taken)
        return claim

    def before_offending(self, week: int) -> None:
        """Children on the programme offend less while it lasts."""
        if self.active.size == 0:
            return
        lo = self.model.people.lo
        self.active = self.active[(self.until[self.active] > week) & (self.active >= lo)]
        if self.active.size and self.params.programme_effect != 0:
            self.model.offending.hazard_multiplier[self.active] *= np.exp(
                -self.params.programme_effect
            )

    def end_of_week(self, week: int) -> None:
        """Caseload: children on the programme this week."""
        lo = self.model.people.lo
        self.active = self.active[(self.until[self.active] > week) & (self.active >= lo)]
        self.caseload = int(self.active.size)

    def outputs(self, measured_years: float) -> dict[str, float]:
        """The common outputs plus the number of cases diverted."""
        out = super().outputs(measured_years)
        out["diverted_cases"] = int(self.cases_total)
        out["diverted_cases_per_year"] = float(self.cases_measured / max(measured_years, 1e-9))
        return out
