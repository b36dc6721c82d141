"""Experiment throughput: a stated fraction of the shipped 1,000-run-class Croydon comparison.

    python benchmarks/experiment_speed.py [--replicates 2] [--workers 2] [--burn-in both]

Runs ``--replicates`` replicates of the 7 scenarios of ``experiments/policy-comparison.toml``
(the Croydon baseline and six policy alternatives; 10 measured years after 8 years of
burn-in, summary and weekly series written) on a dask LocalCluster of ``--workers``
single-threaded processes, with the burn-in ``own`` (each scenario burns in under its own
policies), ``shared`` (each seed burns in once and every scenario forks from it,
sim/fork.py) or ``both``, one after the other in this process, then the ratio. For each it
prints runs per minute, the time 1,000 runs would take at that rate, and where the worker
time went:

- shared burn-in: making the burned-in worlds (once per seed) and writing them;
- simulation: building the model (and restoring the world) and stepping it;
- summary: the measures and the rows;
- I/O: writing the Parquet parts (temporary file, fsync, rename);
- scheduling and idle: worker time not spent in a run (task dispatch, results, the last
  chunks' tail when fewer runs than workers remain);
- cluster start: starting the worker processes (once per batch).

The goal (issue 19) is 1,000 runs in under 10 minutes on 2 cores.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
import tomllib
from pathlib import Path

from sim.batch import BatchResult, run_experiment

ROOT = Path(__file__).resolve().parent.parent
COMPARISON = ROOT / "experiments" / "policy-comparison.toml"
FULL_RUNS = 1000


def run(mode: str, args: argparse.Namespace, tmp: Path) -> tuple[BatchResult, float]:
    scenarios = [
        str((COMPARISON.parent / s).resolve())
        for s in tomllib.loads(COMPARISON.read_text())["scenarios"]
    ]
    exp = tmp / f"bench-{mode}.toml"
    exp.write_text(
        f'name = "experiment-speed-{mode}"\n'
        + "scenarios = [" + ", ".join(f'"{s}"' for s in scenarios) + "]\n"
        + f"replicates = {args.replicates}\nyears = {args.years}\n"
        + f"burn_in_years = {args.burn_in_years}\nseed = 1\n"
        + f'burn_in = "{mode}"\n'
        + "outputs = [" + ", ".join(f'"{o}"' for o in args.outputs.split(",")) + "]\n"
    )  # fmt: skip
    t0 = time.perf_counter()
    result = run_experiment(exp, tmp / f"out-{mode}", workers=args.workers, progress=False)
    return result, time.perf_counter() - t0


def report(mode: str, result: BatchResult, total: float) -> float:
    runs = result.succeeded
    if result.failed:
        print(f"{result.failed} runs failed: {result.failures[:3]}")
    t = result.timings
    capacity = result.workers * result.wall_s  # worker-seconds available during the batch
    burn = t.get("burn_in_s", 0.0)
    parts = {
        "shared burn-in (once a seed)": burn,
        "simulation (build + steps)": t.get("build_s", 0.0) + t.get("simulate_s", 0.0),
        "summary (measures, rows)": t.get("summarise_s", 0.0),
        "I/O (Parquet parts)": t.get("write_s", 0.0),
        "scheduling and idle": capacity - t.get("total_s", 0.0) - burn,
    }
    rate = runs / result.wall_s * 60
    full = result.cluster_start_s + FULL_RUNS / rate * 60
    print(
        f"burn_in = {mode!r}: {runs} Croydon runs ({runs / FULL_RUNS:.1%} of {FULL_RUNS}) on "
        f"{result.workers} workers: {result.wall_s:.1f} s running + "
        f"{result.cluster_start_s:.1f} s cluster start = {total:.1f} s in all"
    )
    print(f"  throughput: {rate:.1f} runs per minute; 1,000 runs would take {full / 60:.1f} min")
    print("  where the worker time went:")
    for name, seconds in parts.items():
        print(f"    {name:<30} {seconds:8.1f} s  {100 * seconds / capacity:5.1f}%")
    print(f"    {'cluster start (once)':<30} {result.cluster_start_s:8.1f} s")
    return full


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--replicates", type=int, default=2, help="replicates of the 7 scenarios")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--years", type=int, default=10)
    ap.add_argument("--burn-in-years", type=int, default=8)
    ap.add_argument("--burn-in", choices=("own", "shared", "both"), default="both")
    ap.add_argument("--outputs", default="summary,timeseries")
    args = ap.parse_args()
    modes = ("own", "shared") if args.burn_in == "both" else (args.burn_in,)
    full = {}
    with tempfile.TemporaryDirectory(prefix="yjsim-bench-") as tmp:
        for mode in modes:
            result, total = run(mode, args, Path(tmp))
            full[mode] = report(mode, result, total)
    if len(full) == 2:
        print(
            f"shared / own, time for 1,000 runs: {full['shared'] / full['own']:.2f} "
            f"({full['own'] / full['shared']:.2f} times as fast)"
        )
    print(f"load average at the end: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")


if __name__ == "__main__":
    main()
