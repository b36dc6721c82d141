"""The results folder of an experiment: Parquet parts, manifest, lock, batch log.

``DIR/experiment.json`` records the experiment (its file, hashes and scenarios);
each run writes its own Parquet part (``summary/``, ``timeseries/``) to a temporary
name and renames it, so a part is whole or absent and a rerun can tell finished runs
from the rest; a run that failed has a part in ``failures/``. A lock lets one batch
write at a time, and ``DIR/batches.jsonl`` keeps a line per batch. :mod:`sim.batch`
writes here; :mod:`sim.report` reads with :func:`read_results`, :func:`read_manifest`
and :func:`batch_log`.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import hashlib
import json
import math
import os
import uuid
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.dataset as pads
import pyarrow.parquet as pq

from sim.experiment import (
    MAX_RUNS,
    Experiment,
    ExperimentError,
    RunSpec,
    drawn_value,
    planned_parts,
)
from sim.faults import Fault, os_fault
from sim.scenario import Scenario

EXPERIMENT_FORMAT = 1  # version of DIR/experiment.json and of the part layout
OUTPUTS = ("summary", "timeseries")
FAILURES = "failures"
SNAPSHOTS = "snapshots"  # burned-in worlds of runs not yet finished (sim/fork.py)
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
    # Drawn parameters (dotted names): the posterior's and the programme effects'.
    posterior_columns: tuple[str, ...] = ()

    @classmethod
    def of(cls, exp: Experiment) -> RowContext:
        """The columns of an experiment's rows: its interventions and differing parameters."""
        params = exp.param_columns()
        return cls(
            interventions=tuple(exp.interventions),
            params=params,
            param_types=_param_types(params),
            posterior_columns=exp.drawn_names,
        )

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
            row[f"param.{name}"] = drawn_value(sc, name)
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


# -- provenance ------------------------------------------------------------------------


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


def git_commit() -> str | None:
    """The git commit of the checkout the model runs from, ``+changes`` appended when its
    model, scenarios, calibration or experiments differ from that commit; None outside a
    git checkout (an installed copy) or without git."""
    import subprocess

    root = Path(__file__).resolve().parent.parent
    try:
        head = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "--short=12", "HEAD"],
            capture_output=True,
            text=True,
            timeout=10,
        )
        if head.returncode != 0:
            return None
        model_files = ["sim", "scenarios", "calibration", "experiments"]
        changed = subprocess.run(
            ["git", "-C", str(root), "status", "--porcelain", "--", *model_files],
            capture_output=True,
            text=True,
            timeout=10,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    commit = head.stdout.strip()
    return f"{commit}+changes" if changed.stdout.strip() else commit


def new_manifest(exp: Experiment) -> dict[str, Any]:
    """The manifest of a new results folder (``DIR/experiment.json``)."""
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
                # Those that act (an intervention set to no places or no team is off).
                "interventions": sorted(n for n, p in sc.interventions.items() if p.acts()),
                # The scenario whose burned-in world it starts from (None: its own burn-in).
                "burn_in_from": exp.scenarios[src].name if src >= 0 else None,
            }
            for sc, f, src in zip(exp.scenarios, exp.files, exp.sources, strict=True)
        ],
        "replicates": exp.spec.replicates,
        "draws": exp.spec.draws,
        "posterior": str(exp.posterior.path) if exp.posterior is not None else None,
        # Its fit's generation, threshold and effective size: a fit may still be converging.
        "posterior_fit": exp.posterior.fit_summary() if exp.posterior is not None else None,
        "particles": list(exp.particles),
        # The programme effects each draw takes from its prior (param.<name> columns).
        "drawn_effects": sorted(exp.effect_priors),
        "seed": exp.spec.seed,
        "years": exp.scenarios[0].run.years,
        "burn_in_years": exp.scenarios[0].run.burn_in_years,
        "outputs": list(exp.spec.outputs),
        "runs": len(exp.runs()),
        "code_version": code_version(),
        "git_commit": git_commit(),
        "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "experiment_toml": exp.text,
    }


