"""The speed anchor: ns per agent-step of the per-agent Mesa reference and of the engine.

    taskset -c 0 python benchmarks/reference_speed.py [--weeks 4] [--repeat 5]

Both run the same scenario (default: the Croydon baseline, about 59,000 people
aged 9-20, with its interventions switched off: the reference has the baseline
rules only) from the same borough at week 0 for the same weeks, in one process;
an agent-step is one person in the model for one week. Set-up (building the
borough, and copying it into agents and networkx graphs) is timed apart from
the steps. The engine's steps are timed ``--repeat`` times (fresh model each
time) and the fastest is kept; the reference, which takes about a second a week
at Croydon scale, is timed once. Goal (issue 8): the engine at least 200x faster.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import mesa

from sim.model import YouthJusticeModel
from sim.scenario import load_scenario, with_overrides

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))

from reference_model import ReferenceModel  # noqa: E402  (benchmarks/ is not a package)


def time_engine(scenario, seed: int, weeks: int) -> tuple[float, int]:
    """Seconds stepping and agent-steps, for one fresh engine."""
    model = YouthJusticeModel(scenario=scenario, seed=seed)
    agent_steps = 0
    t0 = time.perf_counter()
    for _ in range(weeks):
        live = model.people.live
        agent_steps += live.stop - live.start
        model.step()
    elapsed = time.perf_counter() - t0
    mesa.Agent._ids.pop(model, None)
    return elapsed, agent_steps


def time_reference(scenario, seed: int, weeks: int) -> tuple[float, float, int]:
    """Seconds copying the borough, seconds stepping, and agent-steps."""
    engine = YouthJusticeModel(scenario=scenario, seed=seed)
    t0 = time.perf_counter()
    ref = ReferenceModel(engine=engine, rng=seed)
    t1 = time.perf_counter()
    agent_steps = 0
    for _ in range(weeks):
        agent_steps += len(ref.young_people)  # counted as for the engine: before the step
        ref.step()
    t2 = time.perf_counter()
    return t1 - t0, t2 - t1, agent_steps


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scenario", default=str(ROOT / "scenarios" / "croydon-2018.toml"))
    ap.add_argument("--weeks", type=int, default=4)
    ap.add_argument("--repeat", type=int, default=5, help="engine repeats (best kept)")
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    if not 1 <= args.weeks < 52:
        ap.error("--weeks must be 1-51 (the reference does not run September)")
    sc = with_overrides(load_scenario(args.scenario), years=1, burn_in_years=0)
    sc = sc.model_copy(update={"interventions": {}})  # the baseline rules

    runs = [time_engine(sc, args.seed, args.weeks) for _ in range(args.repeat)]
    e_time, e_steps = min(runs)
    e_ns = 1e9 * e_time / e_steps
    print(
        f"engine:    {args.weeks} weeks, {e_steps:,} agent-steps, {e_time:.4f} s "
        f"(best of {args.repeat}): {e_ns:,.0f} ns per agent-step"
    )
    setup, r_time, r_steps = time_reference(sc, args.seed, args.weeks)
    r_ns = 1e9 * r_time / r_steps
    print(
        f"reference: {args.weeks} weeks, {r_steps:,} agent-steps, {r_time:.2f} s "
        f"(+ {setup:.1f} s copying the borough): {r_ns:,.0f} ns per agent-step"
    )
    print(f"ratio: the engine is {r_ns / e_ns:,.0f}x faster per agent-step ({sc.name})")


if __name__ == "__main__":
    main()
