"""Experiments: the experiment file, its scenarios and its run plan.

An experiment file (TOML, in ``experiments/``) names the scenarios to compare (the first
is the baseline), how many replicates, how many posterior draws, the years and the
outputs. :func:`load_experiment` reads and checks it with its scenarios, and
:meth:`Experiment.runs` lists every (scenario, draw, replicate) to run. Replicate r of
every scenario gets the same seed (``seed + r``), so scenarios are compared on paired
runs (common random numbers). Running them is :mod:`sim.batch`'s job; storing the
results is :mod:`sim.results`'s.

Posterior draws: with ``draws = D`` every scenario must name the same calibrated
posterior (``parameters = ...``); draw d is one particle of it, picked by systematic
resampling on the weights with the experiment's seed, and the same for every scenario,
so differences are paired on the draw as on the seed. Parameter uncertainty then shows
in the report's intervals next to the stochastic noise. Draw 0 (``draws = 0``) runs
each scenario's posterior mean, or its own parameters if it names no posterior.

Programme effects: a draw is one behavioural particle *and* one set of programme
effects, each drawn from the prior declared beside it (``param(..., prior=...)``,
:class:`~sim.params.EffectPrior`). Effect e of draw d is the inverse CDF of one uniform
of the named stream "effects", keyed by (the experiment's seed, d, e's dotted name)
(:func:`effect_values`): every scenario of a draw gets the same value of an effect (common
random numbers), and a draw's values are the same in any process, with any number of
workers, whatever else the experiment holds. A value a scenario file sets itself is kept
(as with the posterior), and ``effects = "point"`` keeps every effect at its point value.
Each run's summary row records the values it ran with (``param.<name>`` columns).
Draw 0 and ``draws = 0`` run the point values.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, field_validator

from sim import fork
from sim.params import EffectPrior
from sim.posterior import Posterior, load_posterior
from sim.rng import Streams, name_key
from sim.scenario import (
    Scenario,
    ScenarioError,
    apply_overrides,
    load_scenario,
    posterior_path,
)
from sim.tomlfile import InputError, read_toml_text, resolved, suggest, validate

# The most runs one experiment may plan. A Croydon run takes about 10 s of one core, so
# 100,000 runs are about 12 core-days, and their run list stays a few tens of MB.
MAX_RUNS = 100_000
# The longest scenario name as it appears in a part's file name: a part is
# NAME__dDDDD__rRRRRR.parquet (24 more characters), written first to a temporary
# .PART.PID.XXXXXXXX.tmp (up to 22 more), and a file name may be 255 bytes.
MAX_NAME_CHARS = 200
EFFECTS = "effects"  # the random stream of the programme effects' draws (sim/rng.py)


class ExperimentError(InputError):
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
    effects: Literal["priors", "point"] = Field(
        "priors",
        description="with draws: priors draws each programme effect from its prior with the "
        "behavioural particle; point keeps the effects at their point values (parameter "
        "uncertainty of the behaviour only)",
    )
    burn_in: Literal["shared", "own"] = Field(
        "shared",
        description="shared: each (seed, draw) burns in once under the baseline's policies and "
        "every scenario starts from that world, its policies changing at year 0 ('if we change "
        "this now'); own: each scenario burns in under its own policies ('a borough that "
        "always had this policy'). See sim/fork.py",
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
    # The scenario whose burned-in world this run starts from (burn_in = "shared"), or -1:
    # the run burns in on its own.
    source: int = -1

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
    # The programme effects drawn from their priors (dotted name -> prior), and for each
    # scenario those it takes from the draw (not those its file sets itself).
    effect_priors: dict[str, EffectPrior] = field(default_factory=dict)
    effects_of: tuple[tuple[str, ...], ...] = ()
    _effects: dict[int, dict[str, float]] = field(default_factory=dict, repr=False)

    def scenario_for(self, run: RunSpec) -> Scenario:
        """The run's scenario, with its draw's particle and programme effects applied."""
        return self._drawn(run.scenario_index, run.particle, run.draw)

    def _drawn(self, index: int, particle: int, draw: int) -> Scenario:
        """Scenario ``index`` with posterior ``particle`` and draw ``draw``'s programme
        effects applied (0 and 0: as it is)."""
        sc = self.scenarios[index]
        over: dict[str, float] = {}
        if particle and self.posterior is not None:
            drawn = self.posterior.draw(particle)
            # Parameters the scenario file sets itself are not drawn (scenario.py).
            over.update({k: v for k, v in drawn.items() if k in sc.posterior_names})
        if draw and self.effects_of:
            effects = self.effects(draw)
            over.update({name: effects[name] for name in self.effects_of[index]})
        return apply_overrides(sc, over)

    def effects(self, draw: int) -> dict[str, float]:
        """Draw ``draw``'s value of each programme effect (empty for draw 0)."""
        if draw not in self._effects:
            self._effects[draw] = effect_values(self.effect_priors, self.spec.seed, draw)
        return self._effects[draw]

    @property
    def drawn_names(self) -> tuple[str, ...]:
        """The parameters each draw sets: the posterior's, then the programme effects'."""
        fitted = self.posterior.names if self.posterior is not None else ()
        return (*fitted, *sorted(self.effect_priors))

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
    def sources(self) -> list[int]:
        """For each scenario, the scenario whose burn-in it starts from, or -1 (its own).

        With ``burn_in = "shared"``, the first scenario with the same world (sim/fork.py):
        the baseline for every policy scenario. A scenario that no other shares a world
        with burns in on its own either way (a snapshot would change nothing).
        """
        if self.spec.burn_in == "own":
            return [-1] * len(self.scenarios)
        found = fork.sources(self.scenarios)
        shared = {s for i, s in enumerate(found) if s != i}
        return [s if s in shared else -1 for s in found]

    @property
    def interventions(self) -> list[str]:
        """Every intervention switched on in any scenario (columns exist for all of them)."""
        return sorted({n for s in self.scenarios for n, p in s.interventions.items() if p.enabled})

    def runs(self) -> list[RunSpec]:
        """Every run, replicate by replicate, so a partial batch holds whole pairs."""
        draws = range(1, self.spec.draws + 1) if self.spec.draws else [0]
        out = []
        sources = self.sources
        for d in draws:
            for r in range(self.spec.replicates):
                seed = run_seed(self.spec.seed, d, r, self.spec.replicates)
                particle = self.particles[d - 1] if d else 0
                for i, sc in enumerate(self.scenarios):
                    part = part_name(sc.name, d, r)
                    out.append(RunSpec(i, sc.name, d, r, seed, part, particle, sources[i]))
        return out

    def source_for(self, run: RunSpec) -> Scenario | None:
        """The scenario (draw applied) whose burn-in ``run`` starts from, or None."""
        return None if run.source < 0 else self._drawn(run.source, run.particle, run.draw)

    def fingerprint(self) -> dict[str, str]:
        """Hashes of what determines the results: the file and each resolved scenario."""
        out = {
            "experiment_sha256": _sha256(self.text.encode()),
            "scenarios_sha256": _sha256(
                json.dumps(
                    [s.model_dump(mode="json", serialize_as_any=True) for s in self.scenarios]
                ).encode()
            ),
            "burn_in": self.spec.burn_in,
        }
        if self.posterior is not None:
            out["posterior_sha256"] = _sha256(self.posterior.path.read_bytes())
        return out

    def param_columns(self) -> dict[str, dict[str, Any]]:
        """Parameters that differ between the scenarios: column -> scenario -> value.

        Parameters equal in every scenario say nothing about a comparison; they stay in
        the scenario files (and ``yjsim params``). With posterior draws, each posterior
        parameter and each drawn programme effect is a column of its own, taken from the
        run's scenario (``drawn_names``; sim/results.py).
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
        drawn = set(self.drawn_names)
        for name, by in values.items():
            if name in drawn:
                continue
            seen = [by.get(s, None) for s in names]
            if any(v != seen[0] for v in seen):
                out[f"param.{name}"] = by
        return out


def effect_values(priors: dict[str, EffectPrior], seed: int, draw: int) -> dict[str, float]:
    """Draw ``draw``'s value of each programme effect, from its prior.

    One uniform per effect from the stream "effects", keyed by (``seed``, ``draw``, the
    effect's dotted name), through the prior's inverse CDF: a value depends on nothing
    else (not on which other effects are drawn, nor on the process or worker), so every
    scenario of a draw gets the same one. Draw 0 is the point values: no draw at all.
    A renamed parameter is a new parameter and gets new draws.
    """
    if draw == 0 or not priors:
        return {}
    names = sorted(priors)
    ids = np.array([name_key(n) for n in names], dtype=np.int64)
    u = Streams(seed).uniform(EFFECTS, draw, ids)
    return {n: float(priors[n].draw(x)) for n, x in zip(names, u, strict=True)}


def drawn_value(scenario: Scenario, name: str) -> float:
    """The value of a dotted parameter in a scenario (``interventions.triage.programme_effect``),
    or NaN if the scenario has no such block (an intervention it does not configure)."""
    node: Any = scenario
    for part in name.split("."):
        node = node.get(part) if isinstance(node, dict) else getattr(node, part, None)
        if node is None:
            return math.nan
    return float(node)


def _effects_of(
    spec: ExperimentFile, scenarios: list[Scenario], posterior: Posterior | None
) -> tuple[dict[str, EffectPrior], tuple[tuple[str, ...], ...]]:
    """With draws and ``effects = "priors"``: the programme effects to draw (every effect
    with a prior in any scenario, but none the posterior fits), and for each scenario
    those it takes from the draw: those it has, at their point values (a value its file
    sets is its own question, kept as the posterior's parameters are)."""
    if spec.draws == 0 or spec.effects == "point":
        return {}, ()
    fitted = set(posterior.names) if posterior is not None else set()
    priors: dict[str, EffectPrior] = {}
    per: list[tuple[str, ...]] = []
    for sc in scenarios:
        rows = [r for r in sc.register() if r.prior is not None and r.name not in fitted]
        priors.update({r.name: r.prior for r in rows})
        per.append(tuple(r.name for r in rows if r.value == r.default))
    return priors, tuple(per)


def run_seed(base: int, draw: int, replicate: int, replicates: int) -> int:
    """The seed of a run: the same for every scenario, so differences are paired."""
    return base + max(draw - 1, 0) * replicates + replicate


def part_name(scenario: str, draw: int, replicate: int) -> str:
    """The file name of a run's Parquet parts."""
    return f"{_slug(scenario)}__d{draw:04d}__r{replicate:05d}.parquet"


def planned_parts(scenarios: Sequence[str], draws: int, replicates: int) -> set[str]:
    """The part names of every run of a plan (from a manifest's scenarios and sizes)."""
    ds = range(1, draws + 1) if draws else [0]
    return {part_name(s, d, r) for s in scenarios for d in ds for r in range(replicates)}


def _slug(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip("-.") or "scenario"


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _scenario_file_error(exp_path: Path, entry: str, where: Path) -> ExperimentError:
    folder = where.parent
    known = sorted(p.name for p in folder.glob("*.toml")) if folder.is_dir() else []
    hint = suggest(where.name, known)
    return ExperimentError(exp_path, "scenarios", f"no such scenario file {entry!r}{hint}")


def load_experiment(path: str | Path) -> Experiment:
    """Read and validate an experiment file and its scenarios; raises :class:`ExperimentError`.

    Every problem is one line naming the file and the key; nothing is run or written.
    """
    path = Path(path)
    data, text = read_toml_text(path, ExperimentError, "no such experiment file")
    spec = validate(ExperimentFile, data, path, ExperimentError)
    size = spec.replicates * max(spec.draws, 1) * len(spec.scenarios)
    if size > MAX_RUNS:  # refused before a run (or the list of them) is made
        raise ExperimentError(
            path,
            "replicates",
            f"the plan is {size:,} runs ({spec.replicates:,} replicates x "
            f"{max(spec.draws, 1):,} draws x {len(spec.scenarios)} scenarios); "
            f"the limit is {MAX_RUNS:,}: split it into several experiments",
        )
    files, scenarios = [], []
    for entry in spec.scenarios:
        where = path.parent / entry
        if not os.path.lexists(where):  # a link that loops is reported by load_scenario
            raise _scenario_file_error(path, entry, where)
        try:
            sc = load_scenario(where)
        except ScenarioError as e:  # name both files: the experiment's entry and the key
            # The file at fault may be a parent the scenario extends.
            culprit = entry if e.path == str(where) or _same_file(e.path, where) else e.path
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
        if len(slug) > MAX_NAME_CHARS:
            raise ExperimentError(
                path,
                "scenarios",
                f"in scenario {f.name}: name: too long for a results file name "
                f"({len(slug)} characters; at most {MAX_NAME_CHARS})",
            )
        if slug in names:
            raise ExperimentError(
                path,
                "scenarios",
                f"{names[slug].name} and {f.name} are both named {sc.name!r}; "
                "each scenario in an experiment needs its own name",
            )
        names[slug] = f
    posterior, particles = _posterior_of(path, spec, scenarios, files)
    effect_priors, effects_of = _effects_of(spec, scenarios, posterior)
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
        effect_priors=effect_priors,
        effects_of=effects_of,
    )


def _same_file(a: str | Path, b: Path) -> bool:
    try:
        return resolved(a, ExperimentError) == resolved(b, ExperimentError)
    except ExperimentError:  # a link that loops is no file at all
        return False


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
