"""Detection and the England & Wales youth justice pathway: the police and the youth court.

An offence may be detected (by offence type, raised by policing where and
when it happens). A detected offence leads to an arrest a few weeks later, at
which the police decide: no further action; **diversion** (the hook where a
scheme such as triage sits: interventions may claim the case, and the case
records which one did); or, by the gravity matrix (the offence's score moved by
one for aggravating or mitigating factors, and the person's previous
disposals), a community resolution, a youth caution or a youth conditional
caution (again and again if the score is low: no legal limit since LASPO 2012),
or charge.

A charged person's first hearing decides where they wait for the outcome: bail,
a remand to the community, or a remand to youth detention accommodation (a
custody spell until the court's outcome). Some weeks later the court acquits or
sentences: custody (detention and training order: half in custody, time on
remand deducted, half on licence); the mandatory referral order for a first
conviction on a guilty plea; a youth rehabilitation order; or a first-tier
sentence (a discretionary referral order, a discharge or a fine).

Formal disposals (caution and above: :func:`sim.events.is_formal`) make a
first-time entrant and count as "cautioned or sentenced"; only they make an
offence "proven" for the MoJ measure. People aged 18+ go through the same steps
as adults: they are not YOS cases and are not counted in youth figures.

The police keep the open cases (:class:`CaseBook`); the youth court reads them.
Releases from custody are the YOS's step (:mod:`sim.yos`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from pydantic import field_validator, model_validator

from sim.calendar import WEEKS_PER_YEAR
from sim.concern import Agency
from sim.events import (
    DISCHARGES_AND_FINES,
    FIRST_COURT_KIND,
    KIND,
    OFFENCE_TYPE,
    REMAND,
    Table,
    is_formal,
)
from sim.interventions import NOT_DIVERTED
from sim.params import MAX_LOG_EFFECT, MAX_WEEKS, NonNegative, Params, Probability, param
from sim.population import ADULT_AGE, AGE_OF_RESPONSIBILITY, EXIT_AGE, age_of
from sim.rng import rank_within

if TYPE_CHECKING:
    from sim.model import YouthJusticeModel

# No offence is certain to be detected, whatever programmes multiply its chance by.
MAX_DETECTION_PROBABILITY = 0.95
# Offences found by police activity (stop and search) rather than reported by a victim:
# where police patrol and whom officers search decide their detection.
PROACTIVE_TYPES = np.array([OFFENCE_TYPE["drugs"], OFFENCE_TYPE["weapon"]])
# Salt of the gang-listing decision's keyed draws (stream "gang_listing").
_SALT_LISTING = 1


def position_in(keys: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Each value's position in ``keys`` (distinct ids, in any order), -1 where it is not
    there: a bisection on the sorted keys, not a table over every id ever used."""
    if keys.size == 0:
        return np.full(values.size, -1, dtype=np.int64)
    order = np.argsort(keys, kind="stable")
    sorted_keys = keys[order]
    at = np.minimum(np.searchsorted(sorted_keys, values), keys.size - 1)
    return np.where(sorted_keys[at] == values, order[at], -1)


