"""Global sensitivity analysis with SALib: which parameters the targets and the policy
differences hang on.

Two stages, as the calibration config's ``[sensitivity]`` block sets them:

1. Morris screening over every free parameter's prior range (log scale for loguniform
   priors): ``trajectories`` x (k + 1) points, each the mean of ``replicates`` runs
   with common seeds, so a point's elementary effect is not mostly noise;
2. Sobol indices (Saltelli sampling, first order and total) on the parameters Morris
   ranks highest, the others held at the posterior mean.

Outputs are the fitted targets (in units of their tolerance, so they compare) and the
policy differences on the named setting: for each policy scenario, the relative change
in true offences and in children cautioned or sentenced against the setting itself,
from paired runs. The results are CSV tables and bar charts under the report folder.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

from sim.calibration import (
    Calibration,
    CalibrationError,
    PriorSpec,
    Runaway,
    pool_map,
    simulate_guarded,
    simulate_settings_with_runaways,
    statistics_of,
)
from sim.fit_report import embed_sensitivity
from sim.posterior import PosteriorError
from sim.scenario import Scenario, ScenarioError, load_scenario
from sim.tomlfile import validate

POLICY_STATISTICS = {
    "true_offences_per_year": "true offences",
    "children_cautioned_or_sentenced_per_year": "cautioned or sentenced",
}


class SensitivitySettings(BaseModel):
    """The ``[sensitivity]`` block of a calibration config."""

    model_config = ConfigDict(extra="forbid")
    setting: str = Field(description="the setting whose policy differences are measured")
    policies: dict[str, str] = Field(default_factory=dict, description="name -> scenario file")
    trajectories: int = Field(6, ge=2, le=1000)
    levels: int = Field(4, ge=2, le=20)
    replicates: int = Field(2, ge=1, le=100)
    sobol_parameters: int = Field(4, ge=1, le=50)
    sobol_samples: int = Field(16, ge=2, le=100_000, description="Saltelli base sample N")
    seed: int = Field(1, ge=0, lt=2**31)


def settings_of(cal: Calibration) -> SensitivitySettings:
    data = cal.config.sensitivity
    if data is None:
        raise CalibrationError(cal.path, "sensitivity", "missing: the block that sets the analysis")
    s = validate(SensitivitySettings, data, cal.path, CalibrationError, key_prefix="sensitivity")
    if s.setting not in cal.scenarios:
        raise CalibrationError(
            cal.path,
            "sensitivity.setting",
            f"unknown setting {s.setting!r}; expected one of {sorted(cal.scenarios)}",
        )
    return s


def analysis_ranges(cal: Calibration) -> tuple[list[PriorSpec], str]:
    """The ranges the analysis varies each parameter over, and where they come from.

    With a posterior: its 90% interval, the values the data leave plausible. Without
    one: the prior. (Over the whole prior box most Morris points sit where offending
    runs away, which says little about the conclusions.)
    """
    from sim.posterior import load_posterior

    try:
        post = load_posterior(cal.posterior_path)
    except PosteriorError:
        return list(cal.priors), "the priors (no posterior yet)"
    lo, hi = post.quantiles(0.05), post.quantiles(0.95)
    ranges = [
        p.model_copy(update={"low": lo[p.name], "high": max(hi[p.name], lo[p.name] * 1.001 + 1e-9)})
        for p in cal.priors
    ]
    return ranges, f"the posterior's 90% intervals ({cal.posterior_path.name})"


def _problem(priors: Sequence[PriorSpec]) -> dict:
    """SALib's problem: loguniform priors are sampled on log10."""
    bounds = [
        [math.log10(p.low), math.log10(p.high)] if p.prior == "loguniform" else [p.low, p.high]
        for p in priors
    ]
    return {"num_vars": len(priors), "names": [p.name for p in priors], "bounds": bounds}


def _theta(priors: Sequence[PriorSpec], row: np.ndarray, fixed: Mapping[str, float]) -> dict:
    theta = dict(fixed)
    for p, x in zip(priors, row, strict=True):
        theta[p.name] = float(10**x if p.prior == "loguniform" else x)
    return theta


