"""``yjsim decide``: the best mix of programmes for a budget, from a decision file.

A decision file (TOML, in ``decisions/``) names the base scenario (today's policies),
the levers a borough can move and their ranges, the budget above today's programme
spend, the objectives and the constraints. :func:`load_decision` reads and checks it
(one line naming the file and key, nothing written). :func:`run_decision`:

1. makes a space-filling design of portfolios (a scrambled Latin hypercube,
   scipy.stats.qmc, with the decision's seed: the same file gives the same design);
2. writes each portfolio as a scenario that extends the base with its lever values, and
   deals the portfolios into ``groups``: each group is an experiment of the base and its
   portfolios over ``draws`` posterior draws (behavioural particle x programme effects,
   exactly as experiments draw them) and ``replicates`` seeds, with a seed of its own,
   so each group has draws of its own. The experiment runner (sim/batch.py) runs each
   on dask into ``DIR/runs/gNN``, resumable like any experiment. Within a group every
   portfolio runs on every draw and seed, paired with the base on the same ones; across
   groups the design covers ``groups x draws`` points of the uncertain parameters (the
   emulator learns how they matter from those), at the cost of one base run per draw;
3. fits one Gaussian-process emulator per objective (sim/emulator.py) on (lever
   values, drawn parameter values) -> paired difference against the base, measures its
   accuracy on held-back portfolios, and refits on every run;
4. searches the lever space on the emulators for portfolios the design does not hold
   (sim/decision_search.py: NSGA-II, pymoo, over the primary objective against the
   predicted cost, within the budget and the constraints, seeded from the decision's
   seed; ``[search]`` in the decision file sets its size), and ranks the design's
   portfolios and the searched ones within budget and constraints by the emulator's
   expected difference (the mean of its predictions over the draws);
5. verifies the ``verify`` leading portfolios of the design and the searched ones
   (``[search] candidates``) by real paired runs against the base on fresh draws (an
   experiment of its own, after the groups' seeds, in ``DIR/runs/verify``; the searched
   candidates are recorded in ``DIR/design/search.json`` and written as scenarios
   beside the design's, so a rerun verifies the same ones):
   each objective's median and 90% interval, the probability each is best and its
   expected regret, and whether the emulator's expectation agrees with the runs. The
   recommendation is the best verified portfolio within budget and constraints (or the
   base, if none beats it);
6. asks the emulators, over fresh parameter draws, when the recommendation loses (PRIM
   boxes) and what is worth finding out (EVPPI) (sim/discovery.py), and writes
   ``DIR/decision.json`` and the report (sim/decision_report.py).

A portfolio's cost is its measured programme spend (the interventions' own costs, from
the runs) less the base's, averaged over its runs: it is what the budget bounds. A
searched portfolio has no runs until it is verified, so its cost is predicted by an
emulator of the measured cost on the lever values (see :func:`fit_emulators`), and the
verification checks the budget on its measured cost.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from sim import emulator
from sim.emulator import Emulator
from sim.scenario import ScenarioError, load_scenario
from sim.tomlfile import InputError, read_toml_text, toml_tables, validate

RUNS = "runs"  # DIR/runs/gNN: each group's experiment results folder
VERIFY = "verify"  # DIR/runs/verify: the verification runs
DESIGN = "design"  # DIR/design: the portfolios' scenario files and the experiment file
SEARCH_RECORD = "search.json"  # DIR/design/search.json: the search, once sent to verification
BASE = "base"  # the portfolio that changes nothing (today's policies, cost 0)
MAX_PORTFOLIOS = 2_000  # a design larger than this is several decisions
MAX_RUNS = 100_000  # as an experiment's limit (sim/experiment.py)
# The quantiles of a portfolio's paired differences over its runs: a 90% interval and
# the median (runs differ by chance and by draw).
INTERVAL = (0.05, 0.5, 0.95)


class DecisionError(InputError):
    """A problem with a decision file or its output folder (file and key)."""


# The objectives a decision may name: the summary column compared, and whether the
# paired difference is of the value itself or of its distance from parity (an RRI).
OBJECTIVES: dict[str, tuple[str, str]] = {
    "harm": ("crime_harm_days_per_year.total", "value"),
    "true_offences": ("true_offences_per_year", "value"),
    "first_time_entrants": ("first_time_entrants_per_year", "value"),
    "in_custody": ("custody_population_mean", "value"),
    "net_social_cost": ("net_social_cost_per_year_gbp", "value"),
    "rri_arrest": ("relative_rate_index.arrest.Black", "parity"),
}
OBJECTIVE_LABELS: dict[str, str] = {
    "harm": "harm of the offences (CCHI days of custody a year)",
    "true_offences": "true offences a year",
    "first_time_entrants": "first-time entrants a year",
    "in_custody": "children in custody (mean)",
    "net_social_cost": "net social cost (GBP a year)",
    "rri_arrest": "distance from parity of the arrest RRI (Black vs White)",
}
ObjectiveName = Literal[
    "harm", "true_offences", "first_time_entrants", "in_custody", "net_social_cost", "rri_arrest"
]


# -- the decision file ----------------------------------------------------------------------


class Lever(BaseModel):
    """A setting a borough can move: a dotted scenario key and its range or choices."""

    model_config = ConfigDict(extra="forbid")
    key: str = Field(
        min_length=1, description="dotted scenario key, e.g. interventions.kickz.sites"
    )
    range: tuple[int | float, int | float] | None = Field(
        None, description="[low, high]; whole numbers if both are written as integers"
    )
    choices: list[str] | None = Field(None, min_length=2, description="the values to choose from")
    label: str = ""

    @model_validator(mode="after")
    def _one_kind(self) -> Lever:
        if (self.range is None) == (self.choices is None):
            raise ValueError("give either range = [low, high] or choices = [...]")
        if self.range is not None:
            lo, hi = self.range
            if not (math.isfinite(lo) and math.isfinite(hi)) or not lo < hi:
                raise ValueError(f"range needs low < high, got {list(self.range)}")
        if self.choices is not None and len(set(self.choices)) != len(self.choices):
            raise ValueError("each choice may be listed once")
        return self

    @property
    def integer(self) -> bool:
        return self.range is not None and all(isinstance(v, int) for v in self.range)

    def value(self, u: float) -> int | float | str:
        """The lever's value at ``u`` in [0, 1) of the design (equal shares per value)."""
        if self.choices is not None:
            return self.choices[min(int(u * len(self.choices)), len(self.choices) - 1)]
        lo, hi = self.range  # type: ignore[misc]
        if self.integer:
            return int(min(lo + math.floor(u * (hi - lo + 1)), hi))
        return float(lo + u * (hi - lo))

    def extremes(self) -> list[int | float | str]:
        return list(self.choices) if self.choices is not None else list(self.range)  # type: ignore[arg-type]