class JusticeParams(Params):
    """Detection, the police decision, remand and sentencing."""

    detection_probability: tuple[
        Probability, Probability, Probability, Probability, Probability
    ] = param(
        (0.11, 0.14, 0.09, 0.19, 0.11),
        unit="probability by type",
        basis="assumed",
        source="yjs-2018-19; ocjs-2005; home-office-digest-1995",
        doc="chance a true offence of each type (minor, drugs, violence, robbery, weapon) "
        "leads to a suspect, before detection_scale. Derived: the proven mix (YJS 2018/19: "
        "violence ~30%, drugs ~12%, robbery ~7%, weapons ~7%, the rest ~44%) over the true "
        "mix (behaviour.offence_mix, from self-report), times 0.1065, the old values' mean "
        "over the old mix, so the overall level stays detection_scale's. The contrast is "
        "shallower than wounding 14% against vandalism 1.6% (1993-94 digest) because "
        "self-reported violence is mostly minor assault; ratios rest on the assumed shares "
        "of the true mix (robbery, weapons, drugs) and have wide bands (x0.5-2)",
    )
    detection_scale: float = param(
        1.2,
        unit="multiplier",
        basis="calibrated",
        gt=0,
        le=5,
        doc="overall detection level, fitted to children cautioned or sentenced",
    )
    known_offender_detection_ratio: float = param(
        1.0,
        unit="ratio",
        basis="calibrated",
        ge=1,
        le=50,
        source="home-office-ppo-2004; hopkins-wickson-2013",
        doc="how much likelier an offence is to lead to a suspect when its offender already "
        "has a caution or conviction on record (known to the police: named on the Police "
        "National Computer, often under YOS supervision) than when they have none. The "
        "direction is the policy of England and Wales since 2004 (the Prolific and other "
        "Priority Offender strategy's 'catch and convict' strand targets known offenders); "
        "the size is fitted, identified by reoffences per reoffender (3.8 proven each, "
        "2016/17) against the self-reported prevalence and the national volume. 1 = no "
        "difference (the fits before issue 17)",
    )
    known_offender_search_weight: float = param(
        1.0,
        unit="power of known_offender_detection_ratio",
        basis="assumed",
        ge=0,
        le=1,
        source="home-office-pace-code-a-2015; home-office-ppo-2004",
        doc="how far the police's attention to children they already know carries into what "
        "they find by their own activity (drugs and weapons found by stop and search): such "
        "a find is known_offender_detection_ratio to this power as likely for a known child "
        "as for an unknown one. 1: in full, as for offences victims report (the model "
        "before this parameter, and the fits so far); 0: searches find known and unknown "
        "children alike. The law points below 1 (a search needs reasonable grounds about "
        "the person at the time; a previous conviction alone is never one, PACE Code A "
        "para 2.2B), intelligence-led targeting of known offenders above 0; no figure for "
        "the share of children found by searches who were already known was found, so the "
        "whole range 0-1 is open (assumption). A fit can free it: Croydon's reoffending "
        "against the average area's identifies it, since their proactive detection differs "
        "3.1 times (proactive_policing_ratio)",
    )
    clear_up_probability: float = param(
        0.0,
        unit="probability",
        basis="calibrated",
        ge=0,
        le=1,
        source="sentencing-council-tic-2012",
        doc="chance that each of an arrested person's other undetected offences of the last "
        "clear_up_weeks is dealt with in the same case (admitted in interview and taken into "
        "consideration at sentence, or charged together after the investigation), so one "
        "arrest can prove several offences, as the MoJ counts them (reoffences are offences, "
        "not occasions). The practice is the law's; its size is not published and is fitted, "
        "identified by reoffences per reoffender against the reoffending rate. 0 = none "
        "(the fits before issue 17)",
    )
    clear_up_weeks: int = param(
        13,
        unit="weeks",
        basis="assumed",
        ge=0,
        le=MAX_WEEKS,
        doc="how far back an investigation reaches for a suspect's other offences: a quarter "
        "of a year (assumption; the clear-up probability is fitted with it fixed)",
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
        3.0, unit="weeks", basis="assumed", le=MAX_WEEKS, ge=0, doc="mean offence-to-arrest delay"
    )
    out_of_court_lag_weeks: int = param(
        2,
        unit="weeks",
        basis="assumed",
        le=MAX_WEEKS,
        ge=0,
        doc="arrest to out-of-court disposal",
    )
    court_lag_weeks: int = param(
        10,
        unit="weeks",
        basis="assumed",
        le=MAX_WEEKS,
        ge=0,
        doc="charge to the court's outcome (MoJ Criminal Court Statistics: youth cases take "
        "months); a child remanded to youth detention is in custody for these weeks",
    )
    no_further_action_probability: float = param(
        0.30,
        unit="probability",
        basis="assumed",
        ge=0,
        le=1,
        doc="arrests ending with no further action (evidential difficulties)",
    )
    gravity_mitigated_share: float = param(
        0.25,
        unit="probability",
        basis="assumed",
        ge=0,
        le=0.5,
        source="acpo-gravity-2013",
        doc="cases whose mitigating factors lower the matrix score by one (the gravity "
        "matrix moves a score by +-1 for aggravating or mitigating factors; how often is "
        "not published: assumed, band 0.1-0.4). Read by the police decision only",
    )
    gravity_aggravated_share: float = param(
        0.25,
        unit="probability",
        basis="assumed",
        ge=0,
        le=0.5,
        source="acpo-gravity-2013",
        doc="cases whose aggravating factors raise the matrix score by one (assumed, band 0.1-0.4)",
    )
    community_resolution_probability: float = param(
        0.5,
        unit="probability",
        basis="assumed",
        ge=0,
        le=1,
        doc="a case of matrix score at most community_resolution_max_gravity, with nothing "
        "on record, dealt with by community resolution (informal; 'widely used' for "
        "children, all ages about 112,000 a year: bbc-community-resolutions-2019; the "
        "youth volume is not published, band 0.3-0.8)",
    )
    max_community_resolutions: int = param(
        3,
        unit="resolutions",
        basis="assumed",
        le=100,
        ge=0,
        doc="community resolutions before a formal disposal is used instead (no legal limit; "
        "forces' policies discourage repeats: band 1-4)",
    )
    out_of_court_repeat_odds: float = param(
        0.6,
        unit="multiplier per previous disposal",
        basis="assumed",
        gt=0,
        le=1,
        doc="each previous disposal on record (community resolution, caution or conviction) "
        "multiplies the chance of another out-of-court disposal by this (the matrix asks "
        "the officer to weigh previous disposals; assumed, band 0.4-0.9)",
    )
    conditional_caution_probability: float = param(
        0.25,
        unit="probability",
        basis="assumed",
        ge=0,
        le=1,
        doc="a first caution that is conditional (matrix score 3-4)",
    )
    repeat_caution_probability: float = param(
        0.5,
        unit="probability",
        basis="assumed",
        ge=0,
        le=1,
        source="laspo-2012",
        doc="a later offence (after a formal disposal) of matrix score at most "
        "repeat_caution_max_gravity cautioned again, before out_of_court_repeat_odds per "
        "further disposal: LASPO 2012 lifted the limit on youth cautions, so a child may be "
        "cautioned more than once (how often: assumed, band 0.2-0.8)",
    )
    repeat_conditional_caution_probability: float = param(
        0.5,
        unit="probability",
        basis="assumed",
        ge=0,
        le=1,
        doc="a repeat caution that is conditional (YOS work attached): assumed, band 0.2-0.8",
    )
    remand_detention_intercept: float = param(
        -4.4,
        unit="log odds",
        basis="calibrated",
        ge=-50,
        le=10,
        source="yjs-2019-20",
        doc="remand to youth detention accommodation at charge: logit = intercept + gravity "
        "and conviction terms + the group's log odds ratio; fitted to the sourced 12% of "
        "remand episodes that are to youth detention (the default, -4.4, gives 12% at a "
        "charged case of gravity 3.5 with one previous conviction; the model's charged "
        "cases are more serious, so it remands about twice that)",
    )
    remand_detention_per_gravity: float = param(
        0.6,
        unit="log odds per gravity point",
        basis="assumed",
        le=MAX_LOG_EFFECT,
        ge=-MAX_LOG_EFFECT,
        doc="remand in custody is for serious offences (Bail Act 1976 and LASPO 2012 s.98: "
        "a custodial sentence must be likely); size assumed, band 0.3-1.0",
    )
    remand_detention_per_conviction: float = param(
        0.3,
        unit="log odds per conviction",
        basis="assumed",
        le=MAX_LOG_EFFECT,
        ge=-MAX_LOG_EFFECT,
        doc="and for children with a history of offending on bail or convictions (LASPO 2012 "
        "s.98-99 conditions); size assumed, band 0.1-0.6",
    )
    remand_detention_odds_ratio: tuple[
        NonNegative, NonNegative, NonNegative, NonNegative, NonNegative
    ] = param(
        (1.0, 1.5, 1.5, 1.5, 1.5),
        unit="odds ratio by ethnic group (White, Black, Asian, Mixed, Other)",
        basis="assumed",
        source="yjb-disproportionality-2021",
        doc="the court's odds of remanding a child of each group to youth detention against "
        "a White child's, case for case: YJB (2021) found all minority groups more likely to "
        "be remanded in custody, after controls for offence and history. Its odds ratios "
        "were not read, so 1.5 (band 1.2-2.0) is assumed pending its tables (chs 2-3); a "
        "scenario that sets every value to 1 equalises this decision",
    )
    remand_detention_weeks: float = param(
        5.4,
        unit="weeks",
        basis="sourced",
        source="yjs-2019-20",
        gt=0,
        le=MAX_WEEKS,
        doc="mean time held on a remand to youth detention before bail on review or the "
        "court's outcome, whichever comes first: about 240 children on remand at any time "
        "over about 2,300 remands to youth detention a year (12% of 19,200 episodes) is "
        "240 x 52 / 2,300 = 5.4 weeks",
    )
    community_remand_probability: float = param(
        0.068,
        unit="probability",
        basis="sourced",
        source="yjs-2019-20",
        ge=0,
        le=1,
        doc="a charged case not remanded to youth detention remanded to the community "
        "(local authority accommodation or supervision, with YOS intervention): 6% of "
        "remand episodes against 82% bail, so 6/88",
    )
    remand_detention_acquittal_probability: float = param(
        0.33,
        unit="probability",
        basis="sourced",
        source="yjs-2019-20; yjs-2020-21",
        ge=0,
        le=1,
        doc="children remanded to youth detention who are acquitted (or the case dismissed or "
        "withdrawn): 66% get no custodial sentence (2018/19 and 2019/20), half of them "
        "acquitted (2020/21, the first year the split was read): 0.66 x 0.5",
    )
    acquittal_probability: float = param(
        0.31,
        unit="probability",
        basis="sourced",
        source="yjs-2019-20",
        ge=0,
        le=1,
        doc="charged cases not remanded to youth detention that end without conviction "
        "(acquitted, dismissed, withdrawn): about 24,600 children proceeded against at court "
        "and just under 16,900 sentencing occasions in the year ending March 2020, "
        "1 - 16,900 / 24,600 = 0.31 (the bulletin counts the first as children and the "
        "second as occasions; remanded children's 0.33 is close to it)",
    )
    guilty_plea_probability: float = param(
        0.85,
        unit="probability",
        basis="assumed",
        ge=0,
        le=1,
        doc="convicted children who pleaded guilty (a first conviction on a guilty plea gets "
        "a referral order)",
    )
    custody_intercept: float = param(
        -7.6,
        unit="log odds",
        basis="assumed",
        ge=-50,
        le=10,
        doc="custody at sentence: logit = intercept + gravity and conviction terms; set so "
        "that custody is a few per cent of sentences; no custody target is fitted",
    )
    custody_per_gravity: float = param(
        0.9,
        unit="log odds per gravity point",
        basis="assumed",
        le=MAX_LOG_EFFECT,
        ge=-MAX_LOG_EFFECT,
        doc="custody is for serious offences (Sentencing Council youth guideline)",
    )
    custody_per_conviction: float = param(
        0.45,
        unit="log odds per conviction",
        basis="assumed",
        le=MAX_LOG_EFFECT,
        ge=-MAX_LOG_EFFECT,
        doc="and for persistent offending (Sentencing Council youth guideline)",
    )
    absolute_discharge_probability: float = param(
        0.02,
        unit="probability",
        basis="assumed",
        ge=0,
        le=1,
        source="pccsa-2000",
        doc="a first conviction on a guilty plea given an absolute discharge, the one "
        "non-custodial exception to the mandatory referral order (s.16-17); rare: assumed, "
        "band 0-0.05",
    )
    rehabilitation_order_intercept: float = param(
        -3.3,
        unit="log odds",
        basis="assumed",
        ge=-50,
        le=10,
        doc="a youth rehabilitation order for a conviction that is neither custody nor a "
        "mandatory referral order: logit = intercept + gravity and conviction terms; "
        "assumed so that even odds come at gravity 3 after three previous convictions "
        "(community sentences need an offence 'serious enough': Sentencing Council youth "
        "guideline), band +-1.5",
    )
    rehabilitation_order_per_gravity: float = param(
        0.6,
        unit="log odds per gravity point",
        basis="assumed",
        le=MAX_LOG_EFFECT,
        ge=-MAX_LOG_EFFECT,
        doc="the community threshold is about seriousness (Sentencing Council youth "
        "guideline); size assumed, band 0.3-1.0",
    )
    rehabilitation_order_per_conviction: float = param(
        0.5,
        unit="log odds per conviction",
        basis="assumed",
        le=MAX_LOG_EFFECT,
        ge=-MAX_LOG_EFFECT,
        doc="and about previous convictions (Sentencing Council youth guideline); size "
        "assumed, band 0.2-0.8",
    )
    repeat_referral_probability: float = param(
        0.3,
        unit="probability",
        basis="assumed",
        ge=0,
        le=1,
        source="pccsa-2000",
        doc="a first-tier sentence on a guilty plea after earlier convictions that is a "
        "(discretionary) referral order, which the law has allowed since 2009; assumed, "
        "band 0.1-0.5",
    )
    first_tier_shares: tuple[Probability, Probability, Probability] = param(
        (0.1, 0.45, 0.45),
        unit="shares of absolute discharge, conditional discharge, fine",
        basis="assumed",
        doc="the other first-tier sentences (a fine here includes a compensation order). "
        "Their national split was not read (YJS supplementary table 5.x): assumed, each "
        "band +-0.2",
    )
    custody_weeks: float = param(
        16,
        unit="weeks",
        basis="sourced",
        le=MAX_WEEKS,
        gt=0,
        source="yjs-2018-19",
        doc="average time in custody of a detention and training order (~110 days); time "
        "on remand in youth detention counts towards it",
    )
    referral_order_weeks: int = param(
        26,
        unit="weeks",
        basis="assumed",
        le=MAX_WEEKS,
        ge=1,
        source="sentencing-council-referral-order",
        doc="referral orders last 3-12 months ('a minimum of three months and a maximum of "
        "12 months'): 26 weeks = 26 / 52 x 12 = 6 months, inside that range. No published "
        "mean length was found, so where in the range orders typically fall (about six "
        "months) is assumed",
    )
    rehabilitation_order_weeks: int = param(
        40,
        unit="weeks",
        basis="assumed",
        le=MAX_WEEKS,
        ge=1,
        doc="youth rehabilitation orders run up to 3 years; most are under a year",
    )
    conditional_caution_weeks: int = param(
        12,
        unit="weeks",
        basis="sourced",
        le=MAX_WEEKS,
        ge=1,
        source="suffolk-yjs-ooc",
        doc="YOS work attached to a youth conditional caution: the child's plan of work must "
        "be completed within 16 weeks of the caution and its conditions are 'normally' "
        "completed in 3 months (a youth justice service's description of practice); 12 weeks "
        "is 2.8 months, 3 months at that precision (13 weeks exactly); the national Code of "
        "Practice (2013, section 9, time limits) was not read",
    )
    community_resolution_max_gravity: int = param(
        2,
        unit="YJB gravity score",
        basis="assumed",
        ge=0,
        le=8,
        source="acpo-gravity-2013",
        doc="highest matrix score a case may be dealt with by community resolution",
    )
    caution_max_gravity: int = param(
        4,
        unit="YJB gravity score",
        basis="assumed",
        ge=0,
        le=8,
        source="acpo-gravity-2013",
        doc="highest matrix score of a first formal offence that is cautioned rather than charged",
    )
    conditional_caution_min_gravity: int = param(
        3,
        unit="YJB gravity score",
        basis="assumed",
        ge=0,
        le=8,
        source="acpo-gravity-2013",
        doc="a first caution may be conditional from this matrix score",
    )
    repeat_caution_max_gravity: int = param(
        3,
        unit="YJB gravity score",
        basis="assumed",
        ge=0,
        le=8,
        source="acpo-gravity-2013; laspo-2012",
        doc="highest matrix score of a later offence (after a formal disposal) that may be "
        "cautioned again",
    )
    proactive_policing_ratio: float = param(
        1.0,
        unit="ratio to England and Wales",
        basis="sourced",
        gt=0,
        le=20,
        source="itv-2020; home-office-ppp-2019",
        doc="how much more the force finds by its own activity (stop and search: drugs and "
        "weapons) than the England and Wales average: 1 for an average area; the Met "
        "searched 31 per 1,000 people against 10 nationally (2019/20), so London's "
        "scenarios set 3.1. A sourced difference of place, not of behaviour, and one of "
        "the reasons Croydon cautions or sentences 3.5 times the national rate per child",
    )
    # -- decisions that differ by ethnic group (never the offending hazard) ------------
    patrol_deprivation_gradient: float = param(
        0.3,
        unit="log detection multiplier per SD of ward deprivation",
        basis="assumed",
        ge=0,
        le=MAX_LOG_EFFECT,
        source="vomfell-stewart-2021",
        doc="proactive policing (stop and search) concentrates where police patrol, more in "
        "deprived wards; over-patrolling of minority areas is a key part of the search "
        "disparity (Vomfell and Stewart 2021). No ward-level rate was read: 0.3 gives the "
        "most deprived wards about twice the least deprived's searching; range 0-0.6. "
        "Normalised to average 1 over the area's wards (exposure, not volume)",
    )
    search_decision_by_group: tuple[
        NonNegative, NonNegative, NonNegative, NonNegative, NonNegative
    ] = param(
        (1.0, 2.5, 1.0, 1.5, 1.0),
        unit="multiplier by group (White, Black, Asian, Mixed, Other); White = 1",
        basis="assumed",
        source="home-office-ppp-2019; vomfell-stewart-2021",
        doc="the officer's decision part of proactive detection (drugs and weapons found by "
        "stop and search), over and above where police patrol. The Met's unconditional "
        "search rates, Black 51 against White 11 per 1,000 (4.6x, 2018/19), bound it above; "
        "officers' bias is the larger part of the Black disparity, over-patrolling most of "
        "the Asian one (Vomfell and Stewart 2021), so Black 2.5 (range sqrt(4.6) = 2.1 to "
        "4.6), Asian 1 (1-1.5), Mixed 1.5 between them (1-2.5; no decomposition read)",
    )
    gang_listing_probability: float = param(
        0.5,
        unit="probability per arrest",
        basis="assumed",
        ge=0,
        le=1,
        doc="a gang member's arrest puts them on the police's gangs list (Gangs Matrix) for "
        "a White child; range 0.2-0.9 (the Matrix held 3,806 people in 2017: Amnesty 2018)",
    )
    gang_associate_listing_probability: float = param(
        0.05,
        unit="probability per arrest",
        basis="assumed",
        ge=0,
        le=1,
        source="amnesty-2018",
        doc="an arrested non-member with a close tie (friend, sibling) to a gang member is "
        "listed as one, for a White child: the Matrix lists association (35% of those on it "
        "had never committed a serious offence); range 0-0.2",
    )
    gang_listing_odds_by_group: tuple[
        NonNegative, NonNegative, NonNegative, NonNegative, NonNegative
    ] = param(
        (1.0, 3.0, 1.0, 1.0, 1.0),
        unit="odds ratio by group (White, Black, Asian, Mixed, Other); White = 1",
        basis="assumed",
        source="amnesty-2018",
        doc="the listing decision by group: the Matrix was 78% Black against 27% of those "
        "the Met held responsible for serious youth violence, a crude odds ratio of about "
        "9.6 that also carries who is in gangs and who is arrested; Black 3 (about half of "
        "its log), range 1-10; others 1 (no figure read)",
    )

    out_of_court_chance_by_group: tuple[
        Probability, Probability, Probability, Probability, Probability
    ] = param(
        (1.0, 0.8, 0.9, 0.9, 0.9),
        unit="relative chance by group (White, Black, Asian, Mixed, Other); White = 1",
        basis="assumed",
        source="yjb-disproportionality-2021",
        doc="the decision to deal with a case out of court rather than charge it: the chance "
        "that a case the gravity matrix would resolve out of court (community resolution or "
        "caution) is resolved there for a child of each group, against a White child's "
        "(the rest are charged). YJB (2021) found Black, Asian and other minority children "
        "less likely to get a formal out-of-court disposal, Black children least of all, "
        "after controls for offence and history (an out-of-court disposal needs an "
        "admission, and the trust deficit the Lammy Review described lowers it). Its odds "
        "ratios were not read: Black 0.8 (band 0.6-1.0), the other groups 0.9 (0.75-1.0); "
        "a scenario that sets every value to 1 equalises this decision",
    )

    @model_validator(mode="after")
    def _white_is_reference(self) -> JusticeParams:
        for name in (
            "search_decision_by_group",
            "gang_listing_odds_by_group",
            "out_of_court_chance_by_group",
        ):
            if getattr(self, name)[0] != 1:
                raise ValueError(f"{name}: White is the reference, its entry is 1")
        return self


