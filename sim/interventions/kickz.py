"""Kickz: football sessions three evenings a week in targeted wards (MPS response paras 19-21).

Sites sit in each borough's most deprived wards (or those with most offending
by their young residents). Young people of a site's ward join while there are places
on its register, some as regulars, some as casual attenders, and drop out
over time. A participant who attends in a week is off the street for part
of the evenings when youth offending peaks, so their hazard that week falls
by ``session_evening_risk_share x sessions_attended_share x effect``. The
evidence is weak (area-level falls with no control group, kickz-2011), so the
effect is an assumption with a prior from none to all of that risk. Nothing
else changes: no lasting effect on risk, no effect on detection.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

import numpy as np
from pydantic import Field, model_validator

from sim.calendar import WEEKS_PER_YEAR
from sim.events import Table
from sim.interventions import Intervention, InterventionParams
from sim.params import MAX_COUNT, MAX_GBP, MAX_WEIGHT, MPS_2009, EffectPrior, param
from sim.population import age_of

if TYPE_CHECKING:
    from sim.model import YouthJusticeModel


# Weeks of the year (0 = first week of January) without sessions, in the order
# they are dropped: Christmas and New Year first, then either side of them.
_BREAK_ORDER = (51, 0, 50, 1, 49, 2, 48, 3, 47, 4)


class KickzParams(InterventionParams):
    """Sites, registers, attendance and the session-evening effect."""

    def acts(self) -> bool:
        """Off with no sites, places or session weeks."""
        return (
            self.enabled and self.sites > 0 and self.site_capacity > 0 and self.weeks_per_year > 0
        )

    sites: int = param(
        2,
        unit="sites per borough",
        basis="sourced",
        source="mpa-2007",
        ge=0,
        le=200,
        doc="Kickz schemes in each borough: 64 planned across 32 London boroughs, 2 each "
        "(one site per ward at most)",
    )
    targeting: Literal["deprivation", "offending"] = Field(
        "deprivation",
        description="place sites in the most deprived wards (fixed), or re-place them each "
        "September in the wards whose young residents offended most in the last year",
    )
    site_capacity: int = param(
        180,
        unit="participants on a site's register",
        basis="sourced",
        le=MAX_COUNT,
        source=MPS_2009,
        ge=0,
        doc="about 6,000 young people a week across 32 boroughs (para 19) = ~94 a site-week "
        "at 2 sites; with ~53% of the register attending in a week, ~180 registered",
    )
    min_age: float = param(
        12,
        unit="years",
        basis="assumed",
        ge=10,
        le=21,
        doc="Kickz worked with young people of secondary-school age and above",
    )
    max_age: float = param(
        19,
        unit="years",
        basis="assumed",
        ge=10,
        le=21,
        doc="participants leave the register at this age (12-18-year-olds)",
    )
    weeks_per_year: int = param(
        49,
        unit="weeks with sessions",
        basis="sourced",
        source=MPS_2009,
        ge=42,
        le=52,
        doc="48-50 weeks a year (para 19); the break falls at Christmas and New Year",
    )
    join_probability: float = param(
        0.01,
        unit="per eligible resident per week",
        basis="assumed",
        ge=0,
        le=1,
        doc="chance a young person of a site's ward signs up in a week while there are "
        "places (outreach by the club, police and youth services): ~40% within a year",
    )
    intake_interval_weeks: int = param(
        4,
        unit="weeks",
        basis="assumed",
        ge=1,
        le=52,
        doc="free places are filled every this many weeks, at the start of a block of "
        "sessions (join_probability compounds over the block)",
    )
    boys_join_ratio: float = param(
        3.0,
        unit="odds ratio",
        basis="assumed",
        le=MAX_WEIGHT,
        ge=0,
        doc="football sessions draw mainly boys",
    )
    risk_tilt: float = param(
        0.5,
        unit="log odds per SD of last week's log hazard",
        basis="assumed",
        ge=0,
        le=5,
        doc="recruitment leans towards young people at risk: Kickz targets those vulnerable "
        "to crime as victims or offenders (referrals by police and the YOS)",
    )
    regular_share: float = param(
        0.4,
        unit="share of joiners",
        basis="assumed",
        ge=0,
        le=1,
        doc="joiners who become regulars; the rest attend casually",
    )
    attendance_regular: float = param(
        0.8,
        unit="probability per session week",
        basis="assumed",
        ge=0,
        le=1,
        doc="a regular comes to the sessions in a given week",
    )
    attendance_casual: float = param(
        0.35,
        unit="probability per session week",
        basis="assumed",
        ge=0,
        le=1,
        doc="a casual participant comes to the sessions in a given week",
    )
    dropout_regular: float = param(
        0.02,
        unit="per week",
        basis="sourced",
        source="leyton-orient-kicks",
        ge=0,
        le=1,
        doc="regulars stay about a year; with the casual rate, set so a participant attends "
        "~20 weeks (x ~2 two-hour sessions ~ the 68 contact hours reported)",
    )
    dropout_casual: float = param(
        0.06,
        unit="per week",
        basis="sourced",
        source="leyton-orient-kicks",
        ge=0,
        le=1,
        doc="casual participants stay about 4 months (see dropout_regular)",
    )
    session_evening_risk_share: float = param(
        0.3,
        unit="share of a week's offending risk",
        basis="assumed",
        ge=0,
        le=1,
        doc="risk falling on the 3 session evenings of 7: youth offending peaks after school "
        "and in the evening, and sessions are placed at high-crime times (MPS 2009 para 19)",
    )
    sessions_attended_share: float = param(
        2 / 3,
        unit="share of the week's 3 sessions",
        basis="assumed",
        ge=0,
        le=1,
        doc="someone who comes in a week comes to about two of the three sessions",
    )
    effect: float = param(
        0.5,
        unit="share of session-evening risk removed",
        basis="assumed",
        ge=0,
        le=1,
        source="kickz-2011; yef-toolkit",
        prior=EffectPrior.uniform(0.0, 1.0),
        doc="Kickz areas saw robbery -26% and criminal damage -23% in 2006-2010, about what "
        "the whole Met area saw (-22% and -23%), with no control group: weak evidence. The "
        "Youth Endowment Fund rates sports programmes high impact on average but with low "
        "confidence. So anything from none to all of the session evenings' risk: "
        "uniform(0, 1) (a week's hazard falls by at most 0.3 x 2/3 of it)",
    )
    cost_per_site_per_year: float = param(
        64_000,
        unit="GBP per site-year",
        basis="sourced",
        le=MAX_GBP,
        source="mpa-2007",
        ge=0,
        doc="GBP 3m a year for 47 more schemes (coaches, venues, kit, management)",
    )

    @model_validator(mode="after")
    def _ages_in_order(self) -> KickzParams:
        if self.max_age <= self.min_age:
            raise ValueError("max_age must be above min_age")
        return self


class Kickz(Intervention):
    """Football sessions in targeted wards; attendance lowers risk on session evenings."""

    name = "kickz"
    stream_key = 104  # its random stream (sim/rng.py); never renumber
    description = "Kickz football sessions 3 evenings a week in targeted wards"
    Params = KickzParams

    def __init__(self, model: YouthJusticeModel, params: KickzParams) -> None:
        super().__init__(model, params)
        self.params: KickzParams = params
        self.site_wards = np.empty(0, dtype=np.int64)
        self.members = np.empty(0, dtype=np.int64)  # on a register (ids)
        self.is_member = np.zeros(model.people.capacity, dtype=bool)  # the same, as a mask
        self._residents = np.empty(0, dtype=np.int64)  # ids living in a site's ward
        self._residents_n = -1  # people.n when the list was made
        self.member_regular = np.empty(0, dtype=bool)
        self.attended_last = np.empty(0, dtype=np.int64)  # attended this week
        self.attendance = Table({"person": "i8", "week": "i4"})  # every attended week
        self.attendances = 0  # person-weeks attended (measured years)
        self.joined = 0  # sign-ups (measured years)
        self._placed = False
        breaks = set(_BREAK_ORDER[: WEEKS_PER_YEAR - params.weeks_per_year])
        self.session_week = np.array([w not in breaks for w in range(WEEKS_PER_YEAR)])

    # -- helpers ---------------------------------------------------------------

    def _place_sites(self, week: int) -> None:
        """Choose each borough's site wards: the most deprived, or those whose young
        residents offended most in the last year (deprivation breaking ties)."""
        m, p = self.model, self.params
        n_wards = m.geography.ward_deprivation.size
        dep = m.geography.ward_deprivation
        count = np.zeros(n_wards)
        if p.targeting == "offending":
            off = m.events.offences
            first = off.first_row_of_week(week - WEEKS_PER_YEAR)
            wards = m.people.ward[off["person"][first:]].astype(np.int64)
            count = np.bincount(wards, minlength=n_wards).astype(np.float64)
        borough = m.geography.ward_borough
        order = np.lexsort((-dep, -count, borough))  # by borough, then most in need first
        rank = np.arange(n_wards) - np.searchsorted(borough[order], borough[order], side="left")
        new = np.sort(order[rank < p.sites]).astype(np.int64)
        if self.members.size and not np.array_equal(new, self.site_wards):
            keep = np.isin(m.people.ward[self.members], new)  # a closed site's register ends
            self.is_member[self.members[~keep]] = False
            self.members, self.member_regular = self.members[keep], self.member_regular[keep]
        self.site_wards = new
        self._placed = True
        self._residents_n = -1  # the list of site residents is rebuilt

    # -- hooks -----------------------------------------------------------------
    def before_offending(self, week: int) -> None:
        m, p, ppl = self.model, self.params, self.model.people
        self.attended_last = np.empty(0, dtype=np.int64)
        if p.sites == 0:
            return
        if not self._placed or (p.targeting == "offending" and m.calendar.new_school_year):
            self._place_sites(week)
        # Leavers: too old, aged out of the model, in custody, or dropping out.
        if self.members.size:
            ids = self.members
            age = age_of(ppl.birth_week[ids], week)
            stay = (ids >= ppl.lo) & (age < p.max_age) & ~(ppl.custody_release_week[ids] > week)
            drop = np.where(self.member_regular, p.dropout_regular, p.dropout_casual)
            stay &= m.streams.uniform(self.name, week, ids, 1) >= drop
            self.is_member[ids[~stay]] = False
            self.members, self.member_regular = ids[stay], self.member_regular[stay]
        if not self.session_week[m.calendar.week_of_year]:
            return
        if week % p.intake_interval_weeks == 0:
            self._recruit(week)
        # Attendance this week, and the hazard multiplier for those who come.
        ids = self.members
        if ids.size == 0:
            return
        p_attend = np.where(self.member_regular, p.attendance_regular, p.attendance_casual)
        came = ids[m.streams.uniform(self.name, week, ids, 4) < p_attend]
        cut = p.session_evening_risk_share * p.sessions_attended_share * p.effect
        m.offending.hazard_multiplier[came] *= 1.0 - cut
        self.reached[came] = True
        self.attended_last = came
        self.attendance.append(person=came, week=np.full(came.size, week))
        if m.measuring:
            self.attendances += int(came.size)

    def _recruit(self, week: int) -> None:
        """Fill free places on each site's register from young people of its ward."""
        m, p, ppl = self.model, self.params, self.model.people
        live = ppl.live
        site_of_ward = np.full(m.geography.ward_deprivation.size, -1, dtype=np.int64)
        site_of_ward[self.site_wards] = np.arange(self.site_wards.size)
        on_register = np.bincount(
            site_of_ward[ppl.ward[self.members]], minlength=self.site_wards.size
        )
        free = p.site_capacity - on_register
        if not (free > 0).any():
            return
        if self._residents_n != ppl.n:  # sites moved or a cohort entered: list residents
            ward = ppl.ward[live]
            self._residents = np.flatnonzero(site_of_ward[ward] >= 0) + live.start
            self._residents_n = ppl.n
        ids = self._residents[self._residents >= ppl.lo]
        self._residents = ids
        age = age_of(ppl.birth_week[ids], week)
        ok = (age >= p.min_age) & (age < p.max_age) & ~(ppl.custody_release_week[ids] > week)
        ids = ids[ok & ~self.is_member[ids]]
        if ids.size == 0:
            return
        site = site_of_ward[ppl.ward[ids]]
        lh = self.model.offending.last_log_hazard_of(ids)
        finite = np.isfinite(lh)
        z = np.zeros(ids.size)
        if finite.sum() > 1:
            mu, sd = lh[finite].mean(), lh[finite].std()
            z[finite] = (lh[finite] - mu) / max(sd, 1e-9)
        block = 1.0 - (1.0 - p.join_probability) ** p.intake_interval_weeks
        odds = block / max(1.0 - block, 1e-12)
        odds = odds * np.where(ppl.sex[ids] == 1, p.boys_join_ratio, 1.0) * np.exp(p.risk_tilt * z)
        prob = odds / (1.0 + odds)
        u = m.streams.uniform(self.name, week, ids, 2)
        want = u < prob
        ids, u, prob, site = ids[want], u[want], prob[want], site[want]
        # Where more want to join than there are places, the first to ask get them
        # (order u / prob: a random order in which keener people come earlier).
        order = np.lexsort((u / np.maximum(prob, 1e-12), site))
        ids, site = ids[order], site[order]
        rank = np.arange(ids.size) - np.searchsorted(site, site, side="left")
        take = rank < free[site]
        new = ids[take]
        regular = m.streams.uniform(self.name, week, new, 3) < p.regular_share
        self.members = np.concatenate([self.members, new])
        self.is_member[new] = True
        self.member_regular = np.concatenate([self.member_regular, regular])
        if m.measuring:
            self.joined += int(new.size)

    def end_of_week(self, week: int) -> None:
        m, p = self.model, self.params
        self.caseload = int(self.members.size)
        if m.measuring and self.site_wards.size and self.session_week[m.calendar.week_of_year]:
            self.cost_gbp += self.site_wards.size * p.cost_per_site_per_year / p.weeks_per_year

    def outputs(self, measured_years: float) -> dict[str, float]:
        out = super().outputs(measured_years)
        years = max(measured_years, 1e-9)
        out["attendances_per_year"] = self.attendances / years
        out["joiners_per_year"] = self.joined / years
        return out
