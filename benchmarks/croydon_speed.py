"""Croydon for 10 years of weekly steps: seconds, and nanoseconds per agent-step.

    python benchmarks/croydon_speed.py [--years 10] [--repeat 3] [--no-interventions]
    python benchmarks/croydon_speed.py --scenario scenarios/combined-package.toml

Set-up (population and network) is timed apart from the 520 weekly steps;
an agent-step is one young person in the live window for one week. Run it
pinned to one core for the one-core figure: ``taskset -c 0 python ...``.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from sim.model import YouthJusticeModel
from sim.scenario import load_scenario, with_overrides

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scenario", default=str(ROOT / "scenarios" / "croydon-2018.toml"))
    ap.add_argument("--years", type=int, default=10)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument(
        "--no-interventions", action="store_true", help="the engine alone (switch every policy off)"
    )
    args = ap.parse_args()
    sc = with_overrides(load_scenario(args.scenario), years=args.years, burn_in_years=0)
    if args.no_interventions:
        sc = sc.model_copy(update={"interventions": {}})
    weeks = args.years * 52
    best = None
    for r in range(args.repeat):
        t0 = time.perf_counter()
        model = YouthJusticeModel(scenario=sc, seed=r + 1)
        t1 = time.perf_counter()
        agent_steps = 0
        for _ in range(weeks):
            live = model.people.live
            agent_steps += live.stop - live.start
            model.step()
        t2 = time.perf_counter()
        run = (t1 - t0, t2 - t1, agent_steps)
        print(
            f"run {r + 1}: set-up {run[0]:.2f} s, {weeks} weeks {run[1]:.2f} s, "
            f"{1e9 * run[1] / agent_steps:.0f} ns per agent-step ({agent_steps:,} agent-steps)"
        )
        best = run if best is None or run[1] < best[1] else best
    setup, steps, n = best
    print(
        f"best: {sc.name}{' (no interventions)' if args.no_interventions else ''}, "
        f"{args.years} years: {steps:.2f} s stepping + {setup:.2f} s set-up = "
        f"{steps + setup:.2f} s; {1e9 * steps / n:.0f} ns per agent-step"
    )


if __name__ == "__main__":
    main()
