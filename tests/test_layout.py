"""The code's layout: no private name crosses a module, and every run goes through simulate().

A name with a leading underscore is its module's own business. Another module of
``sim`` may not import it (``from sim.x import _name``) or reach it through the module
(``x._name`` after ``from sim import x`` or ``import sim.x as x``).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SIM = ROOT / "sim"


def _is_private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def _module_of(path: Path, root: Path) -> str:
    parts = path.relative_to(root).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _absolute(node: ast.ImportFrom, here: str, is_package: bool) -> str:
    """The module an ``from ... import`` names, with relative imports resolved."""
    if not node.level:
        return node.module or ""
    base = here.split(".")
    if not is_package:
        base = base[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join([*base, node.module] if node.module else base)


def private_crossings(path: Path, root: Path = ROOT) -> list[str]:
    """Where the file at ``path`` (under ``root``) uses a private name of another ``sim`` module."""
    here = _module_of(path, root)
    is_package = path.name == "__init__.py"
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found = []
    modules: dict[str, str] = {}  # local name -> sim module it is bound to
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            source = _absolute(node, here, is_package)
            if not (source == "sim" or source.startswith("sim.")) or source == here:
                continue
            for alias in node.names:
                if _is_private(alias.name):
                    found.append(f"{path.name}:{node.lineno}: from {source} import {alias.name}")
                else:  # perhaps a module: ``from sim import runner``
                    modules[alias.asname or alias.name] = f"{source}.{alias.name}"
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("sim.") and alias.name != here:
                    modules[alias.asname or alias.name] = alias.name
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and _is_private(node.attr):
            target = ast.unparse(node.value)
            if target in modules and modules[target] != here:
                found.append(f"{path.name}:{node.lineno}: {target}.{node.attr}")
    return found


def test_the_check_finds_both_kinds_of_crossing(tmp_path: Path):
    """The checker itself: it must flag an import of a private name and an attribute reach."""
    bad = tmp_path / "sim" / "bad.py"
    bad.parent.mkdir()
    bad.write_text(
        "from sim.scenario import _merge\n"
        "from sim import calibration\n"
        "import sim.results as results\n"
        "from . import _hidden\n"
        "calibration._pool_map\n"
        "results._param_types\n"
        "calibration.pool_map\n"
    )
    assert private_crossings(bad, tmp_path) == [
        "bad.py:1: from sim.scenario import _merge",
        "bad.py:4: from sim import _hidden",
        "bad.py:5: calibration._pool_map",
        "bad.py:6: results._param_types",
    ]


FILES = sorted(SIM.rglob("*.py"))


@pytest.mark.parametrize("path", FILES, ids=[str(p.relative_to(SIM)) for p in FILES])
def test_no_module_uses_a_private_name_of_another(path: Path):
    assert private_crossings(path) == []


# -- every run goes through simulate() ----------------------------------------------------

TINY = ROOT / "tests" / "experiment_scenarios" / "tiny.toml"


@pytest.fixture
def simulate_calls(monkeypatch) -> list[tuple[str, int, float]]:
    """Record every call of sim.simulation.simulate (then run it for real): the scenario's
    name, the seed and the detection scale it ran with (draw applied)."""
    from sim import simulation

    real = simulation.simulate
    calls: list[tuple[str, int, float]] = []

    def recording(scenario, seed, draw=None, **options):
        done = real(scenario, seed, draw, **options)
        calls.append((scenario.name, seed, done.scenario.justice.detection_scale))
        return done

    monkeypatch.setattr(simulation, "simulate", recording)
    return calls


def _short(path: Path = TINY):
    from sim.scenario import load_scenario, with_overrides

    return with_overrides(load_scenario(path, use_posterior=False), years=1, burn_in_years=0)


def test_yjsim_run_goes_through_simulate(simulate_calls, tmp_path: Path):
    from typer.testing import CliRunner

    from sim.cli import app

    result = CliRunner().invoke(
        app, ["run", str(TINY), "--years", "1", "--seed", "5", "--out", str(tmp_path / "o")]
    )
    assert result.exit_code == 0, result.output
    assert [c[:2] for c in simulate_calls] == [("tiny", 5)]
    assert (tmp_path / "o" / "summary.json").is_file()


def test_an_experiment_run_goes_through_simulate(simulate_calls, tmp_path: Path):
    from sim.batch import run_chunk
    from sim.experiment import load_experiment
    from sim.results import FAILURES, RowContext

    exp_file = tmp_path / "e.toml"
    exp_file.write_text(
        f'name = "e"\nscenarios = ["{TINY}"]\nreplicates = 1\nseed = 3\n'
        "years = 1\nburn_in_years = 0\n"
    )
    exp = load_experiment(exp_file)
    out = tmp_path / "out"
    for kind in ("summary", "timeseries", FAILURES):
        (out / kind).mkdir(parents=True)
    run = exp.runs()[0]
    # The dask task, called directly: the function a worker runs for each chunk.
    payload = [(run, exp.scenario_for(run), exp.source_for(run))]
    [status] = run_chunk(payload, str(out), ("summary",), RowContext.of(exp))
    assert status["ok"], status
    assert [c[:2] for c in simulate_calls] == [("tiny", 3)]
    assert (out / "summary" / run.part).is_file()


def test_the_calibration_and_sensitivity_go_through_simulate(simulate_calls):
    from sim.calibration import simulate_guarded, simulate_settings

    theta = {"justice.detection_scale": 1.5}
    stats = simulate_settings({"tiny": _short()}, theta, 9, 1.0, [("tiny", "arrests_per_year")])
    assert stats["tiny.arrests_per_year"] >= 0
    simulate_guarded(_short(), 10, theta)  # what the sensitivity analysis calls
    assert simulate_calls == [("tiny", 9, 1.5), ("tiny", 10, 1.5)]
    assert _short().justice.detection_scale != 1.5
