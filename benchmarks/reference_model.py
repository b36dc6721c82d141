"""The engine's weekly rules written again the idiomatic Mesa way: one agent per young person.

Two uses (benchmarks/REFERENCE.md): a test oracle (tests/test_reference_oracle.py
compares it with the vectorised engine over many seeds) and the speed anchor
(benchmarks/reference_speed.py times both on the same scenario).

The starting state is taken from a ``YouthJusticeModel`` at week 0: its synthetic
people are copied into :class:`YoungPerson` agents and its ties into networkx
graphs. From then on every rule is this module's own per-agent code with this
model's own random numbers; nothing here calls the engine's step functions.

Scope: the baseline (no interventions) for under a year from week 0. Week 52 is
the next September (a new cohort, year groups, gang recruitment, absence renewal,
the network rebuild): none of that is written here, and :meth:`ReferenceModel.step`
refuses to run it. Everything else in ``YouthJusticeModel.step`` is: ageing out
at 21, exclusions and entry into care, YOS supervision and caseload, offending
(the hazard, offence types, co-offending, young victims), gang exits, detection,
arrest, the police decision, the court, disposals, custody and release.

Synchrony: the engine computes every hazard from the state at the start of the
week. Here agents step one at a time in a random order, so what an agent's step
does to other people (offences recorded, victims, gang exits) is held back and
settled after everyone has stepped; an agent's own exclusion or entry into care
acts on its own hazard that week, as in the engine.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import mesa
import networkx as nx
import numpy as np

from sim import calendar
from sim.calendar import WEEKS_PER_YEAR
from sim.events import FIRST_COURT_KIND, KIND, OFFENCE_TYPES, REMAND
from sim.scenario import Scenario

if TYPE_CHECKING:
    from sim.model import YouthJusticeModel

AGE_OF_RESPONSIBILITY = 10  # England and Wales: no offence can be recorded below it
ADULT_AGE = 18  # from 18 people are dealt with as adults: not YOS cases, not youth figures
EXIT_AGE = 21  # people leave the model at 21
SCHOOL_LEAVING_AGE = 16  # compulsory school age ends
TERM_WEEKS = 39  # English schools' term weeks a year (the exclusion rate is per year)
AGAINST_THE_PERSON = (OFFENCE_TYPES.index("violence"), OFFENCE_TYPES.index("robbery"))
CAUTION = KIND["youth_caution"]  # the first formal disposal
CONVICTION = FIRST_COURT_KIND  # the first sentence of the court (a conviction)
MEMORY_CUTOFF = 10  # e-folding times after which a memory term is dropped (docs/ODD.md)
# Offences found by police activity (stop and search): their detection depends on where
# police patrol and on whom officers search.
PROACTIVE = (OFFENCE_TYPES.index("drugs"), OFFENCE_TYPES.index("weapon"))

# The state copied from the engine's people arrays, one attribute per array.
COPIED = (
    "birth_week",
    "ethnic",
    "ward",
    "school",
    "deprivation",
    "low_income",
    "propensity",
    "looked_after",
    "domestic_abuse",
    "persistent_absence",
    "excluded",
    "substance_use",
    "gang",
    "ethnic",
    "victim_week",
    "last_offence_week",
    "n_offences",
    "n_proven",
    "n_formal",
    "n_convictions",
    "n_community_resolutions",
    "n_arrests",
    "custody_release_week",
    "released_week",
    "yos_until",
)


def _fading(week: int, since: float | None, memory: float) -> float:
    """exp(-(weeks since the event) / memory); 0 if it never happened or faded out.

    Memory terms are dropped after ten e-folding times (docs/ODD.md 7.1; exp(-10) < 5e-5).
    """
    if since is None or week - since > MEMORY_CUTOFF * memory:
        return 0.0
    return math.exp(-(week - since) / memory)


def _after(limit: float | None, week: int) -> bool:
    """True if ``limit`` is set and later than ``week`` (custody, supervision)."""
    return limit is not None and limit > week


@dataclass(eq=False)
class Offence:
    """One person's part in an offence (co-offenders each have their own)."""

    person: YoungPerson
    week: int
    type: int
    gravity: int
    group: int | None  # offences committed together share a group number
    detected: bool = False
    disposal: int | None = None
    proven_week: int | None = None


