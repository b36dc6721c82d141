"""Met Track: schools of the most deprived boroughs; pupils on it offend and are victimised less."""

from __future__ import annotations

import numpy as np
from conftest import assert_no_trace, small

from sim.interventions.met_track import MetTrack, MetTrackParams
from sim.model import YouthJusticeModel
from sim.population import BoroughSpec

NAME = "met_track"


def _area(params: MetTrackParams | None, seed: int = 7):
    """Three small boroughs, the last the most deprived; no other interventions."""
    sc = small(seed=seed)
    boroughs = [
        BoroughSpec(name="A", population_10_17=1000, wards=3, secondary_schools=2),
        BoroughSpec(name="B", population_10_17=1000, wards=3, secondary_schools=2, deprivation=0.5),
        BoroughSpec(name="C", population_10_17=1000, wards=3, secondary_schools=2, deprivation=4),
    ]
    return sc.model_copy(
        update={
            "population": sc.population.model_copy(update={"boroughs": boroughs}),
            "interventions": {NAME: params} if params is not None else {},
        }
    )


def _run(params, seed=7) -> YouthJusticeModel:
    m = YouthJusticeModel(scenario=_area(params, seed))
    m.run()
    return m


def _met_track(m: YouthJusticeModel) -> MetTrack:
    return next(i for i in m.interventions if i.name == NAME)


def test_schools_are_in_the_most_deprived_boroughs():
    m = YouthJusticeModel(scenario=_area(MetTrackParams(boroughs=1, schools_per_borough=2)))
    mt = _met_track(m)
    assert mt.schools.size == 2
    assert set(m.geography.school_borough[mt.schools]) == {2}  # borough C


def test_participants_offend_and_are_victimised_less_with_common_random_numbers():
    strong = MetTrackParams(
        boroughs=3,
        schools_per_borough=2,
        places_per_school_term=200,
        hazard_effect=0.9,
        victim_protection=0.9,
    )
    fewer_offences = fewer_victims = 0
    for seed in (1, 2, 3):
        on, off = _run(strong, seed), _run(None, seed)
        people = np.flatnonzero(_met_track(on).reached)
        assert people.size > 100
        offences = [np.isin(m.events.offences["person"], people).sum() for m in (on, off)]
        victims = [np.isin(m.events.victimisations["person"], people).sum() for m in (on, off)]
        fewer_offences += offences[0] < offences[1]
        fewer_victims += victims[0] < victims[1]
    assert fewer_offences == 3
    assert fewer_victims >= 2


def test_zero_reach_is_bit_identical_to_the_baseline():
    on, off = _run(MetTrackParams(places_per_school_term=0)), _run(None)
    assert_no_trace(NAME, on, off)