class _Evaluator:
    """One point: the fitted targets and the policy differences, averaged over replicates."""

    def __init__(self, cal: Calibration, s: SensitivitySettings) -> None:
        self.cal = cal
        self.fit = cal.fit_scenarios()
        self.scale = cal.config.simulation.scale
        self.stats = [(t.setting, t.statistic) for t in cal.targets if t.fit]
        self.targets = [t for t in cal.targets if t.fit]
        base = self.fit[s.setting]
        self.policies: dict[str, Scenario] = {}
        self.policy_own: dict[str, set[str]] = {}
        for name, rel in s.policies.items():
            try:
                sc = load_scenario(cal.dir / rel, use_posterior=False)
            except ScenarioError as e:
                raise CalibrationError(cal.path, f"sensitivity.policies.{name}", str(e)) from None
            self.policies[name] = sc.model_copy(
                update={"population": base.population, "run": base.run}
            )
            # A free parameter the policy itself changes is the policy: keep its value.
            self.policy_own[name] = {
                p.name for p in cal.priors if _value(sc, p.name) != _value(base, p.name)
            }
        self.setting = s.setting
        if self.policies:  # the policies' baseline is the setting's own run: read it there
            self.stats += [(s.setting, key) for key in POLICY_STATISTICS]
        self.replicates = s.replicates
        self.seed = s.seed

    @property
    def outputs(self) -> list[str]:
        out = [t.name for t in self.targets]
        for name in self.policies:
            out += [f"{name}: {label}" for label in POLICY_STATISTICS.values()]
        return out

    def __call__(self, theta: dict[str, float]) -> dict[str, float]:
        acc: dict[str, list[float]] = {}
        ran_away = 0  # runs at this point (settings and policy runs) that ran away
        for r in range(self.replicates):
            seed = self.seed + r  # the same seeds at every point: common random numbers
            base_stats, wild = simulate_settings_with_runaways(
                self.fit, theta, seed, self.scale, self.stats
            )
            ran_away += len(wild)
            for t in self.targets:
                x = base_stats[f"{t.setting}.{t.statistic}"]
                acc.setdefault(t.name, []).append(x / t.tolerance)  # in tolerances
            if not self.policies or self.setting in wild:
                continue  # offending ran away: no policy difference at this point
            base = {key: base_stats[f"{self.setting}.{key}"] for key in POLICY_STATISTICS}
            for name, sc in self.policies.items():
                mine = {k: v for k, v in theta.items() if k not in self.policy_own[name]}
                try:
                    pol = statistics_of(simulate_guarded(sc, seed, mine), self.scale)
                except Runaway:
                    ran_away += 1
                    continue
                for key, label in POLICY_STATISTICS.items():
                    change = 100 * (pol[key] - base[key]) / base[key] if base[key] else math.nan
                    acc.setdefault(f"{name}: {label}", []).append(change)
        return {**{k: _mean_finite(v) for k, v in acc.items()}, RAN_AWAY: float(ran_away)}


def _mean_finite(values: list[float]) -> float:
    """Mean of the finite values; NaN (without numpy's empty-slice warning) if none."""
    x = np.asarray(values, float)
    x = x[np.isfinite(x)]
    return float(x.mean()) if x.size else math.nan


def _value(sc: Scenario, name: str) -> object:
    section, _, key = name.partition(".")
    return getattr(getattr(sc, section), key)


def _imputed(column: pd.Series) -> tuple[np.ndarray, int]:
    """An output's values with runaway points (NaN) set to its mean, and how many."""
    y = column.to_numpy(float)
    missing = ~np.isfinite(y)
    if missing.any():
        y = np.where(missing, np.nanmean(y), y)
    return y, int(missing.sum())


# Column of a screened point: how many of its runs (settings and policy runs, over the
# replicates) ran away.
RAN_AWAY = "ran_away"


def _evaluate_all(ev: _Evaluator, thetas: list[dict], workers: int, label: str) -> pd.DataFrame:
    rows = pool_map(ev, thetas, workers, label)
    return pd.DataFrame(rows, columns=[*ev.outputs, RAN_AWAY])


