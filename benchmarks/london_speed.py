"""London (32 boroughs, ~830,000 aged 10-17) for 10 years: seconds and peak memory.

    python benchmarks/london_speed.py [--years 10] [--scenario scenarios/london.toml]

One process, one core for the model (numpy here does not multi-thread the
step's element-wise work). Prints set-up, weekly steps and September
rebuilds separately, and the process's peak resident memory.
"""

from __future__ import annotations

import argparse
import resource
import time
from pathlib import Path

from sim.model import YouthJusticeModel
from sim.scenario import load_scenario, with_overrides
from sim.summary import summarise

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scenario", default=str(ROOT / "scenarios" / "london.toml"))
    ap.add_argument("--years", type=int, default=10)
    ap.add_argument("--summary", action="store_true", help="also time the summary by borough")
    args = ap.parse_args()
    sc = with_overrides(load_scenario(args.scenario), years=args.years, burn_in_years=0)
    t0 = time.perf_counter()
    model = YouthJusticeModel(scenario=sc)
    t1 = time.perf_counter()
    september = 0.0
    agent_steps = 0
    for week in range(args.years * 52):
        live = model.people.live
        agent_steps += live.stop - live.start
        s = time.perf_counter()
        model.step()
        if week and week % 52 == 0:
            september += time.perf_counter() - s
    t2 = time.perf_counter()
    print(f"{sc.name}: {model.geography.n_boroughs} boroughs, {live.stop - live.start:,} live")
    print(f"set-up            {t1 - t0:7.1f} s")
    print(f"weekly steps      {t2 - t1 - september:7.1f} s  ({args.years * 52} weeks)")
    print(f"  of which Septembers {september:5.1f} s")
    print(
        f"total             {t2 - t0:7.1f} s  ({1e9 * (t2 - t1) / agent_steps:.0f} ns/agent-step)"
    )
    if args.summary:
        s = time.perf_counter()
        summary = summarise(model)
        n = len(summary["by_borough"])
        print(f"summary           {time.perf_counter() - s:7.1f} s ({n} boroughs)")
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak memory       {peak_mb:7.0f} MB")


if __name__ == "__main__":
    main()
