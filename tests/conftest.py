"""Shared fixtures: a small borough that runs in a second or two."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from sim.model import YouthJusticeModel
from sim.scenario import Scenario, load_scenario
from sim.summary import summarise, timeseries

ROOT = Path(__file__).resolve().parent.parent
SCENARIOS = ROOT / "scenarios"


def small(
    scenario: Scenario | None = None,
    *,
    population: int = 3000,
    years: int = 2,
    burn_in: int = 1,
    seed: int = 7,
) -> Scenario:
    """A copy of ``scenario`` (default: the Croydon baseline) shrunk for tests."""
    sc = scenario or load_scenario(SCENARIOS / "croydon-2018.toml")
    return sc.model_copy(
        update={
            "population": sc.population.model_copy(
                update={
                    "population_10_17": population,
                    "wards": 6,
                    "secondary_schools": 4,
                    "gangs": 2,
                }
            ),
            "run": sc.run.model_copy(
                update={"years": years, "burn_in_years": burn_in, "seed": seed}
            ),
        }
    )


@pytest.fixture
def small_scenario() -> Scenario:
    return small()


def assert_no_trace(name: str, with_it: YouthJusticeModel, without_it: YouthJusticeModel) -> None:
    """A run with intervention ``name`` at zero reach equals the run without it, bit for bit,
    but for the intervention's own entries (reach, caseload and cost, all zero)."""
    s_on, s_off = summarise(with_it), summarise(without_it)
    assert s_on["intervention_reach"].pop(name) == 0
    assert s_on["intervention_caseload"].pop(name) == 0
    assert s_on["cost_per_year_gbp"].pop(name) == 0
    assert s_on["intervention_outputs"].pop(name)["reach"] == 0
    assert s_on == s_off
    pd.testing.assert_frame_equal(timeseries(with_it), timeseries(without_it))
