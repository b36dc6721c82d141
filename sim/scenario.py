"""Scenario files: schema, ``extends``, and errors a person can act on.

A scenario is a TOML file: a name, a description, run settings, parameter
blocks (one per concern, defaults in the module of that concern) and the
interventions switched on. A file may extend another and state only what it
changes. Loading validates everything; a problem becomes one line naming the
file and the key, with "did you mean ...?" for typos. Nothing is evaluated.
"""

from __future__ import annotations

import dataclasses
import difflib
import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    field_validator,
)

from sim.agencies import SchoolsParams, SocialCareParams
from sim.behaviour import BehaviourParams, GangParams
from sim.costs import CostParams
from sim.interventions import Intervention, InterventionParams, load_all
from sim.justice import JusticeParams, YOSParams
from sim.network import NetworkParams
from sim.params import RegisterRow, register_rows
from sim.population import PopulationParams

SCENARIO_DIR = Path(__file__).resolve().parent.parent / "scenarios"


class ScenarioError(Exception):
    """A problem with a scenario file, with the file and key it concerns."""

    def __init__(self, path: str | Path, key: str, message: str) -> None:
        self.path, self.key, self.message = str(path), key, message
        where = f"{self.path}: {key}: " if key else f"{self.path}: "
        super().__init__(where + message)


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
    behaviour: BehaviourParams = Field(default_factory=BehaviourParams)
    gangs: GangParams = Field(default_factory=GangParams)
    justice: JusticeParams = Field(default_factory=JusticeParams)
    yos: YOSParams = Field(default_factory=YOSParams)
    schools: SchoolsParams = Field(default_factory=SchoolsParams)
    social_care: SocialCareParams = Field(default_factory=SocialCareParams)
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
                raise _UnknownIntervention(name, sorted(registry))
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


class _UnknownIntervention(ValueError):
    def __init__(self, name: str, known: list[str]) -> None:
        self.name, self.known = name, known
        super().__init__(f"unknown intervention {name!r}")


def _suggest(word: str, choices: list[str]) -> str:
    close = difflib.get_close_matches(word, choices, n=1, cutoff=0.6)
    return f"; did you mean {close[0]!r}?" if close else ""


def _fields_at(model: type[BaseModel], loc: tuple) -> list[str]:
    """Known keys of the (sub)model at ``loc`` (for suggestions)."""
    current: Any = model
    for part in loc:
        if isinstance(current, type) and issubclass(current, BaseModel):
            field = current.model_fields.get(str(part))
            if field is None:
                return []
            current = field.annotation
        else:
            return []
    if isinstance(current, type) and issubclass(current, BaseModel):
        return list(current.model_fields)
    return []


def _describe(err: dict, root: type[BaseModel], data: dict) -> tuple[str, str]:
    """(key, message) for one pydantic error, in words a scenario author uses."""
    loc = tuple(err["loc"])
    key = ".".join(str(p) for p in loc)
    kind, ctx = err["type"], err.get("ctx", {})
    got = err.get("input")
    if kind == "extra_forbidden":
        parent = loc[:-1]
        known = _fields_at(root, parent)
        if len(parent) == 2 and parent[0] == "interventions":
            cls = Intervention.registry.get(str(parent[1]))
            known = list(cls.Params.model_fields) if cls else []
        return key, "unknown key" + _suggest(str(loc[-1]), known)
    if kind == "missing" and isinstance(loc[-1], int):
        return ".".join(str(p) for p in loc[:-1]), "too few values in the list"
    if kind in ("too_long", "too_short"):
        return key, f"wrong number of values in the list, got {got!r}"
    if kind == "missing":
        return key, "required key is missing"
    bounds = {
        "greater_than_equal": ">= {ge}",
        "greater_than": "> {gt}",
        "less_than_equal": "<= {le}",
        "less_than": "< {lt}",
    }
    if kind in bounds:
        return key, f"expected a value {bounds[kind].format(**ctx)}, got {got!r}"
    if kind == "finite_number":  # nan or inf (Params refuse them)
        return key, f"expected a finite number, got {got!r}"
    if kind == "value_error" and isinstance(ctx.get("error"), _UnknownIntervention):
        e = ctx["error"]
        return f"interventions.{e.name}", "unknown intervention" + _suggest(e.name, e.known) + (
            f" (known: {', '.join(e.known)})" if e.known else ""
        )
    msg = err["msg"].replace("Value error, ", "")
    msg = f"{msg[0].lower()}{msg[1:]}"
    return key, f"{msg}, got {got!r}" if got is not None and not isinstance(got, dict) else msg


def _merge(base: dict, over: dict) -> dict:
    """Deep merge: tables merge key by key, anything else replaces."""
    out = dict(base)
    for k, v in over.items():
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = _merge(out[k], v)
        else:
            out[k] = v
    return out


def read_toml(path: Path, error: type[ScenarioError], missing: str) -> dict:
    """A TOML file's table; a missing, undecodable or broken file raises ``error``."""
    if not path.is_file():
        raise error(path, "", missing)
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as e:
        raise error(path, "", f"not valid TOML ({e})") from None
    except UnicodeDecodeError:
        raise error(path, "", "not a UTF-8 text file") from None


def _read(path: Path, chain: tuple[Path, ...] = ()) -> dict:
    """The raw table of a scenario file with its ``extends`` chain merged in."""
    if path.resolve() in {p.resolve() for p in chain}:
        names = " -> ".join(p.name for p in (*chain, path))
        raise ScenarioError(chain[0], "extends", f"circular extends: {names}")
    data = read_toml(path, ScenarioError, "no such scenario file")
    parent = data.get("extends")
    if parent is None:
        return data
    if not isinstance(parent, str):
        raise ScenarioError(path, "extends", f"expected a file name, got {parent!r}")
    parent_path = path.parent / parent
    if not parent_path.is_file():
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
        try:
            cls.Params.model_validate(block)
        except ValidationError as e:
            errors = e.errors()
            key, message = _describe(errors[0], cls.Params, block)
            more = f" (and {len(errors) - 1} more problem(s))" if len(errors) > 1 else ""
            full = f"interventions.{name}.{key}" if key else f"interventions.{name}"
            raise ScenarioError(path, full, message + more) from None


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
    try:
        scenario = Scenario.model_validate(data)
    except ValidationError as e:
        errors = e.errors()
        key, message = _describe(errors[0], Scenario, data)
        more = f" (and {len(errors) - 1} more problem(s))" if len(errors) > 1 else ""
        raise ScenarioError(path, key, message + more) from None
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
    from sim.posterior import load_posterior

    where = posterior_path(path, scenario)
    try:
        post = load_posterior(where)
    except ScenarioError as e:
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
    try:
        return Scenario.model_validate(data)
    except ValidationError as e:
        key, message = _describe(e.errors()[0], Scenario, data)
        raise ScenarioError("overrides", key, message) from None
