"""The young people of a borough: a struct of numpy arrays, one row per person.

A person's id is their row and never moves (Starsim's rule). Rows are in
birth order, the initial population first and each September's cohort of
10-year-olds after it, so the people aged out at 21 are always a prefix: the
live population is the window ``[lo, n)`` and nothing is ever compacted.
Event times are float arrays where NaN means "never".

Ethnic group is never a cause of offending: no hazard reads it. Where children
live is drawn first, and their group follows the ward's composition (minority
shares rise with ward deprivation, as across London's neighbourhoods), one group
per family. Only agencies' decisions read it (sim/justice.py: the police's
proactive searches and the gangs list), each through an explicit parameter.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

import numpy as np
from pydantic import Field, model_validator
from scipy import stats

from sim.calendar import WEEKS_PER_YEAR
from sim.params import CROYDON_2019, MAX_LOG_EFFECT, Params, param

ETHNIC_GROUPS = ("White", "Black", "Asian", "Mixed", "Other")
SEXES = ("F", "M")
AGE_OF_RESPONSIBILITY = 10.0  # England and Wales
# Each September the year group in which children turn 10 enters (aged 9-10
# then), so the number aged 10-17 stays level through the year.
ENTRY_AGE = 9.0
SCHOOL_LEAVING_AGE = 16.0  # compulsory school age ends (education or training to 18)
ADULT_AGE = 18.0  # dealt with as an adult from here: not a YOS case, not in youth figures
EXIT_AGE = 21.0  # followed to 21 so reoffending after 18 still counts
# The most children aged 10-17 an area may hold (one borough, or all boroughs together):
# more than twice London's (about 800,000; ONS mid-year estimates), and a bound on a
# run's memory, which grows with the population (about 315 MB for Croydon's 39,334).
MAX_CHILDREN = 2_000_000
# An element of a per-group tuple of log-odds terms, each range-checked.
LogEffect = Annotated[float, Field(ge=-MAX_LOG_EFFECT, le=MAX_LOG_EFFECT)]


def age_of(birth_week: np.ndarray, week: int) -> np.ndarray:
    """Ages in years at ``week`` of people born at ``birth_week`` (fractional weeks).

    The one formula for an age: :meth:`People.age` gives it for the whole live window,
    cached for the week; call this for a few people (this week's offenders, cases).
    """
    return (week - birth_week) / WEEKS_PER_YEAR


class BoroughSpec(Params):
    """One borough of a multi-borough area (e.g. London): what differs between boroughs."""

    name: str
    population_10_17: int = param(
        20_000,
        unit="people",
        basis="assumed",
        ge=100,
        le=MAX_CHILDREN,
        doc="children aged 10-17 (at most 2,000,000, over twice London's ~800,000)",
    )
    deprivation: float = param(
        0.0,
        unit="SD of ward score",
        basis="assumed",
        ge=-5,
        le=5,
        doc="borough mean of the standardised ward deprivation score",
    )
    wards: int = param(20, unit="wards", basis="assumed", ge=1, le=200)
    secondary_schools: int = param(15, unit="schools", basis="assumed", ge=1, le=500)
    minority_ethnic_share: float = param(0.4, unit="share", basis="assumed", ge=0, le=1)
    low_income_share: float = param(0.2, unit="share", basis="assumed", ge=0, le=1)


class PopulationParams(Params):
    """Who lives in the borough: sizes and shares of each risk factor.

    With ``boroughs`` set, the area is several boroughs, each with its own
    size, deprivation, wards, schools and shares (the top-level size and share
    fields are then not used); otherwise it is one borough.
    """

    population_10_17: int = param(
        39_334,
        unit="people",
        basis="sourced",
        source=CROYDON_2019,
        ge=100,
        le=MAX_CHILDREN,
        doc="children aged 10-17 in the borough (Croydon: largest in London); at most "
        "2,000,000, over twice London's ~800,000, which bounds a run's memory",
    )
    minority_ethnic_share: float = param(
        0.54,
        unit="share",
        basis="sourced",
        source=CROYDON_2019,
        ge=0,
        le=1,
        doc="share of children from minority ethnic groups",
    )
    black_share_of_minority: float = param(
        0.43,
        unit="share",
        basis="sourced",
        ge=0,
        le=1,
        source="census-2011",
        doc="Croydon: Black 20% of residents, of 46% from minority ethnic groups",
    )
    asian_share_of_minority: float = param(
        0.34,
        unit="share",
        basis="sourced",
        ge=0,
        le=1,
        source="census-2011",
        doc="Croydon: Asian 16% of residents",
    )
    mixed_share_of_minority: float = param(
        0.16,
        unit="share",
        basis="sourced",
        ge=0,
        le=1,
        source="census-2011",
        doc="Croydon: Mixed 7% of residents",
    )
    ethnic_deprivation_gradient: tuple[LogEffect, LogEffect, LogEffect, LogEffect, LogEffect] = (
        param(
            (0.0, 0.6, 0.6, 0.6, 0.6),
            unit="log odds against White per SD of ward deprivation, by group",
            basis="assumed",
            source="trust-for-london-2023",
            doc="minority children live more in deprived wards (Census 2021 by London "
            "neighbourhood: Trust for London). No ward-level gradient was read: 0.6 puts "
            "Croydon's minority share at about 25% in its least and 80% in its most deprived "
            "wards, the north-south span of the borough; range 0.3-1.0. One value for every "
            "group (no per-group figure read); White is the reference (0)",
        )
    )
    low_income_share: float = param(
        0.20,
        unit="share",
        basis="sourced",
        source=CROYDON_2019,
        ge=0,
        le=1,
        doc="children from low-income families ('approximately a fifth')",
    )
    wards: int = param(
        28,
        unit="wards",
        basis="sourced",
        ge=1,
        le=200,
        source="lgbce-croydon-2017",
        doc="Croydon's 28 wards, in force from the 2018 elections",
    )
    deprivation_mean: float = param(
        0.0,
        unit="SD of ward score",
        basis="assumed",
        ge=-5,
        le=5,
        doc="the borough's mean ward deprivation on the standardised scale; Croydon is the "
        "reference (0); other profiles shift it (calibration/README.md)",
    )
    deprivation_sd: float = param(
        1.0,
        unit="SD of ward score",
        basis="assumed",
        le=5,
        ge=0,
        doc="spread of ward deprivation (standardised index); the wards take evenly "
        "spaced quantiles of a normal with this SD, the same for every seed",
    )
    secondary_schools: int = param(
        24,
        unit="schools",
        basis="assumed",
        ge=1,
        le=500,
        doc="state secondary schools; a pupil referral unit is added",
    )
    own_ward_school_share: float = param(
        0.6,
        unit="share",
        basis="assumed",
        ge=0,
        le=1,
        doc="pupils attending the school nearest home; the rest travel",
    )
    looked_after_share: float = param(
        0.009,
        unit="share",
        basis="sourced",
        ge=0,
        le=1,
        source="dfe-cla-2018",
        doc="64 looked-after children per 10,000 under 18",
    )
    domestic_abuse_share: float = param(
        0.12,
        unit="share",
        basis="sourced",
        ge=0,
        le=1,
        source="radford-2011",
        doc="about 1 in 8 children exposed to domestic abuse",
    )
    persistent_absence_share: float = param(
        0.139,
        unit="share of pupils",
        basis="sourced",
        ge=0,
        le=1,
        source="dfe-absence-2018",
        doc="13.9% of secondary pupils persistently absent (2017/18)",
    )
    excluded_share: float = param(
        0.005,
        unit="share of pupils",
        basis="sourced",
        ge=0,
        le=1,
        source="dfe-spc-2017; dfe-spc-2012",
        doc="pupils in the pupil referral unit at the start: almost 16,000 pupils on roll at "
        "pupil referral units in England (January 2017) over about 3.2 million pupils in "
        "state-funded secondary schools (January 2012; within a few per cent of that in 2017) = "
        "16,000 / 3,200,000 = 0.005. Pupil referral units also take some primary-age pupils, "
        "so the secondary share is at most this",
    )
    substance_use_share: float = param(
        0.10,
        unit="share",
        basis="sourced",
        ge=0,
        le=1,
        source="nhs-sdd-2018",
        doc="17% of 15-year-olds used drugs in the last year (lower at younger ages)",
    )
    victim_share: float = param(
        0.08,
        unit="share",
        basis="assumed",
        ge=0,
        le=1,
        doc="children victimised in the last year at the start",
    )
    children_per_family: float = param(
        1.6,
        unit="children aged 10-20",
        basis="assumed",
        le=10,
        ge=1,
        doc="mean siblings aged 10-20 per family, for the sibling layer",
    )
    propensity_sd: float = param(
        1.3,
        unit="SD of log hazard",
        basis="calibrated",
        ge=0,
        le=3,
        doc="unobserved individual heterogeneity in offending propensity",
    )

    boroughs: list[BoroughSpec] = Field(
        default_factory=list, description="several boroughs (e.g. London); empty = one borough"
    )

    @model_validator(mode="after")
    def _white_is_reference(self) -> PopulationParams:
        if self.ethnic_deprivation_gradient[0] != 0:
            raise ValueError("ethnic_deprivation_gradient: White is the reference, its entry is 0")
        return self

    @model_validator(mode="after")
    def _boroughs_within_bound(self) -> PopulationParams:
        total = sum(b.population_10_17 for b in self.boroughs)
        if total > MAX_CHILDREN:
            raise ValueError(
                f"the boroughs hold {total:,} children aged 10-17 in all; "
                f"the limit is {MAX_CHILDREN:,} (over twice London's ~800,000)"
            )
        return self

    def borough_specs(self) -> list[BoroughSpec]:
        """The boroughs, or the single borough the top-level fields describe."""
        if self.boroughs:
            return list(self.boroughs)
        return [
            BoroughSpec(
                name="borough",
                population_10_17=self.population_10_17,
                deprivation=self.deprivation_mean,
                wards=self.wards,
                secondary_schools=self.secondary_schools,
                minority_ethnic_share=self.minority_ethnic_share,
                low_income_share=self.low_income_share,
            )
        ]

    @property
    def cohort_sizes(self) -> np.ndarray:
        """Children per single year of age in each borough (a stable population)."""
        return np.array([round(b.population_10_17 / 8) for b in self.borough_specs()])

    @property
    def cohort_size(self) -> int:
        """Children per single year of age in the whole area."""
        return int(self.cohort_sizes.sum())


@dataclass
class Geography:
    """Boroughs, wards and schools: fixed for a run."""

    borough_names: list[str]
    ward_borough: np.ndarray  # borough of each ward
    ward_deprivation: np.ndarray  # standardised deprivation of each ward
    ward_school: np.ndarray  # nearest mainstream school of each ward
    school_borough: np.ndarray  # borough of each mainstream school
    n_mainstream: int  # school ids below this are mainstream; n_mainstream + b is b's PRU

    @property
    def n_boroughs(self) -> int:
        return len(self.borough_names)

    def pru(self, borough: np.ndarray) -> np.ndarray:
        """School id of each borough's pupil referral unit."""
        return self.n_mainstream + np.asarray(borough)


def _normal_profile(n: int) -> np.ndarray:
    """n evenly spaced quantiles of the standard normal (midpoints of n equal-probability bins)."""
    return stats.norm.ppf((np.arange(n) + 0.5) / n)


def build_geography(p: PopulationParams, rng: np.random.Generator) -> Geography:
    """Wards with deprivation and a nearest school, borough by borough.

    A borough's ward deprivation profile is a fact about the borough, so every seed
    gives it the same scores (normal quantiles about its mean); only which ward has
    which score, and so which school and which neighbours, varies with the seed.
    Drawing each score instead made the most deprived of 28 wards range from 0.7 to
    3.3 SD over 20 seeds, and that one ward's offending set the borough's volume and
    reoffending (correlation 0.95 and 0.93 over the check-fit seeds).
    """
    specs = p.borough_specs()
    ward_borough = np.repeat(np.arange(len(specs)), [b.wards for b in specs])
    ward_deprivation = np.empty(ward_borough.size)
    for b, spec in enumerate(specs):
        ward_deprivation[ward_borough == b] = spec.deprivation + p.deprivation_sd * rng.permutation(
            _normal_profile(spec.wards)
        )
    school_counts = np.array([b.secondary_schools for b in specs])
    first_school = np.r_[0, np.cumsum(school_counts)[:-1]]
    ward_school = np.empty(ward_borough.size, dtype=np.int64)
    for b, spec in enumerate(specs):
        local = np.arange(spec.wards) % spec.secondary_schools
        rng.shuffle(local)
        ward_school[ward_borough == b] = first_school[b] + local
    return Geography(
        borough_names=[b.name for b in specs],
        ward_borough=ward_borough,
        ward_deprivation=ward_deprivation,
        ward_school=ward_school,
        school_borough=np.repeat(np.arange(len(specs)), school_counts),
        n_mainstream=int(school_counts.sum()),
    )


def ward_ethnic_shares(p: PopulationParams, geo: Geography) -> np.ndarray:
    """Expected share of each ethnic group among the children of each ward (wards x groups).

    A multinomial logit on ward deprivation: log(share_g / share_White) = a_bg + slope_g x
    deprivation, with the intercepts a_bg of each borough set so that its wards (which
    hold equal numbers of children) average to the borough's shares: White 1 - m, and the
    minority share m split by the sourced Black, Asian and Mixed shares (Other the rest).
    """
    specs = p.borough_specs()
    split = np.array(
        [p.black_share_of_minority, p.asian_share_of_minority, p.mixed_share_of_minority]
    )
    split = np.append(split, max(0.0, 1.0 - split.sum()))
    split = split / split.sum()
    slope = np.asarray(p.ethnic_deprivation_gradient, dtype=float)
    out = np.zeros((geo.ward_borough.size, len(ETHNIC_GROUPS)))
    for b, spec in enumerate(specs):  # a loop over boroughs, at set-up only
        mine = geo.ward_borough == b
        m = spec.minority_ethnic_share
        target = np.r_[1.0 - m, m * split]
        present = target > 0
        logits = np.where(present, slope * geo.ward_deprivation[mine, None], -np.inf)
        a = np.zeros(len(ETHNIC_GROUPS))
        for _ in range(500):  # matching the margins: each step rescales by target / mean
            z = logits + a
            z -= z.max(axis=1, keepdims=True)
            shares = np.exp(z)
            shares /= shares.sum(axis=1, keepdims=True)
            mean = shares.mean(axis=0)
            if np.abs(mean - target).max() < 1e-12:
                break
            a[present] += np.log(target[present] / mean[present])
        out[mine] = shares
    return out


def _logit_intercept(score: np.ndarray, share: float) -> float:
    """Intercept a such that mean(sigmoid(a + score)) == share (Newton's method).

    The mean is increasing and smooth in a, so Newton from logit(share) converges
    in a few steps; steps are capped so a poor start cannot overshoot.
    """
    if share <= 0:
        return -np.inf
    if share >= 1:
        return np.inf
    a = np.log(share / (1 - share)) - float(np.mean(score))
    for _ in range(50):
        sig = 1 / (1 + np.exp(-(a + score)))
        gap = sig.mean() - share
        if abs(gap) < 1e-10:
            break
        slope = max(float(np.mean(sig * (1 - sig))), 1e-12)
        a -= float(np.clip(gap / slope, -2.0, 2.0))
    return a


def _bernoulli(
    rng: np.random.Generator,
    score: np.ndarray,
    share: float | np.ndarray,
    group: np.ndarray | None = None,
) -> np.ndarray:
    """Draw a risk factor with the given share, tilted by ``score``.

    With ``group`` (e.g. borough) and one share per group, each group's share is matched.
    """
    if group is None:
        a = _logit_intercept(score, float(share))
    else:
        a = np.zeros(score.size)
        for g in np.unique(group):  # a loop over boroughs, at set-up only
            mine = group == g
            a[mine] = _logit_intercept(score[mine], float(share[g]))
    return rng.random(score.size) < 1 / (1 + np.exp(-(a + score)))


class People:
    """Struct of arrays for everyone who will ever live in the run (pre-allocated)."""

    # (name, dtype, fill) of every per-person array; views and tests read this list.
    FIELDS: tuple[tuple[str, str, float], ...] = (
        ("birth_week", "f8", np.nan),
        ("sex", "i1", 0),  # 0 female, 1 male
        ("ethnic", "i1", 0),  # index into ETHNIC_GROUPS; no hazard reads it
        ("borough", "i2", 0),
        ("ward", "i2", 0),
        ("deprivation", "f4", 0.0),
        ("low_income", "?", False),
        ("family", "i4", -1),
        ("school", "i2", -1),  # -1 none; ids from ``n_mainstream`` up are pupil referral units
        ("propensity", "f8", 0.0),  # log-scale individual heterogeneity
        ("looked_after", "?", False),
        ("domestic_abuse", "?", False),
        ("persistent_absence", "?", False),
        ("excluded", "?", False),
        ("substance_use", "?", False),
        ("gang", "i2", -1),
        ("gang_listed_week", "f8", np.nan),  # put on the police's gangs list (NaN: never)
        ("victim_week", "f8", np.nan),
        ("last_offence_week", "f8", np.nan),
        ("n_offences", "i4", 0),  # true offences committed
        ("n_proven", "i4", 0),  # offences proven by caution or conviction
        ("n_formal", "i4", 0),  # formal disposals (cautions and sentences)
        ("n_convictions", "i4", 0),
        ("n_community_resolutions", "i4", 0),
        ("n_arrests", "i4", 0),
        ("first_formal_week", "f8", np.nan),
        ("custody_release_week", "f8", np.nan),  # in custody while > now
        ("released_week", "f8", np.nan),
        ("yos_until", "f8", np.nan),  # under YOS supervision while > now
        ("diverted_week", "f8", np.nan),
        ("arrest_week", "f8", np.nan),
    )

    def __init__(self, capacity: int, geography: Geography) -> None:
        self.capacity = capacity
        self.n = 0  # rows entered so far
        self.lo = 0  # rows below lo have aged out
        self.geography = geography
        self.n_mainstream = geography.n_mainstream  # school ids from here are PRUs
        self._age_key: tuple[int, int, int] | None = None
        self._age = np.empty(0)
        for name, dtype, fill in self.FIELDS:
            setattr(self, name, np.full(capacity, fill, dtype=dtype))

    @property
    def live(self) -> slice:
        """The window of people currently in the model (aged 10 to 20)."""
        return slice(self.lo, self.n)

    def age(self, week: int) -> np.ndarray:
        """Ages in years of the live window at ``week`` (read-only; cached for the week)."""
        key = (week, self.lo, self.n)
        if self._age_key != key:
            self._age = age_of(self.birth_week[self.live], week)
            self._age.flags.writeable = False
            self._age_key = key
        return self._age

    def rows_aged(self, week: int, ages: np.ndarray) -> np.ndarray:
        """For each age in ``ages`` (years), how many live rows are at least that old.

        Rows are in birth order, so ages fall along the window and the rows aged
        at least ``a`` are a prefix, those born in week ``week - a x 52`` or before:
        a bisection per age on the birth weeks, without working out ages.
        """
        born_by = week - np.asarray(ages, dtype=float) * WEEKS_PER_YEAR
        return np.searchsorted(self.birth_week[self.live], born_by, side="right")

    def at_school(self, week: int) -> np.ndarray:
        """Live-window mask of pupils attending school: compulsory school age (under 16),
        on a school's roll (the pupil referral unit included) and not in custody."""
        live = self.live
        return (
            (self.age(week) < SCHOOL_LEAVING_AGE)
            & (self.school[live] >= 0)
            & ~self.in_custody(week)
        )

    def at_school_of(self, idx: np.ndarray, week: int) -> np.ndarray:
        """``at_school(week)`` for the live people ``idx`` only (a few: no pass over the window)."""
        age = age_of(self.birth_week[idx], week)
        return (
            (age < SCHOOL_LEAVING_AGE)
            & (self.school[idx] >= 0)
            & ~(self.custody_release_week[idx] > week)
        )

    def pru_of(self, idx: np.ndarray) -> np.ndarray:
        """The pupil referral unit of each person's borough."""
        return self.geography.pru(self.borough[idx])

    def in_custody(self, week: int) -> np.ndarray:
        """Live-window mask of people in custody at ``week``."""
        return self.custody_release_week[self.live] > week


def _new_people(
    people: People,
    rows: slice,
    birth_week: np.ndarray,
    p: PopulationParams,
    rng: np.random.Generator,
    week: int,
) -> None:
    """Fill ``rows`` with synthetic people born at ``birth_week`` (vectorised).

    Boroughs get their exact share of each cohort; wards are uniform within a borough.
    """
    geo = people.geography
    specs = p.borough_specs()
    n = rows.stop - rows.start
    people.birth_week[rows] = birth_week
    counts = np.floor(p.cohort_sizes / p.cohort_sizes.sum() * n).astype(np.int64)
    counts[np.argsort(-p.cohort_sizes)[: n - counts.sum()]] += 1  # largest remainders
    borough = rng.permutation(np.repeat(np.arange(len(specs)), counts))
    people.borough[rows] = borough
    people.sex[rows] = rng.random(n) < 0.512  # ONS: 51.2% of 10-17s are boys

    wards_of = [np.flatnonzero(geo.ward_borough == b) for b in range(len(specs))]
    n_wards = np.array([w.size for w in wards_of])
    first_ward = np.array([w[0] for w in wards_of])
    ward = first_ward[borough] + (rng.random(n) * n_wards[borough]).astype(np.int64)
    people.ward[rows] = ward
    # Ethnic group from the home ward's composition (families then share one:
    # _assign_families). It is drawn here and read by no hazard.
    cumulative = np.cumsum(ward_ethnic_shares(p, geo), axis=1)[ward]
    u = rng.random(n)
    people.ethnic[rows] = np.minimum((u[:, None] >= cumulative).sum(axis=1), len(ETHNIC_GROUPS) - 1)
    dep = geo.ward_deprivation[ward]
    people.deprivation[rows] = dep
    low_share = np.array([b.low_income_share for b in specs])
    low_income = _bernoulli(rng, 0.8 * dep, low_share, borough)
    people.low_income[rows] = low_income
    # Adversity: a family-level latent factor that makes risks co-occur
    # (deprivation and low income shift it; correlations are an assumption).
    adversity = 0.5 * dep + 0.8 * low_income + rng.normal(0, 1, n)
    people.domestic_abuse[rows] = _bernoulli(rng, 0.8 * adversity, p.domestic_abuse_share)
    people.looked_after[rows] = _bernoulli(
        rng, 1.0 * adversity + 1.0 * people.domestic_abuse[rows], p.looked_after_share
    )
    people.persistent_absence[rows] = _bernoulli(rng, 0.7 * adversity, p.persistent_absence_share)
    people.substance_use[rows] = _bernoulli(rng, 0.5 * adversity, p.substance_use_share)
    people.victim_week[rows] = np.where(
        rng.random(n) < p.victim_share, week - rng.integers(0, WEEKS_PER_YEAR, n), np.nan
    )
    people.propensity[rows] = rng.normal(0.0, p.propensity_sd, n) + 0.3 * adversity
    # Schools: the nearest school to home, or another school of the borough.
    near = geo.ward_school[ward]
    school_counts = np.bincount(geo.school_borough, minlength=len(specs))
    first_school = np.r_[0, np.cumsum(school_counts)[:-1]]
    far = first_school[borough] + (rng.random(n) * school_counts[borough]).astype(np.int64)
    school = np.where(rng.random(n) < p.own_ward_school_share, near, far)
    excluded = _bernoulli(rng, 0.8 * adversity, p.excluded_share)
    people.excluded[rows] = excluded
    people.school[rows] = np.where(excluded, geo.pru(borough), school)


def build_population(p: PopulationParams, capacity_years: int, rng: np.random.Generator) -> People:
    """The initial population (ages 9 to 20) with room for later cohorts."""
    geo = build_geography(p, rng)
    cohort = p.cohort_size
    n0 = cohort * int(EXIT_AGE - ENTRY_AGE)  # 12 single-year cohorts, aged 9 to 20
    people = People(n0 + cohort * (capacity_years + 1), geo)
    # Ages uniform in [9, 21): birth weeks sorted so the oldest are first.
    ages = np.sort(rng.uniform(ENTRY_AGE, EXIT_AGE, n0))[::-1]
    _new_people(people, slice(0, n0), -ages * WEEKS_PER_YEAR, p, rng, 0)
    people.n = n0
    _assign_families(people, slice(0, n0), p, rng)
    return people


def add_cohort(people: People, p: PopulationParams, rng: np.random.Generator, week: int) -> slice:
    """Append September's cohort (the year group turning 10 this school year), in birth order."""
    cohort = p.cohort_size
    start = people.n
    rows = slice(start, start + cohort)
    if rows.stop > people.capacity:
        raise RuntimeError("population capacity exceeded; pass more capacity_years")
    ages = np.sort(rng.uniform(ENTRY_AGE, ENTRY_AGE + 1, cohort))[::-1]
    _new_people(people, rows, week - ages * WEEKS_PER_YEAR, p, rng, week)
    people.n = rows.stop
    _assign_families(people, rows, p, rng)
    return rows


def _assign_families(people: People, rows: slice, p: PopulationParams, rng: np.random.Generator):
    """Give each new person a family: an older sibling's family in their ward, or a new one.

    In the initial population, people of a ward are grouped into families of
    geometric size (mean ``children_per_family``); a September entrant joins
    the family of a random older child in their ward with the same chance.
    """
    n = rows.stop - rows.start
    start_family = int(people.family[: rows.start].max(initial=-1)) + 1
    ward = people.ward[rows]
    p_sibling = 1.0 - 1.0 / p.children_per_family
    join = rng.random(n) < p_sibling
    if rows.start == people.lo:  # initial population: group within wards
        order = np.argsort(ward, kind="stable")
        boundaries = np.r_[True, ward[order][1:] != ward[order][:-1]]
        fam_sorted = np.cumsum(~join[order] | boundaries) - 1
        fam = np.empty(n, dtype=np.int32)
        fam[order] = fam_sorted + start_family
        people.family[rows] = fam
        # Siblings share one ethnic group: each family takes its first member's.
        _, first_member, member_of = np.unique(fam, return_index=True, return_inverse=True)
        ethnic = people.ethnic[rows]
        people.ethnic[rows] = ethnic[first_member][member_of]
        return
    older = np.arange(people.lo, rows.start)
    older = older[np.argsort(people.ward[older], kind="stable")]
    counts = np.bincount(people.ward[older], minlength=ward.max() + 1)
    first = np.r_[0, np.cumsum(counts)[:-1]]
    has_older = counts[ward] > 0
    pick = first[ward] + (rng.random(n) * np.maximum(counts[ward], 1)).astype(np.int64)
    sibling = older[np.minimum(pick, older.size - 1)]
    fam = start_family + np.arange(n, dtype=np.int32)
    joins = join & has_older
    people.family[rows] = np.where(joins, people.family[sibling], fam)
    # An entrant joining a family takes its ethnic group (siblings share one).
    people.ethnic[rows] = np.where(joins, people.ethnic[sibling], people.ethnic[rows])
