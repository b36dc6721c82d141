"""The speed anchor: ns per agent-step of the per-agent Mesa reference and of the engine.

    taskset -c 0 python benchmarks/reference_speed.py [--weeks 8] [--repeat 5]

Both run the same scenario (default: the Croydon baseline, about 59,000 people
aged 9-20, with its interventions switched off: the reference has the baseline
rules only) from the same borough at week 0 for the same weeks, in one process;
an agent-step is one person in the model for one week. Set-up (building the
borough, and copying it into agents and networkx graphs) is timed apart from
the steps. Times are CPU seconds of this process (``time.process_time``), so
other work on a shared machine does not count against either; wall seconds are
printed beside them. The engine's steps are timed ``--repeat`` times (fresh
model each time) and the fastest is kept; the reference, which takes about a
second a week at Croydon scale, is timed once. Goal (issue 8): the engine at
least 200x faster.

Both start cold (no offending history), so the first weeks are the engine's
cheapest: its cost grows with the number of people offending recently, while
the reference's is dominated by reading every agent's ties whoever offends.
The engine is therefore also timed over ``--engine-years`` whole years (with
their Septembers), and the ratio against that is printed too, as the
conservative figure.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import mesa

from sim.model import YouthJusticeModel
from sim.scenario import Scenario, load_scenario, with_overrides

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))

from reference_model import ReferenceModel  # noqa: E402  (benchmarks/ is not a package)


def time_engine(scenario: Scenario, seed: int, weeks: int) -> tuple[float, float, int]:
    """CPU seconds and wall seconds stepping, and agent-steps, for one fresh engine."""
    model = YouthJusticeModel(scenario=scenario, seed=seed)
    agent_steps = 0
    c0, w0 = time.process_time(), time.perf_counter()
    for _ in range(weeks):
        live = model.people.live
        agent_steps += live.stop - live.start
        model.step()
    cpu, wall = time.process_time() - c0, time.perf_counter() - w0
    mesa.Agent._ids.pop(model, None)
    return cpu, wall, agent_steps


def time_reference(scenario: Scenario, seed: int, weeks: int) -> tuple[float, float, float, int]:
    """CPU seconds copying the borough, CPU and wall seconds stepping, and agent-steps."""
    engine = YouthJusticeModel(scenario=scenario, seed=seed)
    c0 = time.process_time()
    ref = ReferenceModel(engine=engine, rng=seed)
    c1, w1 = time.process_time(), time.perf_counter()
    agent_steps = 0
    for _ in range(weeks):
        agent_steps += len(ref.young_people)  # counted as for the engine: before the step
        ref.step()
    return c1 - c0, time.process_time() - c1, time.perf_counter() - w1, agent_steps


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scenario", default=str(ROOT / "scenarios" / "croydon-2018.toml"))
    ap.add_argument("--weeks", type=int, default=8)
    ap.add_argument("--repeat", type=int, default=5, help="engine repeats (best kept)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--engine-years", type=int, default=10, help="0 to skip")
    args = ap.parse_args()
    if not 1 <= args.weeks < 52:
        ap.error("--weeks must be 1-51 (the reference does not run September)")
    sc = with_overrides(load_scenario(args.scenario), years=1, burn_in_years=0)
    sc = sc.model_copy(update={"interventions": {}})  # the baseline rules

    runs = [time_engine(sc, args.seed, args.weeks) for _ in range(args.repeat)]
    e_cpu, e_wall, e_steps = min(runs)
    e_ns = 1e9 * e_cpu / e_steps
    print(
        f"engine:    {args.weeks} weeks, {e_steps:,} agent-steps, {e_cpu:.4f} s CPU "
        f"({e_wall:.4f} s wall; best of {args.repeat}): {e_ns:,.0f} ns per agent-step"
    )
    setup, r_cpu, r_wall, r_steps = time_reference(sc, args.seed, args.weeks)
    r_ns = 1e9 * r_cpu / r_steps
    print(
        f"reference: {args.weeks} weeks, {r_steps:,} agent-steps, {r_cpu:.2f} s CPU "
        f"({r_wall:.2f} s wall; + {setup:.1f} s CPU copying the borough): "
        f"{r_ns:,.0f} ns per agent-step"
    )
    print(f"ratio: the engine is {r_ns / e_ns:,.0f}x faster per agent-step ({sc.name})")
    if args.engine_years > 0:
        long = with_overrides(sc, years=args.engine_years)
        y_cpu, _, y_steps = time_engine(long, args.seed, args.engine_years * 52)
        y_ns = 1e9 * y_cpu / y_steps
        print(
            f"engine over {args.engine_years} years: {y_steps:,} agent-steps, {y_cpu:.2f} s CPU: "
            f"{y_ns:,.0f} ns per agent-step; ratio against it: {r_ns / y_ns:,.0f}x"
        )


if __name__ == "__main__":
    main()
