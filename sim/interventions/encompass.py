"""Operation Encompass and MARAC: schools told of domestic abuse at home; repeats escalate.

From the Croydon scrutiny minutes: police attending a low-risk domestic
incident write a report; through the MASH, Operation Encompass passes it to
the designated safeguarding lead at the school of each child in the
household, who can then hold discreet conversations; four low-risk calls in
12 months escalate the case to the Multi-Agency Risk Assessment Conference
(MARAC) for follow-up by the partners.

Here a household (``people.family``) with a child exposed to domestic abuse
(``people.domestic_abuse``) has police-attended incidents at its own rate
(heavy-tailed across households: repeat calls concentrate on a few). Each
incident notifies the school of every exposed pupil in the household; the
fourth incident within the window escalates the household to MARAC. Support
lowers the share of the domestic-abuse risk that still acts
(``model.offending.da_risk_weight``): notification some, MARAC more, for a while after.
The incidents themselves are not caused or prevented by the scheme, and
change nothing unless notified.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from scipy.special import ndtri

from sim.calendar import WEEKS_PER_YEAR, never
from sim.events import Table
from sim.interventions import Intervention, InterventionParams
from sim.params import CROYDON_SCRUTINY, MAX_GBP, EffectPrior, param
from sim.population import ADULT_AGE, age_of

if TYPE_CHECKING:
    from sim.model import YouthJusticeModel

_NEVER = -(10**9)  # "no incident yet" in the per-household history


class EncompassParams(InterventionParams):
    """Incidents, notification, escalation to MARAC, and what support does."""

    incident_rate_per_year: float = param(
        0.6,
        unit="police-attended incidents per household per year",
        basis="assumed",
        ge=0,
        le=52,
        doc="mean over households with a child exposed to domestic abuse (most exposure is "
        "never reported; police are called to a minority of households in a year)",
    )
    incident_rate_sd: float = param(
        1.0,
        unit="SD of log rate across households",
        basis="assumed",
        ge=0,
        le=3,
        doc="repeat calls concentrate on few households (repeat victimisation)",
    )
    notification_share: float = param(
        0.9,
        unit="share of incidents",
        basis="assumed",
        ge=0,
        le=1,
        doc="incidents whose report reaches the pupil's designated safeguarding lead "
        "through the MASH (missing school details, delays)",
    )
    notification_support_weeks: int = param(
        26,
        unit="weeks",
        basis="assumed",
        ge=0,
        le=520,
        doc="how long the safeguarding lead's discreet support lasts after a notification",
    )
    notification_effect: float = param(
        0.11,
        unit="share of domestic-abuse risk removed",
        basis="assumed",
        ge=0,
        le=1,
        source="morgan-2020",
        prior=EffectPrior.beta(1.0, 6.0),
        doc="a known adult at school who knows: some of the harm is buffered. Operation "
        "Encompass has no outcome evaluation (a qualitative scoping study of its "
        "implementation only), none for children's offending, so a wide prior near zero: "
        "beta(1, 6), median 0.11, 90% 0.01-0.39",
    )
    marac_incidents: int = param(
        4,
        unit="incidents",
        basis="sourced",
        source=CROYDON_SCRUTINY,
        ge=1,
        le=52,
        doc="four low-risk calls in 12 months escalate a case to MARAC",
    )
    marac_window_weeks: int = param(
        52,
        unit="weeks",
        basis="sourced",
        source=CROYDON_SCRUTINY,
        ge=1,
        le=520,
        doc="the 12-month period of the escalation rule",
    )
    marac_support_weeks: int = param(
        52,
        unit="weeks",
        basis="assumed",
        ge=0,
        le=520,
        doc="how long the MARAC partners' safety plan and follow-up last",
    )
    marac_effect: float = param(
        0.16,
        unit="share of domestic-abuse risk removed",
        basis="assumed",
        ge=0,
        le=1,
        source="robinson-2006",
        prior=EffectPrior.beta(1.0, 4.0),
        doc="a multi-agency safety plan (IDVA, social care, police) on top of any "
        "notification. Six in ten high-risk victims in Cardiff's MARACs were not "
        "victimised again in the follow-up, with no comparison group, and the outcome is "
        "the adult victim's, not the children's offending: a wide prior near zero, a "
        "little above notification's: beta(1, 4), median 0.16, 90% 0.01-0.53",
    )
    cost_per_notification: float = param(
        40,
        unit="GBP per child notified",
        basis="assumed",
        le=MAX_GBP,
        ge=0,
        doc="MASH processing and an hour of a safeguarding lead's time",
    )
    cost_per_marac_case: float = param(
        500,
        unit="GBP per household case",
        basis="assumed",
        le=MAX_GBP,
        ge=0,
        doc="agency time to prepare, discuss and follow up a case at the conference",
    )


class Encompass(Intervention):
    """Domestic-abuse notifications to schools, and MARAC for repeat households."""

    name = "encompass"
    stream_key = 105  # its random stream (sim/rng.py); never renumber
    description = "Operation Encompass school notifications and MARAC escalation"
    Params = EncompassParams

    def __init__(self, model: YouthJusticeModel, params: EncompassParams) -> None:
        super().__init__(model, params)
        self.params: EncompassParams = params
        cap = model.people.capacity  # family ids are below the number of people
        # The weeks of each household's last ``marac_incidents`` incidents, oldest first.
        self.history = np.full((cap, params.marac_incidents), _NEVER, dtype=np.int64)
        self.last_marac = np.full(cap, _NEVER, dtype=np.int64)
        self.notified_until = never(cap)  # support while > week
        self.marac_until = never(cap)
        self.notified = np.empty(0, dtype=np.int64)  # ids under notification support
        self.in_marac = np.empty(0, dtype=np.int64)  # ids under a MARAC plan
        self._is_notified = np.zeros(cap, dtype=bool)  # the same two lists as masks
        self._is_in_marac = np.zeros(cap, dtype=bool)
        self._exposed = np.empty(0, dtype=np.int64)  # live ids exposed to domestic abuse
        self._exposed_n = -1  # people.n when the list was made
        # Each household's weekly incident probability, fixed for the run: a mean-
        # preserving lognormal rate keyed by household (not by week), so repeat calls
        # concentrate on the same households.
        sd = params.incident_rate_sd
        z = ndtri(
            np.clip(model.streams.uniform(self.name, 0, np.arange(cap), 11), 1e-12, 1 - 1e-12)
        )
        rate = params.incident_rate_per_year * np.exp(sd * z - sd * sd / 2)
        self.weekly_probability = -np.expm1(-rate / WEEKS_PER_YEAR)
        # Each household's next incident week (-1: not drawn yet). Waiting times are
        # geometric, the same law as a weekly draw, but only the few households due
        # this week need a random number.
        self.next_incident = np.full(cap, -1, dtype=np.int64)
        self.incidents = Table({"family": "i8", "week": "i4", "children": "i4", "notified": "i4"})
        self.marac_cases = Table({"family": "i8", "week": "i4", "children": "i4"})
        self.counts = {"incidents": 0, "notifications": 0, "marac_cases": 0}  # measured

    @staticmethod
    def _add(ids: np.ndarray, mask: np.ndarray, new: np.ndarray) -> np.ndarray:
        """``ids`` with those of ``new`` not yet in it (``mask`` marks membership)."""
        new = np.unique(new[~mask[new]])
        mask[new] = True
        return np.concatenate([ids, new])

    def _wait(self, households: np.ndarray, week: int, salt: int) -> np.ndarray:
        """Whole weeks without an incident before the next one (geometric), drawn now."""
        p = self.weekly_probability[households]
        u = self.model.streams.uniform(self.name, week, households, salt)
        with np.errstate(divide="ignore"):
            weeks = np.floor(np.log1p(-u) / np.log1p(-np.minimum(p, 1 - 1e-12)))
        weeks[~(weeks < 10**6)] = 10**6  # rate 0 (or NaN): never, within a run
        return weeks.astype(np.int64)

    # -- the escalation rule -------------------------------------------------------
    def record_incidents(self, families: np.ndarray, week: int) -> np.ndarray:
        """Add one incident this week for each of ``families`` (distinct); return those
        escalating to MARAC: ``marac_incidents`` incidents within ``marac_window_weeks``
        weeks (this one included), all since the household's last MARAC referral."""
        p = self.params
        h = self.history[families]
        h[:, :-1] = h[:, 1:]
        h[:, -1] = week
        self.history[families] = h
        oldest = h[:, 0]
        escalate = (oldest > week - p.marac_window_weeks) & (oldest > self.last_marac[families])
        out = families[escalate]
        self.last_marac[out] = week
        return out

    # -- hooks ------------------------------------------------------------------------
    def before_offending(self, week: int) -> None:
        m, p, lo = self.model, self.params, self.model.people.lo
        if p.incident_rate_per_year > 0:
            self._incidents(week)
        # Support runs out, or the child leaves the model.
        ids = self.notified
        on = (self.notified_until[ids] > week) & (ids >= lo)
        self._is_notified[ids[~on]] = False
        self.notified = ids[on]
        ids = self.in_marac
        on = (self.marac_until[ids] > week) & (ids >= lo)
        self._is_in_marac[ids[~on]] = False
        self.in_marac = ids[on]
        m.offending.da_risk_weight[self.notified] *= 1.0 - p.notification_effect
        m.offending.da_risk_weight[self.in_marac] *= 1.0 - p.marac_effect

    def _incidents(self, week: int) -> None:
        """This week's police-attended incidents, notifications and escalations."""
        m, p, ppl = self.model, self.params, self.model.people
        live = ppl.live
        if self._exposed_n != ppl.n:  # exposure is drawn at entry: list it when a cohort enters
            self._exposed = np.flatnonzero(ppl.domestic_abuse[live]) + live.start
            self._exposed_n = ppl.n
        ids = self._exposed[self._exposed >= ppl.lo]
        self._exposed = ids
        ids = ids[age_of(ppl.birth_week[ids], week) < ADULT_AGE]
        if ids.size == 0:
            return
        fam = ppl.family[ids].astype(np.int64)
        due = self.next_incident[fam]
        stale = due < week  # not drawn yet, or fell due while no child could be told
        if stale.any():
            renew = np.unique(fam[stale])
            self.next_incident[renew] = week + self._wait(renew, week, 12)
            due = self.next_incident[fam]
        hit = due == week  # siblings share their household's incident
        if not hit.any():
            return
        children, fam = ids[hit], fam[hit]
        households = np.unique(fam)
        self.next_incident[households] = week + 1 + self._wait(households, week, 14)
        pupil = ppl.at_school_of(children, week)  # notifications go to schools
        told = pupil & (m.streams.uniform(self.name, week, children, 13) < p.notification_share)
        notified = children[told]
        self.notified_until[notified] = week + p.notification_support_weeks
        self.notified = self._add(self.notified, self._is_notified, notified)
        escalated = self.record_incidents(households, week)
        in_escalated = np.isin(fam, escalated) if escalated.size else np.zeros(fam.size, bool)
        marac_children = children[in_escalated]
        self.marac_until[marac_children] = week + p.marac_support_weeks
        self.in_marac = self._add(self.in_marac, self._is_in_marac, marac_children)
        self.reached[notified] = True
        self.reached[marac_children] = True

        per_household = np.searchsorted(households, fam)
        self.incidents.append(
            family=households,
            week=np.full(households.size, week),
            children=np.bincount(per_household, minlength=households.size),
            notified=np.bincount(per_household[told], minlength=households.size),
        )
        if escalated.size:
            self.marac_cases.append(
                family=escalated,
                week=np.full(escalated.size, week),
                children=np.bincount(
                    np.searchsorted(escalated, fam[np.isin(fam, escalated)]),
                    minlength=escalated.size,
                ),
            )
        if m.measuring:
            self.counts["incidents"] += int(households.size)
            self.counts["notifications"] += int(notified.size)
            self.counts["marac_cases"] += int(escalated.size)
            self.cost_gbp += notified.size * p.cost_per_notification
            self.cost_gbp += escalated.size * p.cost_per_marac_case

    def end_of_week(self, week: int) -> None:
        only_marac = ~(self.notified_until[self.in_marac] > week)  # not also notified
        self.caseload = int(self.notified.size + only_marac.sum())

    def outputs(self, measured_years: float) -> dict[str, float]:
        out = super().outputs(measured_years)
        years = max(measured_years, 1e-9)
        for key, value in self.counts.items():
            out[f"{key}_per_year"] = value / years
        return out
