"""Scenario files: schema, ``extends``, and errors a person can act on.

A scenario is a TOML file: a name, a description, run settings, parameter
blocks (one per concern, defaults in the module of that concern) and the
interventions switched on. A file may extend another and state only what it
changes. Loading validates everything; a problem becomes one line naming the
file and the key, with "did you mean ...?" for typos. Nothing is evaluated.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, field_validator

from sim.behaviour import Offending
from sim.costs import CostParams
from sim.gangs import Gangs
from sim.interventions import Intervention, InterventionParams, load_all
from sim.justice import JusticeParams
from sim.network import NetworkParams
from sim.params import RegisterRow, register_rows
from sim.population import PopulationParams
from sim.schools import Schools
from sim.social_care import SocialCare
from sim.tomlfile import InputError, UnknownName, read_toml, resolved, validate
from sim.yos import YouthOffendingService

SCENARIO_DIR = Path(__file__).resolve().parent.parent / "scenarios"


class ScenarioError(InputError):
    """A problem with a scenario file, with the file and key it concerns."""


class RunSettings(BaseModel):
    """How long to run and which seed (not model parameters)."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)
    years: int = Field(10, ge=1, le=100, description="measured years")
    burn_in_years: int = Field(
        8,
        ge=0,
        le=50,
        description="years run first to build up records; not measured. Eight years is "
        "the time for the 10-17s to be entirely children who entered during the run, so "
        "their records have reached their steady state",
    )
    seed: int = Field(1, ge=0, lt=2**63)
    draw: int = Field(
        0,
        ge=0,
        description="with a calibrated posterior (`parameters`): 0 runs the posterior mean, "
        "K the K-th particle",
    )


class Scenario(BaseModel):
    """A complete, validated scenario."""

    model_config = ConfigDict(extra="forbid")
    name: str
    description: str = ""
    extends: str | None = None
    parameters: str | None = Field(
        None, description="a calibrated posterior to take parameters from (calibration/)"
    )
    run: RunSettings = Field(default_factory=RunSettings)
    population: PopulationParams = Field(default_factory=PopulationParams)
    network: NetworkParams = Field(default_factory=NetworkParams)
    behaviour: Offending.Params = Field(default_factory=Offending.Params)
    gangs: Gangs.Params = Field(default_factory=Gangs.Params)
    justice: JusticeParams = Field(default_factory=JusticeParams)
    yos: YouthOffendingService.Params = Field(default_factory=YouthOffendingService.Params)
    schools: Schools.Params = Field(default_factory=Schools.Params)
    social_care: SocialCare.Params = Field(default_factory=SocialCare.Params)
    costs: CostParams = Field(default_factory=CostParams)
    interventions: dict[str, InterventionParams] = Field(default_factory=dict)
    # Parameters set by the posterior (for the register); not part of the file.
    _posterior_names: tuple[str, ...] = PrivateAttr(default=())

    @field_validator("interventions", mode="before")
    @classmethod
    def _interventions(cls, value: Any) -> dict[str, InterventionParams]:
        registry = load_all()
        if not isinstance(value, dict):
            raise ValueError("expected a table of interventions")
        out = {}
        for name, block in value.items():
            if name not in registry:
                raise UnknownName("intervention", name, sorted(registry))
            out[name] = (
                block
                if isinstance(block, InterventionParams)
                else registry[name].Params.model_validate(block or {})
            )
        return out

    @property
    def posterior_names(self) -> tuple[str, ...]:
        """The parameters this scenario took from its posterior (not set in its files)."""
        return self._posterior_names

    def register(self) -> list[RegisterRow]:
        """The parameter register of this scenario: every parameter with its source."""
        rows: list[RegisterRow] = []
        for section in (
            "population",
            "network",
            "behaviour",
            "gangs",
            "justice",
            "yos",
            "schools",
            "social_care",
            "costs",
        ):
            rows.extend(register_rows(section, getattr(self, section)))
        for name, block in sorted(self.interventions.items()):
            rows.extend(register_rows(f"interventions.{name}", block))
        if self.parameters is not None:
            which = f"draw {self.run.draw}" if self.run.draw else "posterior mean"
            rows = [
                dataclasses.replace(r, basis="calibrated", source=f"{which} of {self.parameters}")
                if r.name in self._posterior_names
                else r
                for r in rows
            ]
        return rows


def _intervention_keys(loc: tuple) -> Sequence[str] | None:
    """The keys an intervention's block may hold (the schema types them all as the base)."""
    if len(loc) == 2 and loc[0] == "interventions":
        cls = Intervention.registry.get(str(loc[1]))
        return list(cls.Params.model_fields) if cls else []
    return None


def _merge(base: dict, over: dict) -> dict:
    """Deep merge: tables merge key by key, anything else replaces."""
    out = dict(base)
    for k, v in over.items():
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = _merge(out[k], v)
        else:
            out[k] = v
    return out


