"""Detection and the England & Wales youth justice pathway.

An offence may be detected (by offence type, raised by policing where and
when it happens). A detected offence leads to an arrest a few weeks later, at
which the police decide: no further action; **diversion** (the hook where a
scheme such as triage sits: interventions may claim the case); community
resolution; youth caution; youth conditional caution; or charge. Charged
cases are sentenced by the youth court some weeks later: referral order
(first conviction, guilty plea), youth rehabilitation order, or custody
(detention and training order: half in custody, half on licence).

Formal disposals (caution and above) make a first-time entrant and count as
"cautioned or sentenced"; only they make an offence "proven" for the MoJ
measure. People aged 18+ go through the same steps as adults: they are not
YOS cases and are not counted in youth figures.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from sim.calendar import WEEKS_PER_YEAR
from sim.events import KIND
from sim.params import CROYDON_2019, CROYDON_EARLIER, Params, Probability, param
from sim.rng import rank_within

if TYPE_CHECKING:
    from sim.model import YouthJusticeModel

YJS = "Youth Justice Statistics 2018/19 (YJB/MoJ)"


class JusticeParams(Params):
    """Detection, the police decision and sentencing."""

    detection_probability: tuple[
        Probability, Probability, Probability, Probability, Probability
    ] = param(
        (0.05, 0.20, 0.12, 0.12, 0.25),
        unit="probability by type",
        basis="assumed",
        doc="chance an offence of each type (minor, drugs, violence, robbery, weapon) leads "
        "to a suspect; drugs and weapons are found by police activity",
    )
    detection_scale: float = param(
        1.2,
        unit="multiplier",
        basis="calibrated",
        gt=0,
        le=5,
        doc="overall detection level, fitted to children cautioned or sentenced",
    )
    group_detection_probability: float = param(
        0.5,
        unit="probability",
        basis="assumed",
        ge=0,
        le=1,
        doc="chance co-offenders are identified when one of the group is",
    )
    arrest_lag_weeks: float = param(
        3.0, unit="weeks", basis="assumed", ge=0, doc="mean offence-to-arrest delay"
    )
    out_of_court_lag_weeks: int = param(
        2,
        unit="weeks",
        basis="assumed",
        ge=0,
        doc="arrest to out-of-court disposal",
    )
    court_lag_weeks: int = param(
        10,
        unit="weeks",
        basis="assumed",
        ge=0,
        doc="charge to sentence (MoJ Criminal Court Statistics: youth cases take months)",
    )
    no_further_action_probability: float = param(
        0.30,
        unit="probability",
        basis="assumed",
        ge=0,
        le=1,
        doc="arrests ending with no further action (evidential difficulties)",
    )
    community_resolution_probability: float = param(
        0.5,
        unit="probability",
        basis="assumed",
        ge=0,
        le=1,
        doc="a first, low-gravity (<=2) offence dealt with by community resolution",
    )
    max_community_resolutions: int = param(
        2,
        unit="resolutions",
        basis="assumed",
        ge=0,
        doc="community resolutions before a formal disposal is used instead",
    )
    conditional_caution_probability: float = param(
        0.25,
        unit="probability",
        basis="assumed",
        ge=0,
        le=1,
        doc="a first caution that is conditional (gravity 3-4)",
    )
    second_out_of_court_probability: float = param(
        0.4,
        unit="probability",
        basis="assumed",
        ge=0,
        le=1,
        doc="a second low-gravity offence after one caution given a conditional caution",
    )
    guilty_plea_probability: float = param(
        0.85,
        unit="probability",
        basis="assumed",
        ge=0,
        le=1,
        doc="first-time defendants pleading guilty (gets a referral order)",
    )
    custody_intercept: float = param(
        -7.6,
        unit="log odds",
        basis="assumed",
        le=10,
        doc="custody at sentence: logit = intercept + gravity and conviction terms; set so "
        "that custody is a few per cent of sentences; no custody target is fitted",
    )
    custody_per_gravity: float = param(
        0.9,
        unit="log odds per gravity point",
        basis="assumed",
        doc="custody is for serious offences (Sentencing Council youth guideline)",
    )
    custody_per_conviction: float = param(
        0.45,
        unit="log odds per conviction",
        basis="assumed",
        doc="and for persistent offending (Sentencing Council youth guideline)",
    )
    custody_weeks: float = param(
        16,
        unit="weeks",
        basis="sourced",
        gt=0,
        source=YJS,
        doc="average time in custody of a detention and training order (~110 days)",
    )
    referral_order_weeks: int = param(
        26,
        unit="weeks",
        basis="assumed",
        ge=1,
        doc="referral orders last 3-12 months; about six months is typical",
    )
    rehabilitation_order_weeks: int = param(
        40,
        unit="weeks",
        basis="assumed",
        ge=1,
        doc="youth rehabilitation orders run up to 3 years; most are under a year",
    )
    conditional_caution_weeks: int = param(
        12,
        unit="weeks",
        basis="assumed",
        ge=1,
        doc="YOS work attached to a youth conditional caution",
    )


class YOSParams(Params):
    """The youth offending service: capacity and how well it supervises."""

    case_managers: int = param(
        24,
        unit="case managers",
        basis="assumed",
        ge=0,
        doc="set so that capacity is near the 200+ children supervised in 2018",
    )
    cases_per_manager: float = param(
        10.0,
        unit="cases",
        basis="assumed",
        gt=0,
        doc="caseload a case manager can supervise well",
    )
    assessment_quality: float = param(
        0.4,
        unit="0-1",
        basis="sourced",
        ge=0,
        le=1,
        source=CROYDON_EARLIER,
        doc="risk assessment quality: 1/4 stars for protecting the public, shortfalls in "
        "assessing risk of harm (the 2019 inspection: 'requires improvement')",
    )
    supervision_effect: float = param(
        0.35,
        unit="log hazard reduction",
        basis="assumed",
        ge=0,
        le=3,
        doc="effect of well-resourced, well-assessed supervision (Lipsey 2009: effective "
        "programmes cut reoffending 10-20%+)",
    )
    supervised_share_anchor: int = param(
        200,
        unit="children",
        basis="sourced",
        source=CROYDON_2019,
        ge=0,
        doc="the YOS supervised more than 200 children in custody or the community "
        "(a calibration target, recorded here for the register)",
    )


def _geometric(u: np.ndarray, mean: float) -> np.ndarray:
    """Whole-week delays with the given mean from uniforms (0 if mean is 0)."""
    if mean <= 0:
        return np.zeros(u.size, dtype=np.int64)
    q = 1.0 / (1.0 + mean)
    return np.floor(np.log1p(-u) / np.log1p(-q)).astype(np.int64)


def _count_in(counts: np.ndarray, ids: np.ndarray) -> None:
    """counts[ids] += 1 with repeats counted (as np.add.at, which is slow for few ids)."""
    who, times = np.unique(ids, return_counts=True)
    counts[who] += times.astype(counts.dtype)


def detect(model: YouthJusticeModel, offence_ids: np.ndarray, week: int) -> np.ndarray:
    """Decide which of this week's offences are detected; queue their arrests."""
    p, off, streams = model.params.justice, model.events.offences, model.streams
    if offence_ids.size == 0:
        return offence_ids
    person = off["person"][offence_ids]
    otype = off["type"][offence_ids]
    # Each of a person's offences this week draws apart: key the draws by the
    # offence's rank among that person's offences (in the order recorded).
    salt = (
        1000 * rank_within(person)
        + otype.astype(np.int64)
        + 8 * (off["co_group"][offence_ids] >= 0)
    )
    u, u_group, u_lag = streams.uniforms("detection", week, person, (salt, salt + 100, salt + 200))
    prob = np.asarray(p.detection_probability)[otype] * p.detection_scale
    prob = prob * model.detection_multiplier[person]
    prob = np.clip(model.interventions.adjust_detection(offence_ids, prob, week), 0.0, 0.95)
    detected = u < prob
    # Co-offenders of a detected offence are often identified too.
    groups = off["co_group"][offence_ids]
    caught_groups = np.unique(groups[detected & (groups >= 0)])
    in_caught = np.isin(groups, caught_groups) & (groups >= 0) & ~detected
    detected |= in_caught & (u_group < p.group_detection_probability)
    ids = offence_ids[detected]
    off.set("detected", ids, True)
    lag = _geometric(u_lag[detected], p.arrest_lag_weeks)
    model.pending_arrests.append(offence=ids, week=week + lag)
    model.open_offences = np.concatenate([model.open_offences, ids])
    return ids