def patrol_intensity(ward_deprivation: np.ndarray, p: JusticeParams) -> np.ndarray:
    """Proactive policing by ward: exp(gradient x deprivation), averaging 1 over the wards
    (wards hold equal numbers of children), so it moves searching, not its volume."""
    w = np.exp(p.patrol_deprivation_gradient * np.asarray(ward_deprivation, dtype=float))
    return w / w.mean()


def listing_probability(base: np.ndarray, odds_ratio: np.ndarray) -> np.ndarray:
    """``base`` probabilities with their odds multiplied by ``odds_ratio`` (0 and 1 stay)."""
    base = np.asarray(base, dtype=float)
    odds = base * odds_ratio
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(base >= 1, 1.0, odds / (1 - base + odds))

    @field_validator("first_tier_shares")
    @classmethod
    def _shares_sum_to_one(cls, shares: tuple[float, ...]) -> tuple[float, ...]:
        if abs(sum(shares) - 1) > 1e-6:
            raise ValueError(f"shares must sum to 1 (they sum to {sum(shares):.3f})")
        return shares


def geometric_weeks(u: np.ndarray, mean: float) -> np.ndarray:
    """Whole-week delays with the given mean from uniforms (0 if mean is 0)."""
    if mean <= 0:
        return np.zeros(u.size, dtype=np.int64)
    q = 1.0 / (1.0 + mean)
    return np.floor(np.log1p(-u) / np.log1p(-q)).astype(np.int64)


