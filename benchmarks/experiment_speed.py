"""Experiment throughput: a stated fraction of a 1,000-run Croydon 10-year experiment.

    python benchmarks/experiment_speed.py [--runs 20] [--workers 2] [--years 10]

Runs ``--runs`` runs (half the Croydon 2018 baseline, half Croydon without triage,
paired replicates, 10 measured years after the scenarios' 4-year burn-in, summary and
weekly series written) on a dask LocalCluster of ``--workers`` single-threaded
processes, then prints runs per minute, the time 1,000 runs would take at that rate,
and where the time went:

- simulation: building the model and stepping it (in the workers);
- summary: the measures and the rows (in the workers);
- I/O: writing the Parquet parts (temporary file, fsync, rename);
- scheduling and idle: worker time not spent in a run (task dispatch, results,
  the last chunks' tail when fewer runs than workers remain);
- cluster start: starting the worker processes (once per batch).

The design target (README, Performance) is 1,000 runs in under 10 minutes on 2 cores.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

from sim.batch import run_experiment

ROOT = Path(__file__).resolve().parent.parent
FULL_RUNS = 1000


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=20, help="runs to time (even number)")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--years", type=int, default=10)
    ap.add_argument("--outputs", default="summary,timeseries")
    args = ap.parse_args()
    replicates = max(1, args.runs // 2)
    scenarios = [ROOT / "scenarios" / "croydon-2018.toml", ROOT / "scenarios" / "no-triage.toml"]
    outputs = [o.strip() for o in args.outputs.split(",") if o.strip()]
    with tempfile.TemporaryDirectory(prefix="yjsim-bench-") as tmp:
        exp = Path(tmp) / "bench.toml"
        exp.write_text(
            f'name = "experiment-speed"\nscenarios = {[str(s) for s in scenarios]!r}\n'.replace(
                "'", '"'
            )
            + f"replicates = {replicates}\nyears = {args.years}\nseed = 1\n"
            + f"outputs = {outputs!r}\n".replace("'", '"')
        )
        t0 = time.perf_counter()
        result = run_experiment(exp, Path(tmp) / "out", workers=args.workers, progress=False)
        total = time.perf_counter() - t0
    runs = result.succeeded
    if result.failed:
        print(f"{result.failed} runs failed: {result.failures[:3]}")
    t = result.timings
    capacity = result.workers * result.wall_s  # worker-seconds available during the batch
    sim = t.get("build_s", 0.0) + t.get("simulate_s", 0.0)
    parts = {
        "simulation (build + steps)": sim,
        "summary (measures, rows)": t.get("summarise_s", 0.0),
        "I/O (Parquet parts)": t.get("write_s", 0.0),
        "scheduling and idle": capacity - t.get("total_s", 0.0),
    }
    rate = runs / result.wall_s * 60
    full = result.cluster_start_s + FULL_RUNS / rate * 60
    print(
        f"{runs} Croydon {args.years}-year runs ({runs / FULL_RUNS:.0%} of {FULL_RUNS}) on "
        f"{result.workers} workers: {result.wall_s:.1f} s running + "
        f"{result.cluster_start_s:.1f} s cluster start = {total:.1f} s in all"
    )
    print(f"throughput: {rate:.1f} runs per minute; 1,000 runs would take {full / 60:.1f} min")
    per_run, cpu_run = (t.get(k, 0.0) / max(runs, 1) for k in ("total_s", "cpu_s"))
    print(f"per run: {per_run:.2f} s in the worker, of which {cpu_run:.2f} s on a CPU")
    if cpu_run:
        # What the same work gives on cores nobody else is using.
        idle_rate = result.workers * 60 / cpu_run
        print(
            f"on {result.workers} unshared cores (CPU time per run): about {idle_rate:.1f} runs "
            f"per minute, 1,000 runs in about {FULL_RUNS / idle_rate:.0f} min"
        )
    load = os.getloadavg()[0]
    print(f"load average during the benchmark: {load:.1f} on {os.cpu_count()} cores")
    print("where the worker time went:")
    for name, seconds in parts.items():
        print(f"  {name:<28} {seconds:8.1f} s  {100 * seconds / capacity:5.1f}%")
    print(f"  {'cluster start (once)':<28} {result.cluster_start_s:8.1f} s")


if __name__ == "__main__":
    main()