def read_manifest(out: Path) -> dict[str, Any]:
    """The experiment a results folder was made by (``DIR/experiment.json``).

    No such file is bad input (:class:`ExperimentError`: not a results folder); a file
    that cannot be read or is not a manifest is a :class:`~sim.faults.Fault`.
    """
    path = Path(out) / "experiment.json"
    if not path.is_file():
        raise ExperimentError(out, "", "not an experiment results folder (no experiment.json)")
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except OSError as e:
        raise os_fault(e, "cannot read") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise Fault(path, f"damaged: not valid JSON ({e})") from None
    missing = [k for k in _MANIFEST_KEYS if not isinstance(manifest, dict) or k not in manifest]
    if missing:
        raise Fault(path, f"damaged: not an experiment manifest (no {', '.join(missing)})")
    try:
        manifest_parts(manifest)
    except (TypeError, ValueError, KeyError, AttributeError):
        raise Fault(path, "damaged: its scenarios, draws or replicates are malformed") from None
    return manifest


_MANIFEST_KEYS = ("name", "baseline", "scenarios", "replicates", "draws", "runs")


def manifest_parts(manifest: Mapping[str, Any]) -> set[str]:
    """The part names of every run a manifest plans."""
    draws, replicates = manifest["draws"], manifest["replicates"]
    if not (isinstance(draws, int) and isinstance(replicates, int)):
        raise TypeError("draws and replicates must be whole numbers")
    if max(draws, 1) * replicates * len(manifest["scenarios"]) > MAX_RUNS:
        raise ValueError("too many runs")
    return planned_parts([s["name"] for s in manifest["scenarios"]], draws, replicates)