def count_in(counts: np.ndarray, ids: np.ndarray) -> None:
    """counts[ids] += 1 with repeats counted (as np.add.at, which is slow for few ids)."""
    who, times = np.unique(ids, return_counts=True)
    counts[who] += times.astype(counts.dtype)


def still_here(birth_week: np.ndarray, week: int) -> np.ndarray:
    """Mask of people not yet aged out of the model (under 21) at ``week``."""
    return birth_week > week - EXIT_AGE * WEEKS_PER_YEAR


class CaseBook:
    """Offences and cases on their way through the pathway (kept by the police).

    - ``pending_arrests``: detected offences and the week of their arrest;
    - ``cases``: one row per arrest decision: the person, the principal offence, the
      disposal ``kind`` (set by the court for charged cases), whether dealt with as an
      adult, the week it takes effect, which intervention (its position in
      ``model.interventions``) claimed a diversion, and, for a charged case, where the
      person waits for the court (``REMAND``: bail, community, youth detention; -1 not
      yet heard or not charged);
    - ``open_cases`` and ``open_offences``: the few not yet disposed of;
    - ``open_case``: each person's open case (-1 none), which new offences join;
    - ``first_hearings``: cases charged since the court last sat (it decides remand).
    """

    def __init__(self, capacity: int) -> None:
        self.pending_arrests = Table({"offence": "i8", "week": "i4"}, capacity=256)
        self.cases = Table(
            {
                "person": "i8",
                "principal": "i8",
                "kind": "i1",
                "adult": "?",
                "due_week": "i4",
                "charged": "?",
                "diverted_by": "i2",
                "remand": "i1",
                "remand_weeks": "i2",  # weeks held on a remand to youth detention
            }
        )
        self.open_cases = np.empty(0, dtype=np.int64)
        self.open_offences = np.empty(0, dtype=np.int64)
        self.open_case = np.full(capacity, -1, dtype=np.int64)
        self.first_hearings = np.empty(0, dtype=np.int64)


