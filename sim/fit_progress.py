"""Where a calibration in progress stands, read from its saved history.

A fit of the validity refit's size runs for hours, over more than one sitting
(`yjsim calibrate` saves each finished generation and resumes from the last). Between
generations a researcher wants to know whether it is heading for the targets, and
which targets hold it back, without waiting for the posterior: ``yjsim fit-status``.

It reads pyabc's SQLite history of the config (``calibration/runs/NAME.db``) and
writes nothing. For the latest saved generation (or one asked for) it gives:

- the generations table (threshold, simulations, acceptance, effective size, the
  minutes pyabc timed each one, and when each finished);
- each target, fitted and reported: the generation's weighted median, and the median
  over its ``closest`` particles (the smallest distances) with their mean squared misfit
  in tolerances, the fitted targets that add most to the distance first;
- each free parameter: weighted median and 90% interval, against its prior's range;
- which fitted targets the accepted particles of the saved generations meet together
  (each within one tolerance, or on the right side of its bound): how many particles
  meet how many targets, what the particle meeting most misses, and the pairs of
  targets that are each met but never by one particle. A pair never met together is
  a conflict that sampling longer cannot remove, a mechanism's or a target's question.

The closest particles show where the fit is going; the weighted figures where it is.
The values are those the accepted simulations recorded, so they are at the fit's
reduced size and years (`yjsim check-fit` judges the posterior at full size).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sim.calibration import (
    Calibration,
    CalibrationError,
    Target,
    format_value,
    generations_table,
)
from sim.fit_journal import journal_progress


@dataclass(frozen=True)
class MetTogether:
    """Which fitted targets a set of particles meets together (each within its band)."""

    particles: int
    by_count: list[int]  # how many particles meet 0, 1, ..., all of the fitted targets
    most: int  # the most targets one particle meets
    most_misses: list[str]  # what that particle (the closest of those meeting most) misses
    never_together: list[tuple[str, str]]  # pairs each met by some particle, never by one
    never_met: list[str]  # targets no particle meets


def targets_met_together(stats: list[dict[str, Any]], targets: list[Target]) -> MetTogether:
    """Which of the fitted ``targets`` the particles with statistics ``stats`` (as pyabc
    keeps them: ``setting.statistic`` keys and the ``distance``) meet together."""
    fitted = [t for t in targets if t.fit]
    keys = [f"{t.setting}.{t.statistic}" for t in fitted]
    met = np.array(
        [
            [t.met(recorded_float(s.get(k))) for t, k in zip(fitted, keys, strict=True)]
            for s in stats
        ],
        dtype=bool,
    ).reshape(len(stats), len(fitted))
    count = met.sum(axis=1)
    by_count = np.bincount(count, minlength=len(fitted) + 1).tolist()
    most, misses = 0, keys
    if len(stats):
        distance = np.array([recorded_float(s.get("distance")) for s in stats])
        # The particles meeting most; of them, the closest (lexsort: last key first).
        best = int(np.lexsort((np.nan_to_num(distance, nan=np.inf), -count))[0])
        most = int(count[best])
        misses = [k for k, ok in zip(keys, met[best], strict=True) if not ok]
    alone = met.any(axis=0)
    together = met.T.astype(np.int64) @ met.astype(np.int64)  # particles meeting i and j
    never_together = [
        (keys[i], keys[j])
        for i in range(len(keys))
        for j in range(i + 1, len(keys))
        if alone[i] and alone[j] and together[i, j] == 0
    ]
    return MetTogether(
        particles=len(stats),
        by_count=by_count,
        most=most,
        most_misses=misses,
        never_together=never_together,
        never_met=[k for k, ok in zip(keys, alone, strict=True) if not ok],
    )


@dataclass(frozen=True)
class FitProgress:
    """A saved fit's state at one generation (see the module's docstring)."""

    name: str
    history: Path
    generation: int
    closest: int
    generations: pd.DataFrame
    targets: pd.DataFrame
    parameters: pd.DataFrame
    # The generation after the saved ones, from its journal (sim/fit_journal.py): its
    # number, simulations journalled, accepted, and the particles it wants; None if none.
    in_progress: dict[str, Any] | None = None
    # Which fitted targets the accepted particles of generations 0 to ``generation`` meet
    # together; None only where a caller builds one without it.
    met_together: MetTogether | None = None


def _weighted_quantile(values: np.ndarray, weights: np.ndarray, q: float) -> float:
    """pyabc's weighted ``q`` quantile of the finite ``values`` (weights renormalised)."""
    from pyabc.weighted_statistics import weighted_quantile

    ok = np.isfinite(values)
    if not ok.any():
        return math.nan
    w = weights[ok]
    return float(weighted_quantile(values[ok], w / w.sum(), alpha=q))


def recorded_float(value: object) -> float:
    """A recorded statistic as a float (pyabc stores some as 0-d arrays; NaN when missing)."""
    try:
        return float(np.asarray(value, dtype=float))
    except (TypeError, ValueError):
        return math.nan


