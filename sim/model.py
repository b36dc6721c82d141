"""``YouthJusticeModel``: the Mesa model that owns the arrays, agencies and interventions.

Mesa is the face: the model, the agencies as agents, a DataCollector, and
young people as agent views on demand. The weekly step is a fixed sequence
of vectorised operations (written down in :meth:`YouthJusticeModel.step`).
No viz imports here.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from pathlib import Path

import mesa
import numpy as np

from sim import behaviour, calendar
from sim.agencies import Police, Schools, SocialCare, YouthCourt, YouthOffendingService
from sim.calendar import WEEKS_PER_YEAR
from sim.events import EventLog, Table
from sim.interventions import Interventions
from sim.network import Network
from sim.people_view import YoungPerson
from sim.population import AGE_OF_RESPONSIBILITY, EXIT_AGE, add_cohort, build_population
from sim.rng import Streams
from sim.scenario import Scenario, load_scenario

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
        scenario: a :class:`Scenario`, a path to a scenario file, or None for defaults.
        seed: the run's seed (defaults to the scenario's ``run.seed``).
        rng: accepted for Mesa compatibility; an integer is used as the seed.
    """

    def __init__(
        self,
        *,
        scenario: Scenario | str | Path | None = None,
        seed: int | None = None,
        rng: int | None = None,
    ) -> None:
        if scenario is None:
            scenario = Scenario(name="defaults")
        elif not isinstance(scenario, Scenario):
            scenario = load_scenario(scenario)
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

        capacity_years = self.total_weeks // WEEKS_PER_YEAR + 1
        self.people = build_population(
            scenario.population, capacity_years, self.streams["population"]
        )
        self.geography = self.people.geography
        self.ward_deprivation = self.geography.ward_deprivation
        self.ward_school = self.geography.ward_school
        self.network = Network(scenario.network, self.people)
        self.network.build_initial(0, self.streams["network"])
        behaviour.initial_gangs(self)
        self.network.rebuild_gangs(self.streams["network"])

        cap = self.people.capacity
        self.log_age_table = behaviour.log_age_table(scenario.behaviour)
        self.season_log_age_tables = behaviour.season_log_age_tables(
            self.log_age_table, scenario.behaviour
        )
        self.age_table_offset = np.zeros(cap, dtype=np.int64)  # row in the flat table - week
        self.static_log_risk = np.zeros(cap)
        # Static and risk-flag part of the log hazard, cached per row (behaviour.py).
        self.risk_flag_log_risk = np.zeros(cap)
        self.risk_flag_seen = behaviour.new_risk_flag_cache(self)
        # Scratch for the weekly passes over the live window (no fresh allocations).
        self.scratch_float = np.empty(cap)
        self.scratch_int = np.empty(cap, dtype=np.int64)
        behaviour.static_log_risk(self, slice(0, self.people.n))
        self.hazard_multiplier = np.ones(cap)
        self.detection_multiplier = np.ones(cap)
        self.da_risk_weight = np.ones(cap)  # share of domestic-abuse risk still acting
        self.last_peer_exposure = np.zeros(cap)
        self.last_log_hazard = np.zeros(0)  # live window, set each week by behaviour.offend
        self.last_log_hazard_lo = 0  # first row of that window
        self.events = EventLog()
        self.pending_arrests = Table({"offence": "i8", "week": "i4"}, capacity=256)
        self.cases = Table(
            {
                "person": "i8",
                "principal": "i8",
                "kind": "i1",
                "adult": "?",
                "due_week": "i4",
                "charged": "?",
            }
        )
        self.open_cases = np.empty(0, dtype=np.int64)
        self.open_offences = np.empty(0, dtype=np.int64)
        self.open_case = np.full(cap, -1, dtype=np.int64)
        self.next_co_group = 0
        self.new_offences = np.empty(0, dtype=np.int64)
        self.week_counts: Counter[str] = Counter()
        self.totals: Counter[str] = Counter()
        self.yos_caseload = 0
        # Person-weeks at risk in the measured years, for rates by age and group.
        self.person_weeks_by_age = np.zeros(int(EXIT_AGE) + 1)
        self.person_weeks_by_group = np.zeros(5)
        self.person_weeks_10_17 = 0
        self.person_weeks_by_borough = np.zeros(self.geography.n_boroughs)

        # Agencies, stepped in this order every week (never shuffled).
        self.schools = Schools(self)
        self.schools.set_rate_scale()
        self.social_care = SocialCare(self)
        self.yos = YouthOffendingService(self)
        self.police = Police(self)
        self.court = YouthCourt(self)
        self.interventions = Interventions(self, scenario.interventions)
        self._views: dict[int, YoungPerson] = {}

        self.datacollector = mesa.DataCollector(
            model_reporters={
                "week": "week",
                **{name: (lambda m, k=name: m.week_counts[k]) for name in WEEKLY_COUNTS},
                "yos_caseload": "yos_caseload",
                "custody_population": lambda m: int(m.people.in_custody(m.week).sum()),
                "population_10_17": lambda m: m.population_10_17,
                "gang_members": lambda m: int((m.people.gang[m.people.live] >= 0).sum()),
                "term": lambda m: m.calendar.term,
            }
        )

    # -- the week ---------------------------------------------------------------
    def step(self) -> None:
        """One week, in this order:

        1. calendar; in September: the new cohort, year groups, gangs, network;
        2. those who turn 21 leave (a prefix of rows);
        3. multipliers reset; schools, social care and the YOS act on risks;
        4. interventions' ``before_offending`` hooks;
        5. offending (with co-offences and young victims); gang exits;
        6. police: detection, arrests, the decision (with the diversion hook);
        7. court: sentences and every disposal due takes effect;
        8. YOS: releases from custody;
        9. interventions' ``end_of_week`` hooks; the DataCollector records the week.
        """
        self.calendar = calendar.week(self.week)
        self.week_counts = Counter()
        if self.calendar.new_school_year:
            self._new_school_year()
        self._age_out()

        live = self.people.live
        self.hazard_multiplier[live] = 1.0
        self.detection_multiplier[live] = 1.0
        self.da_risk_weight[live] = 1.0
        self.schools.step()
        self.social_care.step()
        self.yos.before_offending()
        self.interventions.before_offending(self.week)

        self.new_offences = behaviour.offend(self, self.week)
        self.week_counts["offences"] += int(self.new_offences.size)
        behaviour.gang_exits(self, self.week)

        self.police.step()
        self.court.step()
        self.yos.step()
        self.interventions.end_of_week(self.week)

        self._tally()
        self.datacollector.collect(self)
        self.week += 1

    def _new_school_year(self) -> None:
        ppl = self.people
        rows = add_cohort(ppl, self.params.population, self.streams["entry"], self.week)
        behaviour.static_log_risk(self, rows)
        self.schools.new_school_year()
        # Recruitment reads last year's ties (the entrants, aged 9, have none yet).
        behaviour.gang_recruitment(self, self.week)
        self.network.add_people(rows, self.week, self.streams["network"])
        self.network.rebuild_gangs(self.streams["network"])

    def _age_out(self) -> None:
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

    def _tally(self) -> None:
        """Totals and person-weeks at risk for the measured years.

        Counts by whole years of age come from the window's birth order (the
        rows of each age are a run of rows, found by bisection), so the tally
        reads only the rows aged 10-17, for group and custody.
        """
        if not self.measuring:
            return
        ppl, lo = self.people, self.people.lo
        older = ppl.rows_aged(self.week, np.arange(self.person_weeks_by_age.size + 1))
        self.person_weeks_by_age += older[:-1] - older[1:]
        at_18, at_10 = ppl.rows_aged(self.week, np.array([18.0, AGE_OF_RESPONSIBILITY]))
        youth = slice(lo + int(at_18), lo + int(at_10))
        self.person_weeks_by_group += np.bincount(ppl.ethnic[youth], minlength=5)
        self.person_weeks_10_17 += youth.stop - youth.start
        if self.geography.n_boroughs > 1:
            self.person_weeks_by_borough += np.bincount(
                ppl.borough[youth], minlength=self.geography.n_boroughs
            )
        self.totals.update(self.week_counts)
        self.totals["yos_caseload_weeks"] += self.yos_caseload
        self.totals["custody_weeks"] += int(
            np.count_nonzero(ppl.custody_release_week[youth] > self.week)
        )

    # -- state read by reporters, views and the runner ---------------------------
    @property
    def measuring(self) -> bool:
        """True during the measured years (after burn-in, before the follow-up tail)."""
        return self.burn_in_weeks <= self.week < self.burn_in_weeks + self.measured_weeks

    @property
    def population_10_17(self) -> int:
        at_18, at_10 = self.people.rows_aged(self.week, np.array([18.0, AGE_OF_RESPONSIBILITY]))
        return int(at_10 - at_18)

    def run(
        self,
        progress: bool = False,
        after_year: Callable[[YouthJusticeModel], None] | None = None,
    ) -> None:
        """Run every week of the scenario: burn-in, measured years, follow-up.

        ``after_year`` is called after each 52nd week; it may raise to stop the run
        (the calibration stops runs whose offending runs away).
        """
        weeks = range(self.week, self.total_weeks)
        if progress:
            from tqdm import tqdm

            weeks = tqdm(weeks, desc=self.params.name, unit="week", leave=False)
        for week in weeks:
            self.step()
            if after_year is not None and (week + 1) % WEEKS_PER_YEAR == 0:
                after_year(self)

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