class Constraint(BaseModel):
    """An objective's expected paired difference may rise by at most ``rise_at_most``."""

    model_config = ConfigDict(extra="forbid")
    objective: ObjectiveName
    rise_at_most: float = Field(0.0, allow_inf_nan=False)


class SearchSettings(BaseModel):
    """``[search]``: the search of the lever space on the emulators (sim/decision_search.py)."""

    model_config = ConfigDict(extra="forbid")
    candidates: int = Field(
        2,
        ge=0,
        le=20,
        description="searched portfolios verified beside the design's leaders (0: no search)",
    )
    population: int = Field(40, ge=4, le=1_000, description="NSGA-II's population")
    generations: int = Field(30, ge=1, le=1_000, description="NSGA-II's generations")


class DecisionFile(BaseModel):
    """The schema of a decision TOML file."""

    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=100)
    description: str = ""
    base: str = Field(min_length=1, description="the base scenario, relative to this file")
    budget_gbp: float = Field(
        ge=0, le=1e10, allow_inf_nan=False, description="GBP a year above the base's programmes"
    )
    levers: list[Lever] = Field(min_length=1, max_length=20)
    objectives: list[ObjectiveName] = Field(min_length=1)
    primary: ObjectiveName | None = Field(
        None, description="the objective portfolios are ranked by (default: the first)"
    )
    constraints: list[Constraint] = Field(default_factory=list)
    portfolios: int = Field(ge=2, le=MAX_PORTFOLIOS, description="design points (Latin hypercube)")
    draws: int = Field(0, ge=0, le=10_000, description="posterior x effect-prior draws")
    replicates: int = Field(1, ge=1, le=1_000, description="paired seeds per draw")
    groups: int = Field(
        1, ge=1, le=MAX_PORTFOLIOS, description="groups of portfolios, each on draws of its own"
    )
    verify: int = Field(
        3, ge=0, le=20, description="leading portfolios verified by real paired runs (0: none)"
    )
    scenario_draws: int = Field(
        1000,
        ge=0,
        le=100_000,
        description="fresh parameter draws the emulators are asked at for scenario discovery "
        "and EVPPI (0: neither)",
    )
    equity_weight: float = Field(
        0.0,
        ge=0,
        le=1e12,
        allow_inf_nan=False,
        description="the equity variant's weight: units of the primary objective per unit of "
        "the arrest RRI's distance from parity (needs the rri_arrest objective)",
    )
    verify_draws: int = Field(
        4,
        ge=1,
        le=10_000,
        description="fresh draws of the verification (fresh seeds when draws = 0)",
    )
    seed: int = Field(1, ge=0, lt=2**62)
    years: int | None = Field(None, ge=1, le=100)
    burn_in_years: int | None = Field(None, ge=0, le=50)
    holdout: float = Field(
        0.2, ge=0, lt=1, description="share of portfolios held back to test the emulator"
    )
    search: SearchSettings = Field(default_factory=SearchSettings)

    @field_validator("objectives")
    @classmethod
    def _unique(cls, value: list[str]) -> list[str]:
        if len(set(value)) != len(value):
            raise ValueError("each objective may be listed once")
        return value

    @field_validator("levers")
    @classmethod
    def _unique_levers(cls, value: list[Lever]) -> list[Lever]:
        keys = [lever.key for lever in value]
        if len(set(keys)) != len(keys):
            raise ValueError("each lever key may be listed once")
        return value

    @property
    def ranked_by(self) -> str:
        return self.primary or self.objectives[0]


@dataclass
class Decision:
    """A validated decision: its file, base scenario and design."""

    path: Path
    spec: DecisionFile
    base_path: Path
    base_name: str
    text: str

    def design(self) -> list[dict[str, Any]]:
        """The portfolios' lever values: a scrambled Latin hypercube with the decision's seed."""
        from scipy.stats import qmc

        u = qmc.LatinHypercube(d=len(self.spec.levers), seed=self.spec.seed).random(
            self.spec.portfolios
        )
        return [
            {
                lever.key: lever.value(float(x))
                for lever, x in zip(self.spec.levers, row, strict=True)
            }
            for row in u
        ]