class Police(Agency):
    """Detection of this week's offences, then arrests and the police decision."""

    name = "justice"
    Params = JusticeParams
    params: JusticeParams

    def __init__(self, model: YouthJusticeModel, params: JusticeParams) -> None:
        super().__init__(model, params)
        self.book = CaseBook(model.people.capacity)
        self.detection_multiplier = np.ones(model.people.capacity)  # programmes', this week
        self.patrol_intensity = patrol_intensity(model.geography.ward_deprivation, params)
        self._cases_listed = 0  # cases (arrests) the gangs-list review has read

    def reset_multipliers(self) -> None:
        """Detection multipliers back to 1 for the live window (interventions set them anew)."""
        self.detection_multiplier[self.model.people.live] = 1.0

    def step(self) -> None:
        """Detect this week's offences, then make the arrests due and decide each case."""
        m = self.model
        m.week_counts["detected"] += int(self.detect(m.offending.new_offences, m.week).size)
        self.arrest(m.week)
        self.review_gangs_list(m.week)

    def review_gangs_list(self, week: int) -> None:
        """The gangs list (Gangs Matrix): at each arrest, the police may list a gang member,
        or an associate (a close tie of a member), as a gang member.

        Listing is a police decision, distinct from membership: its odds differ by group
        (``gang_listing_odds_by_group``). The listed stay listed while in the model; the
        gangs team's "matrix" targeting reads the list (people.gang_listed_week).
        """
        m, p, ppl = self.model, self.params, self.model.people
        cases = self.book.cases
        persons = cases["person"][self._cases_listed : cases.n]
        self._cases_listed = cases.n
        persons = np.unique(persons[np.isnan(ppl.gang_listed_week[persons])])
        if persons.size == 0 or (
            p.gang_listing_probability == 0 and p.gang_associate_listing_probability == 0
        ):
            return
        member = ppl.gang[persons] >= 0
        base = np.where(member, p.gang_listing_probability, 0.0)
        others = persons[~member]
        if others.size and p.gang_associate_listing_probability > 0:
            # Close ties: friends and siblings (non-members have no gang-layer ties).
            owner, tied_to = m.network.ties_of(others, ("friendship", "siblings"))
            tied = np.zeros(others.size, dtype=bool)
            tied[owner[ppl.gang[tied_to] >= 0]] = True
            base[~member] = np.where(tied, p.gang_associate_listing_probability, 0.0)
        odds_ratio = np.asarray(p.gang_listing_odds_by_group)[ppl.ethnic[persons]]
        prob = listing_probability(base, odds_ratio)
        u = m.streams.uniform("gang_listing", week, persons, _SALT_LISTING)
        ppl.gang_listed_week[persons[u < prob]] = week

    def detect(self, offence_ids: np.ndarray, week: int) -> np.ndarray:
        """Decide which of this week's offences are detected; queue their arrests."""
        m, p = self.model, self.params
        off, streams = m.events.offences, m.streams
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
        u, u_group, u_lag = streams.uniforms(
            "detection", week, person, (salt, salt + 100, salt + 200)
        )
        prob = np.asarray(p.detection_probability)[otype] * p.detection_scale
        prob = prob * self.detection_multiplier[person]
        proactive = np.isin(otype, PROACTIVE_TYPES)
        # Offenders the police already know (a caution or conviction on record); what
        # searches find carries that attention only in part (known_offender_search_weight).
        if p.known_offender_detection_ratio != 1.0:
            known = m.people.n_formal[person] > 0
            ratio = p.known_offender_detection_ratio
            search_ratio = ratio**p.known_offender_search_weight
            prob[known] *= np.where(proactive[known], search_ratio, ratio)
        # Offences found by police activity: how much the force searches, where police
        # patrol, and whom officers search.
        if proactive.any():
            who = person[proactive]
            prob[proactive] *= (
                p.proactive_policing_ratio
                * self.patrol_intensity[m.people.ward[who]]
                * np.asarray(p.search_decision_by_group)[m.people.ethnic[who]]
            )
        prob = m.interventions.adjust_detection(offence_ids, prob, week)
        prob = np.clip(prob, 0.0, MAX_DETECTION_PROBABILITY)
        detected = u < prob
        # Co-offenders of a detected offence are often identified too.
        groups = off["co_group"][offence_ids]
        caught_groups = np.unique(groups[detected & (groups >= 0)])
        in_caught = np.isin(groups, caught_groups) & (groups >= 0) & ~detected
        detected |= in_caught & (u_group < p.group_detection_probability)
        ids = offence_ids[detected]
        off.set("detected", ids, True)
        lag = geometric_weeks(u_lag[detected], p.arrest_lag_weeks)
        self.book.pending_arrests.append(offence=ids, week=week + lag)
        self.book.open_offences = np.concatenate([self.book.open_offences, ids])
        return ids

    def arrest(self, week: int) -> None:
        """Arrests due this week: the police decision for each arrested person."""
        m, p, book = self.model, self.params, self.book
        ppl, off, pend = m.people, m.events.offences, book.pending_arrests
        due_mask = pend["week"] <= week
        if not due_mask.any():
            return
        due = pend["offence"][due_mask]
        pend.keep(~due_mask)
        due = due[still_here(ppl.birth_week[off["person"][due]], week)]  # aged out
        if due.size == 0:
            return
        person_of = off["person"][due]
        # Offences of someone with a case already open join that case.
        open_case = book.open_case[person_of]
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
        ppl.n_arrests[persons] += 1
        ppl.arrest_week[persons] = week
        adult = age_of(ppl.birth_week[persons], week) >= ADULT_AGE

        u_nfa = m.streams.uniform("pathway", week, persons, 1)
        kind = np.full(persons.size, -1, dtype=np.int64)
        kind[u_nfa < p.no_further_action_probability] = KIND["nfa"]

        # Diversion: interventions (triage, sim/interventions/) may claim undecided cases
        # here: a YOS assessment and a programme, no formal record.
        undecided = kind < 0
        diverted_by = m.interventions.divert(persons, gravity, undecided, week)
        kind[diverted_by != NOT_DIVERTED] = KIND["diversion"]

        self.out_of_court(persons, gravity, kind, week)
        charged = kind < 0  # sentenced later by the court

        lag = np.where(
            charged,
            p.court_lag_weeks,
            np.where(kind == KIND["nfa"], 0, p.out_of_court_lag_weeks),
        )
        case_ids = book.cases.append(
            person=persons,
            principal=principal,
            kind=kind,
            adult=adult,
            due_week=week + lag,
            charged=charged,
            diverted_by=diverted_by,
            remand=np.full(persons.size, -1),
            remand_weeks=np.zeros(persons.size, dtype=np.int16),
        )
        off.set("case", due, case_ids[case_of_offence])
        book.open_case[persons] = case_ids
        if p.clear_up_probability > 0:
            self.clear_up(persons, case_ids, week)
        book.open_cases = np.concatenate([book.open_cases, case_ids])
        book.first_hearings = np.concatenate([book.first_hearings, case_ids[charged]])
        m.week_counts["arrests"] += persons.size
        m.week_counts["diverted"] += int((kind == KIND["diversion"]).sum())

    def clear_up(self, persons: np.ndarray, case_ids: np.ndarray, week: int) -> None:
        """Add to each new case some of its person's other undetected offences of the last
        ``clear_up_weeks`` (each with ``clear_up_probability``): they are detected and
        share the case's outcome, proven if it is a caution or conviction."""
        m, p, off, book = self.model, self.params, self.model.events.offences, self.book
        # The offence log is in week order: the window is its tail.
        rows = np.arange(off.first_row_of_week(week - p.clear_up_weeks), off.n)
        rows = rows[~off["detected"][rows] & (off["case"][rows] < 0)]
        # Each offence's person's place among the new cases (-1: not arrested now).
        at = position_in(persons, off["person"][rows])
        rows, at = rows[at >= 0], at[at >= 0]
        take = m.streams.uniform("clear_up", week, rows) < p.clear_up_probability
        rows, at = rows[take], at[take]
        off.set("detected", rows, True)
        off.set("case", rows, case_ids[at])
        book.open_offences = np.concatenate([book.open_offences, rows])

    def out_of_court(
        self, persons: np.ndarray, gravity: np.ndarray, kind: np.ndarray, week: int
    ) -> None:
        """The gravity matrix for the cases still undecided (``kind`` < 0, set in place):
        community resolution, youth caution or youth conditional caution; the rest stay
        undecided (charged).

        The matrix score is the offence's gravity moved by one for aggravating or
        mitigating factors. A community resolution needs a low score and fewer than
        ``max_community_resolutions`` before; a first formal disposal is a caution up to
        ``caution_max_gravity``; later offences may be cautioned again up to
        ``repeat_caution_max_gravity`` (no legal limit since LASPO 2012). Each previous
        disposal on record makes another out-of-court disposal less likely, and a case the
        matrix would keep out of court is charged instead with a chance that differs by
        group (``out_of_court_chance_by_group``).
        """
        m, p, ppl = self.model, self.params, self.model.people
        todo = kind < 0
        u_oocd, u_kind, u_matrix, u_repeat = m.streams.uniforms(
            "pathway", week, persons, (2, 3, 7, 8)
        )
        score = gravity - (u_matrix < p.gravity_mitigated_share)
        score = score + (u_matrix >= 1 - p.gravity_aggravated_share)
        n_formal = ppl.n_formal[persons]
        n_cr = ppl.n_community_resolutions[persons]
        previous = (n_formal + n_cr).astype(np.float64)
        cr = todo & (score <= p.community_resolution_max_gravity)
        cr &= n_cr < p.max_community_resolutions
        cr &= u_oocd < p.community_resolution_probability * p.out_of_court_repeat_odds**previous
        kind[cr] = KIND["community_resolution"]
        todo &= ~cr
        first = todo & (n_formal == 0) & (score <= p.caution_max_gravity)
        conditional = first & (score >= p.conditional_caution_min_gravity)
        conditional &= u_kind < p.conditional_caution_probability
        repeat = todo & (n_formal > 0) & (score <= p.repeat_caution_max_gravity)
        repeat &= u_repeat < p.repeat_caution_probability * p.out_of_court_repeat_odds ** (
            previous - 1
        )
        conditional |= repeat & (u_kind < p.repeat_conditional_caution_probability)
        kind[first | repeat] = KIND["youth_caution"]
        kind[conditional] = KIND["youth_conditional_caution"]
        # The decision to keep a case out of court differs by group: the rest are charged.
        # A draw of its own (salt 15), so no other draw moves; a White child's chance is 1.
        out_of_court = cr | first | repeat
        chance = np.asarray(p.out_of_court_chance_by_group)[ppl.ethnic[persons]]
        u_group = m.streams.uniform("pathway", week, persons, 15)
        kind[out_of_court & (u_group >= chance)] = -1


