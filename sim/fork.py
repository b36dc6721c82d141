"""Shared burn-in: policies fork from one burned-in world.

The question a strategist asks is "if we change this now, what happens over the next
ten years?". So an experiment burns each (seed, draw) in once, under the baseline's
policies, keeps the world at the start of the measured years as a snapshot
(:mod:`sim.snapshot`), and starts every scenario from it: the policy changes at year 0
in the same world. Scenarios differ only from year 0, so their differences are paired
more tightly than with separate burn-ins, and the burn-in is run once instead of once
per scenario.

The other question, "a borough that always had this policy", is the experiment's
``burn_in = "own"``: each scenario burns in under its own policies, as a plain run does.

What a fork may change
    The policies: the scenario's ``[interventions]``. Everything else (the population,
    the network, behaviour, gangs, justice, the YOS, schools, social care, costs, the
    run's years and burn-in) is the *world*, and must be the baseline's. A scenario
    whose world differs forks from the first scenario of the experiment with the same
    world (if none, it burns in on its own), and the experiment's manifest says which.

At the fork
    An intervention that ran in the burn-in with the same parameters carries on with
    its caseload; one that is new, changed or stopped at year 0 starts as a programme
    commissioned that week (empty caseload, its first intake to come). Everything the
    world remembers (records, ties, gang membership, custody) is the burn-in's.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sim.scenario import Scenario
from sim.snapshot import FORMAT, SUFFIX, VERSION, Snapshot, SnapshotError, capture, load, save

# A scenario's parts that are names and labels, not the world or its policies.
LABELS = ("name", "description", "extends", "parameters")
# What a forked scenario may change at year 0.
POLICIES = ("interventions",)


def world_of(scenario: Scenario) -> dict[str, Any]:
    """The scenario's world as JSON: everything but its labels and its policies."""
    dump = scenario.model_dump(mode="json", serialize_as_any=True)
    for key in (*LABELS, *POLICIES):
        dump.pop(key, None)
    dump["run"].pop("seed", None)  # the run's seed is given apart (replicates differ)
    dump["run"].pop("draw", None)  # the draw is applied to the parameters already
    return dump


def world_differences(a: Scenario, b: Scenario) -> list[str]:
    """The dotted keys at which two scenarios' worlds differ (empty: the same world)."""
    out: list[str] = []

    def walk(x: Any, y: Any, where: str) -> None:
        if isinstance(x, dict) and isinstance(y, dict):
            for k in sorted(set(x) | set(y)):
                walk(x.get(k), y.get(k), f"{where}.{k}" if where else str(k))
        elif x != y:
            out.append(where)

    walk(world_of(a), world_of(b), "")
    return out


def sources(scenarios: Sequence[Scenario]) -> list[int]:
    """For each scenario, the index of the scenario whose burn-in it starts from.

    The first scenario with the same world: the baseline (index 0) for every policy
    scenario; itself for a scenario of another world that comes first among its kind.
    """
    worlds = [json.dumps(world_of(s), sort_keys=True) for s in scenarios]
    return [worlds.index(w) for w in worlds]


def burn_in_key(scenario: Scenario, seed: int, source_version: str) -> str:
    """A hash of everything that shapes ``scenario``'s burn-in with ``seed``.

    The world, the policies it burns in under, the seed, the model's source and the
    snapshot format: a snapshot is reused only where it would be made again exactly.
    """
    data = {
        "format": FORMAT,
        "version": VERSION,
        "source": source_version,
        "seed": int(seed),
        "world": world_of(scenario),
        "policies": {k: scenario.model_dump(mode="json")[k] for k in POLICIES},
    }
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:24]


def burn_in(scenario: Scenario, seed: int, key: str = "") -> Snapshot:
    """Build ``scenario``'s model with ``seed``, run its burn-in, and keep the world."""
    import mesa

    from sim.model import YouthJusticeModel

    model = YouthJusticeModel(scenario=scenario, seed=seed)
    try:
        model.run(until=model.burn_in_weeks)
        return capture(model, key)  # the model is dropped: its arrays are the snapshot's
    finally:
        mesa.Agent._ids.pop(model, None)


def stored_burn_in(
    source: Scenario,
    seed: int,
    folder: Path,
    source_version: str,
    *,
    unwritable_ok: bool = False,
) -> tuple[Snapshot, Path, float]:
    """``source``'s burned-in world with ``seed``, kept in ``folder`` under its key: read
    from there if a valid snapshot is there, else made and saved there (a damaged file is
    made again). Returns the world, its file and the seconds spent making it (0 if read).

    With ``unwritable_ok`` a folder that cannot be written costs the burn-in next time
    rather than raising (the browser view's cache in a read-only home).
    """
    key = burn_in_key(source, seed, source_version)
    path = Path(folder) / f"{key}{SUFFIX}"
    if path.is_file():
        try:
            return load(path, key), path, 0.0
        except SnapshotError:
            pass  # damaged (a killed write cannot leave one): made again below
    t0 = time.perf_counter()
    snap = burn_in(source, seed, key)
    made_s = time.perf_counter() - t0
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        save(snap, path, source_version)
    except OSError:
        if not unwritable_ok:
            raise
    return snap, path, made_s