def arrest(model: YouthJusticeModel, week: int) -> None:
    """Arrests due this week: the police decision for each arrested person."""
    p, ppl, off = model.params.justice, model.people, model.events.offences
    pend = model.pending_arrests
    due_mask = pend["week"] <= week
    if not due_mask.any():
        return
    due = pend["offence"][due_mask]
    pend.keep(~due_mask)
    due = due[ppl.birth_week[off["person"][due]] > week - 21 * WEEKS_PER_YEAR]  # aged out
    if due.size == 0:
        return
    person_of = off["person"][due]
    # Offences of someone with a case already open join that case.
    open_case = model.open_case[person_of]
    joins = open_case >= 0
    off.set("case", due[joins], open_case[joins])
    due, person_of = due[~joins], person_of[~joins]
    if due.size == 0:
        return
    # One case per person: the most serious offence is the principal.
    order = np.lexsort((-off["gravity"][due], person_of))
    due, person_of = due[order], person_of[order]
    first = np.r_[True, person_of[1:] != person_of[:-1]]
    case_of_offence = np.cumsum(first) - 1
    principal = due[first]
    persons = person_of[first]
    gravity = off["gravity"][principal].astype(np.int64)
    model.people.n_arrests[persons] += 1
    model.people.arrest_week[persons] = week
    age = (week - ppl.birth_week[persons]) / WEEKS_PER_YEAR
    adult = age >= 18

    s = model.streams
    u_nfa, u_oocd, u_kind = s.uniforms("pathway", week, persons, (1, 2, 3))
    kind = np.full(persons.size, -1, dtype=np.int64)
    kind[u_nfa < p.no_further_action_probability] = KIND["nfa"]

    # --- DIVERSION HOOK ------------------------------------------------------
    # Interventions with an ``after_detection`` hook (triage, sim/interventions)
    # may divert undecided cases here: a YOS assessment and a programme, no
    # formal record. They return a mask over ``persons``.
    undecided = kind < 0
    diverted = model.interventions.divert(persons, gravity, undecided, week)
    kind[diverted & undecided] = KIND["triage"]
    # -------------------------------------------------------------------------

    n_formal = ppl.n_formal[persons]
    n_cr = ppl.n_community_resolutions[persons]
    first_time = n_formal == 0
    todo = kind < 0
    cr = todo & first_time & (gravity <= 2) & (n_cr < p.max_community_resolutions)
    cr &= u_oocd < p.community_resolution_probability
    kind[cr] = KIND["community_resolution"]
    todo = kind < 0
    caution = todo & first_time & (gravity <= 4)
    conditional = caution & ((gravity >= 3) & (u_kind < p.conditional_caution_probability))
    kind[caution] = KIND["youth_caution"]
    kind[conditional] = KIND["youth_conditional_caution"]
    second = todo & (n_formal == 1) & (gravity <= 2) & (u_kind < p.second_out_of_court_probability)
    kind[second] = KIND["youth_conditional_caution"]
    charged = kind < 0  # sentenced later by the court

    lag = np.where(
        charged,
        p.court_lag_weeks,
        np.where(kind == KIND["nfa"], 0, p.out_of_court_lag_weeks),
    )
    case_ids = model.cases.append(
        person=persons,
        principal=principal,
        kind=kind,
        adult=adult,
        due_week=week + lag,
        charged=charged,
    )
    off.set("case", due, case_ids[case_of_offence])
    model.open_case[persons] = case_ids
    model.open_cases = np.concatenate([model.open_cases, case_ids])
    model.week_counts["arrests"] += persons.size
    model.week_counts["diverted"] += int((kind == KIND["triage"]).sum())


