"""Experiments: batches of scenarios x replicates on dask.distributed, with resumable results.

An experiment file (TOML, in ``experiments/``) names the scenarios to compare (the first
is the baseline), how many replicates, how many posterior draws, the years and the
outputs. :func:`run_experiment` runs every (scenario, draw, replicate) once:

- on a dask ``LocalCluster`` (one single-threaded worker process per core by default)
  or on a running scheduler given by address; the same code path either way;
- a task runs a chunk of runs and returns small status dicts, never a model, because
  one tiny run per task costs more in scheduling than in simulation;
- replicate r of every scenario gets the same seed (``seed + r``), so scenarios are
  compared on paired runs (common random numbers);
- each run writes its own Parquet part (``summary/``, ``timeseries/``) to a temporary
  name and renames it, so a part is whole or absent; a rerun skips finished runs, so a
  batch killed at any moment resumes to exactly the uninterrupted result;
- a run that fails is recorded in ``failures/`` and the batch goes on.

Posterior draws: with ``draws = D`` every scenario must name the same calibrated
posterior (``parameters = ...``); draw d is one particle of it, picked by systematic
resampling on the weights with the experiment's seed, and the same for every scenario,
so differences are paired on the draw as on the seed. Parameter uncertainty then shows
in the report's intervals next to the stochastic noise. Draw 0 (``draws = 0``) runs
each scenario's posterior mean, or its own parameters if it names no posterior.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import difflib
import fcntl
import gc
import hashlib
import json
import math
import os
import re
import sys
import threading
import time
import tomllib
import traceback
import uuid
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import pyarrow as pa
import pyarrow.dataset as pads
import pyarrow.parquet as pq
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from sim.posterior import Posterior, load_posterior
from sim.scenario import (
    Scenario,
    ScenarioError,
    _describe,
    apply_overrides,
    load_scenario,
    posterior_path,
)

EXPERIMENT_FORMAT = 1  # version of DIR/experiment.json and of the part layout
OUTPUTS = ("summary", "timeseries")
FAILURES = "failures"
# A Croydon 10-year run peaks at about 315 MB resident (measured with
# ru_maxrss); 2 GiB leaves room for boroughs six times larger before the
# nanny restarts a worker. London-scale runs need more: pass memory_limit.
DEFAULT_MEMORY_LIMIT = "2GiB"
# Chunks of at most this many runs, and about this many chunks per worker, so
# that a Croydon run (~10 s) dwarfs the per-task cost (~ms) yet the last
# chunks still spread over all workers.
MAX_CHUNK = 8
CHUNKS_PER_WORKER = 4
# Seconds to reach a scheduler given by address, and for its first worker to join.
CONNECT_TIMEOUT_S = 15
WORKER_WAIT_S = 60
# Seconds between plain progress lines when stderr is not a terminal.
LOG_EVERY_S = 30.0
# Keys of summary.json that identify a run rather than measure it.
_IDENTITY_KEYS = (
    "schema_version",
    "scenario",
    "seed",
    "parameters",
    "draw",
    "years",
    "burn_in_years",
)


class ExperimentError(ScenarioError):
    """A problem with an experiment file, its results folder or its cluster (file and key)."""


# -- the experiment file ----------------------------------------------------------------


class ExperimentFile(BaseModel):
    """The schema of an experiment TOML file."""

    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, description="the experiment's name")
    description: str = ""
    scenarios: list[str] = Field(
        min_length=1, description="scenario files, relative to this file; the first is the baseline"
    )
    replicates: int = Field(ge=1, le=100_000, description="runs per scenario (and per draw)")
    draws: int = Field(
        0, ge=0, le=10_000, description="posterior draws; 0 runs each scenario's own parameters"
    )
    seed: int = Field(1, ge=0, lt=2**62, description="replicate r (of draw d) uses seed + r")
    years: int | None = Field(
        None, ge=1, le=100, description="measured years for every scenario (default: theirs)"
    )
    burn_in_years: int | None = Field(
        None, ge=0, le=50, description="burn-in for every scenario (default: theirs)"
    )
    outputs: list[Literal["summary", "timeseries"]] = Field(
        default_factory=lambda: ["summary", "timeseries"], min_length=1
    )
    chunk: int | None = Field(
        None, ge=1, le=1000, description="runs per dask task (default: chosen from the batch)"
    )

    @field_validator("outputs")
    @classmethod
    def _unique_outputs(cls, value: list[str]) -> list[str]:
        if len(set(value)) != len(value):
            raise ValueError("each output may be listed once")
        return value


@dataclass(frozen=True)
class RunSpec:
    """One run of an experiment: a scenario, a posterior draw, a replicate and its seed."""

    scenario_index: int
    scenario: str
    draw: int
    replicate: int
    seed: int
    part: str  # file name of its Parquet parts
    particle: int = 0  # posterior particle of this draw (1-based); 0: the scenario's own

    @property
    def key(self) -> tuple[str, int, int]:
        return (self.scenario, self.draw, self.replicate)


@dataclass
class Experiment:
    """A validated experiment: its scenarios (run settings applied) and its run plan."""

    path: Path
    spec: ExperimentFile
    files: list[Path]
    scenarios: list[Scenario]
    text: str
    posterior: Posterior | None = None
    particles: tuple[int, ...] = ()  # the particle of each draw 1..draws

    def scenario_for(self, run: RunSpec) -> Scenario:
        """The run's scenario, with its draw's particle applied."""
        sc = self.scenarios[run.scenario_index]
        if run.particle == 0 or self.posterior is None:
            return sc
        drawn = self.posterior.draw(run.particle)
        # Parameters the scenario file sets itself are not drawn (scenario.py).
        return apply_overrides(sc, {k: v for k, v in drawn.items() if k in sc.posterior_names})

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def baseline(self) -> str:
        return self.scenarios[0].name

    @property
    def scenario_names(self) -> list[str]:
        return [s.name for s in self.scenarios]

    @property
    def interventions(self) -> list[str]:
        """Every intervention switched on in any scenario (columns exist for all of them)."""
        return sorted({n for s in self.scenarios for n, p in s.interventions.items() if p.enabled})

    def runs(self) -> list[RunSpec]:
        """Every run, replicate by replicate, so a partial batch holds whole pairs."""
        draws = range(1, self.spec.draws + 1) if self.spec.draws else [0]
        out = []
        for d in draws:
            for r in range(self.spec.replicates):
                seed = run_seed(self.spec.seed, d, r, self.spec.replicates)
                particle = self.particles[d - 1] if d else 0
                for i, sc in enumerate(self.scenarios):
                    part = f"{_slug(sc.name)}__d{d:04d}__r{r:05d}.parquet"
                    out.append(RunSpec(i, sc.name, d, r, seed, part, particle))
        return out

    def fingerprint(self) -> dict[str, str]:
        """Hashes of what determines the results: the file and each resolved scenario."""
        out = {
            "experiment_sha256": _sha256(self.text.encode()),
            "scenarios_sha256": _sha256(
                json.dumps(
                    [s.model_dump(mode="json", serialize_as_any=True) for s in self.scenarios]
                ).encode()
            ),
        }
        if self.posterior is not None:
            out["posterior_sha256"] = _sha256(self.posterior.path.read_bytes())
        return out

    def param_columns(self) -> dict[str, dict[str, Any]]:
        """Parameters that differ between the scenarios: column -> scenario -> value.

        Parameters equal in every scenario say nothing about a comparison; they stay in
        the scenario files (and ``yjsim params``). With posterior draws, each posterior
        parameter is a column of its own, taken from the draw (``posterior_columns``).
        """
        values: dict[str, dict[str, Any]] = {}
        for sc in self.scenarios:
            for row in sc.register():
                values.setdefault(row.name, {})[sc.name] = row.value
            # Intervention settings that are not parameters (on/off, mode, targeting rule).
            for iname, block in sc.interventions.items():
                for key, value in block.model_dump().items():
                    values.setdefault(f"interventions.{iname}.{key}", {})[sc.name] = value
        names = self.scenario_names
        out = {"param.population.population_10_17": values["population.population_10_17"]}
        drawn = set(self.posterior.names) if self.posterior is not None else set()
        for name, by in values.items():
            if name in drawn:
                continue
            seen = [by.get(s, None) for s in names]
            if any(v != seen[0] for v in seen):
                out[f"param.{name}"] = by
        return out


def run_seed(base: int, draw: int, replicate: int, replicates: int) -> int:
    """The seed of a run: the same for every scenario, so differences are paired."""
    return base + max(draw - 1, 0) * replicates + replicate


def _slug(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip("-.") or "scenario"


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _scenario_file_error(exp_path: Path, entry: str, where: Path) -> ExperimentError:
    folder = where.parent
    known = sorted(p.name for p in folder.glob("*.toml")) if folder.is_dir() else []
    close = difflib.get_close_matches(where.name, known, n=1, cutoff=0.6)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    return ExperimentError(exp_path, "scenarios", f"no such scenario file {entry!r}{hint}")


def load_experiment(path: str | Path) -> Experiment:
    """Read and validate an experiment file and its scenarios; raises :class:`ScenarioError`.

    Every problem is one line naming the file and the key; nothing is run or written.
    """
    path = Path(path)
    if not path.is_file():
        raise ExperimentError(path, "", "no such experiment file")
    try:
        text = path.read_text(encoding="utf-8")
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise ExperimentError(path, "", f"not valid TOML ({e})") from None
    except UnicodeDecodeError:
        raise ExperimentError(path, "", "not a UTF-8 text file") from None
    try:
        spec = ExperimentFile.model_validate(data)
    except ValidationError as e:
        # A misspelt key also makes the key it meant "missing": name the typo first.
        errors = sorted(e.errors(), key=lambda err: err["type"] != "extra_forbidden")
        key, message = _describe(errors[0], ExperimentFile, data)
        more = f" (and {len(errors) - 1} more problem(s))" if len(errors) > 1 else ""
        raise ExperimentError(path, key, message + more) from None
    files, scenarios = [], []
    for entry in spec.scenarios:
        where = path.parent / entry
        if not where.is_file():
            raise _scenario_file_error(path, entry, where)
        try:
            sc = load_scenario(where)
        except ScenarioError as e:  # name both files: the experiment's entry and the key
            # The file at fault may be a parent the scenario extends.
            culprit = entry if Path(e.path).resolve() == where.resolve() else e.path
            where_key = f"{e.key}: " if e.key else ""
            raise ExperimentError(
                path, "scenarios", f"in scenario {culprit}: {where_key}{e.message}"
            ) from None
        files.append(where)
        scenarios.append(sc)
    scenarios = _common_run_settings(path, spec, scenarios, files)
    names: dict[str, Path] = {}
    for sc, f in zip(scenarios, files, strict=True):
        slug = _slug(sc.name)
        if slug in names:
            raise ExperimentError(
                path,
                "scenarios",
                f"{names[slug].name} and {f.name} are both named {sc.name!r}; "
                "each scenario in an experiment needs its own name",
            )
        names[slug] = f
    posterior, particles = _posterior_of(path, spec, scenarios, files)
    last_seed = run_seed(spec.seed, spec.draws, spec.replicates - 1, spec.replicates)
    if last_seed >= 2**63:
        raise ExperimentError(path, "seed", f"seed + runs must stay below 2**63, got {spec.seed}")
    return Experiment(
        path=path,
        spec=spec,
        files=files,
        scenarios=scenarios,
        text=text,
        posterior=posterior,
        particles=particles,
    )


def _posterior_of(
    path: Path, spec: ExperimentFile, scenarios: list[Scenario], files: list[Path]
) -> tuple[Posterior | None, tuple[int, ...]]:
    """With draws > 0: the posterior every scenario shares, and the particle of each draw.

    Draws pair scenarios like seeds do: draw d of every scenario is the same particle,
    so only a shared posterior makes sense.
    """
    if spec.draws == 0:
        return None, ()
    where = {f.name: posterior_path(f, sc) for sc, f in zip(scenarios, files, strict=True)}
    missing = [name for name, p in where.items() if p is None]
    if missing:
        raise ExperimentError(
            path,
            "draws",
            f"posterior draws need every scenario to name a calibrated posterior "
            f"(`parameters = ...`); {', '.join(missing)} does not; set draws = 0 or add it",
        )
    if len(set(where.values())) > 1:
        detail = ", ".join(f"{p} in {name}" for name, p in where.items())
        raise ExperimentError(
            path, "draws", f"the scenarios name different posteriors ({detail}); draws need one"
        )
    post = load_posterior(next(iter(where.values())))
    return post, tuple(post.pick(spec.draws, spec.seed))


def _common_run_settings(
    path: Path, spec: ExperimentFile, scenarios: list[Scenario], files: list[Path]
) -> list[Scenario]:
    """Every scenario with the same years and burn-in (else runs would not be paired)."""
    out = []
    for key in ("years", "burn_in_years"):
        if getattr(spec, key) is None:
            seen = {getattr(s.run, key) for s in scenarios}
            if len(seen) > 1:
                detail = ", ".join(
                    f"{getattr(s.run, key)} in {f.name}"
                    for s, f in zip(scenarios, files, strict=True)
                )
                raise ExperimentError(
                    path,
                    key,
                    f"the scenarios differ in run.{key} ({detail}); set {key} in the experiment "
                    "so that runs are comparable",
                )
    for sc in scenarios:
        update = {
            k: getattr(spec, k) for k in ("years", "burn_in_years") if getattr(spec, k) is not None
        }
        run = sc.run.model_copy(update={**update, "seed": spec.seed})
        out.append(sc.model_copy(update={"run": run}))
    return out


# -- one run's row ----------------------------------------------------------------------


def _as_float(value: Any) -> float:
    if value is None:
        return math.nan
    return float(value)


def flatten_summary(summary: Mapping[str, Any], interventions: Sequence[str]) -> dict[str, Any]:
    """Every metric of a summary as one flat column, the same columns for every run.

    Breakdowns whose keys depend on who happened to be in a run (ages, sexes, groups,
    previous-offence bands, interventions) are widened to their full key set first, so
    every Parquet part of an experiment has one schema. Nested keys join with ".",
    for example ``cost_per_year_gbp.total`` or ``relative_rate_index.arrest.Black``.
    """
    from sim.metrics import PREVIOUS_OFFENCE_BANDS
    from sim.population import ETHNIC_GROUPS, EXIT_AGE, SEXES

    s = {k: v for k, v in summary.items() if k not in _IDENTITY_KEYS}
    ages = [str(a) for a in range(10, int(EXIT_AGE))]  # ages at index: 10 to 20

    def widen(key: str, keys: Sequence[str], missing: Any) -> None:
        if key in s:
            got = s[key] or {}
            s[key] = {k: got.get(k, missing) for k in keys}

    widen("reoffending_rate_by_age", ages, None)
    widen("reoffending_rate_by_sex", SEXES, None)
    widen("reoffending_rate_by_ethnic_group", ETHNIC_GROUPS, None)
    widen("reoffending_cohort_by_previous_offences", PREVIOUS_OFFENCE_BANDS, 0)
    # An intervention a scenario does not run reaches nobody and costs nothing.
    widen("intervention_reach", interventions, 0)
    widen("intervention_caseload", interventions, 0)
    if "cost_per_year_gbp" in s:
        costs = dict(s["cost_per_year_gbp"])
        total = costs.pop("total", None)
        for name in interventions:
            costs.setdefault(name, 0.0)
        s["cost_per_year_gbp"] = {**costs, "total": total}

    flat: dict[str, Any] = {}

    def walk(prefix: str, value: Any) -> None:
        if isinstance(value, Mapping):
            for k, v in value.items():
                walk(f"{prefix}.{k}" if prefix else str(k), v)
        elif value is None or isinstance(value, bool | int | float):
            flat[prefix] = _as_float(value)
        else:
            flat[prefix] = json.dumps(value)

    walk("", s)
    return {k: flat[k] for k in sorted(flat)}


def _param_value(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | float):
        return value
    return json.dumps(value)


def _param_types(columns: Mapping[str, Mapping[str, Any]]) -> dict[str, pa.DataType]:
    """float64 for numeric parameters, string (JSON) for the rest."""
    types = {}
    for name, by in columns.items():
        numeric = all(v is None or isinstance(v, bool | int | float) for v in by.values())
        types[name] = pa.float64() if numeric else pa.string()
    return types


@dataclass(frozen=True)
class RowContext:
    """What a worker needs to make a run's row: fixed columns and their types."""

    interventions: tuple[str, ...]
    params: dict[str, dict[str, Any]]  # column -> scenario -> value
    param_types: dict[str, pa.DataType]
    posterior_columns: tuple[str, ...] = ()  # drawn parameters (dotted names)

    def identity(self, run: RunSpec, sc: Scenario) -> tuple[dict[str, Any], list[pa.Field]]:
        row: dict[str, Any] = {
            "scenario": run.scenario,
            "replicate": run.replicate,
            "draw": run.draw,
            "particle": run.particle,
            "seed": run.seed,
            "years": sc.run.years,
            "burn_in_years": sc.run.burn_in_years,
            "interventions": ",".join(sorted(n for n, p in sc.interventions.items() if p.enabled)),
        }
        fields = [
            pa.field("scenario", pa.string()),
            pa.field("replicate", pa.int64()),
            pa.field("draw", pa.int64()),
            pa.field("particle", pa.int64()),
            pa.field("seed", pa.int64()),
            pa.field("years", pa.int64()),
            pa.field("burn_in_years", pa.int64()),
            pa.field("interventions", pa.string()),
        ]
        for name in sorted(self.params):
            typ = self.param_types[name]
            value = self.params[name].get(run.scenario)
            if typ == pa.float64():
                value = None if value is None else float(value)
            else:
                value = None if value is None else _param_value(value)
            row[name] = value
            fields.append(pa.field(name, typ))
        for name in self.posterior_columns:
            section, _, key = name.partition(".")
            row[f"param.{name}"] = float(getattr(getattr(sc, section), key))
            fields.append(pa.field(f"param.{name}", pa.float64()))
        return row, fields


