"""What float32 hazards would save: the weekly log-hazard passes at London's size, in
float64 (as the model keeps them) and in float32, measured in one process.

    python benchmarks/hazard_float32.py [--rows 1150000] [--weeks 50] [--repeats 2]

The passes are those of ``Offending.log_hazard`` and the candidate test of
``Offending.offend`` (sim/behaviour.py), on synthetic arrays of London's live window
(about 1.15 million rows): the age-table lookup, the cached risk part, the peer term,
three memory terms over the rows with a recent event (5% here), ``exp``, the programme
multiplier and the compare with the week's uniforms. It measures a lever (issue 19),
not the model: float32 would change the arithmetic, so it waits for the refit to finish
and would need a check that the fit's targets still hold (`yjsim check-fit`).
"""

from __future__ import annotations

import argparse
import time

import numpy as np


def weekly_passes_ms(dtype: type, rows: int, weeks: int, seed: int = 1) -> float:
    """Milliseconds a week for the hazard passes over ``rows`` rows in ``dtype``."""
    rng = np.random.default_rng(seed)
    table = rng.normal(-8, 1, size=4 * 2 * 1400).astype(dtype)  # trajectories x sex x weeks
    offset = rng.integers(0, table.size - 1000, rows).astype(np.int64)
    risk = rng.normal(0, 1, rows).astype(dtype)
    peer = rng.random(rows).astype(dtype)
    multiplier = np.ones(rows, dtype)
    # Weeks since an event for 5% of rows (NaN: never), as the memory terms read them.
    since = np.where(rng.random(rows) < 0.05, rng.integers(0, 50, rows), np.nan).astype(dtype)
    uniforms = rng.random(rows).astype(dtype)
    lh, buf = np.empty(rows, dtype), np.empty(rows, dtype)
    idx = np.empty(rows, np.int64)

    def week(now: int) -> np.ndarray:
        np.add(offset, 500, out=idx)
        np.take(table, idx, out=lh, mode="clip")
        np.add(lh, risk, out=lh)
        np.multiply(peer, dtype(0.7), out=buf)
        np.add(lh, buf, out=lh)
        for _ in range(3):  # victim, recent offence, release
            recent = np.flatnonzero(since >= now - 3 * 26)
            lh[recent] += dtype(0.4) * np.exp((since[recent] - now) / dtype(26))
        hazard = np.exp(lh, out=buf)
        np.multiply(hazard, multiplier, out=hazard)
        return np.flatnonzero(uniforms < hazard)

    week(60)  # warm the caches and the allocator
    t0 = time.perf_counter()
    for _ in range(weeks):
        week(60)
    return (time.perf_counter() - t0) / weeks * 1000


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=1_150_000)
    ap.add_argument("--weeks", type=int, default=50)
    ap.add_argument("--repeats", type=int, default=2)
    args = ap.parse_args()
    for _ in range(args.repeats):  # in turn, so drift in the machine's load hits both
        f64 = weekly_passes_ms(np.float64, args.rows, args.weeks)
        f32 = weekly_passes_ms(np.float32, args.rows, args.weeks)
        print(f"float64 {f64:.2f} ms a week, float32 {f32:.2f} ms a week: ratio {f32 / f64:.2f}")


if __name__ == "__main__":
    main()
