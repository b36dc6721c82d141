"""Hotspot operations: short police operations where youth offending concentrates.

From the Croydon scrutiny minutes: hotspots move with the time of year,
school terms and where police put their assets; they are found through
intelligence sharing and crime reports; a three-week operation around
Church Street tackled schoolchild robbery, with Neighbourhood Safety
Officers, Schools Officers and central assets.

Every ``interval_weeks`` each borough's police rank its wards by the recent
offences of their young residents (weighted by type, robbery most) plus
those in the same weeks a year earlier (so the ranking follows the season
and the school term), and run an operation of ``operation_weeks`` in their
top wards. During
it, offences by residents of an operation ward are more likely to be
detected (``adjust_detection``), and residents offend a little less
(deterrence); a share of the deterred offending moves to the neighbouring
wards (displacement), where residents' hazards rise so that, in expectation,
that share of the deterred offences is committed there instead. A negative
share is a diffusion of benefits: the neighbours' hazards fall instead, which
the evidence finds more often than displacement (Braga et al. 2019).

The model has no map: a ward's neighbours are the wards whose children
share its schools most (children go to schools near home). An offence is
placed in its offender's home ward.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from sim.calendar import WEEKS_PER_YEAR
from sim.events import Table
from sim.interventions import Intervention, InterventionParams
from sim.params import CROYDON_SCRUTINY, MAX_GBP, MAX_WEIGHT, EffectPrior, NonNegative, param

if TYPE_CHECKING:
    from sim.model import YouthJusticeModel


class HotspotParams(InterventionParams):
    """How often, where, for how long, and what an operation does."""

    def acts(self) -> bool:
        """Off with no wards or weeks of operation."""
        return self.enabled and self.wards_per_operation > 0 and self.operation_weeks > 0

    interval_weeks: int = param(
        8,
        unit="weeks",
        basis="assumed",
        ge=1,
        le=520,
        doc="weeks from the start of one operation to the start of the next (about six a "
        "year, as hotspots move with terms and holidays)",
    )
    operation_weeks: int = param(
        3,
        unit="weeks",
        basis="sourced",
        source=CROYDON_SCRUTINY,
        ge=1,
        le=52,
        doc="a three-week operation around Church Street on schoolchild robbery",
    )
    wards_per_operation: int = param(
        1,
        unit="wards",
        basis="sourced",
        source=CROYDON_SCRUTINY,
        ge=0,
        le=200,
        doc="one area at a time in each borough (the Church Street operation); 0 runs no "
        "operations",
    )
    rest_weeks: int = param(
        16,
        unit="weeks",
        basis="assumed",
        source=CROYDON_SCRUTINY,
        ge=0,
        le=520,
        doc="a ward is not targeted again within this many weeks of its last operation: "
        "hotspots move with what assets the police put into areas",
    )
    lookback_weeks: int = param(
        8,
        unit="weeks",
        basis="assumed",
        ge=1,
        le=104,
        doc="recent crime reports used to find the hotspot",
    )
    seasonal_weight: float = param(
        1.0,
        unit="weight",
        basis="assumed",
        le=MAX_WEIGHT,
        source=CROYDON_SCRUTINY,
        ge=0,
        doc="weight of offences in the same weeks a year earlier: hotspots move with the "
        "time of year and school terms",
    )
    offence_weights: tuple[NonNegative, NonNegative, NonNegative, NonNegative, NonNegative] = param(
        (0.5, 0.5, 1.0, 2.0, 1.5),
        unit="weight per type (minor, drugs, violence, robbery, weapon)",
        basis="assumed",
        doc="what draws an operation: schoolchild robbery most (the Church Street "
        "operation), then weapons and violence",
    )
    detection_multiplier: float = param(
        1.5,
        unit="multiplier",
        basis="assumed",
        ge=0,
        le=10,
        prior=EffectPrior.uniform(1.0, 2.0),
        doc="detection of residents' offences during an operation: high-visibility "
        "patrols, Schools Officers and central assets in the area; no figure found: from "
        "no change to double, uniform(1, 2)",
    )
    deterrence: float = param(
        0.1,
        unit="share of residents' offending",
        basis="sourced",
        ge=0,
        le=1,
        source="braga-2019; braga-weisburd-2022",
        prior=EffectPrior.beta(2.0, 16.0),
        doc="offending deterred in the operation ward while it runs. Hot spots policing: "
        "small, significant reductions at the targeted places (Braga et al. 2019); about "
        "8% by Cohen's d, 16% by the relative incidence rate ratio (Braga and Weisburd "
        "2022): beta(2, 16), median 0.10, 90% 0.02-0.25",
    )
    displacement: float = param(
        -0.1,
        unit="share of deterred offending",
        basis="assumed",
        ge=-1,
        le=1,
        source="braga-2019",
        prior=EffectPrior.normal(-0.1, 0.2),
        doc="deterred offending that moves to neighbouring wards instead; negative: "
        "diffusion of benefits, the neighbours offend less too. The review favours a small, "
        "significant diffusion of benefits over displacement; its size was not read: "
        "normal(-0.1, 0.2), 90% -0.43 to 0.23",
    )
    neighbour_wards: int = param(
        2,
        unit="wards",
        basis="assumed",
        ge=0,
        le=50,
        doc="wards that displaced offending moves to (those sharing most schools with it)",
    )
    cost_per_ward_week: float = param(
        20_000,
        unit="GBP per ward-week of operation",
        basis="assumed",
        le=MAX_GBP,
        ge=0,
        doc="about 10 officers full time (400 hours at ~GBP 50 an hour with on-costs)",
    )


class Hotspots(Intervention):
    """Short operations in the wards where offending concentrates; displacement nearby.

    ``caseload`` counts the wards under operation this week; ``reached`` the
    young people whose offences fell in an operation ward while it ran.
    """

    name = "hotspots"
    stream_key = 106  # its random stream (sim/rng.py); never renumber
    description = "3-week police operations in the wards where youth offending concentrates"
    Params = HotspotParams

    def __init__(self, model: YouthJusticeModel, params: HotspotParams) -> None:
        super().__init__(model, params)
        self.params: HotspotParams = params
        n_wards = model.geography.ward_deprivation.size
        self.active = np.zeros(n_wards, dtype=bool)  # wards under operation this week
        self.until = -1  # the current operation runs while week < until
        self.operations = Table({"ward": "i4", "start": "i4", "end": "i4"})
        self.displace_to = np.zeros(n_wards, dtype=bool)  # neighbours of the operations
        self.groups: list[tuple[np.ndarray, np.ndarray]] = []  # (operation, neighbour) wards
        self.last_operation = np.full(n_wards, -(10**9))  # start week of each ward's last
        self.multiplier = np.ones(n_wards)  # this week's deterrence and displacement
        self._affected = np.empty(0, dtype=np.int64)  # residents of those wards
        self._affected_n = self._affected_week = -1  # people.n and operation end when listed
        self._rolls = np.zeros((0, n_wards))  # pupils by school and home ward
        self._rolls_n = -1  # people.n when counted
        self.ward_weeks = 0  # ward-weeks of operation (measured years)

    # -- helpers -----------------------------------------------------------------

    def ward_scores(self, week: int) -> np.ndarray:
        """Weighted offences of each ward's residents in the last weeks and a year ago."""
        m, p = self.model, self.params
        off = m.events.offences
        n_wards = m.geography.ward_deprivation.size
        weights = np.asarray(p.offence_weights)

        def count(lo: int, hi: int) -> np.ndarray:
            a, b = off.first_row_of_week(lo), off.first_row_of_week(hi)
            wards = m.people.ward[off["person"][a:b]].astype(np.int64)
            return np.bincount(wards, weights=weights[off["type"][a:b]], minlength=n_wards)

        recent = count(week - p.lookback_weeks, week)
        year_ago = week - WEEKS_PER_YEAR
        seasonal = count(year_ago, year_ago + p.operation_weeks)
        return recent + p.seasonal_weight * seasonal

    def neighbours(self, wards: np.ndarray) -> np.ndarray:
        """For each of ``wards``, the pairs of young people its children share a school roll
        with, by ward: wards whose children share schools are near each other (the model
        has no map). School rolls are counted once a year, when a cohort enters."""
        ppl = self.model.people
        if self._rolls_n != ppl.n:
            live = ppl.live
            school = ppl.school[live].astype(np.int64)
            on_roll = school >= 0
            n_wards = self.active.size
            n_schools = int(school.max(initial=0)) + 1
            key = school[on_roll] * n_wards + ppl.ward[live][on_roll]
            rolls = np.bincount(key, minlength=n_schools * n_wards)
            self._rolls = rolls.reshape(n_schools, n_wards).astype(np.float64)
            self._rolls_n = ppl.n
        return self._rolls[:, wards].T @ self._rolls

    def _start_operations(self, week: int) -> None:
        """Each borough's police pick their top wards and run an operation there."""
        m, p = self.model, self.params
        n_wards = self.active.size
        borough = m.geography.ward_borough
        scores = self.ward_scores(week)
        scores[self.last_operation > week - p.rest_weeks] = 0.0  # assets rotate
        # By borough, then highest score first (ties: the lower ward number).
        order = np.lexsort((np.arange(n_wards), -scores, borough))
        rank = np.arange(n_wards) - np.searchsorted(borough[order], borough[order], side="left")
        wards = np.sort(order[(rank < p.wards_per_operation) & (scores[order] > 0)])
        if wards.size == 0:
            return
        self.active[:] = False
        self.active[wards] = True
        self.last_operation[wards] = week
        self.until = week + p.operation_weeks
        self.operations.append(
            ward=wards, start=np.full(wards.size, week), end=np.full(wards.size, self.until)
        )
        # Where each borough's displaced offending goes: the wards with most ties to
        # its operation wards, not under operation themselves.
        self.groups = []
        self.displace_to[:] = False
        if p.neighbour_wards > 0 and p.displacement != 0:
            for b in np.unique(borough[wards]):  # a loop over boroughs with an operation
                mine = wards[borough[wards] == b]
                t = self.neighbours(mine).sum(axis=0)
                t[self.active] = -1.0
                near = np.lexsort((np.arange(n_wards), -t))[: p.neighbour_wards]
                near = near[t[near] > 0]
                self.groups.append((mine, near))
                self.displace_to[near] = True

    # -- hooks --------------------------------------------------------------------
    def before_offending(self, week: int) -> None:
        m, p, ppl = self.model, self.params, self.model.people
        if week >= self.until and self.active.any():
            self.active[:] = False
            self.displace_to[:] = False
        if p.wards_per_operation > 0 and week > 0 and week % p.interval_weeks == 0:
            self._start_operations(week)
        if not self.active.any():
            return
        live = ppl.live
        if self._affected_n != ppl.n or self._affected_week != self.until:
            # Residents of the operation and neighbouring wards (listed once per operation).
            ward = ppl.ward[live]
            hit = self.active[ward] | self.displace_to[ward]
            self._affected = np.flatnonzero(hit) + live.start
            self._affected_n, self._affected_week = ppl.n, self.until
        ids = self._affected[self._affected >= ppl.lo]
        self._affected = ids
        ward = ppl.ward[ids]
        self.multiplier[:] = 1.0
        self.multiplier[self.active] = 1.0 - p.deterrence
        if p.deterrence > 0 and self.displace_to.any():
            # Expected offences deterred in each operation's wards, spread over its
            # neighbours' residents in proportion to their own hazard.
            hazard = np.exp(self.model.offending.last_log_hazard_of(ids))
            h_ward = np.bincount(ward, weights=hazard, minlength=self.active.size)
            for mine, near in self.groups:  # one group per borough with an operation
                receiving = h_ward[near].sum()
                if receiving > 0:
                    deterred = p.deterrence * h_ward[mine].sum()
                    self.multiplier[near] += p.displacement * deterred / receiving
            if p.displacement < 0:  # diffusion can prevent at most all the neighbours' offending
                np.maximum(self.multiplier, 0.0, out=self.multiplier)
        m.offending.hazard_multiplier[ids] *= self.multiplier[ward]
        if m.measuring:
            self.ward_weeks += int(self.active.sum())
            self.cost_gbp += self.active.sum() * p.cost_per_ward_week

    def adjust_detection(self, offence_ids: np.ndarray, prob: np.ndarray, week: int) -> np.ndarray:
        if not self.active.any() or offence_ids.size == 0:
            return prob
        person = self.model.events.offences["person"][offence_ids]
        here = self.active[self.model.people.ward[person]]
        self.reached[person[here]] = True
        return np.where(here, prob * self.params.detection_multiplier, prob)

    def end_of_week(self, week: int) -> None:
        self.caseload = int(self.active.sum())

    def outputs(self, measured_years: float) -> dict[str, float]:
        out = super().outputs(measured_years)
        out["operation_ward_weeks_per_year"] = self.ward_weeks / max(measured_years, 1e-9)
        return out