@dataclass(eq=False)
class Case:
    """A person's case from arrest to disposal; later arrests join it while it is open."""

    person: YoungPerson
    principal: Offence  # the most serious offence decides the disposal
    offences: list[Offence]
    adult: bool
    kind: int | None  # a disposal in KIND; None while charged and awaiting sentence
    due_week: int
    remand: int | None = None  # REMAND for a charged case once heard
    remand_weeks: int = 0  # weeks held on a remand to youth detention


class YoungPerson(mesa.Agent):
    """A young person aged 9 to 20: offends, is victimised, excluded, taken into care."""

    model: ReferenceModel

    def __init__(self, model: ReferenceModel, *, row: int, state: dict[str, Any]) -> None:
        super().__init__(model)
        self.row = row  # the person's id (their row in the engine it was copied from)
        self.male = bool(state.pop("sex") == 1)
        self.pupil_referral_unit = state.pop("pupil_referral_unit")  # school id if excluded
        self.persistent = bool(state.pop("persistent"))  # early-onset persistent trajectory
        for name in COPIED:
            setattr(self, name, state[name])
        self.open_case: Case | None = None
        self.present = True

    # -- what others can see ------------------------------------------------
    def age(self, week: int) -> float:
        return (week - self.birth_week) / WEEKS_PER_YEAR

    def in_custody(self, week: int) -> bool:
        return _after(self.custody_release_week, week)

    def supervised(self, week: int) -> bool:
        """Under YOS supervision (an order, a conditional caution, custody or licence)."""
        return _after(self.yos_until, week)

    def offended_recently(self, week: int) -> bool:
        last = self.last_offence_week
        return last is not None and last >= week - self.model.peer_window_weeks

    def active(self, week: int) -> bool:
        """Counts as an offending peer: here, at liberty and offended recently."""
        return self.present and self.offended_recently(week) and not self.in_custody(week)

    # -- the week -------------------------------------------------------------
    def step(self) -> None:
        """School, care, then perhaps an offence (what it does to others is settled later)."""
        week = self.model.week
        self.maybe_excluded(week)
        self.maybe_taken_into_care(week)
        if self.in_custody(week) or self.age(week) < AGE_OF_RESPONSIBILITY:
            return
        if self.random.random() < self.offending_probability(week):
            self.offend(week)

    def exclusion_risk(self) -> float:
        """Exclusions concentrate on pupils with adversity and offending."""
        return (
            0.5 * self.persistent_absence
            + 0.5 * self.looked_after
            + 0.5 * (self.n_offences > 0)
            + 0.3 * self.propensity
        )

    def maybe_excluded(self, week: int) -> None:
        """Permanent exclusion during term, to the pupil referral unit."""
        m = self.model
        if not m.calendar.term or self.excluded or self.school < 0 or self.in_custody(week):
            return
        if self.age(week) >= SCHOOL_LEAVING_AGE:
            return
        p = m.params.schools
        tilt = math.exp(p.exclusion_risk_tilt * self.exclusion_risk()) / m.exclusion_norm
        if self.random.random() < p.permanent_exclusion_rate / TERM_WEEKS * tilt:
            self.excluded = True
            self.school = self.pupil_referral_unit
            m.counts["exclusions"] += 1

    def maybe_taken_into_care(self, week: int) -> None:
        """Children (under 18) enter care; domestic abuse raises the rate."""
        m = self.model
        if self.looked_after or self.age(week) >= ADULT_AGE:
            return
        p = m.params.social_care
        ratio = p.care_entry_domestic_abuse_ratio if self.domestic_abuse else 1.0
        if self.random.random() < p.care_entry_rate / WEEKS_PER_YEAR * ratio:
            self.looked_after = True
            m.counts["care_entries"] += 1

    def offending_probability(self, week: int) -> float:
        """P(offend this week) = 1 - exp(-hazard); YOS supervision lowers the hazard."""
        hazard = math.exp(self.log_hazard(week))
        if self.supervised(week):
            hazard *= self.model.supervision_multiplier
        return -math.expm1(-hazard)

    def log_hazard(self, week: int) -> float:
        """log(base x age curve x season) + risk factors + peers + history + propensity."""
        b, m = self.model.params.behaviour, self.model
        age = math.floor(week - self.birth_week) / WEEKS_PER_YEAR  # whole weeks (docs/ODD.md)
        peak = b.peak_age_male if self.male else b.peak_age_female
        if self.persistent:  # early onset, slow desistance, a higher level
            rise, fall, level = (
                b.persistent_rise_width,
                b.persistent_fall_width,
                b.persistent_rate_ratio,
            )
        else:
            rise, fall, level = b.rise_width, b.fall_width, 1.0
        width = rise if age < peak else fall
        sex = level * (1.0 if self.male else b.female_rate_ratio)
        lh = math.log(b.base_weekly_rate * m.season_factor * sex)
        lh -= 0.5 * ((age - peak) / width) ** 2
        lh += b.coef_deprivation * self.deprivation
        lh += b.coef_low_income * self.low_income
        lh += b.coef_looked_after * self.looked_after
        lh += b.coef_domestic_abuse * self.domestic_abuse
        lh += b.coef_persistent_absence * self.persistent_absence
        lh += b.coef_excluded * self.excluded
        lh += b.coef_substance_use * self.substance_use
        lh += b.coef_victim * _fading(week, self.victim_week, b.victim_memory_weeks)
        lh += b.coef_peer * self.peer_exposure(week)
        lh += b.coef_gang * (self.gang >= 0)
        lh += b.coef_label * (self.n_formal > 0)
        lh += b.coef_prior * math.log1p(self.n_offences)
        lh += b.coef_recent * _fading(week, self.last_offence_week, b.recent_memory_weeks)
        lh += b.coef_post_release * _fading(week, self.released_week, b.release_memory_weeks)
        return lh + self.propensity

    def peer_exposure(self, week: int) -> float:
        """Weighted share, layer by layer, of ties who offended recently and are at liberty.

        Ties to people who have left stay until September (the yearly rebuild):
        they count in the share's denominator but are never active.
        """
        m = self.model
        exposure = 0.0
        for graph, weight in m.peer_layers:
            exposure += weight * self._share_active(graph, week, gang_only=False)
        if self.gang >= 0:
            exposure += m.params.network.weight_gang * self._share_active(
                m.gang_ties, week, gang_only=True
            )
        return exposure

    def _share_active(self, graph: nx.MultiGraph, week: int, *, gang_only: bool) -> float:
        """Share of this person's ties in ``graph`` to active people (0 without ties);
        a pair tied twice counts twice. ``gang_only``: only those still in a gang count."""
        ties = active = 0
        for j, both in graph[self.row].items():
            ties += len(both)
            other = self.model.person[j]
            if other.active(week) and (other.gang >= 0 or not gang_only):
                active += len(both)
        return active / ties if ties else 0.0

    def offend(self, week: int) -> None:
        """An offence, perhaps with a co-offender who takes part in it too."""
        m, b = self.model, self.model.params.behaviour
        kind = self.random.choices(range(len(OFFENCE_TYPES)), weights=m.offence_mix(self))[0]
        partner = None
        share = b.co_offending_share_at_14 + b.co_offending_change_per_year * (self.age(week) - 14)
        if self.random.random() < share:
            partner = self.find_co_offender(week)
        group = m.new_group() if partner is not None else None
        self.commit(kind, group, week)
        if partner is not None:
            partner.commit(kind, group, week)

    def find_co_offender(self, week: int) -> YoungPerson | None:
        """Up to three random friends, siblings or fellow gang members are asked in turn:
        one who offends already joins, another with a chance; if none says yes, the
        first one able to (here, at liberty, 10 or over) goes along."""
        m = self.model
        ties = [j for layer in m.close_tie_layers for j in layer[self.row]]
        if not ties:
            return None
        first_able = None
        for _ in range(3):
            other = m.person[self.random.choice(ties)]
            able = other is not self and other.present and not other.in_custody(week)
            able = able and other.age(week) >= AGE_OF_RESPONSIBILITY
            accept = (
                1.0
                if other.offended_recently(week)
                else m.params.behaviour.co_offender_inactive_acceptance
            )
            says_yes = self.random.random() < accept
            if not able:
                continue
            if says_yes:
                return other
            first_able = first_able or other
        return first_able

    def commit(self, kind: int, group: int | None, week: int) -> None:
        """Record this person's part in an offence, and its young victim if any."""
        m = self.model
        offence = Offence(self, week, kind, m.params.behaviour.gravity[kind], group)
        m.offences_this_week.append(offence)
        if (
            kind in AGAINST_THE_PERSON
            and self.random.random() < m.params.behaviour.young_victim_share
        ):
            ties = [j for layer in m.acquaintance_layers for j in layer[self.row]]
            if ties:
                victim = m.person[self.random.choice(ties)]
                if victim.present:
                    m.victims_this_week.append(victim)

    def maybe_leave_gang(self) -> None:
        """Members drift out of gangs."""
        if self.random.random() < self.model.params.gangs.exit_rate / WEEKS_PER_YEAR:
            self.gang = -1

    def leave(self) -> None:
        """At 21: out of the model, and out of custody, supervision and gangs."""
        self.present = False
        self.custody_release_week = self.yos_until = None
        self.gang = -1
        self.remove()