def sentence(model: YouthJusticeModel, case_ids: np.ndarray, week: int) -> None:
    """The youth court's sentence for charged cases due this week (kind set in place)."""
    p, ppl, cases = model.params.justice, model.people, model.cases
    persons = cases["person"][case_ids]
    gravity = model.events.offences["gravity"][cases["principal"][case_ids]].astype(np.int64)
    # Every offence in the case counts towards its seriousness for custody.
    convictions = ppl.n_convictions[persons]
    s = model.streams
    u_plea, u_custody = s.uniforms("pathway", week, persons, (4, 5))
    logit = p.custody_intercept + p.custody_per_gravity * gravity
    logit = logit + p.custody_per_conviction * convictions
    custody = u_custody < 1 / (1 + np.exp(-logit))
    referral = (convictions == 0) & (u_plea < p.guilty_plea_probability) & ~custody
    kind = np.where(
        custody,
        KIND["custody"],
        np.where(referral, KIND["referral_order"], KIND["youth_rehabilitation_order"]),
    )
    cases.set("kind", case_ids, kind)


def apply_disposals(model: YouthJusticeModel, week: int) -> None:
    """Cases whose disposal takes effect this week: record it and its consequences."""
    p, ppl, cases, off = model.params.justice, model.people, model.cases, model.events.offences
    is_due = cases["due_week"][model.open_cases] <= week
    if not is_due.any():
        return
    due = model.open_cases[is_due]
    model.open_cases = model.open_cases[~is_due]  # as setdiff1d (order kept), without a search
    charged = due[cases["charged"][due]]
    if charged.size:
        sentence(model, charged, week)
    persons = cases["person"][due]
    kind = cases["kind"][due].astype(np.int64)
    adult = cases["adult"][due]
    still_here = ppl.birth_week[persons] > week - 21 * WEEKS_PER_YEAR
    model.open_case[persons] = -1
    due, persons = due[still_here], persons[still_here]
    kind, adult = kind[still_here], adult[still_here]
    if due.size == 0:
        return
    # Offences dealt with by these cases (kept in the small list of open offences).
    open_off = model.open_offences
    # Each open offence's case's position in ``due`` (-1 if not due), by bisection on
    # the due cases (not a table over every case ever opened).
    order = np.argsort(due, kind="stable")
    sorted_due = due[order]
    off_case = off["case"][open_off]
    at = np.minimum(np.searchsorted(sorted_due, off_case), due.size - 1)
    pos = np.where(sorted_due[at] == off_case, order[at], -1)  # case -1 (none) never matches
    mine = pos >= 0
    offences = open_off[mine]
    model.open_offences = open_off[~mine]
    off_pos = pos[mine]
    off_kind = kind[off_pos]
    off.set("disposal", offences, off_kind)
    formal_kinds = kind >= KIND["youth_caution"]
    formal_offence = off_kind >= KIND["youth_caution"]
    off.set("proven_week", offences[formal_offence], week)
    n_off = np.bincount(off_pos, minlength=due.size)
    model.events.disposals.append(
        person=persons, week=np.full(due.size, week), kind=kind, adult=adult, offences=n_off
    )
    _count_in(ppl.n_proven, off["person"][offences[formal_offence]])

    first_entry = formal_kinds & (ppl.n_formal[persons] == 0)
    ppl.first_formal_week[persons[first_entry]] = week
    model.week_counts["first_time_entrants"] += int((first_entry & ~adult).sum())
    _count_in(ppl.n_formal, persons[formal_kinds])
    court = kind >= KIND["referral_order"]
    ppl.n_convictions[persons[court]] += 1
    cr = persons[kind == KIND["community_resolution"]]
    ppl.n_community_resolutions[cr] += 1
    ppl.diverted_week[persons[kind == KIND["triage"]]] = week
    model.week_counts["formal_disposals"] += int((formal_kinds & ~adult).sum())
    model.week_counts["proven_offences"] += int(formal_offence.sum())

    # Supervision by the YOS (youth only) and custody.
    weeks_by_kind = np.zeros(len(KIND), dtype=np.int64)  # a lookup, not np.select
    weeks_by_kind[KIND["youth_conditional_caution"]] = p.conditional_caution_weeks
    weeks_by_kind[KIND["referral_order"]] = p.referral_order_weeks
    weeks_by_kind[KIND["youth_rehabilitation_order"]] = p.rehabilitation_order_weeks
    length = weeks_by_kind[kind]
    supervised = (length > 0) & ~adult
    sp = persons[supervised]
    ppl.yos_until[sp] = np.fmax(ppl.yos_until[sp], week + length[supervised])
    custody = kind == KIND["custody"]
    jailed = persons[custody]
    if jailed.size:
        u = model.streams.uniform("pathway", week, jailed, 6)
        weeks = np.maximum(1, _geometric(u, p.custody_weeks))
        ppl.custody_release_week[jailed] = week + weeks
        # Children are supervised by the YOS in custody and on licence; adults are not.
        child = ~adult[custody]
        young = jailed[child]
        ppl.yos_until[young] = np.fmax(ppl.yos_until[young], week + 2 * weeks[child])
    model.week_counts["custody_starts"] += int((custody & ~adult).sum())  # youth figure


def release(model: YouthJusticeModel, week: int) -> None:
    """Release those whose custody ends this week (a reoffending index event)."""
    ppl, live = model.people, model.people.live
    idx = np.flatnonzero(ppl.custody_release_week[live] == week) + live.start
    if idx.size:
        ppl.released_week[idx] = week
        model.events.releases.append(person=idx, week=np.full(idx.size, week))