def portfolio_text(name: str, base: Path, values: dict[str, Any]) -> str:
    """A portfolio's scenario file: the base with the lever values."""
    head = [
        f"# A portfolio of a decision (yjsim decide): the base with {len(values)} lever values.",
        f"name = {json.dumps(name)}",
        f"description = {json.dumps(', '.join(f'{k} = {v}' for k, v in values.items()))}",
        f"extends = {json.dumps(str(base))}",
    ]
    return "\n".join(head + toml_tables(values)) + "\n"


def load_decision(path: str | Path) -> Decision:
    """Read and validate a decision file, its base scenario and every lever's range."""
    import tempfile

    path = Path(path)
    data, text = read_toml_text(path, DecisionError, "no such decision file")
    spec = validate(DecisionFile, data, path, DecisionError)
    named = set(spec.objectives)
    for i, c in enumerate(spec.constraints):
        if c.objective not in named:
            raise DecisionError(
                path, f"constraints.{i}.objective", f"{c.objective!r} is not an objective"
            )
    if spec.primary is not None and spec.primary not in named:
        raise DecisionError(path, "primary", f"{spec.primary!r} is not an objective")
    if spec.groups > spec.portfolios:
        raise DecisionError(
            path,
            "groups",
            f"{spec.groups} groups for {spec.portfolios} portfolios; at most one each",
        )
    size = (spec.portfolios + spec.groups) * max(spec.draws, 1) * spec.replicates
    if size > MAX_RUNS:
        raise DecisionError(
            path, "portfolios", f"the plan is {size:,} runs; the limit is {MAX_RUNS:,}"
        )
    base_path = (path.parent / spec.base).resolve()
    if not os.path.lexists(base_path):
        raise DecisionError(path, "base", f"no such scenario file {spec.base!r}")
    try:
        base = load_scenario(base_path)
    except ScenarioError as e:
        where = f"{e.key}: " if e.key else ""
        raise DecisionError(path, "base", f"in scenario {e.path}: {where}{e.message}") from None
    if spec.draws and base.parameters is None:
        raise DecisionError(path, "draws", "draws need a base scenario that names a posterior")
    # Each lever at each end of its range (each choice) must make a valid scenario.
    with tempfile.TemporaryDirectory(prefix="yjsim-decide-") as tmp:
        probe = Path(tmp) / "probe.toml"
        for i, lever in enumerate(spec.levers):
            for value in lever.extremes():
                probe.write_text(portfolio_text("probe", base_path, {lever.key: value}))
                try:
                    load_scenario(probe)
                except ScenarioError as e:
                    part = "key" if "unknown" in e.message else "range"
                    part = "choices" if lever.choices is not None and part == "range" else part
                    raise DecisionError(
                        path, f"levers.{i}.{part}", f"{lever.key} = {value!r}: {e.message}"
                    ) from None
    return Decision(path, spec, base_path, base.name, text)


# -- the runs ---------------------------------------------------------------------------------


def portfolio_names(n: int, prefix: str = "p") -> list[str]:
    """The design's portfolios' names (p1, p2, ...; ``prefix`` "s" for searched ones)."""
    width = len(str(n))
    return [f"{prefix}{i + 1:0{width}d}" for i in range(n)]


def group_of(index: int, groups: int) -> int:
    """The group (1-based) of the portfolio at ``index`` (0-based) in the design."""
    return index % groups + 1


def group_name(g: int) -> str:
    return f"g{g:02d}"


def group_seed(decision: Decision, g: int) -> int:
    """Group g's experiment seed: its runs' seeds follow the previous group's (so no two
    groups share a seed), and its posterior particles and effect draws are its own."""
    spec = decision.spec
    return spec.seed + (g - 1) * max(spec.draws, 1) * spec.replicates


def experiment_text(decision: Decision, files: list[str], g: int = 1) -> str:
    spec = decision.spec
    lines = [
        f"name = {json.dumps(f'decide-{spec.name}-{group_name(g)}')}",
        f"description = {json.dumps(f'group {g} of the design of decision {decision.path.name}')}",
        "scenarios = [" + ", ".join(json.dumps(f) for f in files) + "]",
        f"replicates = {spec.replicates}",
        f"draws = {spec.draws}",
        f"seed = {group_seed(decision, g)}",
        'outputs = ["summary"]',
    ]
    for key in ("years", "burn_in_years"):
        if getattr(spec, key) is not None:
            lines.append(f"{key} = {getattr(spec, key)}")
    return "\n".join(lines) + "\n"


def write_design(decision: Decision, out: Path) -> list[Path]:
    """Write the portfolios' scenarios and each group's experiment into ``out/design``;
    return the experiment files. A folder holding another decision's design is refused."""
    design = decision.design()
    names = portfolio_names(len(design))
    texts = {
        f"{n}.toml": portfolio_text(n, decision.base_path, v)
        for n, v in zip(names, design, strict=True)
    }
    groups = decision.spec.groups
    for g in range(1, groups + 1):
        mine = [f"{n}.toml" for i, n in enumerate(names) if group_of(i, groups) == g]
        texts[f"experiment-{group_name(g)}.toml"] = experiment_text(
            decision, [str(decision.base_path), *mine], g
        )
    texts["decision.toml"] = decision.text
    write_design_files(out, texts, "another decision's design")
    return [out / DESIGN / f"experiment-{group_name(g)}.toml" for g in range(1, groups + 1)]