class Police(mesa.Agent):
    """Detects this week's offences, then arrests and decides on each case due."""

    model: ReferenceModel

    def __init__(self, model: ReferenceModel) -> None:
        super().__init__(model)
        self.pending: list[tuple[int, Offence]] = []  # (arrest week, offence)

    def step(self) -> None:
        self.detect(self.model.offences_this_week, self.model.week)
        self.arrest(self.model.week)

    def detect(self, offences: list[Offence], week: int) -> None:
        """Detection by type; co-offenders of a detected offence are often found too."""
        j = self.model.params.justice
        for o in offences:
            p = j.detection_probability[o.type] * j.detection_scale
            if o.person.n_formal > 0:  # known to the police: a caution or conviction
                # what searches find carries that attention only in part
                weight = j.known_offender_search_weight if o.type in PROACTIVE else 1.0
                p *= j.known_offender_detection_ratio**weight
            if o.type in PROACTIVE:  # how much the force searches, where, and whom
                p *= (
                    j.proactive_policing_ratio
                    * self.model.patrol[o.person.ward]
                    * j.search_decision_by_group[o.person.ethnic]
                )
            o.detected = self.random.random() < min(p, 0.95)
        caught = {o.group for o in offences if o.detected and o.group is not None}
        for o in offences:
            if not o.detected and o.group in caught:
                o.detected = self.random.random() < j.group_detection_probability
        for o in offences:
            if o.detected:
                lag = self.model.geometric(j.arrest_lag_weeks)
                self.pending.append((week + lag, o))
                self.model.counts["detected"] += 1

    def arrest(self, week: int) -> None:
        """Everyone whose arrest is due: join an open case, or open one and decide it."""
        due = [o for w, o in self.pending if w <= week]
        self.pending = [(w, o) for w, o in self.pending if w > week]
        new_cases: dict[YoungPerson, list[Offence]] = defaultdict(list)
        for o in due:
            if not o.person.present:
                continue  # aged out before the arrest
            if o.person.open_case is not None:
                o.person.open_case.offences.append(o)
            else:
                new_cases[o.person].append(o)
        for person, offences in new_cases.items():
            self.decide(person, offences, week)

    def decide(self, person: YoungPerson, offences: list[Offence], week: int) -> None:
        """No further action, community resolution, (conditional) caution, or charge."""
        m, j = self.model, self.model.params.justice
        principal = max(offences, key=lambda o: o.gravity)
        gravity = principal.gravity
        first_time = person.n_formal == 0
        person.n_arrests += 1
        m.arrests.append((person.row, week))
        m.counts["arrests"] += 1
        draw = self.random.random
        kind: int | None = None  # charged unless decided below
        if draw() < j.no_further_action_probability:
            kind = KIND["nfa"]
        else:
            # The gravity matrix: the score moves by one for mitigating or aggravating
            # factors; previous disposals make an out-of-court disposal less likely.
            u = draw()
            score = gravity - (u < j.gravity_mitigated_share)
            score += u >= 1 - j.gravity_aggravated_share
            previous = person.n_formal + person.n_community_resolutions
            odds = j.out_of_court_repeat_odds
            if (
                score <= j.community_resolution_max_gravity
                and person.n_community_resolutions < j.max_community_resolutions
                and draw() < j.community_resolution_probability * odds**previous
            ):
                kind = KIND["community_resolution"]
            elif first_time and score <= j.caution_max_gravity:
                conditional = (
                    score >= j.conditional_caution_min_gravity
                    and draw() < j.conditional_caution_probability
                )
                kind = KIND["youth_conditional_caution" if conditional else "youth_caution"]
            elif (
                not first_time
                and score <= j.repeat_caution_max_gravity
                and draw() < j.repeat_caution_probability * odds ** (previous - 1)
            ):
                conditional = draw() < j.repeat_conditional_caution_probability
                kind = KIND["youth_conditional_caution" if conditional else "youth_caution"]
            # Kept out of court with the group's chance (White 1); otherwise charged.
            if kind is not None and draw() >= j.out_of_court_chance_by_group[person.ethnic]:
                kind = None
        if kind is None:
            lag = j.court_lag_weeks
        elif kind == KIND["nfa"]:
            lag = 0
        else:
            lag = j.out_of_court_lag_weeks
        adult = person.age(week) >= ADULT_AGE
        case = Case(person, principal, list(offences), adult, kind, week + lag)
        person.open_case = case
        m.open_cases.append(case)
        if j.clear_up_probability > 0:  # the person's other recent undetected offences
            for o in self.recent_undetected(person, week):
                if draw() < j.clear_up_probability:
                    o.detected = True
                    case.offences.append(o)

    def recent_undetected(self, person: YoungPerson, week: int) -> list[Offence]:
        """The person's undetected offences of the last ``clear_up_weeks``, in log order."""
        m, since = self.model, week - self.model.params.justice.clear_up_weeks
        recent = []
        for o in reversed(m.offences):  # the log is in week order: stop at the window
            if o.week < since:
                break
            recent.append(o)
        recent.reverse()
        recent += m.offences_this_week
        return [o for o in recent if o.person is person and not o.detected]


