"""Safer Schools officers: police officers based in the highest-priority schools.

The MPS gives dedicated Safer Schools officers to its highest-priority schools
(181 in 2009); where they are in place "there have been reductions in truancy
and improvements in behaviour", and they have "engagement, problem solving and
enforcement roles at schools and on routes to school"
(mps-2009 paras 5-6). Croydon had "16 Schools
Officers in priority schools" (croydon-scrutiny).

Mechanism: each September the officers go to the schools (secondaries and the
pupil referral unit) with the highest priority, from school-level risk: the
deprivation of the pupils' wards, last year's exclusions per pupil, and the
share of pupils already arrested. A school with one officer gets the full
effect; each further officer adds a fraction of it. In term time, for the
pupils of a covered school:

- truancy down: persistently absent pupils return to regular attendance;
- in-school victimisation down: a share of pupils' victimisations happens in
  school or on the way, and an officer prevents some of those
  (``protect_victims``);
- earlier referral to support: pupils at high risk are referred sooner, and
  support lowers their risk for some weeks;
- more detection of minor offences in school and on routes to school
  (``adjust_detection``): criminalisation, which triage can offset (more arrests of
  pupils, mainly under 15: Owens 2017);
- more exclusions: a covered school's pupils are excluded at ``exclusion_rate_ratio``
  times their own rate (Fisher and Hennessy 2016), drawn on top of the school's own
  exclusions so that a school without an officer keeps every draw it had.

The extra exclusions and the extra detections, what officers add to what would have
happened anyway, are larger for some groups (Sorensen et al. 2023: over twice as large
for Black as for White pupils): ``excess_by_group`` scales them by ethnic group, White
= 1. Ethnic group enters nowhere else here, and never the offending hazard.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from pydantic import model_validator

from sim.calendar import TERM, WEEKS_PER_YEAR, never
from sim.interventions import Intervention, InterventionParams
from sim.params import CROYDON_SCRUTINY, MAX_GBP, MPS_2009, EffectPrior, NonNegative, param
from sim.population import age_of

if TYPE_CHECKING:
    from sim.model import YouthJusticeModel

TERM_WEEKS = int(TERM.sum())  # 39 term weeks a year
MINOR = 0  # offence type index of minor offences (sim.events.OFFENCE_TYPES)

# Salts of this stream's counter-based draws (one per decision, never reused).
_SALT_ATTEND = 1
_SALT_VICTIM = 2
_SALT_REFER = 3
_SALT_EXCLUDE = 4


class SchoolsOfficers(Intervention):
    """Safer Schools officers in priority schools, in term time."""

    name = "schools_officers"
    stream_key = 103  # its random stream (sim/rng.py); never renumber
    description = (
        "Safer Schools police officers in the highest-priority schools: less truancy and "
        "victimisation, earlier referral, more detection of minor offences"
    )

    class Params(InterventionParams):
        """How many officers, where they go, what they change and what they cost."""

        def acts(self) -> bool:
            """Off with no officers."""
            return self.enabled and self.officers > 0

        officers: int = param(
            16,
            unit="officers",
            basis="sourced",
            ge=0,
            le=1000,
            source=CROYDON_SCRUTINY,
            doc="'16 Schools Officers in priority schools' (Croydon); 0 means none",
        )
        priority_weights: tuple[NonNegative, NonNegative, NonNegative] = param(
            (1.0, 1.0, 1.0),
            unit="weights of standardised deprivation, exclusions, offending",
            basis="assumed",
            source=MPS_2009,
            doc="school priority from pupils' ward deprivation, last year's exclusions per "
            "pupil and share of pupils arrested (para 5: the highest priority schools)",
        )
        extra_officer_weight: float = param(
            0.5,
            unit="share of the first officer's effect",
            basis="assumed",
            ge=0,
            le=1,
            doc="each further officer in a school adds this share of the previous one's effect",
        )
        truancy_reduction: float = param(
            0.15,
            unit="share per school year",
            basis="assumed",
            ge=0,
            le=1,
            source=f"{MPS_2009}; sorensen-2023",
            prior=EffectPrior.uniform(0.0, 0.3),
            doc="persistently absent pupils of a covered school back in regular attendance over "
            "a school year (para 5: reductions in truancy where officers are in place, with no "
            "evaluation). The US evidence points the other way (school resource officers "
            "raised chronic absenteeism: Sorensen et al.'s working paper), which the model "
            "does not have; so from no effect to 0.3: uniform(0, 0.3)",
        )
        in_school_victim_share: float = param(
            0.5,
            unit="share",
            basis="assumed",
            ge=0,
            le=1,
            doc="share of a pupil's term-time victimisation that happens in school or on the "
            "way to and from it",
        )
        victimisation_prevented: float = param(
            0.15,
            unit="share",
            basis="assumed",
            ge=0,
            le=1,
            source=f"{MPS_2009}; sorensen-2023; yef-toolkit",
            prior=EffectPrior.beta(1.5, 7.0),
            doc="of those, the share an officer prevents (para 6: patrols, safer routes to "
            "school, confidence and safety of pupils). Officers reduced some forms of violence "
            "in US schools (Sorensen et al. 2023); the Youth Endowment Fund finds no clear "
            "evidence on violence for police in schools: a small share, wide: beta(1.5, 7), "
            "median 0.15, 90% 0.02-0.42",
        )
        at_risk_share: float = param(
            0.1,
            unit="share of pupils",
            basis="assumed",
            ge=0,
            le=1,
            doc="pupils counted at risk: the highest risk scores among the borough's pupils",
        )
        referral_rate: float = param(
            0.5,
            unit="per at-risk pupil per school year",
            basis="assumed",
            ge=0,
            le=52,
            source=MPS_2009,
            doc="extra referrals to support of at-risk pupils in a covered school (para 4: "
            "truancy as an indicator that a child may be at risk)",
        )
        referral_weeks: int = param(
            12,
            unit="weeks",
            basis="assumed",
            ge=1,
            le=104,
            doc="length of the support a referral leads to (early help)",
        )
        referral_effect: float = param(
            0.15,
            unit="log hazard reduction",
            basis="assumed",
            ge=-3,
            le=3,
            prior=EffectPrior.normal(0.15, 0.15),
            doc="risk while supported (negative: raises it); no evaluation of officers' "
            "referrals was found: as much help as a short programme may give, or none, or "
            "harm: normal(0.15, 0.15), 90% -0.10 to 0.40",
        )
        in_school_offence_share: float = param(
            0.5,
            unit="share",
            basis="assumed",
            ge=0,
            le=1,
            doc="share of pupils' minor offences in term committed in school or on routes to "
            "school, where an officer can see them",
        )
        minor_detection_multiplier: float = param(
            2.0,
            unit="detection multiplier",
            basis="assumed",
            ge=1,
            le=10,
            source="owens-2017; sorensen-2023",
            prior=EffectPrior.lognormal(2.0, 0.25),
            doc="detection of those minor offences with an officer in the school: police "
            "learn of more school crimes and arrest more, mainly children under 15 (Owens "
            "2017); more police referrals and arrests of pupils (Sorensen et al. 2023). "
            "Neither figure was read as a multiplier: lognormal(2, 0.25), 90% 1.3-3.0",
        )
        exclusion_rate_ratio: float = param(
            1.21,
            unit="rate ratio of permanent exclusion (one officer)",
            basis="sourced",
            ge=1,
            le=10,
            source="fisher-hennessy-2016",
            prior=EffectPrior.lognormal(1.21, 0.0758),
            doc="a covered school's pupils are excluded this many times as often (a school "
            "with more officers: this to the power of its dose). Exclusionary discipline with "
            "school resource officers: rate ratio 1.21, 95% CI 1.04-1.40 (Fisher and Hennessy "
            "2016; US high schools, suspensions and expulsions), applied to permanent "
            "exclusion, the model's only exclusion: lognormal(1.21, (ln 1.40 - ln 1.04) / "
            "3.92 = 0.076)",
        )
        excess_by_group: tuple[NonNegative, NonNegative, NonNegative, NonNegative, NonNegative] = (
            param(
                (1.0, 2.0, 1.0, 1.0, 1.0),
                unit="multiplier by group (White, Black, Asian, Mixed, Other); White = 1",
                basis="assumed",
                source="sorensen-2023",
                doc="the officers' extra exclusions and extra detections by the pupil's group: "
                "their increases in suspensions, expulsions, police referrals and arrests were "
                "over twice as large for Black as for White students (Sorensen et al., US "
                "schools), so Black 2 (range 1-3); no figure was read for the other groups: 1 "
                "(range 1-2). Set all to 1 for officers who treat every group alike",
            )
        )
        review_weeks: int = param(
            4,
            unit="weeks",
            basis="assumed",
            ge=1,
            le=13,
            doc="officers review attendance and pupils at risk with the school's safeguarding "
            "lead about monthly (in term)",
        )
        cost_per_officer_year: float = param(
            60_000,
            unit="GBP per officer-year",
            basis="sourced",
            le=MAX_GBP,
            ge=0,
            source="ho-constable-cost-hl737; taxpayers-alliance-2012",
            doc="a police constable's pay with on-costs (London weighting, pension, kit). "
            "Bracketed by two published figures: a London constable's pay-related cost "
            "(salary, employers' National Insurance and pension, London Weighting; 2013 pay "
            "scale) runs to GBP 52,900 at the top pay point, plus a London Allowance of at most "
            "GBP 4,338 = GBP 57,238 without kit or overheads (Home Office answer HL737); the "
            "whole police budget per officer and PCSO, GBP 13.2 billion over 149,000, is "
            "'nearly GBP 90,000' (TaxPayers' Alliance 2012). GBP 60,000 lies between them",
        )

        @model_validator(mode="after")
        def _white_is_reference(self) -> SchoolsOfficers.Params:
            if self.excess_by_group[0] != 1:
                raise ValueError("excess_by_group: White is the reference, its entry is 1")
            return self

    def __init__(self, model: YouthJusticeModel, params: SchoolsOfficers.Params) -> None:
        super().__init__(model, params)
        self.params: SchoolsOfficers.Params = params
        cap = model.people.capacity
        ppl = model.people
        # Secondaries, then one pupil referral unit per borough.
        n_schools = ppl.n_mainstream + ppl.geography.n_boroughs
        self.officers_at = np.zeros(n_schools, dtype=np.int64)
        self.priority = np.zeros(n_schools)  # at the last allocation
        self.dose = np.zeros(n_schools)  # effect strength by school (0 = no officer)
        self._dose_pad = np.zeros(n_schools + 1)  # index -1 (no school) reads 0
        self._roll = np.full(cap, -1, dtype=np.int16)  # school at the last allocation
        self._allocated_year = -1
        self.support_until = never(cap)  # support while > week
        self.active = np.empty(0, dtype=np.int64)  # under referral support now
        self.truancy_resolved = 0
        self.victimisations_prevented = 0
        self.referrals = 0
        self.exclusions = 0  # extra exclusions (measured years)

    # -- where the officers go ------------------------------------------------
    def _allocate(self) -> None:
        """Officers to schools by priority, one per school first, then a second, ..."""
        m, p, ppl, live = self.model, self.params, self.model.people, self.model.people.live
        self._allocated_year = m.calendar.year
        n_schools = self.officers_at.size
        self.officers_at[:] = 0
        if p.officers > 0:
            school = ppl.school[live].astype(np.int64)
            pupil = ppl.at_school(m.week)
            s = school[pupil]
            roll = np.bincount(s, minlength=n_schools).astype(float)
            per_pupil = np.maximum(roll, 1.0)
            deprivation = np.bincount(s, ppl.deprivation[live][pupil], n_schools) / per_pupil
            arrested = np.bincount(s, (ppl.n_arrests[live] > 0)[pupil], n_schools) / per_pupil
            # Exclusions since the last allocation, by the school the pupil was on the roll of.
            was = self._roll[live].astype(np.int64)
            mainstream = ppl.n_mainstream
            out = ppl.excluded[live] & (was >= 0) & (was < mainstream)
            excl = np.bincount(was[out], minlength=n_schools) / per_pupil
            excl[mainstream:] = excl[:mainstream].max(initial=0.0)  # all PRU pupils were excluded
            w = p.priority_weights
            priority = w[0] * _z(deprivation) + w[1] * _z(excl) + w[2] * _z(arrested)
            priority[roll == 0] = -np.inf  # a school with no pupils gets no officer
            self.priority = priority
            order = np.argsort(-priority, kind="stable")
            open_schools = order[np.isfinite(priority[order])]
            if open_schools.size:
                full, extra = divmod(p.officers, open_schools.size)
                self.officers_at[open_schools] = full
                self.officers_at[open_schools[:extra]] += 1
        k = self.officers_at
        r = p.extra_officer_weight
        # 1 + r + r^2 + ... (k terms): the first officer gives the full effect.
        self.dose = np.where(k > 0, k if r == 1 else (1 - r**k) / (1 - r), 0.0)
        self._dose_pad[:-1] = self.dose
        self._roll[live] = ppl.school[live]

    def _pupil_dose(self, persons: np.ndarray, week: int) -> np.ndarray:
        """Effect strength for each person: their school's, if a pupil there now."""
        ppl = self.model.people
        age = age_of(ppl.birth_week[persons], week)
        school = ppl.school[persons].astype(np.int64)
        pupil = (age < 16) & (school >= 0) & ~(ppl.custody_release_week[persons] > week)
        return np.where(pupil, self._dose_pad[school], 0.0)

    def _review(self, week: int) -> bool:
        """A review week: in term, every ``review_weeks`` weeks of the run."""
        return self.model.calendar.term and week % self.params.review_weeks == 0

    # -- hooks ----------------------------------------------------------------
    def before_offending(self, week: int) -> None:
        """Allocation each school year; attendance improves in term; support lowers risk."""
        m, p = self.model, self.params
        if p.officers <= 0:
            return
        if m.calendar.year != self._allocated_year:
            self._allocate()
        if m.calendar.term and p.exclusion_rate_ratio > 1:
            self._exclude(week)
        if self._review(week) and p.truancy_reduction > 0:
            ppl, live = m.people, m.people.live
            absent = np.flatnonzero(ppl.persistent_absence[live]) + live.start
            dose = self._pupil_dose(absent, week)
            absent, dose = absent[dose > 0], dose[dose > 0]
            if absent.size:
                # Chance per review so that one officer clears the sourced share in a school
                # year (TERM_WEEKS / review_weeks reviews a year).
                per_review = p.review_weeks / TERM_WEEKS
                prob = -np.expm1(dose * np.log1p(-p.truancy_reduction) * per_review)
                u = m.streams.uniform(self.name, week, absent, _SALT_ATTEND)
                back = absent[u < prob]
                ppl.persistent_absence[back] = False
                self.reached[back] = True
                self.truancy_resolved += int(back.size)
        if self.active.size and p.referral_effect != 0:
            m.offending.hazard_multiplier[self.active] *= np.exp(-p.referral_effect)

    def _exclude(self, week: int) -> None:
        """Extra permanent exclusions of pupils of covered schools this term week.

        A pupil's own weekly chance ``q`` (sim/schools.py) becomes about ``q x ratio**dose``:
        on top of the school's own draw, a second one from this stream with chance
        ``q x (ratio**dose - 1) x excess_by_group`` (the rates are tiny, so the two add).
        """
        m, p, ppl, live = self.model, self.params, self.model.people, self.model.people.live
        school = ppl.school[live].astype(np.int64)
        covered = np.flatnonzero(self._dose_pad[school] > 0) + live.start
        covered = covered[ppl.at_school_of(covered, week) & ~ppl.excluded[covered]]
        if covered.size == 0:
            return
        dose = self._pupil_dose(covered, week)
        excess = np.asarray(p.excess_by_group)[ppl.ethnic[covered]]
        chance = m.schools.exclusion_probability(covered) * np.expm1(
            dose * np.log(p.exclusion_rate_ratio)
        )
        u = m.streams.uniform(self.name, week, covered, _SALT_EXCLUDE)
        out = covered[u < chance * excess]
        if out.size == 0:
            return
        ppl.excluded[out] = True
        ppl.school[out] = ppl.pru_of(out)
        m.week_counts["exclusions"] += int(out.size)
        self.reached[out] = True
        if m.measuring:
            self.exclusions += int(out.size)

    def protect_victims(self, victims: np.ndarray, week: int) -> np.ndarray | None:
        """Prevent a share of term-time victimisations of pupils of covered schools."""
        p = self.params
        if p.officers <= 0 or not self.model.calendar.term or victims.size == 0:
            return None
        dose = self._pupil_dose(victims, week)
        prob = np.clip(p.in_school_victim_share * p.victimisation_prevented * dose, 0.0, 1.0)
        if not (prob > 0).any():
            return None
        u = self.model.streams.uniform(self.name, week, victims, _SALT_VICTIM)
        prevented = u < prob
        self.reached[victims[prevented]] = True
        self.victimisations_prevented += int(prevented.sum())
        return prevented

    def adjust_detection(self, offence_ids: np.ndarray, prob: np.ndarray, week: int) -> np.ndarray:
        """Minor offences by pupils of covered schools are detected more often in term."""
        p = self.params
        if p.officers <= 0 or not self.model.calendar.term or offence_ids.size == 0:
            return prob
        off = self.model.events.offences
        minor = off["type"][offence_ids] == MINOR
        if not minor.any():
            return prob
        person = off["person"][offence_ids]
        dose = self._pupil_dose(person, week) * minor
        if not (dose > 0).any():
            return prob
        excess = np.asarray(p.excess_by_group)[self.model.people.ethnic[person]]
        extra = p.in_school_offence_share * (p.minor_detection_multiplier - 1.0) * dose * excess
        return prob * (1.0 + extra)

    def end_of_week(self, week: int) -> None:
        """Referrals of at-risk pupils in covered schools; support ends; costs."""
        m, p = self.model, self.params
        if p.officers <= 0:
            return
        ppl, live = m.people, m.people.live
        self.active = self.active[(self.support_until[self.active] > week)]
        self.active = self.active[self.active >= ppl.lo]
        lh = m.offending.last_log_hazard
        if self._review(week) and p.referral_rate > 0 and p.at_risk_share > 0 and lh.size:
            ids = np.arange(live.start, live.stop)
            pupil = ppl.at_school(week)
            if pupil.any() and lh.size == ids.size:
                cut = np.quantile(lh[pupil], 1.0 - p.at_risk_share)
                risky = ids[pupil & (lh >= cut) & ~(self.support_until[live] > week)]
                dose = self._pupil_dose(risky, week)
                risky, dose = risky[dose > 0], dose[dose > 0]
                if risky.size:
                    prob = -np.expm1(-p.referral_rate * dose * p.review_weeks / TERM_WEEKS)
                    u = m.streams.uniform(self.name, week, risky, _SALT_REFER)
                    new = risky[u < prob]
                    self.support_until[new] = week + p.referral_weeks
                    self.active = np.union1d(self.active, new)
                    self.reached[new] = True
                    self.referrals += int(new.size)
        self.caseload = int(self.active.size)
        if m.measuring:
            self.cost_gbp += p.officers * p.cost_per_officer_year / WEEKS_PER_YEAR

    def outputs(self, measured_years: float) -> dict[str, float]:
        """The common outputs plus schools covered and what the officers changed."""
        out = super().outputs(measured_years)
        out["schools_covered"] = int((self.officers_at > 0).sum())
        out["truancy_resolved"] = int(self.truancy_resolved)
        out["victimisations_prevented"] = int(self.victimisations_prevented)
        out["referrals"] = int(self.referrals)
        out["exclusions_per_year"] = self.exclusions / max(measured_years, 1e-9)
        return out


def _z(x: np.ndarray) -> np.ndarray:
    """Standardised across schools (0 when all are equal)."""
    sd = x.std()
    return (x - x.mean()) / sd if sd > 0 else np.zeros_like(x)