def write_design_files(out: Path, texts: dict[str, str], other: str) -> None:
    """Write each file of ``texts`` into ``out/design`` (each whole or not at all), keeping
    one that is already there; a file there that differs is refused (``other`` says what
    it holds), before anything is written."""
    folder = out / DESIGN
    for name, text in texts.items():
        f = folder / name
        if f.exists() and f.read_text() != text:
            raise DecisionError(out, "--out", f"holds {other} ({f}); use a new folder")
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in texts.items():
        f = folder / name
        if not f.exists():
            tmp = f.with_suffix(".tmp")
            tmp.write_text(text)
            tmp.replace(f)


# -- the analysis -----------------------------------------------------------------------------


def paired_table(
    summary: pd.DataFrame,
    decision: Decision,
    design: list[dict[str, Any]] | dict[str, dict[str, Any]],
) -> tuple[pd.DataFrame, list[str]]:
    """One row per (portfolio, draw, replicate): lever values, drawn parameters, cost and
    each objective's paired difference against the base. ``summary`` holds every
    group's runs with a ``group`` column; ``design`` is the design's lever values (named
    p1, p2, ...) or lever values by portfolio name. Returns it and the names of the
    drawn parameters that vary. Rows are sorted (portfolio, group, draw, replicate), so
    the emulators see them in the same order however the runs' files were read."""
    from sim.comparison import PROGRAMME_COST, with_derived

    if not isinstance(design, dict):
        design = dict(zip(portfolio_names(len(design)), design, strict=True))
    s = with_derived(summary)
    s = s.loc[~s["runaway"]]  # a run whose offending ran away says nothing about a policy
    keys = ["group", "draw", "replicate"]
    base = s.loc[s["scenario"] == decision.base_name].set_index(keys)
    params = [c for c in s.columns if c.startswith("param.")]
    rows = []
    for name, values in design.items():
        p = s.loc[s["scenario"] == name].set_index(keys).sort_index()
        common = p.index.intersection(base.index)
        if common.empty:
            continue
        p, b = p.loc[common], base.loc[common]
        frame = pd.DataFrame(index=common)
        frame["portfolio"] = name
        for k, v in values.items():
            frame[f"lever.{k}"] = v
        for c in params:  # the policy's value where it has one, else the base's
            frame[c] = pd.to_numeric(p[c], errors="coerce").fillna(
                pd.to_numeric(b[c], errors="coerce")
            )
        frame["cost_gbp"] = p[PROGRAMME_COST].astype(float) - b[PROGRAMME_COST].astype(float)
        for obj in decision.spec.objectives:
            column, kind = OBJECTIVES[obj]
            pv = p[column].astype(float) if column in p else np.nan
            bv = b[column].astype(float) if column in b else np.nan
            if kind == "parity":
                frame[f"diff.{obj}"] = np.abs(pv - 1) - np.abs(bv - 1)
            else:
                frame[f"diff.{obj}"] = pv - bv
        rows.append(frame.reset_index())
    table = pd.concat(rows, ignore_index=True) if rows else pd.DataFrame()
    drawn = [c for c in params if c in table and table[c].notna().all() and table[c].nunique() > 1]
    # Parameters that vary only because a lever sets them are levers, not draws.
    lever_params = {f"param.{lever.key}" for lever in decision.spec.levers}
    drawn = [c for c in drawn if c not in lever_params]
    return table, drawn


def features(table: pd.DataFrame, decision: Decision, drawn: list[str]) -> np.ndarray:
    """The emulator's inputs: each lever (a choice as one 0/1 column per value) and each
    drawn parameter."""
    cols = []
    for lever in decision.spec.levers:
        v = table[f"lever.{lever.key}"]
        if lever.choices is not None:
            cols += [(v == c).to_numpy(float) for c in lever.choices]
        else:
            cols.append(v.to_numpy(float))
    cols += [table[c].to_numpy(float) for c in drawn]
    return np.column_stack(cols)


def held_back(names: list[str], share: float, seed: int) -> set[str]:
    """The portfolios held back to test the emulator (at least one if share > 0)."""
    if share <= 0 or len(names) < 3:
        return set()
    k = max(1, round(share * len(names)))
    rng = np.random.default_rng(seed)
    return set(rng.choice(sorted(names), size=min(k, len(names) - 2), replace=False).tolist())


def frontier(cost: dict[str, float], averted: dict[str, float]) -> list[str]:
    """Portfolios no cheaper one beats on harm averted, from the cheapest (Pareto set)."""
    out: list[str] = []
    best = -math.inf
    for name in sorted(cost, key=lambda n: (cost[n], -averted[n], n)):
        if averted[name] > best:
            out.append(name)
            best = averted[name]
    return out


@dataclass
class Emulators:
    """The emulators fitted on a decision's design, and what they are asked over.

    ``objectives``: one per objective (fitted on every run) of the paired difference on
    (lever values, drawn parameters). ``cost``: the measured cost on the lever values
    alone (see :func:`fit_emulators`). ``per_draw``: the design's points of the drawn
    parameters, over which a portfolio's predictions are averaged. ``scale``: each
    objective's (and ``"cost"``'s) standard deviation over the runs, a yardstick.
    """

    objectives: dict[str, Emulator]
    cost: Emulator | None
    drawn: list[str]
    per_draw: pd.DataFrame
    accuracy: dict[str, Any]
    cost_accuracy: dict[str, Any] | None
    scale: dict[str, float]

    def by_draw(
        self, decision: Decision, portfolios: list[dict[str, Any]], objective: str
    ) -> np.ndarray:
        """The emulator's paired difference of each portfolio (rows) at each of the
        design's parameter points (columns)."""
        n, m = len(portfolios), len(self.per_draw)
        grid = pd.DataFrame(
            {
                f"lever.{lever.key}": np.repeat([p[lever.key] for p in portfolios], m)
                for lever in decision.spec.levers
            }
        )
        for c in self.drawn:
            grid[c] = np.tile(self.per_draw[c].to_numpy(float), n)
        x = features(grid, decision, self.drawn)
        return self.objectives[objective].predict(x).reshape(n, m)

    def predicted_cost(self, decision: Decision, portfolios: list[dict[str, Any]]) -> np.ndarray:
        """Each portfolio's predicted cost (GBP a year above the base's)."""
        assert self.cost is not None
        grid = pd.DataFrame(
            {
                f"lever.{lever.key}": [p[lever.key] for p in portfolios]
                for lever in decision.spec.levers
            }
        )
        return self.cost.predict(features(grid, decision, []))