def check_out(out: Path, exp: Experiment) -> dict[str, Any] | None:
    """Refuse a folder that is a file, someone else's, or another experiment's results."""
    if os.path.exists(out) and not os.path.isdir(out):  # (os.path: no error for a long name)
        raise ExperimentError(out, "", "--out exists and is not a folder")
    manifest_path = out / "experiment.json"
    if not os.path.isfile(manifest_path):
        if os.path.isdir(out) and any(p.name != ".lock" for p in out.iterdir()):
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
    if old.get("burn_in", "own") != new["burn_in"]:
        raise ExperimentError(
            out,
            "",
            f"holds runs made with burn_in = {old.get('burn_in', 'own')!r}; this batch would "
            f"make them with {new['burn_in']!r}, and the two are different questions: use a "
            "new --out folder",
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
def locked(out: Path) -> Iterator[None]:
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


def finished_parts(out: Path, outputs: Sequence[str]) -> set[str]:
    """Parts whose every requested output exists (temporary files do not count).

    By name only, for a batch's own bookkeeping; :func:`verify_parts` reads them.
    """
    sets = []
    for kind in outputs:
        folder = out / kind
        names = {e.name for e in os.scandir(folder)} if folder.is_dir() else set()
        sets.append({n for n in names if n.endswith(".parquet") and not n.startswith(".")})
    return set.intersection(*sets) if sets else set()


DAMAGED = "damaged"  # where a resume moves parts it cannot read (DIR/damaged/KIND/NAME)


@dataclass
class PartSurvey:
    """The ``*.parquet`` entries of one folder of parts, sorted out."""

    good: list[Path]  # readable parts of the plan
    damaged: list[Path]  # parts of the plan that are not readable Parquet (or not files)
    strays: list[Path]  # entries that are no part of this plan (foreign or stray files)


def part_readable(path: Path) -> bool:
    """A regular file whose Parquet footer reads and which holds at least one row."""
    try:
        return path.is_file() and pq.read_metadata(path).num_rows > 0
    except (OSError, pa.ArrowException):
        return False


def survey_parts(folder: Path, expected: Collection[str] | None) -> PartSurvey:
    """Check each part in ``folder``: its footer must read and its run be in ``expected``
    (None: any name). Temporaries (names starting with ".") are not looked at."""
    survey = PartSurvey([], [], [])
    if not folder.is_dir():
        return survey
    for e in sorted(os.scandir(folder), key=lambda e: e.name):
        if not e.name.endswith(".parquet") or e.name.startswith((".", "_")):
            continue
        path = Path(e.path)
        if expected is not None and e.name not in expected:
            survey.strays.append(path)
        elif part_readable(path):
            survey.good.append(path)
        else:
            survey.damaged.append(path)
    return survey


def verify_parts(
    out: Path, outputs: Sequence[str], expected: Collection[str], log: Callable[[str], None]
) -> set[str]:
    """Before a batch resumes: the runs whose every output part reads.

    A damaged part (cut short, emptied, not Parquet, a folder) is moved to
    ``DIR/damaged/KIND/`` and its run is run again; an entry that is no part of this
    plan is left where it is and ignored. Each is named in one line through ``log``.
    """
    sets = []
    for kind in (*outputs, FAILURES):
        survey = survey_parts(out / kind, expected)
        for path in survey.damaged:
            aside = out / DAMAGED / kind / path.name
            aside.parent.mkdir(parents=True, exist_ok=True)
            if aside.exists():
                aside = aside.with_name(f"{path.name}.{uuid.uuid4().hex[:8]}")
            os.replace(path, aside)
            log(f"{path}: damaged (not a readable Parquet part); moved to {aside}, run again")
        for path in survey.strays:
            log(f"{path}: not a part of this experiment; ignored")
        if kind != FAILURES:
            sets.append({p.name for p in survey.good})
    return set.intersection(*sets) if sets else set()


def remove_temporaries(out: Path) -> None:
    """Leftovers of writes a kill interrupted (never read: their names start with ".")."""
    for kind in (*OUTPUTS, FAILURES, SNAPSHOTS):
        folder = out / kind
        if folder.is_dir():
            for e in os.scandir(folder):
                if e.name.startswith(".") and e.name.endswith(".tmp"):
                    Path(e.path).unlink(missing_ok=True)


def sweep_failures(out: Path, finished: set[str]) -> None:
    """Failure records of runs that have since finished are out of date."""
    folder = out / FAILURES
    if folder.is_dir():
        for e in os.scandir(folder):
            if e.name in finished:
                Path(e.path).unlink(missing_ok=True)


def read_results(
    out: str | Path,
    kind: str = "summary",
    expected: Collection[str] | None = None,
    log: Callable[[str], None] | None = None,
) -> Any:
    """A results folder's parts of one kind as one pandas DataFrame (empty if none).

    With ``expected`` (the plan's part names, :func:`sim.experiment.planned_parts`),
    each part is checked first: a damaged part or one that is no part of the plan is
    left out and named in one line through ``log``.
    """
    import pandas as pd

    survey = survey_parts(Path(out) / kind, expected)
    if log is not None:
        for path in survey.damaged:
            log(f"{path}: damaged (not a readable Parquet part); left out")
        for path in survey.strays:
            log(f"{path}: not a part of this experiment; left out")
    files = survey.good
    if not files:
        return pd.DataFrame()
    schema = pa.unify_schemas([pq.read_schema(f) for f in files])
    return pads.dataset([str(f) for f in files], schema=schema).to_table().to_pandas()


# -- the batch log and whole-file writes ---------------------------------------------------


def log_batch(
    out: Path,
    *,
    version: str,
    cluster: str,
    runs: int,
    skipped: int,
    succeeded: int,
    failed: int,
    wall_s: float,
) -> None:
    """Append what a batch did to ``DIR/batches.jsonl`` (provenance, never read as data)."""
    record = {
        "finished": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "code_version": version,
        "cluster": cluster,
        "runs": runs,
        "skipped": skipped,
        "succeeded": succeeded,
        "failed": failed,
        "wall_s": round(wall_s, 2),
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