def morris(
    cal: Calibration, s: SensitivitySettings, workers: int, ranges: Sequence[PriorSpec]
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Morris screening: mu* (mean absolute elementary effect) and sigma per output; and
    the points screened (parameters, outputs and ``ran_away``), one row each."""
    from SALib.analyze import morris as morris_analyze
    from SALib.sample import morris as morris_sample

    problem = _problem(ranges)
    X = morris_sample.sample(problem, s.trajectories, num_levels=s.levels, seed=s.seed)
    ev = _Evaluator(cal, s)
    thetas = [_theta(ranges, row, {}) for row in X]
    Y = _evaluate_all(ev, thetas, workers, "morris")
    rows = []
    for out in ev.outputs:
        y, imputed = _imputed(Y[out])
        res = morris_analyze.analyze(problem, X, y, num_levels=s.levels, print_to_console=False)
        rows += _index_rows(out, problem["names"], res, MORRIS_COLUMNS, imputed)
    return pd.DataFrame(rows), pd.concat([pd.DataFrame(thetas), Y], axis=1)


MORRIS_COLUMNS = ("mu_star", "mu_star_conf", "sigma")
SOBOL_COLUMNS = ("S1", "S1_conf", "ST", "ST_conf")


def _index_rows(
    output: str, names: Sequence[str], res: Mapping, columns: Sequence[str], imputed: int
) -> list[dict]:
    """One table row per parameter: SALib's indices ``columns`` for one output."""
    return [
        {
            "output": output,
            "parameter": name,
            **{c: float(res[c][i]) for c in columns},
            "points_imputed": imputed,
        }
        for i, name in enumerate(names)
    ]


def rank_parameters(screen: pd.DataFrame) -> list[str]:
    """Parameters by their largest mu* relative to the output's largest, over outputs."""
    rel = screen.assign(
        rel=screen["mu_star"] / screen.groupby("output")["mu_star"].transform("max").replace(0, 1)
    )
    return rel.groupby("parameter")["rel"].max().sort_values(ascending=False).index.tolist()


def sobol(
    cal: Calibration,
    s: SensitivitySettings,
    chosen: Sequence[str],
    fixed: Mapping[str, float],
    workers: int,
    ranges: Sequence[PriorSpec],
) -> pd.DataFrame:
    """First-order and total Sobol indices of the chosen parameters, per output."""
    from SALib.analyze import sobol as sobol_analyze
    from SALib.sample import sobol as sobol_sample

    priors = [p for p in ranges if p.name in chosen]
    problem = _problem(priors)
    X = sobol_sample.sample(problem, s.sobol_samples, calc_second_order=False, seed=s.seed)
    ev = _Evaluator(cal, s.model_copy(update={"replicates": 1}))
    others = {k: v for k, v in fixed.items() if k not in chosen}
    Y = _evaluate_all(ev, [_theta(priors, row, others) for row in X], workers, "sobol")
    rows = []
    for out in ev.outputs:
        y, imputed = _imputed(Y[out])
        res = sobol_analyze.analyze(
            problem, y, calc_second_order=False, print_to_console=False, seed=s.seed
        )
        rows += _index_rows(out, problem["names"], res, SOBOL_COLUMNS, imputed)
    return pd.DataFrame(rows)


def plot_morris(screen: pd.DataFrame, path: Path, units: Mapping[str, str]) -> Path:
    """One horizontal bar chart per output: mu* of each parameter, largest on top."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    outputs = list(dict.fromkeys(screen["output"]))
    cols = 3
    rows = math.ceil(len(outputs) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(13, 2.6 * rows + 0.8), squeeze=False)
    for ax, out in zip(axes.flat, outputs, strict=False):
        d = screen[screen["output"] == out].sort_values("mu_star")
        ax.barh(d["parameter"], d["mu_star"], xerr=d["mu_star_conf"], color="tab:blue", alpha=0.8)
        ax.set_title(out, fontsize=9)
        ax.set_xlabel(f"mu* ({units.get(out, '')})", fontsize=8)
        ax.tick_params(labelsize=7)
    for ax in list(axes.flat)[len(outputs) :]:
        ax.axis("off")
    fig.suptitle("Morris screening: how much each parameter moves each output", fontsize=11)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def plot_sobol(indices: pd.DataFrame, path: Path) -> Path:
    """Grouped bars of first-order and total indices per output."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    outputs = list(dict.fromkeys(indices["output"]))
    cols = 3
    rows = math.ceil(len(outputs) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(13, 2.6 * rows + 0.8), squeeze=False)
    for ax, out in zip(axes.flat, outputs, strict=False):
        d = indices[indices["output"] == out]
        y = np.arange(len(d))
        ax.barh(y - 0.2, d["S1"].clip(lower=0), 0.4, label="first order", color="tab:blue")
        ax.barh(y + 0.2, d["ST"].clip(lower=0), 0.4, label="total", color="tab:orange")
        ax.set_yticks(y, d["parameter"], fontsize=7)
        ax.set_xlim(0, 1.05)
        ax.set_title(out, fontsize=9)
        ax.set_xlabel("share of output variance", fontsize=8)
    for ax in list(axes.flat)[len(outputs) :]:
        ax.axis("off")
    axes.flat[0].legend(fontsize=7)
    fig.suptitle("Sobol indices of the parameters Morris ranked highest", fontsize=11)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def run_sensitivity(path: str | Path, *, workers: int | None = None, log=print) -> Path:
    """Morris, then Sobol on the top parameters; write tables, charts and sensitivity.md."""
    import os

    from sim.posterior import load_posterior

    cal = Calibration(path)
    s = settings_of(cal)
    workers = workers or len(os.sched_getaffinity(0))
    out = cal.report_dir
    out.mkdir(parents=True, exist_ok=True)
    ranges, ranges_from = analysis_ranges(cal)
    screen, points = morris(cal, s, workers, ranges)
    screen.to_csv(out / "sensitivity-morris.csv", index=False)
    points.to_csv(out / "sensitivity-morris-points.csv", index=False)
    wild = int((points[RAN_AWAY] > 0).sum())
    units = {t.name: "tolerances" for t in cal.targets}
    units.update({o: "% change" for o in screen["output"] if ":" in o})
    plot_morris(screen, out / "morris.png", units)
    ranked = rank_parameters(screen)
    chosen = ranked[: s.sobol_parameters]
    try:
        fixed = load_posterior(cal.posterior_path).mean()
        fixed_from = f"the posterior mean ({cal.posterior_path.name})"
    except PosteriorError:
        fixed = {
            p.name: math.sqrt(p.low * p.high) if p.prior == "loguniform" else (p.low + p.high) / 2
            for p in cal.priors
        }
        fixed_from = "the prior centres (no posterior yet)"
    indices = sobol(cal, s, chosen, fixed, workers, ranges)
    indices.to_csv(out / "sensitivity-sobol.csv", index=False)
    plot_sobol(indices, out / "sobol.png")
    n_morris = s.trajectories * (len(cal.priors) + 1)
    n_sobol = s.sobol_samples * (len(chosen) + 2)
    md = [
        "## Sensitivity",
        "",
        f"Made by `yjsim sensitivity {cal.path.as_posix()}`. Morris screening over "
        f"{ranges_from}: {s.trajectories} trajectories, {n_morris} points, each the mean of "
        f"{s.replicates} paired runs (common seeds) of every setting at the fit's size, "
        f"plus the policy scenarios on {s.setting}. Target outputs are in units of their "
        "tolerance; policy outputs are the % change against the setting, paired.",
        "",
        f"Points where offending ran away in any run: {wild} of {n_morris} "
        "(sensitivity-morris-points.csv lists every point, its parameters and how many of "
        "its runs ran away). An output missing at a point (its run ran away, or it had "
        "nothing to count) takes the output's mean: at most "
        f"{int(screen.groupby('output')['points_imputed'].max().max())} points for any "
        "one output.",
        "",
        "Parameters by their largest effect on any output (Morris mu*, relative): "
        + ", ".join(f"`{p}`" for p in ranked)
        + ".",
        "",
        "![Morris screening](morris.png)",
        "",
        f"Sobol indices (Saltelli, N = {s.sobol_samples}, {n_sobol} points, one run each) "
        f"of {', '.join(f'`{c}`' for c in chosen)}, the others at {fixed_from}. With so "
        "few points the intervals are wide (see sensitivity-sobol.csv); read the ranking, "
        "not the decimals.",
        "",
        "![Sobol indices](sobol.png)",
        "",
    ]
    md_path = out / "sensitivity.md"
    md_path.write_text("\n".join(md), encoding="utf-8")
    embed_sensitivity(out)  # the fit report carries this section too: never a stale copy
    log(f"wrote {out / 'morris.png'}, {out / 'sobol.png'} and {md_path}")
    return md_path
