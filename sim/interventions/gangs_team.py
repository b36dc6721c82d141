"""Gangs team: police and council working with gang members and those close to them.

Islington's inspection found police and council working apart: "miscommunication",
"confusion of efforts", "duplication of some work"; the council's answer was an
extra GBP 500k of targeted support and a new integrated gangs team, police
co-located with the youth offending service, to "target those most at risk ... as
well as helping other family members and friends to stay away from gangs"
(islington-yos-2016). Croydon's 2019 inspection praised its
police/YOS gangs partnership and its "timely sharing of information"
(croydon-yos-2019).

Mechanism, each week:

1. the team knows whom it can see: gang members and their close ties
   (family: the siblings layer; friends: the friendship layer) are each visible
   with a probability equal to the information-sharing quality, except what
   the police hold themselves (the police's gangs list, people.gang_listed_week,
   kept by sim/justice.py; recorded co-offences);
2. it ranks them by its targeting rule ("risk": last week's risk score;
   "matrix": listed members first, then their family and friends, by proven
   offences; "network": position in the recorded co-offending network:
   degree and co-offending ties to listed members), seen through noise that
   shrinks as information sharing improves (identification accuracy);
3. free places are filled from the top at a monthly referral meeting. Places
   are the budget over the cost of a place (capped by capacity), less the share
   lost to duplicated work, which also shrinks as information sharing improves;
4. people on the caseload get support (lower risk, a higher chance of leaving
   their gang) and enforcement (a higher chance that their offences are
   detected). Enforcement alone changes who is caught, not what is done: more
   proven offences, not more true ones (net-widening).

Ethnic group is not read anywhere here; it enters through whom the police list.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

import numpy as np
import scipy.sparse as sp
from pydantic import Field
from scipy.special import ndtri

from sim.calendar import WEEKS_PER_YEAR, never
from sim.interventions import Intervention, InterventionParams
from sim.params import (
    CROYDON_2019,
    ISLINGTON,
    MAX_COUNT,
    MAX_GBP,
    MAX_WEEKS,
    EffectPrior,
    param,
)
from sim.population import age_of

if TYPE_CHECKING:
    from sim.model import YouthJusticeModel

# Salts of this stream's counter-based draws (one per decision, never reused).
_SALT_VISIBLE = 1  # drawn with week 0: whether the team can see a person is fixed
_SALT_NOISE = 2
_SALT_EXIT = 3

# Matrix-style listing puts listed members ahead of their family and friends
# whatever their records: a priority rule, not a parameter.
_LISTED_FIRST = 10.0


class GangsTeam(Intervention):
    """A police and council gangs team: support and enforcement for those it identifies."""

    name = "gangs_team"
    stream_key = 102  # its random stream (sim/rng.py); never renumber
    description = (
        "police/council gangs team: support and enforcement for gang members, family and "
        "friends; accuracy and duplication depend on information sharing"
    )

    class Params(InterventionParams):
        """How the team is organised and funded, whom it targets, what it does."""

        def acts(self) -> bool:
            """Off with no team (mode "none")."""
            return self.enabled and self.mode != "none"

        mode: Literal["none", "separate", "integrated"] = Field(
            "separate",
            description="none: no team; separate: police gangs unit and council youth "
            "services working apart; integrated: co-located police and council team",
        )
        targeting: Literal["risk", "matrix", "network"] = Field(
            "matrix",
            description="risk: last week's risk score; matrix: those on the police's gangs "
            "list (Gangs Matrix), then their family and friends; network: "
            "recorded co-offending ties and centrality",
        )
        sharing_separate: float = param(
            0.4,
            unit="0-1",
            basis="assumed",
            ge=0,
            le=1,
            source=ISLINGTON,
            doc="information-sharing quality when police and council work apart "
            "(Islington: 'miscommunication', 'confusion of efforts')",
        )
        sharing_integrated: float = param(
            0.8,
            unit="0-1",
            basis="assumed",
            ge=0,
            le=1,
            source=ISLINGTON,
            doc="information-sharing quality of a co-located team (Islington's answer to "
            "its inspection); below 1: some intelligence is never shared",
        )
        identification_noise: float = param(
            1.5,
            unit="SD of the ranking score",
            basis="assumed",
            ge=0,
            le=10,
            doc="error in the team's view of who matters most, with no information "
            "sharing; scaled by (1 - sharing quality)",
        )
        duplication_no_sharing: float = param(
            0.5,
            unit="share of places",
            basis="assumed",
            ge=0,
            le=1,
            source=ISLINGTON,
            doc="places lost to agencies duplicating each other's work with no information "
            "sharing ('duplication of some work'); scaled by (1 - sharing quality)",
        )
        annual_budget_gbp: float = param(
            500_000,
            unit="GBP a year",
            basis="sourced",
            le=MAX_GBP,
            ge=0,
            source=ISLINGTON,
            doc="Islington's extra GBP 500k for targeted support to those most at risk of "
            "gang crime; 0 funds no places",
        )
        cost_per_place_year: float = param(
            6_000,
            unit="GBP per place-year",
            basis="assumed",
            le=MAX_GBP,
            gt=0,
            doc="a key worker (about GBP 45k with on-costs) holding 7-8 intensive cases",
        )
        capacity: int = param(
            80,
            unit="places",
            basis="assumed",
            le=MAX_COUNT,
            ge=0,
            doc="most young people the team can hold at once, whatever the budget",
        )
        max_age: float = param(
            21.0,
            unit="years",
            basis="assumed",
            gt=10,
            le=21,
            doc="gangs work runs past 18 (Croydon's Youth IOM: 18-25); the model follows "
            "people to 21",
        )
        review_weeks: int = param(
            4,
            unit="weeks",
            basis="assumed",
            ge=1,
            le=13,
            doc="the team takes on new cases at a referral meeting about once a month",
        )
        support_weeks: int = param(
            26,
            unit="weeks",
            basis="assumed",
            ge=1,
            le=156,
            doc="length of intensive support",
        )
        rereferral_weeks: int = param(
            52,
            unit="weeks",
            basis="assumed",
            le=MAX_WEEKS,
            ge=0,
            doc="time after support ends before the same person can be taken on again",
        )
        support_effect: float = param(
            0.1,
            unit="log hazard reduction",
            basis="assumed",
            ge=-3,
            le=3,
            source="hodgkinson-2009; wong-2012; braga-2018; williams-2014",
            prior=EffectPrior.normal(0.1, 0.15),
            doc="risk while supported (negative: support raises it). The evidence on working "
            "with individual gang members is weak: comprehensive gang interventions had a "
            "positive but not significant effect on crime (Hodgkinson et al. 2009, 9 "
            "studies); a review of street gang control found no strong evidence for "
            "comprehensive programmes (Wong et al. 2012). Focused deterrence's moderate "
            "effects are on areas and groups, not on a caseload (Braga et al. 2018); Glasgow's "
            "CIRV, offending -52% against -29% in comparison (Williams et al. 2014, "
            "preliminary), is a log ratio of ln(0.71 / 0.48) = 0.39. No pooled figure for "
            "individuals, so a wide prior centred small: normal(0.1, 0.15), 95% -0.19 to 0.39",
        )
        support_exit_rate: float = param(
            0.5,
            unit="per member per year",
            basis="assumed",
            ge=0,
            le=52,
            source=CROYDON_2019,
            prior=EffectPrior.uniform(0.0, 1.0),
            doc="extra rate of leaving the gang while supported ('helping to divert those at "
            "risk of gang involvement'), on top of gangs.exit_rate; no figure was found, so "
            "anything from none to one exit a member-year: uniform(0, 1)",
        )
        enforcement_detection: float = param(
            1.5,
            unit="detection multiplier",
            basis="assumed",
            ge=1,
            le=10,
            prior=EffectPrior.uniform(1.0, 2.0),
            doc="police attention raises the chance a targeted person's offences are "
            "detected (intelligence-led stop, search and arrest); no figure was found, so "
            "from no change to double: uniform(1, 2)",
        )

    def __init__(self, model: YouthJusticeModel, params: GangsTeam.Params) -> None:
        super().__init__(model, params)
        self.params: GangsTeam.Params = params
        cap = model.people.capacity
        p = params
        self.sharing = {"none": 0.0, "separate": p.sharing_separate}.get(
            p.mode, p.sharing_integrated
        )
        funded = int(p.annual_budget_gbp // p.cost_per_place_year)
        self.places = 0 if p.mode == "none" else min(p.capacity, funded)
        wasted = p.duplication_no_sharing * (1.0 - self.sharing)
        # Places left once duplicated work is taken out (whole places).
        self.effective_places = int(np.floor(self.places * (1.0 - wasted) + 1e-9))
        self.until = never(cap)  # support runs while until > week
        self.first_intake = np.full(cap, np.nan)  # week each person was first taken on
        self.active = np.empty(0, dtype=np.int64)
        self.co_degree = np.zeros(cap, dtype=np.int32)  # recorded co-offending ties
        self.co_edges = np.empty((0, 2), dtype=np.int64)
        self._seen_offences = 0
        self._seen = np.zeros(cap, dtype=bool)  # visible to the partnership
        self._visible_n = 0  # rows whose visibility has been drawn
        self.intakes = 0
        self.intakes_on_target = 0  # gang members or close ties of members at intake
        self.exits = 0

    # -- effects -------------------------------------------------------------
    def before_offending(self, week: int) -> None:
        """Support lowers risk; enforcement raises detection, for those on the caseload."""
        if self.active.size == 0:
            return
        m, p = self.model, self.params
        if p.support_effect != 0:
            m.offending.hazard_multiplier[self.active] *= np.exp(-p.support_effect)
        if p.enforcement_detection != 1.0:
            m.police.detection_multiplier[self.active] *= p.enforcement_detection

    def end_of_week(self, week: int) -> None:
        """Supported members leave gangs; cases end; free places are filled; costs."""
        if self.places <= 0:
            return
        m, p, ppl = self.model, self.params, self.model.people
        keep = (self.until[self.active] > week) & (self.active >= ppl.lo)
        self.active = self.active[keep]
        members = self.active[ppl.gang[self.active] >= 0]
        if members.size and p.support_exit_rate > 0:
            u = m.streams.uniform(self.name, week, members, _SALT_EXIT)
            leave = members[u < -np.expm1(-p.support_exit_rate / WEEKS_PER_YEAR)]
            ppl.gang[leave] = -1
            self.exits += int(leave.size)
        if week % p.review_weeks == 0:  # the referral meeting
            self._update_intelligence()
            free = self.effective_places - self.active.size
            if free > 0:
                self._take_on(week, free)
        self.caseload = int(self.active.size)
        if m.measuring:
            self.cost_gbp += self.places * p.cost_per_place_year / WEEKS_PER_YEAR

    # -- identification --------------------------------------------------------
    def _update_intelligence(self) -> None:
        """Police intelligence: recorded co-offences (the gangs list is the police's own)."""
        m = self.model
        if self.params.targeting != "network":
            return
        off = m.events.offences
        new = np.arange(self._seen_offences, off.n)
        self._seen_offences = off.n
        group = off["co_group"][new]
        rec = new[(group >= 0) & off["detected"][new]]
        if rec.size < 2:
            return
        # A tie is recorded when both co-offenders of a group are identified.
        order = np.argsort(off["co_group"][rec], kind="stable")
        rec = rec[order]
        g = off["co_group"][rec]
        pair = np.flatnonzero(g[1:] == g[:-1])
        if pair.size == 0:
            return
        a, b = off["person"][rec[pair]], off["person"][rec[pair + 1]]
        np.add.at(self.co_degree, a, 1)
        np.add.at(self.co_degree, b, 1)
        self.co_edges = np.concatenate([self.co_edges, np.column_stack([a, b])])

    def _visible(self) -> np.ndarray:
        """Whether the partnership can see each person (fixed per person, drawn once)."""
        ppl = self.model.people
        if self._visible_n < ppl.n:
            rows = np.arange(self._visible_n, ppl.n)
            u = self.model.streams.uniform(self.name, 0, rows, _SALT_VISIBLE)
            self._seen[rows] = u < self.sharing
            self._visible_n = ppl.n
        return self._seen

    def _candidates(self) -> tuple[np.ndarray, np.ndarray]:
        """Candidate ids and their priority score, by the targeting rule."""
        m, p, ppl, live = self.model, self.params, self.model.people, self.model.people.live
        visible = self._visible()
        close_ties = _close_layers(m)
        if p.targeting == "risk":
            members = np.flatnonzero(ppl.gang[live] >= 0) + live.start
            pool = np.union1d(members, _neighbours(close_ties, members))
            pool = pool[visible[pool] & (pool >= live.start)]
            lh = m.offending.last_log_hazard
            aligned = lh.size == live.stop - live.start  # set this week for this window
            return pool, lh[pool - live.start] if aligned else np.zeros(pool.size)
        on_list = ~np.isnan(ppl.gang_listed_week)  # the police's gangs list
        if p.targeting == "matrix":
            listed = np.flatnonzero(on_list[live]) + live.start
            close = _neighbours(close_ties, listed)
            close = close[visible[close] & ~on_list[close] & (close >= live.start)]
            pool = np.concatenate([listed, np.unique(close)])
            harm = np.log1p(ppl.n_proven[pool])
            return pool, harm + _LISTED_FIRST * on_list[pool]
        # network: degree in the recorded co-offending network, and ties there to
        # known members (on the police's list, or a member the partnership can see).
        known = on_list | ((ppl.gang >= 0) & visible)
        e = self.co_edges
        ties = np.bincount(e[:, 0], known[e[:, 1]], ppl.capacity) + np.bincount(
            e[:, 1], known[e[:, 0]], ppl.capacity
        )
        pool = np.flatnonzero(self.co_degree[live] > 0) + live.start
        pool = pool[known[pool] | (ties[pool] > 0)]
        # Degree centrality and ties to members, on log scales so that neither swamps the
        # other; being a known member counts as much as e - 1 (about 2) such ties.
        score = np.log1p(self.co_degree[pool]) + np.log1p(ties[pool]) + 1.0 * known[pool]
        return pool, score

    def _take_on(self, week: int, free: int) -> None:
        """Fill free places with the candidates the team ranks highest."""
        m, p, ppl = self.model, self.params, self.model.people
        pool, score = self._candidates()
        age = age_of(ppl.birth_week[pool], week)
        last = self.until[pool]
        ok = (age >= 10) & (age < p.max_age) & ~(ppl.custody_release_week[pool] > week)
        ok &= np.isnan(last) | (week >= last + p.rereferral_weeks)
        pool, s = pool[ok], score[ok]
        if pool.size == 0:
            return
        sd = s.std()
        s = (s - s.mean()) / (sd if sd > 0 else 1.0)
        noise_sd = p.identification_noise * (1.0 - self.sharing)
        if noise_sd > 0:
            u = m.streams.uniform(self.name, week, pool, _SALT_NOISE)
            s = s + noise_sd * ndtri(np.clip(u, 1e-12, 1 - 1e-12))
        take = pool[np.argsort(-s, kind="stable")[:free]]
        self.until[take] = week + p.support_weeks
        self.first_intake[take] = np.fmin(self.first_intake[take], week)
        self.active = np.union1d(self.active, take)
        self.reached[take] = True
        # Accuracy: share of intakes who are gang members or close to one.
        on_target = ppl.gang[take] >= 0
        others = np.flatnonzero(~on_target)
        nb, owner = _neighbours(_close_layers(m), take[others], with_owner=True)
        tied = np.bincount(owner[ppl.gang[nb] >= 0], minlength=others.size) > 0
        on_target[others] = tied
        self.intakes += int(take.size)
        self.intakes_on_target += int(on_target.sum())

    def outputs(self, measured_years: float) -> dict[str, float]:
        """The common outputs plus places, identification accuracy and gang exits."""
        out = super().outputs(measured_years)
        out["places_funded"] = int(self.places)
        out["places_after_duplication"] = int(self.effective_places)
        out["sharing_quality"] = float(self.sharing)
        out["identification_accuracy"] = (
            float(self.intakes_on_target / self.intakes) if self.intakes else float("nan")
        )
        out["supported_gang_exits"] = int(self.exits)
        return out


def _close_layers(model: YouthJusticeModel) -> tuple[sp.csr_matrix, ...]:
    """Adjacency of the layers that make someone close: friends, family, fellow members."""
    net = model.network
    return (net.adjacency["friendship"], net.adjacency["siblings"], net.gang_adjacency)


def _neighbours(
    layers: tuple[sp.csr_matrix, ...], rows: np.ndarray, with_owner: bool = False
) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
    """Everyone tied to any of ``rows`` in any of the symmetric CSR ``layers`` (with repeats).

    With ``with_owner``, also the position in ``rows`` each neighbour was found from.
    """
    found, owner = [], []
    for adj in layers:  # three layers
        starts = adj.indptr[rows]
        lengths = adj.indptr[rows + 1] - starts
        total = int(lengths.sum())
        offsets = np.repeat(starts - (np.cumsum(lengths) - lengths), lengths) + np.arange(total)
        found.append(adj.indices[offsets].astype(np.int64))
        owner.append(np.repeat(np.arange(rows.size), lengths))
    if with_owner:
        return np.concatenate(found), np.concatenate(owner)
    return np.concatenate(found)
