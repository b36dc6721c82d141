"""Gangs: territorial groups that recruit each September through ties, and that members leave.

Membership is a person's ``gang`` (-1 for none) in the people arrays. Being a member
raises the offending hazard and tilts offences towards drugs, robbery and weapons
(:mod:`sim.behaviour`: ``coef_gang``, ``gang_mix_factor``); the gang layer of the
network (:mod:`sim.network`) ties members of one gang together. This module decides
who is a member: gangs recruit back to the borough's share each September, through
friends, siblings and neighbours already in a gang, and members drift out week by week.
Interventions (the gangs team, the complex panel) may add exits of their own.
"""

from __future__ import annotations

import numpy as np

from sim.calendar import WEEKS_PER_YEAR
from sim.concern import Concern
from sim.params import MAX_LOG_EFFECT, Params, param


class Gangs(Concern):
    """Who is in a gang: recruitment each September, exits every week."""

    name = "gangs"

    class Params(Params):
        """How many gangs, how many members, joining and leaving."""

        member_share: float = param(
            0.006,
            unit="share",
            basis="assumed",
            ge=0,
            le=1,
            doc="gang members among 10-20s (MOPAC 2018 Gangs Matrix review: ~3,800 listed "
            "London-wide, three quarters under 25)",
        )
        count: int = param(
            8,
            unit="gangs",
            basis="assumed",
            ge=1,
            le=2000,
            doc="territorial gangs in the borough, each with home wards",
        )
        exit_rate: float = param(
            0.2,
            unit="per member per year",
            basis="assumed",
            ge=0,
            le=1,
            doc="members leaving a gang each year without intervention",
        )
        recruitment_peer_weight: float = param(
            2.0,
            unit="log odds per gang tie",
            basis="assumed",
            le=MAX_LOG_EFFECT,
            ge=0,
            doc="recruitment runs through friends, siblings and neighbours already in a gang",
        )
        recruitment_max_ties: int = param(
            3,
            unit="ties",
            basis="assumed",
            ge=0,
            le=100,
            doc="ties to members beyond this many add nothing more to the recruitment weight",
        )
        recruitment_male_weight: float = param(
            1.0,
            unit="log odds",
            basis="assumed",
            le=MAX_LOG_EFFECT,
            ge=-MAX_LOG_EFFECT,
            doc="boys are recruited more than girls (Gangs Matrix: nearly all listed are male)",
        )
        recruitment_excluded_weight: float = param(
            0.6,
            unit="log odds",
            basis="assumed",
            le=MAX_LOG_EFFECT,
            ge=-MAX_LOG_EFFECT,
            doc="excluded pupils (pupil referral unit) are recruited more (Timpson review 2019)",
        )
        recruitment_deprivation_weight: float = param(
            0.4,
            unit="log odds per SD",
            basis="assumed",
            le=MAX_LOG_EFFECT,
            ge=-MAX_LOG_EFFECT,
            doc="recruitment is higher in more deprived wards",
        )
        recruitment_peak_age: float = param(
            17.0,
            unit="years",
            basis="assumed",
            ge=10,
            le=21,
            doc="age at which recruitment weight peaks (older teenage boys)",
        )
        recruitment_age_width: float = param(
            2.5,
            unit="years",
            basis="assumed",
            gt=0,
            le=20,
            doc="spread of recruitment about its peak age",
        )
        recruitment_age_weight: float = param(
            0.5,
            unit="log odds per squared width",
            basis="assumed",
            le=MAX_LOG_EFFECT,
            ge=0,
            doc="how fast recruitment falls away from the peak age (a Gaussian in log odds)",
        )

    params: Gangs.Params

    def form(self) -> None:
        """Gang membership at the start: gangs are territorial, one or more wards each."""
        self.model.people.gang[self.model.people.live] = -1
        self.recruit()

    def step(self) -> None:
        """Members drift out of gangs (weekly)."""
        m, p = self.model, self.params
        ppl, live = m.people, m.people.live
        members = np.flatnonzero(ppl.gang[live] >= 0) + live.start
        u = m.streams.uniform(self.name, m.week, members)
        ppl.gang[members[u < p.exit_rate / WEEKS_PER_YEAR]] = -1

    def recruit(self) -> None:
        """Each September gangs recruit back to the borough's share, through their ties.

        Recruits are drawn with weights from offending propensity, age and sex (older
        boys), exclusion, deprivation and ties to members; a recruit joins the gang of a
        tied member, or the gang of their ward if they have none.
        """
        m, p = self.model, self.params
        ppl, live, week = m.people, m.people.live, m.week
        target = round(p.member_share * (live.stop - live.start))
        members = ppl.gang[live] >= 0
        need = target - int(members.sum())
        if need <= 0:
            return
        ids = np.arange(live.start, live.stop)
        age = ppl.age(week)
        ties = m.network.ties_to(ids[members])
        score = (
            ppl.propensity[live]
            + p.recruitment_male_weight * ppl.sex[live]
            + p.recruitment_excluded_weight * ppl.excluded[live]
            + p.recruitment_deprivation_weight * ppl.deprivation[live]
            - p.recruitment_age_weight
            * ((age - p.recruitment_peak_age) / p.recruitment_age_width) ** 2
            + p.recruitment_peer_weight * np.minimum(ties[live], p.recruitment_max_ties)
        )
        score = np.where(members | ppl.in_custody(week), -np.inf, score)
        rng = m.streams[self.name]
        # Weighted sampling without replacement (Efraimidis-Spirakis keys, in logs).
        keys = np.log(rng.exponential(size=score.size)) - score
        need = min(need, keys.size)
        first = np.argpartition(keys, need - 1)[:need] if need < keys.size else np.arange(keys.size)
        recruits = ids[first[np.argsort(keys[first], kind="stable")]]
        gang_of_tie = m.network.random_gang_tie(recruits, rng.random((2, recruits.size)))
        # Gang territories are runs of neighbouring wards (wards are numbered borough by
        # borough, so a territory can straddle a borough boundary).
        n_wards = m.geography.ward_borough.size
        ward_gang = ppl.ward[recruits].astype(np.int64) * p.count // n_wards
        ppl.gang[recruits] = np.where(gang_of_tie >= 0, gang_of_tie, ward_gang)
