"""Triage: diversion at first arrest, and the composition effect it leaves in the measures."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import assert_no_trace, run, small, with_intervention

from sim import metrics
from sim.calendar import DAYS_PER_WEEK
from sim.events import FORMAL_DISPOSALS, KIND
from sim.interventions.triage import Triage
from sim.model import YouthJusticeModel
from sim.summary import people_frame, summarise

NAME = "triage"
POPULATION, YEARS, SEED = 4000, 2, 3


def _run(on: Triage.Params | None, *, keep_others: bool = False) -> YouthJusticeModel:
    """A small borough with triage as given (None: without it); others kept if asked."""
    sc = small(population=POPULATION, years=YEARS, seed=SEED)
    return run(with_intervention(sc, NAME, on, keep_others))


def _cohort(model: YouthJusticeModel):
    """The MoJ reoffending cohort of the measured years, with true offences before the index."""
    start = model.burn_in_weeks * DAYS_PER_WEEK
    end = (model.burn_in_weeks + model.measured_weeks) * DAYS_PER_WEEK
    offences = model.events.offences_frame()
    result = metrics.proven_reoffending(
        people_frame(model),
        offences,
        model.events.disposals_frame(),
        model.events.releases_frame(),
        start,
        end,
    )
    c = result.cohort
    o = offences[["person", "day"]].merge(c[["person", "index_day"]], on="person")
    prior = o[o["day"] < o["index_day"]].groupby("person").size()
    return result, prior.reindex(c["person"], fill_value=0).to_numpy()


@pytest.fixture(scope="module")
def paired() -> tuple[YouthJusticeModel, YouthJusticeModel]:
    """The same borough and seed without and with triage (common random numbers)."""
    return _run(None), _run(Triage.Params())


def test_triage_cuts_first_time_entrants_and_leaves_an_entrenched_formal_cohort(paired):
    off, on = paired
    s_off, s_on = summarise(off), summarise(on)
    assert s_on["diversions_per_year"] > 0
    assert on.interventions.items[0].outputs(YEARS)["diverted_cases_per_year"] > 0
    # Diverted children have no formal record: fewer first-time entrants and a smaller cohort.
    assert s_on["first_time_entrants_per_year"] < s_off["first_time_entrants_per_year"]
    assert s_on["reoffending_cohort_per_year"] < s_off["reoffending_cohort_per_year"]
    # What is left is the more entrenched group (the earlier Croydon inspection): more true
    # offending behind each index event, compared on a log scale so that a few prolific
    # offenders do not decide it. (Whether the measured rate then rises depends on how
    # much the programme and the avoided label cut reoffending; the summary shows both.)
    _, prior_off = _cohort(off)
    _, prior_on = _cohort(on)
    assert np.log1p(prior_on).mean() > np.log1p(prior_off).mean()


def test_only_eligible_first_arrests_are_triaged(paired):
    _, on = paired
    cases, off, disp = on.police.book.cases, on.events.offences, on.events.disposals
    triaged = np.flatnonzero(cases["kind"] == KIND["diversion"])
    assert triaged.size > 0
    p = Triage.Params()
    assert not cases["adult"][triaged].any()  # children only
    assert (off["gravity"][cases["principal"][triaged]] <= p.max_gravity).all()
    # Nobody is triaged twice, and never after a formal disposal.
    persons = cases["person"][triaged]
    assert np.unique(persons).size == persons.size
    formal = np.isin(disp["kind"], [KIND[k] for k in FORMAL_DISPOSALS])
    first_formal = {}
    for person, week in zip(disp["person"][formal], disp["week"][formal], strict=True):
        first_formal.setdefault(int(person), int(week))
    triage_week = cases["due_week"][triaged]  # when the triage takes effect
    for person, week in zip(persons, triage_week, strict=True):
        assert first_formal.get(int(person), np.inf) > week
    assert "diversion" not in FORMAL_DISPOSALS


def test_places_cap_the_cases_taken_each_year():
    capped = _run(Triage.Params(cases_per_year=3))
    item = capped.interventions.items[0]
    years_run = capped.total_weeks // 52 + 1
    assert 0 < item.cases_total <= 3 * years_run
    assert item.cases_total < _run(Triage.Params()).interventions.items[0].cases_total


def test_triage_with_no_places_changes_nothing():
    base = _run(None, keep_others=True)
    idle = _run(Triage.Params(cases_per_year=0), keep_others=True)
    item = next(i for i in idle.interventions if i.name == NAME)
    assert item.outputs(YEARS)["reach"] == 0
    assert_no_trace(NAME, idle, base)