def saved_history(cal: Calibration):  # -> pyabc.History
    """The saved history of ``cal``, checked: it exists, it is this fit's (fingerprint),
    and it holds a finished generation; else a CalibrationError naming the config."""
    import pyabc

    db = cal.history_path
    if not db.is_file():
        raise CalibrationError(
            cal.path, "", f"no saved history at {db}: run `yjsim calibrate {cal.path}` first"
        )
    if not cal.history_is_this_fit():
        raise CalibrationError(
            cal.path,
            "",
            f"{db} holds a calibration of a different config or targets "
            "(its fingerprint differs): its particles do not answer this config",
        )
    history = pyabc.History(f"sqlite:///{db}", _id=1)
    if history.max_t < 0:
        raise CalibrationError(cal.path, "", f"{db} holds no finished generation yet")
    return history


def chosen_generation(
    cal: Calibration, history, generation: int | None, option: str = "--generation"
) -> int:
    """``generation`` checked against the saved ones (None: the latest); a bad one is
    an error naming ``option``, the command line's name for it."""
    t = history.max_t if generation is None else generation
    if not 0 <= t <= history.max_t:
        raise CalibrationError(
            cal.path, "", f"{option}: expected 0 to {history.max_t}, got {generation}"
        )
    return t


def fit_progress(cal: Calibration, generation: int | None = None, closest: int = 20) -> FitProgress:
    """The saved history of ``cal`` at ``generation`` (default: the latest saved)."""
    if closest < 1:
        raise CalibrationError(cal.path, "", f"--closest: expected at least 1, got {closest}")
    history = saved_history(cal)
    db = cal.history_path
    t = chosen_generation(cal, history, generation)
    gens = generations_table(history)
    pops = history.get_all_populations().set_index("t")
    gens["finished"] = [
        pd.Timestamp(pops.loc[g, "population_end_time"]).strftime("%Y-%m-%d %H:%M")
        for g in gens["generation"]
    ]
    # pyabc's own timing of each generation (its sampling, not the time between sittings).
    gens["minutes"] = [float(pops.loc[g, "wall_time"]) / 60 for g in gens["generation"]]

    weights, stats = history.get_weighted_sum_stats(t=t)
    weights = np.asarray(weights, dtype=float)
    distances = np.array([recorded_float(s.get("distance")) for s in stats])
    near = np.argsort(distances, kind="stable")[: min(closest, len(stats))]

    rows = []
    for target in cal.targets:
        key = f"{target.setting}.{target.statistic}"
        values = np.array([recorded_float(s.get(key)) for s in stats])
        misfit = np.array([target.misfit(v) for v in values[near]])
        rows.append(
            {
                "target": key,
                "fitted": target.fit,
                "wanted": target.wanted,
                "weighted_median": _weighted_quantile(values, weights, 0.5),
                "closest_median": float(np.nanmedian(values[near]))
                if np.isfinite(values[near]).any()
                else math.nan,
                "closest_misfit_squared": float(np.mean(misfit**2)),
            }
        )
    targets = pd.DataFrame(rows).sort_values(
        ["fitted", "closest_misfit_squared"], ascending=[False, False], kind="stable"
    )

    particles, w = history.get_distribution(m=0, t=t)
    w = np.asarray(w, dtype=float)
    params = []
    for prior in cal.priors:
        values = np.asarray(prior.natural(particles[prior.key].to_numpy(float)))
        params.append(
            {
                "parameter": prior.name,
                "median": _weighted_quantile(values, w, 0.5),
                "low_5": _weighted_quantile(values, w, 0.05),
                "high_95": _weighted_quantile(values, w, 0.95),
                "prior": f"{prior.prior} {prior.low:g} to {prior.high:g}",
            }
        )
    every_particle = [s for g in range(t + 1) for s in history.get_weighted_sum_stats(t=g)[1]]
    met_together = targets_met_together(every_particle, cal.targets)
    running = journal_progress(cal.journal_path, saved=history.max_t)
    if running is not None:
        running["wanted"] = cal.config.abc.population_size
    return FitProgress(
        name=cal.config.name,
        history=db,
        generation=t,
        closest=len(near),
        generations=gens,
        targets=targets.reset_index(drop=True),
        parameters=pd.DataFrame(params),
        in_progress=running,
        met_together=met_together,
    )


def format_number(x: float) -> str:
    """A statistic as the fit's tables print it ("-" when undefined)."""
    return "-" if not math.isfinite(x) else format_value(x)


def target_lines(targets: pd.DataFrame, line: Callable[[Any], str]) -> list[str]:
    """The rows of a table of targets (a ``fitted`` column), the fitted ones first, each
    group under its label, each row printed by ``line``."""
    out = []
    for fitted, label in ((True, "fitted"), (False, "reported, not fitted")):
        part = targets[targets["fitted"] == fitted]
        if len(part):
            out.append(f"  {label}")
        out += [line(r) for r in part.itertuples()]
    return out


def natural_parameters(cal: Calibration, particles: pd.DataFrame, row: int) -> dict[str, float]:
    """Row ``row`` of a generation's particles (as pyabc keeps them, some on log10) in
    the units the model reads, by dotted name; a free parameter the particles lack (a
    history of an earlier model, read by ``yjsim fit-probe --history``) is left out."""
    return {
        p.name: float(p.natural(particles.iloc[row][p.key]))
        for p in cal.priors
        if p.key in particles
    }


