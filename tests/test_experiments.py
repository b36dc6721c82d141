"""Experiments: the schema and its errors, paired seeds, resumable Parquet results on dask.

The batches use a 1,500-child borough (tests/experiment_scenarios/tiny.toml) so a run
takes well under a second; most of a test's time is starting dask's worker processes.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import psutil
import pyarrow.dataset as pads
import pyarrow.parquet as pq
import pytest
from conftest import assert_rejected_as_expected, write_experiment

from sim import batch, simulation
from sim.batch import run_experiment
from sim.experiment import ExperimentError, load_experiment
from sim.faults import Fault
from sim.results import flatten_summary
from sim.scenario import ScenarioError, apply_overrides, load_scenario

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
BAD = sorted((HERE / "bad_experiments").glob("*.toml"))
SMOKE = ROOT / "experiments" / "smoke.toml"
TINY = HERE / "experiment_scenarios" / "tiny.toml"


def experiment_file(tmp: Path, name: str = "exp", replicates: int = 3, **extra) -> Path:
    """The tiny borough against more detection, with this file's seed."""
    return write_experiment(tmp, name, replicates, seed=11, **extra)


SORT = ["scenario", "draw", "replicate"]


def _frame(out: Path, kind: str) -> pd.DataFrame:
    return pd.read_parquet(out / kind).sort_values(
        SORT + (["week"] if kind == "timeseries" else [])
    )


def _assert_same_results(a: Path, b: Path) -> None:
    for kind in ("summary", "timeseries"):
        fa, fb = _frame(a, kind), _frame(b, kind)
        pd.testing.assert_frame_equal(
            fa.reset_index(drop=True), fb.reset_index(drop=True), check_exact=True
        )


# -- the schema ---------------------------------------------------------------------------


def test_corpus_is_not_empty():
    assert len(BAD) >= 12


@pytest.mark.parametrize("path", BAD, ids=[p.stem for p in BAD])
def test_malformed_experiment_is_rejected_naming_file_and_key(path: Path):
    assert_rejected_as_expected(path, load_experiment)


