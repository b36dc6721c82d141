"""What a change would do at a fit's closest particles: ``yjsim fit-probe``.

Where a fit keeps missing a target, issue 17 asks for an experiment that shows which
mechanism would have to differ, and by how much. This is that experiment, run on a
saved history (a fit in progress or finished): the closest particles of a generation
(the smallest distances), each run with a few seeds in the fit's settings at the fit's
size, burn-in and years (as ``yjsim calibrate`` runs them), once as fitted and once
with one or more parameters changed. The two runs of a (particle, seed) share their
seed, so they differ only by the change (common random numbers), and the paired
differences are summarised per target with a 95% interval of their mean.

It writes nothing. A change is a what-if, not a fitted value: a sourced difference of
place goes in the setting's scenario file, and a fitted parameter only moves by the
fit. A change may name any parameter a scenario can set (dotted, as in an
experiment's overrides), a fitted one included (it then replaces the particle's value).
"""

from __future__ import annotations

import math
import os
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats as scipy_stats

from sim.calibration import (
    UNDEFINED_DISTANCE,
    Calibration,
    CalibrationError,
    distance,
    pool_map,
    simulate_settings,
)
from sim.fit_progress import (
    chosen_generation,
    format_number,
    natural_parameters,
    saved_history,
    target_lines,
)
from sim.scenario import ScenarioError, apply_overrides


@dataclass(frozen=True)
class FitProbe:
    """A probe's result (see the module's docstring)."""

    name: str
    generation: int
    particles: list[int]  # their rows in the generation, closest first
    seeds: list[int]
    changes: dict[str, Any]
    settings: list[str]
    # One row per target of the settings run: target, fitted, wanted, as_fitted,
    # changed (means over the pairs), difference, low, high (its 95% interval), pairs.
    targets: pd.DataFrame
    # Mean distance over the fitted targets of the settings run, over the runs whose
    # statistics are all defined, and how many were not (offending ran away, say).
    distance_as_fitted: float
    distance_changed: float
    undefined_as_fitted: int
    undefined_changed: int
    # Where the particles came from; with another model's history (``history_path``),
    # the free parameters it lacks, which take the settings' values.
    history: str = ""
    other_model: bool = False
    at_setting_values: list[str] = field(default_factory=list)


def parse_change(text: str) -> tuple[str, Any]:
    """``NAME=VALUE`` with VALUE read as a TOML value (``1.5``, ``false``, ``"matrix"``;
    a bare word is taken as a string)."""
    name, sep, value = text.partition("=")
    name, value = name.strip(), value.strip()
    if not sep or not name or not value:
        raise ValueError(f"expected NAME=VALUE, got {text!r}")
    try:
        return name, tomllib.loads(f"v = {value}")["v"]
    except tomllib.TOMLDecodeError:
        if value.replace("_", "").replace("-", "").isalnum():
            return name, value
        raise ValueError(f"{name}: {value!r} is not a number, true/false or a string") from None


def other_history(cal: Calibration, path: Path):  # -> pyabc.History
    """Another saved history, read for its particles: it must exist and hold a finished
    generation (its fingerprint is not checked)."""
    import pyabc

    path = Path(path)
    if not path.is_file():
        raise CalibrationError(cal.path, "--history", f"no saved history at {path}")
    history = pyabc.History(f"sqlite:///{path}", _id=1)
    if history.max_t < 0:
        raise CalibrationError(cal.path, "--history", f"{path} holds no finished generation")
    return history


def closest_particles(
    cal: Calibration, history, generation: int, closest: int
) -> list[tuple[int, dict[str, float]]]:
    """The ``closest`` particles of ``generation`` with the smallest distances, closest
    first: (row in the generation, parameters in the units the model reads)."""
    frame, _ = history.get_distribution(m=0, t=generation)
    dist = history.get_weighted_distances(t=generation)["distance"].to_numpy(float)
    rows = np.argsort(dist, kind="stable")[:closest]
    return [(int(r), natural_parameters(cal, frame, int(r))) for r in rows]


def run_settings(task: tuple) -> dict[str, float]:
    """The statistics of (scenarios, parameters, seed, scale, statistics)."""
    scenarios, draw, seed, scale, statistics = task
    return simulate_settings(scenarios, draw, seed, scale, statistics)