def _misfit(x: float) -> str:
    """A mean squared misfit, two decimals ("-" when the particles did not record it)."""
    return "-" if not math.isfinite(x) else f"{x:.2f}"


def _par(x: float) -> str:
    """A parameter: three significant figures (base rates are ten-thousandths)."""
    return "-" if not math.isfinite(x) else f"{x:.3g}"


def in_progress_line(running: dict[str, Any]) -> str:
    """The generation in progress in words, with the simulations still to go if the
    acceptance so far holds."""
    n, accepted, wanted = running["simulations"], running["accepted"], running["wanted"]
    line = (
        f"generation {running['generation']} in progress (journal): {n:,} simulations, "
        f"{accepted:,} of {wanted:,} particles accepted"
    )
    if accepted:
        rate = accepted / n
        to_go = max(wanted - accepted, 0) / rate
        line += f" (acceptance {rate:.2f} so far: about {to_go:,.0f} simulations to go"
        pace = running.get("seconds_each")
        if pace is not None:
            minutes = to_go * pace / 60
            when = f"{minutes:.0f} minutes" if minutes < 120 else f"{minutes / 60:.1f} hours"
            line += f", about {when} at the recent pace"
        line += ")"
    return line


def met_together_lines(m: MetTogether, generation: int) -> list[str]:
    """Which fitted targets the particles meet together, in words."""
    n = len(m.by_count) - 1
    counts = ", ".join(f"{k}: {c:,}" for k, c in enumerate(m.by_count))
    out = [
        f"Targets met together by the accepted particles of generations 0 to {generation} "
        f"({m.particles:,}; each target within one tolerance, or on the right side of its "
        f"bound). Particles meeting k of the {n} fitted targets: {counts}.",
        f"The most one particle meets: {m.most} of {n}"
        + (f"; the closest such misses {', '.join(m.most_misses)}." if m.most_misses else "."),
    ]
    if m.never_met:
        out.append(f"Met by no particle: {', '.join(m.never_met)}.")
    if m.never_together:
        pairs = "; ".join(f"{a} and {b}" for a, b in m.never_together)
        out.append(f"Each met, but never by one particle (a conflict, if it lasts): {pairs}.")
    else:
        out.append("Every pair of targets that are each met is met together by some particle.")
    if m.most < n:
        # A particle's misfits mix its parameters' fault with its seed's luck; whether any
        # parameter set meets the targets at once is the emulators' question.
        out.append(
            "Whether any parameter set can meet them all at once, apart from the runs' "
            "chance: yjsim fit-match (history matching on these particles)."
        )
    return out


def format_fit_progress(p: FitProgress) -> str:
    """The state as plain-text tables (what ``yjsim fit-status`` prints)."""
    out = [
        f"{p.name}: {p.history}, generations 0 to {int(p.generations['generation'].max())} saved",
        "",
        f"{'generation':>10}  {'threshold':>10}  {'simulations':>11}  {'acceptance':>10}  "
        f"{'effective size':>14}  {'minutes':>7}  finished (UTC)",
    ]
    for g in p.generations.itertuples():
        # Generation 0 takes every simulation that did not run away: its threshold is
        # the placeholder above any real distance.
        eps = "none" if g.generation == 0 else format_value(g.epsilon)
        out.append(
            f"{g.generation:>10}  {eps:>10}  {g.simulations:>11,}  {g.acceptance:>10.2f}  "
            f"{g.effective_size:>14.1f}  {g.minutes:>7.1f}  {g.finished}"
        )
    if p.in_progress is not None:
        out.append(in_progress_line(p.in_progress))
    out += [
        "",
        f"Generation {p.generation}: each target's weighted median over the generation, and "
        f"over its {p.closest} closest particles the median and the mean squared misfit "
        "(in tolerances; fitted targets sum to the distance), largest first.",
    ]
    width = max([56, *(len(t) for t in p.targets["target"])])  # the longest name sets it
    out.append(
        f"{'target':<{width + 2}}  {'wanted':>16}  {'weighted':>9}  {'closest':>9}  {'misfit^2':>8}"
    )
    out += target_lines(
        p.targets,
        lambda r: (
            f"  {r.target:<{width}}  {r.wanted:>16}  {format_number(r.weighted_median):>9}  "
            f"{format_number(r.closest_median):>9}  {_misfit(r.closest_misfit_squared):>8}"
        ),
    )
    if p.met_together is not None:
        out += ["", *met_together_lines(p.met_together, p.generation)]
    out += [
        "",
        f"Generation {p.generation}: each free parameter's weighted median and 90% interval.",
        f"{'parameter':<44}  {'median':>9}  {'5%':>9}  {'95%':>9}  prior",
    ]
    for r in p.parameters.itertuples():
        out.append(
            f"{r.parameter:<44}  {_par(r.median):>9}  {_par(r.low_5):>9}  "
            f"{_par(r.high_95):>9}  {r.prior}"
        )
    return "\n".join(out)