@pytest.mark.parametrize("path", BAD[:3], ids=[p.stem for p in BAD[:3]])
def test_command_exits_2_with_one_line_and_writes_nothing(path: Path, tmp_path: Path):
    out = tmp_path / "out"
    proc = subprocess.run(
        [sys.executable, "-m", "sim.cli", "experiment", str(path), "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("yjsim: error: "), proc.stderr
    assert not out.exists()


def test_smoke_experiment_loads_with_the_first_scenario_as_baseline():
    exp = load_experiment(SMOKE)
    assert exp.baseline == "tiny"
    assert exp.scenario_names == ["tiny", "tiny-more-detection"]
    assert all(s.run.seed == 11 for s in exp.scenarios)


def test_replicate_r_has_the_same_seed_in_every_scenario(tmp_path: Path):
    exp = load_experiment(experiment_file(tmp_path, replicates=5))
    runs = exp.runs()
    assert len(runs) == 10
    by = {}
    for r in runs:
        by.setdefault(r.replicate, set()).add(r.seed)
    assert all(len(seeds) == 1 for seeds in by.values())
    assert sorted(next(iter(s)) for s in by.values()) == [11, 12, 13, 14, 15]
    assert len({r.part for r in runs}) == len(runs)


def test_experiment_years_override_every_scenario(tmp_path: Path):
    exp = load_experiment(experiment_file(tmp_path, years=3, burn_in_years=0))
    assert {(s.run.years, s.run.burn_in_years) for s in exp.scenarios} == {(3, 0)}


def test_parameters_that_differ_between_scenarios_become_columns(tmp_path: Path):
    cols = load_experiment(experiment_file(tmp_path)).param_columns()
    base = load_scenario(TINY).justice.detection_scale
    assert base != 2.7
    assert cols["param.justice.detection_scale"] == {"tiny": base, "tiny-more-detection": 2.7}
    assert cols["param.population.population_10_17"]["tiny"] == 1500
    assert "param.justice.group_detection_probability" not in cols  # equal in both


def test_overrides_change_a_parameter_and_reject_unknown_or_impossible_ones():
    sc = load_scenario(TINY)
    before = sc.justice.detection_scale
    changed = apply_overrides(sc, {"justice.detection_scale": 2.0})
    assert changed.justice.detection_scale == 2.0 and sc.justice.detection_scale == before
    assert apply_overrides(sc, {}) is sc
    with pytest.raises(ScenarioError, match=r"justice\.detection_scal: unknown parameter"):
        apply_overrides(sc, {"justice.detection_scal": 2.0})
    with pytest.raises(ScenarioError, match=r"justice\.detection_scale: expected a value <= 5"):
        apply_overrides(sc, {"justice.detection_scale": 50.0})


def test_flattened_summaries_have_the_same_columns_whoever_was_in_the_run():
    a = {
        "scenario": "x",
        "seed": 1,
        "proven_reoffending_rate": 0.4,
        "reoffending_rate_by_age": {"14": 0.5},
        "reoffending_rate_by_sex": {"M": 0.5},
        "reoffending_cohort_by_previous_offences": {"0": 3},
        "relative_rate_index": {"arrest": {"Black": None, "White": 1.0}},
        "intervention_reach": {},
        "cost_per_year_gbp": {"court": 10.0, "total": 10.0},
    }
    b = {
        **a,
        "reoffending_rate_by_age": {"16": 0.1, "17": 0.2},
        "reoffending_rate_by_sex": {"F": 0.1, "M": 0.2},
        "reoffending_cohort_by_previous_offences": {"1-2": 1, "0": 2},
        "intervention_reach": {"triage": 40},
        "cost_per_year_gbp": {"court": 10.0, "triage": 5.0, "total": 15.0},
    }
    fa, fb = flatten_summary(a, ["triage"]), flatten_summary(b, ["triage"])
    assert list(fa) == list(fb)
    assert "seed" not in fa and "scenario" not in fa
    assert fa["intervention_reach.triage"] == 0.0 and fb["intervention_reach.triage"] == 40.0
    assert fa["cost_per_year_gbp.triage"] == 0.0 and fb["cost_per_year_gbp.triage"] == 5.0
    assert fa["reoffending_cohort_by_previous_offences.1-2"] == 0.0
    assert pd.isna(fa["reoffending_rate_by_age.17"]) and fb["reoffending_rate_by_age.17"] == 0.2
    assert pd.isna(fa["relative_rate_index.arrest.Black"])
    assert all(isinstance(v, float) for v in fa.values())


# -- batches --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def smoke_results(tmp_path_factory) -> Path:
    """The smoke experiment, run once, uninterrupted, on a local cluster of 2 workers."""
    out = tmp_path_factory.mktemp("smoke") / "results"
    result = run_experiment(SMOKE, out, workers=2, progress=False)
    assert (result.runs, result.succeeded, result.failed, result.skipped) == (6, 6, 0, 0)
    return out


def test_results_open_as_one_dataset_with_one_schema(smoke_results: Path):
    summary = pd.read_parquet(smoke_results / "summary")
    assert len(summary) == 6
    assert set(summary["scenario"]) == {"tiny", "tiny-more-detection"}
    table = pads.dataset(smoke_results / "summary").to_table()
    assert table.num_rows == 6
    schemas = {str(pq.read_schema(f)) for f in (smoke_results / "summary").glob("*.parquet")}
    assert len(schemas) == 1
    for col in (
        "replicate",
        "draw",
        "seed",
        "param.justice.detection_scale",
        "cost_per_year_gbp.total",
        "relative_rate_index.arrest.Black",
        "children_cautioned_or_sentenced_per_year",
        "first_time_entrants_per_year",
        "true_offences_per_year",
    ):
        assert col in summary.columns, col
    # Paired: the same seeds in both scenarios, one per replicate.
    seeds = summary.pivot(index="replicate", columns="scenario", values="seed")
    assert (seeds["tiny"] == seeds["tiny-more-detection"]).all()
    assert list(seeds["tiny"]) == [11, 12, 13]
    # The policy changes outcomes (more detection, more children proven to offend).
    detected = summary.groupby("scenario")["detected_offences_per_year"].mean()
    assert detected["tiny-more-detection"] > detected["tiny"]
    series = pd.read_parquet(smoke_results / "timeseries")
    weeks = load_experiment(SMOKE).scenarios[0].run
    per_run = (weeks.years + weeks.burn_in_years) * 52 + 79
    assert len(series) == 6 * per_run
    manifest = json.loads((smoke_results / "experiment.json").read_text())
    assert manifest["baseline"] == "tiny" and manifest["runs"] == 6
    assert manifest["experiment_toml"] == SMOKE.read_text()


def test_a_run_equals_the_same_scenario_and_seed_run_alone(smoke_results: Path):
    from sim.model import YouthJusticeModel
    from sim.summary import summarise

    sc = load_experiment(SMOKE).scenarios[1]
    model = YouthJusticeModel(scenario=sc, seed=12)
    model.run()
    alone = summarise(model)
    row = pd.read_parquet(smoke_results / "summary")
    row = row[(row["scenario"] == sc.name) & (row["replicate"] == 1)].iloc[0]
    assert row["seed"] == 12
    assert row["true_offences_per_year"] == alone["true_offences_per_year"]
    assert row["cost_per_year_gbp.total"] == alone["cost_per_year_gbp"]["total"]


def test_rerun_skips_finished_runs_and_changes_nothing(smoke_results: Path, tmp_path: Path):
    out = tmp_path / "copy"
    shutil.copytree(smoke_results, out)
    before = {p: p.stat().st_mtime_ns for p in (out / "summary").glob("*.parquet")}
    result = run_experiment(SMOKE, out, workers=1, progress=False)
    assert (result.skipped, result.succeeded, result.failed) == (6, 0, 0)
    assert {p: p.stat().st_mtime_ns for p in (out / "summary").glob("*.parquet")} == before


def test_a_missing_part_is_rerun_and_the_result_is_unchanged(smoke_results: Path, tmp_path: Path):
    out = tmp_path / "copy"
    shutil.copytree(smoke_results, out)
    (out / "summary" / "tiny__d0000__r00001.parquet").unlink()
    (out / "timeseries" / "tiny-more-detection__d0000__r00002.parquet").unlink()
    (out / "summary" / ".tiny__d0000__r00000.parquet.123.abcd.tmp").write_bytes(b"half a file")
    result = run_experiment(SMOKE, out, workers=1, progress=False)
    assert (result.skipped, result.succeeded) == (4, 2)
    assert not list((out / "summary").glob(".*.tmp"))
    _assert_same_results(out, smoke_results)


def test_a_different_experiment_is_refused_and_nothing_changes(smoke_results: Path, tmp_path: Path):
    out = tmp_path / "copy"
    shutil.copytree(smoke_results, out)
    other = experiment_file(tmp_path, name="other", replicates=4)
    with pytest.raises(ExperimentError, match="holds results of a different experiment"):
        run_experiment(other, out, workers=1, progress=False)
    assert len(list((out / "summary").glob("*.parquet"))) == 6
    folder = tmp_path / "notes"
    folder.mkdir()
    (folder / "mine.txt").write_text("not results")
    with pytest.raises(ExperimentError, match="holds something other than experiment results"):
        run_experiment(other, folder, workers=1, progress=False)
    assert [p.name for p in folder.iterdir()] == ["mine.txt"]


def test_an_unreachable_scheduler_is_one_error_and_writes_nothing(tmp_path: Path, monkeypatch):
    monkeypatch.setattr(batch, "CONNECT_TIMEOUT_S", 2)
    # A fault (exit status 3), not bad input: the address may be right and the scheduler down.
    with pytest.raises(Fault, match=r"tcp://127\.0\.0\.1:9: cannot reach the scheduler"):
        run_experiment(SMOKE, tmp_path / "o", scheduler="tcp://127.0.0.1:9", progress=False)
    assert not (tmp_path / "o").exists()


def _descendants(pid: int) -> list[psutil.Process]:
    try:
        return psutil.Process(pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return []


def _start(experiment: Path, out: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "sim.cli",
            "experiment",
            str(experiment),
            "--out",
            str(out),
            "--workers",
            "1",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _kill_after(proc: subprocess.Popen, out: Path, parts: int, total: int) -> int:
    """SIGKILL the batch once ``parts`` summary parts exist; return how many there were."""
    deadline = time.monotonic() + 120
    folder = out / "summary"
    while time.monotonic() < deadline:
        n = len(list(folder.glob("*.parquet"))) if folder.is_dir() else 0
        if n >= parts:
            break
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.02)
    children = _descendants(proc.pid)
    os.kill(proc.pid, signal.SIGKILL)
    proc.communicate(timeout=30)
    n = len(list(folder.glob("*.parquet")))
    # The workers notice their parent is gone and exit at once.
    _, alive = psutil.wait_procs(children, timeout=30)
    for p in alive:
        p.kill()
    assert not alive, f"worker processes outlived the killed batch: {alive}"
    assert n < total, "the batch finished before it was killed; the test proves nothing"
    return n


def test_a_batch_killed_twice_resumes_to_the_uninterrupted_result(tmp_path: Path):
    exp = experiment_file(tmp_path, name="killme", replicates=5, chunk=2)
    total = 10
    clean = tmp_path / "clean"
    result = run_experiment(exp, clean, workers=1, progress=False)
    assert result.succeeded == total

    out = tmp_path / "killed"
    first = _kill_after(_start(exp, out), out, 2, total)
    second = _kill_after(_start(exp, out), out, first + 2, total)
    assert second > first
    proc = _start(exp, out)
    stdout, stderr = proc.communicate(timeout=300)
    assert proc.returncode == 0, stderr
    assert f"{second} already done" in stderr  # plain progress lines off a terminal
    assert f"{total - second} ran, 0 failed" in stdout
    assert len(list((out / "summary").glob("*.parquet"))) == total
    assert not list((out / "summary").glob(".*")) and not list((out / "timeseries").glob(".*"))
    _assert_same_results(out, clean)


def test_a_failing_run_is_recorded_the_batch_goes_on_and_a_rerun_retries_it(
    tmp_path: Path, monkeypatch
):
    from distributed import LocalCluster

    real = simulation.simulate

    def flaky(sc, seed, draw=None, **options):
        if sc.name == "tiny-more-detection" and seed == 12:
            raise FloatingPointError("simulated failure in week 3")
        return real(sc, seed, draw, **options)

    exp = experiment_file(tmp_path, replicates=3)
    out = tmp_path / "out"
    # Threads in this process, so the patched function is the one the tasks call.
    with LocalCluster(n_workers=1, threads_per_worker=1, processes=False) as cluster:
        monkeypatch.setattr(simulation, "simulate", flaky)
        result = run_experiment(exp, out, scheduler=cluster.scheduler_address, progress=False)
        assert (result.succeeded, result.failed) == (5, 1)
        assert result.failures[0]["scenario"] == "tiny-more-detection"
        assert result.failures[0]["replicate"] == 1
        failures = pd.read_parquet(out / "failures")
        assert len(failures) == 1
        assert failures.loc[0, "error"].startswith(
            "FloatingPointError: simulated failure in week 3"
        )
        assert "flaky" in failures.loc[0, "traceback"]
        assert len(pd.read_parquet(out / "summary")) == 5

        monkeypatch.setattr(simulation, "simulate", real)
        again = run_experiment(exp, out, scheduler=cluster.scheduler_address, progress=False)
    assert (again.skipped, again.succeeded, again.failed) == (5, 1, 0)
    assert not list((out / "failures").glob("*.parquet"))
    assert len(pd.read_parquet(out / "summary")) == 6


def test_a_separately_started_scheduler_gives_the_same_results(smoke_results: Path, tmp_path: Path):
    dask = Path(sys.executable).parent / "dask"
    sched_file = tmp_path / "scheduler.json"
    procs = [
        subprocess.Popen(
            [
                str(dask),
                "scheduler",
                "--host",
                "127.0.0.1",
                "--port",
                "0",
                "--no-dashboard",
                "--scheduler-file",
                str(sched_file),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
    ]
    try:
        deadline = time.monotonic() + 60
        address = ""
        while not address and time.monotonic() < deadline:
            time.sleep(0.1)
            try:  # the scheduler may still be writing its file
                address = json.loads(sched_file.read_text())["address"]
            except (OSError, ValueError, KeyError):
                pass
        assert address.startswith("tcp://127.0.0.1:")
        procs.append(
            subprocess.Popen(
                [
                    str(dask),
                    "worker",
                    address,
                    "--nthreads",
                    "1",
                    "--memory-limit",
                    "1GiB",
                    "--no-dashboard",
                    "--host",
                    "127.0.0.1",
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        )
        out = tmp_path / "remote"
        result = run_experiment(SMOKE, out, scheduler=address, progress=False)
        assert (result.succeeded, result.failed, result.workers) == (6, 0, 1)
        _assert_same_results(out, smoke_results)
        with pytest.raises(ExperimentError, match="applies to a local cluster"):
            run_experiment(SMOKE, tmp_path / "x", scheduler=address, workers=2, progress=False)
    finally:
        for p in reversed(procs):
            p.terminate()
        for p in reversed(procs):
            try:
                p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                p.kill()
