"""``python -m sim.viz bench``: how long the page takes per frame, without a browser.

A frame is what Mesa's Step button does at a render interval of 1: one ``model.step()``
and every figure redrawn as an image, plus the running reoffending rate. Timed after a warm-up
(the burn-in by default), so the series and the event log are as long as in a real run.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from sim.viz import figures
from sim.viz.state import DEFAULT_POPULATION, VizModel, VizSettings


def bench(
    scenario: str | None = None,
    population: int = DEFAULT_POPULATION,
    warmup_weeks: int | None = None,
    frames: int = 26,
) -> dict[str, float]:
    """Seconds to build (a Reset) and per frame (mean and 95th percentile) for one borough."""
    t0 = time.perf_counter()
    model = VizModel(settings=VizSettings.for_file(scenario, population))
    figures.frame_images(model)
    reset = time.perf_counter() - t0
    weeks = model.burn_in_weeks if warmup_weeks is None else warmup_weeks
    for _ in range(weeks):
        model.step()
    step_times, frame_times, cpu_times = [], [], []
    for _ in range(frames):
        c0, t0 = time.process_time(), time.perf_counter()
        model.step()
        t1 = time.perf_counter()
        figures.frame_images(model)
        figures.running_reoffending(model)
        t2 = time.perf_counter()
        step_times.append(t1 - t0)
        frame_times.append(t2 - t0)
        cpu_times.append(time.process_time() - c0)
    return {
        "population_10_17": float(model.population_10_17),
        "reset_s": reset,
        "step_ms": 1000 * float(np.mean(step_times)),
        "frame_ms": 1000 * float(np.mean(frame_times)),
        "frame_p95_ms": 1000 * float(np.percentile(frame_times, 95)),
        # CPU time of this process: what a frame costs when the machine is shared.
        "frame_cpu_ms": 1000 * float(np.mean(cpu_times)),
        "week": float(model.week),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m sim.viz", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    b = sub.add_parser("bench", help="time a frame (step + redraw) at one or more sizes")
    b.add_argument("--scenario", default=None, help="scenario file (default: Croydon 2018)")
    b.add_argument(
        "--population",
        type=int,
        nargs="+",
        default=[DEFAULT_POPULATION, 39_334],
        help="children aged 10-17 (default: the page's default and Croydon's 39,334)",
    )
    b.add_argument("--warmup-weeks", type=int, default=None, help="default: the burn-in")
    b.add_argument("--frames", type=int, default=26)
    args = parser.parse_args(argv)
    print("population\treset_s\tstep_ms\tframe_ms\tframe_p95_ms\tframe_cpu_ms\tweeks")
    for pop in args.population:
        r = bench(args.scenario, pop, args.warmup_weeks, args.frames)
        print(
            f"{pop}\t{r['reset_s']:.2f}\t{r['step_ms']:.1f}\t{r['frame_ms']:.0f}\t"
            f"{r['frame_p95_ms']:.0f}\t{r['frame_cpu_ms']:.0f}\t"
            f"{int(r['week']) - args.frames}-{int(r['week'])}"
        )


if __name__ == "__main__":
    main()