def _read(path: Path, chain: tuple[Path, ...] = ()) -> dict:
    """The raw table of a scenario file with its ``extends`` chain merged in."""
    data = read_toml(path, ScenarioError, "no such scenario file")  # a loop of links fails here
    if resolved(path, ScenarioError) in {resolved(p, ScenarioError) for p in chain}:
        names = " -> ".join(p.name for p in (*chain, path))
        raise ScenarioError(chain[0], "extends", f"circular extends: {names}")
    parent = data.get("extends")
    if parent is None:
        return data
    if not isinstance(parent, str):
        raise ScenarioError(path, "extends", f"expected a file name, got {parent!r}")
    parent_path = path.parent / parent
    if not os.path.lexists(parent_path):  # a link that loops is reported by read_toml
        raise ScenarioError(path, "extends", f"no such scenario file {parent!r}")
    base = _read(parent_path, (*chain, path))
    base.pop("extends", None)
    if isinstance(base.get("parameters"), str):
        # A posterior path is relative to the file that names it; rebase it onto this one.
        where = parent_path.parent / base["parameters"]
        base["parameters"] = Path(os.path.relpath(where, path.parent)).as_posix()
    base.pop("description", None)  # a child describes itself
    return _merge(base, data)


def _check_interventions(path: Path, data: dict) -> None:
    """Validate each intervention block with its own schema, so errors name the block."""
    blocks = data.get("interventions")
    if not isinstance(blocks, dict):
        return
    registry = load_all()
    for name, block in blocks.items():
        cls = registry.get(name)
        if cls is None or not isinstance(block, dict):
            continue  # unknown names and non-tables are reported by the full validation
        validate(cls.Params, block, path, ScenarioError, key_prefix=f"interventions.{name}")


def load_scenario(
    path: str | Path, *, draw: int | None = None, use_posterior: bool = True
) -> Scenario:
    """Read, merge and validate a scenario file; raises :class:`ScenarioError`.

    A scenario that names a posterior (``parameters``) gets that posterior's parameters:
    its mean, or particle ``draw`` (from the argument, else ``run.draw`` in the file).
    ``use_posterior=False`` leaves the defaults and drops the reference (the
    calibration sets those parameters itself and must not depend on an earlier fit).
    """
    path = Path(path)
    data = _read(path)
    _check_interventions(path, data)
    scenario = validate(Scenario, data, path, ScenarioError, known_keys=_intervention_keys)
    if draw is not None:
        if draw < 0:
            raise ScenarioError(path, "run.draw", f"expected a value >= 0, got {draw}")
        scenario = scenario.model_copy(
            update={"run": scenario.run.model_copy(update={"draw": draw})}
        )
    if not use_posterior:
        return scenario.model_copy(update={"parameters": None})
    if scenario.parameters is None:
        if scenario.run.draw:
            raise ScenarioError(
                path, "run.draw", "a draw needs a calibrated posterior; the scenario names none"
            )
        return scenario
    return _with_posterior(path, data, scenario)


def posterior_path(path: str | Path, scenario: Scenario) -> Path | None:
    """Where a scenario's posterior is: relative to the scenario file, like ``extends``."""
    if scenario.parameters is None:
        return None
    return (Path(path).parent / scenario.parameters).resolve()


def _with_posterior(path: Path, data: dict, scenario: Scenario) -> Scenario:
    """The scenario with its posterior's mean or chosen particle applied."""
    from sim.posterior import PosteriorError, load_posterior

    where = posterior_path(path, scenario)
    try:
        post = load_posterior(where)
    except PosteriorError as e:
        raise ScenarioError(path, "parameters", str(e)) from None
    # A value the scenario files set explicitly wins over the posterior's (a "what if"
    # scenario on top of a calibrated baseline); the register says where each came from.
    explicit = {
        name
        for name in post.names
        if isinstance(data.get(name.partition(".")[0]), dict)
        and name.partition(".")[2] in data[name.partition(".")[0]]
    }
    k = scenario.run.draw
    if k > post.size:
        raise ScenarioError(
            path, "run.draw", f"expected a draw from 0 to {post.size}, got {k} ({where.name})"
        )
    try:
        values = {n: v for n, v in post.draw(k).items() if n not in explicit}
        calibrated = apply_overrides(scenario, values)
        calibrated._posterior_names = tuple(values)
        return calibrated
    except ScenarioError as e:
        raise ScenarioError(
            path, "parameters", f"{scenario.parameters}: column {e.key}: {e.message}"
        ) from None


def with_overrides(scenario: Scenario, **run: Any) -> Scenario:
    """A copy with run settings replaced (years, seed), validated again."""
    update = {k: v for k, v in run.items() if v is not None}
    settings = RunSettings.model_validate({**scenario.run.model_dump(), **update})
    return scenario.model_copy(update={"run": settings})


def apply_overrides(scenario: Scenario, overrides: Mapping[str, Any]) -> Scenario:
    """A copy of ``scenario`` with dotted parameters replaced, validated again.

    This is how a posterior draw will reach a run: ``{"behaviour.label_effect": 0.2}``.
    An unknown name or an impossible value raises :class:`ScenarioError`.
    """
    if not overrides:
        return scenario
    # serialize_as_any: each intervention's block dumps as its own Params class, not
    # as the InterventionParams the field is typed with (which drops its settings).
    data = scenario.model_dump(serialize_as_any=True)
    for name, value in overrides.items():
        parts = name.split(".")
        node = data
        for p in parts[:-1]:
            if not isinstance(node.get(p), dict):
                raise ScenarioError("overrides", name, "unknown parameter")
            node = node[p]
        if parts[-1] not in node:
            raise ScenarioError("overrides", name, "unknown parameter")
        node[parts[-1]] = value
    return validate(Scenario, data, "overrides", ScenarioError, known_keys=_intervention_keys)
