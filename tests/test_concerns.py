"""The house: each concern owns its parameters, state and step; adding a policy is one file."""

from __future__ import annotations

import importlib
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from conftest import SCENARIOS, small

from sim import rng
from sim.concern import Agency, Concern
from sim.events import KIND
from sim.interventions import Intervention
from sim.model import YouthJusticeModel
from sim.summary import summarise

PLUGIN = '''
"""A curfew, written outside the package as a newcomer would: one file, nothing else."""

import numpy as np

from sim.interventions import Intervention, InterventionParams
from sim.params import param


class Curfew(Intervention):
    name = "test_curfew"
    stream_key = 190
    description = "a test curfew for children aged 15 and over"

    class Params(InterventionParams):
        hazard_effect: float = param(
            0.5, unit="share of hazard cut", basis="assumed", ge=0, le=1, doc="test"
        )
        share_checked: float = param(
            0.5, unit="share", basis="assumed", ge=0, le=1, doc="test"
        )

    def before_offending(self, week):
        m = self.model
        live = np.arange(m.people.lo, m.people.n)
        older = live[m.people.age(week) >= 15]
        # Its own stream: which of them the police check on this week.
        checked = older[self.rng.random(older.size) < self.params.share_checked]
        m.offending.hazard_multiplier[checked] *= 1 - self.params.hazard_effect
        self.reached[checked] = True
        self.caseload = int(checked.size)
'''


@pytest.fixture
def plugin_package(tmp_path: Path):
    """A temporary package ``yjsim_test_plugins`` holding one intervention module."""
    package = tmp_path / "yjsim_test_plugins"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "curfew.py").write_text(textwrap.dedent(PLUGIN))
    sys.path.insert(0, str(tmp_path))
    try:
        yield importlib.import_module("yjsim_test_plugins.curfew")
    finally:
        sys.path.remove(str(tmp_path))
        for name in [n for n in sys.modules if n.startswith("yjsim_test_plugins")]:
            del sys.modules[name]
        Intervention.registry.pop("test_curfew", None)
        rng.STREAMS.pop("test_curfew", None)


def test_an_intervention_in_its_own_file_registers_and_runs(plugin_package):
    curfew = plugin_package.Curfew
    assert Intervention.registry["test_curfew"] is curfew
    assert rng.STREAMS["test_curfew"] == 190  # its stream key came from the class

    base = small(years=1, burn_in=0, population=2000)
    with_curfew = base.model_copy(
        update={"interventions": {**base.interventions, "test_curfew": curfew.Params()}}
    )
    off = YouthJusticeModel(scenario=base)
    on = YouthJusticeModel(scenario=with_curfew)
    off.run()
    on.run()
    item = next(i for i in on.interventions if i.name == "test_curfew")
    assert item.reached.sum() > 0
    assert on.events.offences.n < off.events.offences.n  # half the hazard of the 15+
    outputs = summarise(on)["intervention_outputs"]
    assert outputs["test_curfew"]["reach"] == int(item.reached.sum())


def test_a_stream_key_cannot_be_taken_twice(plugin_package):
    with pytest.raises(ValueError, match="already used by 'test_curfew'"):
        rng.register_stream("another_policy", 190)
    with pytest.raises(ValueError, match="model's"):
        rng.register_stream("another_policy", 3)
    rng.register_stream("test_curfew", 190)  # the same class registered again is harmless


def test_every_intervention_has_its_own_stream_key():
    from sim.interventions import load_all

    keys = {cls.name: cls.stream_key for cls in load_all().values()}
    assert all(k >= rng.FIRST_INTERVENTION_KEY for k in keys.values()), keys
    assert len(set(keys.values())) == len(keys), keys
    assert all(rng.STREAMS[name] == key for name, key in keys.items())


def test_the_week_plan_is_the_story_of_a_week(small_scenario):
    m = YouthJusticeModel(scenario=small_scenario)
    plan = [(getattr(act, "__self__", None), act.__name__) for act in m.week_plan]
    # Offending comes after everything that changes this week's hazards, and the police
    # act on this week's offences before the court and the YOS releases anyone.
    assert plan.index((m.yos, "supervise")) < plan.index((m, "interventions_act"))
    assert plan.index((m, "interventions_act")) < plan.index((m.offending, "step"))
    assert plan.index((m.offending, "step")) < plan.index((m.police, "step"))
    assert plan.index((m.police, "step")) < plan.index((m.court, "step"))
    assert plan.index((m.court, "step")) < plan.index((m.yos, "step"))
    assert plan[0] == (m, "start_week") and plan[-1] == (m, "record_week")
    assert all(isinstance(owner, Concern | YouthJusticeModel) for owner, _ in plan)
    assert all(act.__doc__ for act in m.week_plan)  # each act says what it does
    week_before = m.week
    m.step()
    assert m.week == week_before + 1


def test_concerns_own_their_parameters_and_agencies_are_mesa_agents(small_scenario):
    m = YouthJusticeModel(scenario=small_scenario)
    concerns = {
        "behaviour": m.offending,
        "gangs": m.gangs,
        "schools": m.schools,
        "social_care": m.social_care,
        "yos": m.yos,
        "justice": m.police,
    }
    for block, concern in concerns.items():
        assert concern.name == block
        assert concern.params is getattr(small_scenario, block)
        assert isinstance(concern.params, type(concern).Params)
    agents = set(m.agents)
    assert {m.schools, m.social_care, m.yos, m.police, m.court} <= agents
    assert all(isinstance(a, Agency) for a in (m.schools, m.police, m.court))
    assert m.offending not in agents  # offending is what people do, not an agency


def test_the_model_takes_a_scenario_not_a_path():
    with pytest.raises(TypeError, match="load_scenario"):
        YouthJusticeModel(scenario="scenarios/croydon-2018.toml")  # type: ignore[arg-type]


def test_a_diversion_records_the_intervention_that_claimed_it():
    sc = small(years=2, burn_in=1, population=4000)
    assert sc.interventions["triage"].enabled
    m = YouthJusticeModel(scenario=sc)
    m.run()
    cases = m.police.book.cases
    names = [i.name for i in m.interventions]
    diverted = cases["kind"] == KIND["diversion"]
    assert diverted.any()
    claimed = cases["diverted_by"][diverted]
    assert np.all(claimed >= 0)
    assert {names[i] for i in np.unique(claimed)} == {"triage"}
    assert np.all(cases["diverted_by"][~diverted] == -1)


@pytest.mark.parametrize(
    ("scenario", "listed"),
    [
        ("croydon-2018.toml", "gangs_team, schools_officers, triage"),
        ("gangs-none.toml", "schools_officers, triage"),
        ("schools-officers-0.toml", "gangs_team, triage"),
        ("no-triage.toml", "gangs_team, schools_officers"),
    ],
)
def test_validate_lists_only_the_interventions_that_act(scenario, listed):
    from typer.testing import CliRunner

    from sim.cli import app

    result = CliRunner().invoke(app, ["validate", str(SCENARIOS / scenario)])
    assert result.exit_code == 0, result.output
    assert f"interventions: {listed})" in result.output