def summary_table(
    run: RunSpec, sc: Scenario, summary: Mapping[str, Any], ctx: RowContext
) -> pa.Table:
    """The one-row summary part of a run."""
    row, fields = ctx.identity(run, sc)
    for k, v in flatten_summary(summary, ctx.interventions).items():
        row[k] = v
        fields.append(pa.field(k, pa.string() if isinstance(v, str) else pa.float64()))
    return pa.Table.from_pylist([row], schema=pa.schema(fields))


def timeseries_table(run: RunSpec, series: Any) -> pa.Table:
    """The weekly series part of a run, with the run's identity on every row."""
    df = series.copy()
    for pos, (name, value) in enumerate(
        (
            ("scenario", run.scenario),
            ("replicate", run.replicate),
            ("draw", run.draw),
            ("seed", run.seed),
        )
    ):
        df.insert(pos, name, value)
    df = df.astype({"replicate": "int64", "draw": "int64", "seed": "int64"})
    return pa.Table.from_pandas(df, preserve_index=False)


FAILURE_SCHEMA = pa.schema(
    [
        pa.field("scenario", pa.string()),
        pa.field("replicate", pa.int64()),
        pa.field("draw", pa.int64()),
        pa.field("seed", pa.int64()),
        pa.field("error", pa.string()),
        pa.field("traceback", pa.string()),
    ]
)


