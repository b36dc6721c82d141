"""Shared fixtures: a small borough that runs in a second or two."""

from __future__ import annotations

from pathlib import Path

import pytest

from sim.scenario import Scenario, load_scenario

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
