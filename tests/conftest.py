"""Shared fixtures: a small borough that runs in a second or two."""

from __future__ import annotations

import json
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import pandas as pd
import pytest

from sim.interventions import InterventionParams
from sim.model import YouthJusticeModel
from sim.population import BoroughSpec
from sim.scenario import Scenario, load_scenario
from sim.summary import summarise, timeseries
from sim.tomlfile import InputError

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
                }
            ),
            "gangs": sc.gangs.model_copy(update={"count": 2}),
            "run": sc.run.model_copy(
                update={"years": years, "burn_in_years": burn_in, "seed": seed}
            ),
        }
    )


def assert_rejected_as_expected(path: Path, load) -> None:
    """A malformed file (first line ``# expect: KEY: TEXT``) fails to ``load`` with one line
    naming the file, KEY and TEXT (tests/bad_scenarios/README.md)."""
    first = path.read_text().splitlines()[0]
    assert first.startswith("# expect: "), f"{path.name} lacks its '# expect:' line"
    key, _, text = first[len("# expect: ") :].partition(": ")
    with pytest.raises(InputError) as info:
        load(path)
    message = str(info.value)
    assert "\n" not in message
    assert path.name in message
    if key:
        assert f": {key}: " in message, message
    assert text.strip() in message, message


def with_intervention(
    scenario: Scenario, name: str, params: InterventionParams | None, keep_others: bool = False
) -> Scenario:
    """``scenario`` with intervention ``name`` set to ``params`` (None: without it).

    The baseline's other interventions are dropped unless ``keep_others``, so a
    test sees this one alone.
    """
    others = {k: v for k, v in scenario.interventions.items() if k != name and keep_others}
    if params is not None:
        others[name] = params
    return scenario.model_copy(update={"interventions": others})


def two_boroughs(scenario: Scenario) -> Scenario:
    """``scenario`` as a small area of two boroughs, the second more deprived."""
    boroughs = [
        BoroughSpec(name="A", population_10_17=1500, wards=4, secondary_schools=2),
        BoroughSpec(name="B", population_10_17=1500, wards=4, secondary_schools=2, deprivation=1),
    ]
    return scenario.model_copy(
        update={"population": scenario.population.model_copy(update={"boroughs": boroughs})}
    )


def run(scenario: Scenario) -> YouthJusticeModel:
    """A model of ``scenario``, run to the end."""
    model = YouthJusticeModel(scenario=scenario)
    model.run()
    return model


@pytest.fixture(autouse=True)
def _own_cache(tmp_path_factory, monkeypatch):
    """Tests keep the viz's burned-in worlds in a folder of the session, never in ~/.cache
    (servers the tests start inherit it)."""
    monkeypatch.setenv("YJSIM_CACHE", str(tmp_path_factory.getbasetemp() / "cache"))


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


EXPERIMENT_SCENARIOS = Path(__file__).resolve().parent / "experiment_scenarios"


def write_experiment(
    tmp: Path, name: str = "exp", replicates: int = 3, *, seed: int, **extra
) -> Path:
    """An experiment file in ``tmp`` comparing the tiny borough with more detection."""
    lines = [
        f'name = "{name}"',
        f'scenarios = ["{EXPERIMENT_SCENARIOS / "tiny.toml"}", '
        f'"{EXPERIMENT_SCENARIOS / "tiny-more-detection.toml"}"]',
        f"replicates = {replicates}",
        f"seed = {seed}",
        *(f"{k} = {json.dumps(v)}" for k, v in extra.items()),
    ]
    path = tmp / f"{name}.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


def free_port() -> int:
    """A loopback port nothing listens on now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_server(url: str, proc: subprocess.Popen, log: Path, timeout: float) -> None:
    """Return once ``url`` answers; fail with the server's log if it exits or never does."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"server exited:\n{log.read_text()}")
        try:
            urllib.request.urlopen(url, timeout=2).read()
            return
        except OSError:
            time.sleep(0.3)
    raise AssertionError(f"server did not answer at {url}:\n{log.read_text()}")


@pytest.fixture(scope="session")
def smoke_decision_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    """decisions/smoke.toml run once for every test module that reads it (test_decide,
    test_viz_decision): its folder and its answer. Read it; do not change it."""
    from sim.decision import run_decision

    out = tmp_path_factory.mktemp("decide") / "smoke"
    done = run_decision(ROOT / "decisions" / "smoke.toml", out, workers=1, progress=False)
    assert done.failed == 0
    return out, done.answer