class YouthCourt(Agency):
    """Hears new charges (remand), gives its outcome on charged cases (acquittal or
    sentence) and puts every due disposal into effect."""

    name = "justice"
    Params = JusticeParams
    params: JusticeParams

    def __init__(self, model: YouthJusticeModel, params: JusticeParams, book: CaseBook) -> None:
        super().__init__(model, params)
        self.book = book

    def step(self) -> None:
        """First hearings of this week's charges, then every disposal due this week; counts
        the children on remand in youth detention (for the remand share of custody)."""
        week = self.model.week
        self.remand(week)
        self.apply_disposals(week)
        self.count_remanded(week)

    def remand(self, week: int) -> None:
        """Where each newly charged person waits for the court's outcome: bail, a remand to
        the community (supervised by the YOS), or a remand to youth detention
        accommodation, a custody spell from now until bail on review or the court's outcome
        (``remand_detention_weeks`` on average).

        Youth detention is likelier for serious and persistent cases (a logit on gravity
        and previous convictions) and, case for case, by the group's odds ratio
        (``remand_detention_odds_ratio``). Someone already in custody stays there on bail's
        terms (the custody they serve is not a remand, nor is a remand to the community).
        """
        m, p, book = self.model, self.params, self.book
        ppl, cases = m.people, book.cases
        ids, book.first_hearings = book.first_hearings, np.empty(0, dtype=np.int64)
        if ids.size == 0:
            return
        persons = cases["person"][ids]
        gravity = m.events.offences["gravity"][cases["principal"][ids]].astype(np.int64)
        u_detain, u_community = m.streams.uniforms("pathway", week, persons, (9, 10))
        logit = p.remand_detention_intercept + p.remand_detention_per_gravity * gravity
        logit = logit + p.remand_detention_per_conviction * ppl.n_convictions[persons]
        logit = logit + np.log(np.asarray(p.remand_detention_odds_ratio)[ppl.ethnic[persons]])
        free = ~(ppl.custody_release_week[persons] > week)
        detain = free & (u_detain < 1 / (1 + np.exp(-logit)))
        community = free & ~detain & (u_community < p.community_remand_probability)
        remand = np.where(detain, REMAND["youth_detention"], REMAND["bail"])
        remand[community] = REMAND["community_remand"]
        cases.set("remand", ids, remand)
        due = cases["due_week"][ids]
        # Held until bail on review or the court's outcome, whichever comes first.
        u_held = m.streams.uniform("pathway", week, persons[detain], 14)
        held = np.maximum(1, geometric_weeks(u_held, p.remand_detention_weeks))
        release = np.minimum(week + held, due[detain])
        ppl.custody_release_week[persons[detain]] = release
        cases.set("remand_weeks", ids[detain], release - week)
        # Children on remand (in detention or the community) are supervised by the YOS.
        child = ~cases["adult"][ids] & (detain | community)
        young = persons[child]
        ppl.yos_until[young] = np.fmax(ppl.yos_until[young], due[child])

    def count_remanded(self, week: int) -> None:
        """Children (aged 10-17 now) held on remand in youth detention this week."""
        m, cases, book = self.model, self.book.cases, self.book
        held = book.open_cases[cases["remand"][book.open_cases] == REMAND["youth_detention"]]
        if held.size == 0:
            return
        persons = cases["person"][held]
        age = age_of(m.people.birth_week[persons], week)
        in_custody = m.people.custody_release_week[persons] > week
        children = (age >= AGE_OF_RESPONSIBILITY) & (age < ADULT_AGE) & in_custody
        m.week_counts["remand_custody_weeks"] += int(children.sum())

    def sentence(self, case_ids: np.ndarray, week: int) -> None:
        """The court's outcome for charged cases due this week (kind set in place).

        An acquittal (likelier after a remand to youth detention, where the sourced share
        is known); else custody for serious or persistent offending; else a first
        conviction on a guilty plea gets the mandatory referral order (or, rarely, an
        absolute discharge); else a youth rehabilitation order, likelier with gravity and
        previous convictions; else a first-tier sentence: a discretionary referral order
        on a guilty plea, or a discharge or fine.
        """
        m, p, cases = self.model, self.params, self.book.cases
        ppl = m.people
        persons = cases["person"][case_ids]
        gravity = m.events.offences["gravity"][cases["principal"][case_ids]].astype(np.int64)
        # Every offence in the case counts towards its seriousness for custody.
        convictions = ppl.n_convictions[persons]
        u_plea, u_custody = m.streams.uniforms("pathway", week, persons, (4, 5))
        u_acquit, u_order, u_tier = m.streams.uniforms("pathway", week, persons, (11, 12, 13))
        detained = cases["remand"][case_ids] == REMAND["youth_detention"]
        p_acquit = np.where(
            detained, p.remand_detention_acquittal_probability, p.acquittal_probability
        )
        acquitted = u_acquit < p_acquit
        logit = p.custody_intercept + p.custody_per_gravity * gravity
        logit = logit + p.custody_per_conviction * convictions
        custody = ~acquitted & (u_custody < 1 / (1 + np.exp(-logit)))
        plea = u_plea < p.guilty_plea_probability
        mandatory = ~acquitted & ~custody & (convictions == 0) & plea
        absolute = mandatory & (u_tier < p.absolute_discharge_probability)
        other = ~acquitted & ~custody & ~mandatory
        logit = p.rehabilitation_order_intercept + p.rehabilitation_order_per_gravity * gravity
        logit = logit + p.rehabilitation_order_per_conviction * convictions
        order = other & (u_order < 1 / (1 + np.exp(-logit)))
        first_tier = other & ~order
        # A discretionary referral order, else a discharge or a fine by their shares (one
        # uniform: the first part of it for the referral order, the rest rescaled).
        referral = first_tier & plea & (u_tier < p.repeat_referral_probability)
        rest = first_tier & ~referral
        r = p.repeat_referral_probability
        u_rest = np.where(plea, (u_tier - r) / max(1 - r, 1e-12), u_tier)
        cum = np.cumsum(p.first_tier_shares)
        tier_kind = np.array([KIND[k] for k in DISCHARGES_AND_FINES])
        kind = np.full(case_ids.size, KIND["youth_rehabilitation_order"], dtype=np.int64)
        kind[rest] = tier_kind[np.searchsorted(cum, u_rest[rest], side="right").clip(0, 2)]
        kind[referral | (mandatory & ~absolute)] = KIND["referral_order"]
        kind[absolute] = KIND["absolute_discharge"]
        kind[custody] = KIND["custody"]
        kind[acquitted] = KIND["acquittal"]
        cases.set("kind", case_ids, kind)

    def apply_disposals(self, week: int) -> None:
        """Cases whose disposal takes effect this week: record it and its consequences."""
        m, p, book = self.model, self.params, self.book
        ppl, cases, off = m.people, book.cases, m.events.offences
        is_due = cases["due_week"][book.open_cases] <= week
        if not is_due.any():
            return
        due = book.open_cases[is_due]
        book.open_cases = book.open_cases[~is_due]  # as setdiff1d (order kept), no search
        charged = due[cases["charged"][due]]
        if charged.size:
            self.sentence(charged, week)
        persons = cases["person"][due]
        kind = cases["kind"][due].astype(np.int64)
        adult = cases["adult"][due]
        detained = cases["remand"][due] == REMAND["youth_detention"]
        here = still_here(ppl.birth_week[persons], week)
        book.open_case[persons] = -1
        due, persons = due[here], persons[here]
        kind, adult, detained = kind[here], adult[here], detained[here]
        if due.size == 0:
            return
        # A remand in youth detention ends with the court's outcome: released (no index
        # event: it was not a sentence) unless sentenced to custody, below.
        ppl.custody_release_week[persons[detained & (kind != KIND["custody"])]] = np.nan
        # Offences dealt with by these cases (kept in the small list of open offences).
        open_off = book.open_offences
        # Each open offence's case's position in ``due`` (-1 if not due; case -1, none,
        # never matches).
        pos = position_in(due, off["case"][open_off])
        mine = pos >= 0
        offences = open_off[mine]
        book.open_offences = open_off[~mine]
        off_pos = pos[mine]
        off_kind = kind[off_pos]
        off.set("disposal", offences, off_kind)
        formal_kinds = is_formal(kind)
        formal_offence = is_formal(off_kind)
        off.set("proven_week", offences[formal_offence], week)
        n_off = np.bincount(off_pos, minlength=due.size)
        m.events.disposals.append(
            person=persons, week=np.full(due.size, week), kind=kind, adult=adult, offences=n_off
        )
        count_in(ppl.n_proven, off["person"][offences[formal_offence]])

        first_entry = formal_kinds & (ppl.n_formal[persons] == 0)
        ppl.first_formal_week[persons[first_entry]] = week
        m.week_counts["first_time_entrants"] += int((first_entry & ~adult).sum())
        count_in(ppl.n_formal, persons[formal_kinds])
        court = kind >= FIRST_COURT_KIND
        ppl.n_convictions[persons[court]] += 1
        cr = persons[kind == KIND["community_resolution"]]
        ppl.n_community_resolutions[cr] += 1
        ppl.diverted_week[persons[kind == KIND["diversion"]]] = week
        m.week_counts["formal_disposals"] += int((formal_kinds & ~adult).sum())
        m.week_counts["proven_offences"] += int(formal_offence.sum())

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
            u = m.streams.uniform("pathway", week, jailed, 6)
            # Time held on remand in youth detention counts towards the custodial part of
            # the sentence (the court takes it into account).
            served = cases["remand_weeks"][due[custody]].astype(np.int64)
            weeks = np.maximum(1, geometric_weeks(u, p.custody_weeks) - served)
            ppl.custody_release_week[jailed] = week + weeks
            # Children are supervised by the YOS in custody and on licence; adults are not.
            child = ~adult[custody]
            young = jailed[child]
            ppl.yos_until[young] = np.fmax(ppl.yos_until[young], week + 2 * weeks[child])
        m.week_counts["custody_starts"] += int((custody & ~adult).sum())  # youth figure