def failure_table(run: RunSpec, error: str, tb: str) -> pa.Table:
    row = {
        "scenario": run.scenario,
        "replicate": run.replicate,
        "draw": run.draw,
        "seed": run.seed,
        "error": error,
        "traceback": tb,
    }
    return pa.Table.from_pylist([row], schema=FAILURE_SCHEMA)


def write_part(table: pa.Table, path: Path) -> None:
    """Write a Parquet part whole or not at all: temporary name, fsync, then rename.

    Temporary names start with "." so pyarrow and pandas never read them as data.
    """
    tmp = path.parent / f".{path.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp"
    try:
        with open(tmp, "wb") as f:
            pq.write_table(table, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


# -- the task a worker runs -------------------------------------------------------------


def _error_text(exc: BaseException) -> str:
    """One line: the exception and where it was raised."""
    frames = traceback.extract_tb(exc.__traceback__)
    where = f" (at {Path(frames[-1].filename).name}:{frames[-1].lineno})" if frames else ""
    text = " ".join(f"{type(exc).__name__}: {exc}".split())
    return text + where


def _simulate(
    sc: Scenario,
    seed: int,
    want_series: bool,
    after_year: Callable[[Any], None] | None = None,
) -> tuple[dict, Any, dict[str, float]]:
    """Build and run a model; return its summary, its weekly series and timings.

    The model is dropped before returning: Mesa 3.3.1's class-level ``Agent._ids``
    holds every model it has seen, so a worker would otherwise keep them all alive.
    """
    import mesa

    from sim.model import YouthJusticeModel
    from sim.summary import summarise, timeseries

    t0 = time.perf_counter()
    model = YouthJusticeModel(scenario=sc, seed=seed)
    try:
        t1 = time.perf_counter()
        model.run(after_year=after_year)
        t2 = time.perf_counter()
        summary = summarise(model)
        series = timeseries(model) if want_series else None
        t3 = time.perf_counter()
    finally:
        mesa.Agent._ids.pop(model, None)
        del model
        gc.collect()
    return summary, series, {"build_s": t1 - t0, "simulate_s": t2 - t1, "summarise_s": t3 - t2}


def _report_event(topic: str | None, msg: dict) -> None:
    if topic is None:
        return
    try:
        from distributed import get_worker

        get_worker().log_event(topic, msg)
    except ValueError:  # not inside a dask worker (called directly)
        pass


def run_one(
    run: RunSpec,
    sc: Scenario,
    out: Path,
    outputs: Sequence[str],
    ctx: RowContext,
    overrides: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Run one (scenario, draw, replicate), write its parts, and say how it went.

    An exception in the model is recorded in ``failures/`` and returned as
    ``ok: False``; only writing the parts may raise (then the chunk fails).
    """
    start, cpu = time.perf_counter(), time.process_time()
    try:
        sc = apply_overrides(sc, overrides or {})
        summary, series, timings = _simulate(sc, run.seed, "timeseries" in outputs)
        tables = {}
        t0 = time.perf_counter()
        if "timeseries" in outputs:
            tables["timeseries"] = timeseries_table(run, series)
        if "summary" in outputs:
            tables["summary"] = summary_table(run, sc, summary, ctx)
        timings["summarise_s"] += time.perf_counter() - t0
    except Exception as exc:
        error = _error_text(exc)
        write_part(failure_table(run, error, traceback.format_exc()), out / FAILURES / run.part)
        return {
            "part": run.part,
            "ok": False,
            "error": error,
            "total_s": time.perf_counter() - start,
        }
    t0 = time.perf_counter()
    for kind in ("timeseries", "summary"):  # the summary last: it marks the run done
        if kind in tables:
            write_part(tables[kind], out / kind / run.part)
    (out / FAILURES / run.part).unlink(missing_ok=True)  # an earlier failure, now retried
    timings["write_s"] = time.perf_counter() - t0
    return {
        "part": run.part,
        "ok": True,
        "error": "",
        **timings,
        "total_s": time.perf_counter() - start,
        "cpu_s": time.process_time() - cpu,  # below total_s when the cores are shared
    }


def run_chunk(
    chunk: list[tuple[RunSpec, Scenario]],
    out: str,
    outputs: Sequence[str],
    ctx: RowContext,
    topic: str | None = None,
) -> list[dict[str, Any]]:
    """The dask task: run a chunk of runs one after another; return their status dicts."""
    results = []
    for run, sc in chunk:
        if all((Path(out) / kind / run.part).is_file() for kind in outputs):
            # Done by an earlier attempt of this chunk (dask retries a chunk whose worker died).
            result = {"part": run.part, "ok": True, "error": "", "skipped": True}
        else:
            result = run_one(run, sc, Path(out), outputs, ctx)
        _report_event(topic, {"part": run.part, "ok": result["ok"]})
        results.append(result)
    return results


def code_version() -> str:
    """A short hash of the model's source (sim/**/*.py) as it is on disk now.

    Recorded in ``DIR/experiment.json`` and per batch in ``DIR/batches.jsonl``; a resume
    with other source only warns, since most edits (docs, tests of others) change nothing.
    """
    root = Path(__file__).resolve().parent
    h = hashlib.sha256()
    for f in sorted(root.rglob("*.py")):
        h.update(str(f.relative_to(root)).encode())
        h.update(f.read_bytes())
    return h.hexdigest()[:12]


def worker_info() -> tuple[str, str]:
    """Run on each worker of a given scheduler before a batch: its source hash, its malloc trim."""
    return code_version(), os.environ.get("MALLOC_TRIM_THRESHOLD_", "")


# -- the results folder -------------------------------------------------------------------


def _manifest(exp: Experiment) -> dict[str, Any]:
    return {
        "format": EXPERIMENT_FORMAT,
        "name": exp.name,
        "description": exp.spec.description,
        "experiment_file": str(exp.path),
        **exp.fingerprint(),
        "baseline": exp.baseline,
        "scenarios": [
            {
                "name": sc.name,
                "description": sc.description,
                "file": os.path.normpath(f),
                "interventions": sorted(n for n, p in sc.interventions.items() if p.enabled),
            }
            for sc, f in zip(exp.scenarios, exp.files, strict=True)
        ],
        "replicates": exp.spec.replicates,
        "draws": exp.spec.draws,
        "posterior": str(exp.posterior.path) if exp.posterior is not None else None,
        "particles": list(exp.particles),
        "seed": exp.spec.seed,
        "years": exp.scenarios[0].run.years,
        "burn_in_years": exp.scenarios[0].run.burn_in_years,
        "outputs": list(exp.spec.outputs),
        "runs": len(exp.runs()),
        "code_version": code_version(),
        "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "experiment_toml": exp.text,
    }


def read_manifest(out: Path) -> dict[str, Any]:
    """The experiment a results folder was made by (``DIR/experiment.json``)."""
    path = Path(out) / "experiment.json"
    if not path.is_file():
        raise ExperimentError(out, "", "not an experiment results folder (no experiment.json)")
    return json.loads(path.read_text())


def _check_out(out: Path, exp: Experiment) -> dict[str, Any] | None:
    """Refuse a folder that is a file, someone else's, or another experiment's results."""
    if out.exists() and not out.is_dir():
        raise ExperimentError(out, "", "--out exists and is not a folder")
    manifest_path = out / "experiment.json"
    if not manifest_path.is_file():
        if out.is_dir() and any(p.name != ".lock" for p in out.iterdir()):
            raise ExperimentError(
                out, "", "--out is a folder that holds something other than experiment results"
            )
        return None
    try:
        old = json.loads(manifest_path.read_text())
    except (OSError, json.JSONDecodeError):
        raise ExperimentError(out, "experiment.json", "unreadable; not a results folder") from None
    new = exp.fingerprint()
    if old.get("experiment_sha256") != new["experiment_sha256"]:
        raise ExperimentError(
            out,
            "",
            f"holds results of a different experiment ({old.get('name')!r}, from "
            f"{old.get('experiment_file')}); the experiment file {exp.path} differs from the "
            "one recorded there: use a new --out folder, or delete this one to start again",
        )
    if old.get("scenarios_sha256") != new["scenarios_sha256"]:
        raise ExperimentError(
            out,
            "",
            "holds results of the same experiment file, but its scenario files have changed "
            "since; resuming would mix two sets of scenarios: use a new --out folder",
        )
    return old


@contextlib.contextmanager
def _locked(out: Path) -> Iterator[None]:
    """Only one batch writes to a folder at a time (the lock dies with its process)."""
    lock = open(out / ".lock", "a+")  # held for the whole batch
    try:
        try:
            fcntl.flock(lock.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise ExperimentError(
                out, "", "another batch is writing to this folder; wait for it to finish"
            ) from None
        yield
    finally:
        lock.close()


def _finished_parts(out: Path, outputs: Sequence[str]) -> set[str]:
    """Parts whose every requested output exists (temporary files do not count)."""
    sets = []
    for kind in outputs:
        folder = out / kind
        names = {e.name for e in os.scandir(folder)} if folder.is_dir() else set()
        sets.append({n for n in names if n.endswith(".parquet") and not n.startswith(".")})
    return set.intersection(*sets) if sets else set()


def _remove_temporaries(out: Path) -> None:
    """Leftovers of writes a kill interrupted (never read: their names start with ".")."""
    for kind in (*OUTPUTS, FAILURES):
        folder = out / kind
        if folder.is_dir():
            for e in os.scandir(folder):
                if e.name.startswith(".") and e.name.endswith(".tmp"):
                    Path(e.path).unlink(missing_ok=True)


def _sweep_failures(out: Path, finished: set[str]) -> None:
    """Failure records of runs that have since finished are out of date."""
    folder = out / FAILURES
    if folder.is_dir():
        for e in os.scandir(folder):
            if e.name in finished:
                Path(e.path).unlink(missing_ok=True)


def read_results(out: str | Path, kind: str = "summary") -> Any:
    """A results folder's parts of one kind as one pandas DataFrame (empty if none)."""
    import pandas as pd

    folder = Path(out) / kind
    files = sorted(folder.glob("[!._]*.parquet")) if folder.is_dir() else []
    if not files:
        return pd.DataFrame()
    schema = pa.unify_schemas([pq.read_schema(f) for f in files])
    return pads.dataset([str(f) for f in files], schema=schema).to_table().to_pandas()


# -- the batch --------------------------------------------------------------------------


@dataclass
class BatchResult:
    """What a batch did: run counts, failures and where the time went."""

    out: Path
    runs: int
    skipped: int
    succeeded: int
    failed: int
    failures: list[dict[str, Any]]
    workers: int
    cluster_start_s: float
    wall_s: float
    timings: dict[str, float] = field(default_factory=dict)
    per_run: list[dict[str, Any]] = field(default_factory=list)

    def describe(self) -> str:
        """One line for the terminal."""
        text = (
            f"{self.runs} runs: {self.skipped} already done, {self.succeeded} ran, "
            f"{self.failed} failed ({self.wall_s:.1f} s on {self.workers} workers); "
            f"results in {self.out}"
        )
        if self.failed:
            text += f"; failures listed in {self.out / FAILURES}"
        return text


class _Progress:
    """A tqdm bar on a terminal, plain log lines otherwise, or nothing."""

    def __init__(self, total: int, done_before: int, name: str, enabled: bool) -> None:
        self.total, self.enabled, self.name = total, enabled, name
        self.start = time.monotonic()
        self.last_log = -math.inf
        self.bar = None
        self.n = self.failed = 0
        if enabled and sys.stderr.isatty():
            from tqdm import tqdm

            self.bar = tqdm(
                total=total,
                desc=f"{name} ({done_before} already done)" if done_before else name,
                unit="run",
                file=sys.stderr,
                dynamic_ncols=True,
                bar_format="{l_bar}{bar}| {n_fmt}/{total_fmt} runs "
                "[{elapsed}<{remaining}, {rate_fmt}{postfix}]",
            )
            self.bar.set_postfix_str("0 failed")
        elif enabled:
            self._log(f"{total} runs to do ({done_before} already done)")

    def _log(self, text: str) -> None:
        print(f"yjsim: {self.name}: {text}", file=sys.stderr, flush=True)

    def update(self, n: int, failed: int) -> None:
        if not self.enabled or (n == self.n and failed == self.failed):
            return
        step, self.n, self.failed = n - self.n, n, failed
        if self.bar is not None:
            self.bar.update(step)
            self.bar.set_postfix_str(f"{failed} failed")
            return
        now = time.monotonic()
        if now - self.last_log >= LOG_EVERY_S or n == self.total:
            self.last_log = now
            elapsed = now - self.start
            left = elapsed / n * (self.total - n) if n else math.nan
            self._log(
                f"{n}/{self.total} runs done, {failed} failed, {_hms(elapsed)} elapsed, "
                f"about {_hms(left)} left"
            )

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def _hms(seconds: float) -> str:
    if not math.isfinite(seconds):
        return "?"
    s = round(seconds)
    return (
        f"{s // 3600}:{s % 3600 // 60:02d}:{s % 60:02d}" if s >= 3600 else f"{s // 60}:{s % 60:02d}"
    )


def _start_cluster(
    workers: int | None, scheduler: str | None, memory_limit: str
) -> tuple[Any, Any, int]:
    """A dask Client on a new LocalCluster or on a running scheduler."""

    from distributed import Client

    if scheduler is not None:
        if workers is not None:
            raise ExperimentError(
                "--workers",
                "",
                "applies to a local cluster; with --scheduler the cluster's own workers are used",
            )
        try:
            client = Client(scheduler, timeout=CONNECT_TIMEOUT_S)
        except (OSError, TimeoutError, ValueError) as e:
            raise ExperimentError("--scheduler", "", f"cannot reach {scheduler}: {e}") from None
        try:
            client.wait_for_workers(1, timeout=WORKER_WAIT_S)
        except TimeoutError:
            client.close()
            raise ExperimentError(
                "--scheduler", "", f"no worker joined {scheduler} within {WORKER_WAIT_S} s"
            ) from None
        return client, None, len(client.scheduler_info()["workers"])
    n = workers if workers is not None else (os.cpu_count() or 1)
    if n < 1:
        raise ExperimentError("--workers", "", f"expected at least 1 worker, got {n}")
    with warnings.catch_warnings():
        # The scheduler's health endpoint falls back to a free port when another cluster
        # holds 8787; that is fine here (no dashboard is served), so say nothing.
        warnings.filterwarnings("ignore", message="Port .* is already in use")
        cluster = _local_cluster(n, memory_limit)
    return Client(cluster), cluster, n


def _local_cluster(n: int, memory_limit: str) -> Any:
    import logging

    import dask
    from distributed import LocalCluster

    # Dask's nanny sets MALLOC_TRIM_THRESHOLD_=65536 in its workers, which turns off
    # glibc's adaptive mmap threshold: every large numpy temporary is then mapped and
    # unmapped again, and a Croydon run takes twice the CPU time (14.6 s against 8.0 s
    # measured in one process). None removes it from the workers' environment.
    with dask.config.set({"distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_": None}):
        return LocalCluster(
            n_workers=n,
            threads_per_worker=1,  # one run at a time per process: the step is single-threaded
            processes=True,
            memory_limit=memory_limit,
            host="127.0.0.1",
            dashboard_address=None,
            silence_logs=logging.ERROR,
        )


def _chunks(runs: list[RunSpec], size: int) -> list[list[RunSpec]]:
    return [runs[i : i + size] for i in range(0, len(runs), size)]


def run_experiment(
    path: Path,
    out: Path,
    workers: int | None = None,
    scheduler: str | None = None,
    progress: bool = True,
    memory_limit: str = DEFAULT_MEMORY_LIMIT,
) -> BatchResult:
    """Run (or resume) an experiment into ``out``; return what was done.

    Raises :class:`ScenarioError` (an :class:`ExperimentError`) for a bad experiment
    file, a results folder of another experiment, or an unreachable scheduler; in
    every such case nothing is written. Runs that fail are recorded in
    ``out/failures/`` and counted in the result; they are retried by the next rerun.
    """
    path, out = Path(path), Path(out)
    exp = load_experiment(path)
    _check_out(out, exp)
    outputs = tuple(exp.spec.outputs)
    runs = exp.runs()

    t_cluster = time.perf_counter()
    client, cluster, n_workers = _start_cluster(workers, scheduler, memory_limit)
    cluster_start_s = time.perf_counter() - t_cluster
    try:
        here = code_version()
        if scheduler is not None:
            try:
                infos = list(client.run(worker_info).values())
            except Exception as e:  # e.g. the workers cannot import sim
                raise ExperimentError(
                    "--scheduler", "", f"the workers at {scheduler} cannot run yjsim: {e}"
                ) from None
            theirs = {code for code, _ in infos}
            if any(trim for _, trim in infos):
                _warn(
                    "the workers run with MALLOC_TRIM_THRESHOLD_ set (dask's nanny sets 65536), "
                    "which makes a run about twice as slow; start them with it unset "
                    "(docs/experiments.md)"
                )
            if theirs != {here}:
                _warn(
                    f"the workers at {scheduler} see other yjsim source "
                    f"({', '.join(sorted(theirs))}) than this process ({here}); "
                    "if the model changed, restart them from this checkout"
                )
        out.mkdir(parents=True, exist_ok=True)
        with _locked(out):
            manifest = _check_out(out, exp)  # again, now that we hold the lock
            if manifest is None:
                manifest = _manifest(exp)
                write_json(out / "experiment.json", manifest)
            elif manifest.get("code_version") != here:
                _warn(
                    f"{out} was started with model source {manifest.get('code_version')} and "
                    f"is resumed with {here}; if the model changed, results will mix the two "
                    "(DIR/batches.jsonl records each batch's source)"
                )
            for kind in (*outputs, FAILURES):
                (out / kind).mkdir(exist_ok=True)
            if not (out / "experiment.toml").exists():
                write_text(out / "experiment.toml", exp.text)
            _remove_temporaries(out)
            result = _run_batch(
                exp, runs, out, outputs, client, n_workers, progress, cluster_start_s
            )
            _log_batch(out, result, here, scheduler)
            return result
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


def _warn(text: str) -> None:
    print(f"yjsim: warning: {text}", file=sys.stderr, flush=True)


def _log_batch(out: Path, result: BatchResult, version: str, scheduler: str | None) -> None:
    """Append what this batch did to ``DIR/batches.jsonl`` (provenance, never read as data)."""
    record = {
        "finished": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "code_version": version,
        "cluster": scheduler or f"local, {result.workers} workers",
        "runs": result.runs,
        "skipped": result.skipped,
        "succeeded": result.succeeded,
        "failed": result.failed,
        "wall_s": round(result.wall_s, 2),
    }
    with open(out / "batches.jsonl", "a") as f:
        f.write(json.dumps(record) + "\n")


def batch_log(out: str | Path) -> list[dict[str, Any]]:
    """The records of ``DIR/batches.jsonl`` (a line cut short by a kill is skipped)."""
    path = Path(out) / "batches.jsonl"
    records = []
    if path.is_file():
        for line in path.read_text().splitlines():
            with contextlib.suppress(json.JSONDecodeError):
                records.append(json.loads(line))
    return records


def write_text(path: Path, text: str) -> None:
    """Write a text file whole or not at all."""
    tmp = path.parent / f".{path.name}.{os.getpid()}.tmp"
    tmp.write_text(text)
    os.replace(tmp, path)


def write_json(path: Path, data: Any) -> None:
    """Write JSON whole or not at all."""
    write_text(path, json.dumps(data, indent=2) + "\n")


def _run_batch(
    exp: Experiment,
    runs: list[RunSpec],
    out: Path,
    outputs: tuple[str, ...],
    client: Any,
    n_workers: int,
    progress: bool,
    cluster_start_s: float,
) -> BatchResult:
    from distributed import wait

    finished = _finished_parts(out, outputs)
    _sweep_failures(out, finished)
    pending = [r for r in runs if r.part not in finished]
    size = exp.spec.chunk or max(
        1, min(MAX_CHUNK, math.ceil(len(pending) / (CHUNKS_PER_WORKER * max(n_workers, 1))))
    )
    ctx = RowContext(
        interventions=tuple(exp.interventions),
        params=exp.param_columns(),
        param_types=_param_types(exp.param_columns()),
        posterior_columns=exp.posterior.names if exp.posterior is not None else (),
    )
    topic = f"yjsim-runs-{uuid.uuid4().hex}"
    reported: dict[str, bool] = {}
    lock = threading.Lock()

    def on_event(event: tuple[float, dict]) -> None:
        msg = event[1]
        with lock:
            reported[msg["part"]] = bool(msg["ok"])

    bar = _Progress(len(pending), len(runs) - len(pending), exp.name, progress)
    results: dict[str, dict[str, Any]] = {}
    start = time.perf_counter()
    client.subscribe_topic(topic, on_event)
    try:
        futures = {}
        for chunk in _chunks(pending, size):
            payload = [(r, exp.scenario_for(r)) for r in chunk]
            fut = client.submit(run_chunk, payload, str(out), outputs, ctx, topic, pure=False)
            futures[fut] = chunk
        waiting = set(futures)
        while waiting:
            try:
                done = wait(waiting, timeout=0.5, return_when="FIRST_COMPLETED").done
            except TimeoutError:
                done = set()
            for fut in done:
                waiting.discard(fut)
                chunk = futures.pop(fut)  # and let the cluster forget its result
                try:
                    for r in fut.result():
                        results[r["part"]] = r
                except Exception as exc:  # the chunk died (a killed worker, a write error)
                    error = f"the task failed: {_error_text(exc)}"
                    on_disk = _finished_parts(out, outputs)
                    for run in chunk:
                        if run.part in on_disk:
                            results.setdefault(run.part, {"part": run.part, "ok": True})
                        elif run.part not in results:
                            write_part(
                                failure_table(run, error, traceback.format_exc()),
                                out / FAILURES / run.part,
                            )
                            results[run.part] = {"part": run.part, "ok": False, "error": error}
            with lock:
                merged = {**reported, **{k: v["ok"] for k, v in results.items()}}
            bar.update(len(merged), sum(not ok for ok in merged.values()))
    finally:
        bar.close()
        with contextlib.suppress(Exception):
            client.unsubscribe_topic(topic)
    wall = time.perf_counter() - start
    _sweep_failures(out, _finished_parts(out, outputs))
    by_part = {r.part: r for r in runs}
    failures = [
        {
            "scenario": by_part[p].scenario,
            "replicate": by_part[p].replicate,
            "draw": by_part[p].draw,
            "error": r.get("error", ""),
        }
        for p, r in results.items()
        if not r["ok"]
    ]
    timings: dict[str, float] = {}
    for r in results.values():
        for k in ("build_s", "simulate_s", "summarise_s", "write_s", "total_s", "cpu_s"):
            if k in r:
                timings[k] = timings.get(k, 0.0) + r[k]
    return BatchResult(
        out=out,
        runs=len(runs),
        skipped=len(runs) - len(pending),
        succeeded=sum(r["ok"] for r in results.values()),
        failed=len(failures),
        failures=failures,
        workers=n_workers,
        cluster_start_s=cluster_start_s,
        wall_s=wall,
        timings=timings,
        per_run=list(results.values()),
    )


# -- ``python -m sim.runner`` -----------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    """Run an experiment from the command line (what ``yjsim experiment`` calls)."""
    ap = argparse.ArgumentParser(prog="python -m sim.runner", description=__doc__.splitlines()[0])
    ap.add_argument("experiment", type=Path)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--workers", type=int, default=None)
    ap.add_argument("--scheduler", default=None)
    ap.add_argument("--no-progress", action="store_true")
    args = ap.parse_args(argv)
    try:
        result = run_experiment(
            args.experiment,
            args.out,
            workers=args.workers,
            scheduler=args.scheduler,
            progress=not args.no_progress,
        )
    except ScenarioError as e:
        print(f"yjsim: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("yjsim: interrupted; rerun the same command to resume", file=sys.stderr)
        return 130
    print(result.describe())
    return 1 if result.failed else 0


if __name__ == "__main__":
    sys.exit(main())
