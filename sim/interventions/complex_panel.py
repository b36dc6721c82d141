"""Complex adolescents panel: a weekly partnership panel that puts the highest-risk
children on a joint safety plan.

From the Croydon scrutiny minutes: the Complex Adolescents Panel is a
partnership group meeting weekly, co-chaired by the police, that considers
exploitation in individual children's cases and drives child safety plans.

Each week each borough's panel ranks its children (10-17, at liberty, not on a plan and not
on one recently) by last week's offending log hazard plus flags for
exploitation risk (looked after, victimised in the last year, in or tied to
a gang), and takes the top ones onto a plan while it has capacity and time.
A plan lasts ``plan_weeks``; while it runs the child's offending hazard is
lower, some of their victimisations are prevented (safety planning against
exploitation), and gang members among them leave gangs faster (disrupted
exploitation). Each plan costs the partners' time.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from pydantic import model_validator

from sim.calendar import WEEKS_PER_YEAR, never
from sim.events import Table
from sim.interventions import Intervention, InterventionParams
from sim.params import CROYDON_SCRUTINY, MAX_GBP, MAX_WEIGHT, MPS_2009, EffectPrior, param
from sim.population import age_of

if TYPE_CHECKING:
    from sim.model import YouthJusticeModel


class ComplexPanelParams(InterventionParams):
    """Who the panel takes, how many, for how long, what a plan does and costs."""

    def acts(self) -> bool:
        """Off with no places on the panel."""
        return self.enabled and self.capacity > 0

    capacity: int = param(
        30,
        unit="children on a plan at once, per borough",
        basis="assumed",
        ge=0,
        le=10_000,
        doc="plans the partners can drive at once (a lead professional each)",
    )
    new_cases_per_week: int = param(
        3,
        unit="children per weekly meeting, per borough",
        basis="assumed",
        source=CROYDON_SCRUTINY,
        ge=0,
        le=1_000,
        doc="the panel meets weekly; a meeting can take on a few new cases",
    )
    plan_weeks: int = param(
        26,
        unit="weeks",
        basis="assumed",
        ge=1,
        le=260,
        doc="how long a joint safety plan runs before review and closure",
    )
    readmission_gap_weeks: int = param(
        26,
        unit="weeks",
        basis="assumed",
        ge=0,
        le=520,
        doc="a child whose plan closed is not taken again for this long",
    )
    min_age: float = param(
        10,
        unit="years",
        basis="assumed",
        ge=10,
        le=21,
        doc="children from the age of criminal responsibility",
    )
    max_age: float = param(
        18,
        unit="years",
        basis="assumed",
        ge=10,
        le=21,
        doc="a children's social care panel: under 18",
    )
    weight_looked_after: float = param(
        1.0,
        unit="log-hazard points",
        basis="assumed",
        le=MAX_WEIGHT,
        source=MPS_2009,
        ge=0,
        doc="priority for looked-after children, the most likely to become victims and "
        "perpetrators (para 14)",
    )
    weight_victim: float = param(
        0.5,
        unit="log-hazard points",
        basis="assumed",
        le=MAX_WEIGHT,
        ge=0,
        doc="priority for children victimised in the last year (exploitation often shows "
        "as victimisation)",
    )
    weight_gang: float = param(
        1.0,
        unit="log-hazard points",
        basis="assumed",
        le=MAX_WEIGHT,
        ge=0,
        doc="priority for gang members and children with a friend, sibling or fellow "
        "member in a gang (criminal exploitation runs through these ties)",
    )
    victim_window_weeks: int = param(
        52,
        unit="weeks",
        basis="assumed",
        ge=0,
        le=520,
        doc="victimisation this recent counts as a flag",
    )
    plan_effect: float = param(
        0.15,
        unit="log hazard reduction",
        basis="assumed",
        ge=-3,
        le=3,
        source="lipsey-2009; schwalbe-2012",
        prior=EffectPrior.normal(0.15, 0.15),
        doc="effect of a multi-agency plan on offending while it runs (negative: raises it). "
        "No evaluation of such panels was found. Effective programmes cut reoffending "
        "10-20% (Lipsey 2009: log hazard ratios 0.15-0.31 at a 50% base); a plan is case "
        "management, and diversion by case management gave OR 0.78, not significant "
        "(Schwalbe et al. 2012; 0.18): normal(0.15, 0.15), 90% -0.10 to 0.40",
    )
    victim_protection: float = param(
        0.15,
        unit="share of victimisations prevented",
        basis="assumed",
        ge=0,
        le=1,
        prior=EffectPrior.beta(1.5, 7.0),
        doc="safety plans against exploitation: fewer victimisations while on the plan; no "
        "evaluation found, so a small share, wide: beta(1.5, 7), median 0.15, 90% 0.02-0.42",
    )
    gang_exit_per_year: float = param(
        0.5,
        unit="per gang member on a plan per year",
        basis="assumed",
        ge=0,
        le=52,
        prior=EffectPrior.uniform(0.0, 1.0),
        doc="extra gang exits of members on a plan (exploitation disrupted); no figure "
        "found: from none to one a member-year, uniform(0, 1)",
    )
    cost_per_plan: float = param(
        5_000,
        unit="GBP per plan",
        basis="assumed",
        le=MAX_GBP,
        ge=0,
        doc="panel preparation and six months of a lead professional's and partners' time",
    )

    @model_validator(mode="after")
    def _ages_in_order(self) -> ComplexPanelParams:
        if self.max_age <= self.min_age:
            raise ValueError("max_age must be above min_age")
        return self


class ComplexPanel(Intervention):
    """Weekly panel: the highest-risk children onto joint plans, up to capacity."""

    name = "complex_panel"
    stream_key = 107  # its random stream (sim/rng.py); never renumber
    description = "weekly complex adolescents panel: joint safety plans for the highest-risk"
    Params = ComplexPanelParams

    def __init__(self, model: YouthJusticeModel, params: ComplexPanelParams) -> None:
        super().__init__(model, params)
        self.params: ComplexPanelParams = params
        cap = model.people.capacity
        self.plan_until = never(cap)  # on a plan while > week
        self.on_plan = np.empty(0, dtype=np.int64)  # ids of children on a plan
        self.plans = Table({"person": "i8", "start": "i4", "end": "i4", "score": "f8"})
        self.plans_started = 0  # measured years
        self.gang_exits = 0  # measured years
        self.victimisations_prevented = 0  # measured years
        self._by_borough = np.empty(0, dtype=np.int64)  # rows sorted by borough
        self._by_borough_n = -1  # people.n when sorted

    def scores(self, week: int) -> tuple[np.ndarray, np.ndarray]:
        """Ids of the children of panel age (ascending) and the panel's score of each
        (-inf: cannot be taken now: in custody, or on a plan recently)."""
        m, p, ppl = self.model, self.params, self.model.people
        live = ppl.live
        # Rows are in birth order, so the children of panel age are a contiguous run.
        birth = ppl.birth_week[live]
        a, b = np.searchsorted(
            birth, [week - p.max_age * WEEKS_PER_YEAR, week - p.min_age * WEEKS_PER_YEAR], "right"
        )
        rows = slice(live.start + a, live.start + b)
        ids = np.arange(rows.start, rows.stop)
        lh = m.offending.last_log_hazard
        if (
            m.offending.last_log_hazard_lo == live.start and lh.size == live.stop - live.start
        ):  # same window
            score = lh[a:b].copy()
        else:
            score = self.model.offending.last_log_hazard_of(rows)
        barred = ppl.custody_release_week[rows] > week
        barred |= self.plan_until[rows] > week - p.readmission_gap_weeks
        score[barred] = -np.inf
        # In a gang, or a friend, sibling or fellow member of someone who is: the
        # rows of the few members in the (symmetric) close-ties matrix.
        members = np.flatnonzero(ppl.gang[live] >= 0) + live.start
        tied = np.concatenate([members, m.network.close_ties_of(members)])
        tied = tied[(tied >= rows.start) & (tied < rows.stop)] - rows.start
        near_gang = np.zeros(ids.size, dtype=bool)
        near_gang[tied] = True
        victim = ppl.victim_week[rows] > week - p.victim_window_weeks  # NaN (never): False
        score += p.weight_looked_after * ppl.looked_after[rows]
        score += p.weight_victim * victim
        score += p.weight_gang * near_gang
        return ids, score

    def select(self, ids: np.ndarray, score: np.ndarray, take: np.ndarray) -> np.ndarray:
        """Positions in ``ids`` (a contiguous run of rows, as :meth:`scores` gives) of each
        borough's ``take[b]`` highest finite scores, highest first (ties: the lower id,
        the older child)."""
        ppl = self.model.people
        n_boroughs = take.size
        if n_boroughs == 1 or ids.size == 0:
            order = np.arange(ids.size)
            bounds = np.array([0, ids.size])
        else:
            if self._by_borough_n != ppl.n:  # every row, by borough then id (once a year)
                self._by_borough = np.argsort(ppl.borough[: ppl.n], kind="stable")
                self._by_borough_n = ppl.n
            first, last = int(ids[0]), int(ids[-1]) + 1
            rows = self._by_borough
            order = rows[(rows >= first) & (rows < last)] - first
            counts = np.bincount(ppl.borough[first:last], minlength=n_boroughs)
            bounds = np.r_[0, np.cumsum(counts)]
        chosen = []
        for b in np.flatnonzero(take):  # a loop over boroughs
            seg = order[bounds[b] : bounds[b + 1]]
            k = min(int(take[b]), seg.size)
            if 0 < k <= 8:  # a few a week: k passes of argmax (first maximum = lowest id)
                s = score.copy() if n_boroughs == 1 else score[seg]
                top = []
                for _ in range(k):
                    j = int(np.argmax(s))
                    if not np.isfinite(s[j]):
                        break
                    top.append(j)
                    s[j] = -np.inf
                chosen.append(seg[np.asarray(top, dtype=np.int64)])
                continue
            seg = seg[np.isfinite(score[seg])]
            k = min(k, seg.size)
            if k < seg.size:  # the top k in linear time, then only they are sorted
                seg = seg[np.argpartition(-score[seg], k - 1)[:k]]
            chosen.append(seg[np.lexsort((ids[seg], -score[seg]))])
        return np.concatenate(chosen) if chosen else np.empty(0, dtype=np.int64)

    # -- hooks ----------------------------------------------------------------------
    def before_offending(self, week: int) -> None:
        m, p, ppl = self.model, self.params, self.model.people
        # Plans end on time, or when the child leaves (aged out, turned 18, custody).
        if self.on_plan.size:
            ids = self.on_plan
            stay = (self.plan_until[ids] > week) & (ids >= ppl.lo)
            stay &= ~(ppl.custody_release_week[ids] > week)
            stay &= age_of(ppl.birth_week[ids], week) < p.max_age
            gone = ids[~stay]
            self.plan_until[gone] = np.minimum(self.plan_until[gone], week)
            self.on_plan = ids[stay]
        # One panel per borough, each with its own capacity and weekly intake.
        on = np.bincount(ppl.borough[self.on_plan], minlength=m.geography.n_boroughs)
        take = np.clip(np.minimum(p.capacity - on, p.new_cases_per_week), 0, None)
        if take.any():
            ids, score = self.scores(week)
            if ids.size:
                top = self.select(ids, score, take)
                new, new_score = ids[top], score[top]
                self.plan_until[new] = week + p.plan_weeks
                self.on_plan = np.concatenate([self.on_plan, new])
                self.reached[new] = True
                self.plans.append(
                    person=new,
                    start=np.full(new.size, week),
                    end=np.full(new.size, week + p.plan_weeks),
                    score=new_score,
                )
                if m.measuring:
                    self.plans_started += int(new.size)
                    self.cost_gbp += new.size * p.cost_per_plan
        if self.on_plan.size:
            m.offending.hazard_multiplier[self.on_plan] *= np.exp(-p.plan_effect)

    def protect_victims(self, victims: np.ndarray, week: int) -> np.ndarray | None:
        p = self.params
        if self.on_plan.size == 0 or p.victim_protection == 0:
            return None
        on = self.plan_until[victims] > week
        u = self.model.streams.uniform(self.name, week, victims, 1)
        prevented = on & (u < p.victim_protection)
        if self.model.measuring:
            self.victimisations_prevented += int(prevented.sum())
        return prevented

    def end_of_week(self, week: int) -> None:
        m, p, ppl = self.model, self.params, self.model.people
        ids = self.on_plan
        if ids.size and p.gang_exit_per_year > 0:
            members = ids[ppl.gang[ids] >= 0]
            u = m.streams.uniform(self.name, week, members, 2)
            leave = members[u < -np.expm1(-p.gang_exit_per_year / WEEKS_PER_YEAR)]
            ppl.gang[leave] = -1
            if m.measuring:
                self.gang_exits += int(leave.size)
        self.caseload = int(ids.size)

    def outputs(self, measured_years: float) -> dict[str, float]:
        out = super().outputs(measured_years)
        years = max(measured_years, 1e-9)
        out["plans_per_year"] = self.plans_started / years
        out["gang_exits_per_year"] = self.gang_exits / years
        out["victimisations_prevented_per_year"] = self.victimisations_prevented / years
        return out
