"""The Mesa face and the weekly step's invariants."""

from __future__ import annotations

import json

import mesa
import numpy as np
import pandas as pd
import pytest
from conftest import small

from sim.calendar import WEEKS_PER_YEAR
from sim.concern import Agency
from sim.events import KIND
from sim.model import YouthJusticeModel
from sim.people_view import YoungPerson
from sim.population import EXIT_AGE
from sim.summary import summarise, timeseries


def test_model_is_a_mesa_model_with_agencies_as_agents(small_scenario):
    m = YouthJusticeModel(scenario=small_scenario)
    assert isinstance(m, mesa.Model)
    agencies = [a for a in m.agents if isinstance(a, Agency)]
    names = {type(a).__name__ for a in agencies}
    assert {"Police", "YouthOffendingService", "Schools", "SocialCare", "YouthCourt"} <= names
    for _ in range(5):
        m.step()
    df = m.datacollector.get_model_vars_dataframe()
    assert len(df) == 5
    assert list(df["week"]) == [0, 1, 2, 3, 4]
    assert df["offences"].sum() > 0


def test_young_person_views_read_the_arrays(small_scenario):
    m = YouthJusticeModel(scenario=small_scenario)
    for _ in range(30):
        m.step()
    live = m.people.live
    i = int(np.flatnonzero(m.people.n_offences[live])[0]) + live.start
    assert m.young_person(i).present
    view = m.young_person(i)
    assert isinstance(view, YoungPerson) and isinstance(view, mesa.Agent)
    assert view.offences == m.people.n_offences[i] > 0
    assert view is m.young_person(i)  # cached, not created again
    m.people.n_offences[i] += 5
    assert view.offences == m.people.n_offences[i]  # a view, not a copy
    # Between steps the view reads the coming week; a person turning 21 leaves at the
    # start of that week's step (Model.step, item 2), so may be up to a week past 21.
    assert 9 <= view.age < EXIT_AGE + 1 / WEEKS_PER_YEAR
    agents = m.young_people([i, i + 1])
    assert len(agents) == 2


def test_keyword_only_init_and_rng_seed(small_scenario):
    a = YouthJusticeModel(scenario=small_scenario, rng=3)
    b = YouthJusticeModel(scenario=small_scenario, seed=3)
    assert a.seed == b.seed == 3
    try:
        YouthJusticeModel(small_scenario)  # type: ignore[misc]
    except TypeError:
        pass
    else:
        raise AssertionError("positional arguments must be rejected")


def test_pathway_records_are_consistent_after_a_run():
    m = YouthJusticeModel(scenario=small(years=2, burn_in=1))
    m.run()
    off, disp = m.events.offences, m.events.disposals
    assert disp.n > 0
    proven = ~np.isnan(off["proven_week"])
    assert proven.any()
    # A proven offence always has a true offence behind it: committed before it was proven,
    # detected, and dealt with by a formal disposal.
    assert np.all(off["proven_week"][proven] >= off["week"][proven])
    assert np.all(off["detected"][proven])
    assert np.all(off["disposal"][proven] >= KIND["youth_caution"])
    # Only detected offences get a disposal.
    assert np.all(off["detected"][off["disposal"] >= 0])
    # Every disposal kind the pathway can give appears in a two-year run.
    kinds = set(np.unique(disp["kind"]))
    for k in (
        "nfa",
        "community_resolution",
        "youth_caution",
        "referral_order",
        "youth_rehabilitation_order",
    ):
        assert KIND[k] in kinds, k
    # Nobody offends while in custody.
    released = m.events.releases
    assert released.n > 0


def test_no_one_offends_in_custody_or_is_at_school_in_custody(small_scenario):
    m = YouthJusticeModel(scenario=small_scenario)
    seen_custody = 0
    for _ in range(150):
        before = m.people.custody_release_week.copy()
        m.step()
        week = m.week - 1
        new = m.offending.new_offences
        persons = m.events.offences["person"][new]
        assert not np.any(before[persons] > week), "offence committed from custody"
        in_c = m.people.in_custody(week)
        seen_custody += int(in_c.sum())
        assert not np.any(in_c & m.people.at_school(week))
    assert seen_custody > 0, "the test needs someone in custody to mean anything"


def test_people_are_conserved_through_ageing_and_entry(small_scenario):
    m = YouthJusticeModel(scenario=small_scenario)
    cohort = small_scenario.population.cohort_size
    n0 = m.people.n
    for _ in range(2 * 52 + 1):
        m.step()
    assert m.people.n == n0 + 2 * cohort  # two Septembers, one cohort each
    last = m.week - 1  # the week just simulated
    age = m.people.age(last)
    assert age.min() >= 9 and age.max() < EXIT_AGE
    everyone_aged_out = (last - m.people.birth_week[: m.people.lo]) / 52 >= EXIT_AGE
    assert everyone_aged_out.all()


def test_a_finished_run_summarises_the_same_without_its_weekly_state(small_scenario):
    """The runner frees the network and the hazard's working arrays before the summary
    (London's peak memory): the summary and the series must not read them."""
    model = YouthJusticeModel(scenario=small_scenario, seed=3)
    model.run()
    before = json.dumps(summarise(model), sort_keys=True, default=str)
    series = timeseries(model)
    network_bytes = sum(m.data.nbytes for m in model.network.adjacency.values())
    assert network_bytes > 0
    model.release_weekly_state()
    assert not hasattr(model, "network")
    assert model.offending.scratch_float.size == 0
    assert json.dumps(summarise(model), sort_keys=True, default=str) == before
    pd.testing.assert_frame_equal(timeseries(model), series)
    with pytest.raises(RuntimeError, match="released"):
        model.step()  # no week runs without its state