def fit_emulators(
    table: pd.DataFrame, decision: Decision, drawn: list[str], test: set[str]
) -> Emulators:
    """Fit the objectives' and the cost's emulators on the paired table, each first
    without the held-back portfolios ``test`` to measure its accuracy on them.

    The cost's emulator has the lever values alone as inputs: a portfolio's spend is set
    by its levers and by the demand the runs meet (triage pays per case claimed, the
    gangs team per place filled, the panel per plan), which moves little with the
    drawn parameters; what is left is the white noise. Its prediction is what the runs
    would measure on average, which a lever's unit cost times its setting (spend at full
    capacity) is not, so it is fitted on the measured costs rather than computed.
    """
    spec = decision.spec
    train_rows = ~table["portfolio"].isin(test).to_numpy()
    per_draw = table.groupby(["group", "draw"])[drawn].first().reset_index()

    def fit_one(x: np.ndarray, y: np.ndarray) -> tuple[Emulator | None, dict[str, Any] | None]:
        ok = np.isfinite(y)
        if ok.sum() < 3:
            return None, None
        acc = None
        if test:
            train, hold = ok & train_rows, ok & ~train_rows
            if train.sum() >= 3 and hold.sum() >= 1:
                em = emulator.fit(x[train], y[train], spec.seed)
                acc = emulator.accuracy(y[hold], em.predict(x[hold])).as_dict()
        return emulator.fit(x[ok], y[ok], spec.seed), acc

    x = features(table, decision, drawn)
    fitted: dict[str, Emulator] = {}
    accuracy: dict[str, Any] = {}
    scale: dict[str, float] = {}
    for obj in spec.objectives:
        y = table[f"diff.{obj}"].to_numpy(float)
        em, acc = fit_one(x, y)
        if em is not None:
            fitted[obj] = em
            scale[obj] = float(np.nanstd(y))
        if acc is not None:
            accuracy[obj] = acc
    y = table["cost_gbp"].to_numpy(float)
    cost, cost_accuracy = fit_one(features(table, decision, []), y)
    scale["cost"] = float(np.nanstd(y))
    return Emulators(fitted, cost, drawn, per_draw, accuracy, cost_accuracy, scale)


