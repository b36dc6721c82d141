"""Can a fit's targets be met together? ``yjsim fit-match`` (history matching).

An ABC fit judges each parameter set by one run, so a particle's misfit mixes what
the parameters get wrong with its seed's luck, and a fit still sampling cannot tell
"not there yet" from "no parameter set meets these targets together". This asks the
second question of the particles a saved fit already has, as history matching does
(Vernon, Goldstein and Bower 2010; Andrianakis et al. 2015: ``vernon-2010``,
``andrianakis-2015``):

1. One Gaussian-process emulator per fitted statistic (:mod:`sim.emulator`), fitted
   to the accepted particles of the later generations (where the fit now proposes):
   it predicts the statistic's *mean* at any parameter set, the run-to-run chance
   going to its white-noise term. Its accuracy is measured on particles it did not
   see.
2. Many candidate parameter sets near those particles (each a particle moved by a
   Gaussian step of half the particles' spread, kept inside the priors), and at each
   the predicted misfit of every fitted target, in tolerances. A target is met at a
   candidate when its predicted mean is within one tolerance (or on the right side
   of a bound): ``yjsim check-fit``'s test of a posterior mean.
3. For each target: how many candidates meet it, and, among the candidates that meet
   every other target the best candidate meets, how close it can come.
4. Optionally further waves (``wave_runs`` runs each, ``waves`` of them): the model
   run where the last search points, those runs added to what the emulators learn
   from, and the search again; from the second wave on, over candidates drawn near
   that wave's runs as well. One wave's emulators place a parameter set only to about
   a tolerance.
5. The candidate that meets most (of them, the smallest sum of squared misfits) is
   run with fresh seeds at the fit's size, burn-in and years, as ``yjsim calibrate``
   runs its settings: the emulators' answer checked by the model itself. With
   ``check_seeds``, it is also judged as ``yjsim check-fit`` judges a posterior mean:
   each setting at full size with its own burn-in and years.

With ``history_path``, the particles are another model's fit (the fit of the model
before a structural change, whose config had fewer free parameters): a free parameter
that history lacks takes the settings' value at its particles and is drawn across its
prior at the candidates, so the first wave's runs are what teach the emulators its
effect (at least one wave is needed). This asks whether a structural change could let
the targets be met together before its own fit exists.

The particles are those the fit accepted, so their runs were a little luckier than a
fresh run at the same parameters would be: a weak selection while the thresholds stand
far above the run-to-run noise (the validity refit's distance noise is about 5, its
thresholds above 100), and one the fresh runs of steps 4 and 5 are free of.

It writes nothing. A candidate is a diagnosis, not a fit: the posterior is what
``yjsim calibrate`` writes, and ``yjsim check-fit`` judges it at full size.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sim.calibration import (
    Calibration,
    CalibrationError,
    Target,
    check_fit,
    distance,
    fit_table,
    format_fit_table,
    pool_map,
)
from sim.experiment import drawn_value
from sim.fit_probe import other_history, run_settings
from sim.fit_progress import chosen_generation, format_number, recorded_float, saved_history
from sim.tomlfile import toml_tables

# Candidates are particles moved by a Gaussian step with this share of the particles'
# covariance: 0.5 squared, so steps of half their spread; the emulators are trusted
# only near where they were fitted (an assumption, as pyabc's own kernel is twice the
# covariance).
STEP_SHARE = 0.25
# Held back from the emulators' fit to measure their accuracy: one particle in five.
HELD_BACK_SHARE = 0.2
# Seeds of the first wave's runs: 10001, 10002, ..., apart from the checks' 1, 2, ...
WAVE_SEED = 10_001
WAVE_SEED_STEP = 10_000  # the seeds of wave k start at WAVE_SEED + k * WAVE_SEED_STEP
# The most candidates searched: each holds a row of parameters and of predictions
# (about 200 bytes with 12 targets and 14 parameters), so a million is 0.2 GB.
MAX_CANDIDATES = 1_000_000


@dataclass(frozen=True)
class FitMatch:
    """The answer (see the module's docstring)."""

    name: str
    generations: tuple[int, int]  # the first and last generation whose particles are used
    particles: int  # fitted on (the held-back ones are not counted)
    candidates: int
    wave_runs: int  # the waves' runs in all, added to the particles (0: none)
    first_most_met: int  # what the first wave's best candidate met, predicted
    # One row per fitted target: target, wanted, tolerance, rmse and noise_sd (on the
    # held-back particles, and the emulator's white noise), met_share (of candidates),
    # best_misfit (predicted, at the best candidate), closest_with_others (the smallest
    # |misfit| among candidates meeting every other target of the best set),
    # verified_mean, verified_se, verified_misfit (the fresh runs).
    targets: pd.DataFrame
    most_met: int  # by one candidate, predicted
    by_count: list[int]  # candidates meeting k of the fitted targets (predicted), k = 0, 1, ...
    best: dict[str, float]  # the best candidate's free parameters, in the model's units
    seeds: list[int]
    verified_distance: float  # mean over the fresh runs (NaN without them)
    fitted: list[Target]  # the fitted targets, in the table's order
    # With check_seeds: check-fit's table of every target at the best candidate, at full
    # size over that many seeds (None without).
    check: pd.DataFrame | None = None
    check_seeds: int = 0
    waves: int = 1  # of wave_runs runs each (when wave_runs > 0)
    history: str = ""  # another model's saved history, when the particles are from one
    # Free parameters that history lacks: the settings' values at its particles.
    at_setting_values: list[str] = field(default_factory=list)


def particle_table(
    cal: Calibration, history, first: int, last: int, fill: Mapping[str, float] | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """The accepted particles of generations ``first`` to ``last``: parameters as pyabc
    sampled them (log10 for a loguniform prior), one column per prior, and each fitted
    target's statistic (NaN where undefined), one column per fitted target. ``fill``:
    values (as sampled) for priors the particles lack (another model's history)."""
    fitted = [t for t in cal.targets if t.fit]
    keys = [p.key for p in cal.priors]
    fill = fill or {}
    xs, ys = [], []
    for t in range(first, last + 1):
        for particle in history.get_population(t=t).particles:
            xs.append([float(particle.parameter.get(k, fill.get(k, math.nan))) for k in keys])
            ys.append(
                [
                    recorded_float(particle.sum_stat.get(f"{g.setting}.{g.statistic}"))
                    for g in fitted
                ]
            )
    return np.array(xs, dtype=float), np.array(ys, dtype=float).reshape(len(xs), len(fitted))


def misfits(predicted: np.ndarray, targets: Sequence[Target]) -> np.ndarray:
    """Signed misfit in tolerances of each column of ``predicted`` (one per target), as
    :meth:`Target.misfit` gives it, vectorised over the rows."""
    out = np.empty_like(predicted, dtype=float)
    for j, t in enumerate(targets):
        x = predicted[:, j]
        if t.value is not None:
            out[:, j] = (x - t.value) / t.tolerance
        elif t.above is not None:
            out[:, j] = np.minimum(0.0, x - t.above) / t.tolerance
        else:
            out[:, j] = np.maximum(0.0, x - t.below) / t.tolerance
    return out


def met(m: np.ndarray, targets: Sequence[Target]) -> np.ndarray:
    """Which misfits meet their target: within one tolerance of a value, or 0 for a bound."""
    ok = np.empty(m.shape, dtype=bool)
    for j, t in enumerate(targets):
        ok[:, j] = np.abs(m[:, j]) <= 1.0 if t.value is not None else m[:, j] == 0.0
    return ok & np.isfinite(m)


def candidates_near(
    x: np.ndarray, low: np.ndarray, high: np.ndarray, n: int, seed: int
) -> np.ndarray:
    """``n`` parameter sets, each a row of ``x`` moved by a Gaussian step with
    ``STEP_SHARE`` of the rows' covariance, and clipped into [low, high]."""
    rng = np.random.default_rng(seed)
    cov = np.atleast_2d(np.cov(x, rowvar=False)) * STEP_SHARE
    start = x[rng.integers(0, len(x), n)]
    steps = rng.multivariate_normal(np.zeros(x.shape[1]), cov, size=n, method="eigh")
    return np.clip(start + steps, low, high)


def candidates_across(
    x: np.ndarray, low: np.ndarray, high: np.ndarray, n: int, seed: int, across: np.ndarray
) -> np.ndarray:
    """:func:`candidates_near`, but the columns flagged in ``across`` drawn uniformly
    between their bounds (parameters the rows of ``x`` hold at one value)."""
    c = candidates_near(x, low, high, n, seed)
    if across.any():
        rng = np.random.default_rng([seed, 1])
        c[:, across] = rng.uniform(low[across], high[across], size=(n, int(across.sum())))
    return c


@dataclass(frozen=True)
class Search:
    """What the candidates show, before any fresh run (see :func:`search`)."""

    misfit: np.ndarray  # candidates x targets, predicted
    best: int  # the row meeting most targets; of those, the smallest sum of squares
    most_met: int
    met_share: np.ndarray  # per target
    closest_with_others: np.ndarray  # per target (see FitMatch.targets)
    by_count: list[int]  # candidates meeting k targets, k = 0 to the number of targets
    met_count: np.ndarray  # per candidate: targets met
    squares: np.ndarray  # per candidate: sum of squared misfits


def search(predicted: np.ndarray, targets: Sequence[Target]) -> Search:
    """The candidates' predicted statistics (rows) judged against ``targets`` (columns)."""
    m = misfits(predicted, targets)
    ok = met(m, targets)
    count = ok.sum(axis=1)
    squares = np.where(np.isfinite(m), m, np.inf) ** 2
    total = squares.sum(axis=1)
    best = int(np.lexsort((total, -count))[0])
    closest = np.full(len(targets), np.inf)
    for j in range(len(targets)):
        # Among the candidates meeting every target the best one meets but this one.
        others = [k for k in range(len(targets)) if k != j and ok[best, k]]
        keep = ok[:, others].all(axis=1)
        if keep.any():
            closest[j] = float(np.min(np.abs(m[keep, j])))
    by_count = np.bincount(count, minlength=len(targets) + 1).tolist()
    return Search(
        misfit=m,
        best=best,
        most_met=int(count[best]),
        met_share=ok.mean(axis=0),
        closest_with_others=closest,
        by_count=by_count,
        met_count=count,
        squares=total,
    )


def fit_match(
    cal: Calibration,
    *,
    first_generation: int | None = None,
    candidates: int = 100_000,
    seeds: int = 8,
    check_seeds: int = 0,
    wave_runs: int = 0,
    waves: int = 1,
    history_path: Path | None = None,
    workers: int | None = None,
    seed: int = 1,
    progress: Callable[[str], None] | None = None,
) -> FitMatch:
    """Emulate, search and check (see the module's docstring).

    ``first_generation``: the earliest generation whose particles train the emulators
    (default: the latest three saved). ``seeds``: fresh runs of the best candidate (0:
    none). ``wave_runs``: runs at the candidates the last search found best (among
    those meeting all but one of the most it met, at random), added to the particles
    before the emulators are fitted and the candidates searched again: history
    matching's next wave, ``waves`` times. ``history_path``: another model's saved
    history (see the module's docstring)."""
    if not 1 <= candidates <= MAX_CANDIDATES:
        raise CalibrationError(
            cal.path, "--candidates", f"expected 1 to {MAX_CANDIDATES:,}, got {candidates}"
        )
    if seeds < 0:
        raise CalibrationError(cal.path, "--seeds", f"expected 0 or more, got {seeds}")
    if check_seeds < 0:
        raise CalibrationError(cal.path, "--check-seeds", f"expected 0 or more, got {check_seeds}")
    if wave_runs < 0:
        raise CalibrationError(cal.path, "--wave-runs", f"expected 0 or more, got {wave_runs}")
    if waves < 1:
        raise CalibrationError(cal.path, "--waves", f"expected 1 or more, got {waves}")
    say = progress or (lambda _: None)
    history = saved_history(cal) if history_path is None else other_history(cal, history_path)
    last = history.max_t
    first = max(0, last - 2) if first_generation is None else first_generation
    chosen_generation(cal, history, first, "--since")  # one of the saved ones
    fitted = [t for t in cal.targets if t.fit]
    low = np.array([_sampled(p, p.low) for p in cal.priors])
    high = np.array([_sampled(p, p.high) for p in cal.priors])
    fill = lacking_parameters(cal, history, last, low, high)
    lacking = [p.name for p in cal.priors if p.key in fill]
    if lacking and not wave_runs:
        raise CalibrationError(
            cal.path,
            "--wave-runs",
            f"the history lacks {', '.join(lacking)}: only runs can show its effect "
            "(expected 1 or more)",
        )
    across = np.array([p.key in fill for p in cal.priors])
    x, y = particle_table(cal, history, first, last, fill)
    rng = np.random.default_rng(seed)
    held = np.zeros(len(x), dtype=bool)
    held[rng.choice(len(x), size=int(len(x) * HELD_BACK_SHARE), replace=False)] = True
    cands = candidates_across(x[~held], low, high, candidates, seed, across)
    train, test = ~held, held
    n_particles, n_wave = int(train.sum()), 0
    say(f"emulating the {len(fitted)} fitted statistics")
    predicted, rows = emulate_all(x, y, train, test, cands, fitted, seed, workers)
    found = search(predicted, fitted)
    first_most_met = found.most_met
    keys = [f"{t.setting}.{t.statistic}" for t in fitted]
    for wave in range(wave_runs and waves):
        # History matching's next wave: runs where the last search points, added to
        # what the emulators learn from, then the search again (from the second wave
        # on, also over candidates near the wave's runs).
        picks = wave_points(found, wave_runs, seed + wave)
        points = cands[picks]
        say(f"wave {wave + 1}: {picks.size} runs near the best candidates at the fit's size")
        thetas = [natural_units(cal, point) for point in points]
        first_seed = WAVE_SEED + wave * WAVE_SEED_STEP
        runs = run_points(cal, thetas, [first_seed + i for i in range(picks.size)], workers)
        y_wave = np.array([[r.get(k, math.nan) for k in keys] for r in runs], dtype=float)
        x, y = np.vstack([x, points]), np.vstack([y, y_wave.reshape(-1, len(fitted))])
        train = np.concatenate([train, np.ones(picks.size, dtype=bool)])
        test = np.concatenate([test, np.zeros(picks.size, dtype=bool)])
        if wave:
            near = candidates_near(points, low, high, candidates, seed + wave)
            cands = np.vstack([cands, near])
        say(f"emulating the {len(fitted)} fitted statistics again, with the wave's runs")
        predicted, rows = emulate_all(x, y, train, test, cands, fitted, seed, workers)
        found = search(predicted, fitted)
        n_wave += int(picks.size)
    table = pd.DataFrame(rows)
    table["met_share"] = found.met_share
    table["best_misfit"] = found.misfit[found.best]
    table["closest_with_others"] = found.closest_with_others
    best = natural_units(cal, cands[found.best])
    seed_list = list(range(1, seeds + 1))
    verified = run_points(cal, [best] * seeds, seed_list, workers) if seeds else None
    if verified is None:
        table["verified_mean"] = table["verified_se"] = table["verified_misfit"] = math.nan
        verified_distance = math.nan
    else:
        values = np.array([[r.get(k, math.nan) for k in table["target"]] for r in verified])
        mean = np.nanmean(values, axis=0)
        table["verified_mean"] = mean
        n = np.isfinite(values).sum(axis=0)
        sd = (
            np.nanstd(values, axis=0, ddof=1) if len(verified) > 1 else np.full(len(fitted), np.nan)
        )
        table["verified_se"] = sd / np.sqrt(np.maximum(n, 1))
        table["verified_misfit"] = misfits(mean[None, :], fitted)[0]
        verified_distance = float(np.mean([distance(r, fitted) for r in verified]))
    check = None
    if check_seeds:
        say(f"judging the best candidate at full size over {check_seeds} seeds")
        runs = check_fit(cal, seeds=check_seeds, workers=workers, parameters=best)
        check = fit_table(cal, runs)
    return FitMatch(
        name=cal.config.name,
        generations=(first, last),
        particles=n_particles,
        wave_runs=n_wave,
        first_most_met=first_most_met,
        candidates=candidates,
        targets=table,
        most_met=found.most_met,
        by_count=found.by_count,
        best=best,
        seeds=seed_list,
        verified_distance=verified_distance,
        fitted=fitted,
        check=check,
        check_seeds=check_seeds,
        waves=waves if wave_runs else 0,
        history="" if history_path is None else str(history_path),
        at_setting_values=lacking,
    )


def lacking_parameters(
    cal: Calibration, history, generation: int, low: np.ndarray, high: np.ndarray
) -> dict[str, float]:
    """The priors a history's particles lack (another model's fit), each with the
    settings' value as sampled, which must lie inside its prior."""
    (particle, *_) = history.get_population(t=generation).particles
    base = next(iter(cal.scenarios.values()))
    fill = {}
    for j, p in enumerate(cal.priors):
        if p.key in particle.parameter:
            continue
        value = _sampled(p, drawn_value(base, p.name))
        if not low[j] <= value <= high[j]:
            raise CalibrationError(
                cal.path,
                "--history",
                f"the history lacks {p.name}, and the settings' value is outside its prior",
            )
        fill[p.key] = value
    return fill


def _sampled(prior, value: float) -> float:
    return math.log10(value) if prior.sampled_on_log10 else value


def noise_sd(em: Any, y: np.ndarray) -> float:
    """The emulator's run-to-run noise as an SD in the statistic's units (its white-noise
    term is fitted on normalised values); NaN for an emulator without one."""
    try:
        level = em.model.kernel_.k2.noise_level
    except AttributeError:
        return math.nan
    return float(math.sqrt(level) * np.std(y))


def emulate_all(
    x: np.ndarray,
    y: np.ndarray,
    train: np.ndarray,
    test: np.ndarray,
    cands: np.ndarray,
    fitted: Sequence[Target],
    seed: int,
    workers: int | None,
) -> tuple[np.ndarray, list[dict[str, Any]]]:
    """An emulator per fitted target, fitted to the ``train`` rows of (``x``, ``y``) and
    measured on the ``test`` rows, one target per worker at a time; the candidates'
    predicted statistics (a column per target) and a row per target of the emulators'
    accuracy."""
    tasks = [(x, y[:, j], train, test, cands, seed) for j in range(len(fitted))]
    workers = workers or len(os.sched_getaffinity(0))
    done = pool_map(emulate_one, tasks, min(workers, len(tasks)), "emulators")
    predicted = np.column_stack([column for column, _ in done]).reshape(len(cands), len(fitted))
    rows = [
        {
            "target": f"{t.setting}.{t.statistic}",
            "wanted": t.wanted,
            "tolerance": t.tolerance,
            "rmse": rmse,
            "noise_sd": noise,
        }
        for t, (_, (rmse, noise)) in zip(fitted, done, strict=True)
    ]
    return predicted, rows


def parameter_set_lines(parameters: Mapping[str, float]) -> list[str]:
    """A parameter set (dotted names) as the tables of a scenario file, indented, each
    value at full precision, so the set read back is the set found, to the bit."""
    return [f"  {line}" for line in toml_tables(parameters)]


def emulate_one(task: tuple) -> tuple[np.ndarray, tuple[float, float]]:
    """One target's emulator (a task of :func:`emulate_all`): its predictions at the
    candidates, and its RMSE on the test rows and its noise SD."""
    from sim import emulator

    x, y, train, test, cands, seed = task
    ok = np.isfinite(y)
    em = emulator.fit(x[train & ok], y[train & ok], seed)
    resid = y[test & ok] - em.predict(x[test & ok])
    rmse = float(np.sqrt(np.mean(resid**2))) if resid.size else math.nan
    return em.predict(cands), (rmse, noise_sd(em, y[train & ok]))


def wave_points(found: Search, n: int, seed: int) -> np.ndarray:
    """``n`` candidates for a second wave: at random among those meeting at least all but
    one of the most any meets (predicted), or, if fewer, the ``n`` best."""
    pool = np.flatnonzero(found.met_count >= found.most_met - 1)
    if pool.size >= n:
        return np.sort(np.random.default_rng(seed).choice(pool, size=n, replace=False))
    return np.lexsort((found.squares, -found.met_count))[:n]


def natural_units(cal: Calibration, sampled: np.ndarray) -> dict[str, float]:
    """A candidate (as pyabc samples the priors) in the units the model reads."""
    return {p.name: float(p.natural(v)) for p, v in zip(cal.priors, sampled, strict=True)}


def run_points(
    cal: Calibration, thetas: Sequence[dict[str, float]], seeds: Sequence[int], workers: int | None
) -> list[dict[str, float]]:
    """The fitted statistics of each parameter set with its seed, the settings run as the
    fit runs them (its size, burn-in and years)."""
    scenarios = cal.fit_scenarios()
    statistics = [(t.setting, t.statistic) for t in cal.targets if t.fit]
    scale = cal.config.simulation.scale
    tasks = [
        (scenarios, theta, s, scale, statistics) for theta, s in zip(thetas, seeds, strict=True)
    ]
    workers = workers or len(os.sched_getaffinity(0))
    return pool_map(run_settings, tasks, workers, "fit-match")


def _waves_clause(f: FitMatch, n: int) -> str:
    """How many waves of runs were added to the particles (nothing without any)."""
    if not f.wave_runs:
        return ""
    first = f"(its best candidate met {f.first_most_met} of {n}, predicted)"
    if f.waves == 1:
        return (
            f"; a second wave of {f.wave_runs} runs where the first search pointed {first} "
            "added to the particles"
        )
    return (
        f"; {f.waves} waves of {f.wave_runs // f.waves} runs, each where the last search "
        f"pointed (the first search's best candidate met {f.first_most_met} of {n}, "
        f"predicted), added to the particles, and {f.candidates:,} more candidates near each "
        "wave's runs after the first"
    )


def format_fit_match(f: FitMatch) -> str:
    """The answer as plain text (what ``yjsim fit-match`` prints)."""
    n = len(f.targets)
    out = [
        f"{f.name}: emulators of the {n} fitted statistics, fitted to {f.particles} "
        f"particles of generations {f.generations[0]}-{f.generations[1]}; "
        f"{f.candidates:,} candidates near them" + _waves_clause(f, n),
        *(
            [
                f"particles from {f.history}, a fit of another model; free parameters not in "
                f"it, at the settings' values at its particles and drawn across their priors "
                f"at the candidates: {', '.join(f.at_setting_values) or 'none'}"
            ]
            if f.history
            else []
        ),
        f"the best candidate meets {f.most_met} of {n} at its predicted mean; candidates "
        f"meeting k of them, k = 0 to {n}: {', '.join(f'{c:,}' for c in f.by_count)}",
        "",
        "per target: the emulator's error on held-back particles (rmse) and its noise "
        "(one run's chance), in the statistic's units; the share of candidates meeting it; "
        "the best candidate's predicted misfit (tolerances); the closest any candidate "
        "meeting the best one's other targets comes (|misfit|)",
    ]
    if f.seeds:
        out.append(
            f"then the best candidate run with seeds {f.seeds[0]}-{f.seeds[-1]} at the fit's "
            "size: mean (its standard error) and misfit"
        )
    w = max(len("target"), *(len(t) for t in f.targets["target"]))
    head = (
        f"  {'target':<{w}}  {'wanted':>14}  {'rmse':>8}  {'noise':>8}  {'met by':>7}  "
        f"{'best':>6}  {'closest':>7}"
    )
    if f.seeds:
        head += f"  {'run mean':>9}  {'(se)':>8}  {'misfit':>6}"
    out += ["", head]
    for r in f.targets.itertuples():
        line = (
            f"  {r.target:<{w}}  {r.wanted:>14}  {format_number(r.rmse):>8}  "
            f"{format_number(r.noise_sd):>8}  {r.met_share:>7.1%}  {r.best_misfit:>+6.2f}  "
            f"{_closest(r.closest_with_others):>7}"
        )
        if f.seeds:
            line += (
                f"  {format_number(r.verified_mean):>9}  ({format_number(r.verified_se):>6})  "
                f"{r.verified_misfit:>+6.2f}"
            )
        out.append(line)
    out += [
        "",
        "the best candidate, as a scenario's tables (exact: paste them into a scenario to run it):",
    ]
    out += parameter_set_lines(f.best)
    if f.seeds:
        run_misfit = f.targets["verified_misfit"].to_numpy(float)[None, :]
        met_runs = int(met(run_misfit, f.fitted).sum())
        out += [
            "",
            f"its runs: mean distance {format_number(f.verified_distance)} (the sum of "
            f"squared misfits of one run); their mean meets about {met_runs} of {n} "
            "(a bound's misfit is 0 when met)",
        ]
    if f.check is not None:
        met_check = int((f.check["met"] & f.check["fitted"]).sum())
        out += [
            "",
            f"judged as check-fit judges a posterior mean: meets {met_check} of {n} fitted targets",
            format_fit_table(f.check, f.check_seeds, "at the best candidate"),
        ]
    return "\n".join(out)


def _closest(x: float) -> str:
    return "-" if not math.isfinite(x) else f"{x:.2f}"