class YouthCourt(mesa.Agent):
    """Hears new charges (remand), then acquits or sentences charged cases and puts every
    disposal that is due into effect."""

    model: ReferenceModel

    def step(self) -> None:
        m, week = self.model, self.model.week
        for case in m.open_cases:
            if case.kind is None and case.remand is None:
                self.remand(case, week)
        due = [c for c in m.open_cases if c.due_week <= week]
        m.open_cases = [c for c in m.open_cases if c.due_week > week]
        for case in due:
            if case.kind is None:
                case.kind = self.sentence(case)
            self.dispose(case, week)

    def remand(self, case: Case, week: int) -> None:
        """Bail, a remand to the community, or to youth detention (in custody until bail on
        review or the court's outcome), likelier for serious and persistent cases and by
        group."""
        m, j, person = self.model, self.model.params.justice, case.person
        case.remand = REMAND["bail"]
        if person.in_custody(week):
            return
        logit = (
            j.remand_detention_intercept
            + j.remand_detention_per_gravity * case.principal.gravity
            + j.remand_detention_per_conviction * person.n_convictions
            + math.log(j.remand_detention_odds_ratio[person.ethnic])
        )
        if self.random.random() < 1 / (1 + math.exp(-logit)):
            case.remand = REMAND["youth_detention"]
            # Held until bail on review or the court's outcome, whichever comes first.
            held = max(1, m.geometric(j.remand_detention_weeks))
            case.remand_weeks = min(week + held, case.due_week) - week
            person.custody_release_week = week + case.remand_weeks
            if not case.adult:
                m.remands_to_detention += 1
        elif self.random.random() < j.community_remand_probability:
            case.remand = REMAND["community_remand"]
        else:
            return
        if not case.adult:  # children on remand are supervised by the YOS
            until = case.due_week
            person.yos_until = until if person.yos_until is None else max(person.yos_until, until)

    def sentence(self, case: Case) -> int:
        """Acquittal; custody for serious or persistent offending; the mandatory referral
        order for a first conviction on a guilty plea (or an absolute discharge); a youth
        rehabilitation order; else a discretionary referral order, a discharge or a fine."""
        j, draw = self.model.params.justice, self.random.random
        convictions = case.person.n_convictions
        gravity = case.principal.gravity
        detained = case.remand == REMAND["youth_detention"]
        acquittal = (
            j.remand_detention_acquittal_probability if detained else j.acquittal_probability
        )
        if draw() < acquittal:
            return KIND["acquittal"]
        logit = (
            j.custody_intercept
            + j.custody_per_gravity * gravity
            + j.custody_per_conviction * convictions
        )
        if draw() < 1 / (1 + math.exp(-logit)):
            return KIND["custody"]
        plea = draw() < j.guilty_plea_probability
        if convictions == 0 and plea:
            absolute = draw() < j.absolute_discharge_probability
            return KIND["absolute_discharge" if absolute else "referral_order"]
        logit = (
            j.rehabilitation_order_intercept
            + j.rehabilitation_order_per_gravity * gravity
            + j.rehabilitation_order_per_conviction * convictions
        )
        if draw() < 1 / (1 + math.exp(-logit)):
            return KIND["youth_rehabilitation_order"]
        if plea and draw() < j.repeat_referral_probability:
            return KIND["referral_order"]
        kinds = ("absolute_discharge", "conditional_discharge", "fine")
        return KIND[self.random.choices(kinds, weights=j.first_tier_shares)[0]]

    def dispose(self, case: Case, week: int) -> None:
        """The disposal takes effect: records, YOS supervision, custody."""
        m, j, person, kind = self.model, self.model.params.justice, case.person, case.kind
        person.open_case = None
        if not person.present:
            return
        detained = case.remand == REMAND["youth_detention"]
        if detained and kind != KIND["custody"]:
            person.custody_release_week = None  # out of remand: not a release from a sentence
        formal = kind >= CAUTION
        for o in case.offences:
            o.disposal = kind
            if formal:
                o.proven_week = week
                person.n_proven += 1
        m.disposals.append((person.row, week, kind, case.adult))
        if formal:
            if person.n_formal == 0 and not case.adult:
                m.counts["first_time_entrants"] += 1
            person.n_formal += 1
        if kind >= CONVICTION:
            person.n_convictions += 1
        if kind == KIND["community_resolution"]:
            person.n_community_resolutions += 1
        supervision = {
            KIND["youth_conditional_caution"]: j.conditional_caution_weeks,
            KIND["referral_order"]: j.referral_order_weeks,
            KIND["youth_rehabilitation_order"]: j.rehabilitation_order_weeks,
        }.get(kind, 0)
        if kind == KIND["custody"]:
            # Time held on remand in youth detention counts towards it.
            served = case.remand_weeks
            weeks = max(1, m.geometric(j.custody_weeks) - served)
            person.custody_release_week = week + weeks
            m.release_diary[week + weeks].append(person)
            supervision = 2 * weeks  # a detention and training order: half inside, half licence
        if supervision and not case.adult:  # adults are not YOS cases
            until = week + supervision
            person.yos_until = until if person.yos_until is None else max(person.yos_until, until)


