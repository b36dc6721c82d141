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

The goal (issue 19) is a fresh fit within 2 hours on 2 cores.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import pandas as pd

from sim.calibration import Calibration, simulate_settings
from sim.posterior import load_posterior

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--config", default=str(ROOT / "calibration" / "croydon-islington-average.toml")
    )
    ap.add_argument("--draws", type=int, default=6)
    ap.add_argument("--workers", type=int, default=2, help="for the projection only")
    args = ap.parse_args()
    cal = Calibration(args.config)
    scenarios = cal.fit_scenarios()
    stats = [(t.setting, t.statistic) for t in cal.targets]
    post = load_posterior(cal.posterior_path)
    particles = post.pick(args.draws, seed=1)
    times = []
    for i, k in enumerate(particles):
        theta = post.draw(k)
        t0 = time.perf_counter()
        simulate_settings(scenarios, theta, 1000 + i, cal.config.simulation.scale, stats)
        times.append(time.perf_counter() - t0)
        print(f"particle {k:4d}: {times[-1]:5.2f} s")
    mean = sum(times) / len(times)
    gens = pd.read_csv(cal.path.parent / f"generations-{cal.config.name}.csv")
    sims = int(gens["simulations"].sum())
    minutes = sims * mean / args.workers / 60
    print(f"mean {mean:.2f} s per simulation (3 settings) on one core")
    print(
        f"the committed fit took {sims:,} simulations over {len(gens)} generations: about "
        f"{minutes:.0f} minutes on {args.workers} cores at this speed"
    )


if __name__ == "__main__":
    main()
