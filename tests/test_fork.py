"""Shared burn-in in experiments (sim/fork.py, sim/batch.py): each (seed, draw) burns in
once under the baseline's policies; every policy scenario starts from that world."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest
from conftest import EXPERIMENT_SCENARIOS

from sim import batch, fork
from sim.batch import run_experiment
from sim.experiment import ExperimentError, load_experiment
from sim.simulation import simulate

FILES = ["tiny", "tiny-more-officers", "tiny-no-triage", "tiny-more-detection"]


def _experiment(tmp: Path, burn_in: str = "shared", name: str = "fork") -> Path:
    files = ", ".join(f'"{EXPERIMENT_SCENARIOS / f"{f}.toml"}"' for f in FILES)
    path = tmp / f"{name}.toml"
    mode = "" if burn_in == "shared" else f'burn_in = "{burn_in}"\n'  # shared: the default
    path.write_text(f'name = "{name}"\nscenarios = [{files}]\nreplicates = 2\nseed = 21\n{mode}')
    return path


@pytest.fixture(scope="module")
def forked(tmp_path_factory) -> Path:
    tmp = tmp_path_factory.mktemp("fork")
    out = tmp / "results"
    result = run_experiment(_experiment(tmp), out, workers=2, progress=False)
    assert (result.succeeded, result.failed) == (8, 0)
    return out


def test_policies_fork_from_the_baseline_and_another_world_burns_in_on_its_own(forked: Path):
    manifest = json.loads((forked / "experiment.json").read_text())
    assert manifest["burn_in"] == "shared"
    assert [s["burn_in_from"] for s in manifest["scenarios"]] == ["tiny", "tiny", "tiny", None]


def test_the_forked_baseline_is_the_baseline_run_alone_bit_for_bit(forked: Path):
    exp = load_experiment(_experiment(forked.parent, name="again"))
    summary = pd.read_parquet(forked / "summary")
    for sc in (exp.scenarios[0], exp.scenarios[3]):
        row = summary[(summary["scenario"] == sc.name) & (summary["replicate"] == 1)].iloc[0]
        alone = simulate(sc, int(row["seed"])).summary
        assert row["true_offences_per_year"] == alone["true_offences_per_year"]
        assert row["first_time_entrants_per_year"] == alone["first_time_entrants_per_year"]
        assert row["cost_per_year_gbp.total"] == alone["cost_per_year_gbp"]["total"]


def test_forked_policies_share_the_burn_in_and_differ_from_year_0(forked: Path):
    series = pd.read_parquet(forked / "timeseries")
    burn_weeks = 52  # tiny.toml: one year of burn-in
    for r in (0, 1):
        runs = series[series["replicate"] == r]
        # Offences and detections: a policy may change who is caught before it changes
        # any offence (in a tiny borough more schools officers can change only the latter).
        outcomes = ["offences", "detected"]
        base = runs[runs["scenario"] == "tiny"].set_index("week")[outcomes]
        for name in ("tiny-more-officers", "tiny-no-triage"):
            other = runs[runs["scenario"] == name].set_index("week")[outcomes]
            assert base.loc[: burn_weeks - 1].equals(other.loc[: burn_weeks - 1])
            assert not base.loc[burn_weeks:].equals(other.loc[burn_weeks:])
        own = runs[runs["scenario"] == "tiny-more-detection"].set_index("week")["detected"]
        base_detected = runs[runs["scenario"] == "tiny"].set_index("week")["detected"]
        assert not base_detected.loc[: burn_weeks - 1].equals(own.loc[: burn_weeks - 1])


def test_finished_groups_leave_no_snapshot_behind(forked: Path):
    assert list((forked / "snapshots").iterdir()) == []


def test_a_resume_reads_a_snapshot_left_behind_and_remakes_a_damaged_one(forked, tmp_path):
    out = tmp_path / "results"
    shutil.copytree(forked, out)
    for kind in ("summary", "timeseries"):  # as if killed before any run finished
        for part in (out / kind).iterdir():
            part.unlink()
    exp = load_experiment(forked.parent / "fork.toml")
    runs = exp.runs()
    first = next(r for r in runs if r.replicate == 0 and r.source == 0)
    second = next(r for r in runs if r.replicate == 1 and r.source == 0)
    batch.shared_burn_in(exp.source_for(first), first.seed, out / "snapshots")  # before a kill
    key = fork.burn_in_key(exp.source_for(second), second.seed, batch.code_version())
    (out / "snapshots" / f"{key}.yjsnap").write_bytes(b"half a file")  # a damaged file
    result = run_experiment(forked.parent / "fork.toml", out, workers=1, progress=False)
    assert (result.succeeded, result.failed) == (8, 0)
    made = {r["part"]: r.get("burn_in_s") for r in result.per_run}
    assert made[first.part] == 0.0  # read, not made
    assert made[second.part] > 0.0  # made again
    for kind in ("summary", "timeseries"):
        a = pd.read_parquet(forked / kind)
        b = pd.read_parquet(out / kind)
        pd.testing.assert_frame_equal(a, b)
    assert list((out / "snapshots").iterdir()) == []


def test_a_folder_made_with_one_burn_in_is_not_resumed_with_the_other(forked, tmp_path):
    out = tmp_path / "results"
    shutil.copytree(forked, out)
    manifest = json.loads((out / "experiment.json").read_text())
    del manifest["burn_in"]  # a folder from before shared burn-in: its runs burned in alone
    (out / "experiment.json").write_text(json.dumps(manifest))
    with pytest.raises(ExperimentError, match="made with burn_in = 'own'"):
        run_experiment(forked.parent / "fork.toml", out, workers=1, progress=False)


def test_own_burn_in_runs_every_scenario_as_it_runs_alone(tmp_path):
    exp = load_experiment(_experiment(tmp_path, burn_in="own"))
    assert exp.sources == [-1, -1, -1, -1]
    assert all(exp.source_for(r) is None for r in exp.runs())


def test_the_report_says_which_burn_in_was_run(forked: Path, tmp_path: Path):
    from sim.report import write_report

    out = tmp_path / "results"
    shutil.copytree(forked, out)
    text = (write_report(out).parent / "index.md").read_text()
    assert "Shared burn-in: each seed burned in once under tiny's policies" in text
    assert "tiny-more-detection differ in more than policy and burned in on their own" in text


def test_a_shared_store_keeps_the_worlds_for_the_next_experiment(forked: Path, tmp_path: Path):
    store = tmp_path / "worlds"
    first = run_experiment(
        forked.parent / "fork.toml", tmp_path / "a", workers=1, progress=False, snapshots=store
    )
    made = [r["burn_in_s"] for r in first.per_run if "burn_in_s" in r]
    assert made and max(made) > 0  # made once per seed...
    assert len(list(store.glob("*.yjsnap"))) == 2  # ...and kept: 2 seeds
    # Another experiment with the same baseline world and seeds reads them all.
    again = run_experiment(
        _experiment(tmp_path, name="more"), tmp_path / "b", workers=1, progress=False,
        snapshots=store,
    )  # fmt: skip
    assert all(r.get("burn_in_s", 0.0) == 0.0 for r in again.per_run)
    a = pd.read_parquet(forked / "summary").drop(columns=["experiment"], errors="ignore")
    b = pd.read_parquet(tmp_path / "b" / "summary").drop(columns=["experiment"], errors="ignore")
    pd.testing.assert_frame_equal(a, b)


def test_a_store_that_cannot_be_a_folder_is_one_error_and_nothing_is_left(forked, tmp_path):
    from sim.tomlfile import InputError

    blocked = tmp_path / "file"
    blocked.write_text("a file where the store would go")
    with pytest.raises(InputError, match="cannot be a folder"):
        run_experiment(
            forked.parent / "fork.toml", tmp_path / "out", workers=1, progress=False,
            snapshots=blocked / "worlds",
        )  # fmt: skip
    assert not (tmp_path / "out").exists()


def test_each_posterior_draw_forks_from_its_own_burned_in_world(tmp_path: Path):
    files = ", ".join(f'"{EXPERIMENT_SCENARIOS / f}.toml"' for f in ("tiny", "tiny-more-officers"))
    path = tmp_path / "draws.toml"
    path.write_text(f'name = "draws"\nscenarios = [{files}]\nreplicates = 1\ndraws = 2\nseed = 4\n')
    exp = load_experiment(path)
    assert exp.particles[0] != exp.particles[1]
    result = run_experiment(path, tmp_path / "out", workers=1, progress=False)
    assert (result.succeeded, result.failed) == (4, 0)
    series = pd.read_parquet(tmp_path / "out" / "timeseries")
    burn = series[series["week"] < 52].sort_values("week")
    by = {key: g["offences"].to_numpy() for key, g in burn.groupby(["scenario", "draw"])}
    for d in (1, 2):  # the policy shares its draw's burn-in with the baseline...
        assert (by[("tiny", d)] == by[("tiny-more-officers", d)]).all()
    assert not (by[("tiny", 1)] == by[("tiny", 2)]).all()  # ...and the draws differ
