"""Calibration throughput: seconds per simulation of the fit, and what a fresh fit costs.

    python benchmarks/calibration_speed.py [--draws 6] [--config CALIBRATION.toml]

One simulation of the fit runs its three settings (Croydon, Islington, the average
area) at the config's reduced size, burn-in and years, as `yjsim calibrate` does
(`sim.calibration.simulate_settings`). This runs ``--draws`` particles of the committed
posterior (where the later generations, most of a fit's simulations, propose) on one
core in this process, and prints the seconds per simulation. The projection multiplies
by the number of simulations the committed fit took (its generations table) and divides
by 2 workers: a fit's own runs are independent, so two cores halve it (pyabc's
multicore sampler keeps both busy but for each generation's tail).

With ``--from-history`` the particles are drawn (by weight) from the latest generation
of the config's saved history instead, for a fit in progress that has no posterior yet
(`calibration/validity.toml`), and the projection uses that history's simulations so
far. Each line also gives the CPU seconds, the figure to read on a busy machine.

The goal (issue 19) is a fresh fit within 2 hours on 2 cores.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import pandas as pd

from sim.calibration import Calibration, generations_table, simulate_settings
from sim.fit_progress import natural_parameters, saved_history
from sim.posterior import load_posterior

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--config", default=str(ROOT / "calibration" / "validity.toml"))
    ap.add_argument("--draws", type=int, default=6)
    ap.add_argument("--workers", type=int, default=2, help="for the projection only")
    ap.add_argument(
        "--from-history",
        action="store_true",
        help="particles of the latest generation of the saved history (a fit in progress)",
    )
    args = ap.parse_args()
    cal = Calibration(args.config)
    scenarios = cal.fit_scenarios()
    stats = [(t.setting, t.statistic) for t in cal.targets]
    particles, sims = (
        history_particles(cal, args.draws)
        if args.from_history
        else (posterior_particles(cal, args.draws))
    )
    times = []
    for i, (k, theta) in enumerate(particles):
        t0, c0 = time.perf_counter(), time.process_time()
        simulate_settings(scenarios, theta, 1000 + i, cal.config.simulation.scale, stats)
        times.append(time.perf_counter() - t0)
        print(f"particle {k:4d}: {times[-1]:5.2f} s ({time.process_time() - c0:5.2f} s of CPU)")
    mean = sum(times) / len(times)
    minutes = sims * mean / args.workers / 60
    print(f"mean {mean:.2f} s per simulation (3 settings) on one core")
    print(
        f"the fit took {sims:,} simulations: about {minutes:.0f} minutes on "
        f"{args.workers} cores at this speed"
    )


def posterior_particles(cal: Calibration, draws: int) -> tuple[list, int]:
    """``draws`` particles of the committed posterior, and the simulations its fit took."""
    post = load_posterior(cal.posterior_path)
    gens = pd.read_csv(cal.path.parent / f"generations-{cal.config.name}.csv")
    return [(k, post.draw(k)) for k in post.pick(draws, seed=1)], int(gens["simulations"].sum())


def history_particles(cal: Calibration, draws: int) -> tuple[list, int]:
    """``draws`` particles of the latest saved generation, drawn by weight (seeded), in
    the units the model reads, and the simulations of the saved generations."""
    history = saved_history(cal)
    frame, weights = history.get_distribution(m=0, t=history.max_t)
    weights = np.asarray(weights, dtype=float)
    rows = np.random.default_rng(1).choice(
        len(frame), size=min(draws, len(frame)), replace=False, p=weights / weights.sum()
    )
    particles = [(int(r), natural_parameters(cal, frame, int(r))) for r in rows]
    return particles, int(generations_table(history)["simulations"].sum())


if __name__ == "__main__":
    main()
