"""Met Track: athletics and sport in schools, run with the police (MPS response para 19).

"Met Track is a sports engagement programme for schools to participate in
athletics and other sports, developing their ability to keep safe and
avoiding violent crime. It operates in 16 Boroughs at present"
(mps-2009). In the model: in the participating
boroughs (the most deprived by default), the schools with the most
deprived intakes take part; each term some of their pupils aged 11-15 join
a one-term programme. While on it, a pupil's offending hazard is a little
lower (time with coaches and police after school) and their chance of being
a young victim is lower (keeping safe). There is no evaluation of Met Track,
so both effects are small and marked as assumptions.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from sim.calendar import never
from sim.calendar import week as calendar_week
from sim.interventions import Intervention, InterventionParams
from sim.params import MAX_COUNT, MAX_GBP, MPS_2009, EffectPrior, param

if TYPE_CHECKING:
    from sim.model import YouthJusticeModel


class MetTrackParams(InterventionParams):
    """Where Met Track runs, who joins, and its (assumed) effects."""

    def acts(self) -> bool:
        """Off with no boroughs, schools or places."""
        return self.enabled and (
            self.boroughs > 0 and self.schools_per_borough > 0 and self.places_per_school_term > 0
        )

    boroughs: int = param(
        16,
        unit="boroughs",
        basis="sourced",
        source=MPS_2009,
        ge=0,
        le=100,
        doc="operates in 16 boroughs (para 19); the most deprived take part",
    )
    schools_per_borough: int = param(
        3,
        unit="schools",
        basis="assumed",
        ge=0,
        le=100,
        doc="schools taking part in each participating borough (most deprived intake first)",
    )
    places_per_school_term: int = param(
        30,
        unit="pupils per school per term",
        basis="assumed",
        le=MAX_COUNT,
        ge=0,
        doc="a squad of about 30 pupils each term",
    )
    programme_weeks: int = param(
        12,
        unit="weeks",
        basis="assumed",
        ge=1,
        le=52,
        doc="one term of weekly sessions",
    )
    min_age: float = param(11, unit="years", basis="assumed", ge=10, le=16)
    max_age: float = param(
        16, unit="years", basis="assumed", ge=10, le=18, doc="secondary pupils of school age"
    )
    risk_tilt: float = param(
        0.5,
        unit="log odds per SD of last week's log hazard",
        basis="assumed",
        ge=0,
        le=5,
        doc="schools put forward pupils at risk of violence",
    )
    hazard_effect: float = param(
        0.05,
        unit="share of weekly hazard removed",
        basis="assumed",
        ge=0,
        le=1,
        prior=EffectPrior.uniform(0.0, 0.1),
        doc="small: no evaluation exists; sessions fill some after-school hours: from none "
        "to 0.1, uniform(0, 0.1)",
    )
    victim_protection: float = param(
        0.10,
        unit="share of victimisations prevented",
        basis="assumed",
        ge=0,
        le=1,
        prior=EffectPrior.uniform(0.0, 0.2),
        doc="'developing their ability to keep safe' (para 19); unevaluated, so small: from "
        "none to 0.2, uniform(0, 0.2)",
    )
    cost_per_place: float = param(
        250,
        unit="GBP per pupil-term",
        basis="assumed",
        le=MAX_GBP,
        ge=0,
        doc="coaching, kit and venue for a term's sessions",
    )


class MetTrack(Intervention):
    """Athletics programme in schools of the participating boroughs."""

    name = "met_track"
    stream_key = 108  # its random stream (sim/rng.py); never renumber
    description = "Met Track athletics in schools of the most deprived boroughs"
    Params = MetTrackParams

    def __init__(self, model: YouthJusticeModel, params: MetTrackParams) -> None:
        super().__init__(model, params)
        self.params: MetTrackParams = params
        self.schools = self._choose_schools()
        self.until = never(model.people.capacity)  # on the programme while > week

    def _choose_schools(self) -> np.ndarray:
        """The most deprived boroughs, and in each the schools with the most deprived pupils."""
        m, p, ppl = self.model, self.params, self.model.people
        geo = m.geography
        if p.boroughs == 0 or p.schools_per_borough == 0:
            return np.empty(0, dtype=np.int64)
        live = np.arange(ppl.lo, ppl.n)
        mainstream = live[(ppl.school[live] >= 0) & (ppl.school[live] < geo.n_mainstream)]
        school = ppl.school[mainstream].astype(np.int64)
        dep = np.bincount(school, ppl.deprivation[mainstream], minlength=geo.n_mainstream)
        dep /= np.maximum(np.bincount(school, minlength=geo.n_mainstream), 1)
        borough_dep = np.bincount(geo.ward_borough, geo.ward_deprivation) / np.bincount(
            geo.ward_borough
        )
        chosen = np.argsort(-borough_dep, kind="stable")[: p.boroughs]
        picks = []
        for b in chosen:  # a loop over boroughs
            own = np.flatnonzero(geo.school_borough == b)
            picks.append(own[np.argsort(-dep[own], kind="stable")[: p.schools_per_borough]])
        return np.sort(np.concatenate(picks))

    def before_offending(self, week: int) -> None:
        m, p, ppl = self.model, self.params, self.model.people
        if self.schools.size == 0 or p.places_per_school_term == 0:
            return
        if m.calendar.term and self._term_starts(week):
            self._recruit(week)
        on = np.flatnonzero(self.until[ppl.live] > week) + ppl.lo
        on = on[~ppl.in_custody(week)[on - ppl.lo]]
        if m.calendar.term:
            m.offending.hazard_multiplier[on] *= 1.0 - p.hazard_effect
        self.caseload = int(on.size)

    def _term_starts(self, week: int) -> bool:
        """First week of a term (the previous week was a holiday)."""
        return week == 0 or not calendar_week(week - 1).term

    def _recruit(self, week: int) -> None:
        """Fill each school's places for the term, leaning towards pupils at risk."""
        m, p, ppl = self.model, self.params, self.model.people
        live = ppl.live
        age = ppl.age(week)
        in_school = np.isin(ppl.school[live], self.schools)
        ok = in_school & (age >= p.min_age) & (age < p.max_age) & ppl.at_school(week)
        ok &= ~(self.until[live] > week)
        ids = np.flatnonzero(ok) + live.start
        if ids.size == 0:
            return
        lh = m.offending.last_log_hazard
        z = np.zeros(ids.size)
        if lh.size == live.stop - live.start:
            v = lh[ids - live.start]
            fin = np.isfinite(v)
            if fin.sum() > 1:
                z[fin] = (v[fin] - v[fin].mean()) / max(v[fin].std(), 1e-9)
        # Weighted sampling without replacement within each school (exponential keys).
        u = m.streams.uniform(self.name, week, ids)
        key = np.log(-np.log1p(-u)) - p.risk_tilt * z
        school = ppl.school[ids].astype(np.int64)
        order = np.lexsort((key, school))
        ids, school = ids[order], school[order]
        rank = np.arange(ids.size) - np.searchsorted(school, school, side="left")
        new = ids[rank < p.places_per_school_term]
        self.until[new] = week + p.programme_weeks
        self.reached[new] = True
        if m.measuring:
            self.cost_gbp += p.cost_per_place * new.size

    def protect_victims(self, victims: np.ndarray, week: int) -> np.ndarray | None:
        p = self.params
        if p.victim_protection == 0:
            return None
        on = self.until[victims] > week
        u = self.model.streams.uniform(self.name, week, victims, 7)
        return on & (u < p.victim_protection)

    def outputs(self, measured_years: float) -> dict[str, float]:
        out = super().outputs(measured_years)
        out["schools"] = int(self.schools.size)
        return out
