"""One run of a scenario: the single entry point every command uses.

``yjsim run``, the experiment batches (:mod:`sim.batch`), the calibration and the
sensitivity analysis all make a run with :func:`simulate`: build the model from a
:class:`~sim.scenario.Scenario` (callers load files with ``load_scenario``), run every
week, summarise it, and drop the model.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sim.scenario import Scenario, apply_overrides
from sim.snapshot import Snapshot, restore

if TYPE_CHECKING:
    import pandas as pd

    from sim.model import YouthJusticeModel


def freeze_long_lived_objects() -> None:
    """Once per process, before its first model: move every object alive now (modules,
    classes, functions: ~300,000 in a worker that has imported pandas, scipy, dask and
    pyabc) to the collector's permanent generation (:func:`gc.freeze`), so the
    collection that drops each run's model scans only what was made since. Unfrozen,
    that collection took 0.15-0.17 s of CPU a run (measured in such a process), about 3%
    of a forked experiment run or of a fit's setting. Frozen objects are still freed
    when their last reference goes; only cycles among them are never collected (the
    few left by imports before the first run)."""
    global _frozen
    if not _frozen:
        gc.freeze()
        _frozen = True


_frozen = False


@dataclass
class Simulation:
    """What a run leaves: its summary (summary.json), its weekly series and timings."""

    scenario: Scenario  # as run, with the draw applied
    seed: int
    summary: dict[str, Any]
    series: pd.DataFrame | None  # None unless asked for
    timings: dict[str, float] = field(default_factory=dict)  # build_s, simulate_s, summarise_s
    # With a start snapshot: the interventions that began afresh at the fork (sim.fork).
    started_afresh: list[str] = field(default_factory=list)


def simulate(
    scenario: Scenario,
    seed: int,
    draw: Mapping[str, float] | None = None,
    *,
    series: bool = False,
    after_year: Callable[[YouthJusticeModel], None] | None = None,
    progress: bool = False,
    start: Snapshot | None = None,
) -> Simulation:
    """Build and run a model of ``scenario`` with ``seed``; return its summary and series.

    ``draw`` is a parameter set to run with (dotted names, as a posterior row or the
    calibration's proposal: ``{"behaviour.base_weekly_rate": 0.01}``), applied over the
    scenario's own values. ``after_year`` is called after each simulated year and may
    raise to stop the run (the calibration stops runs whose offending runs away).
    ``progress`` shows a bar of weeks on stderr. ``start`` is a burned-in world
    (:func:`sim.fork.burn_in`, taken with the same seed from a scenario with the same
    world): the run restores it and goes on from the first measured week, its policies
    those of ``scenario`` (see :mod:`sim.fork` for what carries over).

    The model is dropped before returning: Mesa 3.3.1's class-level ``Agent._ids``
    holds every model it has seen, so a worker would otherwise keep them all alive.
    """
    import mesa

    from sim.model import YouthJusticeModel
    from sim.summary import summarise, timeseries

    sc = apply_overrides(scenario, draw or {})
    freeze_long_lived_objects()
    t0 = time.perf_counter()
    model = YouthJusticeModel(scenario=sc, seed=seed)
    afresh: list[str] = []
    try:
        if start is not None:
            if start.week != model.burn_in_weeks:
                raise ValueError(
                    f"the start snapshot is of week {start.week}; this scenario's measured "
                    f"years start at week {model.burn_in_weeks}"
                )
            afresh = restore(model, start)
        t1 = time.perf_counter()
        model.run(progress=progress, after_year=after_year)
        t2 = time.perf_counter()
        model.release_weekly_state()  # London: ~1 GB back before the summary's peak
        summary = summarise(model)
        weekly = timeseries(model) if series else None
        t3 = time.perf_counter()
    finally:
        mesa.Agent._ids.pop(model, None)
        del model
        gc.collect()
    timings = {"build_s": t1 - t0, "simulate_s": t2 - t1, "summarise_s": t3 - t2}
    return Simulation(sc, seed, summary, weekly, timings, afresh)
