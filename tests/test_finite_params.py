"""NaN and infinity are refused for every numeric field of the scenario schema (issue 21).

NaN passes every bound check (each comparison with it is false): before, a scenario with
``behaviour.coef_deprivation = nan`` ran to exit 0 with zero offences, ``deprivation_sd =
inf`` ended in a traceback and ``costs.arrest = inf`` wrote ``Infinity`` into summary.json.
The fields are found by walking the schema (every section, every intervention's Params,
a borough of a multi-borough area), so a field added later is covered without a change here.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
import typing
from pathlib import Path
from typing import Any

import pytest
from conftest import SCENARIOS
from pydantic import BaseModel

from sim.interventions import load_all
from sim.scenario import Scenario, ScenarioError, load_scenario

HERE = Path(__file__).resolve().parent
NOT_FINITE = {"nan": math.nan, "inf": math.inf, "-inf": -math.inf}  # TOML spelling: value
LONDON = SCENARIOS / "london.toml"  # has boroughs, whose fields are walked too


def _toml(value: Any) -> str:
    """A TOML value (numbers, strings, booleans, arrays, inline tables)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and not math.isfinite(value):
        return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)  # a TOML basic string for these plain names
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k} = {_toml(v)}" for k, v in value.items()) + "}"
    raise TypeError(f"no TOML for {value!r}")


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _numeric_leaves(model: type[BaseModel], sample: dict) -> list[tuple[str, str, Any]]:
    """(dotted key, field, make) for every number in ``model``'s fields.

    ``sample`` holds a valid value of each field (the defaults, or a real borough);
    ``make(x)`` is the field's value with that one number replaced by ``x``.
    """
    leaves: list[tuple[str, str, Any]] = []
    for name in model.model_fields:
        value = sample[name]
        if _is_number(value):
            leaves.append((name, name, lambda x: x))
        elif isinstance(value, tuple | list) and value and all(map(_is_number, value)):
            for i in range(len(value)):
                make = lambda x, v=value, i=i: [*v[:i], x, *v[i + 1 :]]  # noqa: E731
                leaves.append((f"{name}.{i}", name, make))
        elif isinstance(value, bool | str):
            continue
        elif name == "boroughs":
            assert value == [], "walked with a real borough instead"
        else:
            raise AssertionError(f"{model.__name__}.{name}: a field of a shape not walked")
    return leaves


def _cases() -> list[tuple[str, str, str]]:
    """(dotted key, a scenario's TOML setting it, the value as spelled) per non-finite value."""
    tables: list[tuple[str, type[BaseModel]]] = []
    for section, field in Scenario.model_fields.items():
        cls = field.annotation
        if isinstance(cls, type) and issubclass(cls, BaseModel):
            tables.append((section, cls))
    for name, intervention in sorted(load_all().items()):
        tables.append((f"interventions.{name}", intervention.Params))
    cases = []
    for prefix, cls in tables:
        for key, name, make in _numeric_leaves(cls, cls().model_dump()):
            for spelled, x in NOT_FINITE.items():
                text = f'name = "x"\n[{prefix}]\n{name} = {_toml(make(x))}\n'
                cases.append((f"{prefix}.{key}", text, spelled))
    # A borough of a multi-borough area: one real borough with one number replaced.
    sample = load_scenario(LONDON, use_posterior=False).population.boroughs[0].model_dump()
    borough = Scenario.model_fields["population"].annotation
    borough = typing.get_args(borough.model_fields["boroughs"].annotation)[0]
    for key, name, make in _numeric_leaves(borough, sample):
        for spelled, x in NOT_FINITE.items():
            text = f'name = "x"\n[population]\nboroughs = [{_toml({**sample, name: make(x)})}]\n'
            cases.append((f"population.boroughs.0.{key}", text, spelled))
    return cases


CASES = _cases()


def test_the_walk_covers_the_whole_schema():
    keys = {key for key, _, _ in CASES}
    # Every section, every intervention and a borough contribute (about 130 numbers).
    for prefix in ("run.", "population.", "behaviour.", "costs.", "population.boroughs.0."):
        assert any(k.startswith(prefix) for k in keys), prefix
    for name in load_all():
        assert any(k.startswith(f"interventions.{name}.") for k in keys), name
    assert {"behaviour.coef_deprivation", "population.deprivation_sd", "costs.arrest"} <= keys
    assert len(keys) > 100


def test_every_numeric_field_refuses_nan_and_infinity(tmp_path):
    accepted, garbled = [], []
    path = tmp_path / "bad.toml"
    for key, text, spelled in CASES:
        path.write_text(text)
        try:
            load_scenario(path, use_posterior=False)
        except ScenarioError as e:
            message = str(e)
            expected = f"bad.toml: {key}: expected a finite number, got {spelled}"
            if "\n" in message or not message.endswith(expected):
                garbled.append(message)
        else:
            accepted.append(f"{key} = {spelled}")
    assert accepted == [], f"{len(accepted)} of {len(CASES)} accepted: {accepted}"
    assert garbled == [], garbled


NEW_CORPUS = ["nan_coefficient", "infinite_spread", "infinite_cost"]


@pytest.mark.parametrize("stem", NEW_CORPUS)
def test_cli_refuses_a_non_finite_value_with_one_line_and_exit_2(stem: str, tmp_path: Path):
    path = HERE / "bad_scenarios" / f"{stem}.toml"
    key, _, text = path.read_text().splitlines()[0].removeprefix("# expect: ").partition(": ")
    out = tmp_path / "out"
    proc = subprocess.run(
        [sys.executable, "-m", "sim.cli", "run", str(path), "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert lines == [f"yjsim: error: {path}: {key}: {text}"], proc.stderr
    assert not out.exists()


def _bounds(metadata: list) -> tuple[bool, bool]:
    """Whether a field's (or a tuple element's) constraints set a lower and an upper bound."""
    import annotated_types as at

    lower = any(isinstance(m, at.Ge | at.Gt) for m in metadata)
    upper = any(isinstance(m, at.Le | at.Lt) for m in metadata)
    return lower, upper


def _unbounded(model: type[BaseModel], prefix: str) -> list[str]:
    """Dotted names of the numbers in ``model`` (recursing into blocks) that lack a bound."""
    missing: list[str] = []
    for name, field in model.model_fields.items():
        key, ann = f"{prefix}{name}", field.annotation
        if isinstance(ann, type) and issubclass(ann, BaseModel):
            missing += _unbounded(ann, key + ".")
        elif typing.get_origin(ann) is list:
            (item,) = typing.get_args(ann)
            if isinstance(item, type) and issubclass(item, BaseModel):
                missing += _unbounded(item, key + "[].")
        elif ann in (int, float) and _bounds(field.metadata) != (True, True):
            missing.append(key)
        elif typing.get_origin(ann) is tuple:
            for element in set(typing.get_args(ann)):
                inner = [c for m in getattr(element, "__metadata__", ()) for c in m.metadata]
                if typing.get_args(element) and _bounds(inner) != (True, True):
                    missing.append(f"{key}[*]")
    return missing


def test_every_numeric_parameter_has_a_lower_and_an_upper_bound():
    """Issue 21: a size, rate, weight or cost without an upper bound let
    ``population_10_17 = 100000000`` validate and exhaust memory. The bounds are sourced,
    physical, or the plausibility limits declared in sim/params.py (MAX_*). ``run.draw`` is
    bounded at load by the posterior's size instead."""
    missing = _unbounded(Scenario, "")
    for name, cls in sorted(load_all().items()):
        missing += _unbounded(cls.Params, f"interventions.{name}.")
    assert [m for m in missing if m != "run.draw"] == []