class YouthOffendingService(mesa.Agent):
    """Supervision lowers the hazard, less so when overloaded; releases from custody."""

    model: ReferenceModel

    def before_offending(self) -> None:
        m, p, week = self.model, self.model.params.yos, self.model.week
        m.yos_caseload = sum(1 for a in m.young_people if a.supervised(week))
        capacity = p.case_managers * p.cases_per_manager
        share_well_served = 1.0 if m.yos_caseload <= capacity else capacity / m.yos_caseload
        effectiveness = p.assessment_quality * share_well_served
        m.supervision_multiplier = math.exp(-p.supervision_effect * effectiveness)

    def step(self) -> None:
        """Those whose custody ends this week are released."""
        m, week = self.model, self.model.week
        for person in m.release_diary.pop(week, []):
            if person.present and person.custody_release_week == week:
                person.released_week = week


@dataclass
class _Graphs:
    """The ties copied from the engine, one networkx graph per layer."""

    school: nx.MultiGraph
    neighbourhood: nx.MultiGraph
    friendship: nx.MultiGraph
    siblings: nx.MultiGraph
    gang: nx.MultiGraph


class ReferenceModel(mesa.Model):
    """The borough's young people as one Mesa agent each, started from an engine at week 0.

    Args (keyword-only):
        engine: a ``YouthJusticeModel`` that has not stepped (its people and ties are copied).
        rng: this model's seed (Mesa's ``rng=``): its draws are its own.
        params: the rules' parameters (default: the engine's scenario); a test may pass
            altered ones to check that the oracle notices.
        snapshot: copy the people of an engine that has stepped, at its current week,
            without its cases in progress: for person-by-person checks of the hazard
            (:meth:`begin_week`, then each agent's ``log_hazard``); such a model cannot step.
    """

    def __init__(
        self,
        *,
        engine: YouthJusticeModel,
        rng: int | None = None,
        params: Scenario | None = None,
        snapshot: bool = False,
    ) -> None:
        super().__init__(rng=rng)
        if engine.week != 0 and not snapshot:
            raise ValueError("the reference starts from an engine at week 0")
        self.snapshot = snapshot
        self.params = params or engine.params
        self.peer_window_weeks = self.params.behaviour.peer_window_weeks
        if any(p.enabled for p in self.params.interventions.values()):
            raise ValueError("the reference model has the baseline rules only (no interventions)")
        self.week = engine.week
        self.calendar = calendar.week(self.week)
        ppl = engine.people
        self.person: dict[int, YoungPerson] = {}
        for i in range(ppl.n):  # those who left (rows below lo) are kept: their ties remain
            state = {name: _python(getattr(ppl, name)[i]) for name in (*COPIED, "sex")}
            state["pupil_referral_unit"] = _pupil_referral_unit(ppl, i)
            state["persistent"] = int(engine.offending.trajectory[i]) == 1
            self.person[i] = YoungPerson(self, row=i, state=state)
            if i < ppl.lo:
                self.person[i].leave()
        self.young_people = self.agents_by_type[YoungPerson]
        # The exclusion risk tilt is normalised once a school year (at week 0 here)
        # so the mean rate stays the sourced one.
        tilt = self.params.schools.exclusion_risk_tilt
        weights = [math.exp(tilt * a.exclusion_risk()) for a in self.young_people]
        self.exclusion_norm = max(sum(weights) / max(len(weights), 1), 1e-12)
        self.graphs = self._copy_ties(engine)
        # Proactive policing by ward: exp(gradient x deprivation), averaging 1 over wards.
        gradient = self.params.justice.patrol_deprivation_gradient
        weights = [math.exp(gradient * d) for d in engine.geography.ward_deprivation]
        self.patrol = [w * len(weights) / sum(weights) for w in weights]
        # A co-offender is one of a person's close ties, a young victim one of their
        # acquaintances: a tie picked uniformly among all their ties in those layers.
        self.close_tie_layers = (self.graphs.friendship, self.graphs.siblings, self.graphs.gang)
        self.acquaintance_layers = (self.graphs.school, self.graphs.neighbourhood)
        self.gang_ties = self.graphs.gang

        self.police = Police(self)
        self.court = YouthCourt(self)
        self.yos = YouthOffendingService(self)
        self.open_cases: list[Case] = []
        self.release_diary: dict[int, list[YoungPerson]] = defaultdict(list)
        self.offences: list[Offence] = []
        self.offences_this_week: list[Offence] = []
        self.victims_this_week: list[YoungPerson] = []
        self.victimisations: list[tuple[int, int]] = []  # (person, week)
        self.arrests: list[tuple[int, int]] = []  # (person, week)
        self.disposals: list[tuple[int, int, int, bool]] = []  # (person, week, kind, adult)
        self.counts: Counter[str] = Counter()
        self.remands_to_detention = 0  # children's charged cases remanded to youth detention
        self.yos_caseload = 0
        self.supervision_multiplier = 1.0
        self.season_factor = 1.0
        self.peer_layers: list[tuple[nx.MultiGraph, float]] = []
        self._groups = 0
        self.datacollector = mesa.DataCollector(
            model_reporters={
                "week": "week",
                "offences": lambda m: len(m.offences_this_week),
                "detected": lambda m: m.counts["detected"],
                "arrests": lambda m: m.counts["arrests"],
                "exclusions": lambda m: m.counts["exclusions"],
                "care_entries": lambda m: m.counts["care_entries"],
                "yos_caseload": "yos_caseload",
                "gang_members": lambda m: sum(a.gang >= 0 for a in m.young_people),
            }
        )

    @staticmethod
    def _copy_ties(engine: YouthJusticeModel) -> _Graphs:
        """One graph per layer over everyone; school ties only between pupils (under 16
        at the start of the school year)."""
        ppl, edges = engine.people, engine.network.edges
        rows = range(ppl.n)
        september = engine.week - engine.week % WEEKS_PER_YEAR
        school_age = {
            i for i in rows if (september - ppl.birth_week[i]) / WEEKS_PER_YEAR < SCHOOL_LEAVING_AGE
        }

        def graph(pairs: np.ndarray) -> nx.MultiGraph:
            g = nx.MultiGraph()  # the generators can draw a pair twice: it counts twice
            g.add_nodes_from(rows)
            g.add_edges_from((int(a), int(b)) for a, b in pairs)
            return g

        school = [(a, b) for a, b in edges["school"] if a in school_age and b in school_age]
        return _Graphs(
            school=graph(np.asarray(school).reshape(-1, 2)),
            neighbourhood=graph(edges["neighbourhood"]),
            friendship=graph(edges["friendship"]),
            siblings=graph(edges["siblings"]),
            gang=graph(edges["gang"]),
        )

    # -- helpers the agents use ------------------------------------------------
    def offence_mix(self, person: YoungPerson) -> list[float]:
        """Shares of each offence type; gang members' lean to drugs, robbery and weapons."""
        b = self.params.behaviour
        if person.gang >= 0:
            return [s * f for s, f in zip(b.offence_mix, b.gang_mix_factor, strict=True)]
        return list(b.offence_mix)

    def new_group(self) -> int:
        self._groups += 1
        return self._groups

    def geometric(self, mean: float) -> int:
        """Whole weeks of delay with the given mean (failures before a success)."""
        if mean <= 0:
            return 0
        return int(self.rng.geometric(1 / (1 + mean))) - 1

    # -- the week ----------------------------------------------------------------
    def step(self) -> None:
        """One week, in the engine's order (see ``YouthJusticeModel.step``)."""
        week = self.week
        if week >= WEEKS_PER_YEAR:
            raise RuntimeError("September (week 52) is not written in the reference model")
        if self.snapshot:
            raise RuntimeError("a snapshot has no cases in progress: it is for checks, not runs")
        self.begin_week()
        self.offences_this_week, self.victims_this_week = [], []
        self.young_people.shuffle_do("step")
        self._settle_offences(week)
        self.young_people.select(lambda a: a.gang >= 0).do("maybe_leave_gang")

        self.police.step()
        self.court.step()
        self.yos.step()
        self.datacollector.collect(self)
        self.week += 1

    def begin_week(self) -> None:
        """Before anyone acts: the calendar, leaving at 21, the week's factors, YOS load."""
        week = self.week
        self.calendar = calendar.week(week)
        self.counts = Counter()
        for person in self.young_people.select(lambda a: a.age(week) >= EXIT_AGE):
            person.leave()
        self._set_week_factors()
        self.yos.before_offending()

    def _set_week_factors(self) -> None:
        """The season's factor, and what each peer layer weighs (term or holiday)."""
        b, n, w = self.params.behaviour, self.params.network, self.calendar
        self.season_factor = {0: b.winter_factor, 2: b.summer_factor}.get(w.season, 1.0)
        g = self.graphs
        if w.term:
            layers = [
                (g.school, n.weight_school),
                (g.neighbourhood, n.weight_neighbourhood),
                (g.friendship, n.weight_friendship),
                (g.siblings, n.weight_siblings),
            ]
        else:
            layers = [
                (g.neighbourhood, n.weight_neighbourhood * n.holiday_neighbourhood_factor),
                (g.friendship, n.weight_friendship),
                (g.siblings, n.weight_siblings),
            ]
        self.peer_layers = [(graph, weight) for graph, weight in layers if weight > 0]

    def _settle_offences(self, week: int) -> None:
        """What this week's offences did to people, once everyone has stepped."""
        for o in self.offences_this_week:
            o.person.n_offences += 1
            o.person.last_offence_week = week
        for victim in self.victims_this_week:
            victim.victim_week = week
            self.victimisations.append((victim.row, week))
        self.offences.extend(self.offences_this_week)

    def run(self, weeks: int) -> None:
        for _ in range(weeks):
            self.step()


def _pupil_referral_unit(people: Any, row: int) -> int:
    """School id of the pupil referral unit of this person's borough."""
    return int(people.pru_of(np.array([row]))[0])


def _python(value: Any) -> Any:
    """A numpy scalar as a plain Python value; NaN (never) as None."""
    value = value.item()
    if isinstance(value, float) and math.isnan(value):
        return None
    return value