def analyse(
    summary: pd.DataFrame,
    decision: Decision,
    keep: dict[str, Any] | None = None,
    search: bool = False,
    searched: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The decision's answer from the runs' summary (``DIR/decision.json``'s content).

    With ``search``, the lever space is searched on the emulators (sim/decision_search.py)
    for ``[search] candidates`` portfolios beside the design's, unless ``searched``
    gives a search's record (its ``"candidates"``' lever values are then used as they
    are: a rerun verifies the same ones). Searched portfolios are named s1, s2, ...
    ``keep``, if given, receives the fitted emulators (``"emulators"``, an
    :class:`Emulators` as ``"fit"``), the drawn parameters' columns (``"drawn"``), each
    portfolio's lever values (``"levers"``) and the search's record (``"search"``).
    """
    spec = decision.spec
    design = decision.design()
    if summary.empty:
        raise DecisionError(decision.path, "", "no finished runs to analyse")
    table, drawn = paired_table(summary, decision, design)
    if table.empty:
        raise DecisionError(decision.path, "", "no finished pair of runs to analyse")
    names = sorted(table["portfolio"].unique())
    test = held_back(names, spec.holdout, spec.seed)
    fit = fit_emulators(table, decision, drawn, test)
    fitted, per_draw = fit.objectives, fit.per_draw
    cost = table.groupby("portfolio")["cost_gbp"].mean().to_dict()
    cost[BASE] = 0.0
    levers = {
        name: dict(zip([lv.key for lv in spec.levers], v.values(), strict=True))
        for name, v in zip(portfolio_names(len(design)), design, strict=True)
    }
    if searched is None and search and spec.search.candidates:
        from sim.decision_search import search_portfolios

        searched = search_portfolios(decision, fit, [levers[n] for n in names])
    found = list(searched["candidates"]) if searched else []
    extra = dict(zip(portfolio_names(len(found), "s"), found, strict=True))
    if extra:
        predicted = fit.predicted_cost(decision, list(extra.values()))
        cost.update(zip(extra, predicted.tolist(), strict=True))
    levers.update(extra)
    if keep is not None:
        keep.update(emulators=fitted, drawn=drawn, levers=levers, fit=fit, search=searched)
    expected: dict[str, dict[str, float]] = {BASE: {obj: 0.0 for obj in spec.objectives}}
    by_draw: dict[str, dict[str, np.ndarray]] = {}
    observed: dict[str, dict[str, float]] = {}
    spread: dict[str, dict[str, dict[str, float]]] = {}
    for name in [*names, *extra]:
        expected[name], by_draw[name] = {}, {}
        rows = table.loc[table["portfolio"] == name]
        for obj in spec.objectives:
            if name not in extra:  # a searched portfolio has no runs of the design
                observed.setdefault(name, {})[obj] = float(rows[f"diff.{obj}"].mean())
                d = rows[f"diff.{obj}"].dropna().to_numpy(float)
                q = np.quantile(d, INTERVAL).tolist() if d.size else []
                spread.setdefault(name, {})[obj] = dict(
                    zip(("low", "median", "high"), q, strict=True) if q else {}
                )
            if obj in fitted:
                pred = fit.by_draw(decision, [levers[name]], obj)[0]
                by_draw[name][obj] = pred
                expected[name][obj] = float(pred.mean())
            else:  # too few runs to emulate (a searched portfolio needs every emulator)
                expected[name][obj] = observed[name][obj]
    primary = spec.ranked_by

    def feasible(name: str) -> bool:
        if cost[name] > spec.budget_gbp:
            return False
        return all(expected[name][c.objective] <= c.rise_at_most for c in spec.constraints)

    candidates = [BASE, *names, *extra]
    within = sorted((n for n in candidates if feasible(n)), key=lambda n: (expected[n][primary], n))
    # How often each feasible portfolio is best on the primary objective, draw by draw.
    n_draws = len(per_draw)
    scores = np.array(
        [
            by_draw[n].get(primary, np.full(n_draws, expected[n][primary]))
            if n != BASE
            else np.zeros(n_draws)
            for n in within
        ]
    )
    p_best: dict[str, float] = {}
    regret: dict[str, float] = {}
    if len(within):
        best = scores.min(axis=0)
        winners = scores.argmin(axis=0)
        for i, n in enumerate(within):
            p_best[n] = float(np.mean(winners == i))
            regret[n] = float(np.mean(scores[i] - best))
    portfolios = []
    for n in candidates:
        portfolios.append(
            {
                "name": n,
                "levers": levers.get(n, {}),
                "cost_gbp": float(cost[n]),
                "within_budget": bool(cost[n] <= spec.budget_gbp),
                "feasible": feasible(n),
                "rank": within.index(n) + 1 if n in within else None,
                "expected": expected[n],
                "observed_mean": None
                if n in extra
                else observed.get(n, {o: 0.0 for o in spec.objectives}),
                "observed_interval": spread.get(n, {}),
                "probability_best": p_best.get(n),
                "expected_regret": regret.get(n),
                "held_back": n in test,
                "origin": BASE if n == BASE else "search" if n in extra else "design",
                "cost_basis": "predicted" if n in extra else "measured",
            }
        )
    portfolios.sort(key=lambda p: (p["rank"] is None, p["rank"] or 0, p["name"]))
    averted = {n: -expected[n][primary] for n in candidates}
    front = frontier(cost, averted)
    # The equity variant: the same ranking, among portfolios that do not move the arrest
    # RRI further from parity (expected), and the best with equity as a weighted objective.
    equity = None
    if "rri_arrest" in spec.objectives:
        fair = [n for n in within if expected[n]["rri_arrest"] <= 0.0]
        weight = spec.equity_weight
        weighted = sorted(
            within, key=lambda n: (expected[n][primary] + weight * expected[n]["rri_arrest"], n)
        )
        equity = {
            "rule": "the arrest RRI's expected distance from parity may not rise",
            "recommended": fair[0] if fair else None,
            "ranking": fair,
            "weight": weight,
            "recommended_weighted": weighted[0] if weighted else None,
        }
    return {
        "name": spec.name,
        "budget_gbp": spec.budget_gbp,
        "ranked_by": primary,
        "objectives": {o: OBJECTIVE_LABELS[o] for o in spec.objectives},
        "constraints": [c.model_dump() for c in spec.constraints],
        "recommended": within[0] if within else None,
        "portfolios": portfolios,
        "equity_variant": equity,
        "frontier": [
            {"name": n, "cost_gbp": float(cost[n]), f"{primary}_averted": float(averted[n])}
            for n in front
        ],
        "emulator": {
            "kind": "Gaussian process (scikit-learn), constant x ARD RBF + white noise",
            "inputs": [f"lever.{lv.key}" for lv in spec.levers] + drawn,
            "held_back_portfolios": sorted(test),
            "accuracy": fit.accuracy,
            "cost_inputs": [f"lever.{lv.key}" for lv in spec.levers],
            "cost_accuracy": fit.cost_accuracy,
        },
        "search": {**searched, "portfolios": list(extra)} if searched else None,
        "design": {
            "portfolios": spec.portfolios,
            "draws": spec.draws,
            "replicates": spec.replicates,
            "groups": spec.groups,
            "parameter_points": len(per_draw),
            "paired_runs": len(table),
        },
    }


def verify_text(decision: Decision, leaders: list[str]) -> str:
    """The verification experiment: the base and the leading portfolios on fresh draws
    (seeds and draws after every group's), or fresh seeds when the decision has no draws."""
    spec = decision.spec
    files = [str(decision.base_path), *(f"{n}.toml" for n in leaders)]
    seed = group_seed(decision, spec.groups + 1)
    draws, replicates = (
        (spec.verify_draws, spec.replicates) if spec.draws else (0, spec.verify_draws)
    )
    lines = [
        f"name = {json.dumps(f'decide-{spec.name}-verify')}",
        f"description = {json.dumps(f'the leading portfolios of {decision.path.name}')}",
        "scenarios = [" + ", ".join(json.dumps(f) for f in files) + "]",
        f"replicates = {replicates}",
        f"draws = {draws}",
        f"seed = {seed}",
        'outputs = ["summary"]',
    ]
    for key in ("years", "burn_in_years"):
        if getattr(spec, key) is not None:
            lines.append(f"{key} = {getattr(spec, key)}")
    return "\n".join(lines) + "\n"


def verify(
    summary: pd.DataFrame, decision: Decision, leaders: list[str], answer: dict[str, Any]
) -> dict[str, Any]:
    """What real paired runs say of the leading portfolios, against the emulator.

    Agreement: the verified mean difference is within the emulator's held-back RMSE
    (its stated error for one run) plus twice the verified mean's standard error. The
    leaders' lever values are ``answer``'s (the design's portfolios and searched ones).
    """
    spec = decision.spec
    primary = spec.ranked_by
    known = {p["name"]: p for p in answer["portfolios"]}
    levers = {n: known[n]["levers"] for n in leaders}
    table, _ = paired_table(summary.assign(group=0), decision, levers)
    expected = {p["name"]: p["expected"] for p in answer["portfolios"]}
    rmse = {o: a["rmse"] for o, a in answer["emulator"]["accuracy"].items()}
    out: dict[str, Any] = {"portfolios": {}, "draws": spec.verify_draws}
    keys = ["draw", "replicate"]
    scores = {BASE: None}
    for name in leaders:
        rows = table.loc[table["portfolio"] == name].sort_values(keys)
        if rows.empty:
            continue
        entry: dict[str, Any] = {
            "origin": known[name]["origin"],
            "cost_gbp": float(rows["cost_gbp"].mean()),
            "cost_expected_gbp": known[name]["cost_gbp"],  # measured in the design, or predicted
            "runs": len(rows),
        }
        for obj in spec.objectives:
            d = rows[f"diff.{obj}"].dropna().to_numpy(float)
            if not d.size:
                continue
            mean = float(d.mean())
            se = float(d.std(ddof=1) / math.sqrt(d.size)) if d.size > 1 else math.nan
            low, median, high = np.quantile(d, INTERVAL).tolist()
            exp = expected[name][obj]
            tol = rmse.get(obj, math.nan) + 2 * se
            entry[obj] = {
                "mean": mean,
                "median": median,
                "low": low,
                "high": high,
                "standard_error": se,
                "emulator_expected": exp,
                "agrees_with_emulator": bool(abs(mean - exp) <= tol)
                if math.isfinite(tol)
                else None,
            }
        out["portfolios"][name] = entry
        scores[name] = rows.set_index(keys)[f"diff.{primary}"]

    def feasible(name: str) -> bool:
        return name == BASE or out["portfolios"][name]["feasible"]

    for entry in out["portfolios"].values():
        why = []
        if entry["cost_gbp"] > spec.budget_gbp:
            why.append(f"it costs GBP {entry['cost_gbp']:,.0f} a year, over the budget")
        for c in spec.constraints:
            rise = entry.get(c.objective, {}).get("mean", math.nan)
            if not rise <= c.rise_at_most:
                why.append(f"{c.objective} rose by {rise:.3g} (mean), over {c.rise_at_most:g}")
        entry["feasible"] = not why
        entry["why_not"] = "; ".join(why)
    names = [n for n in scores if n == BASE or n in out["portfolios"]]
    # Probability best and regret among the options one may choose: the base and the
    # leaders within budget and constraints (others get none).
    chosen = [n for n in names if n != BASE and feasible(n)]
    runs = [scores[n] for n in chosen]
    out.setdefault(BASE, {})
    if runs:
        frame = pd.concat(runs, axis=1, join="inner")
        frame.columns = chosen
        frame.insert(0, BASE, 0.0)  # the base against itself
        values = frame.to_numpy(float)
        best = values.min(axis=1)
        winners = values.argmin(axis=1)
        for i, n in enumerate(frame.columns):
            target = out["portfolios"][n] if n != BASE else out[BASE]
            target["probability_best"] = float(np.mean(winners == i))
            target["expected_regret"] = float(np.mean(values[:, i] - best))
    else:
        out[BASE].update(probability_best=1.0, expected_regret=0.0)
    ok = [n for n in names if feasible(n)]
    mean_of = {n: 0.0 if n == BASE else out["portfolios"][n][primary]["mean"] for n in ok}
    out["recommended"] = min(ok, key=lambda n: (mean_of[n], n))
    return out


@dataclass
class DecisionResult:
    path: Path  # DIR/decision.json
    answer: dict[str, Any]
    runs: int
    failed: int


def run_decision(
    path: str | Path,
    out: str | Path,
    workers: int | None = None,
    scheduler: str | None = None,
    progress: bool = True,
    log: Callable[[str], None] | None = None,
) -> DecisionResult:
    """Run (or resume) a decision into ``out``; write ``out/decision.json``."""
    from sim.batch import run_experiment
    from sim.results import write_json

    out = Path(out)
    decision = load_decision(path)
    runs = failed = 0
    for g, experiment in enumerate(write_design(decision, out), start=1):
        done = run_experiment(
            experiment, out / RUNS / group_name(g), workers, scheduler, progress=progress
        )
        runs, failed = runs + done.runs, failed + done.failed
    summary = read_summary(out, decision.spec.groups)
    kept: dict[str, Any] = {}
    record = out / DESIGN / SEARCH_RECORD
    # A search already recorded (its candidates written and verified, or being verified)
    # is reused as it is, so a rerun verifies the same portfolios.
    recorded = json.loads(record.read_text()) if record.exists() else None
    answer = analyse(summary, decision, kept, search=True, searched=recorded)
    ranked = [p for p in answer["portfolios"] if p["rank"] and p["origin"] == "design"]
    searched = [p for p in answer["portfolios"] if p["origin"] == "search"]
    # The design's leaders and every searched candidate (in the ranking's order).
    chosen = {p["name"] for p in ranked[: decision.spec.verify] + searched}
    leaders = [p["name"] for p in answer["portfolios"] if p["name"] in chosen]
    answer["recommended_by_emulator"] = answer["recommended"]
    if leaders and failed:
        answer["verification"] = None
        if log is not None:
            log("the design has failed runs, so the leading portfolios are not verified; rerun")
    elif leaders:
        if recorded is None and kept.get("search") is not None:
            write_json(record, kept["search"])
        write_design_files(
            out,
            {
                f"{p['name']}.toml": portfolio_text(p["name"], decision.base_path, p["levers"])
                for p in searched
            },
            "another decision's searched portfolios",
        )
        text = verify_text(decision, leaders)
        exp = out / DESIGN / "experiment-verify.toml"
        if exp.exists() and exp.read_text() != text:
            raise DecisionError(
                out, "--out", f"holds another verification ({exp}); use a new folder"
            )
        if not exp.exists():
            exp.write_text(text)
        done = run_experiment(exp, out / RUNS / VERIFY, workers, scheduler, progress=progress)
        runs, failed = runs + done.runs, failed + done.failed
        from sim.results import read_results

        checked = verify(read_results(out / RUNS / VERIFY, "summary"), decision, leaders, answer)
        answer["verification"] = checked
        answer["recommended"] = checked["recommended"]
    answer.update(uncertainty(decision, out, answer, kept))
    answer["runs"] = {"planned": runs, "failed": failed}
    if failed and log is not None:
        log(f"{failed} runs failed; they are left out (see {out / RUNS}/gNN/failures)")
    target = out / "decision.json"
    write_json(target, answer)
    from sim.decision_report import write_decision_report

    write_decision_report(out)
    return DecisionResult(target, answer, runs, failed)


def uncertainty(
    decision: Decision, out: Path, answer: dict[str, Any], kept: dict[str, Any]
) -> dict[str, Any]:
    """Scenario discovery and EVPPI on the emulators over fresh parameter draws
    (sim/discovery.py): when the recommendation loses, and what is worth finding out."""
    from sim import discovery
    from sim.experiment import load_experiment

    spec = decision.spec
    none: dict[str, Any] = {"scenario_discovery": None, "evppi": None}
    drawn, fitted = kept.get("drawn", []), kept.get("emulators", {})
    primary = spec.ranked_by
    if not spec.scenario_draws or not drawn or primary not in fitted:
        return none
    exp = load_experiment(out / DESIGN / f"experiment-{group_name(1)}.toml")
    names = [c.removeprefix("param.") for c in drawn]
    sample = discovery.parameter_sample(
        exp, names, spec.scenario_draws, group_seed(decision, spec.groups + 2)
    )
    if sample is None:
        return none
    recommended = answer["recommended"]
    ranked = [p["name"] for p in answer["portfolios"] if p["rank"]]
    options = [recommended, *(n for n in ranked[: max(spec.verify, 1) + 1] if n != recommended)]
    if BASE not in options:
        options.append(BASE)

    def predict(obj: str, name: str, at: pd.DataFrame) -> np.ndarray:
        if name == BASE:
            return np.zeros(len(at))
        grid = pd.DataFrame({f"lever.{k}": [v] * len(at) for k, v in kept["levers"][name].items()})
        for col, plain in zip(drawn, names, strict=True):
            grid[col] = at[plain].to_numpy(float)
        return fitted[obj].predict(features(grid, decision, drawn))

    values = discovery.values_at(lambda n, at: predict(primary, n, at), options, sample)
    # A loss is a win by another option larger than the emulator's error on held-back
    # runs (its RMSE on the primary objective): smaller wins it cannot tell from noise.
    margin = float(
        (answer.get("emulator") or {}).get("accuracy", {}).get(primary, {}).get("rmse") or 0.0
    )
    if not math.isfinite(margin):
        margin = 0.0
    beaten, best = discovery.losses(values, margin)
    winners = np.asarray(options)[best][beaten]
    found = discovery.discover(sample, beaten)
    found["recommended"] = recommended
    found["margin"] = margin
    found["share_beaten_at_all"] = float(np.mean(values[0] > values[1:].min(axis=0)))
    found["compared_with"] = options[1:]
    found["beaten_by"] = {
        str(n): float(np.mean(winners == n) * np.mean(beaten)) for n in np.unique(winners)
    }
    value = {
        "draws": len(sample),
        "options": options,
        primary: discovery.evppi(sample, -values, discovery.parameter_groups(names)),
    }
    if "net_social_cost" in fitted and primary != "net_social_cost":
        money = discovery.values_at(
            lambda n, at: predict("net_social_cost", n, at), options, sample
        )
        value["net_social_cost"] = discovery.evppi(
            sample, -money, discovery.parameter_groups(names)
        )
    return {"scenario_discovery": found, "evppi": value}


def read_summary(out: Path, groups: int) -> pd.DataFrame:
    """Every group's summary rows, with a ``group`` column."""
    from sim.results import read_results

    frames = []
    for g in range(1, groups + 1):
        s = read_results(out / RUNS / group_name(g), "summary")
        if not s.empty:
            frames.append(s.assign(group=g))
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
