"""London (32 boroughs, ~830,000 aged 10-17) for 10 years: seconds and peak memory.

    python benchmarks/london_speed.py [--years 10] [--scenario scenarios/london.toml]
    python benchmarks/london_speed.py --whole [--years 10]

One process, one core for the model (numpy here does not multi-thread the
step's element-wise work). Prints set-up, weekly steps and September
rebuilds separately, and the process's peak resident memory.

``--whole`` runs what ``yjsim run scenarios/london.toml --years 10 --out DIR`` runs
(the 8-year burn-in, the measured years, the 79-week follow-up, the summary, the
weekly series and both output files, to a temporary folder) and times each part;
the command itself, timed from outside, is in benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import time
from pathlib import Path

from sim.model import YouthJusticeModel
from sim.scenario import load_scenario, with_overrides
from sim.summary import summarise, timeseries, write_outputs

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scenario", default=str(ROOT / "scenarios" / "london.toml"))
    ap.add_argument("--years", type=int, default=10)
    ap.add_argument("--summary", action="store_true", help="also time the summary by borough")
    ap.add_argument("--whole", action="store_true", help="the CLI run: burn-in to outputs")
    args = ap.parse_args()
    if args.whole:
        whole(args.scenario, args.years)
        return
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


def whole(scenario: str, years: int) -> None:
    """The parts of ``yjsim run SCENARIO --years YEARS --out DIR``, each timed."""
    t_start = time.perf_counter()
    sc = with_overrides(load_scenario(scenario), years=years)
    model = YouthJusticeModel(scenario=sc)
    t_built = time.perf_counter()
    parts = {"burn-in": 0.0, "measured": 0.0, "follow-up": 0.0}
    weeks = dict.fromkeys(parts, 0)
    september, n_septembers = 0.0, 0
    for week in range(model.total_weeks):
        part = (
            "burn-in"
            if week < model.burn_in_weeks
            else "measured"
            if week < model.burn_in_weeks + model.measured_weeks
            else "follow-up"
        )
        s = time.perf_counter()
        model.step()
        took = time.perf_counter() - s
        parts[part] += took
        weeks[part] += 1
        if model.calendar.new_school_year:
            september += took
            n_septembers += 1
    t_run = time.perf_counter()
    model.release_weekly_state()  # as sim.simulation.simulate does before its summary
    summary = summarise(model)
    t_summary = time.perf_counter()
    with tempfile.TemporaryDirectory() as out:
        write_outputs(Path(out), summary, timeseries(model))
    t_written = time.perf_counter()
    live = model.people.live
    print(f"{sc.name}: {model.geography.n_boroughs} boroughs, {live.stop - live.start:,} live")
    print(f"set-up            {t_built - t_start:7.1f} s")
    for part, took in parts.items():
        print(f"{part:<17} {took:7.1f} s  ({weeks[part]} weeks)")
    print(f"  of which Septembers {september:5.1f} s ({n_septembers})")
    print(f"summary           {t_summary - t_run:7.1f} s")
    print(f"series and files  {t_written - t_summary:7.1f} s")
    print(f"total             {t_written - t_start:7.1f} s (after imports)")
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak memory       {peak_mb:7.0f} MB")


if __name__ == "__main__":
    main()
