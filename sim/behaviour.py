"""Offending: the weekly hazard, offence types, co-offending, young victims.

    h_i = base x age_curve(age, sex, trajectory_i) x season
              x exp(b.x_i + g.peer_i + d.gang_i + l.label_i + history_i + propensity_i)
              x programme multipliers

Each child follows one of two developmental trajectories, fixed at entry (the
taxonomy of Moffitt 1993; the Cambridge Study's chronic group, Farrington et al.
2013): most are **adolescence-limited**, whose age curve rises steeply to the
mid-teen peak and falls after it; a few are **early-onset persistent**, more
likely among children with the most childhood adversity, whose curve is higher,
starts early and falls slowly. So early onset predicts persistence without any
rule saying so: a child offending at 10-12 is more likely to be persistent.

Ethnic group is not an argument of anything here. Desistance is not a
separate rule: it follows from the falling side of the age curve and from
the fading of the recent-offending term with time since the last offence.

Who is in a gang is decided in :mod:`sim.gangs`; here membership is one of the
risk factors, and it tilts the mix of offences.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from pydantic import field_validator

from sim.calendar import WEEKS_PER_YEAR
from sim.concern import Concern
from sim.events import OFFENCE_TYPE, OFFENCE_TYPES
from sim.params import (
    MAX_LOG_EFFECT,
    MAX_WEEKS,
    MAX_WEIGHT,
    MPS_2009,
    Gravity,
    NonNegative,
    Params,
    Probability,
    param,
)
from sim.population import AGE_OF_RESPONSIBILITY, EXIT_AGE, People, age_of
from sim.rng import rank_within

if TYPE_CHECKING:
    from sim.model import YouthJusticeModel


# The developmental trajectories, in the order of ``Offending.trajectory``'s values.
TRAJECTORIES = ("adolescence_limited", "early_onset_persistent")
PERSISTENT = TRAJECTORIES.index("early_onset_persistent")


def age_curve(
    age: np.ndarray, male: np.ndarray, p: Offending.Params, trajectory: int = 0
) -> np.ndarray:
    """Relative hazard by age, sex and trajectory: rises to a peak, then falls more slowly.

    The early-onset persistent curve is ``persistent_rate_ratio`` times higher at the
    peak and wider on both sides (it starts earlier and falls later)."""
    peak = np.where(male, p.peak_age_male, p.peak_age_female)
    if trajectory == PERSISTENT:
        rise, fall, level = (
            p.persistent_rise_width,
            p.persistent_fall_width,
            p.persistent_rate_ratio,
        )
    else:
        rise, fall, level = p.rise_width, p.fall_width, 1.0
    width = np.where(age < peak, rise, fall)
    scale = level * np.where(male, 1.0, p.female_rate_ratio) * (age >= AGE_OF_RESPONSIBILITY)
    return scale * np.exp(-0.5 * ((age - peak) / width) ** 2)


def age_table_row(trajectory: np.ndarray, male: np.ndarray) -> np.ndarray:
    """Row of :func:`log_age_table` for each person: trajectory-major, then sex (0 F, 1 M)."""
    return 2 * trajectory.astype(np.int64) + male.astype(np.int64)


def log_age_table(p: Offending.Params) -> np.ndarray:
    """log(base rate x age curve) by trajectory and sex (rows: :func:`age_table_row`) and
    whole weeks of age.

    The hazard is constant within a week of age, so the step looks it up
    instead of evaluating the curve for everyone every week.
    """
    weeks = np.arange(int(EXIT_AGE * WEEKS_PER_YEAR) + 2)
    age = weeks / WEEKS_PER_YEAR
    female = np.zeros_like(age, bool)
    rows = [
        age_curve(age, male, p, t) for t in range(len(TRAJECTORIES)) for male in (female, ~female)
    ]
    with np.errstate(divide="ignore"):  # under-10s have zero hazard: log 0 = -inf
        return np.log(p.base_weekly_rate * np.vstack(rows))


def childhood_risk_count(ppl: People, rows: slice | np.ndarray) -> np.ndarray:
    """Childhood risk factors a child has at entry (0-5): low income, domestic abuse, in
    care, persistently absent, excluded. The persistent trajectory is likelier with more."""
    return (
        ppl.low_income[rows].astype(np.int64)
        + ppl.domestic_abuse[rows]
        + ppl.looked_after[rows]
        + ppl.persistent_absence[rows]
        + ppl.excluded[rows]
    )


def persistent_probability(
    risk_count: np.ndarray, male: np.ndarray, p: Offending.Params
) -> np.ndarray:
    """Chance of the early-onset persistent trajectory: ``persistent_share`` for a boy (a
    girl: times ``persistent_female_ratio``), tilted by childhood risk as
    exp(tilt x (risks - the entrants' mean)) and capped at 1. The tilt keeps the
    entrants' average near the share (exactly so while nobody is capped)."""
    tilt = np.exp(p.persistent_risk_tilt * (risk_count - risk_count.mean()))
    share = p.persistent_share * np.where(male, 1.0, p.persistent_female_ratio)
    return np.minimum(share * tilt / tilt.mean(), 1.0)


def season_log_age_tables(table: np.ndarray, p: Offending.Params) -> dict[float, np.ndarray]:
    """``log_age_table + log(season factor)`` flattened, for each season's factor.

    Adding the season here rather than to every person each week saves a pass
    and gives the same numbers (the same one addition per element).
    """
    return {f: (table + np.log(f)).ravel() for f in (p.summer_factor, p.winter_factor, 1.0)}


# The person's fields that the cached risk-flag part of the log hazard depends on
# (with ``Offending.da_risk_weight``); a row is worked out again when any of them changes.
RISK_FLAG_FIELDS = (
    "looked_after",
    "domestic_abuse",
    "persistent_absence",
    "excluded",
    "substance_use",
    "gang",
    "n_formal",
    "n_offences",
)

# Memory terms are dropped after this many e-folding times (exp(-10) < 5e-5).
MEMORY_CUTOFF = 10.0
# Age in whole weeks from which the hazard is not zero (the age of criminal responsibility).
FIRST_WEEK_AT_RISK = int(AGE_OF_RESPONSIBILITY * WEEKS_PER_YEAR)
# Ties asked in turn to join a group offence (the last one able goes along if none says yes).
CO_OFFENDER_TRIES = 3
# Salts of the co-offending stream: whether the offence is a group one, then for each try
# the pick of a tie and its answer (1, 2, 3 as before the tries; 4-7 the later tries).
CO_OFFENDING_SALTS = (1, 2, 3, 4, 5, 6, 7)


def co_offending_share(age: np.ndarray, p: Offending.Params) -> np.ndarray:
    """Share of offences committed with others at each age: linear in age through the
    share at 14, kept within [0, 1]."""
    return np.clip(p.co_offending_share_at_14 + p.co_offending_change_per_year * (age - 14), 0, 1)


def add_decay(lh: np.ndarray, now: int, since: np.ndarray, coef: float, memory: float) -> None:
    """lh += coef * exp(-(now - since)/memory), only where ``since`` is recent (NaN = never)."""
    idx = np.flatnonzero(since >= now - MEMORY_CUTOFF * memory)
    if idx.size:
        lh[idx] += coef * np.exp((since[idx] - now) / memory)


def add_flag(lh: np.ndarray, coef: float, flag: np.ndarray, buf: np.ndarray) -> None:
    """lh += coef * flag, in place through a scratch buffer (no temporaries)."""
    np.multiply(flag, coef, out=buf)
    np.add(lh, buf, out=lh)


class Offending(Concern):
    """Who offends each week, what they do, with whom, and against whom.

    State: the cached parts of each person's log hazard, this week's programme
    multipliers (interventions scale ``hazard_multiplier`` and ``da_risk_weight``; both
    are reset to 1 at the start of each week), and last week's log hazard, which
    interventions read to target risk (:meth:`last_log_hazard_of`).
    """

    name = "behaviour"

    class Params(Params):
        """The offending hazard and what follows an offence."""

        base_weekly_rate: float = param(
            0.0005,
            unit="offences per week",
            basis="calibrated",
            gt=0,
            le=1,
            doc="hazard of a reference boy at the peak age with no risk factors",
        )
        peak_age_male: float = param(
            16.5,
            unit="years",
            basis="sourced",
            ge=10,
            le=21,
            source="yef-age-crime",
            doc="peak age of known offending 15-18 (1995: 18 for males; violence peaks ~15 "
            "in the Peterborough study)",
        )
        peak_age_female: float = param(
            15.0,
            unit="years",
            basis="assumed",
            ge=10,
            le=21,
            doc="girls' offending peaks earlier (criminological consensus)",
        )
        rise_width: float = param(
            2.2,
            unit="years",
            basis="assumed",
            le=20,
            gt=0,
            doc="spread of the age-crime curve below the peak",
        )
        fall_width: float = param(
            3.5,
            unit="years",
            basis="assumed",
            le=20,
            gt=0,
            doc="spread above the peak (desistance is slower than onset)",
        )
        persistent_share: float = param(
            0.05,
            unit="share of boys",
            basis="assumed",
            ge=0,
            le=0.5,
            source="farrington-2013; yessine-bonta-2012; piquero-2008",
            doc="boys on the early-onset persistent trajectory: a small chronic group (7% of "
            "the Cambridge Study's males had half its convictions; 13% of Canadian youth "
            "probationers were chronic; trajectory studies find a small high-rate group)",
        )
        persistent_female_ratio: float = param(
            0.25,
            unit="ratio",
            basis="assumed",
            ge=0,
            le=1,
            source="moffitt-1993",
            doc="girls are far rarer than boys on the persistent path (Moffitt's taxonomy: "
            "life-course-persistent offending is mostly male); the size is assumed",
        )
        persistent_risk_tilt: float = param(
            0.5,
            unit="log odds-like tilt per childhood risk",
            basis="assumed",
            ge=0,
            le=MAX_LOG_EFFECT,
            source="farrington-2013",
            doc="the chronic group had the most extreme childhood risk scores (Cambridge "
            "Study); the size per risk factor (low income, domestic abuse, care, absence, "
            "exclusion) is assumed",
        )
        persistent_rate_ratio: float = param(
            3.0,
            unit="ratio at the peak",
            basis="calibrated",
            gt=0,
            le=50,
            doc="how much higher the persistent trajectory's hazard is than the adolescence-"
            "limited one's at the peak age; fitted (prevalence, reoffences per reoffender)",
        )
        persistent_rise_width: float = param(
            5.0,
            unit="years",
            basis="assumed",
            gt=0,
            le=20,
            source="moffitt-1993",
            doc="early onset: the persistent curve is already about 40% of its peak at 10 "
            "(rising over 5 years to a 16.5 peak), where the adolescence-limited one is 1%",
        )
        persistent_fall_width: float = param(
            10.0,
            unit="years",
            basis="assumed",
            gt=0,
            le=40,
            source="moffitt-1993; farrington-2013",
            doc="persistence: the curve has barely fallen by 21 (Cambridge conviction careers "
            "last about 10 years on average)",
        )
        female_rate_ratio: float = param(
            0.3,
            unit="ratio",
            basis="sourced",
            gt=0,
            le=2,
            source="yjs-2018-19",
            doc="girls 15% of children cautioned or sentenced (true offending less skewed: "
            "assumed 0.3)",
        )
        summer_factor: float = param(
            1.10,
            unit="multiplier",
            basis="assumed",
            le=MAX_WEIGHT,
            gt=0,
            doc="seasonal swing in recorded youth crime (summer high)",
        )
        winter_factor: float = param(
            0.95,
            unit="multiplier",
            basis="assumed",
            le=MAX_WEIGHT,
            gt=0,
            doc="dark evenings keep fewer young people out",
        )
        coef_deprivation: float = param(
            0.2,
            unit="log hazard per SD",
            basis="calibrated",
            le=MAX_LOG_EFFECT,
            ge=-MAX_LOG_EFFECT,
            source=MPS_2009,
            doc="most deprived areas most affected by crime (section C.1), with no size given; "
            "fitted with the borough profiles (calibration/)",
        )
        coef_low_income: float = param(
            0.3,
            unit="log hazard",
            basis="assumed",
            le=MAX_LOG_EFFECT,
            ge=-MAX_LOG_EFFECT,
            doc="family low income beyond the ward's deprivation",
        )
        coef_looked_after: float = param(
            0.7,
            unit="log hazard",
            basis="sourced",
            le=MAX_LOG_EFFECT,
            ge=-MAX_LOG_EFFECT,
            source=MPS_2009,
            doc="looked-after children most likely to become victims and perpetrators (para 14)",
        )
        coef_domestic_abuse: float = param(
            0.4,
            unit="log hazard",
            basis="sourced",
            le=MAX_LOG_EFFECT,
            ge=-MAX_LOG_EFFECT,
            source="croydon-scrutiny",
            doc="the Serious Violence Duty links youth violence and domestic abuse",
        )
        coef_persistent_absence: float = param(
            0.5,
            unit="log hazard",
            basis="sourced",
            le=MAX_LOG_EFFECT,
            ge=-MAX_LOG_EFFECT,
            source=MPS_2009,
            doc="truancy as a factor in later offending (para 4)",
        )
        coef_excluded: float = param(
            0.8,
            unit="log hazard",
            basis="assumed",
            le=MAX_LOG_EFFECT,
            ge=-MAX_LOG_EFFECT,
            doc="permanent exclusion (pupil referral unit); excluded pupils are heavily over-"
            "represented among young offenders (Timpson review 2019)",
        )
        coef_substance_use: float = param(
            0.6,
            unit="log hazard",
            basis="sourced",
            le=MAX_LOG_EFFECT,
            ge=-MAX_LOG_EFFECT,
            source=MPS_2009,
            doc="significant link between youth offending and drugs and alcohol (para 32)",
        )
        coef_victim: float = param(
            0.6,
            unit="log hazard",
            basis="sourced",
            le=MAX_LOG_EFFECT,
            ge=-MAX_LOG_EFFECT,
            source=MPS_2009,
            doc="being a victim, especially of violence, is often a precursor to offending "
            "(para 29)",
        )
        victim_memory_weeks: float = param(
            52,
            unit="weeks",
            basis="assumed",
            le=MAX_WEEKS,
            gt=0,
            doc="how long victimisation keeps raising risk (e-folding time)",
        )
        coef_peer: float = param(
            1.5,
            unit="log hazard per unit share",
            basis="calibrated",
            ge=0,
            le=10,
            doc="peer contagion: weighted share of neighbours offending recently (MPS para 10, 31)",
        )
        peer_window_weeks: int = param(
            12,
            unit="weeks",
            basis="assumed",
            ge=1,
            le=104,
            doc="a neighbour counts as offending recently for this long",
        )
        coef_gang: float = param(
            0.8,
            unit="log hazard",
            basis="assumed",
            ge=0,
            le=5,
            doc="gang membership (Croydon 2019 inspection: gangs and serious youth violence); "
            "no target separates it from peer contagion, so it is held fixed in the calibration",
        )
        coef_label: float = param(
            0.15,
            unit="log hazard",
            basis="calibrated",
            ge=-1,
            le=2,
            source="petrosino-2010",
            doc="labelling: effect of a formal record on later offending (formal processing "
            "raises later delinquency); may be zero",
        )
        coef_prior: float = param(
            0.4,
            unit="log hazard per log(1+offences)",
            basis="calibrated",
            ge=0,
            le=3,
            doc="persistence: past offending predicts future offending",
        )
        coef_recent: float = param(
            1.2,
            unit="log hazard",
            basis="calibrated",
            ge=0,
            le=5,
            source="nagin-paternoster-1991",
            doc="state dependence right after an offence, fading with time (desistance): it "
            "exists beyond population heterogeneity; its size is fitted within a threefold "
            "hazard",
        )
        recent_memory_weeks: float = param(
            26,
            unit="weeks",
            basis="calibrated",
            le=MAX_WEEKS,
            gt=0,
            doc="e-folding time of the recent-offending term (drives desistance); fitted to the "
            "share of reoffenders whose first reoffence comes within a month (MoJ 2016/17)",
        )
        coef_post_release: float = param(
            0.5,
            unit="log hazard",
            basis="assumed",
            ge=0,
            le=5,
            doc="raised risk just after release from custody, fading over 6 months",
        )
        release_memory_weeks: float = param(
            26,
            unit="weeks",
            basis="assumed",
            le=MAX_WEEKS,
            gt=0,
            doc="e-folding time of the post-release risk",
        )
        offence_mix: tuple[Probability, Probability, Probability, Probability, Probability] = param(
            (0.44, 0.09, 0.36, 0.04, 0.07),
            unit="shares of minor, drugs, violence, robbery, weapon",
            basis="assumed",
            source="ocjs-2005",
            doc="the TRUE offence mix (all offences, detected or not), as shares of the "
            "self-reported prevalence of each type among 10-17s in the 2005 OCJS: violence "
            "19%, other thefts 13% + burglary 2% + vehicle theft 2% (minor, with criminal "
            "damage, not read: assumed 6%), selling drugs 2% (with possession, not a core "
            "OCJS offence: assumed 2.5%), robbery (not read: assumed 2%, as burglary), "
            "weapon carrying (not read: assumed 4%); shares of 52.5 points, so each type is "
            "assumed to be committed as often per offender. The proven mix comes from "
            "detection by type (justice.detection_probability)",
        )
        gang_mix_factor: tuple[NonNegative, NonNegative, NonNegative, NonNegative, NonNegative] = (
            param(
                (0.6, 2.0, 1.0, 2.5, 2.5),
                unit="multiplier per type",
                basis="assumed",
                doc="gang members' offences lean to drugs, robbery and weapons",
            )
        )
        gravity: tuple[Gravity, Gravity, Gravity, Gravity, Gravity] = param(
            (2, 3, 3, 5, 5),
            unit="YJB gravity score 1-8",
            basis="assumed",
            doc="typical score per type, after the YJB/ACPO gravity factor matrix",
        )
        co_offending_share_at_14: float = param(
            0.40,
            unit="share of offences",
            basis="assumed",
            ge=0,
            le=1,
            source="co-offending-meta-2025; csa-victoria-2017",
            doc="share of a 14-year-old's offences committed with others (a share of "
            "offences, not of offenders): 0.29 of offences pooled over all ages (95% CrI "
            "0.22-0.35), higher for the young, whose pooled value was not read; 56% of "
            "10-17 offenders co-offend (Victoria 2016)",
        )
        co_offending_change_per_year: float = param(
            -0.03,
            unit="share per year of age",
            basis="assumed",
            ge=-0.2,
            le=0.2,
            source="reiss-1988; reiss-farrington-1991",
            doc="co-offending falls steadily with age (Cambridge Study; Reiss's review): "
            "from 0.52 at 10 to 0.31 at 17 and 0.22 at 20; the slope is assumed",
        )
        co_offender_inactive_acceptance: float = param(
            0.3,
            unit="probability",
            basis="assumed",
            ge=0,
            le=1,
            doc="who joins a group offence: a tie who has offended recently always will; one "
            "who has not, with this chance (else the next tie is asked; the last asked goes "
            "along)",
        )
        young_victim_share: float = param(
            0.5,
            unit="share of violence and robbery",
            basis="assumed",
            ge=0,
            le=1,
            doc="offences against the person whose victim is another young person in the model",
        )

        @field_validator("offence_mix")
        @classmethod
        def _mix_sums_to_one(cls, mix: tuple[float, ...]) -> tuple[float, ...]:
            if abs(sum(mix) - 1) > 1e-6:
                raise ValueError(f"shares must sum to 1 (they sum to {sum(mix):.3f})")
            return mix

    params: Offending.Params

    def __init__(self, model: YouthJusticeModel, params: Offending.Params) -> None:
        super().__init__(model, params)
        cap = model.people.capacity
        self.log_age_table = log_age_table(params)
        self.season_log_age_tables = season_log_age_tables(self.log_age_table, params)
        self.age_table_offset = np.zeros(cap, dtype=np.int64)  # row in the flat table - week
        self.trajectory = np.zeros(cap, dtype=np.int8)  # index into TRAJECTORIES, at entry
        # Static part of the log hazard (area, income, propensity), set at entry.
        self.static_log_risk = np.zeros(cap)
        # Static and risk-flag part, cached per row, worked out again when a flag changes.
        self.risk_flag_log_risk = np.zeros(cap)
        self.risk_flag_seen = self.new_risk_flag_cache()
        # Scratch for the weekly passes over the live window (no fresh allocations).
        self.scratch_float = np.empty(cap)
        self.scratch_int = np.empty(cap, dtype=np.int64)
        self.hazard_multiplier = np.ones(cap)  # programmes' effect this week
        self.da_risk_weight = np.ones(cap)  # share of domestic-abuse risk still acting
        self.last_peer_exposure = np.zeros(cap)
        self.last_log_hazard = np.zeros(0)  # live window, set each week by step()
        self.last_log_hazard_lo = 0  # first row of that window
        self.next_co_group = 0
        self.new_offences = np.empty(0, dtype=np.int64)  # this week's offence ids
        self.enter(slice(0, model.people.n))

    # -- entry and the start of the week ---------------------------------------
    def enter(self, rows: slice) -> None:
        """The part of the log hazard fixed at entry: area, family income, propensity.

        Also each entrant's trajectory (one uniform per person from the ``trajectory``
        stream, so a child's path depends only on the seed and their own risks) and
        their index into the flattened age table (trajectory x sex x weeks of age) less
        the week: whole weeks of age at ``week`` are ``floor(week - birth) = week -
        ceil(birth)``, so the weekly lookup is one integer add and one ``take``.
        """
        p, ppl = self.params, self.model.people
        ids = np.arange(rows.start, rows.stop)
        if ids.size:
            u = self.model.streams.uniform("trajectory", 0, ids)
            chance = persistent_probability(childhood_risk_count(ppl, rows), ppl.sex[rows], p)
            self.trajectory[rows] = np.where(u < chance, PERSISTENT, 0)
        self.static_log_risk[rows] = (
            p.coef_deprivation * ppl.deprivation[rows]
            + p.coef_low_income * ppl.low_income[rows]
            + ppl.propensity[rows]
        )
        row = age_table_row(self.trajectory[rows], ppl.sex[rows]) * self.log_age_table.shape[1]
        self.age_table_offset[rows] = row - np.ceil(ppl.birth_week[rows]).astype(np.int64)
        self.risk_flag_seen["n_offences"][rows] = -1  # no cached risk-flag part yet

    def reset_multipliers(self) -> None:
        """Programme multipliers back to 1 for the live window (interventions set them anew)."""
        live = self.model.people.live
        self.hazard_multiplier[live] = 1.0
        self.da_risk_weight[live] = 1.0

    def release_working_arrays(self) -> None:
        """Drop the per-row arrays only the weekly hazard reads (after the last week)."""
        empty = np.empty(0)
        self.static_log_risk = self.risk_flag_log_risk = self.scratch_float = empty
        self.hazard_multiplier = self.da_risk_weight = self.last_peer_exposure = empty
        self.last_log_hazard = empty
        self.scratch_int = self.age_table_offset = np.empty(0, dtype=np.int64)
        self.risk_flag_seen = {}

    # -- the cached log hazard ---------------------------------------------------
    def new_risk_flag_cache(self) -> dict[str, np.ndarray]:
        """Last seen values of the risk-flag fields, per row (n_offences -1: never seen)."""
        ppl = self.model.people
        seen = {name: getattr(ppl, name).copy() for name in RISK_FLAG_FIELDS}
        seen["da_risk_weight"] = np.ones(ppl.capacity)
        seen["n_offences"][:] = -1
        return seen

    def risk_flag_terms(self, idx: np.ndarray) -> np.ndarray:
        """The static and risk-flag part of the log hazard of rows ``idx``, in a fixed order
        (so it is the same number however the flags came to be what they are)."""
        p, ppl = self.params, self.model.people
        v = self.static_log_risk[idx]
        v += p.coef_looked_after * ppl.looked_after[idx]
        v += p.coef_domestic_abuse * (ppl.domestic_abuse[idx] * self.da_risk_weight[idx])
        v += p.coef_persistent_absence * ppl.persistent_absence[idx]
        v += p.coef_excluded * ppl.excluded[idx]
        v += p.coef_substance_use * ppl.substance_use[idx]
        v += p.coef_gang * (ppl.gang[idx] >= 0)
        v += p.coef_label * (ppl.n_formal[idx] > 0)
        v += p.coef_prior * np.log1p(ppl.n_offences[idx])
        return v

    def update_risk_flags(self, rows: slice) -> None:
        """Work the cached risk-flag part out again for the rows whose flags changed
        since it was last worked out (a byte compare per field over ``rows``).

        The coefficients are read when a row is worked out: as for the static part,
        set parameters before the model is built, not during a run."""
        ppl, seen = self.model.people, self.risk_flag_seen
        changed = self.da_risk_weight[rows] != seen["da_risk_weight"][rows]
        for name in RISK_FLAG_FIELDS:
            changed |= getattr(ppl, name)[rows] != seen[name][rows]
        idx = np.flatnonzero(changed)
        if idx.size:
            idx += rows.start
            for name in RISK_FLAG_FIELDS:
                seen[name][idx] = getattr(ppl, name)[idx]
            seen["da_risk_weight"][idx] = self.da_risk_weight[idx]
            self.risk_flag_log_risk[idx] = self.risk_flag_terms(idx)

    def log_hazard(self, week: int, peer: np.ndarray) -> tuple[np.ndarray, int]:
        """The live window's weekly log hazard (before programme multipliers), and how many
        of its rows (a prefix) are aged 10 or more.

        Over the rows aged 10 or more (the under-10s are the window's last rows, in
        birth order, and their log hazard is -inf): the age-by-season table, plus the
        cached static and risk-flag part (worked out again only for rows whose flags
        changed), plus peer exposure, plus the memory terms where they are recent.
        """
        m, p = self.model, self.params
        ppl, live = m.people, m.people.live
        lo, n_live = live.start, live.stop - live.start
        w = m.calendar
        season = p.summer_factor if w.season == 2 else p.winter_factor if w.season == 0 else 1.0
        # Rows are in birth order, so those aged 10 or more are a prefix: count it by bisection.
        n = int(np.searchsorted(ppl.birth_week[live], week - FIRST_WEEK_AT_RISK, side="right"))
        lh = np.empty(n_live)
        lh[n:] = -np.inf
        rows = slice(lo, lo + n)
        self.update_risk_flags(rows)
        a, buf, idx = lh[:n], self.scratch_float[:n], self.scratch_int[:n]
        np.add(self.age_table_offset[rows], week, out=idx)  # table row + whole weeks of age
        # mode="clip" changes nothing (every index is in the table) but lets numpy write
        # straight into ``out``; the default mode buffers it (4 times slower for London).
        np.take(self.season_log_age_tables[season], idx, out=a, mode="clip")
        np.add(a, self.risk_flag_log_risk[rows], out=a)
        add_flag(a, p.coef_peer, peer[rows], buf)
        add_decay(a, week, ppl.victim_week[rows], p.coef_victim, p.victim_memory_weeks)
        add_decay(a, week, ppl.last_offence_week[rows], p.coef_recent, p.recent_memory_weeks)
        add_decay(a, week, ppl.released_week[rows], p.coef_post_release, p.release_memory_weeks)
        return lh, n

    def last_log_hazard_of(self, ids: np.ndarray | slice) -> np.ndarray:
        """Last week's log hazard of ``ids`` (-inf for anyone not in last week's window).

        ``ids`` may be a slice of rows (a run of ages): then it is a copy of a slice.
        """
        lh = self.last_log_hazard
        if isinstance(ids, slice):
            out = np.full(ids.stop - ids.start, -np.inf)
            lo = max(ids.start, self.last_log_hazard_lo)
            hi = min(ids.stop, self.last_log_hazard_lo + lh.size)
            if hi > lo:
                out[lo - ids.start : hi - ids.start] = lh[
                    lo - self.last_log_hazard_lo : hi - self.last_log_hazard_lo
                ]
            return out
        pos = np.asarray(ids) - self.last_log_hazard_lo
        ok = (pos >= 0) & (pos < lh.size)
        out = np.full(pos.size, -np.inf)
        out[ok] = lh[pos[ok]]
        return out

    # -- the week's offending ------------------------------------------------------
    def step(self) -> None:
        """Who offends this week; records offences, co-offences and victims
        (their ids in ``new_offences``, which the police read next)."""
        self.new_offences = self.offend(self.model.week)
        self.model.week_counts["offences"] += int(self.new_offences.size)

    def offend(self, week: int) -> np.ndarray:
        """This week's offences (with co-offences and young victims); returns their ids."""
        m, p = self.model, self.params
        ppl, live = m.people, m.people.live
        lo, n_live = live.start, live.stop - live.start
        rng = m.streams[self.name]
        # Fixed draws per live person every week, whatever happens, so policies
        # that change one person's hazard do not shift anyone else's draws.
        u_offend = rng.random(n_live)

        recent = ppl.last_offence_week[live] >= week - p.peer_window_weeks  # NaN (never): False
        active = np.flatnonzero(recent) + lo
        active = active[~(ppl.custody_release_week[active] > week)]  # at liberty (a few tested)
        peer = m.network.peer_exposure(active, m.calendar.term)
        self.last_peer_exposure = peer

        lh, n = self.log_hazard(week, peer)  # rows from n on are under 10: hazard 0
        self.last_log_hazard = lh
        self.last_log_hazard_lo = lo
        hazard = np.exp(lh[:n], out=self.scratch_float[:n])
        np.multiply(hazard, self.hazard_multiplier[lo : lo + n], out=hazard)
        # P(offend) = 1 - exp(-hazard) <= hazard, so only draws below the hazard can
        # be offences (the factor 1 + 2**-20 covers rounding in expm1); the
        # probability is then worked out for those few, out of custody.
        cand = np.flatnonzero(u_offend[:n] < hazard * (1 + 2**-20))
        cand = cand[~(ppl.custody_release_week[cand + lo] > week)]
        prob = -np.expm1(-hazard[cand])
        offenders = cand[u_offend[cand] < prob] + lo
        if offenders.size == 0:
            return np.empty(0, dtype=np.int64)

        gang = ppl.gang[offenders] >= 0
        mix = np.asarray(p.offence_mix)
        gang_mix = mix * np.asarray(p.gang_mix_factor)
        cum = np.cumsum(mix / mix.sum())
        cum_gang = np.cumsum(gang_mix / gang_mix.sum())
        u = m.streams.uniform(self.name, week, offenders)
        otype = np.where(
            gang, np.searchsorted(cum_gang, u, side="right"), np.searchsorted(cum, u, side="right")
        ).clip(0, len(OFFENCE_TYPES) - 1)

        # Co-offending: a share of offences, falling with the offender's age, is committed
        # with a friend, sibling or fellow gang member. Up to CO_OFFENDER_TRIES ties are
        # asked in turn: one who offended recently joins, one who has not joins with
        # ``co_offender_inactive_acceptance``; if nobody says yes, the first one able to
        # (here, at liberty, aged 10+) goes along. With nobody able, the offence is solo.
        # Draws keyed by (week, person), so one offence more or less elsewhere shifts no one.
        s = m.streams
        age = age_of(ppl.birth_week[offenders], week)
        share = co_offending_share(age, p)
        u_co = s.uniforms("co_offending", week, offenders, CO_OFFENDING_SALTS)
        co = np.flatnonzero(u_co[0] < share)
        partner = np.full(co.size, -1, dtype=np.int64)
        fallback = np.full(co.size, -1, dtype=np.int64)
        for t in range(CO_OFFENDER_TRIES):  # a loop over tries (3), not people
            u_pick, u_accept = u_co[1 + 2 * t][co], u_co[2 + 2 * t][co]
            cand = m.network.random_partner(offenders[co], u_pick)
            row = np.maximum(cand, 0)
            able = (cand >= 0) & (cand != offenders[co])
            able &= ~(ppl.custody_release_week[row] > week)  # at liberty
            # A tie under the age of criminal responsibility (the cohort turning 10) does
            # not take part.
            able &= age_of(ppl.birth_week[row], week) >= AGE_OF_RESPONSIBILITY
            recent = ppl.last_offence_week[row] >= week - p.peer_window_weeks
            accept = np.where(recent, 1.0, p.co_offender_inactive_acceptance)
            yes = able & (partner < 0) & (u_accept < accept)
            partner[yes] = cand[yes]
            first_able = able & (fallback < 0)
            fallback[first_able] = cand[first_able]
        partner = np.where(partner >= 0, partner, fallback)
        ok = partner >= 0
        co_pos = co[ok]
        leaders = offenders[co_pos]
        partners = partner[ok]
        first_group = self.next_co_group
        self.next_co_group += leaders.size
        groups = first_group + np.arange(leaders.size)
        co_group = np.full(offenders.size, -1, dtype=np.int64)
        co_group[co_pos] = groups

        persons = np.concatenate([offenders, partners])
        types = np.concatenate([otype, otype[co_pos]])
        co_groups = np.concatenate([co_group, groups])
        gravity = np.asarray(p.gravity, dtype=np.int8)[types]
        ids = m.events.offences.append(
            person=persons,
            week=np.full(persons.size, week),
            type=types,
            gravity=gravity,
            co_group=co_groups,
            detected=np.zeros(persons.size, dtype=bool),
            case=np.full(persons.size, -1),
            proven_week=np.full(persons.size, np.nan),
            disposal=np.full(persons.size, -1),
        )
        # A person may appear twice (own offence and a partner's): count with unique, not
        # np.add.at (slow at this size).
        who, times = np.unique(persons, return_counts=True)
        ppl.n_offences[who] += times.astype(ppl.n_offences.dtype)
        ppl.last_offence_week[persons] = week

        # Young victims of violence and robbery: a peer from school or the
        # neighbourhood, whose own risk then rises (MPS response para 29).
        against_person = (types == OFFENCE_TYPE["violence"]) | (types == OFFENCE_TYPE["robbery"])
        # Each of a person's offences this week draws apart: salt by the offence's rank
        # among that person's offences (own offence first, then those joined as a partner).
        salt = 1000 * rank_within(persons) + 10 + types.astype(np.int64) + 8 * (co_groups >= 0)
        u_victim, u_who = s.uniforms("victims", week, persons, (salt, salt + 50))
        has_victim = against_person & (u_victim < p.young_victim_share)
        victims = m.network.random_acquaintance(persons[has_victim], u_who[has_victim])
        got = victims >= 0
        if got.any():
            got[got] = ~m.interventions.protect_victims(victims[got], week)
        if got.any():
            v = victims[got]
            ppl.victim_week[v] = week
            m.events.victimisations.append(
                person=v, week=np.full(v.size, week), offence=ids[has_victim][got]
            )
        return ids
