"""The TOML reader's limits: files that cannot be read become one line, for every kind of file.

The committed corpora (tests/bad_scenarios/, bad_experiments/, bad_calibrations/) hold
the deeply nested files; a link that loops and a file over the size limit are made
here, in a temporary folder (a committed loop would trip tools that walk the tree, and
a committed 1 MiB file would be dead weight).
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import assert_rejected_as_expected

from sim.calibration import Calibration, CalibrationError
from sim.experiment import ExperimentError, load_experiment
from sim.scenario import ScenarioError, load_scenario
from sim.tomlfile import MAX_NESTING, MAX_TOML_BYTES, InputError, read_toml

HERE = Path(__file__).resolve().parent
TINY = HERE / "experiment_scenarios" / "tiny.toml"

LOADERS: dict[str, Callable[[Path], object]] = {
    "scenario": load_scenario,
    "experiment": load_experiment,
    "calibration": Calibration,
}
ERRORS = {"scenario": ScenarioError, "experiment": ExperimentError, "calibration": CalibrationError}


def _loop(folder: Path, name: str = "loop.toml") -> Path:
    """A symbolic link to itself."""
    path = folder / name
    os.symlink(name, path)
    return path


def _too_large(folder: Path, name: str = "large.toml") -> Path:
    """A valid TOML file one byte over the limit (a name, then a long comment)."""
    path = folder / name
    head = 'name = "large"\n#'
    path.write_text(head + "x" * (MAX_TOML_BYTES + 1 - len(head)))
    assert path.stat().st_size == MAX_TOML_BYTES + 1
    return path


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "sim.cli", *args], capture_output=True, text=True, timeout=120
    )


@pytest.mark.parametrize("kind", LOADERS)
def test_a_link_that_loops_is_one_line(kind: str, tmp_path: Path):
    path = _loop(tmp_path)
    with pytest.raises(ERRORS[kind]) as info:
        LOADERS[kind](path)
    assert str(info.value) == f"{path}: a symbolic link that loops (or too many links in a row)"


@pytest.mark.parametrize("kind", LOADERS)
def test_a_file_over_the_size_limit_is_refused_unread(kind: str, tmp_path: Path):
    path = _too_large(tmp_path)
    with pytest.raises(ERRORS[kind]) as info:
        LOADERS[kind](path)
    assert str(info.value) == (
        f"{path}: too large for a TOML file (1,048,577 bytes; the limit is 1,048,576)"
    )


def test_a_file_at_the_size_limit_is_read(tmp_path: Path):
    path = tmp_path / "full.toml"
    head = 'name = "full"\n#'
    path.write_text(head + "x" * (MAX_TOML_BYTES - len(head)))
    assert read_toml(path, InputError, "missing") == {"name": "full"}


def test_nesting_up_to_the_limit_is_read_and_one_more_level_is_refused(tmp_path: Path):
    path = tmp_path / "n.toml"
    # The top-level table is one level: MAX_NESTING - 1 arrays inside it reach the limit.
    inner = MAX_NESTING - 1
    path.write_text(f"v = {'[' * inner}{']' * inner}\n")
    assert read_toml(path, InputError, "missing")["v"] is not None
    path.write_text(f"v = {'[' * (inner + 1)}{']' * (inner + 1)}\n")
    with pytest.raises(InputError, match=f"nested more than {MAX_NESTING} deep"):
        read_toml(path, InputError, "missing")


def test_a_folder_and_a_missing_file_are_one_line(tmp_path: Path):
    with pytest.raises(ScenarioError, match=r": is a folder, not a TOML file$"):
        load_scenario(tmp_path)
    with pytest.raises(ScenarioError, match=r"nothing.toml: no such scenario file$"):
        load_scenario(tmp_path / "nothing.toml")


def test_a_scenario_extending_a_loop_names_the_loop(tmp_path: Path):
    _loop(tmp_path, "parent.toml")
    child = tmp_path / "child.toml"
    child.write_text('name = "child"\nextends = "parent.toml"\n')
    with pytest.raises(ScenarioError, match=r"parent.toml: a symbolic link that loops"):
        load_scenario(child)


def test_an_experiment_naming_a_looping_scenario_names_both(tmp_path: Path):
    _loop(tmp_path, "s.toml")
    exp = tmp_path / "e.toml"
    exp.write_text('name = "e"\nscenarios = ["s.toml"]\nreplicates = 1\n')
    with pytest.raises(ExperimentError) as info:
        load_experiment(exp)
    assert str(info.value) == (
        f"{exp}: scenarios: in scenario s.toml: a symbolic link that loops "
        "(or too many links in a row)"
    )


def test_a_calibration_whose_targets_loop_names_the_targets(tmp_path: Path):
    cfg = (HERE / "bad_calibrations" / "unknown-key.toml").read_text()
    cfg = cfg.replace("[abc]\npopulaton_size = 10\n", "")
    cfg = cfg.replace("../calibration/smoke-targets.toml", "targets.toml")
    cfg = cfg.replace("../experiment_scenarios/tiny.toml", str(TINY))
    (tmp_path / "c.toml").write_text(cfg)
    targets = _loop(tmp_path, "targets.toml")
    with pytest.raises(CalibrationError, match=f"^{targets}: a symbolic link that loops"):
        Calibration(tmp_path / "c.toml")


@pytest.mark.parametrize(
    ("command", "make"),
    [
        (["validate"], _loop),
        (["run"], _too_large),
        (["experiment", "--out", "OUT"], _loop),
        (["calibrate"], _loop),
        (["validate"], lambda d: HERE / "bad_scenarios" / "nested_500_deep.toml"),
        (
            ["experiment", "--out", "OUT"],
            lambda d: HERE / "bad_experiments" / "nested_500_deep.toml",
        ),
    ],
    ids=[
        "validate-loop",
        "run-large",
        "experiment-loop",
        "calibrate-loop",
        "validate-deep",
        "experiment-deep",
    ],
)
def test_commands_answer_an_unreadable_file_with_one_line_and_exit_2(
    command: list[str], make: Callable[[Path], Path], tmp_path: Path
):
    path = make(tmp_path)
    args = [a.replace("OUT", str(tmp_path / "out")) for a in command]
    proc = _cli(args[0], str(path), *args[1:])
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"yjsim: error: {path}: "), proc.stderr
    assert not (tmp_path / "out").exists()


def test_list_shows_each_unreadable_file_on_its_own_line_and_goes_on(tmp_path: Path):
    (tmp_path / "a-good.toml").write_text('name = "good"\ndescription = "a good one"\n')
    _loop(tmp_path, "b-loop.toml")
    _too_large(tmp_path, "c-large.toml")
    deep = (HERE / "bad_scenarios" / "nested_500_deep.toml").read_text()
    (tmp_path / "d-deep.toml").write_text(deep)
    (tmp_path / "e-good.toml").write_text('name = "also"\ndescription = "another good one"\n')
    proc = _cli("list", str(tmp_path))
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    lines = proc.stdout.strip().splitlines()
    assert [line.split()[0] for line in lines] == [
        "a-good.toml",
        "b-loop.toml",
        "c-large.toml",
        "d-deep.toml",
        "e-good.toml",
    ]
    assert "a good one" in lines[0] and "another good one" in lines[4]
    assert "(invalid: a symbolic link that loops" in lines[1]
    assert "(invalid: too large for a TOML file" in lines[2]
    assert f"(invalid: tables or arrays nested more than {MAX_NESTING} deep)" in lines[3]


@pytest.mark.parametrize(
    "path",
    [
        HERE / "bad_scenarios" / "nested_500_deep.toml",
        HERE / "bad_experiments" / "nested_500_deep.toml",
        HERE / "bad_calibrations" / "nested-500-deep.toml",
    ],
    ids=["scenario", "experiment", "calibration"],
)
def test_the_corpora_hold_a_file_nested_500_deep(path: Path):
    """The corpus tests load these; here: they really are 500 deep (a RecursionError before)."""
    assert "[" * 500 in path.read_text()
    loader = {"bad_scenarios": load_scenario, "bad_experiments": load_experiment}.get(
        path.parent.name, Calibration
    )
    assert_rejected_as_expected(path, loader)
