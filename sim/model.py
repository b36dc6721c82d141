"""``YouthJusticeModel``: a borough's young people and the agencies around them, week by week.

Mesa is the face: the model, the agencies as agents, a DataCollector, and young
people as agent views on demand. Underneath, people are rows of numpy arrays
(:mod:`sim.population`) and each part of the world is a concern with its own
parameters, state and weekly step (:mod:`sim.concern`):

=====================  =================================================
``offending``          the offending hazard, offences, co-offending, victims (sim/behaviour.py)
``gangs``              recruitment each September, exits every week (sim/gangs.py)
``schools``            exclusions and persistent absence (sim/schools.py)
``social_care``        entry into care (sim/social_care.py)
``yos``                supervision and releases from custody (sim/yos.py)
``police``, ``court``  detection, arrest, the decision, sentences (sim/justice.py)
``interventions``      the scenario's policies (sim/interventions/)
=====================  =================================================

The week's order is declared once, in :attr:`YouthJusticeModel.week_plan`. The model
takes a :class:`~sim.scenario.Scenario`; callers read files (``load_scenario``). No
viz imports here.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable

import mesa
import numpy as np

from sim import calendar
from sim.behaviour import Offending
from sim.calendar import WEEKS_PER_YEAR
from sim.events import EventLog
from sim.gangs import Gangs
from sim.interventions import Interventions
from sim.justice import Police, YouthCourt
from sim.network import Network
from sim.people_view import YoungPerson
from sim.population import ADULT_AGE, AGE_OF_RESPONSIBILITY, EXIT_AGE, add_cohort, build_population
from sim.rng import Streams
from sim.scenario import Scenario
from sim.schools import Schools
from sim.social_care import SocialCare
from sim.tally import Tally
from sim.yos import YouthOffendingService

FOLLOW_UP_WEEKS = 79  # 12 months to offend + 6 months to be proven = 548 days, in whole weeks

WEEKLY_COUNTS = (
    "offences",
    "detected",
    "arrests",
    "diverted",
    "proven_offences",
    "formal_disposals",
    "first_time_entrants",
    "custody_starts",
    "exclusions",
    "care_entries",
)


class YouthJusticeModel(mesa.Model):
    """A borough's young people, week by week.

    Args (keyword-only, as SolaraViz resets call them):
        scenario: a :class:`Scenario` (read files with :func:`sim.scenario.load_scenario`),
            or None for the defaults.
        seed: the run's seed (defaults to the scenario's ``run.seed``).
        rng: accepted for Mesa compatibility; an integer is used as the seed.
    """

    def __init__(
        self,
        *,
        scenario: Scenario | None = None,
        seed: int | None = None,
        rng: int | None = None,
    ) -> None:
        if scenario is None:
            scenario = Scenario(name="defaults")
        elif not isinstance(scenario, Scenario):
            raise TypeError(
                f"scenario must be a Scenario (read files with sim.scenario.load_scenario), "
                f"got {type(scenario).__name__}"
            )
        if seed is None:
            seed = rng if isinstance(rng, int | np.integer) else scenario.run.seed
        seed = int(seed)
        super().__init__(rng=seed)
        self.params = scenario
        self.seed = seed
        self.streams = Streams(seed)
        run = scenario.run
        self.burn_in_weeks = run.burn_in_years * WEEKS_PER_YEAR
        self.measured_weeks = run.years * WEEKS_PER_YEAR
        self.total_weeks = self.burn_in_weeks + self.measured_weeks + FOLLOW_UP_WEEKS
        self.week = 0
        self.calendar = calendar.week(0)
        self.week_counts: Counter[str] = Counter()  # this week's events (DataCollector)
        self.released = False  # True once release_weekly_state() has run: no more weeks
        self.events = EventLog()

        # The world: people, places, ties, gangs.
        capacity_years = self.total_weeks // WEEKS_PER_YEAR + 1
        self.people = build_population(
            scenario.population, capacity_years, self.streams["population"]
        )
        self.geography = self.people.geography
        self.network = Network(scenario.network, self.people)
        self.network.build_initial(0, self.streams["network"])
        self.gangs = Gangs(self, scenario.gangs)
        self.gangs.form()
        self.network.rebuild_gangs(self.streams["network"])

        # What people do, and the agencies (Mesa agents) around them.
        self.offending = Offending(self, scenario.behaviour)
        self.schools = Schools(self, scenario.schools)
        self.social_care = SocialCare(self, scenario.social_care)
        self.yos = YouthOffendingService(self, scenario.yos)
        self.police = Police(self, scenario.justice)
        self.court = YouthCourt(self, scenario.justice, self.police.book)
        self.interventions = Interventions(self, scenario.interventions)
        self.tally = Tally(self.geography.n_boroughs)
        self._views: dict[int, YoungPerson] = {}

        # The week, in order (never shuffled): what happens, and who does it.
        self.week_plan: tuple[Callable[[], None], ...] = (
            self.start_week,  # the calendar turns; in September, the new school year
            self.age_out,  # those who turn 21 leave
            self.reset_multipliers,  # last week's programme effects end
            self.schools.step,  # exclusions in term
            self.social_care.step,  # children enter care
            self.yos.supervise,  # supervision lowers hazards
            self.interventions_act,  # programmes change hazards, detection, risks
            self.offending.step,  # offences, co-offences, young victims
            self.gangs.step,  # members drift out of gangs
            self.police.step,  # detection; arrests and the decision (diversion hook)
            self.court.step,  # sentences; every disposal due takes effect
            self.yos.step,  # releases from custody
            self.interventions_review,  # programmes' caseloads, reach and costs
            self.record_week,  # totals, person-weeks, the DataCollector
        )
        self.datacollector = mesa.DataCollector(
            model_reporters={
                "week": "week",
                **{name: (lambda m, k=name: m.week_counts[k]) for name in WEEKLY_COUNTS},
                "yos_caseload": lambda m: m.yos.caseload,
                "custody_population": lambda m: int(m.people.in_custody(m.week).sum()),
                "population_10_17": lambda m: m.population_10_17,
                "gang_members": lambda m: int((m.people.gang[m.people.live] >= 0).sum()),
                "term": lambda m: m.calendar.term,
            }
        )

    # -- the week ---------------------------------------------------------------
    def step(self) -> None:
        """One week: each act of :attr:`week_plan`, in order."""
        if self.released:
            raise RuntimeError("this model's weekly state was released after its run")
        for act in self.week_plan:
            act()
        self.week += 1

    def start_week(self) -> None:
        """The calendar turns; in September: the new cohort, year groups, gangs, ties."""
        self.calendar = calendar.week(self.week)
        self.week_counts = Counter()
        if not self.calendar.new_school_year:
            return
        rows = add_cohort(self.people, self.params.population, self.streams["entry"], self.week)
        self.offending.enter(rows)
        self.schools.new_school_year()
        # Recruitment reads last year's ties (the entrants, aged 9, have none yet).
        self.gangs.recruit()
        self.network.add_people(rows, self.week, self.streams["network"])
        self.network.rebuild_gangs(self.streams["network"])

    def age_out(self) -> None:
        """Advance the live window past everyone aged 21 (rows are in birth order)."""
        ppl = self.people
        limit = self.week - EXIT_AGE * WEEKS_PER_YEAR
        lo = ppl.lo + int(np.searchsorted(ppl.birth_week[ppl.lo : ppl.n], limit, side="right"))
        if lo > ppl.lo:
            gone = slice(ppl.lo, lo)
            ppl.custody_release_week[gone] = np.nan
            ppl.yos_until[gone] = np.nan
            ppl.gang[gone] = -1
            ppl.lo = lo

    def reset_multipliers(self) -> None:
        """Programme multipliers of hazards, detection and domestic-abuse risk back to 1."""
        self.offending.reset_multipliers()
        self.police.reset_multipliers()

    def interventions_act(self) -> None:
        """Each intervention's ``before_offending`` hook."""
        self.interventions.before_offending(self.week)

    def interventions_review(self) -> None:
        """Each intervention's ``end_of_week`` hook."""
        self.interventions.end_of_week(self.week)

    def record_week(self) -> None:
        """Totals and person-weeks at risk (measured years only); the DataCollector row."""
        if self.measuring:
            self.tally.record(self)
        self.datacollector.collect(self)

    # -- state read by reporters, views and the runner ---------------------------
    @property
    def measuring(self) -> bool:
        """True during the measured years (after burn-in, before the follow-up tail)."""
        return self.burn_in_weeks <= self.week < self.burn_in_weeks + self.measured_weeks

    @property
    def population_10_17(self) -> int:
        at_18, at_10 = self.people.rows_aged(
            self.week, np.array([ADULT_AGE, AGE_OF_RESPONSIBILITY])
        )
        return int(at_10 - at_18)

    def run(
        self,
        progress: bool = False,
        after_year: Callable[[YouthJusticeModel], None] | None = None,
        until: int | None = None,
    ) -> None:
        """Run from this week to the scenario's end (burn-in, measured years, follow-up),
        or to the start of week ``until``.

        ``after_year`` is called after each 52nd week; it may raise to stop the run
        (the calibration stops runs whose offending runs away).
        """
        end = self.total_weeks if until is None else min(int(until), self.total_weeks)
        weeks = range(self.week, end)
        if progress:
            from tqdm import tqdm

            weeks = tqdm(weeks, desc=self.params.name, unit="week", leave=False)
        for week in weeks:
            self.step()
            if after_year is not None and (week + 1) % WEEKS_PER_YEAR == 0:
                after_year(self)

    def release_weekly_state(self) -> None:
        """Free what only the weekly step reads, once the run is over: the network (edge
        lists and the layers' matrices) and the offending hazard's per-row working arrays.

        The summary and the series read the people, the event log, the tallies, the
        police's case book and the interventions' counts, none of these. For London at
        year 19 this is about a gigabyte given back before the summary's own peak
        (benchmarks/README.md). The model cannot step afterwards.
        """
        del self.network
        self.offending.release_working_arrays()
        self.released = True

    def young_person(self, person: int) -> YoungPerson:
        """A Mesa agent view of one young person (created on demand, then cached)."""
        view = self._views.get(person)
        if view is None:
            if not (0 <= person < self.people.n):
                raise IndexError(f"no person {person}")
            view = YoungPerson(self, person)
            self._views[person] = view
        return view

    def young_people(self, ids) -> mesa.agent.AgentSet:
        """Agent views of several young people, as a Mesa AgentSet."""
        return mesa.agent.AgentSet([self.young_person(int(i)) for i in ids], random=self.random)