def fit_probe(
    cal: Calibration,
    changes: Mapping[str, Any],
    *,
    generation: int | None = None,
    closest: int = 3,
    seeds: int = 2,
    settings: Sequence[str] | None = None,
    workers: int | None = None,
    history_path: Path | None = None,
) -> FitProbe:
    """Run the probe (see the module's docstring); ``settings`` limits which settings
    run (default: every setting with a target).

    ``history_path``: the particles of another saved history, such as the fit of the
    model before a structural change (not checked against this config's fingerprint: the
    model run is the one in the code now). A free parameter that history lacks takes
    the settings' value in both runs, and the result names it."""
    if not changes:
        raise CalibrationError(cal.path, "--set", "expected at least one NAME=VALUE")
    if closest < 1:
        raise CalibrationError(cal.path, "--closest", f"expected at least 1, got {closest}")
    if seeds < 1:
        raise CalibrationError(cal.path, "--seeds", f"expected at least 1, got {seeds}")
    scenarios = cal.fit_scenarios()
    with_targets = [s for s in scenarios if any(t.setting == s for t in cal.targets)]
    chosen = list(settings) if settings else with_targets
    for s in chosen:
        if s not in with_targets:
            raise CalibrationError(
                cal.path, "--setting", f"expected one of {', '.join(with_targets)}, got {s!r}"
            )
    for s in chosen:  # a bad name or value fails here, before anything runs
        try:
            apply_overrides(scenarios[s], dict(changes))
        except ScenarioError as e:
            raise CalibrationError(cal.path, "--set", f"{e.key}: {e.message}") from None
    history = saved_history(cal) if history_path is None else other_history(cal, history_path)
    t = chosen_generation(cal, history, generation)
    particles = closest_particles(cal, history, t, closest)
    # A free parameter the history lacks is left out of its particles (natural_parameters).
    missing = [p.name for p in cal.priors if p.name not in particles[0][1]]
    targets = [tg for tg in cal.targets if tg.setting in chosen]
    statistics = [(tg.setting, tg.statistic) for tg in targets]
    seed_list = list(range(1, seeds + 1))
    scale = cal.config.simulation.scale
    # One task per (particle, seed, as fitted or changed), in that order.
    runs = {s: scenarios[s] for s in chosen}
    tasks = [
        (runs, draw, seed, scale, statistics)
        for _, theta in particles
        for seed in seed_list
        for draw in (theta, {**theta, **changes})
    ]
    workers = workers or len(os.sched_getaffinity(0))
    records = pool_map(run_settings, tasks, workers, "fit-probe")
    as_fitted, changed = records[0::2], records[1::2]
    rows = []
    for tg in targets:
        key = f"{tg.setting}.{tg.statistic}"
        a = np.array([r.get(key, math.nan) for r in as_fitted], dtype=float)
        b = np.array([r.get(key, math.nan) for r in changed], dtype=float)
        d = b - a
        d = d[np.isfinite(d)]
        low = high = math.nan
        if d.size >= 2:
            half = scipy_stats.t.ppf(0.975, d.size - 1) * d.std(ddof=1) / math.sqrt(d.size)
            low, high = float(d.mean() - half), float(d.mean() + half)
        elif d.size == 1:
            low = high = float(d[0])
        rows.append(
            {
                "target": key,
                "fitted": tg.fit,
                "wanted": tg.wanted,
                "as_fitted": float(np.nanmean(a)) if np.isfinite(a).any() else math.nan,
                "changed": float(np.nanmean(b)) if np.isfinite(b).any() else math.nan,
                "difference": float(d.mean()) if d.size else math.nan,
                "low": low,
                "high": high,
                "pairs": int(d.size),
            }
        )
    table = pd.DataFrame(rows).sort_values("fitted", ascending=False, kind="stable")
    as_fitted_d = np.array([distance(r, targets) for r in as_fitted])
    changed_d = np.array([distance(r, targets) for r in changed])
    return FitProbe(
        name=cal.config.name,
        generation=t,
        particles=[r for r, _ in particles],
        seeds=seed_list,
        changes=dict(changes),
        settings=chosen,
        targets=table.reset_index(drop=True),
        distance_as_fitted=_mean_defined(as_fitted_d),
        distance_changed=_mean_defined(changed_d),
        undefined_as_fitted=int((as_fitted_d >= UNDEFINED_DISTANCE).sum()),
        undefined_changed=int((changed_d >= UNDEFINED_DISTANCE).sum()),
        history=str(cal.history_path if history_path is None else history_path),
        other_model=history_path is not None,
        at_setting_values=missing,
    )


def _mean_defined(distances: np.ndarray) -> float:
    defined = distances[distances < UNDEFINED_DISTANCE]
    return float(defined.mean()) if defined.size else math.nan


def format_fit_probe(p: FitProbe) -> str:
    """The probe as a plain-text table (what ``yjsim fit-probe`` prints)."""
    change = ", ".join(f"{k} = {v!r}" for k, v in p.changes.items())
    out = [
        f"{p.name}: generation {p.generation}'s {len(p.particles)} closest particles "
        f"(rows {', '.join(map(str, p.particles))}) x seeds {p.seeds[0]}-{p.seeds[-1]}, "
        f"settings {', '.join(p.settings)}, at the fit's size, burn-in and years",
        f"changed: {change}",
        "each target's mean as fitted and changed, and the paired difference (changed - "
        "as fitted) with the 95% interval of its mean",
    ]
    if p.other_model:
        absent = ", ".join(p.at_setting_values) or "none"
        out.append(
            f"particles from {p.history}, a fit of another model; free parameters not in "
            f"it, at the settings' values: {absent}"
        )
    out += [
        "",
        f"{'target':<58}  {'wanted':>16}  {'as fitted':>9}  {'changed':>9}  "
        f"{'difference':>10}  95% interval",
    ]
    out += target_lines(p.targets, _probe_line)
    out += [
        "",
        "distance over the fitted targets of these settings (mean over the runs): "
        f"{format_number(p.distance_as_fitted)} as fitted, "
        f"{format_number(p.distance_changed)} changed",
    ]
    for label, n in (("as fitted", p.undefined_as_fitted), ("changed", p.undefined_changed)):
        if n:
            out.append(f"  {n} run(s) {label} left a fitted statistic undefined (ran away?)")
    return "\n".join(out)


def _probe_line(r) -> str:
    interval = f"{format_number(r.low)} to {format_number(r.high)}" if math.isfinite(r.low) else "-"
    return (
        f"  {r.target:<56}  {r.wanted:>16}  {format_number(r.as_fitted):>9}  "
        f"{format_number(r.changed):>9}  {format_number(r.difference):>10}  {interval}"
    )
